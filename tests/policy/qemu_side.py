#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# QEMU's side of the helper protocol for the policy tests' Python guests
# (bpdu.py, persist.py): run HELPER --fd=N --br=BRIDGE on one end of a
# socketpair and take the tap fd it sends. Installed next to them
# (tg_user_tool), so that they import it from their own directory.
import fcntl
import socket
import subprocess
import sys

TUNGETIFF = 0x800454D2  # _IOR('T', 210, unsigned int)


def take_tap(helper, bridge, vnet=False):
    """The tap fd and its name; on a refusal prints "refused exit=N" and
    exits 1."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    fd = theirs.fileno()
    args = [helper] + (["--use-vnet"] if vnet else []) + [f"--fd={fd}", f"--br={bridge}"]
    proc = subprocess.Popen(args, pass_fds=[fd])
    theirs.close()
    _, fds, _, _ = socket.recv_fds(ours, 1, 1)
    status = proc.wait()
    if not fds or status != 0:
        print(f"refused exit={status}")
        sys.exit(1)
    tap = fds[0]
    name = fcntl.ioctl(tap, TUNGETIFF, b"\0" * 40)[:16].split(b"\0", 1)[0].decode()
    return tap, name
