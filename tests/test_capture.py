"""kame.capture: a capture as an Arrow table, proven against kame.parse
packet by packet, against itself across batch sizes, chunkings, pcapng
and byte ranges, and read back through Parquet by pyarrow and DuckDB."""

from __future__ import annotations

import io
import itertools
import struct

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_Router_Alert
from scapy.layers.inet6 import (
    HBHOptUnknown,
    ICMPv6DestUnreach,
    ICMPv6EchoRequest,
    ICMPv6MLDMultAddrRec,
    ICMPv6MLReport2,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    IPv6ExtHdrSegmentRouting,
    RouterAlert,
)
from scapy.layers.ipsec import AH, ESP
from scapy.layers.l2 import ARP, Ether

import kame
import kame._core
from kame import capture
from kame.errors import KameError
from kame.link.pcap import LINKTYPE_ETHERNET, PcapngWriter, PcapWriter

A, B = "02:00:00:00:00:01", "02:00:00:00:00:02"
S6, D6 = "2001:db8::1", "2001:db8::2"


def _frames() -> list[bytes]:
    e = Ether(src=A, dst=B)
    v6 = e / IPv6(src=S6, dst=D6)
    good = [
        v6 / UDP(sport=5353, dport=53) / b"abcd",
        v6 / TCP(sport=40000, dport=80, flags="SA", seq=123456, ack=99),
        e / IPv6(src="fe80::1", dst="ff02::1:ff00:2") / ICMPv6ND_NS(tgt="fe80::2")
        / ICMPv6NDOptSrcLLAddr(lladdr=A),
        e / IPv6(src="fe80::2", dst="fe80::1") / ICMPv6ND_NA(tgt="fe80::2", R=0, S=1),
        v6 / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / ICMPv6EchoRequest(id=7, seq=9),
        v6 / IPv6ExtHdrRouting(addresses=["2001:db8::9"], segleft=0) / UDP(sport=1, dport=2),
        v6 / IPv6ExtHdrFragment(offset=10, id=3, m=1) / (b"x" * 16),
        v6 / IPv6ExtHdrFragment(offset=0, id=4, m=1) / UDP(sport=9, dport=10) / (b"y" * 40),
        v6 / ESP(spi=0x1234, seq=77) / (b"\x01" * 24),
        v6 / ICMPv6DestUnreach(code=4) / IPv6(src=D6, dst="2001:db8::7") / UDP(),
        e / IP(src="192.0.2.1", dst="192.0.2.2") / ICMP(type=8, id=3, seq=4),
        e / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=7, dport=9) / b"q",
        e / IP(src="192.0.2.1", dst="192.0.2.2", flags="MF", id=5) / TCP(sport=1, dport=2),
        e / IP(src="192.0.2.1", dst="192.0.2.2") / ESP(spi=9, seq=1) / b"zzzzzzzz",
        Ether(src=A, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=A, psrc="10.0.0.1", pdst="10.0.0.2"),
        Ether(src=A, dst=B, type=0x88CC) / (b"\0" * 30),
    ]
    out = [bytes(f) for f in good]
    # bad checksums, truncations, a lying payload length, a bad version
    udp = bytes(v6 / UDP(sport=1, dport=2, chksum=0x1234) / b"pp")
    out += [udp, out[1][:60], out[0][:20], out[2][:14 + 40 + 10]]
    bad_len = bytearray(out[0])
    bad_len[14 + 4:14 + 6] = (500).to_bytes(2, "big")
    out.append(bytes(bad_len))
    out.append(bytes(Ether(src=A, dst=B, type=0x86DD)) + b"\x70" + bytes(60))
    return out


FRAMES = _frames()


def _ext_frames() -> list[bytes]:
    """More extension-header kinds (beyond those of FRAMES, the small mix
    of benches/bench_capture.py), read by the lean path or refused to it:
    an MLDv2 Report behind a Router Alert, unrecognized options that skip
    and discard, an SRH with Segments Left 0 and 1, an atomic fragment, a
    Fragment header after a first fragment's, TCP and ESP after AH, IGMP
    over IPv4 with a Router Alert option, IPv4 fragments."""
    e = Ether(src=A, dst=B)
    v6 = e / IPv6(src=S6, dst=D6)
    frames = [
        e / IPv6(src="fe80::1", dst="ff02::16", hlim=1) / IPv6ExtHdrHopByHop(options=[RouterAlert()])
        / ICMPv6MLReport2(records=[ICMPv6MLDMultAddrRec(dst="ff02::fb")]),
        v6 / IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0x1E, optdata=b"ab")]) / UDP(sport=1, dport=2),
        v6 / IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0x9E, optdata=b"ab")]) / UDP(sport=1, dport=2),
        v6 / IPv6ExtHdrSegmentRouting(addresses=["2001:db8::9", D6], segleft=0) / UDP(sport=3, dport=4),
        v6 / IPv6ExtHdrSegmentRouting(addresses=["2001:db8::9", D6], segleft=1) / UDP(sport=3, dport=4),
        v6 / IPv6ExtHdrFragment(offset=0, m=0, id=5) / UDP(sport=9, dport=10) / b"z",
        v6 / IPv6ExtHdrFragment(offset=0, m=0, id=5) / IPv6ExtHdrFragment(offset=0, m=0, id=6) / UDP(),
        v6 / IPv6ExtHdrHopByHop() / IPv6ExtHdrFragment(offset=0, m=1, id=8) / ICMPv6EchoRequest() / (b"e" * 32),
        v6 / AH(nh=50, payloadlen=4, spi=0x2345, seq=6, icv=b"\xa5" * 12) / ESP(spi=0x99, seq=2) / (b"\1" * 8),
        e / IP(src="192.0.2.1", dst="224.0.0.22", ttl=1, proto=2, options=IPOption_Router_Alert())
        / bytes.fromhex("2200f9fc0000000104000000effffffa"),  # an IGMPv3 Report
        e / IP(src="192.0.2.1", dst="192.0.2.2", frag=4, id=5, proto=17) / (b"q" * 30),
        e / IP(src="192.0.2.1", dst="192.0.2.2", flags="MF", id=6) / UDP(sport=1, dport=2, len=300) / (b"q" * 30),
    ]
    return [bytes(f) for f in frames]


EXT_FRAMES = _ext_frames()


def pcap(frames: list[bytes], t0: float = 1_700_000_000.0) -> bytes:
    buf = io.BytesIO()
    w = PcapWriter(buf, LINKTYPE_ETHERNET)
    for i, f in enumerate(frames):
        w.write(t0 + i * 0.25, f)
    return buf.getvalue()


def table(data: bytes, **kw: object) -> pa.Table:
    return capture.read(io.BytesIO(data), **kw)  # type: ignore[arg-type]


def addr(v: object) -> bytes:
    return v.packed  # type: ignore[attr-defined,no-any-return]


def mapped(a: bytes) -> bytes:
    """An address as the columns hold it: IPv4 as IPv4-mapped IPv6."""
    return b"\0" * 10 + b"\xff\xff" + a if len(a) == 4 else a


def expected_row(frame: bytes) -> dict[str, object]:
    """The columns kame.parse gives for `frame` (dissection columns only)."""
    try:
        p = kame.parse(frame, link="ethernet")
    except KameError as e:
        return {"ip_version": None, "verdict": "drop", "reason": str(e).split(" [")[0]}
    frag = p.fragment
    tcp = p.tcp
    up = p.upper_bytes
    nd = p.version == 6 and p.icmp_type in (135, 136, 137)
    esp = p.upper_proto == 50
    ok = p.cksum_ok
    verdict = "ok" if ok is not False else ("offload" if (p.cksum_bad or (0, 0, False))[2] else "cksum bad")
    return {
        "ip_version": p.version,
        "src": mapped(p.src_bytes),
        "dst": mapped(p.dst_bytes),
        "hop_limit": p.hop_limit,
        "traffic_class": p.traffic_class,
        "flow_label": p.flow_label if p.version == 6 else None,
        "next_header": p.next_header,
        "chain": [h[0] for h in p.chain],
        "upper_proto": p.upper_proto,
        "frag_offset": frag[0] if frag else None,
        "frag_more": frag[1] if frag else None,
        "frag_id": frag[2] if frag else None,
        "sport": p.sport,
        "dport": p.dport,
        "icmp_type": p.icmp_type,
        "icmp_code": p.icmp_code,
        "nd_target": up[8:24] if nd and len(up) >= 24 else None,
        "esp_spi": struct.unpack_from("!I", up)[0] if esp and len(up) >= 8 else None,
        "esp_seq": struct.unpack_from("!I", up, 4)[0] if esp and len(up) >= 8 else None,
        "tcp_flags": tcp[2] if tcp else None,
        "tcp_seq": tcp[0] if tcp else None,
        "tcp_ack": tcp[1] if tcp else None,
        "cksum_ok": ok,
        "verdict": verdict,
    }


@settings(max_examples=60)
@given(st.lists(st.sampled_from(FRAMES + EXT_FRAMES), min_size=1, max_size=40), st.integers(1, 50))
def test_columns_equal_kame_parse_packet_by_packet(frames, batch_rows):
    data = pcap(frames)
    t = table(data, batch_rows=batch_rows)
    assert t.schema == capture.schema()
    assert t.num_rows == len(frames)
    assert all(b.num_rows <= batch_rows for b in t.to_batches())
    rows = t.to_pylist()
    offset = 24
    for i, (frame, row) in enumerate(zip(frames, rows, strict=True)):
        assert row["caplen"] == row["len"] == len(frame)
        assert row["offset"] == offset
        offset += 16 + len(frame)
        assert row["linktype"] == LINKTYPE_ETHERNET and row["interface"] == 0
        assert row["ts"].timestamp() == pytest.approx(1_700_000_000 + i * 0.25)
        want = expected_row(frame)
        if want["ip_version"] is None:
            # refused by kame.parse: ARP and non-IP are not drops here
            assert row["ip_version"] is None and row["src"] is None
            if row["verdict"] == "drop":
                assert row["reason"].startswith(want["reason"][:20])
            else:
                assert row["verdict"] in ("ok", "not ip")
            continue
        got = {k: row[k] for k in want}
        assert got == want, frame.hex()


def test_the_corpus_covers_every_column():
    t = table(pcap(FRAMES))
    for name in t.column_names:
        assert t.column(name).null_count < t.num_rows, name
    assert set(t.column("verdict").to_pylist()) == {"ok", "cksum bad", "drop", "not ip"}
    assert {6, 4} <= set(t.column("ip_version").to_pylist())


@settings(max_examples=30)
@given(st.lists(st.sampled_from(FRAMES), min_size=1, max_size=30), st.booleans(),
       st.integers(1, 4096))
def test_pcapng_and_chunking_give_the_same_columns(frames, big, chunk):
    data = pcap(frames)
    whole = table(data)
    assert table(data, chunk=chunk) == whole
    buf = io.BytesIO()
    w = PcapngWriter(buf, LINKTYPE_ETHERNET, big_endian=big)
    for i, f in enumerate(frames):
        w.write(1_700_000_000.0 + i * 0.25, f)
    ng = table(buf.getvalue())
    drop = ["offset", "ts"]  # the pcapng writer keeps nanoseconds of a float
    assert ng.drop_columns(drop) == whole.drop_columns(drop)
    ts = zip(ng.column("ts").cast("int64").to_pylist(), whole.column("ts").cast("int64").to_pylist(),
             strict=True)
    assert all(abs(a - b) < 1000 for a, b in ts)


@settings(max_examples=40)
@given(st.lists(st.sampled_from(FRAMES), min_size=1, max_size=30),
       st.lists(st.integers(0, 4000), max_size=6))
def test_byte_ranges_tile_the_file(frames, cuts):
    data = pcap(frames)
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    f = io.BytesIO(data)
    parts = [
        b for lo, hi in itertools.pairwise(bounds)
        for b in capture.read_range(f, lo, hi, batch_rows=8)
    ]
    assert pa.Table.from_batches(parts, schema=capture.schema()) == table(data)


@settings(max_examples=150)
@given(st.binary(max_size=300), st.integers(1, 64))
def test_any_bytes_give_rows_or_a_typed_error(data, chunk):
    for blob in (data, pcap([data]), pcap([data, data])[: 24 + len(data)]):
        try:
            t = table(blob, chunk=chunk)
        except KameError:
            continue
        assert t.num_rows <= 2


def test_a_truncated_file_yields_its_rows_then_raises():
    data = pcap(FRAMES)
    it = capture.batches(io.BytesIO(data[:-5]), batch_rows=4)
    got = 0
    with pytest.raises(KameError, match="truncated"):
        for b in it:
            got += b.num_rows
    assert got == len(FRAMES) - 1


def test_arguments_are_checked():
    with pytest.raises(ValueError):
        kame._core.CaptureColumns(batch_rows=0)
    cc = kame._core.CaptureColumns()
    with pytest.raises(ValueError):
        cc.seek(100)
    with pytest.raises(ValueError, match="pcap"):
        list(capture.read_range(io.BytesIO(b"\x0a\x0d\x0d\x0a" + bytes(40)), 30, 60))


def test_parquet_round_trips_and_duckdb_reads_it(tmp_path):
    src = tmp_path / "c.pcap"
    src.write_bytes(pcap(FRAMES * 20))
    dest = tmp_path / "c.parquet"
    assert capture.to_parquet(src, dest, batch_rows=50) == len(FRAMES) * 20
    t = capture.read(src)
    back = pq.read_table(dest)
    assert back.equals(t)
    con = duckdb.connect()
    q = f"SELECT verdict, count(*) AS n FROM read_parquet('{dest}') GROUP BY verdict ORDER BY verdict"
    by_duck = dict(con.execute(q).fetchall())
    assert by_duck == {d["values"]: d["counts"] for d in t.column("verdict").value_counts().to_pylist()}
    ports = con.execute(f"SELECT sum(dport) FROM read_parquet('{dest}') WHERE ip_version = 6").fetchone()
    assert ports is not None
    v6 = [r["dport"] or 0 for r in t.to_pylist() if r["ip_version"] == 6]
    assert ports[0] == sum(v6)


# --- a file given by path: mapped into memory, read in place ---


def _mapped_table(path: object, **kw: object) -> pa.Table:
    cf = kame._core.CaptureFile(path, **kw)  # type: ignore[arg-type]
    out = []
    while (cols := cf.next_batch()) is not None:
        out.append(capture._batch(cols))
    cf.close()
    return pa.Table.from_batches(out, schema=capture.schema())


def test_addresses_are_fixed_16_octets_ipv4_mapped():
    t = table(pcap(FRAMES))
    assert t.schema.field("src").type == pa.binary(16) == t.schema.field("nd_target").type
    v4 = [r for r in t.to_pylist() if r["ip_version"] == 4]
    assert v4 and all(r["src"] == mapped(bytes([192, 0, 2, 1])) for r in v4)
    text = capture.address_text(t.column("src")).to_pylist()
    assert "192.0.2.1" in text and "fe80::1" in text and None in text


def test_batches_dropped_as_they_come_give_the_table(tmp_path):
    # The buffers of batches done with hold later batches (of this file
    # and of the next one read): each must come out as if fresh.
    full = [FRAMES[1], FRAMES[10]]  # TCP and ICMP: ports, TCP, ICMP set
    for name, frames in (("full", full * 6000), ("mixed", FRAMES * 600), ("full2", full * 6000)):
        path = tmp_path / f"{name}.pcap"
        data = pcap(frames)
        path.write_bytes(data)
        want = table(data, batch_rows=4096).to_batches()
        n = 0
        for i, b in enumerate(capture.batches(path, batch_rows=4096)):
            assert b.equals(want[i]), (name, i)
            n += b.num_rows
        assert n == len(frames)


def test_arp_and_other_payloads_have_their_verdicts():
    arp, lldp = FRAMES[14], FRAMES[15]
    assert arp[12:14] == b"\x08\x06" and lldp[12:14] == b"\x88\xcc"
    rows = table(pcap([arp, lldp, arp[:30]])).to_pylist()
    assert [r["verdict"] for r in rows] == ["ok", "not ip", "drop"]
    assert rows[0]["chain"] is None and rows[1]["reason"] is None and rows[2]["reason"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(FRAMES + EXT_FRAMES), st.integers(0, 120), st.integers(0, 255)),
                min_size=1, max_size=30), st.booleans())
def test_the_lean_path_gives_the_general_dissections_columns(tmp_path_factory, edits, verify):
    frames = []
    for f, at, v in edits:
        g = bytearray(f)
        if at < len(g):
            g[at] = v
        frames.append(bytes(g))
    path = tmp_path_factory.mktemp("l") / "c.pcap"
    path.write_bytes(pcap(frames))
    lean = _mapped_table(path, verify_cksum=verify)
    assert lean == _mapped_table(path, verify_cksum=verify, lean=False)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(FRAMES), min_size=0, max_size=40), st.integers(1, 50), st.booleans())
def test_a_mapped_file_gives_the_columns_of_the_stream(tmp_path_factory, frames, batch_rows, ng):
    if ng:
        buf = io.BytesIO()
        w = PcapngWriter(buf, LINKTYPE_ETHERNET)
        for i, f in enumerate(frames):
            w.write(1_700_000_000.0 + i * 0.25, f)
        data = buf.getvalue()
    else:
        data = pcap(frames)
    path = tmp_path_factory.mktemp("m") / "c.pcap"
    path.write_bytes(data)
    got = _mapped_table(path, batch_rows=batch_rows)
    assert got == table(data)
    assert all(b.num_rows <= batch_rows for b in got.to_batches())
    assert capture.read(path) == got


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(FRAMES), min_size=1, max_size=30),
       st.lists(st.integers(0, 4000), max_size=6))
def test_byte_ranges_of_a_mapped_file_tile_it(tmp_path_factory, frames, cuts):
    data = pcap(frames)
    path = tmp_path_factory.mktemp("r") / "c.pcap"
    path.write_bytes(data)
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    parts = [
        b for lo, hi in itertools.pairwise(bounds)
        for b in capture.read_range(path, lo, hi, batch_rows=8)
    ]
    assert pa.Table.from_batches(parts, schema=capture.schema()) == table(data)


def test_a_truncated_mapped_file_yields_its_rows_then_raises(tmp_path):
    path = tmp_path / "t.pcap"
    path.write_bytes(pcap(FRAMES)[:-5])
    got = 0
    with pytest.raises(KameError, match="truncated"):
        for b in capture.batches(path, batch_rows=4):
            got += b.num_rows
    assert got == len(FRAMES) - 1
    empty = tmp_path / "e.pcap"
    empty.write_bytes(b"")
    with pytest.raises(KameError):
        list(capture.batches(empty))
    with pytest.raises(ValueError, match="pcap"):
        ng = tmp_path / "n.pcapng"
        ng.write_bytes(b"\x0a\x0d\x0d\x0a" + bytes(40))
        list(capture.read_range(ng, 30, 60))
    with pytest.raises(FileNotFoundError):
        kame._core.CaptureFile(tmp_path / "missing.pcap")


def test_column_buffers_are_handed_to_pyarrow_without_a_copy(tmp_path):
    path = tmp_path / "c.pcap"
    path.write_bytes(pcap(FRAMES))
    cols = kame._core.CaptureFile(path).next_batch()
    assert cols is not None
    data = cols["sport"][2]
    assert isinstance(data, kame._core.ColumnBuffer)
    view = memoryview(data)  # type: ignore[arg-type]
    assert view.readonly and len(view) == 2 * len(FRAMES)
    with pytest.raises(TypeError, match="read-only"):
        memoryview(data).cast("B")[0:1] = b"x"  # type: ignore[index]
    b = capture._batch(cols)
    assert b.column("sport").buffers()[1].address == pa.py_buffer(data).address
