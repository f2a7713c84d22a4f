"""TAP smoke test against the Linux kernel, inside a network namespace.

As root: create a namespace and a TAP device in it, open the device with
kame.link.tap from a process running in that namespace, write raw Ethernet
frames and check the kernel counted them as received (``ip -s link``); also
read a frame the kernel sends itself (IPv6 MLD/ND on link-up). Everything is
deleted afterwards. Skipped when not root or without ``ip`` / ``/dev/net/tun``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from netns_rig import fresh_netns

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, select, sys, time
from kame.link.tap import TapDevice
name, count = sys.argv[1], int(sys.argv[2])
frame = bytes.fromhex("ffffffffffff" "020000000042" "88b5") + b"kame-tap-smoke".ljust(46, b"\0")
seen = []
with TapDevice(name) as tap:
    assert tap.name == name, tap.name
    print(json.dumps({"opened": tap.name}), flush=True)
    sys.stdin.readline()  # wait until the link is up
    for _ in range(count):
        tap.write(frame)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and not seen:
        r, _, _ = select.select([tap], [], [], 0.2)
        if r:
            f = tap.read()
            if f:
                seen.append(f.hex())
    print(json.dumps({"sent": tap.tx_frames, "read": seen[:1]}), flush=True)
"""


def ip(*args: str, ns: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = (["ip", "netns", "exec", ns] if ns else []) + ["ip", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=True)


@pytest.fixture
def netns():  # type: ignore[no-untyped-def]
    with fresh_netns("kame-tap") as name:
        yield name


def rx_packets(ns: str, dev: str) -> int:
    out = ip("-s", "-j", "link", "show", dev, ns=ns).stdout
    return int(json.loads(out)[0]["stats64"]["rx"]["packets"])


def test_tap_frames_reach_the_kernel(netns: str) -> None:
    dev = "ktap0"
    ip("tuntap", "add", "dev", dev, "mode", "tap", ns=netns)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python") + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    child = subprocess.Popen(
        ["ip", "netns", "exec", netns, sys.executable, "-c", CHILD, dev, "5"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        first = json.loads(child.stdout.readline() or "{}")
        assert first.get("opened") == dev, child.stderr.read() if child.stderr else ""
        ip("link", "set", dev, "up", ns=netns)
        before = rx_packets(netns, dev)
        child.stdin.write("go\n")
        child.stdin.flush()
        result = json.loads(child.stdout.readline() or "{}")
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert result["sent"] == 5
    assert rx_packets(netns, dev) - before == 5
    # the kernel's own first frame on link-up, read back through the TAP: an
    # IPv6 multicast (in practice its MLDv2 report to ff02::16, 33:33:00:00:00:16)
    assert result["read"], "the kernel sent nothing within 5 s of link-up"
    f = bytes.fromhex(result["read"][0])
    assert f[:2] == b"\x33\x33" and f[12:14] == b"\x86\xdd"
