"""Kernel hosts on both sides of our translator node: an IPv6-only Linux
host (one namespace, on a TAP our node holds) pings, exchanges UDP with and
fetches over TCP (curl to Python's http.server) from an IPv4-only Linux
host (another namespace, another TAP) through our stateful NAT64
(kame.nat64 on a kame.Node, seed §3.2, translator category A/D). tshark
dissects what crossed each side: no malformed packet, no bad checksum."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from netns_rig import TapPort, fresh_netns, ipns

from kame.knobs import Knobs
from kame.link.pcap import PcapWriter
from kame.nat64 import Nat64
from kame.node import Node

PREFIX = "2001:db8:64::/96"
NODE6, HOST6 = "2001:db8:1::1", "2001:db8:1::2"
NODE4, HOST4 = "198.51.100.1", "198.51.100.10"
REMOTE6 = "2001:db8:64::c633:640a"  # HOST4 through the prefix
POOL = "203.0.113.1"


class Translator:
    """Our node, a NAT64, on two TAPs, run by a thread of this process."""

    def __init__(self, p6: TapPort, p4: TapPort, pcap6: Path, pcap4: Path) -> None:
        self.node = Node("kame-nat64", knobs=Knobs({"net.inet6.ip6.forwarding": 1}), seed=7)
        self.ports = {"tap6": p6, "tap4": p4}
        self.pcaps = {"tap6": PcapWriter(open(pcap6, "wb")),  # noqa: SIM115
                      "tap4": PcapWriter(open(pcap4, "wb"))}  # noqa: SIM115
        self.node.add_interface("tap6", bytes.fromhex("02000000a006"))
        self.node.add_interface("tap4", bytes.fromhex("02000000a004"))
        self.nat = Nat64(PREFIX, [POOL], self4=NODE4, self6=NODE6, mtu6=1500, mtu4=1500)
        self.nat.attach(self.node)
        self.t0 = time.monotonic()
        self.stop = threading.Event()
        self.error: Exception | None = None
        now = self.now()
        for ifn in self.ports:
            self.out(self.node.up(ifn, now))
        self.node.add_address("tap6", NODE6 + "/64", now)
        self.node.add_address4("tap4", NODE4 + "/24", now)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def out(self, frames: list[tuple[str, bytes]]) -> None:
        for ifn, f in frames:
            self.pcaps[ifn].write(time.time(), f)
            self.ports[ifn].write(f)

    def run(self) -> None:
        import select

        try:
            last_expire = 0.0
            while not self.stop.is_set():
                r, _, _ = select.select(list(self.ports.values()), [], [], 0.02)
                now = self.now()
                for ifn, port in self.ports.items():
                    if port in r:
                        for f in port.read_all():
                            self.pcaps[ifn].write(time.time(), f)
                            self.out(self.node.receive(ifn, f, now))
                self.out(self.node.poll(now))
                self.node.drain_events()
                if now - last_expire > 1.0:
                    self.nat.expire(now)
                    last_expire = now
        except Exception as e:  # noqa: BLE001 - surfaced by close()
            self.error = e

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=20)
        for w in self.pcaps.values():
            w.f.close()
        if self.error is not None:
            raise self.error


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Translator, Path]]:
    tmp = tmp_path_factory.mktemp("xlat-kernel")
    with fresh_netns("x6") as ns6, fresh_netns("x4") as ns4:
        p6, p4 = TapPort(ns6, "xk6"), TapPort(ns4, "xk4")
        tr: Translator | None = None
        try:
            ipns(ns6, "ip", "link", "set", "lo", "up")
            ipns(ns6, "ip", "link", "set", p6.name, "up")
            ipns(ns6, "ip", "-6", "addr", "add", HOST6 + "/64", "dev", p6.name, "nodad")
            ipns(ns4, "ip", "link", "set", "lo", "up")
            ipns(ns4, "ip", "link", "set", p4.name, "up")
            ipns(ns4, "ip", "addr", "add", HOST4 + "/24", "dev", p4.name)
            ipns(ns4, "ip", "route", "add", POOL + "/32", "via", NODE4)
            tr = Translator(p6, p4, tmp / "side6.pcap", tmp / "side4.pcap")
            # Our addresses are usable after DAD and the RFC 5227 probes (a
            # few seconds); before, ARP for the IPv4 host would fail and
            # hold the entry down (BSD's arpt_down).
            node = tr.node
            assert until(time.monotonic() + 60, lambda: any(a.usable for a in node.inet.addrs)
                         and any(a.usable for a in node.addresses("tap6") if str(a.addr) == NODE6))
            # The gateway's address exists once our node has it (after DAD).
            assert until(time.monotonic() + 30, lambda: ipns(
                ns6, "ip", "-6", "route", "replace", PREFIX, "via", NODE6, "dev", p6.name,
                check=False).returncode == 0)
            yield ns6, ns4, tr, tmp
        finally:
            if tr is not None:
                tr.close()
            p6.close()
            p4.close()


def until(deadline: float, f: Callable[[], bool]) -> bool:
    while time.monotonic() < deadline:
        if f():
            return True
        time.sleep(0.3)
    return False


def test_ping_through_nat64(rig: tuple[str, str, Translator, Path]) -> None:
    ns6, _ns4, tr, _ = rig

    def ping() -> bool:
        r = ipns(ns6, "ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", REMOTE6, check=False)
        return r.returncode == 0 and " 0% packet loss" in r.stdout

    assert until(time.monotonic() + 60, ping), tr.nat.all_stats()
    assert tr.nat.all_stats()["xlats_6to4"] >= 3 and tr.nat.all_stats()["xlats_4to6"] >= 3


UDP_SERVER = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 7777))
print("ready", flush=True)
for _ in range(50):
    d, a = s.recvfrom(65535)
    s.sendto(d[::-1], a)
"""

UDP_CLIENT = """
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(sys.argv[2].encode() * 100, (sys.argv[1], 7777))
d, a = s.recvfrom(65535)
print(d.decode()[:20], a[1])
"""


def test_udp_through_nat64(rig: tuple[str, str, Translator, Path]) -> None:
    ns6, ns4, tr, _ = rig
    srv = subprocess.Popen(["ip", "netns", "exec", ns4, sys.executable, "-c", UDP_SERVER, HOST4],
                           stdout=subprocess.PIPE, text=True)
    try:
        assert srv.stdout is not None and srv.stdout.readline().strip() == "ready"

        def ask() -> bool:
            r = ipns(ns6, sys.executable, "-c", UDP_CLIENT, REMOTE6, "kame", check=False)
            return r.returncode == 0 and r.stdout.startswith("emakemak") and r.stdout.split()[-1] == "7777"

        assert until(time.monotonic() + 60, ask), tr.nat.all_stats()
    finally:
        srv.kill()
        srv.wait(timeout=20)


def test_tcp_curl_through_nat64(rig: tuple[str, str, Translator, Path]) -> None:
    ns6, ns4, tr, tmp = rig
    www = tmp / "www"
    www.mkdir()
    body = bytes(range(256)) * 800  # 200 KB: many full-sized segments each way
    (www / "blob.bin").write_bytes(body)
    srv = subprocess.Popen(["ip", "netns", "exec", ns4, sys.executable, "-m", "http.server", "8080",
                            "--bind", HOST4, "--directory", str(www)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        got = tmp / "got.bin"

        def fetch() -> bool:
            r = ipns(ns6, "curl", "-s", "-g", "--max-time", "20", "-o", str(got),
                     f"http://[{REMOTE6}]:8080/blob.bin", check=False, timeout=60)
            return r.returncode == 0 and got.exists() and got.read_bytes() == body

        assert until(time.monotonic() + 60, fetch), tr.nat.all_stats()
        st = tr.nat.state
        assert st is not None and any(b.proto == 6 for b in st.by6.values())
    finally:
        srv.kill()
        srv.wait(timeout=20)


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is in .ci/run")
def test_tshark_dissects_both_sides(rig: tuple[str, str, Translator, Path]) -> None:
    """Runs last in the module: what the three tests above sent."""
    _ns6, _ns4, tr, tmp = rig
    for w in tr.pcaps.values():
        w.f.flush()
    for side in ("side6", "side4"):
        r = subprocess.run(["tshark", "-r", str(tmp / f"{side}.pcap"), "-o", "ip.check_checksum:TRUE",
                            "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
                            "-T", "fields", "-e", "frame.protocols", "-e", "_ws.expert.message"],
                           capture_output=True, text=True, timeout=120, check=True)
        lines = r.stdout.splitlines()
        assert len(lines) > 50, side
        bad = [ln for ln in lines if "malformed" in ln.lower() or "bad checksum" in ln.lower()
               or "incorrect" in ln.lower()]
        assert not bad, f"{side}: {bad[:5]}"
        assert any("tcp" in ln for ln in lines) and any("icmp" in ln for ln in lines)
        assert any("udp" in ln for ln in lines)
