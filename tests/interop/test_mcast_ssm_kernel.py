"""Source-specific multicast (RFC 4604) against the Linux kernel, IGMPv3
(kame.inet.igmp, RFC 3376) and MLDv2 (kame.mld6, RFC 3810) alike: our
node's TAP is a port of a kernel bridge that snoops IGMPv3 and MLDv2 and is
the querier for both (``snoop_rig.py``). A source-specific join
(``IP_ADD_SOURCE_MEMBERSHIP``; RFC 3678's ``MCAST_JOIN_SOURCE_GROUP`` on an
AF_INET6 socket) is learnt by the kernel as an (S,G) entry on our port and
kept through its queries; a kernel sender from two source addresses
reaches our socket only from the joined one, even when the bridge floods
(snooping off) so that our own filter has to refuse the other; dropping
the source removes the entry. tshark dissects our reports: ALLOW_NEW_SOURCES
and BLOCK_OLD_SOURCES for the source, MODE_IS_INCLUDE answers, no
any-source record, no malformed or bad-checksum mark. The node runs in a
child process (``inet_tapnode.py``)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from snoop_rig import OUR_MAC, send_from, sg_entries, snoop_rig, until

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

OURS, KERNEL, KERNEL2 = "10.9.8.2", "10.9.8.1", "10.9.8.3"
KERNEL6, KERNEL6B = "2001:db8:98::1", "2001:db8:98::3"
IP_ADD_SOURCE_MEMBERSHIP, IP_DROP_SOURCE_MEMBERSHIP = 39, 40
MCAST_JOIN_SOURCE_GROUP, MCAST_LEAVE_SOURCE_GROUP = 46, 47  # Linux's, at IPPROTO_IPV6
#: family -> (group in the SSM range (RFC 4607, RFC 4291 §2.7), joined source,
#: the other source, sockopt level, join and leave options, tshark fields)
CASES = {
    "igmpv3": ("232.7.7.7", KERNEL, KERNEL2, 0, IP_ADD_SOURCE_MEMBERSHIP,
               IP_DROP_SOURCE_MEMBERSHIP,
               ("igmp", "igmp.version", "igmp.record_type", "igmp.maddr", "igmp.saddr",
                "igmp.checksum.status", "ip.checksum.status", "igmp.num_src")),
    "mldv2": ("ff3e::4321", KERNEL6, KERNEL6B, 41, MCAST_JOIN_SOURCE_GROUP,
              MCAST_LEAVE_SOURCE_GROUP,
              ("icmpv6.type == 143", "icmpv6.type", "icmpv6.mldr.mar.record_type",
               "icmpv6.mldr.mar.multicast_address", "icmpv6.mldr.mar.source_address",
               "icmpv6.checksum.status", "ipv6.hlim",  # hop limit 1 (RFC 3810 §5)
               "icmpv6.mldr.mar.nb_sources")),
}


def msrc(group: str, source: str) -> str:
    """Linux's ``struct ip_mreq_source``: group, interface, source."""
    def a(x: str) -> str:
        return bytes(int(o) for o in x.split(".")).hex()
    return a(group) + "00000000" + a(source)


def gsr(group: str, source: str) -> str:
    """Linux's ``struct group_source_req`` (interface 0: the route to the group)."""
    from kame.socket.inctl import group_source_req
    return group_source_req(0, group, source, "linux").hex()


@pytest.mark.parametrize("proto", sorted(CASES))
def test_kernel_learns_our_source_join_and_only_that_source_is_delivered(
        tmp_path: Path, proto: str) -> None:
    group, joined, other, level, join, drop, fields = CASES[proto]
    v6 = level == 41
    req = gsr(group, joined) if v6 else msrc(group, joined)
    pcap = tmp_path / "ssm.pcap"
    dev = "kss0"
    with snoop_rig("kame-ssm", dev, pcap, OURS,
                   [f"{KERNEL}/24", f"{KERNEL2}/24", f"{KERNEL6}/64", f"{KERNEL6B}/64"]
                   ) as (ns, child):
        s = child.cmd(cmd="udp", family=10 if v6 else 2,
                      bind=["::" if v6 else "0.0.0.0", 5000])["sock"]
        assert child.cmd(cmd="sockopt", sock=s, level=level, opt=join, hex=req) == {"ok": True}
        # the kernel learns (joined, group) on our port, and keeps it through its queries
        assert until(lambda: sg_entries(ns, dev, group) == {joined}, 40, child), \
            sg_entries(ns, dev, group)
        if v6:  # no MLD query counter: past two of the bridge's 3 s query intervals
            child.cmd(cmd="wait", s=7)
        else:
            assert until(lambda: child.cmd(cmd="state")["stats"].get(
                "igps_rcv_gen_queries", 0) >= 2, 40, child)
        assert sg_entries(ns, dev, group) == {joined}
        # the bridge floods from now on: our filter alone decides
        ipns_flood(ns, False)
        got: list[str] = []

        def heard() -> bool:
            send_from(ns, other, group, "other source")
            send_from(ns, joined, group, "joined source")
            got.extend(d for d, _a in child.cmd(cmd="recv", sock=s, wait=0.3)["data"])
            return "joined source" in got

        assert until(heard, 30, child), got
        assert "other source" not in got  # it reached our TAP (below) and was refused
        ipns_flood(ns, True)
        assert child.cmd(cmd="sockopt", sock=s, level=level, opt=drop, hex=req) == {"ok": True}
        assert until(lambda: not sg_entries(ns, dev, group), 40, child), \
            sg_entries(ns, dev, group)
        child.cmd(cmd="wait", s=1.5)  # the BLOCK's retransmission
        st = child.cmd(cmd="state")["stats"]
    assert st.get("ip6s_notmember" if v6 else "ips_notmember", 0) >= 1, st
    flt, *cols = fields
    res = subprocess.run(["tshark", "-r", str(pcap), "-Y", f"{flt} && eth.src == {OUR_MAC}",
                          "-o", "ip.check_checksum:TRUE", "-T", "fields", "-E", "aggregator=;",
                          *[x for c in [*cols, "_ws.malformed", "_ws.expert.severity"]
                            for x in ("-e", c)]],
                         capture_output=True, text=True, timeout=120, check=True)
    srcf = "ipv6.src" if v6 else "ip.src"
    dstf = "ipv6.dst" if v6 else "ip.dst"
    other_seen = subprocess.run(["tshark", "-r", str(pcap), "-Y",
                                 f"udp && {srcf} == {other} && {dstf} == {group}"],
                                capture_output=True, text=True, timeout=120, check=True).stdout
    assert other_seen.strip(), "the kernel's datagram from the other source never reached us"
    rows = [line.split("\t") for line in res.stdout.splitlines()]
    # one report may hold several records: types, groups, source counts and
    # the sources of them all, each ;-joined
    recs = set()
    for r in rows:
        flat = [x for x in r[3].split(";") if x]
        for t, g, n in zip(r[1].split(";"), r[2].split(";"), r[6].split(";"), strict=True):
            mine, flat = flat[:int(n or 0)], flat[int(n or 0):]
            recs |= {(t, g, x) for x in mine} or {(t, g, "")}
    assert ("5", group, joined) in recs, rows  # ALLOW_NEW_SOURCES
    assert ("1", group, joined) in recs, rows  # MODE_IS_INCLUDE, answering a query
    assert ("6", group, joined) in recs, rows  # BLOCK_OLD_SOURCES
    # never an any-source record for the group
    assert not any(t in ("2", "4") and g == group for t, g, _s in recs), rows
    ver = "143" if v6 else "3"
    bad = [r for r in rows if r[0] != ver or r[4] != "1" or r[5] != "1" or r[7]
           or (r[8] and int(r[8].split(";")[0].split(",")[0]) >= 0x00800000)]
    assert not bad, rows


def ipns_flood(ns: str, snooping: bool) -> None:
    from netns_rig import ipns
    ipns(ns, "ip", "link", "set", "kbr0", "type", "bridge", "mcast_snooping",
         "1" if snooping else "0")
