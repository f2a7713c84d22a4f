"""Multicast Listener Discovery, listener side (KAME ``mld6.c``; RFC 3810
MLDv2 with RFC 2710 MLDv1 fallback), sans-I/O.

- Joining a reportable group (not interface-local, not ff02::1: RFC 3810 §6)
  sends an unsolicited report at once and [Robustness Variable − 1] more
  within the Unsolicited Report Interval (1 s) — RFC 3810 §6.1 —, as a
  CHANGE_TO_EXCLUDE({}) record in MLDv2, a Report (131) in MLDv1.
- Leaving sends CHANGE_TO_INCLUDE({}) (v2) or a Done (132) to ff02::2 (v1).
- A Query schedules a response after uniform(0, Maximum Response Delay):
  a General Query reports every reportable group (MODE_IS_EXCLUDE in v2),
  a Multicast-Address-Specific Query only its group if joined.
- An MLDv1 Query (24-octet form) puts the interface in MLDv1 compatibility
  mode for the Older Version Querier Present Timeout (RFC 3810 §9.12:
  Robustness × Query Interval + Query Response Interval = 260 s).

The node turns :class:`SendMldReport` actions into packets (hop limit 1,
Router Alert, RFC 3810 §5).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from ipaddress import IPv6Address

from kame.addr import LINKLOCAL_ALL_NODES, mc_scope

__all__ = [
    "CHANGE_TO_EXCLUDE",
    "CHANGE_TO_INCLUDE",
    "MODE_IS_EXCLUDE",
    "Mld6",
    "SendMldReport",
    "max_resp_delay",
    "reportable",
]

MODE_IS_EXCLUDE = 2
CHANGE_TO_INCLUDE = 3
CHANGE_TO_EXCLUDE = 4
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


@dataclass(frozen=True, slots=True)
class SendMldReport:
    """Transmit MLD: ``version`` 2 -> one Report with ``records`` (type,
    group); version 1 -> a Report (131) per group, or a Done (132) when
    ``done``."""

    ifname: str
    version: int
    records: tuple[tuple[int, IPv6Address], ...]
    done: bool = False


@dataclass(slots=True)
class _IfMld:
    groups: set[IPv6Address] = field(default_factory=set)
    v1_until: float = -1.0
    # (group or None for "all") -> (due time, record type, sends left incl. this one)
    pending: dict[IPv6Address | None, tuple[float, int, int]] = field(default_factory=dict)


class Mld6:
    """Listener state of every interface."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng if rng is not None else random.Random()
        self._if: dict[str, _IfMld] = {}

    def _st(self, ifname: str) -> _IfMld:
        return self._if.setdefault(ifname, _IfMld())

    def version(self, ifname: str, now: float) -> int:
        return 1 if self._st(ifname).v1_until > now else 2

    def groups(self, ifname: str) -> set[IPv6Address]:
        return set(self._st(ifname).groups)

    def _send(self, ifname: str, now: float, rtype: int,
              groups: list[IPv6Address]) -> SendMldReport | None:
        if not groups:
            return None
        if self.version(ifname, now) == 1:
            return SendMldReport(ifname, 1, tuple((131, g) for g in groups))
        return SendMldReport(ifname, 2, tuple((rtype, g) for g in groups))

    def join(self, ifname: str, group: IPv6Address, now: float) -> list[SendMldReport]:
        st = self._st(ifname)
        if group in st.groups:  # the node bounds the groups (mcast_maxgroups)
            return []
        st.groups.add(group)
        if not reportable(group):
            return []
        st.pending[group] = (now + self.rng.uniform(0, UNSOLICITED_REPORT_INTERVAL),
                             CHANGE_TO_EXCLUDE, ROBUSTNESS - 1)
        a = self._send(ifname, now, CHANGE_TO_EXCLUDE, [group])
        return [a] if a else []

    def leave(self, ifname: str, group: IPv6Address, now: float) -> list[SendMldReport]:
        st = self._st(ifname)
        if group not in st.groups:
            return []
        st.groups.discard(group)
        st.pending.pop(group, None)
        if not reportable(group):
            return []
        if self.version(ifname, now) == 1:
            return [SendMldReport(ifname, 1, ((132, group),), done=True)]
        return [SendMldReport(ifname, 2, ((CHANGE_TO_INCLUDE, group),))]

    def query_input(self, ifname: str, group: IPv6Address, max_resp_code: int, v2: bool,
                    now: float) -> None:
        """A Query heard on ``ifname`` (group ``::`` = General Query)."""
        st = self._st(ifname)
        if not v2:
            st.v1_until = now + OLDER_QUERIER_TIMEOUT
        delay = self.rng.uniform(0, max(0.0, max_resp_delay(max_resp_code, v2)))
        due = now + delay
        if int(group) == 0:
            old = st.pending.get(None)
            if old is None or old[0] > due:
                st.pending[None] = (due, MODE_IS_EXCLUDE, 1)
        elif group in st.groups and reportable(group):
            old = st.pending.get(group)
            if old is None or old[0] > due:
                st.pending[group] = (due, MODE_IS_EXCLUDE, 1)

    def next_deadline(self) -> float | None:
        ts = [t for st in self._if.values() for t, _, _ in st.pending.values()]
        return min(ts) if ts else None

    def poll(self, now: float) -> list[SendMldReport]:
        out: list[SendMldReport] = []
        for ifname, st in self._if.items():
            for key, (due, rtype, left) in list(st.pending.items()):
                if due > now:
                    continue
                if key is None:
                    del st.pending[key]
                    groups = sorted((g for g in st.groups if reportable(g)), key=int)
                else:
                    if left > 1:
                        st.pending[key] = (now + self.rng.uniform(
                            0, UNSOLICITED_REPORT_INTERVAL), rtype, left - 1)
                    else:
                        del st.pending[key]
                    groups = [key]
                a = self._send(ifname, now, rtype, groups)
                if a:
                    out.append(a)
        return out
