"""``ip6_forward.c``: forwarding for a router (``net.inet6.ip6.forwarding=1``):
hop limit, scope zones (§1.3.1), Packet Too Big, Redirects."""

from __future__ import annotations

from ipaddress import IPv6Address
from typing import Any

from kame.addr import is_linklocal, is_multicast
from kame.icmp6 import (
    ICMP6_DST_UNREACH,
    ICMP6_DST_UNREACH_ADDR,
    ICMP6_DST_UNREACH_BEYONDSCOPE,
    ICMP6_DST_UNREACH_NOROUTE,
    ICMP6_PACKET_TOO_BIG,
    ICMP6_TIME_EXCEEDED,
)
from kame.ip6.mroute import Ip6Mroute
from kame.scope6 import in6_addrscope


class Ip6Forward(Ip6Mroute):
    """Forwarding of packets not for us."""

    def ip6_forward(self, ifname: str, packet: bytes, v: Any, ll_mcast: bool,
                    now: float) -> None:
        """Forward a packet not for us (``net.inet6.ip6.forwarding=1``)."""
        hdr = v.header
        src, dst = hdr.src, hdr.dst
        chain = v.chain
        itype = packet[chain.upper_offset] if chain.upper == 58 and \
            chain.upper_offset < len(packet) else None
        nh = packet[6]
        # The error rules (RFC 4443 §2.4 e) look at the upper layer behind
        # the extension headers, as KAME's icmp6_error does.
        upper = chain.upper
        if ll_mcast or is_multicast(dst) or int(src) == 0 or is_linklocal(dst):
            # Multicast goes by ip6_mforward (kame.ip6.mroute); never
            # forward from :: (§1.14) nor to a link-local destination,
            # which cannot leave its link.
            self.stats.inc("ip6s_cantforward")
            self.log(now, "forward", f"cannot forward from {src} to {dst} nxt {nh} on {ifname}")
            return
        nat64 = getattr(self, "nat64", None)
        if nat64 is not None and nat64.claims6(dst):
            # The translator's prefix (kame.nat64, seed §3.2): it keeps its
            # own hop limit and errors (RFC 7915 §5.1, §5.3).
            nat64.node_input6(packet, now)
            return
        if hdr.hop_limit <= 1:
            self.icmp6_error(ifname, packet, src, dst, upper, itype, ICMP6_TIME_EXCEEDED, 0, now)
            return
        if self.mip6.ha is not None and self.mip6.ha.forward(ifname, packet, dst, now):
            return  # intercepted for a mobile node away (RFC 6275 §10.4.2, kame.mip6)
        rt = self.rtalloc(dst, now)
        if rt is None:
            self.stats.inc("ip6s_noroute")
            self.icmp6_error(ifname, packet, src, dst, upper, itype, ICMP6_DST_UNREACH,
                        ICMP6_DST_UNREACH_NOROUTE, now)
            return
        # Source scope check (§1.3.1, in6_setscope with zone ids): beyond scope.
        ss = in6_addrscope(src)
        if self.zones.zone_of(ifname, ss) != self.zones.zone_of(rt.ifname, ss):
            self.stats.inc("ip6s_cantforward")
            self.stats.inc("ip6s_badscope")
            self.icmp6_error(ifname, packet, src, dst, upper, itype, ICMP6_DST_UNREACH,
                        ICMP6_DST_UNREACH_BEYONDSCOPE, now)
            return
        ds = in6_addrscope(dst)
        if self.zones.zone_of(ifname, ds) != self.zones.zone_of(rt.ifname, ds):
            self.stats.inc("ip6s_cantforward")
            self.stats.inc("ip6s_badscope")
            return
        mtu = self._linkmtu(rt.ifname)
        if len(packet) > mtu:
            self.icmp6_error(ifname, packet, src, dst, upper, itype, ICMP6_PACKET_TOO_BIG, 0, now,
                        pointer=mtu)
            return
        redirect = (rt.ifname == ifname and bool(self.knobs["net.inet6.ip6.redirect"])
                    and not rt.dynamic and not any(h[0] == 43 for h in chain.headers))
        if redirect and self.ifnets[ifname].is_p2p:
            # Back out of the p2p link it came in on: a loop (KAME ip6_forward).
            self.icmp6_error(ifname, packet, src, dst, upper, itype, ICMP6_DST_UNREACH,
                        ICMP6_DST_UNREACH_ADDR, now)
            return
        out = bytearray(packet)
        out[7] -= 1
        self.stats.inc("ip6s_forward")
        self._forward_output(rt.ifname, bytes(out), now, rt.next_hop)
        if redirect:
            self.icmp6_redirect_output(ifname, packet, rt, now)

    def _forward_output(self, ifname: str, packet: bytes, now: float,
                        next_hop: IPv6Address) -> None:
        """``nd6_output`` for a forwarded packet (not ``ip6s_localout``)."""
        if self.key is not None and self.key.output(self, ifname, packet, now, next_hop):
            return
        ifp = self.ifnets[ifname]
        if ifp.flags.disabled or not ifp.up:
            self.stats.inc("ip6s_cantforward")
            return
        if ifp.type == 55 or ifp.type == 215:  # IFT_GIF, IFT_STF: kame.gif, kame.stf
            self.gif.gif_output(ifname, packet, now, next_hop)
            return
        ll, actions = self.cache.resolve(ifname, next_hop, (ifname, packet), now)
        if actions:
            self._handle(actions, now)
        if ll is not None:
            self._ether_out(ifname, ll, packet)
