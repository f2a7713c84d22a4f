"""`kame dissect` on real Linux cooked captures: `tcpdump -i any` (with
`-y LINUX_SLL2` and `-y LINUX_SLL`) in a namespace joined by a veth pair
to another, while the kernels ARP, ping (IPv4, IPv6, a fragmented IPv6
echo), talk TCP and send UDP datagrams. The veth and loopback devices
offload checksums, so the TCP and UDP packets carry the pseudo-header sum
the kernel leaves for the device to finish. On the same file we and
tshark read the same frames: direction, protocol, addresses, ports, ARP
operation, checksum verdicts and the value that was due."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from netns_rig import fresh_netns, ipns, until

import kame
from kame.cli.dissect import dissect_stream
from kame.link.pcap import LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, open_capture

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None:
    pytest.skip("needs root and iproute2", allow_module_level=True)

SERVER = """
import socket
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 7777)); s.listen()
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.bind(("::", 7778))
print("ready", flush=True)
c, _ = s.accept(); c.sendall(c.recv(100)); c.close()
"""

CLIENT = """
import socket
c = socket.create_connection(("2001:db8:9::2", 7777)); c.sendall(b"hello"); c.recv(100); c.close()
socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendto(b"abcd", ("2001:db8:9::2", 7778))
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"abcd", ("10.9.0.2", 7778))
"""


def _capture(a: str, b: str, linktype: str, path: Path) -> None:
    """Run the traffic while `tcpdump -i any -y LINKTYPE` writes ``path``."""
    dump = subprocess.Popen(["ip", "netns", "exec", a, "tcpdump", "-i", "any", "-y", linktype,
                             "--immediate-mode", "-U", "-w", str(path)], stderr=subprocess.PIPE,
                            text=True)
    try:
        assert dump.stderr is not None
        said = [dump.stderr.readline() for _ in range(2)]  # "data link type ...", "listening on"
        assert any(s.startswith("tcpdump: listening on any") for s in said), said
        # "listening" is printed as the capture opens; under load the first
        # packets can still go by unseen: wait until a probe is written
        until(lambda: ipns(a, "ping", "-6", "-c1", "-W1", "::1", check=False) and
              path.exists() and path.stat().st_size > 24 + 2 * 100, 30.0)
        for ns in (a, b):  # ARP and ND again in each capture
            ipns(ns, "ip", "neigh", "flush", "all")
        ipns(a, "ping", "-c1", "-W2", "10.9.0.2")
        ipns(a, "ping", "-6", "-c1", "-W2", "2001:db8:9::2")
        ipns(a, "ping", "-6", "-c1", "-W2", "-s", "3000", "2001:db8:9::2")
        srv = subprocess.Popen(["ip", "netns", "exec", b, "python3", "-c", SERVER],
                               stdout=subprocess.PIPE, text=True)
        try:
            assert srv.stdout is not None and srv.stdout.readline().strip() == "ready"
            ipns(a, "python3", "-c", CLIENT)
            srv.wait(timeout=30)
        finally:
            srv.kill()
        ipns(a, "ping", "-6", "-c1", "-W2", "::1")
        time.sleep(0.5)
    finally:
        dump.send_signal(signal.SIGINT)
        dump.wait(timeout=30)


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    d = tmp_path_factory.mktemp("cooked")
    with fresh_netns("kdis-a") as a, fresh_netns("kdis-b") as b:
        subprocess.run(["ip", "link", "add", "va", "netns", a, "type", "veth", "peer", "name", "vb",
                        "netns", b], check=True, capture_output=True)
        for ns, dev, v4, v6 in ((a, "va", "10.9.0.1/24", "2001:db8:9::1/64"),
                                (b, "vb", "10.9.0.2/24", "2001:db8:9::2/64")):
            ipns(ns, "ip", "link", "set", "lo", "up")
            ipns(ns, "ip", "addr", "add", v4, "dev", dev)
            ipns(ns, "ip", "addr", "add", v6, "dev", dev, "nodad")
            ipns(ns, "ip", "link", "set", dev, "up")
        out = {}
        for lt in ("LINUX_SLL2", "LINUX_SLL"):
            out[lt] = d / f"{lt.lower()}.pcap"
            _capture(a, b, lt, out[lt])
        yield out


FIELDS = ["sll.pkttype", "sll.etype", "ipv6.src", "ipv6.dst", "ip.src", "ip.dst", "tcp.srcport",
          "tcp.dstport", "udp.srcport", "udp.dstport", "icmpv6.type", "arp.opcode",
          "arp.src.proto_ipv4", "arp.dst.proto_ipv4", "tcp.checksum.status", "udp.checksum.status",
          "icmpv6.checksum.status", "icmp.checksum.status", "tcp.checksum_calculated", "udp.checksum_calculated",
          "ipv6.fraghdr.offset"]


def _tshark(path: Path) -> list[dict[str, str]]:
    args = ["tshark", "-r", str(path), "-T", "fields", "-o", "tcp.check_checksum:TRUE",
            "-o", "udp.check_checksum:TRUE", "-o", "ipv6.defragment:FALSE",
            "-o", "tcp.analyze_sequence_numbers:FALSE"]
    for f in FIELDS:
        args += ["-e", f]
    r = subprocess.run(args, capture_output=True, text=True, check=True, timeout=120)
    return [dict(zip(FIELDS, line.split("\t"), strict=True)) for line in r.stdout.splitlines()]


@pytest.mark.parametrize("linktype", ["LINUX_SLL2", "LINUX_SLL"])
def test_cooked_captures_read_as_tshark_reads_them(captures: dict[str, Path], linktype: str) -> None:
    path = captures[linktype]
    want_lt = LINKTYPE_LINUX_SLL2 if linktype == "LINUX_SLL2" else LINKTYPE_LINUX_SLL
    with path.open("rb") as f:
        recs = list(open_capture(f))
    assert {r.linktype for r in recs} == {want_lt}
    rows = _tshark(path)
    assert len(rows) == len(recs)
    seen = {"arp": 0, "offload": 0, "first fragment": 0, "icmp6 good": 0}
    for i, (rec, t) in enumerate(zip(recs, rows, strict=True), 1):
        lf = kame.parse_link(rec.frame, rec.linktype)
        assert lf.pkttype == int(t["sll.pkttype"]), i
        assert lf.ethertype == int(t["sll.etype"], 16), i
        if t["arp.opcode"]:
            a = lf.arp
            assert (a.op, str(a.sender_ip), str(a.target_ip)) == (
                int(t["arp.opcode"]), t["arp.src.proto_ipv4"], t["arp.dst.proto_ipv4"]), i
            seen["arp"] += 1
            continue
        p = kame.parse(rec.frame, link=rec.linktype)
        # An ICMP error quotes a packet: tshark lists the outer fields first.
        first = {k: v.split(",")[0] for k, v in t.items()}
        assert (str(p.src), str(p.dst)) == ((first["ipv6.src"], first["ipv6.dst"]) if first["ipv6.src"]
                                            else (first["ip.src"], first["ip.dst"])), i
        if p.upper_proto == 44:  # a later fragment: nothing past the Fragment header
            assert p.cksum_ok is None and first["ipv6.fraghdr.offset"] not in ("", "0"), i
            continue
        name = {6: "tcp", 17: "udp", 58: "icmpv6", 1: "icmp"}[p.upper_proto]
        if name in ("tcp", "udp"):
            assert (p.sport, p.dport) == (int(first[f"{name}.srcport"]),
                                          int(first[f"{name}.dstport"])), i
        if name == "icmpv6":
            assert p.icmp_type == int(first["icmpv6.type"]), i
        status = first[f"{name}.checksum.status"]
        # tshark: 0 bad, 1 good, 2 unverified (a first fragment).
        assert p.cksum_ok == {"0": False, "1": True, "2": None, "": None}[status], (i, status)
        if status == "0":
            _stored, expected, offload = p.cksum_bad
            calc = first[f"{name}.checksum_calculated"]
            assert expected == int(calc, 16), i
            # veth and lo leave the pseudo-header sum: every bad one is offload.
            assert offload, i
            seen["offload"] += 1
        if t["ipv6.fraghdr.offset"] == "0":
            seen["first fragment"] += 1
        elif status == "1" and name == "icmpv6":
            seen["icmp6 good"] += 1
    # What the capture must hold for the test to mean anything.
    # (one TCP connection and two UDP datagrams: 6 to 12 offloaded segments,
    # as the kernel piggybacks its ACKs or not)
    assert seen["arp"] >= 2 and seen["offload"] >= 6 and seen["first fragment"] >= 2
    assert seen["icmp6 good"] >= 4


@pytest.mark.parametrize("linktype", ["LINUX_SLL2", "LINUX_SLL"])
def test_dissect_lines_on_cooked_captures(captures: dict[str, Path], linktype: str) -> None:
    """The whole capture under -v: no DROP, no checksum claim on the
    fragmented echo, the offload hint on every TCP/UDP packet."""
    out = io.StringIO()
    with captures[linktype].open("rb") as f:
        tally = dissect_stream(f, out, verbose=True)
    text = out.getvalue()
    assert tally["drop"] == 0 and tally["not ip"] == 0, text
    assert tally["cksum bad"] == tally["offload"] >= 6
    assert "bad ICMPv6 checksum" not in text and "refused" not in text
    assert text.count("unverified (fragmented datagram)") >= 2
    assert "Out ARP, Request who-has 10.9.0.2 tell 10.9.0.1, length 28  [ok]\n" in text
    assert "(maybe caused by TCP checksum offload?)]" in text
    # (the kernel completes a UDP checksum itself now and then: no UDP hint
    # is required, every bad checksum is an offload one, as counted above)
    assert " In  IP6 ::1 > ::1: ICMP6, echo request" in text
