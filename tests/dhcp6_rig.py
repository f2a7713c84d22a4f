"""Nodes on a memory link running our DHCPv6 daemons under a simulated clock."""

from __future__ import annotations

import random
from ipaddress import IPv6Address, IPv6Network
from typing import Any

from kame.dhcp6 import duid as duidmod
from kame.dhcp6.agent import ClientAgent, PrefixInterface, ServerAgent
from kame.dhcp6.client import Dhcp6Client
from kame.dhcp6.server import AddrPool, Dhcp6Server, PrefixPool
from kame.link.memory import MemoryLink, Simulation
from kame.node import Node
from kame.socket import SocketLayer


def drive(sim: Simulation, agents: list[Any], until: float) -> None:
    for _ in range(200000):
        ts = [sim.next_deadline()] + [a.next_deadline() for a in agents]
        live = [t for t in ts if t is not None]
        t = min(live) if live else until
        t = min(max(t, sim.now), until)
        sim.step(t)
        for a in agents:
            a.service(sim.now)
            node = a.layer.node
            sim.emit(node, node.poll(sim.now))
        if sim.now >= until and (sim.next_deadline() or until + 1) > until:
            return
    raise RuntimeError("did not settle")


class Rig:
    def __init__(self, *, rapid: bool = False, server_rapid: bool = True, ia_pd: bool = False,
                 pool: AddrPool | None = None, pd_pool: PrefixPool | None = None,
                 max_leases: int = 1000, follow_ra: bool = False, mode: str = "stateful",
                 router: bool = False, info_refresh: int | None = None) -> None:
        self.sim = Simulation()
        self.link = MemoryLink(delay=0.001)
        self.srv_node = Node("s", seed=1)
        self.cli_node = Node("c", seed=2)
        self.srv_node.add_interface("eth0", bytes.fromhex("020000000001"))
        self.cli_node.add_interface("eth0", bytes.fromhex("020000000002"))
        if router:
            self.cli_node.add_interface("eth1", bytes.fromhex("020000000003"))
            self.cli_node.knobs["net.inet6.ip6.forwarding"] = 1
            self.downlink = MemoryLink(delay=0.001)
            self.host = Node("h", seed=3)
            self.host.add_interface("eth0", bytes.fromhex("020000000004"))
            self.host.knobs["net.inet6.ip6.accept_rtadv"] = 1
            self.sim.connect(self.cli_node, "eth1", self.downlink, bytes.fromhex("020000000003"))
            self.sim.connect(self.host, "eth0", self.downlink, bytes.fromhex("020000000004"))
        if follow_ra:
            self.cli_node.knobs["net.inet6.ip6.accept_rtadv"] = 1
        self.sim.connect(self.srv_node, "eth0", self.link, bytes.fromhex("020000000001"))
        self.sim.connect(self.cli_node, "eth0", self.link, bytes.fromhex("020000000002"))
        for n in (self.srv_node, self.cli_node):
            self.sim.emit(n, n.up("eth0", 0.0))
        if router:
            self.sim.emit(self.cli_node, self.cli_node.up("eth1", 0.0))
            self.sim.emit(self.host, self.host.up("eth0", 0.0))
        self.sim.run(until=3.0)
        self.srv_layer = SocketLayer(self.srv_node, "netbsd")
        self.cli_layer = SocketLayer(self.cli_node, "netbsd")
        self.server = Dhcp6Server(
            duidmod.duid_ll(bytes.fromhex("020000000001")),
            pool=pool or AddrPool(IPv6Address("2001:db8::100"), IPv6Address("2001:db8::1ff")),
            pd_pool=pd_pool or PrefixPool(IPv6Network("2001:db8:100::/40"), 56),
            dns=(IPv6Address("2001:db8::53"),), domains=("example.test", "corp.test"),
            rapid_commit=server_rapid, max_leases=max_leases, info_refresh=info_refresh)
        self.srv = ServerAgent(self.srv_layer, self.server, ("eth0",))
        self.client = Dhcp6Client("eth0", duidmod.duid_ll(bytes.fromhex("020000000002")),
                                  ia_na=(1,), ia_pd=((2, None),) if ia_pd else (),
                                  rapid_commit=rapid, rng=random.Random(7))
        pis = (PrefixInterface("eth1", 1, 8),) if router else ()
        self.cli = ClientAgent(self.cli_node, self.cli_layer, self.client,
                               prefix_interfaces=pis, follow_ra=follow_ra,
                               mode=None if follow_ra else mode, now=self.sim.now)
        self.agents: list[Any] = [self.srv, self.cli]

    def run(self, until: float) -> None:
        drive(self.sim, self.agents, until)
