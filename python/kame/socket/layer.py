"""The socket half of a kernel over one node: socket creation, UDP and raw
ICMPv6 output (``udp6_output``, ``rip6_output``) and input
(``udp6_input``, ``rip6_input``), ICMPv6 errors to sockets
(``udp6_ctlinput``), IPv4 loopback, and UDP over IPv4 through the node's
:mod:`kame.inet` (``udp_output``, ``udp_input``, ``udp_ctlinput``); raw
IPv4 sockets are :mod:`kame.socket.raw4`, ``IPPROTO_IP`` options
:mod:`kame.socket.inctl`."""

from __future__ import annotations

import errno
import struct
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from kame import _core
from kame.addr import is_linklocal, is_multicast
from kame.errors import KameError
from kame.ip6.icmp6 import Icmp6ErrorInput
from kame.ip6.var import NodeVars
from kame.scope6 import Scope, in6_addrscope
from kame.socket.const import (
    AF_INET,
    AF_INET6,
    IPPROTO_ICMPV6,
    IPPROTO_IPV6,
    IPPROTO_RAW,
    IPPROTO_UDP,
    IPV6_HOPLIMIT,
    IPV6_MULTICAST_HOPS,
    IPV6_MULTICAST_LOOP,
    IPV6_PKTINFO,
    IPV6_RECVPATHMTU,
    IPV6_TCLASS,
    IPV6_UNICAST_HOPS,
    SOCK_DGRAM,
    SOCK_RAW,
    SOL_SOCKET,
    _err,
)
from kame.socket.ctloutput import (
    IPV6_MTU,
    IPV6_MTU_DISCOVER,
    IPV6_MULTICAST_ALL,
    IPV6_RECVERR,
    IPV6_UNICAST_IF,
    Ip6Ctloutput,
)
from kame.socket.errqueue import ErrQueue, icmp6_err, icmp_err
from kame.socket.inctl import (
    _MC_ADDR,
    IP_MTU_DISCOVER,
    IP_MULTICAST_ALL,
    IP_MULTICAST_IF,
    IP_MULTICAST_LOOP,
    IP_MULTICAST_TTL,
    IP_RECVERR,
    IP_TOS,
    IP_TTL,
    IP_UNICAST_IF,
    MCAST_INCLUDE,
)
from kame.socket.pktopts import (
    EXTHDR_OPTS,
    RFC2292_TYPES,
    Ext,
    PktOpts,
    exthdrs,
    split_exthdrs,
)
from kame.socket.profiles import PROFILES, Profile
from kame.socket.raw4 import RawIp4
from kame.socket.sock import Datagram, PcbTable, Socket, _ival
from kame.socket.sockaddr import Addr
from kame.socket.stream import SOCK_STREAM, StreamLayer  # issue 9: stream sockets

# --- the layer ----------------------------------------------------------------

# ICMPv6 errors to errno (KAME ``inet6ctlerrmap`` through the PRC_ codes).
_ICMP6_ERRNO = {
    (1, 0): errno.EHOSTUNREACH,   # no route
    (1, 1): errno.ECONNREFUSED,   # administratively prohibited
    (1, 2): errno.EHOSTUNREACH,   # beyond scope
    (1, 3): errno.EHOSTDOWN,      # address unreachable
    (1, 4): errno.ECONNREFUSED,   # port unreachable
    (4, 1): errno.ENOPROTOOPT,    # unrecognized next header
}


class SocketLayer(RawIp4, Ip6Ctloutput, StreamLayer, ErrQueue):
    """The PCB tables and socket calls of one node under one profile."""

    def __init__(self, node: Any = None, profile: str | Profile = "netbsd", *,
                 in_ifaddrs: Iterable[str] = ("127.0.0.1",), seed: int = 0) -> None:
        if isinstance(profile, str):
            if profile not in PROFILES:
                raise ValueError(f"profile {profile!r} is not one of {sorted(PROFILES)}")
            profile = PROFILES[profile]
        if not isinstance(profile, Profile):
            raise TypeError(f"profile is a name or a Profile, not {type(profile).__name__}")
        if node is not None and not isinstance(node, NodeVars):
            raise TypeError(f"node is a kame.node.Node, not {type(node).__name__}")
        if isinstance(in_ifaddrs, (str, bytes)):
            raise TypeError("in_ifaddrs is a list of IPv4 addresses")
        self.profile = profile
        self.node = node
        self.pcbs = PcbTable()
        self.in_ifaddrs: set[IPv4Address] = set()
        for a in in_ifaddrs:
            if not isinstance(a, (str, IPv4Address)) or len(self.in_ifaddrs) >= 4096:
                raise TypeError("in_ifaddrs holds at most 4096 IPv4 addresses (str)")
            self.in_ifaddrs.add(IPv4Address(a))
        #: ``netstat -s -p udp`` counters (``struct udpstat``).
        self.udpstat: dict[str, int] = dict.fromkeys(
            ("udps_ipackets", "udps_badsum", "udps_hdrops", "udps_noport", "udps_noportmcast",
             "udps_fullsock", "udps_opackets", "udps_noportbcast", "rip6s_ipackets", "rip6s_badsum",
             "rip6s_nosock", "rip6s_opackets", "rip6s_filtered", "rips_ipackets", "rips_nosock",
             "rips_opackets", "rips_filtered", "rips_fullsock", "udps_filtermcast"), 0)
        self._seq = 0
        self._nraw6 = 0
        self._nraw4 = 0
        #: the loopback's index (:meth:`_loif`), kept while the node's
        #: interface table holds as many entries
        self._lo_cache: tuple[Any, int, int] | None = None
        self._fastpath_saved = True
        self._loop_fastpath = True
        #: Bumped by every change to a PCB's addresses, ports or presence
        #: (bind, connect, an ephemeral port, close): a sender's loopback plan
        #: (:meth:`loop_plan`) holds while it is unchanged.
        self.pcbgen = 0
        if type(seed) is not int:
            raise TypeError(f"seed is an int, not {type(seed).__name__}")
        self._port_next = self.profile.ephemeral[0] + (seed * 7919) % 1000
        #: The ``net.inet6.ip6.v6only`` sysctl as the profile sets it; copied
        #: into each socket at creation (§1.12.3).
        self.v6only_sysctl = self.profile.v6only_default
        if node is not None:
            node.sockets = self
            node.knobs["net.inet6.ip6.v6only"] = self.v6only_sysctl

    @property
    def loop_fastpath(self) -> bool:
        """The loopback fast path (``::1``, ``127/8``, ``::ffff:127.x.y.z``):
        off, every datagram takes the general path; the results are the same."""
        return self._loop_fastpath

    @loop_fastpath.setter
    def loop_fastpath(self, on: bool) -> None:
        if not isinstance(on, bool):
            raise TypeError(f"loop_fastpath is a bool, not {type(on).__name__}")
        self._loop_fastpath = on
        self.pcbgen += 1  # the plans made so far no longer hold

    def socket(self, family: int = AF_INET6, type: int = SOCK_DGRAM, proto: int = 0) -> Socket:
        if type == SOCK_STREAM:
            return self.stream_socket(family, proto)  # kame.socket.stream (issue 9)
        if family not in (AF_INET, AF_INET6):
            raise _err(errno.EAFNOSUPPORT)
        if type not in (SOCK_DGRAM, SOCK_RAW):
            raise _err(errno.EPROTONOSUPPORT, "only SOCK_DGRAM and SOCK_RAW")
        if type == SOCK_DGRAM and proto not in (0, IPPROTO_UDP):
            raise _err(errno.EPROTONOSUPPORT)
        if type == SOCK_RAW and family == AF_INET6 and proto in (0, IPPROTO_RAW):
            raise _err(errno.EPROTONOSUPPORT, "raw sockets: AF_INET6 with a protocol")
        if type == SOCK_RAW and family == AF_INET and (
                not 0 <= proto <= 255 or (proto == 0 and self.profile.name == "linux")):
            raise _err(errno.EPROTONOSUPPORT, "raw IPv4 sockets: a protocol (0 on the BSDs)")
        if self.node is not None:
            self.v6only_sysctl = self.node.knobs["net.inet6.ip6.v6only"]
        if self.profile.listening == "configurable":
            v6only = 1 if self.v6only_sysctl else 0
        else:
            v6only = self.profile.v6only_default
        s = Socket(self, family, type, proto or (IPPROTO_UDP if type == SOCK_DGRAM else proto),
                   v6only=v6only if family == AF_INET6 else 0)
        if type == SOCK_RAW and proto == IPPROTO_ICMPV6 and family == AF_INET6:
            s.checksum = 2  # RFC 3542 §3.1: always computed, at offset 2
            self._raw_icmp6(+1)
        if type == SOCK_RAW and family == AF_INET:
            self.raw4_attach(s)  # kame.socket.raw4
        self._seq += 1
        s.seq = self._seq
        self.pcbs.append(s)
        return s

    def _raw_icmp6(self, d: int) -> None:
        """A raw ICMPv6 socket sees every ICMPv6 message, NS and NA too: the
        node's NS/NA fast path (which bypasses ``icmp6_input``) is switched
        off while one is open, and restored after the last one closes."""
        self._nraw6 += d
        if self.node is None or not hasattr(self.node, "nd6_fastpath"):
            return
        if d > 0 and self._nraw6 == 1:
            self._fastpath_saved = self.node.nd6_fastpath
            self.node.nd6_fastpath = False
        elif d < 0 and self._nraw6 == 0:
            self.node.nd6_fastpath = self._fastpath_saved

    def output(self, s: Socket, data: bytes, dst: Addr, port: int, scope: int,
               anc: list[tuple[int, int, bytes]]) -> int:
        if not anc and not s.opts and s.type == SOCK_DGRAM and type(dst) is IPv6Address \
                and int(dst) == 1 and port and len(data) <= 0xFFF7 and self.loop_fastpath:
            # a datagram to ::1 with no options: the path below, in short
            la = s.laddr
            me = la if type(la) is IPv6Address and int(la) and not is_multicast(la) else dst
            if not s.bound or s.lport == 0:
                s.lport = self._anyport(s, s.laddr)
                s.bound = True
            self.udpstat["udps_opackets"] += 1
            self.udpstat["udps_ipackets"] += 1
            hl = int(self.node.knobs["net.inet6.ip6.hlim"]) if self.node else 64
            if not self._deliver(Datagram(bytes(data), me, s.lport, dst, self._loif(dst), hl, 0),
                                 port, v6=True):
                self._loop_unreach(me, s.lport, dst, port, data)
            return len(data)
        hlim: int | None = None
        tclass: int | None = None
        pktinfo: tuple[IPv6Address, int] | None = None
        po = PktOpts.sticky(s.opts) if s.opts else PktOpts()
        if self.profile.name == "linux":
            po.minmtu = 0  # Linux has no IPV6_USE_MIN_MTU: path MTU discovery
        bsd = self.profile.name != "linux"
        if not bsd and po.has_exthdrs and any(
                RFC2292_TYPES.get(t, t) in EXTHDR_OPTS for _lv, t, _v in anc):
            # Linux: extension headers in the ancillary data replace all the
            # sticky ones (KAME and RFC 3542 §6.1: only those of their type)
            po.hbh = po.dest1 = po.rthdr = po.dest2 = b""
        v4: tuple[IPv4Address | None, int, int | None, int | None] | None = None
        if anc and not bsd:
            if isinstance(dst, IPv4Address):
                # udp_sendmsg/raw_sendmsg: ip_cmsg_send, IPv6 items unread but
                # a mapped IPV6_PKTINFO (kame.socket.inctl)
                v4, anc = self.ip_cmsg_send(s, anc), []
            elif any(lv != IPPROTO_IPV6 for lv, _t, _v in anc):
                # ip6_datagram_send_ctl: items of another level pass unread
                if any(lv == SOL_SOCKET for lv, _t, _v in anc):
                    raise _err(errno.EINVAL, "SOL_SOCKET ancillary type")
                anc = [it for it in anc if it[0] == IPPROTO_IPV6]
        elif anc:
            if isinstance(dst, IPv4Address):
                # FreeBSD udp_output (rip_send drops the control data)
                v4 = None if s.type == SOCK_RAW else self.ip_cmsg_send_bsd(s, anc)
                anc = []
            else:  # ip6_setpktopts: items of another level pass unread
                anc = [it for it in anc if it[0] == IPPROTO_IPV6]
        for level, typ, val in anc:
            if level != IPPROTO_IPV6:
                raise _err(errno.EINVAL, "ancillary level")
            typ = RFC2292_TYPES.get(typ, typ)
            if po.ancillary(typ, val, bsd):
                continue
            if typ == IPV6_PKTINFO:
                if len(val) != 20:
                    raise _err(errno.EINVAL, "in6_pktinfo is 20 bytes")
                pktinfo = (self.user_in6(IPv6Address(bytes(val[:16])), "IPV6_PKTINFO"),
                           struct.unpack("=I", val[16:20])[0])
            elif typ == IPV6_HOPLIMIT:
                hlim = _ival(val)
                if not -1 <= hlim <= 255:
                    raise _err(errno.EINVAL, "hop limit")
                hlim = None if hlim == -1 else hlim
            elif typ == IPV6_TCLASS:
                tclass = _ival(val)
                if not -1 <= tclass <= 255:
                    raise _err(errno.EINVAL, "traffic class")
                tclass = None if tclass == -1 else tclass
            else:
                raise _err(errno.ENOPROTOOPT, f"ancillary type {typ}")
        sticky = False
        if s.opts.get(IPV6_PKTINFO) is not None and pktinfo is None:
            pktinfo, sticky = s.opts[IPV6_PKTINFO], True
        if s.type == SOCK_DGRAM and port == 0:
            raise _err(errno.EINVAL, "port 0")
        if s.type == SOCK_RAW and s.family == AF_INET:
            if not isinstance(dst, IPv4Address):
                raise _err(errno.EAFNOSUPPORT)
            return self.rip_output(s, data, dst, v4)  # kame.socket.raw4
        if isinstance(dst, IPv4Address):
            if s.family == AF_INET6:
                self._mapped_ok(s)
            if not int(dst):
                dst = IPv4Address("127.0.0.1")
            if v4 is not None and v4[0] is not None:
                src: Any = v4[0]  # IP_PKTINFO's ipi_spec_dst
            elif dst.is_multicast and IP_MULTICAST_IF in s.ipopts and \
                    (s.laddr is None or not int(s.laddr)):
                src = self._mc_src(s, dst)
            else:
                src = None
            # Linux udp_sendmsg: the output interface of a datagram that is
            # not multicast (ipc.oif), IP_PKTINFO's ipi_ifindex, else
            # IP_UNICAST_IF: the route goes through it (gone: ENODEV)
            if dst.is_multicast:
                oif = None
            elif v4 is not None and v4[1]:
                oif = self.ifname(v4[1])
            elif IP_UNICAST_IF in s.ipopts:
                oif = self.ifname(s.ipopts[IP_UNICAST_IF])
            else:
                oif = None
            if src is None and oif is not None and not self._is_local4(dst) and \
                    not (isinstance(s.laddr, IPv4Address) and int(s.laddr)):
                src = self.node.inet.in_selectsrc(dst, oif, oif=True)
                if src is None:
                    raise _err(errno.EADDRNOTAVAIL)
            elif src is None:
                src = self._select_src(s, dst, 0, None)
            if not s.bound or s.lport == 0:
                s.lport = self._anyport(s, s.laddr)
                s.bound = True
            self.udpstat["udps_opackets"] += 1
            o = s.ipopts
            mc4 = dst.is_multicast
            ttl = o.get(IP_MULTICAST_TTL, 1) if mc4 else o.get(IP_TTL)
            tos = o.get(IP_TOS, 0)
            if v4 is not None:
                ttl = v4[2] if v4[2] is not None else ttl
                tos = v4[3] if v4[3] is not None else tos
            df = self.ip_df(s)
            # Linux: a datagram too big for its mode fails for that first,
            # then the pending error (kame.socket.sock.sendmsg)
            if s.so_error and self.node is not None and self.node.inet.ip_emsgsize(
                    src, dst, 28 + len(data), df,  # type: ignore[arg-type]
                    o.get(IP_MULTICAST_IF) if mc4 else None, self.now):
                self._ip_local_emsgsize(s, dst, oif)  # type: ignore[arg-type]
                raise _err(errno.EMSGSIZE)
            s._raise_so_error()
            if self._is_local4(dst):
                # looutput: the sender's IP_TTL and IP_TOS reach the receiver
                if ttl is None:
                    ttl = int(self.node.knobs["net.inet.ip.ttl"]) if self.node else 64
                if not self.udp4_input(src, s.lport, dst, port, data,  # type: ignore[arg-type]
                                       ttl, tos, self._loif(dst)):
                    self._loop_unreach(src, s.lport, dst, port, data)
                return len(data)
            if self.node is None:
                raise _err(errno.ENETUNREACH)
            # udp_output -> ip_output (kame.inet). DF: Linux's IP_MTU_DISCOVER
            # (IP_PMTUDISC_WANT: set when the datagram fits the path MTU),
            # FreeBSD's IP_DONTFRAG; the other BSDs leave it clear.
            ifn = o.get(IP_MULTICAST_IF) if mc4 else None
            if mc4 and v4 is not None and v4[1]:
                ifn = self.ifname(v4[1])  # IP_PKTINFO's ipi_ifindex
            e = self.node.inet.udp_output(src, s.lport, dst, port, data, self.now,  # type: ignore[arg-type]
                                          df=df, oif=oif,
                                          ttl=ttl, tos=tos, ifname=ifn)
            if e:
                if e == errno.EMSGSIZE:
                    self._ip_local_emsgsize(s, dst, ifn or oif)  # type: ignore[arg-type]
                raise _err(e)
            # Linux sk_mc_loop: an AF_INET6 socket's IPV6_MULTICAST_LOOP
            # decides for its mapped multicast too (its IP_MULTICAST_LOOP is
            # kept, never read)
            if mc4 and (s.opts.get(IPV6_MULTICAST_LOOP, 1)
                        if s.family == AF_INET6 and self.profile.name == "linux"
                        else o.get(IP_MULTICAST_LOOP, 1)):
                ifn = ifn or self.node.inet._default_if(src)  # type: ignore[arg-type]
                if ifn is not None and self.node.inet.in_member(ifn, dst):
                    if self._nraw4 and self.profile.name == "linux":
                        # ip_mc_output's copy goes up as one received: Linux's
                        # raw sockets of IPPROTO_UDP first (raw_local_deliver)
                        pkt = self.node.inet.mc_sent
                        self.rip_input(ifn, _core.ip_validate(pkt, False), pkt)
                    self.udp4_input(src, s.lport, dst, port, data,  # type: ignore[arg-type]
                                    ttl if ttl is not None else 1, tos, self.ifindex(ifn))
            return len(data)
        if pktinfo is not None and int(pktinfo[0]) and not self._is_local6(pktinfo[0]):
            raise _err(errno.EADDRNOTAVAIL, "IPV6_PKTINFO source")
        if not int(dst):
            dst = IPv6Address(1)
        if pktinfo is not None and pktinfo[1] and self.node is not None \
                and pktinfo[1] not in self.node.zones.by_index:
            # Linux checks an ancillary ifindex (ENODEV); a sticky one only
            # fails the route lookup (ENETUNREACH); KAME checked it at setsockopt
            raise _err(self.profile.nozone_errno if sticky else self.profile.nodev_errno,
                       "IPV6_PKTINFO interface")
        uc6 = s.opts.get(IPV6_UNICAST_IF) if s.opts else None
        uc_rt = None
        if uc6 and not is_multicast(dst) and not scope and (pktinfo is None or not pktinfo[1]) \
                and self.node is not None and not self._is_local6(dst):
            # Linux udpv6_sendmsg: np->ucast_oif, the output interface of a
            # unicast datagram that names none (IPV6_PKTINFO, a zone), routed
            # through it only (none there: ENETUNREACH)
            if not is_linklocal(dst):
                uc_rt = self.node.rtalloc(dst, self.now, oif=self.ifname(uc6))
                if uc_rt is None:
                    raise _err(errno.ENETUNREACH, "IPV6_UNICAST_IF: no route through it")
            pktinfo = (pktinfo[0] if pktinfo else IPv6Address(0), uc6)
        nh_if: str | None = None
        if po.nexthop is not None and not is_multicast(dst) and self.node is not None:
            # RFC 3542 §6.1 IPV6_NEXTHOP: the neighbor's interface, for the
            # source as for the packet (KAME's selectroute)
            nh_if = self._outif(s, po.nexthop[0], po.nexthop[1] or scope, pktinfo)
            if nh_if is None:
                raise _err(errno.ENETUNREACH)
            if pktinfo is None or not pktinfo[1]:
                pktinfo = (pktinfo[0] if pktinfo else IPv6Address(0), self.ifindex(nh_if))
        src6 = self._select_src(s, dst, scope, pktinfo)
        assert isinstance(src6, IPv6Address)  # an IPv6 destination has an IPv6 source
        src = src6
        if s.type == SOCK_DGRAM and (not s.bound or s.lport == 0):
            s.lport = self._anyport(s, s.laddr)
            s.bound = True
        mc = is_multicast(dst)
        if hlim is None:
            hlim = s.opts.get(IPV6_HOPLIMIT)  # RFC 2292 IPV6_PKTOPTIONS' sticky hop limit
        if hlim is None:
            if mc:
                hlim = int(s.opts.get(IPV6_MULTICAST_HOPS, 1))
            else:
                hlim = s.opts.get(IPV6_UNICAST_HOPS)
                if hlim is None:
                    hlim = int(self.node.knobs["net.inet6.ip6.hlim"]) if self.node else 64
        if tclass is None:
            tclass = int(s.opts.get(IPV6_TCLASS, 0))
        ext, first_nh, first = b"", 0, dst
        if po.has_exthdrs:
            ext, first_nh, first = exthdrs(po, dst, IPPROTO_UDP if s.type == SOCK_DGRAM
                                           else s.proto)
        if s.type == SOCK_DGRAM and len(data) <= 0xFFF7 and self._is_local6(dst) and \
                not is_multicast(dst) and not ext:
            # looutput: a datagram to ourselves is handed over as it is; the
            # loopback neither computes nor checks a checksum (FreeBSD marks
            # such mbufs CSUM_DATA_VALID | CSUM_PSEUDO_HDR)
            self.udpstat["udps_opackets"] += 1
            self.udpstat["udps_ipackets"] += 1
            ifidx = pktinfo[1] if pktinfo and pktinfo[1] else (
                scope or (self._loif(dst) if int(dst) == 1 else self._default_scope(dst)))
            d = Datagram(bytes(data), src, s.lport, dst, ifidx, hlim, tclass)
            if not self._deliver(d, port, v6=True):
                self._loop_unreach(src, s.lport, dst, port, data)
            return len(data)
        if s.type == SOCK_DGRAM:
            body = _core.UdpHeader(s.lport, port, data).to_bytes(src, dst)
            nh = IPPROTO_UDP
            self.udpstat["udps_opackets"] += 1
        else:
            body = self._raw_checksum(s, src, dst, data)  # type: ignore[arg-type]
            nh = s.proto
            self.udpstat["rip6s_opackets"] += 1
        # Local delivery (looutput): ::1, our own addresses, a group we joined.
        recv_ext = split_exthdrs(ext, first_nh) if ext else ()
        if self._is_local6(first):
            ifidx = pktinfo[1] if pktinfo and pktinfo[1] else (
                scope or (self._loif(dst) if int(dst) == 1 else self._default_scope(dst)))
            if not self.ip6_local(src, dst, nh, body, hlim, tclass,  # type: ignore[arg-type]
                                  ifidx, recv_ext) and nh == IPPROTO_UDP:
                self._loop_unreach(src, s.lport, dst, port, data)
            return len(data)
        if self.node is None:
            raise _err(errno.ENETUNREACH)
        nxt = None
        ifname: str | None
        if nh_if is not None and po.nexthop is not None:
            nxt, ifname = po.nexthop[0], nh_if  # the packet goes to that neighbor
        else:
            ifname = self._outif(s, first, scope if first == dst else 0, pktinfo)
        if ifname is None:
            raise _err(errno.ENETUNREACH)
        hdr = _core.Ipv6Header(src, first, next_header=first_nh if ext else nh, hop_limit=hlim,
                               traffic_class=tclass, payload_len=len(ext) + len(body))
        pkt = hdr.to_bytes() + ext + body
        # Linux's IPV6_MTU_DISCOVER (np->pmtudisc; WANT on the other profiles):
        # PROBE, INTERFACE and OMIT size by the interface's MTU
        pmd = s.opts.get(IPV6_MTU_DISCOVER, 1) if self.profile.name == "linux" else 1
        if pmd >= 3:
            mtu = self.node._linkmtu(ifname)
        else:
            mtu = self.node.path_mtu(ifname, first) if len(pkt) > 1280 else 1280
        # Linux's IPV6_MTU (np->frag_size): refused past the smaller size
        # (ip6_setup_cork), fragmented to it when past the route's MTU
        # (ip6_fragment)
        fragsize = min(mtu, s.opts.get(IPV6_MTU) or mtu) if len(pkt) > 1280 else mtu
        if len(pkt) > fragsize and (po.dontfrag or 2 <= pmd <= 4):
            # RFC 3542 §11.2: not fragmented; the application learns the MTU
            # (IPV6_RECVPATHMTU; Linux's IPV6_RECVERR a local error too);
            # DO, PROBE and INTERFACE never fragment (ip6_sk_ignore_df)
            if po.dontfrag and s.opts.get(IPV6_RECVPATHMTU):
                self._notify_pmtu(dst, s.lport, port, fragsize)
            if s.opts.get(IPV6_RECVERR):
                self.ipv6_local_error(s, errno.EMSGSIZE, dst, port, fragsize - len(ext))
            raise _err(errno.EMSGSIZE, f"{len(pkt)} octets, path MTU {fragsize}")
        pkts = [pkt]
        if fragsize < mtu < len(pkt):
            pkts = self.node.ip6_fragment(pkt, fragsize)
        if len(pkt) > 1280 and (po.minmtu == 1 or (po.minmtu == -1 and mc)) and \
                not po.dontfrag:
            pkts = self.node.ip6_fragment(pkt, 1280)  # RFC 3542 §11.1 IPV6_USE_MIN_MTU
        if mc:
            if s.opts.get(IPV6_MULTICAST_LOOP, 1) and dst in self.node.groups.get(ifname, ()):
                self.ip6_local(src, dst, nh, body, hlim, tclass,  # type: ignore[arg-type]
                               self.ifindex(ifname), recv_ext)
            for p in pkts:
                self.node.output(ifname, p, self.now)
            return len(data)
        if uc_rt is not None and first == dst:
            nxt = uc_rt.next_hop
        elif nxt is None and not is_linklocal(first):
            rt = self.node.rtalloc(first, self.now)
            if rt is not None and rt.ifname == ifname:
                nxt = rt.next_hop
        if pmd >= 3:  # the interface's MTU, not the path's (ip6_skb_dst_mtu)
            for p in pkts:
                self.node.output(ifname, p, self.now, nxt, linkmtu=True)
            return len(data)
        for p in pkts:
            self.node.output(ifname, p, self.now, nxt)
        return len(data)

    def _ip_local_emsgsize(self, s: Socket, dst: IPv4Address, ifname: str | None) -> None:
        """Linux ``__ip_append_data``'s ``ip_local_error`` for a datagram past
        its MTU: the path's (``ip_sk_use_pmtu``: DONT, WANT, DO) or the
        interface's (PROBE, INTERFACE, OMIT)."""
        if self.profile.name != "linux" or not s.ipopts.get(IP_RECVERR) or self.node is None:
            return
        inet = self.node.inet
        if ifname is None:
            rt = inet.rtalloc(dst)
            ifname = rt.ifname if rt is not None else None
        if ifname is None:
            return
        mode = s.ipopts.get(IP_MTU_DISCOVER, 1)
        mtu = inet.path_mtu(ifname, dst, self.now) if mode < 3 else inet.linkmtu(ifname)
        self.ip_local_error(s, errno.EMSGSIZE, dst,
                            s.fport if s.faddr is not None else 0, int(mtu))

    def _raw_checksum(self, s: Socket, src: IPv6Address, dst: IPv6Address, data: bytes) -> bytes:
        off = s.checksum
        if off < 0:
            return data
        if off + 2 > len(data):
            raise _err(errno.EINVAL, "checksum offset beyond the data")
        b = bytearray(data)
        b[off:off + 2] = b"\0\0"
        c = _core.in6_cksum(src, dst, s.proto, bytes(b))
        b[off:off + 2] = struct.pack("!H", c)
        return bytes(b)

    def ip6_local(self, src: IPv6Address, dst: IPv6Address, nh: int, body: bytes, hlim: int,
                  tclass: int, ifindex: int, ext: Ext = ()) -> bool:
        """A packet we sent to ourselves (``looutput`` -> ``ip6_input``)."""
        if nh == IPPROTO_UDP:
            if is_multicast(dst) and self.profile.name == "linux" and \
                    any(r.type == SOCK_RAW and r.proto == nh for r in self.pcbs):
                # a multicast copy looped back (ip6_mc_output) goes up as one
                # received: Linux's raw sockets of IPPROTO_UDP too
                # (raw6_local_deliver)
                self.rip6_input(src, dst, nh, body, hlim, tclass, ifindex, ext)
            return self.udp6_deliver(src, dst, body, hlim, tclass, ifindex, ext=ext)
        return self.rip6_input(src, dst, nh, body, hlim, tclass, ifindex, ext)

    def _loop_unreach(self, src: Addr, sport: int, dst: Addr, dport: int,
                      data: bytes | None = None) -> None:
        """No socket for a datagram we sent ourselves: the Port Unreachable
        the loopback would carry back reaches the connected sender (on
        Linux, an IPv4 one as :meth:`udp_ctlinput` takes it from
        ``dst``, quoting the first 520 octets of ``data``: 576 less the
        headers; an IPv6 one as ``__udp6_lib_err`` takes it, quoting 1184
        octets: 1280 less two IPv6 and UDP/ICMPv6 headers. Either comes in
        on the loopback from ``dst`` with the default hop limit, TOS 0xc0
        for ICMP (``icmp_reply``'s precedence))."""
        if is_multicast(dst) if isinstance(dst, IPv6Address) else dst.is_multicast:
            return
        if data is not None and self.profile.name == "linux" and isinstance(dst, IPv4Address):
            q = data[:520]
            ttl = int(self.node.knobs["net.inet.ip.ttl"]) if self.node else 64
            self.udp_ctlinput(3, 3, src, dst, sport, dport,  # type: ignore[arg-type]
                              reporter=dst, payload=q, size=20 + 8 + 28 + len(q),
                              rx=Datagram(b"", dst, 0, src, self._loif(src), ttl, 0xC0))
            return
        if data is not None and self.profile.name == "linux" and self.node is not None and \
                isinstance(dst, IPv6Address) and isinstance(src, IPv6Address):
            n = 8 + len(data) if len(data) <= 0xFFF7 else 0  # a jumbogram's: 0 (RFC 2675)
            inv = struct.pack("!IHBB", 0x60000000, n, IPPROTO_UDP, 64) + src.packed + \
                dst.packed + struct.pack("!HHHH", sport, dport, n, 0) + data[:1184]
            hl = int(self.node.knobs["net.inet6.ip6.hlim"])
            # IP6CB(skb)->iif: the interface of the local route, the one
            # holding the address (the loopback for ::1)
            ifa = self.node.addrs.find_any(src) if int(src) != 1 else None
            err = Icmp6ErrorInput(ifa.ifname if ifa is not None else self.ifname(self._loif(src)),
                                  dst, 1, 4, 0, src, dst, IPPROTO_UDP, self.now, hl, 0, src)
            self._udp6_err(err, inv, sport, dport)
            return
        for s in self.pcbs:
            if s.type == SOCK_DGRAM and s.faddr == dst and s.fport == dport and \
                    s.lport == sport:
                s.so_error = errno.ECONNREFUSED

    def udp6_input(self, ifname: str, hdr: Any, body: bytes, now: float, ext: Ext = ()) -> bool:
        """The node's hook: a UDP datagram for us (``ext``: its Hop-by-Hop,
        Destination options and Routing headers, for RFC 3542's receive
        options). False when no socket took it (the node then answers Port
        Unreachable for unicast)."""
        ifindex = self.ifindex(ifname) if ifname in getattr(self.node, "ifnets", {}) else 0
        return self.udp6_deliver(hdr.src, hdr.dst, body, hdr.hop_limit, hdr.traffic_class,
                                 ifindex, checked=False, ext=ext)

    def udp6_deliver(self, src: IPv6Address, dst: IPv6Address, body: bytes, hlim: int,
                     tclass: int, ifindex: int, *, checked: bool = True, ext: Ext = ()) -> bool:
        try:
            u = _core.UdpHeader.from_bytes(body, src, dst)
        except KameError:
            self.udpstat["udps_badsum"] += 1
            return True  # counted drop, no ICMPv6 error (udp6_input)
        self.udpstat["udps_ipackets"] += 1
        d = Datagram(bytes(u.payload), src, u.src_port, dst, ifindex, hlim, tclass, None, ext)
        return self._deliver(d, u.dst_port, v6=True)

    def udp_input(self, ifname: str, src: IPv4Address, dst: IPv4Address, body: bytes, ttl: int,
                  tos: int, bcast: bool = False) -> bool:
        """The node's hook (``udp_input``): a UDP datagram over IPv4 for us.
        False when no socket took it (the node then answers Port
        Unreachable for unicast); a bad checksum is a counted drop."""
        try:
            u = _core.UdpHeader.from_bytes(body, src, dst)
        except KameError:
            self.udpstat["udps_badsum"] += 1
            return True
        ifindex = int(self.node.ifnets[ifname].index) if self.node is not None and \
            ifname in getattr(self.node, "ifnets", {}) else 0
        if self.udp4_input(src, u.src_port, dst, u.dst_port, bytes(u.payload), ttl, tos,
                           ifindex):
            return True
        if bcast:
            self.udpstat["udps_noportbcast"] += 1
        return False

    def udp_ctlinput(self, icmp_type: int, code: int, src: IPv4Address, dst: IPv4Address,
                     sport: int, dport: int, *, reporter: IPv4Address | None = None,
                     rest: int = 0, payload: bytes | None = None, size: int = 0,
                     rx: Datagram | None = None) -> None:
        """``udp_ctlinput``/``in_pcbnotify``: an ICMP error about a datagram
        we sent from ``src``:``sport`` to ``dst``:``dport`` reaches the
        socket connected that way (AF_INET, or AF_INET6 to ``::ffff:dst``)
        as ``so_error`` (``inetctlerrmap``); Fragmentation Needed only
        lowers the path MTU, but on Linux (``__udp4_lib_err``) it is
        ``EMSGSIZE`` to a connected socket whose ``IP_MTU_DISCOVER`` is
        not ``IP_PMTUDISC_DONT``. Linux's with the error's source
        (``reporter``), its ICMP word (``rest``), the quoted payload past
        the UDP header and the ICMP message's octets (``size``): the socket
        the quoted datagram came from takes it as ``__udp4_lib_err`` does
        (:mod:`kame.socket.errqueue`)."""
        if reporter is not None and self.profile.name == "linux":
            if payload is None:
                return  # icmp_socket_deliver: less than 8 octets past the header
            s = self._udp4_err_sock(src, sport, dst, dport)
            if s is not None:
                found = icmp_err(icmp_type, code, rest, self.pmtudisc(s))
                if found is not None:
                    self.icmp_error4(s, icmp_type, code, reporter, dst, dport, payload, size,
                                     found, rx)
            return
        if icmp_type == 3 and code == 4 and self.profile.name == "linux":
            for s in self.pcbs:
                if s.type == SOCK_DGRAM and s.faddr == dst and s.fport == dport and \
                        s.lport == sport and s.ipopts.get(IP_MTU_DISCOVER, 1) != 0:
                    s.so_error = errno.EMSGSIZE
            return
        if icmp_type == 3:
            code_errno = {2: errno.ECONNREFUSED, 3: errno.ECONNREFUSED, 4: 0}.get(
                code, errno.EHOSTUNREACH)
        elif icmp_type == 12:
            code_errno = errno.ENOPROTOOPT
        else:
            code_errno = 0
        if not code_errno:
            return
        for s in self.pcbs:
            if s.type == SOCK_DGRAM and s.faddr == dst and s.fport == dport and \
                    s.lport == sport:
                s.so_error = code_errno

    def udp4_input(self, src: IPv4Address, sport: int, dst: IPv4Address, dport: int,
                   data: bytes, ttl: int = 64, tos: int = 0, ifindex: int = 0) -> bool:
        """An IPv4 UDP datagram (from the IPv4 stack or our loopback) that
        came in on interface ``ifindex``."""
        self.udpstat["udps_ipackets"] += 1
        d = Datagram(bytes(data), src if type(src) is IPv4Address else IPv4Address(src), sport,
                     dst if type(dst) is IPv4Address else IPv4Address(dst), ifindex, ttl, tos)
        return self._deliver(d, dport, v6=False)

    def _loif(self, dst: Addr) -> int:
        """The interface a datagram to our own ``dst`` (``127/8``, ``::1``)
        comes in on: the loopback, the node's, else index 1 as in a fresh
        namespace (``lo``, ``lo0``)."""
        node = self.node
        if node is None:
            return 1
        ifnets = node.ifnets
        c = self._lo_cache
        if c is not None and c[0] is ifnets and c[1] == len(ifnets):
            return c[2]
        lo = next((int(i.index) for i in ifnets.values() if i.is_loopback), 0) or 1
        self._lo_cache = (ifnets, len(ifnets), lo)
        return lo

    def loop_plan(self, s: Socket, dst: Addr, port: int, scope: int
                  ) -> tuple[int, Socket, Addr, Addr, int, str, int] | None:
        """How a datagram of ``s`` to ``dst``:``port`` goes over the
        loopback, as :meth:`output` would send it with no options: ``(pcbgen,
        receiving socket, source, destination, hop limit or TTL, or 0 for the
        node's knob, that knob, the receiving interface's index)``; ``None`` where the general path must decide
        (not ``::1``, ``127/8`` or ``::ffff:127.x.y.z``, sticky options, a
        zone, no receiver, a mapped destination the profile refuses).
        :class:`~kame.socket.sock.Socket.sendto` hands the next datagrams to
        the same destination straight to the receiver while ``pcbgen`` holds."""
        if not self.loop_fastpath or scope or not port or s.type != SOCK_DGRAM or s.opts or \
                s.ipopts or \
                s.closed or not s.bound or not s.lport or \
                (s.faddr is not None and self.profile.name != "linux"):
            return None
        if type(dst) is IPv6Address:
            if int(dst) != 1:
                return None
            v6, hl, knob = True, (0 if self.node is not None else 64), "net.inet6.ip6.hlim"
        elif type(dst) is IPv4Address:
            if int(dst) >> 24 != 127:
                return None
            if s.family == AF_INET6 and (not self.profile.initiating or s.v6only):
                return None  # _mapped_ok refuses it: the general path raises
            v6, hl, knob = False, (0 if self.node is not None else 64), "net.inet.ip.ttl"
        else:
            return None
        # in6_selectsrc / in_pcbladdr: the bound address, else the loopback's
        src = self._select_src(s, dst, 0, None)
        top = self._unicast_target(Datagram(b"", src, s.lport, dst, 0, hl, 0), port, v6)
        if top is None:
            return None
        return (self.pcbgen, top, src, dst, hl, knob, self._loif(dst))  # type: ignore[arg-type]

    def _matches(self, s: Socket, d: Datagram, dport: int, v6: bool) -> int | None:
        """The match score of a socket for a datagram, ``None`` for none."""
        if s.type != SOCK_DGRAM or not s.bound or s.lport != dport:
            return None
        c4, c6 = self._cover(s, s.laddr, deliver=True)
        cov = c6 if v6 else c4
        if cov is None:
            return None
        score = 2 if s.family == AF_INET else 1
        if cov != "*":
            if cov != d.dst:
                return None
            score += 4
        if s.faddr is not None:
            if s.faddr != d.src or s.fport != d.sport:
                return None
            score += 8
        if v6 and s.lscope and s.laddr is not None and d.ifindex and s.lscope != d.ifindex:
            return None
        return score

    def _unicast_target(self, d: Datagram, dport: int, v6: bool) -> Socket | None:
        """The one socket a unicast datagram goes to: the best score, then
        the newest; over IPv4 on the BSDs the IPv4 table first."""
        m = self._matches
        top: Socket | None = None
        bsc = bseq = -1
        if v6 or not self.profile.bsd_delivery:
            for s in self.pcbs.on_port(dport):
                if (sc := m(s, d, dport, v6)) is None:
                    continue
                if sc > bsc or (sc == bsc and s.seq > bseq):
                    top, bsc, bseq = s, sc, s.seq
            return top
        # KAME (§1.12.2.1, .3.1, .4.1): the IPv4 table first; an AF_INET6
        # wildcard gets the datagram only if no AF_INET socket matches.
        cands = [(sc, s) for s in self.pcbs.on_port(dport)
                 if (sc := m(s, d, dport, v6)) is not None]
        cands = [(sc, s) for sc, s in cands if s.family == AF_INET or s.mapped_bound] or cands
        for sc, s in cands:
            if sc > bsc or (sc == bsc and s.seq > bseq):
                top, bsc, bseq = s, sc, s.seq
        return top

    def _deliver(self, d: Datagram, dport: int, v6: bool) -> bool:
        m = self._matches
        dst = d.dst
        if not (is_multicast(dst) if v6 else  # type: ignore[arg-type]
                (dst.is_multicast or int(dst) == 0xFFFFFFFF)):
            top = self._unicast_target(d, dport, v6)
            if top is None:
                self.udpstat["udps_noport"] += 1
                return False
            if len(top.rcvq) == top.rcvq.maxlen:
                self.udpstat["udps_fullsock"] += 1
            else:
                top.rcvq.append(d)
            return True
        # multicast and broadcast: every member on the port, in the order
        # the sockets were made (the PCB list's)
        cands = sorted(((sc, s) for s in self.pcbs.on_port(dport)
                        if (sc := m(s, d, dport, v6)) is not None), key=lambda c: c[1].seq)
        if not cands:
            self.udpstat["udps_noport"] += 1
            return False
        if self.profile.bsd_delivery and not v6:
            # KAME (§1.12.2.1, .3.1, .4.1): the IPv4 table first; an AF_INET6
            # wildcard gets the datagram only if no AF_INET socket matches.
            v4 = [(sc, s) for sc, s in cands if s.family == AF_INET or s.mapped_bound]
            cands = v4 or cands
        targets = [s for _sc, s in cands]  # multicast and broadcast: every member
        if not v6 and dst.is_multicast and self.profile.name == "linux":
            allowed = []
            for s in targets:
                if self.in_mc_allow(s, dst, d.src, d.ifindex):  # type: ignore[arg-type]
                    allowed.append(s)
                elif (dst, d.ifindex) in s.msf:
                    self.udpstat["udps_filtermcast"] += 1  # refused by its source filter
            targets = allowed
        elif any(s.msf for s in targets):
            targets = [s for s in targets if self._msf_pass(s, d)]
        if v6 and self.profile.name == "linux":
            # inet6_mc_check: a socket with no membership of the group gets
            # it only with IPV6_MULTICAST_ALL (on by default)
            targets = [s for s in targets if s.opts.get(IPV6_MULTICAST_ALL, 1) or
                       any(g == dst for g, _i in s.groups)]
        for s in targets:
            if len(s.rcvq) == s.rcvq.maxlen:
                self.udpstat["udps_fullsock"] += 1
                continue
            s.rcvq.append(d)
        return True

    def _mc_src(self, s: Socket, dst: IPv4Address) -> IPv4Address:
        """The source of a multicast datagram that ``IP_MULTICAST_IF``
        sends out of an interface: the address the option named (Linux's
        ``inet->mc_addr``, ``ENETUNREACH`` when it is not ours), else the
        interface's (BSD ``in_pcbladdr``: ``EADDRNOTAVAIL`` if it has none;
        Linux picks one as for any route)."""
        a = s.ipopts.get(_MC_ADDR)
        if a is not None and int(a):
            if not self._is_local4(a):
                raise _err(errno.ENETUNREACH, "IP_MULTICAST_IF names an address not ours")
            return a  # type: ignore[no-any-return]
        ifa = next((x for x in self.node.inet.on(s.ipopts[IP_MULTICAST_IF]) if x.usable),
                   None) if self.node is not None else None
        if ifa is not None:
            return ifa.addr  # type: ignore[no-any-return]
        if self.profile.name != "linux":
            raise _err(errno.EADDRNOTAVAIL, "IP_MULTICAST_IF's interface has no address")
        return self._select_src(s, dst, 0, None)  # type: ignore[return-value]

    @staticmethod
    def in_mc_allow(s: Socket, dst: IPv4Address, src: IPv4Address, ifindex: int) -> bool:
        """Linux ``ip_mc_sf_allow`` (UDP and raw delivery of IPv4
        multicast): a socket's membership of the group on the interface the
        datagram came in on decides by its filter (a UDP socket's refusal
        is ``udps_filtermcast``); with none, ``IP_MULTICAST_ALL`` (on by
        default for AF_INET sockets, off for AF_INET6 ones: a dual socket
        takes the IPv4 groups it joined at ``IPPROTO_IP``)."""
        f = s.msf.get((dst, ifindex))
        if f is None:
            if (dst, ifindex) in s.groups:
                return True
            return bool(s.ipopts.get(IP_MULTICAST_ALL, 1 if s.family == AF_INET else 0))
        return (src in f[1]) == (f[0] == MCAST_INCLUDE)

    def _msf_pass(self, s: Socket, d: Datagram) -> bool:
        """A socket's source filters for the datagram's group
        (``imo_multi_filter``): a membership that takes the source lets it
        through; one whose filter refuses it is ``udps_filtermcast``."""
        fs = [f for (g, _i), f in s.msf.items() if g == d.dst]
        if not fs or any((d.src in srcs) == (mode == 1) for mode, srcs in fs):
            return True
        self.udpstat["udps_filtermcast"] += 1
        return False

    def rip6_input(self, src: IPv6Address, dst: IPv6Address, nh: int, body: bytes, hlim: int,
                   tclass: int, ifindex: int, ext: Ext = ()) -> bool:
        """``rip6_input``: every raw socket of protocol ``nh`` whose bound and
        connected addresses match, after ``IPV6_CHECKSUM`` and ``ICMP6_FILTER``."""
        took = False
        for s in self.pcbs:
            if s.type != SOCK_RAW or s.proto != nh:
                continue
            if s.laddr is not None and int(s.laddr) and s.laddr != dst:
                continue
            if s.faddr is not None and int(s.faddr) and s.faddr != src:
                continue
            if nh == IPPROTO_ICMPV6 and body and s.filter.willblock(body[0]):
                self.udpstat["rip6s_filtered"] += 1
                continue
            if s.checksum >= 0 and nh != IPPROTO_ICMPV6 and (
                    len(body) < s.checksum + 2 or _core.in6_cksum(src, dst, nh, body) != 0):
                self.udpstat["rip6s_badsum"] += 1
                continue
            s.rcvq.append(Datagram(bytes(body), src, 0, dst, ifindex, hlim, tclass, None, ext))
            took = True
        self.udpstat["rip6s_ipackets" if took else "rip6s_nosock"] += 1
        return took

    def ctlinput(self, err: Any, inv: bytes) -> None:
        """``udp6_ctlinput``/``in6_pcbnotify``: an ICMPv6 error about a UDP
        datagram we sent (``inv``, the invoking packet) reaches the connected
        socket it came from as ``so_error``."""
        code = _ICMP6_ERRNO.get((err.type, err.code))
        self.rip6_ctlinput(err, inv)  # kame.socket.errqueue
        if err.next_header != IPPROTO_UDP or len(inv) < 48:
            return
        sport, dport = struct.unpack("!HH", inv[40:44])
        if self.profile.name == "linux":
            self._udp6_err(err, inv, sport, dport)
            if err.type != 2:
                return
        if err.type == 2:  # Packet Too Big: IPV6_RECVPATHMTU (RFC 3542 §11.3)
            self._notify_pmtu(err.dst, sport, dport, max(int(err.param), 1280))
            return
        if code is None:
            return
        for s in self.pcbs:
            if s.type == SOCK_DGRAM and s.family == AF_INET6 and s.faddr == err.dst and \
                    s.fport == dport and s.lport == sport:
                s.so_error = code

    def _udp6_err_sock(self, src: IPv6Address, sport: int, dst: IPv6Address, dport: int
                       ) -> Socket | None:
        """``__udp6_lib_lookup`` of the datagram an error quotes: the socket
        connected that way, else one bound to its port."""
        best = None
        for s in self.pcbs:
            if s.type != SOCK_DGRAM or s.family != AF_INET6 or s.lport != sport:
                continue
            if s.laddr is not None and int(s.laddr) and s.laddr != src:
                continue
            if s.faddr is not None:
                if s.faddr == dst and s.fport == dport:
                    return s
                continue
            best = best or s
        return best

    def udp6_pmtu_ignored(self, inv: bytes) -> bool:
        """Whether the socket a Packet Too Big's quoted datagram came from
        ignores it (Linux, ``IPV6_PMTUDISC_INTERFACE``/``_OMIT``:
        ``ip6_sk_accept_pmtu``), leaving the path MTU as it was."""
        if self.profile.name != "linux" or len(inv) < 44:
            return False
        sport, dport = struct.unpack("!HH", inv[40:44])
        s = self._udp6_err_sock(IPv6Address(inv[8:24]), sport, IPv6Address(inv[24:40]), dport)
        return s is not None and s.opts.get(IPV6_MTU_DISCOVER, 1) in (4, 5)

    def _udp6_err(self, err: Any, inv: bytes, sport: int, dport: int) -> None:
        """``__udp6_lib_err``: the socket the quoted datagram came from
        (connected that way, else bound to its port) takes the error
        (:mod:`kame.socket.errqueue`)."""
        best = self._udp6_err_sock(err.src, sport, err.dst, dport)
        if best is None:
            return
        pmd = best.opts.get(IPV6_MTU_DISCOVER, 1)
        if err.type == 2 and pmd in (4, 5):
            return  # INTERFACE, OMIT: Packet Too Big is not taken (ip6_sk_accept_pmtu)
        found = icmp6_err(err.type, err.code, int(err.param), pmd)
        ifindex = self.ifindex(err.ifname) if err.ifname in self.node.ifnets else 0
        self.icmp_error6(best, err.type, err.code, err.reporter, ifindex, err.dst, dport,
                         inv[48:], 40 + 8 + len(inv), found, self.icmp6_rx(err))

    def _notify_pmtu(self, dst: IPv6Address, sport: int, dport: int, mtu: int) -> None:
        """``ip6_notify_pmtu``: every UDP socket of that local port with
        ``IPV6_RECVPATHMTU`` on, connected to ``dst`` or not connected."""
        for s in self.pcbs:
            if s.type != SOCK_DGRAM or s.family != AF_INET6 or s.lport != sport or \
                    not s.opts.get(IPV6_RECVPATHMTU):
                continue
            if s.faddr is not None and (s.faddr != dst or s.fport != dport):
                continue
            sc = self._default_scope(dst) if in6_addrscope(dst) <= Scope.LINKLOCAL else 0
            s.rcvq.append(Datagram(b"", dst, 0, dst, sc, 0, 0, (dst, sc, mtu)))
