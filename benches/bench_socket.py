"""UDP over the loopback: kame.socket's emulation against the host kernel's
own sockets, in one run, same datagrams, three destinations:

- ``::1`` (AF_INET6 to AF_INET6),
- ``::ffff:127.0.0.1`` (AF_INET6 with IPV6_V6ONLY 0 to an AF_INET6 wildcard),
- ``127.0.0.1`` (AF_INET to AF_INET).

    python benches/bench_socket.py [--n 20000] [--repeat 5]

Each round: one sendto of 64 octets to a bound receiver, one recvfrom
(the kernel's datagram is on the loopback queue by then). kame runs with
its loopback fast path (``SocketLayer.loop_fastpath``) and without it (the
general path: source selection, PCB lookup per datagram); kame and the
kernel alternate repeat by repeat, so that both see the same load.
Reported: µs per round, wall clock and thread CPU time (median of the
repeats), and kame/kernel ratios. Writes benches/results/socket.json and
.png (benches/publish.py).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import time
from collections.abc import Callable
from typing import Any

from publish import publish

from kame.socket import SocketLayer

#: destination -> (family of both sockets, receiver's bind address)
CASES = {
    "::1": (socket.AF_INET6, "::"),
    "::ffff:127.0.0.1": (socket.AF_INET6, "::"),
    "127.0.0.1": (socket.AF_INET, "0.0.0.0"),
}


def rounds_cpu(make: Callable[[int], Any], dst: str, n: int) -> tuple[float, float]:
    """(wall, thread CPU) µs per round of ``n`` rounds to ``dst``."""
    fam, any_ = CASES.get(dst, (socket.AF_INET6, "::"))
    r = make(fam)
    r.bind((any_, 0))
    port = r.getsockname()[1]
    s = make(fam)
    data = b"x" * 64
    addr = (dst, port)
    for _ in range(100):  # warm
        s.sendto(data, addr)
        r.recvfrom(2048)
    c0, t0 = time.thread_time(), time.perf_counter()
    for _ in range(n):
        s.sendto(data, addr)
        r.recvfrom(2048)
    dt, dc = time.perf_counter() - t0, time.thread_time() - c0
    r.close()
    s.close()
    return dt / n * 1e6, dc / n * 1e6


def rounds(make: Callable[[int], Any], dst: str, n: int) -> float:
    """Wall-clock µs per round (benches/bench_tcp.py's UDP row)."""
    return rounds_cpu(make, dst, n)[0]


def host_make(fam: int) -> Any:
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    return s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    fast = SocketLayer(None, "linux")
    general = SocketLayer(None, "linux")
    general.loop_fastpath = False
    load0 = os.getloadavg()
    print(f"load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, {os.cpu_count()} cpus, "
          f"n={a.n}, repeat={a.repeat}")
    who = {"kame.socket": fast.socket, "kame.socket, general path": general.socket,
           "host kernel": host_make}
    groups: dict[str, dict[str, float]] = {}
    cpu: dict[str, dict[str, float]] = {}
    print(f"{'µs per round':18} {'':28} {'wall':>8} {'cpu':>8} {'wall ratio':>10} "
          f"{'cpu ratio':>10}")
    for dst in CASES:
        runs: dict[str, list[tuple[float, float]]] = {k: [] for k in who}
        for _ in range(a.repeat):  # interleaved: the same load for each
            for k, make in who.items():
                runs[k].append(rounds_cpu(make, dst, a.n))
        wall = {k: statistics.median(w for w, _c in v) for k, v in runs.items()}
        cput = {k: statistics.median(c for _w, c in v) for k, v in runs.items()}
        groups[f"UDP round on {dst}"] = wall
        cpu[dst] = cput
        h, hc = wall["host kernel"], cput["host kernel"]
        for k in who:
            print(f"{dst:18} {k:28} {wall[k]:8.2f} {cput[k]:8.2f} {wall[k] / h:10.2f} "
                  f"{cput[k] / hc:10.2f}")
    load1 = os.getloadavg()
    print(f"load average at end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    for p in publish("socket", groups, unit="µs", better="lower",
                     facts={"n": a.n, "repeat": a.repeat, "load_start": load0[0],
                            "load_end": load1[0], "thread_cpu_us": cpu,
                            "what": "sendto of 64 octets + recvfrom, wall clock per round "
                                    "(median of repeats); thread CPU time in thread_cpu_us"}):
        print(f"wrote {p}")


if __name__ == "__main__":
    main()
