"""DHCPv6 server: Solicit→Advertise→Request→Reply exchanges per second for
distinct clients, and memory per lease (issue 11's DHCPv6 benchmark).

    python benches/bench_dhcp6.py [--n 5000] [--wire-n 1000]   (the wire part as root)

In memory: our server (:class:`kame.dhcp6.server.Dhcp6Server`) alone fed
the Solicit and Request of ``n`` distinct clients (bytes in, bytes out), and
the same with our client state machines on the other side; memory per lease
is tracemalloc's count of what the server holds after ``n`` leases, divided
by ``n``.

On the wire, the same load generator (this file with ``--gen``: the host's
UDP sockets, our codec, 32 clients in flight) against our server on our
node over a TAP, and against dnsmasq on a veth pair, in namespaces of this
run: the ratio is the comparison (both one process on one core; the
generator is the same Python for both).
"""

from __future__ import annotations

import argparse
import os
import random
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from ipaddress import IPv6Address, IPv6Network
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "interop"))

from kame.dhcp6 import codec as c
from kame.dhcp6 import duid as duidmod
from kame.dhcp6.client import Dhcp6Client
from kame.dhcp6.server import AddrPool, Dhcp6Server, PrefixPool

SRV_DUID = duidmod.duid_ll(b"\x02\x00\x00\x00\xbe\x01")
FE80 = IPv6Address("fe80::1")


def _server() -> Dhcp6Server:
    return Dhcp6Server(SRV_DUID, pool=AddrPool(IPv6Address("2001:db8::1:0"),
                                               IPv6Address("2001:db8::ff:ffff")),
                       pd_pool=PrefixPool(IPv6Network("2001:db8:100::/40"), 56),
                       dns=(IPv6Address("2001:db8::53"),), max_leases=1 << 20, preference=255)


def _duid(i: int) -> bytes:
    return duidmod.duid_ll(b"\x02\x00" + i.to_bytes(4, "big"))


def _messages(i: int, server_duid: bytes) -> tuple[bytes, bytes]:
    cid = c.ClientId(_duid(i))
    oro = c.OptionRequest((23, 24))
    sol = c.Message(c.MsgType.SOLICIT, i & 0xFFFFFF, (cid, c.ElapsedTime(0), c.IaNa(1), oro))
    req = c.Message(c.MsgType.REQUEST, (i + 1) & 0xFFFFFF,
                    (cid, c.ServerId(server_duid), c.ElapsedTime(0), c.IaNa(1), oro))
    return sol.build(), req.build()


def bench_server_only(n: int) -> float:
    srv = _server()
    msgs = [_messages(i, SRV_DUID) for i in range(n)]
    t = time.perf_counter()
    for sol, req in msgs:
        srv.receive(sol, FE80, "eth0", 1.0)
        srv.receive(req, FE80, "eth0", 1.0)
    dt = time.perf_counter() - t
    assert srv.nleases == n
    return n / dt


def bench_with_clients(n: int) -> float:
    srv = _server()
    clients = [Dhcp6Client("eth0", _duid(i), rng=random.Random(i)) for i in range(n)]
    t = time.perf_counter()
    for cl in clients:
        cl.start("stateful", 0.0)
        for s in cl.poll(1.0):
            for r in srv.receive(s.payload, FE80, "eth0", 1.0):
                cl.receive(r.payload, FE80, 1.0)
        for s in cl.poll(1.0):
            for r in srv.receive(s.payload, FE80, "eth0", 1.0):
                cl.receive(r.payload, FE80, 1.0)
    dt = time.perf_counter() - t
    assert all(cl.lease is not None for cl in clients)
    return n / dt


def memory_per_lease(n: int) -> tuple[float, float]:
    msgs = [_messages(i, SRV_DUID) for i in range(n)]
    tracemalloc.start()
    srv = _server()
    base = tracemalloc.get_traced_memory()[0]
    for sol, req in msgs:
        srv.receive(sol, FE80, "eth0", 1.0)
        srv.receive(req, FE80, "eth0", 1.0)
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return used / n, used / 1e6


# --- on the wire ---------------------------------------------------------------------------


def gen(dev: str, n: int, window: int) -> None:
    """The load generator (in a namespace): ``n`` distinct clients, ``window``
    in flight, four messages each; prints exchanges per second."""
    ifi = socket.if_nametoindex(dev)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifi)
    s.bind(("::", 546))
    s.setblocking(False)
    dst = ("ff02::1:2", 547, 0, ifi)
    pending: dict[int, tuple[int, int, float]] = {}   # xid -> (client, stage, sent)
    nxt, done, xid = 0, 0, 1
    oro = c.OptionRequest((23,))

    def send(i: int, stage: int, sid: bytes = b"") -> None:
        nonlocal xid
        xid = (xid + 1) & 0xFFFFFF
        opts: list[c.Option] = [c.ClientId(_duid(i)), c.ElapsedTime(0), c.IaNa(1), oro]
        if stage == 1:
            opts.insert(1, c.ServerId(sid))
        t = c.MsgType.REQUEST if stage else c.MsgType.SOLICIT
        s.sendto(c.Message(t, xid, tuple(opts)).build(), dst)
        pending[xid] = (i, stage, time.monotonic())

    t0 = time.perf_counter()
    end = time.monotonic() + 300
    while done < n and time.monotonic() < end:
        while nxt < n and len(pending) < window:
            send(nxt, 0)
            nxt += 1
        select.select([s], [], [], 0.2)
        while True:
            try:
                data = s.recv(4096)
            except BlockingIOError:
                break
            m = c.parse(data)
            if not isinstance(m, c.Message) or m.xid not in pending:
                continue
            i, stage, _ = pending.pop(m.xid)
            if stage == 0:
                sid = m.get(c.ServerId)
                assert isinstance(sid, c.ServerId)
                send(i, 1, sid.duid)
            else:
                done += 1
        now = time.monotonic()
        for x, (i, stage, sent) in list(pending.items()):
            if now - sent > 2.0:       # lost: ask again (a fresh transaction)
                del pending[x]
                send(i, 0)
    dt = time.perf_counter() - t0
    print(f"{done / dt:.1f} {done}")


def _gen_in(ns: str, dev: str, n: int) -> tuple[float, int]:
    from netns_rig import child_env, ipns

    out = ipns(ns, sys.executable, str(Path(__file__).resolve()), "--gen", dev, "--wire-n",
               str(n), env=child_env(), timeout=400)
    rate, done = out.stdout.split()
    return float(rate), int(done)


def wire(n: int) -> dict[str, float]:
    import threading

    from dhcp6_peer import Ours, wait_linklocal
    from netns_rig import TapPort, fresh_netns, ipns

    from kame.dhcp6.agent import ServerAgent

    res: dict[str, float] = {}
    with fresh_netns("kd6b") as ns:
        port = TapPort(ns, "kd6b")
        ipns(ns, "ip", "link", "set", port.name, "up")
        wait_linklocal(ns, port.name)
        ours = Ours(port, "02:00:00:00:be:02", 1)
        server = _server()
        ours.agents.append(ServerAgent(ours.layer, server, (ours.dev,)))
        assert ours.pump(lambda: all(a.usable for a in ours.node.addresses(ours.dev)), 30)
        box: dict[str, tuple[float, int]] = {}
        th = threading.Thread(target=lambda: box.setdefault("r", _gen_in(ns, port.name, n)))
        th.start()
        while th.is_alive():
            ours.pump(lambda: not th.is_alive(), 1.0)
        port.close()
        res["kame"], done = box["r"]
        assert done == n and server.nleases == n, (done, server.nleases)
    dnsmasq = "/usr/sbin/dnsmasq" if os.path.exists("/usr/sbin/dnsmasq") else \
        shutil.which("dnsmasq")
    if dnsmasq:
        with fresh_netns("kd6b") as a, fresh_netns("kd6b") as b:
            d = Path(tempfile.mkdtemp())
            subprocess.run(["ip", "link", "add", "kd6va", "netns", a, "type", "veth", "peer",
                            "name", "kd6vb", "netns", b], check=True)
            ipns(a, "ip", "-6", "addr", "add", "2001:db8:93::1/64", "dev", "kd6va", "nodad")
            for ns, dev in ((a, "kd6va"), (b, "kd6vb")):
                ipns(ns, "ip", "link", "set", dev, "up")
            wait_linklocal(b, "kd6vb")
            srv = subprocess.Popen(
                ["ip", "netns", "exec", a, dnsmasq, "--keep-in-foreground", "--port=0",
                 "--interface=kd6va", "--bind-interfaces", "--user=root", "--pid-file",
                 "--dhcp-range=2001:db8:93::1:0,2001:db8:93::ff:ffff,64,1h",
                 f"--dhcp-leasefile={d / 'leases'}", "--dhcp-lease-max=1000000",
                 "--log-facility=/dev/null"], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            try:
                time.sleep(1.0)
                res["dnsmasq"], done = _gen_in(b, "kd6vb", n)
                assert done == n, done
            finally:
                srv.terminate()
                srv.wait(timeout=10)
                shutil.rmtree(d, ignore_errors=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--wire-n", type=int, default=1000)
    ap.add_argument("--gen", metavar="DEV")
    a = ap.parse_args()
    if a.gen:
        gen(a.gen, a.wire_n, 32)
        return
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}"
          f" on {os.cpu_count()} cores")
    print(f"in memory, server alone:      {bench_server_only(a.n):10.0f} exchanges/s"
          f" ({a.n} distinct clients, 4 messages each)")
    print(f"in memory, with our clients:  {bench_with_clients(a.n):10.0f} exchanges/s")
    per, total = memory_per_lease(a.n)
    print(f"memory per lease:             {per:10.0f} bytes ({total:.1f} MB for {a.n})")
    if os.geteuid() == 0:
        r = wire(a.wire_n)
        for k, v in r.items():
            print(f"on the wire, {k:8s}:         {v:10.1f} exchanges/s ({a.wire_n} clients)")
        if "dnsmasq" in r:
            print(f"kame / dnsmasq:               {r['kame'] / r['dnsmasq']:10.2f}")


if __name__ == "__main__":
    main()
