"""kame TCP over IPv4 against the Linux kernel over a TAP device (issue 9).

The rig of test_tcp_kernel.py (tests/interop/tcp_tapnode.py) with an IPv4
address on both sides:

- ``curl -4`` fetches 3 MB from our HTTP server on an ``AF_INET6``
  wildcard socket (Linux profile: the peer is ``::ffff:a.b.c.d``) and on an
  ``AF_INET`` socket, byte-exact;
- our client fetches 3 MB from ``python3 -m http.server --bind 0.0.0.0``
  on an ``AF_INET`` socket and on an ``AF_INET6`` socket to ``::ffff:``;
- tshark dissects every captured segment with no malformed, bad-checksum
  or error-severity expert mark, and every segment of ours carries DF
  (RFC 1191) with an MSS of 1460 in our SYNs.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from netns_rig import fresh_netns, ipns, no_tcp_heuristics, tcp_tapnode
from test_tcp_kernel import Rig, expected

NO_TCP_HEURISTICS = no_tcp_heuristics() if shutil.which("tshark") else ()

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MAC = "02:00:00:00:09:04"
OURS6, KERNEL6 = "2001:db8:94::2", "2001:db8:94::1"
OURS, KERNEL = "192.0.2.2", "192.0.2.1"
SEED = 9
SIZE = 3_000_000
DEV = "ktcp4"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    tmp = tmp_path_factory.mktemp("tcp4")
    with fresh_netns("kame-tcp4") as ns:
        ipns(ns, "ip", "link", "set", "lo", "up")
        with tcp_tapnode(ns, DEV, MAC, tmp / "tcp4.pcap", OURS6, KERNEL6, SEED, ours4=OURS,
                         kernel4=KERNEL, capture="ip and tcp") as (child, cap):
            yield Rig(ns, child, tmp / "tcp4.pcap", cap, tmp)


@pytest.mark.parametrize("port", [8080, 8081], ids=["af_inet6-mapped", "af_inet"])
def test_curl4_fetches_from_our_server(rig: Rig, port: int) -> None:
    out = rig.tmp / f"curl{port}.bin"
    r = ipns(rig.ns, "curl", "-4", "-sS", "--max-time", "60", "-o", str(out),
             "-w", "%{http_code} %{size_download}", f"http://{OURS}:{port}/{SIZE}", check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["200", str(SIZE)]
    assert hashlib.sha256(out.read_bytes()).hexdigest() == expected(SIZE)


def test_our_client_fetches_from_the_kernel(rig: Rig) -> None:
    root = rig.tmp / "www"
    root.mkdir()
    body = random.Random(11).randbytes(SIZE)
    (root / "f.bin").write_bytes(body)
    srv = subprocess.Popen(["ip", "netns", "exec", rig.ns, "/usr/bin/python3", "-m", "http.server",
                            "8000", "--bind", "0.0.0.0", "--directory", str(root)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            if ":8000" in ipns(rig.ns, "ss", "-ltn").stdout:
                break
            time.sleep(0.1)
        answers = [rig.ask({"fetch": [host, 8000, "/f.bin"]}, timeout=120)
                   for host in (KERNEL, "::ffff:" + KERNEL)]
    finally:
        srv.terminate()
        srv.wait(timeout=10)
    for ans in answers:
        assert ans.get("status", "").startswith("HTTP/1.0 200"), ans
        assert ans["fetched"] == SIZE and ans["sha256"] == hashlib.sha256(body).hexdigest()
        assert ans["info"]["sack"] and ans["info"]["ts"]
        assert ans["info"]["advmss"] == 1460 and ans["info"]["peer_mss"] == 1460


def test_tshark_finds_nothing_wrong(rig: Rig) -> None:
    rig.ask({"stats": 1})
    time.sleep(0.5)
    rig.cap.terminate()
    rig.cap.wait(timeout=10)
    base = ["tshark", "-r", str(rig.pcap), *NO_TCP_HEURISTICS, "-o", "tcp.check_checksum:TRUE",
            "-o", "ip.check_checksum:TRUE"]
    total = subprocess.run(base + ["-T", "fields", "-e", "frame.number"], capture_output=True,
                           text=True, check=True).stdout.split()
    assert len(total) > 4000, len(total)
    bad = subprocess.run(base + ["-Y", ("_ws.malformed || (tcp.checksum.status == 0 && !(tcp.checksum == 0xffff && tcp.checksum_calculated == 0x0000)) || "
                                 "ip.checksum.status == 0 || _ws.expert.severity == error")],
                         capture_output=True, text=True, check=True).stdout
    assert bad == "", bad
    ours = subprocess.run(base + ["-Y", f"ip.src == {OURS}", "-T", "fields", "-e",
                                  "ip.flags.df"], capture_output=True, text=True,
                          check=True).stdout.split()
    assert len(ours) > 1000 and set(ours) == {"1"}, set(ours)
    syns = subprocess.run(base + ["-Y", f"ip.src == {OURS} && tcp.flags.syn == 1", "-T",
                                  "fields", "-e", "tcp.options.mss_val"], capture_output=True,
                          text=True, check=True).stdout.split()
    assert syns and set(syns) == {"1460"}, syns
