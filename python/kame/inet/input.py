"""``ip_input.c`` and ``ip_forward``: the checks of ``_core.ip_validate``
mapped to ``ipstat`` counters, the seed §1.14 ranges for IPv4, source
routes, delivery to our addresses, broadcasts and groups, reassembly
(``_core.IpReassembler``), the protocol switch, and forwarding behind
``net.inet.ip.forwarding`` (0).

Martians (``ips_badaddr``): a source in 0/8 (but 0.0.0.0 to the limited
broadcast, a DHCP client), 127/8, 224/4 or the limited broadcast or a
subnet broadcast of the receiving interface; a destination in 0/8 or
127/8 — from the wire, never from a loopback.

Source routes (``net.inet.ip.accept_sourceroute`` 0, as BSD): a complete
LSRR/SSRR for us is answered with Destination Unreachable, source route
failed, and dropped (``ips_badoptions``); one still routing through us is
dropped silently by a host (``ips_cantforward``) and answered the same way
by a router (BSD ``ip_dooptions``). Record Route and Timestamp options are
checked, and not filled in (we do not forward them with our address).
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

from kame import _core
from kame.errors import KameError, TruncatedError
from kame.inet.icmp import (
    ICMP_PARAMPROB,
    ICMP_REDIRECT,
    ICMP_REDIRECT_HOST,
    ICMP_TIMXCEED,
    ICMP_TIMXCEED_INTRANS,
    ICMP_TIMXCEED_REASS,
    ICMP_UNREACH,
    ICMP_UNREACH_HOST,
    ICMP_UNREACH_NEEDFRAG,
    ICMP_UNREACH_PORT,
    ICMP_UNREACH_PROTOCOL,
    ICMP_UNREACH_SRCFAIL,
)
from kame.inet.igmp import IPPROTO_IGMP
from kame.inet.mroute import IpMroute
from kame.inet.output import IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP
from kame.inet.route import in_martian_dst, in_martian_src, in_multicast
from kame.inet.var import INADDR_BROADCAST


class IpInput(IpMroute):
    """Input paths of the IPv4 layer."""

    def ether_input(self, ifname: str, frame: bytes, now: float) -> None:
        """An Ethernet frame of type IPv4 or ARP from ``ifname``."""
        ifp = self.node.ifnets.get(ifname)
        if ifp is None or not ifp.up or len(frame) < 14:
            return
        dmac, smac = frame[0:6], frame[6:12]
        me = ifp.lladdr
        if me is not None and not dmac[0] & 1 and dmac != me:
            return  # another host's unicast frame (the NIC's filter)
        if me is not None and smac == me and self.node.drop_own_frames:
            if frame[13] == 6:
                self.inc("arps_received")
                self.inc("arps_ownframe")
            return
        if frame[13] == 6:
            self.arp_input(ifname, smac, frame[14:], now)
        else:
            self.ip_input(ifname, frame[14:], now, link_bcast=bool(dmac[0] & 1))

    def ip_input(self, ifname: str, payload: bytes, now: float, *,
                 link_bcast: bool = False, loopback: bool = False,
                 ipsec_again: bool = False, mloop: bool = False) -> None:
        """``ip_input`` for one datagram (the bytes after the link header).
        ``mloop``: a multicast copy the router looped to its own members on
        ``ifname`` (``ip_mloopback``, :mod:`kame.inet.mroute`): not
        forwarded again."""
        self.inc("ips_total")
        try:
            v = _core.ip_validate(payload, not loopback)
        except KameError as e:
            self._ip_input_error(payload, e, now, link_bcast)
            return
        src, dst = v.src, v.dst
        pkt = payload[:v.total_len] if len(payload) != v.total_len else payload
        # 0.0.0.0: a DHCP client's broadcast, and IGMP (only) from a system
        # without an address yet (RFC 3376 §4.2.13; its querier, §9.2)
        if not loopback and (in_martian_dst(dst) or (in_martian_src(src) and not (
                int(src) == 0 and (dst == INADDR_BROADCAST or (
                    v.protocol == IPPROTO_IGMP and in_multicast(dst))))) or
                self.in_broadcast(src, ifname)):
            self.inc("ips_badaddr")
            return
        if v.source_route is not None and not self._srcroute_ok(v, pkt, now, link_bcast):
            return
        bcast = False
        if in_multicast(dst):
            fwd = False
            if self.igmpr._if and not mloop:  # a router's links with listening state (kame.inet.mroute)
                fwd = self.ip_mforward(ifname, pkt, v, now)
            # the group, and its source filter but for IGMP (a querier's
            # group-specific queries come from any source: Linux's ip_check_mc_rcu);
            # a querier hears every IGMP message (the promiscuity of a router)
            if not self.in_member(ifname, dst, None if v.protocol == 2 else src) and not (
                    v.protocol == 2 and ifname in self.igmpr._if):
                if not fwd:  # forwarded is not "not a member": neither ours nor forwarded
                    self.inc("ips_notmember")
                return
            bcast = True
        elif self.in_broadcast(dst, ifname):
            bcast = True
        else:
            ifa = self.find(dst)
            nat64 = getattr(self.node, "nat64", None)
            if ifa is None and nat64 is not None and nat64.claims4(dst) and not link_bcast:
                nat64.node_input4(pkt, now)  # the translator's pool (kame.nat64)
                return
            if ifa is None:
                if link_bcast:
                    self.inc("ips_cantforward")  # RFC 1122 §3.3.6: never forward those
                elif self.node.knobs._values["net.inet.ip.forwarding"]:
                    self.ip_forward(ifname, pkt, v, now)
                else:
                    self.inc("ips_cantforward")
                return
            if not ifa.usable:
                self.inc("ips_cantforward")  # tentative (RFC 5227) or duplicated
                return
        if v.is_fragment:
            self._reass_sync()
            kind, whole, _reason = self.reass.input(pkt, now, self.node.ifnets[ifname].index)
            self.node.gate.arm(self.reass.next_deadline())
            self._reass_stats()
            if kind != "reassembled":
                return
            pkt = whole
            v = _core.ip_validate(pkt, False)
        if self.node.key is not None and self.ipsec4_input(ifname, v, pkt, now):
            return  # ESP/AH/IPComp opened and fed back, or dropped (kame.inet.ipsec4)
        self.inc("ips_delivered")
        self.ip_deliver(ifname, v, pkt, now, bcast or link_bcast)

    def ip_deliver(self, ifname: str, v: Any, pkt: bytes, now: float, bcast: bool) -> None:
        """The protocol switch (``inetsw``)."""
        proto = v.protocol
        so: Any = getattr(self.node, "sockets", None)
        raw = so is not None and getattr(so, "_nraw4", 0) > 0  # raw IPv4 sockets (kame.socket.raw4)
        if raw and so.profile.name == "linux":
            raw_took = so.rip_input(ifname, v, pkt)  # Linux: before the protocol
            raw = False
        else:
            raw_took = False
        if proto == IPPROTO_ICMP:
            self.icmp_input(ifname, v, pkt, now, bcast)
            if raw:
                so.rip_input(ifname, v, pkt)
            return
        if proto == IPPROTO_IGMP:
            self.igmp_input(ifname, v, pkt, now)
            if raw:
                so.rip_input(ifname, v, pkt)
            return
        if proto == IPPROTO_UDP:
            body = pkt[v.header_len:]
            took = so.udp_input(ifname, v.src, v.dst, body, v.ttl, v.tos, bcast) \
                if so is not None else False
            if not took and not bcast:
                self.icmp_error(pkt, ICMP_UNREACH, ICMP_UNREACH_PORT, now)
            return
        if proto in (4, 41) and not bcast and self.node.gif.encap4_input(
                ifname, v.src, v.dst, pkt, now):
            return  # a gif tunnel or the 6to4 interface took it (kame.gif, kame.stf)
        tcp = getattr(self.node, "tcp", None)
        if proto == IPPROTO_TCP and tcp is not None:
            tcp.tcp4_input(ifname, v, pkt, now)  # kame.tcp: a RST when nothing listens
            return
        if raw_took or (raw and so.rip_input(ifname, v, pkt)):
            return  # a raw socket took it: no Protocol Unreachable
        self.inc("ips_noproto")
        if not bcast:
            self.icmp_error(pkt, ICMP_UNREACH, ICMP_UNREACH_PROTOCOL, now)

    def ip_loopback(self, packet: bytes, now: float) -> None:
        """A datagram of ours to one of our addresses (``looutput``)."""
        v = _core.ip_validate(packet, False)
        ifa = self.find(v.dst)
        self.inc("ips_total")
        self.inc("ips_delivered")
        self.ip_deliver(ifa.ifname if ifa is not None else "lo0", v, packet, now, False)

    def _ip_input_error(self, payload: bytes, e: KameError, now: float, link_bcast: bool) -> None:
        """Count a datagram ``ip_validate`` refused by class and offset; a bad
        option is answered with the Parameter Problem the core gives."""
        off = e.offset if e.offset is not None else -1
        if e.layer != "ipv4":
            self.inc("ips_badoptions")
        elif off == 0 and payload and payload[0] >> 4 != 4:
            self.inc("ips_badvers")
        elif off == 0 and len(payload) < 20:
            self.inc("ips_toosmall")
        elif off == 0:
            self.inc("ips_badhlen")
        elif off == 10:
            self.inc("ips_badsum")
        elif off == 2:
            self.inc("ips_tooshort" if isinstance(e, TruncatedError) else "ips_badlen")
        else:
            self.inc("ips_badoptions")
            if e.icmp is not None and not link_bcast:
                dst = IPv4Address(payload[16:20])
                if self.is_local(dst):  # a router only answers for its own
                    self.icmp_error(payload, ICMP_PARAMPROB, 0, now,
                                    rest=(e.icmp.pointer & 0xFF) << 24)

    def _srcroute_ok(self, v: Any, pkt: bytes, now: float, link_bcast: bool) -> bool:
        """``ip_dooptions`` for LSRR/SSRR with ``accept_sourceroute`` 0."""
        kv = self.node.knobs._values
        _strict, _off, complete = v.source_route
        if complete and kv["net.inet.ip.accept_sourceroute"] and self.is_local(v.dst):
            return True
        if complete or kv["net.inet.ip.forwarding"]:
            self.inc("ips_badoptions")
            self.icmp_error(pkt, ICMP_UNREACH, ICMP_UNREACH_SRCFAIL, now, link_bcast=link_bcast)
        else:
            self.inc("ips_cantforward")
        return False

    # --- reassembly ------------------------------------------------------------

    def _reass_sync(self) -> None:
        """Apply the reassembly knobs to the core's reassembler."""
        kv = self.node.knobs._values
        mq = kv["net.inet.ip.maxfragpackets"]
        r = self.reass
        mq = (1 << 32) if mq < 0 else mq
        if r.max_queues != mq:
            r.max_queues = mq
        if r.max_frags_per_queue != kv["net.inet.ip.maxfragsperpacket"]:
            r.max_frags_per_queue = kv["net.inet.ip.maxfragsperpacket"]
        if r.max_bytes != kv["net.inet.ip.maxfragbytes"]:
            r.max_bytes = kv["net.inet.ip.maxfragbytes"]
        if r.timeout != float(kv["net.inet.ip.fragttl"]):
            r.timeout = float(kv["net.inet.ip.fragttl"])

    def _reass_stats(self) -> None:
        """Copy the reassembler's ipstat counters into the node's stats."""
        seen = self._reass_seen
        for k, val in self.reass.stats.items():
            d = val - seen.get(k, 0)
            if d:
                self.inc(k, d)
                seen[k] = val

    def ip_slowtimo(self, now: float) -> None:
        """Expire reassembly queues: Time Exceeded, reassembly, when the
        first fragment had come (RFC 792, RFC 1122 §3.3.2)."""
        d = self.reass.next_deadline()
        if d is None or d > now:
            return
        for invoking, zone in self.reass.expire(now):
            ifname = self.node.zones.by_index.get(zone)
            if ifname is not None and ifname in self.node.ifnets and self.node.ifnets[ifname].up:
                self.icmp_error(bytes(invoking), ICMP_TIMXCEED, ICMP_TIMXCEED_REASS, now)
        self._reass_stats()

    # --- forwarding --------------------------------------------------------------

    def ip_forward(self, ifname: str, pkt: bytes, v: Any, now: float) -> None:
        """``ip_forward`` (RFC 1812): TTL, route, MTU; the ICMP errors each
        failure calls for; a Redirect when the datagram goes back out the
        interface it came in on (``net.inet.ip.redirect``, rate-limited as
        every ICMP error by ``net.inet.icmp.icmplim``)."""
        try:
            out = _core.ip_forward_ttl(pkt)
        except KameError:
            self.inc("ips_cantforward")
            self.icmp_error(pkt, ICMP_TIMXCEED, ICMP_TIMXCEED_INTRANS, now)
            return
        rt = self.rtalloc(v.dst)
        if rt is None:
            self.inc("ips_noroute")
            self.inc("ips_cantforward")
            self.icmp_error(pkt, ICMP_UNREACH, ICMP_UNREACH_HOST, now)
            return
        mtu = self.linkmtu(rt.ifname)
        if len(out) > mtu and v.df:
            self.inc("ips_cantfrag")
            self.inc("ips_cantforward")
            self.icmp_error(pkt, ICMP_UNREACH, ICMP_UNREACH_NEEDFRAG, now, rest=mtu & 0xFFFF)
            return
        self.inc("ips_forward")
        if self.node.key is not None and self.ipsec4_output(rt.ifname, out, rt.next_hop,
                                                            now) is not None:
            return  # a tunnel-mode gateway (kame.inet.ipsec4)
        self.ether_output(rt.ifname, rt.next_hop, out, now)
        # RFC 1812 §5.2.7.2: back out the interface it came in on, to a
        # source on that subnet: tell it the better first hop
        if rt.ifname == ifname and self.node.knobs._values["net.inet.ip.redirect"] and \
                any(v.src in ifa.network for ifa in self.on(ifname) if ifa.usable) and \
                self.icmp_error(pkt, ICMP_REDIRECT, ICMP_REDIRECT_HOST, now,
                                rest=int(rt.next_hop)):
            self.inc("ips_redirectsent")
