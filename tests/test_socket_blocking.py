"""The blocking socket shim (kame.socket.blocking, issue 9 item 4): two of
our nodes on a memory link, the runner in a background thread with the
real clock; Python's own http.client, urllib.request and smtplib through
the shim unchanged; blocking, timeout and non-blocking semantics; the
profile's errno values."""

from __future__ import annotations

import errno
import http.client
import http.server
import os
import random
import select
import smtplib
import socket
import socketserver
import threading
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kame.knobs import Knobs
from kame.link.memory import MemoryLink
from kame.link.runner import Runner
from kame.node import Node
from kame.socket import SocketLayer
from kame.socket.blocking import BlockingSocket, Stack

MA, MB = bytes.fromhex("02000000000c"), bytes.fromhex("02000000000d")
A6, B6 = "2001:db8:b10::a", "2001:db8:b10::b"
A4, B4 = "192.0.2.20", "192.0.2.21"


def pair(profile: str = "linux", **link: Any) -> tuple[Stack, Stack]:
    runner = Runner()
    ml = MemoryLink(delay=0.0005, seed=4, **link)
    kn = {"net.inet6.ip6.dad_count": 0, "net.link.ether.inet.dad_count": 0}
    out = []
    for name, mac, a6, a4 in (("a", MA, A6, A4), ("b", MB, B6, B4)):
        n = Node(name, knobs=Knobs(kn), seed=len(out) + 1)
        n.add_interface("eth0", mac)
        runner.attach_link(n, "eth0", ml, mac)
        now = runner.clock()
        runner.transmit(n, n.up("eth0", now))
        n.add_address("eth0", f"{a6}/64", now)
        n.add_address4("eth0", f"{a4}/24", now)
        out.append(Stack(SocketLayer(n, profile), runner))
    return out[0], out[1]


@pytest.fixture
def stacks() -> Iterator[tuple[Stack, Stack]]:
    a, b = pair()
    with a, b:
        yield a, b


def serve(stack: Stack, port: int, handler: Callable[[BlockingSocket], None],
          host: str = "::", n: int = 1) -> threading.Thread:
    """Accept ``n`` connections on ``port`` in a thread, each to ``handler``."""
    ls = stack.create_server((host, port), family=socket.AF_INET6, dualstack_ipv6=True)

    def run() -> None:
        with ls:
            for _ in range(n):
                c, _ = ls.accept()
                with c:
                    handler(c)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def http_handler(seed: int) -> Callable[[BlockingSocket], None]:
    def handle(c: BlockingSocket) -> None:
        f = c.makefile("rb")
        line = f.readline()
        while f.readline() not in (b"\r\n", b""):
            pass
        f.close()
        size = int(line.split()[1].strip(b"/"))
        c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        c.sendall(random.Random(seed).randbytes(size))
        c.shutdown(socket.SHUT_WR)
        while c.recv(4096):
            pass
    return handle


@pytest.mark.parametrize("host", [B6, B4, "::ffff:" + B4])
def test_http_client(stacks: tuple[Stack, Stack], host: str) -> None:
    a, b = stacks
    sizes = [0, 1, 4000, 250_000]
    t = serve(b, 8000, http_handler(3), n=len(sizes))
    for n in sizes:
        conn = http.client.HTTPConnection(host, 8000, timeout=10)
        conn._create_connection = a.create_connection  # type: ignore[attr-defined]
        conn.request("GET", f"/{n}")
        r = conn.getresponse()
        assert r.status == 200 and r.read() == random.Random(3).randbytes(n)
        conn.close()
    t.join(10)
    assert not t.is_alive()


def test_urllib_through_patched_http_client(stacks: tuple[Stack, Stack]) -> None:
    a, b = stacks
    t = serve(b, 8001, http_handler(4))
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with a.patched(http.client):
        assert http.client.socket is a  # type: ignore[attr-defined]
        with opener.open(f"http://[{B6}]:8001/70000", timeout=10) as r:
            assert r.read() == random.Random(4).randbytes(70_000)
    assert http.client.socket is socket  # type: ignore[attr-defined]
    t.join(10)


def test_smtplib(stacks: tuple[Stack, Stack]) -> None:
    a, b = stacks
    got: list[bytes] = []

    def smtpd(c: BlockingSocket) -> None:
        f = c.makefile("rwb")
        f.write(b"220 b ESMTP\r\n")
        f.flush()
        while line := f.readline():
            v = line[:4].upper()
            if v == b"DATA":
                f.write(b"354 go\r\n")
                f.flush()
                body = bytearray()
                while (ln := f.readline()) != b".\r\n":
                    body += ln
                got.append(bytes(body))
            if v == b"QUIT":
                f.write(b"221 bye\r\n")
                f.flush()
                break
            if v != b"DATA":
                f.write(b"250 ok\r\n")
            else:
                f.write(b"250 queued\r\n")
            f.flush()
        f.close()

    t = serve(b, 25, smtpd)
    with a.patched(smtplib), smtplib.SMTP(B4, 25, local_hostname="a", timeout=10) as s:
        s.sendmail("x@a", ["y@b"], "Subject: hi\r\n\r\nhello\r\n")
    t.join(10)
    assert got == [b"Subject: hi\r\n\r\nhello\r\n"]


def test_timeouts_and_nonblocking(stacks: tuple[Stack, Stack]) -> None:
    a, b = stacks
    ls = b.create_server(("::", 7000), family=socket.AF_INET6)
    ls.settimeout(0.1)
    with pytest.raises(TimeoutError):
        ls.accept()
    c = a.create_connection((B6, 7000), timeout=5)
    s, peer = ls.accept()
    assert peer[0] == A6 and c.getpeername()[:2] == (B6, 7000)
    assert c.gettimeout() == 5 and s.gettimeout() is None and s.getblocking()
    c.settimeout(0.2)
    with pytest.raises(TimeoutError):
        c.recv(10)
    c.setblocking(False)
    with pytest.raises(BlockingIOError) as ei:
        c.recv(10)
    assert ei.value.errno == errno.EAGAIN
    s.sendall(b"abc")
    c.setblocking(True)
    buf = bytearray(8)
    assert c.recv_into(buf) == 3 and buf[:3] == b"abc"
    s.close()
    assert c.recv(10) == b""
    c.close()
    ls.close()
    with pytest.raises(OSError) as e2:
        c.recv(1)
    assert e2.value.errno == errno.EBADF
    assert c.fileno() == -1


def test_connect_refused_and_profile_errno() -> None:
    a, b = pair("netbsd")
    with a, b:
        with pytest.raises(ConnectionRefusedError):
            a.create_connection((B6, 9), timeout=5)
        assert a.socket(socket.AF_INET6).connect_ex((B6, 9)) == errno.ECONNREFUSED
        s = a.socket(socket.AF_INET6, socket.SOCK_STREAM)
        with pytest.raises(OSError) as ei:
            s.send(b"x")  # never connected: ENOTCONN on the BSDs (EPIPE on Linux)
        assert ei.value.errno == errno.ENOTCONN


def test_udp(stacks: tuple[Stack, Stack]) -> None:
    a, b = stacks
    srv = b.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    srv.bind(("::", 5353))
    cli = a.socket(socket.AF_INET, socket.SOCK_DGRAM)
    cli.settimeout(5)
    srv.settimeout(5)
    cli.sendto(b"q", (B4, 5353))
    data, addr = srv.recvfrom(100)
    assert data == b"q" and addr[0] == "::ffff:" + A4
    srv.sendto(b"r", addr)
    assert cli.recvfrom(100) == (b"r", (B4, 5353))


def test_select_follows_readiness(stacks: tuple[Stack, Stack]) -> None:
    """``fileno()`` is a host descriptor that ``select`` waits on: a
    listener is readable when a connection waits, a connected socket
    writable, readable when data or EOF came, not once it was read."""
    a, b = stacks
    ls = b.create_server(("::", 7100), family=socket.AF_INET6)
    assert select.select([ls], [], [], 0.05)[0] == []
    c = a.create_connection((B6, 7100), timeout=5)
    assert select.select([ls], [], [], 5)[0] == [ls]
    s, _ = ls.accept()
    assert select.select([ls], [], [], 0.05)[0] == []
    assert select.select([s, c], [s, c], [], 0) == ([], [s, c], [])
    c.sendall(b"ping")
    assert select.select([s], [], [], 5)[0] == [s]
    assert s.recv(10) == b"ping"
    assert select.select([s], [], [], 0.05)[0] == []
    p = select.poll()
    p.register(c, select.POLLIN)
    assert p.poll(50) == []
    s.close()
    assert p.poll(5000) == [(c.fileno(), select.POLLIN)]  # EOF reads as readable
    assert c.recv(10) == b""
    fd = c.fileno()
    c.close()
    ls.close()
    assert c.fileno() == -1
    with pytest.raises(OSError):
        os.fstat(fd)  # the descriptor went with the socket


def test_select_unwritable_when_the_window_is_full() -> None:
    """A peer that does not read: the send buffer fills, the descriptor stops
    polling writable; it polls writable again once the peer reads."""
    a, b = pair()
    with a, b:
        ls = b.create_server(("::", 7101), family=socket.AF_INET6)
        c = a.create_connection((B6, 7101), timeout=5)
        s, _ = ls.accept()
        c.setblocking(False)
        sent = 0
        for _ in range(200):  # until the peer's window and our buffer are full
            if not select.select([], [c], [], 0.3)[1]:
                break
            try:
                sent += c.send(bytes(65536))
            except BlockingIOError:
                pass
        else:
            pytest.fail("the descriptor never stopped polling writable")
        assert sent > 0
        got = 0
        while got < sent:
            got += len(s.recv(1 << 20))
        assert select.select([], [c], [], 5)[1] == [c]


def test_http_server_serve_forever_on_the_node(stacks: tuple[Stack, Stack]) -> None:
    """Python's own ``http.server`` with ``socketserver``'s selector loop,
    its ``socket`` module swapped for the stack, serves on node B; node
    A's ``http.client`` fetches through the link."""
    a, b = stacks
    body = random.Random(9).randbytes(300_000)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server6(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6

    with b.patched(socketserver, http.server):
        srv = Server6(("::", 8080), Handler)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True)
    t.start()
    try:
        for _ in range(3):
            conn = http.client.HTTPConnection(B6, 8080, timeout=10)
            conn._create_connection = a.create_connection  # type: ignore[attr-defined]
            conn.request("GET", "/x")
            r = conn.getresponse()
            assert r.status == 200 and r.read() == body
            conn.close()
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(5)
