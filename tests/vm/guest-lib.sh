# shellcheck shell=dash
# Sourced by the /init scripts of the tests/vm guests (guest-init.sh,
# guest-qemu.sh): mounts, the real ip/bridge/setpriv, the bridge and tun
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
