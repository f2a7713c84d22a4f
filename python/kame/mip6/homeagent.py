"""``mip6_halist.c`` / ``mip6_hacore.c`` (SHISA's kernel half of ``had``):
the home agent of seed §6.2 (RFC 6275 §10), on a node that routes
(``net.inet6.ip6.forwarding=1``), started by :meth:`HomeAgent.attach` on
its home link.

- Home registration (§10.3.1): a Binding Update with the H flag (the A
  flag too, §9.5.1 of the mobile node's side) from the care-of address
  with a Home Address option. Refused with 129 (the home address is one of
  ours), 132 (not in a prefix of the home link), 133 (a list of served
  home addresses that lacks it; or a deregistration with no entry,
  §10.3.2), 135 (sequence number not newer), 139 (a correspondent
  registration of that home address exists), 130 (binding cache full),
  134 (Duplicate Address Detection found the address in use). The
  lifetime granted is the smallest of the one asked, ``net.inet6.mip6.
  ha_lifetime_max`` and the remaining valid lifetime of the home prefix
  (our address in it, and the Prefix Information we advertise for it).
- DAD before accepting a new registration (§10.3.1, ``net.inet6.mip6.
  ha_dad``): a DAD Neighbor Solicitation from ``::`` for the home address
  (and the link-local one under the L flag) on the home link; an answer
  (a Neighbor Advertisement, or another node's DAD probe, seen through the
  neighbor code's ``watch`` table) within RetransTimer makes it 134; our
  own probe looped back (its RFC 7527 nonce ours) does not
  (``icp6s_nd_looped``). At
  most ``net.inet6.mip6.ha_dad_max`` run at once (past it: status 130).
- Proxy Neighbor Discovery (§10.4.1): the home address (and with the L
  flag the link-local address of its interface identifier) enters the
  proxy NDP table of the home link, announced by an unsolicited Neighbor
  Advertisement with the Override flag; deregistration and expiry
  withdraw it.
- The bidirectional tunnel (§10.4.2, §10.4.5): a packet forwarded to a
  registered home address (the node's ``ip6_forward``), or one of ours
  (``ip6_output``), leaves IPv6-in-IPv6 (RFC 2473) from the home agent
  address to the care-of address; a packet in IPv6-in-IPv6 from a care-of
  address whose inner source is the home address registered with it is
  decapsulated and handed to input (forwarded from there), any other is
  dropped (``mip6s_revtunnel_bad``).
- The home agents list (§10.1, §10.5.1): Router Advertisements with the
  H flag from other routers on a home link (seen through the router
  code's ``ra_seen_hooks``, a router's RAs being otherwise unused) list
  their senders with the preference and lifetime of the Home Agent
  Information option (§7.4; without one preference 0 and the Router
  Lifetime) and the global addresses of their Prefix Information options
  with the R flag (§7.2); the H flag cleared or a lifetime 0 removes an
  entry, expiry too; at most ``net.inet6.mip6.halist_max`` entries
  (``mip6s_halistfull``).
- Home Agent Address Discovery (§10.5, ICMPv6 144 -> 145): the reply to a
  request to the Home-Agents anycast address lists the home agents of
  that prefix, ourselves with the preference we advertise, highest
  preference first, equal preferences in a fresh random order each time,
  no more than fit in 1280 octets (77 addresses).
- Mobile Prefix Solicitation (§10.6, 146 -> 147, only from a registered
  mobile node, answered through a type 2 routing header to its care-of
  address, with the M and O flags of the home link's RAs).
- Unsolicited Mobile Prefix Advertisements (§10.6.2, §10.6.3): when the
  prefixes of a home link change other than by the passing of time (a
  prefix added or removed, lifetimes reconfigured), every mobile node
  registered there gets one after a random delay between
  MinMobPfxAdvInterval and MIN(MaxMobPfxAdvInterval, the preferred
  lifetime) (``net.inet6.mip6.mpa_min_interval``/``mpa_max_interval``),
  sent again after PREFIX_ADV_TIMEOUT (3 s) doubled, PREFIX_ADV_RETRIES
  (3) times, until a Mobile Prefix Solicitation (or a Binding Update) from
  it; each with a fresh identifier (UMIP's ``mpd_resend_unsol_mpa`` does
  the same doubling).
- Binding Refresh Request (§6.1.2): when 90 % of a home registration's
  lifetime has passed with no refresh, one request to the care-of address
  through a type 2 routing header (``net.inet6.mip6.ha_brr``; our choice
  of the moment).
- IPsec (RFC 3776, RFC 4877): Binding Updates and Acknowledgements
  between mobile node and home agent are meant to go in ESP transport
  mode; an SPD entry (``setkey``: ``spdadd HOA HA 135 -P in ipsec
  esp/transport//require``) makes the node's IPsec input drop an
  unprotected one before it gets here (``ipsec6.in_polvio``): the
  selector's source is the home address, as in KAME, where the Home
  Address option is swapped before ``ipsec6_in_reject``.

The H flag and the Home Agent Information option of the home link's
Router Advertisements (§7.1, §7.4) are rtadvd's:
``RaConfig(home_agent=(preference, lifetime))`` (:mod:`kame.nd6.rtr`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network
from typing import TYPE_CHECKING, Any

from kame import _core
from kame.addr import solicited_node
from kame.errors import ConfigError, KameError
from kame.mip6.bcache import Binding
from kame.nd6.types import RaInput, SendNA, SendNS

if TYPE_CHECKING:
    from kame.node import Node

__all__ = ["BU_LINK", "HaListEntry", "HomeAgent", "ha_anycast", "proxy_add", "proxy_remove"]

BU_ACK, BU_HOME, BU_LINK = 0x8000, 0x4000, 0x2000
MH_BRR, MH_BA = 0, 6
#: RFC 6275 §12
PREFIX_ADV_TIMEOUT = 3.0
PREFIX_ADV_RETRIES = 3
#: the largest DHAAD reply: 1280 - 40 (IPv6) - 8 (ICMPv6 header and reserved)
DHAAD_MAX_ADDRS = (1280 - 48) // 16
IPPROTO_MH = 135
ICMP6_HADISCOV_REQUEST, ICMP6_HADISCOV_REPLY = 144, 145
ICMP6_MOBILEPREFIX_SOLICIT, ICMP6_MOBILEPREFIX_ADVERT = 146, 147
_UNSPEC = IPv6Address("::")
_ALL_NODES = IPv6Address("ff02::1")


def ha_anycast(prefix: IPv6Network) -> IPv6Address:
    """The Mobile IPv6 Home-Agents anycast address of ``prefix`` (RFC 2526:
    the reserved subnet anycast ID 0x7e; for a /64 the interface identifier
    fdff:ffff:ffff:fffe)."""
    if prefix.prefixlen != 64:
        host = (1 << (128 - prefix.prefixlen)) - 1
        return IPv6Address(int(prefix.network_address) | (host & ~0x7F) | 0x7E)
    return IPv6Address(int(prefix.network_address) | 0xFDFFFFFFFFFFFFFE)


def proxy_add(node: Node, ifname: str, addr: IPv6Address, now: float) -> None:
    """A proxy NDP entry for ``addr`` on ``ifname`` and its solicited-node
    group joined there, so that Neighbor Solicitations for it reach us
    (``LimitError`` when the proxy table is full)."""
    node.nbr.proxy.add(ifname, addr)
    node.join(ifname, solicited_node(addr), now)


def proxy_remove(node: Node, ifname: str, addr: IPv6Address, now: float) -> None:
    """The entry out, and the group left unless an address or another
    entry on ``ifname`` still needs it."""
    if not node.nbr.proxy.remove(ifname, addr):
        return
    _leave_unless_needed(node, ifname, addr, now)


def _leave_unless_needed(node: Node, ifname: str, addr: IPv6Address, now: float) -> None:
    """Leave the solicited-node group of ``addr`` unless an address, a
    proxy entry or a DAD watch on ``ifname`` still needs it."""
    g = solicited_node(addr)
    if any(solicited_node(a.addr) == g for a in node.addrs.on(ifname)) or any(
            i == ifname and solicited_node(t) == g for i, t in node.nbr.proxy._t) or any(
            i == ifname and solicited_node(t) == g for i, t in node.nbr.watch):
        return
    node.leave(ifname, g, now)


def _linklocal_of(home: IPv6Address) -> IPv6Address:
    return IPv6Address((0xFE80 << 112) | (int(home) & ((1 << 64) - 1)))


@dataclass(slots=True)
class HaListEntry:
    """One home agents list entry (RFC 6275 §10.1, §10.5.1): another home
    agent on a home link, known by the link-local source of its Router
    Advertisements, with the global addresses it gave in Prefix Information
    options with the R flag (§7.2)."""

    ifname: str
    lladdr: IPv6Address
    addrs: tuple[IPv6Address, ...]
    preference: int
    expire: float


class _MpaState:
    """The unsolicited Mobile Prefix Advertisements due to one mobile node
    (§10.6.2, §10.6.3): when the next goes, its identifier, how many went."""

    __slots__ = ("at", "ident", "sent")

    def __init__(self, at: float, ident: int) -> None:
        self.at, self.ident, self.sent = at, ident, 0


class _Pending:
    """A registration waiting for DAD (§10.3.1)."""

    __slots__ = ("coa", "deadline", "dup", "flags", "granted", "ha_addr", "home", "ifname",
                 "seq", "src")

    def __init__(self, home: IPv6Address, coa: IPv6Address, src: IPv6Address, seq: int,
                 flags: int, granted: int, ha_addr: IPv6Address, ifname: str,
                 deadline: float) -> None:
        self.home, self.coa, self.src, self.seq, self.flags = home, coa, src, seq, flags
        self.granted, self.ha_addr, self.ifname, self.deadline = granted, ha_addr, ifname, deadline
        self.dup = False


class HomeAgent:
    """The home agent role of one node, serving the prefixes of its home
    links (``ifnames``)."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.ifnames: list[str] = []
        #: home addresses this home agent serves (None: any in the home prefixes)
        self.served: set[IPv6Address] | None = None
        self.pending: dict[IPv6Address, _Pending] = {}
        #: care-of address -> home registrations bound to it: which outer
        #: sources may reverse-tunnel to us, looked up in O(1) per packet
        self.coas: dict[IPv6Address, int] = {}
        #: (home link, link-local address) -> the other home agents there
        self.halist: dict[tuple[str, IPv6Address], HaListEntry] = {}
        #: home address -> when its Binding Refresh Request is due (§6.1.2)
        self.brr: dict[IPv6Address, float] = {}
        #: home address -> unsolicited Mobile Prefix Advertisements due (§10.6.2)
        self.mpa: dict[IPv6Address, _MpaState] = {}
        #: home link -> what its Mobile Prefix Advertisements would carry
        #: (prefix, valid and preferred expiry), to see it change (§10.6.2)
        self._pfx_seen: dict[str, tuple[tuple[IPv6Network, float, float], ...]] = {}

    @classmethod
    def attach(cls, node: Node, ifname: str, now: float, *,
               served: set[IPv6Address] | None = None) -> HomeAgent:
        """Make ``node`` the home agent of the link of ``ifname`` (KAME:
        ``sysctl net.inet6.mip6.homeagent`` / SHISA's ``had ifname``): it
        joins the Home-Agents anycast address of each global prefix there."""
        if not node.knobs.forwarding:
            raise ConfigError("a home agent is a router: net.inet6.ip6.forwarding=1")
        ha = node.mip6.ha
        if ha is None:
            ha = node.mip6.ha = cls(node)
        node._ifnet(ifname)
        if ifname not in ha.ifnames:
            ha.ifnames.append(ifname)
        if served is not None:
            ha.served = set(served)
        for net, _a in ha.prefixes(ifname):
            any_ = ha_anycast(net)
            if node.addrs.find(ifname, any_) is None:
                node.add_address(ifname, f"{any_}/{net.prefixlen}", now, anycast=True)
        if ha.ra_input not in node.rtr.ra_seen_hooks:
            node.rtr.ra_seen_hooks.append(ha.ra_input)
        ha._pfx_seen[ifname] = ha._pfx_state(ifname)
        return ha

    # --- the home agents list (§10.5.1) ------------------------------------------------

    def ra_input(self, ifname: str, ra: RaInput, now: float) -> None:
        """A Router Advertisement from another router on a home link: with
        the H flag its sender is a home agent (preference and lifetime from
        the Home Agent Information option, else 0 and the Router Lifetime);
        without it, or with lifetime 0, its entry goes."""
        if ifname not in self.ifnames:
            return
        st = self.node.stats
        key = (ifname, ra.src)
        pref, life = ra.ha_info if ra.ha_info is not None else (0, ra.router_lifetime)
        if not ra.home_agent or life == 0:
            if self.halist.pop(key, None) is not None:
                st.inc("mip6s_halistdel")
            return
        addrs = tuple(IPv6Address(p.prefix) for p in ra.prefixes if p.router_addr
                      and not IPv6Address(p.prefix).is_link_local)[:8]
        e = self.halist.get(key)
        if e is None:
            if not addrs:
                st.inc("mip6s_halistnoaddr")
                return
            if len(self.halist) >= self.node.knobs._values["net.inet6.mip6.halist_max"]:
                st.inc("mip6s_halistfull")
                return
            e = self.halist[key] = HaListEntry(ifname, ra.src, addrs, pref, now + life)
        else:
            e.preference, e.expire = pref, now + life
            if addrs:
                e.addrs = addrs
        st.inc("mip6s_halist")
        self.node.gate.arm(e.expire)

    def own_preference(self, ifname: str) -> int:
        """Our Home Agent Preference on ``ifname`` (the one we advertise;
        0 without a Home Agent Information option, §7.4)."""
        st = getattr(self.node.rtr, "_ra", {}).get(ifname)
        ha = st.config.home_agent if st is not None else None
        return ha[0] if ha is not None else 0

    def home_agents(self, ifname: str, net: IPv6Network, own: IPv6Address
                    ) -> list[IPv6Address]:
        """The home agents of ``net`` for a DHAAD reply (§10.5): by
        preference, highest first; equal preferences in a random order
        each time (load sharing); at most what fits the minimum MTU."""
        return [IPv6Address(x) for x in self._home_agent_ints(ifname, net, own)]

    def _home_agent_ints(self, ifname: str, net: IPv6Network, own: IPv6Address) -> list[int]:
        rnd = self.node.rng.random
        base, shift, own_i = int(net.network_address), 128 - net.prefixlen, int(own)
        rows = [(-self.own_preference(ifname), rnd(), own_i)]
        for e in self.halist.values():
            if e.ifname != ifname:
                continue
            p = -e.preference
            for a in e.addrs:
                x = int(a)
                if (x ^ base) >> shift == 0 and x != own_i:
                    rows.append((p, rnd(), x))
        rows.sort()
        return [x for _p, _r, x in rows[:DHAAD_MAX_ADDRS]]

    # --- the home link ----------------------------------------------------------

    def prefixes(self, ifname: str) -> list[tuple[IPv6Network, Any]]:
        """(prefix, our address in it) for the global prefixes of ``ifname``."""
        out = []
        for ifa in self.node.addrs.on(ifname):
            a = ifa.addr
            if a.is_link_local or a.is_multicast or ifa.flags._value_ & 0x01 or not ifa.prefixlen \
                    or ifa.prefixlen > 126:
                continue
            out.append((IPv6Network(f"{a}/{ifa.prefixlen}", strict=False), ifa))
        return out

    def home_link(self, home: IPv6Address) -> tuple[str, IPv6Network, Any] | None:
        """The home link, prefix and our address there for ``home``."""
        for ifname in self.ifnames:
            for net, ifa in self.prefixes(ifname):
                if home in net:
                    return ifname, net, ifa
        return None

    def prefix_lifetime(self, ifname: str, net: IPv6Network, ifa: Any, now: float) -> float:
        """The remaining valid lifetime of the home prefix (§10.3.1): our
        address's and the one we advertise for it, the smaller."""
        t = ifa.vltime_expire - now
        st = getattr(self.node.rtr, "_ra", {}).get(ifname)
        if st is not None:
            for p in st.config.prefixes:
                if IPv6Network(f"{p.prefix}/{p.prefixlen}", strict=False) == net \
                        and p.valid_lifetime != 0xFFFFFFFF:
                    t = min(t, float(p.valid_lifetime))
        return t

    # --- Binding Update with the H flag (§10.3.1) ------------------------------------

    def bu_input(self, ifname: str, hdr: Any, mh: Any, src: IPv6Address, coa: IPv6Address,
                 now: float) -> None:
        """A home registration or deregistration: ``hdr.src`` the home
        address, ``src`` where it came from, ``coa`` the care-of address."""
        node = self.node
        st = node.stats
        kv = node.knobs._values
        cn = node.mip6
        home, ha_addr = hdr.src, hdr.dst
        seq, flags = mh.seq, mh.flags
        st.inc("mip6s_hareg")

        def ack(status: int, seq: int = seq, lifetime: int = 0) -> None:
            self.ba_output(ifname, ha_addr, src, home, status, seq, lifetime, now)

        if not flags & BU_ACK:
            st.inc("mip6s_hanoack")  # the mobile node sets A (§11.7.1); accepted, unanswered
        if ha_addr.is_multicast or node.addrs.find_any(ha_addr) is None \
                or ha_addr in self._anycasts():
            st.inc("mip6s_hanotours")
            return
        if node.addrs.find_any(home) is not None:
            st.inc("mip6s_haprohibited")
            ack(129)
            return
        link = self.home_link(home)
        if link is None:
            st.inc("mip6s_hanothome")
            ack(132)
            return
        hifname, net, ifa = link
        if self.served is not None and home not in self.served:
            st.inc("mip6s_hanotha")
            ack(133)
            return
        b = cn.bc.lookup(home)
        if b is not None and not b.home_reg:
            st.inc("mip6s_hatypechange")
            ack(139)
            return
        pend = self.pending.get(home)
        last = b.seq if b is not None else (pend.seq if pend is not None else None)
        if last is not None and not seq_newer(seq, last):
            st.inc("mip6s_seqno")
            ack(135, last)
            return
        if mh.lifetime == 0 or coa == home:  # deregistration (§10.3.2)
            if pend is not None:
                del self.pending[home]
                self._dad_unwatch(pend.ifname, home, now)  # the DAD watch ends with it
            if b is None:
                st.inc("mip6s_hanotha")
                ack(133)
                return
            self.withdraw(b, now)
            cn.bc.remove(home)
            st.inc("mip6s_hadereg")
            if flags & BU_ACK:
                ack(0, seq, 0)
            return
        granted = min(mh.lifetime * 4, kv["net.inet6.mip6.ha_lifetime_max"],
                      self.prefix_lifetime(hifname, net, ifa, now))
        if granted < 4:
            st.inc("mip6s_haprefixgone")
            ack(129)  # the home prefix is (nearly) invalid: nothing can be bound
            return
        granted = int(granted) // 4 * 4
        if b is None and kv["net.inet6.mip6.ha_dad"] and pend is None:
            if len(self.pending) >= kv["net.inet6.mip6.ha_dad_max"]:
                st.inc("mip6s_hadadfull")
                ack(130)
                return
            self._dad_start(_Pending(home, coa, src, seq, flags, granted, ha_addr, hifname,
                                     now + self._dad_time(hifname)), now)
            return
        if pend is not None:  # a retransmission while DAD runs: the newest wins
            pend.coa, pend.src, pend.seq, pend.flags, pend.granted = coa, src, seq, flags, granted
            return
        self._accept(hifname, home, coa, src, seq, flags, granted, ha_addr, now)

    def _anycasts(self) -> set[IPv6Address]:
        return {ha_anycast(net) for i in self.ifnames for net, _ in self.prefixes(i)}

    def _accept(self, hifname: str, home: IPv6Address, coa: IPv6Address, src: IPv6Address,
                seq: int, flags: int, granted: int, ha_addr: IPv6Address, now: float) -> None:
        node = self.node
        st = node.stats
        old = node.mip6.bc.lookup(home)
        old_coa = old.coa if old is not None else None
        r = node.mip6.bc.update(home, coa, seq, granted, now, home_reg=True)
        if r is None:
            st.inc("mip6s_bcfull")
            self.ba_output(hifname, ha_addr, src, home, 130, seq, 0, now)
            return
        b, created = r
        b.ha_addr, b.ifname = ha_addr, hifname
        if old_coa != coa:
            if old_coa is not None:
                self._coa_ref(old_coa, -1)
            self._coa_ref(coa, 1)
        node.gate.arm(b.expire)
        if node.knobs._values["net.inet6.mip6.ha_brr"] and granted >= 8:
            self.brr[home] = now + granted * 0.9
            node.gate.arm(self.brr[home])
        if self.mpa.pop(home, None) is not None:
            st.inc("mip6s_mpaacked")  # a Binding Update acknowledges it (§10.6.3)
        if hifname not in self._pfx_seen:
            self._pfx_seen[hifname] = self._pfx_state(hifname)
        if created:
            ll = _linklocal_of(home) if flags & BU_LINK else None
            try:
                proxy_add(node, hifname, home, now)
                if ll is not None:
                    proxy_add(node, hifname, ll, now)
                    b.link_local = ll
            except KameError:
                st.inc("mip6s_haproxyfull")
                proxy_remove(node, hifname, home, now)
                node.mip6.bc.remove(home)
                self._coa_ref(coa, -1)
                self.ba_output(hifname, ha_addr, src, home, 130, seq, 0, now)
                return
            # §10.4.1: take the address over on the home link at once
            acts: list[Any] = [SendNA(hifname, a, _ALL_NODES, a, True, False, True, True, None)
                               for a in (home, ll) if a is not None]
            node._handle(acts, now)
            st.inc("mip6s_haproxy")
        st.inc("mip6s_bcadd" if created else "mip6s_bcupdate")
        if flags & BU_ACK:  # an acceptance only when asked for; refusals always (§10.3.1)
            self.ba_output(hifname, ha_addr, src, home, 0, seq, granted // 4, now)

    def _coa_ref(self, coa: IPv6Address, n: int) -> None:
        c = self.coas.get(coa, 0) + n
        if c > 0:
            self.coas[coa] = c
        else:
            self.coas.pop(coa, None)

    def withdraw(self, b: Binding, now: float) -> None:
        """Stop defending the home address: proxy entries out, the care-of
        address no longer a tunnel end (§10.3.2)."""
        self._coa_ref(b.coa, -1)
        self.brr.pop(b.home, None)
        self.mpa.pop(b.home, None)
        if b.ifname is not None:
            proxy_remove(self.node, b.ifname, b.home, now)
            if b.link_local is not None:
                proxy_remove(self.node, b.ifname, b.link_local, now)
        self.node.stats.inc("mip6s_hawithdraw")

    def ba_output(self, ifname: str, ha_addr: IPv6Address, to: IPv6Address, home: IPv6Address,
                  status: int, seq: int, lifetime: int, now: float) -> None:
        """A Binding Acknowledgement to the care-of address with a type 2
        routing header carrying the home address (§6.1.8, §10.3.1); to the
        home address itself when the update came from home."""
        st = self.node.stats
        st.inc("mip6s_oba")
        if status >= 128:
            st.inc("mip6s_obarefused")
        self.node.mip6._send(ifname, ha_addr, to, MH_BA, now, home if to != home else None,
                             status=status, seq=seq, lifetime=lifetime)

    # --- DAD for the home address (§10.3.1) ---------------------------------------------

    def _dad_time(self, ifname: str) -> float:
        """RetransTimer times DupAddrDetectTransmits (at least one probe)."""
        count = max(1, int(self.node.knobs._values["net.inet6.ip6.dad_count"]))
        return float(self.node.cache.info(ifname).retrans) * count

    def _dad_start(self, p: _Pending, now: float) -> None:
        node = self.node
        self.pending[p.home] = p
        targets = [p.home] + ([_linklocal_of(p.home)] if p.flags & BU_LINK else [])
        for t in targets:
            node.nbr.watch[(p.ifname, t)] = 0
            nonce = os.urandom(6)
            node.nbr.watch_nonces[(p.ifname, t)] = nonce
            # its solicited-node group joined, as for DAD of our own
            # addresses, so that another node's probe for it reaches us
            node.join(p.ifname, solicited_node(t), now)
            node._handle([SendNS(p.ifname, t, solicited_node(t), _UNSPEC, False, nonce)], now)
        node.stats.inc("mip6s_hadad")
        node.gate.arm(p.deadline)

    def _dad_unwatch(self, ifname: str, home: IPv6Address, now: float, leave: bool = True
                     ) -> int:
        """The DAD watch of ``home`` (and its link-local address) ends:
        what it saw; with ``leave`` the groups left unless needed."""
        node = self.node
        seen = 0
        for t in (home, _linklocal_of(home)):
            if (ifname, t) in node.nbr.watch:
                seen += node.nbr.watch.pop((ifname, t))
                node.nbr.watch_nonces.pop((ifname, t), None)
                if leave:
                    _leave_unless_needed(node, ifname, t, now)
        return seen

    def _dad_done(self, p: _Pending, now: float) -> None:
        node = self.node
        seen = self._dad_unwatch(p.ifname, p.home, now, leave=False)
        if seen:
            node.stats.inc("mip6s_hadaddup")
            self.ba_output(p.ifname, p.ha_addr, p.src, p.home, 134, p.seq, 0, now)
        else:
            self._accept(p.ifname, p.home, p.coa, p.src, p.seq, p.flags, p.granted, p.ha_addr,
                         now)
        for t in (p.home, _linklocal_of(p.home)):  # the groups a proxy entry does not keep
            if not node.nbr.proxy.lookup(p.ifname, t)[0]:
                _leave_unless_needed(node, p.ifname, t, now)

    # --- the tunnel (§10.4.2, §10.4.5) ---------------------------------------------------

    def tunnel_to(self, b: Binding, packet: bytes, now: float
                  ) -> tuple[str, bytes, IPv6Address] | None:
        """``packet`` for the home address of ``b`` in IPv6-in-IPv6 to its
        care-of address: (ifname, outer packet, next hop), or None (no
        route, or it would not fit: counted)."""
        node = self.node
        st = node.stats
        rt = node.rtalloc(b.coa, now)
        src = b.ha_addr
        if rt is None or src is None:
            st.inc("ip6s_noroute")
            return None
        try:
            out = _core.encapsulate(packet, src, b.coa, 1,
                                    hop_limit=node.cache.info(rt.ifname).chlim)
        except KameError:
            st.inc("mip6s_tunnelerr")
            return None
        st.inc("mip6s_tunnelout")
        return rt.ifname, out, rt.next_hop

    def forward(self, ifname: str, packet: bytes, dst: IPv6Address, now: float) -> bool:
        """``ip6_forward`` of a packet (hop limit above 1) to a registered
        home address: tunnelled, True; else False (forward it as usual)."""
        b = self.node.mip6.bc.entries.get(dst)
        if b is None or not b.home_reg:
            return False
        p = bytearray(packet)
        p[7] -= 1
        r = self.tunnel_to(b, bytes(p), now)
        if r is not None:
            self.node.stats.inc("ip6s_forward")
            self.node.output(r[0], r[1], now, r[2])
        return True

    def tunnel_input(self, ifname: str, packet: bytes, src: IPv6Address, dst: IPv6Address,
                     now: float) -> bool:
        """IPv6-in-IPv6 from a care-of address to us (§10.4.5): True when it
        was a mobile node's reverse-tunnelled packet (taken, maybe dropped)."""
        node = self.node
        st = node.stats
        bc = node.mip6.bc.entries
        if src not in self.coas:
            return False
        try:
            inner, _l, _a = _core.decapsulate_ex(packet, 1)
        except KameError:
            st.inc("mip6s_revtunnel_bad")
            return True
        if len(inner) < 40 or inner[0] >> 4 != 6:
            st.inc("mip6s_revtunnel_bad")
            return True
        b = bc.get(IPv6Address(inner[8:24]))
        if b is None or not b.home_reg or b.coa != src or b.ha_addr != dst:
            st.inc("mip6s_revtunnel_bad")  # §10.4.5: inner source not bound to the outer
            return True
        st.inc("mip6s_revtunnel")
        dmac = (b"\x33\x33" + inner[36:40]) if inner[24] == 0xFF else bytes(6)
        node.ip6_input(ifname, dmac + bytes(6) + b"\x86\xdd" + inner, now)
        return True

    # --- ICMPv6 144 / 146 (§10.5, §10.6) ---------------------------------------------------

    def icmp6_input(self, ifname: str, hdr: Any, msg: Any, now: float) -> None:
        node = self.node
        st = node.stats
        body = bytes(msg.body)
        if msg.code != 0 or len(body) < 4:
            st.inc("mip6s_icmpbad")
            return
        ident = body[:2]
        if msg.type == ICMP6_HADISCOV_REQUEST:
            # §10.5: to the Home-Agents anycast address of one of our home
            # prefixes; the reply lists our address in that prefix
            st.inc("mip6s_dhaad")
            for i in self.ifnames:
                for net, ifa in self.prefixes(i):
                    if hdr.dst == ha_anycast(net):
                        has = self._home_agent_ints(i, net, ifa.addr)
                        reply = _core.Icmpv6Unknown(ICMP6_HADISCOV_REPLY, 0, ident + b"\0\0"
                                                    + b"".join(x.to_bytes(16, "big")
                                                               for x in has))
                        self._icmp6_out(ifa.addr, hdr.src, reply, None, now)
                        st.inc("mip6s_odhaad")
                        return
            st.inc("mip6s_icmpbad")
        elif msg.type == ICMP6_MOBILEPREFIX_SOLICIT:
            # §10.6: only from a registered mobile node (its home address
            # in the source after the Home Address option's swap)
            st.inc("mip6s_mps")
            b = node.mip6.bc.lookup(hdr.src)
            if b is None or not b.home_reg or b.ifname is None:
                st.inc("mip6s_icmpbad")
                return
            if self.mpa.pop(b.home, None) is not None:
                st.inc("mip6s_mpaacked")
            self.mpa_output(b, ident, now)
            st.inc("mip6s_omps")

    def mpa_output(self, b: Binding, ident: bytes, now: float) -> None:
        """A Mobile Prefix Advertisement to the mobile node of ``b`` (§6.8,
        §10.6): the prefixes of its home link, each with its remaining
        lifetimes, to the care-of address through a type 2 routing header."""
        if b.ifname is None or b.ha_addr is None:
            return
        opts = b"".join(
            _core.NdOptPrefixInfo(net.network_address, net.prefixlen, True, True,
                                  _lt32(self.prefix_lifetime(b.ifname, net, ifa, now)),
                                  _lt32(min(ifa.pltime_expire - now,
                                            self.prefix_lifetime(b.ifname, net, ifa, now))
                                        )).to_bytes()
            for net, ifa in self.prefixes(b.ifname))
        # §6.8: the M and O flags as the home link's Router Advertisements have them
        rs = getattr(self.node.rtr, "_ra", {}).get(b.ifname)
        mo = (0x80 * rs.config.managed | 0x40 * rs.config.other) if rs is not None else 0
        adv = _core.Icmpv6Unknown(ICMP6_MOBILEPREFIX_ADVERT, 0,
                                  ident + bytes([mo, 0]) + opts)
        self._icmp6_out(b.ha_addr, b.coa, adv, b.home, now)

    # --- unsolicited Mobile Prefix Advertisements (§10.6.2, §10.6.3) ----------------------

    def _pfx_state(self, ifname: str) -> tuple[tuple[IPv6Network, float, float], ...]:
        """The prefixes of ``ifname`` with their absolute expiries: changes
        other than the passing of time change it."""
        out = []
        st = getattr(self.node.rtr, "_ra", {}).get(ifname)
        adv = {IPv6Network(f"{p.prefix}/{p.prefixlen}", strict=False):
               (p.valid_lifetime, p.preferred_lifetime)
               for p in (st.config.prefixes if st is not None else ())}
        for net, ifa in self.prefixes(ifname):
            out.append((net, float(ifa.vltime_expire), float(ifa.pltime_expire)))
            if net in adv:
                out.append((net, float(adv[net][0]), float(adv[net][1])))
        return tuple(sorted(out, key=lambda t: (int(t[0].network_address), t[0].prefixlen,
                                                t[1], t[2])))

    def _check_prefixes(self, now: float) -> None:
        """A home link whose prefixes changed: every mobile node registered
        there gets an unsolicited advertisement after a random delay of
        MinMobPfxAdvInterval to MIN(MaxMobPfxAdvInterval, the preferred
        lifetime) (§10.6.2); sooner if the prefix runs out before."""
        kv = self.node.knobs._values
        for ifname in self.ifnames:
            cur = self._pfx_state(ifname)
            prev = self._pfx_seen.get(ifname)
            self._pfx_seen[ifname] = cur
            if prev is None or prev == cur:
                continue
            lo = kv["net.inet6.mip6.mpa_min_interval"]
            for b in self.node.mip6.bc.entries.values():
                if not b.home_reg or b.ifname != ifname:
                    continue
                link = self.home_link(b.home)
                if link is None:
                    continue
                _i, net, ifa = link
                pl = min(ifa.pltime_expire - now, self.prefix_lifetime(ifname, net, ifa, now))
                hi = min(kv["net.inet6.mip6.mpa_max_interval"], pl)
                delay = lo + self.node.rng.random() * abs(hi - lo)
                delay = max(0.0, min(delay, pl / 2))
                m = self.mpa.get(b.home)
                at = now + delay
                if m is None or at < m.at:
                    self.mpa[b.home] = _MpaState(at, int.from_bytes(os.urandom(2), "big"))
                    self.node.gate.arm(at)

    def _mpa_due(self, now: float) -> None:
        st = self.node.stats
        for home, m in list(self.mpa.items()):
            if m.at > now:
                continue
            b = self.node.mip6.bc.lookup(home)
            if b is None or not b.home_reg or b.ifname is None:
                del self.mpa[home]
                continue
            if m.sent > PREFIX_ADV_RETRIES:
                st.inc("mip6s_mpagiveup")
                del self.mpa[home]
                continue
            # a fresh identifier each time (as UMIP's mpa_id++)
            m.ident = int.from_bytes(os.urandom(2), "big")
            self.mpa_output(b, m.ident.to_bytes(2, "big"), now)
            st.inc("mip6s_ompa_unsol")
            st.inc("mip6s_omps")
            m.sent += 1
            m.at = now + PREFIX_ADV_TIMEOUT * (1 << (m.sent - 1))
            self.node.gate.arm(m.at)

    # --- Binding Refresh Request (§6.1.2) ----------------------------------------------

    def _brr_due(self, now: float) -> None:
        for home, t in list(self.brr.items()):
            if t > now:
                continue
            del self.brr[home]
            b = self.node.mip6.bc.lookup(home)
            if b is None or not b.home_reg or b.ha_addr is None or b.ifname is None:
                continue
            self.node.stats.inc("mip6s_obrr")
            self.node.mip6._send(b.ifname, b.ha_addr, b.coa, MH_BRR, now, b.home)

    def _icmp6_out(self, src: IPv6Address, dst: IPv6Address, msg: Any, home: IPv6Address | None,
                   now: float) -> None:
        node = self.node
        body = msg.to_bytes(src, home if home is not None else dst)
        ext, nh = b"", 58
        if home is not None:
            ext = _core.RoutingHeader(2, 1, [home], next_header=58).to_bytes()
            nh = 43
        rt = node.rtalloc(dst, now)
        if rt is None:
            node.stats.inc("ip6s_noroute")
            return
        hdr = _core.Ipv6Header(src, dst, next_header=nh, hop_limit=node.cache.info(rt.ifname).chlim,
                               payload_len=len(ext) + len(body))
        node.output(rt.ifname, hdr.to_bytes() + ext + body, now, rt.next_hop)

    # --- timers --------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        ts = [p.deadline for p in self.pending.values()]
        ts.extend(self.brr.values())
        ts.extend(m.at for m in self.mpa.values())
        ts.extend(e.expire for e in self.halist.values())
        return min(ts, default=None)

    def poll(self, now: float) -> None:
        for p in [p for p in self.pending.values() if p.deadline <= now]:
            del self.pending[p.home]
            self._dad_done(p, now)
        for k in [k for k, e in self.halist.items() if e.expire <= now]:
            del self.halist[k]
            self.node.stats.inc("mip6s_halistdel")
        if self.node.mip6.bc.entries:
            self._check_prefixes(now)
        else:
            self._pfx_seen.clear()
        if self.brr:
            self._brr_due(now)
        if self.mpa:
            self._mpa_due(now)


def _lt32(t: float) -> int:
    """A lifetime in seconds as an option carries it (infinity all ones)."""
    return 0xFFFFFFFF if t == math.inf else max(0, min(int(t), 0xFFFFFFFE))


def seq_newer(a: int, b: int) -> bool:
    return 0 < (a - b) & 0xFFFF < 0x8000

