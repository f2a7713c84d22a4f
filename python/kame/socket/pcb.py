"""``in6_pcb.c``: the PCB table's bind and connect rules: wildcard and
specific binds, ``SO_REUSEADDR``/``SO_REUSEPORT``, ephemeral ports, the
IPv4-mapped rules of the layer's profile (seed §1.12), and a PCB's source
address and outgoing interface (``in6_selectsrc``, ``in6_selectif``)."""

from __future__ import annotations

import errno
import struct
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from kame.addr import is_linklocal, is_multicast
from kame.scope6 import Scope, ZoneTable, in6_addrscope, is_embedded_form
from kame.socket.const import (
    AF_INET,
    AF_INET6,
    IPV6_MULTICAST_IF,
    SOCK_DGRAM,
    SOCK_RAW,
    _err,
)
from kame.socket.profiles import PROFILES, Profile
from kame.socket.sock import PcbTable, Socket
from kame.socket.sockaddr import Addr, pack_sockaddr_in6

_NO_ZONES = ZoneTable()
_LOOPBACK4 = IPv4Address("127.0.0.1")


class In6Pcb:
    """PCB lookups and bind/connect for a :class:`~kame.socket.layer.SocketLayer`."""

    profile: Profile
    node: Any
    pcbs: PcbTable
    in_ifaddrs: set[IPv4Address]
    udpstat: dict[str, int]
    _seq: int
    _nraw6: int
    _fastpath_saved: bool
    _port_next: int
    v6only_sysctl: int
    pcbgen: int

    def ifindex(self, name: str) -> int:
        if self.node is None or name not in self.node.zones.by_name:
            raise _err(self.profile.nodev_errno, f"no interface {name!r}")
        return int(self.node.zones.by_name[name])

    def ifname(self, index: int) -> str:
        if self.node is None or index not in self.node.zones.by_index:
            raise _err(self.profile.nodev_errno, f"no interface index {index}")
        return str(self.node.zones.by_index[index])

    @property
    def zones(self) -> ZoneTable:
        """The node's interfaces and zones (none without a node)."""
        return self.node.zones if self.node is not None else _NO_ZONES  # type: ignore[no-any-return]

    def user_in6(self, a: IPv6Address, what: str) -> IPv6Address:
        """An address a socket option or ancillary item carries
        (``in6_pktinfo``, ``ipv6_mreq``): the embedded form is ``EINVAL``."""
        if is_embedded_form(a):
            raise _err(errno.EINVAL, f"{what} {a}: embedded zone form (seed §1.3.1)")
        return a

    @property
    def now(self) -> float:
        return float(getattr(self.node, "_now", 0.0))

    def _is_local6(self, a: IPv6Address) -> bool:
        if int(a) == 1:
            return True
        return self.node is not None and self.node.addrs.find_any(a) is not None

    def _is_local4(self, a: IPv4Address) -> bool:
        return a in self.in_ifaddrs or (int(a) >> 24) == 127 or (
            self.node is not None and hasattr(self.node, "inet") and self.node.inet.is_local(a))

    def _cover(self, s: Socket, laddr: Addr | None, *, deliver: bool) -> tuple[Any, Any]:
        """The (IPv4, IPv6) local address spaces a socket occupies: ``None``
        (not at all), ``"*"`` (wildcard) or an address. ``deliver`` asks
        what it receives, else what it blocks for ``bind``."""
        if s.type == SOCK_RAW:
            return None, None
        if s.family == AF_INET:
            return (laddr if laddr is not None and int(laddr) else "*"), None
        if isinstance(laddr, IPv4Address):
            return (laddr if int(laddr) else "*"), None
        if laddr is None or int(laddr) == 0:
            dual = not s.v6only and (deliver or self.profile.shared_ports)
            return ("*" if dual else None), "*"
        return None, laddr

    @staticmethod
    def _overlap(a: Any, b: Any) -> tuple[bool, bool]:
        """(overlap, exact): two covers of one family."""
        if a is None or b is None:
            return False, False
        if a == "*" or b == "*":
            return True, a == b
        return a == b, a == b

    def _conflict(self, s: Socket, laddr: Addr | None, port: int) -> bool:
        n4, n6 = self._cover(s, laddr, deliver=False)
        linux = self.profile.name == "linux"
        for e in self.pcbs.on_port(port):
            if e is s or not e.bound or e.type != s.type:
                continue
            e4, e6 = self._cover(e, e.laddr, deliver=False)
            for nc, ec in ((n4, e4), (n6, e6)):
                over, exact = self._overlap(nc, ec)
                if not over:
                    continue
                if linux:
                    if (s.reuseaddr and e.reuseaddr) or (s.reuseport and e.reuseport):
                        continue
                    return True
                mcast = isinstance(nc, IPv6Address) and is_multicast(nc)
                if exact:
                    if (s.reuseport and e.reuseport) or (mcast and (s.reuseaddr or s.reuseport)
                                                        and (e.reuseaddr or e.reuseport)):
                        continue
                    return True
                # wildcard against specific: the new socket's SO_REUSEADDR
                # (or SO_REUSEPORT) skips the wildcard lookup (in_pcbbind).
                if s.reuseaddr or s.reuseport:
                    continue
                return True
        return False

    def pcbbind(self, s: Socket, a: Addr, port: int, scope: int) -> None:
        try:
            self._pcbbind(s, a, port, scope)
        finally:
            self.pcbgen += 1

    def _pcbbind(self, s: Socket, a: Addr, port: int, scope: int) -> None:
        p = self.profile
        if s.family == AF_INET6 and isinstance(a, IPv4Address):
            if not p.bind_mapped:
                raise _err(p.bind_mapped_errno, "bind to an IPv4-mapped address")
            if s.v6only:
                raise _err(errno.EINVAL, "IPV6_V6ONLY socket, IPv4-mapped address")
        if isinstance(a, IPv6Address):
            if int(a) and not is_multicast(a) and not self._is_local6(a):
                raise _err(errno.EADDRNOTAVAIL)
            if scope and self.node is not None and not is_multicast(a) and \
                    in6_addrscope(a) in (Scope.LINKLOCAL, Scope.INTFACELOCAL) and int(a) != 1 \
                    and self.node.addrs.find(self.ifname(scope), a) is None:
                raise _err(errno.EADDRNOTAVAIL, f"{a} is not on zone {scope}")
            if scope == 0 and int(a) > 1 and not is_multicast(a) and self.node is not None and \
                    in6_addrscope(a) in (Scope.LINKLOCAL, Scope.INTFACELOCAL):
                owners = [x.ifname for x in self.node.addrs.all() if x.addr == a]
                if len(owners) > 1:
                    raise _err(errno.EINVAL, "link-local address needs a scope id")
                scope = self.ifindex(owners[0]) if owners else 0
        elif int(a) and not self._is_local4(a):
            raise _err(errno.EADDRNOTAVAIL)
        laddr: Addr | None = a if int(a) else (IPv4Address(0) if isinstance(a, IPv4Address)
                                               and s.family == AF_INET6 else None)
        if laddr is not None and isinstance(laddr, IPv4Address) and s.family == AF_INET and \
                not int(laddr):
            laddr = None
        if s.type == SOCK_RAW:
            s.laddr, s.lscope, s.bound = (laddr if laddr is not None else None), scope, True
            return
        if port == 0:
            port = self._anyport(s, laddr)
        elif self._conflict(s, laddr, port):
            raise _err(errno.EADDRINUSE)
        s.laddr, s.lport, s.lscope, s.bound = laddr, port, scope, True

    def _anyport(self, s: Socket, laddr: Addr | None) -> int:
        self.pcbgen += 1  # the caller gives s the port
        lo, hi = self.profile.ephemeral
        for _ in range(hi - lo + 1):
            port = self._port_next
            self._port_next = lo if port >= hi else port + 1
            if not self._conflict(s, laddr, port):
                return port
        raise _err(errno.EADDRINUSE, "no ephemeral port")

    def autobind_first(self, s: Socket) -> None:
        """Linux binds an ephemeral port before the protocol looks at the
        destination (``inet_autobind``), so a refused connect or sendto
        still leaves the socket bound; the BSDs bind inside the call."""
        if self.profile.name == "linux" and s.type == SOCK_DGRAM and not s.bound:
            laddr = s.laddr if s.laddr is not None and int(s.laddr) else None
            s.lport = self._anyport(s, laddr)
            s.bound = True

    def _mapped_ok(self, s: Socket) -> None:
        p = self.profile
        if not p.initiating or s.v6only:
            raise _err(p.mapped_errno, "IPv4-mapped destination")

    def pcbconnect(self, s: Socket, a: Addr, port: int, scope: int) -> None:
        try:
            self._pcbconnect(s, a, port, scope)
        finally:
            self.pcbgen += 1

    def _pcbconnect(self, s: Socket, a: Addr, port: int, scope: int) -> None:
        if s.type == SOCK_DGRAM and port == 0:
            raise _err(errno.EADDRNOTAVAIL if s.family == AF_INET6 else errno.EINVAL)
        v4 = isinstance(a, IPv4Address)
        if s.family == AF_INET6 and v4:
            self._mapped_ok(s)
            if isinstance(s.laddr, IPv6Address) and int(s.laddr):
                raise _err(self.profile.mapped_errno, "bound to an IPv6 address")
        elif s.family == AF_INET6 and isinstance(s.laddr, IPv4Address):
            raise _err(errno.EAFNOSUPPORT, "bound to an IPv4-mapped address")
        if not int(a):  # BSD and Linux: connect to the unspecified address is loopback
            a = IPv4Address("127.0.0.1") if v4 else IPv6Address(1)
        if self.profile.name == "linux" and isinstance(a, IPv6Address) and not scope and \
                in6_addrscope(a) in (Scope.LINKLOCAL, Scope.INTFACELOCAL) and int(a) != 1 and \
                not (is_multicast(a) and s.opts.get(IPV6_MULTICAST_IF)):
            # ip6_datagram_connect: "Connect to link-local address requires an interface"
            raise _err(self.profile.zoneless_errno, "link-local destination needs sin6_scope_id")
        src = self._select_src(s, a, scope, None)
        if s.type == SOCK_DGRAM and s.lport == 0:
            s.lport = self._anyport(s, s.laddr)
        s.bound = True
        if s.laddr is None or not int(s.laddr):
            s.laddr = src
        if isinstance(a, IPv6Address) and in6_addrscope(a) in (Scope.LINKLOCAL,
                                                              Scope.INTFACELOCAL):
            s.fscope = scope or self._default_scope(a)
            if isinstance(s.laddr, IPv6Address) and in6_addrscope(s.laddr) in (
                    Scope.LINKLOCAL, Scope.INTFACELOCAL):
                s.lscope = s.fscope
        s.faddr, s.fport = a, port

    def _default_scope(self, a: IPv6Address) -> int:
        if int(a) == 1 or self.node is None:
            return 0
        ifa = self.node.addrs.find_any(a)
        return self.ifindex(ifa.ifname) if ifa is not None else 0

    def _select_src(self, s: Socket, dst: Addr, scope: int, pktinfo: tuple[Any, int] | None
                    ) -> Addr:
        """``in6_selectsrc`` step 1-3 (§1.6.1): IPV6_PKTINFO, the bound
        address, then the node's RFC 6724 choice."""
        if isinstance(dst, IPv4Address):
            if isinstance(s.laddr, IPv4Address) and int(s.laddr):
                return s.laddr
            if self._is_local4(dst):
                if int(dst) >> 24 == 127 and dst not in self.in_ifaddrs:
                    # the loopback's route (127/8 via lo) gives its address,
                    # as Linux's and in_pcbladdr's source for 127.0.0.2
                    return _LOOPBACK4
                return dst
            inet = getattr(self.node, "inet", None)
            if inet is not None:  # the node's IPv4 (kame.inet): in_pcbladdr
                if inet.rtalloc(dst) is None and int(dst) != 0xFFFFFFFF and \
                        not dst.is_multicast:
                    raise _err(errno.ENETUNREACH)
                src4 = inet.in_selectsrc(dst)
                if src4 is None and (int(dst) == 0xFFFFFFFF or dst.is_multicast):
                    src4 = next((x.addr for x in inet.addrs if x.usable), None)
                if src4 is None:
                    raise _err(errno.EADDRNOTAVAIL)
                return src4  # type: ignore[no-any-return]
            return min((x for x in self.in_ifaddrs if (int(x) >> 24) != 127),
                       default=IPv4Address("127.0.0.1"))
        if pktinfo is not None and int(pktinfo[0]):
            return pktinfo[0]  # type: ignore[no-any-return]
        if isinstance(s.laddr, IPv6Address) and int(s.laddr) and not is_multicast(s.laddr):
            return s.laddr
        if self._is_local6(dst):
            return dst
        if self.node is None:
            raise _err(errno.EADDRNOTAVAIL)
        ifname, nh = self._outif_nh(s, dst, scope, pktinfo)
        src = self.node.in6_selectsrc(dst, ifname, next_hop=nh,
                                      prefs=s.opts.get(72, 0))  # RFC 5014 (Linux)
        if src is None:
            raise _err(errno.EADDRNOTAVAIL)
        return src  # type: ignore[no-any-return]

    def _outif(self, s: Socket, dst: IPv6Address, scope: int,
               pktinfo: tuple[Any, int] | None) -> str | None:
        return self._outif_nh(s, dst, scope, pktinfo)[0]

    def _outif_nh(self, s: Socket, dst: IPv6Address, scope: int,
                  pktinfo: tuple[Any, int] | None
                  ) -> tuple[str | None, tuple[str, IPv6Address] | None]:
        """The outgoing interface and, when the route goes through a router,
        ``(ifname, router)`` (RFC 6724 rule 5.5's next hop); an interface
        the application chose (IPV6_PKTINFO, a zone, a multicast interface)
        gives no next hop."""
        if pktinfo is not None and pktinfo[1]:
            return self.ifname(pktinfo[1]), None
        if is_multicast(dst) and s.opts.get(IPV6_MULTICAST_IF):
            return self.ifname(s.opts[IPV6_MULTICAST_IF]), None
        if scope:
            return self.ifname(scope), None
        if is_multicast(dst):
            return self.ifname(self._group_if(dst, 0)), None
        if is_linklocal(dst):
            raise _err(errno.EHOSTUNREACH, "link-local destination needs sin6_scope_id")
        rt = self.node.rtalloc(dst, self.now) if self.node is not None else None
        if rt is None:
            raise _err(errno.ENETUNREACH)
        return str(rt.ifname), ((rt.ifname, rt.next_hop) if rt.gateway else None)

    def ip6_mtuinfo(self, a: IPv6Address, scope: int, mtu: int) -> bytes:
        """``struct ip6_mtuinfo``: a ``sockaddr_in6`` in this platform's
        layout, then the MTU (host order)."""
        lay = self.profile.name if self.profile.name in PROFILES and \
            self.profile.platform.startswith("KAME/") else "linux"
        return pack_sockaddr_in6(a, 0, 0, scope, layout=lay) + struct.pack("=I", mtu)

    def _group_if(self, g: IPv6Address, ifi: int) -> int:
        if ifi:
            self.ifname(ifi)
            return ifi
        if self.node is None or not self.node.ifnets:
            raise _err(errno.EADDRNOTAVAIL)
        for name, ifp in self.node.ifnets.items():
            if ifp.up and not ifp.is_loopback:
                return self.ifindex(name)
        raise _err(errno.EADDRNOTAVAIL)
