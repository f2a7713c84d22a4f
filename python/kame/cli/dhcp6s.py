"""`kame dhcp6s`: a DHCPv6 server (RFC 8415) on a node on a TAP device.

    kame dhcp6s -c dhcp6s.conf --tap eth0 [--inet6 2001:db8::1/64]

The configuration is WIDE-DHCPv6's dhcp6s.conf (see :mod:`kame.dhcp6.conf`):
``option domain-name-servers``, ``option domain-name``, ``option
refreshtime``, ``preference``, ``interface`` blocks with ``address-pool``
(and kame's ``prefix-pool``), ``allow rapid-commit``; ``pool`` with a
``range``; ``host`` with ``duid``, ``address`` and ``prefix``. The lease
tables hold at most ``--max-leases`` bindings (refusals are counted). Each
client message handled is one JSON line on standard output.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

from kame.cli.dhcp6c import _emit, daemon_loop
from kame.cli.node import (
    _clock_and_signals,
    _derived_mac,
    _ifname,
    _open_tap,
    _sysctls,
    parse_inet6,
    parse_mac,
)

__all__ = ["add_parser"]


def _run(args: argparse.Namespace) -> int:
    from kame.dhcp6 import duid as duidmod
    from kame.dhcp6.agent import ServerAgent
    from kame.dhcp6.conf import parse_server
    from kame.dhcp6.server import Dhcp6Server
    from kame.errors import ConfigError
    from kame.knobs import Knobs
    from kame.link.runner import Runner
    from kame.node import Node
    from kame.socket import SocketLayer

    conf = parse_server(Path(args.config).read_text(), args.config)
    ifn = args.tap
    if conf.interfaces and ifn not in conf.interfaces:
        raise ConfigError(f"{args.config}: no interface block for --tap {ifn}")
    si = conf.interfaces.get(ifn)
    hostname = args.hostname or "kame-dhcp6s"
    node = Node(hostname, knobs=Knobs(_sysctls(args.sysctl or [])),
                seed=random.SystemRandom().getrandbits(32))
    clock, stop = _clock_and_signals()
    runner = Runner(clock)
    mac = args.mac if args.mac is not None else _derived_mac(ifn, hostname)
    node.add_interface(ifn, mac)
    dev = _open_tap(ifn)
    try:
        runner.attach_device(node, ifn, dev)
        runner.transmit(node, node.up(ifn, clock()))
        for a in args.inet6 or []:
            node.add_address(ifn, str(a), clock())
        duid = duidmod.load_or_create(args.duid_file, args.duid_type, mac, time.time())
        server = Dhcp6Server(
            duid, pool=conf.addr_pool(ifn), pd_pool=conf.prefix_pool(ifn), hosts=conf.hosts,
            dns=tuple(conf.dns), domains=tuple(conf.domains),
            preference=si.preference if si is not None and si.preference is not None
            else conf.preference,
            rapid_commit=bool(si is not None and si.rapid_commit), max_leases=args.max_leases,
            info_refresh=conf.refresh)
        agent = ServerAgent(SocketLayer(node, "linux"), server, (ifn,))
        sys.stderr.write(f"kame dhcp6s: {ifn}: DUID {duidmod.describe(duid)}\n")
        seen = [0]

        def tick() -> None:
            log = server.log
            if seen[0] > len(log):
                seen[0] = 0
            for t, what, d, vals in log[seen[0]:]:
                _emit({"event": what, "duid": d, "values": list(vals), "time": round(t, 3)})
            seen[0] = len(log)

        daemon_loop(runner, [agent], stop, args.duration, tick)
        _emit({"event": "stats", **{k: v for k, v in server.stats.items() if v},
               "leases": server.nleases})
        agent.close()
    finally:
        dev.close()
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("dhcp6s", help="DHCPv6 server on a node on a TAP device (WIDE dhcp6s.conf)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-c", "--config", required=True, metavar="FILE", help="dhcp6s.conf")
    p.add_argument("--tap", required=True, type=_ifname, metavar="IFNAME", help="the TAP device")
    p.add_argument("--inet6", action="append", type=parse_inet6, metavar="ADDR/LEN",
                   help="a static address on the interface")
    p.add_argument("--mac", type=parse_mac, help="MAC (default: derived)")
    p.add_argument("--hostname", help="node name")
    p.add_argument("--duid-file", metavar="PATH", help="where the DUID is kept")
    p.add_argument("--duid-type", choices=("llt", "en", "ll", "uuid"), default="llt")
    p.add_argument("--max-leases", type=int, default=65536, help="bound of the lease tables")
    p.add_argument("--sysctl", action="append", metavar="NAME=VALUE")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    p.set_defaults(func=_run)
