#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Real QEMU on a vlan_filtering bridge, inside a QEMU (TCG) guest running
# Debian's kernel (the host kernel may lack bridge VLAN filtering): two
# users' "guests" in one VLAN reach each other (ARP and ping), a third
# user's in another VLAN neither reaches them nor hears their broadcasts.
#
# The initramfs is built as for vlan.sh (tests/lib/guest.sh), with
# qemu-system-x86_64, its shared libraries and its TCG accelerator module
# added, and udpguest (tests/tools/udpguest.cpp). tests/guest-kernel/vlan-qemu-init.sh, as
# /init, starts three `-machine none` QEMUs as tgalice, tgcarol (VLAN 10,
# group tglab) and tgbob (VLAN 20), each with `-netdev bridge,br=br0,
# helper=/bin/tapgate` hubbed to a UDP socket netdev, and udpguest plays
# their guests on the UDP side. Results are "TG: ok/FAIL" lines on the
# serial console.
#
# Skips as vlan.sh does; with CI set, those are failures instead.
# Environment: TAPGATE_BUILD_ROOT (helper/tapgate), UDPGUEST, HELPER,
# QEMU (used both to boot the guest and inside it), PYTHON.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tg.sh"
tg_guest_prereqs
udpguest=${UDPGUEST:-${TAPGATE_BUILD_ROOT:-}/tests/tools/udpguest}
[ -x "$udpguest" ] || tg_missing "not built: '$udpguest' (set TAPGATE_BUILD_ROOT or UDPGUEST)"

tg_guest_begin "$@"

tg_guest_stage "$here/vlan-qemu-init.sh"
if ! { tg_guest_tools &&
        tg_copy_exe "$udpguest" /bin/udpguest &&
        tg_guest_qemu; }; then
    tg_fail "could not copy the programs into the initramfs"
    tg_done
fi
tg_guest_modules bridge tun
tg_guest_pack "$TG_ROOT/scratch/initrd.cpio"

# QEMU's libraries are most of the initramfs; three QEMUs run in the guest.
tg_guest_boot 768
tg_guest_results
tg_done
