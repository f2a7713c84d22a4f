"""Batches spread over threads and batch results made cheaper (issue 12
item 5): ``IpcompSa.output_many(threads=)`` gives one call per packet's
results and counters; ESP batches on two threads give one call per
packet's results, window and counters over many pipelined runs (the
extended sequence number's high half changing between runs, replays of a
packet of an earlier run); ``nd6_input_many`` gives ``nd6_input``'s answer
for every frame whatever the fields it shares with the frame before."""

from __future__ import annotations

import random
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from kame import _core
from kame.ipsec import EspSa

SRC6 = bytes.fromhex("20010db8000000000000000000000001")
DST6 = bytes.fromhex("20010db8000000000000000000000002")


def udp6(n: int, tag: int) -> bytes:
    body = struct.pack("!HHHH", 1234, 53, 8 + n, 0) + bytes((tag * 7 + i // 3) & 0xFF for i in range(n))
    return struct.pack("!IHBB", 0x60000000, len(body), 17, 64) + SRC6 + DST6 + body


@settings(max_examples=15, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 1400), min_size=0, max_size=60),
    threads=st.sampled_from([1, 2, 4]),
    tunnel=st.booleans(),
    bad=st.lists(st.integers(0, 59), max_size=4),
)
def test_ipcomp_output_many_threads_equal_one_by_one(sizes: list[int], threads: int, tunnel: bool,
                                                     bad: list[int]) -> None:
    kw: dict[str, object] = {"mode": "tunnel", "tunnel_src": "2001:db8::a", "tunnel_dst": "2001:db8::b"} if tunnel \
        else {}
    packets = [udp6(n, i) for i, n in enumerate(sizes)]
    for i in bad:
        if i < len(packets):
            packets[i] = packets[i][:30]  # truncated: refused in both
    one = _core.IpcompSa(**kw)  # type: ignore[arg-type]
    many = _core.IpcompSa(**kw)  # type: ignore[arg-type]
    want = []
    for p in packets:
        try:
            want.append(one.output(p))
        except Exception as e:  # noqa: BLE001 - the batch gives the exception object
            want.append(e)
    got = many.output_many(packets, threads=threads)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        if isinstance(w, Exception):
            assert type(g) is type(w) and str(g) == str(w)
        else:
            assert g == w
    assert many.counters == one.counters
    # and they come back through input
    back = _core.IpcompSa(**kw)  # type: ignore[arg-type]
    for g, p in zip(got, packets, strict=True):
        if isinstance(g, bytes):
            assert back.input(g) == p


def test_ipcomp_output_many_threads_big_batch() -> None:
    """Enough packets for every thread to claim some: the same bytes and
    counters as one call per packet."""
    packets = [udp6(200 + (i * 37) % 1200, i) for i in range(300)]
    one, many = _core.IpcompSa(), _core.IpcompSa()
    want = [one.output(p) for p in packets]
    assert many.output_many(packets, threads=2) == want
    assert many.counters == one.counters
    assert many.counters["output_packets"] == 300


def test_esp_threads_many_runs_esn_and_replays() -> None:
    """3000 small packets on two threads: a dozen pipelined runs. The
    sequence numbers cross 2^32 (the high half of the ESN changes between
    runs), and the receiver's batch holds, shuffled nearby, duplicates of
    packets of earlier runs and corrupted packets; all as one call per
    packet gives them, window and counters included."""
    tx1 = EspSa(0x1001, "aes-gcm-16", bytes(range(20)), esn=True, replay_window=256)
    txn = EspSa(0x1001, "aes-gcm-16", bytes(range(20)), esn=True, replay_window=256)
    tx1.seq = txn.seq = 2**32 - 1500
    packets = [udp6(16 + i % 48, i) for i in range(3000)]
    want = [tx1.output(p) for p in packets]
    got = txn.output_many(packets, threads=2)
    assert got == want and txn.seq == tx1.seq and txn.counters == tx1.counters
    rng = random.Random(5)
    wire = list(want)
    for i in range(0, len(wire) - 8, 5):
        j = i + rng.randrange(8)
        wire[i], wire[j] = wire[j], wire[i]
    for k in range(40):
        at = rng.randrange(len(wire))
        wire.insert(at, wire[rng.randrange(max(at, 1))])
        if k % 4 == 0:
            bad = bytearray(wire[rng.randrange(len(wire))])
            bad[-1] ^= 1
            wire.insert(rng.randrange(len(wire)), bytes(bad))
    rx1 = EspSa(0x1001, "aes-gcm-16", bytes(range(20)), esn=True, replay_window=256)
    rxn = EspSa(0x1001, "aes-gcm-16", bytes(range(20)), esn=True, replay_window=256)
    rx1.replay_top = rxn.replay_top = 2**32 - 1500
    want_in: list[object] = []
    for w in wire:
        try:
            want_in.append(rx1.input(w))
        except Exception as e:  # noqa: BLE001 - the batch gives the exception object
            want_in.append(e)
    got_in = rxn.input_many(wire, threads=2)
    for g, w in zip(got_in, want_in, strict=True):
        if isinstance(w, Exception):
            assert type(g) is type(w)
        else:
            assert g == w
    assert rxn.replay_top == rx1.replay_top and rxn.counters == rx1.counters
    assert rx1.counters["replay_drops"] > 0 and rx1.counters["icv_failures"] > 0


MAC_N = bytes.fromhex("3333ff000002")
MAC_P = bytes.fromhex("020000000001")


def ns_frame(src: int, target: int, lladdr: bytes | None) -> bytes:
    dst = int.from_bytes(bytes.fromhex("ff0200000000000000000001ff") + target.to_bytes(16, "big")[13:], "big")
    return MAC_N + MAC_P + b"\x86\xdd" + _core.nd6_ns_output(src, dst, target, lladdr)


FE80 = 0xFE80 << 112


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.sampled_from([None, b"\x02\0\0\0\0\x01",
                                                                                  b"\x02\0\0\0\0\x02"]),
                          st.booleans()), max_size=30))
def test_nd6_input_many_shared_fields(frames: list[tuple[int, int, bytes | None, bool]]) -> None:
    """Runs of frames sharing source, target or link-layer address with
    the frame before, and frames that are not ND between them: each answer
    is ``nd6_input``'s."""
    batch = []
    for s, t, ll, junk in frames:
        f = ns_frame(FE80 | (s + 1), FE80 | (t + 0x10), ll)
        batch.append(f[:30] if junk else f)
    got = _core.nd6_input_many(batch)
    assert got == [_core.nd6_input(f) for f in batch]
    assert sum(g is not None for g in got) == sum(not junk for *_, junk in frames)
