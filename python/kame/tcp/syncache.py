"""``tcp_syncache.c``: the SYN queue of every listener, bounded by
``net.inet.tcp.syncache.cachelimit``, and SYN cookies beyond it (or for
every SYN with ``syncookies_only``).

An entry holds what the SYN said (initial sequence, MSS, window scale,
SACK-permitted, timestamp, ECN) and our SYN,ACK's initial sequence; the
SYN,ACK is sent again after 1, 2 and 4 s, then the entry is dropped. The
ACK that completes the handshake turns the entry into an ESTABLISHED
connection queued on the listener (``sonewconn``); a full accept queue
drops the ACK (``tcps_listendrop``) and keeps the entry, so the peer's
retransmission completes later.

A cookie is the SYN,ACK's initial sequence number: 24 bits of a keyed
SHA-256 over the connection's addresses, ports, the peer's initial
sequence and a 64 s time slot, then 3 bits of MSS index, 4 bits of the
peer's window scale (15 = none) and one bit of SACK-permitted. The ACK's
acknowledgment number minus one must verify for the current or the
previous slot; timestamps are on when the ACK carries them.
"""

from __future__ import annotations

import hashlib
import heapq
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from typing import TYPE_CHECKING, Any

from kame import _core
from kame.tcp.var import (
    M32,
    TCPS_ESTABLISHED,
    TF_ECN_PERMIT,
    TF_KEEPALIVE,
    TF_RCVD_SCALE,
    TF_RCVD_TSTMP,
    TF_REQ_SCALE,
    TF_REQ_TSTMP,
    TF_SACK_PERMIT,
    TH_ACK,
    TH_CWR,
    TH_ECE,
    TH_SYN,
    TT_KEEP,
    Tcpcb,
)

if TYPE_CHECKING:
    from kame.tcp.usrreq import Tcp

#: SYN,ACK retransmissions (FreeBSD SYNCACHE_MAXREXMTS).
SYNCACHE_MAXREXMTS = 3
#: MSS values a cookie can carry (3 bits).
COOKIE_MSS = (216, 536, 1200, 1220, 1360, 1400, 1440, 1460)
COOKIE_SLOT = 64.0


@dataclass(eq=False, slots=True)
class SynEntry:
    """``struct syncache``."""

    laddr: Any
    lport: int
    faddr: Any
    fport: int
    scope: int
    irs: int
    iss: int
    peer_mss: int | None
    wscale: int | None
    sack_ok: bool
    ts: int | None
    ecn_ok: bool
    lso: Any
    sent: float
    rexmits: int = 0
    gone: bool = False
    #: the timestamp offset of the connection (computed once, for the
    #: SYN,ACK and again for the connection it becomes); -1 not yet
    ts_off: int = -1
    timers: dict[str, float | None] = field(default_factory=lambda: {"synack": None})


class SynCache:
    """The bounded SYN queue of one node's TCP."""

    def __init__(self, tcp: Tcp) -> None:
        self.tcp = tcp
        self.entries: dict[tuple[Any, int, Any, int], SynEntry] = {}
        self._secret = tcp._secret

    def __len__(self) -> int:
        return len(self.entries)

    # --- helpers -----------------------------------------------------------------

    def _ts_offset(self, laddr: Any, lport: int, faddr: Any, fport: int) -> int:
        h = hashlib.sha256(b"ts" + self._secret + laddr.packed + faddr.packed
                           + lport.to_bytes(2, "big") + fport.to_bytes(2, "big")).digest()
        return int.from_bytes(h[:4], "big")

    def _mac(self, laddr: Any, lport: int, faddr: Any, fport: int, irs: int, slot: int) -> int:
        h = hashlib.sha256(b"ck" + self._secret + slot.to_bytes(8, "big", signed=True)
                           + laddr.packed + faddr.packed + lport.to_bytes(2, "big")
                           + fport.to_bytes(2, "big") + (irs & M32).to_bytes(4, "big")).digest()
        return int.from_bytes(h[:3], "big")

    def cookie(self, laddr: Any, lport: int, faddr: Any, fport: int, irs: int, mss: int | None,
               wscale: int | None, sack: bool, now: float) -> int:
        idx = max([i for i, m in enumerate(COOKIE_MSS) if m <= (mss or 536)] or [0])
        ws = 15 if wscale is None else min(wscale, 14)
        mac = self._mac(laddr, lport, faddr, fport, irs, int(now // COOKIE_SLOT))
        return (mac << 8) | (idx << 5) | (ws << 1) | int(sack)

    def cookie_check(self, laddr: Any, lport: int, faddr: Any, fport: int, irs: int, iss: int,
                     now: float) -> tuple[int, int | None, bool] | None:
        """(mss, wscale, sack) when ``iss`` is a cookie we made, else None."""
        slot = int(now // COOKIE_SLOT)
        for s in (slot, slot - 1):
            if self._mac(laddr, lport, faddr, fport, irs, s) == iss >> 8:
                ws = (iss >> 1) & 0x0F
                return COOKIE_MSS[(iss >> 5) & 7], (None if ws == 15 else ws), bool(iss & 1)
        return None

    # --- SYN in ------------------------------------------------------------------

    def syncache_add(self, lso: Any, laddr: Any, faddr: Any, seg: Any, tclass: int, scope: int,
                     now: float) -> None:
        tcp = self.tcp
        kv = tcp.knobs
        key = (laddr, seg.dst_port, faddr, seg.src_port)
        ent = self.entries.get(key)
        ecn_ok = bool(seg.flags & TH_ECE and seg.flags & TH_CWR and kv["net.inet.tcp.ecn.enable"])
        ts = seg.ts[0] if seg.ts is not None and kv["net.inet.tcp.rfc1323"] in (1, 3) else None
        ws = seg.wscale if kv["net.inet.tcp.rfc1323"] in (1, 2) else None
        sack = seg.sack_permitted and bool(kv["net.inet.tcp.sack.enable"])
        if ent is not None:
            tcp.inc("tcps_sc_dupsyn")
            if ent.irs == seg.seq:
                self.syncache_respond(ent, now)
                return
            self._remove(ent)
        if kv["net.inet.tcp.syncookies_only"] or len(self.entries) >= \
                kv["net.inet.tcp.syncache.cachelimit"]:
            if not kv["net.inet.tcp.syncookies"] and not kv["net.inet.tcp.syncookies_only"]:
                tcp.inc("tcps_sc_cacheoverflow")
                tcp.inc("tcps_sc_dropped")
                return
            if not kv["net.inet.tcp.syncookies_only"]:
                tcp.inc("tcps_sc_cacheoverflow")
            iss = self.cookie(laddr, seg.dst_port, faddr, seg.src_port, seg.seq, seg.mss, ws, sack,
                              now)
            tcp.inc("tcps_sc_sendcookie")
            self.syncache_respond(SynEntry(laddr, seg.dst_port, faddr, seg.src_port, scope,
                                           seg.seq, iss, seg.mss, ws, sack, ts, False, lso, now),
                                  now)
            return
        iss = tcp.tcp_iss(laddr, seg.dst_port, faddr, seg.src_port, now)
        ent = SynEntry(laddr, seg.dst_port, faddr, seg.src_port, scope, seg.seq, iss, seg.mss, ws,
                       sack, ts, ecn_ok, lso, now)
        self.entries[key] = ent
        tcp.inc("tcps_sc_added")
        self.syncache_respond(ent, now)
        self._arm(ent, now + tcp.kms("net.inet.tcp.rexmit_initial"))

    def _arm(self, ent: SynEntry, when: float) -> None:
        ent.timers["synack"] = when
        tcp = self.tcp
        tcp._hseq += 1
        heapq.heappush(tcp._heap, (when, tcp._hseq, ent, "synack"))  # type: ignore[arg-type,misc]
        tcp.gate.arm(when)

    def _remove(self, ent: SynEntry) -> None:
        ent.gone = True
        ent.timers["synack"] = None
        if self.entries.get((ent.laddr, ent.lport, ent.faddr, ent.fport)) is ent:
            del self.entries[(ent.laddr, ent.lport, ent.faddr, ent.fport)]

    def syncache_respond(self, ent: SynEntry, now: float) -> None:
        """The SYN,ACK: MSS, and each option the SYN offered and we allow."""
        tcp = self.tcp
        lso = ent.lso
        rcvbuf = getattr(lso, "rcvbuf", 0) or tcp.knobs["net.inet.tcp.recvspace"]
        tsopt = None
        if ent.ts is not None:
            if ent.ts_off < 0:
                ent.ts_off = self._ts_offset(ent.laddr, ent.lport, ent.faddr, ent.fport)
            tsval = (int(now * 1000) + ent.ts_off) & M32
            tsopt = (tsval, ent.ts)
        mss = tcp.mssopt_for(ent.faddr, ent.scope, now)
        ext = synext(lso, ent.faddr)
        if ext is not None:
            mss -= len(ext[0])  # room for the listener's extension headers
        opts = _core.tcp_options(mss, tcp.rcv_wscale(rcvbuf) if ent.wscale is not None else None,
                                 ent.sack_ok, tsopt)
        flags = TH_SYN | TH_ACK | (TH_ECE if ent.ecn_ok else 0)
        tcp.inc("tcps_sndtotal")
        tcp.inc("tcps_sndctrl")
        hlim, tclass = synttl(lso, ent.faddr)
        tcp.ip_output(ent.laddr, ent.faddr, ent.lport, ent.fport, ent.iss & M32,
                      (ent.irs + 1) & M32, flags, min(rcvbuf, 0xFFFF), opts, b"", now,
                      scope=ent.scope, hlim=hlim, tclass=tclass, ext=ext)

    def timer(self, ent: SynEntry, now: float) -> None:
        if ent.gone:
            return
        ent.timers["synack"] = None
        if ent.rexmits >= SYNCACHE_MAXREXMTS:
            self.tcp.inc("tcps_sc_stale")
            self._remove(ent)
            return
        ent.rexmits += 1
        self.tcp.inc("tcps_sc_retransmitted")
        self.syncache_respond(ent, now)
        self._arm(ent, now + self.tcp.kms("net.inet.tcp.rexmit_initial") * (1 << ent.rexmits))

    def syncache_chkrst(self, laddr: Any, faddr: Any, seg: Any) -> None:
        """A RST for an entry: only one with exactly the expected sequence
        number removes it (RFC 5961 §3)."""
        ent = self.entries.get((laddr, seg.dst_port, faddr, seg.src_port))
        if ent is not None and seg.seq == (ent.irs + 1) & M32:
            self.tcp.inc("tcps_sc_reset")
            self._remove(ent)

    def syncache_unreach(self, laddr: Any, lport: int, faddr: Any, fport: int, seq: int) -> None:
        ent = self.entries.get((laddr, lport, faddr, fport))
        if ent is not None and seq == ent.iss & M32:
            self.tcp.inc("tcps_sc_unreach")
            self._remove(ent)

    # --- the handshake's ACK ---------------------------------------------------------

    def syncache_expand(self, lso: Any, laddr: Any, faddr: Any, seg: Any, now: float
                        ) -> Tcpcb | None:
        """The third segment: a new ESTABLISHED connection on the listener's
        accept queue, or None (no entry and no valid cookie: the caller
        answers RST; a full accept queue: dropped, counted)."""
        tcp = self.tcp
        key = (laddr, seg.dst_port, faddr, seg.src_port)
        ent = self.entries.get(key)
        if ent is not None:
            rcvbuf = getattr(lso, "rcvbuf", 0) or tcp.knobs["net.inet.tcp.recvspace"]
            if seg.ack != (ent.iss + 1) & M32 or not 0 < (seg.seq - ent.irs) & M32 <= \
                    min(rcvbuf, 0xFFFF):  # the handshake's ACK may be lost: data in the window
                tcp.inc("tcps_sc_badack")
                return None
            mss, ws, sack, ts, ecn = ent.peer_mss, ent.wscale, ent.sack_ok, ent.ts, ent.ecn_ok
            iss, irs = ent.iss, ent.irs
        else:
            if not tcp.knobs["net.inet.tcp.syncookies"] and \
                    not tcp.knobs["net.inet.tcp.syncookies_only"]:
                return None
            iss, irs = (seg.ack - 1) & M32, (seg.seq - 1) & M32
            ck = self.cookie_check(laddr, seg.dst_port, faddr, seg.src_port, irs, iss, now)
            if ck is None:
                tcp.inc("tcps_sc_badack")
                return None
            tcp.inc("tcps_sc_recvcookie")
            mss, ws, sack = ck
            ts = seg.ts[0] if seg.ts is not None else None
            ecn = False
        if not lso.tcp_can_accept():
            tcp.inc("tcps_listendrop")
            return None
        ts_off = ent.ts_off if ent is not None and ent.ts_off >= 0 else None
        rtt_from = ent.sent if ent is not None and ent.rexmits == 0 else None
        scope = ent.scope if ent is not None else 0
        if ent is not None:
            self._remove(ent)
        return syncache_establish(tcp, lso, laddr, faddr, seg, now, iss, irs, mss, ws, sack, ts,
                                  ecn, scope, rtt_from, ts_off)

    # --- the timer queue (the node's heap holds this queue's timers) ---------------

    def next_deadline(self) -> float | None:
        return None

    def poll(self, now: float) -> None:
        pass


def syncache_establish(tcp: Tcp, lso: Any, laddr: Any, faddr: Any, seg: Any, now: float,
                       iss: int, irs: int, mss: int | None, ws: int | None, sack: bool,
                       ts: int | None, ecn: bool, scope: int, rtt_from: float | None,
                       ts_off: int | None, packed: tuple[bytes, bytes] | None = None) -> Tcpcb:
    """The second half of ``syncache_expand``: the ESTABLISHED connection
    a completed handshake makes, on the listener's accept queue (both SYN
    queues, the Python one and the core's, end here). ``packed``: the two
    addresses packed, when the caller has them."""
    tp = tcp.newtcpcb(laddr, seg.dst_port, faddr, seg.src_port, now, template=lso, scope=scope,
                      packed=packed)
    tp.iss = iss
    tp.snd_una = tp.snd_nxt = tp.snd_max = iss + 1
    tp.snd_buf_seq = iss + 1
    tp.irs = irs
    tp.rcv_nxt = tp.rcv_adv = tp.last_ack_sent = irs + 1
    if ws is not None and tp.t_flags & TF_REQ_SCALE:
        tp.t_flags |= TF_RCVD_SCALE
        tp.snd_scale = 14 if 14 < ws else ws  # min(ws, 14)
        tp.rcv_scale = tp.request_r_scale
    if ts is not None and tp.t_flags & TF_REQ_TSTMP:
        tp.t_flags |= TF_RCVD_TSTMP
        tp.ts_recent = seg.ts[0] if seg.ts is not None else ts
        tp.ts_recent_age = now
        tp.ts_offset = ts_off if ts_off is not None else \
            _ts_offset(tcp._secret, laddr, seg.dst_port, faddr, seg.src_port)
    if sack:
        tp.t_flags |= TF_SACK_PERMIT
    if ecn:
        tp.t_flags |= TF_ECN_PERMIT
        tcp.inc("tcps_ecn_shs")
    tcp.tcp_mss(tp, mss, now)
    tp.cc.conn_init(tp, tcp.knobs["net.inet.tcp.initcwnd_segments"])
    tp.snd_wnd = seg.window << tp.snd_scale
    tp.snd_wl1, tp.snd_wl2 = irs + 1, iss + 1
    tp.max_sndwnd = tp.snd_wnd
    if rtt_from is not None:
        tcp.tcp_xmit_timer(tp, now - rtt_from)
    tp.state = TCPS_ESTABLISHED
    tcp.conns[tp.key] = tp
    sc = tcp._sc
    sc["tcps_sc_completed"] += 1
    sc["tcps_accepts"] += 1
    sc["tcps_connects"] += 1
    tp.timers[TT_KEEP] = None
    lso.sonewconn(tp)
    if tp.t_flags & TF_KEEPALIVE:
        tcp.keep_arm(tp, now)
    return tp


def synext(lso: Any, faddr: Any) -> tuple[bytes, int, Any] | None:
    """The listener's sticky extension headers for a SYN,ACK to ``faddr``
    (KAME's ``syncache_respond`` sends with the listener's
    ``in6p_outputopts``); None when it has none."""
    f = getattr(lso, "tcp_synext", None)
    return None if f is None else f(faddr)  # type: ignore[no-any-return]


def synttl(lso: Any, faddr: Any) -> tuple[int | None, int]:
    """The listener's hop limit (TTL) and traffic class (TOS, the ECN bits
    left out: a SYN,ACK is not ECN-capable, RFC 3168 §6.1.1) for a SYN,ACK
    to ``faddr``."""
    f = getattr(lso, "tcp_synttl", None)
    if f is None:
        return getattr(lso, "tcp_hlim", None), 0
    hlim, tclass = f(faddr)
    return hlim, tclass & 0xFC


def _ts_offset(secret: bytes, laddr: Any, lport: int, faddr: Any, fport: int) -> int:
    h = hashlib.sha256(b"ts" + secret + laddr.packed + faddr.packed
                       + lport.to_bytes(2, "big") + fport.to_bytes(2, "big")).digest()
    return int.from_bytes(h[:4], "big")


def _addr(packed: bytes) -> IPv6Address | IPv4Address:
    return IPv6Address(packed) if len(packed) == 16 else IPv4Address(packed)


class FastSynCache:
    """The SYN queue in the core (``_core.TcpSynCache``): one call per SYN
    (lookup on the packed addresses and ports, the ISN, the SYN,ACK built
    and checksummed, cookies beyond the bound) and one per handshake's ACK.
    Its hashes, counters, replies and connections are :class:`SynCache`'s
    (tests/test_tcp_fastpath.py holds them side by side); its SYN,ACK
    retransmissions run on its own timer queue (:meth:`next_deadline`,
    :meth:`poll`)."""

    def __init__(self, tcp: Tcp) -> None:
        self.tcp = tcp
        self.core = _core.TcpSynCache(tcp._secret)
        #: the policy tuple of ``core.add`` and the knobs' generation it was read at
        self._pol: tuple[int | None, Any] = (None, None)

    def __len__(self) -> int:
        return len(self.core)

    def _kv(self) -> Any:
        kv = self.tcp.knobs
        return getattr(kv, "_values", kv)

    def syncache_add(self, lso: Any, laddr: Any, faddr: Any, seg: Any, tclass: int, scope: int,
                     now: float) -> None:
        tcp = self.tcp
        kv = self._kv()
        rcvbuf = getattr(lso, "rcvbuf", 0) or kv["net.inet.tcp.recvspace"]
        mss = tcp.mssopt_for(faddr, scope, now)
        ext = synext(lso, faddr)
        if ext is not None:
            mss -= len(ext[0])  # room for the listener's extension headers
        gen = getattr(tcp.knobs, "gen", None)
        pc = self._pol
        if gen is not None and pc[0] == gen:
            pol = pc[1]  # the knobs have not changed since the last SYN
        else:
            pol = (kv["net.inet.tcp.rfc1323"], bool(kv["net.inet.tcp.sack.enable"]),
                   bool(kv["net.inet.tcp.ecn.enable"]), bool(kv["net.inet.tcp.syncookies"]),
                   bool(kv["net.inet.tcp.syncookies_only"]),
                   max(int(kv["net.inet.tcp.syncache.cachelimit"]), 0),
                   float(kv["net.inet.tcp.rexmit_initial"]) / 1000.0)
            self._pol = (gen, pol)
        lp, fp = tcp.packed_of(laddr, faddr)
        code, synack = self.core.add(lp, fp, seg, scope, mss, rcvbuf, lso, pol, now)
        sc = tcp._sc
        what = code & 3
        if what:  # queued (or a cookie sent): a SYN,ACK may be due again
            tcp.gate.arm(self.core.next_deadline())
        if code & 4 or what == 2:
            sc["tcps_sc_dupsyn"] += 1
        if code & 8:
            sc["tcps_sc_cacheoverflow"] += 1
        if what == 0:
            sc["tcps_sc_dropped"] += 1
        elif what == 1:
            sc["tcps_sc_added"] += 1
        elif what == 3:
            sc["tcps_sc_sendcookie"] += 1
        if synack is not None:
            sc["tcps_sndtotal"] += 1
            sc["tcps_sndctrl"] += 1
            hlim, tclass = synttl(lso, faddr)
            tcp.ip_output_seg(laddr, faddr, synack, now, scope=scope, hlim=hlim, tclass=tclass,
                              ext=ext, packed=(lp, fp))

    def syncache_chkrst(self, laddr: Any, faddr: Any, seg: Any) -> None:
        if self.core.chkrst(laddr.packed, seg.dst_port, faddr.packed, seg.src_port, seg.seq):
            self.tcp.inc("tcps_sc_reset")

    def syncache_unreach(self, laddr: Any, lport: int, faddr: Any, fport: int, seq: int) -> None:
        if self.core.unreach(laddr.packed, lport, faddr.packed, fport, seq & M32):
            self.tcp.inc("tcps_sc_unreach")

    def syncache_expand(self, lso: Any, laddr: Any, faddr: Any, seg: Any, now: float
                        ) -> Tcpcb | None:
        tcp = self.tcp
        kv = self._kv()
        rcvbuf = getattr(lso, "rcvbuf", 0) or kv["net.inet.tcp.recvspace"]
        cookies = bool(kv["net.inet.tcp.syncookies"] or kv["net.inet.tcp.syncookies_only"])
        lp, fp = tcp.packed_of(laddr, faddr)
        code, d = self.core.expand(lp, fp, seg, rcvbuf, bool(lso.tcp_can_accept()), cookies, now)
        if code == 4 and d is not None:
            iss, irs, mss, ws, sack, ts, ecn, scope, rtt_from, ts_off, cookie, _ = d
            if cookie:
                tcp.inc("tcps_sc_recvcookie")
            return syncache_establish(tcp, lso, laddr, faddr, seg, now, iss, irs, mss, ws, sack,
                                      ts, ecn, scope, rtt_from, ts_off, (lp, fp))
        if code == 1:
            tcp.inc("tcps_sc_badack")
        elif code >= 2:
            if code == 3:
                tcp.inc("tcps_sc_recvcookie")
            tcp.inc("tcps_listendrop")
        return None

    def next_deadline(self) -> float | None:
        return self.core.next_deadline()  # type: ignore[no-any-return]

    def poll(self, now: float) -> None:
        """The SYN,ACKs due again (after 1, 2, 4 s), and the entries whose
        last one went unanswered (``tcps_sc_stale``)."""
        d = self.core.next_deadline()
        if d is None or d > now:
            return
        tcp = self.tcp
        out, stale = self.core.expire(now, tcp.kms("net.inet.tcp.rexmit_initial"))
        if stale:
            tcp.inc("tcps_sc_stale", stale)
        for la, _lport, fa, _fport, scope, lso, synack in out:
            tcp.inc("tcps_sc_retransmitted")
            tcp.inc("tcps_sndtotal")
            tcp.inc("tcps_sndctrl")
            faddr = _addr(fa)
            hlim, tclass = synttl(lso, faddr)
            tcp.ip_output_seg(_addr(la), faddr, synack, now, scope=scope, hlim=hlim,
                              tclass=tclass, ext=synext(lso, faddr))
