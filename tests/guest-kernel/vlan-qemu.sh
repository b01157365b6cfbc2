#!/bin/bash
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
qemu_bin=$(command -v "$TG_QEMU")
# QEMU loads its TCG accelerator as a module (Debian builds it so) from
# ../lib/<multiarch>/qemu next to the binary; a build without modules has
# none to copy.
qemu_mods=$(cd "$(dirname "$qemu_bin")/.." && pwd)/lib/x86_64-linux-gnu/qemu

tg_isolate "$@"
tg_clock_start
tg_note "guest kernel: $TG_KVER; helper under test: $TG_HELPER_SRC; QEMU: $qemu_bin"
tg_guest_kernel "${TAPGATE_BUILD_ROOT:+$TAPGATE_BUILD_ROOT/tests/guest-kernel/guest}"
tg_note "kernel ready ($(tg_ms))"

tg_guest_stage "$here/vlan-qemu-init.sh"
if ! { tg_copy_exe "$TG_HELPER_SRC" /bin/tapgate 4755 &&
        tg_copy_exe "$udpguest" /bin/udpguest &&
        tg_copy_exe "$qemu_bin" /usr/bin/qemu-system-x86_64 &&
        tg_copy_exe "$(command -v ip)" /usr/sbin/ip &&
        tg_copy_exe "$(command -v bridge)" /usr/sbin/bridge &&
        tg_copy_exe "$(command -v setpriv)" /usr/bin/setpriv; }; then
    tg_fail "could not copy the programs into the initramfs"
    tg_done
fi
m=$qemu_mods/accel-tcg-x86_64.so
if [ -f "$m" ] && ! tg_copy_exe "$m" "/usr/lib/x86_64-linux-gnu/qemu/${m##*/}" 0644; then
    tg_fail "could not copy $m"
    tg_done
fi
tg_guest_modules bridge tun
tg_guest_pack "$TG_ROOT/scratch/initrd.cpio"

# QEMU's libraries are most of the initramfs; three QEMUs run in the guest.
tg_guest_boot 768
tg_guest_results
tg_done
