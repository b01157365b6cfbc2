# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=dash
# Sourced by the /init scripts of the tests/guest-kernel guests (vlan-init.sh,
# vlan-qemu-init.sh, macrange-init.sh): mounts, the real ip/bridge/setpriv,
# the modules, the reporting functions, and QEMU as a user. Every result is a "TG: ok ..."
# or "TG: FAIL ..." line on the serial console; "TG: done ..." comes last,
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

# Taps on br0, one a line.
br0_taps() {
    for t in /sys/class/net/*/tun_flags; do
        [ -e "$t" ] || continue
        t=${t%/tun_flags}
        [ "$(basename "$(readlink "$t/master")")" = br0 ] && basename "$t"
    done
}

# qemu_start NAME USER PORT: QEMU as USER, its UDP netdev receiving on
# 127.0.0.1:PORT+1 and sending to 127.0.0.1:PORT (udpguest's end).
# Daemonized: it returns once the netdevs, so the helper, are done. Sets
# NAME_tap (the tap that appeared on br0) and NAME_pid.
qemu_start() {
    name=$1 user=$2 port=$3
    before=$(br0_taps | tr '\n' ' ')
    t=$(cut -d' ' -f1 /proc/uptime)
    # tb-size: TCG's default code buffer (1 GiB) is more than this guest's
    # memory, and with -machine none no code is ever translated.
    if setpriv --reuid="$user" --regid="$user" --init-groups -- \
            /usr/bin/qemu-system-x86_64 -nodefaults -no-user-config -display none \
            -machine none -accel tcg,tb-size=4 \
            -daemonize -pidfile "/tmp/$name.pid" \
            -netdev "socket,id=u,udp=127.0.0.1:$port,localaddr=127.0.0.1:$((port + 1))" \
            -netdev bridge,id=n,br=br0,helper=/bin/tapgate \
            -netdev hubport,id=p0,hubid=0,netdev=u \
            -netdev hubport,id=p1,hubid=0,netdev=n 2> "/tmp/$name.err"; then
        pid=$(cat "/tmp/$name.pid")
        tap=
        for x in $(br0_taps); do
            case " $before " in *" $x "*) ;; *) tap=$x ;; esac
        done
        uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
        ok "$name: QEMU (pid $pid, uid $uid) as $user got tap '${tap:-none}' in $(awk -v t="$t" '{ printf "%.2f", $1 - t }' /proc/uptime) s"
        check "$name: QEMU runs as $user" [ "$uid" = "$(id -u "$user")" ]
    else
        pid='' tap=none
        fail "$name: QEMU as $user did not start: $(tr '\n' ' ' < "/tmp/$name.err")"
    fi
    eval "${name}_tap=${tap:-none} ${name}_pid=$pid"
}

# qemu_stop NAME...: ends those QEMUs (qemu_start); every tap on br0 must
# be gone with them.
qemu_stop() {
    for n; do
        eval "pid=\$${n}_pid"
        [ -n "$pid" ] && kill -TERM "$pid"
    done
    i=0
    while [ -n "$(br0_taps)" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    check "all taps gone once the QEMUs exit" [ -z "$(br0_taps)" ]
}

# ug_run GUEST...: udpguest with those guests and the commands on stdin;
# its output on the console and in /run/ug.out, for ug_expect.
ug_run() {
    udpguest "$@" > /run/ug.out 2> /run/ug.err
    rc=$?
    sed 's/^/TG:   udpguest: /' /run/ug.out /run/ug.err
    check "udpguest ran to the end (status $rc)" [ "$rc" = 0 ]
}

# ug_expect LINE-PREFIX REST DESC: udpguest's output (/run/ug.out) has the
# line "LINE-PREFIX REST..." (a prefix match on the whole line).
ug_expect() {
    if grep -q "^$1 $2" /run/ug.out; then
        ok "$3"
    else
        fail "$3: want '$1 $2', got '$(grep "^$1 " /run/ug.out)'"
    fi
}
