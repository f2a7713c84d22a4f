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
- ``IP_HDRINCL`` datagrams of our raw sockets too, by the TTL of their
  header (``ip_output_raw``; BSD's ``rip_output`` -> ``ip_output``).
- Our own membership on a link counts as a listener there, and a copy for
  such a link is looped to our own sockets on it (``send_packet`` ->
  ``ip_output`` with ``imo_multicast_loop = in_mcast_loop`` ->
  ``ip_mloopback``; ``net.inet.ip.mcast.loop``; ``mrts_mloopback``), as
  :mod:`kame.ip6.mroute` does, whatever the sender's ``IP_MULTICAST_LOOP``.
- RFC 2365 administrative-scope boundaries, per interface, for prefixes
  inside 239.0.0.0/8 (mrouted's ``phyint IF boundary PREFIX``; ``kame
  igmp boundary add|delete IF PREFIX``): a datagram to such a group is not
  forwarded into or out of that interface (``mrts_boundary``), looped
  copies included.
- IPsec: each copy meets the SPD (``ipsec4_output``) as forwarded unicast
  does: FreeBSD's ``send_packet`` hands it to ``ip_output``, whose
  ``sendit`` step looks the policy up.
- ``ips_notmember`` counts a datagram neither for a local member nor
  forwarded; IGMP from 0.0.0.0 (RFC 3376 §4.2.13: a system without an
  address yet) gets past ``ip_input``'s martian check, nothing else does.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from ipaddress import IPv4Address, IPv4Network
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
from kame.ip6.mroute import Mf6c, Mif6, mfc_rpf, mif_count, mroute_snapshot

__all__ = ["ADMIN_SCOPE", "MAX_BOUNDARIES", "IpMroute", "in_boundary", "parse_boundary",
           "parse_v3_report"]

#: RFC 2365: the IPv4 Administratively Scoped Multicast space.
ADMIN_SCOPE = IPv4Network("239.0.0.0/8")
#: Boundaries configured on one interface at most.
MAX_BOUNDARIES = 64


def parse_boundary(prefix: str | IPv4Network) -> IPv4Network:
    """An administrative-scope boundary's prefix: an IPv4 prefix inside
    239.0.0.0/8 without host bits (mrouted: "Boundaries must be
    239.x.x.x"); ``ValueError`` otherwise."""
    if isinstance(prefix, IPv4Network):
        net = prefix
    elif isinstance(prefix, str):
        net = IPv4Network(prefix, strict=True)  # ValueError (AddressValueError, NetmaskValueError)
    else:
        raise TypeError(f"a boundary is a prefix string, not {type(prefix).__name__}")
    if not net.subnet_of(ADMIN_SCOPE):
        raise ValueError(f"{net}: a boundary is inside 239.0.0.0/8 (RFC 2365)")
    return net


def in_boundary(bounds: list[IPv4Network] | None, group: IPv4Address) -> bool:
    """Whether ``group`` falls in one of an interface's boundaries."""
    return bounds is not None and any(group in b for b in bounds)


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
    #: ifname -> its administrative-scope boundaries (RFC 2365)
    mbound: dict[str, list[IPv4Network]]

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
        node = self.node
        if (node.knobs.gen, node.addrs.gen, node._ifgen) != self._igmpr_synced:  # _mcast_key
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
            elif length == 8:  # RFC 3376 §7.1: Max Resp Code 0 is IGMPv1's
                self.igmpr.query_input(ifname, src, group, (), False, False, now,
                                       heard=2 if code else 1)
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
        bounds = self.mbound
        if bounds and in_boundary(bounds.get(ifname), dst):
            self.inc("mrts_boundary")  # RFC 2365: not in across a boundary
            return False
        ent = mfc_rpf(self.mfc, (src, dst), ifname, now, kv["net.inet.ip.mfc_max"], self.inc,
                      "mrts_", None if local else lambda: self._rpf_parent(src))
        if ent is None:
            return False
        n = len(pkt)
        mif_count(self.mif, ifname, n, local)
        sent = False
        out: bytes | None = None
        mloop = kv["net.inet.ip.mcast.loop"]
        for oif in self.igmpr.interfaces():
            if oif == ifname:
                continue
            # our own membership there is a listener, as a BSD router's
            # daemon hears its kernel's looped Reports (igmp_sendpkt:
            # imo_multicast_loop = ip_mrouter != NULL)
            mine = self.in_member(oif, dst, src)
            if not mine and not self.igmpr.forwards(oif, dst, src):
                continue
            if bounds and in_boundary(bounds.get(oif), dst):
                self.inc("mrts_boundary")  # RFC 2365: not out across a boundary
                continue
            if not self.node.ifnets[oif].up:
                continue
            if out is None:
                try:
                    out = bytes(_core.ip_forward_ttl(pkt))
                except KameError:
                    return sent
            if mine and mloop:
                # send_packet -> ip_output(imo_multicast_loop = in_mcast_loop)
                # -> ip_mloopback: a copy to our own sockets on that link,
                # before the fragmentation and DF checks
                self.inc("mrts_mloopback")
                self.ip_input(oif, out, now, mloop=True)
            if n > self.linkmtu(oif) and v.df:
                self.inc("ips_cantfrag")  # no ICMP about multicast (RFC 1812 §4.3.2.7)
                continue
            mo = self.mif.setdefault(oif, Mif6())
            mo.pkt_out += 1
            mo.bytes_out += n
            ent.pkt_cnt += 1
            ent.byte_cnt += n
            sent = True
            # send_packet -> ip_output: the SPD at its sendit step, as for
            # forwarded unicast (ip_forward -> ip_output)
            if self.node.key is None or self.ipsec4_output(oif, out, dst, now) is None:
                self.ether_output(oif, dst, out, now)
        return sent

    def _rpf_parent(self, src: IPv4Address) -> str | None:
        rt = self.rtalloc(src)
        return rt.ifname if rt is not None else None

    # --- administrative-scope boundaries (RFC 2365) -------------------------------

    def mroute_boundary_add(self, ifname: str, prefix: str | IPv4Network) -> IPv4Network:
        """A boundary for ``prefix`` (inside 239.0.0.0/8, as mrouted's
        ``phyint IF boundary PREFIX``) on ``ifname``: datagrams to those
        groups are not forwarded into or out of it (RFC 2365),
        ``mrts_boundary``. ``ValueError`` for a prefix outside 239/8, with
        host bits, or past :data:`MAX_BOUNDARIES` on the interface."""
        if ifname not in self.node.ifnets:
            raise ValueError(f"no interface {ifname!r}")
        net = parse_boundary(prefix)
        lst = self.mbound.setdefault(ifname, [])
        if net not in lst:
            if len(lst) >= MAX_BOUNDARIES:
                raise ValueError(f"{ifname}: at most {MAX_BOUNDARIES} boundaries")
            lst.append(net)
            lst.sort(key=lambda x: (int(x.network_address), x.prefixlen))
        return net

    def mroute_boundary_delete(self, ifname: str, prefix: str | IPv4Network) -> bool:
        """Remove a boundary; False when there was none."""
        net = parse_boundary(prefix)
        lst = self.mbound.get(ifname)
        if not lst or net not in lst:
            return False
        lst.remove(net)
        if not lst:
            del self.mbound[ifname]
        return True

    def mroute_boundaries(self) -> dict[str, list[str]]:
        return {k: [str(n) for n in v] for k, v in self.mbound.items()}

    def mroute_snapshot(self, now: float) -> dict[str, Any]:
        """``netstat -g`` for IPv4: the interfaces and the forwarding cache."""
        d = mroute_snapshot(self.mfc, self.mif, self.igmpr, now, self.in_member)
        d["boundaries"] = self.mroute_boundaries()
        return d
