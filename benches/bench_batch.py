"""IPsec batches against one call per packet, in one run (issue 12 item 5):

    EspSa/AhSa.output(p) for each p   |   output_many(packets[, threads=2])
    EspSa/AhSa.input(p)  for each p   |   input_many(packets[, threads=2])

for ESP AES-GCM-128, ESP AES-CBC + HMAC-SHA-256-128 and AH HMAC-SHA-256-128
on ~500-octet IPv6/UDP packets, batches of 4096. Per packet it prints the
wall-clock time, the CPU time of the calling thread, and the CPU time of
the whole process (all threads), for one call per packet, the batch on
the calling thread (the default) and the batch allowed two threads
(``threads=2``: the calling thread and a worker of a persistent pool). The
threads' gain can only be in wall-clock time, and only when a core is
idle; the CPU spent per packet stays what it was or grows (a worker wakes,
caches are not shared).
Best of the rounds, single and batch taking turns in each round. The load
average is printed with the figures: the machine is shared. The table also
goes to benches/results/batch.json.

    maturin develop -q --release && python benches/bench_batch.py [--quick]
"""

from __future__ import annotations

import json
import os
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

from kame.ipsec import AhSa, EspSa

QUICK = "--quick" in sys.argv
N = 1024 if QUICK else 4096
ROUNDS = 3 if QUICK else 7
ROOT = Path(__file__).resolve().parent.parent


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


def clocked(f: Callable[[], object]) -> tuple[float, float, float]:
    w, t, p = time.perf_counter(), time.thread_time(), time.process_time()
    f()
    return time.perf_counter() - w, time.thread_time() - t, time.process_time() - p


def best(xs: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    # the round with the best wall-clock time, and its CPU times
    w = min(xs, key=lambda x: x[0])
    return (w[0] / N * 1e9, w[1] / N * 1e9, w[2] / N * 1e9)


def main() -> None:
    packets = [udp6(500, i) for i in range(N)]
    results: dict[str, dict[str, list[float]]] = {}
    for name, make in CASES.items():
        tx = make()
        wire = [tx.output(p) for p in packets]
        runs: dict[str, list[tuple[float, float, float]]] = {
            k: [] for k in ("out1", "outN", "outT", "in1", "inN", "inT")}
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
        results[name] = {k: list(best(v)) for k, v in runs.items()}
    load = os.getloadavg()
    print(f"IPsec batches, {N} packets of 500 octets, best of {ROUNDS}; load average {load[0]:.2f} "
          f"{load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    print(f"{'':30} {'':7} {'wall ns/pkt':>12} {'thread CPU':>11} {'process CPU':>12} {'wall gain':>10}")
    for name, r in results.items():
        for d, one, many, par in (("output", "out1", "outN", "outT"), ("input", "in1", "inN", "inT")):
            s, b, t = r[one], r[many], r[par]
            print(f"{name:30} {d + ' 1':9} {s[0]:10.0f} {s[1]:11.0f} {s[2]:12.0f}")
            print(f"{'':30} {d + ' N':9} {b[0]:10.0f} {b[1]:11.0f} {b[2]:12.0f} {s[0] / b[0]:9.2f}x")
            print(f"{'':30} {d + ' N t=2':9} {t[0]:5.0f} {t[1]:11.0f} {t[2]:12.0f} {s[0] / t[0]:9.2f}x")
    out = ROOT / "benches" / "results" / "batch.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"packets": N, "octets": 500, "rounds": ROUNDS, "loadavg": load,
                               "cores": os.cpu_count(), "ns_per_packet": {
                                   name: {k: dict(zip(("wall", "thread_cpu", "process_cpu"), v, strict=True))
                                          for k, v in r.items()} for name, r in results.items()}},
                              indent=1) + "\n")


if __name__ == "__main__":
    main()
