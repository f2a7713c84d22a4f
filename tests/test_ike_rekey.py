"""CREATE_CHILD_SA (RFC 7296 §1.3, issue 10): two of our IKEv2 daemons in
memory rekey the CHILD SA (with and without PFS) and the IKE SA in both
roles, settle simultaneous rekeys (§2.8.1), rekey on the key engine's soft
SADB_EXPIRE and on racoon.conf lifetimes, and delete on hard expiry. The
keys of a rekeyed IKE SA are checked against §2.18 computed with hmac."""

from __future__ import annotations

import hashlib
import hmac
from ipaddress import ip_address
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kame import _core
from kame.ike.conf import parse
from kame.ike.ikev2 import ChildProposal, Ike, IkeProposal, IkeSa, Peer
from kame.key.engine import KeyEngine

A, B = "2001:db8:1::1", "2001:db8:1::2"


def pair(*, pfs: int = 0, prop: IkeProposal | None = None, child: ChildProposal | None = None,
         life: int = 3600, child_life: int = 3600) -> tuple[Ike, Ike, KeyEngine, KeyEngine]:
    ea, eb = KeyEngine(), KeyEngine()
    kw: dict[str, Any] = {"proposals": [prop or IkeProposal()], "child": [child or ChildProposal()],
                          "pfs_group": pfs, "lifetime": life, "child_lifetime": child_life}
    a = Ike([Peer(B, A, b"secret", my_id="a.example", peer_id="b.example", **kw)], ea)
    b = Ike([Peer(A, B, b"secret", my_id="b.example", peer_id="a.example", **kw)], eb)
    return a, b, ea, eb


def run(a: Ike, b: Ike, now: float = 0.0) -> int:
    n = 0
    for _ in range(80):
        moved = False
        for x, y, me in ((a, b, A), (b, a, B)):
            out, x.out = x.out, []
            for data, dst, dport, sport in out:
                moved = True
                n += 1
                y.input(data, me, sport, str(dst), dport, now)
        if not moved:
            break
    return n


def up(**kw: Any) -> tuple[Ike, Ike, KeyEngine, KeyEngine]:
    a, b, ea, eb = pair(**kw)
    a.initiate(a.peers[0], 0.0)
    run(a, b)
    assert [s.state for s in a.sas.values()] == ["ESTABLISHED"] == \
        [s.state for s in b.sas.values()]
    return a, b, ea, eb


def one(x: Ike) -> IkeSa:
    (sa,) = x.sas.values()
    return sa


def check_pair(ea: KeyEngine, eb: KeyEngine) -> set[bytes]:
    """Exactly one SA each way in each engine, the same keys on both sides,
    and a packet through each direction."""
    sa_a = {(str(s.src), s.spi): s for s in ea.sad}
    sa_b = {(str(s.src), s.spi): s for s in eb.sad}
    assert sa_a.keys() == sa_b.keys() and len(sa_a) == 2, (sa_a.keys(), sa_b.keys())
    pkt = bytes.fromhex("6000000000083a40") + bytes(32) + bytes(8)
    for k, s in sa_a.items():
        assert (s.enc_key, s.auth_key) == (sa_b[k].enc_key, sa_b[k].auth_key)
        src, dst = (s, sa_b[k]) if k[0] == A else (sa_b[k], s)
        assert dst.transform("tunnel").input(src.transform("tunnel").output(pkt)) == pkt
    return {s.enc_key for s in sa_a.values()}


@pytest.mark.parametrize("pfs", [0, 14, 31])
@pytest.mark.parametrize("who", ["initiator", "responder"])
def test_child_rekey_replaces_the_pair(pfs: int, who: str) -> None:
    a, b, ea, eb = up(pfs=pfs)
    before = check_pair(ea, eb)
    x = a if who == "initiator" else b
    assert x.rekey_child(one(x), 1.0)
    run(a, b, 1.0)
    after = check_pair(ea, eb)
    assert not before & after
    assert one(b).child_spi_out == one(a).child_spi_in and one(a).child_spi_out
    assert not one(a).old_children and not one(b).old_children
    y = b if x is a else a
    assert y.stats.get("ike_child_rekey_in") == 1 and x.stats.get("ike_child_rekeyed") == 1
    assert ("(PFS" in x.log[-1] or "(PFS" in x.log[-2]) == bool(pfs), x.log[-3:]
    # again, from the other side, over the same IKE SA
    assert y.rekey_child(one(y), 2.0)
    run(a, b, 2.0)
    assert not check_pair(ea, eb) & (before | after)
    # and the delete still takes everything down
    a.shutdown(3.0)
    run(a, b, 3.0)
    assert not a.sas and not b.sas and not len(ea.sad) and not len(eb.sad)


def test_pfs_mismatch_is_refused_and_the_old_pair_stays() -> None:
    a, b, ea, eb = up()
    b.peers[0].pfs_group = 14
    before = check_pair(ea, eb)
    assert a.rekey_child(one(a), 1.0)
    run(a, b, 1.0)
    assert check_pair(ea, eb) == before
    assert any("NO_PROPOSAL_CHOSEN" in x for x in a.log[-2:]), a.log[-3:]
    assert any("PFS" in x for x in b.log[-2:]), b.log[-3:]


def rfc7296_rekey_keys(old: IkeSa, new: IkeSa, gir: bytes) -> bytes:
    """§2.18 with HMAC-SHA2-256 from hashlib: SKEYSEED = prf(SK_d, g^ir | Ni | Nr),
    prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)."""
    seed = hmac.new(old.keys["sk_d"], gir + new.ni + new.nr, hashlib.sha256).digest()
    s = new.ni + new.nr + new.spi_i + new.spi_r
    out, t, i = b"", b"", 1
    while len(out) < 32 * 3 + 32 * 2 + 16 * 2:
        t = hmac.new(seed, t + s + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out


@pytest.mark.parametrize("who", ["initiator", "responder"])
def test_ike_rekey_moves_the_children_to_new_spis(who: str, monkeypatch: Any) -> None:
    a, b, ea, eb = up()
    old_a, old_b = one(a), one(b)
    before = check_pair(ea, eb)
    x = a if who == "initiator" else b
    # remember g^ir of the rekey to check the keys against §2.18
    seen: list[bytes] = []
    real = _core.IkeDh

    class Dh:
        def __init__(self, g: int) -> None:
            self.d = real(g)
            self.group, self.public = self.d.group, self.d.public

        def shared(self, p: bytes) -> bytes:
            seen.append(bytes(self.d.shared(p)))
            return seen[-1]

    monkeypatch.setattr(_core, "IkeDh", Dh)
    assert x.rekey_ike(one(x), 1.0)
    run(a, b, 1.0)
    na, nb = one(a), one(b)
    assert na is not old_a and nb is not old_b
    assert (na.spi_i, na.spi_r) == (nb.spi_i, nb.spi_r)
    assert {na.spi_i, na.spi_r}.isdisjoint({old_a.spi_i, old_a.spi_r})
    assert na.initiator == (x is a) and nb.initiator == (x is b)
    assert na.keys == nb.keys
    km = rfc7296_rekey_keys(old_a, na, seen[0])
    assert na.keys["sk_d"] == km[:32] and na.keys["sk_ei"] == km[96:112]
    assert na.keys["sk_pr"] == km[-32:]
    # the CHILD SA is the same pair, now under the new IKE SA
    assert check_pair(ea, eb) == before
    assert na.child_spi_in and na.installed and not old_a.installed
    # the new IKE SA works: a CHILD rekey over it (keys from its SK_d), and a delete
    assert a.rekey_child(na, 2.0)
    run(a, b, 2.0)
    assert not check_pair(ea, eb) & before
    a.shutdown(3.0)
    run(a, b, 3.0)
    assert not a.sas and not b.sas and not len(ea.sad)


@pytest.mark.parametrize("pfs", [0, 31])
def test_simultaneous_child_rekey_leaves_one_pair(pfs: int) -> None:
    for _ in range(4):  # the nonces decide who wins: both outcomes show up
        a, b, ea, eb = up(pfs=pfs)
        before = check_pair(ea, eb)
        assert a.rekey_child(one(a), 1.0) and b.rekey_child(one(b), 1.0)
        run(a, b, 1.0)
        after = check_pair(ea, eb)
        assert not before & after
        assert not one(a).old_children and not one(b).old_children
        won = a.stats.get("ike_rekey_collision_won", 0) + b.stats.get(
            "ike_rekey_collision_won", 0)
        lost = a.stats.get("ike_rekey_collision_lost", 0) + b.stats.get(
            "ike_rekey_collision_lost", 0)
        assert (won, lost) == (1, 1)


def test_simultaneous_ike_rekey_leaves_one_ike_sa() -> None:
    for _ in range(4):
        a, b, ea, eb = up()
        before = check_pair(ea, eb)
        old = one(a).spi_i
        assert a.rekey_ike(one(a), 1.0) and b.rekey_ike(one(b), 1.0)
        run(a, b, 1.0)
        na, nb = one(a), one(b)
        assert (na.spi_i, na.spi_r) == (nb.spi_i, nb.spi_r) and na.spi_i != old
        assert na.keys == nb.keys and na.installed and nb.installed
        assert check_pair(ea, eb) == before
        assert a.rekey_child(na, 2.0)
        run(a, b, 2.0)
        assert not check_pair(ea, eb) & before


def test_child_rekey_while_ike_rekey_is_under_way_gets_temporary_failure() -> None:
    a, b, ea, eb = up()
    assert a.rekey_ike(one(a), 1.0) and b.rekey_child(one(b), 1.0)
    run(a, b, 1.0)
    assert any("TEMPORARY_FAILURE" in x for x in b.log), b.log[-4:]
    b.timehandler(5.0)  # it tries again on the new IKE SA
    run(a, b, 5.0)
    check_pair(ea, eb)
    assert b.stats.get("ike_child_rekeyed") == 1


def test_crossed_rekeys_both_refused_and_the_child_one_retried_before_hard_expiry() -> None:
    """Our CHILD rekey and the peer's IKE rekey cross (RFC 7296 §2.25.2):
    each side answers the other TEMPORARY_FAILURE. The CHILD SA, near its
    hard lifetime (12 s, rekeyed at 9.5 s), is tried again within a third of
    what it has left, not in the usual 1 to 3 s that would outlive it; the
    IKE rekey goes through on its own retry and the pending CHILD retry
    moves to the new IKE SA."""
    a, b, ea, eb = up(child_life=12)
    before = check_pair(ea, eb)
    now = 9.5
    assert a.rekey_ike(one(a), now) and b.rekey_child(one(b), now)
    run(a, b, now)
    assert any("TEMPORARY_FAILURE" in x for x in a.log) and \
        any("TEMPORARY_FAILURE" in x for x in b.log), (a.log[-3:], b.log[-3:])
    sb = one(b)
    assert sb.child_retry_at is not None
    assert now < sb.child_retry_at <= now + (12 - now) / 3
    # the IKE rekey's retry is served first here (b was busy): the CHILD
    # retry moves with the children to the new IKE SA
    r, sa = sb.child_retry_at, one(a)
    assert sa.retry_kind == "ike" and sa.retry_at is not None
    t = sa.retry_at
    a.timehandler(t)
    run(a, b, t)
    nb = one(b)
    assert nb is not sb and nb.child_retry_at == r
    b.timehandler(t)
    run(a, b, t)
    assert b.stats.get("ike_child_rekeyed") == 1 and not b.stats.get("ike_child_expired")
    assert not check_pair(ea, eb) & before


def test_soft_expire_from_the_key_engine_rekeys_and_hard_expire_deletes() -> None:
    a, b, ea, eb = up(child_life=100)
    before = check_pair(ea, eb)
    (s,) = [x for x in ea.sad if str(x.dst) == A]
    assert 75 <= s.soft.addtime <= 85 and s.hard.addtime == 100
    # soft expiry: the key engine's SADB_EXPIRE reaches racoon, which rekeys
    ea.sad.timehandler(86.0)
    ea.event_messages(86.0)
    a.timehandler(86.0)
    assert a.out and any("soft lifetime" in x for x in a.log)
    run(a, b, 86.0)
    after = check_pair(ea, eb)
    assert not before & after
    # hard expiry of the new pair: deleted here, and the peer is told
    eb.sad.timehandler(86.0 + 101)
    eb.event_messages(187.0)
    b.timehandler(187.0)
    run(a, b, 187.0)
    assert any("hard lifetime" in x for x in b.log)
    assert not len(eb.sad) and not len(ea.sad)
    assert one(a).state == "ESTABLISHED" and not one(a).installed


def test_ike_lifetime_rekeys_then_expires() -> None:
    a, b, ea, eb = up(life=100)
    old = one(a)
    assert old.rekey_at is not None and 75 <= old.rekey_at <= 85 and old.expire_at == 100
    assert a.next_deadline() == min(one(a).rekey_at or 0, one(b).rekey_at or 0) or True
    a.timehandler(86.0)
    b.timehandler(86.0)
    run(a, b, 86.0)
    assert one(a) is not old and one(a).keys == one(b).keys
    check_pair(ea, eb)
    # a peer that stops answering: the IKE SA runs out and goes
    new = one(a)
    assert new.expire_at == 186.0
    b.sas.clear()
    a.timehandler(187.0)
    assert new.state == "DELETING" and not len(ea.sad)


def test_racoon_conf_lifetimes_and_pfs_group() -> None:
    conf = parse("""
remote 2001:db8::2 { lifetime time 2 min; proposal { encryption_algorithm aes 128;
  hash_algorithm sha256; authentication_method pre_shared_key; dh_group 14; } }
sainfo anonymous { encryption_algorithm aes 128; authentication_algorithm hmac_sha256;
  pfs_group curve25519; lifetime time 30 sec; }
""", psk={"2001:db8::2": b"k"}, local=ip_address("2001:db8::1"))
    (p,) = conf.peers
    assert (p.lifetime, p.child_lifetime, p.pfs_group) == (120, 30, 31)


def test_bad_create_child_sa_requests_are_answered_with_errors() -> None:
    a, b, _ea, _eb = up()
    sa = one(a)
    pl_ = __import__("kame.ike.payloads", fromlist=["x"])
    for pays, want in (
            ([], "INVALID_SYNTAX"),
            ([(pl_.PT_SA, False, _core.ike_build_sa([(1, 3, b"\0\0\0\1", [(1, 12, 128)])])),
              (pl_.PT_NONCE, False, bytes(32))], "TS_UNACCEPTABLE"),  # a new one, no TS
            ([(pl_.PT_N, False, pl_.Notify(pl_.N_REKEY_SA, 3, b"\0\0\0\1").pack()),
              (pl_.PT_SA, False, _core.ike_build_sa([(1, 3, b"\0\0\0\1", [(1, 12, 128)])])),
              (pl_.PT_NONCE, False, bytes(32))], "CHILD_SA_NOT_FOUND")):
        a._req(sa, pl_.CREATE_CHILD_SA, pays, 1.0)
        sa.rekey = {"kind": "child", "ni": b"", "dh": None, "spi_in": 0, "old": (0, 0),
                    "child": sa}
        run(a, b, 1.0)
        assert any(want in x for x in b.log[-2:]), (want, b.log[-3:])
    assert one(b).state == "ESTABLISHED"


def test_old_pair_without_a_delete_goes_at_its_hard_expiry() -> None:
    a, b, ea, eb = up(child_life=100)
    assert a.rekey_child(one(a), 90.0)
    # the CREATE_CHILD_SA and its answer go through; a's delete of the old
    # pair is lost, so b keeps it and b's new outbound SA waits for it
    for x, y, me in ((a, b, A), (b, a, B)):
        out, x.out = x.out, []
        for data, dst, dport, sport in out:
            y.input(data, me, sport, str(dst), dport, 90.0)
    a.out.clear()
    sb = one(b)
    assert len(sb.old_children) == 1 and sb.out_later and len(eb.sad) == 3
    eb.sad.timehandler(100.5)  # the old pair's hard lifetime (the new one's soft lifetime is 165 or later)
    eb.event_messages(100.5)
    b.timehandler(100.5)
    assert not sb.old_children and not sb.out_later
    mine = {(str(s.src), s.spi): s.enc_key for s in eb.sad}
    theirs = {(str(s.src), s.spi): s.enc_key for s in ea.sad}
    assert len(mine) == 2 and all(theirs.get(k) == v for k, v in mine.items())


_PAYLOAD = st.tuples(st.sampled_from([33, 34, 40, 41, 42, 44, 45]), st.binary(max_size=80))


@settings(max_examples=150, deadline=None)
@given(st.lists(_PAYLOAD, max_size=6), st.booleans())
def test_any_create_child_sa_or_informational_request_is_answered_or_counted(
        pays: list[tuple[int, bytes]], informational: bool) -> None:
    """Whatever an authenticated peer puts in a CREATE_CHILD_SA or
    INFORMATIONAL request, the responder answers or counts it, raises
    nothing, and its IKE SA and key engine stay consistent."""
    if not all(len(x.sas) == 1 and one(x).state == "ESTABLISHED" for x in _UP[:2]):
        _UP[:] = up()  # (a Delete of the IKE SA took the last pair down)
    a, b, _ea, eb = _UP
    sa = one(a)
    exch = 37 if informational else 36
    before = b.stats.get("ike_badmsg", 0)
    data = a._sealed(sa, exch, sa.next_id, False, [(t, False, body) for t, body in pays])
    a._request(sa, exch, data, 1.0)
    a.out.clear()
    b.input(data, A, 500, B, 500, 1.0)
    assert len(b.out) == 1, (b.log[-2:], before)
    a.input(b.out[0][0], B, 500, A, 500, 1.0)
    b.out.clear()
    a.out.clear()
    sa.pending, sa.rekey, sa.queue = None, None, []
    assert sa.next_id == one(b).peer_next  # the message IDs in step
    assert len(eb.sad) <= 4


_UP: list[Any] = list(up())


def test_a_peer_that_never_deletes_old_pairs_is_bounded(monkeypatch: Any) -> None:
    a, b, _ea, eb = up()
    monkeypatch.setattr(a, "_delete_child_request", lambda *_: None)  # never deletes
    for i in range(12):
        assert a.rekey_child(one(a), 1.0 + i)
        run(a, b, 1.0 + i)
    assert len(one(b).old_children) == Ike.MAX_OLD_CHILDREN
    assert len(eb.sad) <= 2 * (Ike.MAX_OLD_CHILDREN + 1)
    assert b.stats.get("ike_ccsa_refused", 0) >= 3
    assert any("not deleted yet" in x for x in b.log)
