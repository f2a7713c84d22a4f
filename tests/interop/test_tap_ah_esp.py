"""AH and ESP that no SA opens, answered alike by the Linux kernel and by
our node without a key engine (issue 8 item 2).

The kernel here has AH and ESP compiled out: it is a node without IPsec,
and answers AH and ESP as unknown protocols (Parameter Problem code 1 at
the Next Header field that named them), after processing the headers in
front and nothing behind. Our node without a key engine must answer the
same, never deliver what AH claims to protect.

One namespace (``ahe-*``), two TAP devices: the kernel's (its descriptor
held by linkpeer.py, which writes scapy's frames to the kernel) and our
node's (tapnode.py holds its descriptor; linkpeer.py reaches the node with
an AF_PACKET socket on the kernel side). Each case of
tests/ah_esp_packets.py goes to both, and the answers are compared.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import netns_rig
import pytest
from ah_esp_packets import CASES, ah, echo
from netns_rig import command, fresh_netns, ipns, start_tapnode, stop
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6ParamProblem, IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

LINKPEER = Path(__file__).with_name("linkpeer.py")
PEER, PEER_MAC = "2001:db8:e::2", "02:00:00:00:0e:02"
KERNEL, KERNEL_MAC, KDEV = "2001:db8:e::1", "02:00:00:00:0e:01", "ahek0"
NODE, NODE_MAC, NDEV = "2001:db8:e::3", "02:00:00:00:0e:03", "ahen0"


def answers(frames: list[str], dst: str) -> list[tuple[str, int, int]]:
    """What came back to the peer, as (kind, code, pointer); ND and MLD
    (the link's own chatter) left out."""
    out = []
    for h in frames:
        e = Ether(bytes.fromhex(h))
        if IPv6 not in e or e[IPv6].dst != dst:
            continue
        if ICMPv6ParamProblem in e:
            pp = e[ICMPv6ParamProblem]
            out.append(("param_problem", pp.code, pp.ptr))
        elif ICMPv6EchoReply in e:
            out.append(("echo_reply", 0, 0))
        else:
            out.append((e[IPv6].payload.name, 0, 0))
    return out


def test_kernel_and_node_without_ipsec_answer_ah_and_esp_alike() -> None:
    with fresh_netns("ahe") as ns:
        ipns(ns, "sysctl", "-qw", "net.ipv6.icmp.ratelimit=0")  # one error per case, at once
        node = start_tapnode(ns, NDEV, NODE_MAC, 30.0, {
            "addresses": [f"{NODE}/64"], "neighbors": [[PEER, PEER_MAC]]})
        peer = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, str(LINKPEER)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=netns_rig.child_env())
        try:
            assert command(peer, json.dumps({"op": "open", "how": "tap", "dev": KDEV}))["ok"]
            assert command(peer, json.dumps({"op": "open", "how": "packet", "dev": NDEV}))["ok"]
            for args in (["link", "set", KDEV, "address", KERNEL_MAC],
                         ["link", "set", KDEV, "up"],
                         ["-6", "addr", "add", f"{KERNEL}/64", "dev", KDEV, "nodad"],
                         ["-6", "neigh", "replace", PEER, "lladdr", PEER_MAC, "dev", KDEV,
                          "nud", "permanent"]):
                ipns(ns, "ip", *args)
            deadline = time.monotonic() + 10
            while True:  # our node's addresses out of DAD
                st = command(node, "report")
                if st["addresses"] and all(f & 0x02 == 0 for _, f in st["addresses"]):
                    break
                assert time.monotonic() < deadline, st
                time.sleep(0.2)
            cases: dict[str, Packet] = {k: body for k, (body, _) in CASES.items()}
            cases["ah_to_all_nodes"] = ah(58) / echo(9)  # to ff02::1: no error (RFC 4443 §2.4 e)
            cases["clear_echo"] = echo(10)  # the control: both answer
            got: dict[str, dict[str, list[tuple[str, int, int]]]] = {}
            for name, body in cases.items():
                per = {}
                for who, dev, mac, dst in (("kernel", KDEV, KERNEL_MAC, KERNEL),
                                           ("node", NDEV, NODE_MAC, NODE)):
                    ip_dst = "ff02::1" if name == "ah_to_all_nodes" else dst
                    l2_dst = "33:33:00:00:00:01" if name == "ah_to_all_nodes" else mac
                    f = Ether(src=PEER_MAC, dst=l2_dst) / IPv6(src=PEER, dst=ip_dst) / body
                    res = command(peer, json.dumps({"op": "exchange", "dev": dev,
                                                    "frames": [bytes(f).hex()], "wait": 0.4,
                                                    "from_mac": mac}))
                    per[who] = answers(res["answers"][0], PEER)
                got[name] = per
            state = command(node, "report")
        finally:
            stop(peer)
            stop(node)
    for name, per in got.items():
        assert per["kernel"] == per["node"], (name, per)
        if name in CASES:
            code, ptr = CASES[name][1]
            assert per["node"] == [("param_problem", code, ptr)], (name, per)
    assert got["ah_to_all_nodes"]["node"] == []
    assert got["clear_echo"]["node"] == [("echo_reply", 0, 0)]
    code1 = sum(1 for _, (_, (c, _p)) in CASES.items() if c == 1)
    assert state["stats"]["ip6s_noproto"] == code1 + 1  # and the one to ff02::1
