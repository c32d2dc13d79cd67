#!/usr/bin/env python3
# tun_pair.py NS1 DEV1 NS2 DEV2 - a point-to-point link between two network
# namespaces made of two tun devices (IFF_TUN: IFF_POINTOPOINT, no link
# layer), whatever one reads the other writes.  For the namespace tests of
# connection-type remote (tests/ns/test_interfaces.sh): the host kernel may
# have no GRE, IPIP or WireGuard.  Runs until killed; the devices go with it.
import ctypes
import fcntl
import os
import select
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000

libc = ctypes.CDLL(None, use_errno=True)


def enter(ns):
    fd = os.open("/run/netns/" + ns, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "setns %s: %s" % (ns, os.strerror(err)))
    finally:
        os.close(fd)


def open_tun(ns, name):
    enter(ns)
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: tun_pair.py NS1 DEV1 NS2 DEV2")
    a = open_tun(sys.argv[1], sys.argv[2])
    b = open_tun(sys.argv[3], sys.argv[4])
    peer = {a: b, b: a}
    print("ready", flush=True)
    while True:
        ready, _, _ = select.select([a, b], [], [])
        for fd in ready:
            try:
                pkt = os.read(fd, 65536)
                os.write(peer[fd], pkt)
            except OSError:
                pass  # the device is down for a moment: drop, as a link would


if __name__ == "__main__":
    main()
