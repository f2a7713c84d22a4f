"""6to4 (RFC 3056, KAME's stf) and the RFC 3964 abuse checks, on a memory
link: two 6to4 sites ping each other; scapy builds the abuse cases, each
refused with its counter."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_network

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet import IP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import Ether

from kame.errors import ConfigError
from kame.knobs import Knobs
from kame.link.memory import MemoryLink, Simulation
from kame.node import EchoReply, Node
from kame.stf import RELAY_ANYCAST, Stf, embedded_v4, prefix_6to4, stf_checkaddr4

MS, MT = bytes.fromhex("020000000c01"), bytes.fromhex("020000000d01")
KN = {"net.inet6.ip6.dad_count": 0, "net.link.ether.inet.dad_count": 0}
S6, T6 = "2002:c000:201::1", "2002:c000:202::1"   # 192.0.2.1, 192.0.2.2


class Sites:
    def __init__(self) -> None:
        self.sim = Simulation()
        self.link = MemoryLink(delay=0.001)
        self.frames: list[bytes] = []
        self.link.add_tap(lambda t, f: self.frames.append(bytes(f)))
        self.s = Node("s", knobs=Knobs(KN), seed=1)
        self.t = Node("t", knobs=Knobs(KN), seed=2)
        for n, mac, me, a6 in ((self.s, MS, 1, S6), (self.t, MT, 2, T6)):
            n.add_interface("eth0", mac)
            self.sim.connect(n, "eth0", self.link, mac)
            self.sim.emit(n, n.up("eth0", 0.0))
            n.add_address4("eth0", f"192.0.2.{me}/24", 0.0)
            Stf.create(n)
            self.sim.emit(n, n.up("stf0", 0.0))
            n.add_address("stf0", f"{a6}/16", 0.0)
        self.sim.run(until=2.0)
        self.frames.clear()

    def run(self, dt: float = 1.0) -> None:
        self.sim.run(until=self.sim.now + dt)


def test_mapping() -> None:
    assert str(prefix_6to4("192.0.2.1")) == "2002:c000:201::/48"
    assert embedded_v4(IPv6Address(S6)) == IPv4Address("192.0.2.1")
    assert str(prefix_6to4(RELAY_ANYCAST).network_address) == "2002:c058:6301::"


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**80 - 1))
def test_mapping_roundtrip(v4: int, rest: int) -> None:
    net = prefix_6to4(IPv4Address(v4))
    a = IPv6Address(int(net.network_address) | (rest & (2**80 - 1)))
    assert a in net and embedded_v4(a) == IPv4Address(v4)


@given(st.integers(0, 2**32 - 1))
def test_checkaddr4_agrees_with_ipaddress(x: int) -> None:
    """Refused exactly: multicast, 240/4, 0/8, 127/8, RFC 1918, 169.254/16,
    100.64/10 (RFC 3964 §5.3), as Python's ipaddress classifies them."""
    a = IPv4Address(x)
    refused = (a.is_multicast or x >> 28 == 0xF or x >> 24 in (0, 127) or a.is_link_local
               or any(a in ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12",
                                                   "192.168.0.0/16", "100.64.0.0/10")))
    assert (stf_checkaddr4(a) is not None) == refused


def test_sites_ping_each_other() -> None:
    w = Sites()
    w.sim.emit(w.s, w.s.ping(T6, w.sim.now, seq=4))
    w.run()
    r = [e for e in w.s.drain_events() if isinstance(e, EchoReply)]
    assert [(str(e.src), e.seq) for e in r] == [(T6, 4)]
    tun = [Ether(f) for f in w.frames if f[12:14] == b"\x08\x00"]
    tun = [x for x in tun if IP in x and x[IP].proto == 41]
    assert [(x[IP].src, x[IP].dst) for x in tun] == [("192.0.2.1", "192.0.2.2"),
                                                     ("192.0.2.2", "192.0.2.1")]
    assert ICMPv6EchoRequest in tun[0]
    assert w.s.stats["stf_opackets"] == 1 and w.s.stats["stf_ipackets"] == 1


def test_relay_router() -> None:
    w = Sites()
    w.s.gif.stf.set_relay("192.0.2.2")   # t plays the relay (RFC 3056 §5.2)
    w.sim.emit(w.s, w.s.ping("2001:db8:77::1", w.sim.now))
    w.run(0.5)
    tun = [Ether(f) for f in w.frames if f[12:14] == b"\x08\x00"]
    tun = [x for x in tun if IP in x and x[IP].proto == 41]
    assert tun and tun[0][IP].dst == "192.0.2.2" and tun[0][IPv6].dst == "2001:db8:77::1"
    with pytest.raises(ConfigError):
        w.s.gif.stf.set_relay("10.1.2.3")  # private: refused (RFC 3964 §5.3)
    w.s.gif.stf.set_relay(None)
    assert w.s.rtalloc(IPv6Address("2001:db8:77::1"), w.sim.now) is None


def _inject(n: Node, osrc: str, isrc: str, idst: str = S6, odst: str = "192.0.2.1") -> None:
    pkt = (Ether(dst=MS, src=MT) / IP(src=osrc, dst=odst) / IPv6(src=isrc, dst=idst) /
           ICMPv6EchoRequest(id=77))
    n.receive("eth0", bytes(pkt), 5.0)


@pytest.mark.parametrize(("osrc", "isrc", "idst", "counter"), [
    ("192.0.2.2", "2002:c000:203::1", S6, "stf_mismatch"),         # spoofed 6to4 source
    ("198.51.100.9", "2002:0a00:0001::1", S6, "stf_badembedded"),  # private inside 2002::
    ("198.51.100.9", "2002:7f00:0001::1", S6, "stf_badembedded"),  # loopback inside
    ("198.51.100.9", "2002:e000:0001::1", S6, "stf_badembedded"),  # multicast inside
    ("198.51.100.9", "2002:c000:02ff::1", S6, "stf_badembedded"),  # our subnet broadcast
    ("10.0.0.9", "2002:0a00:0009::1", S6, "stf_badouter"),         # private outer source
    ("192.0.2.2", "2001:db8::5", S6, "stf_norelay"),               # native, no relay
    ("192.0.2.2", T6, "2002:c000:299::1", "stf_notours"),          # not our 6to4 prefix
    ("192.0.2.2", T6, "2001:db8::1", "stf_notours"),               # we are no relay
    ("192.0.2.2", "::ffff:192.0.2.2", S6, "stf_badinner"),         # IPv4-mapped inside
    ("192.0.2.2", "::192.0.2.2", S6, "stf_badinner"),              # IPv4-compatible
])
def test_abuse_refused(osrc: str, isrc: str, idst: str, counter: str) -> None:
    w = Sites()
    _inject(w.s, osrc, isrc, idst)
    assert w.s.stats[counter] == 1, w.s.stats.nonzero()
    assert w.s.stats["stf_ipackets"] == 0


def test_native_source_with_relay_accepted() -> None:
    w = Sites()
    w.s.gif.stf.set_relay("192.0.2.2")
    _inject(w.s, "192.0.2.2", "2001:db8::5")
    assert w.s.stats["stf_ipackets"] == 1


def test_private_endpoints_when_configured() -> None:
    w = Sites()
    w.s.gif.stf.accept_private = True
    _inject(w.s, "10.0.0.9", "2002:0a00:0009::1")
    assert w.s.stats["stf_ipackets"] == 1


def test_output_refusals() -> None:
    w = Sites()
    w.s.route_add("2002:e000::/24", None, "stf0")
    w.s.ping("2002:e000:1::1", w.sim.now)   # multicast IPv4 inside: not sent
    assert w.s.stats["stf_badembedded"] == 1
    w.s.route_add("2001:db8:5::/48", None, "stf0")
    w.s.ping("2001:db8:5::1", w.sim.now)    # native, no 6to4 next hop
    assert w.s.stats["stf_noaddr"] >= 1
    with pytest.raises(ConfigError):
        Stf.create(w.s, "stf1")


@given(st.binary(max_size=120))
def test_garbage_never_raises(body: bytes) -> None:
    n = _NODE
    pkt = Ether(dst=MS, src=MT) / IP(src="192.0.2.2", dst="192.0.2.1", proto=41) / body
    n.receive("eth0", bytes(pkt), 5.0)


def _node() -> Node:
    n = Node("h", knobs=Knobs(KN), seed=3)
    n.add_interface("eth0", MS)
    n.up("eth0", 0.0)
    n.add_address4("eth0", "192.0.2.1/24", 0.0)
    Stf.create(n)
    n.up("stf0", 0.0)
    n.add_address("stf0", f"{S6}/16", 0.0)
    n.poll(3.0)
    return n


_NODE = _node()
