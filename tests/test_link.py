"""Memory link, simulation, pcap/pcapng writers and the bounded pcap reader.

Oracles: dpkt and scapy read what we write, tshark reads our pcap and
pcapng files; we read what dpkt writes."""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kame.errors import LimitError, MalformedError, ParseError, TruncatedError
from kame.link.memory import MemoryLink, Simulation
from kame.link.pcap import LINKTYPE_ETHERNET, PcapngWriter, PcapReader, PcapWriter

M1 = bytes.fromhex("020000000001")
M2 = bytes.fromhex("020000000002")
M3 = bytes.fromhex("020000000003")
BCAST = b"\xff" * 6


def frame(dst: bytes, src: bytes, payload: bytes = b"x" * 46, ethertype: int = 0x86DD) -> bytes:
    return dst + src + struct.pack("!H", ethertype) + payload


# --- memory link ----------------------------------------------------------------

def test_delivery_and_filtering() -> None:
    link = MemoryLink()
    a, b, c = link.attach("a", M1), link.attach("b", M2), link.attach("c", M3)
    a.send(frame(M2, M1), 0.0)
    a.send(frame(BCAST, M1), 0.0)
    a.send(frame(bytes.fromhex("333300000001"), M1), 0.0)
    link.poll(0.0)
    assert len(b.recv()) == 3 and len(c.recv()) == 2 and a.recv() == []


def test_delay_order_and_determinism() -> None:
    def run(seed: int) -> list[tuple[float, bytes]]:
        link = MemoryLink(delay=0.01, jitter=0.05, seed=seed)
        a, _b = link.attach("a", M1), link.attach("b", M2)
        for i in range(50):
            a.send(frame(M2, M1, bytes([i]) * 46), i * 0.001)
        assert link.poll(0.0) == [] and link.next_deadline() >= 0.01
        out = link.poll(10.0)
        times = [d.time for d in out]
        assert times == sorted(times)
        return [(d.time, d.frame) for d in out]
    assert run(1) == run(1) != run(2)


def test_loss_is_seeded() -> None:
    link = MemoryLink(loss=0.3, seed=9)
    a, b = link.attach("a", M1), link.attach("b", M2)
    for i in range(1000):
        a.send(frame(M2, M1), float(i))
    link.poll(1e9)
    got = len(b.recv())
    assert got + link.lost == 1000 and 600 < got < 800


def test_loop_multicast_and_bounds() -> None:
    link = MemoryLink(loop_multicast=True, max_in_flight=3)
    a = link.attach("a", M1)
    a.send(frame(BCAST, M1), 0.0)
    a.send(frame(M2, M1), 0.0)
    link.poll(0.0)
    assert len(a.recv()) == 1  # only the multicast echoed
    for _ in range(10):
        a.send(frame(BCAST, M1), 1.0)
    assert link.dropped == 7
    a.send(b"\0" * 2000, 2.0)  # larger than the MTU
    assert link.dropped == 8
    with pytest.raises(ValueError):
        link.attach("a")
    with pytest.raises(ValueError):
        MemoryLink(loss=2.0)


class Echo:
    """A toy sans-I/O node: answers every unicast frame after 1 s."""

    def __init__(self, mac: bytes) -> None:
        self.mac = mac
        self.pending: list[tuple[float, bytes]] = []
        self.got: list[float] = []

    def receive(self, ifname: str, fr: bytes, now: float) -> list[tuple[str, bytes]]:
        self.got.append(now)
        if fr[:6] == self.mac:
            self.pending.append((now + 1.0, frame(fr[6:12], self.mac)))
        return []

    def poll(self, now: float) -> list[tuple[str, bytes]]:
        due = [f for t, f in self.pending if t <= now]
        self.pending = [(t, f) for t, f in self.pending if t > now]
        return [("eth0", f) for f in due]

    def next_deadline(self) -> float | None:
        return min((t for t, _ in self.pending), default=None)


def test_simulation_runs_nodes_on_one_clock(tmp_path: Path) -> None:
    link = MemoryLink(delay=0.1)
    sim = Simulation()
    n1, n2 = Echo(M1), Echo(M2)
    ep1 = sim.connect(n1, "eth0", link, M1)
    sim.connect(n2, "eth0", link, M2)
    cap = io.BytesIO()
    link.add_tap(PcapWriter(cap))
    ep1.send(frame(M2, M1), 0.0)
    sim.run(until=10.0)
    # n2 got it at 0.1, answered at 1.1, n1 got the answer at 1.2, answered at 2.2 ...
    assert n2.got[:2] == pytest.approx([0.1, 2.3]) and n1.got[:2] == pytest.approx([1.2, 3.4])
    assert sim.now == 10.0
    recs = list(PcapReader(io.BytesIO(cap.getvalue())))
    assert [round(r.ts, 6) for r in recs[:3]] == [0.0, 1.1, 2.2]


# --- pcap -----------------------------------------------------------------------

FRAMES = [(1.5, frame(M2, M1)), (2.000001, frame(BCAST, M1, b"y" * 100)), (3.25, frame(M1, M2))]


def write(nano: bool = False) -> bytes:
    buf = io.BytesIO()
    w = PcapWriter(buf, nanosecond=nano)
    for t, f in FRAMES:
        w.write(t, f)
    return buf.getvalue()


@pytest.mark.parametrize("nano", [False, True])
def test_roundtrip(nano: bool) -> None:
    recs = list(PcapReader(io.BytesIO(write(nano))))
    assert [(round(r.ts, 6), r.frame) for r in recs] == [(round(t, 6), f) for t, f in FRAMES]


def test_dpkt_reads_ours_and_we_read_dpkts() -> None:
    dpkt = pytest.importorskip("dpkt")
    got = [(round(ts, 6), bytes(buf)) for ts, buf in dpkt.pcap.Reader(io.BytesIO(write()))]
    assert got == [(round(t, 6), f) for t, f in FRAMES]
    buf = io.BytesIO()
    w = dpkt.pcap.Writer(buf, linktype=LINKTYPE_ETHERNET)
    for t, f in FRAMES:
        w.writepkt(f, ts=t)
    recs = list(PcapReader(io.BytesIO(buf.getvalue())))
    assert [r.frame for r in recs] == [f for _, f in FRAMES]


def test_pcapng_read_by_scapy() -> None:
    scapy_utils = pytest.importorskip("scapy.utils")
    buf = io.BytesIO()
    w = PcapngWriter(buf, if_name="eth0")
    for t, f in FRAMES:
        w.write(t, f)
    buf.seek(0)
    pkts = list(scapy_utils.PcapNgReader(buf))
    assert [bytes(p) for p in pkts] == [f for _, f in FRAMES]
    assert [float(p.time) for p in pkts] == pytest.approx([t for t, _ in FRAMES])


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_tshark_reads_ours(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"t.{fmt}"
    with path.open("wb") as f:
        w = PcapWriter(f) if fmt == "pcap" else PcapngWriter(f, if_name="kame0")
        for t, fr in FRAMES:
            w.write(t, fr)
    res = subprocess.run(["tshark", "-r", str(path), "-T", "json"], capture_output=True,
                         text=True, timeout=120, check=True)
    pkts = json.loads(res.stdout)
    assert len(pkts) == 3
    frames = [p["_source"]["layers"]["frame"] for p in pkts]
    assert [float(fr["frame.time_epoch"]) for fr in frames] == pytest.approx([t for t, _ in FRAMES])
    assert [int(fr["frame.len"]) for fr in frames] == [len(f) for _, f in FRAMES]


# --- hostile pcaps ----------------------------------------------------------------

def test_bad_magic() -> None:
    with pytest.raises(MalformedError) as e:
        PcapReader(io.BytesIO(b"\x0a\x0d\x0d\x0a" + bytes(20)))
    assert e.value.layer == "pcap" and e.value.offset == 0


def test_truncated_header_and_record() -> None:
    data = write()
    with pytest.raises(TruncatedError) as e:
        PcapReader(io.BytesIO(data[:10]))
    assert e.value.needed == 24 and e.value.available == 10
    with pytest.raises(TruncatedError):
        list(PcapReader(io.BytesIO(data[:24 + 8])))
    with pytest.raises(TruncatedError) as e:
        list(PcapReader(io.BytesIO(data[:-5])))
    assert e.value.offset is not None


def test_absurd_caplen_and_record_limit() -> None:
    data = bytearray(write())
    struct.pack_into("<I", data, 24 + 8, 0x7FFFFFFF)
    with pytest.raises(LimitError) as e:
        list(PcapReader(io.BytesIO(bytes(data))))
    assert e.value.limit == 262144
    with pytest.raises(LimitError):
        list(PcapReader(io.BytesIO(write()), max_records=2))
    assert len(list(PcapReader(io.BytesIO(write()), max_records=3))) == 3


def test_big_endian_file() -> None:
    hdr = struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    rec = struct.pack(">IIII", 7, 500000, 4, 4) + b"abcd"
    (r,) = PcapReader(io.BytesIO(hdr + rec))
    assert r.ts == 7.5 and r.frame == b"abcd"


@given(st.binary(max_size=300))
def test_reader_never_crashes(data: bytes) -> None:
    try:
        for _ in PcapReader(io.BytesIO(data), max_caplen=1000):
            pass
    except (ParseError, LimitError):
        pass


@given(st.binary(max_size=200))
def test_reader_on_mutated_valid_file(noise: bytes) -> None:
    data = bytearray(write())
    for i, b in enumerate(noise):
        data[(i * 37) % len(data)] ^= b
    try:
        for _ in PcapReader(io.BytesIO(bytes(data))):
            pass
    except (ParseError, LimitError):
        pass
