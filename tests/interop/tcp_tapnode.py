"""Run a kame.Node with TCP servers and a client on a TAP device, against
the real clock (for tests/interop/test_tcp_kernel.py).

    python tcp_tapnode.py DEV MAC ADDR/LEN SEED [ADDR4/LEN] [--offload]

Prints ``{"opened": DEV}``, waits for a line (the link is up), then serves
until stdin says ``quit``; meanwhile:

- port 8080: a one-request HTTP/1.0 server answering any GET with
  ``random.Random(SEED).randbytes(N)`` (N from the path ``/N``);
- port 9000: a sink that answers the SHA-256 of what it read once the peer
  shuts down its side;
- port 7000: holds connections open (for ``ss -ti``);
- with an IPv4 address: the AF_INET6 listeners above take IPv4 too (the
  Linux profile, ``::ffff:`` peers), and port 8081 is the same HTTP server
  on an ``AF_INET`` socket.

Commands on stdin (one JSON line each, one JSON answer line on stdout):
``{"fetch": [host, port, path]}`` (an HTTP/1.0 GET by our node's client,
on an ``AF_INET`` socket when ``host`` is dotted-quad, else ``AF_INET6``:
the answer gives the body's SHA-256 and length), ``{"info": 7000}`` (our
``tcp_info`` of the held connections), ``{"stats": 1}`` (the ``tcps_*``
counters and the TAP's offload counters; ``{"stats": "all"}`` every non-zero
counter, the memory the process holds (``VmRSS``, kB) and the neighbor
caches' sizes) and ``{"quit": 1}``.

With ``--offload`` the TAP is opened with ``IFF_VNET_HDR`` and segmentation
offload, and the interface's ``tsomax`` set from it. With ``KAME_IMPAIR`` set
to a JSON object (``loss``, ``duplicate``, ``reorder``, ``reorder_delay``,
``delay``, ``seed``, ``ce_every``: a CE mark on every n-th ECN-capable packet
either way), the TAP is wrapped in a :class:`kame.link.impair.ImpairedTap`
whose two directions impair TCP segments (ND and ARP pass untouched);
``KAME_KNOBS`` (JSON) sets knobs.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import select
import sys
import time
from typing import Any

from kame.link.impair import ImpairedTap, Impairment, ce_marker
from kame.link.tap import TapDevice
from kame.node import Node
from kame.socket import AF_INET, AF_INET6, SocketLayer
from kame.socket.stream import SHUT_WR, SOCK_STREAM


def is_tcp(frame: bytes) -> bool:
    """An IPv6 or IPv4 frame carrying TCP (no extension headers here)."""
    et = frame[12:14]
    return (et == b"\x86\xdd" and len(frame) > 20 and frame[20] == 6) or \
        (et == b"\x08\x00" and len(frame) > 23 and frame[23] == 6)


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Conn:
    def __init__(self, sock: Any, kind: str) -> None:
        self.s, self.kind = sock, kind
        self.inbuf = bytearray()
        self.out = b""
        self.sha = hashlib.sha256()
        self.n = 0
        self.done = False


def main() -> None:
    offload = "--offload" in sys.argv
    argv = [a for a in sys.argv if a != "--offload"]
    dev, mac, cidr, seed = argv[1], bytes.fromhex(argv[2].replace(":", "")), argv[3], int(argv[4])
    node = Node("kame-tcp", seed=7)
    node.knobs["net.inet6.ip6.dad_count"] = 0
    node.knobs["net.link.ether.inet.dad_count"] = 0
    for k, v in json.loads(os.environ.get("KAME_KNOBS", "{}")).items():
        node.knobs[k] = v
    cidr4 = argv[5] if len(argv) > 5 else None
    node.add_interface(dev, mac)
    layer = SocketLayer(node, "linux")
    t0 = time.monotonic()

    def now() -> float:
        return time.monotonic() - t0

    listeners = {}
    for port, kind in ((8080, "http"), (9000, "sink"), (7000, "hold")):
        ls = layer.socket(AF_INET6, SOCK_STREAM)
        ls.bind(("::", port))
        ls.listen(16)
        listeners[kind] = ls
    if cidr4 is not None:
        ls = layer.socket(AF_INET, SOCK_STREAM)
        ls.bind(("0.0.0.0", 8081))
        ls.listen(16)
        listeners["http4"] = ls
    conns: list[Conn] = []
    fetch: dict[str, Any] | None = None

    def app() -> None:
        nonlocal fetch
        for kind, ls in listeners.items():
            while True:
                try:
                    c, _ = ls.accept()
                except BlockingIOError:
                    break
                conns.append(Conn(c, kind.rstrip("4")))
        for c in conns:
            if c.done:
                continue
            s = c.s
            try:
                while True:
                    d = s.recv(65536)
                    if not d:
                        c.done = c.kind != "http" or bool(c.out)
                        if c.kind == "sink" and not c.out:
                            c.out = c.sha.hexdigest().encode() + b"\n"
                        break
                    if c.kind == "sink":
                        c.sha.update(d)
                        c.n += len(d)
                    else:
                        c.inbuf += d
            except BlockingIOError:
                pass
            except OSError:
                c.done = True
                continue
            if c.kind == "http" and not c.out and b"\r\n\r\n" in c.inbuf:
                path = c.inbuf.split(b" ")[1].decode()
                n = int(path.strip("/") or "0")
                body = random.Random(seed).randbytes(n)
                c.out = b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % n + body
            if c.out:
                try:
                    while c.out:
                        k = s.send(c.out[:262144])
                        c.out = c.out[k:]
                except BlockingIOError:
                    pass
                except OSError:
                    c.done = True
                if not c.out and not s.cantsendmore:
                    s.shutdown(SHUT_WR)
                    c.out = b""
                    c.done = c.kind == "sink"
        if fetch is not None:
            f = fetch
            s = f["s"]
            if not f["sent"] and s.connected:
                s.send(f["req"])
                f["sent"] = True
            try:
                while True:
                    d = s.recv(65536)
                    if not d:
                        head, _, body = bytes(f["buf"]).partition(b"\r\n\r\n")
                        out = {"fetched": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                               "status": head.split(b"\r\n")[0].decode(errors="replace"),
                               "seconds": now() - f["t"], "info": s.tcp_info()}
                        s.close()
                        fetch = None
                        print(json.dumps(out), flush=True)
                        break
                    f["buf"] += d
            except BlockingIOError:
                pass
            except OSError as e:
                print(json.dumps({"error": str(e)}), flush=True)
                fetch = None

    def command(line: str) -> bool:
        nonlocal fetch
        cmd = json.loads(line)
        if "quit" in cmd:
            return False
        if "fetch" in cmd:
            host, port, path = cmd["fetch"]
            s = layer.socket(AF_INET if ":" not in host else AF_INET6, SOCK_STREAM)
            try:
                s.connect((host, port))
            except BlockingIOError:
                pass
            fetch = {"s": s, "sent": False, "buf": bytearray(), "t": now(),
                     "req": f"GET {path} HTTP/1.0\r\nHost: peer\r\n\r\n".encode()}
        elif "info" in cmd:
            print(json.dumps([c.s.tcp_info() | {"peer": list(c.s.getpeername()[:2])}
                              for c in conns if c.kind == "hold" and c.s.tp is not None
                              and not c.s.tp.gone]), flush=True)
        elif "stats" in cmd and cmd["stats"] == "all":
            out = dict(node.stats.nonzero())
            out["VmRSS"] = rss_kb()
            out["nd6_entries"] = len(node.cache)
            out["arp_entries"] = len(node.inet.arptab)
            out["tcp_conns"] = len(node.tcp.conns)
            print(json.dumps(out), flush=True)
        elif "stats" in cmd:
            print(json.dumps({k: v for k, v in node.stats.nonzero().items()
                              if k.startswith("tcps")} | {"tap": [dev_tap.rx_gso, dev_tap.tx_gso,
                                                                  dev_tap.ierrors]}), flush=True)
        return True

    impair = os.environ.get("KAME_IMPAIR")
    with TapDevice(dev, offload=offload) as dev_tap:
        node.ifnets[dev].tsomax = dev_tap.tsomax
        tap: Any = dev_tap
        if impair:
            cfg = json.loads(impair)
            seed0 = int(cfg.pop("seed", 0))
            ce = int(cfg.pop("ce_every", 0))
            tap = ImpairedTap(dev_tap, rx=Impairment(seed=seed0, only=is_tcp, **cfg),
                              tx=Impairment(seed=seed0 + 1, only=is_tcp, **cfg),
                              rx_filters=[ce_marker(ce)] if ce else [],
                              tx_filters=[ce_marker(ce)] if ce else [])
        print(json.dumps({"opened": tap.name}), flush=True)
        sys.stdin.readline()
        for _, fr in node.up(dev, now()):
            tap.write(fr)
        node.add_address(dev, cidr, now())
        if cidr4 is not None:
            node.add_address4(dev, cidr4, now())
        os.set_blocking(sys.stdin.fileno(), False)
        pending = ""
        running = True
        while running:
            d = node.next_deadline()
            timeout = 0.02 if d is None else max(0.0, min(0.02, d - now()))
            r, _, _ = select.select([tap, sys.stdin], [], [], timeout)
            if impair:  # the impaired TAP holds frames back: read one at a time
                for _ in range(256):
                    fr = tap.read()
                    if fr is None:
                        break
                    for _, out in node.receive(dev, fr, now()):
                        tap.write(out)
            elif tap in r:
                frames = dev_tap.read_many(256)  # one wakeup's frames, one batch
                if frames:
                    dev_tap.write_many(out for _, out in node.receive_many(dev, frames, now()))
            if sys.stdin in r:
                chunk = sys.stdin.read()
                if not chunk:
                    break
                pending += chunk
                while "\n" in pending:
                    line, pending = pending.split("\n", 1)
                    if line.strip() and not command(line):
                        running = False
            app()
            for _, out in node.poll(now()):
                tap.write(out)


if __name__ == "__main__":
    main()
