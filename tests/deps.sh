#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Installs what building and testing tapgate needs, on Debian 12 (bookworm),
# as root. Does nothing (and needs no network) when everything is there.
#   tests/deps.sh            build and test dependencies
#   tests/deps.sh --demo     only what the demo needs
set -eu

build_pkgs=(meson ninja-build g++ pkg-config cmake libcap-ng-dev libnl-route-3-dev
            libinih-dev libsystemd-dev doctest-dev iproute2 util-linux)
# qemu-system-x86 brings the reference helper and QEMU for the real-QEMU tests.
demo_pkgs=(qemu-system-x86)
test_pkgs=(clang mandoc libcap2-bin busybox-static linux-image-amd64 python3 kmod cpio
           xz-utils binutils libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
           systemd bubblewrap strace dpkg-dev debhelper fakeroot lintian rpm)

want=("${build_pkgs[@]}" "${demo_pkgs[@]}")
[ "${1:-}" = --demo ] || want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# No recommends: libvirt's would pull in services and a firewall.
apt-get install -y -q --no-install-recommends "${missing[@]}"
