#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=dash
# /init of the real-QEMU VLAN test guest (tests/guest-kernel/vlan-qemu.sh builds the
# initramfs). Three QEMUs with no guest (`-machine none`) run as tgalice,
# tgcarol (VLAN 10, group tglab) and tgbob (VLAN 20), each with
# `-netdev bridge,br=br0,helper=/bin/tapgate` hubbed to a UDP socket netdev
# on 127.0.0.1; /bin/udpguest plays the three guests on the UDP side. Same
# VLAN: ARP and ping both ways; different VLANs: no ARP reply, no frame of
# one seen by the other. Every result is a "TG: ok/FAIL ..." line on the
# serial console; the host's timeout ends QEMU if this hangs.
# shellcheck disable=SC2154  # A_tap, ... are set through eval
. /init-lib.sh

vlan_setup '' ''

T0=$(cut -d' ' -f1 /proc/uptime)
qemu_start A tgalice 10010   # VLAN 10 (group tglab)
qemu_start C tgcarol 10030   # VLAN 10 (group tglab)
qemu_start B tgbob 10020     # VLAN 20 (user section beats group)
say "QEMUs up after $(cut -d' ' -f1 /proc/uptime) s (began at $T0)"

# --- what the kernel says -------------------------------------------------
check_port A "$A_tap" 10
check_port C "$C_tap" 10
check_port B "$B_tap" 20
bridge vlan show | sed 's/^/TG:   | /'
tapgate --list 2>&1 | sed 's/^/TG:   list: /'

# --- the data path --------------------------------------------------------
# A 10.0.0.1, B 10.0.0.2, C 10.0.0.3: one subnet, only the VLANs part them.
# MACs 52:54:00:74:67:01 (A), :02 (C), :03 (B).
ug_run A:10010:10011:10.0.0.1 C:10030:10031:10.0.0.3 B:10020:10021:10.0.0.2 <<'CMDS'
ping A C 10000
ping C A 5000
ping A B 2000
ping B A 2000
ping B C 2000
bcast A a-bcast
bcast C c-bcast
bcast B b-bcast
serve 1000
marker C a-bcast
marker A c-bcast
marker B a-bcast
marker B c-bcast
marker A b-bcast
marker C b-bcast
heard C A
heard A C
heard B A
heard B C
heard A B
heard C B
stats A
stats B
stats C
CMDS
ug_expect "ping A C" "ok arp=52:54:00:74:67:02 " "same VLAN 10: alice's guest pings carol's (ARP + ICMP echo)"
ug_expect "ping C A" "ok arp=52:54:00:74:67:01 " "same VLAN 10: carol's guest pings alice's"
ug_expect "ping A B" "fail no ARP reply" "VLAN 10 -> 20: alice's guest gets no ARP reply from bob's"
ug_expect "ping B A" "fail no ARP reply" "VLAN 20 -> 10: bob's guest gets no ARP reply from alice's"
ug_expect "ping B C" "fail no ARP reply" "VLAN 20 -> 10: bob's guest gets no ARP reply from carol's"
ug_expect "marker C a-bcast" "1$" "carol's guest hears alice's broadcast once"
ug_expect "marker A c-bcast" "1$" "alice's guest hears carol's broadcast once"
ug_expect "marker B a-bcast" "0$" "bob's guest does not hear alice's broadcast"
ug_expect "marker B c-bcast" "0$" "bob's guest does not hear carol's broadcast"
ug_expect "marker A b-bcast" "0$" "alice's guest does not hear bob's broadcast"
ug_expect "marker C b-bcast" "0$" "carol's guest does not hear bob's broadcast"
ug_expect "heard B A" "frames=0 " "bob's guest never saw a frame from alice's"
ug_expect "heard B C" "frames=0 " "bob's guest never saw a frame from carol's"
ug_expect "heard A B" "frames=0 " "alice's guest never saw a frame from bob's"
ug_expect "heard C B" "frames=0 " "carol's guest never saw a frame from bob's"

# The bridge learnt each guest's MAC behind its QEMU's tap, in its VLAN:
# the frames really went through the taps tapgate made.
learnt() {  # MAC TAP VID
    if bridge fdb show br br0 | grep -q "^$1 dev $2 vlan $3 "; then
        ok "br0 learnt $1 on $2 in VLAN $3"
    else
        fail "br0 did not learn $1 on $2 in VLAN $3: $(bridge fdb show br br0 | grep "^$1" | tr '\n' ';')"
    fi
}
learnt 52:54:00:74:67:01 "$A_tap" 10
learnt 52:54:00:74:67:02 "$C_tap" 10
learnt 52:54:00:74:67:03 "$B_tap" 20

# Control: the same path into bob's QEMU carries frames once his tap is in
# VLAN 10 (root moves it), so the isolation above came from the VLANs and
# not from a dead path.
if [ "$B_tap" != none ] && bridge vlan add dev "$B_tap" vid 10 pvid untagged &&
        bridge vlan del dev "$B_tap" vid 20; then
    ug_run A:10010:10011:10.0.0.1 C:10030:10031:10.0.0.3 B:10020:10021:10.0.0.2 <<'CMDS'
ping A B 5000
CMDS
    ug_expect "ping A B" "ok arp=52:54:00:74:67:03 " "control: with bob's tap moved to VLAN 10, alice's guest pings bob's"
else
    fail "control: could not move $B_tap to VLAN 10"
fi

# --- QEMU exits, its tap goes -------------------------------------------
qemu_stop A C B
say "finished after $(cut -d' ' -f1 /proc/uptime) s"
finish
