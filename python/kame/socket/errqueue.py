"""Linux's socket error queue (``IP_RECVERR``, ``IPV6_RECVERR``): the ICMP
and ICMPv6 errors the node delivers about a datagram of a UDP or raw
socket, as ``__udp4_lib_err``, ``raw_err``, ``__udp6_lib_err`` and
``ip_icmp_error``/``ipv6_icmp_error`` treat them.

An error is mapped to an errno and a "hard" flag (``icmp_err_convert``,
``icmpv6_err_convert``). With the option on, it is queued on the socket
(connected or not) and made its pending error; off, a hard error is the
pending error of a connected socket only. ``recvmsg(MSG_ERRQUEUE)``
(:meth:`ErrQueue.recv_error`) gives the quoted payload, the destination
the datagram was sent to, ``MSG_ERRQUEUE`` in the flags and one control
message (``IP_RECVERR`` at ``IPPROTO_IP`` or ``IPV6_RECVERR`` at
``IPPROTO_IPV6``): a ``struct sock_extended_err`` (errno, origin
``SO_EE_ORIGIN_ICMP``/``_ICMP6``, type, code, info: the MTU of a
Fragmentation Needed or Packet Too Big, the pointer of a Parameter
Problem) and the offender, the ICMP message's source, at
``SO_EE_OFFENDER``. The pending error after it is the next queued error's
(``sock_dequeue_err_skb``), 0 when none is left. The queue is bounded as
``sock_queue_err_skb`` bounds it, by the receive buffer
(``net.core.rmem_default``) against each error's ``truesize``. Before
the extended error come the receive items the socket asked for
(``IP_PKTINFO``, ``IP_TTL``, ``IP_TOS``; ``IPV6_PKTINFO``,
``IPV6_HOPLIMIT``, ``IPV6_TCLASS`` and RFC 2292's) about the ICMP message
itself (``ipv4_datagram_support_cmsg``: ICMP origins, not local errors).
"""

from __future__ import annotations

import errno
import struct
from collections import deque
from dataclasses import replace
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from kame.scope6 import Scope, in6_addrscope
from kame.socket.const import AF_INET, AF_INET6, SOCK_DGRAM, SOCK_RAW
from kame.socket.sock import MSG_ERRQUEUE, Datagram, Socket

IPPROTO_IP, IPPROTO_IPV6 = 0, 41
IP_HDRINCL, IP_MTU_DISCOVER, IP_RECVERR, IPV6_RECVERR = 3, 10, 11, 25
IPV6_MTU_DISCOVER = 23
SO_EE_ORIGIN_LOCAL, SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6 = 1, 2, 3
MSG_TRUNC = 0x20
#: ``net.core.rmem_default``: a socket's ``sk_rcvbuf``
RMEM_DEFAULT = 212992
#: what an error's ``sk_buff`` costs besides its data (``SKB_TRUESIZE``:
#: the ``sk_buff`` and ``skb_shared_info``, x86-64)
SKB_OVERHEAD = 576


def truesize(size: int) -> int:
    """The ``truesize`` of an ICMP message of ``size`` octets: its data
    with the link's headroom in 64-octet cache lines, and the overhead
    (the kernel's loopback errors queue 255 of 67 octets, 166 of 556)."""
    return SKB_OVERHEAD + -(-(size + 128) // 64) * 64

#: ``icmp_err_convert``: Destination Unreachable code -> (errno, hard)
ICMP_ERR_CONVERT: tuple[tuple[int, bool], ...] = (
    (errno.ENETUNREACH, False), (errno.EHOSTUNREACH, False), (errno.ENOPROTOOPT, True),
    (errno.ECONNREFUSED, True), (errno.EMSGSIZE, False), (errno.EOPNOTSUPP, False),
    (errno.ENETUNREACH, True), (errno.EHOSTDOWN, True), (errno.ENONET, True),
    (errno.ENETUNREACH, True), (errno.EHOSTUNREACH, True), (errno.ENETUNREACH, False),
    (errno.EHOSTUNREACH, False), (errno.EHOSTUNREACH, True), (errno.EHOSTUNREACH, True),
    (errno.EHOSTUNREACH, True))
#: ``icmpv6_err_convert``'s Destination Unreachable codes
ICMP6_UNREACH: tuple[tuple[int, bool], ...] = (
    (errno.ENETUNREACH, False), (errno.EACCES, True), (errno.EHOSTUNREACH, False),
    (errno.EHOSTUNREACH, False), (errno.ECONNREFUSED, True), (errno.EACCES, True),
    (errno.EINVAL, True))


def icmp_err(t: int, code: int, rest: int, pmtudisc: int, raw: bool = False
             ) -> tuple[int, bool, int] | None:
    """(errno, hard, info) of an ICMP error to a UDP (``__udp4_lib_err``)
    or raw (``raw_err``) socket; None: not for the socket (Source Quench,
    a Fragmentation Needed with ``IP_PMTUDISC_DONT`` to a UDP one)."""
    if t == 3:
        if code == 4:
            if pmtudisc == 0 and not raw:
                return None
            return errno.EMSGSIZE, pmtudisc != 0, rest & 0xFFFF
        if code < len(ICMP_ERR_CONVERT):
            e, hard = ICMP_ERR_CONVERT[code]
            return e, hard, 0
        return errno.EHOSTUNREACH, False, 0
    if t == 12:
        return errno.EPROTO, True, (rest >> 24) & 0xFF
    if t == 4:
        return None
    return errno.EHOSTUNREACH, False, 0  # Time Exceeded and the rest


def icmp6_err(t: int, code: int, param: int, pmtudisc: int) -> tuple[int, bool, int]:
    """(errno, hard, info) of an ICMPv6 error (``icmpv6_err_convert``;
    a Packet Too Big is hard unless ``IPV6_PMTUDISC_DONT``)."""
    if t == 1:
        e, hard = ICMP6_UNREACH[code] if code < len(ICMP6_UNREACH) else \
            (errno.EPROTO, True)
        return e, hard, 0
    if t == 2:
        return errno.EMSGSIZE, pmtudisc != 0, param
    if t == 4:
        return errno.EPROTO, True, param
    return errno.EHOSTUNREACH, False, 0


class ErrQueue:
    """The error queue's half of :class:`kame.socket.layer.SocketLayer`."""

    def _udp4_err_sock(self, src: IPv4Address, sport: int, dst: IPv4Address,
                       dport: int) -> Socket | None:
        """``__udp4_lib_lookup`` of the datagram an error quotes, as if it
        came back: the socket connected that way first, else one bound
        to the port (and the address or the wildcard); AF_INET6 ones too,
        for what they sent to mapped addresses."""
        best: Socket | None = None
        for s in self.pcbs:  # type: ignore[attr-defined]
            if s.type != SOCK_DGRAM or s.lport != sport:
                continue
            if s.laddr is not None and int(s.laddr) and s.laddr != src:
                continue
            if s.faddr is not None:
                if s.faddr == dst and s.fport == dport:
                    return s  # type: ignore[no-any-return]
                continue
            best = best or s
        return best

    def icmp_rx(self, ifname: str, rx: tuple[int, int, IPv4Address] | None
                ) -> Datagram | None:
        """The ICMP message an IPv4 error came in (its TTL, TOS and
        destination, the interface) as the error queue keeps it."""
        if rx is None:
            return None
        node = self.node  # type: ignore[attr-defined]
        ifp = node.ifnets.get(ifname) if node is not None else None
        return Datagram(b"", IPv4Address(0), 0, rx[2], int(ifp.index) if ifp else 0,
                        rx[0], rx[1])

    def icmp6_rx(self, err: Any) -> Datagram | None:
        """The ICMPv6 message an error came in (``Icmp6ErrorInput``)."""
        if err.to is None:
            return None
        node = self.node  # type: ignore[attr-defined]
        ifp = node.ifnets.get(err.ifname) if node is not None else None
        return Datagram(b"", err.reporter, 0, err.to, int(ifp.index) if ifp else 0, err.hlim,
                        err.tclass)

    def udp4_pmtu_ignored(self, src: IPv4Address, sport: int, dst: IPv4Address,
                          dport: int) -> bool:
        """Whether the socket a Fragmentation Needed's quoted datagram came
        from ignores it (Linux, ``IP_PMTUDISC_INTERFACE``/``_OMIT``:
        ``ipv4_sk_update_pmtu`` checks ``ip_sk_accept_pmtu``), leaving the
        path MTU as it was."""
        if self.profile.name != "linux":  # type: ignore[attr-defined]
            return False
        s = self._udp4_err_sock(src, sport, dst, dport)
        return s is not None and int(s.ipopts.get(IP_MTU_DISCOVER, 1)) in (4, 5)

    def errq_put(self, s: Socket, data: bytes, name: tuple[Any, ...], level: int, typ: int,
                 ee: bytes, err: int, size: int, rx: Datagram | None = None) -> bool:
        """Queue an error (``sock_queue_err_skb``): refused once the queue's
        ``truesize`` would reach the receive buffer. ``size``: the ICMP
        message's octets; ``rx``: the ICMP message's header fields."""
        q = s.errq
        if q is None:
            q = s.errq = deque()
        charge = truesize(size)
        if sum(e[5] for e in q) + charge >= RMEM_DEFAULT:
            return False
        if rx is not None:  # what the ICMP message's transport header points at
            rx = replace(rx, data=data)
        q.append((data, name, level, typ, ee, charge, err, rx))
        return True

    def recv_error(self, s: Socket, bufsize: int
                   ) -> tuple[bytes, list[tuple[int, int, bytes]], int, tuple[Any, ...]]:
        """``ip_recv_error``/``ipv6_recv_error``: the oldest queued error,
        ``EAGAIN`` when there is none; the pending error becomes the next
        one's (``sock_dequeue_err_skb``)."""
        q = s.errq
        if not q:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        data, name, level, typ, ee, _charge, _err, rx = q.popleft()
        # sock_dequeue_err_skb: the next ICMP error's errno; an ICMP error
        # with no ICMP error after it clears it; a local error leaves it
        if q and q[0][4][4] != SO_EE_ORIGIN_LOCAL:
            s.so_error = q[0][6]
        elif ee[4] != SO_EE_ORIGIN_LOCAL:
            s.so_error = 0
        flags = MSG_ERRQUEUE
        if len(data) > bufsize:
            data, flags = data[:bufsize], flags | MSG_TRUNC
        # ip_recv_error/ipv6_recv_error: the ICMP message's own items first
        anc = s._rx_items(rx, errq=True) if rx is not None else []
        anc.append((level, typ, ee))
        return data, anc, flags, name

    def icmp_error4(self, s: Socket, t: int, code: int, reporter: IPv4Address,
                    dst: IPv4Address, dport: int, payload: bytes, size: int,
                    found: tuple[int, bool, int], rx: Datagram | None = None) -> None:
        """``ip_icmp_error`` when ``IP_RECVERR`` is on, and the pending error.
        An AF_INET6 socket's IPv4-mapped traffic queues by ``IP_RECVERR`` too
        (``inet->recverr``; ``IPV6_RECVERR`` does not count) and reads as
        ``ipv6_recv_error`` gives it: ``IPV6_RECVERR`` at ``IPPROTO_IPV6``
        with the ICMP origin, type and code, the offender and the
        destination mapped ``sockaddr_in6``s."""
        err, hard, info = found
        if s.ipopts.get(IP_RECVERR):
            ee = struct.pack("=IBBBBII", err, SO_EE_ORIGIN_ICMP, t, code, 0, info, 0)
            if s.family == AF_INET:
                ee += struct.pack("=HH4s8x", AF_INET, 0, reporter.packed)
                level, typ = IPPROTO_IP, IP_RECVERR
            else:
                ee += struct.pack("=HHI16sI", AF_INET6, 0, 0,
                                  b"\0" * 10 + b"\xff\xff" + reporter.packed, 0)
                level, typ = IPPROTO_IPV6, IPV6_RECVERR
            self.errq_put(s, payload, s._name(dst, dport, 0), level, typ, ee, err, size, rx)
        elif not hard or s.faddr is None:
            return
        s.so_error = err

    def ip_local_error(self, s: Socket, err: int, dst: IPv4Address, dport: int,
                       info: int) -> None:
        """``ip_local_error``: an error of our own sending to an IPv4
        destination (``EMSGSIZE`` past the MTU, ``info`` the MTU) queued with
        ``IP_RECVERR``: ``SO_EE_ORIGIN_LOCAL``, no offender, no payload, the
        connected port (0 unconnected); an AF_INET6 socket's mapped traffic
        reads as ``ipv6_recv_error`` gives it (``IPV6_RECVERR``, mapped
        ``sockaddr_in6``s)."""
        if not s.ipopts.get(IP_RECVERR):
            return
        ee = struct.pack("=IBBBBII", err, SO_EE_ORIGIN_LOCAL, 0, 0, 0, info, 0)
        if s.family == AF_INET:
            ee, level, typ = ee + bytes(16), IPPROTO_IP, IP_RECVERR
        else:
            ee, level, typ = ee + bytes(28), IPPROTO_IPV6, IPV6_RECVERR
        self.errq_put(s, b"", s._name(dst, dport, 0), level, typ, ee, err, 40)

    def ipv6_local_error(self, s: Socket, err: int, dst: IPv6Address, dport: int,
                         info: int) -> None:
        """``ipv6_local_error``: an error of our own sending (``EMSGSIZE``
        past the MTU, ``info`` the MTU) queued with ``IPV6_RECVERR``:
        ``SO_EE_ORIGIN_LOCAL``, no offender, no payload; the pending error
        stays as it was."""
        ee = struct.pack("=IBBBBII", err, SO_EE_ORIGIN_LOCAL, 0, 0, 0, info, 0) + bytes(28)
        self.errq_put(s, b"", s._name(dst, dport, 0), IPPROTO_IPV6, IPV6_RECVERR, ee, err, 40)

    def icmp_error6(self, s: Socket, t: int, code: int, reporter: IPv6Address, ifindex: int,
                    dst: IPv6Address, dport: int, payload: bytes, size: int,
                    found: tuple[int, bool, int], rx: Datagram | None = None) -> None:
        """``ipv6_icmp_error`` when ``IPV6_RECVERR`` is on, and the pending
        error (``__udp6_lib_err``)."""
        err, hard, info = found
        if s.opts.get(IPV6_RECVERR):
            # ipv6_iface_scope_id: link-local addresses only (not ::1)
            link = in6_addrscope(reporter) <= Scope.LINKLOCAL and int(reporter) != 1
            ee = struct.pack("=IBBBBII", err, SO_EE_ORIGIN_ICMP6, t, code, 0, info, 0) + \
                struct.pack("=HHI16sI", AF_INET6, 0, 0, reporter.packed,
                            ifindex if link else 0)
            sc = ifindex if in6_addrscope(dst) <= Scope.LINKLOCAL and int(dst) != 1 else 0
            self.errq_put(s, payload, s._name(dst, dport, sc), IPPROTO_IPV6, IPV6_RECVERR, ee,
                          err, size, rx)
        elif not hard or s.faddr is None:
            return
        s.so_error = err

    def rip_ctlinput(self, t: int, code: int, rest: int, reporter: IPv4Address,
                     inv: bytes, size: int, rx: Datagram | None = None) -> None:
        """``raw_icmp_error``/``raw_err``: an ICMP error about a datagram of
        protocol ``inv[9]`` reaches the raw sockets of that protocol (bound
        to its source, connected to its destination, if they are): queued
        with ``IP_RECVERR``, the payload after the quoted header
        (``IP_HDRINCL``: all of it); the pending error with the option or
        for a hard one on a connected socket."""
        if self.profile.name != "linux":  # type: ignore[attr-defined]
            return
        hl = (inv[0] & 0x0F) * 4
        proto = inv[9]
        osrc, odst = IPv4Address(inv[12:16]), IPv4Address(inv[16:20])
        for s in self.pcbs:  # type: ignore[attr-defined]
            if s.type != SOCK_RAW or s.family != AF_INET or s.proto != proto:
                continue
            if s.laddr is not None and int(s.laddr) and s.laddr != osrc or \
                    s.faddr is not None and s.faddr != odst:
                continue
            if not s.ipopts.get(IP_RECVERR) and s.faddr is None:
                continue
            found = icmp_err(t, code, rest, self.pmtudisc(s), raw=True)
            if found is None:
                continue
            payload = inv if s.ipopts.get(IP_HDRINCL) else inv[hl:]
            self.icmp_error4(s, t, code, reporter, odst, 0, payload, size, found, rx)

    def rip6_ctlinput(self, err: Any, inv: bytes) -> None:
        """``raw6_icmp_error``/``rawv6_err``: an ICMPv6 error about a packet
        of next header ``inv[6]`` reaches the raw sockets of that protocol
        (bound to its source, connected to its destination, if they are):
        queued with ``IPV6_RECVERR``, the payload past the quoted header;
        the pending error with the option or for a hard one on a connected
        socket (a Packet Too Big only with ``IPV6_PMTUDISC_DO``)."""
        if self.profile.name != "linux" or len(inv) < 48:  # type: ignore[attr-defined]
            return  # icmpv6_notify: 8 octets past the quoted header
        node = self.node  # type: ignore[attr-defined]
        ifp = node.ifnets.get(err.ifname) if node is not None else None
        ifindex = int(ifp.index) if ifp is not None else 0
        for s in self.pcbs:  # type: ignore[attr-defined]
            if s.type != SOCK_RAW or s.family != AF_INET6 or s.proto != inv[6]:
                continue
            if s.laddr is not None and int(s.laddr) and s.laddr != err.src or \
                    s.faddr is not None and s.faddr != err.dst:
                continue
            if not s.opts.get(IPV6_RECVERR) and s.faddr is None:
                continue
            pmd = s.opts.get(IPV6_MTU_DISCOVER, 1)
            e, hard, info = icmp6_err(err.type, err.code, int(err.param), pmd)
            if err.type == 2:
                hard = pmd == 2  # rawv6_err: hard only with IPV6_PMTUDISC_DO
            self.icmp_error6(s, err.type, err.code, err.reporter, ifindex, err.dst, 0,
                             inv[40:], 48 + len(inv), (e, hard, info), self.icmp6_rx(err))

    def pmtudisc(self, s: Socket) -> int:
        """``inet->pmtudisc`` (``IP_PMTUDISC_WANT`` by default)."""
        return int(s.ipopts.get(IP_MTU_DISCOVER, 1))
