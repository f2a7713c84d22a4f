"""Resolver lookups per second against unbound over TAP, side by side with
glibc's getaddrinfo in the same run (issue 11's resolver benchmark).

    python benches/bench_resolv.py [--n 2000] [--batch 50] [--profile]   (as root)

unbound serves ``both.test`` (A and AAAA) from an auth-zone in a
namespace; our node, on a TAP into it, resolves through its own sockets:
``getaddrinfo`` uncached (cache size 0: an A and an AAAA query over UDP
each time, asked together) and cached. glibc's ``getaddrinfo`` runs in the
namespace against the same server (it has no cache of its own: every call
asks both queries), in a worker process that stays up for the whole run.
Each kind's process CPU time per lookup is printed beside its rate (ours
counts the runner thread too; glibc's worker does not count unbound's), and
the table goes to ``benches/results/resolv.json`` and ``resolv.png``.

``--profile`` instead counts, per lookup of each kame kind, the runner's
passes, TAP reads and writes, ``select`` calls (and those that timed out)
and condition waits, in the asking thread and in the runner thread, and
prints cProfile's top entries.

The machine is shared, so its load moves under a long run: the three
kinds run interleaved in batches of ``--batch`` lookups (kame uncached,
glibc, kame cached, again and again), so each sees the same load; each
rate is lookups over the summed time of its own batches. The load
(``os.getloadavg``) is printed before and after. Needs root and unbound.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from ipaddress import IPv6Address
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "interop"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from netns_rig import TapPort, fresh_netns, ipns

from kame import netdb
from kame.knobs import Knobs
from kame.link.runner import Runner
from kame.node import Node
from kame.resolv import Cache, Client, ResolvConf, Server
from kame.socket import SocketLayer
from kame.socket.blocking import Stack

K6, O6 = "2001:db8:96::1", "2001:db8:96::2"

GLIBC = """
import socket, sys, time
for line in sys.stdin:
    n = int(line)
    t, c = time.perf_counter(), time.process_time()
    for _ in range(n):
        socket.getaddrinfo("both.test", 80, 0, socket.SOCK_STREAM)
    print(time.perf_counter() - t, time.process_time() - c, flush=True)
"""

ZONE = """$ORIGIN test.
@ 300 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
@ 300 IN NS ns.test.
ns 300 IN AAAA 2001:db8:96::1
both 300 IN AAAA 2001:db8:96::10
both 300 IN A 192.0.2.10
"""


@contextlib.contextmanager
def rig() -> Iterator[tuple[Stack, dict[str, netdb.Resolver], subprocess.Popen[str], Runner]]:
    """unbound in a namespace, our node on a TAP into it (neighbour entry
    and cache warm), the glibc worker: yields (stack, kame kinds, glibc
    worker, runner)."""
    d = Path(tempfile.mkdtemp())
    (d / "test.zone").write_text(ZONE)
    conf = d / "unbound.conf"
    conf.write_text(
        f"server:\n  interface: {K6}\n  port: 53\n  do-daemonize: no\n  username: \"\"\n"
        f"  chroot: \"\"\n  directory: \"{d}\"\n  pidfile: \"\"\n  use-syslog: no\n"
        "  verbosity: 0\n  access-control: ::/0 allow\n  module-config: \"iterator\"\n"
        "  num-threads: 1\n  local-zone: \"test.\" nodefault\n"
        f"auth-zone:\n  name: \"test.\"\n  zonefile: \"{d / 'test.zone'}\"\n"
        "  for-downstream: yes\n  for-upstream: no\n")
    with fresh_netns("kame-dnsb") as ns:
        port = TapPort(ns, "kdb")
        dev = port.name
        ipns(ns, "ip", "link", "set", "lo", "up")
        ipns(ns, "ip", "addr", "add", f"{K6}/64", "dev", dev, "nodad")
        ipns(ns, "ip", "link", "set", dev, "up")
        etc = Path("/etc/netns") / ns
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "resolv.conf").write_text(f"nameserver {K6}\n")
        srv = subprocess.Popen(["ip", "netns", "exec", ns, "unbound", "-d", "-c", str(conf)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        glibc = subprocess.Popen(["ip", "netns", "exec", ns, "python3", "-c", GLIBC],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert glibc.stdin is not None and glibc.stdout is not None
        try:
            end = time.monotonic() + 30
            while not ipns(ns, "ss", "-Hlun", "sport = :53", check=False).stdout.strip():
                assert time.monotonic() < end and srv.poll() is None, "unbound did not start"
                time.sleep(0.05)
            node = Node("kdb", knobs=Knobs({"net.inet6.ip6.dad_count": 0}), seed=1)
            node.add_interface(dev, bytes.fromhex("020000000991"))
            runner = Runner()
            runner.attach_device(node, dev, port.tap)
            now = runner.clock()
            runner.transmit(node, node.up(dev, now))
            node.add_address(dev, f"{O6}/64", now)
            runner.service()
            with Stack(SocketLayer(node, "linux"), runner) as st:
                rconf = ResolvConf(servers=[Server(IPv6Address(K6))])
                kinds = {"kame uncached": netdb.Resolver(dns=Client(rconf, factory=st,
                                                                    cache=Cache(0))),
                         "kame cached": netdb.Resolver(dns=Client(rconf, factory=st))}
                for res in kinds.values():  # warm: neighbour entry, the cache
                    st.resolver = res
                    assert st.getaddrinfo("both.test", 80, 0, socket.SOCK_STREAM)
                yield st, kinds, glibc, runner
        finally:
            glibc.kill()
            glibc.wait()
            srv.kill()
            srv.wait()
            port.close()
            shutil.rmtree(etc, ignore_errors=True)
            shutil.rmtree(d, ignore_errors=True)


def profile(n: int) -> None:
    """Where a lookup's time goes: per lookup of each kind, the wall and
    CPU time, the runner's passes, TAP reads and writes, ``select`` calls
    (and those that timed out) and condition waits in this thread and in
    the runner thread, then cProfile's top entries."""
    import cProfile
    import pstats
    import threading

    from kame.resolv import _select

    counts: dict[str, float] = {}

    def inc(k: str, v: float = 1) -> None:
        who = "main" if threading.current_thread() is threading.main_thread() else "bg"
        counts[f"{k}[{who}]"] = counts.get(f"{k}[{who}]", 0) + v

    real_select = _select.select

    def select(r: Any, w: Any, x: Any, t: float | None = None) -> Any:
        t0 = time.perf_counter()
        out = real_select(r, w, x, t)
        inc("select")
        inc("select_s", time.perf_counter() - t0)
        if not out[0]:
            inc("select_timeout")
        return out

    with rig() as (st, kinds, _glibc, runner):
        tap = runner.ports[0].device
        assert tap is not None
        real_read, real_write, real_service = tap.read, tap.write, runner.service
        real_wait = st.cond.wait

        def read() -> bytes | None:
            fr = real_read()
            inc("tap_read" if fr is not None else "tap_read_empty")
            return fr

        def write(fr: bytes) -> int:
            inc("tap_write")
            return real_write(fr)

        def service() -> float | None:
            inc("service")
            return real_service()

        def wait(timeout: float | None = None) -> bool:
            inc("cond_wait")
            t0 = time.perf_counter()
            ok = real_wait(timeout)
            inc("cond_wait_s", time.perf_counter() - t0)
            return ok

        tap.read, tap.write = read, write  # type: ignore[method-assign,assignment]
        runner.service = service  # type: ignore[method-assign]
        st.cond.wait = wait  # type: ignore[method-assign]
        _select.select = select
        try:
            for label, res in kinds.items():
                st.resolver = res
                counts.clear()
                prof = cProfile.Profile()
                c0, t0 = time.thread_time(), time.perf_counter()
                p0 = time.process_time()
                prof.enable()
                for _ in range(n):
                    st.getaddrinfo("both.test", 80, 0, socket.SOCK_STREAM)
                prof.disable()
                wall = time.perf_counter() - t0
                cpu, pcpu = time.thread_time() - c0, time.process_time() - p0
                print(f"== {label}: {n} lookups, {n / wall:.0f}/s; per lookup "
                      f"{wall / n * 1e6:.0f} us wall, {cpu / n * 1e6:.0f} us CPU (this "
                      f"thread), {pcpu / n * 1e6:.0f} us CPU (process); load "
                      f"{os.getloadavg()[0]:.2f}")
                for k in sorted(counts):
                    v = counts[k] / n
                    print(f"   {k:28} {v * 1e6:10.1f} us" if k.endswith("_s]") or "_s[" in k
                          else f"   {k:28} {v:10.2f}")
                s = io.StringIO()
                pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(18)
                print(s.getvalue())
        finally:
            _select.select = real_select


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--profile", action="store_true",
                    help="count passes, TAP reads and writes, selects and waits per "
                         "lookup, and cProfile each kind, instead of the benchmark")
    args = ap.parse_args()
    if args.profile:
        profile(min(args.n, 1000))
        return
    rounds = max(1, args.n // args.batch)
    with rig() as (st, kinds, glibc, _runner):
        assert glibc.stdin is not None and glibc.stdout is not None
        load0 = os.getloadavg()[0]
        spent = dict.fromkeys([*kinds, "glibc (no cache)"], 0.0)
        cpu = dict.fromkeys(spent, 0.0)   # process CPU: ours (both threads), glibc's worker
        for _ in range(rounds):
            for label, res in kinds.items():
                st.resolver = res
                t, c = time.perf_counter(), time.process_time()
                for _ in range(args.batch):
                    st.getaddrinfo("both.test", 80, 0, socket.SOCK_STREAM)
                spent[label] += time.perf_counter() - t
                cpu[label] += time.process_time() - c
                if label == "kame uncached":
                    glibc.stdin.write(f"{args.batch}\n")
                    glibc.stdin.flush()
                    wall, gcpu = glibc.stdout.readline().split()
                    spent["glibc (no cache)"] += float(wall)
                    cpu["glibc (no cache)"] += float(gcpu)
        n = rounds * args.batch
        g = n / spent["glibc (no cache)"]
        load1 = os.getloadavg()[0]
        print(f"load: {load0:.2f} before, {load1:.2f} after; "
              f"{n} lookups of each kind, interleaved in batches of {args.batch}")
        for label, res in kinds.items():
            assert res.dns is not None
            counts = {k: v for k, v in res.dns.stats.items() if v}
            print(f"{label}: {counts}")
        for label, secs in spent.items():
            rate = n / secs
            extra = f", {cpu[label] / n * 1e6:6.0f} us CPU each"
            print(f"{label:18} {rate:8.0f} lookups/s {secs / n * 1e6:8.0f} us each"
                  f"  ({rate / g:.2f}x glibc){extra}")
        from publish import publish

        rates = {k: n / v for k, v in spent.items()}
        glabel = "glibc (no cache)"
        publish("resolv", {
            "uncached getaddrinfo (A + AAAA)": {"kame uncached": rates["kame uncached"],
                                                glabel: rates[glabel]},
            "cached getaddrinfo": {"kame cached": rates["kame cached"], glabel: rates[glabel]},
        }, unit="lookups/s", better="higher",
            facts={"lookups": n, "batch": args.batch, "load_before": load0,
                   "cpu_us_per_lookup": {k: cpu[k] / n * 1e6 for k in spent},
                   "load_after": load1, "peer": "glibc getaddrinfo against unbound"})


if __name__ == "__main__":
    main()
