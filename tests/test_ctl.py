"""The control socket and the BSD-style tools on an in-memory node (no root).

A router and a host run on a memory link whose simulated clock follows the
real one, in a thread that also serves the host's control socket; the tools
(`kame ndp`, `ping6`, `netstat`, `ifconfig`) run in the test thread and
talk to it over AF_UNIX, as they would to `kame node --tap`."""

from __future__ import annotations

import json
import os
import re
import select
import socket
import threading
import time
from collections.abc import Iterator
from ipaddress import IPv6Address as A
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kame.cli.main import main
from kame.cli.tools import format_ifconfig, format_ndp_a, sec2str
from kame.ctl import (
    Client,
    ControlError,
    ControlServer,
    NodeHost,
    _Conn,
    request,
    snap_ifconfig,
)
from kame.in6_var import In6Flags
from kame.knobs import Knobs
from kame.link.memory import MemoryLink, Simulation
from kame.nd6.rtr import RaConfig
from kame.nd6.types import PrefixInfo
from kame.node import Node

MR, MH = bytes.fromhex("020000000001"), bytes.fromhex("02000000000a")
LLR, LLH = "fe80::ff:fe00:1", "fe80::ff:fe00:a"
GH = "2001:db8:1::ff:fe00:a"


class Rig:
    def __init__(self, path: str) -> None:
        self.sim = Simulation()
        link = MemoryLink(delay=0.002)
        self.r = Node("r", knobs=Knobs({"net.inet6.ip6.forwarding": 1}), seed=1)
        self.h = Node("h", knobs=Knobs({"net.inet6.ip6.accept_rtadv": 1}), seed=2)
        self.host = NodeHost(self.h)
        self.r.add_interface("eth0", MR)
        self.h.add_interface("eth0", MH)
        self.sim.connect(self.r, "eth0", link, MR)
        self.sim.connect(self.host, "eth0", link, MH)
        self.server = ControlServer(self.host, path, clock=lambda: self.sim.now,
                                    transmit=lambda fr: self.sim.emit(self.host, fr))
        self.stop = False
        self.error: BaseException | None = None
        self.t0 = time.monotonic()
        self.sim.emit(self.r, self.r.up("eth0", 0.0))
        self.sim.emit(self.host, self.host.up("eth0", 0.0))
        self.sim.run(until=2.0)
        self.r.rtr.advertise("eth0", RaConfig(max_interval=10, prefixes=(
            PrefixInfo(A("2001:db8:1::"), 64, valid_lifetime=3600, preferred_lifetime=1800),)),
            self.sim.now)
        self.sim.run(until=4.0)  # RA, SLAAC, DAD of the global address
        self.t0 -= 4.0 - (time.monotonic() - self.t0)
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        try:
            while not self.stop:
                r, w, _ = select.select(self.server.sockets(), self.server.want_write(), [], 0.005)
                self.server.handle(r, w)
                self.sim.run(until=max(self.sim.now, time.monotonic() - self.t0))
                self.server.dispatch_events(self.host.take_events())
        except BaseException as e:  # noqa: BLE001 - reported by the fixture
            self.error = e

    def close(self) -> None:
        self.stop = True
        self.thread.join(5)
        self.server.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    (tmp_path / "ctl").mkdir()  # kame does not create the folder of a --ctl path
    rg = Rig(str(tmp_path / "ctl" / "eth0.sock"))
    try:
        yield rg
    finally:
        rg.close()
        assert rg.error is None, rg.error


def kame(capsys, *argv: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    rc = main(list(argv))
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_ifconfig(rig: Rig, capsys) -> None:  # type: ignore[no-untyped-def]
    rc, out, _ = kame(capsys, "ifconfig", "-L", "--ctl", rig.server.path)
    assert rc == 0
    lines = out.splitlines()
    assert lines[0] == "eth0: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> metric 0 mtu 1500"
    assert "\tether 02:00:00:00:00:0a" in lines
    assert f"\tinet6 {LLH}%eth0 prefixlen 64 scopeid 0x1" in lines
    (g,) = [ln for ln in lines if GH in ln]
    m = re.fullmatch(rf"\tinet6 {GH} prefixlen 64 autoconf pltime (\d+) vltime (\d+)", g)
    assert m and 1790 <= int(m.group(1)) <= 1800 and 3590 <= int(m.group(2)) <= 3600
    assert lines[-1] == "\tnd6 options=23<PERFORMNUD,ACCEPT_RTADV,AUTO_LINKLOCAL>"
    data = request(rig.server.path, "ifconfig", ifname="eth0")
    assert {a["addr"] for a in data[0]["addrs"]} == {LLH, GH}
    rc, _, err = kame(capsys, "ifconfig", "nope0", "--ctl", rig.server.path)
    assert rc == 1 and "nope0 does not exist" in err


def test_ndp_lists(rig: Rig, capsys) -> None:  # type: ignore[no-untyped-def]
    rc, out, _ = kame(capsys, "ndp", "-a", "--ctl", rig.server.path)
    assert rc == 0
    head, *rows = out.splitlines()
    assert head.split() == ["Neighbor", "Linklayer", "Address", "Netif", "Expire", "S", "Flags"]
    (rtr,) = [r for r in rows if r.startswith(LLR + "%eth0 ")]
    f = rtr.split()
    assert f[1] == "02:00:00:00:00:01" and f[2] == "eth0" and f[-1] == "R"
    assert f[-2] in "RSDP" and re.fullmatch(r"(\d+h)?(\d+m)?\d+s", f[3])
    own = [r.split() for r in rows if r.split()[1] == "02:00:00:00:00:0a"]
    assert {o[0] for o in own} == {LLH + "%eth0", GH}
    assert all(o[3] == "permanent" for o in own)

    rc, out, _ = kame(capsys, "ndp", "-p", "--ctl", rig.server.path)
    assert out.splitlines()[0] == "2001:db8:1::/64 if=eth0"
    assert re.fullmatch(r"flags=LAO vltime=\d+, pltime=\d+, expire=\d+m\d+s, ref=1",
                        out.splitlines()[1])
    # ndp.c lists the routers that advertised the prefix, with their state
    assert out.splitlines()[2:4] == ["  advertised by", f"    {LLR}%eth0 (reachable)"]

    rc, out, _ = kame(capsys, "ndp", "-r", "--ctl", rig.server.path)
    assert re.fullmatch(rf"{LLR}%eth0 if=eth0, flags=, pref=medium, expire=\d+s \(installed\)\n",
                        out)

    rc, out, _ = kame(capsys, "ndp", "-i", "eth0", "--ctl", rig.server.path)
    line1, line2 = out.splitlines()
    m = re.fullmatch(r"linkmtu=0, maxmtu=1500, curhlim=64, basereachable=30s0ms, "
                     r"reachable=(\d+)s, retrans=1s0ms", line1)
    assert m and 15 <= int(m.group(1)) <= 45
    assert line2.split()[0] == "Flags:" and "nud" in line2 and "accept_rtadv" in line2


def test_ping6_and_netstat(rig: Rig, capsys) -> None:  # type: ignore[no-untyped-def]
    rc, out, _ = kame(capsys, "ping6", "-c", "3", "-i", "0.05", "--ctl", rig.server.path,
                      f"{LLR}%eth0")
    assert rc == 0, out
    lines = out.splitlines()
    assert lines[0] == f"PING6(104=40+8+56 bytes) {LLH}%eth0 --> {LLR}%eth0"
    replies = [ln for ln in lines if " bytes from " in ln]
    assert len(replies) == 3
    for i, ln in enumerate(replies):
        assert re.fullmatch(rf"64 bytes from {LLR}%eth0, icmp_seq={i} hlim=64 "
                            r"time=\d+\.\d{3} ms", ln), ln
    assert f"--- {LLR}%eth0 ping6 statistics ---" in lines
    assert "3 packets transmitted, 3 packets received, 0.0% packet loss" in lines
    assert re.search(r"round-trip min/avg/max/std-dev = [\d.]+/[\d.]+/[\d.]+/[\d.]+ ms", out)
    assert rig.r.stats["icp6s_reflect"] == 3

    # -I gives the zone; the global prefix is on-link: no router needed
    rc, out, _ = kame(capsys, "ping6", "-c", "1", "-I", "eth0", "--ctl", rig.server.path, LLR)
    assert rc == 0 and "1 packets received" in out

    rc, out, _ = kame(capsys, "netstat", "-s", "-p", "icmp6", "--ctl", rig.server.path)
    assert out.startswith("icmp6:\n")
    out_hist = out.split("\tOutput histogram:\n")[1].split("\n\t0 ")[0]
    assert re.search(r"^\t\techo: 4$", out_hist, re.MULTILINE)
    assert re.search(r"^\t\trouter solicitation: \d+$", out_hist, re.MULTILINE)
    in_hist = out.split("\tInput histogram:\n")[1]
    assert re.search(r"^\t\techo reply: 4$", in_hist, re.MULTILINE)
    assert re.search(r"^\t\trouter advertisement: [1-9]", in_hist, re.MULTILINE)
    assert "\t0 calls to icmp6_error" in out

    rc, out, _ = kame(capsys, "netstat", "-s", "-p", "ip6", "--ctl", rig.server.path)
    assert out.startswith("ip6:\n")
    total = int(re.search(r"^\t(\d+) total packets received$", out, re.MULTILINE).group(1))
    assert total == rig.h.stats["ip6s_total"] > 4
    assert re.search(r"^\t\tICMP6: \d+$", out, re.MULTILINE)


def test_ndp_writes(rig: Rig, capsys) -> None:  # type: ignore[no-untyped-def]
    """ndp -i IF -nud (seed §1.2), ndp -d, ndp -c."""
    rc, out, _ = kame(capsys, "ndp", "--ctl", rig.server.path, "-i", "eth0", "-nud",
                      "prefer_source")
    assert rc == 0
    flags = out.splitlines()[1].split()[1:]
    assert "nud" not in flags and "prefer_source" in flags and "accept_rtadv" in flags
    assert not rig.h.ifnets["eth0"].flags.nud and rig.h.ifnets["eth0"].flags.prefer_source
    rc, out, _ = kame(capsys, "ndp", "-i", "eth0", "nud", "-prefer_source", "--ctl",
                      rig.server.path)
    assert rc == 0 and rig.h.ifnets["eth0"].flags.nud
    assert not rig.h.ifnets["eth0"].flags.prefer_source
    rc, _, err = kame(capsys, "ndp", "-i", "eth0", "-bogus", "--ctl", rig.server.path)
    assert rc == 1 and "unknown ND flag 'bogus'" in err

    rc, out, _ = kame(capsys, "ndp", "-d", f"{LLR}%eth0", "--ctl", rig.server.path)
    assert rc == 0 and out == f"{LLR}%eth0 ({LLR}%eth0) deleted\n"
    assert f"{LLR}%eth0 " not in kame(capsys, "ndp", "-a", "--ctl", rig.server.path)[1]
    rc, _, err = kame(capsys, "ndp", "-d", f"{LLR}%eth0", "--ctl", rig.server.path)
    assert rc == 1 and "cannot locate" in err
    # a ping re-resolves it; ndp -c flushes it again
    assert kame(capsys, "ping6", "-c", "1", "--ctl", rig.server.path, f"{LLR}%eth0")[0] == 0
    rc, out, _ = kame(capsys, "ndp", "-c", "--ctl", rig.server.path)
    assert rc == 0 and f"{LLR}%eth0 ({LLR}%eth0) deleted" in out
    assert len(kame(capsys, "ndp", "-a", "--ctl", rig.server.path)[1].splitlines()) == 3


def test_ping6_multicast(rig: Rig, capsys) -> None:  # type: ignore[no-untyped-def]
    """ping6 ff02::1%eth0: the router answers from its link-local address."""
    rc, out, _ = kame(capsys, "ping6", "-c", "2", "-i", "0.1", "--ctl", rig.server.path,
                      "ff02::1%eth0")
    assert rc == 0, out
    assert f"PING6(104=40+8+56 bytes) {LLH}%eth0 --> ff02::1%eth0" in out
    assert len(re.findall(rf"64 bytes from {LLR}%eth0, icmp_seq=[01] hlim=64", out)) == 2
    rc, _, err = kame(capsys, "ping6", "-c", "1", "--ctl", rig.server.path, "-I", "eth1",
                      "ff02::1")
    assert rc == 1 and "eth1: no such interface" in err


def test_client_cap(rig: Rig) -> None:
    from kame.ctl import MAX_CLIENTS
    socks = []
    try:
        for _ in range(MAX_CLIENTS):
            c = Client(rig.server.path)
            socks.append(c)
            assert c.call("time") > 0
        extra = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        extra.settimeout(5)
        extra.connect(rig.server.path)
        assert extra.recv(10) == b""  # closed at once
        extra.close()
    finally:
        for c in socks:
            c.close()
    for _ in range(100):  # and it serves again once the server saw the closes
        try:
            assert request(rig.server.path, "time") > 0
            break
        except ControlError:
            time.sleep(0.02)
    else:
        raise AssertionError("the server never took a new client")


def test_ping6_failures(rig: Rig, capsys) -> None:  # type: ignore[no-untyped-def]
    rc, out, _ = kame(capsys, "ping6", "-c", "1", "--ctl", rig.server.path, "fe80::dead%eth0")
    assert rc == 2
    assert "1 packets transmitted, 0 packets received, 100.0% packet loss" in out
    rc, _, err = kame(capsys, "ping6", "-c", "1", "--ctl", rig.server.path, "fe80::1%nope")
    assert rc == 1 and "nope" in err
    rc, _, err = kame(capsys, "ping6", "-c", "1", "--ctl", rig.server.path, "fe80:1::1%eth0")
    assert rc == 1 and "embedded" in err  # §1.3.3: never the kernel-internal form
    # off-link: goes to the default router, which does not answer for it
    rc, out, _ = kame(capsys, "ping6", "-c", "1", "--ctl", rig.server.path, "2001:db8:99::1")
    assert rc == 2 and "100.0% packet loss" in out
    rc, _, err = kame(capsys, "ndp", "-a", "--ctl", str(Path(rig.server.path).with_name("x")))
    assert rc == 1 and "is `kame node` running?" in err


def test_no_route(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """A host without a default router: off-link destinations have no route."""
    node = Node("lonely", seed=5)
    node.add_interface("eth0", MH)
    host = NodeHost(node)
    host.up("eth0", 0.0)
    server = ControlServer(host, str(tmp_path / "s.sock"), clock=lambda: 0.0,
                           transmit=lambda fr: None)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            r, w, _ = select.select(server.sockets(), server.want_write(), [], 0.01)
            server.handle(r, w)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    try:
        rc, _, err = kame(capsys, "ping6", "-c", "1", "--ctl", server.path, "2001:db8:99::1")
        assert rc == 1 and "No route to host" in err
        rc, out, _ = kame(capsys, "ndp", "-r", "--ctl", server.path)
        assert rc == 0 and out == ""
    finally:
        stop.set()
        t.join(5)
        server.close()


def test_protocol_errors_keep_the_server_alive(rig: Rig) -> None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(rig.server.path)
    s.settimeout(5)
    f = s.makefile("rwb")
    for bad, why in ((b"not json", "Expecting value"), (b"[1]", "JSON object"),
                     (b'{"op": "reboot"}', "unknown op"), (b'{"op": "ndp_i"}', "ifname")):
        f.write(bad + b"\n")
        f.flush()
        ans = json.loads(f.readline())
        assert ans["ok"] is False and why in ans["error"], ans
    f.write(b"x" * 10000)
    f.flush()
    ans = json.loads(f.readline())
    assert ans["ok"] is False and "longer than" in ans["error"]
    assert f.readline() == b""  # and the connection is closed
    s.close()
    with Client(rig.server.path) as c:
        assert c.call("time") >= 4.0
    with pytest.raises(ControlError, match="unknown op"):
        request(rig.server.path, "nope")


def test_ifconfig_address_flags() -> None:
    """tentative while DAD runs, duplicated after a conflict, anycast."""
    node = Node("x", seed=3)
    node.add_interface("eth0", MH)
    node.up("eth0", 0.0)
    node.add_address("eth0", "2001:db8::1/64", 0.0)
    node.add_address("eth0", "2001:db8::2/64", 0.0, anycast=True)
    ifa = node.addrs.find("eth0", A("2001:db8::3")) or node.add_address(
        "eth0", "2001:db8::3/64", 0.0)
    ifa.flags = (ifa.flags & ~In6Flags.TENTATIVE) | In6Flags.DUPLICATED
    text = format_ifconfig(snap_ifconfig(node, None, 0.0))
    assert "\tinet6 2001:db8::1 prefixlen 64 tentative\n" in text
    assert "\tinet6 2001:db8::2 prefixlen 64 anycast\n" in text
    assert "\tinet6 2001:db8::3 prefixlen 64 duplicated\n" in text
    assert f"\tinet6 {LLH}%eth0 prefixlen 64 tentative scopeid 0x1\n" in text
    node.ifnets["eth0"].up = False
    assert format_ifconfig(snap_ifconfig(node, "eth0", 0.0)).startswith(
        "eth0: flags=8802<BROADCAST,SIMPLEX,MULTICAST> metric 0 mtu 1500\n")


def test_formatting_helpers() -> None:
    assert sec2str(None) == "permanent"
    assert sec2str(5) == "5s" and sec2str(65) == "1m5s" and sec2str(3600) == "1h0m0s"
    assert sec2str(90061) == "1d1h1m1s"
    row = {"neighbor": "fe80::1%eth0", "lladdr": None, "ifname": "eth0", "expire": -1,
           "state": "I", "router": False}
    line = format_ndp_a([row]).splitlines()[1]
    assert line.split() == ["fe80::1%eth0", "(incomplete)", "eth0", "expired", "I"]


@given(st.one_of(
    st.binary(max_size=200),
    st.builds(lambda d: json.dumps(d).encode(), st.dictionaries(
        st.sampled_from(["op", "dst", "ifname", "seq", "size", "ident", "x"]),
        st.one_of(st.none(), st.integers(-2**70, 2**70), st.text(max_size=30),
                  st.sampled_from(["ndp_a", "ndp_p", "ndp_r", "ndp_i", "ifconfig", "stats",
                                   "ping", "time", "fe80::1%eth0", "eth0", "::1"]))))))
def test_any_request_gets_an_answer(line: bytes) -> None:
    """Whatever a client sends, the server answers with ok true/false and
    never raises (the daemon must survive its clients)."""
    ans = _SERVER._answer(_CONN, line)
    assert isinstance(ans["ok"], bool)
    json.dumps(ans)  # and the answer is serialisable


def test_deep_nesting_is_refused() -> None:
    ans = _SERVER._answer(_CONN, b"[" * 4000 + b"]" * 4000)
    assert ans["ok"] is False


def _make_server() -> tuple[ControlServer, _Conn]:
    import tempfile
    node = Node("f", seed=9)
    node.add_interface("eth0", MH)
    host = NodeHost(node)
    host.up("eth0", 0.0)
    path = os.path.join(tempfile.mkdtemp(prefix="kame-ctl-"), "f.sock")
    srv = ControlServer(host, path, clock=lambda: 1.0, transmit=lambda fr: None)
    return srv, _Conn(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))


_SERVER, _CONN = _make_server()


def test_ifconfig_temporary_and_deprecated() -> None:
    """RFC 4941 temporary addresses and a deprecated prefix, as ifconfig shows
    them after a router's RAs on a memory link."""
    sim = Simulation()
    link = MemoryLink(delay=0.001)
    r = Node("r", knobs=Knobs({"net.inet6.ip6.forwarding": 1}), seed=1)
    h = Node("h", knobs=Knobs({"net.inet6.ip6.accept_rtadv": 1,
                               "net.inet6.ip6.use_tempaddr": 1}), seed=2)
    for n, m in ((r, MR), (h, MH)):
        n.add_interface("eth0", m)
        sim.connect(n, "eth0", link, m)
        sim.emit(n, n.up("eth0", 0.0))
    sim.run(until=2.0)
    r.rtr.advertise("eth0", RaConfig(max_interval=4, prefixes=(
        PrefixInfo(A("2001:db8:1::"), 64, valid_lifetime=3600, preferred_lifetime=1800),
        PrefixInfo(A("2001:db8:2::"), 64, valid_lifetime=3600, preferred_lifetime=0))),
        sim.now)
    sim.run(until=6.0)
    text = format_ifconfig(snap_ifconfig(h, "eth0", sim.now), lifetimes=True)
    assert re.search(r"\tinet6 2001:db8:1::ff:fe00:a prefixlen 64 autoconf pltime 17\d\d "
                     r"vltime 35\d\d\n", text), text
    temps = re.findall(r"\tinet6 (2001:db8:1:[0-9a-f:]+) prefixlen 64 autoconf temporary "
                       r"pltime \d+ vltime \d+\n", text)
    assert len(temps) == 1 and temps[0] != "2001:db8:1::ff:fe00:a", text
    assert re.search(r"\tinet6 2001:db8:2::ff:fe00:a prefixlen 64 deprecated autoconf "
                     r"pltime 0 vltime 35\d\d\n", text), text


def test_node_sim_daemon(tmp_path: Path) -> None:
    """`kame node --sim`: three nodes in real time, one control socket each;
    the tools work against it without root; SIGTERM stops it cleanly."""
    import signal
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root / "python") + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    p = subprocess.Popen([sys.executable, "-m", "kame.cli.main", "node", "--sim", "--ctl-dir",
                          str(tmp_path)], stderr=subprocess.PIPE, text=True, env=env)

    def tool(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kame.cli.main", *argv], env=env,
                              capture_output=True, text=True, timeout=60, check=False)
    try:
        h1, h2 = str(tmp_path / "h1.sock"), str(tmp_path / "h2.sock")
        end = time.monotonic() + 30
        while time.monotonic() < end:
            if os.path.exists(h2) and "2001:db8:1::ff:fe00:b prefixlen 64 autoconf\n" in tool(
                    "ifconfig", "--ctl", h2).stdout:
                break
            time.sleep(0.2)
        ping = tool("ping6", "-c", "2", "-i", "0.1", "--ctl", h1, "2001:db8:1::ff:fe00:b")
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert "2 packets transmitted, 2 packets received" in ping.stdout
        assert tool("ndp", "-r", "--ctl", h2).stdout.startswith("fe80::ff:fe00:1%eth0 if=eth0")
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=15) == 0
        assert not os.path.exists(h1)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)


def test_find_ctl(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from kame.cli import tools
    assert tools.find_ctl("/x/y.sock") == "/x/y.sock"
    monkeypatch.setattr(tools.glob, "glob", lambda pat: [])
    with pytest.raises(ControlError, match="no /run/kame"):
        tools.find_ctl(None)
    monkeypatch.setattr(tools.glob, "glob", lambda pat: ["/run/kame/tap0.sock"])
    assert tools.find_ctl(None) == "/run/kame/tap0.sock"
    monkeypatch.setattr(tools.glob, "glob", lambda pat: ["/run/kame/a.sock", "/run/kame/b.sock"])
    with pytest.raises(ControlError, match="several nodes"):
        tools.find_ctl(None)


def test_ndp_a_columns_widen() -> None:
    rows = [{"neighbor": "fe80::1234:5678:9abc:def0%longifname0", "lladdr": "02:00:00:00:00:01",
             "ifname": "longifname0", "expire": 30, "state": "R", "router": True}]
    head, line = format_ndp_a(rows).splitlines()
    assert head.index("Linklayer") == line.index("02:00")
    assert head.index("Netif") + len("Netif") == line.rindex("longifname0") + len("longifname0")
    assert head.index("Expire") == line.index("30s")


def test_igmp_boundary(rig: Rig, capsys) -> None:  # type: ignore[no-untyped-def]
    """kame igmp boundary add|delete IF PREFIX (RFC 2365) and its line in
    kame igmp show."""
    rc, out, _ = kame(capsys, "igmp", "boundary", "add", "eth0", "239.255.0.0/16", "--ctl",
                      rig.server.path)
    assert rc == 0 and out == "eth0: boundary 239.255.0.0/16\n"
    assert rig.h.inet.mroute_boundaries() == {"eth0": ["239.255.0.0/16"]}
    rc, _, err = kame(capsys, "igmp", "boundary", "add", "eth0", "224.0.0.0/4", "--ctl",
                      rig.server.path)
    assert rc == 1 and "inside 239.0.0.0/8" in err
    rc, _, err = kame(capsys, "igmp", "boundary", "add", "eth0", "--ctl", rig.server.path)
    assert rc != 0 and "add|delete IF PREFIX" in err
    rc, out, _ = kame(capsys, "igmp", "show", "--ctl", rig.server.path)
    assert rc == 0 and "eth0: boundary 239.255.0.0/16" in out.splitlines(), out
    rc, out, _ = kame(capsys, "igmp", "boundary", "delete", "eth0", "239.255.0.0/16", "--ctl",
                      rig.server.path)
    assert rc == 0 and out == "" and rig.h.inet.mroute_boundaries() == {}
    rc, _, err = kame(capsys, "igmp", "boundary", "delete", "eth0", "239.255.0.0/16", "--ctl",
                      rig.server.path)
    assert rc == 1 and "no boundary" in err
