"""The gif rig of tests/interop/test_gif_kernel.py,
test_gif_ipsec_kernel.py and test_gif_pmtu_kernel.py: two of our nodes (L, R) on TAP devices, each
with a Linux host behind it (HL, HR) and a Linux router between them.

    ns HL (kernel)            ns RT (kernel router)            ns HR (kernel)
    2001:db8:10::2, :11::2    192.0.2.254  198.51.100.254      2001:db8:20::2, :21::2
    10.1.0.2, 10.1.1.2        2001:db8:1::ff 2001:db8:2::ff     10.2.0.2, 10.2.1.2
          │                     │              │                     │
        tap ── kame node L ── tap              tap ── kame node R ── tap
               gif0: 192.0.2.1 -> 198.51.100.1 (IPv4 outer)
               gif1: 2001:db8:1::1 -> 2001:db8:2::1 (IPv6 outer)

The gif interfaces are made through the control sockets with the CLI
(``kame ifconfig gifN create tunnel SRC DST up``, ``kame gifconfig``). The
routes give each of the four combinations its own pair of host prefixes:
2001:db8:10/20 in IPv4, 2001:db8:11/21 in IPv6, 10.1.0/10.2.0 in IPv6,
10.1.1/10.2.1 in IPv4. tcpdump captures the router's two sides
(``T_LO.pcap``, ``T_RO.pcap``) with ``capture``'s filter; HR serves
``BODY`` over HTTP on port 8000.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from netns_rig import child_env, fresh_netns, ipns, quit_child, until

HERE = Path(__file__).resolve().parent
# each in its own namespace: the names need not be unique on the host
T_LI, T_LO, T_RO, T_RI = (f"gk{x}" for x in ("li", "lo", "ro", "ri"))
CASES = [  # (name, source, destination, outer family, inner family)
    ("v6-in-v4", "2001:db8:10::2", "2001:db8:20::2", "ip", "ipv6"),
    ("v6-in-v6", "2001:db8:11::2", "2001:db8:21::2", "ipv6", "ipv6"),
    ("v4-in-v6", "10.1.0.2", "10.2.0.2", "ipv6", "ip"),
    ("v4-in-v4", "10.1.1.2", "10.2.1.2", "ip", "ip"),
]
TUNNELED = "ip proto 41 or ip proto 4 or ip6 proto 41 or ip6 proto 4"

def sh(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, check=check)


def kame_cli(*args: str, stdin: str | None = None) -> str:
    p = subprocess.run([sys.executable, "-m", "kame", *args], capture_output=True, text=True,
                       timeout=60, env=child_env(), check=False, input=stdin)
    assert p.returncode == 0, p.stderr
    return p.stdout


class Rig:
    def __init__(self, child: subprocess.Popen[str], tmp: Path, pcap: Path, hl: str) -> None:
        self.child, self.tmp, self.pcap = child, tmp, pcap
        self.hl = hl  # the left host's namespace

    def cmd(self, obj: dict[str, Any]) -> Any:
        assert self.child.stdin is not None and self.child.stdout is not None
        self.child.stdin.write(json.dumps(obj) + "\n")
        self.child.stdin.flush()
        return json.loads(self.child.stdout.readline() or "{}")


@contextmanager
def gif_rig(tmp: Path, body: bytes, capture: str = TUNNELED,
            setkey: dict[str, str] | None = None, *, gif_mtu: int | None = None,
            router_mtu: int | None = None) -> Iterator[Rig]:
    """The rig, torn down on exit; ``setkey`` (node name -> setkey
    statements) is loaded through each node's control socket before the
    tunnels are made; ``gif_mtu`` the gif interfaces' MTU, ``router_mtu``
    the MTU of the router's link towards R (test_gif_pmtu_kernel.py)."""
    with ExitStack() as stack:
        hl, rt, hr = nss = tuple(stack.enter_context(fresh_netns(p))
                                 for p in ("gk-hl", "gk-r", "gk-hr"))
        for ns in nss:
            ipns(ns, "ip", "link", "set", "lo", "up")
        for ns, dev in ((hl, T_LI), (rt, T_LO), (rt, T_RO), (hr, T_RI)):
            ipns(ns, "ip", "tuntap", "add", "dev", dev, "mode", "tap")
            ipns(ns, "sysctl", "-qw", f"net.ipv6.conf.{dev}.accept_ra=0")
            ipns(ns, "sysctl", "-qw", f"net.ipv6.conf.{dev}.accept_dad=0")
        ipns(rt, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
        ipns(rt, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        kn = {"net.inet6.ip6.forwarding": 1, "net.inet.ip.forwarding": 1,
              "net.inet6.ip6.dad_count": 0, "net.link.ether.inet.dad_count": 0}
        cfg = {"nodes": [
            {"name": "L", "ctl": str(tmp / "L.sock"), "knobs": kn, "devs": [
                {"ns": hl, "name": T_LI, "mac": "02:00:00:00:1a:01",
                 "inet6": ["2001:db8:10::1/64", "2001:db8:11::1/64"],
                 "inet": ["10.1.0.1/24", "10.1.1.1/24"]},
                {"ns": rt, "name": T_LO, "mac": "02:00:00:00:1a:02",
                 "inet6": ["2001:db8:1::1/64"], "inet": ["192.0.2.1/24"]}],
             "routes6": [["2001:db8:2::/64", "2001:db8:1::ff", T_LO]],
             "routes4": [["198.51.100.0/24", "192.0.2.254", T_LO]]},
            {"name": "R", "ctl": str(tmp / "R.sock"), "knobs": kn, "devs": [
                {"ns": hr, "name": T_RI, "mac": "02:00:00:00:2a:01",
                 "inet6": ["2001:db8:20::1/64", "2001:db8:21::1/64"],
                 "inet": ["10.2.0.1/24", "10.2.1.1/24"]},
                {"ns": rt, "name": T_RO, "mac": "02:00:00:00:2a:02",
                 "inet6": ["2001:db8:2::1/64"], "inet": ["198.51.100.1/24"]}],
             "routes6": [["2001:db8:1::/64", "2001:db8:2::ff", T_RO]],
             "routes4": [["192.0.2.0/24", "198.51.100.254", T_RO]]},
        ]}
        child = subprocess.Popen([sys.executable, str(HERE / "gif_tapnode.py"), json.dumps(cfg)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=child_env())
        stack.callback(quit_child, child)
        assert child.stdout is not None and child.stdin is not None
        line = child.stdout.readline()
        assert "opened" in json.loads(line or "{}"), child.stderr.read() if child.stderr else ""
        for ns, dev, addrs in (
                (hl, T_LI, ["2001:db8:10::2/64", "2001:db8:11::2/64", "10.1.0.2/24",
                               "10.1.1.2/24"]),
                (rt, T_LO, ["2001:db8:1::ff/64", "192.0.2.254/24"]),
                (rt, T_RO, ["2001:db8:2::ff/64", "198.51.100.254/24"]),
                (hr, T_RI, ["2001:db8:20::2/64", "2001:db8:21::2/64", "10.2.0.2/24",
                               "10.2.1.2/24"])):
            for a in addrs:
                ipns(ns, "ip", "addr", "add", a, "dev", dev, *(["nodad"] if ":" in a else []))
            ipns(ns, "ip", "link", "set", dev, "up")
        for ns, v6, v4 in ((hl, "2001:db8:10::1", "10.1.0.1"),
                           (hr, "2001:db8:20::1", "10.2.0.1")):
            ipns(ns, "ip", "-6", "route", "add", "default", "via", v6)
            ipns(ns, "ip", "route", "add", "default", "via", v4)
        if router_mtu is not None:
            ipns(rt, "ip", "link", "set", T_RO, "mtu", str(router_mtu))
        pcap = tmp / "router.pcap"
        for dev in (T_LO, T_RO):
            cap = subprocess.Popen(
                ["ip", "netns", "exec", rt, "tcpdump", "-i", dev, "-U", "-s", "0", "-w",
                 str(tmp / f"{dev}.pcap"), capture], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            stack.callback(_end, cap)
        child.stdin.write("up\n")
        child.stdin.flush()
        assert "ready" in json.loads(child.stdout.readline() or "{}")
        for lc, text in (setkey or {}).items():
            kame_cli("setkey", "--ctl", str(tmp / f"{lc}.sock"), "-c", stdin=text)
        # the tunnels, through the CLI on the control sockets
        mtu = ["mtu", str(gif_mtu)] if gif_mtu is not None else []
        for me, peer, lc in (("1", "2", "L"), ("2", "1", "R")):
            ctl = str(tmp / f"{lc}.sock")
            v4 = {"1": "192.0.2.1", "2": "198.51.100.1"}
            kame_cli("ifconfig", "--ctl", ctl, "gif0", "create", "tunnel", v4[me], v4[peer],
                     *mtu, "up")
            kame_cli("ifconfig", "--ctl", ctl, "gif1", "create")
            kame_cli("gifconfig", "--ctl", ctl, "gif1", f"2001:db8:{me}::1",
                     f"2001:db8:{peer}::1")
            kame_cli("ifconfig", "--ctl", ctl, "gif1", *mtu, "up")
        r = Rig(child, tmp, pcap, hl)
        for node, mine, peer in (("L", "1", "2"), ("R", "2", "1")):
            r.cmd({"route6": [node, f"2001:db8:{peer}0::/64", None, "gif0"]})
            r.cmd({"route6": [node, f"2001:db8:{peer}1::/64", None, "gif1"]})
            r.cmd({"route4": [node, f"10.{peer}.0.0/24", None, "gif1"]})
            r.cmd({"route4": [node, f"10.{peer}.1.0/24", None, "gif0"]})
        (tmp / "www").mkdir()
        (tmp / "www" / "blob").write_bytes(body)
        http = subprocess.Popen(["ip", "netns", "exec", hr, sys.executable, "-m",
                                 "http.server", "--bind", "::", "-d", str(tmp / "www"), "8000"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stack.callback(_end, http, kill=True)
        time.sleep(0.5)
        yield r


def _end(p: subprocess.Popen[bytes], kill: bool = False) -> None:
    if kill:
        p.kill()
    else:
        p.terminate()
    p.wait(timeout=10)


def ping_and_fetch(rig: Rig, name: str, src: str, dst: str, body: bytes) -> None:
    """HL pings DST from SRC, then fetches ``body`` from HR's server."""
    def ping() -> bool:
        return ipns(rig.hl, "ping", "-c", "2", "-i", "0.2", "-W", "2", "-I", src, dst,
                    check=False).returncode == 0

    assert until(ping), f"{name}: no echo through the tunnel"
    host = f"[{dst}]" if ":" in dst else dst

    def fetch() -> bytes:
        p = subprocess.run(["ip", "netns", "exec", rig.hl, "curl", "-sS", "--max-time", "20",
                            "--interface", src, f"http://{host}:8000/blob"],
                           capture_output=True, timeout=40, check=False)
        return p.stdout if p.returncode == 0 else b""

    got = until(fetch, 60.0)
    assert hashlib.sha256(got or b"").hexdigest() == hashlib.sha256(body).hexdigest(), name
