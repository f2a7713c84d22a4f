"""`kame tcp connect HOST PORT` / `kame tcp listen PORT`: a TCP connection
through a kame node on a Linux TAP device, standard input to the peer and
the peer to standard output (like nc).

The node is made as `kame node --tap` makes one (``--mac``, ``--mtu``,
``--hostname``, ``--sysctl``), with the addresses of each ``--addr``
(IPv6 or IPv4, ``ADDR/LEN``) and sockets of the ``--profile`` (default
``linux``: an ``AF_INET6`` listener takes IPv4 connections too, and
``connect`` to ``::ffff:a.b.c.d`` goes out as IPv4). It waits for the
kernel side of the TAP to be up and for its addresses to pass duplicate
address detection, then connects, or accepts one connection. When standard
input ends, our side is shut down (FIN); once the peer's side has ended too
(half-close, as TCP allows: either side may end first), the connection is
closed and the command ends.

``--wait`` bounds each wait (the link, the addresses, the connection;
0.1..3600 s, default 30). Exit status: 0 the connection ran and ended; 1
it could not be made (refused, timed out) or broke; 2 a usage error (one
line on standard error); 128 + N after signal N (SIGINT, SIGTERM, SIGHUP:
the connection is closed first).
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import time
from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface, ip_address
from typing import Any, cast

from kame.cli.args import UsageError, float_range, int_range
from kame.cli.node import (
    MTU_MAX,
    MTU_MIN,
    _clock_and_signals,
    _derived_mac,
    _ifname,
    _kernel_up,
    _open_tap,
    _sysctls,
    parse_mac,
)
from kame.errors import ConfigError

__all__ = ["MAX_ADDRS", "parse_addr", "parse_host", "run_tcp"]

#: ``--addr`` given at most this many times.
MAX_ADDRS = 16
#: Bytes read from standard input at once; at most twice that waits unsent.
CHUNK = 65536


def parse_addr(text: str) -> IPv4Interface | IPv6Interface:
    """``--addr``: a unicast IPv6 or IPv4 address with its prefix length."""
    t = text.strip()
    a, slash, plen = t.partition("/")
    if not slash or not plen.isascii() or not plen.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: give ADDR/LEN (2001:db8::2/64, "
                                         "192.0.2.2/24)")
    try:
        addr = ip_address(a)
        iface = IPv6Interface(t) if isinstance(addr, IPv6Address) else IPv4Interface(t)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r} is not an address/length ({e})") from None
    if addr.is_multicast or addr.is_unspecified or addr.is_loopback or (
            isinstance(addr, IPv6Address) and (addr.ipv4_mapped is not None or addr.is_link_local)
    ) or (isinstance(addr, IPv4Address) and (addr.is_link_local or int(addr) >> 28 >= 14
                                             or addr == iface.network.broadcast_address
                                             and iface.network.prefixlen < 31)):
        raise argparse.ArgumentTypeError(
            f"{t}: not an address to configure (multicast, unspecified, loopback, link-local, "
            "mapped, reserved or broadcast)")
    return iface


def parse_host(text: str) -> str:
    """HOST: a numeric IPv6 address (``%zone`` for link-local) or IPv4
    address (the node has no resolver of its own)."""
    t = text.strip()
    a, pct, zone = t.partition("%")
    try:
        addr = ip_address(a)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a numeric IPv6 or IPv4 address") from None
    if pct and (not isinstance(addr, IPv6Address) or not addr.is_link_local
                or not zone or not zone.isprintable()):
        raise argparse.ArgumentTypeError(f"{text!r}: only a link-local address takes a %zone")
    if addr.is_multicast or addr.is_unspecified:
        raise argparse.ArgumentTypeError(f"{text!r}: TCP needs a unicast destination")
    return t


def _check(args: argparse.Namespace) -> None:
    if not args.addr:
        raise UsageError("give --addr ADDR/LEN (our address on the link)")
    if len(args.addr) > MAX_ADDRS:
        raise UsageError(f"--addr given {len(args.addr)} times: at most {MAX_ADDRS}")
    if len({a.ip for a in args.addr}) != len(args.addr):
        raise UsageError("--addr: an address is given twice")
    if args.hostname is not None and not args.hostname.strip():
        raise UsageError("--hostname: empty name")
    args.knobs = _sysctls(args.sysctl or [])
    if args.mode == "connect":
        host = args.host.partition("%")[0]
        v4 = isinstance(ip_address(host), IPv4Address) or \
            ip_address(host).ipv4_mapped is not None  # type: ignore[union-attr]
        if v4 and not any(isinstance(a, IPv4Interface) for a in args.addr):
            raise UsageError(f"{args.host} is IPv4: give an IPv4 --addr too")
        if not v4 and not any(isinstance(a, IPv6Interface) for a in args.addr) \
                and not ip_address(host).is_link_local:
            raise UsageError(f"{args.host} is IPv6: give an IPv6 --addr too")
        if args.host.partition("%")[2] and args.host.partition("%")[2] != args.tap:
            raise UsageError(f"{args.host}: the zone is the TAP interface, {args.tap}")
    elif args.bind is not None:
        b = ip_address(args.bind.partition("%")[0])
        if b not in {a.ip for a in args.addr}:
            raise UsageError(f"--bind {args.bind} is none of the --addr addresses")


def _run(args: argparse.Namespace) -> int:
    _check(args)
    return run_tcp(args)


class _Session:
    """The data pump between standard input/output and the connection."""

    def __init__(self, sock: Any, stdin: int, stdout: Any) -> None:
        self.s, self.stdin, self.stdout = sock, stdin, stdout
        self.out = bytearray()
        self.in_eof = self.peer_eof = self.shut = False
        self.error: OSError | None = None

    def on_stdin(self) -> None:
        try:
            d = os.read(self.stdin, CHUNK)
        except BlockingIOError:
            return
        except OSError:
            d = b""
        if not d:
            self.in_eof = True
        self.out += d

    def pump(self) -> None:
        s = self.s
        try:
            while self.out:
                n = s.send(bytes(self.out[:262144]))
                del self.out[:n]
        except BlockingIOError:
            pass
        except OSError as e:
            self.error = e
            return
        if self.in_eof and not self.out and not self.shut:
            self.shut = True
            try:
                s.shutdown(1)  # SHUT_WR: our FIN
            except OSError as e:
                self.error = e
                return
        while not self.peer_eof:
            try:
                d = s.recv(262144)
            except BlockingIOError:
                break
            except OSError as e:
                self.error = e
                return
            if not d:
                self.peer_eof = True
                break
            self.stdout.write(d)
        self.stdout.flush()

    @property
    def done(self) -> bool:
        return self.error is not None or (self.peer_eof and self.in_eof and not self.out)

    def want_stdin(self) -> bool:
        return not self.in_eof and len(self.out) < 2 * CHUNK


def _log(msg: str) -> None:
    sys.stderr.write(f"kame tcp: {msg}\n")
    sys.stderr.flush()


def run_tcp(args: argparse.Namespace) -> int:
    """Make the node, open the TAP and run the connection (``args`` as
    :func:`_run` checked them)."""
    from kame.knobs import Knobs
    from kame.link.runner import Runner
    from kame.node import Node
    from kame.socket import AF_INET, AF_INET6, SocketLayer
    from kame.socket.stream import SOCK_STREAM, StreamSocket

    hostname = args.hostname or "kame"
    node = Node(hostname, knobs=Knobs(args.knobs), seed=int.from_bytes(os.urandom(4), "big"))
    ifname = args.tap
    mac = args.mac or _derived_mac(ifname, hostname)
    node.add_interface(ifname, mac, mtu=args.mtu)
    layer = SocketLayer(node, args.profile)
    _, stop = _clock_and_signals()
    tap = _open_tap(ifname)
    with tap:
        runner = Runner()
        runner.attach_device(node, tap.name, tap)

        def wait(cond: Callable[[], bool], what: str) -> None:
            end = time.monotonic() + args.wait
            while not cond():
                if stop["sig"]:
                    raise ConfigError(f"signal {stop['sig']} while waiting for {what}")
                if time.monotonic() > end:
                    raise ConfigError(f"timed out after {args.wait:g} s waiting for {what}")
                runner.run(timeout=0.05)

        wait(lambda: _kernel_up(tap.name), f"{tap.name} to be up")
        runner.transmit(node, node.up(tap.name, runner.clock()))
        ifas: list[Any] = []
        for a in args.addr:
            if isinstance(a, IPv6Interface):
                ifas.append(node.add_address(tap.name, str(a), runner.clock()))
            else:
                ifas.append(node.add_address4(tap.name, str(a), runner.clock()))
        runner.service()
        wait(lambda: all(f.usable or getattr(f, "duplicated", False) for f in ifas)
             and any(a.usable for a in node.addresses(tap.name)
                     if a.addr.is_link_local), "duplicate address detection")
        dups = [str(f.addr) for f in ifas if not f.usable]
        if dups:
            raise ConfigError(f"duplicate address: {', '.join(dups)} is in use on the link")
        if args.mode == "connect":
            host = args.host
            fam = AF_INET if ":" not in host else AF_INET6
            s = cast(StreamSocket, layer.socket(fam, SOCK_STREAM))
            try:
                s.connect((host, args.port))
            except BlockingIOError:
                pass
            except OSError as e:
                raise OSError(e.errno, f"connect to {host} port {args.port}: "
                                       f"{e.strerror or e}") from None
            runner.service()

            def connected() -> bool:
                return s.connected or bool(s.so_error) or s.tp is None or s.tp.gone

            wait(connected, f"the connection to {host} port {args.port}")
            if not s.connected:
                err = s.getsockopt(1, 4) or errno.ECONNREFUSED  # SOL_SOCKET, SO_ERROR
                raise OSError(err, f"connect to {host} port {args.port}: {os.strerror(err)}")
            conn = s
        else:
            bind = args.bind or "::"
            fam = AF_INET if "." in bind and ":" not in bind else AF_INET6
            ls = cast(StreamSocket, layer.socket(fam, SOCK_STREAM))
            ls.setsockopt(1, 2, 1)  # SOL_SOCKET, SO_REUSEADDR
            ls.bind((bind, args.port))
            ls.listen(1)
            _log(f"listening on {bind} port {args.port}")
            got: list[Any] = []

            def accepted() -> bool:
                if stop["sig"]:
                    return True
                try:
                    got.append(ls.accept())
                except BlockingIOError:
                    return False
                return True

            runner.run(accepted)
            if not got:
                _log(f"signal {stop['sig']}: stopping")
                return 128 + stop["sig"]
            conn, peer = got[0]
            ls.close()
            _log(f"connection from {peer[0]} port {peer[1]}")
        stdin = sys.stdin.fileno()
        was_blocking = os.get_blocking(stdin)
        os.set_blocking(stdin, False)
        sess = _Session(conn, stdin, sys.stdout.buffer)

        def on_ready(_r: list[Any]) -> None:
            sess.on_stdin()

        runner.after_service.append(sess.pump)
        try:
            while not sess.done and not stop["sig"]:
                extra = [stdin] if sess.want_stdin() else []
                runner.run(timeout=runner.timeout(0.2) if extra else 0.05, extra=extra,
                           on_ready=on_ready)
        finally:
            runner.after_service.remove(sess.pump)
            os.set_blocking(stdin, was_blocking)
        conn.close()
        end = time.monotonic() + min(args.wait, 5.0)
        tp = conn.tp
        while tp is not None and not tp.gone and tp.state < 10 and time.monotonic() < end:
            runner.run(timeout=0.05)  # our FIN out and acknowledged (or the reset)
        if sess.error is not None:
            raise OSError(sess.error.errno, f"connection: {sess.error.strerror or sess.error}")
        if stop["sig"]:
            _log(f"signal {stop['sig']}: connection closed")
            return 128 + stop["sig"]
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("tcp", help="a TCP connection through a node on a TAP device (nc-like)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = p.add_subparsers(dest="mode", metavar="connect|listen")
    modes.required = True
    pc = modes.add_parser("connect", help="connect to HOST PORT",
                          description="connect to HOST PORT; stdin to the peer, the peer to "
                                      "stdout")
    pc.add_argument("host", metavar="HOST", type=parse_host,
                    help="numeric IPv6 (fe80::1%%IFNAME for link-local) or IPv4 address")
    pc.add_argument("port", metavar="PORT", type=int_range(1, 65535, "port"),
                    help="the peer's TCP port, 1..65535")
    pl = modes.add_parser("listen", help="accept one connection on PORT",
                          description="accept one connection on PORT; stdin to the peer, the "
                                      "peer to stdout")
    pl.add_argument("port", metavar="PORT", type=int_range(1, 65535, "port"),
                    help="our TCP port, 1..65535")
    pl.add_argument("--bind", metavar="ADDR", type=parse_host,
                    help="listen on this one of our addresses (default: all, IPv6 and IPv4 "
                         "under the linux profile)")
    from kame.socket.profiles import PROFILES

    for q in (pc, pl):
        q.add_argument("--tap", metavar="IFNAME", type=_ifname, required=True,
                       help="TAP device to open (created if missing; needs CAP_NET_ADMIN)")
        q.add_argument("--addr", metavar="ADDR/LEN", type=parse_addr, action="append",
                       help=f"our IPv6 or IPv4 address on the link (repeatable, up to "
                            f"{MAX_ADDRS})")
        q.add_argument("--mac", type=parse_mac,
                       help="our unicast MAC address (default: derived from host and ifname)")
        q.add_argument("--mtu", type=int_range(MTU_MIN, MTU_MAX, "MTU"), default=1500,
                       help=f"link MTU, {MTU_MIN}..{MTU_MAX}; default 1500")
        q.add_argument("--hostname", help="node name (default kame)")
        q.add_argument("--sysctl", action="append", metavar="NAME=VALUE",
                       help="set a knob, e.g. net.inet6.ip6.dad_count=0 (repeatable)")
        q.add_argument("--profile", choices=sorted(PROFILES), default="linux", metavar="NAME",
                       help=f"the sockets' platform profile (seed §1.12): "
                            f"{', '.join(sorted(PROFILES))}; default linux")
        q.add_argument("--wait", metavar="SECONDS", type=float_range(0.1, 3600.0, "wait"),
                       default=30.0,
                       help="bound on each wait (link up, DAD, connect): 0.1..3600 s, "
                            "default 30")
        q.set_defaults(func=_run)
