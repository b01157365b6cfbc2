#!/bin/bash
# Real QEMU on a vlan_filtering bridge, inside a QEMU (TCG) guest running
# Debian's kernel (the host kernel may lack bridge VLAN filtering): two
# users' "guests" in one VLAN reach each other (ARP and ping), a third
# user's in another VLAN neither reaches them nor hears their broadcasts.
#
# The initramfs is built as for vlan.sh (tests/guest-kernel/lib.sh), with
# qemu-system-x86_64, its shared libraries and its TCG accelerator module
# added, and udpguest (tests/tools/udpguest.cpp). tests/guest-kernel/vlan-qemu-init.sh, as
# /init, starts three `-machine none` QEMUs as tgalice, tgcarol (VLAN 10,
# group tglab) and tgbob (VLAN 20), each with `-netdev bridge,br=br0,
# helper=/bin/tapgate` hubbed to a UDP socket netdev, and udpguest plays
# their guests on the UDP side. Results are "TG: ok/FAIL" lines on the
# serial console.
#
# Skips (77) as vlan.sh does; with CI set, those are failures instead.
# Environment: TAPGATE_BUILD_ROOT (helper/tapgate), UDPGUEST, HELPER,
# QEMU (used both to boot the guest and inside it), PYTHON.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
vm_prereqs
udpguest=${UDPGUEST:-$build/tests/tools/udpguest}
[ -x "$udpguest" ] || missing "not built: '$udpguest' (set TAPGATE_BUILD_ROOT or UDPGUEST)"
qemu_bin=$(command -v "$qemu")
# QEMU loads its TCG accelerator as a module (Debian builds it so) from
# ../lib/<multiarch>/qemu next to the binary; a build without modules has
# none to copy.
qemu_mods=$(cd "$(dirname "$qemu_bin")/.." && pwd)/lib/x86_64-linux-gnu/qemu

. "$here/../lib/ns.sh"
tg_isolate "$@"
vm_start_clock
echo "guest kernel: $kver; helper under test: $helper; QEMU: $qemu_bin"
vm_kernel

vm_stage "$here/vlan-qemu-init.sh"
if ! { copy_exe "$helper" /bin/tapgate 4755 &&
        copy_exe "$udpguest" /bin/udpguest &&
        copy_exe "$qemu_bin" /usr/bin/qemu-system-x86_64 &&
        copy_exe "$ip_bin" /usr/sbin/ip &&
        copy_exe "$bridge_bin" /usr/sbin/bridge &&
        copy_exe "$setpriv_bin" /usr/bin/setpriv; }; then
    tg_fail "could not copy the programs into the initramfs"
    tg_done
fi
m=$qemu_mods/accel-tcg-x86_64.so
if [ -f "$m" ] && ! copy_exe "$m" "/usr/lib/x86_64-linux-gnu/qemu/${m##*/}" 0644; then
    tg_fail "could not copy $m"
    tg_done
fi
vm_modules bridge tun
vm_pack

# QEMU's libraries are most of the initramfs; three QEMUs run in the guest.
vm_boot 768
vm_results
tg_done
