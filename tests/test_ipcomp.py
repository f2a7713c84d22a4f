"""IPComp (RFC 3173, DEFLATE per RFC 2394) against independent oracles:
Python's zlib (raw deflate, wbits=-15) inflates what we compress and we
inflate what zlib compresses; scapy builds the packets we compress and
parses what we emit. Seed §4.4, DESIGN.md §4 (KAME's defaults)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop, IPv6ExtHdrRouting

import kame
from kame import IpcompSa, deflate, inflate
from kame.errors import ConfigError, LimitError, MalformedError, ParseError

IPPROTO_IPCOMP = 108
HTML = (
    b"<html><head><title>KAME project</title></head><body><p>The KAME project was a joint effort "
    b"of six companies in Japan to provide a free stack of IPv6, IPsec, and Mobile IPv6 for BSD "
    b"variants.</p><ul><li>IPv6</li><li>IPsec</li><li>IPComp</li></ul></body></html>\n"
)


def text(n: int) -> bytes:
    return (HTML * (n // len(HTML) + 1))[:n]


def v6udp(data: bytes, **kw) -> bytes:
    return bytes(
        IPv6(src="2001:db8::1", dst="2001:db8::2", **kw) / UDP(sport=1234, dport=53) / data
    )


def v4tcp(data: bytes, **kw) -> bytes:
    return bytes(IP(src="192.0.2.1", dst="192.0.2.2", **kw) / TCP(sport=80, dport=4321) / data)


# ---------------------------------------------------------------------------
# raw deflate against zlib


@given(st.binary(max_size=4000), st.sampled_from([-1, 1, 6, 9]), st.integers(8, 15))
def test_our_deflate_inflates_with_zlib(data, level, wbits):
    comp = deflate(data, level=level, window_bits=wbits)
    assert zlib.decompress(comp, -15) == data
    assert inflate(comp, max_size=len(data)) == data


@pytest.mark.parametrize("level", range(1, 10))
@pytest.mark.parametrize("wbits", [9, 12, 15])
def test_zlib_raw_deflate_inflates_with_us(level, wbits):
    for data in (b"", b"a", text(1400), os.urandom(1400), bytes(5000)):
        c = zlib.compressobj(level, zlib.DEFLATED, -wbits)
        comp = c.compress(data) + c.flush()
        assert inflate(comp, max_size=65535) == data


def test_no_zlib_header_no_adler32():
    comp = deflate(text(1000))
    # a zlib stream would start 0x78 and end with the Adler-32 of the data
    with pytest.raises(zlib.error):
        zlib.decompress(comp)  # wbits=15 wants the zlib header
    assert not comp.endswith(zlib.adler32(text(1000)).to_bytes(4, "big"))
    # and a zlib-wrapped stream is not accepted as raw deflate
    with pytest.raises(ParseError):
        inflate(zlib.compress(text(1000)), 65535)


def test_inflate_errors_are_typed():
    comp = deflate(text(1000))
    with pytest.raises(MalformedError) as e:
        inflate(comp[:-3], 65535)
    assert e.value.layer == "ipcomp"
    with pytest.raises(MalformedError):
        inflate(comp + b"\x00", 65535)
    with pytest.raises(MalformedError):
        inflate(b"\x07\x00", 65535)  # block type 3: reserved (RFC 1951 §3.2.3)
    with pytest.raises(LimitError) as e:
        inflate(comp, 999)
    assert e.value.limit == 999
    assert inflate(comp, 1000) == text(1000)
    with pytest.raises(ConfigError):
        deflate(b"x", level=10)
    with pytest.raises(ConfigError):
        deflate(b"x", window_bits=16)


def test_any_buffer_in():
    comp = deflate(bytearray(text(500)))
    assert inflate(memoryview(comp), 500) == text(500)
    assert deflate(memoryview(text(500))) == deflate(text(500))


def test_bomb_is_a_limit_with_bounded_memory():
    """100 MB of zeros deflated (~100 KB): inflate must stop at the cap with
    no growth in resident memory (checked in a fresh interpreter)."""
    code = textwrap.dedent(
        """
        import resource, zlib
        from kame import inflate, IpcompSa
        from kame.errors import LimitError
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        chunk = bytes(1 << 20)
        bomb = b"".join(c.compress(chunk) for _ in range(100)) + c.flush()
        del chunk
        assert len(bomb) < 200_000, len(bomb)
        def rss():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
        sa = IpcompSa()
        pkt = bytearray(40)
        pkt[0] = 0x60
        hdr = bytes([17, 0, 0, 2])
        # a bomb inside an IPv6 payload (truncated to fit 16 bits)
        body = hdr + bomb[:60000]
        pkt[4:6] = len(body).to_bytes(2, "big")
        pkt[6] = 108
        pkt = bytes(pkt) + body
        for f in (lambda: inflate(bomb, 65535), lambda: sa.input(pkt)):
            try:
                f()
            except LimitError:
                pass
        before = rss()
        for _ in range(50):
            for f in (lambda: inflate(bomb, 65535), lambda: sa.input(pkt)):
                try:
                    f()
                    raise SystemExit("no LimitError")
                except LimitError as e:
                    assert e.limit == 65535
        after = rss()
        print(after - before)
        assert after - before < 4096, (before, after)
        assert sa.counters["inflate_limit"] == 51
        """
    )
    r = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr + r.stdout


# ---------------------------------------------------------------------------
# the association


def test_defaults_are_kames():
    sa = IpcompSa()
    assert (sa.cpi, sa.mode, sa.level, sa.window_bits, sa.min_size, sa.max_inflate, sa.ecn) == (
        2,
        "transport",
        -1,
        12,
        90,
        65535,
        0,
    )


@given(st.binary(min_size=0, max_size=3000), st.booleans(), st.sampled_from([2, 256, 0xFFFF]))
def test_output_input_identity(payload, v4, cpi):
    sa = IpcompSa(cpi=cpi)
    pkt = v4tcp(payload) if v4 else v6udp(payload)
    out = sa.output(pkt)
    assert sa.input(out) == pkt
    assert len(out) <= len(pkt)


@given(st.integers(90, 3000), st.sampled_from([-1, 0, 1, 9]), st.integers(9, 15))
def test_output_is_rfc2394_and_zlib_reads_it(n, level, wbits):
    sa = IpcompSa(level=level, window_bits=wbits)
    pkt = v6udp(text(n))
    out = sa.output(pkt)
    p = IPv6(out)
    if level == 0:  # stored blocks are never smaller
        assert out == pkt
        return
    assert p.nh == IPPROTO_IPCOMP
    assert p.plen == len(out) - 40
    assert out[40:44] == bytes([17, 0, 0, 2])
    assert zlib.decompress(out[44:], -15) == pkt[40:]


def test_ipv4_header_fixed():
    pkt = v4tcp(text(1000), tos=0x28, options=b"\x94\x04\x00\x00")  # router alert
    out = IpcompSa(cpi=300).output(pkt)
    p = IP(out)
    assert p.proto == IPPROTO_IPCOMP
    assert p.len == len(out)
    assert p.ihl == 6
    # scapy recomputes the checksum when told to forget it: must match ours
    q = IP(out)
    del q.chksum
    assert IP(bytes(q)).chksum == p.chksum
    assert out[24:28] == bytes([6, 0, 0x01, 0x2C])
    assert zlib.decompress(out[28:], -15) == pkt[24:]


def test_ipv6_unfragmentable_part_is_kept():
    pkt = bytes(
        IPv6(src="2001:db8::1", dst="2001:db8::2")
        / IPv6ExtHdrHopByHop()
        / IPv6ExtHdrDestOpt()
        / IPv6ExtHdrRouting(addresses=["2001:db8::3"])
        / IPv6ExtHdrDestOpt()
        / UDP(sport=1, dport=2)
        / text(500)
    )
    sa = IpcompSa()
    out = sa.output(pkt)
    p = IPv6(out)
    assert p.nh == 0
    rt = p[IPv6ExtHdrRouting]
    assert rt.nh == IPPROTO_IPCOMP
    # the final destination options (after routing) went into the compressed part
    hdr_end = 40 + 8 + 8 + 24
    assert out[hdr_end] == 60  # IPComp next header: Destination Options
    assert zlib.decompress(out[hdr_end + 4 :], -15) == pkt[hdr_end:]
    assert sa.input(out) == pkt


def test_not_compressed_under_90_or_when_not_smaller():
    sa = IpcompSa()
    small = v6udp(text(81))  # 89-octet payload
    assert sa.output(small) == small
    assert sa.output(v6udp(text(82)))[6] == IPPROTO_IPCOMP
    noise = v6udp(os.urandom(1400))
    assert sa.output(noise) == noise
    c = sa.counters
    assert c["output_threshold"] == 1
    assert c["output_uncompressed"] == 1
    assert c["output_packets"] == 3
    # the peer's uncompressed form passes input
    assert sa.input(noise) == noise
    assert sa.counters["input_uncompressed"] == 1
    # min_size is settable
    assert IpcompSa(min_size=0).output(v6udp(bytes(40)))[6] == IPPROTO_IPCOMP


def test_state_is_reused_across_packets():
    sa = IpcompSa()
    pkts = [v6udp(text(n)) for n in (100, 1400, 90, 9000, 500)]
    outs = [sa.output(p) for p in pkts]
    # each packet stands alone (RFC 3173 §2: no history across datagrams)
    fresh = [IpcompSa().output(p) for p in pkts]
    assert outs == fresh
    assert [sa.input(o) for o in reversed(outs)] == list(reversed(pkts))


def test_batch_matches_single_and_reports_errors_in_place():
    sa, one = IpcompSa(), IpcompSa()
    pkts = [v6udp(text(n)) for n in range(50, 1500, 97)]
    outs = sa.output_many(pkts)
    assert outs == [one.output(p) for p in pkts]
    bad = bytearray(outs[5])
    bad[50] ^= 0xFF
    got = sa.input_many([*outs[:3], bytes(bad), memoryview(outs[4]), b"\x60"])
    assert got[:3] == pkts[:3]
    assert isinstance(got[3], kame.KameError)
    assert got[4] == pkts[4]
    assert isinstance(got[5], ParseError)


def test_input_refusals():
    sa = IpcompSa()
    out = sa.output(v6udp(text(600)))
    with pytest.raises(MalformedError):
        IpcompSa(cpi=256).input(out)  # CPI mismatch
    corrupt = bytearray(out)
    corrupt[44] = 0x07  # reserved block type
    with pytest.raises(MalformedError):
        sa.input(bytes(corrupt))
    assert sa.counters["inflate_errors"] == 1
    for n in range(0, len(out), 7):
        with pytest.raises(kame.KameError):
            sa.input(out[:n])
    with pytest.raises(LimitError):
        IpcompSa(max_inflate=100).input(out)
    with pytest.raises(ConfigError):
        IpcompSa(cpi=0)
    with pytest.raises(ConfigError):
        IpcompSa(mode="tunnel")
    with pytest.raises(ConfigError):
        IpcompSa(mode="sideways")


# ---------------------------------------------------------------------------
# tunnel mode: KAME could send it but not accept it (seed §4.4)

ENDPOINTS = [("2001:db8:f::1", "2001:db8:f::2"), ("198.51.100.1", "198.51.100.2")]


@pytest.mark.parametrize("src,dst", ENDPOINTS)
@pytest.mark.parametrize("inner_v4", [False, True])
def test_tunnel_mode_round_trip(src, dst, inner_v4):
    sa = IpcompSa(mode="tunnel", tunnel_src=src, tunnel_dst=dst)
    inner = v4tcp(text(1200), tos=0x2A) if inner_v4 else v6udp(text(1200), tc=0x2A)
    out = sa.output(inner)
    outer = IP(out) if ":" not in src else IPv6(out)
    if ":" in src:
        assert (outer.nh, outer.src, outer.dst, outer.tc) == (IPPROTO_IPCOMP, src, dst, 0x28)
        comp = out[40:]
    else:
        assert (outer.proto, outer.src, outer.dst, outer.tos) == (IPPROTO_IPCOMP, src, dst, 0x28)
        comp = out[20:]
    assert comp[0] == (4 if inner_v4 else 41)
    assert zlib.decompress(comp[4:], -15) == inner
    assert sa.input(out) == inner
    # the uncompressed form is plain IP-in-IP and is accepted too
    small = v6udp(b"tiny")
    plain = sa.output(small)
    assert len(plain) == len(small) + (40 if ":" in src else 20)
    assert sa.input(plain) == small
    # the wrong endpoints are refused
    with pytest.raises(kame.KameError):
        IpcompSa(mode="tunnel", tunnel_src=dst, tunnel_dst=src).input(out)


def test_tunnel_mode_ecn_allowed_propagates_ce():
    import ipaddress

    sa = IpcompSa(
        mode="tunnel",
        tunnel_src=ipaddress.ip_address("2001:db8::a"),
        tunnel_dst=b"\x20\x01\x0d\xb8" + bytes(11) + b"\x0b",
        ecn=1,
    )
    inner = v6udp(text(800), tc=0x02)
    out = bytearray(sa.output(inner))
    out[1] |= 0x30  # outer CE: traffic class 0x03 sits in bits 4-5 of octet 1
    back = sa.input(bytes(out))
    assert IPv6(back).tc == 0x03
