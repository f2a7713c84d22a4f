"""``raw_ip.c``: raw IPv4 sockets (``SOCK_RAW``, ``AF_INET``) —
``rip_output`` and ``rip_input`` over the node's :mod:`kame.inet`.

Input: a raw socket receives whole datagrams, IPv4 header included (as
on the wire: Linux, and FreeBSD since 11), of its protocol, to its bound
address and from its connected one. Which datagrams reach raw sockets is
the platform's: Linux hands every datagram to the raw sockets of its
protocol before the protocol sees it (TCP and UDP too); the BSDs only
ICMP (after ``icmp_input``), IGMP and protocols the kernel does not
handle, and a BSD socket of protocol 0 takes all of those. A datagram of
an unknown protocol that a raw socket took is not answered with Protocol
Unreachable. Linux's ``ICMP_FILTER`` (``SOL_RAW``) blocks ICMP types.

Output: without ``IP_HDRINCL`` the data is the payload, behind a header of
the socket's protocol, ``IP_TTL``/``IP_TOS``/``IP_MULTICAST_*`` applied;
ICMP checksums are the application's (unlike ICMPv6). With
``IP_HDRINCL`` (implied by ``IPPROTO_RAW`` on Linux) the data is the
datagram: the kernel fills in a zero IP ID and a zero source, and the
header checksum; Linux sets the total length, the BSDs refuse one that is
not the data's length (``EINVAL``); a header shorter than 20 octets or
longer than the data is ``EINVAL``, more than 65535 octets ``EMSGSIZE``.
The datagram is routed by the destination of ``sendto``.

Socket creation: protocol 0 is ``EPROTONOSUPPORT`` on Linux (the BSDs
allow it); ``IPPROTO_RAW`` never receives on Linux. Counters
(``rips_*``) are in the layer's ``udpstat`` beside ``rip6s_*``.
"""

from __future__ import annotations

import errno
import struct
from ipaddress import IPv4Address
from typing import Any

from kame import _core
from kame.socket.const import AF_INET, SOCK_RAW, _err
from kame.socket.inctl import (
    IP_HDRINCL,
    IP_MULTICAST_IF,
    IP_MULTICAST_LOOP,
    IP_MULTICAST_TTL,
    IP_TOS,
    IP_TTL,
    IP_UNICAST_IF,
    InCtloutput,
)
from kame.socket.sock import Datagram, Socket

IPPROTO_ICMP = 1
IPPROTO_RAW = 255
#: Linux's ``SOL_RAW`` level and its ``ICMP_FILTER`` option (a 32-bit mask
#: of the ICMP types to block).
SOL_RAW = 255
ICMP_FILTER = 1
#: where a socket keeps its ICMP_FILTER among its IPPROTO_IP options
_FILTER_KEY = -1


class RawIp4(InCtloutput):
    """Raw IPv4 sockets for a :class:`~kame.socket.layer.SocketLayer`."""

    _nraw4: int

    def raw4_attach(self, s: Socket) -> None:
        self._nraw4 += 1
        if s.proto == IPPROTO_RAW and self.profile.name == "linux":
            s.ipopts[IP_HDRINCL] = 1

    def raw4_detach(self, s: Socket) -> None:
        self._nraw4 -= 1

    def raw4_setopt(self, s: Socket, opt: int, value: Any) -> None:
        """``SOL_RAW`` options (Linux's ``ICMP_FILTER``)."""
        if self.profile.name != "linux" or s.type != SOCK_RAW or s.family != AF_INET:
            raise _err(errno.ENOPROTOOPT)
        if opt != ICMP_FILTER or s.proto != IPPROTO_ICMP:
            raise _err(errno.EOPNOTSUPP if opt == ICMP_FILTER else errno.ENOPROTOOPT)
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError("ICMP_FILTER is a 4-octet struct icmp_filter")
        b = bytes(value)[:4]
        if len(b) < 4:
            raise _err(errno.EINVAL, "struct icmp_filter is 4 octets")
        s.ipopts[_FILTER_KEY] = struct.unpack("=I", b)[0]

    def rip_output(self, s: Socket, data: bytes, dst: IPv4Address,
                   v4: tuple[IPv4Address | None, int, int | None, int | None] | None = None
                   ) -> int:
        """``rip_output``; ``v4``: what the ancillary data asked (Linux
        ``ip_cmsg_send``: source, interface index, TTL, TOS), for a datagram
        whose header we build."""
        if self.node is None:
            raise _err(errno.ENETUNREACH)
        inet = self.node.inet
        o = s.ipopts
        linux = self.profile.name == "linux"
        mc = dst.is_multicast
        ifn = o.get(IP_MULTICAST_IF) if mc else None
        if not o.get(IP_HDRINCL):
            if len(data) > 65535 - 20:
                raise _err(errno.EMSGSIZE)
            src = s.laddr if isinstance(s.laddr, IPv4Address) and int(s.laddr) else None
            ttl = o.get(IP_MULTICAST_TTL, 1) if mc else o.get(IP_TTL)
            tos = o.get(IP_TOS, 0)
            uc = None
            if v4 is not None:
                src = v4[0] or src
                if v4[1] and mc:
                    ifn = self.ifname(v4[1])
                uc = v4[1] or None  # IP_PKTINFO's ipi_ifindex: the route's interface
                ttl = v4[2] if v4[2] is not None else ttl
                tos = v4[3] if v4[3] is not None else tos
            # Linux raw_sendmsg: IP_UNICAST_IF as udp_sendmsg reads it
            if uc is None and linux:
                uc = o.get(IP_UNICAST_IF)
            e = inet.ip_output(src, dst, s.proto, bytes(data), self.now, ttl=ttl,
                               tos=tos, df=self.ip_df(s), ifname=ifn,
                               oif=self.ifname(uc) if uc and not mc else None)
            if e:
                raise _err(e)
            self.udpstat["rips_opackets"] += 1
            if mc:
                self._rip_mloop(s, inet.mc_sent, ifn)
            return len(data)
        n = len(data)
        if n < 20:
            raise _err(errno.EINVAL, "IP_HDRINCL: shorter than an IPv4 header")
        if n > 65535:
            raise _err(errno.EMSGSIZE)
        hl = (data[0] & 0x0F) * 4
        if hl < 20 or hl > n:
            raise _err(errno.EINVAL, "IP_HDRINCL: header length")
        b = bytearray(data)
        if linux:
            b[2:4] = struct.pack("!H", n)
        elif struct.unpack("!H", b[2:4])[0] != n:
            raise _err(errno.EINVAL, "IP_HDRINCL: ip_len is not the datagram's length")
        if b[4:6] == b"\0\0":
            inet.ip_id = (inet.ip_id + 1) & 0xFFFF
            b[4:6] = struct.pack("!H", inet.ip_id or 1)
        if b[12:16] == bytes(4):
            src = inet.in_selectsrc(dst, ifn)
            if src is None:
                raise _err(errno.EADDRNOTAVAIL)
            b[12:16] = src.packed
        b[10:12] = b"\0\0"
        b[10:12] = struct.pack("!H", _core.ip_cksum(bytes(b[:hl])))
        e = inet.ip_output_raw(bytes(b), dst, self.now, ifname=ifn)
        if e:
            raise _err(e)
        self.udpstat["rips_opackets"] += 1
        if mc:
            self._rip_mloop(s, bytes(b), ifn)
        return n

    def _rip_mloop(self, s: Socket, pkt: bytes, ifn: str | None) -> None:
        """A raw socket's multicast datagram looped back to the sending node
        (``IP_MULTICAST_LOOP``, a membership of the group on the interface
        it left by: ``ip_mloopback``, Linux's ``ip_mc_output``): the raw
        sockets that match get it as one received, the sender too."""
        if not s.ipopts.get(IP_MULTICAST_LOOP, 1) or self.node is None or not pkt:
            return
        inet = self.node.inet
        v = _core.ip_validate(pkt, False)
        ifn = ifn or inet._default_if(v.src)
        if ifn is not None and inet.in_member(ifn, v.dst):
            self.rip_input(ifn, v, pkt)

    def rip_input(self, ifname: str, v: Any, pkt: bytes) -> bool:
        """Copies of ``pkt`` to the raw sockets that match (see the module
        docs); True when one took it."""
        linux = self.profile.name == "linux"
        proto = v.protocol
        took = False
        ifindex = 0
        if self.node is not None and ifname in self.node.ifnets:
            ifindex = int(self.node.ifnets[ifname].index)
        mc = linux and v.dst.is_multicast
        data = b""
        for s in self.pcbs:
            if s.type != SOCK_RAW or s.family != AF_INET:
                continue
            if s.proto != proto and (s.proto or linux):
                continue
            if linux and s.proto == IPPROTO_RAW:
                continue
            if isinstance(s.laddr, IPv4Address) and int(s.laddr) and s.laddr != v.dst:
                continue
            if isinstance(s.faddr, IPv4Address) and int(s.faddr) and s.faddr != v.src:
                continue
            if proto == IPPROTO_ICMP and linux and _FILTER_KEY in s.ipopts:
                t = pkt[v.header_len] if len(pkt) > v.header_len else 0
                if t < 32 and s.ipopts[_FILTER_KEY] >> t & 1:
                    self.udpstat["rips_filtered"] += 1
                    continue
            if mc and not self.in_mc_allow(s, v.dst, v.src, ifindex):  # type: ignore[attr-defined]
                continue  # Linux ip_mc_sf_allow: a source filter, IP_MULTICAST_ALL
            if not took:
                data = bytes(pkt[:v.total_len])
            if len(s.rcvq) == s.rcvq.maxlen:
                self.udpstat["rips_fullsock"] += 1
                continue
            s.rcvq.append(Datagram(data, v.src, 0, v.dst, ifindex, v.ttl, v.tos))
            took = True
        self.udpstat["rips_ipackets" if took else "rips_nosock"] += 1
        return took
