"""`kame node --tap IFNAME`: run a kame node on a Linux TAP device
(`kame node --sim`: three nodes on a simulated link, no root needed).

The node (sans-I/O) is fed by the only I/O loop of kame: ``select`` on the
TAP descriptor and the control socket until ``node.next_deadline()``, the
real clock (``time.monotonic``) passed in. The node waits for the kernel
side of the TAP to be up (``/sys/class/net/IF/flags``), then brings its
interface up (link-local address, DAD, RS). ``--router`` sets
``net.inet6.ip6.forwarding=1`` and advertises each ``--prefix`` (rtadvd);
otherwise the node is a host with ``net.inet6.ip6.accept_rtadv=1``.

The control socket (``--ctl``, default ``/run/kame/IFNAME.sock``) serves
``kame ndp``, ``kame ping6``, ``kame netstat`` and ``kame ifconfig``.
Events are logged to stderr; SIGTERM or SIGINT stops the node cleanly
(a router sends its final RAs with lifetime 0 first).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import select
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from ipaddress import IPv6Network
from typing import Any

from kame.cli.demo import event_line
from kame.ctl import ControlServer, NodeHost, default_ctl_path
from kame.errors import ConfigError
from kame.knobs import Knobs
from kame.link.memory import MemoryLink, Simulation
from kame.link.pcap import PcapngWriter
from kame.link.tap import TapDevice
from kame.nd6.rtr import RaConfig
from kame.nd6.types import PrefixInfo
from kame.node import Node

__all__ = ["run_node", "run_sim"]

IFF_UP = 0x1
RX_BATCH = 256



def _clock_and_signals() -> tuple[Callable[[], float], dict[str, int]]:
    """The daemon's clock (seconds since start, monotonic: the node never
    reads one itself) and a flag set by SIGTERM/SIGINT."""
    t0 = time.monotonic()
    stop = {"sig": 0}

    def on_signal(signum: int, _frame: Any) -> None:
        stop["sig"] = signum

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return (lambda: time.monotonic() - t0), stop

def _mac(text: str | None, ifname: str, hostname: str) -> bytes:
    if text:
        b = bytes.fromhex(text.replace(":", "").replace("-", ""))
        if len(b) != 6 or b[0] & 1:
            raise ConfigError(f"{text}: not a unicast MAC address")
        return b
    h = hashlib.md5(f"{hostname}/{ifname}".encode()).digest()
    return bytes([0x02]) + h[:5]


def _kernel_up(ifname: str) -> bool:
    try:
        with open(f"/sys/class/net/{ifname}/flags") as f:
            return bool(int(f.read().strip(), 16) & IFF_UP)
    except (OSError, ValueError):
        return True  # cannot tell: assume up


def _log(msg: str) -> None:
    sys.stderr.write(f"kame node: {msg}\n")
    sys.stderr.flush()


def run_node(args: argparse.Namespace) -> int:
    knobs: dict[str, int] = {}
    if args.router:
        knobs["net.inet6.ip6.forwarding"] = 1
    else:
        knobs["net.inet6.ip6.accept_rtadv"] = 1
    for kv in args.sysctl or []:
        k, sep, v = kv.partition("=")
        if not sep:
            raise ConfigError(f"--sysctl {kv!r}: expected NAME=VALUE")
        knobs[k] = int(v)
    prefixes = [IPv6Network(p) for p in args.prefix or []]
    if prefixes and not args.router:
        raise ConfigError("--prefix needs --router")
    hostname = args.hostname or socket.gethostname()
    node = Node(hostname, knobs=Knobs(knobs), seed=int.from_bytes(os.urandom(4), "big"))
    ifname = args.tap
    mac = _mac(args.mac, ifname, hostname)
    node.add_interface(ifname, mac, mtu=args.mtu)
    host = NodeHost(node)
    clock, stop = _clock_and_signals()

    pcap_file = open(args.write, "wb") if args.write else None  # noqa: SIM115
    pcap = PcapngWriter(pcap_file, if_name=ifname) if pcap_file else None

    with TapDevice(ifname) as tap:
        def transmit(frames: list[tuple[str, bytes]]) -> None:
            for _ifn, f in frames:
                if pcap is not None:
                    pcap.write(clock(), f)
                try:
                    tap.write(f)
                except OSError:
                    node.stats.inc("ip6s_odropped")  # the kernel side is down

        ctl_path = args.ctl or default_ctl_path(tap.name)
        server = ControlServer(host, ctl_path, clock=clock, transmit=transmit)
        _log(f"{tap.name} ether {':'.join(f'{b:02x}' for b in mac)}, "
             f"{'router' if args.router else 'host'}, control socket {ctl_path}")
        is_up = False
        advertising = False
        try:
            while not stop["sig"]:
                now = clock()
                if not is_up and _kernel_up(tap.name):
                    is_up = True
                    _log(f"{tap.name} is up: link-local address, DAD, "
                         f"{'joining all-routers' if args.router else 'router solicitation'}")
                    transmit(host.up(tap.name, now))
                if is_up and args.router and not advertising and prefixes:
                    lls = [a for a in node.addresses(tap.name) if a.usable]
                    if lls:
                        node.rtr.advertise(tap.name, RaConfig(
                            max_interval=args.ra_interval,
                            prefixes=tuple(PrefixInfo(p.network_address, p.prefixlen)
                                           for p in prefixes)), now)
                        advertising = True
                        _log("advertising " + ", ".join(str(p) for p in prefixes))
                d = host.next_deadline() if is_up else None
                timeout = 0.2 if not is_up else 1.0
                if d is not None:
                    timeout = min(timeout, max(0.0, d - clock()))
                try:
                    rlist: list[Any] = [tap, *server.sockets()]
                    r, w, _ = select.select(rlist, server.want_write(), [], timeout)
                except InterruptedError:
                    continue
                if tap in r:
                    # at most RX_BATCH frames before the control socket and the
                    # timers get their turn: a flood cannot starve them
                    for _ in range(RX_BATCH):
                        frame = tap.read()
                        if frame is None:
                            break
                        if pcap is not None:
                            pcap.write(clock(), frame)
                        if is_up:
                            transmit(host.receive(tap.name, frame, clock()))
                server.handle([s for s in r if s is not tap], w)
                if is_up:
                    transmit(host.poll(clock()))
                events = host.take_events()
                for ev in events:
                    text = event_line(ev)
                    if text:
                        _log(text)
                server.dispatch_events(events)
            _log(f"signal {stop['sig']}: stopping")
            if advertising:  # rtadvd's exit: a final RA with router lifetime 0 (§6.2.5)
                sent = host.icmp6_out[134]
                node.rtr.stop_advertising(tap.name, clock())
                end = clock() + 4.0
                while host.icmp6_out[134] == sent and clock() < end:
                    transmit(host.poll(clock()))
                    d = host.next_deadline()
                    time.sleep(0.05 if d is None else min(0.05, max(0.0, d - clock())))
        finally:
            server.close()
            if pcap_file is not None:
                pcap_file.close()
    return 0


def _sim_dir(path: str | None) -> str:
    if path:
        return path
    if os.access("/run", os.W_OK):
        return "/run/kame"
    return os.path.join(tempfile.gettempdir(), f"kame-sim-{os.getuid()}")


def run_sim(args: argparse.Namespace) -> int:
    """``kame node --sim``: the demo's router and two hosts on a memory link,
    in real time, one control socket each (DIR/r.sock, h1.sock, h2.sock): the
    tools can be tried without root or a TAP device."""
    d = _sim_dir(args.ctl_dir)
    prefixes = [IPv6Network(p) for p in args.prefix or ["2001:db8:1::/64"]]
    sim = Simulation()
    link = MemoryLink(delay=0.0005, seed=1)
    specs = [("r", "020000000001", {"net.inet6.ip6.forwarding": 1}),
             ("h1", "02000000000a", {"net.inet6.ip6.accept_rtadv": 1}),
             ("h2", "02000000000b", {"net.inet6.ip6.accept_rtadv": 1})]
    clock, stop = _clock_and_signals()
    pcap_file = open(args.write, "wb") if args.write else None  # noqa: SIM115
    if pcap_file is not None:
        link.add_tap(PcapngWriter(pcap_file, if_name="sim0"))
    hosts: dict[str, NodeHost] = {}
    servers: dict[str, ControlServer] = {}
    try:
        for i, (name, mac, knobs) in enumerate(specs):
            node = Node(name, knobs=Knobs(knobs), seed=i + 1)
            node.add_interface("eth0", bytes.fromhex(mac))
            host = hosts[name] = NodeHost(node)
            sim.connect(host, "eth0", link, bytes.fromhex(mac))
            servers[name] = ControlServer(
                host, os.path.join(d, f"{name}.sock"), clock=lambda: sim.now,
                transmit=lambda fr, h=host: sim.emit(h, fr))
            sim.emit(host, host.up("eth0", 0.0))
        _log(f"simulated link: router r, hosts h1 and h2 on eth0; control sockets "
             f"{', '.join(sv.path for sv in servers.values())}")
        _log(f"try: kame ping6 --ctl {servers['h1'].path} 2001:db8:1::ff:fe00:b")
        router = hosts["r"].node
        advertising = False
        while not stop["sig"]:
            if not advertising and any(a.usable for a in router.addresses("eth0")):
                router.rtr.advertise("eth0", RaConfig(max_interval=30, prefixes=tuple(
                    PrefixInfo(p.network_address, p.prefixlen) for p in prefixes)), sim.now)
                advertising = True
            rlist: list[Any] = [s for sv in servers.values() for s in sv.sockets()]
            wlist = [s for sv in servers.values() for s in sv.want_write()]
            try:
                r, w, _ = select.select(rlist, wlist, [], 0.01)
            except InterruptedError:
                continue
            for sv in servers.values():
                sv.handle(r, w)
            sim.run(until=max(sim.now, clock()))
            for name, host in hosts.items():
                events = host.take_events()
                for ev in events:
                    text = event_line(ev)
                    if text:
                        _log(f"{name}: {text}")
                servers[name].dispatch_events(events)
        _log(f"signal {stop['sig']}: stopping")
    finally:
        for sv in servers.values():
            sv.close()
        if pcap_file is not None:
            pcap_file.close()
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.sim:
        return run_sim(args)
    if not args.tap:
        raise ConfigError("give --tap IFNAME (or --sim)")
    return run_node(args)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("node", help="run a node on a Linux TAP device, with a control socket",
                       description=__doc__)
    p.add_argument("--tap", metavar="IFNAME",
                   help="TAP device to open (created if missing; needs CAP_NET_ADMIN)")
    p.add_argument("--sim", action="store_true",
                   help="instead: the demo's router and two hosts on a simulated link in real "
                        "time, with control sockets DIR/r.sock, h1.sock, h2.sock (no root)")
    p.add_argument("--ctl-dir", metavar="DIR",
                   help="with --sim: where the sockets go (default /run/kame, else a temp dir)")
    p.add_argument("--router", action="store_true",
                   help="act as a router: net.inet6.ip6.forwarding=1, send RAs")
    p.add_argument("--prefix", action="append", metavar="P/64",
                   help="prefix to advertise (with --router; repeatable)")
    p.add_argument("--ctl", metavar="PATH", help="control socket (default /run/kame/IFNAME.sock)")
    p.add_argument("--mac", help="our MAC address (default: derived from host and ifname)")
    p.add_argument("--mtu", type=int, default=1500)
    p.add_argument("--hostname", help="node name (default: this host's name)")
    p.add_argument("--sysctl", action="append", metavar="NAME=VALUE",
                   help="set a knob, e.g. net.inet6.icmp6.nd6_debug=1 (repeatable)")
    p.add_argument("--ra-interval", type=float, default=30.0,
                   help="MaxRtrAdvInterval with --router (4..1800, default 30)")
    p.add_argument("-w", "--write", metavar="FILE", help="capture both directions to a pcapng")
    p.set_defaults(func=_run)
