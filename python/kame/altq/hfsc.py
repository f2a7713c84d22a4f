"""H-FSC, the Hierarchical Fair Service Curve scheduler (Stoica, Zhang and
Ng, SIGCOMM 1997; KAME ``altq_hfsc.c``): real-time guarantees by service
curves, link-sharing by virtual time over a class tree, and upper limits.

Each class may have a real-time curve (``rt``: eligible time ``e`` and
deadline ``d`` from the service it got by that criterion, ``cumul``), a
link-sharing curve (``ls``: virtual time ``vt`` from all the service it
got, ``total``) and an upper-limit curve (``ul``: no link-sharing service
before ``myf``). A curve is two segments, ``m1`` octets/s for ``d``
seconds then ``m2``. Dequeue takes the eligible class with the smallest
deadline; if none is eligible, it walks down from the root by the
smallest ``vt`` among children whose fit time ``f`` has come. Times are
seconds (the node's clock); service in octets.
"""

from __future__ import annotations

from typing import Any

from kame.altq.red import Red, Rio
from kame.altq.subr import DEFAULT_QLIMIT, AltqClass, Discipline, Flow

#: Classes one interface takes (``HFSC_MAX_CLASSES``).
HFSC_MAX_CLASSES = 64
INF = float("inf")


class ServiceCurve:
    """``struct internal_sc`` from altq.conf's ``m1 d m2`` (bit/s, s, bit/s)."""

    __slots__ = ("dx", "dy", "sm1", "sm2")

    def __init__(self, m1: int, d: float, m2: int) -> None:
        self.sm1 = m1 / 8.0
        self.dx = d
        self.dy = self.sm1 * d
        self.sm2 = m2 / 8.0


class RuntimeSc:
    """``struct runtime_sc``: a service curve placed at ``(x, y)``."""

    __slots__ = ("dx", "dy", "sm1", "sm2", "x", "y")

    def __init__(self, sc: ServiceCurve, x: float = 0.0, y: float = 0.0) -> None:
        self.x, self.y = x, y
        self.sm1, self.dx, self.dy, self.sm2 = sc.sm1, sc.dx, sc.dy, sc.sm2

    def copy(self) -> RuntimeSc:
        r = RuntimeSc.__new__(RuntimeSc)
        r.x, r.y, r.sm1, r.dx, r.dy, r.sm2 = self.x, self.y, self.sm1, self.dx, self.dy, self.sm2
        return r

    def x2y(self, x: float) -> float:
        if x <= self.x:
            return self.y
        if x <= self.x + self.dx:
            return self.y + (x - self.x) * self.sm1
        return self.y + self.dy + (x - self.x - self.dx) * self.sm2

    def y2x(self, y: float) -> float:
        if y < self.y:
            return self.x
        if y <= self.y + self.dy:
            if self.dy == 0 or self.sm1 == 0:
                return self.x + self.dx
            return self.x + (y - self.y) / self.sm1
        if self.sm2 == 0:
            return INF
        return self.x + self.dx + (y - self.y - self.dy) / self.sm2

    def min_with(self, isc: ServiceCurve, x: float, y: float) -> None:
        """``rtsc_min``: this curve becomes the lower envelope of itself and
        ``isc`` started at ``(x, y)``."""
        if isc.sm1 <= isc.sm2:  # convex
            if self.x2y(x) < y:
                return
            self.x, self.y = x, y
            return
        y1 = self.x2y(x)  # concave: find the intersection
        if y1 <= y:
            return
        if self.x2y(x + isc.dx) >= y + isc.dy:
            self.x, self.y, self.dx, self.dy = x, y, isc.dx, isc.dy
            return
        dx = (y1 - y) / (isc.sm1 - isc.sm2)
        if self.x + self.dx > x:
            dx += self.x + self.dx - x
        self.x, self.y, self.dx, self.dy = x, y, dx, dx * isc.sm1


class HfscClass(AltqClass):
    def __init__(self, name: str, parent: HfscClass | None, *,
                 rt: ServiceCurve | None, ls: ServiceCurve | None, ul: ServiceCurve | None,
                 qlimit: int = DEFAULT_QLIMIT, default: bool = False,
                 red: Red | Rio | None = None) -> None:
        super().__init__(name, qlimit=qlimit, default=default, red=red)
        self.parent = parent
        self.children: list[HfscClass] = []
        self.rsc, self.fsc, self.usc = rt, ls, ul
        z = ServiceCurve(0, 0.0, 0)
        self.deadline = RuntimeSc(rt or z)
        self.eligible = RuntimeSc(rt or z)
        self.virtual = RuntimeSc(ls or z)
        self.ulimit = RuntimeSc(ul or z)
        self.cumul = 0.0
        self.total = 0.0
        self.e = self.d = 0.0
        self.vt = self.vtoff = self.vtadj = 0.0
        self.f = self.myf = self.myfadj = 0.0
        self.cfmin = self.cvtmin = self.cvtmax = 0.0
        self.vtperiod = self.parentperiod = 0
        self.nactive = 0
        self.actc: list[HfscClass] = []  # active children
        self.in_ellist = False


class Hfsc(Discipline):
    kind = "hfsc"

    def __init__(self, bandwidth: int) -> None:
        if bandwidth <= 0:
            raise ValueError("hfsc needs bandwidth")
        sc = ServiceCurve(0, 0.0, bandwidth)
        self.root = HfscClass("root", None, rt=sc, ls=sc, ul=None)
        self._classes: list[HfscClass] = [self.root]
        self.ellist: list[HfscClass] = []
        self._poll: tuple[float, HfscClass, bool] | None = None

    def add_class(self, name: str, parent: AltqClass, *, rt: tuple[int, float, int] | None,
                  ls: tuple[int, float, int] | None, ul: tuple[int, float, int] | None,
                  qlimit: int = DEFAULT_QLIMIT, default: bool = False,
                  red: Red | Rio | None = None) -> HfscClass:
        """``hfsc_class_create`` under ``parent``."""
        if len(self._classes) >= HFSC_MAX_CLASSES:
            raise ValueError(f"hfsc: more than {HFSC_MAX_CLASSES} classes")
        assert isinstance(parent, HfscClass)
        if parent.q or parent.default:
            raise ValueError(f"hfsc: parent {parent.name} is a leaf with a queue")
        if parent is not self.root and parent.fsc is None:
            raise ValueError(f"hfsc: parent {parent.name} has no link-sharing curve (ls/pshare)")

        def sc(c: tuple[int, float, int] | None) -> ServiceCurve | None:
            return ServiceCurve(*c) if c is not None and (c[0] or c[2]) else None

        rsc, fsc, usc = sc(rt), sc(ls), sc(ul)
        if rsc is None and fsc is None:
            raise ValueError(f"hfsc: class {name} has neither rt nor ls")
        if usc is not None and fsc is None:
            raise ValueError(f"hfsc: class {name} has ul without ls")
        cl = HfscClass(name, parent, rt=rsc, ls=fsc, ul=usc, qlimit=qlimit, default=default,
                       red=red)
        parent.children.append(cl)
        self._classes.append(cl)
        return cl

    def finish(self) -> None:
        for c in self._classes:
            if c.children and c.default:
                raise ValueError(f"hfsc: default class {c.name} has children")

    def classes(self) -> list[AltqClass]:
        return [c for c in self._classes if c is not self.root]

    def leaf_classes(self) -> list[HfscClass]:
        return [c for c in self._classes if not c.children and c is not self.root]

    # --- enqueue -------------------------------------------------------------

    def enqueue(self, cls: AltqClass, frame: bytes, flow: Flow, now: float) -> bool:
        assert isinstance(cls, HfscClass)
        was_empty = not cls.q
        if not cls.addq(frame, flow, now):
            return False
        self._poll = None
        if was_empty:
            n = len(cls.q[0])
            if cls.rsc is not None:
                self._init_ed(cls, n, now)
            if cls.fsc is not None:
                self._init_vf(cls, n, now)
        return True

    def _init_ed(self, cl: HfscClass, next_len: int, now: float) -> None:
        assert cl.rsc is not None
        cl.deadline.min_with(cl.rsc, now, cl.cumul)
        cl.eligible = cl.deadline.copy()
        if cl.rsc.sm1 <= cl.rsc.sm2:
            cl.eligible.dx = cl.eligible.dy = 0.0
        cl.e = cl.eligible.y2x(cl.cumul)
        cl.d = cl.deadline.y2x(cl.cumul + next_len)
        if not cl.in_ellist:
            self.ellist.append(cl)
            cl.in_ellist = True

    def _init_vf(self, cl: HfscClass, _len: int, now: float) -> None:
        go_active = True
        c: HfscClass | None = cl
        while c is not None and c.parent is not None:
            p = c.parent
            if go_active:
                c.nactive += 1
                go_active = c.nactive == 1
            if go_active:
                if p.actc:
                    vt = max(x.vt for x in p.actc)
                    if p.cvtmin != 0:
                        vt = (p.cvtmin + vt) / 2
                    if p.vtperiod != c.parentperiod or vt > c.vt:
                        c.vt = vt
                else:
                    # first child of a new backlog period of the parent
                    vt = p.cvtmax
                    for s in p.children:
                        s.vtoff += vt
                    c.vt = 0.0
                    p.cvtmax = p.cvtmin = 0.0
                assert c.fsc is not None
                v = c.vt + c.vtoff
                c.virtual.min_with(c.fsc, v, c.total)
                if c.virtual.x == v:
                    c.virtual.x -= c.vtoff
                    c.vtoff = 0.0
                c.vtadj = 0.0
                c.vtperiod += 1
                c.parentperiod = p.vtperiod
                if p.nactive == 0:
                    c.parentperiod += 1
                c.f = 0.0
                p.actc.append(c)
                if c.usc is not None:
                    c.ulimit.min_with(c.usc, now, c.total)
                    c.myf = c.ulimit.y2x(c.total)
                    c.myfadj = 0.0
            f = max(c.cfmin, c.myf)
            if f != c.f:
                c.f = f
                self._update_cfmin(p)
            c = p

    @staticmethod
    def _update_cfmin(cl: HfscClass) -> None:
        cl.cfmin = min((c.f for c in cl.actc), default=0.0)

    # --- dequeue -------------------------------------------------------------

    def _select(self, now: float) -> tuple[HfscClass, bool] | None:
        best = None
        for c in self.ellist:  # ellist_get_mindl
            if c.e <= now and (best is None or c.d < best.d):
                best = c
        if best is not None:
            return best, True
        cl = self.root  # vttree_get_minvt
        if cl.cfmin > now:
            return None
        while cl.children:
            pick = None
            for c in sorted(cl.actc, key=lambda x: x.vt):
                if c.f <= now:
                    pick = c
                    break
            if pick is None:
                return None
            cl.cvtmin = max(cl.cvtmin, pick.vt)
            cl = pick
        return (cl, False) if cl.q else None

    def poll(self, now: float) -> bytes | None:
        s = self._select(now)
        if s is None:
            self._poll = None
            return None
        self._poll = (now, s[0], s[1])
        return s[0].q[0]

    def dequeue(self, now: float) -> bytes | None:
        pc = self._poll
        self._poll = None
        if pc is not None and pc[0] == now:
            cl, realtime = pc[1], pc[2]
            if cl.rsc is not None:
                realtime = cl.e <= now
        else:
            s = self._select(now)
            if s is None:
                return None
            cl, realtime = s
        m = cl.getq(now)
        n = len(m)
        self._update_vf(cl, n, now)
        if realtime:
            cl.cumul += n
        if cl.q:
            if cl.rsc is not None:
                nl = len(cl.q[0])
                if realtime:
                    cl.e = cl.eligible.y2x(cl.cumul)
                cl.d = cl.deadline.y2x(cl.cumul + nl)
        elif cl.in_ellist:
            self.ellist.remove(cl)
            cl.in_ellist = False
        return m

    def _update_vf(self, cl: HfscClass, n: int, now: float) -> None:
        go_passive = not cl.q
        c: HfscClass | None = cl
        while c is not None and c.parent is not None:
            p = c.parent
            c.total += n
            if c.fsc is None or c.nactive == 0:
                c = p
                continue
            if go_passive:
                c.nactive -= 1
                go_passive = c.nactive == 0
            if go_passive:
                p.cvtmax = max(p.cvtmax, c.vt)
                p.actc.remove(c)
                self._update_cfmin(p)
                c = p
                continue
            c.vt = c.virtual.y2x(c.total) - c.vtoff + c.vtadj
            if c.vt < p.cvtmin:
                c.vtadj += p.cvtmin - c.vt
                c.vt = p.cvtmin
            if c.usc is not None:
                c.myf = c.myfadj + c.ulimit.y2x(c.total)
                if c.myf < now - 0.001:  # one clock tick (1 ms) behind: not greedy later
                    delta = now - c.myf
                    c.myfadj += delta
                    c.myf += delta
            f = max(c.cfmin, c.myf)
            if f != c.f:
                c.f = f
                self._update_cfmin(p)
            c = p

    def next_deadline(self, now: float) -> float | None:
        ts = [c.e for c in self.ellist if c.e > now]
        ts += [c.f for c in self._classes if c.nactive and c.f > now]
        ts += [c.f for c in self.leaf_classes() if c.q and c.fsc is not None and c.f > now]
        return min(ts) if ts else None

    def purge(self) -> int:
        n = 0
        for c in self.leaf_classes():
            if c.q:
                n += c.purge()
                if c.fsc is not None:
                    self._update_vf(c, 0, 0.0)
        self.ellist.clear()
        for c in self._classes:
            c.in_ellist = False
        self._poll = None
        return n

    def snapshot(self) -> list[dict[str, Any]]:
        out = []
        for c in self.classes():
            assert isinstance(c, HfscClass)
            d = c.snapshot()
            d.update(parent=c.parent.name if c.parent is not None else None, total=c.total,
                     cumul=c.cumul, vt=c.vt,
                     rt=None if c.rsc is None else [c.rsc.sm1 * 8, c.rsc.dx, c.rsc.sm2 * 8],
                     ls=None if c.fsc is None else [c.fsc.sm1 * 8, c.fsc.dx, c.fsc.sm2 * 8],
                     ul=None if c.usc is None else [c.usc.sm1 * 8, c.usc.dx, c.usc.sm2 * 8])
            out.append(d)
        return out


def rt_admission(curves: list[tuple[str, tuple[int, float, int]]], bandwidth: int) -> str | None:
    """HFSC's admission control (altqd's ``cntlload``): the real-time
    curves ``(name, (m1, d, m2))`` (bit/s, s, bit/s) summed must stay under
    the link's ``bandwidth * t`` at every ``t``. The sum is piecewise linear
    with corners at the ``d``s, so the corners and the final slope decide.
    ``None`` when they fit; otherwise what does not."""

    def y(c: tuple[int, float, int], t: float) -> float:
        m1, d, m2 = c
        return m1 * t if t <= d else m1 * d + m2 * (t - d)

    eps = 1e-9 * bandwidth
    for t in sorted({c[1] for _, c in curves if c[1] > 0}):
        tot = sum(y(c, t) for _, c in curves)
        if tot > bandwidth * t + eps * max(t, 1.0):
            return (f"the real-time curves take {tot / t:.0f} bit/s over the first "
                    f"{t * 1000:g} ms, more than the link's {bandwidth}")
    m2s = sum(c[2] for _, c in curves)
    if m2s > bandwidth + eps:
        return f"the real-time rates sum to {m2s} bit/s, more than the link's {bandwidth}"
    return None
