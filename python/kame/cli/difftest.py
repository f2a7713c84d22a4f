"""``kame difftest``: generated packets to the Linux kernel (over a TAP
device in a fresh network namespace) and to our node (in memory), their
answers compared (:mod:`kame.difftest`).

Prints one line per divergence (the packet, both answers, and the known
difference that explains it, if any) and a summary; with ``-w DIR`` each
divergence is written to ``DIR/divergence-NNN.pcap`` (the packet sent, the
kernel's answers, then ours). Exit status 0 when every divergence is a
known one, 1 when one is not. Needs root (namespaces, TAP) and hypothesis.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from kame.cli.args import UsageError, int_range

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "difftest", help="generated packets to the Linux kernel and to our node, answers compared",
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", "--count", type=int_range(1, 100000, "packets"), default=300,
                   help="packets (and fragment trains) to send (1..100000; 300)")
    p.add_argument("-s", "--seed", type=int_range(0, 2**32 - 1, "seed"), default=0,
                   help="the order of the packets (0..2**32-1; 0)")
    p.add_argument("-w", "--write", metavar="DIR", type=Path,
                   help="write each divergence as DIR/divergence-NNN.pcap")
    p.add_argument("-J", "--json", action="store_true", help="one JSON object per divergence")
    p.add_argument("--known", action="store_true",
                   help="list the known differences and their reasons, and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kame import difftest

    if args.known:
        for k in difftest.KNOWN:
            print(f"{k.name}: {k.reason}")
        return 0
    if os.geteuid() != 0:
        raise UsageError("needs root (a network namespace and a TAP device)")
    cases = difftest.draw_cases(args.count, args.seed)
    with difftest.kernel_peer() as kernel:
        rep = difftest.run(cases, kernel, pcap_dir=args.write)
    for d in rep.divergences:
        known = d.known.name if d.known else None
        if args.json:
            print(json.dumps({"label": d.case.label, "mutation": d.case.mutation,
                              "linux": [list(a) for a in d.linux], "kame": [list(a) for a in d.kame],
                              "known": known, "pcap": str(d.pcap) if d.pcap else None}))
        else:
            what = d.case.label + (f" [{d.case.mutation}]" if d.case.mutation else "")
            print(f"{what}: linux {d.linux} kame {d.kame} -> {known or 'UNEXPLAINED'}"
                  + (f" ({d.pcap})" if d.pcap else ""))
    print(f"{rep.sent} sent, {rep.agreed} answered alike, {len(rep.divergences)} divergences, "
          f"{len(rep.unexplained)} unexplained")
    return 1 if rep.unexplained else 0
