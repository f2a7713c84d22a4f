"""``cc_cubic.c``: CUBIC (RFC 9438), the default algorithm.

Window growth in congestion avoidance follows W_cubic(t) = C (t - K)^3 +
W_max (§4.2) with C = 0.4, β = 0.7, K = cbrt(W_max (1 - β) / C) in
segments; a Reno-friendly estimate W_est (§4.3) keeps it no slower than
Reno; fast convergence (§4.7) lowers W_max when a flow loses before
regaining its old maximum. Slow start is Reno's (RFC 5681, ABC L = 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kame.tcp.cc import CC_ACK, CC_ECN, CC_NDUPACK, CC_RTO, cwnd_cap, initial_window
from kame.tcp.var import TF_CONGRECOVERY, TF_FASTRECOVERY

if TYPE_CHECKING:
    from kame.tcp.var import Tcpcb

C = 0.4
BETA = 0.7
ALPHA = 3 * (1 - BETA) / (1 + BETA)  # RFC 9438 §4.3


class Cubic:
    name = "cubic"
    __slots__ = ("cwnd_epoch", "epoch", "iw", "k", "w_est", "w_max")

    def __init__(self) -> None:
        self.iw = 10
        self.w_max = 0.0        # segments
        self.k = 0.0
        self.epoch: float | None = None
        self.w_est = 0.0        # segments
        self.cwnd_epoch = 0.0

    def conn_init(self, tp: Tcpcb, initcwnd_segments: int) -> None:
        self.iw = initcwnd_segments
        tp.snd_cwnd = initial_window(tp, initcwnd_segments)

    def w_cubic(self, t: float) -> float:
        return C * (t - self.k) ** 3 + self.w_max

    def ack_received(self, tp: Tcpcb, kind: int, acked: int, now: float) -> None:
        if kind != CC_ACK or tp.t_flags & TF_FASTRECOVERY:
            return
        mss = tp.t_maxseg
        if tp.snd_cwnd <= tp.snd_ssthresh:
            inc = 2 * mss  # min(snd_cwnd + min(acked, 2 * mss), cwnd_cap(tp)), written out
            cw = tp.snd_cwnd + (inc if inc < acked else acked)
            cap = cwnd_cap(tp)
            tp.snd_cwnd = cap if cap < cw else cw
            return
        cwnd = tp.snd_cwnd / mss
        if self.epoch is None:  # §4.2: a new congestion-avoidance epoch
            self.epoch = now
            if cwnd < self.w_max:
                self.k = ((self.w_max - cwnd) / C) ** (1 / 3)
            else:
                self.k = 0.0
                self.w_max = cwnd
            self.w_est = cwnd
        rtt = tp.t_srtt if tp.t_srtt > 0 else 0.1
        t = now - self.epoch
        target = self.w_cubic(t + rtt)
        target = min(max(target, cwnd), 1.5 * cwnd)  # §4.2 bounds
        segs = acked / mss
        self.w_est += ALPHA * segs / cwnd
        if self.w_cubic(t) < self.w_est:  # §4.3 Reno-friendly region
            new = max(cwnd, self.w_est)
        else:  # §4.4 concave, §4.5 convex
            new = cwnd + (target - cwnd) * segs / cwnd
        tp.snd_cwnd = min(max(int(new * mss), tp.snd_cwnd), cwnd_cap(tp))

    def _reduce(self, tp: Tcpcb) -> None:
        mss = tp.t_maxseg
        cwnd = tp.snd_cwnd / mss
        # §4.7 fast convergence
        self.w_max = cwnd * (1 + BETA) / 2 if cwnd < self.w_max else cwnd
        tp.snd_ssthresh = max(int(cwnd * BETA * mss), 2 * mss)
        self.epoch = None

    def cong_signal(self, tp: Tcpcb, kind: int, now: float) -> None:
        if kind == CC_NDUPACK:
            if not tp.t_flags & TF_FASTRECOVERY:
                if not tp.t_flags & TF_CONGRECOVERY:
                    self._reduce(tp)
                tp.t_flags |= TF_FASTRECOVERY | TF_CONGRECOVERY
        elif kind == CC_ECN:
            if not tp.t_flags & TF_CONGRECOVERY:
                self._reduce(tp)
                tp.snd_cwnd = tp.snd_ssthresh
                tp.t_flags |= TF_CONGRECOVERY
        elif kind == CC_RTO:
            if tp.t_rxtshift == 1:
                self._reduce(tp)
            tp.snd_cwnd = tp.t_maxseg  # §4.8: the loss window
            self.epoch = None

    def post_recovery(self, tp: Tcpcb, now: float) -> None:
        if tp.t_flags & TF_FASTRECOVERY:
            pipe = tp.snd_max - tp.snd_una
            mss = tp.t_maxseg
            tp.snd_cwnd = max(pipe, mss) + mss if pipe < tp.snd_ssthresh else tp.snd_ssthresh

    def after_idle(self, tp: Tcpcb, now: float) -> None:
        tp.snd_cwnd = min(tp.snd_cwnd, initial_window(tp, self.iw))
        self.epoch = None
