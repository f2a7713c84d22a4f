"""Raw IPv4 sockets (kame.socket.raw4) against the Linux kernel over a TAP
device: our raw ICMP socket pings the kernel and reads its reply with the
IP header; a datagram we build with IP_HDRINCL (zero ID, source and
checksum) reaches a raw socket of the kernel's intact; the kernel's raw
socket of a protocol of its own reaches ours, without a Protocol
Unreachable back. The node runs in a child process (``inet_tapnode.py``)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from netns_rig import ipns
from test_inet_kernel import FAST, KERNEL, OURS, rig

from kame import _core

pytestmark = [pytest.mark.interop, pytest.mark.root]

SOCK_RAW, IPPROTO_ICMP, EXP = 3, 1, 253
IP_HDRINCL = 3


def test_raw_icmp_and_hdrincl_against_the_kernel() -> None:
    listener = (
        "import socket\n"
        f"s=socket.socket(socket.AF_INET,socket.SOCK_RAW,{EXP}); s.settimeout(20)\n"
        "print('up',flush=True)\n"
        "d,a=s.recvfrom(65535); print(d.hex(),a[0],flush=True)\n")
    with rig({"knobs": FAST, "profile": "linux"}) as (ns, child):
        r = child.cmd(cmd="udp", family=2, type=SOCK_RAW, proto=IPPROTO_ICMP)["sock"]
        echo = _core.icmp_build(8, 0, 0x77770001, b"raw ping")
        got: list[list[str]] = []
        for _ in range(20):  # the first may wait for ARP
            assert child.cmd(cmd="sendto", sock=r, hex=echo.hex(),
                             to=[KERNEL, 0]) == {"ok": len(echo)}
            got = child.cmd(cmd="recv", sock=r, wait=0.5, hex=True)["data"]
            if got:
                break
        assert got, "no echo reply on the raw socket"
        pkt = bytes.fromhex(got[0][0])
        v = _core.ip_validate(pkt, True)
        assert (str(v.src), str(v.dst), v.protocol) == (KERNEL, OURS, IPPROTO_ICMP)
        assert pkt[v.header_len] == 0 and pkt.endswith(b"raw ping") and got[0][1] == [KERNEL, 0]
        # IP_HDRINCL towards a kernel raw socket of protocol 253
        srv = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", listener],
                               stdout=subprocess.PIPE, text=True)
        try:
            assert srv.stdout is not None and srv.stdout.readline().strip() == "up"
            h = child.cmd(cmd="udp", family=2, type=SOCK_RAW, proto=EXP)["sock"]
            assert child.cmd(cmd="sockopt", sock=h, level=0, opt=IP_HDRINCL, int=1) == {"ok": True}
            hdr = bytes([0x45, 0, 0, 0, 0, 0, 0, 0, 33, EXP, 0, 0, 0, 0, 0, 0]) + \
                bytes(int(x) for x in KERNEL.split("."))
            assert child.cmd(cmd="sendto", sock=h, hex=(hdr + b"built here").hex(),
                             to=[KERNEL, 0])["ok"] == 30
            line = srv.stdout.readline().split()
        finally:
            srv.kill()
        kpkt = bytes.fromhex(line[0])
        kv = _core.ip_validate(kpkt, True)  # the kernel saw a good checksum
        assert line[1] == OURS and kv.ttl == 33 and kpkt[kv.header_len:] == b"built here"
        # the kernel's raw socket to ours: no Protocol Unreachable
        mine = child.cmd(cmd="udp", family=2, type=SOCK_RAW, proto=EXP)["sock"]
        ipns(ns, sys.executable, "-c",
             f"import socket;s=socket.socket(socket.AF_INET,socket.SOCK_RAW,{EXP});"
             f"s.sendto(b'from the kernel',('{OURS}',0))")
        got = child.cmd(cmd="recv", sock=mine, wait=1.0, hex=True)["data"]
        st = child.cmd(cmd="state")
    assert [bytes.fromhex(d)[20:] for d, _a in got] == [b"from the kernel"]
    assert st["stats"].get("ips_noproto", 0) == 0
