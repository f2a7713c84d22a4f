"""kame TCP against the Linux kernel over an impaired TAP, and under attack
(issue 9, "How it is proven": impairments, bad input; item 1: ECN).

The kernel here has no netem, so our node's TAP is wrapped in a
:class:`kame.link.impair.ImpairedTap` (tests/interop/tcp_tapnode.py with
``KAME_IMPAIR``): TCP segments either way are lost (4 %), reordered (3 %)
and duplicated (1 %) by a seeded generator, and every 60th ECN-capable
packet is marked CE; a second node runs under 10 % loss. The kernel runs with ``net.ipv4.tcp_ecn=1``.

- Transfers of random sizes, kernel to us and us to the kernel, complete
  byte-exact.
- ECN: the kernel's ``TCP_INFO`` (``tcpi_options``, which ``ss -ti``
  prints as ``ecn``) shows ECN on a connection to us, as our ``tcp_info``
  does; tshark sees ECT(0) data both ways, CE marks, ECE
  answering them and CWR answering ECE, from both sides.
- tshark's ``tcp.analysis`` (the capture is the kernel's side of the TAP)
  flags nothing the impairments do not explain: the expected flags are
  retransmission, fast retransmission, spurious retransmission (a
  duplicated or late segment that was retransmitted anyway), duplicate
  ACK, out-of-order, lost segment ("previous segment not captured": ours,
  lost before the kernel saw them), window update and window full; a zero
  window only from our receiver right after the kernel filled the window
  it was offered (our sink, a Python loop, reads in batches), and the
  kernel's probes of it (Linux probes with SND.UNA - 1, which tshark names
  keep-alive) with our answers; "ACKed segment that wasn't captured" only
  where the capture shows the octets acknowledged did pass before (tshark's
  guess, fooled by a lost original and its retransmission). Any other (reused
  ports, a zero window or probe out of that order...) fails the test, as do malformed packets, bad checksums and error-level
  expert marks. The capture shows RTO (``tcp.analysis.rto``), fast
  retransmissions and SACK blocks; our counters show SACK recovery.

Bad input (a clean TAP; tests/interop/tcp_attacker.py plays a hostile host
on the link with an AF_PACKET socket in the kernel's namespace): blind RST,
SYN, ACK and data injection into an established kernel connection, data
out of the window, a SYN flood from random addresses, one-octet segments
every other octet across a whole receive window, a peer that holds a zero
window (our node probes it), an ARP flood. Our node's memory stays bounded
(RSS), the drops are counted, and the kernel's connection survives and
finishes byte-exact.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netns_rig import fresh_netns, ipns, no_tcp_heuristics, tcp_tapnode

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MAC = "02:00:00:00:09:12"
OURS, KERNEL = "2001:db8:19::2", "2001:db8:19::1"
OURS4, KERNEL4 = "192.0.2.2", "192.0.2.1"
SEED = 19
IMPAIR = {"loss": 0.04, "reorder": 0.03, "duplicate": 0.01, "reorder_delay": 0.004,
          "seed": 5, "ce_every": 60}
#: zero windows: allowed only where our receiver's buffer was full (the
#: kernel's previous segment filled the window), and the kernel's probes of
#: it (Linux sends SND.UNA - 1, which tshark calls keep-alive) and our answers
ZERO_WINDOW = {"zero_window", "zero_window_probe", "zero_window_probe_ack", "keep_alive",
               "keep_alive_ack"}
EXPECTED_FLAGS = {"retransmission", "fast_retransmission", "spurious_retransmission",
                  "duplicate_ack", "out_of_order", "lost_segment", "window_update",
                  "window_full"}


class Rig:
    def __init__(self, ns: str, dev: str, child: subprocess.Popen[str], pcap: Path,
                 cap: subprocess.Popen[bytes], tmp: Path) -> None:
        self.ns, self.dev, self.child, self.pcap, self.cap, self.tmp = ns, dev, child, pcap, \
            cap, tmp

    def ask(self, cmd: dict[str, Any], timeout: float = 60) -> Any:
        assert self.child.stdin is not None and self.child.stdout is not None
        self.child.stdin.write(json.dumps(cmd) + "\n")
        self.child.stdin.flush()
        r, _, _ = select.select([self.child.stdout], [], [], timeout)
        assert r, "no answer from the node"
        return json.loads(self.child.stdout.readline() or "null")

    def kmac(self) -> str:
        out = ipns(self.ns, "ip", "-j", "link", "show", self.dev).stdout
        return str(json.loads(out)[0]["address"])


def _rig(tmp: Path, prefix: str, env_extra: dict[str, str]) -> Iterator[Rig]:
    dev = prefix + "0"
    with fresh_netns("kame-" + prefix) as ns:
        ipns(ns, "ip", "link", "set", "lo", "up")
        ipns(ns, "sysctl", "-qw", "net.ipv4.tcp_ecn=1")
        # a retransmitted SYN keeps ECE|CWR (Linux's fallback clears them, so
        # a lost SYN or SYN,ACK would make a connection without ECN)
        ipns(ns, "sysctl", "-qw", "net.ipv4.tcp_ecn_fallback=0")
        with tcp_tapnode(ns, dev, MAC, tmp / f"{prefix}.pcap", OURS, KERNEL, SEED, ours4=OURS4,
                         kernel4=KERNEL4, env_extra=env_extra) as (child, cap):
            yield Rig(ns, dev, child, tmp / f"{prefix}.pcap", cap, tmp)


@pytest.fixture(scope="module")
def lossy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    yield from _rig(tmp_path_factory.mktemp("impair"), "kimp",
                    {"KAME_IMPAIR": json.dumps(IMPAIR),
                     "KAME_KNOBS": json.dumps({"net.inet.tcp.ecn.enable": 1})})


def kernel_py(ns: str, code: str, *args: str, timeout: float = 120) -> str:
    return ipns(ns, "/usr/bin/python3", "-c", code, *args, timeout=timeout).stdout


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

DOWNLOAD = r"""
import hashlib, socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
s.sendall(b"GET /%s HTTP/1.0\r\n\r\n" % sys.argv[3].encode())
buf = bytearray()
while True:
    d = s.recv(1 << 16)
    if not d:
        break
    buf += d
head, _, body = bytes(buf).partition(b"\r\n\r\n")
print(len(body), hashlib.sha256(body).hexdigest())
"""


def test_transfers_under_loss_reordering_and_duplication(lossy: Rig) -> None:
    rng = random.Random(SEED)
    t0 = time.monotonic()
    for i in range(2):
        n = rng.randrange(50_000, 400_000)
        ours, theirs = kernel_py(lossy.ns, UPLOAD, OURS, "9000", str(i), str(n)).split()
        assert ours == theirs, (n, ours, theirs)
        n = rng.randrange(50_000, 400_000)
        got, sha = kernel_py(lossy.ns, DOWNLOAD, OURS, "8080", str(n)).split()
        assert int(got) == n
        assert sha == hashlib.sha256(random.Random(SEED).randbytes(n)).hexdigest()
    # IPv4 too
    n = rng.randrange(50_000, 200_000)
    ours, theirs = kernel_py(lossy.ns, UPLOAD, OURS4, "9000", "7", str(n)).split()
    assert ours == theirs
    print(f"impaired transfers: {time.monotonic() - t0:.1f} s")
    st = lossy.ask({"stats": 1})
    assert st.get("tcps_sndrexmitpack", 0) > 0 and st.get("tcps_rcvoopack", 0) > 0, st
    assert st.get("tcps_sack_recovery_episode", 0) > 0, st
    assert st.get("tcps_rcvduppack", 0) > 0, st  # the duplicates, dropped


@pytest.fixture(scope="module")
def heavy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    yield from _rig(tmp_path_factory.mktemp("heavy"), "khvy",
                    {"KAME_IMPAIR": json.dumps({"loss": 0.10, "reorder": 0.05,
                                                "duplicate": 0.02, "seed": 11})})


def test_transfers_under_ten_percent_loss(heavy: Rig) -> None:
    """10 % of the segments lost either way, 5 % reordered, 2 % duplicated:
    still byte-exact, by SACK recovery (and retransmission timeouts when it
    is not enough)."""
    rng = random.Random(SEED + 1)
    t0 = time.monotonic()
    n = rng.randrange(50_000, 250_000)
    ours, theirs = kernel_py(heavy.ns, UPLOAD, OURS, "9000", "1", str(n)).split()
    assert ours == theirs
    n = rng.randrange(50_000, 250_000)
    got, sha = kernel_py(heavy.ns, DOWNLOAD, OURS, "8080", str(n)).split()
    assert int(got) == n
    assert sha == hashlib.sha256(random.Random(SEED).randbytes(n)).hexdigest()
    print(f"10 % loss transfers: {time.monotonic() - t0:.1f} s")
    st = heavy.ask({"stats": 1})
    # SACK recovery always; a retransmission timeout only when a loss is
    # not repaired by it first, which the timing decides (none in about one
    # run in three): retransmissions are counted either way
    assert st.get("tcps_sack_recovery_episode", 0) > 0 and st.get("tcps_sndrexmitpack", 0) > 0, st


HOLD = r"""
import socket, sys, time
s = socket.create_connection((sys.argv[1], 7000), timeout=10)
time.sleep(0.2)
# struct tcp_info's tcpi_options: TCPI_OPT_TIMESTAMPS 1, SACK 2, WSCALE 4, ECN 8
print("connected", s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)[5], flush=True)
time.sleep(float(sys.argv[2]))
"""


def traffic(rig: Rig, n: int = 150_000) -> None:
    """One transfer each way (the ECN and capture checks need data to judge)."""
    ours, theirs = kernel_py(rig.ns, UPLOAD, OURS, "9000", "9", str(n)).split()
    assert ours == theirs
    _got, sha = kernel_py(rig.ns, DOWNLOAD, OURS, "8080", str(n)).split()
    assert sha == hashlib.sha256(random.Random(SEED).randbytes(n)).hexdigest()


def test_ecn_agrees_with_the_kernel(lossy: Rig) -> None:
    traffic(lossy)
    hold = subprocess.Popen(["ip", "netns", "exec", lossy.ns, "/usr/bin/python3", "-c", HOLD,
                             OURS, "30"], stdout=subprocess.PIPE, text=True)
    try:
        assert hold.stdout is not None
        word, opts = hold.stdout.readline().split()
        assert word == "connected"
        # the handshake's last ACK may be lost: our SYN,ACK is resent after
        # its RTO (1 s, doubling) and the kernel's new ACK completes it
        deadline = time.monotonic() + 20
        while True:
            ours = lossy.ask({"info": 7000})
            if ours or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        hold.terminate()
        hold.wait(timeout=20)
    # the kernel's TCP_INFO (what ss -ti prints as "ts sack wscale ecn"; this
    # iproute2's ss leaves the option words out, even kernel to kernel)
    assert int(opts) & 0x0F == 0x0F, opts
    assert ours and all(c["ecn"] for c in ours), ours
    st = lossy.ask({"stats": 1})
    assert st.get("tcps_ecn_ce", 0) > 0 and st.get("tcps_ecn_rcwnd", 0) > 0, st
    assert st.get("tcps_ecn_ect0", 0) > 0, st


def tshark(rig: Rig, display: str, *fields: str) -> list[list[str]]:
    base = ["tshark", "-r", str(rig.pcap), *no_tcp_heuristics(), "-o",
            "tcp.check_checksum:TRUE", "-o", "tcp.analyze_sequence_numbers:TRUE",
            "-o", "tcp.relative_sequence_numbers:TRUE", "-Y", display, "-T", "fields",
            "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in fields:
        base += ["-e", f]
    out = subprocess.run(base, capture_output=True, text=True, check=True).stdout
    return [r.split("\t") for r in out.splitlines() if r.strip()]


def test_capture_flags_only_what_the_impairment_explains(lossy: Rig) -> None:
    traffic(lossy, 500_000)
    stats = lossy.ask({"stats": 1})
    time.sleep(0.5)
    lossy.cap.terminate()
    lossy.cap.wait(timeout=10)
    total = tshark(lossy, "tcp", "frame.number")
    assert len(total) > 500, len(total)
    bad = tshark(lossy, "_ws.malformed || (tcp.checksum.status == 0 && !(tcp.checksum == 0xffff && tcp.checksum_calculated == 0x0000)) || "
                 "_ws.expert.severity == error", "frame.number", "_ws.expert.message")
    assert bad == [], bad
    zw = sorted(ZERO_WINDOW)
    rows = tshark(lossy, "tcp.analysis.flags", "frame.number", "ipv6.src", "ip.src",
                  "tcp.stream", *[f"tcp.analysis.{f}" for f in sorted(EXPECTED_FLAGS)],
                  *[f"tcp.analysis.{f}" for f in zw], "_ws.expert.message")
    # tshark's "ACKed segment that wasn't captured" is a guess that loss and
    # retransmission fool (a segment it took for a retransmission does not
    # advance what it thinks may be acknowledged): judged here on the capture
    # itself, an acknowledgment may cover only octets captured before it
    reach: dict[tuple[str, str], int] = {}
    unseen: set[str] = set()
    for fno, src4, src6, stream, seq, ln, ack, syn, fin, fl in tshark(
            lossy, "tcp", "frame.number", "ip.src", "ipv6.src", "tcp.stream", "tcp.seq",
            "tcp.len", "tcp.ack", "tcp.flags.syn", "tcp.flags.fin", "tcp.analysis.ack_lost_segment"):
        src = src6 or src4
        end = int(seq) + int(ln) + (syn in ("1", "True")) + (fin in ("1", "True"))
        reach[(stream, src)] = max(reach.get((stream, src), 0), end)
        if fl:
            other = [v for (st, who), v in reach.items() if st == stream and who != src]
            assert other and int(ack) <= other[0], ("ACKed unseen segment", fno, ack, other)
            unseen.add(fno)
    seen: dict[str, int] = {}
    full: set[str] = set()  # streams where the kernel filled the window we offered
    shut: set[str] = set()  # streams where our window then closed
    n = len(EXPECTED_FLAGS)
    for r in rows:
        src, stream = r[1] or r[2], r[3]
        marks, zmarks = r[4:4 + n], dict(zip(zw, r[4 + n:4 + n + len(zw)], strict=True))
        for name, v in [*zip(sorted(EXPECTED_FLAGS), marks, strict=True), *zmarks.items()]:
            if v:
                seen[name] = seen.get(name, 0) + 1
        if marks[sorted(EXPECTED_FLAGS).index("window_full")] and src in (KERNEL, KERNEL4):
            full.add(stream)
        if zmarks["zero_window"]:
            # a zero window only from our receiver, only once the kernel filled it
            assert src in (OURS, OURS4) and stream in full, ("zero window misuse", r)
            shut.add(stream)
        elif any(zmarks.values()):
            # probes of our zero window (Linux probes with SEG.SEQ = SND.UNA - 1,
            # which tshark names keep-alive) and our answers, only after it shut
            assert stream in shut, ("probe without a zero window", r)
        elif r[0] not in unseen:
            assert any(marks), ("a tcp.analysis flag the impairments do not explain", r, stats)
    for name in ("retransmission", "fast_retransmission", "duplicate_ack", "out_of_order",
                 "lost_segment"):
        assert seen.get(name), (name, seen)
    # RTO, SACK recovery and ECN, as the capture shows them
    assert tshark(lossy, "tcp.analysis.rto", "frame.number"), "no RTO in the capture"
    sack_from = {r[0] or r[1] for r in tshark(lossy, "tcp.options.sack_le", "ipv6.src",
                                                 "ip.src")}
    assert {OURS, KERNEL} <= sack_from, sack_from
    ecn = tshark(lossy, "tcp.flags.syn == 0", "ipv6.src", "ipv6.tclass.ecn",
                 "tcp.flags.ece", "tcp.flags.cwr")
    for who in (OURS, KERNEL):
        mine = [r for r in ecn if r[0] == who]
        assert any(r[1] == "2" for r in mine), who  # ECT(0) data
        assert any(r[2] in ("1", "True") for r in mine), who  # ECE echoing CE
        assert any(r[3] in ("1", "True") for r in mine), who  # CWR answering ECE
    assert any(r[1] == "3" for r in ecn)  # the marks themselves
    print("tcp.analysis flags:", seen)


# --- bad input ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    yield from _rig(tmp_path_factory.mktemp("attack"), "katk",
                    {"KAME_KNOBS": json.dumps({"net.inet.tcp.persmin": 300,
                                                "net.inet.tcp.syncache.cachelimit": 256})})


VICTIM = r"""
import hashlib, random, socket, sys
data = random.Random(3).randbytes(int(sys.argv[2]))
s = socket.create_connection((sys.argv[1], 9000), timeout=60)
half = len(data) // 2
s.sendall(data[:half])
print(s.getsockname()[1], flush=True)
sys.stdin.readline()
s.sendall(data[half:])
s.shutdown(socket.SHUT_WR)
reply = b""
while not reply.endswith(b"\n"):
    d = s.recv(100)
    if not d:
        break
    reply += d
print(reply.decode().strip(), hashlib.sha256(data).hexdigest(), flush=True)
"""


def test_bad_input_memory_bounded_drops_counted_connection_survives(clean: Rig) -> None:
    victim = subprocess.Popen(["ip", "netns", "exec", clean.ns, "/usr/bin/python3", "-c",
                               VICTIM, OURS, "1000000"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert victim.stdout is not None and victim.stdin is not None
        kport = int(victim.stdout.readline())
        before = clean.ask({"stats": "all"})
        cfg = {"our_mac": MAC, "kernel_mac": clean.kmac(), "ours": OURS, "ours4": OURS4,
               "fake": "2001:db8:19::66", "victim": [KERNEL, kport, 9000], "seed": 3,
               "syns": 3000, "arps": 3000, "zwp_seconds": 3}
        t0 = time.monotonic()
        atk = ipns(clean.ns, sys.executable, str(HERE / "tcp_attacker.py"), clean.dev,
                   json.dumps(cfg), timeout=120,
                   env=dict(os.environ, PYTHONPATH=str(ROOT / "python")))
        seen = json.loads(atk.stdout.strip().splitlines()[-1])
        print(f"attacks: {time.monotonic() - t0:.1f} s", seen)
        time.sleep(1.0)
        after = clean.ask({"stats": "all"})
        victim.stdin.write("go\n")
        victim.stdin.flush()
        r, _, _ = select.select([victim.stdout], [], [], 60)
        assert r, "the victim connection did not finish"
        ours, theirs = victim.stdout.readline().split()
    finally:
        if victim.poll() is None:
            victim.kill()
        victim.wait(timeout=10)
    assert ours == theirs  # the established connection survived, byte-exact
    assert seen["gaps_connected"] and seen["zwp_connected"], seen
    d = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    print("counters:", {k: v for k, v in d.items() if v})
    # memory: bounded (the Python process; tables and queues capped)
    assert after["VmRSS"] - before["VmRSS"] < 40_000, (before["VmRSS"], after["VmRSS"])
    assert after["arp_entries"] <= 1024 and after["nd6_entries"] <= 2048, after
    assert after["tcp_conns"] <= 8, after
    # blind injection: challenge ACKs (rate-limited), data after the window,
    # acknowledgments of unsent data, SYNs in the window, RSTs outside it
    assert d.get("tcps_challenge_ack", 0) + d.get("tcps_challenge_ack_limited", 0) > 0, d
    assert d.get("tcps_challenge_ack_limited", 0) > 0, d
    assert d.get("tcps_rcvpackafterwin", 0) > 0 and d.get("tcps_syn_inwin", 0) > 0, d
    assert d.get("tcps_rcvrstoutofwin", 0) > 0, d
    # the SYN flood: the SYN queue overflowed into cookies
    assert d.get("tcps_sc_added", 0) > 0 and d.get("tcps_sc_sendcookie", 0) > 0, d
    # reassembly gaps: out-of-order octets queued up to the queue's bound, then dropped
    assert d.get("tcps_rcvoopack", 0) > 0 and d.get("tcps_rcvreassfull", 0) > 0, d
    # the zero window: we probed it and sent nothing else past it
    assert d.get("tcps_persisttimeo", 0) > 0 and d.get("tcps_sndprobe", 0) > 0, d
    assert 0 < seen["zwp_got"] <= 1440 and seen["zwp_probes"] >= 2, seen
    # the ARP flood: counted, the table capped
    assert sum(v for k, v in d.items() if k.startswith("arps_")) > 0, d
