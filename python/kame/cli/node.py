"""`kame node --tap IFNAME`: run a kame node on a Linux TAP device
(`kame node --sim`: three nodes on a simulated link, no root needed).

The node (sans-I/O) is fed by the only I/O loop of kame: ``select`` on the
TAP descriptor and the control socket until ``node.next_deadline()``, the
real clock (``time.monotonic``) passed in. The node waits for the kernel
side of the TAP to be up (``/sys/class/net/IF/flags``), then brings its
interface up (link-local address, DAD, RS). ``--router`` sets
``net.inet6.ip6.forwarding=1`` and advertises each ``--prefix`` (rtadvd);
otherwise the node is a host with ``net.inet6.ip6.accept_rtadv=1``.

The control socket (``--ctl``, default ``/run/kame/IFNAME.sock``, the
folder ``$KAME_CTL_DIR`` when set) serves ``kame ndp``, ``kame ping6``,
``kame netstat`` and ``kame ifconfig``. It is owner-only (0600) from the
moment it exists; its folder must exist (only /run/kame itself is made);
only a stale socket left by a node that was killed is replaced, never a
file, a folder, a symbolic link or a socket another process listens on.
Events are logged to stderr; SIGTERM, SIGINT or SIGHUP stops the node
cleanly (a router sends its final RAs with lifetime 0 first) and removes
the socket.

Options are checked before anything starts: ``--mtu`` 1280..65535,
``--ra-interval`` 4..1800 s and ``--ra-min-interval`` 3 s..0.75 × that
(RFC 4861 §6.2.1), ``--prefix`` a global or unique-local /64, ``--mac`` a
unicast, non-zero MAC; a usage error is one line and exit status 2.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import os
import re
import select
import signal
import socket
import stat
import sys
import tempfile
import time
from collections.abc import Callable
from ipaddress import IPv4Interface, IPv6Address, IPv6Interface, IPv6Network
from typing import Any

from kame import ctl
from kame.cli.args import UsageError, float_range, int_range
from kame.cli.demo import event_line
from kame.cli.inetd import MAX_SERVE, Apps, ServeSpec, parse_serve
from kame.ctl import ControlServer, NodeHost, default_ctl_path
from kame.errors import ConfigError
from kame.knobs import Knobs
from kame.link.memory import MemoryLink, Simulation
from kame.link.pcap import PcapngWriter
from kame.link.tap import TapDevice
from kame.nd6.rtr import RaConfig
from kame.nd6.types import PrefixInfo
from kame.node import Node
from kame.socket.profiles import PROFILES

__all__ = ["MAX_PREFIXES", "MTU_MAX", "MTU_MIN", "parse_mac", "parse_prefix", "run_node",
           "run_sim"]

IFF_UP = 0x1
IFF_TUN = 0x0001
IFF_TAP = 0x0002
RX_BATCH = 256

#: RFC 8200 §5: every link that carries IPv6 has an MTU of at least 1280.
MTU_MIN = 1280
#: The largest MTU Linux gives a TAP device (``ETH_MAX_MTU``, 0xFFFF); a
#: larger IPv6 packet would need a jumbogram, which Ethernet cannot carry.
MTU_MAX = 65535
#: RFC 4861 §6.2.1 MaxRtrAdvInterval.
RA_MAX_INTERVAL = (4.0, 1800.0)
#: RFC 4861 §6.2.1: MinRtrAdvInterval is 3 s at least.
RA_MIN_INTERVAL_FLOOR = 3.0
#: Prefix Information options in one RA: receivers take the first 10 ND
#: options (``net.inet6.icmp6.nd6_maxndopt``), and the RA also carries our
#: link-layer address and may carry an MTU option.
MAX_PREFIXES = 8
#: Linux ``dev_valid_name``: 1..15 bytes, not "." or "..", no "/", ":" or
#: white space.
_IFNAME = re.compile(r"[^/:\s]{1,15}")



def _clock_and_signals() -> tuple[Callable[[], float], dict[str, int]]:
    """The daemon's clock (seconds since start, monotonic: the node never
    reads one itself) and a flag set by SIGTERM/SIGINT."""
    t0 = time.monotonic()
    stop = {"sig": 0}

    def on_signal(signum: int, _frame: Any) -> None:
        stop["sig"] = signum

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)  # the terminal went away: stop, clean up
    return (lambda: time.monotonic() - t0), stop


# --- option values ----------------------------------------------------------------------

def parse_mac(text: str) -> bytes:
    """``--mac``: six octets of two hex digits, separated by ``:`` or ``-``;
    a unicast address that is not all zeros (an interface identifier is
    derived from it, RFC 2464 §4)."""
    parts = re.split(r"[:-]", text.strip())
    if len(parts) != 6 or not all(re.fullmatch(r"[0-9A-Fa-f]{2}", p) for p in parts):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a MAC address (six octets as 02:00:00:00:00:01)")
    mac = bytes(int(p, 16) for p in parts)
    if mac[0] & 1:
        raise argparse.ArgumentTypeError(
            f"{text} is a multicast address (the I/G bit of the first octet is set): "
            "an interface needs a unicast MAC")
    if not any(mac):
        raise argparse.ArgumentTypeError(f"{text} is the all-zeros MAC: give a real address")
    return mac


def parse_prefix(text: str) -> IPv6Network:
    """``--prefix``: a global or unique-local /64 (RFC 4862 §5.5.3 and
    RFC 2464 §4: SLAAC on Ethernet forms 64-bit interface identifiers, so
    only a /64 lets hosts configure addresses)."""
    t = text.strip()
    addr_text, slash, _ = t.partition("/")
    if not slash:
        raise argparse.ArgumentTypeError(f"{text!r}: give the prefix length (/64)")
    if "%" in addr_text:
        raise argparse.ArgumentTypeError(f"{text!r}: a prefix takes no zone")
    try:
        addr = IPv6Address(addr_text)
        net = IPv6Network(t, strict=False)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IPv6 prefix ({e})") from None
    if net.prefixlen != 64:
        raise argparse.ArgumentTypeError(
            f"{t}: /{net.prefixlen} is not /64; stateless autoconfiguration on Ethernet needs "
            "a /64 (RFC 4862 §5.5.3, RFC 2464 §4)")
    if addr != net.network_address:
        raise argparse.ArgumentTypeError(f"{t}: host bits are set; the prefix is {net}")
    a = net.network_address
    if a.is_multicast or a.is_link_local or a.is_site_local or a.is_loopback \
            or net.overlaps(IPv6Network("::/64")):
        raise argparse.ArgumentTypeError(
            f"{t}: not a prefix to advertise (multicast, link-local, site-local or reserved); "
            "use a global or unique-local /64 such as 2001:db8:1::/64")
    return net


def _ifname(text: str) -> str:
    if text in (".", "..") or not _IFNAME.fullmatch(text) or len(text.encode()) > 15:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an interface name (1..15 bytes, no '/', ':' or spaces)")
    return text


def _derived_mac(ifname: str, hostname: str) -> bytes:
    h = hashlib.md5(f"{hostname}/{ifname}".encode()).digest()
    return bytes([0x02]) + h[:5]


def _sysctls(items: list[str]) -> dict[str, int]:
    from kame.knobs import KNOBS

    out: dict[str, int] = {}
    for kv in items:
        k, sep, v = kv.partition("=")
        k = k.strip()
        if not sep:
            raise UsageError(f"--sysctl {kv!r}: expected NAME=VALUE")
        spec = KNOBS.get(k)
        if spec is None:
            raise UsageError(f"--sysctl {k}: no such knob (see kame.knobs.KNOBS)")
        if not re.fullmatch(r"[+-]?[0-9]+", v.strip()):
            raise UsageError(f"--sysctl {k}: {v!r} is not a whole number")
        try:
            out[k] = spec.check(int(v.strip()))
        except ConfigError as e:
            raise UsageError(f"--sysctl {e}") from None
    return out


def _ra_min_interval(args: argparse.Namespace) -> float | None:
    """RFC 4861 §6.2.1: MinRtrAdvInterval is 3 s .. 0.75 × MaxRtrAdvInterval
    (default 0.33 × Max when Max >= 9 s, else Max)."""
    mn = args.ra_min_interval
    if mn is None:
        return None
    mx = args.ra_interval
    hi = 0.75 * mx
    if not RA_MIN_INTERVAL_FLOOR <= mn <= hi:  # Max >= 4 s leaves room: 3 <= 0.75 × 4
        raise UsageError(f"--ra-min-interval {mn:g} is out of range: 3..{hi:g} s "
                          f"(0.75 × --ra-interval {mx:g}, RFC 4861 §6.2.1)")
    return mn


def _check_tap(ifname: str) -> None:
    """Refuse an existing interface that is not a TAP device before asking
    the kernel (which would only say EINVAL)."""
    sysdir = f"/sys/class/net/{ifname}"
    if "%" in ifname or not os.path.isdir(sysdir):
        return
    try:
        with open(f"{sysdir}/tun_flags") as f:
            flags = int(f.read().strip(), 16)
    except FileNotFoundError:
        raise ConfigError(f"--tap {ifname}: {ifname} exists and is not a TUN/TAP device; "
                          "give the name of a TAP device or a new name") from None
    except (OSError, ValueError):
        return
    if flags & 0x000F == IFF_TUN:
        raise ConfigError(f"--tap {ifname}: {ifname} is a TUN device (IP packets), not a TAP "
                          "device (Ethernet frames)")


def _open_tap(ifname: str, offload: bool = False) -> TapDevice:
    _check_tap(ifname)
    try:
        return TapDevice(ifname, offload=offload)
    except FileNotFoundError:
        raise ConfigError("--tap: no /dev/net/tun (is the tun module loaded?)") from None
    except OSError as e:
        if e.errno == errno.EPERM:
            why = "creating or opening a TAP device needs CAP_NET_ADMIN (run as root)"
        elif e.errno == errno.EBUSY:
            why = "the device is busy: another process has it open"
        elif e.errno == errno.EINVAL:
            why = "not a TAP device that can be opened (an existing interface of another kind?)"
        else:
            why = e.strerror or str(e)
        raise ConfigError(f"--tap {ifname}: {why}") from None


def _kernel_up(ifname: str) -> bool:
    try:
        with open(f"/sys/class/net/{ifname}/flags") as f:
            return bool(int(f.read().strip(), 16) & IFF_UP)
    except (OSError, ValueError):
        return True  # cannot tell: assume up


def _log(msg: str) -> None:
    sys.stderr.write(f"kame node: {msg}\n")
    sys.stderr.flush()


#: ``--inet`` / ``--inet6`` may each be given this many times.
MAX_ADDRS = 8


def parse_inet(text: str) -> IPv4Interface:
    """``--inet``: a unicast IPv4 address with its prefix length (ifconfig
    IF inet ADDR/LEN)."""
    t = text.strip()
    if "/" not in t:
        raise argparse.ArgumentTypeError(f"{text!r}: give the prefix length (10.0.0.2/24)")
    try:
        ifi = IPv4Interface(t)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IPv4 address/length ({e})") from None
    a = ifi.ip
    if a.is_multicast or a.is_unspecified or a.is_loopback or a.is_reserved or \
            int(a) == 0xFFFFFFFF or (ifi.network.prefixlen < 31 and
                                     a in (ifi.network.network_address,
                                           ifi.network.broadcast_address)):
        raise argparse.ArgumentTypeError(
            f"{t}: not a host address (multicast, loopback, reserved, or the subnet's network "
            "or broadcast address)")
    return ifi


def parse_inet6(text: str) -> IPv6Interface:
    """``--inet6``: a unicast IPv6 address with its prefix length (ifconfig
    IF inet6 ADDR/LEN); link-local addresses are made by the node itself."""
    t = text.strip()
    if "/" not in t:
        raise argparse.ArgumentTypeError(f"{text!r}: give the prefix length (2001:db8::2/64)")
    if "%" in t:
        raise argparse.ArgumentTypeError(f"{text!r}: an address here takes no zone")
    try:
        ifi = IPv6Interface(t)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IPv6 address/length ({e})") from None
    a = ifi.ip
    if a.is_multicast or a.is_unspecified or a.is_loopback or a.is_link_local or \
            a.ipv4_mapped is not None:
        raise argparse.ArgumentTypeError(
            f"{t}: not an address to configure (multicast, unspecified, loopback, link-local "
            "or IPv4-mapped)")
    return ifi


def host_sockets(node: Node, args: argparse.Namespace, server: ControlServer,
                 log: Callable[[str], None]) -> Apps:
    """The node's socket layer (``--profile``), the services of ``--serve``
    and the ``iperf3`` operation of its control socket."""
    from kame.cli.iperf3 import ctl_op
    from kame.socket import SocketLayer

    layer = SocketLayer(node, args.profile)
    apps = Apps(layer, log)
    server.ops["iperf3"] = ctl_op(apps, server)
    for spec in args.serve or []:
        try:
            apps.serve(spec)
        except OSError as e:  # a profile without IPv4-mapped sockets or IPV6_V6ONLY...
            apps.close()
            why = e.strerror or os.strerror(e.errno or 0)
            raise ConfigError(f"--serve {spec}: {why} (--profile {args.profile})") from None
        log(f"serving {spec}")
    return apps


def _configure(node: Node, ifname: str, args: argparse.Namespace, now: float) -> None:
    for a6 in args.inet6 or []:
        node.add_address(ifname, str(a6), now)
    for a4 in args.inet or []:
        node.add_address4(ifname, str(a4), now)


def run_node(args: argparse.Namespace) -> int:
    """The TAP daemon; ``args`` as :func:`_run` checked them."""
    knobs: dict[str, int] = {}
    if args.router:
        knobs["net.inet6.ip6.forwarding"] = 1
    else:
        knobs["net.inet6.ip6.accept_rtadv"] = 1
    knobs.update(args.knobs)
    prefixes: list[IPv6Network] = args.prefix or []
    hostname = args.hostname or socket.gethostname()
    node = Node(hostname, knobs=Knobs(knobs), seed=int.from_bytes(os.urandom(4), "big"))
    ifname = args.tap
    mac = args.mac or _derived_mac(ifname, hostname)
    node.add_interface(ifname, mac, mtu=args.mtu)
    if args.altq_text is not None:  # --altq: as altqd -f FILE at start-up (seed §5)
        node.altq_config(args.altq_text)
    host = NodeHost(node)
    clock, stop = _clock_and_signals()
    tap: TapDevice | None = None
    pcap: PcapngWriter | None = None

    def transmit(frames: list[tuple[str, bytes]]) -> None:
        if tap is None:
            return
        for _ifn, f in frames:
            if pcap is not None:
                pcap.write(clock(), f)
            try:
                tap.write(f)
            except OSError:
                node.stats.inc("ip6s_odropped")  # the kernel side is down

    # The control socket first when its path is known (a TAP name that is not
    # a pattern such as ktap%d): a path we must refuse stops us before any
    # TAP device is made.
    server: ControlServer | None = None
    if not args.ctl:
        _runtime_dir()
    if args.ctl or "%" not in ifname:
        server = ControlServer(host, args.ctl or default_ctl_path(ifname), clock=clock,
                               transmit=transmit)
    pcap_file = None
    try:
        pcap_file = open(args.write, "wb") if args.write else None  # noqa: SIM115
        pcap = PcapngWriter(pcap_file, if_name=ifname) if pcap_file else None
        tap = _open_tap(ifname, args.offload)
        # IFF_VNET_HDR: super-segments in, and TCP sends super-segments the
        # kernel segments (the interface's tsomax)
        ifp = node.ifnets.get(tap.name) or node.ifnets.get(ifname)
        if ifp is not None:
            ifp.tsomax = tap.tsomax
        with tap:
            if server is None:
                server = ControlServer(host, default_ctl_path(tap.name), clock=clock,
                                       transmit=transmit)
            _serve(args, node, host, tap, server, pcap, prefixes, mac, clock, stop, transmit)
    finally:
        if server is not None:
            server.close()
        if pcap_file is not None:
            pcap_file.close()
    return 0


def _serve(args: argparse.Namespace, node: Node, host: NodeHost, tap: TapDevice,
           server: ControlServer, pcap: PcapngWriter | None, prefixes: list[IPv6Network],
           mac: bytes, clock: Callable[[], float], stop: dict[str, int],
           transmit: Callable[[list[tuple[str, bytes]]], None]) -> None:
    _log(f"{tap.name} ether {':'.join(f'{b:02x}' for b in mac)}, "
         f"{'router' if args.router else 'host'}, control socket {server.path}")
    apps = host_sockets(node, args, server, _log)
    is_up = False
    advertising = False
    while not stop["sig"]:
        now = clock()
        if not is_up and _kernel_up(tap.name):
            is_up = True
            _log(f"{tap.name} is up: link-local address, DAD, "
                 f"{'joining all-routers' if args.router else 'router solicitation'}")
            transmit(host.up(tap.name, now))
            _configure(node, tap.name, args, now)
            transmit(host.poll(now))
        if is_up and args.router and not advertising and prefixes:
            lls = [a for a in node.addresses(tap.name) if a.usable]
            if lls:
                node.rtr.advertise(tap.name, RaConfig(
                    max_interval=args.ra_interval, min_interval=args.ra_min_interval,
                    prefixes=tuple(PrefixInfo(p.network_address, p.prefixlen)
                                   for p in prefixes)), now)
                advertising = True
                _log("advertising " + ", ".join(str(p) for p in prefixes))
        d = host.next_deadline() if is_up else None
        timeout = 0.2 if not is_up else 1.0
        if d is not None:
            timeout = min(timeout, max(0.0, d - clock()))
        if (da := apps.next_deadline()) is not None:
            timeout = min(timeout, max(0.0, da - clock()))
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
            apps.step(clock())
            transmit(host.poll(clock()))
        events = host.take_events()
        for ev in events:
            text = event_line(ev)
            if text:
                _log(text)
        server.dispatch_events(events)
    _log(f"signal {stop['sig']}: stopping")
    apps.close()
    if is_up:
        transmit(host.poll(clock()))
    if advertising:  # rtadvd's exit: a final RA with router lifetime 0 (§6.2.5)
        sent = host.icmp6_out[134]
        node.rtr.stop_advertising(tap.name, clock())
        end = clock() + 4.0
        while host.icmp6_out[134] == sent and clock() < end:
            transmit(host.poll(clock()))
            d = host.next_deadline()
            time.sleep(0.05 if d is None else min(0.05, max(0.0, d - clock())))


def _private_dir(path: str) -> str:
    """The fallback folder for ``--sim`` sockets in the shared temporary
    directory: made 0700 if missing; refused if it is a symbolic link, not
    ours, or open to others (someone could swap our sockets there)."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as e:
        raise ConfigError(f"{path}: {e.strerror or e}") from None
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
        raise ConfigError(f"{path} is not a private folder of ours (a symbolic link, another "
                          "user's, or open to others): give --ctl-dir")
    return path


def _sim_dir(path: str | None) -> str:
    if path:
        if not os.path.isdir(path):
            raise ConfigError(f"--ctl-dir {path}: no such folder (kame does not create it)")
        return path
    if os.access(os.path.dirname(ctl.CTL_DIR), os.W_OK):
        _runtime_dir()
        return ctl.CTL_DIR
    return _private_dir(os.path.join(tempfile.gettempdir(), f"kame-sim-{os.getuid()}"))


def _runtime_dir() -> None:
    """``/run/kame`` (:data:`kame.ctl.CTL_DIR`), the default home of control
    sockets: made when missing (0755, that one level only, as a daemon makes
    its folder under /run)."""
    try:
        os.mkdir(ctl.CTL_DIR, 0o755)
    except FileExistsError:
        pass
    except OSError as e:
        raise ConfigError(f"{ctl.CTL_DIR}: {e.strerror or e} (give --ctl PATH)") from None


def _sim_transmit(sim: Simulation, host: NodeHost) -> Callable[[list[tuple[str, bytes]]], None]:
    return lambda frames: sim.emit(host, frames)


def _named_log(name: str) -> Callable[[str], None]:
    return lambda text: _log(f"{name}: {text}")


def run_sim(args: argparse.Namespace) -> int:
    """``kame node --sim``: the demo's router and two hosts on a memory link,
    in real time, one control socket each (DIR/r.sock, h1.sock, h2.sock): the
    tools can be tried without root or a TAP device."""
    d = _sim_dir(args.ctl_dir)
    prefixes: list[IPv6Network] = args.prefix or [IPv6Network("2001:db8:1::/64")]
    sim = Simulation()
    link = MemoryLink(delay=0.0005, seed=1)
    specs = [("r", "020000000001", {"net.inet6.ip6.forwarding": 1}),
             ("h1", "02000000000a", {"net.inet6.ip6.accept_rtadv": 1}),
             ("h2", "02000000000b", {"net.inet6.ip6.accept_rtadv": 1})]
    inet4 = {"r": "192.0.2.1/24", "h1": "192.0.2.10/24", "h2": "192.0.2.11/24"}
    apps: dict[str, Apps] = {}
    clock, stop = _clock_and_signals()
    hosts: dict[str, NodeHost] = {}
    servers: dict[str, ControlServer] = {}
    pcap_file = None
    try:
        pcap_file = open(args.write, "wb") if args.write else None  # noqa: SIM115
        if pcap_file is not None:
            link.add_tap(PcapngWriter(pcap_file, if_name="sim0"))
        for i, (name, mac, knobs) in enumerate(specs):
            # IPv4 addresses usable at once (no RFC 5227 probing on a simulated link)
            node = Node(name, knobs=Knobs({"net.link.ether.inet.dad_count": 0, **args.knobs,
                                           **knobs}), seed=i + 1)
            node.add_interface("eth0", bytes.fromhex(mac), mtu=args.mtu)
            host = hosts[name] = NodeHost(node)
            sim.connect(host, "eth0", link, bytes.fromhex(mac))
            servers[name] = ControlServer(
                host, os.path.join(d, f"{name}.sock"), clock=lambda: sim.now,
                transmit=_sim_transmit(sim, host))
            sim.emit(host, host.up("eth0", 0.0))
            node.add_address4("eth0", inet4[name], 0.0)
            apps[name] = host_sockets(node, args, servers[name], _named_log(name))
        _log(f"simulated link: router r, hosts h1 and h2 on eth0 (IPv4 "
             f"{', '.join(inet4.values())}); control sockets "
             f"{', '.join(sv.path for sv in servers.values())}")
        _log(f"try: kame ping6 --ctl {servers['h1'].path} 2001:db8:1::ff:fe00:b")
        router = hosts["r"].node
        advertising = False
        while not stop["sig"]:
            if not advertising and any(a.usable for a in router.addresses("eth0")):
                router.rtr.advertise("eth0", RaConfig(
                    max_interval=args.ra_interval if args.ra_given else 30.0,
                    min_interval=args.ra_min_interval,
                    prefixes=tuple(PrefixInfo(p.network_address, p.prefixlen)
                                   for p in prefixes)), sim.now)
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
            for a in apps.values():
                a.step(sim.now)
            for name, host in hosts.items():
                events = host.take_events()
                for ev in events:
                    text = event_line(ev)
                    if text:
                        _log(f"{name}: {text}")
                servers[name].dispatch_events(events)
        _log(f"signal {stop['sig']}: stopping")
    finally:
        for a in apps.values():
            a.close()
        for sv in servers.values():
            sv.close()
        if pcap_file is not None:
            pcap_file.close()
    return 0


def _run(args: argparse.Namespace) -> int:
    """Check the options against one another (each alone was checked by its
    type), then run."""
    def need(opt: str, cond: bool, what: str) -> None:
        if cond:
            raise UsageError(f"{opt} {what}")

    args.ra_given = args.ra_interval is not None

    need("--sim", args.sim and args.tap is not None, "and --tap: choose one")
    need("--ctl", args.sim and args.ctl is not None,
         "is for --tap; --sim makes DIR/r.sock, h1.sock, h2.sock (give --ctl-dir DIR)")
    need("--ctl-dir", not args.sim and args.ctl_dir is not None, "is for --sim (with --tap: --ctl)")
    need("--mac", args.sim and args.mac is not None, "is for --tap (--sim uses the demo's MACs)")
    need("--hostname", args.sim and args.hostname is not None, "is for --tap")
    need("--offload", args.sim and args.offload, "is for --tap (the TAP device's offload)")
    if not args.sim and not args.tap:
        raise UsageError("give --tap IFNAME (or --sim)")
    if not args.sim:
        need("--prefix", bool(args.prefix) and not args.router, "needs --router")
        need("--ra-interval", args.ra_given and not args.router, "needs --router")
        need("--ra-min-interval", args.ra_min_interval is not None and not args.router,
             "needs --router")
    if args.prefix:
        seen: set[IPv6Network] = set()
        for p in args.prefix:
            need("--prefix", p in seen, f"{p} is given twice")
            seen.add(p)
        need("--prefix", len(args.prefix) > MAX_PREFIXES,
             f"given {len(args.prefix)} times: at most {MAX_PREFIXES} (receivers read "
             f"{MAX_PREFIXES + 2} ND options, net.inet6.icmp6.nd6_maxndopt, and the RA also "
             "carries our link-layer address and an MTU)")
    if args.ra_interval is None:
        args.ra_interval = 30.0
    args.ra_min_interval = _ra_min_interval(args)
    for opt, vals, cap in (("--serve", args.serve, MAX_SERVE), ("--inet", args.inet, MAX_ADDRS),
                           ("--inet6", args.inet6, MAX_ADDRS)):
        vals = vals or []
        need(opt, len(vals) > cap, f"given {len(vals)} times: at most {cap}")
        dup = {str(v) for v in vals if sum(str(x) == str(v) for x in vals) > 1}
        need(opt, bool(dup), f"{min(dup) if dup else ''} is given twice")
    need("--inet", args.sim and bool(args.inet), "is for --tap (--sim gives r, h1, h2 "
         "192.0.2.1, .10, .11)")
    need("--inet6", args.sim and bool(args.inet6), "is for --tap (--sim hosts use SLAAC)")
    _serve_conflicts(args.serve or [])
    if args.hostname is not None and not args.hostname.strip():
        raise UsageError("--hostname: empty name")
    args.knobs = _sysctls(args.sysctl or [])
    need("--router", args.router and args.knobs.get("net.inet6.ip6.forwarding", 1) == 0,
         "and --sysctl net.inet6.ip6.forwarding=0 contradict each other")
    need("--altq", args.sim and args.altq is not None, "is for --tap")
    args.altq_text = None
    if args.altq is not None:
        from kame.altq import parse_altq_conf

        with open(args.altq, encoding="utf-8") as fh:
            args.altq_text = fh.read()
        parse_altq_conf(args.altq_text)  # a bad line stops us before any TAP is made
    if args.sim:
        return run_sim(args)
    return run_node(args)


def _serve_conflicts(specs: list[ServeSpec]) -> None:
    """Two services may not claim one port of one protocol (a dual-stack
    ``tcp`` spec and a ``tcp4`` one may share it, as the socket layer allows
    AF_INET beside a dual AF_INET6 socket only on the KAME profiles: refused
    here on every profile to stay simple)."""
    seen: dict[tuple[str, int], ServeSpec] = {}
    for sp in specs:
        key = (sp.proto, sp.port)
        other = seen.get(key)
        if other is not None and not {other.family, sp.family} == {"4", "6"}:
            raise UsageError(f"--serve {sp} and {other}: both claim {sp.proto} port {sp.port}")
        seen[key] = sp


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("node", help="run a node on a Linux TAP device, with a control socket",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tap", metavar="IFNAME", type=_ifname,
                   help="TAP device to open (created if missing; needs CAP_NET_ADMIN)")
    p.add_argument("--sim", action="store_true",
                   help="instead: the demo's router and two hosts on a simulated link in real "
                        "time, with control sockets DIR/r.sock, h1.sock, h2.sock (no root)")
    p.add_argument("--ctl-dir", metavar="DIR",
                   help="with --sim: an existing folder for the sockets (default /run/kame, "
                        "else a private folder in the temporary directory)")
    p.add_argument("--router", action="store_true",
                   help="act as a router: net.inet6.ip6.forwarding=1, send RAs")
    p.add_argument("--prefix", action="append", metavar="P/64", type=parse_prefix,
                   help=f"a global or unique-local /64 to advertise (with --router; up to "
                        f"{MAX_PREFIXES}); SLAAC on Ethernet needs /64 (RFC 4862, RFC 2464)")
    p.add_argument("--ctl", metavar="PATH",
                   help="control socket (default /run/kame/IFNAME.sock); the folder must exist, "
                        "and only a stale socket there is replaced; made owner-only (0600)")
    p.add_argument("--mac", type=parse_mac,
                   help="our unicast MAC address, e.g. 02:00:00:00:00:01 (default: derived "
                        "from host and ifname)")
    p.add_argument("--mtu", type=int_range(MTU_MIN, MTU_MAX, "MTU"), default=1500,
                   help=f"link MTU, {MTU_MIN} (IPv6's minimum, RFC 8200 §5) to {MTU_MAX} "
                        "(Linux's largest for a TAP); default 1500")
    p.add_argument("--hostname", help="node name (default: this host's name)")
    p.add_argument("--sysctl", action="append", metavar="NAME=VALUE",
                   help="set a knob, e.g. net.inet6.icmp6.nd6_debug=1 (repeatable)")
    p.add_argument("--ra-interval", type=float_range(*RA_MAX_INTERVAL, "MaxRtrAdvInterval"),
                   metavar="SECONDS",
                   help="MaxRtrAdvInterval with --router: 4..1800 s, default 30 "
                        "(RFC 4861 §6.2.1)")
    p.add_argument("--ra-min-interval", type=float_range(RA_MIN_INTERVAL_FLOOR, 1350.0,
                                                         "MinRtrAdvInterval"),
                   metavar="SECONDS",
                   help="MinRtrAdvInterval with --router: 3 s .. 0.75 × MaxRtrAdvInterval; "
                        "default 0.33 × Max when Max >= 9 s, else Max (RFC 4861 §6.2.1)")
    p.add_argument("--inet", action="append", metavar="ADDR/LEN", type=parse_inet,
                   help=f"an IPv4 address for the TAP interface, e.g. 10.0.0.2/24 (up to "
                        f"{MAX_ADDRS}; probed and announced as RFC 5227 says)")
    p.add_argument("--inet6", action="append", metavar="ADDR/LEN", type=parse_inet6,
                   help=f"a static IPv6 address, e.g. 2001:db8::2/64 (up to {MAX_ADDRS}; DAD "
                        "runs first)")
    p.add_argument("--serve", action="append", metavar="PROTO:PORT:SERVICE", type=parse_serve,
                   help=f"host a service on the node's own sockets, inetd-style: PROTO tcp, "
                        f"tcp4, tcp6, udp, udp4, udp6 (tcp/udp take IPv4 too); SERVICE echo, "
                        f"discard, chargen (TCP) or iperf3 (TCP); e.g. tcp:7:echo (up to "
                        f"{MAX_SERVE})")
    p.add_argument("--profile", choices=sorted(PROFILES), default="linux",
                   help="the socket layer's platform profile (seed §1.12; default linux)")
    p.add_argument("--offload", action="store_true",
                   help="open the TAP with IFF_VNET_HDR: TCP segmentation and checksum offload "
                        "both ways (the kernel hands us and takes from us TCP super-segments of "
                        "up to 64 KiB)")
    p.add_argument("-w", "--write", metavar="FILE", help="capture both directions to a pcapng")
    p.add_argument("--altq", metavar="FILE",
                   help="put the TAP interface under ALTQ from altq.conf(5) FILE at start-up "
                        "(as altqd -f FILE; later: kame altq load)")
    p.set_defaults(func=_run)
