"""The node's hosted sockets and their tools, without root (issue 9):
`kame netstat -an` / `-s -p tcp|udp|ip|icmp|arp` and `kame arp -an` in
FreeBSD's formats, the inetd-style services of `kame node --serve`, and the
iperf3 protocol (:mod:`kame.cli.iperf3`) between two of our nodes on the
memory link, with a peer that breaks the protocol in every way hypothesis
finds (the node never raises, the test ends with an error, the server
serves the next test). `kame node --sim` runs them end to end."""

from __future__ import annotations

import json
import os
import re
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kame.cli import iperf3 as ip3
from kame.cli.inetd import Apps, parse_serve
from kame.cli.tools import format_arp, format_netstat4, format_netstat_an
from kame.ctl import NodeHost, snap_arp, snap_pcbs, snap_stats4
from kame.link.memory import MemoryLink, Simulation
from kame.node import Node
from kame.socket import AF_INET, AF_INET6, SocketLayer
from kame.socket.const import SOCK_DGRAM
from kame.socket.stream import SOCK_STREAM

MA, MB = bytes.fromhex("020000000a0a"), bytes.fromhex("020000000b0b")
A6, B6 = "2001:db8::a", "2001:db8::b"
A4, B4 = "192.0.2.10", "192.0.2.11"
ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=str(ROOT / "python") + os.pathsep
           + os.environ.get("PYTHONPATH", ""))


class Net:
    """Two nodes, a (client side) and b, each with a socket layer and apps."""

    def __init__(self, delay: float = 0.02) -> None:
        # 40 ms round trips: the windows, not the CPU, bound a timed test's volume
        self.sim = Simulation()
        link = MemoryLink(delay=delay, seed=3)
        self.a, self.b = Node("a", seed=1), Node("b", seed=2)
        self.hosts = {}
        for n, mac, a6, a4 in ((self.a, MA, A6, A4), (self.b, MB, B6, B4)):
            n.knobs["net.inet6.ip6.dad_count"] = 0
            n.knobs["net.link.ether.inet.dad_count"] = 0
            n.add_interface("eth0", mac)
            h = self.hosts[n.hostname] = NodeHost(n)
            self.sim.connect(h, "eth0", link, mac)
            self.sim.emit(h, h.up("eth0", 0.0))
            n.add_address("eth0", a6 + "/64", 0.0)
            n.add_address4("eth0", a4 + "/24", 0.0)
        self.sim.run(until=1.0)
        self.la, self.lb = SocketLayer(self.a, "linux"), SocketLayer(self.b, "linux")
        self.apps_a, self.apps_b = Apps(self.la), Apps(self.lb)
        self.sync()

    def sync(self) -> None:
        for n in (self.a, self.b):
            self.sim.emit(self.hosts[n.hostname], n.poll(self.sim.now))

    def run(self, dt: float, step: float = 0.005) -> None:
        end = self.sim.now + dt
        while self.sim.now < end:
            self.sim.run(until=min(end, self.sim.now + step))
            self.sync()
            self.apps_a.step(self.sim.now)
            self.apps_b.step(self.sim.now)
            self.sync()

    def until(self, cond: Any, limit: float = 120.0, step: float = 0.005) -> None:
        end = self.sim.now + limit
        while not cond():
            assert self.sim.now < end, "timed out"
            self.run(step, step)


@pytest.fixture
def net() -> Net:
    return Net()


# --- iperf3 between two of our nodes ---------------------------------------------------

def _test(net: Net, host: str, **kw: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    sev: list[dict[str, Any]] = []
    cev: list[dict[str, Any]] = []
    srv = net.apps_b.add(ip3.Iperf3Server(net.lb, 5201, emit=sev.append, one_off=True))
    cli = net.apps_a.add(ip3.Iperf3Client(net.la, host, 5201, emit=cev.append,
                                          now=net.sim.now, **kw))
    net.until(lambda: cli.done and srv.done)
    return sev, cev


def _end(evs: list[dict[str, Any]]) -> dict[str, Any]:
    errs = [e for e in evs if e["kind"] == "error"]
    assert not errs, errs
    (end,) = [e for e in evs if e["kind"] == "end"]
    return ip3.json_report(evs)["end"] | {"ev": end}


@pytest.mark.parametrize(("host", "kw"), [
    (B6, {"num": 3 << 20}),
    (B4, {"num": 1 << 20, "reverse": True, "blksize": 1000}),
    (B6, {"duration": 1, "reverse": True, "parallel": 3}),
    (B4, {"blockcount": 20, "blksize": 4096, "parallel": 2}),
])
def test_iperf3_between_our_nodes(net: Net, host: str, kw: dict[str, Any]) -> None:
    sev, cev = _test(net, host, **kw)
    s_end, c_end = _end(sev), _end(cev)
    sent, rcvd = c_end["sum_sent"]["bytes"], c_end["sum_received"]["bytes"]
    # both sides report the same two numbers, the receiver no more than was sent
    assert (s_end["sum_sent"]["bytes"], s_end["sum_received"]["bytes"]) == (sent, rcvd)
    assert 0 < rcvd <= sent
    if "num" in kw:
        blk = kw.get("blksize", ip3.DEFAULT_TCP_BLKSIZE)
        assert sent == -(-kw["num"] // blk) * blk  # whole blocks, as iperf3 sends them
    if "blockcount" in kw:
        assert sent == kw["blockcount"] * kw["blksize"]
    n = kw.get("parallel", 1)
    assert [r["socket"] for r in c_end["ev"]["streams"]] == [1, 3, 4][:n]
    assert any(e["kind"] == "interval" for e in cev)
    text = "\n".join(t for e in cev if (t := ip3.event_text(e)))
    assert re.search(r"^\[  1\]   0\.00-\d+\.\d\d +sec .* sender$", text, re.MULTILINE), text
    assert text.endswith("\niperf Done.")


def test_iperf3_second_client_is_denied(net: Net) -> None:
    sev: list[dict[str, Any]] = []
    cev: list[dict[str, Any]] = []
    srv = net.apps_b.add(ip3.Iperf3Server(net.lb, 5201, emit=sev.append))
    cli = net.apps_a.add(ip3.Iperf3Client(net.la, B6, 5201, emit=cev.append, now=net.sim.now,
                                          duration=2))
    net.until(lambda: any(e["kind"] == "start" for e in cev))
    ev2: list[dict[str, Any]] = []
    cli2 = net.apps_a.add(ip3.Iperf3Client(net.la, B4, 5201, emit=ev2.append, now=net.sim.now))
    net.until(lambda: cli2.done)
    assert ev2[-1] == {"event": "iperf3", "kind": "error",
                       "error": "the server is busy running a test. try again later"}
    net.until(lambda: cli.done and srv.test is None)
    _end(cev)
    # the server goes on: a next test
    ev3: list[dict[str, Any]] = []
    cli3 = net.apps_a.add(ip3.Iperf3Client(net.la, B4, 5201, emit=ev3.append,
                                           now=net.sim.now, num=100000))
    net.until(lambda: cli3.done)
    assert _end(ev3)["sum_sent"]["bytes"] >= 100000


def _raw_client(net: Net, chunks: list[bytes], dst: str = B6) -> Any:
    s: Any = net.la.socket(AF_INET6, SOCK_STREAM)
    try:
        s.connect((dst, 5201))
    except BlockingIOError:
        pass
    net.until(lambda: s.connected)
    for c in chunks:
        s.sendall(c)
        net.run(0.01)
    return s


def _reads(s: Any) -> bytes:
    out = b""
    while True:
        try:
            d = s.recv(65536)
        except (BlockingIOError, OSError):
            return out
        if not d:
            return out
        out += d


COOKIE = b"a" * 36 + b"\0"


def _json(obj: Any) -> bytes:
    raw = json.dumps(obj).encode()
    return struct.pack("!I", len(raw)) + raw


@pytest.mark.parametrize(("chunks", "why"), [
    ([COOKIE, struct.pack("!I", 9000) + b"{" * 9000], "JSON of 9000 octets"),
    ([COOKIE, _json([1, 2])], "not an object"),
    ([COOKIE, struct.pack("!I", 3) + b"{x}"], "bad JSON"),
    ([COOKIE, _json({"udp": True, "time": 1})], "only TCP tests"),
    ([COOKIE, _json({"tcp": True, "parallel": 500})], "parallel"),
    ([COOKIE, _json({"tcp": True, "len": 0})], "len"),
    ([COOKIE, _json({"tcp": True, "time": 1}), b"\x07"], "unexpectedly closed"),
])
def test_iperf3_server_refuses_bad_clients(net: Net, chunks: list[bytes], why: str) -> None:
    sev: list[dict[str, Any]] = []
    net.apps_b.add(ip3.Iperf3Server(net.lb, 5201, emit=sev.append))
    s = _raw_client(net, chunks)
    net.run(0.5)
    if why == "unexpectedly closed":  # waiting for the streams: no error until the client goes
        assert not [e for e in sev if e["kind"] == "error"]
        s.close()
        net.run(0.5)
        (err,) = [e for e in sev if e["kind"] == "error"]
        assert why in err["error"], err
    else:
        (err,) = [e for e in sev if e["kind"] == "error"]
        assert why in err["error"], err
        got = _reads(s)
        assert got[:1] == struct.pack("b", ip3.PARAM_EXCHANGE)
        if why in ("only TCP tests", "parallel", "len"):  # SERVER_ERROR and two ints
            assert got[1:2] == struct.pack("b", ip3.SERVER_ERROR) and len(got) == 10
        s.close()
    # and serves the next test
    cev: list[dict[str, Any]] = []
    cli = net.apps_a.add(ip3.Iperf3Client(net.la, B4, 5201, emit=cev.append, now=net.sim.now,
                                          num=50000))
    net.until(lambda: cli.done)
    _end(cev)


def test_iperf3_stream_with_another_cookie(net: Net) -> None:
    sev: list[dict[str, Any]] = []
    net.apps_b.add(ip3.Iperf3Server(net.lb, 5201, emit=sev.append))
    ctrl = _raw_client(net, [COOKIE, _json({"tcp": True, "time": 1, "parallel": 1})])
    net.run(0.2)
    assert _reads(ctrl) == bytes([ip3.PARAM_EXCHANGE, ip3.CREATE_STREAMS])
    bad = _raw_client(net, [b"b" * 36 + b"\0"])
    net.run(0.2)
    assert _reads(bad) == struct.pack("b", ip3.ACCESS_DENIED)
    good = _raw_client(net, [COOKIE])
    net.run(0.2)
    assert _reads(ctrl) == bytes([ip3.TEST_START, ip3.TEST_RUNNING])
    for s in (ctrl, bad, good):
        s.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.binary(max_size=64), st.just(COOKIE),
                          st.sampled_from([_json({"tcp": True, "time": 1}),
                                           bytes([4]), bytes([12]), bytes([16]),
                                           struct.pack("!I", 0), struct.pack("!I", 2**32 - 1)])),
                max_size=6), st.booleans())
def test_iperf3_server_survives_any_client(chunks: list[bytes], as_stream: bool) -> None:
    """Whatever a client sends, the server neither raises nor wedges: the
    test ends (error or done) once the client goes, and a real test follows."""
    net = Net()
    sev: list[dict[str, Any]] = []
    srv = net.apps_b.add(ip3.Iperf3Server(net.lb, 5201, emit=sev.append))
    s = _raw_client(net, chunks)
    if as_stream and srv.test is not None and srv.test.phase == "streams":
        _raw_client(net, chunks).close()
    s.close()
    net.run(ip3.IDLE_TIMEOUT + 2, step=0.5)
    assert srv.test is None
    cev: list[dict[str, Any]] = []
    cli = net.apps_a.add(ip3.Iperf3Client(net.la, B6, 5201, emit=cev.append, now=net.sim.now,
                                          num=20000))
    net.until(lambda: cli.done)
    _end(cev)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.binary(max_size=40),
                          st.sampled_from([bytes([9]), bytes([10]), bytes([1, 2]), bytes([13]),
                                           bytes([14]), bytes([0xFE]), bytes([0xFF]),
                                           _json({"streams": [{"id": 1, "bytes": 5}]}),
                                           _json({"streams": "x"})])),
                max_size=6))
def test_iperf3_client_survives_any_server(replies: list[bytes]) -> None:
    """A fake server answering anything: the client ends with an error
    event (or done), never an exception, within its idle timeout."""
    net = Net()
    ls: Any = net.lb.socket(AF_INET6, SOCK_STREAM)
    ls.bind(("::", 5201))
    ls.listen(8)
    cev: list[dict[str, Any]] = []
    cli = net.apps_a.add(ip3.Iperf3Client(net.la, B6, 5201, emit=cev.append, now=net.sim.now,
                                          duration=1))
    net.until(lambda: bool(ls.acceptq) or cli.done)
    conns = []
    for r in replies:
        while ls.acceptq:
            conns.append(ls.accept()[0])
        if conns:
            try:
                conns[0].send(r)
            except OSError:
                break
        net.run(0.05)
    for c in conns:
        c.close()
    net.until(lambda: cli.done, limit=ip3.IDLE_TIMEOUT + 60, step=0.5)
    assert cev[-1]["kind"] in ("error", "done"), cev[-1]


# --- services, PCB listing, counters ------------------------------------------------------

def test_services_and_netstat_an(net: Net) -> None:
    for spec in ("tcp:7:echo", "tcp:9:discard", "tcp4:13:discard", "tcp6:19:chargen",
                 "udp:7:echo"):
        net.apps_b.serve(parse_serve(spec))
    c4: Any = net.la.socket(AF_INET, SOCK_STREAM)
    c6: Any = net.la.socket(AF_INET6, SOCK_STREAM)
    cg: Any = net.la.socket(AF_INET6, SOCK_STREAM)
    for s, dst in ((c4, (B4, 7)), (c6, (B6, 9)), (cg, (B6, 19))):
        try:
            s.connect(dst)
        except BlockingIOError:
            pass
    net.until(lambda: c4.connected and c6.connected and cg.connected)
    c4.sendall(b"hello\n")
    c6.sendall(b"gone\n")
    net.run(0.2)
    assert c4.recv(100) == b"hello\n"
    got = cg.recv(74 * 2)
    assert got[:74] == bytes(range(32, 104)) + b"\r\n"  # RFC 864's first line
    u = net.la.socket(AF_INET, SOCK_DGRAM)
    u.sendto(b"ping", (B4, 7))
    net.run(0.2)
    assert u.recvfrom(100)[0] == b"ping"
    rows = snap_pcbs(net.b)
    table = format_netstat_an(rows, wide=True)
    lines = table.splitlines()
    assert lines[0] == "Active Internet connections (including servers)"
    assert lines[1] == ("Proto Recv-Q Send-Q Local Address" + " " * 33 + "Foreign Address"
                        + " " * 30 + " (state)")
    body = [ln.split() for ln in lines[2:]]
    p4, p6, pg = c4.getsockname()[1], c6.getsockname()[1], cg.getsockname()[1]
    assert ["tcp4", "0", "0", f"{B4}.7", f"{A4}.{p4}", "ESTABLISHED"] in body, body
    # chargen fills its send buffer: Send-Q shows what the client has not read
    (cgrow,) = [r for r in body if r[3] == f"{B6}.19" and r[4] == f"{A6}.{pg}"]
    assert cgrow[0] == "tcp6" and int(cgrow[2]) > 0 and cgrow[5] == "ESTABLISHED", cgrow
    assert ["tcp46", "0", "0", "*.7", "*.*", "LISTEN"] in body
    assert ["tcp46", "0", "0", "*.9", "*.*", "LISTEN"] in body
    assert ["tcp4", "0", "0", "*.13", "*.*", "LISTEN"] in body
    assert ["tcp6", "0", "0", "*.19", "*.*", "LISTEN"] in body
    assert ["udp46", "0", "0", "*.7", "*.*"] in body
    assert body.index(["udp46", "0", "0", "*.7", "*.*"]) == len(body) - 1  # TCP first
    # the discard connection: the service read and dropped it
    assert ["tcp6", "0", "0", f"{B6}.9", f"{A6}.{p6}", "ESTABLISHED"] in body
    # narrow: addresses cut to 16 characters as FreeBSD's netstat does
    narrow = format_netstat_an(rows).splitlines()
    assert any(ln.split()[3] == "2001:db8::b.19" for ln in narrow[2:])
    # the client side: -f, -p and without -a
    rows_a = snap_pcbs(net.a)
    only4 = format_netstat_an(rows_a, family="inet").splitlines()[2:]
    assert all(ln.split()[0] in ("tcp4", "udp4", "tcp46", "udp46") for ln in only4)
    no_a = format_netstat_an(rows_a, all_=False)
    assert no_a.startswith("Active Internet connections\n") and "LISTEN" not in no_a
    assert format_netstat_an(rows_a, proto="udp").splitlines()[2].split()[0] == "udp4"
    # close: the active closer keeps TIME_WAIT; a closed socket's connection stays listed
    c4.close()
    net.run(1.0)
    rows_a = snap_pcbs(net.a)
    (tw,) = [r for r in rows_a if r["lport"] == p4]
    assert tw["state"] == "TIME_WAIT" and tw["vflag"] == "4"
    st4 = snap_stats4(net.hosts["a"])
    text = format_netstat4(st4, "tcp")
    assert "\t3 connection requests\n" in text and "\t1 connection in TIME_WAIT state\n" in text
    assert "\t0 connections in LISTEN state\n" in text
    assert re.search(r"^\t\t\d+ data packets? \(\d+ bytes?\)$", text, re.MULTILINE)
    st_b = format_netstat4(snap_stats4(net.hosts["b"]), "tcp")
    assert "\t3 connection accepts\n" in st_b and "\t4 connections in LISTEN state\n" in st_b
    udp = format_netstat4(snap_stats4(net.hosts["b"]), "udp").splitlines()
    assert udp[:2] == ["udp:", "\t1 datagram received"] and "\t1 delivered" in udp
    assert "\t1 datagram output" in udp


def test_netstat_s_lines_and_plurals() -> None:
    st4: dict[str, Any] = {"tcp": {"tcps_sndtotal": 1, "tcps_sndpack": 2, "tcps_sndbyte": 1,
                                   "tcps_sc_added": 1, "tcps_rcvbadopt": 3},
                           "tcp_states": {"ESTABLISHED": 1},
                           "udp": {}, "ip": {"ips_forward": 1, "ips_badaddr": 2},
                           "icmp": {"icps_badaddr": 2, "icps_pmtuchg": 1},
                           "arp": {"arps_txreplies": 1, "arps_rxreplies": 2},
                           "icmp_inhist": {"8": 2, "42": 1}, "icmp_outhist": {"0": 2}}
    tcp = format_netstat4(st4, "tcp").splitlines()
    assert tcp[:3] == ["tcp:", "\t1 packet sent", "\t\t2 data packets (1 byte)"]
    assert "\t1 syncache entry added" in tcp and "\t0 cookies sent" in tcp
    assert "\t3 (kame) discarded for an illegal option length" in tcp
    assert tcp[-11:] == [f"\t{int(s == 'ESTABLISHED')} connection{'' if s == 'ESTABLISHED' else 's'}"
                         f" in {s} state" for s in ("CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD",
                                                    "ESTABLISHED", "CLOSE_WAIT", "FIN_WAIT_1",
                                                    "CLOSING", "LAST_ACK", "FIN_WAIT_2",
                                                    "TIME_WAIT")]
    ip = format_netstat4(st4, "ip").splitlines()
    assert "\t1 packet forwarded (0 packets fast forwarded)" in ip
    assert "\t2 datagrams with bad address in header" in ip
    icmp = format_netstat4(st4, "icmp")
    assert "\tOutput histogram:\n\t\techo reply: 2\n" in icmp
    assert "\tInput histogram:\n\t\techo: 2\n\t\tunknown ICMP #42: 1\n" in icmp
    assert "\t2 invalid return addresses\n" in icmp
    arp = format_netstat4(st4, "arp").splitlines()
    assert arp[:5] == ["arp:", "\t0 ARP requests sent", "\t1 ARP reply sent",
                       "\t0 ARP requests received", "\t2 ARP replies received"]


def test_arp_an(net: Net) -> None:
    rows = snap_arp(net.a, net.sim.now)
    assert format_arp(rows) == "? (192.0.2.10) at 02:00:00:00:0a:0a on eth0 permanent [ethernet]\n"
    net.sim.emit(net.hosts["a"], net.a.ping4(B4, net.sim.now))
    net.run(0.5)
    lines = format_arp(snap_arp(net.a, net.sim.now)).splitlines()
    assert lines[0] == "? (192.0.2.10) at 02:00:00:00:0a:0a on eth0 permanent [ethernet]"
    assert re.fullmatch(r"\? \(192\.0\.2\.11\) at 02:00:00:00:0b:0b on eth0 expires in "
                        r"1(19\d|200) seconds \[ethernet\]", lines[1]), lines
    # an address nobody answers: incomplete, then down
    net.sim.emit(net.hosts["a"], net.a.ping4("192.0.2.99", net.sim.now))
    net.run(0.2)
    assert "? (192.0.2.99) at (incomplete) on eth0 expired [ethernet]" in \
        format_arp(snap_arp(net.a, net.sim.now)).splitlines()
    icmp = snap_stats4(net.hosts["b"])
    assert icmp["icmp_inhist"] == {"8": 1} and icmp["icmp_outhist"] == {"0": 1}


# --- kame node --sim, end to end ---------------------------------------------------------------

def _kame(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kame", *args], capture_output=True,
                          text=True, timeout=timeout, env=ENV, check=False)


def test_sim_node_tools(tmp_path: Path) -> None:
    d = tmp_path / "ctl"
    d.mkdir()
    node = subprocess.Popen([sys.executable, "-m", "kame", "node", "--sim", "--ctl-dir", str(d),
                             "--serve", "tcp:7:echo", "--serve", "udp:9:discard", "--serve",
                             "tcp:5201:iperf3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV)
    try:
        end = time.monotonic() + 20
        while not (d / "h2.sock").exists():
            assert time.monotonic() < end and node.poll() is None, node.communicate()
            time.sleep(0.05)
        time.sleep(0.3)
        h1 = ["--ctl", str(d / "h1.sock")]
        r = _kame("iperf3", "-c", "192.0.2.1", "-n", "1M", *h1)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.startswith("Connecting to host 192.0.2.1, port 5201\n")
        assert r.stdout.endswith("\niperf Done.\n")
        assert re.search(r"^\[  1\]   0\.00-.* 1\.00 MBytes .* sender$", r.stdout, re.MULTILINE), r.stdout
        r = _kame("iperf3", "-c", "192.0.2.11", "-t", "1", "-R", "-J", *h1)
        assert r.returncode == 0, r.stdout + r.stderr
        rep = json.loads(r.stdout)
        assert 0 < rep["end"]["sum_received"]["bytes"] <= rep["end"]["sum_sent"]["bytes"]
        out = _kame("netstat", "-an", *h1).stdout.splitlines()
        assert out[0] == "Active Internet connections (including servers)"
        rows = [ln.split() for ln in out[2:]]
        assert ["tcp46", "0", "0", "*.7", "*.*", "LISTEN"] in rows
        assert ["udp46", "0", "0", "*.9", "*.*"] in rows
        assert any(r[0] == "tcp4" and r[4] == "192.0.2.1.5201" and r[5] == "TIME_WAIT"
                   for r in rows), rows
        arp = _kame("arp", "-an", *h1).stdout
        assert "? (192.0.2.1) at 02:00:00:00:00:01 on eth0 expires in " in arp, arp
        assert "? (192.0.2.10) at 02:00:00:00:00:0a on eth0 permanent [ethernet]" in arp
        r = _kame("arp", "-n", "192.0.2.77", *h1)
        assert r.returncode == 1 and r.stdout == "192.0.2.77 (192.0.2.77) -- no entry\n"
        tcp = _kame("netstat", "-s", "-p", "tcp", *h1).stdout
        assert "\t4 connection requests\n" in tcp, tcp
        every = _kame("netstat", "-s", *h1).stdout
        assert [ln for ln in every.splitlines() if ln.endswith(":") and not ln.startswith("\t")
                ][:9] == ["tcp:", "TCP connection count by state:", "udp:", "ip:", "icmp:",
                          "igmp:", "arp:", "ip6:", "icmp6:"]
        # a second server on a port in use: refused in one line
        r = _kame("iperf3", "-s", "-p", "7", *h1)
        assert r.returncode == 1 and r.stderr.count("\n") == 1 and "in use" in r.stderr, r
        # usage errors
        for argv in (["iperf3", "-c", "192.0.2.1", "-t", "1", "-n", "1M"],
                     ["iperf3", "-s", "-R"], ["iperf3"], ["iperf3", "-c", "h.example"],
                     ["netstat", "-an", "-p", "icmp6"], ["netstat", "-s", "-W"], ["arp"]):
            r = _kame(*argv, *h1)
            assert r.returncode == 2 and r.stderr.count("\n") == 1 and not r.stdout, (argv, r)
    finally:
        node.send_signal(signal.SIGTERM)
        _, err = node.communicate(timeout=20)
    assert "Traceback" not in err and "iperf3: [  1]" in err, err


def test_iperf3_client_refused(net: Net) -> None:
    ev: list[dict[str, Any]] = []
    cli = net.apps_a.add(ip3.Iperf3Client(net.la, B6, 5999, emit=ev.append, now=net.sim.now))
    net.until(lambda: cli.done)
    assert ev[-1]["error"] == "unable to connect to server: Connection refused"
    assert ip3.event_text(ev[-1]) == ("iperf3: error - unable to connect to server: "
                                      "Connection refused")
