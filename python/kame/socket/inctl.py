"""``ip_ctloutput`` (``ip_output.c``, ``in_mcast.c``): ``setsockopt`` and
``getsockopt`` at ``IPPROTO_IP`` for AF_INET sockets — multicast
memberships (``IP_ADD_MEMBERSHIP``/``IP_DROP_MEMBERSHIP`` with an
``ip_mreq``, or Linux's ``ip_mreqn`` with an interface index), which
join and leave through the node's IGMP (:mod:`kame.inet.igmp`);
source filters (``IP_ADD_SOURCE_MEMBERSHIP``/``IP_DROP_SOURCE_MEMBERSHIP``,
``IP_BLOCK_SOURCE``/``IP_UNBLOCK_SOURCE`` with an ``ip_mreq_source``, RFC
3678; the socket layer has no ``MCAST_*`` protocol-independent options);
``IP_MULTICAST_IF``/``_TTL``/``_LOOP``, ``IP_TTL``, ``IP_TOS`` and, on
raw sockets, ``IP_HDRINCL``.

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
from ipaddress import IPv4Address
from typing import Any

from kame.socket.const import AF_INET, SOCK_RAW, _err, _octets
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
IP_DROP_MEMBERSHIP = _hostsock.IP_DROP_MEMBERSHIP
#: RFC 3678 §4.1.2 source filters (Linux's numbers, ``<linux/in.h>``).
IP_UNBLOCK_SOURCE = 37
IP_BLOCK_SOURCE = 38
IP_ADD_SOURCE_MEMBERSHIP = 39
IP_DROP_SOURCE_MEMBERSHIP = 40
_SOURCE_OPTS = (IP_ADD_SOURCE_MEMBERSHIP, IP_DROP_SOURCE_MEMBERSHIP, IP_BLOCK_SOURCE,
                IP_UNBLOCK_SOURCE)


class InCtloutput(In6Pcb):
    """``IPPROTO_IP`` options for a :class:`~kame.socket.layer.SocketLayer`."""

    def ip_ctloutput_set(self, s: Socket, opt: int, value: Any) -> None:
        if s.family != AF_INET:
            raise _err(errno.ENOPROTOOPT, "IPPROTO_IP options on an AF_INET socket")
        o = s.ipopts
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
            linux = self.profile.name == "linux"
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
        v = _ival(value) if not isinstance(value, (bytes, bytearray, memoryview)) or \
            len(value) in (1, 4) else -2
        if isinstance(value, (bytes, bytearray, memoryview)) and len(value) == 1:
            v = value[0]
        if opt in (IP_TTL, IP_MULTICAST_TTL):
            if v == -1:
                o.pop(opt, None)
                return
            if not (0 if opt == IP_MULTICAST_TTL else 1) <= v <= 255:
                raise _err(errno.EINVAL, "TTL")
            o[opt] = v
            return
        if opt == IP_TOS:
            if not 0 <= v <= 255:
                raise _err(errno.EINVAL, "TOS")
            o[opt] = v
            return
        if opt == IP_MULTICAST_LOOP:
            if v < 0:
                raise _err(errno.EINVAL)
            o[opt] = 1 if v else 0
            return
        if opt == IP_HDRINCL:
            if s.type != SOCK_RAW:
                raise _err(errno.ENOPROTOOPT if self.profile.name == "linux" else errno.EINVAL,
                           "IP_HDRINCL on a raw socket")
            o[opt] = 1 if v else 0
            return
        raise _err(errno.ENOPROTOOPT)

    def ip_ctloutput_get(self, s: Socket, opt: int) -> Any:
        if s.family != AF_INET:
            raise _err(errno.ENOPROTOOPT)
        o = s.ipopts
        if opt == IP_TTL:
            return o.get(opt, int(self.node.knobs["net.inet.ip.ttl"]) if self.node else 64)
        if opt == IP_MULTICAST_TTL:
            return o.get(opt, 1)
        if opt == IP_MULTICAST_LOOP:
            return o.get(opt, 1)
        if opt == IP_TOS:
            return o.get(opt, 0)
        if opt == IP_HDRINCL:
            if s.type != SOCK_RAW:
                raise _err(errno.ENOPROTOOPT if self.profile.name == "linux" else errno.EINVAL)
            return o.get(opt, 1 if s.proto == 255 else 0)
        if opt == IP_MULTICAST_IF:
            ifn = o.get(opt)
            if ifn is None or self.node is None:
                return IPv4Address(0).packed
            ifa = next((x for x in self.node.inet.on(ifn) if x.usable), None)
            return (ifa.addr if ifa is not None else IPv4Address(0)).packed
        raise _err(errno.ENOPROTOOPT)

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
        ifname = rt.ifname if rt is not None else inet._default_if(None)
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
        ``net.inet.ip.mcast_maxsocksrc`` (``igps_srcfull``; ``ENOBUFS`` on
        Linux, ``ENOSPC`` on the BSDs); a mode the option does not apply to
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
        if len(new[1]) > int(self.node.knobs["net.inet.ip.mcast_maxsocksrc"]):
            self.node.inet.inc("igps_srcfull")
            raise _err(errno.ENOBUFS if linux else errno.ENOSPC,
                       "net.inet.ip.mcast_maxsocksrc")
        e = self.node.inet.in_setfilter(ifname, g, s, new[0], new[1], self.now,
                                        counted=member and key not in s.msf)
        if e:
            raise _err(e)
        if new[0] == include and not new[1]:  # the last source dropped: the group left
            s.groups.discard(key)
            s.msf.pop(key, None)
        else:
            s.groups.add(key)
            s.msf[key] = new

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
        filtered = s.msf.pop((g, ifi), None) is not None
        if self.node is not None and ifi in self.node.zones.by_index:
            if filtered:  # a member with a source filter leaves: INCLUDE({})
                self.node.inet.in_setfilter(self.ifname(ifi), g, s, 1, (), self.now)
            else:
                self.node.inet.in_leavegroup(self.ifname(ifi), g, self.now)
