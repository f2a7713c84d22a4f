"""IGMP (kame.inet.igmp) against the Linux kernel: our node's TAP is a port
of a kernel bridge that snoops IGMP and is the querier (IGMPv3, then
IGMPv2). The kernel's multicast database learns our group from our
reports and answers to its queries, a kernel multicast sender reaches our
AF_INET socket, a group we did not join never does, our leave removes the
group, and tshark dissects every IGMP message we sent without malformed
or bad-checksum marks. The node runs in a child process
(``inet_tapnode.py``) on the rig the MLD tests share (``snoop_rig.py``)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from snoop_rig import OUR_MAC, mdb, send_from, snoop_rig, until

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

OURS, KERNEL = "10.9.7.2", "10.9.7.1"
GROUP, OTHER = "239.7.7.7", "239.7.7.8"
IP_ADD_MEMBERSHIP, IP_DROP_MEMBERSHIP = 35, 36


def mreq(group: str) -> str:
    return bytes(int(x) for x in group.split(".")).hex() + "00000000"


@pytest.mark.parametrize("igmp_version", [3, 2])
def test_kernel_bridge_snoops_our_reports_and_delivers(tmp_path: Path,
                                                       igmp_version: int) -> None:
    pcap = tmp_path / "igmp.pcap"
    with snoop_rig("kame-igmp", "kig0", pcap, OURS, [f"{KERNEL}/24"],
                   igmp_version=igmp_version) as (ns, child):
        dev = "kig0"
        s = child.cmd(cmd="udp", family=2, bind=["0.0.0.0", 5000])["sock"]
        assert child.cmd(cmd="sockopt", sock=s, level=0, opt=IP_ADD_MEMBERSHIP,
                         hex=mreq(GROUP)) == {"ok": True}
        # the kernel learns GROUP on our port from our reports and answers
        assert until(lambda: any(e.get("grp") == GROUP and e.get("port") == dev
                                 for e in mdb(ns)), 40, child), mdb(ns)
        # ... and keeps it through its queries (answered after a random delay)
        assert until(lambda: child.cmd(cmd="state")["stats"].get(
            "igps_rcv_gen_queries", 0) >= 2, 40, child)
        assert any(e.get("grp") == GROUP for e in mdb(ns)), mdb(ns)
        # a kernel sender reaches our socket; a group we did not join does not
        got: list[str] = []

        def heard() -> bool:
            send_from(ns, KERNEL, GROUP, "hello group")
            send_from(ns, KERNEL, OTHER, "not joined")
            got.extend(d for d, _a in child.cmd(cmd="recv", sock=s, wait=0.3)["data"])
            return "hello group" in got

        assert until(heard, 30, child), got
        assert "not joined" not in got
        # leave: the kernel forgets the group
        assert child.cmd(cmd="sockopt", sock=s, level=0, opt=IP_DROP_MEMBERSHIP,
                         hex=mreq(GROUP)) == {"ok": True}
        assert until(lambda: not any(e.get("grp") == GROUP for e in mdb(ns)), 40,
                     child), mdb(ns)
        st = child.cmd(cmd="state")["stats"]
    assert st["igps_snd_reports"] >= 3 and st["ips_notmember"] >= 1, st
    if igmp_version == 2:
        assert st["igps_rcv_v1v2_queries"] >= 2, st
    else:
        assert st["igps_rcv_v3_queries"] >= 2, st
    res = subprocess.run(["tshark", "-r", str(pcap), "-Y", f"igmp && eth.src == {OUR_MAC}",
                          "-o", "ip.check_checksum:TRUE",
                          "-T", "fields", "-e", "igmp.version", "-e", "igmp.type",
                          "-e", "igmp.checksum.status", "-e", "_ws.malformed",
                          "-e", "_ws.expert.severity", "-e", "ip.checksum.status"],
                         capture_output=True, text=True, timeout=120, check=True)
    rows = [line.split("\t") for line in res.stdout.splitlines()]
    assert len(rows) >= 3, res.stdout
    if igmp_version == 3:
        assert {r[0] for r in rows} == {"3"}, rows
    else:  # the join's first report may precede the v2 querier's first query
        assert {(r[0], r[1]) for r in rows[-2:]} >= {("2", "0x17")}, rows
        assert ("2", "0x16") in {(r[0], r[1]) for r in rows}, rows
    # checksum status 1 is "good" (0 "bad", 2 "unverified")
    bad = [r for r in rows if r[2] != "1" or r[3] or r[5] != "1"
           or (r[4] and int(r[4].split(",")[0]) >= 0x00800000)]
    assert not bad, rows
