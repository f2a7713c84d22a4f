"""Floods at line rate against our node on a TAP device (issue 8 item 4).

Our node runs on a TAP device in a namespace (tapnode.py, ``accept_rtadv``
on, a static global address); linkpeer.py writes pre-built frames
(tests/flood_frames.py) onto the link with an AF_PACKET socket as fast as
one ``send`` per frame goes, for a few seconds per kind: Redirects from its
first hop, NSs from random sources, echo requests from random neighbors,
first fragments with new ids, Packet Too Big messages, MLD reports and
queries, and RAs from random routers with random prefixes, routes and DNS
servers. After each flood:

- the node's tables are within their bounds and its resident memory has
  not grown past a few MiB (tapnode.py reports both);
- the counters count what was refused;
- the Linux kernel on the other end of the TAP pings the node and gets an
  answer within 1.5 s of the flood's end (an echo every 0.2 s until one is
  answered: the first can still meet the TAP's full queue, whose drops are
  the kernel's).

The node's input rate under each flood (frames counted in ``ip6s_total``
per second of the flood, and per second of the node's CPU time, which a
busy machine does not change) is printed (``pytest -s``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import netns_rig
import pytest
from netns_rig import command, fresh_netns, ipns, start_tapnode, stop

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun") \
        or shutil.which("ping") is None:
    pytest.skip("needs root, iproute2, ping and /dev/net/tun", allow_module_level=True)

LINKPEER = Path(__file__).with_name("linkpeer.py")
DEV, MAC = "fldn0", "02:00:00:00:0f:01"
NODE = "2001:db8:f::1"
ROUTER, ROUTER_MAC = "fe80::f:1", "02:00:00:00:0f:0f"
SECONDS = 3.0
POOL = 20_000

#: kind -> (table: bound) checked after the flood, counters that must have moved
EXPECT: dict[str, tuple[dict[str, int], tuple[str, ...]]] = {
    "redirect": ({"redirects": 4096, "neighbors": 1024}, ("icp6s_redirfull",)),
    "ns": ({"neighbors": 1024}, ("icp6s_nd_cachefull",)),
    "echo": ({"neighbors": 1024, "held": 1024}, ("icp6s_nd_cachefull",)),
    "frag": ({"fragq": 1024}, ("ip6s_fragoverflow",)),
    "ptb": ({"pmtu": 1280}, ("icp6s_pmtufull",)),
    "mld": ({"groups": 8}, ("ip6s_notmember",)),
    "ra": ({"addresses": 16, "prefixes": 16, "routers": 16, "routes": 100, "rdnss": 8,
            "neighbors": 1024},
           ("icp6s_nd_addrfull", "icp6s_nd_prefixfull", "icp6s_nd_rtrfull",
            "icp6s_nd_rtinfofull", "icp6s_nd_rdnssfull")),
}


def ping(ns: str, ll: str) -> tuple[bool, float, str]:
    """The kernel pings our node's link-local address, an echo every 0.2 s
    until one is answered (the test wants it within 1.5 s)."""
    t0 = time.monotonic()
    r = ipns(ns, "ping", "-6", "-n", "-c", "1", "-i", "0.2", "-w", "2", f"{ll}%{DEV}",
             check=False, timeout=10)
    return r.returncode == 0, time.monotonic() - t0, r.stdout + r.stderr


def test_floods_at_line_rate_leave_the_node_bounded_and_answering() -> None:
    with fresh_netns("fld") as ns:
        ipns(ns, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0")
        node = start_tapnode(ns, DEV, MAC, 120.0, {
            "knobs": {"net.inet6.ip6.accept_rtadv": 1}, "addresses": [f"{NODE}/64"]})
        peer = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, str(LINKPEER)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=netns_rig.child_env())
        rows: list[str] = []
        results: dict[str, dict] = {}
        try:
            assert command(peer, json.dumps({"op": "open", "how": "packet", "dev": DEV}))["ok"]
            built = command(peer, json.dumps({"op": "build", "args": {
                "count": POOL, "node": NODE, "node_mac": MAC, "router": ROUTER,
                "router_mac": ROUTER_MAC}}))["built"]
            assert built["ra"] == POOL
            deadline = time.monotonic() + 10
            while True:
                st = command(node, "report")
                if st["addresses"] and all(f & 0x02 == 0 for _, f in st["addresses"]):
                    break
                assert time.monotonic() < deadline, st
                time.sleep(0.2)
            ll = next(a for a, _ in st["addresses"] if a.startswith("fe80:"))
            ok, _, out = ping(ns, ll)
            assert ok, out
            base = command(node, "report")
            for kind in EXPECT:
                before = command(node, "report")
                sent = command(peer, json.dumps({"op": "flood", "dev": DEV, "kind": kind,
                                                 "seconds": SECONDS}))
                ok, took, out = ping(ns, ll)
                after = command(node, "report")
                got = after["stats"].get("ip6s_total", 0) - before["stats"].get("ip6s_total", 0)
                cpu = after["cpu_s"] - before["cpu_s"]
                results[kind] = {"ok": ok, "took": took, "out": out, "after": after,
                                 "before": before}
                rows.append(f"{kind:9s} sent {sent['sent'] / sent['seconds']:9.0f}/s, "
                            f"node took {got / sent['seconds']:8.0f}/s "
                            f"({got / max(cpu, 1e-3):6.0f} per CPU second), ping answered "
                            f"{ok} in {took:.2f} s, rss {after['rss_kb'] // 1024} MiB, "
                            f"{after['sizes']}")
        finally:
            stop(peer)
            stop(node)
    print("\n" + "\n".join(rows))
    for kind, (bounds, counters) in EXPECT.items():
        r = results[kind]
        assert r["ok"] and r["took"] < 1.5, (kind, r["took"], r["out"])
        sizes, stats, stats0 = r["after"]["sizes"], r["after"]["stats"], r["before"]["stats"]
        for table, bound in bounds.items():
            assert sizes[table] <= bound, (kind, table, sizes)
        for c in counters:
            assert stats.get(c, 0) > stats0.get(c, 0), (kind, c, stats)
        assert r["after"]["rss_kb"] - base["rss_kb"] < 64 * 1024, (kind, r["after"]["rss_kb"])
    assert results["mld"]["after"]["sizes"]["groups"] == results["mld"]["before"]["sizes"]["groups"]
