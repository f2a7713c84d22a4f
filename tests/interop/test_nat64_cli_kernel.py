"""`kame nat64` between kernel namespaces: a Linux IPv6-only host and a
Linux IPv4-only host on either side of the translator command (seed §3.2,
issue 13), the CLI run as a user would.

    ns n6 (kernel, IPv6 only)          ns nr: kame nat64          ns n4 (kernel, IPv4 only)
    2001:db8:1::2, ::3  ── tap ── 2001:db8:1::1 | 198.51.100.1 ── tap ── 198.51.100.10/24
    route 2001:db8:64::/96 via ::1     pool 203.0.113.1           route 203.0.113.1 via .1

- fragments (RFC 6146 §3.4, RFC 7915 §4.1/§5.1): ``ping -s 3000`` (a
  fragmented ICMPv6 echo, a fragmented ICMPv4 reply) and a 4000-octet UDP
  datagram each way, fragmented by the kernels and reassembled by ours;
- hairpinning (RFC 6146 §3.8): ``::2`` reaches a UDP server on ``::3``
  (a static binding) through the pool address under the prefix;
- ``kame nat64 show`` lists the bindings and sessions, ``kame netstat -s
  -p nat64`` the reassembly and hairpin counters.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

import uuid

from netns_rig import child_env, fresh_netns, ipns, until

PREFIX = "2001:db8:64::/96"
NODE6, HOST6, HOST6B = "2001:db8:1::1", "2001:db8:1::2", "2001:db8:1::3"
NODE4, HOST4 = "198.51.100.1", "198.51.100.10"
POOL = "203.0.113.1"
REMOTE6 = "2001:db8:64::c633:640a"  # HOST4 under the prefix
POOL6 = "2001:db8:64::cb00:7101"    # the pool address under the prefix

UDP_ECHO = """
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
while True:
    d, a = s.recvfrom(65535)
    s.sendto(d[::-1], a)
"""

UDP_ASK = """
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
s.settimeout(3)
body = bytes(range(256)) * (int(sys.argv[4]) // 256)
s.sendto(body, (sys.argv[2], int(sys.argv[3])))
d, a = s.recvfrom(65535)
print(d == body[::-1], a[0], a[1])
"""


class Rig:
    def __init__(self, ns6: str, ns4: str, ctl: str, log: Path) -> None:
        self.ns6, self.ns4, self.ctl, self.log = ns6, ns4, ctl, log

    def kame(self, *args: str) -> str:
        r = subprocess.run([sys.executable, "-m", "kame", *args, "--ctl", self.ctl],
                           capture_output=True, text=True, timeout=60, env=child_env(), check=False)
        assert r.returncode == 0, r.stderr
        return r.stdout


def _stop(p: subprocess.Popen[str]) -> None:
    p.terminate()
    try:
        p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=20)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    tmp = tmp_path_factory.mktemp("nat64-cli")
    tag = uuid.uuid4().hex[:6]
    t6, t4 = f"nc6{tag}", f"nc4{tag}"
    with ExitStack() as stack:
        nsr = stack.enter_context(fresh_netns("ncr"))
        ns6 = stack.enter_context(fresh_netns("nc6"))
        ns4 = stack.enter_context(fresh_netns("nc4"))
        log = tmp / "nat64.log"
        ctl = str(tmp / "nat64.sock")
        procs: list[subprocess.Popen[str]] = []
        stack.callback(lambda: [_stop(p) for p in procs])
        for ns in (nsr, ns6, ns4):
            ipns(ns, "ip", "link", "set", "lo", "up")
        nat = subprocess.Popen(
            ["ip", "netns", "exec", nsr, sys.executable, "-m", "kame", "nat64",
             "--tap", t6, "--tap", t4, "--prefix", PREFIX, "--pool", POOL,
             "--inet6", f"{t6}={NODE6}/64", "--inet", f"{t4}={NODE4}/24",
             "--static", f"udp,{HOST6B},7000,{POOL},7000", "--timeout", "udp=300",
             "--ctl", ctl],
            stdout=subprocess.DEVNULL, stderr=open(log, "w"), text=True,  # noqa: SIM115
            env=child_env())
        procs.append(nat)
        assert until(lambda: "translating" in log.read_text() or nat.poll() is not None,
                     60.0), log.read_text()
        assert nat.poll() is None, log.read_text()
        for dev, ns in ((t6, ns6), (t4, ns4)):
            ipns(nsr, "ip", "link", "set", dev, "netns", ns)
        ipns(ns6, "sysctl", "-qw", f"net.ipv6.conf.{t6}.accept_dad=0")
        ipns(ns6, "ip", "link", "set", t6, "up")
        for a in (HOST6, HOST6B):
            ipns(ns6, "ip", "-6", "addr", "add", a + "/64", "dev", t6, "nodad")
        ipns(ns4, "ip", "link", "set", t4, "up")
        ipns(ns4, "ip", "addr", "add", HOST4 + "/24", "dev", t4)
        ipns(ns4, "ip", "route", "add", POOL + "/32", "via", NODE4)
        # Our node's address exists after its DAD: then the route takes.
        assert until(lambda: ipns(ns6, "ip", "-6", "route", "replace", PREFIX, "via", NODE6,
                                  "dev", t6, check=False).returncode == 0, 60.0)
        for ns, addr, port in ((ns4, HOST4, "7777"), (ns6, HOST6B, "7000")):
            p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", UDP_ECHO,
                                  addr, port], stdout=subprocess.PIPE, text=True)
            procs.append(p)
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        yield Rig(ns6, ns4, ctl, log)


def test_fragmented_ping_through_nat64(rig: Rig) -> None:
    def ping() -> bool:
        r = ipns(rig.ns6, "ping", "-6", "-c", "3", "-i", "0.3", "-W", "3", "-s", "3000",
                 REMOTE6, check=False)
        return r.returncode == 0 and " 0% packet loss" in r.stdout

    assert until(ping, 60.0), rig.kame("netstat", "-s", "-p", "nat64")


def test_fragmented_udp_through_nat64(rig: Rig) -> None:
    def ask() -> bool:
        r = ipns(rig.ns6, sys.executable, "-c", UDP_ASK, HOST6, REMOTE6, "7777", "4096",
                 check=False)
        return r.stdout.split() == ["True", REMOTE6, "7777"]

    assert until(ask, 60.0), rig.kame("netstat", "-s", "-p", "nat64")


def test_hairpin_between_two_ipv6_hosts(rig: Rig) -> None:
    def ask() -> bool:
        r = ipns(rig.ns6, sys.executable, "-c", UDP_ASK, HOST6, POOL6, "7000", "512",
                 check=False)
        return r.stdout.split() == ["True", POOL6, "7000"]

    assert until(ask, 60.0), rig.kame("netstat", "-s", "-p", "nat64")

    # A fragmented datagram hairpins too.
    def big() -> bool:
        r = ipns(rig.ns6, sys.executable, "-c", UDP_ASK, HOST6, POOL6, "7000", "3072",
                 check=False)
        return r.stdout.split() == ["True", POOL6, "7000"]

    assert until(big, 60.0), rig.kame("netstat", "-s", "-p", "nat64")


def test_show_and_netstat(rig: Rig) -> None:
    """Runs last: what the tests above left in the tables and counters."""
    show = rig.kame("nat64", "show")
    assert f"udp   [{HOST6B}]#7000 <-> {POOL}#7000  static" in show, show
    assert f"[{HOST6}]#" in show and f"-> {HOST4}#7777" in show, show
    assert "icmp" in show
    st = rig.kame("netstat", "-s", "-p", "nat64")
    assert st.startswith("nat64:\n")
    counts = {line.split(None, 1)[1]: int(line.split()[0]) for line in st.splitlines()[1:]}
    assert counts["packets reassembled"] >= 4, st
    assert counts["packets hairpinned (RFC 6146 §3.8)"] >= 2, st
    assert counts["packets translated IPv6 to IPv4"] > 0 and counts["fragmented ICMP messages"] == 0
