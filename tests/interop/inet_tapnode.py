"""Run a kame.Node with IPv4 on a TAP device, driven by JSON commands on
stdin (for the IPv4 interop tests).

    python inet_tapnode.py DEV MAC '{"addr": "10.9.0.2/24", "gw": "10.9.0.1",
                                     "profile": "linux", "knobs": {...}, "pcap": PATH,
                                     "mroute": true}'

Prints ``{"opened": DEV}``, waits for one line (the link is up), then for
commands, one JSON object a line, each answered by one JSON line:

- ``{"cmd": "ping", "dst": A, "size": N, "count": K, "df": bool}``: K echo
  requests 0.2 s apart, then ``{"replies": [seq...]}`` after 1 s;
- ``{"cmd": "udp", "family": 2|10, "bind": [host, port] | null,
  "connect": [host, port] | null}``: a socket, ``{"sock": id}``;
- ``{"cmd": "sendto", "sock": id, "data": str (or "hex": H), "to": [host, port] | null}``:
  ``{"ok": n}`` or ``{"errno": e}``;
- ``{"cmd": "recv", "sock": id, "wait": s}``: ``{"data": [[str, addr]...],
  "errno": e}`` (datagrams and the pending socket error; ``"hex": true``:
  the data in hex; ``"anc": true``: ``recvmsg``, each datagram ``[str,
  addr, [[level, type, hex]...]]``);
- ``{"cmd": "sockopt", "sock": id, "level": L, "opt": O, "hex": H}``:
  ``setsockopt`` with the bytes H (or ``"int": N``), ``{"ok": true}`` or
  ``{"errno": e}``;
- ``{"cmd": "getsockopt", "sock": id, "level": L, "opt": O}``: ``{"value": v}``
  (an int) or ``{"errno": e}``;
- ``{"cmd": "knob", "name": N, "value": V}``: set a knob;
- ``{"cmd": "wait", "s": S}``: keep running S seconds;
- ``{"cmd": "state"}``: addresses, ARP table, path MTUs, counters, events,
  the TAP's interface index;
- ``{"cmd": "quit"}``.

Every frame written and read goes to ``pcap`` when given (tshark reads it).
"""

from __future__ import annotations

import json
import os
import select
import sys
import time
from ipaddress import IPv4Address
from typing import Any

from kame.inet import EchoReply4
from kame.knobs import Knobs
from kame.link.pcap import PcapWriter
from kame.link.tap import TapDevice
from kame.node import Node
from kame.socket import SocketLayer


def main() -> None:
    dev, mac = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", ""))
    cfg = json.loads(sys.argv[3])
    node = Node("kame-inet", knobs=Knobs(cfg.get("knobs", {})), seed=5)
    node.add_interface(dev, mac, mtu=cfg.get("mtu", 1500))
    layer = SocketLayer(node, cfg.get("profile", "linux"))
    t0 = time.monotonic()
    pcap = PcapWriter(open(cfg["pcap"], "wb")) if cfg.get("pcap") else None  # noqa: SIM115

    def now() -> float:
        return time.monotonic() - t0

    events: list[Any] = []
    socks: dict[int, Any] = {}

    with TapDevice(dev) as tap:
        def out(frames: list[tuple[str, bytes]]) -> None:
            for _, f in frames:
                if pcap is not None:
                    pcap.write(time.time(), f)
                tap.write(f)

        def pump(until: float) -> None:
            while True:
                d = node.next_deadline()
                timeout = max(0.0, min(0.02, until - now(), (d - now()) if d else 0.02))
                r, _, _ = select.select([tap], [], [], timeout)
                if r:
                    while (f := tap.read()) is not None:
                        if pcap is not None:
                            pcap.write(time.time(), f)
                        out(node.receive(dev, f, now()))
                out(node.poll(now()))
                events.extend(node.drain_events())
                if now() >= until:
                    return

        print(json.dumps({"opened": tap.name}), flush=True)
        sys.stdin.readline()
        out(node.up(dev, now()))
        node.add_address4(dev, cfg["addr"], now())
        if cfg.get("gw"):
            node.inet.route_add("default", cfg["gw"])
        if cfg.get("mroute"):  # 224.0.0.0/4 on the TAP: the route a join without
            node.inet.route_add("224.0.0.0/4", None, dev)  # an interface takes
        pump(now() + cfg.get("settle", 0.3))
        print(json.dumps({"ready": [str(a.addr) for a in node.inet.addrs if a.usable]}),
              flush=True)
        buf = b""
        while True:
            r, _, _ = select.select([tap, sys.stdin], [], [], 0.02)
            if tap in r:
                pump(now())
            if sys.stdin in r:
                chunk = os.read(sys.stdin.fileno(), 65536)
                if not chunk:
                    return
                buf += chunk
            out(node.poll(now()))
            events.extend(node.drain_events())
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                c = json.loads(line)
                res: dict[str, Any] = {}
                if c["cmd"] == "ping":
                    seqs = []
                    for i in range(c.get("count", 1)):
                        out(node.ping4(IPv4Address(c["dst"]), now(), seq=i,
                                       data=bytes(i & 0xFF for i in range(c.get("size", 56))),
                                       df=c.get("df", False)))
                        pump(now() + c.get("interval", 0.2))
                    pump(now() + c.get("after", 1.0))
                    seqs = [e.seq for e in events if isinstance(e, EchoReply4)]
                    events[:] = [e for e in events if not isinstance(e, EchoReply4)]
                    res = {"replies": seqs}
                elif c["cmd"] == "udp":
                    s = layer.socket(c["family"], c.get("type", 2), c.get("proto", 0))
                    if c.get("bind"):
                        s.bind(tuple(c["bind"]))
                    if c.get("connect"):
                        s.connect(tuple(c["connect"]))
                    socks[id(s)] = s
                    res = {"sock": id(s), "name": list(s.getsockname())}
                elif c["cmd"] == "sendto":
                    s = socks[c["sock"]]
                    try:
                        b = bytes.fromhex(c["hex"]) if "hex" in c else c["data"].encode()
                        n = s.sendto(b, tuple(c["to"])) if c.get("to") else s.send(b)
                        res = {"ok": n}
                    except OSError as e:
                        res = {"errno": e.errno}
                    out(node.poll(now()))
                    out(node._flush())
                elif c["cmd"] == "recv":
                    pump(now() + c.get("wait", 0.5))
                    s = socks[c["sock"]]
                    got, err = [], 0
                    while True:
                        try:
                            if c.get("anc"):  # recvmsg: the control messages in hex too
                                d, anc, _fl, a = s.recvmsg(65535, 4096)
                                got.append([d.decode(errors="replace"), list(a),
                                            [[lv, ty, v.hex()] for lv, ty, v in anc]])
                                continue
                            d, a = s.recvfrom(65535)
                            got.append([d.hex() if c.get("hex") else d.decode(errors="replace"),
                                        list(a)])
                        except BlockingIOError:
                            break
                        except OSError as e:
                            err = e.errno or 0
                            break
                    res = {"data": got, "errno": err}
                elif c["cmd"] == "sockopt":
                    s = socks[c["sock"]]
                    try:
                        s.setsockopt(c["level"], c["opt"],
                                     bytes.fromhex(c["hex"]) if "hex" in c else c["int"])
                        res = {"ok": True}
                    except OSError as e:
                        res = {"errno": e.errno}
                    out(node.poll(now()))
                elif c["cmd"] == "getsockopt":
                    try:
                        res = {"value": socks[c["sock"]].getsockopt(c["level"], c["opt"])}
                    except OSError as e:
                        res = {"errno": e.errno}
                elif c["cmd"] == "knob":
                    node.knobs[c["name"]] = c["value"]
                    res = {"ok": True}
                    out(node.poll(now()))
                elif c["cmd"] == "wait":
                    pump(now() + c["s"])
                    res = {"ok": True}
                elif c["cmd"] == "state":
                    res = {
                        "addrs": [[str(a.addr), a.usable, a.duplicated] for a in node.inet.addrs],
                        "arp": node.inet.arp_table(now()),
                        "arp_entries": len(node.inet.arptab),
                        "ifindex": int(node.ifnets[dev].index),
                        "pmtu": {str(k): v[0] for k, v in node.inet.pmtu.items()},
                        "routes": node.inet.routes_table(),
                        "stats": node.stats.nonzero(),
                        "mld": node.mldr.snapshot(now()),
                        "igmp": node.inet.igmpr.snapshot(now()),
                        "udpstat": {k: v for k, v in layer.udpstat.items() if v},
                        "events": sorted({type(e).__name__ + ":" + str(getattr(e, "kind", ""))
                                          for e in events}),
                    }
                elif c["cmd"] == "quit":
                    if pcap is not None:
                        pcap.f.flush()
                    print(json.dumps({"bye": True}), flush=True)
                    return
                print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
