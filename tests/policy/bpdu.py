#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# A guest that sends a BPDU: gets a tap through the helper protocol (no
# virtio-net header, so what it writes is the frame), reads the port's STP
# state, writes one configuration BPDU, and reads the state again until the
# bridge disables the port or SECONDS (default 3) pass.
# Usage: bpdu.py HELPER BRIDGE [SECONDS]; prints "TAP BEFORE AFTER" (the port's state
# numbers in sysfs: 0 is disabled), exit 0; on a refusal prints "refused"
# and the helper's exit status, exit 1.
import os
import struct
import sys
import time

from qemu_side import take_tap

helper, bridge = sys.argv[1], sys.argv[2]
tap, name = take_tap(helper, bridge)
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
