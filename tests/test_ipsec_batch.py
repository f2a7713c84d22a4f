"""Batches over the cores (issue 12 item 5): EspSa/AhSa ``output_many`` and
``input_many`` give byte for byte what one call per packet in order gives,
and leave the SA in the same state (sequence number, replay window,
counters), for batches large enough to run on several threads: shuffled,
duplicated, corrupted and truncated packets, and extended sequence numbers
whose high half changes inside the batch."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kame.ipsec import AhSa, EspSa

SRC6 = bytes.fromhex("20010db8000000000000000000000001")
DST6 = bytes.fromhex("20010db8000000000000000000000002")


def udp6(n: int, tag: int) -> bytes:
    body = struct.pack("!HHHH", 1234, 53, 8 + n, 0) + bytes((tag + i) & 0xFF for i in range(n))
    return struct.pack("!IHBB", 0x60000000, len(body), 17, 64) + SRC6 + DST6 + body


def esp_gcm(**kw: object) -> EspSa:
    return EspSa(0x1001, "aes-gcm-16", bytes(range(20)), **kw)  # type: ignore[arg-type]


def esp_cbc(**kw: object) -> EspSa:
    return EspSa(0x1002, "aes-cbc", bytes(range(16)), "hmac-sha256", bytes(range(32)), **kw)  # type: ignore[arg-type]


def esp_ctr(**kw: object) -> EspSa:
    return EspSa(0x1003, "aes-ctr", bytes(range(20)), "hmac-sha1", bytes(range(20)), **kw)  # type: ignore[arg-type]


def esp_chacha(**kw: object) -> EspSa:
    return EspSa(0x1004, "chacha20-poly1305", bytes(range(36)), **kw)  # type: ignore[arg-type]


def ah_sha256(**kw: object) -> AhSa:
    return AhSa(0x2001, "hmac-sha256", bytes(range(32)), **kw)  # type: ignore[arg-type]


MAKERS = {"esp-gcm": esp_gcm, "esp-cbc": esp_cbc, "esp-ctr": esp_ctr, "esp-chacha": esp_chacha, "ah": ah_sha256}
MODES = {
    "transport": {},
    "tunnel": {"mode": "tunnel", "tunnel_src": "2001:db8::a", "tunnel_dst": "2001:db8::b"},
    "esn": {"esn": True, "replay_window": 128},
    # an IPv4 outer header (its checksum and ECN) and ESP-in-UDP (its
    # length and, over IPv6, its checksum): the batch writes every packet
    # into one buffer at an offset, so these are fixed up there
    "tunnel4-ecn": {"mode": "tunnel", "tunnel_src": "192.0.2.1", "tunnel_dst": "192.0.2.2", "ecn": 1},
    "udp-encap": {"udp_encap": True},
    "udp-encap-tunnel4": {"udp_encap": (4500, 4501), "mode": "tunnel", "tunnel_src": "192.0.2.1",
                          "tunnel_dst": "192.0.2.2"},
}


def make(kind: str, mode: str):  # type: ignore[no-untyped-def]
    if kind == "ah" and "udp_encap" in MODES[mode]:
        pytest.skip("AH is not carried in UDP")
    return MAKERS[kind](**MODES[mode])


def outcome(r: object) -> object:
    if isinstance(r, BaseException):
        return (type(r).__name__, str(r))
    return r


def one_by_one(f, packets):  # type: ignore[no-untyped-def]
    out = []
    for p in packets:
        try:
            out.append(f(p))
        except Exception as e:  # noqa: BLE001 - the exception is the result compared
            out.append(e)
    return out


def counters_delta(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: b[k] - a[k] for k in a}


# 300 packets of ~500 octets: enough work for the batch to use the threads
# it is allowed (``threads=``; one by default)
BIG = 300


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("kind", sorted(MAKERS))
@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_output_many_equals_one_by_one(kind: str, mode: str, data: st.DataObject) -> None:
    sa = make(kind, mode)
    n = data.draw(st.sampled_from([1, 5, BIG]), label="n")
    sizes = data.draw(st.lists(st.integers(0, 900), min_size=n, max_size=n), label="sizes")
    packets = [udp6(s, i) for i, s in enumerate(sizes)]
    # bad packets in between take no sequence number, as one by one
    for at in data.draw(st.lists(st.integers(0, n), max_size=3), label="bad"):
        packets.insert(at, b"\x60\x00")
    start = data.draw(st.sampled_from([0, 1000, 0xFFFFFF00]), label="start")
    sa.seq = start
    c0 = sa.counters
    threads = data.draw(st.sampled_from([1, 2, 4]), label="threads")
    batch = sa.output_many(packets, threads=threads)
    seq_after, c1 = sa.seq, sa.counters
    sa.seq = start
    single = one_by_one(sa.output, packets)
    assert [outcome(r) for r in batch] == [outcome(r) for r in single]
    assert sa.seq == seq_after
    assert counters_delta(c0, c1) == counters_delta(c1, sa.counters)


def test_output_many_sequence_space_runs_out_in_the_batch() -> None:
    sa = esp_gcm()
    sa.seq = 0xFFFFFFFF - 150
    batch = sa.output_many([udp6(500, i) for i in range(BIG)], threads=2)
    assert all(isinstance(r, bytes) for r in batch[:150])
    assert all(isinstance(r, Exception) for r in batch[150:])
    assert sa.seq == 0xFFFFFFFF


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("kind", sorted(MAKERS))
@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_input_many_equals_one_by_one(kind: str, mode: str, data: st.DataObject) -> None:
    tx, rx_batch, rx_single = (make(kind, mode) for _ in range(3))
    start = 0
    if mode == "esn":
        # the high half of the sequence number changes inside the batch
        start = data.draw(st.sampled_from([0, 0xFFFFFF80, 0x1FFFFFF00]), label="start")
        tx.seq = start
        if start:
            rx_batch.replay_top = rx_single.replay_top = start
    n = data.draw(st.sampled_from([3, BIG]), label="n")
    sent = tx.output_many([udp6(500, i) for i in range(n)])
    assert all(isinstance(p, bytes) for p in sent)
    rnd = random.Random(data.draw(st.integers(0, 2**32), label="seed"))
    packets: list[bytes] = list(sent)
    # reordered within reach of the window, duplicated, corrupted, cut
    window = data.draw(st.sampled_from([0, 8, 64, n]), label="reorder")
    for i in range(len(packets)):
        j = min(len(packets) - 1, i + rnd.randrange(window + 1))
        packets[i], packets[j] = packets[j], packets[i]
    for _ in range(data.draw(st.integers(0, 20), label="dups")):
        packets.insert(rnd.randrange(len(packets) + 1), rnd.choice(sent))
    for _ in range(data.draw(st.integers(0, 10), label="corrupt")):
        k = rnd.randrange(len(packets))
        b = bytearray(packets[k])
        b[rnd.randrange(40, len(b))] ^= 1 << rnd.randrange(8)
        packets.insert(rnd.randrange(len(packets) + 1), bytes(b))
    for _ in range(data.draw(st.integers(0, 3), label="cut")):
        p = rnd.choice(sent)
        packets.insert(rnd.randrange(len(packets) + 1), p[: rnd.randrange(len(p))])
    batch = rx_batch.input_many(packets, threads=data.draw(st.sampled_from([1, 2, 4]), label="threads"))
    single = one_by_one(rx_single.input, packets)
    assert [outcome(r) for r in batch] == [outcome(r) for r in single]
    assert rx_batch.replay_top == rx_single.replay_top
    assert rx_batch.counters == rx_single.counters
    # the same window: every packet sent is now accepted or refused alike
    assert [outcome(r) for r in one_by_one(rx_batch.input, sent)] == [
        outcome(r) for r in one_by_one(rx_single.input, sent)
    ]


def test_input_many_refuses_duplicates_inside_one_batch() -> None:
    tx, rx = esp_gcm(), esp_gcm()
    sent = tx.output_many([udp6(500, i) for i in range(BIG)])
    out = rx.input_many(sent + sent, threads=2)
    assert all(isinstance(r, bytes) for r in out[:BIG])
    assert all(type(r).__name__ == "ReplayError" for r in out[BIG:])
    assert rx.counters["replay_drops"] == BIG
    assert rx.counters["in_packets"] == BIG


def test_input_many_window_moves_only_after_the_icv() -> None:
    # a forged packet far ahead, then the genuine ones: the forged one
    # fails its ICV and does not move the window (RFC 4303 §3.4.3)
    tx, rx = esp_gcm(), esp_gcm()
    tx.seq = 5000
    far = bytearray(tx.output(udp6(500, 0)))
    far[-1] ^= 1
    tx.seq = 0
    sent = tx.output_many([udp6(500, i) for i in range(BIG)])
    out = rx.input_many([bytes(far), *sent], threads=2)
    assert type(out[0]).__name__ == "IntegrityError"
    assert all(isinstance(r, bytes) for r in out[1:])
    assert rx.replay_top == BIG
