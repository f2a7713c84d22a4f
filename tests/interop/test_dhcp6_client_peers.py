"""Our DHCPv6 client (kame.dhcp6, issue 11 item 1) against real servers over
a TAP in a namespace: ISC ``dhcpd -6`` gives it an address (IA_NA) and a
delegated prefix (IA_PD) with DNS servers and search list, sees its Renew
and its Release (dhcpd's log and lease file); dnsmasq gives it an address,
sees its Renew and Release in its lease file, and answers its
Information-Request with the refresh time. tshark dissects every captured
DHCPv6 message without a malformed field."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from ipaddress import IPv6Address, IPv6Network
from pathlib import Path

import pytest

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

from dhcp6_peer import Ours, dhcp6_ns, tshark_dhcp6, wait_file

from kame import resolv
from kame.dhcp6 import duid
from kame.dhcp6.agent import ClientAgent
from kame.dhcp6.client import Dhcp6Client

K6 = "2001:db8:99::1"
MAC = "02:00:00:00:d6:01"


def _client(ours: Ours, *, ia_pd: bool, seed: int, mode: str = "stateful") -> ClientAgent:
    assert ours.pump(lambda: any(a.usable and a.addr.is_link_local
                                 for a in ours.node.addresses(ours.dev)), 30)
    c = Dhcp6Client(ours.dev, duid.duid_llt(bytes.fromhex(MAC.replace(":", "")), 1.7e9 + seed),
                    ia_na=(1,) if mode == "stateful" else (),
                    ia_pd=((2, None),) if ia_pd else (), rng=random.Random(seed))
    agent = ClientAgent(ours.node, ours.layer, c, mode=mode, now=ours.runner.clock())
    ours.agents.append(agent)
    return agent


def _force_renew(agent: ClientAgent, now: float) -> None:
    """T1 now (the servers' shortest leases would make the test wait minutes)."""
    lease = agent.client.lease
    assert lease is not None
    lease.t1 = now


def test_isc_dhcpd_gives_address_and_prefix(tmp_path: Path) -> None:
    dhcpd = shutil.which("dhcpd") or "/usr/sbin/dhcpd"
    assert os.path.exists(dhcpd), "isc-dhcp-server is missing (.ci/run installs it)"
    conf = tmp_path / "dhcpd6.conf"
    conf.write_text(
        "default-lease-time 600; preferred-lifetime 300; max-lease-time 7200;\n"
        "option dhcp6.name-servers 2001:db8:99::53;\n"
        'option dhcp6.domain-search "example.test";\n'
        "subnet6 2001:db8:99::/64 {\n range6 2001:db8:99::1000 2001:db8:99::1fff;\n"
        " prefix6 2001:db8:200:: 2001:db8:2ff:: /56;\n}\n")
    leases = tmp_path / "dhcpd6.leases"
    leases.write_text("")
    log = tmp_path / "dhcpd.log"
    with dhcp6_ns("kd6i", tmp_path, K6) as (ns, port, pcap):
        with log.open("w") as lf:
            srv = subprocess.Popen(["ip", "netns", "exec", ns, dhcpd, "-6", "-f", "-d", "-cf",
                                    str(conf), "-lf", str(leases), "-pf",
                                    str(tmp_path / "pid"), port.name], stdout=lf,
                                   stderr=subprocess.STDOUT)
        try:
            ours = Ours(port, MAC, 3)
            agent = _client(ours, ia_pd=True, seed=3)
            assert ours.pump(lambda: agent.client.lease is not None and
                             bool(agent.client.lease.pd) and bool(agent.client.lease.na), 60), \
                (agent.client.stats, log.read_text()[-2000:])
            lease = agent.client.lease
            assert lease is not None
            addr = lease.na[1].addresses[0].addr
            pfx = lease.pd[2].prefixes[0].prefix
            assert int(IPv6Address("2001:db8:99::1000")) <= int(addr) <= \
                int(IPv6Address("2001:db8:99::1fff"))
            assert pfx.prefixlen == 56 and pfx.subnet_of(IPv6Network("2001:db8:200::/39"))
            assert agent.dns == (IPv6Address("2001:db8:99::53"),)
            assert agent.domains == ("example.test",)
            conf_r = resolv.ResolvConf().with_rdnss(ours.node, 0.0)
            assert resolv.Server(IPv6Address("2001:db8:99::53")) in conf_r.servers
            assert conf_r.search == ["example.test"]
            # the node ran DAD on the address and uses it
            assert ours.pump(lambda: any(a.addr == addr and a.usable
                                         for a in ours.node.addresses(ours.dev)), 20)
            wait_file(leases, lambda t: str(addr) in t and "iaprefix" in t, 30)
            _force_renew(agent, ours.runner.clock())
            assert ours.pump(lambda: "Renew message" in log.read_text(), 30), \
                log.read_text()[-2000:]
            assert ours.pump(lambda: agent.client.ex is None, 30)
            agent.release(ours.runner.clock())
            assert ours.pump(lambda: "Release message" in log.read_text() and
                             agent.client.ex is None, 30), log.read_text()[-2000:]
            assert not any(a.addr == addr for a in ours.node.addresses(ours.dev))
        finally:
            srv.terminate()
            srv.wait(timeout=10)
    types = tshark_dhcp6(pcap)
    for t in ("1", "2", "3", "7", "5", "8"):
        assert t in types, types


def test_dnsmasq_address_and_information_request(tmp_path: Path) -> None:
    dnsmasq = "/usr/sbin/dnsmasq" if os.path.exists("/usr/sbin/dnsmasq") else \
        shutil.which("dnsmasq")
    assert dnsmasq, "dnsmasq is missing (.ci/run installs dnsmasq-base)"
    leases = tmp_path / "dnsmasq.leases"
    log = tmp_path / "dnsmasq.log"
    with dhcp6_ns("kd6m", tmp_path, K6) as (ns, port, pcap):
        with log.open("w") as lf:
            srv = subprocess.Popen(
                ["ip", "netns", "exec", ns, dnsmasq, "--keep-in-foreground", "--port=0",
                 f"--interface={port.name}", "--bind-interfaces",
                 "--dhcp-range=2001:db8:99::100,2001:db8:99::1ff,64,2m",
                 "--dhcp-option=option6:dns-server,[2001:db8:99::53]",
                 "--dhcp-option=option6:domain-search,example.test",
                 "--dhcp-option=option6:information-refresh-time,3600",
                 f"--dhcp-leasefile={leases}", "--log-dhcp", "--log-facility=-",
                 "--user=root", "--pid-file", "--dhcp-authoritative"],
                stdout=lf, stderr=subprocess.STDOUT)
        try:
            ours = Ours(port, MAC, 5)
            agent = _client(ours, ia_pd=False, seed=5)
            assert ours.pump(lambda: agent.client.lease is not None, 60), \
                (agent.client.stats, log.read_text()[-2000:])
            lease = agent.client.lease
            assert lease is not None
            addr = lease.na[1].addresses[0].addr
            assert int(IPv6Address("2001:db8:99::100")) <= int(addr) <= \
                int(IPv6Address("2001:db8:99::1ff"))
            assert agent.dns == (IPv6Address("2001:db8:99::53"),)
            wait_file(leases, lambda t: str(addr) in t, 30)
            _force_renew(agent, ours.runner.clock())
            assert ours.pump(lambda: "DHCPRENEW" in log.read_text(), 30), log.read_text()[-2000:]
            assert ours.pump(lambda: agent.client.ex is None, 30)
            agent.release(ours.runner.clock())
            assert ours.pump(lambda: "DHCPRELEASE" in log.read_text(), 30)
            wait_file(leases, lambda t: str(addr) not in t, 30)
            agent.close()
            ours.agents.remove(agent)
            # stateless: Information-Request, the refresh time honoured
            info = _client(ours, ia_pd=False, seed=6, mode="stateless")
            t0 = ours.runner.clock()
            assert ours.pump(lambda: info.client.refresh_at is not None, 30), info.client.stats
            assert info.dns == (IPv6Address("2001:db8:99::53"),)
            assert info.domains == ("example.test",)
            assert info.client.refresh_at is not None
            assert 3600 <= info.client.refresh_at - t0 <= 3600 + 30
        finally:
            srv.terminate()
            srv.wait(timeout=10)
    types = tshark_dhcp6(pcap)
    for t in ("1", "2", "3", "7", "5", "8", "11"):
        assert t in types, types
