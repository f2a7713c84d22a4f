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

import random
from collections import OrderedDict, deque
from collections.abc import Iterable
from ipaddress import IPv6Address, IPv6Network
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kame.icmp6 import ErrorRateLimiter
    from kame.in6_src import PolicyTable
    from kame.in6_var import AddrList, Ifnet
    from kame.ip6.icmp6 import Icmp6ErrorInput
    from kame.ip6.route import Rtentry
    from kame.knobs import Knobs
    from kame.mld6 import Mld6
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

    if TYPE_CHECKING:
        def _handle(self, actions: Iterable[Any], now: float) -> None: ...
        def _flush(self) -> list[Frame]: ...

    # --- upcalls to the sockets layer (kame.socket attaches itself as ``sockets``)

    def udp6_input(self, ifname: str, hdr: Any, body: bytes, now: float) -> bool:
        """A UDP datagram for us: True when a socket took it (or its
        checksum was bad, a counted drop); False means Port Unreachable."""
        so = getattr(self, "sockets", None)
        return so is not None and bool(so.udp6_input(ifname, hdr, body, now))

    def tcp6_input(self, ifname: str, hdr: Any, body: bytes, now: float) -> None:
        """A TCP segment for us (``tcp6_input``, :mod:`kame.tcp.input`): a
        connection, a listener of the sockets layer, or a RST."""
        self.tcp.tcp6_input(ifname, hdr, body, now)

    def tcp6_ctlinput(self, err: Icmp6ErrorInput, invoking: bytes, now: float) -> None:
        """An ICMPv6 error about a TCP segment we sent (``tcp6_ctlinput``)."""
        self.tcp.tcp6_ctlinput(err, invoking, now)

    def rip6_input(self, ifname: str, hdr: Any, nh: int, body: bytes, now: float) -> bool:
        """Hand a copy of an upper-layer packet to the raw sockets of ``nh``."""
        so = getattr(self, "sockets", None)
        if so is None:
            return False
        idx = self.ifnets[ifname].index if ifname in self.ifnets else 0
        return bool(so.rip6_input(hdr.src, hdr.dst, nh, body, hdr.hop_limit,
                                  hdr.traffic_class, idx))

    def udp6_ctlinput(self, err: Icmp6ErrorInput, invoking: bytes) -> None:
        """An ICMPv6 error reaches the sockets (``udp6_ctlinput``)."""
        so = getattr(self, "sockets", None)
        if so is not None:
            so.ctlinput(err, invoking)
