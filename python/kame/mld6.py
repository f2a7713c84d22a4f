"""Multicast Listener Discovery, listener side (KAME ``mld6.c``; RFC 3810
MLDv2 with RFC 2710 MLDv1 fallback; RFC 4604 source-specific
membership), sans-I/O.

- An any-source join of a reportable group (not interface-local, not
  ff02::1: RFC 3810 §6) and every other change of the interface's filter
  for a group (RFC 3810 §4.2: the merge of its members' INCLUDE/EXCLUDE
  source lists, :func:`kame.mcast.merge`) is reported at once and
  [Robustness Variable − 1] more times within the Unsolicited Report
  Interval (1 s, RFC 3810 §6.1): CHANGE_TO_EXCLUDE/CHANGE_TO_INCLUDE
  records for a filter-mode change (a join is TO_EX({}), a leave
  TO_IN({})), ALLOW_NEW_SOURCES/BLOCK_OLD_SOURCES for source-list changes,
  each source keeping its own retransmission count
  (:class:`kame.mcast.Retrans`); in MLDv1 a join is a Report (131), a
  leave a Done (132) to ff02::2, and sources are not reported.
- A Query schedules a response after uniform(0, Maximum Response Delay):
  a General Query reports every reportable group (MODE_IS_INCLUDE or
  MODE_IS_EXCLUDE with the interface's sources), a Multicast-Address-
  Specific Query only its group if joined, a Multicast-Address-and-Source-
  Specific Query IS_IN of the asked sources the filter takes (RFC 3810
  §6.2, §6.3; the asked sources are bounded by
  ``net.inet6.ip6.mcast.maxgrpsrc``, past which the whole state answers).
- An MLDv1 Query (24-octet form) puts the interface in MLDv1 compatibility
  mode for the Older Version Querier Present Timeout (RFC 3810 §9.12:
  Robustness × Query Interval + Query Response Interval = 260 s).

The node turns :class:`SendMldReport` actions into packets (hop limit 1,
Router Alert, RFC 3810 §5; as many reports as the link MTU needs).
"""

from __future__ import annotations

import errno
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from ipaddress import IPv6Address
from typing import Any

from kame import mcast
from kame.addr import LINKLOCAL_ALL_NODES, mc_scope
from kame.gate import Gate
from kame.mcast import (
    ALLOW_NEW_SOURCES,
    ANY,
    BLOCK_OLD_SOURCES,
    CHANGE_TO_EXCLUDE,
    CHANGE_TO_INCLUDE,
    MCAST_EXCLUDE,
    MCAST_INCLUDE,
    MODE_IS_EXCLUDE,
    MODE_IS_INCLUDE,
    NONE,
    Filter,
    Retrans,
)

__all__ = [
    "ALLOW_NEW_SOURCES",
    "BLOCK_OLD_SOURCES",
    "CHANGE_TO_EXCLUDE",
    "CHANGE_TO_INCLUDE",
    "MCAST_EXCLUDE",
    "MCAST_INCLUDE",
    "MODE_IS_EXCLUDE",
    "MODE_IS_INCLUDE",
    "Mld6",
    "SendMldReport",
    "max_resp_delay",
    "reportable",
]

ROBUSTNESS = 2
QUERY_INTERVAL = 125.0
QUERY_RESPONSE_INTERVAL = 10.0
UNSOLICITED_REPORT_INTERVAL = 1.0
OLDER_QUERIER_TIMEOUT = ROBUSTNESS * QUERY_INTERVAL + QUERY_RESPONSE_INTERVAL


def reportable(group: IPv6Address) -> bool:
    """RFC 3810 §6: no reports for scope 0/1 groups nor for ff02::1."""
    return mc_scope(group) > 1 and group != LINKLOCAL_ALL_NODES


def max_resp_delay(code: int, v2: bool) -> float:
    """Seconds from the Maximum Response Code (RFC 3810 §5.1.3; v1: ms)."""
    if v2 and code >= 0x8000:
        exp = (code >> 12) & 0x7
        mant = code & 0x0FFF
        code = (mant | 0x1000) << (exp + 3)
    return code / 1000.0


#: A record: (type, group, sources).
Record = tuple[int, IPv6Address, tuple[IPv6Address, ...]]


@dataclass(frozen=True, slots=True)
class SendMldReport:
    """Transmit MLD: ``version`` 2 -> Reports with ``records`` (type,
    group, sources); version 1 -> a Report (131) per group, or a Done (132)
    when ``done``."""

    ifname: str
    version: int
    records: tuple[Record, ...]
    done: bool = False


@dataclass(slots=True)
class _IfMld:
    #: Groups the node joined for any source (``Node.join``).
    groups: set[IPv6Address] = field(default_factory=set)
    #: Members with a source filter, per group: owner -> filter.
    sf: dict[IPv6Address, dict[object, Filter]] = field(default_factory=dict)
    #: The interface's filter per group (``in6m_st``), for input filtering.
    state: dict[IPv6Address, Filter] = field(default_factory=dict)
    v1_until: float = -1.0
    #: Query answers and MLDv1 report retransmissions: (group or None for
    #: "all") -> (due time, record type, sends left incl. this one).
    pending: dict[IPv6Address | None, tuple[float, int, int]] = field(default_factory=dict)
    #: MLDv2 State-Change retransmissions owed, per group.
    changes: dict[IPv6Address, Retrans] = field(default_factory=dict)
    #: Sources asked for by Multicast-Address-and-Source-Specific Queries.
    asked: dict[IPv6Address, frozenset[IPv6Address]] = field(default_factory=dict)


class Mld6:
    """Listener state of every interface. ``maxgrpsrc`` bounds the sources
    of an interface's filter for a group and of the sources asked for it
    (``net.inet6.ip6.mcast.maxgrpsrc``); ``inc`` counts refusals
    (``icp6s_mld_srcfull``)."""

    def __init__(self, rng: random.Random | None = None,
                 maxgrpsrc: int | Callable[[], int] = 512,
                 inc: Callable[[str], Any] | None = None) -> None:
        self.rng = rng if rng is not None else random.Random()
        self._maxgrpsrc = maxgrpsrc
        self.inc = inc if inc is not None else (lambda _name: None)
        self._if: dict[str, _IfMld] = {}
        #: the node's next-deadline gate (:mod:`kame.gate`): every report owed lowers it
        self.gate = Gate()

    @property
    def maxgrpsrc(self) -> int:
        m = self._maxgrpsrc
        return m if isinstance(m, int) else m()

    def _st(self, ifname: str) -> _IfMld:
        st = self._if.get(ifname)
        if st is None:  # not setdefault: no state made and thrown away per call
            st = self._if[ifname] = _IfMld()
        return st

    def version(self, ifname: str, now: float) -> int:
        return 1 if self._st(ifname).v1_until > now else 2

    def groups(self, ifname: str) -> set[IPv6Address]:
        """Every group with a member on ``ifname``, any-source or filtered."""
        st = self._st(ifname)
        return st.groups | set(st.sf)

    def filter(self, ifname: str, group: IPv6Address) -> Filter | None:
        """The interface's filter for ``group`` (``None``: not a member)."""
        st = self._if.get(ifname)
        if st is None or (group not in st.groups and group not in st.sf):
            return None
        return st.state.get(group, ANY)

    def accepts(self, ifname: str, group: IPv6Address, src: IPv6Address) -> bool:
        """Whether the interface takes ``src``'s datagrams to ``group``
        (a group it is not a member of: no opinion, True)."""
        st = self._if.get(ifname)
        if st is None:
            return True
        f = st.state.get(group)
        return f is None or mcast.accepts(f, src)

    @staticmethod
    def _merged(st: _IfMld, group: IPv6Address) -> Filter:
        owners = st.sf.get(group, {})
        if group not in st.groups and not owners:
            return NONE
        return mcast.merge(1 if group in st.groups else 0, owners.values())

    def join(self, ifname: str, group: IPv6Address, now: float) -> list[SendMldReport]:
        """The node joins ``group`` for any source."""
        st = self._st(ifname)
        if group in st.groups:  # the node bounds the groups (mcast_maxgroups)
            return []
        old = self._merged(st, group)
        st.groups.add(group)
        return self._state_change(ifname, st, group, old, now)

    def leave(self, ifname: str, group: IPv6Address, now: float) -> list[SendMldReport]:
        st = self._st(ifname)
        if group not in st.groups:
            return []
        old = self._merged(st, group)
        st.groups.discard(group)
        return self._state_change(ifname, st, group, old, now)

    def setfilter(self, ifname: str, group: IPv6Address, owner: object, mode: int,
                  sources: Iterable[IPv6Address], now: float, drop_any: bool = False
                  ) -> tuple[int, list[SendMldReport]]:
        """Set ``owner``'s (a socket's) filter for ``group``; INCLUDE({})
        takes it away; ``drop_any``: the node's any-source membership goes in
        the same change (its last any-source member took a filter).
        ``ENOBUFS`` (``icp6s_mld_srcfull``) when the interface's filter would
        pass ``maxgrpsrc`` sources, ``EINVAL`` for a mode neither INCLUDE nor
        EXCLUDE; the change is reported."""
        if mode not in (MCAST_INCLUDE, MCAST_EXCLUDE):
            return errno.EINVAL, []
        st = self._st(ifname)
        srcs = frozenset(sources)
        trial = dict(st.sf.get(group, {}))
        if mode == MCAST_INCLUDE and not srcs:
            if trial.pop(owner, None) is None and not drop_any:
                return 0, []
        else:
            trial[owner] = (mode, srcs)
        n_any = 1 if group in st.groups and not drop_any else 0
        new = mcast.merge(n_any, trial.values()) if n_any or trial else NONE
        if len(new[1]) > self.maxgrpsrc:
            self.inc("icp6s_mld_srcfull")
            return errno.ENOBUFS, []
        old = self._merged(st, group)
        if drop_any:
            st.groups.discard(group)
        if trial:
            st.sf[group] = trial
        else:
            st.sf.pop(group, None)
        return 0, self._state_change(ifname, st, group, old, now)

    def _state_change(self, ifname: str, st: _IfMld, group: IPv6Address, old: Filter,
                      now: float) -> list[SendMldReport]:
        new = self._merged(st, group)
        if new == NONE:
            st.state.pop(group, None)
        else:
            st.state[group] = new
        if old == new or not reportable(group):
            return []
        st.asked.pop(group, None)
        if self.version(ifname, now) == 1:  # no sources in MLDv1: joins and leaves
            st.changes.pop(group, None)
            if old == NONE:
                st.pending[group] = (now + self.rng.uniform(0, UNSOLICITED_REPORT_INTERVAL),
                                     131, ROBUSTNESS - 1)
                self.gate.arm(st.pending[group][0])
                return [SendMldReport(ifname, 1, ((131, group, ()),))]
            if new == NONE:
                st.pending.pop(group, None)
                return [SendMldReport(ifname, 1, ((132, group, ()),), done=True)]
            return []
        if new == NONE:
            st.pending.pop(group, None)
        rt = st.changes.get(group)
        if rt is None:
            rt = st.changes[group] = Retrans()
        rt.change(old, new, ROBUSTNESS)
        return self._send_changes(ifname, st, [group], now)

    def _send_changes(self, ifname: str, st: _IfMld, groups: list[IPv6Address],
                      now: float) -> list[SendMldReport]:
        recs: list[Record] = []
        for g in groups:
            rt = st.changes[g]
            recs += [(t, g, srcs) for t, srcs in rt.records(self._merged(st, g))]
            if rt.pending:
                rt.due = now + self.rng.uniform(0, UNSOLICITED_REPORT_INTERVAL)
                self.gate.arm(rt.due)
            else:
                del st.changes[g]
        return [SendMldReport(ifname, 2, tuple(recs))] if recs else []

    def query_input(self, ifname: str, group: IPv6Address, max_resp_code: int, v2: bool,
                    now: float, sources: Iterable[IPv6Address] = ()) -> None:
        """A Query heard on ``ifname`` (group ``::`` = General Query;
        ``sources``: a Multicast-Address-and-Source-Specific Query)."""
        st = self._st(ifname)
        if not v2:
            st.v1_until = now + OLDER_QUERIER_TIMEOUT
            sources = ()
        delay = self.rng.uniform(0, max(0.0, max_resp_delay(max_resp_code, v2)))
        due = now + delay
        if int(group) == 0:
            old = st.pending.get(None)
            if old is None or old[0] > due:
                st.pending[None] = (due, MODE_IS_EXCLUDE, 1)
                self.gate.arm(due)
            return
        if not reportable(group) or (group not in st.groups and group not in st.sf):
            return
        gen = st.pending.get(None)
        if gen is not None and gen[0] <= due:
            return  # RFC 3810 §6.2 rule 1: the General Query's answer comes first
        asked = frozenset(sources)
        prev = st.asked.get(group)
        old = st.pending.get(group)
        if old is not None and old[1] == 131:
            old = None  # an MLDv1 join's retransmission, not a query's answer
        if asked and (old is None or prev is not None):  # rules 3 and 5
            union = (prev or frozenset()) | asked
            if len(union) > self.maxgrpsrc:
                self.inc("icp6s_mld_srcfull")  # too many to remember: the whole state
                st.asked.pop(group, None)
            else:
                st.asked[group] = union
        else:  # rule 4
            st.asked.pop(group, None)
        if old is None or old[0] > due:
            st.pending[group] = (due, MODE_IS_EXCLUDE, 1)
            self.gate.arm(due)

    def next_deadline(self) -> float | None:
        ts = [t for st in self._if.values() for t, _, _ in st.pending.values()]
        ts += [rt.due for st in self._if.values() for rt in st.changes.values()]
        return min(ts) if ts else None

    def poll(self, now: float) -> list[SendMldReport]:
        out: list[SendMldReport] = []
        for ifname, st in self._if.items():
            if not st.pending and not st.changes:
                continue  # nothing owed on this interface (most polls)
            v1 = self.version(ifname, now) == 1
            answer: list[IPv6Address] = []
            for key, (due, rtype, left) in list(st.pending.items()):
                if due > now:
                    continue
                if left > 1:
                    st.pending[key] = (now + self.rng.uniform(
                        0, UNSOLICITED_REPORT_INTERVAL), rtype, left - 1)
                    self.gate.arm(st.pending[key][0])
                else:
                    del st.pending[key]
                if key is None:
                    answer += sorted((g for g in st.groups | set(st.sf) if reportable(g)),
                                     key=int)
                elif key in st.groups or key in st.sf:
                    answer.append(key)
            answer = list(dict.fromkeys(answer))
            if answer and v1:
                out.append(SendMldReport(ifname, 1, tuple((131, g, ()) for g in answer)))
                for g in answer:
                    st.asked.pop(g, None)
            elif answer:
                recs = [(t, g, srcs) for g in answer for t, srcs in mcast.current_records(
                    self._merged(st, g), st.asked.pop(g, None))]
                if recs:
                    out.append(SendMldReport(ifname, 2, tuple(recs)))
            owed = [g for g, rt in st.changes.items() if rt.due <= now]
            if owed:
                out += self._send_changes(ifname, st, owed, now)
        return out
