"""ALTQ on a real clock with the Linux kernel at the other end of a TAP
(seed §5): our node shapes UDP to 2 Mb/s with PRIQ over a token bucket,
driven by ``Runner`` through ``poll``/``next_deadline``; the kernel's
sockets count what arrives. With the high class paced below the link rate
the low class gets the rest; with the high class saturating, the low class
starves; the kernel sees the configured rate either way."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from ipaddress import IPv6Address

import pytest
from netns_rig import TapPort, fresh_netns, ipns, node_on_port

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                                reason="needs root for a network namespace")

OURS6, KERNEL6 = "2001:db8:a1::1", "2001:db8:a1::2"
PAYLOAD = 1000  # 1062-octet frames
SECONDS = 3.0

LISTEN = """
import json, socket, time, select
ss = []
for p in (1, 2):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind(("%s", p))
    ss.append(s)
print("ready", flush=True)
got = []
end = time.monotonic() + %f
while time.monotonic() < end:
    r, _, _ = select.select(ss, [], [], 0.05)
    for s in r:
        d, a = s.recvfrom(65535)
        got.append((time.monotonic(), s.getsockname()[1], len(d)))
print(json.dumps(got))
"""


def _run(high_pps: float | None) -> dict[int, float]:
    """Octets/s the kernel received per port over the middle of the run;
    ``high_pps`` None: the high class (port 1) saturates."""
    from kame.socket.const import AF_INET6, SOCK_DGRAM

    with fresh_netns("altqt") as ns:
        port = TapPort(ns, "aq")
        try:
            ipns(ns, "ip", "link", "set", port.name, "up")
            ipns(ns, "ip", "addr", "add", f"{KERNEL6}/64", "dev", port.name, "nodad")
            node, runner, layer = node_on_port(port, "altq", 5, "02:00:5e:00:a1:01", OURS6,
                                               "192.0.2.1")
            lis = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c",
                                    LISTEN % (KERNEL6, SECONDS + 2)],
                                   stdout=subprocess.PIPE, text=True)
            assert lis.stdout is not None and lis.stdout.readline().strip() == "ready"
            s = layer.socket(AF_INET6, SOCK_DGRAM)
            s.sendto(b"x", (KERNEL6, 2))  # ND before the queues
            end = time.monotonic() + 1.0
            while time.monotonic() < end and node.cache.lookup(port.name, IPv6Address(KERNEL6)) is None:
                runner.service()
                select.select(runner.fds(), [], [], 0.01)
            node.altq_config(f"interface {port.name} bandwidth 2M tbrsize 3186 priq\n"
                             f"class priq {port.name} high NULL priority 7 qlimit 20\n"
                             f"class priq {port.name} low NULL priority 0 qlimit 20 default\n"
                             f"filter6 {port.name} high 0 1 0 0 udp\n")
            cls = {c.name: c for c in node.altq.ifs[port.name].disc.classes()}
            t0 = time.monotonic()
            sent_high = 0
            while (now := time.monotonic()) < t0 + SECONDS:
                # (datagrams reach the queues at the next pass: top up once a pass)
                if high_pps is None:
                    for _ in range(10 - len(cls["high"])):
                        s.sendto(bytes(PAYLOAD), (KERNEL6, 1))
                else:
                    while sent_high < (now - t0) * high_pps:
                        s.sendto(bytes(PAYLOAD), (KERNEL6, 1))
                        sent_high += 1
                for _ in range(10 - len(cls["low"])):
                    s.sendto(bytes(PAYLOAD), (KERNEL6, 2))
                runner.service()
                select.select(runner.fds(), [], [], min(0.002, runner.timeout(0.002)))
            out, _ = lis.communicate(timeout=10)
        finally:
            port.close()
    got = json.loads(out)
    first = min(t for t, _, _ in got if t >= 0)
    lo, hi = first + 0.5, first + SECONDS - 0.5
    rate = {1: 0.0, 2: 0.0}
    for t, p, n in got:
        if lo <= t < hi and n == PAYLOAD:
            rate[p] += (n + 62) / (hi - lo)  # the frame's octets
    return rate


def test_priq_tbr_against_kernel_receiver() -> None:
    paced = _run(high_pps=60.0)  # 60 frames/s of 1062 octets: 0.51 Mb/s
    assert paced[1] * 8 == pytest.approx(60 * 1062 * 8, rel=0.1)
    assert (paced[1] + paced[2]) * 8 == pytest.approx(2e6, rel=0.05)
    flood = _run(high_pps=None)
    assert flood[1] * 8 == pytest.approx(2e6, rel=0.05)
    assert flood[2] * 8 < 0.01 * 2e6  # starved
