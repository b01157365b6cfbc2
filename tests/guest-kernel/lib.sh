# shellcheck shell=bash disable=SC2034,SC2154  # sets and uses the sourcing script's variables
# Shared by the tests that run inside a QEMU (TCG) guest with Debian's
# kernel (vlan.sh, vlan-qemu.sh). Source it with $here set to tests/guest-kernel;
# then, in order:
#   vm_prereqs                  skip (77) unless root, QEMU, static busybox,
#                               a /boot kernel with bridge VLAN filtering,
#                               iproute2 and setpriv are there (sets qemu,
#                               busybox, kver, ip_bin, bridge_bin, setpriv_bin)
#   tg_isolate "$@"             (tests/lib/ns.sh: a private scratch tmpfs)
#   vm_kernel                   the guest kernel, unpacked and cached (vmlinux)
#   vm_stage INIT               a staging tree with busybox, INIT as /init,
#                               init-lib.sh, the test users (stage)
#   copy_exe SRC DEST [MODE]    programs (with their shared libraries)
#   vm_modules MODULE...        kernel modules with their dependencies
#   vm_pack                     the initramfs (initrd)
#   vm_boot [MEM-MB]            boots it; the guest powers off when done
#   vm_results                  "TG: ok/FAIL" lines from its serial console
# Environment: TAPGATE_BUILD_ROOT (helper/tapgate), HELPER (another helper
# binary to test), QEMU, PYTHON, TG_VM_TIMEOUT (the guest's budget, s).
# With CI set, a missing prerequisite is a failure instead of a skip.

. "$here/../lib/guest.sh"

missing() {
    if [ -n "${CI:-}" ]; then
        echo "FAIL: $* (CI is set: this test must run)" >&2
        exit 1
    fi
    echo "SKIP: $*"
    exit 77
}

vm_prereqs() {
    [ "$(id -u)" -eq 0 ] || missing "needs root (namespaces, a root-owned setuid helper in the initramfs)"
    qemu=${QEMU:-qemu-system-x86_64}
    command -v "$qemu" >/dev/null || missing "no $qemu (apt-get install qemu-system-x86)"
    guest_have_busybox || missing "no static /bin/busybox (apt-get install busybox-static)"
    guest_find_kernel || missing "no kernel with modules in /boot (apt-get install linux-image-amd64)"
    grep -q '^CONFIG_BRIDGE_VLAN_FILTERING=y' "/boot/config-$kver" 2>/dev/null ||
        missing "kernel $kver: no CONFIG_BRIDGE_VLAN_FILTERING=y in /boot/config-$kver"
    build=${TAPGATE_BUILD_ROOT:-}
    helper=${HELPER:-$build/helper/tapgate}
    [ -x "$helper" ] || missing "not built: '$helper' (set TAPGATE_BUILD_ROOT or HELPER)"
    if ! ip_bin=$(command -v ip) || ! bridge_bin=$(command -v bridge); then
        missing "no ip/bridge (apt-get install iproute2)"
    fi
    setpriv_bin=$(command -v setpriv) || missing "no setpriv (apt-get install util-linux)"
}

# After tg_isolate.
vm_start_clock() { guest_start_clock; }
ms() { guest_ms; }

# --- guest kernel (tests/lib/guest.sh), cached in the build tree -----------
vm_kernel() {
    guest_kernel "${build:+$build/tests/guest-kernel/guest}"
    echo "kernel ready ($(ms))"
}

# vm_stage INIT: the skeleton of the initramfs, INIT as /init.
vm_stage() {
    stage=$TG_ROOT/scratch/initramfs
    mkdir -p "$stage"/{bin,dev,etc/qemu,modules,proc,sys,run,tmp,usr/bin,usr/sbin}
    # The helper vets its config files' directories: none may be writable by
    # anyone but root (cpio -R 0:0 makes everything root's).
    chmod 0755 "$stage" "$stage/etc" "$stage/etc/qemu"
    cp "$busybox" "$stage/bin/busybox"
    install -m 0755 "$1" "$stage/init"
    install -m 0644 "$here/init-lib.sh" "$stage/init-lib.sh"
    mknod -m 0600 "$stage/dev/console" c 5 1

    # Users and groups as in tests/lib/ns.sh, plus tgcarol: a second member
    # of tglab, so that two users share the group's VLAN.
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
}

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
    mkdir -p "$stage$(dirname "$2")"
    install -m "${3:-0755}" "$src" "$stage$2" || return 1
    for lib in $(ldd "$1" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
        [ -e "$stage$lib" ] && continue
        mkdir -p "$stage$(dirname "$lib")"
        if command -v strip >/dev/null &&
                strip --strip-debug -o "$stage$lib" "$lib" 2>/dev/null; then
            continue
        fi
        cp -L "$lib" "$stage$lib" || return 1
    done
}

vm_modules() { guest_modules "$@"; }
vm_pack() { guest_pack "$TG_ROOT/scratch/initrd.cpio"; }

# --- the guest --------------------------------------------------------------
# Under TCG every boot step costs; these skip work a throwaway guest does not
# need (CPU bug mitigations, crypto self-tests, timer and keyboard probing,
# spare UARTs). panic=-1 with -no-reboot ends QEMU on a panic; the guest
# powers off when done.
qpid=
# shellcheck disable=SC2317  # called by the EXIT trap
stop_qemu() {
    if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
        kill -TERM "$qpid" 2>/dev/null
        sleep 1
        kill -KILL "$qpid" 2>/dev/null
    fi
}
vm_boot() {  # [MEMORY-MB]
    local cmdline rc budget=${TG_VM_TIMEOUT:-100}
    cmdline="console=ttyS0 quiet panic=-1 rdinit=/init mitigations=off cryptomgr.notests"
    cmdline+=" no_timer_check tsc=reliable i8042.noaux i8042.nokbd 8250.nr_uarts=1"
    log=$TG_ROOT/scratch/console.log
    trap stop_qemu EXIT
    trap 'exit 143' TERM INT HUP
    # timeout bounds the guest even if this shell is killed outright (it
    # then signals QEMU itself).
    timeout -k 5 "$budget" "$qemu" -nodefaults -no-user-config -display none \
        -machine pc,accel=tcg -m "${1:-512}" -smp 1 -no-reboot \
        -kernel "$vmlinux" -initrd "$initrd" -append "$cmdline" \
        -serial "file:$log" 2> "$TG_ROOT/scratch/qemu.err" &
    qpid=$!
    wait "$qpid"
    rc=$?
    qpid=
    echo "guest finished, QEMU status $rc ($(ms))"
    [ "$rc" -eq 124 ] && tg_fail "the guest did not finish within $budget s"
    [ -s "$TG_ROOT/scratch/qemu.err" ] && sed 's/^/    qemu stderr: /' "$TG_ROOT/scratch/qemu.err" >&2
}

# --- results ----------------------------------------------------------------
vm_results() {
    local oks fails
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
}
