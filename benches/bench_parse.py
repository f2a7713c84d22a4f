"""Parse + field access from Python: kame against dpkt, scapy and a bare
pure-Python struct walk, on the same corpus, in one run.

    python benches/bench_parse.py [--n N] [--scapy-n N] [--batch N] [--repeat R]

Every tool parses each packet and reads the same fields: source and
destination address (as 16 raw bytes, the form dpkt gives), hop limit, the
upper-layer protocol after the extension-header chain, and the ports (UDP,
TCP) or type/code (ICMPv6). Prints ns/packet and kame's speed-up over each
peer, then the batch rate (packets/s on one core: wall clock, and CPU
time of the calling thread, which is what one core delivers when this
shared machine is loaded).
"""

from __future__ import annotations

import argparse
import statistics
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import kame


def corpus() -> list[bytes]:
    """A mix of what a host sees: UDP, TCP, ICMPv6 echo and ND, with and
    without extension headers. Built by scapy, an independent builder."""
    from scapy.layers.inet import TCP, UDP
    from scapy.layers.inet6 import (
        ICMPv6EchoRequest,
        ICMPv6ND_NS,
        ICMPv6NDOptSrcLLAddr,
        IPv6,
        IPv6ExtHdrDestOpt,
        IPv6ExtHdrFragment,
        IPv6ExtHdrHopByHop,
        IPv6ExtHdrRouting,
        RouterAlert,
    )

    s, d = "2001:db8::1", "2001:db8::2"
    pkts = [
        IPv6(src=s, dst=d) / UDP(sport=5353, dport=53) / (b"q" * 40),
        IPv6(src=s, dst=d) / TCP(sport=40000, dport=443, flags="S"),
        IPv6(src=s, dst=d) / TCP(sport=443, dport=40000, flags="PA") / (b"x" * 1200),
        IPv6(src=s, dst=d) / ICMPv6EchoRequest(id=1, seq=2, data=b"ping" * 14),
        IPv6(src="fe80::1", dst="ff02::1:ff00:2", hlim=255)
        / ICMPv6ND_NS(tgt="fe80::2")
        / ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01"),
        IPv6(src=s, dst="ff02::16") / IPv6ExtHdrHopByHop(options=[RouterAlert()]) / UDP(sport=1, dport=2),
        IPv6(src=s, dst=d) / IPv6ExtHdrFragment(id=7, offset=0, m=1) / UDP(sport=3, dport=4) / (b"f" * 64),
        IPv6(src=s, dst=d)
        / IPv6ExtHdrDestOpt()
        / IPv6ExtHdrRouting(addresses=["2001:db8::3"], segleft=0)
        / TCP(sport=5, dport=6),
    ]
    return [bytes(p) for p in pkts]


# --- the peers --------------------------------------------------------------

_EXT = {0, 43, 60, 51}


def walk_struct(b: bytes):
    """What a careful pure-Python parser does: unpack the fixed header,
    walk the chain, unpack the upper header."""
    _vtf, _plen, nh, hlim = struct.unpack_from("!IHBB", b, 0)
    src = b[8:24]
    dst = b[24:40]
    off = 40
    while nh in _EXT:
        nxt, hlen = b[off], b[off + 1]
        off += (hlen + 2) * 4 if nh == 51 else (hlen + 1) * 8
        nh = nxt
    if nh == 44:
        nh = b[off]
        off += 8
    if nh in (6, 17):
        a, c = struct.unpack_from("!HH", b, off)
    elif nh == 58:
        a, c = b[off], b[off + 1]
    else:
        a = c = None
    return src, dst, hlim, nh, a, c


def walk_dpkt(b: bytes):
    import dpkt

    ip = dpkt.ip6.IP6(b)
    up = ip.data
    if ip.p in (6, 17) and not isinstance(up, bytes):
        a, c = up.sport, up.dport
    elif ip.p == 58 and not isinstance(up, bytes):
        a, c = up.type, up.code
    else:
        a = c = None
    return ip.src, ip.dst, ip.hlim, ip.p, a, c


def walk_scapy(b: bytes):
    from scapy.layers.inet6 import IPv6

    p = IPv6(b)
    up = p.payload
    while up.name.startswith("IPv6 Extension") or up.name.startswith("Fragmentation"):
        up = up.payload
    a = getattr(up, "sport", getattr(up, "type", None))
    c = getattr(up, "dport", getattr(up, "code", None))
    return p.src, p.dst, p.hlim, up.name, a, c


def walk_kame(b: bytes):
    p = kame.parse(b)
    return p.src_bytes, p.dst_bytes, p.hop_limit, p.upper_proto, p.sport, p.dport


# --- timing ------------------------------------------------------------------


def per_packet_ns(fns: dict[str, tuple[object, int]], pkts: list[bytes], repeat: int) -> dict[str, float]:
    """Best ns/packet of each contender. The rounds are interleaved (one
    round of each contender in turn, `repeat` times) so that a change in
    the load of this shared machine hits every contender alike."""
    best: dict[str, float] = {name: float("inf") for name in fns}
    for _ in range(repeat):
        for name, (fn, n) in fns.items():
            rounds = max(1, n // len(pkts))
            t0 = time.perf_counter_ns()
            for _ in range(rounds):
                for b in pkts:
                    fn(b)  # type: ignore[operator]
            ns = (time.perf_counter_ns() - t0) / (rounds * len(pkts))
            best[name] = min(best[name], ns)
    return best


def _parse_many_rates(n: int, run: Callable[[], Any]) -> tuple[float, float]:
    """Packets per second of ``run`` (a parse_many of ``n`` packets, every
    one parsed well), wall clock and this thread's CPU time, medians of 3."""
    walls, cpus = [], []
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.thread_time()
        res = run()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.thread_time() - c0)
        assert len(res) == n and res.ok_count == n
        del res
    return n / statistics.median(walls), n / statistics.median(cpus)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--scapy-n", type=int, default=4_000)
    ap.add_argument("--batch", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    pkts = corpus()
    for b in pkts:  # every tool sees the same protocol numbers
        assert walk_kame(b)[3] == walk_struct(b)[3], b.hex()

    best = per_packet_ns(
        {
            "kame.parse": (walk_kame, args.n),
            "struct walk": (walk_struct, args.n),
            "dpkt": (walk_dpkt, args.n // 4),
            "scapy": (walk_scapy, args.scapy_n),
        },
        pkts,
        args.repeat,
    )
    k = best["kame.parse"]
    print(f"parse + field access, {len(pkts)}-packet mix, ns/packet (best of {args.repeat} interleaved rounds)")
    for name, ns in best.items():
        print(f"  {name:<14} {ns:12.1f} ns   kame is {ns / k:8.1f}x faster")

    batch = pkts * (args.batch // len(pkts))
    wall, cpu = _parse_many_rates(len(batch), lambda: kame.parse_many(batch))
    print(
        f"batch parse_many of {len(batch)} packets, one thread: {wall / 1e6:.2f} M packets/s wall clock, "
        f"{cpu / 1e6:.2f} M packets/s of CPU time (medians of 3)"
    )

    # The same packets back to back in one buffer (as a capture file or a
    # ring holds them), with their n + 1 boundaries.
    blob = b"".join(batch)
    offsets = [0]
    for b in batch:
        offsets.append(offsets[-1] + len(b))
    wall, cpu = _parse_many_rates(len(batch), lambda: kame.parse_many(blob, offsets=offsets))
    print(
        f"batch parse_many over one buffer + offsets: {wall / 1e6:.2f} M packets/s wall clock, "
        f"{cpu / 1e6:.2f} M packets/s of CPU time (medians of 3)"
    )


if __name__ == "__main__":
    main()
