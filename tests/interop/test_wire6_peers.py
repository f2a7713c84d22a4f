"""IPv6 headers against independent peers: scapy and dpkt parse what we
build to the same field values, we parse what scapy builds to the same
values, and tshark dissects a corpus of our packets with no malformed field
and no expert error (DESIGN.md §5, "wire parse/build").
"""

from __future__ import annotations

import ipaddress
import json
import random
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import kame
from kame import (
    DestOpts,
    FragmentHeader,
    HopByHop,
    Ipv6Header,
    Ipv6Option,
    RoutingHeader,
    ip6_validate,
    walk,
)

scapy_all = pytest.importorskip("scapy.all")
i6 = pytest.importorskip("scapy.layers.inet6")
ipsec = pytest.importorskip("scapy.layers.ipsec")
dpkt = pytest.importorskip("dpkt")

raw = scapy_all.raw

SRC = "2001:db8::1"
DST = "2001:db8::2"
UDP_PORT = 7

# ---------------------------------------------------------------------------
# Checksums (RFC 8200 §8.1: the pseudo-header length is 32 bits, so a
# jumbogram's upper-layer length fits), written here from the RFC so that
# the tests do not depend on our own checksum code.
# ---------------------------------------------------------------------------


def cksum(src: bytes, dst: bytes, nh: int, data: bytes) -> int:
    pseudo = src + dst + struct.pack("!I3xB", len(data), nh)
    b = pseudo + data + (b"\0" if len(data) % 2 else b"")
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    c = ~s & 0xFFFF
    return c or 0xFFFF


def udp(src: str, dst: str, payload: bytes) -> bytes:
    h = struct.pack("!HHHH", UDP_PORT, UDP_PORT, 8 + len(payload), 0) + payload
    c = cksum(ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed, 17, h)
    return h[:6] + struct.pack("!H", c) + h[8:]


# ---------------------------------------------------------------------------
# Building chains with our builders
# ---------------------------------------------------------------------------

u8 = st.integers(0, 255)
addrs = st.integers(1, 2**64).map(lambda i: ipaddress.IPv6Address((0x20010DB8 << 96) | i))
# Types scapy and dpkt decode generically (0x63 is scapy's RPL option).
unknown_types = st.integers(2, 255).filter(lambda t: t not in (0x05, 0x63, 0xC2, 0xC9))
options = st.one_of(
    st.just(Ipv6Option.pad1()),
    st.integers(0, 6).map(Ipv6Option.padn),
    st.integers(0, 0xFFFF).map(Ipv6Option.router_alert),
    addrs.map(Ipv6Option.home_address),
    st.builds(Ipv6Option, unknown_types, st.binary(max_size=12)),
)


@st.composite
def chains(draw: st.DrawFn) -> bytes:
    kinds = draw(st.lists(st.sampled_from([60, 43, 44, 51]), max_size=5))
    if draw(st.booleans()):
        kinds.insert(0, 0)
    upper = draw(st.sampled_from([17, 59]))
    parts: list[bytes] = []
    for i, k in enumerate(kinds):
        nxt = kinds[i + 1] if i + 1 < len(kinds) else upper
        if k in (0, 60):
            cls = HopByHop if k == 0 else DestOpts
            parts.append(cls(draw(st.lists(options, max_size=4)), nxt).to_bytes())
        elif k == 43:
            t = draw(st.sampled_from([0, 2]))
            n = 1 if t == 2 else draw(st.integers(0, 4))
            a = draw(st.lists(addrs, min_size=n, max_size=n))
            parts.append(RoutingHeader(t, draw(st.integers(0, n)), a, next_header=nxt).to_bytes())
        elif k == 44:
            parts.append(
                FragmentHeader(
                    draw(st.integers(0, 0x1FFF)),
                    draw(st.booleans()),
                    draw(st.integers(0, 2**32 - 1)),
                    nxt,
                ).to_bytes()
            )
        else:  # AH, RFC 4302: (payload_len + 2) * 4 octets, 96-bit ICV
            parts.append(bytes([nxt, 4, 0, 0]) + struct.pack("!II", 0x1000, 1) + bytes(12))
    payload = udp(SRC, DST, draw(st.binary(max_size=16))) if upper == 17 else b""
    body = b"".join(parts) + payload
    h = Ipv6Header(
        SRC,
        DST,
        next_header=kinds[0] if kinds else upper,
        hop_limit=draw(u8),
        traffic_class=draw(u8),
        flow_label=draw(st.integers(0, 0xFFFFF)),
        payload_len=len(body),
    )
    return h.to_bytes() + body


# ---------------------------------------------------------------------------
# One summary shape, three parsers
# ---------------------------------------------------------------------------

Summary = list[tuple[Any, ...]]


def opt_tuple(t: int, data: bytes) -> tuple[int, bytes]:
    return (t, data)


def ours(b: bytes) -> Summary:
    h = Ipv6Header.from_bytes(b)
    out: Summary = [
        (
            "ipv6",
            str(h.src),
            str(h.dst),
            h.next_header,
            h.hop_limit,
            h.traffic_class,
            h.flow_label,
            h.payload_len,
        )
    ]
    # Lax: structure only (the RFC 5095 rules are a receiver's, not a
    # parser's; the peers do not apply them).
    c = walk(b, hdrnestlimit=0, lax=True)
    assert not c.truncated
    for proto, off, ln in c.headers:
        seg = b[off : off + ln]
        if proto in (0, 60):
            x = (HopByHop if proto == 0 else DestOpts).from_bytes(seg)
            opts = [opt_tuple(o.type, o.data) for o in x.options if o.type not in (0, 1)]
            out.append(("opts", proto, off, ln, x.next_header, opts))
        elif proto == 43:
            r = RoutingHeader.from_bytes(seg)
            out.append(
                (
                    "rt",
                    off,
                    ln,
                    r.next_header,
                    r.routing_type,
                    r.segments_left,
                    [str(a) for a in r.addresses],
                )
            )
        elif proto == 44:
            f = FragmentHeader.from_bytes(seg)
            out.append(("frag", off, f.next_header, f.offset, f.more, f.ident))
        else:
            out.append(("ah", off, ln, seg[0]))
    out.append(("upper", c.upper, c.upper_offset))
    return out


def scapy_summary(b: bytes) -> Summary:
    p = i6.IPv6(b)
    out: Summary = [("ipv6", p.src, p.dst, p.nh, p.hlim, p.tc, p.fl, p.plen)]
    off = 40
    layer = p.payload
    while True:
        ln = len(raw(layer)) - len(raw(layer.payload))
        if isinstance(layer, (i6.IPv6ExtHdrHopByHop, i6.IPv6ExtHdrDestOpt)):
            proto = 0 if isinstance(layer, i6.IPv6ExtHdrHopByHop) else 60
            opts = []
            for o in layer.options:
                r = raw(o)
                if r[0] in (0, 1):
                    continue
                opts.append(opt_tuple(r[0], r[2:]))
                # Typed fields where scapy decodes them.
                if isinstance(o, i6.Jumbo):
                    assert struct.unpack("!I", r[2:6])[0] == o.jumboplen
                if isinstance(o, i6.RouterAlert):
                    assert struct.unpack("!H", r[2:4])[0] == o.value
                if isinstance(o, i6.HAO):
                    assert ipaddress.IPv6Address(r[2:18]) == ipaddress.IPv6Address(o.hoa)
            out.append(("opts", proto, off, ln, layer.nh, opts))
        elif isinstance(layer, i6.IPv6ExtHdrRouting):
            out.append(
                (
                    "rt",
                    off,
                    ln,
                    layer.nh,
                    layer.type,
                    layer.segleft,
                    [str(ipaddress.IPv6Address(a)) for a in layer.addresses],
                )
            )
        elif isinstance(layer, i6.IPv6ExtHdrFragment):
            out.append(("frag", off, layer.nh, layer.offset, bool(layer.m), layer.id))
            # scapy stops decoding after a non-first fragment.
        elif isinstance(layer, ipsec.AH):
            out.append(("ah", off, ln, layer.nh))
        else:
            break
        prev = layer
        off += ln
        layer = layer.payload
        if isinstance(prev, i6.IPv6ExtHdrFragment) and prev.offset != 0:
            break
    return out


def dpkt_summary(b: bytes) -> Summary:
    d = dpkt.ip6.IP6(b)
    out: Summary = [
        (
            "ipv6",
            str(ipaddress.IPv6Address(d.src)),
            str(ipaddress.IPv6Address(d.dst)),
            d.nxt,
            d.hlim,
            d.fc,
            d.flow,
            d.plen,
        )
    ]
    off = 40
    for h in d.all_extension_headers:
        if isinstance(h, (dpkt.ip6.IP6HopOptsHeader, dpkt.ip6.IP6DstOptsHeader)):
            proto = 0 if isinstance(h, dpkt.ip6.IP6HopOptsHeader) else 60
            opts = [opt_tuple(o["type"], o["data"]) for o in h.options if o["type"] not in (0, 1)]
            out.append(("opts", proto, off, h.length, h.nxt, opts))
        elif isinstance(h, dpkt.ip6.IP6RoutingHeader):
            out.append(
                (
                    "rt",
                    off,
                    h.length,
                    h.nxt,
                    h.type,
                    h.segs_left,
                    [str(ipaddress.IPv6Address(a)) for a in h.addresses],
                )
            )
        elif isinstance(h, dpkt.ip6.IP6FragmentHeader):
            out.append(("frag", off, h.nxt, h.frag_off, bool(h.m_flag), h.id))
        elif isinstance(h, dpkt.ip6.IP6AHHeader):
            out.append(("ah", off, h.length, h.nxt))
        off += h.length
    out.append(("upper", d.p, off))
    return out


# ---------------------------------------------------------------------------
# scapy and dpkt parse what we build
# ---------------------------------------------------------------------------


@given(chains())
def test_scapy_parses_ours(b: bytes) -> None:
    mine = ours(b)
    theirs = scapy_summary(b)
    # scapy stops decoding after AH and after a non-first fragment; compare
    # what it decoded, and make sure it stopped only there.
    assert theirs == mine[: len(theirs)]
    last = theirs[-1]
    assert len(theirs) == len(mine) - 1 or last[0] == "ah" or (last[0] == "frag" and last[3] != 0)
    assert bytes(i6.IPv6(b)) == b  # and re-serializes it byte for byte


@given(chains())
def test_dpkt_parses_ours(b: bytes) -> None:
    # dpkt 1.9.8 crashes (AttributeError 'frag_off' on the last header) when
    # the IPv6 header names a Fragment header that other headers follow.
    assume(b[6] != 44)
    mine = ours(b)
    theirs = dpkt_summary(b)
    # dpkt decodes the routing addresses of types 0 and 2 alike and sees
    # through AH and fragments; the chains must agree header for header,
    # up to the Fragment header of a non-first fragment, after which dpkt
    # reads fragment data as headers and we do not (RFC 8200 §4.5).
    if mine[-1][1] == 44:
        frag = mine[-2]
        assert frag[0] == "frag" and frag[3] != 0
        assert mine[-1] == ("upper", 44, frag[1] + 8)
        assert theirs[:len(mine) - 1] == mine[:-1]
        return
    assert theirs == mine


# ---------------------------------------------------------------------------
# We parse what scapy builds
# ---------------------------------------------------------------------------


@st.composite
def scapy_packets(draw: st.DrawFn) -> bytes:
    layers = []
    for k in draw(st.lists(st.sampled_from(["dst", "rt0", "rt2", "frag"]), max_size=4)):
        if k == "dst":
            layers.append(
                i6.IPv6ExtHdrDestOpt(
                    options=draw(
                        st.lists(
                            st.one_of(
                                addrs.map(lambda a: i6.HAO(hoa=str(a))),
                                st.builds(
                                    lambda t, d: i6.HBHOptUnknown(otype=t, optdata=d),
                                    unknown_types,
                                    st.binary(max_size=9),
                                ),
                            ),
                            max_size=3,
                        )
                    )
                )
            )
        elif k in ("rt0", "rt2"):
            n = 1 if k == "rt2" else draw(st.integers(0, 3))
            a = [str(x) for x in draw(st.lists(addrs, min_size=n, max_size=n))]
            layers.append(
                i6.IPv6ExtHdrRouting(
                    type=0 if k == "rt0" else 2, addresses=a, segleft=draw(st.integers(0, n))
                )
            )
        else:
            layers.append(
                i6.IPv6ExtHdrFragment(
                    offset=0, m=draw(st.booleans()), id=draw(st.integers(0, 2**32 - 1))
                )
            )
    p = i6.IPv6(src=SRC, dst=DST, hlim=draw(u8), tc=draw(u8), fl=draw(st.integers(0, 0xFFFFF)))
    if draw(st.booleans()):
        p = p / i6.IPv6ExtHdrHopByHop(
            options=[i6.RouterAlert(value=draw(st.integers(0, 2)))]
            + draw(
                st.lists(
                    st.builds(
                        lambda t, d: i6.HBHOptUnknown(otype=t, optdata=d),
                        unknown_types.filter(lambda t: t >> 6 == 0),
                        st.binary(max_size=9),
                    ),
                    max_size=2,
                )
            )
        )
    for layer in layers:
        p = p / layer
    p = p / scapy_all.UDP(sport=UDP_PORT, dport=UDP_PORT) / draw(st.binary(max_size=8))
    return raw(p)


@given(scapy_packets())
def test_we_parse_scapy(b: bytes) -> None:
    assert ours(b) == scapy_summary(b) + [ours(b)[-1]]
    # Headers re-emitted by our builders are byte-identical to scapy's.
    c = walk(b, lax=True)
    for proto, off, ln in c.headers:
        seg = b[off : off + ln]
        cls = {0: HopByHop, 60: DestOpts, 43: RoutingHeader, 44: FragmentHeader}[proto]
        x = cls.from_bytes(seg)
        assert (x.to_bytes(pad=False) if proto in (0, 60) else x.to_bytes()) == seg
    assert Ipv6Header.from_bytes(b).to_bytes() == b[:40]
    # ip6_input accepts it, unless a receiver rule applies: RFC 8200 §4.4
    # (type 0 per RFC 5095, type 2 per RFC 6275 §6.4: a mobile node's, with
    # Segments Left > 0), a Fragment header after an atomic fragment's
    # (nested), or an unrecognized option's action bits.
    try:
        v = ip6_validate(b, hdrnestlimit=0)
    except kame.MalformedError as e:
        assert e.icmp is not None and e.icmp.code == 0
        if e.layer == "fragment":
            first = next(off for proto, off, _n in c.headers if proto == 44)
            assert first < e.offset and b[first + 2:first + 4] == b"\0\0"  # atomic
        else:
            assert e.layer == "routing"
            assert b[e.offset] in (0, 2) and b[e.offset + 1] > 0  # segleft > 0
    except kame.UnsupportedError as e:
        assert e.layer in ("hop-by-hop", "destination-options") and b[e.offset] >> 6 != 0
    else:
        assert v.payload_len == len(b) - 40 and v.trailing == 0


def test_scapy_jumbo_and_hao_fields() -> None:
    hbh = HopByHop([Ipv6Option.router_alert(1), Ipv6Option.jumbo(70000)], 60).to_bytes()
    d = DestOpts([Ipv6Option.home_address("2001:db8::77")], 59).to_bytes()
    p = i6.IPv6(Ipv6Header(SRC, DST, next_header=0).to_bytes() + hbh + d)
    h = p[i6.IPv6ExtHdrHopByHop]
    kinds = {type(o).__name__: o for o in h.options}
    assert kinds["Jumbo"].jumboplen == 70000 and kinds["RouterAlert"].value == 1
    assert p[i6.IPv6ExtHdrDestOpt].options[-1].hoa == "2001:db8::77"
    # Scapy-built jumbo: same bytes as ours.
    s = raw(
        i6.IPv6ExtHdrHopByHop(nh=60, options=[i6.RouterAlert(value=1), i6.Jumbo(jumboplen=70000)])
    )
    assert HopByHop.from_bytes(s) == HopByHop.from_bytes(hbh)


# ---------------------------------------------------------------------------
# tshark dissects a corpus of our packets
# ---------------------------------------------------------------------------


def write_pcap(path: Path, packets: list[bytes]) -> None:
    with path.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 101))  # LINKTYPE_RAW
        for i, p in enumerate(packets):
            f.write(struct.pack("<IIII", 1_700_000_000 + i, 0, len(p), len(p)))
            f.write(p)


def jumbogram_68000() -> bytes:
    """ping6 -b 70000 -s 68000 ::1 (seed §1.7), with a correct checksum."""
    src = dst = ipaddress.IPv6Address("::1").packed
    data = bytes(i & 0xFF for i in range(68000 - 8))
    echo = struct.pack("!BBHHH", 128, 0, 0, 0x4B41, 1) + data
    c = cksum(src, dst, 58, echo)
    echo = echo[:2] + struct.pack("!H", c) + echo[4:]
    hbh = HopByHop([Ipv6Option.jumbo(8 + len(echo))], 58).to_bytes()
    return Ipv6Header("::1", "::1", next_header=0, payload_len=0).to_bytes() + hbh + echo


def corpus() -> list[bytes]:
    """150 chains of our headers ending in UDP, plus the 68000-octet jumbogram.

    The UDP checksum follows RFC 8200 §8.1 (final destination from a Routing
    header) and RFC 6275 §6.3 (the home address from a Home Address option
    as the source), which tshark applies too.
    """
    rnd = random.Random(2675)
    out = []
    for _ in range(150):
        kinds = [rnd.choice([60, 43, 44]) for _ in range(rnd.randint(0, 4))]
        # One (atomic) Fragment header at most: a second one is nested.
        kinds = [60 if k == 44 and 44 in kinds[:i] else k for i, k in enumerate(kinds)]
        if rnd.random() < 0.5:
            kinds.insert(0, 0)
        parts = []
        ck_src, ck_dst = SRC, DST
        for i, k in enumerate(kinds):
            nxt = kinds[i + 1] if i + 1 < len(kinds) else 17
            if k in (0, 60):
                pool = [
                    Ipv6Option.pad1(),
                    Ipv6Option.padn(rnd.randint(0, 5)),
                    Ipv6Option(rnd.choice([0x1E, 0x3E]), rnd.randbytes(rnd.randint(0, 6))),
                ]
                if k == 0:
                    pool.append(Ipv6Option.router_alert(rnd.randint(0, 2)))
                else:
                    pool.append(Ipv6Option.home_address(f"2001:db8::{rnd.randint(1, 9999):x}"))
                opts = rnd.sample(pool, rnd.randint(0, len(pool)))
                for o in opts:
                    if o.type == 0xC9:
                        ck_src = str(o.value)
                parts.append((HopByHop if k == 0 else DestOpts)(opts, nxt).to_bytes())
            elif k == 43:
                home = f"2001:db8::{rnd.randint(1, 9999):x}"
                ck_dst = home
                parts.append(RoutingHeader(2, 1, [home], next_header=nxt).to_bytes())
            else:
                parts.append(FragmentHeader(0, False, rnd.getrandbits(32), nxt).to_bytes())
        body = b"".join(parts) + udp(ck_src, ck_dst, rnd.randbytes(rnd.randint(0, 20)))
        h = Ipv6Header(
            SRC,
            DST,
            next_header=kinds[0] if kinds else 17,
            hop_limit=64,
            flow_label=rnd.getrandbits(20),
            payload_len=len(body),
        )
        out.append(h.to_bytes() + body)
    out.append(jumbogram_68000())
    return out


def walk_json(node: Any, key: str = "") -> Any:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk_json(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from walk_json(v, key)
    yield key, node


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_dissects_our_corpus(tmp_path: Path) -> None:
    pkts = corpus()
    refused = set()
    for i, p in enumerate(pkts):
        # Our own validator accepts every packet but those with a type 2
        # Routing header, which is a mobile node's to process (RFC 6275
        # §6.4): the correspondent node sends them, this node is no mobile
        # node and answers Parameter Problem code 0 at the Routing Type.
        try:
            ip6_validate(p)
        except kame.MalformedError as e:
            assert e.layer == "routing" and p[e.offset] == 2, e
            assert e.icmp == kame.Icmp6Answer(4, 0, e.offset)
            refused.add(i)
    pcap = tmp_path / "wire6.pcap"
    write_pcap(pcap, pkts)
    out = subprocess.run(
        ["tshark", "-n", "-r", str(pcap), "-T", "json", "-o", "udp.check_checksum:TRUE"],
        capture_output=True,
        check=True,
        timeout=300,
    ).stdout
    frames = json.loads(out)
    assert len(frames) == len(pkts)
    for i, (fr, p) in enumerate(zip(frames, pkts)):
        layers = fr["_source"]["layers"]
        bad = [
            (k, v)
            for k, v in walk_json(layers)
            if k == "_ws.malformed" or (k == "_ws.expert.severity" and int(v) >= 0x800000)
        ]
        assert not bad, (i, bad, p.hex())
        ip = layers["ipv6"]
        h = Ipv6Header.from_bytes(p)
        assert ip["ipv6.src"] == str(h.src) and ip["ipv6.dst"] == str(h.dst)
        assert int(ip["ipv6.flow"], 16) == h.flow_label
        c = walk(p, lax=True)
        # The chain tshark saw, in order, from frame.protocols.
        seen = [x for x in layers["frame"]["frame.protocols"].split(":") if x.startswith("ipv6.")]
        names = {0: "ipv6.hopopts", 60: "ipv6.dstopts", 43: "ipv6.routing", 44: "ipv6.fraghdr"}
        assert seen == [names[h[0]] for h in c.headers], (i, seen, c.headers)
        if c.upper == 17:
            u = layers["udp"]
            assert u["udp.checksum.status"] == "1", (i, u)
            # tshark found the checksum good; it was computed over the
            # pseudo-header addresses ip6_validate reports (RFC 8200 §8.1
            # final destination, RFC 6275 §6.3 home address).
            if i in refused:
                continue
            v = ip6_validate(p)
            seg = p[c.upper_offset :]
            zeroed = seg[:6] + b"\0\0" + seg[8:]
            want = struct.unpack("!H", seg[6:8])[0]
            assert cksum(v.pseudo_src.packed, v.pseudo_dst.packed, 17, zeroed) == want, i
    # The jumbogram: tshark reads the Jumbo Payload Length and verifies the
    # ICMPv6 checksum over 68000 octets with a 32-bit pseudo-header length.
    last = frames[-1]["_source"]["layers"]
    flat = dict(walk_json(last))
    assert flat.get("ipv6.opt.jumbo") == "68008"
    assert last["icmpv6"]["icmpv6.checksum.status"] == "1"


# ---------------------------------------------------------------------------
# The Linux kernel answers the same Parameter Problems
# ---------------------------------------------------------------------------

# Run inside a private network namespace (unshare -n): bring lo up, send
# each packet with an IPPROTO_RAW socket to ::1 and collect the ICMPv6
# Parameter Problem (type 4) that quotes it, if any, within 0.3 s.
KERNEL_PROBE = r"""
import json, select, socket, subprocess, sys, time
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
time.sleep(0.2)
tx = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
rx = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
out = []
for h in json.load(sys.stdin):
    pkt = bytes.fromhex(h)
    tx.sendto(pkt, ("::1", 0))
    got = None
    end = time.monotonic() + 0.3
    while got is None and (left := end - time.monotonic()) > 0:
        if not select.select([rx], [], [], left)[0]:
            break
        m = rx.recv(65535)
        if m[0] == 4 and m[8:8 + len(pkt)] == pkt[: len(m) - 8]:
            got = [m[0], m[1], int.from_bytes(m[4:8], "big")]
    out.append(got)
print(json.dumps(out))
"""


def kernel_cases() -> list[tuple[str, bytes]]:
    lo = "::1"

    def pkt(nh: int, *parts: bytes, plen: int | None = None) -> bytes:
        body = b"".join(parts)
        n = len(body) if plen is None else plen
        return Ipv6Header(lo, lo, next_header=nh, payload_len=n).to_bytes() + body

    def dst(t: int, nxt: int = 59) -> bytes:
        return DestOpts([Ipv6Option(t, b"\0\0")], nxt).to_bytes()

    return [
        ("dst opt action 00", pkt(60, dst(0x1E))),
        ("dst opt action 01", pkt(60, dst(0x5E))),
        ("dst opt action 10", pkt(60, dst(0x9E))),
        ("dst opt action 11", pkt(60, dst(0xDE))),
        ("second dst opt action 10", pkt(60, dst(0x1E, 60), dst(0x9E))),
        ("hbh opt action 10", pkt(0, HopByHop([Ipv6Option(0x9E, b"\0\0")], 59).to_bytes())),
        ("hbh not first", pkt(60, DestOpts([], 0).to_bytes(), HopByHop([], 59).to_bytes())),
        ("rh0 segleft 1", pkt(43, RoutingHeader(0, 1, ["2001:db8::1"], next_header=59).to_bytes())),
        ("rh0 segleft 0", pkt(43, RoutingHeader(0, 0, ["2001:db8::1"], next_header=59).to_bytes())),
        (
            "rh253 segleft 0",
            pkt(43, RoutingHeader(253, 0, data=b"\0" * 4, next_header=59).to_bytes()),
        ),
        (
            "rh253 segleft 1",
            pkt(43, RoutingHeader(253, 1, data=b"\0" * 4, next_header=59).to_bytes()),
        ),
        (
            "jumbo with payload length != 0",
            pkt(0, HopByHop([Ipv6Option.jumbo(70000)], 59).to_bytes(), plen=8),
        ),
        (
            "jumbo length < 65536",
            pkt(0, HopByHop([Ipv6Option.jumbo(65535)], 59).to_bytes(), plen=0),
        ),
    ]


@pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare not installed")
def test_linux_kernel_sends_the_same_parameter_problems() -> None:
    cases = kernel_cases()
    try:
        r = subprocess.run(
            ["unshare", "-n", sys.executable, "-c", KERNEL_PROBE],
            check=False,
            input=json.dumps([p.hex() for _, p in cases]),
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"cannot run a network namespace here: {e}")
    if r.returncode != 0:
        pytest.skip(f"cannot run a network namespace here: {r.stderr.strip()[-200:]}")
    answers = json.loads(r.stdout)
    assert sum(a is not None for a in answers) == 9, answers  # the kernel did answer
    for (name, p), kernel in zip(cases, answers, strict=True):
        try:
            ip6_validate(p)
            ours = None
        except kame.ParseError as e:
            ours = None if e.icmp is None else list(e.icmp)
        assert ours == kernel, (name, ours, kernel)
