"""Our node as a router on several TAP devices, each in its own Linux
network namespace (router_rig.py starts it): ``python router_node.py CFG``
with CFG a JSON object:

- ``name``, ``seed``, ``knobs``: the node's;
- ``devs``: ``[{"ns", "name", "mac", "addr", "mtu"?, "addr4"?, "pcap"?}]``,
  a TAP device opened in that namespace for each, an interface of the
  node; with ``pcap`` every frame in and out is written there;
- ``routes``: ``[[prefix, gateway, ifname]]`` (IPv6);
- ``own4``, ``group6``, ``group4``, ``port``: what the multicast commands use.

It prints ``{"opened": [...]}``, waits for a line (the links are up), and
prints ``{"ready": [...]}`` once every address is usable. Then, one command
a line, each answered with a JSON line:

- ``state`` (``quit`` too, then it ends): counters, the output histogram,
  the events' kinds, the queriers' state and the multicast forwarding
  tables of both families;
- ``own TAG N``: our own UDP sockets send N datagrams to ``group6``
  (``TAG6``, hop limit 8) and ``group4`` (``TAG4``, TTL 8) on the first
  link;
- ``join``: our sockets bound to ``port`` join ``group6`` and ``group4`` on
  the second link; ``got``: what they hold (tag -> [hop limit or TTL,
  interface index]), emptied;
- ``boundary IF PREFIX``: an RFC 2365 boundary on IF;
- ``hdrincl TAG N``: a raw ``IP_HDRINCL`` socket sends N UDP datagrams to
  ``group4`` with TTL 8 on the first link.
"""

from __future__ import annotations

import ipaddress
import json
import select
import sys
import time
from typing import Any

from netns_enter import setns

from kame import _core
from kame.knobs import Knobs
from kame.link.pcap import PcapWriter
from kame.link.tap import TapDevice
from kame.node import Node
from kame.socket import AF_INET, AF_INET6, SOCK_DGRAM, SOCK_RAW, SocketLayer
from kame.socket.const import IPV6_JOIN_GROUP, IPV6_MULTICAST_HOPS, IPV6_MULTICAST_IF
from kame.socket.inctl import (
    IP_ADD_MEMBERSHIP,
    IP_HDRINCL,
    IP_MULTICAST_IF,
    IP_MULTICAST_TTL,
)

cfg = json.loads(sys.argv[1])


def v4(a: str) -> bytes:
    return ipaddress.IPv4Address(a.split("/")[0]).packed


node = Node(cfg.get("name", "kame-router"), knobs=Knobs(cfg["knobs"]), seed=cfg.get("seed", 17))
devs = cfg["devs"]
taps: dict[str, TapDevice] = {}
pcaps: dict[str, PcapWriter] = {}
for d in devs:
    setns(d["ns"])
    taps[d["name"]] = TapDevice(d["name"])
    if d.get("pcap"):
        pcaps[d["name"]] = PcapWriter(open(d["pcap"], "wb"))  # noqa: SIM115 - closed at quit
    node.add_interface(d["name"], bytes.fromhex(d["mac"].replace(":", "")),
                       mtu=d.get("mtu", 1500))
print(json.dumps({"opened": sorted(taps)}), flush=True)
sys.stdin.readline()  # the links are up
t0 = time.monotonic()


def now() -> float:
    return time.monotonic() - t0


def send(frames: list[Any]) -> None:
    for ifn, f in frames:
        if ifn in pcaps:
            pcaps[ifn].write(now(), f)
        taps[ifn].write(f)


for d in devs:
    send(node.up(d["name"], now()))
    node.add_address(d["name"], d["addr"], now())
    if d.get("addr4"):
        node.add_address4(d["name"], d["addr4"], now())
for prefix, gw, ifn in cfg.get("routes", []):
    node.route_add(prefix, gw, ifn)
send(node.poll(now()))
n_addr4 = sum(1 for d in devs if d.get("addr4"))
sl: SocketLayer | None = None
ours: list[Any] = []


def state() -> dict[str, Any]:
    t = now()
    return {"stats": node.stats.nonzero(), "outhist": node.stats.outhist,
            "events": sorted({type(e).__name__ for e in node.drain_events()}),
            "mld": node.mldr.snapshot(t), "mroute": node.mroute_snapshot(t),
            "igmp": node.inet.igmpr.snapshot(t), "mroute4": node.inet.mroute_snapshot(t)}


def command(cmd: str) -> dict[str, Any]:
    """One multicast command (see the module docs)."""
    global sl, ours
    if sl is None:
        sl = SocketLayer(node)
    words = cmd.split()
    if words[0] == "own":
        tag, n = words[1], int(words[2])
        s6, s4 = sl.socket(AF_INET6, SOCK_DGRAM), sl.socket(AF_INET, SOCK_DGRAM)
        s6.setsockopt(41, IPV6_MULTICAST_IF, node.ifnets[devs[0]["name"]].index)
        s6.setsockopt(41, IPV6_MULTICAST_HOPS, 8)
        s4.setsockopt(0, IP_MULTICAST_IF, v4(cfg["own4"]))
        s4.setsockopt(0, IP_MULTICAST_TTL, 8)
        for _i in range(n):
            s6.sendto((tag + "6").encode(), (cfg["group6"], cfg["port"]))
            s4.sendto((tag + "4").encode(), (cfg["group4"], cfg["port"]))
            send(node.poll(now()))
        s6.close()
        s4.close()
        return {"sent": n}
    if words[0] == "join":
        lidx = node.ifnets[devs[1]["name"]].index
        r6, r4 = sl.socket(AF_INET6, SOCK_DGRAM), sl.socket(AF_INET, SOCK_DGRAM)
        r6.bind(("::", cfg["port"]))
        r4.bind(("0.0.0.0", cfg["port"]))
        r6.setsockopt(41, IPV6_JOIN_GROUP, ipaddress.IPv6Address(cfg["group6"]).packed
                      + lidx.to_bytes(4, sys.byteorder))
        r4.setsockopt(0, IP_ADD_MEMBERSHIP, v4(cfg["group4"]) + v4(devs[1]["addr4"]))
        ours = [r6, r4]
        send(node.poll(now()))
        return {"joined": lidx}
    if words[0] == "got":
        res = []
        for so in ours:
            g: dict[str, list[list[int]]] = {}
            for d in so.rcvq:
                g.setdefault(d.data.decode(), []).append([d.hlim, d.ifindex])
            so.rcvq.clear()
            res.append(g)
        return {"got6": res[0], "got4": res[1]}
    if words[0] == "boundary":
        node.inet.mroute_boundary_add(words[1], words[2])
        return {"boundaries": node.inet.mroute_boundaries()}
    if words[0] == "hdrincl":
        tag, n = words[1], int(words[2])
        raw = sl.socket(AF_INET, SOCK_RAW, 255)
        raw.setsockopt(0, IP_HDRINCL, 1)
        raw.setsockopt(0, IP_MULTICAST_IF, v4(cfg["own4"]))
        src, grp = ipaddress.IPv4Address(cfg["own4"]), ipaddress.IPv4Address(cfg["group4"])
        body = bytes(_core.UdpHeader(40000, cfg["port"], tag.encode()).to_bytes(src, grp))
        dgram = bytes(_core.ip_build(str(src), str(grp), 17, body, ttl=8))
        for _i in range(n):
            raw.sendto(dgram, (str(grp), 0))
            send(node.poll(now()))
        raw.close()
        return {"sent": n}
    return {"error": f"unknown command {cmd!r}"}


byfd = {t.fileno(): n for n, t in taps.items()}
ready = False
while True:
    if not ready and all(a.usable for a in node.addresses()) and \
            len(node.addresses()) == 2 * len(devs) and \
            len(node.inet.addrs) == n_addr4 and all(a.usable for a in node.inet.addrs):
        ready = True
        print(json.dumps({"ready": [str(a.addr) for a in node.addresses()]}), flush=True)
    dl = node.next_deadline()
    timeout = 0.05 if dl is None else max(0.0, min(0.05, dl - now()))
    r, _, _ = select.select([*byfd, sys.stdin], [], [], timeout)
    quit = False
    for fd in r:
        if fd is sys.stdin:
            cmd = sys.stdin.readline().strip()
            if cmd in ("state", "quit", ""):
                print(json.dumps(state()), flush=True)
                quit = cmd != "state"
            else:
                print(json.dumps(command(cmd)), flush=True)
            continue
        name = byfd[fd]
        while (f := taps[name].read()) is not None:
            if name in pcaps:
                pcaps[name].write(now(), f)
            send(node.receive(name, f, now()))
    send(node.poll(now()))
    if quit:
        for p in pcaps.values():
            p.f.close()
        break
