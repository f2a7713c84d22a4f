"""TCP through kame on a TAP device against the Linux kernel, and the
kernel against itself over veth, in one run (issue 9, "Benchmarks"); as
root.

    python benches/bench_tcp.py [--mbytes 200] [--conns 20000] [--idle 1000]
                                [--udp-n 20000] [--sockbuf 4194304] [--only ...]
                                [--paths core,python] [--profile FILE]

One run prints one table: our node against the kernel over veth side by
side, the ratios, issue 9's targets, and ``uptime`` at start and end.

- **bulk**: the kernel sends ``--mbytes`` MB to a sink on our node and our
  node sends as much back to the kernel, over a TAP device, once plain (one
  frame per read and write) and once with ``IFF_VNET_HDR`` segmentation and
  checksum offload; the same transfers between two kernel namespaces over a
  veth pair. Each timed by the kernel's side, from connect to the last
  octet (and, for the upload, the sink's count back). Beside the wall
  clock, the CPU each costs: Gbit per CPU-second and CPU microseconds per
  64 KiB, of our process (the node, and the kernel's share for the TAP that
  runs in it: our reads and writes, and the kernel's receive of each frame
  we write), of the kernel peer's process, and over veth of both kernel
  ends (there the receiver's softirq work mostly runs in the sender's
  process, so only the sum compares). This is what "on one core" means on
  a loaded machine: the wall clock only says what share of a core the
  load left us.
- **connection setup**: the kernel opens ``--conns`` connections (64 in
  flight per client process, ``--clients`` of them) to a port where our
  node accepts and closes; connections accepted per second by the node,
  first to last; the kernel's own rate against a kernel listener over veth
  beside it (there the Python client is the limit: one process reaches
  6,000-10,000 a second on this machine, more with ``--clients 2``).
- **server CPU per connection** (``nodesrv``): ``--conns`` connections
  from another of our nodes joined in memory (frames handed over, no TAP);
  only the server node's calls are timed, so the work per connection is
  the same at any load, unlike the TAP row's, whose frames per wakeup
  follow the load (a busy machine still slows the CPU itself: compare
  builds in one run; the least of ``--repeat`` runs is printed); with
  ``--held N``, once more while the server keeps N connections open.
- **connection setup, our node as its own client**: ``--conns``
  connections between two sockets of one node (the loopback path, 64 in
  flight, both ends' work counted): the node's rate without the kernel's
  Python client, which caps the kernel's own rate on a loaded machine.
- **memory per idle established connection**: ``--idle`` connections
  between two sockets of one node (each end counted), Python heap by
  tracemalloc (the Rust send/receive/reassembly buffers are outside it: the
  issue asks for the connection without its buffers).
- **memory per TIME_WAIT connection**: ``--idle`` connections on one node,
  closed by the client first, then by the server, all sockets let go:
  the Python heap the client's TIME_WAIT state keeps (the compact
  ``Tcptw``, its table entries, its peer address), by tracemalloc.
- **UDP round trip** on ``::1`` through ``kame.socket`` against the host
  kernel's sockets (benches/bench_socket.py's loop).

``--paths core,python`` measures our node's rows twice in the one run: with
the SYN queue in the core, header prediction and TCP segments from the link
straight to ``tcp_input`` (``core``, the default) and with the Python
reference paths (``python``: ``Tcp.fast_syncache``, ``Tcp.hdrpred`` and
``Node.tcp_fastpath`` off), so the step the core paths make is read at one
load; ``nolink`` is ``core`` without ``Node.tcp_fastpath``.

Our node runs in this process on the TAP (the TAP's descriptor opened here,
its interface moved into the namespace), single-threaded; the load average
is printed with the table.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import select
import statistics
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_socket import host_make, rounds

from kame.link.tap import TapDevice
from kame.node import Node
from kame.socket import AF_INET6, SocketLayer
from kame.socket.stream import SHUT_WR, SO_RCVBUF, SO_SNDBUF, SOCK_STREAM, SOL_SOCKET
from kame.tcp.usrreq import Tcp

OURS, KERNEL = "2001:db8:98::2", "2001:db8:98::1"
VA, VB = "2001:db8:99::1", "2001:db8:99::2"
MAC = bytes.fromhex("020000000902")
BLOCK = memoryview(bytes(range(256)) * 1024)

# --- the kernel's side (python3 in a namespace) ---------------------------------------

SEND = r"""
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
mv = memoryview(bytes(range(256)) * 256)
s = socket.create_connection((host, port))
t = time.perf_counter()
c = time.process_time()
left = n
while left > 0:
    left -= s.send(mv[:min(left, len(mv))])
s.shutdown(socket.SHUT_WR)
r = b""
while True:
    d = s.recv(64)
    if not d:
        break
    r += d
print(time.perf_counter() - t, int(r or b"0"), time.process_time() - c)
"""

RECV = r"""
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection((host, port))
t = time.perf_counter()
c = time.process_time()
s.sendall(b"%d\n" % n)
buf = bytearray(1 << 20)
got = 0
while True:
    k = s.recv_into(buf)
    if not k:
        break
    got += k
print(time.perf_counter() - t, got, time.process_time() - c)
"""

CONNECT = r"""
import selectors, socket, sys, time
host, port, n, par = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
sel = selectors.DefaultSelector()
started = done = fails = 0
def start():
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect((host, port))
    except BlockingIOError:
        pass
    sel.register(s, selectors.EVENT_WRITE)
t = time.perf_counter()
while started < min(par, n):
    start(); started += 1
while done < n:
    ev = sel.select(10)
    if not ev:
        break
    for key, _ in ev:
        s = key.fileobj
        sel.unregister(s)
        fails += bool(s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
        s.close()
        done += 1
        if started < n:
            start(); started += 1
print(time.perf_counter() - t, done, fails)
"""

SERVE = r"""
import socket, sys, threading, time
host = sys.argv[1]
def sink(c):
    t = time.thread_time()
    n = 0
    buf = bytearray(1 << 20)
    while True:
        k = c.recv_into(buf)
        if not k:
            break
        n += k
    c.sendall(b"%d\n" % n)
    c.close()
    print("cpu", time.thread_time() - t, flush=True)
def source(c):
    t = time.thread_time()
    req = b""
    while b"\n" not in req:
        req += c.recv(64)
    left = int(req)
    mv = memoryview(bytes(range(256)) * 256)
    while left > 0:
        left -= c.send(mv[:min(left, len(mv))])
    c.close()
    print("cpu", time.thread_time() - t, flush=True)
def acceptclose(c):
    c.close()
def serve(port, f):
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(4096)
    while True:
        c, _ = ls.accept()
        if f is acceptclose:
            c.close()
        else:
            threading.Thread(target=f, args=(c,), daemon=True).start()
for port, f in ((9000, sink), (9001, source)):
    threading.Thread(target=serve, args=(port, f), daemon=True).start()
print("ready", flush=True)
serve(9002, acceptclose)
"""


def ipns(ns: str, *args: str) -> None:
    subprocess.run(["ip", "netns", "exec", ns, *args], check=True, capture_output=True,
                   timeout=30)


def kernel_py(ns: str, code: str, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(["ip", "netns", "exec", ns, "python3", "-c", code,
                             *map(str, args)], stdout=subprocess.PIPE, text=True)


@contextmanager
def netns() -> Iterator[str]:
    name = f"kame-bench-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=30)
    try:
        ipns(name, "ip", "link", "set", "lo", "up")
        ipns(name, "sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=1024 65535")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=30)


def result(p: subprocess.Popen[str]) -> list[float]:
    out, _ = p.communicate(timeout=600)
    return [float(x) for x in out.split()]


#: kernel client processes that share the ``--conns`` connections (``--clients``)
CLIENTS = 1


class Clients:
    """``CLIENTS`` CONNECT processes in namespace ``ns`` sharing ``conns``
    connections (64 in flight each), seen as one: ``poll`` is None until
    all have ended; the result is (seconds of the slowest, done, failed)."""

    def __init__(self, ns: str, host: str, conns: int) -> None:
        k = max(CLIENTS, 1)
        self.ps = [kernel_py(ns, CONNECT, host, 9002, conns // k + (i < conns % k), 64)
                   for i in range(k)]

    def poll(self) -> int | None:
        rc = [p.poll() for p in self.ps]
        return None if None in rc else max(r or 0 for r in rc)

    def communicate(self, timeout: float) -> tuple[str, str]:
        rs = [result(p) for p in self.ps]  # type: ignore[arg-type]
        return (f"{max(r[0] for r in rs)} {sum(r[1] for r in rs)} {sum(r[2] for r in rs)}",
                "")


# --- the kernel against itself over veth ----------------------------------------------

def kernel_veth(nbytes: int, conns: int) -> dict[str, float]:
    with netns() as a, netns() as b:
        va, vb = f"kb{uuid.uuid4().hex[:6]}", f"kb{uuid.uuid4().hex[:6]}"
        subprocess.run(["ip", "link", "add", va, "netns", a, "type", "veth", "peer", "name", vb,
                        "netns", b], check=True, timeout=30)
        ipns(a, "ip", "-6", "addr", "add", f"{VA}/64", "dev", va, "nodad")
        ipns(b, "ip", "-6", "addr", "add", f"{VB}/64", "dev", vb, "nodad")
        ipns(a, "ip", "link", "set", va, "up")
        ipns(b, "ip", "link", "set", vb, "up")
        srv = kernel_py(b, SERVE, VB)
        assert srv.stdout is not None
        srv.stdout.readline()
        try:
            up = result(kernel_py(a, SEND, VB, 9000, nbytes))
            up_srv = float(srv.stdout.readline().split()[1])
            down = result(kernel_py(a, RECV, VB, 9001, nbytes))
            down_srv = float(srv.stdout.readline().split()[1])
            cps = result(Clients(a, VB, conns)) if conns else [1.0, 0, 0]  # type: ignore[arg-type]
        finally:
            srv.kill()
            srv.wait()
    assert up[1] == nbytes and down[1] == nbytes, (up, down)
    # CPU: both ends' processes (on veth the receiving stack's softirq work
    # mostly runs in the sender's process, so only the sum means much)
    return {"up": nbytes * 8 / up[0] / 1e9, "down": nbytes * 8 / down[0] / 1e9,
            "cps": cps[1] / cps[0], "up_cpu": up[2] + up_srv, "down_cpu": down[2] + down_srv,
            "up_peer": up[2], "down_peer": down[2], "up_self": up_srv, "down_self": down_srv}


# --- our node on a TAP ----------------------------------------------------------------

class Bench:
    """Our node on a TAP whose interface is in namespace ``ns``, with a sink
    (9000), a source (9001) and an accept-and-close listener (9002)."""

    def __init__(self, ns: str, offload: bool, sockbuf: int = 0) -> None:
        self.ns = ns
        self.dev = f"kt{uuid.uuid4().hex[:8]}"
        self.tap = TapDevice(self.dev, offload=offload)
        subprocess.run(["ip", "link", "set", self.dev, "netns", ns], check=True, timeout=30)
        self.t0 = time.monotonic()
        node = self.node = Node("kame-bench", seed=7)
        node.knobs["net.inet6.ip6.dad_count"] = 0
        node.add_interface(self.dev, MAC)
        node.ifnets[self.dev].tsomax = self.tap.tsomax
        self.layer = SocketLayer(node, "linux")
        self.listeners = {}
        for port, kind in ((9000, "sink"), (9001, "source"), (9002, "accept")):
            ls = self.layer.socket(AF_INET6, SOCK_STREAM)
            if sockbuf:  # as the kernel's autotuning grows its buffers (tcp_rmem, tcp_wmem)
                ls.setsockopt(SOL_SOCKET, SO_RCVBUF, sockbuf)
                ls.setsockopt(SOL_SOCKET, SO_SNDBUF, sockbuf)
            ls.bind(("::", port))
            ls.listen(4096)
            self.listeners[kind] = ls
        self.conns: list[list[Any]] = []
        self.accepts: list[float] = []
        ipns(ns, "ip", "-6", "addr", "add", f"{KERNEL}/64", "dev", self.dev, "nodad")
        ipns(ns, "ip", "link", "set", self.dev, "up")
        self.tap.write_many(f for _, f in node.up(self.dev, self.now()))
        node.add_address(self.dev, f"{OURS}/64", self.now())

    def now(self) -> float:
        return time.monotonic() - self.t0

    def app(self) -> None:
        for kind, ls in self.listeners.items():
            while True:
                try:
                    c, _ = ls.accept()
                except BlockingIOError:
                    break
                if kind == "accept":
                    self.accepts.append(self.now())
                    c.close()
                else:
                    self.conns.append([c, kind, 0, -1, b""])
        done = []
        for st in self.conns:
            c = st[0]
            try:
                if st[1] == "sink":
                    while True:
                        d = c.recv(1 << 20)
                        if not d:
                            c.send(b"%d\n" % st[2])
                            c.shutdown(SHUT_WR)
                            done.append(st)
                            break
                        st[2] += len(d)
                    continue
                if st[3] < 0:
                    st[4] += c.recv(64)
                    if b"\n" not in st[4]:
                        continue
                    st[3] = int(st[4])
                while st[3] > 0:
                    off = st[2] % len(BLOCK)
                    k = c.send(BLOCK[off:off + min(st[3], len(BLOCK) - off)])
                    st[2] += k
                    st[3] -= k
                c.shutdown(SHUT_WR)
                done.append(st)
            except BlockingIOError:
                pass
            except OSError:
                done.append(st)
        for st in done:
            st[0].close()
            self.conns.remove(st)

    def run(self, until: Callable[[], bool]) -> None:
        node, tap, dev = self.node, self.tap, self.dev
        while not until():
            d = node.next_deadline()
            t = self.now()
            timeout = 0.01 if d is None else max(0.0, min(0.01, d - t))
            r, _, _ = select.select([tap.fd], [], [], timeout)
            if r:
                frames = tap.read_many(256)
                if frames:
                    tap.write_many(f for _, f in node.receive_many(dev, frames, self.now()))
            self.app()
            tap.write_many(f for _, f in node.poll(self.now()))

    def drive(self, p: subprocess.Popen[str], prof: cProfile.Profile | None = None) -> list[float]:
        """Run until ``p`` ends; its printed figures, then our process's
        CPU seconds (user + system) and the system part of it."""
        t0 = os.times()
        if prof is not None:
            prof.enable()
        self.run(lambda: p.poll() is not None)
        if prof is not None:
            prof.disable()
        t1 = os.times()
        return [*result(p), (t1.user + t1.system) - (t0.user + t0.system), t1.system - t0.system]

    def close(self) -> None:
        self.tap.close()


def kame_tap(nbytes: int, conns: int, offload: bool,
             prof: cProfile.Profile | None, sockbuf: int = 0) -> dict[str, float]:
    with netns() as ns:
        b = Bench(ns, offload, sockbuf)
        try:
            b.run(lambda: b.now() > 0.3)  # ND settles
            up = b.drive(kernel_py(ns, SEND, OURS, 9000, nbytes), prof)
            down = b.drive(kernel_py(ns, RECV, OURS, 9001, nbytes), prof)
            # CPU: our process (the node, and the kernel's TAP work done in
            # it: our reads and writes, and the kernel's receive of each
            # frame we write) and the kernel peer's process (its TCP)
            out: dict[str, float] = {"up": nbytes * 8 / up[0] / 1e9,
                                     "down": nbytes * 8 / down[0] / 1e9,
                                     "up_self": up[3], "up_sys": up[4], "up_peer": up[2],
                                     "down_self": down[3], "down_sys": down[4],
                                     "down_peer": down[2]}
            assert up[1] == nbytes and down[1] == nbytes, (up, down)
            if conns:
                b.accepts.clear()
                cpu = time.process_time()
                t0 = os.times()
                c = b.drive(Clients(ns, OURS, conns), prof)  # type: ignore[arg-type]
                cpu = time.process_time() - cpu
                t1 = os.times()
                n = len(b.accepts)
                # our process's CPU per accepted connection: what the node costs,
                # whatever share of the machine the load left it; the system
                # part is the TAP's reads and writes, and the kernel's receive
                # of each frame we write runs in our process (tun_get_user)
                out["cpu_us"] = cpu / max(n, 1) * 1e6
                out["sys_us"] = (t1.system - t0.system) / max(n, 1) * 1e6
                out["cps"] = n / (b.accepts[-1] - b.accepts[0]) if n > 1 else 0.0
                out["cps_fail"] = c[2]
                out["accepted"] = n
            out["rx_gso"], out["tx_gso"], out["ierrors"] = b.tap.rx_gso, b.tap.tx_gso, \
                b.tap.ierrors
        finally:
            b.close()
    return out


# --- memory per idle connection -------------------------------------------------------

def _listening_on_own_address(name: str, n: int) -> tuple[Node, SocketLayer, Any]:
    """A node with OURS on eth0 (no DAD) and a stream socket listening on
    port 7000 for ``n`` connections, polled at 1 s."""
    node = Node(name, seed=3)
    node.knobs["net.inet6.ip6.dad_count"] = 0
    node.add_interface("eth0", MAC)
    node.up("eth0", 0.0)
    node.add_address("eth0", f"{OURS}/64", 0.0)
    layer = SocketLayer(node, "linux")
    ls = layer.socket(AF_INET6, SOCK_STREAM)
    ls.bind(("::", 7000))
    ls.listen(n + 16)
    node.poll(1.0)
    return node, layer, ls


def idle_memory(n: int) -> dict[str, float]:
    """Python heap per established connection, both ends of ``n`` pairs on
    one node's own address (the loopback path)."""
    node, layer, ls = _listening_on_own_address("kame-idle", n)
    now = 1.0
    held: list[Any] = []
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for i in range(n):
        c = layer.socket(AF_INET6, SOCK_STREAM)
        try:
            c.connect((OURS, 7000))
        except BlockingIOError:
            pass
        held.append(c)
        if i % 64 == 63 or i == n - 1:
            now += 0.001
            node.poll(now)
            while True:
                try:
                    s, _ = ls.accept()
                except BlockingIOError:
                    break
                held.append(s)
    now += 1.0
    node.poll(now)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    est = sum(1 for s in held if s.tp is not None and s.tp.state == 4)
    diff = sum(d.size_diff for d in after.compare_to(before, "filename"))
    top = after.compare_to(before, "lineno")[:8]
    return {"established": est, "bytes": diff / max(est, 1),
            "top": [(str(t.traceback), t.size_diff // max(est, 1)) for t in top]}  # type: ignore[dict-item]


def timewait_memory(n: int) -> dict[str, float]:
    """Python heap per TIME_WAIT connection: ``n`` connections on one
    node's own address, each closed by the client first, then by the
    server; measured once every client side is in TIME_WAIT and every
    socket is closed and let go (what is left is the TIME_WAIT table, and
    whatever its stale timer entries keep alive)."""
    node, layer, ls = _listening_on_own_address("kame-tw", n)
    now = 1.0
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for i in range(0, n, 64):
        cs = []
        for _ in range(min(64, n - i)):
            c = layer.socket(AF_INET6, SOCK_STREAM)
            try:
                c.connect((OURS, 7000))
            except BlockingIOError:
                pass
            cs.append(c)
        now += 0.001
        node.poll(now)
        ss = []
        while True:
            try:
                ss.append(ls.accept()[0])
            except BlockingIOError:
                break
        for c in cs:
            c.close()  # the client closes first: it holds TIME_WAIT
        now += 0.001
        node.poll(now)
        for s in ss:
            s.close()
        now += 0.001
        node.poll(now)
        del cs, ss
    now += 1.0
    node.poll(now)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    tw = len(node.tcp.timewait)
    diff = sum(d.size_diff for d in after.compare_to(before, "filename"))
    top = after.compare_to(before, "lineno")[:6]
    return {"timewait": tw, "bytes": diff / max(tw, 1),
            "top": [(str(t.traceback), t.size_diff // max(tw, 1)) for t in top]}  # type: ignore[dict-item]


# --- connection setup between two sockets of one node ---------------------------------

def churn(n: int, par: int, layer: Any, addr: tuple[str, int], before: Callable[[], int],
          after: Callable[[], int], *, kept: list[Any] | None = None,
          busy: Callable[[], bool] = lambda: False,
          give_up: Callable[[], bool] = lambda: False) -> int:
    """The connection loop of the connection-setup rows (``nodecps``,
    ``nodesrv``): ``n`` connects from ``layer`` to ``addr``, ``par`` in
    flight; each round runs ``before`` (the nodes' turn), then closes the
    clients that reached ESTABLISHED (or keeps them in ``kept``), then runs
    ``after``; both return how many connections the server accepted
    meanwhile. Ends when ``n`` are accepted and nothing is ``busy``, or when
    ``give_up`` says so; returns how many were accepted."""
    started = accepted = 0
    pending: list[Any] = []
    while accepted < n or busy():
        while started < n and len(pending) < par:
            c = layer.socket(AF_INET6, SOCK_STREAM)
            try:
                c.connect(addr)
            except BlockingIOError:
                pass
            pending.append(c)
            started += 1
        accepted += before()
        still = []
        for c in pending:
            if c.tp is not None and c.tp.state >= 4:
                if kept is not None:
                    kept.append(c)
                else:
                    c.close()
            else:
                still.append(c)
        pending = still
        accepted += after()
        if give_up():
            break
    return accepted


def node_cps(n: int, par: int = 64) -> float:
    """Connections accepted per second when our node is its own client (the
    loopback path: both ends' work counted, no kernel, no system call):
    ``par`` connects in flight, the listener accepts and closes, the client
    closes when connected."""
    node = Node("kame-cps", seed=5)
    node.knobs["net.inet6.ip6.dad_count"] = 0
    node.add_interface("eth0", MAC)
    node.up("eth0", 0.0)
    node.add_address("eth0", f"{OURS}/64", 0.0)
    layer = SocketLayer(node, "linux")
    ls = layer.socket(AF_INET6, SOCK_STREAM)
    ls.bind(("::", 7001))
    ls.listen(4096)
    t0 = time.perf_counter()
    node.poll(1.0)

    def turn() -> int:
        node.poll(1.0 + time.perf_counter() - t0)
        k = 0
        while True:
            try:
                s, _ = ls.accept()
            except BlockingIOError:
                return k
            s.close()
            k += 1

    accepted = churn(n, par, layer, (OURS, 7001), turn, lambda: 0,
                     give_up=lambda: time.perf_counter() - t0 > 120)
    return accepted / (time.perf_counter() - t0)


def per_cpu(nbytes: int, up: float, down: float) -> tuple[str, str, str, str]:
    """Gbit per CPU-second each way, and CPU microseconds per 64 KiB each way."""
    k = nbytes / 65536
    return (f"{nbytes * 8 / max(up, 1e-9) / 1e9:.2f}", f"{nbytes * 8 / max(down, 1e-9) / 1e9:.2f}",
            f"{up / k * 1e6:.0f}", f"{down / k * 1e6:.0f}")


def node_rows(a: argparse.Namespace, tag: str, nbytes: int,
              prof: cProfile.Profile | None, k: dict[str, float],
              rows: list[tuple[str, str, str, str]], notes: list[str], only: set[str],
              cpu: list[tuple[str, str, str, str, str, str]]) -> None:
    """Our node's rows (TAP plain and offload, the loopback's connection
    setup) with the paths ``Tcp`` is set to (``tag`` names them)."""
    for off in (False, True):
        key = "offload" if off else "plain"
        if key not in only:
            continue
        # the plain TAP is slow: a tenth of the bytes and connections
        scale = 1 if off else 10
        r = kame_tap(nbytes // scale, a.conns // scale, off, prof, a.sockbuf)
        label = ("kame on TAP, IFF_VNET_HDR TSO/GSO" if off else "kame on TAP, frame per read") + tag
        rows.append((label, f"{r['up']:.3f}", f"{r['down']:.3f}", f"{r.get('cps', 0):.0f}"))
        nb = nbytes // scale
        cpu.append((label + ": our process", *per_cpu(nb, r["up_self"], r["down_self"]),
                    (f"{r['up_sys'] / max(r['up_self'], 1e-9):.0%} / "
                     f"{r['down_sys'] / max(r['down_self'], 1e-9):.0%}")))
        cpu.append(("  the kernel peer's process", *per_cpu(nb, r["up_peer"], r["down_peer"]),
                    ""))
        if k:
            rows.append(("  ratio to the kernel", f"{r['up'] / k['up']:.3f}",
                         f"{r['down'] / k['down']:.3f}",
                         f"{r.get('cps', 0) / k['cps']:.3f}" if k['cps'] else ""))
        note = (f"{key}{tag}: super-segments in {r['rx_gso']:.0f}, out {r['tx_gso']:.0f}, "
                f"bad vnet headers {r['ierrors']:.0f}")
        if r.get("accepted"):
            note += (f", connections accepted {r['accepted']:.0f}, failed "
                     f"{r.get('cps_fail', 0):.0f}, our CPU per connection "
                     f"{r.get('cpu_us', 0):.0f} us ({r.get('sys_us', 0):.0f} us of it in the "
                     f"kernel) (= {1e6 / max(r.get('cpu_us', 0), 1e-9):.0f}/s on a core of its own)")
        notes.append(note)
    if "nodecps" in only:
        ncps = node_cps(a.conns)
        rows.append(("kame <-> kame, one node's loopback" + tag, "", "", f"{ncps:.0f}"))
    if "nodesrv" in only:
        us = min(node_srv_cpu(a.conns) for _ in range(a.repeat))
        notes.append(f"our node as a server, a kame client in memory{tag}: CPU per connection "
                     f"{us:.0f} us, the least of {a.repeat} runs (= {1e6 / us:.0f}/s on a core "
                     "of its own)")
        if a.held:
            us = node_srv_cpu(a.conns, held=a.held)
            notes.append(f"  the same with {a.held} established connections held open: "
                         f"{us:.0f} us per connection")


# --- the server's CPU per connection, the peer another node in memory ----------------

def node_srv_cpu(n: int, par: int = 64, held: int = 0) -> float:
    """Our node's CPU microseconds per connection as a server (accept and
    close), the client another of our nodes joined to it in memory (frames
    handed over, no TAP, no system call): the same work whatever the load,
    unlike the TAP row, where how many frames one wakeup reads follows the
    machine's load (and with it the per-wakeup share). Only the server's
    calls are timed (receive_many, poll, accept, close), in process CPU.
    ``held``: established connections the server keeps open meanwhile."""
    srv, cli = Node("kame-srv", seed=1), Node("kame-cli", seed=2)
    to_s: list[bytes] = []
    to_c: list[bytes] = []
    for nd, mac, addr in ((srv, MAC, OURS), (cli, b"\x02\x00\x00\x00\x0b\x0b", KERNEL)):
        nd.knobs["net.inet6.ip6.dad_count"] = 0
        nd.add_interface("eth0", mac)
        (to_c if nd is srv else to_s).extend(f for _, f in nd.up("eth0", 0.0))
        nd.add_address("eth0", f"{addr}/64", 0.0)
    ls = SocketLayer(srv, "linux").socket(AF_INET6, SOCK_STREAM)
    ls.bind(("::", 80))
    ls.listen(4096)
    clayer = SocketLayer(cli, "linux")
    kept: list[Any] = []

    def server(now: float, keep: bool) -> int:
        out = srv.receive_many("eth0", to_s, now) if to_s else []
        out += srv.poll(now)
        acc = 0
        while True:
            try:
                s, _ = ls.accept()
            except BlockingIOError:
                break
            if keep:
                kept.append(s)
            else:
                s.close()
            acc += 1
        out += srv.poll(now)
        to_s.clear()
        to_c.extend(f for _, f in out)
        return acc

    def client(now: float) -> None:
        out = cli.receive_many("eth0", to_c, now) if to_c else []
        out += cli.poll(now)
        to_c.clear()
        to_s.extend(f for _, f in out)

    now = 0.5
    for _ in range(20):  # neighbour discovery between the two
        server(now, False)
        client(now)
        now += 0.05

    def phase(count: int, keep: bool) -> float:
        cpu = 0.0

        def after() -> int:
            nonlocal now, cpu
            client(now)
            t0 = time.process_time()
            k = server(now, keep)
            cpu += time.process_time() - t0
            now += 0.0005
            return k

        def turn() -> int:
            client(now)
            return 0

        accepted = churn(count, par, clayer, (OURS, 80), turn, after,
                         kept=kept if keep else None, busy=lambda: bool(to_s or to_c),
                         give_up=lambda: now > 600)
        return cpu / max(accepted, 1) * 1e6

    if held:
        phase(held, True)
    return phase(n, False)


# --- main -----------------------------------------------------------------------------

#: issue 9's targets: Gbit/s each way, accepted connections per second,
#: octets per idle established connection
TARGET_GBITS, TARGET_CPS, TARGET_IDLE = 1.0, 10_000, 4096


def uptime() -> str:
    """``uptime``'s line (the machine's load average with the figures)."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"load average {os.getloadavg()}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mbytes", type=int, default=200)
    ap.add_argument("--conns", type=int, default=20000)
    ap.add_argument("--idle", type=int, default=1000)
    ap.add_argument("--udp-n", type=int, default=20000)
    ap.add_argument("--held", type=int, default=0,
                    help="nodesrv: established connections the server keeps open meanwhile")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default="veth,plain,offload,nodecps,idle,udp")
    ap.add_argument("--paths", default="core",
                    help="core, python, nolink or a list: our node's rows with the core's SYN "
                         "queue, header prediction and TCP from the link (Node.tcp_fastpath), "
                         "with the Python reference (none of them), or with all but the last")
    ap.add_argument("--profile", help="cProfile of our node's loop to this file")
    ap.add_argument("--clients", type=int, default=1,
                    help="kernel client processes sharing --conns (the Python client alone "
                         "reaches 6,000-10,000 connections/s on a loaded machine)")
    ap.add_argument("--sockbuf", type=int, default=4 << 20,
                    help="SO_RCVBUF and SO_SNDBUF of our node's sockets (0: the defaults, "
                         "net.inet.tcp.recvspace and sendspace)")
    a = ap.parse_args()
    global CLIENTS
    CLIENTS = a.clients
    only = set(a.only.split(","))
    nbytes = a.mbytes * 1_000_000
    prof = cProfile.Profile() if a.profile else None
    load0 = uptime()
    print(f"{load0}; {os.cpu_count()} cpus, {a.mbytes} MB each way, {a.conns} connections "
          f"from {a.clients} kernel client(s), our sockets' buffers {a.sockbuf or 'default'}")
    rows: list[tuple[str, str, str, str]] = []
    notes: list[str] = []
    k: dict[str, float] = {}
    cpu: list[tuple[str, str, str, str, str, str]] = []
    if "veth" in only:
        k = kernel_veth(nbytes, a.conns)
        rows.append(("kernel <-> kernel, veth", f"{k['up']:.2f}", f"{k['down']:.2f}",
                     f"{k['cps']:.0f}"))
        cpu.append(("kernel <-> kernel, veth: both ends", *per_cpu(nbytes, k["up_cpu"],
                                                                  k["down_cpu"]), ""))
        cpu.append(("  the receiving end's process", *per_cpu(nbytes, k["up_self"],
                                                             k["down_peer"]), ""))
        cpu.append(("  the sending end's process", *per_cpu(nbytes, k["up_peer"],
                                                           k["down_self"]), ""))
    for path in a.paths.split(","):
        Tcp.fast_syncache = Tcp.hdrpred = path != "python"
        Node.tcp_fastpath = path == "core"
        tag = {"core": "", "python": " [python paths]", "nolink": " [no TCP from the link]"}[path]
        node_rows(a, tag, nbytes, prof, k, rows, notes, only, cpu)
    Tcp.fast_syncache = Tcp.hdrpred = Node.tcp_fastpath = True
    rows.append(("target (issue 9)", f"{TARGET_GBITS:.2f}", f"{TARGET_GBITS:.2f}",
                 f"{TARGET_CPS}"))
    mem = idle_memory(a.idle) if "idle" in only else None
    twm = timewait_memory(a.idle) if "idle" in only else None
    udp = None
    if "udp" in only:
        layer = SocketLayer(None, "linux")
        kk = statistics.median(rounds(layer.socket, "::1", a.udp_n) for _ in range(a.repeat))
        hh = statistics.median(rounds(host_make, "::1", a.udp_n) for _ in range(a.repeat))
        udp = (kk, hh)
    # --- one table, side by side -------------------------------------------------
    print()
    print(f"{'TCP over IPv6, one core':36} {'kernel->node':>13} {'node->kernel':>13} "
          f"{'accepts/s':>10}")
    print(f"{'':36} {'Gbit/s':>13} {'Gbit/s':>13}")
    for r0, r1, r2, r3 in rows:
        print(f"{r0:36} {r1:>13} {r2:>13} {r3:>10}")
    if cpu:
        print(f"\n{'bulk TCP per CPU-second':48} {'kernel->node':>13} {'node->kernel':>13} "
              f"{'CPU us per 64 KiB':>19} {'system share':>13}")
        print(f"{'':48} {'Gbit/CPU-s':>13} {'Gbit/CPU-s':>13} {'in':>9} {'out':>9}")
        for c0, c1, c2, c3, c4, c5 in cpu:
            print(f"{c0:48} {c1:>13} {c2:>13} {c3:>9} {c4:>9} {c5:>13}")
    for n in notes:
        print(f"  ({n})")
    if mem is not None:
        print(f"\nidle established connection: {mem['bytes']:.0f} bytes of Python heap each "
              f"(target < {TARGET_IDLE}; {mem['established']:.0f} connections; Rust buffers "
              "excluded)")
        for where, sz in mem["top"]:  # type: ignore[attr-defined]
            print(f"    {sz:6d} B  {where}")
    if twm is not None:
        print(f"TIME_WAIT connection: {twm['bytes']:.0f} bytes of Python heap each "
              f"({twm['timewait']:.0f} connections in TIME_WAIT, sockets closed)")
        for where, sz in twm["top"]:  # type: ignore[attr-defined]
            print(f"    {sz:6d} B  {where}")
    if udp is not None:
        print(f"UDP round trip on ::1: kame.socket {udp[0]:.2f} us, host kernel {udp[1]:.2f} us, "
              f"ratio {udp[0] / udp[1]:.2f} (target < 1)")
    print(f"\nat start: {load0}\nat end:   {uptime()}")
    if prof is not None:
        prof.dump_stats(a.profile)


if __name__ == "__main__":
    main()
