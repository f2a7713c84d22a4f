"""The neighbor cache and Neighbor Unreachability Detection (KAME ``nd6.c``).

A sans-I/O state machine over RFC 4861 §7.3 and Appendix C: every method that
depends on time takes ``now`` (seconds), every transmission comes back as an
action (:class:`~kame.nd6.types.SendNS`, :class:`~kame.nd6.types.DeliverQueued`,
:class:`~kame.nd6.types.DropQueued`), and :meth:`NeighborCache.next_deadline` /
:meth:`NeighborCache.poll` drive the timers.

States and timers (RFC 4861 §10, KAME ``nd6.h``):

- INCOMPLETE: multicast NS every RetransTimer (1 s), MAX_MULTICAST_SOLICIT (3,
  ``nd6_mmaxtries``) in all, then the entry is freed and its held packets
  are returned as :class:`DropQueued` (ICMPv6 address unreachable).
- REACHABLE: for ReachableTime = BaseReachableTime (30 s) × uniform(0.5, 1.5),
  recomputed every 2 hours (``ND_RECALC_REACHTM_INTERVAL``) and whenever an
  RA changes the base; then STALE.
- STALE: kept ``nd6_gctimer`` (1 day) then garbage collected (router entries
  are kept while they are routers).
- DELAY: entered on the first packet sent to a STALE entry; after
  DELAY_FIRST_PROBE_TIME (5 s, ``nd6_delay``) becomes PROBE.
- PROBE: unicast NS every RetransTimer, MAX_UNICAST_SOLICIT (3,
  ``nd6_umaxtries``) in all, then the neighbor is unreachable: freed, and
  :class:`NeighborUnreachable` tells the router list.
- NOSTATE: KAME's workaround for §1.2 case (1): an NS/RS/Redirect without a
  link-layer option from an unknown node creates an entry with no link-layer
  address, only so that IsRouter can be recorded. For address resolution it
  is the same as no entry (Appendix C "NS, RS, Redirect / No link-layer
  address: -"): the next packet sends a multicast NS and goes INCOMPLETE.

Hold queue: ``nd6_maxqueuelen`` packets per INCOMPLETE entry (KAME holds 1:
a new packet replaces the held one). Overflow drops the *oldest* packet and
counts ``icp6s_nd_holddrop``.

Bounded memory: at most ``nd6_maxentries`` entries. Creating one more evicts
the least recently used entry that is neither REACHABLE nor INCOMPLETE
(NOSTATE, STALE, DELAY, PROBE — what an NS flood creates), looking at the 64
oldest; failing that the least recently used non-permanent entry. Counted
``icp6s_nd_cachefull``. An NS flood with random sources or targets therefore
cannot grow memory without limit.

Deliberate readings of the RFC (tested in ``tests/test_nd6_cache.py``):

- Where Appendix C's summary and §7.2.5's normative text differ, §7.2.5 (and
  KAME ``nd6_na_input``) wins: a solicited NA without a target link-layer
  option makes a non-INCOMPLETE entry REACHABLE (§7.2.4 lets unicast
  answers omit the option, and NUD would otherwise never succeed), and an
  unsolicited, non-override NA with a *different* address turns a REACHABLE
  entry STALE (§7.2.5 I.a).
- Upper-layer hints (``nud_hint``) are ignored after ``nd6_maxnudhint``
  hints in a row; the default 0 ignores them all (§1.2); a confirming NA
  resets the count. ``force=True`` is a trusted hint (never counted).
"""

from __future__ import annotations

import heapq
import math
import random
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from ipaddress import IPv6Address
from typing import Any

from kame.addr import solicited_node
from kame.gate import Gate
from kame.knobs import IfFlags, Knobs
from kame.nd6.types import (
    Action,
    DeliverQueued,
    DropQueued,
    Event,
    NeighborUnreachable,
    SendNS,
)
from kame.stats import Stats

__all__ = [
    "DELAY_FIRST_PROBE_TIME",
    "MAX_MULTICAST_SOLICIT",
    "MAX_RANDOM_FACTOR",
    "MAX_UNICAST_SOLICIT",
    "MIN_RANDOM_FACTOR",
    "ND_RECALC_REACHTM_INTERVAL",
    "REACHABLE_TIME",
    "RETRANS_TIMER",
    "NdIfinfo",
    "NdLog",
    "NdState",
    "Neighbor",
    "NeighborCache",
    "compute_reachable",
]

# RFC 4861 §10 protocol constants (KAME nd6.h).
MAX_MULTICAST_SOLICIT = 3
MAX_UNICAST_SOLICIT = 3
DELAY_FIRST_PROBE_TIME = 5.0
REACHABLE_TIME = 30.0
RETRANS_TIMER = 1.0
MIN_RANDOM_FACTOR = 0.5
MAX_RANDOM_FACTOR = 1.5
ND_RECALC_REACHTM_INTERVAL = 7200.0


class NdState(IntEnum):
    """KAME ``ND6_LLINFO_*`` (ordered: > INCOMPLETE means resolved)."""

    NOSTATE = -2
    INCOMPLETE = 0
    REACHABLE = 1
    STALE = 2
    DELAY = 3
    PROBE = 4


# The states as plain module constants: an Enum attribute lookup per test
# costs more than the test on the per-message paths.
_NOSTATE, _INCOMPLETE, _REACHABLE, _STALE, _DELAY, _PROBE = (
    NdState.NOSTATE, NdState.INCOMPLETE, NdState.REACHABLE, NdState.STALE, NdState.DELAY,
    NdState.PROBE)


def compute_reachable(base: float, rng: random.Random) -> float:
    """ReachableTime: ``base`` × uniform(MIN_RANDOM_FACTOR, MAX_RANDOM_FACTOR)
    (RFC 4861 §6.3.2)."""
    return base * rng.uniform(MIN_RANDOM_FACTOR, MAX_RANDOM_FACTOR)


@dataclass(slots=True)
class NdIfinfo:
    """Per-interface ND variables (KAME ``struct nd_ifinfo``)."""

    base_reachable: float = REACHABLE_TIME
    reachable: float = REACHABLE_TIME
    retrans: float = RETRANS_TIMER
    chlim: int = 64
    linkmtu: int = 0
    recalc_at: float = 0.0
    flags: IfFlags = field(default_factory=IfFlags)
    addrlen: int = 6  # 0 on links without link-layer addresses

    def recalc(self, now: float, rng: random.Random) -> None:
        self.reachable = compute_reachable(self.base_reachable, rng)
        self.recalc_at = now + ND_RECALC_REACHTM_INTERVAL

    def set_base_reachable(self, base: float, now: float, rng: random.Random) -> None:
        """An RA advertised BaseReachableTime: recompute when it changed (§6.3.4)."""
        if base != self.base_reachable:
            self.base_reachable = base
            self.recalc(now, rng)


@dataclass(eq=False, slots=True)
class Neighbor:
    """One neighbor cache entry (KAME ``struct llinfo_nd6``)."""

    ifname: str
    addr: IPv6Address
    state: NdState = NdState.NOSTATE
    lladdr: bytes | None = None
    is_router: bool = False
    expire: float = math.inf
    asked: int = 0
    hold: list[Any] = field(default_factory=list)  # a list: an empty deque costs 600 B
    byhint: int = 0
    permanent: bool = False
    timer_seq: int = 0


class NdLog:
    """The rate-limited ``nd6log`` (§1.2 ``nd6_debug``): lines are kept in a
    bounded buffer for the node to drain, one per kind per ``log_interval``."""

    def __init__(self, knobs: Knobs, maxlines: int = 256) -> None:
        self.knobs = knobs
        self.lines: deque[tuple[float, str]] = deque(maxlen=maxlines)
        self._last: dict[str, float] = {}
        self.suppressed = 0

    def __call__(self, now: float, kind: str, message: str) -> None:
        if not self.knobs["net.inet6.icmp6.nd6_debug"]:
            return
        last = self._last.get(kind)
        if last is not None and now - last < self.knobs["net.inet6.ip6.log_interval"]:
            self.suppressed += 1
            return
        if kind not in self._last and len(self._last) >= 1024:
            self._last.clear()
        self._last[kind] = now
        self.lines.append((now, message))

    def drain(self) -> list[tuple[float, str]]:
        out = list(self.lines)
        self.lines.clear()
        return out


Key = tuple[str, int]  # (ifname, address as int): IPv6Address.__hash__ is slow
Output = list[Action | Event | NeighborUnreachable]

_EVICT_SCAN = 64


class NeighborCache:
    """All neighbor entries of a node, with their timers.

    ``rng`` randomises ReachableTime (inject a seeded one in tests).
    """

    def __init__(
        self,
        knobs: Knobs | None = None,
        *,
        rng: random.Random | None = None,
        stats: Stats | None = None,
        log: NdLog | None = None,
    ) -> None:
        self.knobs = knobs if knobs is not None else Knobs()
        self.rng = rng if rng is not None else random.Random()
        self.stats = stats if stats is not None else Stats()
        self.log = log if log is not None else NdLog(self.knobs)
        self.ifinfo: dict[str, NdIfinfo] = {}
        self._entries: OrderedDict[Key, Neighbor] = OrderedDict()
        # (expire, seq, entry): valid while entry.timer_seq == seq (a freed
        # entry has -1); compacted by _compact_timers
        self._timers: list[tuple[float, int, Neighbor]] = []
        self._seq = 0
        #: the node's next-deadline gate (:mod:`kame.gate`): lowered by every timer set
        self.gate = Gate()
        #: Called with (ifname, addr) when an entry's IsRouter goes True -> False.
        self.on_router_lost: Callable[[str, IPv6Address], None] | None = None

    # --- interfaces ---------------------------------------------------------

    def attach(self, ifname: str, now: float, *, addrlen: int = 6,
               flags: IfFlags | None = None) -> NdIfinfo:
        """``nd6_ifattach``: per-interface ND variables with a fresh ReachableTime."""
        info = NdIfinfo(flags=flags if flags is not None else IfFlags(), addrlen=addrlen)
        info.recalc(now, self.rng)
        self.ifinfo[ifname] = info
        self.gate.arm(info.recalc_at)
        return info

    def info(self, ifname: str) -> NdIfinfo:
        info = self.ifinfo.get(ifname)
        if info is None:
            info = NdIfinfo()
            info.reachable = compute_reachable(info.base_reachable, self.rng)
            info.recalc_at = ND_RECALC_REACHTM_INTERVAL
            self.ifinfo[ifname] = info
            self.gate.arm(info.recalc_at)
        return info

    # --- table --------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self._entries.values()))

    def lookup(self, ifname: str, addr: IPv6Address) -> Neighbor | None:
        return self._entries.get((ifname, addr._ip))  # type: ignore[attr-defined]

    def _touch(self, ln: Neighbor) -> None:
        self._entries.move_to_end((ln.ifname, ln.addr._ip))  # type: ignore[attr-defined]

    def _set_timer(self, ln: Neighbor, expire: float) -> None:
        if expire == ln.expire and ln.timer_seq > 0:
            return  # its heap item is still in the heap, valid, and fires then
        ln.expire = expire
        self._seq += 1
        ln.timer_seq = self._seq
        if expire != math.inf:
            t = self._timers
            heapq.heappush(t, (expire, self._seq, ln))
            self.gate.arm(expire)
            if len(t) > 2 * len(self._entries) + 64:
                self._compact_timers()

    def _compact_timers(self) -> None:
        """Drop the heap items of rescheduled and freed entries. Without it
        an NS flood (every entry created, then evicted) or a stream of NAs
        re-arming REACHABLE would grow the heap until the timers expire; with
        it the heap holds at most about twice the entries, at an amortised
        O(1) per timer set."""
        live = [item for item in self._timers if item[2].timer_seq == item[1]]
        heapq.heapify(live)
        self._timers = live

    def _create(self, ifname: str, addr: IPv6Address, now: float) -> Neighbor:
        kv = self.knobs._values  # plain dict reads: an NS flood creates an entry per NS
        cap = kv["net.inet6.icmp6.nd6_maxentries"]
        while len(self._entries) >= cap:
            if not self._evict_one():
                break
        ln = Neighbor(ifname, addr)
        self._entries[(ifname, addr._ip)] = ln  # type: ignore[attr-defined]
        self._set_timer(ln, now + kv["net.inet6.icmp6.nd6_gctimer"])
        return ln

    def _evict_one(self) -> bool:
        victim: Neighbor | None = None
        keep = (_REACHABLE, _INCOMPLETE)  # module constants: no Enum lookup per entry
        for i, ln in enumerate(self._entries.values()):
            if i >= _EVICT_SCAN:
                break
            if ln.permanent:
                continue
            if ln.state not in keep:
                victim = ln
                break
            if victim is None:
                victim = ln
        if victim is None:
            for ln in self._entries.values():
                if not ln.permanent:
                    victim = ln
                    break
        if victim is None:
            return False
        self.stats.inc("icp6s_nd_cachefull")
        self._free(victim)
        return True

    def _free(self, ln: Neighbor) -> None:
        self._entries.pop((ln.ifname, ln.addr._ip), None)  # type: ignore[attr-defined]
        ln.timer_seq = -1

    def delete(self, ifname: str, addr: IPv6Address) -> bool:
        """``ndp -d``."""
        ln = self.lookup(ifname, addr)
        if ln is None:
            return False
        self._free(ln)
        return True

    def flush(self, ifname: str | None = None) -> None:
        """``ndp -c`` (or one interface's entries when it goes down)."""
        for ln in list(self._entries.values()):
            if (ifname is None and not ln.permanent) or ln.ifname == ifname:
                self._free(ln)

    def set_permanent(self, ifname: str, addr: IPv6Address, lladdr: bytes,
                      *, is_router: bool = False) -> Neighbor:
        """``ndp -s``: a static entry, REACHABLE forever, never evicted."""
        ln = self.lookup(ifname, addr)
        if ln is None:
            ln = Neighbor(ifname, addr)
            self._entries[(ifname, addr._ip)] = ln  # type: ignore[attr-defined]
        ln.state, ln.lladdr, ln.permanent, ln.is_router = NdState.REACHABLE, lladdr, True, is_router
        self._set_timer(ln, math.inf)
        return ln

    # --- output: nd6_output / nd6_resolve -------------------------------------

    def resolve(self, ifname: str, addr: IPv6Address, packet: Any,
                now: float) -> tuple[bytes | None, Output]:
        """A packet to send to on-link ``addr``: the link-layer address to use
        now, or ``None`` when the packet was queued for resolution.

        Appendix C: "- / Packet to send -> Create entry, send multicast NS,
        start retransmit timer -> INCOMPLETE"; "STALE / Sending packet ->
        start delay timer -> DELAY".
        """
        out: Output = []
        key = (ifname, addr._ip)  # type: ignore[attr-defined]
        ln = self._entries.get(key)
        if ln is None:
            ln = self._create(ifname, addr, now)
        self._entries.move_to_end(key)
        st = ln.state
        if st == _NOSTATE:
            ln.state = st = _INCOMPLETE
            ln.asked = 0
        elif st == _STALE and self.info(ifname).flags.nud and not ln.permanent:
            ln.asked = 0
            ln.state = st = _DELAY
            self._set_timer(ln, now + self.knobs["net.inet6.icmp6.nd6_delay"])
        if st > _INCOMPLETE:
            return ln.lladdr, out
        maxq = self.knobs["net.inet6.icmp6.nd6_maxqueuelen"]
        while len(ln.hold) >= maxq:
            del ln.hold[0]
            self.stats.inc("icp6s_nd_holddrop")
        ln.hold.append(packet)
        if ln.asked == 0:
            ln.asked = 1
            self._set_timer(ln, now + self.info(ifname).retrans)
            out.append(self._ns_multicast(ln))
        return None, out

    def _ns_multicast(self, ln: Neighbor) -> SendNS:
        return SendNS(ln.ifname, ln.addr, solicited_node(ln.addr), None, True)

    def _ns_unicast(self, ln: Neighbor) -> SendNS:
        return SendNS(ln.ifname, ln.addr, ln.addr, None, True, None, ln.lladdr)

    def _deliver(self, ln: Neighbor, out: Output) -> None:
        if ln.hold and ln.lladdr is not None:
            out.append(DeliverQueued(ln.ifname, ln.addr, ln.lladdr, tuple(ln.hold)))
            ln.hold.clear()
        elif ln.hold and self.info(ln.ifname).addrlen == 0:
            out.append(DeliverQueued(ln.ifname, ln.addr, b"", tuple(ln.hold)))
            ln.hold.clear()

    def _to_stale(self, ln: Neighbor, now: float) -> None:
        ln.state = NdState.STALE
        ln.asked = 0
        self._set_timer(ln, now + self.knobs["net.inet6.icmp6.nd6_gctimer"])

    def _to_reachable(self, ln: Neighbor, now: float) -> None:
        ln.state = NdState.REACHABLE
        ln.asked = 0
        ln.byhint = 0
        self._set_timer(ln, now + self.info(ln.ifname).reachable)

    # --- input: nd6_cache_lladdr (NS, RS, RA, Redirect) -----------------------

    def cache_lladdr(self, ifname: str, addr: IPv6Address, lladdr: bytes | None,
                     msg: str, now: float, *, redirect_router: bool = False) -> Output:
        """Update the entry of ``addr`` from an NS, RS, RA or Redirect
        (``msg`` is ``"ns"``, ``"rs"``, ``"ra"``, ``"redirect"``).

        KAME's table (nd6.c ``nd6_cache_lladdr``), which is Appendix C for
        these messages plus IsRouter handling (RFC 4861 §6.3.4, §7.2.3, §8.3)::

            newentry olladdr lladdr llchange        NS  RS  RA  redir
             0        n       n      --    (1)     c   ?   s
             0        y       n      --    (2)     c   s   s
             0        n       y      --    (3) STALE  c  s   s
             0        y       y      n     (4)     c   s   s
             0        y       y      y     (5) STALE  c  s   s
             1        --      n      --    (6) NOSTATE c c  c s
             1        --      y      --    (7) STALE  c c  s  c s
        """
        out: Output = []
        if addr._ip == 0:  # type: ignore[attr-defined]
            return out
        key = (ifname, addr._ip)  # type: ignore[attr-defined]
        ln = self._entries.get(key)
        is_new = ln is None
        if ln is None:
            ln = self._create(ifname, addr, now)
        else:
            self._entries.move_to_end(key)
        if ln.permanent:
            return out
        olladdr = ln.lladdr is not None
        llchange = olladdr and lladdr is not None and lladdr != ln.lladdr
        if is_new:
            if lladdr is not None:
                ln.lladdr = lladdr
                self._to_stale(ln, now)
            else:
                ln.state = _NOSTATE
        elif (not olladdr and lladdr is not None) or llchange:
            ln.lladdr = lladdr
            self._to_stale(ln, now)
            self._deliver(ln, out)
        was_router = ln.is_router
        if msg == "ns":
            if is_new:
                ln.is_router = False
        elif msg == "rs":
            ln.is_router = False
        elif msg == "redirect":
            if redirect_router:
                ln.is_router = True
            elif is_new:
                ln.is_router = False
        elif msg == "ra":
            if (not is_new and (olladdr or lladdr is not None)) or (is_new and lladdr is not None):
                ln.is_router = True
        else:
            raise ValueError(f"unknown ND message kind {msg!r}")
        if was_router and not ln.is_router:
            self._router_lost(ln)
        return out

    def _router_lost(self, ln: Neighbor) -> None:
        if self.on_router_lost is not None:
            self.on_router_lost(ln.ifname, ln.addr)

    # --- input: the cache part of nd6_na_input ----------------------------

    def na_update(self, ifname: str, target: IPv6Address, lladdr: bytes | None, *,
                  solicited: bool, override: bool, router: bool, now: float) -> Output:
        """Apply a validated NA for ``target`` (RFC 4861 §7.2.5, Appendix C).

        No entry: the NA is discarded ("-"). See the module docstring for the
        two places where §7.2.5 is followed over the Appendix C summary.
        """
        out: Output = []
        ln = self.lookup(ifname, target)
        if ln is None or ln.permanent or ln.state == NdState.NOSTATE:
            return out
        self._touch(ln)
        info = self.info(ifname)
        if ln.state == NdState.INCOMPLETE:
            if info.addrlen and lladdr is None:
                # Appendix C: "INCOMPLETE / NA, no link-layer address ->
                # update IsRouter, unchanged".
                self._set_router(ln, router)
                return out
            ln.lladdr = lladdr
            if solicited:
                self._to_reachable(ln, now)
            else:
                self._to_stale(ln, now)
            ln.is_router = router
            self._deliver(ln, out)
            return out
        llchange = lladdr is not None and lladdr != ln.lladdr
        if not override and llchange:
            # §7.2.5 I: REACHABLE -> STALE, otherwise ignore; no other update.
            if ln.state == NdState.REACHABLE:
                self._to_stale(ln, now)
            return out
        if lladdr is not None:
            ln.lladdr = lladdr
        if solicited:
            self._to_reachable(ln, now)
        elif llchange:
            self._to_stale(ln, now)
        self._set_router(ln, router)
        # KAME zeroes ln_asked here whatever happened; we reset it only with a
        # state change (above), so NAs that confirm nothing cannot keep an
        # entry probing forever.
        self._deliver(ln, out)
        return out

    def _set_router(self, ln: Neighbor, router: bool) -> None:
        was = ln.is_router
        ln.is_router = router
        if was and not router:
            self._router_lost(ln)

    # --- upper-layer hints ------------------------------------------------

    def nud_hint(self, ifname: str, addr: IPv6Address, now: float, *, force: bool = False) -> bool:
        """Upper-layer reachability confirmation (``nd6_nud_hint``).

        Returns whether the hint was taken. Appendix C: "!INCOMPLETE /
        upper-layer reachability confirmation -> REACHABLE", capped by
        ``nd6_maxnudhint`` hints in a row (§1.2).
        """
        ln = self.lookup(ifname, addr)
        if ln is None or ln.state < NdState.REACHABLE or ln.permanent:
            return False
        if not force:
            ln.byhint += 1
            if ln.byhint > self.knobs["net.inet6.icmp6.nd6_maxnudhint"]:
                return False
        ln.state = NdState.REACHABLE
        self._set_timer(ln, now + self.info(ifname).reachable)
        return True

    def probe(self, ifname: str, addr: IPv6Address, now: float) -> Output:
        """Probe ``addr`` now (PROBE: a unicast NS every RetransTimer, at
        most ``nd6_umaxtries``, then unreachable): a mobile node's check
        that its default router is still there after a link change
        (RFC 6275 §11.5.1). Nothing for an unknown, incomplete or
        permanent entry."""
        ln = self.lookup(ifname, addr)
        if ln is None or ln.state < NdState.REACHABLE or ln.permanent or ln.lladdr is None:
            return []
        ln.state = NdState.PROBE
        ln.asked = 1
        self._set_timer(ln, now + self.info(ifname).retrans)
        return [self._ns_unicast(ln)]

    # --- timers -------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """The earliest time :meth:`poll` has something to do."""
        t = self._timers
        while t:
            _expire, seq, ln = t[0]
            if ln.timer_seq == seq:
                break
            heapq.heappop(t)
        best = t[0][0] if t else None
        for info in self.ifinfo.values():
            if best is None or info.recalc_at < best:
                best = info.recalc_at
        return best

    def poll(self, now: float) -> Output:
        """Run every timer due at ``now`` (``nd6_timer``)."""
        out: Output = []
        for info in self.ifinfo.values():
            if info.recalc_at <= now:
                info.recalc(now, self.rng)
        t = self._timers
        while t and t[0][0] <= now:
            _expire, seq, ln = heapq.heappop(t)
            if ln.timer_seq != seq:
                continue
            ln.timer_seq = 0  # its heap item is gone (see _set_timer)
            self._expire(ln, now, out)
        return out

    def _expire(self, ln: Neighbor, now: float, out: Output) -> None:
        info = self.info(ln.ifname)
        st = ln.state
        if st == NdState.INCOMPLETE:
            if ln.asked < self.knobs["net.inet6.icmp6.nd6_mmaxtries"]:
                ln.asked += 1
                self._set_timer(ln, now + info.retrans)
                out.append(self._ns_multicast(ln))
            else:
                self._unreachable(ln, out)
        elif st == NdState.REACHABLE:
            self._to_stale(ln, now)
        elif st == NdState.DELAY:
            if info.flags.nud:
                ln.asked = 1
                ln.state = NdState.PROBE
                self._set_timer(ln, now + info.retrans)
                out.append(self._ns_unicast(ln))
            else:
                self._to_stale(ln, now)
        elif st == NdState.PROBE:
            if ln.asked < self.knobs["net.inet6.icmp6.nd6_umaxtries"]:
                ln.asked += 1
                self._set_timer(ln, now + info.retrans)
                out.append(self._ns_unicast(ln))
            else:
                self._unreachable(ln, out)
        elif st == NdState.STALE and ln.is_router:
            self._set_timer(ln, now + self.knobs["net.inet6.icmp6.nd6_gctimer"])
        else:  # STALE or NOSTATE garbage collection (RFC 4861 §5.3)
            self._free(ln)

    def _unreachable(self, ln: Neighbor, out: Output) -> None:
        self.stats.inc("icp6s_nd_unreach")
        if ln.hold:
            out.append(DropQueued(ln.ifname, ln.addr, tuple(ln.hold)))
            ln.hold.clear()
        out.append(NeighborUnreachable(ln.ifname, ln.addr, ln.is_router))
        self._free(ln)
