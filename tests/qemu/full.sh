#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Real QEMU with real guests: Debian's kernel (the one in /boot) and a
# busybox initramfs built here with the virtio-net modules. Two guests, each
# with its own MAC, get their NICs through `-netdev bridge,br=br0` and a
# root-owned 4755 copy of the helper, QEMU running as the unprivileged test
# user. Each guest pings the bridge's address and the other guest and
# reports on its serial console; the host pings both guests. Skips
# without root, without a kernel in /boot or without busybox-static.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tg.sh"
tg_require_root
# busybox-static installs a static /bin/busybox; the guest has no libc.
tg_have_busybox || tg_skip "no static /bin/busybox (apt-get install busybox-static)"
tg_find_kernel || tg_skip "no kernel with modules in /boot (apt-get install linux-image-amd64)"

tg_isolate "$@"
tg_qemu_init
tg_qemu_helper
tg_note "guest kernel: $TG_KVER"
tg_clock_start

# --- guest kernel: an ELF vmlinux, cached in the build tree ---------------
tg_guest_kernel "${TAPGATE_BUILD_ROOT:+$TAPGATE_BUILD_ROOT/tests/qemu/guest}"
# QEMU runs as the test user: it must be able to read the kernel.
if ! tg_as "$TG_USER" test -r "$TG_VMLINUX"; then
    cp "$TG_VMLINUX" "$TG_QRUN/vmlinux"
    TG_VMLINUX=$TG_QRUN/vmlinux
fi
tg_note "kernel ready ($(tg_ms))"

# --- initramfs: busybox, /init, the virtio-net modules --------------------
TG_STAGE=$TG_ROOT/scratch/initramfs
mkdir -p "$TG_STAGE/bin" "$TG_STAGE/dev" "$TG_STAGE/modules"
cp "$TG_BUSYBOX" "$TG_STAGE/bin/busybox"
install -m 0755 "$here/full-init.sh" "$TG_STAGE/init"
mknod -m 0600 "$TG_STAGE/dev/console" c 5 1

tg_guest_modules virtio_pci virtio_net
# QEMU runs as the test user: the initramfs must be readable by it.
tg_guest_pack "$TG_QRUN/initrd.cpio"
chmod 0644 "$TG_INITRD"

# --- the network and the guests -------------------------------------------
tg_bridge br0
ip addr add 10.0.0.1/24 dev br0
tg_acl "allow br0"

# guest NAME IP MAC PING-LIST
guest() {
    local name=$1 ip=$2 mac=$3 ping=$4
    rm -f "$TG_QRUN/$name.log"
    tg_qemu_start "$name" -machine pc -m 256 -smp 1 -no-reboot \
        -kernel "$TG_VMLINUX" -initrd "$TG_INITRD" \
        -append "$TG_GUEST_CMDLINE tg_ip=$ip tg_ping=$ping" \
        -serial "file:$TG_QRUN/$name.log" \
        -netdev "bridge,id=n,br=br0,helper=$TG_H" \
        -device "virtio-net-pci,netdev=n,mac=$mac,romfile="
}
mac_a=52:54:00:7e:57:0a
mac_b=52:54:00:7e:57:0b
started=0
if guest ga 10.0.0.11 "$mac_a" 10.0.0.1,10.0.0.12; then
    started=$((started + 1))
else
    tg_fail "guest A: QEMU did not start"; tg_qemu_err ga
fi
if guest gb 10.0.0.12 "$mac_b" 10.0.0.1,10.0.0.11; then
    started=$((started + 1))
else
    tg_fail "guest B: QEMU did not start"; tg_qemu_err gb
fi
[ $started -eq 2 ] || tg_done

taps=$(tg_taps_on br0)
if [ "$(echo "$taps" | grep -c .)" -ne 2 ]; then
    tg_taps
    tg_fail "want two taps on br0, have: $TG_TAPS"
else
    for t in $taps; do tg_check_tap "$t" br0; done
fi

# A guest is finished when it says so, or when its QEMU is gone (a panic
# ends it: panic=-1 and -no-reboot).
guest_finished() {
    grep -q '^TG: done' "$TG_QRUN/$1.log" 2>/dev/null || tg_dead "$(tg_qemu_pid "$1")"
}
both_finished() { guest_finished ga && guest_finished gb; }
# Generous: two TCG guests share two cores with whatever else is running.
if ! tg_wait 90 both_finished; then
    tg_fail "guests did not finish within 90 s"
fi
tg_note "guests finished ($(tg_ms))"

host_ping() { "$TG_BUSYBOX" ping -c 1 -W 2 "$1" >/dev/null; }
check_guest() {  # NAME IP MAC PEER-IP
    local name=$1 log=$TG_QRUN/$1.log fails=$TG_FAILS
    tg_alive "$(tg_qemu_pid "$name")" || tg_fail "$name: QEMU exited early"
    tr -d '\r' < "$log" | grep '^TG: ' | sed "s/^/    $name: /" | tg_note
    tg_check "$name: up as $2 with MAC $3" grep -q "^TG: up $2 $3" "$log"
    tg_check "$name: pings the bridge (10.0.0.1)" grep -q '^TG: ping 10.0.0.1 ok' "$log"
    tg_check "$name: pings the other guest ($4)" grep -q "^TG: ping $4 ok" "$log"
    tg_check "$name: the host pings it" host_ping "$2"
    grep -q '^TG: FAIL' "$log" && tg_fail "$name reported a failure"
    if [ "$TG_FAILS" -ne "$fails" ]; then
        echo "$name: console log:" >&2
        tr -d '\r' < "$log" | sed 's/^/    | /' >&2
    fi
}
check_guest ga 10.0.0.11 "$mac_a" 10.0.0.12
check_guest gb 10.0.0.12 "$mac_b" 10.0.0.11

# Each guest is behind a tap of its own: the bridge learnt each MAC there.
fdb_port() { bridge fdb show br br0 | awk -v m="$1" '$1 == m { print $3; exit }'; }
port_a=$(fdb_port "$mac_a")
port_b=$(fdb_port "$mac_b")
own_taps() { [ -n "$port_a" ] && [ -n "$port_b" ] && [ "$port_a" != "$port_b" ]; }
tg_check "br0 learnt guest A on ${port_a:-?}, guest B on ${port_b:-?}" own_taps

tg_qemu_stop ga || tg_fail "guest A's QEMU would not exit"
tg_qemu_stop gb || tg_fail "guest B's QEMU would not exit"
tg_check "taps gone after QEMU exits" tg_wait 5 tg_no_taps
tg_note "total $(tg_ms)"
tg_done
