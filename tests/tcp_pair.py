"""Two of our nodes joined by a memory link, for the TCP tests
(test_tcp.py, test_tcp_ext.py, test_tcp_fastpath.py, and over IPv4
test_tcp4.py): ``a`` (MA, A) and ``b`` (MB, B) on one /64, or with
``inet4`` on one IPv4 /24, a socket layer on each, a simulated clock, and
``pump`` to move a byte stream from one socket to the other."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pytest

from kame.link.memory import MemoryLink, Simulation
from kame.link.pcap import PcapWriter
from kame.node import Node
from kame.socket import AF_INET6, SocketLayer
from kame.socket.stream import SOCK_STREAM, StreamSocket

MA = bytes.fromhex("020000000a0a")
MB = bytes.fromhex("020000000b0b")
A, B = "2001:db8::a", "2001:db8::b"


class Pair:
    """Nodes ``a`` and ``b`` on one memory link (``mtu``), with ``knobs``
    set on both and the socket layers of ``profile``; ``link`` sets the
    link's impairments (loss, reorder, duplicate...) once the addresses
    are up. With ``capture`` every frame sent is kept in ``frames``.
    ``inet4``: the two nodes' IPv4 addresses (a /24, DAD off), in place
    of A and B; the nodes then have only their link-local IPv6 ones."""

    #: the listener's port of :meth:`connect`
    port = 80
    #: how many 50 ms steps :meth:`connect` waits for the handshake
    tries = 200
    #: the octets :meth:`pump` hands to one send() and asks of one recv()
    send_chunk = recv_chunk = 65536

    def __init__(self, profile: str = "linux", knobs: dict[str, int] | None = None,
                 seed: int = 0, *, mtu: int = 1500, capture: bool = False,
                 inet4: tuple[str, str] | None = None, **link: Any) -> None:
        self.link = MemoryLink(delay=0.005, seed=seed, mtu=mtu)
        self.frames: list[tuple[float, bytes]] = []
        if capture:
            self.link.add_tap(lambda t, f: self.frames.append((t, f)))
        self.sim = Simulation()
        self.a, self.b = Node("a", seed=1), Node("b", seed=2)
        if inet4 is not None:
            knobs = {"net.link.ether.inet.dad_count": 0, **(knobs or {})}
        for n in (self.a, self.b):
            for k, v in (knobs or {}).items():
                n.knobs[k] = v
        self.a.add_interface("eth0", MA, mtu=mtu)
        self.b.add_interface("eth0", MB, mtu=mtu)
        self.sim.connect(self.a, "eth0", self.link, MA)
        self.sim.connect(self.b, "eth0", self.link, MB)
        self.sim.emit(self.a, self.a.up("eth0", 0.0))
        self.sim.emit(self.b, self.b.up("eth0", 0.0))
        if inet4 is not None:
            self.a.add_address4("eth0", inet4[0] + "/24", 0.0)
            self.b.add_address4("eth0", inet4[1] + "/24", 0.0)
            self.sim.run(until=0.5)
        else:
            self.a.add_address("eth0", A + "/64", 0.0)
            self.b.add_address("eth0", B + "/64", 0.0)
            self.sim.run(until=3.0)
        self.la, self.lb = SocketLayer(self.a, profile), SocketLayer(self.b, profile)
        for k, v in link.items():
            setattr(self.link, k, v)
        self.sync()

    def sync(self) -> None:
        """Bring the nodes' clocks to the simulation's (sockets read node._now)."""
        for n in (self.a, self.b):
            self.sim.emit(n, n.poll(self.sim.now))

    def run(self, dt: float) -> None:
        self.sim.run(until=self.sim.now + dt)
        self.sync()

    def connect(self, port: int | None = None
                ) -> tuple[StreamSocket, StreamSocket, StreamSocket]:
        """A listener on b, a connection from a to it: (listener, a's
        socket, b's accepted socket)."""
        port = self.port if port is None else port
        srv = self.lb.socket(AF_INET6, SOCK_STREAM)
        srv.bind(("::", port))
        srv.listen(8)
        cli = self.la.socket(AF_INET6, SOCK_STREAM)
        with pytest.raises(BlockingIOError) as ei:
            cli.connect((B, port))
        assert ei.value.errno == errno.EINPROGRESS
        for _ in range(self.tries):
            self.run(0.05)
            try:
                conn, _ = srv.accept()
                return srv, cli, conn  # type: ignore[return-value]
            except BlockingIOError:
                continue
        raise AssertionError("no connection")

    def pump(self, tx: StreamSocket, rx: StreamSocket, data: bytes, limit: float = 300) -> bytes:
        """Send ``data`` through tx, FIN, read everything at rx until EOF."""
        sent = 0
        got = bytearray()
        t0 = self.sim.now
        while self.sim.now - t0 < limit:
            while sent < len(data):
                try:
                    sent += tx.send(data[sent:sent + self.send_chunk])
                except BlockingIOError:
                    break
            if sent == len(data) and not tx.cantsendmore:
                tx.shutdown(1)
            if not self.sim.step(self.sim.now + 30):
                break
            self.sync()
            while True:
                try:
                    d = rx.recv(self.recv_chunk)
                except BlockingIOError:
                    break
                if not d:
                    return bytes(got)
                got += d
        return bytes(got)

    def pcap(self, path: Path) -> Path:
        """The captured frames (``capture``) written to ``path``."""
        with path.open("wb") as f:
            w = PcapWriter(f, snaplen=1 << 18)
            for t, fr in self.frames:
                w.write(t, fr)
        return path


def pump(p: Pair, tx: StreamSocket, rx: StreamSocket, data: bytes, limit: float = 300
         ) -> bytes:
    """:meth:`Pair.pump` as a function."""
    return p.pump(tx, rx, data, limit)
