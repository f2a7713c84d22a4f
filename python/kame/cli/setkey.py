"""``kame setkey``: setkey(8) for a kame node (seed §4.1, §4.2).

    kame setkey -f FILE          run the statements of FILE
    kame setkey -c               run the statements read from stdin
    kame setkey -D [-P]          dump the SAD (-D) or the SPD (-DP)
    kame setkey -F [-P]          flush the SAD (-F) or the SPD (-FP)

Statements become PF_KEY v2 messages (RFC 2367). With ``--ctl PATH`` (or
``--live``, the only /run/kame/*.sock) they go to a running ``kame node``
over its control socket; without, to a key engine in this process: the file
is checked (errors with line and column, exit 1) and ``-D``/``-DP`` show
what it would install. ``--host NAME=ADDR`` defines a name (the seed's
``spdadd A B any ...``); ``-n`` refuses names.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from kame.key.engine import KeyEngine
from kame.key.setkey import dump, run

__all__ = ["add_parser"]


def _sender(args: argparse.Namespace) -> tuple[Callable[[bytes], list[bytes]], float]:
    if args.ctl or args.live:
        from kame.cli.tools import find_ctl
        from kame.ctl import request

        path = find_ctl(args.ctl)
        now = float(request(path, "time"))

        def send(b: bytes) -> list[bytes]:
            return [bytes.fromhex(h) for h in request(path, "pfkey", msg=b.hex())]

        return send, now
    eng = KeyEngine()
    now = time.time()
    return (lambda b: eng.send(b, now)), now


def _setkey(args: argparse.Namespace) -> int:
    hosts = {}
    for h in args.host or []:
        name, sep, addr = h.partition("=")
        if not sep:
            raise ValueError(f"--host takes NAME=ADDR, not {h!r}")
        hosts[name] = addr
    send, now = _sender(args)
    texts: list[str] = []
    if args.f:
        with open(args.f, encoding="utf-8") as f:
            texts.append(f.read())
    if args.c:
        texts.append(sys.stdin.read())
    if args.F:
        texts.append("spdflush;" if args.P else "flush;")
    rc = 0
    for text in texts:
        res = run(text, send, now, hosts=hosts, resolve=not args.n)
        sys.stdout.write(res.output)
        for e in res.errors:
            sys.stderr.write(f"kame setkey: {e}\n")
            rc = 1
    if args.D:
        sys.stdout.write(dump(send, now, policy=args.P))
    return rc


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("setkey", help="SAD/SPD configuration (like setkey(8))",
                       description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-f", metavar="FILE", help="read statements from FILE")
    p.add_argument("-c", action="store_true", help="read statements from stdin")
    p.add_argument("-D", action="store_true", help="dump the SAD (with -P: the SPD)")
    p.add_argument("-F", action="store_true", help="flush the SAD (with -P: the SPD)")
    p.add_argument("-P", action="store_true", help="with -D/-F: the SPD")
    p.add_argument("-n", action="store_true", help="no name lookup")
    p.add_argument("--host", action="append", metavar="NAME=ADDR",
                   help="define a name (an address or a prefix)")
    p.add_argument("--ctl", metavar="PATH", help="a running node's control socket")
    p.add_argument("--live", action="store_true",
                   help="talk to the only running node (/run/kame/*.sock)")
    p.set_defaults(func=_setkey)
