"""Our node as a router between two Linux network namespaces, over two TAP
devices (seed §1.3, §1.4.2, §1.9; RFC 4443, 4861 §8, 8200, 8201).

    ns nodefwd-a                         ns nodefwd-b
    kernel A  2001:db8:a::2  (bridge) ── tap ── kame node ── tap ── kernel B 2001:db8:b::2
              └─ veth ── ns nodefwd-c: kernel C, fe80::c, 2001:db8:c::1 (a second router)

The kame node runs in a child process that opens one TAP device in each
namespace (``setns`` between the two ``TUNSETIFF`` calls) and is driven by
the monotonic clock. The kernels are the independent peers:

- kernel A pings kernel B through us;
- ``ping -t 1`` from A gets our Time Exceeded (code 0, hop limit);
- with MTU 1280 on the B side, A's ``ping -M do -s 1400`` gets our Packet
  Too Big, and A's route cache (``ip -6 route get``) then shows mtu 1280;
- A pings 2001:db8:c::1, which we route via C on the same link: we forward
  and send A a Redirect, and A's kernel installs ``via fe80::c``;
- ``ping -s 3000`` to our own address arrives in fragments from A's kernel,
  which we reassemble and answer (our reply fragmented to the path MTU).

Skipped when not root.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from netns_rig import ipns
from router_rig import RouterRig, namespaces, router, wait_kernel_ready

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

NS_A, NS_B, NS_C = "nodefwd-a", "nodefwd-b", "nodefwd-c"
TAP_A, TAP_B, BR, VETH_A, VETH_C = "nodefwda", "nodefwdb", "nodefwdbr", "nodefwdva", "nodefwdvc"
MAC_A, MAC_B = "02:00:00:00:fd:0a", "02:00:00:00:fd:0b"
LL_A, LL_B = "fe80::ff:fe00:fd0a", "fe80::ff:fe00:fd0b"  # our EUI-64 link-locals
OUR_A, OUR_B = "2001:db8:a::1", "2001:db8:b::1"
KERN_A, KERN_B, KERN_C = "2001:db8:a::2", "2001:db8:b::2", "2001:db8:c::1"
MTU_B = 1280


class Rig(RouterRig):
    def stats(self) -> dict[str, Any]:
        return self.state()


def links_up() -> None:
    for dev in (TAP_A, VETH_A, BR):
        ipns(NS_A, "ip", "link", "set", dev, "up")
    ipns(NS_A, "ip", "-6", "addr", "add", KERN_A + "/64", "dev", BR, "nodad")
    ipns(NS_B, "ip", "link", "set", TAP_B, "up")
    ipns(NS_B, "ip", "-6", "addr", "add", KERN_B + "/64", "dev", TAP_B, "nodad")
    ipns(NS_C, "ip", "link", "set", VETH_C, "up")
    ipns(NS_C, "ip", "-6", "addr", "add", "fe80::c/64", "dev", VETH_C, "nodad")
    ipns(NS_C, "ip", "-6", "addr", "add", "2001:db8:a::3/64", "dev", VETH_C, "nodad")
    ipns(NS_C, "ip", "-6", "addr", "add", KERN_C + "/128", "dev", "lo")


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    with namespaces(NS_A, NS_B, NS_C):
        # link A: a bridge joining our TAP, kernel A and (over a veth) kernel C
        ipns(NS_A, "ip", "tuntap", "add", "dev", TAP_A, "mode", "tap")
        ipns(NS_A, "ip", "link", "add", BR, "type", "bridge", "stp_state", "0",
             "mcast_snooping", "0")
        ipns(NS_A, "ip", "link", "add", VETH_A, "type", "veth", "peer", "name", VETH_C)
        ipns(NS_A, "ip", "link", "set", VETH_C, "netns", NS_C)
        for dev in (TAP_A, VETH_A):
            ipns(NS_A, "ip", "link", "set", dev, "master", BR)
        ipns(NS_A, "sysctl", "-qw", f"net.ipv6.conf.{BR}.accept_ra=0")
        ipns(NS_B, "ip", "tuntap", "add", "dev", TAP_B, "mode", "tap")
        ipns(NS_B, "ip", "link", "set", TAP_B, "mtu", str(MTU_B))
        ipns(NS_B, "sysctl", "-qw", f"net.ipv6.conf.{TAP_B}.accept_ra=0")
        cfg = {
            "name": "kame-fwd", "seed": 17,
            "knobs": {"net.inet6.ip6.forwarding": 1, "net.inet6.icmp6.nd6_maxqueuelen": 4},
            "devs": [
                {"ns": NS_A, "name": TAP_A, "mac": MAC_A, "mtu": 1500, "addr": OUR_A + "/64"},
                {"ns": NS_B, "name": TAP_B, "mac": MAC_B, "mtu": MTU_B, "addr": OUR_B + "/64"},
            ],
            "routes": [["2001:db8:c::/64", "fe80::c", TAP_A]],
        }
        with router(cfg, links_up) as r:
            ipns(NS_A, "ip", "-6", "route", "add", "default", "via", LL_A, "dev", BR)
            ipns(NS_B, "ip", "-6", "route", "add", "default", "via", LL_B, "dev", TAP_B)
            for ns in (NS_A, NS_B, NS_C):
                wait_kernel_ready(ns)
            yield Rig(r.child, r.pcaps)


def test_kernel_pings_kernel_through_our_router(rig: Rig) -> None:
    before = rig.stats()["stats"].get("ip6s_forward", 0)
    p = ipns(NS_A, "ping", "-6", "-c", "3", "-i", "0.3", "-W", "3", KERN_B, check=False)
    assert p.returncode == 0 and " 0% packet loss" in p.stdout, p.stdout + p.stderr
    # the kernel in B saw the request with the hop limit we decremented
    assert "ttl=63" in p.stdout or "hlim=63" in p.stdout, p.stdout
    assert rig.stats()["stats"]["ip6s_forward"] >= before + 6


def test_hop_limit_one_gets_our_time_exceeded(rig: Rig) -> None:
    p = ipns(NS_A, "ping", "-6", "-c", "1", "-t", "1", "-W", "3", KERN_B, check=False)
    assert p.returncode != 0
    assert f"From {OUR_A}" in p.stdout and "Time exceeded" in p.stdout, p.stdout + p.stderr
    assert rig.stats()["outhist"].get("3", 0) >= 1


def test_small_mtu_on_b_gives_packet_too_big_and_the_kernel_caches_it(rig: Rig) -> None:
    p = ipns(NS_A, "ping", "-6", "-c", "1", "-s", "1400", "-M", "do", "-W", "3", KERN_B,
             check=False)
    assert "Packet too big" in p.stdout or "mtu=1280" in p.stdout + p.stderr, p.stdout + p.stderr
    route = ipns(NS_A, "ip", "-6", "route", "get", KERN_B).stdout
    assert "mtu 1280" in route, route
    # the kernel now fragments to 1280; we forward the fragments, B answers
    p = ipns(NS_A, "ping", "-6", "-c", "2", "-i", "0.3", "-s", "1400", "-W", "3", KERN_B,
             check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert rig.stats()["outhist"].get("2", 0) >= 1


def test_a_packet_we_must_redirect_makes_the_kernel_install_the_redirect(rig: Rig) -> None:
    before = ipns(NS_A, "ip", "-6", "route", "get", KERN_C).stdout
    assert f"via {LL_A}" in before, before
    p = ipns(NS_A, "ping", "-6", "-c", "3", "-i", "0.3", "-W", "3", KERN_C, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    after = ipns(NS_A, "ip", "-6", "route", "get", KERN_C).stdout
    assert "via fe80::c" in after, after
    s = rig.stats()
    assert s["stats"].get("ip6s_redirectsent", 0) >= 1
    assert s["outhist"].get("137", 0) >= 1


def test_kernel_fragments_are_reassembled_and_answered(rig: Rig) -> None:
    before = rig.stats()["stats"]
    p = ipns(NS_A, "ping", "-6", "-c", "2", "-i", "0.3", "-s", "3000", "-W", "3", OUR_A,
             check=False)
    assert p.returncode == 0 and " 0% packet loss" in p.stdout, p.stdout + p.stderr
    assert "3008 bytes from" in p.stdout, p.stdout
    after = rig.stats()["stats"]
    assert after["ip6s_reassembled"] >= before.get("ip6s_reassembled", 0) + 2
    assert after["ip6s_fragmented"] >= before.get("ip6s_fragmented", 0) + 2


SNIFF_RH0 = r"""
import json, sys, time
from scapy.all import (AsyncSniffer, ICMPv6EchoRequest, ICMPv6ParamProblem, IPv6,
                       IPv6ExtHdrRouting, conf, send)
conf.verb = 0
src, dst, via, iface = sys.argv[1:5]
s = AsyncSniffer(iface=iface, lfilter=lambda p: ICMPv6ParamProblem in p, count=1)
s.start()
time.sleep(0.5)
send(IPv6(src=src, dst=dst) / IPv6ExtHdrRouting(type=0, segleft=1, addresses=[via])
     / ICMPv6EchoRequest(id=0x8200, data=b"transit"), iface=iface)
s.join(timeout=6)
if s.running:
    s.stop()
print(json.dumps([[p[IPv6].src, p[ICMPv6ParamProblem].code, p[ICMPv6ParamProblem].ptr]
                  for p in s.results or []]))
"""


def test_routing_header_type_0_crosses_us_and_kernel_b_judges_it(rig: Rig) -> None:
    """RFC 8200 §4: a Routing header is the destination's business. A
    type 0 header with Segments Left 1 from kernel A to kernel B crosses
    us untouched; kernel B (RFC 5095) answers Parameter Problem code 0 at
    the Routing Type (offset 42), through us."""
    before = rig.stats()["stats"]
    p = ipns(NS_A, sys.executable, "-c", SNIFF_RH0, KERN_A, KERN_B, "2001:db8:b::99", BR,
             check=False, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert json.loads(p.stdout.strip().splitlines()[-1]) == [[KERN_B, 0, 42]], p.stdout
    after = rig.stats()["stats"]
    assert after.get("ip6s_badoptions", 0) == before.get("ip6s_badoptions", 0)
    assert after["ip6s_forward"] >= before.get("ip6s_forward", 0) + 2  # there and back
