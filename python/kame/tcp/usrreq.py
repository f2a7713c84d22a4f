"""``tcp_usrreq.c``: :class:`Tcp`, the TCP of one node (its connection
table, SYN queue and timers), and the requests a stream socket makes of
it: connect, send, rcvd (the application read), shutdown, disconnect
(close, with ``SO_LINGER``), abort."""

from __future__ import annotations

import errno
import heapq
from collections import deque
from typing import Any

from kame import _core
from kame.errors import KameError
from kame.gate import Gate
from kame.stats import Stats
from kame.tcp.input import TcpInput
from kame.tcp.syncache import FastSynCache, SynCache, SynEntry
from kame.tcp.var import (
    TCPS_CLOSE_WAIT,
    TCPS_CLOSED,
    TCPS_ESTABLISHED,
    TCPS_FIN_WAIT_1,
    TCPS_FIN_WAIT_2,
    TCPS_LAST_ACK,
    TCPS_LISTEN,
    TCPS_SYN_RECEIVED,
    TCPS_SYN_SENT,
    TF_CANTRCVMORE,
    TF_NEEDFIN,
    TF_NOSOCKET,
    TT_2MSL,
    TT_KEEP,
    Tcpcb,
)

Addr = Any


class Tcp(TcpInput):
    """TCP over one :class:`kame.node.Node` (``node.tcp``)."""

    #: the SYN queue in the core (:class:`~kame.tcp.syncache.FastSynCache`);
    #: False: the Python reference (:class:`~kame.tcp.syncache.SynCache`)
    fast_syncache: bool = True
    syncache: Any

    def __init__(self, node: Any, *, knobs: Any = None, stats: Stats | None = None) -> None:
        self.node = node
        self.knobs = knobs if knobs is not None else node.knobs
        self.stats = stats if stats is not None else node.stats
        self._kv = getattr(self.knobs, "_values", self.knobs)
        # the counters' own method: one call per count on the per-segment paths
        self.inc = self.stats.inc  # type: ignore[method-assign]
        # and the counters' table itself, for the per-connection paths that
        # count several at once (``sc["tcps_x"] += 1``: an unknown name
        # still fails, as ``Stats.inc``)
        self._sc = self.stats._c
        self.conns = {}
        self._ain = {}
        self.timewait = {}
        #: the node's next-deadline gate (:mod:`kame.gate`): every timer set lowers it
        self.gate: Gate = getattr(node, "gate", None) or Gate()
        self._heap = []
        self._hseq = 0
        self._loq = deque()
        rng = getattr(node, "rng", None)
        self._secret = rng.randbytes(32) if rng is not None else bytes(32)
        self._rst_sec, self._rst_cnt = -1, 0
        self.ip4_output = self.in_tcp_output
        self.syncache = FastSynCache(self) if self.fast_syncache else SynCache(self)

    # --- the clock -----------------------------------------------------------------

    def next_deadline(self) -> float | None:
        if self._loq:
            return float(getattr(self.node, "_now", 0.0))
        sc = self.syncache.next_deadline()
        if self.timewait:
            tw = next(iter(self.timewait.values())).tw_time
            sc = tw if sc is None else min(sc, tw)
        h = self._heap
        while h:
            t, _, obj, name = h[0]
            if obj.timers.get(name) == t and not obj.gone:
                return t if sc is None else min(t, sc)
            heapq.heappop(h)
        return sc

    def poll(self, now: float) -> None:
        """Fire the timers due by ``now``; deliver segments we sent ourselves."""
        h = self._heap
        while h and h[0][0] <= now:
            t, _, obj, name = heapq.heappop(h)
            if obj.gone or obj.timers.get(name) != t:
                continue
            if isinstance(obj, SynEntry):
                self.syncache.timer(obj, now)
            else:
                self.tcp_timer(obj, name, now)
        self.syncache.poll(now)
        if self.timewait:
            self.tcp_tw_2msl_scan(now)
        self.loopback(now)

    def loopback(self, now: float) -> None:
        """``looutput``: our segments to our own addresses, in order."""
        if not self._loq:
            return  # (every poll asks: nothing queued is the common answer)
        for _ in range(10000):
            if not self._loq:
                return
            src, dst, seg, tclass, scope = self._loq.popleft()
            self.inc("tcps_rcvtotal")
            sp, dp = src.packed, dst.packed
            try:
                s = _core.tcp_input_parse(seg, sp, dp)
            except KameError:
                self.inc("tcps_rcvbadsum")
                continue
            self.tcp_input(src, dst, s, tclass, scope, now, sp, dp)

    # --- user requests ---------------------------------------------------------------

    def tcp_connect(self, so: Any, laddr: Addr, lport: int, faddr: Addr, fport: int, scope: int,
                    now: float) -> Tcpcb:
        """``tcp_usr_connect``: a SYN_SENT connection and its SYN."""
        key = (laddr.packed, lport, faddr.packed, fport, scope)
        old = self.conns.get(key)
        if old is not None:
            raise OSError(errno.EADDRINUSE, "EADDRINUSE: that connection exists")
        tp = self.newtcpcb(laddr, lport, faddr, fport, now, so=so, scope=scope)
        tp.iss = self.tcp_iss(laddr, lport, faddr, fport, now)
        tp.snd_una = tp.snd_nxt = tp.snd_max = tp.iss
        tp.snd_buf_seq = tp.iss + 1
        tp.snd_recover = tp.iss
        tp.state = TCPS_SYN_SENT
        self.tcp_mss(tp, None, now)
        self.conns[key] = tp
        self.inc("tcps_connattempt")
        self.timer_set(tp, TT_KEEP, now + self.kms("net.inet.tcp.keepinit"))
        self.tcp_output(tp, now)
        self.loopback(now)
        return tp

    def tcp_send(self, tp: Tcpcb, data: bytes, now: float) -> int:
        """``tcp_usr_send``: queue what fits in so_snd and send."""
        n = int(tp.snd.write(data))
        if n:
            self.tcp_output(tp, now)
            self.loopback(now)
        return n

    def tcp_rcvd(self, tp: Tcpcb, now: float) -> None:
        """``tcp_usr_rcvd``: the application read; maybe a window update."""
        if tp.state >= TCPS_ESTABLISHED and not tp.gone:
            self.tcp_output(tp, now)
            self.loopback(now)

    def tcp_usrclosed(self, tp: Tcpcb, now: float) -> None:
        """``tcp_usrclosed``: no more data from us: a FIN after what is queued."""
        s = tp.state
        if s in (TCPS_CLOSED, TCPS_LISTEN, TCPS_SYN_SENT):
            self.tcp_close(tp)
            return
        if s == TCPS_SYN_RECEIVED:
            tp.t_flags |= TF_NEEDFIN
        elif s == TCPS_ESTABLISHED:
            tp.state = TCPS_FIN_WAIT_1
        elif s == TCPS_CLOSE_WAIT:
            tp.state = TCPS_LAST_ACK
        if tp.state == TCPS_FIN_WAIT_2 and tp.t_flags & TF_NOSOCKET:
            self.timer_set(tp, TT_2MSL, now + self.kms("net.inet.tcp.finwait2_timeout"))

    def tcp_shutdown(self, tp: Tcpcb, now: float) -> None:
        """``tcp_usr_shutdown`` (SHUT_WR)."""
        if tp.state in (TCPS_FIN_WAIT_1, TCPS_FIN_WAIT_2) or tp.gone:
            return
        self.tcp_usrclosed(tp, now)
        if not tp.gone:
            self.tcp_output(tp, now)
        self.loopback(now)

    def tcp_disconnect(self, tp: Tcpcb, now: float, *, rst_unread: bool) -> None:
        """``tcp_usr_disconnect``, from ``close``: an abortive close (RST)
        with ``SO_LINGER`` 0, or when data the application never read is
        left (``rst_unread``: Linux, RFC 2525 §2.17); else a FIN after the
        queued data, the connection living on without its socket."""
        tp.t_flags |= TF_NOSOCKET | TF_CANTRCVMORE
        tp.so = None
        if tp.gone:
            return
        lon, ltime = tp.linger
        if (lon and ltime == 0) or (rst_unread and len(tp.rcv) > 0):
            self.tcp_drop(tp, errno.ECONNABORTED, now)
        elif tp.state < TCPS_ESTABLISHED:
            self.tcp_close(tp)
        else:
            tp.rcv.clear()
            tw = tp.t_tw
            if tw is not None:  # TIME_WAIT goes on without the socket's Tcpcb
                tp.t_tw = tw.tp = None
            if tp.state not in (TCPS_FIN_WAIT_1, TCPS_FIN_WAIT_2) and tp.state != TCPS_LAST_ACK:
                self.tcp_usrclosed(tp, now)
            elif tp.state == TCPS_FIN_WAIT_2:
                self.timer_set(tp, TT_2MSL, now + self.kms("net.inet.tcp.finwait2_timeout"))
            if not tp.gone:
                self.tcp_output(tp, now)
        self.loopback(now)

    def tcp_abort(self, tp: Tcpcb, now: float) -> None:
        self.tcp_drop(tp, errno.ECONNABORTED, now)
        self.loopback(now)

    # --- netstat -an ----------------------------------------------------------------

    def pcblist(self) -> list[tuple[str, str, str]]:
        """``netstat -an -p tcp``: (local, foreign, state) of each connection."""
        return [(f"{tp.laddr}.{tp.lport}", f"{tp.faddr}.{tp.fport}", tp.statename)
                for tp in self.conns.values()]


__all__ = ["Tcp"]
