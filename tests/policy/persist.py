#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# QEMU's side of the helper protocol, done by hand so that the caller can do
# what any fd holder may: make the tap persistent (TUNSETPERSIST needs no
# privilege from whoever holds the fd), then close it and go away. The tap
# then outlives its caller, and tapgate must still count it against the
# user's quota.
# Usage: persist.py HELPER BRIDGE; prints the tap's name, exit 0; on a
# refusal prints "refused" and the helper's exit status, exit 1.
#        persist.py --attach TAP [--owner UID]: what anyone may try on a
# persistent tap: open /dev/net/tun and attach to TAP by name (TUNSETIFF),
# then, holding it, hand it to UID (TUNSETOWNER); prints "attached", exit
# 0, or "refused errno=N", exit 1.
import errno
import fcntl
import os
import struct
import sys

from qemu_side import take_tap

TUNSETIFF = 0x400454CA      # _IOW('T', 202, int)
TUNSETPERSIST = 0x400454CB  # _IOW('T', 203, int)
TUNSETOWNER = 0x400454CC    # _IOW('T', 204, int)
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000


def attach(name, owner):
    tun = os.open("/dev/net/tun", os.O_RDWR)
    try:
        fcntl.ioctl(tun, TUNSETIFF, struct.pack("16sH22x", name.encode(), IFF_TAP | IFF_NO_PI))
        if owner is not None:
            fcntl.ioctl(tun, TUNSETOWNER, owner)
    except OSError as e:
        print(f"refused errno={e.errno} ({errno.errorcode.get(e.errno, '?')})")
        sys.exit(1)
    os.close(tun)
    print("attached")


if sys.argv[1] == "--attach":
    attach(sys.argv[2], int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--owner" else None)
    sys.exit(0)

helper, bridge = sys.argv[1], sys.argv[2]
tap, name = take_tap(helper, bridge, vnet=True)
fcntl.ioctl(tap, TUNSETPERSIST, 1)
os.close(tap)
print(name)
