#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the qemu-full guests' initramfs (tests/qemu/full.sh; busybox
# only). Parameters come from the kernel command line, which hands unknown
# name=value words to init as environment variables:
#   tg_ip=A.B.C.D        address for eth0 (/24)
#   tg_ping=IP[,IP...]   addresses to ping, in order
# Every line meant for the test starts with "TG: "; the test reads them from
# the serial console. The guest stays up afterwards so that its peer and the
# host can still reach it: the test ends it by killing QEMU. In case the test
# dies without doing so, the guest powers off by itself after a while (QEMU
# runs with -no-reboot, so a reboot ends it).
/bin/busybox mkdir -p /bin /proc /sys /dev
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys

say() { echo "TG: $*"; }

for m in $(cat /modules/order); do
    insmod "/modules/$m.ko" || say "FAIL insmod $m"
done

i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do
    sleep 0.05
    i=$((i + 1))
done
if [ ! -e /sys/class/net/eth0 ]; then
    say "FAIL no eth0"
    say "done"
    sleep 150
    reboot -f
fi
[ -n "${tg_ip:-}" ] || say "FAIL no tg_ip= on the kernel command line"
ip link set lo up
ip link set eth0 up
ip addr add "$tg_ip/24" dev eth0
say "up $tg_ip $(cat /sys/class/net/eth0/address) at $(cut -d' ' -f1 /proc/uptime) s"

# Retry for a while: the peer guest may still be booting.
for target in $(echo "${tg_ping:-}" | tr , ' '); do
    n=0
    until ping -c 1 -W 1 "$target" >/dev/null 2>&1; do
        n=$((n + 1))
        if [ $n -ge 30 ]; then
            say "FAIL ping $target"
            continue 2
        fi
        sleep 0.2
    done
    say "ping $target ok"
done
say "done"
sleep 150
reboot -f
