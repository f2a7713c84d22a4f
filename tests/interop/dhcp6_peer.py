"""What the DHCPv6 interop tests share: a namespace with a TAP whose other
side is our node (driven in the test process by a Runner, with its DHCPv6
daemons serviced after every pass), tcpdump capturing DHCPv6 on the
kernel's side, and tshark checking every captured message."""

from __future__ import annotations

import select
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from netns_rig import TapPort, fresh_netns, ipns

from kame.knobs import Knobs
from kame.link.runner import Runner
from kame.node import Node
from kame.socket import SocketLayer


class Ours:
    """Our node on the TAP, its socket layer and the daemons to service."""

    def __init__(self, port: TapPort, mac: str, seed: int) -> None:
        self.dev = port.name
        self.node = Node("kd6", knobs=Knobs({"net.inet6.ip6.dad_count": 1}), seed=seed)
        self.node.add_interface(self.dev, bytes.fromhex(mac.replace(":", "")))
        self.runner = Runner()
        self.runner.attach_device(self.node, self.dev, port.tap)
        self.runner.transmit(self.node, self.node.up(self.dev, self.runner.clock()))
        self.layer = SocketLayer(self.node, "linux")
        self.agents: list[Any] = []
        self.runner.after_service.append(self._agents)

    def _agents(self) -> None:
        now = self.runner.clock()
        for a in self.agents:
            a.service(now)

    def pump(self, until: Callable[[], bool], timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.runner.service()
            if until():
                return True
            select.select(self.runner.fds(), [], [], min(0.05, self.runner.timeout(0.05)))
        self.runner.service()
        return until()


def wait_linklocal(ns: str, dev: str, timeout: float = 30) -> str:
    """The kernel's link-local address on ``dev`` once DAD is done."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        out = ipns(ns, "ip", "-6", "-o", "addr", "show", "dev", dev, "scope", "link",
                   check=False).stdout
        if out and "tentative" not in out:
            return out.split()[3].split("/")[0]
        time.sleep(0.1)
    raise AssertionError(f"no link-local address on {dev}")


@contextmanager
def dhcp6_ns(prefix: str, tmp: Path, kernel6: str) -> Iterator[tuple[str, TapPort, Path]]:
    """A namespace, a TAP port into it (kernel side ``kernel6``/64, up) and a
    tcpdump capture of DHCPv6 on it written to ``tmp/dhcp6.pcap``."""
    with fresh_netns(prefix) as ns:
        ipns(ns, "ip", "link", "set", "lo", "up")
        port = TapPort(ns, prefix[:4])
        pcap = tmp / "dhcp6.pcap"
        cap = None
        try:
            ipns(ns, "ip", "-6", "addr", "add", f"{kernel6}/64", "dev", port.name, "nodad")
            ipns(ns, "ip", "link", "set", port.name, "up")
            cap = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-i", port.name, "-U",
                                    "-s", "0", "-w", str(pcap), "udp port 546 or udp port 547"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            end = time.monotonic() + 20
            while not pcap.exists() and time.monotonic() < end:
                time.sleep(0.05)
            time.sleep(0.3)
            yield ns, port, pcap
        finally:
            if cap is not None and cap.poll() is None:
                # tcpdump writes each packet as it reads it (-U): wait until
                # the file stops growing (a loaded machine delays it)
                last, end = -1, time.monotonic() + 15
                while time.monotonic() < end:
                    time.sleep(0.5)
                    size = pcap.stat().st_size if pcap.exists() else 0
                    if size == last:
                        break
                    last = size
                cap.terminate()
                cap.wait(timeout=10)
            port.close()


def tshark_dhcp6(pcap: Path) -> list[str]:
    """The DHCPv6 message types tshark reads in ``pcap`` (relayed ones
    included); fails on any malformed or error-level field."""
    bad = subprocess.run(["tshark", "-r", str(pcap), "-Y",
                          "dhcpv6 && (_ws.malformed || _ws.expert.severity >= error)"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 0, bad.stderr
    assert bad.stdout.strip() == "", bad.stdout
    out = subprocess.run(["tshark", "-r", str(pcap), "-Y", "dhcpv6", "-T", "fields", "-e",
                          "dhcpv6.msgtype"], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    types: list[str] = []
    for line in out.stdout.split():
        types += line.split(",")
    return types


def wait_file(p: Path, pred: Callable[[str], bool], timeout: float) -> str:
    end = time.monotonic() + timeout
    text = ""
    while time.monotonic() < end:
        text = p.read_text() if p.exists() else ""
        if pred(text):
            return text
        time.sleep(0.1)
    raise AssertionError(f"{p} never matched: {text[-3000:]}")
