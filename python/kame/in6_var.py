"""Interfaces and interface addresses (KAME ``in6_var.h``, ``if_var.h``).

Plain state records shared by :mod:`kame.nd6` and the node: an
:class:`Ifnet` per interface and an :class:`In6Ifaddr` per IPv6 address with
KAME's ``IN6_IFF_*`` flags and absolute lifetime deadlines (``math.inf`` for
the infinite lifetime 0xffffffff).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag
from ipaddress import IPv6Address, IPv6Network

from kame.knobs import IfFlags

__all__ = [
    "ND6_INFINITE_LIFETIME",
    "AddrList",
    "IfType",
    "Ifnet",
    "In6Flags",
    "In6Ifaddr",
    "lifetime_deadline",
]

#: The all-ones lifetime means "infinity" (RFC 4861 4.6.2).
ND6_INFINITE_LIFETIME = 0xFFFFFFFF


def lifetime_deadline(now: float, seconds: int) -> float:
    """Absolute expiry of a lifetime in seconds; 0xffffffff is infinite."""
    return math.inf if seconds == ND6_INFINITE_LIFETIME else now + seconds


class IfType(IntEnum):
    """The interface kinds §1.4.1 distinguishes."""

    ETHER = 6  # IFT_ETHER: has an IEEE 802 address
    LOOPBACK = 24  # IFT_LOOP
    P2P = 23  # IFT_PPP, and tunnels (gif, IFT_GIF 55): no link-layer address
    GIF = 55


class In6Flags(IntFlag):
    """``IN6_IFF_*`` (KAME ``in6_var.h`` values)."""

    NONE = 0
    ANYCAST = 0x01
    TENTATIVE = 0x02
    DUPLICATED = 0x04
    DETACHED = 0x08
    DEPRECATED = 0x10
    NODAD = 0x20
    AUTOCONF = 0x40
    TEMPORARY = 0x80


@dataclass(slots=True)
class In6Ifaddr:
    """One IPv6 address on one interface (``struct in6_ifaddr``).

    ``hw_derived`` marks an interface ID taken from this interface's own
    IEEE 802 address: the rfc2462bis rule (§1.2) disables IPv6 on the
    interface when such a link-local address is found duplicated.
    """

    addr: IPv6Address
    prefixlen: int
    ifname: str
    flags: In6Flags = In6Flags.NONE
    vltime_expire: float = math.inf
    pltime_expire: float = math.inf
    created: float = 0.0
    hw_derived: bool = False
    prefix: IPv6Network | None = None

    @property
    def tentative(self) -> bool:
        return bool(self.flags._value_ & 0x02)  # plain int op: IntFlag & is slow

    @property
    def duplicated(self) -> bool:
        return bool(self.flags._value_ & 0x04)

    @property
    def usable(self) -> bool:
        """Neither tentative nor duplicated nor detached (may be a source)."""
        return not self.flags._value_ & 0x0E  # TENTATIVE | DUPLICATED | DETACHED

    def valid_remaining(self, now: float) -> float:
        return self.vltime_expire - now

    def preferred_remaining(self, now: float) -> float:
        return self.pltime_expire - now


@dataclass(slots=True)
class Ifnet:
    """One interface: name, index, kind, link-layer address, MTU, state."""

    name: str
    index: int
    type: IfType = IfType.ETHER
    lladdr: bytes | None = None
    mtu: int = 1500
    up: bool = False
    flags: IfFlags = field(default_factory=IfFlags)

    @property
    def addrlen(self) -> int:
        """``if_addrlen``: 0 for links without link-layer addresses."""
        return len(self.lladdr) if self.lladdr else 0

    @property
    def is_loopback(self) -> bool:
        return self.type == IfType.LOOPBACK

    @property
    def is_p2p(self) -> bool:
        return self.type in (IfType.P2P, IfType.GIF)


class AddrList:
    """The IPv6 addresses of all interfaces (KAME ``in6_ifaddr`` list)."""

    __slots__ = ("_by_if",)

    def __init__(self) -> None:
        # keyed by the address's int: IPv6Address.__hash__ is slow Python code
        self._by_if: dict[str, dict[int, In6Ifaddr]] = {}

    def add(self, ifa: In6Ifaddr) -> In6Ifaddr:
        self._by_if.setdefault(ifa.ifname, {})[ifa.addr._ip] = ifa
        return ifa

    def remove(self, ifname: str, addr: IPv6Address) -> In6Ifaddr | None:
        return self._by_if.get(ifname, {}).pop(addr._ip, None)

    def find(self, ifname: str, addr: IPv6Address) -> In6Ifaddr | None:
        """``in6ifa_ifpwithaddr``."""
        return self._by_if.get(ifname, {}).get(addr._ip)

    def find_any(self, addr: IPv6Address) -> In6Ifaddr | None:
        for d in self._by_if.values():
            ifa = d.get(addr._ip)
            if ifa is not None:
                return ifa
        return None

    def on(self, ifname: str) -> list[In6Ifaddr]:
        return list(self._by_if.get(ifname, {}).values())

    def all(self) -> list[In6Ifaddr]:
        return [ifa for d in self._by_if.values() for ifa in d.values()]

    def __len__(self) -> int:
        return sum(len(d) for d in self._by_if.values())
