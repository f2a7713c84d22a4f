"""`kame node --tap` hosting sockets, `kame iperf3`, `kame netstat -an`,
`netstat -s -p tcp|ip|icmp` and `kame arp -an`, against the Linux kernel.

The daemon runs in a network namespace on a TAP device with
``--inet 10.78.0.2/24 --inet6 2001:db8:78::2/64`` and inetd-style services
(``--serve tcp:7:echo`` ...); the kernel has 10.78.0.1 and 2001:db8:78::1.

- the kernel's ``iperf3 -c`` runs tests against ``kame iperf3 -s -1`` on
  the node, and ``kame iperf3 -c`` against the kernel's ``iperf3 -s -1``,
  both directions (``-R``), IPv4 and IPv6: every test completes, both
  sides' JSON reports give the same sent and received byte counts, the
  receiver got no more than was sent and at most what the buffers hold
  less, and a ``-n`` sender sent exactly that many octets;
- ``kame netstat -anW`` and the kernel's ``ss -tan`` list the same held
  connections with the ports swapped, ESTABLISHED on both sides, and each
  TIME_WAIT on one side is absent or TIME_WAIT on the other;
- ``netstat -s -p tcp`` counts the connections accepted and requested, and
  its state table counts what ``netstat -an`` lists; ``-p icmp`` counts the
  kernel's echo; ``arp -an`` has the kernel's MAC as ``ip neigh`` has ours;
- tshark finds no malformed frame, bad checksum or error in the capture.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netns_rig import fresh_netns, no_tcp_heuristics, wait_for
from netns_rig import ipns as _ipns

from kame.cli.main import main
from kame.ctl import request

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(ROOT / "python") + os.pathsep
           + os.environ.get("PYTHONPATH", ""))
DEV = "tcpcli0"
MAC = "02:00:00:00:78:02"
OURS4, KERN4 = "10.78.0.2", "10.78.0.1"
OURS6, KERN6 = "2001:db8:78::2", "2001:db8:78::1"
#: what may sit between a sender's count and a receiver's at TEST_END: the
#: sender's socket buffer, the receiver's and what is in flight (generous)
IN_FLIGHT = 16 << 20


ipns = functools.partial(_ipns, env=ENV)


class Rig:
    def __init__(self, ns: str, d: Path) -> None:
        self.ns = ns
        self.ctl = str(d / "tcpcli.sock")
        self.pcap = d / "node.pcapng"
        ipns(ns, "ip", "link", "set", "lo", "up")
        ipns(ns, "ip", "tuntap", "add", "dev", DEV, "mode", "tap")
        self.daemon = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-m", "kame.cli.main", "node", "--tap",
             DEV, "--mac", MAC, "--ctl", self.ctl, "--inet", f"{OURS4}/24", "--inet6",
             f"{OURS6}/64", "--serve", "tcp:7:echo", "--serve", "tcp:9:discard", "--serve",
             "udp:7:echo", "--sysctl", "net.inet6.ip6.dad_count=0", "--sysctl",
             "net.link.ether.inet.dad_count=0", "-w", str(self.pcap)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
        wait_for("control socket", lambda: os.path.exists(self.ctl) or
                 self.daemon.poll() is not None)
        assert self.daemon.poll() is None, self.daemon.communicate()
        ipns(ns, "ip", "addr", "add", f"{KERN4}/24", "dev", DEV)
        ipns(ns, "ip", "-6", "addr", "add", f"{KERN6}/64", "dev", DEV, "nodad")
        ipns(ns, "ip", "link", "set", DEV, "up")
        wait_for("our IPv6 address", lambda: f"inet6 {OURS6} prefixlen 64" in
                 self.kame("ifconfig").stdout and "tentative" not in self.kame("ifconfig").stdout)
        self.accepted = 0   # connections the kernel opened to us
        self.requested = 0  # connections we opened to the kernel

    def kame(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A tool run in this process (``kame.cli.main.main``), as a process would."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main([*args, "--ctl", self.ctl])
        return subprocess.CompletedProcess(list(args), rc, out.getvalue(), err.getvalue())

    def kame_bg(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "kame.cli.main", *args, "--ctl",
                                 self.ctl], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=ENV)

    def close(self) -> str:
        if self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
        try:
            _, err = self.daemon.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.daemon.kill()
            _, err = self.daemon.communicate()
        return err


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with fresh_netns("tcpcli") as ns:
        r = Rig(ns, tmp_path_factory.mktemp("tcpcli"))
        try:
            yield r
        finally:
            err = r.close()
            assert "Traceback" not in err, err


def _sums(rep: dict[str, Any]) -> tuple[int, int]:
    end = rep["end"]
    return int(end["sum_sent"]["bytes"]), int(end["sum_received"]["bytes"])


def _check(kernel: dict[str, Any], ours: dict[str, Any], num: int,
           kernel_server: str = "") -> tuple[int, int]:
    """Both reports agree; the receiver got what was sent less what the
    buffers held; a -n sender sent exactly ``num`` octets. (The kernel's
    ``iperf3 -s`` writes its report before the results exchange: it knows
    only its own count, ``kernel_server`` "sent" or "received".)"""
    assert "error" not in kernel and "error" not in ours, (kernel.get("error"), ours.get("error"))
    sent, rcvd = _sums(ours)
    ks, kr = _sums(kernel)
    if kernel_server == "received":
        assert kr == rcvd, (kernel["end"], ours["end"])
    elif kernel_server == "sent":
        assert ks == sent, (kernel["end"], ours["end"])
    else:
        assert (ks, kr) == (sent, rcvd), (kernel["end"], ours["end"])
    assert 0 < rcvd <= sent <= rcvd + IN_FLIGHT, (sent, rcvd)
    if num:
        assert sent == num, (sent, num)
    return sent, rcvd


RUNS = [  # (address family, reverse, end condition)
    ("4", False, ("-t", "2")),
    ("6", True, ("-n", "2M")),
    ("4", True, ("-n", "2M")),
    ("6", False, ("-n", "2M")),
]


@pytest.mark.parametrize(("fam", "reverse", "end"), RUNS)
def test_kernel_iperf3_client_against_our_server(rig: Rig, fam: str, reverse: bool,
                                                 end: tuple[str, str]) -> None:
    srv = rig.kame_bg("iperf3", "-s", "-1", "-J")
    try:
        wait_for("our iperf3 listener", lambda: any(
            r["lport"] == 5201 and r["state"] == "LISTEN" for r in request(rig.ctl, "pcblist")))
        host = OURS4 if fam == "4" else OURS6
        cli = ipns(rig.ns, "iperf3", "-c", host, *end, "-J", *(["-R"] if reverse else []),
                   check=False, timeout=40)
        out, err = srv.communicate(timeout=20)
    finally:
        if srv.poll() is None:
            srv.kill()
    assert cli.returncode == 0, cli.stdout[-2000:] + cli.stderr
    assert srv.returncode == 0, out[-2000:] + err
    kernel, ours = json.loads(cli.stdout), json.loads(out)
    _check(kernel, ours, 2 << 20 if end[0] == "-n" else 0)
    rig.accepted += 2
    secs = kernel["end"]["sum_received"]["seconds"]
    bps = kernel["end"]["sum_received"]["bits_per_second"]
    print(f"kernel iperf3 -c {host} {' '.join(end)}{' -R' if reverse else ''}: "
          f"{bps / 1e6:.1f} Mbit/s over {secs:.2f} s")


@pytest.mark.parametrize(("fam", "reverse", "end"), RUNS)
def test_our_iperf3_client_against_kernel_server(rig: Rig, fam: str, reverse: bool,
                                                 end: tuple[str, str]) -> None:
    srv = subprocess.Popen(["ip", "netns", "exec", rig.ns, "iperf3", "-s", "-1", "-J"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for("the kernel's iperf3 listener", lambda: ":5201 " in ipns(
            rig.ns, "ss", "-tlnH").stdout)
        host = KERN4 if fam == "4" else KERN6
        cli = rig.kame("iperf3", "-c", host, *end, "-J", *(["-R"] if reverse else []))
        out, err = srv.communicate(timeout=20)
    finally:
        if srv.poll() is None:
            srv.kill()
    assert cli.returncode == 0, cli.stdout[-2000:] + cli.stderr
    assert srv.returncode == 0, out[-2000:] + err
    ours, kernel = json.loads(cli.stdout), json.loads(out)
    _check(kernel, ours, 2 << 20 if end[0] == "-n" else 0, "sent" if reverse else "received")
    rig.requested += 2
    secs = ours["end"]["sum_received"]["seconds"]
    bps = ours["end"]["sum_received"]["bits_per_second"]
    print(f"kame iperf3 -c {host} {' '.join(end)}{' -R' if reverse else ''}: "
          f"{bps / 1e6:.1f} Mbit/s over {secs:.2f} s")


_SS_STATE = {"ESTAB": "ESTABLISHED", "TIME-WAIT": "TIME_WAIT", "FIN-WAIT-1": "FIN_WAIT_1",
             "FIN-WAIT-2": "FIN_WAIT_2", "CLOSE-WAIT": "CLOSE_WAIT", "LAST-ACK": "LAST_ACK",
             "SYN-SENT": "SYN_SENT", "SYN-RECV": "SYN_RCVD", "CLOSING": "CLOSING",
             "LISTEN": "LISTEN"}


def _ss(rig: Rig) -> dict[tuple[str, int, str, int], str]:
    """The kernel's TCP connections: (local, lport, peer, pport) -> state."""
    out = {}
    for line in ipns(rig.ns, "ss", "-tanH").stdout.splitlines():
        f = line.split()
        if len(f) < 5 or f[0] == "LISTEN":
            continue
        (la, lp), (pa, pp) = (x.rsplit(":", 1) for x in (f[3], f[4]))
        la, pa = (a.strip("[]").removeprefix("::ffff:") for a in (la, pa))
        out[(la, int(lp), pa, int(pp))] = _SS_STATE[f[0]]
    return out


def _netstat(rig: Rig) -> tuple[dict[tuple[str, int, str, int], str], list[list[str]]]:
    """Our TCP PCBs from ``kame netstat -anW``: (local, lport, foreign,
    fport) -> state, and every row split."""
    r = rig.kame("netstat", "-anW")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Active Internet connections (including servers)"
    assert lines[1].split() == ["Proto", "Recv-Q", "Send-Q", "Local", "Address", "Foreign",
                                "Address", "(state)"]
    rows = [ln.split() for ln in lines[2:]]
    conns = {}
    for f in rows:
        if f[0].startswith("tcp") and f[5] != "LISTEN":
            (la, lp), (fa, fp) = (x.rsplit(".", 1) for x in (f[3], f[4]))
            conns[(la, int(lp), fa, int(fp))] = f[5]
    return conns, rows


HOLD = """
import socket, sys, time
held = []
for host, port in ((sys.argv[1], 7), (sys.argv[2], 7), (sys.argv[2], 9)):
    s = socket.create_connection((host, port))
    s.sendall(b"ping\\n")
    held.append(s)
assert held[0].recv(16) == b"ping\\n" and held[1].recv(16) == b"ping\\n"
print(" ".join(str(s.getsockname()[1]) for s in held), flush=True)
sys.stdin.readline()
"""


def test_netstat_an_agrees_with_ss(rig: Rig) -> None:
    hold = subprocess.Popen(["ip", "netns", "exec", rig.ns, sys.executable, "-c", HOLD,
                             OURS4, OURS6], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert hold.stdout is not None and hold.stdin is not None
        ports = [int(p) for p in hold.stdout.readline().split()]
        assert len(ports) == 3, hold.stderr.read() if hold.stderr else ""
        rig.accepted += 3
        ours, rows = _netstat(rig)
        kern = _ss(rig)
        held = [(OURS4, 7, KERN4, ports[0]), (OURS6, 7, KERN6, ports[1]),
                (OURS6, 9, KERN6, ports[2])]
        for key in held:
            assert ours.get(key) == "ESTABLISHED", (key, rows)
            la, lp, fa, fp = key
            assert kern.get((fa, fp, la, lp)) == "ESTABLISHED", (key, kern)
        proto = {(f[3], f[4]): f[0] for f in rows}
        assert proto[(f"{OURS4}.7", f"{KERN4}.{ports[0]}")] == "tcp4"
        assert proto[(f"{OURS6}.7", f"{KERN6}.{ports[1]}")] == "tcp6"
        # the services' listeners and the UDP echo socket, dual-stack
        listen = {(f[0], f[3]) for f in rows if f[-1] == "LISTEN"}
        assert {("tcp46", "*.7"), ("tcp46", "*.9")} <= listen, rows
        assert ["udp46", "0", "0", "*.7", "*.*"] in rows, rows
        # every other connection is a closed one's TIME_WAIT on one side at most
        for key, state in ours.items():
            if key in held:
                continue
            la, lp, fa, fp = key
            other = kern.get((fa, fp, la, lp))
            assert state == "TIME_WAIT" and other in (None, "TIME_WAIT"), (key, state, other)
        for (la, lp, fa, fp), state in kern.items():
            if (fa, fp, la, lp) in held:
                continue
            assert state == "TIME_WAIT" and ours.get((fa, fp, la, lp)) in (None, "TIME_WAIT"), \
                ((la, lp, fa, fp), state)
        # the state table of netstat -s -p tcp counts the same connections
        st = rig.kame("netstat", "-s", "-p", "tcp").stdout
        n_est = sum(1 for v in ours.values() if v == "ESTABLISHED")
        assert f"\t{n_est} connections in ESTABLISHED state" in st, st
        n_listen = sum(1 for f in rows if f[0].startswith("tcp") and f[-1] == "LISTEN")
        assert f"\t{n_listen} connections in LISTEN state" in st, st
    finally:
        if hold.poll() is None:
            assert hold.stdin is not None
            hold.stdin.write("\n")
            hold.stdin.flush()
            hold.wait(10)


def test_counters_and_arp(rig: Rig) -> None:
    ping = ipns(rig.ns, "ping", "-c", "1", "-W", "2", OURS4, check=False)
    assert ping.returncode == 0, ping.stdout
    tcp = rig.kame("netstat", "-s", "-p", "tcp").stdout
    assert tcp.startswith("tcp:\n\t") and "\t\t0 discarded for bad checksums\n" in tcp, tcp
    m = re.search(r"^\t(\d+) connection accepts?$", tcp, re.MULTILINE)
    assert m and int(m.group(1)) == rig.accepted, (rig.accepted, tcp)
    m = re.search(r"^\t(\d+) connection requests?$", tcp, re.MULTILINE)
    assert m and int(m.group(1)) == rig.requested, (rig.requested, tcp)
    m = re.search(r"^\t(\d+) packets? sent$", tcp, re.MULTILINE)
    assert m and int(m.group(1)) > 1000, tcp
    icmp = rig.kame("netstat", "-s", "-p", "icmp").stdout
    assert "\tOutput histogram:\n\t\techo reply: 1\n" in icmp, icmp
    assert "\tInput histogram:\n\t\techo: 1\n" in icmp, icmp
    ip = rig.kame("netstat", "-s", "-p", "ip").stdout
    m = re.search(r"^\t(\d+) packets? for this host$", ip, re.MULTILINE)
    assert m and int(m.group(1)) > 1000, ip
    # arp -an: the kernel's MAC, as the kernel's neighbour table has ours
    kmac = json.loads(ipns(rig.ns, "ip", "-j", "link", "show", DEV).stdout)[0]["address"]
    arp = rig.kame("arp", "-an").stdout.splitlines()
    assert re.fullmatch(rf"\? \({re.escape(KERN4)}\) at {kmac} on {DEV} expires in \d+ seconds "
                        r"\[ethernet\]", arp[0]), arp
    assert arp[1] == f"? ({OURS4}) at {MAC} on {DEV} permanent [ethernet]", arp
    neigh = ipns(rig.ns, "ip", "neigh", "show", OURS4, "dev", DEV).stdout
    assert f"lladdr {MAC}" in neigh, neigh


def test_capture_is_clean(rig: Rig) -> None:
    err = rig.close()
    assert "Traceback" not in err, err
    base = ["tshark", "-r", str(rig.pcap), *no_tcp_heuristics(), "-o",
            "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"]
    # one pass over the capture: per frame, the marks tshark would set
    fields = ["frame.number", "tcp.srcport", "_ws.malformed", "tcp.checksum.status",
              "ip.checksum.status", "_ws.expert.severity", "tcp.checksum",
              "tcp.checksum_calculated"]
    out = subprocess.run(base + ["-T", "fields", *(a for f in fields for a in ("-e", f))],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    rows = [dict(zip(fields, ln.split("\t"), strict=False)) for ln in out]
    assert len(rows) > 1000 and sum(1 for r in rows if r.get("tcp.srcport")) > 1000, len(rows)
    error = 0x800000  # PI_ERROR

    def tcp_bad(r: dict[str, str]) -> bool:
        # 0xffff and 0x0000 are the two one's-complement zeros (RFC 1624
        # §3): the kernel's offload now and then sends 0xffff where tshark
        # computes 0x0000 and calls it bad (about one segment in 65,536)
        if "0" not in (r.get("tcp.checksum.status") or "").split(","):
            return False
        return (r.get("tcp.checksum"), r.get("tcp.checksum_calculated")) != ("0xffff", "0x0000")

    bad = [r for r in rows if r.get("_ws.malformed") or tcp_bad(r) or
           "0" in (r.get("ip.checksum.status") or "").split(",") or
           any(x and int(x, 0) >= error for x in (r.get("_ws.expert.severity") or "").split(","))]
    assert bad == [], bad[:20]
