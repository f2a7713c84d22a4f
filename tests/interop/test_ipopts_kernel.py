"""IPv4 socket options against the Linux kernel over a TAP (issue 9): the
TTL and TOS the kernel's socket sends (``IP_TTL``, ``IP_TOS``) reach our
AF_INET and dual AF_INET6 sockets' control messages (``IP_PKTINFO``,
``IP_TTL``, ``IP_TOS``; ``IPV6_PKTINFO`` with the mapped address); the
ones our AF_INET6 socket sets at ``IPPROTO_IP`` go on its mapped datagrams
and the kernel's ``IP_RECVTTL``/``IP_RECVTOS`` report them. Our node runs
in a child process (``inet_tapnode.py``, the rig of test_inet_kernel)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import sys

import pytest
from netns_rig import ipns
from test_inet_kernel import FAST, KERNEL, OURS, rig

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

IP_PKTINFO, IP_RECVTTL, IP_RECVTOS = 8, 12, 13


def test_kernel_ttl_and_tos_in_our_control_messages_and_ours_in_its() -> None:
    with rig({"knobs": FAST, "profile": "linux"}) as (ns, child):
        s4 = child.cmd(cmd="udp", family=2, bind=["0.0.0.0", 7310])["sock"]
        s6 = child.cmd(cmd="udp", family=10, bind=["::", 7311])["sock"]
        for s in (s4, s6):
            for opt in (IP_PKTINFO, IP_RECVTTL, IP_RECVTOS):
                assert child.cmd(cmd="sockopt", sock=s, level=0, opt=opt, int=1) == {"ok": True}
        assert child.cmd(cmd="sockopt", sock=s6, level=41, opt=socket.IPV6_RECVPKTINFO,
                         int=1) == {"ok": True}
        for port in (7310, 7311):
            ipns(ns, sys.executable, "-c",
                 "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);"
                 "s.setsockopt(0,socket.IP_TTL,17);s.setsockopt(0,socket.IP_TOS,0x28);"
                 f"s.sendto(b'ttl 17',('{OURS}',{port}))")
        g4 = child.cmd(cmd="recv", sock=s4, wait=0.5, anc=True)["data"]
        g6 = child.cmd(cmd="recv", sock=s6, wait=0.5, anc=True)["data"]
        # and ours to the kernel: IP_TTL and IP_TOS of an AF_INET6 socket
        server = ("import socket,json\n"
                  "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                  f"s.bind(('{KERNEL}',7320)); s.settimeout(8)\n"
                  "s.setsockopt(0,12,1); s.setsockopt(0,13,1)\n"
                  "print('up',flush=True)\n"
                  "d,anc,_f,a=s.recvmsg(100,256)\n"
                  "print(json.dumps([d.decode(),[[l,t,v.hex()] for l,t,v in anc]]),flush=True)\n")
        srv = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", server],
                               stdout=subprocess.PIPE, text=True)
        try:
            assert srv.stdout is not None and srv.stdout.readline().strip() == "up"
            c = child.cmd(cmd="udp", family=10)["sock"]
            assert child.cmd(cmd="sockopt", sock=c, level=0, opt=socket.IP_TTL,
                             int=23) == {"ok": True}
            assert child.cmd(cmd="sockopt", sock=c, level=0, opt=socket.IP_TOS,
                             int=0x48) == {"ok": True}
            assert child.cmd(cmd="sendto", sock=c, data="mapped ttl",
                             to=[f"::ffff:{KERNEL}", 7320]) == {"ok": 10}
            theirs = json.loads(srv.stdout.readline())
        finally:
            srv.kill()
        idx = child.cmd(cmd="state")["ifindex"]
    ours = socket.inet_aton(OURS)
    assert len(g4) == 1 and g4[0][0] == "ttl 17" and g4[0][1] == [KERNEL, g4[0][1][1]]
    anc4 = [(lv, t, bytes.fromhex(h)) for lv, t, h in g4[0][2]]
    assert [(lv, t) for lv, t, _v in anc4] == [(0, IP_PKTINFO), (0, socket.IP_TTL),
                                               (0, socket.IP_TOS)]
    ifi = struct.unpack("=i", anc4[0][2][:4])[0]
    assert ifi == idx  # the TAP the datagram came in on
    assert anc4[0][2][4:] == ours + ours  # ipi_spec_dst, ipi_addr
    assert anc4[1][2] == struct.pack("=i", 17) and anc4[2][2] == b"\x28"
    assert len(g6) == 1 and g6[0][1][0] == f"::ffff:{KERNEL}"
    anc6 = [(lv, t, bytes.fromhex(h)) for lv, t, h in g6[0][2]]
    assert anc6[0] == (41, socket.IPV6_PKTINFO, socket.inet_pton(
        socket.AF_INET6, f"::ffff:{OURS}") + struct.pack("=I", ifi))
    assert anc6[1:] == anc4  # then ip_cmsg_recv's items, as on AF_INET
    assert theirs == ["mapped ttl", [[0, socket.IP_TTL, struct.pack("=i", 23).hex()],
                                     [0, socket.IP_TOS, "48"]]]
