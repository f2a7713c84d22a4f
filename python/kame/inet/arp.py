"""``if_ether.c``: ARP (RFC 826) over Ethernet, with RFC 5227 address
probing, as a bounded cache hardened like ND.

Resolution (``arpresolve``): a resolved entry answers at once; otherwise
the packet waits in the entry's hold queue (``net.link.ether.inet.maxhold``,
1 as BSD's ``la_hold``: a newer packet pushes the older out,
``arps_dropped``) while requests go out once a second, at most
``maxtries`` (5); unanswered, the entry is down for ``wait`` (20 s) seconds,
its held packets dropped, an ``arp_unreachable`` event queued and packets
to it refused at once. A resolved entry lives ``max_age`` (1200 s) seconds.

Input (``in_arpinput``), with the hardening of FreeBSD and Linux:

- our own frames (sender MAC ours) are ignored (``arps_ownframe``), as is
  a broadcast/multicast sender MAC or a martian sender address
  (``arps_badaddr``);
- an entry is **created only by a request for one of our addresses on the
  receiving interface** (RFC 826's merge, FreeBSD and Linux alike). An
  existing entry is updated by any request or reply from its address. A
  reply nobody asked for creates nothing (``arps_unsolicited``: Linux's
  ``arp_accept=0``; FreeBSD would create one when the target is ours), nor
  does a packet for another host (``arps_notforus``);
- the cache is capped (``net.link.ether.inet.max_entries``): past the cap
  the least recently used entry goes (``arps_cachefull``), so a flood of
  requests from made-up senders costs a bounded amount of memory; every
  packet is counted (``arps_received``, ``arps_rxrequests`` ...);
- requests are answered for our usable addresses only (``arps_txreplies``),
  probes (sender 0.0.0.0) too, without creating an entry.

Address conflicts (RFC 5227): a new address is tentative while
``net.link.ether.inet.dad_count`` probes (sender 0.0.0.0) go out 1-2 s
apart after a random 0-1 s wait; a reply or a probe for it from another
host marks it duplicated (``inet_address_duplicated`` event). Two
seconds after the last probe it is usable and announced twice, 2 s apart
(``inet_address_ready``). With ``dad_count`` 0 the address is usable at
once and announced once, as BSD's ``arp_ifinit``. Later, another host
using one of our addresses is counted (``arps_dupips``), reported
(``inet_address_conflict``) and answered with one announcement per 10 s
(RFC 5227 §2.4 (b), DEFEND_INTERVAL).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from kame import _core
from kame.errors import KameError
from kame.inet.route import InRoute, in_martian_src
from kame.inet.var import ETHER_BROADCAST, ETHERTYPE_ARP, INADDR_ANY, InIfaddr
from kame.nd6.types import Event

ARPOP_REQUEST, ARPOP_REPLY = 1, 2
#: RFC 5227 §1.1 constants, seconds.
PROBE_WAIT, PROBE_MIN, PROBE_MAX = 1.0, 1.0, 2.0
ANNOUNCE_WAIT, ANNOUNCE_NUM, ANNOUNCE_INTERVAL = 2.0, 2, 2.0
DEFEND_INTERVAL = 10.0
#: Seconds between two requests for one unresolved entry (BSD: one a second).
ARP_REXMIT = 1.0
ZERO_MAC = bytes(6)


@dataclass(slots=True)
class Llinfo:
    """One ARP entry (``struct llentry``): resolved when ``lladdr`` is set."""

    ifname: str
    addr: IPv4Address
    lladdr: bytes | None = None
    #: resolved: when it expires; unresolved: when to ask again / give up;
    #: down: when the down period ends.
    expire: float = 0.0
    asked: int = 0
    down: bool = False
    used: float = 0.0
    hold: deque[bytes] = field(default_factory=deque)


def ether_multicast4(a: IPv4Address) -> bytes:
    """RFC 1112 §6.4: 01:00:5e and the low 23 bits of the group."""
    x = int(a) & 0x7FFFFF
    return bytes((0x01, 0x00, 0x5E, x >> 16, (x >> 8) & 0xFF, x & 0xFF))


class Arp(InRoute):
    """The ARP table and RFC 5227 probing of a node."""

    def _arp_knob(self, name: str) -> int:
        return int(self.node.knobs._values["net.link.ether.inet." + name])

    def _touch_deadline(self, t: float | None) -> None:
        if t is not None and (self.arp_deadline is None or t < self.arp_deadline):
            self.arp_deadline = t
            self.node.gate.arm(t)

    # --- output side ---------------------------------------------------------

    def arprequest(self, ifname: str, sip: IPv4Address, tip: IPv4Address,
                   dst_mac: bytes = ETHER_BROADCAST) -> None:
        ifp = self.node.ifnets[ifname]
        me = ifp.lladdr or bytes(6)
        self.inc("arps_txrequests")
        self.emit(ifname, dst_mac, ETHERTYPE_ARP,
                  _core.arp_build(ARPOP_REQUEST, me, sip, ZERO_MAC, tip))

    def _lookup(self, ifname: str, a: IPv4Address) -> Llinfo | None:
        return self.arptab.get((ifname, a))

    def _new_entry(self, ifname: str, a: IPv4Address, now: float) -> Llinfo:
        cap = self._arp_knob("max_entries")
        while len(self.arptab) >= cap:  # the table is kept in least recently used order
            self._free(next(iter(self.arptab.values())))
            self.inc("arps_cachefull")
        la = Llinfo(ifname, a, used=now)
        self.arptab[(ifname, a)] = la
        return la

    def _free(self, la: Llinfo) -> None:
        if la.hold:
            self.inc("arps_dropped", len(la.hold))
            la.hold.clear()
        self.arptab.pop((la.ifname, la.addr), None)

    def arpresolve(self, ifname: str, hop: IPv4Address, packet: bytes,
                   now: float) -> bytes | None:
        """The link address for ``hop``, or ``None`` with ``packet`` held (or
        dropped) while ARP asks. Broadcast and multicast map directly."""
        if self.in_broadcast(hop, ifname):
            return ETHER_BROADCAST
        if (int(hop) >> 28) == 0xE:
            return ether_multicast4(hop)
        la = self._lookup(ifname, hop)
        if la is not None and la.lladdr is not None and la.expire > now:
            if la.used != now:
                la.used = now
                self.arptab[(ifname, hop)] = self.arptab.pop((ifname, hop))  # LRU order
            return la.lladdr
        if la is None or (la.lladdr is not None and la.expire <= now):
            if la is not None:
                self._free(la)
            la = self._new_entry(ifname, hop, now)
        la.used = now
        if la.down:
            self.inc("arps_dropped")  # EHOSTDOWN during the down period
            return None
        la.hold.append(packet)
        while len(la.hold) > self._arp_knob("maxhold"):
            la.hold.popleft()
            self.inc("arps_dropped")
        if la.asked == 0:
            src = self.in_selectsrc(hop, ifname)
            if src is not None:
                self.arprequest(ifname, src, hop)
            la.asked = 1
            la.expire = now + ARP_REXMIT
            self._touch_deadline(la.expire)
        return None

    # --- input side -----------------------------------------------------------

    def arp_input(self, ifname: str, smac: bytes, payload: bytes, now: float) -> None:
        """``in_arpinput`` for one ARP packet received on ``ifname``."""
        self.inc("arps_received")
        try:
            op, sha, spa, _tha, tpa = _core.arp_parse(payload)
        except KameError:
            self.inc("arps_badpkt")
            return
        self.inc("arps_rxrequests" if op == ARPOP_REQUEST else "arps_rxreplies")
        ifp = self.node.ifnets[ifname]
        me = ifp.lladdr
        if me is not None and (sha == me or smac == me):
            self.inc("arps_ownframe")
            return
        if sha[0] & 1 or (spa != INADDR_ANY and in_martian_src(spa)) or (int(tpa) >> 24) == 127:
            self.inc("arps_badaddr")
            return
        mine = self.find(tpa, ifname)
        # RFC 5227: our sender address on another host, or a probe for an
        # address we are probing.
        sifa = self.find(spa, ifname) if spa != INADDR_ANY else None
        if sifa is not None:
            self._conflict(sifa, now)
            return
        if spa == INADDR_ANY:
            if mine is not None and mine.tentative and op == ARPOP_REQUEST:
                self._conflict(mine, now)  # another host probes the same address
            elif mine is not None and mine.usable and op == ARPOP_REQUEST:
                self._arp_reply(ifname, sha, spa, tpa)  # answer the probe
            return
        la = self._lookup(ifname, spa)
        if la is not None:
            self._arp_update(la, sha, now)
        elif mine is not None and mine.usable and op == ARPOP_REQUEST:
            la = self._new_entry(ifname, spa, now)
            self._arp_update(la, sha, now)
        elif mine is not None and op == ARPOP_REPLY:
            self.inc("arps_unsolicited")
        else:
            self.inc("arps_notforus")
        if op == ARPOP_REQUEST and mine is not None and mine.usable:
            self._arp_reply(ifname, sha, spa, tpa)

    def _arp_reply(self, ifname: str, sha: bytes, spa: IPv4Address, tpa: IPv4Address) -> None:
        me = self.node.ifnets[ifname].lladdr or bytes(6)
        self.inc("arps_txreplies")
        self.emit(ifname, sha, ETHERTYPE_ARP, _core.arp_build(ARPOP_REPLY, me, tpa, sha, spa))

    def _arp_update(self, la: Llinfo, sha: bytes, now: float) -> None:
        la.lladdr = bytes(sha)
        la.down = False
        la.asked = 0
        la.expire = now + self._arp_knob("max_age")
        la.used = now
        self.arptab[(la.ifname, la.addr)] = self.arptab.pop((la.ifname, la.addr), la)  # LRU order
        self._touch_deadline(la.expire)
        held = list(la.hold)
        la.hold.clear()
        for pkt in held:
            self.ether_output_resolved(la.ifname, la.lladdr, pkt)

    def ether_output_resolved(self, ifname: str, lladdr: bytes, packet: bytes) -> None:
        """Overridden by :class:`~kame.inet.output.IpOutput` (fragmentation)."""
        raise NotImplementedError

    def arp_unreachable(self, la: Llinfo, now: float) -> None:
        """Overridden by the output layer: held packets to a neighbor that
        never answered (host unreachable for forwarded packets)."""
        self.inc("arps_dropped", len(la.hold))
        la.hold.clear()

    # --- RFC 5227 --------------------------------------------------------------

    def dad_start(self, ifa: InIfaddr, now: float) -> None:
        n = self._arp_knob("dad_count")
        ifp = self.node.ifnets[ifa.ifname]
        self.node.ifstate_changed()  # the IGMP querier runs from usable addresses
        if n == 0 or ifp.lladdr is None:
            ifa.tentative = False
            ifa.probes, ifa.announces = 0, (1 if ifp.lladdr is not None else 0)
            ifa.next_at = now if ifa.announces else None
        else:
            ifa.tentative = True
            ifa.probes, ifa.announces = n, ANNOUNCE_NUM
            ifa.next_at = now + self.node.rng.uniform(0.0, PROBE_WAIT)
        self._touch_deadline(ifa.next_at)
        self.dad_timer(now)

    def dad_timer(self, now: float) -> None:
        for ifa in list(self.addrs):
            while ifa.next_at is not None and ifa.next_at <= now and not ifa.duplicated:
                ifp = self.node.ifnets.get(ifa.ifname)
                if ifp is None or not ifp.up:
                    ifa.next_at = None
                    break
                if ifa.tentative and ifa.probes > 0:
                    self.arprequest(ifa.ifname, INADDR_ANY, ifa.addr)
                    ifa.probes -= 1
                    ifa.next_at += (self.node.rng.uniform(PROBE_MIN, PROBE_MAX) if ifa.probes
                                    else ANNOUNCE_WAIT)
                elif ifa.tentative:
                    ifa.tentative = False
                    self.node.ifstate_changed()
                    self.node.events.append(Event("inet_address_ready", ifa.ifname,
                                                  {"addr": ifa.addr}))
                elif ifa.announces > 0:
                    self.arprequest(ifa.ifname, ifa.addr, ifa.addr)  # gratuitous ARP
                    ifa.announces -= 1
                    ifa.next_at = ifa.next_at + ANNOUNCE_INTERVAL if ifa.announces else None
                else:
                    ifa.next_at = None
            self._touch_deadline(ifa.next_at)

    def _conflict(self, ifa: InIfaddr, now: float) -> None:
        self.inc("arps_dupips")
        if ifa.tentative:
            ifa.duplicated = True
            self.node.ifstate_changed()
            ifa.next_at = None
            self.node.events.append(Event("inet_address_duplicated", ifa.ifname,
                                          {"addr": ifa.addr}))
            return
        self.node.events.append(Event("inet_address_conflict", ifa.ifname, {"addr": ifa.addr}))
        if now - ifa.last_defend >= DEFEND_INTERVAL:
            ifa.last_defend = now
            self.arprequest(ifa.ifname, ifa.addr, ifa.addr)

    # --- timers ----------------------------------------------------------------

    def arptimer(self, now: float) -> None:
        """Expire resolved entries, re-ask or give up on unresolved ones."""
        if self.arp_deadline is None or self.arp_deadline > now:
            return
        self.arp_deadline = None
        self.dad_timer(now)
        maxtries = self._arp_knob("maxtries")
        for la in list(self.arptab.values()):
            if la.expire > now:
                self._touch_deadline(la.expire)
                continue
            if la.lladdr is not None or la.down:
                if la.lladdr is not None:
                    self.inc("arps_timeouts")
                self._free(la)
            elif la.asked >= maxtries:
                self.arp_unreachable(la, now)
                self.node.events.append(Event("arp_unreachable", la.ifname, {"addr": la.addr}))
                la.down = True
                la.asked = 0
                la.expire = now + self._arp_knob("wait")
                self._touch_deadline(la.expire)
            else:
                src = self.in_selectsrc(la.addr, la.ifname)
                if src is not None:
                    self.arprequest(la.ifname, src, la.addr)
                la.asked += 1
                la.expire = now + ARP_REXMIT
                self._touch_deadline(la.expire)

    def arp_flush(self, ifname: str) -> None:
        for la in [e for e in self.arptab.values() if e.ifname == ifname]:
            self._free(la)

    def arp_table(self, now: float) -> list[tuple[str, str, str]]:
        """``arp -an`` rows: (address, link address or "(incomplete)", interface)."""
        rows = []
        for la in self.arptab.values():
            ll = ":".join(f"{b:02x}" for b in la.lladdr) if la.lladdr and la.expire > now \
                else "(incomplete)"
            rows.append((str(la.addr), ll, la.ifname))
        return rows
