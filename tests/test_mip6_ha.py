"""Mobile IPv6 home agent and mobile node (seed §6.2, RFC 6275 §10, §11;
kame.mip6.homeagent, kame.mip6.mobilenode).

Three of our nodes on in-memory links: a home agent routing between the
home link (2001:db8:aa::/64), a foreign link (2001:db8:bb::/64) and the
correspondent's link (2001:db8:cc::/64); the mobile node moves between the
first two by being unplugged and plugged in. Then scapy is an independent
mobile node talking to our home agent (its MIP6MH_BU / HAO / MIP6MH_BA
layers), tshark dissects what the home agent and the mobile node emit, and
hostile input (forged updates, floods, unprotected updates where IPsec is
required) gets its status or a counted drop."""

from __future__ import annotations

import shutil
import subprocess
from ipaddress import IPv6Address, IPv6Network
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from kame.ip6.icmp6 import EchoReply
from kame.knobs import Knobs
from kame.link.memory import MemoryLink, Simulation
from kame.mip6 import HomeAgent, MobileNode, ha_anycast
from kame.nd6 import codec
from kame.nd6.rtr import RaConfig
from kame.nd6.types import PrefixInfo
from kame.node import Node

HA_H = IPv6Address("2001:db8:aa::1")
HA_F = IPv6Address("2001:db8:bb::1")
HA_C = IPv6Address("2001:db8:cc::1")
HA_G = IPv6Address("2001:db8:dd::1")
CN = IPv6Address("2001:db8:cc::2")
HOA = IPv6Address("2001:db8:aa::10")
MAC_HA = [bytes.fromhex(f"0200000000a{i}") for i in range(4)]
MAC_MN = bytes.fromhex("0200000000b1")
MAC_CN = bytes.fromhex("0200000000c1")

SENT: list[bytes] = []  # IPv6 packets our nodes sent, for tshark


def _pi(prefix: str, vl: int = 2592000) -> PrefixInfo:
    return PrefixInfo(IPv6Address(prefix), 64, valid_lifetime=vl, preferred_lifetime=min(vl, 604800))


class Rig:
    """HA + MN + CN on three links under one clock."""

    def __init__(self, *, ha_knobs: dict[str, int] | None = None, home_vl: int = 2592000,
                 mn_ha: IPv6Address | None = HA_H) -> None:
        base = {"net.inet6.ip6.dad_count": 1, "net.inet6.icmp6.errppslimit": -1}
        self.sim = Simulation()
        self.home, self.foreign, self.clink = MemoryLink(), MemoryLink(), MemoryLink()
        for link in (self.home, self.foreign, self.clink):
            link.add_tap(self._tap)
        self.ha = Node("ha", knobs=Knobs({**base, "net.inet6.ip6.forwarding": 1,
                                          **(ha_knobs or {})}), seed=1)
        host = {**base, "net.inet6.ip6.accept_rtadv": 1}
        self.mn = Node("mn", knobs=Knobs(host), seed=2)
        self.cn = Node("cn", knobs=Knobs(host), seed=3)
        now = 0.0
        self.foreign2 = MemoryLink()
        self.foreign2.add_tap(self._tap)
        for i, (ifn, link, addr) in enumerate((("h0", self.home, HA_H), ("f0", self.foreign, HA_F),
                                              ("c0", self.clink, HA_C),
                                              ("g0", self.foreign2, HA_G))):
            self.ha.add_interface(ifn, MAC_HA[i])
            self.sim.connect(self.ha, ifn, link, MAC_HA[i])
            self.sim.emit(self.ha, self.ha.up(ifn, now))
            self.ha.add_address(ifn, f"{addr}/64", now)
        self.mn.add_interface("eth0", MAC_MN)
        self.mn_ep = self.sim.connect(self.mn, "eth0", self.home, MAC_MN)
        self.sim.emit(self.mn, self.mn.up("eth0", now))
        self.cn.add_interface("eth0", MAC_CN)
        self.sim.connect(self.cn, "eth0", self.clink, MAC_CN)
        self.sim.emit(self.cn, self.cn.up("eth0", now))
        self.sim.run(2.0)
        vls = {"h0": home_vl, "f0": 2592000, "c0": 2592000, "g0": 2592000}
        for ifn, pfx in (("h0", "2001:db8:aa::"), ("f0", "2001:db8:bb::"), ("c0", "2001:db8:cc::"),
                         ("g0", "2001:db8:dd::")):
            self.ha.rtr.advertise(ifn, RaConfig(max_interval=4.0, min_interval=3.0,
                                                prefixes=(_pi(pfx, vls[ifn]),),
                                                home_agent=(10, 1800) if ifn == "h0" else None),
                                  2.0)
        self.cn.add_address("eth0", f"{CN}/64", 2.0)
        self.hagent = HomeAgent.attach(self.ha, "h0", 2.0)
        self.mobile = MobileNode.attach(self.mn, "eth0", f"{HOA}/64", mn_ha, 2.0)
        self.sim.run(12.0)

    def _tap(self, _t: float, frame: bytes) -> None:
        if frame[12:14] == b"\x86\xdd" and frame[6:12] in (*MAC_HA, MAC_MN, MAC_CN):
            SENT.append(frame[14:])

    def move(self, to: MemoryLink) -> None:
        """Unplug the mobile node and plug it into ``to``."""
        self.mn_ep.link.detach(self.mn_ep.name)
        self.mn_ep = self.sim.connect(self.mn, "eth0", to, MAC_MN)

    def run(self, dt: float) -> None:
        self.sim.run(self.sim.now + dt)

    def ping(self, dst: IPv6Address = HOA, seq: int = 1) -> list[EchoReply]:
        """The CN pings ``dst``: the replies it got within 3 s."""
        self.cn.events.clear()
        self.sim.emit(self.cn, self.cn.ping(dst, self.sim.now, seq=seq))
        self.run(3.0)
        return [e for e in self.cn.events if isinstance(e, EchoReply) and e.seq == seq]


@pytest.fixture(scope="module")
def rig() -> Rig:
    return Rig()


def st(node: Node, name: str) -> int:
    return node.stats[name]


def test_at_home_no_tunnel(rig: Rig) -> None:
    r = rig
    assert not r.mobile.away
    assert r.ping(seq=1), "the mobile node answers at home"
    assert st(r.ha, "mip6s_tunnelout") == 0 and st(r.mn, "mip6s_revtunnelout") == 0


def test_move_register_tunnel_ro_and_home(rig: Rig) -> None:
    r = rig
    r.move(r.foreign)
    r.run(10.0)
    m = r.mobile
    assert m.away and m.coa is not None and m.coa in IPv6Network(
        "2001:db8:bb::/64")
    assert st(r.mn, "mip6s_movement") >= 1
    b = r.ha.mip6.bc.lookup(HOA)
    assert b is not None and b.home_reg and b.coa == m.coa and b.ha_addr == HA_H
    assert st(r.ha, "mip6s_hadad") == 1 and st(r.ha, "mip6s_haproxy") == 1
    assert r.ha.nbr.proxy.lookup("h0", HOA)[0]
    assert m.bul[HA_H].state == "bound"
    # both ways through the tunnel
    t0, rt0 = st(r.ha, "mip6s_tunnelout"), st(r.ha, "mip6s_revtunnel")
    assert r.ping(seq=2), "echo through the home agent's tunnel and the reverse tunnel"
    assert st(r.ha, "mip6s_tunnelout") > t0 and st(r.ha, "mip6s_revtunnel") > rt0
    assert st(r.mn, "mip6s_tunnelin") >= 1 and st(r.mn, "mip6s_revtunnelout") >= 1
    # route optimization with our own correspondent node
    assert m.route_optimize(CN, r.sim.now)
    r.run(5.0)
    assert m.bul[CN].state == "bound", m.bul[CN]
    cb = r.cn.mip6.bc.lookup(HOA)
    assert cb is not None and not cb.home_reg and cb.coa == m.coa
    t1, rh0, hao0 = st(r.ha, "mip6s_tunnelout"), st(r.mn, "mip6s_rh2"), st(r.cn, "mip6s_hao")
    assert r.ping(seq=3), "echo by route optimization"
    assert st(r.ha, "mip6s_tunnelout") == t1, "no longer through the home agent"
    assert st(r.mn, "mip6s_rh2") > rh0 and st(r.cn, "mip6s_hao") > hao0
    # back home: deregistration with the home agent and the correspondent
    r.move(r.home)
    r.run(10.0)
    assert not m.away and st(r.mn, "mip6s_returnhome") == 1
    assert r.ha.mip6.bc.lookup(HOA) is None and not r.ha.nbr.proxy.lookup("h0", HOA)[0]
    assert r.cn.mip6.bc.lookup(HOA) is None
    assert st(r.mn, "mip6s_homedereg") == 1 and not m.bul
    t2, rv2 = st(r.ha, "mip6s_tunnelout"), st(r.mn, "mip6s_revtunnelout")
    assert r.ping(seq=4), "at home again"
    assert st(r.ha, "mip6s_tunnelout") == t2 and st(r.mn, "mip6s_revtunnelout") == rv2




def test_move_between_foreign_links_with_route_optimization() -> None:
    """From one foreign link to another: a new care-of address, the home
    agent's binding follows it (same entry, proxy kept), and the
    correspondent's binding is renewed through a fresh return routability."""
    r = Rig()
    m = r.mobile
    r.move(r.foreign)
    r.run(10.0)
    assert m.route_optimize(CN, r.sim.now)
    r.run(5.0)
    coa1 = m.coa
    assert m.bul[CN].state == "bound"
    r.move(r.foreign2)
    r.run(12.0)
    assert m.coa is not None and m.coa != coa1 and m.coa in IPv6Network("2001:db8:dd::/64")
    b = r.ha.mip6.bc.lookup(HOA)
    assert b is not None and b.coa == m.coa and r.ha.mip6.ha.coas == {m.coa: 1}
    assert st(r.ha, "mip6s_hadad") == 1  # a refresh of the registration: no DAD again
    cb = r.cn.mip6.bc.lookup(HOA)
    assert cb is not None and cb.coa == m.coa and m.bul[CN].state == "bound"
    assert r.ping(seq=41)


def test_kame_mip6_cli_shows_bindings() -> None:
    """``kame mip6``: the control socket's snapshot and its text, for the
    home agent (a home registration) and the mobile node (its list)."""
    from kame.cli.tools import format_mip6
    from kame.ctl import snap_mip6

    r = Rig()
    r.move(r.foreign)
    r.run(10.0)
    ha = snap_mip6(r.ha, r.sim.now)
    assert ha["roles"] == ["correspondent", "home_agent"] and ha["ha_links"] == ["h0"]
    (b,) = ha["bc"]
    assert b["home"] == str(HOA) and b["coa"] == str(r.mobile.coa) and b["home_reg"]
    text = format_mip6(ha)
    assert f"  {HOA} -> {r.mobile.coa} seq {b['seq']} lifetime 600s" in text
    assert f"(home registration via {HA_H})" in text
    mn = snap_mip6(r.mn, r.sim.now)
    assert "mobile_node" in mn["roles"] and mn["mn"]["away"]
    text = format_mip6(mn, cache=False)
    assert f"mobile node: home {HOA} (2001:db8:aa::/64), home agent {HA_H}, away" in text
    assert f"  {HA_H} (home agent) bound seq" in text and "binding cache:" not in text


def test_dynamic_home_agent_address_discovery() -> None:
    """A mobile node that does not know its home agent asks the home
    prefix's Home-Agents anycast address from its first care-of address
    (RFC 6275 §11.4.1), takes the address of the reply, registers."""
    r = Rig(mn_ha=None)
    r.move(r.foreign)
    r.run(10.0)
    m = r.mobile
    assert m.ha == HA_H and m.bul[HA_H].state == "bound"
    assert st(r.mn, "mip6s_odhaadreq") == 1 and st(r.mn, "mip6s_dhaadreply") == 1
    assert st(r.ha, "mip6s_odhaad") == 1
    assert r.ping(seq=71)


def test_dhaad_retries_then_gives_up() -> None:
    """No home agent answers: the request goes again after 3, 6, 12, 24 s
    (INITIAL_DHAAD_TIMEOUT doubled), five in all (DHAAD_RETRIES 4), then
    the discovery is given up; nothing from the home address leaves."""
    r = Rig(mn_ha=None)
    r.ha.mip6.ha = None  # the router is no home agent any more
    times: list[float] = []
    r.foreign.add_tap(lambda t, f: times.append(t) if f[6:12] == MAC_MN and f[20] == 58
                      and f[54] == 144 else None)
    r.move(r.foreign)
    r.run(120.0)
    assert [round(b - a, 1) for a, b in pairwise(times)] == [3.0, 6.0, 12.0, 24.0]
    assert st(r.mn, "mip6s_odhaadreq") == 5 and st(r.mn, "mip6s_dhaadfail") == 1
    assert r.mobile.ha is None and not r.mobile.bul

def test_home_agent_router_advertisements() -> None:
    """The home agent's RAs on the home link carry the H flag and a Home
    Agent Information option (RFC 6275 §7.1, §7.4), as scapy reads them;
    those on other links do not."""
    from scapy.layers.inet6 import ICMPv6ND_RA, ICMPv6NDOptHAInfo

    r = Rig()
    ras: dict[str, list[Any]] = {"h": [], "f": []}
    r.home.add_tap(lambda t, f: ras["h"].append(IPv6(f[14:])) if f[6:12] == MAC_HA[0] else None)
    r.foreign.add_tap(lambda t, f: ras["f"].append(IPv6(f[14:])) if f[6:12] == MAC_HA[1]
                      else None)
    r.run(10.0)
    h = [q for q in ras["h"] if ICMPv6ND_RA in q]
    f = [q for q in ras["f"] if ICMPv6ND_RA in q]
    assert h and f
    for q in h:
        assert q[ICMPv6ND_RA].H == 1
        assert q[ICMPv6NDOptHAInfo].pref == 10 and q[ICMPv6NDOptHAInfo].lifetime == 1800
    assert all(q[ICMPv6ND_RA].H == 0 and ICMPv6NDOptHAInfo not in q for q in f)

def _bu_times(link: MemoryLink) -> list[tuple[float, int]]:
    """(time, sequence number) of each Binding Update the mobile node sends
    on ``link`` (with a Home Address option, right after the IPv6 header)."""
    sends: list[tuple[float, int]] = []

    def tap(t: float, f: bytes) -> None:
        if f[6:12] == MAC_MN and f[12:14] == b"\x86\xdd" and f[20] == 60:
            p = f[14:]
            mh = p[40 + 24:]
            if p[40] == 135 and mh[2] == 5:
                sends.append((t, int.from_bytes(mh[6:8], "big")))
    link.add_tap(tap)
    return sends


def test_retransmission_backoff_first_registration() -> None:
    """A home agent that never answers (the address configured is nobody's):
    the first Binding Update goes again after 1.5 s (InitialBindackTimeout
    FirstReg), then 3, 6, 12, 24, 32, 32 s (RFC 6275 §11.8: doubled up to
    MAX_BINDACK_TIMEOUT, then at that rate), each with a greater sequence
    number (§11.7.1)."""
    r = Rig(mn_ha=IPv6Address("2001:db8:aa::99"))
    sends = _bu_times(r.foreign)
    r.move(r.foreign)
    r.run(130.0)
    assert len(sends) >= 8
    gaps = [round(b[0] - a[0], 1) for a, b in pairwise(sends)]
    assert gaps[:7] == [1.5, 3.0, 6.0, 12.0, 24.0, 32.0, 32.0], gaps
    seqs = [s for _t, s in sends]
    assert all((b - a) & 0xFFFF == 1 for a, b in pairwise(seqs))
    assert st(r.mn, "mip6s_buretrans") == len(sends) - 1
    # no home address as a source while nothing is registered (§11.3.1)
    echo = bytes(IPv6(src=str(HOA), dst=str(CN)) / ICMPv6EchoRequest())
    before = st(r.mn, "ip6s_localout")
    r.mn.output("eth0", echo, r.sim.now)
    assert st(r.mn, "mip6s_nohomereg") == 1 and st(r.mn, "ip6s_localout") == before



def test_retransmission_backoff_reregistration() -> None:
    """With a binding at the home agent, an unanswered Binding Update (its
    acknowledgements lost on the foreign link) goes again after
    INITIAL_BINDACK_TIMEOUT, 1 s, then 2, 4, 8, 16, 32, 32 s; the first
    acknowledgement that gets through ends it."""
    r = Rig()
    r.move(r.foreign)
    r.run(10.0)
    m = r.mobile
    assert m.bul[HA_H].state == "bound"
    lose = [True]

    def drop_ba(f: bytes) -> bytes | None:
        if lose[0] and f[6:12] == MAC_HA[1] and f[12:14] == b"\x86\xdd" and f[20] == 43:
            return None  # the home agent's acknowledgements (type 2 routing header)
        return f
    r.foreign.filters.append(drop_ba)
    sends = _bu_times(r.foreign)
    m.home_register(r.sim.now)
    r.run(100.0)
    gaps = [round(b[0] - a[0], 1) for a, b in pairwise(sends)]
    assert gaps[:7] == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 32.0], gaps
    lose[0] = False
    r.run(40.0)
    assert m.bul[HA_H].state == "bound" and m.bul[HA_H].retrans_at is None
    assert r.ping(seq=51)

def test_lifetime_bounded_by_home_prefix_and_refreshed() -> None:
    """The home prefix advertised with a valid lifetime of 300 s: the home
    agent grants 300 s of the 600 asked (§10.3.1); the mobile node refreshes
    at 80 % and the binding never lapses."""
    r = Rig(home_vl=300)
    r.move(r.foreign)
    r.run(10.0)
    b = r.ha.mip6.bc.lookup(HOA)
    assert b is not None and b.lifetime == 300
    e = r.mobile.bul[HA_H]
    assert e.state == "bound" and e.expire - r.sim.now <= 300
    r.run(400.0)
    assert st(r.mn, "mip6s_burefresh") >= 1
    assert r.ha.mip6.bc.lookup(HOA) is not None and st(r.ha, "mip6s_bcexpire") == 0
    assert r.ping(seq=9)


def test_binding_update_list_is_bounded() -> None:
    r = Rig()
    r.mn.knobs["net.inet6.mip6.bul_max"] = 2
    r.move(r.foreign)
    r.run(10.0)
    m = r.mobile
    assert m.route_optimize(CN, r.sim.now)
    assert not m.route_optimize(IPv6Address("2001:db8:cc::3"), r.sim.now)
    assert st(r.mn, "mip6s_bulfull") == 1 and len(m.bul) == 2



def test_correspondent_without_mobile_ipv6_ends_route_optimization() -> None:
    """A correspondent without Mobile IPv6 (``net.inet6.mip6.correspondent=0``,
    as Linux without CONFIG_IPV6_MIP6) answers the Test Inits with Parameter
    Problem code 1: the mobile node gives up route optimization with it
    (RFC 6275 §11.3.5) and keeps using the tunnel."""
    r = Rig()
    r.cn.knobs["net.inet6.mip6.correspondent"] = 0
    r.move(r.foreign)
    r.run(10.0)
    assert r.mobile.route_optimize(CN, r.sim.now)
    r.run(5.0)
    assert CN not in r.mobile.bul and CN in r.mobile.no_ro
    assert st(r.mn, "mip6s_rrnotsupported") == 1 and st(r.cn, "ip6s_noproto") >= 1
    assert not r.mobile.route_optimize(CN, r.sim.now)
    assert r.ping(seq=31)

def test_esp_required_for_home_registration() -> None:
    """RFC 3776 / 4877: with ``spdadd HOA HA 135 -P in ipsec
    esp/transport//require`` at the home agent an unprotected Binding
    Update is dropped by IPsec (in_polvio; no binding, no answer); once the
    mobile node has the SAs and the matching out policy, its updates go in
    ESP and the registration is accepted."""
    from kame.key.setkey import run as setkey

    r = Rig()
    kha = r.ha.attach_key()
    sas = (f"add {HOA} {HA_H} esp 0x1000 -m transport -E rijndael-cbc 0x{'11' * 16} "
           f"-A hmac-sha1 0x{'33' * 20};\n"
           f"add {HA_H} {HOA} esp 0x2000 -m transport -E rijndael-cbc 0x{'22' * 16} "
           f"-A hmac-sha1 0x{'44' * 20};\n")
    assert not setkey(sas + f"spdadd {HOA} {HA_H} 135 -P in ipsec esp/transport//require;\n"
                      f"spdadd {HA_H} {HOA} 135 -P out ipsec esp/transport//require;",
                      kha.engine, r.sim.now).errors
    r.move(r.foreign)
    r.run(10.0)
    assert r.ha.mip6.bc.lookup(HOA) is None
    assert kha.stats["in_polvio"] >= 2 and st(r.ha, "mip6s_hareg") == 0
    assert r.mobile.bul[HA_H].state == "wait" and st(r.mn, "mip6s_buretrans") >= 2
    esp: list[bytes] = []
    r.foreign.add_tap(lambda t, f: esp.append(f) if f[12:14] == b"\x86\xdd" and 50 in (
        f[20], f[54]) else None)
    kmn = r.mn.attach_key()
    assert not setkey(sas + f"spdadd {HOA} {HA_H} 135 -P out ipsec esp/transport//require;\n"
                      f"spdadd {HA_H} {HOA} 135 -P in ipsec esp/transport//require;",
                      kmn.engine, r.sim.now).errors
    r.run(40.0)
    b = r.ha.mip6.bc.lookup(HOA)
    assert b is not None and b.home_reg, (kha.stats, kmn.stats)
    assert r.mobile.bul[HA_H].state == "bound"
    assert esp, "the update and the acknowledgement went in ESP"
    assert kha.stats["in_espauthsucc"] >= 1 and kmn.stats["in_espauthsucc"] >= 1


# --- scapy as the mobile node, our home agent alone ------------------------------------------

scapy = pytest.importorskip("scapy.layers.inet6")
from scapy.layers.inet6 import (
    HAO,
    MIP6MH_BA,
    MIP6MH_BU,
    ICMPv6EchoRequest,
    ICMPv6HAADReply,
    ICMPv6HAADRequest,
    ICMPv6MPAdv,
    ICMPv6MPSol,
    ICMPv6ND_NA,
    ICMPv6NDOptPrefixInfo,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrRouting,
)

COA = IPv6Address("2001:db8:bb::99")
MAC_PEER = bytes.fromhex("0200000000d1")


def ha_node(**knobs: int) -> Node:
    k = {"net.inet6.ip6.dad_count": 1, "net.inet6.icmp6.errppslimit": -1,
         "net.inet6.ip6.forwarding": 1, **knobs}
    n = Node("ha", knobs=Knobs(k), seed=7)
    for i, (ifn, addr) in enumerate((("h0", HA_H), ("f0", HA_F), ("c0", HA_C))):
        n.add_interface(ifn, MAC_HA[i])
        n.up(ifn, 0.0)
        n.add_address(ifn, f"{addr}/64", 0.0)
    n.poll(5.0)
    HomeAgent.attach(n, "h0", 5.0)
    n.poll(7.0)
    n.cache.set_permanent("f0", COA, MAC_PEER)
    n.cache.set_permanent("c0", CN, MAC_PEER)
    return n


def _ipv6(frames: list[tuple[str, bytes]], want_nd: bool = False) -> list[tuple[str, bytes]]:
    out = []
    for ifn, f in frames:
        p = f[14:]
        if f[12:14] != b"\x86\xdd":
            continue
        nd = p[6] == 0 or (p[6] == 58 and p[40] in range(130, 144))
        if nd != want_nd:
            continue
        out.append((ifn, p))
    SENT.extend(p for _i, p in out)
    return out


def hrx(node: Node, ifname: str, pkt: Any, now: float) -> list[tuple[str, bytes]]:
    i = ["h0", "f0", "c0"].index(ifname)
    return _ipv6(list(node.receive(ifname, codec.ether(MAC_HA[i], MAC_PEER, bytes(pkt)), now)))


def bu_pkt(seq: int, *, hoa: IPv6Address = HOA, coa: IPv6Address = COA, ha: IPv6Address = HA_H,
           lifetime: int = 100, flags: str = "AH") -> IPv6:
    if coa == hoa:
        return IPv6(src=str(coa), dst=str(ha)) / MIP6MH_BU(seq=seq, flags=flags, mhtime=lifetime)
    return (IPv6(src=str(coa), dst=str(ha)) / IPv6ExtHdrDestOpt(options=[HAO(hoa=str(hoa))])
            / MIP6MH_BU(seq=seq, flags=flags, mhtime=lifetime))


def ba_of(out: list[tuple[str, bytes]]) -> MIP6MH_BA:
    (ifn, p), = [(i, p) for i, p in out if MIP6MH_BA in IPv6(p)]
    q = IPv6(p)
    assert ifn == "f0" and q.src == str(HA_H) and q.dst == str(COA)
    rh = q[IPv6ExtHdrRouting]
    assert rh.type == 2 and rh.segleft == 1 and rh.addresses == [str(HOA)]
    # scapy's checksum over the pseudo-header with the home address (the
    # final destination, RFC 6275 §6.1.1) is ours
    want = q[MIP6MH_BA].cksum
    del q[MIP6MH_BA].cksum
    assert IPv6(bytes(q))[MIP6MH_BA].cksum == want
    return IPv6(p)[MIP6MH_BA]


def register(n: Node, seq: int = 10, now: float = 10.0, flags: str = "AH") -> MIP6MH_BA:
    assert hrx(n, "f0", bu_pkt(seq, flags=flags), now) == []  # DAD first
    return ba_of(_ipv6(n.poll(now + 1.1)))


def test_scapy_home_registration_and_statuses() -> None:
    n = ha_node()
    ba = register(n)
    assert ba.status == 0 and ba.seq == 10 and ba.mhtime == 100
    assert n.nbr.proxy.lookup("h0", HOA)[0] and not n.nbr.proxy.lookup(
        "h0", IPv6Address("fe80::10"))[0]
    # an old sequence number: 135 with the last accepted one
    assert ba_of(hrx(n, "f0", bu_pkt(9), 13.0)).status == 135
    assert ba_of(hrx(n, "f0", bu_pkt(10), 13.0)).seq == 10
    # a refresh is no new DAD
    r = ba_of(hrx(n, "f0", bu_pkt(11, lifetime=2000), 14.0))
    assert r.status == 0 and r.mhtime * 4 == 3600  # ha_lifetime_max
    # not the home subnet, one of ours, a correspondent registration for it
    out = hrx(n, "f0", IPv6(src=str(COA), dst=str(HA_H)) / IPv6ExtHdrDestOpt(
        options=[HAO(hoa="2001:db8:ee::10")]) / MIP6MH_BU(seq=1, flags="AH", mhtime=10), 15.0)
    assert IPv6(out[0][1])[MIP6MH_BA].status == 132
    out = hrx(n, "f0", IPv6(src=str(COA), dst=str(HA_H)) / IPv6ExtHdrDestOpt(
        options=[HAO(hoa=str(HA_H))]) / MIP6MH_BU(seq=1, flags="AH", mhtime=10), 15.0)
    assert IPv6(out[0][1])[MIP6MH_BA].status == 129
    out = hrx(n, "f0", bu_pkt(12, flags="A"), 15.0)  # no H for a home registration
    assert IPv6(out[0][1])[MIP6MH_BA].status == 139
    assert n.stats["mip6s_hanothome"] == 1 and n.stats["mip6s_haprohibited"] == 1
    assert n.stats["mip6s_hatypechange"] == 1
    # deregistration: from the care-of address with lifetime 0
    r = ba_of(hrx(n, "f0", bu_pkt(13, lifetime=0), 16.0))
    assert r.status == 0 and r.mhtime == 0
    assert n.mip6.bc.lookup(HOA) is None and not n.nbr.proxy.lookup("h0", HOA)[0]
    # a deregistration with nothing registered: 133
    assert ba_of(hrx(n, "f0", bu_pkt(14, lifetime=0), 17.0)).status == 133
    # without the A flag an acceptance is not answered, a refusal is
    assert hrx(n, "f0", bu_pkt(20, flags="H"), 18.0) == []
    assert _ipv6(n.poll(19.2)) == [] and n.mip6.bc.lookup(HOA) is not None
    assert ba_of(hrx(n, "f0", bu_pkt(19, flags="H"), 20.0)).status == 135


def test_scapy_served_list_and_home_registration_not_supported() -> None:
    n = ha_node()
    n.mip6.ha.served = {IPv6Address("2001:db8:aa::20")}
    assert ba_of(hrx(n, "f0", bu_pkt(1), 10.0)).status == 133
    # a node that is no home agent: 131 (the correspondent's answer)
    c = ha_node()
    c.mip6.ha = None
    assert ba_of(hrx(c, "f0", bu_pkt(1), 10.0)).status == 131


def test_scapy_dad_finds_the_home_address_in_use() -> None:
    """Another node answers the home agent's DAD probe: status 134, no proxy."""
    n = ha_node()
    assert hrx(n, "f0", bu_pkt(5), 10.0) == []
    i = 0
    na = (IPv6(src="fe80::99", dst="ff02::1", hlim=255)
          / ICMPv6ND_NA(tgt=str(HOA), R=0, S=0, O=1))
    n.receive("h0", codec.ether(MAC_HA[i], MAC_PEER, bytes(na)), 10.5)
    ba = ba_of(_ipv6(n.poll(11.2)))
    assert ba.status == 134 and n.stats["mip6s_hadaddup"] == 1
    assert n.mip6.bc.lookup(HOA) is None and not n.nbr.proxy.lookup("h0", HOA)[0]


def test_scapy_link_local_flag_proxies_both() -> None:
    n = ha_node()
    assert register(n, flags="AHL").status == 0
    assert n.nbr.proxy.lookup("h0", HOA)[0]
    assert n.nbr.proxy.lookup("h0", IPv6Address("fe80::10"))[0]
    # the home agent answers a Neighbor Solicitation for the home address
    from scapy.layers.inet6 import ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr
    ns = (IPv6(src="2001:db8:aa::77", dst="ff02::1:ff00:10", hlim=255)
          / ICMPv6ND_NS(tgt=str(HOA)) / ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:d1"))
    out = _ipv6(list(n.receive("h0", codec.ether(bytes.fromhex("3333ff000010"), MAC_PEER,
                                                 bytes(ns)), 12.0)), want_nd=True)
    nas = [IPv6(p) for _i, p in out if ICMPv6ND_NA in IPv6(p)]
    assert nas and nas[0][ICMPv6ND_NA].tgt == str(HOA) and nas[0][ICMPv6ND_NA].O == 0


def test_scapy_tunnel_both_ways_and_forged_inner_source() -> None:
    n = ha_node()
    register(n)
    # the correspondent's packet for the home address is intercepted and
    # tunnelled to the care-of address, hop limit one less inside
    ping = IPv6(src=str(CN), dst=str(HOA), hlim=30) / ICMPv6EchoRequest(id=7, seq=1)
    out = hrx(n, "c0", ping, 12.0)
    (ifn, p), = out
    q = IPv6(p)
    assert ifn == "f0" and q.src == str(HA_H) and q.dst == str(COA) and q.nh == 41
    inner = q.payload
    assert isinstance(inner, IPv6) and inner.dst == str(HOA) and inner.hlim == 29
    assert inner[ICMPv6EchoRequest].id == 7
    assert n.stats["mip6s_tunnelout"] == 1
    # the mobile node's reverse-tunnelled packet goes on to the correspondent
    rev = IPv6(src=str(COA), dst=str(HA_H)) / IPv6(src=str(HOA), dst=str(CN), hlim=64) / \
        ICMPv6EchoRequest(id=8)
    (ifn, p), = hrx(n, "f0", rev, 12.5)
    assert ifn == "c0" and IPv6(p).src == str(HOA) and IPv6(p).hlim == 63
    assert n.stats["mip6s_revtunnel"] == 1
    # an inner source that is not the home address bound to that care-of
    # address, or a care-of address with no binding: dropped, counted
    forged = IPv6(src=str(COA), dst=str(HA_H)) / IPv6(src="2001:db8:aa::66", dst=str(CN)) / \
        ICMPv6EchoRequest()
    assert hrx(n, "f0", forged, 13.0) == []
    assert n.stats["mip6s_revtunnel_bad"] == 1
    stranger = IPv6(src="2001:db8:bb::55", dst=str(HA_H)) / IPv6(src=str(HOA), dst=str(CN)) / \
        ICMPv6EchoRequest()
    out = hrx(n, "f0", stranger, 13.5)
    assert all(IPv6(p).dst != str(CN) for _i, p in out)  # no gif, no binding: not forwarded
    # deregistered: the care-of address is no tunnel end any more
    assert ba_of(hrx(n, "f0", bu_pkt(11, lifetime=0), 14.0)).status == 0
    assert n.mip6.ha.coas == {}
    out = hrx(n, "f0", rev, 14.5)
    assert all(IPv6(p).dst != str(CN) for _i, p in out) and n.stats["mip6s_revtunnel"] == 1


def test_scapy_dhaad_and_mobile_prefix() -> None:
    n = ha_node()
    anycast = ha_anycast(IPv6Network("2001:db8:aa::/64"))
    assert str(anycast) == "2001:db8:aa:0:fdff:ffff:ffff:fffe"
    (ifn, p), = hrx(n, "f0", IPv6(src=str(COA), dst=str(anycast)) / ICMPv6HAADRequest(id=0x1234),
                    10.0)
    rep = IPv6(p)
    assert ifn == "f0" and rep.dst == str(COA) and rep.src == str(HA_H)
    assert rep[ICMPv6HAADReply].id == 0x1234 and rep[ICMPv6HAADReply].addresses == [str(HA_H)]
    # a Mobile Prefix Solicitation from a mobile node not registered: nothing
    mps = IPv6(src=str(COA), dst=str(HA_H)) / IPv6ExtHdrDestOpt(options=[HAO(hoa=str(HOA))]) / \
        ICMPv6MPSol(id=0x55)
    assert not [x for x in hrx(n, "f0", mps, 10.5) if ICMPv6MPAdv in IPv6(x[1])]
    register(n, now=11.0)
    (ifn, p), = hrx(n, "f0", mps, 13.0)
    adv = IPv6(p)
    assert ifn == "f0" and adv.dst == str(COA) and adv[IPv6ExtHdrRouting].addresses == [str(HOA)]
    assert adv[ICMPv6MPAdv].id == 0x55
    assert adv[ICMPv6NDOptPrefixInfo].prefix == "2001:db8:aa::"
    assert n.stats["mip6s_odhaad"] == 1 and n.stats["mip6s_omps"] == 1


def test_hostile_floods_are_bounded() -> None:
    """5,000 Binding Updates for 5,000 home addresses: no more DAD runs than
    ``ha_dad_max`` at once, no more bindings than ``bc_max``; the rest
    answered 130 and counted. Forged sequence numbers get 135 only."""
    n = ha_node(**{"net.inet6.mip6.bc_max": 32, "net.inet6.mip6.ha_dad_max": 8})
    t = 10.0
    for i in range(5000):
        hoa = IPv6Address(int(HOA) + 0x100 + i)
        hrx(n, "f0", bu_pkt(1, hoa=hoa), t)
        assert len(n.mip6.ha.pending) <= 8
        if i % 12 == 11:
            t += 1.1
            n.poll(t)
        assert len(n.mip6.bc) <= 32
    assert n.stats["mip6s_hadadfull"] > 0 and n.stats["mip6s_bcfull"] > 0
    assert len(n.mip6.bc) == 32 and len(n.nbr.proxy) == 32
    # a forged update of a binding with a stale sequence number: 135, unchanged
    home, b = next(iter(n.mip6.bc.entries.items()))
    n.cache.set_permanent("f0", IPv6Address("2001:db8:bb::66"), MAC_PEER)
    out = hrx(n, "f0", IPv6(src="2001:db8:bb::66", dst=str(HA_H)) / IPv6ExtHdrDestOpt(
        options=[HAO(hoa=str(home))]) / MIP6MH_BU(seq=1, flags="AH", mhtime=10), t)
    assert IPv6(out[0][1])[MIP6MH_BA].status == 135 and b.coa == COA
    # bindings run out with their lifetime: proxies withdrawn, table empty
    n.poll(t + 2.0)  # the DAD runs still going end first (the cache is full: 130)
    assert not n.mip6.ha.pending and len(n.mip6.bc) == 32
    n.poll(t + 500.0)
    assert len(n.mip6.bc) == 0 and len(n.nbr.proxy) == 0
    assert n.stats["mip6s_hawithdraw"] == n.stats["mip6s_haproxy"] >= 32


# --- tshark ------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_dissects_what_we_send(tmp_path: Path) -> None:
    """Everything Mobile IPv6 our three nodes send in a whole journey (home
    and correspondent registrations, tests, acknowledgements, both tunnels,
    route optimized echoes, deregistrations) and the home agent's DHAAD and
    mobile prefix answers: tshark finds no malformed field and no expert
    information at all, and reads the kinds we meant."""
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    SENT.clear()
    r = Rig()
    r.move(r.foreign)
    r.run(10.0)
    assert r.ping(seq=21)
    assert r.mobile.route_optimize(CN, r.sim.now)
    r.run(5.0)
    assert r.ping(seq=22)
    r.move(r.home)
    r.run(10.0)
    n = ha_node()
    hrx(n, "f0", IPv6(src=str(COA), dst=str(ha_anycast(IPv6Network(
        "2001:db8:aa::/64")))) / ICMPv6HAADRequest(id=1), 10.0)
    register(n, now=11.0)
    hrx(n, "f0", IPv6(src=str(COA), dst=str(HA_H)) / IPv6ExtHdrDestOpt(options=[HAO(hoa=str(HOA))])
        / ICMPv6MPSol(id=2), 13.0)

    def mobile(p: bytes) -> bool:
        q = IPv6(p)
        return bool(q.haslayer(IPv6ExtHdrRouting) or q.haslayer(IPv6ExtHdrDestOpt)
                    or q.nh == 41 or q.nh == 135 or q.haslayer(ICMPv6HAADReply)
                    or q.haslayer(ICMPv6MPAdv))
    pkts = [p for p in SENT if mobile(p)]
    path = tmp_path / "mip6ha.pcap"
    wrpcap(str(path), [Ether(src="02:00:00:00:00:a0", dst="02:00:00:00:00:b1") / IPv6(p)
                       for p in pkts])
    out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-E", "separator=|",
                          "-E", "occurrence=a", "-E", "aggregator=,",
                          "-e", "mip6.mhtype", "-e", "_ws.malformed", "-e", "_ws.expert.severity",
                          "-e", "ipv6.routing.type", "-e", "mip6.ba.status", "-e", "icmpv6.type",
                          "-e", "ipv6.nxt"],
                         capture_output=True, text=True, check=True, timeout=120)
    rows = [r.split("|") for r in out.stdout.splitlines()]
    assert len(rows) == len(pkts) > 20
    bad = [(i, row) for i, row in enumerate(rows) if row[1] or row[2]]
    assert not bad, bad
    kinds = {t for row in rows for t in row[0].split(",") if t}
    assert {"1", "2", "3", "4", "5", "6"} <= kinds, kinds  # HoTI CoTI HoT CoT BU BA
    assert any("2" in row[3].split(",") for row in rows)  # type 2 routing headers
    assert any("41" in row[6].split(",") for row in rows)  # IPv6-in-IPv6
    icmp = {t for row in rows for t in row[5].split(",") if t}
    assert {"145", "147", "128", "129"} <= icmp, icmp


def test_hostile_input_to_the_mobile_node() -> None:
    """Forged messages at the mobile node away: an acknowledgement with the
    wrong sequence number or from a stranger, a type 2 routing header naming
    another home address, a tunnelled packet for another address or from a
    node that is not the home agent, a Home Test with the wrong cookie: each
    dropped and counted, the registration unchanged."""
    from scapy.layers.inet6 import MIP6MH_HoT

    r = Rig()
    r.move(r.foreign)
    r.run(10.0)
    m = r.mobile
    coa = m.coa
    assert coa is not None
    e = m.bul[HA_H]
    seq, expire = e.seq, e.expire

    def inject(pkt: Any) -> None:
        r.sim.emit(r.mn, r.mn.receive("eth0", codec.ether(MAC_MN, MAC_HA[1], bytes(pkt)),
                                      r.sim.now))

    def via_rh2(src: IPv6Address, home: IPv6Address, payload: Any) -> IPv6:
        return IPv6(src=str(src), dst=str(coa)) / IPv6ExtHdrRouting(
            type=2, segleft=1, addresses=[str(home)]) / payload

    inject(via_rh2(HA_H, HOA, MIP6MH_BA(status=0, seq=(seq + 7) & 0xFFFF, mhtime=100)))
    assert st(r.mn, "mip6s_baunexpected") == 1
    inject(via_rh2(IPv6Address("2001:db8:cc::9"), HOA, MIP6MH_BA(status=0, seq=seq, mhtime=1)))
    assert st(r.mn, "mip6s_baunexpected") == 2
    inject(via_rh2(HA_H, IPv6Address("2001:db8:aa::11"), MIP6MH_BA(status=0, seq=seq)))
    assert st(r.mn, "mip6s_rh2bad") == 1
    inject(IPv6(src=str(HA_H), dst=str(coa)) / IPv6(src=str(CN), dst="2001:db8:aa::11") /
           ICMPv6EchoRequest())
    assert st(r.mn, "mip6s_tunnelbad") == 1
    t0 = st(r.mn, "mip6s_tunnelin")
    inject(IPv6(src="2001:db8:cc::9", dst=str(coa)) / IPv6(src=str(CN), dst=str(HOA)) /
           ICMPv6EchoRequest())
    assert st(r.mn, "mip6s_tunnelin") == t0  # not from the home agent: not ours
    inject(IPv6(src=str(HA_H), dst=str(coa)) / IPv6(src=str(CN), dst=str(HOA)) /
           MIP6MH_HoT(cookie=b"notmine!", index=1, token=b"\0" * 8))
    assert st(r.mn, "mip6s_rrunexpected") == 1
    assert e.state == "bound" and e.seq == seq and e.expire == expire
    assert r.ping(seq=61)
