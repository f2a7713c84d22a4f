"""`kame ifconfig IF WORD...` and `kame gifconfig`: configuring a running
node's interfaces through its control socket, as ifconfig(8) and KAME's
gifconfig(8) configure a kernel's.

    kame ifconfig gif0 create                 a gif interface (stf0: the 6to4 one)
    kame ifconfig gif0 tunnel SRC DST         its outer addresses (either family)
    kame ifconfig gif0 deletetunnel
    kame ifconfig gif0 inet6 ADDR[/LEN]       an IPv6 address (also `prefixlen N`)
    kame ifconfig gif0 inet ADDR/LEN          an IPv4 address
    kame ifconfig gif0 up | down | destroy
    kame ifconfig gif0 mtu N
    kame ifconfig gif0 ecn -1|0|1|2           seed §4.6 (link1 = 1, -link1 = 0)
    kame ifconfig gif0 -linklocal             take the link-local address away
    kame ifconfig stf0 relay 192.88.99.1      the 6to4 relay router (RFC 3056 §5.2)
    kame gifconfig gif0 SRC DST               as `ifconfig gif0 tunnel SRC DST`
    kame gifconfig gif0 | -a                  show tunnels

Words are applied in order by the node process (:func:`apply`), so one
command may create, configure and bring up an interface. Without words,
`kame ifconfig [IF]` prints the interfaces as before.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from kame.cli.args import UsageError
from kame.errors import ConfigError

__all__ = ["add_parsers", "apply"]

#: Words one request may carry.
MAX_WORDS = 64


def _need(words: list[str], i: int, n: int, what: str) -> list[str]:
    if i + n > len(words):
        raise ConfigError(f"{words[i - 1]}: needs {what}", layer="ifconfig")
    return words[i:i + n]


def apply(node: Any, ifname: str, words: list[str], now: float) -> tuple[list[Any], dict[str, Any]]:
    """Apply ifconfig ``words`` to ``ifname`` of ``node``: the frames to
    transmit and what the interface's tunnel looks like after."""
    from kame.stf import Stf

    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise TypeError("words: a list of str")
    if len(words) > MAX_WORDS:
        raise ConfigError(f"more than {MAX_WORDS} words", layer="ifconfig")
    frames: list[Any] = []
    gif = node.gif
    i = 0
    while i < len(words):
        w = words[i]
        i += 1
        if w == "create":
            if ifname.startswith("stf"):
                Stf.create(node, ifname)
            elif ifname.startswith("gif"):
                gif.create(ifname)
            else:
                raise ConfigError(f"{ifname}: only gifN and stfN can be created", layer="ifconfig")
        elif w == "destroy":
            gif.destroy(ifname, now)
        elif w == "tunnel":
            s, d = _need(words, i, 2, "SRC DST")
            gif.set_tunnel(ifname, s, d)
            i += 2
        elif w == "deletetunnel":
            gif.delete_tunnel(ifname)
        elif w == "up":
            frames += node.up(ifname, now)
        elif w == "down":
            frames += node.down(ifname, now)
        elif w == "inet6":
            (a,) = _need(words, i, 1, "ADDR[/LEN]")
            i += 1
            if i + 1 < len(words) + 1 and words[i:i + 1] == ["prefixlen"]:
                (pl,) = _need(words, i + 1, 1, "a length")
                a = f"{a}/{pl}"
                i += 2
            node.add_address(ifname, a, now)
        elif w == "inet":
            (a,) = _need(words, i, 1, "ADDR/LEN")
            i += 1
            node.add_address4(ifname, a, now)
        elif w == "mtu":
            (m,) = _need(words, i, 1, "N")
            i += 1
            if not m.isdigit() or not 1280 <= int(m) <= 65535:
                raise ConfigError(f"mtu {m}: 1280..65535", layer="ifconfig")
            node._ifnet(ifname).mtu = int(m)
        elif w in ("ecn", "link1", "-link1"):
            if w == "ecn":
                (e,) = _need(words, i, 1, "-1, 0, 1 or 2")
                i += 1
                try:
                    v = int(e)
                except ValueError:
                    raise ConfigError(f"ecn {e!r}: -1, 0, 1 or 2", layer="ifconfig") from None
            else:
                v = 1 if w == "link1" else 0
            if gif.stf is not None and gif.stf.ifname == ifname:
                if v not in (-1, 0, 1, 2):
                    raise ConfigError(f"ecn {v}: -1, 0, 1 or 2", layer="ifconfig")
                gif.stf.ecn = v
            else:
                gif.set_ecn(ifname, v)
        elif w == "-linklocal":
            gif.remove_linklocal(ifname, now)
        elif w == "relay":
            (r,) = _need(words, i, 1, "an IPv4 address or 'none'")
            i += 1
            if gif.stf is None or gif.stf.ifname != ifname:
                raise ConfigError(f"{ifname}: relay is for the 6to4 interface", layer="ifconfig")
            gif.stf.set_relay(None if r == "none" else r)
        else:
            raise ConfigError(f"unknown word {w!r} (see kame ifconfig --help)", layer="ifconfig")
    info: dict[str, Any] = {"ifname": ifname}
    if ifname in gif.softc:
        info |= gif.show(ifname)
    return frames, info


def _show_tunnels(rows: list[dict[str, Any]]) -> str:
    out = []
    for r in rows:
        t = r.get("tunnel")
        if t is None:
            continue
        out.append(f"{r['ifname']}: flags={'UP' if r['up'] else 'DOWN'} mtu {r['mtu']}\n")
        if t.get("src"):
            fam = "inet6" if ":" in t["src"] else "inet"
            out.append(f"\tphysical address {fam} {t['src']} --> {t['dst']}\n")
        out.append(f"\tecn {t['ecn']}\n")
    return "".join(out)


def _ifconfig(args: argparse.Namespace) -> int:
    from kame.cli.tools import find_ctl, format_ifconfig
    from kame.ctl import request

    words = list(args.words)
    # options may follow the interface (``kame ifconfig gif0 --ctl PATH``):
    # the words are taken whole (``-link1``...), so ``--ctl``/``-L`` are picked out here
    while "--ctl" in words:
        i = words.index("--ctl")
        if i + 1 >= len(words):
            raise UsageError("--ctl needs a PATH")
        args.ctl = words[i + 1]
        del words[i:i + 2]
    while "-L" in words:
        words.remove("-L")
        args.L = True
    args.words = words
    path = find_ctl(args.ctl)
    if args.words:
        if args.interface is None:
            raise ConfigError("give the interface before the words", layer="ifconfig")
        request(path, "ifconfig_set", ifname=args.interface, words=list(args.words))
        return 0
    rows = request(path, "ifconfig", ifname=args.interface)
    sys.stdout.write(format_ifconfig(rows, lifetimes=args.L))
    sys.stdout.write(_show_tunnels(rows))
    return 0


def _gifconfig(args: argparse.Namespace) -> int:
    from kame.cli.tools import find_ctl
    from kame.ctl import request

    path = find_ctl(args.ctl)
    if args.a or args.interface is None:
        rows = request(path, "ifconfig", ifname=None)
    elif args.addrs:
        if len(args.addrs) != 2:
            raise ConfigError("gifconfig IF SRC DST", layer="gifconfig")
        request(path, "ifconfig_set", ifname=args.interface,
                words=["tunnel", *args.addrs])
        return 0
    else:
        rows = request(path, "ifconfig", ifname=args.interface)
    sys.stdout.write(_show_tunnels(rows))
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from kame.cli.tools import _ctl_arg

    p = sub.add_parser("ifconfig", help="the node's interfaces: show, or create and configure "
                                        "gif/stf interfaces (like ifconfig(8))",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-L", action="store_true", help="show address lifetimes")
    _ctl_arg(p)
    p.add_argument("interface", nargs="?")
    p.add_argument("words", nargs=argparse.REMAINDER,
                   help="create, tunnel SRC DST, inet6 ADDR, up, ... (applied in order)")
    p.set_defaults(func=_ifconfig)

    p = sub.add_parser("gifconfig", help="gif tunnel addresses (like KAME's gifconfig(8))")
    p.add_argument("-a", action="store_true", help="every gif interface")
    _ctl_arg(p)
    p.add_argument("interface", nargs="?")
    p.add_argument("addrs", nargs="*", metavar="SRC DST")
    p.set_defaults(func=_gifconfig)
