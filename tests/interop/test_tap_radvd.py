"""SLAAC from radvd and RA output read by rdisc6, over TAP in a netns.

- radvd (an independent RA sender) advertises a prefix, an RDNSS and an MTU
  on the kernel side; our node (accept_rtadv=1) solicits, autoconfigures
  prefix ‖ EUI-64, installs radvd's link-local as default router.
- our node as a router (forwarding=1, rtadvd behaviour) advertises; rdisc6
  (ndisc6 package, an independent RA parser) solicits and prints it; ndisc6
  resolves our link-local address.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from netns_rig import fresh_netns, ipns

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
TAPNODE = Path(__file__).with_name("tapnode.py")
MAC = "02:00:00:00:00:51"
OUR_LL = "fe80::ff:fe00:51"


@pytest.fixture
def netns():  # type: ignore[no-untyped-def]
    with fresh_netns("kame-radvd") as name:
        yield name


def start_node(ns: str, dev: str, duration: float, cfg: dict) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python") + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, str(TAPNODE), dev, MAC,
                          str(duration), json.dumps(cfg)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert p.stdout is not None
    line = p.stdout.readline()
    assert json.loads(line or "{}").get("opened") == dev, p.stderr.read() if p.stderr else ""
    return p


def finish(p: subprocess.Popen[str]) -> dict:
    assert p.stdout is not None
    out = json.loads(p.stdout.readline() or "{}")
    p.wait(timeout=30)
    return out


def kernel_ll(ns: str, dev: str) -> str:
    for _ in range(50):
        out = ipns(ns, "ip", "-6", "addr", "show", "dev", dev).stdout
        for line in out.splitlines():
            if "inet6 fe80::" in line and "tentative" not in line:
                return line.split()[1].split("/")[0]
        time.sleep(0.1)
    raise AssertionError(out)


@pytest.mark.skipif(shutil.which("radvd") is None, reason="radvd not installed")
def test_slaac_from_radvd(netns: str, tmp_path: Path) -> None:
    dev = "ktap3"
    ipns(netns, "ip", "tuntap", "add", "dev", dev, "mode", "tap")
    ipns(netns, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
    node = start_node(netns, dev, 8.0, {"knobs": {"net.inet6.ip6.accept_rtadv": 1}})
    conf = tmp_path / "radvd.conf"
    conf.write_text(f"""interface {dev} {{
    AdvSendAdvert on; MinRtrAdvInterval 3; MaxRtrAdvInterval 4; AdvLinkMTU 1400;
    prefix 2001:db8:42::/64 {{ AdvOnLink on; AdvAutonomous on;
        AdvValidLifetime 7200; AdvPreferredLifetime 3600; }};
    RDNSS 2001:db8::53 {{ AdvRDNSSLifetime 600; }};
    route 2001:db8:99::/48 {{ AdvRoutePreference high; AdvRouteLifetime 600; }};
}};
""")
    radvd = None
    try:
        ipns(netns, "ip", "link", "set", dev, "up")
        assert node.stdin is not None
        node.stdin.write("up\n")
        node.stdin.flush()
        kll = kernel_ll(netns, dev)
        radvd = subprocess.Popen(["ip", "netns", "exec", netns, "radvd", "-n", "-C", str(conf),
                                  "-p", str(tmp_path / "radvd.pid"), "-m", "stderr"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        state = finish(node)
    finally:
        if radvd is not None:
            radvd.terminate()
            radvd.wait(timeout=10)
        if node.poll() is None:
            node.kill()
    addrs = [a for a, _ in state["addresses"]]
    assert "2001:db8:42::ff:fe00:51" in addrs, state
    assert state["installed"] == kll and state["routers"] == [kll]
    assert "2001:db8:42::/64" in state["prefixes"]
    assert "2001:db8::53" in state["rdnss"] and state["linkmtu"] == 1400
    assert not any(k.startswith("icp6s_bad") for k in state["stats"]), state["stats"]


@pytest.mark.skipif(shutil.which("rdisc6") is None, reason="ndisc6 not installed")
def test_rdisc6_and_ndisc6_read_our_node(netns: str) -> None:
    dev = "ktap4"
    ipns(netns, "ip", "tuntap", "add", "dev", dev, "mode", "tap")
    node = start_node(netns, dev, 9.0, {
        "knobs": {"net.inet6.ip6.forwarding": 1},
        "advertise": {"prefix": "2001:db8:77::/64", "max_interval": 4},
    })
    try:
        ipns(netns, "ip", "link", "set", dev, "up")
        assert node.stdin is not None
        node.stdin.write("up\n")
        node.stdin.flush()
        kernel_ll(netns, dev)
        time.sleep(2.5)  # our DAD
        rd = ipns(netns, "rdisc6", "-1", "-w", "1500", "-r", "3", dev, check=False, timeout=30)
        nd = ipns(netns, "ndisc6", "-1", "-w", "1500", "-r", "3", OUR_LL, dev, check=False,
                  timeout=30)
        state = finish(node)
    finally:
        if node.poll() is None:
            node.kill()
    assert rd.returncode == 0, rd.stdout + rd.stderr
    text = rd.stdout
    assert "2001:db8:77::/64" in text and "from " + OUR_LL in text, text
    assert "1500" in text and "2001:db8::53" in text  # MTU and RDNSS options
    assert nd.returncode == 0 and MAC.upper() in nd.stdout.upper(), nd.stdout + nd.stderr
    assert state["stats"].get("icp6s_badrs", 0) == 0
