"""IPComp and tunnels checked by third parties: tshark inflates our IPComp
(its dissector retries raw deflate) and dissects the inner packet with the
UDP and IPv4 checksums verified; tshark and scapy dissect our tunnels.

scapy 2.x has no IPComp layer (neither scapy.layers.ipsec nor scapy.contrib),
so scapy checks the outer headers and the tunnels only."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6

import kame

pytestmark = pytest.mark.interop

TSHARK = shutil.which("tshark")
needs_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark not installed")

TEXT = b"<html><body><p>KAME IPComp interop, RFC 3173 and RFC 2394</p></body></html>\n" * 16
V6_OUT = ("2001:db8:f::1", "2001:db8:f::2")
V4_OUT = ("198.51.100.1", "198.51.100.2")


def inner6(tos: int = 0) -> bytes:
    return bytes(
        IPv6(src="2001:db8::1", dst="2001:db8::2", tc=tos) / UDP(sport=40000, dport=40001) / TEXT
    )


def inner4(tos: int = 0) -> bytes:
    return bytes(
        IP(src="192.0.2.1", dst="192.0.2.2", tos=tos) / UDP(sport=40000, dport=40001) / TEXT
    )


def write_pcap(path: Path, packets: list[bytes]) -> None:
    """libpcap file, LINKTYPE_RAW (101): each record is a bare IP packet."""
    with path.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
        for i, p in enumerate(packets):
            f.write(struct.pack("<IIII", 1_700_000_000 + i, 0, len(p), len(p)))
            f.write(p)


def tshark_json(path: Path) -> list[dict]:
    out = subprocess.run(
        [
            TSHARK,
            "-r",
            str(path),
            "-o",
            "udp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
            "-T",
            "json",
            "-x",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def walk(node, key):
    """Every value of `key` anywhere in a tshark JSON tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield v
            yield from walk(v, key)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v, key)


def assert_clean(frame: dict) -> None:
    layers = frame["_source"]["layers"]
    assert "_ws.malformed" not in json.dumps(layers), layers
    severities = list(walk(layers, "_ws.expert.severity"))
    # 4194304 = PI_WARN, 8388608 = PI_ERROR
    assert not [s for s in severities if int(s) >= 4194304], layers


def udp_ok(frame: dict) -> None:
    statuses = list(walk(frame, "udp.checksum.status"))
    assert statuses and all(s == "1" for s in statuses), statuses  # 1 = Good


@needs_tshark
def test_tshark_inflates_our_ipcomp(tmp_path):
    cases = [
        ("v6 transport", kame.IpcompSa().output(inner6()), inner6()),
        ("v4 transport", kame.IpcompSa(cpi=300).output(inner4()), inner4()),
        (
            "v4-in-v6 tunnel",
            kame.IpcompSa(mode="tunnel", tunnel_src=V6_OUT[0], tunnel_dst=V6_OUT[1]).output(
                inner4()
            ),
            inner4(),
        ),
        (
            "v6-in-v4 tunnel",
            kame.IpcompSa(mode="tunnel", tunnel_src=V4_OUT[0], tunnel_dst=V4_OUT[1]).output(
                inner6()
            ),
            inner6(),
        ),
        ("level 9 window 9", kame.IpcompSa(level=9, window_bits=9).output(inner6()), inner6()),
        ("level 1 window 15", kame.IpcompSa(level=1, window_bits=15).output(inner6()), inner6()),
    ]
    pcap = tmp_path / "ipcomp.pcap"
    write_pcap(pcap, [c[1] for c in cases])
    frames = tshark_json(pcap)
    assert len(frames) == len(cases)
    for (name, wire, _inner), frame in zip(cases, frames):
        assert len(wire) < len(_inner), name
        layers = frame["_source"]["layers"]
        protos = layers["frame"]["frame.protocols"]
        assert ":ipcomp:" in protos, (name, protos)
        assert protos.endswith("udp:data"), (name, protos)
        # the inflated UDP payload is our text, and its checksum is good
        data = [bytes.fromhex(d.replace(":", "")) for d in walk(layers, "data.data")]
        assert TEXT in data, name
        udp_ok(frame)
        assert_clean(frame)
        cpis = list(walk(layers, "ipcomp.cpi"))
        assert cpis == ["0x012c" if name == "v4 transport" else "0x0002"], cpis


@needs_tshark
def test_tshark_dissects_our_tunnels(tmp_path):
    pkts, expect = [], []
    for outer in (V6_OUT, V4_OUT):
        for make, name in ((inner6, "ipv6"), (inner4, "ip")):
            pkts.append(kame.encapsulate(make(0x2A), *outer, ecn=1))
            expect.append(("ipv6" if ":" in outer[0] else "ip", name))
    pcap = tmp_path / "tunnels.pcap"
    write_pcap(pcap, pkts)
    frames = tshark_json(pcap)
    for (o, i), frame in zip(expect, frames):
        protos = frame["_source"]["layers"]["frame"]["frame.protocols"]
        assert protos == f"raw:{o}:{i}:udp:data", protos
        udp_ok(frame)
        assert_clean(frame)
        if o == "ip" or i == "ip":
            assert all(s == "1" for s in walk(frame, "ip.checksum.status"))


def test_scapy_parses_our_tunnels():
    for outer in (V6_OUT, V4_OUT):
        for make in (inner6, inner4):
            inner = make(0x2B)
            wire = kame.encapsulate(inner, *outer, ecn=0)
            p = IPv6(wire) if ":" in outer[0] else IP(wire)
            assert bytes(p.payload) == inner
            assert p[UDP].load == TEXT
            # ECN forbidden: outer TOS is the inner's with both ECN bits 0
            tos = p.tc if ":" in outer[0] else p.tos
            assert tos == 0x28


def test_scapy_reads_our_ipcomp_headers():
    """scapy lacks IPComp; it still parses the outer header we fixed up, and
    zlib inflates what follows the 4-octet IPComp header."""
    wire = kame.IpcompSa().output(inner4())
    p = IP(wire)
    assert (p.proto, p.len) == (108, len(wire))
    q = IP(wire)
    del q.chksum
    assert IP(bytes(q)).chksum == p.chksum
    assert zlib.decompress(wire[24:], -15) == inner4()[20:]
