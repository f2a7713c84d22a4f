"""Mobile IPv6 discovery costs (seed §6.2, RFC 6275 §10.5, §11.4.3).

Measured interleaved, twice each, through the whole node
(``Node.receive``, frame in -> frames out):

1. a home agent answering Home Agent Address Discovery Requests with an
   empty home agents list (the reply names itself) and with 100 other
   home agents listed (the reply names 77: the minimum MTU's worth, by
   preference, ties shuffled);
2. a mobile node away from home taking Mobile Prefix Advertisements from
   its home agent through a type 2 routing header (the answer to its
   outstanding solicitation, one Prefix Information option).

Microseconds per frame of wall-clock time (``perf_counter``); the load
average is printed with the results.

    python benches/python/bench_mip6_discovery.py
"""

from __future__ import annotations

import os
import time
from ipaddress import IPv6Address, IPv6Network

from scapy.layers.inet6 import (
    ICMPv6HAADRequest,
    ICMPv6MPAdv,
    ICMPv6ND_RA,
    ICMPv6NDOptHAInfo,
    ICMPv6NDOptPrefixInfo,
    IPv6,
    IPv6ExtHdrRouting,
)

from kame.knobs import Knobs
from kame.mip6 import HomeAgent, MobileNode, ha_anycast
from kame.nd6 import codec
from kame.node import Node

HA_H, HA_F = IPv6Address("2001:db8:aa::1"), IPv6Address("2001:db8:bb::1")
COA, HOA = IPv6Address("2001:db8:bb::99"), IPv6Address("2001:db8:aa::10")
MAC_HA = [bytes.fromhex("0200000000a0"), bytes.fromhex("0200000000a1")]
MAC_PEER = bytes.fromhex("0200000000d1")
N = 20000


def home_agent(listed: int) -> Node:
    n = Node("ha", knobs=Knobs({"net.inet6.ip6.dad_count": 1, "net.inet6.ip6.forwarding": 1,
                               "net.inet6.mip6.halist_max": 200}), seed=7)
    for i, (ifn, addr) in enumerate((("h0", HA_H), ("f0", HA_F))):
        n.add_interface(ifn, MAC_HA[i])
        n.up(ifn, 0.0)
        n.add_address(ifn, f"{addr}/64", 0.0)
    n.poll(5.0)
    HomeAgent.attach(n, "h0", 5.0)
    n.poll(7.0)
    n.cache.set_permanent("f0", COA, MAC_PEER)
    for i in range(listed):
        ra = IPv6(src=f"fe80::1:{i:x}", dst="ff02::1", hlim=255) / ICMPv6ND_RA(H=1) / \
            ICMPv6NDOptHAInfo(pref=i % 7, lifetime=1800) / ICMPv6NDOptPrefixInfo(
                prefixlen=64, R=1, prefix=f"2001:db8:aa::1:{i:x}")
        n.receive("h0", codec.ether(MAC_HA[0], MAC_PEER, bytes(ra)), 8.0)
    assert len(n.mip6.ha.halist) == listed
    return n


def mobile_node() -> tuple[Node, bytes]:
    """A mobile node away (its state set as a registration leaves it) with
    a solicitation outstanding, and the advertisement that answers it."""
    n = Node("mn", knobs=Knobs({"net.inet6.ip6.dad_count": 0,
                               "net.inet6.ip6.accept_rtadv": 1}), seed=2)
    n.add_interface("eth0", MAC_PEER)
    n.up("eth0", 0.0)
    n.add_address("eth0", f"{COA}/64", 0.0)
    n.poll(2.0)
    m = MobileNode.attach(n, "eth0", f"{HOA}/64", HA_H, 2.0)
    m.away, m.coa = True, COA
    m._mps = (0x4242, 3.0, 1e9)
    pkt = IPv6(src=str(HA_H), dst=str(COA)) / IPv6ExtHdrRouting(
        type=2, segleft=1, addresses=[str(HOA)]) / ICMPv6MPAdv(id=0x4242) / \
        ICMPv6NDOptPrefixInfo(prefix="2001:db8:aa::", prefixlen=64, validlifetime=9000,
                              preferredlifetime=9000)
    return n, codec.ether(MAC_PEER, MAC_HA[1], bytes(pkt))


def main() -> None:
    req = [codec.ether(MAC_HA[1], MAC_PEER, bytes(
        IPv6(src=str(COA), dst=str(ha_anycast(IPv6Network("2001:db8:aa::/64"))))
        / ICMPv6HAADRequest(id=i & 0xFFFF))) for i in range(N)]
    res: dict[str, list[float]] = {}
    for _round in range(2):
        for listed in (0, 100):
            n = home_agent(listed)
            t = time.perf_counter()
            for f in req:
                n.receive("f0", f, 9.0)
            res.setdefault(f"DHAAD, {listed} listed", []).append(
                (time.perf_counter() - t) / N * 1e6)
            assert n.stats["mip6s_odhaad"] == N
        mn, adv = mobile_node()
        t = time.perf_counter()
        for _ in range(N):
            mn.mip6.mn._mps = (0x4242, 3.0, 1e9)  # type: ignore[union-attr]
            mn.receive("eth0", adv, 3.0)
        res.setdefault("MPA at the mobile node", []).append((time.perf_counter() - t) / N * 1e6)
        assert mn.stats["mip6s_homelifetime"] == N
    for k, v in res.items():
        print(f"{k:28s} " + "  ".join(f"{x:6.1f} us" for x in v))
    print("load", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
