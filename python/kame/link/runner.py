"""Drive sans-I/O nodes on real links with the real clock.

A kernel moves frames between its interfaces' drivers and ``ip6_input``
(the ``netisr`` queue) and fires its timers from ``callout``s; a
:class:`Runner` is that for :class:`kame.node.Node`: it reads every frame
waiting on each attached TAP device (:class:`~kame.link.tap.TapDevice`)
and each :class:`~kame.link.memory.MemoryLink` endpoint, hands them to the
node's ``receive``, runs ``poll(now)`` and writes what the node transmits,
the clock being read once per pass. :meth:`Runner.service` is one pass;
:meth:`Runner.next_deadline` says when the next one is due (the earliest
node timer or memory-link delivery) and :meth:`Runner.fds` which
descriptors make one due earlier. Any loop can drive it: :meth:`Runner.run`
(``select``), :mod:`kame.aio` (``loop.add_reader``/``loop.call_at``) and
:mod:`kame.socket.blocking` (a background thread).

The clock is ``time.monotonic`` unless another is given (the asyncio
adapter gives ``loop.time``, so deadlines are the loop's own times). A
socket call queues frames on its node without a clock; call
:meth:`service` after one to send them at once (``node.next_deadline`` is
already due while frames wait).
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from kame.link.memory import Endpoint, MemoryLink

__all__ = ["RX_BATCH", "Device", "Runner"]

#: Frames read from one device per pass before the others and the timers
#: get their turn (``kame node --tap`` uses the same bound): a flood on one
#: link cannot starve the rest.
RX_BATCH = 256


class Device(Protocol):
    """A link the runner reads and writes: a TAP device or anything alike."""

    def fileno(self) -> int: ...

    def read(self) -> bytes | None: ...

    def write(self, frame: bytes) -> int: ...


@dataclass(eq=False, slots=True)
class _Port:
    node: Any
    ifname: str
    device: Device | None = None
    endpoint: Endpoint | None = None


class Runner:
    """Nodes on TAP devices and memory links, on one real clock."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self.clock: Callable[[], float] = clock if clock is not None else time.monotonic
        self.ports: list[_Port] = []
        self.nodes: list[Any] = []
        self.links: list[MemoryLink] = []
        self._by_node: dict[tuple[int, str], _Port] = {}
        self._by_ep: dict[tuple[int, str], _Port] = {}
        #: Frames the node transmitted that a device refused (its kernel
        #: side down): ``if_snd`` drops, as ``ifq_drops``.
        self.ifq_drops = 0
        self.rx_frames = self.tx_frames = 0
        #: Called after every pass (the adapters wake their sockets' users).
        self.after_service: list[Callable[[], None]] = []

    # --- wiring ---------------------------------------------------------------------

    def _node(self, node: Any) -> None:
        if node not in self.nodes:
            self.nodes.append(node)

    def attach_device(self, node: Any, ifname: str, device: Device) -> None:
        """Frames of ``node``'s ``ifname`` go to and come from ``device``."""
        if (id(node), ifname) in self._by_node:
            raise ValueError(f"{ifname} is already attached")
        p = _Port(node, ifname, device=device)
        self.ports.append(p)
        self._by_node[(id(node), ifname)] = p
        self._node(node)

    def attach_link(self, node: Any, ifname: str, link: MemoryLink,
                    mac: bytes | None = None) -> Endpoint:
        """Plug ``node``'s ``ifname`` into a memory link (run on the real clock)."""
        if (id(node), ifname) in self._by_node:
            raise ValueError(f"{ifname} is already attached")
        ep = link.attach(f"{id(node):x}/{ifname}", mac)
        p = _Port(node, ifname, endpoint=ep)
        self.ports.append(p)
        self._by_node[(id(node), ifname)] = p
        self._by_ep[(id(link), ep.name)] = p
        if link not in self.links:
            self.links.append(link)
        self._node(node)
        return ep

    # --- the pass ---------------------------------------------------------------------

    def transmit(self, node: Any, frames: Any, now: float | None = None) -> None:
        """Send what ``node`` returned (``(ifname, frame)`` pairs) out of its ports."""
        for ifname, frame in frames:
            p = self._by_node.get((id(node), ifname))
            if p is None:
                continue
            self.tx_frames += 1
            if p.device is not None:
                try:
                    p.device.write(frame)
                except OSError:
                    self.ifq_drops += 1
            elif p.endpoint is not None:
                p.endpoint.send(frame, self.clock() if now is None else now)

    def service(self) -> float | None:
        """One pass: frames in, timers, frames out; returns :meth:`next_deadline`."""
        now = self.clock()
        for p in self.ports:
            if p.device is None:
                continue
            for _ in range(RX_BATCH):
                try:
                    fr = p.device.read()
                except OSError:
                    break
                if fr is None:
                    break
                self.rx_frames += 1
                self.transmit(p.node, p.node.receive(p.ifname, fr, now), now)
        for link in self.links:
            for d in link.poll(now):
                q = self._by_ep.get((id(link), d.endpoint))
                if q is not None:
                    self.rx_frames += 1
                    self.transmit(q.node, q.node.receive(q.ifname, d.frame, now), now)
        for node in self.nodes:
            self.transmit(node, node.poll(now), now)
        for fn in list(self.after_service):
            fn()
        # what the callbacks' socket calls queued goes out in the same pass
        for node in self.nodes:
            if getattr(node, "_out", None):
                self.transmit(node, node.poll(now), now)
        return self.next_deadline()

    def next_deadline(self) -> float | None:
        ts = [t for t in (n.next_deadline() for n in self.nodes) if t is not None]
        ts += [t for t in (link.next_deadline() for link in self.links) if t is not None]
        return min(ts) if ts else None

    def fds(self) -> list[int]:
        """The descriptors whose readiness calls for a pass."""
        return [p.device.fileno() for p in self.ports if p.device is not None]

    def timeout(self, cap: float = 1.0) -> float:
        """Seconds until the next pass is due (at most ``cap``)."""
        d = self.next_deadline()
        if d is None:
            return cap
        return min(cap, max(0.0, d - self.clock()))

    def run(self, until: Callable[[], bool] | None = None, *,
            timeout: float | None = None, extra: list[Any] | None = None,
            on_ready: Callable[[list[Any]], None] | None = None) -> bool:
        """Pass after pass, sleeping in ``select`` between them, until
        ``until()`` holds (True) or ``timeout`` seconds went by (False).
        ``extra`` are more objects to wait on (files, sockets); those ready
        are handed to ``on_ready`` before the pass."""
        end = None if timeout is None else self.clock() + timeout
        self.service()
        while until is None or not until():
            wait = self.timeout()
            if end is not None:
                left = end - self.clock()
                if left <= 0:
                    return False
                wait = min(wait, left)
            rl: list[Any] = [*self.fds(), *(extra or ())]
            try:
                r, _, _ = select.select(rl, [], [], wait)
            except InterruptedError:
                r = []
            if on_ready is not None and extra:
                ready = [x for x in r if x in extra]
                if ready:
                    on_ready(ready)
            self.service()
        return True
