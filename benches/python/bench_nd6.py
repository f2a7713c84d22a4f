"""ND throughput and neighbor cache memory (issue 4: a node processes
>= 200,000 ND messages per second; the cache's memory per entry and its cap
are reported).

Measured side by side in one run:

1. the state machines alone (typed NsInput -> NA action, cache update),
   with 256 neighbours and as an NS flood (every message evicts an entry);
2. the whole node, NS frame in -> NA frame out, per frame
   (``Node.receive``): ``_core.nd6_input`` (validation + ICMPv6 parse in one
   core call) -> nd6 -> ``_core.nd6_na_output``; every NS must be answered
   with exactly the NA frame expected;
3. the same through ``Node.receive_many`` (the parse of a batch of 64 done
   in one core call with the GIL released);
4. solicited NAs in: each confirms a resolved neighbor (no answer);
5. the NS path with the fast path off (``node.nd6_fastpath = False``): the
   general path, ``ip6_validate`` + ``parse_icmpv6`` + typed inputs;
6. an NS flood with random sources through the whole node: every NS
   creates a neighbor entry and, past ``nd6_maxentries``, evicts one;
7. tracemalloc: bytes per neighbor cache entry (entry, key, timer heap
   item, address, link-layer address) with the cache at its cap.

Rates are messages per second of wall-clock time (``perf_counter``) and of
this process's CPU time (``process_time``): on a shared machine the second
is the steadier one. The load average is printed with the results.

Run: python benches/python/bench_nd6.py [N]
"""

from __future__ import annotations

import gc
import os
import random
import sys
import time
import tracemalloc
from collections.abc import Callable
from ipaddress import IPv6Address as A

from kame.addr import ether_multicast, solicited_node
from kame.in6_var import AddrList, Ifnet, IfType, In6Ifaddr
from kame.knobs import Knobs
from kame.nd6 import codec
from kame.nd6.cache import NeighborCache
from kame.nd6.nbr import Nd6Nbr
from kame.nd6.types import NsInput, SendNA, SendNS
from kame.node import Node

MAC = bytes.fromhex("0200f8016317")
ME = A("fe80::200:f8ff:fe01:6317")
PEER_MAC = bytes.fromhex("020000000001")


def timed(run: Callable[[], int]) -> tuple[float, float]:
    """(wall msg/s, CPU msg/s) of ``run``, which returns how many messages
    it handled."""
    gc.collect()
    w0, c0 = time.perf_counter(), time.process_time()
    n = run()
    w1, c1 = time.perf_counter(), time.process_time()
    return n / (w1 - w0), n / max(c1 - c0, 1e-9)


def bench_state_machines(n: int, sources: int = 4096) -> tuple[float, float]:
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

    def run() -> int:
        for i in range(n):
            nbr.ns_input("eth0", msgs[i % len(msgs)], i * 1e-6)
        return n

    return timed(run)


def make_node(fast: bool = True) -> tuple[Node, A]:
    node = Node("bench", seed=1)
    node.add_interface("eth0", MAC)
    node.up("eth0", 0.0)
    while (d := node.next_deadline()) is not None and d < 5:
        node.poll(d)
    node.nd6_fastpath = fast
    return node, node.addresses("eth0")[0].addr


def ns_frame(me: A, src: A, mac: bytes) -> bytes:
    sn = solicited_node(me)
    return codec.ether(ether_multicast(sn), mac,
                       codec.build_ns(SendNS("eth0", me, sn, src, True), src, mac))


def na_frame(me: A, peer: A, mac: bytes) -> bytes:
    """The NA expected for an NS from ``peer``/``mac`` (built by the
    general builder, compared byte for byte)."""
    return codec.ether(mac, MAC, codec.build_na(SendNA("eth0", me, peer, me, False, True, True),
                                                me, MAC))


def bench_node(n: int, fast: bool = True) -> tuple[float, float]:
    node, me = make_node(fast)
    src = A("fe80::1")
    frame = ns_frame(me, src, PEER_MAC)
    want = [("eth0", na_frame(me, src, PEER_MAC))]
    receive = node.receive

    def run() -> int:
        for i in range(n):
            if receive("eth0", frame, 5.0 + i * 1e-6) != want:
                raise AssertionError("the NS must be answered with the expected NA")
        return n

    rate = timed(run)
    assert node.stats["ip6s_delivered"] == n
    return rate


def bench_node_na(n: int) -> tuple[float, float]:
    """Solicited NAs from a resolved neighbor: each confirms reachability
    (the entry goes REACHABLE again and its timer is re-armed); no answer."""
    node, me = make_node()
    peer = A("fe80::1")
    node.ping(peer, 5.0, ifname="eth0")  # resolution starts: INCOMPLETE
    na = codec.ether(MAC, PEER_MAC, codec.build_na(SendNA("eth0", peer, me, peer, False, True, True),
                                                   peer, PEER_MAC))
    assert node.receive("eth0", na, 5.0), "the queued echo request goes out"
    receive = node.receive

    def run() -> int:
        for i in range(n):
            if receive("eth0", na, 5.0 + i * 1e-6):
                raise AssertionError("an NA is not answered")
        return n

    rate = timed(run)
    ln = node.cache.lookup("eth0", peer)
    assert ln is not None and ln.lladdr == PEER_MAC and node.stats["ip6s_delivered"] == n + 1
    return rate


def bench_node_batch(n: int, batch: int = 64) -> tuple[float, float]:
    node, me = make_node()
    src = A("fe80::1")
    frames = [ns_frame(me, src, PEER_MAC)] * batch
    want = [("eth0", na_frame(me, src, PEER_MAC))] * batch
    rounds = max(1, n // batch)

    def run() -> int:
        for i in range(rounds):
            if node.receive_many("eth0", frames, 5.0 + i * 1e-6) != want:
                raise AssertionError("every NS must be answered with the expected NA")
        return rounds * batch

    rate = timed(run)
    assert node.stats["ip6s_delivered"] == rounds * batch
    return rate


def flood_frames(me: A, count: int, seed: int = 3) -> list[tuple[bytes, bytes]]:
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        src = A((0xFE80 << 112) | rnd.getrandbits(64))
        mac = bytes([2]) + rnd.getrandbits(40).to_bytes(5, "big")
        out.append((ns_frame(me, src, mac), na_frame(me, src, mac)))
    return out


def bench_node_flood(n: int, sources: int = 16384) -> tuple[float, float, int, int]:
    node, me = make_node()
    frames = flood_frames(me, min(n, sources))
    receive = node.receive

    def run() -> int:
        for i in range(n):
            f, na = frames[i % len(frames)]
            if receive("eth0", f, 5.0 + i * 1e-6) != [("eth0", na)]:
                raise AssertionError("each NS of the flood must be answered")
        return n

    wall, cpu = timed(run)
    assert len(node.cache) <= node.knobs["net.inet6.icmp6.nd6_maxentries"]
    return wall, cpu, len(node.cache), node.stats["icp6s_nd_cachefull"]


def cache_memory() -> tuple[int, int, float, int]:
    """Fill a node's neighbor cache to its cap by an NS flood and take the
    traced memory per entry: the Neighbor, its key tuple, its timer heap
    item and its IPv6Address (all that stays while the entry lives)."""
    node, me = make_node()
    cap = node.knobs["net.inet6.icmp6.nd6_maxentries"]
    frames = flood_frames(me, 2 * cap, seed=4)
    # warm up: the cache at its cap, the heap compacted once, dicts grown
    for i, (f, _na) in enumerate(frames):
        node.receive("eth0", f, 5.0 + i * 1e-6)
    node.cache.flush()
    node.cache._compact_timers()
    codec._ADDR6.clear()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for i, (f, _na) in enumerate(frames[:cap]):
        node.receive("eth0", f, 10.0 + i * 1e-6)
    codec._ADDR6.clear()  # the bounded address cache is not the entries'
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert len(node.cache) == cap
    return cap, grown, grown / cap, len(node.cache._timers)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"({os.cpu_count()} CPUs); N = {n:,}")
    print(f"{'':48s} {'wall msg/s':>12s} {'CPU msg/s':>12s}")

    def row(name: str, r: tuple[float, ...]) -> None:
        print(f"{name:48s} {r[0]:12,.0f} {r[1]:12,.0f}")

    row("nd6 state machines, 256 neighbours", bench_state_machines(n, 256))
    row("nd6 state machines, NS flood (evicting)", bench_state_machines(n))
    row("whole node, NS frame -> NA frame (receive)", bench_node(n))
    row("whole node, batches of 64 (receive_many)", bench_node_batch(n))
    row("whole node, solicited NA frames in", bench_node_na(n))
    row("whole node, general path (fast path off)", bench_node(n // 4, fast=False))
    w, c, entries, evicted = bench_node_flood(n)
    row("whole node, NS flood, random sources", (w, c))
    print(f"  flood: {entries} entries at the end, {evicted:,} evicted (icp6s_nd_cachefull)")
    cap, grown, per, timers = cache_memory()
    print(f"neighbor cache: cap net.inet6.icmp6.nd6_maxentries = {cap}; "
          f"{per:,.0f} bytes per entry (tracemalloc, {grown:,} bytes for {cap} entries, "
          f"{timers} timer heap items)")
    load = os.getloadavg()
    print(f"load average after:  {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
