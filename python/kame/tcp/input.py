"""``tcp_input.c``: ``tcp6_input`` (checks, demultiplexing, listeners, a
RST for a segment that finds no connection) and ``tcp_do_segment``, RFC
9293 §3.10.7 "SEGMENT ARRIVES" for every state, with

- RFC 7323: PAWS and TS.Recent, RTT from timestamps, window scaling;
- RFC 5961: RST only at exactly RCV.NXT, SYN and in-window RST answered
  by a challenge ACK (rate-limited, ``ack_war_*``), ACK acceptability;
- RFC 5681/6582/6675: duplicate ACKs, limited transmit, fast retransmit
  and recovery, SACK-based recovery;
- RFC 3168: CE marks echoed with ECE until CWR; ECE answered by one
  window reduction per round trip;
- ``tcp6_ctlinput``: Packet Too Big lowers the MSS (RFC 8201), other
  errors are soft (RFC 5461) except in SYN_SENT for unreachable port or
  prohibited (``icmp_may_rst``); the quoted sequence number must be in
  flight (RFC 5927 §4.1);
- ``tcp_input`` for IPv4 (here ``tcp4_input``, from ``node.inet``) and
  ``tcp_ctlinput``: Fragmentation Needed lowers the MSS (RFC 1191), the
  rest as ``tcp6_ctlinput`` by FreeBSD's ``inetctlerrmap``.
"""

from __future__ import annotations

import errno
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from kame import _core
from kame.errors import KameError, MalformedError, TruncatedError
from kame.tcp.cc import CC_ACK, CC_ECN, CC_NDUPACK
from kame.tcp.sack import sack_clean, sack_islost, sack_update
from kame.tcp.syncache import SynCache
from kame.tcp.timer import TcpTimer
from kame.tcp.var import (
    M32,
    TCP_PAWS_IDLE,
    TCPS_CLOSE_WAIT,
    TCPS_CLOSING,
    TCPS_ESTABLISHED,
    TCPS_FIN_WAIT_1,
    TCPS_FIN_WAIT_2,
    TCPS_LAST_ACK,
    TCPS_SYN_RECEIVED,
    TCPS_SYN_SENT,
    TCPS_TIME_WAIT,
    TF_ACKNOW,
    TF_CANTRCVMORE,
    TF_CONGRECOVERY,
    TF_DELACK,
    TF_ECN_PERMIT,
    TF_ECN_SND_CWR,
    TF_ECN_SND_ECE,
    TF_FASTRECOVERY,
    TF_KEEPALIVE,
    TF_NEEDFIN,
    TF_NOSOCKET,
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
    TH_RST,
    TH_SYN,
    TT_2MSL,
    TT_DELACK,
    TT_KEEP,
    TT_PERSIST,
    TT_REXMT,
    Tcpcb,
    Tcptw,
    ts_lt,
    unwrap,
)

_ICMP6_SOFT = {
    (1, 0): errno.EHOSTUNREACH, (1, 2): errno.EHOSTUNREACH, (1, 3): errno.EHOSTUNREACH,
    (1, 1): errno.ECONNREFUSED, (1, 4): errno.ECONNREFUSED, (3, 0): errno.EHOSTUNREACH,
    (4, 1): errno.ENOPROTOOPT,
}
#: ICMPv4 errors (type, code) to errno (FreeBSD ``inetctlerrmap`` through the
#: PRC_ codes): net/host unreachable, source route failed, unknown net or
#: host, TOS unreachable: EHOSTUNREACH; protocol and port unreachable and
#: the administratively prohibited codes (RFC 1812 §5.2.7.1): ECONNREFUSED;
#: time exceeded in transit: EHOSTUNREACH; parameter problem: ENOPROTOOPT.
_ICMP_SOFT = {
    **{(3, c): errno.EHOSTUNREACH for c in (0, 1, 5, 6, 7, 8, 11, 12)},
    **{(3, c): errno.ECONNREFUSED for c in (2, 3, 9, 10, 13)},
    (11, 0): errno.EHOSTUNREACH, (12, 0): errno.ENOPROTOOPT,
}


IPPROTO_TCP = 6
#: ``havercvdfin``'s states
_HAVERCVDFIN = frozenset((TCPS_CLOSE_WAIT, TCPS_CLOSING, TCPS_LAST_ACK, TCPS_TIME_WAIT))


#: Linux's ``IPV6_MTU_DISCOVER`` and ``IP_MTU_DISCOVER`` (kame.socket)
IPV6_MTU_DISCOVER, IP_MTU_DISCOVER = 23, 10


class TcpInput(TcpTimer):
    """Segments in."""

    syncache: SynCache
    #: connections whose output waits for the end of a batch of frames read
    #: at one wakeup (``None``: no batch, output at once); see :meth:`batch_end`
    _deferred: dict[int, Tcpcb] | None = None

    # --- tcp6_input ------------------------------------------------------------

    def tcp6_input(self, ifname: str, hdr: Any, body: bytes, now: float) -> None:
        """A TCP segment for one of our addresses (from ``ip6_input``)."""
        self._sc["tcps_rcvtotal"] += 1
        src, dst = hdr.src, hdr.dst
        # is_multicast (ff00::/8), the unspecified source, ipv4_mapped
        # (::ffff:0:0/96) on the integers, without their properties' calls
        si = src._ip
        if dst._ip >> 120 == 0xFF or si >> 120 == 0xFF or not si or si >> 32 == 0xFFFF:
            self.inc("tcps_rcvmcast")  # RFC 9293 §3.9.2.1: never to a broadcast/multicast
            return
        scope = 0
        if si >> 118 == 0x3FA and self.node is not None and ifname in self.node.ifnets:
            scope = self.node.ifnets[ifname].index
        sp, dp = src.packed, dst.packed
        if self._fastkey is not None:
            # the node's batch asked: these addresses passed every check of
            # ip6_input and ours, the next segments between them may skip them
            if src.scope_id is None and dst.scope_id is None:
                # one object per address for every batch (the connection
                # table's keys): its lookups then compare them by identity
                ain = self._ain
                if len(ain) >= 4096:
                    ain.clear()
                src = ain.setdefault(sp, src)
                dst = ain.setdefault(dp, dst)
            self._fast[self._fastkey] = (src, dst, sp, dp, scope)
            self._fastkey = None
        seg = self._parse(body, sp, dp)
        if seg is None:
            return
        self.tcp_input(src, dst, seg, hdr.traffic_class, scope, now, sp, dp)

    #: the fast path's key of the frame in ip6_input (ethernet header,
    #: source and destination) and its table (``Node._receive_many``)
    _fastkey: bytes | None = None
    _fast: dict[bytes, Any]
    #: the last fast-path segment's addresses (source, destination, both
    #: packed, scope): ``packed_of`` answers from it for those very objects
    _pkv: tuple[Any, Any, bytes, bytes, int] = (None, None, b"", b"", 0)
    #: the fast path's addresses by their packed form (bounded; no zone)
    _ain: dict[bytes, IPv6Address]

    def packed_of(self, laddr: Any, faddr: Any) -> tuple[bytes, bytes]:
        """``(laddr.packed, faddr.packed)`` of the segment being processed
        (destination, source), without packing them again when they are
        the fast path's objects."""
        v = self._pkv
        if laddr is v[1] and faddr is v[0]:
            return v[3], v[2]
        return laddr.packed, faddr.packed

    def tcp6_fast_input(self, v: tuple[Any, Any, bytes, bytes, int], plen: int,
                        frame: bytes, now: float) -> None:
        """``tcp6_input`` for the segment of ``plen`` octets after the IPv6
        header of Ethernet ``frame`` (parsed in place, not sliced out),
        whose addresses ``v`` (source, destination, both packed, scope) the
        batch has already judged."""
        self._sc["tcps_rcvtotal"] += 1
        src, dst, sp, dp, scope = v
        try:
            seg = _core.tcp_input_parse(frame, sp, dp, True, 54, 54 + plen)
        except KameError:
            self._parse(frame[54:54 + plen], sp, dp)  # the counted drop
            return
        self._pkv = v  # the packed addresses, for the SYN queue's core calls
        self.tcp_input(src, dst, seg, ((frame[14] & 0x0F) << 4) | (frame[15] >> 4), scope, now,
                       sp, dp)

    def _parse(self, body: bytes, sp: bytes, dp: bytes) -> Any:
        """The segment checked under the pseudo-header of its family (the
        addresses packed), or a counted drop (``None``)."""
        try:
            return _core.tcp_input_parse(body, sp, dp)
        except TruncatedError:
            self.inc("tcps_rcvshort")
        except MalformedError as e:
            self.inc("tcps_rcvbadsum" if e.offset == 16 else
                     "tcps_rcvbadoff" if e.offset == 12 else "tcps_rcvbadopt")
        except KameError:
            self.inc("tcps_rcvbadopt")
        return None

    def tcp4_input(self, ifname: str, v: Any, pkt: bytes, now: float) -> None:
        """A TCP segment in an IPv4 datagram for one of our addresses (from
        ``ip_input`` of ``node.inet``; ``v`` its ``Ip4Validated``). Never
        to or from a broadcast or multicast address (RFC 9293 §3.9.2.1,
        RFC 1122 §4.2.3.10)."""
        self.inc("tcps_rcvtotal")
        src, dst = IPv4Address(v.src), IPv4Address(v.dst)
        inet = getattr(self.node, "inet", None)
        if dst.is_multicast or src.is_multicast or not int(src) or \
                int(src) == 0xFFFFFFFF or int(dst) == 0xFFFFFFFF or (
                    inet is not None and (inet.in_broadcast(dst, ifname)
                                          or inet.in_broadcast(src, ifname))):
            self.inc("tcps_rcvmcast")
            return
        sp, dp = pkt[12:16], pkt[16:20]
        seg = self._parse(pkt[v.header_len:v.total_len], sp, dp)
        if seg is None:
            return
        self.tcp_input(src, dst, seg, v.tos, 0, now, sp, dp)

    def tcp_input(self, src: Any, dst: Any, seg: Any, tclass: int, scope: int,
                  now: float, sp: bytes | None = None, dp: bytes | None = None) -> None:
        """Demultiplex a checked segment of either family (``sp``, ``dp``:
        its addresses packed, when the caller has them)."""
        if sp is None or dp is None:
            sp, dp = src.packed, dst.packed
        tp = self.conns.get((dp, seg.dst_port, sp, seg.src_port, scope))
        if tp is not None:
            if isinstance(tp, Tcptw):
                if not self.tcp_twcheck(tp, seg, now):
                    self.tcp_timewait_input(tp, seg, now)
                    return
                tp = None  # recycled: a new SYN goes on to the listener
            else:
                self.tcp_do_segment(tp, seg, tclass, now)
                return
        lso = self.listen_lookup(dst, seg.dst_port, scope, dp)
        if lso is not None:
            self.tcp_input_listen(lso, src, dst, seg, tclass, scope, now)
            return
        self.tcp_dropwithreset(src, dst, seg, now, scope=scope, noport=True)

    #: the listeners found in the current batch (``batch_begin``): no
    #: application runs inside a batch, so none listens or closes meanwhile
    _lmemo: dict[tuple[bytes, int, int], Any] | None = None

    def listen_lookup(self, laddr: Any, lport: int, scope: int,
                      lpacked: bytes | None = None) -> Any:
        """The listening socket for a SYN (``in_pcblookup`` with
        ``INPLOOKUP_WILDCARD``): asked of the sockets layer (remembered for
        the batch by the packed address, as the connection table)."""
        memo = self._lmemo
        if memo is not None:
            k = (lpacked if lpacked is not None else laddr.packed, lport, scope)
            try:
                return memo[k]
            except KeyError:
                pass
        so = getattr(self.node, "sockets", None)
        f = getattr(so, "tcp_listen_lookup", None)
        lso = f(laddr, lport, scope) if f is not None else None
        if memo is not None:
            memo[k] = lso
        return lso

    def tcp_dropwithreset(self, src: Any, dst: Any, seg: Any, now: float, *, scope: int = 0,
                          noport: bool = False) -> None:
        """RFC 9293 §3.10.7.1: a RST for a segment that matched nothing (never
        for a RST), limited to ``icmplim`` per second (``badport_bandlim``);
        ``blackhole`` 1 keeps quiet for SYNs, 2 for everything."""
        f = seg.flags
        if f & TH_RST:
            return
        if noport:
            self.inc("tcps_noport")
            bh = self._kv["net.inet.tcp.blackhole"]
            if bh == 2 or (bh == 1 and f & TH_SYN):
                return
        lim = self._kv["net.inet.tcp.icmplim"]
        sec = int(now)
        if sec != self._rst_sec:
            self._rst_sec, self._rst_cnt = sec, 0
        if lim >= 0 and self._rst_cnt >= lim:
            self.inc("tcps_rstratelimit")
            return
        self._rst_cnt += 1
        if f & TH_ACK:
            self.tcp_respond(dst, src, seg.dst_port, seg.src_port, seg.ack, 0, TH_RST, now,
                             scope=scope)
        else:
            n = len(seg.payload) + (1 if f & TH_SYN else 0) + (1 if f & TH_FIN else 0)
            self.tcp_respond(dst, src, seg.dst_port, seg.src_port, 0, seg.seq + n,
                             TH_RST | TH_ACK, now, scope=scope)

    def tcp_input_listen(self, lso: Any, src: Any, dst: Any, seg: Any, tclass: int, scope: int,
                         now: float) -> None:
        """A segment for a listener: a SYN into the SYN queue, the
        handshake's ACK out of it (``syncache_add``/``syncache_expand``)."""
        f = seg.flags
        if f & TH_RST:
            self.syncache.syncache_chkrst(dst, src, seg)
            return
        if f & TH_ACK:
            if f & TH_SYN:
                self.tcp_dropwithreset(src, dst, seg, now, scope=scope)
                return
            tp = self.syncache.syncache_expand(lso, dst, src, seg, now)
            if tp is None:
                if not lso.tcp_can_accept():
                    return  # accept queue full: the peer will retransmit
                self.tcp_dropwithreset(src, dst, seg, now, scope=scope)
                return
            tp.scope = scope
            if self.hdrpred and f & ~TH_PUSH == TH_ACK and not seg.payload and not seg.sack \
                    and seg.seq == tp.rcv_nxt & M32 \
                    and not tp.t_flags & (TF_ECN_PERMIT | TF_KEEPALIVE):
                # the handshake's bare ACK: syncache_expand took all it says
                # (the full path would find nothing to do, header prediction's view)
                self._sc["tcps_predack"] += 1
                return
            self.tcp_do_segment(tp, seg, tclass, now)
            return
        if not f & TH_SYN:
            self.inc("tcps_badsyn")
            return
        self.syncache.syncache_add(lso, dst, src, seg, tclass, scope, now)

    # --- TIME_WAIT (tcp_twcheck) ------------------------------------------------

    def tcp_twcheck(self, tp: Tcptw, seg: Any, now: float) -> bool:
        """TIME_WAIT: True when a new SYN may reuse the connection (its
        sequence number or timestamp is newer, RFC 6191); RSTs are ignored
        (RFC 1337); a retransmitted FIN is acknowledged and restarts 2MSL."""
        f = seg.flags
        seq = unwrap(tp.rcv_nxt, seg.seq)
        if f & TH_SYN and not f & TH_ACK:
            newer = seq > tp.rcv_nxt or (seg.ts is not None and tp.t_flags & TF_RCVD_TSTMP and
                                         ts_lt(tp.ts_recent, seg.ts[0]))
            if newer:
                self.inc("tcps_tw_recycles")
                self.tcp_close(tp)
                return True
        if f & TH_RST:
            return False
        return False

    # --- tcp_do_segment ------------------------------------------------------------

    def challenge_ack(self, tp: Tcpcb, now: float) -> None:
        """``tcp_send_challenge_ack``: at most ``ack_war_cnt`` per
        ``ack_war_timewindow`` and connection (RFC 5961 §7)."""
        win = self.kms("net.inet.tcp.ack_war_timewindow")
        cnt = self._kv["net.inet.tcp.ack_war_cnt"]
        if now - tp.t_ack_war_start >= win:
            tp.t_ack_war_start, tp.t_ack_war_cnt = now, 0
        if cnt and tp.t_ack_war_cnt >= cnt:
            self.inc("tcps_challenge_ack_limited")
            return
        tp.t_ack_war_cnt += 1
        self.inc("tcps_challenge_ack")
        tp.t_flags |= TF_ACKNOW
        self.tcp_output(tp, now)

    #: header prediction (:meth:`tcp_hdrpred`); False: every segment takes
    #: the whole of RFC 9293 §3.10.7.4 (the reference the tests compare with)
    hdrpred: bool = True

    def tcp_hdrpred(self, tp: Tcpcb, seg: Any, now: float) -> bool:
        """Header prediction (Van Jacobson's, FreeBSD ``tcp_do_segment``'s
        fast path): in ESTABLISHED, a segment with only ACK (and PSH) at
        exactly RCV.NXT, offering the same non-zero window, while nothing
        is being retransmitted (SND.NXT = SND.MAX), with no SACK blocks, an
        empty reassembly queue, no ECN, no recovery and a timestamp not
        older than TS.Recent, is a pure ACK of new data (``tcps_predack``)
        or pure in-order data that fits the window (``tcps_preddat``). It
        takes the steps the full path would take for it, without the
        checks that cannot fire. True when it handled the segment."""
        tf = tp.t_flags
        if tp.state != TCPS_ESTABLISHED or seg.flags & ~TH_PUSH != TH_ACK or \
                tf & (TF_ECN_PERMIT | TF_FASTRECOVERY | TF_NOSOCKET | TF_CANTRCVMORE) or \
                seg.seq != tp.rcv_nxt & M32 or tp.snd_nxt != tp.snd_max or seg.sack or \
                tp.rcv_fin_seq >= 0 or len(tp.reass):
            return False
        tiwin = seg.window << tp.snd_scale
        if not tiwin or tiwin != tp.snd_wnd:
            return False
        ts = seg.ts if tf & TF_RCVD_TSTMP else None
        if ts is not None and tp.ts_recent and ts_lt(ts[0], tp.ts_recent):
            return False  # PAWS: the full path decides
        data = seg.payload
        tlen = len(data)
        ack = unwrap(tp.snd_una, seg.ack)
        if tlen == 0:
            if not tp.snd_una < ack <= tp.snd_max:
                return False
        elif ack != tp.snd_una or tlen > self.rcv_window(tp):
            return False
        seq = tp.rcv_nxt
        if tf & TF_KEEPALIVE:
            self.keep_arm(tp, now)
        if ts is not None and seq <= tp.last_ack_sent <= seq + tlen:
            tp.ts_recent_age = now
            tp.ts_recent = ts[0]
        if tlen == 0:
            self._sc["tcps_predack"] += 1
            if not self.tcp_newack(tp, ack, seg, ts, now):
                return True
        else:
            self.inc("tcps_preddat")
            tp.t_dupacks = 0
        needoutput = tlen == 0
        if tp.snd_wl1 < seq or (tp.snd_wl1 == seq and tp.snd_wl2 < ack):
            tp.snd_wl1, tp.snd_wl2 = seq, ack
            tp.max_sndwnd = max(tp.max_sndwnd, tiwin)
            if self.timer_active(tp, TT_PERSIST):
                self.timer_stop(tp, TT_PERSIST)
                tp.t_rxtshift = 0
            needoutput = True
        if tlen:
            self.tcp_text(tp, seq, data, TH_ACK, now)
        if needoutput or tp.t_flags & TF_ACKNOW:
            if self._deferred is not None:
                self._deferred[id(tp)] = tp
            else:
                self.tcp_output(tp, now)
        return True

    def tcp_do_segment(self, tp: Tcpcb, seg: Any, tclass: int, now: float) -> None:
        f = seg.flags
        data = seg.payload
        tp.t_rcvtime = now
        tp.t_keepcnt = 0
        if self.hdrpred and tp.state == TCPS_ESTABLISHED and f & ~TH_PUSH == TH_ACK and \
                self.tcp_hdrpred(tp, seg, now):  # (its first test, before the call)
            return
        if tp.t_flags & TF_ECN_PERMIT:
            ecn = tclass & 3
            if ecn == 3:
                self.inc("tcps_ecn_ce")
                tp.t_flags |= TF_ECN_SND_ECE  # RFC 3168 §6.1.3
            elif ecn == 2:
                self.inc("tcps_ecn_ect0")
            elif ecn == 1:
                self.inc("tcps_ecn_ect1")
            if f & TH_CWR:
                tp.t_flags &= ~TF_ECN_SND_ECE
        if tp.state == TCPS_SYN_SENT:
            self.tcp_syn_sent(tp, seg, now)
            return
        if tp.t_flags & TF_KEEPALIVE:
            self.keep_arm(tp, now)
        tlen = len(data)
        tiwin = seg.window << tp.snd_scale
        rcv_nxt = tp.rcv_nxt
        seq = rcv_nxt + ((seg.seq - rcv_nxt + 0x80000000) & M32) - 0x80000000  # unwrap
        ts = seg.ts if tp.t_flags & TF_RCVD_TSTMP else None
        # PAWS (RFC 7323 §5.3)
        if ts is not None and not f & TH_RST and tp.ts_recent and \
                ((ts[0] - tp.ts_recent) & M32) >= 0x80000000:  # ts_lt(ts[0], ts_recent)
            if now - tp.ts_recent_age > TCP_PAWS_IDLE:
                tp.ts_recent = 0
            else:
                self.inc("tcps_rcvduppack")
                self.inc("tcps_rcvdupbyte", tlen)
                self.inc("tcps_pawsdrop")
                self.challenge_ack(tp, now)
                return
        rcv_wnd = self.rcv_window(tp)
        # RST (RFC 5961 §3.2)
        if f & TH_RST:
            if seq == tp.rcv_nxt or seq == tp.last_ack_sent:
                if tp.state == TCPS_SYN_RECEIVED:
                    tp.so_error = errno.ECONNREFUSED
                elif tp.state in (TCPS_ESTABLISHED, TCPS_FIN_WAIT_1, TCPS_FIN_WAIT_2,
                                  TCPS_CLOSE_WAIT):
                    tp.so_error = errno.ECONNRESET
                    self.inc("tcps_drops")
                self.tcp_close(tp)
            elif tp.rcv_nxt <= seq < tp.rcv_nxt + max(rcv_wnd, 1):
                self.inc("tcps_badrst")
                self.challenge_ack(tp, now)
            else:
                self.inc("tcps_rcvrstoutofwin")  # RFC 5961 §3.2: silently dropped
            return
        # SYN in a synchronized state (RFC 5961 §4)
        if f & TH_SYN and tp.state == TCPS_SYN_RECEIVED and seq == tp.irs:
            if not f & TH_ACK:
                tp.snd_nxt = tp.iss  # a retransmitted SYN: our SYN,ACK again
                self.tcp_output(tp, now)
                return
            f &= ~TH_SYN  # simultaneous open: the SYN,ACK's SYN is old news
            seq += 1
        if f & TH_SYN:
            self.inc("tcps_syn_inwin")
            self.inc("tcps_badsyn")
            self.challenge_ack(tp, now)
            return
        # trim what we already have (RFC 9293 §3.10.7.4, first check)
        todrop = tp.rcv_nxt - seq
        if todrop > 0:
            if todrop > tlen or (todrop == tlen and not f & TH_FIN):
                f &= ~TH_FIN
                tp.t_flags |= TF_ACKNOW
                self.inc("tcps_rcvduppack")
                self.inc("tcps_rcvdupbyte", tlen)
                todrop = tlen
            else:
                self.inc("tcps_rcvpartduppack")
                self.inc("tcps_rcvpartdupbyte", todrop)
            data = data[todrop:]
            seq += todrop
            tlen -= todrop
        # data for a socket that is gone (RFC 9293 §3.10.7.4, Linux and BSD: RST)
        if tp.t_flags & TF_NOSOCKET and tlen and tp.state > TCPS_CLOSE_WAIT:
            self.inc("tcps_rcvafterclose")
            self.tcp_drop(tp, errno.ECONNRESET, now)
            return
        # trim what lies beyond the window
        todrop = seq + tlen - (tp.rcv_nxt + rcv_wnd)
        if todrop > 0:
            self.inc("tcps_rcvpackafterwin")
            if todrop >= tlen:
                self.inc("tcps_rcvbyteafterwin", tlen)
                if rcv_wnd == 0 and seq == tp.rcv_nxt:
                    tp.t_flags |= TF_ACKNOW
                    self.inc("tcps_rcvwinprobe")
                else:
                    self.challenge_ack(tp, now)  # dropafterack, war-limited
                    return
            else:
                self.inc("tcps_rcvbyteafterwin", todrop)
            data = data[:max(tlen - todrop, 0)]
            tlen = len(data)
            f &= ~TH_FIN
        # TS.Recent (RFC 7323 §4.3)
        if ts is not None and seq <= tp.last_ack_sent <= seq + tlen + (1 if f & TH_FIN else 0):
            tp.ts_recent_age = now
            tp.ts_recent = ts[0]
        if not f & TH_ACK:
            if tp.t_flags & TF_ACKNOW:
                self.tcp_output(tp, now)
            return
        una = tp.snd_una
        ack = una + ((seg.ack - una + 0x80000000) & M32) - 0x80000000  # unwrap
        if tp.state == TCPS_SYN_RECEIVED:
            if not tp.snd_una < ack <= tp.snd_max:
                self.tcp_respond(tp.laddr, tp.faddr, tp.lport, tp.fport, ack, 0, TH_RST, now,
                                 scope=tp.scope, ext=tp.ext6)
                return
            self.inc("tcps_connects")
            tp.state = TCPS_FIN_WAIT_1 if tp.t_flags & TF_NEEDFIN else TCPS_ESTABLISHED
            tp.t_flags &= ~TF_NEEDFIN
            tp.snd_wnd = tiwin
            tp.snd_wl1, tp.snd_wl2 = seq - 1, ack
            if tp.so is not None:
                tp.so.tcp_connected(tp)
            self.timer_stop(tp, TT_KEEP)
            self.keep_arm(tp, now)
        # ACK acceptability (RFC 5961 §5.2)
        if ack > tp.snd_max:
            self.inc("tcps_rcvacktoomuch")
            self.challenge_ack(tp, now)
            return
        msw = tp.max_sndwnd
        if ack < tp.snd_una - (msw if msw > 1 else 1):  # max(max_sndwnd, 1)
            self.challenge_ack(tp, now)
            return
        needoutput = False
        if tp.t_flags & TF_SACK_PERMIT and seg.sack:
            self.inc("tcps_sack_rcv_blocks")
            sack_update(tp, list(seg.sack))
        if f & TH_ECE and tp.t_flags & TF_ECN_PERMIT and ack > tp.ecn_last_cwr:
            tp.t_flags &= ~TF_CONGRECOVERY
            tp.cc.cong_signal(tp, CC_ECN, now)  # RFC 3168 §6.1.2: once per window
            tp.ecn_last_cwr = tp.snd_max
            tp.t_flags |= TF_ECN_SND_CWR
            self.inc("tcps_ecn_rcwnd")
        if ack <= tp.snd_una:
            if ack == tp.snd_una and tlen == 0 and tiwin == tp.snd_wnd and \
                    tp.snd_max > tp.snd_una and not f & (TH_SYN | TH_FIN):
                self.inc("tcps_rcvdupack")
                self.tcp_dupack(tp, now)
            else:
                tp.t_dupacks = 0
        else:
            if not self.tcp_newack(tp, ack, seg, ts, now):
                return
            needoutput = True
        # window update (RFC 9293 §3.10.7.4, fifth check)
        if tp.snd_wl1 < seq or (tp.snd_wl1 == seq and (
                tp.snd_wl2 < ack or (tp.snd_wl2 == ack and tiwin > tp.snd_wnd))):
            if tlen == 0 and tp.snd_wl2 == ack and tiwin > tp.snd_wnd:
                self.inc("tcps_rcvwinupd")
            tp.snd_wnd = tiwin
            tp.snd_wl1, tp.snd_wl2 = seq, ack
            if tiwin > tp.max_sndwnd:  # max(max_sndwnd, tiwin)
                tp.max_sndwnd = tiwin
            if tiwin and self.timer_active(tp, TT_PERSIST):
                self.timer_stop(tp, TT_PERSIST)
                tp.t_rxtshift = 0
            needoutput = True
        # segment text (seventh check) and FIN (eighth)
        if tp.state not in _HAVERCVDFIN and (tlen or f & TH_FIN or tp.rcv_fin_seq >= 0):
            self.tcp_text(tp, seq, data, f, now)
        elif f & TH_FIN:
            tp.t_flags |= TF_ACKNOW  # a retransmitted FIN
        if needoutput or tp.t_flags & TF_ACKNOW:
            if self._deferred is not None:
                self._deferred[id(tp)] = tp  # once, at the end of the batch
            else:
                self.tcp_output(tp, now)

    # --- batches (one wakeup's frames) ---------------------------------------------

    def batch_begin(self) -> None:
        """Frames read at one wakeup follow (``Node.receive_many``): the
        output their segments ask for (ACKs, data the ACKs let out) waits for
        :meth:`batch_end`, so a burst is answered by one ACK per connection,
        as LRO and GRO make the BSD and Linux stacks do."""
        if self._deferred is None:
            self._deferred = {}
            self._lmemo = {}

    def batch_end(self, now: float) -> None:
        d, self._deferred = self._deferred, None
        self._lmemo = None
        for tp in (d or {}).values():
            if not tp.gone:
                self.tcp_output(tp, now)

    def tcp_text(self, tp: Tcpcb, seq: int, data: bytes, f: int, now: float) -> None:
        tlen = len(data)
        if tlen:
            if seq == tp.rcv_nxt and len(tp.reass) == 0:
                if self._kv["net.inet.tcp.delayed_ack"] and not tp.t_flags & TF_DELACK:
                    tp.t_flags |= TF_DELACK  # RFC 5681 §4.2: every second segment
                    self.timer_set(tp, TT_DELACK, now + self.kms("net.inet.tcp.delacktime"))
                else:
                    tp.t_flags |= TF_ACKNOW
                tp.rcv_nxt += tlen
                self.inc("tcps_rcvpack")
                self.inc("tcps_rcvbyte", tlen)
                if not tp.t_flags & TF_CANTRCVMORE:
                    tp.rcv.write(data)
                tp.delivered += tlen
            else:
                r = tp.reass.insert(seq, data, tp.rcv_nxt)
                if r < 0:
                    self.inc("tcps_rcvreassfull")
                    f &= ~TH_FIN
                elif seq > tp.rcv_nxt:
                    self.inc("tcps_rcvoopack")
                    self.inc("tcps_rcvoobyte", r)
                if f & TH_FIN and seq + tlen > tp.rcv_nxt:
                    tp.rcv_fin_seq = seq + tlen
                    f &= ~TH_FIN
                got = tp.reass.pull(tp.rcv_nxt)
                if got:
                    tp.rcv_nxt += len(got)
                    self.inc("tcps_rcvpack")
                    self.inc("tcps_rcvbyte", len(got))
                    if not tp.t_flags & TF_CANTRCVMORE:
                        tp.rcv.write(got)
                    tp.delivered += len(got)
                tp.t_flags |= TF_ACKNOW
        elif f & TH_FIN and seq > tp.rcv_nxt:
            tp.rcv_fin_seq = seq  # a FIN beyond a hole
            f &= ~TH_FIN
            tp.t_flags |= TF_ACKNOW
        fin = bool(f & TH_FIN) and seq + tlen == tp.rcv_nxt
        if not fin and tp.rcv_fin_seq >= 0 and tp.rcv_fin_seq == tp.rcv_nxt and len(tp.reass) == 0:
            fin = True
        if not fin:
            return
        tp.rcv_fin_seq = -1
        tp.rcv_nxt += 1
        tp.t_flags |= TF_ACKNOW
        if tp.state in (TCPS_SYN_RECEIVED, TCPS_ESTABLISHED):
            tp.state = TCPS_CLOSE_WAIT
        elif tp.state == TCPS_FIN_WAIT_1:
            tp.state = TCPS_CLOSING
        elif tp.state == TCPS_FIN_WAIT_2:
            self.tcp_output(tp, now)  # the ACK of the FIN first
            self.tcp_twstart(tp, now)
        if tp.so is not None:
            tp.so.tcp_cantrcvmore(tp)

    def tcp_timewait_input(self, tp: Tcptw, seg: Any, now: float) -> None:
        """A segment for a TIME_WAIT connection, from its :class:`Tcptw`:
        RSTs ignored (RFC 1337), a retransmitted FIN restarts 2MSL, a FIN,
        data or an old SYN gets the ACK of what we have, with the window
        last offered."""
        f = seg.flags
        if f & TH_RST:
            return  # RFC 1337
        if f & TH_FIN:
            self.tw_timer(tp, now)
        if f & TH_FIN or len(seg.payload) or f & TH_SYN:
            self.tcp_respond(tp.laddr, tp.faddr, tp.lport, tp.fport, tp.snd_nxt, tp.rcv_nxt,
                             TH_ACK, now, win=tp.tw_last_win, scope=tp.scope,
                             options=self.ts_option(tp, now), ext=tp.ext6)

    def tcp_dupack(self, tp: Tcpcb, now: float) -> None:
        """A duplicate ACK: limited transmit (RFC 3042), fast retransmit on
        the third or when SACK says the first segment is lost (RFC 6675
        §5), window inflation in NewReno recovery (RFC 6582)."""
        tp.t_dupacks += 1
        mss = tp.t_maxseg
        sack = bool(tp.t_flags & TF_SACK_PERMIT)
        if tp.t_flags & TF_FASTRECOVERY:
            if not sack:
                tp.snd_cwnd += mss
            self.tcp_output(tp, now)
            return
        if tp.t_dupacks >= 3 or (sack and sack_islost(tp)):
            if tp.snd_una < tp.snd_recover and tp.t_dupacks < 3:
                return
            tp.snd_recover = tp.snd_max
            tp.t_flags &= ~TF_CONGRECOVERY
            tp.cc.cong_signal(tp, CC_NDUPACK, now)
            self.timer_stop(tp, TT_REXMT)
            tp.t_rtttime = 0.0
            if sack:
                self.inc("tcps_sack_recovery_episode")
                tp.sack_rxmit_next = tp.snd_una
                tp.sack_bytes_rexmit = 0
                tp.snd_cwnd = tp.snd_ssthresh
                self.tcp_output(tp, now)
                return
            onxt = tp.snd_nxt
            tp.snd_nxt = tp.snd_una
            tp.snd_cwnd = mss
            self.tcp_output(tp, now)
            tp.snd_cwnd = tp.snd_ssthresh + mss * tp.t_dupacks
            tp.snd_nxt = max(onxt, tp.snd_nxt)
            return
        # limited transmit: one new segment per duplicate ACK (RFC 3042)
        oldcwnd = tp.snd_cwnd
        tp.snd_cwnd = (tp.snd_nxt - tp.snd_una) + tp.t_dupacks * mss
        self.tcp_output(tp, now)
        tp.snd_cwnd = oldcwnd

    def tcp_newack(self, tp: Tcpcb, ack: int, seg: Any, ts: Any, now: float) -> bool:
        """New data acknowledged; False when the connection ended here."""
        acked = ack - tp.snd_una
        mss = tp.t_maxseg
        if tp.t_flags & TF_FASTRECOVERY:
            if ack < tp.snd_recover:  # partial ACK
                if tp.t_flags & TF_SACK_PERMIT:
                    self.timer_stop(tp, TT_REXMT)
                else:  # RFC 6582 §3.2 step 5
                    self.timer_stop(tp, TT_REXMT)
                    tp.t_rtttime = 0.0
                    onxt, ocwnd = tp.snd_nxt, tp.snd_cwnd
                    una = tp.snd_una
                    self._ack_drop(tp, ack)
                    tp.snd_nxt = ack
                    tp.snd_cwnd = mss + acked
                    self.tcp_output(tp, now)
                    tp.snd_cwnd = ocwnd
                    tp.snd_nxt = max(onxt, tp.snd_nxt)
                    tp.snd_cwnd = max(tp.snd_cwnd - acked, 0) + mss
                    tp.snd_una = una  # the common path below moves it
            else:
                tp.cc.post_recovery(tp, now)
                tp.t_flags &= ~(TF_FASTRECOVERY | TF_CONGRECOVERY)
                tp.t_dupacks = 0
                tp.sack_bytes_rexmit = 0
        else:
            tp.t_dupacks = 0
        sc = self._sc
        sc["tcps_rcvackpack"] += 1
        sc["tcps_rcvackbyte"] += acked
        # RTT (RFC 7323 §4.1 with timestamps, else Karn's timed segment)
        if ts is not None and ts[1]:
            rtt = ((self.tcp_ts(tp, now) - ts[1]) & M32) / 1000.0
            if rtt < 600:
                self.tcp_xmit_timer(tp, rtt)
        elif tp.t_rtttime and ack > tp.t_rtseq:
            self.tcp_xmit_timer(tp, now - tp.t_rtttime)
        if ack == tp.snd_max:
            tp.timers[TT_REXMT] = None  # timer_stop
        elif tp.timers[TT_PERSIST] is None:
            self.timer_set(tp, TT_REXMT, now + tp.t_rxtcur)
        if not tp.t_flags & TF_FASTRECOVERY:
            tp.cc.ack_received(tp, CC_ACK, acked, now)
        fin_acked = self._ack_drop(tp, ack)
        tp.snd_una = ack
        if ack > tp.snd_nxt:  # max(snd_nxt, snd_una)
            tp.snd_nxt = ack
        if tp.sackhint_blocks:
            sack_clean(tp)
        elif tp.sack_rxmit_next < ack:
            tp.sack_rxmit_next = ack  # sack_clean of an empty scoreboard
        if tp.t_rxtshift:
            tp.t_rxtshift = 0
            tp.t_rxtcur = self.rexmtval(tp)
        if tp.so is not None:
            tp.so.tcp_writable(tp)
        if fin_acked:
            if tp.state == TCPS_FIN_WAIT_1:
                tp.state = TCPS_FIN_WAIT_2
                if tp.t_flags & TF_NOSOCKET:
                    self.timer_set(tp, TT_2MSL, now + self.kms("net.inet.tcp.finwait2_timeout"))
            elif tp.state == TCPS_CLOSING:
                self.tcp_twstart(tp, now)
                return False
            elif tp.state == TCPS_LAST_ACK:
                self.tcp_close(tp)
                return False
        return True

    @staticmethod
    def _ack_drop(tp: Tcpcb, ack: int) -> bool:
        """Drop the octets ``ack`` covers from so_snd; True when it covers
        our FIN."""
        end = tp.snd_buf_seq + len(tp.snd)  # tp.snd_end()
        n = (end if end < ack else ack) - tp.snd_buf_seq  # min(ack, end)
        if n > 0:
            tp.snd.drop_front(n)
            tp.snd_buf_seq += n
        return bool(tp.t_flags & TF_SENTFIN) and ack > end

    # --- SYN_SENT ------------------------------------------------------------------

    def tcp_dooptions_syn(self, tp: Tcpcb, seg: Any, now: float) -> None:
        """The options of a SYN or SYN,ACK (``tcp_dooptions`` + ``tcp_mss``)."""
        if seg.wscale is not None and tp.t_flags & TF_REQ_SCALE:
            tp.t_flags |= TF_RCVD_SCALE
            tp.snd_scale = min(seg.wscale, 14)
            tp.rcv_scale = tp.request_r_scale
        else:
            tp.snd_scale = tp.rcv_scale = 0
        if seg.ts is not None and tp.t_flags & TF_REQ_TSTMP:
            tp.t_flags |= TF_RCVD_TSTMP
            tp.ts_recent, tp.ts_recent_age = seg.ts[0], now
        if seg.sack_permitted and self._kv["net.inet.tcp.sack.enable"]:
            tp.t_flags |= TF_SACK_PERMIT
        self.tcp_mss(tp, seg.mss, now)

    def tcp_syn_sent(self, tp: Tcpcb, seg: Any, now: float) -> None:
        f = seg.flags
        ack = unwrap(tp.snd_una, seg.ack)
        if f & TH_ACK and (ack <= tp.iss or ack > tp.snd_max):
            if not f & TH_RST:
                self.tcp_respond(tp.laddr, tp.faddr, tp.lport, tp.fport, ack, 0, TH_RST, now,
                                 scope=tp.scope, ext=tp.ext6)
            return
        if f & TH_RST:
            if f & TH_ACK:
                self.tcp_drop(tp, errno.ECONNREFUSED, now)
            return
        if not f & TH_SYN:
            return
        tp.irs = seg.seq
        tp.rcv_nxt = tp.rcv_adv = tp.last_ack_sent = seg.seq + 1
        self.tcp_dooptions_syn(tp, seg, now)
        tp.cc.conn_init(tp, self._kv["net.inet.tcp.initcwnd_segments"])
        tp.snd_wnd = seg.window  # never scaled in a SYN (RFC 7323 §2.2)
        tp.max_sndwnd = tp.snd_wnd
        if f & TH_ACK:
            if f & TH_ECE and not f & TH_CWR and self._kv["net.inet.tcp.ecn.enable"] == 1:
                tp.t_flags |= TF_ECN_PERMIT
                self.inc("tcps_ecn_shs")
            if seg.ts is not None and seg.ts[1] and tp.t_flags & TF_RCVD_TSTMP:
                self.tcp_xmit_timer(tp, ((self.tcp_ts(tp, now) - seg.ts[1]) & M32) / 1000.0)
            elif tp.t_rtttime and tp.t_rxtshift == 0:
                self.tcp_xmit_timer(tp, now - tp.t_rtttime)
            tp.snd_una = ack
            tp.snd_wl1, tp.snd_wl2 = tp.rcv_nxt - 1, ack
            self.timer_stop(tp, TT_REXMT)
            self.timer_stop(tp, TT_KEEP)
            tp.t_rxtshift = 0
            tp.t_rxtcur = self.rexmtval(tp)
            self.inc("tcps_connects")
            tp.state = TCPS_FIN_WAIT_1 if tp.t_flags & TF_NEEDFIN else TCPS_ESTABLISHED
            tp.t_flags &= ~TF_NEEDFIN
            if tp.so is not None:
                tp.so.tcp_connected(tp)
            self.keep_arm(tp, now)
            tp.t_flags |= TF_ACKNOW
            data = seg.payload
            if data or f & TH_FIN:
                self.tcp_text(tp, tp.rcv_nxt, data[:self.rcv_window(tp)], f, now)
            self.tcp_output(tp, now)
            return
        # simultaneous open (RFC 9293 §3.5, figure 7)
        tp.state = TCPS_SYN_RECEIVED
        self.timer_stop(tp, TT_REXMT)
        tp.snd_nxt = tp.iss
        tp.t_flags |= TF_ACKNOW
        self.tcp_output(tp, now)

    # --- ICMPv6 errors --------------------------------------------------------------

    def tcp6_ctlinput(self, err: Any, inv: bytes, now: float) -> None:
        """``tcp6_ctlinput``: an ICMPv6 error quoting one of our segments."""
        if len(inv) < 48 or inv[6] != 6:
            return
        sport = int.from_bytes(inv[40:42], "big")
        dport = int.from_bytes(inv[42:44], "big")
        wseq = int.from_bytes(inv[44:48], "big")
        src, dst = IPv6Address(inv[8:24]), IPv6Address(inv[24:40])
        scope = 0
        node = self.node
        if inv[24] == 0xFE and inv[25] & 0xC0 == 0x80 and node is not None:
            ifp = node.ifnets.get(getattr(err, "ifname", None))  # a link-local peer's zone
            scope = int(ifp.index) if ifp is not None else 0
        self._ctlinput(src, sport, dst, dport, wseq, err.type == 1, err.type == 2,
                       _ICMP6_SOFT.get((err.type, err.code)), now, inv[8:24], inv[24:40], scope)

    def tcp6_pmtu_ignored(self, inv: bytes, ifname: str) -> bool:
        """Whether the connection a Packet Too Big quotes (``inv``) ignores
        it (:meth:`_pmtu_taken`): Linux's ``tcp_v6_err`` then leaves the
        route's MTU as it was, so the node's path MTU is not lowered."""
        if len(inv) < 48 or inv[6] != 6:
            return False
        scope = 0
        node = self.node
        if inv[24] == 0xFE and inv[25] & 0xC0 == 0x80 and node is not None:
            ifp = node.ifnets.get(ifname)
            scope = int(ifp.index) if ifp is not None else 0
        tp = self.conns.get((inv[8:24], int.from_bytes(inv[40:42], "big"), inv[24:40],
                             int.from_bytes(inv[42:44], "big"), scope))
        return isinstance(tp, Tcpcb) and not self._pmtu_taken(tp)

    def tcp_ctlinput(self, icmp_type: int, code: int, rest: int, inv: bytes, now: float) -> None:
        """``tcp_ctlinput``: an ICMPv4 error quoting one of our segments
        (``inv``: the IPv4 header and at least 8 octets of TCP). ``node.inet``
        has already lowered the path MTU for a Fragmentation Needed."""
        if len(inv) < 20:
            return
        hl = (inv[0] & 0x0F) * 4
        if inv[9] != IPPROTO_TCP or hl < 20 or len(inv) < hl + 8:
            return
        sport = int.from_bytes(inv[hl:hl + 2], "big")
        dport = int.from_bytes(inv[hl + 2:hl + 4], "big")
        wseq = int.from_bytes(inv[hl + 4:hl + 8], "big")
        src, dst = IPv4Address(inv[12:16]), IPv4Address(inv[16:20])
        self._ctlinput(src, sport, dst, dport, wseq, icmp_type == 3,
                       icmp_type == 3 and code == 4, _ICMP_SOFT.get((icmp_type, code)), now,
                       inv[12:16], inv[16:20], 0)

    def _ctlinput(self, src: Any, sport: int, dst: Any, dport: int, wseq: int, unreach: bool,
                  toobig: bool, e: int | None, now: float, sp: bytes, dp: bytes,
                  scope: int) -> None:
        """What both families' errors do to the connection they quote (its
        addresses packed and its zone: the table's key)."""
        tp = self.conns.get((sp, sport, dp, dport, scope))
        if isinstance(tp, Tcptw):
            return  # TIME_WAIT has nothing in flight (FreeBSD: INP_TIMEWAIT)
        if tp is None:
            if unreach and not toobig:
                self.syncache.syncache_unreach(src, sport, dst, dport, wseq)
            return
        seq = unwrap(tp.snd_una, wseq)
        if not tp.snd_una <= seq < max(tp.snd_max, tp.snd_una + 1):
            return  # RFC 5927 §4.1: not a segment in flight
        if toobig:
            if not self._pmtu_taken(tp):
                return
            self.tcp_mtudisc(tp, now)
            return
        if e is None:
            return
        if tp.state == TCPS_SYN_SENT and e == errno.ECONNREFUSED and \
                self._kv["net.inet.tcp.icmp_may_rst"]:
            self.tcp_drop(tp, e, now)
            return
        self.inc("tcps_softerror")  # RFC 5461: soft, reported if the connection dies
        tp.t_softerror = e
        if tp.state < TCPS_ESTABLISHED and tp.t_rxtshift > 3:
            self.tcp_drop(tp, e, now)

    @staticmethod
    def _pmtu_taken(tp: Tcpcb) -> bool:
        """Whether a Packet Too Big / Fragmentation Needed shrinks the
        connection's segments: Linux's ``tcp_v6_err`` ignores it for a
        socket of ``IPV6_PMTUDISC_INTERFACE`` or ``_OMIT``
        (``ip6_sk_accept_pmtu``), ``tcp_v4_mtu_reduced`` for one of
        ``IP_PMTUDISC_DONT`` (its segments carry no DF: a router fragments
        them); the option is the Linux profile's only."""
        so = tp.so
        prof = getattr(so, "profile", None)
        if prof is None or prof.name != "linux":
            return True
        if isinstance(tp.faddr, IPv6Address):
            return so.opts.get(IPV6_MTU_DISCOVER, 1) not in (4, 5)
        return so.ipopts.get(IP_MTU_DISCOVER, 1) != 0

    def tcp_mtudisc(self, tp: Tcpcb, now: float) -> None:
        """RFC 8201 §5.2: the node learnt a smaller path MTU; resend what is
        in flight in the smaller segments."""
        old = tp.t_maxopd
        self.tcp_mss(tp, tp.peer_mss or None, now)
        if tp.t_maxopd < old:
            self.inc("tcps_mturesent")
            tp.snd_nxt = tp.snd_una
            tp.t_rtttime = 0.0
            tp.sackhint_blocks = []
            self.tcp_output(tp, now)

