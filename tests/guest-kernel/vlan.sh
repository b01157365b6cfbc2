#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
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

tg_guest_begin "$@"

# --- initramfs --------------------------------------------------------------
tg_guest_stage "$here/vlan-init.sh"
if ! { tg_guest_tools &&
        tg_copy_exe "$TG_SPAWN" /bin/tg-spawn &&
        tg_copy_exe "$tapio" /bin/tapio; }; then
    tg_fail "could not copy the programs into the initramfs"
    tg_done
fi
tg_guest_modules bridge tun
tg_guest_pack "$TG_ROOT/scratch/initrd.cpio"

# --- the guest --------------------------------------------------------------
tg_guest_boot 512
tg_guest_results
tg_done
