"""TLS over the blocking shim (kame.socket.tls): two of our nodes on a
memory link; Python's own ``http.server`` behind ``SSLContext.wrap_socket``
on one, ``urllib.request`` with ``https://`` on the other, the host's
OpenSSL at both ends and our TCP between; certificate and host name
checks; close_notify and ragged EOFs; non-blocking reads."""

from __future__ import annotations

import http.client
import http.server
import random
import socket
import socketserver
import ssl
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ike_pki import ca, leaf
from test_socket_blocking import B4, B6, pair

from kame.socket.blocking import Stack
from kame.socket.tls import SSLSocket, use

BODY = random.Random(443).randbytes(250_000)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pki")
    root = ca("kame TLS test CA", "p256")
    other = ca("another CA", "p256", n=1)
    srv = leaf(root, "kame.test", "p256", dns=("kame.test",), ips=(B6, B4))
    cert, key = srv.write(d, "server")
    (d / "ca.pem").write_bytes(root.pem)
    (d / "other.pem").write_bytes(other.pem)
    return {"cert": cert, "key": key, "ca": d / "ca.pem", "other": d / "other.pem"}


@pytest.fixture
def stacks() -> Iterator[tuple[Stack, Stack]]:
    a, b = pair()
    with a, b:
        yield a, b


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server6(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6


def https_server(b: Stack, pki: dict[str, Path], port: int) -> tuple[Server6, threading.Thread]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki["cert"], pki["key"])
    with b.patched(socketserver, http.server):
        srv = Server6(("::", port), Handler)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    assert isinstance(srv.socket, SSLSocket)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    return srv, t


def test_urllib_https_to_http_server_on_the_node(stacks: tuple[Stack, Stack],
                                                 pki: dict[str, Path]) -> None:
    a, b = stacks
    srv, t = https_server(b, pki, 8443)
    try:
        ctx = ssl.create_default_context(cafile=str(pki["ca"]))
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                             urllib.request.HTTPSHandler(context=ctx))
        with a.patched(http.client):
            for host in (f"[{B6}]", B4):
                with opener.open(f"https://{host}:8443/x", timeout=20) as r:
                    assert r.read() == BODY
        conn = http.client.HTTPSConnection(B6, 8443, timeout=20, context=ctx)
        conn._create_connection = a.create_connection  # type: ignore[attr-defined]
        use(ctx)
        conn.request("GET", "/y")
        s = conn.sock
        assert isinstance(s, SSLSocket)
        assert s.version() == "TLSv1.3" and s.getpeername()[0] == B6
        assert s.getpeercert()["subjectAltName"][0] == ("DNS", "kame.test")
        assert conn.getresponse().read() == BODY
        conn.close()
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(5)


def test_certificate_and_name_checks(stacks: tuple[Stack, Stack], pki: dict[str, Path]) -> None:
    a, b = stacks
    srv, t = https_server(b, pki, 8444)
    try:
        wrong_ca = use(ssl.create_default_context(cafile=str(pki["other"])))
        with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
            wrong_ca.wrap_socket(a.create_connection((B6, 8444), timeout=10),
                                 server_hostname=B6)
        right_ca = use(ssl.create_default_context(cafile=str(pki["ca"])))
        with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
            right_ca.wrap_socket(a.create_connection((B6, 8444), timeout=10),
                                 server_hostname="example.org")
        with right_ca.wrap_socket(a.create_connection((B6, 8444), timeout=10),
                                  server_hostname="kame.test") as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            got = b""
            while chunk := s.recv(65536):
                got += chunk
            assert got.startswith(b"HTTP/1.0 200") and got.endswith(BODY)
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(5)


def test_close_notify_ragged_eof_and_nonblocking(stacks: tuple[Stack, Stack],
                                                 pki: dict[str, Path]) -> None:
    """An orderly close reads as the end; a peer that drops TCP without
    close_notify reads as the end too, or raises SSLEOFError when ragged
    EOFs are not suppressed; with no record waiting a non-blocking read
    raises SSLWantReadError (ssl's, as a kernel socket's SSLSocket)."""
    a, b = stacks
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(pki["cert"], pki["key"])
    use(sctx)
    cctx = use(ssl.create_default_context(cafile=str(pki["ca"])))
    ls = sctx.wrap_socket(b.create_server(("::", 8445), family=socket.AF_INET6),
                          server_side=True)
    results: list[Any] = []

    def server() -> None:
        for how in ("notify", "ragged", "ragged"):
            conn, _ = ls.accept()
            conn.sendall(b"hello")
            if how == "notify":
                conn.close()
            else:
                conn._sock.close()  # the TCP connection alone: no close_notify
            results.append(how)

    t = threading.Thread(target=server, daemon=True)
    t.start()
    for suppress in (True, True, False):
        c = cctx.wrap_socket(a.create_connection((B6, 8445), timeout=10),
                             server_hostname="kame.test", suppress_ragged_eofs=suppress)
        got = b""
        while len(got) < 5:
            got += c.recv(10)
        assert got == b"hello"
        if suppress:
            assert c.recv(10) == b""
        else:
            with pytest.raises(ssl.SSLEOFError):
                c.recv(10)
        c.close()
    t.join(10)
    assert results == ["notify", "ragged", "ragged"]
    # non-blocking: nothing sent yet
    t2 = threading.Thread(target=lambda: results.append(ls.accept()), daemon=True)
    t2.start()
    c = cctx.wrap_socket(a.create_connection((B6, 8445), timeout=10), server_hostname="kame.test")
    t2.join(10)
    c.setblocking(False)
    with pytest.raises(ssl.SSLWantReadError):
        c.recv(10)
    c.close()
    results[-1][0].close()
    ls.close()


def test_plain_sockets_still_wrap(pki: dict[str, Path]) -> None:
    """A context made to take kame sockets wraps the host's as before."""
    ctx = use(ssl.create_default_context(cafile=str(pki["ca"])))
    a, b = socket.socketpair()
    with a, b:
        w = ctx.wrap_socket(a, server_hostname="kame.test", do_handshake_on_connect=False)
        assert type(w) is ssl.SSLSocket
        w.close()
