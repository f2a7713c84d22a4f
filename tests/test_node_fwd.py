"""A router between two memory links under a simulated clock: ip6_forward
(hop limit, Time Exceeded, beyond scope, no route, Packet Too Big,
Redirect), frag6 reassembly and its timeout, Path MTU Discovery with
output fragmentation, ICMPv6 errors as events, interface down, source
selection in the node, and counters from structured core errors."""

from __future__ import annotations

import shutil
import subprocess
from ipaddress import IPv4Address
from ipaddress import IPv6Address as A
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kame import _core
from kame.addr import ether_multicast
from kame.in6_var import In6Flags
from kame.knobs import Knobs
from kame.link.memory import MemoryLink, Simulation
from kame.link.pcap import PcapWriter
from kame.nd6 import codec
from kame.nd6.rtr import RaConfig
from kame.nd6.types import PrefixInfo
from kame.node import EchoReply, Icmp6ErrorInput, Node, PathMtuChanged

MA, MR0, MR1, MB, MC = (bytes.fromhex(x) for x in (
    "02000000000a", "0200000000f0", "0200000000f1", "02000000000b", "02000000000c"))
LL_R0 = A("fe80::ff:fe00:f0")
LL_C = A("fe80::ff:fe00:c")
RA0, RB1 = A("2001:db8:a::1"), A("2001:db8:b::1")
HA, HB, HC = A("2001:db8:a::2"), A("2001:db8:b::2"), A("2001:db8:c::1")


class Net:
    """A --link1-- R --link2-- B (and optionally router C on link1)."""

    def __init__(self, *, mtu2: int = 1500, kr: dict[str, int] | None = None,
                 ka: dict[str, int] | None = None, with_c: bool = False) -> None:
        self.sim = sim = Simulation()
        self.l1, self.l2 = MemoryLink(delay=0.001), MemoryLink(delay=0.001)
        self.frames1: list[bytes] = []
        self.frames2: list[bytes] = []
        self.l1.add_tap(lambda t, f: self.frames1.append(f))
        self.l2.add_tap(lambda t, f: self.frames2.append(f))
        self.r = Node("r", knobs=Knobs({"net.inet6.ip6.forwarding": 1, **(kr or {})}), seed=3)
        self.a = Node("a", knobs=Knobs(ka or {}), seed=1)
        self.b = Node("b", seed=2)
        self.r.add_interface("eth0", MR0)
        self.r.add_interface("eth1", MR1, mtu=mtu2)
        self.a.add_interface("eth0", MA)
        self.b.add_interface("eth0", MB, mtu=mtu2)
        sim.connect(self.r, "eth0", self.l1, MR0)
        sim.connect(self.r, "eth1", self.l2, MR1)
        sim.connect(self.a, "eth0", self.l1, MA)
        sim.connect(self.b, "eth0", self.l2, MB)
        nodes = [(self.r, "eth0"), (self.r, "eth1"), (self.a, "eth0"), (self.b, "eth0")]
        if with_c:
            self.c = Node("c", knobs=Knobs({"net.inet6.ip6.forwarding": 1}), seed=4)
            self.c.add_interface("eth0", MC)
            sim.connect(self.c, "eth0", self.l1, MC)
            nodes.append((self.c, "eth0"))
        for n, i in nodes:
            sim.emit(n, n.up(i, 0.0))
        self.r.add_address("eth0", "2001:db8:a::1/64", 0.0)
        self.r.add_address("eth1", "2001:db8:b::1/64", 0.0)
        self.a.add_address("eth0", "2001:db8:a::2/64", 0.0)
        self.b.add_address("eth0", "2001:db8:b::2/64", 0.0)
        self.a.route_add("::/0", LL_R0, "eth0")
        self.b.route_add("::/0", A("fe80::ff:fe00:f1"), "eth0")
        if with_c:
            self.c.add_address("eth0", "2001:db8:a::3/64", 0.0)
            self.c.add_interface("lo0")
            self.c.add_address("lo0", "2001:db8:c::1/64", 0.0)
            self.c.ifnets["lo0"].up = True
            self.c.addrs.find("lo0", HC).flags &= ~In6Flags.TENTATIVE
            self.r.route_add("2001:db8:c::/64", LL_C, "eth0")
        sim.run(until=3.0)
        for n in (self.a, self.b, self.r):
            n.drain_events()

    def ping(self, node: Node, dst: A, until: float, **kw: object) -> list[EchoReply]:
        self.sim.emit(node, node.ping(dst, self.sim.now, **kw))  # type: ignore[arg-type]
        self.sim.run(until=self.sim.now + until)
        return [e for e in node.events if isinstance(e, EchoReply)]


def ip6(frame: bytes) -> bytes:
    assert frame[12:14] == b"\x86\xdd"
    return frame[14:]


def test_forward_ping_through_the_router() -> None:
    n = Net()
    replies = n.ping(n.a, HB, 2.0, seq=5, data=b"through")
    assert [(e.src, e.seq, e.data) for e in replies] == [(HB, 5, b"through")]
    assert n.r.stats["ip6s_forward"] == 2
    # the request left R on link2 with its hop limit decremented
    echo = [ip6(f) for f in n.frames2 if ip6(f)[6] == 58 and ip6(f)[40] == 128]
    assert echo and echo[0][7] == 63
    assert n.r.stats["ip6s_localout"] == n.r.stats["ip6s_localout"]  # forwarded are not local
    assert n.r.rtalloc(HB, n.sim.now) == ("eth1", HB, False, False)


def test_time_exceeded_on_hop_limit_one() -> None:
    n = Net()
    n.a.cache.info("eth0").chlim = 1
    n.ping(n.a, HB, 2.0)
    errs = [e for e in n.a.drain_events() if isinstance(e, Icmp6ErrorInput)]
    assert [(e.type, e.code, e.reporter, e.dst) for e in errs] == [(3, 0, RA0, HB)]
    assert n.r.stats.outhist.get(3) == 1 and n.r.stats["ip6s_forward"] == 0
    assert "\t\ttime exceed: 1" in n.r.stats.render("icp6s")
    assert not [f for f in n.frames2 if ip6(f)[6] == 58 and ip6(f)[40] == 128]


def _echo_packet(src: A, dst: A, hlim: int = 64, size: int = 8) -> bytes:
    return codec.build_icmp6_packet(src, dst, _core.Icmpv6Echo(128, 1, 1, bytes(size)), hlim)


def test_beyond_scope_and_scoped_packets_are_not_forwarded() -> None:
    n = Net()
    lla = n.a.addresses("eth0")[0].addr
    assert lla.is_link_local
    t = n.sim.now
    # link-local source leaving its zone: Destination Unreachable code 2
    n.sim.emit(n.a, (n.a.output("eth0", _echo_packet(lla, HB), t, LL_R0), n.a._flush())[1])
    n.sim.run(until=t + 1.0)
    errs = [e for e in n.a.drain_events() if isinstance(e, Icmp6ErrorInput)]
    assert [(e.type, e.code) for e in errs] == [(1, 2)]
    assert n.r.stats["ip6s_badscope"] == 1 and n.r.stats["ip6s_cantforward"] == 1
    # unspecified source, link-local destination: dropped, nothing sent
    before = len(n.frames2)
    for pkt in (_echo_packet(A("::"), HB), _echo_packet(HA, A("fe80::99"))):
        n.r.receive("eth0", codec.ether(MR0, MA, pkt), n.sim.now)
    assert n.r.stats["ip6s_cantforward"] == 3 and len(n.frames2) == before
    assert n.r.stats["ip6s_forward"] == 0


def test_no_route_gives_destination_unreachable_code_0() -> None:
    n = Net()
    n.ping(n.a, A("2001:db8:ffff::1"), 2.0)
    errs = [e for e in n.a.drain_events() if isinstance(e, Icmp6ErrorInput)]
    assert [(e.type, e.code) for e in errs] == [(1, 0)]
    assert n.r.stats["ip6s_noroute"] == 1


def test_host_does_not_forward() -> None:
    n = Net()
    n.a.receive("eth0", codec.ether(MA, MB, _echo_packet(HB, A("2001:db8:9::9"))), n.sim.now)
    assert n.a.stats["ip6s_cantforward"] == 1 and n.a.stats["ip6s_forward"] == 0


def test_packet_too_big_then_pmtu_and_fragmentation() -> None:
    # KAME holds one packet per unresolved neighbor; two fragments need two
    n = Net(mtu2=1280, kr={"net.inet6.icmp6.nd6_maxqueuelen": 2})
    assert n.ping(n.a, HB, 2.0, data=bytes(1400)) == []
    (ch,) = [e for e in n.a.drain_events() if isinstance(e, PathMtuChanged)]
    assert ch == PathMtuChanged(HB, 1280)
    assert n.a.path_mtu("eth0", HB) == 1280 and n.a.stats["icp6s_pmtuchg"] == 1
    assert n.r.stats.outhist.get(2) == 1
    # now A fragments to 1280; R forwards the fragments; B reassembles, answers
    # with fragments of its own (its link MTU is 1280) and A reassembles those
    replies = n.ping(n.a, HB, 2.0, seq=2, data=bytes(range(256)) * 5 + bytes(120))
    assert [(e.seq, len(e.data)) for e in replies] == [(2, 1400)]
    assert replies[0].data == bytes(range(256)) * 5 + bytes(120)
    assert n.a.stats["ip6s_fragmented"] == 1 and n.a.stats["ip6s_ofragments"] == 2
    assert n.b.stats["ip6s_reassembled"] == 1 and n.a.stats["ip6s_reassembled"] == 1
    assert all(len(ip6(f)) <= 1280 for f in n.frames2)
    # RFC 8201: aged out after 10 minutes
    n.sim.run(until=n.sim.now + 601.0)
    assert PathMtuChanged(HB, 1280, expired=True) in n.a.drain_events()
    assert n.a.path_mtu("eth0", HB) == 1500 and not n.a.pmtu


def test_pmtu_never_below_1280_nor_raised_by_a_ptb() -> None:
    n = Net()
    orig = _echo_packet(HA, HB, size=1400)
    for mtu in (600, 1400):
        ptb = _core.Icmpv6Error(2, 0, mtu, orig[:1232])
        pkt = codec.build_icmp6_packet(RA0, HA, ptb, 64)
        n.a.receive("eth0", codec.ether(MA, MR0, pkt), n.sim.now)
    assert n.a.path_mtu("eth0", HB) == 1280
    assert n.a.stats["icp6s_pmtuchg"] == 1
    # a PTB about a packet that is not ours is ignored
    other = _echo_packet(A("2001:db8:a::77"), HB, size=1400)
    pkt = codec.build_icmp6_packet(RA0, HA, _core.Icmpv6Error(2, 0, 1300, other[:1232]), 64)
    n.a.receive("eth0", codec.ether(MA, MR0, pkt), n.sim.now)
    assert A("2001:db8:a::77") not in n.a.pmtu and HB in n.a.pmtu


def test_redirect_to_a_better_router() -> None:
    n = Net(with_c=True)
    replies = n.ping(n.a, HC, 2.0, seq=1)
    assert [e.seq for e in replies] == [1]
    assert n.r.stats["ip6s_redirectsent"] == 1 and n.r.stats.outhist.get(137) == 1
    assert n.a.rtr.redirects[HC].target == LL_C
    assert n.a.rtalloc(HC, n.sim.now) == ("eth0", LL_C, True, True)
    (rd,) = [ip6(f) for f in n.frames1 if ip6(f)[6] == 58 and ip6(f)[40] == 137]
    msg = _core.parse_icmpv6(rd[40:], A(rd[8:24]), A(rd[24:40]))
    assert msg.target == LL_C and msg.destination == HC and rd[7] == 255
    assert A(rd[8:24]) == LL_R0 and A(rd[24:40]) == HA
    assert msg.redirected_header is not None and msg.redirected_header[:40] == \
        next(ip6(f) for f in n.frames1 if ip6(f)[40] == 128)[:40]
    # the second ping goes straight to C's MAC, R forwards nothing more
    fwd = n.r.stats["ip6s_forward"]
    mark = len(n.frames1)
    assert [e.seq for e in n.ping(n.a, HC, 2.0, seq=2)] == [1, 2]
    reqs = [f for f in n.frames1[mark:] if ip6(f)[6] == 58 and ip6(f)[40] == 128]
    assert reqs and all(f[:6] == MC for f in reqs)
    assert n.r.stats["ip6s_forward"] == fwd


def test_redirects_are_rate_limited_and_target_lladdr_when_known() -> None:
    n = Net(with_c=True, kr={"net.inet6.icmp6.errppslimit": 2},
            ka={"net.inet6.icmp6.rediraccept": 0})
    n.ping(n.a, HC, 2.0)  # resolves every neighbor first (hold queues are 1 deep)
    assert n.r.stats["ip6s_redirectsent"] == 1
    for seq in range(5):  # errppslimit=2: a full bucket lets 2 of 5 through
        n.sim.emit(n.a, n.a.ping(HC, n.sim.now, seq=seq))
    n.sim.run(until=n.sim.now + 2.0)
    assert n.r.stats["ip6s_forward"] == 6  # the replies go from C to A directly
    assert n.r.stats["ip6s_redirectsent"] == 3 and n.r.stats["icp6s_toofreq"] == 3
    assert not n.a.rtr.redirects
    n.sim.run(until=n.sim.now + 2.0)
    n.sim.emit(n.a, n.a.ping(HC, n.sim.now, seq=9))
    n.sim.run(until=n.sim.now + 1.0)
    rds = [ip6(f) for f in n.frames1 if ip6(f)[6] == 58 and ip6(f)[40] == 137]
    msg = _core.parse_icmpv6(rds[-1][40:], A(rds[-1][8:24]), A(rds[-1][24:40]))
    assert msg.target_lladdr == MC  # C is resolved by now: Target LLA option


def test_on_link_destination_redirect_targets_itself() -> None:
    """A host whose prefix is only a /128 sends to an on-link neighbor through
    the router; the Redirect's target is the destination itself."""
    n = Net(with_c=True)
    ifa = n.a.addrs.remove("eth0", HA)  # the address list indexes subnets: out, change, in
    assert ifa is not None
    ifa.prefixlen = 128
    n.a.addrs.add(ifa)
    t = A("2001:db8:a::3")
    assert [e.seq for e in n.ping(n.a, t, 2.0, seq=3)] == [3]
    assert n.a.rtr.redirects[t].target == t
    assert n.a.rtr.is_onlink(t, "eth0", n.sim.now)


def test_reassembly_at_the_router_and_reply_fragmented() -> None:
    n = Net()
    data = bytes(range(256)) * 12
    replies = n.ping(n.a, RA0, 2.0, seq=4, data=data)
    assert [(e.seq, e.data) for e in replies] == [(4, data)]
    assert n.r.stats["ip6s_fragments"] == 3 and n.r.stats["ip6s_reassembled"] == 1
    assert n.r.stats["ip6s_fragmented"] == 1 and n.a.stats["ip6s_reassembled"] == 1


def test_reassembly_timeout_sends_time_exceeded_code_1() -> None:
    n = Net()
    pkt = _echo_packet(HA, RA0, size=3000)
    frags = _core.fragment(pkt, 1280, 0x1234)
    assert len(frags) == 3
    t = n.sim.now
    n.sim.emit(n.r, n.r.receive("eth0", codec.ether(MR0, MA, frags[0]), t))
    n.sim.emit(n.r, n.r.receive("eth0", codec.ether(MR0, MA, frags[2]), t))
    assert n.r.next_deadline() is not None and n.r.next_deadline() <= t + 60.0
    n.sim.run(until=t + 59.0)
    assert n.r.stats["ip6s_fragtimeout"] == 0
    n.sim.run(until=t + 62.0)
    assert n.r.stats["ip6s_fragtimeout"] == 2 and n.r.stats["ip6s_fragments"] == 2
    errs = [e for e in n.a.drain_events() if isinstance(e, Icmp6ErrorInput)]
    assert [(e.type, e.code, e.dst) for e in errs] == [(3, 1, RA0)]
    # without the first fragment: dropped silently
    n.sim.emit(n.r, n.r.receive("eth0", codec.ether(MR0, MA, frags[1]), n.sim.now))
    n.sim.run(until=n.sim.now + 61.0)
    assert n.r.stats["ip6s_fragtimeout"] == 3
    assert not [e for e in n.a.drain_events() if isinstance(e, Icmp6ErrorInput)]


def test_interface_down_detaches_everything() -> None:
    n = Net()
    n.ping(n.a, HB, 2.0)
    assert any(ln.ifname == "eth1" for ln in n.r.cache)
    n.r.down("eth1", n.sim.now)
    assert n.r.addresses("eth1") == [] and not n.r.groups["eth1"]
    assert not any(ln.ifname == "eth1" for ln in n.r.cache)
    assert not any(k[0] == "eth1" for k in n.r.nbr.dad)
    assert n.r.rtalloc(HB, n.sim.now) is None
    n.ping(n.a, HB, 2.0, seq=8)
    errs = [e for e in n.a.drain_events() if isinstance(e, Icmp6ErrorInput)]
    assert [(e.type, e.code) for e in errs] == [(1, 0)]
    # nothing leaves a down interface
    dropped = n.r.stats["ip6s_odropped"]
    assert n.r.ping(HB, n.sim.now, ifname="eth1") == []
    assert n.r.stats["ip6s_odropped"] == dropped + 1
    # frames arriving on a down interface are ignored
    total = n.r.stats["ip6s_total"]
    n.r.receive("eth1", codec.ether(MR1, MB, _echo_packet(HB, RB1)), n.sim.now)
    assert n.r.stats["ip6s_total"] == total


def _host_after_ra(**host_knobs: int) -> tuple[Simulation, MemoryLink, Node]:
    """A router ``r`` and a host ``h`` (accept_rtadv, ``host_knobs``) on one
    link; from 2 s ``r`` advertises 2001:db8:5::/64 every 4 s at most; the
    simulation at 20 s, the link and the host."""
    sim = Simulation()
    link = MemoryLink(delay=0.001)
    r = Node("r", knobs=Knobs({"net.inet6.ip6.forwarding": 1}), seed=5)
    h = Node("h", knobs=Knobs({"net.inet6.ip6.accept_rtadv": 1, **host_knobs}), seed=6)
    r.add_interface("eth0", MR0)
    h.add_interface("eth0", MA)
    sim.connect(r, "eth0", link, MR0)
    sim.connect(h, "eth0", link, MA)
    sim.emit(r, r.up("eth0", 0.0))
    sim.emit(h, h.up("eth0", 0.0))
    sim.run(until=2.0)
    r.rtr.advertise("eth0", RaConfig(max_interval=4, prefixes=(PrefixInfo(A("2001:db8:5::"), 64),)),
                    sim.now)
    sim.run(until=20.0)
    return sim, link, h


def test_interface_down_forgets_routers_and_prefixes_and_comes_back() -> None:
    sim, _link, h = _host_after_ra()
    assert h.rtr.routers and h.rtr.prefixes and len(h.addresses("eth0")) == 2
    h.down("eth0", sim.now)
    assert not h.rtr.routers and h.rtr.installed is None and not h.rtr.prefixes
    assert h.addresses() == [] and len(h.cache) == 0
    d = h.next_deadline()
    assert d is None or d > sim.now + 1000  # nothing of eth0 left to time out
    sim.emit(h, h.up("eth0", sim.now))
    sim.run(until=sim.now + 20.0)
    assert h.rtr.routers and any(not a.addr.is_link_local for a in h.addresses("eth0"))


def test_source_selection_in_the_node() -> None:
    n = Net()
    a = n.a
    a.add_address("eth0", "2001:db8:a::99/64", n.sim.now)
    n.sim.run(until=n.sim.now + 3.0)
    # rule 8 tie -> both /64 in common; deprecate one: rule 3 picks the other
    a.addrs.find("eth0", HA).flags |= In6Flags.DEPRECATED
    assert a.in6_selectsrc(HB, "eth0") == A("2001:db8:a::99")
    assert a.in6_selectsrc(A("fe80::1"), "eth0") == a.addresses("eth0")[0].addr
    assert a.in6_selectsrc(A("ff02::1"), "eth0").is_link_local
    a.addrs.find("eth0", A("2001:db8:a::99")).flags |= In6Flags.DEPRECATED
    assert a.in6_selectsrc(HB, "eth0") in (HA, A("2001:db8:a::99"))
    a.knobs["net.inet6.ip6.use_deprecated"] = 0
    assert a.in6_selectsrc(HB, "eth0").is_link_local  # only the link-local is left
    # the ip6addrctl table is the node's
    a.knobs["net.inet6.ip6.use_deprecated"] = 1
    a.addrs.find("eth0", HA).flags &= ~In6Flags.DEPRECATED
    a.addrs.find("eth0", A("2001:db8:a::99")).flags &= ~In6Flags.DEPRECATED
    a.add_address("eth0", "2002:c633:6401::2/64", n.sim.now)
    n.sim.run(until=n.sim.now + 3.0)
    assert a.in6_selectsrc(A("2002:c633:6401::1"), "eth0") == A("2002:c633:6401::2")
    assert a.in6_selectsrc(A("2001:db8:77::1"), "eth0") != A("2002:c633:6401::2")
    a.policy.flush()
    # no labels any more: rule 8 alone (2001:db8:a::2 shares 32 bits with 2001:db8:77::1)
    assert a.in6_selectsrc(A("2001:db8:77::1"), "eth0") in (HA, A("2001:db8:a::99"))


def test_counters_come_from_structured_errors() -> None:
    n = Net()
    r = n.r
    good = _echo_packet(HA, RA0)
    bad_version = bytes([0x40]) + good[1:]
    r.receive("eth0", codec.ether(MR0, MA, bad_version), n.sim.now)
    assert r.stats["ip6s_badvers"] == 1
    r.receive("eth0", codec.ether(MR0, MA, good[:-4]), n.sim.now)
    assert r.stats["ip6s_tooshort"] == 1
    r.receive("eth0", codec.ether(MR0, MA, good[:30]), n.sim.now)
    assert r.stats["ip6s_toosmall"] == 1
    bad_ck = bytearray(good)
    bad_ck[42] ^= 0xFF
    r.receive("eth0", codec.ether(MR0, MA, bytes(bad_ck)), n.sim.now)
    assert r.stats["icp6s_checksum"] == 1
    # an unknown option whose type says "discard and send Parameter Problem"
    hbh = _core.HopByHop([_core.Ipv6Option(0x9E, b"\0\0\0\0")], next_header=58).to_bytes()
    body = good[40:]
    hdr = _core.Ipv6Header(HA, RA0, next_header=0, payload_len=len(hbh) + len(body))
    out = r.receive("eth0", codec.ether(MR0, MA, hdr.to_bytes() + hbh + body), n.sim.now)
    assert r.stats["ip6s_badoptions"] == 1
    n.sim.emit(r, out)
    n.sim.run(until=n.sim.now + 1.0)
    errs = [e for e in n.a.drain_events() if isinstance(e, Icmp6ErrorInput)]
    assert [(e.type, e.code, e.param) for e in errs] == [(4, 2, 42)]


# --- properties ---------------------------------------------------------------

_SRCS = [HA, A("fe80::ff:fe00:a"), A("::"), HB, A("2001:db8:a::77"), A("2001:db8:9::9")]
_DSTS = [HB, RA0, RB1, A("fe80::99"), A("ff05::1"), A("ff02::1"), A("2001:db8:ffff::1"),
         A("2001:db8:b::77")]


def _upper(kind: int, src: A, dst: A, size: int) -> tuple[int, bytes]:
    if kind == 0:
        return 58, _core.Icmpv6Echo(128, 7, 7, bytes(size)).to_bytes(src, dst)
    if kind == 1:  # an ICMPv6 error: never answered with an error
        return 58, _core.Icmpv6Error(1, 4, 0, bytes(size)).to_bytes(src, dst)
    return 17, _core.UdpHeader(5000, 6000, bytes(size)).to_bytes(src, dst)


@given(st.sampled_from(_SRCS), st.sampled_from(_DSTS), st.sampled_from([0, 1, 2, 64, 255]),
       st.integers(0, 2), st.sampled_from([8, 1200, 1300, 1440]), st.booleans())
def test_ip6_forward_invariants(src, dst, hlim, kind, size, resolved) -> None:  # type: ignore[no-untyped-def]
    """Whatever arrives: nothing forwarded unless it may be (hop limit > 1,
    unicast non-link-local destination, specified source); a forwarded
    packet is the same packet with the hop limit one lower and fits the
    outgoing MTU; every error we send fits 1280 bytes, goes to a unicast
    source and is never about an ICMPv6 error."""
    n = Net(mtu2=1280, kr={"net.inet6.icmp6.errppslimit": -1})
    r = n.r
    if resolved:
        r.cache.set_permanent("eth1", HB, MB)
        r.cache.set_permanent("eth1", A("2001:db8:b::77"), MB)
    nh, body = _upper(kind, src, dst, size)
    pkt = _core.Ipv6Header(src, dst, next_header=nh, hop_limit=hlim,
                           payload_len=len(body)).to_bytes() + body
    dmac = ether_multicast(dst) if dst.is_multicast else MR0
    out = r.receive("eth0", codec.ether(dmac, MA, pkt), n.sim.now)
    may_forward = (hlim > 1 and not dst.is_multicast and not dst.is_link_local
                   and int(src) != 0 and dst not in (RA0, RB1) and len(pkt) <= 1280
                   and dst in (HB, A("2001:db8:b::77")) and not src.is_link_local)
    fwd = [ip6(f) for ifn, f in out if ifn == "eth1" and ip6(f)[40:] == pkt[40:]]
    if not may_forward:
        assert fwd == [] and r.stats["ip6s_forward"] == 0
    else:
        assert r.stats["ip6s_forward"] == 1
        if resolved:
            assert len(fwd) == 1
    for f in fwd:
        assert f[7] == hlim - 1 and f[:7] == pkt[:7] and f[8:40] == pkt[8:40]
        assert len(f) <= 1280
    for _ifn, f in out:
        p = ip6(f)
        if p[6] == 58 and p[40] < 128 and A(p[8:24]) in (RA0, RB1, LL_R0):  # an error from us
            assert len(p) <= 1280
            assert A(p[24:40]) == src and not src.is_multicast and int(src) != 0
            assert not (nh == 58 and kind == 1)
            assert p[48:88] == pkt[:40]  # the invoking packet as it arrived


@given(st.integers(1500, 6000), st.integers(1280, 1500), st.randoms(use_true_random=False))
def test_reassembly_in_any_order(size, mtu, rnd) -> None:  # type: ignore[no-untyped-def]
    """Fragments of an echo request, in any order, are reassembled by the
    router, which answers with the same data (fragmented itself)."""
    n = Net()
    data = bytes((i * 7) & 0xFF for i in range(size))
    pkt = codec.build_icmp6_packet(HA, RA0, _core.Icmpv6Echo(128, 3, 9, data), 64)
    frags = _core.fragment(pkt, mtu, rnd.getrandbits(32))
    rnd.shuffle(frags)
    for f in frags:
        n.sim.emit(n.r, n.r.receive("eth0", codec.ether(MR0, MA, f), n.sim.now))
    n.sim.run(until=n.sim.now + 1.0)
    replies = [e for e in n.a.drain_events() if isinstance(e, EchoReply)]
    assert [(e.seq, e.data) for e in replies] == [(9, data)]
    assert n.r.stats["ip6s_fragments"] == len(frags) and n.r.stats["ip6s_reassembled"] == 1
    assert n.r.reass.bytes_held == 0


def test_output_histogram_counts_every_icmp6_type_sent() -> None:
    """icp6s_outhist agrees with the frames on the wire: the shortest (an RS
    from :: without options, 62 bytes, from a host without a link-local
    address) and MLD reports behind a Hop-by-Hop header included."""
    sim = Simulation()
    link = MemoryLink(delay=0.001)
    sent: list[bytes] = []
    h = Node("h", knobs=Knobs({"net.inet6.ip6.accept_rtadv": 1,
                               "net.inet6.ip6.auto_linklocal": 0}), seed=9)
    g = Node("g", knobs=Knobs({"net.inet6.ip6.accept_rtadv": 1}), seed=10)
    h.add_interface("eth0", MA)
    g.add_interface("eth0", MB)
    sim.connect(h, "eth0", link, MA)
    sim.connect(g, "eth0", link, MB)
    link.add_tap(lambda t, f: sent.append(f))
    sim.emit(h, h.up("eth0", 0.0))
    sim.emit(g, g.up("eth0", 0.0))
    sim.run(until=15.0)
    sim.emit(g, g.ping(A("fe80::1"), sim.now, ifname="eth0"))
    sim.run(until=20.0)
    for node, mac in ((h, MA), (g, MB)):
        want: dict[int, int] = {}
        for f in sent:
            if f[6:12] == mac:
                p = ip6(f)
                off = 40 if p[6] == 58 else 48
                want[p[off]] = want.get(p[off], 0) + 1
        assert node.stats.outhist == want
    assert h.stats.outhist == {133: 3} and min(len(f) for f in sent) == 62
    assert g.stats.outhist.get(143, 0) >= 1 and g.stats.outhist.get(135, 0) >= 2


def test_node_sorts_destinations_with_its_own_sources() -> None:
    n = Net()
    a = n.a
    out = a.sort_destinations([A("2001:db8:ffff::1"), A("2002:c633:6401::1"),
                               (A("fe80::1"), "eth0"), IPv4Address("192.0.2.1"),
                               A("2001:db8:a::7")], n.sim.now)
    got = [(str(d.addr), str(d.source.addr) if d.source else None) for d in out]
    lla = str(a.addresses("eth0")[0].addr)
    # fe80::1 first (rule 8, smaller scope; its source matches its scope),
    # then the 2001:db8::/32 ones (label 1 = the source's), on-link /64 first
    # (rule 9), then 2002::/16 (label 2 != 1, rule 5), IPv4 last (no source)
    assert got == [("fe80::1", lla), ("2001:db8:a::7", str(HA)),
                   ("2001:db8:ffff::1", str(HA)), ("2002:c633:6401::1", str(HA)),
                   ("192.0.2.1", None)]


def test_temporary_addresses_and_prefer_tempaddr_in_the_node() -> None:
    sim, link, h = _host_after_ra(**{"net.inet6.ip6.use_tempaddr": 1})
    temp = [x.addr for x in h.addresses("eth0") if x.flags & In6Flags.TEMPORARY]
    public = [x.addr for x in h.addresses("eth0")
              if x.flags & In6Flags.AUTOCONF and not x.flags & In6Flags.TEMPORARY]
    assert len(temp) == 1 and len(public) == 1
    dst = A("2001:db8:77::1")
    assert h.in6_selectsrc(dst, "eth0") == public[0]  # KAME default: public (§1.6.1)
    h.knobs["net.inet6.ip6.prefer_tempaddr"] = 1
    assert h.in6_selectsrc(dst, "eth0") == temp[0]
    # and the Echo Request on the wire carries it
    sent: list[bytes] = []
    link.add_tap(lambda t, f: sent.append(f))
    sim.emit(h, h.ping(dst, sim.now))
    sim.run(until=sim.now + 2.0)
    reqs = [ip6(f) for f in sent if ip6(f)[6] == 58 and ip6(f)[40] == 128]
    assert len(reqs) == 1 and A(reqs[0][8:24]) == temp[0] and A(reqs[0][24:40]) == dst


@given(st.lists(st.tuples(st.sampled_from(["fe80::", "2001:db8:a::", "2002:c633:6401::",
                                           "fd00::"]),
                          st.integers(1, 2**16), st.sampled_from(["eth0", "eth1"]),
                          st.sampled_from([0, 0x01, 0x02, 0x10, 0x80])), max_size=6),
       st.sampled_from([A("fe80::1"), A("ff02::1"), A("ff02::1:ff00:1"), A("2001:db8:b::1"),
                        A("ff05::2"), A("2002:c633:6401::9")]),
       st.sampled_from(["eth0", "eth1"]), st.booleans())
def test_node_selectsrc_is_rfc6724_over_its_zone(addrs, dst, outif, usedep) -> None:  # type: ignore[no-untyped-def]
    """The node's in6_selectsrc (with its link-scope shortcut) equals RFC
    6724 over the usable, non-anycast addresses whose zone holds ``outif``."""
    from kame.in6_src import SourceCandidate
    from kame.in6_src import in6_selectsrc as generic
    from kame.in6_var import In6Ifaddr
    node = Node("p", knobs=Knobs({"net.inet6.ip6.use_deprecated": int(usedep)}))
    for ifn, mac in (("eth0", MA), ("eth1", MB)):
        node.add_interface(ifn, mac)
        node.ifnets[ifn].up = True
    for prefix, iid, ifn, flags in addrs:
        node.addrs.add(In6Ifaddr(A(int(A(prefix)) | iid), 64, ifn, In6Flags(flags)))
    cands = [SourceCandidate(x.addr, x.ifname, 64, bool(x.flags & In6Flags.DEPRECATED),
                             bool(x.flags & In6Flags.TEMPORARY))
             for x in node.addresses() if not x.flags & 0x0F
             and (x.ifname == outif or not x.addr.is_link_local)]
    want = generic(dst, cands, outif=outif, policy=node.policy, use_deprecated=usedep)
    assert node.in6_selectsrc(dst, outif) == (want.addr if want else None)


@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")
def test_tshark_dissects_what_the_router_sends(tmp_path: Path) -> None:
    """Redirects (with Target Link-Layer Address and Redirected Header
    options), Packet Too Big, Time Exceeded and our fragments, as tshark
    reads them from a pcap of both links: nothing malformed."""
    caps = [tmp_path / "link1.pcap", tmp_path / "link2.pcap"]
    files = [c.open("wb") for c in caps]
    try:
        n = Net(mtu2=1280, with_c=True, ka={"net.inet6.icmp6.rediraccept": 0},
                kr={"net.inet6.icmp6.nd6_maxqueuelen": 4})
        n.l1.add_tap(PcapWriter(files[0]))
        n.l2.add_tap(PcapWriter(files[1]))
        n.ping(n.a, HB, 1.0, seq=1, data=bytes(1400))          # Packet Too Big
        n.ping(n.a, HB, 1.0, seq=2, data=bytes(1400))          # fragments both ways
        n.ping(n.a, HC, 1.0, seq=3)                            # Redirect, C unresolved
        n.ping(n.a, HC, 1.0, seq=4)                            # Redirect with C's lladdr
        n.a.cache.info("eth0").chlim = 1
        n.ping(n.a, HB, 1.0, seq=5)                            # Time Exceeded
    finally:
        for f in files:
            f.close()
    fields = ["icmpv6.type", "icmpv6.code", "icmpv6.mtu", "icmpv6.nd.rd.target_address",
              "icmpv6.rd.na.destination_address", "icmpv6.opt.type", "icmpv6.opt.linkaddr"]
    rows: list[dict[str, str]] = []
    for cap in caps:
        res = subprocess.run(["tshark", "-r", str(cap), "-T", "json"], capture_output=True,
                             text=True, timeout=120, check=True)
        assert "_ws.malformed" not in res.stdout and "_ws.expert" not in res.stdout
        res = subprocess.run(["tshark", "-r", str(cap), "-Y", "icmpv6", "-T", "fields",
                              "-E", "occurrence=a", "-E", "aggregator=;"]
                             + [x for f in fields for x in ("-e", f)],
                             capture_output=True, text=True, timeout=120, check=True)
        rows += [dict(zip(fields, ln.split("\t"), strict=True))
                 for ln in res.stdout.splitlines()]
    types = {r["icmpv6.type"].split(";")[0] for r in rows}
    assert {"2", "3", "128", "129", "137"} <= types
    first = [(r["icmpv6.type"].split(";")[0], r["icmpv6.code"].split(";")[0], r) for r in rows]
    assert any(t == "2" and r["icmpv6.mtu"] == "1280" for t, _c, r in first)
    assert any(t == "3" and c == "0" for t, c, _r in first)
    rds = [r for r in rows if r["icmpv6.type"].split(";")[0] == "137"]
    assert len(rds) == 2
    for r in rds:
        assert r["icmpv6.nd.rd.target_address"] == "fe80::ff:fe00:c"
        assert r["icmpv6.rd.na.destination_address"] == "2001:db8:c::1"
    # C not yet resolved: Redirected Header only; then Target LLA and Redirected Header
    assert rds[0]["icmpv6.opt.type"].split(";") == ["4"]
    assert rds[1]["icmpv6.opt.type"].split(";") == ["2", "4"]
    assert rds[1]["icmpv6.opt.linkaddr"] == "02:00:00:00:00:0c"
