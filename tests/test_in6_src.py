"""RFC 6724 source selection and destination ordering (kame.in6_src):
the examples of RFC 6724 §10.1 and §10.2, the ip6addrctl table, the
use_deprecated / prefer_tempaddr knobs, and hypothesis properties."""

from __future__ import annotations

import itertools
from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kame.errors import ConfigError
from kame.in6_src import (
    Destination,
    PolicyTable,
    SourceCandidate,
    common_prefix_len,
    in6_selectsrc,
    order_destinations,
    source_key,
)


def C(text: str, **kw: object) -> SourceCandidate:
    a = ip_address(text)
    plen = 64 if isinstance(a, IPv6Address) else 24
    return SourceCandidate(a, kw.pop("ifname", "eth0"), plen, **kw)  # type: ignore[arg-type]


def pick(dst: str, *cands: SourceCandidate, **kw: object) -> str:
    answers = set()
    for perm in itertools.permutations(cands):  # the answer must not depend on order
        got = in6_selectsrc(ip_address(dst), list(perm), **kw)  # type: ignore[arg-type]
        assert got is not None
        answers.add(str(got.addr))
    assert len(answers) == 1, answers
    return answers.pop()


# --- RFC 6724 §10.1 ---------------------------------------------------------

def test_10_1_prefer_appropriate_scope() -> None:
    assert pick("2001:db8:1::1", C("2001:db8:3::1"), C("fe80::1")) == "2001:db8:3::1"
    assert pick("ff05::1", C("2001:db8:3::1"), C("fe80::1")) == "2001:db8:3::1"
    assert pick("fe80::1", C("fe80::2", deprecated=True), C("2001:db8:1::1")) == "fe80::2"


def test_10_1_prefer_same_address() -> None:
    assert pick("2001:db8:1::1", C("2001:db8:1::1", deprecated=True),
                C("2001:db8:2::1")) == "2001:db8:1::1"
    # §1.6.1: use_deprecated=0 prohibits deprecated sources, rule 1 or not
    assert pick("2001:db8:1::1", C("2001:db8:1::1", deprecated=True),
                C("2001:db8:2::1"), use_deprecated=False) == "2001:db8:2::1"


def test_10_1_longest_matching_prefix() -> None:
    assert pick("2001:db8:1::1", C("2001:db8:1::2"), C("2001:db8:3::2")) == "2001:db8:1::2"


def test_10_1_prefer_home_address() -> None:
    assert pick("2001:db8:1::1", C("2001:db8:1::2", care_of=True),
                C("2001:db8:3::2", home=True)) == "2001:db8:3::2"


def test_10_1_prefer_matching_label() -> None:
    assert pick("2002:c633:6401::1", C("2002:c633:6401::d5e3:7953:13eb:22e8", temporary=True),
                C("2001:db8:1::2")) == str(ip_address("2002:c633:6401::d5e3:7953:13eb:22e8"))


def test_10_1_prefer_temporary_follows_prefer_tempaddr() -> None:
    cands = (C("2001:db8:1::2"), C("2001:db8:1::d5e3:7953:13eb:22e8", temporary=True))
    # RFC 6724's result, with net.inet6.ip6.prefer_tempaddr=1
    assert pick("2001:db8:1::d5e3:0:0:1", *cands,
                prefer_tempaddr=True) == str(ip_address("2001:db8:1::d5e3:7953:13eb:22e8"))
    # KAME's default (prefer_tempaddr=0, §1.6.1): the public address; rule 8
    # cannot undo it because CommonPrefixLen stops at the /64 prefix.
    assert pick("2001:db8:1::d5e3:0:0:1", *cands, prefer_tempaddr=False) == "2001:db8:1::2"


# --- RFC 6724 §10.2 ---------------------------------------------------------

def sort(dsts: list[str], cands: list[SourceCandidate]) -> list[tuple[str, str]]:
    results = []
    for perm in itertools.permutations(dsts):
        ds = []
        for d in perm:
            a = ip_address(d)
            src = in6_selectsrc(a, cands)
            ds.append(Destination(a, src))
        out = [(str(x.addr), str(x.source.addr) if x.source else "") for x in
               order_destinations(ds)]
        results.append(out)
    assert all(r == results[0] for r in results), results  # order-independent
    return results[0]


def test_10_2_examples() -> None:
    assert sort(["2001:db8:1::1", "198.51.100.121"],
                [C("2001:db8:1::2"), C("fe80::1"), C("169.254.13.78")]) == [
        ("2001:db8:1::1", "2001:db8:1::2"), ("198.51.100.121", "169.254.13.78")]
    assert sort(["2001:db8:1::1", "198.51.100.121"],
                [C("fe80::1"), C("198.51.100.117")]) == [
        ("198.51.100.121", "198.51.100.117"), ("2001:db8:1::1", "fe80::1")]
    assert sort(["2001:db8:1::1", "10.1.2.3"],
                [C("2001:db8:1::2"), C("fe80::1"), C("10.1.2.4")]) == [
        ("2001:db8:1::1", "2001:db8:1::2"), ("10.1.2.3", "10.1.2.4")]
    assert sort(["2001:db8:1::1", "fe80::1"], [C("2001:db8:1::2"), C("fe80::2")]) == [
        ("fe80::1", "fe80::2"), ("2001:db8:1::1", "2001:db8:1::2")]
    assert sort(["2001:db8:1::1", "fe80::1"],
                [C("2001:db8:1::2", care_of=True), C("2001:db8:3::1", home=True),
                 C("fe80::2", care_of=True)]) == [
        ("2001:db8:1::1", "2001:db8:3::1"), ("fe80::1", "fe80::2")]
    assert sort(["2001:db8:1::1", "fe80::1"],
                [C("2001:db8:1::2"), C("fe80::2", deprecated=True)]) == [
        ("2001:db8:1::1", "2001:db8:1::2"), ("fe80::1", "fe80::2")]
    assert sort(["2001:db8:1::1", "2001:db8:3ffe::1"],
                [C("2001:db8:1::2"), C("2001:db8:3f44::2"), C("fe80::2")]) == [
        ("2001:db8:1::1", "2001:db8:1::2"), ("2001:db8:3ffe::1", "2001:db8:3f44::2")]
    assert sort(["2002:c633:6401::1", "2001:db8:1::1"],
                [C("2002:c633:6401::2"), C("fe80::2")]) == [
        ("2002:c633:6401::1", "2002:c633:6401::2"), ("2001:db8:1::1", "2002:c633:6401::2")]
    assert sort(["2002:c633:6401::1", "2001:db8:1::1"],
                [C("2002:c633:6401::2"), C("2001:db8:1::2"), C("fe80::2")]) == [
        ("2001:db8:1::1", "2001:db8:1::2"), ("2002:c633:6401::1", "2002:c633:6401::2")]


def test_unusable_destination_goes_last() -> None:
    a, b = IPv6Address("2001:db8::1"), IPv6Address("2001:db8::2")
    s = C("2001:db8::9")
    out = order_destinations([Destination(a, None), Destination(b, s)])
    assert [d.addr for d in out] == [b, a]
    out = order_destinations([Destination(a, s, reachable=False), Destination(b, s)])
    assert [d.addr for d in out] == [b, a]
    out = order_destinations([Destination(a, s, encapsulated=True), Destination(b, s)])
    assert [d.addr for d in out] == [b, a]


# --- rules 5, KAME extras, use_deprecated ------------------------------------

def test_rule5_outgoing_interface_and_kame_rules() -> None:
    a, b = C("2001:db8:1::1", ifname="eth0"), C("2001:db8:1::2", ifname="eth1")
    dst = IPv6Address("2001:db8:9::1")
    assert in6_selectsrc(dst, [a, b], outif="eth1") is b
    assert in6_selectsrc(dst, [a, b], outif="eth0") is a
    down = C("2001:db8:1::3", ifname="eth0", if_up=False)
    assert in6_selectsrc(dst, [down, a], outif="eth0") is a
    pref = C("2001:db8:1::4", ifname="eth0", if_preferred=True)
    assert in6_selectsrc(dst, [a, pref], outif="eth0") is pref


def test_use_deprecated_zero_excludes() -> None:
    d = C("2001:db8:1::1", deprecated=True)
    dst = IPv6Address("2001:db8:1::9")
    assert in6_selectsrc(dst, [d]) is d
    assert in6_selectsrc(dst, [d], use_deprecated=False) is None


# --- the policy table (ip6addrctl) -----------------------------------------

def test_policy_table_add_delete_flush_show() -> None:
    t = PolicyTable()
    assert len(t) == 9
    assert t.lookup(IPv6Address("::1")).precedence == 50
    assert t.lookup(IPv4Address("10.0.0.1")).label == 4
    assert t.lookup(IPv6Address("2001::1")).label == 5
    assert t.lookup(IPv6Address("2001:db8::1")).label == 1
    with pytest.raises(ConfigError):
        t.add("::1/128", 1, 1)
    t.add("2001:db8::/32", 45, 14)
    assert t.lookup(IPv6Address("2001:db8::1")).precedence == 45
    lines = t.show().splitlines()
    assert lines[0].startswith("Prefix") and len(lines) == 11
    assert any(ln.split()[:3] == ["2001:db8::/32", "45", "14"] for ln in lines)
    t.delete("2001:db8::/32")
    with pytest.raises(ConfigError):
        t.delete("2001:db8::/32")
    t.flush()
    assert len(t) == 0 and t.lookup(IPv6Address("::1")).precedence == 0
    t.install_default()
    assert len(t) == 9


def test_policy_changes_the_choice() -> None:
    """A policy giving 2001:db8:2::/48 the label of 2001:db8:9::/48 makes the
    2001:db8:2:: source match the label of the destination (rule 6)."""
    t = PolicyTable()
    dst = IPv6Address("2001:db8:9::1")
    a, b = C("2001:db8:1::1"), C("2001:db8:2::1")
    assert in6_selectsrc(dst, [a, b], policy=t) is a  # rule 8: tie -> first (both /32 common)
    t.add("2001:db8:9::/48", 40, 20)
    t.add("2001:db8:2::/48", 40, 20)
    assert in6_selectsrc(dst, [a, b], policy=t) is b


def test_common_prefix_len_is_capped_at_the_source_prefix() -> None:
    s, d = IPv6Address("2001:db8::1"), IPv6Address("2001:db8::2")
    assert common_prefix_len(s, d, 64) == 64
    assert common_prefix_len(s, d, 128) == 126
    assert common_prefix_len(s, IPv4Address("1.2.3.4")) == 0


# --- properties -------------------------------------------------------------

_PREFIXES = ["2001:db8:1::", "2001:db8:2::", "2002:c633:6401::", "fe80::", "fec0::",
             "fc00::", "3ffe::", "2001::"]
addr6 = st.builds(lambda p, iid: IPv6Address(int(IPv6Address(p)) | iid),
                  st.sampled_from(_PREFIXES), st.integers(0, 2**64 - 1))
cand = st.builds(lambda a, dep, tmp, home, coa, ifn, up: SourceCandidate(
    a, ifn, 64, dep, tmp, home, coa, up), addr6, st.booleans(), st.booleans(), st.booleans(),
    st.booleans(), st.sampled_from(["eth0", "eth1"]), st.booleans())
dst6 = st.one_of(addr6, st.sampled_from([IPv6Address("ff02::1"), IPv6Address("ff05::2"),
                                         IPv6Address("ff0e::3")]))


@given(dst6, st.lists(cand, min_size=1, max_size=6), st.booleans(), st.booleans(),
       st.randoms(use_true_random=False))
def test_choice_is_a_maximum_and_order_free(dst, cands, tmp, usedep, rnd) -> None:  # type: ignore[no-untyped-def]
    kw = {"outif": "eth0", "prefer_tempaddr": tmp, "use_deprecated": usedep}
    got = in6_selectsrc(dst, cands, **kw)  # type: ignore[arg-type]
    allowed = [c for c in cands if usedep or not c.deprecated]
    if not allowed:
        assert got is None
        return
    assert got is not None and got in allowed
    key = lambda c: source_key(c, dst, outif="eth0", policy=PolicyTable(),
                               prefer_tempaddr=tmp)
    assert all(key(got) >= key(c) for c in allowed)
    shuffled = list(cands)
    rnd.shuffle(shuffled)
    again = in6_selectsrc(dst, shuffled, **kw)  # type: ignore[arg-type]
    assert again is not None and key(again) == key(got)
    # rule 2: never a too-small scope when a big enough one exists
    from kame.in6_src import scope_of
    if any(scope_of(c.addr) >= scope_of(dst) for c in allowed):
        assert scope_of(got.addr) >= scope_of(dst)
    if dst in [c.addr for c in allowed]:
        assert got.addr == dst


@given(st.lists(st.tuples(dst6, st.one_of(st.none(), cand), st.booleans()), max_size=7))
def test_destination_order_is_a_stable_permutation(items) -> None:  # type: ignore[no-untyped-def]
    ds = [Destination(d, s, r) for d, s, r in items]
    out = order_destinations(ds)
    assert sorted(map(id, out)) == sorted(map(id, ds))
    assert order_destinations(out) == out  # sorting twice changes nothing
    usable = [d.source is not None and d.reachable for d in out]
    assert usable == sorted(usable, reverse=True)  # rule 1 puts unusable ones last
