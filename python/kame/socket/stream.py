"""Stream sockets (``SOCK_STREAM``, TCP) over the node's :mod:`kame.tcp`:
``listen``/``accept``/``connect``/``send``/``recv``/``shutdown``/``close``,
backlog, ``SO_LINGER``, ``SO_KEEPALIVE``, ``TCP_NODELAY``,
``SO_RCVBUF``/``SO_SNDBUF``, ``SO_ERROR``, and :meth:`StreamLayer.poll`,
a ``poll(2)``-like readiness call over stream and datagram sockets.

Sans-I/O like the rest: every socket is non-blocking. ``connect`` raises
:class:`BlockingIOError` (``EINPROGRESS``) unless the handshake completed
at once (a connection to ourselves), then the socket turns writable, or
readable and in error (``SO_ERROR``: ``ECONNREFUSED``, ``ETIMEDOUT``...).
``send`` takes what fits in ``SO_SNDBUF`` (``EAGAIN`` when nothing does),
``recv`` returns what arrived (``EAGAIN`` when nothing did, ``b""`` after
the peer's FIN), ``accept`` returns a completed connection (``EAGAIN``).
Errors follow the profile: a ``send`` on a never-connected socket is
``EPIPE`` on Linux and ``ENOTCONN`` on the BSDs; ``close`` with unread data
resets the connection on Linux (RFC 2525 §2.17), sends a FIN on the BSDs.

Listeners are found by the rules of the PCB table (:mod:`kame.socket.pcb`):
an exact local address before a wildcard, and for IPv4 (``node.inet``)
the §1.12 profile rules of ``_cover``: an ``AF_INET`` listener first on
the KAME platforms, an ``AF_INET6`` wildcard listener only when
``IPV6_V6ONLY`` is off; its accepted sockets name their IPv4 peers as
``::ffff:a.b.c.d``. A connect to ``::ffff:a.b.c.d`` needs the profile's
initiating side (else its ``mapped_errno``: OpenBSD ``EINVAL``).
"""

from __future__ import annotations

import errno
import operator
import select
import socket as _hostsock
import struct
from collections import deque
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from kame.scope6 import Scope, in6_addrscope
from kame.socket.const import (
    AF_INET,
    AF_INET6,
    IPV6_2292PKTOPTIONS,
    IPV6_FAITH,
    SO_ERROR,
    SO_TYPE,
    SOCK_DGRAM,
    SOL_SOCKET,
    _err,
    _octets,
)
from kame.socket.inctl import IP_MTU_DISCOVER
from kame.socket.pktopts import EXTHDR_OPTS, PktOpts, exthdrs
from kame.socket.sock import MSG_ERRQUEUE, Datagram, PcbTable, Socket, _ival
from kame.tcp.subr import TOS_DF, TOS_PMTUDISC
from kame.tcp.var import (
    TCPS_CLOSED,
    TCPS_ESTABLISHED,
    TCPS_SYN_RECEIVED,
    TCPS_SYN_SENT,
    TCPSTATES,
    TF_CANTRCVMORE,
    TF_ECN_PERMIT,
    TF_KEEPALIVE,
    TF_NODELAY,
    TF_RCVD_SCALE,
    TF_RCVD_TSTMP,
    TF_REQ_TSTMP,
    TF_SACK_PERMIT,
    Tcpcb,
    havercvdfin,
)

SOCK_STREAM = _hostsock.SOCK_STREAM
IPPROTO_TCP = 6
SO_KEEPALIVE = _hostsock.SO_KEEPALIVE
SO_LINGER = _hostsock.SO_LINGER
SO_RCVBUF = _hostsock.SO_RCVBUF
SO_SNDBUF = _hostsock.SO_SNDBUF
SO_ACCEPTCONN = getattr(_hostsock, "SO_ACCEPTCONN", 30)
TCP_NODELAY = _hostsock.TCP_NODELAY
TCP_MAXSEG = _hostsock.TCP_MAXSEG
TCP_KEEPIDLE = getattr(_hostsock, "TCP_KEEPIDLE", 4)
TCP_KEEPINTVL = getattr(_hostsock, "TCP_KEEPINTVL", 5)
TCP_KEEPCNT = getattr(_hostsock, "TCP_KEEPCNT", 6)
TCP_CONGESTION = getattr(_hostsock, "TCP_CONGESTION", 13)
SHUT_RD, SHUT_WR, SHUT_RDWR = 0, 1, 2
MSG_PEEK = 0x2
#: ``SOMAXCONN``
SOMAXCONN = 4096

POLLIN = select.POLLIN
POLLOUT = select.POLLOUT
POLLERR = select.POLLERR
POLLHUP = select.POLLHUP


#: The datagram queue of every stream socket (which never has one) and the
#: listen queue of every socket until ``listen``: shared, empty and bounded
#: to nothing, so an idle connection does not carry two deques (600 octets
#: each) it never uses.
_NO_DATAGRAMS: deque[Datagram] = deque(maxlen=0)
_NO_CHILDREN: deque[StreamSocket] = deque(maxlen=0)


@dataclass(eq=False, slots=True)
class StreamSocket(Socket):
    """A ``SOCK_STREAM`` socket: its PCB fields (from :class:`Socket`) and
    the TCP connection (``tp``) or listen queue behind it."""

    tp: Tcpcb | None = None
    listening: bool = False
    backlog: int = 0
    rcvq: deque[Datagram] = field(default_factory=lambda: _NO_DATAGRAMS)
    acceptq: deque[StreamSocket] = field(default_factory=lambda: _NO_CHILDREN)
    sndbuf: int = 0
    rcvbuf: int = 0
    ccname: str | None = None
    nodelay: bool = False
    keepalive: bool = False
    so_linger: tuple[bool, int] = (False, 0)
    keep: tuple[float | None, float | None, int | None] = (None, None, None)
    was_connected: bool = False
    cantsendmore: bool = False
    cantrcvmore: bool = False
    tcp_hlim: int | None = None

    # --- helpers ----------------------------------------------------------------

    @property
    def _tcp(self) -> Any:
        node = self.layer.node
        if node is None or getattr(node, "tcp", None) is None:
            raise _err(errno.ENETUNREACH, "no node under this sockets layer")
        return node.tcp

    @property
    def _now(self) -> float:
        return self.layer.now

    @property
    def connected(self) -> bool:
        tp = self.tp
        return tp is not None and not tp.gone and tp.state >= TCPS_ESTABLISHED

    # --- callbacks from kame.tcp ------------------------------------------------

    def tcp_attach(self, tp: Tcpcb) -> None:
        self.tp = tp
        tp.so = self
        if self.nodelay:
            tp.t_flags |= TF_NODELAY
        if self.keepalive:
            tp.t_flags |= TF_KEEPALIVE
        tp.linger = self.so_linger
        idle, intvl, cnt = self.keep
        if idle is not None:
            tp.keepidle = idle
        if intvl is not None:
            tp.keepintvl = intvl
        if cnt is not None:
            tp.keepcnt = cnt
        self._tcp_ttl(tp)
        self.tcp_exthdrs(tp)

    def _tcp_ttl(self, tp: Tcpcb) -> None:
        """The hop limit and traffic class of the connection's segments
        (:meth:`tcp_synttl`)."""
        tp.hlim, tp.tclass = self.tcp_synttl(tp.faddr)

    def tcp_synttl(self, faddr: Any) -> tuple[int | None, int]:
        """(hop limit or TTL, traffic class or TOS) of segments to
        ``faddr``, the SYN,ACKs of a listener included: for an IPv4 peer
        (AF_INET, or mapped on AF_INET6) ``IP_TTL`` and ``IP_TOS`` (Linux
        ``inet->uc_ttl``/``tos``, as ``ip_build_and_send_pkt`` sends the
        SYN,ACK), else ``IPV6_UNICAST_HOPS`` and ``IPV6_TCLASS``."""
        if isinstance(faddr, IPv4Address):
            tos = int(self.ipopts.get(_hostsock.IP_TOS, 0))
            pmd = self.ipopts.get(IP_MTU_DISCOVER)
            if pmd is not None and self.profile.name == "linux":
                # ip_dont_fragment: DF with WANT and DO only (__ip_queue_xmit)
                tos |= TOS_PMTUDISC | (TOS_DF if pmd in (1, 2) else 0)
            return self.ipopts.get(_hostsock.IP_TTL), tos
        return self.tcp_hlim, int(self.opts.get(_hostsock.IPV6_TCLASS, 0) or 0)

    def tcp_exthdrs(self, tp: Tcpcb) -> None:
        """RFC 3542 §6: the socket's sticky extension headers go on the
        connection's segments (KAME's ``in6p_outputopts``; an accepted socket
        has its listener's); the MSS leaves room for them."""
        po = PktOpts.sticky(self.opts) if self.opts else None
        if po is None or not po.has_exthdrs or not isinstance(tp.faddr, IPv6Address):
            tp.ext6 = None
            return
        tp.ext6 = exthdrs(po, tp.faddr, 6)
        if tp.peer_mss:  # already sized (an accepted connection): leave room
            self._tcp.tcp_mss(tp, tp.peer_mss, self._now)

    def tcp_synext(self, faddr: Any) -> tuple[bytes, int, IPv6Address] | None:
        """A listener's sticky extension headers for the SYN,ACK to
        ``faddr`` (the SYN cache's reply carries what the connection's every
        later segment will, RFC 3542 §6); None without any."""
        if not self.opts or not isinstance(faddr, IPv6Address):
            return None
        po = PktOpts.sticky(self.opts)
        if po is None or not po.has_exthdrs:
            return None
        return exthdrs(po, faddr, 6)

    def tcp_connected(self, tp: Tcpcb) -> None:
        self.was_connected = True

    def tcp_cantrcvmore(self, tp: Tcpcb) -> None:
        pass  # read from the state: havercvdfin

    def tcp_writable(self, tp: Tcpcb) -> None:
        pass

    def tcp_disconnected(self, tp: Tcpcb) -> None:
        pass

    def tcp_closed(self, tp: Tcpcb) -> None:
        if tp.so_error and not self.so_error:
            self.so_error = tp.so_error

    def tcp_can_accept(self) -> bool:
        return self.listening and not self.closed and len(self.acceptq) <= self.backlog

    def sonewconn(self, tp: Tcpcb) -> StreamSocket:
        """A completed connection on this listener's accept queue."""
        child = self.layer._new_stream(self.family, v6only=self.v6only)
        child.laddr, child.lport, child.lscope = tp.laddr, tp.lport, tp.scope
        child.faddr, child.fport, child.fscope = tp.faddr, tp.fport, tp.scope
        child.bound = True
        child.was_connected = True
        child.sndbuf, child.rcvbuf, child.ccname = self.sndbuf, self.rcvbuf, self.ccname
        child.nodelay, child.keepalive = self.nodelay, self.keepalive
        child.so_linger, child.keep, child.tcp_hlim = self.so_linger, self.keep, self.tcp_hlim
        child.opts = dict(self.opts)
        child.ipopts = dict(self.ipopts)  # sk_clone: IP_TTL, IP_TOS too
        child.tcp_attach(tp)
        self.acceptq.append(child)
        return child

    # --- API ------------------------------------------------------------------------

    def listen(self, backlog: int = 128) -> None:
        self._check_open()
        if self.tp is not None:
            raise _err(errno.EINVAL, "connected")
        if not self.bound:
            la = self.laddr if self.laddr is not None and int(self.laddr) else None
            self.lport = self.layer._anyport(self, la)
            self.bound = True
        self.backlog = min(max(operator.index(backlog), 0), SOMAXCONN)
        if not self.listening:
            self.listening = True
            self.acceptq = deque()
            self.layer._listeners.setdefault(self.lport, []).append(self)

    def accept(self) -> tuple[StreamSocket, tuple[Any, ...]]:
        self._check_open()
        if not self.listening:
            raise _err(errno.EINVAL, "not listening")
        while self.acceptq:
            c = self.acceptq.popleft()
            if c.tp is not None and (not c.tp.gone or len(c.tp.rcv)):
                return c, c._name(c.faddr, c.fport, c.fscope)
            if c.so_error:  # reset before accept: BSD hands it over, Linux too
                return c, c._name(c.faddr, c.fport, c.fscope)
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    def connect_ex(self, addr: Any) -> int:
        try:
            self.connect(addr)
        except OSError as e:
            return int(e.errno or 0)
        return 0

    def connect(self, addr: Any) -> None:
        self._check_open()
        if self.listening:
            raise _err(errno.EISCONN if self.profile.name != "linux" else errno.EINVAL)
        tp = self.tp
        if tp is not None:
            if not tp.gone and tp.state in (TCPS_SYN_SENT, TCPS_SYN_RECEIVED):
                raise _err(errno.EALREADY)
            if not tp.gone or self.was_connected:
                if self.so_error:
                    self._raise_so_error()
                raise _err(errno.EISCONN)
            if self.so_error:
                self._raise_so_error()
            raise _err(errno.ECONNABORTED if self.profile.name == "linux" else errno.EINVAL)
        a, port, scope = self._sockaddr_in(addr)
        layer = self.layer
        if isinstance(a, IPv4Address):
            if self.family == AF_INET6:
                layer._mapped_ok(self)  # §1.12: the profile's initiating side
                if isinstance(self.laddr, IPv6Address) and int(self.laddr):
                    raise _err(self.profile.mapped_errno, "bound to an IPv6 address")
            if getattr(self._tcp, "ip4_output", None) is None:
                raise _err(errno.ENETUNREACH, "no IPv4 on this node yet")
        elif self.family == AF_INET6 and isinstance(self.laddr, IPv4Address):
            raise _err(errno.EAFNOSUPPORT, "bound to an IPv4-mapped address")
        if not int(a):
            a = IPv4Address("127.0.0.1") if isinstance(a, IPv4Address) else IPv6Address(1)
        if isinstance(a, IPv6Address) and (a.is_multicast):
            raise _err(errno.ENETUNREACH if self.profile.name == "linux" else errno.EAFNOSUPPORT)
        src = layer._select_src(self, a, scope, None)
        fscope = 0
        if isinstance(a, IPv6Address) and in6_addrscope(a) in (Scope.LINKLOCAL,
                                                              Scope.INTFACELOCAL):
            fscope = scope or layer._default_scope(a)
        if not self.bound or self.lport == 0:
            la = self.laddr if self.laddr is not None and int(self.laddr) else None
            self.lport = layer._anyport(self, la)
            self.bound = True
        if self.laddr is None or not int(self.laddr):
            self.laddr = src
        self.faddr, self.fport, self.fscope = a, port, fscope
        if fscope and isinstance(self.laddr, IPv6Address) and in6_addrscope(self.laddr) in (
                Scope.LINKLOCAL, Scope.INTFACELOCAL):
            self.lscope = fscope
        try:
            tp = self._tcp.tcp_connect(self, self.laddr, self.lport, a, port, fscope, self._now)
        except OSError:
            self.faddr, self.fport = None, 0
            raise
        if tp.gone:
            self._raise_so_error()
            raise _err(errno.ECONNREFUSED)
        if tp.state >= TCPS_ESTABLISHED:
            return
        raise BlockingIOError(errno.EINPROGRESS, "Operation now in progress")

    def send(self, data: bytes, flags: int = 0) -> int:
        self._check_open()
        tp = self.tp
        if tp is None:
            if self.profile.name == "linux":
                raise _err(errno.EPIPE)
            raise _err(errno.ENOTCONN)
        self._raise_so_error()
        if self.cantsendmore or tp.gone or tp.state > 5:  # past CLOSE_WAIT: FIN queued
            raise _err(errno.EPIPE)
        if tp.state in (TCPS_SYN_SENT, TCPS_SYN_RECEIVED):
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        b = _octets(data, "data")
        if not b:
            return 0
        n = self._tcp.tcp_send(tp, b, self._now)
        if n == 0:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        return n

    def sendall(self, data: bytes, flags: int = 0) -> None:
        """All of ``data`` or ``EAGAIN`` (then part may have gone: non-blocking)."""
        b = memoryview(_octets(data, "data"))
        while b:
            n = self.send(bytes(b))
            b = b[n:]

    def sendto(self, data: bytes, flags_or_addr: Any, addr: Any = None) -> int:
        raise _err(errno.EISCONN if self.tp is not None else errno.ENOTCONN)

    def sendmsg(self, buffers: Any, ancdata: Any = (), flags: int = 0,
                address: Any = None) -> int:
        if address is not None:
            raise _err(errno.EISCONN)
        return self.send(b"".join(_octets(b, "buffer") for b in buffers), flags)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        self._check_open()
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        if flags & MSG_ERRQUEUE and self.layer.profile.name == "linux":
            # inet_recv_error: TCP queues no ICMP error (tcp_v4_err)
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        tp = self.tp
        if tp is None:
            raise _err(errno.ENOTCONN)
        if len(tp.rcv):
            data = bytes(tp.rcv.peek(bufsize) if flags & MSG_PEEK else tp.rcv.read(bufsize))
            if not flags & MSG_PEEK and not tp.gone:
                self._tcp.tcp_rcvd(tp, self._now)
            return data
        self._raise_so_error()
        if self.cantrcvmore or tp.gone or havercvdfin(tp.state) or bufsize == 0:
            return b""
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, tuple[Any, ...]]:
        data = self.recv(bufsize, flags)
        return data, self.getpeername()

    def recvmsg(self, bufsize: int, ancbufsize: int = 0, flags: int = 0
                ) -> tuple[bytes, list[tuple[int, int, bytes]], int, tuple[Any, ...]]:
        return self.recv(bufsize, flags), [], 0, self.getpeername()

    def shutdown(self, how: int) -> None:
        self._check_open()
        if how not in (SHUT_RD, SHUT_WR, SHUT_RDWR):
            raise _err(errno.EINVAL)
        tp = self.tp
        if tp is None or (tp.gone and not self.was_connected) or tp.state < TCPS_ESTABLISHED \
                and not tp.gone and tp.state != TCPS_SYN_RECEIVED:
            raise _err(errno.ENOTCONN)
        if how in (SHUT_RD, SHUT_RDWR):
            self.cantrcvmore = True
            tp.t_flags |= TF_CANTRCVMORE
            tp.rcv.clear()
        if how in (SHUT_WR, SHUT_RDWR) and not self.cantsendmore:
            self.cantsendmore = True
            if not tp.gone:
                self._tcp.tcp_shutdown(tp, self._now)

    def close(self) -> None:
        if self.closed:
            return
        layer = self.layer
        if self.listening:
            ls = layer._listeners.get(self.lport, [])
            if self in ls:
                ls.remove(self)
            for c in self.acceptq:  # connections never accepted: reset
                c.close_abort()
            self.acceptq.clear()
        tp = self.tp
        self.closed = True
        layer.pcbs.discard(self)
        self._leave_groups()
        if tp is not None and not tp.gone and layer.node is not None:
            self._tcp.tcp_disconnect(tp, self._now, rst_unread=self.profile.name == "linux")
        elif tp is not None:
            tp.so = None

    def close_abort(self) -> None:
        tp = self.tp
        self.closed = True
        self.layer.pcbs.discard(self)
        self._leave_groups()
        if tp is not None and not tp.gone:
            tp.so = None
            self._tcp.tcp_abort(tp, self._now)

    def _leave_groups(self) -> None:
        """The memberships a stream socket took (Linux takes source
        memberships and ``MCAST_JOIN_GROUP`` on any socket) go with it."""
        for g, ifi in list(self.groups):
            self.layer.leave_group(self, g, ifi)

    # --- options --------------------------------------------------------------------

    def setsockopt(self, level: int, opt: int, value: Any) -> None:
        self._check_open()
        tp = self.tp
        if level == SOL_SOCKET and opt == SO_KEEPALIVE:
            self.keepalive = bool(_ival(value))
            if tp is not None:
                tp.t_flags = tp.t_flags | TF_KEEPALIVE if self.keepalive else \
                    tp.t_flags & ~TF_KEEPALIVE
                if self.keepalive and not tp.gone:
                    self._tcp.keep_arm(tp, self._now)
            return
        if level == SOL_SOCKET and opt == SO_LINGER:
            if isinstance(value, (bytes, bytearray, memoryview)):
                if len(value) != 8:
                    raise _err(errno.EINVAL)
                on, secs = struct.unpack("=ii", bytes(value))
            else:
                try:
                    on, secs = value
                except (TypeError, ValueError):
                    raise TypeError("SO_LINGER: (onoff, seconds) or 8 octets") from None
                on, secs = _ival(on), _ival(secs)
            self.so_linger = (bool(on), max(secs, 0))
            if tp is not None:
                tp.linger = self.so_linger
            return
        if level == SOL_SOCKET and opt in (SO_RCVBUF, SO_SNDBUF):
            v = _ival(value)
            if v < 0:
                raise _err(errno.EINVAL)
            v = max(v * 2 if self.profile.name == "linux" else v, 2048)  # Linux doubles
            if opt == SO_RCVBUF:
                self.rcvbuf = v
                if tp is not None:
                    tp.rcv.cap = v
            else:
                self.sndbuf = v
                if tp is not None:
                    tp.snd.cap = v
            return
        if level == IPPROTO_TCP:
            if opt == TCP_NODELAY:
                self.nodelay = bool(_ival(value))
                if tp is not None:
                    tp.t_flags = tp.t_flags | TF_NODELAY if self.nodelay else \
                        tp.t_flags & ~TF_NODELAY
                    if self.nodelay and not tp.gone:
                        self._tcp.tcp_output(tp, self._now)
                return
            if opt in (TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT):
                v = _ival(value)
                if v < 1:
                    raise _err(errno.EINVAL)
                idle, intvl, cnt = self.keep
                if opt == TCP_KEEPIDLE:
                    idle = float(v)
                elif opt == TCP_KEEPINTVL:
                    intvl = float(v)
                else:
                    cnt = v
                self.keep = (idle, intvl, cnt)
                if tp is not None and not tp.gone:
                    self.tcp_attach(tp)
                    self._tcp.keep_arm(tp, self._now)
                return
            if opt == TCP_CONGESTION:
                name = value if isinstance(value, str) else \
                    _octets(value, "TCP_CONGESTION").rstrip(b"\0").decode()
                from kame.tcp.cc import cc_algo
                try:
                    algo = cc_algo(name)
                except ValueError:
                    raise _err(errno.ENOENT, name) from None
                self.ccname = name
                if tp is not None and not tp.gone:
                    algo.conn_init(tp, self.layer.node.knobs["net.inet.tcp.initcwnd_segments"])
                    tp.cc = algo
                return
            if opt == TCP_MAXSEG:
                return  # accepted, as the BSDs do before connect
            raise _err(errno.ENOPROTOOPT)
        if level == 41 and opt == _hostsock.IPV6_UNICAST_HOPS:
            v = _ival(value)
            if not -1 <= v <= 255:
                raise _err(errno.EINVAL)
            self.tcp_hlim = None if v == -1 else v
        self.layer.ctloutput_set(self, level, opt, value)
        if tp is not None and (level == 41 and opt in (_hostsock.IPV6_TCLASS,
                                                       _hostsock.IPV6_UNICAST_HOPS) or
                               level == 0 and opt in (_hostsock.IP_TTL, _hostsock.IP_TOS,
                                                      IP_MTU_DISCOVER)):
            self._tcp_ttl(tp)
        if tp is not None and level == 41 and (opt in EXTHDR_OPTS or opt == IPV6_2292PKTOPTIONS):
            self.tcp_exthdrs(tp)

    def getsockopt(self, level: int, opt: int, buflen: int | bytes = 0) -> Any:
        self._check_open()
        tp = self.tp
        if level == SOL_SOCKET:
            if opt == SO_KEEPALIVE:
                return int(self.keepalive)
            if opt == SO_LINGER:
                v = struct.pack("=ii", int(self.so_linger[0]), self.so_linger[1])
                return v if buflen else self.so_linger
            if opt == SO_RCVBUF:
                return tp.rcv.cap if tp is not None else (
                    self.rcvbuf or self.layer.node.knobs["net.inet.tcp.recvspace"])
            if opt == SO_SNDBUF:
                return tp.snd.cap if tp is not None else (
                    self.sndbuf or self.layer.node.knobs["net.inet.tcp.sendspace"])
            if opt == SO_ACCEPTCONN:
                return int(self.listening)
            if opt == SO_TYPE:
                return SOCK_STREAM
            if opt == SO_ERROR:
                e, self.so_error = self.so_error, 0
                return e
        if level == IPPROTO_TCP:
            if opt == TCP_NODELAY:
                return int(self.nodelay)
            if opt == TCP_MAXSEG:
                return tp.t_maxseg if tp is not None else 536
            if opt == TCP_CONGESTION:
                name = tp.cc.name if tp is not None else (self.ccname or ("newreno", "cubic")[
                    self.layer.node.knobs["net.inet.tcp.cc.algorithm"]])
                return name.encode() if buflen else name
            if opt in (TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT):
                if tp is not None:
                    return int({TCP_KEEPIDLE: tp.keepidle, TCP_KEEPINTVL: tp.keepintvl,
                                TCP_KEEPCNT: tp.keepcnt}[opt])
                k = self.layer.node.knobs
                idle, intvl, cnt = self.keep
                return int({TCP_KEEPIDLE: idle or k["net.inet.tcp.keepidle"] / 1000,
                            TCP_KEEPINTVL: intvl or k["net.inet.tcp.keepintvl"] / 1000,
                            TCP_KEEPCNT: cnt or k["net.inet.tcp.keepcnt"]}[opt])
            raise _err(errno.ENOPROTOOPT)
        return self.layer.ctloutput_get(self, level, opt, buflen)

    def tcp_info(self) -> dict[str, Any]:
        """What ``ss -ti`` shows of the connection (``TCP_INFO``)."""
        tp = self.tp
        if tp is None:
            return {"state": "CLOSED"}
        f = tp.t_flags
        both_ts = bool(f & TF_RCVD_TSTMP and f & TF_REQ_TSTMP)
        return {
            "state": TCPSTATES[tp.state] if not tp.gone else "CLOSED",
            "mss": tp.t_maxseg, "advmss": tp.t_maxopd, "peer_mss": tp.peer_mss,
            "snd_wscale": tp.snd_scale if f & TF_RCVD_SCALE else None,
            "rcv_wscale": tp.rcv_scale if f & TF_RCVD_SCALE else None,
            "sack": bool(f & TF_SACK_PERMIT), "ts": both_ts, "ecn": bool(f & TF_ECN_PERMIT),
            "rto": tp.t_rxtcur, "rtt": tp.t_srtt, "rttvar": tp.t_rttvar,
            "cwnd": tp.snd_cwnd, "ssthresh": tp.snd_ssthresh, "cc": tp.cc.name,
            "snd_wnd": tp.snd_wnd, "rcv_space": tp.rcv.space, "retrans": tp.t_sndrexmitpack,
        }


class StreamLayer:
    """What :class:`~kame.socket.layer.SocketLayer` gains for streams."""

    node: Any
    pcbs: PcbTable
    profile: Any
    _seq: int

    @property
    def _listeners(self) -> dict[int, list[StreamSocket]]:
        d: dict[int, list[StreamSocket]] | None = self.__dict__.get("_tcp_listeners")
        if d is None:
            d = self.__dict__["_tcp_listeners"] = {}
        return d

    def _new_stream(self, family: int, *, v6only: int | None = None) -> StreamSocket:
        if v6only is None:
            if self.node is not None:
                self.v6only_sysctl = self.node.knobs["net.inet6.ip6.v6only"]  # type: ignore[attr-defined]
            if self.profile.listening == "configurable":
                v6only = 1 if self.v6only_sysctl else 0  # type: ignore[attr-defined]
            else:
                v6only = self.profile.v6only_default
        s = StreamSocket(self, family, SOCK_STREAM, IPPROTO_TCP,  # type: ignore[arg-type]
                         v6only=v6only if family == AF_INET6 else 0)
        self._seq += 1
        s.seq = self._seq
        self.pcbs.append(s)
        return s

    def stream_socket(self, family: int, proto: int) -> StreamSocket:
        """``socket(family, SOCK_STREAM, 0 | IPPROTO_TCP)``."""
        if family not in (AF_INET, AF_INET6):
            raise _err(errno.EAFNOSUPPORT)
        if proto not in (0, IPPROTO_TCP):
            raise _err(errno.EPROTONOSUPPORT)
        return self._new_stream(family)

    def tcp_listen_lookup(self, laddr: Any, lport: int, scope: int) -> StreamSocket | None:
        """The listener for a SYN to ``laddr``.``lport``: an exact local
        address beats a wildcard; for IPv4 the profile's §1.12 rules
        (``_cover``: only ``AF_INET6`` wildcards without ``IPV6_V6ONLY``,
        and on KAME platforms only when no ``AF_INET`` listener matches)."""
        v6 = isinstance(laddr, IPv6Address)
        best: tuple[int, StreamSocket] | None = None
        # KAME's tcp_input: a SYN to a FAITH prefix (seed §3.1) finds only
        # a listener with IN6P_FAITH (setsockopt IPV6_FAITH), faithd's.
        faith = v6 and self.node is not None and any(
            laddr in n for n in getattr(self.node, "faith_prefixes", ()))
        for s in self._listeners.get(lport, ()):
            if s.closed or faith and not s.opts.get(IPV6_FAITH):
                continue
            c4, c6 = self._cover(s, s.laddr, deliver=True)  # type: ignore[attr-defined]
            cov = c6 if v6 else c4
            if cov is None:
                continue
            score = 2 if s.family == AF_INET else 1
            if cov != "*":
                if cov != laddr:
                    continue
                if v6 and s.lscope and scope and s.lscope != scope:
                    continue
                score += 4
            if not v6 and self.profile.bsd_delivery and s.family == AF_INET:
                score += 8  # KAME: the IPv4 table first (§1.12.2.1, .3.1, .4.1)
            if best is None or score > best[0] or (score == best[0] and s.seq > best[1].seq):
                best = (score, s)
        return best[1] if best is not None else None

    def poll(self, items: Any, timeout: float | None = None) -> list[tuple[Socket, int]]:
        """``poll(2)`` over ``(socket, events)`` pairs: the ready ones with their
        ``revents`` (``POLLIN``, ``POLLOUT``, ``POLLERR``, ``POLLHUP``). It never
        waits (sans-I/O: run the node, then poll again)."""
        if not isinstance(items, (list, tuple)) or len(items) > 65536:
            raise TypeError("poll takes a list of at most 65536 (socket, events) pairs")
        for it in items:
            if not (isinstance(it, tuple) and len(it) == 2 and hasattr(it[0], "so_error")
                    and type(it[1]) is int):
                raise TypeError("poll takes (socket, events) pairs")
        out = []
        for s, ev in items:
            r = self._revents(s) & (ev | POLLERR | POLLHUP)
            if r:
                out.append((s, r))
        return out

    @staticmethod
    def _revents(s: Socket) -> int:
        if s.closed:
            return select.POLLNVAL
        r = POLLERR if s.so_error else 0
        if not isinstance(s, StreamSocket):
            r |= POLLOUT
            if s.rcvq or s.type != SOCK_DGRAM and s.rcvq:
                r |= POLLIN
            return r
        if s.listening:
            return r | (POLLIN if s.acceptq else 0)
        tp = s.tp
        if tp is None:
            return r | POLLOUT | POLLHUP
        if tp.gone:
            r |= POLLHUP | POLLIN
            return r
        if len(tp.rcv) or havercvdfin(tp.state) or s.cantrcvmore:
            r |= POLLIN
        if tp.state >= TCPS_ESTABLISHED and tp.state != TCPS_CLOSED and not s.cantsendmore and \
                tp.snd.space >= min(2048, tp.snd.cap) and tp.state <= 5:
            r |= POLLOUT
        return r


__all__ = ["IPPROTO_TCP", "SOCK_STREAM", "TCPS_SYN_SENT", "StreamLayer", "StreamSocket"]
