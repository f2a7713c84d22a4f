"""RFC 8200 §4: a router leaves the extension headers of a transit packet
alone (the Hop-by-Hop header excepted); only the node named in the
Destination Address judges them. Our node routes between two memory
links; the node behind it (our node too) owes the errors."""

from __future__ import annotations

import struct
from ipaddress import IPv6Address as A

import pytest
from tests.test_node_fwd import HA, HB, HC, MA, MR0, RA0, Net, ip6

from kame import _core
from kame.errors import HeaderLimitError, MalformedError, UnsupportedError
from kame.ip6.icmp6 import Icmp6ErrorInput
from kame.nd6 import codec

ECHO = codec.build_icmp6_packet(HA, HB, _core.Icmpv6Echo(128, 7, 1, b"transit"), 64)[40:]
FAR = A("2001:db8:b::99")


def _pkt(dst: A, nh: int, ext: bytes, body: bytes = ECHO, hlim: int = 64) -> bytes:
    hdr = _core.Ipv6Header(HA, dst, next_header=nh, payload_len=len(ext) + len(body),
                           hop_limit=hlim)
    return hdr.to_bytes() + ext + body


def _rh(rtype: int, sl: int, addrs: list[A], nh: int = 58, last_entry: int | None = None) -> bytes:
    data = b"".join(a.packed for a in addrs)
    if rtype == 4:  # SRH: Last Entry, Flags, Tag
        le = len(addrs) - 1 if last_entry is None else last_entry
        fixed = bytes([le, 0, 0, 0])
    else:
        fixed = bytes(4)
    return bytes([nh, len(data) // 8, rtype, sl]) + fixed + data


def _opts(nh: int, opt_type: int) -> bytes:
    return bytes([nh, 0, opt_type, 4, 0, 0, 0, 0])


def _frag(nh: int, ident: int) -> bytes:
    return struct.pack("!BBHI", nh, 0, 0, ident)  # offset 0, M 0: atomic


def _deep(n: int) -> bytes:
    return b"".join(_opts(60 if i < n - 1 else 58, 1) for i in range(n))  # PadN 4


# (name, next header, extension headers, what the destination answers:
#  (type, code, pointer) or None for a silent drop, and the counter)
CASES = [
    ("rh0", 43, _rh(0, 1, [FAR]), (4, 0, 42), "ip6s_badoptions"),
    ("rh2-len", 43, _rh(2, 1, [FAR, FAR]), (4, 0, 42), "ip6s_badoptions"),
    ("srh", 43, _rh(4, 1, [FAR, HB]), (4, 0, 42), "ip6s_badoptions"),
    ("dstopt-10", 60, _opts(58, 0x81), (4, 2, 42), "ip6s_badoptions"),
    ("dstopt-01", 60, _opts(58, 0x41), None, "ip6s_badoptions"),
    ("two-frag", 44, _frag(44, 1) + _frag(58, 2), (4, 0, 48), "ip6s_badoptions"),
    ("hbh-late", 60, _opts(0, 1) + bytes([58, 0, 1, 4, 0, 0, 0, 0]), (4, 1, 40),
     "ip6s_badoptions"),
    ("deep-60", 60, _deep(60), None, "ip6s_toomanyhdr"),
]


def _send(n: Net, pkt: bytes) -> None:
    out = n.r.receive("eth0", codec.ether(MR0, MA, pkt), n.sim.now)
    n.sim.emit(n.r, out)
    n.sim.run(until=n.sim.now + 1.0)


def _errors(n: Net) -> list[tuple[A, int, int, int]]:
    return [(e.reporter, e.type, e.code, e.param) for e in n.a.drain_events()
            if isinstance(e, Icmp6ErrorInput)]


def _forwarded(n: Net, pkt: bytes) -> list[bytes]:
    """Copies of ``pkt`` that left the router on link 2, hop limit one less."""
    want = pkt[:7] + bytes([pkt[7] - 1]) + pkt[8:]
    return [ip6(f) for f in n.frames2 if ip6(f) == want]


@pytest.mark.parametrize(("name", "nh", "ext", "answer", "counter"), CASES,
                         ids=[c[0] for c in CASES])
def test_router_forwards_what_only_the_destination_judges(
        name: str, nh: int, ext: bytes, answer: tuple[int, int, int] | None,
        counter: str) -> None:
    n = Net()
    pkt = _pkt(HB, nh, ext)
    before = n.r.stats["ip6s_forward"], n.b.stats[counter]
    _send(n, pkt)
    assert len(_forwarded(n, pkt)) == 1, name
    # and the destination's answer, if any, came back through it
    assert n.r.stats["ip6s_forward"] == before[0] + (2 if answer else 1)
    assert n.r.stats["ip6s_badoptions"] == 0 and n.r.stats["ip6s_toomanyhdr"] == 0
    # the destination judges, and answers through the router
    assert n.b.stats[counter] == before[1] + 1
    assert _errors(n) == ([(HB, *answer)] if answer else [])


@pytest.mark.parametrize(("name", "nh", "ext", "answer", "counter"), CASES,
                         ids=[c[0] for c in CASES])
def test_router_judges_what_is_addressed_to_it(
        name: str, nh: int, ext: bytes, answer: tuple[int, int, int] | None,
        counter: str) -> None:
    n = Net()
    pkt = _pkt(RA0, nh, ext)
    _send(n, pkt)
    assert n.r.stats[counter] == 1 and n.r.stats["ip6s_forward"] == 0, name
    assert _errors(n) == ([(RA0, *answer)] if answer else [])


def test_bad_hop_by_hop_on_a_transit_packet_is_the_routers() -> None:
    n = Net()
    hbh = bytes([43, 0, 0x9E, 4, 0, 0, 0, 0])  # unknown option, action 10
    pkt = _pkt(HB, 0, hbh + _rh(0, 1, [FAR]))
    _send(n, pkt)
    assert not _forwarded(n, pkt)
    assert n.r.stats["ip6s_badoptions"] == 1 and n.r.stats["ip6s_forward"] == 0
    assert _errors(n) == [(RA0, 4, 2, 42)]


def test_transit_chain_still_drives_the_error_rules() -> None:
    """No error about an ICMPv6 error behind a Routing header, with no
    route (RFC 4443 §2.4 e); the chain of a transit packet is reported."""
    n = Net()
    err = _core.Icmpv6Echo(128, 1, 1, b"").to_bytes(HA, HB)  # placeholder type
    err = bytes([1, 0]) + err[2:]  # Destination Unreachable, checksum unchecked here
    pkt = _pkt(A("2001:db8:ffff::1"), 43, _rh(0, 1, [FAR]), body=err)
    _send(n, pkt)
    assert n.r.stats["ip6s_noroute"] == 1 and _errors(n) == []
    pkt = _pkt(A("2001:db8:ffff::1"), 43, _rh(0, 1, [FAR]))
    _send(n, pkt)
    assert n.r.stats["ip6s_noroute"] == 2
    assert _errors(n) == [(RA0, 1, 0, 0)]


def test_no_redirect_for_a_transit_packet_with_a_routing_header() -> None:
    n = Net(with_c=True)
    pkt = _pkt(HC, 43, _rh(0, 1, [FAR]))
    out = n.r.receive("eth0", codec.ether(MR0, MA, pkt), n.sim.now)
    n.sim.emit(n.r, out)
    n.sim.run(until=n.sim.now + 1.0)
    assert n.r.stats["ip6s_forward"] == 1
    assert n.r.stats.outhist.get(137, 0) == 0
    plain = _pkt(HC, 58, b"")
    _send(n, plain)
    assert n.r.stats["ip6s_forward"] == 2 and n.r.stats.outhist.get(137) == 1


def test_ip6_validate_transit_judges_header_and_hop_by_hop_only() -> None:
    for _name, nh, ext, _a, _c in CASES:
        pkt = _pkt(HB, nh, ext)
        with pytest.raises((MalformedError, UnsupportedError, HeaderLimitError)):
            _core.ip6_validate(pkt, 50)
        v = _core.ip6_validate(pkt, 50, transit=True)
        assert v.packet_len == len(pkt)
    # the chain, as far as a lax walk goes
    v = _core.ip6_validate(_pkt(HB, 43, _rh(0, 1, [FAR])), 50, transit=True)
    assert (v.chain.upper, v.chain.upper_offset, [h[0] for h in v.chain.headers]) == \
        (58, 64, [43])
    # hdrnestlimit bounds the walk of a transit packet: it stops there
    v = _core.ip6_validate(_pkt(HB, 60, _deep(60)), 50, transit=True)
    assert len(v.chain.headers) == 50 and v.chain.upper == 60
    # the IPv6 header and Hop-by-Hop are still judged
    with pytest.raises(UnsupportedError):
        _core.ip6_validate(_pkt(HB, 0, bytes([58, 0, 0x9E, 4, 0, 0, 0, 0])), 50,
                           transit=True)
    p = bytearray(_pkt(HB, 0, bytes([58, 0, 1, 4, 0, 0, 0, 0])))
    p[4:6] = b"\0\0"  # Payload Length 0 without Jumbo (RFC 2675 §3)
    with pytest.raises(MalformedError):
        _core.ip6_validate(bytes(p), 50, transit=True)
