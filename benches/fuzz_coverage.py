"""Coverage over time: the structure-aware mutator (fuzz/src/lib.rs) against
plain libFuzzer on the same fuzz target, the same time budget, the same
seed, an empty corpus.

Both runs use the same binary: with KAME_FUZZ_PLAIN=1 its custom mutator
hands every mutation to libFuzzer's own (LLVMFuzzerMutate), which is plain
libFuzzer. libFuzzer's stderr is read line by line and each `cov:` figure
(edges covered) stamped with the time it was printed; the table gives the
coverage at a few points of the budget, the executions, and the ratio of
the structure-aware coverage to plain libFuzzer's.

    python3 benches/fuzz_coverage.py [--seconds 120] [--seeds 1 2] [TARGET ...]

(default targets: wire_ipv6_chain nd6_input; --kept-corpus starts both
from a copy of fuzz/corpus/TARGET instead of nothing). Builds them first with
`cargo fuzz build -O` (RUSTC_BOOTSTRAP=1, as fuzz/smoke.sh). Writes
benches/results/fuzz_coverage.json. Runs one fuzzer at a time; give the
machine's load (`uptime`) with the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUZZ = ROOT / "fuzz"
BIN = FUZZ / "target" / "x86_64-unknown-linux-gnu" / "release"
COV = re.compile(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+)")


def build(targets: list[str]) -> None:
    env = {**os.environ, "RUSTC_BOOTSTRAP": "1"}
    for t in targets:
        subprocess.run(["cargo", "fuzz", "build", "-O", t], cwd=FUZZ, env=env, check=True)


def run(target: str, plain: bool, seconds: int, seed: int, kept: bool = False,
        ) -> dict[str, object]:
    env = {**os.environ}
    env.pop("KAME_FUZZ_PLAIN", None)
    if plain:
        env["KAME_FUZZ_PLAIN"] = "1"
    with tempfile.TemporaryDirectory(prefix="fuzzcov-") as corpus:
        if kept:  # start from a copy of the kept corpus (fuzz/corpus/TARGET)
            for f in (FUZZ / "corpus" / target).iterdir():
                shutil.copy(f, corpus)
        t0 = time.monotonic()
        p = subprocess.Popen(
            [str(BIN / target), corpus, f"-max_total_time={seconds}", f"-seed={seed}",
             "-rss_limit_mb=2048", "-print_final_stats=1"],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
        points: list[tuple[float, int, int, int]] = []
        last = (0, 0, 0)
        assert p.stderr is not None
        for line in p.stderr:
            m = COV.match(line)
            if m and (not points or int(m.group(2)) != points[-1][1]):  # where cov grows
                points.append((round(time.monotonic() - t0, 2), int(m.group(2)),
                               int(m.group(3)), int(m.group(1))))
            if m:
                last = (int(m.group(2)), int(m.group(3)), int(m.group(1)))
        rc = p.wait()
    if rc != 0:
        raise SystemExit(f"{target} exited {rc} (a crash?): see its artifacts")
    return {"target": target, "mutator": "plain" if plain else "structure-aware",
            "seed": seed, "corpus": "kept" if kept else "empty", "seconds": seconds, "points": points,
            "cov": last[0], "ft": last[1], "execs": last[2]}


def cov_at(points: list[tuple[float, int, int, int]], t: float) -> int:
    best = 0
    for at, cov, _ft, _n in points:
        if at <= t:
            best = cov
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("targets", nargs="*", default=["wire_ipv6_chain", "nd6_input"])
    ap.add_argument("--seconds", type=int, default=120)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--kept-corpus", action="store_true",
                    help="start from a copy of fuzz/corpus/TARGET instead of an empty corpus")
    ap.add_argument("--out", type=Path, default=ROOT / "benches" / "results" / "fuzz_coverage.json")
    a = ap.parse_args()
    if not a.no_build:
        build(a.targets)
    load = os.getloadavg()
    runs = []
    for t in a.targets:
        for seed in a.seeds:
            for plain in (True, False):
                r = run(t, plain, a.seconds, seed, a.kept_corpus)
                runs.append(r)
                print(f"{t:16} seed {seed} {r['mutator']:16} cov {r['cov']:5} ft {r['ft']:6} "
                      f"execs {r['execs']}", file=sys.stderr)
    marks = [m for m in (10, 30, 60, 120, 300, 600) if m < a.seconds] + [a.seconds]
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; corpus: "
          + ("kept" if a.kept_corpus else "empty"))
    print("| target | seed | mutator | " + " | ".join(f"cov@{m}s" for m in marks)
          + " | features | execs |")
    print("|---|---|---|" + "---|" * len(marks) + "---|---|")
    for r in runs:
        pts = r["points"]
        assert isinstance(pts, list)
        print(f"| {r['target']} | {r['seed']} | {r['mutator']} | "
              + " | ".join(str(cov_at(pts, m)) for m in marks) + f" | {r['ft']} | {r['execs']} |")
    for t in a.targets:
        for seed in a.seeds:
            pl = next(r for r in runs if r["target"] == t and r["seed"] == seed
                      and r["mutator"] == "plain")
            sa = next(r for r in runs if r["target"] == t and r["seed"] == seed
                      and r["mutator"] != "plain")
            ratio = int(sa["cov"]) / max(1, int(pl["cov"]))  # type: ignore[call-overload]
            print(f"{t} seed {seed}: structure-aware / plain coverage = {ratio:.2f}")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"load": load, "runs": runs}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
