"""kame TCP against the Linux kernel over a TAP device (issue 9).

Our node (tests/interop/tcp_tapnode.py) runs on a TAP device in a network
namespace with the real clock; the kernel, on the other side, is the peer:

- ``curl`` fetches 3 MB from our HTTP server, byte-exact;
- the kernel's own socket uploads 3 MB to our sink, which answers the
  SHA-256 of what it read;
- our client fetches 3 MB from ``python3 -m http.server`` in the namespace;
- ``ss -ti`` on a held connection agrees with our MSS, window scales,
  SACK and timestamps;
- tshark dissects every captured segment with no malformed, bad-checksum
  or error-severity expert mark, and no ``tcp.analysis`` flag beyond
  window updates (the TAP loses nothing, so nothing explains more).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netns_rig import fresh_netns, ipns, no_tcp_heuristics, tcp_tapnode

NO_TCP_HEURISTICS = no_tcp_heuristics() if shutil.which("tshark") else ()

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MAC = "02:00:00:00:09:02"
OURS, KERNEL = "2001:db8:9::2", "2001:db8:9::1"
SEED = 9
SIZE = 3_000_000
DEV = "ktcp0"


class Rig:
    def __init__(self, ns: str, child: subprocess.Popen[str], pcap: Path,
                 cap: subprocess.Popen[bytes], tmp: Path) -> None:
        self.ns, self.child, self.pcap, self.cap, self.tmp = ns, child, pcap, cap, tmp
        self.held_port = 0

    def ask(self, cmd: dict[str, Any], timeout: float = 60) -> Any:
        assert self.child.stdin is not None
        self.child.stdin.write(json.dumps(cmd) + "\n")
        self.child.stdin.flush()
        return self.answer(timeout)

    def answer(self, timeout: float = 60) -> Any:
        assert self.child.stdout is not None
        r, _, _ = select.select([self.child.stdout], [], [], timeout)
        assert r, "no answer from the node"
        return json.loads(self.child.stdout.readline() or "null")


def kernel_py(ns: str, code: str, *args: str, timeout: float = 120) -> str:
    return ipns(ns, "/usr/bin/python3", "-c", code, *args, timeout=timeout).stdout


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    tmp = tmp_path_factory.mktemp("tcp")
    with fresh_netns("kame-tcp") as ns:
        ipns(ns, "ip", "link", "set", "lo", "up")
        with tcp_tapnode(ns, DEV, MAC, tmp / "tcp.pcap", OURS, KERNEL, SEED) as (child, cap):
            yield Rig(ns, child, tmp / "tcp.pcap", cap, tmp)


def expected(n: int) -> str:
    return hashlib.sha256(random.Random(SEED).randbytes(n)).hexdigest()


def test_curl_fetches_from_our_server(rig: Rig) -> None:
    out = rig.tmp / "curl.bin"
    t = time.monotonic()
    r = ipns(rig.ns, "curl", "-6", "-sS", "--max-time", "60", "-o", str(out),
             "-w", "%{http_code} %{size_download}", f"http://[{OURS}]:8080/{SIZE}", check=False)
    dt = time.monotonic() - t
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["200", str(SIZE)]
    assert hashlib.sha256(out.read_bytes()).hexdigest() == expected(SIZE)
    print(f"kernel <- kame: {SIZE * 8 / dt / 1e6:.1f} Mbit/s")


UPLOAD = r"""
import hashlib, random, socket, sys
data = random.Random(int(sys.argv[3])).randbytes(int(sys.argv[4]))
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
reply = b""
while not reply.endswith(b"\n"):
    d = s.recv(100)
    if not d:
        break
    reply += d
print(reply.decode().strip(), hashlib.sha256(data).hexdigest())
"""


def test_kernel_uploads_to_our_sink(rig: Rig) -> None:
    t = time.monotonic()
    ours, theirs = kernel_py(rig.ns, UPLOAD, OURS, "9000", "5", str(SIZE)).split()
    dt = time.monotonic() - t
    assert ours == theirs
    print(f"kernel -> kame: {SIZE * 8 / dt / 1e6:.1f} Mbit/s")


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
    assert ans["info"]["sack"] and ans["info"]["ts"]


HOLD = r"""
import socket, sys, time
s = socket.create_connection((sys.argv[1], 7000), timeout=10)
print("connected", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_ss_agrees_with_our_tcp_info(rig: Rig) -> None:
    hold = subprocess.Popen(["ip", "netns", "exec", rig.ns, "/usr/bin/python3", "-c", HOLD, OURS,
                             "6"], stdout=subprocess.PIPE, text=True)
    try:
        assert hold.stdout is not None and hold.stdout.readline().strip() == "connected"
        time.sleep(0.3)
        ss = ipns(rig.ns, "ss", "-tin", "dst", f"[{OURS}]:7000").stdout
        ours = rig.ask({"info": 7000})
    finally:
        hold.wait(timeout=20)
    assert len(ours) == 1, ours
    me = ours[0]
    m = re.search(r"wscale:(\d+),(\d+)", ss)
    assert m, ss
    k_snd, k_rcv = int(m.group(1)), int(m.group(2))
    assert (k_snd, k_rcv) == (me["rcv_wscale"], me["snd_wscale"]), (ss, me)
    kmss = int(re.search(r"\bmss:(\d+)", ss).group(1))  # type: ignore[union-attr]
    assert kmss == me["mss"], (ss, me)  # both 1440 less 12 octets of timestamps
    # Linux's advmss is its MSS option less the timestamps it will carry
    kadv = int(re.search(r"\badvmss:(\d+)", ss).group(1))  # type: ignore[union-attr]
    assert kadv == me["peer_mss"] - 12 and me["ts"], (ss, me)
    # This kernel's ss does not print "ts"/"sack" (not even kernel to kernel):
    # the handshake in the capture shows both sides agreed on them.
    rig.held_port = int(me["peer"][1])


def test_tshark_finds_nothing_wrong(rig: Rig) -> None:
    stats = rig.ask({"stats": 1})
    time.sleep(0.5)
    rig.cap.terminate()
    rig.cap.wait(timeout=10)
    base = ["tshark", "-r", str(rig.pcap), *NO_TCP_HEURISTICS, "-o", "tcp.check_checksum:TRUE",
            "-o", "tcp.analyze_sequence_numbers:TRUE"]
    total = subprocess.run(base + ["-T", "fields", "-e", "frame.number"], capture_output=True,
                           text=True, check=True).stdout.split()
    assert len(total) > 4000, len(total)
    bad = subprocess.run(base + ["-Y", ("_ws.malformed || (tcp.checksum.status == 0 && !(tcp.checksum == 0xffff && tcp.checksum_calculated == 0x0000)) || "
                                 "_ws.expert.severity == error")],
                         capture_output=True, text=True, check=True).stdout
    assert bad == "", bad
    # Our segments: no tcp.analysis flag but zero windows and window updates
    # (our receiver, a Python loop, is slower than the kernel's sender).
    ours = subprocess.run(base + ["-Y", (f"ipv6.src == {OURS} && tcp.analysis.flags && "
                                  "!tcp.analysis.window_update && !tcp.analysis.zero_window && "
                                  "!tcp.analysis.duplicate_ack"),
                                  "-T", "fields", "-e", "frame.number", "-e",
                                  "_ws.expert.message"],
                          capture_output=True, text=True, check=True).stdout
    assert ours == "", (ours, stats)
    # The kernel's: it fills our window and probes it; the only retransmissions
    # are its tail-loss probes while our ACKs lag (few), never a loss we caused.
    theirs = subprocess.run(base + ["-Y", (f"ipv6.src == {KERNEL} && tcp.analysis.flags && !("
                                    "tcp.analysis.window_update || tcp.analysis.window_full || "
                                    "tcp.analysis.zero_window_probe || "
                                    "tcp.analysis.retransmission)"), "-T", "fields",
                                    "-e", "frame.number", "-e", "_ws.expert.message"],
                            capture_output=True, text=True, check=True).stdout
    assert theirs == "", (theirs, stats)
    rexmit = subprocess.run(base + ["-Y", "tcp.analysis.retransmission", "-T", "fields",
                                    "-e", "frame.number"], capture_output=True, text=True,
                            check=True).stdout.split()
    assert len(rexmit) <= len(total) // 200, rexmit
    # a duplicate ACK of ours answers a retransmission or probe of the kernel's
    dup = subprocess.run(base + ["-Y", f"ipv6.src == {OURS} && tcp.analysis.duplicate_ack", "-T",
                                 "fields", "-e", "frame.number"], capture_output=True, text=True,
                         check=True).stdout.split()
    probes = subprocess.run(base + ["-Y", "tcp.analysis.zero_window_probe", "-T", "fields",
                                    "-e", "frame.number"], capture_output=True, text=True,
                            check=True).stdout.split()
    assert len(dup) <= len(rexmit) + len(probes), (dup, rexmit, probes)
    # the held connection's handshake: SACK-permitted and timestamps both ways,
    # and the kernel's later segments carry timestamps
    port = rig.held_port
    assert port
    hs = subprocess.run(base + ["-Y", f"tcp.port == {port} && tcp.port == 7000 && tcp.flags.syn == 1", "-T", "fields",
                                "-e", "tcp.flags.ack", "-e", "tcp.options.sack_perm",
                                "-e", "tcp.options.timestamp.tsval", "-e", "tcp.options.wscale.shift"],
                        capture_output=True, text=True, check=True).stdout.split("\n")
    rows = [r.split("\t") for r in hs if r.strip()]
    assert len(rows) == 2 and all(r[1] and r[2] and r[3] for r in rows), rows
    later = subprocess.run(base + ["-Y", (f"tcp.srcport == {port} && tcp.dstport == 7000 && tcp.flags.syn == 0 && "
                                   "tcp.options.timestamp.tsval"), "-T", "fields",
                                   "-e", "frame.number"], capture_output=True, text=True,
                           check=True).stdout.split()
    assert later, "the kernel stopped sending timestamps"
