"""IGMPv3 source filtering (kame.inet.igmp, RFC 3376 / RFC 4604) against the
Linux kernel: our node's TAP is a port of a kernel bridge that snoops
IGMPv3 and is the querier. A source-specific join
(IP_ADD_SOURCE_MEMBERSHIP) is learnt by the kernel as an (S,G) entry on our
port and kept through its queries; a kernel sender from two source
addresses reaches our socket only from the joined one, even when the
bridge floods (snooping off) so that our own filter has to refuse the
other; dropping the source removes the entry. tshark
dissects our reports: ALLOW_NEW_SOURCES and BLOCK_OLD_SOURCES for the
source, MODE_IS_INCLUDE answers, no any-source record, no malformed or
bad-checksum mark. The node runs in a child process (``inet_tapnode.py``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from netns_rig import fresh_netns, ipns
from test_igmp_kernel import until
from test_inet_kernel import Child

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

OURS, KERNEL, KERNEL2 = "10.9.8.2", "10.9.8.1", "10.9.8.3"
GROUP = "232.7.7.7"  # the SSM range (RFC 4607)
IP_ADD_SOURCE_MEMBERSHIP, IP_DROP_SOURCE_MEMBERSHIP = 39, 40


def msrc(group: str, source: str) -> str:
    """Linux's ``struct ip_mreq_source``: group, interface, source."""
    def a(x: str) -> str:
        return bytes(int(o) for o in x.split(".")).hex()
    return a(group) + "00000000" + a(source)


def sg_entries(ns: str, dev: str) -> set[str]:
    """The sources the kernel's bridge keeps for GROUP on our port."""
    out = ipns(ns, "bridge", "-d", "-j", "mdb", "show", "dev", "kbr0").stdout
    found: set[str] = set()
    for d in json.loads(out or "[]"):
        for e in d.get("mdb", []):
            if e.get("grp") != GROUP or e.get("port") != dev:
                continue
            if e.get("src"):
                found.add(str(e["src"]))
            found.update(str(s.get("address")) for s in e.get("source_list", []))
    return found


def send_from(ns: str, src: str, data: str) -> None:
    ipns(ns, sys.executable, "-c",
         "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);"
         f"s.bind(('{src}',0));"
         f"s.setsockopt(socket.IPPROTO_IP,socket.IP_MULTICAST_IF,socket.inet_aton('{src}'));"
         f"s.sendto(b'{data}',('{GROUP}',5000))")


def test_kernel_learns_our_source_join_and_only_that_source_is_delivered(
        tmp_path: Path) -> None:
    pcap = tmp_path / "ssm.pcap"
    with fresh_netns("kame-ssm") as ns:
        dev = "kss0"
        ipns(ns, "ip", "tuntap", "add", "dev", dev, "mode", "tap")
        child = Child(ns, dev, {"addr": f"{OURS}/24", "pcap": str(pcap),
                                "knobs": {"net.link.ether.inet.dad_count": 0}})
        try:
            ipns(ns, "ip", "link", "set", "lo", "up")
            ipns(ns, "ip", "link", "add", "kbr0", "type", "bridge", "mcast_snooping", "1",
                 "mcast_querier", "1", "mcast_query_use_ifaddr", "1",
                 "mcast_igmp_version", "3", "mcast_query_interval", "300",
                 "mcast_query_response_interval", "100", "mcast_startup_query_interval", "100",
                 "mcast_last_member_interval", "50", "mcast_membership_interval", "2000",
                 "mcast_querier_interval", "1000")
            ipns(ns, "ip", "link", "set", dev, "master", "kbr0")
            ipns(ns, "ip", "link", "set", dev, "up")
            ipns(ns, "ip", "link", "set", "kbr0", "up")
            ipns(ns, "ip", "addr", "add", f"{KERNEL}/24", "dev", "kbr0")
            ipns(ns, "ip", "addr", "add", f"{KERNEL2}/24", "dev", "kbr0")
            child.send("up")
            assert "ready" in child.read()
            s = child.cmd(cmd="udp", family=2, bind=["0.0.0.0", 5000])["sock"]
            assert child.cmd(cmd="sockopt", sock=s, level=0, opt=IP_ADD_SOURCE_MEMBERSHIP,
                             hex=msrc(GROUP, KERNEL)) == {"ok": True}
            # the kernel learns (KERNEL, GROUP) on our port, and keeps it through its queries
            assert until(lambda: sg_entries(ns, dev) == {KERNEL}, 40, child), \
                sg_entries(ns, dev)
            assert until(lambda: child.cmd(cmd="state")["stats"].get(
                "igps_rcv_gen_queries", 0) >= 2, 40, child)
            assert sg_entries(ns, dev) == {KERNEL}
            # the bridge floods from now on: our filter alone decides
            ipns(ns, "ip", "link", "set", "kbr0", "type", "bridge", "mcast_snooping", "0")
            got: list[str] = []

            def heard() -> bool:
                send_from(ns, KERNEL2, "other source")
                send_from(ns, KERNEL, "joined source")
                got.extend(d for d, _a in child.cmd(cmd="recv", sock=s, wait=0.3)["data"])
                return "joined source" in got

            assert until(heard, 30, child), got
            assert "other source" not in got  # it reached our TAP (below) and was refused
            ipns(ns, "ip", "link", "set", "kbr0", "type", "bridge", "mcast_snooping", "1")
            assert child.cmd(cmd="sockopt", sock=s, level=0, opt=IP_DROP_SOURCE_MEMBERSHIP,
                             hex=msrc(GROUP, KERNEL)) == {"ok": True}
            assert until(lambda: not sg_entries(ns, dev), 40, child), sg_entries(ns, dev)
            child.cmd(cmd="wait", s=1.5)  # the BLOCK's retransmission
        finally:
            child.close()
    res = subprocess.run(["tshark", "-r", str(pcap), "-Y", "igmp && eth.src == 02:00:00:00:09:02",
                          "-o", "ip.check_checksum:TRUE",
                          "-T", "fields", "-e", "igmp.version", "-e", "igmp.record_type",
                          "-e", "igmp.maddr", "-e", "igmp.saddr",
                          "-e", "igmp.checksum.status", "-e", "_ws.malformed",
                          "-e", "_ws.expert.severity", "-e", "ip.checksum.status"],
                         capture_output=True, text=True, timeout=120, check=True)
    other = subprocess.run(["tshark", "-r", str(pcap), "-Y",
                            f"udp && ip.src == {KERNEL2} && ip.dst == {GROUP}"],
                           capture_output=True, text=True, timeout=120, check=True).stdout
    assert other.strip(), "the kernel's datagram from the other source never reached our node"
    rows = [line.split("\t") for line in res.stdout.splitlines()]
    recs = {(r[1], r[2], r[3]) for r in rows}
    assert ("5", GROUP, KERNEL) in recs, rows  # ALLOW_NEW_SOURCES
    assert ("1", GROUP, KERNEL) in recs, rows  # MODE_IS_INCLUDE, answering a query
    assert ("6", GROUP, KERNEL) in recs, rows  # BLOCK_OLD_SOURCES
    assert not any(r[1] in ("2", "4") for r in rows), rows  # never an any-source record
    bad = [r for r in rows if r[0] != "3" or r[4] != "1" or r[5] or r[7] != "1"
           or (r[6] and int(r[6].split(",")[0]) >= 0x00800000)]
    assert not bad, rows
