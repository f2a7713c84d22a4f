"""IKEv1 (issue 10): the ISAKMP parser and builder under hypothesis, the
RFC 2409 Appendix B encryption against `cryptography`, and IKEv1
exchanges between two of our daemons in memory (main and aggressive mode,
quick mode with and without PFS, retransmission, wrong keys, refused
proposals, delete, DPD, mangled messages), and racoon.conf's IKEv1 words."""

from __future__ import annotations

import hmac
import struct
from typing import Any

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from kame import _core
from kame.errors import ConfigError, KameError
from kame.ike.conf import parse
from kame.ike.ikev1 import Ikev1, V1Peer
from kame.ike.ikev2 import ChildProposal, IkeProposal, Peer
from kame.key.engine import KeyEngine

A, B = "2001:db8::1", "2001:db8::2"

# --- ISAKMP messages -------------------------------------------------------------------

attr = st.tuples(st.integers(0, 0x7FFF), st.one_of(st.integers(0, 0xFFFF),
                                                   st.binary(max_size=40)))
transform = st.tuples(st.integers(0, 255), st.integers(0, 255), st.lists(attr, max_size=6))
proposal = st.tuples(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=16),
                     st.lists(transform, min_size=1, max_size=4))


@settings(max_examples=60)
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1),
       st.lists(proposal, min_size=1, max_size=4))
def test_sa_payload_round_trip(doi: int, sit: int, props: list[Any]) -> None:
    body = _core.ikev1_build_sa(doi, sit, props)
    got = _core.ikev1_parse_sa(body)
    assert got[0] == doi and got[1] == sit
    assert [(n, p, s, [(a, b, [(t, v) for t, v in at]) for a, b, at in ts])
            for n, p, s, ts in got[2]] == props
    # every truncation is a typed error
    for cut in range(len(body)):
        with pytest.raises(KameError):
            _core.ikev1_parse_sa(body[:cut])


@given(st.binary(max_size=300))
def test_parse_random_bytes_is_typed(data: bytes) -> None:
    for f in (_core.ikev1_parse, _core.ikev1_parse_sa, lambda b: _core.ikev1_parse_chain(1, b)):
        try:
            f(data)
        except KameError:
            pass


@given(st.lists(st.tuples(st.integers(1, 255), st.binary(max_size=60)), min_size=1,
                max_size=8))
def test_chain_round_trip(pls: list[tuple[int, bytes]]) -> None:
    chain = _core.ikev1_build_chain(pls)
    assert _core.ikev1_parse_chain(pls[0][0], chain) == pls
    # a decrypted chain carries padding after its last payload
    assert _core.ikev1_parse_chain(pls[0][0], chain + bytes(7)) == pls
    hdr = bytes(16) + struct.pack(">BBBBII", pls[0][0], 0x10, 2, 0, 0, 28 + len(chain))
    h, got, enc = _core.ikev1_parse(hdr + chain)
    assert got == pls and enc is None and h[4] == 2
    with pytest.raises(KameError):
        _core.ikev1_parse(hdr + chain + b"\0")


@pytest.mark.parametrize("cipher,bits", [(7, 128), (7, 192), (7, 256), (5, 192)])
@given(data=st.binary(min_size=1, max_size=100))
def test_encryption_against_cryptography(cipher: int, bits: int, data: bytes) -> None:
    key = bytes(range(bits // 8))
    bs = 16 if cipher == 7 else 8
    iv = bytes(range(100, 100 + bs))
    ct = _core.ikev1_encrypt(cipher, bits, key, iv, data)
    assert len(ct) % bs == 0 and len(ct) - len(data) < bs
    alg = algorithms.AES(key) if cipher == 7 else TripleDES(key)
    d = Cipher(alg, modes.CBC(iv)).decryptor()
    pt = d.update(ct) + d.finalize()
    assert pt[:len(data)] == data and _core.ikev1_decrypt(cipher, bits, key, iv, ct) == pt
    # the next message's IV is this one's last block (RFC 2409 Appendix B)
    ct2 = _core.ikev1_encrypt(cipher, bits, key, ct[-bs:], data)
    d = Cipher(alg, modes.CBC(ct[-bs:])).decryptor()
    assert (d.update(ct2) + d.finalize())[:len(data)] == data
    with pytest.raises(KameError):
        _core.ikev1_decrypt(cipher, bits, key, iv, ct[:-1])


def test_enc_key_expansion_appendix_b() -> None:
    e = bytes(range(20))
    k1 = hmac.new(e, b"\0", "sha1").digest()
    k2 = hmac.new(e, k1, "sha1").digest()
    assert _core.ikev1_enc_key(2, e, 32) == (k1 + k2)[:32]
    assert _core.ikev1_enc_key(2, e, 16) == e[:16]
    assert _core.ikev1_enc_key(5, bytes(32), 32) == bytes(32)


# --- exchanges in memory ---------------------------------------------------------------


def _pair(mode: str = "main", *, pfs: int = 0, psk_b: bytes = b"k",
          prop_b: IkeProposal | None = None, child_b: ChildProposal | None = None,
          nat: str = "on", engine: bool = False, drop: set[int] | None = None,
          **kw: Any) -> tuple[Ikev1, Ikev1, list[bytes]]:
    prop = kw.pop("prop_a", IkeProposal(12, 128, 12, 5, 31))  # X25519: fast in debug builds
    child = ChildProposal(12, 128, 12)
    pa = V1Peer(B, A, b"k", exchange_mode=(mode,), pfs_group=pfs, proposals=[prop],
                child=[child], nat_traversal=nat, **kw)
    pb = V1Peer(A, B, psk_b, exchange_mode=("main", "aggressive"), pfs_group=pfs,
                proposals=[prop_b or prop], child=[child_b or child], nat_traversal=nat)
    a = Ikev1([pa], KeyEngine() if engine else None)
    b = Ikev1([pb], KeyEngine() if engine else None)
    a.initiate(pa, 0.0)
    wire: list[bytes] = []
    _run(a, b, wire, drop or set())
    return a, b, wire


def _run(a: Ikev1, b: Ikev1, wire: list[bytes], drop: set[int], now: float = 0.0,
         rounds: int = 30) -> None:
    start = now
    for _ in range(rounds):
        moved = False
        for src, dst, s, d in ((a, b, A, B), (b, a, B, A)):
            out, src.out = src.out, []
            for data, _to, dport, sport in out:
                moved = True
                wire.append(data)
                if len(wire) - 1 not in drop:
                    dst.input(data, s, sport, d, dport, now)
        if not moved:
            # (retransmissions and timeouts: not the lifetimes of an hour)
            ds = [d for d in (a.next_deadline(), b.next_deadline())
                  if d is not None and d < start + 600]
            if not ds:
                return
            now = max(now, min(ds))
            a.timehandler(now)
            b.timehandler(now)


@pytest.mark.parametrize("mode", ["main", "aggressive"])
@pytest.mark.parametrize("pfs", [0, 2, 31])
def test_phase1_and_quick_mode_in_memory(mode: str, pfs: int) -> None:
    a, b, wire = _pair(mode, pfs=pfs, engine=True)
    (sa,), (sb,) = a.sas.values(), b.sas.values()
    assert sa.state == sb.state == "ESTABLISHED"
    assert sa.child_spi_in == sb.child_spi_out and sa.child_spi_out == sb.child_spi_in
    assert any("with PFS" in x for x in a.log) == bool(pfs)
    for e in (a.engine, b.engine):
        assert len(e.sad) == 2
    # the same keys on both ends of each direction
    ka = {x.spi: (x.enc_key, x.auth_key) for x in a.engine.sad}
    kb = {x.spi: (x.enc_key, x.auth_key) for x in b.engine.sad}
    assert ka == kb
    # phase 1 (3 or 6), quick mode (3): only the last phase-1 and quick messages are encrypted
    n1 = 6 if mode == "main" else 3
    assert len(wire) == n1 + 3
    assert [w[19] & 1 for w in wire[:n1]] == ([0] * 4 + [1, 1] if mode == "main" else [0, 0, 1])
    a.shutdown(1.0)
    _run(a, b, wire, set(), 1.0)
    assert not b.sas and not b.engine.sad and not a.engine.sad
    assert "deleted the ISAKMP SA" in b.log[-1]


def test_3des_sha1_modp1024_phase1() -> None:
    p = IkeProposal(3, 192, 2, 2, 2)
    a, _b, _ = _pair(prop_b=p, prop_a=p)
    assert [s.state for s in a.sas.values()] == ["ESTABLISHED"]


@pytest.mark.parametrize("mode", ["main", "aggressive"])
@pytest.mark.parametrize("lost", range(9))
def test_any_one_lost_message_is_recovered(mode: str, lost: int) -> None:
    """Each message of phase 1 and quick mode lost once: the requester's
    retransmission (or the quick mode responder's) gets the same answer again."""
    a, b, wire = _pair(mode, drop={lost})
    (sa,), (sb,) = a.sas.values(), b.sas.values()
    assert sa.state == sb.state == "ESTABLISHED", (a.log, b.log)
    assert sa.installed and sb.installed, (a.log, b.log)
    assert sa.child_spi_in == sb.child_spi_out
    if lost < len(wire) - 1:
        assert a.stats.get("ike_retransmit", 0) + b.stats.get("ike_retransmit", 0) >= 1


def test_peer_deleted_ipsec_sa_renegotiates_on_acquire() -> None:
    a, b, wire = _pair(engine=True)
    (sb,) = b.sas.values()
    b._info(sb, [(12, struct.pack(">IBBH", 1, 3, 4, 1) + struct.pack(">I", sb.child_spi_in))])
    b._uninstall(sb, 1.0)
    _run(a, b, wire, set(), 1.0)
    (sa,) = a.sas.values()
    assert not sa.installed and "deleted the IPsec SA" in a.log[-1]
    acq = a.engine  # a packet under the policy would make the engine send this
    from kame.key import pfkey as P
    m = P.SadbMsg(P.SADB_ACQUIRE, P.SADB_SATYPE_ESP, seq=9)
    m.add(P.SadbAddress(P.SADB_EXT_ADDRESS_SRC, sa.peer.local_address, 128, 255))
    m.add(P.SadbAddress(P.SADB_EXT_ADDRESS_DST, sa.peer.address, 128, 255))
    assert a.acquire(m.pack(), 2.0) is None and acq is not None
    _run(a, b, wire, set(), 2.0)
    assert sa.installed and len(a.engine.sad) == 2 and wire[-3][18] == 32


def test_no_answer_gives_up_with_backoff() -> None:
    a, _b, wire = _pair(drop=set(range(100)))
    assert not a.sas and "no answer to main mode message 1" in a.log[-1]
    assert len(wire) == Ikev1.RETRANS_TRIES


@pytest.mark.parametrize("mode", ["main", "aggressive"])
def test_wrong_psk_fails_on_both_sides(mode: str) -> None:
    a, b, _ = _pair(mode, psk_b=b"other")
    assert not a.sas and not b.sas or not any(s.installed for s in a.sas.values())
    logs = " ".join(a.log + b.log)
    assert "AUTHENTICATION-FAILED" in logs and "pre-shared key" in logs


def test_unacceptable_proposal() -> None:
    a, b, _ = _pair(prop_b=IkeProposal(12, 256, 12, 5, 14))
    assert not a.sas and not b.sas
    assert "NO-PROPOSAL-CHOSEN" in a.log[-1] and "NO-PROPOSAL-CHOSEN" in b.log[-1]


def test_unacceptable_esp_proposal() -> None:
    a, b, _ = _pair(child_b=ChildProposal(20, 128, 0))
    assert not any(s.installed for s in a.sas.values())
    assert "NO-PROPOSAL-CHOSEN" in " ".join(b.log) and "NO-PROPOSAL-CHOSEN" in " ".join(a.log)


def test_dpd_both_ways() -> None:
    a, b, _wire = _pair(dpd_delay=5)
    (sa,) = a.sas.values()
    assert sa.dpd and sa.dpd_at is not None
    for t in (6.0, 12.0):
        a.timehandler(t)
        for src, dst, s, d in ((a, b, A, B), (b, a, B, A)):
            out, src.out = src.out, []
            for m, _to, dport, sport in out:
                dst.input(m, s, sport, d, dport, t)
    assert b.stats["dpd_request_in"] >= 2
    assert a.stats["dpd_ack_in"] == b.stats["dpd_request_in"]
    assert a.sas  # answered: still up


_WIRE: list[bytes] = []


@settings(max_examples=60)
@given(st.data())
def test_mangled_messages_are_counted_not_raised(data: st.DataObject) -> None:
    if not _WIRE:
        _WIRE.extend(_pair("aggressive", pfs=31)[2] + _pair("main", pfs=31)[2])
    b = Ikev1([V1Peer(A, B, b"k", proposals=[IkeProposal(12, 128, 12, 5, 31)],
                      exchange_mode=("main", "aggressive"))])
    for w in _WIRE:
        i = data.draw(st.integers(0, len(w) - 1))
        m = bytearray(w)
        m[i] ^= data.draw(st.integers(1, 255))
        b.input(bytes(m), A, 500, B, 500, 0.0)
        b.input(w, A, 500, B, 500, 0.0)


def test_racoon_conf_ikev1_words() -> None:
    text = f"""remote {B} {{
        ike_version 1;
        exchange_mode aggressive, main;
        dpd_delay 20;
        proposal {{ encryption_algorithm 3des; hash_algorithm sha1;
                    authentication_method pre_shared_key; dh_group 2; }}
    }}
    remote 2001:db8::3 {{ proposal {{ encryption_algorithm aes 128; hash_algorithm sha256;
                    authentication_method pre_shared_key; dh_group 14; }} }}
    sainfo anonymous {{ encryption_algorithm aes 256; authentication_algorithm hmac_sha1;
                        pfs_group modp2048; }}
    """
    c = parse(text, psk={B: b"x", "2001:db8::3": b"y"}, local=A)
    p1, p2 = c.peers
    assert isinstance(p1, V1Peer) and not isinstance(p2, V1Peer) and isinstance(p2, Peer)
    assert p1.exchange_mode == ("aggressive", "main") and p1.dpd_delay == 20
    assert p1.pfs_group == 14 and p1.proposals[0].encr == 3
    for bad, word in (("ike_version 3;", "ike_version"), ("exchange_mode base;", "base"),
                      ("exchange_mode quick;", "exchange_mode"), ("dpd_delay soon;", "dpd_delay")):
        with pytest.raises(ConfigError, match=f"line 2: .*{word}"):
            parse(f"remote {B} {{\n {bad}\n proposal {{ dh_group 14; }} }}", psk={B: b"x"},
                  local=A)
    # 3DES serves both versions; AES-CTR (RFC 5930) is an IKEv2 cipher
    assert parse(f"remote {B} {{ proposal {{ encryption_algorithm 3des; }} }}", psk={B: b"x"},
                 local=A).peers[0].proposals[0].encr == 3
    with pytest.raises(ConfigError, match="aes_ctr is taken with ike_version 2 only"):
        parse(f"remote {B} {{ ike_version 1; proposal {{ encryption_algorithm aes_ctr 128; }} }}",
              psk={B: b"x"}, local=A)


@pytest.mark.filterwarnings("ignore:Diffie-Hellman over finite fields")
def test_modp768_group_1_against_cryptography() -> None:
    """RFC 2409 §6.1, the first Oakley group, as `cryptography` computes it."""
    from cryptography.hazmat.primitives.asymmetric import dh

    p = int("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22"
            "514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6"
            "F44C42E9A63A3620FFFFFFFFFFFFFFFF", 16)
    ours = _core.IkeDh(1)
    assert len(ours.public) == 96
    theirs = dh.DHParameterNumbers(p, 2).parameters().generate_private_key()
    y = theirs.public_key().public_numbers().y.to_bytes(96, "big")
    want = theirs.exchange(dh.DHPublicNumbers(int.from_bytes(ours.public, "big"),
                                              dh.DHParameterNumbers(p, 2)).public_key())
    assert ours.shared(y) == want.rjust(96, b"\0")
    a, _b, _ = _pair(prop_b=IkeProposal(12, 128, 2, 2, 1), prop_a=IkeProposal(12, 128, 2, 2, 1),
                     pfs=1)
    assert [s.state for s in a.sas.values()] == ["ESTABLISHED"]
