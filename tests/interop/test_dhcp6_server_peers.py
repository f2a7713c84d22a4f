"""Our DHCPv6 server (kame.dhcp6, issue 11 item 1) serving real clients over a
TAP in a namespace: ISC ``dhclient -6 -N -P`` and WIDE ``dhcp6c`` get an
address and a delegated prefix from it (their lease file, their log, the
addresses the kernel holds), renew at T1 and release (our server's log);
dhclient also gets its lease through our relay agent (§19) on one node and
our server on another, joined by a memory link. tshark dissects every
captured DHCPv6 message without a malformed field."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from ipaddress import IPv6Address, IPv6Network
from pathlib import Path

import pytest

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

from dhcp6_peer import Ours, dhcp6_ns, tshark_dhcp6, wait_linklocal

from kame.dhcp6 import duid
from kame.dhcp6.agent import RelayAgent, ServerAgent
from kame.dhcp6.server import AddrPool, Dhcp6Relay, Dhcp6Server, PrefixPool
from kame.link.memory import MemoryLink
from kame.node import Node
from kame.socket import SocketLayer

K6 = "2001:db8:97::1"
O6 = "2001:db8:97::2"
MAC = "02:00:00:00:d6:02"
POOL = AddrPool(IPv6Address("2001:db8:97::1000"), IPv6Address("2001:db8:97::1fff"), 10, 30)
PD = PrefixPool(IPv6Network("2001:db8:300::/40"), 56, 10, 30)


def _server(**kw: object) -> Dhcp6Server:
    return Dhcp6Server(duid.duid_ll(bytes.fromhex(MAC.replace(":", ""))), pool=POOL,
                       pd_pool=PD, dns=(IPv6Address("2001:db8:97::53"),),
                       domains=("kame.test",), **kw)  # type: ignore[arg-type]


def _ours(port: object, seed: int) -> Ours:
    ours = Ours(port, MAC, seed)  # type: ignore[arg-type]
    ours.node.add_address(ours.dev, f"{O6}/64", ours.runner.clock())
    assert ours.pump(lambda: all(a.usable for a in ours.node.addresses(ours.dev)), 30)
    return ours


def _logged(server: Dhcp6Server, what: str) -> bool:
    return any(e[1] == what for e in server.log)


def test_dhclient_gets_address_and_prefix(tmp_path: Path) -> None:
    dhclient = shutil.which("dhclient") or "/sbin/dhclient"
    assert os.path.exists(dhclient), "isc-dhcp-client is missing (.ci/run installs it)"
    leases = tmp_path / "dhclient6.leases"
    with dhcp6_ns("kd6c", tmp_path, K6) as (ns, port, pcap):
        wait_linklocal(ns, port.name)
        ours = _ours(port, 7)
        server = _server()
        ours.agents.append(ServerAgent(ours.layer, server, (ours.dev,)))
        args = ["ip", "netns", "exec", ns, dhclient, "-6", "-N", "-P", "-lf", str(leases),
                "-pf", str(tmp_path / "pid"), "-sf", "/bin/true"]
        log = tmp_path / "dhclient.log"
        with log.open("w") as lf:
            cl = subprocess.Popen([*args, "-d", port.name], stdout=lf, stderr=subprocess.STDOUT)
        try:
            assert ours.pump(lambda: "iaprefix" in (leases.read_text() if leases.exists()
                                                    else ""), 60), \
                (server.stats, log.read_text()[-2000:])
            text = leases.read_text()
            na = [v for e in server.log if e[1] == "request" for v in e[3] if "/" not in v]
            pd = [v for e in server.log if e[1] == "request" for v in e[3] if "/" in v]
            assert na and na[0] in text and pd and pd[0] in text, (text, server.log)
            assert "2001:db8:97::53" in text and "kame.test" in text
            # T1 is 5 s (half the preferred 10 s): dhclient renews
            assert ours.pump(lambda: _logged(server, "renew"), 40), \
                (server.stats, log.read_text()[-2000:])
        finally:
            cl.send_signal(signal.SIGTERM)
            cl.wait(timeout=10)
        rel = subprocess.Popen([*args, "-r", port.name], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        try:
            assert ours.pump(lambda: _logged(server, "release") and server.nleases == 0, 40), \
                (server.stats, server.log)
        finally:
            rel.wait(timeout=30)
        assert server.stats["d6s_malformed"] == 0
    types = tshark_dhcp6(pcap)
    for t in ("1", "2", "3", "7", "5", "8"):
        assert t in types, types


def test_wide_dhcp6c_gets_address_and_prefix(tmp_path: Path) -> None:
    dhcp6c = shutil.which("dhcp6c") or "/usr/sbin/dhcp6c"
    assert os.path.exists(dhcp6c), "wide-dhcpv6-client is missing (.ci/run installs it)"
    with dhcp6_ns("kd6w", tmp_path, K6) as (ns, port, pcap):
        wait_linklocal(ns, port.name)
        ours = _ours(port, 8)
        server = _server()
        ours.agents.append(ServerAgent(ours.layer, server, (ours.dev,)))
        conf = tmp_path / "dhcp6c.conf"
        conf.write_text(
            f"interface {port.name} {{\n  send ia-na 1;\n  send ia-pd 2;\n"
            "  request domain-name-servers;\n  request domain-name;\n"
            '  script "/bin/true";\n};\n'
            "id-assoc na 1 { };\n"
            "id-assoc pd 2 {\n  prefix-interface lo { sla-id 1; sla-len 8; };\n};\n")
        log = tmp_path / "dhcp6c.log"
        with log.open("w") as lf:
            cl = subprocess.Popen(["ip", "netns", "exec", ns, dhcp6c, "-f", "-D", "-c", str(conf),
                                   "-p", str(tmp_path / "pid"), port.name], stdout=lf,
                                  stderr=subprocess.STDOUT)
        try:
            assert ours.pump(lambda: _logged(server, "request"), 60), \
                (server.stats, log.read_text()[-2000:])
            na = [v for e in server.log if e[1] == "request" for v in e[3] if "/" not in v]
            pd = [IPv6Network(v) for e in server.log if e[1] == "request" for v in e[3]
                  if "/" in v]
            assert na and pd
            # the kernel holds the address on the TAP and the sub-prefix address on lo
            def kernel_has() -> bool:
                a = subprocess.run(["ip", "netns", "exec", ns, "ip", "-6", "addr"],
                                   capture_output=True, text=True, check=False).stdout
                sub = IPv6Network((int(pd[0].network_address) | (1 << 64), 64))
                return na[0] in a and str(sub.network_address).rstrip(":") in a
            assert ours.pump(kernel_has, 30), log.read_text()[-3000:]
            assert ours.pump(lambda: _logged(server, "renew"), 40), log.read_text()[-2000:]
        finally:
            cl.send_signal(signal.SIGTERM)
            try:
                # WIDE dhcp6c releases its bindings when it exits (one Release per IA)
                assert ours.pump(lambda: _logged(server, "release") and server.nleases == 0,
                                 30), (server.stats, server.log, log.read_text()[-2000:])
            finally:
                cl.wait(timeout=30)
    types = tshark_dhcp6(pcap)
    for t in ("1", "2", "3", "7", "5", "8"):
        assert t in types, types


def test_dhclient_through_our_relay(tmp_path: Path) -> None:
    dhclient = shutil.which("dhclient") or "/sbin/dhclient"
    leases = tmp_path / "dhclient6.leases"
    with dhcp6_ns("kd6r", tmp_path, K6) as (ns, port, pcap):
        wait_linklocal(ns, port.name)
        ours = _ours(port, 9)   # the relay: the TAP towards the client, up0 to the server
        link = MemoryLink(delay=0.001)
        now = ours.runner.clock()
        ours.node.add_interface("up0", bytes.fromhex("020000d60a01"))
        ours.runner.attach_link(ours.node, "up0", link, bytes.fromhex("020000d60a01"))
        ours.runner.transmit(ours.node, ours.node.up("up0", now))
        ours.node.add_address("up0", "2001:db8:96::1/64", now)
        snode = Node("srv", seed=10)
        snode.add_interface("eth0", bytes.fromhex("020000d60a02"))
        ours.runner.attach_link(snode, "eth0", link, bytes.fromhex("020000d60a02"))
        ours.runner.transmit(snode, snode.up("eth0", now))
        snode.add_address("eth0", "2001:db8:96::2/64", now)
        assert ours.pump(lambda: all(a.usable for n in (ours.node, snode)
                                     for a in n.addresses()), 30)
        server = _server()
        sagent = ServerAgent(SocketLayer(snode, "linux"), server, ("eth0",))
        relay = Dhcp6Relay({ours.dev: IPv6Address(O6)}, (IPv6Address("2001:db8:96::2"),),
                           "up0")
        ragent = RelayAgent(ours.layer, relay)
        ours.agents += [ragent, sagent]
        args = ["ip", "netns", "exec", ns, dhclient, "-6", "-lf", str(leases),
                "-pf", str(tmp_path / "pid"), "-sf", "/bin/true"]
        cl = subprocess.Popen([*args, "-d", port.name], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        try:
            assert ours.pump(lambda: "iaaddr" in (leases.read_text() if leases.exists()
                                                  else ""), 60), (relay.stats, server.stats)
        finally:
            cl.send_signal(signal.SIGTERM)
            cl.wait(timeout=10)
        assert relay.stats["d6r_forwarded"] >= 2 and relay.stats["d6r_replied"] >= 2
        assert server.stats["d6s_relayforw"] >= 2
        na = [v for e in server.log if e[1] == "request" for v in e[3]]
        assert na and na[0] in leases.read_text()
    types = tshark_dhcp6(pcap)
    for t in ("1", "2", "3", "7"):
        assert t in types, types
