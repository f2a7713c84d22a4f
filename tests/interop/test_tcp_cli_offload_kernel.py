"""`kame node --tap --offload` against the Linux kernel (issue 9, benchmarks):
the daemon opens its TAP with ``IFF_VNET_HDR`` and segmentation offload, and
its TCP sends super-segments for the kernel to segment.

- the kernel reads 2 MB from our ``chargen`` over IPv6 and over IPv4, and
  sends 2 MB to our ``discard``;
- the daemon's own capture (``-w``) holds super-segments of ours longer
  than the link's 1514-octet frames in both families (TSO out) and the
  kernel's (GSO in), and tshark finds nothing malformed or wrong in our
  frames;
- without ``--offload`` (the same run, a second daemon) no frame of ours
  is longer than the MTU.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from netns_rig import fresh_netns, wait_for
from netns_rig import ipns as _ipns

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(ROOT / "python") + os.pathsep
           + os.environ.get("PYTHONPATH", ""))
DEV = "tcpoff0"
MAC = "02:00:00:00:79:02"
OURS4, KERN4 = "10.79.0.2", "10.79.0.1"
OURS6, KERN6 = "2001:db8:79::2", "2001:db8:79::1"
SIZE = 2_000_000

READ = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
got = 0
while got < int(sys.argv[3]):
    d = s.recv(1 << 20)
    if not d:
        break
    got += len(d)
s.close()
print(got)
"""

WRITE = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
s.sendall(bytes(range(256)) * (int(sys.argv[3]) // 256))
s.shutdown(socket.SHUT_WR)
s.settimeout(60)
while s.recv(100):
    pass
print("done")
"""


ipns = functools.partial(_ipns, env=ENV, timeout=120)


def pings(ns: str, host: str) -> bool:
    return subprocess.run(["ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1", host],
                          capture_output=True, check=False).returncode == 0


def run_daemon(ns: str, tmp: Path, offload: bool) -> Path:
    """The daemon on a new TAP in ``ns``; the kernel reads and writes through
    it; returns the daemon's capture once it has stopped."""
    ctl, pcap = str(tmp / "node.sock"), tmp / "node.pcapng"
    d = subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, "-m", "kame.cli.main", "node", "--tap", DEV,
         "--mac", MAC, "--ctl", ctl, "--inet", f"{OURS4}/24", "--inet6", f"{OURS6}/64",
         "--serve", "tcp:19:chargen", "--serve", "tcp:9:discard",
         "--sysctl", "net.inet6.ip6.dad_count=0", "--sysctl", "net.link.ether.inet.dad_count=0",
         "-w", str(pcap), *(["--offload"] if offload else [])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        wait_for("control socket", lambda: os.path.exists(ctl) or d.poll() is not None, 60.0, 0.1)
        assert d.poll() is None, d.communicate()
        ipns(ns, "ip", "addr", "add", f"{KERN4}/24", "dev", DEV)
        ipns(ns, "ip", "-6", "addr", "add", f"{KERN6}/64", "dev", DEV, "nodad")
        ipns(ns, "ip", "link", "set", DEV, "up")
        for host in (OURS6, OURS4):
            wait_for(f"our address {host}", lambda h=host: pings(ns, h), 60.0, 0.1)
        for host in (OURS6, OURS4):
            got = ipns(ns, "/usr/bin/python3", "-c", READ, host, "19", str(SIZE)).stdout
            assert int(got) >= SIZE, got
        assert ipns(ns, "/usr/bin/python3", "-c", WRITE, OURS6, "9",
                    str(SIZE)).stdout.split() == ["done"]
    finally:
        if d.poll() is None:
            d.send_signal(signal.SIGTERM)
        try:
            _, err = d.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            d.kill()
            _, err = d.communicate()
    assert "Traceback" not in err, err
    return pcap


def _tshark(pcap: Path, flt: str, *fields: str) -> list[str]:
    args = ["tshark", "-r", str(pcap), "-Y", flt]
    for f in fields:
        args += ["-T", "fields", "-e", f] if f == fields[0] else ["-e", f]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout.splitlines()


def test_node_offload_sends_and_takes_super_segments(tmp_path: Path) -> None:
    with fresh_netns("kame-nodeoff") as ns:
        ipns(ns, "ip", "link", "set", "lo", "up")
        pcap = run_daemon(ns, tmp_path, offload=True)
    for fam, src in (("ipv6", OURS6), ("ip", OURS4)):
        big = _tshark(pcap, f"{fam}.src == {src} && tcp && frame.len > 1514", "frame.len")
        assert big, f"no {fam} super-segment of ours"
        assert max(int(x) for x in big) <= 14 + 40 + 65535
    assert _tshark(pcap, f"ipv6.src == {KERN6} && tcp && frame.len > 1514", "frame.len")
    bad = _tshark(pcap, f"(ip.src == {OURS4} || ipv6.src == {OURS6}) && "
                        "(_ws.malformed || _ws.expert.severity == error)", "frame.number")
    assert bad == [], bad[:20]


def test_node_without_offload_keeps_to_the_mtu(tmp_path: Path) -> None:
    with fresh_netns("kame-nodeoff") as ns:
        ipns(ns, "ip", "link", "set", "lo", "up")
        pcap = run_daemon(ns, tmp_path, offload=False)
    assert _tshark(pcap, f"ipv6.src == {OURS6} && tcp", "frame.len")
    assert _tshark(pcap, "frame.len > 1514", "frame.len") == []
