"""`kame`: one command, BSD-style subcommands.

    kame demo [-w FILE]          a router and two hosts: DAD, SLAAC, ND, ping6, traced
    kame dissect [FILE.pcap]     tcpdump-like dissection with validation verdicts
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="kame", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    from kame.cli import demo, dissect

    demo.add_parser(sub)
    dissect.add_parser(sub)

    args = ap.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # `kame dissect | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
