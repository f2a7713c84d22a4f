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
from ipaddress import IPv6Address
from pathlib import Path
from typing import Any

import pytest

from kame import _core
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
CN = IPv6Address("2001:db8:cc::2")
HOA = IPv6Address("2001:db8:aa::10")
MAC_HA = [bytes.fromhex(f"0200000000a{i}") for i in range(3)]
MAC_MN = bytes.fromhex("0200000000b1")
MAC_CN = bytes.fromhex("0200000000c1")

SENT: list[bytes] = []  # IPv6 packets our nodes sent, for tshark


def _pi(prefix: str, vl: int = 2592000) -> PrefixInfo:
    return PrefixInfo(IPv6Address(prefix), 64, valid_lifetime=vl, preferred_lifetime=min(vl, 604800))


class Rig:
    """HA + MN + CN on three links under one clock."""

    def __init__(self, *, ha_knobs: dict[str, int] | None = None, home_vl: int = 2592000) -> None:
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
        for i, (ifn, link, addr) in enumerate((("h0", self.home, HA_H), ("f0", self.foreign, HA_F),
                                              ("c0", self.clink, HA_C))):
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
        vls = {"h0": home_vl, "f0": 2592000, "c0": 2592000}
        for ifn, pfx in (("h0", "2001:db8:aa::"), ("f0", "2001:db8:bb::"), ("c0", "2001:db8:cc::")):
            self.ha.rtr.advertise(ifn, RaConfig(max_interval=4.0, min_interval=3.0,
                                                prefixes=(_pi(pfx, vls[ifn]),)), 2.0)
        self.cn.add_address("eth0", f"{CN}/64", 2.0)
        self.hagent = HomeAgent.attach(self.ha, "h0", 2.0)
        self.mobile = MobileNode.attach(self.mn, "eth0", f"{HOA}/64", HA_H, 2.0)
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
    assert m.away and m.coa is not None and m.coa in __import__("ipaddress").IPv6Network(
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


def test_retransmission_backoff_1_to_32_s() -> None:
    """A home agent that never answers (the address configured is nobody's):
    the Binding Update goes again after 1, 2, 4, 8, 16, 32, 32 s (RFC 6275
    §11.8), each with a greater sequence number (§11.7.1)."""
    r = Rig()
    r.mn.mip6.mn = None
    r.mn.rtr.ra_hooks.clear()
    m = MobileNode.__new__(MobileNode)
    MobileNode.__init__(m, r.mn, "eth0", HOA, __import__("ipaddress").IPv6Network("2001:db8:aa::/64"),
                        IPv6Address("2001:db8:aa::99"), "hif0")
    r.mn.mip6.mn = m
    r.mn.rtr.ra_hooks.append(m.ra_input)
    sends: list[tuple[float, int]] = []

    def tap(t: float, f: bytes) -> None:
        if f[6:12] == MAC_MN and f[12:14] == b"\x86\xdd" and f[20] == 60 and f[54 + 14:55 + 14]:
            p = f[14:]
            mh = p[40 + 24:]
            if p[40] == 135 and mh[2] == 5:
                sends.append((t, int.from_bytes(mh[6:8], "big")))
    r.foreign.add_tap(tap)
    r.move(r.foreign)
    r.run(130.0)
    assert len(sends) >= 8
    gaps = [round(b[0] - a[0], 1) for a, b in zip(sends, sends[1:])]
    assert gaps[:7] == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 32.0], gaps
    seqs = [s for _t, s in sends]
    assert all((b - a) & 0xFFFF == 1 for a, b in zip(seqs, seqs[1:]))
    assert st(r.mn, "mip6s_buretrans") == len(sends) - 1
    # nothing reverse-tunnelled leaves while no home agent answered? it does
    # (the update list has the entry): the packets are the home agent's to drop


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
