"""DF on an IPv4 path MTU black hole (kame.inet ``pmtud_blackhole`` from
kame.tcp's ``tcp_timer_rexmt`` black-hole detection,
``net.inet.tcp.pmtud_blackhole_detection``): a hop drops datagrams with DF
larger than N octets and sends no Fragmentation Needed. After the timeouts
that take the MSS down to ``pmtud_blackhole_mss`` and then ``mssdflt``,
path MTU discovery is off for the destination: segments leave without DF,
pass the hop, and the transfer completes. With the detection off, it never
does."""

from __future__ import annotations

import random
from ipaddress import IPv4Address

import pytest
from test_tcp4 import B, Pair4, pump

from kame.socket import AF_INET

N = 500  # smaller than mssdflt's 576-octet datagrams: only clearing DF gets through


class DfBlackhole:
    """Drops IPv4 datagrams with DF set longer than ``n``; counts what passed."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.dropped = 0
        self.big_nodf = 0

    def __call__(self, frame: bytes) -> bytes | None:
        if frame[12:14] != b"\x08\x00":
            return frame
        ip = frame[14:]
        df = bool(ip[6] & 0x40)
        if len(ip) > self.n and df:
            self.dropped += 1
            return None
        if len(ip) > self.n:
            self.big_nodf += 1
        return frame


@pytest.mark.parametrize("detect", [1, 0])
def test_df_cleared_after_repeated_timeouts(detect: int) -> None:
    p = Pair4()
    for n in (p.a, p.b):
        n.knobs["net.inet.tcp.pmtud_blackhole_detection"] = detect
    hole = DfBlackhole(N)
    p.link.filters.append(hole)
    _srv, cli, conn, _peer = p.connect(AF_INET, AF_INET, B)
    data = random.Random(9).randbytes(60_000)
    if not detect:
        cli.send(data[:20_000])
        p.run(90)
        with pytest.raises(BlockingIOError):
            conn.recv(100)
        assert hole.big_nodf == 0 and p.a.stats["tcps_rexmttimeo"] >= 5
        return
    assert pump(p, cli, conn, data, limit=240) == data
    st = p.a.stats
    assert st["tcps_pmtud_blackhole_activated"] == 1
    assert st["tcps_pmtud_blackhole_activated_min_mss"] == 1
    assert hole.big_nodf > 10 and hole.dropped >= 2
    assert IPv4Address(B) in p.a.inet.pmtud_off
    # another connection to that destination starts without DF as well
    # (the route's PMTU discovery is off until it is probed again, 10 min)
    p.run(601)
    assert IPv4Address(B) not in p.a.inet.pmtud_off or p.a.inet.pmtud_off[IPv4Address(B)] <= \
        p.sim.now
