"""``ip6_ctloutput``: ``setsockopt``/``getsockopt`` at ``SOL_SOCKET``,
``IPPROTO_IPV6`` and ``IPPROTO_ICMPV6`` (RFC 3493 §5, RFC 3542), multicast
memberships."""

from __future__ import annotations

import errno
import socket as _hostsock
import struct
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from kame.addr import is_multicast
from kame.socket.const import (
    AF_INET,
    AF_INET6,
    ICMP6_FILTER,
    IPPROTO_ICMPV6,
    IPPROTO_IPV6,
    IPV6_2292HOPLIMIT,
    IPV6_2292PKTINFO,
    IPV6_2292PKTOPTIONS,
    IPV6_CHECKSUM,
    IPV6_DONTFRAG,
    IPV6_FAITH,
    IPV6_HOPLIMIT,
    IPV6_JOIN_GROUP,
    IPV6_LEAVE_GROUP,
    IPV6_MULTICAST_HOPS,
    IPV6_MULTICAST_IF,
    IPV6_MULTICAST_LOOP,
    IPV6_NEXTHOP,
    IPV6_PATHMTU,
    IPV6_PKTINFO,
    IPV6_RECVHOPLIMIT,
    IPV6_RECVPATHMTU,
    IPV6_RECVPKTINFO,
    IPV6_RECVTCLASS,
    IPV6_TCLASS,
    IPV6_UNICAST_HOPS,
    IPV6_USE_MIN_MTU,
    IPV6_V6ONLY,
    SO_ERROR,
    SO_REUSEADDR,
    SO_REUSEPORT,
    SO_TYPE,
    SOCK_RAW,
    SOL_SOCKET,
    _err,
    _octets,
)
from kame.socket.inctl import IPPROTO_IP, InCtloutput
from kame.socket.pktopts import (
    EXTHDR_OPTS,
    RECV_EXTHDR,
    RFC2292_TYPES,
    check_exthdr,
    check_minmtu,
    check_nexthop,
    parse_cmsgs,
)
from kame.socket.rfc3542 import Icmp6Filter
from kame.socket.sock import Socket, _ival
from kame.socket.sockaddr import SIN6_LEN

#: Linux's (``<linux/in6.h>``): ``np->mc_all`` (1 by default: an IPv6
#: multicast datagram reaches a socket with no membership of its group)
#: and ``np->ucast_oif`` (the interface a unicast datagram leaves by that
#: names none; its index in network byte order, as ``IP_UNICAST_IF``).
#: (29 is KAME's ``IPV6_FAITH`` too: on the Linux profile the option is
#: Linux's, kept under the same key, so setting it sets the FAITH flag a
#: stream listener reads alike; only the default read back differs.)
IPV6_MULTICAST_ALL = 29
#: Linux's ``IPV6_RECVERR`` (``<linux/in6.h>``): ICMPv6 errors queued on the
#: socket for ``recvmsg(MSG_ERRQUEUE)`` (kame.socket.errqueue).
IPV6_RECVERR = 25
IPV6_UNICAST_IF = 76
#: Linux's ``IPV6_MTU_DISCOVER`` (``np->pmtudisc``, ``IPV6_PMTUDISC_*``: 0
#: DONT, 1 WANT, the default, 2 DO, 3 PROBE, 4 INTERFACE, 5 OMIT; the same
#: numbers as ``IP_PMTUDISC_*``): DONT and WANT fragment at the path MTU,
#: DO refuses a packet past it (``EMSGSIZE``), PROBE and INTERFACE send up
#: to the interface's MTU unfragmented, OMIT fragments at the interface's
#: MTU; INTERFACE and OMIT ignore Packet Too Big (``ip6_sk_accept_pmtu``).
IPV6_MTU_DISCOVER = 23
#: Linux's ``IPV6_MTU`` (``np->frag_size``): 0 (none) or at least 1280; a
#: datagram is sized by the smaller of it and the MTU it goes by otherwise
#: (``ip6_setup_cork``: refused past it under DO/PROBE/INTERFACE, cut into
#: fragments that size when it is past that MTU). ``getsockopt`` reads the
#: MTU of the connected socket's route instead (``ENOTCONN`` without one).
IPV6_MTU = 24
#: Linux's ``IPV6_ADDR_PREFERENCES`` (RFC 5014, ``<linux/in6.h>``): the
#: source preferences of a socket (``np->srcprefs``), as
#: ``__ip6_sock_set_addr_preferences`` keeps them: TMP/PUBLIC (rule 7 of
#: RFC 6724 for this socket), COA (rule 4 reversed: a care-of address over
#: the home address); HOME, PUBTMP_DEFAULT, CGA and NONCGA are accepted,
#: not stored; each set replaces the last; two of one group EINVAL.
IPV6_ADDR_PREFERENCES = 72
PREFER_SRC_TMP, PREFER_SRC_PUBLIC, PREFER_SRC_COA, PREFER_SRC_CGA = 0x1, 0x2, 0x4, 0x8
PREFER_SRC_PUBTMP_DEFAULT, PREFER_SRC_HOME, PREFER_SRC_NONCGA = 0x100, 0x400, 0x800


def addr_preferences(val: int) -> int:
    """``__ip6_sock_set_addr_preferences``: the new ``srcprefs`` from the
    value set (its mask starts with every preference bit cleared, so each
    set replaces the last); EINVAL for two choices of one group."""
    pref = 0
    g = val & (PREFER_SRC_PUBLIC | PREFER_SRC_TMP | PREFER_SRC_PUBTMP_DEFAULT)
    if g in (PREFER_SRC_PUBLIC, PREFER_SRC_TMP):
        pref |= g
    elif g not in (0, PREFER_SRC_PUBTMP_DEFAULT):
        raise _err(errno.EINVAL, "IPV6_ADDR_PREFERENCES: one of TMP, PUBLIC, PUBTMP_DEFAULT")
    g = val & (PREFER_SRC_HOME | PREFER_SRC_COA)
    if g == PREFER_SRC_COA:
        pref |= PREFER_SRC_COA
    elif g not in (0, PREFER_SRC_HOME):
        raise _err(errno.EINVAL, "IPV6_ADDR_PREFERENCES: one of HOME, COA")
    if val & (PREFER_SRC_CGA | PREFER_SRC_NONCGA) == PREFER_SRC_CGA | PREFER_SRC_NONCGA:
        raise _err(errno.EINVAL, "IPV6_ADDR_PREFERENCES: one of CGA, NONCGA")
    return pref


class Ip6Ctloutput(InCtloutput):
    """Socket options for a :class:`~kame.socket.layer.SocketLayer`."""

    def raw4_setopt(self, s: Socket, opt: int, value: Any) -> None:
        raise _err(errno.ENOPROTOOPT)  # kame.socket.raw4

    def _lx_ipv6_opt(self, s: Socket, opt: int, value: Any) -> None:
        """Linux ``do_ipv6_setsockopt``'s ``IPV6_MULTICAST_ALL`` (an int or
        more, fewer octets ``EINVAL``; any non-zero value is 1) and
        ``IPV6_UNICAST_IF`` (exactly an int, the index in network byte
        order; 0 clears it, no such interface ``EADDRNOTAVAIL``)."""
        b = struct.pack("=i", _ival(value)) if not isinstance(
            value, (bytes, bytearray, memoryview)) else bytes(value)
        if opt == IPV6_MTU:
            v = struct.unpack("=i", b[:4])[0] if len(b) >= 4 else -1
            if v and not 1280 <= v:
                raise _err(errno.EINVAL, "IPV6_MTU: 0 or at least 1280")
            s.opts[opt] = v
            return
        if opt == IPV6_MTU_DISCOVER:
            v = struct.unpack("=i", b[:4])[0] if len(b) >= 4 else -1
            if not 0 <= v <= 5:
                raise _err(errno.EINVAL, "IPV6_MTU_DISCOVER: IPV6_PMTUDISC_DONT to _OMIT")
            s.opts[opt] = v
            return
        if opt == IPV6_ADDR_PREFERENCES:
            if len(b) < 4:
                raise _err(errno.EINVAL, "an int")
            s.opts[opt] = addr_preferences(struct.unpack("=i", b[:4])[0])
            return
        if opt in (IPV6_MULTICAST_ALL, IPV6_RECVERR):
            if len(b) < 4:
                raise _err(errno.EINVAL, "an int")
            s.opts[opt] = 1 if struct.unpack("=i", b[:4])[0] else 0
            if opt == IPV6_RECVERR and not s.opts[opt]:
                s.errq = None  # the queue purged (skb_errqueue_purge)
            return
        if len(b) != 4:
            raise _err(errno.EINVAL, "IPV6_UNICAST_IF is an int")
        idx = struct.unpack("!I", b)[0]
        if not idx:
            s.opts.pop(opt, None)
            return
        if self.node is None or idx not in self.node.zones.by_index:
            raise _err(errno.EADDRNOTAVAIL, "IPV6_UNICAST_IF: no such interface")
        s.opts[opt] = idx

    def ctloutput_set(self, s: Socket, level: int, opt: int, value: Any) -> None:
        if level == IPPROTO_IP:
            self.ip_ctloutput_set(s, opt, value)
            return
        if level == 255 and s.family == AF_INET:  # SOL_RAW (kame.socket.raw4)
            self.raw4_setopt(s, opt, value)
            return
        if level == SOL_SOCKET:
            if opt == SO_REUSEADDR:
                s.reuseaddr = bool(_ival(value))
                return
            if opt == SO_REUSEPORT:
                s.reuseport = bool(_ival(value))
                return
            raise _err(errno.ENOPROTOOPT)
        if level == IPPROTO_ICMPV6 and opt == ICMP6_FILTER:
            if s.type != SOCK_RAW or s.proto != IPPROTO_ICMPV6:
                raise _err(errno.EOPNOTSUPP)
            s.filter = value if isinstance(value, Icmp6Filter) else \
                Icmp6Filter.from_bytes(_octets(value, "ICMP6_FILTER"), self.filter_layout)
            return
        if level != IPPROTO_IPV6 or s.family != AF_INET6:
            raise _err(errno.ENOPROTOOPT)
        p = self.profile
        if p.name == "linux" and opt in (IPV6_MULTICAST_ALL, IPV6_UNICAST_IF, IPV6_RECVERR,
                                         IPV6_MTU_DISCOVER, IPV6_MTU, IPV6_ADDR_PREFERENCES):
            self._lx_ipv6_opt(s, opt, value)
            return
        if opt == IPV6_FAITH:
            # KAME's IN6P_FAITH: only a socket with the flag takes
            # connections to the FAITH prefixes (tcp_listen_lookup).
            s.opts[opt] = 1 if _ival(value) else 0
            return
        if opt == IPV6_V6ONLY:
            if not p.v6only_opt:
                raise _err(errno.ENOPROTOOPT, f"{p.platform} has no IPV6_V6ONLY")
            v = 1 if _ival(value) else 0
            if s.bound:
                raise _err(errno.EINVAL, "IPV6_V6ONLY after bind")
            if v == 0 and p.listening == "not supported":
                raise _err(errno.EINVAL, f"{p.platform} has no IPv4-mapped support")
            s.v6only = v
            return
        if opt in (IPV6_UNICAST_HOPS, IPV6_MULTICAST_HOPS):
            v = _ival(value)
            if not -1 <= v <= 255:
                raise _err(errno.EINVAL)
            if v == -1:
                s.opts.pop(opt, None)
            else:
                s.opts[opt] = v
            return
        if opt == IPV6_MULTICAST_LOOP:
            v = _ival(value)
            if v not in (0, 1):
                raise _err(errno.EINVAL)
            s.opts[opt] = v
            return
        if opt == IPV6_MULTICAST_IF:
            v = _ival(value)
            if v and self.node is not None and v not in self.node.zones.by_index:
                raise _err(p.nodev_errno, f"no interface index {v}")
            s.opts[opt] = v
            return
        if opt in (IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS, IPV6_RECVPATHMTU):
            s.opts[opt] = 1 if _ival(value) else 0
            return
        if opt == IPV6_TCLASS:
            v = _ival(value)
            if not -1 <= v <= 255:
                raise _err(errno.EINVAL)
            s.opts[opt] = 0 if v == -1 else v
            return
        if opt == IPV6_PKTINFO:  # sticky
            b = _octets(value, "IPV6_PKTINFO")
            if len(b) != 20:
                raise _err(errno.EINVAL)
            a, ifi = IPv6Address(b[:16]), struct.unpack("=I", b[16:])[0]
            self.user_in6(a, "IPV6_PKTINFO")
            if int(a) and not self._is_local6(a):
                raise _err(errno.EADDRNOTAVAIL)
            if ifi and self.node is not None and ifi not in self.node.zones.by_index and \
                    p.name != "linux":  # Linux checks the interface when sending
                raise _err(p.nodev_errno, f"no interface index {ifi}")
            s.opts[opt] = None if not int(a) and not ifi else (a, ifi)
            return
        if opt == IPV6_CHECKSUM:
            v = _ival(value)
            if s.type != SOCK_RAW:
                raise _err(errno.ENOPROTOOPT)
            if s.proto == IPPROTO_ICMPV6:
                raise _err(errno.EINVAL, "RFC 3542 §3.1: not on ICMPv6 sockets")
            if v >= 0 and v % 2:
                raise _err(errno.EINVAL, "odd checksum offset")
            s.checksum = -1 if v < 0 else v
            return
        if opt in (IPV6_JOIN_GROUP, IPV6_LEAVE_GROUP):
            b = _octets(value, "ipv6_mreq")
            if len(b) != 20:
                raise _err(errno.EINVAL, "ipv6_mreq is 20 bytes")
            g, ifi = IPv6Address(b[:16]), struct.unpack("=I", b[16:])[0]
            self.user_in6(g, "ipv6_mreq group")
            if not is_multicast(g):
                raise _err(errno.EINVAL)
            if opt == IPV6_JOIN_GROUP:
                self.join_group(s, g, ifi)
            else:
                self.leave_group(s, g, ifi, strict=True)
            return
        if self.pktopt_set(s, opt, value):
            return
        if self.mcast_ctloutput_set(s, opt, value):  # RFC 3678 (kame.socket.inctl)
            return
        raise _err(errno.ENOPROTOOPT)

    def pktopt_set(self, s: Socket, opt: int, value: Any) -> bool:
        """RFC 3542 §6-§9, §11 and RFC 2292's options (``ip6_setpktopt``,
        :mod:`kame.socket.pktopts`): False for an option none of these."""
        linux = self.profile.name == "linux"
        if opt in EXTHDR_OPTS:
            b = check_exthdr(opt, value, linux)
            if b:
                s.opts[opt] = b
            else:
                s.opts.pop(opt, None)
        elif opt == IPV6_NEXTHOP and not linux:
            nh = check_nexthop(value)
            if nh is not None and self.node is not None and nh[1] and \
                    nh[1] not in self.node.zones.by_index:
                raise _err(self.profile.nodev_errno, f"no interface index {nh[1]}")
            if nh is None:
                s.opts.pop(opt, None)
            else:
                s.opts[opt] = nh
        elif opt in RECV_EXTHDR or opt in (IPV6_2292PKTINFO, IPV6_2292HOPLIMIT, IPV6_DONTFRAG):
            s.opts[opt] = 1 if _ival(value) else 0
        elif opt == IPV6_USE_MIN_MTU and not linux:
            s.opts[opt] = check_minmtu(_ival(value))
        elif opt == IPV6_2292PKTOPTIONS:
            self.pktoptions_set(s, _octets(value, "IPV6_PKTOPTIONS"))
        else:
            return False
        return True

    def pktoptions_set(self, s: Socket, buf: bytes) -> None:
        """RFC 2292 §6.4's ``IPV6_PKTOPTIONS``: one buffer of ``cmsghdr``
        items replaces every sticky option it can carry; checked whole
        before any is kept."""
        items = parse_cmsgs(buf)
        keys = (IPV6_PKTINFO, IPV6_HOPLIMIT, IPV6_NEXTHOP, *EXTHDR_OPTS)
        saved = {k: s.opts[k] for k in keys if k in s.opts}
        for k in keys:
            s.opts.pop(k, None)
        try:
            for level, typ, data in items:
                typ = RFC2292_TYPES.get(typ, typ)
                if level != IPPROTO_IPV6 or typ not in keys:
                    raise _err(errno.EINVAL, f"IPV6_PKTOPTIONS: item type {typ}")
                if typ == IPV6_HOPLIMIT:
                    v = _ival(data)
                    if not -1 <= v <= 255:
                        raise _err(errno.EINVAL, "hop limit")
                    if v >= 0:
                        s.opts[typ] = v
                elif typ == IPV6_PKTINFO:
                    self.ctloutput_set(s, IPPROTO_IPV6, IPV6_PKTINFO, data)
                else:
                    self.pktopt_set(s, typ, data)
        except (OSError, TypeError, ValueError):
            for k in keys:
                s.opts.pop(k, None)
            s.opts.update(saved)
            raise

    def join_group(self, s: Socket, g: IPv6Address, ifi: int) -> None:
        ifi = self._group_if(g, ifi)
        if (g, ifi) in s.groups:
            raise _err(errno.EADDRINUSE)
        s.groups.add((g, ifi))
        self.node.join(self.ifname(ifi), g, self.now)

    def leave_group(self, s: Socket, g: IPv6Address | IPv4Address, ifi: int,
                    strict: bool = False) -> None:
        if isinstance(g, IPv4Address):
            self.in_leave(s, g, self.ifname(ifi) if ifi in self.zones.by_index else None, strict)
            return
        if not ifi:
            ifi = next((i for gg, i in s.groups if gg == g), 0)
        if (g, ifi) not in s.groups:
            if strict:
                raise _err(errno.EADDRNOTAVAIL)
            return
        self.mcast_leave(s, g, ifi)  # a source filter too (kame.socket.inctl)

    @property
    def filter_layout(self) -> str:
        """``struct icmp6_filter`` bits: Linux's block, the BSDs' pass."""
        return "linux" if self.profile.name == "linux" else "bsd"

    def ctloutput_get(self, s: Socket, level: int, opt: int, buflen: int | bytes = 0) -> Any:
        msf = self.mcast_msfilter_get(s, level, opt, buflen)  # Linux's MCAST_MSFILTER (inctl)
        if msf is not None:
            return msf
        if not isinstance(buflen, int):
            raise TypeError("getsockopt takes a buffer in for MCAST_MSFILTER only")
        if level == IPPROTO_IP:
            return self.ip_ctloutput_get(s, opt, buflen)
        if level == SOL_SOCKET:
            if opt == SO_REUSEADDR:
                return int(s.reuseaddr)
            if opt == SO_REUSEPORT:
                return int(s.reuseport)
            if opt == SO_ERROR:
                e, s.so_error = s.so_error, 0
                return e
            if opt == SO_TYPE:
                return s.type
            raise _err(errno.ENOPROTOOPT)
        if level == IPPROTO_ICMPV6 and opt == ICMP6_FILTER:
            # with a buffer length, the bytes as the platform lays them out
            return s.filter.to_bytes(self.filter_layout) if buflen else s.filter
        linux = self.profile.name == "linux"
        if level == IPPROTO_IPV6 and s.family == AF_INET and linux:
            # udp/tcp/raw_getsockopt hand another level to ip_getsockopt
            raise _err(errno.EOPNOTSUPP, "do_ip_getsockopt: level IPPROTO_IPV6")
        if level != IPPROTO_IPV6 or s.family != AF_INET6:
            raise _err(errno.ENOPROTOOPT)
        if linux and opt == IPV6_ADDR_PREFERENCES:
            sp = s.opts.get(opt, 0)  # ipv6_getsockopt: the stored choices or the defaults
            pv = (PREFER_SRC_TMP if sp & PREFER_SRC_TMP else PREFER_SRC_PUBLIC
                 if sp & PREFER_SRC_PUBLIC else PREFER_SRC_PUBTMP_DEFAULT) | (
                PREFER_SRC_COA if sp & PREFER_SRC_COA else PREFER_SRC_HOME)
            return struct.pack("=i", pv)[:buflen] if buflen > 0 else pv
        if linux and opt in (IPV6_MULTICAST_ALL, IPV6_UNICAST_IF, IPV6_RECVERR,
                             IPV6_MTU_DISCOVER, IPV6_MTU):
            v = self.ip_mtu(s) if opt == IPV6_MTU else \
                s.opts.get(opt, 1) if opt in (IPV6_MULTICAST_ALL, IPV6_MTU_DISCOVER) else \
                s.opts.get(opt, 0) if opt == IPV6_RECVERR else \
                struct.unpack("=i", struct.pack("!I", s.opts.get(opt, 0)))[0]  # htonl
            # ipv6_getsockopt: min(len, sizeof(int)) octets of the int
            return struct.pack("=i", v)[:buflen] if buflen > 0 else v
        if opt == IPV6_FAITH:
            return int(s.opts.get(opt, 0))
        if opt == IPV6_V6ONLY:
            if not self.profile.v6only_opt:
                raise _err(errno.ENOPROTOOPT)
            return s.v6only
        if opt == IPV6_UNICAST_HOPS:
            v = s.opts.get(opt)
            return v if v is not None else (
                int(self.node.knobs["net.inet6.ip6.hlim"]) if self.node else 64)
        if opt == IPV6_MULTICAST_HOPS:
            return s.opts.get(opt, 1)
        if opt == IPV6_MULTICAST_LOOP:
            return s.opts.get(opt, 1)
        if opt == IPV6_MULTICAST_IF:
            return s.opts.get(opt, 0)
        if opt in (IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS, IPV6_RECVPATHMTU):
            return s.opts.get(opt, 0)
        if opt == IPV6_PATHMTU:  # RFC 3542 §11.2: the current path MTU, connected only
            if not isinstance(s.faddr, IPv6Address):
                raise _err(errno.ENOTCONN)
            if self.node is None or s.faddr == IPv6Address(1) or self._is_local6(s.faddr):
                mtu = 65536 if self.profile.name == "linux" else 16384  # lo0 / lo
            else:
                ifn = self._outif(s, s.faddr, s.fscope, None)
                mtu = self.node.path_mtu(ifn, s.faddr) if ifn else 1280
            if self.profile.name == "linux":  # Linux leaves ip6m_addr zeroed
                return bytes(SIN6_LEN) + struct.pack("=I", mtu)
            return self.ip6_mtuinfo(s.faddr, s.fscope, mtu)
        if opt == IPV6_TCLASS:
            return s.opts.get(opt, 0)
        if opt == IPV6_CHECKSUM:
            if s.type != SOCK_RAW:
                raise _err(errno.ENOPROTOOPT)
            return s.checksum
        if opt in EXTHDR_OPTS:
            return s.opts.get(opt, b"")  # RFC 3542 §6: the sticky header, empty when none
        if opt == IPV6_NEXTHOP and self.profile.name != "linux":
            nh = s.opts.get(opt)
            return b"" if nh is None else (struct.pack("=HHI", 10, 0, 0) + nh[0].packed
                                           + struct.pack("=I", nh[1]))
        if opt in RECV_EXTHDR or opt in (IPV6_2292PKTINFO, IPV6_2292HOPLIMIT, IPV6_DONTFRAG):
            return s.opts.get(opt, 0)
        if opt == IPV6_USE_MIN_MTU and self.profile.name != "linux":
            return s.opts.get(opt, -1)
        if opt == IPV6_2292PKTOPTIONS:
            # what the last TCP segment carried (KAME's in6p_options, Linux's
            # pktoptions): a datagram socket keeps none; Linux refuses it
            if self.profile.name == "linux" and s.type != _hostsock.SOCK_STREAM:
                raise _err(errno.ENOPROTOOPT)
            return b""
        raise _err(errno.ENOPROTOOPT)
