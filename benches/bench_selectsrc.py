"""Source selection on the send path (RFC 6724 §5, rule 5.5 on and off):
a host on a memory link with two routers, each advertising its own /64
(SLAAC gives the host an address from each, plus its link-local), sends
to an off-link destination through its default router.

    python benches/bench_selectsrc.py [--n 20000] [--repeat 5]

Measured, thread CPU µs per call (the best of the repeats: the machine is
shared, and contention only ever adds time), with
``net.inet6.ip6.prefer_nexthop_prefix`` 1 and 0 alternating repeat by
repeat so that both see the same load:

- ``in6_selectsrc``: ``Node.in6_selectsrc(dst)`` (route lookup, candidates,
  the rules);
- ``sendto``: an unconnected UDP ``sendto`` of 64 octets through
  ``kame.socket`` (source selection per datagram, framing, the queue
  drained every 256 datagrams).

Runs on a tree without rule 5.5 too (the knob is then left alone), for a
before/after comparison: ``PYTHONPATH=/path/to/old/python python benches/...``.
"""

from __future__ import annotations

import argparse
import time
from ipaddress import IPv6Address

from kame.knobs import KNOBS, Knobs
from kame.link.memory import MemoryLink, Simulation
from kame.nd6.rtr import RaConfig
from kame.nd6.types import PrefixInfo
from kame.node import Node
from kame.socket import AF_INET6, SOCK_DGRAM, SocketLayer

KNOB = "net.inet6.ip6.prefer_nexthop_prefix"
DST = IPv6Address("2001:db8:b:1::1")  # rule 8 alone would take the B address


def setup() -> Node:
    link = MemoryLink(delay=0.001)
    sim = Simulation()
    ra = Node("ra", knobs=Knobs({"net.inet6.ip6.forwarding": 1}), seed=1)
    rb = Node("rb", knobs=Knobs({"net.inet6.ip6.forwarding": 1}), seed=2)
    h = Node("h", knobs=Knobs({"net.inet6.ip6.accept_rtadv": 1}), seed=3)
    for n, mac in ((ra, "02000000000a"), (rb, "02000000000b"), (h, "020000000001")):
        n.add_interface("eth0", bytes.fromhex(mac))
        sim.connect(n, "eth0", link, bytes.fromhex(mac))
        sim.emit(n, n.up("eth0", 0.0))
    for r, p in ((ra, "2001:db8:a::"), (rb, "2001:db8:b::")):
        r.rtr.advertise("eth0", RaConfig(max_interval=10, prefixes=(
            PrefixInfo(IPv6Address(p), 64, valid_lifetime=3600, preferred_lifetime=1800),)), 2.0)
    sim.run(until=25.0)
    return h


def per_call(h: Node, what: str, n: int) -> float:
    if what == "in6_selectsrc":
        f = h.in6_selectsrc
        c0 = time.thread_time()
        for _ in range(n):
            f(DST)
        return (time.thread_time() - c0) / n * 1e6
    layer = SocketLayer(h, "netbsd")
    s = layer.socket(AF_INET6, SOCK_DGRAM)
    data, addr = b"x" * 64, (str(DST), 9)
    c0 = time.thread_time()
    for i in range(n):
        s.sendto(data, addr)
        if i & 255 == 255:
            h._flush()
    dt = time.thread_time() - c0
    s.close()
    h._flush()
    return dt / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    h = setup()
    has = KNOB in KNOBS
    modes = [1, 0] if has else [None]
    print(f"source for {DST}: {h.in6_selectsrc(DST)} (rule 5.5 {'present' if has else 'absent'})")
    for what in ("in6_selectsrc", "sendto"):
        res: dict[object, list[float]] = {m: [] for m in modes}
        for _ in range(a.repeat):
            for m in modes:
                if m is not None:
                    h.knobs[KNOB] = m
                res[m].append(per_call(h, what, a.n))
        for m in modes:
            label = "no rule 5.5" if m is None else f"{KNOB}={m}"
            print(f"{what:14s} {label:40s} {min(res[m]):7.2f} us/call CPU (best of {a.repeat})")


if __name__ == "__main__":
    main()
