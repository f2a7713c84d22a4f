"""The BSD sockets layer over a :class:`kame.node.Node` (seed §1.12, §1.16).

A :class:`SocketLayer` is the socket half of a kernel: a PCB table
(``in6_pcb``/``inpcb``) for UDP and raw sockets, ``bind``/``connect``
with wildcard and specific binds, ``SO_REUSEADDR``/``SO_REUSEPORT``,
``IPV6_V6ONLY`` and the IPv4-mapped address semantics of one platform
profile of the seed's §1.12 table, and the RFC 3542 advanced API
(:mod:`kame.socket` ``IPV6_*`` options, ``sendmsg``/``recvmsg`` with
ancillary data as ``(level, type, data)`` tuples, exactly the layout the
Linux kernel and Python's :mod:`socket` use).

Sans-I/O like the node: a send queues frames on the node (``node.poll(now)``
returns them); a datagram the node receives lands in the socket's queue and
``recvfrom`` returns it; an empty queue raises :class:`BlockingIOError`
(``EAGAIN``). The layer's clock is the node's last ``now``.

The node has no IPv4 link layer. IPv4 datagrams (``AF_INET`` sockets and
``AF_INET6`` sockets talking to ``::ffff:a.b.c.d``) to one of the layer's
IPv4 addresses (:attr:`SocketLayer.in_ifaddrs`, ``127.0.0.1`` by default)
loop back to the layer's own sockets; others are appended to
:attr:`SocketLayer.ip4_out`, and :meth:`SocketLayer.udp4_input` is where an
IPv4 stack would hand UDP datagrams up. IPv6 datagrams to ``::1`` or one of
the node's addresses loop back too; others go out through the node
(``ip6_output``: route, ``in6_selectsrc``, ``nd6_output``).

Profiles (:data:`PROFILES`) encode the seed's table (:data:`SEED_TABLE`)
and the text of §1.12.1-§1.12.5, plus ``linux`` (the host kernel, proven
against it in ``tests/interop/test_sock_linux.py``) and ``rfc3493``.
Where the seed leaves a detail open, the profile says what we chose:

- errno for a refused mapped destination: ``EINVAL`` on the BSDs (their
  ``in6_pcbconnect``/``udp6_output``), ``ENETUNREACH`` on Linux;
- errno for a refused mapped bind: ``EADDRNOTAVAIL`` (NetBSD "cannot bind(2)
  with IPv4 mapped address", and the platforms without mapped support),
  ``EINVAL`` on Linux with ``IPV6_V6ONLY`` set;
- ``IPV6_V6ONLY`` on a platform without the option (KAME/BSDI4: "no way to
  disable"): ``ENOPROTOOPT``; clearing it where mapped addresses are not
  supported: ``EINVAL``; changing it after ``bind``: ``EINVAL``.
"""

from __future__ import annotations

import errno
import socket as _hostsock
import struct
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from kame import _core
from kame.addr import is_linklocal, is_multicast, is_v4mapped
from kame.errors import KameError, MalformedError, TruncatedError
from kame.scope6 import Scope, in6_addrscope

__all__ = [
    "AF_INET",
    "AF_INET6",
    "PROFILES",
    "SEED_TABLE",
    "SOCK_DGRAM",
    "SOCK_RAW",
    "Icmp6Filter",
    "Profile",
    "Socket",
    "SocketLayer",
    "inet6_opt_append",
    "inet6_opt_find",
    "inet6_opt_finish",
    "inet6_opt_get_val",
    "inet6_opt_init",
    "inet6_opt_next",
    "inet6_opt_set_val",
    "inet6_rth_add",
    "inet6_rth_getaddr",
    "inet6_rth_init",
    "inet6_rth_reverse",
    "inet6_rth_segments",
    "inet6_rth_space",
]

# Constants: the host's values, so code written for Python's socket module
# runs unchanged on a kame socket (and the Linux profile compares 1:1).
AF_INET = _hostsock.AF_INET
AF_INET6 = _hostsock.AF_INET6
SOCK_DGRAM = _hostsock.SOCK_DGRAM
SOCK_RAW = _hostsock.SOCK_RAW
SOL_SOCKET = _hostsock.SOL_SOCKET
SO_REUSEADDR = _hostsock.SO_REUSEADDR
SO_REUSEPORT = getattr(_hostsock, "SO_REUSEPORT", 15)
SO_ERROR = _hostsock.SO_ERROR
SO_TYPE = _hostsock.SO_TYPE
IPPROTO_IPV6 = 41
IPPROTO_UDP = 17
IPPROTO_ICMPV6 = 58
IPPROTO_RAW = 255
IPV6_V6ONLY = _hostsock.IPV6_V6ONLY
IPV6_UNICAST_HOPS = _hostsock.IPV6_UNICAST_HOPS
IPV6_MULTICAST_IF = _hostsock.IPV6_MULTICAST_IF
IPV6_MULTICAST_HOPS = _hostsock.IPV6_MULTICAST_HOPS
IPV6_MULTICAST_LOOP = _hostsock.IPV6_MULTICAST_LOOP
IPV6_JOIN_GROUP = _hostsock.IPV6_JOIN_GROUP
IPV6_LEAVE_GROUP = _hostsock.IPV6_LEAVE_GROUP
IPV6_CHECKSUM = _hostsock.IPV6_CHECKSUM
IPV6_RECVPKTINFO = _hostsock.IPV6_RECVPKTINFO
IPV6_PKTINFO = _hostsock.IPV6_PKTINFO
IPV6_RECVHOPLIMIT = _hostsock.IPV6_RECVHOPLIMIT
IPV6_HOPLIMIT = _hostsock.IPV6_HOPLIMIT
IPV6_RECVTCLASS = _hostsock.IPV6_RECVTCLASS
IPV6_TCLASS = _hostsock.IPV6_TCLASS
IPV6_RECVPATHMTU = getattr(_hostsock, "IPV6_RECVPATHMTU", 60)
IPV6_PATHMTU = getattr(_hostsock, "IPV6_PATHMTU", 61)
ICMP6_FILTER = 1  # level IPPROTO_ICMPV6 (both BSD and Linux)

#: Ephemeral ports (BSD ``ipport_hifirstauto``..``hilastauto``; Linux
#: ``ip_local_port_range`` 32768-60999).
EPHEMERAL_BSD = (49152, 65535)
EPHEMERAL_LINUX = (32768, 60999)

# --- the seed's table (§1.12) -------------------------------------------------

#: §1.12 verbatim: platform, listening side, initiating side.
SEED_TABLE: tuple[tuple[str, str, str], ...] = (
    ("KAME/BSDI3", "not supported", "not supported"),
    ("KAME/FreeBSD228", "not supported", "not supported"),
    ("KAME/FreeBSD3x", "configurable default: enabled", "supported"),
    ("KAME/FreeBSD4x", "configurable default: enabled", "supported"),
    ("KAME/NetBSD", "configurable default: disabled", "supported"),
    ("KAME/BSDI4", "enabled", "supported"),
    ("KAME/OpenBSD", "not supported", "not supported"),
)


@dataclass(frozen=True, slots=True)
class Profile:
    """How one platform's socket layer treats IPv4 over ``AF_INET6``.

    - ``listening``: "not supported", "configurable" or "enabled" (§1.12 table);
    - ``listening_default``: for "configurable", whether an ``AF_INET6``
      wildcard socket gets IPv4 traffic by default (``v6only`` = not it);
    - ``initiating``: connection to ``::ffff:a.b.c.d`` supported (when the
      socket accepts IPv4, i.e. ``IPV6_V6ONLY`` is 0);
    - ``shared_ports``: AF_INET and dual AF_INET6 wildcard binds share one
      port space (Linux); KAME keeps them separate (§1.12 "You can perform
      wildcard bind on both of the address families, on the same port");
    - ``bind_mapped``: bind to ``::ffff:a.b.c.d`` allowed (then the socket
      lives in the IPv4 port space); ``bind_mapped_errno`` otherwise;
    - ``v6only_opt``: the ``IPV6_V6ONLY`` option exists;
    - ``mapped_errno``: what connect/sendto to a mapped address fails with;
    - ``af_inet6``: the platform's ``AF_INET6`` number (sockaddr layout);
    - ``bsd_delivery``: an AF_INET socket always wins over an AF_INET6
      wildcard (KAME: the v4 table first); Linux scores them instead.
    """

    name: str
    platform: str
    listening: str
    listening_default: bool
    initiating: bool
    shared_ports: bool
    bind_mapped: bool
    bind_mapped_errno: int
    v6only_opt: bool
    mapped_errno: int
    af_inet6: int
    bsd_delivery: bool
    ephemeral: tuple[int, int]
    section: str

    @property
    def v6only_default(self) -> int:
        return 0 if (self.listening == "enabled" or
                     (self.listening == "configurable" and self.listening_default)) else 1


def _bsd(name: str, platform: str, listening: str, default: bool, initiating: bool,
         af6: int, section: str, *, bind_mapped: bool = True) -> Profile:
    return Profile(name, platform, listening, default, initiating, False,
                   bind_mapped and listening != "not supported", errno.EADDRNOTAVAIL,
                   listening != "enabled", errno.EINVAL, af6, True, EPHEMERAL_BSD, section)


#: Profiles by name.
PROFILES: dict[str, Profile] = {p.name: p for p in (
    _bsd("bsdi3", "KAME/BSDI3", "not supported", False, False, 24, "1.12.1"),
    _bsd("freebsd228", "KAME/FreeBSD228", "not supported", False, False, 28, "1.12.1"),
    _bsd("freebsd3x", "KAME/FreeBSD3x", "configurable", True, True, 28, "1.12.2"),
    _bsd("freebsd4x", "KAME/FreeBSD4x", "configurable", True, True, 28, "1.12.2"),
    _bsd("netbsd", "KAME/NetBSD", "configurable", False, True, 24, "1.12.3",
         bind_mapped=False),
    _bsd("bsdi4", "KAME/BSDI4", "enabled", True, True, 24, "1.12.4"),
    _bsd("openbsd", "KAME/OpenBSD", "not supported", False, False, 24, "1.12.5"),
    Profile("linux", "Linux", "configurable", True, True, True, True, errno.EINVAL, True,
            errno.ENETUNREACH, 10, False, EPHEMERAL_LINUX, "host kernel"),
    Profile("rfc3493", "RFC 3493", "configurable", True, True, False, True, errno.EINVAL,
            True, errno.EINVAL, 10, True, EPHEMERAL_BSD, "RFC 3493 §3.7, §5.3"),
)}


def profile_table_row(p: Profile) -> tuple[str, str, str]:
    """The §1.12 table cells a profile implies, in the seed's words."""
    if p.listening == "configurable":
        lst = "configurable default: " + ("enabled" if p.listening_default else "disabled")
    else:
        lst = p.listening
    return (p.platform, lst, "supported" if p.initiating else "not supported")


# --- sockaddrs ----------------------------------------------------------------

Addr = IPv4Address | IPv6Address


def v4mapped(a: IPv4Address) -> IPv6Address:
    return IPv6Address((0xFFFF << 32) | int(a))


def unmap(a: IPv6Address) -> IPv4Address:
    return IPv4Address(int(a) & 0xFFFFFFFF)


def ntop6(a: IPv6Address) -> str:
    """``inet_ntop(AF_INET6)`` as BSD and glibc print: ``::ffff:1.2.3.4``
    and ``::1.2.3.4`` keep their dotted IPv4 tail (RFC 4291 §2.2 form 3)."""
    x = int(a)
    if x >> 32 == 0xFFFF:
        return f"::ffff:{IPv4Address(x & 0xFFFFFFFF)}"
    if x >> 32 == 0 and x >> 16 != 0:
        return f"::{IPv4Address(x)}"
    return str(a)


def _err(code: int, what: str = "") -> OSError:
    return OSError(code, errno.errorcode.get(code, str(code)) + (f": {what}" if what else ""))


class Icmp6Filter:
    """``struct icmp6_filter`` (RFC 3542 §3.2): 256 bits, one per type.

    :meth:`to_bytes` gives the BSD layout (a set bit passes) or the Linux
    one (a set bit blocks)."""

    __slots__ = ("_bits",)

    def __init__(self, bits: int = (1 << 256) - 1) -> None:
        self._bits = bits

    def setpassall(self) -> None:
        self._bits = (1 << 256) - 1

    def setblockall(self) -> None:
        self._bits = 0

    def setpass(self, t: int) -> None:
        self._bits |= 1 << t

    def setblock(self, t: int) -> None:
        self._bits &= ~(1 << t)

    def willpass(self, t: int) -> bool:
        return bool(self._bits >> t & 1)

    def willblock(self, t: int) -> bool:
        return not self.willpass(t)

    def to_bytes(self, layout: str = "bsd") -> bytes:
        bits = self._bits if layout == "bsd" else ~self._bits & ((1 << 256) - 1)
        return b"".join(struct.pack("=I", bits >> (32 * i) & 0xFFFFFFFF) for i in range(8))

    @classmethod
    def from_bytes(cls, b: bytes, layout: str = "bsd") -> Icmp6Filter:
        if len(b) != 32:
            raise _err(errno.EINVAL, "icmp6_filter is 32 bytes")
        bits = 0
        for i, (w,) in enumerate(struct.iter_unpack("=I", b)):
            bits |= w << (32 * i)
        return cls(bits if layout == "bsd" else ~bits & ((1 << 256) - 1))


@dataclass(slots=True)
class Datagram:
    data: bytes
    src: Addr
    sport: int
    dst: Addr
    ifindex: int
    hlim: int
    tclass: int
    #: RFC 3542 §11.3: an ``IPV6_PATHMTU`` notice (destination, scope, MTU)
    #: rather than data.
    mtuinfo: tuple[IPv6Address, int, int] | None = None


# --- the PCB ------------------------------------------------------------------

@dataclass(eq=False, slots=True)
class Socket:
    """One socket; the methods mirror Python's :class:`socket.socket`."""

    layer: SocketLayer
    family: int
    type: int
    proto: int
    laddr: Addr | None = None
    lport: int = 0
    lscope: int = 0
    faddr: Addr | None = None
    fport: int = 0
    fscope: int = 0
    v6only: int = 1
    reuseaddr: bool = False
    reuseport: bool = False
    so_error: int = 0
    closed: bool = False
    bound: bool = False
    rcvq: deque[Datagram] = field(default_factory=lambda: deque(maxlen=256))
    opts: dict[int, Any] = field(default_factory=dict)
    groups: set[tuple[IPv6Address, int]] = field(default_factory=set)
    filter: Icmp6Filter = field(default_factory=Icmp6Filter)
    checksum: int = -1
    seq: int = 0

    # --- helpers --------------------------------------------------------------

    @property
    def profile(self) -> Profile:
        return self.layer.profile

    @property
    def mapped_bound(self) -> bool:
        """An AF_INET6 socket bound to ``::ffff:a.b.c.d`` (or connected to
        one) lives in the IPv4 tables."""
        return self.family == AF_INET6 and isinstance(self.laddr, IPv4Address)

    def _check_open(self) -> None:
        if self.closed:
            raise _err(errno.EBADF)

    def _sockaddr_in(self, addr: Any) -> tuple[Addr, int, int]:
        """Parse a Python sockaddr tuple into (address, port, scope_id);
        an AF_INET6 ``::ffff:a.b.c.d`` comes back as an IPv4Address."""
        if not isinstance(addr, tuple) or len(addr) < 2:
            raise TypeError("address must be a tuple (host, port, ...)")
        host, port = addr[0], addr[1]
        if not 0 <= int(port) <= 0xFFFF:
            raise OverflowError("port must be 0-65535.")
        scope = 0
        if self.family == AF_INET:
            try:
                return IPv4Address(host if host else "0.0.0.0"), int(port), 0
            except ValueError:
                raise _err(errno.EINVAL, f"{host!r} is not an IPv4 address") from None
        h = str(host)
        if "%" in h:
            h, _, z = h.partition("%")
            scope = int(z) if z.isdigit() else self.layer.ifindex(z)
        if len(addr) >= 4:
            scope = int(addr[3]) or scope
        try:
            a6 = IPv6Address(h if h else "::")
        except ValueError:
            raise _err(errno.EINVAL, f"{host!r} is not an IPv6 address") from None
        if is_v4mapped(a6):
            return unmap(a6), int(port), 0
        return a6, int(port), scope

    def _name(self, a: Addr | None, port: int, scope: int) -> tuple[Any, ...]:
        if self.family == AF_INET:
            return (str(a or IPv4Address(0)), port)
        if isinstance(a, IPv4Address):
            return (ntop6(v4mapped(a)), port, 0, 0)
        return (ntop6(a or IPv6Address(0)), port, 0, scope)

    # --- API ------------------------------------------------------------------

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.layer.pcbs.remove(self)
            if self.type == SOCK_RAW and self.proto == IPPROTO_ICMPV6:
                self.layer._raw_icmp6(-1)
            for g, ifi in list(self.groups):
                self.layer.leave_group(self, g, ifi)

    def __enter__(self) -> Socket:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def getsockname(self) -> tuple[Any, ...]:
        self._check_open()
        return self._name(self.laddr, self.lport, self.lscope)

    def getpeername(self) -> tuple[Any, ...]:
        self._check_open()
        if self.faddr is None:
            raise _err(errno.ENOTCONN)
        return self._name(self.faddr, self.fport, self.fscope)

    def bind(self, addr: Any) -> None:
        self._check_open()
        if self.bound:
            raise _err(errno.EINVAL, "already bound")
        a, port, scope = self._sockaddr_in(addr)
        self.layer.pcbbind(self, a, port, scope)

    def connect(self, addr: Any) -> None:
        self._check_open()
        a, port, scope = self._sockaddr_in(addr)
        self.layer.autobind_first(self)
        self.layer.pcbconnect(self, a, port, scope)

    def sendto(self, data: bytes, flags_or_addr: Any, addr: Any = None) -> int:
        dst = addr if addr is not None else flags_or_addr
        return self.sendmsg([data], [], 0, dst)

    def send(self, data: bytes, flags: int = 0) -> int:
        return self.sendmsg([data], [], flags, None)

    def sendmsg(self, buffers: Iterable[bytes], ancdata: Iterable[tuple[int, int, bytes]] = (),
                flags: int = 0, address: Any = None) -> int:
        self._check_open()
        data = b"".join(bytes(b) for b in buffers)
        self._raise_so_error()
        if address is None:
            if self.faddr is None:
                raise _err(errno.EDESTADDRREQ)
            dst, port, scope = self.faddr, self.fport, self.fscope
        else:
            if self.faddr is not None and self.type == SOCK_DGRAM and \
                    self.profile.name != "linux":
                raise _err(errno.EISCONN)  # BSD udp6_output; Linux sends to the address
            dst, port, scope = self._sockaddr_in(address)
        self.layer.autobind_first(self)
        return self.layer.output(self, data, dst, port, scope, list(ancdata))

    def _raise_so_error(self) -> None:
        if self.so_error:
            e, self.so_error = self.so_error, 0
            raise _err(e)

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, tuple[Any, ...]]:
        data, _anc, _fl, addr = self.recvmsg(bufsize, 0, flags)
        return data, addr

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        return self.recvfrom(bufsize, flags)[0]

    def recvmsg(self, bufsize: int, ancbufsize: int = 0,
                flags: int = 0) -> tuple[bytes, list[tuple[int, int, bytes]], int, tuple[Any, ...]]:
        """``(data, ancdata, msg_flags, address)`` as Python's ``recvmsg``;
        ancillary items carry the kernel's own layouts (``in6_pktinfo``, an
        ``int`` hop limit / traffic class)."""
        self._check_open()
        self._raise_so_error()
        if not self.rcvq:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        d = self.rcvq.popleft()
        anc: list[tuple[int, int, bytes]] = []
        if d.mtuinfo is not None:
            a, sc, mtu = d.mtuinfo
            anc.append((IPPROTO_IPV6, IPV6_PATHMTU, self.layer.ip6_mtuinfo(a, sc, mtu)))
            return b"", anc, 0, self._name(a, 0, sc)
        if self.family == AF_INET6 and isinstance(d.dst, IPv6Address):
            if self.opts.get(IPV6_RECVHOPLIMIT):
                anc.append((IPPROTO_IPV6, IPV6_HOPLIMIT, struct.pack("=i", d.hlim)))
            if self.opts.get(IPV6_RECVTCLASS):
                anc.append((IPPROTO_IPV6, IPV6_TCLASS, struct.pack("=i", d.tclass)))
            if self.opts.get(IPV6_RECVPKTINFO):
                anc.append((IPPROTO_IPV6, IPV6_PKTINFO,
                            d.dst.packed + struct.pack("=I", d.ifindex)))
        flg = 0
        data = d.data
        if len(data) > bufsize:
            data, flg = data[:bufsize], 0x20  # MSG_TRUNC
        scope = d.ifindex if isinstance(d.src, IPv6Address) and \
            in6_addrscope(d.src) in (Scope.LINKLOCAL, Scope.INTFACELOCAL) else 0
        return data, anc, flg, self._name(d.src, d.sport, scope)

    def setsockopt(self, level: int, opt: int, value: Any) -> None:
        self._check_open()
        self.layer.ctloutput_set(self, level, opt, value)

    def getsockopt(self, level: int, opt: int, buflen: int = 0) -> Any:
        self._check_open()
        return self.layer.ctloutput_get(self, level, opt, buflen)


def _ival(value: Any) -> int:
    if isinstance(value, (bytes, bytearray, memoryview)):
        if len(value) != 4:
            raise _err(errno.EINVAL)
        return int(struct.unpack("=i", bytes(value))[0])
    return int(value)


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


class SocketLayer:
    """The PCB tables and socket calls of one node under one profile."""

    def __init__(self, node: Any = None, profile: str | Profile = "netbsd", *,
                 in_ifaddrs: Iterable[str] = ("127.0.0.1",), seed: int = 0) -> None:
        self.profile = PROFILES[profile] if isinstance(profile, str) else profile
        self.node = node
        self.pcbs: list[Socket] = []
        self.in_ifaddrs: set[IPv4Address] = {IPv4Address(a) for a in in_ifaddrs}
        #: IPv4 datagrams leaving the node: (src, sport, dst, dport, data).
        self.ip4_out: list[tuple[IPv4Address, int, IPv4Address, int, bytes]] = []
        #: ``netstat -s -p udp`` counters (``struct udpstat``).
        self.udpstat: dict[str, int] = dict.fromkeys(
            ("udps_ipackets", "udps_badsum", "udps_hdrops", "udps_noport", "udps_noportmcast",
             "udps_fullsock", "udps_opackets", "rip6s_ipackets", "rip6s_badsum",
             "rip6s_nosock", "rip6s_opackets", "rip6s_filtered"), 0)
        self._seq = 0
        self._nraw6 = 0
        self._fastpath_saved = True
        self._port_next = self.profile.ephemeral[0] + (seed * 7919) % 1000
        #: The ``net.inet6.ip6.v6only`` sysctl as the profile sets it; copied
        #: into each socket at creation (§1.12.3).
        self.v6only_sysctl = self.profile.v6only_default
        if node is not None:
            node.sockets = self
            node.knobs["net.inet6.ip6.v6only"] = self.v6only_sysctl

    # --- sockets ------------------------------------------------------------

    def socket(self, family: int = AF_INET6, type: int = SOCK_DGRAM, proto: int = 0) -> Socket:
        if family not in (AF_INET, AF_INET6):
            raise _err(errno.EAFNOSUPPORT)
        if type not in (SOCK_DGRAM, SOCK_RAW):
            raise _err(errno.EPROTONOSUPPORT, "only SOCK_DGRAM and SOCK_RAW")
        if type == SOCK_DGRAM and proto not in (0, IPPROTO_UDP):
            raise _err(errno.EPROTONOSUPPORT)
        if type == SOCK_RAW and (family != AF_INET6 or proto in (0, IPPROTO_RAW)):
            raise _err(errno.EPROTONOSUPPORT, "raw sockets: AF_INET6 with a protocol")
        if self.node is not None:
            self.v6only_sysctl = self.node.knobs["net.inet6.ip6.v6only"]
        if self.profile.listening == "configurable":
            v6only = 1 if self.v6only_sysctl else 0
        else:
            v6only = self.profile.v6only_default
        s = Socket(self, family, type, proto or (IPPROTO_UDP if type == SOCK_DGRAM else proto),
                   v6only=v6only if family == AF_INET6 else 0)
        if type == SOCK_RAW and proto == IPPROTO_ICMPV6:
            s.checksum = 2  # RFC 3542 §3.1: always computed, at offset 2
            self._raw_icmp6(+1)
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

    def ifindex(self, name: str) -> int:
        if self.node is None or name not in self.node.zones.by_name:
            raise _err(errno.ENXIO, f"no interface {name!r}")
        return int(self.node.zones.by_name[name])

    def ifname(self, index: int) -> str:
        if self.node is None or index not in self.node.zones.by_index:
            raise _err(errno.ENXIO, f"no interface index {index}")
        return str(self.node.zones.by_index[index])

    @property
    def now(self) -> float:
        return float(getattr(self.node, "_now", 0.0))

    # --- addresses ------------------------------------------------------------

    def _is_local6(self, a: IPv6Address) -> bool:
        if a == IPv6Address(1):
            return True
        return self.node is not None and self.node.addrs.find_any(a) is not None

    def _is_local4(self, a: IPv4Address) -> bool:
        return a in self.in_ifaddrs or (int(a) >> 24) == 127

    # --- bind (in6_pcbbind / in_pcbbind) --------------------------------------

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
        for e in self.pcbs:
            if e is s or not e.bound or e.lport != port or e.type != s.type:
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
        p = self.profile
        if s.family == AF_INET6 and isinstance(a, IPv4Address):
            if not p.bind_mapped:
                raise _err(p.bind_mapped_errno, "bind to an IPv4-mapped address")
            if s.v6only:
                raise _err(errno.EINVAL, "IPV6_V6ONLY socket, IPv4-mapped address")
        if isinstance(a, IPv6Address):
            if int(a) and not is_multicast(a) and not self._is_local6(a):
                raise _err(errno.EADDRNOTAVAIL)
            if scope == 0 and int(a) and not is_multicast(a) and self.node is not None and \
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
        lo, hi = self.profile.ephemeral
        for _ in range(hi - lo + 1):
            port = self._port_next
            self._port_next = lo if port >= hi else port + 1
            if not self._conflict(s, laddr, port):
                return port
        raise _err(errno.EADDRINUSE, "no ephemeral port")

    # --- connect --------------------------------------------------------------

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
        if a == IPv6Address(1) or self.node is None:
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
                return dst
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
        ifname = self._outif(s, dst, scope, pktinfo)
        src = self.node.in6_selectsrc(dst, ifname)
        if src is None:
            raise _err(errno.EADDRNOTAVAIL)
        return src  # type: ignore[no-any-return]

    def _outif(self, s: Socket, dst: IPv6Address, scope: int,
               pktinfo: tuple[Any, int] | None) -> str | None:
        if pktinfo is not None and pktinfo[1]:
            return self.ifname(pktinfo[1])
        if is_multicast(dst) and s.opts.get(IPV6_MULTICAST_IF):
            return self.ifname(s.opts[IPV6_MULTICAST_IF])
        if scope:
            return self.ifname(scope)
        if is_multicast(dst):
            return self.ifname(self._group_if(dst, 0))
        if is_linklocal(dst):
            raise _err(errno.EHOSTUNREACH, "link-local destination needs sin6_scope_id")
        rt = self.node.rtalloc(dst, self.now) if self.node is not None else None
        if rt is None:
            raise _err(errno.ENETUNREACH)
        return str(rt.ifname)

    # --- output ---------------------------------------------------------------

    def output(self, s: Socket, data: bytes, dst: Addr, port: int, scope: int,
               anc: list[tuple[int, int, bytes]]) -> int:
        hlim: int | None = None
        tclass: int | None = None
        pktinfo: tuple[IPv6Address, int] | None = None
        for level, typ, val in anc:
            if level != IPPROTO_IPV6:
                raise _err(errno.EINVAL, "ancillary level")
            if typ == IPV6_PKTINFO:
                if len(val) != 20:
                    raise _err(errno.EINVAL, "in6_pktinfo is 20 bytes")
                pktinfo = (IPv6Address(bytes(val[:16])), struct.unpack("=I", val[16:20])[0])
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
        if s.opts.get(IPV6_PKTINFO) is not None and pktinfo is None:
            pktinfo = s.opts[IPV6_PKTINFO]
        if s.type == SOCK_DGRAM and port == 0:
            raise _err(errno.EINVAL, "port 0")
        if isinstance(dst, IPv4Address):
            if s.family == AF_INET6:
                self._mapped_ok(s)
            if not int(dst):
                dst = IPv4Address("127.0.0.1")
            src = self._select_src(s, dst, 0, None)
            if not s.bound or s.lport == 0:
                s.lport = self._anyport(s, s.laddr)
                s.bound = True
            self.udpstat["udps_opackets"] += 1
            if self._is_local4(dst):
                if not self.udp4_input(src, s.lport, dst, port, data):  # type: ignore[arg-type]
                    self._loop_unreach(src, s.lport, dst, port)
            else:
                self.ip4_out.append((src, s.lport, dst, port, data))  # type: ignore[arg-type]
            return len(data)
        if pktinfo is not None and int(pktinfo[0]) and not self._is_local6(pktinfo[0]):
            raise _err(errno.EADDRNOTAVAIL, "IPV6_PKTINFO source")
        if not int(dst):
            dst = IPv6Address(1)
        if pktinfo is not None and pktinfo[1] and self.node is not None \
                and pktinfo[1] not in self.node.zones.by_index:
            raise _err(errno.ENXIO, "IPV6_PKTINFO interface")
        src6 = self._select_src(s, dst, scope, pktinfo)
        assert isinstance(src6, IPv6Address)  # an IPv6 destination has an IPv6 source
        src = src6
        if s.type == SOCK_DGRAM and (not s.bound or s.lport == 0):
            s.lport = self._anyport(s, s.laddr)
            s.bound = True
        mc = is_multicast(dst)
        if hlim is None:
            if mc:
                hlim = int(s.opts.get(IPV6_MULTICAST_HOPS, 1))
            else:
                hlim = s.opts.get(IPV6_UNICAST_HOPS)
                if hlim is None:
                    hlim = int(self.node.knobs["net.inet6.ip6.hlim"]) if self.node else 64
        if tclass is None:
            tclass = int(s.opts.get(IPV6_TCLASS, 0))
        if s.type == SOCK_DGRAM:
            body = _core.UdpHeader(s.lport, port, data).to_bytes(src, dst)
            nh = IPPROTO_UDP
            self.udpstat["udps_opackets"] += 1
        else:
            body = self._raw_checksum(s, src, dst, data)  # type: ignore[arg-type]
            nh = s.proto
            self.udpstat["rip6s_opackets"] += 1
        # Local delivery (looutput): ::1, our own addresses, a group we joined.
        if self._is_local6(dst):
            ifidx = pktinfo[1] if pktinfo and pktinfo[1] else (scope or self._default_scope(dst))
            if not self.ip6_local(src, dst, nh, body, hlim, tclass,  # type: ignore[arg-type]
                                  ifidx) and nh == IPPROTO_UDP:
                self._loop_unreach(src, s.lport, dst, port)
            return len(data)
        if self.node is None:
            raise _err(errno.ENETUNREACH)
        ifname = self._outif(s, dst, scope, pktinfo)
        if ifname is None:
            raise _err(errno.ENETUNREACH)
        hdr = _core.Ipv6Header(src, dst, next_header=nh, hop_limit=hlim, traffic_class=tclass,
                               payload_len=len(body))
        pkt = hdr.to_bytes() + body
        if mc:
            if s.opts.get(IPV6_MULTICAST_LOOP, 1) and dst in self.node.groups.get(ifname, ()):
                self.ip6_local(src, dst, nh, body, hlim, tclass,  # type: ignore[arg-type]
                               self.ifindex(ifname))
            self.node.output(ifname, pkt, self.now)
            return len(data)
        nxt = None
        if not is_linklocal(dst):
            rt = self.node.rtalloc(dst, self.now)
            if rt is not None and rt.ifname == ifname:
                nxt = rt.next_hop
        self.node.output(ifname, pkt, self.now, nxt)
        return len(data)

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

    # --- input ----------------------------------------------------------------

    def ip6_local(self, src: IPv6Address, dst: IPv6Address, nh: int, body: bytes, hlim: int,
                  tclass: int, ifindex: int) -> bool:
        """A packet we sent to ourselves (``looutput`` -> ``ip6_input``)."""
        if nh == IPPROTO_UDP:
            return self.udp6_deliver(src, dst, body, hlim, tclass, ifindex)
        return self.rip6_input(src, dst, nh, body, hlim, tclass, ifindex)

    def _loop_unreach(self, src: Addr, sport: int, dst: Addr, dport: int) -> None:
        """No socket for a datagram we sent ourselves: the Port Unreachable
        the loopback would carry back reaches the connected sender."""
        if is_multicast(dst) if isinstance(dst, IPv6Address) else dst.is_multicast:
            return
        for s in self.pcbs:
            if s.type == SOCK_DGRAM and s.faddr == dst and s.fport == dport and \
                    s.lport == sport:
                s.so_error = errno.ECONNREFUSED

    def udp6_input(self, ifname: str, hdr: Any, body: bytes, now: float) -> bool:
        """The node's hook: a UDP datagram for us. False when no socket took
        it (the node then answers Port Unreachable for unicast)."""
        ifindex = self.ifindex(ifname) if ifname in getattr(self.node, "ifnets", {}) else 0
        return self.udp6_deliver(hdr.src, hdr.dst, body, hdr.hop_limit, hdr.traffic_class,
                                 ifindex, checked=False)

    def udp6_deliver(self, src: IPv6Address, dst: IPv6Address, body: bytes, hlim: int,
                     tclass: int, ifindex: int, *, checked: bool = True) -> bool:
        try:
            u = _core.UdpHeader.from_bytes(body, src, dst)
        except KameError:
            self.udpstat["udps_badsum"] += 1
            return True  # counted drop, no ICMPv6 error (udp6_input)
        self.udpstat["udps_ipackets"] += 1
        d = Datagram(bytes(u.payload), src, u.src_port, dst, ifindex, hlim, tclass)
        return self._deliver(d, u.dst_port, v6=True)

    def udp4_input(self, src: IPv4Address, sport: int, dst: IPv4Address, dport: int,
                   data: bytes, ttl: int = 64, tos: int = 0) -> bool:
        """An IPv4 UDP datagram (from the IPv4 stack or our loopback)."""
        self.udpstat["udps_ipackets"] += 1
        d = Datagram(bytes(data), IPv4Address(src), sport, IPv4Address(dst), 0, ttl, tos)
        return self._deliver(d, dport, v6=False)

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

    def _deliver(self, d: Datagram, dport: int, v6: bool) -> bool:
        cands = [(sc, s) for s in self.pcbs if (sc := self._matches(s, d, dport, v6)) is not None]
        if not cands:
            self.udpstat["udps_noport"] += 1
            return False
        if self.profile.bsd_delivery and not v6:
            # KAME (§1.12.2.1, .3.1, .4.1): the IPv4 table first; an AF_INET6
            # wildcard gets the datagram only if no AF_INET socket matches.
            v4 = [(sc, s) for sc, s in cands if s.family == AF_INET or s.mapped_bound]
            cands = v4 or cands
        mcast = (isinstance(d.dst, IPv6Address) and is_multicast(d.dst)) or \
            (isinstance(d.dst, IPv4Address) and (d.dst.is_multicast or int(d.dst) == 0xFFFFFFFF))
        if mcast:
            targets = [s for _sc, s in cands]
        else:
            best = max(sc for sc, _s in cands)
            targets = [max((s for sc, s in cands if sc == best), key=lambda x: x.seq)]
        for s in targets:
            if len(s.rcvq) == s.rcvq.maxlen:
                self.udpstat["udps_fullsock"] += 1
                continue
            s.rcvq.append(d)
        return True

    def rip6_input(self, src: IPv6Address, dst: IPv6Address, nh: int, body: bytes, hlim: int,
                   tclass: int, ifindex: int) -> bool:
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
            s.rcvq.append(Datagram(bytes(body), src, 0, dst, ifindex, hlim, tclass))
            took = True
        self.udpstat["rip6s_ipackets" if took else "rip6s_nosock"] += 1
        return took

    def ctlinput(self, err: Any, inv: bytes) -> None:
        """``udp6_ctlinput``/``in6_pcbnotify``: an ICMPv6 error about a UDP
        datagram we sent (``inv``, the invoking packet) reaches the connected
        socket it came from as ``so_error``."""
        code = _ICMP6_ERRNO.get((err.type, err.code))
        if err.next_header != IPPROTO_UDP or len(inv) < 48:
            return
        sport, dport = struct.unpack("!HH", inv[40:44])
        if err.type == 2:  # Packet Too Big: IPV6_RECVPATHMTU (RFC 3542 §11.3)
            self._notify_pmtu(err.dst, sport, dport, max(int(err.param), 1280))
            return
        if code is None:
            return
        for s in self.pcbs:
            if s.type == SOCK_DGRAM and s.family == AF_INET6 and s.faddr == err.dst and \
                    s.fport == dport and s.lport == sport:
                s.so_error = code

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

    def ip6_mtuinfo(self, a: IPv6Address, scope: int, mtu: int) -> bytes:
        """``struct ip6_mtuinfo``: a ``sockaddr_in6`` in this platform's
        layout, then the MTU (host order)."""
        lay = self.profile.name if self.profile.name in PROFILES and \
            self.profile.platform.startswith("KAME/") else "linux"
        return pack_sockaddr_in6(a, 0, 0, scope, layout=lay) + struct.pack("=I", mtu)

    # --- socket options ---------------------------------------------------------

    def ctloutput_set(self, s: Socket, level: int, opt: int, value: Any) -> None:
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
                Icmp6Filter.from_bytes(bytes(value), self.filter_layout)
            return
        if level != IPPROTO_IPV6 or s.family != AF_INET6:
            raise _err(errno.ENOPROTOOPT)
        p = self.profile
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
                raise _err(errno.ENXIO)
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
            b = bytes(value)
            if len(b) != 20:
                raise _err(errno.EINVAL)
            a, ifi = IPv6Address(b[:16]), struct.unpack("=I", b[16:])[0]
            if int(a) and not self._is_local6(a):
                raise _err(errno.EADDRNOTAVAIL)
            if ifi and self.node is not None and ifi not in self.node.zones.by_index:
                raise _err(errno.ENXIO)
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
            b = bytes(value)
            if len(b) != 20:
                raise _err(errno.EINVAL, "ipv6_mreq is 20 bytes")
            g, ifi = IPv6Address(b[:16]), struct.unpack("=I", b[16:])[0]
            if not is_multicast(g):
                raise _err(errno.EINVAL)
            if opt == IPV6_JOIN_GROUP:
                self.join_group(s, g, ifi)
            else:
                self.leave_group(s, g, ifi, strict=True)
            return
        raise _err(errno.ENOPROTOOPT)

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

    def join_group(self, s: Socket, g: IPv6Address, ifi: int) -> None:
        ifi = self._group_if(g, ifi)
        if (g, ifi) in s.groups:
            raise _err(errno.EADDRINUSE)
        s.groups.add((g, ifi))
        self.node.join(self.ifname(ifi), g, self.now)

    def leave_group(self, s: Socket, g: IPv6Address, ifi: int, strict: bool = False) -> None:
        if not ifi:
            ifi = next((i for gg, i in s.groups if gg == g), 0)
        if (g, ifi) not in s.groups:
            if strict:
                raise _err(errno.EADDRNOTAVAIL)
            return
        s.groups.discard((g, ifi))
        if not any((g, ifi) in o.groups for o in self.pcbs):
            self.node.leave(self.ifname(ifi), g, self.now)

    @property
    def filter_layout(self) -> str:
        """``struct icmp6_filter`` bits: Linux's block, the BSDs' pass."""
        return "linux" if self.profile.name == "linux" else "bsd"

    def ctloutput_get(self, s: Socket, level: int, opt: int, buflen: int = 0) -> Any:
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
        if level != IPPROTO_IPV6 or s.family != AF_INET6:
            raise _err(errno.ENOPROTOOPT)
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
        raise _err(errno.ENOPROTOOPT)


# --- RFC 3542 §10: Hop-by-Hop and Destination options -------------------------

def inet6_opt_init(extbuf: bytearray | None, extlen: int) -> int:
    """Start an options header: 2 bytes (Next Header, Hdr Ext Len)."""
    if extbuf is not None:
        if extlen <= 0 or extlen % 8 or len(extbuf) < extlen:
            return -1
        extbuf[1] = extlen // 8 - 1
    return 2


def _pad(extbuf: bytearray | None, off: int, n: int) -> None:
    if extbuf is None or n == 0:
        return
    if n == 1:
        extbuf[off] = 0  # Pad1
    else:
        extbuf[off] = 1  # PadN
        extbuf[off + 1] = n - 2
        extbuf[off + 2:off + n] = bytes(n - 2)


def inet6_opt_append(extbuf: bytearray | None, extlen: int, offset: int, type: int,
                     length: int, align: int) -> tuple[int, int]:
    """Append an option of ``length`` data bytes aligned ``align``n + ...:
    returns ``(new offset, data offset)`` or ``(-1, -1)``."""
    if offset < 2 or type < 2 or type > 255 or length < 0 or length > 255 or \
            align not in (1, 2, 4, 8) or align > length:
        return -1, -1
    cur = offset + 2
    padlen = (align - cur % align) % align
    total = offset + padlen + 2 + length
    if extbuf is not None:
        if total > extlen:
            return -1, -1
        _pad(extbuf, offset, padlen)
        o = offset + padlen
        extbuf[o] = type
        extbuf[o + 1] = length
        return total, o + 2
    return total, -1


def inet6_opt_finish(extbuf: bytearray | None, extlen: int, offset: int) -> int:
    """Pad the header to a multiple of 8 bytes; its total length."""
    padlen = (8 - offset % 8) % 8
    total = offset + padlen
    if extbuf is not None:
        if total > extlen:
            return -1
        _pad(extbuf, offset, padlen)
    return total


def inet6_opt_set_val(databuf: bytearray, offset: int, val: bytes) -> int:
    databuf[offset:offset + len(val)] = val
    return offset + len(val)


def inet6_opt_get_val(databuf: bytes, offset: int, vallen: int) -> tuple[int, bytes]:
    return offset + vallen, bytes(databuf[offset:offset + vallen])


def inet6_opt_next(extbuf: bytes, extlen: int, offset: int) -> tuple[int, int, int, int]:
    """The next option after ``offset`` (0 = the first), skipping padding:
    ``(next offset, type, length, data offset)``, ``(-1, ...)`` at the end."""
    off = max(offset, 2)
    while off < extlen:
        t = extbuf[off]
        if t == 0:
            off += 1
            continue
        if off + 2 > extlen:
            return -1, 0, 0, -1
        ln = extbuf[off + 1]
        if off + 2 + ln > extlen:
            return -1, 0, 0, -1
        if t == 1:
            off += 2 + ln
            continue
        return off + 2 + ln, t, ln, off + 2
    return -1, 0, 0, -1


def inet6_opt_find(extbuf: bytes, extlen: int, offset: int, type: int) -> tuple[int, int, int]:
    """The next option of ``type``: ``(next offset, length, data offset)``."""
    off = offset
    while True:
        off, t, ln, data = inet6_opt_next(extbuf, extlen, off)
        if off < 0:
            return -1, 0, -1
        if t == type:
            return off, ln, data


# --- RFC 3542 §7: Routing header (type 0) -------------------------------------

IPV6_RTHDR_TYPE_0 = 0


def inet6_rth_space(type: int, segments: int) -> int:
    if type != IPV6_RTHDR_TYPE_0 or not 0 <= segments <= 127:
        return 0
    return 8 + 16 * segments


def inet6_rth_init(bp: bytearray, bp_len: int, type: int, segments: int) -> bool:
    n = inet6_rth_space(type, segments)
    if n == 0 or bp_len < n or len(bp) < n:
        return False
    bp[:n] = bytes(n)
    bp[1] = 2 * segments  # Hdr Ext Len
    bp[2] = type
    return True


def inet6_rth_add(bp: bytearray, addr: IPv6Address | str) -> int:
    if bp[2] != IPV6_RTHDR_TYPE_0:
        return -1
    n, left = bp[1] // 2, bp[3]
    if left >= n:
        return -1
    off = 8 + 16 * left
    bp[off:off + 16] = IPv6Address(addr).packed
    bp[3] = left + 1
    return 0


def inet6_rth_segments(bp: bytes) -> int:
    if bp[2] != IPV6_RTHDR_TYPE_0 or bp[1] % 2:
        return -1
    return bp[1] // 2


def inet6_rth_getaddr(bp: bytes, index: int) -> IPv6Address | None:
    n = inet6_rth_segments(bp)
    if not 0 <= index < n or 24 + 16 * index > len(bp):
        return None
    return IPv6Address(bytes(bp[8 + 16 * index:24 + 16 * index]))


def inet6_rth_reverse(inp: bytes, out: bytearray) -> int:
    n = inet6_rth_segments(inp)
    if n < 0 or len(inp) < 8 + 16 * n or len(out) < 8 + 16 * n:
        return -1
    addrs = [bytes(inp[8 + 16 * i:24 + 16 * i]) for i in range(n)]
    hdr = bytes(inp[:8])
    out[:8 + 16 * n] = bytes(8 + 16 * n)
    out[0:8] = hdr
    out[3] = n  # segments left: all of them
    for i, a in enumerate(reversed(addrs)):
        out[8 + 16 * i:24 + 16 * i] = a
    return 0


# --- sockaddr_in6 / sockaddr_storage (§1.13, §1.3.2) ---------------------------

#: ``sizeof(struct sockaddr_in6)``, ``sizeof(struct sockaddr_in)``,
#: ``sizeof(struct sockaddr_storage)`` on every platform here.
SIN6_LEN, SIN_LEN, SS_LEN = 28, 16, 128


def _family_of(layout: str, family: int | None, v6: bool) -> int:
    if family is not None:
        return family
    if layout == "linux":
        return AF_INET6 if v6 else AF_INET
    return PROFILES[layout].af_inet6 if v6 else 2


def _layout(layout: str) -> str:
    if layout != "linux" and (layout not in PROFILES or PROFILES[layout].name == "linux"):
        raise ValueError(f"unknown sockaddr layout {layout!r}")
    return layout


def _head(layout: str, length: int, fam: int) -> bytes:
    # BSD 4.3-Reno onwards: u_int8_t sa_len, sa_family_t (u_int8_t) sa_family;
    # Linux: sa_family_t (unsigned short, host order) and no length.
    return struct.pack("=H", fam) if layout == "linux" else struct.pack("BB", length, fam)


def pack_sockaddr_in6(addr: IPv6Address | str, port: int = 0, flowinfo: int = 0,
                      scope_id: int = 0, *, layout: str = "linux",
                      family: int | None = None) -> bytes:
    """``struct sockaddr_in6`` bytes: ``sin6_len`` first on the BSDs
    (``layout`` a BSD profile name: its ``AF_INET6`` number), ``sin6_family``
    alone on Linux; port and flow info in network order, ``sin6_scope_id``
    in host order."""
    lay = _layout(layout)
    a = IPv6Address(addr)
    return (_head(lay, SIN6_LEN, _family_of(lay, family, True)) + struct.pack("!HI", port, flowinfo)
            + a.packed + struct.pack("=I", scope_id))


def pack_sockaddr_in(addr: IPv4Address | str, port: int = 0, *, layout: str = "linux") -> bytes:
    lay = _layout(layout)
    return _head(lay, SIN_LEN, _family_of(lay, None, False)) + struct.pack("!H", port) + \
        IPv4Address(addr).packed + bytes(8)


def sockaddr_family(sa: bytes, *, layout: str = "linux") -> int:
    """``((struct sockaddr *)&ss)->sa_family``, §1.13's portable way (3)."""
    lay = _layout(layout)
    if len(sa) < 2:
        raise TruncatedError("sockaddr shorter than its family field", layer="sockaddr",
                             offset=0, needed=2, available=len(sa))
    return int(struct.unpack("=H", sa[:2])[0]) if lay == "linux" else sa[1]


def unpack_sockaddr_in6(sa: bytes, *, layout: str = "linux"
                        ) -> tuple[IPv6Address, int, int, int]:
    """``(addr, port, flowinfo, scope_id)`` from ``struct sockaddr_in6`` bytes
    (or a ``sockaddr_storage`` holding one). A wrong family or ``sin6_len``
    is a :class:`MalformedError`, a short buffer a :class:`TruncatedError`."""
    lay = _layout(layout)
    if len(sa) < SIN6_LEN:
        raise TruncatedError("sockaddr_in6 is 28 bytes", layer="sockaddr", offset=0,
                             needed=SIN6_LEN, available=len(sa))
    fam = sockaddr_family(sa, layout=lay)
    if fam != _family_of(lay, None, True):
        raise MalformedError(f"sa_family {fam} is not AF_INET6", layer="sockaddr",
                             offset=0 if lay == "linux" else 1)
    if lay != "linux" and sa[0] != SIN6_LEN:
        raise MalformedError(f"sin6_len {sa[0]} is not 28", layer="sockaddr", offset=0)
    port, flow = struct.unpack("!HI", sa[2:8])
    (scope,) = struct.unpack("=I", sa[24:28])
    return IPv6Address(bytes(sa[8:24])), port, flow, scope


def sockaddr_storage(sa: bytes) -> bytes:
    """A ``struct sockaddr_storage`` (128 bytes) holding ``sa``."""
    if len(sa) > SS_LEN:
        raise MalformedError("sockaddr longer than sockaddr_storage", layer="sockaddr",
                             offset=SS_LEN)
    return bytes(sa) + bytes(SS_LEN - len(sa))
