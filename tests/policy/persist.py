#!/usr/bin/python3
# QEMU's side of the helper protocol, done by hand so that the caller can do
# what any fd holder may: make the tap persistent (TUNSETPERSIST needs no
# privilege from whoever holds the fd), then close it and go away. The tap
# then outlives its caller, and tapgate must still count it against the
# user's quota.
# Usage: persist.py HELPER BRIDGE; prints the tap's name, exit 0; on a
# refusal prints "refused" and the helper's exit status, exit 1.
import fcntl
import os
import socket
import struct
import subprocess
import sys

TUNSETPERSIST = 0x400454CB  # _IOW('T', 203, int)
TUNGETIFF = 0x800454D2      # _IOR('T', 210, unsigned int)

helper, bridge = sys.argv[1], sys.argv[2]
ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
fd = theirs.fileno()
proc = subprocess.Popen([helper, "--use-vnet", f"--fd={fd}", f"--br={bridge}"], pass_fds=[fd])
theirs.close()
_, fds, _, _ = socket.recv_fds(ours, 1, 1)
status = proc.wait()
if not fds or status != 0:
    print(f"refused exit={status}")
    sys.exit(1)
tap = fds[0]
ifr = fcntl.ioctl(tap, TUNGETIFF, b"\0" * 40)
name = ifr[:16].split(b"\0", 1)[0].decode()
fcntl.ioctl(tap, TUNSETPERSIST, 1)
os.close(tap)
print(name)
