"""CBQ, class-based queueing (Floyd and Jacobson, "Link-sharing and Resource
Management Models for Packet Networks", 1995; KAME ``altq_cbq.c`` over
``altq_rmclass.c``, the LBL/Sun "rm" classes).

A tree of classes, each allotted a share of the link (``pbandwidth``).
Each class runs an estimator: at every packet it or a descendant sends,
``avgidle`` (an exponentially weighted average, gain 1/32, of the gap
between the link finishing this class's packets minus the time the packet
takes at the class's own rate) moves; at or below zero the class is over
its limit and gets an ``undertime`` (when ``avgidle`` would be back to
zero). An over-limit class may send only by borrowing from an ancestor
that is under its limit (``borrow``: the class may borrow from its
parent, and so up the tree); a class that cannot is suspended (ALTQ's
delay action) until its ``undertime`` plus ``offtime``. Classes of one
priority (0..7, higher first) share by weighted round robin, each round
allotting octets in proportion to the class's share. ``maxburst`` and
``minburst`` set ``maxidle`` (how much idle credit a class may bank) and
``offtime`` by the formulas of altqd's ``qop_cbq.c``; ``efficient``
(``interface ... cbq efficient``) lets the first over-limit borrowing
class send when no class may, keeping the link busy. ``control`` marks a
class as the interface's control class (altqstat shows it); filters lead
traffic to it as to any class.

Times are seconds on the node's clock; ``avgidle`` is kept as ALTQ keeps
it, an integer times 32 (``RM_FILTER_GAIN``), in nanoseconds (ALTQ:
microseconds), so a saturated link's estimator settles just above zero
as ALTQ's does; top-level link-sharing's
``cutoff`` is not used: a class may borrow from any ancestor up its
``borrow`` chain.
"""

from __future__ import annotations

from typing import Any

from kame.altq.red import Red, Rio
from kame.altq.subr import DEFAULT_QLIMIT, AltqClass, Discipline, Flow

#: ``CBQ_MAXPRI``: priorities 0..7.
CBQ_MAXPRI = 8
#: Classes one interface takes (``CBQ_MAX_CLASSES`` is 256; we bound lower).
CBQ_MAX_CLASSES = 64
#: ``RM_FILTER_GAIN``: avgidle's EWMA weight is 2**-5.
RM_FILTER_GAIN = 5
RM_POWER = 1 << RM_FILTER_GAIN
#: An idle longer than this resets avgidle to maxidle (ALTQ: 2 s of TV_DELTA).
IDLE_RESET = 2.0
#: Defaults of altq.conf's class cbq (``qop_cbq.c``).
DEFAULT_MAXBURST = 16
DEFAULT_MINBURST = 2
DEFAULT_PRIORITY = 1


def cbq_params(share: float, link_bps: int, pktsize: int, maxpktsize: int, maxburst: int,
               minburst: int) -> tuple[float, float, float]:
    """altqd's ``cbq_class_spec`` arithmetic, in seconds and unscaled:
    ``(maxidle, minidle, offtime)`` of a class holding ``share`` (0..1] of
    a ``link_bps`` link, sending ``pktsize``-octet packets."""
    g = 1.0 - 1.0 / RM_POWER
    ptime = pktsize * 8.0 / link_bps  # a packet's time on the link
    cptime = ptime / share  # ... at the class's rate
    gton = g ** maxburst
    gtom = g ** (minburst - 1)
    maxidle = (1.0 / share - 1.0) * (1.0 - gton) / gton
    maxidle = ptime * max(maxidle, 1.0 - g)
    offtime = cptime * (1.0 + 1.0 / (1.0 - g) * (1.0 - gtom) / gtom)
    minidle = -maxpktsize * 8.0 / (link_bps * share)
    return maxidle, minidle, offtime


class CbqClass(AltqClass):
    """``struct rm_class``: a share of the link, the estimator, a queue."""

    def __init__(self, name: str, parent: CbqClass | None, *, share: float, link_bps: int,
                 priority: int = DEFAULT_PRIORITY, borrow: bool = False,
                 maxburst: int = DEFAULT_MAXBURST, minburst: int = DEFAULT_MINBURST,
                 pktsize: int = 1500, maxpktsize: int = 1500, qlimit: int = DEFAULT_QLIMIT,
                 default: bool = False, control: bool = False,
                 red: Red | Rio | None = None) -> None:
        super().__init__(name, qlimit=qlimit, default=default, red=red)
        if not 0.0 < share <= 1.0:
            raise ValueError(f"cbq: class {name}'s share {share:.4f} outside (0, 1]")
        if not 0 <= priority < CBQ_MAXPRI:
            raise ValueError(f"cbq: priority {priority} outside 0..{CBQ_MAXPRI - 1}")
        if not 1 <= minburst <= maxburst:
            raise ValueError(f"cbq: minburst {minburst} must be 1..maxburst ({maxburst})")
        self.parent = parent
        self.children: list[CbqClass] = []
        self.borrow = parent if borrow else None
        self.priority = priority
        self.share = share
        self.control = control
        self.allot = link_bps * share / 8.0  # octets a second
        self.depth: int = 0 if parent is None else parent.depth + 1
        self.maxburst, self.minburst = maxburst, minburst
        self.maxidle, self.minidle, self.offtime = cbq_params(
            share, link_bps, pktsize, maxpktsize, maxburst, minburst)
        #: avgidle, maxidle and minidle as ALTQ keeps them: nanoseconds times 32
        self.maxidle_scaled = round(self.maxidle * 1e9) * RM_POWER
        self.minidle_scaled = round(self.minidle * 1e9) * RM_POWER
        self.avg_scaled = self.maxidle_scaled
        self.last = 0.0
        self.last_pkttime = 0.0
        self.undertime = 0.0  # 0: under limit
        self.sleeping = False
        self.w_allotment = 0.0
        self.rr_index = 0  # its place in its priority's round robin
        self.bytes_alloc = 0.0
        #: ``struct rm_class`` statistics beyond the queue's counters.
        self.over = self.borrows = self.delays = self.overactions = 0

    @property
    def avgidle(self) -> float:
        """``avgidle`` in seconds."""
        return self.avg_scaled / RM_POWER / 1e9

    def under_limit(self, now: float) -> tuple[bool, CbqClass | None]:
        """``rmc_under_limit``: may this class send at ``now``, and the
        ancestor it borrows from if it must (``None``: its own allotment)."""
        if self.parent is None:
            return True, None
        if self.sleeping:
            if now < self.undertime:
                return False, None
            self.sleeping = False
            self.undertime = 0.0
            return True, None
        c: CbqClass | None = self
        while c is not None and c.undertime and now < c.undertime:
            c = c.borrow
            if c is None:
                self._delay_action(now)
                return False, None
        return True, (c if c is not self else None)

    def _delay_action(self, now: float) -> None:
        """``rmc_delay_action``: suspend until undertime, offtime replacing
        the packet time in it."""
        self.overactions += 1
        if not self.sleeping:
            extra = self.offtime - self.last_pkttime
            if extra > 0:
                self.undertime += extra
            self.sleeping = True
            self.delays += 1


class Cbq(Discipline):
    """``cbq_state_t`` / ``struct rm_ifdat``: the class tree of one
    interface, weighted round robin within each priority."""

    kind = "cbq"

    def __init__(self, bandwidth: int, *, efficient: bool = False, pktsize: int = 1500) -> None:
        if bandwidth <= 0:
            raise ValueError("cbq needs bandwidth")
        self.bandwidth = bandwidth
        self.efficient = efficient
        self.pktsize = pktsize
        self.root: CbqClass | None = None
        self._classes: list[CbqClass] = []
        self.ifnow = 0.0  # when the link finishes what it was given
        self._rr = [0] * CBQ_MAXPRI
        self._leaves: list[CbqClass] = []
        self._by_pri: list[list[CbqClass]] = [[] for _ in range(CBQ_MAXPRI)]
        self._poll: tuple[float, CbqClass, CbqClass | None] | None = None

    def add_class(self, name: str, parent: CbqClass | None, *, share: float,
                  priority: int = DEFAULT_PRIORITY, borrow: bool = False,
                  maxburst: int = DEFAULT_MAXBURST, minburst: int = DEFAULT_MINBURST,
                  pktsize: int = 0, maxpktsize: int = 0, qlimit: int = DEFAULT_QLIMIT,
                  default: bool = False, control: bool = False,
                  red: Red | Rio | None = None) -> CbqClass:
        """``cbq_class_create``; the first class is the root (parent ``None``).
        A class's share may not take its parent's children over the parent's
        own share (altqd's admission check)."""
        if len(self._classes) >= CBQ_MAX_CLASSES:
            raise ValueError(f"cbq: more than {CBQ_MAX_CLASSES} classes")
        if parent is None and self.root is not None:
            raise ValueError("cbq: a second root class (parent NULL)")
        pk = pktsize or self.pktsize
        cl = CbqClass(name, parent, share=share, link_bps=self.bandwidth, priority=priority,
                      borrow=borrow, maxburst=maxburst, minburst=minburst, pktsize=pk,
                      maxpktsize=maxpktsize or pk, qlimit=qlimit, default=default,
                      control=control, red=red)
        if parent is not None:
            if parent.q or parent.default or parent.control:
                raise ValueError(f"cbq: parent {parent.name} is a leaf with a queue")
            used = sum(c.share for c in parent.children)
            if used + share > parent.share + 1e-9:
                raise ValueError(
                    f"cbq: class {name} ({share * 100:g}%) takes the children of "
                    f"{parent.name} to {(used + share) * 100:g}%, over its "
                    f"{parent.share * 100:g}%")
        elif borrow:
            raise ValueError("cbq: the root class has no parent to borrow from")
        if parent is None:
            self.root = cl
        else:
            parent.children.append(cl)
        self._classes.append(cl)
        self._set_weights()
        return cl

    def _set_weights(self) -> None:
        """``rmc_wrr_set_weights``: a round allots each class of a priority
        ``allot * n * maxpkt / sum(allot)`` octets."""
        leaves = [c for c in self._classes if not c.children and c.parent is not None]
        self._leaves = leaves
        self._by_pri = [[c for c in leaves if c.priority == pri] for pri in range(CBQ_MAXPRI)]
        for cs in self._by_pri:
            tot = sum(c.allot for c in cs)
            for i, c in enumerate(cs):
                c.w_allotment = c.allot * len(cs) * self.pktsize / tot
                c.rr_index = i

    def finish(self) -> None:
        if self.root is None:
            raise ValueError("cbq: no root class (parent NULL)")
        for c in self._classes:
            if c.children and c.default:
                raise ValueError(f"cbq: default class {c.name} has children")

    def classes(self) -> list[AltqClass]:
        return [c for c in self._classes if c is not self.root or not c.children]

    def leaf_classes(self) -> list[CbqClass]:
        return list(self._leaves)

    def enqueue(self, cls: AltqClass, frame: bytes, flow: Flow, now: float) -> bool:
        # the polled class keeps its head (arrivals join tails): the poll stands
        return cls.addq(frame, flow, now)

    # --- dequeue (``_rmc_wrr_dequeue_next``) -----------------------------------

    def _select(self, now: float) -> tuple[CbqClass, CbqClass | None] | None:
        first: CbqClass | None = None
        by_pri = self._by_pri
        for pri in range(CBQ_MAXPRI - 1, -1, -1):
            cs = by_pri[pri]
            if not cs or not any(c.q for c in cs):
                continue
            n = len(cs)
            start = self._rr[pri] % n
            deficit = 0
            while True:
                for k in range(n):
                    c = cs[(start + k) % n]
                    if deficit < 2 and c.bytes_alloc <= 0:
                        c.bytes_alloc += c.w_allotment
                    if not c.q:
                        continue
                    ok, lender = (True, None) if not c.undertime else c.under_limit(now)
                    if ok:
                        if c.bytes_alloc > 0 or deficit > 1:
                            return c, lender
                        deficit = 1  # under limit, but its round's octets are spent
                    elif first is None and c.borrow is not None:
                        first = c
                if deficit != 1:
                    break
                deficit = 2  # again, letting an under-limit class overdraw
        if first is not None and self.efficient:
            return first, None
        return None

    def poll(self, now: float) -> bytes | None:
        """``ALTDQ_POLL``: the choice is kept (ALTQ's ``pollcache``) until the
        dequeue, so polling while the regulator holds the frame back does not
        credit the round robin again."""
        pc = self._poll
        if pc is not None:
            return pc[1].q[0]
        s = self._select(now)
        if s is None:
            self._poll = None
            return None
        self._poll = (now, s[0], s[1])
        return s[0].q[0]

    def dequeue(self, now: float) -> bytes | None:
        pc = self._poll
        self._poll = None
        if pc is not None:
            cl, lender = pc[1], pc[2]
        else:
            s = self._select(now)
            if s is None:
                return None
            cl, lender = s
        m = cl.getq(now)
        n = len(m)
        cl.bytes_alloc -= n
        i = cl.rr_index
        self._rr[cl.priority] = i + 1 if cl.bytes_alloc <= 0 else i
        self._update_util(cl, n, now, lender)
        return m

    def _update_util(self, cl: CbqClass, n: int, now: float, lender: CbqClass | None) -> None:
        """``rmc_update_class_util``: the estimators of the class and its
        ancestors after it sent ``n`` octets at ``now``."""
        link_time = n * 8.0 / self.bandwidth
        self.ifnow = max(now, self.ifnow) + link_time
        c: CbqClass | None = cl
        borrowing = lender
        while c is not None:
            # ALTQ's fixed point: avgidle scaled by 32, here in nanoseconds
            idle = round((self.ifnow - c.last) * 1e9)
            if idle >= IDLE_RESET * 1e9:
                c.avg_scaled = c.maxidle_scaled
            pkt_time = n / c.allot
            pkt_ns = round(pkt_time * 1e9)
            idle -= pkt_ns
            avg = c.avg_scaled + idle - (c.avg_scaled >> RM_FILTER_GAIN)
            if avg <= 0:
                avg = max(avg, c.minidle_scaled)
                c.avg_scaled = avg
                tidle = pkt_ns + (((1 - RM_POWER) * avg) >> RM_FILTER_GAIN)
                c.undertime = now + tidle / 1e9
                c.over += 1
            else:
                c.avg_scaled = min(avg, c.maxidle_scaled)
                c.undertime = 0.0
            if borrowing is not None:
                if borrowing is not c:
                    c.borrows += 1
                else:
                    borrowing = None
            c.last = self.ifnow
            c.last_pkttime = pkt_time
            c = c.parent

    def next_deadline(self, now: float) -> float | None:
        ts = [c.undertime for c in self._classes if c.undertime > now]
        return min(ts) if ts else None

    def purge(self) -> int:
        self._poll = None
        return sum(c.purge() for c in self.leaf_classes())

    def snapshot(self) -> list[dict[str, Any]]:
        out = []
        for c in self._classes:
            d = c.snapshot()
            d.update(parent=c.parent.name if c.parent is not None else None, priority=c.priority,
                     pbandwidth=round(c.share * 100, 4), borrow=c.borrow is not None,
                     avgidle=c.avgidle, maxidle=c.maxidle, minidle=c.minidle,
                     offtime=c.offtime, over=c.over, borrows=c.borrows, delays=c.delays,
                     overactions=c.overactions, control=c.control)
            out.append(d)
        return out
