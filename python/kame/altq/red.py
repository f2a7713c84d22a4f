"""Random Early Detection (Floyd and Jacobson 1993; KAME ``altq_red.c``)
and RIO, RED with In/Out and three drop precedences (``altq_rio.c``).

The average queue length is the exponentially weighted moving average
``avg += (qlen - avg) / weight`` taken at each arrival (``weight`` a power
of two, ALTQ's ``W_WEIGHT`` 512); after an idle period ``avg`` decays as if
``idle / pkttime`` empty arrivals had come. Between ``th_min`` and
``th_max`` the arrival is dropped (or marked CE with ``ecn``) with
probability ``pa = pb / (1 - count * pb)``, ``pb = (avg - th_min) /
(inv_pmax * (th_max - th_min))``, ``count`` the arrivals since the last
drop or mark (``drop_early``); at or above ``th_max``, or with the queue
at ``qlimit``, a forced drop.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from kame.altq.subr import Flow, set_ds_field

if TYPE_CHECKING:
    from kame.altq.subr import AltqClass

#: ALTQ's defaults (``altq_red.h``/``altq_red.c``).
TH_MIN, TH_MAX, INV_P_MAX, W_WEIGHT = 5, 15, 10, 512
#: RIO's drop precedences: low, medium, high (``RIO_NDROPPREC``) and defaults.
RIO_NDROPPREC = 3
RIO_DEFAULTS = ((TH_MAX * 2 + TH_MIN, TH_MAX * 3, INV_P_MAX),
                (TH_MAX + TH_MIN, TH_MAX * 2, INV_P_MAX),
                (TH_MIN, TH_MAX, INV_P_MAX))
#: Idle longer than this resets the average (``altq_red.c``: 60 s).
IDLE_RESET = 60.0


def mark_ecn(frame: bytes, flow: Flow) -> bytes | None:
    """``mark_ecn``: the frame with CE set when its packet is ECN-capable
    (ECT(0), ECT(1) or already CE); ``None`` when it is not (Not-ECT, or not IP)."""
    if not flow.family:
        return None
    ecn = flow.tos & 0x03
    if ecn == 0:
        return None
    if ecn == 0x03:
        return frame
    return set_ds_field(frame, flow, flow.tos | 0x03)


class _RedState:
    """One average and its drop state (``struct red`` / a RIO precedence)."""

    __slots__ = (
        "avg",
        "count",
        "drop_forced",
        "drop_unforced",
        "idle",
        "idle_since",
        "inv_pmax",
        "marked",
        "old",
        "qlen",
        "th_max",
        "th_min",
        "xmit",
    )

    def __init__(self, th_min: int, th_max: int, inv_pmax: int) -> None:
        if not 0 <= th_min < th_max:
            raise ValueError(f"red: thmin {th_min} must be below thmax {th_max}")
        if inv_pmax < 1:
            raise ValueError("red: invpmax must be at least 1")
        self.th_min = th_min
        self.th_max = th_max
        self.inv_pmax = inv_pmax
        self.avg = 0.0
        self.count = 0
        self.old = False
        self.qlen = 0
        self.idle = True
        self.idle_since: float | None = None
        self.xmit = 0
        self.drop_forced = 0
        self.drop_unforced = 0
        self.marked = 0

    def average(self, qlen: int, now: float, weight: int, pkttime: float) -> float:
        avg = self.avg
        if self.idle:
            self.idle = False
            if self.idle_since is not None:
                t = now - self.idle_since
                if t > IDLE_RESET:
                    avg = 0.0
                else:
                    n = int(t / pkttime + 1e-9) - 1
                    if n > 0:
                        avg *= (1.0 - 1.0 / weight) ** n
        avg += (qlen - avg) / weight
        self.avg = avg
        self.count += 1
        return avg

    def p_b(self) -> float:
        """Floyd and Jacobson's ``pb`` at the current average."""
        return (self.avg - self.th_min) / (self.inv_pmax * (self.th_max - self.th_min))

    def snapshot(self) -> dict[str, Any]:
        return {"th_min": self.th_min, "th_max": self.th_max, "inv_pmax": self.inv_pmax,
                "avg": self.avg, "xmit": self.xmit, "drop_forced": self.drop_forced,
                "drop_unforced": self.drop_unforced, "marked": self.marked}


def _decide(st: _RedState, avg: float, qlen: int, rng: random.Random) -> int:
    """0: keep; 1: early (drop or mark); 2: forced drop (``red_addq``)."""
    if avg >= st.th_min and qlen > 1:
        if avg >= st.th_max:
            return 2
        if not st.old:
            st.count = 1
            st.old = True
            return 0
        # drop_early: pa = (avg - th_min) / (inv_pmax (th_max - th_min) - count (avg - th_min))
        fp_len = avg - st.th_min
        d = st.inv_pmax * (st.th_max - st.th_min) - st.count * fp_len
        if d <= 0 or rng.random() * d < fp_len:
            return 1
        return 0
    st.old = False
    return 0


def _settle(st: _RedState, verdict: int, frame: bytes, flow: Flow, ecn: bool,
            full: bool) -> bytes | None:
    """A verdict of :func:`_decide` carried out and counted on ``st``: an
    early drop of an ECT packet becomes a CE mark with ``ecn`` on, a full
    queue forces a drop; the frame to queue, or ``None``."""
    if verdict == 1 and ecn:
        marked = mark_ecn(frame, flow)
        if marked is not None:
            st.count = 0
            st.marked += 1
            frame = marked
            verdict = 0
    if verdict == 0 and full:
        verdict = 2
    if verdict:
        st.count = 0
        if verdict == 2:
            st.drop_forced += 1
        else:
            st.drop_unforced += 1
        return None
    st.xmit += 1
    return frame


class Red:
    """RED on one class queue (``red_addq``/``red_getq``)."""

    kind = "red"

    def __init__(self, th_min: int = TH_MIN, th_max: int = TH_MAX, inv_pmax: int = INV_P_MAX,
                 *, weight: int = W_WEIGHT, ecn: bool = False, bandwidth: int = 0,
                 rng: random.Random | None = None) -> None:
        if weight < 1 or weight & (weight - 1):
            raise ValueError(f"red: weight {weight} is not a power of 2")
        self.weight = weight
        self.ecn = ecn
        self.st = _RedState(th_min, th_max, inv_pmax)
        # the time of one 1000-octet packet at the link's rate (10 Mb/s unknown)
        self.pkttime = 8000.0 / (bandwidth or 10_000_000)
        self.rng = rng if rng is not None else random.Random(0)
        #: ``flowvalve``: unresponsive flows dropped before RED (None: off).
        self.fv: FlowValve | None = None

    def addq(self, cls: AltqClass, frame: bytes, flow: Flow, now: float) -> bytes | None:
        """The frame to queue (CE-marked perhaps), or ``None``: dropped (counted
        here; the class counts it too)."""
        st = self.st
        fv = self.fv
        if fv is not None and fv.checkflow(flow, now):
            return None
        qlen = len(cls.q)
        avg = st.average(qlen, now, self.weight, self.pkttime)
        verdict = _decide(st, avg, qlen, self.rng)
        marks = st.marked
        out = _settle(st, verdict, frame, flow, self.ecn, qlen >= cls.qlimit)
        if fv is not None and (out is None or st.marked != marks):
            fv.dropbyred(flow, now)
        return out

    def getq(self, cls: AltqClass, now: float) -> None:
        if not cls.q:
            self.st.idle = True
            self.st.idle_since = now

    def purge(self) -> None:
        self.st.idle = True

    def snapshot(self) -> dict[str, Any]:
        d = {"kind": "red", "weight": self.weight, "ecn": self.ecn, **self.st.snapshot()}
        if self.fv is not None:
            d["flowvalve"] = self.fv.snapshot()
        return d


def dscp_index(tos: int) -> int:
    """``dscp2index``: the AF drop precedence of a TOS/traffic-class octet,
    0 (low, AFx1 and anything not AF) to 2 (high, AFx3)."""
    dp = tos & 0x18
    return 0 if dp == 0 else (dp >> 3) - 1


class Rio:
    """RIO (``rio_addq``/``rio_getq``): one queue, three RED states; the
    average of precedence ``i`` counts the queued packets of precedence
    ``i`` and lower, so high-drop traffic sees the queue first."""

    kind = "rio"

    def __init__(self, params: tuple[tuple[int, int, int], ...] = RIO_DEFAULTS, *,
                 weight: int = W_WEIGHT, ecn: bool = False, bandwidth: int = 0,
                 rng: random.Random | None = None) -> None:
        if len(params) != RIO_NDROPPREC:
            raise ValueError("rio: three drop precedences")
        if weight < 1 or weight & (weight - 1):
            raise ValueError(f"rio: weight {weight} is not a power of 2")
        self.weight = weight
        self.ecn = ecn
        self.prec = [_RedState(*p) for p in params]
        self.pkttime = 8000.0 / (bandwidth or 10_000_000)
        self.rng = rng if rng is not None else random.Random(0)
        self._dps: list[int] = []  # each queued packet's precedence, in queue order
        self._head = 0

    def addq(self, cls: AltqClass, frame: bytes, flow: Flow, now: float) -> bytes | None:
        dp = dscp_index(flow.tos)
        for i in range(dp, RIO_NDROPPREC):
            p = self.prec[i]
            p.average(p.qlen, now, self.weight, self.pkttime)
        st = self.prec[dp]
        verdict = _decide(st, st.avg, st.qlen, self.rng)
        out = _settle(st, verdict, frame, flow, self.ecn, len(cls.q) >= cls.qlimit)
        if out is None:
            return None
        for i in range(dp, RIO_NDROPPREC):
            self.prec[i].qlen += 1
        self._dps.append(dp)
        return out

    def getq(self, cls: AltqClass, now: float) -> None:
        dp = self._dps[self._head]
        self._head += 1
        if self._head > 1024:
            del self._dps[:self._head]
            self._head = 0
        for i in range(dp, RIO_NDROPPREC):
            p = self.prec[i]
            p.qlen -= 1
            if p.qlen == 0:
                p.idle = True
                p.idle_since = now

    def purge(self) -> None:
        self._dps.clear()
        self._head = 0
        for p in self.prec:
            p.qlen = 0
            p.idle = True

    def snapshot(self) -> dict[str, Any]:
        return {"kind": "rio", "weight": self.weight, "ecn": self.ecn,
                "precedences": [p.snapshot() for p in self.prec]}


# --- flowvalve (``ALTQ_FLOWVALVE`` in altq_red.c) -------------------------------

#: flowvalve's constants: the drop-rate weight 2**-7, the fraction's weight
#: 2**-5 updated every 10 packets of a flow, entries forgotten 3 s after
#: their last drop, a blocked flow let out after 1 s without a drop, at most
#: 64 flows followed, and ``alpha`` of the fraction threshold.
FV_WP = 1.0 / 128
FV_WF = 1.0 / 32
FV_N = 10
FV_TTHRESH = 3.0
FV_BACKOFFTHRESH = 1.0
FV_FLOWLISTSIZE = 64
FV_ALPHA = 5


def brtt(p: float) -> float:
    """The TCP-friendly send rate, in packets a round trip, at drop rate
    ``p`` (Floyd and Fall's formula flowvalve's ``brtt_tab`` tabulates):
    ``1 / (sqrt(4p/3) + min(1, 3 sqrt(6p/8)) p (1 + 32 p^2))``."""
    if p <= 0:
        return float("inf")
    return 1.0 / ((4 * p / 3) ** 0.5 + min(1.0, 3 * (6 * p / 8) ** 0.5) * p * (1 + 32 * p * p))


class _Fve:
    """``struct fve``: a flow (source and destination addresses) RED dropped from."""

    __slots__ = ("count", "f", "ifseq", "lastdrop", "p", "red")

    def __init__(self, ifseq: int, now: float) -> None:
        self.red = False  # in the penalty box
        self.p = 0.0  # the flow's drop rate (EWMA)
        self.f = 0.0  # the flow's fraction of arrivals (EWMA)
        self.ifseq = ifseq - 1
        self.count = 0
        self.lastdrop = now


class FlowValve:
    """RED's flowvalve: flows RED drops from are followed; one whose share
    of the arrivals exceeds what a TCP would take at its drop rate
    (:func:`brtt` over ``th_max + alpha`` packets queued) is "red" and its
    packets are dropped before RED sees them until it has gone a second
    without a drop (so a flow that backs off escapes)."""

    def __init__(self, th_max: int, inv_pmax: int) -> None:
        self.th_max = th_max
        self.pthresh = 1.0 / inv_pmax
        self.ifseq = 0
        self.flows: dict[tuple[int, int, int], _Fve] = {}  # LRU order: oldest first
        self.predrop = self.passed = self.escape = self.alloc = 0

    def _lookup(self, key: tuple[int, int, int], now: float) -> _Fve | None:
        for k in [k for k, e in self.flows.items() if now - e.lastdrop > FV_TTHRESH]:
            del self.flows[k]
        return self.flows.get(key)

    def checkflow(self, flow: Flow, now: float) -> bool:
        """``fv_checkflow``: whether this arrival is dropped before RED."""
        self.ifseq += 1
        if not flow.family:
            return False
        fve = self._lookup((flow.family, flow.src, flow.dst), now)
        if fve is None:
            return False
        fve.count += 1
        if fve.count == FV_N:
            fve.f = FV_WF * FV_N / (self.ifseq - fve.ifseq) + (1 - FV_WF) * fve.f
            fve.ifseq = self.ifseq
            fve.count = 0
        if not fve.red and fve.p > self.pthresh \
                and fve.f > brtt(fve.p) / (self.th_max + FV_ALPHA):
            fve.red = True
        if fve.red:
            if now - fve.lastdrop > FV_BACKOFFTHRESH:
                fve.p = 0.0
                fve.red = False
                self.escape += 1
            else:
                fve.lastdrop = now
                self._to_head((flow.family, flow.src, flow.dst), fve)
                self.predrop += 1
                return True
        fve.p *= 1 - FV_WP
        self.passed += 1
        return False

    def _to_head(self, key: tuple[int, int, int], fve: _Fve) -> None:
        self.flows.pop(key, None)
        self.flows[key] = fve

    def dropbyred(self, flow: Flow, now: float) -> None:
        """``fv_dropbyred``: RED dropped (or marked) a packet of ``flow``."""
        if not flow.family:
            return
        key = (flow.family, flow.src, flow.dst)
        fve = self._lookup(key, now)
        if fve is None:
            if len(self.flows) >= FV_FLOWLISTSIZE:
                del self.flows[next(iter(self.flows))]  # reclaim the least recent
            fve = _Fve(self.ifseq, now)
            self.alloc += 1
        self._to_head(key, fve)
        fve.p += FV_WP  # with checkflow's decay: p = Wp + (1 - Wp) p
        fve.lastdrop = now

    def snapshot(self) -> dict[str, int]:
        return {"flows": len(self.flows), "predrop": self.predrop, "pass": self.passed,
                "escape": self.escape, "alloc": self.alloc,
                "blocked": sum(1 for e in self.flows.values() if e.red)}
