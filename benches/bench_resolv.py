"""Resolver lookups per second against unbound over TAP, side by side with
glibc's getaddrinfo in the same run (issue 11's resolver benchmark).

    python benches/bench_resolv.py [--n 2000] [--batch 50]   (as root)

unbound serves ``both.test`` (A and AAAA) from an auth-zone in a
namespace; our node, on a TAP into it, resolves through its own sockets:
``getaddrinfo`` uncached (cache size 0: an A and an AAAA query over UDP
each time, asked together) and cached. glibc's ``getaddrinfo`` runs in the
namespace against the same server (it has no cache of its own: every call
asks both queries), in a worker process that stays up for the whole run.

The machine is shared, so its load moves under a long run: the three
kinds run interleaved in batches of ``--batch`` lookups (kame uncached,
glibc, kame cached, again and again), so each sees the same load; each
rate is lookups over the summed time of its own batches. The load
(``os.getloadavg``) is printed before and after. Needs root and unbound.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from ipaddress import IPv6Address
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "interop"))

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
    t = time.perf_counter()
    for _ in range(n):
        socket.getaddrinfo("both.test", 80, 0, socket.SOCK_STREAM)
    print(time.perf_counter() - t, flush=True)
"""

ZONE = """$ORIGIN test.
@ 300 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
@ 300 IN NS ns.test.
ns 300 IN AAAA 2001:db8:96::1
both 300 IN AAAA 2001:db8:96::10
both 300 IN A 192.0.2.10
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=50)
    args = ap.parse_args()
    rounds = max(1, args.n // args.batch)
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
            load0 = os.getloadavg()[0]
            with Stack(SocketLayer(node, "linux"), runner) as st:
                rconf = ResolvConf(servers=[Server(IPv6Address(K6))])
                kinds = {"kame uncached": netdb.Resolver(dns=Client(rconf, factory=st,
                                                                    cache=Cache(0))),
                         "kame cached": netdb.Resolver(dns=Client(rconf, factory=st))}
                spent = dict.fromkeys([*kinds, "glibc (no cache)"], 0.0)
                for res in kinds.values():  # warm: neighbour entry, the cache
                    st.resolver = res
                    assert st.getaddrinfo("both.test", 80, 0, socket.SOCK_STREAM)
                for _ in range(rounds):
                    for label, res in kinds.items():
                        st.resolver = res
                        t = time.perf_counter()
                        for _ in range(args.batch):
                            st.getaddrinfo("both.test", 80, 0, socket.SOCK_STREAM)
                        spent[label] += time.perf_counter() - t
                        if label == "kame uncached":
                            glibc.stdin.write(f"{args.batch}\n")
                            glibc.stdin.flush()
                            spent["glibc (no cache)"] += float(glibc.stdout.readline())
            n = rounds * args.batch
            g = n / spent["glibc (no cache)"]
            print(f"load: {load0:.2f} before, {os.getloadavg()[0]:.2f} after; "
                  f"{n} lookups of each kind, interleaved in batches of {args.batch}")
            for label, res in kinds.items():
                assert res.dns is not None
                counts = {k: v for k, v in res.dns.stats.items() if v}
                print(f"{label}: {counts}")
            for label, secs in spent.items():
                rate = n / secs
                print(f"{label:18} {rate:8.0f} lookups/s {secs / n * 1e6:8.0f} us each"
                      f"  ({rate / g:.2f}x glibc)")
        finally:
            glibc.kill()
            glibc.wait()
            srv.kill()
            srv.wait()
            port.close()
            shutil.rmtree(etc, ignore_errors=True)
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
