"""`kame node --tap` and the BSD-style tools against the Linux kernel.

The daemon runs as a subprocess inside a network namespace on a TAP device
whose other side is the kernel's interface. Our node is a router
advertising 2001:db8:42::/64: the kernel resolves and pings our link-local
address, takes the prefix (SLAAC) and a default route via us; then
`kame ndp -a` lists the kernel as a neighbor, `kame ping6` reaches the
kernel's link-local and global addresses, `kame netstat -s -p icmp6` counts
every echo both ways, `kame ifconfig` shows our addresses, and SIGTERM stops
the daemon cleanly after a final RA that removes the kernel's default route.
Skipped when not root.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from netns_rig import fresh_netns

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(ROOT / "python") + os.pathsep
           + os.environ.get("PYTHONPATH", ""))
MAC = "02:00:00:00:00:42"
OUR_LL = "fe80::ff:fe00:42"
DEV = "nodecli0"
PREFIX = "2001:db8:42::"
PREFIX_RE = r"2001:db8:42:[0-9a-f:]+"


def ipns(ns: str, *args: str, check: bool = True, timeout: float = 60
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", ns, *args], capture_output=True, text=True,
                          timeout=timeout, check=check, env=ENV)


def kame(ctl: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kame.cli.main", *args, "--ctl", ctl],
                          capture_output=True, text=True, timeout=60, env=ENV, check=False)


def wait_for(what: str, fn: Callable[[], Any], timeout: float = 15.0) -> Any:
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = fn()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


@pytest.fixture
def nodecli_netns() -> Iterator[str]:
    with fresh_netns("nodecli") as name:
        yield name


def test_nodecli_daemon_and_tools_against_kernel(nodecli_netns: str, tmp_path: Path) -> None:
    ns = nodecli_netns
    (tmp_path / "run").mkdir()  # kame does not create the folder of a --ctl path
    ctl = str(tmp_path / "run" / f"{DEV}.sock")
    cap = tmp_path / "node.pcapng"
    ipns(ns, "ip", "tuntap", "add", "dev", DEV, "mode", "tap")
    ipns(ns, "sysctl", "-qw", f"net.ipv6.conf.{DEV}.accept_ra=2")
    daemon = subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, "-m", "kame.cli.main", "node", "--tap", DEV,
         "--router", "--prefix", PREFIX + "/64", "--ra-interval", "4", "--mac", MAC,
         "--ctl", ctl, "-w", str(cap)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        wait_for("control socket", lambda: os.path.exists(ctl) or daemon.poll() is not None)
        assert daemon.poll() is None, daemon.communicate()
        ipns(ns, "ip", "link", "set", DEV, "up")

        # our link-local leaves DAD (ifconfig through the control socket)
        def ours_ready() -> bool:
            out = kame(ctl, "ifconfig", DEV).stdout
            return f"inet6 {OUR_LL}%{DEV} prefixlen 64 scopeid" in out and "tentative" not in out
        wait_for("our link-local", ours_ready)

        # the kernel's link-local, past its DAD
        def kernel_ll() -> str | None:
            out = ipns(ns, "ip", "-6", "addr", "show", "dev", DEV).stdout
            m = re.search(r"inet6 (fe80::[0-9a-f:]+)/64 scope link\s", out)
            return m.group(1) if m and "tentative" not in out else None
        kll = wait_for("kernel link-local", kernel_ll)
        kmac = json.loads(ipns(ns, "ip", "-j", "link", "show", DEV).stdout)[0]["address"]

        # the kernel pings us
        ping = ipns(ns, "ping", "-6", "-c", "3", "-i", "0.3", "-W", "2", f"{OUR_LL}%{DEV}",
                    check=False)
        assert ping.returncode == 0 and " 0% packet loss" in ping.stdout, ping.stdout + ping.stderr

        # ndp -a: the kernel is our neighbor, with its MAC
        out = kame(ctl, "ndp", "-a")
        assert out.returncode == 0, out.stderr
        (row,) = [ln.split() for ln in out.stdout.splitlines() if ln.startswith(f"{kll}%{DEV} ")]
        assert row[1] == kmac and row[2] == DEV and row[-1] in "RSDP"

        # our RA gave the kernel an address in our prefix and a default route via us
        def kernel_global() -> str | None:
            out = ipns(ns, "ip", "-6", "addr", "show", "dev", DEV).stdout
            m = re.search(rf"inet6 ({PREFIX_RE})/64 scope global dynamic", out)
            return m.group(1) if m and "tentative" not in m.group(0) else None
        kglobal = wait_for("kernel SLAAC address", kernel_global, 20.0)
        route = ipns(ns, "ip", "-6", "route", "show", "default").stdout
        assert f"via {OUR_LL} dev {DEV} proto ra" in route, route

        # we ping the kernel: link-local with a zone, global with -I
        p1 = kame(ctl, "ping6", "-c", "3", "-i", "0.2", f"{kll}%{DEV}")
        assert p1.returncode == 0, p1.stdout + p1.stderr
        assert f"PING6(104=40+8+56 bytes) {OUR_LL}%{DEV} --> {kll}%{DEV}" in p1.stdout
        assert len(re.findall(rf"64 bytes from {kll}%{DEV}, icmp_seq=\d hlim=64 time=", p1.stdout)) == 3
        assert "3 packets transmitted, 3 packets received, 0.0% packet loss" in p1.stdout
        p2 = kame(ctl, "ping6", "-c", "2", "-i", "0.2", "-I", DEV, kglobal)
        assert p2.returncode == 0 and "2 packets received" in p2.stdout, p2.stdout + p2.stderr
        p3 = kame(ctl, "ping6", "-c", "1", f"{PREFIX}dead")  # nobody there
        assert (p3.returncode == 1 and "No route to host" in p3.stderr) or (
            p3.returncode == 2 and "100.0% packet loss" in p3.stdout), p3

        # netstat counts every echo both ways
        ns_out = kame(ctl, "netstat", "-s", "-p", "icmp6").stdout
        outh = ns_out.split("\tOutput histogram:\n")[1].split("\n\t0 ")[0]
        inh = ns_out.split("\tInput histogram:\n")[1]

        def hist(block: str, name: str) -> int:
            m = re.search(rf"^\t\t{name}: (\d+)$", block, re.MULTILINE)
            return int(m.group(1)) if m else 0
        assert hist(inh, "echo") == 3 and hist(outh, "echo reply") == 3
        assert hist(outh, "echo") >= 5 and hist(inh, "echo reply") == 5
        assert hist(outh, "router advertisement") >= 1
        nd_in = sum(hist(inh, n) for n in ("router solicitation", "neighbor solicitation",
                                           "neighbor advertisement"))
        assert nd_in >= 1 and hist(outh, "MLDv2 listener report") >= 1
        assert re.search(r"^\t3 message responses generated$", ns_out, re.MULTILINE)
        ip6 = kame(ctl, "netstat", "-s", "-p", "ip6").stdout
        assert int(re.search(r"^\t(\d+) total packets received", ip6, re.MULTILINE).group(1)) >= 8

        # ifconfig shows our addresses and ND options
        ifc = kame(ctl, "ifconfig").stdout
        assert ifc.startswith(f"{DEV}: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> "
                              "metric 0 mtu 1500\n")
        assert f"\tether {MAC}\n" in ifc
        assert re.search(rf"\tinet6 {OUR_LL}%{DEV} prefixlen 64 scopeid 0x1\n", ifc)
        assert "\tnd6 options=" in ifc and "PERFORMNUD" in ifc

        # ndp -i / -r / -p answer (a router has no default router and no RA prefixes)
        ndi = kame(ctl, "ndp", "-i", DEV)
        assert ndi.returncode == 0 and "curhlim=64" in ndi.stdout
        assert kame(ctl, "ndp", "-r").stdout == ""

        # SIGTERM: a final RA (lifetime 0) removes the kernel's route via us, clean exit
        daemon.send_signal(signal.SIGTERM)
        rc = daemon.wait(timeout=15)
        err = daemon.stderr.read() if daemon.stderr else ""
        assert rc == 0, err
        assert "stopping" in err and not os.path.exists(ctl)
        route = ipns(ns, "ip", "-6", "route", "show", "default").stdout
        assert f"via {OUR_LL}" not in route, route
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(10)

    # the daemon's capture: tshark reads it clean, both directions are in it
    if shutil.which("tshark"):
        res = subprocess.run(["tshark", "-r", str(cap), "-T", "fields", "-e", "icmpv6.type",
                              "-e", "_ws.malformed"], capture_output=True, text=True,
                             timeout=120, check=True)
        types = [ln.split("\t")[0] for ln in res.stdout.splitlines()]
        assert types.count("128") >= 8 and types.count("129") >= 8
        assert "134" in types and not any(ln.split("\t")[1:] != [""] for ln in res.stdout.splitlines())


@pytest.mark.skipif(shutil.which("radvd") is None, reason="radvd not installed")
def test_nodecli_host_mode_with_radvd(nodecli_netns: str, tmp_path: Path) -> None:
    """Our node as a host behind radvd on the kernel side: `kame ndp -p/-r/-i`
    show radvd's prefix, router (preference high) and link MTU, `kame
    ifconfig -L` the autoconf address with its lifetimes, and `kame ping6`
    reaches the kernel's global address through the on-link prefix."""
    ns, dev = nodecli_netns, "nodecli1"
    mac, gh = "02:00:00:00:00:43", "2001:db8:43::ff:fe00:43"
    ctl = str(tmp_path / f"{dev}.sock")
    ipns(ns, "ip", "tuntap", "add", "dev", dev, "mode", "tap")
    ipns(ns, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
    conf = tmp_path / "radvd.conf"
    conf.write_text(f"""interface {dev} {{
    AdvSendAdvert on; MinRtrAdvInterval 3; MaxRtrAdvInterval 4; AdvLinkMTU 1400;
    AdvDefaultPreference high;
    prefix 2001:db8:43::/64 {{ AdvOnLink on; AdvAutonomous on;
        AdvValidLifetime 7200; AdvPreferredLifetime 3600; }};
}};
""")
    daemon = subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, "-m", "kame.cli.main", "node", "--tap", dev,
         "--mac", mac, "--ctl", ctl], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=ENV)
    radvd = None
    try:
        wait_for("control socket", lambda: os.path.exists(ctl) or daemon.poll() is not None)
        ipns(ns, "ip", "link", "set", dev, "up")
        ipns(ns, "ip", "-6", "addr", "add", "2001:db8:43::1/64", "dev", dev, "nodad")
        radvd = subprocess.Popen(["ip", "netns", "exec", ns, "radvd", "-n", "-C", str(conf),
                                  "-p", str(tmp_path / "radvd.pid"), "-m", "stderr"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def configured() -> str | None:
            out = kame(ctl, "ifconfig", "-L", dev).stdout
            return out if f"inet6 {gh} prefixlen 64 autoconf pltime" in out else None
        ifc = wait_for("SLAAC from radvd", configured, 20.0)
        m = re.search(rf"inet6 {gh} prefixlen 64 autoconf pltime (\d+) vltime (\d+)", ifc)
        assert m and 3500 < int(m.group(1)) <= 3600 and 7100 < int(m.group(2)) <= 7200, ifc
        kll = kernel_ll_of(ns, dev)

        ndp_r = kame(ctl, "ndp", "-r").stdout
        assert re.fullmatch(rf"{kll}%{dev} if={dev}, flags=, pref=high, expire=\d+s "
                            r"\(installed\)\n", ndp_r), ndp_r
        ndp_p = kame(ctl, "ndp", "-p").stdout.splitlines()
        assert ndp_p[0] == f"2001:db8:43::/64 if={dev}"
        assert re.fullmatch(r"flags=LAO vltime=7\d\d\d, pltime=3\d\d\d, expire=\d+h\d+m\d+s, "
                            r"ref=1", ndp_p[1]), ndp_p
        assert ndp_p[2:4] == ["  advertised by", f"    {kll}%{dev} (reachable)"], ndp_p
        ndp_i = kame(ctl, "ndp", "-i", dev).stdout
        assert ndp_i.startswith("linkmtu=1400, maxmtu=1500, curhlim=64, ")

        p = kame(ctl, "ping6", "-c", "2", "-i", "0.2", "2001:db8:43::1")
        assert p.returncode == 0, p.stdout + p.stderr
        assert f"PING6(104=40+8+56 bytes) {gh} --> 2001:db8:43::1" in p.stdout
        assert "2 packets transmitted, 2 packets received, 0.0% packet loss" in p.stdout

        ndp_a = kame(ctl, "ndp", "-a").stdout
        rows = {ln.split()[0]: ln.split() for ln in ndp_a.splitlines()[1:]}
        assert rows[f"{kll}%{dev}"][-1] == "R"  # radvd's router, IsRouter from its RA
        assert "2001:db8:43::1" in rows and rows[gh][3] == "permanent"

        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 0
        assert not os.path.exists(ctl)
    finally:
        if radvd is not None:
            radvd.terminate()
            radvd.wait(timeout=10)
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(10)


def kernel_ll_of(ns: str, dev: str) -> str:
    def ll() -> str | None:
        out = ipns(ns, "ip", "-6", "addr", "show", "dev", dev).stdout
        m = re.search(r"inet6 (fe80::[0-9a-f:]+)/64 scope link\s", out)
        return m.group(1) if m else None
    return str(wait_for("kernel link-local", ll))


FLOOD = r"""
import os, random, socket, sys, time
import kame
from kame._core import Ipv6Header, NeighborSolicitation, NdOptSourceLinkAddr

dev, target, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(4)
import ipaddress
t = ipaddress.IPv6Address(target)
sn = ipaddress.IPv6Address("ff02::1:ff00:0") + (int(t) & 0xFFFFFF)
dmac = bytes.fromhex("3333") + sn.packed[-4:]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((dev, 0))

def frame(kind):
    src = ipaddress.IPv6Address("fe80::" + ":".join(f"{rng.getrandbits(16):x}" for _ in range(4)))
    smac = bytes([0x02]) + rng.randbytes(5)
    hlim = 64 if kind == "hlim" else 255
    if kind == "zeroopt":
        body = bytearray(NeighborSolicitation(t).to_bytes(src, sn)) + b"\x01\x00" + bytes(6)
        body[2:4] = b"\0\0"
        body[2:4] = kame.in6_cksum(src, sn, 58, [bytes(body)]).to_bytes(2, "big")
    else:
        body = bytearray(NeighborSolicitation(t, [NdOptSourceLinkAddr(smac)]).to_bytes(src, sn))
        if kind == "cksum":
            body[2] ^= 0x55
    hdr = Ipv6Header(src, sn, next_header=58, hop_limit=hlim, payload_len=len(body)).to_bytes()
    return dmac + smac + b"\x86\xdd" + hdr + bytes(body)

kinds = ["valid"] * 3 + ["hlim", "cksum", "zeroopt"]
sent = {k: 0 for k in set(kinds)}
for i in range(n):
    k = kinds[i % len(kinds)]
    s.send(frame(k))
    sent[k] += 1
    if i % 200 == 199:
        time.sleep(0.02)   # stay under the TAP queue (1000 frames)
import json
print(json.dumps(sent))
"""


def test_nodecli_nd_flood_is_counted_and_bounded(nodecli_netns: str, tmp_path: Path) -> None:
    """A flood of NS from random sources, some malformed (hop limit 64, bad
    checksum, zero-length option), sent by an AF_PACKET socket on the kernel
    side: `kame netstat` counts the bad ones, `kame ndp -a` stays at the
    cache cap, the daemon's memory stays bounded and it still answers pings."""
    ns, dev = nodecli_netns, "nodecli2"
    mac, ll = "02:00:00:00:00:44", "fe80::ff:fe00:44"
    ctl = str(tmp_path / f"{dev}.sock")
    ipns(ns, "ip", "tuntap", "add", "dev", dev, "mode", "tap")
    ipns(ns, "sysctl", "-qw", f"net.ipv6.conf.{dev}.accept_ra=0")
    daemon = subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, "-m", "kame.cli.main", "node", "--tap", dev,
         "--mac", mac, "--ctl", ctl, "--sysctl", "net.inet6.icmp6.nd6_maxentries=256"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)

    def rss_kb() -> int:
        status = Path(f"/proc/{daemon.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]
    try:
        wait_for("control socket", lambda: os.path.exists(ctl) or daemon.poll() is not None)
        ipns(ns, "ip", "link", "set", dev, "up")
        wait_for("our link-local", lambda: f"inet6 {ll}%{dev}" in kame(ctl, "ifconfig").stdout
                 and "tentative" not in kame(ctl, "ifconfig").stdout)
        before = rss_kb()
        n = 6000
        res = ipns(ns, sys.executable, "-c", FLOOD, dev, ll, str(n), timeout=300)
        sent = json.loads(res.stdout)

        # what the TAP's queue dropped while the daemon was busy is the
        # kernel's drop, not ours: the expectations scale with what got through
        link = json.loads(ipns(ns, "ip", "-s", "-j", "link", "show", "dev", dev).stdout)
        dropped = int(link[0]["stats64"]["tx"]["dropped"])
        through = (n - dropped) / n

        def settled() -> str | None:
            out = kame(ctl, "netstat", "-s", "-p", "ip6").stdout
            m = re.search(r"^\t(\d+) total packets received", out, re.MULTILINE)
            return out if m and int(m.group(1)) >= 0.9 * (n - dropped) else None
        wait_for("the flood to be processed", settled, 60.0)
        icmp = kame(ctl, "netstat", "-s", "-p", "icmp6").stdout

        def count(text: str, what: str) -> int:
            m = re.search(rf"^\t(\d+) {re.escape(what)}$", text, re.MULTILINE)
            assert m, (what, text)
            return int(m.group(1))
        bad = count(icmp, "bad neighbor solicitation messages")
        cksum = count(icmp, "bad checksums")
        badopt = count(icmp, "(kame) messages with a bad ND option")
        evicted = count(icmp, "(kame) neighbor entries evicted by the cache cap")
        assert through > 0.5, (dropped, n)
        assert 0.8 * through * sent["hlim"] <= bad - badopt <= sent["hlim"], icmp
        assert 0.8 * through * sent["cksum"] <= cksum <= sent["cksum"], icmp
        assert 0.8 * through * sent["zeroopt"] <= badopt <= sent["zeroopt"], icmp
        assert evicted >= 0.8 * through * sent["valid"] - 256, icmp
        rows = kame(ctl, "ndp", "-a").stdout.splitlines()[1:]
        print(f"nodecli flood: sent {sent}; counted badns {bad} checksum {cksum} badopt "
              f"{badopt} evicted {evicted}; TAP queue dropped {dropped}; cache {len(rows)} rows; RSS {before} -> {rss_kb()} kB")
        assert 200 <= len(rows) <= 256 + 1, len(rows)  # the cap (+ our own address)
        assert rss_kb() - before < 30_000, (before, rss_kb())
        # and it still works: the kernel pings us, we ping the kernel
        ping = ipns(ns, "ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", f"{ll}%{dev}",
                    check=False)
        assert ping.returncode == 0, ping.stdout + ping.stderr
        kll = kernel_ll_of(ns, dev)
        assert kame(ctl, "ping6", "-c", "1", f"{kll}%{dev}").returncode == 0
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(10)


def test_nodecli_refuses_what_it_cannot_open(nodecli_netns: str, tmp_path: Path) -> None:
    """`kame node --tap` on an interface that is not a TAP (the loopback, a
    TUN device), on a TAP another process holds, or with a --ctl path it must
    refuse: one line each, status 1, no control socket left behind, and no
    TAP device made for a refused path."""
    ns = nodecli_netns
    ctl = tmp_path / "n.sock"

    def node(*args: str) -> subprocess.CompletedProcess[str]:
        return ipns(ns, sys.executable, "-m", "kame", "node", *args, check=False)

    ipns(ns, "ip", "tuntap", "add", "dev", "nodetun0", "mode", "tun")
    for dev, why in [("lo", ("lo exists and is not a TUN/TAP device; give the name of a TAP "
                            "device or a new name")),
                     ("nodetun0", ("nodetun0 is a TUN device (IP packets), not a TAP device "
                                  "(Ethernet frames)"))]:
        r = node("--tap", dev, "--ctl", str(ctl))
        assert (r.returncode, r.stderr) == (1, f"kame node: --tap {dev}: {why}\n")
        assert not ctl.exists()  # bound before the TAP was tried, removed again

    # a TAP that another node has open
    ipns(ns, "ip", "tuntap", "add", "dev", "nodebusy0", "mode", "tap")
    first = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-m", "kame", "node",
                              "--tap", "nodebusy0", "--ctl", str(tmp_path / "first.sock")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        wait_for("the first node", lambda: (tmp_path / "first.sock").exists()
                 or first.poll() is not None)
        time.sleep(0.3)
        assert first.poll() is None, first.communicate()
        r = node("--tap", "nodebusy0", "--ctl", str(ctl))
        assert (r.returncode, r.stderr) == (
            1, "kame node: --tap nodebusy0: the device is busy: another process has it open\n")
        # and the first node's live socket is not taken over
        r = node("--tap", "nodenew0", "--ctl", str(tmp_path / "first.sock"))
        assert r.returncode == 1 and "another process listens on this socket" in r.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=15) == 0
    assert not (tmp_path / "first.sock").exists()

    # a refused --ctl path: no TAP device is made
    (tmp_path / "file").write_text("precious\n")
    r = node("--tap", "nodenew0", "--ctl", str(tmp_path / "file"))
    assert r.returncode == 1 and "is a regular file, not a stale socket" in r.stderr
    assert (tmp_path / "file").read_text() == "precious\n"
    assert ipns(ns, "ip", "link", "show", "nodenew0", check=False).returncode != 0
