"""An in-memory Ethernet link joining any number of endpoints under one
simulated clock.

The link is a shared medium (a hub): a frame sent by one endpoint is
delivered to every other endpoint whose address filter accepts it (its own
unicast MAC, broadcast, multicast — or everything when promiscuous), after
``delay`` plus ``uniform(0, jitter)`` seconds, unless lost with probability
``loss``; with probability ``duplicate`` a frame arrives twice, with
probability ``reorder`` it is held ``reorder_delay`` seconds longer so the
frames after it overtake it (the deterministic impairments the TCP tests
use: this kernel has no netem). All randomness comes from one seeded
:class:`random.Random`, so a run is reproducible. Frames are delivered in
time order (ties in send order).

``filters`` are callables ``f(frame) -> frame | None`` applied in order to
every frame sent, before the taps see it: a router on the path that drops
(``None``) or rewrites frames, such as a PMTU black hole that drops big
packets without a Packet Too Big, or a queue that marks ECN CE (see
:mod:`kame.link.impair` for ready-made ones).

``loop_multicast=True`` makes the link echo multicast frames back to their
sender, imitating the misbehaving drivers of seed §1.2 (useful to test that
a looped-back DAD probe is not a duplicate, RFC 7527).

:class:`Simulation` drives sans-I/O nodes (anything with ``receive``,
``poll`` and ``next_deadline``) and links together on one clock.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["Delivery", "Endpoint", "MemoryLink", "SansIoNode", "Simulation"]

Tap = Callable[[float, bytes], None]
Filter = Callable[[bytes], "bytes | None"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """A frame arriving at ``endpoint`` at ``time``."""

    time: float
    endpoint: str
    frame: bytes


@dataclass(eq=False)
class Endpoint:
    """One attachment point (a NIC) on a :class:`MemoryLink`."""

    link: MemoryLink
    name: str
    mac: bytes | None
    promiscuous: bool = False
    inbox: deque[Delivery] = field(default_factory=deque)

    def send(self, frame: bytes, now: float) -> None:
        self.link.send(self, frame, now)

    def accepts(self, frame: bytes) -> bool:
        if self.promiscuous or self.mac is None or len(frame) < 6:
            return True
        dst = frame[:6]
        return dst == self.mac or bool(dst[0] & 0x01)

    def recv(self) -> list[Delivery]:
        out = list(self.inbox)
        self.inbox.clear()
        return out


class MemoryLink:
    """A simulated shared medium; see the module docstring."""

    def __init__(
        self,
        *,
        loss: float = 0.0,
        delay: float = 0.0,
        jitter: float = 0.0,
        seed: int = 0,
        mtu: int = 1500,
        loop_multicast: bool = False,
        max_in_flight: int = 100_000,
        duplicate: float = 0.0,
        reorder: float = 0.0,
        reorder_delay: float = 0.005,
    ) -> None:
        if not 0.0 <= loss <= 1.0 or delay < 0 or jitter < 0:
            raise ValueError("loss in [0, 1], delay and jitter >= 0")
        if not 0.0 <= duplicate <= 1.0 or not 0.0 <= reorder <= 1.0 or reorder_delay < 0:
            raise ValueError("duplicate and reorder in [0, 1], reorder_delay >= 0")
        self.loss, self.delay, self.jitter = loss, delay, jitter
        self.duplicate, self.reorder, self.reorder_delay = duplicate, reorder, reorder_delay
        self.duplicated = self.reordered = 0
        self.mtu = mtu
        self.loop_multicast = loop_multicast
        self.max_in_flight = max_in_flight
        self.rng = random.Random(seed)
        self.endpoints: dict[str, Endpoint] = {}
        self.taps: list[Tap] = []
        self.filters: list[Filter] = []
        self._q: list[tuple[float, int, str, bytes]] = []
        self._seq = 0
        self.sent = self.delivered = self.lost = self.dropped = 0

    def attach(self, name: str, mac: bytes | None = None, *, promiscuous: bool = False) -> Endpoint:
        if name in self.endpoints:
            raise ValueError(f"endpoint {name!r} already attached")
        ep = Endpoint(self, name, mac, promiscuous)
        self.endpoints[name] = ep
        return ep

    def detach(self, name: str) -> None:
        self.endpoints.pop(name, None)

    def add_tap(self, tap: Tap) -> None:
        """Call ``tap(time, frame)`` for every frame sent (e.g. a pcap writer)."""
        self.taps.append(tap)

    def send(self, src: Endpoint, frame: bytes, now: float) -> None:
        self.sent += 1
        frame = bytes(frame)
        if len(frame) > self.mtu + 14:
            self.dropped += 1
            return
        for flt in self.filters:
            out = flt(frame)
            if out is None:
                self.lost += 1
                return
            frame = out
        for tap in self.taps:
            tap(now, frame)
        mcast = len(frame) >= 6 and bool(frame[0] & 0x01)
        for ep in self.endpoints.values():
            if ep is src and not (self.loop_multicast and mcast):
                continue
            if self.loss and self.rng.random() < self.loss:
                self.lost += 1
                continue
            if len(self._q) >= self.max_in_flight:
                self.dropped += 1
                continue
            t = now + self.delay + (self.rng.uniform(0.0, self.jitter) if self.jitter else 0.0)
            if self.reorder and self.rng.random() < self.reorder:
                self.reordered += 1
                t += self.reorder_delay
            self._seq += 1
            heapq.heappush(self._q, (t, self._seq, ep.name, frame))
            if self.duplicate and self.rng.random() < self.duplicate:
                self.duplicated += 1
                self._seq += 1
                heapq.heappush(self._q, (t, self._seq, ep.name, frame))

    def next_deadline(self) -> float | None:
        return self._q[0][0] if self._q else None

    def poll(self, now: float) -> list[Delivery]:
        """Deliver every frame due by ``now``, in time order; also queued in
        each endpoint's ``inbox``."""
        out: list[Delivery] = []
        while self._q and self._q[0][0] <= now:
            t, _, name, frame = heapq.heappop(self._q)
            ep = self.endpoints.get(name)
            if ep is None or not ep.accepts(frame):
                continue
            d = Delivery(t, name, frame)
            ep.inbox.append(d)
            self.delivered += 1
            out.append(d)
        return out


class SansIoNode(Protocol):
    """What :class:`Simulation` drives: frames and time in, frames out."""

    def receive(self, ifname: str, frame: bytes, now: float) -> Iterable[tuple[str, bytes]]: ...

    def poll(self, now: float) -> Iterable[tuple[str, bytes]]: ...

    def next_deadline(self) -> float | None: ...


class Simulation:
    """Nodes and links on one simulated clock.

    ``connect(node, ifname, link, mac)`` plugs a node's interface into a
    link. :meth:`run` advances the clock from deadline to deadline: due
    frames are handed to ``node.receive``, then ``node.poll(now)``; whatever
    ``(ifname, frame)`` pairs the node returns are sent on the matching link.
    """

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.links: list[MemoryLink] = []
        self._ports: dict[tuple[int, str], Endpoint] = {}
        self._owner: dict[tuple[int, str], tuple[SansIoNode, str]] = {}
        self.nodes: list[SansIoNode] = []

    def connect(self, node: SansIoNode, ifname: str, link: MemoryLink,
                mac: bytes | None = None) -> Endpoint:
        if link not in self.links:
            self.links.append(link)
        if node not in self.nodes:
            self.nodes.append(node)
        ep = link.attach(f"{id(node):x}/{ifname}", mac)
        self._ports[(id(node), ifname)] = ep
        self._owner[(id(link), ep.name)] = (node, ifname)
        return ep

    def emit(self, node: SansIoNode, frames: Iterable[tuple[str, bytes]]) -> None:
        """Send frames a node produced outside :meth:`step` (e.g. from ``up``)."""
        for ifname, frame in frames:
            ep = self._ports.get((id(node), ifname))
            if ep is not None:
                ep.send(frame, self.now)

    def next_deadline(self) -> float | None:
        cands = [link.next_deadline() for link in self.links]
        cands += [node.next_deadline() for node in self.nodes]
        ts = [t for t in cands if t is not None]
        return min(ts) if ts else None

    def step(self, until: float) -> bool:
        """Advance to the next deadline not after ``until``; False if none."""
        t = self.next_deadline()
        if t is None or t > until:
            self.now = until
            return False
        self.now = max(self.now, t)
        for link in self.links:
            for d in link.poll(self.now):
                owner = self._owner.get((id(link), d.endpoint))
                if owner is not None:
                    node, ifname = owner
                    self.emit(node, node.receive(ifname, d.frame, self.now))
        for node in self.nodes:
            self.emit(node, node.poll(self.now))
        return True

    def run(self, until: float, max_steps: int = 1_000_000) -> None:
        for _ in range(max_steps):
            if not self.step(until):
                return
        raise RuntimeError("simulation did not settle (max_steps)")
