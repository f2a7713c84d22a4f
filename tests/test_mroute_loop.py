"""What the multicast router leaves to its own sockets and what it keeps
in: forwarded multicast looped to our own members on the outgoing links
(BSD's phyint_send -> ip6_mloopback / send_packet -> ip_mloopback,
``net.inet6.ip6.mcast.loop``, ``net.inet.ip.mcast.loop``), our own
``IP_HDRINCL`` multicast through ``ip_mforward``, RFC 2365 administrative-
scope boundaries on IPv4 interfaces, and the warning about an older-version
querier (RFC 3810 §8.3.1, RFC 3376 §7.3.1)."""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from ipaddress import IPv4Address as A4
from ipaddress import IPv4Network
from ipaddress import IPv6Address as A
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_igmp_router import links, out4, udp4
from test_mroute6 import SMAC, out, router

from kame import _core
from kame.inet.mroute import MAX_BOUNDARIES, in_boundary, parse_boundary
from kame.mcast import MODE_IS_EXCLUDE
from kame.socket import AF_INET, AF_INET6, SOCK_DGRAM, SOCK_RAW, SocketLayer
from kame.socket.const import (
    IPV6_JOIN_GROUP,
    IPV6_MULTICAST_HOPS,
    IPV6_MULTICAST_IF,
    IPV6_MULTICAST_LOOP,
    SO_REUSEADDR,
    SOL_SOCKET,
)
from kame.socket.inctl import (
    IP_ADD_MEMBERSHIP,
    IP_HDRINCL,
    IP_MULTICAST_IF,
    IP_MULTICAST_LOOP,
    IP_MULTICAST_TTL,
    setsourcefilter,
)

SRC = A("2001:db8:a::5")
G = A("ff05::4242")
SRC4, G4 = A4("192.0.2.5"), A4("239.1.2.3")
LOCAL4 = A4("239.255.1.1")


def udp(src: A, dst: A, hlim: int = 64) -> bytes:
    """A UDP datagram to port 12345 with a good checksum, framed."""
    body = _core.UdpHeader(12345, 12345, bytes(8)).to_bytes(src, dst)
    hdr = _core.Ipv6Header(src, dst, next_header=17, hop_limit=hlim,
                           payload_len=len(body)).to_bytes()
    return b"\x33\x33" + dst.packed[-4:] + SMAC + b"\x86\xdd" + bytes(hdr) + bytes(body)


def _rx6(sl: SocketLayer, r: Any, ifname: str, group: A = G) -> Any:
    s = sl.socket(AF_INET6, SOCK_DGRAM)
    s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    s.bind(("::", 12345))
    s.setsockopt(41, IPV6_JOIN_GROUP, group.packed + struct.pack("=I", r.ifnets[ifname].index))
    return s


def _got(s: Any) -> list[tuple[bytes, int, int]]:
    """(data, hop limit or TTL, interface index) of what the socket holds."""
    out_ = [(d.data, d.hlim, d.ifindex) for d in s.rcvq]
    s.rcvq.clear()
    return out_


def _own_multicast_once_per_link(r: Any, rx: Callable[[str], Any], tx: Callable[[], Any],
                                 dst: tuple[str, int], loop: tuple[int, int],
                                 outs: Callable[[Any], dict[str, Any]]) -> None:
    """``tx()``, a socket sending on link a with hop limit/TTL 8, sends to
    ``dst``: with ``rx("b")`` a member on b, one copy, 7, received on b;
    with ``rx("a")`` too, each gets one copy per link (b's 7, a's 8); with
    the ``loop`` option (level, name) 0, b's only."""
    ia, ib = r.ifnets["a"].index, r.ifnets["b"].index
    rb = rx("b")
    s_tx = tx()
    r._flush()
    s_tx.sendto(b"own", dst)
    assert sorted(outs(r._flush())) == ["a", "b"]
    assert _got(rb) == [(b"own", 7, ib)]
    ra = rx("a")
    s_tx.sendto(b"own", dst)
    r._flush()
    for s in (ra, rb):
        assert sorted(_got(s)) == [(b"own", 7, ib), (b"own", 8, ia)]
    s_tx.setsockopt(*loop, 0)
    s_tx.sendto(b"own", dst)
    r._flush()
    for s in (ra, rb):
        assert _got(s) == [(b"own", 7, ib)]


# --- IPv6: ip6_mloopback -------------------------------------------------------

def test_forwarded_ipv6_reaches_our_member_on_the_outgoing_link() -> None:
    """A packet from link a, our socket a member on b only (no other
    listener there): the router treats its own membership as a listener
    (the wire copy to b, as a BSD daemon hearing its looped Reports) and
    loops a copy, hop limit - 1, received on b."""
    r, now = router()
    sl = SocketLayer(r, "linux")
    s = _rx6(sl, r, "b")
    r._flush()
    o = out(r.receive("a", udp(SRC, G), now))
    assert list(o) == ["b"] and o["b"][0][14 + 7] == 63
    assert _got(s) == [(bytes(8), 63, r.ifnets["b"].index)]
    assert r.stats["mrt6s_mloopback"] == 1
    # the cache shows b as an outgoing link (our membership)
    (e,) = r.mroute_snapshot(now)["mfc"]
    assert e["oifs"] == ["b"]
    # hop limit 1: nothing forwarded, nothing looped (not a member on a)
    r.receive("a", udp(SRC, G, hlim=1), now)
    assert _got(s) == []
    # net.inet6.ip6.mcast.loop 0: still forwarded, no longer looped
    r.knobs["net.inet6.ip6.mcast.loop"] = 0
    assert list(out(r.receive("a", udp(SRC, G), now))) == ["b"]
    assert _got(s) == [] and r.stats["mrt6s_mloopback"] == 1


def test_looped_copy_obeys_the_source_filter_and_is_never_forwarded_again() -> None:
    r, now = router()
    sl = SocketLayer(r, "linux")
    s = _rx6(sl, r, "b")
    # the socket's filter EXCLUDE(SRC) (Linux's fmode 0), the interface's with it
    setsourcefilter(s, r.ifnets["b"].index, G, 0, [SRC])
    r._flush()
    assert out(r.receive("a", udp(SRC, G), now)) == {}  # b wants every source but SRC
    assert _got(s) == []
    other = A("2001:db8:a::6")
    assert list(out(r.receive("a", udp(other, G), now))) == ["b"]
    assert [x[:2] for x in _got(s)] == [(bytes(8), 63)]
    # the looped copy came in on b but is no RPF failure and goes nowhere else
    assert not r.stats["mrt6s_wrong_if"] and r.stats["mrt6s_mloopback"] == 1


def test_our_own_ipv6_multicast_once_per_link() -> None:
    """Our socket sends on a (hop limit 8). A member on b only: one copy,
    hop limit 7, received on b. Members on a and b: every socket bound to
    the port gets one copy per link (the datagram goes by the interface's
    membership and the port, as in 4.4BSD/KAME and Linux's
    IP_MULTICAST_ALL), the sending link's once, by IPV6_MULTICAST_LOOP;
    with IPV6_MULTICAST_LOOP 0 only b's (phyint_send: ip6_output with loop
    1 on the other links)."""
    r, _now = router()
    sl = SocketLayer(r, "linux")

    def tx() -> Any:
        s = sl.socket(AF_INET6, SOCK_DGRAM)
        s.setsockopt(41, IPV6_MULTICAST_IF, r.ifnets["a"].index)
        s.setsockopt(41, IPV6_MULTICAST_HOPS, 8)
        return s

    _own_multicast_once_per_link(r, lambda ifn: _rx6(sl, r, ifn), tx,
                                 (str(G), 12345), (41, IPV6_MULTICAST_LOOP), out)


# --- IPv4: ip_mloopback --------------------------------------------------------

def _rx4(sl: SocketLayer, ifaddr: str, group: A4 = G4) -> Any:
    s = sl.socket(AF_INET, SOCK_DGRAM)
    s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 4242))
    s.setsockopt(0, IP_ADD_MEMBERSHIP, group.packed + A4(ifaddr).packed)
    return s


def test_forwarded_ipv4_reaches_our_member_on_the_outgoing_link() -> None:
    sim, r, _ = links(hosts=0)
    sl = SocketLayer(r, "linux")
    s = _rx4(sl, "198.51.100.1")
    r._flush()
    o = out4(r.receive("a", udp4(SRC4, G4), sim.now))
    assert list(o) == ["b"] and o["b"][0][14 + 8] == 15
    assert _got(s) == [(b"data", 15, r.ifnets["b"].index)]
    assert r.stats["mrts_mloopback"] == 1 and not r.stats["mrts_wrong_if"]
    r.knobs["net.inet.ip.mcast.loop"] = 0
    assert list(out4(r.receive("a", udp4(SRC4, G4), sim.now))) == ["b"]
    assert _got(s) == []


def test_our_own_ipv4_multicast_once_per_link() -> None:
    _sim, r, _ = links(hosts=0)
    sl = SocketLayer(r, "linux")
    ifaddr = {"a": "192.0.2.1", "b": "198.51.100.1"}

    def tx() -> Any:
        s = sl.socket(AF_INET, SOCK_DGRAM)
        s.setsockopt(0, IP_MULTICAST_IF, A4(ifaddr["a"]).packed)
        s.setsockopt(0, IP_MULTICAST_TTL, 8)
        return s

    _own_multicast_once_per_link(r, lambda ifn: _rx4(sl, ifaddr[ifn]), tx,
                                 (str(G4), 4242), (0, IP_MULTICAST_LOOP), out4)


# --- IP_HDRINCL multicast --------------------------------------------------------

def _hdrincl(sl: SocketLayer, ttl: int, dst: A4 = G4) -> bytes:
    body = struct.pack("!HHHH", 4242, 4242, 12, 0) + b"hinc"
    return bytes(_core.ip_build("0.0.0.0", str(dst), 17, body, ttl=ttl))


def test_hdrincl_multicast_is_forwarded_as_our_own() -> None:
    sim, r, _ = links(hosts=0)
    r.inet.igmpr.report_input("b", [(MODE_IS_EXCLUDE, G4, [])], sim.now)
    sl = SocketLayer(r, "linux")
    raw = sl.socket(AF_INET, SOCK_RAW, 255)
    raw.setsockopt(0, IP_HDRINCL, 1)
    raw.setsockopt(0, IP_MULTICAST_IF, A4("192.0.2.1").packed)
    r._flush()
    raw.sendto(_hdrincl(sl, 8), (str(G4), 0))
    o = out4(r._flush())
    assert sorted(o) == ["a", "b"]
    assert o["a"][0][14 + 8] == 8 and o["b"][0][14 + 8] == 7
    v = _core.ip_validate(o["b"][0][14:], True)  # checksum good after the TTL change
    assert v.src == A4("192.0.2.1") and v.dst == G4
    mifs = {m["ifname"]: m for m in r.inet.mroute_snapshot(sim.now)["mifs"]}
    assert mifs["a"]["pkt_out"] == 1 and mifs["b"]["pkt_out"] == 1
    raw.sendto(_hdrincl(sl, 1), (str(G4), 0))  # TTL 1: the sending link only
    assert sorted(out4(r._flush())) == ["a"]
    r.knobs["net.inet.ip.mforwarding"] = 0
    raw.sendto(_hdrincl(sl, 8), (str(G4), 0))
    assert sorted(out4(r._flush())) == ["a"]


# --- RFC 2365 boundaries ----------------------------------------------------------

def test_boundary_stops_the_scoped_range_both_ways() -> None:
    sim, r, _ = links(hosts=0)
    for g in (G4, LOCAL4):
        r.inet.igmpr.report_input("b", [(MODE_IS_EXCLUDE, g, [])], sim.now)
        r.inet.igmpr.report_input("a", [(MODE_IS_EXCLUDE, g, [])], sim.now)
    r.inet.mroute_boundary_add("b", "239.255.0.0/16")
    assert list(out4(r.receive("a", udp4(SRC4, G4), sim.now))) == ["b"]
    assert out4(r.receive("a", udp4(SRC4, LOCAL4), sim.now)) == {}  # out of b: no
    assert r.stats["mrts_boundary"] == 1
    src_b = A4("198.51.100.9")  # into the router from b: no either
    r.inet.rtalloc(src_b)
    assert out4(r.receive("b", udp4(src_b, LOCAL4), sim.now)) == {}
    assert r.stats["mrts_boundary"] == 2
    assert list(out4(r.receive("b", udp4(src_b, G4), sim.now))) == ["a"]
    # our own member on b gets no looped copy across the boundary either
    sl = SocketLayer(r, "linux")
    s = _rx4(sl, "198.51.100.1", LOCAL4)
    r.receive("a", udp4(SRC4, LOCAL4), sim.now)
    assert _got(s) == []
    snap = r.inet.mroute_snapshot(sim.now)
    assert snap["boundaries"] == {"b": ["239.255.0.0/16"]}
    assert r.inet.mroute_boundary_delete("b", "239.255.0.0/16")
    assert not r.inet.mroute_boundary_delete("b", "239.255.0.0/16")
    assert sorted(out4(r.receive("a", udp4(SRC4, LOCAL4), sim.now))) == ["b"]


def test_boundary_is_shown_by_kame_igmp_show() -> None:
    from kame.cli.main import main  # noqa: F401 (the parser registers "igmp")
    from kame.cli.tools import format_mld

    sim, r, _ = links(hosts=0)
    r.inet.mroute_boundary_add("b", "239.255.0.0/16")
    r.inet.mroute_boundary_add("b", IPv4Network("239.192.0.0/14"))
    d = {"links": r.inet.igmpr.snapshot(sim.now), "mroute": r.inet.mroute_snapshot(sim.now),
         "stats": {}}
    lines = format_mld(d, "b", False, "igmp").splitlines()
    assert lines[1:3] == ["\tboundary 239.192.0.0/14", "\tboundary 239.255.0.0/16"], lines


@pytest.mark.parametrize("bad", ["224.0.0.0/4", "239.255.0.1/16", "232.0.0.0/8", "10.0.0.0/8",
                                 "239.0.0.0/33", "239.1.2", "", "::/0"])
def test_boundary_refuses_what_is_not_a_239_prefix(bad: str) -> None:
    _sim, r, _ = links(hosts=0)
    with pytest.raises(ValueError):
        r.inet.mroute_boundary_add("b", bad)
    assert r.inet.mroute_boundaries() == {}


def test_boundaries_are_bounded() -> None:
    _sim, r, _ = links(hosts=0)
    for i in range(MAX_BOUNDARIES):
        r.inet.mroute_boundary_add("b", f"239.{i}.0.0/16")
    r.inet.mroute_boundary_add("b", "239.0.0.0/16")  # again: no new entry
    with pytest.raises(ValueError):
        r.inet.mroute_boundary_add("b", "239.200.0.0/16")
    with pytest.raises(ValueError):
        r.inet.mroute_boundary_add("zz", "239.1.0.0/16")
    assert len(r.inet.mroute_boundaries()["b"]) == MAX_BOUNDARIES


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 0xFFFFFF), st.integers(8, 32)), max_size=8),
       st.integers(0xE0000000, 0xEFFFFFFF))
def test_in_boundary_is_prefix_containment(prefixes: list[tuple[int, int]], group: int) -> None:
    nets = [parse_boundary(IPv4Network(((0xEF000000 | low) >> (32 - ln) << (32 - ln), ln)))
            for low, ln in prefixes]
    g = A4(group)
    want = any((group ^ int(n.network_address)) >> (32 - n.prefixlen) == 0
               if n.prefixlen < 32 else group == int(n.network_address) for n in nets)
    assert in_boundary(nets, g) == want
    assert not in_boundary(None, g)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=24) | st.from_regex(r"\A2[0-9]{2}(\.[0-9]{1,3}){3}/[0-9]{1,2}\Z"))
def test_parse_boundary_only_valueerror(text: str) -> None:
    try:
        net = parse_boundary(text)
    except ValueError:
        return
    assert net.subnet_of(IPv4Network("239.0.0.0/8")) and str(net) == text


# --- the older-version querier ------------------------------------------------------

def test_older_igmp_querier_is_counted_kept_and_logged_once(caplog: Any) -> None:
    from kame.cli.main import main  # noqa: F401
    from kame.cli.tools import format_mld

    sim, r, _ = links(hosts=0)
    old = A4("198.51.100.250")
    caplog.set_level(logging.WARNING, logger="kame.mroute")
    for i in range(5):
        r.inet.igmpr.query_input("b", old, A4(0), (), False, False, sim.now + i, heard=2)
    assert r.stats["igps_rtr_rcv_oldqueries"] == 5
    recs = [x for x in caplog.records if x.name == "kame.mroute"]
    assert len(recs) == 1 and "IGMPv2 querier 198.51.100.250" in recs[0].getMessage() \
        and "net.inet.igmp.version to 2" in recs[0].getMessage()
    (ln,) = [x for x in r.inet.igmpr.snapshot(sim.now) if x["ifname"] == "b"]
    assert ln["older_querier"] == {"addr": str(old), "version": 2, "queries": 5}
    text = format_mld({"links": [ln], "mroute": {}, "stats": {}}, None, False, "igmp")
    assert "\tolder querier 198.51.100.250 (IGMPv2, 5 queries): set net.inet.igmp.version to 2" \
        in text.splitlines(), text
    # an hour on: logged again; on another link: logged at once
    r.inet.igmpr.query_input("a", A4("192.0.2.250"), A4(0), (), False, False, sim.now + 6,
                             heard=1)
    r.inet.igmpr.query_input("b", old, A4(0), (), False, False, sim.now + 3700, heard=2)
    assert len([x for x in caplog.records if x.name == "kame.mroute"]) == 3
    # a querier at our version or newer is no older querier
    r.knobs["net.inet.igmp.version"] = 2
    r.inet.igmpr.query_input("a", A4("192.0.2.251"), A4(0), (), False, False, sim.now + 7,
                             heard=2)
    r.inet.igmpr.query_input("a", A4("192.0.2.251"), A4(0), (), False, True, sim.now + 7)
    assert r.stats["igps_rtr_rcv_oldqueries"] == 7


def test_igmpv1_query_on_the_wire_is_told_from_igmpv2() -> None:
    """An 8-octet query with Max Resp Code 0 is IGMPv1's (RFC 3376 §7.1)."""
    sim, r, _ = links(hosts=0, **{"net.inet.igmp.version": 2})
    for code, want in ((0, 1), (100, 0)):
        msg = _core.icmp_build(0x11, code, 0, b"")
        pkt = _core.ip_build("198.51.100.250", "224.0.0.1", 2, msg, ttl=1)
        r.receive("b", bytes.fromhex("01005e000001") + b"\x02\0\0\0\0\x77\x08\x00" + bytes(pkt),
                  sim.now)
        assert r.stats["igps_rtr_rcv_oldqueries"] == want or code != 0
    (ln,) = [x for x in r.inet.igmpr.snapshot(sim.now) if x["ifname"] == "b"]
    assert ln["older_querier"]["version"] == 1 and ln["older_querier"]["queries"] == 1


def test_older_mld_querier_is_logged(caplog: Any) -> None:
    r, now = router()
    caplog.set_level(logging.WARNING, logger="kame.mroute")
    r.mldr.query_input("b", A("fe80::99"), A(0), (), False, False, now)
    r.mldr.query_input("b", A("fe80::99"), A(0), (), False, False, now + 1)
    assert r.stats["mlds_rcv_oldqueries"] == 2
    (rec,) = [x for x in caplog.records if x.name == "kame.mroute"]
    assert "MLDv1 querier fe80::99" in rec.getMessage() and "RFC 3810" in rec.getMessage()


# --- IPsec on forwarded multicast ----------------------------------------------------

def test_forwarded_ipv4_multicast_meets_the_spd_ipv6_does_not() -> None:
    """FreeBSD's send_packet hands each IPv4 copy to ip_output, whose
    sendit step looks the SPD up (as for forwarded unicast): a discard
    policy for (SRC4, G4) stops the copy, counted; KAME's phyint_send gives
    a forwarded IPv6 copy to if_output, past the SPD: the same policy for
    IPv6 changes nothing."""
    from kame.key.setkey import run as setkey

    sim, r, _ = links(hosts=0)
    r.attach_key()
    r.inet.igmpr.report_input("b", [(MODE_IS_EXCLUDE, G4, [])], sim.now)
    assert list(out4(r.receive("a", udp4(SRC4, G4), sim.now))) == ["b"]
    setkey(f"spdadd {SRC4} {G4} any -P out discard;\n", r.key.engine, sim.now)
    assert out4(r.receive("a", udp4(SRC4, G4), sim.now)) == {}
    assert r.inet.ipsec4stat["out_polvio"] == 1
    other = A4("192.0.2.6")
    assert list(out4(r.receive("a", udp4(other, G4), sim.now))) == ["b"]

    r6, now = router()
    r6.attach_key()
    r6.mldr.report_input("b", [(MODE_IS_EXCLUDE, G, [])], now)
    setkey(f"spdadd {SRC} {G} any -P out discard;\n", r6.key.engine, now)
    assert list(out(r6.receive("a", udp(SRC, G), now))) == ["b"]
    assert not r6.key.stats["out_polvio"]
