#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest MAC ranges (guest_mac in tapgate.conf) at frame level, inside a QEMU
# (TCG) guest running Debian's kernel: the host kernel may lack tc flower
# and gact, which the filter is made of. Real QEMUs as three users, with
# udpguest (tests/tools/udpguest.cpp) playing their guests and forging
# source addresses; tests/guest-kernel/macrange-init.sh, as /init, runs the
# checks.
#
# The initramfs is built as for vlan-qemu.sh (tests/lib/guest.sh), with tc
# and the modules the filter needs (sch_ingress, cls_flower, act_gact) and
# veth for the gateway's uplink.
#
# Skips as vlan.sh does; with CI set, those are failures instead.
# Environment: TAPGATE_BUILD_ROOT (helper/tapgate), UDPGUEST, HELPER,
# QEMU (used both to boot the guest and inside it), PYTHON.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tg.sh"
tg_guest_prereqs
udpguest=${UDPGUEST:-${TAPGATE_BUILD_ROOT:-}/tests/tools/udpguest}
[ -x "$udpguest" ] || tg_missing "not built: '$udpguest' (set TAPGATE_BUILD_ROOT or UDPGUEST)"
command -v tc >/dev/null || tg_missing "no tc (apt-get install iproute2)"
for m in sch_ingress cls_flower act_gact; do
    grep -qE "/$m\.ko" "/lib/modules/$TG_KVER/modules.dep" "/lib/modules/$TG_KVER/modules.builtin" ||
        tg_missing "kernel $TG_KVER has no $m"
done

tg_guest_begin "$@"

tg_guest_stage "$here/macrange-init.sh"
if ! { tg_guest_tools &&
        tg_copy_exe "$udpguest" /bin/udpguest &&
        tg_guest_qemu &&
        tg_copy_exe "$(command -v tc)" /usr/sbin/tc; }; then
    tg_fail "could not copy the programs into the initramfs"
    tg_done
fi
tg_guest_modules bridge tun veth sch_ingress cls_flower act_gact
tg_guest_pack "$TG_ROOT/scratch/initrd.cpio"

tg_guest_boot 768
tg_guest_results
tg_done
