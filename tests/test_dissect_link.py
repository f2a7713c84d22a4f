"""`kame dissect` beyond Ethernet/IPv6: ARP (RFC 826) and other EtherTypes,
Linux cooked and BSD loopback link types, gzip-compressed captures,
standard input, option checking, the checksum offload hint, and first
fragments under -v. scapy builds the frames (and parses them back as an
independent reader), tshark reads the same files."""

from __future__ import annotations

import gzip
import io
import os
import struct
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6, IPv6ExtHdrFragment, fragment6
from scapy.layers.l2 import ARP, CookedLinux, CookedLinuxV2, Ether, Loopback, LoopbackOpenBSD
from scapy.packet import Padding, Raw

import kame
from kame.cli.dissect import dissect_stream, summary_line
from kame.errors import MalformedError, ParseError, TruncatedError, UnsupportedError
from kame.link.pcap import (
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_LOOP,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
    PcapngWriter,
    PcapWriter,
    open_capture,
)

A, B, BC = "02:00:00:00:00:01", "02:00:00:00:00:02", "ff:ff:ff:ff:ff:ff"
KAME = [sys.executable, "-m", "kame.cli.main"]


def kame_cli(args: list[str], **kw: Any) -> subprocess.CompletedProcess[Any]:
    """`kame ARGS` in a fresh interpreter (exit status and output checked
    by the caller)."""
    return subprocess.run([*KAME, *args], check=False, **kw)


def pcap(frames: list[bytes], linktype: int = LINKTYPE_ETHERNET) -> bytes:
    buf = io.BytesIO()
    w = PcapWriter(buf, linktype)
    for i, f in enumerate(frames):
        w.write(i / 1000, bytes(f))
    return buf.getvalue()


def dissect(data: bytes, **kw: Any) -> tuple[list[str], dict[str, int]]:
    out = io.StringIO()
    tally = dissect_stream(io.BytesIO(data), out, **kw)
    return out.getvalue().splitlines(), dict(tally)


def tshark(path: Path, *fields: str, opts: tuple[str, ...] = ()) -> list[list[str]]:
    args = ["tshark", "-r", str(path), "-T", "fields", *opts]
    for f in fields:
        args += ["-e", f]
    r = subprocess.run(args, capture_output=True, text=True, check=True)
    return [line.split("\t") for line in r.stdout.splitlines()]


def verdict(line: str) -> str:
    return line.rsplit("[", 1)[1].rstrip("]")


# --- ARP and other EtherTypes -------------------------------------------------------

ARPS = [
    (Ether(src=A, dst=BC) / ARP(op=1, hwsrc=A, psrc="10.0.0.1", pdst="10.0.0.2"),
     "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28"),
    (Ether(src=B, dst=A) / ARP(op=2, hwsrc=B, psrc="10.0.0.2", hwdst=A, pdst="10.0.0.1"),
     "ARP, Reply 10.0.0.2 is-at 02:00:00:00:00:02, length 28"),
    # A minimum-size frame: 18 octets of padding after the 28.
    (Ether(src=A, dst=BC) / ARP(op=1, hwsrc=A, psrc="10.0.0.1", pdst="10.0.0.3") / Padding(b"\0" * 18),
     "ARP, Request who-has 10.0.0.3 tell 10.0.0.1, length 46"),
    # A unicast re-check names the target's address (tcpdump does too).
    (Ether(src=A, dst=B) / ARP(op=1, hwsrc=A, psrc="10.0.0.1", hwdst=B, pdst="10.0.0.2"),
     "ARP, Request who-has 10.0.0.2 (02:00:00:00:00:02) tell 10.0.0.1, length 28"),
    # Gratuitous: an announcement (request) and a reply (RFC 5227 §3).
    (Ether(src=A, dst=BC) / ARP(op=1, hwsrc=A, psrc="10.0.0.1", pdst="10.0.0.1"),
     "ARP, Request who-has 10.0.0.1 tell 10.0.0.1, length 28 (gratuitous)"),
    (Ether(src=A, dst=BC) / ARP(op=2, hwsrc=A, psrc="10.0.0.1", hwdst=BC, pdst="10.0.0.1"),
     "ARP, Reply 10.0.0.1 is-at 02:00:00:00:00:01, length 28 (gratuitous)"),
    # A probe (RFC 5227 §2.1.1).
    (Ether(src=A, dst=BC) / ARP(op=1, hwsrc=A, psrc="0.0.0.0", pdst="10.0.0.9"),
     "ARP, Request who-has 10.0.0.9 tell 0.0.0.0, length 28 (probe)"),
    # RARP (RFC 903), its own EtherType.
    (Ether(src=A, dst=BC, type=0x8035) / ARP(op=3, hwsrc=A, hwdst=A),
     "RARP, Reverse Request who-is 02:00:00:00:00:01 tell 02:00:00:00:00:01, length 28"),
]


def test_arp_is_decoded_not_dropped():
    """Every ARP frame was a DROP ("EtherType is neither IPv6 nor IPv4");
    now each reads as tcpdump -n prints it, verdict ok."""
    lines, tally = dissect(pcap([bytes(f) for f, _ in ARPS]))
    assert tally == {"ok": len(ARPS)}
    for line, (_, want) in zip(lines, ARPS, strict=True):
        assert line.split(None, 2)[2] == f"{want}  [ok]"


def test_arp_fields_match_scapy_and_tshark(tmp_path):
    path = tmp_path / "arp.pcap"
    path.write_bytes(pcap([bytes(f) for f, _ in ARPS]))
    rows = tshark(path, "arp.opcode", "arp.src.hw_mac", "arp.src.proto_ipv4", "arp.dst.hw_mac",
                  "arp.dst.proto_ipv4", "arp.isgratuitous", "arp.isprobe")
    for (frame, _), row in zip(ARPS, rows, strict=True):
        a = kame.parse_link(bytes(frame), "ether").arp
        s = frame[ARP]
        assert (a.op, str(a.sender_ip), str(a.target_ip)) == (s.op, s.psrc, s.pdst)
        assert (a.sender_mac, a.target_mac) == (bytes.fromhex(s.hwsrc.replace(":", "")),
                                                bytes.fromhex(s.hwdst.replace(":", "")))
        op, sha, spa, tha, tpa, grat, probe = row
        assert int(op) == a.op
        assert (sha, spa, tha, tpa) == (s.hwsrc, str(a.sender_ip), s.hwdst, str(a.target_ip))
        assert a.is_gratuitous == (grat == "1")
        assert a.is_probe == (probe == "1")


BAD_ARPS = [
    # Hardware address length 8 for Ethernet: RFC 826, BSD's "wrong
    # hardware address length" drop.
    (bytes(ARP(op=1, hwlen=8, hwsrc=A, psrc="10.0.0.1", pdst="10.0.0.2")) + b"\0" * 4,
     MalformedError, "arp at offset 18: ARP hardware address length is not 6"),
    (bytes(ARP(op=1, plen=16, hwsrc=A, psrc="10.0.0.1", pdst="10.0.0.2")) + b"\0" * 24,
     MalformedError, "arp at offset 19: ARP protocol address length is not 4"),
    (bytes(ARP(op=1, hwsrc=A, psrc="10.0.0.1", pdst="10.0.0.2"))[:20],
     TruncatedError, "arp at offset 14: ARP addresses (RFC 826) (needs 28 bytes, 20 available)"),
    (bytes(ARP(op=1, hwsrc=A, psrc="10.0.0.1", pdst="10.0.0.2"))[:5],
     TruncatedError, "arp at offset 14: ARP header"),
    (bytes(ARP(op=1, hwtype=6, hwsrc=A, psrc="10.0.0.1", pdst="10.0.0.2")),
     UnsupportedError, "arp at offset 14: ARP hardware type is not Ethernet"),
]


def test_malformed_arp_is_a_typed_drop():
    frames = [bytes(Ether(src=A, dst=BC, type=0x0806)) + body for body, _, _ in BAD_ARPS]
    lines, tally = dissect(pcap(frames))
    assert tally == {"drop": len(BAD_ARPS)}
    for f, line, (_, cls, msg) in zip(frames, lines, BAD_ARPS, strict=True):
        assert f"[DROP: {msg}" in line, line
        with pytest.raises(cls):
            _ = kame.parse_link(f).arp


def test_other_ethertypes_are_shown_not_dropped():
    frames = [
        bytes(Ether(src=A, dst="01:80:c2:00:00:0e", type=0x88CC) / Raw(b"\x02\x07" + b"x" * 44)),
        bytes(Ether(src=A, dst=BC, type=0x88B5) / Raw(b"y" * 46)),
        # IEEE 802.3 with LLC (a spanning tree BPDU): a length, no EtherType.
        bytes(Ether(src=A, dst="01:80:c2:00:00:00", type=38) / Raw(b"\x42\x42\x03" + b"\0" * 43)),
        bytes(Ether(src=A, dst=BC) / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP()),
    ]
    lines, tally = dissect(pcap(frames))
    assert tally == {"not ip": 3, "ok": 1}
    assert lines[0].endswith("ethertype 0x88cc, length 46  [not IP]")
    assert lines[1].endswith("ethertype 0x88b5, length 46  [not IP]")
    assert lines[2].endswith("802.3, length 46  [not IP]")
    tally = dissect_stream(io.BytesIO(pcap(frames)), io.StringIO())
    assert summary_line(tally) == "4 packets: 1 ok, 0 bad checksum, 0 dropped, 3 not IP"


@settings(max_examples=300)
@given(st.binary(min_size=0, max_size=64))
def test_arp_parse_any_bytes(data):
    """Any bytes: an Arp, or a typed ParseError; accepted exactly when the
    types and lengths are Ethernet/IPv4 and the 28 octets are there; then
    scapy reads the same fields and to_bytes gives the 28 back."""
    try:
        a = kame.Arp.from_bytes(data)
    except ParseError:
        ok = (len(data) >= 28 and data[:6] == b"\x00\x01\x08\x00\x06\x04")
        assert not ok
        return
    assert data[:6] == b"\x00\x01\x08\x00\x06\x04" and len(data) >= 28
    assert a.to_bytes() == data[:28]
    s = ARP(data[:28])
    assert (a.op, str(a.sender_ip), str(a.target_ip)) == (s.op, s.psrc, s.pdst)
    assert a.sender_mac.hex(":") == s.hwsrc and a.target_mac.hex(":") == s.hwdst


@given(st.integers(0, 0xFFFF), st.binary(min_size=6, max_size=6), st.ip_addresses(v=4),
       st.binary(min_size=6, max_size=6), st.ip_addresses(v=4))
def test_arp_round_trip_against_scapy(op, sha, spa, tha, tpa):
    a = kame.Arp(op, sha, spa, tha, tpa)
    b = a.to_bytes()
    assert kame.Arp.from_bytes(b) == a
    s = ARP(op=op, hwsrc=sha.hex(":"), psrc=str(spa), hwdst=tha.hex(":"), pdst=str(tpa))
    assert bytes(s) == b
    assert a.is_gratuitous == (op in (1, 2) and spa == tpa and not spa.is_unspecified)


def test_arp_refuses_a_short_mac():
    with pytest.raises(ValueError):
        kame.Arp(1, b"\x02\x00", "10.0.0.1").to_bytes()


# --- Link types ----------------------------------------------------------------------

P6 = IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=5353, dport=53) / b"abcd"
P4 = IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=1000, dport=2000) / b"abcd"
ARP1 = ARP(op=1, hwsrc=A, psrc="10.0.0.1", pdst="10.0.0.2")


def _loop_frames() -> list[tuple[int, bytes]]:
    """(linktype, frame) for every loopback family / byte order a reader
    meets: NULL in either host order, LOOP in network order."""
    out = []
    for af in (24, 28, 30, 10):
        out.append((LINKTYPE_NULL, struct.pack("<I", af) + bytes(P6)))
        out.append((LINKTYPE_NULL, struct.pack(">I", af) + bytes(P6)))
        out.append((LINKTYPE_LOOP, struct.pack(">I", af) + bytes(P6)))
    out.append((LINKTYPE_NULL, struct.pack("<I", 2) + bytes(P4)))
    out.append((LINKTYPE_LOOP, struct.pack(">I", 2) + bytes(P4)))
    return out


@pytest.mark.parametrize("linktype", [LINKTYPE_NULL, LINKTYPE_LOOP])
def test_loopback_link_types_match_tshark(tmp_path, linktype):
    """BSD loopback captures (written by text2pcap, Wireshark's writer):
    every family tshark reads as IP we read as the same packet; AF 23
    (IPX to tshark) is shown, not dropped."""
    frames = [f for lt, f in _loop_frames() if lt == linktype]
    frames.append(struct.pack("<I" if linktype == LINKTYPE_NULL else ">I", 23) + b"\0" * 30)
    hexdump = tmp_path / "frames.txt"
    hexdump.write_text("".join(
        f"{off:06x} " + " ".join(f"{b:02x}" for b in fr[off:off + 16]) + "\n"
        for fr in frames for off in range(0, len(fr), 16)))
    path = tmp_path / "loop.pcap"
    subprocess.run(["text2pcap", "-q", "-l", str(linktype), str(hexdump), str(path)], check=True,
                   capture_output=True)
    lines, tally = dissect(path.read_bytes())
    rows = tshark(path, "null.family", "ipv6.src", "ipv6.dst", "ip.src", "ip.dst", "udp.srcport",
                  "udp.dstport", "udp.checksum.status", opts=("-o", "udp.check_checksum:TRUE"))
    assert len(rows) == len(frames) == len(lines) - 0
    for line, row, fr in zip(lines, rows, frames, strict=True):
        fam, s6, d6, s4, d4, sp, dp, status = row
        if fam in ("23",) or (s6 == "" and s4 == ""):
            # tshark reads no IP here: AF 23, or AF 10 (Linux's AF_INET6,
            # which tshark does not know in a NULL header).
            if int(fam) == 10:
                assert "IP6 2001:db8::1.5353 > 2001:db8::2.53: UDP, length 4" in line
            else:
                assert line.endswith(f"AF {fam}, length {len(fr) - 4}  [not IP]"), line
            continue
        src, dst = (s6, d6) if s6 else (s4, d4)
        assert f" {src}.{sp} > {dst}.{dp}: UDP" in line, line
        assert verdict(line) == ("ok" if status == "2" or status == "1" else "cksum BAD")
    if linktype == LINKTYPE_LOOP:
        # LOOP is network order only: a little-endian 24 is no family.
        assert tally["not ip"] == 1


def test_linux_af_inet6_matches_scapy():
    """AF_INET6 is 10 on Linux; scapy (on Linux) writes and reads it so."""
    frames = [bytes(Loopback(type=10) / P6), bytes(Loopback(type=2) / P4),
              bytes(LoopbackOpenBSD(type=24) / P6)]
    for lt, f in zip((LINKTYPE_NULL, LINKTYPE_NULL, LINKTYPE_LOOP), frames, strict=True):
        p = kame.parse(f, link=lt)
        s = (Loopback if lt == LINKTYPE_NULL else LoopbackOpenBSD)(f)
        # scapy binds IPv6 to its own platform's AF_INET6 only (10 here).
        inner = s.payload if s.type in (2, 10) else IPv6(bytes(s.payload))
        assert (str(p.src), str(p.dst), p.sport, p.dport) == (inner.src, inner.dst, inner.sport,
                                                              inner.dport)
        assert kame.parse_link(f, lt).family == s.type
        assert p.cksum_ok is True


def _sll_frames() -> list[bytes]:
    return [
        bytes(CookedLinux(pkttype=4, lladdrtype=1, lladdrlen=6, src=bytes.fromhex("020000000001") + b"\0\0",
                          proto=0x86DD) / P6),
        bytes(CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6, src=bytes.fromhex("020000000002") + b"\0\0",
                          proto=0x0800) / P4),
        bytes(CookedLinux(pkttype=1, lladdrtype=1, lladdrlen=6, src=bytes.fromhex("020000000001") + b"\0\0",
                          proto=0x0806) / ARP1),
        bytes(CookedLinux(pkttype=2, lladdrtype=772, lladdrlen=0, proto=0x0004) / Raw(b"\x42" * 20)),
    ]


def _sll2_frames() -> list[bytes]:
    return [
        bytes(CookedLinuxV2(proto=0x86DD, ifindex=3, lladdrtype=1, pkttype=4, lladdrlen=6,
                            src=bytes.fromhex("020000000001") + b"\0\0") / P6),
        bytes(CookedLinuxV2(proto=0x0800, ifindex=3, lladdrtype=1, pkttype=0, lladdrlen=6,
                            src=bytes.fromhex("020000000002") + b"\0\0") / P4),
        bytes(CookedLinuxV2(proto=0x0806, ifindex=3, lladdrtype=1, pkttype=1, lladdrlen=6,
                            src=bytes.fromhex("020000000001") + b"\0\0") / ARP1),
        bytes(CookedLinuxV2(proto=0x0004, ifindex=1, lladdrtype=772, pkttype=2, lladdrlen=0)
              / Raw(b"\x42" * 20)),
    ]


@pytest.mark.parametrize("linktype", [LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2])
def test_cooked_link_types_match_tshark_and_scapy(tmp_path, linktype):
    """Cooked headers built by scapy: direction, protocol, the IP or ARP
    behind them as tshark and scapy read them. (The interop test reads real
    `tcpdump -i any` captures.)"""
    frames = _sll_frames() if linktype == LINKTYPE_LINUX_SLL else _sll2_frames()
    path = tmp_path / "sll.pcap"
    path.write_bytes(pcap(frames, linktype))
    lines, tally = dissect(path.read_bytes())
    assert tally == {"ok": 3, "not ip": 1}
    rows = tshark(path, "sll.pkttype", "sll.etype", "sll.ltype", "sll.ifindex", "ipv6.src",
                  "ip.src", "udp.srcport", "arp.opcode")
    for f, line, row in zip(frames, lines, rows, strict=True):
        lf = kame.parse_link(f, linktype)
        pkttype, etype, ltype, ifindex, s6, s4, sport, arpop = row
        assert lf.pkttype == int(pkttype)
        assert lf.ethertype == int(etype or ltype, 16)
        assert lf.ifindex == (int(ifindex) if linktype == LINKTYPE_LINUX_SLL2 else None)
        assert lf.outgoing == (pkttype == "4")
        direction = {"0": "In", "1": "B", "2": "M", "4": "Out"}[pkttype]
        assert line.split()[2] == direction
        if s6 or s4:
            p = kame.parse(f, link=linktype)
            assert (str(p.src), p.sport) == (s6 or s4, int(sport))
            assert p.link[0] == lf.src and p.link[2] == lf.ethertype
        elif arpop:
            assert lf.arp.op == int(arpop)
            assert "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28  [ok]" in line
        else:
            assert line.endswith("link protocol 0x0004, length 20  [not IP]")


def test_pcapng_with_mixed_link_types():
    """A pcapng whose interfaces differ: each packet read with its own."""
    buf = io.BytesIO()
    w = PcapngWriter(buf, LINKTYPE_ETHERNET)
    sll = w.add_interface(LINKTYPE_LINUX_SLL2)
    null = w.add_interface(LINKTYPE_NULL)
    raw = w.add_interface(LINKTYPE_RAW)
    w.write(0.0, bytes(Ether(src=A, dst=BC) / ARP1))
    w.write(0.1, _sll2_frames()[0], sll)
    w.write(0.2, struct.pack("<I", 28) + bytes(P6), null)
    w.write(0.3, bytes(P4), raw)
    lines, tally = dissect(buf.getvalue())
    assert tally == {"ok": 4}
    assert "ARP, Request" in lines[0] and " Out IP6 2001:db8::1.5353" in lines[1]
    assert "IP6 2001:db8::1.5353" in lines[2] and "IP 192.0.2.1.1000" in lines[3]


def test_an_unknown_link_type_is_an_error_not_a_traceback(tmp_path):
    path = tmp_path / "x.pcap"
    path.write_bytes(pcap([b"\0" * 20], 147))
    r = kame_cli(["dissect", str(path)], capture_output=True, text=True)
    assert r.returncode == 1
    assert "linktype 147 is not" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("link", ["ether", "sll", "sll2", "null", "loop", 1, 113, 276, 0, 108])
def test_cut_link_headers_are_truncated(link):
    with pytest.raises(TruncatedError):
        kame.parse(b"\x86", link=link)
    with pytest.raises(TruncatedError):
        kame.parse_link(b"\x86", link)


def test_bad_link_arguments():
    with pytest.raises(ValueError):
        kame.parse(bytes(P6), link="token-ring")
    with pytest.raises(ValueError):
        kame.parse(bytes(P6), link=147)
    with pytest.raises(ValueError):
        kame.parse_many([bytes(P6)], link=-1)
    with pytest.raises(TypeError):
        kame.parse(bytes(P6), link=1.0)  # type: ignore[arg-type]


# --- The checksum offload hint ------------------------------------------------------

def _partial(src: bytes, dst: bytes, proto: int, length: int) -> int:
    """The pseudo-header's one's-complement sum alone: what Linux stores
    under CHECKSUM_PARTIAL (`~tcp_v6_check(len, src, dst, 0)`)."""
    if len(src) == 16:
        words = src + dst + struct.pack("!IxxxB", length, proto)
    else:
        words = src + dst + struct.pack("!xBH", proto, length)
    s = sum(struct.unpack(f"!{len(words) // 2}H", words))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def eth(ip: bytes) -> bytes:
    return bytes(Ether(src=A, dst=B, type=0x86DD if ip[0] >> 4 == 6 else 0x0800)) + ip


def _with_cksum(pkt: Any, value: int | None) -> bytes:
    """``pkt`` with its UDP/TCP checksum replaced: ``None`` = the partial sum."""
    b = bytearray(bytes(pkt))
    v6 = b[0] >> 4 == 6
    hl = 40 if v6 else (b[0] & 15) * 4
    proto = b[6] if v6 else b[9]
    src, dst = (bytes(b[8:24]), bytes(b[24:40])) if v6 else (bytes(b[12:16]), bytes(b[16:20]))
    at = hl + (16 if proto == 6 else 6)
    if value is None:
        value = _partial(src, dst, proto, len(b) - hl)
    b[at:at + 2] = struct.pack("!H", value)
    return bytes(b)


OFFLOADED = [
    IPv6(src="2001:db8::1", dst="2001:db8::2") / TCP(sport=1234, dport=80, flags="S"),
    IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=1234, dport=53) / b"abcd",
    IP(src="192.0.2.1", dst="192.0.2.2") / TCP(sport=1234, dport=80, flags="PA") / b"hello",
    IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=1234, dport=53) / b"abc",
]


def test_offload_hint_on_the_pseudo_header_sum(tmp_path):
    """A stored pseudo-header sum gets tshark's hint and the value that was
    due (tshark's own 'should be'); any other wrong value gets only the
    latter."""
    frames = [eth(_with_cksum(p, None)) for p in OFFLOADED]
    frames += [eth(_with_cksum(p, 0x1234)) for p in OFFLOADED]
    path = tmp_path / "offload.pcap"
    path.write_bytes(pcap(frames))
    lines, tally = dissect(path.read_bytes())
    assert tally == {"cksum bad": 8, "offload": 4}
    rows = tshark(path, "tcp.checksum", "tcp.checksum_calculated", "tcp.checksum.status",
                  "udp.checksum", "udp.checksum_calculated", "udp.checksum.status",
                  opts=("-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"))
    for i, (line, row) in enumerate(zip(lines, rows, strict=True)):
        t_ck, t_calc, t_st, u_ck, u_calc, u_st = row
        stored, calc, status = (t_ck, t_calc, t_st) if t_ck else (u_ck, u_calc, u_st)
        assert status == "0"  # tshark: Bad
        want = f"cksum BAD {stored}, should be {calc}"
        proto = "TCP" if t_ck else "UDP"
        if i < 4:
            want += f" (maybe caused by {proto} checksum offload?)"
        assert verdict(line) == want, line


def test_zero_checksum_is_offload_only_when_we_sent_it():
    """Zero in place of the TCP checksum: the hint when a cooked header
    says the capturing host sent the packet, not otherwise."""
    tcp = _with_cksum(OFFLOADED[0], 0)
    out = bytes(CookedLinuxV2(proto=0x86DD, pkttype=4, lladdrtype=1, lladdrlen=6)) + tcp
    inc = bytes(CookedLinuxV2(proto=0x86DD, pkttype=0, lladdrtype=1, lladdrlen=6)) + tcp
    assert kame.parse(out, link="sll2").cksum_bad[::2] == (0, True)
    assert kame.parse(inc, link="sll2").cksum_bad[::2] == (0, False)
    assert kame.parse(bytes(OFFLOADED[0])).cksum_bad is None
    assert kame.parse(_with_cksum(OFFLOADED[0], 0), verify_cksum=False).cksum_bad is None


@settings(max_examples=50)
@given(st.binary(max_size=40), st.integers(1, 0xFFFE), st.booleans())
def test_expected_checksum_is_what_a_fresh_sum_gives(payload, stored, tcp):
    """Whatever the stored value, `expected` is the checksum scapy computes
    for the same segment; offload is claimed only for the partial sum."""
    l4 = TCP(sport=1, dport=2) if tcp else UDP(sport=1, dport=2)
    pkt = IPv6(src="2001:db8::1", dst="2001:db8::2") / l4 / payload
    right = IPv6(bytes(pkt))[TCP if tcp else UDP].chksum
    b = _with_cksum(pkt, stored)
    p = kame.parse(b)
    if stored == right:
        assert p.cksum_ok is True and p.cksum_bad is None
        return
    partial = _with_cksum(pkt, None)
    assert p.cksum_bad == (stored, right, b == partial)


# --- First fragments under -v --------------------------------------------------------

@settings(max_examples=40)
@given(st.integers(1500, 6000), st.sampled_from([1280, 1300, 1400, 1500]))
def test_fragment_trains_draw_no_checksum_claim(size, mtu):
    """Every fragment of a valid fragmented echo (scapy's fragment6): no
    checksum verdict on the first (its checksum covers the whole
    datagram), the echo's id and seq shown as far as they go, every
    fragment ok."""
    whole = IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrFragment(id=0x77) / \
        ICMPv6EchoRequest(id=7, seq=9, data=b"z" * size)
    frags = [bytes(f) for f in fragment6(whole, mtu)]
    lines, tally = dissect(pcap(frags, LINKTYPE_RAW), verbose=True)
    assert tally == {"ok": len(frags)}
    text = "\n".join(lines)
    assert "checksum (RFC 4443" not in text and "refused" not in text
    # tcpdump's words for the echo on its line (no longer the message's repr).
    assert "ICMP6, echo request, id 7, seq 9, length" in lines[0]
    assert lines[1].strip().endswith("unverified (fragmented datagram)  [ok]")
    p = kame.parse(frags[0])
    assert p.cksum_ok is None and p.upper.ident == 7


@settings(max_examples=60)
@given(st.sampled_from(["tcp", "udp", "icmp6", "tcp4", "udp4"]), st.integers(0, 5).map(lambda k: 8 * k),
       st.booleans())
def test_first_fragments_cut_anywhere_get_a_verdict(proto, cut, verbose):
    """A first fragment that ends inside the upper-layer header (the rest
    comes later) is shown by its protocol, never a traceback (a TCP header
    cut short used to end `kame dissect` with a TypeError)."""
    l4 = {"tcp": TCP(sport=1, dport=2), "udp": UDP(sport=1, dport=2),
          "icmp6": ICMPv6EchoRequest(id=1, seq=1)}
    if proto.endswith("4"):
        whole = bytes(IP(src="192.0.2.1", dst="192.0.2.2", flags="MF") / l4[proto[:3]] / (b"p" * 64))
        frame = whole[:20 + cut]
        frame = frame[:2] + struct.pack("!H", len(frame)) + frame[4:10] + b"\0\0" + frame[12:]
        frame = bytes(IP(frame))  # the header checksum again
    else:
        whole = bytes(IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrFragment(id=1, m=1)
                      / l4[proto] / (b"p" * 64))
        frame = whole[:48 + cut]
        frame = frame[:4] + struct.pack("!H", len(frame) - 40) + frame[6:]
    lines, tally = dissect(pcap([frame], LINKTYPE_RAW), verbose=verbose)
    assert sum(tally.values()) == 1
    assert lines[-1].endswith("]")


def _train(first: str, size: int = 3000, mtu: int = 1280) -> list[bytes]:
    """scapy's fragment6 of an echo whose fragmentable part starts with
    ``first``: Destination Options, a Routing header (type 0, SRH) with
    Segments Left 0, or AH."""
    from scapy.layers.inet6 import (
        IPv6ExtHdrDestOpt,
        IPv6ExtHdrRouting,
        IPv6ExtHdrSegmentRouting,
        PadN,
    )
    from scapy.layers.ipsec import AH
    hdr = {
        "dst": IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0" * 4)]),
        "rt0": IPv6ExtHdrRouting(type=0, segleft=0, addresses=["2001:db8::1"]),
        "srh": IPv6ExtHdrSegmentRouting(addresses=["2001:db8::2"], segleft=0, lastentry=0),
        "ah": AH(nh=58, payloadlen=4, spi=0x1000, seq=1, icv=b"\xa5" * 12),
    }[first]
    whole = IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrFragment(id=0x51) / hdr / \
        ICMPv6EchoRequest(id=3, seq=4, data=b"q" * size)
    return [bytes(f) for f in fragment6(whole, mtu)]


@pytest.mark.parametrize("first", ["dst", "rt0", "srh", "ah"])
def test_fragment_trains_with_an_extension_header_first(first):
    """Every fragment of a train whose fragmentable part starts with an
    extension header is shown, none dropped, no checksum claimed: the
    later fragments are data (RFC 8200 §4.5), the first shows the header
    and the echo. The chain walker learns to stop at a later fragment's
    Fragment header on branch h/wire; until that lands this is expected
    to fail."""
    frags = _train(first)
    try:
        kame.parse(frags[1])
    except ParseError:
        pytest.xfail("the chain walker still reads a later fragment's data as headers "
                     "(fixed by the h/wire branch, issue 8 item 1)")
    lines, tally = dissect(pcap(frags, LINKTYPE_RAW), verbose=True)
    assert tally == {"ok": len(frags)}, lines
    name = {"dst": "DST", "rt0": "RT", "srh": "RT", "ah": "AH"}[first]
    assert "ICMP6, echo request, id 3, seq 4, length" in lines[0] and f"chain FRAG,{name}" in lines[0]
    assert "unverified (fragmented datagram)" in "\n".join(lines)
    later = [ln for ln in lines if ": frag (id 0x00000051, offset " in ln]
    assert len(later) == len(frags) - 1


def test_an_atomic_fragment_is_checked_whole():
    """Offset 0 and no more fragments (RFC 8200 §4.5, RFC 6946): the whole
    message is there, its checksum is judged."""
    b = bytes(IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrFragment(id=3, m=0) /
              ICMPv6EchoRequest(id=1, seq=1, data=b"a" * 8))
    p = kame.parse(b)
    assert p.fragment == (0, False, 3) and p.cksum_ok is True and p.upper.seq == 1
    lines, tally = dissect(pcap([b], LINKTYPE_RAW), verbose=True)
    assert tally == {"ok": 1} and "unverified" not in "\n".join(lines)
    bad = b[:-1] + bytes([b[-1] ^ 1])
    lines, tally = dissect(pcap([bad], LINKTYPE_RAW), verbose=True)
    assert tally == {"cksum bad": 1}


def test_first_fragment_checksum_is_unverified_for_tshark_too(tmp_path):
    whole = IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrFragment(id=5) / \
        ICMPv6EchoRequest(id=1, seq=2, data=b"x" * 3000)
    path = tmp_path / "frag.pcap"
    path.write_bytes(pcap([bytes(f) for f in fragment6(whole, 1280)], LINKTYPE_RAW))
    rows = tshark(path, "icmpv6.checksum", "icmpv6.checksum.status", "icmpv6.echo.sequence_number",
                  opts=("-o", "ipv6.defragment:FALSE"))
    ck, status, seq = rows[0]
    assert status == "2"  # tshark: Unverified
    lines, _ = dissect(path.read_bytes(), verbose=True)
    assert lines[1].strip() == f"checksum {ck} unverified (fragmented datagram)  [ok]"
    assert "seq 2," in lines[0] and seq == "2"


# --- gzip, standard input, the pcap reader's memory ---------------------------------

def _sample_pcap() -> bytes:
    return pcap([bytes(f) for f, _ in ARPS] + [bytes(Ether(src=A, dst=B) / P6)])


def test_gzip_is_found_by_its_magic(tmp_path):
    raw = _sample_pcap()
    want = dissect(raw)
    assert dissect(gzip.compress(raw)) == want
    # A pcapng, compressed, in a file whose name says nothing.
    buf = io.BytesIO()
    w = PcapngWriter(buf)
    for f, _ in ARPS:
        w.write(0.0, bytes(f))
    (tmp_path / "capture").write_bytes(gzip.compress(buf.getvalue()))
    r = kame_cli(["dissect", str(tmp_path / "capture")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("[ok]") == len(ARPS)


def test_damaged_gzip_is_an_error(tmp_path):
    z = gzip.compress(_sample_pcap())
    cut = tmp_path / "cut.pcap.gz"
    cut.write_bytes(z[: len(z) // 2])
    bad = tmp_path / "bad.pcap.gz"
    bad.write_bytes(z[:10] + bytes(b ^ 0x55 for b in z[10:40]) + z[40:])
    for path, kind in ((cut, "ends early"), (bad, "gzip")):
        r = kame_cli(["dissect", str(path)], capture_output=True, text=True)
        assert r.returncode == 1, (path, r.stdout, r.stderr)
        assert kind in r.stderr and "Traceback" not in r.stderr


def test_standard_input(tmp_path):
    raw = gzip.compress(_sample_pcap())
    r = kame_cli(["dissect", "-"], input=raw, capture_output=True)
    assert r.returncode == 0 and r.stdout.count(b"[ok]") == len(ARPS) + 1
    # No FILE and a pipe or a file on standard input: that is what is read.
    r = kame_cli(["dissect"], input=raw, capture_output=True)
    assert r.returncode == 0 and r.stdout.count(b"[ok]") == len(ARPS) + 1
    assert b"bundled" not in r.stderr
    path = tmp_path / "c.pcap"
    path.write_bytes(raw)
    with open(path, "rb") as f:
        r = kame_cli(["dissect"], stdin=f, capture_output=True)
    assert r.returncode == 0 and r.stdout.count(b"[ok]") == len(ARPS) + 1


@pytest.mark.parametrize("data", [b"", b"not a capture at all\n", b"\xd4\xc3\xb2\xa1\x02\x00"])
def test_unreadable_standard_input_is_an_error_not_the_sample(data):
    """Empty, garbage or cut input on `-` (or on a pipe with no FILE) is an
    error with a message; the bundled sample is never read instead."""
    for args in (["dissect", "-"], ["dissect"]):
        r = kame_cli([*args], input=data, capture_output=True, text=False)
        assert r.returncode == 1, (args, r.stdout)
        assert b"standard input" in r.stderr and b"Traceback" not in r.stderr
        assert b"packets:" not in r.stdout and b"neighbor" not in r.stdout


def test_closed_or_terminal_stdin():
    # /dev/null and a closed stdin: `-` is an error; no FILE shows the
    # sample, and says so.
    r = kame_cli(["dissect", "-"], stdin=subprocess.DEVNULL, capture_output=True, text=True)
    assert r.returncode == 1 and "standard input" in r.stderr
    r = kame_cli(["dissect"], stdin=subprocess.DEVNULL, capture_output=True, text=True)
    assert r.returncode == 0 and "bundled capture sample.pcap" in r.stderr
    assert "17 packets" in r.stdout
    r = kame_cli(["dissect", "-"], stdin=None, capture_output=True, text=True,
                       preexec_fn=lambda: os.close(0))
    assert r.returncode == 1 and "standard input" in r.stderr and "Traceback" not in r.stderr


def test_gzip_reader_streams_with_bounded_memory():
    """A 40 MB capture, gzip-compressed, read record by record: the reader
    never holds more than a record and gzip's window."""
    frame = bytes(Ether(src=A, dst=B) / P6) + b"\0" * 1400

    class Frames(io.RawIOBase):
        """A compressed capture produced as it is read (never in memory)."""

        def __init__(self) -> None:
            self.buf = io.BytesIO()
            self.z = gzip.GzipFile(fileobj=self.buf, mode="wb")
            w = PcapWriter(self.z, LINKTYPE_ETHERNET)
            self.w, self.left = w, 28_000
            self.out = b""

        def readable(self) -> bool:
            return True

        def readinto(self, b: Any) -> int:
            while len(self.out) < len(b) and self.left:
                for _ in range(200):
                    self.w.write(0.0, frame)
                self.left -= 200
                if not self.left:
                    self.z.close()
                self.out += self.buf.getvalue()
                self.buf.seek(0)
                self.buf.truncate()
            n = min(len(b), len(self.out))
            b[:n] = self.out[:n]
            self.out = self.out[n:]
            return n

    src = io.BufferedReader(Frames())
    tracemalloc.start()
    n = 0
    for rec in open_capture(src):  # type: ignore[arg-type]
        n += len(rec.frame)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert n == 28_000 * len(frame) > 40_000_000
    assert peak < 4_000_000, peak


# --- Options -------------------------------------------------------------------------

@pytest.mark.parametrize("args, what", [
    (["--hdrnestlimit", "-1"], "-1 is out of range: 0 to 2147483647"),
    (["--hdrnestlimit", "2147483648"], "out of range"),
    (["--hdrnestlimit", "ten"], "'ten' is not an integer"),
    (["-c", "-1"], "-1 is out of range: 0 or more"),
    (["-c", "1.5"], "'1.5' is not an integer"),
    (["--count"], "expected one argument"),
    (["--bogus"], "unrecognized arguments"),
])
def test_options_are_checked(args, what):
    """Every option against its documented range: a message naming the
    option, exit status 2, no traceback (`--hdrnestlimit -1` gave one)."""
    r = kame_cli(["dissect", *args], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 2, r
    assert what in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("make, what", [
    (lambda p: None, "No such file or directory"),
    (lambda p: p.mkdir(), "Is a directory"),
    (lambda p: p.write_text("hello\n"), "not a pcap or pcapng capture"),
    (lambda p: p.write_bytes(b""), "empty: not a pcap or pcapng capture"),
    (lambda p: p.write_bytes(b"\xd4\xc3\xb2\xa1\x02\x00"), "truncated file header"),
])
def test_unreadable_files_are_errors(tmp_path, make, what):
    path = tmp_path / "x"
    make(path)
    r = kame_cli(["dissect", str(path)], capture_output=True, text=True)
    assert r.returncode == 1
    assert what in r.stderr and str(path) in r.stderr and "Traceback" not in r.stderr


def test_a_bad_record_mid_file_keeps_what_was_printed(tmp_path):
    data = _sample_pcap()
    path = tmp_path / "cut.pcap"
    path.write_bytes(data[:-5])
    r = kame_cli(["dissect", str(path)], capture_output=True, text=True)
    assert r.returncode == 1 and r.stdout.count("[ok]") == len(ARPS)
    assert "truncated record data" in r.stderr


# --- IP in IP, the Segment Routing Header --------------------------------------------

def test_the_inner_packet_of_a_tunnel_is_shown():
    inner6 = IPv6(src="2001:db8:a::1", dst="2001:db8:b::1") / ICMPv6EchoRequest(id=1, seq=1)
    frames = [
        bytes(IPv6(src="2001:db8::1", dst="2001:db8::2") / inner6),
        bytes(IPv6(src="2001:db8::1", dst="2001:db8::2") / IP(src="192.0.2.1", dst="192.0.2.2")
              / UDP(sport=7, dport=9) / b"x"),
        # The inner packet's checksum is wrong; the outer one has none.
        bytes(IPv6(src="2001:db8::1", dst="2001:db8::2")) [:6] + b"\x29\x40"
        + bytes(IPv6(src="2001:db8::1", dst="2001:db8::2"))[8:40]
        + bytes(inner6)[:-1] + bytes([bytes(inner6)[-1] ^ 1]),
        # An inner packet that is no IPv6 packet.
        bytes(IPv6(src="2001:db8::1", dst="2001:db8::2", nh=41) / Raw(b"\x50" * 40)),
    ]
    frames[2] = frames[2][:4] + struct.pack("!H", len(frames[2]) - 40) + frames[2][6:]
    nested = inner6
    for i in range(6):
        nested = IPv6(src=f"2001:db8::{i + 10:x}", dst="2001:db8::2") / nested
    frames.append(bytes(nested))
    lines, tally = dissect(pcap(frames, LINKTYPE_RAW))
    assert tally == {"ok": len(frames)}
    assert lines[0].endswith("IP6 2001:db8::1 > 2001:db8::2: IP6, length 48: "
                             "IP6 2001:db8:a::1 > 2001:db8:b::1: ICMP6, echo request, id 1, seq 1, length 8  [ok]")
    assert ": IP 192.0.2.1.7 > 192.0.2.2.9: UDP, length 1  [ok]" in lines[1]
    assert lines[2].endswith("ICMP6, echo request, id 1, seq 0, length 8 [inner cksum BAD]  [ok]")  # seq is the octet flipped
    assert ": [inner packet refused: ipv6 at offset 0: IP version is neither 6 nor 4]" in lines[3]
    assert lines[4].count("IP6 ") == 4 and ": (more tunnels)" in lines[4]


def _srh_frame(segleft: int, tlvs: bool = False) -> bytes:
    from scapy.layers.inet6 import IPv6ExtHdrSegmentRouting, IPv6ExtHdrSegmentRoutingTLV
    inner = IPv6(src="2001:db8:a::1", dst="2001:db8:b::1") / ICMPv6EchoRequest(id=1, seq=5)
    srh = IPv6ExtHdrSegmentRouting(addresses=["2001:db8::3", "2001:db8::2"], segleft=segleft,
                                   lastentry=1, tag=7, nh=41)
    if tlvs:
        # The HMAC TLV as RFC 8754 §2.1.2 lays it out (D, Reserved, Key ID,
        # HMAC; scapy's own HMAC TLV class gets its Length wrong).
        srh.tlv_objects = [IPv6ExtHdrSegmentRoutingTLV(type=5, len=38, value=b"\0\0" + struct.pack(
            "!I", 9) + b"\x11" * 32)]
    dst = "2001:db8::3" if segleft == 0 else "2001:db8::2"
    return bytes(IPv6(src="2001:db8::1", dst=dst) / srh / inner)


@pytest.mark.parametrize("tlvs", [False, True])
def test_srh_segments_tlvs_and_inner_packet(tmp_path, tlvs):
    """An SRv6 packet at its last segment (Segments Left 0): the SRH's
    fields, segments and HMAC TLV as tshark reads them, then the packet it
    carries. The SRH is decoded by the core's wire::srh (branch h/wire);
    until that lands this is expected to fail."""
    if not hasattr(kame._core.RoutingHeader, "srh"):
        pytest.xfail("the core does not decode the SRH yet (wire::srh comes with branch h/wire)")
    frame = _srh_frame(0, tlvs)
    path = tmp_path / "srh.pcap"
    path.write_bytes(pcap([frame], LINKTYPE_RAW))
    lines, tally = dissect(path.read_bytes())
    assert tally == {"ok": 1}, lines
    (row,) = tshark(path, "ipv6.routing.srh.addr", "ipv6.routing.segleft", "ipv6.routing.srh.tag")
    addrs = row[0].split(",")
    want = "srh (segleft=0, last-entry=1, tag=7, flags=0x00, " + \
        ", ".join(f"[{i}]{a}" for i, a in enumerate(addrs))
    want += ", hmac key-id 9)" if tlvs else ")"
    assert want in lines[0], lines[0]
    assert (int(row[1]), int(row[2], 16)) == (0, 7)
    assert lines[0].endswith(": IP6 2001:db8:a::1 > 2001:db8:b::1: ICMP6, echo request, id 1, seq 5, length 8  [ok]")
