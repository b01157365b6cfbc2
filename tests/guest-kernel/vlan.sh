#!/bin/bash
# VLANs from tapgate.conf, verified inside a QEMU (TCG) guest running
# Debian's kernel: the kernels our tests and CI run on may lack bridge VLAN
# filtering altogether ("Operation not supported"), Debian's has it.
#
# The host builds an initramfs at test time: static busybox, the bridge and
# tun modules of the /boot kernel, the helper under test installed root-owned
# 4755 as /bin/tapgate, tg-spawn and tapio (tests/tools) with the
# shared libraries ldd names, iproute2's ip and bridge (busybox ip cannot
# show bridge VLANs), setpriv, and a passwd/group with the test users.
# tests/guest-kernel/vlan-init.sh runs the checks as /init and reports "TG: ok" /
# "TG: FAIL" lines on the serial console, which this script reads once the
# guest has powered off.
#
# Skips without root, a kernel with modules in /boot, static busybox,
# QEMU, or the tools to copy in; with CI set, those are failures instead.
# Environment: TAPGATE_BUILD_ROOT (helper/tapgate), TG_SPAWN, TAPIO,
# HELPER (another helper binary to test), QEMU, PYTHON.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tg.sh"
tg_guest_prereqs
tapio=${TAPIO:-${TAPGATE_BUILD_ROOT:-}/tests/tools/tapio}
for f in "$TG_SPAWN" "$tapio"; do
    [ -x "$f" ] || tg_missing "not built: '$f' (set TAPGATE_BUILD_ROOT, or TG_SPAWN, TAPIO)"
done

# Only for a private scratch tmpfs that vanishes however the test ends: the
# network under test lives in the guest.
tg_isolate "$@"
tg_clock_start
tg_note "guest kernel: $TG_KVER; helper under test: $TG_HELPER_SRC"
tg_guest_kernel "${TAPGATE_BUILD_ROOT:+$TAPGATE_BUILD_ROOT/tests/guest-kernel/guest}"
tg_note "kernel ready ($(tg_ms))"

# --- initramfs --------------------------------------------------------------
tg_guest_stage "$here/vlan-init.sh"
if ! { tg_copy_exe "$TG_HELPER_SRC" /bin/tapgate 4755 &&
        tg_copy_exe "$TG_SPAWN" /bin/tg-spawn &&
        tg_copy_exe "$tapio" /bin/tapio &&
        tg_copy_exe "$(command -v ip)" /usr/sbin/ip &&
        tg_copy_exe "$(command -v bridge)" /usr/sbin/bridge &&
        tg_copy_exe "$(command -v setpriv)" /usr/bin/setpriv; }; then
    tg_fail "could not copy the programs into the initramfs"
    tg_done
fi
tg_guest_modules bridge tun
tg_guest_pack "$TG_ROOT/scratch/initrd.cpio"

# --- the guest --------------------------------------------------------------
tg_guest_boot 512
tg_guest_results
tg_done
