"""ALTQ (seed §5, kame.altq) on a virtual clock: the token bucket regulator,
PRIQ, RED/RIO with ECN, HFSC, the classifier, bounds under a flood,
altq.conf's parser and the node's hooks."""

from __future__ import annotations

import random
import struct
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kame.altq import Altq, AltqClass, AltqIf, Tbr, extract_flow, parse_altq_conf
from kame.altq.fifoq import Fifoq
from kame.altq.red import Red, Rio, dscp_index, mark_ecn
from kame.errors import AltqConfError
from kame.node import Node

MAC = bytes.fromhex("020000000001")


def frame6(size: int = 1514, *, nh: int = 17, sport: int = 1000, dport: int = 2000,
           tclass: int = 0, flow: int = 0, src: str = "2001:db8::1",
           dst: str = "2001:db8::2") -> bytes:
    """An Ethernet frame of ``size`` octets carrying IPv6 (+UDP/TCP ports)."""
    plen = size - 54
    h = struct.pack("!IHBB", (6 << 28) | (tclass << 20) | flow, plen, nh, 64)
    h += IPv6Address(src).packed + IPv6Address(dst).packed
    body = struct.pack("!HH", sport, dport) + bytes(plen - 4)
    return b"\xff" * 6 + MAC + b"\x86\xdd" + h + body


def ip4_cksum(h: bytes) -> int:
    s = sum(struct.unpack(f"!{len(h) // 2}H", h))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame4(size: int = 1514, *, proto: int = 17, tos: int = 0, sport: int = 1000,
           dport: int = 2000, src: str = "192.0.2.1", dst: str = "198.51.100.2") -> bytes:
    tl = size - 14
    h = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, tos, tl, 1, 0, 64, proto, 0,
                              IPv4Address(src).packed, IPv4Address(dst).packed))
    h[10:12] = struct.pack("!H", ip4_cksum(bytes(h)))
    return b"\xff" * 6 + MAC + b"\x08\x00" + bytes(h) + struct.pack("!HH", sport, dport) + \
        bytes(tl - 24)


def drain(q: AltqIf, now: float) -> list[bytes]:
    out: list[tuple[str, bytes]] = []
    q.dequeue_ready(now, out)
    return [f for _, f in out]


# --- token bucket regulator ----------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(rate=st.sampled_from([64_000, 1_000_000, 10_000_000, 100_000_000]),
       depth=st.integers(1514, 20_000),
       arrivals=st.lists(st.tuples(st.floats(0, 0.05), st.integers(60, 1514)),
                         min_size=1, max_size=120))
def test_tbr_conforms_to_rate_and_depth(rate: int, depth: int,
                                        arrivals: list[tuple[float, int]]) -> None:
    """Octets released in any interval t never exceed rate/8 * t + depth, and
    following next_deadline every frame leaves."""
    q = AltqIf("eth0", Fifoq(AltqClass("f", qlimit=200)), tbr=Tbr(rate, depth))
    now = 0.0
    sent: list[tuple[float, int]] = []
    pending = sorted(arrivals)
    t_arr = 0.0
    for gap, size in pending:
        t_arr += gap
        # advance the clock through the deadlines until the next arrival
        while (d := q.next_deadline(now)) is not None and d <= t_arr:
            now = max(now, d)
            sent += [(now, len(f)) for f in drain(q, now)]
        now = t_arr
        assert q.enqueue(frame6(size), now)
        sent += [(now, len(f)) for f in drain(q, now)]
    guard = 0
    while (d := q.next_deadline(now)) is not None:
        now = max(now, d)
        sent += [(now, len(f)) for f in drain(q, now)]
        guard += 1
        assert guard < 10_000
    assert len(sent) == len(arrivals)
    assert sum(n for _, n in sent) == sum(n for _, n in arrivals)
    # every interval [t_i, t_j] between two releases
    for i in range(len(sent)):
        tot = 0
        for j in range(i, len(sent)):
            tot += sent[j][1]
            assert tot <= rate / 8 * (sent[j][0] - sent[i][0]) + depth + 1e-6


def test_tbr_backlogged_rate() -> None:
    """A backlogged queue leaves at the configured rate (within one frame)."""
    q = AltqIf("eth0", Fifoq(AltqClass("f", qlimit=5000)), tbr=Tbr(8_000_000, 3000))
    for _ in range(2000):
        q.enqueue(frame6(1000), 0.0)
    now, octets = 0.0, 0
    while (d := q.next_deadline(now)) is not None and d <= 1.0:
        now = d
        octets += sum(len(f) for f in drain(q, now))
    assert 1_002_000 <= octets <= 1_003_000  # rate * 1 s + depth, within a frame


def test_tbr_time_far_from_zero() -> None:
    """On an epoch-sized clock the deadlines still make progress (no busy loop)."""
    q = AltqIf("eth0", Fifoq(AltqClass("f", qlimit=100)), tbr=Tbr(1_000_000_000, 1514))
    t0 = 1.7e9
    for _ in range(50):
        q.enqueue(frame6(1514), t0)
    now, n, polls = t0, 0, 0
    while (d := q.next_deadline(now)) is not None:
        now = max(now, d)
        n += len(drain(q, now))
        polls += 1
        assert polls < 200
    assert n == 50


# --- PRIQ -----------------------------------------------------------------------

PRIQ_CONF = """
interface eth0 bandwidth 10M tbrsize 3028 priq
class priq eth0 high NULL priority 7
class priq eth0 low NULL priority 1 default
filter6 eth0 high 0 0 0 0 udp
"""


def _priq_run(high_rate: float, low_rate: float, seconds: float = 2.0) -> dict[str, int]:
    """Poisson-free steady sources (frames/s) into the 10 Mb/s PRIQ; octets out by class."""
    q = parse_altq_conf(PRIQ_CONF).ifs["eth0"]
    out = {"high": 0, "low": 0}
    now, step = 0.0, 0.001
    acc_h = acc_l = 0.0
    while now < seconds:
        acc_h += high_rate * step
        acc_l += low_rate * step
        while acc_h >= 1:
            q.enqueue(frame6(1250, nh=17), now)
            acc_h -= 1
        while acc_l >= 1:
            q.enqueue(frame6(1250, nh=6), now)
            acc_l -= 1
        for f in drain(q, now):
            out["high" if f[20] == 17 else "low"] += len(f)
        now += step
    return out


def test_priq_starves_lower_priority_under_overload() -> None:
    # 10 Mb/s link = 1000 frames/s of 1250 octets; high alone offers 1200/s
    out = _priq_run(1200, 300)
    assert out["high"] * 8 / 2.0 > 9.5e6
    assert out["low"] <= 3 * 1250 + 3028  # at most what slipped through before the backlog


def test_priq_does_not_starve_without_overload() -> None:
    out = _priq_run(500, 300)  # 800 frames/s of 1000
    assert abs(out["low"] / 2.0 / 1250 - 300) < 5
    assert abs(out["high"] / 2.0 / 1250 - 500) < 5


def test_priq_order_without_tbr() -> None:
    conf = parse_altq_conf(PRIQ_CONF.replace("bandwidth 10M tbrsize 3028 ", ""))
    q = conf.ifs["eth0"]
    for i in range(6):
        q.enqueue(frame6(100, nh=17 if i % 2 else 6), 0.0)
    got = [f[20] for f in drain(q, 0.0)]
    assert got == [17, 17, 17, 6, 6, 6]


# --- flood ----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["fifoq qlimit 40", "red qlimit 40", "rio qlimit 40", "priq",
                                  "hfsc"])
def test_queues_bounded_under_flood(kind: str) -> None:
    text = f"interface eth0 bandwidth 1M {kind}\n"
    if kind == "priq":
        text += "class priq eth0 a NULL priority 3 qlimit 40 default\n"
    if kind == "hfsc":
        text += "class hfsc eth0 a root pshare 100 qlimit 40 default\n"
    q = parse_altq_conf(text).ifs["eth0"]
    sent = xmit = 0
    for ms in range(1000):
        now = ms / 1000
        for _ in range(50):
            q.enqueue(frame6(1514), now)
            sent += 1
        xmit += len(drain(q, now))
        assert len(q.disc) <= 40
    drops = sum(c.stats.drop_packets for c in q.disc.classes())
    assert sent == xmit + drops + len(q.disc)
    assert drops > 40_000


# --- RED ------------------------------------------------------------------------

def _fj_gap_pmf(pb: float, kmax: int) -> list[float]:
    """Floyd and Jacobson's inter-drop gap distribution: after a drop, the
    k-th arrival is dropped with pa = pb / (1 - k pb) (pa = 1 once k pb >= 1)."""
    pmf, surv = [], 1.0
    for k in range(1, kmax + 1):
        pa = 1.0 if k * pb >= 1 else pb / (1 - k * pb)
        pmf.append(surv * min(pa, 1.0))
        surv *= 1 - min(pa, 1.0)
    return pmf


@pytest.mark.parametrize("qlen", [7, 10, 13])
def test_red_drop_probability_follows_the_curve(qlen: int) -> None:
    """With the queue held at qlen (so avg -> qlen), the gaps between early
    drops follow F&J's distribution for pb = (avg-thmin)/(invpmax (thmax-thmin))
    (chi-square, fixed seed); forced drops never happen below thmax."""
    red = Red(5, 15, 10, weight=1, rng=random.Random(1234))
    cls = AltqClass("r", qlimit=1000, red=red)
    for _ in range(qlen):
        cls.q.append(b"x")
    flow = extract_flow(frame6(100))
    gaps: list[int] = []
    since = 0
    red.st.old = True
    for _ in range(60_000):
        since += 1
        if red.addq(cls, b"y", flow, 0.0) is None:
            gaps.append(since)
            since = 0
    assert red.st.drop_forced == 0
    pb = (qlen - 5) / (10 * (15 - 5))
    pmf = _fj_gap_pmf(pb, 200)
    n = len(gaps)
    # bins of at least 5 expected, the tail merged
    chi, dof, acc_o, acc_e = 0.0, -1, 0, 0.0
    for k, p in enumerate(pmf, 1):
        acc_o += sum(1 for g in gaps if g == k)
        acc_e += p * n
        if acc_e >= 20:
            chi += (acc_o - acc_e) ** 2 / acc_e
            dof += 1
            acc_o, acc_e = 0, 0.0
    assert dof >= 3
    # chi-square 99.9th percentile is below dof + 4.5 sqrt(2 dof) + 5 for these dof
    assert chi < dof + 4.5 * (2 * dof) ** 0.5 + 5, (chi, dof)
    mean = sum(k * p for k, p in enumerate(pmf, 1))
    assert abs(sum(gaps) / n - mean) / mean < 0.05


def test_red_below_thmin_keeps_and_above_thmax_forces() -> None:
    red = Red(5, 15, 10, weight=1)
    cls = AltqClass("r", qlimit=1000, red=red)
    flow = extract_flow(frame6(100))
    for _ in range(4):
        assert red.addq(cls, b"y", flow, 0.0) is not None
        cls.q.append(b"y")
    assert red.st.drop_unforced == red.st.drop_forced == 0
    cls.q.extend([b"y"] * 20)
    assert red.addq(cls, b"y", flow, 0.0) is None
    assert red.st.drop_forced == 1


def test_red_average_decays_when_idle() -> None:
    red = Red(5, 15, 10, weight=4, bandwidth=8_000_000)  # pkttime 1 ms
    cls = AltqClass("r", qlimit=1000, red=red)
    flow = extract_flow(frame6(100))
    red.st.avg = 10.0
    red.getq(cls, 1.0)  # the queue went empty at t=1
    red.addq(cls, b"y", flow, 1.011)  # 11 ms idle: 10 empty arrivals, then this one
    assert red.st.avg == pytest.approx(10.0 * 0.75 ** 11)


def test_red_ecn_marks_ect_and_drops_not_ect() -> None:
    red = Red(0, 1000, 1, weight=1, ecn=True, rng=random.Random(7))
    cls = AltqClass("r", qlimit=10_000, red=red)
    cls.q.extend([b"z"] * 500)  # avg 500: pb = 0.5
    red.st.old = True
    marked = dropped = 0
    for i in range(400):
        f = frame4(200, tos=0xB8 | (2 if i % 2 else 0))  # EF, ECT(0) or Not-ECT
        fl = extract_flow(f)
        r = red.addq(cls, f, fl, 0.0)
        if r is None:
            dropped += 1
            assert not i % 2  # an ECT packet is never dropped early
        elif r is not f:
            marked += 1
            ip = r[14:34]
            assert ip[1] == 0xBB
            assert ip4_cksum(ip) == 0
    assert marked > 50 and dropped > 50
    assert red.st.marked == marked
    f6 = frame6(100, tclass=0x01)
    m6 = mark_ecn(f6, extract_flow(f6))
    assert m6 is not None and extract_flow(m6).tos == 0x03 and m6[16:] == f6[16:]


def test_rio_drops_high_precedence_first() -> None:
    rio = Rio(weight=1, rng=random.Random(3))
    cls = AltqClass("r", qlimit=200, red=rio)
    kept = {0: 0, 1: 0, 2: 0}
    offered = {0: 0, 1: 0, 2: 0}
    tos = {0: 0x28, 1: 0x30, 2: 0x38}  # AF11, AF12, AF13
    assert [dscp_index(t) for t in tos.values()] == [0, 1, 2]
    for i in range(6000):
        dp = i % 3
        f = frame6(100, tclass=tos[dp])
        offered[dp] += 1
        if cls.addq(f, extract_flow(f), i / 1000):
            kept[dp] += 1
        if i % 4 == 0 and cls.q:  # served at 3/4 of the offered rate... then less
            cls.getq(i / 1000)
    assert kept[0] > kept[1] > kept[2]
    assert rio.prec[2].drop_unforced + rio.prec[2].drop_forced > 0
    assert len(cls.q) <= 200


# --- HFSC -----------------------------------------------------------------------

def _hfsc_shares(text: str, kinds: dict[int, str], seconds: float = 2.0,
                 offered: dict[int, float] | None = None) -> dict[str, float]:
    """Run a backlogged (or ``offered`` frames/s) source per UDP port; rates in bit/s."""
    q = parse_altq_conf(text).ifs["eth0"]
    out = dict.fromkeys(kinds.values(), 0)
    now, step = 0.0, 0.0005
    acc = dict.fromkeys(kinds, 0.0)
    cls = {c.name: c for c in q.disc.classes()}
    while now < seconds:
        for port, name in kinds.items():
            if offered is None or port not in offered:
                while len(cls[name].q) < 10:
                    q.enqueue(frame6(1250, dport=port), now)
            else:
                acc[port] += offered[port] * step
                while acc[port] >= 1:
                    q.enqueue(frame6(1250, dport=port), now)
                    acc[port] -= 1
        for f in drain(q, now):
            out[kinds[(f[56] << 8) | f[57]]] += len(f)
        now += step
    return {k: v * 8 / seconds for k, v in out.items()}


HFSC_CONF = """
interface eth0 bandwidth 10M tbrsize 2500 hfsc
class hfsc eth0 agency1 root pshare 60
class hfsc eth0 agency2 root pshare 40
class hfsc eth0 a1web agency1 pshare 40
class hfsc eth0 a1ftp agency1 pshare 20 default
class hfsc eth0 a2all agency2 pshare 40
filter6 eth0 a1web 0 1 0 0 udp
filter6 eth0 a1ftp 0 2 0 0 udp
filter6 eth0 a2all 0 3 0 0 udp
"""


def test_hfsc_link_sharing_hierarchy() -> None:
    r = _hfsc_shares(HFSC_CONF, {1: "a1web", 2: "a1ftp", 3: "a2all"})
    tot = sum(r.values())
    assert tot == pytest.approx(10e6, rel=0.02)
    assert r["a1web"] / tot == pytest.approx(0.40, abs=0.02)
    assert r["a1ftp"] / tot == pytest.approx(0.20, abs=0.02)
    assert r["a2all"] / tot == pytest.approx(0.40, abs=0.02)


def test_hfsc_idle_share_goes_to_siblings() -> None:
    """agency2 idle: agency1's children share the link 40:20."""
    r = _hfsc_shares(HFSC_CONF, {1: "a1web", 2: "a1ftp", 3: "a2all"}, offered={3: 0})
    tot = r["a1web"] + r["a1ftp"]
    assert tot == pytest.approx(10e6, rel=0.02)
    assert r["a1web"] / tot == pytest.approx(2 / 3, abs=0.02)


def test_hfsc_real_time_guarantee_and_upper_limit() -> None:
    text = """
interface eth0 bandwidth 10M tbrsize 2500 hfsc
class hfsc eth0 voice root rt 0 0 3M ls 0 0 100K
class hfsc eth0 bulk root pshare 90 default
class hfsc eth0 capped root ls 0 0 5M ul 0 0 1M
filter6 eth0 voice 0 1 0 0 udp
filter6 eth0 capped 0 3 0 0 udp
"""
    r = _hfsc_shares(text, {1: "voice", 2: "bulk", 3: "capped"})
    assert r["voice"] >= 3e6 * 0.98  # its real-time curve despite a tiny ls share
    assert r["capped"] == pytest.approx(1e6, rel=0.05)
    assert sum(r.values()) == pytest.approx(10e6, rel=0.02)


def test_hfsc_concave_curve_bursts_then_settles() -> None:
    """rt 8M 20ms 1M: a new backlog gets about 8 Mb/s for 20 ms, then 1 Mb/s."""
    text = """
interface eth0 bandwidth 10M tbrsize 2500 hfsc
class hfsc eth0 burst root rt 8M 20 1M
class hfsc eth0 bulk root pshare 100 default
filter6 eth0 burst 0 1 0 0 udp
"""
    q = parse_altq_conf(text).ifs["eth0"]
    cls = {c.name: c for c in q.disc.classes()}
    got: list[tuple[float, int]] = []
    now = 0.0
    while now < 0.5:
        while len(cls["bulk"].q) < 10:
            q.enqueue(frame6(1250, dport=2), now)
        if now >= 0.1:
            while len(cls["burst"].q) < 10:
                q.enqueue(frame6(1250, dport=1), now)
        for f in drain(q, now):
            if f[57] == 1:
                got.append((now, len(f)))
        now += 0.0001
    first = sum(n for t, n in got if t < 0.1 + 0.02) * 8 / 0.02
    later = sum(n for t, n in got if t >= 0.2) * 8 / 0.3
    assert first >= 6e6
    assert later == pytest.approx(1e6, rel=0.1)


# --- classifier -----------------------------------------------------------------

def test_filters_select_classes() -> None:
    text = """
interface eth0 priq
class priq eth0 c1 NULL priority 1
class priq eth0 c2 NULL priority 2
class priq eth0 c3 NULL priority 3
class priq eth0 c4 NULL priority 4
class priq eth0 c5 NULL priority 5
class priq eth0 def NULL priority 0 default
filter6 eth0 c1 2001:db8:1::/48 0 0 0 0
filter6 eth0 c2 0 53 2001:db8::1 0 udp
filter6 eth0 c3 0 0 0 0 0 tclass 0xb8 tclassmask 0xfc
filter6 eth0 c4 0 0 0 0 tcp flowlabel 0x12345
filter eth0 c5 198.51.100.0 netmask 255.255.255.0 0 0 0 udp tos 0x20 tosmask 0xe0
"""
    q = parse_altq_conf(text).ifs["eth0"]
    cf = q.classifier
    assert cf is not None

    def cls(f: bytes) -> str:
        c = cf.classify(extract_flow(f))
        return c.name if c is not None else "def"

    assert cls(frame6(100, dst="2001:db8:1:ff::9")) == "c1"
    assert cls(frame6(100, dport=53)) == "c2"
    assert cls(frame6(100, dport=53, src="2001:db8::3")) == "def"
    assert cls(frame6(100, nh=6, dport=53)) == "def"
    assert cls(frame6(100, tclass=0xBA)) == "c3"  # ECN bits masked out
    assert cls(frame6(100, nh=6, flow=0x12345)) == "c4"
    assert cls(frame6(100, nh=17, flow=0x12345)) == "def"
    assert cls(frame4(100, tos=0x3C)) == "c5"
    assert cls(frame4(100, tos=0x3C, dst="198.51.101.2")) == "def"
    assert cls(frame4(100, tos=0x3C, proto=6)) == "def"
    assert cls(b"\xff" * 12 + b"\x08\x06" + bytes(28)) == "def"  # ARP


def test_extract_flow_walks_extension_headers() -> None:
    f = bytearray(frame6(200, nh=0, dport=9))
    # Hop-by-Hop (8 octets) then Fragment (first) then UDP
    body = bytes([44, 0, 1, 4, 0, 0, 0, 0]) + bytes([17, 0, 0, 1, 0, 0, 0, 1]) + \
        struct.pack("!HH", 7, 9) + bytes(8)
    g = bytes(f[:54]) + body
    fl = extract_flow(g)
    assert (fl.proto, fl.sport, fl.dport) == (17, 7, 9)
    later = bytes(f[:54]) + bytes([44, 0, 1, 4, 0, 0, 0, 0]) + bytes([17, 0, 0, 9, 0, 0, 0, 1]) \
        + struct.pack("!HH", 7, 9)
    fl = extract_flow(later)
    assert (fl.proto, fl.sport, fl.dport) == (17, 0, 0)
    assert extract_flow(bytes(g[:40])).family == 0


# --- altq.conf ------------------------------------------------------------------

GOOD = PRIQ_CONF.strip().split("\n")
BAD_LINES = [
    "interfce eth1 priq",
    "interface eth1 bandwidth ten priq",
    "interface eth1 bandwidth 10M tbrsize 0 priq",
    "interface eth1 tbrsize 1500 priq",
    "interface eth1 cbq",
    "interface eth1 red thmin 20 thmax 10",
    "interface eth1 red weight 100",
    "interface eth1 fifoq qlimit 0",
    "interface eth1 fifoq qlimit 10 qlimit 20",
    "interface eth1 priq bogus",
    "interface eth0 priq",
    "interface 0bad priq",
    "interface eth1 hfsc",
    "class priq eth0 mid NULL priority 16",
    "class priq eth0 mid NULL priority 7",
    "class priq eth0 mid NULL",
    "class priq eth0 mid root priority 4",
    "class priq eth0 high NULL priority 4",
    "class priq eth0 mid NULL priority 4 default",
    "class priq eth0 mid NULL priority 4 ecn",
    "class priq eth9 mid NULL priority 4",
    "class hfsc eth0 mid root pshare 10",
    "class cbq eth0 mid NULL",
    "filter6 eth0 nosuch 0 0 0 0 0",
    "filter6 eth0 high 2001:db8::1/129 0 0 0 0",
    "filter6 eth0 high 2001:db8::1/64 0 0 0 0",
    "filter6 eth0 high 0 70000 0 0 0",
    "filter6 eth0 high 0 0 0 0 tcpx",
    "filter6 eth0 high 0 0 0 0 0 flowlabel 0x100000",
    "filter6 eth0 high 0 0 0 0 0 tos 3",
    "filter6 eth0 high 0 0 0 0",
    "filter eth0 high 10.0.0.0 netmask 255.0.255.0 0 0 0 0",
    "filter eth0 high 2001:db8::1 0 0 0 0",
    "filter eth0 high 0 0 0 0 0 tosmask 3",
    "altqd_option yes",
]


@pytest.mark.parametrize("bad", BAD_LINES)
def test_conf_rejects_malformed_line_with_its_number(bad: str) -> None:
    for pos in (1 if bad.startswith("interface") else len(GOOD) - 1, len(GOOD)):
        lines = GOOD[:pos] + [bad] + GOOD[pos:]
        if not bad.startswith("interface") and pos == 0:
            continue
        with pytest.raises(AltqConfError) as e:
            parse_altq_conf("\n".join(lines))
        assert e.value.line == pos + 1, (e.value, pos)
        assert str(e.value).startswith(f"altq.conf line {pos + 1}: ")


def test_conf_hfsc_tree_errors() -> None:
    base = "interface eth0 bandwidth 10M hfsc\nclass hfsc eth0 a root pshare 50 default\n"
    for bad, line in (("class hfsc eth0 b a pshare 10\n", 3),  # under the default leaf
                      ("class hfsc eth0 b root\n", 3),  # neither rt nor ls
                      ("class hfsc eth0 b root rt 0 0 1M\nclass hfsc eth0 c b pshare 5\n", 4),
                      (("class hfsc eth0 b root pshare 10\nfilter6 eth0 b 0 0 0 0 0\n"
                       "class hfsc eth0 c b pshare 5\n"), 5),
                      (("class hfsc eth0 b root pshare 10\nclass hfsc eth0 c b pshare 5\n"
                       "filter6 eth0 b 0 0 0 0 0\n"), 5),
                      ("class hfsc eth0 b root sc 0 0 1M rt 0 0 1M\n", 3),
                      ("class hfsc eth0 b root ul 0 0 1M\n", 3)):
        with pytest.raises(AltqConfError) as e:
            parse_altq_conf(base + bad)
        assert e.value.line == line, (bad, e.value)


def test_conf_missing_default_names_interface_line() -> None:
    with pytest.raises(AltqConfError) as e:
        parse_altq_conf("# x\n\ninterface eth0 priq\nclass priq eth0 a NULL priority 1\n")
    assert e.value.line == 3 and "default" in e.value.reason


@settings(max_examples=300, deadline=None)
@given(pos=st.integers(0, len(GOOD)), words=st.lists(
    st.sampled_from(["interface", "class", "filter", "filter6", "priq", "eth0", "high", "low",
                     "NULL", "priority", "0", "7", "99", "-1", "udp", "qlimit", "default", "red",
                     "ecn", "tbrsize", "bandwidth", "10M", "::1", "2001:db8::/32", "#", "x"]),
    min_size=1, max_size=9))
def test_conf_garbage_line_fails_on_its_number_or_parses(pos: int, words: list[str]) -> None:
    lines = GOOD[:pos] + [" ".join(words)] + GOOD[pos:]
    try:
        parse_altq_conf("\n".join(lines))
    except AltqConfError as e:
        assert e.line in (pos + 1, 1) or e.line > pos + 1
        assert e.line <= len(lines)


def test_conf_auto_tbrsize_and_defaults() -> None:
    c = parse_altq_conf("interface a bandwidth 100M\ninterface b red ecn\n", mtu=1514)
    qa, qb = c.ifs["a"], c.ifs["b"]
    assert qa.tbr is not None and qa.tbr.depth == 8 * 1514 and qa.disc.kind == "fifoq"
    assert qb.tbr is None and qb.disc.kind == "red"
    red = qb.disc.classes()[0].red
    assert isinstance(red, Red) and red.ecn and (red.st.th_min, red.st.th_max) == (5, 15)


# --- the node -------------------------------------------------------------------

def _node() -> tuple[Node, float]:
    n = Node("a", seed=1)
    n.add_interface("eth0", MAC)
    n.up("eth0", 0.0)
    t = 0.0
    while (d := n.next_deadline()) is not None and d < 5:
        n.poll(d)
        t = d
    return n, t


def test_node_off_path_unchanged() -> None:
    n, t = _node()
    assert n.altq is None
    out = n.ping("ff02::1%eth0", t, data=bytes(1000))
    assert len(out) == 1 and n.next_deadline() != t


def test_node_tbr_paces_frames_through_poll() -> None:
    n, t = _node()
    n.altq_config("interface eth0 bandwidth 1M tbrsize 2200 fifoq qlimit 100\n")
    first = []
    for seq in range(20):
        first += n.ping("ff02::1%eth0", t, seq=seq, data=bytes(1000))
    assert len(first) == 2  # the bucket holds two 1062-octet frames
    assert n.altq is not None and len(n.altq.ifs["eth0"].disc) == 18
    got = [(t, f) for _, f in first]
    now = t
    for _ in range(1000):  # each poll at the deadline lets a frame out
        if (d := n.next_deadline()) is None or d >= t + 1:
            break
        assert d > now - 1e-9
        now = d
        got += [(now, f) for _, f in n.poll(now)]
    else:
        pytest.fail("the queue's deadline came and poll let nothing out")
    assert len(got) == 20
    seqs = [struct.unpack("!H", f[60:62])[0] for _, f in got]
    assert seqs == list(range(20))  # FIFO
    span = got[-1][0] - t
    assert span == pytest.approx(18 * 1062 * 8 / 1e6 - (2200 - 2 * 1062) * 8 / 1e6, rel=0.05)
    snap = n.altq.snapshot()[0]["classes"][0]
    assert snap["xmit_packets"] == 20 and snap["drop_packets"] == 0


def test_node_conf_unknown_interface_and_disable() -> None:
    n, t = _node()
    with pytest.raises(AltqConfError) as e:
        n.altq_config("\ninterface eth7 fifoq\n")
    assert e.value.line == 2 and n.altq is None
    n.altq_config("interface eth0 bandwidth 64K tbrsize 1100 fifoq\n")
    for seq in range(5):
        n.ping("ff02::1%eth0", t, seq=seq, data=bytes(1000))
    assert n.altq_disable("eth0") == 4
    assert n.altq is None
    assert len(n.ping("ff02::1%eth0", t, data=bytes(1000))) == 1


def test_node_down_purges() -> None:
    n, t = _node()
    n.altq_config("interface eth0 bandwidth 64K tbrsize 1100 fifoq\n")
    for seq in range(5):
        n.ping("ff02::1%eth0", t, seq=seq, data=bytes(1000))
    n.down("eth0", t)
    assert n.altq is not None
    c = n.altq.ifs["eth0"].disc.classes()[0]
    assert len(c) == 0 and c.stats.purged_packets == 4


def test_altqstat_format() -> None:
    from kame.cli.altq import format_altq

    q = parse_altq_conf(PRIQ_CONF + "class priq eth0 mid NULL priority 4 red ecn\n")
    a = Altq()
    for x in q.ifs.values():
        a.attach(x)
    for i in range(30):
        a.output([("eth0", frame6(1000, nh=17 if i % 2 else 6))], 0.0)
    text = format_altq(a.snapshot())
    assert "eth0: priq  bandwidth:10.00Mbps  tbr rate:10.00Mbps depth:3028" in text
    assert "[high] pri:7\n  qlen:" in text
    assert "[low] pri:1 default" in text
    assert "RED th:5/15" in text and "ecn" in text
    assert format_altq(a.snapshot(), "eth9") == "eth9: not under ALTQ\n"


@settings(max_examples=400, deadline=None)
@given(head=st.sampled_from([b"\x86\xdd\x60", b"\x08\x00\x45", b"\x08\x00\x4f", b"\x86\xdd\x6f",
                             b"\x08\x06\x00"]),
       body=st.binary(max_size=120))
def test_hostile_frames_are_classified_or_defaulted(head: bytes, body: bytes) -> None:
    """Any frame (truncated, lying lengths, odd headers) is classified or goes
    to the default class; nothing raises and every frame is accounted for."""
    q = parse_altq_conf(PRIQ_CONF + "filter eth0 high 0 0 0 53 udp tos 0x10\n"
                        + "filter6 eth0 high 0 0 0 53 0 flowlabel 5 gpi 7\n").ifs["eth0"]
    f = b"\xff" * 6 + MAC + head + body
    fl = extract_flow(f)
    assert fl.family in (0, 4, 6)
    q.enqueue(f, 0.0)
    out = drain(q, 0.0)
    assert out == [f]


def test_cleardscp_keeps_ecn_and_checksum() -> None:
    q = parse_altq_conf("interface eth0 priq\n"
                        "class priq eth0 a NULL priority 1 default cleardscp\n").ifs["eth0"]
    q.enqueue(frame4(200, tos=0xB9), 0.0)
    q.enqueue(frame6(200, tclass=0xBA, flow=0xABCDE), 0.0)
    f4, f6 = drain(q, 0.0)
    assert f4[15] == 0x01 and ip4_cksum(f4[14:34]) == 0
    fl = extract_flow(f6)
    assert (fl.tos, fl.flowlabel) == (0x02, 0xABCDE)
