#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tapgate.conf quotas: exact under heavy concurrency (the per-user lock is
# held from counting to attaching), per user, counted from kernel state (so
# persistent taps keep counting and nothing leaks when callers go away), and
# overridden per group and per user.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/tg.sh"
tg_start "$@"
tg_helper
tg_user_tool "$here/qemu_side.py" >/dev/null
PERSIST="${PYTHON:-python3} $(tg_user_tool "$here/persist.py")"
tg_bridge br0
tg_bridge br1
tg_acl "allow br0" "allow br1"
C=/etc/tapgate.conf
LOCK=/run/tapgate.lock
OUT=$TG_ROOT/out
mkdir -p "$OUT"

# worker ID USER N: N requests one after the other, each holding its tap
# (if granted) until the gate closes. One report line per request in
# $OUT/ID, the helpers' stderr lines appended to $OUT/ID.err. tg-spawn runs
# in the background (a granted one lives on); its report comes through the
# worker's FIFO, which the worker keeps open read-write so that no open
# blocks and no read sees end of file.
worker() {
    local id=$1 user=$2 n=$3 br=${4:-br0} k rd line
    mkfifo "$OUT/$id.fifo"
    exec {rd}<> "$OUT/$id.fifo"
    : > "$OUT/$id.rep"
    # The start line: opening the barrier for reading blocks until storm
    # opens it for writing, which releases every worker at once. Only the
    # first requests can race (once the quota is full every count is), so
    # they must really overlap.
    : < "$OUT/barrier"
    for ((k = 1; k <= n; k++)); do
        tg_as "$user" "$TG_SPAWN" --br "$br" --keep 80 -- "$TG_H" < "$TG_ROOT/gate" > "$OUT/$id.fifo" \
            2>> "$OUT/$id.err" {rd}<&- &
        line=missing
        IFS= read -r -t 30 -u "$rd" line
        echo "$line" >> "$OUT/$id.rep"
    done
    exec {rd}<&-
}

# storm USER:WORKERS:PER_WORKER[:BRIDGE]...: all workers at once; waits for
# them. Worker IDs are USER-N, or USER-BRIDGE-N when a bridge is given.
storm() {
    local spec user w n br i pids=()
    rm -rf "$OUT"
    mkdir -p "$OUT"
    tg_gate_open
    mkfifo "$OUT/barrier"
    for spec in "$@"; do
        IFS=: read -r user w n br <<< "$spec"
        for ((i = 1; i <= w; i++)); do
            worker "$user${br:+-$br}-$i" "$user" "$n" "${br:-br0}" {TG_GATE_W}>&- &
            pids+=($!)
        done
    done
    # Every worker blocked in its open of the barrier (state S in
    # /proc/PID/wchan would be racy to read; a short pause is enough here,
    # and a worker that comes late only makes that run less strict).
    sleep 0.3
    local b
    exec {b}> "$OUT/barrier"
    exec {b}>&-
    wait "${pids[@]}"
}

# tally ID-PREFIX [USER]: GRANTED, REFUSED (with the quota message), OTHER
# (anything else: a missing report, another error) for the workers whose ID
# starts with ID-PREFIX- (USER defaults to ID-PREFIX). Refused helpers may
# still be writing stderr when their report arrives: wait for them.
tally() {
    local r user=${2:-$1}
    GRANTED=0 REFUSED=0 OTHER=0
    while IFS= read -r r; do
        if [[ $r == exit=0* && $r == *" fd=1 "* ]]; then
            GRANTED=$((GRANTED + 1))
        elif [[ $r == exit=1* && $r == *" fd=0"* ]]; then
            REFUSED=$((REFUSED + 1))
        else
            OTHER=$((OTHER + 1))
            [ $OTHER -le 3 ] && echo "    unexpected report: $r" >&2
        fi
    done < <(cat "$OUT/$1"-*.rep)
    local msgs all
    msgs=$(cat "$OUT/$1"-*.err 2> /dev/null | grep -c "^tapgate: quota reached: $user holds [0-9]* of")
    all=$(cat "$OUT/$1"-*.err 2> /dev/null | wc -l)
    if [ "$msgs" != "$REFUSED" ] || [ "$all" != "$REFUSED" ]; then
        tg_problem "$1: $REFUSED refusals, $msgs quota messages, $all stderr lines"
        cat "$OUT/$1"-*.err | grep -v "quota reached" | head -n 3 >&2
    fi
}

# Taps on BRIDGE whose alias says uid UID (the helper's own record).
taps_of() {
    local uid=$1 br=$2 d n=0 a
    for d in /sys/class/net/"$br"/brif/*; do
        [ -e "$d" ] || continue
        read -r a < "/sys/class/net/${d##*/}/ifalias" || a=
        [[ "$a " == "tapgate uid=$uid "* ]] && n=$((n + 1))
    done
    echo "$n"
}

# Every tg-spawn gone (they exit when the gate closes), within 10 s.
spawners_gone() {
    local i e left
    for ((i = 0; i < 1000; i++)); do
        left=
        # -ef (same inode) is a builtin test: no fork per process.
        for e in /proc/[0-9]*/exe; do
            [ "$e" -ef "$TG_SPAWN" ] || [ "$e" -ef "$TG_H" ] && left+=" ${e%/exe}"
        done
        [ -z "$left" ] && return 0
        sleep 0.01
    done
    tg_problem "processes left:$left"
}

# Only the holders are left: every refused tg-spawn has exited (so its
# helper's stderr line is complete).
spawners_settled() {
    local i e n
    for ((i = 0; i < 500; i++)); do
        n=0
        for e in /proc/[0-9]*/exe; do
            [ "$e" -ef "$TG_H" ] && n=$((n + 1))
        done
        [ $n = 0 ] && return 0
        sleep 0.02
    done
}

# No OFD lock (or any lock) held on the quota lock file.
# /proc/locks names the file as MAJOR:MINOR:INODE, the device in hex: the
# inode alone also matches other tests' lock files on other tmpfs mounts.
lock_free() {
    local id
    id=$(stat -c '%Hd %Ld %i' "$LOCK" 2> /dev/null) || return 0
    # shellcheck disable=SC2086 # three numbers
    id=$(printf '%02x:%02x:%s' $id)
    if grep -q " $id " /proc/locks; then
        tg_problem "lock still held: $(grep " $id " /proc/locks)"
    fi
}

# --- 200 concurrent requests, mixed users and bridges ------------------------
# Three users on two bridges with different quotas, 8 workers of 25: every
# user gets exactly their quota on each bridge, every other request is a
# clean quota refusal, and nothing is left once the callers go.
tg_conf "[bridge br0]" "quota = 2" "[bridge br1]" "quota = 4" "[bridge br1 user tgalice]" "quota = 1"
storm tguser:2:25:br0 tguser:2:25:br1 tgalice:1:25:br0 tgalice:1:25:br1 tgbob:1:25:br0 tgbob:1:25:br1
spawners_settled
for spec in tguser:br0:2 tguser:br1:4 tgalice:br0:2 tgalice:br1:1 tgbob:br0:2 tgbob:br1:4; do
    IFS=: read -r u b q <<< "$spec"
    tally "$u-$b" "$u"
    uid=$(id -u "$u")
    want_refused=$(( $(cat "$OUT/$u-$b"-*.rep | wc -l) - q ))
    [ "$GRANTED" = "$q" ] || tg_problem "$u on $b: granted $GRANTED, want $q"
    [ "$REFUSED" = "$want_refused" ] || tg_problem "$u on $b: refused $REFUSED, want $want_refused (other: $OTHER)"
    n=$(taps_of "$uid" "$b")
    [ "$n" = "$q" ] || tg_problem "$u on $b: $n taps held, want $q"
done
tg_verdict "200 requests from 8 workers, 3 users x 2 bridges: every quota exact, every other request refused cleanly"
tg_release
spawners_gone
tg_taps
for tap in $TG_TAPS; do tg_gone "$tap" || tg_problem "tap left: $tap"; done
lock_free
tg_verdict "mixed storm: nothing left, lock free"
# The first request (tguser's, setuid) created the lock file: root's, not
# the caller's group.
tg_check "the lock file is root:root, mode 600" [ "$(stat -c '%U:%G %a' "$LOCK")" = "root:root 600" ]

# --- 200 concurrent requests, quota 3 --------------------------------------
tg_conf "[bridge br0]" "quota = 3"
t=$EPOCHREALTIME
storm tguser:8:25
spawners_settled
tally tguser
[ "$GRANTED" = 3 ] || tg_problem "granted $GRANTED, want 3"
[ "$REFUSED" = 197 ] || tg_problem "refused with the quota message: $REFUSED, want 197 (other: $OTHER)"
n=$(taps_of "$TG_UID" br0)
[ "$n" = 3 ] || tg_problem "taps on br0 while held: $n, want 3"
tg_verdict "quota 3: 200 requests from 8 workers: exactly 3 granted, 197 refused ($(( (${EPOCHREALTIME/./} - ${t/./}) / 1000 )) ms)"
grep -q "quota reached: tguser holds 3 of 3 taps allowed on bridge br0 ($C:2)" "$OUT"/*.err ||
    tg_problem "no refusal names $C:2"
tg_verdict "the refusal names the count, the quota and where it is set"
tg_release
spawners_gone
tg_taps
for tap in $TG_TAPS; do tg_gone "$tap" || tg_problem "tap left: $tap"; done
lock_free
tg_spawn tguser -- "$TG_H"; tg_expect_grant
tg_verdict "after all callers exit: no taps, no processes, lock free, a new request succeeds"

# --- bursts: 8 requests at once, quota 1 ---------------------------------------
# The window between counting and attaching is short next to the cost of
# starting a process, so a missing lock shows up only now and then in the
# storm above. Rounds of 8 simultaneous first requests against quota 1 make
# a race far more likely to be seen (with the lock removed from the helper,
# most runs of this test fail here).
tg_conf "[bridge br0]" "quota = 1"
for round in 1 2 3 4 5 6 7 8 9 10; do
    storm tguser:8:1
    spawners_settled
    tally tguser
    [ "$GRANTED" = 1 ] && [ "$REFUSED" = 7 ] ||
        tg_problem "round $round: granted $GRANTED refused $REFUSED other $OTHER"
    tg_release
    # The holder of this round's tap must be gone (and the tap with it)
    # before the next round counts.
    spawners_gone
done
tg_verdict "10 bursts of 8 simultaneous requests, quota 1: exactly 1 granted each"

# --- per user: alice's taps do not count for bob -------------------------
tg_conf "[bridge br0]" "quota = 2"
storm tgalice:4:10 tgbob:4:10 tguser:2:5
spawners_settled
for u in tgalice tgbob tguser; do
    tally "$u"
    [ "$GRANTED" = 2 ] && [ "$OTHER" = 0 ] ||
        tg_problem "$u: granted $GRANTED refused $REFUSED other $OTHER (want 2 granted)"
done
[ "$(taps_of $TG_ALICE_UID br0)" = 2 ] && [ "$(taps_of $TG_BOB_UID br0)" = 2 ] ||
    tg_problem "taps on br0: alice $(taps_of $TG_ALICE_UID br0), bob $(taps_of $TG_BOB_UID br0)"
tg_verdict "quota 2, three users concurrently: 2 taps each"
# The quota is per bridge: a full br0 leaves br1 alone (no quota there).
tg_hold tgalice --br br1 -- "$TG_H"; tg_expect_grant
tg_verdict "a full quota on br0 does not limit br1"
tg_release
spawners_gone
tg_expect_nothing_left
tg_verdict "nothing left after the mixed run"

# --- persistent taps keep counting ------------------------------------------
tg_conf "[bridge br0]" "quota = 2"
p=$(tg_as tguser $PERSIST "$TG_H" br0)
if [ -z "$p" ] || [ ! -e "/sys/class/net/$p" ]; then
    tg_fail "persist.py did not leave a tap: $p"
else
    read -r flags < "/sys/class/net/$p/tun_flags"
    (( flags & 0x800 )) || tg_problem "$p is not persistent (tun_flags $flags)"
    [ -e "/sys/class/net/br0/brif/$p" ] || tg_problem "$p is not on br0 after its caller left"
    tg_verdict "a caller made its tap $p persistent and left: the tap stays on br0"
    tg_hold tguser -- "$TG_H"; tg_expect_grant
    tg_hold tguser -- "$TG_H"; tg_expect_refusal "quota reached: tguser holds 2 of 2 taps allowed on bridge br0"
    tg_verdict "the persistent tap counts: one more granted, the next refused"
    tg_release
    # The holder is gone: one of two used, so a second persistent tap is
    # granted, and after it nothing more.
    p2=$(tg_as tguser $PERSIST "$TG_H" br0)
    [ -e "/sys/class/net/$p2" ] || tg_problem "a second persistent tap: $p2"
    p3=$(tg_as tguser $PERSIST "$TG_H" br0 2> /dev/null)
    [ "$p3" = "refused exit=1" ] || tg_problem "a third persistent tap: $p3"
    tg_spawn tguser -- "$TG_H"; tg_expect_refusal "quota reached: tguser holds 2 of 2"
    tg_verdict "two persistent taps with no caller alive fill quota 2"
    a=$(tg_as tgalice $PERSIST "$TG_H" br0)
    [ -e "/sys/class/net/$a" ] || tg_problem "tgalice: $a"
    tg_verdict "... and do not count for another user"
    ip link del "$p"
    tg_hold tguser -- "$TG_H"; tg_expect_grant
    tg_verdict "root deletes one: a request is granted again"
    tg_release
    tg_taps
    for t in $TG_TAPS; do ip link del "$t"; done
fi

# --- the count looks at the user's own slots of interface indexes --------------
# Each tap takes its index from the user's slots on the bridge, and counting
# looks there only. An interface of someone else's in one of those slots
# (another user whose slots share the hash, or root's) is skipped: it does
# not count, and the next free slot is taken.
tg_conf "[bridge br0]" "quota = 2"
tg_hold tguser -- "$TG_H"; tg_expect_grant
first=$(tg_read "/sys/class/net/${TG_R[ifname]:-?}/ifindex")
tap=${TG_R[ifname]:-?}
tg_release
tg_gone "$tap" || tg_problem "$tap did not go away"
ip link add tgfa index "$first" type veth peer name tgfb
ip link set tgfa alias "tapgate uid=$TG_UID"
ip link add tgfc index $((first + 256)) type veth peer name tgfd
ip link set tgfc alias "tapgate uid=$TG_ALICE_UID"
ip link set tgfc master br0
tg_hold tguser -- "$TG_H"; tg_expect_grant
index=$(tg_read "/sys/class/net/${TG_R[ifname]:-?}/ifindex")
# Slots are every 256th index (see quota.hpp).
[ "$index" = $((first + 512)) ] || tg_problem "the tap has index $index, not $((first + 512)), the first free slot"
tg_hold tguser -- "$TG_H"; tg_expect_grant
tg_hold tguser -- "$TG_H"; tg_expect_refusal "quota reached: tguser holds 2 of 2"
tg_verdict "interfaces of others in a user's slots neither count nor take the tap's index"
tg_release
ip link del tgfa
ip link del tgfc

# --- records: how many of a user's slots on a bridge may be in use ------------
# Counting probes only the slots that the user's record for the bridge in
# the lock file says may be in use: each tap raises it before it exists, and a count
# that looked at all of them sets it to what it found. A record is about
# one network namespace (interface indexes are per namespace): a tap of
# the same user in another namespace, in a lower slot, must not make this
# namespace's count miss a tap in a higher one.
# record_at UID BRIDGE: where the user's record for the bridge (here) is
# in the lock file (see quota.cpp: four of 32 bytes per user, one per
# bridge index modulo 4).
record_at() { echo $((($1 * 4 + $(tg_read "/sys/class/net/$2/ifindex") % 4) * 32)); }
# record UID BRIDGE: that record as "NETNS-COOKIE BOUND" ("0 0" if it names
# another bridge).
record() {
    ${PYTHON:-python3} - "$LOCK" "$(record_at "$1" "$2")" "$(tg_read "/sys/class/net/$2/ifindex")" <<'PY'
import struct, sys
with open(sys.argv[1], "rb") as f:
    f.seek(int(sys.argv[2]))
    netns, br, bound, check, _ = struct.unpack("=QiIQQ", f.read(32).ljust(32, b"\0"))
print(netns if br == int(sys.argv[3]) else 0, bound if br == int(sys.argv[3]) else 0)
PY
}
# spoil UID BRIDGE FIELD-OFFSET N: N zero bytes over part of that record,
# as a write cut short or a stray one would leave it.
spoil() {
    ${PYTHON:-python3} -c '
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]) + int(sys.argv[3]))
    f.write(b"\0" * int(sys.argv[4]))' "$LOCK" "$(record_at "$1" "$2")" "$3" "$4"
}
# This namespace's cookie (SO_NETNS_COOKIE), as the kernel gives it.
cookie() {
    ${PYTHON:-python3} -c 'import socket, struct; s = socket.socket(); print(struct.unpack("=Q", s.getsockopt(socket.SOL_SOCKET, 71, 8))[0])'
}
spawners_gone
tg_conf "[bridge br0]" "quota = 3"
p1=$(tg_as tguser $PERSIST "$TG_H" br0)
p2=$(tg_as tguser $PERSIST "$TG_H" br0)
p3=$(tg_as tguser $PERSIST "$TG_H" br0)
first=$(tg_read "/sys/class/net/$p1/ifindex")
[ "$(tg_read "/sys/class/net/$p3/ifindex")" = $((first + 512)) ] || tg_problem "$p1 $p2 $p3 are not in the first three slots"
[ "$(record "$TG_UID" br0)" = "$(cookie) 3" ] || tg_problem "record after three taps: $(record "$TG_UID" br0), want $(cookie) 3"
# tguser keeps the third slot only.
ip link del "$p1"
ip link del "$p2"
tg_hold tguser -- "$TG_H"; tg_expect_grant
tg_hold tguser -- "$TG_H"; tg_expect_grant
tg_hold tguser -- "$TG_H"; tg_expect_refusal "quota reached: tguser holds 3 of 3"
tg_verdict "the record covers a tap in the third slot after the first two went away"
tg_release
spawners_gone
# A record cut short (its bound changed, its check not) reads as none.
spoil "$TG_UID" br0 12 4
[ "$(record "$TG_UID" br0)" = "$(cookie) 0" ] || tg_problem "record cut short: $(record "$TG_UID" br0)"
tg_hold tguser -- "$TG_H"; tg_expect_grant
tg_hold tguser -- "$TG_H"; tg_expect_grant
tg_hold tguser -- "$TG_H"; tg_expect_refusal "quota reached: tguser holds 3 of 3"
tg_verdict "a record whose check does not match is not used"
tg_release
spawners_gone
tg_hold tguser -- "$TG_H"; tg_expect_grant
tg_release
[ "$(record "$TG_UID" br0)" = "$(cookie) 3" ] || tg_problem "record: $(record "$TG_UID" br0), want $(cookie) 3"
# A bridge whose index puts it in the same place among tguser's records
# as br0: each record names its bridge, so neither bridge's count goes by
# the other's record.
n=$(tg_read /sys/class/net/br0/ifindex)
until ip link add br4 index $((n += 4)) type bridge 2> /dev/null; do ((n < 4096)) || break; done
[ -e /sys/class/net/br4 ] || tg_fail "no free index for br4 below 4096"
ip link set br4 up
tg_acl "allow br0" "allow br1" "allow br4"
tg_conf "[bridge br0]" "quota = 3" "[bridge br4]" "quota = 3"
tg_hold tguser --br br4 -- "$TG_H"; tg_expect_grant
# Then a request on br0 with RLIMIT_FSIZE just past the first 12 bytes of
# the record (br4's now, bound 1): its count looked at every slot and
# writes br0's (bound 3), which the limit would cut short, leaving br0's
# name with br4's bound. The record's check makes one cut short read as
# none (tapgate also lifts the limit where root may: not here, without
# CAP_SYS_RESOURCE, and a caller could set it again after the drop).
prlimit --fsize=$(($(record_at "$TG_UID" br0) + 12)) -- setpriv --reuid=tguser --regid=tguser --init-groups -- \
    "$TG_SPAWN" -- "$TG_H" > "$TG_ROOT/report" 2> "$TG_ROOT/stderr" < /dev/null
TG_RC=$?
tg_parse_report
tg_expect_grant
tg_hold tguser -- "$TG_H"; tg_expect_grant
tg_hold tguser -- "$TG_H"; tg_expect_grant
tg_hold tguser -- "$TG_H"; tg_expect_refusal "quota reached: tguser holds 3 of 3"
tg_verdict "a record about another bridge (br4, index $n) is not used for br0, nor one cut short by RLIMIT_FSIZE"
tg_release
ip link del br4
tg_acl "allow br0" "allow br1"
tg_conf "[bridge br0]" "quota = 3"
spawners_gone
# Another network namespace, the same lock file: tguser's tap there takes
# the first slot of the same range, and the record is about that
# namespace after it (its count found none there). The service makes taps
# in its own namespace, whatever the caller's: setuid only.
if ! tg_via_service; then
    # br0 there has the index br0 has here: the same user, bridge index
    # and slots, another namespace.
    out=$(unshare --net -- bash -c '
        ip link add br0 index '"$(tg_read /sys/class/net/br0/ifindex)"' type bridge && ip link set br0 up &&
        t=$(setpriv --reuid=tguser --regid=tguser --init-groups -- '"$PERSIST"' "$0" br0) &&
        ip -o link show dev "$t" | cut -d: -f1' "$TG_H" 2>&1)
    [ "$out" = "$first" ] || tg_problem "tguser's tap in another namespace: index $out, want $first"
    other=$(record "$TG_UID" br0)
    [ "${other#* }" = 1 ] && [ "${other% *}" != "$(cookie)" ] || tg_problem "record after the other namespace: $other"
    tg_hold tguser -- "$TG_H"; tg_expect_grant
    tg_hold tguser -- "$TG_H"; tg_expect_grant
    tg_hold tguser -- "$TG_H"; tg_expect_refusal "quota reached: tguser holds 3 of 3"
    tg_verdict "a record about another network namespace is not used: every slot is counted"
    [ "$(record "$TG_UID" br0)" = "$(cookie) 3" ] || tg_problem "record: $(record "$TG_UID" br0), want $(cookie) 3"
    tg_release
fi
ip link del "$p3"
spawners_gone
tg_hold tguser -- "$TG_H"; tg_expect_grant
tg_hold tguser -- "$TG_H"; tg_expect_grant
tg_release
[ "$(record "$TG_UID" br0)" = "$(cookie) 2" ] || tg_problem "record: $(record "$TG_UID" br0), want $(cookie) 2"
tg_verdict "a count that looked at every slot that may be in use lowers the record: 3 to 0, then 2 taps"
# Any interface in a slot is use, not only the user's taps: a tap made by
# a request still on its way to the bridge (no master, no alias yet) must
# stay covered. An interface of root's in the third slot, and no record
# (its check made wrong), so that the count looks at every slot.
spawners_gone
ip link add tgfe index $((first + 512)) type veth peer name tgff
spoil "$TG_UID" br0 16 8
tg_hold tguser -- "$TG_H"; tg_expect_grant
tg_release
[ "$(record "$TG_UID" br0)" = "$(cookie) 3" ] || tg_problem "record: $(record "$TG_UID" br0), want $(cookie) 3"
tg_verdict "the record covers an interface in the user's slots that is not (yet) one of the user's taps"
ip link del tgfe

# --- without the lock file, an index outside every range -----------------------
# A tapgate that cannot use the lock file cannot raise a record, so its
# taps take indexes that no range holds (from 2^24 + 8127 * 2^18 up).
spawners_gone
tg_conf
chmod 0644 "$LOCK"
tg_hold tguser -- "$TG_H"; tg_expect_grant
index=$(tg_read "/sys/class/net/${TG_R[ifname]:-?}/ifindex")
[ "$index" -ge 2147221504 ] 2> /dev/null || tg_problem "the tap has index $index, inside the ranges"
tg_release
chmod 0600 "$LOCK"
tg_verdict "the lock file unusable: the tap's index is outside every range"

# --- the lock file's filesystem full: a count's record is only a hint ----------
# The lock file on a full tmpfs (bind-mounted over it here): a count cannot
# write a record where it has none yet, and the request is still served,
# the next count looking at every slot.
spawners_gone
full=$TG_ROOT/full
mkdir -p "$full"
mount -t tmpfs -o size=64k,mode=0755 tapgate-full "$full"
install -m 0600 /dev/null "$full/tapgate.lock"
head -c 1M /dev/zero > "$full/filler" 2> /dev/null
mount --bind "$full/tapgate.lock" "$LOCK"
tg_conf "[bridge br0]" "quota = 2"
tg_hold tguser -- "$TG_H"; tg_expect_grant
tg_hold tguser -- "$TG_H"; tg_expect_grant
tg_hold tguser -- "$TG_H"; tg_expect_refusal "quota reached: tguser holds 2 of 2"
tg_verdict "the lock file's filesystem full: requests are served, the quota exact"
tg_release
umount "$LOCK"
umount "$full"

# --- group and user sections override the bridge quota ----------------------
tg_conf "[bridge br0]" "quota = 3" "[bridge br0 group tglab]" "quota = 1"
tg_hold tgalice -- "$TG_H"; tg_expect_grant
tg_hold tgalice -- "$TG_H"; tg_expect_refusal "quota reached: tgalice holds 1 of 1 taps allowed on bridge br0 ($C:4)"
tg_verdict "[bridge br0 group tglab] quota = 1 overrides quota = 3 for tgalice"
tg_hold tguser -- "$TG_H"; tg_expect_grant
tg_hold tguser -- "$TG_H"; tg_expect_grant
tg_hold tguser -- "$TG_H"; tg_expect_grant
tg_hold tguser -- "$TG_H"; tg_expect_refusal "quota reached: tguser holds 3 of 3 taps allowed on bridge br0 ($C:2)"
tg_verdict "... while tguser (not in tglab) keeps the bridge's 3"
tg_release
tg_conf "[bridge br0]" "quota = 3" "[bridge br0 group tglab]" "quota = 1" \
    "[bridge br0 user tgbob]" "quota = 2"
tg_hold tgbob -- "$TG_H"; tg_expect_grant
tg_hold tgbob -- "$TG_H"; tg_expect_grant
tg_hold tgbob -- "$TG_H"; tg_expect_refusal "holds 2 of 2 taps allowed on bridge br0 ($C:6)"
tg_verdict "[bridge br0 user tgbob] quota = 2 beats the group's 1"
tg_release
# quota = 0 closes the bridge for the scope, with the quota message.
tg_conf "[bridge br0 user tgalice]" "quota = 0"
tg_spawn tgalice -- "$TG_H"; tg_expect_refusal "quota: tgalice may hold no taps on bridge br0"
tg_spawn tgbob -- "$TG_H"; tg_expect_grant
tg_verdict "quota = 0 for tgalice refuses her only"

# --- a group's total: group_quota in [bridge B group G] --------------------------
# tgalice and tgbob are in tglab, tguser is not. The total counts the
# members' taps together, persistent ones too, and only on that bridge.
spawners_gone
tg_conf "[bridge br0 group tglab]" "group_quota = 3"
tg_hold tgalice -- "$TG_H"; tg_expect_grant
alias=$(tg_read "/sys/class/net/${TG_R[ifname]:-?}/ifalias")
[[ $alias == "tapgate uid=$TG_ALICE_UID groups=$TG_LAB_GID made="* ]] || tg_problem "alias: $alias"
tg_hold tgalice -- "$TG_H"; tg_expect_grant
tg_hold tgbob -- "$TG_H"; tg_expect_grant
tg_hold tgbob -- "$TG_H"; tg_expect_refusal "group quota reached: group tglab holds 3 of 3 taps allowed on bridge br0 ($C:2)"
tg_hold tgalice -- "$TG_H"; tg_expect_refusal "group quota reached: group tglab holds 3 of 3"
tg_verdict "group_quota = 3: two of tgalice's and one of tgbob's fill it for both"
tg_hold tguser -- "$TG_H"; tg_expect_grant
tg_hold tgalice --br br1 -- "$TG_H"; tg_expect_grant
tg_verdict "... not for tguser, who is not in tglab, nor on br1"
tg_run tgbob --explain --br=br0
tg_expect_rc 1
[[ $TG_OUT == *"group_quota      3            ($C:2) for group tglab"* &&
   $TG_OUT == *"taps group tglab holds on br0: 3 of 3"* &&
   $TG_OUT == *"a request would be refused: group quota reached: group tglab holds 3 of 3"* ]] ||
    tg_problem "--explain: $TG_OUT"
tg_verdict "--explain shows the group's total, its count and the refusal"
tg_release
spawners_gone
# With a user quota too: each limit holds.
tg_conf "[bridge br0]" "quota = 1" "[bridge br0 group tglab]" "group_quota = 3"
tg_hold tgalice -- "$TG_H"; tg_expect_grant
tg_hold tgalice -- "$TG_H"; tg_expect_refusal "quota reached: tgalice holds 1 of 1"
tg_hold tgbob -- "$TG_H"; tg_expect_grant
tg_verdict "a user quota of 1 and a group total of 3: each applies"
tg_release
spawners_gone
# Persistent taps count for the group as long as they exist.
tg_conf "[bridge br0 group tglab]" "group_quota = 2"
p=$(tg_as tgalice $PERSIST "$TG_H" br0)
[ -e "/sys/class/net/$p" ] || tg_problem "no persistent tap: $p"
tg_hold tgbob -- "$TG_H"; tg_expect_grant
tg_hold tgbob -- "$TG_H"; tg_expect_refusal "group quota reached: group tglab holds 2 of 2"
tg_verdict "tgalice's persistent tap counts for tglab after she left"
tg_release
ip link del "$p"
spawners_gone
# Exact under concurrency: 40 requests of both members at once, group_quota
# 4 (the count and the attach under the group's lock).
tg_conf "[bridge br0 group tglab]" "group_quota = 4"
storm tgalice:4:5 tgbob:4:5
spawners_settled
granted=$(cat "$OUT"/*.rep | grep -c '^exit=0.* fd=1 ')
refused=$(cat "$OUT"/*.err | grep -c "^tapgate: group quota reached: group tglab holds 4 of 4 taps allowed on bridge br0 ($C:2)$")
[ "$granted" = 4 ] && [ "$refused" = 36 ] || tg_problem "granted $granted, refused with the group message $refused (want 4 and 36)"
n=$(( $(taps_of "$TG_ALICE_UID" br0) + $(taps_of "$TG_BOB_UID" br0) ))
[ "$n" = 4 ] || tg_problem "tglab's taps on br0: $n"
tg_verdict "group_quota 4: 40 concurrent requests of two members, exactly 4 granted"
tg_release
spawners_gone
# Bursts, as for the user's quota: first requests of both members at once.
tg_conf "[bridge br0 group tglab]" "group_quota = 1"
for round in 1 2 3 4 5 6 7 8; do
    storm tgalice:4:1 tgbob:4:1
    spawners_settled
    granted=$(cat "$OUT"/*.rep | grep -c '^exit=0.* fd=1 ')
    [ "$granted" = 1 ] || tg_problem "round $round: granted $granted"
    tg_release
    spawners_gone
done
tg_verdict "8 bursts of 8 simultaneous requests of two members, group_quota 1: exactly 1 granted each"
lock_free

spawners_gone
tg_expect_nothing_left
lock_free
tg_verdict "nothing left behind"
tg_elapsed
tg_done
