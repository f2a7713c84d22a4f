"""CBQ, WFQ and CDNR's token bucket meter against the Linux kernel's
queueing (seed §5). This kernel has HTB, tbf and u32 but no cbq, sfq,
fq_codel or police action, so the references are HTB trees: for CBQ the
same link-sharing tree (rate = the class's share, ceil = the link for a
class that borrows, its own rate for one that does not); for WFQ one HTB
class per flow with equal rates (per-flow fair sharing); for ``tbmeter``
an HTB class whose rate and ceil are the meter's rate and burst its
depth. UDP from kernel sockets saturates a veth in a fresh namespace and
the class counters over 2 s give the rates; ours are the same
configuration's on the virtual clock."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netns_rig import kernel_json
from test_altq import drain, frame6
from test_altq_cbq import CBQ_CONF, cbq_rates
from test_altq_kernel import LINK

from kame.altq import parse_altq_conf

pytestmark = pytest.mark.skipif(shutil.which("tc") is None, reason="needs tc (iproute2)")

BLAST = """
import json, re, socket, subprocess, time
weights = %r
ss = []
for p, n in weights.items():
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setblocking(False)
    ss.append((s, int(p), n))
data = bytes(1192)  # 1250-octet frames
def stats():
    t = subprocess.run(["tc", "-s", "class", "show", "dev", "d0"], capture_output=True,
                       text=True, check=True).stdout
    return {h: int(n) for h, n in re.findall(r"^\\S+ \\S+ (\\S+) .*\\n Sent (\\d+) bytes", t, re.M)}
t0 = time.monotonic()
a = None
while time.monotonic() - t0 < 3.0:
    if a is None and time.monotonic() - t0 > 0.5:
        a, ta = stats(), time.monotonic()
    for s, p, n in ss:
        for _ in range(n):
            try:
                s.sendto(data, ("2001:db8::2", p))
            except OSError:
                pass
b, tb = stats(), time.monotonic()
print(json.dumps({k: (b[k] - a[k]) * 8 / (tb - ta) for k in b}))
"""


def htb(classes: list[tuple[str, str, str, str]], filters: dict[int, str],
        default: str = "12") -> list[list[str]]:
    """An HTB tree on d0: ``(parent, classid, rate, ceil)`` and u32 filters
    by UDP destination port. HTB's quantum is left at rate / r2q, so spare
    bandwidth is lent in proportion to the rates, as CBQ's WRR does."""
    out = [["tc", "qdisc", "add", "dev", "d0", "root", "handle", "1:", "htb", "default",
            default]]
    out += [["tc", "class", "add", "dev", "d0", "parent", p, "classid", c, "htb", "rate", r,
             "ceil", ce] for p, c, r, ce in classes]
    out += [["tc", "filter", "add", "dev", "d0", "parent", "1:", "protocol", "ipv6", "u32",
             "match", "ip6", "dport", str(port), "0xffff", "flowid", c]
            for port, c in filters.items()]
    return out


def cbq_tree(c_borrows: bool) -> list[list[str]]:
    return htb([("1:", "1:1", "10mbit", "10mbit"), ("1:1", "1:11", "4mbit", "10mbit"),
                ("1:1", "1:12", "2mbit", "10mbit"),
                ("1:1", "1:13", "4mbit", "10mbit" if c_borrows else "4mbit")],
               {1: "1:11", 2: "1:12", 3: "1:13"})


CLS = {1: "1:11", 2: "1:12", 3: "1:13"}


@pytest.mark.parametrize("ports", [(1, 2, 3), (1, 2)], ids=["all-backlogged", "c-idle"])
def test_cbq_shares_match_kernel_htb(ports: tuple[int, ...]) -> None:
    kernel = kernel_json("altqm", BLAST % dict.fromkeys(ports, 1), LINK + cbq_tree(True))
    ours = cbq_rates(CBQ_CONF.format(c="borrow"), ports)
    ktot = sum(kernel[CLS[p]] for p in ports)
    otot = sum(ours.values())
    assert ktot == pytest.approx(10e6, rel=0.1)
    assert otot == pytest.approx(10e6, rel=0.02)
    for p in ports:
        ks, os_ = kernel[CLS[p]] / ktot, ours[p] / otot
        assert abs(ks - os_) < 0.03, (p, ks, os_)


def test_cbq_class_without_borrow_matches_kernel_ceil() -> None:
    kernel = kernel_json("altqm", BLAST % {3: 1}, LINK + cbq_tree(False))["1:13"]
    ours = cbq_rates(CBQ_CONF.format(c=""), (3,))[3]
    assert ours == pytest.approx(4e6, rel=0.02)
    assert kernel == pytest.approx(ours, rel=0.05)


def test_wfq_fairness_matches_kernel_per_flow_htb() -> None:
    """Three flows offered 1:3:6 at saturation: each gets a third, with the
    kernel's per-flow HTB classes and with our WFQ's buckets."""
    weights = {1: 1, 2: 3, 3: 6}
    tree = htb([("1:", "1:1", "10mbit", "10mbit")]
               + [("1:1", f"1:1{p}", "3333kbit", "10mbit") for p in weights],
               {p: f"1:1{p}" for p in weights}, default="11")
    kernel = kernel_json("altqm", BLAST % weights, LINK + tree)
    k = [kernel[f"1:1{p}"] for p in weights]
    q = parse_altq_conf("interface eth0 bandwidth 10M wfq hash full\n").ifs["eth0"]
    got = dict.fromkeys(weights, 0)
    now = 0.0
    while now < 3.0:
        for p, n in weights.items():
            for _ in range(n):
                q.enqueue(frame6(1250, dport=p), now)
        for f in drain(q, now):
            if now >= 0.5:
                got[f[57]] += len(f)
        now += 0.0005
    ours = [got[p] * 8 / 2.5 for p in weights]
    assert sum(ours) == pytest.approx(10e6, rel=0.02)
    for kr, orate in zip(k, ours):
        assert kr / sum(k) == pytest.approx(1 / 3, abs=0.03), k
        assert orate / sum(ours) == pytest.approx(1 / 3, abs=0.01), ours


def test_tbmeter_rate_matches_kernel_htb_token_bucket() -> None:
    """2 Mb/s offered to a 1 Mb/s, 10 KB token bucket: the kernel's HTB class
    shapes to its rate, our tbmeter passes its rate's worth and drops the
    rest; the rates in profile agree."""
    tree = [["tc", "qdisc", "add", "dev", "d0", "root", "handle", "1:", "htb", "default", "11"],
            ["tc", "class", "add", "dev", "d0", "parent", "1:", "classid", "1:11", "htb",
             "rate", "1mbit", "ceil", "1mbit", "burst", "10k", "cburst", "10k"]]
    kernel = kernel_json("altqm", BLAST % {9: 1}, LINK + tree)["1:11"]
    q = parse_altq_conf("interface eth0\nconditioner eth0 m <tbmeter 1M 10K <pass><drop>>\n"
                        "filter6 eth0 m 0 9 0 0 udp\n").ifs["eth0"]
    now, octets = 0.0, 0
    while now < 3.0:
        q.enqueue(frame6(1250, dport=9), now)
        n = sum(len(f) for f in drain(q, now))
        if now >= 0.5:
            octets += n
        now += 0.005
    ours = octets * 8 / 2.5
    assert ours == pytest.approx(1e6, rel=0.02)
    assert kernel == pytest.approx(ours, rel=0.05)
