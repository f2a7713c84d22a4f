"""Pluggable congestion control, FreeBSD's ``struct cc_algo``
(``sys/netinet/cc/cc.h``): the connection calls its algorithm at each
acknowledgment (``ack_received``), congestion signal (``cong_signal``:
three duplicate ACKs, an ECN echo, a retransmission timeout), at the end of
recovery (``post_recovery``) and after idle (``after_idle``).

:mod:`~kame.tcp.cc.newreno` (RFC 5681, RFC 6582) and
:mod:`~kame.tcp.cc.cubic` (RFC 9438, the default as on Linux and FreeBSD 14)
implement it; :func:`cc_algo` finds one by name (``TCP_CONGESTION``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from kame.tcp.var import Tcpcb

#: ``ack_received`` types
CC_ACK = 1
CC_DUPACK = 2
#: ``cong_signal`` types
CC_ECN = 1
CC_RTO = 2
CC_RTO_ERR = 3
CC_NDUPACK = 4


class CcAlgo(Protocol):
    """``struct cc_algo``."""

    name: str

    def conn_init(self, tp: Tcpcb, initcwnd_segments: int) -> None: ...

    def ack_received(self, tp: Tcpcb, kind: int, acked: int, now: float) -> None: ...

    def cong_signal(self, tp: Tcpcb, kind: int, now: float) -> None: ...

    def post_recovery(self, tp: Tcpcb, now: float) -> None: ...

    def after_idle(self, tp: Tcpcb, now: float) -> None: ...


def initial_window(tp: Tcpcb, segments: int) -> int:
    """RFC 6928 / FreeBSD ``tcp_compute_initwnd``: ``segments`` full-sized
    segments (10 by default)."""
    return max(1, segments) * tp.t_maxseg


def cwnd_cap(tp: Tcpcb) -> int:
    """cwnd never exceeds the largest window the peer can advertise."""
    return 0xFFFF << tp.snd_scale


def halve(tp: Tcpcb) -> int:
    """``newreno_cong_signal``'s ssthresh: half the window in flight, at
    least two segments (RFC 5681 eq. 4)."""
    mss = tp.t_maxseg
    win = min(tp.snd_wnd, tp.snd_cwnd) // 2 // mss
    return max(win, 2) * mss


#: the algorithms by name, filled at the first :func:`cc_algo` (the modules
#: import this one)
_ALGOS: dict[str, type] = {}


def cc_algo(name: str) -> CcAlgo:
    """The algorithm called ``name`` (``newreno``, ``cubic``); ValueError else."""
    algos = _ALGOS
    try:
        return algos[name]()  # type: ignore[no-any-return]
    except KeyError:
        pass
    if not algos:
        from kame.tcp.cc.cubic import Cubic
        from kame.tcp.cc.newreno import NewReno
        algos.update(newreno=NewReno, cubic=Cubic)
    if name not in algos:
        raise ValueError(f"no congestion control algorithm {name!r} (newreno, cubic)")
    algo: CcAlgo = algos[name]()
    return algo


#: ``net.inet.tcp.cc.algorithm`` values (the knob is an integer).
CC_NAMES = ("newreno", "cubic")
