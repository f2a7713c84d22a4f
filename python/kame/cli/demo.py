"""`kame demo`: a router and two hosts on one memory link, under a simulated clock.

The three sans-I/O nodes run the whole KAME plug-and-play sequence (seed
§1.2, §1.4): link-up with DAD on the EUI-64 link-local addresses, Router
Solicitations, Router Advertisements with a prefix, SLAAC with DAD on the
new global addresses, then address resolution (NS/NA) and a ping6 between
the two hosts' global addresses. Every frame on the link is printed as a
tcpdump-style line with the sending node, node events (DAD results, new
addresses, default routers, echo replies) are interleaved, and the link is
written to a pcap (``-w``; pcapng when the name ends in ``.pcapng``).

Nothing here reads a clock or draws an unseeded random number: two runs
print the same trace and write the same file.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network
from typing import Any, BinaryIO, TextIO

import kame
from kame.cli.args import int_range
from kame.cli.dissect import describe, nd_detail
from kame.cli.tools import format_ifconfig, format_ndp_a, format_ndp_p, format_ndp_r
from kame.ctl import snap_ifconfig, snap_ndp_a, snap_ndp_p, snap_ndp_r
from kame.errors import KameError
from kame.in6_var import In6Flags
from kame.knobs import Knobs
from kame.link.memory import MemoryLink, Simulation
from kame.link.pcap import PcapngWriter, PcapWriter
from kame.nd6.rtr import RaConfig
from kame.nd6.types import (
    AddressDeprecated,
    AddressDuplicated,
    AddressExpired,
    AddressReady,
    Event,
    InterfaceDisabled,
    NeighborUnreachable,
    PrefixInfo,
)
from kame.node import EchoReply, Node

__all__ = ["DemoNode", "default_pcap_path", "run_demo"]

PREFIX = IPv6Network("2001:db8:1::/64")
#: ``kame demo -c``: each echo is a simulated second and a few trace lines.
DEMO_MAX_COUNT = 1000
IFNAME = "eth0"


@dataclass(eq=False)
class DemoNode:
    """A node on the demo link. The simulation drives this wrapper, which
    reports the node's events right after each call, before the frames the
    call produced go on the link (so causes print before their effects)."""

    name: str
    node: Node
    mac: bytes
    on_events: Callable[[DemoNode], None] | None = None

    def _after(self, frames: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
        if self.on_events is not None:
            self.on_events(self)
        return frames

    def receive(self, ifname: str, frame: bytes, now: float) -> list[tuple[str, bytes]]:
        return self._after(self.node.receive(ifname, frame, now))

    def poll(self, now: float) -> list[tuple[str, bytes]]:
        return self._after(self.node.poll(now))

    def next_deadline(self) -> float | None:
        return self.node.next_deadline()


def fmt_mac(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def packet_line(frame: bytes) -> str:
    """One tcpdump-style line for a frame on the link."""
    try:
        p = kame.parse(frame, link="ether")
    except KameError as e:
        return f"[undecodable: {e}]"
    line = describe(p)
    extra = nd_detail(p)
    if extra:
        head, sep, tail = line.partition(", length ")
        line = f"{head}, {extra}{sep}{tail}"
    if p.cksum_ok is False:
        line += " [bad cksum]"
    return line


def event_line(ev: Any) -> str | None:
    """A node event as one trace line (None: not worth a line)."""
    if isinstance(ev, AddressReady):
        return f"DAD: {ev.addr} on {ev.ifname} is unique, no longer tentative"
    if isinstance(ev, AddressDuplicated):
        return f"DAD: {ev.addr} on {ev.ifname} is DUPLICATED (by {ev.by})"
    if isinstance(ev, InterfaceDisabled):
        return f"IPv6 disabled on {ev.ifname} (duplicate hardware-derived {ev.addr})"
    if isinstance(ev, AddressDeprecated):
        return f"{ev.addr} deprecated"
    if isinstance(ev, AddressExpired):
        return f"{ev.addr} expired"
    if isinstance(ev, NeighborUnreachable):
        return f"NUD: {ev.addr} unreachable"
    if isinstance(ev, EchoReply):
        return None  # printed by the ping6 driver with its round-trip time
    if isinstance(ev, Event):
        d = ev.data
        if ev.kind == "address_added":
            how = "SLAAC" if d.get("autoconf") else "address"
            return f"{how}: {d['addr']} on {ev.ifname} (tentative, DAD starts)"
        if ev.kind == "prefix_added":
            return f"prefix {d['prefix']} on-link on {ev.ifname}"
        if ev.kind == "unreachable":
            return f"{d.get('dst')} unreachable (address resolution failed)"
        return f"{ev.kind} {ev.ifname} {d}"
    return f"{type(ev).__name__}"


def default_pcap_path() -> str:
    """``./kame-demo.pcap`` when the current directory is writable, else a
    file in the temporary directory."""
    if os.access(os.getcwd(), os.W_OK):
        return os.path.join(os.getcwd(), "kame-demo.pcap")
    return os.path.join(tempfile.gettempdir(), "kame-demo.pcap")


class _Demo:
    def __init__(self, out: TextIO, writer: Callable[[float, bytes], None] | None,
                 delay: float) -> None:
        self.out = out
        self.sim = Simulation()
        self.link = MemoryLink(delay=delay, seed=1)
        kr = Knobs({"net.inet6.ip6.forwarding": 1})
        kh = Knobs({"net.inet6.ip6.accept_rtadv": 1})
        self.nodes = [
            DemoNode("r", Node("r", knobs=kr, seed=1), bytes.fromhex("020000000001")),
            DemoNode("h1", Node("h1", knobs=kh, seed=2), bytes.fromhex("02000000000a")),
            DemoNode("h2", Node("h2", knobs=Knobs({"net.inet6.ip6.accept_rtadv": 1}), seed=3),
                     bytes.fromhex("02000000000b")),
        ]
        self.by_mac = {d.mac: d.name for d in self.nodes}
        self.installed: dict[str, IPv6Address | None] = {d.name: None for d in self.nodes}
        self.sent: dict[tuple[str, int], float] = {}
        self.replies: list[tuple[str, EchoReply, float]] = []
        self.frames = 0
        if writer is not None:
            self.link.add_tap(writer)
        self.link.add_tap(self._frame)
        for d in self.nodes:
            d.on_events = self._events
            d.node.add_interface(IFNAME, d.mac)
            self.sim.connect(d, IFNAME, self.link, d.mac)

    # --- printing -----------------------------------------------------------

    def say(self, t: float, who: str, mark: str, text: str) -> None:
        self.out.write(f"{t:10.6f} {who:<3} {mark} {text}\n")

    def phase(self, title: str) -> None:
        self.out.write(f"\n=== {title} ===\n")

    def _frame(self, t: float, frame: bytes) -> None:
        self.frames += 1
        who = self.by_mac.get(bytes(frame[6:12]), "?")
        self.say(t, who, ">", packet_line(frame))

    def _events(self, d: DemoNode) -> None:
        for ev in d.node.drain_events():
            if isinstance(ev, EchoReply):
                self._echo(d, ev)
                continue
            text = event_line(ev)
            if text:
                self.say(self.sim.now, d.name, "*", text)
        inst = d.node.rtr.installed
        addr = inst.addr if inst is not None else None
        if addr != self.installed[d.name]:
            self.installed[d.name] = addr
            text = f"default router {addr}%{inst.ifname} installed" if inst else "no default router"
            self.say(self.sim.now, d.name, "*", text)

    def _echo(self, d: DemoNode, ev: EchoReply) -> None:
        t0 = self.sent.pop((d.name, ev.seq), None)
        rtt = (ev.time - t0) * 1000 if t0 is not None else float("nan")
        self.replies.append((d.name, ev, rtt))
        self.say(ev.time, d.name, "*", f"ping6: {len(ev.data) + 8} bytes from {ev.src}, "
                                      f"icmp_seq={ev.seq} time={rtt:.3f} ms")

    # --- driving ------------------------------------------------------------

    def run_until(self, deadline: float, done: Callable[[], bool] | None = None) -> None:
        while self.sim.step(deadline):
            if done is not None and done():
                return

    def node(self, name: str) -> Node:
        return next(d.node for d in self.nodes if d.name == name)

    def global_of(self, name: str) -> IPv6Address | None:
        for ifa in self.node(name).addresses(IFNAME):
            if ifa.addr in PREFIX and ifa.usable and ifa.flags & In6Flags.AUTOCONF:
                return ifa.addr
        return None

    def run(self, count: int) -> int:
        out = self.out
        out.write("kame demo: one memory link, simulated clock, "
                  f"{self.link.delay * 1000:g} ms link delay\n")
        for d in self.nodes:
            role = ("router: net.inet6.ip6.forwarding=1, advertises " + str(PREFIX)
                    if d.node.knobs.forwarding else "host: net.inet6.ip6.accept_rtadv=1")
            out.write(f"  {d.name:<3} {IFNAME} ether {fmt_mac(d.mac)}  {role}\n")
        out.write("  lines: TIME NODE > packet sent on the link | * event in the node\n")

        self.phase("1. link up: MLD reports, DAD on the link-local addresses, RS")
        for d in self.nodes:
            self.say(self.sim.now, d.name, "*", f"ifconfig {IFNAME} up")
            self.sim.emit(d, d._after(d.node.up(IFNAME, self.sim.now)))
        ready = lambda: all(
            a.usable for d in self.nodes for a in d.node.addresses(IFNAME))
        self.run_until(10.0, ready)
        if not ready():
            out.write("link-local addresses never left DAD\n")
            return 1

        self.phase("2. router discovery and SLAAC: RA with a prefix, DAD on the new addresses")
        r = self.node("r")
        self.say(self.sim.now, "r", "*", f"rtadvd {IFNAME}: prefix {PREFIX}, "
                                         "valid 2592000 s, preferred 604800 s")
        r.rtr.advertise(IFNAME, RaConfig(max_interval=30, prefixes=(
            PrefixInfo(PREFIX.network_address, PREFIX.prefixlen),)), self.sim.now)
        configured = lambda: all(
            self.global_of(h) is not None and self.installed[h] is not None
            for h in ("h1", "h2"))
        self.run_until(self.sim.now + 30.0, configured)
        if not configured():
            out.write("the hosts did not configure global addresses\n")
            return 1

        g1, g2 = self.global_of("h1"), self.global_of("h2")
        assert g1 is not None and g2 is not None
        self.phase(f"3. address resolution and ping6 {g1} -> {g2}")
        h1 = self.node("h1")
        for seq in range(count):
            self.say(self.sim.now, "h1", "*", f"ping6 {g2}: echo request icmp_seq={seq}")
            self.sent[("h1", seq)] = self.sim.now
            self.sim.emit(self.nodes[1], h1.ping(g2, self.sim.now, seq=seq, data=bytes(range(8)) * 7))
            self.run_until(self.sim.now + 1.0)

        self.phase("summary")
        got = [e for n, e, _ in self.replies if n == "h1"]
        rtts = [rtt for n, _, rtt in self.replies if n == "h1"]
        loss = 100.0 * (count - len(got)) / count if count else 0.0
        out.write(f"--- {g2} ping6 statistics ---\n")
        out.write(f"{count} packets transmitted, {len(got)} packets received, "
                  f"{loss:.1f}% packet loss\n")
        if rtts:
            out.write(f"round-trip min/avg/max = {min(rtts):.3f}/{sum(rtts) / len(rtts):.3f}/"
                      f"{max(rtts):.3f} ms\n")
        h1, now = self.node("h1"), self.sim.now
        out.write("\nh1$ kame ifconfig -L\n")
        out.write(format_ifconfig(snap_ifconfig(h1, None, now), lifetimes=True))
        out.write("h1$ kame ndp -a\n" + format_ndp_a(snap_ndp_a(h1, now)))
        out.write("h1$ kame ndp -r\n" + format_ndp_r(snap_ndp_r(h1, now)))
        out.write("h1$ kame ndp -p\n" + format_ndp_p(snap_ndp_p(h1, now)) + "\n")
        out.write(f"{self.frames} frames on the link, simulated time {self.sim.now:.3f} s\n")
        return 0 if len(got) == count else 1


def run_demo(out: TextIO, pcap: BinaryIO | None = None, *, pcapng: bool = False,
             count: int = 3, delay: float = 0.001) -> int:
    """Run the demo, printing the trace to ``out`` and writing the link to
    ``pcap`` (a binary file) when given. Returns the exit status."""
    writer: Callable[[float, bytes], None] | None = None
    if pcap is not None:
        writer = PcapngWriter(pcap, if_name="demo0") if pcapng else PcapWriter(pcap)
    return _Demo(out, writer, delay).run(count)


def _run(args: argparse.Namespace) -> int:
    path = args.write or default_pcap_path()
    ng = path.endswith(".pcapng")
    with open(path, "wb") as f:
        rc = run_demo(sys.stdout, f, pcapng=ng, count=args.count)
    sys.stdout.write(f"wrote {'pcapng' if ng else 'pcap'}: {path}"
                     f"  (try: kame dissect {path}, or tshark -r {path})\n")
    return rc


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", help="a router and two hosts: DAD, SLAAC, ND and ping6, traced",
                       description=__doc__)
    p.add_argument("-w", "--write", metavar="FILE",
                   help="capture file (default ./kame-demo.pcap, or in the temp dir when the "
                        "current directory is not writable); .pcapng writes pcapng")
    p.add_argument("-c", "--count", type=int_range(1, DEMO_MAX_COUNT, "echo requests"),
                   default=3, help=f"echo requests to send (1..{DEMO_MAX_COUNT}; 3)")
    p.set_defaults(func=_run)
