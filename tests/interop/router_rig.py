"""The rig of test_tap_forward.py and test_mroute_kernel.py: our node as a
router (router_node.py) on TAP devices in Linux network namespaces with
fixed names, the kernels around it set up by each test module.

``namespaces(*names)`` makes them (skipping the test where it cannot) and
deletes them afterwards; ``router(cfg, links_up)`` starts the node in the
first device's namespace, calls ``links_up()`` once its TAP devices exist
(the test brings them and the kernels' addresses up), waits until every
address of the node is usable, yields a :class:`RouterRig`, and ends the
node however the test ended.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from netns_rig import child_env, ipns

ROUTER_NODE = Path(__file__).with_name("router_node.py")


def sh(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, check=check)


def wait_kernel_ready(ns: str) -> None:
    """Until the namespace's IPv6 addresses are past DAD."""
    out = ""
    for _ in range(100):
        out = ipns(ns, "ip", "-6", "addr", "show").stdout
        if "inet6" in out and "tentative" not in out:
            return
        time.sleep(0.1)
    raise AssertionError(out)


def _delete(names: tuple[str, ...]) -> None:
    for ns in names:
        sh("ip", "netns", "del", ns, check=False)


@contextmanager
def namespaces(*names: str) -> Iterator[None]:
    """The namespaces, new (left-overs of an earlier run deleted first),
    with ``lo`` up and IPv6 forwarding off; deleted afterwards."""
    _delete(names)
    try:
        for ns in names:
            sh("ip", "netns", "add", ns)
    except subprocess.CalledProcessError as e:
        _delete(names)
        pytest.skip(f"cannot create network namespaces: {e.stderr.strip()}")
    try:
        for ns in names:
            ipns(ns, "ip", "link", "set", "lo", "up")
            ipns(ns, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=0")
        yield
    finally:
        _delete(names)


class RouterRig:
    """The running node: commands (router_node.py's) and its state."""

    def __init__(self, child: subprocess.Popen[str], pcaps: dict[str, Path]) -> None:
        self.child = child
        self.pcaps = pcaps

    def cmd(self, line: str) -> dict[str, Any]:
        """One command line; its JSON answer."""
        assert self.child.stdin is not None and self.child.stdout is not None
        self.child.stdin.write(line + "\n")
        self.child.stdin.flush()
        return json.loads(self.child.stdout.readline() or "{}")  # type: ignore[no-any-return]

    def state(self) -> dict[str, Any]:
        return self.cmd("state")

    def quit(self) -> None:
        """End the node (it closes its pcaps)."""
        self.cmd("quit")
        self.child.wait(timeout=10)

    @staticmethod
    def until(pred: Callable[[], Any], timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred():
                return True
            time.sleep(0.2)
        return bool(pred())


@contextmanager
def router(cfg: dict[str, Any], links_up: Callable[[], None]) -> Iterator[RouterRig]:
    """Our node on ``cfg["devs"]`` (see router_node.py), started in the
    first device's namespace."""
    child = subprocess.Popen(["ip", "netns", "exec", cfg["devs"][0]["ns"], sys.executable,
                              str(ROUTER_NODE), json.dumps(cfg)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=child_env())
    try:
        assert child.stdout is not None and child.stdin is not None
        line = child.stdout.readline()
        assert json.loads(line or "{}").get("opened") == sorted(d["name"] for d in cfg["devs"]), \
            child.stderr.read() if child.stderr else line
        links_up()
        child.stdin.write("up\n")
        child.stdin.flush()
        ready = json.loads(child.stdout.readline() or "{}")
        assert "ready" in ready, ready
        yield RouterRig(child, {d["name"]: Path(d["pcap"]) for d in cfg["devs"]
                                if d.get("pcap")})
    finally:
        if child.poll() is None and child.stdin is not None:
            try:
                child.stdin.write("quit\n")
                child.stdin.flush()
                child.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
