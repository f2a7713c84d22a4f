"""kame.socket's ``linux`` profile against the host kernel's own sockets
(DESIGN.md §5, "sockets emulation"): every scenario of
``sock_scenarios.py`` (bind conflicts of every pair of local bind kinds
under four reuse settings, which socket receives IPv4 and IPv6 datagrams
and with which peer address, connect/sendto to ``::ffff:127.0.0.1``,
getsockname/getpeername forms, ECONNREFUSED on connected UDP) runs in a
fresh network namespace on real ``socket.socket`` objects and on kame's
emulation; the outcomes must be equal step by step.

Skipped when not root.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kame.in6_var import IfType
from kame.node import Node
from kame.socket import SocketLayer

sys.path.insert(0, str(Path(__file__).parent))
import sock_scenarios as sc

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None:
    pytest.skip("needs root and iproute2", allow_module_level=True)

NS = "sock-linux"


@pytest.fixture(scope="module")
def kernel() -> Iterator[dict[str, Any]]:
    subprocess.run(["ip", "netns", "del", NS], capture_output=True, check=False)
    try:
        subprocess.run(["ip", "netns", "add", NS], check=True, capture_output=True, timeout=30)
    except subprocess.CalledProcessError as e:
        pytest.skip(f"cannot create a network namespace: {e.stderr.strip()}")
    try:
        subprocess.run(["ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up"],
                       check=True, timeout=30)
        r = subprocess.run(["ip", "netns", "exec", NS, "sysctl", "-qw",
                            "net.ipv6.bindv6only=0"], capture_output=True, timeout=30, check=False)
        assert r.returncode == 0, r.stderr
        r = subprocess.run(["ip", "netns", "exec", NS, sys.executable,
                            str(Path(__file__).parent / "sock_scenarios.py")],
                           capture_output=True, text=True, timeout=600, check=True)
        yield json.loads(r.stdout)
    finally:
        subprocess.run(["ip", "netns", "del", NS], capture_output=True, check=False)


def kame_run(steps: list[list[Any]]) -> list[Any]:
    layer = SocketLayer(None, "linux")
    return sc.run(steps, lambda fam: layer.socket(fam), host=False)


@pytest.mark.parametrize("name", list(sc.all_scenarios()))
def test_linux_profile_matches_the_kernel(kernel: dict[str, Any], name: str) -> None:
    steps = sc.all_scenarios()[name]
    assert kame_run(steps) == kernel[name], steps


def kame_zone_run(steps: list[list[Any]]) -> list[Any]:
    """The zone scenarios need interfaces: a node whose only one is ``lo``
    (index 1, as in the kernel's fresh namespace)."""
    node = Node("k")
    node.add_interface("lo", None, type=IfType.LOOPBACK, mtu=65536)
    node.up("lo", 0.0)
    node.poll(10.0)
    layer = SocketLayer(node, "linux")
    return sc.run(steps, lambda fam: layer.socket(fam), host=False)


@pytest.mark.parametrize("name", list(sc.zone_scenarios()))
def test_linux_profile_zones_match_the_kernel(kernel: dict[str, Any], name: str) -> None:
    """Issue 8 item 5: ENODEV for a zone or interface index that names no
    interface in bind and the socket options, ENETUNREACH for connect and
    sendto, EINVAL for a link-local destination without one, the zone of
    an address that needs none ignored."""
    steps = sc.zone_scenarios()[name]
    assert kame_zone_run(steps) == kernel[name], steps


def test_the_matrix_is_not_trivial(kernel: dict[str, Any]) -> None:
    """The kernel itself answers both ways in the bind matrix and in delivery."""
    binds = [v[-1] for k, v in kernel.items() if k.startswith("bind ")]
    assert binds.count("ok") > 20 and binds.count("EADDRINUSE") > 20
    assert any("::ffff:127.0.0.1" in json.dumps(v) for k, v in kernel.items()
               if k.startswith("deliver "))
