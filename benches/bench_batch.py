"""Batches against one call per packet, in one run (issue 12 item 5):

    EspSa/AhSa.output(p) for each p   |   output_many(packets[, threads=2])
    EspSa/AhSa.input(p)  for each p   |   input_many(packets[, threads=2])
                                      |   output_batch / input_batch(packets[, threads=2])

for ESP AES-GCM-128, ESP AES-CBC + HMAC-SHA-256-128 and AH
HMAC-SHA-256-128 on IPv6/UDP packets of 64, 256 and 1400 octets, batches
of 4096; then the other batch calls against their one-packet forms on the
same work: ``parse_many``/``parse``, ``cksum_many``/``in6_cksum``,
``nd6_input_many``/``nd6_input`` and ``IpcompSa.output_many``/``output``.

A batch saves what one call per packet costs in Python (the loop, the
method call and its arguments; ``call`` below, measured as a PyO3 method
call with one argument and an int result, ``EspSa.overhead(64)``) and
what it can share in Rust (one output buffer for the run, no allocation
or copy per packet); the transform's own work (the cipher and MAC over
each packet under its own nonce, IV and sequence number, and the
``bytes`` object of each result) is the same in both. So the most a batch
can gain is about ``single / (single - call)``: the ``bound`` column.

Per packet it gives the wall-clock time, the CPU time of the calling
thread and the CPU time of the whole process (all threads), for one call
per packet, the batch on the calling thread (the default) and the batch
allowed two threads (``threads=2``: the calling thread and a worker of a
persistent pool, woken once per batch; the batch goes in runs of about
128 KiB, each prepared and settled in order by the calling thread, its
cryptography taken 16 packets at a time by both threads, its ``bytes``
made while the next run's cryptography goes on). The threads' gain can
only be in wall-clock time, and only when a core is free; the CPU spent
per packet stays what it was or grows. The load average and the CPUs the
process may run on are printed with the figures: the machine is shared.
``output_batch``/``input_batch`` (the ``batch`` rows) write every packet
into one buffer the core owns (a ``PacketRun``: one copy of each packet,
encrypted or decrypted there, no object per packet; a buffer Python has
let go is reused, so no fresh page is touched): the rows that keep
results keep the ``PacketRun`` as the others keep their list. The
``drop`` rows stream as a link does: one call per packet whose result is
dropped at once, against batches of ``STREAM`` packets each dropped once
made (its buffer is the next batch's); their gain is to ``1 drop``.
Best of the rounds (by wall clock), single and batch taking turns in each
round. The tables go to benches/results/batch.json and batch.png.

    maturin develop -q --release && python benches/bench_batch.py [--quick]
"""

from __future__ import annotations

import os
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from publish import publish

from kame import _core
from kame.ipsec import AhSa, EspSa

QUICK = "--quick" in sys.argv
N = 1024 if QUICK else 4096
ROUNDS = 3 if QUICK else 7
SIZES = (64, 256, 1400)


def udp6(total: int, tag: int) -> bytes:
    udp_len = total - 40
    body = bytes((tag + i) & 0xFF for i in range(udp_len - 8))
    udp = struct.pack("!HHHH", 4321, 9999, udp_len, 0) + body
    return struct.pack("!IHBB", 0x60000000, udp_len, 17, 64) + bytes(15) + b"\x01" + bytes(15) + b"\x02" + udp


def gcm() -> EspSa:
    return EspSa(0x1001, "aes-gcm-16", bytes(range(20)), replay_window=4096)


def cbc() -> EspSa:
    return EspSa(0x1002, "aes-cbc", bytes(range(16)), "hmac-sha256", bytes(range(32)), replay_window=4096)


def ah() -> AhSa:
    return AhSa(0x2001, "hmac-sha256", bytes(range(32)), replay_window=4096)


CASES: dict[str, Callable[[], EspSa | AhSa]] = {
    "ESP AES-GCM-128": gcm,
    "ESP AES-CBC + HMAC-SHA-256": cbc,
    "AH HMAC-SHA-256": ah,
}

Clock = tuple[float, float, float]
KEYS = ("out1", "outN", "outT", "outA", "outA2", "out1s", "outAs", "in1", "inN", "inT", "inA", "inA2", "in1s", "inAs")
# packets a batch of the streaming rows
STREAM = 256


def clocked(f: Callable[[], object]) -> Clock:
    w, t, p = time.perf_counter(), time.thread_time(), time.process_time()
    f()
    return time.perf_counter() - w, time.thread_time() - t, time.process_time() - p


def best(xs: list[Clock], n: int) -> Clock:
    # the round with the best wall-clock time, and its CPU times, per packet in ns
    w = min(xs, key=lambda x: x[0])
    return (w[0] / n * 1e9, w[1] / n * 1e9, w[2] / n * 1e9)


def call_floor() -> Clock:
    """One PyO3 method call per packet, its argument an int, its result an
    int: what the loop of single calls pays in Python beyond the transform."""
    sa = gcm()
    packets = range(N)
    return best([clocked(lambda: [sa.overhead(64) for _ in packets]) for _ in range(ROUNDS)], N)


def ipsec(size: int) -> dict[str, dict[str, Clock]]:
    packets = [udp6(size, i) for i in range(N)]
    out: dict[str, dict[str, Clock]] = {}
    for name, make in CASES.items():
        tx = make()
        wire = [tx.output(p) for p in packets]
        runs: dict[str, list[Clock]] = {k: [] for k in KEYS}
        chunks = [packets[i:i + STREAM] for i in range(0, N, STREAM)]
        wchunks = [wire[i:i + STREAM] for i in range(0, N, STREAM)]
        for _ in range(ROUNDS):
            sa = make()
            runs["out1"].append(clocked(lambda sa=sa: [sa.output(p) for p in packets]))
            sa = make()
            runs["outN"].append(clocked(lambda sa=sa: sa.output_many(packets)))
            sa = make()
            runs["outT"].append(clocked(lambda sa=sa: sa.output_many(packets, threads=2)))
            rx = make()
            runs["in1"].append(clocked(lambda rx=rx, wire=wire: [rx.input(p) for p in wire]))
            rx = make()
            runs["inN"].append(clocked(lambda rx=rx, wire=wire: rx.input_many(wire)))
            rx = make()
            runs["inT"].append(clocked(lambda rx=rx, wire=wire: rx.input_many(wire, threads=2)))
            # into one buffer the core owns (a PacketRun, kept as the
            # lists above are kept), on one thread and on two
            sa = make()
            runs["outA"].append(clocked(lambda sa=sa: sa.output_batch(packets)))
            sa = make()
            runs["outA2"].append(clocked(lambda sa=sa: sa.output_batch(packets, threads=2)))
            rx = make()
            runs["inA"].append(clocked(lambda rx=rx, wire=wire: rx.input_batch(wire)))
            rx = make()
            runs["inA2"].append(clocked(lambda rx=rx, wire=wire: rx.input_batch(wire, threads=2)))
            # streaming, as a link consumer: every result dropped once
            # handed on (one call per packet; batches of STREAM)
            sa = make()
            runs["out1s"].append(clocked(lambda sa=sa: [sa.output(p) and None for p in packets]))
            sa = make()
            runs["outAs"].append(clocked(lambda sa=sa, c=chunks: [sa.output_batch(k) and None for k in c]))
            rx = make()
            runs["in1s"].append(clocked(lambda rx=rx, wire=wire: [rx.input(p) and None for p in wire]))
            rx = make()
            runs["inAs"].append(clocked(lambda rx=rx, c=wchunks: [rx.input_batch(k) and None for k in c]))
        out[name] = {k: best(v, N) for k, v in runs.items()}
    return out


def others() -> dict[str, dict[str, Clock]]:
    """The other batch calls against their one-packet forms."""
    from scapy.layers.inet6 import ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IPv6
    from scapy.layers.l2 import Ether

    mixed = [udp6(64 + (i % 8) * 100, i) for i in range(N)]
    s6 = bytes(15) + b"\x01"
    d6 = bytes(15) + b"\x02"
    items = [(s6, d6, 17, p[40:]) for p in mixed]
    ns = bytes(Ether(src="02:00:00:00:00:01", dst="33:33:ff:00:00:02")
               / IPv6(src="fe80::1", dst="ff02::1:ff00:2", hlim=255) / ICMPv6ND_NS(tgt="fe80::2")
               / ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01"))
    nss = [ns] * N
    # NS from 64 sources for 64 targets in turn: no field is the previous
    # frame's (the batch's reuse of the previous frame's objects gains nothing)
    nsv = [bytes(Ether(src="02:00:00:00:00:01", dst="33:33:ff:00:00:02")
                 / IPv6(src=f"fe80::{i % 64 + 1:x}", dst="ff02::1:ff00:2", hlim=255)
                 / ICMPv6ND_NS(tgt=f"fe80::{(i * 7) % 64 + 0x100:x}")
                 / ICMPv6NDOptSrcLLAddr(lladdr=f"02:00:00:00:00:{i % 64:02x}")) for i in range(64)] * (N // 64)
    comp = _core.IpcompSa(0x1234)
    big = [udp6(1400, i) for i in range(N // 4)]
    pairs: dict[str, tuple[Callable[[], object], Callable[[], object], int]] = {
        "parse_many / parse": (lambda: [_core.parse(p) for p in mixed], lambda: _core.parse_many(mixed), N),
        "cksum_many / in6_cksum": (lambda: [_core.in6_cksum(a, b, nh, d) for a, b, nh, d in items],
                                   lambda: _core.cksum_many(items), N),
        "nd6_input_many / nd6_input": (lambda: [_core.nd6_input(p) for p in nss],
                                       lambda: _core.nd6_input_many(nss), N),
        "nd6_input_many / nd6_input, 64 sources": (lambda: [_core.nd6_input(p) for p in nsv],
                                                   lambda: _core.nd6_input_many(nsv), len(nsv)),
        "IpcompSa.output_many / output (1400 B)": (lambda: [comp.output(p) for p in big],
                                                   lambda: comp.output_many(big), len(big)),
        "IpcompSa.output_many threads=2 / output (1400 B)": (lambda: [comp.output(p) for p in big],
                                                             lambda: comp.output_many(big, threads=2), len(big)),
    }
    out: dict[str, dict[str, Clock]] = {}
    for name, (one, many, n) in pairs.items():
        r1: list[Clock] = []
        rn: list[Clock] = []
        for _ in range(ROUNDS):
            r1.append(clocked(one))
            rn.append(clocked(many))
        out[name] = {"one": best(r1, n), "many": best(rn, n)}
    return out


def main() -> None:
    cpus = sorted(os.sched_getaffinity(0))
    load0 = os.getloadavg()
    by_size = {size: ipsec(size) for size in SIZES}
    more = others()
    call = call_floor()
    load = os.getloadavg()
    print(f"batches of {N}, best of {ROUNDS}; load average {load0[0]:.2f} at the start, {load[0]:.2f} "
          f"at the end, on {os.cpu_count()} cores; this process may run on CPUs {cpus}")
    print(f"call (one PyO3 method call per packet, EspSa.overhead(64)): {call[0]:.0f} ns wall, "
          f"{call[1]:.0f} ns thread CPU")
    print(f"{'':27} {'size':>5} {'':9} {'wall ns/pkt':>11} {'thread CPU':>11} {'process CPU':>12} {'gain':>7} "
          f"{'bound':>6}")
    groups: dict[str, dict[str, float]] = {}
    for size, results in by_size.items():
        for name, r in results.items():
            for d, one, many, par in (("output", "out1", "outN", "outT"), ("input", "in1", "inN", "inT")):
                s, b, t = r[one], r[many], r[par]
                print(f"{name:27} {size:5} {d + ' 1':9} {s[0]:11.0f} {s[1]:11.0f} {s[2]:12.0f}")
                bound = s[1] / max(s[1] - call[1], 1.0)
                print(f"{'':27} {size:5} {d + ' N':9} {b[0]:11.0f} {b[1]:11.0f} {b[2]:12.0f} {s[0] / b[0]:6.2f}x "
                      f"{bound:5.2f}x")
                print(f"{'':27} {size:5} {d + ' N t=2':9} {t[0]:11.0f} {t[1]:11.0f} {t[2]:12.0f} "
                      f"{s[0] / t[0]:6.2f}x")
                k = "out" if d == "output" else "in"
                a, a2, s1, as_ = r[k + "A"], r[k + "A2"], r[k + "1s"], r[k + "As"]
                for label, v, ref in (("batch", a, s), ("batch t=2", a2, s), ("1 drop", s1, s1), ("batch drop", as_, s1)):
                    row = ("out " if d == "output" else "in ") + label
                    print(f"{'':27} {size:5} {row:9} {v[0]:11.0f} "
                          f"{v[1]:11.0f} {v[2]:12.0f} {ref[0] / v[0]:6.2f}x")
                # kame's batch first: publish's ratios are to the first entry
                groups[f"{name} {d}, {size} B (wall ns per packet)"] = {
                    "output_many" if d == "output" else "input_many": b[0],
                    f"{d}() per packet": s[0],
                    f"{d}_many threads=2": t[0],
                    f"{d}_batch": r[k + "A"][0],
                    f"{d}_batch threads=2": r[k + "A2"][0],
                    f"{d}() per packet, results dropped": r[k + "1s"][0],
                    f"{d}_batch of {STREAM}, dropped": r[k + "As"][0],
                }
    print()
    for name, r in more.items():
        o, m = r["one"], r["many"]
        print(f"{name:40} one {o[0]:7.0f} ns  batch {m[0]:7.0f} ns per packet (wall; thread CPU "
              f"{o[1]:.0f} / {m[1]:.0f})  {o[0] / m[0]:5.2f}x")
        groups[f"{name} (wall ns per packet)"] = {"batch": m[0], "one call per packet": o[0]}
    facts: dict[str, Any] = {
        "packets": N, "rounds": ROUNDS, "sizes": list(SIZES), "loadavg_start": load0[0],
        "call_ns": dict(zip(("wall", "thread_cpu", "process_cpu"), call, strict=True)),
        "loadavg_end": load[0], "affinity": cpus,
        "ns_per_packet": {
            f"{name} {size}": {k: dict(zip(("wall", "thread_cpu", "process_cpu"), v, strict=True))
                               for k, v in r.items()}
            for size, results in by_size.items() for name, r in results.items()},
        "others": {name: {k: dict(zip(("wall", "thread_cpu", "process_cpu"), v, strict=True))
                          for k, v in r.items()} for name, r in more.items()},
    }
    for p in publish("batch", groups, unit="ns", better="lower", facts=facts):
        print("wrote", p)


if __name__ == "__main__":
    main()
