"""kame.strategies (issue 12 item 4): every valid packet it draws parses
with our core and is dissected by tshark without a malformed field; every
near-valid packet carries its named mutation and our core says what the
mutation's entry in MUTATIONS says it must.

tshark runs once per group over a pcap of all the group's frames; port
numbers are drawn at random, so UDP and TCP payloads are decoded as data
(``-d udp.port==1-65535,data``): an application dissector guessing from a
random port is not the packet's fault.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.strategies import SearchStrategy

import kame
from kame import _core
from kame import strategies as ks

#: tshark's expert severity "Error" (PI_ERROR): malformed packets and exceptions
_PI_ERROR = 0x00800000


def _draw(strategy: SearchStrategy[ks.GenPacket], n: int) -> list[ks.GenPacket]:
    out: list[ks.GenPacket] = []

    @settings(max_examples=n, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.large_base_example])
    @given(strategy)
    def collect(p: ks.GenPacket) -> None:
        out.append(p)

    collect()
    return out


def _tshark_errors(pkts: list[ks.GenPacket], tmp_path: Path) -> list[tuple[str, str, str]]:
    """(label, frame hex, tshark's message) of every frame tshark flags."""
    frames: list[tuple[ks.GenPacket, bytes]] = [(p, p.frame(w)) for p in pkts for w in p.wire()]
    path = tmp_path / "drawn.pcap"
    with path.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for i, (_, fr) in enumerate(frames):
            f.write(struct.pack("<IIII", i, 0, len(fr), len(fr)) + fr)
    out = subprocess.run(
        ["tshark", "-n", "-r", str(path), "-d", "udp.port==1-65535,data",
         "-d", "tcp.port==1-65535,data",
         "-Y", f"_ws.malformed || _ws.expert.severity >= {_PI_ERROR}",
         "-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message"],
        capture_output=True, text=True, timeout=300, check=True)
    bad = []
    for line in out.stdout.splitlines():
        num, _, msg = line.partition("\t")
        p, fr = frames[int(num) - 1]
        if msg.split(",")[-1] == "Malformed Packet (Exception occurred)" and _ends_in_pad1(fr):
            continue
        bad.append((p.label, fr.hex(), msg))
    return bad


def _ends_in_pad1(frame: bytes) -> bool:
    """tshark 4.0's dissector throws on a last options header (Next Header 59) whose
    last option is a Pad1: it reads an octet past the packet. RFC 8200 allows it."""
    if frame[12:14] != b"\x86\xdd":
        return False
    try:
        pk = kame.parse(frame[14:])
    except kame.errors.ParseError:
        return False
    if not pk.chain or pk.upper_proto != 59 or pk.chain[-1][0] not in (0, 60):
        return False
    _, off, length = pk.chain[-1]
    opts, i, last = frame[14 + off + 2:14 + off + length], 0, -1
    while i < len(opts):
        last = opts[i]
        i += 1 if last == 0 else 2 + opts[i + 1]
    return last == 0 and 14 + off + length == len(frame)


# --- valid packets: our core ---------------------------------------------------

@given(ks.packets())
def test_valid_packets_parse(p: ks.GenPacket) -> None:
    assert p.mutation is None
    assert ks.verdict(p) in ("ok", "reass_ok"), p.label


@given(ks.ipv6_packets())
def test_ipv6_chain_is_the_drawn_one(p: ks.GenPacket) -> None:
    pk = kame.parse(p.data)
    names = {0: "hbh", 60: "dst", 43: "rt", 44: "frag", 51: "ah"}
    walked = [names[nh] for nh, _, _ in pk.chain]
    assert walked == [e[:2] if e.startswith("rt") else e for e in p.fields["exts"]]
    assert pk.cksum_ok is not False


@given(ks.icmpv6_packets())
def test_icmpv6_parses_with_checksum(p: ks.GenPacket) -> None:
    pk = kame.parse(p.data)
    assert pk.upper_proto == 58
    msg = kame.parse_icmpv6(pk.upper_bytes, p.fields["src"], p.fields["dst"])
    assert msg is not None
    assert ks.verdict(p) == "ok"


@settings(max_examples=10)
@given(ks.jumbograms())
def test_jumbograms(p: ks.GenPacket) -> None:
    pk = kame.parse(p.data)
    assert pk.jumbo == len(p.data) - 40 > 0xFFFF
    assert p.data[4:6] == b"\0\0" and pk.cksum_ok


@given(ks.fragment_trains())
def test_fragment_trains_reassemble_to_the_datagram(p: ks.GenPacket) -> None:
    assert len(p.fragments) >= 1
    assert ks.verdict(p) == "reass_ok"


def _sas() -> tuple[_core.EspSa, _core.AhSa, _core.IpcompSa]:
    return (_core.EspSa(0x1000, "aes-cbc", b"k" * 16, "hmac-sha1", b"a" * 20),
            _core.AhSa(0x2000, "hmac-sha1", b"a" * 20),
            _core.IpcompSa())


def test_ipsec_packets_open_with_the_peer_sa() -> None:
    out_sas, in_sas = _sas(), _sas()
    pkts = _draw(ks.ipsec_packets(esp=out_sas[0], ah=out_sas[1], ipcomp=out_sas[2]), 60)
    kinds = Counter(p.label.split("(")[0] for p in pkts)
    assert set(kinds) == {"esp", "ah", "ipcomp"}, kinds
    for p in pkts:
        assert ks.verdict(p) == "ok", p.label
        sa: Any = {"esp": in_sas[0], "ah": in_sas[1], "ipcomp": in_sas[2]}[p.label.split("(")[0]]
        assert kame.parse(sa.input(p.data)).upper_bytes == kame.parse(p.fields["inner"]).upper_bytes


# --- valid packets: tshark -------------------------------------------------------

def test_tshark_dissects_every_valid_packet(tmp_path: Path) -> None:
    esp, ah, ipcomp = _sas()
    pkts = (_draw(ks.ipv6_packets(), 300) + _draw(ks.icmpv6_packets(), 100)
            + _draw(ks.icmpv6_packets(["nd"]), 100) + _draw(ks.icmpv6_packets(["mld"]), 60)
            + _draw(ks.fragment_trains(), 100) + _draw(ks.ipv4_packets(), 60)
            + _draw(ks.arp_packets(), 20) + _draw(ks.jumbograms(), 3)
            + _draw(ks.ipsec_packets(esp=esp, ah=ah, ipcomp=ipcomp), 40))
    labels = {p.label.split("/")[-1] for p in pkts}
    # the groups reach every kind the brief names
    for want in ("udp", "tcp", "echo", "ptb", "ns", "na", "rs", "ra", "redirect", "query",
                 "report", "done", "query2", "report2", "request", "reply", "none", "esp"):
        assert want in labels, want
    assert _tshark_errors(pkts, tmp_path) == []


def test_tshark_pad1_quirk_is_only_that(tmp_path: Path) -> None:
    """The one tshark bug the check forgives: a final Pad1 before No Next Header."""
    def frame(nh: int, opts: bytes, tail: bytes = b"") -> bytes:
        pl = bytes([nh, 0]) + opts + tail
        return (b"\x02\0^\x10\0\x02\x02\0^\x10\0\x01\x86\xdd"
                + struct.pack("!IHBB", 0x60000000, len(pl), 60, 64)
                + bytes.fromhex("fe80" + "0" * 27 + "1" + "fe80" + "0" * 27 + "2") + pl)
    udp = struct.pack("!HHHH", 1, 2, 8, 0)
    assert _ends_in_pad1(frame(59, bytes([1, 3, 0, 0, 0, 0])))
    assert not _ends_in_pad1(frame(59, bytes([1, 4, 0, 0, 0, 0])))
    assert not _ends_in_pad1(frame(17, bytes([1, 3, 0, 0, 0, 0]), udp))
    assert not _ends_in_pad1(frame(59, bytes([0x1E, 3, 0, 0, 0, 0]), b"\0"))


def test_tshark_check_can_fail(tmp_path: Path) -> None:
    """The tshark check sees a malformed packet: a near-valid one."""
    pkts = _draw(ks.near_valid_packets(["truncated_upper", "truncated_header"]), 10)
    assert len(_tshark_errors(pkts, tmp_path)) == len(pkts)


# --- near-valid packets ------------------------------------------------------------

@given(ks.near_valid_packets())
def test_near_valid_packets_carry_their_mutation(p: ks.GenPacket) -> None:
    assert p.mutation in ks.MUTATIONS
    assert ks.verdict(p) == ks.MUTATIONS[p.mutation].expect, (p.mutation, p.label, p.data.hex())


@pytest.mark.parametrize("name", sorted(ks.MUTATIONS))
def test_each_mutation(name: str) -> None:
    pkts = _draw(ks.near_valid_packets([name]), 15)
    assert pkts and all(p.mutation == name for p in pkts)
    verdicts = Counter(ks.verdict(p) for p in pkts)
    assert verdicts == Counter({ks.MUTATIONS[name].expect: len(pkts)})


def test_unknown_mutation_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown mutations"):
        ks.near_valid_packets(["no_such_mutation"])


def test_shrinking_stays_structured() -> None:
    """A failing property shrinks to a small, still well-formed packet."""
    from hypothesis import find

    p = find(ks.ipv6_packets(), lambda p: "rt4" in p.label,
             settings=settings(max_examples=500, database=None))
    assert ks.verdict(p) == "ok"
    # one SRH with one segment and no TLV, then the first upper layer (UDP)
    # without data: 40 + 24 + 8 octets
    assert p.label == "rt4/udp" and len(p.data) == 72


def test_without_hypothesis_a_clear_error() -> None:
    code = ("import sys; sys.modules['hypothesis'] = None; sys.modules['hypothesis.strategies'] = None\n"
            "import kame.strategies as ks\n"
            "try:\n    ks.ipv6_packets()\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "kame.strategies needs hypothesis" in out.stdout
