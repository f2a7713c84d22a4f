"""Fragments whose fragmentable part starts with an extension header
(RFC 8200 §4.5, issue 8 item 1).

After a Fragment header whose Fragment Offset is not zero nothing is a
header until reassembly: the chain walker stops there (``upper`` 44, the
fragment data at ``upper_offset``), and ``parse``, ``ip6_validate`` and the
node see fragment data, not a Routing, Destination Options, AH... header.
In a first fragment the headers after the Fragment header are read but
judged only after reassembly. Trains built with scapy (tests/fragtrains.py)
put every extension header first in the fragmentable part, AH included,
with cut points and arrival orders drawn by hypothesis; the node must
answer a train exactly as it answers the same datagram unfragmented.
"""

from __future__ import annotations

import random
import struct
from ipaddress import IPv6Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kame
from kame import _core

ft = pytest.importorskip("fragtrains")
from nodewire import DST, MAC_NODE, MAC_PEER, SRC, answer, feed, make_node

UPPER_PROTO = {"echo": 58, "udp": 17}

firsts = st.sampled_from(ft.FIRST)
uppers = st.sampled_from(ft.UPPERS)
datas = st.binary(min_size=0, max_size=400)


@st.composite
def cut_lists(draw: st.DrawFn, max_len: int = 480) -> list[int]:
    """Up to four distinct cut points, multiples of 8."""
    units = draw(st.lists(st.integers(1, max_len // 8), max_size=4, unique=True))
    return sorted(u * 8 for u in units)


# --- the chain walker, parse, ip6_validate -----------------------------------


@given(first=firsts, upper=uppers, data=datas, cuts=cut_lists())
def test_non_first_fragments_are_fragment_data(first: str, upper: str, data: bytes,
                                               cuts: list[int]) -> None:
    whole = ft.datagram(SRC, DST, first, upper, data)
    frags = ft.train(whole, cuts, 0x1234)
    for f in frags[1:]:
        for c in (_core.walk(f), _core.walk(f, lax=True), _core.ip6_validate(f).chain):
            assert c.headers == [(44, 40, 8)]
            assert (c.upper, c.upper_offset, c.upper_nh_offset) == (44, 48, 40)
            assert c.fragment is not None and c.fragment.offset != 0
            assert c.fragment.next_header == whole[6]
            assert not c.truncated
        p = kame.parse(f)
        assert p.upper_proto == 44 and p.upper_offset == 48
        assert p.sport is None and p.icmp_type is None and p.cksum_ok is None
        assert p.upper_bytes == f[48:]
    # The first fragment is never judged by what follows its Fragment header
    # (an atomic fragment is: it is processed alone, RFC 6946).
    f0 = frags[0]
    if len(frags) == 1 and first == "frag":
        with pytest.raises(kame.MalformedError):
            _core.ip6_validate(f0)
        return
    c = _core.ip6_validate(f0).chain
    assert c.headers[0] == (44, 40, 8) and c.unfragmentable_len == 40
    if len(frags) > 1 and ft.first_fragment_complete(first, upper, len(f0) - 48):
        assert not c.truncated
        assert c.upper == (50 if first == "esp" else UPPER_PROTO[upper])
    kame.parse(f0)


@pytest.mark.parametrize("nh", [0, 43, 44, 51, 60])
def test_fragment_data_that_looks_like_a_bad_header(nh: int) -> None:
    """Data that would be a misplaced Hop-by-Hop header, a type 0 Routing
    header with Segments Left 5, a truncated Fragment or AH header, or a
    Destination Options header with an unknown action-10 option: as
    fragment data it is nobody's business before reassembly."""
    bad = {0: bytes([17, 0, 1, 4, 0, 0, 0, 0]),
           43: bytes([17, 2, 0, 5]) + bytes(20),
           44: bytes([17, 0]),
           51: bytes([17, 200, 0, 0]),
           60: bytes([17, 0, 0x9e, 4, 0, 0, 0, 0])}[nh]
    f = (bytes.fromhex("60000000") + struct.pack("!H", 8 + len(bad)) + bytes([44, 64])
         + IPv6Address(SRC).packed + IPv6Address(DST).packed
         + bytes([nh, 0, 0, 8 * 3, 0, 0, 0, 9]) + bad)
    v = _core.ip6_validate(f)
    assert (v.chain.upper, v.chain.upper_offset) == (44, 48)
    assert kame.parse(f).upper_proto == 44
    n = make_node()
    assert feed(n, [f]) == []
    assert n.stats["ip6s_badoptions"] == 0 and n.stats["ip6s_fragments"] == 1


def test_first_fragment_headers_judged_after_reassembly() -> None:
    """A type 0 Routing header with Segments Left 1 in the fragmentable
    part: the first fragment passes ip6_validate, and the Parameter Problem
    comes after reassembly, pointing into the reassembled datagram (the
    Linux kernel does the same)."""
    from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6, IPv6ExtHdrRouting

    whole = bytes(IPv6(src=SRC, dst=DST) / IPv6ExtHdrRouting(type=0, segleft=1, addresses=[SRC])
                  / ICMPv6EchoRequest(data=b"z" * 64))
    frags = ft.train(whole, [40], 7)
    c = _core.ip6_validate(frags[0]).chain
    assert c.headers == [(44, 40, 8), (43, 48, 24)] and c.upper == 58
    n = make_node()
    got = [answer(p) for p in feed(n, frags)]
    assert got == [(4, 0, 42, whole)]


def test_truncated_chain_in_first_fragment_is_rfc7112_not_tooshort() -> None:
    whole = ft.datagram(SRC, DST, "rt0", "echo", b"q" * 100)
    frags = ft.train(whole, [8], 8)
    c = _core.ip6_validate(frags[0]).chain
    assert c.truncated and c.upper == 43 and c.upper_offset == 48
    n = make_node()
    assert [answer(p) for p in feed(n, frags[:1])] == [(4, 3, 0, frags[0])]
    assert n.stats["ip6s_tooshort"] == 0 and n.stats["ip6s_fragincomplete"] == 1


# --- reassembly and the node ---------------------------------------------------


@given(first=firsts, upper=uppers, data=datas, cuts=cut_lists(),
       rnd=st.randoms(use_true_random=False))
@settings(max_examples=150)
def test_train_reassembles_and_is_answered_as_the_whole(first: str, upper: str, data: bytes,
                                                        cuts: list[int],
                                                        rnd: random.Random) -> None:
    whole = ft.datagram(SRC, DST, first, upper, data)
    frags = ft.train(whole, cuts, rnd.getrandbits(32))
    order = frags[:]
    rnd.shuffle(order)
    complete = len(frags) == 1 or ft.first_fragment_complete(first, upper, len(frags[0]) - 48)
    r = kame.Reassembler()
    outs = [r.input_packet(f, 0.0) for f in order]
    kinds = [o.kind for o in outs]
    if len(frags) == 1:
        assert kinds == ["reassembled"] and outs[0].packet == whole  # an atomic fragment
    elif complete:
        assert kinds == ["incomplete"] * (len(frags) - 1) + ["reassembled"]
        assert outs[-1].packet == whole
    else:
        assert "reassembled" not in kinds
        (a,) = [o for o in outs if o.kind == "answer"]
        assert a.icmp == kame.Icmp6Answer(4, 3, 0)

    got = [answer(p) for p in feed(make_node(), order)]
    if not complete:
        assert got == [(4, 3, 0, frags[0])]
        return
    if first == "frag":
        # A Fragment header inside a reassembled datagram (or after an atomic
        # fragment's): Parameter Problem code 0 pointing at it, as Linux.
        ptr = 48 if len(frags) == 1 else 40
        assert got == [(4, 0, ptr, (frags[0] if len(frags) == 1 else whole))]
        return
    alone = [answer(p) for p in feed(make_node(), [whole])]
    assert got == alone
    if first == "esp":
        assert got == [(4, 1, 6, whole)]
    elif first != "ah":  # AH without a key engine: issue 8 item 2 decides
        if upper == "echo":
            assert got == [("echo-reply", data)]
        else:
            assert got == [(1, 4, 0, whole)]


def dst_train(k: int) -> tuple[bytes, list[bytes]]:
    from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6, IPv6ExtHdrDestOpt

    pkt = IPv6(src=SRC, dst=DST)
    for _ in range(k):
        pkt = pkt / IPv6ExtHdrDestOpt()
    whole = bytes(pkt / ICMPv6EchoRequest(data=b"n" * 40))
    return whole, ft.train(whole, [8 * k + 8], 0x4E57)


@pytest.mark.parametrize(("k", "ok_whole", "ok_train"), [(48, True, True), (49, True, False)])
def test_hdrnestlimit_counts_the_fragment_header(k: int, ok_whole: bool, ok_train: bool) -> None:
    """Seed §1.8 as KAME counts it: IPv6 + k Destination Options + ICMPv6
    is k + 1 headers; reassembled, the Fragment header that ip6_input met on
    the way counts too (k + 2). The first fragment's own walk is not judged
    past its Fragment header."""
    whole, frags = dst_train(k)
    _core.ip6_validate(frags[0])  # not refused before reassembly
    n = make_node()
    got = [answer(p) for p in feed(n, [whole])]
    assert bool(got[:1] and got[0][0] == "echo-reply") == ok_whole
    r = kame.Reassembler()
    out = [r.input_packet(f, 0.0) for f in frags][-1]
    assert out.kind == "reassembled" and out.packet == whole
    if ok_train:
        _core.ip6_validate(out.packet, 50, reassembled=True)
    else:
        with pytest.raises(kame.HeaderLimitError):
            _core.ip6_validate(out.packet, 50, reassembled=True)
    n = make_node()
    got = [answer(p) for p in feed(n, frags)]
    assert bool(got[:1] and got[0][0] == "echo-reply") == ok_train
    assert n.stats["ip6s_toomanyhdr"] == (0 if ok_train else 1)
    assert n.stats["ip6s_reassembled"] == 1


def test_nested_fragment_refused() -> None:
    """A Fragment header after an atomic fragment's, or inside a
    reassembled datagram: Parameter Problem code 0 pointing at it (Linux's
    rule; RFC 8200 defines no nesting)."""
    whole = ft.datagram(SRC, DST, "frag", "echo", b"w" * 32)
    atomic = ft.train(whole, [], 5)[0]
    with pytest.raises(kame.MalformedError) as ei:
        _core.ip6_validate(atomic)
    assert ei.value.icmp == kame.Icmp6Answer(4, 0, 48)
    with pytest.raises(kame.MalformedError) as ei:
        _core.ip6_validate(whole, reassembled=True)
    assert ei.value.icmp == kame.Icmp6Answer(4, 0, 40)
    assert _core.ip6_validate(whole).chain.upper == 58  # an atomic fragment, alone


def test_router_forwards_fragment_data_it_cannot_read() -> None:
    """A router does not read fragment data either: a non-first fragment
    whose data looks like a type 0 Routing header with Segments Left 5 is
    forwarded, not dropped as a bad option."""
    from kame.nd6 import codec

    far, far_mac = IPv6Address("2001:db8:f7::99"), bytes.fromhex("02000000f799")
    n = make_node(**{"net.inet6.ip6.forwarding": 1})
    n.cache.set_permanent("eth0", far, far_mac)
    f = (bytes.fromhex("6000000000203c40") + IPv6Address(SRC).packed + far.packed
         + bytes([43, 0, 0, 8 * 3, 0, 0, 0, 9]) + bytes([17, 2, 0, 5]) + bytes(20))
    f = f[:4] + struct.pack("!H", len(f) - 40) + bytes([44]) + f[7:]
    out = [fr for _i, fr in n.receive("eth0", codec.ether(MAC_NODE, MAC_PEER, f), 1.0)
           if fr[:6] == far_mac]
    assert len(out) == 1 and out[0][14 + 8:] == f[8:] and out[0][14 + 7] == f[7] - 1
    assert n.stats["ip6s_forward"] == 1 and n.stats["ip6s_badoptions"] == 0
