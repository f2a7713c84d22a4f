"""`kame dhcp6s`: a DHCPv6 server (RFC 8415) on a node on a TAP device.

    kame dhcp6s -c dhcp6s.conf --tap eth0 [--inet6 2001:db8::1/64]

The configuration is WIDE-DHCPv6's dhcp6s.conf (see :mod:`kame.dhcp6.conf`):
``option domain-name-servers``, ``option domain-name``, ``option
refreshtime``, ``preference``, ``interface`` blocks with ``address-pool``
(and kame's ``prefix-pool``), ``allow rapid-commit``; ``pool`` with a
``range``; ``host`` with ``duid``, ``address`` and ``prefix``. The lease
tables hold at most ``--max-leases`` bindings (refusals are counted). Each
client message handled is one JSON line on standard output.

With ``--control PATH`` the server listens on a Unix datagram socket for
``kame dhcp6ctl`` (as WIDE's dhcp6ctl talked to dhcp6s):

    kame dhcp6ctl -s PATH reconfigure DUID [renew|rebind|info]

sends the client ``DUID`` (hex, colons allowed) a Reconfigure (RFC 8415
§18.3.11) authenticated with the key the server gave it (RKAP, §20.4), to
the address of its last message, retransmitted until it renews (or asks
for information) or REC_MAX_RC copies went unanswered.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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

RECONF_TYPES = {"renew": 5, "rebind": 6, "info": 11}


def parse_duid(text: str) -> bytes:
    """A DUID written in hex, colons allowed (``00:03:00:01:02:00:...``)."""
    h = text.replace(":", "").strip()
    try:
        d = bytes.fromhex(h)
    except ValueError:
        raise ValueError(f"DUID {text!r} is not hex") from None
    if not 3 <= len(d) <= 130:
        raise ValueError(f"DUID {text!r}: a DUID is 3 to 130 octets")
    return d


def _control(sock: socket.socket, agent: Any, now: float) -> None:
    """Commands from ``kame dhcp6ctl`` waiting on the control socket."""
    for _ in range(16):
        try:
            data, peer = sock.recvfrom(4096)
        except (BlockingIOError, InterruptedError):
            return
        words = data.decode("utf-8", "replace").split()
        err = ""
        if len(words) in (2, 3) and words[0] == "reconfigure":
            kind = words[2] if len(words) == 3 else "renew"
            try:
                duid = parse_duid(words[1])
            except ValueError as e:
                err = str(e)
            else:
                if kind not in RECONF_TYPES:
                    err = f"{kind!r} is not renew, rebind or info"
                else:
                    err = agent.reconfigure(duid, RECONF_TYPES[kind], now)
            _emit({"event": "reconfigure", "duid": words[1], "type": kind,
                   "error": err or None})
        else:
            err = "usage: reconfigure DUID [renew|rebind|info]"
        if peer:
            try:
                sock.sendto((f"error: {err}" if err else "ok").encode(), peer)
            except OSError:
                pass


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
        ctl = None
        if args.control:
            if os.path.exists(args.control):
                os.unlink(args.control)
            ctl = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            ctl.bind(args.control)
            ctl.setblocking(False)
        sys.stderr.write(f"kame dhcp6s: {ifn}: DUID {duidmod.describe(duid)}\n")
        seen = [0]

        def tick() -> None:
            if ctl is not None:
                _control(ctl, agent, clock())
            log = server.log
            if seen[0] > len(log):
                seen[0] = 0
            for t, what, d, vals in log[seen[0]:]:
                _emit({"event": what, "duid": d, "values": list(vals), "time": round(t, 3)})
            seen[0] = len(log)

        daemon_loop(runner, [agent], stop, args.duration, tick)
        _emit({"event": "stats", **{k: v for k, v in server.stats.items() if v},
               "leases": server.nleases, "reconf_sent": agent.reconf_sent,
               "reconf_answered": agent.reconf_answered})
        agent.close()
        if ctl is not None:
            ctl.close()
            os.unlink(args.control)
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
    p.add_argument("--control", metavar="PATH",
                   help="a Unix socket for kame dhcp6ctl (Reconfigure)")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    p.set_defaults(func=_run)
    q = sub.add_parser("dhcp6ctl", help="control a running kame dhcp6s (Reconfigure a client)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    q.add_argument("-s", "--control", required=True, metavar="PATH",
                   help="the server's --control socket")
    q.add_argument("action", metavar="command", choices=("reconfigure",))
    q.add_argument("duid", help="the client's DUID in hex (colons allowed)")
    q.add_argument("type", nargs="?", default="renew", choices=tuple(RECONF_TYPES))
    q.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS")
    q.set_defaults(func=_ctl)


def _ctl(args: argparse.Namespace) -> int:
    parse_duid(args.duid)
    with tempfile.TemporaryDirectory(prefix="dhcp6ctl") as d:
        me = os.path.join(d, "s")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            s.bind(me)
            s.settimeout(args.timeout)
            s.sendto(f"{args.action} {args.duid} {args.type}".encode(), args.control)
            try:
                answer = s.recv(4096).decode("utf-8", "replace")
            except TimeoutError:
                sys.stderr.write(f"kame dhcp6ctl: no answer from {args.control}\n")
                return 1
        finally:
            s.close()
    sys.stdout.write(json.dumps({"answer": answer}) + "\n")
    return 0 if answer == "ok" else 1
