"""gif interfaces on the node (seed §1.5, §1.4.1, §4.6; RFC 2473, 4213, 2003)
on a memory link: all four inner/outer combinations, the link-local
address, routes through gif, nesting and loops, ECN per interface, inner
Packet Too Big from an outer one, IPsec over gif and gif over IPsec.
scapy dissects what we send and builds what we receive."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6PacketTooBig, IPv6
from scapy.layers.l2 import Ether

from kame.errors import ConfigError
from kame.gif import GIF_MTU
from kame.inet import EchoReply4
from kame.knobs import Knobs
from kame.link.memory import MemoryLink, Simulation
from kame.node import EchoReply, Node

A6 = IPv6Address
MA, MB = bytes.fromhex("020000000a01"), bytes.fromhex("020000000b01")
KN = {"net.inet6.ip6.dad_count": 0, "net.link.ether.inet.dad_count": 0,
      "net.inet6.ip6.forwarding": 1, "net.inet.ip.forwarding": 1,
      "net.inet6.mld.querier": 0}  # frames on the link are the tunnels' alone


class Pair:
    """Nodes a and b on one link (outer 192.0.2.1/.2 and 2001:db8:12::1/::2);
    gif0 (outer IPv4) and gif1 (outer IPv6) between them; a's inner
    addresses 2001:db8:a0::1 (gif0), 2001:db8:a1::1 (gif1), 10.0.0.1 (gif0),
    10.1.0.1 (gif1); b's the same with b/2."""

    def __init__(self, *, kn: dict[str, int] | None = None) -> None:
        self.sim = Simulation()
        self.link = MemoryLink(delay=0.001)
        self.frames: list[bytes] = []
        self.link.add_tap(lambda t, f: self.frames.append(bytes(f)))
        self.a = Node("a", knobs=Knobs({**KN, **(kn or {})}), seed=1)
        self.b = Node("b", knobs=Knobs({**KN, **(kn or {})}), seed=2)
        for n, mac, me, peer in ((self.a, MA, 1, 2), (self.b, MB, 2, 1)):
            n.add_interface("eth0", mac)
            self.sim.connect(n, "eth0", self.link, mac)
            self.sim.emit(n, n.up("eth0", 0.0))
            n.add_address("eth0", f"2001:db8:12::{me}/64", 0.0)
            n.add_address4("eth0", f"192.0.2.{me}/24", 0.0)
            n.gif.create("gif0")
            n.gif.set_tunnel("gif0", f"192.0.2.{me}", f"192.0.2.{peer}")
            n.gif.create("gif1")
            n.gif.set_tunnel("gif1", f"2001:db8:12::{me}", f"2001:db8:12::{peer}")
            for g in ("gif0", "gif1"):
                self.sim.emit(n, n.up(g, 0.0))
            x = "ab"[me - 1]
            n.add_address("gif0", f"2001:db8:{x}0::1/128", 0.0)
            n.add_address("gif1", f"2001:db8:{x}1::1/128", 0.0)
            n.add_address4("gif0", f"10.0.0.{me}/32", 0.0)
            n.add_address4("gif1", f"10.1.0.{me}/32", 0.0)
            y = "ab"[peer - 1]
            n.route_add(f"2001:db8:{y}0::/48", None, "gif0")
            n.route_add(f"2001:db8:{y}1::/48", None, "gif1")
            n.inet.route_add(f"10.0.0.{peer}/32", None, "gif0")
            n.inet.route_add(f"10.1.0.{peer}/32", None, "gif1")
        self.sim.run(until=2.0)
        self.a.drain_events()
        self.b.drain_events()
        self.frames.clear()

    def run(self, dt: float = 1.0) -> None:
        self.sim.run(until=self.sim.now + dt)


def replies6(n: Node) -> list[EchoReply]:
    return [e for e in n.drain_events() if isinstance(e, EchoReply)]


@pytest.mark.parametrize(("dst", "outer", "ifname"), [
    ("2001:db8:b0::1", IP, "gif0"),     # IPv6 in IPv4
    ("2001:db8:b1::1", IPv6, "gif1"),   # IPv6 in IPv6
])
def test_ping6_through_gif(dst: str, outer: type, ifname: str) -> None:
    p = Pair()
    o0, i0 = p.a.stats["gifs_opackets"], p.a.stats["gifs_ipackets"]
    p.sim.emit(p.a, p.a.ping(dst, p.sim.now, seq=7, data=b"gif"))
    p.run()
    r = replies6(p.a)
    assert [(e.src, e.seq, e.data) for e in r] == [(A6(dst), 7, b"gif")]
    assert r[0].ifname == ifname
    # both layers, as scapy reads them: outer of the tunnel's family, inner IPv6 echo
    pk = [Ether(f) for f in p.frames if f[12:14] in (b"\x08\x00", b"\x86\xdd")]
    tun = [x for x in pk if outer in x and (x[outer].proto if outer is IP else x[outer].nh) == 41]
    assert len(tun) == 2
    inner = tun[0][outer].payload
    assert isinstance(inner, IPv6) and ICMPv6EchoRequest in inner
    assert inner[ICMPv6EchoRequest].data == b"gif"
    assert ICMPv6EchoReply in tun[1]
    hl = tun[0][IP].ttl if outer is IP else tun[0][IPv6].hlim
    assert hl == 30  # GIF_TTL / GIF_HLIM
    assert p.a.stats["gifs_opackets"] - o0 == 1 and p.a.stats["gifs_ipackets"] - i0 == 1


@pytest.mark.parametrize(("dst", "outer"), [("10.0.0.2", IP), ("10.1.0.2", IPv6)])
def test_ping4_through_gif(dst: str, outer: type) -> None:
    p = Pair()
    p.sim.emit(p.a, p.a.ping4(dst, p.sim.now, seq=3))
    p.run()
    r = [e for e in p.a.drain_events() if isinstance(e, EchoReply4)]
    assert [(str(e.src), e.seq) for e in r] == [(dst, 3)]
    pk = [Ether(f) for f in p.frames if f[12:14] in (b"\x08\x00", b"\x86\xdd")]
    tun = [x for x in pk if outer in x and (x[outer].proto if outer is IP else x[outer].nh) == 4]
    assert len(tun) == 2
    inner = tun[0][outer].payload
    assert isinstance(inner, IP) and ICMP in inner and inner[IP].dst == dst


def test_linklocal_borrowed_and_removable() -> None:
    p = Pair()
    lls = [a.addr for a in p.a.addresses("gif0") if a.addr.is_link_local]
    # §1.4.1: the EUI-64 borrowed from eth0 (02:00:00:00:0a:01)
    assert lls == [A6("fe80::ff:fe00:a01")]
    assert p.a.gif.remove_linklocal("gif0", p.sim.now) == 1
    assert not [a for a in p.a.addresses("gif0") if a.addr.is_link_local]
    # and it stays off across down/up
    p.a.down("gif0", p.sim.now)
    p.sim.emit(p.a, p.a.up("gif0", p.sim.now))
    assert not [a for a in p.a.addresses("gif0") if a.addr.is_link_local]


def test_linklocal_md5_without_ethernet() -> None:
    from kame.addr import hostname_ifid

    n = Node("lonely", knobs=Knobs(KN))
    n.gif.create("gif0")
    n.up("gif0", 0.0)
    ll = [a.addr for a in n.addresses("gif0")]
    assert len(ll) == 1 and ll[0].packed[8:] == hostname_ifid("lonely")
    assert n.ifnets["gif0"].mtu == GIF_MTU


def test_config_refusals() -> None:
    n = Node("n", knobs=Knobs(KN))
    n.gif.create("gif0")
    with pytest.raises(ConfigError):
        n.gif.set_tunnel("gif0", "192.0.2.1", "2001:db8::1")
    with pytest.raises(ConfigError):
        n.gif.set_tunnel("gif0", "ff02::1", "2001:db8::1")
    with pytest.raises(ConfigError):
        n.gif.set_tunnel("gif0", "192.0.2.1", "192.0.2.1")
    with pytest.raises(ConfigError):
        n.gif.set_ecn("gif0", 5)
    with pytest.raises(TypeError):
        n.gif.set_tunnel("gif0", 1, "192.0.2.1")
    n.gif.set_tunnel("gif0", "192.0.2.1", "192.0.2.2")
    n.gif.create("gif1")
    with pytest.raises(ConfigError):
        n.gif.set_tunnel("gif1", "192.0.2.1", "192.0.2.2")
    n.add_interface("eth0", MA)
    with pytest.raises(ConfigError):
        n.gif.set_tunnel("eth0", "192.0.2.1", "192.0.2.3")
    with pytest.raises(ConfigError):
        n.gif.create("gif0")
    n.gif.destroy("gif1", 0.0)
    assert "gif1" not in n.ifnets


def test_no_tunnel_counted() -> None:
    n = Node("n", knobs=Knobs(KN))
    n.gif.create("gif0")
    n.up("gif0", 0.0)
    n.route_add("2001:db8:99::/48", None, "gif0")
    n.add_address("gif0", "2001:db8:1::1/128", 0.0)
    n.ping("2001:db8:99::1", 0.1)
    assert n.stats["gifs_notunnel"] >= 1


def _looping_pair(nesting: int) -> Pair:
    """a's route to gif0's outer destination 192.0.2.2 goes through gif1,
    whose outer destination's route goes through gif0: a loop."""
    p = Pair(kn={"net.link.gif.max_nesting": nesting})
    p.a.inet.route_add("192.0.2.2/32", None, "gif1")
    p.a.route_add("2001:db8:12::2/128", None, "gif0")
    return p


def test_recursion_same_tunnel_dropped() -> None:
    p = _looping_pair(8)
    p.sim.emit(p.a, p.a.ping("2001:db8:b0::1", p.sim.now))
    p.run()
    # gif0 -> (outer via gif1) -> gif1 -> (outer via gif0) -> gif0 again: dropped
    assert p.a.stats["gifs_looped"] == 1
    assert p.a.stats["gifs_toodeep"] == 0
    assert not p.frames


def test_recursion_nesting_knob() -> None:
    p = _looping_pair(1)
    p.sim.emit(p.a, p.a.ping("2001:db8:b0::1", p.sim.now))
    p.run()
    assert p.a.stats["gifs_toodeep"] == 1
    assert p.a.stats["gifs_looped"] == 0


def test_nesting_two_levels_delivers() -> None:
    """gif in gif, allowed by max_nesting 2: gif0's outer IPv4 goes in gif1."""
    p = Pair(kn={"net.link.gif.max_nesting": 2})
    for n, peer in ((p.a, 2), (p.b, 1)):
        n.inet.route_add(f"192.0.2.{peer}/32", None, "gif1")
    p.sim.emit(p.a, p.a.ping("2001:db8:b0::1", p.sim.now))
    p.run()
    assert len(replies6(p.a)) == 1
    tun = [Ether(f) for f in p.frames if f[12:14] == b"\x86\xdd"]
    # IPv6 (gif1) / IPv4 (gif0) / IPv6 / ICMPv6
    x = tun[0]
    assert x[IPv6].nh == 4 and x[IP].proto == 41 and ICMPv6EchoRequest in x


@pytest.mark.parametrize(("ecn", "inner_tos", "outer_tos"), [
    (-1, 0x03, 0x03), (0, 0x03, 0x00), (1, 0x03, 0x02), (2, 0x01, 0x01)])
def test_ecn_ingress_per_interface(ecn: int, inner_tos: int, outer_tos: int) -> None:
    p = Pair()
    p.a.gif.set_ecn("gif0", ecn)
    inner = bytes(IPv6(src="2001:db8:a0::1", dst="2001:db8:b0::1", tc=inner_tos) /
                  ICMPv6EchoRequest(id=1, seq=1))
    p.a.output("gif0", inner, p.sim.now)
    p.sim.emit(p.a, p.a._flush())
    p.run(0.1)
    tun = [Ether(f) for f in p.frames if f[12:14] == b"\x08\x00" and Ether(f)[IP].proto == 41]
    assert tun and tun[0][IP].tos == outer_tos


@pytest.mark.parametrize(("ecn", "outer", "inner", "want"), [
    (0, 0x03, 0x02, 0x02), (1, 0x03, 0x02, 0x03), (2, 0x03, 0x02, 0x03), (-1, 0x03, 0x00, 0x00)])
def test_ecn_egress_per_interface(ecn: int, outer: int, inner: int, want: int) -> None:
    p = Pair()
    p.b.gif.set_ecn("gif0", ecn)
    seen: list[int] = []
    pkt = (Ether(dst=MB, src=MA) / IP(src="192.0.2.1", dst="192.0.2.2", tos=outer) /
           IPv6(src="2001:db8:a0::1", dst="2001:db8:b0::1", tc=inner) /
           ICMPv6EchoRequest(id=9, seq=1))
    p.b.drop_own_frames = False
    orig = p.b.icmp6_input

    def spy(ifname, hdr, body, packet, now):  # type: ignore[no-untyped-def]
        seen.append(hdr.traffic_class)
        return orig(ifname, hdr, body, packet, now)

    p.b.icmp6_input = spy  # type: ignore[method-assign]
    p.b.receive("eth0", bytes(pkt), p.sim.now)
    assert seen == [want]


def test_ecn_rfc6040_drop() -> None:
    p = Pair()
    p.b.gif.set_ecn("gif0", 2)
    pkt = (Ether(dst=MB, src=MA) / IP(src="192.0.2.1", dst="192.0.2.2", tos=0x03) /
           IPv6(src="2001:db8:a0::1", dst="2001:db8:b0::1", tc=0) / ICMPv6EchoRequest())
    p.b.receive("eth0", bytes(pkt), p.sim.now)
    assert p.b.stats["gifs_ecndrop"] == 1


def test_scapy_built_combinations_and_unmatched() -> None:
    """scapy's four outer/inner combinations reach b's inner addresses and
    are answered; a tunnel packet from an unknown peer is not a gif's."""
    p = Pair()
    i0 = p.b.stats["gifs_ipackets"]
    cases = [
        Ether(dst=MB, src=MA) / IP(src="192.0.2.1", dst="192.0.2.2") /
        IPv6(src="2001:db8:a0::1", dst="2001:db8:b0::1") / ICMPv6EchoRequest(id=1),
        Ether(dst=MB, src=MA) / IPv6(src="2001:db8:12::1", dst="2001:db8:12::2") /
        IPv6(src="2001:db8:a1::1", dst="2001:db8:b1::1") / ICMPv6EchoRequest(id=2),
        Ether(dst=MB, src=MA) / IP(src="192.0.2.1", dst="192.0.2.2") /
        IP(src="10.0.0.1", dst="10.0.0.2") / ICMP(id=3),
        Ether(dst=MB, src=MA) / IPv6(src="2001:db8:12::1", dst="2001:db8:12::2") /
        IP(src="10.1.0.1", dst="10.1.0.2") / ICMP(id=4),
    ]
    for c in cases:
        out = p.b.receive("eth0", bytes(c), p.sim.now)
        assert out, c.summary()
    assert p.b.stats["gifs_ipackets"] - i0 == 4
    stray = (Ether(dst=MB, src=MA) / IP(src="192.0.2.9", dst="192.0.2.2") /
             IPv6(src="2001:db8:a0::1", dst="2001:db8:b0::1") / ICMPv6EchoRequest())
    p.b.receive("eth0", bytes(stray), p.sim.now)
    assert p.b.stats["ips_noproto"] == 1


def test_inner_ptb_from_outer_ptb() -> None:
    """RFC 4213 §3.2 / RFC 2473 §7: a PTB about gif1's outer packet lowers
    the tunnel MTU and the inner source hears a PTB with it."""
    p = Pair()
    p.a.ifnets["gif1"].mtu = 1480
    # a forwards for a host behind it: an inner packet from 2001:db8:a9::5
    big = bytes(IPv6(src="2001:db8:a9::5", dst="2001:db8:b1::1", hlim=64) /
                ICMPv6EchoRequest(data=b"x" * 1352))
    p.a.output("gif1", big, p.sim.now)
    outer = next(f for f in p.a._flush() if f[1][12:14] == b"\x86\xdd")[1][14:]
    ptb = (Ether(dst=MA, src=MB) / IPv6(src="2001:db8:12::2", dst="2001:db8:12::1") /
           ICMPv6PacketTooBig(mtu=1300) / outer[:1232])
    p.a.route_add("2001:db8:a9::/48", "2001:db8:12::2", "eth0")
    out = p.a.receive("eth0", bytes(ptb), p.sim.now)
    assert p.a.stats["gifs_pmtu"] == 1
    assert p.a.cache.info("gif1").linkmtu == 1280  # 1300 - 40, floored at 1280
    assert p.a._linkmtu("gif1") == 1280
    p.frames.clear()
    p.sim.emit(p.a, out)
    p.run(0.5)
    sent = [Ether(f) for f in p.frames if f[12:14] == b"\x86\xdd"]
    inner_ptb = [x for x in sent if ICMPv6PacketTooBig in x]
    assert inner_ptb and inner_ptb[0][IPv6].dst == "2001:db8:a9::5"
    assert inner_ptb[0][ICMPv6PacketTooBig].mtu == 1280


def test_inner_fragneeded_from_outer_v4() -> None:
    p = Pair()
    big = bytes(IP(src="10.9.0.5", dst="10.0.0.2", flags="DF", ttl=64) / ICMP() /
                (b"y" * 1200))
    p.a.inet.route_add("10.9.0.0/24", "192.0.2.2", "eth0")
    p.a.inet.ether_output("gif0", IPv4Address("10.0.0.2"), big, p.sim.now)
    outer = next(f for _i, f in p.a._flush() if f[12:14] == b"\x08\x00")[14:]
    err = (Ether(dst=MA, src=MB) / IP(src="192.0.2.2", dst="192.0.2.1") /
           ICMP(type=3, code=4, nexthopmtu=1100) / outer[:576])
    out = p.a.receive("eth0", bytes(err), p.sim.now)
    assert p.a.stats["gifs_pmtu"] == 1
    assert p.a.gif.linkmtu4("gif0") == 1080
    p.frames.clear()
    p.sim.emit(p.a, out)
    p.run(0.5)
    sent = [Ether(f) for f in p.frames if f[12:14] == b"\x08\x00"]
    fn = [x for x in sent if ICMP in x and x[ICMP].type == 3 and x[IP].dst == "10.9.0.5"]
    assert fn and fn[0][ICMP].nexthopmtu == 1080


def _esp_pair(p: Pair, inner: bool) -> None:
    """Transport-mode ESP between the inner addresses (IPsec over gif) or
    between the outer IPv6 addresses (gif over IPsec), both directions."""
    from kame.key.setkey import run

    a, b = ("2001:db8:a1::1", "2001:db8:b1::1") if inner else ("2001:db8:12::1",
                                                                "2001:db8:12::2")
    conf = f"""
add {a} {b} esp 0x1000 -m transport -E aes-cbc 0x{'11' * 16} -A hmac-sha1 0x{'22' * 20};
add {b} {a} esp 0x1001 -m transport -E aes-cbc 0x{'33' * 16} -A hmac-sha1 0x{'44' * 20};
"""
    for n, (s, d) in ((p.a, (a, b)), (p.b, (b, a))):
        key = n.attach_key()
        run(conf + f"spdadd {s} {d} any -P out ipsec esp/transport//require;\n"
                   f"spdadd {d} {s} any -P in ipsec esp/transport//require;\n", key.engine, 0.0)


@pytest.mark.parametrize("inner", [True, False], ids=["ipsec-over-gif", "gif-over-ipsec"])
def test_ipsec_and_gif(inner: bool) -> None:
    p = Pair()
    _esp_pair(p, inner)
    p.sim.emit(p.a, p.a.ping("2001:db8:b1::1", p.sim.now, seq=1))
    p.run()
    assert len(replies6(p.a)) == 1
    x = next(Ether(f) for f in p.frames if f[12:14] == b"\x86\xdd")
    if inner:  # outer IPv6 (41) / inner IPv6 / ESP
        assert x[IPv6].nh == 41 and x[IPv6].payload.nh == 50
    else:      # outer IPv6 / ESP (the gif packet inside)
        assert x[IPv6].nh == 50
    assert p.a.stats["gifs_looped"] == 0


@given(st.binary(max_size=200), st.sampled_from([4, 41]))
def test_garbage_inside_tunnel_is_counted(body: bytes, proto: int) -> None:
    n = _FUZZ
    before = sum(n.stats[k] for k in ("gifs_ierrors", "gifs_ipackets", "ips_noproto"))
    pkt = Ether(dst=MB, src=MA) / IP(src="192.0.2.1", dst="192.0.2.2", proto=proto) / body
    n.receive("eth0", bytes(pkt), 5.0)
    after = sum(n.stats[k] for k in ("gifs_ierrors", "gifs_ipackets", "ips_noproto"))
    assert after == before + 1 or n.stats["ips_badaddr"] or n.stats["ips_total"]


def _fuzz_node() -> Node:
    n = Node("f", knobs=Knobs(KN), seed=9)
    n.add_interface("eth0", MB)
    n.up("eth0", 0.0)
    n.add_address4("eth0", "192.0.2.2/24", 0.0)
    n.gif.create("gif0")
    n.gif.set_tunnel("gif0", "192.0.2.2", "192.0.2.1")
    n.up("gif0", 0.0)
    n.poll(3.0)
    return n


_FUZZ = _fuzz_node()
