"""Deterministic link impairments (this kernel has no netem): loss,
duplication, reordering and delay decided by one seeded
:class:`random.Random`, so a run is reproducible, and frame filters for the
routers a path may hide (a PMTU black hole, an ECN-marking queue).

- :class:`Impairment`: the per-frame decision, shared by the adapters;
- :class:`ImpairedTap`: wraps a :class:`kame.link.tap.TapDevice` (same
  ``read``/``write``/``fileno``/``close``), impairing both directions:
  what the kernel sends before our node reads it, what our node writes
  before the kernel gets it. Delayed frames wait in a queue that every
  ``read``, ``write`` and :meth:`ImpairedTap.flush` releases when due, so a
  loop that calls ``read`` at least every few milliseconds (as ``kame node
  --tap`` does) keeps the delays;
- :func:`blackhole` and :func:`ce_marker`: filters for
  :attr:`kame.link.memory.MemoryLink.filters` (``frame -> frame | None``).

The memory link has the same loss/duplicate/reorder knobs built in
(:class:`kame.link.memory.MemoryLink`).
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Callable
from typing import Any, Self

__all__ = ["ImpairedTap", "Impairment", "blackhole", "ce_marker"]


#: The longest delay an impairment may add (s): a link, not a storage device.
MAX_DELAY = 60.0
#: The most frames each direction of an :class:`ImpairedTap` holds back.
MAX_QUEUE = 65536
#: The most filters one direction of an :class:`ImpairedTap` takes.
MAX_FILTERS = 64


def _filters(name: str, flts: Any) -> list[Callable[[bytes], bytes | None]]:
    """A direction's filters, checked: a list or tuple of at most
    :data:`MAX_FILTERS` callables (never an unbounded iterable)."""
    if flts is None:
        return []
    if not isinstance(flts, (list, tuple)):
        raise TypeError(f"{name} is a list of functions frame -> frame | None")
    if len(flts) > MAX_FILTERS or not all(callable(f) for f in flts):
        raise ValueError(f"{name}: at most {MAX_FILTERS} functions frame -> frame | None")
    return list(flts)


class Impairment:
    """Per-frame fate: lost with probability ``loss``; else delivered after
    ``delay`` (plus ``reorder_delay`` with probability ``reorder``, so the
    frames after it overtake it), and once more with probability
    ``duplicate``. ``only`` (``frame -> bool``) limits the impairment to the
    frames it accepts (e.g. TCP segments only, so ARP and ND stay clean).
    Counters: ``seen``, ``lost``, ``duplicated``, ``reordered``."""

    def __init__(self, *, loss: float = 0.0, duplicate: float = 0.0, reorder: float = 0.0,
                 reorder_delay: float = 0.005, delay: float = 0.0, seed: int = 0,
                 only: Callable[[bytes], bool] | None = None) -> None:
        for name, p in (("loss", loss), ("duplicate", duplicate), ("reorder", reorder),
                        ("delay", delay), ("reorder_delay", reorder_delay)):
            if type(p) not in (int, float):
                raise TypeError(f"{name} is a number, not {type(p).__name__}")
        for name, p in (("loss", loss), ("duplicate", duplicate), ("reorder", reorder)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} {p} not in [0, 1]")
        if not (0 <= delay <= MAX_DELAY and 0 <= reorder_delay <= MAX_DELAY):
            raise ValueError(f"delay and reorder_delay in [0, {MAX_DELAY}] seconds")
        if type(seed) is not int:
            raise TypeError(f"seed is an int, not {type(seed).__name__}")
        if only is not None and not callable(only):
            raise TypeError("only is a function frame -> bool, or None")
        self.loss, self.duplicate, self.reorder = loss, duplicate, reorder
        self.reorder_delay, self.delay = reorder_delay, delay
        self.only = only
        self.rng = random.Random(seed)
        self.seen = self.lost = self.duplicated = self.reordered = 0

    def fate(self, frame: bytes, now: float) -> list[float]:
        """When the frame is delivered: no time (lost), one, or two (duplicated)."""
        if self.only is not None and not self.only(frame):
            return [now]
        self.seen += 1
        if self.loss and self.rng.random() < self.loss:
            self.lost += 1
            return []
        t = now + self.delay
        if self.reorder and self.rng.random() < self.reorder:
            self.reordered += 1
            t += self.reorder_delay
        if self.duplicate and self.rng.random() < self.duplicate:
            self.duplicated += 1
            return [t, t]
        return [t]

    @property
    def counters(self) -> dict[str, int]:
        return {"seen": self.seen, "lost": self.lost, "duplicated": self.duplicated,
                "reordered": self.reordered}


class ImpairedTap:
    """A TAP device whose two directions pass through :class:`Impairment`\\ s
    (``rx``: kernel to us, ``tx``: us to the kernel; either may be None),
    after the ``filters`` (``frame -> frame | None``, as
    :attr:`kame.link.memory.MemoryLink.filters`: :func:`blackhole`,
    :func:`ce_marker`) of each direction. ``clock`` gives the time the
    delays are measured in (monotonic)."""

    def __init__(self, tap: Any, *, rx: Impairment | None = None, tx: Impairment | None = None,
                 rx_filters: list[Callable[[bytes], bytes | None]] | None = None,
                 tx_filters: list[Callable[[bytes], bytes | None]] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        for name, imp in (("rx", rx), ("tx", tx)):
            if imp is not None and not isinstance(imp, Impairment):
                raise TypeError(f"{name} is an Impairment or None")
        if not callable(clock):
            raise TypeError("clock is a function returning seconds")
        self.tap, self.rx, self.tx, self.clock = tap, rx, tx, clock
        self.rx_filters = _filters("rx_filters", rx_filters)
        self.tx_filters = _filters("tx_filters", tx_filters)
        self._rxq: list[tuple[float, int, bytes]] = []
        self._txq: list[tuple[float, int, bytes]] = []
        self._seq = 0
        #: frames dropped because a direction's delay queue was full (:data:`MAX_QUEUE`)
        self.qdrops = 0

    @property
    def name(self) -> str:
        return str(self.tap.name)

    def fileno(self) -> int:
        return int(self.tap.fileno())

    def _queue(self, q: list[tuple[float, int, bytes]], imp: Impairment | None, frame: bytes,
               now: float, filters: list[Callable[[bytes], bytes | None]]) -> None:
        for flt in filters:
            out = flt(frame)
            if out is None:
                return
            frame = out
        times = [now] if imp is None else imp.fate(frame, now)
        if len(q) + len(times) > MAX_QUEUE:  # a delay line is a bounded queue
            self.qdrops += len(times)
            return
        for t in times:
            self._seq += 1
            heapq.heappush(q, (t, self._seq, frame))

    def flush(self) -> None:
        """Write every frame to the kernel whose time has come."""
        now = self.clock()
        while self._txq and self._txq[0][0] <= now:
            self.tap.write(heapq.heappop(self._txq)[2])

    def next_deadline(self) -> float | None:
        """When the next delayed frame (either way) is due, on ``clock``."""
        ts = [q[0][0] for q in (self._rxq, self._txq) if q]
        return min(ts) if ts else None

    def read(self) -> bytes | None:
        """One frame from the kernel that survived and is due, or None."""
        now = self.clock()
        while (f := self.tap.read()) is not None:
            self._queue(self._rxq, self.rx, f, now, self.rx_filters)
        self.flush()
        if self._rxq and self._rxq[0][0] <= now:
            return heapq.heappop(self._rxq)[2]
        return None

    def write(self, frame: bytes) -> int:
        """Hand a frame to the impairment towards the kernel (always
        "written": a lost frame is lost on the wire, not refused)."""
        if not isinstance(frame, (bytes, bytearray, memoryview)):
            raise TypeError(f"a frame is bytes-like, not {type(frame).__name__}")
        self._queue(self._txq, self.tx, bytes(frame), self.clock(), self.tx_filters)
        self.flush()
        return len(frame)

    def close(self) -> None:
        self.tap.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ip_offset(frame: bytes) -> tuple[int, int] | None:
    """(IP version, offset of the IP header) of an Ethernet frame, or None."""
    if len(frame) < 15:
        return None
    et = frame[12:14]
    if et == b"\x86\xdd" and frame[14] >> 4 == 6:
        return 6, 14
    if et == b"\x08\x00" and frame[14] >> 4 == 4:
        return 4, 14
    return None


def blackhole(max_len: int) -> Callable[[bytes], bytes | None]:
    """A router whose next hop takes at most ``max_len`` octets of IP and
    which drops bigger packets without sending Packet Too Big or
    Fragmentation Needed (a PMTU black hole, RFC 2923 §2.1)."""
    if type(max_len) is not int:
        raise TypeError(f"max_len is an int, not {type(max_len).__name__}")
    if not 0 <= max_len <= 0xFFFFFFFF:
        raise ValueError("max_len in 0..2**32-1 octets")

    def flt(frame: bytes) -> bytes | None:
        ip = _ip_offset(frame)
        if ip is not None and len(frame) - ip[1] > max_len:
            return None
        return frame

    return flt


def ce_marker(every: int = 1) -> Callable[[bytes], bytes | None]:
    """A congested queue (RFC 3168 §5): every ``every``-th ECN-capable IP
    packet (ECT(0) or ECT(1)) leaves with CE set; the IPv4 header checksum
    is recomputed. Not-ECT packets pass unchanged. ``flt.marked`` counts."""
    if type(every) is not int:
        raise TypeError(f"every is an int, not {type(every).__name__}")
    if not 1 <= every <= 0xFFFFFFFF:
        raise ValueError("every in 1..2**32-1")
    n = [0, 0]

    def flt(frame: bytes) -> bytes | None:
        ip = _ip_offset(frame)
        if ip is None:
            return frame
        ver, off = ip
        if ver == 6:
            ecn = (frame[off + 1] >> 4) & 3
        else:
            ecn = frame[off + 1] & 3
        if ecn in (0, 3):
            return frame
        n[0] += 1
        if n[0] % every:
            return frame
        b = bytearray(frame)
        if ver == 6:
            b[off + 1] |= 0x30
        else:
            b[off + 1] |= 0x03
            hl = (b[off] & 0x0F) * 4
            b[off + 10:off + 12] = b"\0\0"
            s = sum(int.from_bytes(b[off + i:off + i + 2], "big") for i in range(0, hl, 2))
            while s >> 16:
                s = (s & 0xFFFF) + (s >> 16)
            b[off + 10:off + 12] = (~s & 0xFFFF).to_bytes(2, "big")
        n[1] += 1
        setattr(flt, "marked", n[1])  # noqa: B010 - a counter on the filter
        return bytes(b)

    setattr(flt, "marked", 0)  # noqa: B010
    return flt
