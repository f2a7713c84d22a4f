"""IGMP, router side (RFC 3376 §6 with the IGMPv1/v2 host compatibility
of §7.3.2), sans-I/O: :class:`kame.mld6_router.Mld6Router` with IPv4's
numbers (the two RFCs share the querier and the tables; the listening
state per group is :class:`kame.mcast.RouterGroup`).

- Querier election (§6.6.2): the lowest IPv4 address of the subnet
  queries; every router starts as Querier with [Startup Query Count]
  General Queries [Query Interval]/4 apart.
- IGMPv3 Reports change the state by the tables of §6.4; the Querier sends
  Group-Specific and Group-and-Source-Specific Queries (§6.6.3) [Last
  Member Query Count] times, [Last Member Query Interval] apart.
- §7.3.2: an IGMPv2 Report is IS_EX({}) and sets the group's Older Host
  Present timer (while it runs BLOCK is ignored and TO_EX(S) is TO_EX({}));
  an IGMPv1 Report does as much and sets the IGMPv1 Host Present timer,
  while which a Leave is ignored; a Leave is TO_IN({}).
- Knobs ``net.inet.igmp.querier`` (0 never, 1 on a router, 2 always),
  ``robustness``, ``query_interval`` (s), ``query_response_interval`` and
  ``last_member_query_interval`` (ms), ``maxgroups``, ``maxsrc``;
  counters ``igps_rtr_*``.

Queries are IGMPv3 (12 octets and the sources), which IGMPv2 and IGMPv1
hosts read as their own (§7.2.1: the Max Resp Code of an IGMPv1 host is
ignored). An older-version querier heard on the link (§7.3.1) is counted
(``igps_rtr_rcv_oldqueries``), shown by ``kame igmp show`` and logged once
an hour per interface; the ``version`` knob is lowered by hand, as the RFC
asks (no router does it by itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Any

from kame.mcast import RouterGroup
from kame.mld6_router import McAddr, Mld6Router, _RtrIf, qqic

__all__ = ["IgmpRouter", "SendIgmpQuery", "igmp_code"]

INADDR_ALLHOSTS_GROUP = IPv4Address("224.0.0.1")


def igmp_code(tenths: int) -> int:
    """The Max Resp Code (and QQIC) for ``tenths`` (RFC 3376 §4.1.1,
    §4.1.7): linear below 128, else the floating-point form, rounded down."""
    return qqic(tenths)


@dataclass(frozen=True, slots=True)
class SendIgmpQuery:
    """Transmit an IGMPv3 Query on ``ifname``: ``group`` 0.0.0.0 a General
    Query (to 224.0.0.1), else to ``group``, with ``sources`` for a
    Group-and-Source-Specific Query."""

    ifname: str
    group: IPv4Address
    sources: tuple[IPv4Address, ...]
    suppress: bool
    max_resp: int
    qrv: int
    qqic: int
    #: 1 or 2: an IGMPv1/v2 Query (8 octets), as ``net.inet.igmp.version``
    #: asks (RFC 3376 §7.3.1).
    version: int = 3


_NAMES = {"mlds_rcv_v1reports": "igps_rtr_rcv_v1v2reports", "mlds_rcv_dones": "igps_rtr_rcv_leaves"}


class IgmpRouter(Mld6Router):
    """The IGMP router side on every interface it runs on."""

    KNOBS = "net.inet.igmp."
    LLQI_KNOB = "last_member_query_interval"
    UNSPEC = IPv4Address(0)
    CUR_VERSION = 3

    def __init__(self, knob: Any, inc: Any) -> None:
        super().__init__(knob, inc)
        #: (ifname, group) -> IGMPv1 Host Present timer's expiry.
        self._v1hosts: dict[tuple[str, McAddr], float] = {}

    OLDQ_RFC = "RFC 3376 §7.3.1"

    @staticmethod
    def _proto_name(version: int) -> str:
        return f"IGMPv{version}"

    @staticmethod
    def _stat(name: str) -> str:
        return _NAMES.get(name) or "igps_rtr_" + name.removeprefix("mlds_").removeprefix("rtr_")

    @staticmethod
    def _reportable(group: Any) -> bool:
        return isinstance(group, IPv4Address) and group.is_multicast and \
            group != INADDR_ALLHOSTS_GROUP

    def _can_ask(self, ask: Any) -> bool:
        """IGMPv2 has Group-Specific Queries only, IGMPv1 none (its groups
        time out)."""
        v = self.version
        return v >= 3 or (v == 2 and ask is None)

    def _query(self, ifname: str, group: McAddr, srcs: tuple[McAddr, ...],
               suppress: bool, resp: float) -> Any:
        v = self.version
        tenths = round(resp * 10)
        code = igmp_code(tenths) if v == 3 else min(tenths, 255) if v == 2 else 0
        return SendIgmpQuery(ifname, IPv4Address(int(group)),
                             tuple(IPv4Address(int(x)) for x in srcs), suppress, code,
                             min(self.robustness, 7), qqic(int(self.qi)), v)

    def v1v2_report_input(self, ifname: str, group: IPv4Address, v1: bool, now: float) -> None:
        """An IGMPv1 or IGMPv2 Membership Report (§7.3.2)."""
        self.v1_report_input(ifname, group, now)
        st = self._if.get(ifname)
        if v1 and st is not None and group in st.groups:
            self._v1hosts[(ifname, group)] = now + self.mali

    def leave_input(self, ifname: str, group: IPv4Address, now: float) -> None:
        """An IGMPv2 Leave Group: TO_IN({}), ignored while IGMPv1 hosts are
        present (§7.3.2)."""
        if self._v1hosts.get((ifname, group), -1.0) > now:
            self.inc("mlds_rcv_dones")
            return
        self.done_input(ifname, group, now)

    def stop(self, ifname: str) -> None:
        super().stop(ifname)
        for k in [k for k in self._v1hosts if k[0] == ifname]:
            del self._v1hosts[k]

    def poll(self, now: float) -> list[Any]:
        if not self._if and not self._v1hosts:
            return []  # not querying anywhere, no IGMPv1 host to forget (most polls)
        out = super().poll(now)
        for k, t in list(self._v1hosts.items()):
            st = self._if.get(k[0])
            if t <= now or st is None or k[1] not in st.groups:
                del self._v1hosts[k]
        return out

    def _compat(self, st: _RtrIf, group: McAddr, g: RouterGroup, now: float) -> str:
        for ifname, s in self._if.items():
            if s is st and self._v1hosts.get((ifname, group), -1.0) > now:
                return "igmpv1"
        return "igmpv2" if g.v1_until > now else "igmpv3"
