"""WFQ, BLUE and RED's flowvalve (seed §5, kame.altq.wfq/blue/red) on a
virtual clock: fairness between flows whatever their rates and packet
sizes, the longest queue dropped first, BLUE's pmark rising and falling,
flowvalve blocking an unresponsive flow, and conservation of frames."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_altq import drain, frame6

from kame.altq import parse_altq_conf
from kame.altq.blue import Blue
from kame.altq.red import brtt
from kame.altq.subr import AltqClass
from kame.altq.wfq import Wfq
from kame.cli.altq import format_altq
from kame.errors import AltqConfError


def jain(xs: list[float]) -> float:
    return sum(xs) ** 2 / (len(xs) * sum(x * x for x in xs))


def flows_run(text: str, flows: dict[int, tuple[int, int]], seconds: float = 2.0) -> dict[int, float]:
    """``flows``: destination port -> (frames offered every 0.5 ms, size);
    each flow's rate (bit/s) after the first 0.5 s."""
    q = parse_altq_conf(text).ifs["eth0"]
    now = 0.0
    got = dict.fromkeys(flows, 0)
    while now < seconds:
        for p, (n, size) in flows.items():
            for _ in range(n):
                q.enqueue(frame6(size, dport=p, sport=p), now)
        for f in drain(q, now):
            if now >= 0.5:
                got[int.from_bytes(f[56:58], "big")] += len(f)
        now += 0.0005
    return {p: v * 8 / (seconds - 0.5) for p, v in got.items()}


def test_wfq_fair_between_flows_of_any_rate_and_size() -> None:
    r = flows_run("interface eth0 bandwidth 10M wfq hash full\n",
                  {1: (1, 1500), 2: (4, 400), 3: (10, 1000), 4: (2, 64)})
    assert sum(r.values()) == pytest.approx(10e6, rel=0.02)
    # the 64-octet flow offers only 2 Mb/s: it gets it all, the rest share evenly
    assert r[4] == pytest.approx(2 * 64 * 8 / 0.0005, rel=0.02)
    rest = [r[1], r[2], r[3]]
    assert jain(rest) > 0.999, r
    # FIFO for contrast: the heavy flow takes the link
    fifo = flows_run("interface eth0 bandwidth 10M fifoq\n",
                     {1: (1, 1500), 2: (4, 400), 3: (10, 1000), 4: (2, 64)})
    assert jain([fifo[1], fifo[2], fifo[3]]) < 0.8


def test_wfq_drops_from_the_longest_queue() -> None:
    d = Wfq(nqueues=16, qsize=20_000, hash_policy="srcport")
    q_if = parse_altq_conf("interface eth0 wfq\n").ifs["eth0"]
    q_if.disc = d
    for _ in range(30):
        q_if.enqueue(frame6(1000, sport=1), 0.0)
    for _ in range(3):
        assert q_if.enqueue(frame6(1000, sport=2), 0.0)
    assert d.bytes <= 20_000
    heavy = d.buckets[d.hash(q_if_flow(1))]
    light = d.buckets[d.hash(q_if_flow(2))]
    assert len(light.q) == 3 and len(heavy.q) == 17
    assert d.cls.stats.drop_packets == 13


def q_if_flow(sport: int):  # type: ignore[no-untyped-def]
    from kame.altq import extract_flow

    return extract_flow(frame6(1000, sport=sport))


def test_wfq_weights_share_in_proportion() -> None:
    d = Wfq(nqueues=64, hash_policy="srcport")
    f1, f2 = q_if_flow(1), q_if_flow(2)
    d.set_weight(d.hash(f2), 3)
    got = {1: 0, 2: 0}
    for _ in range(2000):
        for sp, fl in ((1, f1), (2, f2)):
            while len(d.buckets[d.hash(fl)].q) < 5:
                d.enqueue(d.cls, frame6(700, sport=sp), fl, 0.0)
        f = d.dequeue(0.0)
        assert f is not None
        got[int.from_bytes(f[54:56], "big")] += len(f)
    assert got[2] / got[1] == pytest.approx(3.0, rel=0.02)


@settings(max_examples=80, deadline=None)
@given(sizes=st.lists(st.lists(st.integers(60, 1514), min_size=1, max_size=8),
                      min_size=2, max_size=6),
       rounds=st.integers(50, 400))
def test_wfq_drr_fairness_bound(sizes: list[list[int]], rounds: int) -> None:
    """Backlogged flows of any packet sizes: what any two have sent differs
    by less than a quantum plus a largest packet (deficit round robin's bound)."""
    d = Wfq(nqueues=len(sizes), qsize=1 << 24, hash_policy="srcport")
    flows = {}
    for i in range(len(sizes)):
        sp = next(p for p in range(1, 10_000) if d.hash(q_if_flow(p)) == i)
        flows[sp] = (q_if_flow(sp), sizes[i])
    sent = dict.fromkeys(flows, 0)
    k = 0
    for _ in range(rounds):
        for sp, (fl, sz) in flows.items():
            b = d.buckets[d.hash(fl)]
            while len(b.q) < 3:
                d.enqueue(d.cls, frame6(sz[k % len(sz)], sport=sp), fl, 0.0)
                k += 1
        f = d.dequeue(0.0)
        assert f is not None
        sent[int.from_bytes(f[54:56], "big")] += len(f)
    assert max(sent.values()) - min(sent.values()) <= d.quantum + 1514 + 1514


@settings(max_examples=80, deadline=None)
@given(arrivals=st.lists(st.tuples(st.integers(0, 20), st.integers(60, 1514),
                                   st.floats(0, 0.002)), min_size=1, max_size=300),
       qsize=st.integers(1514, 30_000))
def test_wfq_conservation_and_bound(arrivals: list[tuple[int, int, float]], qsize: int) -> None:
    q = parse_altq_conf(f"interface eth0 bandwidth 5M wfq nqueues 8 qsize {qsize} "
                        "hash full\n").ifs["eth0"]
    d = q.disc
    assert isinstance(d, Wfq)
    now, sent = 0.0, 0
    for port, size, gap in arrivals:
        now += gap
        q.enqueue(frame6(max(size, 62), dport=port), now)
        assert d.bytes <= qsize
        assert d.bytes == sum(b.bytes for b in d.buckets)
        sent += len(drain(q, now))
    while (t := q.next_deadline(now)) is not None:
        now = max(now, t)
        sent += len(drain(q, now))
    s = d.cls.stats
    assert s.xmit_packets == sent
    assert len(arrivals) == sent + s.drop_packets + len(d)
    assert len(d) == 0 and d.bytes == 0


def test_wfq_conf_and_altqstat() -> None:
    q = parse_altq_conf("interface eth0 bandwidth 1M wfq nqueues 32 qsize 32K "
                        "hash dstaddr\n").ifs["eth0"]
    d = q.disc
    assert isinstance(d, Wfq) and (d.nqueues, d.qsize, d.hash_policy) == (32, 32768, "dstaddr")
    for _ in range(3):
        q.enqueue(frame6(1000), 0.0)
    assert len(drain(q, 0.0)) == 1  # the regulator's 1514 octets let one out
    out = format_altq([q.snapshot()])
    assert "WFQ hash:dstaddr nqueues:32 active:1 bytes:2000/32768" in out
    assert "qlen: 2/" in out
    for bad in ("wfq hash bogus", "wfq nqueues 0", "wfq qsize 0", "wfq nqueues 5000",
                "wfq qlimit 5", "wfq hash full hash full"):
        with pytest.raises(AltqConfError) as e:
            parse_altq_conf(f"# c\ninterface eth0 {bad}\n")
        assert e.value.line == 2


# --- BLUE -----------------------------------------------------------------------

def test_blue_pmark_rises_under_overload_and_falls_when_idle() -> None:
    q = parse_altq_conf("interface eth0 bandwidth 1M blue qlimit 30 holdtime 10\n").ifs["eth0"]
    d = q.disc
    assert isinstance(d, Blue)
    now = 0.0
    while now < 2.0:  # 4 Mb/s into 1 Mb/s
        q.enqueue(frame6(1000), now)
        drain(q, now)
        now += 0.002
    high = d.pmark
    assert high >= d.max_pmark // 2
    assert d.drop_unforced > d.drop_forced > 0
    assert len(d.cls) <= 30
    # light load, the queue empties between arrivals: pmark falls back
    for _ in range(3000):
        now += 0.011
        q.enqueue(frame6(100), now)
        drain(q, now)
    assert d.pmark < high // 4


def test_blue_ecn_marks_ect_instead_of_dropping() -> None:
    q = parse_altq_conf("interface eth0 bandwidth 1M blue qlimit 40 ecn\n").ifs["eth0"]
    d = q.disc
    assert isinstance(d, Blue)
    now, ce = 0.0, 0
    while now < 2.0:
        q.enqueue(frame6(1000, tclass=0x01), now)
        for f in drain(q, now):
            ce += (f[15] >> 4) & 0x03 == 0x03
        now += 0.002
    assert d.marked > 0 and d.drop_unforced == 0 and ce > 0
    assert len(d.cls) <= 40


@settings(max_examples=60, deadline=None)
@given(arrivals=st.lists(st.tuples(st.integers(60, 1514), st.floats(0, 0.003),
                                   st.booleans()), min_size=1, max_size=300))
def test_blue_conservation(arrivals: list[tuple[int, float, bool]]) -> None:
    d = Blue(AltqClass("blue", qlimit=20), ecn=True)
    q = parse_altq_conf("interface eth0 bandwidth 2M blue\n").ifs["eth0"]
    q.disc = d
    q._default = d.cls
    now, sent = 0.0, 0
    for size, gap, ect in arrivals:
        now += gap
        q.enqueue(frame6(max(size, 62), tclass=1 if ect else 0), now)
        assert len(d.cls) <= 20
        sent += len(drain(q, now))
    s = d.cls.stats
    assert len(arrivals) == s.xmit_packets + s.drop_packets + len(d.cls)
    assert s.drop_packets == d.drop_forced + d.drop_unforced


# --- flowvalve ------------------------------------------------------------------

def _fv_run(opt: str) -> tuple[dict[int, float], dict[str, int] | None]:
    q = parse_altq_conf(f"interface eth0 bandwidth 10M red thmin 5 thmax 15 qlimit 60 {opt}\n"
                        ).ifs["eth0"]
    now, got, i = 0.0, {0x99: 0, 0x05: 0}, 0
    while now < 5.0:
        for _ in range(2):  # 16 Mb/s of UDP that never backs off
            q.enqueue(frame6(1000, src="2001:db8::99"), now)
        if i % 8 == 0:  # 1 Mb/s
            q.enqueue(frame6(1000, src="2001:db8::5"), now)
        for f in drain(q, now):
            if now > 1.0:
                got[f[37]] += len(f)
        now += 0.001
        i += 1
    red = q.snapshot()["classes"][0]["red"]
    return {k: v * 8 / 4.0 for k, v in got.items()}, red.get("flowvalve")


def test_flowvalve_blocks_the_unresponsive_flow() -> None:
    plain, none = _fv_run("")
    valved, fv = _fv_run("flowvalve")
    assert none is None and fv is not None
    assert plain[0x05] < 0.7e6  # plain RED: the light flow loses a third and more
    assert valved[0x05] == pytest.approx(1e6, rel=0.01)  # flowvalve: it loses nothing
    assert fv["blocked"] == 1 and fv["predrop"] > 0


def test_flowvalve_fraction_threshold_is_floyd_fall() -> None:
    # Brtt(p) packets a round trip at drop rate p, decreasing in p
    assert brtt(0.01) == pytest.approx(1 / ((4 * 0.01 / 3) ** 0.5
                                            + 3 * (6 * 0.01 / 8) ** 0.5 * 0.01 * 1.0032))
    assert brtt(0.01) > brtt(0.1) > brtt(0.5)
    with pytest.raises(AltqConfError) as e:
        parse_altq_conf("interface eth0 rio flowvalve\n")
    assert e.value.line == 1


class _NaiveWfq(Wfq):
    """The longest bucket by a scan (ties to the lowest index), as a reference."""

    def _maxqueue(self):  # type: ignore[no-untyped-def]
        return max(self.active, key=lambda b: (b.bytes, -b.index))


@settings(max_examples=150, deadline=None)
@given(ops=st.lists(st.tuples(st.booleans(), st.integers(0, 40), st.integers(60, 1514)),
                    min_size=1, max_size=400),
       qsize=st.integers(1514, 12_000))
def test_wfq_longest_bucket_heap_matches_a_scan(ops: list[tuple[bool, int, int]],
                                                qsize: int) -> None:
    a = Wfq(nqueues=16, qsize=qsize, hash_policy="srcport")
    b = _NaiveWfq(nqueues=16, qsize=qsize, hash_policy="srcport")
    for add, sport, size in ops:
        for d in (a, b):
            if add:
                f = frame6(max(size, 62), sport=sport)
                d.enqueue(d.cls, f, q_if_flow(sport), 0.0)
            else:
                d.dequeue(0.0)
        assert [list(x.q) for x in a.buckets] == [list(x.q) for x in b.buckets]
    assert a.cls.stats.drop_packets == b.cls.stats.drop_packets


@pytest.mark.skipif(__import__("shutil").which("tshark") is None,
                    reason="tshark is installed by .ci/run")
def test_tshark_reads_blue_ce_marks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """BLUE with ecn marks CE rather than dropping ECT traffic: tshark counts
    as many CE marks as BLUE does, with every IPv4 checksum good."""
    import subprocess

    from test_altq import frame4

    from kame.link.pcap import PcapWriter

    q = parse_altq_conf("interface eth0 bandwidth 1M blue qlimit 30 ecn\n").ifs["eth0"]
    d = q.disc
    assert isinstance(d, Blue)
    dropped: list[bytes] = []
    real_drop = d.cls.drop

    def drop(f: bytes) -> bool:
        dropped.append(f)
        return real_drop(f)

    d.cls.drop = drop  # type: ignore[method-assign]
    frames: list[tuple[float, bytes]] = []
    now = 0.0
    while now < 1.0:
        q.enqueue(frame4(800, tos=0x02), now)
        q.enqueue(frame6(800, tclass=0x01), now)
        frames += [(now, f) for f in drain(q, now)]
        now += 0.004
    pcap = tmp_path / "blue.pcap"
    with open(pcap, "wb") as fh:
        w = PcapWriter(fh)
        for ts, f in frames:
            w.write(ts, f)
    out = subprocess.run(
        ["tshark", "-r", str(pcap), "-o", "ip.check_checksum:TRUE", "-T", "fields",
         "-E", "separator=,", "-e", "ip.dsfield.ecn", "-e", "ip.checksum.status",
         "-e", "ipv6.tclass.ecn"],
        capture_output=True, text=True, check=True, timeout=120).stdout.split("\n")
    rows = [r.split(",") for r in out if r]
    assert len(rows) == len(frames)
    ce = sum(1 for r in rows if r[0] == "3" or r[2] == "3")
    assert {r[1] for r in rows if r[0]} == {"1"}

    def is_ce(f: bytes) -> bool:
        return (f[12] == 0x08 and f[15] & 3 == 3) or (f[12] == 0x86 and (f[15] >> 4) & 3 == 3)

    # every mark BLUE counted is on the wire, still queued, or on a frame a
    # full queue later dropped at random
    assert ce > 0
    assert ce + sum(map(is_ce, d.cls.q)) + sum(map(is_ce, dropped)) == d.marked
    assert d.drop_unforced == 0  # all ECT: marked, never dropped early
