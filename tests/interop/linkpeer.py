"""The other end of a link, run inside a test's network namespace
(``ip netns exec NS python linkpeer.py``): it writes Ethernet frames onto
a device and reads what comes back, for the interop tests.

Two ways onto a link:

- ``packet DEV``: an ``AF_PACKET`` socket on the kernel side of a TAP
  device whose descriptor another process holds (tapnode.py, our node):
  what it sends reaches that process, what that process writes comes back;
- ``tap DEV``: the descriptor of a new TAP device itself: what it writes
  the Linux kernel receives on DEV, what the kernel sends comes back.

Commands, one JSON object a line on stdin, one JSON answer a line on stdout:

- ``{"op": "open", "how": "packet"|"tap", "dev": DEV}``;
- ``{"op": "exchange", "dev": DEV, "frames": [HEX...], "wait": S,
  "from_mac": MAC}``: send each frame, then collect for ``wait`` seconds
  the frames whose source is ``from_mac``; answers ``{"answers": [[HEX...]
  per frame]}``;
- ``{"op": "build", "args": {...}}``: build the flood frames of
  tests/flood_frames.py (``count`` of each kind, ``node``/``node_mac`` the
  target, ``router``/``router_mac`` its first hop) before any flood;
- ``{"op": "flood", "dev": DEV, "kind": KIND, "seconds": S}``: send the
  frames of KIND round and round, as fast as one ``send`` per frame allows,
  for S seconds; answers ``{"sent": N, "seconds": T}``.
"""

from __future__ import annotations

import json
import select
import socket
import sys
import time
from ipaddress import IPv6Address as A
from typing import Any

import flood_frames as ff

from kame.link.tap import TapDevice

ETH_P_ALL = 0x0003


class Port:
    """One way onto a link: send a frame, receive one (or None)."""

    def __init__(self, how: str, dev: str) -> None:
        self.tap: TapDevice | None = None
        self.sock: socket.socket | None = None
        if how == "tap":
            self.tap = TapDevice(dev)
        else:
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            self.sock.bind((dev, 0))
            self.sock.setblocking(False)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)

    def fileno(self) -> int:
        return self.tap.fileno() if self.tap is not None else self.sock.fileno()  # type: ignore[union-attr]

    def send(self, frame: bytes) -> None:
        if self.tap is not None:
            self.tap.write(frame)
            return
        assert self.sock is not None
        try:
            self.sock.send(frame)
        except (BlockingIOError, OSError):
            pass  # the device's queue is full: the frame is lost, as on a wire

    def recv(self) -> bytes | None:
        if self.tap is not None:
            return self.tap.read()
        assert self.sock is not None
        try:
            return self.sock.recv(65536)
        except BlockingIOError:
            return None

    def drain(self) -> None:
        while self.recv() is not None:
            pass


def exchange(port: Port, frames: list[bytes], wait: float, from_mac: bytes) -> list[list[str]]:
    out = []
    for f in frames:
        port.drain()
        port.send(f)
        got: list[str] = []
        end = time.monotonic() + wait
        while (left := end - time.monotonic()) > 0:
            r, _, _ = select.select([port], [], [], left)
            while r and (x := port.recv()) is not None:
                if x[6:12] == from_mac:
                    got.append(x.hex())
        out.append(got)
    return out


def build(args: dict[str, Any]) -> dict[str, list[bytes]]:
    n = args["count"]
    node, node_mac = A(args["node"]), bytes.fromhex(args["node_mac"].replace(":", ""))
    router, router_mac = A(args["router"]), bytes.fromhex(args["router_mac"].replace(":", ""))
    return {
        "ra": ff.ra_frames(n),
        "ns": ff.ns_frames(n, node),
        # the router first: Redirects count only from the current first hop
        "redirect.setup": [ff.router_ra(router, router_mac)],
        "redirect": ff.redirect_frames(n, router, router_mac, node, node_mac),
        "frag": ff.frag_frames(n, node, node_mac),
        "mld": ff.mld_frames(n),
        "ptb": ff.ptb_frames(n, node, node_mac),
        "echo": ff.echo_frames(n, node, node_mac),
    }


def flood(port: Port, frames: list[bytes], seconds: float) -> tuple[int, float]:
    send = port.sock.send if port.sock is not None else port.send  # type: ignore[union-attr]
    sent, k, n = 0, 0, len(frames)
    t0 = time.monotonic()
    end = t0 + seconds
    while True:
        for _ in range(256):
            try:
                send(frames[k])
                sent += 1
            except OSError:
                pass  # queue full: lost, as on a wire
            k = k + 1 if k + 1 < n else 0
        if time.monotonic() >= end:
            break
    return sent, time.monotonic() - t0


def main() -> None:
    ports: dict[str, Port] = {}
    pools: dict[str, list[bytes]] = {}
    for line in sys.stdin:
        req = json.loads(line)
        op = req["op"]
        if op == "open":
            ports[req["dev"]] = Port(req["how"], req["dev"])
            ans: dict[str, Any] = {"ok": True}
        elif op == "exchange":
            ans = {"answers": exchange(ports[req["dev"]], [bytes.fromhex(f) for f in req["frames"]],
                                       req["wait"], bytes.fromhex(req["from_mac"].replace(":", "")))}
        elif op == "build":
            pools = build(req["args"])
            ans = {"built": {k: len(v) for k, v in pools.items()}}
        elif op == "flood":
            port = ports[req["dev"]]
            for f in pools.get(req["kind"] + ".setup", []):
                port.send(f)
                time.sleep(0.2)
            sent, secs = flood(port, pools[req["kind"]], req["seconds"])
            ans = {"sent": sent, "seconds": secs}
        else:
            ans = {"error": f"unknown op {op!r}"}
        print(json.dumps(ans), flush=True)


if __name__ == "__main__":
    main()
