#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Port settings from tapgate.conf, read back from the kernel: bridge port
# flags with their precedence (user > group > bridge > defaults, first
# matching group section in file order), tap name templates (also under
# concurrency), and a VLAN asked for on a bridge without VLAN filtering
# (this host's kernel has none: a clean refusal is all that can be tested
# here; VLANs themselves are tested in a VM).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/tg.sh"
tg_start "$@"
tg_helper
tg_bridge br0
tg_bridge br1
# The monitor ignores known bridges' own events (a port leaving changes
# the bridge): only new interfaces matter.
TG_BRIDGES+=(br0 br1)
tg_acl "allow br0" "allow br1"
# A second group: tgalice is in tgteam and tglab, tgbob in tglab only.
echo "tgteam:x:4260:tgalice" >> /etc/group
tg_monitor_start

# flags TAP: the port's flags as `bridge -d link` shows them, into FLAGS
# ("isolated=on hairpin=off ...").
FLAGS=
flags() {
    local out k
    out=$(bridge -d link show dev "$1")
    FLAGS=
    for k in isolated hairpin learning flood mcast_flood bcast_flood; do
        [[ $out =~ [[:space:]]$k\ (on|off) ]] && FLAGS+="$k=${BASH_REMATCH[1]} "
    done
    FLAGS=${FLAGS% }
}

# port USER BRIDGE WANT: USER's tap on BRIDGE has the flags WANT.
port() {
    tg_hold "$1" --br "$2" -- "$TG_H"
    tg_expect_grant
    if [ "${TG_R[fd]:-}" = 1 ]; then
        flags "${TG_R[ifname]}"
        [ "$FLAGS" = "$3" ] || tg_problem "$1 on $2: $FLAGS, want $3"
        [ "$(cat "/sys/class/net/${TG_R[ifname]}/operstate")" != down ] ||
            tg_problem "$1 on $2: the tap is down"
    fi
    tg_release
}

DEFAULT="isolated=off hairpin=off learning=on flood=on mcast_flood=on bcast_flood=on"
port tguser br0 "$DEFAULT"
tg_verdict "no tapgate.conf: the kernel's port defaults"

tg_conf "[bridge br0]" "isolated = yes" "hairpin = yes" "learning = no" \
    "unicast_flood = no" "multicast_flood = no" "broadcast_flood = no"
port tguser br0 "isolated=on hairpin=on learning=off flood=off mcast_flood=off bcast_flood=off"
tg_verdict "every flag set on [bridge br0], read back from the kernel"
port tguser br1 "$DEFAULT"
tg_verdict "... and not on br1"

tg_conf "[defaults]" "isolated = yes" "multicast_flood = no" \
    "[bridge br0]" "hairpin = yes" "isolated = no" \
    "[bridge br0 group tgteam]" "broadcast_flood = no" "learning = no" \
    "[bridge br0 group tglab]" "learning = yes" "hairpin = no" "broadcast_flood = yes" \
    "[bridge br0 user tgbob]" "hairpin = yes" "isolated = yes"
port tguser br0 "isolated=off hairpin=on learning=on flood=on mcast_flood=off bcast_flood=on"
tg_verdict "bridge over defaults, defaults where the bridge is silent (tguser)"
port tgalice br0 "isolated=off hairpin=off learning=off flood=on mcast_flood=off bcast_flood=off"
tg_verdict "group over bridge; first group section in file order wins (tgalice: tgteam before tglab)"
port tgbob br0 "isolated=on hairpin=on learning=on flood=on mcast_flood=off bcast_flood=on"
tg_verdict "user over group over bridge (tgbob)"
port tgalice br1 "isolated=on hairpin=off learning=on flood=on mcast_flood=off bcast_flood=on"
tg_verdict "[defaults] alone on another bridge"

# --- port protections ------------------------------------------------------------
# protections TAP WANT: the port's guard, root_block and neigh_suppress, as
# `bridge -d link` shows them, are WANT (on or off).
protections() {
    local out k
    out=$(bridge -d link show dev "$1")
    for k in guard root_block neigh_suppress; do
        [[ $out =~ [[:space:]]$k\ $2 ]] || tg_problem "$1: $k is not $2: $out"
    done
}
tg_conf "[bridge br0]" "bpdu_guard = yes" "root_block = yes" "neigh_suppress = yes"
tg_hold tguser -- "$TG_H"; tg_expect_grant
protections "${TG_R[ifname]:-?}" on
tg_hold tguser --br br1 -- "$TG_H"; tg_expect_grant
protections "${TG_R[ifname]:-?}" off
tg_release
tg_verdict "bpdu_guard, root_block and neigh_suppress on br0's ports, not br1's"
# BPDU guard at work: with STP on, a guest that sends a BPDU has its port
# disabled, so it cannot take part in (or take over) the spanning tree.
tg_user_tool "$here/qemu_side.py" >/dev/null
BPDU="${PYTHON:-python3} $(tg_user_tool "$here/bpdu.py")"
ip link set br0 type bridge stp_state 1
read -r tap before after <<< "$(tg_as tguser $BPDU "$TG_H" br0)"
[ -n "$tap" ] && [ "${before:-0}" != 0 ] || tg_problem "no working port to start with: $tap $before"
[ "${after:-}" = 0 ] || tg_problem "after a BPDU the port's state is ${after:-?}, not 0 (disabled)"
tg_conf "[bridge br0]" "bpdu_guard = no"
read -r tap before after <<< "$(tg_as tguser $BPDU "$TG_H" br0 0.5)"
[ "${after:-0}" != 0 ] || tg_problem "without bpdu_guard a BPDU disabled the port"
ip link set br0 type bridge stp_state 0
tg_verdict "bpdu_guard: a guest's BPDU disables its port (and without it does not)"

# --- name templates -----------------------------------------------------------
name_is() {  # USER WANT
    tg_hold "$1" -- "$TG_H"
    tg_expect_grant
    [ "${TG_R[ifname]:-}" = "$2" ] || tg_problem "$1: tap ${TG_R[ifname]:-none}, want $2"
    [ -e "/sys/class/net/br0/brif/${TG_R[ifname]:-none}" ] || tg_problem "$1: ${TG_R[ifname]:-none} not on br0"
}
tg_conf "[bridge br0]" "name = vm%u%d"
name_is tgalice vmtgalice0
name_is tgalice vmtgalice1
name_is tgbob vmtgbob0
tg_verdict "name = vm%u%d: vmtgalice0, vmtgalice1, vmtgbob0"
tg_release
tg_conf "[bridge br0]" "name = %i-%d" "[bridge br0 group tglab]" "name = lab%d" \
    "[bridge br0 user tgbob]" "name = b%u.%d"
name_is tguser 4242-0
name_is tgalice lab0
name_is tgbob btgbob.0
tg_verdict "templates per bridge, group and user: 4242-0, lab0, btgbob.0"
tg_release
# A template whose first name is taken by an interface tapgate did not make
# (here a veth) does not collide: the kernel's counter skips it.
ip link add vmtgalice0 type veth peer name vmpeer0
tg_conf "[bridge br0]" "name = vm%u%d"
name_is tgalice vmtgalice1
[ -z "$(cat /sys/class/net/vmtgalice0/master 2>/dev/null)" ] && [ ! -e /sys/class/net/vmtgalice0/master ] ||
    tg_problem "the veth vmtgalice0 was touched"
tg_verdict "a name the template would give first is taken: the next one, the other interface untouched"
tg_release
ip link del vmtgalice0
# The lowest free number, with gaps and past the 32 that tapgate looks at
# itself (then the kernel picks): persistent taps of someone else's hold
# vmtgalice0, 2, and then 0 to 31.
ip tuntap add vmtgalice0 mode tap user "$TG_BOB"
ip tuntap add vmtgalice2 mode tap user "$TG_BOB"
name_is tgalice vmtgalice1
name_is tgalice vmtgalice3
tg_release
for ((i = 1; i < 32; i++)); do [ $i = 2 ] || ip tuntap add "vmtgalice$i" mode tap user "$TG_BOB"; done
name_is tgalice vmtgalice32
for ((i = 0; i < 32; i++)); do
    [ -e "/sys/class/net/vmtgalice$i/master" ] && tg_problem "vmtgalice$i was put on a bridge"
done
tg_release
for ((i = 0; i < 32; i++)); do ip link del "vmtgalice$i"; done
tg_verdict "the lowest free number: vmtgalice1 and 3 between others' taps, vmtgalice32 after 32 of them"
# %i is given room for 10 digits whatever the uid (any uid must fit), so
# "u%i-%d" (1 + 10 + 1 + 4 for the counter = 16) is refused up front, with
# file:line, rather than failing only for users with long uids.
tg_conf "[bridge br0]" "name = u%i-%d"
out=$("$TG_H" --check /etc/tapgate.conf 2>&1)
[[ $out == *'/etc/tapgate.conf:2: name = "u%i-%d": too long'* ]] || tg_problem "--check: $out"
tg_spawn tguser -- "$TG_H"; tg_expect_refusal 'settings error: /etc/tapgate.conf:2: name = "u%i-%d": too long'
tg_verdict "name = u%i-%d is too long for a 10-digit uid: a settings error"

# A long user name is cut so the name fits in 15 characters with room for
# a 4-digit counter.
tg_add_user tgverylongusername 4300
tg_acl "allow br0" "allow br1"
tg_conf "[bridge br0]" "name = vm%u%d"
name_is tgverylongusername vmtgverylon0
tg_verdict "a long user name is cut to fit: vmtgverylon0"
tg_release

# 20 concurrent requests: all granted, all names distinct (the kernel picks
# the lowest free %d under its own lock). The service serves one user at
# most 8 requests at a time (a 9th is refused at once: tapgate(8), SERVICE
# MODE), so through it they come in waves of 8, each all at once, with the
# taps of the earlier waves still held.
WAVE=20
tg_via_service && WAVE=8
tg_conf "[bridge br0]" "name = %i-%d"
tg_gate_open
mkdir -p "$TG_ROOT/conc"
# reports N: waits until N reports are in (or 30 s).
reports() {
    local k n f
    for ((k = 0; k < 300; k++)); do
        n=0
        for f in "$TG_ROOT"/conc/[0-9]*; do [[ $f == *.err ]] || { [ -s "$f" ] && n=$((n + 1)); }; done
        [ $n -ge "$1" ] && return
        sleep 0.1
    done
}
for ((i = 0; i < 20; i++)); do
    tg_as tguser "$TG_SPAWN" --keep 80 -- "$TG_H" < "$TG_ROOT/gate" > "$TG_ROOT/conc/$i" \
        2> "$TG_ROOT/conc/$i.err" {TG_GATE_W}>&- &
    if (((i + 1) % WAVE == 0)); then
        reports $((i + 1))
        # Served means reaped too: the wave's children no longer count.
        tg_via_service && tg_service_idle
    fi
done
reports 20
names=$(cat "$TG_ROOT"/conc/[0-9] "$TG_ROOT"/conc/[0-9][0-9] | grep -o 'ifname=[^ ]*' | sort -u)
want=$(for ((i = 0; i < 20; i++)); do echo "ifname=4242-$i"; done | sort)
[ "$names" = "$want" ] || tg_problem "names: $(echo $names)"
granted=$(cat "$TG_ROOT"/conc/[0-9] "$TG_ROOT"/conc/[0-9][0-9] | grep -c '^exit=0 .* fd=1 ')
[ "$granted" = 20 ] || tg_problem "granted $granted of 20: $(cat "$TG_ROOT"/conc/*.err | head -n 3)"
tg_verdict "20 concurrent requests with name = %i-%d: all granted, 4242-0 .. 4242-19"
tg_release
tg_taps
for t in $TG_TAPS; do tg_gone "$t" || tg_problem "$t left"; done
tg_verdict "all 20 gone with their callers"

# --- VLAN on a bridge without VLAN filtering ------------------------------------
tg_monitor_sync
tg_conf "[bridge br0]" "isolated = yes" "[bridge br0 user tgbob]" "vlan = 20"
tg_spawn tgbob -- "$TG_H"
tg_expect_refusal "tapgate.conf sets vlan 20 for bridge br0, which has VLAN filtering off"
tg_monitor_sync || tg_problem "the interface monitor did not answer"
[ -z "$TG_SEEN" ] || tg_problem "interfaces appeared: $TG_SEEN"
tg_expect_nothing_left
tg_verdict "vlan = 20 for tgbob on a non-filtering br0: refused, no tap even for a moment"
ports=$(ls /sys/class/net/br0/brif)
[ -z "$ports" ] || tg_problem "br0 has ports: $ports"
tg_spawn tgalice -- "$TG_H"; tg_expect_grant
tg_verdict "... while tgalice (no vlan) still gets her tap"
tg_conf "[defaults]" "vlan = 7"
tg_monitor_sync
tg_spawn tguser --br br1 -- "$TG_H"; tg_expect_refusal "sets vlan 7 for bridge br1"
tg_monitor_sync
[ -z "$TG_SEEN" ] || tg_problem "interfaces appeared: $TG_SEEN"
tg_verdict "vlan in [defaults]: refused on br1 as well, nothing created"

# --- the bridge's own address (tapgate(8): The bridge's own MAC address) -----
# With only tapgate's taps as ports, a bridge takes a tap's address, and
# another as taps come and go; one set by hand stays.
tg_conf
tg_bridge brmac
tg_acl "allow all"
mac_of() { tg_read "/sys/class/net/$1/address"; }
tg_hold tguser --br brmac -- "$TG_H"; tg_expect_grant
first=$(mac_of "${TG_R[ifname]:-?}")
[ "$(mac_of brmac)" = "$first" ] || tg_problem "brmac has $(mac_of brmac), its only port $first"
tg_release
tg_wait 5 tg_no_taps || tg_problem "the tap stays"
tg_hold tguser --br brmac -- "$TG_H"; tg_expect_grant
second=$(mac_of "${TG_R[ifname]:-?}")
[ "$(mac_of brmac)" = "$second" ] && [ "$second" != "$first" ] ||
    tg_problem "brmac has $(mac_of brmac) after its port changed from $first to $second"
tg_release
tg_verdict "a bridge with only taps takes a tap's address, and changes with them"
tg_wait 5 tg_no_taps || tg_problem "the tap stays"
ip link set brmac address 02:00:00:00:00:01
tg_hold tguser --br brmac -- "$TG_H"; tg_expect_grant
[ "$(mac_of brmac)" = 02:00:00:00:00:01 ] && [ "$(tg_read /sys/class/net/brmac/addr_assign_type)" = 3 ] ||
    tg_problem "brmac: $(mac_of brmac), addr_assign_type $(tg_read /sys/class/net/brmac/addr_assign_type)"
tg_release
tg_verdict "a bridge address set by hand stays (addr_assign_type 3)"
tg_wait 5 tg_no_taps || tg_problem "the tap stays"

tg_expect_nothing_left
tg_verdict "nothing left behind"
tg_elapsed
tg_done
