#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# A guest that sends a BPDU: gets a tap through the helper protocol (no
# virtio-net header, so what it writes is the frame), reads the port's STP
# state, writes one configuration BPDU, and reads the state again until the
# bridge disables the port or SECONDS (default 3) pass.
# Usage: bpdu.py HELPER BRIDGE [SECONDS]; prints "TAP BEFORE AFTER" (the port's state
# numbers in sysfs: 0 is disabled), exit 0; on a refusal prints "refused"
# and the helper's exit status, exit 1.
import fcntl
import os
import socket
import struct
import subprocess
import sys
import time

TUNGETIFF = 0x800454D2  # _IOR('T', 210, unsigned int)

helper, bridge = sys.argv[1], sys.argv[2]
ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
fd = theirs.fileno()
proc = subprocess.Popen([helper, f"--fd={fd}", f"--br={bridge}"], pass_fds=[fd])
theirs.close()
_, fds, _, _ = socket.recv_fds(ours, 1, 1)
status = proc.wait()
if not fds or status != 0:
    print(f"refused exit={status}")
    sys.exit(1)
tap = fds[0]
name = fcntl.ioctl(tap, TUNGETIFF, b"\0" * 40)[:16].split(b"\0", 1)[0].decode()
state_file = f"/sys/class/net/{name}/brport/state"


def state():
    with open(state_file) as f:
        return int(f.read())


before = state()
# 802.3 with LLC (DSAP 0x42, SSAP 0x42, UI), then a configuration BPDU:
# protocol 0, version 0, type 0, flags, root id, path cost, bridge id,
# port id, message age, max age, hello time, forward delay.
bpdu = struct.pack("!HBBBBQIQHHHHH", 0, 0, 0, 0, 0, 0x8000020000000001, 0, 0x8000020000000001,
                   0x8001, 0, 20 * 256, 2 * 256, 15 * 256)
llc = bytes([0x42, 0x42, 0x03]) + bpdu
frame = bytes.fromhex("0180c2000000") + bytes.fromhex("020000000099") + struct.pack("!H", len(llc)) + llc
frame += bytes(max(0, 60 - len(frame)))
os.write(tap, frame)
deadline = time.monotonic() + (float(sys.argv[3]) if len(sys.argv) > 3 else 3)
after = state()
while after != 0 and time.monotonic() < deadline:
    time.sleep(0.05)
    after = state()
print(name, before, after)
os.close(tap)
