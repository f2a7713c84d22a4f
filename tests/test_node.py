"""The first composed node on a memory link: DAD, address resolution, echo,
SLAAC from a router node, duplicates, counted drops. Frames are built and
parsed by the Rust core; tshark dissects the captured traffic."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from ipaddress import IPv6Address as A
from ipaddress import IPv6Network
from pathlib import Path

import pytest

from kame.in6_var import In6Flags
from kame.knobs import Knobs
from kame.link.memory import MemoryLink, Simulation
from kame.link.pcap import PcapWriter
from kame.nd6 import codec
from kame.nd6.cache import NdState
from kame.nd6.rtr import RaConfig
from kame.nd6.types import AddressDuplicated, AddressReady, InterfaceDisabled, PrefixInfo, SendNS
from kame.node import EchoReply, Node

MA = bytes.fromhex("020000000a0a")
MB = bytes.fromhex("020000000b0b")
LLA = A("fe80::ff:fe00:a0a")
LLB = A("fe80::ff:fe00:b0b")


def pair(link: MemoryLink | None = None, ka: Knobs | None = None, kb: Knobs | None = None,
         mb: bytes = MB) -> tuple[Simulation, MemoryLink, Node, Node]:
    link = link or MemoryLink(delay=0.001)
    sim = Simulation()
    a, b = Node("a", knobs=ka, seed=1), Node("b", knobs=kb, seed=2)
    a.add_interface("eth0", MA)
    b.add_interface("eth0", mb)
    sim.connect(a, "eth0", link, MA)
    sim.connect(b, "eth0", link, mb)
    sim.emit(a, a.up("eth0", 0.0))
    sim.emit(b, b.up("eth0", 0.0))
    return sim, link, a, b


def test_dad_then_ping_link_local(tmp_path: Path) -> None:
    link = MemoryLink(delay=0.001)
    cap = tmp_path / "ping.pcap"
    with cap.open("wb") as f:
        link.add_tap(PcapWriter(f))
        sim, _, a, b = pair(link)
        sim.run(until=3.0)
        assert [x.addr for x in a.addresses()] == [LLA]
        assert not a.addresses()[0].tentative
        assert AddressReady("eth0", LLA) in a.drain_events()
        sim.emit(a, a.ping(LLB, sim.now, ifname="eth0", seq=7))
        sim.run(until=6.0)
    (reply,) = [e for e in a.drain_events() if isinstance(e, EchoReply)]
    assert reply.src == LLB and reply.seq == 7 and reply.data == b"kame"
    assert a.cache.lookup("eth0", LLB).state == NdState.REACHABLE
    assert b.cache.lookup("eth0", LLA) is not None
    assert b.stats["icp6s_reflect"] == 1
    if shutil.which("tshark"):
        res = subprocess.run(["tshark", "-r", str(cap), "-T", "json"], capture_output=True,
                             text=True, timeout=120, check=True)
        pkts = json.loads(res.stdout)
        kinds = [p["_source"]["layers"]["icmpv6"]["icmpv6.type"] for p in pkts]
        assert "135" in kinds and "136" in kinds and "128" in kinds and "129" in kinds
        assert "143" in kinds  # MLDv2 reports for the solicited-node groups
        assert "_ws.malformed" not in res.stdout and "_ws.expert" not in res.stdout


def test_resolution_failure_gives_unreachable() -> None:
    sim, _, a, _b = pair()
    sim.run(until=3.0)
    sim.emit(a, a.ping(A("fe80::dead"), sim.now, ifname="eth0"))
    sim.run(until=10.0)
    ev = a.drain_events()
    assert any(getattr(e, "kind", "") == "unreachable" for e in ev)
    assert a.cache.lookup("eth0", A("fe80::dead")) is None
    assert a.stats["icp6s_nd_unreach"] == 1


def _same_mac_a_up() -> tuple[Simulation, Node, Node]:
    """Nodes ``a`` and ``b`` with the same MAC on one link, ``a``'s
    interface brought up at 0 s, ``b``'s still down."""
    link = MemoryLink(delay=0.001)
    sim = Simulation()
    a, b = Node("a", seed=1), Node("b", seed=2)
    a.add_interface("eth0", MA)
    b.add_interface("eth0", MA)
    sim.connect(a, "eth0", link, MA)
    sim.connect(b, "eth0", link, MA)
    a.drop_own_frames = b.drop_own_frames = False  # same MAC: don't filter
    sim.emit(a, a.up("eth0", 0.0))
    return sim, a, b


def test_duplicate_mac_disables_interface() -> None:
    """Two nodes with the same MAC: the EUI-64 link-local is duplicated and
    rfc2462bis disables IPv6 on the interface (§1.2)."""
    sim, a, b = _same_mac_a_up()
    sim.run(until=0.5)  # a's DAD under way
    sim.emit(b, b.up("eth0", sim.now))
    sim.run(until=5.0)
    evs = a.drain_events() + b.drain_events()
    assert any(isinstance(e, AddressDuplicated) for e in evs)
    assert any(isinstance(e, InterfaceDisabled) for e in evs)
    disabled = [n for n in (a, b) if n.ifnets["eth0"].flags.disabled]
    assert disabled


def test_looped_back_probe_is_not_a_duplicate_on_a_bad_driver() -> None:
    link = MemoryLink(delay=0.001, loop_multicast=True)
    sim, _, a, b = pair(link)
    a.drop_own_frames = b.drop_own_frames = False
    sim.run(until=5.0)
    assert not any(x.duplicated for x in a.addresses() + b.addresses())
    assert a.stats["icp6s_nd_looped"] >= 1
    # without the RFC 7527 nonce the same link makes a false duplicate
    k = Knobs({"net.inet6.ip6.dad_enhanced": 0})
    sim2, _, c, d = pair(MemoryLink(delay=0.001, loop_multicast=True), k, Knobs(
        {"net.inet6.ip6.dad_enhanced": 0}))
    c.drop_own_frames = d.drop_own_frames = False
    sim2.run(until=5.0)
    assert any(x.duplicated for x in c.addresses())


def test_slaac_from_router_node() -> None:
    kr = Knobs({"net.inet6.ip6.forwarding": 1})
    kh = Knobs({"net.inet6.ip6.accept_rtadv": 1})
    sim, _, r, h = pair(ka=kr, kb=kh)
    r.rtr.advertise("eth0", RaConfig(max_interval=10, prefixes=(
        PrefixInfo(A("2001:db8:1::"), 64, valid_lifetime=3600, preferred_lifetime=1800),)), 2.0)
    sim.run(until=20.0)
    glob = [x for x in h.addresses() if x.addr in IPv6Network("2001:db8:1::/64")]
    assert len(glob) == 1 and glob[0].flags & In6Flags.AUTOCONF and not glob[0].tentative
    assert glob[0].addr == A("2001:db8:1::ff:fe00:b0b")
    assert h.rtr.installed is not None and h.rtr.installed.addr == LLA
    assert A("ff02::2") in r.groups["eth0"]
    # the host pings the router's link-local through the cache the RA filled
    sim.emit(h, h.ping(LLA, sim.now, ifname="eth0"))
    sim.run(until=25.0)
    assert any(isinstance(e, EchoReply) for e in h.drain_events())


def test_udp_port_unreachable_and_rate_limit() -> None:
    sim, _, a, b = pair(ka=Knobs({"net.inet6.icmp6.nd6_maxqueuelen": 8}))
    sim.run(until=3.0)
    b.knobs["net.inet6.icmp6.errppslimit"] = 2
    payload = b"\x04\xd2\x00\x35\x00\x0c\x00\x00abcd"  # 1234 -> 53, checksum 0 (ignored)
    for _ in range(5):
        a.send(LLB, payload, 17, sim.now, ifname="eth0")
    sim.emit(a, a._flush())
    sim.run(until=6.0)
    assert b.stats["icp6s_error"] == 5
    assert b.stats["icp6s_toofreq"] == 3


def test_bad_nd_packets_counted() -> None:
    sim, _, _a, b = pair()
    sim.run(until=3.0)
    ns = SendNS("eth0", LLB, A("ff02::1:ff00:b0b"), LLA, True)
    pkt = bytearray(codec.build_ns(ns, LLA, MA))
    pkt[7] = 64  # hop limit 64: RFC 4861 §7.1.1
    b.receive("eth0", codec.ether(bytes.fromhex("3333ff000b0b"), MA, bytes(pkt)), 3.5)
    assert b.stats["icp6s_badns"] == 1
    bad = bytearray(codec.build_ns(ns, LLA, MA))
    bad[-1] ^= 0xFF  # checksum
    b.receive("eth0", codec.ether(bytes.fromhex("3333ff000b0b"), MA, bytes(bad)), 3.6)
    assert b.stats["icp6s_checksum"] == 1
    mapped = bytearray(codec.build_ns(ns, LLA, MA))
    mapped[8:24] = A("::ffff:127.0.0.1").packed
    b.receive("eth0", codec.ether(bytes.fromhex("3333ff000b0b"), MA, bytes(mapped)), 3.7)
    assert b.stats["ip6s_badscope"] == 1
    emb = bytearray(codec.build_ns(ns, LLA, MA))
    emb[10:12] = b"\x00\x01"  # fe80:1::... : the kernel-internal form on the wire
    b.receive("eth0", codec.ether(bytes.fromhex("3333ff000b0b"), MA, bytes(emb)), 3.8)
    assert b.stats["ip6s_badscope"] == 2
    b.receive("eth0", b"\x00" * 10, 3.9)
    assert b.stats["ip6s_toosmall"] == 1


@pytest.mark.parametrize("n", [200])
def test_ns_flood_bounded(n: int) -> None:
    k = Knobs({"net.inet6.icmp6.nd6_maxentries": 64})
    sim, _, _a, b = pair(kb=k)
    sim.run(until=3.0)
    rnd = random.Random(1)
    for i in range(n):
        src = A((0xFE80 << 112) | rnd.getrandbits(64))
        ns = SendNS("eth0", LLB, A("ff02::1:ff00:b0b"), src, True)
        mac = rnd.getrandbits(48).to_bytes(6, "big")
        mac = bytes([mac[0] & 0xFE]) + mac[1:]
        b.receive("eth0", codec.ether(bytes.fromhex("3333ff000b0b"), mac,
                                      codec.build_ns(ns, src, mac)), 3.0 + i * 1e-3)
    assert len(b.cache) <= 64 and b.stats["icp6s_nd_cachefull"] > 0


def test_unknown_next_header_parameter_problem() -> None:
    """RFC 8200 §4: an unknown Next Header gets Parameter Problem code 1 with
    the pointer at that field; the error carries the invoking packet. scapy
    dissects the error."""
    inet6 = pytest.importorskip("scapy.layers.inet6")
    sim, link, a, b = pair()
    sim.run(until=3.0)
    got: list[bytes] = []
    link.add_tap(lambda t, f: got.append(f))
    a.send(LLB, b"\x00" * 16, 253, sim.now, ifname="eth0")  # 253: experimental protocol
    sim.emit(a, a._flush())
    sim.run(until=6.0)
    assert b.stats["ip6s_noproto"] == 1 and b.stats["icp6s_error"] == 1
    errs = [inet6.IPv6(f[14:]) for f in got if f[12:14] == b"\x86\xdd"
            and inet6.ICMPv6ParamProblem in inet6.IPv6(f[14:])]
    (err,) = errs
    pp = err[inet6.ICMPv6ParamProblem]
    assert pp.code == 1 and pp.ptr == 6  # Next Header field of the IPv6 header
    assert err.src == str(LLB) and err.dst == str(LLA)
    inner = bytes(pp.payload)
    assert inner[24:40] == LLB.packed and inner[6] == 253


def test_duplicate_mac_detected_by_the_defenders_na() -> None:
    """A node already up defends its EUI-64 link-local against a newcomer
    with the same MAC: the defending NA carries that MAC as its TLLA, yet it
    is not our own NA looped back (we never answer for a tentative
    address), so the newcomer marks the address duplicated (RFC 4862
    §5.4.4) and disables IPv6 on the interface (rfc2462bis, §1.2)."""
    sim, a, b = _same_mac_a_up()
    sim.run(until=3.0)  # a's link-local is ready: it will defend
    assert not any(ifa.tentative for ifa in a.addresses("eth0"))
    sim.emit(b, b.up("eth0", sim.now))
    sim.run(until=8.0)
    evs = b.drain_events()
    assert any(isinstance(e, AddressDuplicated) for e in evs)
    assert any(isinstance(e, InterfaceDisabled) for e in evs)
    assert not any(isinstance(e, (AddressDuplicated, InterfaceDisabled)) for e in a.drain_events())
