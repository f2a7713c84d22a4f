"""IKE (issue 10): the Rust core's crypto against published vectors and the
`cryptography` package, the IKEv2 parser under hypothesis, and the IKEv2
exchanges between two of our daemons in memory (PSK, proposals, NAT-T,
cookies under a flood, retransmission, delete), and racoon.conf errors."""

from __future__ import annotations

import hashlib
import hmac
import struct
import tracemalloc
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import dh, ec, x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from kame import _core
from kame.errors import ConfigError, KameError
from kame.ike import ChildProposal, Ike, IkeProposal, Peer
from kame.ike.conf import parse
from kame.key.engine import KeyEngine

H = bytes.fromhex

# --- RFC 4434 AES-XCBC-PRF-128 (§5 test vectors) -------------------------------------

MSG20 = bytes(range(20))


@pytest.mark.parametrize("key,want", [
    (bytes(range(16)), "47f51b4564966215b8985c63055ed308"),
    (bytes(range(10)), "0fa087af7d866e7653434e602fdde835"),
    (bytes(range(16)) + b"\xed\xcb", "8cd3c93ae598a9803006ffb67c40e9e4"),
])
def test_aes_xcbc_prf_128_rfc4434(key: bytes, want: str) -> None:
    assert _core.ike_prf(4, key, MSG20).hex() == want


# --- NIST CAVP SP 800-135 IKEv2 KDF, SHA-1, COUNT 0 ------------------------------------

CAVP = {
    "ni": H("3651fef5c9c35e93"), "nr": H("c09a8b90a3f04d59"),
    "gir": H("d084a30166a50fb7325c3960874a839449ef9741c2f4f947d0201dd8c1269273d79509f37e3ca3eb"
          "4fa2fe2a28254e289cd3f34dad4eb4df1a07685a4b8a94fa61e2491f7598b3ce65547ff133b3f63d"
          "1ac4175eaa695033f3cedb026a6873a36455172a8540b8a5d23a0143bed0390ee49b168269d75fff"
          "ee9fb62be965993c"),
    "gir_new": H("52f00ab174c25d5b7139ae5ff4e8e9eddee5992d2e36adf8a559ffd90dab1442e4fbe429d320c0f3"
              "3552a17d1557fa41ea70e8fb916c4fa27ed52b5f8ebd8461afa78f1159159a64055ac5f6319e29"
              "c28eae58cbc6847770f32c3fed1d04750484f854790f95e9ec01bc5bc461f24966462e35951132"
              "9305038e94deb6dd42c2"),
    "spi_i": H("8e5c3ae507221684"), "spi_r": H("b1f201bb155c3acd"),
    "skeyseed": "cd2e8050137832245f1dbacc6e4f0a92f94d45d6",
    "dkm": "6f1b12cad3cbe097b35430356d869d54cddb0198ec859174d53ceb92dddedbe2436db69f60977c58fa63"
        "bbb667f8d36920b109baae8f6c61a9ac49feda01843225d080ec5539d5881a25521ffb2a0a91874a9c0a"
        "27fcc2d717eb8963a9e3a89c7ab264757284c28cf8c3ca40576f4220b052b1fb8e9ad60ba3c805573233"
        "31a8cbb89f20",
    "dkm_child": "4727dc0ef94eb326ce131cf282fb652faa638ad0ddae3786a11bcc0309876009f8c485de011ad962"
              "c5b1ca8a41ff8145445749079c5686e26ffebbc342f06981f3da745e11ca0976424d1f8caec623d5"
              "9dc7186deb20a27b411d1dcb70a365440bf7de905088b0692e8addc094e18d1939bdb67e89798ca6"
              "b239e2ccb81c2409dac0106c",
    "dkm_child_dh": "b109c21ad4c0797768c1cec9e63554681e48f224bca7f23c20c4ea7041983451e9aa1d5408656c8a"
                 "975ff1b9d9a12c75ffeb64bdecb30174664cccb4e14f1c377b7f6d1525af77c7092aac3e47f917eb"
                 "ae8297fb5539d2008ce830823a09cc197361d4a289c72745f6ce9fefe812be5bf55b3200fbb82e41"
                 "a4a40877d3fe106db909707b",
    "skeyseed_rekey": "3b03bce748c96d5e8306918d2ff89b68f0648da3",
}


def test_ikev2_kdf_cavp_sha1() -> None:
    c: dict[str, Any] = CAVP
    k = _core.ike_keys(2, c["ni"], c["nr"], c["gir"], c["spi_i"], c["spi_r"], 20, 16)
    assert k["skeyseed"].hex() == c["skeyseed"]
    seed = c["ni"] + c["nr"] + c["spi_i"] + c["spi_r"]
    assert _core.ike_prf_plus(2, k["skeyseed"], seed, 132).hex() == c["dkm"]
    dkm = bytes.fromhex(c["dkm"])
    assert k["sk_d"] == dkm[:20] and k["sk_ai"] == dkm[20:40] and k["sk_er"] == dkm[76:92]
    sk_d = k["sk_d"]
    assert _core.ike_child_keymat(2, sk_d, c["ni"], c["nr"], 132).hex() == c["dkm_child"]
    assert _core.ike_child_keymat(2, sk_d, c["ni"], c["nr"], 132,
                                  gir=c["gir_new"]).hex() == c["dkm_child_dh"]
    rekey = _core.ike_prf(2, sk_d, c["gir_new"] + c["ni"] + c["nr"])
    assert rekey.hex() == c["skeyseed_rekey"]


def test_ikev1_kdf_cavp_sha1_signature_and_psk() -> None:
    # SP 800-135 IKEv1 (digital signature authentication), SHA-1
    gxy = H("2a2e0bbe8da3657a83f3d35826e49e2d38e557e912a1b9e6c30c63577b3eab715466202862027f2c"
            "26f3090743555579611771db0b92bef93834432a3a7762fc8a0f4889fd281d6082770d10a40d7bad"
            "61e832f041e620d6787e7f62ab2861ddfbe272e0d9d3cdec5f1bbf750e24b8b32d6d714968ad69ce"
            "5086c32ad2742ebc")
    ni, nr = H("ced5635da6796075"), H("6244b427712fb776")
    cky_i, cky_r = H("382e5c8b0a3fa307"), H("ba4b7616700a2413")
    k = _core.ikev1_keys(2, None, ni, nr, gxy, cky_i, cky_r)
    assert k["skeyid"].hex() == "dc37ac99de6dcfbd1ee74af7fb36f9b4b0a7829d"
    assert k["skeyid_d"].hex() == "486293ed547adb562cefdaf43d3d8457b196f2b6"
    assert k["skeyid_a"].hex() == "f4053b5ca07e59bb41b8f401037ca90b72b3917e"
    assert k["skeyid_e"].hex() == "49a1d53a80fb77e663552964fbbcb45092021473"
    # pre-shared key: SKEYID = prf(psk, Ni_b | Nr_b), the rest as above
    p = _core.ikev1_keys(5, b"psk", ni, nr, gxy, cky_i, cky_r)
    skeyid = hmac.new(b"psk", ni + nr, "sha256").digest()
    assert p["skeyid"] == skeyid
    assert p["skeyid_d"] == hmac.new(skeyid, gxy + cky_i + cky_r + b"\0", "sha256").digest()


def _prf_plus(alg: str, key: bytes, seed: bytes, n: int) -> bytes:
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(key, t + seed + bytes([i]), alg).digest()
        out += t
        i += 1
    return out[:n]


@pytest.mark.parametrize("prf,alg", [(2, "sha1"), (5, "sha256"), (6, "sha384"), (7, "sha512")])
@given(key=st.binary(max_size=80), seed=st.binary(max_size=100), n=st.integers(0, 500))
def test_prf_plus_matches_hmac(prf: int, alg: str, key: bytes, seed: bytes, n: int) -> None:
    assert _core.ike_prf(prf, key, seed) == hmac.new(key, seed, alg).digest()
    assert _core.ike_prf_plus(prf, key, seed, n) == _prf_plus(alg, key, seed, n)


def test_prf_plus_bounds_and_bad_ids() -> None:
    with pytest.raises(ConfigError):
        _core.ike_prf_plus(2, b"k", b"s", 255 * 20 + 1)
    with pytest.raises(ConfigError):
        _core.ike_prf(3, b"k", b"s")
    with pytest.raises(ConfigError):
        _core.IkeDh(15)
    with pytest.raises(TypeError):
        _core.ike_prf(2, "k", b"s")  # type: ignore[arg-type]


# --- Diffie-Hellman against `cryptography` -----------------------------------------------

MODP = {
    2: 1024, 5: 1536, 14: 2048,
}


def _modp_prime(bits: int, k: int) -> int:
    # RFC 2409 §6.2 / RFC 3526: p = 2^n - 2^(n-64) - 1 + 2^64 * ([2^(n-130) pi] + k)
    g = bits + 64

    def atan_inv(x: int) -> int:
        one, s, n, sign, x2 = 1 << g, 0, 1, 1, x * x
        t = one // x
        while t:
            s += sign * (t // n)
            t //= x2
            n += 2
            sign = -sign
        return s

    pi = (4 * (4 * atan_inv(5) - atan_inv(239))) >> 64
    return 2 ** bits - 2 ** (bits - 64) - 1 + 2 ** 64 * ((pi >> 130) + k)


@pytest.mark.parametrize("group,k", [(2, 129093), (5, 741804), (14, 124476)])
def test_modp_against_cryptography(group: int, k: int) -> None:
    p = _modp_prime(MODP[group], k)
    params = dh.DHParameterNumbers(p, 2).parameters()
    theirs = params.generate_private_key()
    ours = _core.IkeDh(group)
    n = MODP[group] // 8
    assert len(ours.public) == n
    y = theirs.public_key().public_numbers().y.to_bytes(n, "big")
    z = ours.shared(y)
    peer = dh.DHPublicNumbers(int.from_bytes(ours.public, "big"), params.parameter_numbers())
    assert theirs.exchange(peer.public_key()).rjust(n, b"\0") == z
    with pytest.raises(KameError):
        _core.IkeDh(group).shared(bytes(n))  # 0: not 1 < y < p-1
    with pytest.raises(KameError):
        _core.IkeDh(group).shared((p - 1).to_bytes(n, "big"))
    with pytest.raises(KameError):
        _core.IkeDh(group).shared(y[1:])


@pytest.mark.parametrize("group,curve,n", [(19, ec.SECP256R1(), 32), (20, ec.SECP384R1(), 48)])
def test_ecp_against_cryptography(group: int, curve: Any, n: int) -> None:
    theirs = ec.generate_private_key(curve)
    nums = theirs.public_key().public_numbers()
    ours = _core.IkeDh(group)
    z = ours.shared(nums.x.to_bytes(n, "big") + nums.y.to_bytes(n, "big"))
    pub = ec.EllipticCurvePublicNumbers(int.from_bytes(ours.public[:n], "big"),
                                        int.from_bytes(ours.public[n:], "big"), curve)
    assert theirs.exchange(ec.ECDH(), pub.public_key()) == z  # RFC 5903 §7: x only
    with pytest.raises(KameError):
        _core.IkeDh(group).shared(bytes(2 * n))  # not on the curve


def test_x25519_against_cryptography_and_rfc7748_low_order() -> None:
    theirs = x25519.X25519PrivateKey.generate()
    from cryptography.hazmat.primitives import serialization as s

    raw = theirs.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)
    ours = _core.IkeDh(31)
    z = ours.shared(raw)
    assert theirs.exchange(x25519.X25519PublicKey.from_public_bytes(ours.public)) == z
    with pytest.raises(KameError):
        ours.shared(raw)  # single use
    with pytest.raises(KameError):
        _core.IkeDh(31).shared(bytes(32))  # RFC 7748 §6.1: all-zero result refused


# --- the SK payload against `cryptography` -------------------------------------------------

HDR = bytes(range(16)) + bytes([46, 0x20, 35, 0x08, 0, 0, 0, 1, 0, 0, 0, 0])


@given(inner=st.binary(max_size=300))
def test_sk_aes_cbc_hmac_matches_cryptography(inner: bytes) -> None:
    ek, ak = bytes(range(16)), bytes(range(32))
    m = _core.ike_seal(HDR, 35, inner, 12, 128, 12, ek, ak)
    assert struct.unpack(">I", m[24:28])[0] == len(m)
    assert hmac.new(ak, m[:-16], "sha256").digest()[:16] == m[-16:]
    iv, ct = m[32:48], m[48:-16]
    d = Cipher(algorithms.AES(ek), modes.CBC(iv)).decryptor()
    pt = d.update(ct) + d.finalize()
    assert pt[:len(inner)] == inner and pt[-1] == len(pt) - len(inner) - 1
    assert _core.ike_open(m, 28, 12, 128, 12, ek, ak) == (35, inner)


@given(inner=st.binary(max_size=300), bits=st.sampled_from([128, 192, 256]))
def test_sk_aes_ctr_matches_cryptography(inner: bytes, bits: int) -> None:
    """RFC 5930: SK_e is the AES key and a 4-octet nonce; the counter block
    is nonce | 8-octet IV | a 32-bit counter from 1 (RFC 3686 §4); no
    padding is needed, the Pad Length octet stays."""
    key, nonce = bytes(range(bits // 8)), b"\xa0\xa1\xa2\xa3"
    ak = bytes(range(32))
    m = _core.ike_seal(HDR, 35, inner, 13, bits, 12, key + nonce, ak)
    assert struct.unpack(">I", m[24:28])[0] == len(m)
    assert hmac.new(ak, m[:-16], "sha256").digest()[:16] == m[-16:]
    iv, ct = m[32:40], m[40:-16]
    d = Cipher(algorithms.AES(key), modes.CTR(nonce + iv + b"\x00\x00\x00\x01")).decryptor()
    assert d.update(ct) + d.finalize() == inner + b"\x00"
    assert _core.ike_open(m, 28, 13, bits, 12, key + nonce, ak) == (35, inner)


@given(inner=st.binary(max_size=300))
def test_sk_3des_matches_cryptography(inner: bytes) -> None:
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES

    ek, ak = bytes(range(1, 25)), bytes(range(20))
    m = _core.ike_seal(HDR, 35, inner, 3, 192, 2, ek, ak)
    assert hmac.new(ak, m[:-12], "sha1").digest()[:12] == m[-12:]
    iv, ct = m[32:40], m[40:-12]
    d = Cipher(TripleDES(ek), modes.CBC(iv)).decryptor()
    pt = d.update(ct) + d.finalize()
    assert pt[:len(inner)] == inner and pt[-1] == len(pt) - len(inner) - 1 and len(pt) % 8 == 0
    assert _core.ike_open(m, 28, 3, 192, 2, ek, ak) == (35, inner)


@given(inner=st.binary(max_size=300))
def test_sk_aes_gcm_matches_cryptography(inner: bytes) -> None:
    ek = bytes(range(36))  # AES-256 key + 4-octet salt (RFC 5282 §7.1)
    m = _core.ike_seal(HDR, 35, inner, 20, 256, 0, ek, b"")
    iv = m[32:40]
    pt = AESGCM(ek[:32]).decrypt(ek[32:] + iv, m[40:], m[:32])
    assert pt[:len(inner)] == inner
    assert _core.ike_open(m, 28, 20, 256, 0, ek, b"") == (35, inner)
    bad = bytearray(m)
    bad[-1] ^= 1
    with pytest.raises(KameError):
        _core.ike_open(bytes(bad), 28, 20, 256, 0, ek, b"")


# --- the parser under hypothesis ---------------------------------------------------------

@given(st.binary(max_size=600))
def test_parse_never_raises_anything_but_typed_errors(data: bytes) -> None:
    for f in (_core.ike_parse, _core.ike_parse_sa, _core.ike_parse_ts,
              lambda b: _core.ike_parse_chain(33, b)):
        try:
            f(data)
        except KameError:
            pass


transforms = st.lists(st.tuples(st.integers(1, 5), st.integers(0, 65535),
                                st.one_of(st.none(), st.integers(0, 65535))), max_size=8)
proposals = st.lists(st.tuples(st.integers(0, 255), st.integers(0, 255),
                               st.binary(max_size=8), transforms), min_size=1, max_size=5)


@given(proposals)
def test_sa_build_parse_round_trip(props: list[Any]) -> None:
    body = _core.ike_build_sa(props)
    assert _core.ike_parse_sa(body) == props
    for cut in range(len(body)):
        with pytest.raises(KameError):
            _core.ike_parse_sa(body[:cut])


selectors = st.lists(st.one_of(
    st.tuples(st.just(8), st.integers(0, 255), st.integers(0, 65535), st.integers(0, 65535),
              st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16)),
    st.tuples(st.just(7), st.integers(0, 255), st.integers(0, 65535), st.integers(0, 65535),
              st.binary(min_size=4, max_size=4), st.binary(min_size=4, max_size=4))),
    min_size=1, max_size=6)


@given(selectors)
def test_ts_build_parse_round_trip(sels: list[Any]) -> None:
    assert _core.ike_parse_ts(_core.ike_build_ts(sels)) == sels


@given(st.lists(st.tuples(st.integers(1, 255).filter(lambda t: t != 46), st.booleans(),
                          st.binary(max_size=40)), max_size=10))
def test_chain_round_trip(pays: list[Any]) -> None:
    if not pays:
        return
    chain = _core.ike_build_chain(pays)
    hdr = _core.ike_build_header(b"a" * 8, b"b" * 8, pays[0][0], 34, 8, 0, 28 + len(chain))
    got = _core.ike_parse(hdr + chain)
    assert got[1] == pays and got[2] is None
    assert got[0][4] == 34


def test_parse_limits() -> None:
    chain = _core.ike_build_chain([(40, False, b"")] * 64)
    extra = bytes([0, 0, 0, 4])
    body = chain[:-4] + bytes([40, 0, 0, 4]) + extra  # 65 payloads
    hdr = _core.ike_build_header(b"a" * 8, b"b" * 8, 40, 34, 8, 0, 28 + len(body))
    with pytest.raises(KameError, match="more payloads"):
        _core.ike_parse(hdr + body)


# --- two daemons in memory -----------------------------------------------------------------

A, B = "2001:db8:1::1", "2001:db8:1::2"


def pair(psk_a: bytes = b"secret", psk_b: bytes = b"secret", *, nat: str = "on",
         pa: list[IkeProposal] | None = None, pb: list[IkeProposal] | None = None,
         child: ChildProposal | None = None, threshold: int = 32
         ) -> tuple[Ike, Ike, KeyEngine, KeyEngine]:
    ea, eb = KeyEngine(), KeyEngine()
    child = child or ChildProposal()
    a = Ike([Peer(B, A, psk_a, my_id="a.example", peer_id="b.example",
                  proposals=pa or [IkeProposal()], child=[child], nat_traversal=nat)], ea)
    b = Ike([Peer(A, B, psk_b, my_id="b.example", peer_id="a.example",
                  proposals=pb or [IkeProposal()], child=[child], nat_traversal=nat)], eb,
            cookie_threshold=threshold)
    return a, b, ea, eb


def run(a: Ike, b: Ike, now: float = 0.0, drop: int = 0) -> int:
    """Deliver datagrams both ways until quiet; the first ``drop`` are lost."""
    n = 0
    for _ in range(50):
        moved = False
        for x, y, me in ((a, b, A), (b, a, B)):
            out, x.out = x.out, []
            for data, dst, dport, sport in out:
                moved = True
                n += 1
                if n <= drop:
                    continue
                y.input(data, me, sport, str(dst), dport, now)
        if not moved:
            break
    return n


@pytest.mark.parametrize("prop,child", [
    (IkeProposal(12, 128, 12, 5, 14), ChildProposal(12, 128, 12)),
    (IkeProposal(12, 256, 14, 7, 19), ChildProposal(12, 256, 14)),
    (IkeProposal(20, 256, 0, 6, 31), ChildProposal(20, 128, 0)),
    (IkeProposal(12, 192, 2, 4, 20), ChildProposal(12, 192, 2)),
    (IkeProposal(20, 128, 0, 2, 5), ChildProposal(20, 256, 0)),
    (IkeProposal(13, 256, 12, 5, 14), ChildProposal(12, 128, 12)),  # AES-CTR (RFC 5930)
    (IkeProposal(3, 192, 2, 2, 14), ChildProposal(12, 128, 2)),  # 3DES (RFC 2451)
])
def test_two_daemons_establish_and_install_the_same_keys(prop: IkeProposal,
                                                         child: ChildProposal) -> None:
    a, b, ea, eb = pair(pa=[prop], pb=[prop], child=child)
    a.initiate(a.peers[0], 0.0)
    run(a, b)
    assert [s.state for s in a.sas.values()] == ["ESTABLISHED"]
    assert [s.state for s in b.sas.values()] == ["ESTABLISHED"]
    sa_a = {(str(s.src), s.spi): s for s in ea.sad}
    sa_b = {(str(s.src), s.spi): s for s in eb.sad}
    assert sa_a.keys() == sa_b.keys() and len(sa_a) == 2
    for k, s in sa_a.items():
        assert (s.enc_key, s.auth_key) == (sa_b[k].enc_key, sa_b[k].auth_key)
    # one packet through the pair: a's outbound SA, b's inbound one
    out = next(s for s in ea.sad if str(s.src) == A)
    inn = next(s for s in eb.sad if str(s.src) == A)
    pkt = bytes.fromhex("6000000000083a40") + bytes(16) + bytes(16) + bytes(8)
    assert inn.transform("tunnel").input(out.transform("tunnel").output(pkt)) == pkt
    # delete: both sides empty, both engines empty
    a.shutdown(1.0)
    run(a, b, 1.0)
    assert not a.sas and not b.sas and not len(ea.sad) and not len(eb.sad)


def test_acquire_from_the_key_engine_starts_the_exchange() -> None:
    from ipaddress import ip_address

    a, b, ea, _eb = pair()
    ea.sad.acquire(ip_address(A), ip_address(B), "esp", "tunnel", 0, 0.0)
    ea.event_messages(0.0)  # SADB_ACQUIRE to the registered listener
    assert not a.out
    a.timehandler(0.0)
    assert a.out and a.out[0][1:] == (ip_address(B), 500, 500)
    run(a, b)
    assert [s.state for s in a.sas.values()] == ["ESTABLISHED"] and len(ea.sad) == 2
    # a second ACQUIRE while the SA is up starts nothing
    ea.sad.acquire(ip_address(A), ip_address(B), "esp", "tunnel", 0, 100.0)
    ea.event_messages(100.0)
    a.timehandler(100.0)
    assert not a.out


def test_wrong_psk_fails_on_both_sides_and_leaves_no_sa() -> None:
    a, b, ea, eb = pair(psk_b=b"other")
    a.initiate(a.peers[0], 0.0)
    run(a, b)
    assert "AUTHENTICATION_FAILED" in a.log[-1] and "AUTHENTICATION_FAILED" in b.log[-1]
    assert "pre-shared key" in b.log[-1]
    assert not a.sas and not len(ea.sad)
    b.timehandler(10.0)
    assert not b.sas and not len(eb.sad)


def test_no_common_proposal_and_invalid_ke_retry() -> None:
    a, b, *_ = pair(pa=[IkeProposal(dh=14)], pb=[IkeProposal(dh=19)])
    a.initiate(a.peers[0], 0.0)
    run(a, b)
    assert "NO_PROPOSAL_CHOSEN" in a.log[-1] and "NO_PROPOSAL_CHOSEN" in b.log[-1]
    # a offers 31 then 14 and sends a 31 KE; b takes only 14: INVALID_KE, retry with 14
    a, b, *_ = pair(pa=[IkeProposal(dh=31), IkeProposal(dh=14)], pb=[IkeProposal(dh=14)])
    a.initiate(a.peers[0], 0.0)
    run(a, b)
    assert any("DH group 14" in x for x in a.log)
    assert [s.state for s in a.sas.values()] == ["ESTABLISHED"]


def test_nat_traversal_force_floats_to_4500_and_encapsulates() -> None:
    a, b, ea, eb = pair(nat="force")
    a.initiate(a.peers[0], 0.0)
    ports = []
    for _ in range(4):
        ports += [(d[2], d[3]) for d in a.out]
        run_once = a.out[:]
        a.out.clear()
        for data, _dst, dport, sport in run_once:
            b.input(data, A, sport, B, dport, 0.0)
        for data, _dst, dport, sport in b.out:
            a.input(data, B, sport, A, dport, 0.0)
        b.out.clear()
    assert ports[0] == (500, 500) and (4500, 4500) in ports
    assert all(s.udp_encap == (4500, 4500) for s in ea.sad)
    assert all(s.udp_encap for s in eb.sad) and len(eb.sad) == 2


def test_retransmission_with_backoff_then_giving_up() -> None:
    a, b, *_ = pair()
    a.initiate(a.peers[0], 0.0)
    a.out.clear()  # the first IKE_SA_INIT is lost
    times = []
    t = 0.0
    while a.sas and t < 100:
        t += 0.25
        a.timehandler(t)
        if a.out:
            times.append(t)
            a.out.clear()
    assert times[:3] == [1.0, 3.0, 7.0]  # 1, 2, 4 s apart
    assert not a.sas and "no answer to IKE_SA_INIT" in a.log[-1]
    # a lost response is answered again from the cache
    a, b, *_ = pair()
    a.initiate(a.peers[0], 0.0)
    run(a, b, drop=2)  # IKE_SA_INIT request goes, the response is lost
    a.timehandler(1.0)
    run(a, b, 1.0)
    assert [s.state for s in a.sas.values()] == ["ESTABLISHED"]
    assert len(b.sas) == 1


def test_flood_of_ike_sa_init_switches_to_cookies_and_stays_bounded() -> None:
    a, b, *_ = pair(threshold=8, pa=[IkeProposal(dh=31)], pb=[IkeProposal(dh=31)])
    flood = Ike([Peer(B, A, b"x", proposals=[IkeProposal(dh=31)])])
    tracemalloc.start()
    for i in range(400):
        sa = flood.initiate(flood.peers[0], 0.0)
        del flood.sas[sa.spi_i]
        data = flood.out.pop()[0]
        b.input(data, A, 1024 + i, B, 500, 0.0)
    size, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert b.half_open() == 8 and len(b.sas) == 8
    assert b.stats["ike_cookie_sent"] == 392
    assert size < 4 << 20
    # a real initiator answers the cookie and gets through
    b.out.clear()
    a.initiate(a.peers[0], 0.0)
    run(a, b)
    assert [s.state for s in a.sas.values()] == ["ESTABLISHED"]


def test_bad_datagrams_are_counted_not_raised() -> None:
    a, b, *_ = pair()
    for junk in (b"", b"\x00" * 27, b"\xff" * 28, bytes(28) + b"\x21\x00\x00\x03"):
        b.input(junk, A, 500, B, 500, 0.0)
    assert b.stats["ike_badmsg"] == 4 and not b.out
    a.initiate(a.peers[0], 0.0)
    run(a, b)
    s = next(iter(a.sas.values()))
    forged = bytearray(a._sealed(s, 37, 5, False, []))
    forged[-1] ^= 1
    b.input(bytes(forged), A, 500, B, 500, 0.0)
    assert b.stats["ike_badmsg"] == 5


# --- racoon.conf -----------------------------------------------------------------------------

CONF = """path pre_shared_key "psk.txt";
listen { isakmp 2001:db8:1::1 [500]; }
remote 2001:db8:1::2 {
    exchange_mode main;
    my_identifier fqdn "a.example";
    nat_traversal force;
    proposal {
        encryption_algorithm aes_gcm_16 256;
        hash_algorithm sha384;
        authentication_method pre_shared_key;
        dh_group curve25519;
    }
}
sainfo address 2001:db8:a::/48 any address 2001:db8:b::/48 any {
    encryption_algorithm aes 128, aes_gcm_16;
    authentication_algorithm hmac_sha256;
    pfs_group 14;
}
"""


def test_racoon_conf_reads_the_handbook_subset() -> None:
    c = parse(CONF, psk={"2001:db8:1::2": b"k"})
    (p,) = c.peers
    assert p.proposals == [IkeProposal(20, 256, 0, 6, 31)]
    assert p.child == [ChildProposal(12, 128, 12), ChildProposal(20, 128, 0)]
    assert p.nat_traversal == "force" and p.my_id == "a.example"
    assert str(p.local_ts) == "2001:db8:a::/48" and str(p.local_address) == "2001:db8:1::1"


@pytest.mark.parametrize("bad,line,words", [
    (CONF.replace("dh_group curve25519", "dh_group 22"), 11, "dh_group"),
    (CONF.replace("hash_algorithm sha384", "hash_algorithm md5"), 9, "hash_algorithm"),
    (CONF.replace("exchange_mode main;", "frobnicate on;"), 4, "frobnicate"),
    (CONF.replace("pre_shared_key;", "rsasig;"), 10, "authentication_method"),
    (CONF.replace("pfs_group 14;", "pfs_group 14"), 18, "';'"),
    (CONF + "bogus;\n", 19, "bogus"),
    (CONF.replace("aes 128,", "des,"), 15, "encryption algorithm"),
])
def test_racoon_conf_errors_name_the_line(bad: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError, match=f"line {line}: .*{words}"):
        parse(bad, psk={"2001:db8:1::2": b"k"})


def test_racoon_conf_needs_a_key() -> None:
    with pytest.raises(ConfigError, match="line 3: no pre-shared key"):
        parse(CONF, psk={})


def test_natd_hash_is_rfc7296_sha1() -> None:
    from ipaddress import ip_address

    from kame.ike.ikev2 import _natd

    a = ip_address(A)
    assert _natd(b"i" * 8, b"r" * 8, a, 500) == hashlib.sha1(
        b"i" * 8 + b"r" * 8 + a.packed + b"\x01\xf4").digest()


def test_ipv4_endpoints_establish_and_install() -> None:
    """RFC 7296 over IPv4 (the node's IPsec over IPv4 carries the ESP): the
    IKE SA between two IPv4 endpoints, NAT detection hashed over the IPv4
    addresses, the CHILD SA pair installed with IPv4 addresses."""
    a4, b4 = "192.0.2.1", "192.0.2.2"
    ea, eb = KeyEngine(), KeyEngine()
    a = Ike([Peer(b4, a4, b"secret", my_id="a.example", peer_id="b.example")], ea)
    b = Ike([Peer(a4, b4, b"secret", my_id="b.example", peer_id="a.example")], eb)
    a.initiate(a.peers[0], 0.0)
    for _ in range(20):
        moved = False
        for x, y, me in ((a, b, a4), (b, a, b4)):
            out, x.out = x.out, []
            for data, dst, dport, sport in out:
                moved = True
                y.input(data, me, sport, str(dst), dport, 0.0)
        if not moved:
            break
    (sa,) = a.sas.values()
    (sb,) = b.sas.values()
    assert sa.state == sb.state == "ESTABLISHED" and not sa.nat and not sb.nat
    assert {(str(s.src), str(s.dst)) for s in ea.sad} == {(a4, b4), (b4, a4)}
    out = next(s for s in ea.sad if str(s.src) == a4)
    inn = next(s for s in eb.sad if str(s.src) == a4)
    from scapy.layers.inet import IP, UDP

    pkt = bytes(IP(src=a4, dst=b4) / UDP(sport=1, dport=2) / b"v4")
    wire = out.transform("tunnel").output(pkt)
    assert IP(wire).proto == 50 and inn.transform("tunnel").input(wire) == pkt
