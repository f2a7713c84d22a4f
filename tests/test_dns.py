"""DNS message codec (kame.dns): hostile encodings get typed errors with
bounded work; messages round-trip; historic forms are reported."""

from __future__ import annotations

import struct
import time
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kame import dns
from kame.errors import MalformedError, ParseError, TruncatedError


def header(qid: int = 1, flags: int = 0x8180, qd: int = 1, an: int = 0, ns: int = 0,
           ar: int = 0) -> bytes:
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


Q = dns.encode_name("www.example") + struct.pack("!HH", dns.AAAA, dns.IN)


def rr(name: bytes, rtype: int, data: bytes, ttl: int = 300) -> bytes:
    return name + struct.pack("!HHIH", rtype, dns.IN, ttl, len(data)) + data


def test_answer_with_compression() -> None:
    ans = rr(b"\xc0\x0c", dns.AAAA, IPv6Address("2001:db8::1").packed)
    m = dns.parse(header(an=1) + Q + ans)
    assert m.questions == [dns.Question("www.example", dns.AAAA)]
    assert m.answers[0].name == "www.example"
    assert m.answers[0].value == IPv6Address("2001:db8::1")


def test_pointer_loop_is_typed() -> None:
    # the answer's name points at itself
    loop = header(an=1) + Q + rr(b"\xc0\x1d", dns.A, bytes(4))
    with pytest.raises(dns.CompressionError, match="backwards"):
        dns.parse(loop)
    # two labels pointing at each other: a then b then a...
    body = header(qd=1) + b"\x01a\xc0\x10" + b"\x01b\xc0\x0c" + struct.pack("!HH", 1, 1)
    with pytest.raises(dns.CompressionError):
        dns.parse(body)


def test_pointer_out_of_range_is_typed() -> None:
    with pytest.raises(dns.CompressionError, match="past the end"):
        dns.parse(header(an=1) + Q + rr(b"\xff\xff", dns.A, bytes(4)))
    with pytest.raises(TruncatedError):
        dns.parse(header() + b"\x03www\xc0")  # a pointer cut in half


def test_truncated_everywhere() -> None:
    full = header(an=1) + Q + rr(b"\xc0\x0c", dns.AAAA, bytes(16))
    dns.parse(full)
    for cut in range(len(full)):
        with pytest.raises(TruncatedError):
            dns.parse(full[:cut])


def test_oversized_and_bad_rdata() -> None:
    with pytest.raises(MalformedError, match="65535"):
        dns.parse(header(qd=0) + bytes(65536))
    with pytest.raises(MalformedError, match="AAAA"):
        dns.parse(header(an=1) + Q + rr(b"\xc0\x0c", dns.AAAA, bytes(15)))
    with pytest.raises(MalformedError, match="fill"):
        dns.parse(header(an=1) + Q + rr(b"\xc0\x0c", dns.CNAME, b"\x01x\x00\x00"))
    with pytest.raises(MalformedError, match="reserved"):
        dns.parse(header() + b"\x80" + bytes(5))
    with pytest.raises(MalformedError, match="255"):
        dns.parse(header() + (b"\x3f" + b"a" * 63) * 5 + b"\x00")
    opt = rr(b"\x00", dns.OPT, b"")
    with pytest.raises(MalformedError, match="second OPT"):
        dns.parse(header(ar=2) + Q + opt + opt)


def test_a_long_pointer_chain_is_bounded() -> None:
    # 2000 one-label names in an unknown record's data, each pointing at the
    # one before; a second record's name points at the last: it grows past 255
    base = 12 + 1 + 10
    blob = bytearray(b"\x01a\x00")
    prev = base
    for _ in range(2000):
        here = base + len(blob)
        blob += b"\x01a" + struct.pack("!H", 0xC000 | prev)
        prev = here
    body = header(qd=0, an=2) + b"\x00" + struct.pack("!HHIH", 0xFF00, 1, 0, len(blob)) + blob
    body += struct.pack("!H", 0xC000 | prev) + struct.pack("!HHIH", 1, 1, 0, 4) + bytes(4)
    t = time.perf_counter()
    with pytest.raises(dns.CompressionError, match="too many compression pointers"):
        dns.parse(body)
    assert time.perf_counter() - t < 0.5


def test_historic_forms_are_reported() -> None:
    # binary label \[x20010db8/32] (RFC 2673) in a PTR target; A6 with a prefix name
    blab = b"\x41\x20\x20\x01\x0d\xb8" + dns.encode_name("ip6.arpa")
    a6 = bytes([64]) + IPv6Address("::1:2:3:4").packed[8:] + dns.encode_name("pfx.example")
    m = dns.parse(header(an=2) + Q + rr(b"\xc0\x0c", dns.PTR, blab) +
                  rr(b"\xc0\x0c", dns.A6_TYPE, a6))
    ptr = m.answers[0].value
    assert isinstance(ptr, dns.Name) and ptr.binary
    assert ptr == "\\[x20010db8/32].ip6.arpa"
    assert m.answers[1].value == dns.A6(64, IPv6Address("::1:2:3:4"), "pfx.example")
    with pytest.raises(MalformedError, match="prefix length"):
        dns.parse(header(an=1) + Q + rr(b"\xc0\x0c", dns.A6_TYPE, b"\x81"))


def test_query_and_edns() -> None:
    q = dns.query(0x1234, "example.org", dns.AAAA, payload=1232)
    m = dns.parse(q)
    assert m.id == 0x1234 and not m.qr and m.flags & 0x0100
    assert m.edns is not None and m.edns.payload == 1232
    assert dns.parse(dns.query(1, "x", dns.A, payload=None)).edns is None
    with pytest.raises(ValueError):
        dns.query(1, "x", dns.A, payload=100)
    with pytest.raises(ValueError):
        dns.encode_name("a" * 64)
    with pytest.raises(ValueError):
        dns.encode_name(".".join(["abcdefgh"] * 30))


def test_ptr_names() -> None:
    assert dns.ptr_name(IPv6Address("2001:db8::567:89ab")) == (
        "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa")
    assert dns.ptr_name(IPv4Address("192.0.2.1")) == "1.2.0.192.in-addr.arpa"


labels = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1,
                 max_size=20).filter(lambda s: "\\" not in s and "." not in s)
names = st.lists(labels, min_size=1, max_size=6).map(".".join)
records = st.one_of(
    st.builds(lambda n, a, t: dns.Record(n, dns.AAAA, dns.IN, t, IPv6Address(a).packed,
                                         IPv6Address(a)),
              names, st.integers(0, 2**128 - 1), st.integers(0, 2**31 - 1)),
    st.builds(lambda n, a, t: dns.Record(n, dns.A, dns.IN, t, IPv4Address(a).packed,
                                         IPv4Address(a)),
              names, st.integers(0, 2**32 - 1), st.integers(0, 2**31 - 1)),
    st.builds(lambda n, c, t: dns.Record(n, dns.CNAME, dns.IN, t, dns.encode_name(c), c),
              names, names, st.integers(0, 2**31 - 1)),
)


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), names, st.sampled_from([1, 28, 12]),
       st.lists(records, max_size=5), st.lists(records, max_size=3),
       st.one_of(st.none(), st.integers(512, 0xFFFF)))
def test_round_trip(qid: int, flags: int, qn: str, qt: int, an: list[dns.Record],
                    ns: list[dns.Record], payload: int | None) -> None:
    m = dns.Message(qid, flags & ~0x0070, [dns.Question(qn, qt)], an, ns,
                    edns=dns.Edns(payload) if payload else None)
    back = dns.parse(m.emit())
    assert back == m


@given(st.binary(max_size=600))
def test_any_bytes_typed(data: bytes) -> None:
    try:
        dns.parse(data)
    except ParseError:
        pass


@given(st.data())
def test_mutated_answers_typed(data: st.DataObject) -> None:
    base = bytearray(header(an=2, ar=1) + Q + rr(b"\xc0\x0c", dns.CNAME, b"\x01x\xc0\x0c") +
                     rr(b"\xc0\x25", dns.AAAA, bytes(16)) + rr(b"\x00", dns.OPT, b""))
    dns.parse(bytes(base))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(base) - 1))
        base[i] = data.draw(st.integers(0, 255))
    try:
        dns.parse(bytes(base))
    except ParseError:
        pass


@given(st.lists(st.binary(min_size=1, max_size=63), min_size=1, max_size=4))
def test_any_label_bytes_round_trip(labels: list[bytes]) -> None:
    wire = b"".join(bytes([len(x)]) + x for x in labels) + b"\x00"
    m = dns.parse(header(qd=1) + wire + b"\x00\x01\x00\x01")
    name = m.questions[0].name
    assert dns.encode_name(name) == wire


# --- the Rust core's parser: offsets, bounds, a differential against dpkt --------------


def test_parser_is_the_cores() -> None:
    from kame import _core
    mid, _flags, qs, rs, edns = _core.dns_parse(dns.query(7, "a.b", dns.A, payload=1400))
    assert edns is not None
    assert (mid, qs, rs, edns[0]) == (7, [("a.b", False, dns.A, dns.IN)], [], 1400)


def test_errors_carry_offsets() -> None:
    body = header(an=1) + Q + rr(b"\xc0\x0c", dns.AAAA, bytes(15))
    with pytest.raises(MalformedError) as e:
        dns.parse(body)
    assert e.value.layer == "dns" and e.value.offset == len(body) - 15
    with pytest.raises(dns.CompressionError) as c:
        dns.parse(header(an=1) + Q + rr(b"\xff\xff", dns.A, bytes(4)))
    assert c.value.offset == 12 + len(Q)
    with pytest.raises(TruncatedError) as t:
        dns.parse(header() + b"\x05ab")
    assert t.value.offset == 12 and t.value.needed == 6 and t.value.available == 3


def test_binary_label_of_odd_bits_and_soa() -> None:
    m = dns.parse(header() + b"\x41\x03\xe0\x00" + struct.pack("!HH", dns.PTR, dns.IN))
    qn = m.questions[0].name
    assert qn == "\\[x7/3]" and isinstance(qn, dns.Name) and qn.binary
    soa = dns.Soa("ns.test", "h.test", 1, 2, 3, 4, 60)
    body = header(ns=1) + Q + rr(b"\xc0\x0c", dns.SOA, dns.rdata(dns.SOA, soa))
    assert dns.parse(body).authority[0].value == soa


def test_query_arguments_checked() -> None:
    with pytest.raises(TypeError):
        dns.query(1, b"x", dns.A)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        dns.query(1, "x", 70000)
    with pytest.raises(ValueError):
        dns.query(1, "a..b", dns.A)
    with pytest.raises(ValueError):
        dns.encode_name("x\\")
    assert dns.encode_name("a\\.b.c\\255.") == b"\x03a.b\x02c\xff\x00"


dlabels = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
dnames = st.lists(dlabels, min_size=1, max_size=4).map(".".join)


@given(st.integers(0, 0xFFFF), dnames,
       st.lists(st.tuples(dnames, st.sampled_from(["a", "aaaa", "cname", "ptr"]),
                          st.integers(0, 2**128 - 1), dnames), max_size=6))
def test_dpkt_compressed_messages_parse_the_same(qid: int, qn: str,
                                                 rrs: list[tuple[str, str, int, str]]) -> None:
    """dpkt compresses every name it can; we read what it meant."""
    import dpkt  # type: ignore[import-untyped]
    d = dpkt.dns.DNS()
    d.id = qid
    d.qd = [dpkt.dns.DNS.Q(name=qn, type=dns.AAAA, cls=1)]
    want: list[tuple[str, int, object]] = []
    for name, kind, num, target in rrs:
        if kind == "a":
            r = dpkt.dns.DNS.RR(name=name, type=dns.A, cls=1, ttl=60,
                                ip=(num % 2**32).to_bytes(4, "big"))
            want.append((name, dns.A, IPv4Address(num % 2**32)))
        elif kind == "aaaa":
            r = dpkt.dns.DNS.RR(name=name, type=dns.AAAA, cls=1, ttl=60,
                                ip6=num.to_bytes(16, "big"))
            want.append((name, dns.AAAA, IPv6Address(num)))
        elif kind == "cname":
            r = dpkt.dns.DNS.RR(name=name, type=dns.CNAME, cls=1, ttl=60, cname=target)
            want.append((name, dns.CNAME, target))
        else:
            r = dpkt.dns.DNS.RR(name=name, type=dns.PTR, cls=1, ttl=60, ptrname=target)
            want.append((name, dns.PTR, target))
        d.an.append(r)
    m = dns.parse(bytes(d))
    assert m.id == qid and m.questions == [dns.Question(qn, dns.AAAA)]
    assert [(r.name, r.rtype, r.value) for r in m.answers] == want
