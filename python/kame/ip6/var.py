"""The node's state, as ``ip6_var.h`` and ``in6_var.h`` declare the kernel's:
what every layer of :mod:`kame.ip6` reads and writes, set up by
:class:`kame.node.Node`. The upcalls to the sockets layer (``pr_input`` /
``pr_ctlinput`` of the protocol switch) live here too, as every layer
makes them.

The layers stack as classes, each using the ones below it:
``NodeVars`` -> :class:`~kame.ip6.route.Route6` (``rtalloc``) ->
:class:`~kame.ip6.output.Ip6Output` (``ip6_output``, ``nd6_output``) ->
:class:`~kame.ip6.icmp6.Icmp6` (``icmp6_input``, ``icmp6_error``) ->
:class:`~kame.ip6.forward.Ip6Forward` (``ip6_forward``) ->
:class:`~kame.ip6.input.Ip6Input` (``ip6_input``, ``frag6_input``) ->
:class:`kame.node.Node` (interfaces, timers, the ND state machines).
"""

from __future__ import annotations

import math
import random
from collections import OrderedDict, deque
from collections.abc import Iterable
from ipaddress import IPv6Address, IPv6Network
from numbers import Real
from typing import TYPE_CHECKING, Any

from kame.errors import NoInterfaceError, ScopeError
from kame.scope6 import Scope, in6_addrscope, is_embedded_form, sa6_from_user

if TYPE_CHECKING:
    from kame.icmp6 import ErrorRateLimiter
    from kame.in6_src import PolicyTable
    from kame.in6_var import AddrList, Ifnet
    from kame.ip6.icmp6 import Icmp6ErrorInput
    from kame.ip6.route import Rtentry
    from kame.knobs import Knobs
    from kame.mip6 import Mip6Cn
    from kame.mld6 import Mld6
    from kame.mld6_router import Mld6Router
    from kame.nd6.cache import NdLog, NeighborCache
    from kame.nd6.nbr import Nd6Nbr
    from kame.nd6.rtr import Nd6Rtr
    from kame.scope6 import ZoneTable
    from kame.stats import Stats

#: A frame to transmit: (interface name, Ethernet frame).
Frame = tuple[str, bytes]


class NodeVars:
    """The node's tables, counters and knobs (set in ``Node.__init__``)."""

    hostname: str
    knobs: Knobs
    rng: random.Random
    stats: Stats
    log: NdLog
    ifnets: dict[str, Ifnet]
    zones: ZoneTable
    addrs: AddrList
    groups: dict[str, set[IPv6Address]]
    ifids: dict[str, bytes]
    cache: NeighborCache
    nbr: Nd6Nbr
    rtr: Nd6Rtr
    errlimit: ErrorRateLimiter
    mld: Mld6
    mldr: Mld6Router
    events: deque[Any]
    policy: PolicyTable
    static_routes: dict[IPv6Network, Rtentry]
    reass: Any
    _reass_cfg: tuple[int, int, int]
    _reass_seen: dict[str, int]
    pmtu: OrderedDict[IPv6Address, tuple[int, float]]
    _frag_ident: int
    drop_own_frames: bool
    nd6_fastpath: bool
    _group_ints: dict[str, tuple[set[IPv6Address], frozenset[int]]]
    _out: list[Frame]
    _now: float
    key: Any
    tcp: Any  # kame.tcp.usrreq.Tcp
    gif: Any  # kame.gif.Gif: gif tunnels and the 6to4 interface
    faith_prefixes: list[IPv6Network]  # kame.faith: net.inet6.ip6.keepfaith's prefixes
    mip6: Mip6Cn  # kame.mip6: the Mobile IPv6 correspondent node
    _mip6_bc: dict[IPv6Address, Any]  # its binding cache (kame.mip6.bcache)
    #: The sockets layer (``kame.socket.SocketLayer`` sets it); absent without one.
    sockets: Any

    if TYPE_CHECKING:
        def _handle(self, actions: Iterable[Any], now: float) -> None: ...
        def _flush(self) -> list[Frame]: ...

    # --- arguments from users (the public Node API) -------------------------------

    def _ifnet(self, name: object) -> Ifnet:
        """The interface ``name``, or :class:`~kame.errors.NoInterfaceError`
        (``ENXIO``, as ``ifconfig`` answers for an interface that does not exist)."""
        if not isinstance(name, str):
            raise TypeError(f"an interface name is a str, not {type(name).__name__}")
        ifp = self.ifnets.get(name)
        if ifp is None:
            raise NoInterfaceError(f"no interface {name!r}")
        return ifp

    def _user_addr(self, value: object, ifname: str | None = None, *,
                   what: str = "address") -> tuple[IPv6Address, str | None]:
        """An IPv6 address from a user (``str``, ``IPv6Address`` with or without
        a zone, :class:`~kame.scope6.Sockaddr6`, 16 octets) through
        :func:`kame.scope6.sa6_from_user`, and the interface its link- or
        interface-local zone names. ``ifname`` (``ping -I``) must exist and
        agree with the zone (``ScopeError`` ``EINVAL`` otherwise); without a
        zone, ``net.inet6.ip6.use_defzone`` picks the default zone."""
        if ifname is not None:
            self._ifnet(ifname)
        sa = sa6_from_user(value, self.zones, what=what, use_defzone=ifname is None and bool(
            self.knobs["net.inet6.ip6.use_defzone"]))
        sa_addr, zone = sa.addr, sa.scope_id
        if zone and in6_addrscope(sa_addr) in (Scope.INTFACELOCAL, Scope.LINKLOCAL):
            zif = self.zones.name(zone)
            if ifname is not None and zif != ifname:
                raise ScopeError(f"{what} {value}: zone {zif!r} is not interface {ifname!r}",
                                 "EINVAL")
            ifname = zif
        return sa_addr, ifname

    def _in6(self, value: object, what: str = "address") -> IPv6Address:
        """:meth:`_user_addr` without a zone to keep (per-packet callers pass
        plain ``IPv6Address`` objects and pay one type check)."""
        if type(value) is IPv6Address and value.scope_id is None and \
                not is_embedded_form(value):
            return value
        return self._user_addr(value, what=what)[0]

    @staticmethod
    def _time(now: object) -> float:
        """A ``now`` argument: a finite real number of seconds."""
        if type(now) is float and now - now == 0.0:  # finite (inf - inf and nan are nan)
            return now
        if not isinstance(now, Real) or isinstance(now, bool):
            raise TypeError(f"now is a number of seconds, not {type(now).__name__}")
        t = float(now)
        if not math.isfinite(t):
            raise ValueError(f"now must be finite, not {t}")
        return t

    # --- upcalls to the sockets layer (kame.socket attaches itself as ``sockets``)

    def udp6_input(self, ifname: str, hdr: Any, body: bytes, now: float,
                   ext: tuple[tuple[int, bytes], ...] = ()) -> bool:
        """A UDP datagram for us (``ext``: its Hop-by-Hop, Destination
        options and Routing headers): True when a socket took it (or its
        checksum was bad, a counted drop); False means Port Unreachable."""
        so = getattr(self, "sockets", None)
        if hdr.dst.is_multicast and not self.mld.accepts(ifname, hdr.dst, hdr.src):
            self.stats.inc("ip6s_notmember")  # the interface's source filter refuses it
            return True
        return so is not None and bool(so.udp6_input(ifname, hdr, body, now, ext))

    def tcp6_input(self, ifname: str, hdr: Any, body: bytes, now: float) -> None:
        """A TCP segment for us (``tcp6_input``, :mod:`kame.tcp.input`): a
        connection, a listener of the sockets layer, or a RST."""
        self.tcp.tcp6_input(ifname, hdr, body, now)

    def tcp6_ctlinput(self, err: Icmp6ErrorInput, invoking: bytes, now: float) -> None:
        """An ICMPv6 error about a TCP segment we sent (``tcp6_ctlinput``)."""
        self.tcp.tcp6_ctlinput(err, invoking, now)

    def rip6_input(self, ifname: str, hdr: Any, nh: int, body: bytes, now: float,
                   ext: tuple[tuple[int, bytes], ...] = ()) -> bool:
        """Hand a copy of an upper-layer packet to the raw sockets of ``nh``."""
        so = getattr(self, "sockets", None)
        if so is None:
            return False
        idx = self.ifnets[ifname].index if ifname in self.ifnets else 0
        return bool(so.rip6_input(hdr.src, hdr.dst, nh, body, hdr.hop_limit,
                                  hdr.traffic_class, idx, ext))

    def udp6_ctlinput(self, err: Icmp6ErrorInput, invoking: bytes) -> None:
        """An ICMPv6 error reaches the sockets (``udp6_ctlinput``)."""
        so = getattr(self, "sockets", None)
        if so is not None:
            so.ctlinput(err, invoking)
