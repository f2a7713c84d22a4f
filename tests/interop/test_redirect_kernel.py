"""ICMP Redirects (kame.inet) from a Linux kernel router: our node's
default router is the kernel, which forwards a datagram back out the
interface it came in on (to another router on the same link) and sends
us a Redirect; we install the host route to the better first hop, as
RFC 1122 §3.2.2.2 asks. The node runs in a child process
(``inet_tapnode.py``)."""

from __future__ import annotations

import pytest
from netns_rig import ipns
from test_inet_kernel import FAST, KERNEL, rig

pytestmark = [pytest.mark.interop, pytest.mark.root]

OTHER_ROUTER = "10.9.0.3"
FAR = "10.9.5.5"


def test_kernel_router_redirects_us_to_the_better_first_hop() -> None:
    with rig({"knobs": FAST, "gw": KERNEL}) as (ns, child):
        ipns(ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        ipns(ns, "sysctl", "-qw", "net.ipv4.conf.all.send_redirects=1")
        ipns(ns, "sysctl", "-qw", "net.ipv4.conf.kin0.send_redirects=1")
        ipns(ns, "ip", "neigh", "replace", OTHER_ROUTER, "lladdr", "02:00:00:00:09:33",
             "dev", "kin0", "nud", "permanent")
        ipns(ns, "ip", "route", "add", "10.9.5.0/24", "via", OTHER_ROUTER, "dev", "kin0")
        before = child.cmd(cmd="state")
        assert [r for r in before["routes"] if r[0].startswith(FAR)] == []
        st = before
        for _ in range(20):  # the first may wait for ARP; the kernel's own rate limit
            child.cmd(cmd="ping", dst=FAR, count=1, after=0.5)
            st = child.cmd(cmd="state")
            if st["stats"].get("rts_dynamic"):
                break
        routes = st["routes"]
    assert [FAR + "/32", OTHER_ROUTER, "kin0"] in routes, (routes, st["stats"])
    assert st["stats"]["rts_dynamic"] >= 1 and not st["stats"].get("rts_badredirect"), st["stats"]
