"""Run kame nodes on TAP devices in several namespaces, each with a control
socket, against the real clock (for tests/interop/test_gif_kernel.py).

    python gif_tapnode.py CONFIG_JSON

CONFIG: ``{"nodes": [{"name", "ctl", "knobs", "devs": [{"ns", "name", "mac",
"inet6": [...], "inet": [...]}], "routes6": [[prefix, gw|null, ifname]],
"routes4": [[prefix, gw|null, ifname]]}]}``. The TAP devices exist already
(made by the test in their namespaces); this process enters each
namespace (``setns``) to open its device. Prints ``{"opened": [...]}``,
waits for a line, brings the interfaces up, configures them, prints
``{"ready": 1}``, then serves frames and the control sockets until stdin
says ``quit``. Commands (JSON lines): ``{"route6": [node, prefix, gw,
ifname]}``, ``{"route4": [...]}``, ``{"stats": node}`` (non-zero counters),
``{"quit": 1}``.
"""

from __future__ import annotations

import json
import os
import select
import sys
import time
from typing import Any

from netns_enter import setns

from kame.ctl import ControlServer, NodeHost
from kame.knobs import Knobs
from kame.link.tap import TapDevice
from kame.node import Node


def main() -> None:
    cfg = json.loads(sys.argv[1])
    t0 = time.monotonic()

    def now() -> float:
        return time.monotonic() - t0

    nodes: dict[str, Node] = {}
    hosts: dict[str, NodeHost] = {}
    taps: dict[tuple[str, str], TapDevice] = {}
    for nc in cfg["nodes"]:
        n = Node(nc["name"], knobs=Knobs(nc.get("knobs", {})), seed=len(nodes) + 5)
        nodes[nc["name"]] = n
        hosts[nc["name"]] = NodeHost(n)
        for d in nc["devs"]:
            setns(d["ns"])
            taps[(nc["name"], d["name"])] = TapDevice(d["name"])
            n.add_interface(d["name"], bytes.fromhex(d["mac"].replace(":", "")))
    print(json.dumps({"opened": sorted(d for _, d in taps)}), flush=True)
    sys.stdin.readline()

    def send(node: str, frames: list[tuple[str, bytes]]) -> None:
        for ifn, f in frames:
            t = taps.get((node, ifn))
            if t is not None:
                try:
                    t.write(f)
                except OSError:
                    pass

    servers: dict[str, ControlServer] = {}
    for nc in cfg["nodes"]:
        name = nc["name"]
        n, h = nodes[name], hosts[name]
        servers[name] = ControlServer(h, nc["ctl"], clock=now,
                                      transmit=lambda fr, name=name: send(name, fr))
        for d in nc["devs"]:
            send(name, h.up(d["name"], now()))
            for a in d.get("inet6", []):
                n.add_address(d["name"], a, now())
            for a in d.get("inet", []):
                n.add_address4(d["name"], a, now())
        for pfx, gw, ifn in nc.get("routes6", []):
            n.route_add(pfx, gw, ifn)
        for pfx, gw, ifn in nc.get("routes4", []):
            n.inet.route_add(pfx, gw, ifn)
        send(name, h.poll(now()))
    print(json.dumps({"ready": 1}), flush=True)
    byfd = {t.fileno(): k for k, t in taps.items()}
    os.set_blocking(sys.stdin.fileno(), False)
    pending = ""
    while True:
        socks: list[Any] = [s for sv in servers.values() for s in sv.sockets()]
        wl = [s for sv in servers.values() for s in sv.want_write()]
        dls = [d for h in hosts.values() if (d := h.next_deadline()) is not None]
        timeout = 0.02 if not dls else max(0.0, min(0.02, min(dls) - now()))
        r, w, _ = select.select([*byfd, sys.stdin, *socks], wl, [], timeout)
        quit_ = False
        for fd in r:
            if fd is sys.stdin:
                chunk = sys.stdin.read()
                if not chunk:
                    quit_ = True
                pending += chunk
                while "\n" in pending:
                    line, pending = pending.split("\n", 1)
                    if not line.strip():
                        continue
                    cmd = json.loads(line)
                    if "quit" in cmd:
                        quit_ = True
                    elif "route6" in cmd:
                        nn, pfx, gw, ifn = cmd["route6"]
                        nodes[nn].route_add(pfx, gw, ifn)
                        print(json.dumps({"ok": 1}), flush=True)
                    elif "route4" in cmd:
                        nn, pfx, gw, ifn = cmd["route4"]
                        nodes[nn].inet.route_add(pfx, gw, ifn)
                        print(json.dumps({"ok": 1}), flush=True)
                    elif "stats" in cmd:
                        print(json.dumps(nodes[cmd["stats"]].stats.nonzero()), flush=True)
            elif isinstance(fd, int) and fd in byfd:
                name, ifn = byfd[fd]
                frames = taps[(name, ifn)].read_many(256)
                if frames:
                    for f in frames:
                        send(name, hosts[name].receive(ifn, f, now()))
        for sv in servers.values():
            sv.handle([s for s in r if not isinstance(s, int) and s is not sys.stdin], w)
        for name, h in hosts.items():
            send(name, h.poll(now()))
            servers[name].dispatch_events(h.take_events())
        if quit_:
            break
    for sv in servers.values():
        sv.close()


if __name__ == "__main__":
    main()
