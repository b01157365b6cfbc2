# shellcheck shell=dash
# Sourced by the /init scripts of the tests/guest-kernel guests (vlan-init.sh,
# vlan-qemu-init.sh): mounts, the real ip/bridge/setpriv, the bridge and tun
# modules, and the reporting functions. Every result is a "TG: ok ..." or
# "TG: FAIL ..." line on the serial console; "TG: done ..." comes last,
# then the guest powers off.
/bin/busybox mkdir -p /proc /sys /dev /run /tmp
/bin/busybox --install -s /bin
export PATH=/usr/sbin:/usr/bin:/bin
# Debian's static busybox runs its own applets in preference to anything in
# PATH (a "standalone" shell), and its ip, setpriv lack what we need (bridge
# VLANs, --reuid): the real ones by their full paths. Functions beat applets.
ip() { /usr/sbin/ip "$@"; }
bridge() { /usr/sbin/bridge "$@"; }
setpriv() { /usr/bin/setpriv "$@"; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# /run is where the helper takes its quota lock; tmpfs as on a real system.
mount -t tmpfs -o mode=0755 run /run
mount -t tmpfs -o mode=1777 tmp /tmp

OKS=0
FAILS=0
say() { echo "TG: $*"; }
ok() { OKS=$((OKS + 1)); say "ok $*"; }
fail() { FAILS=$((FAILS + 1)); say "FAIL $*"; }
finish() {
    say "done ok=$OKS fail=$FAILS"
    # Give the console a moment to drain before the power goes.
    sleep 0.2
    poweroff -f
}
# check DESC CMD...: ok if CMD succeeds.
check() {
    desc=$1
    shift
    if "$@"; then ok "$desc"; else fail "$desc"; fi
}

for m in $(cat /modules/order); do
    insmod "/modules/$m.ko" || fail "insmod $m"
done
# devtmpfs creates the tun node 0600; distributions make it 0666, and the
# helper opens it as the calling user (with CAP_NET_ADMIN only).
if [ ! -c /dev/net/tun ]; then
    fail "no /dev/net/tun after loading the modules"
    finish
fi
chmod 0666 /dev/net/tun
ip link set lo up

# wait_for FILE PATTERN TENTHS [PID]: poll until FILE has a line matching
# PATTERN; give up after TENTHS tenths of a second, or once PID is gone.
wait_for() {
    i=0
    until grep -q "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        [ $i -le "$3" ] || return 1
        if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then
            grep -q "$2" "$1" 2>/dev/null
            return
        fi
        sleep 0.1
    done
}

# vlan_setup MORE-ACL MORE-CONF: br0 with VLAN filtering (the test ends
# without it) and the policy both guests test: tgalice and tgcarol are in
# tglab (VLAN 10); tgbob is in tglab too, but his own section wins (VLAN
# 20); anyone else gets the bridge's VLAN (30). MORE-ACL and MORE-CONF are
# added to bridge.conf and tapgate.conf; tapgate --check must accept them.
vlan_setup() {
    if ! ip link add br0 type bridge vlan_filtering 1 || ! ip link set br0 up; then
        fail "cannot create br0 with vlan_filtering 1 on $(uname -r)"
        finish
    fi
    check "br0 has vlan_filtering 1 ($(uname -r))" \
        [ "$(cat /sys/class/net/br0/bridge/vlan_filtering)" = 1 ]
    printf 'allow br0\n%s' "$1" > /etc/qemu/bridge.conf
    printf '[bridge br0]\nvlan = 30\n\n[bridge br0 group tglab]\nvlan = 10\n\n[bridge br0 user tgbob]\nvlan = 20\n%s' \
        "$2" > /etc/tapgate.conf
    chmod 0644 /etc/qemu/bridge.conf /etc/tapgate.conf
    if tapgate --check /etc/tapgate.conf >/run/check.out 2>&1; then
        ok "tapgate --check accepts /etc/tapgate.conf"
    else
        fail "tapgate --check /etc/tapgate.conf: $(cat /run/check.out)"
    fi
}

# check_port NAME TAP VID: TAP is a port of br0, up, with exactly one VLAN:
# VID, PVID, egress untagged (no VLAN 1 left over from joining the bridge).
vlan_of() {  # TAP: its VLAN lines, "VID FLAGS...", one a line
    bridge vlan show dev "$1" | sed 1d | sed "s/^$1//" | tr -s ' \t' ' ' |
        sed 's/^ //; s/ $//' | grep .
}
check_port() {
    if [ "$2" = none ]; then
        fail "$1: no tap to check"
        return
    fi
    master=$(basename "$(readlink "/sys/class/net/$2/master")")
    flags=$(cat "/sys/class/net/$2/flags")
    got=$(vlan_of "$2")
    if [ "$master" != br0 ]; then
        fail "$1: $2 is not a port of br0 (master: $master)"
    elif [ $((flags & 1)) -ne 1 ]; then
        fail "$1: $2 is not up (flags $flags)"
    elif [ "$got" != "$3 PVID Egress Untagged" ]; then
        fail "$1: $2 VLANs are '$(echo "$got" | tr '\n' ';')', want '$3 PVID Egress Untagged' only"
    else
        ok "$1: $2 on br0, up, VLAN $3 only (PVID, egress untagged)"
    fi
}
