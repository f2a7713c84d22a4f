"""IKEv1 (RFC 2409, racoon's protocol) against strongSwan (issue 10):
`kame racoon` with an `ike_version 1` remote on our node over a TAP in a
namespace where charon runs with kernel-libipsec (tunnel mode, ESP in UDP
4500 after NAT-T, RFC 3947). Main mode and aggressive mode with
pre-shared keys, quick mode without and with PFS, with us as initiator
and as responder: the ISAKMP and IPsec SAs come up, pings cross the
tunnel both ways, our delete reaches strongSwan, and tshark dissects the
ISAKMP messages without a malformed mark. A wrong pre-shared key and an
unacceptable proposal fail with the reason in both logs."""

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
PSK = "kame-swan-v1-psk-1234"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")


def swan_conf(c: dict[str, str], psk: str, w: Path) -> str:
    aggr = c["mode"] == "aggressive"
    sid, oid = ("swan.kame.example", "ours.kame.example") if aggr else (SWAN, OURS)
    return f"""connections {{
  k {{
    version = 1
    aggressive = {"yes" if aggr else "no"}
    local_addrs = {SWAN}
    remote_addrs = {OURS}
    proposals = {c["ike"]}
    encap = yes
    rekey_time = 0
    dpd_delay = 2s
    local {{
      auth = psk
      id = {sid}
    }}
    remote {{
      auth = psk
      id = {oid}
    }}
    children {{
      c {{
        local_ts = {SWAN_IN}/128
        remote_ts = {OURS_IN}/128
        esp_proposals = {c["esp"]}
        mode = tunnel
        start_action = none
      }}
    }}
  }}
}}
secrets {{
  ike-1 {{
    id-1 = {sid}
    id-2 = {oid}
    secret = {psk}
  }}
}}
"""


RACOON = """# our side
path pre_shared_key "psk.txt";
listen {{ isakmp {ours} [500]; isakmp_natt {ours} [4500]; }}
remote {swan} {{
    ike_version 1;
    exchange_mode {mode};
    my_identifier {my_id};
    peers_identifier {peer_id};
    nat_traversal force;
    dpd_delay 2;
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
    {pfs}
}}
"""

SETKEY = f"""spdadd {OURS_IN}/128 {SWAN_IN}/128 any -P out ipsec esp/tunnel/{OURS}-{SWAN}/require;
spdadd {SWAN_IN}/128 {OURS_IN}/128 any -P in ipsec esp/tunnel/{SWAN}-{OURS}/require;
"""

CASES = {
    "main": {"mode": "main", "ike": "aes128-sha256-modp2048", "esp": "aes128-sha256",
             "encr": "aes 128", "hash": "sha256", "dh": "14", "esp_encr": "aes 128", "pfs": "",
             "my_id": f"address {OURS}", "peer_id": f"address {SWAN}"},
    "aggressive-pfs": {"mode": "aggressive", "ike": "aes256-sha1-modp1536",
                       "esp": "aes256-sha256-modp2048", "encr": "aes 256", "hash": "sha1",
                       "dh": "5", "esp_encr": "aes 256", "pfs": "pfs_group 14;",
                       "my_id": 'fqdn "ours.kame.example"',
                       "peer_id": 'fqdn "swan.kame.example"'},
    # racoon's old defaults in phase 1 (3DES, SHA-1, the first Oakley group), AES-GCM for the ESP SAs
    "main-3des-gcm": {"mode": "main", "ike": "3des-sha1-modp768", "esp": "aes128gcm16",
                      "encr": "3des", "hash": "sha1", "dh": "1", "esp_encr": "aes_gcm_16 128",
                      "pfs": "", "my_id": f"address {OURS}", "peer_id": f"address {SWAN}"},
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
  # charon refuses aggressive mode with PSK as responder unless told
  i_dont_care_about_security_and_use_aggressive_mode_psk = yes
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
        (self.w / "racoon.conf").write_text(RACOON.format(psk_ids=case.get("ids", "main"), 
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


def _ping_swan_to_us(rig: Rig) -> None:
    end = time.monotonic() + 30
    while True:
        r = ipns(rig.ns, "ping", "-6", "-c", "1", "-W", "2", "-I", SWAN_IN, OURS_IN, check=False)
        if r.returncode == 0:
            return
        assert time.monotonic() < end, f"no echo reply through the tunnel: {r.stdout}"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with fresh_netns("ikev1") as ns:
        r = Rig(ns, tmp_path)
        try:
            yield r
        finally:
            r.close()


def _up(st: Any) -> bool:
    return any(s["state"] == "ESTABLISHED" for s in st["ike"]) and len(st["sad"]) >= 2


def _swan_initiate(rig: Rig) -> None:
    subprocess.Popen(["ip", "netns", "exec", rig.ns, "swanctl", "--initiate", "--child", "c",
                      "--uri", rig.vici, "--timeout", "30"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _capture(rig: Rig) -> subprocess.Popen[bytes]:
    cap = subprocess.Popen(["ip", "netns", "exec", rig.ns, "tcpdump", "-i", "any", "--immediate-mode", "-U", "-w",
                            str(rig.w / "ike.pcap"), "udp port 500 or udp port 4500"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    end = time.monotonic() + 20
    assert cap.stderr is not None
    while b"listening" not in (cap.stderr.read1(4096) if select.select(
            [cap.stderr], [], [], 1)[0] else b""):
        assert time.monotonic() < end and cap.poll() is None, "tcpdump did not start"
    return cap


def _log(rig: Rig) -> str:
    return (rig.w / "charon.log").read_text()


def _wait_swan_log(rig: Rig, *needles: str, timeout: float = 30) -> str:
    end = time.monotonic() + timeout
    while not all(n in (log := _log(rig)) for n in needles):
        assert time.monotonic() < end, log[-4000:]
        time.sleep(0.2)
    return log


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("role", ["initiator", "responder"])
def test_ikev1_psk_tunnel_with_strongswan(rig: Rig, case: str, role: str) -> None:
    c = CASES[case]
    rig.start_charon(swan_conf(c, PSK, rig.w))
    cap = _capture(rig)
    rig.start_racoon(c, PSK)
    if role == "initiator":
        rig.cmd(f"ping6 {SWAN_IN}")  # SADB_ACQUIRE starts phase 1
    else:
        _swan_initiate(rig)
    st = rig.until("the ISAKMP and IPsec SAs", _up)
    assert all(s["version"] == 1 for s in st["ike"]), st
    assert all(x["udp_encap"] for x in st["sad"]), st
    if role == "initiator":
        assert any(f"initiate {c['mode']} mode" in x for x in st["log"]), st
    if c["pfs"]:
        assert any("with PFS" in x for x in st["log"]), st
    sas = rig.swanctl("--list-sas")
    assert "ESTABLISHED" in sas and "INSTALLED" in sas and "IKEv1" in sas, sas
    _ping_swan_to_us(rig)
    end = time.monotonic() + 30
    while SWAN_IN not in rig.cmd("show-sa")["replies"]:
        assert time.monotonic() < end, f"no echo reply from {SWAN_IN}: {rig.err()}"
        rig.cmd(f"ping6 {SWAN_IN}")
        time.sleep(0.5)
    # DPD both ways (dpd_delay 2 s on both sides): strongSwan's R-U-THERE
    # answered, and ours acknowledged
    rig.until("DPD both ways", lambda s: s["stats"].get("v1.dpd_request_in", 0) >= 1
              and s["stats"].get("v1.dpd_ack_in", 0) >= 1)
    assert rig.racoon is not None and rig.racoon.stdin is not None
    rig.racoon.stdin.write("quit\n")
    rig.racoon.stdin.flush()
    final = rig.read(30)
    assert not final["sad"], final
    end = time.monotonic() + 20
    while "ESTABLISHED" in rig.swanctl("--list-sas"):
        assert time.monotonic() < end, rig.swanctl("--list-sas")
        time.sleep(0.3)
    assert "received DELETE for IKE_SA" in _log(rig) or "deleting IKE_SA" in _log(rig)
    cap.terminate()
    cap.wait(10)
    out = subprocess.run(["tshark", "-r", str(rig.w / "ike.pcap"), "-o",
                          "udp.try_heuristic_first:FALSE", "-Y", "isakmp", "-T", "fields",
                          "-e", "isakmp.version", "-e", "isakmp.exchangetype", "-e", "_ws.malformed",
                          "-e", "_ws.expert.severity"],
                         check=False, capture_output=True, text=True, timeout=60)
    rows = [r.split("\t") for r in out.stdout.splitlines() if r.strip()]
    assert len(rows) >= 6, out.stdout + out.stderr
    assert all(r[0] == "0x10" for r in rows), out.stdout
    assert not any(r[2] for r in rows), out.stdout
    # main or aggressive mode, quick mode and INFORMATIONAL all seen
    kinds = {r[1] for r in rows}
    assert {"2" if c["mode"] == "main" else "4", "32", "5"} <= kinds, out.stdout


@pytest.mark.parametrize("role", ["initiator", "responder"])
def test_ikev1_wrong_psk_fails_on_both_sides(rig: Rig, role: str) -> None:
    c = CASES["main"]
    rig.start_charon(swan_conf(c, PSK, rig.w))
    rig.start_racoon(c, "not-the-" + PSK)
    if role == "initiator":
        rig.cmd(f"establish-sa {SWAN}")
    else:
        _swan_initiate(rig)
    st = rig.until("the failure", lambda s: any("pre-shared key" in x for x in s["log"]))
    assert not st["sad"], st
    # charon cannot decrypt our message 5, or gets our PAYLOAD-MALFORMED for its own
    _wait_swan_log(rig, "decryption failed" if role == "initiator" else "N(PLD_MAL)")
    assert "ESTABLISHED" not in rig.swanctl("--list-sas")


@pytest.mark.parametrize("role", ["initiator", "responder"])
def test_ikev1_unacceptable_proposal_fails_on_both_sides(rig: Rig, role: str) -> None:
    c = CASES["main"]
    rig.start_charon(swan_conf(c, PSK, rig.w))
    rig.start_racoon({**c, "encr": "aes 256", "dh": "5"}, PSK)
    if role == "initiator":
        rig.cmd(f"establish-sa {SWAN}")
        want = "refused by"
    else:
        _swan_initiate(rig)
        want = "NO-PROPOSAL-CHOSEN"
    st = rig.until("the failure", lambda s: any(want in x for x in s["log"]))
    assert not st["sad"] and "NO-PROPOSAL-CHOSEN" in " ".join(st["log"]), st
    _wait_swan_log(rig, "no proposal found" if role == "initiator"
                   else "received NO_PROPOSAL_CHOSEN")
