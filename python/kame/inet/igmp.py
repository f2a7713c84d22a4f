"""``igmp.c``: IGMP, host side — IGMPv3 (RFC 9776) with the IGMPv2 (RFC
2236) and IGMPv1 (RFC 1112) compatibility modes, as FreeBSD's
``net.inet.igmp.default_version`` 3, and as :mod:`kame.mld6` does MLD.

- ``in_joingroup`` (a socket's ``IP_ADD_MEMBERSHIP``): the first member of a
  group on an interface sends an unsolicited report at once and
  [Robustness − 1] more within the Unsolicited Report Interval (1 s in v3,
  10 s in v2/v1): a CHANGE_TO_EXCLUDE_MODE({}) record to 224.0.0.22 (v3), a
  Membership Report to the group (0x16 v2, 0x12 v1). 224.0.0.1 is joined
  by every host and never reported (RFC 9776 §5, RFC 2236 §6).
- ``in_leavegroup`` (the last member leaves): CHANGE_TO_INCLUDE_MODE({})
  (v3), a Leave Group to 224.0.0.2 (v2), nothing (v1).
- A Query schedules the answer after uniform(0, Max Resp Time): a General
  Query reports every group (MODE_IS_EXCLUDE in v3, one report per group
  in v2/v1), a Group-Specific (or Group-and-Source-Specific: our members
  are EXCLUDE({}), any-source) Query only its group when joined.
- An IGMPv1 query (8 octets, Max Resp Code 0) or IGMPv2 query (8 octets)
  puts the interface in that compatibility mode for the Older Version
  Querier Present Timeout (Robustness × Query Interval + Query Response
  Interval = 260 s, RFC 9776 §8.12); in v2/v1 a report from another member
  cancels ours (suppression, RFC 2236 §3); a v3 host never suppresses.

Messages go out with TTL 1 and the Router Alert option (RFC 2113; not in
v1). The group table is bounded per interface by
``net.inet.ip.mcast_maxgroups`` (``igps_groupfull``). The header (type,
code, checksum, group) is checked by ``_core.icmp_parse``, whose layout
IGMP shares; counters are FreeBSD's ``struct igmpstat`` (``igps_*``).
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Any

from kame import _core, mcast
from kame.errors import KameError, TruncatedError
from kame.inet.icmp import Icmp
from kame.inet.route import in_multicast
from kame.mcast import (
    ALLOW_NEW_SOURCES,
    BLOCK_OLD_SOURCES,
    CHANGE_TO_EXCLUDE,
    CHANGE_TO_INCLUDE,
    MCAST_EXCLUDE,
    MCAST_INCLUDE,
    MODE_IS_EXCLUDE,
    MODE_IS_INCLUDE,
    Retrans,
)

__all__ = [
    "ALLOW_NEW_SOURCES",
    "BLOCK_OLD_SOURCES",
    "CHANGE_TO_EXCLUDE_MODE",
    "CHANGE_TO_INCLUDE_MODE",
    "MCAST_EXCLUDE",
    "MCAST_INCLUDE",
    "MODE_IS_EXCLUDE",
    "MODE_IS_INCLUDE",
    "Igmp",
    "IgmpIfinfo",
]

IPPROTO_IGMP = 2
IGMP_HOST_MEMBERSHIP_QUERY = 0x11
IGMP_v1_HOST_MEMBERSHIP_REPORT = 0x12
IGMP_v2_HOST_MEMBERSHIP_REPORT = 0x16
IGMP_HOST_LEAVE_MESSAGE = 0x17
IGMP_v3_HOST_MEMBERSHIP_REPORT = 0x22
#: RFC 9776 §4.2.12 record types (:mod:`kame.mcast`, shared with MLDv2).
CHANGE_TO_INCLUDE_MODE, CHANGE_TO_EXCLUDE_MODE = CHANGE_TO_INCLUDE, CHANGE_TO_EXCLUDE
INADDR_ALLHOSTS_GROUP = IPv4Address("224.0.0.1")
INADDR_ALLRTRS_GROUP = IPv4Address("224.0.0.2")
INADDR_ALLRPTS_GROUP = IPv4Address("224.0.0.22")
#: IP Router Alert (RFC 2113), on every IGMPv2/v3 message.
IPOPT_RA = b"\x94\x04\x00\x00"
ROBUSTNESS = 2
QUERY_INTERVAL = 125.0
QUERY_RESPONSE_INTERVAL = 10.0
OLDER_QUERIER_TIMEOUT = ROBUSTNESS * QUERY_INTERVAL + QUERY_RESPONSE_INTERVAL
#: (pending key None = "every group") -> (due, record type, sends left incl. this one)
_Pending = dict[IPv4Address | None, tuple[float, int, int]]
#: A filter: (MCAST_INCLUDE or MCAST_EXCLUDE, sources).
Filter = tuple[int, frozenset[IPv4Address]]
_NONE: Filter = (MCAST_INCLUDE, frozenset())  # not a member
_ANY: Filter = (MCAST_EXCLUDE, frozenset())  # any-source member


def igmp_max_resp(code: int, v3: bool) -> float:
    """Seconds from the Max Resp Code (RFC 9776 §4.1.1: tenths, the
    floating-point form from 128; IGMPv1: 0 means 10 s)."""
    if v3 and code >= 128:
        code = ((code & 0x0F) | 0x10) << (((code >> 4) & 0x07) + 3)
    return (code or 100) / 10.0


@dataclass(slots=True)
class IgmpIfinfo:
    """``struct igmp_ifsoftc``: the groups joined on one interface (member
    counts), the compatibility timers and the reports due."""

    groups: dict[IPv4Address, int] = field(default_factory=dict)
    v1_until: float = -1.0
    v2_until: float = -1.0
    pending: _Pending = field(default_factory=dict)
    #: Members with a source filter, per group: owner -> filter (the other
    #: members of ``groups[g]`` are any-source, EXCLUDE({})).
    sf: dict[IPv4Address, dict[object, Filter]] = field(default_factory=dict)
    #: The merged filter per group (``inm_st``), kept for input filtering.
    state: dict[IPv4Address, Filter] = field(default_factory=dict)
    #: IGMPv3 State-Change retransmissions owed, per group (:class:`kame.mcast.Retrans`).
    changes: dict[IPv4Address, Retrans] = field(default_factory=dict)
    #: Sources asked for by Group-and-Source-Specific Queries not yet answered.
    asked: dict[IPv4Address, frozenset[IPv4Address]] = field(default_factory=dict)


class Igmp(Icmp):
    igmpr: Any  # the router side (kame.inet.mroute)

    def igmp_router_input(self, ifname: str, v: Any, t: int, code: int, group: IPv4Address,
                          length: int, data: bytes, rest: int, now: float) -> None:
        raise NotImplementedError  # kame.inet.mroute.IpMroute
    """IGMP host side over the IPv4 layer."""

    igmp: dict[str, IgmpIfinfo]

    def _igi(self, ifname: str) -> IgmpIfinfo:
        igi = self.igmp.get(ifname)
        if igi is None:
            igi = self.igmp[ifname] = IgmpIfinfo()
        return igi

    def in_groups(self, ifname: str) -> set[IPv4Address]:
        """The groups joined on ``ifname`` (not 224.0.0.1, always joined)."""
        igi = self.igmp.get(ifname)
        return set(igi.groups) if igi is not None else set()

    def in_member(self, ifname: str, group: IPv4Address,
                  src: IPv4Address | None = None) -> bool:
        """Whether ``ifname`` is a member of ``group`` (and, given ``src``,
        takes that source: the interface's filter, RFC 3376 §3.2)."""
        if group == INADDR_ALLHOSTS_GROUP:
            return True
        igi = self.igmp.get(ifname)
        if igi is None or group not in igi.groups:
            return False
        if src is None:
            return True
        mode, srcs = igi.state.get(group, _ANY)
        return (src in srcs) == (mode == MCAST_INCLUDE)

    def in_filter(self, ifname: str, group: IPv4Address) -> Filter | None:
        """The interface's filter for ``group``: (MCAST_INCLUDE or
        MCAST_EXCLUDE, sources), ``None`` when not a member."""
        igi = self.igmp.get(ifname)
        if igi is None or group not in igi.groups:
            return None
        return igi.state.get(group, _ANY)

    @staticmethod
    def _merge(n_any: int, filters: Iterable[Filter]) -> Filter:
        """RFC 3376 §3.2 (:func:`kame.mcast.merge`)."""
        return mcast.merge(n_any, filters)

    def _st(self, igi: IgmpIfinfo, group: IPv4Address) -> Filter:
        n = igi.groups.get(group, 0)
        if not n:
            return _NONE
        owners = igi.sf.get(group, {})
        return self._merge(n - len(owners), owners.values())

    def in_setfilter(self, ifname: str, group: IPv4Address, owner: object, mode: int,
                     sources: Iterable[IPv4Address], now: float, counted: bool = False) -> int:
        """Set ``owner``'s (a socket's) source filter for ``group`` on
        ``ifname`` (``in_mcast.c``'s ``inp_set_source_filters``):
        INCLUDE({}) leaves; ``counted``: ``owner`` joined as an any-source
        member (``in_joingroup``) and now takes a filter. 0, ``EINVAL``, or ``ENOBUFS`` (counted in
        ``igps_srcfull``/``igps_groupfull``) past ``net.inet.ip.mcast_maxgrpsrc``
        or ``net.inet.ip.mcast_maxgroups``. The interface's filter changes
        with it, and the change is reported (RFC 3376 §5.1)."""
        if not in_multicast(group) or group == INADDR_ALLHOSTS_GROUP or \
                mode not in (MCAST_INCLUDE, MCAST_EXCLUDE):
            return errno.EINVAL
        srcs = frozenset(sources)
        igi = self._igi(ifname)
        owners = igi.sf.get(group, {})
        had = owner in owners or counted
        leaving = mode == MCAST_INCLUDE and not srcs
        if leaving and not had:
            return 0
        knobs = self.node.knobs._values
        if group not in igi.groups and len(igi.groups) >= int(knobs["net.inet.ip.mcast_maxgroups"]):
            self.inc("igps_groupfull")
            return errno.ENOBUFS
        old = self._st(igi, group)
        n = igi.groups.get(group, 0)
        trial = dict(owners)
        if leaving:
            trial.pop(owner, None)
        else:
            trial[owner] = (mode, srcs)
        n2 = n + (0 if had else 1) - (1 if leaving else 0)
        new = self._merge(n2 - len(trial), trial.values()) if n2 else _NONE
        if len(new[1]) > int(knobs["net.inet.ip.mcast_maxgrpsrc"]):
            self.inc("igps_srcfull")
            return errno.ENOBUFS
        if n2:
            igi.groups[group] = n2
            if trial:
                igi.sf[group] = trial
            else:
                igi.sf.pop(group, None)
        else:
            igi.groups.pop(group, None)
            igi.sf.pop(group, None)
        self._state_change(ifname, igi, group, old, new, now)
        return 0

    def igmp_version(self, ifname: str, now: float) -> int:
        igi = self._igi(ifname)
        if igi.v1_until > now:
            return 1
        if igi.v2_until > now:
            return 2
        return int(self.node.knobs._values["net.inet.igmp.default_version"])

    def in_joingroup(self, ifname: str, group: IPv4Address, now: float) -> int:
        """One more any-source member of ``group`` on ``ifname``: 0, or
        ``ENOBUFS`` when the interface already holds
        ``net.inet.ip.mcast_maxgroups``."""
        if not in_multicast(group):
            return errno.EINVAL
        igi = self._igi(ifname)
        n = igi.groups.get(group)
        if n is None and len(igi.groups) >= int(
                self.node.knobs._values["net.inet.ip.mcast_maxgroups"]):
            self.inc("igps_groupfull")
            return errno.ENOBUFS
        if group == INADDR_ALLHOSTS_GROUP:
            igi.groups[group] = (n or 0) + 1
            return 0
        old = self._st(igi, group)
        igi.groups[group] = (n or 0) + 1
        self._state_change(ifname, igi, group, old, self._st(igi, group), now)
        return 0

    def in_leavegroup(self, ifname: str, group: IPv4Address, now: float) -> None:
        """One any-source member of ``group`` on ``ifname`` fewer; the last
        member leaves."""
        igi = self.igmp.get(ifname)
        if igi is None or group not in igi.groups:
            return
        old = self._st(igi, group)
        igi.groups[group] -= 1
        if igi.groups[group] <= 0:
            del igi.groups[group]
            igi.sf.pop(group, None)
        if group == INADDR_ALLHOSTS_GROUP:
            return
        self._state_change(ifname, igi, group, old, self._st(igi, group), now)

    def _state_change(self, ifname: str, igi: IgmpIfinfo, group: IPv4Address, old: Filter,
                      new: Filter, now: float) -> None:
        """Report the interface's filter going from ``old`` to ``new``
        (``igmp_change_state``): at once, and [Robustness − 1] more times
        within the Unsolicited Report Interval (RFC 3376 §5.1). Any-source
        joins and leaves are CHANGE_TO_EXCLUDE_MODE({}) and
        CHANGE_TO_INCLUDE_MODE({}) (in v2/v1: a report, a leave); a source
        list changes by ALLOW_NEW_SOURCES/BLOCK_OLD_SOURCES within a mode,
        by TO_IN/TO_EX across (v2/v1 have no sources: a join or a leave)."""
        if new == _NONE:
            igi.state.pop(group, None)
        else:
            igi.state[group] = new
        if old == new:
            return
        igi.asked.pop(group, None)
        v3 = self.igmp_version(ifname, now) == 3
        if not v3:
            igi.changes.pop(group, None)
            if old == _NONE:  # a join
                left = ROBUSTNESS - 1
                if left:
                    igi.pending[group] = (now + self._uri(ifname, now),
                                          CHANGE_TO_EXCLUDE_MODE, left)
                    self.node.gate.arm(igi.pending[group][0])
                self.igmp_send(ifname, CHANGE_TO_EXCLUDE_MODE, [group], now)
            elif new == _NONE:  # a leave
                igi.pending.pop(group, None)
                self.igmp_send(ifname, CHANGE_TO_INCLUDE_MODE, [group], now)
            return
        igi.pending.pop(group, None)
        rt = igi.changes.get(group)
        if rt is None:
            rt = igi.changes[group] = Retrans()
        rt.change(old, new, ROBUSTNESS)
        self._send_changes(ifname, igi, [group], now)

    def _send_changes(self, ifname: str, igi: IgmpIfinfo, groups: list[IPv4Address],
                      now: float) -> None:
        """One State-Change Report (as few as the MTU allows) with the
        records owed for ``groups``; the next one due within the Unsolicited
        Report Interval while any are still owed."""
        recs: list[tuple[int, IPv4Address, tuple[IPv4Address, ...]]] = []
        for g in groups:
            rt = igi.changes[g]
            recs += [(t, g, srcs) for t, srcs in rt.records(self._st(igi, g))]
            if rt.pending:
                rt.due = now + self._uri(ifname, now)
                self.node.gate.arm(rt.due)
            else:
                del igi.changes[g]
        self.igmp_send_records(ifname, recs, now)

    def igmp_ifdetach(self, ifname: str) -> None:
        """The interface went down: its reports due are cancelled (groups
        stay, and are reported again when a querier asks)."""
        igi = self.igmp.get(ifname)
        if igi is not None:
            igi.pending.clear()
            igi.changes.clear()
            igi.asked.clear()

    def _uri(self, ifname: str, now: float) -> float:
        """A random delay within the Unsolicited Report Interval."""
        ival = 1.0 if self.igmp_version(ifname, now) == 3 else 10.0
        return float(self.node.rng.uniform(0, ival))

    # --- output -----------------------------------------------------------------

    def igmp_send(self, ifname: str, rtype: int, groups: list[IPv4Address], now: float) -> None:
        """Reports (or a Leave) for ``groups`` in the interface's version."""
        if not groups:
            return
        ifp = self.node.ifnets.get(ifname)
        if ifp is None or not ifp.up:
            return
        ver = self.igmp_version(ifname, now)
        if ver == 3:
            per = max(1, (int(ifp.mtu) - 24 - 8) // 8)
            for i in range(0, len(groups), per):
                chunk = groups[i:i + per]
                recs = b"".join(struct.pack("!BBH4s", rtype, 0, 0, g.packed) for g in chunk)
                msg = _core.icmp_build(IGMP_v3_HOST_MEMBERSHIP_REPORT, 0, len(chunk), recs)
                self._igmp_output(ifname, INADDR_ALLRPTS_GROUP, msg, now, True)
            return
        for g in groups:
            if rtype == CHANGE_TO_INCLUDE_MODE:
                if ver == 2:
                    msg = _core.icmp_build(IGMP_HOST_LEAVE_MESSAGE, 0, int(g))
                    self._igmp_output(ifname, INADDR_ALLRTRS_GROUP, msg, now, True)
                continue
            t = IGMP_v2_HOST_MEMBERSHIP_REPORT if ver == 2 else IGMP_v1_HOST_MEMBERSHIP_REPORT
            self._igmp_output(ifname, g, _core.icmp_build(t, 0, int(g)), now, ver == 2)

    def igmp_send_records(self, ifname: str,
                          recs: list[tuple[int, IPv4Address, tuple[IPv4Address, ...]]],
                          now: float) -> None:
        """IGMPv3 reports holding ``recs`` (type, group, sources), as many
        records to a report as the MTU takes. A record too long for one
        report is split (RFC 3376 §4.2.16); MODE_IS_EXCLUDE and
        CHANGE_TO_EXCLUDE_MODE keep the sources that fit, once."""
        ifp = self.node.ifnets.get(ifname)
        if ifp is None or not ifp.up or not recs:
            return
        room = max(12, int(ifp.mtu) - 24 - 8)
        most = (room - 8) // 4
        parts: list[bytes] = []
        for t, g, srcs in recs:
            chunks = [srcs[i:i + most] for i in range(0, len(srcs), most)] or [()]
            if t in (MODE_IS_EXCLUDE, CHANGE_TO_EXCLUDE_MODE):
                chunks = chunks[:1]
            parts.extend(struct.pack("!BBH4s", t, 0, len(c), g.packed)
                         + b"".join(a.packed for a in c) for c in chunks)
        batch: list[bytes] = []
        size = 0
        for p in [*parts, b""]:
            if batch and (not p or size + len(p) > room):
                msg = _core.icmp_build(IGMP_v3_HOST_MEMBERSHIP_REPORT, 0, len(batch),
                                       b"".join(batch))
                self._igmp_output(ifname, INADDR_ALLRPTS_GROUP, msg, now, True)
                batch, size = [], 0
            if p:
                batch.append(p)
                size += len(p)

    def _current_state(self, ifname: str, igi: IgmpIfinfo, groups: list[IPv4Address],
                       now: float) -> None:
        """IGMPv3 Current-State records for ``groups`` (RFC 3376 §5.2):
        MODE_IS_INCLUDE or MODE_IS_EXCLUDE with the interface's sources; for
        a group asked by a Group-and-Source-Specific Query, IS_IN of the
        asked sources it takes (none: no record)."""
        recs: list[tuple[int, IPv4Address, tuple[IPv4Address, ...]]] = []
        for g in groups:
            f = igi.state.get(g, _ANY)
            recs += [(t, g, srcs) for t, srcs in mcast.current_records(f, igi.asked.pop(g, None))]
        self.igmp_send_records(ifname, recs, now)

    def _igmp_output(self, ifname: str, dst: IPv4Address, msg: bytes, now: float,
                     ra: bool) -> None:
        src = next((ifa.addr for ifa in self.on(ifname) if ifa.usable), None)
        if src is None:
            src = IPv4Address(0)  # RFC 9776 §4.2.13: before the interface has an address
            pkt = _core.ip_build(src, dst, IPPROTO_IGMP, msg, ttl=1,
                                 ident=self.ip_id, options=IPOPT_RA if ra else None)
            self.ip_id = (self.ip_id + 1) & 0xFFFF
            self.inc("igps_snd_reports")
            self.ether_output(ifname, dst, pkt, now)
            return
        if self.ip_output(src, dst, IPPROTO_IGMP, msg, now, ttl=1, ifname=ifname,
                          options=IPOPT_RA if ra else None) == 0:
            self.inc("igps_snd_reports")

    # --- input ------------------------------------------------------------------

    def igmp_input(self, ifname: str, v: Any, packet: bytes, now: float) -> None:
        """One IGMP message for a group of ours (``igmp_input``)."""
        self.inc("igps_rcv_total")
        body = packet[v.header_len:v.total_len]
        try:
            t, code, rest, _data = _core.icmp_parse(body, True)
        except KameError as e:
            self.inc("igps_rcv_tooshort" if isinstance(e, TruncatedError)
                     else "igps_rcv_badsum")
            return
        group = IPv4Address(rest)
        if ifname in self.igmpr._if:  # the querier (kame.inet.mroute)
            self.igmp_router_input(ifname, v, t, code, group, len(body), bytes(body[8:]), rest,
                                   now)
            if not self.in_member(ifname, v.dst, None):
                return  # heard as a router only
        if t == IGMP_HOST_MEMBERSHIP_QUERY:
            self._query_input(ifname, v, len(body), code, group, bytes(body[8:]), now)
        elif t in (IGMP_v1_HOST_MEMBERSHIP_REPORT, IGMP_v2_HOST_MEMBERSHIP_REPORT):
            if not in_multicast(group) or group != v.dst:
                self.inc("igps_rcv_badreports")
                return
            self.inc("igps_rcv_reports")
            if self.find(v.src) is not None:
                self.inc("igps_rcv_ourreports")
                return
            igi = self._igi(ifname)
            if self.igmp_version(ifname, now) < 3 and group in igi.pending:
                del igi.pending[group]  # another member answered (RFC 2236 §3)
        # Leave Group and v3 Reports are for routers: nothing to do

    def _query_input(self, ifname: str, v: Any, length: int, code: int, group: IPv4Address,
                     v3hdr: bytes, now: float) -> None:
        igi = self._igi(ifname)
        if length == 8:
            self.inc("igps_rcv_v1v2_queries")
            asked: frozenset[IPv4Address] = frozenset()
            if code == 0:
                igi.v1_until = now + OLDER_QUERIER_TIMEOUT
                group = IPv4Address(0)  # RFC 2236 §4: a v1 query is a general one
            else:
                igi.v2_until = now + OLDER_QUERIER_TIMEOUT
            delay = igmp_max_resp(code, False)
        elif length >= 12:
            self.inc("igps_rcv_v3_queries")
            nsrc = int.from_bytes(v3hdr[2:4], "big") if len(v3hdr) >= 4 else 0
            if length < 12 + 4 * nsrc:
                self.inc("igps_rcv_badqueries")
                return
            if nsrc:
                self.inc("igps_rcv_gsr_queries")
            asked = frozenset(IPv4Address(v3hdr[4 + 4 * i:8 + 4 * i]) for i in range(nsrc))
            delay = igmp_max_resp(code, True)
        else:
            self.inc("igps_rcv_badqueries")  # RFC 9776 §7.1: 9 to 11 octets
            return
        if int(group) and not in_multicast(group):
            self.inc("igps_rcv_badqueries")
            return
        if not int(group):
            if v.dst != INADDR_ALLHOSTS_GROUP:
                self.inc("igps_rcv_badqueries")  # a general query goes to 224.0.0.1
                return
            self.inc("igps_rcv_gen_queries")
            key: IPv4Address | None = None
        else:
            self.inc("igps_rcv_group_queries")
            if group not in igi.groups or group == INADDR_ALLHOSTS_GROUP:
                return
            key = group
            # RFC 3376 §5.2: a source list adds to one already asked for; a
            # group query (or an answer for the group already due) wins
            prev = igi.asked.get(group)
            if asked and (prev is not None or group not in igi.pending):
                union = (prev or frozenset()) | asked
                if len(union) > int(self.node.knobs._values["net.inet.ip.mcast_maxgrpsrc"]):
                    # too many sources asked for to remember: the group's
                    # whole state answers them all (RFC 3376 §5.2 allows more)
                    self.inc("igps_srcfull")
                    igi.asked.pop(group, None)
                else:
                    igi.asked[group] = union
            elif not asked:
                igi.asked.pop(group, None)
        if key is None and self.igmp_version(ifname, now) < 3:
            keys: list[IPv4Address | None] = [g for g in igi.groups
                                               if g != INADDR_ALLHOSTS_GROUP]  # a timer each
        else:
            keys = [key]
        for k in keys:
            due = now + float(self.node.rng.uniform(0, delay))
            old = igi.pending.get(k)
            if old is None or old[0] > due:
                igi.pending[k] = (due, MODE_IS_EXCLUDE, 1)
                self.node.gate.arm(due)

    # --- timers -----------------------------------------------------------------

    def igmp_next_deadline(self) -> float | None:
        ts = [t for igi in self.igmp.values() for t, _r, _n in igi.pending.values()]
        ts += [rt.due for igi in self.igmp.values() for rt in igi.changes.values()]
        return min(ts) if ts else None

    def igmp_fasttimo(self, now: float) -> None:
        """Send the reports that are due."""
        for ifname, igi in self.igmp.items():
            for key, (due, rtype, left) in list(igi.pending.items()):
                if due > now:
                    continue
                if key is None:
                    del igi.pending[key]
                    groups = sorted((g for g in igi.groups if g != INADDR_ALLHOSTS_GROUP),
                                    key=int)
                else:
                    if left > 1:
                        igi.pending[key] = (now + self._uri(ifname, now), rtype, left - 1)
                        self.node.gate.arm(igi.pending[key][0])
                    else:
                        del igi.pending[key]
                    groups = [key]
                if rtype == MODE_IS_EXCLUDE and self.igmp_version(ifname, now) == 3:
                    self._current_state(ifname, igi, groups, now)  # a query's answer
                else:
                    self.igmp_send(ifname, rtype, groups, now)
            owed = [g for g, rt in igi.changes.items() if rt.due <= now]
            if owed:
                self._send_changes(ifname, igi, owed, now)  # one report for them all


_change_records = mcast.change_records
