"""The routing table (``route.c``, ``nd6_rtr.c``'s lookups): static and
connected routes, Redirect host routes, ND-learnt routes; ``rtalloc``."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network
from typing import NamedTuple

from kame.addr import is_linklocal
from kame.errors import ScopeError
from kame.ip6.var import NodeVars
from kame.scope6 import is_embedded_form


@dataclass(slots=True)
class Rtentry:
    """A static route (``route add -inet6``): ``gateway`` ``None`` is an
    interface route (the prefix is on-link on ``ifname``)."""

    prefix: IPv6Network
    gateway: IPv6Address | None
    ifname: str


class Route(NamedTuple):
    """What ``rtalloc`` found: the outgoing interface, the next hop, whether
    the route goes through a gateway, and whether it came from a Redirect
    (``RTF_DYNAMIC``)."""

    ifname: str
    next_hop: IPv6Address
    gateway: bool
    dynamic: bool

def _prefix(prefix: object) -> IPv6Network:
    """A route's prefix from a user: ``str`` or ``IPv6Network``, never in the
    embedded form (``ScopeError`` ``EINVAL``, seed §1.3.3)."""
    if not isinstance(prefix, (str, IPv6Network)):
        raise TypeError(f"a prefix is a str or IPv6Network, not {type(prefix).__name__}")
    net = IPv6Network(prefix)
    if net.network_address.scope_id is not None:
        raise ScopeError(f"prefix {prefix}: give the zone as the interface, not %zone", "EINVAL")
    if is_embedded_form(net.network_address):
        raise ScopeError(f"prefix {prefix}: the embedded zone form is kernel-internal "
                         "(seed §1.3.3)", "EINVAL")
    return net


class Route6(NodeVars):
    """Route lookups over the node state."""

    def route_add(self, prefix: str | IPv6Network, gateway: IPv6Address | str | None,
                  ifname: str) -> Rtentry:
        """``route add -inet6 PREFIX GATEWAY -ifp IFNAME`` (``gateway`` None:
        an interface route). A link-local gateway belongs to ``ifname``'s link."""
        self._ifnet(ifname)
        net = _prefix(prefix)
        gw = self._user_addr(gateway, ifname, what="gateway")[0] if gateway is not None else None
        rt = Rtentry(net, gw, ifname)
        self.static_routes[net] = rt
        return rt

    def route_delete(self, prefix: str | IPv6Network) -> bool:
        return self.static_routes.pop(_prefix(prefix), None) is not None

    def _connected(self, now: float) -> list[tuple[IPv6Network, str]]:
        """Prefixes of our addresses and on-link prefixes from RAs (the
        "direct" routes ``netstat -rn`` shows with the U and C flags)."""
        out: list[tuple[IPv6Network, str]] = []
        for ifa in self.addrs.all():
            ifp = self.ifnets.get(ifa.ifname)
            if (ifp is None or not ifp.up or ifa.prefixlen >= 128 or is_linklocal(ifa.addr)
                    or ifa.flags._value_ & 0x0C):  # DUPLICATED | DETACHED
                continue
            out.append((IPv6Network((int(ifa.addr), ifa.prefixlen), strict=False), ifa.ifname))
        for (ifn, net), pr in self.rtr.prefixes.items():
            if pr.onlink and pr.expire > now:
                out.append((net, ifn))
        return out

    def _connected_match(self, dst: int, now: float, ifname: str | None = None
                         ) -> tuple[int, str] | None:
        """The longest connected route holding ``dst`` (an int), as
        (prefix length, interface), optionally only on ``ifname``: what
        :meth:`_connected` lists, found through the address and prefix
        indexes (:mod:`kame.radix`) instead of a walk over every entry. An
        address's subnet wins a tie with an RA prefix."""
        ifnets = self.ifnets
        best: tuple[int, str] | None = None
        for plen, ifas in self.addrs.by_net(dst):
            for ifa in ifas:
                ifp = ifnets.get(ifa.ifname)
                if ((ifname is None or ifa.ifname == ifname) and ifp is not None and ifp.up
                        and not ifa.flags._value_ & 0x0C):  # DUPLICATED | DETACHED
                    best = (plen, ifa.ifname)
                    break
            if best is not None:
                break
        for plen, prs in self.rtr._onlink.match(dst):
            if best is not None and plen <= best[0]:
                break
            for pr in prs:
                if (ifname is None or pr.ifname == ifname) and pr.onlink and pr.expire > now:
                    return plen, pr.ifname
        return best

    def rtalloc(self, dst: IPv6Address, now: float, oif: str | None = None) -> Route | None:
        """The route to a global or site destination: a Redirect's host
        route, then the longest match among static and connected routes,
        then what ND learnt (RFC 4191 routes, the default router).
        ``oif``: the routes through that interface only (Linux's
        ``RT6_LOOKUP_F_IFACE``, ``IPV6_UNICAST_IF``)."""
        dst = self._in6(dst, "destination")
        if type(now) is not float:
            now = self._time(now)
        if oif is not None:
            return self._rtalloc_oif(dst, now, oif)
        # (an empty table asked without hashing an IPv6Address, a Python call)
        rd = self.rtr.redirects.get(dst) if self.rtr.redirects else None
        if rd is not None and rd.expire > now:
            return Route(rd.ifname, rd.target, rd.target != dst, True)
        best: tuple[int, Route] | None = None
        for net, rt in self.static_routes.items():  # configured, not learnt: few
            ifp = self.ifnets.get(rt.ifname)
            if ifp is not None and ifp.up and dst in net and (best is None
                                                              or net.prefixlen > best[0]):
                hop = rt.gateway if rt.gateway is not None else dst
                best = (net.prefixlen, Route(rt.ifname, hop, rt.gateway is not None, False))
        conn = self._connected_match(int(dst), now)
        if conn is not None and (best is None or conn[0] > best[0]):
            best = (conn[0], Route(conn[1], dst, False, False))
        if best is not None:
            return best[1]
        nh = self.rtr.next_hop(dst, now)
        if nh is None or not self.ifnets[nh[0]].up:
            return None
        return Route(nh[0], nh[1], nh[1] != dst, False)

    def _rtalloc_oif(self, dst: IPv6Address, now: float, oif: str) -> Route | None:
        ifp = self.ifnets.get(oif)
        if ifp is None or not ifp.up:
            return None
        rd = self.rtr.redirects.get(dst)
        if rd is not None and rd.expire > now and rd.ifname == oif:
            return Route(rd.ifname, rd.target, rd.target != dst, True)
        best: tuple[int, Route] | None = None
        for net, rt in self.static_routes.items():
            if rt.ifname == oif and dst in net and (best is None or net.prefixlen > best[0]):
                hop = rt.gateway if rt.gateway is not None else dst
                best = (net.prefixlen, Route(oif, hop, rt.gateway is not None, False))
        for net, ifn in self._connected(now):
            if ifn == oif and dst in net and (best is None or net.prefixlen > best[0]):
                best = (net.prefixlen, Route(oif, dst, False, False))
        if best is not None:
            return best[1]
        nh = self.rtr.next_hop(dst, now)
        if nh is None or nh[0] != oif:
            return None
        return Route(nh[0], nh[1], nh[1] != dst, False)

    def _first_hop(self, dst: IPv6Address, now: float) -> tuple[str, IPv6Address] | None:
        rt = self.rtalloc(dst, now)
        return (rt.ifname, rt.next_hop) if rt is not None else None

    def routes(self, now: float | None = None) -> list[tuple[str, str, str]]:
        """``netstat -rn -f inet6``-like rows: (destination, gateway, interface)."""
        t = self._now if now is None else self._time(now)
        rows = [(str(net), "link#" + str(self.ifnets[ifn].index), ifn)
                for net, ifn in self._connected(t)]
        rows += [(str(r.prefix), str(r.gateway) if r.gateway else "link#"
                  + str(self.ifnets[r.ifname].index), r.ifname)
                 for r in self.static_routes.values()]
        dr = self.rtr.installed
        if dr is not None:
            rows.append(("default", f"{dr.addr}%{dr.ifname}", dr.ifname))
        return rows

    def _is_neighbor(self, addr: IPv6Address, ifname: str, now: float) -> bool:
        """``nd6_is_addr_neighbor``: link-local on that link, inside an
        on-link prefix of the interface, or already in the neighbor cache."""
        if is_linklocal(addr):
            return True
        if self._connected_match(int(addr), now, ifname) is not None:
            return True
        return self.cache.lookup(ifname, addr) is not None
