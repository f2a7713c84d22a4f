"""New CHILD SAs per second on one IKE SA (IKEv2 CREATE_CHILD_SA without
REKEY_SA) and new IPsec SA pairs per second on one ISAKMP SA (IKEv1 quick
mode): two of our daemons in memory, each with its key engine (GETSPI,
UPDATE, ADD on both sides), no PFS, under ``sainfo anonymous``; each pair
its own /64 selectors. One Python thread does both sides, one exchange
after the other.

    python benches/bench_ike_children.py [--n 500]

The daemons' bound (``MAX_CHILDREN``) is lifted for the run. Prints the
rates and the load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from ipaddress import ip_network
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_ike_children import (
    B1,
    acquire,
    daemons,
    shuttle,
    v1_daemons,
    v1_run,
)


def nets(i: int) -> tuple[object, object]:
    return ip_network(f"2001:db8:{i:x}::/64"), ip_network(f"2001:db9:{i:x}::/64")


def ikev2(n: int) -> float:
    a, b, ea, _eb = daemons()
    acquire(ea, B1, 0.0)
    a.timehandler(0.0)
    shuttle(a, b, 0.0)
    a.MAX_CHILDREN = b.MAX_CHILDREN = n + 10
    (sa,) = a.sas.values()
    anon = next(s for s in a.peers[0].sainfos if s.anonymous)
    t = time.perf_counter()
    for i in range(n):
        a.create_child(sa, (anon, *nets(i)), 1.0)  # type: ignore[arg-type]
        shuttle(a, b, 1.0)
    dt = time.perf_counter() - t
    assert sa.child_count() == n + 1, sa.child_count()
    return n / dt


def ikev1(n: int) -> float:
    a, b, ea, _eb = v1_daemons()
    acquire(ea, B1, 0.0)
    v1_run(a, b, 0.0)
    a.MAX_CHILDREN = b.MAX_CHILDREN = n + 10
    (sa,) = a.sas.values()
    anon = next(s for s in a.peers[0].sainfos if s.anonymous)
    t = time.perf_counter()
    for i in range(n):
        a.new_pair(sa, (anon, *nets(i)), 0, 1.0)  # type: ignore[arg-type]
        v1_run(a, b, 1.0)
    dt = time.perf_counter() - t
    assert sa.child_count() == n + 1, sa.child_count()
    return n / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=500, help="new pairs per protocol")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    r2, r1 = ikev2(args.n), ikev1(args.n)
    print(f"new pairs on one IKE SA, {args.n} each, load {load:.2f} -> {os.getloadavg()[0]:.2f}")
    print(f"IKEv2 CREATE_CHILD_SA   {r2:8.0f}/s")
    print(f"IKEv1 quick mode        {r1:8.0f}/s")


if __name__ == "__main__":
    main()
