"""What the strongSwan IKE tests share: a namespace where charon runs with
kernel-libipsec (tunnel mode, ESP in UDP 4500) and its vici socket in the
test's directory, our `kame racoon` on a TAP device into that namespace,
and the waits on both. The endpoint and inner addresses are parameters, so
one rig serves IPv6 and IPv4 peers; the defaults are the IPv6 ones the
IKEv2 and IKEv1 tests use."""

from __future__ import annotations

import ipaddress
import json
import select
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from netns_rig import child_env, fresh_netns, ipns

OURS, SWAN = "2001:db8:1::1", "2001:db8:1::2"
OURS_IN, SWAN_IN = "2001:db8:a::1", "2001:db8:b::1"

CHARON_CONF = """charon {{
  install_routes = yes{extra}
  plugins {{
    include strongswan.d/charon/*.conf
    kernel-libipsec {{ load = yes }}
    vici {{ socket = {vici} }}
  }}
  filelog {{
    f {{
      path = {w}/charon.log
      default = 1
      ike = 2
      flush_line = yes
    }}
  }}
}}
"""

AGGRESSIVE_PSK = """
  # charon refuses aggressive mode with PSK as responder unless told
  i_dont_care_about_security_and_use_aggressive_mode_psk = yes"""

SETKEY = """spdadd {ours_in}/{host} {swan_in}/{host} any -P out ipsec esp/tunnel/{ours}-{swan}/require;
spdadd {swan_in}/{host} {ours_in}/{host} any -P in ipsec esp/tunnel/{swan}-{ours}/require;
"""


class Rig:
    """charon and our racoon in namespace ``ns``, files in ``w``. Our
    racoon holds ``ours`` (on the TAP, prefix ``plen``) and ``ours_in``;
    the namespace holds ``swan`` on the TAP and ``swan_in`` on its
    loopback."""

    def __init__(self, ns: str, w: Path, *, ours: str = OURS, swan: str = SWAN,
                 ours_in: str = OURS_IN, swan_in: str = SWAN_IN, plen: int | None = None,
                 aggressive_psk: bool = False) -> None:
        self.ns, self.w = ns, w
        self.ours, self.swan, self.ours_in, self.swan_in = ours, swan, ours_in, swan_in
        self.family = ipaddress.ip_address(swan).version
        self.host = 128 if self.family == 6 else 32
        self.plen = plen if plen is not None else (64 if self.family == 6 else 24)
        self.aggressive_psk = aggressive_psk
        self.vici = f"unix://{w}/charon.vici"
        self.charon: subprocess.Popen[bytes] | None = None
        self.racoon: subprocess.Popen[str] | None = None

    def addrs(self) -> dict[str, Any]:
        """The fields the swanctl.conf and racoon.conf templates name."""
        return {"ours": self.ours, "swan": self.swan, "ours_in": self.ours_in,
                "swan_in": self.swan_in, "host": self.host}

    def swanctl(self, *args: str, check: bool = True) -> str:
        r = ipns(self.ns, "swanctl", *args, "--uri", self.vici, check=False, timeout=60)
        out = r.stdout + r.stderr
        assert not check or r.returncode == 0, f"swanctl {' '.join(args)}: {out}"
        return out

    def start_charon(self, conf: str) -> None:
        """charon in the namespace, then swanctl.conf ``conf`` loaded (with
        any credentials in x509/, x509ca/, pkcs8/ beside it)."""
        etc = Path("/etc/netns") / self.ns
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "strongswan.conf").write_text(CHARON_CONF.format(
            extra=AGGRESSIVE_PSK if self.aggressive_psk else "", vici=self.vici, w=self.w))
        (self.w / "swan.conf").write_text(conf)
        self.charon = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "sh", "-c",
             "mount -t tmpfs tmpfs /run && exec /usr/lib/ipsec/charon"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + 30
        while not (self.w / "charon.vici").exists():
            assert time.monotonic() < end, "charon did not open its vici socket"
            assert self.charon.poll() is None, "charon exited"
            time.sleep(0.1)
        self.swanctl("--load-all", "--file", str(self.w / "swan.conf"))

    def pki(self, swan: Any, ours: Any, swan_ca: Any, our_ca: Any) -> None:
        """Certificates (ike_pki.Issued) where swanctl --file and our
        racoon's ``path certificate "certs"`` look for them."""
        sw = self.w  # swanctl --file takes credentials from the file's directory
        swan.write(sw / "x509", "swan")
        (sw / "pkcs8").mkdir(parents=True)
        (sw / "x509" / "swan.key").rename(sw / "pkcs8" / "swan.key")
        (sw / "x509ca").mkdir()
        (sw / "x509ca" / "ca.pem").write_bytes(swan_ca.pem)
        ours.write(self.w / "certs", "ours")
        (self.w / "certs" / "ca.pem").write_bytes(our_ca.pem)

    def start_racoon(self, template: str, psk: str | None = None, *, setkey: str = SETKEY,
                     swan_more: tuple[str, ...] = (), **fields: Any) -> None:
        """Our racoon with racoon.conf ``template`` (formatted with the
        rig's addresses and ``fields``), the pre-shared key ``psk`` for the
        peer if given, and the setkey.conf ``setkey`` (by default a tunnel
        between the inner addresses); then the namespace's side of the TAP,
        with ``swan_more`` inner addresses beside ``swan_in``."""
        (self.w / "racoon.conf").write_text(template.format(**self.addrs(), **fields))
        if psk is not None:
            (self.w / "psk.txt").write_text(f"{self.swan} {psk}\n")
        (self.w / "setkey.conf").write_text(setkey.format(**self.addrs()))
        dev = f"ik{uuid.uuid4().hex[:8]}"
        ipns(self.ns, "ip", "tuntap", "add", "dev", dev, "mode", "tap")
        err = open(self.w / "racoon.err", "w")  # noqa: SIM115 (the child's, closed in close())
        self.racoon = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, sys.executable, "-m", "kame", "racoon",
             "-f", str(self.w / "racoon.conf"), "--tap", dev, "--addr", f"{self.ours}/{self.plen}",
             "--addr", f"{self.ours_in}/{self.host}", "--gateway", self.swan,
             "--setkey", str(self.w / "setkey.conf")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
            text=True, env=child_env())
        ipns(self.ns, "ip", "link", "set", dev, "up")
        ipns(self.ns, "ip", "addr", "add", f"{self.swan}/{self.plen}", "dev", dev,
             *(("nodad",) if self.family == 6 else ()))
        for a in (self.swan_in, *swan_more):
            ipns(self.ns, "ip", "addr", "add", f"{a}/{self.host}", "dev", "lo")
        ipns(self.ns, "ip", "link", "set", "lo", "up")
        assert self.read(30).get("ready"), self.err()

    def swan_initiate(self, child: str = "c") -> None:
        """charon opens the CHILD SA ``child`` (in the background)."""
        subprocess.Popen(["ip", "netns", "exec", self.ns, "swanctl", "--initiate", "--child",
                          child, "--uri", self.vici, "--timeout", "30"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def err(self) -> str:
        return (self.w / "racoon.err").read_text() if (self.w / "racoon.err").exists() else ""

    def charon_log(self) -> str:
        p = self.w / "charon.log"
        return p.read_text() if p.exists() else ""

    def read(self, timeout: float) -> Any:
        assert self.racoon is not None and self.racoon.stdout is not None
        r, _, _ = select.select([self.racoon.stdout], [], [], timeout)
        assert r, f"racoon did not answer in {timeout} s: {self.err()}"
        line = self.racoon.stdout.readline()
        assert line, f"racoon ended: {self.err()}"
        return json.loads(line)

    def cmd(self, line: str) -> Any:
        assert self.racoon is not None and self.racoon.stdin is not None
        self.racoon.stdin.write(line + "\n")
        self.racoon.stdin.flush()
        return self.read(30)

    def until(self, what: str, cond: Callable[[Any], Any], timeout: float = 40) -> Any:
        end = time.monotonic() + timeout
        while True:
            st = self.cmd("show-sa")
            if cond(st):
                return st
            assert time.monotonic() < end, f"timed out waiting for {what}: {st}\n{self.err()}"
            time.sleep(0.3)

    def wait_log(self, *needles: str, timeout: float = 30) -> str:
        """charon's log once it says every one of ``needles``."""
        end = time.monotonic() + timeout
        while not all(n in (log := self.charon_log()) for n in needles):
            assert time.monotonic() < end, f"charon never said {needles!r}:\n{log[-4000:]}"
            time.sleep(0.2)
        return log

    def until_swan(self, cond: Callable[[str], Any], timeout: float = 20) -> str:
        """``swanctl --list-sas`` once ``cond`` holds of it."""
        end = time.monotonic() + timeout
        while not cond(sas := self.swanctl("--list-sas")):
            assert time.monotonic() < end, sas
            time.sleep(0.3)
        return sas

    def wait_swan_down(self, timeout: float = 20) -> None:
        """Until charon holds no ESTABLISHED IKE SA."""
        end = time.monotonic() + timeout
        while "ESTABLISHED" in self.swanctl("--list-sas"):
            assert time.monotonic() < end, self.swanctl("--list-sas")
            time.sleep(0.3)

    def ping_swan_to_us(self) -> None:
        """An echo from charon's inner address to ours through the tunnel."""
        end = time.monotonic() + 30
        while True:
            r = ipns(self.ns, "ping", f"-{self.family}", "-c", "1", "-W", "2", "-I", self.swan_in,
                     self.ours_in, check=False)
            if r.returncode == 0:
                return
            assert time.monotonic() < end, f"no echo reply through the tunnel: {r.stdout}"

    def ping_us_to_swan(self) -> None:
        """Our echo to charon's inner address through the tunnel, answered."""
        end = time.monotonic() + 30
        while self.swan_in not in self.cmd("show-sa")["replies"]:
            assert time.monotonic() < end, f"no echo reply from {self.swan_in}: {self.err()}"
            # racoon's ping6 DST, or ping DST SRC for IPv4
            self.cmd(f"ping6 {self.swan_in}" if self.family == 6 else
                     f"ping {self.swan_in} {self.ours_in}")
            time.sleep(0.5)

    def quit(self) -> Any:
        """Ask our racoon to stop; its last state report."""
        assert self.racoon is not None and self.racoon.stdin is not None
        self.racoon.stdin.write("quit\n")
        self.racoon.stdin.flush()
        return self.read(30)

    def close(self) -> None:
        if self.racoon is not None and self.racoon.poll() is None:
            self.racoon.kill()
            self.racoon.wait(10)
        if self.charon is not None and self.charon.poll() is None:
            self.charon.terminate()
            try:
                self.charon.wait(10)
            except subprocess.TimeoutExpired:
                self.charon.kill()
        shutil.rmtree(Path("/etc/netns") / self.ns, ignore_errors=True)


@contextmanager
def swan_rig(prefix: str, w: Path, **kw: Any) -> Iterator[Rig]:
    """A :class:`Rig` in a fresh namespace named after ``prefix``, closed
    and deleted afterwards; ``kw`` goes to the rig."""
    with fresh_netns(prefix) as ns:
        r = Rig(ns, w, **kw)
        try:
            yield r
        finally:
            r.close()


def up(st: Any) -> bool:
    """Our state report shows an established IKE SA and a CHILD SA pair."""
    return any(s["state"] == "ESTABLISHED" for s in st["ike"]) and len(st["sad"]) >= 2
