"""The Linux kernel as a correspondent node of our mobile node (seed §6.2,
RFC 6275 §10.4, §11.3). This kernel has neither Mobile IPv6
(CONFIG_IPV6_MIP6) nor ip6ip6 tunnels (CONFIG_IPV6_TUNNEL), so it is a
plain IPv6 host: it pings the mobile node's home address while the mobile
node is away, and every echo goes through our home agent's tunnel and
comes back through the mobile node's reverse tunnel.

    ns mk-XXXX (kernel, 2001:db8:cc::3)
          │ tap
    our home agent ── c0 2001:db8:cc::1 (in this process, real time)
        ├── h0 home link 2001:db8:aa::/64  (in memory)
        └── f0 foreign link 2001:db8:bb::/64 (in memory) ── our mobile node
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import time
from ipaddress import IPv6Address
from pathlib import Path

import pytest

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from netns_rig import TapPort, fresh_netns, ipns
from test_mip6_ha import HA_H, HOA, Rig

KERNEL = "2001:db8:cc::3"
KERNEL_A = IPv6Address(KERNEL)


def test_kernel_pings_the_mobile_node_away() -> None:
    with fresh_netns("mk") as ns:
        port = TapPort(ns, "mk")
        try:
            dev = port.name
            for cmd in (["sysctl", "-qw", f"net.ipv6.conf.{dev}.accept_dad=0"],
                        ["ip", "link", "set", dev, "up"],
                        ["ip", "-6", "addr", "add", f"{KERNEL}/64", "dev", dev, "nodad"],
                        ["ip", "-6", "route", "replace", "default", "via", "2001:db8:cc::1",
                         "dev", dev]):
                ipns(ns, *cmd)
            r = Rig()
            r.move(r.foreign)
            r.run(10.0)
            assert r.mobile.away and r.mobile.bul[HA_H].state == "bound"
            r.clink.add_tap(lambda _t, f: port.write(f) if f[6:12] == bytes.fromhex(
                "0200000000a2") else None)
            t0, base = time.monotonic(), r.sim.now
            p = subprocess.Popen(["ip", "netns", "exec", ns, "ping", "-6", "-c", "4", "-i", "0.3",
                                  "-W", "3", str(HOA)], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
            while p.poll() is None and time.monotonic() - t0 < 30:
                now = base + time.monotonic() - t0
                for f in port.read_all():
                    r.sim.now = max(r.sim.now, now)
                    r.sim.emit(r.ha, r.ha.receive("c0", f, r.sim.now))
                r.sim.run(now)
                select.select([port], [], [], 0.01)
            out = p.communicate(timeout=10)[0]
            assert p.returncode == 0, out
            assert "4 received" in out, out
            assert r.ha.stats["mip6s_tunnelout"] >= 4 and r.ha.stats["mip6s_revtunnel"] >= 4
            assert r.mn.stats["mip6s_tunnelin"] >= 4 and r.mn.stats["mip6s_revtunnelout"] >= 4
            # route optimization with it: its Parameter Problem code 1 about
            # our Home/Care-of Test Init (next header 135 unknown) ends it
            assert r.mobile.route_optimize(KERNEL, r.sim.now)
            t1 = time.monotonic()
            while time.monotonic() - t1 < 3 and KERNEL_A in r.mobile.bul:
                now = base + time.monotonic() - t0
                for f in port.read_all():
                    r.sim.now = max(r.sim.now, now)
                    r.sim.emit(r.ha, r.ha.receive("c0", f, r.sim.now))
                r.sim.run(now)
                select.select([port], [], [], 0.01)
            assert KERNEL_A not in r.mobile.bul and KERNEL_A in r.mobile.no_ro
            assert r.mn.stats["mip6s_rrnotsupported"] == 1
            assert not r.mobile.route_optimize(KERNEL, r.sim.now)
        finally:
            port.close()
