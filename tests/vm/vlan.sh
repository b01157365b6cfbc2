#!/bin/bash
# VLANs from tapgate.conf, verified inside a QEMU (TCG) guest running
# Debian's kernel: the kernels our tests and CI run on may lack bridge VLAN
# filtering altogether ("Operation not supported"), Debian's has it.
#
# The host builds an initramfs at test time: static busybox, the bridge and
# tun modules of the /boot kernel, the helper under test installed root-owned
# 4755 as /bin/tapgate, tg-spawn and tapio (tests/vm/tapio.cpp) with the
# shared libraries ldd names, iproute2's ip and bridge (busybox ip cannot
# show bridge VLANs), setpriv, and a passwd/group with the test users.
# tests/vm/guest-init.sh runs the checks as /init and reports "TG: ok" /
# "TG: FAIL" lines on the serial console, which this script reads once the
# guest has powered off.
#
# Skips (77) without root, a kernel with modules in /boot, static busybox,
# QEMU, or the tools to copy in; with CI set, those are failures instead.
# Environment: TAPGATE_BUILD_ROOT (helper/tapgate), TG_SPAWN, TAPIO,
# HELPER (another helper binary to test), QEMU, PYTHON.
here=$(cd "$(dirname "$0")" && pwd)
missing() {
    if [ -n "${CI:-}" ]; then
        echo "FAIL: $* (CI is set: this test must run)" >&2
        exit 1
    fi
    echo "SKIP: $*"
    exit 77
}
[ "$(id -u)" -eq 0 ] || missing "needs root (namespaces, a root-owned setuid helper in the initramfs)"

qemu=${QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null || missing "no $qemu (apt-get install qemu-system-x86)"
busybox=/bin/busybox
if [ ! -x "$busybox" ] || ! ldd "$busybox" 2>&1 | grep -q 'not a dynamic executable'; then
    missing "no static /bin/busybox (apt-get install busybox-static)"
fi
kver=
for k in $(printf '%s\n' /boot/vmlinuz-* | sort -V -r); do
    v=${k#/boot/vmlinuz-}
    if [ -f "/lib/modules/$v/modules.dep" ]; then kver=$v; break; fi
done
[ -n "$kver" ] || missing "no kernel with modules in /boot (apt-get install linux-image-amd64)"
grep -q '^CONFIG_BRIDGE_VLAN_FILTERING=y' "/boot/config-$kver" 2>/dev/null ||
    missing "kernel $kver: no CONFIG_BRIDGE_VLAN_FILTERING=y in /boot/config-$kver"

build=${TAPGATE_BUILD_ROOT:-}
helper=${HELPER:-$build/helper/tapgate}
spawn=${TG_SPAWN:-$build/tests/integration/tg-spawn}
tapio=${TAPIO:-$build/tests/vm/tapio}
for f in "$helper" "$spawn" "$tapio"; do
    [ -x "$f" ] || missing "not built: '$f' (set TAPGATE_BUILD_ROOT, or HELPER, TG_SPAWN, TAPIO)"
done
if ! ip_bin=$(command -v ip) || ! bridge_bin=$(command -v bridge); then
    missing "no ip/bridge (apt-get install iproute2)"
fi
setpriv_bin=$(command -v setpriv) || missing "no setpriv (apt-get install util-linux)"

. "$here/../lib/ns.sh"
# Only for a private scratch tmpfs that vanishes however the test ends: the
# network under test lives in the guest.
tg_isolate "$@"
t0=${EPOCHREALTIME/./}
ms() { echo "$(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms"; }
echo "guest kernel: $kver; helper under test: $helper"

# --- guest kernel: ELF vmlinux (PVH entry, no self-decompression under TCG)
vmlinuz=/boot/vmlinuz-$kver
key=$kver-$(stat -c '%s-%Y' "$vmlinuz")
cache=${build:+$build/tests/vm/guest}
[ -n "$cache" ] || cache=$TG_ROOT/scratch
vmlinux=$cache/vmlinux-$key
if [ -f "$vmlinux" ]; then
    :
elif mkdir -p "$cache" &&
        "${PYTHON:-python3}" "$here/../qemu/extract_vmlinux.py" "$vmlinuz" "$vmlinux.tmp.$$"; then
    mv "$vmlinux.tmp.$$" "$vmlinux"
    for f in "$cache"/vmlinux-*; do   # older kernels' (not others' .tmp files)
        case $f in "$vmlinux"|*.tmp.*) ;; *) rm -f "$f" ;; esac
    done
else
    rm -f "$vmlinux.tmp.$$"
    echo "note: could not unpack $vmlinuz; booting it as it is (slower)"
    vmlinux=$vmlinuz
fi
echo "kernel ready ($(ms))"

# --- initramfs --------------------------------------------------------------
stage=$TG_ROOT/scratch/initramfs
mkdir -p "$stage"/{bin,dev,etc/qemu,modules,proc,sys,run,tmp,usr/bin,usr/sbin}
# The helper vets its config files' directories: none may be writable by
# anyone but root (cpio -R 0:0 makes everything root's).
chmod 0755 "$stage" "$stage/etc" "$stage/etc/qemu"
cp "$busybox" "$stage/bin/busybox"
install -m 0755 "$here/guest-init.sh" "$stage/init"
mknod -m 0600 "$stage/dev/console" c 5 1

# copy_exe SRC DEST [MODE]: SRC at DEST in the guest, with the shared
# libraries (and the loader) ldd finds, each at the path ldd shows (a path
# the guest's loader searches by default). Debug info is left out when
# strip is there: it is most of a debugoptimized build's size, and every
# byte of the initramfs is copied and unpacked under TCG.
copy_exe() {
    local lib src=$1
    if command -v strip >/dev/null &&
            strip --strip-debug -o "$TG_ROOT/scratch/stripped" "$1" 2>/dev/null; then
        src=$TG_ROOT/scratch/stripped
    fi
    install -m "${3:-0755}" "$src" "$stage$2" || return 1
    for lib in $(ldd "$1" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
        [ -e "$stage$lib" ] && continue
        mkdir -p "$stage$(dirname "$lib")"
        cp -L "$lib" "$stage$lib" || return 1
    done
}
if ! { copy_exe "$helper" /bin/tapgate 4755 &&
        copy_exe "$spawn" /bin/tg-spawn &&
        copy_exe "$tapio" /bin/tapio &&
        copy_exe "$ip_bin" /usr/sbin/ip &&
        copy_exe "$bridge_bin" /usr/sbin/bridge &&
        copy_exe "$setpriv_bin" /usr/bin/setpriv; }; then
    tg_fail "could not copy the programs into the initramfs"
    tg_done
fi

# Users and groups as in tests/lib/ns.sh, plus tgcarol: a second member of
# tglab, so that two users share the group's VLAN.
cat > "$stage/etc/passwd" <<EOF
root:x:0:0:root:/:/bin/sh
$TG_USER:x:$TG_UID:$TG_UID::/tmp:/bin/sh
$TG_ALICE:x:$TG_ALICE_UID:$TG_ALICE_UID::/tmp:/bin/sh
$TG_BOB:x:$TG_BOB_UID:$TG_BOB_UID::/tmp:/bin/sh
tgcarol:x:4245:4245::/tmp:/bin/sh
EOF
cat > "$stage/etc/group" <<EOF
root:x:0:
$TG_USER:x:$TG_UID:
$TG_ALICE:x:$TG_ALICE_UID:
$TG_BOB:x:$TG_BOB_UID:
tgcarol:x:4245:
$TG_LAB:x:$TG_LAB_GID:$TG_ALICE,$TG_BOB,tgcarol
EOF
printf 'passwd: files\ngroup: files\n' > "$stage/etc/nsswitch.conf"
chmod 0644 "$stage"/etc/{passwd,group,nsswitch.conf}

# The bridge and tun modules with their dependencies, in load order, from
# modules.dep (each line lists what the module needs; loading those from
# last to first works). Built-in ones are left out.
moddir=/lib/modules/$kver
order=()
add_module() {  # NAME PATH: copy (decompressed) into the initramfs, once
    local m
    for m in "${order[@]}"; do [ "$m" = "$1" ] && return 0; done
    case $2 in
        *.ko) cp "$2" "$stage/modules/$1.ko" ;;
        *.ko.xz) "$busybox" xzcat "$2" > "$stage/modules/$1.ko" ;;
        *.ko.gz) "$busybox" zcat "$2" > "$stage/modules/$1.ko" ;;
        *.ko.zst) zstd -dcq "$2" > "$stage/modules/$1.ko" ;;
        *) echo "unknown module format: $2" >&2; return 1 ;;
    esac || return 1
    order+=("$1")
}
want_module() {  # NAME
    local line path deps d i
    line=$(grep -E "/$1\.ko(\.[a-z]+)?:" "$moddir/modules.dep")
    if [ -z "$line" ]; then
        grep -qE "/$1\.ko\$" "$moddir/modules.builtin" && return 0
        echo "module $1 is neither in modules.dep nor built in" >&2
        return 1
    fi
    path=${line%%:*}
    read -r -a deps <<<"${line#*:}"
    for (( i = ${#deps[@]} - 1; i >= 0; i-- )); do
        d=$(basename "${deps[i]}")
        add_module "${d%%.ko*}" "$moddir/${deps[i]}" || return 1
    done
    add_module "$1" "$moddir/$path"
}
if ! want_module bridge || ! want_module tun; then
    tg_fail "could not collect the bridge and tun modules of $kver"
    tg_done
fi
printf '%s\n' "${order[@]}" > "$stage/modules/order"
echo "guest modules: ${order[*]:-(all built in)}"

# Uncompressed: decompressing under TCG costs more than reading the bytes.
initrd=$TG_ROOT/scratch/initrd.cpio
( cd "$stage" && find . | "$busybox" cpio -o -H newc -R 0:0 ) > "$initrd" 2>/dev/null
echo "initramfs ready: $(( $(stat -c %s "$initrd") / 1024 )) KiB ($(ms))"

# --- the guest --------------------------------------------------------------
# Under TCG every boot step costs; these skip work a throwaway guest does not
# need (CPU bug mitigations, crypto self-tests, timer and keyboard probing,
# spare UARTs). panic=-1 with -no-reboot ends QEMU on a panic; the guest
# powers off when done.
cmdline="console=ttyS0 quiet panic=-1 rdinit=/init mitigations=off cryptomgr.notests"
cmdline+=" no_timer_check tsc=reliable i8042.noaux i8042.nokbd 8250.nr_uarts=1"
log=$TG_ROOT/scratch/console.log
budget=${TG_VM_TIMEOUT:-100}
qpid=
# shellcheck disable=SC2317  # called by the EXIT trap
stop_qemu() {
    if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
        kill -TERM "$qpid" 2>/dev/null
        sleep 1
        kill -KILL "$qpid" 2>/dev/null
    fi
}
trap stop_qemu EXIT
trap 'exit 143' TERM INT HUP
# timeout bounds the guest even if this shell is killed outright (it then
# signals QEMU itself).
timeout -k 5 "$budget" "$qemu" -nodefaults -no-user-config -display none \
    -machine pc,accel=tcg -m 512 -smp 1 -no-reboot \
    -kernel "$vmlinux" -initrd "$initrd" -append "$cmdline" \
    -serial "file:$log" 2> "$TG_ROOT/scratch/qemu.err" &
qpid=$!
wait "$qpid"
rc=$?
qpid=
echo "guest finished, QEMU status $rc ($(ms))"
[ "$rc" -eq 124 ] && tg_fail "the guest did not finish within $budget s"
[ -s "$TG_ROOT/scratch/qemu.err" ] && sed 's/^/    qemu stderr: /' "$TG_ROOT/scratch/qemu.err" >&2

# --- results ----------------------------------------------------------------
tr -d '\r' < "$log" > "$log.txt"
grep '^TG: ' "$log.txt" | sed 's/^TG: /    /'
oks=$(grep -c '^TG: ok ' "$log.txt")
fails=$(grep -c '^TG: FAIL ' "$log.txt")
if ! grep -q '^TG: done ' "$log.txt"; then
    tg_fail "the guest did not report 'TG: done' (crashed, hung, or never booted)"
fi
[ "$fails" -eq 0 ] || tg_fail "the guest reported $fails failure(s)"
[ "$oks" -gt 0 ] || tg_fail "the guest reported no passing checks"
if [ "$TG_FAILS" -ne 0 ]; then
    echo "guest console:" >&2
    sed 's/^/    | /' "$log.txt" >&2
else
    tg_pass "guest: $oks checks passed"
fi
echo "total $(ms)"
tg_done
