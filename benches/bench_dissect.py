"""`kame dissect` against `tcpdump -r` and `tshark -r` in every mode
(-n, -n -e, -n -v, -n -q, -n -c N, -n -T json, a filter with -w) on the
same capture of real kernel traffic, output to /dev/null, in one run.

The capture (200,000 frames by default) is recorded by tcpdump on a veth
between two namespaces while the kernels ping (flooded, fragmented), ARP,
ND, MLD, send UDP and serve HTTP on TCP port 80 (tests/interop/
dissect_traffic.py); it is kept in the page cache by a first read. kame and
tcpdump run ``--runs`` rounds, each command once per round (so that a
changing load weighs on both alike), tshark ``--tshark-runs`` times; the
run with the least wall time is reported with its CPU time (user +
system), with the load average, as a table (and JSON with ``--json``).
kame's times include starting Python and importing kame (shown alone as
"kame start-up": the same command on a capture with no records, beside
the interpreter's own floor), run as the ``kame`` console script with
kame's modules compiled to bytecode first, as an installed wheel has them
(``--no-compile``: not).

    sudo .venv/bin/python benches/bench_dissect.py [--packets N] [--runs N] [--keep FILE]
        [--count N] [--tshark-runs N] [--json FILE]
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


def timed_once(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, the child's) of one run."""
    c0, t0 = _children_cpu(), time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0, _children_cpu() - c0


#: Each mode: kame's options and the same for tcpdump and for tshark
#: (tshark's nearest: -V for -v, -Y for the filter, -T json, -q prints
#: nothing per packet). ``{cap}``, ``{out}`` and ``{count}`` are filled in.
FILTER = "ip6 and tcp port 80"
MODES: dict[str, tuple[list[str], list[str], list[str]]] = {
    "-n": (["-n", "-r", "{cap}"], ["-n", "-r", "{cap}"], ["-n", "-r", "{cap}"]),
    "-n -e": (["-n", "-e", "-r", "{cap}"], ["-n", "-e", "-r", "{cap}"],
              ["-n", "-r", "{cap}"]),
    "-n -v": (["-n", "-v", "-r", "{cap}"], ["-n", "-v", "-r", "{cap}"],
              ["-n", "-V", "-r", "{cap}"]),
    "-n -q": (["-n", "-q", "-r", "{cap}"], ["-n", "-q", "-r", "{cap}"],
              ["-n", "-q", "-r", "{cap}"]),
    "-n -c {count}": (["-n", "-c", "{count}", "-r", "{cap}"],
                      ["-n", "-c", "{count}", "-r", "{cap}"],
                      ["-n", "-c", "{count}", "-r", "{cap}"]),
    "-n -T json": (["-n", "-T", "json", "-r", "{cap}"], ["-n", "-r", "{cap}"],
                   ["-n", "-T", "json", "-r", "{cap}"]),
    f"-w ({FILTER})": (["-n", "-r", "{cap}", "-w", "{out}", FILTER],
                       ["-n", "-r", "{cap}", "-w", "{out}", FILTER],
                       ["-n", "-r", "{cap}", "-w", "{out}", "-Y",
                        "ipv6 and tcp.port == 80"]),
}


def commands(cap: Path, out: Path, counts: list[int]) -> dict[str, dict[str, list[str]]]:
    """Each mode's command line for kame, tcpdump and tshark (the -c mode
    once per count)."""
    modes = {}
    for mode, (k, t, s) in MODES.items():
        for count in counts if "{count}" in mode else [0]:
            def fill(words: list[str], count: int = count) -> list[str]:
                return [w.format(cap=cap, out=out, count=count) for w in words]

            modes[mode.format(count=count)] = {"kame": [*KAME, *fill(k)],
                                               "tcpdump": ["tcpdump", *fill(t)],
                                               "tshark": ["tshark", *fill(s)]}
    return modes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tshark-runs", type=int, default=1,
                    help="runs of tshark per mode (it takes seconds each; 0: not run)")
    ap.add_argument("--count", type=int, nargs="+", default=[1000, 100_000],
                    help="N of the -c N mode (several: one mode each)")
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
        modes = commands(path, out, a.count)
        floors = {
            "python -S -c pass": [sys.executable, "-S", "-c", "pass"],
            "python -c pass": [sys.executable, "-c", "pass"],
            "python -c 'import kame._core'": [sys.executable, "-c", "import kame._core"],
            "kame start-up (-w FILTER, no records)": [*KAME, "-n", "-r", str(empty), "-w",
                                                      str(out), FILTER],
            "kame start-up (-n, no records)": [*KAME, "-n", "-r", str(empty)],
            "tcpdump start-up (-w FILTER, no records)": ["tcpdump", "-n", "-r", str(empty), "-w",
                                                         str(out), FILTER],
        }
        load = os.getloadavg()
        # Round after round, every command once per round: a load that
        # changes during the run weighs on every tool alike.
        runs: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _ in range(a.runs):
            for mode, tools in modes.items():
                for tool in ("kame", "tcpdump"):
                    runs.setdefault((mode, tool), []).append(timed_once(tools[tool]))
            for name, cmd in floors.items():
                runs.setdefault((name, ""), []).append(timed_once(cmd))
        for _ in range(a.tshark_runs):
            for mode, tools in modes.items():
                runs.setdefault((mode, "tshark"), []).append(timed_once(tools["tshark"]))
        load_after = os.getloadavg()
    best = {k: min(v) for k, v in runs.items()}  # the run with the least wall time
    med = {k: statistics.median(w for w, _ in v) for k, v in runs.items()}
    print(f"capture: {a.packets} frames, {size / 1e6:.0f} MB; load average before "
          f"{load[0]:.2f}, after {load_after[0]:.2f} ({os.cpu_count()} cores); best of "
          f"{a.runs} (tshark: {a.tshark_runs}), wall and CPU (user + system) seconds")
    print(f"{'mode':28} {'kame wall':>9} {'CPU':>6} {'tcpdump wall':>12} {'CPU':>6} "
          f"{'tshark wall':>11} {'CPU':>6} {'kame/tcpdump wall':>17} {'CPU':>6}")
    for mode in modes:
        k, t = best[(mode, "kame")], best[(mode, "tcpdump")]
        s = best.get((mode, "tshark"), (float("nan"), float("nan")))
        print(f"{mode:28} {k[0]:9.3f} {k[1]:6.3f} {t[0]:12.3f} {t[1]:6.3f} {s[0]:11.3f} "
              f"{s[1]:6.3f} {k[0] / t[0]:16.2f}x {k[1] / max(t[1], 1e-3):5.2f}x")
    print("start-up and floors:")
    for name in floors:
        w, c = best[(name, "")]
        print(f"  {name:42} {w:7.3f} s wall {c:7.3f} s CPU (median wall {med[(name, '')]:.3f})")
    publish("dissect", {
        f"{mode}, wall s": {f"{tool}": best[(mode, tool)][0] for tool in ("kame", "tcpdump", "tshark")
                           if (mode, tool) in best}
        for mode in modes
    } | {
        f"{mode}, CPU s": {f"{tool}": best[(mode, tool)][1] for tool in ("kame", "tcpdump", "tshark")
                          if (mode, tool) in best}
        for mode in modes
    }, unit="s", better="lower", facts={"packets": a.packets, "bytes": size,
                                        "load_before": load[0], "load_after": load_after[0],
                                        "runs": a.runs, "tshark_runs": a.tshark_runs})
    if a.json:
        a.json.write_text(json.dumps({
            "packets": a.packets, "bytes": size, "load": [load[0], load_after[0]],
            "results": {f"{m} {t}".strip(): {"best_wall": v[0], "cpu": v[1],
                                              "median_wall": med[(m, t)]}
                        for (m, t), v in best.items()}}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
