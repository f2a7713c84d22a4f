"""``tcp_timer.c``: the five timers of a connection, driven by the node's
clock (``Tcp.next_deadline``/``Tcp.poll``):

- ``rexmt`` (RFC 6298 §5): back off, go back to ``snd_una``, collapse the
  window (CC_RTO); drop after ``TCP_MAXRXTSHIFT`` (SYNs: 6) with
  ``ETIMEDOUT``;
- ``persist`` (RFC 9293 §3.8.6.1): a zero-window probe of one octet;
- ``keep``: connection establishment timeout (``keepinit``), then
  keepalive probes (``SO_KEEPALIVE``: ``keepidle``, ``keepintvl``,
  ``keepcnt``);
- ``2msl``: TIME_WAIT's end, and FIN_WAIT_2 of a closed socket;
- ``delack``: a delayed ACK (RFC 5681 §4.2, ``delacktime``).
"""

from __future__ import annotations

import errno

from kame import _core
from kame.tcp.cc import CC_RTO
from kame.tcp.output import TcpOutput
from kame.tcp.subr import HDR6
from kame.tcp.var import (
    TCP_MAXRXTSHIFT,
    TCP_SYN_MAXRXTSHIFT,
    TCPOLEN_TSTAMP_APPA,
    TCPS_ESTABLISHED,
    TCPS_FIN_WAIT_1,
    TCPS_FIN_WAIT_2,
    TCPS_SYN_RECEIVED,
    TCPS_SYN_SENT,
    TCPS_TIME_WAIT,
    TF2_PLPMTU_BLACKHOLE,
    TF2_PLPMTU_MAXSEGSNT,
    TF2_PLPMTU_PMTUD,
    TF_ACKNOW,
    TF_FASTRECOVERY,
    TF_FORCEDATA,
    TF_KEEPALIVE,
    TF_NOSOCKET,
    TF_RCVD_TSTMP,
    TF_REQ_TSTMP,
    TH_ACK,
    TIMERS,
    TT_2MSL,
    TT_DELACK,
    TT_KEEP,
    TT_PERSIST,
    TT_REXMT,
    Tcpcb,
    Tcptw,
    haveestablished,
)


class TcpTimer(TcpOutput):
    """Timer expiry (``tcp_timer_*``)."""

    def tcp_timer(self, tp: Tcpcb, name: str, now: float) -> None:
        if tp.gone:
            return
        tp.timers[name] = None
        if name == TT_DELACK:
            tp.t_flags |= TF_ACKNOW
            self.inc("tcps_delack")
            self.tcp_output(tp, now)
        elif name == TT_REXMT:
            self.tcp_timer_rexmt(tp, now)
        elif name == TT_PERSIST:
            self.tcp_timer_persist(tp, now)
        elif name == TT_KEEP:
            self.tcp_timer_keep(tp, now)
        elif name == TT_2MSL:
            self.tcp_timer_2msl(tp, now)

    def tcp_timer_rexmt(self, tp: Tcpcb, now: float) -> None:
        tp.t_rxtshift += 1
        limit = TCP_SYN_MAXRXTSHIFT if tp.state in (TCPS_SYN_SENT, TCPS_SYN_RECEIVED) else \
            TCP_MAXRXTSHIFT
        if tp.t_rxtshift > limit:
            tp.t_rxtshift = limit
            self.inc("tcps_timeoutdrop")
            self.tcp_drop(tp, errno.ETIMEDOUT, now)
            return
        self.inc("tcps_rexmttimeo")
        if self._kv["net.inet.tcp.pmtud_blackhole_detection"] and \
                tp.state in (TCPS_ESTABLISHED, TCPS_FIN_WAIT_1):
            self.tcp_pmtud_blackhole(tp)
        tp.t_rxtcur = self.rexmtval(tp)
        tp.t_rtttime = 0.0  # Karn: no sample from a retransmitted segment
        tp.cc.cong_signal(tp, CC_RTO, now)
        # RFC 6675 §5.1 / FreeBSD: leave recovery, forget the scoreboard
        tp.t_flags &= ~TF_FASTRECOVERY
        tp.sackhint_blocks = []
        tp.sack_rxmit_next = tp.snd_una
        tp.sack_bytes_rexmit = 0
        tp.t_dupacks = 0
        tp.snd_recover = tp.snd_max
        tp.snd_nxt = tp.snd_una
        self.tcp_output(tp, now)

    def tcp_pmtud_blackhole(self, tp: Tcpcb) -> None:
        """PLPMTUD black-hole detection (RFC 4821 §1, RFC 2923 §2.1; FreeBSD
        ``tcp_timer_rexmt`` with ``pmtud_blackhole_detection``): full-size
        segments that time out twice may be dropped by a hop that sends no
        Packet Too Big. Each stage gets two timeouts: the MSS first falls to
        ``v6pmtud_blackhole_mss`` (IPv6, 1220) or ``pmtud_blackhole_mss``
        (IPv4, 1200), then to ``v6mssdflt``/``mssdflt`` with path MTU discovery
        off (IPv4: DF clear towards the peer); if six timeouts pass
        even so, it was no black hole (the peer is gone, or all is lost): the
        MSS is restored and the failure counted."""
        f = tp.t_plpmtu
        if f & TF2_PLPMTU_PMTUD and f & TF2_PLPMTU_MAXSEGSNT and \
                2 <= tp.t_rxtshift < 6 and tp.t_rxtshift % 2 == 0:
            if not f & TF2_PLPMTU_BLACKHOLE:
                tp.t_plpmtu |= TF2_PLPMTU_BLACKHOLE
                tp.t_pmtud_saved_maxopd = tp.t_maxopd
            v6 = self.hdrlen(tp) == HDR6
            bh = self._kv["net.inet.tcp.v6pmtud_blackhole_mss" if v6 else
                            "net.inet.tcp.pmtud_blackhole_mss"]
            if tp.t_maxopd > bh:
                self._set_maxopd(tp, bh)
                self.inc("tcps_pmtud_blackhole_activated")
            else:
                self._set_maxopd(tp, min(tp.t_maxopd, self._kv[
                    "net.inet.tcp.v6mssdflt" if v6 else "net.inet.tcp.mssdflt"]))
                tp.t_plpmtu &= ~TF2_PLPMTU_PMTUD
                self.inc("tcps_pmtud_blackhole_activated_min_mss")
                self._blackhole_df(tp, True)  # IPv4: DF off for the path
            tp.cc.conn_init(tp, self._kv["net.inet.tcp.initcwnd_segments"])
        elif f & TF2_PLPMTU_BLACKHOLE and tp.t_rxtshift >= 6:
            tp.t_plpmtu = (f | TF2_PLPMTU_PMTUD) & ~TF2_PLPMTU_BLACKHOLE
            self._set_maxopd(tp, tp.t_pmtud_saved_maxopd)
            self.inc("tcps_pmtud_blackhole_failed")
            self._blackhole_df(tp, False)
            tp.cc.conn_init(tp, self._kv["net.inet.tcp.initcwnd_segments"])

    def _blackhole_df(self, tp: Tcpcb, off: bool) -> None:
        """IPv4 path MTU discovery off (DF clear) towards the peer behind a
        black hole at the minimum MSS, or on again (kame.inet.output)."""
        inet = getattr(self.node, "inet", None)
        if inet is None or self.hdrlen(tp) == HDR6:
            return
        if off:
            inet.pmtud_blackhole(tp.faddr, float(getattr(self.node, "_now", 0.0)))
        else:
            inet.pmtud_restore(tp.faddr)

    @staticmethod
    def _set_maxopd(tp: Tcpcb, mss: int) -> None:
        tp.t_maxopd = mss
        tp.t_maxseg = mss - TCPOLEN_TSTAMP_APPA if tp.t_flags & TF_RCVD_TSTMP and \
            tp.t_flags & TF_REQ_TSTMP else mss

    def tcp_timer_persist(self, tp: Tcpcb, now: float) -> None:
        self.inc("tcps_persisttimeo")
        # drop a connection whose peer keeps a zero window past the RTO
        # limit while we are closed (FreeBSD: t_rxtshift >= MAXRXTSHIFT and
        # idle longer than the maximum backoff)
        if tp.t_rxtshift >= TCP_MAXRXTSHIFT and now - tp.t_rcvtime >= \
                self.kms("net.inet.tcp.rexmit_max") * 2:
            self.inc("tcps_persistdrop")
            self.tcp_drop(tp, errno.ETIMEDOUT, now)
            return
        self.tcp_setpersist(tp, now)
        tp.t_flags |= TF_FORCEDATA
        self.tcp_output(tp, now)
        tp.t_flags &= ~TF_FORCEDATA

    def keep_arm(self, tp: Tcpcb, now: float) -> None:
        """Re-arm ``keep`` after a segment arrived."""
        if tp.t_flags & TF_KEEPALIVE and haveestablished(tp.state) and \
                tp.state != TCPS_TIME_WAIT:
            self.timer_set(tp, TT_KEEP, now + tp.keepidle)

    def tcp_timer_keep(self, tp: Tcpcb, now: float) -> None:
        self.inc("tcps_keeptimeo")
        if not haveestablished(tp.state):
            self.tcp_drop(tp, errno.ETIMEDOUT, now)  # keepinit: no connection
            return
        if not tp.t_flags & TF_KEEPALIVE or tp.state == TCPS_TIME_WAIT:
            return
        idle = now - tp.t_rcvtime
        if idle < tp.keepidle:
            self.timer_set(tp, TT_KEEP, tp.t_rcvtime + tp.keepidle)
            return
        if tp.t_keepcnt >= tp.keepcnt:
            self.inc("tcps_keepdrops")
            self.tcp_drop(tp, errno.ETIMEDOUT, now)
            return
        # the probe: an ACK with SND.UNA - 1 (RFC 9293 §3.8.4), no data
        self.inc("tcps_keepprobe")
        tp.t_keepcnt += 1
        self.tcp_respond(tp.laddr, tp.faddr, tp.lport, tp.fport, tp.snd_una - 1, tp.rcv_nxt,
                         TH_ACK, now, win=min(self.rcv_window(tp) >> tp.rcv_scale, 0xFFFF),
                         scope=tp.scope, options=self.ts_option(tp, now), ext=tp.ext6)
        self.timer_set(tp, TT_KEEP, now + tp.keepintvl)

    def ts_option(self, tp: Tcpcb | Tcptw, now: float) -> bytes:
        if tp.t_flags & TF_REQ_TSTMP and tp.t_flags & TF_RCVD_TSTMP:
            return bytes(_core.tcp_options(None, None, False, (self.tcp_ts(tp, now),
                                                              tp.ts_recent)))
        return b""

    def tcp_timer_2msl(self, tp: Tcpcb, now: float) -> None:
        if tp.state == TCPS_TIME_WAIT:
            self.tcp_close(tp)
            return
        if tp.state == TCPS_FIN_WAIT_2 and tp.t_flags & TF_NOSOCKET:
            idle = now - tp.t_rcvtime
            limit = self.kms("net.inet.tcp.finwait2_timeout")
            if idle >= limit:
                self.inc("tcps_finwait2_drops")
                self.tcp_close(tp)
            else:
                self.timer_set(tp, TT_2MSL, tp.t_rcvtime + limit)

    def tcp_twstart(self, tp: Tcpcb, now: float) -> None:
        """Enter TIME_WAIT for 2MSL (``tcp_twstart``); ``nolocaltimewait``
        skips it for connections to ourselves. The table keeps a compact
        :class:`Tcptw` in the Tcpcb's place (FreeBSD's ``struct tcptw``);
        the Tcpcb stays with the socket while the application holds it."""
        tp.tw_last_win = min(self.rcv_window(tp) >> tp.rcv_scale, 0xFFFF)
        tp.state = TCPS_TIME_WAIT
        for n in TIMERS:
            tp.timers[n] = None
        if self._kv["net.inet.tcp.nolocaltimewait"] and self.is_local(tp.faddr):
            self.tcp_close(tp)
            return
        # the TIME_WAIT table is bounded: past ``maxtcptw`` the oldest ends
        # early (FreeBSD's tcp_twstart reusing tcp_tw_2msl_scan's oldest)
        tw = self.timewait
        while len(tw) >= self._kv["net.inet.tcp.maxtcptw"]:
            self.inc("tcps_tw_evicted")
            self.tcp_close(next(iter(tw.values())))
        so = tp.so
        t = Tcptw(tp, so is not None)
        if so is not None:
            tp.t_tw = t
            tcp_twshrink(tp)
        else:
            tp.reass.clear()
        self.conns[tp.key] = t
        self.tw_timer(t, now)
        self.heap_retired()
        if so is not None:
            so.tcp_disconnected(tp)

    def tw_timer(self, tw: Tcptw, now: float) -> None:
        """(Re)start TIME_WAIT's 2MSL (``tcp_tw_2msl_reset``): the table is
        kept in deadline order, so a restart moves the connection to its
        end and :meth:`tcp_tw_2msl_scan` reads only the front."""
        tw.tw_time = now + 2 * self.kms("net.inet.tcp.msl")
        self.gate.arm(tw.tw_time)
        t = self.timewait
        k = id(tw)
        if k in t:
            del t[k]
        t[k] = tw

    def tcp_tw_2msl_scan(self, now: float) -> None:
        """``tcp_tw_2msl_scan``: end the TIME_WAIT connections whose 2MSL
        is over, oldest first (a smaller ``net.inet.tcp.msl`` set meanwhile
        takes effect as the older ones end)."""
        t = self.timewait
        while t:
            tw = next(iter(t.values()))
            if tw.tw_time > now:
                return
            self.tcp_close(tw)


def tcp_twshrink(tp: Tcpcb) -> None:
    """What the Tcpcb of a socket the application still holds keeps in
    TIME_WAIT (the table has the compact :class:`Tcptw`): the unread data
    in a receive buffer of its own size (a ``VecDeque`` keeps the room of
    its fullest moment), a send buffer with nothing in it (every octet was
    acknowledged: our FIN was), no out-of-order queue, SACK scoreboard or
    congestion state; the high-water marks (``SO_SNDBUF``, ``SO_RCVBUF``)
    read back as they were."""
    tp.rcv.shrink()
    tp.snd.clear()
    tp.snd.shrink()
    tp.reass.clear()
    tp.sackhint_blocks = []
    tp.ccv = {}
