"""Routers, prefixes and stateless autoconfiguration (KAME ``nd6_rtr.c``,
plus the rtsold and rtadvd behaviour that KAME kept in userland, §1.4).

Host side:

- :func:`ra_accepted` — the accept_rtadv × forwarding table of §1.4.2 and
  the per-interface "if_accept_rtadv" flag (consulted only when
  ``accept_rtadv`` is 1). KAME admits the "invalid, or experimental" row
  (accept_rtadv=1, forwarding=1); :func:`node_role` names each row.
- :meth:`Nd6Rtr.ra_input` — RFC 4861 §6.1.2 validation (``icp6s_badra``),
  §6.3.4 processing: default router list with RFC 4191 preferences
  (reserved ``10`` read as medium), CurHopLimit / BaseReachableTime /
  RetransTimer / MTU, Route Information (RFC 4191 §3.1, reserved preference
  ignores the option), RDNSS (RFC 8106 §5.3.1), the prefix list and on-link
  determination, and SLAAC (RFC 4862 §5.5.3) with lifetimes, the two-hour
  rule (:func:`two_hour_rule`) and deprecation (§5.5.4).
- Temporary addresses (RFC 3041/4941): valid ≤ ``tempvltime`` (1 week),
  preferred ≤ ``temppltime`` (1 day) − DESYNC_FACTOR (uniform 0..600 s, drawn
  once per node), regenerated REGEN_ADVANCE (5 s) before deprecation and
  after a DAD failure (up to TEMP_IDGEN_RETRIES 3).
- Router Solicitation (RFC 4861 §6.3.7): at link-up after a random delay of
  up to MAX_RTR_SOLICITATION_DELAY (1 s), MAX_RTR_SOLICITATIONS (3) RSs
  RTR_SOLICITATION_INTERVAL (4 s) apart, stopped by an accepted RA; again on
  demand (``rtsol``).
- Redirect input (RFC 4861 §8.1, §8.3) with ``icp6s_badredirect``.

What the link can grow is bounded, each bound a knob and each refusal a
counter: SLAAC and temporary addresses per interface (``max_addresses``,
Linux, 16: ``icp6s_nd_addrfull``), prefixes and default routers per
interface (``maxifprefixes``, ``maxifdefrouters``, BSD, 16:
``icp6s_nd_prefixfull``, ``icp6s_nd_rtrfull``), RFC 4191 routes
(``rtadv_maxroutes``, NetBSD, 100: ``icp6s_nd_rtinfofull``), DNS servers
per interface (``maxifrdnss``, 8: ``icp6s_nd_rdnssfull``), Redirect host
routes (``maxdynroutes``, BSD, 4096: ``icp6s_redirfull``; a refused
Redirect leaves the traffic on the router, which still forwards it). The
per-message cost does not grow with the tables: routers are found by
address, addresses by the prefix they came from, on-link prefixes and
routes by prefix (:mod:`kame.radix`), and the timers keep a lower bound
(``_due``) so that ``poll`` walks the tables only when something is due.

Router side (rtadvd, RFC 4861 §6.2): periodic RAs uniformly between
MinRtrAdvInterval and MaxRtrAdvInterval, the first MAX_INITIAL_RTR_ADVERTISEMENTS
(3) no more than MAX_INITIAL_RTR_ADVERT_INTERVAL (16 s) apart, solicited RAs
delayed uniform(0, MAX_RA_DELAY_TIME 0.5 s) and never closer than
MIN_DELAY_BETWEEN_RAS (3 s), and MAX_FINAL_RTR_ADVERTISEMENTS (3) RAs with
lifetime 0 on shutdown.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from ipaddress import IPv6Address, IPv6Network

from kame.addr import (
    LINKLOCAL_ALL_NODES,
    UNSPECIFIED,
    generate_tmp_ifid,
    is_linklocal,
    is_multicast,
    make_addr,
)
from kame.errors import ConfigError
from kame.in6_var import (
    ND6_INFINITE_LIFETIME,
    AddrList,
    Ifnet,
    In6Flags,
    In6Ifaddr,
    lifetime_deadline,
)
from kame.knobs import IfFlags, Knobs
from kame.nd6.cache import NdLog, NdState, NeighborCache
from kame.nd6.nbr import ND_HOPLIMIT, Nd6Nbr, count_options
from kame.nd6.types import (
    AddressDeprecated,
    AddressExpired,
    Event,
    PrefixInfo,
    RaInput,
    RdnssInfo,
    RedirectInput,
    RouteInfo,
    RsInput,
    SendRA,
    SendRS,
)
from kame.radix import PrefixIndex
from kame.stats import Stats

__all__ = [
    "MAX_DESYNC_FACTOR",
    "REGEN_ADVANCE",
    "TWO_HOURS",
    "DefRouter",
    "Nd6Rtr",
    "NdPrefix",
    "RaConfig",
    "RdnssEntry",
    "RouteEntry",
    "node_role",
    "pref_value",
    "ra_accepted",
    "two_hour_rule",
]

# RFC 4861 §10 host and router constants.
MAX_RTR_SOLICITATION_DELAY = 1.0
RTR_SOLICITATION_INTERVAL = 4.0
MAX_RTR_SOLICITATIONS = 3
MAX_INITIAL_RTR_ADVERT_INTERVAL = 16.0
MAX_INITIAL_RTR_ADVERTISEMENTS = 3
MAX_FINAL_RTR_ADVERTISEMENTS = 3
MIN_DELAY_BETWEEN_RAS = 3.0
MAX_RA_DELAY_TIME = 0.5
MAX_REACHABLE_TIME_MS = 3_600_000
# RFC 4862 §5.5.3 e, RFC 4941 §5.
TWO_HOURS = 7200.0
MAX_DESYNC_FACTOR = 600.0
REGEN_ADVANCE = 5.0
TEMP_IDGEN_RETRIES = 3


def node_role(accept_rtadv: int, forwarding: int) -> str:
    """The role column of the §1.4.2 table."""
    return {
        (0, 0): "host (to be manually configured)",
        (0, 1): "router",
        (1, 0): "autoconfigured host",
        (1, 1): "invalid, or experimental",
    }[(1 if accept_rtadv else 0, 1 if forwarding else 0)]


def ra_accepted(knobs: Knobs, ifflags: IfFlags) -> bool:
    """Whether RAs are processed on an interface (§1.4.2).

    accept_rtadv=0: never (the per-interface flag has no effect). accept_rtadv=1:
    when the interface's if_accept_rtadv flag is set, whatever ``forwarding``
    says (KAME allows the experimental 1/1 configuration). A disabled
    interface processes nothing.
    """
    if ifflags.disabled:
        return False
    return knobs.accept_rtadv and ifflags.accept_rtadv


_PREF_RANK = {0b01: 1, 0b00: 0, 0b11: -1}


def pref_value(bits: int) -> int:
    """RFC 4191 2-bit preference -> rank: high 1, medium 0, low -1; the
    reserved value 10 counts as medium (§2.2)."""
    return _PREF_RANK.get(bits & 0b11, 0)


def two_hour_rule(advertised: float, remaining: float, *, authenticated: bool = False) -> float:
    """RFC 4862 §5.5.3 e: the new remaining valid lifetime of an address.

    1. advertised > 2 hours or > remaining: take the advertised value;
    2. else if remaining ≤ 2 hours: ignore the advertisement (keep
       ``remaining``) unless the RA was authenticated (SEND);
    3. else: 2 hours.
    """
    if advertised > TWO_HOURS or advertised > remaining:
        return advertised
    if remaining <= TWO_HOURS:
        return advertised if authenticated else remaining
    return TWO_HOURS


def _lt(seconds: int) -> float:
    return math.inf if seconds == ND6_INFINITE_LIFETIME else float(seconds)


@dataclass(slots=True)
class DefRouter:
    """Default router list entry (``struct nd_defrouter``)."""

    ifname: str
    addr: IPv6Address
    preference: int  # raw 2-bit value
    expire: float
    managed: bool = False
    other: bool = False


@dataclass(slots=True)
class NdPrefix:
    """Prefix list entry (``struct nd_prefix``): on-link state and lifetime."""

    ifname: str
    prefix: IPv6Network
    onlink: bool
    expire: float
    autonomous: bool = False
    #: routers of the default router list that advertised it (KAME's
    #: ``ndpr_advrtrs`` of ``struct nd_pfxrouter``): bounded by that list;
    #: RFC 6724 source selection rule 5.5 reads it (``kame.in6_src``)
    advrtrs: list[IPv6Address] = field(default_factory=list)


@dataclass(slots=True)
class RouteEntry:
    """A route learnt from an RFC 4191 Route Information option."""

    ifname: str
    prefix: IPv6Network
    router: IPv6Address
    preference: int
    expire: float


@dataclass(slots=True)
class RdnssEntry:
    ifname: str
    server: IPv6Address
    router: IPv6Address
    expire: float


@dataclass(slots=True)
class RaConfig:
    """rtadvd's per-interface configuration (RFC 4861 §6.2.1 AdvXxx)."""

    max_interval: float = 600.0
    min_interval: float | None = None
    router_lifetime: int | None = None
    cur_hop_limit: int = 64
    managed: bool = False
    other: bool = False
    preference: int = 0
    reachable_time: int = 0
    retrans_timer: int = 0
    mtu: int | None = None
    prefixes: tuple[PrefixInfo, ...] = ()
    routes: tuple[RouteInfo, ...] = ()
    rdnss: tuple[RdnssInfo, ...] = ()
    #: a Mobile IPv6 home agent on this link (RFC 6275 §7.1, §7.4): the H
    #: flag and a Home Agent Information option (preference -32768..32767,
    #: lifetime 1..65535 s); the RAs of a home agent go out at least every
    #: 1.5 s in the RFC's advice (MinRtrAdvInterval 0.03 s), not enforced
    home_agent: tuple[int, int] | None = None

    def resolved(self) -> RaConfig:
        """Defaults filled in and ranges checked (§6.2.1)."""
        mx = self.max_interval
        if not 4.0 <= mx <= 1800.0:
            raise ConfigError(f"MaxRtrAdvInterval {mx} not in [4, 1800]")
        mn = self.min_interval if self.min_interval is not None else (
            0.33 * mx if mx >= 9 else mx)
        if not 3.0 <= mn <= 0.75 * mx and not (mx < 9 and mn == mx):
            raise ConfigError(f"MinRtrAdvInterval {mn} not in [3, 0.75*{mx}]")
        lt = self.router_lifetime if self.router_lifetime is not None else int(min(3 * mx, 9000))
        if lt != 0 and not mx <= lt <= 9000:
            raise ConfigError(f"AdvDefaultLifetime {lt} not 0 or in [{mx}, 9000]")
        if self.preference & 0b11 == 0b10:
            raise ConfigError("router preference 10 is reserved (RFC 4191)")
        if self.home_agent is not None and not (
                -32768 <= self.home_agent[0] <= 32767 and 1 <= self.home_agent[1] <= 65535):
            raise ConfigError(f"home agent preference/lifetime {self.home_agent} out of range")
        return RaConfig(mx, mn, lt, self.cur_hop_limit, self.managed, self.other,
                        self.preference if lt else 0, self.reachable_time,
                        self.retrans_timer, self.mtu, self.prefixes, self.routes, self.rdnss,
                        self.home_agent)


@dataclass(slots=True)
class _RsState:
    ifname: str
    remaining: int
    next_time: float


@dataclass(slots=True)
class _RaState:
    ifname: str
    config: RaConfig
    next_time: float
    initial_left: int = MAX_INITIAL_RTR_ADVERTISEMENTS
    last_sent: float = -math.inf
    final_left: int = 0


@dataclass(slots=True)
class _Redirect:
    ifname: str
    target: IPv6Address
    expire: float


Output = list[object]


@dataclass(slots=True)
class _TempInfo:
    history: dict[str, bytes] = field(default_factory=dict)
    regen_done: set[tuple[str, IPv6Address]] = field(default_factory=set)
    retries: dict[tuple[str, IPv6Network], int] = field(default_factory=dict)


class Nd6Rtr:
    """Router list, prefix list, SLAAC, RS/RA scheduling for one node.

    ``ifids`` maps an interface name to its stable 64-bit interface ID (from
    :mod:`kame.nd6.ifattach`); SLAAC addresses are ``prefix ‖ ifid``.
    """

    def __init__(
        self,
        knobs: Knobs,
        cache: NeighborCache,
        nbr: Nd6Nbr,
        addrs: AddrList,
        ifnets: dict[str, Ifnet],
        ifids: dict[str, bytes],
        *,
        rng: random.Random | None = None,
        stats: Stats | None = None,
        log: NdLog | None = None,
    ) -> None:
        self.knobs = knobs
        self.cache = cache
        self.nbr = nbr
        self.addrs = addrs
        self.ifnets = ifnets
        self.ifids = ifids
        self.rng = rng if rng is not None else random.Random()
        self.stats = stats if stats is not None else cache.stats
        self.log = log if log is not None else cache.log
        # The tables below are read freely; they change only through the
        # methods of this class, which keep their indexes and counts.
        self.routers: list[DefRouter] = []
        self.installed: DefRouter | None = None
        self.prefixes: dict[tuple[str, IPv6Network], NdPrefix] = {}
        self.routes: dict[tuple[str, IPv6Network, IPv6Address], RouteEntry] = {}
        self.rdnss: dict[tuple[str, IPv6Address], RdnssEntry] = {}
        self.redirects: dict[IPv6Address, _Redirect] = {}
        self._router_by: dict[tuple[str, int], DefRouter] = {}
        self._onlink: PrefixIndex[NdPrefix] = PrefixIndex()  # every prefix-list entry
        self._route_idx: PrefixIndex[RouteEntry] = PrefixIndex()
        self._per_if: dict[tuple[str, str], int] = {}  # (table, ifname) -> entries
        #: No timer of this object fires before ``_due`` (a lower bound: every
        #: deadline set lowers it; ``poll`` makes it exact again), so ``poll``
        #: and ``next_deadline`` cost nothing while nothing is due.
        self._due = math.inf
        self.desync_factor = self.rng.uniform(0.0, MAX_DESYNC_FACTOR)
        self._temp = _TempInfo()
        self._rs: dict[str, _RsState] = {}
        self._ra: dict[str, _RaState] = {}
        self._ra_sources: dict[str, dict[str, tuple[PrefixInfo, ...]]] = {}
        self._reported: set[tuple[str, IPv6Address, str]] = set()
        #: The node's full route lookup (static routes too), when it has one;
        #: Redirect input checks the first hop with it (RFC 4861 §8.1).
        self.route_lookup: Callable[[IPv6Address, float], tuple[str, IPv6Address] | None] \
            | None = None
        cache.on_router_lost = self._router_lost
        #: Called with ``(ifname, managed, other, now)`` for each accepted RA:
        #: the M and O flags (RFC 4861 §4.2) reach the DHCPv6 client
        #: (:class:`kame.dhcp6.agent.ClientAgent`) through here.
        self.ra_flag_hooks: list[Callable[[str, bool, bool, float], None]] = []
        #: Called with ``(ifname, ra, now)`` for each accepted RA after it
        #: was processed: the Mobile IPv6 mobile node's movement detection
        #: (:mod:`kame.mip6.mobilenode`, RFC 6275 §11.5.1).
        self.ra_hooks: list[Callable[[str, RaInput, float], None]] = []
        #: every valid RA from another node, accepted or not (a router's too):
        #: a home agent's home agents list (RFC 6275 §10.5.1)
        self.ra_seen_hooks: list[Callable[[str, RaInput, float], None]] = []

    # --- helpers ------------------------------------------------------------

    def _bad(self, counter: str, now: float, why: str) -> Output:
        self.stats.inc(counter)
        self.log(now, counter, why)
        return []

    def _ifflags(self, ifname: str) -> IfFlags:
        ifp = self.ifnets.get(ifname)
        return ifp.flags if ifp is not None else IfFlags()

    # --- default router list -----------------------------------------------

    def _router_lost(self, ifname: str, addr: IPv6Address) -> None:
        """The neighbor cache saw IsRouter go false (§7.2.5): drop it."""
        if not self.knobs.forwarding:
            self._defrtr_del(ifname, addr)

    def _defrtr_lookup(self, ifname: str, addr: IPv6Address) -> DefRouter | None:
        return self._router_by.get((ifname, int(addr)))

    def _defrtr_del(self, ifname: str, addr: IPv6Address) -> None:
        dr = self._defrtr_lookup(ifname, addr)
        if dr is None:
            return
        self._router_remove(dr)
        for key in [k for k, r in self.routes.items() if r.router == addr and r.ifname == ifname]:
            self._route_del(key)
        self.select_default_router()

    # --- table upkeep: indexes, per-interface counts, the timer bound ----------

    def _arm(self, t: float) -> None:
        self._due = min(self._due, t)
        self.cache.gate.arm(t)

    def _count(self, table: str, ifname: str, d: int) -> None:
        k = (table, ifname)
        n = self._per_if.get(k, 0) + d
        if n:
            self._per_if[k] = n
        else:
            self._per_if.pop(k, None)

    def _full(self, table: str, ifname: str, knob: str) -> bool:
        cap = self.knobs._values[knob]
        return cap >= 0 and self._per_if.get((table, ifname), 0) >= cap

    def _router_remove(self, dr: DefRouter) -> None:
        self.routers.remove(dr)
        for pr in self.prefixes.values():  # pfxrtr_del (defrtr_del)
            if pr.ifname == dr.ifname and dr.addr in pr.advrtrs:
                pr.advrtrs.remove(dr.addr)
        del self._router_by[(dr.ifname, int(dr.addr))]
        self._count("routers", dr.ifname, -1)
        if self.installed is dr:
            self.installed = None

    def _prefix_del(self, key: tuple[str, IPv6Network]) -> None:
        pr = self.prefixes.pop(key)
        self._onlink.remove(int(pr.prefix.network_address), pr.prefix.prefixlen, pr)
        self._count("prefixes", pr.ifname, -1)

    def _route_del(self, key: tuple[str, IPv6Network, IPv6Address]) -> None:
        r = self.routes.pop(key)
        self._route_idx.remove(int(r.prefix.network_address), r.prefix.prefixlen, r)
        self._count("routes", "", -1)

    def _rdnss_del(self, key: tuple[str, IPv6Address]) -> RdnssEntry:
        d = self.rdnss.pop(key)
        self._count("rdnss", d.ifname, -1)
        return d

    def ifdetach(self, ifname: str) -> list[DefRouter]:
        """``ifconfig down``: forget the routers, prefixes, routes, DNS
        servers, redirects and RS/RA state learnt on ``ifname``; returns
        the routers removed."""
        gone = [dr for dr in self.routers if dr.ifname == ifname]
        for dr in gone:
            self._router_remove(dr)
        self.select_default_router()
        for key in [k for k in self.prefixes if k[0] == ifname]:
            self._prefix_del(key)
        for rkey in [k for k, r in self.routes.items() if r.ifname == ifname]:
            self._route_del(rkey)
        for dkey in [k for k in self.rdnss if k[0] == ifname]:
            self._rdnss_del(dkey)
        for dst in [d for d, r in self.redirects.items() if r.ifname == ifname]:
            del self.redirects[dst]
        self._rs.pop(ifname, None)
        self._ra.pop(ifname, None)
        self._due = self._compute_deadline()
        self.cache.gate.arm(self._due)
        return gone

    def _reachable(self, dr: DefRouter) -> bool:
        ln = self.cache.lookup(dr.ifname, dr.addr)
        return ln is not None and ln.state >= NdState.REACHABLE

    def select_default_router(self) -> DefRouter | None:
        """``defrouter_select`` (RFC 4861 §6.3.6, RFC 4191 §3.2).

        Routers known reachable or probably reachable (any resolved state)
        beat the others; then the higher preference; among equals the one
        already installed stays, else the first learnt. With none reachable,
        the same order over all routers (round-robin degenerates to "first").
        """
        if not self.routers:
            self.installed = None
            return None
        pool = [dr for dr in self.routers if self._reachable(dr)] or self.routers
        rank = _PREF_RANK.get
        best = max(rank(dr.preference & 0b11, 0) for dr in pool)
        cands = [dr for dr in pool if rank(dr.preference & 0b11, 0) == best]
        if not any(dr is self.installed for dr in cands):
            self.installed = cands[0]
        return self.installed

    # --- RA input (nd6_ra_input) -------------------------------------------

    def ra_input(self, ifname: str, ra: RaInput, now: float) -> Output:
        """A received RA on ``ifname``."""
        if self.ra_seen_hooks and ra.code == 0 and ra.hop_limit == ND_HOPLIMIT \
                and is_linklocal(ra.src) and self.addrs.find(ifname, ra.src) is None:
            for shook in self.ra_seen_hooks:
                shook(ifname, ra, now)
        if not ra_accepted(self.knobs, self._ifflags(ifname)):
            return []
        count_options(self.stats, ra.options_ignored)
        if ra.code != 0:
            return self._bad("icp6s_badcode", now, f"RA code {ra.code}")
        if ra.hop_limit != ND_HOPLIMIT:
            return self._bad("icp6s_badra", now, f"RA hlim {ra.hop_limit} from {ra.src}")
        if not is_linklocal(ra.src):
            return self._bad("icp6s_badra", now, f"RA from non-link-local {ra.src}")
        if ra.slla is not None and not self.nbr._lladdr_ok(ifname, ra.slla):
            return self._bad("icp6s_badra", now, "RA lladdr length mismatch")
        if self.addrs.find(ifname, ra.src) is not None:
            return []  # our own RA looped back
        out: Output = []
        self._rs.pop(ifname, None)  # rtsol: an RA came, stop soliciting
        info = self.cache.info(ifname)
        # Link parameters (§6.3.4).
        if ra.cur_hop_limit:
            info.chlim = ra.cur_hop_limit
        if ra.reachable_time and ra.reachable_time <= MAX_REACHABLE_TIME_MS:
            info.set_base_reachable(ra.reachable_time / 1000.0, now, self.rng)
        if ra.retrans_timer:
            info.retrans = ra.retrans_timer / 1000.0
        if ra.mtu is not None:
            ifp = self.ifnets.get(ifname)
            maxmtu = ifp.mtu if ifp is not None else 1500
            if 1280 <= ra.mtu <= maxmtu:
                info.linkmtu = ra.mtu
            else:
                self.log(now, "ramtu", f"RA MTU {ra.mtu} out of [1280, {maxmtu}]")
        # Source link-layer address: the router's entry, IsRouter set.
        out.extend(self.cache.cache_lladdr(ifname, ra.src, ra.slla, "ra", now))
        # Default router list.
        listed = self._defrtr_update(ifname, ra, now)
        # Route Information (RFC 4191 §3.1).
        for ri in ra.routes:
            self._route_update(ifname, ra.src, ri, now)
        # RDNSS (RFC 8106 §5.3.1).
        for rd in ra.rdnss:
            for server in rd.servers:
                self._rdnss_update(ifname, ra.src, server, rd.lifetime, now)
        # Prefixes: on-link and autoconf.
        adv = ra.src if listed else None
        for pi in ra.prefixes:
            out.extend(self._prefix_update(ifname, pi, now, adv))
        if listed:  # an RA from a router not in the list changes no choice
            self.select_default_router()
        for hook in self.ra_flag_hooks:
            hook(ifname, ra.managed, ra.other, now)
        for rhook in self.ra_hooks:
            rhook(ifname, ra, now)
        return out

    def _defrtr_update(self, ifname: str, ra: RaInput, now: float) -> bool:
        """``defrtrlist_update``; True when ``ra.src`` is in the list."""
        dr = self._defrtr_lookup(ifname, ra.src)
        if ra.router_lifetime == 0:
            if dr is not None:
                self._defrtr_del(ifname, ra.src)
            return False
        pref = ra.preference & 0b11
        if pref == 0b10:
            pref = 0b00
        expire = now + ra.router_lifetime
        self._arm(expire)
        if dr is not None:
            dr.preference, dr.expire, dr.managed, dr.other = pref, expire, ra.managed, ra.other
            return True
        if self._full("routers", ifname, "net.inet6.ip6.maxifdefrouters"):
            self.stats.inc("icp6s_nd_rtrfull")
            self.log(now, "rtrfull", "default router list full (maxifdefrouters)")
            return False
        dr = DefRouter(ifname, ra.src, pref, expire, ra.managed, ra.other)
        self.routers.append(dr)
        self._router_by[(ifname, int(ra.src))] = dr
        self._count("routers", ifname, 1)
        return True

    def _route_update(self, ifname: str, router: IPv6Address, ri: RouteInfo, now: float) -> None:
        if ri.preference & 0b11 == 0b10 or not 0 <= ri.prefixlen <= 128:
            return  # RFC 4191 §2.3: reserved preference -> ignore the option
        net = IPv6Network((int(ri.prefix), ri.prefixlen), strict=False)
        key = (ifname, net, router)
        r = self.routes.get(key)
        if ri.lifetime == 0:
            if r is not None:
                self._route_del(key)
            return
        expire = lifetime_deadline(now, ri.lifetime)
        self._arm(expire)
        if r is not None:
            r.preference, r.expire = ri.preference & 0b11, expire
            return
        if self._full("routes", "", "net.inet6.ip6.rtadv_maxroutes"):
            self.stats.inc("icp6s_nd_rtinfofull")
            return
        r = self.routes[key] = RouteEntry(ifname, net, router, ri.preference & 0b11, expire)
        self._route_idx.add(int(net.network_address), net.prefixlen, r)
        self._count("routes", "", 1)

    def _rdnss_update(self, ifname: str, router: IPv6Address, server: IPv6Address,
                      lifetime: int, now: float) -> None:
        key = (ifname, server)
        if lifetime == 0:
            if key in self.rdnss:
                self._rdnss_del(key)
            return
        expire = lifetime_deadline(now, lifetime)
        self._arm(expire)
        if key not in self.rdnss:
            if self._full("rdnss", ifname, "net.inet6.ip6.maxifrdnss"):
                self.stats.inc("icp6s_nd_rdnssfull")
                return
            self._count("rdnss", ifname, 1)
        self.rdnss[key] = RdnssEntry(ifname, server, router, expire)

    # --- prefixes and SLAAC (prelist_update, RFC 4862 §5.5.3) ---------------

    def _prefix_update(self, ifname: str, pi: PrefixInfo, now: float,
                       router: IPv6Address | None = None) -> Output:
        """``prelist_update``; ``router`` is the advertising router when it
        is in the default router list (KAME's ``dr``), recorded as one of
        the prefix's advertising routers (``pfxrtr_add``)."""
        out: Output = []
        if not 0 <= pi.prefixlen <= 128:
            self.log(now, "pfxlen", f"prefix length {pi.prefixlen} invalid")
            return out
        if is_multicast(pi.prefix) or is_linklocal(pi.prefix):
            self.log(now, "pfx", f"prefix {pi.prefix} is link-local or multicast: ignored")
            return out
        if pi.preferred_lifetime > pi.valid_lifetime:
            self.log(now, "pfxlt", f"prefix {pi.prefix}: preferred > valid: ignored")
            return out
        net = IPv6Network((int(pi.prefix), pi.prefixlen), strict=False)
        key = (ifname, net)
        pr = self.prefixes.get(key)
        vlt = lifetime_deadline(now, pi.valid_lifetime)
        if pi.onlink:
            if pr is None:
                if pi.valid_lifetime and self._full("prefixes", ifname,
                                                    "net.inet6.ip6.maxifprefixes"):
                    # BSD nd6_prelist_add: ENOMEM; a new prefix is ignored
                    # whole (no on-link entry, no address from it)
                    self.stats.inc("icp6s_nd_prefixfull")
                    self.log(now, "pfxfull", f"prefix list of {ifname} full (maxifprefixes)")
                    if not self.addrs.from_prefix(ifname, net):
                        return out
                elif pi.valid_lifetime:
                    pr = NdPrefix(ifname, net, True, vlt, pi.autonomous)
                    self.prefixes[key] = pr
                    self._onlink.add(int(net.network_address), net.prefixlen, pr)
                    self._count("prefixes", ifname, 1)
                    self._arm(vlt)
                    out.append(Event("prefix_added", ifname, {"prefix": net}))
            elif pi.valid_lifetime == 0:
                self._prefix_del(key)
                out.append(Event("prefix_expired", ifname, {"prefix": net}))
                pr = None
            else:
                pr.onlink, pr.expire = True, vlt
                self._arm(vlt)
            if pr is not None and router is not None and router not in pr.advrtrs:
                pr.advrtrs.append(router)
        if pi.autonomous:
            out.extend(self._autoconf(ifname, net, pi, now))
        return out

    def _autoconf(self, ifname: str, net: IPv6Network, pi: PrefixInfo, now: float) -> Output:
        out: Output = []
        ifid = self.ifids.get(ifname)
        if ifid is None or net.prefixlen + 64 != 128:
            if net.prefixlen != 64:
                self.log(now, "pfxlen", f"{net}: prefix length + IID length != 128")
            return out
        adv_v = _lt(pi.valid_lifetime)
        adv_p = _lt(pi.preferred_lifetime)
        public = None
        temps: list[In6Ifaddr] = []
        for ifa in self.addrs.from_prefix(ifname, net):
            if ifa.flags & In6Flags.AUTOCONF:
                if ifa.flags & In6Flags.TEMPORARY:
                    temps.append(ifa)
                else:
                    public = ifa
        if public is not None:
            self._update_lifetimes(public, adv_v, adv_p, now)
        for t in temps:
            self._update_lifetimes(t, adv_v, adv_p, now)
            t.vltime_expire = min(t.vltime_expire,
                                  t.created + self.knobs["net.inet6.ip6.tempvltime"])
            t.pltime_expire = min(t.pltime_expire, t.vltime_expire,
                                  t.created + self.knobs["net.inet6.ip6.temppltime"]
                                  - self.desync_factor)
            self._undeprecate(t, now)
        for known in [public, *temps]:
            if known is not None:
                self._deprecate_now(known, now, out)
                self._arm_addr(known)
        if public is None and pi.valid_lifetime > 0:
            addr = make_addr(net, ifid, 64)
            if self.addrs.find(ifname, addr) is None:
                if self._addr_full(ifname, now):
                    return out
                ifa = In6Ifaddr(addr, 64, ifname, In6Flags.AUTOCONF | In6Flags.TENTATIVE,
                                now + adv_v, now + adv_p, now, False, net)
                self.addrs.add(ifa)
                self._arm_addr(ifa)
                out.append(Event("address_added", ifname, {"addr": addr, "autoconf": True}))
                self._deprecate_now(ifa, now, out)
                out.extend(self.nbr.dad_start(ifa, now))
                if self.knobs["net.inet6.ip6.use_tempaddr"] and not temps:
                    out.extend(self._create_temp(ifname, net, adv_v, adv_p, now))
        return out

    def _addr_full(self, ifname: str, now: float) -> bool:
        """Linux ``max_addresses``: no new autoconfigured or temporary
        address on an interface that has that many addresses already."""
        cap = self.knobs._values["net.inet6.ip6.max_addresses"]
        if cap and self.addrs.count(ifname) >= cap:
            self.stats.inc("icp6s_nd_addrfull")
            self.log(now, "addrfull", f"{ifname} has max_addresses addresses")
            return True
        return False

    def _arm_addr(self, ifa: In6Ifaddr) -> None:
        """The timers of an autoconfigured address: expiry, deprecation and,
        for a temporary one, regeneration (see ``_compute_deadline``)."""
        self._arm(ifa.vltime_expire)
        if not ifa.flags & In6Flags.DEPRECATED:
            self._arm(ifa.pltime_expire)
        if ifa.flags & In6Flags.TEMPORARY:
            self._arm(ifa.pltime_expire - REGEN_ADVANCE)

    def _deprecate_now(self, ifa: In6Ifaddr, now: float, out: Output) -> None:
        if ifa.pltime_expire <= now and not ifa.flags & In6Flags.DEPRECATED:
            ifa.flags |= In6Flags.DEPRECATED
            out.append(AddressDeprecated(ifa.ifname, ifa.addr))

    def _update_lifetimes(self, ifa: In6Ifaddr, adv_v: float, adv_p: float, now: float) -> None:
        remaining = ifa.vltime_expire - now
        new_v = two_hour_rule(adv_v, remaining)
        ifa.vltime_expire = now + new_v
        ifa.pltime_expire = min(now + adv_p, ifa.vltime_expire)
        self._undeprecate(ifa, now)

    def _undeprecate(self, ifa: In6Ifaddr, now: float) -> None:
        if ifa.pltime_expire > now and ifa.flags & In6Flags.DEPRECATED:
            ifa.flags &= ~In6Flags.DEPRECATED
            self._reported.discard((ifa.ifname, ifa.addr, "deprecated"))

    def _create_temp(self, ifname: str, net: IPv6Network, adv_v: float, adv_p: float,
                     now: float) -> Output:
        """RFC 4941 §3.3: a new temporary address for ``net``."""
        ifid = self.ifids[ifname]
        history = self._temp.history.get(ifname, bytes(8))
        tmp_ifid, history = generate_tmp_ifid(history, ifid, self.rng)
        self._temp.history[ifname] = history
        vl = min(adv_v, float(self.knobs["net.inet6.ip6.tempvltime"]))
        pl = min(adv_p, self.knobs["net.inet6.ip6.temppltime"] - self.desync_factor, vl)
        if pl <= REGEN_ADVANCE:
            self.log(now, "tmp", f"{net}: preferred lifetime too short for a temporary address")
            return []
        addr = make_addr(net, tmp_ifid, 64)
        if self.addrs.find(ifname, addr) is not None or self._addr_full(ifname, now):
            return []
        ifa = In6Ifaddr(addr, 64, ifname,
                        In6Flags.AUTOCONF | In6Flags.TEMPORARY | In6Flags.TENTATIVE,
                        now + vl, now + pl, now, False, net)
        self.addrs.add(ifa)
        self._arm_addr(ifa)
        out: Output = [Event("address_added", ifname, {"addr": addr, "temporary": True})]
        out.extend(self.nbr.dad_start(ifa, now))
        return out

    def on_duplicated(self, ifa: In6Ifaddr, now: float) -> Output:
        """DAD failed on ``ifa``: a temporary address is regenerated (RFC 4941
        §3.3.7, TEMP_IDGEN_RETRIES), anything else stays marked."""
        if not ifa.flags & In6Flags.TEMPORARY or ifa.prefix is None:
            return []
        key = (ifa.ifname, ifa.prefix)
        n = self._temp.retries.get(key, 0)
        self.addrs.remove(ifa.ifname, ifa.addr)
        if n >= TEMP_IDGEN_RETRIES:
            self.log(now, "tmp", f"{ifa.prefix}: giving up temporary addresses")
            return []
        if key not in self._temp.retries and len(self._temp.retries) >= 256:
            del self._temp.retries[next(iter(self._temp.retries))]  # bounded: oldest out
        self._temp.retries[key] = n + 1
        return self._create_temp(ifa.ifname, ifa.prefix, ifa.vltime_expire - now,
                                 ifa.pltime_expire - now, now)

    # --- on-link determination ----------------------------------------------

    def is_onlink(self, addr: IPv6Address, ifname: str, now: float) -> bool:
        """RFC 4861 §5.2 / §6.3.4: link-local, an on-link prefix, the prefix of
        a manually configured address, or a Redirect to itself."""
        if is_linklocal(addr):
            return True
        a = int(addr)
        for _plen, prs in self._onlink.match(a):
            for pr in prs:
                if pr.ifname == ifname and pr.onlink and pr.expire > now:
                    return True
        for _plen, ifas in self.addrs.by_net(a):
            for ifa in ifas:
                if ifa.ifname == ifname and not ifa.flags._value_ & 0x40:  # AUTOCONF
                    return True
        rd = self.redirects.get(addr)
        return rd is not None and rd.ifname == ifname and rd.target == addr and rd.expire > now

    def next_hop(self, dst: IPv6Address, now: float) -> tuple[str, IPv6Address] | None:
        """(ifname, next hop) for a destination: a Redirect, on-link, the most
        specific RFC 4191 route (then preference), else the default router."""
        rd = self.redirects.get(dst)
        if rd is not None and rd.expire > now:
            return rd.ifname, rd.target
        for ifname in self.ifnets:
            if not is_linklocal(dst) and self.is_onlink(dst, ifname, now):
                return ifname, dst
        best: RouteEntry | None = None
        for _plen, rs in self._route_idx.match(int(dst)):  # longest prefix first
            for r in rs:
                if r.expire > now and (best is None
                                       or pref_value(r.preference) > pref_value(best.preference)):
                    best = r
            if best is not None:
                return best.ifname, best.router
        dr = self.installed or self.select_default_router()
        return (dr.ifname, dr.addr) if dr is not None else None

    # --- Redirect input (icmp6_redirect_input) ------------------------------

    def redirect_input(self, ifname: str, rd: RedirectInput, now: float) -> Output:
        """RFC 4861 §8.1 validation and §8.3 processing."""
        if self.knobs.forwarding or not self.knobs["net.inet6.icmp6.rediraccept"]:
            return []
        count_options(self.stats, rd.options_ignored)
        if rd.code != 0:
            return self._bad("icp6s_badcode", now, f"redirect code {rd.code}")
        if rd.hop_limit != ND_HOPLIMIT:
            return self._bad("icp6s_badredirect", now, f"redirect hlim {rd.hop_limit}")
        if not is_linklocal(rd.src):
            return self._bad("icp6s_badredirect", now, f"redirect from {rd.src}")
        if is_multicast(rd.destination):
            return self._bad("icp6s_badredirect", now, "redirect for a multicast destination")
        is_router = rd.target != rd.destination
        if is_router and not is_linklocal(rd.target):
            return self._bad("icp6s_badredirect", now, "redirect target not link-local")
        hop = (self.route_lookup or self.next_hop)(rd.destination, now)
        if hop is None or tuple(hop) != (ifname, rd.src):
            return self._bad("icp6s_badredirect", now,
                             f"redirect from {rd.src}, not the first hop for {rd.destination}")
        if rd.tlla is not None and not self.nbr._lladdr_ok(ifname, rd.tlla):
            return self._bad("icp6s_badredirect", now, "redirect lladdr length mismatch")
        cap = self.knobs._values["net.inet6.ip6.maxdynroutes"]
        if 0 <= cap <= len(self.redirects) and rd.destination not in self.redirects:
            # BSD: past maxdynroutes a Redirect makes no host route (traffic
            # keeps going through the router, which still forwards it)
            return self._bad("icp6s_redirfull", now, "redirect ignored: maxdynroutes")
        out: Output = list(self.cache.cache_lladdr(ifname, rd.target, rd.tlla, "redirect", now,
                                                   redirect_router=is_router))
        expire = now + self.knobs["net.inet6.icmp6.redirtimeout"]
        self.redirects[rd.destination] = _Redirect(ifname, rd.target, expire)
        self._arm(expire)
        out.append(Event("redirect", ifname, {"dst": rd.destination, "target": rd.target}))
        return out

    # --- RS output (rtsol) -------------------------------------------------

    def start_rs(self, ifname: str, now: float, *, immediate: bool = False) -> Output:
        """Begin soliciting on ``ifname`` (link-up, or ``rtsol`` on demand)."""
        if self.knobs.forwarding or not ra_accepted(self.knobs, self._ifflags(ifname)):
            return []
        delay = 0.0 if immediate else self.rng.uniform(0.0, MAX_RTR_SOLICITATION_DELAY)
        self._rs[ifname] = _RsState(ifname, MAX_RTR_SOLICITATIONS, now + delay)
        self._arm(now + delay)
        return []

    def _rs_source(self, ifname: str) -> IPv6Address:
        for ifa in self.addrs.on(ifname):
            if is_linklocal(ifa.addr) and ifa.usable:
                return ifa.addr
        return UNSPECIFIED

    # --- RS input and RA output (rtadvd) ----------------------------------

    def rs_input(self, ifname: str, rs: RsInput, now: float) -> Output:
        """A received RS (routers only, RFC 4861 §6.1.1 / §6.2.6)."""
        if not self.knobs.forwarding:
            return []
        count_options(self.stats, rs.options_ignored)
        if rs.code != 0:
            return self._bad("icp6s_badcode", now, f"RS code {rs.code}")
        if rs.hop_limit != ND_HOPLIMIT:
            return self._bad("icp6s_badrs", now, f"RS hlim {rs.hop_limit}")
        unspec = int(rs.src) == 0
        if unspec and rs.slla is not None:
            return self._bad("icp6s_badrs", now, "RS from :: with a link-layer option")
        if rs.slla is not None and not self.nbr._lladdr_ok(ifname, rs.slla):
            return self._bad("icp6s_badrs", now, "RS lladdr length mismatch")
        out: Output = []
        if not unspec:
            out.extend(self.cache.cache_lladdr(ifname, rs.src, rs.slla, "rs", now))
        st = self._ra.get(ifname)
        if st is not None and st.final_left == 0:
            t = now + self.rng.uniform(0.0, MAX_RA_DELAY_TIME)
            t = max(t, st.last_sent + MIN_DELAY_BETWEEN_RAS)
            st.next_time = min(st.next_time, t)
            self._arm(st.next_time)
        return out

    def advertise(self, ifname: str, config: RaConfig, now: float) -> None:
        """Start rtadvd on ``ifname`` (the node must be a router)."""
        if not self.knobs.forwarding:
            raise ConfigError("rtadvd needs net.inet6.ip6.forwarding=1")
        self._ra[ifname] = _RaState(ifname, config.resolved(), now)
        self._arm(now)

    def advertise_prefixes(self, ifname: str, prefixes: tuple[PrefixInfo, ...],
                           now: float, *, source: str = "dhcp6") -> None:
        """Replace the prefixes ``source`` (a delegated prefix: ``dhcp6``) puts in
        the RAs of ``ifname`` and advertise at once (RFC 4861 §6.2.4: a changed
        configuration may be sent early); starts rtadvd with the default
        configuration if it is not running there."""
        st = self._ra.get(ifname)
        cfg = st.config if st is not None else RaConfig().resolved()
        mine = self._ra_sources.setdefault(ifname, {})
        old = set(mine.get(source, ()))
        mine[source] = tuple(prefixes)
        keep = tuple(p for p in cfg.prefixes if p not in old)
        new = replace(cfg, prefixes=keep + tuple(prefixes))
        if st is None:
            self.advertise(ifname, new, now)
            return
        st.config = new
        st.final_left = 0
        st.next_time = max(now, st.last_sent + MIN_DELAY_BETWEEN_RAS)
        self._arm(st.next_time)

    def stop_advertising(self, ifname: str, now: float) -> None:
        """Send the final RAs with router lifetime 0 (§6.2.5), then stop."""
        st = self._ra.get(ifname)
        if st is not None:
            st.final_left = MAX_FINAL_RTR_ADVERTISEMENTS
            st.next_time = max(now, st.last_sent + MIN_DELAY_BETWEEN_RAS)
            self._arm(st.next_time)

    def _make_ra(self, st: _RaState, final: bool) -> SendRA:
        c = st.config
        return SendRA(st.ifname, LINKLOCAL_ALL_NODES, c.cur_hop_limit, c.managed, c.other,
                      0 if final else c.preference, 0 if final else int(c.router_lifetime or 0),
                      c.reachable_time, c.retrans_timer, c.mtu, c.prefixes, c.routes, c.rdnss,
                      home_agent=c.home_agent)

    # --- timers -------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """No timer fires before this (a lower bound; see ``_due``)."""
        return None if self._due == math.inf else self._due

    def _compute_deadline(self) -> float:
        """The earliest timer, by a walk over every table (from ``poll``
        only, when something was due)."""
        ts: list[float] = []
        ts += [dr.expire for dr in self.routers]
        ts += [p.expire for p in self.prefixes.values()]
        ts += [r.expire for r in self.routes.values()]
        ts += [r.expire for r in self.rdnss.values()]
        ts += [r.expire for r in self.redirects.values()]
        ts += [s.next_time for s in self._rs.values()]
        ts += [s.next_time for s in self._ra.values()]
        for ifa in self.addrs.all():
            if ifa.flags & In6Flags.AUTOCONF:
                ts.append(ifa.vltime_expire)
                if not ifa.flags & In6Flags.DEPRECATED:
                    ts.append(ifa.pltime_expire)
                if (ifa.flags & In6Flags.TEMPORARY
                        and (ifa.ifname, ifa.addr) not in self._temp.regen_done):
                    ts.append(ifa.pltime_expire - REGEN_ADVANCE)
        return min(ts, default=math.inf)

    def poll(self, now: float) -> Output:
        if now < self._due:
            return []
        out: Output = []
        changed = False
        for dr in list(self.routers):
            if dr.expire <= now:
                self._router_remove(dr)
                out.append(Event("router_expired", dr.ifname, {"addr": dr.addr}))
                changed = True
        if changed:
            self.select_default_router()
        for key, p in list(self.prefixes.items()):
            if p.expire <= now:
                self._prefix_del(key)
                out.append(Event("prefix_expired", p.ifname, {"prefix": p.prefix}))
        for rkey, r in list(self.routes.items()):
            if r.expire <= now:
                self._route_del(rkey)
        for dkey, d in list(self.rdnss.items()):
            if d.expire <= now:
                self._rdnss_del(dkey)
                out.append(Event("rdnss_expired", d.ifname, {"server": d.server}))
        for dst, rd in list(self.redirects.items()):
            if rd.expire <= now:
                del self.redirects[dst]
        out.extend(self._poll_addresses(now))
        out.extend(self._poll_rs(now))
        out.extend(self._poll_ra(now))
        self._due = self._compute_deadline()
        return out

    def _poll_addresses(self, now: float) -> Output:
        out: Output = []
        for ifa in self.addrs.all():
            if not ifa.flags & In6Flags.AUTOCONF:
                continue
            key = (ifa.ifname, ifa.addr)
            if ifa.vltime_expire <= now:
                self.addrs.remove(ifa.ifname, ifa.addr)
                self.nbr.dad_stop(ifa)
                self._temp.regen_done.discard(key)
                if ifa.prefix is not None and not ifa.flags & In6Flags.TEMPORARY:
                    self._temp.retries.pop((ifa.ifname, ifa.prefix), None)
                out.append(AddressExpired(ifa.ifname, ifa.addr))
                continue
            if ifa.flags & In6Flags.TEMPORARY and key not in self._temp.regen_done \
                    and ifa.pltime_expire - REGEN_ADVANCE <= now and ifa.prefix is not None:
                self._temp.regen_done.add(key)
                if self.knobs["net.inet6.ip6.use_tempaddr"] and not ifa.duplicated:
                    pub = self._public_for(ifa.ifname, ifa.prefix)
                    if pub is not None and pub.pltime_expire > now:
                        out.extend(self._create_temp(ifa.ifname, ifa.prefix,
                                                     pub.vltime_expire - now,
                                                     pub.pltime_expire - now, now))
            if ifa.pltime_expire <= now and not ifa.flags & In6Flags.DEPRECATED:
                ifa.flags |= In6Flags.DEPRECATED
                out.append(AddressDeprecated(ifa.ifname, ifa.addr))
        return out

    def _public_for(self, ifname: str, net: IPv6Network) -> In6Ifaddr | None:
        for ifa in self.addrs.on(ifname):
            if ifa.prefix == net and ifa.flags & In6Flags.AUTOCONF \
                    and not ifa.flags & In6Flags.TEMPORARY:
                return ifa
        return None

    def _poll_rs(self, now: float) -> Output:
        out: Output = []
        for ifname, st in list(self._rs.items()):
            if st.next_time > now:
                continue
            src = self._rs_source(ifname)
            out.append(SendRS(ifname, src, int(src) != 0))
            st.remaining -= 1
            if st.remaining > 0:
                st.next_time = now + RTR_SOLICITATION_INTERVAL
            else:
                del self._rs[ifname]
        return out

    def _poll_ra(self, now: float) -> Output:
        out: Output = []
        for ifname, st in list(self._ra.items()):
            if st.next_time > now:
                continue
            if st.final_left:
                out.append(self._make_ra(st, True))
                st.final_left -= 1
                st.last_sent = now
                if st.final_left == 0:
                    del self._ra[ifname]
                else:
                    st.next_time = now + MIN_DELAY_BETWEEN_RAS
                continue
            out.append(self._make_ra(st, False))
            st.last_sent = now
            c = st.config
            assert c.min_interval is not None
            interval = self.rng.uniform(c.min_interval, c.max_interval)
            if st.initial_left > 0:
                st.initial_left -= 1
                interval = min(interval, MAX_INITIAL_RTR_ADVERT_INTERVAL)
            st.next_time = now + interval
        return out
