"""``ip_ctloutput`` (``ip_output.c``, ``in_mcast.c``): ``setsockopt`` and
``getsockopt`` at ``IPPROTO_IP`` for AF_INET sockets — multicast
memberships (``IP_ADD_MEMBERSHIP``/``IP_DROP_MEMBERSHIP`` with an
``ip_mreq``, or Linux's ``ip_mreqn`` with an interface index), which
join and leave through the node's IGMP (:mod:`kame.inet.igmp`);
source filters (``IP_ADD_SOURCE_MEMBERSHIP``/``IP_DROP_SOURCE_MEMBERSHIP``,
``IP_BLOCK_SOURCE``/``IP_UNBLOCK_SOURCE`` with an ``ip_mreq_source``, RFC
3678); RFC 3678's protocol-independent options for AF_INET and AF_INET6
sockets alike (``MCAST_JOIN_GROUP``, ``MCAST_LEAVE_GROUP``,
``MCAST_JOIN_SOURCE_GROUP``, ``MCAST_LEAVE_SOURCE_GROUP``,
``MCAST_BLOCK_SOURCE``, ``MCAST_UNBLOCK_SOURCE`` with a ``group_req`` or
``group_source_req``, the numbers and ``sockaddr`` layout of the profile's
kernel: Linux's 42-47, FreeBSD's 80-85) and the full-state API
(:func:`setsourcefilter`/:func:`getsourcefilter`, Linux's
``MCAST_MSFILTER``), IPv6 memberships going to the node's MLD
(:meth:`kame.node.Node.setsourcefilter`);
``IP_MULTICAST_IF``/``_TTL``/``_LOOP``, ``IP_TTL``, ``IP_TOS`` and, on
raw sockets, ``IP_HDRINCL``. Path MTU discovery: Linux's
``IP_MTU_DISCOVER`` (``IP_PMTUDISC_DONT`` to ``_OMIT``: DF on the
socket's UDP and raw datagrams and the MTU above which they are
``EMSGSIZE`` or fragmented, as ``ip_dont_fragment``, ``ip_sk_ignore_df``
and ``ip_sk_use_pmtu`` decide) and ``IP_MTU`` (a connected socket's route
MTU, else ``ENOTCONN``); FreeBSD's ``IP_DONTFRAG``. Linux's
``IP_UNICAST_IF`` (the interface, by its index in network byte order, a
unicast datagram is routed through) and ``IP_MSFILTER`` (RFC 3678
§4.1.2's full-state API, a ``struct ip_msfilter`` to set and to get).

Errors as the kernels give them: a group that is not multicast is
``EINVAL``; an interface address not ours ``EADDRNOTAVAIL``; no
interface for the group ``ENODEV`` (Linux) or ``EADDRNOTAVAIL`` (BSD);
a group joined twice ``EADDRINUSE``; dropping one not joined
``EADDRNOTAVAIL``; more than ``IP_MAX_MEMBERSHIPS`` on one socket
``ETOOMANYREFS`` (BSD, 4095) or ``ENOBUFS`` (Linux, 20,
``igmp_max_memberships``); a full interface group table ``ENOBUFS``.
"""

from __future__ import annotations

import errno
import socket as _hostsock
import struct
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

from kame.socket.const import AF_INET, AF_INET6, IPPROTO_IPV6, SOCK_RAW, _err, _octets
from kame.socket.pcb import In6Pcb
from kame.socket.sock import Socket, _ival

IPPROTO_IP = 0
IP_TOS = _hostsock.IP_TOS
IP_TTL = _hostsock.IP_TTL
IP_HDRINCL = _hostsock.IP_HDRINCL
IP_MULTICAST_IF = _hostsock.IP_MULTICAST_IF
IP_MULTICAST_TTL = _hostsock.IP_MULTICAST_TTL
IP_MULTICAST_LOOP = _hostsock.IP_MULTICAST_LOOP
IP_ADD_MEMBERSHIP = _hostsock.IP_ADD_MEMBERSHIP
#: Linux's IPv4 receive options (``<linux/in.h>``): each names the control
#: message it turns on (IP_RECVTTL gives ``IP_TTL``, IP_RECVTOS ``IP_TOS``).
IP_PKTINFO = 8
IP_RECVTTL = 12
IP_RECVTOS = 13
IP_RECVORIGDSTADDR = 20
IP_ORIGDSTADDR = IP_RECVORIGDSTADDR
_IPV6_PKTINFO = _hostsock.IPV6_PKTINFO
#: FreeBSD's (``<netinet/in.h>``): ``IP_RECVDSTADDR`` (an ``in_addr``),
#: ``IP_RECVTTL`` and ``IP_RECVTOS`` (a ``u_char`` each, under their own type).
BSD_IP_RECVDSTADDR = 7
BSD_IP_SENDSRCADDR = BSD_IP_RECVDSTADDR  # on output (udp_output)
BSD_IP_RECVTTL = 65
BSD_IP_RECVTOS = 68
_RECV_LINUX = (IP_PKTINFO, IP_RECVTTL, IP_RECVTOS, IP_RECVORIGDSTADDR)
_RECV_BSD = (BSD_IP_RECVDSTADDR, BSD_IP_RECVTTL, BSD_IP_RECVTOS)
IP_DROP_MEMBERSHIP = _hostsock.IP_DROP_MEMBERSHIP
#: Linux's ``inet->mc_all`` (``<linux/in.h>``): an IPv4 multicast datagram
#: reaches a socket that has no membership of its group on the interface it
#: came in on (1 on AF_INET sockets, 0 on AF_INET6 ones).
IP_MULTICAST_ALL = 49
#: Linux's path MTU discovery (``<linux/in.h>``): ``IP_MTU_DISCOVER`` sets
#: ``inet->pmtudisc`` to one of ``IP_PMTUDISC_*`` (WANT by default,
#: ``net.ipv4.ip_no_pmtu_disc`` 0); ``IP_MTU`` reads a connected socket's
#: route MTU.
IP_MTU_DISCOVER = 10
IP_MTU = 14
IP_PMTUDISC_DONT, IP_PMTUDISC_WANT, IP_PMTUDISC_DO = 0, 1, 2
IP_PMTUDISC_PROBE, IP_PMTUDISC_INTERFACE, IP_PMTUDISC_OMIT = 3, 4, 5
#: what each mode asks of ``ip_output`` (kame.inet.output): DF, and the
#: MTU that bounds a datagram (``ip_dont_fragment``, ``ip_sk_ignore_df``,
#: ``ip_sk_use_pmtu``)
PMTUDISC_DF: dict[int, bool | str] = {
    IP_PMTUDISC_DONT: False, IP_PMTUDISC_WANT: "want", IP_PMTUDISC_DO: True,
    IP_PMTUDISC_PROBE: "probe", IP_PMTUDISC_INTERFACE: "interface", IP_PMTUDISC_OMIT: "omit"}
#: Linux's ``IP_UNICAST_IF`` (``inet->uc_index``): the interface (its index
#: in network byte order, an int of exactly 4 octets) a datagram that is
#: not multicast leaves by, routed through it only.
IP_UNICAST_IF = 50
#: Linux's ``IP_RECVERR`` (``inet->recverr``): ICMP errors queued on the
#: socket for ``recvmsg(MSG_ERRQUEUE)`` (kame.socket.errqueue); off, the
#: queue is purged.
IP_RECVERR = 11
#: RFC 3678 §4.1.2's full-state IPv4 API (Linux's number): a ``struct
#: ip_msfilter`` (group, interface address, mode, number of sources, the
#: sources) to set, and the same to get with the room for sources.
IP_MSFILTER = 41
IP_MSFILTER_HDR = 16
#: FreeBSD's ``IP_DONTFRAG`` (``<netinet/in.h>``): ``INP_DONTFRAG``, DF on
#: the socket's UDP and raw datagrams (``udp_output``, ``rip_output``),
#: ``EMSGSIZE`` from ``ip_output`` for one above the path MTU.
BSD_IP_DONTFRAG = 67
#: ``s.ipopts`` key of Linux's ``inet->mc_addr``: the address
#: ``IP_MULTICAST_IF`` named (what it reads back, the source of multicast
#: sends), next to the interface (under ``IP_MULTICAST_IF``).
_MC_ADDR = -2
#: RFC 3678 §4.1.2 source filters (Linux's numbers, ``<linux/in.h>``).
IP_UNBLOCK_SOURCE = 37
IP_BLOCK_SOURCE = 38
IP_ADD_SOURCE_MEMBERSHIP = 39
IP_DROP_SOURCE_MEMBERSHIP = 40
_SOURCE_OPTS = (IP_ADD_SOURCE_MEMBERSHIP, IP_DROP_SOURCE_MEMBERSHIP, IP_BLOCK_SOURCE,
                IP_UNBLOCK_SOURCE)
#: RFC 3678 §5.1 (Linux's numbers, ``<linux/in.h>``, at IPPROTO_IP and IPPROTO_IPV6).
MCAST_JOIN_GROUP = 42
MCAST_BLOCK_SOURCE = 43
MCAST_UNBLOCK_SOURCE = 44
MCAST_LEAVE_GROUP = 45
MCAST_JOIN_SOURCE_GROUP = 46
MCAST_LEAVE_SOURCE_GROUP = 47
MCAST_MSFILTER = 48
#: FreeBSD's (``<netinet/in.h>``; its full-state API is ``IP_MSFILTER``, not an option here).
BSD_MCAST_JOIN_GROUP, BSD_MCAST_LEAVE_GROUP = 80, 81
BSD_MCAST_JOIN_SOURCE_GROUP, BSD_MCAST_LEAVE_SOURCE_GROUP = 82, 83
BSD_MCAST_BLOCK_SOURCE, BSD_MCAST_UNBLOCK_SOURCE = 84, 85
MCAST_INCLUDE, MCAST_EXCLUDE = 1, 2
#: option number -> what it does, per kernel
_MCAST_LINUX = {MCAST_JOIN_GROUP: "join", MCAST_LEAVE_GROUP: "leave",
                MCAST_JOIN_SOURCE_GROUP: "join_src", MCAST_LEAVE_SOURCE_GROUP: "leave_src",
                MCAST_BLOCK_SOURCE: "block", MCAST_UNBLOCK_SOURCE: "unblock",
                MCAST_MSFILTER: "msfilter"}
_MCAST_BSD = {BSD_MCAST_JOIN_GROUP: "join", BSD_MCAST_LEAVE_GROUP: "leave",
              BSD_MCAST_JOIN_SOURCE_GROUP: "join_src", BSD_MCAST_LEAVE_SOURCE_GROUP: "leave_src",
              BSD_MCAST_BLOCK_SOURCE: "block", BSD_MCAST_UNBLOCK_SOURCE: "unblock"}
#: ``struct group_req`` (interface, padding, ``sockaddr_storage``) and
#: ``struct group_source_req`` (one more ``sockaddr_storage``), LP64.
GROUP_REQ_LEN, GROUP_SOURCE_REQ_LEN, SS_LEN = 136, 264, 128
_Addr = IPv4Address | IPv6Address
_ALLHOSTS = IPv4Address("224.0.0.1")


def ip_optval(value: Any, linux: bool) -> int:
    """An ``IPPROTO_IP`` integer option value as the kernel reads it. Linux
    ``do_ip_setsockopt``: four octets or more are an int, one to three
    the first octet, none 0. The BSDs' ``sooptcopyin(sopt, &optval, 4, 4)``:
    fewer than four octets are ``EINVAL``, more are cut to an int."""
    if not isinstance(value, (bytes, bytearray, memoryview)):
        return _ival(value)
    b = bytes(value)
    if len(b) >= 4:
        return int(struct.unpack("=i", b[:4])[0])
    if not linux:
        raise _err(errno.EINVAL, "an int option value")
    return b[0] if b else 0


def _optbytes(value: Any, what: str) -> bytes:
    """A structure option's octets: an int is its four native octets, as
    ``setsockopt(2)`` gets them from Python's ``socket.setsockopt``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return struct.pack("=i", value) if -(2**31) <= value < 2**31 else \
            struct.pack("=I", value & 0xFFFFFFFF)
    return _octets(value, what)


def mcast_opts(profile: str) -> dict[int, str]:
    """The RFC 3678 option numbers of a profile's kernel."""
    return _MCAST_LINUX if profile == "linux" else _MCAST_BSD


class _NoList(tuple):  # type: ignore[type-arg]
    """The order of a filter that has a mode and no source list (Linux's
    ``pmc->sflist`` NULL): an IPv4 membership whose mode a source call
    switched, or one a full-state call gave no sources; its mode switches
    again as an any-source membership's does (``ip_mc_source``)."""

    __slots__ = ()


_NOLIST = _NoList()


def _msf_put(s: Socket, key: Any, new: tuple[int, frozenset[Any]],
             order: list[Any] | None = None) -> None:
    """Store a membership's filter, and its sources in Linux's order: a
    full-state filter as given (``order``, a source given twice kept
    twice, as ``ip_mc_msfilter`` and ``ip6_mc_msfilter`` copy the list),
    else the sources kept in their order and the new ones after them
    (``ip6_mc_source`` appends)."""
    srcs = new[1]
    if order is not None and not srcs:
        seq: tuple[Any, ...] = _NOLIST  # ip_mc_msfilter: no sources, no list
    elif order is not None:
        seq = tuple(a for a in order if a in srcs)
    else:
        old = s.msf_order.get(key, ())
        kept = tuple(a for a in old if a in srcs)
        seq = kept + tuple(sorted(srcs - set(kept), key=int))
    s.msf[key] = new
    s.msf_order[key] = seq


def _msf_pop(s: Socket, key: Any) -> tuple[int, frozenset[Any]] | None:
    s.msf_order.pop(key, None)
    return s.msf.pop(key, None)


def _ss_linux(a: _Addr) -> bytes:
    """A ``sockaddr_in``/``sockaddr_in6`` in a Linux ``sockaddr_storage``."""
    if isinstance(a, IPv6Address):
        b = struct.pack("=HHI", 10, 0, 0) + a.packed + bytes(4)
    else:
        b = struct.pack("=HH", 2, 0) + a.packed
    return b.ljust(SS_LEN, b"\0")


def _ss_bsd(a: _Addr, af6: int = 28) -> bytes:
    """The same in a BSD ``sockaddr_storage`` (length and family octets)."""
    if isinstance(a, IPv6Address):
        b = struct.pack("=BBHI", 28, af6, 0, 0) + a.packed + bytes(4)
    else:
        b = struct.pack("=BBH", 16, 2, 0) + a.packed + bytes(8)
    return b.ljust(SS_LEN, b"\0")


def _addr(a: object, what: str) -> _Addr:
    if isinstance(a, (IPv4Address, IPv6Address)):
        return a
    if not isinstance(a, str):
        raise TypeError(f"{what}: an address string or ipaddress object, not {type(a).__name__}")
    return ip_address(a)


def _ss(a: str | _Addr, profile: str) -> bytes:
    from kame.socket.profiles import PROFILES
    addr = _addr(a, "address")
    if profile == "linux":
        return _ss_linux(addr)
    p = PROFILES.get(profile)  # the platform's AF_INET6 (NetBSD's 24)
    return _ss_bsd(addr, p.af_inet6 if p is not None else 28)


def group_req(interface: int, group: str | _Addr, profile: str = "linux") -> bytes:
    """A ``struct group_req`` as the profile's kernel lays it out."""
    if type(interface) is not int or not 0 <= interface <= 0xFFFFFFFF:
        raise ValueError("interface: an index from 0 to 2**32 - 1")
    return struct.pack("=I4x", interface) + _ss(group, profile)


def group_source_req(interface: int, group: str | _Addr, source: str | _Addr,
                     profile: str = "linux") -> bytes:
    """A ``struct group_source_req``."""
    return group_req(interface, group, profile) + _ss(source, profile)


def _check(s: object, interface: object) -> Socket:
    if not isinstance(s, Socket):
        raise TypeError(f"a kame.socket.Socket, not {type(s).__name__}")
    if type(interface) is not int or not 0 <= interface <= 0xFFFFFFFF:
        raise ValueError("interface: an index from 0 to 2**32 - 1")
    s._check_open()
    return s


def setsourcefilter(s: Socket, interface: int, group: str | _Addr, fmode: int,
                    sources: Iterable[str | _Addr]) -> None:
    """RFC 3678 §5.2.1's ``setsourcefilter``: the socket's whole filter for
    ``group`` on ``interface`` (the membership must exist; INCLUDE({})
    leaves; ``fmode`` in the profile's numbers: Linux's EXCLUDE is 0)."""
    sock = _check(s, interface)
    if type(fmode) is not int:
        raise TypeError("fmode: an int")
    srcs = [_addr(a, "source") for a in sources]
    sock.layer.mcast_setfilter(sock, interface, _addr(group, "group"), fmode, srcs)


def getsourcefilter(s: Socket, interface: int, group: str | _Addr) -> tuple[int, list[_Addr]]:
    """RFC 3678 §5.2.1's ``getsourcefilter``: (fmode, sources)."""
    sock = _check(s, interface)
    return sock.layer.mcast_getfilter(sock, interface, _addr(group, "group"))  # type: ignore[no-any-return]


class InCtloutput(In6Pcb):
    """``IPPROTO_IP`` options for a :class:`~kame.socket.layer.SocketLayer`."""

    def ip_ctloutput_set(self, s: Socket, opt: int, value: Any) -> None:
        if s.family != AF_INET:
            self._ip_on_inet6(s, opt)
        if self.mcast_ctloutput_set(s, opt, value, AF_INET):
            return
        o = s.ipopts
        linux = self.profile.name == "linux"
        if linux and self._lx_mc_set(s, opt, value):
            return
        if opt in (IP_ADD_MEMBERSHIP, IP_DROP_MEMBERSHIP):
            g, ifname = self._ip_mreq(_octets(value, "ip_mreq"), opt == IP_ADD_MEMBERSHIP)
            if opt == IP_ADD_MEMBERSHIP:
                self.in_join(s, g, ifname)
            else:
                self.in_leave(s, g, ifname, strict=True)
            return
        if opt in _SOURCE_OPTS:
            b = _octets(value, "ip_mreq_source")
            if len(b) != 12:
                raise _err(errno.EINVAL, "ip_mreq_source is 12 octets")
            # Linux: group, interface, source; the BSDs: group, source, interface
            src = IPv4Address(b[8:12] if linux else b[4:8])
            g, ifname = self._ip_mreq(b[:4] + (b[4:8] if linux else b[8:12]),
                                      opt in (IP_ADD_SOURCE_MEMBERSHIP, IP_BLOCK_SOURCE))
            self.in_source(s, opt, g, src, ifname)
            return
        if opt == IP_MULTICAST_IF:
            b = _octets(value, "IP_MULTICAST_IF") if not isinstance(value, int) else \
                struct.pack("!I", value)
            if len(b) not in (4, 8, 12):
                raise _err(errno.EINVAL, "an in_addr or ip_mreqn")
            a = IPv4Address(b[4:8] if len(b) >= 8 else b[:4])
            idx = struct.unpack("=i", b[8:12])[0] if len(b) == 12 else 0
            if idx:
                o[opt] = self.ifname(idx)
            elif int(a):
                ifa = self.node.inet.find(a) if self.node is not None else None
                if ifa is None:
                    raise _err(errno.EADDRNOTAVAIL, "IP_MULTICAST_IF address")
                o[opt] = ifa.ifname
            else:
                o.pop(opt, None)
            return
        v = ip_optval(value, linux)
        if linux and opt in (IP_MULTICAST_TTL, IP_MULTICAST_LOOP) and (
                s.type == _hostsock.SOCK_STREAM and opt == IP_MULTICAST_TTL or
                isinstance(value, (bytes, bytearray, memoryview)) and not len(value)):
            raise _err(errno.EINVAL, "do_ip_setsockopt: no value, or a stream socket")
        if opt == IP_TTL:
            if not linux:
                o[opt] = v & 0xFF  # ip_ctloutput: inp_ip_ttl = optval (a u_char)
                return
            if v == -1:
                o.pop(opt, None)  # the route's hop limit (sysctl_ip_default_ttl)
                return
            if not 1 <= v <= 255:
                raise _err(errno.EINVAL, "TTL")
            o[opt] = v
            return
        if opt == IP_MULTICAST_TTL:
            if v == -1:
                o.pop(opt, None)
                return
            if not 0 <= v <= 255:
                raise _err(errno.EINVAL, "TTL")
            o[opt] = v
            return
        if opt == IP_TOS:
            # Linux __ip_sock_set_tos and the BSDs' inp_ip_tos: a u_char,
            # no range check; a stream socket keeps its ECN bits (Linux)
            v &= 0xFF
            if linux and s.type == _hostsock.SOCK_STREAM:
                v = v & ~0x03 | o.get(opt, 0) & 0x03
            o[opt] = v
            return
        if opt in (_RECV_LINUX if linux else _RECV_BSD):
            o[opt] = 1 if v else 0
            return
        if linux and opt == IP_UNICAST_IF:
            self._unicast_if(s, value)
            return
        if linux and opt == IP_RECVERR:
            o[opt] = 1 if v else 0
            if not v:
                s.errq = None  # skb_errqueue_purge
            return
        if linux and opt == IP_MTU_DISCOVER:
            if v not in PMTUDISC_DF:
                raise _err(errno.EINVAL, "IP_MTU_DISCOVER: IP_PMTUDISC_DONT to _OMIT")
            o[opt] = v
            return
        if opt == BSD_IP_DONTFRAG and self.profile.name.startswith("freebsd"):
            o[opt] = 1 if v else 0  # OPTSET(INP_DONTFRAG)
            return
        if opt == IP_MULTICAST_LOOP:
            o[opt] = 1 if v else 0  # any other value is "on" (Linux, in_mcast.c: !!loop)
            return
        if opt == IP_HDRINCL:
            if s.type != SOCK_RAW:
                raise _err(errno.ENOPROTOOPT if linux else errno.EINVAL,
                           "IP_HDRINCL on a raw socket")
            o[opt] = 1 if v else 0
            return
        raise _err(errno.ENOPROTOOPT)

    def _ip_on_inet6(self, s: Socket, opt: int) -> None:
        """``IPPROTO_IP`` on an AF_INET6 socket. Linux (``ipv6_setsockopt``,
        ``ipv6_getsockopt``): a UDP or TCP socket hands the level to
        ``ip_setsockopt``/``ip_getsockopt``, every option of it, which apply
        to the IPv4 (mapped) traffic it sends and receives (the interface
        of its multicast, its IPv4 memberships and their source filters);
        a raw one refuses the level (``ENOPROTOOPT``). The BSDs'
        ``ip6_ctloutput`` takes no level but IPPROTO_IPV6 (``EINVAL``)."""
        if self.profile.name != "linux":
            raise _err(errno.EINVAL, "ip6_ctloutput: level IPPROTO_IP")
        if s.type == SOCK_RAW:
            raise _err(errno.ENOPROTOOPT, "IPPROTO_IP on an AF_INET6 raw socket")

    # --- Linux's IPv4 multicast options (ip_sockglue.c, igmp.c) --------------

    def _lx_mc_set(self, s: Socket, opt: int, value: Any) -> bool:
        """Linux ``do_ip_setsockopt``'s multicast options, for AF_INET and
        (handed over by ``ipv6_setsockopt``) AF_INET6 sockets alike: False
        for another option. ``IP_MULTICAST_IF``: an ``in_addr``, ``ip_mreq``
        or ``ip_mreqn`` by the length (fewer than 4 octets, or a stream
        socket, ``EINVAL``; an address or index of no interface
        ``EADDRNOTAVAIL``); ``IP_MULTICAST_ALL``: 0 or 1; the memberships
        (``ip_mreq`` from 8 octets, ``ip_mreqn`` from 12; a stream socket
        ``EPROTO``) and source filters (an ``ip_mreq_source``, exactly 12
        octets) as ``ip_mc_join_group``, ``ip_mc_leave_group`` and
        ``ip_mc_source`` give them."""
        o = s.ipopts
        if opt == IP_MULTICAST_ALL:
            if isinstance(value, (bytes, bytearray, memoryview)) and not len(value):
                raise _err(errno.EINVAL, "IP_MULTICAST_ALL: no value")
            v = ip_optval(value, True)
            if v not in (0, 1):
                raise _err(errno.EINVAL, "IP_MULTICAST_ALL is 0 or 1")
            o[opt] = v
            return True
        if opt == IP_MULTICAST_IF:
            if s.type == _hostsock.SOCK_STREAM:
                raise _err(errno.EINVAL, "IP_MULTICAST_IF on a stream socket")
            b = _optbytes(value, "IP_MULTICAST_IF")
            if len(b) < 4:
                raise _err(errno.EINVAL, "an in_addr, ip_mreq or ip_mreqn")
            a = IPv4Address(b[4:8] if len(b) >= 8 else b[:4])
            idx = struct.unpack("=i", b[8:12])[0] if len(b) >= 12 else 0
            if not idx and not int(a):
                o.pop(opt, None)
                o.pop(_MC_ADDR, None)
                return True
            ifi = self._lx_dev(a, idx)
            if ifi is None:
                raise _err(errno.EADDRNOTAVAIL, "IP_MULTICAST_IF: no such interface")
            o[opt] = self.ifname(ifi)
            o[_MC_ADDR] = a
            return True
        if opt in (IP_ADD_MEMBERSHIP, IP_DROP_MEMBERSHIP):
            if s.type == _hostsock.SOCK_STREAM:
                raise _err(errno.EPROTO, "a membership on a connection socket")
            b = _optbytes(value, "ip_mreqn")
            if len(b) < 8:
                raise _err(errno.EINVAL, "ip_mreq is 8 octets, ip_mreqn 12")
            g, a = IPv4Address(b[:4]), IPv4Address(b[4:8])
            idx = struct.unpack("=i", b[8:12])[0] if len(b) >= 12 else 0
            if opt == IP_ADD_MEMBERSHIP:
                self._lx_join(s, g, a, idx)
            else:
                self._lx_leave(s, g, a, idx)
            return True
        if opt == IP_MSFILTER:
            self._lx_msfilter(s, _optbytes(value, "ip_msfilter"))
            return True
        if opt in _SOURCE_OPTS:
            b = _optbytes(value, "ip_mreq_source")
            if len(b) != 12:
                raise _err(errno.EINVAL, "ip_mreq_source is 12 octets")
            kind = {IP_ADD_SOURCE_MEMBERSHIP: "join_src", IP_DROP_SOURCE_MEMBERSHIP: "leave_src",
                    IP_BLOCK_SOURCE: "block", IP_UNBLOCK_SOURCE: "unblock"}[opt]
            self._lx_source(s, kind, IPv4Address(b[:4]), IPv4Address(b[4:8]), 0,
                            IPv4Address(b[8:12]))
            return True
        return False

    def _lx_msfilter(self, s: Socket, b: bytes) -> None:
        """``setsockopt(IP_MSFILTER)`` (``do_ip_setsockopt``,
        ``ip_mc_msfilter``): shorter than the header ``EINVAL``; more
        sources than a socket may have ``ENOBUFS``; fewer octets than the
        sources counted ``EINVAL``; then as ``MCAST_MSFILTER`` with the
        interface an ``ip_mreq`` names (none: ``ENODEV``)."""
        if len(b) < IP_MSFILTER_HDR:
            raise _err(errno.EINVAL, "ip_msfilter")
        g, a = IPv4Address(b[:4]), IPv4Address(b[4:8])
        fmode, n = struct.unpack("=II", b[8:16])
        if n >= 0x3FFFFFFC or n > (self.maxsocksrc4() if self.node is not None else 0):
            raise _err(errno.ENOBUFS, "imsf_numsrc")
        if IP_MSFILTER_HDR + 4 * n > len(b):
            raise _err(errno.EINVAL, "ip_msfilter: fewer sources than imsf_numsrc")
        if not g.is_multicast or fmode not in (0, 1):
            raise _err(errno.EINVAL, "a multicast group and a filter mode")
        ifi = self._lx_find_dev(g, a, 0)
        if ifi is None:
            raise _err(errno.ENODEV, "no interface for the group")
        srcs: list[Any] = [IPv4Address(b[16 + 4 * i:20 + 4 * i]) for i in range(n)]
        self.mcast_setfilter(s, ifi, g, fmode, srcs)

    def _lx_msfget(self, s: Socket, b: bytes) -> bytes:
        """``getsockopt(IP_MSFILTER)`` (``ip_mc_msfget``): ``b`` the
        ``ip_msfilter`` passed in (group, interface address, the room for
        sources in ``imsf_numsrc``); the header back with the mode (0
        EXCLUDE, 1 INCLUDE) and the number of sources, then as many as fit.
        Shorter than the header ``EINVAL``, a group not multicast
        ``EINVAL``, no interface ``ENODEV``, no membership ``EADDRNOTAVAIL``."""
        if len(b) < IP_MSFILTER_HDR:
            raise _err(errno.EINVAL, "ip_msfilter")
        g, a = IPv4Address(b[:4]), IPv4Address(b[4:8])
        room = struct.unpack("=I", b[12:16])[0]
        if not g.is_multicast:
            raise _err(errno.EINVAL, "not a multicast group")
        ifi = self._lx_find_dev(g, a, 0)
        if ifi is None:
            raise _err(errno.ENODEV, "no interface for the group")
        key = (g, ifi)
        if key not in s.groups:
            raise _err(errno.EADDRNOTAVAIL, "not a member of the group there")
        mode, srcs = s.msf.get(key, (MCAST_EXCLUDE, frozenset()))  # type: ignore[call-overload]
        ordered = s.msf_order.get(key) or sorted(srcs, key=int)  # type: ignore[call-overload]
        return (b[:8] + struct.pack("=II", 0 if mode == MCAST_EXCLUDE else 1, len(ordered))
                + b"".join(x.packed for x in ordered[:room]))

    def _lx_dev(self, a: IPv4Address, idx: int) -> int | None:
        """The interface index an ``ip_mreqn`` names (Linux
        ``ip_mc_find_dev``'s first steps): by index, else by one of our
        addresses (``127/8`` is the loopback's); ``None`` for none."""
        if self.node is None:
            return None
        if idx:
            return idx if idx in self.node.zones.by_index else None
        if int(a) >> 24 == 127:
            return self._loif(a)  # type: ignore[attr-defined, no-any-return]
        ifa = self.node.inet.find(a)
        return self.ifindex(ifa.ifname) if ifa is not None else None

    def _lx_find_dev(self, g: IPv4Address, a: IPv4Address, idx: int) -> int | None:
        """``ip_mc_find_dev``: the index, the address's interface, else the
        interface of the route to the group; none of these ``None`` (the
        caller's ``ENODEV``: a node with no route to the group, neither a
        default one nor 224.0.0.0/4, joins nothing without an interface)."""
        if idx or int(a):
            return self._lx_dev(a, idx)
        if self.node is None:
            return None
        if not int(g) or self._is_local4(g):  # type: ignore[attr-defined]
            return self._loif(g)  # type: ignore[attr-defined, no-any-return]  # a local route
        inet = self.node.inet
        rt = inet.rtalloc(g)
        return self.ifindex(rt.ifname) if rt is not None else None

    @staticmethod
    def _lx_in_count(s: Socket) -> None:
        if sum(isinstance(x, IPv4Address) for x, _i in s.groups) >= 20:
            raise _err(errno.ENOBUFS, "igmp_max_memberships")

    def _lx_join(self, s: Socket, g: IPv4Address, a: IPv4Address, idx: int) -> int:
        """``ip_mc_join_group``: a unicast group ``EINVAL``, no interface
        ``ENODEV``, joined there already ``EADDRINUSE``, the socket's
        ``igmp_max_memberships`` (20) reached ``ENOBUFS``. The interface index."""
        if not g.is_multicast:
            raise _err(errno.EINVAL, "not a multicast group")
        ifi = self._lx_find_dev(g, a, idx)
        if ifi is None:
            raise _err(errno.ENODEV, "no interface for the group")
        if (g, ifi) in s.groups:
            raise _err(errno.EADDRINUSE, "a member already")
        self._lx_in_count(s)
        e = self.node.inet.in_joingroup(self.ifname(ifi), g, self.now)
        if e:
            raise _err(e)
        s.groups.add((g, ifi))
        s.in_mreq[(g, ifi)] = a
        return ifi

    def _lx_leave(self, s: Socket, g: IPv4Address, a: IPv4Address, idx: int) -> None:
        """``ip_mc_leave_group``: the membership on the index, else on the
        address's interface, else on the route's; an address of no
        interface matches the address the join named; none of these
        ``ENODEV``; no such membership ``EADDRNOTAVAIL`` (a unicast
        group too)."""
        ifi = self._lx_find_dev(g, a, idx)
        if not idx and not int(a) and ifi is None:
            raise _err(errno.ENODEV, "no interface for the group")
        key: tuple[IPv4Address, int] | None = None
        if idx or ifi is not None:
            k = (g, idx or ifi or 0)
            key = k if k in s.groups else None
        else:  # the newest membership whose join named that address
            key = next((k for k, addr in reversed(s.in_mreq.items())
                        if k[0] == g and addr == a), None)
        if key is None:
            raise _err(errno.EADDRNOTAVAIL, "not a member of the group")
        self.mcast_leave(s, g, key[1])

    def maxsocksrc4(self) -> int:
        """The sources one socket's IPv4 filter of a group may hold: Linux's
        ``net.ipv4.igmp_max_msf`` (``net.inet.ip.igmp_max_msf``, 10) on the
        Linux profile, FreeBSD's ``net.inet.ip.mcast_maxsocksrc`` (128) on
        the others."""
        knobs = self.node.knobs
        return int(knobs["net.inet.ip.igmp_max_msf" if self.profile.name == "linux"
                         else "net.inet.ip.mcast_maxsocksrc"])

    def maxsocksrc6(self) -> int:
        """The sources one socket's IPv6 filter of a group may hold: Linux's
        ``net.ipv6.mld_max_msf`` (``net.inet6.ip6.mld_max_msf``, 64) on the
        Linux profile, FreeBSD's ``net.inet6.ip6.mcast.maxsocksrc`` (128) on
        the others."""
        knobs = self.node.knobs
        return int(knobs["net.inet6.ip6.mld_max_msf" if self.profile.name == "linux"
                         else "net.inet6.ip6.mcast.maxsocksrc"])

    def _lx_source(self, s: Socket, kind: str, g: IPv4Address, a: IPv4Address, idx: int,
                   src: IPv4Address) -> None:
        """``ip_mc_source`` (and, for a source join, ``ip_mc_join_group``
        first): a unicast group ``EINVAL``; no interface ``ENODEV``; no
        membership ``EINVAL``; a membership whose filter has a source list
        of the other mode ``EINVAL`` (one that never had a list switches
        mode, and stays switched when the call then fails: a failed source
        leave of an any-source membership leaves it INCLUDE({})); a source already (or not) in the list ``EADDRNOTAVAIL``;
        the list full (``igmp_max_msf``, :meth:`maxsocksrc4`) ``ENOBUFS``; the
        last source of an INCLUDE list leaves the group. Linux takes any
        source address."""
        if not g.is_multicast:
            raise _err(errno.EINVAL, "not a multicast group")
        ifi = self._lx_find_dev(g, a, idx)
        if ifi is None:
            raise _err(errno.ENODEV, "no interface for the group")
        key = (g, ifi)
        if key not in s.groups:
            if kind != "join_src":
                raise _err(errno.EINVAL, "not a member of the group")
            self._lx_in_count(s)  # ip_mc_join_group_ssm: a source-specific join
            self._mcast_set(s, g, ifi, (MCAST_INCLUDE, frozenset({src})))
            s.in_mreq[key] = a
            return
        omode = MCAST_INCLUDE if kind in ("join_src", "leave_src") else MCAST_EXCLUDE
        add = kind in ("join_src", "block")
        cur = s.msf.get(key)  # type: ignore[call-overload]
        mode, srcs = cur if cur is not None else (MCAST_EXCLUDE, frozenset())
        if mode != omode:
            if cur is not None and type(s.msf_order.get(key)) is not _NoList:  # type: ignore[call-overload]
                raise _err(errno.EINVAL, "the option does not apply to the membership's mode")
            # "allow mode switches for empty-set filters": the switch stays
            # when the call then fails (a source never added)
            self._lx_switch(s, g, ifi, omode)
            mode, srcs = omode, frozenset()
        if not add:
            if src not in srcs:
                raise _err(errno.EADDRNOTAVAIL, "the source is not in the list")
            if mode == MCAST_INCLUDE and len(srcs) == 1:
                self.mcast_leave(s, g, ifi)  # (INCLUDE, {}) is a leave
                return
            self._mcast_set(s, g, ifi, (mode, srcs - {src}))
            return
        if cur is not None and len(srcs) >= self.maxsocksrc4():
            self.node.inet.inc("igps_srcfull")
            raise _err(errno.ENOBUFS, "net.inet.ip.igmp_max_msf")
        if src in srcs:
            raise _err(errno.EADDRNOTAVAIL, "the source is in the list already")
        self._mcast_set(s, g, ifi, (mode, srcs | {src}))

    def _lx_switch(self, s: Socket, g: IPv4Address, ifi: int, mode: int) -> None:
        """``ip_mc_source`` on a membership with no source list: its filter
        becomes ``mode`` with no sources (``ip_mc_add_src``,
        ``ip_mc_del_src`` of the old mode); INCLUDE({}) takes nothing, the
        membership stays (a drop leaves it, a join is ``EADDRINUSE``)."""
        key = (g, ifi)
        filtered = key in s.msf
        ifname = self.ifname(ifi)
        inet = self.node.inet
        if g == _ALLHOSTS:  # the interface's own: the filter is the socket's alone
            if not filtered:
                inet.in_leavegroup(ifname, g, self.now)
        elif mode == MCAST_INCLUDE:
            inet.in_setfilter(ifname, g, s, MCAST_INCLUDE, (), self.now, counted=not filtered)
        else:
            e = inet.in_setfilter(ifname, g, s, MCAST_EXCLUDE, (), self.now)
            if e:
                raise _err(e)
        s.msf[key] = (mode, frozenset())
        s.msf_order[key] = _NOLIST

    def ip_ctloutput_get(self, s: Socket, opt: int, buflen: int = 0) -> Any:
        if opt == IP_MSFILTER and self.profile.name == "linux":
            if s.family != AF_INET:
                self._ip_on_inet6(s, opt)
            return self._lx_msfget(s, bytes(buflen))  # zeros: EINVAL
        v = self._ip_get(s, opt)
        if isinstance(v, bytes) and buflen and self.profile.name == "linux":
            return v[:buflen]  # IP_MULTICAST_IF: min(len, sizeof(struct in_addr))
        if not buflen or not isinstance(v, int):
            return v
        # the value as the kernel copies it out: Linux one octet for a small
        # buffer (not on stream sockets), else at most an int's octets
        if self.profile.name == "linux" and s.type != _hostsock.SOCK_STREAM and \
                buflen < 4 and 0 <= v <= 255:
            return bytes([v])
        return struct.pack("=i", v)[:min(buflen, 4)]

    def _ip_get(self, s: Socket, opt: int) -> Any:
        if s.family != AF_INET:
            self._ip_on_inet6(s, opt)
        o = s.ipopts
        linux = self.profile.name == "linux"
        if opt == IP_TTL:
            return o.get(opt, int(self.node.knobs["net.inet.ip.ttl"]) if self.node else 64)
        if opt == IP_MULTICAST_TTL:
            return o.get(opt, 1)
        if opt == IP_MULTICAST_LOOP:
            return o.get(opt, 1)
        if opt == IP_TOS:
            return o.get(opt, 0)
        if opt in (_RECV_LINUX if linux else _RECV_BSD):
            return o.get(opt, 0)
        if opt == IP_HDRINCL:
            if s.type != SOCK_RAW:
                if linux:
                    return 0  # inet->hdrincl, set on raw sockets only
                raise _err(errno.EINVAL)
            return o.get(opt, 1 if s.proto == 255 else 0)
        if opt == IP_MULTICAST_IF:
            # Linux: inet->mc_addr, the address the option named (0.0.0.0
            # for an index); the BSDs: imo_multicast_addr, else the
            # interface's first address
            ifn = o.get(opt)
            if ifn is None or self.node is None:
                return IPv4Address(0).packed
            if linux or int(o.get(_MC_ADDR, 0)):
                return IPv4Address(o.get(_MC_ADDR, 0)).packed
            ifa = next((x for x in self.node.inet.on(ifn) if x.usable), None)
            return (ifa.addr if ifa is not None else IPv4Address(0)).packed
        if opt == IP_MULTICAST_ALL and linux:
            return o.get(opt, 1 if s.family == AF_INET else 0)
        if linux and opt == IP_MTU_DISCOVER:
            return o.get(opt, IP_PMTUDISC_WANT)
        if linux and opt == IP_MTU:
            return self.ip_mtu(s)
        if linux and opt == IP_RECVERR:
            return o.get(opt, 0)
        if linux and opt == IP_UNICAST_IF:  # htonl(inet->uc_index)
            return struct.unpack("=i", struct.pack("!I", o.get(opt, 0)))[0]
        if opt == BSD_IP_DONTFRAG and self.profile.name.startswith("freebsd"):
            return o.get(opt, 0)
        raise _err(errno.ENOPROTOOPT)

    def _unicast_if(self, s: Socket, value: Any) -> None:
        """Linux ``IP_UNICAST_IF``: exactly an int (``EINVAL``), the index in
        network byte order; 0 clears it, an index of no interface is
        ``EADDRNOTAVAIL``."""
        b = _optbytes(value, "IP_UNICAST_IF")
        if len(b) != 4:
            raise _err(errno.EINVAL, "IP_UNICAST_IF is an int")
        idx = struct.unpack("!I", b)[0]
        if not idx:
            s.ipopts.pop(IP_UNICAST_IF, None)
            return
        if self.node is None or idx not in self.node.zones.by_index:
            raise _err(errno.EADDRNOTAVAIL, "IP_UNICAST_IF: no such interface")
        s.ipopts[IP_UNICAST_IF] = idx

    def ip_df(self, s: Socket) -> bool | str:
        """The ``df`` a datagram of the socket asks ``ip_output`` for: Linux's
        ``IP_MTU_DISCOVER`` mode (:data:`PMTUDISC_DF`), FreeBSD's
        ``IP_DONTFRAG``; the other BSDs never set DF."""
        if self.profile.name == "linux":
            return PMTUDISC_DF[s.ipopts.get(IP_MTU_DISCOVER, IP_PMTUDISC_WANT)]
        return bool(s.ipopts.get(BSD_IP_DONTFRAG, 0))

    def ip_mtu(self, s: Socket) -> int:
        """Linux ``IP_MTU``: the MTU of a connected socket's route
        (``dst_mtu(sk_dst_get(sk))``: the path MTU, the loopback's for a
        local address); ``ENOTCONN`` without one. An AF_INET6 socket
        connected to an IPv6 address has an IPv6 route."""
        dst = getattr(s, "faddr", None)
        if dst is None or self.node is None:
            raise _err(errno.ENOTCONN, "IP_MTU: no route cached")
        now = self.now
        if isinstance(dst, IPv6Address) and dst.ipv4_mapped is not None:
            dst = dst.ipv4_mapped
        if isinstance(dst, IPv4Address):
            # ipv4_mtu: at most IP_MAX_MTU (65535), the loopback's 65536 too
            if not int(dst) or self._is_local4(dst):  # type: ignore[attr-defined]
                return min(int(self.node.ifnets[self.ifname(self._loif(dst))].mtu), 0xFFFF)  # type: ignore[attr-defined]
            inet = self.node.inet
            rt = inet.rtalloc(dst)
            ifname = rt.ifname if rt is not None else \
                inet._default_if(None) if dst.is_multicast or int(dst) == 0xFFFFFFFF else None
            if ifname is None:
                raise _err(errno.ENOTCONN, "IP_MTU: no route")
            return min(int(inet.path_mtu(ifname, dst, now)), 0xFFFF)
        if int(dst) == 1 or self._is_local6(dst):  # type: ignore[attr-defined]
            return int(self.node.ifnets[self.ifname(self._loif(dst))].mtu)  # type: ignore[attr-defined]
        try:
            ifname = self._outif(s, dst, getattr(s, "fscope", 0), None)  # type: ignore[attr-defined]
        except OSError:
            ifname = None
        if ifname is None:
            raise _err(errno.ENOTCONN, "IP_MTU: no route")
        return int(self.node.path_mtu(ifname, dst))

    def ip_cmsg_send(self, s: Socket, anc: list[tuple[int, int, bytes]]
                     ) -> tuple[IPv4Address | None, int, int | None, int | None]:
        """Linux's ``ip_cmsg_send`` for a datagram to an IPv4 (or, from an
        AF_INET6 socket, IPv4-mapped) destination: ``(source, interface
        index, TTL, TOS)`` from ``IP_PKTINFO`` (an ``in_pktinfo``:
        ``ipi_ifindex`` and ``ipi_spec_dst``), ``IP_TTL`` (an int, 1-255)
        and ``IP_TOS`` (an int or one octet); an AF_INET6 socket's
        ``IPV6_PKTINFO`` must carry a mapped address. Another ``IPPROTO_IP``
        type, or a bad length, is ``EINVAL``; other levels pass unread
        (``SOL_SOCKET`` is ``EINVAL``: none of its types is kept here)."""
        src: IPv4Address | None = None
        oif = 0
        ttl: int | None = None
        tos: int | None = None
        for level, typ, val in anc:
            if level == IPPROTO_IPV6 and s.family == AF_INET6 and typ == _IPV6_PKTINFO:
                if len(val) < 20:
                    raise _err(errno.EINVAL, "in6_pktinfo is 20 octets")
                a6 = IPv6Address(bytes(val[:16]))
                if a6.ipv4_mapped is None:
                    raise _err(errno.EINVAL, "IPV6_PKTINFO to a mapped destination")
                i = struct.unpack("=I", val[16:20])[0]
                oif = i or oif
                src = a6.ipv4_mapped
                continue
            if level == _hostsock.SOL_SOCKET:
                raise _err(errno.EINVAL, "SOL_SOCKET ancillary type")
            if level != IPPROTO_IP:
                continue
            if typ == IP_PKTINFO:
                if len(val) != 12:
                    raise _err(errno.EINVAL, "in_pktinfo is 12 octets")
                i = struct.unpack("=i", val[:4])[0]
                oif = i or oif
                src = IPv4Address(bytes(val[4:8]))
            elif typ == IP_TTL:
                if len(val) != 4:
                    raise _err(errno.EINVAL, "IP_TTL is an int")
                ttl = struct.unpack("=i", val)[0]
                if not 1 <= ttl <= 255:
                    raise _err(errno.EINVAL, "TTL")
            elif typ == IP_TOS:
                if len(val) not in (1, 4):
                    raise _err(errno.EINVAL, "IP_TOS is an int or an octet")
                tos = val[0] if len(val) == 1 else struct.unpack("=i", val)[0]
                if not 0 <= tos <= 255:
                    raise _err(errno.EINVAL, "TOS")
            else:
                raise _err(errno.EINVAL, f"IPPROTO_IP ancillary type {typ}")
        if oif and (self.node is None or oif not in self.node.zones.by_index):
            raise _err(errno.ENODEV, f"no interface index {oif}")
        if src is not None and not int(src):
            src = None
        if src is not None and not self._is_local4(src):
            raise _err(errno.ENETUNREACH, "the source is not ours")  # no output route
        return src, oif, ttl, tos

    def ip_cmsg_send_bsd(self, s: Socket, anc: list[tuple[int, int, bytes]]
                         ) -> tuple[IPv4Address | None, int, int | None, int | None]:
        """FreeBSD ``udp_output``'s control data: ``IP_SENDSRCADDR`` (an
        ``in_addr``, one of ours, else ``EADDRNOTAVAIL``) and ``IP_TOS`` (one
        octet); another ``IPPROTO_IP`` type ``ENOPROTOOPT``, a bad length
        ``EINVAL``, other levels pass unread."""
        src: IPv4Address | None = None
        tos: int | None = None
        for level, typ, val in anc:
            if level != IPPROTO_IP:
                continue
            if typ == BSD_IP_SENDSRCADDR:
                if len(val) != 4:
                    raise _err(errno.EINVAL, "IP_SENDSRCADDR is an in_addr")
                src = IPv4Address(bytes(val))
            elif typ == IP_TOS:
                if len(val) != 1:
                    raise _err(errno.EINVAL, "IP_TOS is a u_char")
                tos = val[0]
            else:
                raise _err(errno.ENOPROTOOPT, f"IPPROTO_IP control type {typ}")
        if src is not None and int(src) and not self._is_local4(src):
            raise _err(errno.EADDRNOTAVAIL, "IP_SENDSRCADDR is not ours")
        return (src if src is not None and int(src) else None), 0, None, tos

    def ip_recv_items(self, s: Socket, d: Any, errq: bool = False
                      ) -> list[tuple[int, int, bytes]]:
        """The IPv4 control messages a datagram ``d`` carries for ``s``
        (Linux ``ip_cmsg_recv_offset``: ``IP_PKTINFO``, ``IP_TTL``, ``IP_TOS``
        (one octet), ``IP_ORIGDSTADDR``, in that order; FreeBSD
        ``ip_savecontrol``: ``IP_RECVDSTADDR``, ``IP_RECVTTL``,
        ``IP_RECVTOS``). ``errq``: ``d`` is the ICMP message of an error
        queue entry (``ip_recv_error``): no ``ipi_spec_dst`` was computed
        for it (``ipv4_pktinfo_prepare`` never ran)."""
        o = s.ipopts
        out: list[tuple[int, int, bytes]] = []
        if self.profile.name == "linux":
            if o.get(IP_PKTINFO):
                # ipi_spec_dst: the local address a reply would come from
                # (fib_compute_spec_dst): the destination itself when it is
                # ours, else the receiving interface's address
                spec = d.dst if not errq else IPv4Address(0)
                if not errq and not self._is_local4(spec) and self.node is not None and d.ifindex:
                    ifa = next((x for x in self.node.inet.on(self.ifname(d.ifindex))
                                if x.usable), None)
                    spec = ifa.addr if ifa is not None else spec
                out.append((IPPROTO_IP, IP_PKTINFO, struct.pack("=i", d.ifindex) + spec.packed
                            + d.dst.packed))
            if o.get(IP_RECVTTL):
                out.append((IPPROTO_IP, IP_TTL, struct.pack("=i", d.hlim)))
            if o.get(IP_RECVTOS):
                out.append((IPPROTO_IP, IP_TOS, bytes([d.tclass & 0xFF])))
            if o.get(IP_RECVORIGDSTADDR):
                port = s.lport if s.type != SOCK_RAW else 0
                if errq:
                    # ip_cmsg_recv_dstaddr reads the "ports" where the
                    # error's transport header is: the quoted payload
                    if len(d.data) < 4:
                        return out
                    port = int.from_bytes(d.data[2:4], "big")
                out.append((IPPROTO_IP, IP_ORIGDSTADDR,
                            struct.pack("=H", 2) + struct.pack("!H", port) + d.dst.packed
                            + bytes(8)))
            return out
        if o.get(BSD_IP_RECVDSTADDR):
            out.append((IPPROTO_IP, BSD_IP_RECVDSTADDR, d.dst.packed))
        if o.get(BSD_IP_RECVTTL):
            out.append((IPPROTO_IP, BSD_IP_RECVTTL, bytes([d.hlim & 0xFF])))
        if o.get(BSD_IP_RECVTOS):
            out.append((IPPROTO_IP, BSD_IP_RECVTOS, bytes([d.tclass & 0xFF])))
        return out

    def _ip_mreq(self, b: bytes, join: bool) -> tuple[IPv4Address, str | None]:
        """The group and interface of an ``ip_mreq`` (8 octets) or
        ``ip_mreqn`` (12, Linux): index, else address, else the route to
        the group (``None`` on a leave: the socket's membership)."""
        if len(b) not in (8, 12) or (len(b) == 12 and self.profile.name != "linux"):
            raise _err(errno.EINVAL, "ip_mreq is 8 octets (ip_mreqn 12 on Linux)")
        g, a = IPv4Address(b[:4]), IPv4Address(b[4:8])
        idx = struct.unpack("=i", b[8:12])[0] if len(b) == 12 else 0
        if not g.is_multicast:
            raise _err(errno.EINVAL, "not a multicast group")
        if self.node is None:
            raise _err(errno.ENODEV if self.profile.name == "linux" else errno.EADDRNOTAVAIL)
        inet = self.node.inet
        if idx:
            return g, self.ifname(idx)
        if int(a):
            ifa = inet.find(a)
            if ifa is None:
                raise _err(errno.EADDRNOTAVAIL, "the interface address is not ours")
            return g, ifa.ifname
        if not join:
            return g, None
        rt = inet.rtalloc(g)
        ifname = rt.ifname if rt is not None else \
            inet._default_if(None) if g.is_multicast else None
        if ifname is None:
            raise _err(errno.ENODEV if self.profile.name == "linux" else errno.EADDRNOTAVAIL,
                       "no interface for the group")
        return g, ifname

    def in_join(self, s: Socket, g: IPv4Address, ifname: str | None) -> None:
        assert ifname is not None
        ifi = self.ifindex(ifname)
        if (g, ifi) in s.groups:
            raise _err(errno.EADDRINUSE)
        linux = self.profile.name == "linux"
        if sum(isinstance(x, IPv4Address) for x, _i in s.groups) >= (20 if linux else 4095):
            raise _err(errno.ENOBUFS if linux else errno.ETOOMANYREFS, "IP_MAX_MEMBERSHIPS")
        e = self.node.inet.in_joingroup(ifname, g, self.now)
        if e:
            raise _err(e)
        s.groups.add((g, ifi))

    def in_source(self, s: Socket, opt: int, g: IPv4Address, src: IPv4Address,
                  ifname: str | None) -> None:
        """``IP_ADD_SOURCE_MEMBERSHIP``/``IP_DROP_SOURCE_MEMBERSHIP`` (an
        INCLUDE-mode membership: a source-specific join, RFC 4604) and
        ``IP_BLOCK_SOURCE``/``IP_UNBLOCK_SOURCE`` (an any-source membership's
        EXCLUDE list), as ``in_mcast.c``'s ``inp_block_unblock_source`` and
        ``inp_join_group``: a source list is bounded by
        :meth:`maxsocksrc4` (``igps_srcfull``; ``ENOBUFS`` on Linux,
        ``ENOSPC`` on the BSDs); a mode the option does not apply to
        is ``EINVAL``; a source already (or not) in the list
        ``EADDRNOTAVAIL``."""
        linux = self.profile.name == "linux"
        if not int(src) or src.is_multicast:
            raise _err(errno.EINVAL, "the source is a unicast address")
        if ifname is None:
            ifi = next((i for x, i in s.groups if x == g), 0)
            if not ifi:
                raise _err(errno.EADDRNOTAVAIL if opt == IP_DROP_SOURCE_MEMBERSHIP or not linux
                           else errno.EINVAL, "not a member of the group")
            ifname = self.ifname(ifi)
        else:
            ifi = self.ifindex(ifname)
        key = (g, ifi)
        member = key in s.groups
        mode, srcs = s.msf.get(key, (2, frozenset()))  # MCAST_EXCLUDE: any-source
        include = 1  # MCAST_INCLUDE
        if opt == IP_ADD_SOURCE_MEMBERSHIP:
            if member and mode != include:
                raise _err(errno.EINVAL, "an any-source membership: IP_BLOCK_SOURCE")
            if member and src in srcs:
                raise _err(errno.EADDRNOTAVAIL, "the source is joined already")
            if not member and sum(isinstance(x, IPv4Address) for x, _i in s.groups) >= (
                    20 if linux else 4095):
                raise _err(errno.ENOBUFS if linux else errno.ETOOMANYREFS,
                           "IP_MAX_MEMBERSHIPS")
            new = (include, (srcs if member else frozenset()) | {src})
        elif not member:
            raise _err(errno.EADDRNOTAVAIL if opt == IP_DROP_SOURCE_MEMBERSHIP or not linux
                       else errno.EINVAL, "not a member of the group")
        elif (opt == IP_DROP_SOURCE_MEMBERSHIP) != (mode == include):
            raise _err(errno.EINVAL, "the option does not apply to the membership's mode")
        elif (src in srcs) != (opt in (IP_DROP_SOURCE_MEMBERSHIP, IP_UNBLOCK_SOURCE)):
            raise _err(errno.EADDRNOTAVAIL, "the source is (not) in the list")
        elif opt == IP_BLOCK_SOURCE:
            new = (mode, srcs | {src})
        else:
            new = (mode, srcs - {src})
        if len(new[1]) > self.maxsocksrc4():
            self.node.inet.inc("igps_srcfull")
            raise _err(errno.ENOBUFS if linux else errno.ENOSPC, "mcast_maxsocksrc")
        e = self.node.inet.in_setfilter(ifname, g, s, new[0], new[1], self.now,
                                        counted=member and key not in s.msf)
        if e:
            raise _err(e)
        if new[0] == include and not new[1]:  # the last source dropped: the group left
            s.groups.discard(key)
            s.in_mreq.pop(key, None)
            _msf_pop(s, key)
        else:
            s.groups.add(key)
            _msf_put(s, key, new)

    def in_leave(self, s: Socket, g: IPv4Address, ifname: str | None, strict: bool) -> None:
        if ifname is None:
            ifi = next((i for x, i in s.groups if x == g), 0)
        else:
            ifi = self.ifindex(ifname)
        if (g, ifi) not in s.groups:
            if strict:
                raise _err(errno.EADDRNOTAVAIL)
            return
        s.groups.discard((g, ifi))
        s.in_mreq.pop((g, ifi), None)  # type: ignore[call-overload]
        filtered = _msf_pop(s, (g, ifi)) is not None
        if self.node is not None and ifi in self.node.zones.by_index:
            if filtered:  # a member with a source filter leaves: INCLUDE({})
                self.node.inet.in_setfilter(self.ifname(ifi), g, s, 1, (), self.now)
            else:
                self.node.inet.in_leavegroup(self.ifname(ifi), g, self.now)

    # --- RFC 3678's protocol-independent API (both families) -----------------

    def mcast_ctloutput_set(self, s: Socket, opt: int, value: Any, fam: int = 0) -> bool:
        """``MCAST_*`` at ``IPPROTO_IP`` (``fam`` AF_INET: AF_INET sockets,
        and Linux's AF_INET6 ones for IPv4 groups) or ``IPPROTO_IPV6``
        (AF_INET6), the numbers of the profile's kernel: False for another
        option. Errors as Linux gives them (the same for both families but
        where said): a short request ``EINVAL``; a ``sockaddr`` of another
        family ``EADDRNOTAVAIL`` (an AF_INET group: ``EINVAL``; the BSDs:
        ``EINVAL``); a unicast group ``EINVAL``; a join of a group joined
        ``EADDRINUSE``; a leave of one not joined ``EADDRNOTAVAIL``; a
        source operation without a membership ``EINVAL`` (a source join
        joins); a source operation of the other mode ``EINVAL`` once the
        membership has a source list (Linux switches an any-source
        membership that never had one); a source twice, or one not in the
        list, ``EADDRNOTAVAIL``; the last source of an INCLUDE membership
        leaves the group. Linux's IPv4 requests go as ``ip_mreqn`` ones do
        (:meth:`_lx_join`, :meth:`_lx_leave`, :meth:`_lx_source`)."""
        kind = mcast_opts(self.profile.name).get(opt)
        if kind is None:
            return False
        fam = fam or s.family
        if isinstance(value, int):  # an int's 4 octets: too short for any request
            raise _err(errno.EINVAL, "group_req")
        b = _octets(value, "group_req")
        if kind == "msfilter":
            self._mcast_msfilter(s, b, fam)
            return True
        with_src = kind not in ("join", "leave")
        if len(b) < (GROUP_SOURCE_REQ_LEN if with_src else GROUP_REQ_LEN):
            raise _err(errno.EINVAL, "group_source_req" if with_src else "group_req")
        ifi = struct.unpack("=I", b[:4])[0]
        g = self._ss_addr(fam, b[8:136], errno.EINVAL if fam == AF_INET and not with_src
                          else errno.EADDRNOTAVAIL)
        src = self._ss_addr(fam, b[136:264], errno.EADDRNOTAVAIL) if with_src else None
        if isinstance(g, IPv4Address) and self.profile.name == "linux":
            any4 = IPv4Address(0)
            if kind == "join":
                self._lx_join(s, g, any4, ifi)
            elif kind == "leave":
                self._lx_leave(s, g, any4, ifi)
            else:
                assert isinstance(src, IPv4Address)
                self._lx_source(s, kind, g, any4, ifi, src)
            return True
        if not g.is_multicast:
            raise _err(errno.EINVAL, "not a multicast group")
        if ifi:
            self.ifname(ifi)  # ENODEV (Linux), ENXIO
        if kind == "join":
            ifi = ifi or self._mcast_route(g)
            if isinstance(g, IPv4Address):
                self.in_join(s, g, self.ifname(ifi))
            else:
                self.join_group(s, g, ifi)  # type: ignore[attr-defined]
            return True
        if not ifi:
            ifi = next((i for x, i in s.groups if x == g), 0)
        if kind == "leave":
            if (g, ifi) not in s.groups:
                raise _err(errno.EADDRNOTAVAIL, "not a member of the group")
            self.mcast_leave(s, g, ifi)
            return True
        assert src is not None
        if self.profile.name != "linux" and (not int(src) or src.is_multicast):
            raise _err(errno.EINVAL, "the source is a unicast address")  # (Linux takes any)
        self._mcast_source(s, kind, g, src, ifi)
        return True

    def _ss_addr(self, want: int, ss: bytes, wrong: int) -> _Addr:
        """The address in a ``sockaddr_storage`` of family ``want`` (the
        option level's: AF_INET at IPPROTO_IP, AF_INET6 at IPPROTO_IPV6)."""
        linux = self.profile.name == "linux"
        fam = struct.unpack("=H", ss[:2])[0] if linux else ss[1]
        af6 = 10 if linux else self.profile.af_inet6
        if want == AF_INET6 and fam == af6:
            return IPv6Address(ss[8:24])
        if want == AF_INET and fam == 2:
            return IPv4Address(ss[4:8])
        raise _err(wrong if linux else errno.EINVAL, "a sockaddr of another family")

    def _mcast_route(self, g: _Addr) -> int:
        """The interface a join without one takes: the route to the group."""
        if isinstance(g, IPv6Address):
            return self._group_if(g, 0)  # type: ignore[attr-defined, no-any-return]
        _g, ifname = self._ip_mreq(g.packed + bytes(4), True)
        assert ifname is not None
        return self.ifindex(ifname)

    def _mcast_source(self, s: Socket, kind: str, g: _Addr, src: _Addr, ifi: int) -> None:
        key = (g, ifi)
        linux = self.profile.name == "linux"
        omode = MCAST_INCLUDE if kind in ("join_src", "leave_src") else MCAST_EXCLUDE
        add = kind in ("join_src", "block")
        if key not in s.groups:
            if kind != "join_src":
                raise _err(errno.EINVAL, "not a member of the group")
            ifi = ifi or self._mcast_route(g)
            key = (g, ifi)
            if isinstance(g, IPv4Address) and linux and \
                    sum(isinstance(x, IPv4Address) for x, _i in s.groups) >= 20:
                raise _err(errno.ENOBUFS, "IP_MAX_MEMBERSHIPS")
            self._mcast_set(s, g, ifi, (MCAST_INCLUDE, frozenset({src})))
            return
        cur = s.msf.get(key)  # type: ignore[call-overload]
        mode, srcs = cur if cur is not None else (MCAST_EXCLUDE, frozenset())
        if mode != omode:
            if not linux or (cur is not None and
                             type(s.msf_order.get(key)) is not _NoList):  # type: ignore[call-overload]
                raise _err(errno.EINVAL, "the option does not apply to the membership's mode")
            # Linux (ip6_mc_source): "allow mode switches for empty-set
            # filters", and the switch stays when the call then fails
            self._lx_switch6(s, g, ifi, omode)
            mode, srcs = omode, frozenset()
        if (src in srcs) == add:
            raise _err(errno.EADDRNOTAVAIL, "the source is (not) in the list")
        self._mcast_set(s, g, ifi, (mode, srcs | {src} if add else srcs - {src}))

    def _lx_switch6(self, s: Socket, g: _Addr, ifi: int, mode: int) -> None:
        """``ip6_mc_source`` on a membership with no source list: its filter
        becomes ``mode`` with no sources (``ip6_mc_add_src``,
        ``ip6_mc_del_src`` of the old mode); INCLUDE({}) takes nothing, the
        membership stays (a leave drops it, a join is ``EADDRINUSE``)."""
        key = (g, ifi)
        filtered = key in s.msf
        drop_any = not filtered and not any(
            key in o.groups and key not in o.msf for o in self.pcbs if o is not s)  # type: ignore[attr-defined]
        e = self.node.setsourcefilter(self.ifname(ifi), g, s, mode, (), self.now, drop_any)
        if e:
            raise _err(e)
        s.msf[key] = (mode, frozenset())  # type: ignore[index]
        s.msf_order[key] = _NOLIST  # type: ignore[index]

    def _mcast_set(self, s: Socket, g: _Addr, ifi: int, new: tuple[int, frozenset[Any]],
                   order: list[Any] | None = None) -> None:
        """Give the socket's membership of ``g`` on ``ifi`` the filter
        ``new`` (INCLUDE({}): leave), bounded by ``mcast_maxsocksrc``, and
        tell the node; ``order``: the sources as a full-state call gave them."""
        key = (g, ifi)
        v6 = isinstance(g, IPv6Address)
        linux = self.profile.name == "linux"
        most = self.maxsocksrc6() if v6 else self.maxsocksrc4()
        if len(new[1]) > most:
            self.node.stats.inc("icp6s_mld_srcfull") if v6 else self.node.inet.inc("igps_srcfull")
            raise _err(errno.ENOBUFS if linux else errno.ENOSPC, "mcast_maxsocksrc")
        ifname = self.ifname(ifi)
        member = key in s.groups
        filtered = key in s.msf
        if v6:
            # the last any-source member taking a filter takes the node's
            # any-source membership with it, in one change
            drop_any = member and not filtered and not any(
                key in o.groups and key not in o.msf for o in self.pcbs if o is not s)  # type: ignore[attr-defined]
            e = self.node.setsourcefilter(ifname, g, s, new[0], new[1], self.now, drop_any)
        elif g == _ALLHOSTS:
            # the interface always takes 224.0.0.1 and IGMP never reports it:
            # the filter is the socket's alone (Linux ip_mc_sf_allow)
            e = 0
            if member and not filtered:
                self.node.inet.in_leavegroup(ifname, g, self.now)
        else:
            e = self.node.inet.in_setfilter(ifname, g, s, new[0], new[1], self.now,
                                            counted=member and not filtered)
        if e:
            raise _err(e)
        if new[0] == MCAST_INCLUDE and not new[1]:
            s.groups.discard(key)
            s.in_mreq.pop(key, None)  # type: ignore[arg-type]
            _msf_pop(s, key)
        else:
            s.groups.add(key)
            if not v6:
                s.in_mreq.setdefault(key, IPv4Address(0))  # type: ignore[arg-type]
            _msf_put(s, key, new, order)

    def _mld_any_left(self, g: _Addr, ifi: int) -> None:
        """A socket's any-source IPv6 membership went: the node's any-source
        membership goes with the last one."""
        key = (g, ifi)
        if not any(key in o.groups and key not in o.msf for o in self.pcbs):  # type: ignore[attr-defined]
            self.node.leave(self.ifname(ifi), g, self.now)

    def mcast_leave(self, s: Socket, g: _Addr, ifi: int) -> None:
        """The socket's membership of ``g`` on ``ifi`` goes, whatever its filter."""
        if isinstance(g, IPv4Address):
            self.in_leave(s, g, self.ifname(ifi), strict=True)
            return
        key = (g, ifi)
        if key in s.msf:
            self._mcast_set(s, g, ifi, (MCAST_INCLUDE, frozenset()))
            return
        s.groups.discard(key)
        if self.node is not None and ifi in self.node.zones.by_index:
            self._mld_any_left(g, ifi)

    def mcast_setfilter(self, s: Socket, ifi: int, g: _Addr, fmode: int,
                        sources: list[_Addr]) -> None:
        """``setsourcefilter``: the membership's whole filter (``fmode`` in
        the profile's numbers: Linux's MCAST_EXCLUDE is 0, the BSDs' 2)."""
        linux = self.profile.name == "linux"
        modes = {0: MCAST_EXCLUDE, 1: MCAST_INCLUDE} if linux else \
            {MCAST_INCLUDE: MCAST_INCLUDE, MCAST_EXCLUDE: MCAST_EXCLUDE}
        want = IPv6Address if s.family == AF_INET6 else IPv4Address
        if linux and s.family == AF_INET6 and s.type != SOCK_RAW:
            want = type(g)  # an IPv4 group goes at IPPROTO_IP (ip_mc_msfilter)
        if not isinstance(g, want) or any(not isinstance(a, want) for a in sources):
            raise _err(errno.EINVAL, "another family's address")
        if not g.is_multicast or fmode not in modes:
            raise _err(errno.EINVAL, "a multicast group and a filter mode")
        if linux and isinstance(g, IPv4Address):
            # ip_mc_msfilter: the interface as ip_mc_find_dev finds it;
            # INCLUDE({}) is a leave, before the membership is looked for
            found = self._lx_find_dev(g, IPv4Address(0), ifi)
            if found is None:
                raise _err(errno.ENODEV, "no interface for the group")
            if modes[fmode] == MCAST_INCLUDE and not sources:
                self._lx_leave(s, g, IPv4Address(0), found)
                return
            ifi = found
        elif ifi:
            self.ifname(ifi)
        else:
            ifi = next((i for x, i in s.groups if x == g), 0)
        if (g, ifi) not in s.groups:
            raise _err(errno.EINVAL, "not a member of the group")
        self._mcast_set(s, g, ifi, (modes[fmode], frozenset(sources)), list(sources))

    def mcast_getfilter(self, s: Socket, ifi: int, g: _Addr) -> tuple[int, list[_Addr]]:
        """``getsourcefilter``: (fmode in the profile's numbers, sources)."""
        if not g.is_multicast:
            raise _err(errno.EINVAL, "not a multicast group")
        if not ifi:
            ifi = next((i for x, i in s.groups if x == g), 0)
        if (g, ifi) not in s.groups:
            raise _err(errno.EADDRNOTAVAIL, "not a member of the group")
        mode, srcs = s.msf.get((g, ifi), (MCAST_EXCLUDE, frozenset()))  # type: ignore[call-overload]
        if self.profile.name == "linux":
            mode = 0 if mode == MCAST_EXCLUDE else 1
        return mode, sorted(srcs, key=int)

    def mcast_msfilter_get(self, s: Socket, level: int, opt: int,
                           buf: int | bytes) -> bytes | None:
        """Linux's ``getsockopt(MCAST_MSFILTER)`` (``ip6_mc_msfget``,
        ``ip_mc_gsfget``): ``buf`` the ``struct group_filter`` the caller
        passes in (interface, group, ``gf_numsrc`` the room for sources; an
        int: that many zero octets). Returns the octets the kernel writes
        back, as long as the ``optlen`` it returns: the header with the
        filter mode (0 EXCLUDE, 1 INCLUDE) and the number of sources, then
        as many of them (in address order) as there is room for. ``None``
        for another option. A buffer shorter than the header ``EINVAL``; a
        group of another family ``EADDRNOTAVAIL`` (AF_INET6) or ``EINVAL``
        (AF_INET); no membership on exactly that interface
        ``EADDRNOTAVAIL``."""
        if opt == IP_MSFILTER and level == IPPROTO_IP and self.profile.name == "linux" and \
                not isinstance(buf, int):
            if s.family == AF_INET6:
                self._ip_on_inet6(s, opt)
            return self._lx_msfget(s, _octets(buf, "ip_msfilter"))
        if opt != MCAST_MSFILTER or self.profile.name != "linux" or \
                level not in ((41, IPPROTO_IP) if s.family == AF_INET6 else (IPPROTO_IP,)):
            return None
        fam = AF_INET6 if level == 41 else AF_INET
        if s.family == AF_INET6 and fam == AF_INET:
            self._ip_on_inet6(s, opt)
        b = bytes(buf) if isinstance(buf, int) else _octets(buf, "group_filter")
        if len(b) < 144:
            raise _err(errno.EINVAL, "group_filter")
        ifi = struct.unpack("=I", b[:4])[0]
        room = struct.unpack("=I", b[140:144])[0]
        g = self._ss_addr(fam, b[8:136], errno.EADDRNOTAVAIL if fam == AF_INET6
                          else errno.EINVAL)
        if not g.is_multicast:
            raise _err(errno.EINVAL, "not a multicast group")
        if (g, ifi) not in s.groups:
            raise _err(errno.EADDRNOTAVAIL, "not a member of the group on that interface")
        mode, srcs = s.msf.get((g, ifi), (MCAST_EXCLUDE, frozenset()))  # type: ignore[call-overload]
        ordered = s.msf_order.get((g, ifi)) or sorted(srcs, key=int)  # type: ignore[call-overload]
        return (b[:136] + struct.pack("=II", 0 if mode == MCAST_EXCLUDE else 1, len(ordered))
                + b"".join(_ss_linux(a) for a in ordered[:room]))

    def _mcast_msfilter(self, s: Socket, b: bytes, fam: int) -> None:
        """Linux's ``MCAST_MSFILTER`` (``struct group_filter``), its
        addresses of family ``fam`` (the option level's)."""
        if len(b) < 144:
            raise _err(errno.EINVAL, "group_filter")
        ifi = struct.unpack("=I", b[:4])[0]
        fmode, n = struct.unpack("=II", b[136:144])
        if n > (self.maxsocksrc6() if fam == AF_INET6 else self.maxsocksrc4()):
            raise _err(errno.ENOBUFS, "mcast_maxsocksrc")
        if len(b) < 144 + SS_LEN * n:
            raise _err(errno.EINVAL, "group_filter")
        g = self._ss_addr(fam, b[8:136], errno.EADDRNOTAVAIL)
        srcs = [self._ss_addr(fam, b[144 + SS_LEN * i:144 + SS_LEN * (i + 1)],
                              errno.EINVAL if fam == AF_INET6 else errno.EADDRNOTAVAIL)
                for i in range(n)]
        self.mcast_setfilter(s, ifi, g, fmode, srcs)
