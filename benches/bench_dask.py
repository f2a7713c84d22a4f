"""kame.dask from one worker process to two on this machine.

The corpus is generated here: ``--files`` pcaps (8 by default) of
``--packets`` frames each (200,000), drawn from the mix of
tests/test_capture.py (UDP, TCP, ND, extension headers, fragments, ESP,
ICMP, ARP, bad checksums and refusals), or copies of a capture given with
``--source`` (e.g. bench_dissect's kernel capture). It is read by
``kame.dask.read_captures`` in byte ranges of ``--blocksize`` octets (so
several partitions per file, each resynchronised by the core), reduced on
the workers to a per-verdict count and a per-port octet sum (tree
reductions, ``split_out=1``: no shuffle); only those small results come
back. Each worker maps its piece of the file and the
core builds the columns; a piece crosses between processes as a URL and
two offsets.

Reported per worker count (1 and 2 worker processes, one thread each, the
workers' statistical profiler off unless ``--profile``): wall time (best
of ``--runs``), the CPU seconds the workers spent in that run, those of
this process (client and scheduler), and the load average. On a shared machine the wall-time speed-up is
bounded by the cores the workers actually got, so the CPU-normalised
speed-up is given too: 2 x (worker CPU seconds with one worker) / (worker
CPU seconds with two), the speed-up if each worker had a core of its own
(1.0 x 2 would be perfect scaling). Also timed: the same reduction in
this one process with kame.capture and pyarrow (no Dask).
Writes benches/results/dask.json and .png.

    .venv/bin/python benches/bench_dask.py [--files N] [--packets N] [--source FILE]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

import dask
from distributed import Client, LocalCluster
from publish import publish

from kame import capture
from kame import dask as kdask


def _cpu() -> float:
    return time.process_time()


def run(d: Path, workers: int, blocksize: int, runs: int,
        profile: bool = False) -> tuple[float, float, int, int, float]:
    """(best wall seconds, worker CPU seconds in that run, rows, partitions,
    CPU seconds of this process (client and scheduler) in that run)."""
    best, best_cpu, rows, parts, best_here = float("inf"), 0.0, 0, 0, 0.0
    # The workers' statistical profiler samples the running task's stack
    # every 10 ms (about 40 % more idle CPU per worker here): off, as a
    # production deployment would run it (--profile to keep it).
    with dask.config.set({"distributed.worker.profile.enabled": profile}), \
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                         dashboard_address=None, worker_dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.wait_for_workers(workers)
        client.run(capture.schema)  # import kame and pyarrow on the workers first
        for _ in range(runs):
            c0 = sum(client.run(_cpu).values())
            h0 = time.process_time()
            t0 = time.perf_counter()
            ddf = kdask.read_captures(str(d), blocksize=blocksize)
            # a tree reduction (split_out=1): partial sums per partition on
            # the workers, combined; no shuffle of rows between workers
            verdicts = ddf.groupby("verdict", observed=True).size(split_out=1)
            octets = ddf.groupby("dport")["len"].sum(split_out=1)
            v, _ = client.compute([verdicts, octets], sync=True)
            wall = time.perf_counter() - t0
            here = time.process_time() - h0
            cpu = sum(client.run(_cpu).values()) - c0
            if wall < best:
                best, best_cpu, best_here = wall, cpu, here
            rows, parts = int(v.sum()), ddf.npartitions
    return best, best_cpu, rows, parts, best_here


def one_process(d: Path) -> tuple[float, float, int]:
    """The same reduction with kame.capture and pyarrow, no Dask."""
    import pyarrow as pa

    c0, t0 = time.process_time(), time.perf_counter()
    t = pa.concat_tables(capture.read(p) for p in sorted(d.iterdir()))
    t.group_by("verdict").aggregate([("len", "count")])
    t.group_by("dport").aggregate([("len", "sum")])
    return time.perf_counter() - t0, time.process_time() - c0, t.num_rows


def generate(dest: Path, files: int, packets: int, source: Path | None) -> None:
    if source is not None:
        for i in range(files):
            shutil.copy(source, dest / f"{i:02}.pcap")
        return
    from test_capture import FRAMES, pcap

    for i in range(files):
        rnd = random.Random(i)
        block = pcap([rnd.choice(FRAMES) for _ in range(10_000)], t0=1_700_000_000.0 + i * 1000)
        reps = max(packets // 10_000, 1)
        (dest / f"{i:02}.pcap").write_bytes(block[:24] + block[24:] * reps)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--packets", type=int, default=200_000)
    # 16 MiB: about 100 ms of work per partition here, against a few ms of
    # scheduling per task (4 MiB spent a third of the workers' CPU on it)
    ap.add_argument("--blocksize", type=int, default=16 << 20)
    ap.add_argument("--profile", action="store_true",
                    help="keep the workers' statistical profiler on (distributed's default)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--source", type=Path, help="copy this capture --files times instead")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        caps = Path(d) / "caps"
        caps.mkdir()
        generate(caps, a.files, a.packets, a.source)
        size = sum(p.stat().st_size for p in caps.iterdir())
        for p in caps.iterdir():
            p.read_bytes()  # into the page cache
        load = os.getloadavg()
        single = one_process(caps)
        res = {w: run(caps, w, a.blocksize, a.runs, a.profile) for w in (1, 2)}
        load_after = os.getloadavg()
    rows, parts = res[1][2], res[1][3]
    assert res[2][2] == rows == single[2]
    (w1, c1, _, _, _), (w2, c2, _, _, _) = res[1], res[2]
    norm = 2 * c1 / c2
    print(f"{a.files} files, {size / 1e6:.0f} MB, {rows} frames, {parts} partitions (blocksize "
          f"{a.blocksize >> 20} MiB); load average {load[0]:.2f} -> {load_after[0]:.2f} "
          f"({os.cpu_count()} cpus); best of {a.runs}")
    print(f"one process, no Dask: {single[0]:6.2f} s wall {single[1]:6.2f} s CPU "
          f"{rows / single[0] / 1e6:6.2f} Mpkt/s")
    for w, (t, c, _, _, h) in res.items():
        print(f"{w} worker(s):          {t:6.2f} s wall {c:6.2f} s CPU (workers) {h:5.2f} s CPU "
              f"(client+scheduler) {rows / t / 1e6:6.2f} Mpkt/s  wall speed-up {w1 / t:4.2f}x")
    print(f"CPU-normalised speed-up 1 -> 2 workers: {norm:4.2f}x (2 x {c1:.2f} / {c2:.2f} worker CPU s)")
    publish("dask", {
        "read_captures + groupby, wall seconds": {
            "one process, no Dask": single[0], **{f"{w} worker(s)": t for w, (t, *_) in res.items()}},
        "worker CPU seconds": {f"{w} worker(s)": c for w, (_, c, *_) in res.items()},
    }, unit="s", better="lower", facts={"files": a.files, "bytes": size, "packets": rows,
                                        "partitions": parts, "blocksize": a.blocksize,
                                        "wall_speedup": w1 / w2, "cpu_normalised_speedup": norm,
                                        "load_before": load[0], "load_after": load_after[0]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
