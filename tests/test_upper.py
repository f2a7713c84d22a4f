"""ICMPv6 / ND / MLD / IPv4 / UDP / TCP classes: hypothesis round trips
(build -> bytes -> parse -> equal and byte-identical re-emit), robustness
(random bytes only ever raise kame.ParseError), and KAME's ND option rules
(seed §1.2: 10 options, zero length rejects, first of a type wins).

Checksums are checked against a naive Python RFC 1071 sum (the oracle)."""

from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kame
from kame import errors

SRC = "fe80::1"
DST = "ff02::1"

u8 = st.integers(0, 255)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
a6 = st.builds(ipaddress.IPv6Address, st.integers(0, 2**128 - 1))
a4 = st.builds(ipaddress.IPv4Address, st.integers(0, 2**32 - 1))
mac = st.binary(min_size=6, max_size=6)


def pad6(n: int) -> st.SearchStrategy[bytes]:
    # option data of (8k - 2) octets, so the option is emitted without padding
    return st.integers(0, n).flatmap(lambda k: st.binary(min_size=8 * k + 6, max_size=8 * k + 6))


def masked(a: ipaddress.IPv6Address, plen: int) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Network(f"{a}/{plen}", strict=False).network_address


nd_opts = st.one_of(
    st.builds(kame.NdOptSourceLinkAddr, pad6(2)),
    st.builds(kame.NdOptTargetLinkAddr, pad6(2)),
    st.builds(
        kame.NdOptPrefixInfo,
        prefix=a6,
        prefix_len=st.integers(0, 128),
        valid_lifetime=u32,
        preferred_lifetime=u32,
        flags=u8,
    ),
    st.builds(kame.NdOptRedirectedHeader, st.integers(0, 4).flatmap(lambda k: st.binary(min_size=8 * k, max_size=8 * k))),
    st.builds(kame.NdOptMtu, u32),
    st.builds(kame.NdOptNonce, pad6(2)),
    st.builds(
        lambda p, n, pr, lt: kame.NdOptRouteInfo(masked(p, n), n, pr, lt),
        a6,
        st.integers(0, 128),
        st.integers(0, 3),
        u32,
    ),
    st.builds(kame.NdOptRdnss, st.lists(a6, min_size=1, max_size=4), u32),
    st.builds(kame.NdOptUnknown, st.sampled_from([6, 7, 26, 31, 200, 253]), pad6(2)),
)
opt_lists = st.lists(nd_opts, max_size=10)

messages = st.one_of(
    st.builds(kame.Icmpv6Echo, type=st.sampled_from([128, 129]), ident=u16, seq=u16, data=st.binary(max_size=64)),
    st.builds(kame.Icmpv6Error, type=st.integers(1, 4), code=u8, param=u32, invoking=st.binary(max_size=80)),
    st.builds(
        kame.Icmpv6Unknown,
        type=u8.filter(lambda t: t not in (1, 2, 3, 4, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 143)),
        code=u8,
        body=st.binary(max_size=40),
    ),
    st.builds(kame.RouterSolicitation, options=opt_lists),
    st.builds(
        kame.RouterAdvertisement,
        cur_hop_limit=u8,
        flags=u8,
        router_lifetime=u16,
        reachable_time=u32,
        retrans_timer=u32,
        options=opt_lists,
    ),
    st.builds(kame.NeighborSolicitation, target=a6, options=opt_lists),
    st.builds(kame.NeighborAdvertisement, target=a6, flags=st.sampled_from([0, 0x20, 0x40, 0x80, 0xE0]), options=opt_lists),
    st.builds(kame.Redirect, target=a6, destination=a6, options=opt_lists),
    st.builds(kame.MldQuery, max_resp=u16, mcast_addr=a6),
    st.builds(
        kame.MldQuery,
        max_resp=u16,
        mcast_addr=a6,
        v2=st.just(True),
        suppress=st.booleans(),
        qrv=st.integers(0, 7),
        qqic=u8,
        sources=st.lists(a6, max_size=3),
    ),
    st.builds(kame.MldReport, a6),
    st.builds(kame.MldDone, a6),
    st.builds(
        kame.Mldv2Report,
        st.lists(
            st.builds(
                kame.MldAddressRecord,
                record_type=st.integers(1, 6),
                mcast_addr=a6,
                sources=st.lists(a6, max_size=3),
                aux_data=st.integers(0, 3).flatmap(lambda k: st.binary(min_size=4 * k, max_size=4 * k)),
            ),
            max_size=4,
        ),
    ),
)


def ref_cksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def pseudo6(src: str, dst: str, nh: int, n: int) -> bytes:
    return ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed + struct.pack("!I3xB", n, nh)


@given(messages)
def test_message_round_trip(m):
    b = m.to_bytes(SRC, DST)
    assert ref_cksum(pseudo6(SRC, DST, 58, len(b)) + b) == 0
    back = kame.parse_icmpv6(b, SRC, DST, maxndopt=0)
    assert type(back) is type(m)
    assert back == m
    assert back.to_bytes(SRC, DST) == b
    assert type(m).from_bytes(b, SRC, DST, maxndopt=0) == m
    assert repr(back).startswith(type(m).__name__ + "(")
    # no pseudo-header: checksum left 0, parse without verification
    z = m.to_bytes()
    assert z[2:4] == b"\0\0" and z[4:] == b[4:]
    assert kame.parse_icmpv6(z, maxndopt=0) == m


@given(nd_opts)
def test_nd_option_round_trip(o):
    b = o.to_bytes()
    assert len(b) % 8 == 0 and b[1] * 8 == len(b)
    back = type(o).from_bytes(b)
    assert back == o and back.to_bytes() == b


@given(st.binary(max_size=200), st.integers(0, 20))
def test_random_bytes_only_parse_errors(b, cap):
    try:
        kame.parse_icmpv6(b, maxndopt=cap)
    except errors.ParseError:
        pass
    try:
        kame.parse_icmpv6(b, SRC, DST)
    except errors.ParseError:
        pass
    try:
        kame.parse_nd_options(b, cap)
    except errors.ParseError:
        pass


@given(st.sampled_from([133, 134, 135, 136, 137, 130, 143, 1, 2, 128]), st.binary(max_size=120))
def test_random_bodies_of_known_types(t, body):
    try:
        kame.parse_icmpv6(bytes([t, 0, 0, 0]) + body)
    except errors.ParseError:
        pass


def test_twenty_prefixes_first_ten():
    pis = [kame.NdOptPrefixInfo(f"2001:db8:{i + 1:x}::", 64) for i in range(20)]
    ra = kame.RouterAdvertisement(options=pis)
    b = ra.to_bytes(SRC, DST)
    got = kame.parse_icmpv6(b, SRC, DST)
    assert [str(p.prefix) for p in got.prefixes] == [f"2001:db8:{i + 1:x}::" for i in range(10)]
    assert len(got.options) == 10
    # options past the cap are counted, not an error (KAME icp6s_nd_toomanyopt)
    assert got.nd_toomanyopt == 10
    # the knob is per call; 0 = no limit
    assert len(kame.parse_icmpv6(b, maxndopt=0).prefixes) == 20
    assert len(kame.parse_icmpv6(b, maxndopt=15).prefixes) == 15
    assert kame.parse_icmpv6(b, maxndopt=15).nd_toomanyopt == 5


def test_zero_length_option_rejects():
    rs = kame.RouterSolicitation(options=[kame.NdOptSourceLinkAddr(b"\x00\x11\x22\x33\x44\x55")]).to_bytes()
    bad = rs + bytes([1, 0, 0, 0, 0, 0, 0, 0])
    with pytest.raises(errors.MalformedError) as e:
        kame.parse_icmpv6(bad)
    assert e.value.offset == len(rs) + 1
    assert "4861" in str(e.value)
    # an option running past the end is refused too
    with pytest.raises(errors.TruncatedError):
        kame.parse_icmpv6(rs + bytes([1, 2, 0, 0, 0, 0, 0, 0]))


def test_duplicate_slla_keeps_first():
    first, second = b"\x00\x11\x22\x33\x44\x55", b"\xaa\xbb\xcc\xdd\xee\xff"
    ns = kame.NeighborSolicitation(
        "fe80::2", options=[kame.NdOptSourceLinkAddr(first), kame.NdOptSourceLinkAddr(second)]
    )
    got = kame.parse_icmpv6(ns.to_bytes(SRC, DST), SRC, DST)
    assert got.source_lladdr == first
    assert got.nd_dupopt == 1
    assert len(got.options) == 2  # lossless, the duplicate is kept but ignored


def test_bad_length_prefix_ignored():
    opts, counters = kame.parse_nd_options(bytes.fromhex("0301400000000000") + kame.NdOptMtu(1280).to_bytes())
    assert counters["badopt"] == 1
    assert isinstance(opts[0], kame.NdOptUnknown) and isinstance(opts[1], kame.NdOptMtu)


def test_bad_checksum():
    b = bytearray(kame.Icmpv6Echo(ident=1, seq=2, data=b"x").to_bytes(SRC, DST))
    b[2] ^= 0xFF
    with pytest.raises(errors.MalformedError):
        kame.parse_icmpv6(b, SRC, DST)
    kame.parse_icmpv6(b)  # without the pseudo-header nothing is verified


def test_nd_validation():
    ns = kame.NeighborSolicitation("2001:db8::2")
    ns.validate(255, "::", "ff02::1:ff00:2")  # DAD
    with pytest.raises(errors.MalformedError, match="solicited-node"):
        ns.validate(255, "::", "ff02::1")
    with pytest.raises(errors.MalformedError, match="Hop Limit"):
        ns.validate(64, "fe80::1", "ff02::1:ff00:2")
    dad_slla = kame.NeighborSolicitation("2001:db8::2", options=[kame.NdOptSourceLinkAddr()])
    with pytest.raises(errors.MalformedError, match="7.1.1"):
        dad_slla.validate(255, "::", "ff02::1:ff00:2")
    with pytest.raises(errors.MalformedError, match="multicast"):
        kame.NeighborSolicitation("ff02::1").validate(255, "fe80::1", "ff02::1:ff00:1")
    na = kame.NeighborAdvertisement("fe80::2", solicited=True)
    with pytest.raises(errors.MalformedError, match="Solicited"):
        na.validate(255, "fe80::2", "ff02::1")
    with pytest.raises(errors.MalformedError, match="link-local"):
        kame.RouterAdvertisement().validate(255, "2001:db8::1", "ff02::1")
    kame.RouterAdvertisement().validate(255, "fe80::1", "ff02::1")
    with pytest.raises(errors.MalformedError):
        kame.RouterSolicitation(options=[kame.NdOptSourceLinkAddr()]).validate(255, "::", "ff02::2")
    with pytest.raises(errors.MalformedError, match="8.1"):
        kame.Redirect("2001:db8::5", "2001:db8::6").validate(255, "fe80::1", "fe80::2")
    kame.Redirect("fe80::5", "2001:db8::6").validate(255, "fe80::1", "fe80::2")
    kame.MldReport("ff02::fb").validate(1, "fe80::1", "ff02::fb")
    with pytest.raises(errors.MalformedError):
        kame.MldReport("ff02::fb").validate(255, "fe80::1", "ff02::fb")


def test_nd_code_nonzero_rejected():
    b = bytearray(kame.RouterSolicitation().to_bytes())
    b[1] = 1
    with pytest.raises(errors.MalformedError, match="Code"):
        kame.parse_icmpv6(b)


def test_wrong_class_from_bytes():
    with pytest.raises(errors.ParseError):
        kame.RouterAdvertisement.from_bytes(kame.Icmpv6Echo().to_bytes())


def test_attribute_setters_and_flags():
    ra = kame.RouterAdvertisement(managed=True, other=True, preference=3)
    assert ra.flags == 0x80 | 0x40 | 0x18
    ra.managed = False
    ra.preference = 1
    assert ra.flags == 0x40 | 0x08 and not ra.managed and ra.other and ra.preference == 1
    na = kame.NeighborAdvertisement(router=True, override=True)
    assert na.router and na.override and not na.solicited
    pi = kame.NdOptPrefixInfo("2001:db8::", on_link=False)
    assert not pi.on_link and pi.autonomous
    err = kame.Icmpv6Error(type=2, mtu=1280)
    assert err.mtu == 1280 and err.param == 1280
    ns = kame.NeighborSolicitation(b"\xfe\x80" + b"\0" * 13 + b"\x01")
    assert str(ns.target) == "fe80::1"
    ns.target = ipaddress.IPv6Address("fe80::2")
    assert str(ns.target) == "fe80::2"


# ---------------------------------------------------------------- IPv4 / UDP / TCP

tcp_opts = st.lists(
    st.one_of(
        st.tuples(st.just("mss"), u16),
        st.tuples(st.just("wscale"), u8),
        st.tuples(st.just("sack_permitted"), st.none()),
        st.tuples(st.just("timestamps"), st.tuples(u32, u32)),
        st.tuples(st.just("nop"), st.none()),
        st.tuples(st.just("sack"), st.lists(st.tuples(u32, u32), min_size=1, max_size=2)),
        st.tuples(st.sampled_from([6, 30, 254]), st.binary(max_size=4)),
    ),
    max_size=3,
)


@given(u16, u16, st.binary(max_size=300), st.sampled_from([("2001:db8::1", "2001:db8::2"), ("10.0.0.1", "10.0.0.2")]))
def test_udp_round_trip(sp, dp, payload, addrs):
    u = kame.UdpHeader(sp, dp, payload)
    b = u.to_bytes(*addrs)
    assert struct.unpack("!HHH", b[:6]) == (sp, dp, 8 + len(payload))
    back = kame.UdpHeader.from_bytes(b, *addrs)
    assert back == kame.UdpHeader(sp, dp, payload, checksum=back.checksum)
    assert back.payload == payload
    assert back.to_bytes(*addrs) == b
    s, d = (ipaddress.ip_address(a).packed for a in addrs)
    ph = s + d + (struct.pack("!I3xB", len(b), 17) if len(s) == 16 else struct.pack("!xBH", 17, len(b)))
    c = ref_cksum(ph + b[:6] + b"\0\0" + b[8:])
    assert back.checksum == (c or 0xFFFF)


def test_udp_zero_checksum_over_ipv6():
    b = kame.UdpHeader(1, 2, b"x").to_bytes()
    assert b[6:8] == b"\0\0"
    kame.UdpHeader.from_bytes(b, "10.0.0.1", "10.0.0.2")  # "no checksum" is fine over IPv4
    with pytest.raises(errors.MalformedError, match="8200"):
        kame.UdpHeader.from_bytes(b, "::1", "::2")


def test_udp_jumbogram():
    payload = bytes(range(256)) * 280  # 71680 octets
    b = kame.UdpHeader(5, 6, payload).to_bytes("2001:db8::1", "2001:db8::2")
    assert b[4:6] == b"\0\0"  # RFC 2675 §4
    ph = pseudo6("2001:db8::1", "2001:db8::2", 17, len(b))
    assert ref_cksum(ph + b) == 0
    back = kame.UdpHeader.from_bytes(b, "2001:db8::1", "2001:db8::2")
    assert back.payload == payload and back.length == 0
    with pytest.raises(errors.LimitError):
        kame.UdpHeader(5, 6, payload).to_bytes("10.0.0.1", "10.0.0.2")


@given(u16, u16, u32, u32, st.integers(0, 0xFFF), u16, u16, tcp_opts, st.binary(max_size=100))
def test_tcp_round_trip(sp, dp, seq, ack, flags, win, urg, opts, payload):
    t = kame.TcpHeader(sp, dp, seq, ack, flags, win, urg, opts, payload)
    if t.header_len > 60:
        with pytest.raises(errors.LimitError):  # at most 40 octets of options (RFC 9293 §3.1)
            t.to_bytes("2001:db8::1", "2001:db8::2")
        return
    b = t.to_bytes("2001:db8::1", "2001:db8::2")
    assert ref_cksum(pseudo6("2001:db8::1", "2001:db8::2", 6, len(b)) + b) == 0
    assert b[12] >> 4 == t.header_len // 4
    back = kame.TcpHeader.from_bytes(b, "2001:db8::1", "2001:db8::2")
    assert [tuple(o) if not isinstance(o[1], list) else o for o in back.options][: len(opts)] == [
        (n, [tuple(x) for x in v]) if n == "sack" else (n, tuple(v) if isinstance(v, tuple) else v) for n, v in opts
    ]
    assert back.payload == payload and back.to_bytes("2001:db8::1", "2001:db8::2") == b


def test_tcp_jumbo_helpers():
    assert kame.tcp_jumbo_mss(100_000) == 65535
    assert kame.tcp_effective_mss(65535, 100_000) == 99_940
    seg = kame.TcpHeader(1, 2, payload=b"\x5a" * 70_000)
    b = seg.to_bytes("::1", "::1")
    assert ref_cksum(pseudo6("::1", "::1", 6, len(b)) + b) == 0
    assert kame.TcpHeader.from_bytes(b, "::1", "::1").payload == seg.payload


def test_tcp_bad_offset():
    b = bytearray(kame.TcpHeader(1, 2).to_bytes())
    b[12] = 0x40
    with pytest.raises(errors.MalformedError, match="Data Offset"):
        kame.TcpHeader.from_bytes(b)
    with pytest.raises(errors.TruncatedError):
        kame.TcpHeader.from_bytes(b[:19])


@given(a4, a4, u8, u8, u8, u16, st.integers(0, 7), st.integers(0, 0x1FFF), st.integers(0, 10), st.binary(max_size=50))
def test_ipv4_round_trip(src, dst, proto, ttl, tos, ident, flags, fo, nopt, payload):
    opts = bytes([1]) * (4 * nopt)
    h = kame.Ipv4Header(src, dst, proto, 20 + len(opts) + len(payload), ttl, tos, ident, flags, fo, opts)
    b = h.to_bytes()
    assert ref_cksum(b) == 0 and len(b) == h.header_len
    back = kame.Ipv4Header.from_bytes(b + payload)
    assert back == h and back.src == src and back.options == opts


def test_ipv4_checks():
    good = kame.Ipv4Header("10.0.0.1", "10.0.0.2", 17, 28).to_bytes() + b"\0" * 8
    bad = bytearray(good)
    bad[10] ^= 1
    with pytest.raises(errors.MalformedError, match="checksum"):
        kame.Ipv4Header.from_bytes(bad)
    kame.Ipv4Header.from_bytes(bad, verify=False)
    with pytest.raises(errors.TruncatedError):
        kame.Ipv4Header.from_bytes(good[:27])
    with pytest.raises(errors.MalformedError, match="IHL"):
        kame.Ipv4Header.from_bytes(b"\x44" + good[1:])


def test_no_error_for_errors_or_redirects():
    assert not kame.icmp6_may_elicit_error(1)
    assert not kame.icmp6_may_elicit_error(137)  # seed §1.9
    assert kame.icmp6_may_elicit_error(128)
