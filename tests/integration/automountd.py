#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# A direct-map automount daemon, the smallest that works like systemd's
# .automount units and autofs: mounts SRC (a bind mount) on WHERE the first
# time a lookup triggers WHERE. Usage: automountd.py SRC WHERE READY; it
# creates the file READY once WHERE is an automount point.
import ctypes
import fcntl
import os
import struct
import subprocess
import sys

AUTOFS_IOC_READY = 0x9360

src, where, ready = sys.argv[1:4]
os.setpgrp()  # the kernel does not trigger mounts for the daemon's own group
pipe_r, pipe_w = os.pipe()
libc = ctypes.CDLL(None, use_errno=True)
options = f"fd={pipe_w},pgrp={os.getpgrp()},minproto=5,maxproto=5,direct".encode()
if libc.mount(b"tgautofs", where.encode(), b"autofs", 0, options) != 0:
    sys.exit("automountd: mount autofs: " + os.strerror(ctypes.get_errno()))
os.close(pipe_w)
control = os.open(where, os.O_RDONLY | os.O_DIRECTORY)
open(ready, "w").close()
while True:
    packet = os.read(pipe_r, 4096)
    if not packet:
        break
    # autofs_v5_packet: proto_version, type, wait_queue_token, ...
    token = struct.unpack_from("=iiI", packet)[2]
    subprocess.run(["mount", "--bind", src, where], check=True)
    fcntl.ioctl(control, AUTOFS_IOC_READY, token)
