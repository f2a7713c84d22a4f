"""CDNR, the diffserv traffic conditioner (KAME ``altq_cdnr.c``): packets a
conditioner's filters take are metered and then passed, dropped or marked
with a DSCP, before the interface's queue sees them.

Elements (altq.conf's ``conditioner`` line, actions in angle brackets):

- ``<pass>``, ``<drop>``, ``<mark CODEPOINT>`` (the DS octet's top six
  bits, as 0x28 for AF11; the ECN bits are kept);
- ``<tbmeter RATE DEPTH <in> <out>>``: a token bucket, ``in`` while the
  bucket holds the packet's octets;
- ``<trtcm CIR CBS PIR PBS <green> <yellow> <red> [coloraware|colorblind]>``:
  RFC 2698's two-rate three-colour marker;
- ``<srtcm CIR CBS EBS <green> <yellow> <red> [coloraware|colorblind]>``:
  RFC 2697's single-rate three-colour marker (ALTQ has none; ours);
- ``<tswtcm CTR PTR WINDOW_MS <green> <yellow> <red>>``: RFC 2859's
  time-sliding-window marker.

Token buckets start full and fill with time (octets; rates in bit/s).
In color-aware mode a packet's colour on arrival is read from its DSCP:
the codepoint of the red action's ``mark`` makes it red, the yellow one's
yellow. ALTQ conditions on input (``altq_input``); here an interface's
conditioners act on its output, before its queue.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from kame.altq.subr import AltqClass, Flow, set_ds_field

if TYPE_CHECKING:
    from kame.altq.classifier import Classifier

#: How deep actions may nest in one conditioner.
MAX_DEPTH = 8
GREEN, YELLOW, RED = 0, 1, 2


class Action:
    """A conditioner element; :meth:`apply` returns the frame to queue
    (marked perhaps) or ``None`` (dropped)."""

    kind = "?"

    def __init__(self) -> None:
        self.packets = 0
        self.bytes = 0

    def apply(self, frame: bytes, flow: Flow, now: float) -> bytes | None:
        self.packets += 1
        self.bytes += len(frame)
        return self._apply(frame, flow, now)

    def _apply(self, frame: bytes, flow: Flow, now: float) -> bytes | None:
        raise NotImplementedError

    def children(self) -> list[Action]:
        return []

    def snapshot(self) -> dict[str, Any]:
        return {"kind": self.kind, "packets": self.packets, "bytes": self.bytes,
                "children": [c.snapshot() for c in self.children()]}


class Pass(Action):
    kind = "pass"

    def _apply(self, frame: bytes, flow: Flow, now: float) -> bytes | None:
        return frame


class Drop(Action):
    kind = "drop"

    def _apply(self, frame: bytes, flow: Flow, now: float) -> bytes | None:
        return None


class Mark(Action):
    """``TCACODE_MARK``: the DSCP set to ``codepoint >> 2`` (a DS octet)."""

    kind = "mark"

    def __init__(self, codepoint: int) -> None:
        super().__init__()
        if not 0 <= codepoint <= 0xFF or codepoint & 0x03:
            raise ValueError(f"mark {codepoint:#x}: a DS octet with the ECN bits 0")
        self.codepoint = codepoint

    def _apply(self, frame: bytes, flow: Flow, now: float) -> bytes | None:
        if not flow.family:
            return frame
        tos = (flow.tos & 0x03) | self.codepoint
        return frame if tos == flow.tos else set_ds_field(frame, flow, tos)

    def snapshot(self) -> dict[str, Any]:
        return {**super().snapshot(), "codepoint": self.codepoint}


#: A bucket's tokens are integers of this many to the octet (8 bits times
#: 10**9 ns), so that with the clock read in whole nanoseconds the meters do
#: RFC 2697/2698's arithmetic exactly: a packet that just fits, fits.
UNIT = 8 * 10**9


class Bucket:
    """A token bucket of ``depth`` octets filling at ``rate`` bit/s; tokens
    in :data:`UNIT` per octet (a nanosecond at ``rate`` adds ``rate``)."""

    __slots__ = ("cap", "depth", "last", "rate", "units")

    def __init__(self, rate: int, depth: int) -> None:
        if rate < 0 or depth <= 0:
            raise ValueError("token bucket: rate >= 0 and depth > 0")
        self.rate, self.depth = rate, depth
        self.cap = depth * UNIT
        self.units = self.cap
        self.last: int | None = None

    @property
    def tokens(self) -> float:
        """The tokens in octets."""
        return self.units / UNIT

    def fill(self, now: float) -> int:
        """The bucket filled to ``now``; the units that overflowed."""
        ns = round(now * 1e9)
        last = self.last
        self.last = ns if last is None or ns > last else last
        if last is None or ns <= last:
            return 0
        u = self.units + (ns - last) * self.rate
        over = u - self.cap
        if over > 0:
            self.units = self.cap
            return over
        self.units = u
        return 0

    def take(self, n: int) -> bool:
        """Take ``n`` octets if the bucket holds them."""
        need = n * UNIT
        if self.units >= need:
            self.units -= need
            return True
        return False

    def holds(self, n: int) -> bool:
        return self.units >= n * UNIT


def _colour_of(flow: Flow, actions: tuple[Action, Action, Action]) -> int:
    """A color-aware meter's colour of an arriving packet: the DSCP of the
    red or yellow action's ``mark`` (green otherwise)."""
    ds = flow.tos & 0xFC
    for colour in (RED, YELLOW):
        a = actions[colour]
        if isinstance(a, Mark) and a.codepoint == ds:
            return colour
    return GREEN


class TbMeter(Action):
    """``tbmeter``: ``in`` while the bucket holds the packet, else ``out``."""

    kind = "tbmeter"

    def __init__(self, rate: int, depth: int, in_action: Action, out_action: Action) -> None:
        super().__init__()
        self.tb = Bucket(rate, depth)
        self.in_action, self.out_action = in_action, out_action

    def _apply(self, frame: bytes, flow: Flow, now: float) -> bytes | None:
        tb = self.tb
        tb.fill(now)
        if tb.take(len(frame)):
            return self.in_action.apply(frame, flow, now)
        return self.out_action.apply(frame, flow, now)

    def children(self) -> list[Action]:
        return [self.in_action, self.out_action]

    def snapshot(self) -> dict[str, Any]:
        return {**super().snapshot(), "rate": self.tb.rate, "depth": self.tb.depth}


class _ThreeColour(Action):
    def __init__(self, actions: tuple[Action, Action, Action], coloraware: bool) -> None:
        super().__init__()
        self.actions = actions
        self.coloraware = coloraware
        self.colours = [0, 0, 0]

    def colour(self, n: int, pre: int, now: float) -> int:
        raise NotImplementedError

    def _apply(self, frame: bytes, flow: Flow, now: float) -> bytes | None:
        pre = _colour_of(flow, self.actions) if self.coloraware and flow.family else GREEN
        c = self.colour(len(frame), pre, now)
        self.colours[c] += 1
        return self.actions[c].apply(frame, flow, now)

    def children(self) -> list[Action]:
        return list(self.actions)

    def snapshot(self) -> dict[str, Any]:
        return {**super().snapshot(), "green": self.colours[0], "yellow": self.colours[1],
                "red": self.colours[2], "coloraware": self.coloraware}


class TrTcm(_ThreeColour):
    """RFC 2698: ``Tp`` (PIR, PBS) and ``Tc`` (CIR, CBS). Red if ``Tp < B``;
    else yellow if ``Tc < B`` (``Tp -= B``); else green (both less ``B``).
    Color-aware, a red packet stays red and a yellow one is never green."""

    kind = "trtcm"

    def __init__(self, cir: int, cbs: int, pir: int, pbs: int,
                 actions: tuple[Action, Action, Action], coloraware: bool = False) -> None:
        super().__init__(actions, coloraware)
        if pir < cir:
            raise ValueError(f"trtcm: peak rate {pir} below committed rate {cir}")
        self.c = Bucket(cir, cbs)
        self.p = Bucket(pir, pbs)

    def colour(self, n: int, pre: int, now: float) -> int:
        c, p = self.c, self.p
        c.fill(now)
        p.fill(now)
        if pre == RED or not p.holds(n):
            return RED
        if pre == YELLOW or not c.holds(n):
            p.take(n)
            return YELLOW
        p.take(n)
        c.take(n)
        return GREEN

    def snapshot(self) -> dict[str, Any]:
        return {**super().snapshot(), "cir": self.c.rate, "cbs": self.c.depth,
                "pir": self.p.rate, "pbs": self.p.depth}


class SrTcm(_ThreeColour):
    """RFC 2697: ``Tc`` (CBS) fills at CIR and what overflows it fills ``Te``
    (EBS). Green if ``Tc >= B`` (``Tc -= B``); else yellow if ``Te >= B``
    (``Te -= B``); else red."""

    kind = "srtcm"

    def __init__(self, cir: int, cbs: int, ebs: int,
                 actions: tuple[Action, Action, Action], coloraware: bool = False) -> None:
        super().__init__(actions, coloraware)
        self.c = Bucket(cir, cbs)
        self.e = Bucket(0, ebs)

    def colour(self, n: int, pre: int, now: float) -> int:
        c, e = self.c, self.e
        e.units = min(e.cap, e.units + c.fill(now))
        if pre == GREEN and c.take(n):
            return GREEN
        if pre != RED and e.take(n):
            return YELLOW
        return RED

    def snapshot(self) -> dict[str, Any]:
        return {**super().snapshot(), "cir": self.c.rate, "cbs": self.c.depth,
                "ebs": self.e.depth}


class TswTcm(_ThreeColour):
    """RFC 2859: the average rate over a sliding window ``win`` seconds
    (``avg = (avg * win + B) / (now - t_front + win)``); at most CTR green;
    up to PTR yellow with probability ``(avg - CTR) / avg``; above PTR red
    with probability ``(avg - PTR) / avg`` and yellow with ``(PTR - CTR) / avg``."""

    kind = "tswtcm"

    def __init__(self, ctr: int, ptr: int, win: float, actions: tuple[Action, Action, Action],
                 rng: random.Random | None = None) -> None:
        super().__init__(actions, False)
        if not 0 < ctr <= ptr or win <= 0:
            raise ValueError("tswtcm: 0 < committed rate <= peak rate, window > 0")
        self.ctr, self.ptr = ctr / 8.0, ptr / 8.0  # octets a second
        self.win = win
        self.avg = self.ctr
        self.t_front: float | None = None
        self.rng = rng if rng is not None else random.Random(0)

    def colour(self, n: int, pre: int, now: float) -> int:
        tf = self.t_front if self.t_front is not None else now - self.win
        span = now - tf + self.win
        self.avg = (self.avg * self.win + n) / span if span > 0 else self.avg
        self.t_front = now
        avg = self.avg
        if avg <= self.ctr:
            return GREEN
        u = self.rng.random() * avg
        if avg <= self.ptr:
            return YELLOW if u < avg - self.ctr else GREEN
        if u < avg - self.ptr:
            return RED
        if u < avg - self.ctr:
            return YELLOW
        return GREEN

    def snapshot(self) -> dict[str, Any]:
        return {**super().snapshot(), "cmtd_rate": self.ctr * 8, "peak_rate": self.ptr * 8,
                "avg_interval": self.win, "avg_rate": self.avg * 8}


class Conditioner:
    """A named conditioner of one interface (its top element)."""

    def __init__(self, name: str, action: Action) -> None:
        self.name = name
        self.action = action
        #: what filters name: a class no frame is queued in
        self.tag = AltqClass(name)
        self.dropped = 0

    def snapshot(self) -> dict[str, Any]:
        return {"name": self.name, "dropped": self.dropped, "action": self.action.snapshot()}


class Cdnr:
    """The conditioners of one interface and the filters that lead to them."""

    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier
        self.by_tag: dict[int, Conditioner] = {}
        self.conditioners: list[Conditioner] = []
        self.passed = 0  # frames no filter took

    def add(self, c: Conditioner) -> None:
        self.by_tag[id(c.tag)] = c
        self.conditioners.append(c)

    def condition(self, frame: bytes, flow: Flow, now: float) -> bytes | None:
        """The frame after its conditioner (``None``: dropped)."""
        tag = self.classifier.classify(flow)
        if tag is None:
            self.passed += 1
            return frame
        c = self.by_tag[id(tag)]
        out = c.action.apply(frame, flow, now)
        if out is None:
            c.dropped += 1
        return out

    def snapshot(self) -> list[dict[str, Any]]:
        return [c.snapshot() for c in self.conditioners]
