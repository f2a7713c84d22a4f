"""``ip_output.c`` and ``ether_output``: route, source, header, ARP, then
fragmentation to the interface MTU or the path MTU (RFC 1191).

``ip_output`` is the hand-off every upper layer uses (UDP here; TCP and
raw sockets call it the same way): it returns 0 or the errno the sending
socket sees — ``ENETUNREACH`` (no route), ``EADDRNOTAVAIL`` (no source),
``EMSGSIZE`` (DF set and larger than the path MTU, as BSD). ``df`` is
``False``, ``True`` or ``"want"`` (Linux's ``IP_PMTUDISC_WANT``: DF when
the datagram fits the path MTU, fragmented without DF otherwise), or one
of Linux's modes that ignore the path MTU for the interface's
(``ip_sk_use_pmtu``, ``IP_MTU_DISCOVER``): ``"probe"`` (DF, ``EMSGSIZE``
above the interface MTU), ``"interface"`` (no DF, ``EMSGSIZE`` above it),
``"omit"`` (no DF, fragmented to it).

A datagram waits for ARP whole and is fragmented once its next hop is
resolved, so the hold queue of 1 holds a datagram, not its last fragment.
Path MTUs (from Fragmentation Needed, RFC 1191) are kept 10 minutes
(§6.3) and never set below 552 octets (Linux's ``min_pmtu``; a smaller
value is clamped there and the datagram fragmented without DF).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from ipaddress import IPv4Address

from kame import _core
from kame.errors import KameError
from kame.in6_var import TsoFrame
from kame.inet.arp import Arp, Llinfo
from kame.inet.route import in_multicast
from kame.inet.var import ETHERTYPE_IP, INADDR_BROADCAST

#: RFC 1191 §6.3: a learnt path MTU is kept (at least) 10 minutes.
PMTU_EXPIRE4 = 600.0
#: The smallest path MTU believed (Linux net.ipv4.route.min_pmtu).
IP_MIN_PMTU = 552
IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP = 1, 6, 17


@dataclass(frozen=True, slots=True)
class PathMtuChanged4:
    """A path MTU to ``dst`` learnt (or forgotten, ``expired``)."""

    dst: IPv4Address
    mtu: int
    expired: bool = False


class IfMtu(bytes):
    """A datagram of ours fragmented to its interface's MTU, not the path
    MTU (Linux's ``IP_PMTUDISC_PROBE``, ``_INTERFACE``, ``_OMIT``:
    ``cork->fragsize`` is the device's), through the ARP hold queue too."""

    __slots__ = ()


#: ``ip_output``'s ``df`` values that size by the interface MTU.
IF_MTU_MODES = ("probe", "interface", "omit")


class IpOutput(Arp):
    """Output paths of the IPv4 layer."""

    #: The last multicast datagram :meth:`ip_output` built: the copy a
    #: socket layer loops back to the sending node (``ip_mloopback``).
    mc_sent: bytes = b""

    def linkmtu(self, ifname: str) -> int:
        ifp = self.node.ifnets[ifname]
        if ifp.type == 55:  # IFT_GIF: what the outer path leaves (kame.gif)
            return int(self.node.gif.linkmtu4(ifname))
        return int(ifp.mtu)

    def path_mtu(self, ifname: str, dst: IPv4Address, now: float) -> int:
        link = self.linkmtu(ifname)
        e = self.pmtu.get(dst)
        return min(link, e[0]) if e is not None and e[1] > now else link

    def pmtu_update(self, dst: IPv4Address, mtu: int, now: float) -> bool:
        """RFC 1191 §6.3: lower the path MTU to ``dst`` (never raised by a
        Fragmentation Needed, never below :data:`IP_MIN_PMTU`)."""
        mtu = max(mtu, IP_MIN_PMTU)
        cur = self.pmtu.get(dst)
        if cur is not None and cur[1] > now and mtu >= cur[0]:
            return False
        rt = self.rtalloc(dst)
        if cur is None and (rt is None or mtu >= self.linkmtu(rt.ifname)):
            return False
        if len(self.pmtu) >= 4096 and dst not in self.pmtu:
            del self.pmtu[min(self.pmtu, key=lambda k: self.pmtu[k][1])]
        self.pmtu[dst] = (mtu, now + PMTU_EXPIRE4)
        self.node.gate.arm(now + PMTU_EXPIRE4)
        self.inc("icps_pmtuchg")
        self.node.events.append(PathMtuChanged4(dst, mtu))
        return True

    def pmtud_blackhole(self, dst: IPv4Address, now: float) -> None:
        """Path MTU discovery off towards ``dst`` (DF clear) for
        :data:`PMTU_EXPIRE4`: the transport found a black hole that drops
        DF datagrams and sends no Fragmentation Needed (kame.tcp's
        ``tcp_timer_rexmt``, ``net.inet.tcp.pmtud_blackhole_detection``)."""
        if len(self.pmtud_off) >= 4096 and dst not in self.pmtud_off:
            del self.pmtud_off[min(self.pmtud_off, key=lambda k: self.pmtud_off[k])]
        self.pmtud_off[dst] = now + PMTU_EXPIRE4

    def pmtud_restore(self, dst: IPv4Address) -> None:
        """It was no black hole: DF again towards ``dst``."""
        self.pmtud_off.pop(dst, None)

    def pmtu_expire(self, now: float) -> None:
        for dst, (mtu, exp) in list(self.pmtu.items()):
            if exp <= now:
                del self.pmtu[dst]
                self.node.events.append(PathMtuChanged4(dst, mtu, expired=True))

    def _default_if(self, src: IPv4Address | None) -> str | None:
        """The interface for a broadcast or multicast without one: the
        source address's, else the first up interface with an address."""
        if src is not None:
            ifa = self.find(src)
            if ifa is not None:
                return ifa.ifname
        for ifa in self.addrs:
            ifp = self.node.ifnets.get(ifa.ifname)
            if ifp is not None and ifp.up and ifa.usable:
                return ifa.ifname
        return None

    def ip_output(self, src: IPv4Address | None, dst: IPv4Address, proto: int, payload: bytes,
                  now: float, *, ttl: int | None = None, tos: int = 0, df: bool | str = False,
                  ifname: str | None = None, options: bytes | None = None,
                  tso_segsz: int = 0, oif: str | None = None) -> int:
        """Send one datagram of ours; 0 or an errno (see the module docs).
        ``tso_segsz``: a TCP super-segment (up to the interface's
        ``tsomax``) that the interface cuts into segments of that many data
        octets (``CSUM_TSO``), never fragmented here. ``oif``: a unicast
        or broadcast destination routed through that interface only
        (Linux's ``IP_UNICAST_IF`` and ``IP_PKTINFO``'s ``ipi_ifindex``;
        :meth:`rtalloc`), its source borrowed from another interface when
        it has none (:meth:`in_selectsrc`)."""
        hop = dst
        mcast = in_multicast(dst)
        if oif is not None and ifname is None and not mcast and not self.is_local(dst):
            if dst == INADDR_BROADCAST:
                ifname = oif
            else:
                rt = self.rtalloc(dst, oif)
                if rt is None:
                    self.inc("ips_noroute")
                    return errno.ENETUNREACH
                ifname, hop = rt.ifname, rt.next_hop
        if ifname is None:
            if dst == INADDR_BROADCAST or mcast:
                ifname = self._default_if(src)
                if ifname is None:
                    self.inc("ips_noroute")
                    return errno.ENETUNREACH
            elif not self.is_local(dst):
                rt = self.rtalloc(dst)
                if rt is None:
                    self.inc("ips_noroute")
                    return errno.ENETUNREACH
                ifname, hop = rt.ifname, rt.next_hop
        if src is None or not int(src):
            src = self.in_selectsrc(dst, oif, oif=True) if oif is not None and not mcast \
                and not self.is_local(dst) else self.in_selectsrc(dst, ifname)
            if src is None:
                return errno.EADDRNOTAVAIL
        if ttl is None:
            ttl = 1 if mcast else int(self.node.knobs._values["net.inet.ip.ttl"])
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        if self.is_local(dst):
            pkt = _core.ip_build(src, dst, proto, payload, ttl=ttl, tos=tos, ident=self.ip_id,
                                 options=options)
            self.inc("ips_localout")
            self.ip_loopback(pkt, now)
            return 0
        assert ifname is not None
        ifp = self.node.ifnets.get(ifname)
        if ifp is None or not ifp.up:
            self.inc("ips_odropped")
            return errno.ENETDOWN
        ifmtu = df in IF_MTU_MODES
        mtu = self.linkmtu(ifname) if ifmtu else self.path_mtu(ifname, dst, now)
        total = 20 + len(options or b"") + len(payload)
        if ifmtu:
            # Linux __ip_append_data: maxnonfragsize the device MTU unless
            # ip_sk_ignore_df (OMIT); DF for PROBE only
            if df != "omit" and total > mtu:
                self.inc("ips_cantfrag")
                return errno.EMSGSIZE
            df = df == "probe"
        if df and not ifmtu and self.pmtud_off and dst in self.pmtud_off:
            if self.pmtud_off[dst] > now:
                df = False  # a black hole found there: no DF (pmtud_blackhole)
            else:
                del self.pmtud_off[dst]
        if tso_segsz and not (proto == IPPROTO_TCP and not options and total <= ifp.tsomax
                              and 20 + 20 + tso_segsz <= mtu):
            tso_segsz = 0
        if tso_segsz and total > mtu:
            pass  # the interface segments it: each segment fits
        elif df == "want":
            df = total <= mtu
        elif df and total > mtu:
            self.inc("ips_cantfrag")
            return errno.EMSGSIZE
        if total > 65535:
            return errno.EMSGSIZE
        pkt = _core.ip_build(src, dst, proto, payload, ttl=ttl, tos=tos, ident=self.ip_id,
                             df=bool(df), options=options)
        if ifmtu:
            pkt = IfMtu(pkt)
        if mcast:
            self.mc_sent = pkt  # for the sender's loopback (ip_mloopback, ip_mc_output)
        self.inc("ips_localout")
        e = self.ip_output_if(ifname, hop, pkt, now, tso_segsz if total > mtu else 0)
        if mcast and ttl > 1 and self.igmpr._if:  # type: ignore[attr-defined]
            # a router's own multicast to its other links with listeners
            # (BSD's ip_output calls ip_mforward; kame.inet.mroute)
            self.ip_mforward(ifname, pkt, _core.ip_validate(pkt, False), now,  # type: ignore[attr-defined]
                             local=True)
        return e

    def ip_emsgsize(self, src: IPv4Address | None, dst: IPv4Address, total: int,
                    df: bool | str, ifname: str | None, now: float) -> bool:
        """Whether :meth:`ip_output` refuses a datagram of ``total`` octets
        for its size alone (``EMSGSIZE``): asked before the datagram is
        built, as Linux's ``__ip_append_data`` does before
        ``sock_alloc_send_skb`` reports a socket's pending error."""
        if total > 65535:
            return True
        if df is False or df in ("want", "omit") or self.is_local(dst):
            return False
        if ifname is None:
            if dst == INADDR_BROADCAST or in_multicast(dst):
                ifname = self._default_if(src)
            else:
                rt = self.rtalloc(dst)
                ifname = rt.ifname if rt is not None else None
        if ifname is None or ifname not in self.node.ifnets:
            return False
        if df in IF_MTU_MODES:
            return total > self.linkmtu(ifname)
        off = self.pmtud_off.get(dst)
        return (off is None or off <= now) and total > self.path_mtu(ifname, dst, now)

    def ip_output_if(self, ifname: str, hop: IPv4Address, pkt: bytes, now: float,
                     tso_segsz: int = 0) -> int:
        """The last step of ``ip_output`` for a datagram built and routed
        (ours, an ``IP_HDRINCL`` one, a gif tunnel's outer packet): the SPD
        first (``ipsec4_output``: protected, dropped or left as it is), then
        the interface; 0 or an errno."""
        if self.node.key is not None:
            e = self.ipsec4_output(ifname, pkt, hop, now)  # kame.inet.ipsec4
            if e is not None:
                return e
        self.ether_output(ifname, hop, pkt, now, tso_segsz)
        return 0

    def ip_output_raw(self, packet: bytes, dst: IPv4Address, now: float, *,
                      ifname: str | None = None) -> int:
        """A datagram whose header the sender built (``IP_HDRINCL``,
        ``IP_RAWOUTPUT``): routed by ``dst``, under the SPD as ours are,
        fragmented unless DF; 0 or an errno."""
        hop = dst
        if self.is_local(dst):
            self.inc("ips_localout")
            self.inc("ips_rawout")
            self.ip_loopback(packet, now)
            return 0
        if ifname is None:
            if dst == INADDR_BROADCAST or in_multicast(dst):
                ifname = self._default_if(IPv4Address(packet[12:16]))
            else:
                rt = self.rtalloc(dst)
                if rt is not None:
                    ifname, hop = rt.ifname, rt.next_hop
            if ifname is None:
                self.inc("ips_noroute")
                return errno.ENETUNREACH
        ifp = self.node.ifnets.get(ifname)
        if ifp is None or not ifp.up:
            self.inc("ips_odropped")
            return errno.ENETDOWN
        if packet[6] & 0x40 and len(packet) > self.path_mtu(ifname, dst, now):
            self.inc("ips_cantfrag")
            return errno.EMSGSIZE
        self.inc("ips_localout")
        self.inc("ips_rawout")
        # the SPD applies as to any datagram of ours (BSD's ip_output with
        # IP_RAWOUTPUT; Linux's xfrm lookup in the raw socket's route)
        e = self.ip_output_if(ifname, hop, packet, now)
        if packet[8] > 1 and in_multicast(dst) and self.igmpr._if:  # type: ignore[attr-defined]
            # to a group with the header's TTL above 1: to the other links
            # with listeners as our other multicast (BSD's ip_output with
            # IP_RAWOUTPUT goes on to ip_mforward the same way)
            try:
                v = _core.ip_validate(packet, False)
            except KameError:
                return e
            if v.dst == dst:
                self.ip_mforward(ifname, packet, v, now, local=True)  # type: ignore[attr-defined]
        return e

    def ether_output(self, ifname: str, hop: IPv4Address, packet: bytes, now: float,
                     tso_segsz: int = 0) -> None:
        """Resolve ``hop`` (the datagram waits whole) and frame the datagram
        (a super-segment held for ARP is fragmented when it leaves)."""
        if self.node.ifnets[ifname].type in (55, 215):  # IFT_GIF, IFT_STF (kame.gif)
            self.node.gif.gif_output(ifname, packet, now, None)
            return
        ll = self.arpresolve(ifname, hop, packet, now)
        if ll is not None:
            self.ether_output_resolved(ifname, ll, packet, tso_segsz)

    def ether_output_resolved(self, ifname: str, lladdr: bytes, packet: bytes,
                              tso_segsz: int = 0) -> None:
        """Frame a datagram whose next hop is resolved, fragmenting it to the
        path MTU (ours) or the link MTU (forwarded); a TCP super-segment
        (``tso_segsz``) goes whole as a :class:`~kame.in6_var.TsoFrame`."""
        ifp = self.node.ifnets[ifname]
        if not ifp.up:
            self.inc("ips_odropped")
            return
        if tso_segsz:
            me = ifp.lladdr or bytes(6)
            tf = TsoFrame(lladdr + me + ETHERTYPE_IP + packet)
            tf.tso_segsz = tso_segsz
            self.node._out.append((ifname, tf))
            return
        mtu = ifp.mtu
        if len(packet) > 576 and type(packet) is not IfMtu:
            dst = IPv4Address(packet[16:20])
            if self.find(IPv4Address(packet[12:16])) is not None:
                mtu = self.path_mtu(ifname, dst, self.node._now)
        if len(packet) <= mtu:
            self.emit(ifname, lladdr, ETHERTYPE_IP, packet)
            return
        try:
            frags = _core.ip_fragment(packet, mtu)
        except KameError:
            self.inc("ips_cantfrag")
            return
        self.inc("ips_fragmented")
        self.inc("ips_ofragments", len(frags))
        for f in frags:
            self.emit(ifname, lladdr, ETHERTYPE_IP, f)

    def arp_unreachable(self, la: Llinfo, now: float) -> None:
        """The neighbor never answered: its held datagrams are dropped; a
        forwarded one is answered with Host Unreachable (RFC 1812 §5.2.7.1),
        one of ours reaches its socket the same way."""
        held = list(la.hold)
        la.hold.clear()
        self.inc("arps_dropped", len(held))
        for pkt in held:
            self.host_unreachable(la.ifname, pkt, now)

    def host_unreachable(self, ifname: str, packet: bytes, now: float) -> None:
        """Overridden by the ICMP layer."""

    def ip_loopback(self, packet: bytes, now: float) -> None:
        """Overridden by the input layer: a datagram to one of our addresses."""

    def ipsec4_output(self, ifname: str, pkt: bytes, hop: IPv4Address,
                      now: float) -> int | None:
        """Overridden by :mod:`kame.inet.ipsec4`."""
        return None

    def udp_output(self, src: IPv4Address | None, sport: int, dst: IPv4Address, dport: int,
                   data: bytes, now: float, *, ttl: int | None = None, tos: int = 0,
                   df: bool | str = False, ifname: str | None = None,
                   oif: str | None = None) -> int:
        """``udp_output`` over ``ip_output``: 0 or an errno (``oif``: see
        :meth:`ip_output`)."""
        if src is None or not int(src):
            if ifname is None and not (dst == INADDR_BROADCAST or in_multicast(dst)):
                rt = self.rtalloc(dst, oif)
                if rt is None:
                    self.inc("ips_noroute")
                    return errno.ENETUNREACH
                ifname = rt.ifname
            elif ifname is None:
                ifname = self._default_if(None)
            src = self.in_selectsrc(dst, ifname) if ifname is not None else None
            if src is None:
                return errno.EADDRNOTAVAIL
            if dst != INADDR_BROADCAST and not in_multicast(dst):
                ifname = None  # route again in ip_output (next hop)
        try:
            body = _core.UdpHeader(sport, dport, data).to_bytes(src, dst)
        except KameError:
            return errno.EMSGSIZE
        return self.ip_output(src, dst, IPPROTO_UDP, body, now, ttl=ttl, tos=tos, df=df,
                              ifname=ifname, oif=oif)

    def ping(self, dst: IPv4Address, now: float, *, ident: int = 0x4B4D, seq: int = 0,
             data: bytes = b"kame", df: bool = False, ttl: int | None = None,
             ifname: str | None = None, src: IPv4Address | None = None) -> int:
        """Send one Echo Request (``ping [-S src]``); 0 or an errno."""
        msg = _core.icmp_build(8, 0, (ident & 0xFFFF) << 16 | (seq & 0xFFFF), data)
        return self.ip_output(src, dst, IPPROTO_ICMP, msg, now, ttl=ttl, df=df, ifname=ifname)
