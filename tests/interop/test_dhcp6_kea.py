"""Our DHCPv6 client against Kea (``kea-dhcp6``, ISC's successor to dhcpd;
issue 11 item 1) in a namespace over TAP: an address (IA_NA) and a
delegated prefix (IA_PD) with the DNS servers, then the Renew at Kea's T1
renews both, seen in Kea's memfile lease file (a second CSV row per lease
with a later expiry) and in its log; tshark dissects every message."""

from __future__ import annotations

import csv
import json
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

from dhcp6_peer import Ours, dhcp6_ns, tshark_dhcp6, wait_file, wait_linklocal

from kame.dhcp6 import duid
from kame.dhcp6.agent import ClientAgent
from kame.dhcp6.client import Dhcp6Client

K6 = "2001:db8:98::1"
MAC = "02:00:00:00:d6:31"
KEA = shutil.which("kea-dhcp6") or "/usr/sbin/kea-dhcp6"


def _rows(leases: Path) -> list[dict[str, str]]:
    if not leases.exists():
        return []
    with leases.open(newline="") as f:
        return list(csv.DictReader(f))


def test_kea_gives_address_and_prefix_and_sees_the_renew(tmp_path: Path) -> None:
    assert os.path.exists(KEA), "kea-dhcp6-server is missing (.ci/run installs it)"
    leases = tmp_path / "kea-leases6.csv"
    log = tmp_path / "kea.log"
    with dhcp6_ns("kd6k", tmp_path, K6) as (ns, port, pcap):
        conf = tmp_path / "kea-dhcp6.conf"
        conf.write_text(json.dumps({"Dhcp6": {
            "interfaces-config": {"interfaces": [port.name],
                                  "service-sockets-max-retries": 60,
                                  "service-sockets-retry-wait-time": 500},
            "server-id": {"type": "EN", "enterprise-id": 2495, "identifier": "6b65612d6b616d65",
                          "persist": False},
            "lease-database": {"type": "memfile", "persist": True, "name": str(leases),
                               "lfc-interval": 0},
            "renew-timer": 6, "rebind-timer": 12, "preferred-lifetime": 30,
            "valid-lifetime": 60,
            "option-data": [{"name": "dns-servers", "data": "2001:db8:98::53"},
                            {"name": "domain-search", "data": "kea.test"}],
            "subnet6": [{"id": 1, "subnet": "2001:db8:98::/64", "interface": port.name,
                         "pools": [{"pool": "2001:db8:98::100-2001:db8:98::1ff"}],
                         "pd-pools": [{"prefix": "2001:db8:800::", "prefix-len": 40,
                                       "delegated-len": 56}]}],
            "loggers": [{"name": "kea-dhcp6", "severity": "DEBUG", "debuglevel": 40,
                         "output_options": [{"output": str(log)}]}]}}))
        # Kea binds the link-local address: once the kernel's DAD is done
        wait_linklocal(ns, port.name)
        env = dict(os.environ, KEA_LOCKFILE_DIR=str(tmp_path), KEA_PIDFILE_DIR=str(tmp_path),
                   KEA_LOGGER_DESTINATION=str(log))
        with (tmp_path / "kea.out").open("w") as out:
            srv = subprocess.Popen(["ip", "netns", "exec", ns, KEA, "-c", str(conf)],
                                   stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            wait_file(log, lambda t: "DHCP6_STARTED" in t or srv.poll() is not None, 30)
            assert srv.poll() is None, (tmp_path / "kea.out").read_text()[-2000:]
            ours = Ours(port, MAC, 31)
            assert ours.pump(lambda: any(a.usable and a.addr.is_link_local
                                         for a in ours.node.addresses(ours.dev)), 30)
            cl = Dhcp6Client(ours.dev, duid.duid_llt(bytes.fromhex(MAC.replace(":", "")), 1.7e9),
                             ia_na=(1,), ia_pd=((2, None),), rng=random.Random(31))
            agent = ClientAgent(ours.node, ours.layer, cl, mode="stateful",
                                now=ours.runner.clock())
            ours.agents.append(agent)
            assert ours.pump(lambda: cl.lease is not None and bool(cl.lease.na)
                             and bool(cl.lease.pd), 60), \
                (cl.stats, (tmp_path / "kea.out").read_text()[-2000:],
                 log.read_text()[-3000:] if log.exists() else "")
            lease = cl.lease
            assert lease is not None
            addr = lease.na[1].addresses[0].addr
            pfx = lease.pd[2].prefixes[0].prefix
            assert int(IPv6Address("2001:db8:98::100")) <= int(addr) <= \
                int(IPv6Address("2001:db8:98::1ff"))
            assert pfx.prefixlen == 56 and pfx.subnet_of(IPv6Network("2001:db8:800::/40"))
            assert agent.dns == (IPv6Address("2001:db8:98::53"),)
            assert agent.domains == ("kea.test",)
            assert lease.t1 - lease.obtained == 6 and lease.t2 - lease.obtained == 12
            # the Renew at T1 (6 s): Kea writes each lease again with a later expiry
            first = {r["address"]: int(r["expire"]) for r in _rows(leases)}
            assert str(addr) in first and str(pfx.network_address) in first, first

            def renewed() -> bool:
                rows = _rows(leases)
                na = [int(r["expire"]) for r in rows if r["address"] == str(addr)]
                pd = [int(r["expire"]) for r in rows
                      if r["address"] == str(pfx.network_address)]
                return max(na, default=0) > first[str(addr)] and \
                    max(pd, default=0) > first[str(pfx.network_address)]

            assert ours.pump(renewed, 45), (cl.stats, leases.read_text())
            text = log.read_text()
            assert "RENEW" in text, text[-3000:]
            assert cl.stats["d6c_reply"] >= 2 and cl.lease is not None
            agent.release(ours.runner.clock())
            assert ours.pump(lambda: cl.ex is None, 30)
        finally:
            srv.terminate()
            srv.wait(timeout=15)
    types = tshark_dhcp6(pcap)
    for t in ("1", "2", "3", "7", "5", "8"):
        assert t in types, types
