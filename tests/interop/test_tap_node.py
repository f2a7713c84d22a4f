"""kame.Node against the Linux kernel over a TAP device in a network namespace.

The node runs in a child process inside the namespace, fed by the TAP
descriptor and the monotonic clock (the only I/O loop, ~40 lines). The
kernel then resolves our link-local address (NS/NA) and pings it; our node
resolves and pings the kernel's. Skipped when not root.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from netns_rig import fresh_netns, ipns

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
MAC = "02:00:00:00:00:42"

CHILD = r"""
import json, select, sys, time
from ipaddress import IPv6Address
from kame.link.tap import TapDevice
from kame.node import Node, EchoReply
from kame.nd6.types import AddressReady, AddressDuplicated

dev, mac = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", ""))
node = Node("kame-tap", seed=7)
node.add_interface(dev, mac)
t0 = time.monotonic()
now = lambda: time.monotonic() - t0
events = []

def pump(tap, until):
    while now() < until:
        d = node.next_deadline()
        timeout = 0.05 if d is None else max(0.0, min(0.05, d - now()))
        r, _, _ = select.select([tap], [], [], timeout)
        if r:
            while (f := tap.read()) is not None:
                for _, out in node.receive(dev, f, now()):
                    tap.write(out)
        for _, out in node.poll(now()):
            tap.write(out)
        for e in node.drain_events():
            events.append(e)

with TapDevice(dev) as tap:
    print(json.dumps({"opened": tap.name}), flush=True)
    sys.stdin.readline()                      # link is up
    for _, out in node.up(dev, now()):
        tap.write(out)
    pump(tap, now() + 2.5)                    # DAD
    ll = node.addresses(dev)[0]
    print(json.dumps({"ll": str(ll.addr), "ready": not ll.tentative,
                      "dup": ll.duplicated}), flush=True)
    peer = sys.stdin.readline().strip()       # the kernel's link-local
    pump(tap, now() + 4.0)                    # the kernel pings us meanwhile
    for seq in range(3):
        for _, out in node.ping(IPv6Address(peer), now(), ifname=dev, seq=seq):
            tap.write(out)
        pump(tap, now() + 0.5)
    replies = [e.seq for e in events if isinstance(e, EchoReply)]
    print(json.dumps({"replies": replies, "stats": node.stats.nonzero(),
                      "kinds": sorted({type(e).__name__ for e in events})}), flush=True)
"""


@pytest.fixture
def netns():  # type: ignore[no-untyped-def]
    with fresh_netns("kame-node") as name:
        yield name


def test_kernel_resolves_and_pings_our_node(netns: str) -> None:
    dev = "ktap1"
    ipns(netns, "ip", "tuntap", "add", "dev", dev, "mode", "tap")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python") + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    child = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-c", CHILD, dev, MAC],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout is not None and child.stdin is not None
        assert json.loads(child.stdout.readline() or "{}").get("opened") == dev
        ipns(netns, "ip", "link", "set", dev, "up")
        child.stdin.write("up\n")
        child.stdin.flush()
        info = json.loads(child.stdout.readline() or "{}")
        assert info.get("ready") and not info.get("dup"), info
        ours = info["ll"]
        # wait for the kernel's own link-local to leave DAD
        kernel_ll = ""
        for _ in range(50):
            out = ipns(netns, "ip", "-6", "addr", "show", "dev", dev).stdout
            m = re.search(r"inet6 (fe80::[0-9a-f:]+)/64 scope link(?! tentative)", out)
            if m and "tentative" not in out:
                kernel_ll = m.group(1)
                break
            subprocess.run(["sleep", "0.1"], check=False)
        assert kernel_ll, out
        child.stdin.write(kernel_ll + "\n")
        child.stdin.flush()
        ping = ipns(netns, "ping", "-6", "-c", "3", "-i", "0.3", "-W", "2", f"{ours}%{dev}",
                    check=False)
        neigh = ipns(netns, "ip", "-6", "neigh", "show", "dev", dev).stdout
        result = json.loads(child.stdout.readline() or "{}")
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert " 0% packet loss" in ping.stdout
    assert ours in neigh and MAC in neigh.lower()
    assert result["replies"] == [0, 1, 2], result
    assert result["stats"].get("icp6s_reflect", 0) >= 3


DUP_CHILD = r"""
import json, select, sys, time
from kame.link.tap import TapDevice
from kame.node import Node
dev, mac = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", ""))
node = Node("kame-dup", seed=3)
node.drop_own_frames = False  # the kernel's NA comes from "our" MAC: same MAC by design
node.add_interface(dev, mac)
t0 = time.monotonic()
now = lambda: time.monotonic() - t0
with TapDevice(dev) as tap:
    print(json.dumps({"opened": tap.name}), flush=True)
    sys.stdin.readline()
    for _, out in node.up(dev, now()):
        tap.write(out)
    events = []
    while now() < 3.0:
        r, _, _ = select.select([tap], [], [], 0.05)
        if r:
            while (f := tap.read()) is not None:
                for _, out in node.receive(dev, f, now()):
                    tap.write(out)
        for _, out in node.poll(now()):
            tap.write(out)
        events += [type(e).__name__ for e in node.drain_events()]
    ll = node.addresses(dev)[0]
    print(json.dumps({"ll": str(ll.addr), "dup": ll.duplicated, "events": events,
                      "disabled": node.ifnets[dev].flags.disabled}), flush=True)
"""


def test_kernel_detects_our_duplicate(netns: str) -> None:
    """Our node takes the kernel interface's MAC, so its EUI-64 link-local is
    the kernel's: the kernel defends it with an NA, our DAD marks the address
    duplicated and rfc2462bis disables IPv6 on the interface (§1.2)."""
    dev = "ktap2"
    ipns(netns, "ip", "tuntap", "add", "dev", dev, "mode", "tap")
    link = json.loads(ipns(netns, "ip", "-j", "link", "show", dev).stdout)[0]
    kmac = link["address"]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python") + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    child = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-c", DUP_CHILD,
                              dev, kmac], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout is not None and child.stdin is not None
        assert json.loads(child.stdout.readline() or "{}").get("opened") == dev
        ipns(netns, "ip", "link", "set", dev, "up")
        for _ in range(50):  # the kernel's link-local must be past its own DAD
            out = ipns(netns, "ip", "-6", "addr", "show", "dev", dev).stdout
            if "fe80::" in out and "tentative" not in out:
                break
            subprocess.run(["sleep", "0.1"], check=False)
        child.stdin.write("up\n")
        child.stdin.flush()
        result = json.loads(child.stdout.readline() or "{}")
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert result["ll"] in out
    assert result["dup"] and result["disabled"], result
    assert "AddressDuplicated" in result["events"] and "InterfaceDisabled" in result["events"]
