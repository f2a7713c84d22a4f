"""What every `kame` command line shares: a parser whose errors are one line
(``kame node: argument --mtu: 100 is below 1280, ... (see kame node --help)``,
exit status 2) and option types that check the documented ranges, so a
bad value is refused before anything runs."""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable
from typing import Any, NoReturn

__all__ = [
    "ArgumentParser", "UsageError", "add_static_args", "configure_static", "float_range", "int_range",
    "key_value", "one_line",
]


class UsageError(Exception):
    """Options that do not go together, or a value no option type could
    check alone: ``kame`` reports it as a usage error (exit status 2)."""


def one_line(text: str) -> str:
    """An error text as one printable line: line breaks and tabs become
    spaces; other control characters, and the surrogates that stand for
    undecodable bytes in arguments, are written as escapes (``\\x0c``,
    ``\\udcff``), so an argument cannot end or forge a line."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch in "\n\r\t":
            out.append(" ")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape", "backslashreplace").decode("ascii"))
    return "".join(out)


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse`` parser whose usage errors are a single line on
    standard error, naming the command and pointing at ``--help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {one_line(message)} (see {self.prog} --help)\n")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise SystemExit(status)


_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def int_range(lo: int, hi: int, what: str = "") -> Callable[[str], int]:
    """An argparse type: a decimal integer (ASCII digits) in ``lo..hi``."""

    def conv(text: str) -> int:
        if not _INT.fullmatch(text.strip()):
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
        v = int(text.strip(), 10)
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(
                f"{v} is out of range: {what + ' ' if what else ''}{lo}..{hi}")
        return v

    conv.__name__ = "integer"
    return conv


def float_range(lo: float, hi: float, what: str = "", *,
                lo_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a decimal number in ``lo..hi`` (above ``lo`` with
    ``lo_open``); ``nan`` and ``inf`` are refused."""

    def conv(text: str) -> float:
        if not _FLOAT.fullmatch(text.strip()):
            raise argparse.ArgumentTypeError(f"{text!r} is not a number")
        v = float(text.strip())
        if not (math.isfinite(v) and (v > lo if lo_open else v >= lo) and v <= hi):
            rng = f"more than {lo:g} and at most {hi:g}" if lo_open else f"{lo:g}..{hi:g}"
            raise argparse.ArgumentTypeError(
                f"{text.strip()} is out of range: {what + ' ' if what else ''}{rng}")
        return v

    conv.__name__ = "number"
    return conv


def key_value(text: str, what: str) -> tuple[str, str]:
    """``NAME=VALUE`` of an option such as ``--inet6 IF=ADDR/LEN``."""
    k, sep, v = text.partition("=")
    if not sep or not k or not v:
        raise UsageError(f"{what} {text!r}: expected NAME=VALUE")
    return k, v


def add_static_args(p: argparse.ArgumentParser) -> None:
    """``--inet6 IF=ADDR/LEN``, ``--inet IF=ADDR/LEN``, ``--route6
    PREFIX=GW%IF`` and ``--route4 PREFIX=GW``: a node's static addresses and
    routes, each option as often as needed (:func:`configure_static`)."""
    p.add_argument("--inet6", action="append", metavar="IF=ADDR/LEN")
    p.add_argument("--inet", action="append", metavar="IF=ADDR/LEN")
    p.add_argument("--route6", action="append", metavar="PREFIX=GW%IF")
    p.add_argument("--route4", action="append", metavar="PREFIX=GW")


def configure_static(node: object, args: argparse.Namespace, now: float) -> None:
    """Give ``node`` the addresses and routes of :func:`add_static_args`'s
    options, in that order; a value the node refuses is a :class:`UsageError`."""
    n: Any = node
    try:
        for item in args.inet6 or []:
            ifn, a = key_value(item, "--inet6")
            n.add_address(ifn, a, now)
        for item in args.inet or []:
            ifn, a = key_value(item, "--inet")
            n.add_address4(ifn, a, now)
        for item in args.route6 or []:
            pfx, gw = key_value(item, "--route6")
            g, _, ifn = gw.partition("%")
            n.route_add(pfx, g, ifn)
        for item in args.route4 or []:
            pfx, gw = key_value(item, "--route4")
            n.inet.route_add(pfx, gw)
    except (ValueError, KeyError) as e:
        raise UsageError(str(e)) from None
