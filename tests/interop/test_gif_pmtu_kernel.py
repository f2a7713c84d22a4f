"""gif's Path MTU against a real router (RFC 4213 §3.2, RFC 2473 §7): two
of our nodes tunnel across a Linux router namespace whose link towards
the far end has a small MTU. The router sends the real ICMPv6 Packet Too
Big / ICMPv4 Fragmentation Needed for our outer packet; our node turns it
into the inner error, and the kernel host behind it lowers its path MTU
(its route cache shows it) and then gets through.

    ns hl (kernel HL)        ns r (kernel router)                 ns hr (kernel HR)
    2001:db8:11::2           2001:db8:1::ff | 2001:db8:2::ff       2001:db8:21::2
    10.1.1.2                 192.0.2.254    | 198.51.100.254       10.2.1.2
        tap ── kame L ── tap (1500)          tap (MTU 1400) ── kame R ── tap
               gif0: 192.0.2.1 -> 198.51.100.1, IPv4 in IPv4, mtu 1440
               gif1: 2001:db8:1::1 -> 2001:db8:2::1, IPv6 in IPv6, mtu 1440

IPv6: a 1440-octet packet from HL becomes a 1480-octet outer packet; the
router's PTB says 1400; HL hears 1360 (1400 less the outer header).
IPv4: a 1440-octet DF datagram becomes 1460 with DF copied; the router's
Needs-Frag says 1400; HL hears 1380.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

from netns_rig import child_env, fresh_netns, ipns, quit_child, until

HERE = Path(__file__).resolve().parent


class Rig:
    def __init__(self, child: subprocess.Popen[str], hl: str, r: str) -> None:
        self.child, self.hl, self.r = child, hl, r

    def cmd(self, obj: dict[str, Any]) -> Any:
        assert self.child.stdin is not None and self.child.stdout is not None
        self.child.stdin.write(json.dumps(obj) + "\n")
        self.child.stdin.flush()
        return json.loads(self.child.stdout.readline() or "{}")


def kame_cli(*args: str) -> str:
    p = subprocess.run([sys.executable, "-m", "kame", *args], capture_output=True, text=True,
                       timeout=60, env=child_env(), check=False)
    assert p.returncode == 0, p.stderr
    return p.stdout


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    tmp = tmp_path_factory.mktemp("gif-pmtu")
    # each in its own namespace: the names need not be unique on the host
    t_li, t_lo, t_ro, t_ri = (f"gp{x}" for x in ("li", "lo", "ro", "ri"))
    with ExitStack() as stack:
        hl = stack.enter_context(fresh_netns("gphl"))
        r = stack.enter_context(fresh_netns("gpr"))
        hr = stack.enter_context(fresh_netns("gphr"))
        for ns in (hl, r, hr):
            ipns(ns, "ip", "link", "set", "lo", "up")
        for ns, dev in ((hl, t_li), (r, t_lo), (r, t_ro), (hr, t_ri)):
            ipns(ns, "ip", "tuntap", "add", "dev", dev, "mode", "tap")
            ipns(ns, "sysctl", "-qw", f"net.ipv6.conf.{dev}.accept_ra=0")
            ipns(ns, "sysctl", "-qw", f"net.ipv6.conf.{dev}.accept_dad=0")
        ipns(r, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
        ipns(r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        kn = {"net.inet6.ip6.forwarding": 1, "net.inet.ip.forwarding": 1,
              "net.inet6.ip6.dad_count": 0, "net.link.ether.inet.dad_count": 0}
        cfg = {"nodes": [
            {"name": "L", "ctl": str(tmp / "L.sock"), "knobs": kn, "devs": [
                {"ns": hl, "name": t_li, "mac": "02:00:00:00:3a:01",
                 "inet6": ["2001:db8:11::1/64"], "inet": ["10.1.1.1/24"]},
                {"ns": r, "name": t_lo, "mac": "02:00:00:00:3a:02",
                 "inet6": ["2001:db8:1::1/64"], "inet": ["192.0.2.1/24"]}],
             "routes6": [["2001:db8:2::/64", "2001:db8:1::ff", t_lo]],
             "routes4": [["198.51.100.0/24", "192.0.2.254", t_lo]]},
            {"name": "R", "ctl": str(tmp / "R.sock"), "knobs": kn, "devs": [
                {"ns": hr, "name": t_ri, "mac": "02:00:00:00:4a:01",
                 "inet6": ["2001:db8:21::1/64"], "inet": ["10.2.1.1/24"]},
                {"ns": r, "name": t_ro, "mac": "02:00:00:00:4a:02",
                 "inet6": ["2001:db8:2::1/64"], "inet": ["198.51.100.1/24"]}],
             "routes6": [["2001:db8:1::/64", "2001:db8:2::ff", t_ro]],
             "routes4": [["192.0.2.0/24", "198.51.100.254", t_ro]]},
        ]}
        child = subprocess.Popen([sys.executable, str(HERE / "gif_tapnode.py"), json.dumps(cfg)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True, env=child_env())

        stack.callback(quit_child, child, 20)
        assert child.stdout is not None and child.stdin is not None
        assert "opened" in json.loads(child.stdout.readline() or "{}")
        for ns, dev, addrs in ((hl, t_li, ["2001:db8:11::2/64", "10.1.1.2/24"]),
                               (r, t_lo, ["2001:db8:1::ff/64", "192.0.2.254/24"]),
                               (r, t_ro, ["2001:db8:2::ff/64", "198.51.100.254/24"]),
                               (hr, t_ri, ["2001:db8:21::2/64", "10.2.1.2/24"])):
            for a in addrs:
                ipns(ns, "ip", "addr", "add", a, "dev", dev, *(["nodad"] if ":" in a else []))
            ipns(ns, "ip", "link", "set", dev, "up")
        # The small-MTU link: the router's side towards R.
        ipns(r, "ip", "link", "set", t_ro, "mtu", "1400")
        for ns, v6, v4 in ((hl, "2001:db8:11::1", "10.1.1.1"), (hr, "2001:db8:21::1", "10.2.1.1")):
            ipns(ns, "ip", "-6", "route", "add", "default", "via", v6)
            ipns(ns, "ip", "route", "add", "default", "via", v4)
        child.stdin.write("up\n")
        child.stdin.flush()
        assert "ready" in json.loads(child.stdout.readline() or "{}")
        for me, peer, lc in (("1", "2", "L"), ("2", "1", "R")):
            ctl = str(tmp / f"{lc}.sock")
            v4 = {"1": "192.0.2.1", "2": "198.51.100.1"}
            kame_cli("ifconfig", "--ctl", ctl, "gif0", "create", "tunnel", v4[me], v4[peer],
                     "mtu", "1440", "up")
            kame_cli("ifconfig", "--ctl", ctl, "gif1", "create", "tunnel", f"2001:db8:{me}::1",
                     f"2001:db8:{peer}::1", "mtu", "1440", "up")
        rig = Rig(child, hl, r)
        for node, peer in (("L", "2"), ("R", "1")):
            rig.cmd({"route6": [node, f"2001:db8:{peer}1::/64", None, "gif1"]})
            rig.cmd({"route4": [node, f"10.{peer}.1.0/24", None, "gif0"]})
        yield rig


def _route_mtu(ns: str, *get: str) -> int | None:
    out = ipns(ns, "ip", *get, check=False).stdout
    m = re.search(r"\bmtu (\d+)", out)
    return int(m.group(1)) if m else None


def _ping(ns: str, *args: str) -> bool:
    r = ipns(ns, "ping", "-c", "2", "-i", "0.3", "-W", "2", *args, check=False)
    return r.returncode == 0 and " 0% packet loss" in r.stdout


def test_outer_ptb_becomes_inner_ptb_ipv6(rig: Rig) -> None:
    dst = "2001:db8:21::2"
    assert until(lambda: _ping(rig.hl, "-6", dst), 60.0)  # ND done, small packets pass
    assert _route_mtu(rig.hl, "-6", "route", "get", dst) is None

    def lowered() -> bool:
        _ping(rig.hl, "-6", "-s", "1392", dst)  # 1440 octets: 1480 outside, too big at 1400
        return _route_mtu(rig.hl, "-6", "route", "get", dst) == 1360

    assert until(lowered, 60.0), ipns(rig.hl, "ip", "-6", "route", "get", dst).stdout
    # HL now fragments to 1360 and the big echo gets through, both ways.
    assert until(lambda: _ping(rig.hl, "-6", "-s", "1392", dst), 60.0)
    assert rig.cmd({"stats": "L"}).get("gifs_pmtu", 0) >= 1


def test_outer_needfrag_becomes_inner_needfrag_ipv4(rig: Rig) -> None:
    dst = "10.2.1.2"
    assert until(lambda: _ping(rig.hl, dst), 60.0)

    def lowered() -> bool:
        _ping(rig.hl, "-M", "do", "-s", "1412", dst)  # 1440 with DF: 1460 outside
        return _route_mtu(rig.hl, "route", "get", dst) == 1380

    assert until(lowered, 60.0), ipns(rig.hl, "ip", "route", "get", dst).stdout
    assert until(lambda: _ping(rig.hl, "-M", "do", "-s", "1352", dst), 60.0)  # 1380 fits
    assert rig.cmd({"stats": "L"}).get("gifs_pmtu", 0) >= 2
