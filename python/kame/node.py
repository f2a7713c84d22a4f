"""The sans-I/O IPv6 node: interfaces, timers and the ND state machines,
composed over the IPv6 layer of :mod:`kame.ip6`.

``Node.receive(ifname, frame, now)`` and ``Node.poll(now)`` return the
frames to transmit as ``(ifname, frame)`` pairs; ``Node.next_deadline()``
says when to call ``poll`` next; events (address ready, duplicated, echo
replies ...) queue in ``Node.events``. The node never reads a clock or a
socket, so it runs on :class:`kame.link.memory.Simulation`, on a TAP device
or against a pcap.

Where things are (BSD names, one step from the name to the file):

- :mod:`kame.ip6.input`: ``ip6_input`` (validation by
  ``kame._core.ip6_validate``, §1.14/§1.3.1 address checks, delivery),
  ``frag6_input``, the NS/NA fast path (``kame._core.nd6_input``) and the
  structured errors mapped to ``ip6s_*`` counters;
- :mod:`kame.ip6.icmp6`: ``icmp6_input``, ``icmp6_error`` (seed §1.9),
  ``icmp6_notify`` and Path MTU, ``icmp6_redirect_output``;
- :mod:`kame.ip6.forward`: ``ip6_forward`` (§1.3 scope rules, §1.4.2 roles);
- :mod:`kame.ip6.output`: ``output`` (``ip6_output`` + ``nd6_output``),
  fragmentation to the path MTU (RFC 8201), ``in6_selectsrc``
  (:mod:`kame.in6_src`), ``send`` and ``ping``;
- :mod:`kame.ip6.route`: ``rtalloc`` and the routing table;
- :mod:`kame.inet` (``node.inet``): IPv4 and ARP — ``ip_input``,
  ``ip_output``, ``icmp_input``/``icmp_error``, ``arpresolve``; frames of
  type 0x0800 and 0x0806 go there;
- here: interfaces (``ifconfig``), multicast groups, timers, the actions
  of the ND state machines (:mod:`kame.nd6`), ``ifconfig down``.

Every drop increments a BSD-named counter in ``Node.stats`` (``ip6s_*``,
``icp6s_*``).

IPsec (seed §4): ``Node.attach_key()`` gives the node an SPD and SAD
(:mod:`kame.key.ipsec6`), called from ``output``, ``_forward_output`` and
``ip6_input``.

MLD: the listener side is :mod:`kame.mld6`, the router side (querier,
listening state per link) :mod:`kame.mld6_router`, run on the up Ethernet
interfaces of a router or of any node as ``net.inet6.mld.querier`` says
(where it runs is derived on events: see ``_mcast_key``); a router
forwards multicast by that state (:mod:`kame.ip6.mroute`, ``ip6_mforward``).

ALTQ (seed §5, :mod:`kame.altq`): ``Node.altq_config(text)`` puts the
interfaces an altq.conf names under output queues (classifier, FIFOQ, PRIQ,
RED/RIO, HFSC, a token bucket regulator); from then on ``_flush`` hands
their frames to the queues and ``next_deadline`` says when the regulator
lets the next one out. With no interface under ALTQ neither path changes.
"""

from __future__ import annotations

import builtins
import errno
import math
import random
from collections import OrderedDict, deque
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address, IPv6Interface, IPv6Network
from typing import TYPE_CHECKING, Any

from kame import _core
from kame.addr import LINKLOCAL_ALL_NODES, solicited_node
from kame.errors import AltqConfError, ConfigError, RangeError
from kame.gif import Gif
from kame.icmp6 import ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_ADDR, ErrorRateLimiter
from kame.in6_src import PolicyTable
from kame.in6_var import AddrList, Ifnet, IfType, In6Flags, In6Ifaddr
from kame.inet import Inet, InIfaddr
from kame.ip6.icmp6 import EchoReply, Icmp6ErrorInput
from kame.ip6.input import Ip6Input
from kame.ip6.mroute import Mf6c, Mif6
from kame.ip6.output import PMTU_EXPIRE, PathMtuChanged
from kame.ip6.route import Route, Rtentry
from kame.ip6.var import Frame
from kame.knobs import Knobs
from kame.mip6 import Mip6Cn
from kame.mld6 import Mld6, SendMldReport
from kame.mld6_router import Mld6Router, SendMldQuery
from kame.nd6 import codec
from kame.nd6.cache import NdLog, NeighborCache
from kame.nd6.ifattach import in6_ifattach
from kame.nd6.nbr import Nd6Nbr
from kame.nd6.rtr import MAX_RTR_SOLICITATION_DELAY, Nd6Rtr
from kame.nd6.types import (
    AddressDuplicated,
    AddressExpired,
    AddressReady,
    DeliverQueued,
    DropQueued,
    Event,
    InterfaceDisabled,
    NeighborUnreachable,
    SendNA,
    SendNS,
    SendRA,
    SendRS,
)
from kame.scope6 import ZoneTable, is_embedded_form
from kame.stats import Stats
from kame.tcp.usrreq import Tcp

if TYPE_CHECKING:
    from kame.altq import Altq, AltqConf
    from kame.key.ipsec6 import Ipsec6

__all__ = ["PMTU_EXPIRE", "EchoReply", "Frame", "Icmp6ErrorInput", "Node", "PathMtuChanged",
           "Route", "Rtentry"]


def _embeddable_at(f: bytes, o: int) -> bool:
    """Whether the address at ``f[o:o+16]`` is link-local unicast (fe80::/10) or
    interface-/link-local multicast: where a non-zero second word is the
    embedded zone form (:func:`kame.scope6.is_embedded_form`)."""
    b0, b1 = f[o], f[o + 1]
    return (b0 == 0xFE and b1 & 0xC0 == 0x80) or (b0 == 0xFF and b1 & 0x0F in (1, 2))


#: Frames one ``receive_many`` call takes (a batch, not a stream).
MAX_BATCH = 1 << 20


def _frames(frames: Iterable[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for f in frames:
        if not isinstance(f, (bytes, bytearray, memoryview)):
            raise TypeError(f"frames are bytes, not {builtins.type(f).__name__}")
        if len(out) == MAX_BATCH:
            raise RangeError(f"more than {MAX_BATCH} frames", argument="frames", low=0,
                             high=MAX_BATCH)
        out.append(f)
    return out


class Node(Ip6Input):
    """One IPv6 node; see the module docstring.

    Its public methods are the user API (addresses as ``str`` or
    ``ipaddress`` objects with zones, unknown interfaces
    :class:`~kame.errors.NoInterfaceError`, every argument checked), except
    the kernel-internal entry points of the layers in :attr:`KERNEL_INTERNAL`
    (``ip6_input``, ``icmp6_error`` ...): public so the layers and the tests
    can drive one another with what the core parsed, not user input.
    """

    #: In a batch of frames (``receive_many``), TCP segments between
    #: addresses the batch has already judged go from the link to
    #: ``tcp_input`` (``Tcp.tcp6_fast_input``); off, every one takes
    #: ``ip6_input`` (the tests compare both).
    tcp_fastpath: bool = True

    #: The layers' entry points, called with parsed, trusted values.
    KERNEL_INTERNAL = frozenset({
        "frag6_input", "frag6_slowtimo", "icmp6_error", "icmp6_input", "icmp6_input_error",
        "icmp6_notify", "icmp6_redirect_output", "ip6_forward", "ip6_input", "ip6_input_error",
        "ip6_noproto", "rip6_input", "tcp6_ctlinput", "tcp6_input", "udp6_ctlinput", "udp6_input",
    })

    def __init__(self, hostname: str = "kame", *, knobs: Knobs | None = None,
                 seed: int = 0) -> None:
        if not isinstance(hostname, str):
            raise TypeError(f"hostname is a str, not {type(hostname).__name__}")
        if knobs is not None and not isinstance(knobs, Knobs):
            raise TypeError(f"knobs is a kame.knobs.Knobs, not {type(knobs).__name__}")
        if not isinstance(seed, int):
            raise TypeError(f"seed is an int, not {type(seed).__name__}")
        self.hostname = hostname
        self.knobs = knobs if knobs is not None else Knobs()
        self.rng = random.Random(seed)
        self.stats = Stats()
        self.log = NdLog(self.knobs)
        self.ifnets: dict[str, Ifnet] = {}
        self.zones = ZoneTable()
        self.addrs = AddrList()
        self.groups: dict[str, set[IPv6Address]] = {}
        self.ifids: dict[str, bytes] = {}
        self.cache = NeighborCache(self.knobs, rng=self.rng, stats=self.stats, log=self.log)
        #: The next-deadline gate (:mod:`kame.gate`): no timer of the node
        #: fires before ``gate.due``; every owner's timers lower it, so an
        #: idle :meth:`poll` returns at once. (The neighbor cache's, handed
        #: to every other owner.)
        self.gate = self.cache.gate
        self.nbr = Nd6Nbr(self.knobs, self.cache, self.addrs, self.ifnets, rng=self.rng,
                          stats=self.stats, log=self.log)
        self.rtr = Nd6Rtr(self.knobs, self.cache, self.nbr, self.addrs, self.ifnets, self.ifids,
                          rng=self.rng, stats=self.stats, log=self.log)
        self.errlimit = ErrorRateLimiter(self.knobs)
        self.mld = Mld6(self.rng,
                        lambda: int(self.knobs._values["net.inet6.ip6.mcast.maxgrpsrc"]),
                        self.stats.inc)
        self.mld.gate = self.gate
        #: The MLD router side (querier, listening state per link), on up
        #: interfaces as ``net.inet6.mld.querier`` says (see _mldr_sync).
        self.mldr = Mld6Router(lambda name: int(self.knobs._values[name]), self.stats.inc)
        self.mldr.gate = self.gate
        #: Bumped by what changes where a querier should run (interfaces
        #: created, up, down, ND-disabled; addresses ready, duplicated,
        #: expired); with the knobs' and the address list's generations it
        #: is the key the queriers' per-interface state is derived at.
        self._ifgen = 0
        self._mldr_synced: tuple[int, int, int] | None = None
        #: Multicast forwarding (:mod:`kame.ip6.mroute`): the forwarding
        #: cache and the per-interface counters.
        self.mfc: OrderedDict[tuple[IPv6Address, IPv6Address], Mf6c] = OrderedDict()
        self.mif6: dict[str, Mif6] = {}
        self.events: deque[Any] = deque(maxlen=10000)
        #: The address selection policy table (``ip6addrctl``), RFC 6724's default.
        self.policy = PolicyTable()
        #: Static routes by prefix (``route add``); connected prefixes come from addresses.
        self.static_routes: dict[IPv6Network, Rtentry] = {}
        #: ``frag6``: fragment queues, 60 s timeout (RFC 8200 §4.5), bounded by
        #: maxfragpackets, maxfragsperpacket and maxfragbytes (``frag6_input``
        #: applies their current values).
        self._reass_cfg = self._reass_knobs()
        q, f, b = self._reass_cfg
        self.reass = _core.Reassembler(max_bytes=b, max_queues=q, max_frags_per_queue=f)
        self._reass_seen: dict[str, int] = {}
        #: The destination cache's path MTUs (RFC 8201), by destination: (mtu, expiry).
        self.pmtu: OrderedDict[IPv6Address, tuple[int, float]] = OrderedDict()
        self._frag_ident = self.rng.getrandbits(32)
        self.rtr.route_lookup = self._first_hop
        #: Drop frames whose source MAC is ours (IFF_SIMPLEX, seed §1.2).
        self.drop_own_frames = True
        #: Take NS/NA frames through ``_core.nd6_input`` (see ``_nd6_input``);
        #: off, every frame takes the general path (the tests compare both).
        self.nd6_fastpath = True
        # ifname -> (the group set it was made from, the groups as ints), for
        # _nd6_input: IPv6Address hashing is Python code
        self._group_ints: dict[str, tuple[set[IPv6Address], frozenset[int]]] = {}
        self._out: list[Frame] = []
        self._now = 0.0
        #: IPsec (``kame.key.ipsec6.Ipsec6``: SPD, SAD, ipsec6 stats); see attach_key().
        self.key: Ipsec6 | None = None
        #: TCP (issue 9): connections, SYN queue, timers (:mod:`kame.tcp`).
        self.tcp = Tcp(self)
        #: IPv4 and ARP (:mod:`kame.inet`): frames of type 0x0800/0x0806 go there.
        self.inet = Inet(self)
        #: gif tunnels and the 6to4 interface (:mod:`kame.gif`, :mod:`kame.stf`).
        self.gif = Gif(self)
        #: FAITH relay prefixes (:mod:`kame.faith`; ``net.inet6.ip6.keepfaith``).
        self.faith_prefixes: list[IPv6Network] = []
        #: Mobile IPv6 correspondent node (:mod:`kame.mip6`,
        #: ``net.inet6.mip6.correspondent``); ``_mip6_bc`` its binding cache,
        #: which ``output`` tests per packet for route optimization.
        self.mip6 = Mip6Cn(self)
        self._mip6_bc = self.mip6.bc.entries
        #: ALTQ (seed §5, :mod:`kame.altq`): the output queues of the interfaces
        #: under it (``altq_config``); ``None``, every frame leaves at once.
        self.altq: Altq | None = None

    def add_interface(self, name: str, mac: bytes | None = None, *,
                      type: IfType = IfType.ETHER, mtu: int = 1500) -> Ifnet:
        """``ifconfig NAME create``: a new interface, down. ``mac`` is its
        link-layer address: 6 octets (EUI-48) or 8 (EUI-64), or ``None`` (no
        hardware address: KAME borrows one or falls back to MD5(hostname),
        §1.4.1); ``mtu`` at least the IPv6 minimum link MTU, 1280 (RFC 8200
        §5), at most 2**32 - 1. An existing name is a ``ConfigError``."""
        if not isinstance(name, str):
            raise TypeError(f"an interface name is a str, not {builtins.type(name).__name__}")
        if not name or len(name) > 15 or not name.isprintable() or "%" in name or \
                any(c.isspace() for c in name):
            raise ConfigError(f"interface name {name!r}: 1-15 printable characters, no "
                              "space or %", layer="ifnet")
        if name in self.ifnets:
            raise ConfigError(f"interface {name!r} exists", layer="ifnet")
        if mac is not None:
            if not isinstance(mac, (bytes, bytearray, memoryview)):
                raise TypeError(f"mac is bytes or None, not {builtins.type(mac).__name__}")
            mac = bytes(mac)
            if len(mac) not in (6, 8):
                raise ConfigError(f"mac: a link-layer address is 6 octets (EUI-48) or 8 "
                                  f"(EUI-64), not {len(mac)}", layer="ifnet")
        try:
            type = IfType(type)
        except ValueError:
            raise ConfigError(f"type {type!r} is not one of {[t.name for t in IfType]}",
                              layer="ifnet") from None
        if not isinstance(mtu, int) or isinstance(mtu, bool):
            raise TypeError(f"mtu is an int, not {builtins.type(mtu).__name__}")
        if not 1280 <= mtu <= 0xFFFFFFFF:
            raise RangeError(f"{mtu} out of range 1280-{0xFFFFFFFF} (RFC 8200 §5)",
                             argument="mtu", low=1280, high=0xFFFFFFFF, value=mtu)
        idx = self.zones.add(name)
        ifp = Ifnet(name, idx, type, mac, mtu)
        self.ifnets[name] = ifp
        self.groups[name] = set()
        self.cache.attach(name, 0.0, addrlen=ifp.addrlen, flags=ifp.flags)
        self._ifgen += 1
        return ifp

    def up(self, name: str, now: float) -> list[Frame]:
        """``ifconfig NAME up``: link-local address, groups, DAD, RS."""
        ifp = self._ifnet(name)
        now = self._time(now)
        self._now = now
        ifp.up = True
        self._ifgen += 1
        self.cache.info(name).recalc(now, self.rng)
        res = in6_ifattach(ifp, self.ifnets.values(), hostname=self.hostname,
                           router=self.knobs.forwarding,
                           auto_linklocal=bool(self.knobs["net.inet6.ip6.auto_linklocal"]),
                           now=now)
        if res.ifid is not None:
            self.ifids[name] = res.ifid
        for g in res.groups:
            self.join(name, g, now)
        for ifa in res.addresses:
            self.addrs.add(ifa)
            delay = self.rng.uniform(0.0, MAX_RTR_SOLICITATION_DELAY)
            self._handle(self.nbr.dad_start(ifa, now, delay), now)
        self._handle(self.rtr.start_rs(name, now), now)
        mn = self.mip6.mn
        if mn is not None and name == mn.ifname:
            mn.link_attached(now)  # RFC 6275 §11.5.1: RS at once, NUD of the old router
        self.inet.if_up(name, now)  # RFC 5227 probes of its IPv4 addresses
        return self._flush()

    def add_address(self, name: str, cidr: str, now: float, *, anycast: bool = False) -> In6Ifaddr:
        """``ifconfig NAME inet6 ADDR[/LEN] [anycast]``: joins the solicited-node
        group and runs DAD. ``ADDR`` is unicast, never in the embedded form;
        a zone, if written (``fe80::5%eth0/64``), must be ``NAME``'s."""
        self._ifnet(name)
        now = self._time(now)
        if isinstance(cidr, IPv6Interface):
            cidr = str(cidr)
        if not isinstance(cidr, str):
            raise TypeError(f"an address is a str like '2001:db8::1/64', not "
                            f"{builtins.type(cidr).__name__}")
        text, sep, plen_text = cidr.partition("/")
        addr, _ = self._user_addr(text, name)
        if sep and not (plen_text.isascii() and plen_text.isdigit() and int(plen_text) <= 128):
            raise ConfigError(f"{cidr!r}: prefix length 0-128", layer="ifnet")
        plen = int(plen_text) if sep else 128
        if addr.is_multicast or addr.is_unspecified:
            raise ConfigError(f"{cidr!r}: not a unicast address", layer="ifnet")
        flags = In6Flags.ANYCAST if anycast else In6Flags.TENTATIVE
        ifa = self.addrs.add(In6Ifaddr(addr, plen, name, flags, created=now))
        self.join(name, solicited_node(addr), now)
        self._handle(self.nbr.dad_start(ifa, now), now)
        return ifa

    def add_address4(self, name: str, cidr: str, now: float) -> InIfaddr:
        """``ifconfig NAME inet ADDR/LEN`` (:meth:`kame.inet.Inet.add_address`):
        RFC 5227 probes, then gratuitous ARP."""
        self._now = now
        return self.inet.add_address(name, cidr, now)

    def ping4(self, dst: str | IPv4Address, now: float, *, ident: int = 0x4B4D, seq: int = 0,
              data: bytes = b"kame", df: bool = False,
              src: str | IPv4Address | None = None) -> list[Frame]:
        """Send one ICMP Echo Request (``ping [-S SRC]``); replies come as
        :class:`kame.inet.EchoReply4` events."""
        self._now = now
        self.inet.ping(IPv4Address(dst), now, ident=ident, seq=seq, data=data, df=df,
                       src=IPv4Address(src) if src is not None else None)
        return self._flush()

    def join(self, name: str, group: IPv6Address, now: float) -> bool:
        """Join a multicast group for any source; MLD reports follow
        (:mod:`kame.mld6`). False (and ``icp6s_mld_groupfull``) when the
        interface already has ``net.inet6.ip6.mcast_maxgroups`` groups."""
        group = self._group(name, group)
        gs = self.groups[name]
        if group in self.mld._st(name).groups:
            return True
        if group not in gs and len(gs) >= self.knobs._values["net.inet6.ip6.mcast_maxgroups"]:
            self.stats.inc("icp6s_mld_groupfull")
            return False
        gs.add(group)
        self._group_ints.pop(name, None)
        self._handle(self.mld.join(name, group, now), now)
        return True

    def leave(self, name: str, group: IPv6Address, now: float) -> None:
        """Leave a group joined for any source (members with a source
        filter stay)."""
        group = self._group(name, group)
        if group in self.mld._st(name).groups:
            self._handle(self.mld.leave(name, group, now), now)
            if group not in self.mld.groups(name):
                self.groups[name].discard(group)
                self._group_ints.pop(name, None)

    def setsourcefilter(self, name: str, group: IPv6Address, owner: object, mode: int,
                        sources: Iterable[IPv6Address], now: float,
                        drop_any: bool = False) -> int:
        """Set ``owner``'s (a socket's) source filter for ``group`` on
        ``name`` (``in6_mcast.c``'s ``in6p_set_source_filters``; mode
        MCAST_INCLUDE 1 or MCAST_EXCLUDE 2, INCLUDE({}) takes it away;
        ``drop_any``: the node's any-source membership (:meth:`join`) goes in
        the same change): 0, or
        ``ENOBUFS`` past ``net.inet6.ip6.mcast_maxgroups`` or
        ``net.inet6.ip6.mcast.maxgrpsrc`` (counted), ``EINVAL``. The
        interface's filter changes with it and MLD reports the change."""
        group = self._group(name, group)
        gs = self.groups[name]
        if group not in gs and len(gs) >= self.knobs._values["net.inet6.ip6.mcast_maxgroups"]:
            self.stats.inc("icp6s_mld_groupfull")
            return errno.ENOBUFS
        e, acts = self.mld.setfilter(name, group, owner, mode, sources, now, bool(drop_any))
        if e:
            return e
        if group in self.mld.groups(name):
            gs.add(group)
        else:
            gs.discard(group)
        self._group_ints.pop(name, None)
        self._handle(acts, now)
        return 0

    def _group(self, name: str, group: object) -> IPv6Address:
        """A multicast group from a user, on interface ``name``."""
        if type(group) is not IPv6Address or group.scope_id is not None or \
                is_embedded_form(group) or name not in self.ifnets:
            group = self._user_addr(group, name, what="group")[0]
        if not group.is_multicast:
            raise ConfigError(f"{group} is not a multicast address", layer="mld6")
        return group

    # --- sans-I/O surface ---------------------------------------------------

    def next_deadline(self) -> float | None:
        t = self._timers_deadline()
        if self._out:  # frames a socket call queued wait for poll()
            return self._now if t is None else min(t, self._now)
        return t

    def _timers_deadline(self) -> float | None:
        """The earliest of the timer owners' deadlines."""
        ts = [t for t in (self.cache.next_deadline(), self.nbr.next_deadline(),
                          self.rtr.next_deadline(), self.mld.next_deadline(),
                          self._mldr_deadline(),
                          self.reass.next_deadline(), self._pmtu_deadline(),
                          self.inet.next_deadline()) if t is not None]
        if self.key is not None and (kt := self.key.next_deadline()) is not None:
            ts.append(kt)  # SA lifetimes (key_timehandler)
        if (tt := self.tcp.next_deadline()) is not None:
            ts.append(tt)  # TCP timers (tcp_timer.c)
        if (self._mip6_bc or self.mip6.ha or self.mip6.mn) and \
                (mt := self.mip6.next_deadline()) is not None:
            ts.append(mt)  # binding lifetimes (kame.mip6)
        return min(ts) if ts else None

    def _gate_due(self) -> float:
        """The gate after a full poll: the earliest deadline, exact."""
        t = self._timers_deadline()
        return math.inf if t is None else t

    def poll(self, now: float) -> list[Frame]:
        if type(now) is not float:
            now = self._time(now)
        self._now = now
        if now < self.gate.due and \
                (self.knobs.gen, self.addrs.gen, self._ifgen) == self._mldr_synced:
            # no timer is due (the gate) and where the queriers run is
            # unchanged (_mcast_key): only frames queued meanwhile, and
            # those ALTQ's queues let out by now
            return self._flush() if self._out or self.altq is not None else []
        # (each timer's actions handled when there are any: most polls find none)
        handle = self._handle
        a: list[Any]
        if a := self.nbr.poll(now):
            handle(a, now)
        if a := self.cache.poll(now):
            handle(a, now)
        if a := self.rtr.poll(now):
            handle(a, now)
        if a := self.mld.poll(now):
            handle(a, now)
        if (self.knobs.gen, self.addrs.gen, self._ifgen) != self._mldr_synced:  # _mcast_key
            self._mldr_sync(now)
        if a := self.mldr.poll(now):
            handle(a, now)
        self.frag6_slowtimo(now)
        self._pmtu_expire(now)
        self.inet.poll(now)  # ARP, RFC 5227, IPv4 reassembly and path MTU timers
        if self.key is not None:
            self.key.timehandler(self, now)
        self.tcp.poll(now)
        self.mip6.poll(now)
        self.gate.due = self._gate_due()
        return self._flush()

    def receive(self, ifname: str, frame: bytes, now: float) -> list[Frame]:
        if ifname not in self.ifnets:
            self._ifnet(ifname)
        if type(now) is not float:
            now = self._time(now)
        self._now = now
        if frame[12:13] == b"\x08" and frame[13:14] in (b"\x00", b"\x06"):
            self.inet.ether_input(ifname, frame, now)  # IPv4 or ARP (kame.inet)
        else:
            self.ip6_input(ifname, frame, now)
        return self._flush()

    def receive_many(self, ifname: str, frames: Iterable[bytes], now: float) -> list[Frame]:
        """:meth:`receive` for each frame in turn, all at ``now``; the NS/NA
        frames among them are parsed in one core call
        (``_core.nd6_input_many``). Returns every frame to transmit."""
        self._ifnet(ifname)
        now = self._time(now)
        self._now = now
        frames = _frames(frames)
        self.tcp.batch_begin()  # one ACK per connection for the batch
        try:
            self._receive_many(ifname, frames, now)
        finally:
            self.tcp.batch_end(now)
        return self._flush()

    def _receive_many(self, ifname: str, frames: list[bytes], now: float) -> None:
        if any(f[12:13] == b"\x08" for f in frames):  # IPv4 and ARP go to kame.inet
            for f in frames:
                if f[12:13] == b"\x08" and f[13:14] in (b"\x00", b"\x06"):
                    self.inet.ether_input(ifname, f, now)
            frames = [f for f in frames if not (f[12:13] == b"\x08" and f[13:14] in
                                                (b"\x00", b"\x06"))]
        ifp = self.ifnets.get(ifname)
        if ifp is None or not ifp.up or not self.nd6_fastpath:
            for f in frames:
                self.ip6_input(ifname, f, now)
            return
        kv = self.knobs._values  # plain dict reads on the per-packet path
        nds = _core.nd6_input_many(frames, kv["net.inet6.ip6.hdrnestlimit"],
                                   kv["net.inet6.icmp6.nd6_maxndopt"],
                                   ifp.lladdr if self.drop_own_frames else None)
        tcp = self.tcp
        # TCP's fast path (BSD's pcb demultiplexing straight from the link,
        # for a burst of segments of known address pairs): off with a key
        # engine (the SPD may look at ports) or a replaced tcp6_input
        fast: dict[bytes, Any] | None = {} if self.tcp_fastpath and self.key is None and \
            "tcp6_input" not in self.__dict__ else None
        sc = self.stats._c  # the counters' table: two counts per segment
        fast_input = tcp.tcp6_fast_input
        for f, nd in zip(frames, nds):
            if fast is not None and nd is None and type(f) is bytes and \
                    f[12:14] == b"\x86\xdd" and len(f) >= 74 and f[20] == 6 and f[14] >> 4 == 6:
                # IPv6 without extension headers, TCP: the general path has
                # already judged these addresses on this link in this batch
                # (in6_clearscope, check_wire_addresses, the core's §1.14
                # checks, ours and not tentative, tcp6_input's multicast
                # rules): what is left of ip6_validate is the length
                k = f[:14] + f[22:54]
                v = fast.get(k)
                plen = (f[18] << 8) | f[19]
                if v is not None and 20 <= plen <= len(f) - 54 and not ifp.flags.disabled:
                    sc["ip6s_total"] += 1
                    sc["ip6s_delivered"] += 1
                    fast_input(v, plen, f, now)
                    continue
                fast.clear()
                tcp._fastkey, tcp._fast = k, fast
                try:
                    self.ip6_input(ifname, f, now, False)
                finally:
                    tcp._fastkey = None
                continue
            if fast:
                fast.clear()  # other traffic between: judge the addresses again
            if nd is None or ifp.flags.disabled or not self._nd6_input(ifname, nd, now):
                self.ip6_input(ifname, f, now, False)

    def _flush(self) -> list[Frame]:
        """The frames to transmit, at the last stage of every output path:
        ``in6_clearscope``'s check (§1.3.1) drops any IPv6 frame whose source
        or destination is in the embedded form (``ip6s_badscope``; no user
        entry point lets one in, so this is an assertion that counts), and
        ``icp6s_outhist`` counts the ICMPv6 type of each frame sent."""
        out, self._out = self._out, []
        hist = self.stats.outhist
        dropped = 0
        for _ifn, f in out:
            n = len(f)
            if n >= 54 and f[12] == 0x86 and f[13] == 0xDD:
                # (the first octet screens out every address but fe80::/10
                # and ff00::/8 before the call)
                if ((f[24] or f[25]) and f[22] >= 0xFE and _embeddable_at(f, 22)) or \
                        ((f[40] or f[41]) and f[38] >= 0xFE and _embeddable_at(f, 38)):
                    dropped += 1
                    continue
                if n == 54:
                    continue
                nh = f[20]
                if nh == 58:
                    t = f[54]
                elif n > 62 and nh == 0 and f[54] == 58:  # MLD behind a Hop-by-Hop header
                    t = f[62]
                elif n > 62 and nh == 44 and f[54] == 58 and f[56] == 0 and f[57] & 0xF8 == 0:
                    t = f[62]  # first fragment
                else:
                    continue
                hist[t] = hist.get(t, 0) + 1
        if dropped:
            self.stats.inc("ip6s_badscope", dropped)
            out = [(i, f) for i, f in out if not (
                len(f) >= 54 and f[12] == 0x86 and f[13] == 0xDD and (
                    ((f[24] or f[25]) and _embeddable_at(f, 22))
                    or ((f[40] or f[41]) and _embeddable_at(f, 38))))]
        return out

    # --- ALTQ (seed §5) -------------------------------------------------------

    def altq_config(self, text: str) -> AltqConf:
        """Put the interfaces altq.conf(5) ``text`` names under ALTQ
        (:mod:`kame.altq.conf`; :class:`~kame.errors.AltqConfError` with the
        line for a line that cannot be taken or names no interface here).
        Interfaces already under ALTQ and not in ``text`` keep their queues."""
        from kame.altq import Altq, parse_altq_conf

        mtu = max((i.mtu for i in self.ifnets.values()), default=1500) + 14
        conf = parse_altq_conf(text, mtu=mtu, rng=self.rng)
        for ifn, line in conf.lines.items():
            if ifn not in self.ifnets:
                raise AltqConfError(f"no interface {ifn}", line=line)
        if self.altq is None:
            self.altq = Altq()
            # the node's own paths stay as they are while no interface is
            # under ALTQ: these instance attributes put the queues in them
            self._flush = self._altq_flush  # type: ignore[method-assign]
            self.next_deadline = self._altq_next_deadline  # type: ignore[method-assign]
        for q in conf.ifs.values():
            self.altq.attach(q)
        return conf

    def _altq_flush(self) -> list[Frame]:
        """``_flush``, then if_output's ``IFQ_ENQUEUE``: the frames of the
        interfaces under ALTQ go to their queues, and what the queues let
        out by now leaves."""
        out = type(self)._flush(self)
        return self.altq.output(out, self._now) if self.altq is not None else out

    def _altq_next_deadline(self) -> float | None:
        """``next_deadline`` with the time the queues let their next frame out."""
        t = type(self).next_deadline(self)
        if self.altq is not None and (at := self.altq.next_deadline(self._now)) is not None:
            return at if t is None or at < t else t
        return t

    def altq_disable(self, ifname: str) -> int:
        """``altq_disable``: ``ifname`` leaves ALTQ; its queued frames are
        purged (counted); the number purged."""
        if self.altq is None:
            return 0
        n = self.altq.detach(ifname)
        if not self.altq.ifs:
            self.altq = None
            del self._flush, self.next_deadline  # the class's paths again
        return n

    # --- ifconfig down --------------------------------------------------------

    def down(self, name: str, now: float) -> list[Frame]:
        """``ifconfig NAME down``: detach the interface's addresses, leave its
        groups, flush its neighbor cache, the routers, prefixes, routes and
        redirects learnt there, and cancel its timers (DAD, RS, RA, MLD)."""
        ifp = self._ifnet(name)
        now = self._time(now)
        self._now = now
        ifp.up = False
        if self.altq is not None:
            self.altq.purge(name)  # if_down's IFQ_PURGE
        self._ifgen += 1
        for ifa in self.addrs.on(name):
            self.nbr.dad_stop(ifa)
            self.addrs.remove(name, ifa.addr)
            self.events.append(Event("address_removed", name, {"addr": ifa.addr}))
        for g in list(self.groups.get(name, ())):
            self.groups[name].discard(g)
            self.mld.leave(name, g, now)  # no report: the link is down
        self.mld._if.pop(name, None)
        self.cache.flush(name)
        self.inet.if_down(name)  # its ARP entries; IPv4 addresses are probed again on up
        self._mldr_sync(now)  # the queriers stop here
        self.inet.igmpr_sync(now)
        for dr in self.rtr.ifdetach(name):
            self.events.append(Event("router_removed", name, {"addr": dr.addr}))
        return self._flush()

    # --- the MLD querier ----------------------------------------------------

    def _mldr_wanted(self, name: str) -> IPv6Address | None:
        """The link-local address the querier runs with on ``name``, when it
        should run there: ``net.inet6.mld.querier`` 2, or 1 on a router
        (``net.inet6.ip6.forwarding``); the interface up, multicast, with a
        usable link-local address."""
        q = self.knobs._values["net.inet6.mld.querier"]
        if q == 0 or (q == 1 and not self.knobs.forwarding):
            return None
        ifp = self.ifnets.get(name)
        if ifp is None or not ifp.up or ifp.type != IfType.ETHER or ifp.flags.disabled:
            return None  # MLD runs on multicast links (no tunnels, loopback)
        return self._linklocal(name)

    def ifstate_changed(self) -> None:
        """Something the queriers' placement depends on changed outside the
        node's own paths (an ND flag set by ``ndp -i``, an IPv4 address's
        RFC 5227 state): they look again at the next poll."""
        self._ifgen += 1

    def _mcast_key(self) -> tuple[int, int, int]:
        return (self.knobs.gen, self.addrs.gen, self._ifgen)

    def _mldr_sync(self, now: float) -> None:
        key = self._mcast_key()
        if key == self._mldr_synced:
            return
        self._mldr_synced = key
        for name in self.ifnets:
            me = self._mldr_wanted(name)
            if me is None:
                if self.mldr.running(name):
                    self.mldr.stop(name)
            else:
                self.mldr.start(name, me, now)

    def _mldr_deadline(self) -> float | None:
        if self._mldr_synced != self._mcast_key():
            q = self.knobs._values["net.inet6.mld.querier"]
            if self.mldr._if or q == 2 or (q == 1 and self.knobs.forwarding):
                return self._now  # the querier may start or stop: the next poll looks
        return self.mldr.next_deadline()

    def _mld_query_output(self, a: SendMldQuery) -> None:
        src = self._linklocal(a.ifname)
        if src is None:
            return
        dst = LINKLOCAL_ALL_NODES if int(a.group) == 0 else a.group
        q = _core.MldQuery(a.max_resp, a.group, a.v2, a.suppress, a.qrv, a.qqic,
                           list(a.sources))
        self._emit_mcast(a.ifname, dst, self._mld_packet(src, dst, q))

    # --- actions from the state machines ------------------------------------

    def _handle(self, actions: Iterable[Any], now: float) -> None:
        for a in actions:
            if type(a) is SendNA:  # the answer to every NS comes first
                src = a.src if a.src is not None else self._source_for(a.ifname, a.dst, nd=True)
                if src is not None:
                    self.output(a.ifname, codec.build_na(a, src, self.ifnets[a.ifname].lladdr),
                                now, a.dst)
            elif isinstance(a, SendMldReport):
                self._mld_output(a)
            elif isinstance(a, SendMldQuery):
                self._mld_query_output(a)
            elif isinstance(a, SendNS):
                src = a.src if a.src is not None else self._ns_source(a.ifname, a.target)
                if src is None:
                    continue
                pkt = codec.build_ns(a, src, self.ifnets[a.ifname].lladdr)
                if a.dst_lladdr is not None:
                    ifp = self.ifnets[a.ifname]
                    self.stats.inc("ip6s_localout")
                    self._out.append((a.ifname, codec.ether(a.dst_lladdr, ifp.lladdr or bytes(6),
                                                            pkt)))
                else:
                    self._emit_mcast(a.ifname, a.dst, pkt)
            elif isinstance(a, SendNA):
                src = a.src if a.src is not None else self._source_for(a.ifname, a.dst, nd=True)
                if src is None:
                    continue
                self.output(a.ifname, codec.build_na(a, src, self.ifnets[a.ifname].lladdr), now)
            elif isinstance(a, SendRS):
                self._emit_mcast(a.ifname, IPv6Address("ff02::2"),
                                 codec.build_rs(a, self.ifnets[a.ifname].lladdr))
            elif isinstance(a, SendRA):
                src = self._linklocal(a.ifname)
                if src is not None:
                    self._emit_mcast(a.ifname, a.dst,
                                     codec.build_ra(a, src, self.ifnets[a.ifname].lladdr))
            elif isinstance(a, DeliverQueued):
                # (ifname, packet[, linkmtu]): Ip6Output.output's hold
                for held in a.packets:
                    self.stats.inc("ip6s_localout")
                    self._ether_out(a.ifname, a.lladdr, held[1], linkmtu=len(held) > 2)
            elif isinstance(a, DropQueued):
                for held in a.packets:
                    pkt = held[1]
                    src, dst = IPv6Address(pkt[8:24]), IPv6Address(pkt[24:40])
                    if self.addrs.find_any(src) is not None:
                        self.events.append(Event("unreachable", a.ifname, {"dst": dst}))
                        continue
                    self.icmp6_error(a.ifname, pkt, src, dst, pkt[6], None, ICMP6_DST_UNREACH,
                                ICMP6_DST_UNREACH_ADDR, now)
            elif isinstance(a, AddressReady):
                self.events.append(a)
                self._ifgen += 1
            elif isinstance(a, AddressDuplicated):
                self._ifgen += 1
                self.events.append(a)
                ifa = self.addrs.find(a.ifname, a.addr)
                if ifa is not None:
                    self._handle(self.rtr.on_duplicated(ifa, now), now)
                    self._addr_gone(a.ifname, a.addr, now)
            elif isinstance(a, AddressExpired):
                self._ifgen += 1
                self.events.append(a)
                self._addr_gone(a.ifname, a.addr, now)
            elif isinstance(a, InterfaceDisabled):
                self._ifgen += 1
                self.events.append(a)
                self.cache.flush(a.ifname)
            elif isinstance(a, NeighborUnreachable):
                self.events.append(a)
                if a.is_router:
                    self.rtr.select_default_router()
                    if self.mip6.mn is not None:
                        self.mip6.mn.router_unreachable(a.ifname, a.addr, now)
            elif isinstance(a, Event) and a.kind == "address_added":
                self.events.append(a)
                self.join(a.ifname, solicited_node(a.data["addr"]), now)
            else:
                self.events.append(a)

    def _ns_source(self, ifname: str, target: IPv6Address) -> IPv6Address | None:
        """The source of an address-resolution or NUD solicitation (RFC 4861
        §7.2.2, KAME ``nd6_ns_output``): the source of the packet waiting
        for the answer when it is a usable address of ``ifname``, else what
        source selection picks for the target."""
        ln = self.cache.lookup(ifname, target)
        if ln is not None and ln.hold:
            pkt = ln.hold[-1][1]
            if len(pkt) >= 40:
                ifa = self.addrs.find(ifname, IPv6Address(pkt[8:24]))
                if ifa is not None and ifa.usable:
                    return ifa.addr
        return self._source_for(ifname, target, nd=True)

    def _addr_gone(self, ifname: str, addr: IPv6Address, now: float) -> None:
        """An address left ``ifname``: leave its solicited-node group unless
        another address of the interface shares it (so groups come and go
        with the addresses, bounded by ``max_addresses``)."""
        if self.addrs.find(ifname, addr) is not None:
            return
        g = solicited_node(addr)
        if all(solicited_node(ifa.addr) != g for ifa in self.addrs.on(ifname)):
            self.leave(ifname, g, now)

    # --- IPsec (seed §4) -----------------------------------------------------------

    def attach_key(self) -> Ipsec6:
        """Give the node an SPD and SAD (``node.key``, :class:`kame.key.ipsec6.Ipsec6`);
        configure it with ``kame.key.setkey.run(text, node.key.engine, now)``."""
        if self.key is None:
            from kame.key.ipsec6 import Ipsec6
            self.key = Ipsec6(self.knobs)
            self.key.sad.gate = self.gate  # SA lifetimes and events lower it
            self.gate.open()
        return self.key

    # --- views ----------------------------------------------------------------

    def addresses(self, ifname: str | None = None) -> list[In6Ifaddr]:
        """The addresses of ``ifname`` (every interface's with ``None``)."""
        if ifname is None:
            return self.addrs.all()
        self._ifnet(ifname)
        return self.addrs.on(ifname)

    def drain_events(self) -> list[Any]:
        out = list(self.events)
        self.events.clear()
        return out
