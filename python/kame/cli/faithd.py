"""`kame faithd`: a FAITH relay (seed §3.1, RFC 3142) on a node of its own
on one or two Linux TAP devices.

    kame faithd --prefix 2001:db8:ffff::/96 --tap ktap6 --tap ktap4 \\
        --inet6 ktap6=2001:db8:1::1/64 --inet ktap4=192.0.2.1/24 [-f faithd.conf] [-p] 80 21

The node takes TCP to ``PREFIX::a.b.c.d`` as its own
(``net.inet6.ip6.keepfaith=1``) and relays each listed port to ``a.b.c.d``
over IPv4, port 21 with FTP's EPSV/EPRT translated (:mod:`kame.faith`).
``-f`` reads faithd.conf(5) rules (``DST[/LEN] [!]SRC[/LEN]``); ``-p``
permits private IPv4 destinations (RFC 1918 ...), which RFC 3142 §5's
advice otherwise refuses, as it always refuses the relay's own addresses.
``--route6 PREFIX=GW%IF`` and ``--route4 PREFIX=GW`` add static routes.
Relays and refusals are logged on stderr; SIGTERM or SIGINT stops it.
"""

from __future__ import annotations

import argparse
import os
import select
import sys
from typing import Any

from kame.cli.args import UsageError, add_static_args, configure_static

__all__ = ["add_parser", "run"]


def run(args: argparse.Namespace) -> int:
    from kame.cli.node import _clock_and_signals, _derived_mac, _open_tap
    from kame.faith import Faithd, add_faith_prefix, parse_conf
    from kame.knobs import Knobs
    from kame.node import Node
    from kame.socket import SocketLayer

    if not args.tap:
        raise UsageError("give --tap IFNAME (once or twice)")
    if len(args.tap) > 2 or len(set(args.tap)) != len(args.tap):
        raise UsageError("--tap: one or two different devices")
    ports = []
    for p in args.port:
        if not p.isdigit() or not 0 < int(p) < 65536:
            raise UsageError(f"port {p!r}: 1..65535")
        ports.append(int(p))
    rules = None
    if args.f:
        with open(args.f) as fh:
            rules = parse_conf(fh.read(1 << 20))
    node = Node("faithd", knobs=Knobs({"net.inet6.ip6.keepfaith": 1}),
                seed=int.from_bytes(os.urandom(4), "big"))
    add_faith_prefix(node, args.prefix)
    taps: dict[str, Any] = {}
    clock, stop = _clock_and_signals()
    try:
        for name in args.tap:
            node.add_interface(name, _derived_mac(name, "faithd"))
            taps[name] = _open_tap(name)
        sys.stderr.write(f"kame faithd: opened {' '.join(taps)}\n")
        sys.stderr.flush()
        layer = SocketLayer(node, "linux")

        def send(frames: list[tuple[str, bytes]]) -> None:
            for ifn, f in frames:
                try:
                    taps[ifn].write(f)
                except OSError:
                    node.stats.inc("ip6s_odropped")

        for name in taps:
            send(node.up(name, clock()))
        configure_static(node, args, clock())
        d = Faithd(layer, ports, rules=rules, allow_private=args.p)
        sys.stderr.write(f"kame faithd: relaying {args.prefix} ports "
                         f"{' '.join(map(str, ports))}\n")
        sys.stderr.flush()
        byfd = {t.fileno(): n for n, t in taps.items()}
        while not stop["sig"]:
            dl = node.next_deadline()
            timeout = 0.05 if dl is None else max(0.0, min(0.05, dl - clock()))
            r, _, _ = select.select(list(byfd), [], [], timeout)
            for fd in r:
                name = byfd[fd]
                frames = taps[name].read_many(256)
                if frames:
                    send(node.receive_many(name, frames, clock()))
            send(node.poll(clock()))
            d.step(clock())
            send(node.poll(clock()))
            for line in d.log:
                sys.stderr.write(f"kame faithd: {line}\n")
            if d.log:
                sys.stderr.flush()
                d.log.clear()
        d.close()
        send(node.poll(clock()))
    finally:
        for t in taps.values():
            t.close()
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("faithd", help="FAITH IPv6-to-IPv4 TCP relay on TAP devices "
                                      "(RFC 3142, like KAME's faithd(8))",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prefix", required=True, help="the relay prefix, /96 or shorter")
    p.add_argument("--tap", action="append", metavar="IFNAME", help="TAP device (up to two)")
    add_static_args(p)
    p.add_argument("-f", metavar="FILE", help="faithd.conf(5) access rules")
    p.add_argument("-p", action="store_true",
                   help="permit private IPv4 destinations (RFC 3142 §5 refuses them otherwise)")
    p.add_argument("port", nargs="+", help="TCP ports to relay (21 gets FTP translation)")
    p.set_defaults(func=run)
