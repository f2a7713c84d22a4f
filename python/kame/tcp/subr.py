"""``tcp_subr.c``: a new control block (``tcp_newtcpcb``), initial sequence
numbers (RFC 6528), the MSS (``tcp_mss``, RFC 8201 path MTU, RFC 2675
jumbograms), ``tcp_respond`` (a bare ACK or RST), ``tcp_close`` and
``tcp_drop``, the timer queue, and the IP output hook that keeps the rest
of TCP independent of the address family."""

from __future__ import annotations

import errno
import hashlib
import heapq
import struct
from collections import deque
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from kame import _core
from kame.addr import is_linklocal
from kame.gate import Gate
from kame.tcp.cc import CC_NAMES, cc_algo
from kame.tcp.var import (
    M32,
    TCP_BACKOFF,
    TCPOLEN_TSTAMP_APPA,
    TCPS_CLOSED,
    TCPS_SYN_RECEIVED,
    TF2_PLPMTU_PMTUD,
    TF_RCVD_TSTMP,
    TF_REQ_SCALE,
    TF_REQ_TSTMP,
    TH_ACK,
    TH_RST,
    TIMERS,
    ConnKey,
    Tcpcb,
    Tcptw,
    haveestablished,
    new_buffers,
)

Addr = IPv6Address | IPv4Address

#: IPv6 + TCP headers (RFC 2675 §5: MSS = path MTU - 60).
HDR6 = 60
HDR4 = 40
#: the Hop-by-Hop header carrying a Jumbo Payload option (RFC 2675 §2)
JUMBO_HBH = 8
IPPROTO_TCP = 6
#: (kame) bits above the TOS octet an IPv4 segment's ``tos`` carries to
#: :meth:`Tcp.in_tcp_output`: the socket chose its DF (Linux's
#: ``IP_MTU_DISCOVER``), and DF is to be set (``ip_dont_fragment``: WANT
#: and DO); without the first, ``net.inet.tcp.path_mtu_discovery`` decides
TOS_PMTUDISC, TOS_DF = 0x100, 0x200
#: the first 8 octets of an IPv6 header before a TCP segment
_IP6_TCP = struct.Struct("!IHBB")
_PLEN_NH = struct.Struct("!HB")  # Payload Length, Next Header


#: every timer off (``tcp_close``)
_NO_TIMERS = dict.fromkeys(TIMERS)

#: ``rcv_wscale`` answers by buffer size (a node has a few sizes)
_WSCALE: dict[int, int] = {}


def _wscale(rcvbuf: int) -> int:
    """RFC 7323 §2.3: the smallest shift that lets the window cover the buffer."""
    try:
        return _WSCALE[rcvbuf]
    except KeyError:
        s = 0
        while s < 14 and (0xFFFF << s) < rcvbuf:
            s += 1
        if len(_WSCALE) < 256:
            _WSCALE[rcvbuf] = s
        return s


class TcpSubr:
    """The protocol's shared state (``tcbinfo``) and helpers."""

    node: Any
    knobs: Any
    stats: Any
    #: (laddr, lport, faddr, fport) -> Tcpcb (``tcbinfo``'s hash)
    conns: dict[ConnKey, Tcpcb | Tcptw]
    #: the connections in TIME_WAIT, oldest first (``id`` -> Tcptw): at most
    #: ``net.inet.tcp.maxtcptw``, as FreeBSD's tcptw zone
    timewait: dict[int, Tcptw]
    _heap: list[tuple[float, int, Tcpcb, str]]
    _hseq: int
    #: control blocks retired (closed, or replaced by a Tcptw) since the
    #: timer queue was last swept of their stale entries
    _hdead: int = 0
    #: segments to ourselves (the loopback): (src, dst, segment, tclass, scope)
    _loq: deque[tuple[Addr, Addr, bytes, int, int]]
    #: the node's next-deadline gate (:mod:`kame.gate`)
    gate: Gate
    _secret: bytes
    _rst_sec: int
    _rst_cnt: int
    #: the IPv4 output hook: ``ip4_output(src, dst, segment, tos, ttl, now)`` -> 0 or an
    #: errno (:meth:`in_tcp_output`, over ``node.inet``, unless replaced)
    ip4_output: Any

    #: ``stats``' counters (``Stats._c``)
    _sc: dict[str, int]

    def inc(self, name: str, n: int = 1) -> None:
        self.stats.inc(name, n)

    def kms(self, name: str) -> float:
        """A knob in milliseconds, as seconds."""
        return self._kv[name] / 1000.0

    #: the knobs' plain dict (``Knobs._values``): one read per lookup on the
    #: per-segment paths, as ``ip6_input`` reads them
    _kv: Any

    # --- ISN (RFC 6528) -------------------------------------------------------

    def tcp_iss(self, laddr: Addr, lport: int, faddr: Addr, fport: int, now: float) -> int:
        """RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport,
        secretkey), M a 4 µs timer, F SHA-256 keyed with a per-node secret."""
        h = hashlib.sha256(self._secret + laddr.packed + faddr.packed
                           + lport.to_bytes(2, "big") + fport.to_bytes(2, "big")).digest()
        return (int(now * 250_000) + int.from_bytes(h[:4], "big")) & M32

    @staticmethod
    def tcp_ts(tp: Tcpcb | Tcptw, now: float) -> int:
        """Our TSval: a 1 ms clock with a random per-connection offset."""
        return (int(now * 1000) + tp.ts_offset) & M32

    # --- control blocks -------------------------------------------------------

    def newtcpcb(self, laddr: Addr, lport: int, faddr: Addr, fport: int, now: float, *,
                 so: Any = None, scope: int = 0, template: Any = None,
                 packed: tuple[bytes, bytes] | None = None) -> Tcpcb:
        """``tcp_newtcpcb``: buffers from the socket's ``SO_SNDBUF``/``SO_RCVBUF``
        (or the ``sendspace``/``recvspace`` knobs), the algorithm of
        ``TCP_CONGESTION`` (or ``net.inet.tcp.cc.algorithm``), RTO 1 s.
        ``packed``: the two addresses packed, when the caller has them."""
        kv = self._kv
        gen = getattr(self.knobs, "gen", None)
        nk = self._nk
        if gen is None or nk[0] != gen:
            nk = self._newtcpcb_knobs(gen)
        (_, sendspace, recvspace, ccdefault, reassq, rxtinit, rxtmin, req, keepidle,
         keepintvl, keepcnt, mss6, mss4) = nk
        t = so if so is not None else template  # a listener passes its settings on
        sndbuf = getattr(t, "sndbuf", 0) or sendspace
        rcvbuf = getattr(t, "rcvbuf", 0) or recvspace
        ccname = getattr(t, "ccname", None) or ccdefault or \
            CC_NAMES[kv["net.inet.tcp.cc.algorithm"]]
        snd, rcv, reass = new_buffers(sndbuf, rcvbuf, reassq)
        tp = Tcpcb(laddr, lport, faddr, fport, cc_algo(ccname), snd, rcv, reass, scope=scope)
        tp.so = so
        tp.lpacked, tp.fpacked = packed if packed is not None else (laddr.packed, faddr.packed)
        tp.t_rxtcur = rxtinit
        tp.t_rttmin = rxtmin
        tp.t_rcvtime = tp.t_starttime = now
        tp.t_flags |= req
        tp.request_r_scale = _wscale(rcvbuf)
        tp.ts_offset = self.node.rng.getrandbits(32) if self.node is not None else 0
        tp.keepidle = keepidle
        tp.keepintvl = keepintvl
        tp.keepcnt = keepcnt
        tp.t_maxopd = tp.t_maxseg = mss6 if isinstance(faddr, IPv6Address) else mss4
        tp.t_plpmtu = TF2_PLPMTU_PMTUD
        if so is not None:
            so.tcp_attach(tp)
        return tp

    #: the knobs ``newtcpcb`` reads, as it uses them, and the knobs' generation
    #: they were read at (``Knobs.gen``): read again after any change
    _nk: tuple[Any, ...] = (None,)

    def _newtcpcb_knobs(self, gen: int | None) -> tuple[Any, ...]:
        kv = self._kv
        r = kv["net.inet.tcp.rfc1323"]
        try:
            cc: str | None = CC_NAMES[kv["net.inet.tcp.cc.algorithm"]]
        except (IndexError, TypeError):
            cc = None  # newtcpcb raises as it did, when it needs the name
        req = TF_REQ_SCALE | TF_REQ_TSTMP if r == 1 else TF_REQ_SCALE if r == 2 else \
            TF_REQ_TSTMP if r == 3 else 0
        nk = (gen, kv["net.inet.tcp.sendspace"], kv["net.inet.tcp.recvspace"],
              cc, kv["net.inet.tcp.reass.maxqueuelen"],
              kv["net.inet.tcp.rexmit_initial"] / 1000.0, kv["net.inet.tcp.rexmit_min"] / 1000.0,
              req, kv["net.inet.tcp.keepidle"] / 1000.0, kv["net.inet.tcp.keepintvl"] / 1000.0,
              kv["net.inet.tcp.keepcnt"], kv["net.inet.tcp.v6mssdflt"],
              kv["net.inet.tcp.mssdflt"])
        if gen is not None:
            self._nk = nk
        return nk

    @staticmethod
    def rcv_wscale(rcvbuf: int) -> int:
        """RFC 7323 §2.3: the smallest shift that lets the window cover the buffer."""
        return _wscale(rcvbuf)

    # --- MSS and path MTU -----------------------------------------------------

    def hdrlen(self, tp: Tcpcb) -> int:
        return HDR6 if isinstance(tp.faddr, IPv6Address) else HDR4

    def path_mtu(self, tp: Tcpcb, now: float) -> int:
        return self.path_mtu_to(tp.faddr, tp.scope, now)

    def path_mtu_to(self, faddr: Addr, scope: int, now: float) -> int:
        """The MTU towards the peer: the node's path MTU (RFC 8201) out of the
        interface the route takes; the loopback's 16384 for ourselves."""
        node = self.node
        if node is None:
            return 1500
        if self.is_local(faddr):
            return 16384
        if isinstance(faddr, IPv4Address):
            return self.path_mtu4(faddr, now)
        r = self.route6(faddr, scope, now)
        if r is None:
            return 1280
        if not self._kv["net.inet.tcp.path_mtu_discovery"]:
            return int(node._linkmtu(r[0]))
        return int(node.path_mtu(r[0], faddr, now))

    def path_mtu4(self, faddr: IPv4Address, now: float) -> int:
        """The MTU towards an IPv4 peer: the path MTU ``node.inet`` learnt
        from Fragmentation Needed (RFC 1191), else the link's; 576 without
        a route (RFC 1122 §3.3.3)."""
        inet = getattr(self.node, "inet", None)
        if inet is None:
            return 576
        rt = inet.rtalloc(faddr)
        if rt is None:
            return 576
        if not self._kv["net.inet.tcp.path_mtu_discovery"]:
            return int(inet.linkmtu(rt.ifname))
        return int(inet.path_mtu(rt.ifname, faddr, now))

    def tcp_mssopt(self, tp: Tcpcb, now: float) -> int:
        return self.mssopt_for(tp.faddr, tp.scope, now)

    def mssopt_for(self, faddr: Addr, scope: int, now: float) -> int:
        """The MSS we advertise: the interface MTU less the headers; above
        65535 (jumbograms) sent as 65535, "infinity" (RFC 2675 §5)."""
        mtu = self.path_mtu_to(faddr, scope, now)
        hl = HDR6 if isinstance(faddr, IPv6Address) else HDR4
        return int(_core.tcp_jumbo_mss(mtu - hl))

    def ipsec_hdrsiz(self, tp: Tcpcb) -> int:
        """Seed §4.3: ESP/AH headers the SPD adds shrink the segment."""
        key = getattr(self.node, "key", None)
        f = getattr(key, "hdrsiz", None)
        if f is None:
            return 0
        try:
            return int(f(tp.laddr, tp.faddr, IPPROTO_TCP, tp.lport, tp.fport))
        except Exception:  # noqa: BLE001 - an estimate only
            return 0

    def tcp_mss(self, tp: Tcpcb, offer: int | None, now: float) -> None:
        """``tcp_mss``: the segment size from the peer's offer (``mssdflt``
        when absent; 65535 = path MTU - 60, RFC 2675 §5) and our path MTU,
        less the IPsec headers (seed §4.3) and the Timestamps option."""
        faddr = tp.faddr
        node = self.node
        r: tuple[str, IPv6Address] | None = None
        routed = False
        if type(faddr) is IPv6Address and node is not None and not self.is_local(faddr):
            # path_mtu_to, with the route kept for tcp_tsomax below
            routed = True
            r = self.route6(faddr, tp.scope, now)
            if r is None:
                mtu = 1280
            elif not self._kv["net.inet.tcp.path_mtu_discovery"]:
                mtu = int(node._linkmtu(r[0]))
            else:
                mtu = int(node.path_mtu(r[0], faddr, now))
        else:
            mtu = self.path_mtu_to(faddr, tp.scope, now)
        hl = HDR6 if isinstance(faddr, IPv6Address) else HDR4
        if offer is None or offer == 0:
            offer = self._kv["net.inet.tcp.v6mssdflt" if hl == HDR6 else "net.inet.tcp.mssdflt"]
        tp.peer_mss = int(_core.tcp_effective_mss(offer, mtu))
        room = mtu - hl
        if hl == HDR6 and room > 0xFFFF:
            # a segment this long is a jumbogram, whose Hop-by-Hop header
            # with the Jumbo Payload option takes 8 octets more than RFC
            # 2675 §5's "MTU - 60" counts
            room -= JUMBO_HBH
        if tp.ext6 is not None:
            room -= len(tp.ext6[0])  # the socket's extension headers (RFC 3542 §6)
        ipsec = self.ipsec_hdrsiz(tp)
        pm = tp.peer_mss
        mss = (room if room < pm else pm) - ipsec  # max(min(peer_mss, room) - ipsec, 64)
        if 64 > mss:
            mss = 64
        tp.t_maxopd = mss
        tp.t_maxseg = mss - TCPOLEN_TSTAMP_APPA if tp.t_flags & TF_RCVD_TSTMP and \
            tp.t_flags & TF_REQ_TSTMP else mss
        if routed:  # tcp_tsomax for the route found above
            ifp = node.ifnets.get(r[0]) if r is not None else None
            tp.t_tsomax = 0 if ifp is None or ifp.tsomax <= 0 or tp.ext6 is not None or ipsec \
                else max(ifp.tsomax - HDR6 - 60, 0)
        else:
            tp.t_tsomax = self.tcp_tsomax(tp, now, ipsec)

    def tcp_tsomax(self, tp: Tcpcb, now: float, ipsec: int | None = None) -> int:
        """FreeBSD ``tcp_maxmtu``'s ``IFCAP_TSO`` answer: the data octets a
        super-segment may carry when the route's interface segments TCP for
        us (``Ifnet.tsomax``), over IPv6 or IPv4 (``CSUM_TSO`` for both
        families); 0 for the loopback, IPsec (seed §4.3: ESP/AH must wrap
        each segment) and interfaces without offload."""
        node = self.node
        if node is None or self.is_local(tp.faddr):
            return 0
        if isinstance(tp.faddr, IPv6Address):
            r = self.route6(tp.faddr, tp.scope, now)
            ifname = r[0] if r is not None else None
            hl = HDR6
        else:
            inet = getattr(node, "inet", None)
            rt4 = inet.rtalloc(tp.faddr) if inet is not None else None
            ifname = rt4.ifname if rt4 is not None else None
            hl = HDR4
        ifp = node.ifnets.get(ifname) if ifname is not None else None
        if ifp is None or ifp.tsomax <= 0 or tp.ext6 is not None or \
                (self.ipsec_hdrsiz(tp) if ipsec is None else ipsec):
            return 0
        return max(ifp.tsomax - hl - 60, 0)

    # --- RTO (RFC 6298) -------------------------------------------------------

    def rexmtval(self, tp: Tcpcb) -> float:
        """RTO = SRTT + max(G, 4 RTTVAR), within [rexmit_min, rexmit_max],
        times the backoff of the current retransmission."""
        kv = self._kv  # (kms inline: the knobs in milliseconds)
        # (min and max written out, the builtins' ties kept: a per-segment path)
        if tp.t_srtt > 0:
            v4 = 4 * tp.t_rttvar
            rto = tp.t_srtt + (v4 if v4 > 0.001 else 0.001)
        else:
            rto = kv["net.inet.tcp.rexmit_initial"] / 1000.0
        shift = tp.t_rxtshift
        rto *= TCP_BACKOFF[shift if shift < 12 else 12]  # len(TCP_BACKOFF) - 1
        lo = tp.t_rttmin
        if lo > rto:
            rto = lo
        hi = kv["net.inet.tcp.rexmit_max"] / 1000.0
        return hi if hi < rto else rto

    def tcp_xmit_timer(self, tp: Tcpcb, rtt: float) -> None:
        """RFC 6298 §2.2-2.3: a new RTT sample."""
        self._sc["tcps_rttupdated"] += 1
        if 0.0001 > rtt:  # max(rtt, 0.0001)
            rtt = 0.0001
        if tp.t_srtt == 0:
            tp.t_srtt, tp.t_rttvar = rtt, rtt / 2
        else:
            tp.t_rttvar = 0.75 * tp.t_rttvar + 0.25 * abs(tp.t_srtt - rtt)
            tp.t_srtt = 0.875 * tp.t_srtt + 0.125 * rtt
        tp.t_rtttime = 0.0
        tp.t_rxtshift = 0
        tp.t_rxtcur = self.rexmtval(tp)

    # --- timers ---------------------------------------------------------------

    def timer_set(self, tp: Tcpcb, name: str, when: float) -> None:
        tp.timers[name] = when
        self._hseq += 1
        heapq.heappush(self._heap, (when, self._hseq, tp, name))
        g = self.gate
        if when < g.due:
            g.due = when

    @staticmethod
    def timer_stop(tp: Tcpcb, name: str) -> None:
        tp.timers[name] = None

    @staticmethod
    def timer_active(tp: Tcpcb, name: str) -> bool:
        return tp.timers[name] is not None

    # --- closing --------------------------------------------------------------

    def heap_retired(self) -> None:
        """One more control block retired: when they may be an eighth of the
        timer queue, sweep the queue of the entries no timer owns any more
        (stopped, re-armed, or of a retired block), so a retired Tcpcb is
        not kept alive by them (amortized O(8) per retirement)."""
        self._hdead += 1
        h = self._heap
        if self._hdead < 64 or self._hdead * 8 < len(h):
            return
        self._hdead = 0
        h[:] = [e for e in h if not e[2].gone and e[2].timers.get(e[3]) == e[0]]
        heapq.heapify(h)

    def tcp_close(self, tp: Tcpcb | Tcptw) -> None:
        """``tcp_close``: leave the table, stop the timers, tell the socket."""
        if tp.gone:
            return
        if isinstance(tp, Tcptw):
            self.tcp_twclose(tp)
            return
        tw = tp.t_tw
        if tw is not None:  # the socket's Tcpcb of a TIME_WAIT connection
            tp.t_tw = tw.tp = None
            self.tcp_twclose(tw)
        tp.gone = True
        tp.state = TCPS_CLOSED
        tp.timers.update(_NO_TIMERS)  # every timer stopped
        k = tp.key
        if self.conns.get(k) is tp:
            del self.conns[k]
        self.timewait.pop(id(tp), None)
        tp.reass.clear()
        self._sc["tcps_closed"] += 1
        self.heap_retired()
        if tp.so is not None:
            tp.so.tcp_closed(tp)

    def tcp_twclose(self, tw: Tcptw) -> None:
        """TIME_WAIT's end (``tcp_twclose``): out of the table; the
        socket's Tcpcb, if it still has one, is closed with it."""
        tw.gone = True
        if self.conns.get(tw.key) is tw:
            del self.conns[tw.key]
        self.timewait.pop(id(tw), None)
        tp = tw.tp
        if tp is not None:
            tw.tp = tp.t_tw = None
            if not tp.gone:
                self.tcp_close(tp)
                return
        self._sc["tcps_closed"] += 1

    def tcp_drop(self, tp: Tcpcb, err: int, now: float) -> None:
        """``tcp_drop``: a RST to the peer if synchronized, ``err`` to the socket."""
        if haveestablished(tp.state) or tp.state == TCPS_SYN_RECEIVED:
            if tp.state != TCPS_SYN_RECEIVED:
                self.inc("tcps_drops")
            self.tcp_respond(tp.laddr, tp.faddr, tp.lport, tp.fport, tp.snd_nxt, tp.rcv_nxt,
                             TH_RST | TH_ACK, now, scope=tp.scope, ext=tp.ext6)
        else:
            self.inc("tcps_conndrops")
        if err == errno.ETIMEDOUT and tp.t_softerror:
            err = tp.t_softerror
        tp.so_error = err
        self.tcp_close(tp)

    # --- tcp_respond and the output hook ---------------------------------------

    def tcp_respond(self, laddr: Addr, faddr: Addr, lport: int, fport: int, seq: int, ack: int,
                    flags: int, now: float, *, win: int = 0, scope: int = 0,
                    options: bytes = b"",
                    ext: tuple[bytes, int, IPv6Address] | None = None) -> None:
        """``tcp_respond``: a bare segment (RST, or the ACK of a challenge);
        ``ext``: the connection's extension headers when it has one."""
        if flags & TH_RST:
            self.inc("tcps_sndrst")
        self.inc("tcps_sndtotal")
        self.inc("tcps_sndctrl" if flags & TH_RST else "tcps_sndacks")
        self.ip_output(laddr, faddr, lport, fport, seq & M32, ack & M32, flags, win, options,
                       b"", now, scope=scope, ext=ext)

    #: ``is_local``'s last answer for an IPv6 address: (address, the node's
    #: address table, its generation, answer); the fast path interns the
    #: peers' addresses, so a connection's segments ask with one object
    _locm: tuple[Any, Any, int, bool] = (None, None, -1, False)

    def is_local(self, a: Addr) -> bool:
        if type(a) is IPv6Address:
            # ``find_any`` on the integer, without its call (several per segment)
            ip = a._ip  # type: ignore[attr-defined]
            if ip == 1:
                return True
            node = self.node
            if node is None:
                return False
            addrs = node.addrs
            m = self._locm
            if m[0] is a and m[1] is addrs and m[2] == addrs.gen:
                return m[3]  # the same address object, no address added or removed since
            r = False
            for d in addrs._by_if.values():
                if ip in d:
                    r = True
                    break
            self._locm = (a, addrs, addrs.gen, r)
            return r
        if isinstance(a, IPv6Address):
            return int(a) == 1 or (self.node is not None
                                   and self.node.addrs.find_any(a) is not None)
        if (int(a) >> 24) == 127:
            return True
        inet = getattr(self.node, "inet", None)
        return inet is not None and bool(inet.is_local(a))

    def in_tcp_output(self, src: IPv4Address, dst: IPv4Address, seg: bytes, tos: int,
                      ttl: int | None, now: float, tso_segsz: int = 0) -> int:
        """The IPv4 output of a segment (the default :attr:`ip4_output`):
        ``ip_output`` of ``node.inet`` with DF set while path MTU discovery
        is on (RFC 1191), or as the socket's :data:`TOS_PMTUDISC` and
        :data:`TOS_DF` say; 0 or an errno. ``tso_segsz``: a super-segment
        the interface cuts into segments of that many data octets."""
        inet = getattr(self.node, "inet", None)
        if inet is None:
            return errno.ENETUNREACH
        df = bool(tos & TOS_DF) if tos & TOS_PMTUDISC else \
            bool(self._kv["net.inet.tcp.path_mtu_discovery"])
        if tso_segsz:
            return int(inet.ip_output(src, dst, IPPROTO_TCP, seg, now, ttl=ttl,
                                      tos=tos & 0xFF, df=df, tso_segsz=tso_segsz))
        return int(inet.ip_output(src, dst, IPPROTO_TCP, seg, now, ttl=ttl, tos=tos & 0xFF,
                                  df=df))

    def route(self, tp: Tcpcb, now: float) -> tuple[str, IPv6Address] | None:
        return self.route6(tp.faddr, tp.scope, now)  # type: ignore[arg-type]

    #: ``route6`` answers of the current instant: (now, {(faddr, scope): answer});
    #: the frames of one wakeup (``receive_many``) share one ``now``, so a
    #: burst of segments to one peer looks its route up once (as the route
    #: a BSD pcb caches in ``inp_route``), and a later instant asks again
    _rt6: tuple[float, dict[tuple[int, Any, int], Any]] = (-1.0, {})

    def route6(self, faddr: IPv6Address, scope: int, now: float) -> tuple[str, IPv6Address] | None:
        t, c = self._rt6
        if t != now:
            c = {}
            self._rt6 = (now, c)
        # keyed by the address's integer and zone (the IPv6Address' own
        # fields): hashed without a Python call each
        k = (faddr._ip, faddr._scope_id, scope)  # type: ignore[attr-defined]
        try:
            return c[k]  # type: ignore[no-any-return]
        except KeyError:
            r = c[k] = self._route6(faddr, scope, now)
            return r

    def _route6(self, faddr: IPv6Address, scope: int, now: float
                ) -> tuple[str, IPv6Address] | None:
        node = self.node
        if scope and (is_linklocal(faddr) or faddr.is_multicast):
            name = node.zones.by_index.get(scope)
            return (name, faddr) if name is not None else None
        rt = node.rtalloc(faddr, now)
        if rt is None:
            return None
        return rt.ifname, rt.next_hop

    def ip_output_seg(self, laddr: Addr, faddr: Addr, seg: bytes, now: float, *, scope: int = 0,
                      tclass: int = 0, hlim: int | None = None,
                      ext: tuple[bytes, int, IPv6Address] | None = None,
                      packed: tuple[bytes, bytes] | None = None) -> bool:
        """Hand IP a segment already built and checksummed (the core's
        SYN,ACKs): :meth:`ip_output` without the build; ``ext``: the
        listener's extension headers (``StreamSocket.tcp_synext``);
        ``packed``: the two addresses packed, when the caller has them."""
        if self.is_local(faddr):
            self._loq.append((laddr, faddr, seg, tclass, scope))
            self.gate.open()  # delivered by the next poll
            return True
        if isinstance(faddr, IPv4Address):
            hook = getattr(self, "ip4_output", None)
            return hook is not None and not hook(laddr, faddr, seg, tclass, hlim, now)
        node = self.node
        first = faddr if ext is None else ext[2]
        r = self.route6(first, scope if ext is None or first == faddr else 0,  # type: ignore[arg-type]
                        now)
        if r is None:
            node.stats.inc("ip6s_noroute")
            return False
        ifname, hop = r
        if hlim is None:
            info = node.cache.ifinfo.get(ifname)  # cache.info without its call
            hlim = (info if info is not None else node.cache.info(ifname)).chlim
        if ext is not None:
            # the segment's checksum already covers the final destination
            # (RFC 8200 §8.1); the headers go between, the first hop in front
            e, nh, _first = ext
            node.output(ifname, _IP6_TCP.pack(0x60000000 | (tclass & 0xFF) << 20,
                                              len(seg) + len(e), nh, hlim)
                        + laddr.packed + first.packed + e + seg, now, hop)
            return True
        lp, fp = packed if packed is not None else (laddr.packed, faddr.packed)
        node.output(ifname, b"".join((_IP6_TCP.pack(0x60000000 | (tclass & 0xFF) << 20, len(seg),
                                                    6, hlim), lp, fp, seg)), now, hop)
        return True

    def ip_output(self, laddr: Addr, faddr: Addr, lport: int, fport: int, seq: int, ack: int,
                  flags: int, win: int, options: bytes, payload: bytes, now: float, *,
                  scope: int = 0, tclass: int = 0, hlim: int | None = None,
                  tso_segsz: int = 0, packed: tuple[bytes, bytes] | None = None,
                  ext: tuple[bytes, int, IPv6Address] | None = None) -> bool:
        """Hand one segment to IP: ``ip6_output`` through the node (route,
        ``nd6_output``, IPsec), the loopback for ourselves, or for IPv4 the
        :attr:`ip4_output` hook (``ip_output`` of ``node.inet``). ``packed``:
        the two addresses packed, when the caller has them (a connection's);
        ``ext``: the connection's extension headers (``Tcpcb.ext6``)."""
        if isinstance(faddr, IPv4Address):
            seg = _core.tcp_output_segment(laddr.packed, faddr.packed, lport, fport, seq, ack,
                                           flags, win, options, payload)
            if self.is_local(faddr):
                self._loq.append((laddr, faddr, seg, tclass, scope))
                self.gate.open()  # delivered by the next poll
                return True
            hook = getattr(self, "ip4_output", None)
            if hook is None:
                return False
            e = hook(laddr, faddr, seg, tclass, hlim, now, tso_segsz) if tso_segsz else \
                hook(laddr, faddr, seg, tclass, hlim, now)
            if e == errno.EMSGSIZE:
                # DF and larger than a path MTU learnt meanwhile (another
                # connection's Fragmentation Needed): the next (re)transmission
                # goes out in segments that fit (FreeBSD tcp_output -> tcp_mtudisc)
                tp = self.conns.get((laddr.packed, lport, faddr.packed, fport, scope))
                if isinstance(tp, Tcpcb):
                    self.tcp_mss(tp, tp.peer_mss or None, now)
            return not e
        node = self.node
        lp, fp = packed if packed is not None else (laddr.packed, faddr.packed)
        if self.is_local(faddr):
            seg = _core.tcp_output_segment(lp, fp, lport, fport, seq, ack, flags, win, options,
                                           payload)
            self._loq.append((laddr, faddr, seg, tclass, scope))
            self.gate.open()  # delivered by the next poll
            return True
        first = faddr if ext is None else ext[2]
        r = self.route6(first, scope if ext is None or first == faddr else 0,  # type: ignore[arg-type]
                        now)
        if r is None:
            node.stats.inc("ip6s_noroute")
            return False
        ifname, hop = r
        if hlim is None:
            info = node.cache.ifinfo.get(ifname)  # cache.info without its call
            hlim = (info if info is not None else node.cache.info(ifname)).chlim
        pkt = _core.tcp6_output(lp, fp, hlim, tclass, lport, fport, seq, ack, flags, win, options,
                                payload)
        if ext is not None:
            # the checksum covers the final destination (RFC 8200 §8.1); the
            # headers go between, the first hop of a Routing header in front
            e, nh, _first = ext
            pkt = b"".join((pkt[:4], _PLEN_NH.pack(len(pkt) - 40 + len(e), nh), pkt[7:24],
                            first.packed, e, pkt[40:]))
        if tso_segsz:
            node.output(ifname, pkt, now, hop, tso_segsz=tso_segsz)
        else:
            node.output(ifname, pkt, now, hop)
        return True
