"""Run a kame.Node on a TAP device for a while (for the interop tests).

    python tapnode.py DEV MAC DURATION '{"knobs": {...}, "advertise": {...}}'

Prints ``{"opened": DEV}``, waits for one line on stdin (the link is up),
runs the node against the monotonic clock for DURATION seconds, then prints
its state as one JSON line. ``advertise`` (router mode) takes
``{"prefix": "2001:db8::/64", "max_interval": 4}``; ``addresses`` lists
static ``ADDR/LEN`` assigned after link-up (``ifconfig DEV inet6 ADDR``);
``neighbors`` static ``[ADDR, MAC]`` entries (``ndp -s``); ``report_after``
(seconds) prints one extra state line while the node keeps running, so a
test can reach addresses the node chose itself. After link-up, each line
``report`` on stdin prints the state at once (with the sizes of the node's
tables and the process's resident memory), ``quit`` ends the run early.
"""

from __future__ import annotations

import json
import os
import select
import sys
import time
from ipaddress import IPv6Address, IPv6Network

from kame.knobs import Knobs
from kame.link.tap import TapDevice
from kame.nd6.rtr import RaConfig
from kame.nd6.types import PrefixInfo, RdnssInfo
from kame.node import Node


def rss_kb() -> int:
    """This process's resident set (``VmRSS``), in KiB."""
    with open(f"/proc/{os.getpid()}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def sizes(node: Node, dev: str) -> dict[str, int]:
    """The size of every table the link can grow."""
    r = node.rtr
    return {"addresses": len(node.addresses(dev)), "prefixes": len(r.prefixes),
            "routers": len(r.routers), "routes": len(r.routes), "rdnss": len(r.rdnss),
            "redirects": len(r.redirects), "neighbors": len(node.cache),
            "held": sum(len(ln.hold) for ln in node.cache), "pmtu": len(node.pmtu),
            "groups": len(node.groups.get(dev, ())), "fragq": len(node.reass),
            "events": len(node.events)}


def state_of(node: Node, dev: str, events: set[str]) -> dict:
    return {
        "sizes": sizes(node, dev),
        "rss_kb": rss_kb(),
        "cpu_s": time.process_time(),
        "addresses": [[str(a.addr), int(a.flags)] for a in node.addresses(dev)],
        "routers": [str(r.addr) for r in node.rtr.routers],
        "installed": str(node.rtr.installed.addr) if node.rtr.installed else None,
        "prefixes": [str(p.prefix) for p in node.rtr.prefixes.values()],
        "rdnss": [str(k[1]) for k in node.rtr.rdnss],
        "linkmtu": node.cache.info(dev).linkmtu,
        "events": sorted(events),
        "stats": node.stats.nonzero(),
        "outhist": {str(t): n for t, n in node.stats.outhist.items()},
    }


def main() -> None:
    dev, mac, duration = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", "")), float(sys.argv[3])
    cfg = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    node = Node("kame-tapnode", knobs=Knobs(cfg.get("knobs", {})), seed=11)
    node.add_interface(dev, mac)
    t0 = time.monotonic()

    def now() -> float:
        return time.monotonic() - t0

    with TapDevice(dev) as tap:
        print(json.dumps({"opened": tap.name}), flush=True)
        sys.stdin.readline()
        for _, f in node.up(dev, now()):
            tap.write(f)
        for cidr in cfg.get("addresses", []):
            node.add_address(dev, cidr, now())
        for addr, lladdr in cfg.get("neighbors", []):
            node.cache.set_permanent(dev, IPv6Address(addr),
                                     bytes.fromhex(lladdr.replace(":", "")))
        inputs: list = [tap, sys.stdin]
        adv = cfg.get("advertise")
        started = False
        end = now() + duration
        events: set[str] = set()
        report = now() + cfg["report_after"] if "report_after" in cfg else None
        while now() < end:
            if report is not None and now() >= report:
                print(json.dumps(state_of(node, dev, events)), flush=True)
                report = None
            if adv and not started and node.addresses(dev) and node.addresses(dev)[0].usable:
                net = IPv6Network(adv["prefix"])
                node.rtr.advertise(dev, RaConfig(
                    max_interval=adv.get("max_interval", 4),
                    prefixes=(PrefixInfo(net.network_address, net.prefixlen),),
                    rdnss=(RdnssInfo(600, (IPv6Address(adv.get("dns", "2001:db8::53")),)),),
                    mtu=1500), now())
                started = True
            d = node.next_deadline()
            timeout = 0.05 if d is None else max(0.0, min(0.05, d - now()))
            r, _, _ = select.select(inputs, [], [], timeout)
            if sys.stdin in r:
                line = sys.stdin.readline()
                if not line:  # end of input: no more commands
                    inputs.remove(sys.stdin)
                elif line.strip() == "report":
                    print(json.dumps(state_of(node, dev, events)), flush=True)
                elif line.strip() == "quit":
                    break
            if tap in r:
                # at most a batch per turn: under a flood the timers and
                # commands still get their turn
                for _ in range(256):
                    f = tap.read()
                    if f is None:
                        break
                    for _, o in node.receive(dev, f, now()):
                        tap.write(o)
            for _, o in node.poll(now()):
                tap.write(o)
            events.update(type(e).__name__ + ":" + getattr(e, "kind", "")
                          for e in node.drain_events())
        print(json.dumps(state_of(node, dev, events)), flush=True)


if __name__ == "__main__":
    main()
