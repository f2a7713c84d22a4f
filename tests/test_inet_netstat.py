"""``kame netstat -s -p igmp`` and ``-p ipsec`` (the IPv4 IGMP and IPsec
counters of kame.inet, FreeBSD's ``igmp_stats`` and ``ipsec_stats`` lines)
beside the existing ``-p ip``/``-p icmp`` and ``kame arp -an``, from a node
that joined a group and answered a query."""

from __future__ import annotations

import socket as hostsock

from kame import _core
from kame.cli.tools import format_arp, format_netstat4
from kame.ctl import NodeHost, snap_arp, snap_stats4
from kame.knobs import Knobs
from kame.node import Node
from kame.socket import AF_INET, SOCK_DGRAM, SocketLayer


def test_netstat_igmp_ipsec_ip_icmp_and_arp() -> None:
    n = Node("a", knobs=Knobs({"net.link.ether.inet.dad_count": 0}), seed=1)
    n.add_interface("eth0", bytes.fromhex("02000000000a"))
    n.up("eth0", 0.0)
    n.add_address4("eth0", "192.0.2.1/24", 0.0)
    n.inet.route_add("224.0.0.0/4", None, "eth0")  # the join's route (Linux: else ENODEV)
    n.poll(0.1)
    s = SocketLayer(n, "linux").socket(AF_INET, SOCK_DGRAM)
    s.setsockopt(0, hostsock.IP_ADD_MEMBERSHIP, bytes([239, 1, 1, 1, 0, 0, 0, 0]))
    q = _core.ip_build("192.0.2.9", "224.0.0.1", 2, _core.icmp_build(0x11, 10, 0, bytes(4)),
                       ttl=1, options=b"\x94\x04\x00\x00")
    arp = _core.arp_build(2, bytes.fromhex("020000000009"), "192.0.2.9",
                          bytes.fromhex("02000000000a"), "192.0.2.1")
    n.ping4("192.0.2.9", 0.15)  # an ARP entry waits for the reply below
    n.receive("eth0", bytes.fromhex("02000000000a020000000009") + b"\x08\x06" + arp, 0.2)
    n.receive("eth0", bytes.fromhex("01005e000001020000000009") + b"\x08\x00" + q, 0.3)
    n.poll(2.0)
    host = NodeHost(n)
    st4 = snap_stats4(host)
    igmp = format_netstat4(st4, "igmp").splitlines()
    assert igmp[0] == "igmp:"
    assert "\t1 message received" in igmp and "\t1 V3 membership query received" in igmp
    assert "\t1 general query received" in igmp and "\t0 V1/V2 membership queries received" \
        in igmp
    assert any(line.startswith("\t3 membership reports sent") for line in igmp), igmp
    ipsec = format_netstat4(st4, "ipsec").splitlines()
    assert ipsec[0] == "ipsec:" and "\t0 inbound packets processed successfully" in ipsec
    ip = format_netstat4(st4, "ip").splitlines()
    assert "\t1 packet for this host" in ip
    icmp = format_netstat4(st4, "icmp")
    assert icmp.startswith("icmp:\n")
    arps = format_arp(snap_arp(n, 3.0)).splitlines()
    assert arps[0] == "? (192.0.2.1) at 02:00:00:00:00:0a on eth0 permanent [ethernet]"
    assert arps[1].startswith("? (192.0.2.9) at 02:00:00:00:00:09 on eth0 expires in "), arps


def test_netstat_cli_accepts_igmp_and_ipsec() -> None:
    from kame.cli.tools import NETSTAT4

    assert "igmp" in NETSTAT4 and "ipsec" in NETSTAT4
