"""Binds and connects with many sockets open: one UDP socket made,
connected (an ephemeral port chosen, its conflict check) and closed while
``--held`` others are bound, CPU µs each.

    python benches/bench_pcb.py [--held 10000] [--n 500]
"""

from __future__ import annotations

import argparse
import time

from kame.socket import AF_INET6, SOCK_DGRAM, SocketLayer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--held", type=int, default=10000)
    ap.add_argument("--n", type=int, default=500)
    a = ap.parse_args()
    layer = SocketLayer(None, "linux")
    held = [layer.socket(AF_INET6, SOCK_DGRAM) for _ in range(a.held)]
    for i, s in enumerate(held):
        s.bind(("::", 20000 + i % 40000))
    t0 = time.process_time()
    for _ in range(a.n):
        s = layer.socket(AF_INET6, SOCK_DGRAM)
        s.connect(("::1", 9))
        s.close()
    us = (time.process_time() - t0) / a.n * 1e6
    print(f"{us:.1f} us per socket + connect + close with {a.held} bound")


if __name__ == "__main__":
    main()
