"""`kame dhcp6c`: a DHCPv6 client (RFC 8415) on a node on TAP devices.

    kame dhcp6c -c dhcp6c.conf --tap eth0 [--tap eth1 ...]

The configuration is WIDE-DHCPv6's dhcp6c.conf (see
:mod:`kame.dhcp6.conf`): ``interface`` blocks with ``send ia-na``, ``send
ia-pd``, ``send rapid-commit``, ``request domain-name-servers``,
``information-only``; ``id-assoc na``/``pd`` with hints and
``prefix-interface``. Each ``--tap`` is an interface of the node (named as
the TAP); the first ``interface`` block's one runs the client. With
``--router`` the node forwards and advertises the sub-prefixes of a
delegated prefix on the ``prefix-interface``\\ s. The DUID is kept in
``--duid-file`` (made once, of ``--duid-type``). ``--follow-ra`` waits for
an RA and follows its M and O flags instead of starting at once.

With ``--state-file`` the binding (server, addresses, prefixes, times on
the wall clock, the Reconfigure key) is written after every change and read
at start: a lease still valid is confirmed (Confirm, RFC 8415 §18.2.3; a
Rebind when it holds delegated prefixes, §18.2.12) and then renewed at its
T1 as if the client had never stopped. ``--no-release`` (WIDE's ``-n``)
keeps the binding on exit instead of releasing it. ``send ia-ta N;``
(kame's) asks for temporary addresses (IA_TA).

Each lease, renewal, Confirm answer and loss is one JSON line on standard
output, and so is each Reconfigure (``{"event": "reconfigure", "accepted":
N, "badauth": M}``: the counters ``d6c_reconfigure`` and ``d6c_badauth``);
SIGTERM or SIGINT releases the bindings (a Release, waited for at most 3 s)
and exits with a ``stats`` line.
"""

from __future__ import annotations

import argparse
import json
import random
import select
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kame.cli.node import _clock_and_signals, _derived_mac, _ifname, _open_tap, _sysctls, parse_mac

__all__ = ["add_parser", "daemon_loop"]


def daemon_loop(runner: Any, agents: list[Any], stop: dict[str, int], duration: float | None,
                tick: Callable[[], None]) -> None:
    """Service the node and its daemons until a signal or ``duration``."""
    t_end = None if duration is None else time.monotonic() + duration

    def after() -> None:
        now = runner.clock()
        for a in agents:
            a.service(now)
        tick()

    runner.after_service.append(after)
    while not stop["sig"] and (t_end is None or time.monotonic() < t_end):
        runner.service()
        waits = [runner.timeout(0.5)]
        for a in agents:
            d = a.next_deadline()
            if d is not None:
                waits.append(max(0.0, d - runner.clock()))
        try:
            select.select(runner.fds(), [], [], min(waits))
        except InterruptedError:
            pass
    runner.after_service.remove(after)


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _event(ev: Any) -> dict[str, Any]:
    from kame.dhcp6.client import Bound, Confirmed, Expired, InfoReceived

    if isinstance(ev, Bound):
        return {"event": "bound", "ifname": ev.ifname, "rapid": ev.rapid,
                "addresses": [{"addr": str(a.addr), "preferred": a.preferred, "valid": a.valid}
                              for a in ev.addresses],
                "prefixes": [{"prefix": str(p.prefix), "preferred": p.preferred,
                              "valid": p.valid} for p in ev.prefixes],
                "temporary": [{"addr": str(a.addr), "preferred": a.preferred,
                               "valid": a.valid} for a in ev.temporary],
                "dns": [str(a) for a in ev.dns], "domains": list(ev.domains)}
    if isinstance(ev, Expired):
        return {"event": "expired", "ifname": ev.ifname,
                "addresses": [str(a) for a in ev.addresses],
                "prefixes": [str(p) for p in ev.prefixes]}
    if isinstance(ev, Confirmed):
        return {"event": "confirmed", "ifname": ev.ifname, "ok": ev.ok}
    if isinstance(ev, InfoReceived):
        return {"event": "info", "ifname": ev.ifname, "dns": [str(a) for a in ev.dns],
                "domains": list(ev.domains), "refresh": ev.refresh}
    return {"event": type(ev).__name__}


def _run(args: argparse.Namespace) -> int:
    from kame.dhcp6 import duid as duidmod
    from kame.dhcp6.agent import ClientAgent
    from kame.dhcp6.client import Dhcp6Client
    from kame.dhcp6.conf import parse_client
    from kame.errors import ConfigError
    from kame.knobs import Knobs
    from kame.link.runner import Runner
    from kame.node import Node
    from kame.socket import SocketLayer

    conf = parse_client(Path(args.config).read_text(), args.config)
    if not conf.interfaces:
        raise ConfigError(f"{args.config}: no interface block")
    ci = next(iter(conf.interfaces.values()))
    taps = list(dict.fromkeys(args.tap))
    if ci.ifname not in taps:
        raise ConfigError(f"{args.config}: interface {ci.ifname} is not one of --tap "
                          f"{' '.join(taps)}")
    knobs = Knobs(_sysctls(args.sysctl or []))
    if args.router:
        knobs["net.inet6.ip6.forwarding"] = 1
    if args.follow_ra:
        knobs["net.inet6.ip6.accept_rtadv"] = 1
    hostname = args.hostname or "kame-dhcp6c"
    node = Node(hostname, knobs=knobs, seed=random.SystemRandom().getrandbits(32))
    clock, stop = _clock_and_signals()
    runner = Runner(clock)
    devs = []
    try:
        for i, ifn in enumerate(taps):
            mac = args.mac if (args.mac is not None and i == 0) else _derived_mac(ifn, hostname)
            node.add_interface(ifn, mac)
            dev = _open_tap(ifn)
            devs.append(dev)
            runner.attach_device(node, ifn, dev)
            runner.transmit(node, node.up(ifn, clock()))
        mac0 = node.ifnets[ci.ifname].lladdr or b"\x02\x00\x00\x00\x00\x01"
        duid = duidmod.load_or_create(args.duid_file, args.duid_type, mac0, time.time())
        pis = tuple(p for iaid in ci.ia_pd for p in conf.prefix_interfaces.get(iaid, []))
        client = Dhcp6Client(
            ci.ifname, duid, ia_na=() if ci.information_only else tuple(ci.ia_na),
            ia_pd=() if ci.information_only else tuple((i, conf.pd_hints.get(i))
                                                       for i in ci.ia_pd),
            ia_ta=() if ci.information_only else tuple(ci.ia_ta),
            rapid_commit=ci.rapid_commit,
            request=tuple(ci.request) or (23, 24))  # DNS servers, domain list
        state_file = Path(args.state_file) if args.state_file else None
        restored = False
        if state_file is not None and state_file.exists():
            try:
                st = json.loads(state_file.read_text())
            except (OSError, ValueError):
                st = None
            restored = client.restore_state(st, time.time(), clock())
            sys.stderr.write(f"kame dhcp6c: {state_file}: "
                             f"{'lease restored' if restored else 'no lease kept'}\n")
        layer = SocketLayer(node, "linux")
        # the link-local address first (DAD), then the client
        t_ll = time.monotonic() + 10
        while time.monotonic() < t_ll and not stop["sig"] and not any(
                a.usable and a.addr.is_link_local for a in node.addresses(ci.ifname)):
            runner.service()
            select.select(runner.fds(), [], [], runner.timeout(0.1))
        mode = None if args.follow_ra else (
            "stateless" if ci.information_only or not (ci.ia_na or ci.ia_pd or ci.ia_ta)
            else "stateful")
        if restored:
            mode = None
        agent = ClientAgent(node, layer, client, prefix_interfaces=pis,
                            follow_ra=args.follow_ra, mode=mode, now=clock())
        if restored:
            client.link_changed(clock())
        seen = [0]
        reconf = [0, 0]

        def save() -> None:
            if state_file is None:
                return
            tmp = state_file.with_name(state_file.name + ".tmp")
            tmp.write_text(json.dumps(client.save_state(time.time(), clock())))
            tmp.replace(state_file)
        sys.stderr.write(f"kame dhcp6c: {ci.ifname}: DUID {duidmod.describe(duid)}\n")

        def tick() -> None:
            changed = False
            while seen[0] < len(agent.events):
                _emit(_event(agent.events[seen[0]]))
                seen[0] += 1
                changed = True
            if changed:
                save()
            now_r = [client.stats["d6c_reconfigure"], client.stats["d6c_badauth"]]
            if now_r != reconf:
                reconf[:] = now_r
                _emit({"event": "reconfigure", "accepted": now_r[0] - now_r[1],
                       "badauth": now_r[1]})
            if len(agent.events) > 500:
                del agent.events[:seen[0]]
                seen[0] = 0

        daemon_loop(runner, [agent], stop, args.duration, tick)
        tick()
        if client.lease is not None and not args.no_release:
            agent.release(clock())
            t_rel = time.monotonic() + 3
            while client.ex is not None and time.monotonic() < t_rel:
                runner.service()
                agent.service(clock())
                runner.service()
                select.select(runner.fds(), [], [], 0.05)
            tick()
            _emit({"event": "released", "ifname": ci.ifname})
            save()
        _emit({"event": "stats", **{k: v for k, v in client.stats.items() if v}})
        agent.close()
    finally:
        for d in devs:
            d.close()
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("dhcp6c", help="DHCPv6 client on a node on TAP devices (WIDE dhcp6c.conf)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-c", "--config", required=True, metavar="FILE", help="dhcp6c.conf")
    p.add_argument("--tap", action="append", required=True, type=_ifname, metavar="IFNAME",
                   help="a TAP device, an interface of the node (repeat for prefix interfaces)")
    p.add_argument("--mac", type=parse_mac, help="MAC of the first TAP (default: derived)")
    p.add_argument("--hostname", help="node name")
    p.add_argument("--duid-file", metavar="PATH", help="where the DUID is kept")
    p.add_argument("--duid-type", choices=("llt", "en", "ll", "uuid"), default="llt")
    p.add_argument("--router", action="store_true",
                   help="forward, and advertise delegated sub-prefixes in RAs")
    p.add_argument("--follow-ra", action="store_true", help="start on an RA's M or O flag")
    p.add_argument("--state-file", metavar="PATH",
                   help="keep the binding here across restarts (confirmed at start)")
    p.add_argument("-n", "--no-release", action="store_true",
                   help="keep the binding on exit (no Release)")
    p.add_argument("--sysctl", action="append", metavar="NAME=VALUE")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    p.set_defaults(func=_run)
