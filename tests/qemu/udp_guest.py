#!/usr/bin/env python3
"""Plays a guest NIC on the far side of QEMU's `-netdev socket,udp=` backend.

QEMU carries each Ethernet frame as one UDP datagram with no framing, so a
plain UDP socket is a wire into QEMU's hub, and through it into the tap that
the bridge helper handed QEMU. This sends an ARP request for the host's
address on the bridge and waits for the reply, then an ICMP echo request and
waits for the echo reply. Frames are retransmitted because QEMU may start
forwarding a moment after the tap exists. Exit status 0 only if both replies
arrived and are well formed; every wait has a deadline.
"""

import argparse
import ipaddress
import os
import select
import socket
import struct
import sys
import time

ETH_ARP = 0x0806
ETH_IP = 0x0800
BROADCAST = b"\xff" * 6


def mac_bytes(text):
    parts = text.split(":")
    if len(parts) != 6:
        raise argparse.ArgumentTypeError(f"bad MAC address: {text}")
    return bytes(int(p, 16) for p in parts)


def mac_text(raw):
    return ":".join(f"{b:02x}" for b in raw)


def ip_bytes(text):
    return ipaddress.IPv4Address(text).packed


def hostport(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def arp_request(mac, ip, target_ip):
    arp = struct.pack("!HHBBH6s4s6s4s", 1, ETH_IP, 6, 4, 1,
                      mac, ip, b"\0" * 6, target_ip)
    return BROADCAST + mac + struct.pack("!H", ETH_ARP) + arp


def parse_arp_reply(frame, my_ip, target_ip):
    """The sender MAC if FRAME answers who-has TARGET_IP from MY_IP."""
    if len(frame) < 42 or struct.unpack("!H", frame[12:14])[0] != ETH_ARP:
        return None
    htype, ptype, hlen, plen, op, sha, spa, _tha, tpa = struct.unpack(
        "!HHBBH6s4s6s4s", frame[14:42])
    if (htype, ptype, hlen, plen, op) != (1, ETH_IP, 6, 4, 2):
        return None
    if spa != target_ip or tpa != my_ip:
        return None
    return sha


def echo_request(mac, dst_mac, ip, dst_ip, ident, seq, payload):
    icmp = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + payload
    icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
    total = 20 + len(icmp)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ident, 0x4000, 64, 1, 0,
                      ip, dst_ip)
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return dst_mac + mac + struct.pack("!H", ETH_IP) + hdr + icmp


def parse_echo_reply(frame, my_mac, my_ip, peer_ip, ident, seq, payload):
    """None if FRAME is unrelated; else a problem string, or '' if good."""
    if len(frame) < 34 or struct.unpack("!H", frame[12:14])[0] != ETH_IP:
        return None
    ip_hdr = frame[14:]
    ihl = (ip_hdr[0] & 0x0F) * 4
    if ip_hdr[9] != 1 or ip_hdr[12:16] != peer_ip or ip_hdr[16:20] != my_ip:
        return None
    icmp = ip_hdr[ihl:struct.unpack("!H", ip_hdr[2:4])[0]]
    if len(icmp) < 8 or icmp[0] != 0:
        return None
    if struct.unpack("!HH", icmp[4:8]) != (ident, seq):
        return None
    if frame[0:6] != my_mac:
        return f"echo reply sent to {mac_text(frame[0:6])}, not to us"
    if checksum(ip_hdr[:ihl]) != 0 or checksum(icmp) != 0:
        return "echo reply with a bad checksum"
    if icmp[8:] != payload:
        return "echo reply payload differs from the request's"
    return ""


def exchange(sock, qemu_addr, frame, match, deadline, what):
    """Send FRAME until MATCH(received frame) returns non-None, or time out."""
    resend_at = 0.0
    while True:
        now = time.monotonic()
        if now >= deadline:
            raise TimeoutError(f"no {what} before the deadline")
        if now >= resend_at:
            sock.sendto(frame, qemu_addr)
            resend_at = now + 0.25
        ready, _, _ = select.select([sock], [], [],
                                    max(0.0, min(resend_at, deadline) - now))
        if not ready:
            continue
        data, _src = sock.recvfrom(65536)
        result = match(data)
        if result is not None:
            return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", type=hostport, required=True,
                    help="address QEMU sends to (its udp= option)")
    ap.add_argument("--qemu", type=hostport, required=True,
                    help="address QEMU listens on (its localaddr= option)")
    ap.add_argument("--mac", type=mac_bytes, default="52:54:00:7e:57:01")
    ap.add_argument("--ip", type=ip_bytes, required=True)
    ap.add_argument("--host-ip", type=ip_bytes, required=True)
    ap.add_argument("--host-mac", type=mac_bytes,
                    help="if given, the ARP reply must name this MAC")
    ap.add_argument("--timeout", type=float, default=5.0)
    args = ap.parse_args()

    deadline = time.monotonic() + args.timeout
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(args.listen)
    host_text = str(ipaddress.IPv4Address(args.host_ip))
    try:
        host_mac = exchange(
            sock, args.qemu, arp_request(args.mac, args.ip, args.host_ip),
            lambda f: parse_arp_reply(f, args.ip, args.host_ip),
            deadline, f"ARP reply for {host_text}")
        print(f"ARP: {host_text} is at {mac_text(host_mac)}")
        if args.host_mac is not None and host_mac != args.host_mac:
            print(f"ARP reply names {mac_text(host_mac)}, expected "
                  f"{mac_text(args.host_mac)}", file=sys.stderr)
            return 1

        ident, seq = os.getpid() & 0xFFFF, 1
        payload = b"tapgate-qemu-test" + os.urandom(16)
        problem = exchange(
            sock, args.qemu,
            echo_request(args.mac, host_mac, args.ip, args.host_ip, ident, seq,
                         payload),
            lambda f: parse_echo_reply(f, args.mac, args.ip, args.host_ip,
                                       ident, seq, payload),
            deadline, f"ICMP echo reply from {host_text}")
        if problem:
            print(problem, file=sys.stderr)
            return 1
        print(f"ICMP: echo reply from {host_text}")
        return 0
    except TimeoutError as e:
        print(f"udp_guest: {e} ({args.timeout:g} s)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
