"""Neighbor Solicitation / Advertisement and DAD (KAME ``nd6_nbr.c``).

- :meth:`Nd6Nbr.ns_input` and :meth:`Nd6Nbr.na_input`: RFC 4861 §7.1
  validation with counted drops (``icp6s_badns``, ``icp6s_badna``,
  ``icp6s_badcode``, ``icp6s_nd_toomanyopt``) and the rate-limited debug
  log; §7.2.3 / §7.2.5 processing, answering with :class:`SendNA` actions
  and updating the :class:`~kame.nd6.cache.NeighborCache`.
- Duplicate Address Detection (RFC 4862 §5.4): tentative addresses,
  ``dad_count`` (DupAddrDetectTransmits) probes RetransTimer apart, the
  duplicated mark (§1.2), the rfc2462bis rule (a duplicated link-local
  address whose interface ID comes from the interface's own hardware
  address disables IPv6 on the interface), and the RFC 7527 nonce: with
  ``net.inet6.ip6.dad_enhanced`` each probe carries a random 6-byte nonce and
  a received DAD NS carrying one of ours is our own probe looped back — it
  is counted (``icp6s_nd_looped``) and ignored, not taken as a duplicate.
- Proxy NDP (§1.2, ``ndp -s ADDR LLADDR proxy``): a bounded table; the
  target must be link-local or inside a prefix of the interface's
  addresses; answered NAs have Override clear and no random delay (both as
  KAME documents); no unsolicited NA on configuration.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from ipaddress import IPv6Address
from typing import Any

from kame.addr import (
    LINKLOCAL_ALL_NODES,
    UNSPECIFIED,
    is_linklocal,
    is_multicast,
    is_solicited_node,
    solicited_node,
)
from kame.errors import ConfigError, LimitError
from kame.in6_var import AddrList, Ifnet, In6Flags, In6Ifaddr
from kame.knobs import Knobs
from kame.nd6.cache import NdLog, NeighborCache
from kame.nd6.types import (
    Action,
    AddressDuplicated,
    AddressReady,
    Event,
    InterfaceDisabled,
    NaInput,
    NsInput,
    SendNA,
    SendNS,
)
from kame.stats import Stats

__all__ = ["DadState", "Nd6Nbr", "ProxyTable", "count_options"]

ND_HOPLIMIT = 255


def count_options(stats: Stats, ignored: int) -> None:
    """Options past ``nd6_maxndopt`` were ignored by the core's walker."""
    if ignored:
        stats.inc("icp6s_nd_toomanyopt")


@dataclass(slots=True)
class DadState:
    """One DAD in progress (KAME ``struct dadq``)."""

    ifa: In6Ifaddr
    count: int
    next_time: float
    ns_ocount: int = 0
    nonces: list[bytes] = field(default_factory=list)
    looped: int = 0


class ProxyTable:
    """Proxy NDP entries: (ifname, target) -> link-layer address to advertise
    (``None``: the interface's own)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._t: dict[tuple[str, IPv6Address], bytes | None] = {}

    def add(self, ifname: str, target: IPv6Address, lladdr: bytes | None = None) -> None:
        key = (ifname, target)
        if key not in self._t and len(self._t) >= self.limit:
            raise LimitError(f"proxy NDP table full ({self.limit})", limit=self.limit)
        self._t[key] = lladdr

    def remove(self, ifname: str, target: IPv6Address) -> bool:
        return self._t.pop((ifname, target), 0) != 0

    def lookup(self, ifname: str, target: IPv6Address) -> tuple[bool, bytes | None]:
        key = (ifname, target)
        if key in self._t:
            return True, self._t[key]
        return False, None

    def __len__(self) -> int:
        return len(self._t)


Output = list[object]


class _SendNABuilder(Action):
    """Builds a :class:`SendNA` for the answer to each NS at a third of the
    cost of the frozen dataclass's ``__init__`` (which stores every field
    through ``object.__setattr__``): an unfrozen class with the very same
    slots stores the fields directly, then the object becomes a ``SendNA``
    (same slot layout, so ``__class__`` may be assigned). The result is an
    ordinary, frozen ``SendNA``: equal to, and hashing like, one built by
    ``SendNA(...)`` (checked in tests/test_nd6_fastpath.py)."""

    __slots__ = SendNA.__slots__

    def __init__(self, ifname: str, target: IPv6Address, dst: IPv6Address,
                 src: IPv6Address | None, router: bool, solicited: bool, override: bool,
                 include_tlla: bool, tlla: bytes | None) -> None:
        self.ifname = ifname
        self.target = target
        self.dst = dst
        self.src = src
        self.router = router
        self.solicited = solicited
        self.override = override
        self.include_tlla = include_tlla
        self.tlla = tlla
        self.__class__ = SendNA  # type: ignore[assignment]


_send_na: Any = _SendNABuilder


class Nd6Nbr:
    """NS/NA input and output decisions, DAD and proxy NDP for one node."""

    def __init__(
        self,
        knobs: Knobs,
        cache: NeighborCache,
        addrs: AddrList,
        ifnets: dict[str, Ifnet],
        *,
        rng: random.Random | None = None,
        stats: Stats | None = None,
        log: NdLog | None = None,
    ) -> None:
        self.knobs = knobs
        self.cache = cache
        self.addrs = addrs
        self.ifnets = ifnets
        self.rng = rng if rng is not None else random.Random()
        self.stats = stats if stats is not None else cache.stats
        self.log = log if log is not None else cache.log
        self.proxy = ProxyTable(knobs["net.inet6.icmp6.nd6_maxproxy"])
        self.dad: dict[tuple[str, IPv6Address], DadState] = {}
        #: (ifname, target) -> Neighbor Advertisements and DAD probes seen for
        #: an address not ours: a home agent's DAD for a mobile node's home
        #: address (:mod:`kame.mip6.homeagent`, RFC 6275 §10.3.1)
        self.watch: dict[tuple[str, IPv6Address], int] = {}
        #: the nonces of those DAD probes of ours (RFC 7527): one coming
        #: back is our own probe looped back, not another node's
        self.watch_nonces: dict[tuple[str, IPv6Address], bytes] = {}

    # --- helpers ------------------------------------------------------------

    def _bad(self, counter: str, now: float, why: str) -> Output:
        self.stats.inc(counter)
        self.log(now, counter, why)
        return []

    def _lladdr_ok(self, ifname: str, ll: bytes | None) -> bool:
        ifp = self.ifnets.get(ifname)
        if ll is None or ifp is None or ifp.addrlen == 0:
            return True
        return len(ll) == ifp.addrlen

    def _own_lladdr(self, ifname: str) -> bytes | None:
        ifp = self.ifnets.get(ifname)
        return ifp.lladdr if ifp is not None else None

    def add_proxy(self, ifname: str, target: IPv6Address, lladdr: bytes | None = None) -> None:
        """``ndp -s target lladdr proxy``: only link-local targets or targets
        in a prefix configured on ``ifname`` (§1.2 limitation)."""
        if not is_linklocal(target) and not any(
            ifa.prefixlen and (int(ifa.addr) >> (128 - ifa.prefixlen))
            == (int(target) >> (128 - ifa.prefixlen))
            for ifa in self.addrs.on(ifname)
            if not is_linklocal(ifa.addr)
        ):
            raise ConfigError(f"{target}: proxy target must be link-local or on-link")
        self.proxy.add(ifname, target, lladdr)

    # --- NS input (nd6_ns_input) ---------------------------------------------

    def ns_input(self, ifname: str, ns: NsInput, now: float) -> Output:
        """A received NS; returns actions (NA to send) and events."""
        return self.ns_input_fields(ifname, ns.src, ns.dst, ns.hop_limit, ns.target, ns.slla,
                                    ns.nonce, ns.code, ns.options_ignored, now)

    def ns_input_fields(self, ifname: str, src: IPv6Address, dst: IPv6Address, hop_limit: int,
                        target: IPv6Address, slla: bytes | None, nonce: bytes | None, code: int,
                        options_ignored: int, now: float) -> Output:
        """:meth:`ns_input` on the fields of an :class:`NsInput` (the node's
        fast path hands them over without building one)."""
        if options_ignored:
            self.stats.inc("icp6s_nd_toomanyopt")
        if code != 0:
            return self._bad("icp6s_badcode", now, f"NS code {code}")
        if hop_limit != ND_HOPLIMIT:
            return self._bad("icp6s_badns", now, f"NS hlim {hop_limit} from {src}")
        unspec = src._ip == 0  # type: ignore[attr-defined]
        if unspec and not is_solicited_node(dst):
            return self._bad("icp6s_badns", now, f"DAD NS to {dst}, not solicited-node")
        if (target._ip >> 120) == 0xFF:  # type: ignore[attr-defined]  # is_multicast
            return self._bad("icp6s_badns", now, f"NS for multicast target {target}")
        if unspec and slla is not None:
            return self._bad("icp6s_badns", now, "DAD NS with a source link-layer address option")
        if slla is not None:
            ifp = self.ifnets.get(ifname)
            if ifp is not None and ifp.lladdr and len(slla) != len(ifp.lladdr):
                return self._bad("icp6s_badns", now, "NS lladdr length mismatch")
        ifa = self.addrs.find(ifname, target)
        proxy, proxy_ll = False, None
        if ifa is None:
            if unspec and self.watch and (ifname, target) in self.watch:
                if nonce is not None and self.watch_nonces.get((ifname, target)) == nonce:
                    self.stats.inc("icp6s_nd_looped")  # our own probe back (RFC 7527)
                else:
                    self.watch[(ifname, target)] += 1  # another node's DAD for it
            proxy, proxy_ll = self.proxy.lookup(ifname, target)
            if not proxy:
                return []  # not for us: silently ignored (§7.2.3)
            override = False  # proxy: Override clear (§7.2.3)
        else:
            fl = ifa.flags._value_  # In6Flags as a plain int: IntFlag tests are slow
            if fl & 0x04:  # DUPLICATED
                return []
            if fl & 0x02:  # TENTATIVE
                if unspec:
                    return self._dad_ns_input(ifa, nonce, now)
                return []  # address resolution for a tentative address: ignore
            if src._ip == ifa.addr._ip:  # type: ignore[attr-defined]
                self.log(now, "dupsrc", f"NS from my own address {src} on {ifname}")
                return []
            override = not fl & 0x01  # ANYCAST: Override clear (§7.2.4)
        router = self.knobs._values["net.inet6.ip6.forwarding"] != 0  # knobs.forwarding
        na_src = target if ifa is not None else None
        if unspec:
            return [SendNA(ifname, target, LINKLOCAL_ALL_NODES, na_src, router, False,
                           override, True, proxy_ll)]
        out = self.cache.cache_lladdr(ifname, src, slla, "ns", now)
        out.append(_send_na(ifname, target, src, na_src, router, True, override, True, proxy_ll))
        return out  # type: ignore[return-value]  # a list of cache.Output items

    # --- NA input (nd6_na_input) ---------------------------------------------

    def na_input(self, ifname: str, na: NaInput, now: float) -> Output:
        """A received NA; updates the cache, detects duplicates."""
        return self.na_input_fields(ifname, na.src, na.dst, na.hop_limit, na.target, na.router,
                                    na.solicited, na.override, na.tlla, na.code,
                                    na.options_ignored, now)

    def na_input_fields(self, ifname: str, src: IPv6Address, dst: IPv6Address, hop_limit: int,
                        target: IPv6Address, router: bool, solicited: bool, override: bool,
                        tlla: bytes | None, code: int, options_ignored: int,
                        now: float) -> Output:
        """:meth:`na_input` on the fields of an :class:`NaInput`."""
        if options_ignored:
            self.stats.inc("icp6s_nd_toomanyopt")
        if code != 0:
            return self._bad("icp6s_badcode", now, f"NA code {code}")
        if hop_limit != ND_HOPLIMIT:
            return self._bad("icp6s_badna", now, f"NA hlim {hop_limit} from {src}")
        if is_multicast(target):
            return self._bad("icp6s_badna", now, f"NA for multicast target {target}")
        if solicited and is_multicast(dst):
            return self._bad("icp6s_badna", now, "solicited NA to a multicast address")
        if not self._lladdr_ok(ifname, tlla):
            return self._bad("icp6s_badna", now, "NA lladdr length mismatch")
        ifa = self.addrs.find(ifname, target)
        if ifa is None and self.watch and (ifname, target) in self.watch:
            self.watch[(ifname, target)] += 1
        if ifa is not None:
            if ifa.tentative:
                # RFC 4862 §5.4.4: any NA for a tentative address is a
                # duplicate. It cannot be our own looped back (we never
                # answer for a tentative address), even when its TLLA is our
                # MAC: that is the duplicated-MAC case rfc2462bis is about.
                return self._duplicated(ifa, "na", now)
            own = self._own_lladdr(ifname)
            if tlla is not None and own is not None and tlla == own:
                return []  # our own NA looped back
            self.log(now, "dupaddr", f"NA claims my address {target} on {ifname}")
            return [Event("address_conflict", ifname, {"addr": target, "tlla": tlla})]
        return self.cache.na_update(ifname, target, tlla, solicited=solicited,
                                    override=override, router=router, now=now)  # type: ignore[return-value]

    # --- output helpers -----------------------------------------------------

    def unsolicited_na(self, ifname: str, addr: IPv6Address) -> SendNA:
        """An unsolicited NA to all-nodes announcing a (changed) lladdr (§7.2.6)."""
        ifa = self.addrs.find(ifname, addr)
        anycast = ifa is not None and bool(ifa.flags & In6Flags.ANYCAST)
        return SendNA(ifname, addr, LINKLOCAL_ALL_NODES, addr, self.knobs.forwarding,
                      False, not anycast, True, None)

    # --- DAD (nd6_dad_*) ------------------------------------------------------

    def dad_start(self, ifa: In6Ifaddr, now: float, delay: float = 0.0) -> Output:
        """Begin DAD for a tentative address (RFC 4862 §5.4).

        ``delay`` is the random delay before the first probe when the
        interface has just come up (RFC 4862 §5.4.2, up to
        MAX_RTR_SOLICITATION_DELAY). With ``dad_count`` 0, ``NODAD`` or a
        loopback interface the address is ready at once. The caller must
        have joined the solicited-node group of the address.
        """
        ifp = self.ifnets.get(ifa.ifname)
        count = self.knobs["net.inet6.ip6.dad_count"]
        if (ifa.flags & In6Flags.NODAD or count == 0 or ifa.flags & In6Flags.ANYCAST
                or (ifp is not None and ifp.is_loopback)):
            ifa.flags &= ~In6Flags.TENTATIVE
            return [AddressReady(ifa.ifname, ifa.addr)]
        ifa.flags |= In6Flags.TENTATIVE
        ifa.flags &= ~In6Flags.DUPLICATED
        self.dad[(ifa.ifname, ifa.addr)] = DadState(ifa, count, now + max(0.0, delay))
        self.cache.gate.arm(now + max(0.0, delay))  # (the node's gate)
        return []

    def dad_stop(self, ifa: In6Ifaddr) -> None:
        self.dad.pop((ifa.ifname, ifa.addr), None)

    def _dad_ns_input(self, ifa: In6Ifaddr, nonce: bytes | None, now: float) -> Output:
        dp = self.dad.get((ifa.ifname, ifa.addr))
        if (dp is not None and nonce is not None and nonce in dp.nonces
                and self.knobs["net.inet6.ip6.dad_enhanced"]):
            dp.looped += 1
            self.stats.inc("icp6s_nd_looped")
            return []
        return self._duplicated(ifa, "ns", now)

    def _duplicated(self, ifa: In6Ifaddr, by: str, now: float) -> Output:
        """``nd6_dad_duplicated``: mark, log, and apply rfc2462bis."""
        self.dad_stop(ifa)
        ifa.flags = (ifa.flags | In6Flags.DUPLICATED) & ~In6Flags.TENTATIVE
        self.stats.inc("icp6s_dupaddr")
        self.log(now, "dad", f"DAD detected duplicate {ifa.addr} on {ifa.ifname} ({by})")
        out: Output = [AddressDuplicated(ifa.ifname, ifa.addr, by)]
        ifp = self.ifnets.get(ifa.ifname)
        if is_linklocal(ifa.addr) and ifa.hw_derived and ifp is not None:
            ifp.flags.disabled = True
            info = self.cache.ifinfo.get(ifa.ifname)
            if info is not None:
                info.flags.disabled = True
            out.append(InterfaceDisabled(ifa.ifname, ifa.addr))
        return out

    def next_deadline(self) -> float | None:
        return min((dp.next_time for dp in self.dad.values()), default=None)

    def poll(self, now: float) -> Output:
        """Send due DAD probes; finish DADs whose last wait has passed."""
        out: Output = []
        if not self.dad:
            return out  # no DAD under way (most polls)
        for key, dp in list(self.dad.items()):
            if dp.next_time > now:
                continue
            ifa = dp.ifa
            retrans = self.cache.info(ifa.ifname).retrans
            if dp.ns_ocount < dp.count:
                dp.ns_ocount += 1
                nonce = None
                if self.knobs["net.inet6.ip6.dad_enhanced"]:
                    nonce = self.rng.getrandbits(48).to_bytes(6, "big")
                    dp.nonces.append(nonce)
                out.append(SendNS(ifa.ifname, ifa.addr, solicited_node(ifa.addr),
                                  UNSPECIFIED, False, nonce))
                dp.next_time = now + retrans
            else:
                del self.dad[key]
                ifa.flags &= ~In6Flags.TENTATIVE
                out.append(AddressReady(ifa.ifname, ifa.addr))
        return out
