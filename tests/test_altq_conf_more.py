"""altq.conf(5) over all of seed §5's disciplines: random configurations
built from the whole grammar (cbq, wfq, blue, red with flowvalve,
conditioners, hfsc, priq) never raise anything but AltqConfError, with a
line number inside the text; what parses takes frames and prints; HFSC's
admission control refuses real-time curves the link cannot carry, on
their line."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_altq import drain, frame4, frame6

from kame.altq import parse_altq_conf
from kame.altq.hfsc import rt_admission
from kame.cli.altq import format_altq
from kame.errors import AltqConfError

WORDS = ["interface", "class", "filter", "filter6", "conditioner", "eth0", "eth1", "NULL",
         "root", "a", "b", "c", "cbq", "wfq", "blue", "red", "rio", "priq", "hfsc", "fifoq",
         "bandwidth", "10M", "1M", "0", "1", "7", "8", "50", "100", "150", "-3", "1K", "99999999",
         "pbandwidth", "borrow", "default", "control", "priority", "maxburst", "minburst",
         "packetsize", "maxpacketsize", "qlimit", "ecn", "flowvalve", "cleardscp",
         "efficient", "hash", "full", "dstaddr", "nqueues", "qsize", "maxpmark", "holdtime",
         "pshare", "grate", "rt", "ls", "ul", "sc", "admission", "none", "<", ">", "<pass>",
         "<drop>", "<mark", "0x28>", "<tbmeter", "<trtcm", "<srtcm", "<tswtcm", "colorblind",
         "coloraware", "udp", "::/0", "2001:db8::/32", "10.0.0.0", "tos", "0xfc", "#", "tcp"]

SEED_LINES = [
    "interface eth0 bandwidth 10M cbq efficient",
    "class cbq eth0 root NULL pbandwidth 100",
    "class cbq eth0 a root borrow pbandwidth 50 default red ecn flowvalve",
    "class cbq eth0 b root pbandwidth 30 priority 3 maxburst 8 minburst 2",
    "filter6 eth0 b ::/0 80 ::/0 0 tcp",
    "conditioner eth0 c <trtcm 1M 3K 2M 3K <mark 0x28><mark 0x30><drop> coloraware>",
    "filter eth0 c 0 0 0 0 udp",
    "interface eth1 bandwidth 1M blue qlimit 20 ecn",
]


@settings(max_examples=400, deadline=None)
@given(lines=st.lists(st.one_of(
    st.sampled_from(SEED_LINES),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=14).map(" ".join)),
    min_size=1, max_size=12))
def test_random_configurations_raise_only_altqconferror(lines: list[str]) -> None:
    text = "\n".join(lines)
    try:
        conf = parse_altq_conf(text)
    except AltqConfError as e:
        assert 1 <= e.line <= len(lines)
        assert str(e).startswith(f"altq.conf line {e.line}: ")
        return
    now = 0.0
    for q in conf.ifs.values():
        for i in range(20):
            q.enqueue(frame6(200 + i * 50, dport=80, tclass=0x29), now)
            q.enqueue(frame4(300, tos=0x2A), now)
            drain(q, now)
            now += 0.001
    assert isinstance(format_altq([q.snapshot() for q in conf.ifs.values()]), str)


def test_rt_admission_corners() -> None:
    assert rt_admission([("a", (0, 0.0, 6_000_000)), ("b", (0, 0.0, 4_000_000))], 10**7) is None
    assert "more than the link" in (rt_admission(
        [("a", (0, 0.0, 6_000_000)), ("b", (0, 0.0, 5_000_000))], 10**7) or "")
    # a concave burst of 8M for 20 ms beside 3M: over the link in the burst
    over = rt_admission([("a", (8_000_000, 0.02, 1_000_000)), ("b", (0, 0.0, 3_000_000))],
                        10**7)
    assert over is not None and "20 ms" in over
    # a convex curve (0 then 9M after 50 ms) beside a concave one that is done by then
    assert rt_admission([("a", (0, 0.05, 9_000_000)), ("b", (10_000_000, 0.01, 1_000_000))],
                        10**7) is None


@pytest.mark.parametrize(("extra", "line"), [
    ("class hfsc eth0 v2 root rt 0 0 8M\n", 4),
    ("class hfsc eth0 v2 root rt 9M 30 0\n", 4),
    ("class hfsc eth0 v2 root grate 8M\n", 4),
    ("class hfsc eth0 v2 root sc 0 0 3M\nclass hfsc eth0 v3 root rt 0 0 6M\n", 5),
])
def test_hfsc_admission_control_refuses_on_the_line(extra: str, line: int) -> None:
    base = ("interface eth0 bandwidth 10M hfsc\nclass hfsc eth0 bulk root pshare 50 default\n"
            "class hfsc eth0 voice root rt 0 0 3M\n")
    with pytest.raises(AltqConfError) as e:
        parse_altq_conf(base + extra)
    assert e.value.line == line and "admission control" in str(e.value)
    # "admission none" on the class lets it in as ALTQ's does
    last = extra.rstrip("\n").split("\n")
    last[-1] += " admission none"
    parse_altq_conf(base + "\n".join(last) + "\n")


def test_new_disciplines_need_what_they_need() -> None:
    for bad, what in (("interface eth0 cbq efficient", "bandwidth"),
                      ("interface eth0 fifoq efficient", "unexpected"),
                      ("interface eth0 red flowvalve flowvalve", "unexpected"),
                      ("interface eth0 blue maxpmark 4", "outside"),
                      ("interface eth0 blue holdtime 0", "outside"),
                      ("interface eth0 jobs", "bandwidth"),
                      ("interface eth0 codel", "not supported"),
                      ("class wfq eth0 a NULL", "priq, hfsc or cbq")):
        with pytest.raises(AltqConfError) as e:
            parse_altq_conf("interface eth9\n" + bad + "\n")
        assert e.value.line == 2 and what in str(e.value), (bad, e.value)


@pytest.mark.parametrize("text", [
    ("interface eth0 bandwidth 1M cbq\nclass cbq eth0 r NULL pbandwidth 100\n"
    "class cbq eth0 a r borrow pbandwidth 100 qlimit 40 default\n"),
    "interface eth0 bandwidth 1M wfq qsize 60000 nqueues 4\n",
    "interface eth0 bandwidth 1M blue qlimit 40\n",
    "interface eth0 bandwidth 1M red qlimit 40 flowvalve\n",
    ("interface eth0 bandwidth 1M fifoq qlimit 40\n"
    "conditioner eth0 c <trtcm 500K 3K 800K 3K <pass><mark 0x30><pass>>\n"
    "filter6 eth0 c 0 0 0 0 0\n"),
])
def test_new_queues_bounded_under_flood(text: str) -> None:
    """50,000 frames in a second into a 1 Mb/s link: the queue stays within
    its bound and every frame is sent, dropped (or metered out) or queued."""
    q = parse_altq_conf(text).ifs["eth0"]
    sent = xmit = 0
    for ms in range(1000):
        now = ms / 1000
        for i in range(50):
            q.enqueue(frame6(1514, sport=i % 7), now)
            sent += 1
        xmit += len(drain(q, now))
        assert len(q.disc) <= 40
    drops = sum(c.stats.drop_packets for c in q.disc.classes())
    cdnr = sum(c.dropped for c in q.cdnr.conditioners) if q.cdnr is not None else 0
    assert sent == xmit + drops + cdnr + len(q.disc)
    assert drops > 40_000


def test_node_sends_through_cbq_and_conditioner() -> None:
    """The node's own datagrams through CBQ and a conditioner (Node._flush's
    path): the EF-marked class is held to its share, the conditioner marks."""
    from kame.node import Node
    from kame.socket import SocketLayer
    from kame.socket.const import AF_INET6, IPPROTO_IPV6, IPV6_TCLASS, SOCK_DGRAM

    n = Node("a", seed=1)
    n.add_interface("eth0", bytes.fromhex("020000000001"))
    n.add_address("eth0", "2001:db8::1/64", 0.0)
    n.up("eth0", 0.0)
    t = 0.0
    while (d := n.next_deadline()) is not None and d < 5:
        n.poll(d)
        t = d
    n.altq_config("interface eth0 bandwidth 1M cbq\nclass cbq eth0 r NULL pbandwidth 100\n"
                  "class cbq eth0 ef r pbandwidth 25 qlimit 500\n"
                  "class cbq eth0 be r borrow pbandwidth 75 qlimit 500 default\n"
                  "filter6 eth0 ef 0 0 0 0 udp tclass 0xb8 tclassmask 0xfc\n"
                  "conditioner eth0 m <tbmeter 100K 2K <mark 0xb8><pass>>\n"
                  "filter6 eth0 m 0 7 0 0 udp\n")
    layer = SocketLayer(n, "linux")
    s = layer.socket(AF_INET6, SOCK_DGRAM)
    s.setsockopt(IPPROTO_IPV6, IPV6_TCLASS, 0xB8)
    s2 = layer.socket(AF_INET6, SOCK_DGRAM)
    got: list[bytes] = []
    start = t
    for _ in range(200):  # 2 s: 800 kb/s of EF, 800 kb/s of best effort
        s.sendto(bytes(446), ("ff02::1%eth0", 9))
        s2.sendto(bytes(446), ("ff02::1%eth0", 7))
        t += 0.005
        while (d := n.next_deadline()) is not None and d <= t:
            got += [f for _, f in n.poll(d)]
        got += [f for _, f in n.poll(t)]
    secs = t - start
    ef = [f for f in got if f[57] == 9]
    be = [f for f in got if f[57] == 7]
    assert len(ef) * 500 * 8 / secs == pytest.approx(250_000, rel=0.1)
    marked = [f for f in be if ((f[14] & 0x0F) << 4 | f[15] >> 4) & 0xFC == 0xB8]
    assert marked and len(marked) < len(be)
    # the marked ones went to the EF class (its filter reads the new mark):
    # sent, or still queued there behind the EF class's 25 %
    assert n.altq is not None
    q = n.altq.ifs["eth0"]
    ef_cls = next(c for c in q.disc.classes() if c.name == "ef")
    assert ef_cls.stats.drop_packets == 0
    snap = q.snapshot()
    assert snap["conditioners"][0]["action"]["children"][0]["packets"] == len(marked) + sum(
        1 for f in ef_cls.q if f[57] == 7)
