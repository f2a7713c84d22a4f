"""What the TAP/netns interop tests share: a throw-away network namespace,
`ip netns exec`, and our node on a TAP device (tapnode.py) driven from a
test. Imported by the test modules beside it (pytest puts
this folder on sys.path, as it has no __init__.py)."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


def ipns(ns: str, *args: str, check: bool = True, timeout: float = 60,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command inside namespace ``ns``."""
    return subprocess.run(["ip", "netns", "exec", ns, *args], capture_output=True, text=True,
                          timeout=timeout, check=check, env=env)


@contextmanager
def fresh_netns(prefix: str) -> Iterator[str]:
    """A new namespace named ``prefix-XXXXXXXX``, deleted afterwards; the
    test is skipped when namespaces cannot be made here."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    try:
        subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True, timeout=30)
    except subprocess.CalledProcessError as e:
        pytest.skip(f"cannot create a network namespace: {e.stderr.strip()}")
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30, check=False)


class TapPort:
    """A TAP device whose descriptor this process holds, its interface moved
    into namespace ``ns``: a port that plugs the test (or a node the test
    runs) into that namespace's network. A frame written here arrives there
    as received on the interface; a frame sent there out of the interface
    is read here. ``tap`` is the :class:`kame.link.tap.TapDevice` (hand it
    to a node's loop); ``name`` the interface's unique name."""

    def __init__(self, ns: str, prefix: str) -> None:
        from kame.link.tap import TapDevice

        self.name = f"{prefix}{uuid.uuid4().hex[:15 - len(prefix)]}"
        self.tap = TapDevice(self.name)
        try:
            subprocess.run(["ip", "link", "set", self.name, "netns", ns], check=True,
                           capture_output=True, timeout=30)
        except Exception:
            self.tap.close()
            raise

    def fileno(self) -> int:
        return self.tap.fileno()

    def write(self, frame: bytes) -> None:
        self.tap.write(frame)

    def read_all(self) -> list[bytes]:
        """Every frame waiting now."""
        out = []
        while (f := self.tap.read()) is not None:
            out.append(f)
        return out

    def close(self) -> None:
        self.tap.close()
def node_on_port(port: TapPort, name: str, seed: int, mac: str, ours6: str, ours4: str
                 ) -> tuple[Any, Any, Any]:
    """Our node ``name`` on ``port`` (MAC ``mac``, ``ours6``/64 and
    ``ours4``/24, DAD off in both families), up, its Runner served once:
    the node, the Runner and a linux-profile SocketLayer."""
    from kame.knobs import Knobs
    from kame.link.runner import Runner
    from kame.node import Node
    from kame.socket import SocketLayer

    node = Node(name, knobs=Knobs({"net.inet6.ip6.dad_count": 0,
                                   "net.link.ether.inet.dad_count": 0}), seed=seed)
    node.add_interface(port.name, bytes.fromhex(mac.replace(":", "")))
    runner = Runner()
    runner.attach_device(node, port.name, port.tap)
    now = runner.clock()
    runner.transmit(node, node.up(port.name, now))
    node.add_address(port.name, f"{ours6}/64", now)
    node.add_address4(port.name, f"{ours4}/24", now)
    runner.service()
    return node, runner, SocketLayer(node, "linux")


ROOT = Path(__file__).resolve().parents[2]
TAPNODE = Path(__file__).with_name("tapnode.py")


def veth_d0(addr4: str) -> list[list[str]]:
    """The commands that make a veth ``d0`` (its peer ``d1``), both up,
    ``addr4`` on ``d0``: a link for kernel_json's ``setup``."""
    return [["ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1"],
            ["ip", "link", "set", "d1", "up"], ["ip", "link", "set", "d0", "up"],
            ["ip", "addr", "add", addr4, "dev", "d0"]]


def kernel_json(prefix: str, code: str, setup: Iterable[Sequence[str]] = ()) -> Any:
    """What ``code`` (Python that prints one JSON value) prints, run from
    the repository's root in a fresh namespace ``prefix-...`` with ``lo``
    up and the ``setup`` commands run there first: the kernel's answers to
    a test's socket steps. Skipped without root."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root for a network namespace")
    with fresh_netns(prefix) as ns:
        for cmd in (["ip", "link", "set", "lo", "up"], *setup):
            subprocess.run(["ip", "netns", "exec", ns, *cmd], check=True)
        r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code],
                           capture_output=True, text=True, timeout=60, check=False,
                           cwd=str(ROOT))
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)


def child_env() -> dict[str, str]:
    """The environment of a child that imports kame (and tests/ helpers)."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT / "python"), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]))


def start_tapnode(ns: str, dev: str, mac: str, duration: float, cfg: dict[str, Any]
                  ) -> subprocess.Popen[str]:
    """Create the TAP ``dev`` in ``ns``, start tapnode.py on it (our node,
    MAC ``mac``, for ``duration`` seconds, ``cfg`` as tapnode.py reads it)
    and bring the link up."""
    ipns(ns, "ip", "tuntap", "add", "dev", dev, "mode", "tap")
    p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, str(TAPNODE), dev, mac,
                          str(duration), json.dumps(cfg)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=child_env())
    assert p.stdout is not None and p.stdin is not None
    line = p.stdout.readline()
    assert json.loads(line or "{}").get("opened") == dev, p.stderr.read() if p.stderr else ""
    ipns(ns, "ip", "link", "set", dev, "up")
    p.stdin.write("up\n")
    p.stdin.flush()
    return p


def read_json(p: subprocess.Popen[str]) -> Any:
    """The next JSON line a child prints (its stderr if it ended instead)."""
    assert p.stdout is not None
    line = p.stdout.readline()
    assert line, p.stderr.read() if p.stderr else ""
    return json.loads(line)


def command(p: subprocess.Popen[str], cmd: str) -> Any:
    """Send one command line to a child and read its JSON answer."""
    assert p.stdin is not None
    p.stdin.write(cmd + "\n")
    p.stdin.flush()
    return read_json(p)


def quit_child(p: subprocess.Popen[str], timeout: float = 10) -> None:
    """Ask a node child (tcp_tapnode.py, gif_tapnode.py) to end with
    ``{"quit": 1}``; kill it if it does not within ``timeout`` seconds."""
    if p.poll() is None:
        try:
            assert p.stdin is not None
            p.stdin.write('{"quit": 1}\n')
            p.stdin.flush()
            p.wait(timeout=timeout)
        except (OSError, subprocess.TimeoutExpired, AssertionError):
            p.kill()
            p.wait(timeout=timeout)


def stop(p: subprocess.Popen[str]) -> None:
    if p.poll() is None:
        p.kill()
    p.wait(timeout=10)


@contextmanager
def tcp_tapnode(ns: str, dev: str, mac: str, pcap: Path, ours6: str, kernel6: str, seed: int,
                *, ours4: str | None = None, kernel4: str | None = None,
                extra_args: tuple[str, ...] = (), env_extra: dict[str, str] | None = None,
                capture: str = "tcp", make_tap: bool = True) -> Iterator[tuple[subprocess.Popen[str],
                                                        subprocess.Popen[bytes]]]:
    """Create the TAP ``dev`` in ``ns`` and run tcp_tapnode.py on it (our
    node at ``ours6``/64 and ``ours4``/24, the kernel at ``kernel6`` and
    ``kernel4``), with tcpdump writing ``capture`` to ``pcap``; yields (node,
    tcpdump) with the link up, and ends both. ``make_tap=False`` leaves the
    TAP to the node (one opened with ``IFF_VNET_HDR``)."""
    if make_tap:
        ipns(ns, "ip", "tuntap", "add", "dev", dev, "mode", "tap")
    child = subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, str(TAPNODE.parent / "tcp_tapnode.py"), dev, mac,
         f"{ours6}/64", str(seed), *([f"{ours4}/24"] if ours4 else []), *extra_args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(child_env(), **(env_extra or {})))
    cap = None
    try:
        assert child.stdout is not None and child.stdin is not None
        assert json.loads(child.stdout.readline() or "{}").get("opened") == dev
        ipns(ns, "ip", "-6", "addr", "add", f"{kernel6}/64", "dev", dev, "nodad")
        if kernel4:
            ipns(ns, "ip", "addr", "add", f"{kernel4}/24", "dev", dev)
        ipns(ns, "ip", "link", "set", dev, "up")
        # a 32 MiB capture buffer (bursts of 64 KB super-segments); what
        # the kernel still drops, tcpdump says on exit in PCAP.err
        with open(f"{pcap}.err", "w") as err:
            cap = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-i", dev, "-U", "-s",
                                    "0", "-B", "32768", "-w", str(pcap), capture],
                                   stdout=subprocess.DEVNULL, stderr=err)
        time.sleep(0.5)
        child.stdin.write("up\n")
        child.stdin.flush()
        time.sleep(0.5)
        yield child, cap
    finally:
        if cap is not None and cap.poll() is None:
            cap.terminate()
            cap.wait(timeout=10)
        quit_child(child)


#: glibc's getaddrinfo for each name on argv, run by the namespace's python3:
#: {name: [addresses in glibc's order] or the EAI_* error number}
_GLIBC_GETADDRINFO = """
import json, socket, sys
out = {}
for name in sys.argv[1:]:
    try:
        out[name] = [a[4][0] for a in socket.getaddrinfo(name, 80, 0, socket.SOCK_STREAM)]
    except socket.gaierror as e:
        out[name] = e.errno
print(json.dumps(out))
"""


def capture_drops(pcap: Path | str) -> int:
    """The packets missing from the capture of :func:`tcp_tapnode`, by
    tcpdump's own counts written when it ended: those the kernel dropped,
    and those its filter passed that it had not written yet when it was
    stopped; 0 when it said nothing."""
    text = Path(f"{pcap}.err").read_text()

    def count(what: str) -> int:
        m = re.search(rf"(\d+) packets? {what}", text)
        return int(m.group(1)) if m else 0
    return count("dropped by kernel") + max(0, count("received by filter") - count("captured"))


def glibc_getaddrinfo(ns: str, names: Iterable[str]) -> dict[str, Any]:
    """What glibc's getaddrinfo answers in ``ns`` (its /etc/netns/NS/
    resolv.conf and gai.conf) for each name, in one process."""
    return dict(json.loads(ipns(ns, "python3", "-c", _GLIBC_GETADDRINFO, *names).stdout))


def _poll(fn: Callable[[], Any], deadline: float, interval: float) -> tuple[bool, Any]:
    end = time.monotonic() + deadline
    last = None
    while time.monotonic() < end:
        last = fn()
        if last:
            return True, last
        time.sleep(interval)
    return False, last


def until(fn: Callable[[], Any], deadline: float = 40.0) -> Any:
    """Call ``fn`` every 0.3 s until it returns something true (returned)
    or ``deadline`` seconds pass (its last answer returned)."""
    return _poll(fn, deadline, 0.3)[1]


def wait_for(what: str, fn: Callable[[], Any], timeout: float = 15.0,
             interval: float = 0.05) -> Any:
    """``until``, but a timeout is an AssertionError naming ``what``."""
    ok, last = _poll(fn, timeout, interval)
    if not ok:
        raise AssertionError(f"timed out waiting for {what}: {last!r}")
    return last


@functools.cache
def no_tcp_heuristics() -> tuple[str, ...]:
    """tshark arguments disabling the protocols its heuristic dissectors on
    TCP belong to: transfers of random octets are sometimes taken for one of
    them (thrift, ...) and then called malformed, so TCP is judged, not a
    guessed payload."""
    out = subprocess.run(["tshark", "-G", "heuristic-decodes"], capture_output=True,
                         text=True, check=False).stdout
    args: list[str] = []
    for line in out.splitlines():
        f = line.split("\t")
        if len(f) >= 2 and f[0] == "tcp":
            args += ["--disable-protocol", f[1]]
    return tuple(args)
