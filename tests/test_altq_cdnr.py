"""CDNR, the diffserv traffic conditioner (seed §5, kame.altq.cdnr): the
colours of RFC 2697's srTCM and RFC 2698's trTCM against the RFCs' token
arithmetic done in exact fractions, the token bucket meter, RFC 2859's
TSWTCM proportions, DSCP marks (IPv4 checksum kept), the ``conditioner``
syntax and its line-numbered errors, and tshark reading the marks."""

from __future__ import annotations

import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_altq import drain, frame4, frame6, ip4_cksum

from kame.altq import extract_flow, parse_altq_conf
from kame.altq.cdnr import Mark, Pass, SrTcm, TbMeter, TrTcm, TswTcm
from kame.cli.altq import format_altq
from kame.errors import AltqConfError

G, Y, R = 0x28, 0x30, 0x38  # AF11, AF12, AF13 as DS octets


def colours(n: int) -> tuple[Mark, Mark, Mark]:
    return Mark(G), Mark(Y), Mark(R)


def ds_of(frame: bytes) -> int:
    fl = extract_flow(frame)
    return fl.tos & 0xFC


def rfc2698(cir: int, cbs: int, pir: int, pbs: int,
            pkts: list[tuple[Fraction, int, int]], aware: bool) -> list[int]:
    """RFC 2698 section 3, exactly: Tc and Tp in octets, full at t=0, each
    incremented by rate/8 per second up to its size."""
    tc, tp = Fraction(cbs), Fraction(pbs)
    last = Fraction(0)
    out = []
    for t, b, pre in pkts:
        tc = min(Fraction(cbs), tc + (t - last) * cir / 8)
        tp = min(Fraction(pbs), tp + (t - last) * pir / 8)
        last = t
        if (aware and pre == 2) or tp < b:
            out.append(2)
        elif (aware and pre == 1) or tc < b:
            out.append(1)
            tp -= b
        else:
            out.append(0)
            tp -= b
            tc -= b
    return out


def rfc2697(cir: int, cbs: int, ebs: int, pkts: list[tuple[Fraction, int, int]],
            aware: bool) -> list[int]:
    """RFC 2697 section 3: CIR tokens fill Tc, and once Tc is full, Te."""
    tc, te = Fraction(cbs), Fraction(ebs)
    last = Fraction(0)
    out = []
    for t, b, pre in pkts:
        add = (t - last) * cir / 8
        last = t
        room = cbs - tc
        if add <= room:
            tc += add
        else:
            tc = Fraction(cbs)
            te = min(Fraction(ebs), te + add - room)
        if (not aware or pre == 0) and tc >= b:
            out.append(0)
            tc -= b
        elif (not aware or pre <= 1) and te >= b:
            out.append(1)
            te -= b
        else:
            out.append(2)
    return out


ARRIVALS = st.lists(st.tuples(st.integers(0, 4000), st.integers(64, 1514), st.integers(0, 2)),
                    min_size=1, max_size=120)


def _frames(arr: list[tuple[int, int, int]]) -> tuple[list[tuple[Fraction, int, int]],
                                                       list[tuple[float, bytes]]]:
    t = 0
    exact, ours = [], []
    for gap_us, size, pre in arr:
        t += gap_us
        ft = Fraction(t, 1_000_000)
        exact.append((ft, size, pre))
        ours.append((t / 1_000_000, frame6(size, tclass=(G, Y, R)[pre])))
    return exact, ours


@settings(max_examples=200, deadline=None)
@given(arr=ARRIVALS, cir=st.integers(8_000, 20_000_000), extra=st.integers(0, 20_000_000),
       cbs=st.integers(64, 20_000), pbs=st.integers(64, 20_000), aware=st.booleans())
def test_trtcm_colours_follow_rfc2698(arr: list[tuple[int, int, int]], cir: int, extra: int,
                                      cbs: int, pbs: int, aware: bool) -> None:
    m = TrTcm(cir, cbs, cir + extra, pbs, colours(3), aware)
    exact, ours = _frames(arr)
    want = rfc2698(cir, cbs, cir + extra, pbs, exact, aware)
    got = []
    for t, f in ours:
        out = m.apply(f, extract_flow(f), t)
        assert out is not None
        got.append((G, Y, R).index(ds_of(out)))
    assert got == want
    assert m.colours == [want.count(c) for c in (0, 1, 2)]


@settings(max_examples=200, deadline=None)
@given(arr=ARRIVALS, cir=st.integers(8_000, 20_000_000), cbs=st.integers(64, 20_000),
       ebs=st.integers(64, 20_000), aware=st.booleans())
def test_srtcm_colours_follow_rfc2697(arr: list[tuple[int, int, int]], cir: int, cbs: int,
                                      ebs: int, aware: bool) -> None:
    m = SrTcm(cir, cbs, ebs, colours(3), aware)
    exact, ours = _frames(arr)
    want = rfc2697(cir, cbs, ebs, exact, aware)
    got = []
    for t, f in ours:
        out = m.apply(f, extract_flow(f), t)
        assert out is not None
        got.append((G, Y, R).index(ds_of(out)))
    assert got == want
    assert m.colours == [want.count(c) for c in (0, 1, 2)]


@settings(max_examples=150, deadline=None)
@given(arr=ARRIVALS, rate=st.integers(8_000, 50_000_000), depth=st.integers(64, 30_000))
def test_tbmeter_in_profile_never_beyond_rate_and_depth(arr: list[tuple[int, int, int]],
                                                        rate: int, depth: int) -> None:
    m = TbMeter(rate, depth, Pass(), Mark(0x08))
    exact, ours = _frames(arr)
    tokens, last = Fraction(depth), Fraction(0)
    for (ft, size, _), (t, f) in zip(exact, ours):
        tokens = min(Fraction(depth), tokens + (ft - last) * rate / 8)
        last = ft
        want_in = tokens >= size
        if want_in:
            tokens -= size
        out = m.apply(f, extract_flow(f), t)
        assert out is not None
        assert (ds_of(out) != 0x08) == want_in


def test_trtcm_float_and_exact_agree_exactly_on_round_numbers() -> None:
    m = TrTcm(1_000_000, 3000, 2_000_000, 6000, colours(3))
    f = frame6(1000)
    got = [(G, Y, R).index(ds_of(m.apply(f, extract_flow(f), i * 0.001) or b"")) for i in range(40)]
    want = rfc2698(1_000_000, 3000, 2_000_000, 6000,
                   [(Fraction(i, 1000), 1000, 0) for i in range(40)], False)
    assert got == want
    assert got.count(0) and got.count(1) and got.count(2)


def test_tswtcm_proportions_follow_rfc2859() -> None:
    """A steady 3 Mb/s against CTR 2M and PTR 4M: a third yellow; 6 Mb/s
    against PTR 4M: a third red and a third yellow."""
    for rate, want in ((3e6, (2 / 3, 1 / 3, 0.0)), (6e6, (1 / 3, 1 / 3, 1 / 3))):
        m = TswTcm(2_000_000, 4_000_000, 0.2, colours(3))
        f = frame6(1000)
        gap = 1000 * 8 / rate
        for i in range(30_000):
            m.apply(f, extract_flow(f), i * gap)
        tot = sum(m.colours)
        for c in range(3):
            assert m.colours[c] / tot == pytest.approx(want[c], abs=0.02), m.colours


def test_mark_keeps_ecn_and_ipv4_checksum() -> None:
    f = frame4(500, tos=0x02)
    out = Mark(0xB8).apply(f, extract_flow(f), 0.0)
    assert out is not None and out[15] == 0xBA
    assert ip4_cksum(out[14:34]) == 0
    with pytest.raises(ValueError, match="ECN"):
        Mark(0x29)


CDNR_CONF = """interface eth0 bandwidth 10M priq
class priq eth0 high NULL priority 7
class priq eth0 low NULL priority 1 default
conditioner eth0 ef <tbmeter 1M 3K <pass> <drop>>
conditioner eth0 af1 <trtcm 1M 3K 2M 3K <mark 0x28><mark 0x30><mark 0x38> colorblind>
filter6 eth0 ef 0 9 0 0 udp
filter6 eth0 af1 0 10 0 0 udp
filter6 eth0 high 0 0 0 0 0 tclass 0x28 tclassmask 0xfc
"""


def test_conditioner_conf_polices_marks_and_steers_classes() -> None:
    q = parse_altq_conf(CDNR_CONF).ifs["eth0"]
    assert q.cdnr is not None
    now, out = 0.0, []
    while now < 1.0:  # 4 Mb/s into each conditioner
        q.enqueue(frame6(500, dport=9), now)
        q.enqueue(frame6(500, dport=10), now)
        out += drain(q, now)
        now += 0.001
    ef = [f for f in out if f[57] == 9]
    af = [f for f in out if f[57] == 10]
    assert len(ef) * 500 * 8 == pytest.approx(1e6 + 3000 * 8, rel=0.02)  # tbmeter: 1 Mb/s
    c = [ds_of(f) for f in af]
    assert c.count(G) * 4000 == pytest.approx(1e6 + 24_000, rel=0.02)
    assert (c.count(G) + c.count(Y)) * 4000 == pytest.approx(2e6 + 24_000, rel=0.02)
    snap = q.snapshot()
    assert snap["conditioners"][0]["dropped"] == 1000 - len(ef)
    pri = {c["name"]: c["xmit_packets"] for c in snap["classes"]}
    assert pri["high"] == c.count(G)  # the AF11 marks go to the high class
    text = format_altq([snap])
    assert "conditioner af1:" in text and "trtcm green:" in text and "mark 0x28" in text


@pytest.mark.parametrize(("line", "what"), [
    ("conditioner eth0 x <pass", "'>' expected"),
    ("conditioner eth0 x pass", "starts with '<'"),
    ("conditioner eth0 x <bogus>", "unknown action"),
    ("conditioner eth0 x <mark 0x29>", "ECN"),
    ("conditioner eth0 x <mark 300>", "outside"),
    ("conditioner eth0 x <tbmeter 1M 0 <pass><drop>>", "outside"),
    ("conditioner eth0 x <tbmeter 1M 1K <pass>>", "starts with '<'"),
    ("conditioner eth0 x <trtcm 2M 1K 1M 1K <pass><pass><drop>>", "below committed"),
    ("conditioner eth0 x <tswtcm 2M 1M 100 <pass><pass><drop>>", "peak rate"),
    ("conditioner eth0 x <pass> <drop>", "after the conditioner"),
    ("conditioner eth0 ef <pass>", "already defined"),
    ("conditioner eth0 high <pass>", "already defined"),
    ("conditioner eth9 x <pass>", "not declared"),
    ("conditioner eth0 x " + "<tbmeter 1M 1K " * 10 + "<pass><drop>" + ">" * 10, "deeper"),
    ("cdnr eth0 x <pass>", "not supported"),
    ("localq eth0", "not supported"),
])
def test_conditioner_errors_name_their_line(line: str, what: str) -> None:
    with pytest.raises(AltqConfError) as e:
        parse_altq_conf(CDNR_CONF + line + "\n")
    assert e.value.line == 9 and what in str(e.value), e.value


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is installed by .ci/run")
def test_tshark_reads_the_dscp_marks_cdnr_writes(tmp_path: Path) -> None:
    from kame.link.pcap import PcapWriter

    q = parse_altq_conf("interface eth0 bandwidth 10M\nconditioner eth0 af "
                        "<trtcm 1M 3K 2M 3K <mark 0x28><mark 0x30><mark 0x38>>\n"
                        "filter eth0 af 0 0 0 0 udp\nfilter6 eth0 af 0 0 0 0 udp\n").ifs["eth0"]
    frames: list[tuple[float, bytes]] = []
    now = 0.0
    while now < 0.5:
        q.enqueue(frame4(400, tos=0x01), now)
        q.enqueue(frame6(400, tclass=0x02), now)
        frames += [(now, f) for f in drain(q, now)]
        now += 0.001
    pcap = tmp_path / "dscp.pcap"
    with open(pcap, "wb") as fh:
        w = PcapWriter(fh)
        for ts, f in frames:
            w.write(ts, f)
    out = subprocess.run(
        ["tshark", "-r", str(pcap), "-o", "ip.check_checksum:TRUE", "-T", "fields",
         "-E", "separator=,", "-e", "ip.dsfield.dscp", "-e", "ip.dsfield.ecn",
         "-e", "ip.checksum.status", "-e", "ipv6.tclass.dscp", "-e", "ipv6.tclass.ecn"],
        capture_output=True, text=True, check=True, timeout=120).stdout.split("\n")
    rows = [r.split(",") for r in out if r]
    assert len(rows) == len(frames)
    dscp = [int(r[0] or r[3]) for r in rows]
    assert {r[1] for r in rows if r[0]} == {"1"} and {r[4] for r in rows if r[3]} == {"2"}
    assert {r[2] for r in rows if r[0]} == {"1"}  # IPv4 checksums good after the marks
    tr = q.snapshot()["conditioners"][0]["action"]
    assert [dscp.count(d) for d in (10, 12, 14)] == [tr["green"], tr["yellow"], tr["red"]]
    assert min(tr["green"], tr["yellow"], tr["red"]) > 0
