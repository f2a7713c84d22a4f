"""ND throughput: messages per second through (1) the state machines alone
(typed NsInput -> NA action, cache update) and (2) the whole node
(Ethernet frame in -> core validate/parse -> nd6 -> NA frame out).

Run: python benches/python/bench_nd6.py [N]   (issue 4 target: >= 200,000 ND msg/s)
"""

from __future__ import annotations

import random
import sys
import time
from ipaddress import IPv6Address as A

from kame.in6_var import AddrList, Ifnet, IfType, In6Ifaddr
from kame.knobs import Knobs
from kame.nd6 import codec
from kame.nd6.cache import NeighborCache
from kame.nd6.nbr import Nd6Nbr
from kame.nd6.types import NsInput, SendNS
from kame.addr import solicited_node
from kame.node import Node

MAC = bytes.fromhex("0200f8016317")
ME = A("fe80::200:f8ff:fe01:6317")


def bench_state_machines(n: int, sources: int = 4096) -> float:
    """``sources`` > nd6_maxentries (1024) makes it an NS flood: every
    message evicts an entry."""
    k = Knobs()
    cache = NeighborCache(k, rng=random.Random(1))
    cache.attach("eth0", 0.0)
    addrs = AddrList()
    addrs.add(In6Ifaddr(ME, 64, "eth0"))
    nbr = Nd6Nbr(k, cache, addrs, {"eth0": Ifnet("eth0", 1, IfType.ETHER, MAC, up=True)})
    rnd = random.Random(2)
    msgs = [NsInput(A((0xFE80 << 112) | rnd.getrandbits(64)), A("ff02::1:ff01:6317"), 255, ME,
                    rnd.getrandbits(48).to_bytes(6, "big")) for _ in range(min(n, sources))]
    t0 = time.perf_counter()
    for i in range(n):
        nbr.ns_input("eth0", msgs[i % len(msgs)], i * 1e-6)
    return n / (time.perf_counter() - t0)


def bench_node(n: int) -> float:
    node = Node("bench", seed=1)
    node.add_interface("eth0", MAC)
    node.up("eth0", 0.0)
    while (d := node.next_deadline()) is not None and d < 5:
        node.poll(d)
    peer_mac = bytes.fromhex("020000000001")
    src = A("fe80::1")
    me = node.addresses("eth0")[0].addr
    frame = codec.ether(bytes.fromhex("3333ff016317"), peer_mac,
                        codec.build_ns(SendNS("eth0", me, solicited_node(me), src, True),
                                       src, peer_mac))
    t0 = time.perf_counter()
    out: list[tuple[str, bytes]] = []
    for i in range(n):
        out = node.receive("eth0", frame, 5.0 + i * 1e-6)
    rate = n / (time.perf_counter() - t0)
    assert node.stats["ip6s_delivered"] == n and out, "the NS must be answered"
    return rate


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print(f"nd6 state machines, 256 neighbours:         {bench_state_machines(n, 256):,.0f} msg/s")
    print(f"nd6 state machines, NS flood (evicting):    {bench_state_machines(n):,.0f} msg/s")
    print(f"whole node (NS frame -> NA frame):          {bench_node(n // 4):,.0f} msg/s")
