"""pcapng: our writer and reader agree (hypothesis round trips over
interfaces, link types, byte orders and timestamps), foreign layouts read
(big-endian, several sections, SPB, obsolete PB, microsecond and 2^-n
resolutions, unknown blocks), and hostile files give typed errors with
bounded reads."""

from __future__ import annotations

import io
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kame.errors import LimitError, MalformedError, ParseError, TruncatedError
from kame.link.pcap import (
    LINKTYPE_ETHERNET,
    LINKTYPE_RAW,
    PcapngReader,
    PcapngWriter,
    PcapReader,
    PcapWriter,
    open_capture,
)

FRAMES = [(1.5, b"\x01" * 60), (2.000001, b"\x02" * 1514), (3.25, b"")]


def write(big: bool = False, frames=FRAMES) -> bytes:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    w = PcapngWriter(buf, if_name="eth0", big_endian=big)
    for t, f in frames:
        w.write(t, f)
    return buf.getvalue()


def read(data: bytes, **kw: int) -> list:  # type: ignore[type-arg]
    return list(PcapngReader(io.BytesIO(data), **kw))


def block(e: str, btype: int, body: bytes, total: int | None = None,
          trailer: int | None = None) -> bytes:
    body += b"\0" * ((-len(body)) % 4)
    n = len(body) + 12 if total is None else total
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n if trailer is None
                                                               else trailer)


def shb(e: str = "<") -> bytes:
    return block(e, 0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(e: str = "<", linktype: int = 1, snaplen: int = 0, opts: bytes = b"") -> bytes:
    return block(e, 1, struct.pack(e + "HHI", linktype, 0, snaplen) + opts)


def epb(e: str, ifid: int, ticks: int, data: bytes, caplen: int | None = None) -> bytes:
    cl = len(data) if caplen is None else caplen
    return block(e, 6, struct.pack(e + "IIIII", ifid, ticks >> 32, ticks & 0xFFFFFFFF, cl,
                                   len(data)) + data)


def test_round_trip_both_byte_orders() -> None:
    for big in (False, True):
        r = PcapngReader(io.BytesIO(write(big)))
        recs = list(r)
        assert [x.frame for x in recs] == [f for _, f in FRAMES]
        assert [x.ts for x in recs] == pytest.approx([t for t, _ in FRAMES], abs=1e-9)
        assert r.endian == (">" if big else "<")
        assert r.interfaces[0].name == "eth0" and r.interfaces[0].tsresol == 10 ** 9
        assert r.userappl == "kame" and r.linktype == LINKTYPE_ETHERNET


@given(
    big=st.booleans(),
    ifaces=st.lists(st.tuples(st.sampled_from([LINKTYPE_ETHERNET, LINKTYPE_RAW, 228]),
                              st.one_of(st.none(), st.text(max_size=20))),
                    min_size=1, max_size=4),
    pkts=st.lists(st.tuples(st.integers(0, 2**40), st.binary(max_size=300),
                            st.integers(0, 3)), max_size=30),
)
def test_round_trip_property(big: bool, ifaces, pkts) -> None:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    (lt0, name0), *more = ifaces
    w = PcapngWriter(buf, lt0, if_name=name0 or None, big_endian=big)
    for lt, name in more:
        w.add_interface(lt, if_name=name or None)
    want = []
    for ns, data, i in pkts:
        i %= len(ifaces)
        w.write(ns / 1e9, data, i)
        want.append((ns, data, i, ifaces[i][0]))
    r = PcapngReader(io.BytesIO(buf.getvalue()))
    got = list(r)
    assert [(x.frame, x.interface, x.linktype) for x in got] == [(d, i, lt) for _, d, i, lt in want]
    assert all(abs(x.ts - ns / 1e9) < 1e-6 for x, (ns, *_rest) in zip(got, want, strict=True))
    assert [x.name for x in r.interfaces] == [n or None for _, n in ifaces]


def test_foreign_layouts() -> None:
    # big-endian section with a microsecond interface (no if_tsresol) and a
    # 2^-10 one, an unknown block, a Simple Packet Block, an obsolete Packet
    # Block, then a second, little-endian section whose interface ids restart.
    b = ">"
    tsres = struct.pack(b + "HH", 9, 1) + b"\x8a\0\0\0" + struct.pack(b + "HH", 0, 0)
    sec1 = (shb(b) + idb(b, 1, 64) + idb(b, 101, 0, tsres) + block(b, 0x0BAD, b"xyzw")
            + block(b, 3, struct.pack(b + "I", 100) + b"A" * 100)
            + epb(b, 1, 3 * 1024, b"raw!")
            + block(b, 2, struct.pack(b + "HHIIII", 0, 0, 0, 2_000_000, 3, 3) + b"old"))
    sec2 = shb("<") + idb("<", 1) + epb("<", 0, 7_000_000, b"second")
    r = PcapngReader(io.BytesIO(sec1 + sec2))
    recs = list(r)
    assert [x.frame for x in recs] == [b"A" * 64, b"raw!", b"old", b"second"]
    assert recs[0].orig_len == 100 and recs[0].linktype == 1
    assert recs[1].ts == 3.0 and recs[1].linktype == 101 and recs[1].interface == 1
    assert recs[2].ts == 2.0
    assert recs[3].ts == 7.0 and recs[3].interface == 0
    assert r.sections == 2 and r.endian == "<" and len(r.interfaces) == 1


def test_open_capture_picks_the_format() -> None:
    buf = io.BytesIO()
    w = PcapWriter(buf)
    for t, f in FRAMES:
        w.write(t, f)
    for data, kind in ((buf.getvalue(), PcapReader), (write(), PcapngReader),
                       (write(True), PcapngReader)):
        r = open_capture(io.BytesIO(data))
        assert isinstance(r, kind)
        assert [x.frame for x in r] == [f for _, f in FRAMES]


# --- hostile files -------------------------------------------------------------------

def test_not_pcapng_and_bad_magic() -> None:
    with pytest.raises(MalformedError) as e:
        PcapngReader(io.BytesIO(b"\xd4\xc3\xb2\xa1" + bytes(40)))
    assert e.value.layer == "pcapng" and e.value.offset == 0
    data = bytearray(write())
    data[8:12] = b"\0\0\0\0"
    with pytest.raises(MalformedError) as e:
        read(bytes(data))
    assert e.value.offset == 8
    data = bytearray(write())
    struct.pack_into("<H", data, 12, 2)
    with pytest.raises(MalformedError, match="version 2"):
        read(bytes(data))


@pytest.mark.parametrize("total", [0, 4, 8, 13, 30])
def test_bad_block_lengths(total: int) -> None:
    bad = struct.pack("<II", 6, total) + bytes(40)
    with pytest.raises(MalformedError) as e:
        read(shb() + idb() + bad)
    assert e.value.offset == len(shb() + idb()) + 4


def test_trailer_mismatch_and_overruns() -> None:
    with pytest.raises(MalformedError, match="trailing"):
        read(shb() + idb() + block("<", 6, bytes(24), trailer=40))
    with pytest.raises(MalformedError, match="overruns"):
        read(shb() + idb() + epb("<", 0, 0, b"abcd", caplen=40))
    with pytest.raises(MalformedError, match="interface 1"):
        read(shb() + idb() + epb("<", 1, 0, b"abcd"))
    with pytest.raises(MalformedError, match="option"):
        read(shb() + idb(opts=struct.pack("<HH", 2, 200) + b"eth0"))
    with pytest.raises(MalformedError, match="tsresol"):
        read(shb() + idb(opts=struct.pack("<HH", 9, 1) + b"\x50\0\0\0"))


def test_truncation_anywhere_is_typed() -> None:
    data = write()
    ends = set()
    pos = 0
    while pos < len(data):  # block boundaries: a clean, shorter file
        ends.add(pos)
        pos += struct.unpack_from("<I", data, pos + 4)[0]
    for cut in range(1, len(data)):
        if cut in ends:
            read(data[:cut])
            continue
        with pytest.raises(TruncatedError) as e:
            read(data[:cut])
        assert e.value.layer == "pcapng" and e.value.needed > e.value.available


def test_limits() -> None:
    huge = struct.pack("<II", 6, 0xFFFFFFF0)
    with pytest.raises(LimitError) as e:
        read(shb() + idb() + huge)
    assert e.value.limit == 262144 + 65536
    with pytest.raises(LimitError):
        read(write(), max_caplen=1000)
    with pytest.raises(LimitError):
        read(write(), max_records=2)
    assert len(read(write(), max_records=3)) == 3
    with pytest.raises(LimitError):
        read(shb() + idb() * 5, max_interfaces=4)
    # strict: a packet longer than its interface's snaplen
    with pytest.raises(LimitError):
        list(PcapngReader(io.BytesIO(shb() + idb(snaplen=10) + epb("<", 0, 0, b"x" * 20)),
                          strict=True))


class _CountingIO(io.BytesIO):
    largest = 0

    def read(self, n: int | None = -1) -> bytes:  # type: ignore[override]
        data = super().read(n)
        _CountingIO.largest = max(_CountingIO.largest, len(data))
        return data


@given(st.binary(max_size=400))
def test_reader_never_crashes(data: bytes) -> None:
    _CountingIO.largest = 0
    try:
        for _ in PcapngReader(_CountingIO(shb() + data), max_caplen=1000):
            pass
    except (ParseError, LimitError):
        pass
    assert _CountingIO.largest <= 1000 + 65536


@given(st.binary(min_size=1, max_size=200), st.integers(0, 2**32 - 1))
def test_reader_on_mutated_valid_file(noise: bytes, seed: int) -> None:
    data = bytearray(write(seed % 2 == 1))
    for i, b in enumerate(noise):
        data[(seed + i * 37) % len(data)] ^= b
    try:
        for _ in PcapngReader(io.BytesIO(bytes(data))):
            pass
    except (ParseError, LimitError):
        pass
