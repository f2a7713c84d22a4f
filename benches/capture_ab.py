"""kame.capture.read by two builds of the extension, alternated in fresh
processes on the same captures, in one run: the build "before" is a copy
of the ``kame`` package directory (with its ``_core`` shared object) put
first on ``sys.path``; "after" is the package installed in this venv.

For each capture: the first read of a process (its column memory fresh
from the kernel: what a user reading one file gets) and the best of four
more (memory the allocator recycles), in packets per CPU second of the
main thread, the median over ``--rounds`` rounds of both builds.

    cp -r python/kame /tmp/before/kame      # before the change, built
    maturin develop --release                # the change
    .venv/bin/python benches/capture_ab.py /tmp/before a.pcap [b.pcap ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ONE = r'''
import json, sys, time
if sys.argv[1]:
    sys.path.insert(0, sys.argv[1])
from kame import capture
capture.read(sys.argv[3])  # pyarrow imported, on a tiny file
f, out = sys.argv[2], {}
c0 = time.thread_time(); n = capture.read(f).num_rows; out["first"] = n / (time.thread_time() - c0)
best = float("inf")
for _ in range(4):
    c0 = time.thread_time(); n = capture.read(f).num_rows; best = min(best, time.thread_time() - c0)
out["best"] = n / best
print(json.dumps(out))
'''


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", help="directory holding the kame package built before")
    ap.add_argument("captures", nargs="+", type=Path)
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from test_capture import FRAMES, pcap

    with tempfile.TemporaryDirectory() as d:
        tiny = Path(d) / "tiny.pcap"
        tiny.write_bytes(pcap(FRAMES[:5]))
        print(f"load average before {os.getloadavg()[0]:.2f} ({os.cpu_count()} cpus)")
        for f in a.captures:
            res: dict[tuple[str, str], list[float]] = {}
            for _ in range(a.rounds):
                for label, pp in (("before", a.before), ("after", "")):
                    run = subprocess.run([sys.executable, "-c", ONE, pp, str(f), str(tiny)],
                                         capture_output=True, text=True, check=True)
                    for k, v in json.loads(run.stdout).items():
                        res.setdefault((label, k), []).append(v)
            print(f)
            for k in ("first", "best"):
                b, af = statistics.median(res[("before", k)]), statistics.median(res[("after", k)])
                print(f"  read, {k:6} before {b / 1e6:6.2f} M/s  after {af / 1e6:6.2f} M/s  x{af / b:.2f}")
        print(f"load average after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
