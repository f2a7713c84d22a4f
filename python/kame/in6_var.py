"""Interfaces and interface addresses (KAME ``in6_var.h``, ``if_var.h``).

Plain state records shared by :mod:`kame.nd6` and the node: an
:class:`Ifnet` per interface and an :class:`In6Ifaddr` per IPv6 address with
KAME's ``IN6_IFF_*`` flags and absolute lifetime deadlines (``math.inf`` for
the infinite lifetime 0xffffffff).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag
from ipaddress import IPv6Address, IPv6Network

from kame.knobs import IfFlags
from kame.radix import PrefixIndex

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
    STF = 215  # IFT_STF: the 6to4 interface (kame.stf)


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
    #: ``if_hw_tsomax``: the largest TCP segment (IP header included) the
    #: driver segments for us (IFCAP_TSO, a TAP with ``IFF_VNET_HDR``);
    #: 0 when the interface does no segmentation offload.
    tsomax: int = 0

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


class TsoFrame(bytes):
    """A frame carrying a TCP segment larger than the link MTU for the
    interface to cut into segments of :attr:`tso_segsz` data octets
    (FreeBSD's ``CSUM_TSO`` mbuf with ``m_pkthdr.tso_segsz``)."""

    tso_segsz: int = 0


class AddrList:
    """The IPv6 addresses of all interfaces (KAME ``in6_ifaddr`` list),
    indexed so that no per-packet path scans them: by interface and
    address, by subnet (:meth:`by_net`: the connected routes and on-link
    tests, non-link-local addresses with a prefix length under 128) and by
    the prefix an autoconfigured address was made from (:meth:`from_prefix`)."""

    __slots__ = ("_by_if", "_by_prefix", "_nets", "gen")

    def __init__(self) -> None:
        #: Bumped by every add and remove (see ``Node._mcast_key``).
        self.gen = 0
        # keyed by the address's int: IPv6Address.__hash__ is slow Python code
        self._by_if: dict[str, dict[int, In6Ifaddr]] = {}
        self._nets: PrefixIndex[In6Ifaddr] = PrefixIndex()
        self._by_prefix: dict[tuple[str, IPv6Network], list[In6Ifaddr]] = {}

    @staticmethod
    def _subnet(ifa: In6Ifaddr) -> bool:
        return ifa.prefixlen < 128 and (int(ifa.addr) >> 118) != 0x3FA  # not fe80::/10

    def add(self, ifa: In6Ifaddr) -> In6Ifaddr:
        self.gen += 1
        d = self._by_if.setdefault(ifa.ifname, {})
        key = int(ifa.addr)
        old = d.get(key)
        if old is not None:
            self._unindex(old)
        d[key] = ifa
        if self._subnet(ifa):
            self._nets.add(key, ifa.prefixlen, ifa)
        if ifa.prefix is not None:
            self._by_prefix.setdefault((ifa.ifname, ifa.prefix), []).append(ifa)
        return ifa

    def _unindex(self, ifa: In6Ifaddr) -> None:
        if self._subnet(ifa):
            self._nets.remove(int(ifa.addr), ifa.prefixlen, ifa)
        if ifa.prefix is not None:
            key = (ifa.ifname, ifa.prefix)
            lst = self._by_prefix.get(key, [])
            for i, x in enumerate(lst):
                if x is ifa:
                    del lst[i]
                    break
            if not lst:
                self._by_prefix.pop(key, None)

    def remove(self, ifname: str, addr: IPv6Address) -> In6Ifaddr | None:
        ifa = self._by_if.get(ifname, {}).pop(addr._ip, None)  # type: ignore[attr-defined]
        if ifa is not None:
            self.gen += 1
            self._unindex(ifa)
        return ifa

    def count(self, ifname: str) -> int:
        """How many addresses ``ifname`` has."""
        return len(self._by_if.get(ifname, ()))

    def by_net(self, addr: int) -> Iterator[tuple[int, list[In6Ifaddr]]]:
        """The addresses whose subnet holds ``addr``, longest prefix first."""
        return self._nets.match(addr)

    def from_prefix(self, ifname: str, prefix: IPv6Network) -> list[In6Ifaddr]:
        """The addresses of ``ifname`` autoconfigured from ``prefix``."""
        return list(self._by_prefix.get((ifname, prefix), ()))

    def find(self, ifname: str, addr: IPv6Address) -> In6Ifaddr | None:
        """``in6ifa_ifpwithaddr``."""
        return self._by_if.get(ifname, {}).get(addr._ip)  # type: ignore[attr-defined]

    def find_any(self, addr: IPv6Address) -> In6Ifaddr | None:
        for d in self._by_if.values():
            ifa = d.get(addr._ip)  # type: ignore[attr-defined]
            if ifa is not None:
                return ifa
        return None

    def on(self, ifname: str) -> list[In6Ifaddr]:
        return list(self._by_if.get(ifname, {}).values())

    def all(self) -> list[In6Ifaddr]:
        return [ifa for d in self._by_if.values() for ifa in d.values()]

    def __len__(self) -> int:
        return sum(len(d) for d in self._by_if.values())
