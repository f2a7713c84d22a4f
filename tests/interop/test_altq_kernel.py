"""ALTQ's shares against the Linux kernel's (seed §5): the kernel here has
no hfsc qdisc, so its HTB (link-sharing by rate, borrowing by quantum) is
given the hierarchy of our HFSC test configuration, with the same
link-sharing rates, and its tbf the rate and depth of our token bucket;
UDP from kernel sockets saturates every class of a veth in a fresh
namespace and the kernel's class counters (``tc -s -j class show``) give
the shares over a 2 s window. Ours are the same configuration's on the
virtual clock; both are held to the analytic shares and to each other."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netns_rig import kernel_json
from test_altq import HFSC_CONF, _hfsc_shares

pytestmark = pytest.mark.skipif(shutil.which("tc") is None, reason="needs tc (iproute2)")

HTB = [
    ["tc", "qdisc", "add", "dev", "d0", "root", "handle", "1:", "htb", "default", "12"],
    ["tc", "class", "add", "dev", "d0", "parent", "1:", "classid", "1:1", "htb", "rate", "10mbit",
     "ceil", "10mbit"],
    *[["tc", "class", "add", "dev", "d0", "parent", p, "classid", c, "htb", "rate", r, "ceil",
       "10mbit"]
      for p, c, r in (("1:1", "1:10", "6mbit"), ("1:1", "1:20", "4mbit"), ("1:10", "1:11", "4mbit"),
                      ("1:10", "1:12", "2mbit"), ("1:20", "1:21", "4mbit"))],
    *[["tc", "filter", "add", "dev", "d0", "parent", "1:", "protocol", "ipv6", "u32", "match",
       "ip6", "dport", str(port), "0xffff", "flowid", c]
      for port, c in ((1, "1:11"), (2, "1:12"), (3, "1:21"))],
]
LINK = [["ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1"],
        ["ip", "link", "set", "d0", "up"], ["ip", "link", "set", "d1", "up"],
        ["ip", "addr", "add", "2001:db8::1/64", "dev", "d0", "nodad"],
        # the far end only as a neighbor entry: the frames leave through d0's qdisc
        ["ip", "-6", "neigh", "add", "2001:db8::2", "lladdr", "02:00:00:00:00:02", "dev", "d0"]]

BLAST = """
import json, re, socket, subprocess, time
ports, WHAT = %r, %r
ss = []
for p in ports:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setblocking(False)
    ss.append((s, p))
data = bytes(1192)  # 1250-octet frames, as the virtual-clock runs
def stats():  # tc prints no JSON for htb classes: "class htb 1:11 ..." then " Sent N bytes"
    t = subprocess.run(["tc", "-s", WHAT, "show", "dev", "d0"], capture_output=True,
                       text=True, check=True).stdout
    return {h: int(n) for h, n in re.findall(r"^\\S+ \\S+ (\\S+) .*\\n Sent (\\d+) bytes", t, re.M)}
t0 = time.monotonic()
a = None
while time.monotonic() - t0 < 3.0:
    if a is None and time.monotonic() - t0 > 0.5:
        a, ta = stats(), time.monotonic()
    for s, p in ss:
        try:
            s.sendto(data, ("2001:db8::2", p))
        except OSError:
            pass
b, tb = stats(), time.monotonic()
print(json.dumps({k: (b[k] - a[k]) * 8 / (tb - ta) for k in b}))
"""

NAMES = {1: "a1web", 2: "a1ftp", 3: "a2all"}
CLS = {"a1web": "1:11", "a1ftp": "1:12", "a2all": "1:21"}


@pytest.mark.parametrize("ports", [(1, 2, 3), (1, 2)], ids=["all-backlogged", "agency2-idle"])
def test_hfsc_shares_match_kernel_htb(ports: tuple[int, ...]) -> None:
    kernel = kernel_json("altqk", BLAST % (ports, "class"), LINK + HTB)
    ours = _hfsc_shares(HFSC_CONF, NAMES, offered=None if 3 in ports else {3: 0})
    names = [NAMES[p] for p in ports]
    ktot = sum(kernel[CLS[n]] for n in names)
    otot = sum(ours[n] for n in names)
    assert ktot == pytest.approx(10e6, rel=0.1)  # the kernel's 10 Mb/s root (HTB overhead)
    assert otot == pytest.approx(10e6, rel=0.02)
    for n in names:
        ks, os_ = kernel[CLS[n]] / ktot, ours[n] / otot
        assert abs(ks - os_) < 0.03, (n, ks, os_)


TBF = [["tc", "qdisc", "add", "dev", "d0", "root", "handle", "1:", "tbf", "rate", "2mbit", "burst", "5000",
        "limit", "100000"]]


def test_tbr_rate_matches_kernel_tbf() -> None:
    """The kernel's tbf and our tbr at 2 Mb/s, depth 5000: the same rate."""
    from test_altq import drain, frame6

    from kame.altq import parse_altq_conf

    kernel = kernel_json("altqk", BLAST % ((1,), "qdisc"), LINK + TBF)["1:"]
    q = parse_altq_conf("interface eth0 bandwidth 2M tbrsize 5000 fifoq qlimit 100\n").ifs["eth0"]
    now, octets = 0.0, 0
    while now < 3.0:
        while len(q.disc) < 50:
            q.enqueue(frame6(1250), now)
        n = sum(len(f) for f in drain(q, now))
        if now >= 0.5:
            octets += n
        now += 0.0005
    ours = octets * 8 / 2.5
    assert ours == pytest.approx(2e6, rel=0.01)
    assert kernel == pytest.approx(ours, rel=0.05)
