"""``ip_icmp.c``: ICMPv4 (RFC 792, RFC 1122 §3.2.2, RFC 1191).

``icmp_input`` answers Echo Requests (not those sent to a broadcast or
multicast address: ``net.inet.icmp.bmcastecho`` 0, ``icps_bmcastecho``),
reports Echo Replies (:class:`EchoReply4` events) and hands errors about
our own datagrams to the upper layers (:class:`IcmpErrorInput4` events,
``udp_ctlinput`` for UDP, ``tcp_ctlinput`` of :mod:`kame.tcp` for TCP); Fragmentation Needed lowers the path MTU
(RFC 1191, with the §7 plateau table when the router gave no MTU).

``icmp_error`` never answers (RFC 1122 §3.2.2): an ICMP error message
(``icps_oldicmp``), a datagram shorter than its header
(``icps_oldshort``), a fragment other than the first, a datagram sent to
a broadcast or multicast address (by IP or link layer), or one whose
source is not one host (0/8, 127/8, multicast, broadcast) —
``icps_canterror``. It quotes the invoking header and
``net.inet.icmp.quotelen`` (8) octets, as BSD. Errors and echo replies
are each limited to ``net.inet.icmp.icmplim`` (200) a second
(FreeBSD's ``badport_bandlim`` classes; ``icps_toofreq``).
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Any

from kame import _core
from kame.errors import KameError, TruncatedError
from kame.inet.ipsec4 import Ipsec4
from kame.inet.output import IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP
from kame.inet.route import in_martian_src, in_multicast

ICMP_ECHOREPLY, ICMP_UNREACH, ICMP_ECHO, ICMP_TIMXCEED, ICMP_PARAMPROB = 0, 3, 8, 11, 12
ICMP_REDIRECT, ICMP_REDIRECT_HOST = 5, 1
ICMP_UNREACH_NET, ICMP_UNREACH_HOST, ICMP_UNREACH_PROTOCOL, ICMP_UNREACH_PORT = 0, 1, 2, 3
ICMP_UNREACH_NEEDFRAG, ICMP_UNREACH_SRCFAIL = 4, 5
ICMP_TIMXCEED_INTRANS, ICMP_TIMXCEED_REASS = 0, 1
#: Types that are not errors (``ICMP_INFOTYPE``): an error may answer them.
ICMP_INFOTYPES = frozenset((0, 8, 9, 10, 13, 14, 15, 16, 17, 18))


@dataclass(frozen=True, slots=True)
class EchoReply4:
    """An ICMP Echo Reply arrived (what ``ping`` waits for)."""

    ifname: str
    src: IPv4Address
    ident: int
    seq: int
    data: bytes
    time: float


@dataclass(frozen=True, slots=True)
class IcmpErrorInput4:
    """An ICMP error about a datagram we sent (``icmp_input`` ->
    ``pr_ctlinput``): reporter, type, code, octets 4..8 (``rest``: the
    next-hop MTU for Fragmentation Needed), and the invoking datagram's
    source, destination and protocol."""

    ifname: str
    reporter: IPv4Address
    type: int
    code: int
    rest: int
    src: IPv4Address
    dst: IPv4Address
    protocol: int
    time: float


class Icmp(Ipsec4):
    """ICMPv4 input and output."""

    def ppsratecheck(self, cls: str, now: float) -> bool:
        """At most ``net.inet.icmp.icmplim`` per second in class ``cls``."""
        lim = int(self.node.knobs._values["net.inet.icmp.icmplim"])
        if lim <= 0:
            return True
        sec = int(now)
        last, n = self.rate.get(cls, (-1, 0))
        if last != sec:
            last, n = sec, 0
        if n >= lim:
            self.rate[cls] = (last, n)
            return False
        self.rate[cls] = (last, n + 1)
        return True

    def icmp_error(self, packet: bytes, icmp_type: int, code: int, now: float, *,
                   rest: int = 0, link_bcast: bool = False) -> bool:
        """Answer the datagram ``packet`` (from its IPv4 header) with an ICMP
        error, under the rules of the module docs. True when sent."""
        self.inc("icps_error")
        if len(packet) < 20 or len(packet) < (packet[0] & 0x0F) * 4:
            self.inc("icps_oldshort")
            return False
        hl = (packet[0] & 0x0F) * 4
        if packet[9] == IPPROTO_ICMP and len(packet) > hl and packet[hl] not in ICMP_INFOTYPES:
            self.inc("icps_oldicmp")
            return False
        src, dst = IPv4Address(packet[12:16]), IPv4Address(packet[16:20])
        frag_off = int.from_bytes(packet[6:8], "big") & 0x1FFF
        if frag_off or link_bcast or in_multicast(dst) or in_martian_src(src) or \
                any(self.in_broadcast(dst, ifa.ifname) or self.in_broadcast(src, ifa.ifname)
                    for ifa in self.addrs):
            self.inc("icps_canterror")
            return False
        if not self.ppsratecheck("error", now):
            self.inc("icps_toofreq")
            return False
        quote = packet[:hl + int(self.node.knobs._values["net.inet.icmp.quotelen"])]
        me = dst if self.is_local(dst) else self.in_selectsrc(src)
        if me is None:
            return False
        msg = _core.icmp_build(icmp_type, code, rest, quote)
        return self.ip_output(me, src, IPPROTO_ICMP, msg, now) == 0

    def host_unreachable(self, ifname: str, packet: bytes, now: float) -> None:
        """ARP gave up on the next hop of ``packet``."""
        if self.find(IPv4Address(packet[12:16])) is not None:
            self._notify(ifname, IPv4Address(packet[12:16]), ICMP_UNREACH, ICMP_UNREACH_HOST,
                         0, packet, now)
        else:
            self.icmp_error(packet, ICMP_UNREACH, ICMP_UNREACH_HOST, now)

    def icmp_input(self, ifname: str, v: Any, packet: bytes, now: float, bcast: bool) -> None:
        """One ICMP message for us (``packet`` the whole datagram, ``v`` its
        ``Ip4Validated``; ``bcast``: sent to a broadcast or multicast address)."""
        body = packet[v.header_len:v.total_len]
        try:
            t, code, rest, data = _core.icmp_parse(body)
        except KameError as e:
            if isinstance(e, TruncatedError) and e.offset == 0:
                self.inc("icps_tooshort")
            elif e.offset == 2:
                self.inc("icps_checksum")
            elif e.offset == 1:
                self.inc("icps_badcode")
            else:
                self.inc("icps_badlen")
            return
        if t == ICMP_ECHO:
            if bcast and not self.node.knobs._values["net.inet.icmp.bmcastecho"]:
                self.inc("icps_bmcastecho")
                return
            if not self.ppsratecheck("echo", now):
                self.inc("icps_toofreq")
                return
            me = v.dst if not bcast and self.is_local(v.dst) else self.in_selectsrc(v.src)
            if me is None:
                return
            self.inc("icps_reflect")
            self.ip_output(me, v.src, IPPROTO_ICMP, _core.icmp_build(ICMP_ECHOREPLY, 0, rest, data),
                           now, tos=v.tos & 0xFC)
        elif t == ICMP_ECHOREPLY:
            self.node.events.append(EchoReply4(ifname, v.src, rest >> 16, rest & 0xFFFF,
                                               bytes(data), now))
        elif t == ICMP_REDIRECT:
            self.icmp_redirect_input(v, code, rest, bytes(data), now)
        elif t in (ICMP_UNREACH, ICMP_TIMXCEED, ICMP_PARAMPROB, 4):
            self._notify(ifname, v.src, t, code, rest, bytes(data), now, (v.ttl, v.tos, v.dst))

    def icmp_redirect_input(self, v: Any, code: int, rest: int, inv: bytes, now: float) -> None:
        """A Redirect (``icmp_input`` -> ``rtredirect``): every code is taken
        as a host redirect (RFC 1122 §3.2.2.2); a router, or a host with
        ``net.inet.icmp.drop_redirect``, ignores them (RFC 1812 §5.2.7.2)."""
        kv = self.node.knobs._values
        if kv["net.inet.icmp.drop_redirect"] or kv["net.inet.ip.forwarding"]:
            return
        if len(inv) < 20:
            self.inc("icps_badlen")
            return
        self.rtredirect(IPv4Address(inv[16:20]), IPv4Address(rest), v.src, now)

    def _notify(self, ifname: str, reporter: IPv4Address, t: int, code: int, rest: int,
                inv: bytes, now: float, rx: tuple[int, int, IPv4Address] | None = None) -> None:
        """An error about a datagram of ours (``inv``, its header and first
        octets) reaches the upper layer (``rx``: the ICMP message's TTL,
        TOS and destination)."""
        hl = (inv[0] & 0x0F) * 4
        osrc, odst, proto = IPv4Address(inv[12:16]), IPv4Address(inv[16:20]), inv[9]
        if self.find(osrc) is None:
            return  # not about a datagram of ours
        if t == ICMP_UNREACH and code == ICMP_UNREACH_NEEDFRAG:
            mtu = rest & 0xFFFF
            if mtu < 68:
                mtu = _core.icmp_next_plateau(int.from_bytes(inv[2:4], "big"))
            so = getattr(self.node, "sockets", None)
            # Linux's ipv4_sk_update_pmtu: a UDP socket of IP_PMTUDISC_INTERFACE
            # or _OMIT leaves the route's MTU alone (ip_sk_accept_pmtu)
            if proto != IPPROTO_UDP or len(inv) < hl + 4 or so is None or \
                    not so.udp4_pmtu_ignored(osrc, int.from_bytes(inv[hl:hl + 2], "big"), odst,
                                             int.from_bytes(inv[hl + 2:hl + 4], "big")):
                self.pmtu_update(odst, mtu, now)
            if proto in (4, 41):  # about a gif's outer datagram (RFC 4213 §3.2)
                self.node.gif.ctlinput(osrc, odst, mtu, inv, hl, now)
        self.node.events.append(IcmpErrorInput4(ifname, reporter, t, code, rest, osrc, odst,
                                                proto, now))
        so = getattr(self.node, "sockets", None)
        # the error's source, word, quoted payload (Linux's
        # icmp_socket_deliver wants 8 octets past the quoted header) and size
        full = len(inv) >= hl + 8
        size = 28 + len(inv)
        if so is not None and full and hasattr(so, "rip_ctlinput"):
            so.rip_ctlinput(t, code, rest, reporter, inv, size, so.icmp_rx(ifname, rx))
        if so is not None and proto == IPPROTO_UDP and len(inv) >= hl + 4:
            sport = int.from_bytes(inv[hl:hl + 2], "big")
            dport = int.from_bytes(inv[hl + 2:hl + 4], "big")
            so.udp_ctlinput(t, code, osrc, odst, sport, dport, reporter=reporter, rest=rest,
                            payload=inv[hl + 8:] if full else None, size=size,
                            rx=so.icmp_rx(ifname, rx))
        elif proto == IPPROTO_TCP and getattr(self.node, "tcp", None) is not None:
            self.node.tcp.tcp_ctlinput(t, code, rest, inv, now)  # kame.tcp
