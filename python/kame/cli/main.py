"""`kame`: one command, BSD-style subcommands.

    kame dissect [FILE.pcap]     tcpdump-like dissection with validation verdicts
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="kame", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    from kame.cli import dissect

    dissect.add_parser(sub)

    args = ap.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # `kame dissect | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
