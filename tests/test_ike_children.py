"""Several CHILD SAs on one IKE SA (RFC 7296 §1.3.1), and several IPsec SA
pairs on one ISAKMP SA (IKEv1, racoon's way): two of our IKEv2
daemons in memory, three selector pairs (three ``unique:N`` policies, each
side's own), two specific sainfos and ``sainfo anonymous``. The ACQUIREs
for the three pairs make one IKE SA and three CHILD SAs, each under its
sainfo and its policy's reqid on both sides; each rekeys, expires and is
deleted on its own; an IKE SA rekey moves them all; lost requests and
answers are retransmitted without a CHILD SA twice; the responder's
refusals (TS_UNACCEPTABLE, NO_PROPOSAL_CHOSEN) and bound (NO_ADDITIONAL_SAS,
:attr:`Ike.MAX_CHILDREN`, counted) leave the IKE SA and its CHILD SAs up,
also against a peer that asks for a hundred. IKEv1 the same way: the
quick modes of the three pairs go out at once, each its message ID; each
pair rekeys and is deleted on its own; lost quick mode messages are
retransmitted; a peer's hundred new pairs and fifty rekeys it never
deletes are bounded."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any

from test_ike_sainfo import A1, A2, B1, B2, REMOTE, SAINFOS, A, B

from kame.ike import Ike
from kame.ike.conf import parse
from kame.ike.ikev1 import Ikev1
from kame.ike.ikev2 import IkeSa
from kame.key.engine import KeyEngine
from kame.key.setkey import run as setkey

A3, B3 = "2001:db8:a3::/64", "2001:db8:b3::/64"
ANON = """sainfo anonymous {
    encryption_algorithm aes 128;
    authentication_algorithm hmac_sha256;
    lifetime time 30 min;
}
"""


def policies(me: str, peer: str, pairs: list[tuple[str, str]]) -> str:
    return "".join(
        f"spdadd {l} {r} any -P out ipsec esp/tunnel/{me}-{peer}/unique:{n};\n"
        f"spdadd {r} {l} any -P in ipsec esp/tunnel/{peer}-{me}/unique:{n};\n"
        for n, (l, r) in enumerate(pairs, 1))


def daemons(*, b_sainfos: str | None = None) -> tuple[Ike, Ike, KeyEngine, KeyEngine]:
    ca = parse(REMOTE.format(peer=B, me=A, version=2)
               + SAINFOS.format(l1=A1, r1=B1, l2=A2, r2=B2) + ANON,
               psk={B: b"children-psk"}, local=A)
    cb = parse(REMOTE.format(peer=A, me=B, version=2)
               + (b_sainfos if b_sainfos is not None
                  else SAINFOS.format(l1=B1, r1=A1, l2=B2, r2=A2) + ANON),
               psk={A: b"children-psk"}, local=B)
    ea, eb = KeyEngine(), KeyEngine()
    setkey(policies(A, B, [(A1, B1), (A2, B2), (A3, B3)]), ea, 0.0)
    # the responder's reqids differ from ours: each side takes its own policy's
    setkey(policies(B, A, [(B3, A3), (B1, A1), (B2, A2)]), eb, 0.0)
    return Ike(ca.peers, ea), Ike(cb.peers, eb), ea, eb


def shuttle(a: Ike, b: Ike, now: float, *, drop: Any = None) -> int:
    """Move the datagrams both ways until quiet; ``drop(n, data)`` True
    loses the n-th one. The number moved."""
    n = 0
    for _ in range(60):
        moved = False
        for x, y, me in ((a, b, A), (b, a, B)):
            out, x.out = x.out, []
            for data, dst, dport, sport in out:
                moved = True
                n += 1
                if drop is not None and drop(n, data):
                    continue
                y.input(data, me, sport, str(dst), dport, now)
        if not moved:
            break
    return n


def acquire(engine: KeyEngine, dst_net: str, now: float) -> None:
    """What the key engine sends when a packet meets the policy towards ``dst_net``."""
    sp = next(p for p in engine.spd if str(p.selector.dst) == dst_net)
    r = sp.requests[0]
    assert r.src is not None and r.dst is not None
    engine.sad.acquire(r.src, r.dst, "esp", "tunnel", r.reqid, now, sp.id)
    engine.event_messages(now)


def one(x: Ike) -> IkeSa:
    (sa,) = x.sas.values()
    return sa


def pairs_of(x: Ike) -> dict[str, tuple[int, int]]:
    """Each CHILD SA's peer-side selectors and SPIs (inbound, outbound)."""
    return {str(c.ts[1]): (c.child_spi_in, c.child_spi_out) for c in one(x).all_children()
            if c.installed}


def check(ea: KeyEngine, eb: KeyEngine, a: Ike, b: Ike, n: int) -> None:
    """``n`` CHILD SAs on each side's one IKE SA, each pair in both key
    engines with the same keys and its policy's reqid, a packet through
    each SA."""
    assert one(a).child_count() == one(b).child_count() == n, (a.log[-5:], b.log[-5:])
    sa_a = {(str(s.src), s.spi): s for s in ea.sad}
    sa_b = {(str(s.src), s.spi): s for s in eb.sad}
    assert sa_a.keys() == sa_b.keys() and len(sa_a) == 2 * n, (sa_a.keys(), sa_b.keys())
    pkt = bytes.fromhex("6000000000083a40") + bytes(32) + bytes(8)
    for k, s in sa_a.items():
        t = sa_b[k]
        assert (s.enc_key, s.auth_key) == (t.enc_key, t.auth_key)
        src, dst = (s, t) if k[0] == A else (t, s)
        assert dst.transform("tunnel").input(src.transform("tunnel").output(pkt)) == pkt
    for x, eng in ((a, ea), (b, eb)):
        for c in one(x).all_children():
            if not c.installed:
                continue
            sp = next(p for p in eng.spd if p.selector.src == c.ts[0]
                      and p.selector.dst == c.ts[1])
            assert c.reqid == sp.requests[0].reqid
            assert {s.reqid for s in eng.sad if s.spi in (c.child_spi_in, c.child_spi_out)} \
                == {c.reqid}


def three(now: float = 0.0) -> tuple[Ike, Ike, KeyEngine, KeyEngine]:
    """The three ACQUIREs at once (before the IKE SA is up), made into one
    IKE SA and three CHILD SAs."""
    a, b, ea, eb = daemons()
    for net in (B2, B1, B3):
        acquire(ea, net, now)
    a.timehandler(now)
    shuttle(a, b, now)
    return a, b, ea, eb


def test_three_selector_pairs_one_ike_sa_three_child_sas() -> None:
    a, b, ea, eb = three()
    check(ea, eb, a, b, 3)
    assert a.stats.get("ike_established") == 1 and a.stats.get("ike_child_new") == 2
    assert b.stats.get("ike_child_new_in") == 2
    # each under its sainfo: the first pair AES-256 / SHA-512 / PFS 19 / 20 min
    by = {str(c.ts[1]): c for c in one(a).all_children()}
    assert set(by) == {B1, B2, B3}
    cp = by[B1].child_prop
    assert cp is not None and (by[B1].si.pfs_group, by[B1].si.lifetime, cp.key_bits) == \
        (19, 1200, 256)
    assert by[B2].si.lifetime == 2400 and by[B3].si.anonymous
    assert any("(PFS, DH group 19)" in x for x in b.log)  # the B1 CHILD SA's KE
    # an ACQUIRE again for a pair that is up: nothing new
    acquire(ea, B1, 1.0)
    a.timehandler(1.0)
    assert not a.out


def test_each_child_rekeys_expires_and_is_deleted_on_its_own() -> None:
    a, b, ea, eb = three()
    before = pairs_of(a)
    # the soft lifetime of the first sainfo's pair (20 min) only
    ea.sad.timehandler(1150.0)
    ea.event_messages(1150.0)
    a.timehandler(1150.0)
    shuttle(a, b, 1150.0)
    after = pairs_of(a)
    check(ea, eb, a, b, 3)
    assert after[B1] != before[B1] and after[B2] == before[B2] and after[B3] == before[B3]
    assert a.stats.get("ike_child_rekeyed") == 1
    assert any("rekeyed" in x and "(PFS)" in x for x in a.log)
    # the peer deletes the B2 pair: the other two stay
    (ch,) = [c for c in one(b).all_children() if str(c.ts[0]) == B2]
    b.delete_child(one(b), ch, 1200.0)
    shuttle(a, b, 1200.0)
    check(ea, eb, a, b, 2)
    assert set(pairs_of(a)) == {B1, B3} and one(a).state == "ESTABLISHED"
    # soft and hard expiry of the anonymous sainfo's pair (30 min) at b, at
    # once: its rekey goes out, then its delete; gone on both sides
    eb.sad.timehandler(1801.0)
    eb.event_messages(1801.0)
    b.timehandler(1801.0)
    shuttle(a, b, 1801.0)
    assert set(pairs_of(a)) == {B1} and set(pairs_of(b)) == {A1}
    assert one(a).state == one(b).state == "ESTABLISHED"
    # the ACQUIRE for the deleted pair makes it again on the same IKE SA
    acquire(ea, B2, 1802.0)
    a.timehandler(1802.0)
    shuttle(a, b, 1802.0)
    assert set(pairs_of(a)) == {B1, B2} and len(a.sas) == 1


def test_ike_sa_rekey_moves_every_child_sa() -> None:
    a, b, ea, eb = three()
    before = pairs_of(a)
    old = one(a)
    assert b.rekey_ike(one(b), 10.0)
    shuttle(a, b, 10.0)
    new = one(a)
    assert new is not old and new.spi_i != old.spi_i
    assert pairs_of(a) == before
    check(ea, eb, a, b, 3)
    # and each still rekeys on the new IKE SA
    (ch,) = [c for c in new.all_children() if str(c.ts[1]) == B3]
    assert a.rekey_child(new, 11.0, ch=ch)
    shuttle(a, b, 11.0)
    check(ea, eb, a, b, 3)
    assert pairs_of(a)[B3] != before[B3] and pairs_of(a)[B2] == before[B2]


def test_lost_create_child_sa_request_and_answer() -> None:
    """The request lost once, then the answer: retransmitted, answered
    from the responder's last answer, one CHILD SA each time."""
    a, b, ea, eb = daemons()
    acquire(ea, B1, 0.0)
    a.timehandler(0.0)
    shuttle(a, b, 0.0)
    check(ea, eb, a, b, 1)
    acquire(ea, B2, 1.0)
    a.timehandler(1.0)
    assert shuttle(a, b, 1.0, drop=lambda n, _d: n == 1) == 1  # the request, lost
    a.timehandler(2.5)  # retransmitted
    assert shuttle(a, b, 2.5, drop=lambda n, _d: n == 2) == 2  # its answer, lost
    a.timehandler(5.0)
    shuttle(a, b, 5.0)
    check(ea, eb, a, b, 2)
    assert a.stats.get("ike_retransmit") == 2 and b.stats.get("ike_child_new_in") == 1


def test_refusals_keep_the_ike_sa_and_its_child_sas() -> None:
    """No sainfo at the responder for the third pair: TS_UNACCEPTABLE; a
    sainfo whose proposal we do not offer: NO_PROPOSAL_CHOSEN. The IKE SA
    and the CHILD SA up stay, on both sides."""
    only = """sainfo address {l1} any address {r1} any {{
    encryption_algorithm aes 256;
    authentication_algorithm hmac_sha512;
    pfs_group 19;
}}
sainfo address {l2} any address {r2} any {{
    encryption_algorithm aes 256;
    authentication_algorithm hmac_sha256;
}}
"""
    a, b, ea, eb = daemons(b_sainfos=only.format(l1=B1, r1=A1, l2=B2, r2=A2))
    acquire(ea, B1, 0.0)
    a.timehandler(0.0)
    shuttle(a, b, 0.0)
    check(ea, eb, a, b, 1)
    for net, note in ((B3, "TS_UNACCEPTABLE"), (B2, "NO_PROPOSAL_CHOSEN")):
        acquire(ea, net, 1.0)
        a.timehandler(1.0)
        shuttle(a, b, 1.0)
        assert any(note in x for x in a.log[-2:]), (note, a.log[-3:])
        check(ea, eb, a, b, 1)
    assert a.stats.get("ike_child_new_refused") == 2 and b.stats.get("ike_ccsa_refused") == 2
    assert one(a).state == one(b).state == "ESTABLISHED"


def test_a_peer_asking_for_many_child_sas_is_bounded() -> None:
    """A peer (its own bound lifted) asks for a hundred CHILD SAs on one
    IKE SA: MAX_CHILDREN are made, the rest answered NO_ADDITIONAL_SAS and
    counted, the key engine holds MAX_CHILDREN pairs, the IKE SA stays."""
    a, b, ea, eb = daemons()
    acquire(eb, A1, 0.0)  # b opens the IKE SA this time
    b.timehandler(0.0)
    shuttle(a, b, 0.0)
    check(ea, eb, a, b, 1)
    b.MAX_CHILDREN = 1000
    sb = one(b)
    for i in range(100):
        assert b.create_child(sb, (None, *sb.ts), float(i), reqid=sb.reqid)
        shuttle(a, b, float(i))
    n = a.MAX_CHILDREN
    assert one(a).child_count() == n and len(ea.sad) == 2 * n
    assert a.stats.get("ike_child_toomany") == 100 - (n - 1)
    assert b.stats.get("ike_child_new_refused") == 100 - (n - 1)
    assert one(a).state == one(b).state == "ESTABLISHED"
    check(ea, eb, a, b, n)


# --- IKEv1: several quick modes on one ISAKMP SA ------------------------------------------


def v1_daemons() -> tuple[Ikev1, Ikev1, KeyEngine, KeyEngine]:
    ca = parse(REMOTE.format(peer=B, me=A, version=1)
               + SAINFOS.format(l1=A1, r1=B1, l2=A2, r2=B2) + ANON,
               psk={B: b"children-psk"}, local=A)
    cb = parse(REMOTE.format(peer=A, me=B, version=1)
               + SAINFOS.format(l1=B1, r1=A1, l2=B2, r2=A2) + ANON,
               psk={A: b"children-psk"}, local=B)
    ea, eb = KeyEngine(), KeyEngine()
    setkey(policies(A, B, [(A1, B1), (A2, B2), (A3, B3)]), ea, 0.0)
    setkey(policies(B, A, [(B3, A3), (B1, A1), (B2, A2)]), eb, 0.0)
    return Ikev1(ca.peers, ea), Ikev1(cb.peers, eb), ea, eb


def v1_run(a: Any, b: Any, now: float, *, drop: Any = None,
           seen: list[tuple[str, int, int]] | None = None) -> None:
    """Both daemons' timers, then their datagrams both ways until quiet;
    ``seen`` gets (sender, exchange, message ID) of each, ``drop(n, data)``
    True loses the n-th."""
    n = 0
    for _ in range(60):
        moved = False
        for x, y, me, name in ((a, b, A, "a"), (b, a, B, "b")):
            x.timehandler(now)
            out, x.out = x.out, []
            for data, dst, dport, sport in out:
                moved = True
                n += 1
                if seen is not None:
                    seen.append((name, data[18], int.from_bytes(data[20:24], "big")))
                if drop is not None and drop(n, data):
                    continue
                y.input(data, me, sport, str(dst), dport, now)
        if not moved:
            break


def v1_check(ea: KeyEngine, eb: KeyEngine, a: Ikev1, b: Ikev1, n: int) -> None:
    (ia,), (ib,) = a.sas.values(), b.sas.values()
    assert ia.child_count() == ib.child_count() == n, (a.log[-6:], b.log[-6:])
    sa_a = {(str(s.src), s.spi): s for s in ea.sad}
    sa_b = {(str(s.src), s.spi): s for s in eb.sad}
    assert sa_a.keys() == sa_b.keys() and len(sa_a) == 2 * n, (sa_a.keys(), sa_b.keys())
    for k, s in sa_a.items():
        assert (s.enc_key, s.auth_key) == (sa_b[k].enc_key, sa_b[k].auth_key)
    for x, eng in ((ia, ea), (ib, eb)):
        for c in x.all_children():
            sp = next(p for p in eng.spd if p.selector.src == c.ts[0]
                      and p.selector.dst == c.ts[1])
            assert {s.reqid for s in eng.sad if s.spi in (c.child_spi_in, c.child_spi_out)} \
                == {sp.requests[0].reqid}


QUICK = 32


def test_ikev1_three_pairs_by_concurrent_quick_modes() -> None:
    """The three ACQUIREs during phase 1: once it is up, three quick modes
    go out at once, each its message ID; one ISAKMP SA, three pairs, each
    under its sainfo and its policy's reqid; the first with PFS."""
    a, b, ea, eb = v1_daemons()
    for net in (B2, B1, B3):
        acquire(ea, net, 0.0)
    seen: list[tuple[str, int, int]] = []
    v1_run(a, b, 0.0, seen=seen)
    v1_check(ea, eb, a, b, 3)
    quick = [(who, mid) for who, ex, mid in seen if ex == QUICK]
    # a's three message 1s before b's first message 2, three message IDs
    assert [w for w, _ in quick[:4]] == ["a", "a", "a", "b"], quick
    assert len({mid for _, mid in quick}) == 3 and len(quick) == 9
    assert sum("with PFS" in x for x in a.log) == 1
    assert a.stats.get("ipsec_established") == b.stats.get("ipsec_established") == 3


def test_ikev1_each_pair_rekeys_and_is_deleted_on_its_own() -> None:
    a, b, ea, eb = v1_daemons()
    for net in (B1, B2):
        acquire(ea, net, 0.0)
    v1_run(a, b, 0.0)
    v1_check(ea, eb, a, b, 2)
    (ia,) = a.sas.values()
    before = {str(c.ts[1]): c.child_spi_in for c in ia.all_children()}
    # the soft lifetime of the first sainfo's pair (20 min) only: a quick
    # mode for it, the old pair deleted OLD_GRACE later
    ea.sad.timehandler(1150.0)
    ea.event_messages(1150.0)
    for t in (1150.0, 1152.0, 1200.0):
        v1_run(a, b, t)
    after = {str(c.ts[1]): c.child_spi_in for c in ia.all_children()}
    assert after[B1] != before[B1] and after[B2] == before[B2]
    v1_check(ea, eb, a, b, 2)
    # we delete the second pair: the first stays
    (c2,) = [c for c in ia.all_children() if str(c.ts[1]) == B2]
    a.delete_pair(ia, c2, 1300.0)
    v1_run(a, b, 1300.0)
    v1_check(ea, eb, a, b, 1)
    assert [str(c.ts[1]) for c in ia.all_children() if c.installed] == [B1]


def test_ikev1_lost_quick_mode_messages() -> None:
    """Quick mode message 1 of the second pair lost, then message 2 of the
    third: retransmitted; three pairs, each once."""
    a, b, ea, eb = v1_daemons()
    acquire(ea, B1, 0.0)
    v1_run(a, b, 0.0)
    v1_check(ea, eb, a, b, 1)
    acquire(ea, B2, 1.0)
    acquire(ea, B3, 1.0)
    quick: list[int] = []

    def drop(_n: int, data: bytes) -> bool:
        if data[18] != QUICK:
            return False
        quick.append(1)
        return len(quick) in (1, 4)  # the first message 1, then a message 2

    for t in (1.0, 2.5, 5.0, 9.0):
        v1_run(a, b, t, drop=drop)
    v1_check(ea, eb, a, b, 3)
    assert a.stats.get("ike_retransmit", 0) + b.stats.get("ike_retransmit", 0) >= 2
    assert b.stats.get("ipsec_established") == 3


def test_ikev1_a_peer_asking_for_many_pairs_is_bounded() -> None:
    """A peer (its own bound lifted) runs a hundred quick modes for pairs of
    their own (and fifty for one pair's selectors again): MAX_CHILDREN pairs
    made, the rest refused and counted; old pairs bounded too."""
    a, b, ea, eb = v1_daemons()
    acquire(eb, A1, 0.0)
    v1_run(a, b, 0.0)
    (ia,), (ib,) = a.sas.values(), b.sas.values()
    b.MAX_CHILDREN = 1000
    anon = next(s for s in b.peers[0].sainfos if s.anonymous)
    for i in range(100):
        mine = ip_network(f"2001:db8:f{i:x}::/64")
        theirs = ip_network(f"2001:db8:e{i:x}::/64")
        b.new_pair(ib, (anon, mine, theirs), 0, float(i))
        v1_run(a, b, float(i))
    n = a.MAX_CHILDREN
    assert ia.child_count() == n and len(ea.sad) == 2 * n
    assert a.stats.get("ipsec_toomany") == 100 - (n - 1)
    assert ia.state == "ESTABLISHED"
    # the same selectors again and again (each a rekey of that pair at a):
    # the rekeyed pairs a keeps for the peer's delete stop at 2 * MAX_CHILDREN
    (first,) = [c for c in ib.all_children() if str(c.ts[0]) == B1]
    for i in range(50):
        first.quick = None
        b._quick_start(ib, 200.0 + i, first)
        ib.later = []  # and never deletes the old pairs
        v1_run(a, b, 200.0 + i)
    assert len(ia.old_pairs) == 2 * n and ia.state == "ESTABLISHED"
    assert a.stats["ipsec_toomany"] == 100 - (n - 1) + 50 - 2 * n
    assert len(ea.sad) <= 2 * (n + 2 * n)


def test_acquire_waiting_for_the_window_goes_on_the_rekeyed_ike_sa() -> None:
    """An ACQUIRE while our IKE SA rekey is under way waits; once the IKE
    SA is replaced, its CHILD SA is made on the new one."""
    a, b, ea, eb = daemons()
    acquire(ea, B1, 0.0)
    a.timehandler(0.0)
    shuttle(a, b, 0.0)
    old = one(a)
    assert a.rekey_ike(old, 5.0)
    acquire(ea, B2, 5.0)
    a.timehandler(5.0)
    assert old.wanted  # the window is the IKE rekey's
    shuttle(a, b, 5.0)
    new = one(a)
    assert new is not old and not new.wanted
    check(ea, eb, a, b, 2)
    assert set(pairs_of(a)) == {B1, B2}
