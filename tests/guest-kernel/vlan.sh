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
# Skips (77) without root, a kernel with modules in /boot, static busybox,
# QEMU, or the tools to copy in; with CI set, those are failures instead.
# Environment: TAPGATE_BUILD_ROOT (helper/tapgate), TG_SPAWN, TAPIO,
# HELPER (another helper binary to test), QEMU, PYTHON.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
vm_prereqs
spawn=${TG_SPAWN:-$build/tests/tools/tg-spawn}
tapio=${TAPIO:-$build/tests/tools/tapio}
for f in "$spawn" "$tapio"; do
    [ -x "$f" ] || missing "not built: '$f' (set TAPGATE_BUILD_ROOT, or TG_SPAWN, TAPIO)"
done

. "$here/../lib/ns.sh"
# Only for a private scratch tmpfs that vanishes however the test ends: the
# network under test lives in the guest.
tg_isolate "$@"
vm_start_clock
echo "guest kernel: $kver; helper under test: $helper"
vm_kernel

# --- initramfs --------------------------------------------------------------
vm_stage "$here/vlan-init.sh"
if ! { copy_exe "$helper" /bin/tapgate 4755 &&
        copy_exe "$spawn" /bin/tg-spawn &&
        copy_exe "$tapio" /bin/tapio &&
        copy_exe "$ip_bin" /usr/sbin/ip &&
        copy_exe "$bridge_bin" /usr/sbin/bridge &&
        copy_exe "$setpriv_bin" /usr/bin/setpriv; }; then
    tg_fail "could not copy the programs into the initramfs"
    tg_done
fi
vm_modules bridge tun
vm_pack

# --- the guest --------------------------------------------------------------
vm_boot 512
vm_results
tg_done
