"""`kame nat64`: a translator node (seed §3.2, issue 13) on two Linux TAP
devices, the IPv6 side and the IPv4 side: stateful NAT64 (RFC 6146) with
the RFC 6052 prefix, an IPv4 pool, explicit address mappings (RFC 7757),
RFC 6791 pools and static bindings; or the stateless translator alone
when no pool is given.

    kame nat64 --tap ktap6 --tap ktap4 --inet6 ktap6=2001:db8:1::1/64 \\
        --inet ktap4=198.51.100.1/24 --prefix 64:ff9b::/96 --pool 203.0.113.1 \\
        [--eam 192.0.2.80=2001:db8:1::80] [--static udp,2001:db8:1::6,7000,203.0.113.1,7000] \\
        [--timeout udp=300] [--pool6791v6 ADDR] [--pool6791v4 ADDR] [--mtu6 N] [--mtu4 N] \\
        [--route6 PREFIX=GW%IF] [--route4 PREFIX=GW] [--ctl PATH]
    kame nat64 show [--ctl PATH]     the BIB and the sessions of a running one
    kame netstat -s -p nat64         its counters

The control socket (``--ctl``, default ``/run/kame/nat64-TAP6.sock``)
answers ``kame nat64 show`` and ``kame netstat -s -p nat64``; SIGTERM or
SIGINT stops the node.
"""

from __future__ import annotations

import argparse
import os
import select
import sys
from typing import Any

from kame.cli.args import UsageError, add_static_args, configure_static, key_value

__all__ = ["add_parser", "format_nat64_show", "format_nat64_stats", "run"]


def _nat64_from_args(args: argparse.Namespace) -> Any:
    from kame.nat64 import Nat64

    timeouts: dict[str, float] = {}
    for item in args.timeout or []:
        k, v = key_value(item, "--timeout")
        try:
            timeouts[k] = float(v)
        except ValueError:
            raise UsageError(f"--timeout {item!r}: seconds") from None
        if not 0 < timeouts[k] < 1e7:
            raise UsageError(f"--timeout {item!r}: seconds, 0 < T < 10^7")
    eam = [key_value(e, "--eam") for e in args.eam or []]
    pool: list[str] | str | None = None
    if args.pool:
        pool = args.pool[0] if len(args.pool) == 1 and "/" in args.pool[0] else list(args.pool)
    self6 = next((a.split("=", 1)[1].split("/")[0] for a in args.inet6 or []), None)
    self4 = next((a.split("=", 1)[1].split("/")[0] for a in args.inet or []), None)
    try:
        nat = Nat64(args.prefix, pool, eam=eam, self4=self4, self6=self6, mtu6=args.mtu6,
                    mtu4=args.mtu4, timeouts=timeouts, adf=not args.eif,
                    pool6791v4=args.pool6791v4, pool6791v6=args.pool6791v6)
        for s in args.static or []:
            parts = s.split(",")
            if len(parts) != 5 or not parts[2].isdigit() or not parts[4].isdigit():
                raise UsageError(f"--static {s!r}: PROTO,ADDR6,PORT,ADDR4,PORT")
            nat.add_static(parts[0], parts[1], int(parts[2]), parts[3], int(parts[4]))
    except (ValueError, TypeError) as e:
        raise UsageError(str(e)) from None
    return nat


def run(args: argparse.Namespace) -> int:
    if args.action == "show":
        from kame.cli.tools import find_ctl
        from kame.ctl import request

        sys.stdout.write(format_nat64_show(request(find_ctl(args.ctl), "nat64_show")))
        return 0
    from kame.cli.node import _clock_and_signals, _derived_mac, _open_tap, _runtime_dir
    from kame.ctl import ControlServer, NodeHost, default_ctl_path
    from kame.knobs import Knobs
    from kame.node import Node

    if not args.tap or len(args.tap) != 2 or args.tap[0] == args.tap[1]:
        raise UsageError("give --tap IF6 --tap IF4 (the IPv6 side, then the IPv4 side)")
    if not args.prefix:
        raise UsageError("give --prefix (the RFC 6052 prefix, e.g. 64:ff9b::/96)")
    nat = _nat64_from_args(args)
    node = Node("nat64", knobs=Knobs({"net.inet6.ip6.forwarding": 1}),
                seed=int.from_bytes(os.urandom(4), "big"))
    nat.attach(node)
    host = NodeHost(node)
    taps: dict[str, Any] = {}
    clock, stop = _clock_and_signals()

    def transmit(frames: list[tuple[str, bytes]]) -> None:
        for ifn, f in frames:
            try:
                taps[ifn].write(f)
            except (OSError, KeyError):
                node.stats.inc("ip6s_odropped")

    if not args.ctl:
        _runtime_dir()
    server = ControlServer(host, args.ctl or default_ctl_path(f"nat64-{args.tap[0]}"),
                           clock=clock, transmit=transmit)
    server.ops["nat64_show"] = lambda _c, _r, now: snap_nat64(nat, now)
    server.ops["nat64_stats"] = lambda _c, _r, _now: nat.all_stats()
    try:
        for name in args.tap:
            node.add_interface(name, _derived_mac(name, "nat64"))
            taps[name] = _open_tap(name)
        sys.stderr.write(f"kame nat64: opened {' '.join(taps)}, control socket {server.path}\n")
        sys.stderr.flush()
        for name in taps:
            transmit(host.up(name, clock()))
        configure_static(node, args, clock())
        sys.stderr.write(f"kame nat64: translating {args.prefix}"
                         f"{' pool ' + ' '.join(args.pool) if args.pool else ' (stateless)'}\n")
        sys.stderr.flush()
        byfd = {t.fileno(): n for n, t in taps.items()}
        last_expire = 0.0
        while not stop["sig"]:
            dl = host.next_deadline()
            timeout = 0.2 if dl is None else max(0.0, min(0.2, dl - clock()))
            try:
                r, w, _ = select.select([*byfd, *server.sockets()], server.want_write(), [],
                                        timeout)
            except InterruptedError:
                continue
            for fd in r:
                name = byfd.get(fd) if isinstance(fd, int) else None
                if name is None:
                    continue
                for _ in range(256):
                    frame = taps[name].read()
                    if frame is None:
                        break
                    transmit(host.receive(name, frame, clock()))
            server.handle([s for s in r if not isinstance(s, int)], w)
            transmit(host.poll(clock()))
            server.dispatch_events(host.take_events())
            if clock() - last_expire >= 1.0:
                last_expire = clock()
                nat.expire(last_expire)
    finally:
        server.close()
        for t in taps.values():
            t.close()
    return 0


def snap_nat64(nat: Any, now: float) -> dict[str, Any]:
    """The BIB and sessions, JSON-ready."""
    names = {1: "icmp", 6: "tcp", 17: "udp"}
    st = nat.state
    bib = [{"proto": names.get(b.proto, str(b.proto)), "addr6": str(b.x6), "port6": b.x,
            "addr4": str(b.t4), "port4": b.t, "static": b.static}
           for b in (st.by6.values() if st is not None else ())]
    sessions = []
    if st is not None:
        for s in st.sessions.values():
            sessions.append({"proto": names.get(s.bib.proto, str(s.bib.proto)),
                             "addr6": str(s.bib.x6), "port6": s.bib.x,
                             "addr4": str(s.bib.t4), "port4": s.bib.t,
                             "remote4": str(s.y4), "rport": s.y,
                             "state": s.state.value if s.bib.proto == 6 else "",
                             "expires": round(max(0.0, s.expires - now), 1)})
    return {"prefix": str(nat.prefix), "pool": sorted(str(a) for a in nat._pool),
            "bib": bib, "sessions": sessions}


def format_nat64_show(d: dict[str, Any]) -> str:
    """Jool-like tables: the BIB, then the sessions."""
    out = [f"prefix {d['prefix']}, pool {' '.join(d['pool']) or '(none: stateless)'}\n",
           f"BIB ({len(d['bib'])}):\n"]
    out += [f"  {b['proto']:<5} [{b['addr6']}]#{b['port6']} <-> {b['addr4']}#{b['port4']}"
            f"{'  static' if b['static'] else ''}\n" for b in d["bib"]]
    out.append(f"Sessions ({len(d['sessions'])}):\n")
    out += [f"  {s['proto']:<5} [{s['addr6']}]#{s['port6']} {s['addr4']}#{s['port4']} -> "
            f"{s['remote4']}#{s['rport']}  {s['state'] or '-'}  expires {s['expires']}s\n"
            for s in d["sessions"]]
    return "".join(out)


def format_nat64_stats(c: dict[str, Any]) -> str:
    """``netstat -s -p nat64``: one line per counter, BSD style."""
    from kame.nat64 import NAT64_STATS

    lines = ["nat64:\n"]
    lines += [f"\t{int(c.get(k, 0))} {desc}\n" for k, desc in NAT64_STATS.items()]
    lines += [f"\t{int(v)} {k}\n" for k, v in sorted(c.items()) if k not in NAT64_STATS]
    return "".join(lines)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("nat64", help="the IPv6-to-IPv4 translator (stateful NAT64, RFC 6146, "
                                     "over RFC 7915) on two TAP devices; `show` its tables",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", nargs="?", choices=["run", "show"], default="run",
                   help="run the translator (default) or show a running one's BIB and sessions")
    p.add_argument("--tap", action="append", metavar="IFNAME", help="the IPv6 side, then the IPv4 side")
    p.add_argument("--prefix", help="the RFC 6052 prefix (/32, /40, /48, /56, /64 or /96)")
    p.add_argument("--pool", action="append", metavar="ADDR4[/LEN]",
                   help="IPv4 pool addresses (stateful NAT64; none: stateless)")
    p.add_argument("--eam", action="append", metavar="ADDR4[/LEN]=ADDR6[/LEN]",
                   help="an explicit address mapping (RFC 7757)")
    p.add_argument("--static", action="append", metavar="PROTO,ADDR6,PORT,ADDR4,PORT",
                   help="a static BIB entry (a server behind the translator)")
    p.add_argument("--timeout", action="append", metavar="NAME=SECONDS",
                   help="udp, tcp_est, tcp_trans, tcp_incoming_syn, icmp (RFC 6146 §4)")
    p.add_argument("--eif", action="store_true",
                   help="endpoint-independent filtering (default: address-dependent)")
    p.add_argument("--pool6791v4", action="append", metavar="ADDR4",
                   help="RFC 6791 IPv4 sources for errors from untranslatable IPv6 routers")
    p.add_argument("--pool6791v6", action="append", metavar="ADDR6",
                   help="RFC 6791 IPv6 sources for errors from untranslatable IPv4 routers")
    p.add_argument("--mtu6", type=int, default=1500, help="IPv6 side MTU (1500)")
    p.add_argument("--mtu4", type=int, default=1500, help="IPv4 side MTU (1500)")
    add_static_args(p)
    p.add_argument("--ctl", metavar="PATH", help="control socket (default /run/kame/nat64-IF6.sock)")
    p.set_defaults(func=run)
