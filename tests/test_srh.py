"""The Segment Routing Header (RFC 8754) decode, and what the node does
with every routing type (issue 8 item 3).

Oracles: scapy builds SRHs that we decode field by field and re-emit byte
for byte; scapy decodes what we build; tshark dissects our SRHs to the same
fixed fields and segment list. Lengths that lie (Last Entry beyond the
header, a TLV overrunning it) are typed errors, never a wrong decode.

Node: this node is neither a Mobile IPv6 mobile node nor an SRv6 node. A
Routing header of type 0 (RFC 5095), 2 (RFC 6275 §6.4 is the mobile node's
to process), 3 (RPL) or 4 (RFC 8754 §4.3.2) follows RFC 8200 §4.4: skipped
with Segments Left 0, else Parameter Problem code 0 pointing at the Routing
Type, counted in ip6s_badoptions.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import tempfile
from ipaddress import IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kame
from kame import RoutingHeader, SegmentRoutingHeader, SrhTlv

inet6 = pytest.importorskip("scapy.layers.inet6")
from scapy.packet import Raw

SRH = inet6.IPv6ExtHdrSegmentRouting
GenericTlv = inet6.IPv6ExtHdrSegmentRoutingTLV

addrs = st.integers(0, 2**128 - 1).map(IPv6Address)
segment_lists = st.lists(addrs, min_size=1, max_size=8)


@st.composite
def tlvs(draw: st.DrawFn) -> list[tuple[int, bytes]]:
    """(type, data) pairs; type 0 is Pad1 (no data)."""
    out = []
    for _ in range(draw(st.integers(0, 4))):
        t = draw(st.sampled_from([0, 4, 5, 1, 2, 0x80, 0xFF]))
        if t == 0:
            out.append((0, b""))
        elif t == 5:
            out.append((5, draw(st.binary(min_size=6, max_size=6 + 32))))
        else:
            out.append((t, draw(st.binary(max_size=40))))
    return out


def tlv_bytes(items: list[tuple[int, bytes]]) -> bytes:
    return b"".join(b"\0" if t == 0 else bytes([t, len(d)]) + d for t, d in items)


def pad_to_8(n: int) -> bytes:
    k = (8 - n % 8) % 8
    return b"" if k == 0 else b"\0" if k == 1 else bytes([4, k - 2]) + bytes(k - 2)


def scapy_srh(segs: list[IPv6Address], sl: int, tag: int, flags: int,
              items: list[tuple[int, bytes]]) -> bytes:
    """An SRH built by scapy; TLVs as generic scapy TLVs (scapy's own HMAC
    class counts Length as 48 + HMAC, where RFC 8754 §2.1.2 and Linux's
    seg6_hmac.c count 6 + HMAC), padded by us, then scapy computes Hdr Ext
    Len and Last Entry."""
    objs = []
    for t, d in items:
        objs.append(inet6.IPv6ExtHdrSegmentRoutingTLVPad1() if t == 0
                    else GenericTlv(type=t, len=len(d), value=d))
    body = 8 + 16 * len(segs) + len(tlv_bytes(items))
    pad = pad_to_8(body)
    if pad:
        objs.append(inet6.IPv6ExtHdrSegmentRoutingTLVPadN(padding=pad[2:]) if len(pad) > 1
                    else inet6.IPv6ExtHdrSegmentRoutingTLVPad1())
    h = SRH(nh=17, addresses=[str(a) for a in segs], segleft=sl, tag=tag, tlv_objects=objs)
    b = bytearray(bytes(h))
    b[5] = flags
    return bytes(b)


@given(segs=segment_lists, sl=st.integers(0, 255), tag=st.integers(0, 0xFFFF),
       flags=st.integers(0, 255), items=tlvs())
def test_decodes_what_scapy_builds(segs, sl, tag, flags, items) -> None:
    b = scapy_srh(segs, sl, tag, flags, items)
    h = SegmentRoutingHeader.from_bytes(b)
    assert (h.next_header, h.segments_left, h.tag, h.flags) == (17, sl, tag, flags)
    assert h.segments == segs and h.last_entry == len(segs) - 1
    got = [(t.type, t.data) for t in h.tlvs]
    assert got[:len(items)] == items
    for t, (ty, d) in zip(h.tlvs, items):
        if ty == 5:
            assert (t.d, t.key_id, t.value) == (bool(d[0] & 0x80), int.from_bytes(d[2:6], "big"),
                                                d[6:])
    assert h.to_bytes(pad=False) == b
    assert len(h) == len(b)
    # The same header seen as a Routing header and through kame.parse.
    r = RoutingHeader.from_bytes(b)
    assert r.routing_type == 4 and r.srh == h
    pkt = (inet6.IPv6(src="2001:db8::1", dst="2001:db8::2", nh=43).build()[:40])
    pkt = bytearray(pkt + b + struct.pack("!HHHH", 7, 7, 8, 0))
    struct.pack_into("!H", pkt, 4, len(pkt) - 40)
    pkt[40] = 17
    if sl == 0:
        (rh,) = kame.parse(bytes(pkt), verify_cksum=False).headers
        assert rh.srh == h


@given(segs=segment_lists, sl=st.integers(0, 255), tag=st.integers(0, 0xFFFF),
       items=tlvs().map(lambda x: [(t, d) for t, d in x if t in (0, 4, 0x80, 0xFF)]))
def test_scapy_decodes_what_we_build(segs, sl, tag, items) -> None:
    # Not the HMAC TLV (scapy counts its Length as 48 + HMAC) nor types 1
    # and 2 (scapy reads them with the fixed layouts of an old draft).
    h = SegmentRoutingHeader(segs, sl, [SrhTlv(t, d) for t, d in items], tag=tag,
                             next_header=17)
    b = h.to_bytes()
    assert len(b) % 8 == 0 and len(b) == len(h)
    s = SRH(b)
    assert (s.nh, s.len, s.type, s.segleft, s.lastentry, s.tag) == (
        17, len(b) // 8 - 1, 4, sl, len(segs) - 1, tag)
    assert [IPv6Address(a) for a in s.addresses] == segs
    theirs = b"".join(bytes(t) for t in s.tlv_objects)
    assert theirs == b[8 + 16 * len(segs):]


@given(data=st.binary(min_size=8, max_size=200), le=st.integers(0, 255),
       hel=st.integers(0, 30))
def test_lying_lengths_are_typed_errors(data: bytes, le: int, hel: int) -> None:
    b = bytearray(data)
    b[1], b[2], b[4] = hel, 4, le
    b = bytes(b)
    try:
        h = SegmentRoutingHeader.from_bytes(b)
    except kame.TruncatedError:
        assert len(b) < (hel + 1) * 8
        return
    except kame.MalformedError as e:
        assert e.layer == "routing" and e.offset is not None and e.offset < (hel + 1) * 8
        if 8 + 16 * (le + 1) > (hel + 1) * 8:
            assert e.offset == 4  # Last Entry
        return
    assert 8 + 16 * (le + 1) <= (hel + 1) * 8
    assert h.to_bytes(pad=False) == b[:(hel + 1) * 8]


def test_lying_lengths_named() -> None:
    good = SegmentRoutingHeader(["2001:db8::9", "2001:db8::2"],
                                tlvs=[SrhTlv.hmac(7, bytes(32))]).to_bytes()
    assert len(good) == 80
    le = bytearray(good)
    le[4] = 4  # 5 segments: 88 octets > 80
    with pytest.raises(kame.MalformedError) as ei:
        SegmentRoutingHeader.from_bytes(bytes(le))
    assert ei.value.offset == 4 and "Last Entry" in ei.value.reason
    over = bytearray(good)
    over[41] = 39  # the HMAC TLV's Length: one octet past the header
    with pytest.raises(kame.MalformedError) as ei:
        SegmentRoutingHeader.from_bytes(bytes(over))
    assert ei.value.offset == 41 and "TLV" in ei.value.reason
    with pytest.raises(kame.MalformedError):
        RoutingHeader.from_bytes(bytes(over)).srh  # noqa: B018
    short = bytearray(good)
    short[40:48] = bytes([5, 5, 0, 0, 0, 0, 0, 0])
    short[48:] = bytes(32)
    with pytest.raises(kame.MalformedError):
        SegmentRoutingHeader.from_bytes(bytes(short))
    with pytest.raises(kame.TruncatedError):
        SegmentRoutingHeader.from_bytes(good[:79])
    with pytest.raises(ValueError):
        SegmentRoutingHeader([])
    with pytest.raises(ValueError):
        SrhTlv(5, b"\0" * 5)
    with pytest.raises(ValueError):
        SrhTlv(0, b"x")
    with pytest.raises(kame.MalformedError):
        SegmentRoutingHeader(["::1"], tlvs=[SrhTlv(9, b"x")]).to_bytes(pad=False)
    assert SrhTlv.from_bytes(SrhTlv.hmac(1, b"k" * 8, d=True).to_bytes()).d is True


# --- tshark -----------------------------------------------------------------

TSHARK = shutil.which("tshark")


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
def test_tshark_dissects_ours_the_same() -> None:
    import random

    rnd = random.Random(8754)
    hdrs, frames = [], []
    for i in range(12):
        segs = [IPv6Address(rnd.getrandbits(128)) for _ in range(rnd.randint(1, 6))]
        tl = [SrhTlv.hmac(rnd.getrandbits(32), rnd.randbytes(32))] if i % 3 == 0 else []
        h = SegmentRoutingHeader(segs, 0, tl, flags=0, tag=rnd.getrandbits(16), next_header=17)
        b = h.to_bytes()
        ip = bytearray(40)
        ip[0] = 0x60
        struct.pack_into("!HBB", ip, 4, len(b) + 8, 43, 64)
        ip[8:24] = IPv6Address("2001:db8::1").packed
        ip[24:40] = IPv6Address("2001:db8::2").packed
        hdrs.append(h)
        frames.append(bytes(ip) + b + struct.pack("!HHHH", 7, 7, 8, 0))
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "srh.pcap")
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
            for i, p in enumerate(frames):
                f.write(struct.pack("<IIII", 1_700_000_000 + i, 0, len(p), len(p)))
                f.write(p)
        out = subprocess.run([TSHARK, "-r", path, "-T", "json", "--no-duplicate-keys"],
                             check=True, capture_output=True, text=True, timeout=120).stdout
    assert "_ws.malformed" not in out
    pkts = json.loads(out)
    assert len(pkts) == len(hdrs)
    for pkt, h in zip(pkts, hdrs):
        rt = pkt["_source"]["layers"]["ipv6"]["ipv6.routing"]
        addrs = rt["ipv6.routing.srh.addr"]
        addrs = addrs if isinstance(addrs, list) else [addrs]
        assert [IPv6Address(a) for a in addrs] == h.segments
        assert int(rt["ipv6.routing.type"]) == 4
        assert int(rt["ipv6.routing.segleft"]) == h.segments_left
        assert int(rt["ipv6.routing.len"]) == len(h) // 8 - 1
        assert int(rt["ipv6.routing.srh.last_entry"]) == h.last_entry
        assert int(rt["ipv6.routing.srh.flags"], 16) == h.flags
        assert int(rt["ipv6.routing.srh.tag"].replace(":", ""), 16) == h.tag
        assert int(rt["ipv6.routing.nxt"]) == 17


# --- what the node does with each routing type -----------------------------------

from nodewire import DST, SRC, answer, feed, make_node


def echo_with(rh: bytes) -> bytes:
    return bytes(inet6.IPv6(src=SRC, dst=DST, nh=43) / Raw(rh)
                 / inet6.ICMPv6EchoRequest(data=b"rt"))


def routing(rtype: int, sl: int, n_addr: int = 1, home: str = DST) -> bytes:
    if rtype == 4:
        return SegmentRoutingHeader([home] * n_addr, sl, next_header=58).to_bytes()
    if rtype in (0, 2):
        return RoutingHeader(rtype, sl, [home] * n_addr, next_header=58).to_bytes()
    return RoutingHeader(rtype, sl, data=bytes(4 + 16 * n_addr), next_header=58).to_bytes()


@pytest.mark.parametrize(("rtype", "sl", "n", "home"), [
    (0, 0, 1, DST), (0, 1, 1, DST),
    (2, 0, 1, DST), (2, 1, 1, DST), (2, 1, 1, "2001:db8::77"), (2, 1, 2, DST), (2, 2, 2, DST),
    (3, 1, 1, DST), (4, 0, 1, DST), (4, 1, 2, DST), (4, 5, 1, DST), (253, 0, 1, DST),
])
def test_node_routing_types(rtype: int, sl: int, n: int, home: str) -> None:
    """RFC 8200 §4.4 for every type this node does not process: Segments
    Left 0 is skipped (the echo is answered), else Parameter Problem code
    0 pointing at the Routing Type (offset 42), counted ip6s_badoptions.
    For type 2 neither the length nor the home address change that (the
    RFC 6275 §6.4 checks are a mobile node's)."""
    pkt = echo_with(routing(rtype, sl, n, home))
    node = make_node()
    got = [answer(p) for p in feed(node, [pkt])]
    if sl == 0:
        assert got == [("echo-reply", b"rt")]
        assert node.stats["ip6s_badoptions"] == 0
    else:
        assert got == [(4, 0, 42, pkt)]
        assert node.stats["ip6s_badoptions"] == 1
        with pytest.raises(kame.MalformedError) as ei:
            kame.ip6_validate(pkt)
        assert ei.value.icmp == kame.Icmp6Answer(4, 0, 42)
