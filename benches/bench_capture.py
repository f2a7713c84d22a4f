"""A capture into an Apache Arrow table: kame.capture against scapy's
``rdpcap`` plus field extraction and dpkt's reader loop plus the same
fields, in one run, on the same capture of real kernel traffic as
bench_dissect (ND, MLD, fragmented pings, UDP, TCP port 80, ARP; see
tests/interop/dissect_traffic.py), kept in the page cache.

kame builds every column (timestamp, lengths, addresses, chain, upper
protocol, ports, ICMP, ND target, ESP, TCP, verdict and reason); the peers
extract addresses, upper protocol, ports, ICMP type/code and TCP flags
into Python lists. scapy and dpkt run on the first ``--peer-packets``
frames (they are slow) and are reported in packets per second like kame.
Rates are given per CPU second of the thread that runs them (everything
runs in the main thread: per core; ``time.thread_time``, kernel time of
page faults included) and per wall second; with the load average, since
the machine is shared. kame reads a file given by path mapped into memory
(``kame.capture.read(path)``, ``_core.CaptureFile``); the chunked reader
(a file object, as for gzip or a pipe) is timed too, and so are the
columns built by the general dissection alone (``lean=False``: every row
as before the lean path of the common kinds), for the ratio in one run;
and so are the batches of ``kame.capture.batches`` dropped as they come,
whose buffers are reused for later batches (no page faults on fresh
memory). A table kept whole (``read``) needs fresh memory for all its
batches; in the best of ``--runs`` the first two batches of a ``read``
reuse the buffers of the previous run's table (at most two batches'
worth are kept).
A second corpus of small packets (the mix of tests/test_capture.py: UDP,
TCP, ND, extension headers, fragments, ESP, ICMP, ARP, bad checksums and
refusals; 67 octets on average, ``--small`` frames) shows the cost per
packet apart from the octets moved.
Writes benches/results/capture.json and .png (benches/publish.py).

    sudo .venv/bin/python benches/bench_capture.py [--packets N] [--keep FILE] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "interop"))
sys.path.insert(0, str(HERE))

import dpkt
from publish import publish

from kame import _core, capture


def timed(fn: Callable[[], int], runs: int) -> tuple[float, float, int]:
    """Best (thread CPU seconds, wall seconds) over ``runs`` and the packet count."""
    cpu, wall, n = float("inf"), float("inf"), 0
    for _ in range(runs):
        c0, w0 = time.thread_time(), time.perf_counter()
        n = fn()
        cpu = min(cpu, time.thread_time() - c0)
        wall = min(wall, time.perf_counter() - w0)
    return cpu, wall, n


def kame_mapped_core(path: Path, verify: bool, lean: bool = True) -> int:
    """The columns built in the core from the mapped file, not wrapped in
    pyarrow arrays (``lean`` False: every row by the general dissection,
    the path every row took before the lean one)."""
    cf = _core.CaptureFile(path, verify_cksum=verify, lean=lean)
    n = 0
    while (cols := cf.next_batch()) is not None:
        n += cols["rows"]
    cf.close()
    return n


def streamed(path: Path) -> int:
    """The record batches of a mapped file, each dropped when the next
    comes (as ``to_parquet`` or a reduction reads them): their buffers
    hold the batches after next, with their pages mapped already."""
    return sum(b.num_rows for b in capture.batches(path))


def kame_core_only(path: Path, verify: bool) -> int:
    """The columns built in the core from chunks read by Python, not
    wrapped in pyarrow arrays."""
    cc = _core.CaptureColumns(verify_cksum=verify)
    n = 0
    with open(path, "rb") as f:
        while True:
            data = f.read(1 << 22)
            out, done = cc.feed(data, not data)
            n += sum(c["rows"] for c in out)
            if done:
                break
    cc.close()
    return n


def dpkt_fields(path: Path) -> int:
    cols: dict[str, list[object]] = {k: [] for k in ("ts", "src", "dst", "p", "sport", "dport", "it",
                                                      "ic", "flags")}
    with open(path, "rb") as f:
        for ts, buf in dpkt.pcap.Reader(f):
            cols["ts"].append(ts)
            ip = dpkt.ethernet.Ethernet(buf).data
            if isinstance(ip, (dpkt.ip6.IP6, dpkt.ip.IP)):
                up = ip.data
                cols["src"].append(ip.src)
                cols["dst"].append(ip.dst)
                cols["p"].append(ip.p if isinstance(ip, dpkt.ip.IP) else ip.nxt)
                ports = isinstance(up, (dpkt.tcp.TCP, dpkt.udp.UDP))
                cols["sport"].append(up.sport if ports else None)
                cols["dport"].append(up.dport if ports else None)
                icmp = isinstance(up, (dpkt.icmp6.ICMP6, dpkt.icmp.ICMP))
                cols["it"].append(up.type if icmp else None)
                cols["ic"].append(up.code if icmp else None)
                cols["flags"].append(up.flags if isinstance(up, dpkt.tcp.TCP) else None)
    return len(cols["ts"])


def scapy_fields(path: Path) -> int:
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.utils import rdpcap

    rows = []
    for p in rdpcap(str(path)):
        ip = p.getlayer(IPv6) or p.getlayer(IP)
        if ip is None:
            rows.append((p.time, None, None, None, None, None, None))
            continue
        up = ip.payload
        ports = isinstance(up, (TCP, UDP))
        rows.append((p.time, ip.src, ip.dst, ip.nh if isinstance(ip, IPv6) else ip.proto,
                     up.sport if ports else None, up.dport if ports else None,
                     up.type if isinstance(up, ICMP) or hasattr(up, "type") else None))
    return len(rows)


def head(path: Path, n: int, dest: Path) -> None:
    with open(path, "rb") as f, open(dest, "wb") as g:
        r = dpkt.pcap.Reader(f)
        w = dpkt.pcap.Writer(g, snaplen=262144, linktype=r.datalink())
        for i, (ts, buf) in enumerate(r):
            if i >= n:
                break
            w.writepkt(buf, ts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=200_000)
    ap.add_argument("--peer-packets", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--small", type=int, default=1_000_000)
    ap.add_argument("--keep", type=Path, help="reuse (or keep) the capture at this path")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = a.keep or Path(d) / "kernel.pcap"
        if not path.exists():
            from dissect_traffic import record

            t0 = time.perf_counter()
            record(path, a.packets, prefix="kcbench")
            print(f"recorded {path} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        path.read_bytes()  # into the page cache
        small = Path(d) / "head.pcap"
        head(path, a.peer_packets, small)
        small.read_bytes()
        pq_out = Path(d) / "c.parquet"
        sys.path.insert(0, str(HERE.parent / "tests"))
        import random

        from test_capture import FRAMES, pcap

        rnd = random.Random(1)
        one = pcap([rnd.choice(FRAMES) for _ in range(10_000)])
        tiny = Path(d) / "small.pcap"
        tiny.write_bytes(one[:24] + one[24:] * max(a.small // 10_000, 1))
        tiny_head = Path(d) / "small-head.pcap"
        head(tiny, a.peer_packets, tiny_head)
        cases: dict[str, Callable[[], int]] = {
            "kame.capture.read (Arrow table)": lambda: capture.read(path).num_rows,
            "kame.capture.read, verify_cksum=False": lambda: capture.read(path, verify_cksum=False).num_rows,
            "kame.capture.batches, each dropped": lambda: streamed(path),
            "kame core columns, mapped file": lambda: kame_mapped_core(path, True),
            "kame core columns, mapped file, verify_cksum=False": lambda: kame_mapped_core(path, False),
            "kame core columns, chunks fed": lambda: kame_core_only(path, True),
            "kame core columns, general dissection only": lambda: kame_mapped_core(path, True, False),
            "kame core columns, general dissection only, verify_cksum=False":
                lambda: kame_mapped_core(path, False, False),
            "kame.capture.to_parquet": lambda: capture.to_parquet(path, pq_out),
            "dpkt reader loop + fields": lambda: dpkt_fields(small),
            "scapy rdpcap + fields": lambda: scapy_fields(small),
        }
        small_cases: dict[str, Callable[[], int]] = {
            "kame.capture.read (Arrow table)": lambda: capture.read(tiny).num_rows,
            "kame.capture.read, verify_cksum=False": lambda: capture.read(tiny, verify_cksum=False).num_rows,
            "kame.capture.batches, each dropped": lambda: streamed(tiny),
            "kame core columns, mapped file": lambda: kame_mapped_core(tiny, True),
            "kame core columns, mapped file, verify_cksum=False": lambda: kame_mapped_core(tiny, False),
            "kame core columns, chunks fed": lambda: kame_core_only(tiny, True),
            "kame core columns, general dissection only": lambda: kame_mapped_core(tiny, True, False),
            "kame core columns, general dissection only, verify_cksum=False":
                lambda: kame_mapped_core(tiny, False, False),
            "dpkt reader loop + fields": lambda: dpkt_fields(tiny_head),
            "scapy rdpcap + fields": lambda: scapy_fields(tiny_head),
        }
        load = os.getloadavg()
        res = {name: timed(fn, a.runs if "scapy" not in name else 1) for name, fn in cases.items()}
        sres = {name: timed(fn, a.runs if "scapy" not in name else 1) for name, fn in small_cases.items()}
        load_after = os.getloadavg()
        size = path.stat().st_size
        mean_small = (tiny.stat().st_size - 24) / sres["kame.capture.read (Arrow table)"][2] - 16
    print(f"capture: {res['kame.capture.read (Arrow table)'][2]} frames, {size / 1e6:.0f} MB; peers on "
          f"{a.peer_packets}; load average {load[0]:.2f} -> {load_after[0]:.2f} "
          f"({os.cpu_count()} cpus); best of {a.runs}")
    print(f"{'':52} {'Mpkt/s cpu':>10} {'Mpkt/s wall':>11} {'vs dpkt':>8}")
    mean = size / res["kame.capture.read (Arrow table)"][2] - 16
    for title, rs in ((f"kernel capture, {mean:.0f} octets a frame on average", res),
                      (f"small packets, {mean_small:.0f} octets on average", sres)):
        print(title)
        dpkt_rate = rs["dpkt reader loop + fields"][2] / rs["dpkt reader loop + fields"][0]
        for name, (cpu, wall, n) in rs.items():
            print(f"  {name:52} {n / cpu / 1e6:8.2f} {n / wall / 1e6:11.2f} {n / cpu / dpkt_rate:7.1f}x")
    publish("capture", {
        f"kernel capture ({mean:.0f} B/frame): packets per CPU second": {k: v[2] / v[0] for k, v in res.items()},
        f"small packets ({mean_small:.0f} B): packets per CPU second": {k: v[2] / v[0] for k, v in sres.items()},
        "kernel capture: packets per wall second": {k: v[2] / v[1] for k, v in res.items()},
    }, unit="pkt/s", better="higher", facts={"packets": res["kame.capture.read (Arrow table)"][2],
                                             "small_packets": sres["kame.capture.read (Arrow table)"][2],
                                             "peer_packets": a.peer_packets, "bytes": size,
                                             "load_before": load[0], "load_after": load_after[0]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
