"""``ip_mroute.c`` and the IGMP querier's wiring: IPv4 multicast forwarding
by IGMP listening state (:mod:`kame.inet.igmp_router`), as
:mod:`kame.ip6.mroute` does for IPv6 by MLD's.

- The querier runs on the up Ethernet interfaces with a usable IPv4
  address, as ``net.inet.igmp.querier`` says (1: when
  ``net.inet.ip.forwarding``); it hears every Report and Leave (the
  multicast promiscuity of a router), from a source on the interface's
  subnets or 0.0.0.0 (RFC 3376 §9.2; others ``igps_rcv_badreports``).
- ``ip_mforward``: a datagram to a group outside 224.0.0.0/24 (never
  forwarded, RFC 5771), with TTL above 1, from a unicast source, that came
  in on the interface of the route back to its source (the RPF check:
  ``mrts_wrong_if``, ``mrts_no_route``), goes out of every other interface
  whose listening state wants its source, TTL decremented (RFC 1812
  §5.2.3); too big for the link with DF set: dropped
  (``ips_cantfrag``; no ICMP error about a multicast datagram, RFC 1812
  §4.3.2.7), else fragmented. The forwarding cache is bounded by
  ``net.inet.ip.mfc_max`` (``mrts_mfc_full``), its RPF answers trusted for
  :data:`kame.ip6.mroute.MFC_EXPIRE` seconds.
- The node's own datagrams too (``ip_output`` calls ``ip_mforward`` for
  ``IP_MULTICAST_TTL`` above 1): sent on their RPF interface by
  definition, the same rules, that mif's output.
- ``ips_notmember`` counts a datagram neither for a local member nor
  forwarded; IGMP from 0.0.0.0 (RFC 3376 §4.2.13: a system without an
  address yet) gets past ``ip_input``'s martian check, nothing else does.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from ipaddress import IPv4Address
from typing import Any

from kame import _core
from kame.errors import KameError
from kame.in6_var import IfType
from kame.inet.igmp import (
    IGMP_HOST_LEAVE_MESSAGE,
    IGMP_HOST_MEMBERSHIP_QUERY,
    INADDR_ALLHOSTS_GROUP,
    IPOPT_RA,
    IPPROTO_IGMP,
    Igmp,
    IGMP_v1_HOST_MEMBERSHIP_REPORT,
    IGMP_v2_HOST_MEMBERSHIP_REPORT,
    IGMP_v3_HOST_MEMBERSHIP_REPORT,
)
from kame.inet.igmp_router import IgmpRouter, SendIgmpQuery
from kame.ip6.mroute import MFC_EXPIRE, Mf6c, Mif6, mroute_snapshot

__all__ = ["IpMroute", "parse_v3_report"]


def parse_v3_report(nrec: int, data: bytes
                    ) -> list[tuple[int, IPv4Address, list[IPv4Address]]] | None:
    """The group records of an IGMPv3 Report (RFC 3376 §4.2): ``nrec``
    records in ``data`` (what follows the 8-octet header). ``None`` when
    they do not fit (the whole report is refused)."""
    out = []
    o = 0
    for _ in range(nrec):
        if o + 8 > len(data):
            return None
        rtype, aux, nsrc = data[o], data[o + 1], int.from_bytes(data[o + 2:o + 4], "big")
        group = IPv4Address(data[o + 4:o + 8])
        end = o + 8 + 4 * nsrc + 4 * aux
        if end > len(data):
            return None
        out.append((rtype, group, [IPv4Address(data[o + 8 + 4 * i:o + 12 + 4 * i])
                                   for i in range(nsrc)]))
        o = end
    return out


class IpMroute(Igmp):
    """The IGMP querier and ``ip_mforward`` of the node's IPv4 half."""

    igmpr: IgmpRouter
    mfc: OrderedDict[tuple[IPv4Address, IPv4Address], Mf6c]
    mif: dict[str, Mif6]

    # --- the querier ----------------------------------------------------------

    def _igmpr_wanted(self, ifname: str) -> IPv4Address | None:
        kv = self.node.knobs._values
        q = kv["net.inet.igmp.querier"]
        if q == 0 or (q == 1 and not kv["net.inet.ip.forwarding"]):
            return None
        ifp = self.node.ifnets.get(ifname)
        if ifp is None or not ifp.up or ifp.type != IfType.ETHER:
            return None
        return min((ifa.addr for ifa in self.on(ifname) if ifa.usable), default=None, key=int)

    _igmpr_synced: tuple[int, int, int] | None = None

    def igmpr_sync(self, now: float) -> None:
        key = self.node._mcast_key()
        if key == self._igmpr_synced:
            return
        self._igmpr_synced = key
        for name in self.node.ifnets:
            me = self._igmpr_wanted(name)
            if me is None:
                if self.igmpr.running(name):
                    self.igmpr.stop(name)
            else:
                self.igmpr.start(name, me, now)

    def igmpr_deadline(self) -> float | None:
        if self._igmpr_synced != self.node._mcast_key():
            kv = self.node.knobs._values
            q = kv["net.inet.igmp.querier"]
            if self.igmpr._if or q == 2 or (q == 1 and kv["net.inet.ip.forwarding"]):
                return float(self.node._now)  # the querier may start or stop: the next poll looks
        return self.igmpr.next_deadline()

    def igmpr_poll(self, now: float) -> None:
        self.igmpr_sync(now)
        for a in self.igmpr.poll(now):
            self._igmp_query_output(a, now)

    def _igmp_query_output(self, a: SendIgmpQuery, now: float) -> None:
        st = self.igmpr.state(a.ifname)
        if st is None:
            return
        dst = INADDR_ALLHOSTS_GROUP if not int(a.group) else a.group
        if a.version < 3:  # IGMPv2/v1 (RFC 2236 §2, RFC 1112: no Router Alert)
            msg = _core.icmp_build(IGMP_HOST_MEMBERSHIP_QUERY, a.max_resp, int(a.group), b"")
        else:
            hdr = struct.pack("!BBH", (0x08 if a.suppress else 0) | a.qrv, a.qqic,
                              len(a.sources))
            msg = _core.icmp_build(IGMP_HOST_MEMBERSHIP_QUERY, a.max_resp, int(a.group),
                                   hdr + b"".join(s.packed for s in a.sources))
        self.ip_output(IPv4Address(int(st.me)), dst, IPPROTO_IGMP, msg, now, ttl=1,
                       ifname=a.ifname, options=IPOPT_RA if a.version > 1 else None)

    def igmp_router_input(self, ifname: str, v: Any, t: int, code: int, group: IPv4Address,
                          length: int, data: bytes, rest: int, now: float) -> None:
        """One IGMP message for the querier (a valid header and checksum)."""
        src = v.src
        if t == IGMP_HOST_MEMBERSHIP_QUERY:
            if self.find(src) is not None or (int(group) and not group.is_multicast):
                return
            if length >= 12 and len(data) >= 4:
                n = int.from_bytes(data[2:4], "big")
                if length < 12 + 4 * n:
                    return
                srcs = [IPv4Address(data[4 + 4 * i:8 + 4 * i]) for i in range(n)]
                self.igmpr.query_input(ifname, src, group, srcs, bool(data[0] & 0x08), True,
                                       now)
            elif length == 8:
                self.igmpr.query_input(ifname, src, group, (), False, False, now)
            return
        if int(src) and not any(src in ifa.network for ifa in self.on(ifname)):
            self.inc("igps_rcv_badreports")  # RFC 3376 §9.2: not from this subnet
            return
        if t in (IGMP_v1_HOST_MEMBERSHIP_REPORT, IGMP_v2_HOST_MEMBERSHIP_REPORT):
            if not group.is_multicast or group != v.dst:
                self.inc("igps_rcv_badreports")  # RFC 2236 §2.4: to the group it reports
                return
            self.igmpr.v1v2_report_input(ifname, group, t == IGMP_v1_HOST_MEMBERSHIP_REPORT, now)
        elif t == IGMP_HOST_LEAVE_MESSAGE:
            if not group.is_multicast:
                self.inc("igps_rcv_badreports")
                return
            self.igmpr.leave_input(ifname, group, now)
        elif t == IGMP_v3_HOST_MEMBERSHIP_REPORT:
            recs = parse_v3_report(rest & 0xFFFF, data)
            if recs is None:
                self.inc("igps_rcv_badreports")
                return
            self.igmpr.report_input(ifname, recs, now)  # type: ignore[arg-type]

    # --- ip_mforward ------------------------------------------------------------

    def ip_mforward(self, ifname: str, pkt: bytes, v: Any, now: float, *,
                    local: bool = False) -> bool:
        """Forward a multicast datagram received on ``ifname`` to the links
        with listeners; ``local``: our own, sent on ``ifname`` with
        ``IP_MULTICAST_TTL`` above 1 (``ip_output``), whose RPF interface
        that is by definition and which counts as the mif's output. True
        when a copy went out."""
        kv = self.node.knobs._values
        if not kv["net.inet.ip.forwarding"] or not kv["net.inet.ip.mforwarding"]:
            return False
        src, dst = v.src, v.dst
        if pkt[16:19] == b"\xe0\x00\x00" or v.ttl <= 1:
            return False  # 224.0.0.0/24 never leaves its link (RFC 5771); TTL: silently
        if not int(src) or src.is_multicast:
            self.inc("ips_cantforward")
            return False
        key = (src, dst)
        ent = self.mfc.get(key)
        if ent is not None and ent.expire > now:
            self.inc("mrts_mfc_lookups")
            self.mfc.move_to_end(key)
        else:
            self.inc("mrts_mfc_misses")
            if ent is not None:
                del self.mfc[key]
                self.inc("mrts_cache_cleanups")
            rt = None if local else self.rtalloc(src)
            ent = Mf6c(ifname if local else rt.ifname if rt is not None else None,
                       now + MFC_EXPIRE)
            while len(self.mfc) >= kv["net.inet.ip.mfc_max"]:
                self.mfc.popitem(last=False)
                self.inc("mrts_mfc_full")
            self.mfc[key] = ent
        if local:
            ent.parent = ifname  # the interface it is sent on is its RPF interface
        if ent.parent is None:
            self.inc("mrts_no_route")
            return False
        if ent.parent != ifname:
            ent.wrong_if += 1
            self.inc("mrts_wrong_if")
            return False
        n = len(pkt)
        mi = self.mif.setdefault(ifname, Mif6())
        if local:  # ip_mdq: sourced here, the parent mif's output
            mi.pkt_out += 1
            mi.bytes_out += n
        else:
            mi.pkt_in += 1
            mi.bytes_in += n
        sent = False
        out: bytes | None = None
        for oif in self.igmpr.interfaces():
            if oif == ifname or not self.igmpr.forwards(oif, dst, src):
                continue
            if not self.node.ifnets[oif].up:
                continue
            if n > self.linkmtu(oif) and v.df:
                self.inc("ips_cantfrag")  # no ICMP about multicast (RFC 1812 §4.3.2.7)
                continue
            if out is None:
                try:
                    out = bytes(_core.ip_forward_ttl(pkt))
                except KameError:
                    return sent
            mo = self.mif.setdefault(oif, Mif6())
            mo.pkt_out += 1
            mo.bytes_out += n
            ent.pkt_cnt += 1
            ent.byte_cnt += n
            sent = True
            self.ether_output(oif, dst, out, now)
        return sent

    def mroute_snapshot(self, now: float) -> dict[str, Any]:
        """``netstat -g`` for IPv4: the interfaces and the forwarding cache."""
        return mroute_snapshot(self.mfc, self.mif, self.igmpr, now)
