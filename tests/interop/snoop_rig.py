"""The rig the IGMP and MLD interop tests share: a fresh namespace whose
kernel bridge ``kbr0`` snoops IGMP and MLD and is the querier for both
(short intervals), our node (``inet_tapnode.py``) on a TAP port of it, the
kernel's addresses on the bridge, and helpers to read the bridge's
multicast database and to send from the kernel. Imported by the test
modules beside it (pytest puts this folder on sys.path)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from netns_rig import fresh_netns, ipns
from test_inet_kernel import Child

#: Our TAP's MAC (inet_tapnode's), as tshark filters on it.
OUR_MAC = "02:00:00:00:09:02"


def until(pred: Callable[[], Any], deadline: float, child: Child) -> bool:
    """``pred`` true within ``deadline`` seconds, the node running meanwhile."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if pred():
            return True
        child.cmd(cmd="wait", s=0.3)
    return bool(pred())


@contextmanager
def snoop_rig(prefix: str, dev: str, pcap: Path, ours4: str, kernel_addrs: list[str], *,
              igmp_version: int = 3, mld_version: int = 2) -> Iterator[tuple[str, Child]]:
    """The namespace and our node, up and ready: ``kernel_addrs`` (with
    their prefix lengths) go on the bridge, IPv6 ones without DAD."""
    with fresh_netns(prefix) as ns:
        ipns(ns, "ip", "tuntap", "add", "dev", dev, "mode", "tap")
        ipns(ns, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0")
        ipns(ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0")
        child = Child(ns, dev, {"addr": f"{ours4}/24", "pcap": str(pcap), "mroute": True,
                                "knobs": {"net.link.ether.inet.dad_count": 0,
                                          "net.inet6.ip6.dad_count": 0}})
        try:
            ipns(ns, "ip", "link", "set", "lo", "up")
            ipns(ns, "ip", "link", "add", "kbr0", "type", "bridge", "mcast_snooping", "1",
                 "mcast_querier", "1", "mcast_query_use_ifaddr", "1",
                 "mcast_igmp_version", str(igmp_version),
                 "mcast_mld_version", str(mld_version), "mcast_query_interval", "300",
                 "mcast_query_response_interval", "100", "mcast_startup_query_interval", "100",
                 "mcast_last_member_interval", "50", "mcast_membership_interval", "2000",
                 "mcast_querier_interval", "1000")
            ipns(ns, "ip", "link", "set", dev, "master", "kbr0")
            ipns(ns, "ip", "link", "set", dev, "up")
            ipns(ns, "ip", "link", "set", "kbr0", "up")
            for a in kernel_addrs:
                ipns(ns, "ip", "addr", "add", a, "dev", "kbr0",
                     *(["nodad"] if ":" in a else []))
            child.send("up")
            assert "ready" in child.read()
            yield ns, child
        finally:
            child.close()


def mdb(ns: str) -> list[dict[str, Any]]:
    """The bridge's multicast database entries."""
    out = ipns(ns, "bridge", "-d", "-j", "mdb", "show", "dev", "kbr0").stdout
    return [e for d in json.loads(out or "[]") for e in d.get("mdb", [])]


def sg_entries(ns: str, dev: str, group: str) -> set[str]:
    """The sources the bridge keeps for ``group`` on our port ((S,G) entries
    and the (*,G) entry's source list)."""
    found: set[str] = set()
    for e in mdb(ns):
        if e.get("grp") != group or e.get("port") != dev:
            continue
        if e.get("src"):
            found.add(str(e["src"]))
        found.update(str(s.get("address")) for s in e.get("source_list", []))
    return found


def send_from(ns: str, src: str, group: str, data: str) -> None:
    """A datagram from the kernel's address ``src`` to ``group`` port 5000
    out of the bridge."""
    if ":" in group:
        ipns(ns, sys.executable, "-c",
             "import socket,struct;s=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM);"
             f"s.bind(('{src}',0));"
             "s.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_MULTICAST_IF,"
             "struct.pack('=i',socket.if_nametoindex('kbr0')));"
             f"s.sendto(b'{data}',('{group}',5000))")
        return
    ipns(ns, sys.executable, "-c",
         "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);"
         f"s.bind(('{src}',0));"
         f"s.setsockopt(socket.IPPROTO_IP,socket.IP_MULTICAST_IF,socket.inet_aton('{src}'));"
         f"s.sendto(b'{data}',('{group}',5000))")
