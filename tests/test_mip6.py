"""Mobile IPv6 correspondent node (seed §6.1, RFC 6275 §9; kame.mip6).

scapy is the mobile node: it sends Home and Care-of Test Inits, takes the
keygen tokens from the answers, computes Kbm and the Binding Update's
authenticator itself with hashlib/hmac (RFC 6275 §5.2.5, §6.2.7), and
checks ours on the Binding Acknowledgement the same way. The Linux kernel
here has no Mobile IPv6 (CONFIG_IPV6_MIP6 unset), so scapy and tshark are
the independent peers; tshark dissects every Mobility Header we send."""

from __future__ import annotations

import hashlib
import hmac
import shutil
import subprocess
from ipaddress import IPv6Address
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kame import _core
from kame.errors import MalformedError, TruncatedError
from kame.knobs import Knobs
from kame.mip6 import seq_greater
from kame.nd6 import codec
from kame.node import Node

scapy = pytest.importorskip("scapy.layers.inet6")
from scapy.layers.inet6 import (
    HAO,
    MIP6MH_BA,
    MIP6MH_BE,
    MIP6MH_BU,
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ParamProblem,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrRouting,
    MIP6MH_CoT,
    MIP6MH_CoTI,
    MIP6MH_Generic,
    MIP6MH_HoT,
    MIP6MH_HoTI,
    MIP6OptBindingAuthData,
    MIP6OptNonceIndices,
    in6_chksum,
)
from scapy.packet import Raw

CN = IPv6Address("2001:db8:f7::2")
HOA = IPv6Address("2001:db8:aa::10")  # the mobile node's home address (off-link)
COA = IPv6Address("2001:db8:f7::99")  # its care-of address, on our link
MAC_NODE, MAC_PEER = bytes.fromhex("02000000f702"), bytes.fromhex("02000000f701")

SENT: list[bytes] = []  # every packet the node sent, for tshark


def make_node(**knobs: int) -> Node:
    k = {"net.inet6.ip6.dad_count": 0, "net.inet6.icmp6.errppslimit": -1, **knobs}
    n = Node("cn", knobs=Knobs(k), seed=6)
    n.add_interface("eth0", MAC_NODE)
    n.up("eth0", 0.0)
    n.add_address("eth0", f"{CN}/64", 0.0)
    for a in (HOA, COA):
        n.cache.set_permanent("eth0", a, MAC_PEER)
    return n


def rx(node: Node, pkt: object, now: float = 1.0) -> list[bytes]:
    """The IPv6 packets the node sends for the IPv6 packet ``pkt``."""
    out = []
    for _ifn, f in node.receive("eth0", codec.ether(MAC_NODE, MAC_PEER, bytes(pkt)), now):
        p = f[14:]
        if f[12:14] != b"\x86\xdd" or p[6] == 0 or (p[6] == 58 and p[40] in range(130, 144)):
            continue  # ND and MLD
        out.append(p)
    SENT.extend(out)
    return out


def return_routability(node: Node, now: float = 1.0, cookie_h: bytes = b"homecook", cookie_c: bytes = b"careof!!"
              ) -> tuple[int, bytes, int, bytes]:
    """HoTI from the home address, CoTI from the care-of address: the
    (home nonce index, home token, care-of nonce index, care-of token)."""
    (h,) = rx(node, IPv6(src=str(HOA), dst=str(CN)) / MIP6MH_HoTI(cookie=cookie_h), now)
    (c,) = rx(node, IPv6(src=str(COA), dst=str(CN)) / MIP6MH_CoTI(cookie=cookie_c), now)
    hot, cot = IPv6(h), IPv6(c)
    assert hot.dst == str(HOA) and hot.src == str(CN) and MIP6MH_HoT in hot
    assert cot.dst == str(COA) and MIP6MH_CoT in cot
    assert hot[MIP6MH_HoT].cookie == cookie_h and cot[MIP6MH_CoT].cookie == cookie_c
    return (hot[MIP6MH_HoT].index, bytes(hot[MIP6MH_HoT].token),
            cot[MIP6MH_CoT].index, bytes(cot[MIP6MH_CoT].token))


def mh_auth_range(mh: bytes) -> tuple[int, int]:
    """The Authenticator of the last Binding Authorization Data option of
    ``mh``, walked by hand (RFC 6275 §6.2.1)."""
    fixed = {0: 8, 1: 16, 2: 16, 3: 24, 4: 24, 5: 12, 6: 12, 7: 24}[mh[2]]
    at, found = fixed, None
    while at < len(mh):
        if mh[at] == 0:
            at += 1
            continue
        if mh[at] == 5:
            found = (at + 2, at + 2 + mh[at + 1])
        at += 2 + mh[at + 1]
    assert found is not None
    return found


def authenticator(kbm: bytes, coa: IPv6Address, cn: IPv6Address, mh: bytes) -> bytes:
    """First(96, HMAC_SHA1(Kbm, care-of | correspondent | MH data)), MH data
    with the checksum zero and without the Authenticator (§6.2.7)."""
    a, b = mh_auth_range(mh)
    data = mh[:4] + b"\0\0" + mh[6:a] + mh[b:]
    return hmac.new(kbm, coa.packed + cn.packed + data, hashlib.sha1).digest()[:12]


def bu(seq: int, hni: int, coni: int, kbm: bytes | None, *, lifetime: int = 100,
       flags: str = "A", coa: IPv6Address = COA, hoa: IPv6Address = HOA,
       forge: bool = False) -> IPv6:
    """A Binding Update from ``coa`` with a Home Address option, signed the
    way RFC 6275 §5.2.6 says (``forge``: one bit of the authenticator off)."""
    def build(auth: int) -> IPv6:
        ext = IPv6ExtHdrDestOpt(options=[HAO(hoa=str(hoa))]) if coa != hoa else None
        m = MIP6MH_BU(seq=seq, flags=flags, mhtime=lifetime,
                      options=[MIP6OptNonceIndices(olen=4, hni=hni, coni=coni),
                               MIP6OptBindingAuthData(olen=12, authenticator=auth)])
        return IPv6(src=str(coa), dst=str(CN)) / ext / m if ext else IPv6(src=str(coa), dst=str(CN)) / m
    p = build(0)
    if kbm is None:
        return p
    a = authenticator(kbm, coa, CN, bytes(p[MIP6MH_BU]))
    if forge:
        a = bytes([a[0] ^ 1]) + a[1:]
    return IPv6(bytes(build(int.from_bytes(a, "big"))))


def kbm_of(htok: bytes, ctok: bytes | None) -> bytes:
    return hashlib.sha1(htok + (ctok or b"")).digest()


def ba_of(p: bytes) -> IPv6:
    pkt = IPv6(p)
    assert MIP6MH_BA in pkt, pkt.summary()
    return pkt


def bind(node: Node, seq: int = 1, now: float = 1.0, lifetime: int = 100) -> tuple[bytes, IPv6]:
    hi, ht, ci, ct = return_routability(node, now)
    kbm = kbm_of(ht, ct)
    (ba,) = rx(node, bu(seq, hi, ci, kbm, lifetime=lifetime), now)
    return kbm, ba_of(ba)


# --- Return Routability, Binding Update, route optimization ----------------------


def test_rr_then_bu_then_route_optimized_ping() -> None:
    node = make_node()
    hi, ht, ci, ct = return_routability(node)
    kbm = kbm_of(ht, ct)
    (p,) = rx(node, bu(7, hi, ci, kbm, lifetime=100))
    ba = ba_of(p)
    # to the care-of address, a type 2 routing header carrying the home address
    assert ba.dst == str(COA) and ba.src == str(CN)
    rh = ba[IPv6ExtHdrRouting]
    assert rh.type == 2 and rh.segleft == 1 and rh.addresses == [str(HOA)]
    m = ba[MIP6MH_BA]
    assert (m.status, m.seq, m.mhtime) == (0, 7, 100)
    # its authenticator, checked with hashlib/hmac from our own Kbm
    raw = bytes(m)
    a, b = mh_auth_range(raw)
    assert raw[a:b] == authenticator(kbm, COA, CN, raw)
    # scapy agrees with our checksum (pseudo destination: the home address)
    m2 = ba.copy()
    del m2[MIP6MH_BA].cksum
    assert IPv6(bytes(m2))[MIP6MH_BA].cksum == m.cksum
    b_ = node.mip6.bc.lookup(HOA)
    assert b_ is not None and b_.coa == COA and b_.seq == 7 and b_.lifetime == 400
    assert node.stats["mip6s_bcadd"] == 1
    # an echo request with the Home Address option from the care-of address
    req = IPv6(src=str(COA), dst=str(CN)) / IPv6ExtHdrDestOpt(options=[HAO(hoa=str(HOA))]) / \
        ICMPv6EchoRequest(id=9, seq=1, data=b"mip6")
    (rep,) = rx(node, req)
    r = IPv6(rep)
    assert r.dst == str(COA) and r[IPv6ExtHdrRouting].type == 2
    assert r[IPv6ExtHdrRouting].addresses == [str(HOA)]
    assert r[ICMPv6EchoReply].data == b"mip6"
    c = r.copy()
    del c[ICMPv6EchoReply].cksum
    assert IPv6(bytes(c))[ICMPv6EchoReply].cksum == r[ICMPv6EchoReply].cksum
    assert node.stats["mip6s_hao"] == 2 and node.stats["mip6s_orthdr2"] == 1
    # the node's own ping to the home address is route optimized too
    out = node.ping(str(HOA), 2.0, ident=5, seq=5, ifname="eth0")
    (f,) = [f for _i, f in out if f[14 + 6] == 43]
    q = IPv6(f[14:])
    assert q.dst == str(COA) and q[IPv6ExtHdrRouting].addresses == [str(HOA)]
    assert ICMPv6EchoRequest in q
    SENT.append(f[14:])


def test_forged_authenticator_is_dropped() -> None:
    node = make_node()
    hi, ht, ci, ct = return_routability(node)
    assert rx(node, bu(1, hi, ci, kbm_of(ht, ct), forge=True)) == []
    assert node.stats["mip6s_rrauthfail"] == 1 and len(node.mip6.bc) == 0
    # tokens swapped (Kbm of another order) fail too
    assert rx(node, bu(1, hi, ci, kbm_of(ct, ht))) == []
    assert node.stats["mip6s_rrauthfail"] == 2


@pytest.mark.parametrize(("home_ok", "coa_ok", "status"), [(False, True, 136), (True, False, 137),
                                                           (False, False, 138)])
def test_stale_nonce_indices(home_ok: bool, coa_ok: bool, status: int) -> None:
    node = make_node()
    hi, ht, ci, ct = return_routability(node, 1.0)
    # 300 s on: the first nonce is past MAX_NONCE_LIFETIME; a fresh one is made
    hi2, ht2, ci2, ct2 = return_routability(node, 300.0)
    assert hi2 != hi
    h = (hi2, ht2) if home_ok else (hi, ht)
    c = (ci2, ct2) if coa_ok else (ci, ct)
    (p,) = rx(node, bu(1, h[0], c[0], kbm_of(h[1], c[1])), 300.0)
    m = ba_of(p)[MIP6MH_BA]
    assert m.status == status and m.seq == 1
    # no Binding Authorization Data with 136-138 (§9.5.4)
    assert not any(isinstance(o, MIP6OptBindingAuthData) for o in m.options)
    assert node.stats["mip6s_nonce"] == 1 and len(node.mip6.bc) == 0
    # an index never handed out is expired as well
    (p,) = rx(node, bu(2, (hi2 + 100) & 0xFFFF, ci2, kbm_of(ht2, ct2)), 300.0)
    assert ba_of(p)[MIP6MH_BA].status == 136


def test_hao_without_binding_gets_binding_error_1() -> None:
    node = make_node()
    req = IPv6(src=str(COA), dst=str(CN)) / IPv6ExtHdrDestOpt(options=[HAO(hoa=str(HOA))]) / \
        ICMPv6EchoRequest(id=1, seq=1)
    (p,) = rx(node, req)
    be = IPv6(p)
    assert be.dst == str(COA) and IPv6ExtHdrRouting not in be
    assert be[MIP6MH_BE].status == 1 and be[MIP6MH_BE].ha == str(HOA)
    assert node.stats["mip6s_unverifiedhao"] == 1 and node.stats["mip6s_obe"] == 1
    # a binding to another care-of address does not verify it either
    bind(node)
    other = IPv6(src="2001:db8:f7::77", dst=str(CN)) / IPv6ExtHdrDestOpt(
        options=[HAO(hoa=str(HOA))]) / ICMPv6EchoRequest(id=1, seq=2)
    node.cache.set_permanent("eth0", IPv6Address("2001:db8:f7::77"), MAC_PEER)
    (p,) = rx(node, other, 2.0)
    assert IPv6(p)[MIP6MH_BE].status == 1
    # Binding Errors are rate limited (be_ppslimit 10 a second)
    stranger = IPv6(src=str(COA), dst=str(CN)) / IPv6ExtHdrDestOpt(
        options=[HAO(hoa="2001:db8:bb::1")]) / ICMPv6EchoRequest(id=1, seq=1)
    for i in range(30):
        rx(node, stranger, 3.0 + i * 1e-4)
    assert node.stats["mip6s_berate"] >= 19


def test_unknown_mh_type_gets_binding_error_2() -> None:
    node = make_node()
    (p,) = rx(node, IPv6(src=str(HOA), dst=str(CN)) / MIP6MH_Generic(mhtype=42, msg=b"\0" * 10))
    be = IPv6(p)[MIP6MH_BE]
    # no Home Address option: the Binding Error's Home Address is unspecified
    assert be.status == 2 and be.ha == "::" and IPv6(p).dst == str(HOA)
    assert node.stats["mip6s_unknowntype"] == 1
    # bound, from the care-of address with a Home Address option: the
    # error names the home address and goes to the care-of address
    bind(node)
    (p,) = rx(node, IPv6(src=str(COA), dst=str(CN)) / IPv6ExtHdrDestOpt(options=[HAO(hoa=str(HOA))])
              / MIP6MH_Generic(mhtype=42, msg=b"\0" * 10), 2.0)
    be = IPv6(p)[MIP6MH_BE]
    assert be.status == 2 and be.ha == str(HOA) and IPv6(p).dst == str(COA)
    assert node.stats["mip6s_unknowntype"] == 2


def test_sequence_window_and_deregistration() -> None:
    node = make_node()
    kbm, ba = bind(node, seq=0xFFF0)
    assert ba[MIP6MH_BA].status == 0
    hi, ht, ci, ct = return_routability(node, 2.0)
    kbm = kbm_of(ht, ct)
    # an older number: 135 with the last accepted one, signed
    (p,) = rx(node, bu(0xFFEF, hi, ci, kbm), 2.0)
    m = ba_of(p)[MIP6MH_BA]
    assert (m.status, m.seq) == (135, 0xFFF0)
    raw = bytes(m)
    a, b = mh_auth_range(raw)
    assert raw[a:b] == authenticator(kbm, COA, CN, raw)
    # a wrapped-around newer one is accepted (mod 2**16)
    (p,) = rx(node, bu(3, hi, ci, kbm), 2.0)
    assert ba_of(p)[MIP6MH_BA].status == 0 and node.mip6.bc.lookup(HOA).seq == 3  # type: ignore[union-attr]
    assert node.stats["mip6s_bcupdate"] == 1
    # deregistration: lifetime 0
    (p,) = rx(node, bu(4, hi, ci, kbm, lifetime=0), 2.0)
    assert ba_of(p)[MIP6MH_BA].status == 0 and node.mip6.bc.lookup(HOA) is None
    assert node.stats["mip6s_bcdelete"] == 1
    # returned home: from the home address, Kbm from the home token alone
    bind(node, seq=10, now=3.0)
    hi, ht, ci, ct = return_routability(node, 3.0)
    (p,) = rx(node, bu(11, hi, 0xBEEF, kbm_of(ht, None), coa=HOA, lifetime=0), 3.0)
    ba = ba_of(p)
    assert ba[MIP6MH_BA].status == 0 and ba.dst == str(HOA) and IPv6ExtHdrRouting not in ba
    assert node.mip6.bc.lookup(HOA) is None


def test_lifetime_expires_in_poll_and_is_capped() -> None:
    node = make_node()
    _kbm, ba = bind(node, lifetime=1000)  # 4000 s asked, 420 granted
    assert ba[MIP6MH_BA].mhtime == 105
    assert node.next_deadline() is not None and node.next_deadline() <= 421.0  # type: ignore[operator]
    node.poll(420.5)
    assert node.mip6.bc.lookup(HOA) is not None
    node.poll(421.0)
    assert node.mip6.bc.lookup(HOA) is None and node.stats["mip6s_bcexpire"] == 1


def test_binding_cache_bounded() -> None:
    node = make_node(**{"net.inet6.mip6.bc_max": 2})
    _hi, _ht, ci, ct = return_routability(node)
    for k in range(3):
        hoa = IPv6Address(f"2001:db8:aa::{k + 20}")
        node.cache.set_permanent("eth0", hoa, MAC_PEER)
        (h,) = rx(node, IPv6(src=str(hoa), dst=str(CN)) / MIP6MH_HoTI(cookie=k.to_bytes(8, "big")))
        hot = IPv6(h)[MIP6MH_HoT]
        kbm = kbm_of(bytes(hot.token), ct)
        (p,) = rx(node, bu(1, hot.index, ci, kbm, hoa=hoa))
        assert ba_of(p)[MIP6MH_BA].status == (0 if k < 2 else 130)
    assert len(node.mip6.bc) == 2 and node.stats["mip6s_bcfull"] == 1


def test_home_registration_refused_and_unprotected_dropped() -> None:
    node = make_node()
    hi, ht, ci, ct = return_routability(node)
    (p,) = rx(node, bu(1, hi, ci, kbm_of(ht, ct), flags="AH"))
    assert ba_of(p)[MIP6MH_BA].status == 131
    unsigned = IPv6(src=str(COA), dst=str(CN)) / IPv6ExtHdrDestOpt(options=[HAO(hoa=str(HOA))]) / \
        MIP6MH_BU(seq=1, flags="A", mhtime=10)
    assert rx(node, unsigned) == []
    assert node.stats["mip6s_unprotected"] == 1 and len(node.mip6.bc) == 0


def test_test_init_with_hao_dropped() -> None:
    node = make_node()
    bind(node)
    p = IPv6(src=str(COA), dst=str(CN)) / IPv6ExtHdrDestOpt(options=[HAO(hoa=str(HOA))]) / \
        MIP6MH_HoTI(cookie=b"1" * 8)
    assert rx(node, p) == []
    assert node.stats["mip6s_rrhao"] == 1


def test_malformed_mobility_headers() -> None:
    node = make_node()
    good = bytes(IPv6(src=str(HOA), dst=str(CN)) / MIP6MH_HoTI(cookie=b"5" * 8))
    # Payload Proto 6: Parameter Problem code 0 at the field
    bad = IPv6(src=str(HOA), dst=str(CN)) / MIP6MH_HoTI(nh=6, cookie=b"5" * 8)
    (p,) = rx(node, bad)
    pp = IPv6(p)[ICMPv6ParamProblem]
    assert (pp.code, pp.ptr) == (0, 40)
    # Header Len shorter than a HoTI (8 octets where 16 are due): pointer at it
    short = IPv6(src=str(HOA), dst=str(CN), nh=135) / Raw(bytes([59, 0, 1, 0, 0, 0, 0, 0]))
    s = bytearray(bytes(short))
    c = in6_chksum(135, IPv6(bytes(s)), bytes(s[40:]))  # over the 8 octets
    s[44:46] = c.to_bytes(2, "big")
    (p,) = rx(node, bytes(s))
    pp = IPv6(p)[ICMPv6ParamProblem]
    assert (pp.code, pp.ptr) == (0, 41)
    # a bad checksum: silently dropped
    b = bytearray(good)
    b[-1] ^= 1
    assert rx(node, bytes(b)) == []
    # a Header Len past the packet: dropped, counted
    b = bytearray(good)
    b[41] = 5
    assert rx(node, bytes(b)) == []
    assert [node.stats[k] for k in ("mip6s_payloadproto", "mip6s_badlen", "mip6s_checksum",
                                    "mip6s_tooshort")] == [1, 1, 1, 1]


def test_knob_off_is_a_node_without_mip6() -> None:
    node = make_node(**{"net.inet6.mip6.correspondent": 0})
    (p,) = rx(node, IPv6(src=str(HOA), dst=str(CN)) / MIP6MH_HoTI(cookie=b"5" * 8))
    pp = IPv6(p)[ICMPv6ParamProblem]
    assert (pp.code, pp.ptr) == (1, 6)
    req = IPv6(src=str(COA), dst=str(CN)) / IPv6ExtHdrDestOpt(options=[HAO(hoa=str(HOA))]) / \
        ICMPv6EchoRequest(id=1, seq=1)
    (p,) = rx(node, req)
    pp = IPv6(p)[ICMPv6ParamProblem]
    assert (pp.code, pp.ptr, IPv6(p).dst) == (2, 46, str(COA))  # HAO (after PadN4): unknown
    assert node.stats["mip6s_hao"] == 0 and node.stats["ip6s_badoptions"] == 1


def test_hoti_flood_keeps_no_state() -> None:
    """RR is stateless at the correspondent (§5.2.8): 5000 HoTIs and CoTIs
    from as many addresses over 1000 s are each answered and leave at most
    240/30 + 1 nonces and no binding (the answers go through a router)."""
    node = make_node()
    router = IPv6Address("2001:db8:f7::1")
    node.cache.set_permanent("eth0", router, MAC_PEER)
    node.route_add("::/0", router, "eth0")
    for k in range(5000):
        src = str(IPv6Address(int(HOA) + 0x10000 + k))
        init = MIP6MH_HoTI if k % 2 else MIP6MH_CoTI
        out = rx(node, IPv6(src=src, dst=str(CN)) / init(cookie=k.to_bytes(8, "big")),
                 1.0 + k * 0.2)
        assert len(out) == 1 and IPv6(out[0]).dst == src
        assert len(node.mip6.nonces) <= 9
    assert node.stats["mip6s_ohot"] + node.stats["mip6s_ocot"] == 5000
    assert len(node.mip6.bc) == 0 and len(node.mip6.nonces) <= 9
    SENT.clear()


# --- the core: parse, build, properties ----------------------------------------------

_addr = st.binary(min_size=16, max_size=16).map(lambda b: IPv6Address(b))


@settings(max_examples=300, deadline=None)
@given(t=st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 200]), seq=st.integers(0, 0xFFFF),
       life=st.integers(0, 0xFFFF), status=st.integers(0, 255), cookie=st.binary(min_size=8, max_size=8),
       ni=st.none() | st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)),
       alt=st.none() | _addr, ra=st.none() | st.integers(0, 0xFFFF),
       kbm=st.none() | st.binary(min_size=20, max_size=20), src=_addr, dst=_addr)
def test_build_parse_round_trip_and_scapy_agrees(t: int, seq: int, life: int, status: int,
                                                  cookie: bytes, ni: tuple[int, int] | None,
                                                  alt: IPv6Address | None, ra: int | None,
                                                  kbm: bytes | None, src: IPv6Address,
                                                  dst: IPv6Address) -> None:
    b = _core.mh_build(t, src=src, dst=dst, seq=seq, lifetime=life, status=status,
                       flags=0x80 if t == 6 else 0xF000, cookie=cookie, token=cookie[::-1],
                       nonce_index=seq, home_address=src, data=b"\1" * 10, nonce_indices=ni,
                       alt_coa=alt, refresh_advice=ra,
                       auth=(kbm, src, dst) if kbm and t != 200 else None)
    assert len(b) % 8 == 0
    m = _core.mh_parse(b, src, dst)
    assert m.mh_type == t and m.length == len(b)
    if t != 200:
        assert m.nonce_indices == ni and m.alt_coa == alt and m.refresh_advice == ra
        if kbm and t != 200:
            assert m.auth_last and _core.mh_verify_auth(b, kbm, src, dst)
            assert m.auth_data == authenticator(kbm, src, dst, b)
    # scapy reads the same fields and the same checksum
    pkt = IPv6(bytes(IPv6(src=str(src), dst=str(dst), nh=135) / Raw(b)))
    layer = {0: "MIP6MH_BRR", 1: MIP6MH_HoTI, 2: MIP6MH_CoTI, 3: MIP6MH_HoT, 4: MIP6MH_CoT,
             5: MIP6MH_BU, 6: MIP6MH_BA, 7: MIP6MH_BE, 200: MIP6MH_Generic}[t]
    if isinstance(layer, str):
        return
    s = pkt[layer]
    assert s.cksum == m.checksum
    if t in (5, 6):
        assert s.seq == seq and s.mhtime == life
    if t in (1, 2, 3, 4):
        assert bytes(s.cookie) == cookie
    if t == 7:
        assert s.ha == str(src) and s.status == status


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=96))
def test_parse_random_bytes_typed_errors(data: bytes) -> None:
    try:
        m = _core.mh_parse(data)
    except (TruncatedError, MalformedError) as e:
        assert e.layer == "mobility"
        return
    assert m.length <= len(data) and m.length % 8 == 0


@settings(max_examples=300, deadline=None)
@given(i=st.integers(0, 31), v=st.integers(0, 255))
def test_one_octet_changed_in_a_signed_bu(i: int, v: int) -> None:
    """Any octet of a signed Binding Update changed: a typed error, or a
    message whose authenticator fails unless the octet is the checksum's
    (not covered, §6.2.7) or unchanged."""
    orig = _core.mh_build(5, seq=1, nonce_indices=(1, 2), auth=(b"k" * 20, CN, HOA))
    b = bytearray(orig)
    b[i] = v
    try:
        m = _core.mh_parse(bytes(b))
    except (TruncatedError, MalformedError):
        return
    assert m.length == 32
    ok = _core.mh_verify_auth(bytes(b), b"k" * 20, CN, HOA)
    assert ok == (i in (4, 5) or v == orig[i])


def test_keygen_token_and_kbm_independent() -> None:
    kcn, nonce = b"K" * 20, b"N" * 8
    want = hmac.new(kcn, HOA.packed + nonce + b"\0", hashlib.sha1).digest()[:8]
    assert _core.mip6_keygen_token(kcn, HOA, nonce, 0) == want
    want = hmac.new(kcn, COA.packed + nonce + b"\1", hashlib.sha1).digest()[:8]
    assert _core.mip6_keygen_token(kcn, COA, nonce, 1) == want
    assert _core.mip6_kbm(b"a" * 8, b"b" * 8) == hashlib.sha1(b"a" * 8 + b"b" * 8).digest()
    assert _core.mip6_kbm(b"a" * 8) == hashlib.sha1(b"a" * 8).digest()


def test_seq_greater() -> None:
    assert seq_greater(1, 0) and seq_greater(0, 0xFFFF) and not seq_greater(5, 5)
    assert not seq_greater(0, 1) and seq_greater(0x7FFF, 0) and not seq_greater(0x8000, 0)


# --- tshark -------------------------------------------------------------------------------


def _every_message() -> list[bytes]:
    """A node sends each kind of message once: HoT, CoT, BA 0 / 135 (signed),
    136 and 131 (unsigned), BE 1 and 2, and a route optimized echo reply."""
    SENT.clear()
    node = make_node()
    hi, ht, ci, ct = return_routability(node)
    kbm = kbm_of(ht, ct)
    rx(node, bu(5, hi, ci, kbm))  # BA 0
    rx(node, bu(4, hi, ci, kbm))  # BA 135
    rx(node, bu(6, (hi + 9) & 0xFFFF, ci, kbm))  # BA 136
    rx(node, bu(7, hi, ci, kbm, flags="AH"))  # BA 131
    rx(node, IPv6(src=str(COA), dst=str(CN)) / IPv6ExtHdrDestOpt(options=[HAO(hoa=str(HOA))]) /
       ICMPv6EchoRequest(id=1, seq=1))  # echo reply with a type 2 routing header
    rx(node, IPv6(src=str(COA), dst=str(CN)) / IPv6ExtHdrDestOpt(
        options=[HAO(hoa="2001:db8:bb::1")]) / ICMPv6EchoRequest(id=1, seq=2))  # BE 1
    rx(node, IPv6(src=str(HOA), dst=str(CN)) / MIP6MH_Generic(mhtype=42, msg=b"\0" * 10))  # BE 2
    return list(SENT)


def test_every_checksum_scapy_recomputes() -> None:
    """scapy recomputes the checksum of each packet we send (its pseudo-
    header takes the final destination from the type 2 routing header)."""
    pkts = _every_message()
    assert len(pkts) == 9
    for p in pkts:
        q = IPv6(p)
        last = q.lastlayer() if not isinstance(q.lastlayer(), Raw) else q.lastlayer().underlayer
        while last is not None and not hasattr(last, "cksum"):
            last = last.underlayer
        assert last is not None
        want = last.cksum
        del last.cksum
        assert IPv6(bytes(q)).getlayer(type(last)).cksum == want, q.summary()


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_dissects_what_we_send(tmp_path: Path) -> None:
    """tshark dissects every message of :func:`_every_message` with no
    malformed field and no expert warning (it flags lying option lengths),
    and reads the MH type and status as we wrote them."""
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    pkts = _every_message()
    path = tmp_path / "mip6.pcap"
    wrpcap(str(path), [Ether(src="02:00:00:00:f7:02", dst="02:00:00:00:f7:01") / IPv6(p)
                       for p in pkts])
    out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-E", "separator=|",
                          "-e", "mip6.mhtype", "-e", "_ws.malformed", "-e", "_ws.expert.severity",
                          "-e", "ipv6.routing.type", "-e", "mip6.ba.status", "-e", "mip6.be.status"],
                         capture_output=True, text=True, check=True, timeout=120)
    rows = [tuple(r.split("|")) for r in out.stdout.splitlines()]
    assert rows == [
        ("3", "", "", "", "", ""), ("4", "", "", "", "", ""),
        ("6", "", "", "2", "0", ""), ("6", "", "", "2", "135", ""),
        ("6", "", "", "2", "136", ""), ("6", "", "", "2", "131", ""),
        ("", "", "", "2", "", ""),
        ("7", "", "", "", "", "1"), ("7", "", "", "", "", "2"),
    ], out.stdout


def test_netstat_mip6() -> None:
    """``kame netstat -s -p mip6``: a line per counter, BSD style."""
    from kame.cli.tools import format_netstat

    node = make_node()
    bind(node)
    text = format_netstat({"mip6": {k: node.stats[k] for k in node.stats
                                    if k.startswith("mip6s_")}}, "mip6")
    assert text.startswith("mip6:\n")
    assert "\t1 binding update messages received\n" in text
    assert "\t1 binding acknowledgement messages sent\n" in text


def test_pseudo_header_addresses_go_together() -> None:
    for f in (lambda: _core.mh_parse(b"\0" * 8, src=str(HOA)),
              lambda: _core.mh_parse(b"\0" * 8, dst=str(CN)),
              lambda: _core.mh_build(1, src=str(HOA))):
        with pytest.raises(ValueError, match="src and dst go together"):
            f()
