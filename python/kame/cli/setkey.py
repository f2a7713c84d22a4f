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
from ipaddress import ip_network

from kame.cli.args import UsageError, one_line
from kame.errors import ConfigError
from kame.key.engine import KeyEngine
from kame.key.setkey import SetkeyError, dump, run

__all__ = ["USAGE", "add_parser"]


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


#: setkey(8)'s synopsis, printed when no operation is given.
USAGE = ("usage: kame setkey [-n] [--host NAME=ADDR] [--ctl PATH | --live] "
         "-f FILE | -c | -D [-P] | -F [-P]")

#: A setkey file larger than this is refused before it is read (100,000
#: statements, kame.key.setkey.MAX_STATEMENTS, fit in far less).
MAX_INPUT = 64 << 20


def _text(data: bytes, name: str) -> str:
    """A setkey file's bytes as text: UTF-8 (ASCII in practice); where it
    is not, say where."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise ConfigError(f"{name}: line {line}, column {col}: byte 0x{data[e.start]:02x} is "
                          "not UTF-8 text (write keys as 0x... hex)") from None


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read(MAX_INPUT + 1)
    if len(data) > MAX_INPUT:
        raise ConfigError(f"{path}: larger than {MAX_INPUT >> 20} MiB")
    return data


def _hosts(items: list[str]) -> dict[str, str]:
    hosts = {}
    for h in items:
        name, sep, addr = h.partition("=")
        name, addr = name.strip(), addr.strip()
        if not sep or not name or not addr:
            raise UsageError(f"--host takes NAME=ADDR, not {h!r}")
        try:
            ip_network(addr, strict=False)
        except ValueError:
            raise UsageError(f"--host {name}={addr}: {addr!r} is not an address or a prefix"
                             ) from None
        hosts[name] = addr
    return hosts


def _setkey(args: argparse.Namespace) -> int:
    if args.f is None and not (args.c or args.D or args.F):
        sys.stderr.write(USAGE + "\n")
        return 2
    if args.P and not (args.D or args.F):
        raise UsageError("-P goes with -D or -F")
    if args.ctl is not None and args.live:
        raise UsageError("--ctl and --live: choose one")
    hosts = _hosts(args.host or [])
    texts: list[str] = []
    names: list[str] = []
    if args.f is not None:
        if not args.f:
            raise UsageError("-f: empty file name")
        texts.append(_text(_read(args.f), args.f))
        names.append(args.f)
    if args.c:
        texts.append(_text(sys.stdin.buffer.read(MAX_INPUT + 1)
                           if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode(),
                           "standard input"))
        names.append("standard input")
    send, now = _sender(args)
    if args.F:
        texts.append("spdflush;" if args.P else "flush;")
        names.append("-F")
    rc = 0
    for name, text in zip(names, texts, strict=True):
        try:
            res = run(text, send, now, hosts=hosts, resolve=not args.n)
        except SetkeyError as err:  # nothing of that input was sent
            raise ConfigError(f"{name}: {err}") from None
        sys.stdout.write(res.output)
        for e in res.errors:
            sys.stderr.write(f"kame setkey: {one_line(e)}\n")
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
