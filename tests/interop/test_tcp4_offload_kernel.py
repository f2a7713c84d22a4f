"""kame TCP over IPv4 against the Linux kernel over a TAP device opened with
``IFF_VNET_HDR`` and segmentation offload (issue 9, benchmarks): the rig of
test_tcp_offload_kernel.py with IPv4 addresses.

- ``curl -4`` fetches 3 MB from our HTTP server, byte-exact, while our node
  sends IPv4 super-segments (``VIRTIO_NET_HDR_GSO_TCPV4``) for the kernel to
  segment (``tcps_tso_sends``, the TAP's super-segments out);
- the kernel uploads 3 MB over IPv4 to our sink (the kernel's GSO in);
- in the capture our IPv4 super-segments are longer than the MTU, carry DF
  and an IPv4 total length that fits 64 KiB, and tshark finds no malformed
  frame, error or bad checksum among our frames.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
from netns_rig import fresh_netns, ipns, tcp_tapnode
from test_tcp_kernel import NO_TCP_HEURISTICS, UPLOAD, Rig, expected, kernel_py

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

MAC = "02:00:00:00:09:05"
OURS6, KERNEL6 = "2001:db8:95::2", "2001:db8:95::1"
OURS, KERNEL = "192.0.2.2", "192.0.2.1"
SEED = 9
SIZE = 3_000_000
DEV = "ktso4"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    tmp = tmp_path_factory.mktemp("tso4")
    with fresh_netns("kame-tso4") as ns:
        ipns(ns, "ip", "link", "set", "lo", "up")
        with tcp_tapnode(ns, DEV, MAC, tmp / "tso4.pcap", OURS6, KERNEL6, SEED, ours4=OURS,
                         kernel4=KERNEL, capture="ip and tcp", extra_args=("--offload",),
                         make_tap=False) as (child, cap):
            yield Rig(ns, child, tmp / "tso4.pcap", cap, tmp)


def test_curl4_fetches_super_segments(rig: Rig) -> None:
    out = rig.tmp / "curl.bin"
    before = rig.ask({"stats": 1})
    r = ipns(rig.ns, "curl", "-4", "-sS", "--max-time", "60", "-o", str(out),
             "-w", "%{http_code} %{size_download}", f"http://{OURS}:8081/{SIZE}", check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["200", str(SIZE)]
    assert hashlib.sha256(out.read_bytes()).hexdigest() == expected(SIZE)
    stats = rig.ask({"stats": 1})
    assert stats.get("tcps_tso_sends", 0) > before.get("tcps_tso_sends", 0), stats
    assert stats["tap"][1] > before["tap"][1], stats
    assert stats.get("ips_fragmented", 0) == 0, stats


def test_kernel_uploads_over_ipv4(rig: Rig) -> None:
    ours, theirs = kernel_py(rig.ns, UPLOAD, OURS, "9000", "5", str(SIZE)).split()
    assert ours == theirs
    stats = rig.ask({"stats": 1})
    assert stats["tap"][0] > 0 and stats["tap"][2] == 0, stats
    assert stats.get("tcps_rcvbadsum", 0) == 0, stats


def _tshark(rig: Rig, *args: str) -> list[str]:
    base = ["tshark", "-r", str(rig.pcap), *NO_TCP_HEURISTICS, "-o", "tcp.check_checksum:TRUE",
            "-o", "ip.check_checksum:TRUE"]
    return subprocess.run(base + list(args), capture_output=True, text=True,
                          check=True).stdout.splitlines()


def test_tshark_on_our_ipv4_super_segments(rig: Rig) -> None:
    rig.ask({"stats": 1})
    time.sleep(0.5)
    rig.cap.terminate()
    rig.cap.wait(timeout=10)
    big = _tshark(rig, "-Y", f"ip.src == {OURS} && frame.len > 1514", "-T", "fields",
                  "-e", "ip.len", "-e", "ip.flags.df")
    assert big, "no IPv4 super-segment of ours in the capture"
    for line in big:
        length, df = line.split()
        assert 1500 < int(length) <= 65535 and df == "1", line
    bad = _tshark(rig, "-Y", f"ip.src == {OURS} && (_ws.malformed || _ws.expert.severity == error"
                             " || (tcp.checksum.status == 0 && !(tcp.checksum == 0xffff && tcp.checksum_calculated == 0x0000)) || ip.checksum.status == 0)")
    assert bad == [], bad[:20]
