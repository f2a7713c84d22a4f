"""JoBS, Joint Buffer Management and Scheduling (Christin and Liebeherr;
KAME ``altq_jobs.c``): per-class service guarantees, relative and absolute,
for delay, loss and rate, met together by a rate allocation recomputed at
every arrival and a drop choice made when the buffer is full.

Each class ``i`` (``priority`` 0..15, one class each) may carry:

- ``rdc K``: relative delay, class ``i+1``'s delay ``K`` times class ``i``'s
  (so the classes' delays ``D_i`` are kept proportional to the products
  ``w_i`` of the RDCs below them);
- ``rlc K``: the same for the loss rates;
- ``adc US``: an absolute delay bound (microseconds) for its packets;
- ``alc P``: an absolute loss rate bound (0..1);
- ``arc BPS``: an absolute rate (throughput) guarantee.

Over a busy period of the link each class has a service rate. At an
arrival: a backlogged class with no rate, or an idle one with a rate,
resets the rates to an equal split (``enforce_wc``); when the ADCs or
ARCs need more than a class has, rate moves greedily from classes with
room to those short of it, and when it cannot, packets are dropped from
the tail of the class short of time, unless its ALC forbids
(``assign_rate_drops_adc``); then the RDC classes' rates move by a
proportional controller towards equal weighted delays (``adjust_rates_rdc``).
The link serves the class whose output lags its rate's promise the most.
A full shared buffer drops from the class whose weighted loss is most
below the mean (RLC), or if that would break its ALC, from the class
furthest from its ALC; ``separate`` buffers drop the arrival.

Times are seconds and rates octets a second in floating point (ALTQ:
machine clock ticks and scaled integers).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from kame.altq.subr import AltqClass, Discipline, Flow

JOBS_MAXPRI = 16
#: Default buffer (frames, shared by the classes unless ``separate``).
JOBS_QLIMIT = 200


class JobsClass(AltqClass):
    def __init__(self, name: str, priority: int, *, qlimit: int, default: bool = False,
                 adc: float | None = None, alc: float | None = None, arc: float | None = None,
                 rdc: float | None = None, rlc: float | None = None) -> None:
        super().__init__(name, qlimit=qlimit, default=default)
        if not 0 <= priority < JOBS_MAXPRI:
            raise ValueError(f"jobs: priority {priority} outside 0..{JOBS_MAXPRI - 1}")
        for what, v, lo in (("adc", adc, 0.0), ("arc", arc, 0.0), ("rdc", rdc, 0.0),
                            ("rlc", rlc, 0.0)):
            if v is not None and not v > lo:
                raise ValueError(f"jobs: {what} must be positive")
        if alc is not None and not 0.0 <= alc <= 1.0:
            raise ValueError("jobs: alc is a loss rate, 0..1")
        self.priority = priority
        self.adc, self.alc, self.arc, self.rdc, self.rlc = adc, alc, arc, rdc, rlc
        self.arrivals: deque[float] = deque()  # each queued packet's arrival time
        self.service_rate = 0.0
        self.min_rate_adc = 0.0
        self.delay_prod_others = 1.0
        self.loss_prod_others = 1.0
        self.reset(0.0)
        #: the last packet's delay, the sum of delays and ADC violations
        self.lastdel = 0.0
        self.sumdel = 0.0
        self.adc_violations = 0

    def reset(self, now: float) -> None:
        """A new busy period: the period's counters from zero."""
        self.arrival = 0  # octets arrived this period
        self.rin = 0  # ... and taken in (arrived less dropped)
        self.rin_packets = 0
        self.rout = 0  # ... and sent
        self.rout_th = 0.0  # ... and promised by the service rate
        self.current_loss = 0.0
        self.service_rate = 0.0
        self.last_rate_update = now

    def backlog(self) -> int:
        return self.rin - self.rout

    def drop_tail(self) -> None:
        f = self.q.pop()
        self.arrivals.pop()
        n = len(f)
        self.rin -= n
        self.rin_packets -= 1
        self.current_loss += n / self.arrival
        self.drop(f)


class Jobs(Discipline):
    kind = "jobs"

    def __init__(self, bandwidth: int, *, qlimit: int = JOBS_QLIMIT,
                 separate: bool = False) -> None:
        if bandwidth <= 0:
            raise ValueError("jobs needs bandwidth")
        self.capacity = bandwidth / 8.0
        self.bandwidth = bandwidth
        self.qlimit = qlimit
        self.separate = separate
        self.by_pri: list[JobsClass | None] = [None] * JOBS_MAXPRI

    def add_class(self, cl: JobsClass) -> None:
        if self.by_pri[cl.priority] is not None:
            raise ValueError(f"jobs: priority {cl.priority} already in use")
        self.by_pri[cl.priority] = cl
        cls = self._present()
        # the products of RDCs/RLCs below each class, and each class's product
        # over the others (``delay_prod_others``, ``loss_prod_others``)
        for attr, prod in (("rdc", "delay_prod_others"), ("rlc", "loss_prod_others")):
            tmp: dict[int, float] = {}
            for c in cls:
                t = 1.0
                for d in cls:
                    if d.priority < c.priority and getattr(d, attr) is not None:
                        t *= getattr(d, attr)
                tmp[c.priority] = t
            for c in cls:
                p = 1.0
                for d in cls:
                    if d is not c and getattr(d, attr) is not None:
                        p *= tmp[d.priority]
                setattr(c, prod, p)

    def _present(self) -> list[JobsClass]:
        return [c for c in self.by_pri if c is not None]

    def classes(self) -> list[AltqClass]:
        return list(self._present())

    def _backlogged(self) -> list[JobsClass]:
        return [c for c in self.by_pri if c is not None and c.q]

    # --- enqueue ---------------------------------------------------------------

    def enqueue(self, cls: AltqClass, frame: bytes, flow: Flow, now: float) -> bool:
        assert isinstance(cls, JobsClass)
        present = self._present()
        if not any(c.q for c in present):
            for c in present:
                c.reset(now)
        n = len(frame)
        cls.arrival += n
        cls.rin += n
        cls.rin_packets += 1
        cls.current_loss = (cls.arrival - cls.rin) / cls.arrival
        for c in present:
            c.rout_th += (now - c.last_rate_update) * c.service_rate
            c.last_rate_update = now
        ok = self._addq(cls, frame, now)
        self._enforce_wc()
        if not self._min_rates_adc(now):
            for c, d in self._assign_rate_drops_adc(now).items():
                c.service_rate += d
        for c, d in self._adjust_rates_rdc(now).items():
            c.service_rate += d
        # an ADC drop takes tails: the arrival, last in, goes first
        return ok and bool(cls.q) and cls.q[-1] is frame

    def _addq(self, cl: JobsClass, frame: bytes, now: float) -> bool:
        n = len(frame)
        full = (len(cl.q) >= cl.qlimit if self.separate
                else sum(len(c.q) for c in self._present()) >= self.qlimit)
        if full and (self.separate or cl.rlc is None and (
                cl.alc is None or cl.current_loss + n / cl.arrival <= cl.alc)):
            cl.rin -= n
            cl.rin_packets -= 1
            cl.current_loss += n / cl.arrival
            return cl.drop(frame)
        cl.q.append(frame)
        cl.arrivals.append(now)
        if not full:
            return True
        victim = self._pick_dropped_rlc()
        if victim is None:
            victim = cl
        victim.drop_tail()
        return victim is not cl

    def _pick_dropped_rlc(self) -> JobsClass | None:
        """``pick_dropped_rlc``: the class to drop from."""
        bk = self._backlogged()
        rlc = [c for c in bk if c.rlc is not None]
        pick: JobsClass | None = None
        if rlc:
            mean = sum(c.loss_prod_others * c.current_loss for c in rlc) / len(rlc)
            best = 0.0
            for c in bk:
                err = c.loss_prod_others * c.current_loss - mean if c.rlc is not None \
                    else float("inf")
                if err <= best:
                    best, pick = err, c
            if pick is not None and pick.alc is not None and \
                    pick.current_loss + len(pick.q[-1]) / pick.arrival > pick.alc:
                pick = None  # meeting the RLC would break the ALC: ignore the RLC
        if pick is None:
            room = -1.0
            for c in reversed(bk):
                r = (c.alc if c.alc is not None else 1.0) - c.current_loss
                if r > room:
                    room, pick = r, c
        return pick

    # --- rates -------------------------------------------------------------------

    def _enforce_wc(self) -> None:
        """``enforce_wc``: work conservation."""
        present = self._present()
        if any(c.q and c.service_rate <= 0 or not c.q and c.service_rate > 0 for c in present):
            bk = [c for c in present if c.q]
            for c in present:
                c.service_rate = self.capacity / len(bk) if c.q else 0.0

    def _min_rates_adc(self, now: float) -> bool:
        """``min_rates_adc``: each class's minimum rate for its ADC and ARC;
        whether every backlogged class has it."""
        ok = True
        for c in self._present():
            arc = c.arc / 8.0 if c.arc is not None else None
            if c.q and c.adc is not None:
                remaining = c.adc - (now - c.arrivals[0])
                if remaining > 0:
                    c.min_rate_adc = c.backlog() / remaining
                    if arc is not None and arc > c.min_rate_adc:
                        c.min_rate_adc = arc
                else:
                    c.min_rate_adc = self.capacity
            elif c.q and arc is not None:
                c.min_rate_adc = arc
            else:
                c.min_rate_adc = 0.0
            if c.q and c.min_rate_adc > c.service_rate:
                ok = False
        return ok

    def _assign_rate_drops_adc(self, now: float) -> dict[JobsClass, float]:
        """``assign_rate_drops_adc``: move rate greedily from the classes with
        room (lowest priority first) to those short of their ADC/ARC (highest
        first); then drop from the tail of a class still short of time."""
        present = self._present()
        n: dict[JobsClass, float] = {}
        avail: dict[JobsClass, float] = {}
        cdl: dict[JobsClass, float] = {}
        for c in present:
            arc = c.arc / 8.0 if c.arc is not None else None
            if not c.q:
                n[c], cdl[c], avail[c] = 0.0, 0.0, c.service_rate
                continue
            n[c] = c.service_rate
            if c.adc is not None:
                remaining = c.adc - (now - c.arrivals[0])
                cdl[c] = max(remaining, 0.0)
                avail[c] = n[c] - c.backlog() / remaining if remaining > 0 else -self.capacity
                if arc is not None and n[c] - arc < avail[c]:
                    avail[c] = n[c] - arc
            else:
                cdl[c] = 0.0
                avail[c] = n[c] - arc if arc is not None else n[c]
        order = present  # ascending priority index
        hi = 0
        lo = len(order) - 1
        while hi < len(order) and avail[order[hi]] >= 0:
            hi += 1
        while lo > 0 and avail[order[lo]] <= 0:
            lo -= 1
        while hi < len(order) and lo >= 0:
            h, low = order[hi], order[lo]
            s = avail[low] + avail[h]
            if s >= 0:
                n[low] += avail[h]
                n[h] -= avail[h]
                avail[low] = s
                avail[h] = 0.0
                while hi < len(order) and avail[order[hi]] >= 0:
                    hi += 1
                if s == 0:
                    while lo >= 0 and avail[order[lo]] <= 0:
                        lo -= 1
            else:
                n[low] -= avail[low]
                n[h] += avail[low]
                avail[h] = s
                avail[low] = 0.0
                while lo >= 0 and avail[order[lo]] <= 0:
                    lo -= 1
        result = {c: (n[c] - c.service_rate if c.q else -c.service_rate) for c in present}
        if hi < len(order):  # some class still short: drops for its ADC
            for c in present:
                if c.q and avail[c] < 0 and c.adc is not None:
                    k = cdl[c] * n[c]
                    while c.q and c.backlog() > k:
                        if c.alc is not None and \
                                c.current_loss + len(c.q[-1]) / c.arrival > c.alc:
                            break  # relax the ADC in favour of the ALC
                        c.drop_tail()
        for c in present:
            if c.q and c.adc is not None:
                c.min_rate_adc = (c.backlog() / cdl[c] if cdl[c] > 0 and c.arc is None
                                  else n[c] if cdl[c] > 0 else self.capacity)
            elif c.q and c.arc is not None:
                c.min_rate_adc = n[c]
            else:
                c.min_rate_adc = 0.0
        return result

    def _adjust_rates_rdc(self, now: float) -> dict[JobsClass, float]:
        """``adjust_rates_rdc``: a proportional controller driving the RDC
        classes' weighted delays to their mean, within what the other
        classes leave and the ADC/ARC minima."""
        bk = self._backlogged()
        rdc = [c for c in bk if c.rdc is not None]
        upper = self.capacity - sum(c.service_rate for c in bk if c.rdc is None)
        result = {c: 0.0 for c in bk}
        if upper <= 0 or not rdc:
            return result
        tot_in = sum(c.rin for c in rdc)
        if tot_in <= 0:
            return result
        min_share = min([1.0] + [c.rin / tot_in for c in bk])
        max_prod = max(c.delay_prod_others for c in rdc)
        max_pkt = max((c.rin / c.rin_packets for c in rdc if c.rin_packets), default=0.0)
        if max_pkt <= 0:
            return result
        delays = {c: c.delay_prod_others * (now - c.arrivals[0]) for c in rdc}
        mean = sum(delays.values()) / len(rdc)
        gain = upper * upper * min_share / (max_prod * 4 * max_pkt)
        for c in rdc:
            result[c] = -gain * (mean - delays[c])
        lower = sum(c.min_rate_adc for c in rdc)
        credit = 0.0
        for c in rdc:
            if result[c] + c.service_rate > upper:  # saturation: c takes what is left
                for d in rdc:
                    result[d] = (upper - d.service_rate + d.min_rate_adc - lower if d is c
                                 else -d.service_rate + d.min_rate_adc)
                return result
            if result[c] + c.service_rate < c.min_rate_adc:
                credit += c.service_rate + result[c] - c.min_rate_adc
                result[c] = -c.service_rate + c.min_rate_adc
        for c in reversed(rdc):
            if credit >= 0:
                break
            avail = result[c] + c.service_rate - c.min_rate_adc
            if avail >= -credit:
                result[c] += credit
                credit = 0.0
            else:
                result[c] -= avail
                credit += avail
        return result

    # --- dequeue -------------------------------------------------------------------

    def _head(self) -> JobsClass | None:
        """The backlogged class furthest behind its promised output."""
        best: JobsClass | None = None
        err = 0.0
        for c in self._backlogged():
            e = c.rout_th - c.rout
            if best is None or e > err:
                best, err = c, e
        return best

    def poll(self, now: float) -> bytes | None:
        c = self._head()
        return c.q[0] if c is not None else None

    def dequeue(self, now: float) -> bytes | None:
        c = self._head()
        if c is None:
            return None
        arrived = c.arrivals.popleft()
        f = c.getq(now)
        c.rout += len(f)
        c.lastdel = now - arrived
        c.sumdel += c.lastdel
        if c.adc is not None and c.lastdel > c.adc:
            c.adc_violations += 1
        return f

    def purge(self) -> int:
        n = 0
        for c in self._present():
            c.arrivals.clear()
            n += c.purge()
        return n

    def snapshot(self) -> list[dict[str, Any]]:
        out = []
        for c in self._present():
            d = c.snapshot()
            d.update(priority=c.priority, service_rate=c.service_rate * 8,
                     avg_delay=c.sumdel / c.stats.xmit_packets if c.stats.xmit_packets else 0.0,
                     loss=c.current_loss, adc_violations=c.adc_violations,
                     jobs={k: getattr(c, k) for k in ("adc", "alc", "arc", "rdc", "rlc")})
            out.append(d)
        return out
