"""`kame`: one command, BSD-style subcommands.

    kame demo [-w FILE]          a router and two hosts: DAD, SLAAC, ND, ping6, traced
    kame dissect [FILE]          tcpdump-like dissection (pcap or pcapng) with verdicts
    kame node --tap IFNAME       run a node on a TAP device, with a control socket
    kame ndp -a|-p|-r|-i IF      the node's neighbor cache, prefixes, routers, ND parameters
    kame ping6 [-c N] DST        echo requests from the node
    kame netstat -s -p ip6|icmp6 the node's counters
    kame ifconfig [IF]           the node's interfaces and addresses
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="kame", description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    from kame.cli import demo, dissect, node, tools

    demo.add_parser(sub)
    dissect.add_parser(sub)
    node.add_parser(sub)
    tools.add_parsers(sub)

    args = ap.parse_args(argv)
    from kame.ctl import ControlError
    from kame.errors import KameError

    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # `kame dissect | head`
        sys.stderr.close()
        return 0
    except (ControlError, KameError, OSError, ValueError) as e:
        sys.stderr.write(f"kame {args.command}: {e}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
