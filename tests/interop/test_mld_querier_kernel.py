"""Our node as MLD querier (kame.mld6_router, RFC 3810 §7) against Linux:
the node's TAP is a port of a kernel bridge (``snoop_rig.py``) that snoops
MLD and runs its own querier. Kernel listeners (a ``python3`` socket in
the namespace: ``IPV6_JOIN_GROUP`` and ``MCAST_JOIN_SOURCE_GROUP``) answer
our General Queries; our listening state shows their addresses and
source; when they leave, our Multicast-Address-Specific and -and-Source-
Specific queries go out and the state is gone after the Last Listener
Query Time. Querier election against the bridge's querier: the lower
link-local address wins either way (the bridge's own ``ip -d link`` says
whom it takes for the querier). tshark reads every query we sent: hop
limit 1, Router Alert, good checksum, nothing malformed. (iproute2 6.1
does not print the bridge's querier state, ``mcast_querier_state_ipv6``:
what it decided is read from the capture, where its queries stop or go on.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from netns_rig import ipns
from snoop_rig import OUR_MAC, snoop_rig, until
from test_inet_kernel import Child

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

OURS, KERNEL6, SRC6 = "10.9.7.2", "2001:db8:97::1", "2001:db8:97::5"
ASM, SSM = "ff05::4242", "ff3e::77"
OUR_LL = "fe80::ff:fe00:902"  # from OUR_MAC
#: short intervals: Query Interval 8 s, QRI 2 s, LLQI 0.5 s (LLQT 1 s)
KNOBS = {"net.inet6.mld.query_interval": 8,
         "net.inet6.mld.query_response_interval": 2000,
         "net.inet6.mld.last_listener_query_interval": 500,
         "net.inet6.mld.querier": 2}  # last: it starts the querier

LISTENER = f"""
import socket, struct, sys
idx = socket.if_nametoindex('kbr0')
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
             socket.inet_pton(socket.AF_INET6, '{ASM}') + struct.pack('=I', idx))
def ss(a):
    return struct.pack('=H', socket.AF_INET6) + bytes(6) + socket.inet_pton(socket.AF_INET6, a) \\
        + bytes(4) + bytes(128 - 28)
s.setsockopt(socket.IPPROTO_IPV6, 46, struct.pack('=I', idx) + bytes(4) + ss('{SSM}') + ss('{SRC6}'))
print('joined', flush=True)
sys.stdin.read()
"""


def state(child: Child) -> dict[str, Any]:
    (st,) = child.cmd(cmd="state")["mld"]
    return st


def groups(child: Child) -> dict[str, Any]:
    return {g["group"]: g for g in state(child)["groups"]}


def queries(pcap: Path) -> list[dict[str, str]]:
    """Every MLD Query on the link, ours and the bridge's, as tshark reads them."""
    fields = ["frame.time_relative", "eth.src", "icmpv6.mld.multicast_address",
              "icmpv6.mld.nb_sources", "ipv6.hlim", "ipv6.opt.router_alert",
              "icmpv6.checksum.status", "_ws.malformed", "_ws.expert.severity"]
    res = subprocess.run(["tshark", "-r", str(pcap), "-Y", "icmpv6.type == 130", "-T",
                          "fields", "-E", "occurrence=f", *[x for f in fields for x in ("-e", f)]],
                         capture_output=True, text=True, timeout=120, check=True)
    return [dict(zip(fields, ln.split("\t"), strict=True)) for ln in res.stdout.splitlines()]


def general(rows: list[dict[str, str]], ours: bool) -> list[float]:
    return [float(r["frame.time_relative"]) for r in rows
            if r["icmpv6.mld.multicast_address"] == "::" and (r["eth.src"] == OUR_MAC) == ours]


def set_bridge_mac(ns: str, mac: str) -> None:
    """The bridge's link-local address comes from this MAC (down/up
    remakes it)."""
    ipns(ns, "ip", "link", "set", "kbr0", "down")
    ipns(ns, "ip", "link", "set", "kbr0", "address", mac)
    ipns(ns, "ip", "link", "set", "kbr0", "up")
    ipns(ns, "ip", "addr", "add", f"{KERNEL6}/64", "dev", "kbr0", "nodad", check=False)


def test_we_query_kernel_listeners_and_win_the_election(tmp_path: Path) -> None:
    pcap = tmp_path / "mldq.pcap"
    dev = "kmq0"
    with snoop_rig("kame-mldq", dev, pcap, OURS, [f"{KERNEL6}/64"]) as (ns, child):
        set_bridge_mac(ns, "02:00:00:00:ff:01")  # fe80::ff:fe00:ff01: higher than ours
        for k, v in KNOBS.items():
            child.cmd(cmd="knob", name=k, value=v)
        lis = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", LISTENER],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert lis.stdout is not None and "joined" in lis.stdout.readline()
            assert until(lambda: ASM in groups(child) and SSM in groups(child), 60, child), \
                state(child)
            st = state(child)
            assert st["is_querier"] and st["querier"] == OUR_LL
            gs = groups(child)
            assert gs[ASM]["mode"] == "exclude"
            assert gs[SSM]["mode"] == "include"
            assert [s["addr"] for s in gs[SSM]["sources"]] == [SRC6]
            child.cmd(cmd="wait", s=7)  # > two of the bridge's 3 s query intervals
        finally:
            assert lis.stdin is not None
            lis.stdin.close()  # the listener leaves: TO_IN({}) / BLOCK
            lis.wait(timeout=30)
        assert until(lambda: ASM not in groups(child) and SSM not in groups(child), 30, child), \
            state(child)
        stats = child.cmd(cmd="state")["stats"]
        child.cmd(cmd="wait", s=0.5)
    assert stats.get("mlds_snd_group_queries", 0) >= 1, stats
    assert stats.get("mlds_snd_gsr_queries", 0) >= 1, stats
    assert stats.get("mlds_rcv_reports", 0) >= 2, stats
    every = queries(pcap)
    # the bridge (3 s query interval) heard our queries from a lower address
    # and fell silent: its General Queries stop a second after our first one
    # that follows one of its own (before, it has no querier address of its
    # own to compare: Linux's br_ip6_multicast_select_querier)
    b0 = min(general(every, False), default=0.0)  # none: silent from the start
    first = min(t for t in general(every, True) if t > b0)
    assert not [t for t in general(every, False) if t > first + 1.0], every
    # the kernel answers our General Query (not the bridge's: none within its
    # 1 s Maximum Response Delay) with Current-State records, MODE_IS_EXCLUDE
    # for the any-source group
    res = subprocess.run(["tshark", "-r", str(pcap), "-Y",
                          f"icmpv6.type == 143 && eth.src != {OUR_MAC}", "-T", "fields",
                          "-E", "aggregator=;", "-e", "frame.time_relative",
                          "-e", "icmpv6.mldr.mar.record_type",
                          "-e", "icmpv6.mldr.mar.multicast_address"],
                         capture_output=True, text=True, timeout=120, check=True)
    bridge_gq = general(every, False)
    answers = []
    for ln in res.stdout.splitlines():
        t, types, addrs = ln.split("\t")
        recs = set(zip(types.split(";"), addrs.split(";"), strict=True))
        if ("2", ASM) in recs and not [b for b in bridge_gq if t and 0 <= float(t) - b < 1.05]:
            answers.append(float(t))
    assert [t for t in answers if any(0 < t - q <= 2.2 for q in general(every, True))], \
        res.stdout
    rows = [r for r in every if r["eth.src"] == OUR_MAC]
    kinds = set()
    for r in rows:
        assert r["ipv6.hlim"] == "1" and r["ipv6.opt.router_alert"] == "0", r
        assert r["icmpv6.checksum.status"] == "1" and not r["_ws.malformed"], r
        assert not r["_ws.expert.severity"], r
        kinds.add("general" if r["icmpv6.mld.multicast_address"] == "::" else
                  "gsr" if r["icmpv6.mld.nb_sources"] not in ("", "0") else "group")
    assert kinds == {"general", "group", "gsr"}, kinds
    assert len(rows) >= stats["mlds_snd_gen_queries"] + stats["mlds_snd_group_queries"] \
        + stats["mlds_snd_gsr_queries"]


def test_the_bridge_with_the_lower_address_is_querier(tmp_path: Path) -> None:
    pcap = tmp_path / "mldq2.pcap"
    dev = "kmq1"
    with snoop_rig("kame-mldq2", dev, pcap, OURS, [f"{KERNEL6}/64"]) as (ns, child):
        set_bridge_mac(ns, "02:00:00:00:00:01")  # fe80::ff:fe00:1: lower than ours
        # the bridge queries first: a Linux bridge whose own querier has not
        # started takes any querier it hears, whatever its address
        # (br_ip6_multicast_select_querier with no timer pending), and ours,
        # every 8 s, would keep it quiet for good
        child.cmd(cmd="wait", s=3)
        for k, v in KNOBS.items():
            child.cmd(cmd="knob", name=k, value=v)
        assert until(lambda: not state(child)["is_querier"], 60, child), state(child)
        st = state(child)
        assert st["querier"] == "fe80::ff:fe00:1", st
        assert 0 < st["other_querier_timer"] <= 2 * 8 + 1
        stats = child.cmd(cmd="state")["stats"]
        assert stats.get("mlds_querier_lost", 0) >= 1 and stats.get("mlds_rcv_gen_queries", 0)
        child.cmd(cmd="wait", s=10)  # > an 8 s Query Interval of ours
        assert not state(child)["is_querier"]
    every = queries(pcap)
    # the bridge keeps querying; we sent our Startup Query at most, then fell silent
    assert len(general(every, False)) >= 3, every
    last_bridge = max(general(every, False))
    ours = general(every, True)
    assert len(ours) <= 1 and all(t < last_bridge for t in ours), every


def test_an_older_version_bridge_querier_is_kept_counted_and_not_followed(tmp_path: Path
                                                                          ) -> None:
    """RFC 3810 §8.3.1, RFC 3376 §7.3.1: a Linux bridge querying in MLDv1
    and IGMPv2 (``mcast_mld_version 1``, ``mcast_igmp_version 2``) from
    lower addresses on the link of our MLDv2 and IGMPv3 queriers. Its
    queries are counted (``mlds_rcv_oldqueries``,
    ``igps_rtr_rcv_oldqueries``) and kept with the link's state (``kame mld
    show``/``kame igmp show`` print the older querier and the knob to set);
    we change no version by ourselves (as no router does): what we sent
    stayed MLDv2."""
    from kame.cli.tools import format_mld

    pcap = tmp_path / "mldq3.pcap"
    with snoop_rig("kame-mldq3", "kmq3", pcap, OURS, [f"{KERNEL6}/64", "10.9.7.1/24"],
                   mld_version=1, igmp_version=2) as (ns, child):
        set_bridge_mac(ns, "02:00:00:00:00:01")  # fe80::ff:fe00:1: lower than ours
        child.cmd(cmd="wait", s=3)
        for k, v in {**KNOBS, "net.inet.igmp.query_interval": 8,
                     "net.inet.igmp.query_response_interval": 2000,
                     "net.inet.igmp.querier": 2}.items():
            child.cmd(cmd="knob", name=k, value=v)

        def older() -> tuple[Any, Any]:
            st = child.cmd(cmd="state")
            (m,) = st["mld"]
            (i,) = st["igmp"] or [{}]
            return m.get("older_querier"), i.get("older_querier")

        assert until(lambda: all(o and o["queries"] >= 2 for o in older()), 60, child), older()
        st = child.cmd(cmd="state")
        o6, o4 = older()
        assert o6["addr"] == "fe80::ff:fe00:1" and o6["version"] == 1, o6
        assert o4["addr"] == "10.9.7.1" and o4["version"] == 2, o4
        s = st["stats"]
        assert s["mlds_rcv_oldqueries"] >= o6["queries"] >= 2, s
        assert s["igps_rtr_rcv_oldqueries"] >= o4["queries"] >= 2, s
        text6 = format_mld({"links": st["mld"], "mroute": {}, "stats": {}}, None, False, "mld")
        assert "\tolder querier fe80::ff:fe00:1 (MLDv1, " in text6, text6
        assert "set net.inet6.mld.version to 1" in text6, text6
        text4 = format_mld({"links": st["igmp"], "mroute": {}, "stats": {}}, None, False, "igmp")
        assert "set net.inet.igmp.version to 2" in text4, text4
    every = queries(pcap)
    bridge = [r for r in every if r["eth.src"] != OUR_MAC]
    ours = [r for r in every if r["eth.src"] == OUR_MAC]
    # MLDv1 queries carry no Number of Sources; ours (MLDv2) do
    assert bridge and all(r["icmpv6.mld.nb_sources"] == "" for r in bridge), bridge
    assert all(r["icmpv6.mld.nb_sources"] != "" for r in ours), ours
