#!/usr/bin/env python3
"""Bench helper: attaches taps on command, as a VMM does, and says when TUNSETIFF returned (CLOCK_MONOTONIC ns).

stdin lines: "attach NETNS TAP" -> prints "T_NS FD"; "close FD" -> prints "ok".
"""
import ctypes, fcntl, os, struct, sys, time

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000
host = os.open("/proc/self/ns/net", os.O_RDONLY)

for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == "attach":
        nsfd = os.open(f"/run/netns/{cmd[1]}", os.O_RDONLY)
        libc.setns(nsfd, CLONE_NEWNET)
        fd = os.open("/dev/net/tun", os.O_RDWR)
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", cmd[2].encode(), IFF_TAP | IFF_NO_PI))
        t = time.monotonic_ns()
        libc.setns(host, CLONE_NEWNET)
        os.close(nsfd)
        print(t, fd, flush=True)
    elif cmd[0] == "close":
        os.close(int(cmd[1]))
        print("ok", flush=True)
