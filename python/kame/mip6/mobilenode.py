"""``mip6_mncore.c`` / ``mip6_fsm.c`` (SHISA's kernel half of ``mnd``): the
mobile node of seed §6.2 (RFC 6275 §11), started by
:meth:`MobileNode.attach` with its home address, home prefix and home
agent on one interface.

- The home address lives on a home virtual interface (KAME's ``hif0``) as
  a /128, so it stays ours wherever the physical interface is; at home the
  node answers Neighbor Solicitations for it on the home link (a proxy
  entry for itself, §11.5.5).
- Movement detection (§11.5.1): on attachment to a link (the interface
  brought up, or :meth:`MobileNode.link_attached` from a link-layer
  event) a Router Solicitation at once and the current default router
  probed by NUD; found unreachable (:meth:`router_unreachable`), it
  leaves the default router list and we solicit again. Every Router
  Advertisement accepted on the
  interface is looked at (the router code's ``ra_hooks``). One advertising
  the home prefix means home; one from a new router advertising only
  other prefixes means a foreign link: the routers and prefixes learnt on
  the interface from other routers are forgotten (they are out of reach),
  and once stateless autoconfiguration has a usable address in an
  advertised prefix it is the care-of address (§11.5.2).
- Home registration (§11.7.1): a Binding Update with the A and H flags
  from the care-of address with a Home Address option, every one with a
  sequence number greater than the last; retransmitted without an answer
  after INITIAL_BINDACK_TIMEOUT (1 s; InitialBindackTimeoutFirstReg,
  ``net.inet6.mip6.first_reg_timeout_ms`` 1.5 s, when the home agent has
  no binding yet: its DAD takes a second), doubling up to
  MAX_BINDACK_TIMEOUT (32 s) and then every 32 s (§11.8); refreshed when 80 % of the granted
  lifetime has passed (or at the Binding Refresh Advice); status 135
  resynchronizes the sequence number (§11.7.3); another refusal stops it
  (``mip6s_barefused``).
- The tunnel (§11.3.1): while away, a packet of ours from the home address
  to a peer without a binding leaves IPv6-in-IPv6 from the care-of address
  to the home agent; IPv6-in-IPv6 from the home agent to the care-of
  address is decapsulated and its packet, for the home address, taken in.
- Route optimization (§11.6, §11.7.2) with a correspondent node
  (:meth:`route_optimize`, after the home registration is accepted): Home
  Test Init through the tunnel, Care-of Test Init directly, Kbm from the
  two keygen tokens, a signed Binding Update (lifetime at most
  MAX_RR_BINDING_LIFETIME, 420 s) and the correspondent's signed
  acknowledgement checked; then our packets to it leave from the care-of
  address with a Home Address option (§11.3.1), and its packets come
  with a type 2 routing header (§11.3.3: Hdr Ext Len 2, Segments Left 1
  and our home address, else dropped, ``mip6s_rh2bad``).
- Returning home (§11.5.5): a deregistration to the home agent (lifetime
  0, from the home address, without a Home Address option) and to each
  correspondent (after a Home Test alone, Kbm from the home token);
  once the home agent acknowledges it, an unsolicited Neighbor
  Advertisement claims the home address back and the tunnel is no longer
  used.

- Mobile Prefix Discovery (§11.4.2, §11.4.3): the home address takes the
  home prefix's lifetimes (from RAs at home, from Mobile Prefix
  Advertisements away; the address is deprecated when the preferred
  lifetime ends); when 80 % of the valid lifetime last heard is gone (our
  choice) a Mobile Prefix Solicitation goes from the care-of address with
  a Home Address option to the home agent, again after
  INITIAL_SOLICIT_TIMER (3 s) doubling until an advertisement comes or
  the lifetime ends (``mip6s_mpsfail``). An advertisement is taken only
  from our home agent to our home address while away, its options cut at
  ``nd6_maxndopt``; an unsolicited one is acknowledged with a
  solicitation, whose answer is taken. Where the SPD asks for ESP on them (``spdadd HA HOA icmp6 -P
  in ipsec esp/transport//require``), unprotected ones never get here.
- Source address selection (RFC 6724 rule 4, RFC 6275 §11.3.1): the home
  address is preferred over the care-of address (never for Neighbor
  Discovery, whose source is an address of the interface); a Linux
  socket's ``IPV6_ADDR_PREFERENCES`` with ``IPV6_PREFER_SRC_COA``
  (RFC 5014) reverses it.

The binding update list is bounded by ``net.inet6.mip6.bul_max``
(``mip6s_bulfull`` past it); Binding Errors (§11.3.6) end the route
optimization they are about. The home agent's address is configured,
or found by Dynamic Home Agent Address Discovery (§11.4.1: ICMPv6 144 from
the first care-of address to the home prefix's Home-Agents anycast
address, INITIAL_DHAAD_TIMEOUT 3 s doubled, DHAAD_RETRIES 4; the first
address of the reply).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network
from typing import TYPE_CHECKING, Any

from kame import _core
from kame.errors import ConfigError, KameError
from kame.in6_var import IfType, In6Flags
from kame.mip6.homeagent import proxy_add, proxy_remove
from kame.nd6.types import RaInput, SendNA

if TYPE_CHECKING:
    from kame.node import Node

__all__ = ["INITIAL_BINDACK_TIMEOUT", "MAX_BINDACK_TIMEOUT", "MAX_RR_BINDING_LIFETIME",
           "BulEntry", "MobileNode"]

MH_BRR, MH_HOTI, MH_COTI, MH_HOT, MH_COT, MH_BU, MH_BA, MH_BE = range(8)
BU_ACK, BU_HOME = 0x8000, 0x4000
IPPROTO_MH = 135

#: RFC 6275 §12
DHAAD_RETRIES = 4
INITIAL_DHAAD_TIMEOUT = 3.0
INITIAL_SOLICIT_TIMER = 3.0
INITIAL_BINDACK_TIMEOUT = 1.0
MAX_BINDACK_TIMEOUT = 32.0
MAX_RR_BINDING_LIFETIME = 420
_ALL_NODES = IPv6Address("ff02::1")


@dataclass(slots=True)
class BulEntry:
    """One binding update list entry (RFC 6275 §11.1)."""

    peer: IPv6Address
    home_reg: bool
    seq: int
    #: the lifetime asked for, s
    lifetime: int
    #: ``rr`` (tests running), ``wait`` (Binding Update sent), ``bound``,
    #: ``dereg`` (deregistration sent), ``failed``
    state: str = "wait"
    coa: IPv6Address | None = None
    timeout: float = INITIAL_BINDACK_TIMEOUT
    retrans_at: float | None = None
    #: when the binding the peer granted ends and when to refresh it
    expire: float = 0.0
    refresh_at: float | None = None
    #: Return Routability
    hoti_cookie: bytes = b""
    coti_cookie: bytes = b""
    home_token: bytes | None = None
    careof_token: bytes | None = None
    hni: int = 0
    coni: int = 0
    kbm: bytes | None = None
    status: int | None = None


class MobileNode:
    """The mobile node role of one :class:`~kame.node.Node`."""

    def __init__(self, node: Node, ifname: str, home: IPv6Address, prefix: IPv6Network,
                 ha: IPv6Address | None, hif: str) -> None:
        self.node = node
        self.ifname = ifname
        self.home = home
        self.prefix = prefix
        #: the home agent: configured, or found by Dynamic Home Agent
        #: Address Discovery from the first care-of address (§11.4.1)
        self.ha = ha
        self._dhaad: tuple[int, float, float, int] | None = None  # id, timeout, at, sent
        self.hif = hif
        #: at home (no tunnel, no Home Address option) or away
        self.away = False
        self.coa: IPv6Address | None = None
        #: the router of the link we are on, the prefixes it advertised
        self.router: IPv6Address | None = None
        self.foreign: list[IPv6Network] = []
        self.bul: dict[IPv6Address, BulEntry] = {}
        #: correspondents that answered a Mobility Header with Parameter
        #: Problem code 1 (§11.3.5): no route optimization with them;
        #: bounded like the update list, the oldest forgotten first
        self.no_ro: dict[IPv6Address, None] = {}
        self._seq = int.from_bytes(os.urandom(2), "big")
        #: the home prefix's lifetimes as last heard (RAs at home, Mobile
        #: Prefix Advertisements away): absolute expiries and the valid
        #: lifetime they were heard with
        self.home_valid_until = math.inf
        self.home_pref_until = math.inf
        self.home_lifetime = math.inf
        #: an outstanding Mobile Prefix Solicitation: identifier, timeout, when next
        self._mps: tuple[int, float, float] | None = None
        #: when the next solicitation is due (inf: none), and whether the
        #: home address's preferred and valid ends were dealt with
        self._mps_at = math.inf
        self._pref_done = self._valid_done = True

    @classmethod
    def attach(cls, node: Node, ifname: str, home: str, ha: IPv6Address | str | None, now: float,
               *, hif: str = "hif0") -> MobileNode:
        """``home`` as ``ADDR/PREFIXLEN``; ``ha`` the home agent's address
        (None: discovered, §11.4.1)."""
        if node.mip6.mn is not None:
            raise ConfigError("already a mobile node")
        if node.knobs.forwarding:
            raise ConfigError("a mobile node is a host: net.inet6.ip6.forwarding=0")
        node._ifnet(ifname)
        if not isinstance(home, str) or "/" not in home:
            raise TypeError("the home address is a str ADDR/PREFIXLEN")
        net = IPv6Network(home, strict=False)
        addr = IPv6Address(home.split("/")[0])
        ha_a = IPv6Address(ha) if ha is not None else None
        if ha_a is not None and ha_a not in net:
            raise ConfigError(f"home agent {ha_a} not in the home prefix {net}")
        node.add_interface(hif, None, type=IfType.LOOPBACK)
        node.up(hif, now)
        node.add_address(hif, f"{addr}/128", now)
        mn = node.mip6.mn = cls(node, ifname, addr, net, ha_a, hif)
        node.rtr.ra_hooks.append(mn.ra_input)
        proxy_add(node, ifname, addr, now)  # home until an RA says otherwise
        return mn

    # --- movement detection (§11.5.1) ---------------------------------------------

    def ra_input(self, ifname: str, ra: RaInput, now: float) -> None:
        if ifname != self.ifname:
            return
        nets = [IPv6Network(f"{p.prefix}/{p.prefixlen}", strict=False)
                for p in ra.prefixes if p.valid_lifetime > 0]
        if not nets:
            return
        st = self.node.stats
        if self.prefix in nets:
            for p in ra.prefixes:
                if IPv6Network(f"{p.prefix}/{p.prefixlen}", strict=False) == self.prefix:
                    self._home_lifetimes(p.valid_lifetime, p.preferred_lifetime, now)
            self.router = ra.src
            if self.away:
                st.inc("mip6s_movement")
                self._forget_others(ra.src, nets)
                self.returned_home(now)
            return
        if self.away and self.coa is not None and any(self.coa in n for n in nets):
            return  # our care-of address still on-link: the same link (maybe another router)
        if ra.src == self.router and self.foreign == nets:
            return
        st.inc("mip6s_movement")
        self.router = ra.src
        self.foreign = nets
        self._forget_others(ra.src, nets)
        if not self.away:
            proxy_remove(self.node, self.ifname, self.home, now)
        self.away = True
        self.coa = None
        self._try_coa(now)

    # --- attachment and the old router's reachability (§11.5.1) ---------------------------

    def link_attached(self, now: float) -> None:
        """The interface came up on a link, maybe a new one (a link-layer
        event): a Router Solicitation at once rather than waiting for the
        next periodic advertisement, and the current default router's
        reachability probed by NUD; if it does not answer, it is gone
        (:meth:`router_unreachable`)."""
        node = self.node
        node.stats.inc("mip6s_attach")
        node._handle(node.rtr.start_rs(self.ifname, now, immediate=True), now)
        if self.router is not None:
            out = node.cache.probe(self.ifname, self.router, now)
            if out:
                node.stats.inc("mip6s_nudprobe")
                node._handle(out, now)

    def router_unreachable(self, ifname: str, addr: IPv6Address, now: float) -> None:
        """NUD found a neighbor unreachable; our default router: we may
        have moved. It leaves the default router list and we solicit."""
        if ifname != self.ifname or addr != self.router:
            return
        node = self.node
        node.stats.inc("mip6s_routerlost")
        self.router = None
        for dr in [d for d in node.rtr.routers if d.ifname == ifname and d.addr == addr]:
            node.rtr._router_remove(dr)
        node.rtr.select_default_router()
        node._handle(node.rtr.start_rs(ifname, now, immediate=True), now)

    # --- the home prefix's lifetimes and Mobile Prefix Discovery (§11.4.2, §11.4.3) ------

    def _home_lifetimes(self, valid: int, preferred: int, now: float) -> None:
        """The home address's lifetimes from the home prefix's (seconds,
        all ones infinite)."""
        v = math.inf if valid == 0xFFFFFFFF else float(valid)
        p = math.inf if preferred == 0xFFFFFFFF else float(min(preferred, valid))
        self.home_lifetime = v
        self.home_valid_until, self.home_pref_until = now + v, now + p
        self._mps_at = math.inf if v == math.inf else now + 0.8 * v
        self._pref_done, self._valid_done = p == math.inf, v == math.inf
        ifa = self.node.addrs.find(self.hif, self.home)
        if ifa is not None:
            ifa.vltime_expire, ifa.pltime_expire = now + v, now + p
            if p > 0:
                ifa.flags &= ~In6Flags.DEPRECATED
            else:
                ifa.flags |= In6Flags.DEPRECATED
        self.node.stats.inc("mip6s_homelifetime")
        if self._mps is not None and self._mps_at > now:
            self._mps = None

    def _registered(self) -> bool:
        h = self.bul.get(self.ha) if self.ha is not None else None
        return h is not None and h.state in ("bound", "wait")

    def _mps_send(self, now: float) -> None:
        """A Mobile Prefix Solicitation to the home agent from the care-of
        address with our home address in a Home Address option and a random
        identifier (§6.7, §11.4.2); retransmitted after INITIAL_SOLICIT_TIMER
        (3 s) doubling up to MAX_BINDACK_TIMEOUT (32 s, as UMIP), until an
        advertisement comes or the home prefix's valid lifetime runs out."""
        node = self.node
        ha, coa = self.ha, self.coa
        if ha is None or coa is None or not self.away:
            return
        if self._mps is None:
            ident, timeout = int.from_bytes(os.urandom(2), "big"), INITIAL_SOLICIT_TIMER
        else:
            ident, timeout, _at = self._mps
            timeout = min(timeout * 2, MAX_BINDACK_TIMEOUT)
        msg = _core.Icmpv6Unknown(146, 0, ident.to_bytes(2, "big") + b"\0\0")
        self._send_from(coa, ha, 58, msg.to_bytes(self.home, ha), now)
        node.stats.inc("mip6s_ompsol")
        self._mps = (ident, timeout, now + timeout)
        node.gate.arm(now + timeout)

    def mpa_input(self, hdr: Any, msg: Any, now: float) -> None:
        """A Mobile Prefix Advertisement (§11.4.3): taken only from our home
        agent to our home address (after the type 2 routing header) while
        away. The answer to our solicitation (its identifier) sets the home
        address's lifetimes from its Prefix Information for the home prefix
        (an option whose preferred lifetime passes its valid one is
        skipped); an unsolicited one is acknowledged with a solicitation of
        our own (when none is outstanding), whose answer is taken (as
        UMIP's ``mpd_recv_mpa``)."""
        st = self.node.stats
        st.inc("mip6s_mpa")
        body = bytes(msg.body)
        if msg.code != 0 or len(body) < 4 or hdr.src != self.ha or hdr.dst != self.home \
                or not self.away:
            st.inc("mip6s_mpabad")
            return
        maxopt = self.node.knobs._values["net.inet6.icmp6.nd6_maxndopt"]
        try:
            opts, counts = _core.parse_nd_options(body[4:], maxopt)
        except KameError:
            st.inc("mip6s_mpabad")
            return
        if counts.get("toomanyopt"):
            st.inc("mip6s_mpaopts", counts["toomanyopt"])
        ident = int.from_bytes(body[:2], "big")
        if self._mps is None or self._mps[0] != ident:
            st.inc("mip6s_mpaunsol")
            if self._mps is None and self._registered():
                self._mps_at = math.inf
                self._mps_send(now)
            return
        self._mps = None
        for o in opts:
            if not isinstance(o, _core.NdOptPrefixInfo):
                continue
            try:
                net = IPv6Network(f"{o.prefix}/{o.prefix_len}", strict=False)
            except ValueError:
                st.inc("mip6s_mpabad")
                continue
            if net != self.prefix:
                st.inc("mip6s_mpaother")
            elif o.preferred_lifetime > o.valid_lifetime:
                st.inc("mip6s_mpabad")
            else:
                self._home_lifetimes(o.valid_lifetime, o.preferred_lifetime, now)

    def _forget_others(self, router: IPv6Address, nets: list[IPv6Network]) -> None:
        """The routers and prefixes of the link we left are out of reach."""
        rtr = self.node.rtr
        gone = [d for d in rtr.routers if d.ifname == self.ifname and d.addr != router]
        for dr in gone:
            rtr._router_remove(dr)
        for key in [k for k in rtr.prefixes if k[0] == self.ifname and k[1] not in nets]:
            rtr._prefix_del(key)
        rtr.select_default_router()
        # the addresses of the prefixes left behind are no longer on-link
        # (KAME's IN6_IFF_DETACHED, pfxlist_onlink_check); the neighbors
        # of that link are gone
        for ifa in self.node.addrs.on(self.ifname):
            if ifa.addr.is_link_local:
                continue
            if any(ifa.addr in n for n in nets):
                ifa.flags &= ~In6Flags.DETACHED
            else:
                ifa.flags |= In6Flags.DETACHED
        cache = self.node.cache
        old_routers = {d.addr for d in gone}
        for ln in [ln for ln in cache if ln.ifname == self.ifname and (
                ln.addr in old_routers or not ln.addr.is_link_local
                and not any(ln.addr in n for n in nets))]:
            cache.delete(ln.ifname, ln.addr)

    def _try_coa(self, now: float) -> None:
        """A care-of address once autoconfiguration has one (§11.5.2)."""
        if not self.away or self.coa is not None:
            return
        for ifa in self.node.addrs.on(self.ifname):
            if ifa.usable and any(ifa.addr in n for n in self.foreign):
                self.coa = ifa.addr
                self.node.stats.inc("mip6s_coachange")
                if self.ha is None:
                    self._dhaad_send(now, first=True)
                else:
                    self.home_register(now)
                return

    # --- Binding Updates ----------------------------------------------------------------

    def _entry(self, peer: IPv6Address, home_reg: bool, lifetime: int) -> BulEntry | None:
        e = self.bul.get(peer)
        if e is None:
            if len(self.bul) >= self.node.knobs._values["net.inet6.mip6.bul_max"]:
                self.node.stats.inc("mip6s_bulfull")
                return None
            e = self.bul[peer] = BulEntry(peer, home_reg, self._seq, lifetime)
        return e

    def _next_seq(self, e: BulEntry) -> int:
        e.seq = (e.seq + 1) & 0xFFFF
        return e.seq

    # --- Dynamic Home Agent Address Discovery (§11.4.1) ------------------------------

    def _dhaad_send(self, now: float, first: bool = False) -> None:
        """A Home Agent Address Discovery Request from the care-of address
        to the Home-Agents anycast address of the home prefix, again after
        INITIAL_DHAAD_TIMEOUT (3 s) doubled, DHAAD_RETRIES (4) times."""
        from kame.mip6.homeagent import ha_anycast

        node = self.node
        if self.coa is None:
            return
        if first or self._dhaad is None:
            ident = int.from_bytes(os.urandom(2), "big")
            timeout, sent = INITIAL_DHAAD_TIMEOUT, 0
        else:
            ident, timeout, _at, sent = self._dhaad
            if sent > DHAAD_RETRIES:
                node.stats.inc("mip6s_dhaadfail")
                self._dhaad = None
                return
            timeout *= 2
        msg = _core.Icmpv6Unknown(144, 0, ident.to_bytes(2, "big") + b"\0\0")
        dst = ha_anycast(self.prefix)
        self._send_from_coa_icmp(self.coa, dst, msg, now)
        node.stats.inc("mip6s_odhaadreq")
        self._dhaad = (ident, timeout, now + timeout, sent + 1)
        node.gate.arm(now + timeout)

    def _send_from_coa_icmp(self, coa: IPv6Address, dst: IPv6Address, msg: Any,
                            now: float) -> None:
        node = self.node
        rt = node.rtalloc(dst, now)
        if rt is None:
            node.stats.inc("ip6s_noroute")
            return
        body = msg.to_bytes(coa, dst)
        hdr = _core.Ipv6Header(coa, dst, next_header=58,
                               hop_limit=node.cache.info(rt.ifname).chlim, payload_len=len(body))
        node.output(rt.ifname, hdr.to_bytes() + body, now, rt.next_hop)

    def icmp6_input(self, hdr: Any, msg: Any, now: float) -> None:
        """A Home Agent Address Discovery Reply (§11.4.1): the first address
        in it, in the home prefix, is our home agent."""
        if msg.type == 147:
            self.mpa_input(hdr, msg, now)
            return
        st = self.node.stats
        body = bytes(msg.body)
        d = self._dhaad
        if msg.type != 145 or msg.code != 0 or d is None or hdr.dst != self.coa \
                or len(body) < 4 or int.from_bytes(body[:2], "big") != d[0]:
            st.inc("mip6s_icmpbad")
            return
        has = [IPv6Address(body[i:i + 16]) for i in range(4, len(body) - 15, 16)]
        has = [a for a in has if a in self.prefix and a != self.home]
        if not has:
            st.inc("mip6s_icmpbad")
            return
        st.inc("mip6s_dhaadreply")
        self._dhaad = None
        self.ha = has[0]
        self.home_register(now)

    def home_register(self, now: float) -> None:
        """A Binding Update with A and H to the home agent (§11.7.1)."""
        if self.ha is None:
            return
        kv = self.node.knobs._values
        e = self._entry(self.ha, True, kv["net.inet6.mip6.mn_lifetime"])
        if e is None:
            return
        # §11.8: with no binding at the home agent yet, InitialBindackTimeoutFirstReg
        # (1.5 s: room for the home agent's DAD), else INITIAL_BINDACK_TIMEOUT
        first = e.expire <= now
        e.state, e.coa = "wait", self.coa
        e.timeout = kv["net.inet6.mip6.first_reg_timeout_ms"] / 1000 if first \
            else INITIAL_BINDACK_TIMEOUT
        self._bu_send(e, now)

    def _bu_send(self, e: BulEntry, now: float) -> None:
        node = self.node
        st = node.stats
        if e.coa is None and e.state != "dereg":
            return
        seq = self._next_seq(e)
        dereg = e.state == "dereg"
        coa = self.home if dereg else e.coa
        assert coa is not None
        lifetime = 0 if dereg else e.lifetime // 4
        flags = BU_ACK | (BU_HOME if e.home_reg else 0)
        if e.home_reg:
            mh = _core.mh_build(MH_BU, src=self.home, dst=e.peer, seq=seq, flags=flags,
                                lifetime=lifetime)
        else:
            if e.kbm is None:
                return
            mh = _core.mh_build(MH_BU, src=self.home, dst=e.peer, seq=seq, flags=flags,
                                lifetime=lifetime, nonce_indices=(e.hni, e.coni),
                                auth=(e.kbm, coa, e.peer))
        st.inc("mip6s_obu")
        st.inc("mip6s_omobility")
        self._send_from(coa, e.peer, IPPROTO_MH, mh, now)
        e.retrans_at = now + e.timeout
        node.gate.arm(e.retrans_at)

    def _send_from(self, src: IPv6Address, dst: IPv6Address, nh: int, upper: bytes,
                   now: float) -> None:
        """An upper-layer message from ``src``: with a Home Address option
        when that is a care-of address (a Binding Update, §11.7.1)."""
        node = self.node
        rt = node.rtalloc(dst, now)
        if rt is None:
            node.stats.inc("ip6s_noroute")
            return
        ext = b""
        if src != self.home:
            ext = _core.DestOpts([_core.Ipv6Option.home_address(self.home)],
                                 next_header=nh).to_bytes()
            node.stats.inc("mip6s_ohao")
        hdr = _core.Ipv6Header(src, dst, next_header=60 if ext else nh,
                               hop_limit=node.cache.info(rt.ifname).chlim,
                               payload_len=len(ext) + len(upper))
        node.output(rt.ifname, hdr.to_bytes() + ext + upper, now, rt.next_hop)

    # --- Return Routability (§11.6) -----------------------------------------------------

    def route_optimize(self, cn: IPv6Address | str, now: float) -> bool:
        """Start route optimization with correspondent ``cn`` (§11.7.2):
        False when the home registration is not in place or the list is full."""
        cn = IPv6Address(cn)
        h = self.bul.get(self.ha) if self.ha is not None else None
        if not self.away or h is None or h.state != "bound" or cn in self.no_ro:
            return False
        e = self._entry(cn, False, MAX_RR_BINDING_LIFETIME)
        if e is None:
            return False
        e.state, e.timeout, e.coa = "rr", INITIAL_BINDACK_TIMEOUT, self.coa
        self._rr_start(e, now)
        return True

    def _rr_start(self, e: BulEntry, now: float) -> None:
        st = self.node.stats
        e.home_token = e.careof_token = e.kbm = None
        if self.away:
            e.coa = self.coa
        e.hoti_cookie = os.urandom(8)
        st.inc("mip6s_ohoti")
        self._send_from(self.home, e.peer, IPPROTO_MH,
                        _core.mh_build(MH_HOTI, src=self.home, dst=e.peer,
                                       cookie=e.hoti_cookie), now)
        if self.away and e.coa is not None:
            e.coti_cookie = os.urandom(8)
            st.inc("mip6s_ocoti")
            self._send_from_coa(e.coa, e.peer,
                                _core.mh_build(MH_COTI, src=e.coa, dst=e.peer,
                                               cookie=e.coti_cookie), now)
        e.retrans_at = now + e.timeout
        self.node.gate.arm(e.retrans_at)

    def _send_from_coa(self, coa: IPv6Address, dst: IPv6Address, mh: bytes, now: float) -> None:
        """A Care-of Test Init: from the care-of address, no option (§6.1.4)."""
        node = self.node
        rt = node.rtalloc(dst, now)
        if rt is None:
            node.stats.inc("ip6s_noroute")
            return
        hdr = _core.Ipv6Header(coa, dst, next_header=IPPROTO_MH,
                               hop_limit=node.cache.info(rt.ifname).chlim, payload_len=len(mh))
        node.output(rt.ifname, hdr.to_bytes() + mh, now, rt.next_hop)

    def _rr_ready(self, e: BulEntry, now: float) -> None:
        if e.home_token is None or (self.away and e.careof_token is None):
            return
        e.kbm = _core.mip6_kbm(e.home_token, e.careof_token if self.away else None)
        e.state = "wait" if self.away else "dereg"
        e.timeout = INITIAL_BINDACK_TIMEOUT
        self._bu_send(e, now)

    # --- Mobility Header input (§11.3.3-§11.7.3) -----------------------------------------

    def mh_input(self, ifname: str, hdr: Any, mh: Any, raw: bytes, now: float) -> None:
        st = self.node.stats
        t = mh.mh_type
        if t == MH_BA:
            self._ba_input(hdr, mh, raw, now)
        elif t in (MH_HOT, MH_COT):
            st.inc("mip6s_hot" if t == MH_HOT else "mip6s_cot")
            e = self.bul.get(hdr.src)
            if e is None or e.state not in ("rr", "rrdereg"):
                st.inc("mip6s_rrunexpected")
                return
            if t == MH_HOT and hdr.dst == self.home and mh.cookie == e.hoti_cookie:
                e.home_token, e.hni = mh.token, mh.nonce_index
            elif t == MH_COT and hdr.dst == e.coa and mh.cookie == e.coti_cookie:
                e.careof_token, e.coni = mh.token, mh.nonce_index
            else:
                st.inc("mip6s_rrunexpected")
                return
            self._rr_ready(e, now)
        elif t == MH_BE:
            st.inc("mip6s_be")
            e = self.bul.get(hdr.src)
            if e is not None and not e.home_reg and mh.home_address in (self.home, IPv6Address("::")):
                del self.bul[hdr.src]  # §11.3.6: no more route optimization with it
        elif t == MH_BRR:
            st.inc("mip6s_brr")
            e = self.bul.get(hdr.src)
            if e is None or e.state != "bound":
                st.inc("mip6s_brrunexpected")
            else:
                if e.home_reg:
                    self.home_register(now)
                else:
                    e.state = "rr"
                    self._rr_start(e, now)
        else:
            st.inc("mip6s_othertype")

    def ctlinput(self, err: Any) -> None:
        """An ICMPv6 error about one of our Mobility Headers (§11.3.5):
        Parameter Problem code 1 (the next header 135 unknown) says the
        correspondent does not do Mobile IPv6: its entry goes, and route
        optimization is not tried with it again."""
        if err.type != 4 or err.code != 1:
            return
        peer = err.dst
        e = self.bul.get(peer)
        if e is None or e.home_reg:
            return
        del self.bul[peer]
        self.node.stats.inc("mip6s_rrnotsupported")
        self.no_ro[peer] = None
        if len(self.no_ro) > self.node.knobs._values["net.inet6.mip6.bul_max"]:
            del self.no_ro[next(iter(self.no_ro))]

    def _ba_input(self, hdr: Any, mh: Any, raw: bytes, now: float) -> None:
        st = self.node.stats
        st.inc("mip6s_ba")
        e = self.bul.get(hdr.src)
        if e is None or hdr.dst != self.home or e.state not in ("wait", "dereg", "bound"):
            st.inc("mip6s_baunexpected")
            return
        if not e.home_reg:
            coa = self.home if e.state == "dereg" else e.coa
            if e.kbm is None or mh.auth_data is None or coa is None or \
                    not _core.mh_verify_auth(raw, e.kbm, coa, e.peer):
                st.inc("mip6s_baauthfail")  # §11.7.3: silently discarded
                return
        if mh.status == 135:  # §11.7.3: resynchronize and send again
            st.inc("mip6s_baseqno")
            e.seq = mh.seq
            e.timeout = INITIAL_BINDACK_TIMEOUT
            self._bu_send(e, now)
            return
        if mh.seq != e.seq:
            st.inc("mip6s_baunexpected")
            return
        e.status = mh.status
        if mh.status >= 128:
            st.inc("mip6s_barefused")
            e.state, e.retrans_at, e.refresh_at = "failed", None, None
            return
        e.retrans_at = None
        if e.state == "dereg":
            del self.bul[e.peer]
            if e.home_reg:
                st.inc("mip6s_homedereg")
                self._claim_home(now)
            return
        granted = min(mh.lifetime * 4, e.lifetime)
        e.state, e.expire = "bound", now + granted
        adv = mh.refresh_advice
        e.refresh_at = now + (adv * 4 if adv and adv * 4 < granted else granted * 0.8)
        self.node.gate.arm(e.refresh_at)
        st.inc("mip6s_bound")
        if e.home_reg:  # a new care-of address: the correspondents' bindings again
            for o in list(self.bul.values()):
                if not o.home_reg and o.coa != self.coa and o.state in ("bound", "wait", "rr"):
                    o.state, o.timeout = "rr", INITIAL_BINDACK_TIMEOUT
                    self._rr_start(o, now)

    # --- returning home (§11.5.5) ---------------------------------------------------------

    def returned_home(self, now: float) -> None:
        node = self.node
        node.stats.inc("mip6s_returnhome")
        self.away, self.coa, self.foreign = False, None, []
        proxy_add(node, self.ifname, self.home, now)
        for e in list(self.bul.values()):
            e.timeout = INITIAL_BINDACK_TIMEOUT
            if e.home_reg:
                e.state = "dereg"
                self._bu_send(e, now)
            elif e.state == "bound":
                e.state = "rrdereg"  # a Home Test alone, then the deregistration
                self._rr_start(e, now)
            else:
                del self.bul[e.peer]

    def _claim_home(self, now: float) -> None:
        self.node._handle([SendNA(self.ifname, self.home, _ALL_NODES, self.home, False, False,
                                  True, True, None)], now)

    # --- the tunnel and route optimization of our packets (§11.3.1) ----------------------

    def output(self, packet: bytes, now: float) -> tuple[str, bytes, IPv6Address] | None:
        """Our ``packet`` from the home address while away: with a Home
        Address option from the care-of address to a correspondent with a
        binding, else reverse tunnelled to the home agent; None otherwise
        (send it as it is), or an empty packet (drop it)."""
        if not self.away or self.coa is None or packet[8:24] != self.home.packed:
            return None
        node = self.node
        dst = IPv6Address(packet[24:40])
        e = self.bul.get(dst)
        nh = packet[6]
        if e is not None and not e.home_reg and e.state == "bound" and nh not in (0, 43, 44, 60):
            rt = node.rtalloc(dst, now)
            if rt is not None:
                ext = _core.DestOpts([_core.Ipv6Option.home_address(self.home)],
                                     next_header=nh).to_bytes()
                p = bytearray(packet[:40])
                p[4:6] = (int.from_bytes(packet[4:6], "big") + len(ext)).to_bytes(2, "big")
                p[6] = 60
                p[8:24] = self.coa.packed
                node.stats.inc("mip6s_ohao")
                return rt.ifname, bytes(p) + ext + packet[40:], rt.next_hop
        ha = self.ha
        h = self.bul.get(ha) if ha is not None else None
        if ha is None or h is None or h.expire <= now:
            # §11.3.1: no home address as a source before the home agent
            # accepted the registration (nor after it ran out): dropped
            node.stats.inc("mip6s_nohomereg")
            return "", b"", dst
        rt = node.rtalloc(ha, now)
        if rt is None:
            return None
        try:
            out = _core.encapsulate(packet, self.coa, ha, 1,
                                    hop_limit=node.cache.info(rt.ifname).chlim)
        except KameError:
            node.stats.inc("mip6s_tunnelerr")
            return None
        node.stats.inc("mip6s_revtunnelout")
        return rt.ifname, out, rt.next_hop

    def tunnel_input(self, ifname: str, packet: bytes, src: IPv6Address, dst: IPv6Address,
                     now: float) -> bool:
        """IPv6-in-IPv6 from the home agent to our care-of address (§11.3.2)."""
        if src != self.ha or dst != self.coa or not self.away:
            return False
        st = self.node.stats
        try:
            inner, _l, _a = _core.decapsulate_ex(packet, 1)
        except KameError:
            st.inc("mip6s_tunnelbad")
            return True
        if len(inner) < 40 or inner[0] >> 4 != 6 or inner[24:40] != self.home.packed:
            st.inc("mip6s_tunnelbad")
            return True
        st.inc("mip6s_tunnelin")
        self.node.ip6_input(ifname, bytes(6) * 2 + b"\x86\xdd" + inner, now)
        return True

    def rh2_input(self, ifname: str, packet: bytes, off: int, smac: bytes, now: float) -> bool:
        """A type 2 routing header the core refused at ``off`` (its Routing
        Type field), from a correspondent with a binding (§11.3.3): to our
        care-of address, Hdr Ext Len 2, Segments Left 1, our home address;
        then the packet goes on for the home address (the addresses swapped,
        Segments Left 0). True when taken (used or dropped)."""
        at = off - 2
        if at < 40 or len(packet) < at + 24 or packet[at + 2] != 2:
            return False
        st = self.node.stats
        if not self.away or self.coa is None or packet[24:40] != self.coa.packed \
                or packet[at + 1] != 2 or packet[at + 3] != 1 \
                or packet[at + 8:at + 24] != self.home.packed:
            st.inc("mip6s_rh2bad")
            return True
        p = bytearray(packet)
        p[at + 8:at + 24] = packet[24:40]
        p[24:40] = self.home.packed
        p[at + 3] = 0
        st.inc("mip6s_rh2")
        ifp = self.node.ifnets[ifname]
        self.node.ip6_input(ifname, (ifp.lladdr or bytes(6)) + smac + b"\x86\xdd" + bytes(p), now,
                            fast=False)
        return True

    # --- timers ----------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        ts = [t for e in self.bul.values() for t in (e.retrans_at, e.refresh_at) if t is not None]
        if self._dhaad is not None:
            ts.append(self._dhaad[2])
        if not self._pref_done:
            ts.append(self.home_pref_until)
        if not self._valid_done:
            ts.append(self.home_valid_until)
        if self.away and self._registered():
            # when a solicitation is due: 80 % of the home prefix's valid
            # lifetime as last heard gone (our choice; RFC 6275 §11.4.2:
            # "about to become invalid"), then its retransmissions
            if self._mps is not None:
                ts.append(self._mps[2])
            elif self._mps_at != math.inf:
                ts.append(self._mps_at)
        return min(ts) if ts else None

    def _poll_home_prefix(self, now: float) -> None:
        st = self.node.stats
        if not self._pref_done and self.home_pref_until <= now:
            self._pref_done = True
            ifa = self.node.addrs.find(self.hif, self.home)
            if ifa is not None:
                ifa.flags |= In6Flags.DEPRECATED
        if not self._valid_done and self.home_valid_until <= now:
            # the home prefix ran out with no word from the home agent
            self._valid_done, self._mps_at = True, math.inf
            if self._mps is not None:
                st.inc("mip6s_mpsfail")
                self._mps = None
            ifa = self.node.addrs.find(self.hif, self.home)
            if ifa is not None:
                ifa.flags |= In6Flags.DEPRECATED
            return
        if not self.away:
            self._mps = None
            return
        if not self._registered():
            return
        if self._mps is not None:
            if self._mps[2] <= now:
                self._mps_send(now)
        elif self._mps_at <= now:
            self._mps_at = math.inf
            self._mps_send(now)

    def poll(self, now: float) -> None:
        st = self.node.stats
        self._try_coa(now)
        self._poll_home_prefix(now)
        if self._dhaad is not None and self._dhaad[2] <= now:
            if self.away:
                self._dhaad_send(now)
            else:
                self._dhaad = None
        for e in list(self.bul.values()):
            if e.retrans_at is not None and e.retrans_at <= now:
                e.timeout = min(e.timeout * 2, MAX_BINDACK_TIMEOUT)
                st.inc("mip6s_buretrans")
                if e.state in ("rr", "rrdereg"):
                    self._rr_start(e, now)
                else:
                    self._bu_send(e, now)
            elif e.refresh_at is not None and e.refresh_at <= now and e.state == "bound":
                e.refresh_at = None
                st.inc("mip6s_burefresh")
                e.timeout = INITIAL_BINDACK_TIMEOUT
                if e.home_reg:
                    e.coa = self.coa
                    e.state = "wait"
                    self._bu_send(e, now)
                else:
                    e.state = "rr"
                    self._rr_start(e, now)
            if e.state == "bound" and e.expire <= now:
                st.inc("mip6s_bulexpire")
                del self.bul[e.peer]
