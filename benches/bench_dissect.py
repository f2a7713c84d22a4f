"""`kame dissect -n` against `tcpdump -nr` and `tshark -r` on the same
capture of real kernel traffic, output to /dev/null, in one run.

The capture (200,000 frames by default) is recorded by tcpdump on a veth
between two namespaces while the kernels ping (flooded, fragmented), ARP,
ND, MLD, send UDP and serve HTTP on TCP port 80 (tests/interop/
dissect_traffic.py); it is kept in the page cache by a first read. Each
tool runs ``--runs`` times; the best and the median wall time are
reported, and the CPU time (user + system) of the best run, with the load
average, as a table (and JSON with ``--json``). kame's times include
starting Python and importing kame (shown alone as "kame startup": the
same command on a capture with no records), run as the ``kame`` console
script with kame's modules compiled to bytecode first, as an installed
wheel has them (``--no-compile``: not).
Also timed: a filter (``ip6 and tcp port 80``) and ``-w`` of what it
selects, for kame and tcpdump.

    sudo .venv/bin/python benches/bench_dissect.py [--packets N] [--runs N] [--keep FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "interop"))
sys.path.insert(0, str(HERE))

from dissect_traffic import record
from publish import publish

#: The ``kame`` console script beside this interpreter (what a user runs;
#: ``python -m`` would add runpy's imports), else the module.
_SCRIPT = Path(sys.executable).with_name("kame")
KAME = [str(_SCRIPT), "dissect"] if _SCRIPT.exists() else \
    [sys.executable, "-m", "kame.cli.main", "dissect"]


def _bytecode() -> None:
    """Compile kame's modules as pip does when it installs the wheel: with
    PYTHONDONTWRITEBYTECODE set (or a read-only tree) an editable install
    would otherwise compile every module it imports on every run."""
    import importlib.util

    spec = importlib.util.find_spec("kame")
    if spec is not None and spec.submodule_search_locations:
        for where in spec.submodule_search_locations:
            subprocess.run([sys.executable, "-m", "compileall", "-q", where],
                           stdout=subprocess.DEVNULL, check=False)


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd: list[str], runs: int) -> tuple[float, float, float]:
    """Best wall seconds, median wall seconds, CPU seconds of the best run."""
    walls = []
    for _ in range(runs):
        c0, t0 = _children_cpu(), time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        walls.append((time.perf_counter() - t0, _children_cpu() - c0))
    best = min(walls)
    return best[0], statistics.median(w for w, _ in walls), best[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="reuse (or keep) the capture at this path")
    ap.add_argument("--json", type=Path, help="write the results here too")
    ap.add_argument("--no-compile", action="store_true",
                    help="do not compile kame's modules to bytecode first")
    a = ap.parse_args()
    if not a.no_compile:
        _bytecode()
    with tempfile.TemporaryDirectory() as d:
        path = a.keep or Path(d) / "kernel.pcap"
        if not path.exists():
            t0 = time.perf_counter()
            record(path, a.packets, prefix="kbench")
            print(f"recorded {path} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        path.read_bytes()  # into the page cache
        size = path.stat().st_size
        out = Path(d) / "sel.pcap"
        empty = Path(d) / "empty.pcap"
        with open(path, "rb") as f:
            empty.write_bytes(f.read(24))
        cases = {
            "kame dissect -n": [*KAME, "-n", "-r", str(path)],
            "tcpdump -nr": ["tcpdump", "-nr", str(path)],
            "tshark -r": ["tshark", "-n", "-r", str(path)],
            "kame dissect -n -w (ip6 and tcp port 80)": [*KAME, "-n", "-r", str(path), "-w",
                                                         str(out), "ip6 and tcp port 80"],
            "tcpdump -nr -w (ip6 and tcp port 80)": ["tcpdump", "-nr", str(path), "-w", str(out),
                                                     "ip6 and tcp port 80"],
            "kame dissect -n -T json": [*KAME, "-n", "-T", "json", "-r", str(path)],
            "kame startup (-w, no records)": [*KAME, "-n", "-r", str(empty), "-w", str(out),
                                              "ip6 and tcp port 80"],
        }
        load = os.getloadavg()
        results = {name: timed(cmd, a.runs) for name, cmd in cases.items()}
        load_after = os.getloadavg()
    base = results["tcpdump -nr"][0]
    print(f"capture: {a.packets} frames, {size / 1e6:.0f} MB; load average before "
          f"{load[0]:.2f}, after {load_after[0]:.2f} (2 cores); best of {a.runs}")
    print(f"{'':44} {'best s':>8} {'median s':>9} {'vs tcpdump':>11} {'CPU s':>7}")
    for name, (best, med, cpu) in results.items():
        print(f"{name:44} {best:8.2f} {med:9.2f} {best / base:10.2f}x {cpu:7.2f}")
    plain = ("kame dissect -n", "tcpdump -nr", "tshark -r")
    publish("dissect", {
        "print every frame (-n)": {k: results[k][0] for k in plain},
        "filter and write (-w, ip6 and tcp port 80)": {
            k: v[0] for k, v in results.items() if "-w" in k},
        "JSON lines (-T json)": {k: v[0] for k, v in results.items() if "json" in k},
        "filter and write (-w, ip6 and tcp port 80), CPU seconds": {
            k: v[2] for k, v in results.items() if "-w" in k},
    }, unit="s", better="lower", facts={"packets": a.packets, "bytes": size,
                                        "load_before": load[0], "load_after": load_after[0],
                                        "runs": a.runs})
    if a.json:
        a.json.write_text(json.dumps({"packets": a.packets, "bytes": size,
                                      "load": [load[0], load_after[0]],
                                      "results": {k: {"best": v[0], "median": v[1], "cpu": v[2]}
                                                  for k, v in results.items()}}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
