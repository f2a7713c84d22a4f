"""Resolver lookups per second against dnsmasq over TAP, side by side with
glibc's getaddrinfo in the same run (issue 11's resolver benchmark).

    python benches/bench_resolv.py [--n 300]   (as root)

dnsmasq serves ``both.test`` (A and AAAA) in a namespace; our node, on a
TAP into it, resolves through its own sockets: ``getaddrinfo`` uncached
(cache size 0: an A and an AAAA query over UDP each time) and cached.
glibc's ``getaddrinfo`` runs in the namespace against the same server (it
has no cache of its own: every call asks). dnsmasq answers its hosts data
from memory. Needs root (a namespace, a TAP) and dnsmasq.
"""

from __future__ import annotations

import argparse
import os
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

GLIBC = """
import socket, sys, time
n = int(sys.argv[1])
t = time.perf_counter()
for _ in range(n):
    socket.getaddrinfo("both.test", 80, 0, socket.SOCK_STREAM)
print(n / (time.perf_counter() - t))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    n = ap.parse_args().n
    d = Path(tempfile.mkdtemp())
    (d / "hosts").write_text("2001:db8:98::10 both.test\n192.0.2.10 both.test\n")
    with fresh_netns("kame-dnsb") as ns:
        port = TapPort(ns, "kdb")
        dev = port.name
        ipns(ns, "ip", "link", "set", "lo", "up")
        ipns(ns, "ip", "addr", "add", "2001:db8:98::1/64", "dev", dev, "nodad")
        ipns(ns, "ip", "link", "set", dev, "up")
        etc = Path("/etc/netns") / ns
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "resolv.conf").write_text("nameserver 2001:db8:98::1\n")
        srv = subprocess.Popen(["ip", "netns", "exec", ns, "dnsmasq", "--keep-in-foreground",
                                "--no-resolv", "--no-hosts", f"--addn-hosts={d / 'hosts'}",
                                "--local=/test/", "--pid-file", "--user=root",
                                f"--interface={dev}", "--local-ttl=300"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while not ipns(ns, "ss", "-Hlun", "sport = :53", check=False).stdout.strip():
                time.sleep(0.05)
            node = Node("kdb", knobs=Knobs({"net.inet6.ip6.dad_count": 0}), seed=1)
            node.add_interface(dev, bytes.fromhex("020000000991"))
            runner = Runner()
            runner.attach_device(node, dev, port.tap)
            now = runner.clock()
            runner.transmit(node, node.up(dev, now))
            node.add_address(dev, "2001:db8:98::2/64", now)
            runner.service()
            with Stack(SocketLayer(node, "linux"), runner) as st:
                conf = ResolvConf(servers=[Server(IPv6Address("2001:db8:98::1"))])
                rows = []
                for label, cache in (("kame uncached", Cache(0)), ("kame cached", Cache())):
                    st.resolver = netdb.Resolver(dns=Client(conf, factory=st, cache=cache))
                    st.getaddrinfo("both.test", 80, 0, socket.SOCK_STREAM)
                    t = time.perf_counter()
                    for _ in range(n):
                        st.getaddrinfo("both.test", 80, 0, socket.SOCK_STREAM)
                    rows.append((label, n / (time.perf_counter() - t)))
                glibc = float(ipns(ns, "python3", "-c", GLIBC, str(n)).stdout)
                rows.append(("glibc (no cache)", glibc))
            print(f"load: {os.getloadavg()[0]:.2f}; n={n}")
            for label, rate in rows:
                print(f"{label:18} {rate:10.0f} lookups/s  ({rate / glibc:.2f}x glibc)")
        finally:
            srv.kill()
            srv.wait()
            port.close()
            subprocess.run(["rm", "-rf", str(etc), str(d)], check=False)


if __name__ == "__main__":
    main()
