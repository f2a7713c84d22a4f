"""Multicast Listener Discovery, router side (RFC 3810 §7 with the MLDv1
compatibility of §8 and RFC 2710), sans-I/O: what ``mrouted``/``pim6sd``
keep beside KAME's kernel, here in the node.

- Querier election (§7.6.2): every router starts as Querier, sending
  [Startup Query Count] General Queries [Startup Query Interval] apart
  (Robustness, Query Interval / 4), then one per Query Interval; a Query
  from a lower link-local address makes it a Non-Querier for the Other
  Querier Present Timeout (Robustness × QI + QRI / 2), after which it
  queries again.
- The Multicast Address Listening state per link (§7.2), one
  :class:`kame.mcast.RouterGroup` per address: filter mode, Filter Timer,
  source timers, changed by Reports by the tables of §7.4.1/§7.4.2 and by
  the timers of §7.2.3; the Querier answers TO_IN/BLOCK/TO_EX and Done with
  Multicast-Address-Specific and -and-Source-Specific Queries, [Last
  Listener Query Count] of them [Last Listener Query Interval] apart,
  lowering the timers they ask about to the Last Listener Query Time
  (§7.6.3; the Suppress flag on what a Report refreshed since); a
  Non-Querier lowers them on the Querier's queries without the S flag
  (§7.6.1).
- MLDv1 hosts (§8.3.2): an MLDv1 Report sets the address's Older Version
  Host Present timer (Robustness × QI + QRI) and counts as IS_EX({}), a
  Done as TO_IN({}); while it runs BLOCK is ignored and TO_EX(S) is
  TO_EX({}).
- Bounds: ``net.inet6.mld.maxgroups`` addresses per link (a Report for
  another is dropped, ``mlds_rtr_groupfull``) and ``net.inet6.mld.maxsrc``
  sources per address (past it the address falls back to EXCLUDE({}), which
  forwards too much rather than too little, ``mlds_rtr_srcfull``).

The address-family blind part is :class:`kame.mcast.RouterGroup`; this
module holds the timers and the querier, whose address family is in class
attributes and hooks: :class:`kame.inet.igmp_router.IgmpRouter` is IGMPv3's
RFC 3376 §6 on the same code. :mod:`kame.ip6.mroute` forwards by the state
(:meth:`Mld6Router.forwards`). The node turns :class:`SendMldQuery` into packets: hop limit
1, Router Alert, from the link-local address, to ff02::1 or the address.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from kame.gate import Gate
from kame.mcast import (
    CHANGE_TO_INCLUDE,
    MCAST_EXCLUDE,
    MODE_IS_EXCLUDE,
    Ask,
    RouterGroup,
)
from kame.mld6 import reportable

__all__ = ["Mld6Router", "SendMldQuery", "max_resp_code", "qqic"]

UNSPECIFIED = IPv6Address("::")
#: An IPv6 (MLD) or IPv4 (IGMP) address.
McAddr = IPv6Address | IPv4Address


def max_resp_code(ms: int) -> int:
    """The Maximum Response Code for ``ms`` milliseconds (RFC 3810
    §5.1.3): linear below 32768, else the floating-point form (rounded down)."""
    if ms < 0x8000:
        return ms
    for exp in range(8):
        mant = (ms >> (exp + 3)) - 0x1000
        if 0 <= mant < 0x1000:
            return 0x8000 | (exp << 12) | mant
    return 0xFFFF


def qqic(seconds: int) -> int:
    """The Querier's Query Interval Code (RFC 3810 §5.1.9)."""
    if seconds < 128:
        return seconds
    for exp in range(8):
        mant = (seconds >> (exp + 3)) - 0x10
        if 0 <= mant < 0x10:
            return 0x80 | (exp << 4) | mant
    return 0xFF


@dataclass(frozen=True, slots=True)
class SendMldQuery:
    """Transmit an MLDv2 Query on ``ifname``: ``group`` ``::`` a General
    Query (to ff02::1), else to ``group``, with ``sources`` for a
    Multicast-Address-and-Source-Specific Query."""

    ifname: str
    group: IPv6Address
    sources: tuple[IPv6Address, ...]
    suppress: bool
    max_resp: int
    qrv: int
    qqic: int
    #: False: an MLDv1 Query (24 octets; ``max_resp`` in ms), as
    #: ``net.inet6.mld.version`` 1 asks (RFC 3810 §8.3.1).
    v2: bool = True


@dataclass(slots=True)
class _Rtx:
    """Queries owed for one address (§7.6.3.1/§7.6.3.2)."""

    due: float = 0.0
    group_left: int = 0
    src_left: dict[McAddr, int] = field(default_factory=dict)


_log = logging.getLogger("kame.mroute")

#: Seconds between two warnings about an older-version querier on one link.
OLDQ_LOG_INTERVAL = 3600.0


@dataclass(slots=True)
class _RtrIf:
    me: McAddr
    #: An older-version querier heard (RFC 3810 §8.3.1, RFC 3376 §7.3.1):
    #: its address, its version, how many of its queries, when last warned.
    oldq_addr: McAddr | None = None
    oldq_version: int = 0
    oldq_count: int = 0
    oldq_logged: float = -OLDQ_LOG_INTERVAL
    querier: bool = True
    #: Other Querier Present timer (non-querier) and that querier's address.
    oqp_until: float = -1.0
    querier_addr: McAddr | None = None
    startup_left: int = 0
    gq_due: float = 0.0
    groups: dict[McAddr, RouterGroup] = field(default_factory=dict)
    rtx: dict[McAddr, _Rtx] = field(default_factory=dict)


class Mld6Router:
    """The router side on every interface it runs on. ``knob`` reads the
    ``net.inet6.mld.*`` knobs, ``inc`` counts (``mlds_*``).

    The address family is in the class attributes and the hooks
    :meth:`_reportable`, :meth:`_query`, :meth:`_stat`: the IGMP router
    side (:class:`kame.inet.igmp_router.IgmpRouter`) is this class with
    IPv4's."""

    #: The knob prefix: ``robustness``, ``query_interval`` (s),
    #: ``query_response_interval`` (ms), :attr:`LLQI_KNOB` (ms),
    #: ``maxgroups``, ``maxsrc`` follow it.
    KNOBS = "net.inet6.mld."
    LLQI_KNOB = "last_listener_query_interval"
    #: The general query's group.
    UNSPEC: Any = UNSPECIFIED
    #: The protocol's current version (the ``version`` knob's highest).
    CUR_VERSION = 2

    def __init__(self, knob: Callable[[str], int], inc: Callable[[str], Any]) -> None:
        self.knob = knob
        self._inc = inc
        self._if: dict[str, _RtrIf] = {}
        #: The node's next-deadline gate (:mod:`kame.gate`), lowered by
        #: every timer an input or a start arms (the node hands its own).
        self.gate = Gate()

    def inc(self, name: str) -> None:
        self._inc(self._stat(name))

    @staticmethod
    def _stat(name: str) -> str:
        """The counter for ``name`` (the MLD one: ``mlds_*``)."""
        return name

    @staticmethod
    def _reportable(group: Any) -> bool:
        return bool(group.is_multicast) and reportable(group)

    # --- the RFC 3810 §9 variables, from the knobs
    @property
    def robustness(self) -> int:
        return self.knob(self.KNOBS + "robustness")

    @property
    def qi(self) -> float:
        return float(self.knob(self.KNOBS + "query_interval"))

    @property
    def qri(self) -> float:
        return self.knob(self.KNOBS + "query_response_interval") / 1000.0

    @property
    def version(self) -> int:
        """The version the querier speaks (RFC 3810 §8.3.1, RFC 3376
        §7.3.1: an older router on the link makes the administrator lower
        it): older versions have no source-specific queries."""
        return self.knob(self.KNOBS + "version")

    def _can_ask(self, ask: Ask) -> bool:
        return self.version >= 2 or ask is None

    @property
    def llqi(self) -> float:
        return self.knob(self.KNOBS + self.LLQI_KNOB) / 1000.0

    @property
    def mali(self) -> float:
        """Multicast Address Listening Interval (§9.4), also the Older
        Version Host Present Timeout (§9.13)."""
        return self.robustness * self.qi + self.qri

    @property
    def llqt(self) -> float:
        return self.llqi * self.robustness

    @property
    def oqpt(self) -> float:
        return self.robustness * self.qi + self.qri / 2

    # --- interfaces
    def running(self, ifname: str) -> bool:
        return ifname in self._if

    def start(self, ifname: str, me: McAddr, now: float) -> None:
        """Run on ``ifname`` with link-local address ``me``: Querier, Startup
        Queries from now."""
        if ifname in self._if:
            self._if[ifname].me = me
            return
        self._if[ifname] = _RtrIf(me, startup_left=self.robustness, gq_due=now)
        self.gate.arm(now)

    def stop(self, ifname: str) -> None:
        self._if.pop(ifname, None)

    def interfaces(self) -> list[str]:
        return list(self._if)

    def state(self, ifname: str) -> _RtrIf | None:
        return self._if.get(ifname)

    def forwards(self, ifname: str, group: McAddr, src: McAddr) -> bool:
        """Whether the link has listeners for ``src``'s traffic to ``group``."""
        st = self._if.get(ifname)
        g = st.groups.get(group) if st is not None else None
        return g is not None and g.forwards(src)

    # --- input
    def query_input(self, ifname: str, src: McAddr, group: McAddr,
                    sources: Iterable[McAddr], suppress: bool, v2: bool,
                    now: float, heard: int | None = None) -> None:
        """A Query heard on the link (valid: link-local source, hop limit 1);
        ``heard``: its version (default: the current one when ``v2``, else
        the one before)."""
        st = self._if.get(ifname)
        if st is None or src == st.me:
            return
        srcs = frozenset(sources) if v2 else frozenset()
        if heard is None:
            heard = self.CUR_VERSION if v2 else self.CUR_VERSION - 1
        if heard < self.version:
            self._older_querier(ifname, st, src, heard, now)
        self.inc("mlds_rcv_gen_queries" if int(group) == 0 else
                 "mlds_rcv_gsr_queries" if srcs else "mlds_rcv_group_queries")
        if int(src) < int(st.me):  # §7.6.2: the lower address queries
            if st.querier:
                self.inc("mlds_querier_lost")
            st.querier = False
            st.querier_addr = src
            st.oqp_until = now + self.oqpt
            st.rtx.clear()
            self.gate.arm(st.oqp_until)
        if st.querier or suppress or int(group) == 0:
            return
        g = st.groups.get(group)
        if g is not None:  # §7.6.1: a Non-Querier follows the Querier's queries
            g.lower(srcs or None, now, self.llqt)
            self.gate.arm(g.next_deadline(now))

    def _older_querier(self, ifname: str, st: _RtrIf, src: McAddr, heard: int,
                       now: float) -> None:
        """RFC 3810 §8.3.1, RFC 3376 §7.3.1: an older-version querier on the
        link. The router is to be set to the older version by hand (the
        ``version`` knob) and SHOULD log a warning: counted, kept per
        interface, logged once per :data:`OLDQ_LOG_INTERVAL` per interface.
        No router falls back by itself (FreeBSD has no querier in the
        kernel; mrouted and pimd warn; Linux's bridge querier speaks the
        version it is set to)."""
        self.inc("mlds_rcv_oldqueries")
        st.oldq_addr, st.oldq_version = src, heard
        st.oldq_count += 1
        if now - st.oldq_logged >= OLDQ_LOG_INTERVAL:
            st.oldq_logged = now
            name = self._proto_name(heard)
            _log.warning("%s: %s querier %s on the link, this router speaks %s: set %s to %d "
                         "(%s)", ifname, name, src, self._proto_name(self.version),
                         self.KNOBS + "version", heard, self.OLDQ_RFC)

    #: The section that asks for the warning.
    OLDQ_RFC = "RFC 3810 §8.3.1"

    @staticmethod
    def _proto_name(version: int) -> str:
        return f"MLDv{version}"

    def report_input(self, ifname: str, records: Iterable[tuple[int, McAddr,
                                                                Iterable[McAddr]]],
                     now: float) -> None:
        """An MLDv2 Report's records (type, address, sources)."""
        st = self._if.get(ifname)
        if st is None:
            return
        self.inc("mlds_rcv_reports")
        for rtype, group, srcs in records:
            if not 1 <= rtype <= 6:
                self.inc("mlds_rcv_badrecords")  # §5.2.12: ignored
                continue
            self._record(ifname, st, rtype, group, srcs, now)

    def v1_report_input(self, ifname: str, group: McAddr, now: float) -> None:
        """An MLDv1 Report (§8.3.2: IS_EX({}), Older Version Host Present)."""
        st = self._if.get(ifname)
        if st is None:
            return
        self.inc("mlds_rcv_v1reports")
        g = self._record(ifname, st, MODE_IS_EXCLUDE, group, (), now)
        if g is not None:
            g.v1_until = now + self.mali  # read when records come, not a timer

    def done_input(self, ifname: str, group: McAddr, now: float) -> None:
        """An MLDv1 Done (§8.3.2: TO_IN({}))."""
        st = self._if.get(ifname)
        if st is None:
            return
        self.inc("mlds_rcv_dones")
        self._record(ifname, st, CHANGE_TO_INCLUDE, group, (), now)

    def _record(self, ifname: str, st: _RtrIf, rtype: int, group: McAddr,
                srcs: Iterable[McAddr], now: float) -> RouterGroup | None:
        if not self._reportable(group):
            self.inc("mlds_rcv_badrecords")
            return None
        g = st.groups.get(group)
        fresh = g is None
        if g is None:
            g = RouterGroup()
        asks = g.record(rtype, srcs, now, self.mali)
        if fresh:
            if not g.expire(now):
                return None  # nothing to listen to: no record
            if len(st.groups) >= self.knob(self.KNOBS + "maxgroups"):
                self.inc("mlds_rtr_groupfull")
                return None
            st.groups[group] = g
        if len(g.sources) > self.knob(self.KNOBS + "maxsrc"):
            self.inc("mlds_rtr_srcfull")
            g.mode, g.sources = MCAST_EXCLUDE, {}
            g.timer = max(g.timer, now + self.mali)
            asks = []
        if st.querier:
            for a in asks:
                self._ask(st, group, g, a, now)
            r = st.rtx.get(group)
            if r is not None:
                self.gate.arm(r.due)
        self.gate.arm(g.next_deadline(now))
        return g

    def _ask(self, st: _RtrIf, group: McAddr, g: RouterGroup, ask: Ask,
             now: float) -> None:
        """Owe [LLQC] queries for ``ask``, the first now; lower its timers
        (nothing when the version spoken has no such query: the timers run
        out instead)."""
        if not self._can_ask(ask):
            return
        r = st.rtx.get(group)
        if r is None:
            r = st.rtx[group] = _Rtx(due=now)
        r.due = min(r.due, now) if (r.group_left or r.src_left) else now
        n = self.robustness
        if ask is None:
            r.group_left = n
        else:
            for s in ask:
                r.src_left[s] = n
        g.lower(ask, now, self.llqt)

    # --- timers
    def next_deadline(self) -> float | None:
        ts: list[float] = []
        for st in self._if.values():
            ts.append(st.gq_due if st.querier else st.oqp_until)
            ts += [r.due for r in st.rtx.values()]
            for g in st.groups.values():
                t = g.next_deadline(0.0)
                if t is not None:
                    ts.append(t)
        return min(ts) if ts else None

    def poll(self, now: float) -> list[Any]:
        out: list[Any] = []
        if not self._if:
            return out  # the querier runs nowhere (most polls of a host)
        for ifname, st in self._if.items():
            if not st.querier and st.oqp_until <= now:
                st.querier, st.querier_addr = True, None  # §7.6.2: resume
                self.inc("mlds_querier_won")
                st.gq_due = now
            for group, g in list(st.groups.items()):
                if not g.expire(now):
                    del st.groups[group]
                    st.rtx.pop(group, None)
                    self.inc("mlds_rtr_expired")
            if not st.querier:
                continue
            if st.gq_due <= now:
                out.append(self._query(ifname, self.UNSPEC, (), False, self.qri))
                self.inc("mlds_snd_gen_queries")
                if st.startup_left > 1:
                    st.startup_left -= 1
                    st.gq_due = now + self.qi / 4
                else:
                    st.startup_left = 0
                    st.gq_due = now + self.qi
            for group, r in list(st.rtx.items()):
                if r.due > now:
                    continue
                out += self._specific(ifname, st, group, r, now)
        return out

    def _specific(self, ifname: str, st: _RtrIf, group: McAddr, r: _Rtx,
                  now: float) -> list[Any]:
        """This round of the queries owed for ``group`` (§7.6.3.1: S set
        for what listeners refreshed beyond the LLQT since; §7.6.3.2: the
        sources split by that)."""
        g = st.groups.get(group)
        out: list[Any] = []
        llqt = now + self.llqt
        if g is None:
            st.rtx.pop(group, None)
            return out
        if r.group_left:
            sup = g.mode != MCAST_EXCLUDE or g.timer > llqt
            out.append(self._query(ifname, group, (), sup, self.llqi))
            self.inc("mlds_snd_group_queries")
            r.group_left -= 1
        if r.src_left:
            hi = [s for s in r.src_left if (g.sources.get(s) or 0.0) > llqt]
            lo = [s for s in r.src_left if s not in hi]
            for lst, sup in ((lo, False), (hi, True)):
                if lst:
                    out.append(self._query(ifname, group, tuple(sorted(lst, key=int)), sup,
                                           self.llqi))
                    self.inc("mlds_snd_gsr_queries")
            for s in list(r.src_left):
                if r.src_left[s] <= 1:
                    del r.src_left[s]
                else:
                    r.src_left[s] -= 1
        if r.group_left or r.src_left:
            r.due = now + self.llqi
        else:
            del st.rtx[group]
        return out

    def _query(self, ifname: str, group: McAddr, srcs: tuple[McAddr, ...],
               suppress: bool, resp: float) -> Any:
        ms = round(resp * 1000)
        v2 = self.version >= 2
        return SendMldQuery(ifname, IPv6Address(int(group)), tuple(IPv6Address(int(x)) for x in srcs),
                            suppress, max_resp_code(ms) if v2 else min(ms, 0xFFFF),
                            min(self.robustness, 7), qqic(int(self.qi)), v2)

    def _compat(self, st: _RtrIf, group: McAddr, g: RouterGroup, now: float) -> str:
        return "mldv1" if g.v1_until > now else "mldv2"

    # --- what `kame mld show` prints
    def snapshot(self, now: float) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for ifname, st in self._if.items():
            groups = []
            for group, g in sorted(st.groups.items(), key=lambda kv: int(kv[0])):
                groups.append({
                    "group": str(group),
                    "mode": "exclude" if g.mode == MCAST_EXCLUDE else "include",
                    "timer": round(max(0.0, g.timer - now), 3)
                    if g.mode == MCAST_EXCLUDE else None,
                    "compat": self._compat(st, group, g, now),
                    "sources": [{"addr": str(s), "timer": None if t is None
                                 else round(max(0.0, t - now), 3)}
                                for s, t in sorted(g.sources.items(), key=lambda kv: int(kv[0]))],
                })
            out.append({
                "ifname": ifname,
                "querier": str(st.me) if st.querier else
                str(st.querier_addr) if st.querier_addr is not None else None,
                "is_querier": st.querier,
                "other_querier_timer": None if st.querier else round(max(0.0, st.oqp_until - now), 3),
                "next_query": round(max(0.0, st.gq_due - now), 3) if st.querier else None,
                "older_querier": None if st.oldq_addr is None else {
                    "addr": str(st.oldq_addr), "version": st.oldq_version,
                    "queries": st.oldq_count},
                "groups": groups,
            })
        return out
