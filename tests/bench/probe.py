#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""probe.py - the probe of policy_update.sh: an ICMP echo request to DST
every millisecond, on its own schedule whether answers come or not, until
the first answer.

  probe.py DST

prints "sending" once the first request left (flushed), then, when the
first echo reply comes, its arrival time (CLOCK_REALTIME, nanoseconds) and
the requests sent, and exits 0; exits 1 when none came within 60 s.

Why not `ping -i 0.001`: while no reply comes, iputils ping sends about
every 10 ms whatever its interval (measured: icmp_seq 30 and 31 went out
10.2 ms apart, and 32 requests in 300 ms), so a probe that was blocked saw
a new verdict up to 10 ms late, about 5 ms on average.
"""
import os
import select
import socket
import struct
import sys
import time

INTERVAL_NS = 1_000_000
DEADLINE_S = 60


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def request(ident, seq):
    body = struct.pack("!HH", ident, seq) + b"ipsec-xdp probe."
    head = struct.pack("!BBH", 8, 0, 0)
    csum = checksum(head + body)
    return struct.pack("!BBH", 8, 0, csum) + body


def is_our_reply(packet, ident):
    """An IPv4 packet from a raw ICMP socket: an echo reply with our id."""
    if len(packet) < 20:
        return False
    ihl = (packet[0] & 0x0F) * 4
    if len(packet) < ihl + 8:
        return False
    icmp_type, _, _, rid = struct.unpack("!BBHH", packet[ihl:ihl + 6])
    return icmp_type == 0 and rid == ident


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: probe.py DST")
    dst = sys.argv[1]
    ident = os.getpid() & 0xFFFF
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    start = time.monotonic_ns()
    next_send = start
    seq = 0
    while time.monotonic_ns() - start < DEADLINE_S * 10**9:
        now = time.monotonic_ns()
        if now >= next_send:
            try:
                sock.sendto(request(ident, seq & 0xFFFF), (dst, 0))
            except OSError:
                pass    # a refused send is a request that did not pass
            if seq == 0:
                print("sending", flush=True)
            seq += 1
            next_send += INTERVAL_NS
            if next_send < now:     # late: keep the schedule's pace
                next_send = now + INTERVAL_NS
            continue
        ready, _, _ = select.select([sock], [], [], (next_send - now) / 1e9)
        if not ready:
            continue
        packet = sock.recv(2048)
        arrived = time.time_ns()
        if is_our_reply(packet, ident):
            print(arrived, seq, flush=True)
            return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
