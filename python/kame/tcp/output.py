"""``tcp_output.c``: decide what to send now and send it: the SYN and
SYN,ACK with their options (MSS, Window Scale, SACK-permitted, Timestamps),
data within the send and congestion windows with Nagle's rule (RFC 9293
§3.7.4), SACK retransmissions in recovery (RFC 6675 ``NextSeg``), the FIN,
window updates, ACKs (immediate or delayed), persist probes, ECN marks
(RFC 3168 §6.1)."""

from __future__ import annotations

from ipaddress import IPv6Address

from kame import _core
from kame.tcp.sack import sack_nextseg, sack_pipe
from kame.tcp.subr import TcpSubr
from kame.tcp.var import (
    M32,
    TCP_BACKOFF,
    TCPS_CLOSE_WAIT,
    TCPS_CLOSED,
    TCPS_CLOSING,
    TCPS_ESTABLISHED,
    TCPS_FIN_WAIT_1,
    TCPS_FIN_WAIT_2,
    TCPS_LAST_ACK,
    TCPS_LISTEN,
    TCPS_SYN_RECEIVED,
    TCPS_SYN_SENT,
    TCPS_TIME_WAIT,
    TF2_PLPMTU_MAXSEGSNT,
    TF_ACKNOW,
    TF_DELACK,
    TF_ECN_PERMIT,
    TF_ECN_SND_CWR,
    TF_ECN_SND_ECE,
    TF_FASTRECOVERY,
    TF_FORCEDATA,
    TF_NODELAY,
    TF_RCVD_SCALE,
    TF_RCVD_TSTMP,
    TF_REQ_SCALE,
    TF_REQ_TSTMP,
    TF_SACK_PERMIT,
    TF_SENTFIN,
    TH_ACK,
    TH_CWR,
    TH_ECE,
    TH_FIN,
    TH_PUSH,
    TH_SYN,
    TT_DELACK,
    TT_PERSIST,
    TT_REXMT,
    Tcpcb,
)

#: ``tcp_outflags[]``: the control bits each state sends.
TCP_OUTFLAGS = {
    TCPS_CLOSED: 0, TCPS_LISTEN: 0, TCPS_SYN_SENT: TH_SYN, TCPS_SYN_RECEIVED: TH_SYN | TH_ACK,
    TCPS_ESTABLISHED: TH_ACK, TCPS_CLOSE_WAIT: TH_ACK, TCPS_FIN_WAIT_1: TH_FIN | TH_ACK,
    TCPS_CLOSING: TH_FIN | TH_ACK, TCPS_LAST_ACK: TH_FIN | TH_ACK, TCPS_FIN_WAIT_2: TH_ACK,
    TCPS_TIME_WAIT: TH_ACK,
}

ECT0 = 0x02


class TcpOutput(TcpSubr):
    """``tcp_output`` and the helpers it shares with input and timers."""

    #: header prediction and its output side (``TcpInput.hdrpred``)
    hdrpred: bool = True

    def rcv_window(self, tp: Tcpcb) -> int:
        """The window to advertise (octets): the receive buffer's room, no
        silly window (RFC 9293 §3.8.6.2.2), never shrinking what was offered."""
        # (min and max written out: the builtins' calls cost more than the
        # comparisons on this per-segment path; the same ties kept)
        rcv = tp.rcv
        space = rcv.space
        if space < rcv.cap // 4 and space < tp.t_maxseg:
            space = 0
        cap = 0xFFFF << tp.rcv_scale
        if cap < space:
            space = cap
        offered = tp.rcv_adv - tp.rcv_nxt
        if offered > space:
            space = offered
        return space if space > 0 else 0

    def tcp_setpersist(self, tp: Tcpcb, now: float) -> None:
        """``tcp_setpersist``: the next zero-window probe, backed off within
        [persmin, persmax]."""
        base = tp.t_srtt + 4 * tp.t_rttvar if tp.t_srtt else 1.0
        t = base * TCP_BACKOFF[min(tp.t_rxtshift, len(TCP_BACKOFF) - 1)]
        t = min(max(t, self.kms("net.inet.tcp.persmin")), self.kms("net.inet.tcp.persmax"))
        self.timer_set(tp, TT_PERSIST, now + t)
        if tp.t_rxtshift < len(TCP_BACKOFF) - 1:
            tp.t_rxtshift += 1

    def tcp_output(self, tp: Tcpcb, now: float) -> None:
        """Send what the state, the windows and the timers allow."""
        if tp.gone or tp.state in (TCPS_CLOSED, TCPS_LISTEN):
            return
        if tp.snd_max == tp.snd_una and now - tp.t_rcvtime >= tp.t_rxtcur and \
                tp.state == TCPS_ESTABLISHED:
            tp.cc.after_idle(tp, now)  # RFC 5681 §4.1
        if self.hdrpred and tp.state >= TCPS_ESTABLISHED and not len(tp.snd) and \
                tp.snd_wnd and tp.snd_buf_seq <= tp.snd_nxt and not len(tp.reass) and \
                not tp.t_flags & (TF_FASTRECOVERY | TF_FORCEDATA | TF_ECN_PERMIT):
            self._output_ctl(tp, now)
            return
        for _ in range(64):  # sendalot, bounded per call
            if not self._output_one(tp, now):
                return

    def _output_ctl(self, tp: Tcpcb, now: float) -> None:
        """:meth:`_output_one` for a synchronized connection with no data
        queued, nothing to retransmit or SACK, no recovery, no ECN and no
        forced send, whose peer's window is open: only an ACK, a window
        update or the FIN can go (the short connection's every segment
        after the handshake). The steps :meth:`_output_one` takes for it,
        without the branches that cannot fire; ``Tcp.hdrpred`` False keeps
        the general path (the reference the tests compare with)."""
        flags = TCP_OUTFLAGS[tp.state]
        tf = tp.t_flags
        timers = tp.timers
        if tf & TF_REQ_TSTMP and tf & TF_RCVD_TSTMP:
            opts = _core.tcp_options(None, None, False,
                                     ((int(now * 1000) + tp.ts_offset) & M32, tp.ts_recent), [])
        else:
            opts = b""
        seq = tp.snd_nxt
        if flags & TH_FIN and seq != tp.snd_buf_seq:
            flags &= ~TH_FIN  # sent and not pulled back for a retransmission
        rcv = tp.rcv
        winup = False
        space = rcv.space
        cap = 0xFFFF << tp.rcv_scale  # (min and max written out below, the same ties)
        offered = tp.rcv_adv - tp.rcv_nxt
        adv = (cap if cap < space else space) - offered
        if tp.state != TCPS_TIME_WAIT and (adv >= 2 * tp.t_maxseg or 2 * adv >= rcv.cap) and \
                not tf & 0x200000:  # TF_CANTRCVMORE
            winup = True
        elif not (tf & TF_ACKNOW or flags & TH_FIN and (not tf & TF_SENTFIN or
                                                         seq < tp.snd_max)):
            return
        win = space
        if win < rcv.cap // 4 and win < tp.t_maxseg:
            win = 0
        if cap < win:
            win = cap
        if offered > win:
            win = offered
        if win < 0:
            win = 0
        ack = tp.rcv_nxt & M32 if flags & TH_ACK else 0
        wfield = win >> tp.rcv_scale
        if wfield > 0xFFFF:
            wfield = 0xFFFF
        faddr = tp.faddr
        node = self.node
        r = self.route6(faddr, tp.scope, now) if type(faddr) is IPv6Address and \
            tp.ext6 is None and tp.lpacked and node is not None and \
            not self.is_local(faddr) else None
        if r is not None:
            # ip_output's IPv6 path for a connection without extension
            # headers, routed: the segment built and handed to ip6_output
            ifname, hop = r
            hlim = tp.hlim
            if hlim is None:
                info = node.cache.ifinfo.get(ifname)
                hlim = (info if info is not None else node.cache.info(ifname)).chlim
            node.output(ifname, _core.tcp6_output(tp.lpacked, tp.fpacked, hlim,
                                                  tp.tclass & ~0x03, tp.lport, tp.fport,
                                                  seq & M32, ack, flags, wfield, opts, b""),
                        now, hop)
        else:
            self.ip_output(tp.laddr, faddr, tp.lport, tp.fport, seq & M32, ack, flags, wfield,
                           opts, b"", now, scope=tp.scope, tclass=tp.tclass & ~0x03,
                           hlim=tp.hlim, packed=(tp.lpacked, tp.fpacked) if tp.lpacked else None,
                           ext=tp.ext6)
        sc = self._sc
        sc["tcps_sndtotal"] += 1
        nxt = seq
        if flags & TH_FIN:
            sc["tcps_sndctrl"] += 1
            tp.t_flags |= TF_SENTFIN
            nxt += 1
            if nxt > tp.snd_nxt:
                tp.snd_nxt = nxt
        if tp.snd_nxt > tp.snd_max:
            if tp.t_rtttime == 0:
                tp.t_rtttime = now
                tp.t_rtseq = seq
                sc["tcps_segstimed"] += 1
            tp.snd_max = tp.snd_nxt
        if flags & TH_FIN:
            if timers[TT_REXMT] is None and tp.snd_nxt != tp.snd_una:
                if timers[TT_PERSIST] is not None:
                    timers[TT_PERSIST] = None
                    tp.t_rxtshift = 0
                self.timer_set(tp, TT_REXMT, now + tp.t_rxtcur)
        elif winup:
            sc["tcps_sndwinup"] += 1
        else:
            sc["tcps_sndacks"] += 1
            if tf & TF_DELACK and not tf & TF_ACKNOW:
                sc["tcps_delack"] += 1
        if win > 0 and tp.rcv_nxt + win > tp.rcv_adv:
            tp.rcv_adv = tp.rcv_nxt + win
        if flags & TH_ACK:
            tp.last_ack_sent = tp.rcv_nxt
        tp.t_flags &= ~(TF_ACKNOW | TF_DELACK | TF_FORCEDATA)
        timers[TT_DELACK] = None

    def _output_one(self, tp: Tcpcb, now: float) -> bool:
        """One segment, or nothing; True asks for another (``sendalot``)."""
        flags = TCP_OUTFLAGS[tp.state]
        force = bool(tp.t_flags & TF_FORCEDATA)
        tf = tp.t_flags
        data_end = tp.snd_buf_seq + len(tp.snd)  # tp.snd_end()
        timers = tp.timers
        off = tp.snd_nxt - tp.snd_una
        # --- options (before the length: they take room from the data) ---
        syn = bool(flags & TH_SYN) and tp.snd_nxt == tp.iss
        if flags & TH_SYN and not syn:
            flags &= ~TH_SYN
            if tp.state == TCPS_SYN_SENT:
                return False  # waiting for the SYN,ACK
        sack_now = bool(tf & TF_SACK_PERMIT) and len(tp.reass) > 0
        if syn:
            sent_synack = tp.state == TCPS_SYN_RECEIVED
            ws = tp.request_r_scale if tf & TF_REQ_SCALE and (not sent_synack or tf & TF_RCVD_SCALE) \
                else None
            sackp = bool(self._kv["net.inet.tcp.sack.enable"]) and (not sent_synack or
                                                                      bool(tf & TF_SACK_PERMIT))
            ts = (self.tcp_ts(tp, now), tp.ts_recent if flags & TH_ACK else 0) if \
                tf & TF_REQ_TSTMP and (not sent_synack or tf & TF_RCVD_TSTMP) else None
            opts = _core.tcp_options(self.tcp_mssopt(tp, now), ws, sackp, ts)
            if tp.state == TCPS_SYN_SENT and self._kv["net.inet.tcp.ecn.enable"] == 1:
                flags |= TH_ECE | TH_CWR  # RFC 3168 §6.1.1
            elif sent_synack and tf & TF_ECN_PERMIT:
                flags |= TH_ECE
        else:
            # (tcp_ts inline: the 1 ms clock with the connection's offset)
            ts = ((int(now * 1000) + tp.ts_offset) & M32, tp.ts_recent) \
                if tf & TF_REQ_TSTMP and tf & TF_RCVD_TSTMP else None
            blocks = [(a & M32, b & M32) for a, b in tp.reass.sack_blocks(4)] if sack_now else []
            opts = _core.tcp_options(None, None, False, ts, blocks) if ts or blocks else b""
            if blocks:
                self.inc("tcps_sack_send_blocks")
        maxlen = tp.t_maxopd - len(opts)
        # --- what data ---
        sack_rxmit = False
        tso_segsz = 0
        seq = tp.iss if syn else tp.snd_nxt
        length = 0
        sendalot = False
        if not syn and tp.state not in (TCPS_SYN_SENT, TCPS_SYN_RECEIVED):
            in_rec_sack = tf & TF_FASTRECOVERY and tf & TF_SACK_PERMIT
            if in_rec_sack:
                room = tp.snd_cwnd - sack_pipe(tp)
                if room >= tp.t_maxseg or (room > 0 and tp.snd_cwnd < tp.t_maxseg):
                    ns = sack_nextseg(tp, min(maxlen, max(room, 1)))
                    if ns is not None:
                        seq, length = ns
                        sack_rxmit = True
            if not sack_rxmit:
                sendable = max(data_end - tp.snd_nxt, 0)
                win = min(tp.snd_wnd, tp.snd_cwnd)
                if in_rec_sack:
                    win = min(tp.snd_wnd, off + max(tp.snd_cwnd - sack_pipe(tp), 0))
                if force and tp.snd_wnd == 0 and sendable:
                    win = off + 1
                length = min(sendable, max(win - off, 0))
                if win < off and tp.snd_wnd == 0:
                    # the window shrank to zero: pull back and probe (RFC 9293 §3.8.6.1)
                    self.timer_stop(tp, TT_REXMT)
                    tp.t_rxtshift = 0
                    tp.snd_nxt = tp.snd_una
                    length = 0
                if length > maxlen:
                    if tp.t_tsomax > maxlen and not in_rec_sack and not force and \
                            not sack_now and not tf & TF_ECN_SND_CWR:
                        # TSO (FreeBSD tcp_output): one super-segment, whole
                        # segments of maxlen unless it empties the buffer
                        tso_segsz = maxlen
                        length = min(length, tp.t_tsomax - len(opts))
                        if tp.snd_nxt + length < data_end:
                            length -= length % maxlen
                    else:
                        length = maxlen
                    sendalot = True
                if length and tp.snd_nxt + length < data_end:
                    flags &= ~TH_FIN
        elif not syn:
            flags &= ~TH_FIN
        if flags & TH_FIN and (tp.snd_nxt + length != data_end or sack_rxmit):
            flags &= ~TH_FIN
        # --- decide ---
        send = False
        winup = False
        if syn:
            send = True
        elif length:
            if sack_rxmit or length >= maxlen or force or tp.snd_nxt < tp.snd_max:
                send = True
            elif (tp.snd_max == tp.snd_una or tf & TF_NODELAY) and \
                    tp.snd_nxt + length >= data_end:
                send = True  # Nagle: nothing outstanding, or TCP_NODELAY
            elif tp.max_sndwnd and length >= tp.max_sndwnd // 2:
                send = True
        if not send:
            recwin = min(tp.rcv.space, 0xFFFF << tp.rcv_scale)
            adv = recwin - (tp.rcv_adv - tp.rcv_nxt)
            if tp.state >= TCPS_ESTABLISHED and tp.state not in (TCPS_TIME_WAIT,) and \
                    (adv >= 2 * tp.t_maxseg or 2 * adv >= tp.rcv.cap) and \
                    not (tp.t_flags & 0x200000):  # TF_CANTRCVMORE
                send = winup = True
            elif tf & TF_ACKNOW or flags & TH_FIN and (not tf & TF_SENTFIN or tp.snd_nxt < tp.snd_max):
                send = True
        if not send:
            if data_end > tp.snd_nxt and timers[TT_REXMT] is None and \
                    timers[TT_PERSIST] is None and tp.snd_wnd == 0:
                tp.t_rxtshift = 0
                self.tcp_setpersist(tp, now)
            return False
        # --- build and send ---
        tclass = tp.tclass & ~0x03
        if tf & TF_ECN_PERMIT and not syn:
            if length and not sack_rxmit and tp.snd_nxt >= tp.snd_max and not force:
                tclass |= ECT0  # RFC 3168 §6.1.5: not on retransmissions or probes
                if tf & TF_ECN_SND_CWR:
                    flags |= TH_CWR
                    tp.t_flags &= ~TF_ECN_SND_CWR
            if tf & TF_ECN_SND_ECE:
                flags |= TH_ECE
        if length and seq + length == data_end:
            flags |= TH_PUSH
        # rcv_window inline: the receive buffer's room, no silly window,
        # never shrinking what was offered
        rcv = tp.rcv
        win = rcv.space
        if win < rcv.cap // 4 and win < tp.t_maxseg:
            win = 0
        win = max(min(win, 0xFFFF << tp.rcv_scale), tp.rcv_adv - tp.rcv_nxt, 0)
        wfield = min(win, 0xFFFF) if syn else min(win >> tp.rcv_scale, 0xFFFF)
        payload = tp.snd.peek(seq - tp.snd_buf_seq, length) if length else b""
        ack = tp.rcv_nxt & M32 if flags & TH_ACK else 0
        if tso_segsz and length > tso_segsz:
            self.ip_output(tp.laddr, tp.faddr, tp.lport, tp.fport, seq & M32, ack, flags, wfield,
                           opts, payload, now, scope=tp.scope, tclass=tclass, hlim=tp.hlim,
                           tso_segsz=tso_segsz)
            self.inc("tcps_tso_sends")
        else:
            self.ip_output(tp.laddr, tp.faddr, tp.lport, tp.fport, seq & M32, ack, flags, wfield,
                           opts, payload, now, scope=tp.scope, tclass=tclass, hlim=tp.hlim,
                           packed=(tp.lpacked, tp.fpacked) if tp.lpacked else None,
                           ext=tp.ext6)
        # --- accounting ---
        if length:  # for black-hole detection (FreeBSD TF2_PLPMTU_MAXSEGSNT)
            if length >= maxlen:
                tp.t_plpmtu |= TF2_PLPMTU_MAXSEGSNT
            else:
                tp.t_plpmtu &= ~TF2_PLPMTU_MAXSEGSNT
        sc = self._sc
        sc["tcps_sndtotal"] += 1
        persist = force and timers[TT_PERSIST] is not None
        if length and persist:
            sc["tcps_sndprobe"] += 1
        elif length:
            if sack_rxmit or seq < tp.snd_max:
                sc["tcps_sndrexmitpack"] += 1
                sc["tcps_sndrexmitbyte"] += length
                tp.t_sndrexmitpack += 1
                if sack_rxmit:
                    sc["tcps_sack_rexmits"] += 1
                    sc["tcps_sack_rexmit_bytes"] += length
            else:
                sc["tcps_sndprobe" if force else "tcps_sndpack"] += 1
                if not force:
                    sc["tcps_sndbyte"] += length
        elif flags & (TH_SYN | TH_FIN):
            sc["tcps_sndctrl"] += 1
        elif winup:
            sc["tcps_sndwinup"] += 1
        else:
            sc["tcps_sndacks"] += 1
            if tf & TF_DELACK and not tf & TF_ACKNOW:
                sc["tcps_delack"] += 1
        if sack_rxmit:
            tp.sack_rxmit_next = seq + length
            tp.sack_bytes_rexmit += length
        elif persist:
            # the persist case: snd_max covers the probe, snd_nxt stays, so
            # the next probe sends the same octet again (FreeBSD tcp_output)
            tp.snd_max = max(tp.snd_max, seq + length)
        else:
            nxt = seq + length + (1 if syn else 0)
            if flags & TH_FIN:
                nxt += 1
                tp.t_flags |= TF_SENTFIN
            tp.snd_nxt = max(tp.snd_nxt, nxt) if not syn else nxt
            if tp.snd_nxt > tp.snd_max:
                if tp.t_rtttime == 0 and not force:
                    tp.t_rtttime = now
                    tp.t_rtseq = seq
                    sc["tcps_segstimed"] += 1
                tp.snd_max = tp.snd_nxt
        if timers[TT_REXMT] is None and (tp.snd_nxt != tp.snd_una or sack_rxmit) \
                and (length or syn or flags & TH_FIN):
            if timers[TT_PERSIST] is not None and not force:
                timers[TT_PERSIST] = None  # timer_stop
                tp.t_rxtshift = 0
            if timers[TT_PERSIST] is None:
                self.timer_set(tp, TT_REXMT, now + tp.t_rxtcur)
        if win > 0 and tp.rcv_nxt + win > tp.rcv_adv:
            tp.rcv_adv = tp.rcv_nxt + win
        if flags & TH_ACK:
            tp.last_ack_sent = tp.rcv_nxt
        tp.t_flags &= ~(TF_ACKNOW | TF_DELACK | TF_FORCEDATA)
        timers[TT_DELACK] = None  # timer_stop
        return sendalot or (sack_rxmit and length > 0)
