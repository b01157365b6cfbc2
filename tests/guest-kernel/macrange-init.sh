#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=dash
# /init of the guest MAC range test guest (tests/guest-kernel/macrange.sh
# builds the initramfs). Debian's kernel has tc flower and gact, which the
# host's may lack. Three QEMUs with no guest (`-machine none`) run as
# tgalice (her own range), tgcarol (her group's range) and tgbob (any),
# each with `-netdev bridge,br=br0,helper=/bin/tapgate` hubbed to a UDP
# socket netdev; /bin/udpguest plays their guests, forging source
# addresses on command. br0 has a veth uplink whose far end, gw1, is the
# gateway (10.0.0.254). A frame from inside the sender's range reaches the
# others; one from another guest's address, the gateway's, or just past
# the range, tagged or not, reaches nobody and moves nothing in br0's
# forwarding table; bob's unfiltered guest, forging the same addresses, is
# the control. Every result is a "TG: ok/FAIL ..." line on the serial
# console; the host's timeout ends QEMU if this hangs.
# shellcheck disable=SC2154  # A_tap, ... are set through eval
. /init-lib.sh
# Debian's busybox has a tc applet of its own, which knows no flower.
tc() { /usr/sbin/tc "$@"; }

syslogd -n -O /run/messages &
# No IPv6 on the links to come: the gateway must send nothing of its own
# (router solicitations, MLD reports), or br0 could learn its address back
# on the uplink between a forged frame and the look at br0's table.
echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6
echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6

if ! ip link add br0 type bridge || ! ip link set br0 up; then
    fail "cannot create br0"
    finish
fi
if ! { ip link add gw0 type veth peer name gw1 && ip link set gw0 master br0 && ip link set gw0 up &&
        ip addr add 10.0.0.254/24 dev gw1 && ip link set gw1 up; }; then
    fail "cannot make the uplink gw0/gw1"
fi
# The gateway is gw1 alone: br0's own side, in the same network namespace,
# would otherwise answer ARP for the address too.
echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore
GW=$(cat /sys/class/net/gw1/address)
say "gateway 10.0.0.254 is $GW, behind gw0"

printf 'allow br0\n' > /etc/qemu/bridge.conf
cat > /etc/tapgate.conf <<'EOF'
[bridge br0]
guest_mac = 52:54:00:ee:00:00/40

[bridge br0 group tglab]
guest_mac = 52:54:00:c3:00:00/ff:ff:ff:ff:ff:00

[bridge br0 user tgalice]
guest_mac = 52:54:00:a1:00:00/40

[bridge br0 user tgbob]
guest_mac = any
EOF
chmod 0644 /etc/qemu/bridge.conf /etc/tapgate.conf
if tapgate --check /etc/tapgate.conf > /run/check.out 2>&1; then
    ok "tapgate --check accepts /etc/tapgate.conf"
else
    fail "tapgate --check /etc/tapgate.conf: $(cat /run/check.out)"
fi

T0=$(cut -d' ' -f1 /proc/uptime)
qemu_start A tgalice 10010   # 52:54:00:a1:00:00/40 (her section beats her group's)
qemu_start C tgcarol 10030   # 52:54:00:c3:00:00/40 (group tglab)
qemu_start B tgbob 10020     # any (his section lifts his group's range)
say "QEMUs up after $(cut -d' ' -f1 /proc/uptime) s (began at $T0)"

# --- what the kernel says -----------------------------------------------------
# filters NAME TAP RANGE: TAP has the ingress filter tapgate installs:
# RANGE passes, the rest is dropped.
filters() {
    tc filter show dev "$2" ingress > "/run/$1.tc" 2>&1
    sed "s/^/TG:   $1 tc: /" "/run/$1.tc"
    if grep -q "src_mac $3" "/run/$1.tc" && grep -q "gact action pass" "/run/$1.tc" &&
            grep -q "gact action drop" "/run/$1.tc"; then
        ok "$1: $2 has the filter: from $3, pass; else, drop"
    else
        fail "$1: $2 lacks the filter for $3"
    fi
}
filters A "$A_tap" 52:54:00:a1:00:00/
filters C "$C_tap" 52:54:00:c3:00:00/
check "B: $B_tap (guest_mac = any) has no ingress qdisc" [ -z "$(tc qdisc show dev "$B_tap" ingress)" ]

# --- the data path --------------------------------------------------------------
# A 10.0.0.1, C 10.0.0.3, B 10.0.0.2, each with a MAC of its range.
A_MAC=52:54:00:a1:00:01 C_MAC=52:54:00:c3:00:01 B_MAC=52:54:00:b2:00:01
GUESTS="A:10010:10011:10.0.0.1:$A_MAC C:10030:10031:10.0.0.3:$C_MAC B:10020:10021:10.0.0.2:$B_MAC"
# shellcheck disable=SC2086  # GUESTS is a list
ug_run $GUESTS <<CMDS
ping A C 10000
ping C A 5000
ping A 10.0.0.254 5000
ping C B 5000
bcast A a-own
bcast A a-range 52:54:00:a1:00:fe
bcast A a-edge 52:54:00:a1:01:00
bcast A a-carol $C_MAC
bcast A a-gw $GW
bcast A a-tagged $C_MAC 7
bcast C c-own
bcast C c-alice $A_MAC
bcast C c-edge 52:54:00:c2:ff:ff
serve 1000
marker B a-own
marker C a-range
marker B a-edge
marker C a-edge
marker B a-carol
marker C a-carol
marker B a-gw
marker C a-gw
marker B a-tagged
marker C a-tagged
marker A c-own
marker A c-alice
marker B c-alice
marker A c-edge
marker B c-edge
CMDS
ug_expect "ping A C" "ok arp=$C_MAC " "in range: alice's guest pings carol's (ARP + ICMP echo)"
ug_expect "ping C A" "ok arp=$A_MAC " "in range: carol's guest pings alice's"
ug_expect "ping A 10.0.0.254" "ok arp=$GW " "in range: alice's guest pings the gateway"
ug_expect "ping C B" "ok arp=$B_MAC " "carol's guest pings bob's"
ug_expect "marker B a-own" "1$" "alice's guest, from its own address: heard"
ug_expect "marker C a-range" "1$" "alice's guest, from another address of her range: heard"
for m in a-edge a-carol a-gw a-tagged; do
    for who in B C; do
        ug_expect "marker $who $m" "0$" "alice's guest forging a source ($m): $who never hears it"
    done
done
ug_expect "marker A c-own" "1$" "carol's guest, from its own address: heard"
for m in c-alice c-edge; do
    for who in A B; do
        ug_expect "marker $who $m" "0$" "carol's guest forging a source ($m): $who never hears it"
    done
done

# fdb MAC PORT DESC: br0's forwarding table has MAC behind PORT.
fdb() {
    if bridge fdb show br br0 | grep -q "^$1 dev $2 "; then
        ok "$3: br0 has $1 on $2"
    else
        fail "$3: br0 has $1 on '$(bridge fdb show br br0 | grep "^$1 " | tr '\n' ';')', want $2"
    fi
}
fdb "$C_MAC" "$C_tap" "carol's address stays with her guest"
fdb "$A_MAC" "$A_tap" "alice's address stays with her guest"
fdb "$GW" gw0 "the gateway's address stays on the uplink"
fdb 52:54:00:a1:00:fe "$A_tap" "the other address of alice's range was learnt"
if bridge fdb show br br0 | grep -q "^52:54:00:a1:01:00 "; then
    fail "the address just past alice's range was learnt"
else
    ok "the address just past alice's range was never learnt"
fi
# drops NAME TAP N: the drop filter on TAP dropped N frames (those forged
# above, and nothing else the guest sent).
drops() {
    got=$(tc -s filter show dev "$2" ingress | sed -n 's/.*(dropped \([0-9]*\),.*/\1/p' | sort -n | tail -n 1)
    check "$1: the filter on $2 dropped $3 frames (${got:-none})" [ "$got" = "$3" ]
}
drops A "$A_tap" 4
drops C "$C_tap" 2

# --- the control: bob's guest, unfiltered --------------------------------------
# The same forgeries through a tap without a range go through, and take the
# addresses over in br0's table: what the filter above prevented.
# shellcheck disable=SC2086
ug_run $GUESTS <<CMDS
bcast B b-carol $C_MAC
bcast B b-gw $GW
bcast B b-tagged $C_MAC 7
serve 1000
marker A b-carol
marker C b-gw
marker A b-tagged
CMDS
ug_expect "marker A b-carol" "1$" "control: bob's unfiltered guest, forging carol's address, is heard"
ug_expect "marker C b-gw" "1$" "control: bob's unfiltered guest, forging the gateway's address, is heard"
ug_expect "marker A b-tagged" "1$" "control: a tagged forged frame crosses br0 from an unfiltered tap"
fdb "$GW" "$B_tap" "control: bob's forged frame took the gateway's address"

# --- what tapgate reports -----------------------------------------------------------
tapgate --explain --br=br0 --user=tgcarol > /run/explain.out 2>&1
sed 's/^/TG:   explain: /' /run/explain.out
check "--explain for tgcarol: her group's addresses" \
    grep -q "^guests send from 52:54:00:c3:00:00 to 52:54:00:c3:00:ff; " /run/explain.out
check "--explain for tgcarol: this kernel has what it takes, a request would be granted" \
    grep -q "^a request would be granted" /run/explain.out
if wait_for /run/messages "granted: user=tgalice .* guest_mac=52:54:00:a1:00:00/40$" 20 &&
        grep -q "granted: user=tgbob .*rule=[^ ]*$" /run/messages; then
    ok "syslog: tgalice's grant names her range, tgbob's none"
else
    fail "syslog: $(grep tapgate /run/messages | tr '\n' ';')"
fi

# --- QEMU exits, its tap goes -------------------------------------------------------
qemu_stop A C B
say "finished after $(cut -d' ' -f1 /proc/uptime) s"
finish
