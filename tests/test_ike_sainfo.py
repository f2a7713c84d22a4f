"""sainfo chosen per selector pair, as racoon does (issue 10): two of our
daemons, each with two ``sainfo address A any address B any`` sections
(and ``sainfo anonymous`` as the fallback), over IKEv2 and IKEv1 in
memory. The initiator picks the sainfo of the SADB_ACQUIRE's policy
selectors, the responder the one of the peer's TSi/TSr or quick-mode IDs;
each CHILD SA gets its sainfo's algorithm, PFS group and lifetime.
Selectors no sainfo takes are refused with the RFC's notify
(TS_UNACCEPTABLE, RFC 7296 §2.9; INVALID_ID_INFORMATION, RFC 2407 §4.6.3)
and the reason is logged. Also: the racoon.conf sainfo forms not taken
fail naming the line, and each daemon takes only the ACQUIREs of its own
IKE version's remotes."""

from __future__ import annotations

from ipaddress import ip_address, ip_network
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kame.errors import ConfigError
from kame.ike import Ike
from kame.ike.conf import parse
from kame.ike.ikev1 import Ikev1, V1Peer, id_net, id_to_net
from kame.ike.ikev2 import _ts_nets
from kame.key.engine import KeyEngine
from kame.key.setkey import run as setkey

A, B = "2001:db8::1", "2001:db8::2"
A1, B1, A2, B2 = "2001:db8:a1::/64", "2001:db8:b1::/64", "2001:db8:a2::/64", "2001:db8:b2::/64"

REMOTE = """remote {peer} {{
    ike_version {version};
    my_identifier address {me};
    peers_identifier address {peer};
    proposal {{
        encryption_algorithm aes 128;
        hash_algorithm sha256;
        authentication_method pre_shared_key;
        dh_group 14;
    }}
}}
"""

#: the first pair: AES-256 / HMAC-SHA-512, PFS with group 19, 20 minutes;
#: the second: AES-128 / HMAC-SHA-1, no PFS, 40 minutes
SAINFOS = """sainfo address {l1} any address {r1} any {{
    encryption_algorithm aes 256;
    authentication_algorithm hmac_sha512;
    pfs_group 19;
    lifetime time 20 min;
}}
sainfo address {l2} any address {r2} any {{
    encryption_algorithm aes 128;
    authentication_algorithm hmac_sha1;
    lifetime time 40 min;
}}
"""

POLICIES = f"""spdadd {A1} {B1} any -P out ipsec esp/tunnel/{A}-{B}/unique:1;
spdadd {A2} {B2} any -P out ipsec esp/tunnel/{A}-{B}/unique:2;
spdadd 2001:db8:a3::/64 2001:db8:b3::/64 any -P out ipsec esp/tunnel/{A}-{B}/unique:3;
"""


def daemons(version: int, *, b_sainfos: str | None = None, a_extra: str = ""
            ) -> tuple[Any, Any, KeyEngine, KeyEngine]:
    cls: Any = Ike if version == 2 else Ikev1
    ca = parse(REMOTE.format(peer=B, me=A, version=version)
               + SAINFOS.format(l1=A1, r1=B1, l2=A2, r2=B2) + a_extra,
               psk={B: b"sainfo-psk"}, local=A)
    cb = parse(REMOTE.format(peer=A, me=B, version=version)
               + (b_sainfos if b_sainfos is not None
                  else SAINFOS.format(l1=B1, r1=A1, l2=B2, r2=A2)),
               psk={A: b"sainfo-psk"}, local=B)
    ea, eb = KeyEngine(), KeyEngine()
    setkey(POLICIES, ea, 0.0)
    return cls(ca.peers, ea), cls(cb.peers, eb), ea, eb


def shuttle(a: Any, b: Any, now: float) -> None:
    for _ in range(40):
        moved = False
        for x, y in ((a, b), (b, a)):
            x.timehandler(now)
            out, x.out = x.out, []
            for data, dst, dport, sport in out:
                moved = True
                me = x.peers[0].local_address
                y.input(data, me, sport, dst, dport, now)
        if not moved:
            return


def acquire(engine: KeyEngine, src: str, dst: str, now: float) -> None:
    """What the key engine sends when a packet src -> dst meets its policy."""
    sp = engine.spd.lookup("out", ip_address(src), ip_address(dst), 255)
    assert sp is not None
    req = sp.requests[0]
    engine.sad.acquire(ip_address(A), ip_address(B), "esp", "tunnel", req.reqid, now, sp.id)
    engine.event_messages(now)


def sas_for(engine: KeyEngine, reqid: int) -> list[Any]:
    return [s for s in engine.sad if s.reqid == reqid]


@pytest.mark.parametrize("version", [2, 1])
def test_each_child_sa_gets_its_own_sainfo(version: int) -> None:
    a, b, ea, eb = daemons(version)
    acquire(ea, "2001:db8:a2::5", "2001:db8:b2::7", 0.0)
    shuttle(a, b, 0.0)
    # a second pair of selectors: a CHILD SA (IKEv1: a quick mode) of its
    # own on the same IKE (ISAKMP) SA, under its own sainfo
    acquire(ea, "2001:db8:a1::5", "2001:db8:b1::7", 1.0)
    shuttle(a, b, 1.0)
    pairs = {2: (A2, B2), 1: (A1, B1)}
    for reqid, (mine, theirs) in pairs.items():
        out = [s for s in sas_for(ea, reqid) if str(s.src) == A]
        inn = [s for s in sas_for(ea, reqid) if str(s.src) == B]
        assert len(out) == len(inn) == 1, (a.log, b.log)
        want = ("aes-cbc", 32, "hmac-sha512-256", 1200) if reqid == 1 else \
            ("aes-cbc", 16, "hmac-sha1", 2400)
        for s in out + inn:
            assert (s.enc, len(s.enc_key), s.auth, s.hard.addtime) == want, s
        # the responder chose the same sainfo from the peer's selectors
        theirs_sas = [s for s in eb.sad if (s.enc, len(s.enc_key), s.auth) == want[:3]]
        assert len(theirs_sas) == 2 and all(s.hard.addtime == want[3] for s in theirs_sas)
        sa = next(x for s in a.sas.values() for x in s.all_children() if x.reqid == reqid)
        assert (str(sa.ts[0]), str(sa.ts[1])) == (mine, theirs)
    if version == 2:
        # one IKE SA each side, carrying both CHILD SAs (RFC 7296 §1.3.1)
        (ia,), (ib,) = a.sas.values(), b.sas.values()
        assert ia.child_count() == ib.child_count() == 2
        # the responder's SAs carry the reqid of its own policy (none: 0)
        assert all(s.reqid == 0 for s in eb.sad)
        # PFS with the first sainfo's group on its rekey, none on the second's
        (s1,) = [x for x in ia.all_children() if x.reqid == 1]
        (s2,) = [x for x in ia.all_children() if x.reqid == 2]
        assert s1.si.pfs_group == 19 and s2.si.pfs_group == 0
        assert a.rekey_child(ia, 5.0, ch=s1)
        assert not a.rekey_child(ia, 5.0, ch=s2)  # one exchange at a time
        shuttle(a, b, 5.0)
        assert a.rekey_child(ia, 6.0, ch=s2)
        shuttle(a, b, 6.0)
        assert any("rekeyed" in x and "(PFS" in x for x in a.log)
        assert any("rekeyed" in x and "PFS" not in x for x in a.log)
        assert len(eb.sad) >= 4 and all(
            s.hard.addtime in (1200, 2400) for s in eb.sad)
    else:
        # one ISAKMP SA each side with both pairs; PFS on the first sainfo's only
        (ia,), (ib,) = a.sas.values(), b.sas.values()
        assert ia.child_count() == ib.child_count() == 2
        assert sum("with PFS" in x for x in a.log) == 1, a.log
        # the peer deletes the second pair; the ISAKMP SA and the first stay,
        # and the second's ACQUIRE makes it again on the same ISAKMP SA
        (ch,) = [c for c in ib.all_children() if str(c.ts[0]) == B2]
        b.delete_pair(ib, ch, 2.0)
        shuttle(a, b, 2.0)
        assert ia.child_count() == 1 and [str(c.ts[1]) for c in ia.all_children()
                                          if c.installed] == [B1], a.log
        acquire(ea, "2001:db8:a2::5", "2001:db8:b2::7", 60.0)  # past blockacq_lifetime
        shuttle(a, b, 60.0)
        assert len(a.sas) == 1 and ia.child_count() == ib.child_count() == 2
        assert len(ea.sad) == len(eb.sad) == 4


@pytest.mark.parametrize("version", [2, 1])
def test_selectors_without_sainfo_are_refused_with_the_reason(version: int) -> None:
    # b knows only the first pair: the second is refused
    only_first = SAINFOS.format(l1=B1, r1=A1, l2=B1, r2=A1).split("sainfo", 2)
    a, b, ea, eb = daemons(version, b_sainfos="sainfo" + only_first[1])
    acquire(ea, "2001:db8:a2::5", "2001:db8:b2::7", 0.0)
    shuttle(a, b, 0.0)
    assert not len(eb.sad) and not [s for s in ea.sad if str(s.src) == A]
    note = "TS_UNACCEPTABLE" if version == 2 else "INVALID-ID-INFORMATION"
    assert any("no sainfo for the peer's" in x and note in x and "2001:db8:a2::/64" in x
               for x in b.log), b.log
    assert any(note in x for x in a.log), a.log
    # our own selectors without a sainfo: the ACQUIRE is refused here, logged
    a.log.clear()
    acquire(ea, "2001:db8:a3::5", "2001:db8:b3::7", 1.0)
    a.timehandler(1.0)
    assert not a.out
    assert any("no sainfo for 2001:db8:a3::/64 <-> 2001:db8:b3::/64" in x for x in a.log), a.log


@pytest.mark.parametrize("version", [2, 1])
def test_sainfo_anonymous_is_the_fallback(version: int) -> None:
    anon = """sainfo anonymous {
    encryption_algorithm aes 192;
    authentication_algorithm hmac_sha384;
    lifetime time 30 min;
}
"""
    a, b, ea, eb = daemons(version, a_extra=anon,
                           b_sainfos=SAINFOS.format(l1=B1, r1=A1, l2=B2, r2=A2) + anon)
    acquire(ea, "2001:db8:a3::5", "2001:db8:b3::7", 0.0)
    shuttle(a, b, 0.0)
    out = [s for s in sas_for(ea, 3) if str(s.src) == A]
    assert len(out) == 1, (a.log, b.log)
    assert (out[0].enc, len(out[0].enc_key), out[0].auth, out[0].hard.addtime) == \
        ("aes-cbc", 24, "hmac-sha384-192", 1800)
    # the responder narrowed nothing: the policy's selectors, under its anonymous sainfo
    sb = next(iter(b.sas.values()))
    assert (str(sb.ts[0]), str(sb.ts[1])) == ("2001:db8:b3::/64", "2001:db8:a3::/64")
    assert sb.si.anonymous and len(eb.sad) == 2


@pytest.mark.parametrize("text,line,words", [
    ("sainfo address 2001:db8::/64 tcp address 2001:db8:1::/64 any {\n}\n", 1,
     "only protocol 'any'"),
    ("\nsainfo address 2001:db8::/64 any address 2001:db8:1::/64 any from fqdn \"x\" {\n}\n",
     2, "from"),
    ("sainfo anonymous address 2001:db8::/64 any {\n}\n", 1, "stands alone"),
    ("sainfo address 2001:db8::/64 any anonymous {\n}\n", 1, "half-anonymous"),
    ("sainfo address 2001:db8::1[80] any address 2001:db8::2 any {\n}\n", 1, "ports"),
    ("sainfo address 10.0.0.0/8 any address 2001:db8::/64 any {\n}\n", 1, "one family"),
    ("sainfo asn1dn \"CN=x\" any address 2001:db8::/64 any {\n}\n", 1, "asn1dn"),
    ("sainfo anonymous {\n}\n\n\nsainfo anonymous {\n}\n", 5, "first at line 1"),
])
def test_sainfo_forms_not_taken_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse(text, local=A)
    assert f"line {line}:" in str(e.value) and words in str(e.value)


def test_conf_takes_ipv4_remotes_with_their_own_local_address() -> None:
    text = ("listen { isakmp 2001:db8::1 [500]; isakmp 192.0.2.1 [500]; }\n"
            + REMOTE.format(peer="192.0.2.2", me="192.0.2.1", version=2)
            + REMOTE.format(peer=B, me=A, version=1)
            + "sainfo address 198.51.100.0/24 any address 203.0.113.0/24 any {\n}\n")
    c = parse(text, psk={"192.0.2.2": b"k", B: b"k"})
    p4, p6 = c.peers
    assert (str(p4.address), str(p4.local_address)) == ("192.0.2.2", "192.0.2.1")
    assert (str(p6.address), str(p6.local_address)) == (B, A) and isinstance(p6, V1Peer)
    assert p4.sainfo_for(ip_network("198.51.100.7/32"), ip_network("203.0.113.0/25")) \
        is p4.sainfos[0]
    # without a listen address of its family (nor --addr): an error naming the line
    with pytest.raises(ConfigError, match=r"line 1: no local IPv4 address for remote 192\.0\.2\.2"):
        parse(REMOTE.format(peer="192.0.2.2", me="192.0.2.1", version=2),
              psk={"192.0.2.2": b"k"}, local=[ip_address(A)])
    c = parse(REMOTE.format(peer="192.0.2.2", me="192.0.2.1", version=2),
              psk={"192.0.2.2": b"k"}, local=[ip_address(A), ip_address("192.0.2.9")])
    assert str(c.peers[0].local_address) == "192.0.2.9"


def test_each_daemon_takes_only_the_acquires_of_its_own_version() -> None:
    """With IKEv2 and IKEv1 remotes side by side, an ACQUIRE for the IKEv1
    remote is left to the IKEv1 daemon without a word from the IKEv2 one,
    and the reverse; one for no remote at all is logged once."""
    v4peer = "2001:db8::3"
    text = (REMOTE.format(peer=B, me=A, version=2) + REMOTE.format(peer=v4peer, me=A, version=1))
    c = parse(text, psk={B: b"k", v4peer: b"k"}, local=A)
    e = KeyEngine()
    v2 = [p for p in c.peers if not isinstance(p, V1Peer)]
    v1 = [p for p in c.peers if isinstance(p, V1Peer)]
    ike = Ike(v2, e, others=v1)
    ikev1 = Ikev1(v1, e, others=v2)
    for dst, now in ((v4peer, 0.0), (B, 1.0), ("2001:db8::99", 2.0)):
        e.sad.acquire(ip_address(A), ip_address(dst), "esp", "tunnel", 0, now)
        e.event_messages(now)
        ike.timehandler(now)
        ikev1.timehandler(now)
    assert [str(s.peer.address) for s in ikev1.sas.values()] == [v4peer]
    assert [str(s.peer.address) for s in ike.sas.values()] == [B]
    said = [x for x in ike.log + ikev1.log if "no remote configured" in x]
    assert said == ["ACQUIRE for 2001:db8::99: no remote configured"], ike.log + ikev1.log
    assert ike.stats.get("pfkey_acquire_other") == 1
    assert ikev1.stats.get("pfkey_acquire_other") == 1


# --- the selector decoders under hypothesis ------------------------------------------

_nets = st.one_of(
    st.builds(lambda a, n: ip_network((a, n), strict=False),
              st.integers(0, 2**32 - 1).map(lambda x: ip_address(x)), st.integers(0, 32)),
    st.builds(lambda a, n: ip_network((a, n), strict=False),
              st.integers(0, 2**128 - 1).map(lambda x: ip_address(x.to_bytes(16, "big"))),
              st.integers(0, 128)))


@given(st.binary(max_size=40))
def test_quick_mode_id_decoder_takes_any_bytes(b: bytes) -> None:
    """A quick-mode ID from the wire is a network or None, never an exception."""
    n = id_to_net(b)
    assert n is None or n.network_address.packed == b[4:4 + len(n.network_address.packed)]


@given(_nets)
def test_quick_mode_id_round_trip(n: Any) -> None:
    assert id_to_net(id_net(n)) == n


@given(st.lists(st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 65535),
                          st.integers(0, 65535), st.binary(max_size=17), st.binary(max_size=17)),
                max_size=4))
def test_traffic_selector_decoder_takes_any_ranges(sels: list[Any]) -> None:
    """TSi/TSr ranges from the wire become prefixes or are skipped, never raise."""
    for n in _ts_nets(sels):
        assert n.version in (4, 6)


@given(_nets, _nets)
def test_sainfo_choice_holds_the_selectors(local: Any, remote: Any) -> None:
    c = parse(REMOTE.format(peer=B, me=A, version=2)
              + SAINFOS.format(l1=A1, r1=B1, l2="10.0.0.0/8", r2="192.168.0.0/16")
              + "sainfo anonymous {\n}\n", psk={B: b"k"}, local=A)
    si = c.peers[0].sainfo_for(local, remote)
    assert si is not None and (si.anonymous or si.holds(local, remote))
    if si.anonymous:
        assert not any(s.holds(local, remote) for s in c.peers[0].sainfos if not s.anonymous)
