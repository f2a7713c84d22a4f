"""``cc_newreno.c``: slow start and congestion avoidance with appropriate
byte counting (RFC 5681, RFC 3465 with L = 2), fast recovery per RFC 6582."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kame.tcp.cc import CC_ACK, CC_ECN, CC_NDUPACK, CC_RTO, cwnd_cap, halve, initial_window
from kame.tcp.var import TF_CONGRECOVERY, TF_FASTRECOVERY

if TYPE_CHECKING:
    from kame.tcp.var import Tcpcb

#: RFC 3465 L: at most this many segments of growth per ACK in slow start.
ABC_L_VAR = 2


class NewReno:
    name = "newreno"
    __slots__ = ("iw",)

    def __init__(self) -> None:
        self.iw = 10

    def conn_init(self, tp: Tcpcb, initcwnd_segments: int) -> None:
        self.iw = initcwnd_segments
        tp.snd_cwnd = initial_window(tp, initcwnd_segments)
        tp.ccv["bytes_this_ack"] = 0
        tp.ccv["abc_bytes"] = 0

    def ack_received(self, tp: Tcpcb, kind: int, acked: int, now: float) -> None:
        if kind != CC_ACK or tp.t_flags & TF_FASTRECOVERY:
            return
        mss = tp.t_maxseg
        if tp.snd_cwnd <= tp.snd_ssthresh:
            incr = min(acked, ABC_L_VAR * mss)  # slow start
        else:
            ab = tp.ccv.get("abc_bytes", 0) + acked  # congestion avoidance
            if ab >= tp.snd_cwnd:
                ab -= tp.snd_cwnd
                incr = mss
            else:
                incr = 0
            tp.ccv["abc_bytes"] = ab
        tp.snd_cwnd = min(tp.snd_cwnd + incr, cwnd_cap(tp))

    def cong_signal(self, tp: Tcpcb, kind: int, now: float) -> None:
        mss = tp.t_maxseg
        if kind == CC_NDUPACK:
            if not tp.t_flags & TF_FASTRECOVERY:
                if not tp.t_flags & TF_CONGRECOVERY:
                    tp.snd_ssthresh = halve(tp)
                tp.t_flags |= TF_FASTRECOVERY | TF_CONGRECOVERY
        elif kind == CC_ECN:
            if not tp.t_flags & TF_CONGRECOVERY:
                tp.snd_ssthresh = halve(tp)
                tp.snd_cwnd = tp.snd_ssthresh
                tp.t_flags |= TF_CONGRECOVERY
        elif kind == CC_RTO:
            if tp.t_rxtshift == 1:
                tp.snd_ssthresh = halve(tp)
            tp.snd_cwnd = mss
            tp.ccv["abc_bytes"] = 0

    def post_recovery(self, tp: Tcpcb, now: float) -> None:
        """RFC 6582 §3.2 step 3, full acknowledgment: deflate to ssthresh,
        or to what is in flight plus one segment if that is less."""
        if tp.t_flags & TF_FASTRECOVERY:
            pipe = tp.snd_max - tp.snd_una
            mss = tp.t_maxseg
            tp.snd_cwnd = max(pipe, mss) + mss if pipe < tp.snd_ssthresh else tp.snd_ssthresh

    def after_idle(self, tp: Tcpcb, now: float) -> None:
        """RFC 5681 §4.1: restart from the initial window after an idle RTO."""
        tp.snd_cwnd = min(tp.snd_cwnd, initial_window(tp, self.iw))
