"""The IPv4 state of a node, as ``in_var.h``, ``ip_var.h`` and
``if_ether.h`` declare the kernel's: interface addresses, routes, the ARP
table, reassembly, path MTUs, rate limits. What every layer of
:mod:`kame.inet` reads and writes; the interfaces, counters, knobs, clock
and output queue are the node's (``self.node``).

The layers stack as classes, as :mod:`kame.ip6` does:
``InVars`` -> :class:`~kame.inet.route.InRoute` (addresses, ``rtalloc``,
``in_selectsrc``) -> :class:`~kame.inet.arp.Arp` (``if_ether.c``) ->
:class:`~kame.inet.output.IpOutput` (``ip_output``, fragmentation, PMTU) ->
:class:`~kame.inet.ipsec4.Ipsec4` (``ipsec4_output``, ``esp4_input``) ->
:class:`~kame.inet.icmp.Icmp` (``icmp_input``, ``icmp_error``) ->
:class:`~kame.inet.igmp.Igmp` (``igmp_input``, memberships) ->
:class:`~kame.inet.input.IpInput` (``ip_input``, ``ip_forward``,
reassembly) -> :class:`kame.inet.Inet` (timers, ``ifconfig``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kame.inet.arp import Llinfo

#: Limited broadcast, 255.255.255.255.
INADDR_BROADCAST = IPv4Address(0xFFFFFFFF)
INADDR_ANY = IPv4Address(0)
ETHERTYPE_IP = b"\x08\x00"
ETHERTYPE_ARP = b"\x08\x06"
ETHER_BROADCAST = b"\xff" * 6


@dataclass(slots=True)
class InIfaddr:
    """One IPv4 address on one interface (``struct in_ifaddr``):
    ``tentative`` while RFC 5227 probes run, ``duplicated`` when they (or
    a conflict) found another owner."""

    addr: IPv4Address
    prefixlen: int
    ifname: str
    tentative: bool = False
    duplicated: bool = False
    # RFC 5227 state: probes left, announcements left, the next step's time
    probes: int = 0
    announces: int = 0
    next_at: float | None = None
    last_defend: float = float("-inf")

    @property
    def usable(self) -> bool:
        return not self.tentative and not self.duplicated

    @property
    def network(self) -> IPv4Network:
        return IPv4Network((int(self.addr), self.prefixlen), strict=False)

    def holds(self, a: int) -> bool:
        """Address ``a`` (an integer) is on this address's subnet: the
        lookups' test, with no IPv4Network built."""
        return (a ^ int(self.addr)) >> (32 - self.prefixlen) == 0

    @property
    def broadcast(self) -> IPv4Address | None:
        """The subnet-directed broadcast (none for /31 and /32, RFC 3021)."""
        return self.network.broadcast_address if self.prefixlen < 31 else None


@dataclass(slots=True)
class InRtentry:
    """A static route (``route add -inet``): ``gateway`` ``None`` is an
    interface route; ``expire`` set: learnt from a Redirect."""

    prefix: IPv4Network
    gateway: IPv4Address | None
    ifname: str
    #: a host route a Redirect made (``RTF_DYNAMIC``): when it goes
    expire: float | None = None
    #: the prefix as integers for ``rtalloc``: network, mask, length
    net: int = field(init=False, repr=False, compare=False)
    mask: int = field(init=False, repr=False, compare=False)
    plen: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.plen = self.prefix.prefixlen
        self.mask = (0xFFFFFFFF << (32 - self.plen)) & 0xFFFFFFFF
        self.net = int(self.prefix.network_address)


@dataclass(frozen=True, slots=True)
class Route4:
    """What ``rtalloc`` found: outgoing interface, next hop, via a gateway."""

    ifname: str
    next_hop: IPv4Address
    gateway: bool


class InVars:
    """The IPv4 tables of one node (set in :class:`kame.inet.Inet`'s
    ``__init__``; see the module docstring)."""

    node: Any
    addrs: list[InIfaddr]
    routes: dict[IPv4Network, InRtentry]
    arptab: dict[tuple[str, IPv4Address], Llinfo]
    #: Path MTUs learnt from Fragmentation Needed (RFC 1191): dst -> (mtu, expiry).
    pmtu: dict[IPv4Address, tuple[int, float]]
    #: Destinations behind a PMTU black hole: DF off until the time given.
    pmtud_off: dict[IPv4Address, float]
    reass: Any
    _reass_seen: dict[str, int]
    ip_id: int
    #: ``ppsratecheck`` state per class ("error", "echo"): (second, count).
    rate: dict[str, tuple[int, int]]
    arp_deadline: float | None

    def inc(self, name: str, n: int = 1) -> None:
        """Count in the node's ``stats`` (``ips_*``, ``icps_*``, ``arps_*``)."""
        self.node.stats._c[name] += n

    def emit(self, ifname: str, dst: bytes, ethertype: bytes, payload: bytes) -> None:
        """Queue one Ethernet frame from ``ifname``'s address."""
        me = self.node.ifnets[ifname].lladdr or bytes(6)
        self.node._out.append((ifname, dst + me + ethertype + payload))
