"""Applications through our node against the Linux kernel over TAP (issue 9
item 4): in one namespace, the kernel's side of three TAP devices, each
the link of one of our nodes, run in this process.

- asyncio (kame.aio): ``curl`` in the kernel's namespace fetches random
  files from an HTTP server our node runs with ``start_server`` (one
  ``AF_INET6`` wildcard listener under the Linux profile: IPv6, and IPv4
  whose peers it names ``::ffff:a.b.c.d``), byte-exact;
- the blocking shim (kame.socket.blocking): ``http.client`` and
  ``urllib.request`` on our node fetch random files from the kernel's
  ``python3 -m http.server`` over IPv6, IPv4 and an ``AF_INET6`` socket to
  ``::ffff:a.b.c.d``; ``smtplib`` sends mail to a small SMTP server
  (smtp_peer.py); ``ftplib`` retrieves and stores files on pyftpdlib with
  EPSV and EPRT (RFC 2428) over IPv6 and PASV/PORT over IPv4;
- ``kame tcp connect`` and ``kame tcp listen`` move random bytes both
  ways with a Python socket in the kernel's namespace;
- TLS through the shim (kame.socket.tls): ``curl`` with the test CA
  fetches over HTTPS from Python's ``http.server`` on our node (its
  ``serve_forever`` selecting on the shim's descriptors), and
  ``http.client.HTTPSConnection`` on our node fetches from an HTTPS
  ``http.server`` in the kernel's namespace, IPv6 and IPv4.
"""

from __future__ import annotations

import asyncio
import ftplib
import hashlib
import http.client
import http.server
import io
import os
import random
import shutil
import smtplib
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from netns_rig import TapPort, child_env, fresh_netns, ipns

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

from kame.aio import Stack as AioStack
from kame.knobs import Knobs
from kame.link.runner import Runner
from kame.node import Node
from kame.socket import SocketLayer
from kame.socket.blocking import Stack
from kame.socket.tls import use

HERE = Path(__file__).resolve().parent
KNOBS = {"net.inet6.ip6.dad_count": 0, "net.link.ether.inet.dad_count": 0}
#: (kernel IPv6, ours IPv6, kernel IPv4, ours IPv4, our MAC) per link
SHIM = ("2001:db8:95::1", "2001:db8:95::2", "192.0.2.1", "192.0.2.2", "02:00:00:00:09:51")
AIO = ("2001:db8:96::1", "2001:db8:96::2", "198.51.100.1", "198.51.100.2", "02:00:00:00:09:61")
CLI = ("2001:db8:97::1", "2001:db8:97::2", "203.0.113.1", "203.0.113.2", "02:00:00:00:09:71")
SIZES = [0, 1, *random.Random(95).sample(range(2, 70_000), 2), 1_000_000]


class Link:
    """One of our nodes on a TAP whose kernel side is in the namespace."""

    def __init__(self, ns: str, prefix: str, spec: tuple[str, ...]) -> None:
        k6, o6, k4, o4, mac = spec
        self.port = TapPort(ns, prefix)
        dev = self.port.name
        ipns(ns, "ip", "addr", "add", f"{k6}/64", "dev", dev, "nodad")
        ipns(ns, "ip", "addr", "add", f"{k4}/24", "dev", dev)
        ipns(ns, "ip", "link", "set", dev, "up")
        self.node = Node(prefix, knobs=Knobs(KNOBS), seed=9)
        self.node.add_interface(dev, bytes.fromhex(mac.replace(":", "")))
        self.runner = Runner()
        self.runner.attach_device(self.node, dev, self.port.tap)
        now = self.runner.clock()
        self.runner.transmit(self.node, self.node.up(dev, now))
        self.node.add_address(dev, f"{o6}/64", now)
        self.node.add_address4(dev, f"{o4}/24", now)
        self.runner.service()
        self.layer = SocketLayer(self.node, "linux")


@pytest.fixture(scope="module")
def ns() -> Iterator[str]:
    with fresh_netns("kame-apps") as name:
        ipns(name, "ip", "link", "set", "lo", "up")
        yield name


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("www")
    for n in SIZES:
        (d / f"f{n}").write_bytes(random.Random(n).randbytes(n))
    return d


def _wait_listening(ns: str, port: int, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        out = ipns(ns, "ss", "-Hltn", f"sport = :{port}", check=False).stdout
        if out.strip():
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port} in {ns}")


def _peer(ns: str, args: list[str], py: str = "python3") -> subprocess.Popen[str]:
    return subprocess.Popen(["ip", "netns", "exec", ns, py, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            env=child_env())


@pytest.fixture(scope="module")
def shim(ns: str, files: Path) -> Iterator[Stack]:
    link = Link(ns, "kas", SHIM)
    httpd = _peer(ns, ["-m", "http.server", "--bind", "::", "--directory", str(files), "8000"])
    try:
        _wait_listening(ns, 8000)
        with Stack(link.layer, link.runner) as st:
            yield st
    finally:
        httpd.kill()
        httpd.wait()
        link.port.close()


# --- asyncio: curl fetches from our start_server ------------------------------------

def test_curl_fetches_from_asyncio_server(ns: str, files: Path, tmp_path: Path) -> None:
    link = Link(ns, "kaa", AIO)
    stack = AioStack(link.layer, link.runner)
    loop = asyncio.new_event_loop()
    th = threading.Thread(target=loop.run_forever, daemon=True)
    th.start()
    peers: list[Any] = []

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        peers.append(w.get_extra_info("peername"))
        req = await r.readuntil(b"\r\n\r\n")
        path = req.split(b" ")[1].decode()
        body = (files / path.lstrip("/")).read_bytes()
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
        w.write(body)
        await w.drain()
        w.close()
        await w.wait_closed()

    try:
        srv = asyncio.run_coroutine_threadsafe(stack.start_server(handle, None, 8080),
                                               loop).result(10)
        for host, opt in ((f"[{AIO[1]}]", "-6"), (AIO[3], "-4")):
            for n in SIZES:
                out = tmp_path / f"got{n}"
                ipns(ns, "curl", opt, "-sS", "--max-time", "20", "-o", str(out),
                     f"http://{host}:8080/f{n}", timeout=30)
                assert hashlib.sha256(out.read_bytes()).hexdigest() == \
                    hashlib.sha256((files / f"f{n}").read_bytes()).hexdigest(), (host, n)
        asyncio.run_coroutine_threadsafe(_close(srv), loop).result(10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        th.join(5)
        link.port.close()
    assert {p[0] for p in peers} == {AIO[0], "::ffff:" + AIO[2]}


async def _close(srv: Any) -> None:
    srv.close()
    await srv.wait_closed()


# --- the blocking shim: http.client, urllib, smtplib, ftplib ---------------------------

@pytest.mark.parametrize("host", [SHIM[0], SHIM[2], "::ffff:" + SHIM[2]],
                         ids=["ipv6", "ipv4", "v4mapped"])
def test_http_client_fetches_from_kernel(shim: Stack, files: Path, host: str) -> None:
    for n in SIZES:
        conn = http.client.HTTPConnection(host, 8000, timeout=20)
        conn._create_connection = shim.create_connection  # type: ignore[attr-defined]
        conn.request("GET", f"/f{n}")
        resp = conn.getresponse()
        assert resp.status == 200
        body = resp.read()
        assert body == (files / f"f{n}").read_bytes(), (host, n)
        peer = conn.sock.getpeername() if conn.sock is not None else None
        conn.close()
        assert peer is None or peer[0] == host


@pytest.mark.parametrize("host", [f"[{SHIM[0]}]", SHIM[2], f"[::ffff:{SHIM[2]}]"],
                         ids=["ipv6", "ipv4", "v4mapped"])
def test_urllib_fetches_from_kernel(shim: Stack, files: Path, host: str) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with shim.patched(http.client):
        for n in SIZES[2:]:
            with opener.open(f"http://{host}:8000/f{n}", timeout=20) as r:
                assert r.read() == (files / f"f{n}").read_bytes()


def test_smtplib_sends_mail(shim: Stack, ns: str, tmp_path: Path) -> None:
    out = tmp_path / "mail"
    out.mkdir()
    peer = _peer(ns, [str(HERE / "smtp_peer.py"), "::", "2525", str(out)])
    try:
        assert peer.stdout is not None and peer.stdout.readline().strip() == "ready"
        text = random.Random(25).randbytes(30_000).hex()
        body = "\n".join([".leading dot", *(text[i:i + 76] for i in range(0, len(text), 76))])
        with shim.patched(smtplib):
            for host in (SHIM[0], SHIM[2]):
                msg = EmailMessage()
                msg["From"], msg["To"], msg["Subject"] = "a@kame", "b@peer", f"to {host}"
                msg.set_content(body)
                with smtplib.SMTP(host, 2525, local_hostname="kame", timeout=20) as s:
                    assert s.ehlo()[0] == 250 and s.has_extn("8bitmime")
                    assert s.send_message(msg) == {}
                    assert s.noop()[0] == 250
        got = sorted(out.glob("*.eml"))
        assert len(got) == 2
        for g in got:
            m = g.read_bytes().replace(b"\r\n", b"\n").decode()
            assert m.split("\n\n", 1)[1].rstrip("\n") == body
            env = g.with_suffix(".env").read_text().split("\n")
            assert env[0].split()[0] == "<a@kame>" and env[1:] == ["<b@peer>"], env
    finally:
        peer.kill()
        peer.wait()


FTPD = """
import sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
a = DummyAuthorizer()
a.add_user("kame", "kame", sys.argv[1], perm="elradfmw")
FTPHandler.authorizer = a
FTPHandler.permit_privileged_ports = True
srv = FTPServer(("::", 2121), FTPHandler)
print("ready", flush=True)
srv.serve_forever()
"""


def test_ftplib_epsv_eprt(shim: Stack, ns: str, tmp_path: Path) -> None:
    root = tmp_path / "ftp"
    root.mkdir()
    down = random.Random(21).randbytes(700_000)
    (root / "down.bin").write_bytes(down)
    peer = _peer(ns, ["-c", FTPD, str(root)], py=sys.executable)
    sent: list[str] = []
    try:
        assert peer.stdout is not None and peer.stdout.readline().strip() == "ready", \
            peer.stderr.read() if peer.stderr else ""
        with shim.patched(ftplib):
            for host, passive in ((SHIM[0], True), (SHIM[0], False), (SHIM[2], True),
                                  (SHIM[2], False)):
                ftp = ftplib.FTP(timeout=20)
                real = ftp.putcmd

                def putcmd(line: str, real: Any = real) -> None:
                    sent.append(line.split(" ")[0])
                    real(line)

                ftp.putcmd = putcmd  # type: ignore[method-assign]
                ftp.connect(host, 2121)
                ftp.login("kame", "kame")
                ftp.set_pasv(passive)
                buf = io.BytesIO()
                ftp.retrbinary("RETR down.bin", buf.write)
                assert buf.getvalue() == down, (host, passive)
                up = random.Random(len(sent)).randbytes(300_000)
                name = f"up-{'p' if passive else 'a'}-{host.replace(':', '_')}.bin"
                ftp.storbinary(f"STOR {name}", io.BytesIO(up))
                assert (root / name).read_bytes() == up
                assert name in ftp.nlst()
                ftp.quit()
    finally:
        peer.kill()
        peer.wait()
    # RFC 2428 over IPv6, RFC 959's PASV/PORT over IPv4, as ftplib chooses
    assert {"EPSV", "EPRT", "PASV", "PORT"} <= set(sent), sent


# --- kame tcp, nc-like --------------------------------------------------------------

def _cli(ns: str, args: list[str]) -> subprocess.Popen[bytes]:
    p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-m", "kame", "tcp",
                          *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=child_env())
    return p


def _kernel_side(ns: str, dev: str) -> None:
    end = time.monotonic() + 10
    while ipns(ns, "ip", "link", "show", "dev", dev, check=False).returncode != 0:
        assert time.monotonic() < end, f"{dev} never appeared"
        time.sleep(0.05)
    ipns(ns, "ip", "addr", "add", f"{CLI[0]}/64", "dev", dev, "nodad")
    ipns(ns, "ip", "addr", "add", f"{CLI[2]}/24", "dev", dev)
    ipns(ns, "ip", "link", "set", dev, "up")


KPEER = """
import hashlib, socket, sys
mode, host, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
data = bytes(range(256)) * (n // 256)
if mode == "serve":
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port)); ls.listen(1)
    print("ready", flush=True)
    s, _ = ls.accept()
else:
    s = socket.create_connection((host, port), timeout=20)
s.sendall(data); s.shutdown(socket.SHUT_WR)
got = bytearray()
while (d := s.recv(65536)):
    got += d
s.close()
print(len(got), hashlib.sha256(got).hexdigest(), flush=True)
"""


@pytest.mark.parametrize("fam", ["ipv6", "ipv4"])
def test_kame_tcp_connect_and_listen(ns: str, fam: str) -> None:
    k, o = (CLI[0], CLI[1]) if fam == "ipv6" else (CLI[2], CLI[3])
    opts = ["--addr", f"{CLI[1]}/64", "--addr", f"{CLI[3]}/24", "--mac", CLI[4],
            "--sysctl", "net.inet6.ip6.dad_count=0", "--sysctl",
            "net.link.ether.inet.dad_count=0", "--wait", "15"]
    ours = random.Random(fam).randbytes(400_000)
    n = 256 * 1500
    want = hashlib.sha256(bytes(range(256)) * (n // 256)).hexdigest()
    # kame tcp connect -> a kernel listener
    dev = f"kc{fam[-1]}{os.getpid() % 10000}"
    srv = _peer(ns, ["-c", KPEER, "serve", "::" if fam == "ipv6" else "0.0.0.0", "5001",
                     str(n)])
    assert srv.stdout is not None and srv.stdout.readline().strip() == "ready"
    cli = _cli(ns, ["connect", k, "5001", "--tap", dev, *opts])
    try:
        _kernel_side(ns, dev)
        out, err = cli.communicate(ours, timeout=30)
        assert cli.returncode == 0, err
        assert hashlib.sha256(out).hexdigest() == want
        line = srv.communicate(timeout=10)[0].split()
        assert line == [str(len(ours)), hashlib.sha256(ours).hexdigest()]
    finally:
        for p in (cli, srv):
            if p.poll() is None:
                p.kill()
            p.wait()
    # a kernel client -> kame tcp listen
    dev = f"kl{fam[-1]}{os.getpid() % 10000}"
    cli = _cli(ns, ["listen", "5002", "--tap", dev, *opts])
    try:
        _kernel_side(ns, dev)
        assert cli.stderr is not None
        assert b"listening" in cli.stderr.readline()
        kc = _peer(ns, ["-c", KPEER, "connect", o, "5002", str(n)])
        assert cli.stdin is not None
        out, err = cli.communicate(ours, timeout=30)
        assert cli.returncode == 0, err
        assert hashlib.sha256(out).hexdigest() == want
        line = kc.communicate(timeout=10)[0].split()
        assert line == [str(len(ours)), hashlib.sha256(ours).hexdigest()]
    finally:
        if cli.poll() is None:
            cli.kill()
        cli.wait()


def test_kame_tcp_refused(ns: str) -> None:
    """A port nobody listens on: the kernel's RST, exit status 1, one line."""
    dev = f"kr{os.getpid() % 10000}"
    cli = _cli(ns, ["connect", CLI[0], "5009", "--tap", dev, "--addr", f"{CLI[1]}/64",
                    "--sysctl", "net.inet6.ip6.dad_count=0", "--wait", "15"])
    try:
        _kernel_side(ns, dev)
        out, err = cli.communicate(b"", timeout=30)
    finally:
        if cli.poll() is None:
            cli.kill()
        cli.wait()
    assert cli.returncode == 1 and out == b""
    assert err.decode().splitlines() == [
        f"kame tcp: connect to {CLI[0]} port 5009: Connection refused"]


# --- TLS through the shim ---------------------------------------------------------------

TLS = ("2001:db8:98::1", "2001:db8:98::2", "100.64.0.1", "100.64.0.2", "02:00:00:00:09:81")
HTTPS_PEER = """
import functools, http.server, socket, ssl, sys
cert, key, root = sys.argv[1:4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
srv = S(("::", 8443), h)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
"""


@pytest.fixture(scope="module")
def tls(ns: str, files: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[Stack, dict[str, Path]]]:
    import ike_pki  # tests/ike_pki.py (tests/ is on the path: its conftest)

    d = tmp_path_factory.mktemp("tlspki")
    root = ike_pki.ca("kame TLS CA", "p256")
    pki: dict[str, Path] = {"ca": d / "ca.pem"}
    pki["ca"].write_bytes(root.pem)
    pki["ours"], pki["ours_key"] = ike_pki.leaf(root, "node", "p256", n=1,
                                                ips=(TLS[1], TLS[3])).write(d, "ours")
    pki["kern"], pki["kern_key"] = ike_pki.leaf(root, "kernel", "p256", n=2,
                                                ips=(TLS[0], TLS[2])).write(d, "kern")
    link = Link(ns, "kat", TLS)
    httpsd = _peer(ns, ["-c", HTTPS_PEER, str(pki["kern"]), str(pki["kern_key"]), str(files)])
    try:
        _wait_listening(ns, 8443)
        with Stack(link.layer, link.runner) as st:
            yield st, pki
    finally:
        httpsd.kill()
        httpsd.wait()
        link.port.close()


def test_curl_https_from_http_server_on_the_node(tls: tuple[Stack, dict[str, Path]], ns: str,
                                                 files: Path, tmp_path: Path) -> None:
    st, pki = tls

    class Server6(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, directory=str(files), **kw)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki["ours"], pki["ours_key"])
    with st.patched(socketserver, http.server):
        srv = Server6(("::", 4443), Handler)  # dual-stack under the linux profile
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    th = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                          daemon=True)
    th.start()
    try:
        for host in (f"[{TLS[1]}]", TLS[3]):
            for n in SIZES:
                out = tmp_path / f"got{n}"
                p = ipns(ns, "curl", "-sS", "--max-time", "30", "--cacert", str(pki["ca"]),
                         "-o", str(out), "-w", "%{ssl_verify_result} %{http_version}",
                         f"https://{host}:4443/f{n}", timeout=60)
                assert p.stdout.split()[0] == "0", p.stdout  # the chain verified
                assert out.read_bytes() == (files / f"f{n}").read_bytes(), (host, n)
    finally:
        srv.shutdown()
        srv.server_close()
        th.join(5)


@pytest.mark.parametrize("host", [TLS[0], TLS[2]], ids=["ipv6", "ipv4"])
def test_https_client_fetches_from_kernel(tls: tuple[Stack, dict[str, Path]], files: Path,
                                          host: str) -> None:
    st, pki = tls
    ctx = use(ssl.create_default_context(cafile=str(pki["ca"])))
    for n in SIZES:
        conn = http.client.HTTPSConnection(host, 8443, timeout=30, context=ctx)
        conn._create_connection = st.create_connection  # type: ignore[attr-defined]
        conn.request("GET", f"/f{n}")
        assert conn.sock is not None and conn.sock.version() in ("TLSv1.2", "TLSv1.3")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read() == (files / f"f{n}").read_bytes(), (host, n)
        conn.close()

