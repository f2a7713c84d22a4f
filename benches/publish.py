"""The benches' side-by-side results as JSON and a PNG plot.

``publish(name, groups, ...)`` writes ``benches/results/<name>.json`` (the
groups, their unit, which way is better, and the run's facts: load,
packets, machine) and, when matplotlib is installed (``pip install
'kame6[bench]'``), ``benches/results/<name>.png``: one horizontal bar
chart per group, each bar labelled with its value and its ratio to the
group's first entry (kame's, by convention)."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def publish(name: str, groups: dict[str, dict[str, float]], *, unit: str, better: str,
            facts: dict[str, Any] | None = None, out: Path = RESULTS) -> list[Path]:
    """Write the JSON and (if it can) the PNG; return the paths written."""
    assert better in ("lower", "higher")
    out.mkdir(parents=True, exist_ok=True)
    doc = {
        "bench": name, "unit": unit, "better": better,
        "facts": {"load": os.getloadavg()[0], "cpus": os.cpu_count(),
                  "machine": platform.machine(), "python": sys.version.split()[0],
                  **(facts or {})},
        "groups": groups,
    }
    js = out / f"{name}.json"
    js.write_text(json.dumps(doc, indent=2) + "\n")
    written = [js]
    try:
        import matplotlib
    except ImportError:
        print(f"matplotlib not installed: no {name}.png", file=sys.stderr)
        return written
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(groups), 1, squeeze=False,
                             figsize=(8, 0.6 + sum(0.45 * len(g) + 0.6 for g in groups.values())),
                             gridspec_kw={"height_ratios": [max(len(g), 1) for g in groups.values()]})
    for ax, (title, g) in zip(axes[:, 0], groups.items(), strict=True):
        labels = list(g)[::-1]
        values = [g[k] for k in labels]
        ref = next(iter(g.values()), 0) or 1
        bars = ax.barh(labels, values, color=["#2a7" if k == next(iter(g)) else "#888" for k in labels])
        for b, v in zip(bars, values, strict=True):
            ax.annotate(f" {v:,.3g} {unit} ({v / ref:.2f}x)", (b.get_width(), b.get_y() + b.get_height() / 2),
                        va="center", fontsize=8)
        ax.set_title(f"{title} ({better} is better)", fontsize=9, loc="left")
        ax.set_xlim(0, max(values or [1]) * 1.45)
        ax.tick_params(labelsize=8)
    fig.suptitle(f"kame {name}: load {doc['facts']['load']:.1f} on {doc['facts']['cpus']} cpus", fontsize=10)
    fig.tight_layout()
    png = out / f"{name}.png"
    fig.savefig(png, dpi=110)
    plt.close(fig)
    written.append(png)
    return written
