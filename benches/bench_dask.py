"""kame.dask from one worker process to two on this machine: the kernel
capture of bench_dissect (200,000 frames by default) copied ``--files``
times into a directory, read by ``kame.dask.read_captures`` in byte ranges
of ``--blocksize`` octets, reduced to a per-verdict count and a per-port
octet sum on the workers. Wall time per worker count, best of ``--runs``,
with the load average (the machine is shared). Writes
benches/results/dask.json and .png.

    sudo .venv/bin/python benches/bench_dask.py [--packets N] [--keep FILE] [--files N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "interop"))
sys.path.insert(0, str(HERE))

from distributed import Client, LocalCluster
from publish import publish

from kame import dask as kdask


def run(d: Path, workers: int, blocksize: int, runs: int) -> tuple[float, int]:
    best, rows = float("inf"), 0
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.wait_for_workers(workers)
        for _ in range(runs):
            t0 = time.perf_counter()
            ddf = kdask.read_captures(str(d), blocksize=blocksize)
            verdicts = ddf.groupby("verdict", observed=True).size()
            octets = ddf.groupby("dport")["len"].sum()
            v, _ = client.compute([verdicts, octets], sync=True)
            best = min(best, time.perf_counter() - t0)
            rows = int(v.sum())
    return best, rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=200_000)
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--blocksize", type=int, default=32 << 20)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--keep", type=Path, help="reuse (or keep) the capture at this path")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = a.keep or Path(d) / "kernel.pcap"
        if not path.exists():
            from dissect_traffic import record

            record(path, a.packets, prefix="kdbench")
        caps = Path(d) / "caps"
        caps.mkdir()
        for i in range(a.files):
            shutil.copy(path, caps / f"{i:02}.pcap")
        size = sum(p.stat().st_size for p in caps.iterdir())
        for p in caps.iterdir():
            p.read_bytes()
        load = os.getloadavg()
        res = {w: run(caps, w, a.blocksize, a.runs) for w in (1, 2)}
        load_after = os.getloadavg()
    rows = res[1][1]
    print(f"{a.files} files, {size / 1e6:.0f} MB, {rows} frames, blocksize {a.blocksize >> 20} MiB; "
          f"load average {load[0]:.2f} -> {load_after[0]:.2f} ({os.cpu_count()} cpus)")
    for w, (t, _) in res.items():
        print(f"{w} worker(s): {t:6.2f} s  {rows / t / 1e6:6.2f} Mpkt/s  speed-up {res[1][0] / t:4.2f}x")
    publish("dask", {"read_captures + groupby, wall seconds": {f"{w} worker(s)": t for w, (t, _) in res.items()}},
            unit="s", better="lower", facts={"files": a.files, "bytes": size, "packets": rows,
                                             "blocksize": a.blocksize, "load_before": load[0],
                                             "load_after": load_after[0]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
