"""UDP over ::1 and ::ffff:127.0.0.1: kame.socket's emulation against the
host kernel's own sockets, in one run, same datagrams.

    python benches/bench_socket.py [--n 20000] [--repeat 5]

Each round: one sendto to a bound receiver, one recvfrom (kernel sockets
non-blocking, the datagram is on the loopback queue by then). Reported:
µs per round trip (median of repeats) and kame/kernel ratio. kame's path
is the whole PCB lookup + UDP checksum build and verify in the core + the
ancillary-data bookkeeping; the kernel's is two syscalls plus its stack.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import time
from collections.abc import Callable
from typing import Any

from kame.socket import SocketLayer


def rounds(make: Callable[[int], Any], dst: str, n: int) -> float:
    r = make(socket.AF_INET6)
    r.bind(("::", 0))
    port = r.getsockname()[1]
    s = make(socket.AF_INET6)
    data = b"x" * 64
    addr = (dst, port)
    for _ in range(100):  # warm
        s.sendto(data, addr)
        r.recvfrom(2048)
    t0 = time.perf_counter()
    for _ in range(n):
        s.sendto(data, addr)
        r.recvfrom(2048)
    dt = time.perf_counter() - t0
    r.close()
    s.close()
    return dt / n * 1e6


def host_make(fam: int) -> Any:
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    return s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    layer = SocketLayer(None, "linux")
    print(f"load average {os.getloadavg()[0]:.2f}, n={a.n}, repeat={a.repeat}")
    for dst in ("::1", "::ffff:127.0.0.1"):
        k = statistics.median(rounds(layer.socket, dst, a.n) for _ in range(a.repeat))
        h = statistics.median(rounds(host_make, dst, a.n) for _ in range(a.repeat))
        print(f"{dst:18} kame {k:7.2f} us  kernel {h:7.2f} us  ratio {k / h:5.2f}")


if __name__ == "__main__":
    main()
