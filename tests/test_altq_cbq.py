"""CBQ (seed §5, kame.altq.cbq) on a virtual clock: link-sharing shares under
saturation, borrowing from the parent, a class without ``borrow`` held to
its allocation, priority, the estimator's parameters, the parser's
``class cbq`` lines and the conservation of frames."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_altq import drain, frame4, frame6

from kame.altq import parse_altq_conf
from kame.altq.cbq import Cbq, cbq_params
from kame.cli.altq import format_altq
from kame.errors import AltqConfError

CBQ_CONF = """
interface eth0 bandwidth 10M cbq
class cbq eth0 root NULL pbandwidth 100
class cbq eth0 a root borrow pbandwidth 40
class cbq eth0 b root borrow pbandwidth 20 default
class cbq eth0 c root {c} pbandwidth 40
filter6 eth0 a ::/0 1 ::/0 0 udp
filter6 eth0 b ::/0 2 ::/0 0 udp
filter6 eth0 c ::/0 3 ::/0 0 udp
"""


def cbq_rates(text: str, ports: tuple[int, ...], seconds: float = 2.0, size: int = 1250,
              burst: int = 3) -> dict[int, float]:
    """Saturate the classes of ``ports`` (UDP destination port = class) and
    return each one's rate in bit/s over the last ``seconds - 0.5`` s."""
    q = parse_altq_conf(text).ifs["eth0"]
    now = 0.0
    got = dict.fromkeys(ports, 0)
    while now < seconds:
        for p in ports:
            for _ in range(burst):
                q.enqueue(frame6(size, dport=p), now)
        for f in drain(q, now):
            if now >= 0.5:
                got[int.from_bytes(f[56:58], "big")] += len(f)
        d = q.next_deadline(now)
        now = min(now + 0.0005, d if d is not None and d > now else now + 0.0005)
    return {p: v * 8 / (seconds - 0.5) for p, v in got.items()}


def test_cbq_shares_under_saturation() -> None:
    r = cbq_rates(CBQ_CONF.format(c="borrow"), (1, 2, 3))
    tot = sum(r.values())
    assert tot == pytest.approx(10e6, rel=0.02)
    for p, share in ((1, 0.4), (2, 0.2), (3, 0.4)):
        assert r[p] / tot == pytest.approx(share, abs=0.02), r


def test_cbq_idle_class_bandwidth_borrowed_by_siblings() -> None:
    r = cbq_rates(CBQ_CONF.format(c="borrow"), (1, 2))
    tot = sum(r.values())
    assert tot == pytest.approx(10e6, rel=0.02)
    assert r[1] / tot == pytest.approx(2 / 3, abs=0.03), r


def test_cbq_class_without_borrow_held_to_its_allocation() -> None:
    r = cbq_rates(CBQ_CONF.format(c=""), (3,))
    assert r[3] == pytest.approx(4e6, rel=0.02)
    # with borrow, the same class alone takes most of the link
    assert cbq_rates(CBQ_CONF.format(c="borrow"), (3,))[3] > 8.5e6


def test_cbq_nested_agencies_share_by_the_tree() -> None:
    text = """interface eth0 bandwidth 10M cbq
class cbq eth0 root NULL pbandwidth 100
class cbq eth0 ag1 root borrow pbandwidth 60
class cbq eth0 ag2 root pbandwidth 40
class cbq eth0 web ag1 borrow pbandwidth 40 default
class cbq eth0 ftp ag1 borrow pbandwidth 20
class cbq eth0 all ag2 borrow pbandwidth 40
filter6 eth0 web ::/0 1 ::/0 0 udp
filter6 eth0 ftp ::/0 2 ::/0 0 udp
filter6 eth0 all ::/0 3 ::/0 0 udp
"""
    r = cbq_rates(text, (1, 2, 3))
    tot = sum(r.values())
    assert r[3] / tot == pytest.approx(0.4, abs=0.02), r
    assert r[1] / (r[1] + r[2]) == pytest.approx(2 / 3, abs=0.03), r
    # agency 2 idle: agency 1 borrows the link; agency 2 alone cannot borrow
    r = cbq_rates(text, (1, 2))
    assert sum(r.values()) > 9e6
    r = cbq_rates(text, (3,))
    assert r[3] == pytest.approx(4e6, rel=0.03)


def test_cbq_higher_priority_goes_first_within_its_allocation() -> None:
    text = """interface eth0 bandwidth 10M cbq
class cbq eth0 root NULL pbandwidth 100
class cbq eth0 voice root priority 6 pbandwidth 30
class cbq eth0 bulk root borrow priority 1 pbandwidth 70 default
filter6 eth0 voice ::/0 1 ::/0 0 udp
"""
    q = parse_altq_conf(text).ifs["eth0"]
    for p in (2, 2, 2, 1, 1):
        q.enqueue(frame6(500, dport=p), 0.0)
    order = [int.from_bytes(f[56:58], "big") for f in drain(q, 0.0)]
    assert order[:2] == [1, 1]
    # voice saturating is still held to 30 %, bulk gets the rest
    r = cbq_rates(text, (1, 2))
    assert r[1] == pytest.approx(3e6, rel=0.03) and r[2] == pytest.approx(7e6, rel=0.03)


def test_cbq_params_follow_altqd() -> None:
    maxidle, minidle, offtime = cbq_params(0.5, 10_000_000, 1500, 1500, 16, 2)
    ptime = 1500 * 8 / 10e6
    g = 31 / 32
    assert maxidle == pytest.approx(ptime * (1 / 0.5 - 1) * (1 - g ** 16) / g ** 16)
    assert minidle == pytest.approx(-1500 * 8 / 5e6)
    assert offtime == pytest.approx(ptime / 0.5 * (1 + 32 * (1 - g) / g))
    # a larger maxburst banks more idle credit
    assert cbq_params(0.5, 10_000_000, 1500, 1500, 32, 2)[0] > maxidle


def test_cbq_efficient_mode_keeps_the_link_busy() -> None:
    base = """interface eth0 bandwidth 10M cbq{e}
class cbq eth0 root NULL pbandwidth 50
class cbq eth0 a root borrow pbandwidth 50 default
"""
    slow = cbq_rates(base.format(e=""), (9,))[9]
    fast = cbq_rates(base.format(e=" efficient"), (9,))[9]
    assert slow == pytest.approx(5e6, rel=0.05)
    assert fast > 9e6


@pytest.mark.parametrize(("bad", "line", "what"), [
    ("class cbq eth0 d root pbandwidth 10\n", 10, "over its 100%"),
    ("class cbq eth0 d a pbandwidth 10\n", 10, "a filter's class"),
    ("class cbq eth0 d root\n", 10, "pbandwidth"),
    ("class cbq eth0 d NULL pbandwidth 10\n", 10, "second root"),
    ("class cbq eth0 d root pbandwidth 1 priority 8\n", 10, "priority"),
    ("class cbq eth0 d root pbandwidth 1 maxdelay 10\n", 10, "maxdelay"),
    ("class cbq eth0 d root pbandwidth 1 minburst 20\n", 10, "minburst"),
    ("class cbq eth0 d root pbandwidth 1 bandwidth 1M\n", 10, "both"),
    ("class cbq eth0 d root pbandwidth 1 flowvalve\n", 10, "flowvalve needs red"),
    ("filter6 eth0 root 0 0 0 0 0\n", 10, "not a leaf"),
])
def test_cbq_conf_errors_name_their_line(bad: str, line: int, what: str) -> None:
    with pytest.raises(AltqConfError) as e:
        parse_altq_conf(CBQ_CONF.format(c="") + bad)
    assert e.value.line == line and what in str(e.value), e.value


def test_cbq_conf_root_and_default_rules() -> None:
    with pytest.raises(AltqConfError) as e:
        parse_altq_conf("interface eth0 bandwidth 1M cbq\nclass cbq eth0 r NULL pbandwidth 100\n")
    assert e.value.line == 1 and "default" in str(e.value)
    with pytest.raises(AltqConfError) as e:
        parse_altq_conf("interface eth0 cbq\n")
    assert e.value.line == 1 and "bandwidth" in str(e.value)
    with pytest.raises(AltqConfError) as e:
        parse_altq_conf("interface eth0 bandwidth 1M cbq\n"
                        "class cbq eth0 r NULL pbandwidth 100 default\n")
    assert e.value.line == 2


def test_cbq_class_red_ecn_cleardscp_flowvalve() -> None:
    text = """interface eth0 bandwidth 1M cbq
class cbq eth0 root NULL pbandwidth 100
class cbq eth0 a root pbandwidth 100 default red ecn flowvalve cleardscp qlimit 40
"""
    q = parse_altq_conf(text).ifs["eth0"]
    cl = q.disc.default_class()
    assert cl.red is not None and cl.red.ecn and cl.red.fv is not None and cl.cleardscp
    for _ in range(30):
        q.enqueue(frame4(1000, tos=0xB8 | 2), 0.0)
    f = drain(q, 0.0)[0]
    assert f[15] == 0x02  # the DSCP cleared, ECT(0) kept


def test_cbq_bandwidth_in_bits_and_altqstat() -> None:
    text = """interface eth0 bandwidth 10M cbq
class cbq eth0 root NULL bandwidth 10M
class cbq eth0 a root bandwidth 2500K borrow default
"""
    q = parse_altq_conf(text).ifs["eth0"]
    d = q.disc
    assert isinstance(d, Cbq)
    assert d.default_class().share == pytest.approx(0.25)  # type: ignore[attr-defined]
    q.enqueue(frame6(1000), 0.0)
    drain(q, 0.0)
    out = format_altq([q.snapshot()])
    assert "[a] pri:1 parent:root pbandwidth:25% borrow default" in out
    assert "avgidle:" in out and "borrows:" in out


@settings(max_examples=60, deadline=None)
@given(arrivals=st.lists(st.tuples(st.integers(0, 3), st.integers(60, 1514),
                                   st.floats(0, 0.004)), min_size=1, max_size=300),
       borrow=st.booleans())
def test_cbq_conservation(arrivals: list[tuple[int, int, float]], borrow: bool) -> None:
    """Every frame offered is sent, dropped or still queued; queues never
    pass their limits; following next_deadline drains everything."""
    text = CBQ_CONF.format(c="borrow" if borrow else "").replace(
        "pbandwidth 20 default", "pbandwidth 20 default qlimit 20")
    q = parse_altq_conf(text).ifs["eth0"]
    now, offered, sent = 0.0, 0, 0
    for port, size, gap in arrivals:
        now += gap
        offered += 1
        q.enqueue(frame6(max(size, 62), dport=port), now)
        sent += len(drain(q, now))
        assert all(len(c) <= c.qlimit for c in q.disc.classes())
    for _ in range(100_000):
        d = q.next_deadline(now)
        if d is None:
            break
        now = max(now, d)
        sent += len(drain(q, now))
    cls = q.disc.classes()
    dropped = sum(c.stats.drop_packets for c in cls)
    assert sum(c.stats.xmit_packets for c in cls) == sent
    assert offered == sent + dropped + len(q.disc)
    assert len(q.disc) == 0
