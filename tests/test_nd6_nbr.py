"""NS/NA input (RFC 4861 §7.1, §7.2), DAD (RFC 4862 §5.4, RFC 7527),
rfc2462bis, proxy NDP, ifattach (§1.4.1, §1.15)."""

from __future__ import annotations

import random
from ipaddress import IPv6Address as A

import pytest

from kame.addr import eui64_ifid, hostname_ifid
from kame.errors import ConfigError, LimitError
from kame.in6_var import AddrList, Ifnet, IfType, In6Flags, In6Ifaddr
from kame.knobs import Knobs
from kame.nd6.cache import NdState, NeighborCache
from kame.nd6.ifattach import get_ifid, in6_ifattach, mld_reportable, subnet_router_anycast_ifa
from kame.nd6.nbr import Nd6Nbr
from kame.nd6.types import (
    AddressDuplicated,
    AddressReady,
    Event,
    InterfaceDisabled,
    NaInput,
    NsInput,
    SendNA,
    SendNS,
)

IF = "eth0"
MAC = bytes.fromhex("0200f8016317")
PEER_LL = bytes.fromhex("020000000099")
ME = A("fe80::f8ff:fe01:6317")  # not EUI-64 of MAC; plain configured address
GLOBAL = A("2001:db8::1")
PEER = A("fe80::99")
SOL_ME = A("ff02::1:ff01:6317")


def make(**knobs: int) -> Nd6Nbr:
    k = Knobs(knobs)
    cache = NeighborCache(k, rng=random.Random(3))
    cache.attach(IF, 0.0)
    ifp = Ifnet(IF, 2, IfType.ETHER, MAC, up=True)
    addrs = AddrList()
    addrs.add(In6Ifaddr(ME, 64, IF))
    addrs.add(In6Ifaddr(GLOBAL, 64, IF))
    return Nd6Nbr(k, cache, addrs, {IF: ifp}, rng=random.Random(4))


def ns(**kw: object) -> NsInput:
    base = {"src": PEER, "dst": SOL_ME, "hop_limit": 255, "target": ME, "slla": PEER_LL}
    base.update(kw)
    return NsInput(**base)  # type: ignore[arg-type]


def na(**kw: object) -> NaInput:
    base = {"src": PEER, "dst": ME, "hop_limit": 255, "target": PEER, "solicited": True,
                "override": True, "tlla": PEER_LL}
    base.update(kw)
    return NaInput(**base)  # type: ignore[arg-type]


# --- NS input ------------------------------------------------------------------

def test_ns_answered_and_cached() -> None:
    n = make()
    out = n.ns_input(IF, ns(), 0.0)
    assert out == [SendNA(IF, ME, PEER, ME, False, True, True, True, None)]
    ln = n.cache.lookup(IF, PEER)
    assert ln.state == NdState.STALE and ln.lladdr == PEER_LL


def test_ns_router_flag_when_forwarding() -> None:
    n = make(**{"net.inet6.ip6.forwarding": 1})
    (a,) = [x for x in n.ns_input(IF, ns(), 0.0) if isinstance(x, SendNA)]
    assert a.router


def test_ns_for_other_target_ignored() -> None:
    n = make()
    assert n.ns_input(IF, ns(target=A("fe80::77")), 0.0) == []
    assert n.cache.lookup(IF, PEER) is None


@pytest.mark.parametrize("bad,counter", [
    ({"hop_limit": 254}, "icp6s_badns"),
    ({"code": 1}, "icp6s_badcode"),
    ({"target": A("ff02::1")}, "icp6s_badns"),
    ({"src": A("::"), "slla": None, "dst": A("ff02::1")}, "icp6s_badns"),
    ({"src": A("::"), "slla": PEER_LL}, "icp6s_badns"),
    ({"slla": b"\x01\x02"}, "icp6s_badns"),
])
def test_ns_validation_counted(bad: dict, counter: str) -> None:
    n = make(**{"net.inet6.icmp6.nd6_debug": 1})
    assert n.ns_input(IF, ns(**bad), 0.0) == []
    assert n.stats[counter] == 1 and n.cache.lookup(IF, PEER) is None
    assert n.log.lines  # nd6_debug=1 logs


def test_toomanyopt_counted_and_debug_log_rate_limited() -> None:
    n = make(**{"net.inet6.icmp6.nd6_debug": 1})
    n.ns_input(IF, ns(options_ignored=3), 0.0)
    assert n.stats["icp6s_nd_toomanyopt"] == 1
    for i in range(100):
        n.ns_input(IF, ns(hop_limit=1), i * 0.01)
    assert n.stats["icp6s_badns"] == 100 and len(n.log.drain()) == 1
    n.ns_input(IF, ns(hop_limit=1), 10.0)  # log_interval (5 s) later
    assert len(n.log.drain()) == 1
    quiet = make()  # nd6_debug=0: nothing logged
    quiet.ns_input(IF, ns(hop_limit=1), 0.0)
    assert quiet.log.drain() == [] and quiet.stats["icp6s_badns"] == 1


def test_ns_from_dad_prober_answered_to_all_nodes() -> None:
    n = make()
    out = n.ns_input(IF, ns(src=A("::"), slla=None), 0.0)
    assert out == [SendNA(IF, ME, A("ff02::1"), ME, False, False, True, True, None)]
    assert len(n.cache) == 0  # no entry for ::


def test_ns_with_my_address_as_source_ignored() -> None:
    n = make()
    assert n.ns_input(IF, ns(src=ME), 0.0) == []


def test_anycast_target_no_override() -> None:
    n = make()
    n.addrs.add(In6Ifaddr(A("2001:db8::"), 64, IF, In6Flags.ANYCAST))
    (a,) = [x for x in n.ns_input(IF, ns(target=A("2001:db8::")), 0.0) if isinstance(x, SendNA)]
    assert not a.override


def test_ns_without_slla_creates_nostate() -> None:
    n = make()
    n.ns_input(IF, ns(slla=None, dst=ME), 0.0)
    assert n.cache.lookup(IF, PEER).state == NdState.NOSTATE


# --- NA input ------------------------------------------------------------------

def test_na_completes_resolution() -> None:
    n = make()
    n.cache.resolve(IF, PEER, "pkt", 0.0)
    out = n.na_input(IF, na(), 0.1)
    assert n.cache.lookup(IF, PEER).state == NdState.REACHABLE
    assert out and out[0].packets == ("pkt",)


@pytest.mark.parametrize("bad,counter", [
    ({"hop_limit": 64}, "icp6s_badna"),
    ({"code": 2}, "icp6s_badcode"),
    ({"target": A("ff02::1")}, "icp6s_badna"),
    ({"dst": A("ff02::1"), "solicited": True}, "icp6s_badna"),
    ({"tlla": b"\x00" * 8}, "icp6s_badna"),
])
def test_na_validation_counted(bad: dict, counter: str) -> None:
    n = make()
    n.cache.resolve(IF, PEER, "pkt", 0.0)
    assert n.na_input(IF, na(**bad), 0.1) == []
    assert n.stats[counter] == 1 and n.cache.lookup(IF, PEER).state == NdState.INCOMPLETE


def test_na_claiming_my_address() -> None:
    n = make()
    out = n.na_input(IF, na(target=ME, solicited=False, dst=A("ff02::1")), 0.0)
    assert out[0] == Event("address_conflict", IF, {"addr": ME, "tlla": PEER_LL})
    own = n.na_input(IF, na(target=ME, solicited=False, dst=A("ff02::1"), tlla=MAC), 0.0)
    assert own == []  # our own looped-back NA


# --- DAD -------------------------------------------------------------------------

TENT = A("2001:db8::5")


def tentative(n: Nd6Nbr, addr: A = TENT, hw: bool = False) -> In6Ifaddr:
    ifa = n.addrs.add(In6Ifaddr(addr, 64, IF, In6Flags.TENTATIVE, hw_derived=hw))
    assert n.dad_start(ifa, 0.0) == []
    return ifa


def run(n: Nd6Nbr, until: float) -> list[object]:
    out: list[object] = []
    while (d := n.next_deadline()) is not None and d <= until:
        out += n.poll(d)
    return out


def test_dad_success_timing() -> None:
    n = make(**{"net.inet6.ip6.dad_count": 3})
    ifa = tentative(n)
    out = n.poll(0.0)
    assert len(out) == 1 and isinstance(out[0], SendNS)
    probe = out[0]
    assert probe.src == A("::") and not probe.include_slla and probe.dst == A("ff02::1:ff00:5")
    assert probe.nonce is not None and len(probe.nonce) == 6
    assert n.poll(0.999) == [] and len(n.poll(1.0)) == 1 and len(n.poll(2.0)) == 1
    assert ifa.tentative
    assert n.poll(2.999) == []
    assert n.poll(3.0) == [AddressReady(IF, ifa.addr)] and not ifa.tentative


def test_dad_delay_and_zero_count() -> None:
    n = make()
    ifa = n.addrs.add(In6Ifaddr(A("2001:db8::6"), 64, IF, In6Flags.TENTATIVE))
    n.dad_start(ifa, 10.0, delay=0.7)
    assert n.next_deadline() == pytest.approx(10.7)
    n0 = make(**{"net.inet6.ip6.dad_count": 0})
    ifa0 = n0.addrs.add(In6Ifaddr(A("2001:db8::6"), 64, IF, In6Flags.TENTATIVE))
    assert n0.dad_start(ifa0, 0.0) == [AddressReady(IF, ifa0.addr)] and not ifa0.tentative


def test_dad_duplicate_by_ns() -> None:
    n = make()
    ifa = tentative(n)
    n.poll(0.0)
    out = n.ns_input(IF, ns(src=A("::"), slla=None, target=ifa.addr, dst=A("ff02::1:ff00:5"),
                            nonce=b"\x01" * 6), 0.5)
    assert out == [AddressDuplicated(IF, ifa.addr, "ns")]
    assert ifa.duplicated and not ifa.tentative and n.stats["icp6s_dupaddr"] == 1
    assert n.poll(5.0) == []  # DAD stopped
    # a duplicated address answers nothing
    assert n.ns_input(IF, ns(target=ifa.addr), 6.0) == []


def test_dad_duplicate_by_na() -> None:
    n = make()
    ifa = tentative(n)
    out = n.na_input(IF, na(target=ifa.addr, solicited=False, dst=A("ff02::1")), 0.5)
    assert out == [AddressDuplicated(IF, ifa.addr, "na")]


def test_looped_back_probe_is_not_a_duplicate() -> None:
    """RFC 7527: our own probe, echoed by the driver (§1.2), carries our nonce."""
    n = make()
    ifa = tentative(n)
    (probe,) = n.poll(0.0)
    echoed = ns(src=A("::"), slla=None, target=ifa.addr, dst=probe.dst, nonce=probe.nonce)
    assert n.ns_input(IF, echoed, 0.01) == []
    assert n.stats["icp6s_nd_looped"] == 1 and ifa.tentative
    assert n.poll(1.0) == [AddressReady(IF, ifa.addr)]
    # without enhanced DAD there is no nonce, and the echo is a duplicate
    n2 = make(**{"net.inet6.ip6.dad_enhanced": 0})
    ifa2 = tentative(n2)
    (probe2,) = n2.poll(0.0)
    assert probe2.nonce is None
    n2.ns_input(IF, ns(src=A("::"), slla=None, target=ifa2.addr, dst=probe2.dst), 0.01)
    assert ifa2.duplicated


def test_ns_for_tentative_from_resolver_ignored() -> None:
    n = make()
    ifa = tentative(n)
    assert n.ns_input(IF, ns(target=ifa.addr), 0.1) == [] and ifa.tentative


def test_rfc2462bis_disables_interface() -> None:
    n = make()
    ll = A("fe80::" + ":".join(eui64_ifid(MAC).hex()[i:i + 4] for i in range(0, 16, 4)))
    ifa = tentative(n, ll, hw=True)
    out = n.na_input(IF, na(target=ll, solicited=False, dst=A("ff02::1")), 0.2)
    assert InterfaceDisabled(IF, ll) in out
    assert n.ifnets[IF].flags.disabled and n.cache.info(IF).flags.disabled
    # a non-hardware-derived (or non-link-local) duplicate does not disable
    n2 = make()
    ifa2 = tentative(n2, A("fe80::1234"), hw=False)
    n2.na_input(IF, na(target=ifa2.addr, solicited=False, dst=A("ff02::1")), 0.2)
    assert ifa2.duplicated and not n2.ifnets[IF].flags.disabled
    assert ifa.duplicated


# --- proxy NDP -------------------------------------------------------------------

def test_proxy_na() -> None:
    n = make()
    target = A("2001:db8::abcd")
    proxied_ll = bytes.fromhex("000102030405")
    n.add_proxy(IF, target, proxied_ll)
    out = n.ns_input(IF, ns(target=target), 0.0)
    assert out[-1] == SendNA(IF, target, PEER, None, False, True, False, True, proxied_ll)
    with pytest.raises(ConfigError):
        n.add_proxy(IF, A("2001:db9::1"))  # off-link (§1.2 limitation)
    n.add_proxy(IF, A("fe80::55"))
    small = make(**{"net.inet6.icmp6.nd6_maxproxy": 1})
    small.add_proxy(IF, A("fe80::1"))
    with pytest.raises(LimitError):
        small.add_proxy(IF, A("fe80::2"))
    assert n.proxy.remove(IF, target) and n.ns_input(IF, ns(target=target), 1.0) == []


def test_unsolicited_na() -> None:
    n = make()
    assert n.unsolicited_na(IF, ME) == SendNA(IF, ME, A("ff02::1"), ME, False, False, True,
                                              True, None)


# --- ifattach (§1.4.1, §1.15) --------------------------------------------------

def test_ifattach_ethernet_host_and_router() -> None:
    eth = Ifnet("eth0", 2, IfType.ETHER, bytes.fromhex("0000f8016317"))
    res = in6_ifattach(eth, [eth])
    (ll,) = res.addresses
    assert ll.addr == A("fe80::200:f8ff:fe01:6317") and ll.tentative and ll.hw_derived
    assert set(res.groups) == {A("ff02::1"), A("ff01::1"), A("ff02::1:ff01:6317")}
    assert res.ifid_source == "hw" and res.needs_dad == [ll]
    rtr = in6_ifattach(eth, [eth], router=True)
    assert A("ff02::2") in rtr.groups


def test_ifattach_loopback() -> None:
    lo = Ifnet("lo0", 1, IfType.LOOPBACK)
    res = in6_ifattach(lo, [lo])
    assert {a.addr for a in res.addresses} == {A("::1"), A("fe80::1")}
    assert A("ff01::1") in res.groups and res.needs_dad == []


def test_ifattach_p2p_borrows_then_md5() -> None:
    eth = Ifnet("eth0", 2, IfType.ETHER, bytes.fromhex("0000f8016317"))
    gif = Ifnet("gif0", 3, IfType.GIF)
    ifid, source, hw = get_ifid(gif, [Ifnet("lo0", 1, IfType.LOOPBACK), eth, gif], "h")
    assert ifid == eui64_ifid(eth.lladdr) and source == "borrowed:eth0" and not hw
    res = in6_ifattach(gif, [gif], hostname="kame.example")
    assert res.ifid_source == "md5" and res.ifid == hostname_ifid("kame.example")
    assert not res.addresses[0].hw_derived
    zero = Ifnet("eth9", 4, IfType.ETHER, bytes(6))
    assert get_ifid(zero, [zero], "h")[1] == "md5"


def test_subnet_router_anycast_and_mld() -> None:
    ifa = In6Ifaddr(A("2001:db8:1::1"), 64, IF)
    any_ = subnet_router_anycast_ifa(ifa)
    assert any_.addr == A("2001:db8:1::") and any_.flags & In6Flags.ANYCAST
    assert subnet_router_anycast_ifa(In6Ifaddr(ME, 64, IF)) is None
    assert not mld_reportable(A("ff02::1")) and not mld_reportable(A("ff01::1"))
    assert mld_reportable(A("ff02::1:ff01:6317")) and mld_reportable(A("ff02::2"))


def test_ns_flood_random_targets_creates_nothing() -> None:
    """NSs for targets we don't own are ignored before any cache update
    (KAME nd6_ns_input order), so a random-target flood costs no memory."""
    n = make()
    rnd = random.Random(5)
    for i in range(5000):
        n.ns_input(IF, ns(src=A((0xFE80 << 112) | rnd.getrandbits(64)),
                          target=A((0x2001 << 112) | rnd.getrandbits(64))), i * 1e-3)
    assert len(n.cache) == 0 and len(n.dad) == 0
