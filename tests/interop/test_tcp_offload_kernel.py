"""kame TCP against the Linux kernel over a TAP device opened with
``IFF_VNET_HDR`` and segmentation offload (issue 9, benchmarks).

The kernel hands our node TCP super-segments of up to 64 KiB with the
checksum left to complete, and our node sends super-segments for the kernel
to segment (TSO/GSO both ways). The same transfers as test_tcp_kernel.py:

- ``curl`` fetches 3 MB from our HTTP server, byte-exact (our TSO out);
- the kernel uploads 3 MB to our sink (the kernel's GSO in);
- our client fetches 3 MB from ``python3 -m http.server`` in the namespace;
- the capture on the TAP shows super-segments both ways, and tshark
  dissects every frame with no malformed or error-severity mark; our
  segments all carry a correct checksum (the kernel's carry the partial
  one of checksum offload, which our node completes, as ``tcps_rcvbadsum``
  zero shows, so theirs are judged without checksum validation) and no
  ``tcp.analysis`` flag beyond window updates.
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
from netns_rig import capture_drops, fresh_netns, ipns, tcp_tapnode
from test_tcp_kernel import NO_TCP_HEURISTICS, UPLOAD, Rig, expected, kernel_py

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MAC = "02:00:00:00:09:03"
OURS, KERNEL = "2001:db8:9::2", "2001:db8:9::1"
SEED = 9
SIZE = 3_000_000
DEV = "ktso0"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    tmp = tmp_path_factory.mktemp("tso")
    with fresh_netns("kame-tso") as ns:
        ipns(ns, "ip", "link", "set", "lo", "up")
        with tcp_tapnode(ns, DEV, MAC, tmp / "tso.pcap", OURS, KERNEL, SEED,
                         extra_args=("--offload",), make_tap=False) as (child, cap):
            yield Rig(ns, child, tmp / "tso.pcap", cap, tmp)


def test_curl_fetches_super_segments(rig: Rig) -> None:
    out = rig.tmp / "curl.bin"
    t = time.monotonic()
    r = ipns(rig.ns, "curl", "-6", "-sS", "--max-time", "60", "-o", str(out),
             "-w", "%{http_code} %{size_download}", f"http://[{OURS}]:8080/{SIZE}", check=False)
    dt = time.monotonic() - t
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["200", str(SIZE)]
    assert hashlib.sha256(out.read_bytes()).hexdigest() == expected(SIZE)
    stats = rig.ask({"stats": 1})
    assert stats.get("tcps_tso_sends", 0) > 0 and stats["tap"][1] > 0, stats
    print(f"kernel <- kame (TSO): {SIZE * 8 / dt / 1e6:.1f} Mbit/s")


def test_kernel_uploads_super_segments(rig: Rig) -> None:
    t = time.monotonic()
    ours, theirs = kernel_py(rig.ns, UPLOAD, OURS, "9000", "5", str(SIZE)).split()
    dt = time.monotonic() - t
    assert ours == theirs
    stats = rig.ask({"stats": 1})
    assert stats["tap"][0] > 0 and stats["tap"][2] == 0, stats  # super-segments, no lies
    assert stats.get("tcps_rcvbadsum", 0) == 0, stats
    print(f"kernel -> kame (GSO): {SIZE * 8 / dt / 1e6:.1f} Mbit/s")


def test_our_client_fetches_from_the_kernel(rig: Rig) -> None:
    root = rig.tmp / "www"
    root.mkdir()
    body = random.Random(11).randbytes(SIZE)
    (root / "f.bin").write_bytes(body)
    srv = subprocess.Popen(["ip", "netns", "exec", rig.ns, "/usr/bin/python3", "-m", "http.server",
                            "8000", "--bind", KERNEL, "--directory", str(root)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            if ":8000" in ipns(rig.ns, "ss", "-ltn").stdout:
                break
            time.sleep(0.1)
        ans = rig.ask({"fetch": [KERNEL, 8000, "/f.bin"]}, timeout=120)
    finally:
        srv.terminate()
        srv.wait(timeout=10)
    assert ans.get("status", "").startswith("HTTP/1.0 200"), ans
    assert ans["fetched"] == SIZE and ans["sha256"] == hashlib.sha256(body).hexdigest()


def _tshark(rig: Rig, *args: str, cksum: bool = True) -> list[str]:
    base = ["tshark", "-r", str(rig.pcap), *NO_TCP_HEURISTICS, "-o",
            f"tcp.check_checksum:{'TRUE' if cksum else 'FALSE'}",
            "-o", "tcp.analyze_sequence_numbers:TRUE"]
    return subprocess.run(base + list(args), capture_output=True, text=True,
                          check=True).stdout.splitlines()


def test_tshark_on_the_super_segments(rig: Rig) -> None:
    stats = rig.ask({"stats": 1})
    time.sleep(0.5)
    rig.cap.terminate()
    rig.cap.wait(timeout=10)
    big_ours = _tshark(rig, "-Y", f"ipv6.src == {OURS} && frame.len > 1514", "-T", "fields",
                       "-e", "frame.len")
    big_theirs = _tshark(rig, "-Y", f"ipv6.src == {KERNEL} && frame.len > 1514", "-T",
                         "fields", "-e", "frame.len")
    assert big_ours and big_theirs, (len(big_ours), len(big_theirs))
    assert max(int(x) for x in big_ours) <= 14 + 40 + 65535
    # our frames: complete checksums, nothing wrong
    bad = _tshark(rig, "-Y", f"ipv6.src == {OURS} && (_ws.malformed || "
                             "_ws.expert.severity == error || tcp.checksum.status == 0)")
    assert bad == [], bad[:20]
    # the kernel's carry the pseudo-header sum only (CHECKSUM_PARTIAL, as any
    # capture on a device with checksum offload): judged without checksums
    bad = _tshark(rig, "-Y", "_ws.malformed || _ws.expert.severity == error", cksum=False)
    assert bad == [], bad[:20]
    # an ACK of ours for a segment the capture lost is tshark's "ACKed
    # segment that wasn't captured": not ours to answer for when tcpdump
    # says the kernel dropped packets from the capture
    lost = capture_drops(rig.pcap)
    ours = _tshark(rig, "-Y", (f"ipv6.src == {OURS} && tcp.analysis.flags && "
                               "!tcp.analysis.window_update && !tcp.analysis.zero_window && "
                               "!tcp.analysis.duplicate_ack"
                               + (" && !tcp.analysis.ack_lost_segment" if lost else "")),
                   "-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message")
    assert ours == [], (ours[:20], stats, lost)
