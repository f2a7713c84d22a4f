"""Frames that try to grow a node's tables (issue 8 item 4), built once and
sent many times: by the unit tests under a simulated clock
(tests/test_node_floods.py), by the line-rate flooder of the TAP test
(tests/interop/flooder.py) and by benches/python/bench_flood.py.

Each builder returns ``count`` Ethernet frames drawn from a seeded
``random.Random``: every frame comes from a new link-local source with a
new MAC and names new prefixes, groups, destinations or fragment ids.
"""

from __future__ import annotations

import random
from ipaddress import IPv6Address as A

from kame import _core
from kame.addr import ether_multicast, solicited_node
from kame.nd6 import codec
from kame.nd6.types import PrefixInfo, RdnssInfo, RouteInfo, SendRA

__all__ = ["FLOODS", "echo_frames", "frag_frames", "mld_frames", "ns_frames", "ptb_frames", "ra_frames",
           "redirect_frames", "router_ra"]

ALL_NODES_MAC = ether_multicast(A("ff02::1"))


def _mac(rnd: random.Random) -> bytes:
    """A random locally administered unicast MAC."""
    b = bytearray(rnd.getrandbits(48).to_bytes(6, "big"))
    b[0] = (b[0] & 0xFC) | 0x02
    return bytes(b)


def _ll(rnd: random.Random) -> A:
    return A((0xFE80 << 112) | rnd.getrandbits(64))


def _global(rnd: random.Random, top: int = 0x2001_0DB8) -> A:
    return A((top << 96) | rnd.getrandbits(96))


def ra_frames(count: int, seed: int = 1, *, prefixes: int = 2, routes: int = 2,
              servers: int = 2) -> list[bytes]:
    """Router Advertisements from random routers (router lifetime 1800 s),
    each with ``prefixes`` new autonomous on-link /64s, ``routes`` new RFC
    4191 routes and an RDNSS option with ``servers`` new servers."""
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        mac, src = _mac(rnd), _ll(rnd)
        ra = SendRA(
            "x", A("ff02::1"), 64, False, False, 0, 1800, 0, 0, None,
            tuple(PrefixInfo(A(_global(rnd)._ip >> 64 << 64), 64, True, True, 86400, 14400)
                  for _ in range(prefixes)),
            tuple(RouteInfo(A(_global(rnd, 0x2001_0DB9)._ip >> 80 << 80), 48, 0, 1800)
                  for _ in range(routes)),
            (RdnssInfo(1800, tuple(_global(rnd, 0x2001_0DBA) for _ in range(servers))),)
            if servers else ())
        out.append(codec.ether(ALL_NODES_MAC, mac, codec.build_ra(ra, src, mac)))
    return out


def router_ra(router: A, mac: bytes) -> bytes:
    """One plain RA from ``router``: a default router, nothing else."""
    ra = SendRA("x", A("ff02::1"), 64, False, False, 0, 1800, 0, 0, None, (), (), ())
    return codec.ether(ALL_NODES_MAC, mac, codec.build_ra(ra, router, mac))


def ns_frames(count: int, target: A, seed: int = 2) -> list[bytes]:
    """Neighbor Solicitations for ``target`` from random sources (each with
    a Source Link-Layer Address option: a STALE entry per NS)."""
    rnd = random.Random(seed)
    dst = solicited_node(target)
    out = []
    for _ in range(count):
        mac, src = _mac(rnd), _ll(rnd)
        pkt = _core.nd6_ns_output(src._ip, dst._ip, target._ip, mac, None)
        out.append(codec.ether(ether_multicast(dst), mac, pkt))
    return out


def redirect_frames(count: int, router: A, router_mac: bytes, node: A, node_mac: bytes,
                    seed: int = 3) -> list[bytes]:
    """Redirects from the node's first hop ``router`` for random off-link
    destinations to random link-local targets with a Target Link-Layer
    Address option (RFC 4861 §8.1: valid, so each one is a new host route
    and a new neighbor entry)."""
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        target, tmac = _ll(rnd), _mac(rnd)
        msg = _core.Redirect(target, _global(rnd, 0x2001_0DBC),
                             [_core.NdOptTargetLinkAddr(tmac)])
        out.append(codec.ether(node_mac, router_mac,
                               codec.build_icmp6_packet(router, node, msg, 255)))
    return out


def frag_frames(count: int, dst: A, dst_mac: bytes, seed: int = 4) -> list[bytes]:
    """First fragments (offset 0, M set) of echo requests to ``dst``, each
    from a random global source with a new Identification: a new
    reassembly queue per frame, none ever complete."""
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        src, mac = _global(rnd, 0x2001_0DBD), _mac(rnd)
        echo = _core.Icmpv6Echo(128, 1, 1, bytes(64)).to_bytes(src, dst)
        frag = _core.FragmentHeader(0, True, rnd.getrandbits(32), 58).to_bytes() + echo[:48]
        hdr = _core.Ipv6Header(src, dst, next_header=44, hop_limit=64, payload_len=len(frag))
        out.append(codec.ether(dst_mac, mac, hdr.to_bytes() + frag))
    return out


def mld_frames(count: int, seed: int = 5) -> list[bytes]:
    """MLD from random link-local sources: MLDv2 Reports to ff02::16 with
    four random groups, MLDv1 Reports for random groups sent to ff02::1
    (which every node has joined), and Multicast-Address-Specific Queries
    for random groups, in turn."""
    rnd = random.Random(seed)
    hbh = _core.HopByHop([_core.Ipv6Option.router_alert(0)], next_header=58).to_bytes()
    out = []
    for i in range(count):
        src, mac = _ll(rnd), _mac(rnd)
        groups = [A((0xFF0E << 112) | rnd.getrandbits(112)) for _ in range(4)]
        if i % 3 == 0:
            dst = A("ff02::16")
            msg: object = _core.Mldv2Report([_core.MldAddressRecord(4, g) for g in groups])
        elif i % 3 == 1:
            dst = A("ff02::1")
            msg = _core.MldReport(groups[0])
        else:
            dst = A("ff02::1")
            msg = _core.MldQuery(1000, groups[0], True)
        body = msg.to_bytes(src, dst)  # type: ignore[attr-defined]
        hdr = _core.Ipv6Header(src, dst, next_header=0, hop_limit=1,
                               payload_len=len(hbh) + len(body))
        out.append(codec.ether(ether_multicast(dst), mac, hdr.to_bytes() + hbh + body))
    return out


def ptb_frames(count: int, node: A, node_mac: bytes, seed: int = 6) -> list[bytes]:
    """Packet Too Big messages about packets ``node`` sent to random
    destinations (MTU 1280): each is a new path MTU entry."""
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        reporter, mac, dst = _global(rnd, 0x2001_0DBE), _mac(rnd), _global(rnd, 0x2001_0DBF)
        inv = codec.build_icmp6_packet(node, dst, _core.Icmpv6Echo(128, 1, 1, bytes(1400)), 64)
        err = _core.Icmpv6Error(2, 0, invoking=inv[:1232], mtu=1280)
        out.append(codec.ether(node_mac, mac, codec.build_icmp6_packet(reporter, node, err, 64)))
    return out


def echo_frames(count: int, node: A, node_mac: bytes, plen: int = 64, seed: int = 7
                ) -> list[bytes]:
    """Echo Requests to ``node`` from random sources on its own subnet
    (``node``/``plen``): every reply waits for address resolution of a new
    neighbor, so each one is a new INCOMPLETE entry holding a packet."""
    rnd = random.Random(seed)
    host = (1 << (128 - plen)) - 1
    out = []
    for _ in range(count):
        src, mac = A((node._ip & ~host) | rnd.getrandbits(128 - plen)), _mac(rnd)
        pkt = codec.build_icmp6_packet(src, node, _core.Icmpv6Echo(128, 7, 1, b"kame"), 64)
        out.append(codec.ether(node_mac, mac, pkt))
    return out


#: flood kind -> what it tries to grow
FLOODS = {
    "ra": "addresses, prefixes, default routers, RIO routes, RDNSS servers",
    "ns": "neighbor cache",
    "redirect": "redirect host routes, neighbor cache",
    "frag": "reassembly queues",
    "mld": "multicast groups and pending reports",
    "ptb": "path MTU entries",
    "echo": "neighbor cache entries waiting for resolution, their hold queues",
}
