"""IPv4 and ARP (kame.inet) against the Linux kernel over a TAP device in a
network namespace: the kernel ARP-resolves us and we it, ping both ways
(fragmented too), UDP both ways under the linux and freebsd4x profiles
(AF_INET and ::ffff: sockets), the kernel's ICMP errors reach our sockets
and ours reach its, Path MTU through a kernel router with a 1280-octet
link, RFC 5227 probing against the kernel's address, an ARP flood from the
namespace, and tshark dissecting every frame we wrote without malformed or
error marks. The node runs in a child process (``inet_tapnode.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from netns_rig import fresh_netns, ipns

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
MAC = "02:00:00:00:09:02"
OURS, KERNEL = "10.9.0.2", "10.9.0.1"
FAST = {"net.link.ether.inet.dad_count": 0}


class Child:
    """Our node on ``dev`` inside ``ns``, one JSON command at a time."""

    def __init__(self, ns: str, dev: str, cfg: dict[str, Any]) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT / "python") + os.pathsep
                   + os.environ.get("PYTHONPATH", ""))
        self.p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable,
                                   str(HERE / "inet_tapnode.py"), dev, MAC, json.dumps(cfg)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env)
        assert self.read().get("opened") == dev

    def read(self) -> dict[str, Any]:
        assert self.p.stdout is not None
        line = self.p.stdout.readline()
        if not line:
            assert self.p.stderr is not None
            raise AssertionError("child died: " + self.p.stderr.read()[-3000:])
        return json.loads(line)  # type: ignore[no-any-return]

    def send(self, line: str) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def cmd(self, **c: Any) -> dict[str, Any]:
        self.send(json.dumps(c))
        return self.read()

    def close(self) -> None:
        if self.p.poll() is None:
            try:
                self.cmd(cmd="quit")
                self.p.wait(timeout=10)
            except Exception:  # noqa: BLE001
                self.p.kill()


@contextmanager
def rig(cfg: dict[str, Any], *, mtu: int = 1500) -> Iterator[tuple[str, Child]]:
    """A namespace whose kernel has ``kin0`` = 10.9.0.1/24 and our node at
    10.9.0.2 on the other end."""
    with fresh_netns("kame-inet") as ns:
        dev = "kin0"
        ipns(ns, "ip", "tuntap", "add", "dev", dev, "mode", "tap")
        child = Child(ns, dev, {"addr": f"{OURS}/24", **cfg})
        try:
            ipns(ns, "ip", "link", "set", "lo", "up")
            ipns(ns, "ip", "link", "set", dev, "mtu", str(mtu), "up")
            ipns(ns, "ip", "addr", "add", f"{KERNEL}/24", "dev", dev)
            child.send("up")
            assert "ready" in child.read()
            yield ns, child
        finally:
            child.close()


def test_arp_and_ping_both_ways_fragmented_and_tshark(tmp_path: Path) -> None:
    pcap = tmp_path / "inet.pcap"
    with rig({"knobs": FAST, "pcap": str(pcap)}) as (ns, child):
        ping = ipns(ns, "ping", "-4", "-c", "3", "-i", "0.2", "-W", "2", OURS, check=False)
        big = ipns(ns, "ping", "-4", "-c", "2", "-i", "0.3", "-W", "2", "-s", "3000", OURS,
                   check=False)
        neigh = ipns(ns, "ip", "-4", "neigh", "show", "dev", "kin0").stdout
        mine = child.cmd(cmd="ping", dst=KERNEL, count=3)
        mine_big = child.cmd(cmd="ping", dst=KERNEL, count=2, size=3000)
        st = child.cmd(cmd="state")
    assert ping.returncode == 0 and " 0% packet loss" in ping.stdout, ping.stdout + ping.stderr
    assert big.returncode == 0 and " 0% packet loss" in big.stdout, big.stdout + big.stderr
    assert OURS in neigh and MAC in neigh.lower(), neigh
    assert mine["replies"] == [0, 1, 2] and mine_big["replies"] == [0, 1], (mine, mine_big)
    assert [r[0] for r in st["arp"]] == [KERNEL] and st["arp"][0][1] != "(incomplete)"
    s = st["stats"]
    assert s["ips_reassembled"] >= 2 and s["ips_fragmented"] >= 2 + 2, s  # both directions
    assert s["icps_reflect"] >= 5 and s["arps_txreplies"] >= 1, s
    if shutil.which("tshark") is None:
        pytest.fail("tshark is needed (.ci/run installs it)")
    res = subprocess.run(["tshark", "-r", str(pcap), "-o", "ip.check_checksum:TRUE",
                          "-o", "ip.defragment:TRUE",
                          "-T", "fields", "-e", "frame.number", "-e", "_ws.col.Protocol",
                          "-e", "_ws.expert.severity", "-e", "_ws.malformed",
                          "-e", "ip.checksum.status", "-e", "icmp.checksum_bad"],
                         capture_output=True, text=True, timeout=120, check=True)
    rows = [line.split("\t") for line in res.stdout.splitlines()]
    protos = {r[1] for r in rows}
    assert {"ARP", "ICMP"} <= protos, protos
    bad = [r for r in rows if r[3] or (r[2] and int(r[2].split(",")[0]) >= 0x00800000)
           or r[4] == "0"]
    assert not bad, bad


@pytest.mark.parametrize("profile", ["linux", "freebsd4x"])
def test_udp_both_ways_and_icmp_errors(profile: str) -> None:
    server = (
        "import socket,sys\n"
        "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
        f"s.bind(('{KERNEL}',7000)); s.settimeout(8)\n"
        "print('up',flush=True)\n"
        "for _ in range(2):\n"
        "    d,a=s.recvfrom(65535); s.sendto(d.upper(),a)\n"
        "    print(len(d),a[0],flush=True)\n")
    with rig({"knobs": FAST, "profile": profile}) as (ns, child):
        srv = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", server],
                               stdout=subprocess.PIPE, text=True)
        try:
            assert srv.stdout is not None and srv.stdout.readline().strip() == "up"
            s4 = child.cmd(cmd="udp", family=2)["sock"]
            s6 = child.cmd(cmd="udp", family=10)["sock"]
            assert child.cmd(cmd="sendto", sock=s4, data="hello v4" * 400,
                             to=[KERNEL, 7000]) == {"ok": 3200}  # fragmented
            r4 = child.cmd(cmd="recv", sock=s4, wait=1.0)
            assert child.cmd(cmd="sendto", sock=s6, data="hello mapped",
                             to=[f"::ffff:{KERNEL}", 7000]) == {"ok": 12}
            r6 = child.cmd(cmd="recv", sock=s6, wait=1.0)
            seen = [srv.stdout.readline().split() for _ in range(2)]
        finally:
            srv.kill()
        assert r4["data"] == [["HELLO V4" * 400, [KERNEL, 7000]]], r4
        assert r6["data"] == [["HELLO MAPPED", [f"::ffff:{KERNEL}", 7000, 0, 0]]], r6
        assert seen == [["3200", OURS], ["12", OURS]]
        # the kernel to us: an AF_INET listener, and ::ffff: on a dual AF_INET6 one
        l4 = child.cmd(cmd="udp", family=2, bind=["0.0.0.0", 7001])["sock"]
        l6 = child.cmd(cmd="udp", family=10, bind=["::", 7002])["sock"]
        for port in (7001, 7002):
            ipns(ns, sys.executable, "-c",
                 "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);"
                 f"s.sendto(b'from kernel {port}',('{OURS}',{port}))")
        g4 = child.cmd(cmd="recv", sock=l4, wait=0.5)
        g6 = child.cmd(cmd="recv", sock=l6, wait=0.5)
        assert [d for d, _a in g4["data"]] == ["from kernel 7001"]
        assert [(d, a[0]) for d, a in g6["data"]] == [("from kernel 7002", f"::ffff:{KERNEL}")]
        # the kernel's Port Unreachable reaches our connected socket
        c = child.cmd(cmd="udp", family=10, connect=[f"::ffff:{KERNEL}", 7999])["sock"]
        assert child.cmd(cmd="sendto", sock=c, data="anyone?") == {"ok": 7}
        assert child.cmd(cmd="recv", sock=c, wait=0.5)["errno"] == 111  # ECONNREFUSED
        # ours reaches the kernel's connected socket
        k = ipns(ns, sys.executable, "-c",
                 "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);"
                 f"s.settimeout(3);s.connect(('{OURS}',7999));s.send(b'x')\n"
                 "try:\n s.recv(10)\nexcept ConnectionRefusedError:\n print('refused')",
                 check=False)
        assert k.stdout.strip() == "refused", k.stdout + k.stderr


def test_path_mtu_through_a_kernel_router() -> None:
    """Our node -> kernel router (ip_forward) -> a 1280-octet veth -> a host."""
    with fresh_netns("kame-inet2") as far, rig({"knobs": FAST, "gw": KERNEL}) as (ns, child):
        ipns(ns, "ip", "link", "add", "kv0", "type", "veth", "peer", "name", "kv1")
        ipns(ns, "ip", "link", "set", "kv1", "netns", far)
        ipns(ns, "ip", "link", "set", "kv0", "mtu", "1280", "up")
        ipns(ns, "ip", "addr", "add", "10.9.1.1/24", "dev", "kv0")
        ipns(ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        ipns(far, "ip", "link", "set", "lo", "up")
        ipns(far, "ip", "link", "set", "kv1", "mtu", "1280", "up")
        ipns(far, "ip", "addr", "add", "10.9.1.2/24", "dev", "kv1")
        ipns(far, "ip", "route", "add", "default", "via", "10.9.1.1")
        first = child.cmd(cmd="ping", dst="10.9.1.2", count=1, size=1400, df=True)
        st = child.cmd(cmd="state")
        again = child.cmd(cmd="ping", dst="10.9.1.2", count=2, size=1400)
        back = ipns(far, "ping", "-4", "-c", "2", "-i", "0.3", "-W", "2", "-s", "3000", OURS,
                    check=False)
        st2 = child.cmd(cmd="state")
    assert first["replies"] == [], first  # DF, too big: Fragmentation Needed instead
    assert st["pmtu"] == {"10.9.1.2": 1280}, st
    assert "IcmpErrorInput4:" in st["events"] and "PathMtuChanged4:" in st["events"]
    assert again["replies"] == [0, 1], again
    assert back.returncode == 0 and " 0% packet loss" in back.stdout, back.stdout + back.stderr
    assert st2["stats"]["ips_reassembled"] >= 2


def test_rfc5227_probe_finds_the_kernels_address() -> None:
    with fresh_netns("kame-inet3") as ns:
        dev = "kin0"
        ipns(ns, "ip", "tuntap", "add", "dev", dev, "mode", "tap")
        ipns(ns, "ip", "link", "set", dev, "up")
        ipns(ns, "ip", "addr", "add", f"{KERNEL}/24", "dev", dev)
        child = Child(ns, dev, {"addr": f"{KERNEL}/24", "settle": 6.0,
                                "knobs": {"net.link.ether.inet.dad_count": 2}})
        try:
            child.send("up")
            ready = child.read()
            st = child.cmd(cmd="state")
        finally:
            child.close()
    assert ready["ready"] == [], ready
    assert st["addrs"] == [[KERNEL, False, True]], st
    assert "Event:inet_address_duplicated" in st["events"]


def test_arp_flood_is_bounded_and_we_still_answer() -> None:
    flood = (
        "import socket,struct,random,time\n"
        "s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\n"
        "s.bind(('kin0',0))\n"
        "r=random.Random(1); n=0; t=time.monotonic()\n"
        "while time.monotonic()-t < 3.0:\n"
        "    mac=bytes([2])+r.randbytes(5)\n"
        "    spa=bytes([10,9,r.randrange(2,250),r.randrange(1,250)])\n"
        "    tpa=bytes([10,9,0,2]) if n%2 else bytes([10,9,0,r.randrange(3,250)])\n"
        "    arp=struct.pack('!HHBBH',1,0x800,6,4,1)+mac+spa+bytes(6)+tpa\n"
        "    try:\n"
        "        s.send(b'\\xff'*6+mac+b'\\x08\\x06'+arp); n+=1\n"
        "    except OSError:\n"
        "        time.sleep(0.0005)\n"
        "print(n)\n")
    knobs = {**FAST, "net.link.ether.inet.max_entries": 256}
    with rig({"knobs": knobs}) as (ns, child):
        child.send(json.dumps({"cmd": "wait", "s": 5.0}))  # keep reading while flooded
        sent = int(ipns(ns, sys.executable, "-c", flood, timeout=30).stdout)
        t0 = time.monotonic()
        ping = ipns(ns, "ping", "-4", "-c", "1", "-W", "1", OURS, check=False)
        dt = time.monotonic() - t0
        assert child.read() == {"ok": True}
        st = child.cmd(cmd="state")
    s = st["stats"]
    print(json.dumps({"sent": sent, "ping_after_flood_s": round(dt, 3),  # -s shows the numbers
                      **{k: s.get(k, 0) for k in ("arps_received", "arps_cachefull",
                                                  "arps_notforus", "arps_txreplies")},
                      "arp_entries": st["arp_entries"]}))
    assert ping.returncode == 0 and dt < 1.5, (ping.stdout, dt)
    assert sent > 2000 and s["arps_received"] > 1000, (sent, s)
    assert st["arp_entries"] <= 256 and s["arps_cachefull"] > 0, st
    assert s["arps_notforus"] > 0 and s["arps_txreplies"] > 0
