"""Mobile IPv6 discovery and upkeep (seed §6.2; RFC 6275 §6.1.2, §6.7,
§6.8, §7.4, §10.5.1, §10.6, §11.4.2, §11.4.3, §11.5.1; RFC 6724 rule 4):
the home agents list and DHAAD by preference, Binding Refresh Requests,
Mobile Prefix Solicitations and Advertisements (solicited and not), the
home address preferred as a source, and movement detection by a Router
Solicitation on attachment and NUD of the old router.

scapy is the other home agents, the mobile node or the home agent as the
case needs, builds the messages and recomputes every checksum; tshark
dissects what our nodes send; hypothesis drives the option parsers;
floods of Home Agent Information options and Mobile Prefix Advertisements
stay bounded and counted."""

from __future__ import annotations

import shutil
import subprocess
from ipaddress import IPv6Address, IPv6Network
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs
from test_mip6_ha import (
    CN,
    COA,
    HA_H,
    HOA,
    MAC_HA,
    MAC_MN,
    MAC_PEER,
    Rig,
    _ipv6,
    _pi,
    ha_node,
    hrx,
    register,
    st,
)
from test_mip6_ha import ba_of as _ba
from test_mip6_ha import bu_pkt as bu_pkt_

from kame.in6_var import In6Flags
from kame.ip6.icmp6 import EchoReply
from kame.link.memory import MemoryLink
from kame.mip6 import ha_anycast
from kame.nd6 import codec
from kame.nd6.rtr import RaConfig
from kame.node import Node

scapy = pytest.importorskip("scapy.layers.inet6")
from scapy.layers.inet6 import (
    HAO,
    MIP6MH_BRR,
    ICMPv6HAADReply,
    ICMPv6HAADRequest,
    ICMPv6MPAdv,
    ICMPv6MPSol,
    ICMPv6ND_NS,
    ICMPv6ND_RA,
    ICMPv6ND_RS,
    ICMPv6NDOptHAInfo,
    ICMPv6NDOptPrefixInfo,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrRouting,
)
from scapy.packet import Raw

HOME = IPv6Network("2001:db8:aa::/64")
EMITTED: list[bytes] = []  # what our nodes sent here, for tshark


def _keep(out: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    EMITTED.extend(p for _i, p in out)
    return out


def _cksum_ok(p: bytes, layer: Any) -> None:
    """scapy recomputes the checksum of ``layer`` in ``p`` (with the Home
    Address option or type 2 routing header in the pseudo-header) as ours."""
    q = IPv6(p)
    want = q[layer].cksum
    del q[layer].cksum
    if q.haslayer(HAO):  # scapy's in6_chksum leaves the option out of ICMPv6's: the home
        # address goes in the pseudo-header's source by hand (RFC 6275 §6.3)
        q = IPv6(src=q[HAO].hoa, dst=q.dst) / q[layer]
    assert IPv6(bytes(q))[layer].cksum == want


def ha_ra(src: str, *, h: bool = True, pref: int | None = 0, life: int = 1800,
          router_lifetime: int = 1800, addr: str | None = None) -> Any:
    """A Router Advertisement of another router on the home link."""
    ra = IPv6(src=src, dst="ff02::1", hlim=255) / ICMPv6ND_RA(H=int(h),
                                                             routerlifetime=router_lifetime)
    if pref is not None:
        ra = ra / ICMPv6NDOptHAInfo(pref=pref, lifetime=life)
    if addr is not None:
        ra = ra / ICMPv6NDOptPrefixInfo(prefixlen=64, R=1, prefix=addr)
    return ra


def dhaad(n: Node, ident: int, now: float) -> list[str]:
    out = _keep(hrx(n, "f0", IPv6(src=str(COA), dst=str(ha_anycast(HOME)))
                    / ICMPv6HAADRequest(id=ident), now))
    (ifn, p), = out
    q = IPv6(p)
    assert ifn == "f0" and q.src == str(HA_H) and q.dst == str(COA)
    assert q[ICMPv6HAADReply].id == ident
    _cksum_ok(p, ICMPv6HAADReply)
    return list(q[ICMPv6HAADReply].addresses)


# --- the home agents list (§7.4, §10.5.1) and DHAAD (§10.5) ----------------------------


def test_home_agents_list_orders_dhaad_replies() -> None:
    n = ha_node()
    n.rtr.advertise("h0", RaConfig(max_interval=600.0, min_interval=200.0,
                                   prefixes=(_pi("2001:db8:aa::"),), home_agent=(7, 1800)), 5.0)
    for ll, pref, addr in (("fe80::21", 20, "2001:db8:aa::21"), ("fe80::22", 3, "2001:db8:aa::22"),
                           ("fe80::23", 20, "2001:db8:aa::23")):
        hrx(n, "h0", ha_ra(ll, pref=pref, addr=addr), 8.0)
    assert n.stats["mip6s_halist"] == 3 and len(n.mip6.ha.halist) == 3
    seen = set()
    for i in range(40):
        got = dhaad(n, 100 + i, 9.0)
        # §10.5: highest preference first; ours is 7 (the one we advertise)
        assert set(got[:2]) == {"2001:db8:aa::21", "2001:db8:aa::23"}
        assert got[2:] == [str(HA_H), "2001:db8:aa::22"]
        seen.add(tuple(got[:2]))
    assert len(seen) == 2, "equal preferences in a random order (load sharing)"
    from kame.cli.tools import format_mip6
    from kame.ctl import snap_mip6

    text = format_mip6(snap_mip6(n, 9.0))  # ``kame mip6``
    assert "home agents list:\n  h0 fe80::21 (2001:db8:aa::21) preference 20 left 1799s" in text
    assert "  h0 fe80::22 (2001:db8:aa::22) preference 3 left 1799s" in text
    # without a Home Agent Information option: preference 0, the Router Lifetime
    hrx(n, "h0", ha_ra("fe80::24", pref=None, router_lifetime=30, addr="2001:db8:aa::24"), 9.5)
    assert dhaad(n, 1, 10.0)[-2:] == ["2001:db8:aa::22", "2001:db8:aa::24"]
    # the H flag cleared, or a lifetime 0: the entry goes
    hrx(n, "h0", ha_ra("fe80::21", h=False, addr="2001:db8:aa::21"), 11.0)
    hrx(n, "h0", ha_ra("fe80::22", pref=3, life=0, addr="2001:db8:aa::22"), 11.0)
    assert dhaad(n, 3, 11.5) == ["2001:db8:aa::23", str(HA_H), "2001:db8:aa::24"]
    assert n.stats["mip6s_halistdel"] == 2
    # lifetimes run out: fe80::24 after 30 s, fe80::23 after 1800 s
    n.poll(45.0)
    assert "2001:db8:aa::24" not in dhaad(n, 4, 45.0)
    n.poll(1900.0)
    assert dhaad(n, 5, 1900.0) == [str(HA_H)] and not n.mip6.ha.halist
    # no global address (no prefix with the R flag): not listed, counted
    hrx(n, "h0", ha_ra("fe80::25", pref=50), 1901.0)
    assert n.stats["mip6s_halistnoaddr"] == 1 and not n.mip6.ha.halist
    # an RA on a link that is no home link is not looked at
    hrx(n, "c0", ha_ra("fe80::26", pref=50, addr="2001:db8:cc::26"), 1902.0)
    assert not n.mip6.ha.halist


def test_hostile_home_agent_floods_are_bounded() -> None:
    """5,000 home agents advertising: the list holds ``halist_max``, the
    rest counted; an RA with 200 Home Agent Information options is cut at
    ``nd6_maxndopt`` by the core; a DHAAD reply never passes the minimum
    MTU (77 addresses)."""
    n = ha_node(**{"net.inet6.mip6.halist_max": 100})
    for i in range(5000):
        hrx(n, "h0", ha_ra(f"fe80::1:{i:x}", pref=i % 7, addr=f"2001:db8:aa::1:{i:x}"), 8.0)
        assert len(n.mip6.ha.halist) <= 100
    assert n.stats["mip6s_halistfull"] == 4900
    got = dhaad(n, 9, 9.0)
    assert len(got) == 77 and len(set(got)) == 77
    prefs = {f"2001:db8:aa::1:{i:x}": i % 7 for i in range(5000)} | {str(HA_H): 0}
    assert [prefs[a] for a in got] == sorted((prefs[a] for a in got), reverse=True)
    many = IPv6(src="fe80::9999", dst="ff02::1", hlim=255) / ICMPv6ND_RA(H=1) / \
        ICMPv6NDOptPrefixInfo(prefixlen=64, R=1, prefix="2001:db8:aa::9999")
    for i in range(200):
        many = many / ICMPv6NDOptHAInfo(pref=i, lifetime=100)
    from kame import _core

    assert _core.RouterAdvertisement.from_bytes(bytes(many[ICMPv6ND_RA])).nd_toomanyopt > 0
    hrx(n, "h0", many, 10.0)
    assert len(n.mip6.ha.halist) == 100
    m = ha_node()
    hrx(m, "h0", many, 10.0)  # the first option counts, the rest past nd6_maxndopt are cut
    (e,) = m.mip6.ha.halist.values()
    assert e.preference == 0 and e.addrs == (IPv6Address("2001:db8:aa::9999"),)


# --- Binding Refresh Request (§6.1.2) ---------------------------------------------------


def test_binding_refresh_request_before_expiry() -> None:
    n = ha_node()
    assert register(n, now=10.0).mhtime == 100  # 400 s granted at 11.1
    assert [p for _i, p in _ipv6(n.poll(11.1 + 350)) if MIP6MH_BRR in IPv6(p)] == []
    out = _keep(_ipv6(n.poll(11.1 + 361)))
    (ifn, p), = [(i, p) for i, p in out if MIP6MH_BRR in IPv6(p)]
    q = IPv6(p)
    assert ifn == "f0" and q.src == str(HA_H) and q.dst == str(COA)
    rh = q[IPv6ExtHdrRouting]
    assert rh.type == 2 and rh.segleft == 1 and rh.addresses == [str(HOA)]
    _cksum_ok(p, MIP6MH_BRR)
    assert n.stats["mip6s_obrr"] == 1
    assert not [p for _i, p in _ipv6(n.poll(11.1 + 390)) if MIP6MH_BRR in IPv6(p)]  # once
    # off by the knob
    m = ha_node(**{"net.inet6.mip6.ha_brr": 0})
    register(m, now=10.0)
    assert not [p for _i, p in _ipv6(m.poll(11.1 + 395)) if MIP6MH_BRR in IPv6(p)]


def test_mobile_node_answers_a_binding_refresh_request() -> None:
    """Our mobile node's own refresh is held back: the home agent's request
    at 90 % of the lifetime gets a Binding Update and the binding goes on."""
    r = Rig()
    r.mn.knobs["net.inet6.mip6.mn_lifetime"] = 40
    r.move(r.foreign)
    r.run(10.0)
    e = r.mobile.bul[HA_H]
    assert e.state == "bound"
    e.refresh_at = None  # no refresh of our own
    b = r.ha.mip6.bc.lookup(HOA)
    assert b is not None and b.lifetime == 40
    r.run(45.0)
    assert st(r.ha, "mip6s_obrr") >= 1 and st(r.mn, "mip6s_brr") >= 1
    b = r.ha.mip6.bc.lookup(HOA)
    assert b is not None and b.expire > r.sim.now and st(r.ha, "mip6s_bcupdate") >= 1
    assert r.ping(seq=71)
    # a request from a node we have no binding with: counted, unanswered
    bu0 = st(r.mn, "mip6s_obu")
    pkt = IPv6(src=str(CN), dst=str(r.mobile.coa)) / IPv6ExtHdrRouting(
        type=2, segleft=1, addresses=[str(HOA)]) / MIP6MH_BRR()
    r.sim.emit(r.mn, r.mn.receive("eth0", codec.ether(MAC_MN, MAC_HA[1], bytes(pkt)), r.sim.now))
    assert st(r.mn, "mip6s_brrunexpected") == 1 and st(r.mn, "mip6s_obu") == bu0


# --- Mobile Prefix Discovery (§6.7, §6.8, §10.6, §11.4.2, §11.4.3) ------------------------


def _on(link: MemoryLink) -> list[bytes]:
    got: list[bytes] = []
    link.add_tap(lambda _t, f: got.append(f[14:]) if f[12:14] == b"\x86\xdd" else None)
    return got


def test_mobile_prefix_solicited_when_home_address_nears_its_end() -> None:
    """The home prefix is advertised with a valid lifetime of 200 s: away,
    the mobile node solicits when 80 % of it is gone, from its care-of
    address with its home address in a Home Address option; the home
    agent's advertisement (through a type 2 routing header) renews the
    home address's lifetimes, and so on."""
    r = Rig(home_vl=200)
    wire = _on(r.foreign)
    r.move(r.foreign)
    r.run(10.0)
    m = r.mobile
    assert m.bul[HA_H].state == "bound" and m.home_lifetime == 200
    t_heard = m.home_valid_until - 200
    r.run(max(0.0, t_heard + 160 - r.sim.now - 1.0))
    assert st(r.mn, "mip6s_ompsol") == 0
    r.run(3.0)
    assert st(r.mn, "mip6s_ompsol") == 1 and st(r.ha, "mip6s_mps") == 1
    assert st(r.mn, "mip6s_mpa") == 1 and st(r.mn, "mip6s_mpaunsol") == 0
    ifa = r.mn.addrs.find("hif0", HOA)
    assert ifa is not None and 195 < ifa.vltime_expire - r.sim.now <= 200
    sols = [p for p in wire if ICMPv6MPSol in IPv6(p)]
    advs = [p for p in wire if ICMPv6MPAdv in IPv6(p)]
    assert len(sols) == 1 and len(advs) == 1
    s, a = IPv6(sols[0]), IPv6(advs[0])
    assert s.src == str(m.coa) and s.dst == str(HA_H) and s[HAO].hoa == str(HOA)
    _cksum_ok(sols[0], ICMPv6MPSol)  # over the home address (the option's)
    assert a.src == str(HA_H) and a.dst == str(m.coa) and a[IPv6ExtHdrRouting].addresses == [str(HOA)]
    assert a[ICMPv6MPAdv].id == s[ICMPv6MPSol].id
    pi = a[ICMPv6NDOptPrefixInfo]
    assert pi.prefix == "2001:db8:aa::" and pi.prefixlen == 64 and pi.validlifetime == 200
    _cksum_ok(advs[0], ICMPv6MPAdv)
    EMITTED.extend(sols + advs)
    r.run(170.0)  # again at 80 % of the renewed lifetime; the binding lives on
    assert st(r.mn, "mip6s_ompsol") == 2 and st(r.mn, "mip6s_mpa") == 2
    assert r.ha.mip6.bc.lookup(HOA) is not None and r.ping(seq=81)


def test_mobile_prefix_solicitation_backoff_until_the_prefix_ends() -> None:
    """A home agent that does not answer: solicitations after 3, 6, 12, 24 s
    (INITIAL_SOLICIT_TIMER doubled) until the home prefix's valid lifetime
    runs out; then given up, counted, the home address deprecated."""
    r = Rig(home_vl=200)
    wire = _on(r.foreign)
    ha = r.ha.mip6.ha
    assert ha is not None
    real = ha.icmp6_input
    ha.icmp6_input = lambda i, h, msg, now: None if msg.type == 146 else real(i, h, msg, now)  # type: ignore[method-assign]
    times: list[float] = []
    r.foreign.add_tap(lambda t, f: times.append(t) if f[12:14] == b"\x86\xdd"
                      and ICMPv6MPSol in IPv6(f[14:]) else None)
    r.move(r.foreign)
    r.run(10.0)
    end = r.mobile.home_valid_until
    r.run(end - r.sim.now + 5.0)
    gaps = [round(b - a, 1) for a, b in pairwise(times)]
    assert gaps[:3] == [3.0, 6.0, 12.0], (times, gaps)
    assert times[-1] < end and st(r.mn, "mip6s_mpsfail") == 1
    ifa = r.mn.addrs.find("hif0", HOA)
    assert ifa is not None and ifa.flags & In6Flags.DEPRECATED
    assert len([p for p in wire if ICMPv6MPSol in IPv6(p)]) == len(times)


def test_unsolicited_mobile_prefix_advertisement_on_change() -> None:
    """The home link's prefix lifetimes are reconfigured: after a delay of
    MinMobPfxAdvInterval..MaxMobPfxAdvInterval (knobs, here 2..6 s) the
    home agent advertises unsolicited; our mobile node answers with a
    solicitation, which acknowledges it (no retransmission), and takes the
    solicited answer's lifetimes."""
    r = Rig(ha_knobs={"net.inet6.mip6.mpa_min_interval": 2,
                      "net.inet6.mip6.mpa_max_interval": 6})
    r.move(r.foreign)
    r.run(10.0)
    r.ha.rtr.advertise("h0", RaConfig(max_interval=4.0, min_interval=3.0,
                                      prefixes=(_pi("2001:db8:aa::", 5000),),
                                      home_agent=(10, 1800)), r.sim.now)
    r.run(8.0)
    assert st(r.ha, "mip6s_ompa_unsol") == 1 and st(r.mn, "mip6s_mpaunsol") == 1
    assert st(r.mn, "mip6s_ompsol") == 1 and st(r.ha, "mip6s_mps") == 1
    assert st(r.ha, "mip6s_mpaacked") == 1 and st(r.mn, "mip6s_mpa") == 2
    assert r.mobile.home_lifetime == 5000
    r.run(15.0)
    assert st(r.ha, "mip6s_ompa_unsol") == 1 and not r.ha.mip6.ha.mpa


def test_unsolicited_advertisement_retransmitted_to_a_silent_node() -> None:
    """scapy as a mobile node that never acknowledges: the advertisement
    goes again after PREFIX_ADV_TIMEOUT (3 s) doubled, PREFIX_ADV_RETRIES
    (3) more times, then given up; a new home prefix is in it."""
    n = ha_node(**{"net.inet6.mip6.mpa_min_interval": 1, "net.inet6.mip6.mpa_max_interval": 2})
    n.rtr.advertise("h0", RaConfig(max_interval=600.0, min_interval=200.0, managed=True,
                                   prefixes=(_pi("2001:db8:aa::"),)), 8.0)
    register(n, now=10.0)
    n.poll(12.0)
    n.add_address("h0", "2001:db8:a1::1/64", 12.0)
    sent: list[tuple[float, bytes]] = []
    t = 12.0
    while t < 70.0:
        t += 0.25
        sent.extend((t, p) for _i, p in _keep(_ipv6(n.poll(t))) if ICMPv6MPAdv in IPv6(p))
    assert len(sent) == 4, [x[0] for x in sent]
    gaps = [round(b[0] - a[0], 2) for a, b in pairwise(sent)]
    assert gaps == [3.0, 6.0, 12.0]
    assert n.stats["mip6s_mpagiveup"] == 1
    q = IPv6(sent[0][1])
    assert q.dst == str(COA) and q[IPv6ExtHdrRouting].addresses == [str(HOA)]
    assert q[ICMPv6MPAdv].flags == 2  # M as the home link's RAs (§6.8), O clear
    pfx = set()
    o = q[ICMPv6NDOptPrefixInfo]
    while isinstance(o, ICMPv6NDOptPrefixInfo):
        pfx.add(o.prefix)
        o = o.payload
    assert pfx == {"2001:db8:aa::", "2001:db8:a1::"}
    _cksum_ok(sent[0][1], ICMPv6MPAdv)
    # a solicitation acknowledges one (§10.6.3)
    n.add_address("h0", "2001:db8:a2::1/64", 71.0)
    for k in range(12):
        if _ipv6(n.poll(71.0 + k * 0.5)):
            break
    mps = IPv6(src=str(COA), dst=str(HA_H)) / IPv6ExtHdrDestOpt(options=[HAO(hoa=str(HOA))]) / \
        ICMPv6MPSol(id=9)
    hrx(n, "f0", mps, 78.0)
    assert n.stats["mip6s_mpaacked"] == 1 and not n.mip6.ha.mpa


def _mpa_to(r: Rig, src: IPv6Address, body: Any) -> None:
    coa = r.mobile.coa
    pkt = IPv6(src=str(src), dst=str(coa)) / IPv6ExtHdrRouting(
        type=2, segleft=1, addresses=[str(HOA)]) / body
    r.sim.emit(r.mn, r.mn.receive("eth0", codec.ether(MAC_MN, MAC_HA[1], bytes(pkt)), r.sim.now))


def test_hostile_mobile_prefix_advertisements() -> None:
    """From a node that is not our home agent, malformed options, floods of
    options: dropped or cut and counted; the home address's lifetimes move
    only by our home agent's word."""
    r = Rig()
    r.move(r.foreign)
    r.run(10.0)
    life = r.mobile.home_valid_until
    _mpa_to(r, IPv6Address("2001:db8:cc::9"), ICMPv6MPAdv(id=1) / ICMPv6NDOptPrefixInfo(
        prefix="2001:db8:aa::", prefixlen=64, validlifetime=5, preferredlifetime=5))
    assert st(r.mn, "mip6s_mpabad") == 1 and r.mobile.home_valid_until == life
    bad = IPv6(src=str(HA_H), dst=str(r.mobile.coa)) / IPv6ExtHdrRouting(
        type=2, segleft=1, addresses=[str(HOA)]) / ICMPv6MPAdv(id=2)
    raw = bytearray(bytes(bad) + bytes([3, 0]) + bytes(6))  # an option of length 0
    raw[4:6] = (len(raw) - 40).to_bytes(2, "big")
    q = IPv6(bytes(raw))
    del q[ICMPv6MPAdv].cksum
    r.sim.emit(r.mn, r.mn.receive("eth0", codec.ether(MAC_MN, MAC_HA[1], bytes(q)), r.sim.now))
    assert st(r.mn, "mip6s_mpabad") == 2 and r.mobile.home_valid_until == life
    # 2,000 advertisements with 60 prefix options each: at most nd6_maxndopt read
    body = ICMPv6MPAdv(id=3)
    for i in range(60):
        body = body / ICMPv6NDOptPrefixInfo(prefix=f"2001:db8:{i + 1:x}::", prefixlen=64)
    for _ in range(500):
        _mpa_to(r, HA_H, body)
    assert st(r.mn, "mip6s_mpaopts") == 500 * 50 and st(r.mn, "mip6s_mpaunsol") == 500
    # unsolicited: nothing taken from them; one solicitation at a time answers them
    assert st(r.mn, "mip6s_mpaother") == 0 and r.mobile.home_valid_until == life
    assert st(r.mn, "mip6s_ompsol") == 1
    # the solicited answer with a preferred lifetime past its valid one: skipped
    ident = r.mobile._mps[0] if r.mobile._mps is not None else 0
    _mpa_to(r, HA_H, ICMPv6MPAdv(id=ident) / ICMPv6NDOptPrefixInfo(
        prefix="2001:db8:aa::", prefixlen=64, validlifetime=50, preferredlifetime=60))
    assert r.mobile.home_valid_until == life and st(r.mn, "mip6s_mpabad") == 3
    r.run(5.0)
    assert r.mobile.bul[HA_H].state == "bound" and r.ping(seq=91)


def test_mobile_prefix_advertisement_needs_esp_when_the_spd_says() -> None:
    """RFC 3776 §4.2 / RFC 6275 §11.4.3: with ``spdadd HA HOA icmp6 -P in
    ipsec esp/transport//require`` at the mobile node an unprotected
    advertisement is dropped by IPsec before the mobile node sees it."""
    from kame.key.setkey import run as setkey

    r = Rig()
    r.move(r.foreign)
    r.run(10.0)
    k = r.mn.attach_key()
    assert not setkey(f"spdadd {HA_H} {HOA} icmp6 -P in ipsec esp/transport//require;",
                      k.engine, r.sim.now).errors
    _mpa_to(r, HA_H, ICMPv6MPAdv(id=4) / ICMPv6NDOptPrefixInfo(
        prefix="2001:db8:aa::", prefixlen=64, validlifetime=77, preferredlifetime=77))
    assert k.stats["in_polvio"] >= 1 and st(r.mn, "mip6s_mpa") == 0
    assert r.mobile.home_lifetime != 77


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hs.binary(max_size=300), hs.integers(0, 0xFFFF))
def test_hypothesis_mpa_bodies_never_raise(mpa_rig: Rig, data: bytes, ident: int) -> None:
    """Any bytes after an advertisement's header: counters move, nothing raises,
    and the home lifetimes change only to a prefix option's values."""
    r = mpa_rig
    before = r.mobile.home_lifetime
    _mpa_to(r, HA_H, ICMPv6MPAdv(id=ident) / bytes(data))
    after = r.mobile.home_lifetime
    if after != before:
        assert after == float("inf") or 0 <= after <= 0xFFFFFFFE


@given(hs.integers(-32768, 32767), hs.integers(0, 0xFFFF), hs.integers(1, 0xFFFF))
def test_hypothesis_ha_info_against_scapy(pref: int, life: int, rl: int) -> None:
    """``codec.ha_info`` reads what scapy's ICMPv6NDOptHAInfo writes."""
    from kame import _core

    msg = _core.RouterAdvertisement.from_bytes(
        bytes(ICMPv6ND_RA(H=1, routerlifetime=rl) / ICMPv6NDOptHAInfo(pref=pref & 0xFFFF,
                                                                     lifetime=life)
              / ICMPv6NDOptHAInfo(pref=1, lifetime=2)))
    ra = codec.to_input(IPv6Address("fe80::1"), IPv6Address("ff02::1"), 255, msg)
    assert ra.home_agent and ra.ha_info == (pref, life) and ra.router_lifetime == rl


@given(hs.binary(max_size=64))
def test_hypothesis_ha_info_random_options(data: bytes) -> None:
    from kame import _core
    from kame.errors import KameError

    data += bytes(-(len(data) + 2) % 8)
    try:
        opts, _c = _core.parse_nd_options(bytes([8, (len(data) + 2) // 8]) + data)
    except KameError:
        return
    got = codec.ha_info(opts)
    if len(data) != 6:
        assert got is None
    else:
        assert got == (int.from_bytes(data[2:4], "big", signed=True),
                       int.from_bytes(data[4:6], "big"))


@pytest.fixture(scope="module")
def mpa_rig() -> Rig:
    r = Rig()
    r.move(r.foreign)
    r.run(10.0)
    return r


# --- source address selection: rule 4 (RFC 6724 §5, RFC 6275 §11.3.1) -----------------------


def test_home_address_preferred_as_source_away() -> None:
    r = Rig()
    r.move(r.foreign)
    r.run(10.0)
    m = r.mobile
    assert m.coa is not None
    assert r.mn._source_for("eth0", CN) == HOA  # rule 4 over rule 5 (the outgoing interface)
    wire = _on(r.foreign)
    r.mn.events.clear()
    r.sim.emit(r.mn, r.mn.ping(CN, r.sim.now, seq=5))
    r.run(3.0)
    assert [e for e in r.mn.events if isinstance(e, EchoReply) and e.seq == 5]
    # out through the reverse tunnel from the home address
    tun = [IPv6(p) for p in wire if IPv6(p).nh == 41 and IPv6(p).src == str(m.coa)]
    assert tun and tun[0].payload.src == str(HOA)
    # Neighbor Discovery never speaks from the home address (RFC 4861 §7.2.2)
    assert not [p for p in wire if IPv6(p).src == str(HOA) and (
        ICMPv6ND_NS in IPv6(p) or ICMPv6ND_RS in IPv6(p))]


# --- movement detection: RS on attachment, NUD of the old router (§11.5.1) --------------------


def _slow_foreign(r: Rig) -> None:
    r.ha.rtr.advertise("f0", RaConfig(max_interval=600.0, min_interval=450.0,
                                      prefixes=(_pi("2001:db8:bb::"),)), r.sim.now)
    r.run(60.0)  # past the initial advertisements


def test_router_solicitation_on_attachment_speeds_registration() -> None:
    slow = Rig()
    _slow_foreign(slow)
    slow.move(slow.foreign)
    slow.run(5.0)
    assert not slow.mobile.away, "without a solicitation the move waits for the next RA"
    r = Rig()
    _slow_foreign(r)
    wire = _on(r.foreign)
    r.move(r.foreign)
    t0 = r.sim.now
    r.mobile.link_attached(t0)
    r.run(5.0)
    assert r.mobile.away and r.mobile.bul[HA_H].state == "bound"
    rs = [IPv6(p) for p in wire if ICMPv6ND_RS in IPv6(p)]
    assert rs and rs[0].src.startswith("fe80:") and rs[0].dst == "ff02::2"
    assert st(r.mn, "mip6s_attach") == 1
    EMITTED.extend(bytes(q) for q in rs)


def test_old_router_lost_by_nud() -> None:
    """Plugged into a link with no router: the old router is probed with
    unicast Neighbor Solicitations, found unreachable and dropped; we
    solicit; plugged into the foreign link, registration follows."""
    r = Rig()
    dead = MemoryLink()
    wire = _on(dead)
    old = r.mobile.router
    assert old is not None and old.is_link_local
    r.move(dead)
    r.mobile.link_attached(r.sim.now)
    r.run(8.0)
    probes = [IPv6(p) for p in wire if ICMPv6ND_NS in IPv6(p) and IPv6(p).dst == str(old)]
    assert len(probes) == 3 and st(r.mn, "mip6s_nudprobe") == 1
    assert st(r.mn, "mip6s_routerlost") == 1 and r.mobile.router is None
    assert all(d.addr != old for d in r.mn.rtr.routers)
    assert len([p for p in wire if ICMPv6ND_RS in IPv6(p)]) >= 2
    r.move(r.foreign)
    r.mobile.link_attached(r.sim.now)
    r.run(6.0)
    assert r.mobile.away and r.mobile.bul[HA_H].state == "bound"
    # back home, the interface brought up again (``ifconfig eth0 up``):
    # the router answers its probe, nothing is lost
    r.move(r.home)
    r.sim.emit(r.mn, r.mn.up("eth0", r.sim.now))
    r.run(8.0)
    assert not r.mobile.away and st(r.mn, "mip6s_routerlost") == 1
    # (no probe on the foreign link: no router was left to probe)
    assert st(r.mn, "mip6s_attach") == 3 and st(r.mn, "mip6s_nudprobe") == 2


# --- tshark ----------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_dissects_discovery_messages(tmp_path: Path) -> None:
    """Everything the tests above kept (DHAAD replies of 1 to 77 addresses,
    Binding Refresh Requests, Mobile Prefix Solicitations, solicited and
    unsolicited advertisements, Router Solicitations) and a fresh set:
    tshark finds no malformed field and no expert information."""
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    n = ha_node()
    hrx(n, "h0", ha_ra("fe80::21", pref=20, addr="2001:db8:aa::21"), 8.0)
    dhaad(n, 1, 9.0)
    register(n, now=10.0)
    _keep(_ipv6(n.poll(11.1 + 361)))
    n.add_address("h0", "2001:db8:a1::1/64", 380.0)
    n.knobs["net.inet6.mip6.mpa_min_interval"] = 1
    for k in range(60):
        _keep(_ipv6(n.poll(380.0 + k * 0.5)))
    _keep(hrx(n, "f0", IPv6(src=str(COA), dst=str(HA_H)) / IPv6ExtHdrDestOpt(
        options=[HAO(hoa=str(HOA))]) / ICMPv6MPSol(id=2), 420.0))
    r = Rig()
    wire = _on(r.foreign)
    r.move(r.foreign)
    r.mobile.link_attached(r.sim.now)
    r.run(5.0)
    r.mobile._mps_send(r.sim.now)
    r.run(1.0)
    EMITTED.extend(p for p in wire if p[8:24] in (r.mn.addrs.find("eth0", r.mobile.coa).addr.packed,)
                   or IPv6(p).haslayer(ICMPv6ND_RS))
    pkts = [p for p in EMITTED if IPv6(p).haslayer(ICMPv6HAADReply) or IPv6(p).haslayer(MIP6MH_BRR)
            or IPv6(p).haslayer(ICMPv6MPAdv) or IPv6(p).haslayer(ICMPv6MPSol)
            or IPv6(p).haslayer(ICMPv6ND_RS)]
    path = tmp_path / "mip6disc.pcap"
    wrpcap(str(path), [Ether(src="02:00:00:00:00:a0", dst="02:00:00:00:00:b1") / IPv6(p)
                       for p in pkts])
    out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-E", "separator=|",
                          "-E", "occurrence=a", "-E", "aggregator=,",
                          "-e", "icmpv6.type", "-e", "_ws.malformed", "-e", "_ws.expert.severity",
                          "-e", "mip6.mhtype"],
                         capture_output=True, text=True, check=True, timeout=120)
    rows = [x.split("|") for x in out.stdout.splitlines()]
    assert len(rows) == len(pkts)
    bad = [(i, row) for i, row in enumerate(rows) if row[1] or row[2]]
    assert not bad, bad
    icmp = {t for row in rows for t in row[0].split(",") if t}
    assert {"145", "146", "147"} <= icmp, icmp
    assert any("0" in row[3].split(",") for row in rows), "a Binding Refresh Request"


def test_home_agent_without_registrations_stays_quiet() -> None:
    """Nothing new is sent by a home agent without registrations: no BRR,
    no unsolicited advertisement, however its prefixes change."""
    n = ha_node(**{"net.inet6.mip6.mpa_min_interval": 1, "net.inet6.mip6.mpa_max_interval": 2})
    n.add_address("h0", "2001:db8:a3::1/64", 8.0)
    out = []
    for k in range(40):
        out += _ipv6(n.poll(8.0 + k))
    assert not [p for _i, p in out if ICMPv6MPAdv in IPv6(p) or MIP6MH_BRR in IPv6(p)]


# --- RFC 5014 source preferences (Linux IPV6_ADDR_PREFERENCES) ------------------------------

_PREF_VALUES = [0, 1, 2, 3, 0x100, 0x101, 0x102, 4, 0x400, 0x404, 8, 0x800, 0x808, 0x405,
                0x106, 0x4, 0x1, 0x102, 0x100, -1, 0x7FFFFFFF, 0x10000, 0x204, 0x802]


def _pref_steps(sock: Any) -> list[tuple[int, str, Any]]:
    import errno as _errno

    out: list[tuple[int, str, Any]] = []
    for v in _PREF_VALUES:
        try:
            sock.setsockopt(41, 72, v)
            r = "ok"
        except OSError as e:
            r = _errno.errorcode[e.errno]
        out.append((v, r, sock.getsockopt(41, 72)))
    try:
        sock.setsockopt(41, 72, b"\x01\x00")
        out.append((-2, "ok", None))
    except OSError as e:
        out.append((-2, _errno.errorcode[e.errno], None))
    out.append((-3, "get2", sock.getsockopt(41, 72, 2)))
    return out


def test_addr_preferences_sockopt_against_the_kernel() -> None:
    """The same IPV6_ADDR_PREFERENCES steps on the host kernel's UDP socket
    and on ours under the Linux profile: every errno and value read back equal."""
    import socket as hostsock

    from kame.socket import AF_INET6, SOCK_DGRAM, SocketLayer

    k = hostsock.socket(hostsock.AF_INET6, hostsock.SOCK_DGRAM)
    try:
        want = _pref_steps(k)
    finally:
        k.close()
    ours = SocketLayer(ha_node(), "linux").socket(AF_INET6, SOCK_DGRAM)
    assert _pref_steps(ours) == want
    bsd = SocketLayer(ha_node(), "freebsd4x").socket(AF_INET6, SOCK_DGRAM)
    with pytest.raises(OSError) as ei:
        bsd.setsockopt(41, 72, 4)
    import errno as _errno

    assert ei.value.errno == _errno.ENOPROTOOPT


def test_prefer_src_coa_picks_the_care_of_address() -> None:
    """Away from home a Linux-profile UDP socket sends from the home address
    (through the reverse tunnel); with IPV6_PREFER_SRC_COA from the care-of
    address, straight to the correspondent; with IPV6_PREFER_SRC_HOME again
    from the home address."""
    from kame.socket import AF_INET6, SOCK_DGRAM, SocketLayer

    r = Rig()
    r.move(r.foreign)
    r.run(10.0)
    coa = r.mobile.coa
    assert coa is not None
    got: list[IPv6] = []
    r.clink.add_tap(lambda _t, f: got.append(IPv6(f[14:])) if f[12:14] == b"\x86\xdd"
                    and IPv6(f[14:]).nh == 17 else None)
    s = SocketLayer(r.mn, "linux").socket(AF_INET6, SOCK_DGRAM)
    for prefs, want in ((None, HOA), (0x4, coa), (0x400, HOA)):
        if prefs is not None:
            s.setsockopt(41, 72, prefs)
        got.clear()
        s.sendto(b"x", (str(CN), 9))
        r.sim.emit(r.mn, r.mn._flush())
        r.run(1.0)
        assert [q.src for q in got] == [str(want)], (prefs, [q.src for q in got])


@settings(max_examples=100, deadline=None)
@given(hs.lists(hs.tuples(hs.integers(1, 0xFFFF), hs.booleans(), hs.integers(-32768, 32767),
                          hs.integers(0, 0xFFFF), hs.integers(0, 0xFFFF), hs.booleans()),
                max_size=40))
def test_hypothesis_home_agents_list_bounded_and_ordered(ras: list[tuple[int, bool, int, int,
                                                                        int, bool]]) -> None:
    """Any sequence of home agent advertisements: the list never passes
    ``halist_max``, each entry holds the last word of its sender, and DHAAD
    replies are ordered by preference."""
    n = ha_node(**{"net.inet6.mip6.halist_max": 8})
    last: dict[str, tuple[bool, int, int, int]] = {}
    for ll_id, h, pref, life, rl, with_hai in ras:
        ll = f"fe80::{ll_id:x}"
        hrx(n, "h0", ha_ra(ll, h=h, pref=(pref & 0xFFFF) if with_hai else None, life=life,
                           router_lifetime=rl, addr=f"2001:db8:aa::{ll_id:x}"), 8.0)
        assert len(n.mip6.ha.halist) <= 8
        last[ll] = (h, pref if with_hai else 0, life if with_hai else rl, ll_id)
    for (_i, lla), e in n.mip6.ha.halist.items():
        h, pref, life, _ = last[str(lla)]
        assert h and life > 0 and e.preference == pref and e.expire == 8.0 + life
    got = dhaad(n, 1, 8.0)
    prefs = {str(a): e.preference for e in n.mip6.ha.halist.values() for a in e.addrs}
    prefs[str(HA_H)] = 0
    assert [prefs[a] for a in got] == sorted((prefs[a] for a in got), reverse=True)
    assert set(got) == set(prefs)


def test_home_agent_dad_ignores_its_own_looped_probe() -> None:
    """The home agent's DAD probe for a home address comes back (a link
    that reflects): its RFC 7527 nonce is ours, so it is no other node's
    probe, the registration is accepted; another node's probe (another
    nonce) still makes it 134; a deregistration during DAD ends the watch."""

    n = ha_node()
    out = hrx(n, "f0", bu_pkt_(5), 10.0)
    assert out == []
    (nonce,) = [v for k, v in n.nbr.watch_nonces.items() if k == ("h0", HOA)]
    looped = IPv6(src="::", dst="ff02::1:ff00:10", hlim=255) / ICMPv6ND_NS(tgt=str(HOA)) / \
        Raw(bytes([14, 1]) + nonce)
    n.receive("h0", codec.ether(bytes.fromhex("3333ff000010"), MAC_PEER, bytes(looped)), 10.5)
    assert n.stats["icp6s_nd_looped"] == 1
    ba = _ba(_ipv6(n.poll(11.2)))
    assert ba.status == 0 and n.stats["mip6s_hadaddup"] == 0
    m = ha_node()
    hrx(m, "f0", bu_pkt_(5), 10.0)
    other = IPv6(src="::", dst="ff02::1:ff00:10", hlim=255) / ICMPv6ND_NS(tgt=str(HOA)) / \
        Raw(bytes([14, 1]) + bytes(6))
    m.receive("h0", codec.ether(bytes.fromhex("3333ff000010"), MAC_PEER, bytes(other)), 10.5)
    assert _ba(_ipv6(m.poll(11.2))).status == 134
    from kame.addr import solicited_node

    g = solicited_node(HOA)
    assert g in n.groups["h0"], "joined for the proxy entry"
    assert g not in m.groups["h0"], "left after the refusal"
    k = ha_node()
    hrx(k, "f0", bu_pkt_(5), 10.0)
    assert k.nbr.watch and k.nbr.watch_nonces
    hrx(k, "f0", bu_pkt_(6, lifetime=0), 10.2)
    assert not k.nbr.watch and not k.nbr.watch_nonces and not k.mip6.ha.pending
    assert g not in k.groups["h0"]
