#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# A stand-in for syslogd: binds a datagram socket at PATH (any user may
# send, like /dev/log) and appends every message it receives, one a line,
# to LOG. Prints "ready" once bound.
import os
import socket
import sys

path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s.bind(path)
os.chmod(path, 0o666)
with open(log, "ab", buffering=0) as out:
    print("ready", flush=True)
    while True:
        msg = s.recv(65536)
        out.write(msg.replace(b"\n", b"\\n").rstrip(b"\0") + b"\n")
