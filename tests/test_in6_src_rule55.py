"""RFC 6724 §5 rule 5.5, "prefer addresses in a prefix advertised by the
next-hop": the pure function (kame.in6_src), then RFC 6724's own case over a
memory link (two router nodes on one link, each advertising its own prefix;
a host with an address from each): the source for a destination routed via
router A is A's prefix's address, via router B B's; with
net.inet6.ip6.prefer_nexthop_prefix 0, rule 8 decides. Hypothesis: the rule
never overrides rules 1-5 and never decides without a next hop."""

from __future__ import annotations

import itertools
from dataclasses import replace
from ipaddress import IPv6Address as A
from ipaddress import IPv6Network, ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kame.in6_src import PolicyTable, SourceCandidate, in6_selectsrc, source_key
from kame.in6_var import In6Flags
from kame.knobs import Knobs
from kame.link.memory import MemoryLink, Simulation
from kame.nd6.rtr import RaConfig
from kame.nd6.types import PrefixInfo, RouteInfo
from kame.node import Node
from kame.socket import AF_INET6, SOCK_DGRAM, SocketLayer

RTR_A, RTR_B = A("fe80::a"), A("fe80::b")


def pick(dst: str, *cands: SourceCandidate, **kw: object) -> str:
    answers = set()
    for perm in itertools.permutations(cands):  # never depends on the order
        got = in6_selectsrc(ip_address(dst), list(perm), **kw)  # type: ignore[arg-type]
        assert got is not None
        answers.add(str(got.addr))
    assert len(answers) == 1, answers
    return answers.pop()


def C(text: str, *adv: A, **kw: object) -> SourceCandidate:
    return SourceCandidate(A(text), str(kw.pop("ifname", "eth0")), 64,  # type: ignore[arg-type]
                           advrtrs=adv, **kw)  # type: ignore[arg-type]


# --- the pure function --------------------------------------------------------

def test_prefer_the_prefix_the_next_hop_advertised() -> None:
    sa = C("2001:db8:a::1", RTR_A)
    sb = C("2001:db8:b::1", RTR_B)
    # rule 8 alone prefers 2001:db8:b::1 for 2001:db8:b:1::1 ...
    assert pick("2001:db8:b:1::1", sa, sb) == "2001:db8:b::1"
    # ... rule 5.5 prefers the address of the prefix the next hop advertised
    assert pick("2001:db8:b:1::1", sa, sb, next_hop=RTR_A) == "2001:db8:a::1"
    assert pick("2001:db8:a:1::1", sa, sb, next_hop=RTR_B) == "2001:db8:b::1"
    assert pick("2001:db8:a:1::1", sa, sb, next_hop=RTR_A, outif="eth0") == "2001:db8:a::1"
    # a next hop that advertised neither, or both: rule 8 decides
    assert pick("2001:db8:b:1::1", sa, sb, next_hop=A("fe80::c")) == "2001:db8:b::1"
    both = (C("2001:db8:a::1", RTR_A, RTR_B), C("2001:db8:b::1", RTR_B, RTR_A))
    assert pick("2001:db8:b:1::1", *both, next_hop=RTR_A) == "2001:db8:b::1"


def test_rule55_ranks_after_rule5_and_before_rule6() -> None:
    # rule 5 (the outgoing interface) outranks it
    sa = C("2001:db8:a::1", RTR_A, ifname="eth1")
    sb = C("2001:db8:b::1", RTR_B)
    assert pick("2001:db8:a:1::1", sa, sb, next_hop=RTR_A, outif="eth0") == "2001:db8:b::1"
    # rule 3 (deprecated) too
    sa = C("2001:db8:a::1", RTR_A, deprecated=True)
    assert pick("2001:db8:b:1::1", sa, sb, next_hop=RTR_A) == "2001:db8:b::1"
    # it outranks rule 6 (matching label): 2002::/16 has label 2, ::/0 label 1
    s6to4 = C("2002:c000:201::1", RTR_A)
    plain = C("2001:db8:b::1", RTR_B)
    assert pick("2002:c633:6401::1", s6to4, plain) == "2002:c000:201::1"
    assert pick("2002:c633:6401::1", s6to4, plain, next_hop=RTR_B) == "2001:db8:b::1"
    # ... and rule 7 (public over temporary)
    tmp = C("2001:db8:a::99", RTR_A, temporary=True)
    pub = C("2001:db8:b::99")
    assert pick("2001:db8:c::1", tmp, pub, next_hop=RTR_A) == "2001:db8:a::99"
    assert pick("2001:db8:c::1", tmp, pub) == "2001:db8:b::99"


def test_next_hop_type_checked() -> None:
    with pytest.raises(TypeError):
        in6_selectsrc(A("2001:db8::1"), [C("2001:db8::2")], next_hop="fe80::1")  # type: ignore[arg-type]


_PREFIXES = ["2001:db8:a::", "2001:db8:b::", "2002:c633:6401::", "fe80::", "fc00::"]
_ROUTERS = [RTR_A, RTR_B, A("fe80::c")]
addr6 = st.builds(lambda p, iid: A(int(A(p)) | iid), st.sampled_from(_PREFIXES),
                  st.integers(0, 2**64 - 1))
cand = st.builds(
    lambda a, dep, tmp, home, ifn, adv: SourceCandidate(a, ifn, 64, dep, tmp, home,
                                                        advrtrs=tuple(adv)),
    addr6, st.booleans(), st.booleans(), st.booleans(), st.sampled_from(["eth0", "eth1"]),
    st.lists(st.sampled_from(_ROUTERS), max_size=2, unique=True))


@given(addr6, st.lists(cand, min_size=1, max_size=6), st.sampled_from(_ROUTERS),
       st.sampled_from([None, "eth0", "eth1"]), st.booleans())
def test_rule55_never_overrides_rules_1_to_5(dst, cands, hop, outif, tmp) -> None:  # type: ignore[no-untyped-def]
    kw = {"outif": outif, "prefer_tempaddr": tmp}
    with_hop = in6_selectsrc(dst, cands, next_hop=hop, **kw)  # type: ignore[arg-type]
    without = in6_selectsrc(dst, cands, **kw)  # type: ignore[arg-type]
    assert with_hop is not None and without is not None
    pol = PolicyTable()

    def key(c: SourceCandidate, nh: A | None) -> tuple[object, ...]:
        return source_key(c, dst, outif=outif, policy=pol, prefer_tempaddr=tmp, next_hop=nh)

    # rules 1-5 (the key without a next hop, up to rule 5) rank both
    # answers the same: 5.5 only picks among the ties rules 1-5 leave
    assert key(with_hop, None)[:5] == key(without, None)[:5]
    assert all(key(with_hop, None)[:5] >= key(c, None)[:5] for c in cands)
    assert all(key(with_hop, hop) >= key(c, hop) for c in cands)
    # without a next hop, or with one no candidate's prefix lists, the
    # rule never decides: the advertising routers change nothing
    bare = [replace(c, advrtrs=()) for c in cands]
    plain = in6_selectsrc(dst, bare, **kw)  # type: ignore[arg-type]
    assert plain is not None and cands[bare.index(plain)] == without
    stranger = in6_selectsrc(dst, cands, next_hop=A("fe80::dead"), **kw)  # type: ignore[arg-type]
    assert stranger == without
    # when it decides, it is for a candidate of the next hop's prefix on
    # the next hop's link
    if key(with_hop, None) != key(without, None):
        assert hop in with_hop.advrtrs and hop not in without.advrtrs
        assert outif is None or with_hop.ifname == outif


# --- RFC 6724's case over a memory link ----------------------------------------

MAC_A = bytes.fromhex("02000000000a")
MAC_B = bytes.fromhex("02000000000b")
MAC_H = bytes.fromhex("020000000001")
LL_A = A("fe80::ff:fe00:a")
LL_B = A("fe80::ff:fe00:b")
PFX_A = IPv6Network("2001:db8:a::/64")
PFX_B = IPv6Network("2001:db8:b::/64")


def two_routers(host_knobs: dict[str, int] | None = None,
                routes_b: tuple[RouteInfo, ...] = ()
                ) -> tuple[Simulation, Node, Node, Node, list[bytes]]:
    link = MemoryLink(delay=0.001)
    frames: list[bytes] = []
    link.add_tap(lambda _t, f: frames.append(bytes(f)))
    sim = Simulation()
    ra = Node("ra", knobs=Knobs({"net.inet6.ip6.forwarding": 1}), seed=1)
    rb = Node("rb", knobs=Knobs({"net.inet6.ip6.forwarding": 1}), seed=2)
    h = Node("h", knobs=Knobs({"net.inet6.ip6.accept_rtadv": 1, **(host_knobs or {})}), seed=3)
    for n, mac in ((ra, MAC_A), (rb, MAC_B), (h, MAC_H)):
        n.add_interface("eth0", mac)
        sim.connect(n, "eth0", link, mac)
        sim.emit(n, n.up("eth0", 0.0))
    for r, pfx, rts in ((ra, PFX_A, ()), (rb, PFX_B, routes_b)):
        r.rtr.advertise("eth0", RaConfig(max_interval=10, prefixes=(
            PrefixInfo(pfx.network_address, 64, valid_lifetime=3600,
                       preferred_lifetime=1800),), routes=rts), 2.0)
    sim.run(until=25.0)
    return sim, ra, rb, h, frames


def _sources(frames: list[bytes], dst: A) -> list[A]:
    # Ethernet (14) + IPv6: source at 8, destination at 24
    return [A(f[22:38]) for f in frames
            if len(f) >= 54 and f[12:14] == b"\x86\xdd" and A(f[38:54]) == dst]


@pytest.mark.parametrize("knob", [1, 0])
def test_two_routers_each_advertising_its_prefix(knob: int) -> None:
    sim, _ra, _rb, h, frames = two_routers({"net.inet6.ip6.prefer_nexthop_prefix": knob})
    ha = next(x.addr for x in h.addresses() if x.addr in PFX_A)
    hb = next(x.addr for x in h.addresses() if x.addr in PFX_B)
    assert not any(x.tentative for x in h.addresses())
    # each prefix entry lists the router that advertised it (ndpr_advrtrs)
    assert h.rtr.prefixes[("eth0", PFX_A)].advrtrs == [LL_A]
    assert h.rtr.prefixes[("eth0", PFX_B)].advrtrs == [LL_B]
    dflt = h.rtr.installed
    assert dflt is not None and dflt.addr in (LL_A, LL_B)
    other = LL_B if dflt.addr == LL_A else LL_A
    ha_dflt = ha if dflt.addr == LL_A else hb   # the default router's prefix's address
    ha_other = hb if dflt.addr == LL_A else ha
    # destinations whose longest match (rule 8) is the other router's
    # address: 2001:db8:X:1::1 shares 63 bits with 2001:db8:X::/64
    near = {LL_A: A("2001:db8:a:1::1"), LL_B: A("2001:db8:b:1::1")}
    via_dflt = near[other]            # routed via the default router
    via_static = near[dflt.addr]      # routed via the other one (a static route)
    h.route_add("2001:db8:%s:1::/64" % ("a" if dflt.addr == LL_A else "b"),
                f"{other}%eth0", "eth0")
    rt = h.rtalloc(via_static, sim.now)
    assert rt is not None and rt.next_hop == other and rt.gateway
    rt = h.rtalloc(via_dflt, sim.now)
    assert rt is not None and rt.next_hop == dflt.addr
    if knob:
        want_dflt, want_static = ha_dflt, ha_other
    else:  # rule 8: the longest matching prefix
        want_dflt, want_static = ha_other, ha_dflt
    # the node's in6_selectsrc (looks the route up), with and without the interface
    assert h.in6_selectsrc(via_dflt) == want_dflt
    assert h.in6_selectsrc(via_dflt, "eth0") == want_dflt
    assert h.in6_selectsrc(via_static, "eth0") == want_static
    # a next hop given outright, or none (on-link or unknown: rule 8)
    assert h.in6_selectsrc(via_dflt, "eth0", next_hop=None) == ha_other
    assert h.in6_selectsrc(via_static, "eth0", next_hop=None) == ha_dflt
    # the socket layer: connect() picks the local address (in6_pcbconnect)
    layer = SocketLayer(h, "netbsd")
    for dst, want in ((via_dflt, want_dflt), (via_static, want_static)):
        s = layer.socket(AF_INET6, SOCK_DGRAM)
        s.connect((str(dst), 9))
        assert A(s.getsockname()[0]) == want
        s.close()
    # what goes on the wire: send() and ping()
    del frames[:]
    h.send(via_dflt, b"\x00\x09\x00\x09\x00\x08\x00\x00", 17, sim.now)
    sim.emit(h, h._flush())
    sim.emit(h, h.ping(via_static, sim.now))
    sim.run(until=sim.now + 3.0)
    assert set(_sources(frames, via_dflt)) == {want_dflt}
    assert set(_sources(frames, via_static)) == {want_static}
    # and getaddrinfo's destination ordering sees the same sources
    ds = h.sort_destinations([via_dflt, via_static], sim.now)
    assert {d.addr: d.source.addr for d in ds if d.source} == {  # type: ignore[misc]
        via_dflt: want_dflt, via_static: want_static}


def test_dhcpv6_or_manual_address_in_an_advertised_prefix_qualifies() -> None:
    sim, _ra, _rb, h, _ = two_routers()
    # manual addresses in each advertised prefix, next to the SLAAC ones
    h.add_address("eth0", "2001:db8:a::100/64", sim.now)
    h.add_address("eth0", "2001:db8:b::100/64", sim.now)
    # and one in a prefix no router advertised
    h.add_address("eth0", "2001:db8:c::100/64", sim.now)
    sim.run(until=sim.now + 5.0)
    for a in h.addresses():  # keep only the manual ones (a DHCPv6 client's alike)
        if (a.addr in PFX_A or a.addr in PFX_B) and a.flags & In6Flags.AUTOCONF:
            h.addrs.remove("eth0", a.addr)
    cands = sorted(str(x.addr) for x in h.addresses() if not x.addr.is_link_local)
    assert cands == ["2001:db8:a::100", "2001:db8:b::100", "2001:db8:c::100"]
    dst_b = A("2001:db8:b:1::1")  # rule 8 alone: 2001:db8:b::100
    assert h.in6_selectsrc(dst_b, "eth0", next_hop=("eth0", LL_A)) == A("2001:db8:a::100")
    assert h.in6_selectsrc(dst_b, "eth0", next_hop=("eth0", LL_B)) == A("2001:db8:b::100")
    dst_c = A("2001:db8:c:1::1")  # rule 8 alone: 2001:db8:c::100, which no router advertised
    assert h.in6_selectsrc(dst_c, "eth0", next_hop=None) == A("2001:db8:c::100")
    assert h.in6_selectsrc(dst_c, "eth0", next_hop=("eth0", LL_B)) == A("2001:db8:b::100")
    # a router's address on another link never counts
    assert h.in6_selectsrc(dst_b, "eth0", next_hop=("eth1", LL_A)) == A("2001:db8:b::100")
    with pytest.raises(TypeError):
        h.in6_selectsrc(dst_b, "eth0", next_hop=LL_A)


def test_next_hop_from_an_rfc4191_route() -> None:
    # router B announces a more specific route (RFC 4191) than the default
    _sim, _ra, _rb, h, _ = two_routers(routes_b=(
        RouteInfo(A("2001:db8:a:f00::"), 56, 0, 1800),))
    hb = next(x.addr for x in h.addresses() if x.addr in PFX_B)
    ha = next(x.addr for x in h.addresses() if x.addr in PFX_A)
    dst = A("2001:db8:a:f00::1")  # 52 bits in common with A's /64, 47 with B's
    rt = h.rtalloc(dst, h._now)
    assert rt is not None and rt.next_hop == LL_B
    assert h.in6_selectsrc(dst) == hb
    assert h.in6_selectsrc(dst, "eth0", next_hop=None) == ha   # rule 8
    h.knobs["net.inet6.ip6.prefer_nexthop_prefix"] = 0
    assert h.in6_selectsrc(dst) == ha
    assert h.in6_selectsrc(dst, "eth0", next_hop=("eth0", LL_B)) == ha  # the knob wins
