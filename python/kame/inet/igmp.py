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
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import Any

from kame import _core
from kame.errors import KameError, TruncatedError
from kame.inet.icmp import Icmp
from kame.inet.route import in_multicast

IPPROTO_IGMP = 2
IGMP_HOST_MEMBERSHIP_QUERY = 0x11
IGMP_v1_HOST_MEMBERSHIP_REPORT = 0x12
IGMP_v2_HOST_MEMBERSHIP_REPORT = 0x16
IGMP_HOST_LEAVE_MESSAGE = 0x17
IGMP_v3_HOST_MEMBERSHIP_REPORT = 0x22
#: RFC 9776 §4.2.12 record types.
MODE_IS_EXCLUDE, CHANGE_TO_INCLUDE_MODE, CHANGE_TO_EXCLUDE_MODE = 2, 3, 4
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


class Igmp(Icmp):
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

    def in_member(self, ifname: str, group: IPv4Address) -> bool:
        if group == INADDR_ALLHOSTS_GROUP:
            return True
        igi = self.igmp.get(ifname)
        return igi is not None and group in igi.groups

    def igmp_version(self, ifname: str, now: float) -> int:
        igi = self._igi(ifname)
        if igi.v1_until > now:
            return 1
        if igi.v2_until > now:
            return 2
        return int(self.node.knobs._values["net.inet.igmp.default_version"])

    def in_joingroup(self, ifname: str, group: IPv4Address, now: float) -> int:
        """One more member of ``group`` on ``ifname``: 0, or ``ENOBUFS``
        when the interface already holds ``net.inet.ip.mcast_maxgroups``."""
        if not in_multicast(group):
            return errno.EINVAL
        igi = self._igi(ifname)
        n = igi.groups.get(group)
        if n is not None:
            igi.groups[group] = n + 1
            return 0
        if len(igi.groups) >= int(self.node.knobs._values["net.inet.ip.mcast_maxgroups"]):
            self.inc("igps_groupfull")
            return errno.ENOBUFS
        igi.groups[group] = 1
        if group == INADDR_ALLHOSTS_GROUP:
            return 0
        left = ROBUSTNESS - 1
        if left:
            igi.pending[group] = (now + self._uri(ifname, now), CHANGE_TO_EXCLUDE_MODE, left)
        self.igmp_send(ifname, CHANGE_TO_EXCLUDE_MODE, [group], now)
        return 0

    def in_leavegroup(self, ifname: str, group: IPv4Address, now: float) -> None:
        """One member of ``group`` on ``ifname`` fewer; the last one leaves."""
        igi = self.igmp.get(ifname)
        if igi is None or group not in igi.groups:
            return
        igi.groups[group] -= 1
        if igi.groups[group] > 0:
            return
        del igi.groups[group]
        igi.pending.pop(group, None)
        if group == INADDR_ALLHOSTS_GROUP:
            return
        self.igmp_send(ifname, CHANGE_TO_INCLUDE_MODE, [group], now)

    def igmp_ifdetach(self, ifname: str) -> None:
        """The interface went down: its reports due are cancelled (groups
        stay, and are reported again when a querier asks)."""
        igi = self.igmp.get(ifname)
        if igi is not None:
            igi.pending.clear()

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
            t, code, rest, data = _core.icmp_parse(body, True)
        except KameError as e:
            self.inc("igps_rcv_tooshort" if isinstance(e, TruncatedError)
                     else "igps_rcv_badsum")
            return
        group = IPv4Address(rest)
        if t == IGMP_HOST_MEMBERSHIP_QUERY:
            self._query_input(ifname, v, len(body), code, group, bytes(data[:4]), now)
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

    # --- timers -----------------------------------------------------------------

    def igmp_next_deadline(self) -> float | None:
        ts = [t for igi in self.igmp.values() for t, _r, _n in igi.pending.values()]
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
                    else:
                        del igi.pending[key]
                    groups = [key]
                self.igmp_send(ifname, rtype, groups, now)
