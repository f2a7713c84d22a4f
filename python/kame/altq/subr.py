"""The ALTQ framework (KAME ``altq_subr.c``, ``altq_var.h``): the queue of
one interface between IP output and the link, the token bucket regulator
that lets frames out as time passes, and the flow a classifier reads.

Frames reach an :class:`AltqIf` whole (Ethernet header first) as
``IFQ_ENQUEUE`` sees an mbuf; its discipline orders them and the
regulator (``tbr``) decides when the head may leave. A frame that may not
leave yet stays queued; :meth:`Altq.next_deadline` says when it may.
Every queue is bounded by its class's ``qlimit`` and every refusal is a
counted drop.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from kame.in6_var import TsoFrame

if TYPE_CHECKING:
    from collections.abc import Iterable

    from kame.altq.cdnr import Cdnr
    from kame.altq.classifier import Classifier
    from kame.altq.red import Red, Rio

Frame = tuple[str, bytes]

#: ``IFQ_MAXLEN``-like default queue limit of a class (ALTQ's ``DEFAULT_QLIMIT``).
DEFAULT_QLIMIT = 50
#: The largest ``qlimit`` accepted (frames per class): the memory bound.
MAX_QLIMIT = 65536
#: Extension headers ``extract_flow`` walks before it gives up on the ports.
MAX_EXTHDRS = 8


class Flow:
    """``struct flowinfo`` (``altq_extractflow``): what a filter reads of a
    frame. ``family`` 4, 6 or 0 (not IP); ``off`` where the IP header starts;
    addresses as integers; ``tos`` the IPv4 TOS octet or the IPv6 traffic
    class; ``gpi`` the SPI of ESP/AH (0 otherwise); ports 0 when absent."""

    __slots__ = (
        "dport",
        "dst",
        "family",
        "flowlabel",
        "gpi",
        "off",
        "proto",
        "sport",
        "src",
        "tos",
    )

    def __init__(self, family: int = 0, off: int = 0, src: int = 0, dst: int = 0,
                 proto: int = 0, sport: int = 0, dport: int = 0, tos: int = 0,
                 flowlabel: int = 0, gpi: int = 0) -> None:
        self.family = family
        self.off = off
        self.src = src
        self.dst = dst
        self.proto = proto
        self.sport = sport
        self.dport = dport
        self.tos = tos
        self.flowlabel = flowlabel
        self.gpi = gpi

    def __repr__(self) -> str:
        return (f"Flow(family={self.family}, proto={self.proto}, sport={self.sport}, "
                f"dport={self.dport}, tos={self.tos:#x}, flowlabel={self.flowlabel:#x})")


_NOT_IP = Flow()


def _transport(f: bytes, off: int, proto: int, flow: Flow) -> None:
    n = len(f)
    if proto in (6, 17, 132, 33):  # TCP, UDP, SCTP, DCCP: ports first
        if off + 4 <= n:
            flow.sport = (f[off] << 8) | f[off + 1]
            flow.dport = (f[off + 2] << 8) | f[off + 3]
    elif proto == 50:  # ESP
        if off + 4 <= n:
            flow.gpi = int.from_bytes(f[off:off + 4], "big")
    elif proto == 51 and off + 8 <= n:  # AH
        flow.gpi = int.from_bytes(f[off + 4:off + 8], "big")


def extract_flow(f: bytes) -> Flow:
    """``altq_extractflow`` for an Ethernet frame: IPv6 (walking Hop-by-Hop,
    Routing, Destination Options and Fragment headers, at most
    :data:`MAX_EXTHDRS`; a later fragment has no ports) or IPv4 (a fragment
    other than the first has no ports). Anything else, or a frame too short
    for its IP header, is a flow of family 0, which only the default class
    takes."""
    n = len(f)
    if n < 34 or f[12] != 0x08 and f[12] != 0x86:
        return _NOT_IP
    et = (f[12] << 8) | f[13]
    if et == 0x86DD and n >= 54 and f[14] >> 4 == 6:
        fl = Flow(6, 14, int.from_bytes(f[22:38], "big"), int.from_bytes(f[38:54], "big"),
                  tos=((f[14] & 0x0F) << 4) | (f[15] >> 4),
                  flowlabel=((f[15] & 0x0F) << 16) | (f[16] << 8) | f[17])
        nh, off = f[20], 54
        for _ in range(MAX_EXTHDRS):
            if nh in (0, 43, 60):  # Hop-by-Hop, Routing, Destination Options
                if off + 2 > n:
                    break
                nh, off = f[off], off + (f[off + 1] + 1) * 8
            elif nh == 44:  # Fragment
                if off + 8 > n:
                    break
                if ((f[off + 2] << 8) | f[off + 3]) & 0xFFF8:
                    fl.proto = f[off]
                    return fl  # not the first fragment: no ports
                nh, off = f[off], off + 8
            else:
                fl.proto = nh
                _transport(f, off, nh, fl)
                return fl
        fl.proto = nh
        return fl
    if et == 0x0800 and f[14] >> 4 == 4:
        ihl = (f[14] & 0x0F) * 4
        fl = Flow(4, 14, int.from_bytes(f[26:30], "big"), int.from_bytes(f[30:34], "big"),
                  f[23], tos=f[15])
        if not ((f[20] << 8) | f[21]) & 0x1FFF and ihl >= 20:
            _transport(f, 14 + ihl, f[23], fl)
        return fl
    return _NOT_IP


def set_ds_field(frame: bytes, flow: Flow, tos: int) -> bytes:
    """The frame with its TOS octet (IPv4, the header checksum updated as
    RFC 1624 does) or traffic class (IPv6) set to ``tos`` (ALTQ's
    ``write_dsfield`` and ``mark_ecn``)."""
    o = flow.off
    b = bytearray(frame)
    if flow.family == 4:
        old = (b[o] << 8) | b[o + 1]
        new = (b[o] << 8) | tos
        s = (~((b[o + 10] << 8) | b[o + 11]) & 0xFFFF) + (~old & 0xFFFF) + new
        s = (s & 0xFFFF) + (s >> 16)
        s = (s & 0xFFFF) + (s >> 16)
        c = ~s & 0xFFFF
        b[o + 1] = tos
        b[o + 10], b[o + 11] = c >> 8, c & 0xFF
    else:
        b[o] = (b[o] & 0xF0) | (tos >> 4)
        b[o + 1] = ((tos & 0x0F) << 4) | (b[o + 1] & 0x0F)
    flow.tos = tos
    if isinstance(frame, TsoFrame):
        t = TsoFrame(bytes(b))
        t.tso_segsz = frame.tso_segsz
        return t
    return bytes(b)


class Tbr:
    """The token bucket regulator (``tbr_set``, ``tbr_dequeue``): ``rate``
    in bits per second, ``depth`` (``tbrsize``) in octets. The bucket starts
    full and fills at ``rate / 8`` octets a second up to ``depth``. A frame
    of ``n`` octets leaves when the bucket holds ``min(n, depth)`` and takes
    ``n`` from it, so over any interval ``t`` the octets of frames no longer
    than ``depth`` that leave are at most ``rate / 8 * t + depth`` (a longer
    frame, a TCP super-segment, waits for a full bucket and leaves it in
    debt)."""

    __slots__ = ("_ready_at", "_ready_need", "depth", "last", "rate", "token")

    def __init__(self, rate: int, depth: int) -> None:
        if rate <= 0 or depth <= 0:
            raise ValueError("tbr: rate and depth must be positive")
        self.rate = rate
        self.depth = depth
        self.token = float(depth)
        self.last: float | None = None
        self._ready_at = float("inf")
        self._ready_need = 0.0

    def _refill(self, now: float) -> None:
        last = self.last
        if last is None or now > last:
            if last is not None:
                t = self.token + (now - last) * self.rate / 8.0
                self.token = t if t < self.depth else float(self.depth)
            self.last = now

    def conform(self, n: int, now: float) -> bool:
        """Whether a frame of ``n`` octets may leave at ``now``."""
        self._refill(now)
        need = min(self.depth, n)
        if self.token >= need:
            return True
        # the deadline this bucket gave for this much has come: what float
        # arithmetic lost of the refill is not held against the frame
        if now >= self._ready_at and need <= self._ready_need:
            self.token = float(need)
            return True
        return False

    def consume(self, n: int) -> None:
        self.token -= n
        self._ready_at = float("inf")

    def wait(self, n: int) -> float:
        """When a frame of ``n`` octets may leave (after :meth:`conform` said no)."""
        need = float(min(self.depth, n))
        last = self.last if self.last is not None else 0.0
        t = last + (need - self.token) * 8.0 / self.rate
        self._ready_at, self._ready_need = t, need
        return t


class ClassStats:
    """Counters of one class (``struct pktcntr`` pairs): frames and octets
    sent, dropped for a full queue, dropped by RED/RIO, marked CE, purged."""

    __slots__ = (
        "drop_bytes",
        "drop_packets",
        "purged_packets",
        "xmit_bytes",
        "xmit_packets",
    )

    def __init__(self) -> None:
        self.xmit_packets = 0
        self.xmit_bytes = 0
        self.drop_packets = 0
        self.drop_bytes = 0
        self.purged_packets = 0

    def snapshot(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__slots__}


class AltqClass:
    """One class: a bounded FIFO (``class_queue_t``) with drop-tail or
    RED/RIO at its tail."""

    def __init__(self, name: str, *, qlimit: int = DEFAULT_QLIMIT, default: bool = False,
                 red: Red | Rio | None = None) -> None:
        if not 1 <= qlimit <= MAX_QLIMIT:
            raise ValueError(f"qlimit {qlimit} outside 1..{MAX_QLIMIT}")
        self.name = name
        self.qlimit = qlimit
        self.default = default
        self.red = red
        self.q: deque[bytes] = deque()
        self.stats = ClassStats()
        #: ``cleardscp``: the DSCP is cleared on enqueue (ECN bits kept).
        self.cleardscp = False

    def __len__(self) -> int:
        return len(self.q)

    def drop(self, frame: bytes) -> bool:
        s = self.stats
        s.drop_packets += 1
        s.drop_bytes += len(frame)
        return False

    def addq(self, frame: bytes, flow: Flow, now: float) -> bool:
        """Queue ``frame``; ``False`` when it was dropped (counted)."""
        if self.cleardscp and flow.family and flow.tos & 0xFC:
            frame = set_ds_field(frame, flow, flow.tos & 0x03)
        if self.red is not None:
            marked = self.red.addq(self, frame, flow, now)
            if marked is None:
                return self.drop(frame)
            self.q.append(marked)
            return True
        if len(self.q) >= self.qlimit:
            return self.drop(frame)
        self.q.append(frame)
        return True

    def getq(self, now: float) -> bytes:
        f = self.q.popleft()
        if self.red is not None:
            self.red.getq(self, now)
        s = self.stats
        s.xmit_packets += 1
        s.xmit_bytes += len(f)
        return f

    def purge(self) -> int:
        n = len(self.q)
        for f in self.q:
            self.drop(f)
        self.stats.purged_packets += n
        self.q.clear()
        if self.red is not None:
            self.red.purge()
        return n

    def snapshot(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "qlen": len(self.q), "qlimit": self.qlimit,
                             "default": self.default, **self.stats.snapshot()}
        if self.red is not None:
            d["red"] = self.red.snapshot()
        return d


class Discipline:
    """What a queueing discipline offers its interface (``altq_enqueue``,
    ``altq_dequeue`` with ``ALTDQ_POLL``/``ALTDQ_REMOVE``): ``poll`` names
    the frame the next ``dequeue`` at the same time returns."""

    kind = "?"

    def classes(self) -> list[AltqClass]:
        raise NotImplementedError

    def default_class(self) -> AltqClass:
        for c in self.classes():
            if c.default:
                return c
        raise LookupError("no default class")

    def enqueue(self, cls: AltqClass, frame: bytes, flow: Flow, now: float) -> bool:
        return cls.addq(frame, flow, now)

    def poll(self, now: float) -> bytes | None:
        raise NotImplementedError

    def dequeue(self, now: float) -> bytes | None:
        raise NotImplementedError

    def next_deadline(self, now: float) -> float | None:
        """A time-based discipline's (HFSC's) next eligible time when it holds
        frames but none may leave at ``now``; ``None`` otherwise."""
        return None

    def purge(self) -> int:
        return sum(c.purge() for c in self.classes())

    def __len__(self) -> int:
        return sum(len(c) for c in self.classes())

    def snapshot(self) -> list[dict[str, Any]]:
        return [c.snapshot() for c in self.classes()]


class AltqIf:
    """``struct ifaltq`` of one interface: the discipline, its classifier and
    the regulator (``None``: no ``bandwidth``, frames leave at once in the
    discipline's order)."""

    def __init__(self, ifname: str, disc: Discipline, *, tbr: Tbr | None = None,
                 classifier: Classifier | None = None, bandwidth: int = 0) -> None:
        self.ifname = ifname
        self.disc = disc
        self.tbr = tbr
        self.classifier = classifier
        self.bandwidth = bandwidth
        self._default = disc.default_class()
        #: the interface's conditioners (``conditioner`` lines), run before
        #: the classifier; ``None``: none
        self.cdnr: Cdnr | None = None

    def enqueue(self, frame: bytes, now: float) -> bool:
        flow = extract_flow(frame)
        if self.cdnr is not None:
            conditioned = self.cdnr.condition(frame, flow, now)
            if conditioned is None:
                return False
            frame = conditioned
        cls = None
        if self.classifier is not None:
            cls = self.classifier.classify(flow)
        return self.disc.enqueue(cls if cls is not None else self._default, frame, flow, now)

    def dequeue_ready(self, now: float, out: list[Frame]) -> None:
        """Move to ``out`` every frame the regulator lets leave by ``now``."""
        disc, tbr, ifn = self.disc, self.tbr, self.ifname
        while True:
            f = disc.poll(now)
            if f is None:
                return
            if tbr is not None:
                if not tbr.conform(len(f), now):
                    return
                tbr.consume(len(f))
            got = disc.dequeue(now)
            assert got is f
            out.append((ifn, f))

    def next_deadline(self, now: float) -> float | None:
        f = self.disc.poll(now)
        if f is None:
            return self.disc.next_deadline(now) if len(self.disc) else None
        if self.tbr is None:
            return now
        t = self.tbr.wait(len(f))
        return max(now, t)

    def purge(self) -> int:
        return self.disc.purge()

    def snapshot(self) -> dict[str, Any]:
        t = self.tbr
        return {"ifname": self.ifname, "discipline": self.disc.kind,
                "bandwidth": self.bandwidth,
                "tbr": None if t is None else {"rate": t.rate, "depth": t.depth,
                                               "token": t.token},
                "qlen": len(self.disc), "classes": self.disc.snapshot(),
                "conditioners": [] if self.cdnr is None else self.cdnr.snapshot()}


class Altq:
    """The node's interfaces under ALTQ (``Node.altq``)."""

    def __init__(self) -> None:
        self.ifs: dict[str, AltqIf] = {}

    def attach(self, q: AltqIf) -> None:
        """``altq_attach`` + ``altq_enable`` (replacing the interface's queue,
        whose frames are purged and counted)."""
        old = self.ifs.get(q.ifname)
        if old is not None:
            old.purge()
        self.ifs[q.ifname] = q

    def detach(self, ifname: str) -> int:
        """``altq_disable`` + ``altq_detach``: the frames still queued are purged."""
        q = self.ifs.pop(ifname, None)
        return q.purge() if q is not None else 0

    def purge(self, ifname: str) -> int:
        q = self.ifs.get(ifname)
        return q.purge() if q is not None else 0

    def output(self, frames: Iterable[Frame], now: float) -> list[Frame]:
        """The frames for the link now: those of interfaces not under ALTQ
        as they come, then what each queue lets out."""
        ifs = self.ifs
        out: list[Frame] = []
        for ifn, f in frames:
            q = ifs.get(ifn)
            if q is None:
                out.append((ifn, f))
            else:
                q.enqueue(f, now)
        for q in ifs.values():
            q.dequeue_ready(now, out)
        return out

    def next_deadline(self, now: float) -> float | None:
        ts = [t for q in self.ifs.values() if (t := q.next_deadline(now)) is not None]
        return min(ts) if ts else None

    def snapshot(self) -> list[dict[str, Any]]:
        return [q.snapshot() for q in self.ifs.values()]
