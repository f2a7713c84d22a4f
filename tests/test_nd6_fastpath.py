"""The node's NS/NA fast path (``_core.nd6_input``, ``nd6_na_output``,
``nd6_ns_output``, ``Node._nd6_input``) against the general path and scapy.

- The NA and NS the core builds are byte for byte those of the message
  objects (``NeighborAdvertisement`` / ``NeighborSolicitation`` +
  ``Ipv6Header``, the builders used before) and those scapy builds; the
  whole NA frame a node answers an NS with equals scapy's.
- On random and mutated frames, ``nd6_input`` yields fields only where the
  general parsers (``ip6_validate`` + ``parse_icmpv6`` + ``codec.to_input``)
  accept the frame, and then the same fields; a node with the fast path and
  one without end in the same state: frames out, counters, neighbor cache,
  events, log.
"""

from __future__ import annotations

import random
from ipaddress import IPv6Address as A
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from kame import _core
from kame.addr import solicited_node
from kame.errors import KameError
from kame.nd6 import codec
from kame.nd6.types import NaInput, NsInput, SendNA, SendNS
from kame.node import Node

inet6 = pytest.importorskip("scapy.layers.inet6")
l2 = pytest.importorskip("scapy.layers.l2")

MAC = bytes.fromhex("0200f8016317")
ME = A("fe80::f8ff:fe01:6317")  # the EUI-64 link-local of MAC
PEER_MAC = bytes.fromhex("020000000001")

addrs = st.integers(0, 2**128 - 1)
lladdrs = st.one_of(st.none(), st.binary(min_size=6, max_size=6), st.binary(min_size=0, max_size=30))


# --- the reference builders (message objects, as codec did before) ---------

def na_reference(src: A, dst: A, target: A, flags: int, tlla: bytes | None) -> bytes:
    opts = [_core.NdOptTargetLinkAddr(tlla)] if tlla is not None else []
    msg = _core.NeighborAdvertisement(target, bool(flags & 0x80), bool(flags & 0x40),
                                      bool(flags & 0x20), opts)
    body = msg.to_bytes(src, dst)
    hdr = _core.Ipv6Header(src, dst, next_header=58, hop_limit=255, payload_len=len(body))
    return bytes(hdr.to_bytes() + body)


def ns_reference(src: A, dst: A, target: A, slla: bytes | None, nonce: bytes | None) -> bytes:
    opts: list[Any] = []
    if slla is not None:
        opts.append(_core.NdOptSourceLinkAddr(slla))
    if nonce is not None:
        opts.append(_core.NdOptNonce(nonce))
    body = _core.NeighborSolicitation(target, opts).to_bytes(src, dst)
    hdr = _core.Ipv6Header(src, dst, next_header=58, hop_limit=255, payload_len=len(body))
    return bytes(hdr.to_bytes() + body)


def fits(ll: bytes | None) -> bool:
    """An option carries up to 255*8 - 2 octets."""
    return ll is None or len(ll) <= 255 * 8 - 2


@given(addrs, addrs, addrs, st.integers(0, 255), lladdrs)
def test_na_output_is_the_message_objects_bytes(s: int, d: int, t: int, flags: int,
                                                tlla: bytes | None) -> None:
    fast = _core.nd6_na_output(s, d, t, flags, tlla)
    assert fast == na_reference(A(s), A(d), A(t), flags, tlla)


@given(addrs, addrs, addrs, lladdrs, st.one_of(st.none(), st.binary(min_size=0, max_size=40)))
def test_ns_output_is_the_message_objects_bytes(s: int, d: int, t: int, slla: bytes | None,
                                                nonce: bytes | None) -> None:
    fast = _core.nd6_ns_output(s, d, t, slla, nonce)
    assert fast == ns_reference(A(s), A(d), A(t), slla, nonce)


@given(st.booleans(), st.booleans(), st.booleans(), st.booleans(),
       st.one_of(st.none(), st.binary(min_size=6, max_size=6)))
def test_codec_build_na_matches_reference_and_scapy(router: bool, solicited: bool,
                                                    override: bool, include: bool,
                                                    proxied: bytes | None) -> None:
    peer = A("fe80::1")
    a = SendNA("eth0", ME, peer, ME, router, solicited, override, include, proxied)
    pkt = codec.build_na(a, ME, MAC)
    ll = proxied if proxied is not None else MAC
    flags = 0x80 * router | 0x40 * solicited | 0x20 * override
    assert pkt == na_reference(ME, peer, ME, flags, ll if include else None)
    sc = inet6.IPv6(src=str(ME), dst=str(peer), hlim=255) / inet6.ICMPv6ND_NA(
        tgt=str(ME), R=int(router), S=int(solicited), O=int(override))
    if include:
        sc = sc / inet6.ICMPv6NDOptDstLLAddr(lladdr=":".join(f"{b:02x}" for b in ll))
    assert pkt == bytes(sc)


def test_codec_build_ns_matches_scapy() -> None:
    peer = A("fe80::1")
    pkt = codec.build_ns(SendNS("eth0", peer, solicited_node(peer), None, True), ME, MAC)
    assert pkt == bytes(inet6.IPv6(src=str(ME), dst=str(solicited_node(peer)), hlim=255)
                        / inet6.ICMPv6ND_NS(tgt=str(peer))
                        / inet6.ICMPv6NDOptSrcLLAddr(lladdr="02:00:f8:01:63:17"))
    dad = codec.build_ns(SendNS("eth0", ME, solicited_node(ME), A("::"), False), A("::"), MAC)
    assert dad == bytes(inet6.IPv6(src="::", dst=str(solicited_node(ME)), hlim=255)
                        / inet6.ICMPv6ND_NS(tgt=str(ME)))
    # with an RFC 7527 nonce: scapy dissects the NS and its checksum holds
    p = inet6.IPv6(codec.build_ns(SendNS("eth0", peer, solicited_node(peer), None, True,
                                         b"\x01" * 6), ME, MAC))
    assert p[inet6.ICMPv6ND_NS].tgt == str(peer)
    ck = p[inet6.ICMPv6ND_NS].cksum
    del p[inet6.ICMPv6ND_NS].cksum
    assert inet6.IPv6(bytes(p))[inet6.ICMPv6ND_NS].cksum == ck


# --- nodes ------------------------------------------------------------------

def fresh_node(fast: bool, **knobs: int) -> Node:
    node = Node("fp", seed=7)
    for k, v in knobs.items():
        node.knobs[k] = v
    node.add_interface("eth0", MAC)
    node.up("eth0", 0.0)
    while (d := node.next_deadline()) is not None and d < 5:
        node.poll(d)
    node.add_address("eth0", "2001:db8::1/64", 5.0)
    while (d := node.next_deadline()) is not None and d < 8:
        node.poll(d)
    node.drain_events()
    node.log.drain()
    node.nd6_fastpath = fast
    return node


def state(node: Node, out: list[Any]) -> Any:
    cache = sorted((ln.ifname, int(ln.addr), int(ln.state), ln.lladdr, ln.is_router,
                    ln.asked, ln.expire, len(ln.hold)) for ln in node.cache)
    return (out, node.stats.nonzero(), dict(node.stats.outhist), cache, node.drain_events(),
            node.log.drain(), node.cache.next_deadline())


def test_answered_na_frame_is_scapys() -> None:
    """The whole frame out: Ethernet + IPv6 + NA + TLLA, equal to scapy's."""
    peer = A("fe80::1")
    ns = codec.ether(bytes.fromhex("3333ff016317"), PEER_MAC,
                     codec.build_ns(SendNS("eth0", ME, solicited_node(ME), peer, True),
                                    peer, PEER_MAC))
    for fast in (True, False):
        node = fresh_node(fast)
        out = node.receive("eth0", ns, 10.0)
        want = (l2.Ether(dst="02:00:00:00:00:01", src="02:00:f8:01:63:17")
                / inet6.IPv6(src=str(ME), dst=str(peer), hlim=255)
                / inet6.ICMPv6ND_NA(tgt=str(ME), R=0, S=1, O=1)
                / inet6.ICMPv6NDOptDstLLAddr(lladdr="02:00:f8:01:63:17"))
        assert out == [("eth0", bytes(want))]
        assert node.stats["ip6s_delivered"] == 1


MY_ADDRS = [ME, A("2001:db8::1")]
SRCS = [A("fe80::1"), A("fe80::2"), A("::"), A("2001:db8::5"), A("::1"), A("::ffff:10.0.0.1"),
        A("2002:a00::1"), A("fe80:1::1"), A("ff02::1"), ME, A("::5"), A("fec0::1")]
DSTS = [solicited_node(ME), solicited_node(A("2001:db8::1")), ME, A("2001:db8::1"),
        A("ff02::1"), A("ff02::2"), A("ff02::1:ff00:99"), A("fe80::99"), A("ff02:5::1"),
        A("2001:db8::99"), A("::"), A("ff05::1")]
TARGETS = [ME, A("2001:db8::1"), A("fe80::99"), A("ff02::1"), A("fe80::1"), A("::")]


@st.composite
def nd_frames(draw: Any) -> bytes:
    """An NS or NA (or a few other messages), well formed or not, then
    perhaps mutated."""
    src = draw(st.one_of(st.sampled_from(SRCS[:3]), st.sampled_from(SRCS)))
    dst = draw(st.one_of(st.sampled_from(DSTS[:4]), st.sampled_from(DSTS)))
    target = draw(st.sampled_from(TARGETS))
    hlim = draw(st.sampled_from([255, 255, 255, 254, 1, 64]))
    kind = draw(st.sampled_from(["ns", "ns", "na", "na", "rs", "echo"]))
    opts: list[Any] = []
    for _ in range(draw(st.integers(0, 3))):
        opts.append(draw(st.sampled_from([
            _core.NdOptSourceLinkAddr(PEER_MAC), _core.NdOptSourceLinkAddr(b"\x02" * 8),
            _core.NdOptTargetLinkAddr(PEER_MAC), _core.NdOptTargetLinkAddr(MAC),
            _core.NdOptNonce(b"abcdef"), _core.NdOptMtu(1500),
            _core.NdOptUnknown(200, b"\x00" * 6)])))
    if draw(st.integers(0, 9)) == 0:
        opts += [_core.NdOptUnknown(201, b"\x00" * 6)] * 12  # past nd6_maxndopt
    if kind == "ns":
        msg: Any = _core.NeighborSolicitation(target, opts)
    elif kind == "na":
        f = draw(st.integers(0, 7))
        msg = _core.NeighborAdvertisement(target, bool(f & 4), bool(f & 2), bool(f & 1), opts)
    elif kind == "rs":
        msg = _core.RouterSolicitation(opts)
    else:
        msg = _core.Icmpv6Echo(128, 1, 2, b"x")
    body = bytearray(msg.to_bytes(src, dst))
    hbh = b""
    if draw(st.integers(0, 9)) == 0:
        hbh = bytes([58, 0, 1, 4, 0, 0, 0, 0])  # Hop-by-Hop with PadN
    nh = 0 if hbh else 58
    hdr = _core.Ipv6Header(src, dst, next_header=nh, hop_limit=hlim,
                           payload_len=len(hbh) + len(body)).to_bytes()
    smac = draw(st.sampled_from([PEER_MAC, PEER_MAC, MAC]))
    frame = bytearray(b"\x33\x33\xff\x01\x63\x17" + smac + b"\x86\xdd" + bytes(hdr) + hbh
                      + bytes(body))
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        if frame and draw(st.booleans()):
            i = draw(st.integers(0, len(frame) - 1))
            frame[i] ^= 1 << draw(st.integers(0, 7))
        elif draw(st.booleans()):
            del frame[draw(st.integers(0, len(frame))):]
        else:
            frame += draw(st.binary(min_size=1, max_size=8))
    return bytes(frame)


def general_fields(frame: bytes) -> Any:
    """What the general path makes of a frame, as far as the state machines:
    the typed input, or None where it stops."""
    if len(frame) < 14 or frame[12:14] != b"\x86\xdd":
        return None
    try:
        v = _core.ip6_validate(frame[14:], 50)
        h = v.header
        if v.chain.upper != 58:
            return None
        msg = _core.parse_icmpv6(frame[14 + v.chain.upper_offset:14 + v.packet_len],
                                 h.src, h.dst, 10)
    except KameError:
        return None
    return codec.to_input(h.src, h.dst, h.hop_limit, msg)


@given(nd_frames())
def test_nd6_input_agrees_with_the_general_parsers(frame: bytes) -> None:
    fast = _core.nd6_input(frame, 50, 10, None)
    slow = general_fields(frame)
    event("fast path" if fast is not None else "general path")
    if fast is None:
        return
    typ, src, dst, hlim, target, flags, ll, nonce, ignored = fast
    if typ == 135:
        assert slow == NsInput(A(src), A(dst), hlim, A(target), ll, nonce, 0, ignored)
    else:
        assert typ == 136
        assert slow == NaInput(A(src), A(dst), hlim, A(target), bool(flags & 0x80),
                               bool(flags & 0x40), bool(flags & 0x20), ll, 0, ignored)


@given(st.binary(max_size=120))
def test_nd6_input_on_noise(frame: bytes) -> None:
    fast = _core.nd6_input(frame)
    assert fast is None or general_fields(frame) is not None


@given(st.lists(nd_frames(), min_size=1, max_size=4), st.booleans())
def test_node_fast_and_general_paths_agree(frames: list[bytes], forwarding: bool) -> None:
    kn = {"net.inet6.ip6.forwarding": int(forwarding)}
    a, b = fresh_node(True, **kn), fresh_node(False, **kn)
    for i, f in enumerate(frames):
        now = 10.0 + i
        event("fast path" if _core.nd6_input(f, 50, 10, MAC) else "general path")
        assert state(a, a.receive("eth0", f, now)) == state(b, b.receive("eth0", f, now))
    t = 20.0
    assert state(a, a.poll(t)) == state(b, b.poll(t))


@given(st.lists(nd_frames(), min_size=1, max_size=6))
def test_receive_many_is_receive_in_turn(frames: list[bytes]) -> None:
    a, b = fresh_node(True), fresh_node(True)
    out_b: list[Any] = []
    for f in frames:
        out_b += b.receive("eth0", f, 10.0)
    assert state(a, a.receive_many("eth0", frames, 10.0)) == state(b, out_b)


def test_ns_flood_through_the_node_stays_bounded() -> None:
    """Random sources: every NS creates an entry, the cap evicts; the timer
    heap stays within about twice the entries."""
    node = fresh_node(True, **{"net.inet6.icmp6.nd6_maxentries": 64})
    rnd = random.Random(3)
    for i in range(2000):
        src = A((0xFE80 << 112) | rnd.getrandbits(64))
        mac = bytes([2]) + rnd.getrandbits(40).to_bytes(5, "big")
        f = codec.ether(b"\x33\x33\xff\x01\x63\x17", mac,
                        codec.build_ns(SendNS("eth0", ME, solicited_node(ME), src, True), src, mac))
        assert node.receive("eth0", f, 10.0 + i * 1e-3), "each NS is answered"
    assert len(node.cache) <= 64
    assert node.stats["icp6s_nd_cachefull"] >= 2000 - 64
    assert len(node.cache._timers) <= 2 * len(node.cache) + 64


def test_addr6_is_ipv6address() -> None:
    for x in (0, 1, 2**128 - 1, int(ME)):
        a = codec.addr6(x)
        assert a == A(x) and hash(a) == hash(A(x)) and str(a) == str(A(x))
        assert a.scope_id is None and codec.addr6(x) is a
    with pytest.raises(ValueError):
        codec.addr6(2**128)
    with pytest.raises(ValueError):
        codec.addr6(-1)


def test_send_na_builder_is_a_frozen_send_na() -> None:
    from dataclasses import FrozenInstanceError

    from kame.nd6.nbr import _send_na
    args = ("eth0", ME, A("fe80::1"), ME, False, True, True, True, None)
    a = _send_na(*args)
    assert type(a) is SendNA and a == SendNA(*args) and hash(a) == hash(SendNA(*args))
    assert repr(a) == repr(SendNA(*args))
    with pytest.raises(FrozenInstanceError):
        a.router = True


def test_fast_path_follows_group_changes() -> None:
    """An NS to a solicited-node group is taken while joined, refused
    (ip6s_notmember, by the general path) once left, as without the fast
    path; also after ifconfig down/up."""
    peer = A("fe80::1")
    sn = solicited_node(A("2001:db8::1"))
    f = codec.ether(b"\x33\x33" + sn.packed[12:], PEER_MAC,
                    codec.build_ns(SendNS("eth0", A("2001:db8::1"), sn, peer, True), peer, PEER_MAC))
    for fast in (True, False):
        node = fresh_node(fast)
        assert node.receive("eth0", f, 10.0)
        node.leave("eth0", sn, 10.5)
        node.receive("eth0", f, 11.0)
        assert node.stats["ip6s_notmember"] == 1
        node.join("eth0", sn, 11.5)
        assert node.receive("eth0", f, 12.0)
        node.down("eth0", 13.0)
        assert node.receive("eth0", f, 13.5) == []
        node.up("eth0", 14.0)
        node.receive("eth0", f, 14.5)
        assert node.stats["ip6s_notmember"] == 2, "2001:db8::1 is gone with down()"
