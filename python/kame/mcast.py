"""Multicast source filters, the part IGMPv3 and MLDv2 share (FreeBSD's
``in_mcast.c``/``in6_mcast.c`` and ``igmp.c``/``mld6.c``; RFC 3376 §3.2
and §5.1, RFC 3810 §4.2 and §6.1, RFC 3678's filter modes), sans-I/O and
address-family blind:

- :func:`merge`: the interface's filter for a group from its members'
  (RFC 3810 §4.2, RFC 3376 §3.2).
- :func:`change_records`: the State-Change records from one interface
  filter to the next.
- :class:`Retrans`: a group's retransmission state (RFC 3376 §5.1, RFC 3810
  §6.1): a filter-mode change is reported by [Robustness] TO_IN/TO_EX
  records of the current state; every source a source-list change touched
  keeps its own counter, so that a burst of changes retransmits every
  source still pending, ALLOW or BLOCK as the current filter says, in one
  report per transmission.
- :func:`current_records`: the Current-State records answering a query.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = [
    "ALLOW_NEW_SOURCES",
    "ANY",
    "BLOCK_OLD_SOURCES",
    "CHANGE_TO_EXCLUDE",
    "CHANGE_TO_INCLUDE",
    "MCAST_EXCLUDE",
    "MCAST_INCLUDE",
    "MODE_IS_EXCLUDE",
    "MODE_IS_INCLUDE",
    "NONE",
    "Retrans",
    "RouterGroup",
    "accepts",
    "change_records",
    "current_records",
    "merge",
]

#: Record types, the same numbers in IGMPv3 (RFC 3376 §4.2.12) and MLDv2
#: (RFC 3810 §5.2.12).
MODE_IS_INCLUDE, MODE_IS_EXCLUDE, CHANGE_TO_INCLUDE, CHANGE_TO_EXCLUDE = 1, 2, 3, 4
ALLOW_NEW_SOURCES, BLOCK_OLD_SOURCES = 5, 6
#: Filter modes (``<netinet/in.h>``, RFC 3678).
MCAST_INCLUDE, MCAST_EXCLUDE = 1, 2

A = TypeVar("A", bound=Hashable)
#: A filter: (MCAST_INCLUDE or MCAST_EXCLUDE, sources).
Filter = tuple[int, frozenset[Any]]
#: Group records: (record type, sources in address order).
Records = tuple[tuple[int, tuple[Any, ...]], ...]
NONE: Filter = (MCAST_INCLUDE, frozenset())  # not a member
ANY: Filter = (MCAST_EXCLUDE, frozenset())  # any-source member


def _srt(x: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(sorted(x, key=int))


def accepts(f: Filter, src: Any) -> bool:
    """Whether filter ``f`` takes datagrams from ``src``."""
    return (src in f[1]) == (f[0] == MCAST_INCLUDE)


def merge(n_any: int, filters: Iterable[Filter]) -> Filter:
    """The interface's filter from ``n_any`` any-source members and the
    others' filters (RFC 3810 §4.2): EXCLUDE when any member excludes, with
    the intersection of the exclude lists less every include list; else
    INCLUDE with the union of the include lists."""
    ex: list[frozenset[Any]] = [frozenset()] if n_any > 0 else []
    inc: set[Any] = set()
    for mode, srcs in filters:
        if mode == MCAST_EXCLUDE:
            ex.append(srcs)
        else:
            inc |= srcs
    if ex:
        return MCAST_EXCLUDE, frozenset.intersection(*ex) - inc
    return MCAST_INCLUDE, frozenset(inc)


def change_records(old: Filter, new: Filter) -> Records:
    """The State-Change records from ``old`` to ``new`` (RFC 3810 §6.1's
    table): within a mode ALLOW_NEW_SOURCES and BLOCK_OLD_SOURCES (each
    only when not empty), across modes CHANGE_TO_INCLUDE or
    CHANGE_TO_EXCLUDE with the new sources."""
    (om, a), (nm, b) = old, new
    if om != nm:
        return ((CHANGE_TO_INCLUDE if nm == MCAST_INCLUDE else CHANGE_TO_EXCLUDE, _srt(b)),)
    allow, block = (b - a, a - b) if nm == MCAST_INCLUDE else (a - b, b - a)
    out = []
    if allow:
        out.append((ALLOW_NEW_SOURCES, _srt(allow)))
    if block:
        out.append((BLOCK_OLD_SOURCES, _srt(block)))
    return tuple(out)


def current_records(f: Filter, asked: frozenset[Any] | None) -> Records:
    """Current-State records (RFC 3810 §6.3, RFC 3376 §5.2): the filter as
    MODE_IS_INCLUDE or MODE_IS_EXCLUDE; for a Multicast-Address-and-Source-
    Specific Query (``asked``), IS_IN of the asked sources the filter takes
    (none: no record)."""
    mode, srcs = f
    if asked is not None:
        want = asked & srcs if mode == MCAST_INCLUDE else asked - srcs
        return ((MODE_IS_INCLUDE, _srt(want)),) if want else ()
    return ((MODE_IS_INCLUDE if mode == MCAST_INCLUDE else MODE_IS_EXCLUDE, _srt(srcs)),)


@dataclass(slots=True)
class Retrans:
    """A group's State-Change retransmission state (``inm_scrv`` and the
    per-source ``ims_rec`` counters of FreeBSD): ``due`` the next
    transmission, ``mode_left`` TO_IN/TO_EX records still to send,
    ``src_left`` source -> transmissions still owed."""

    due: float = 0.0
    mode_left: int = 0
    src_left: dict[Any, int] = field(default_factory=dict)

    def change(self, old: Filter, new: Filter, robustness: int) -> None:
        """Merge the change ``old`` -> ``new`` into the pending state (RFC
        3376 §5.1): a filter-mode change owes [Robustness] TO_IN/TO_EX
        records (which carry the whole state, so the source counters go);
        a source-list change while those are owed owes them afresh; else
        every source that changed owes [Robustness] ALLOW or BLOCK
        mentions."""
        if old == new:
            return
        if old[0] != new[0] or self.mode_left:
            self.mode_left = robustness
            self.src_left.clear()
            return
        for s in old[1] ^ new[1]:
            self.src_left[s] = robustness

    def records(self, cur: Filter) -> Records:
        """The records of the next State-Change Report for a group whose
        filter is now ``cur``, counting the transmission: TO_IN or TO_EX
        with the current sources while a mode change is owed, else ALLOW
        (pending sources the filter takes) and BLOCK (those it refuses)."""
        if self.mode_left:
            self.mode_left -= 1
            t = CHANGE_TO_INCLUDE if cur[0] == MCAST_INCLUDE else CHANGE_TO_EXCLUDE
            return ((t, _srt(cur[1])),)
        allow = [s for s in self.src_left if accepts(cur, s)]
        block = [s for s in self.src_left if not accepts(cur, s)]
        for s in list(self.src_left):
            if self.src_left[s] <= 1:
                del self.src_left[s]
            else:
                self.src_left[s] -= 1
        out = []
        if allow:
            out.append((ALLOW_NEW_SOURCES, _srt(allow)))
        if block:
            out.append((BLOCK_OLD_SOURCES, _srt(block)))
        return tuple(out)

    @property
    def pending(self) -> bool:
        return bool(self.mode_left or self.src_left)


# --- the router side (RFC 3810 §7, RFC 3376 §6) ---------------------------

#: Queries a record asks the querier for: ``None`` a Multicast-Address-
#: Specific Query, a frozenset a Multicast-Address-and-Source-Specific one.
Ask = frozenset[Any] | None


@dataclass(slots=True)
class RouterGroup:
    """A multicast address's listening state on a link, a router's record
    (RFC 3810 §7.2, RFC 3376 §6.2.1): ``mode``; ``timer`` the Filter Timer's
    expiry (EXCLUDE); ``sources`` source -> its timer's expiry, ``None`` for
    the sources of the "Excluded" list (EXCLUDE's Y: timer stopped, not
    forwarded); ``v1_until`` the Older Version Host Present timer (RFC 3810
    §8.3.2, RFC 3376 §7.3.2)."""

    mode: int = MCAST_INCLUDE
    timer: float = 0.0
    sources: dict[Any, float | None] = field(default_factory=dict)
    v1_until: float = -1.0

    def requested(self) -> frozenset[Any]:
        """INCLUDE's list, EXCLUDE's "Requested" list X (timers running)."""
        return frozenset(s for s, t in self.sources.items() if t is not None)

    def excluded(self) -> frozenset[Any]:
        """EXCLUDE's "Excluded" list Y."""
        return frozenset(s for s, t in self.sources.items() if t is None)

    def forwards(self, src: Any) -> bool:
        """Whether traffic from ``src`` is wanted on the link (RFC 3810 §7.2.2)."""
        if self.mode == MCAST_INCLUDE:
            return src in self.sources
        return self.sources.get(src, 0.0) is not None

    def record(self, rtype: int, srcs: Iterable[Any], now: float, mali: float) -> list[Ask]:
        """A record of a Report: the new state and timers by the tables of
        RFC 3810 §7.4.1 (Current-State) and §7.4.2 (State-Change), RFC 3376
        §6.4; returns the queries the table sends (the caller sends them
        only as querier)."""
        b = frozenset(srcs)
        if self.v1_until > now:  # RFC 3810 §8.3.2 / RFC 3376 §7.3.2
            if rtype == BLOCK_OLD_SOURCES:
                return []
            if rtype == CHANGE_TO_EXCLUDE:
                b = frozenset()
        s = self.sources
        asks: list[Ask] = []
        if self.mode == MCAST_INCLUDE:
            a = self.requested()
            if rtype in (MODE_IS_INCLUDE, ALLOW_NEW_SOURCES, CHANGE_TO_INCLUDE):
                for x in b:
                    s[x] = now + mali
                if rtype == CHANGE_TO_INCLUDE and a - b:
                    asks.append(a - b)
            elif rtype == BLOCK_OLD_SOURCES:
                if a & b:
                    asks.append(a & b)
            elif rtype in (MODE_IS_EXCLUDE, CHANGE_TO_EXCLUDE):
                self.mode = MCAST_EXCLUDE
                self.sources = {x: (s[x] if x in a else None) for x in b}
                self.timer = now + mali
                if rtype == CHANGE_TO_EXCLUDE and a & b:
                    asks.append(a & b)
            return asks
        x_, y_ = self.requested(), self.excluded()
        ft = self.timer
        if rtype in (MODE_IS_INCLUDE, ALLOW_NEW_SOURCES, CHANGE_TO_INCLUDE):
            for x in b:
                s[x] = now + mali
            if rtype == CHANGE_TO_INCLUDE:
                if x_ - b:
                    asks.append(x_ - b)
                asks.append(None)
        elif rtype == BLOCK_OLD_SOURCES:
            for x in b - x_ - y_:
                s[x] = ft
            if b - y_:
                asks.append(b - y_)
        elif rtype in (MODE_IS_EXCLUDE, CHANGE_TO_EXCLUDE):
            new: dict[Any, float | None] = {}
            for x in b - y_:  # A-Y: kept from X, new ones MALI (IS_EX) or FT (TO_EX)
                new[x] = s[x] if x in x_ else (now + mali if rtype == MODE_IS_EXCLUDE else ft)
            for x in b & y_:
                new[x] = None
            self.sources = new
            self.timer = now + mali
            if rtype == CHANGE_TO_EXCLUDE and b - y_:
                asks.append(b - y_)
        return asks

    def lower(self, ask: Ask, now: float, llqt: float) -> None:
        """A query for this address is sent or heard (without the Suppress
        flag): the timers it is about go down to the Last Listener Query
        Time (RFC 3810 §7.6.3, §7.6.1; RFC 3376 §6.6.3, §6.6.1)."""
        t = now + llqt
        if ask is None:
            if self.mode == MCAST_EXCLUDE and self.timer > t:
                self.timer = t
            return
        for x in ask:
            v = self.sources.get(x)
            if v is not None and v > t:
                self.sources[x] = t

    def expire(self, now: float) -> bool:
        """Run the timers to ``now`` (RFC 3810 §7.2.3's table): an expired
        source of INCLUDE goes, of EXCLUDE moves to Y; an expired Filter
        Timer switches to INCLUDE of the sources with running timers. False
        when no listener is left (delete the record)."""
        s = self.sources
        for x, t in list(s.items()):
            if t is not None and t <= now:
                if self.mode == MCAST_INCLUDE:
                    del s[x]
                else:
                    s[x] = None
        if self.mode == MCAST_EXCLUDE and self.timer <= now:
            self.mode = MCAST_INCLUDE
            self.sources = {x: t for x, t in s.items() if t is not None}
        return self.mode == MCAST_EXCLUDE or bool(self.sources)

    def next_deadline(self, now: float) -> float | None:
        ts = [t for t in self.sources.values() if t is not None]
        if self.mode == MCAST_EXCLUDE:
            ts.append(self.timer)
        return min(ts) if ts else None

    def filter(self) -> Filter:
        """The state as a filter: what the link wants forwarded."""
        if self.mode == MCAST_INCLUDE:
            return MCAST_INCLUDE, frozenset(self.sources)
        return MCAST_EXCLUDE, self.excluded()
