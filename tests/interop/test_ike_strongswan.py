"""IKEv2 against strongSwan (issue 10): `kame racoon` on our node over a TAP
in a namespace where charon runs with kernel-libipsec (tunnel mode, ESP in
UDP 4500, ``encap = yes``). The IKE SA and the CHILD SA come up with us as
initiator and as responder, pings cross the tunnel both ways, our delete
reaches strongSwan, and a wrong pre-shared key fails on both sides with
AUTHENTICATION_FAILED in both logs."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netns_rig import child_env, fresh_netns, ipns

OURS, SWAN = "2001:db8:1::1", "2001:db8:1::2"
OURS_IN, SWAN_IN = "2001:db8:a::1", "2001:db8:b::1"
PSK = "kame-swan-psk-1234"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")


def swan_conf(ike: str, esp: str, psk: str, w: Path) -> str:
    return f"""connections {{
  k {{
    version = 2
    local_addrs = {SWAN}
    remote_addrs = {OURS}
    proposals = {ike}
    encap = yes
    rekey_time = 0
    local {{
      auth = psk
      id = swan.kame.example
    }}
    remote {{
      auth = psk
      id = ours.kame.example
    }}
    children {{
      c {{
        local_ts = {SWAN_IN}/128
        remote_ts = {OURS_IN}/128
        esp_proposals = {esp}
        mode = tunnel
        start_action = none
      }}
    }}
  }}
}}
secrets {{
  ike-1 {{
    id-1 = swan.kame.example
    id-2 = ours.kame.example
    secret = {psk}
  }}
}}
"""


RACOON = """# our side
path pre_shared_key "psk.txt";
listen {{ isakmp {ours} [500]; isakmp_natt {ours} [4500]; }}
remote {swan} {{
    exchange_mode main;
    my_identifier fqdn "ours.kame.example";
    peers_identifier fqdn "swan.kame.example";
    nat_traversal force;
    lifetime time 1 hour;
    proposal {{
        encryption_algorithm {encr};
        hash_algorithm {hash};
        authentication_method pre_shared_key;
        dh_group {dh};
    }}
}}
sainfo address {ours_in}/128 any address {swan_in}/128 any {{
    encryption_algorithm {esp_encr};
    authentication_algorithm hmac_sha256;
}}
"""

SETKEY = f"""spdadd {OURS_IN}/128 {SWAN_IN}/128 any -P out ipsec esp/tunnel/{OURS}-{SWAN}/require;
spdadd {SWAN_IN}/128 {OURS_IN}/128 any -P in ipsec esp/tunnel/{SWAN}-{OURS}/require;
"""

CASES = {
    "aes-cbc-sha256": {"ike": "aes128-sha256-modp2048", "esp": "aes128-sha256",
                           "encr": "aes 128", "hash": "sha256", "dh": "14", "esp_encr": "aes 128"},
    # X25519 and GCM come from charon's openssl plugin (libstrongswan-standard-plugins)
    "aes-gcm": {"ike": "aes256gcm16-prfsha384-curve25519", "esp": "aes128gcm16",
                    "encr": "aes_gcm_16 256", "hash": "sha384", "dh": "curve25519",
                    "esp_encr": "aes_gcm_16 128"},
    # the IKE SA under AES-CTR (RFC 5930) and 3DES, from the openssl plugin
    "aes-ctr": {"ike": "aes256ctr-sha256-modp2048", "esp": "aes128-sha256",
                "encr": "aes_ctr 256", "hash": "sha256", "dh": "14", "esp_encr": "aes 128"},
    "3des": {"ike": "3des-sha1-modp2048", "esp": "aes128-sha256",
             "encr": "3des", "hash": "sha1", "dh": "14", "esp_encr": "aes 128"},
}


class Rig:
    def __init__(self, ns: str, w: Path) -> None:
        self.ns, self.w = ns, w
        self.vici = f"unix://{w}/charon.vici"
        self.charon: subprocess.Popen[bytes] | None = None
        self.racoon: subprocess.Popen[str] | None = None

    def swanctl(self, *args: str, check: bool = True) -> str:
        r = ipns(self.ns, "swanctl", *args, "--uri", self.vici, check=check, timeout=60)
        return r.stdout + r.stderr

    def start_charon(self, conf: str) -> None:
        etc = Path("/etc/netns") / self.ns
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "strongswan.conf").write_text(f"""charon {{
  install_routes = yes
  plugins {{
    include strongswan.d/charon/*.conf
    kernel-libipsec {{ load = yes }}
    vici {{ socket = {self.vici} }}
  }}
  filelog {{
    f {{
      path = {self.w}/charon.log
      default = 1
      ike = 2
      flush_line = yes
    }}
  }}
}}
""")
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

    def start_racoon(self, case: dict[str, str], psk: str) -> None:
        (self.w / "racoon.conf").write_text(RACOON.format(
            ours=OURS, swan=SWAN, ours_in=OURS_IN, swan_in=SWAN_IN, **case))
        (self.w / "psk.txt").write_text(f"{SWAN} {psk}\n")
        (self.w / "setkey.conf").write_text(SETKEY)
        dev = f"ik{uuid.uuid4().hex[:8]}"
        ipns(self.ns, "ip", "tuntap", "add", "dev", dev, "mode", "tap")
        err = open(self.w / "racoon.err", "w")  # noqa: SIM115 (the child's, closed in close())
        self.racoon = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, sys.executable, "-m", "kame", "racoon",
             "-f", str(self.w / "racoon.conf"), "--tap", dev, "--addr", f"{OURS}/64",
             "--addr", f"{OURS_IN}/128", "--gateway", SWAN,
             "--setkey", str(self.w / "setkey.conf")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
            text=True, env=child_env())
        ipns(self.ns, "ip", "link", "set", dev, "up")
        ipns(self.ns, "ip", "addr", "add", f"{SWAN}/64", "dev", dev, "nodad")
        ipns(self.ns, "ip", "addr", "add", f"{SWAN_IN}/128", "dev", "lo")
        ipns(self.ns, "ip", "link", "set", "lo", "up")
        assert self.read(30).get("ready"), self.err()

    def err(self) -> str:
        return (self.w / "racoon.err").read_text() if (self.w / "racoon.err").exists() else ""

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

    def until(self, what: str, cond: Any, timeout: float = 40) -> Any:
        end = time.monotonic() + timeout
        while True:
            st = self.cmd("show-sa")
            if cond(st):
                return st
            assert time.monotonic() < end, f"timed out waiting for {what}: {st}\n{self.err()}"
            time.sleep(0.3)

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


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with fresh_netns("ikesw") as ns:
        r = Rig(ns, tmp_path)
        try:
            yield r
        finally:
            r.close()


def _up(st: Any) -> bool:
    return any(s["state"] == "ESTABLISHED" for s in st["ike"]) and len(st["sad"]) >= 2


def _ping_swan_to_us(rig: Rig) -> None:
    end = time.monotonic() + 30
    while True:
        r = ipns(rig.ns, "ping", "-6", "-c", "1", "-W", "2", "-I", SWAN_IN, OURS_IN, check=False)
        if r.returncode == 0:
            return
        assert time.monotonic() < end, f"no echo reply through the tunnel: {r.stdout}"


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("role", ["initiator", "responder"])
def test_ikev2_psk_tunnel_with_strongswan(rig: Rig, case: str, role: str) -> None:
    c = CASES[case]
    rig.start_charon(swan_conf(c["ike"], c["esp"], PSK, rig.w))
    rig.start_racoon(c, PSK)
    if role == "initiator":
        # racoon's way: a packet under a `require` policy makes the key
        # engine send SADB_ACQUIRE, which starts the negotiation
        rig.cmd(f"ping6 {SWAN_IN}")
    else:
        subprocess.Popen(["ip", "netns", "exec", rig.ns, "swanctl", "--initiate", "--child",
                          "c", "--uri", rig.vici, "--timeout", "30"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    st = rig.until("the IKE and CHILD SAs", _up)
    if role == "initiator":
        assert any("initiate IKE_SA_INIT" in x for x in st["log"]), st
    assert all(x["udp_encap"] for x in st["sad"]), st
    sas = rig.swanctl("--list-sas")
    assert "ESTABLISHED" in sas and "INSTALLED" in sas, sas
    # both ways through the tunnel
    _ping_swan_to_us(rig)
    end = time.monotonic() + 30
    while SWAN_IN not in rig.cmd("show-sa")["replies"]:
        assert time.monotonic() < end, f"no echo reply from {SWAN_IN}: {rig.err()}"
        rig.cmd(f"ping6 {SWAN_IN}")
        time.sleep(0.5)
    # shutdown deletes the SAs at strongSwan too
    assert rig.racoon is not None and rig.racoon.stdin is not None
    rig.racoon.stdin.write("quit\n")
    rig.racoon.stdin.flush()
    final = rig.read(30)
    assert not final["sad"], final
    end = time.monotonic() + 20
    while "ESTABLISHED" in rig.swanctl("--list-sas"):
        assert time.monotonic() < end, rig.swanctl("--list-sas")
        time.sleep(0.3)
    assert "deleting IKE_SA" in (rig.w / "charon.log").read_text() or \
        "received DELETE for IKE_SA" in (rig.w / "charon.log").read_text()


@pytest.mark.parametrize("role", ["initiator", "responder"])
def test_ikev2_wrong_psk_fails_on_both_sides(rig: Rig, role: str) -> None:
    c = CASES["aes-cbc-sha256"]
    rig.start_charon(swan_conf(c["ike"], c["esp"], PSK, rig.w))
    rig.start_racoon(c, "not-the-" + PSK)
    if role == "initiator":
        rig.cmd(f"establish-sa {SWAN}")
        swan_says = "MAC mismatched"  # charon checked our AUTH
    else:
        subprocess.Popen(["ip", "netns", "exec", rig.ns, "swanctl", "--initiate", "--child",
                          "c", "--uri", rig.vici, "--timeout", "30"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        swan_says = "received AUTHENTICATION_FAILED notify error"
    st = rig.until("the failure", lambda s: any("AUTHENTICATION_FAILED" in x for x in s["log"]))
    assert not st["sad"], st
    end = time.monotonic() + 20
    while swan_says not in (log := (rig.w / "charon.log").read_text()):
        assert time.monotonic() < end, log
        time.sleep(0.2)
    assert "ESTABLISHED" not in rig.swanctl("--list-sas")
