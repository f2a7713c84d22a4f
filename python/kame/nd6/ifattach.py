"""Interface attachment: link-local address and required addresses
(KAME ``in6_ifattach.c``, seed §1.4.1 and §1.15).

Interface identifier, in KAME's order (``get_ifid``):

1. the interface's own IEEE 802 address as a modified EUI-64 (Ethernet);
2. for interfaces without one (loopback excepted: point-to-point, tunnels),
   the IEEE 802 address *borrowed* from another interface, the first in
   attachment order that has one;
3. the last resort: MD5(hostname) (:func:`kame.addr.hostname_ifid`).

Only case 1 is ``hw_derived``: the rfc2462bis rule disables IPv6 on an
interface when the duplicate link-local address came from its own hardware.

Required addresses and groups (§1.15):

- every interface on up: its link-local address (tentative, DAD follows),
  the all-nodes groups ff02::1 and ff01::1, the solicited-node group of the
  link-local address;
- the loopback interface: ::1/128 and fe80::1/64 (no DAD), groups ff01::1
  and ff02::1 (and fe80::1's solicited-node group);
- routers (``net.inet6.ip6.forwarding=1``) also join all-routers ff02::2 on
  non-loopback interfaces (the seed ties this to rtadvd running; kame
  joins when the node is a router), and :func:`subnet_router_anycast_ifa`
  gives the subnet-router anycast address of a configured prefix.

MLD reports are due for every joined group except those RFC 3810 §6 never
reports (interface-local scope, ff02::1): :func:`mld_reportable`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv6Address, IPv6Network

from kame.addr import (
    LINKLOCAL_ALL_NODES,
    LINKLOCAL_ALL_ROUTERS,
    LOOPBACK,
    NODELOCAL_ALL_NODES,
    eui64_ifid,
    hostname_ifid,
    is_linklocal,
    make_addr,
    mc_scope,
    solicited_node,
)
from kame.in6_var import Ifnet, IfType, In6Flags, In6Ifaddr

__all__ = [
    "IfattachResult",
    "get_hw_ifid",
    "get_ifid",
    "in6_ifattach",
    "mld_reportable",
    "subnet_router_anycast_ifa",
]

LINKLOCAL_PREFIX = IPv6Network("fe80::/64")


def get_hw_ifid(ifp: Ifnet) -> bytes | None:
    """The modified EUI-64 from ``ifp``'s own IEEE 802 address, if usable
    (KAME ``in6_get_hw_ifid``: all-zero, all-ones and group addresses are
    not)."""
    ll = ifp.lladdr
    if ifp.type != IfType.ETHER or ll is None or len(ll) not in (6, 8):
        return None
    if ll == bytes(len(ll)) or ll == b"\xff" * len(ll) or ll[0] & 0x01:
        return None
    return eui64_ifid(ll)


def get_ifid(ifp: Ifnet, others: Iterable[Ifnet], hostname: str) -> tuple[bytes, str, bool]:
    """``(ifid, source, hw_derived)``; ``source`` is ``"hw"``,
    ``"borrowed:IFNAME"`` or ``"md5"`` (KAME ``get_ifid``)."""
    own = get_hw_ifid(ifp)
    if own is not None:
        return own, "hw", True
    for other in others:
        if other.name == ifp.name:
            continue
        ifid = get_hw_ifid(other)
        if ifid is not None:
            return ifid, f"borrowed:{other.name}", False
    return hostname_ifid(hostname), "md5", False


@dataclass(slots=True)
class IfattachResult:
    """What attaching an interface configured."""

    ifname: str
    ifid: bytes | None
    ifid_source: str
    addresses: list[In6Ifaddr] = field(default_factory=list)
    groups: list[IPv6Address] = field(default_factory=list)

    @property
    def needs_dad(self) -> list[In6Ifaddr]:
        return [a for a in self.addresses if a.flags & In6Flags.TENTATIVE]


def in6_ifattach(
    ifp: Ifnet,
    others: Iterable[Ifnet],
    *,
    hostname: str = "localhost",
    router: bool = False,
    auto_linklocal: bool = True,
    now: float = 0.0,
) -> IfattachResult:
    """Addresses and groups for ``ifp`` coming up (§1.4.1, §1.15).

    Nothing is installed here: the caller adds the addresses to its
    :class:`~kame.in6_var.AddrList`, joins the groups, and starts DAD for
    :attr:`IfattachResult.needs_dad`.
    """
    if ifp.is_loopback:
        lo = In6Ifaddr(LOOPBACK, 128, ifp.name, In6Flags.NODAD, created=now)
        ll = In6Ifaddr(IPv6Address("fe80::1"), 64, ifp.name, In6Flags.NODAD, created=now)
        return IfattachResult(ifp.name, None, "loopback", [lo, ll],
                              [NODELOCAL_ALL_NODES, LINKLOCAL_ALL_NODES, solicited_node(ll.addr)])
    ifid, source, hw = get_ifid(ifp, others, hostname)
    res = IfattachResult(ifp.name, ifid, source)
    res.groups += [LINKLOCAL_ALL_NODES, NODELOCAL_ALL_NODES]
    if auto_linklocal and ifp.flags.auto_linklocal:
        ll = In6Ifaddr(make_addr(LINKLOCAL_PREFIX, ifid, 64), 64, ifp.name,
                       In6Flags.TENTATIVE, created=now, hw_derived=hw)
        res.addresses.append(ll)
        res.groups.append(solicited_node(ll.addr))
    if router:
        res.groups.append(LINKLOCAL_ALL_ROUTERS)
    return res


def subnet_router_anycast_ifa(ifa: In6Ifaddr) -> In6Ifaddr | None:
    """The subnet-router anycast address (prefix::/n, RFC 4291 §2.6.1) a
    router configures beside a unicast address (§1.15.2); ``None`` for
    link-local, /127 and /128 addresses."""
    if is_linklocal(ifa.addr) or ifa.prefixlen >= 127:
        return None
    net = IPv6Network((int(ifa.addr), ifa.prefixlen), strict=False)
    return In6Ifaddr(net.network_address, ifa.prefixlen, ifa.ifname,
                     In6Flags.ANYCAST | In6Flags.NODAD, created=ifa.created)


def mld_reportable(group: IPv6Address) -> bool:
    """RFC 3810 §6 / RFC 2710 §5: no reports for interface-local (or
    reserved-scope) groups nor for the link-scope all-nodes group."""
    return mc_scope(group) > 1 and group != LINKLOCAL_ALL_NODES
