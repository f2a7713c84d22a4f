"""FAITH (seed §3.1, RFC 3142) with kernel peers: a Linux IPv6-only client
reaches a Linux IPv4-only server through `kame faithd`.

    ns fk-c (kernel client)        ns fk-r: kame faithd        ns fk-s (kernel server)
    2001:db8:1::2/64  ── tap ── 2001:db8:1::1 | 192.0.2.1 ── tap ── 192.0.2.2/24
    route 2001:db8:ffff::/96 via 2001:db8:1::1                 http.server :8080,
                                                               pyftpdlib :21

- curl fetches ``http://[2001:db8:ffff::c000:202]:8080/blob`` (relayed to
  192.0.2.2:8080);
- Python's ftplib logs in to ``2001:db8:ffff::c000:202`` and retrieves a
  file with EPSV (the relay speaks PASV to the server) and with EPRT (the
  relay speaks PORT);
- the relay refuses its own address and a private one (RFC 3142 §5).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

from netns_rig import child_env, fresh_netns, ipns, until

# made in the relay's own namespace: the names need not be unique on the host
T6, T4 = "fk6", "fk4"
BODY = os.urandom(150_000)
FAITH = "2001:db8:ffff::c000:202"   # 2001:db8:ffff::192.0.2.2

FTP_SERVER = r"""
import sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
a = DummyAuthorizer()
a.add_user("kame", "kame", sys.argv[1], perm="elr")
FTPHandler.authorizer = a
FTPHandler.passive_ports = range(50000, 50100)
FTPServer(("192.0.2.2", 21), FTPHandler).serve_forever()
"""

FTP_CLIENT = r"""
import hashlib, sys
from ftplib import FTP
ftp = FTP()
ftp.connect(sys.argv[1], 21, timeout=20)
ftp.login("kame", "kame")
ftp.set_pasv(sys.argv[2] == "epsv")
buf = bytearray()
ftp.retrbinary("RETR blob", buf.extend)
ftp.quit()
print(hashlib.sha256(buf).hexdigest())
"""


class Rig:
    def __init__(self, faithd: subprocess.Popen[str], log: Path, client: str) -> None:
        self.faithd, self.log = faithd, log
        self.client = client  # the kernel client's namespace


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    tmp = tmp_path_factory.mktemp("faith")
    with ExitStack() as stack:
        cl, rt, sv = nss = tuple(stack.enter_context(fresh_netns(p))
                                 for p in ("fk-c", "fk-r", "fk-s"))
        for ns in nss:
            ipns(ns, "ip", "link", "set", "lo", "up")
        (tmp / "www").mkdir()
        (tmp / "www" / "blob").write_bytes(BODY)
        log = tmp / "faithd.log"
        faithd = subprocess.Popen(
            ["ip", "netns", "exec", rt, sys.executable, "-m", "kame", "faithd",
             "--prefix", "2001:db8:ffff::/96", "--tap", T6, "--tap", T4,
             "--inet6", f"{T6}=2001:db8:1::1/64", "--inet", f"{T4}=192.0.2.1/24", "8080", "21"],
            stdout=subprocess.DEVNULL, stderr=open(log, "w"), text=True,  # noqa: SIM115
            env=child_env())
        stack.callback(_end_faithd, faithd)

        def opened() -> bool:
            return "opened" in log.read_text()

        assert until(opened, 30.0), log.read_text()
        for dev, ns, addr in ((T6, cl, "2001:db8:1::2/64"), (T4, sv, "192.0.2.2/24")):
            subprocess.run(["ip", "-n", rt, "link", "set", dev, "netns", ns], check=True,
                           capture_output=True, timeout=60)
            if ":" in addr:
                ipns(ns, "sysctl", "-qw", f"net.ipv6.conf.{dev}.accept_dad=0")
                ipns(ns, "ip", "addr", "add", addr, "dev", dev, "nodad")
            else:
                ipns(ns, "ip", "addr", "add", addr, "dev", dev)
            ipns(ns, "ip", "link", "set", dev, "up")
        ipns(cl, "ip", "-6", "route", "add", "2001:db8:ffff::/96", "via", "2001:db8:1::1")
        for argv in ([sys.executable, "-m", "http.server", "--bind", "192.0.2.2", "-d",
                      str(tmp / "www"), "8080"],
                     [sys.executable, "-c", FTP_SERVER, str(tmp / "www")]):
            p = subprocess.Popen(["ip", "netns", "exec", sv, *argv], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, env=child_env())
            stack.callback(_kill, p)
        time.sleep(0.5)
        yield Rig(faithd, log, cl)


def _kill(p: subprocess.Popen[Any]) -> None:
    p.kill()
    p.wait()


def _end_faithd(faithd: subprocess.Popen[str]) -> None:
    faithd.terminate()
    try:
        faithd.wait(timeout=10)
    except subprocess.TimeoutExpired:
        faithd.kill()
        faithd.wait()


def _curl(rig: Rig, url: str, timeout: int = 15) -> tuple[int, bytes]:
    p = subprocess.run(["ip", "netns", "exec", rig.client, "curl", "-sS", "-g", "--max-time",
                        str(timeout), url], capture_output=True, timeout=timeout + 20, check=False)
    return p.returncode, p.stdout


def test_curl_through_relay(rig: Rig) -> None:
    def fetch() -> bytes:
        rc, out = _curl(rig, f"http://[{FAITH}]:8080/blob")
        return out if rc == 0 else b""

    got = until(fetch, 60.0)
    assert hashlib.sha256(got or b"").hexdigest() == hashlib.sha256(BODY).hexdigest(), \
        rig.log.read_text()
    assert "relay 2001:db8:1::2 -> 192.0.2.2 port 8080" in rig.log.read_text()


@pytest.mark.parametrize("mode", ["epsv", "eprt"])
def test_ftplib_through_relay(rig: Rig, mode: str) -> None:
    def ftp() -> str:
        p = subprocess.run(["ip", "netns", "exec", rig.client, sys.executable, "-c", FTP_CLIENT,
                            FAITH, mode], capture_output=True, text=True, timeout=60, check=False)
        return p.stdout.strip() if p.returncode == 0 else ""

    got = until(ftp, 60.0)
    assert got == hashlib.sha256(BODY).hexdigest(), rig.log.read_text()


@pytest.mark.parametrize("dst", ["2001:db8:ffff::c000:201",    # the relay's own address
                                 "2001:db8:ffff::a00:1"])      # 10.0.0.1: private
def test_refused(rig: Rig, dst: str) -> None:
    until(lambda: _curl(rig, f"http://[{FAITH}]:8080/")[0] == 0, 40.0)  # the relay works
    rc, out = _curl(rig, f"http://[{dst}]:8080/", timeout=5)
    assert rc != 0 and not out
    assert until(lambda: f"deny 2001:db8:1::2 -> {dst} port 8080" in rig.log.read_text(), 10)
