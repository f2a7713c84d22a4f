"""PF_KEY v2 (RFC 2367) messages against <linux/pfkeyv2.h>: a C program
compiled here with gcc prints the kernel header's sizes, offsets and
constants and builds an SADB_ADD and an SADB_X_SPDADD with the kernel's own
structures; kame.key.pfkey must encode the same bytes and decode them to
the same fields. Hypothesis round-trips messages and feeds random and
mutated bytes, which must decode or raise PfkeyError/ParseError, nothing
else."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from functools import cache
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kame.errors import ParseError
from kame.key import pfkey as P

C_SRC = Path(__file__).parent / "data" / "pfkey_layout.c"
GCC = shutil.which("gcc")
needs_gcc = pytest.mark.skipif(GCC is None or not Path("/usr/include/linux/pfkeyv2.h").exists(),
                               reason="gcc or linux headers missing")


@cache
def kernel(tmp: str = "/tmp") -> dict:
    exe = Path(tmp) / f"kame_pfkey_layout_{id(C_SRC)}"
    subprocess.run([GCC, "-Wall", "-Werror", "-o", str(exe), str(C_SRC)], check=True,
                   capture_output=True, timeout=120)
    return json.loads(subprocess.run([str(exe)], check=True, capture_output=True,
                                     text=True, timeout=30).stdout)


@needs_gcc
def test_struct_sizes_match_the_kernel_header() -> None:
    k = kernel()
    assert k["sizeof.sadb_msg"] == 16 and k["sizeof.sadb_ext"] == 4
    ours = {
        "sadb_sa": len(P.SadbSa(1).pack()),
        "sadb_lifetime": len(P.SadbLifetime(3).pack()),
        "sadb_x_sa2": len(P.SadbXSa2().pack()),
        "sadb_spirange": len(P.SadbSpirange(1, 2).pack()),
        "sadb_x_policy": len(P.SadbXPolicy(1, 2).pack()),
        "sadb_comb": len(P.SadbComb().pack()),
        "sadb_prop": len(P.SadbProposal().pack()),
        "sadb_supported": len(P.SadbSupported(14).pack()),
        "sadb_key": len(P.SadbKey(8, b"").pack()),
        "sadb_ident": len(P.SadbIdent(10, 0, 0).pack()),
        "sadb_x_ipsecrequest": len(P.SadbXIpsecRequest(50, 1, 1).pack()),
    }
    for name, n in ours.items():
        assert k[f"sizeof.{name}"] == n, name
    # sadb_address + sockaddr_in6 rounded up to 64 bits
    a = P.SadbAddress(5, IPv6Address("::1")).pack()
    assert len(a) == k["sizeof.sadb_address"] + ((k["sizeof.sockaddr_in6"] + 7) & ~7)
    a4 = P.SadbAddress(5, IPv4Address("192.0.2.1")).pack()
    assert len(a4) == k["sizeof.sadb_address"] + k["sizeof.sockaddr_in"]
    assert k["sadb_comb.sadb_comb_hard_usetime"] + 8 == k["sizeof.sadb_comb"]


@needs_gcc
def test_constants_match_the_kernel_header() -> None:
    k = kernel()
    for name in ("SADB_ADD", "SADB_GETSPI", "SADB_ACQUIRE", "SADB_REGISTER", "SADB_EXPIRE",
                 "SADB_FLUSH", "SADB_DUMP", "SADB_X_SPDADD", "SADB_X_SPDDELETE",
                 "SADB_X_SPDDUMP", "SADB_X_SPDFLUSH", "SADB_X_SPDDELETE2", "SADB_SATYPE_AH",
                 "SADB_SATYPE_ESP", "SADB_X_SATYPE_IPCOMP", "SADB_EXT_SA",
                 "SADB_EXT_LIFETIME_HARD", "SADB_EXT_ADDRESS_DST", "SADB_EXT_KEY_ENCRYPT",
                 "SADB_EXT_PROPOSAL", "SADB_EXT_SPIRANGE", "SADB_X_EXT_POLICY",
                 "SADB_X_EXT_SA2"):
        assert getattr(P, name) == k[name], name
    assert P.AALG["hmac-md5"] == k["SADB_AALG_MD5HMAC"]
    assert P.AALG["hmac-sha1"] == k["SADB_AALG_SHA1HMAC"]
    assert P.AALG["hmac-sha256"] == k["SADB_X_AALG_SHA2_256HMAC"]
    assert P.AALG["null"] == k["SADB_X_AALG_NULL"]
    assert P.EALG["des-cbc"] == k["SADB_EALG_DESCBC"]
    assert P.EALG["3des-cbc"] == k["SADB_EALG_3DESCBC"]
    assert P.EALG["aes-cbc"] == k["SADB_X_EALG_AESCBC"]
    assert P.EALG["null"] == k["SADB_EALG_NULL"]
    assert P.EALG["blowfish-cbc"] == k["SADB_X_EALG_BLOWFISHCBC"]
    assert P.EALG["cast128-cbc"] == k["SADB_X_EALG_CASTCBC"]
    assert P.EALG["aes-gcm-16"] == k["SADB_X_EALG_AES_GCM_ICV16"]
    assert P.CALG["deflate"] == k["SADB_X_CALG_DEFLATE"]
    assert P.MODES["transport"] == k["IPSEC_MODE_TRANSPORT"]
    assert P.MODES["tunnel"] == k["IPSEC_MODE_TUNNEL"]
    assert P.IPSEC_DIR["in"] == k["IPSEC_DIR_INBOUND"]
    assert P.IPSEC_DIR["out"] == k["IPSEC_DIR_OUTBOUND"]
    for n in ("discard", "none", "ipsec"):
        assert P.IPSEC_POLICY[n] == k[f"IPSEC_POLICY_{n.upper()}"]
    for n in ("use", "require", "unique"):
        assert P.IPSEC_LEVEL[n] == k[f"IPSEC_LEVEL_{n.upper()}"]


def kame_add() -> P.SadbMsg:
    m = P.SadbMsg(P.SADB_ADD, P.SADB_SATYPE_ESP, seq=42, pid=4242)
    m.add(P.SadbSa(0x1000, 4, 1, P.AALG["hmac-sha1"], P.EALG["aes-cbc"]))
    m.add(P.SadbLifetime(P.SADB_EXT_LIFETIME_HARD, bytes=1000000, addtime=3600))
    m.add(P.SadbAddress(P.SADB_EXT_ADDRESS_SRC, IPv6Address("2001:db8::1"), 128, 255))
    m.add(P.SadbAddress(P.SADB_EXT_ADDRESS_DST, IPv6Address("2001:db8::2"), 128, 255))
    m.add(P.SadbKey(P.SADB_EXT_KEY_AUTH, b"kame-auth-key-20-oct"))
    m.add(P.SadbKey(P.SADB_EXT_KEY_ENCRYPT, b"0123456789abcdef"))
    m.add(P.SadbXSa2(P.MODES["tunnel"], 0, 7))
    return m


def kame_spdadd() -> P.SadbMsg:
    m = P.SadbMsg(P.SADB_X_SPDADD, seq=1, pid=7)
    m.add(P.SadbAddress(P.SADB_EXT_ADDRESS_SRC, IPv6Address("2001:db8:a::"), 64, 6))
    m.add(P.SadbAddress(P.SADB_EXT_ADDRESS_DST, IPv6Address("2001:db8:b::"), 64, 6, 80))
    m.add(P.SadbXPolicy(2, 2, requests=[
        P.SadbXIpsecRequest(50, 2, 2, 0, IPv6Address("2001:db8::c"), IPv6Address("2001:db8::d")),
        P.SadbXIpsecRequest(51, 1, 3, 5)]))
    return m


@needs_gcc
def test_messages_built_by_the_kernel_header_are_ours_byte_for_byte() -> None:
    k = kernel()
    assert kame_add().pack().hex() == k["add"]
    assert kame_spdadd().pack().hex() == k["spdadd"]
    assert P.decode(bytes.fromhex(k["add"])) == kame_add()
    assert P.decode(bytes.fromhex(k["spdadd"])) == kame_spdadd()


def test_setkey_add_is_the_same_message() -> None:
    from kame.key.setkey import parse

    (st_,) = parse('add 2001:db8::1 2001:db8::2 esp 0x1000 -m tunnel -u 7 -r 4 -lh 3600 '
                   '-bh 1000000 -E rijndael-cbc "0123456789abcdef" '
                   '-A hmac-sha1 "kame-auth-key-20-oct";', pid=4242)
    st_.msg.seq = 42
    assert st_.msg == kame_add()


# --- hypothesis -------------------------------------------------------------------

addrs6 = st.builds(IPv6Address, st.integers(0, 2**128 - 1))
addrs4 = st.builds(IPv4Address, st.integers(0, 2**32 - 1))
u8, u16, u32, u64 = (st.integers(0, 2**n - 1) for n in (8, 16, 32, 64))


@st.composite
def messages(draw: st.DrawFn) -> P.SadbMsg:
    m = P.SadbMsg(draw(st.integers(1, P.SADB_MAX)), draw(st.sampled_from([0, 2, 3, 9])),
                  draw(u8), draw(u32), draw(u32))
    fam = draw(st.sampled_from([addrs6, addrs4]))
    if draw(st.booleans()):
        m.add(P.SadbSa(draw(u32), draw(u8), draw(st.integers(0, 3)), draw(u8), draw(u8),
                       draw(u32)))
    for t in (2, 3, 4):
        if draw(st.booleans()):
            m.add(P.SadbLifetime(t, draw(u32), draw(u64), draw(u64), draw(u64)))
    for t in (5, 6, 7):
        if draw(st.booleans()):
            a = draw(fam)
            m.add(P.SadbAddress(t, a, draw(st.integers(0, a.max_prefixlen)), draw(u8),
                                draw(u16), draw(u32) if a.version == 6 else 0))
    for t in (8, 9):
        if draw(st.booleans()):
            m.add(P.SadbKey(t, draw(st.binary(max_size=64))))
    if draw(st.booleans()):
        lo = draw(u32)
        m.add(P.SadbSpirange(lo, draw(st.integers(lo, 2**32 - 1))))
    if draw(st.booleans()):
        m.add(P.SadbXSa2(draw(st.integers(0, 2)), draw(u32), draw(u32)))
    if draw(st.booleans()):
        m.add(P.SadbProposal(draw(u8), [P.SadbComb(*[draw(u8), draw(u8), draw(u16)],
                                                   soft_bytes=draw(u64))
                                        for _ in range(draw(st.integers(0, 3)))]))
    if draw(st.booleans()):
        ipsec = draw(st.booleans())
        reqs = []
        if ipsec:
            for _ in range(draw(st.integers(0, 3))):
                tun = draw(st.booleans())
                reqs.append(P.SadbXIpsecRequest(
                    draw(st.sampled_from([50, 51, 108])), 2 if tun else draw(st.integers(0, 1)),
                    draw(st.integers(0, 3)), draw(u32),
                    draw(fam) if tun else None, None))
                if tun:
                    r = reqs[-1]
                    r.dst = draw(addrs6 if r.src.version == 6 else addrs4)  # type: ignore[union-attr]
        m.add(P.SadbXPolicy(2 if ipsec else draw(st.sampled_from([0, 1, 3, 4])),
                            draw(st.integers(0, 3)), draw(u32), draw(u32), reqs))
    return m


@given(messages())
def test_round_trip(m: P.SadbMsg) -> None:
    b = m.pack()
    assert len(b) % 8 == 0
    assert P.decode(b) == m
    # every extension starts on a 64-bit boundary and its length covers it
    p = 16
    while p < len(b):
        ln, _t = struct.unpack_from("=HH", b, p)
        assert ln > 0
        p += ln * 8
    assert p == len(b)


@given(st.binary(max_size=600))
def test_random_bytes_decode_or_raise_typed(b: bytes) -> None:
    try:
        m = P.decode(b)
    except ParseError:
        return
    assert P.decode(m.pack()) == m


@given(messages(), st.data())
def test_mutated_messages_decode_or_raise_typed(m: P.SadbMsg, data: st.DataObject) -> None:
    b = bytearray(m.pack())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(b) - 1))
        b[i] = data.draw(u8)
    cut = data.draw(st.integers(0, len(b)))
    for buf in (bytes(b), bytes(b[:cut])):
        try:
            P.decode(buf)
        except ParseError as e:
            assert e.layer == "pfkey"


def test_strict_errors() -> None:
    good = kame_add().pack()
    with pytest.raises(P.PfkeyError, match="version"):
        P.decode(b"\x01" + good[1:])
    with pytest.raises(ParseError, match="sadb_msg_len"):
        P.decode(good + bytes(8))
    with pytest.raises(ParseError):
        P.decode(good[:-8])
    dup = bytearray(good + P.SadbSa(1).pack())
    dup[4:6] = struct.pack("=H", len(dup) // 8)
    with pytest.raises(P.PfkeyError, match="duplicated"):
        P.decode(bytes(dup))
    zero = bytearray(good + bytes(8))
    zero[4:6] = struct.pack("=H", len(zero) // 8)
    with pytest.raises(P.PfkeyError, match="zero-length"):
        P.decode(bytes(zero))
    # a key whose bit count claims more than the extension holds
    k = bytearray(P.SadbKey(8, b"abc").pack())
    k[4:6] = struct.pack("=H", 128)
    m = bytearray(P.SadbMsg(P.SADB_ADD, 3).pack() + bytes(k))
    m[4:6] = struct.pack("=H", len(m) // 8)
    with pytest.raises(P.PfkeyError, match="sadb_key_bits"):
        P.decode(bytes(m))


def test_decode_stream_is_bounded() -> None:
    one = P.SadbMsg(P.SADB_FLUSH).pack()
    assert len(P.decode_stream(one * 5)) == 5
    with pytest.raises(P.PfkeyError, match="more than"):
        P.decode_stream(one * 5, limit=4)
