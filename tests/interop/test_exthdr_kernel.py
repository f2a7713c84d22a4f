"""RFC 3542's extension-header options (seed §1.16) against the Linux
kernel over a TAP: our node's UDP socket sends with sticky Hop-by-Hop and
Destination options headers, and the kernel's socket reports the same
headers with IPV6_RECVHOPOPTS/IPV6_RECVDSTOPTS; the kernel sends headers
given as ancillary data, and our socket reports what the kernel put on the
wire. tshark reads the capture without a malformed or bad-checksum mark."""

from __future__ import annotations

import json
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from netns_rig import TapPort, fresh_netns, ipns

from kame.knobs import Knobs
from kame.link.runner import Runner
from kame.node import Node
from kame.socket import (
    AF_INET6,
    IPV6_DSTOPTS,
    IPV6_HOPOPTS,
    IPV6_RECVDSTOPTS,
    IPV6_RECVHOPOPTS,
    SOCK_DGRAM,
    SocketLayer,
)

pytestmark = [pytest.mark.interop, pytest.mark.root]

HBH = bytes([0, 0, 0x1E, 4]) + b"kame"
DST = bytes([0, 1, 0x1E, 10]) + b"0123456789" + bytes([1, 0])
KERNEL6, OURS6 = "2001:db8:e::1", "2001:db8:e::2"

# The kernel's side: receive one datagram with the headers reported, then
# send one back with headers given as ancillary data.
KERNEL = r"""
import json, select, socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", 7300))
s.setsockopt(41, socket.IPV6_RECVHOPOPTS, 1)
s.setsockopt(41, socket.IPV6_RECVDSTOPTS, 1)
print("ready", flush=True)
if not select.select([s], [], [], 60)[0]:
    sys.exit("nothing came")
data, anc, _f, addr = s.recvmsg(200, 4096)
print(json.dumps([data.decode(), [[t, d.hex()] for _l, t, d in anc]]), flush=True)
hbh = bytes([0, 0, 0x3E, 4]) + b"back"
dst = bytes([0, 0, 0x1E, 4]) + b"dst2"
for _ in range(3):  # the first may wait for neighbor discovery
    s.sendmsg([b"reply"], [(41, socket.IPV6_HOPOPTS, hbh), (41, socket.IPV6_DSTOPTS, dst)], 0,
              (addr[0], 7301))
"""


@contextmanager
def kernel_link(pcap: Path, snaplen: int) -> Iterator[tuple[str, Runner, SocketLayer]]:
    """A namespace whose TAP leads to our node (``OURS6``; the kernel holds
    ``KERNEL6``, offloads off), tcpdump writing ``pcap`` meanwhile, and the
    node's Linux-profile socket layer."""
    with fresh_netns("exthk") as ns:
        ipns(ns, "ip", "link", "set", "lo", "up")
        port = TapPort(ns, "exth")
        cap = None
        try:
            ipns(ns, "ip", "-6", "addr", "add", f"{KERNEL6}/64", "dev", port.name, "nodad")
            ipns(ns, "ip", "link", "set", port.name, "up")
            ipns(ns, "ethtool", "-K", port.name, "tso", "off", "gso", "off", "gro", "off",
                 check=False)
            cap = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-i", port.name, "-U",
                                    "-s", str(snaplen), "-w", str(pcap), "ip6"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            node = Node("exth", knobs=Knobs({"net.inet6.ip6.dad_count": 0}), seed=7)
            node.add_interface(port.name, bytes.fromhex("02005e00e002"))
            runner = Runner()
            runner.attach_device(node, port.name, port.tap)
            runner.transmit(node, node.up(port.name, runner.clock()))
            node.add_address(port.name, f"{OURS6}/64", runner.clock())
            yield ns, runner, SocketLayer(node, "linux")
        finally:
            if cap is not None:
                time.sleep(1.0)
                cap.terminate()
                cap.wait(timeout=10)
            port.close()


def pump(runner: Runner, until: Any, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        runner.service()
        if until():
            return True
        select.select(runner.fds(), [], [], min(0.05, runner.timeout(0.05)))
    runner.service()
    return bool(until())


def test_headers_both_ways_with_the_kernel(tmp_path: Path) -> None:
    pcap = tmp_path / "exth.pcap"
    with kernel_link(pcap, 0) as (ns, runner, layer):
        mine = layer.socket(AF_INET6, SOCK_DGRAM)
        mine.bind(("::", 7301))
        mine.setsockopt(41, IPV6_RECVHOPOPTS, 1)
        mine.setsockopt(41, IPV6_RECVDSTOPTS, 1)
        kern = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", KERNEL],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert kern.stdout is not None
        assert kern.stdout.readline().strip() == "ready"
        pump(runner, lambda: False, 0.5)  # our address usable, tcpdump started
        out = layer.socket(AF_INET6, SOCK_DGRAM)
        out.setsockopt(41, IPV6_HOPOPTS, HBH)
        out.setsockopt(41, IPV6_DSTOPTS, DST)
        got: list[Any] = []

        def heard() -> bool:
            if select.select([kern.stdout], [], [], 0)[0]:
                got.append(json.loads(kern.stdout.readline()))  # type: ignore[union-attr]
                return True
            out.sendto(b"hello", (KERNEL6, 7300))
            return False

        assert pump(runner, heard, 40), kern.stderr.read() if kern.stderr else ""
        data, anc = got[0]
        assert data == "hello"
        kanc = {t: bytes.fromhex(d) for t, d in anc}
        # the kernel reports the headers we sent, Next Header chained
        assert kanc[IPV6_HOPOPTS] == bytes([60]) + HBH[1:]
        assert kanc[IPV6_DSTOPTS] == bytes([17]) + DST[1:]
        assert pump(runner, lambda: bool(mine.rcvq), 40)
        data2, anc2, _f, addr = mine.recvmsg(100, 4096)
        assert data2 == b"reply" and addr[0] == KERNEL6
        ours = [(t, d) for _l, t, d in anc2]
        assert [t for t, _d in ours] == [IPV6_HOPOPTS, IPV6_DSTOPTS]
        assert ours[0][1] == bytes([60, 0, 0x3E, 4]) + b"back"
        assert ours[1][1] == bytes([17, 0, 0x1E, 4]) + b"dst2"
        kern.wait(timeout=30)
    bad = subprocess.run(["tshark", "-r", str(pcap), "-o", "udp.check_checksum:TRUE", "-Y",
                          "udp && (_ws.malformed || _ws.expert.severity >= warning)"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 0 and bad.stdout.strip() == "", bad.stdout + bad.stderr
    n = subprocess.run(["tshark", "-r", str(pcap), "-Y", "ipv6.hopopts && ipv6.dstopts && udp",
                        "-T", "fields", "-e", "ipv6.src"],
                       capture_output=True, text=True, timeout=120, check=True).stdout.split()
    assert OURS6 in n and KERNEL6 in n, n


TCP_KERNEL = r"""
import hashlib, socket
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 7400))
s.listen(1)
print("ready", flush=True)
c, _a = s.accept()
h, n = hashlib.sha256(), 0
while True:
    b = c.recv(65536)
    if not b:
        break
    h.update(b)
    n += len(b)
c.sendall(f"{n} {h.hexdigest()}".encode())
c.close()
"""


def test_tcp_with_sticky_headers_to_the_kernel(tmp_path: Path) -> None:
    """Our TCP client with sticky Destination options sends 300 kB to a
    kernel server: every segment we send carries the header, none is
    fragmented, the kernel counts every byte, tshark flags nothing."""
    import errno
    import hashlib

    from kame.socket.stream import SOCK_STREAM

    pcap = tmp_path / "tcp.pcap"
    with kernel_link(pcap, 200) as (ns, runner, layer):
        kern = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c",
                                 TCP_KERNEL], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        assert kern.stdout is not None
        assert kern.stdout.readline().strip() == "ready"
        pump(runner, lambda: False, 0.5)
        cli = layer.socket(AF_INET6, SOCK_STREAM)
        cli.setsockopt(41, IPV6_DSTOPTS, DST)
        try:
            cli.connect((KERNEL6, 7400))
        except BlockingIOError as e:
            assert e.errno == errno.EINPROGRESS
        data = bytes(range(251)) * 1200
        sent = [0]
        reply = bytearray()

        def step() -> bool:
            if sent[0] < len(data):
                try:
                    sent[0] += cli.send(data[sent[0]:sent[0] + 65536])
                except (BlockingIOError, OSError) as e:
                    if getattr(e, "errno", None) not in (errno.EAGAIN, errno.ENOTCONN):
                        raise
                if sent[0] == len(data):
                    cli.shutdown(1)
                return False
            try:
                b = cli.recv(4096)
            except BlockingIOError:
                return False
            if not b:
                return True
            reply.extend(b)
            return False

        assert pump(runner, step, 60), (sent[0], bytes(reply))
        n, digest = reply.decode().split()
        assert int(n) == len(data) and digest == hashlib.sha256(data).hexdigest()
        kern.wait(timeout=30)
    rows = subprocess.run(["tshark", "-r", str(pcap), "-Y", f"tcp && ipv6.src == {OURS6}",
                           "-T", "fields", "-e", "ipv6.dstopts.len_oct", "-e", "ipv6.fragment",
                           "-e", "tcp.len", "-e", "tcp.flags.str"],
                          capture_output=True, text=True, timeout=120, check=True).stdout
    segs = [r.split("\t") for r in rows.strip().splitlines()]
    assert len(segs) > 100 and all(r[0] == "16" and not r[1] for r in segs), \
        [r for r in segs if r[0] != "16" or r[1]]
    assert max(int(r[2]) for r in segs) > 1300
    bad = subprocess.run(["tshark", "-r", str(pcap), "-Y",
                          "_ws.malformed || _ws.expert.severity >= error"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert bad.stdout.strip() == "", bad.stdout


TCP_KERNEL_CLIENT = r"""
import hashlib, socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
h, n = hashlib.sha256(), 0
while True:
    b = s.recv(65536)
    if not b:
        break
    h.update(b)
    n += len(b)
print(n, h.hexdigest(), flush=True)
"""


@pytest.mark.parametrize("fast", [True, False], ids=["core-syncache", "python-syncache"])
def test_tcp_listener_sticky_headers_on_the_synack(tmp_path: Path, fast: bool,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel client connects to our listener, whose socket has sticky
    Destination options (an accepted connection has its listener's, RFC
    3542 §6 / KAME ``in6p_outputopts``): the SYN,ACK carries the header as
    every later segment does, its MSS leaves room for it (1500 - 60 - 16),
    and the 120 kB we send arrive whole and unfragmented."""
    import hashlib

    from kame.socket.stream import SOCK_STREAM
    from kame.tcp.usrreq import Tcp

    monkeypatch.setattr(Tcp, "fast_syncache", fast)
    pcap = tmp_path / "synack.pcap"
    with kernel_link(pcap, 200) as (ns, runner, layer):
        ls = layer.socket(AF_INET6, SOCK_STREAM)
        ls.setsockopt(41, IPV6_DSTOPTS, DST)
        ls.bind(("::", 7401))
        ls.listen(4)
        pump(runner, lambda: False, 0.5)
        kern = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c",
                                 TCP_KERNEL_CLIENT, OURS6, "7401"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        data = bytes(range(253)) * 480
        st: dict[str, Any] = {"c": None, "sent": 0}

        def step() -> bool:
            if st["c"] is None:
                try:
                    st["c"], _a = ls.accept()
                except BlockingIOError:
                    return kern.poll() is not None
            c = st["c"]
            while st["sent"] < len(data):
                try:
                    st["sent"] += c.send(data[st["sent"]:st["sent"] + 65536])
                except BlockingIOError:
                    return False
            if st["sent"] == len(data) and not st.get("shut"):
                c.shutdown(1)
                st["shut"] = True
            return kern.poll() is not None

        assert pump(runner, step, 60), st
        out, err = kern.communicate(timeout=30)
        n, digest = out.split()
        assert int(n) == len(data) and digest == hashlib.sha256(data).hexdigest(), err
        st["c"].close()
        pump(runner, lambda: False, 0.3)
    rows = subprocess.run(["tshark", "-r", str(pcap), "-Y", f"tcp && ipv6.src == {OURS6}",
                           "-T", "fields", "-e", "ipv6.dstopts.len_oct", "-e", "ipv6.fragment",
                           "-e", "tcp.len", "-e", "tcp.flags.syn", "-e", "tcp.options.mss_val"],
                          capture_output=True, text=True, timeout=120, check=True).stdout
    segs = [r.split("\t") for r in rows.splitlines() if r.strip()]
    synacks = [r for r in segs if r[3] == "1"]
    assert synacks and all(r[0] == "16" and r[4] == str(1500 - 60 - 16) for r in synacks), \
        synacks
    assert len(segs) > 50 and all(r[0] == "16" and not r[1] for r in segs), segs[:5]
    assert max(int(r[2]) for r in segs) == 1500 - 60 - 16 - 12  # less the timestamps
    bad = subprocess.run(["tshark", "-r", str(pcap), "-Y",
                          "_ws.malformed || _ws.expert.severity >= error"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert bad.stdout.strip() == "", bad.stdout
