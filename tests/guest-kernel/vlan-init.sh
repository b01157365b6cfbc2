#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=dash
# /init of the VLAN test guest (tests/guest-kernel/vlan.sh builds the initramfs).
# The guest runs Debian's kernel, which has bridge VLAN filtering (the host
# kernel may not), and plays both sides: root sets up the bridges and the
# config files, unprivileged users get taps from the setuid /bin/tapgate.
# Every result is a "TG: ok ..." or "TG: FAIL ..." line on the serial
# console; "TG: done ..." comes last, then the guest powers off. If this
# script hangs, the host's timeout ends QEMU.
# shellcheck disable=SC2154  # A_tap, A_mac, ... are set through eval (start)
. /init-lib.sh

# Syslog listener: the helper's audit line must carry the VLAN.
syslogd -n -O /run/messages &

# Policy (vlan_setup in init-lib.sh), plus br1, which asks for a VLAN
# without filtering (the refusal case).
vlan_setup 'allow br1
' '
[bridge br1]
vlan = 40
'
ip link add br1 type bridge && ip link set br1 up || fail "cannot create br1"

# start NAME USER [tapio options]: a tapio as USER on br0, commands through
# fd N (NAME's number in FDS), replies in /run/NAME.out. Sets NAME_tap,
# NAME_mac and NAME_fd.
NEXT_FD=3
start() {
    name=$1 user=$2
    shift 2
    mkfifo "/run/$name.in"
    chmod 0644 "/run/$name.in"
    # The fifo is opened by the tapio side first (its redirection blocks
    # until we open the write end below); as the user, through setpriv, so
    # the helper sees the user's real uid.
    setpriv --reuid="$user" --regid="$user" --init-groups -- \
        tapio "$@" /bin/tapgate br0 < "/run/$name.in" > "/run/$name.out" 2> "/run/$name.err" &
    pid=$!
    eval "exec $NEXT_FD> /run/$name.in"
    eval "${name}_fd=$NEXT_FD ${name}_pid=$pid"
    NEXT_FD=$((NEXT_FD + 1))
    if ! wait_for "/run/$name.out" '^ready ' 100 "$pid"; then
        fail "$name ($user): no tap: $(cat "/run/$name.err")"
        eval "${name}_tap=none ${name}_mac=none"
        return 1
    fi
    # shellcheck disable=SC2046  # split into words on purpose
    set -- $(grep '^ready ' "/run/$name.out")
    eval "${name}_tap=$2 ${name}_mac=${4#mac=}"
    ok "$name ($user) got $2 ($3)"
}

# ask NAME COMMAND...: send COMMAND to NAME's tapio; its reply (the words
# after the id) in R, empty after 5 s without one. Not meant for $(...):
# the sequence number must survive the call.
SEQ=0
ask() {
    name=$1
    shift
    SEQ=$((SEQ + 1))
    R=
    eval "fd=\$${name}_fd pid=\$${name}_pid"
    eval "echo \"$SEQ $*\" >&$fd" 2>/dev/null
    if wait_for "/run/$name.out" "^$SEQ " 50 "$pid"; then
        R=$(grep "^$SEQ " "/run/$name.out" | cut -d' ' -f2-)
    fi
}

T0=$(cut -d' ' -f1 /proc/uptime)
start A tgalice            # VLAN 10 (group tglab)
start C tgcarol --vnet     # VLAN 10 (group tglab), QEMU's vnet-header form
start B tgbob              # VLAN 20 (user section beats group)
start B2 tgbob --vnet      # VLAN 20
start U tguser             # VLAN 30 (bridge section)

# A tap held by tg-spawn, exactly as QEMU asks (--use-vnet): the same
# VLAN as the user's other taps.
mkfifo /run/S.in
setpriv --reuid=tgalice --regid=tgalice --init-groups -- \
    tg-spawn --keep 120 -- /bin/tapgate < /run/S.in > /run/S.out 2> /run/S.err &
S_pid=$!
exec 9> /run/S.in
if wait_for /run/S.out 'exit=' 100 "$S_pid" && grep -q 'exit=0 .*fd=1 ifname=' /run/S.out; then
    S_tap=$(sed -n 's/.*ifname=\([^ ]*\).*/\1/p' /run/S.out)
    ok "S (tgalice, tg-spawn) got $S_tap: $(cat /run/S.out)"
else
    S_tap=none
    fail "S (tgalice, tg-spawn): $(cat /run/S.out /run/S.err)"
fi
say "taps ready after $(cut -d' ' -f1 /proc/uptime) s (began at $T0)"

# --- what the kernel says -------------------------------------------------
# Each tap: on br0, up, and exactly one VLAN (check_port, init-lib.sh).
check_port A "$A_tap" 10
check_port C "$C_tap" 10
check_port B "$B_tap" 20
check_port B2 "$B2_tap" 20
check_port U "$U_tap" 30
check_port S "$S_tap" 10
bridge vlan show | sed 's/^/TG:   | /'

# --- the data path --------------------------------------------------------
# expect NAME MARKER UNTAGGED: NAME saw MARKER exactly UNTAGGED times,
# untagged, never tagged. Positive expectations wait up to 3 s; negative
# ones just count (the caller has waited for the positives, and frames on a
# software bridge are delivered before the sender's write returns, so a
# late stray is not a risk worth more time).
expect() {
    if [ "$3" -gt 0 ]; then
        ask "$1" wait "$2" "$3" 3000
    else
        ask "$1" count "$2"
    fi
    if [ "$R" = "count $2 untagged=$3 tagged=0" ]; then
        ok "$1 saw '$2' $3 time(s), untagged"
    else
        fail "$1 on '$2': got '$R', want untagged=$3 tagged=0"
    fi
}
sent() {  # NAME MARKER [VID]
    ask "$1" send "$2" ${3:-}
    [ "$R" = "sent $2" ] || fail "$1 could not send '$2': '$R' $(cat "/run/$1.err")"
}
# learnt MAC TAP VID: the bridge learnt MAC behind TAP in VLAN VID (shows
# which VLAN the frame entered, also when nobody else was there to see it).
learnt() {
    if bridge fdb show br br0 | grep -q "^$1 dev $2 vlan $3 "; then
        ok "br0 learnt $1 on $2 in VLAN $3"
    else
        fail "br0 did not learn $1 on $2 in VLAN $3: $(bridge fdb show br br0 | grep "^$1" | tr '\n' ';')"
    fi
}

# Same VLAN hears, others do not.
sent A a-bcast
expect C a-bcast 1
expect B a-bcast 0
expect B2 a-bcast 0
expect U a-bcast 0
learnt "$A_mac" "$A_tap" 10

sent C c-bcast
expect A c-bcast 1
expect B c-bcast 0
expect U c-bcast 0

sent B b-bcast
expect B2 b-bcast 1
expect A b-bcast 0
expect C b-bcast 0
expect U b-bcast 0
learnt "$B_mac" "$B_tap" 20

sent U u-bcast
expect A u-bcast 0
expect B u-bcast 0
expect C u-bcast 0
learnt "$U_mac" "$U_tap" 30

# A guest that tags its own frames: tagged with its own VLAN, they are
# accepted and leave the other port untagged; tagged with another VLAN
# (or VLAN 1), ingress filtering drops them.
sent A a-tag10 10
expect C a-tag10 1
sent A a-hop20 20
sent A a-hop1 1
sent U u-hop10 10
expect C a-hop20 0
expect B a-hop20 0
expect B2 a-hop20 0
expect U a-hop20 0
expect B a-hop1 0
expect C a-hop1 0
expect U a-hop1 0
expect A u-hop10 0
expect C u-hop10 0

# --- what tapgate itself reports ----------------------------------------
tapgate --list > /run/list.out 2>&1
sed 's/^/TG:   list: /' /run/list.out
check "tapgate --list: $A_tap of tgalice on br0, VLAN 10" \
    awk -v t="$A_tap" '$1 == t && $2 == "br0" && $3 == "tgalice" && $4 == 10 { f = 1 } END { exit !f }' /run/list.out
tapgate --explain --br=br0 --user=tgbob 2>&1 | sed 's/^/TG:   explain: /'

# --- audit log ------------------------------------------------------------
if wait_for /run/messages "granted: user=tgbob .*vlan=20" 20; then
    ok "syslog: grant for tgbob names vlan=20"
else
    fail "syslog: no grant line for tgbob with vlan=20: $(grep tapgate /run/messages | tr '\n' ';')"
fi

# --- a VLAN on a bridge without filtering -----------------------------------
tuns_before=$(ls /sys/class/net | wc -l)
setpriv --reuid=tguser --regid=tguser --init-groups -- \
    tg-spawn --br br1 -- /bin/tapgate < /dev/null > /run/R.out 2> /run/R.err
say "br1: $(cat /run/R.out) stderr: $(cat /run/R.err)"
check "br1: the helper exits 1 and sends no fd" grep -q '^exit=1 .*fd=0' /run/R.out
check "br1: the message names vlan_filtering" grep -q 'vlan_filtering' /run/R.err
check "br1: the message is one line" [ "$(grep -c . /run/R.err)" -eq 1 ]
check "br1: no tap left behind" [ "$(ls /sys/class/net | wc -l)" -eq "$tuns_before" ]
check "br1: no ports" [ -z "$(ls /sys/class/net/br1/brif)" ]

# --- closing the fds removes the taps ---------------------------------------
for n in A C B B2 U; do
    eval "fd=\$${n}_fd"
    eval "exec $fd>&-"
done
exec 9>&-
tuns() { ls /sys/class/net/*/tun_flags 2>/dev/null; }
i=0
while [ -n "$(tuns)" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "all taps gone once their fds are closed" [ -z "$(tuns)" ]
say "finished after $(cut -d' ' -f1 /proc/uptime) s"
finish
