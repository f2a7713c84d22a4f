"""gif encapsulation and decapsulation rates against plain forwarding, in
one run (issue 13, "Benchmarks").

    python benches/bench_gif.py [--n 20000] [--size 100] [--rounds 3]

Router node ``a`` (``net.inet6.ip6.forwarding=1``) between host ``h`` (on
eth0) and node ``b`` (on eth1), neighbors resolved first. Each case hands
``a`` a batch of ``--n`` Ethernet frames with ``receive_many`` (one call,
as a TAP's read batch) and counts the frames it sends, packets per second,
best of ``--rounds``:

- **forward**: IPv6 UDP from h to b, forwarded (the baseline);
- **encap v6-in-v4 / v6-in-v6**: the same packets routed into gif0 (outer
  IPv4) or gif1 (outer IPv6) towards b: ``ip6_forward`` + ``gif_output`` +
  ``_core.encapsulate`` + outer output;
- **decap v6-in-v4 / v6-in-v6**: b's tunnelled packets to h arriving on
  eth1: ``ip_input``/``ip6_input`` + ``_core.decapsulate_ex`` + inner
  ``ip6_input`` + forward to h.

The load average is printed with the table (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import time

from kame import _core
from kame.knobs import Knobs
from kame.link.memory import MemoryLink, Simulation
from kame.nd6 import codec
from kame.node import Node

MH, MA0, MA1, MB = (bytes.fromhex(x) for x in ("020000000001", "020000000a00", "020000000a01",
                                               "020000000b01"))
KN = {"net.inet6.ip6.dad_count": 0, "net.link.ether.inet.dad_count": 0,
      "net.inet6.ip6.forwarding": 1, "net.inet.ip.forwarding": 1}


def setup() -> Node:
    sim = Simulation()
    l0, l1 = MemoryLink(), MemoryLink()
    a = Node("a", knobs=Knobs(KN), seed=1)
    h = Node("h", knobs=Knobs(KN), seed=2)
    b = Node("b", knobs=Knobs(KN), seed=3)
    a.add_interface("eth0", MA0)
    a.add_interface("eth1", MA1)
    h.add_interface("eth0", MH)
    b.add_interface("eth1", MB)
    for n, i, link, mac in ((a, "eth0", l0, MA0), (a, "eth1", l1, MA1), (h, "eth0", l0, MH),
                            (b, "eth1", l1, MB)):
        sim.connect(n, i, link, mac)
        sim.emit(n, n.up(i, 0.0))
    a.add_address("eth0", "2001:db8:a::1/64", 0.0)
    a.add_address("eth1", "2001:db8:b::1/64", 0.0)
    a.add_address4("eth1", "192.0.2.1/24", 0.0)
    h.add_address("eth0", "2001:db8:a::2/64", 0.0)
    b.add_address("eth1", "2001:db8:b::2/64", 0.0)
    b.add_address4("eth1", "192.0.2.2/24", 0.0)
    a.gif.create("gif0")
    a.gif.set_tunnel("gif0", "192.0.2.1", "192.0.2.2")
    a.gif.create("gif1")
    a.gif.set_tunnel("gif1", "2001:db8:b::1", "2001:db8:b::2")
    for g in ("gif0", "gif1"):
        a.ifnets[g].mtu = 1480
        sim.emit(a, a.up(g, 0.0))
    a.route_add("2001:db8:c0::/48", None, "gif0")
    a.route_add("2001:db8:c1::/48", None, "gif1")
    sim.run(until=2.0)
    # resolve the neighbors both ways
    sim.emit(a, a.ping("2001:db8:a::2", sim.now))
    sim.emit(a, a.ping("2001:db8:b::2", sim.now))
    sim.emit(a, a.ping4("192.0.2.2", sim.now))
    sim.run(until=sim.now + 1.0)
    a.drain_events()
    return a


def udp6(src: str, dst: str, size: int) -> bytes:
    body = _core.UdpHeader(1234, 5678, b"k" * size).to_bytes(src, dst)
    return _core.Ipv6Header(src, dst, next_header=17, hop_limit=64,
                            payload_len=len(body)).to_bytes() + body


def rate(a: Node, ifname: str, frames: list[bytes], rounds: int) -> float:
    best = 0.0
    for _ in range(rounds):
        t = time.perf_counter()
        out = a.receive_many(ifname, frames, 10.0)
        dt = time.perf_counter() - t
        assert len(out) == len(frames), (len(out), len(frames), a.stats.nonzero())
        best = max(best, len(frames) / dt)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    a = setup()
    n, size = args.n, args.size
    fwd = codec.ether(MA0, MH, udp6("2001:db8:a::2", "2001:db8:b::2", size))
    enc4 = codec.ether(MA0, MH, udp6("2001:db8:a::2", "2001:db8:c0::9", size))
    enc6 = codec.ether(MA0, MH, udp6("2001:db8:a::2", "2001:db8:c1::9", size))
    back = udp6("2001:db8:c0::9", "2001:db8:a::2", size)
    dec4 = MA1 + MB + b"\x08\x00" + _core.encapsulate(back, "192.0.2.2", "192.0.2.1")
    dec6 = codec.ether(MA1, MB, _core.encapsulate(back, "2001:db8:b::2", "2001:db8:b::1"))
    rows = [
        ("forward (plain IPv6)", rate(a, "eth0", [fwd] * n, args.rounds)),
        ("encap v6-in-v4 (gif0)", rate(a, "eth0", [enc4] * n, args.rounds)),
        ("encap v6-in-v6 (gif1)", rate(a, "eth0", [enc6] * n, args.rounds)),
        ("decap v6-in-v4 (gif0)", rate(a, "eth1", [dec4] * n, args.rounds)),
        ("decap v6-in-v6 (gif1)", rate(a, "eth1", [dec6] * n, args.rounds)),
    ]
    base = rows[0][1]
    print(f"gif: {n} frames of {size}-octet UDP payloads per batch, best of {args.rounds}; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'case':28} {'packets/s':>12} {'vs forward':>11}")
    for name, r in rows:
        print(f"{name:28} {r:12,.0f} {r / base:10.2f}x")


if __name__ == "__main__":
    main()
