"""The typed edges of the ND state machines: parsed inputs, actions, events.

Inputs (``*Input``) are small frozen dataclasses of *already parsed* fields.
They are the mapping point for the wire codec: the Rust core
(``kame._core``: ``parse_icmpv6``, ``NeighborSolicitation``,
``RouterAdvertisement`` ...) parses and validates the bytes — checksum,
lengths, the ``nd6_maxndopt`` cap, zero-length options, "first of each
single-use option wins" — and ``kame.nd6.codec`` (to come) maps its objects
field by field onto these classes:

=====================  ===================================================
core object            input here
=====================  ===================================================
IPv6 header            ``src``, ``dst``, ``hop_limit``
ICMPv6 header          ``code``
NeighborSolicitation   :class:`NsInput` (``target``, SLLA, RFC 7527 nonce)
NeighborAdvertisement  :class:`NaInput` (R/S/O flags, ``target``, TLLA)
RouterSolicitation     :class:`RsInput`
RouterAdvertisement    :class:`RaInput` (+ :class:`PrefixInfo`,
                       :class:`RouteInfo`, :class:`RdnssInfo`, MTU)
Redirect               :class:`RedirectInput`
option walker count    ``options_ignored`` (beyond ``nd6_maxndopt``,
                       counted ``icp6s_nd_toomanyopt``)
=====================  ===================================================

The state machines answer with *actions* (things to transmit or hand to
another layer) and *events* (things that happened, for logs, ``ifconfig``
and tests). Nothing here touches bytes, clocks or sockets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv6Address
from typing import Any

__all__ = [
    "Action",
    "AddressDeprecated",
    "AddressDuplicated",
    "AddressExpired",
    "AddressReady",
    "DeliverQueued",
    "DropQueued",
    "Event",
    "InterfaceDisabled",
    "NaInput",
    "NeighborUnreachable",
    "NsInput",
    "PrefixInfo",
    "RaInput",
    "RdnssInfo",
    "RedirectInput",
    "RouteInfo",
    "RsInput",
    "SendNA",
    "SendNS",
    "SendRA",
    "SendRS",
]


# --- inputs ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class NsInput:
    """A received Neighbor Solicitation (RFC 4861 4.3)."""

    src: IPv6Address
    dst: IPv6Address
    hop_limit: int
    target: IPv6Address
    slla: bytes | None = None
    nonce: bytes | None = None
    code: int = 0
    options_ignored: int = 0


@dataclass(frozen=True, slots=True)
class NaInput:
    """A received Neighbor Advertisement (RFC 4861 4.4)."""

    src: IPv6Address
    dst: IPv6Address
    hop_limit: int
    target: IPv6Address
    router: bool = False
    solicited: bool = False
    override: bool = False
    tlla: bytes | None = None
    code: int = 0
    options_ignored: int = 0


@dataclass(frozen=True, slots=True)
class RsInput:
    """A received Router Solicitation (RFC 4861 4.1)."""

    src: IPv6Address
    dst: IPv6Address
    hop_limit: int
    slla: bytes | None = None
    code: int = 0
    options_ignored: int = 0


@dataclass(frozen=True, slots=True)
class PrefixInfo:
    """Prefix Information option (RFC 4861 4.6.2)."""

    prefix: IPv6Address
    prefixlen: int
    onlink: bool = True
    autonomous: bool = True
    valid_lifetime: int = 2592000
    preferred_lifetime: int = 604800
    router_addr: bool = False


@dataclass(frozen=True, slots=True)
class RouteInfo:
    """Route Information option (RFC 4191 2.3); ``preference`` is the 2-bit field."""

    prefix: IPv6Address
    prefixlen: int
    preference: int = 0
    lifetime: int = 0


@dataclass(frozen=True, slots=True)
class RdnssInfo:
    """Recursive DNS Server option (RFC 8106 5.1)."""

    lifetime: int
    servers: tuple[IPv6Address, ...]


@dataclass(frozen=True, slots=True)
class RaInput:
    """A received Router Advertisement (RFC 4861 4.2, RFC 4191 2.2 ``preference``)."""

    src: IPv6Address
    dst: IPv6Address
    hop_limit: int
    cur_hop_limit: int = 0
    managed: bool = False
    other: bool = False
    preference: int = 0
    router_lifetime: int = 0
    reachable_time: int = 0  # milliseconds, 0 = unspecified
    retrans_timer: int = 0  # milliseconds, 0 = unspecified
    slla: bytes | None = None
    mtu: int | None = None
    prefixes: tuple[PrefixInfo, ...] = ()
    routes: tuple[RouteInfo, ...] = ()
    rdnss: tuple[RdnssInfo, ...] = ()
    code: int = 0
    options_ignored: int = 0
    #: RFC 6275 §7.1: the Home Agent (H) flag
    home_agent: bool = False
    #: RFC 6275 §7.4: the first Home Agent Information option, (preference, lifetime)
    ha_info: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class RedirectInput:
    """A received Redirect (RFC 4861 4.5)."""

    src: IPv6Address
    dst: IPv6Address
    hop_limit: int
    target: IPv6Address
    destination: IPv6Address
    tlla: bytes | None = None
    code: int = 0
    options_ignored: int = 0


# --- actions -----------------------------------------------------------------

class Action:
    """Base of everything a state machine asks the node to do."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class SendNS(Action):
    """Transmit an NS. ``src`` :: means a DAD probe (then no SLLA)."""

    ifname: str
    target: IPv6Address
    dst: IPv6Address
    src: IPv6Address | None  # None: let source selection pick (address resolution)
    include_slla: bool = True
    nonce: bytes | None = None
    dst_lladdr: bytes | None = None  # unicast NUD probe: the cached lladdr


@dataclass(frozen=True, slots=True)
class SendNA(Action):
    """Transmit an NA (RFC 4861 7.2.4)."""

    ifname: str
    target: IPv6Address
    dst: IPv6Address
    src: IPv6Address | None
    router: bool
    solicited: bool
    override: bool
    include_tlla: bool = True
    tlla: bytes | None = None  # proxy NA: the proxied lladdr; None = own


@dataclass(frozen=True, slots=True)
class SendRS(Action):
    """Transmit an RS to all-routers (RFC 4861 6.3.7)."""

    ifname: str
    src: IPv6Address
    include_slla: bool


@dataclass(frozen=True, slots=True)
class SendRA(Action):
    """Transmit an RA; the fields are those of :class:`RaInput` to emit."""

    ifname: str
    dst: IPv6Address
    cur_hop_limit: int
    managed: bool
    other: bool
    preference: int
    router_lifetime: int
    reachable_time: int
    retrans_timer: int
    mtu: int | None
    prefixes: tuple[PrefixInfo, ...]
    routes: tuple[RouteInfo, ...]
    rdnss: tuple[RdnssInfo, ...]
    include_slla: bool = True
    #: a Mobile IPv6 home agent's RA (RFC 6275 §7.1, §7.4): the H flag and
    #: a Home Agent Information option with (preference, lifetime)
    home_agent: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class DeliverQueued(Action):
    """Address resolution finished: send the held packets to ``lladdr``."""

    ifname: str
    neighbor: IPv6Address
    lladdr: bytes
    packets: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class DropQueued(Action):
    """Resolution failed: drop held packets and send ICMPv6 Destination
    Unreachable, code 3 "address unreachable", for each (RFC 4861 7.2.2)."""

    ifname: str
    neighbor: IPv6Address
    packets: tuple[Any, ...]


# --- events ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened; ``kind`` names it, ``data`` carries details."""

    kind: str
    ifname: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AddressReady:
    """DAD finished without a duplicate: the address is no longer tentative."""

    ifname: str
    addr: IPv6Address


@dataclass(frozen=True, slots=True)
class AddressDuplicated:
    """DAD failed: the address is marked duplicated (§1.2)."""

    ifname: str
    addr: IPv6Address
    by: str  # "ns" or "na"


@dataclass(frozen=True, slots=True)
class InterfaceDisabled:
    """rfc2462bis: a hardware-derived link-local address was duplicated."""

    ifname: str
    addr: IPv6Address


@dataclass(frozen=True, slots=True)
class AddressDeprecated:
    ifname: str
    addr: IPv6Address


@dataclass(frozen=True, slots=True)
class AddressExpired:
    ifname: str
    addr: IPv6Address


@dataclass(frozen=True, slots=True)
class NeighborUnreachable:
    """NUD gave up on a neighbor; routers among them leave the router list."""

    ifname: str
    addr: IPv6Address
    is_router: bool

