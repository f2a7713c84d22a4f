"""IPv4 on the wire (issue 9): ARP, IPv4 input and output with
fragmentation and bounded reassembly, ICMPv4, static addresses and routes.

One :class:`Inet` per node (``node.inet``), its layers named as BSD names
them, one step from the name to the file:

- :mod:`kame.inet.route`: addresses (``in.c``), ``rtalloc``,
  ``in_selectsrc``, the IPv4 martians of seed §1.14;
- :mod:`kame.inet.arp`: ``if_ether.c`` (``arpresolve``, ``in_arpinput``,
  the bounded cache, RFC 5227 probes and announcements);
- :mod:`kame.inet.output`: ``ip_output``, fragmentation, path MTU
  (RFC 1191), ``udp_output``, ``ping``;
- :mod:`kame.inet.icmp`: ``icmp_input``, ``icmp_error`` and its rate limit;
- :mod:`kame.inet.input`: ``ip_input``, ``ip_reass`` (through
  ``_core.IpReassembler``), ``ip_forward`` (with Redirects, RFC 1812
  §5.2.7.2);
- :mod:`kame.inet.igmp`: ``igmp.c``, the host side of IGMPv3 with the
  v2/v1 compatibility modes; ``in_joingroup``/``in_leavegroup``;
- :mod:`kame.inet.igmp_router`: the IGMP querier (RFC 3376 §6, §7.3.2);
  :mod:`kame.inet.mroute`: its wiring and ``ip_mforward`` (multicast
  forwarding by its listening state);
- :mod:`kame.inet.ipsec4`: ``ipsec4_output``, ``esp4_input``/``ah4_input``
  and ``ipsec4_in_reject`` with the node's SPD and SAD.

Redirects (RFC 1122 §3.2.2.2) are obeyed by a host from its first hop
only (``rtredirect`` in :mod:`kame.inet.route`, host routes that expire).
Raw IPv4 sockets are :mod:`kame.socket.raw4` (``rip_input`` is called from
``ip_deliver``).

The byte paths are in the Rust core (``kame_core::inet``): ``ip_validate``,
``ip_build``, ``ip_fragment``, ``IpReassembler``, ``icmp_parse`` (IGMP's
header too), ``arp_parse`` and their builders. Knobs are ``net.inet.*``
and ``net.link.ether.inet.*``; counters ``ips_*``, ``icps_*``, ``arps_*``,
``igps_*``, ``rts_*`` in the node's ``stats``, ``ipsec4stat`` here.

Not yet here: Record Route/Timestamp filled in when forwarding, forwarding
of source-routed datagrams.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from ipaddress import IPv4Address, IPv4Interface
from typing import Any

from kame import _core
from kame.inet.arp import Llinfo
from kame.inet.icmp import EchoReply4, IcmpErrorInput4
from kame.inet.igmp_router import IgmpRouter
from kame.inet.input import IpInput
from kame.inet.output import PathMtuChanged4
from kame.inet.var import InIfaddr, InRtentry, Route4

__all__ = ["EchoReply4", "IcmpErrorInput4", "InIfaddr", "InRtentry", "Inet", "Llinfo",
           "PathMtuChanged4", "Route4"]


class Inet(IpInput):
    """The IPv4 half of one node; see the module docstring."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self.addrs = []
        self.routes = {}
        self.arptab = {}
        self.pmtu = {}
        self.pmtud_off = {}
        kv = node.knobs._values
        mq = kv["net.inet.ip.maxfragpackets"]
        self.reass = _core.IpReassembler(float(kv["net.inet.ip.fragttl"]),
                                         kv["net.inet.ip.maxfragbytes"],
                                         (1 << 32) if mq < 0 else mq,
                                         kv["net.inet.ip.maxfragsperpacket"])
        self._reass_seen: dict[str, int] = {}
        self.ip_id = node.rng.getrandbits(16)
        self.rate = {}
        self.arp_deadline = None
        self.igmp = {}
        #: The IGMP router side and IPv4 multicast forwarding (kame.inet.mroute).
        self.igmpr = IgmpRouter(lambda name: int(node.knobs._values[name]), self.inc)
        self.igmpr.gate = node.gate  # the node's next-deadline gate (kame.gate)
        self.mfc = OrderedDict()
        self.mif = {}
        self.mbound = {}
        from kame.key.ipsec6 import IPSEC6_STATS

        self.ipsec4stat = Counter(dict.fromkeys(IPSEC6_STATS, 0))

    # --- ifconfig ----------------------------------------------------------------

    def add_address(self, ifname: str, cidr: str, now: float) -> InIfaddr:
        """``ifconfig IF inet ADDR/LEN``: the address is probed (RFC 5227)
        and announced when ``ifname`` is up, else when it comes up."""
        if ifname not in self.node.ifnets:
            raise ValueError(f"no interface {ifname!r}")
        ifi = IPv4Interface(cidr)
        old = self.find(ifi.ip, ifname)
        if old is not None:
            self.addrs.remove(old)
        ifa = InIfaddr(ifi.ip, ifi.network.prefixlen, ifname, tentative=True)
        self.addrs.append(ifa)
        self.node.ifstate_changed()
        if self.node.ifnets[ifname].up:
            self.dad_start(ifa, now)
        return ifa

    def delete_address(self, ifname: str, addr: str | IPv4Address) -> bool:
        ifa = self.find(IPv4Address(addr), ifname)
        if ifa is None:
            return False
        self.addrs.remove(ifa)
        self.node.ifstate_changed()
        return True

    def if_up(self, ifname: str, now: float) -> None:
        for ifa in self.on(ifname):
            if ifa.tentative:
                ifa.duplicated = False
                self.dad_start(ifa, now)

    def if_down(self, ifname: str) -> None:
        """``ifconfig IF down``: ARP entries and probes of the interface go;
        its addresses stay and are probed again on up."""
        self.arp_flush(ifname)
        self.igmp_ifdetach(ifname)
        self.igmpr.stop(ifname)
        for ifa in self.on(ifname):
            ifa.next_at = None
            ifa.tentative = True

    # --- timers --------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        ts = [t for t in (self.arp_deadline, self.reass.next_deadline(),
                          min((e[1] for e in self.pmtu.values()), default=None),
                          self.igmp_next_deadline(), self.rt_next_expire(),
                          self.igmpr_deadline()) if t is not None]
        return min(ts) if ts else None

    def poll(self, now: float) -> None:
        self.arptimer(now)
        self.ip_slowtimo(now)
        if self.igmp:
            self.igmp_fasttimo(now)
        self.igmpr_poll(now)  # the IGMP querier
        if self.routes:
            self.rt_expire(now)  # Redirects' host routes
        if self.pmtu:
            self.pmtu_expire(now)
