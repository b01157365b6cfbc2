#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A client of the tapgate service that speaks to its socket directly
(helper/wire.hpp), as tapgate does, or as a hostile local user might:
garbage, over-long or truncated requests, file descriptors attached,
requests sent late or never, replies never read, many connections at
once, from several users.

  client.py [options] SOCKET

Each connection prints one line when it ends:
  reply=ok fds=N tap=NAME ms=T       a tap came (closed at once, or after --hold)
  reply=refused ms=T text=MESSAGE    a refusal (the service logged it)
  reply=declined ms=T text=MESSAGE   turned away (the asker logs it)
  reply=explain ms=T status=S        an --explain answer
  reply=eof ms=T                     closed without a word
  reply=error ms=T text=WHAT         anything else (a reset before any reply,
                                     no answer within --timeout)
  reply=unread                       --no-read: the reply was never read
With --loop N the connections run one after the other and only a summary
line "loop=N ok=K other=M seconds=S rate=R" is printed (R per second; ok
counts the lines in which the regular expression --expect is found).
"""

import argparse
import array
import ctypes
import fcntl
import os
import re
import selectors
import socket
import sys
import time
import traceback

TUNGETIFF = 0x800454D2
REQUEST = "tapgate/1 tap vnet {bridge}\n"


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("socket")
    p.add_argument("--bridge", default="br0")
    p.add_argument("--send", help="bytes to send instead of a tap request"
                   " (Python escapes: \\n, \\x00)")
    p.add_argument("--send-hex", help="the bytes to send, in hex")
    p.add_argument("--repeat", type=int, default=1,
                   help="send the bytes this many times (an over-long request)")
    p.add_argument("--nothing", action="store_true", help="send nothing")
    p.add_argument("--delay", type=float, default=0.0,
                   help="seconds between connecting and sending")
    p.add_argument("--fds", type=int, default=0,
                   help="attach this many fds (of /dev/null) to the request")
    p.add_argument("--fd-messages", type=int, default=1,
                   help="... in this many messages, --fds each")
    p.add_argument("--close", action="store_true",
                   help="close right after sending, reading nothing")
    p.add_argument("--no-read", action="store_true",
                   help="never read the reply; keep the connection for --hold")
    p.add_argument("--hold", type=float, default=0.0,
                   help="seconds to keep the connection (and a tap) open")
    p.add_argument("--connections", type=int, default=1,
                   help="this many connections at once: all connect, then all send")
    p.add_argument("--users", default="",
                   help="uid:gid,...: a process per user, each with --connections")
    p.add_argument("--ready", action="store_true",
                   help="print 'connected' once every connection is made")
    p.add_argument("--loop", type=int, default=0,
                   help="this many requests, one after the other")
    p.add_argument("--expect", default="^reply=ok fds=1 ",
                   help="with --loop: a regular expression an expected line matches")
    p.add_argument("--timeout", type=float, default=40.0)
    return p.parse_args()


def payload(a):
    if a.nothing:
        return b""
    if a.send_hex is not None:
        data = bytes.fromhex(a.send_hex)
    elif a.send is not None:
        data = a.send.encode().decode("unicode_escape").encode("latin-1")
    else:
        data = REQUEST.format(bridge=a.bridge).encode()
    return data * a.repeat


def out(line):
    """One line on stdout in one write(): many processes share it."""
    os.write(1, (line + "\n").encode())


def tap_name(fd):
    try:
        ifr = fcntl.ioctl(fd, TUNGETIFF, b"\0" * 40)
        return ifr[:16].split(b"\0")[0].decode()
    except OSError:
        return "?"


class Conn:
    def __init__(self, a):
        self.a = a
        self.t0 = time.monotonic()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(a.socket)
        self.data = b""
        self.fds = []
        self.done = None
        self.send_error = None

    def ms(self):
        return int((time.monotonic() - self.t0) * 1000)

    def send(self, data):
        a = self.a
        try:
            if a.fds:
                null = [os.open("/dev/null", os.O_RDONLY) for _ in range(a.fds)]
                anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", null))]
                for k in range(a.fd_messages):
                    # The request goes with the first message; the others
                    # carry one byte each and more fds.
                    self.sock.sendmsg([data if k == 0 and data else b" "], anc)
                for fd in null:
                    os.close(fd)
            elif data:
                self.sock.sendall(data)
        except OSError as e:
            # A service that refused before reading: its reply may be there.
            self.send_error = e.strerror
        if a.close:
            self.sock.close()
            self.done = "reply=closed"

    def read(self):
        """One read; sets self.done when the reply is complete."""
        try:
            msg, anc, _, _ = self.sock.recvmsg(65536, socket.CMSG_SPACE(4 * 8))
        except ConnectionResetError:
            msg, anc = b"", []
            if not self.data:
                self.done = "reply=error ms=%d text=reset" % self.ms()
                return
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(cdata[:len(cdata) - len(cdata) % fds.itemsize])
                self.fds.extend(fds)
        if msg:
            self.data += msg
            return
        self.finish()

    def finish(self):
        text = self.data.decode("utf-8", "replace")
        first, _, rest = text.partition("\n")
        if first == "ok":
            self.done = "reply=ok fds=%d tap=%s ms=%d" % (
                len(self.fds), tap_name(self.fds[0]) if self.fds else "-", self.ms())
        elif first.startswith("refused "):
            self.done = "reply=refused ms=%d text=%s" % (self.ms(), first[8:])
        elif first.startswith("declined "):
            self.done = "reply=declined ms=%d text=%s" % (self.ms(), first[9:])
        elif first.startswith("explain "):
            self.done = "reply=explain ms=%d status=%s" % (self.ms(), first[8:])
        elif not text:
            self.done = "reply=eof ms=%d" % self.ms()
        else:
            self.done = "reply=error ms=%d text=%r" % (self.ms(), text[:80])

    def close(self):
        for fd in self.fds:
            os.close(fd)
        self.fds = []
        self.sock.close()


def run(a):
    """--connections at once; one line each."""
    conns = [Conn(a) for _ in range(a.connections)]
    if a.ready:
        out("connected")
    if a.delay:
        time.sleep(a.delay)
    data = payload(a)
    for c in conns:
        c.send(data)
    if a.no_read:
        time.sleep(a.hold)
        for c in conns:
            c.close()
            out("reply=unread")
        return
    sel = selectors.DefaultSelector()
    for c in conns:
        if not c.done:
            sel.register(c.sock, selectors.EVENT_READ, c)
    deadline = time.monotonic() + a.timeout
    left = len(sel.get_map())
    while left:
        events = sel.select(max(0.0, deadline - time.monotonic()))
        if not events:
            break
        for key, _ in events:
            c = key.data
            c.read()
            if c.done:
                sel.unregister(c.sock)
                left -= 1
    for c in conns:
        if not c.done:
            c.done = "reply=error ms=%d text=no answer in %gs" % (c.ms(), a.timeout)
    if a.hold:
        time.sleep(a.hold)
    for c in conns:
        out(c.done)
        if c.sock.fileno() >= 0:
            c.close()


def loop(a):
    """--loop N requests in turn: a summary line."""
    ok = other = 0
    t0 = time.monotonic()
    data = payload(a)
    for _ in range(a.loop):
        c = Conn(a)
        c.send(data)
        c.sock.settimeout(a.timeout)
        while not c.done:
            c.read()
        if re.search(a.expect, c.done):
            ok += 1
        else:
            other += 1
            if other <= 3:
                print("unexpected: " + c.done, file=sys.stderr)
        c.close()
    s = time.monotonic() - t0
    out("loop=%d ok=%d other=%d seconds=%.1f rate=%.0f" % (a.loop, ok, other, s, a.loop / s))


def as_user(uid, gid):
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    # The change of uid made this process non-dumpable, and the service
    # refuses a client it cannot look at (whose user namespace it checks):
    # dumpable again, as tapgate makes itself.
    PR_SET_DUMPABLE = 4
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE)")


def main():
    a = parse_args()
    body = loop if a.loop else run
    if not a.users:
        body(a)
        return
    pids = []
    for spec in a.users.split(","):
        uid, gid = (int(x) for x in spec.split(":"))
        pid = os.fork()
        if pid == 0:
            status = 0
            try:
                as_user(uid, gid)
                body(a)
            except BaseException:
                traceback.print_exc()
                status = 1
            os._exit(status)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
