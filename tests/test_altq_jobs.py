"""JoBS (seed §5, kame.altq.jobs) on a virtual clock with Poisson arrivals:
relative delay and loss differentiation at their configured ratios, an
absolute delay bound kept (delays measured here, frame by frame), an
absolute rate guarantee, an absolute loss bound, the ``jobs`` syntax and
the conservation of frames."""

from __future__ import annotations

import math
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_altq import drain, frame6

from kame.altq import parse_altq_conf
from kame.altq.jobs import Jobs
from kame.cli.altq import format_altq
from kame.errors import AltqConfError


def tagged(size: int, port: int, seq: int) -> bytes:
    f = bytearray(frame6(size, dport=port))
    f[62:66] = struct.pack("!I", seq)
    return bytes(f)


def jobs_run(classes: str, offered: dict[int, float], seconds: float = 3.0,
             qlimit: int = 100, size: int = 1000, opts: str = "",
             seed: int = 1) -> tuple[dict[str, dict[str, float]], dict[int, list[float]]]:
    """Poisson arrivals at ``offered`` bit/s per destination port into a
    10 Mb/s JoBS link; per-class counters and each port's measured delays."""
    q = parse_altq_conf(f"interface eth0 bandwidth 10M jobs qlimit {qlimit} {opts}\n"
                        + classes).ifs["eth0"]
    rng = random.Random(seed)
    born: dict[int, float] = {}
    delays: dict[int, list[float]] = {p: [] for p in offered}
    now, seq, step = 0.0, 0, 0.0005
    while now < seconds:
        for p, rate in offered.items():
            lam = rate / (size * 8) * step
            k, acc, lim = 0, rng.random(), math.exp(-lam)
            while acc >= lim:
                k += 1
                acc *= rng.random()
            for _ in range(k):
                seq += 1
                born[seq] = now
                q.enqueue(tagged(size, p, seq), now)
        for f in drain(q, now):
            s = struct.unpack("!I", f[62:66])[0]
            if now > 0.5:
                delays[f[57]].append(now - born[s])
        now += step
    snap = {c["name"]: c for c in q.snapshot()["classes"]}
    return snap, delays


def loss(c: dict[str, float]) -> float:
    return c["drop_packets"] / (c["drop_packets"] + c["xmit_packets"])


RDC_RLC = """class jobs eth0 c0 NULL priority 0 rdc 2 rlc 2
class jobs eth0 c1 NULL priority 1 rdc 2 rlc 2
class jobs eth0 c2 NULL priority 2 default
filter6 eth0 c0 0 1 0 0 udp
filter6 eth0 c1 0 2 0 0 udp
"""


def test_jobs_relative_delay_and_loss_differentiation() -> None:
    """Class 1's delay and loss twice class 0's (rdc 2, rlc 2), the link
    overloaded 1.2 times."""
    snap, delays = jobs_run(RDC_RLC, {1: 4e6, 2: 4e6, 3: 4e6})
    d0 = sum(delays[1]) / len(delays[1])
    d1 = sum(delays[2]) / len(delays[2])
    assert d1 / d0 == pytest.approx(2.0, rel=0.1), (d0, d1)
    assert loss(snap["c1"]) / loss(snap["c0"]) == pytest.approx(2.0, rel=0.1)
    # ratios of 4: the same machinery, other numbers
    snap, delays = jobs_run(RDC_RLC.replace("rdc 2 rlc 2", "rdc 4 rlc 4"),
                            {1: 4e6, 2: 4e6, 3: 4e6}, seed=2)
    d0 = sum(delays[1]) / len(delays[1])
    d1 = sum(delays[2]) / len(delays[2])
    assert d1 / d0 == pytest.approx(4.0, rel=0.15), (d0, d1)


def test_jobs_absolute_delay_bound_and_rate_guarantee() -> None:
    classes = """class jobs eth0 voice NULL priority 0 adc 5000
class jobs eth0 video NULL priority 1 arc 4M
class jobs eth0 bulk NULL priority 2 default
filter6 eth0 voice 0 1 0 0 udp
filter6 eth0 video 0 2 0 0 udp
"""
    snap, delays = jobs_run(classes, {1: 2e6, 2: 6e6, 3: 6e6})
    # every voice packet left within its 5 ms (plus the step of this clock)
    assert delays[1] and max(delays[1]) <= 0.005 + 0.0005 + 1e-9
    assert snap["voice"]["adc_violations"] == 0
    assert snap["video"]["xmit_bytes"] * 8 / 3.0 >= 4e6 * 0.98
    assert max(delays[3]) > 0.02  # the class without bounds waits


def test_jobs_absolute_loss_bound() -> None:
    classes = """class jobs eth0 gold NULL priority 0 alc 0.01
class jobs eth0 rest NULL priority 1 default
filter6 eth0 gold 0 1 0 0 udp
"""
    snap, _ = jobs_run(classes, {1: 5e6, 2: 8e6})
    assert loss(snap["gold"]) <= 0.01
    assert loss(snap["rest"]) > 0.2


@pytest.mark.parametrize(("line", "what"), [
    ("class jobs eth0 x NULL", "without priority"),
    ("class jobs eth0 x root priority 3", "parent is NULL"),
    ("class jobs eth0 x NULL priority 0", "already in use"),
    ("class jobs eth0 x NULL priority 3 alc 2", "outside"),
    ("class jobs eth0 x NULL priority 3 alc nan", "outside"),
    ("class jobs eth0 x NULL priority 3 rdc 0", "outside"),
    ("class jobs eth0 x NULL priority 3 adc 0", "outside"),
    ("class jobs eth0 x NULL priority 3 red", "own buffer"),
    ("class jobs eth0 x NULL priority 3 pbandwidth 3", "unexpected"),
])
def test_jobs_conf_errors(line: str, what: str) -> None:
    with pytest.raises(AltqConfError) as e:
        parse_altq_conf("interface eth0 bandwidth 10M jobs\n"
                        "class jobs eth0 a NULL priority 0 default\n" + line + "\n")
    assert e.value.line == 3 and what in str(e.value), e.value
    with pytest.raises(AltqConfError) as e:
        parse_altq_conf("interface eth0 jobs\n")
    assert e.value.line == 1


def test_jobs_separate_buffers_and_altqstat() -> None:
    q = parse_altq_conf("interface eth0 bandwidth 1M jobs qlimit 5 separate\n"
                        "class jobs eth0 a NULL priority 0 default rdc 2\n"
                        "class jobs eth0 b NULL priority 1\n"
                        "filter6 eth0 b 0 2 0 0 udp\n").ifs["eth0"]
    d = q.disc
    assert isinstance(d, Jobs) and d.separate
    for _ in range(10):
        q.enqueue(frame6(1000, dport=1), 0.0)
        q.enqueue(frame6(1000, dport=2), 0.0)
    # each class its own 5 frames; the five more of each dropped on arrival
    assert [len(c) for c in d.classes()] == [5, 5]
    assert [c.stats.drop_packets for c in d.classes()] == [5, 5]
    text = format_altq([q.snapshot()])
    assert "[a] pri:0 default" in text and "JoBS rate:" in text


@settings(max_examples=60, deadline=None)
@given(arrivals=st.lists(st.tuples(st.integers(0, 3), st.integers(60, 1514),
                                   st.floats(0, 0.003)), min_size=1, max_size=300),
       separate=st.booleans())
def test_jobs_conservation(arrivals: list[tuple[int, int, float]], separate: bool) -> None:
    text = ("interface eth0 bandwidth 5M jobs qlimit 20" + (" separate" if separate else "")
            + "\nclass jobs eth0 a NULL priority 0 adc 4000 rdc 2 rlc 2\n"
            "class jobs eth0 b NULL priority 1 arc 1M alc 0.05 rdc 2 rlc 2\n"
            "class jobs eth0 c NULL priority 2 default\n"
            "filter6 eth0 a 0 1 0 0 udp\nfilter6 eth0 b 0 2 0 0 udp\n")
    q = parse_altq_conf(text).ifs["eth0"]
    now, sent = 0.0, 0
    for port, size, gap in arrivals:
        now += gap
        q.enqueue(frame6(max(size, 62), dport=port), now)
        assert sum(len(c) for c in q.disc.classes()) <= (60 if separate else 20)
        sent += len(drain(q, now))
    while (t := q.next_deadline(now)) is not None:
        now = max(now, t)
        sent += len(drain(q, now))
    cls = q.disc.classes()
    assert sum(c.stats.xmit_packets for c in cls) == sent
    assert len(arrivals) == sent + sum(c.stats.drop_packets for c in cls)
    assert all(not c.arrivals for c in q.disc.classes())  # type: ignore[attr-defined]
