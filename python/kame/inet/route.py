"""IPv4 addresses and routes (``in.c``, ``route.c``, ``in_pcb.c``'s
``in_pcbladdr``): which addresses are ours, the broadcast addresses of an
interface, the seed §1.14 ranges for IPv4 (martians), connected and static
routes, ``rtalloc`` and the source address for a destination."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from kame.inet.var import INADDR_BROADCAST, InIfaddr, InRtentry, InVars, Route4


def in_martian_src(a: IPv4Address) -> bool:
    """A source no host has (RFC 1122 §3.2.1.3, RFC 1812 §5.3.7; the IPv4
    side of seed §1.14): this network (0/8), loopback (127/8) on the wire,
    multicast (224/4), limited broadcast."""
    x = int(a)
    return (x >> 24) in (0, 127) or (x >> 28) == 0xE or x == 0xFFFFFFFF


def in_martian_dst(a: IPv4Address) -> bool:
    """A destination that never comes from the wire: 0/8 and 127/8."""
    return (int(a) >> 24) in (0, 127)


def in_multicast(a: IPv4Address) -> bool:
    return (int(a) >> 28) == 0xE


class InRoute(InVars):
    """Addresses and route lookups over the IPv4 state."""

    # --- addresses -----------------------------------------------------------

    def find(self, a: IPv4Address, ifname: str | None = None) -> InIfaddr | None:
        """Our address ``a`` (on ``ifname`` if given), usable or not."""
        for ifa in self.addrs:
            if ifa.addr == a and (ifname is None or ifa.ifname == ifname):
                return ifa
        return None

    def is_local(self, a: IPv4Address) -> bool:
        """One of our usable addresses (any interface: BSD's weak host model)."""
        ifa = self.find(a)
        return ifa is not None and ifa.usable

    def on(self, ifname: str) -> list[InIfaddr]:
        return [ifa for ifa in self.addrs if ifa.ifname == ifname]

    def in_broadcast(self, a: IPv4Address, ifname: str) -> bool:
        """``in_broadcast``: limited broadcast, or the subnet-directed
        broadcast (or the all-zeros host part, BSD 4.2's) of an address on
        ``ifname``."""
        if a == INADDR_BROADCAST:
            return True
        for ifa in self.addrs:
            if ifa.ifname == ifname and ifa.prefixlen < 31:
                net = ifa.network
                if a == net.broadcast_address or a == net.network_address:
                    return True
        return False

    # --- routes --------------------------------------------------------------

    def route_add(self, prefix: str | IPv4Network, gateway: str | IPv4Address | None,
                  ifname: str | None = None) -> InRtentry:
        """``route add -inet PREFIX GATEWAY [-ifp IF]``: without ``ifname``
        the interface whose connected prefix holds the gateway; ``gateway``
        ``None`` is an interface route. ``"default"`` is 0.0.0.0/0."""
        net = IPv4Network("0.0.0.0/0" if prefix == "default" else prefix)
        gw = IPv4Address(gateway) if gateway is not None else None
        if ifname is None:
            if gw is None:
                raise ValueError("an interface route needs an interface")
            for cnet, ifn in self._connected():
                if gw in cnet:
                    ifname = ifn
                    break
            else:
                raise ValueError(f"gateway {gw} is not on a connected network (ENETUNREACH)")
        if ifname not in self.node.ifnets:
            raise ValueError(f"no interface {ifname!r}")
        rt = InRtentry(net, gw, ifname)
        self.routes[net] = rt
        return rt

    def route_delete(self, prefix: str | IPv4Network) -> bool:
        net = IPv4Network("0.0.0.0/0" if prefix == "default" else prefix)
        return self.routes.pop(net, None) is not None

    def _connected(self) -> list[tuple[IPv4Network, str]]:
        out: list[tuple[IPv4Network, str]] = []
        for ifa in self.addrs:
            ifp = self.node.ifnets.get(ifa.ifname)
            if ifp is None or not ifp.up or ifa.duplicated:
                continue
            out.append((ifa.network, ifa.ifname))
        return out

    def rtalloc(self, dst: IPv4Address, oif: str | None = None) -> Route4 | None:
        """The longest match among static and connected routes on an up
        interface; ``None`` is ENETUNREACH. ``oif``: routes through that
        interface only, and none there the destination taken as on its
        link (Linux's ``ip_route_output_key_hash_rcu`` with a
        ``flowi4_oif``: "routing tables are wrong, assume on link")."""
        if oif is not None:
            ifp = self.node.ifnets.get(oif)
            if ifp is None or not ifp.up:
                return None
        d = int(dst)
        ifnets = self.node.ifnets
        best: InRtentry | InIfaddr | None = None
        plen = -1
        now = self.node._now
        for rt in self.routes.values():
            if d & rt.mask != rt.net or rt.plen <= plen or oif is not None and rt.ifname != oif:
                continue
            if rt.expire is not None and rt.expire <= now:
                continue  # a Redirect's host route that timed out
            ifp = ifnets.get(rt.ifname)
            if ifp is not None and ifp.up:
                best, plen = rt, rt.plen
        for ifa in self.addrs:  # the connected routes (_connected)
            if ifa.prefixlen <= plen or ifa.duplicated or not ifa.holds(d) or \
                    oif is not None and ifa.ifname != oif:
                continue
            ifp = ifnets.get(ifa.ifname)
            if ifp is not None and ifp.up:
                best, plen = ifa, ifa.prefixlen
        if best is None:
            return Route4(oif, dst, False) if oif is not None else None
        if isinstance(best, InIfaddr):
            return Route4(best.ifname, dst, False)
        gw = best.gateway
        return Route4(best.ifname, gw if gw is not None else dst, gw is not None)

    def rtredirect(self, dst: IPv4Address, gateway: IPv4Address, src: IPv4Address,
                   now: float) -> bool:
        """``rtredirect`` for an ICMP Redirect from ``src``: use ``gateway``
        for ``dst`` (a host route, RFC 1122 §3.2.2.2, for 
        ``net.inet.icmp.redirtimeout`` seconds). Refused (``rts_badredirect``)
        unless ``src`` is the current first hop for ``dst`` and ``gateway``
        is a host on a connected network and not ours; at most
        ``net.inet.icmp.maxdynroutes`` such routes (the oldest goes)."""
        kv = self.node.knobs._values
        gw_if = None
        for net, ifn in self._connected():
            if gateway in net:
                gw_if = ifn
                break
        rt = self.rtalloc(dst)
        if gw_if is None or self.find(gateway) is not None or (int(gateway) >> 28) == 0xE \
                or self.in_broadcast(gateway, gw_if) or rt is None or not rt.gateway \
                or rt.next_hop != src or gateway == src:
            self.inc("rts_badredirect")
            return False
        host = IPv4Network((int(dst), 32))
        dyn = [k for k, r in self.routes.items() if r.expire is not None]
        if host not in self.routes and len(dyn) >= int(kv["net.inet.icmp.maxdynroutes"]):
            oldest = min(dyn, key=lambda k: self.routes[k].expire or 0.0)
            del self.routes[oldest]
        self.routes[host] = InRtentry(host, gateway, gw_if,
                                      expire=now + float(kv["net.inet.icmp.redirtimeout"]))
        self.node.gate.arm(self.routes[host].expire)
        self.inc("rts_dynamic")
        return True

    def rt_expire(self, now: float) -> None:
        """Redirects' host routes that timed out go."""
        for k in [k for k, r in self.routes.items() if r.expire is not None and r.expire <= now]:
            del self.routes[k]

    def rt_next_expire(self) -> float | None:
        return min((r.expire for r in self.routes.values() if r.expire is not None),
                   default=None)

    def routes_table(self) -> list[tuple[str, str, str]]:
        """``netstat -rn -f inet``-like rows: (destination, gateway, interface)."""
        rows = [(str(net), "link#" + str(self.node.ifnets[ifn].index), ifn)
                for net, ifn in self._connected()]
        rows += [("default" if r.prefix.prefixlen == 0 else str(r.prefix),
                  str(r.gateway) if r.gateway else "link#" + str(self.node.ifnets[r.ifname].index),
                  r.ifname) for r in self.routes.values()]
        return rows

    def in_selectsrc(self, dst: IPv4Address, ifname: str | None = None,
                     oif: bool = False) -> IPv4Address | None:
        """``in_pcbladdr``: the address of the outgoing interface, one whose
        subnet holds the destination (or the next hop) first; ``None`` is
        EADDRNOTAVAIL. Our own destination is its own source. ``oif``:
        ``ifname`` bounds the route (:meth:`rtalloc`) rather than naming
        the link the destination is on, as Linux's output interface does
        (``IP_UNICAST_IF``, ``IP_PKTINFO``'s): an interface with no address
        then borrows one (:meth:`inet_select_addr`)."""
        if self.is_local(dst):
            return dst
        hop = dst
        if ifname is None or oif:
            rt = self.rtalloc(dst, ifname)
            if rt is None:
                return None
            ifname, hop = rt.ifname, rt.next_hop
        cands = [ifa for ifa in self.addrs if ifa.ifname == ifname and ifa.usable]
        h, d = int(hop), int(dst)
        for ifa in cands:
            if ifa.holds(h) or ifa.holds(d):
                return ifa.addr
        if cands:
            return cands[0].addr  # type: ignore[no-any-return]
        return self.inet_select_addr() if oif else None

    def inet_select_addr(self) -> IPv4Address | None:
        """Linux's ``inet_select_addr`` for an interface with no address:
        the first usable address of the other interfaces, in their order
        (the loopback first, whose 127/8 addresses are of host scope and
        not taken), whether they are up or not."""
        for ifp in sorted(self.node.ifnets.values(), key=lambda i: int(i.index)):
            for ifa in self.addrs:
                if ifa.ifname == ifp.name and ifa.usable and not ifa.addr.is_loopback:
                    return ifa.addr  # type: ignore[no-any-return]
        return None
