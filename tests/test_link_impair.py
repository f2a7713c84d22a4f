"""kame.link.impair: the deterministic impairments (loss, duplication,
reordering, delay) the TAP wrapper and the memory link's filters apply,
checked against a fake TAP and against scapy's reading of the frames the
filters rewrite."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether

from kame.link.impair import ImpairedTap, Impairment, blackhole, ce_marker


class FakeTap:
    """What ImpairedTap needs of a TapDevice: frames from the kernel, frames to it."""

    name = "fake0"

    def __init__(self, incoming: list[bytes]) -> None:
        self.incoming = list(incoming)
        self.written: list[bytes] = []

    def read(self) -> bytes | None:
        return self.incoming.pop(0) if self.incoming else None

    def write(self, frame: bytes) -> int:
        self.written.append(frame)
        return len(frame)

    def fileno(self) -> int:
        return -1

    def close(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def frames(n: int) -> list[bytes]:
    return [bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IPv6(src="2001:db8::1", dst="2001:db8::2") / TCP(seq=i))
            for i in range(n)]


@given(st.integers(0, 2**32), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1))
@settings(max_examples=100, deadline=None)
def test_impairment_is_deterministic_and_counted(seed: int, loss: float, dup: float,
                                                 reorder: float) -> None:
    fs = frames(50)
    runs = []
    for _ in range(2):
        imp = Impairment(loss=loss, duplicate=dup, reorder=reorder, seed=seed, delay=0.01)
        runs.append(([imp.fate(f, 1.0) for f in fs], imp.counters))
    assert runs[0] == runs[1]  # the same seed, the same fates
    fates, c = runs[0]
    assert c["seen"] == 50
    assert c["lost"] == sum(1 for t in fates if not t)
    assert c["duplicated"] == sum(1 for t in fates if len(t) == 2)
    assert all(x >= 1.01 for t in fates for x in t)


def test_only_limits_the_impairment() -> None:
    imp = Impairment(loss=1.0, only=lambda f: f[12:14] == b"\x86\xdd")
    arp = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / ARP())
    assert imp.fate(arp, 0.0) == [0.0] and imp.fate(frames(1)[0], 0.0) == []


def test_impaired_tap_loses_duplicates_and_delays_both_ways() -> None:
    clock = Clock()
    fs = frames(200)
    dev = FakeTap(fs)
    tap = ImpairedTap(dev, rx=Impairment(loss=0.1, duplicate=0.05, reorder=0.1, seed=1),
                      tx=Impairment(delay=0.5, seed=2), clock=clock)
    got = []
    while (f := tap.read()) is not None:
        got.append(f)
    rx = tap.rx
    assert rx is not None
    # the reordered ones (and their duplicates) are still held back
    assert 200 - rx.lost + rx.duplicated - 2 * rx.reordered <= len(got) <= \
        200 - rx.lost + rx.duplicated - rx.reordered
    clock.t = 1.0
    while (f := tap.read()) is not None:
        got.append(f)
    assert len(got) == 200 - rx.lost + rx.duplicated
    assert [TCP(f[54:]).seq for f in got] != sorted(TCP(f[54:]).seq for f in got)
    tap.write(fs[0])
    assert dev.written == [] and tap.next_deadline() == pytest.approx(1.5)
    clock.t = 1.5
    tap.flush()
    assert dev.written == [fs[0]]


def test_blackhole_drops_only_big_ip_packets() -> None:
    flt = blackhole(1400)
    small = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IPv6() / TCP() / (b"x" * 1000))
    big = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IPv6() / TCP() / (b"x" * 1400))
    big4 = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP() / TCP() / (b"x" * 1400))
    arp = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / ARP()) + bytes(2000)
    assert flt(small) == small and flt(big) is None and flt(big4) is None and flt(arp) == arp


@given(st.sampled_from([0, 1, 2, 3]), st.integers(0, 63), st.booleans(),
       st.binary(max_size=40))
@settings(max_examples=100, deadline=None)
def test_ce_marker_marks_only_ect(ecn: int, dscp: int, v4: bool, payload: bytes) -> None:
    tos = (dscp << 2) | ecn
    l3: Any = IP(tos=tos, ttl=9) if v4 else IPv6(tc=tos)
    f = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / l3 / TCP() / payload)
    flt = ce_marker(1)
    out = flt(f)
    assert out is not None
    p = Ether(out)
    got = p[IP].tos if v4 else p[IPv6].tc
    assert got == ((dscp << 2) | 3 if ecn in (1, 2) else tos)
    assert flt.marked == (1 if ecn in (1, 2) else 0)  # type: ignore[attr-defined]
    if v4:  # scapy recomputes the header checksum: ours must be the same
        q = p[IP].copy()
        del q.chksum
        assert IP(bytes(q)).chksum == p[IP].chksum
    assert out[:15] == f[:15] and len(out) == len(f)


def test_ce_marker_every_nth() -> None:
    flt = ce_marker(3)
    f = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IPv6(tc=2) / TCP())
    outs = [flt(f) for _ in range(9)]
    assert sum(1 for o in outs if o != f) == 3
