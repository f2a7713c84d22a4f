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
