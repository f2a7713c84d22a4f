"""A node's input rate under floods (issue 8 item 4): frames per second of
``Node.receive`` (CPU time of this process) over the first and the last
thousand frames of a flood of N, the node's timers run every 100 frames
(``next_deadline`` + ``poll``, as a TAP loop does), and the sizes of the
tables each flood tries to grow.

The frames come from tests/flood_frames.py: RAs from random routers with
new prefixes, routes and DNS servers; NSs from random sources; Redirects
for random destinations; first fragments with new ids; MLD reports and
queries; Packet Too Big about random destinations; echo requests from
random neighbors (each reply waits for address resolution).

Run: python benches/python/bench_flood.py [N [KIND,...]]   (N default 20000)
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Callable
from ipaddress import IPv6Address as A
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

import flood_frames as ff

from kame.knobs import Knobs
from kame.node import Node

MAC = bytes.fromhex("0200000000aa")
ME = A("2001:db8:aa::1")
ROUTER, ROUTER_MAC = A("fe80::1"), bytes.fromhex("020000000001")


def node() -> Node:
    n = Node("flood", knobs=Knobs({"net.inet6.ip6.accept_rtadv": 1}), seed=5)
    n.add_interface("eth0", MAC)
    n.up("eth0", 0.0)
    n.add_address("eth0", f"{ME}/64", 0.0)
    for t in range(1, 40):
        n.poll(t / 10)
    n.receive("eth0", ff.router_ra(ROUTER, ROUTER_MAC), 4.0)
    n.drain_events()
    return n


def frames(kind: str, count: int) -> list[bytes]:
    make: dict[str, Callable[[], list[bytes]]] = {
        "ra": lambda: ff.ra_frames(count),
        "ns": lambda: ff.ns_frames(count, ME),
        "redirect": lambda: ff.redirect_frames(count, ROUTER, ROUTER_MAC, ME, MAC),
        "frag": lambda: ff.frag_frames(count, ME, MAC),
        "mld": lambda: ff.mld_frames(count),
        "ptb": lambda: ff.ptb_frames(count, ME, MAC),
        "echo": lambda: ff.echo_frames(count, ME, MAC),
    }
    return make[kind]()


def sizes(n: Node) -> dict[str, int]:
    r = n.rtr
    return {"addrs": len(n.addresses("eth0")), "prefixes": len(r.prefixes),
            "routers": len(r.routers), "routes": len(r.routes), "rdnss": len(r.rdnss),
            "redirects": len(r.redirects), "neighbors": len(n.cache), "pmtu": len(n.pmtu),
            "groups": len(n.groups["eth0"]), "fragq": len(n.reass)}


def run(kind: str, count: int) -> None:
    n, fs = node(), frames(kind, count)
    now = 5.0
    per: list[float] = []
    gc.collect()
    t_all = time.process_time()
    for i in range(0, count, 100):
        t0 = time.process_time()
        for f in fs[i:i + 100]:
            n.receive("eth0", f, now)
        n.next_deadline()
        n.poll(now)
        n.drain_events()
        per.append(time.process_time() - t0)
        now += 0.001
    total = time.process_time() - t_all
    first, last = sum(per[:10]) / 1000, sum(per[-10:]) / 1000
    print(f"{kind:9s} {count / total:9.0f} frames/s overall, "
          f"{1 / first:9.0f}/s first 1k, {1 / last:9.0f}/s last 1k "
          f"(x{last / first:5.2f})  {sizes(n)}", flush=True)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    kinds = sys.argv[2].split(",") if len(sys.argv) > 2 else list(ff.FLOODS)
    print(f"N={count}, load average {os.getloadavg()[0]:.2f}", flush=True)
    for kind in kinds:
        run(kind, count)


if __name__ == "__main__":
    main()
