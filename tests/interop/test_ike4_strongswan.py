"""IKE over IPv4 against strongSwan (issue 10): `kame racoon` with IPv4
endpoints (``--addr 192.0.2.1/24``, ``remote 192.0.2.2``, an IPv4
``sainfo`` and IPv4 ``spdadd`` policies) on our node over a TAP in a
namespace where charon runs with kernel-libipsec (tunnel mode, ESP in UDP
4500, ``encap = yes``). For IKEv2 and IKEv1, with us as initiator (an
SADB_ACQUIRE from ``ip_output``) and as responder: the SAs come up over
IPv4 sockets, ARP resolves both ends, pings cross the tunnel both ways,
and our shutdown deletes the SAs on both sides.

The charon and racoon plumbing is the IPv6 rigs' (:mod:`test_ikev1_strongswan`);
only the addresses and the configurations are IPv4 here."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netns_rig import child_env, fresh_netns, ipns
from test_ikev1_strongswan import Rig as _Rig
from test_ikev1_strongswan import pytestmark  # noqa: F401 (root only)

OURS, SWAN = "192.0.2.1", "192.0.2.2"
OURS_IN, SWAN_IN = "198.51.100.1", "203.0.113.1"
PSK = "kame-swan-v4-psk-1234"

SWAN_CONF = """connections {{
  k {{
    version = {version}
    local_addrs = {swan}
    remote_addrs = {ours}
    proposals = aes128-sha256-modp2048
    encap = yes
    rekey_time = 0
    local {{
      auth = psk
      id = {swan}
    }}
    remote {{
      auth = psk
      id = {ours}
    }}
    children {{
      c {{
        local_ts = {swan_in}/32
        remote_ts = {ours_in}/32
        esp_proposals = {esp}
        mode = tunnel
        start_action = none
      }}
    }}
  }}
}}
secrets {{
  ike-1 {{
    id-1 = {swan}
    id-2 = {ours}
    secret = {psk}
  }}
}}
"""

RACOON = """# our side, all IPv4
path pre_shared_key "psk.txt";
listen {{ isakmp {ours} [500]; isakmp_natt {ours} [4500]; }}
remote {swan} {{
    ike_version {version};
    exchange_mode main;
    my_identifier address {ours};
    peers_identifier address {swan};
    nat_traversal force;
    lifetime time 1 hour;
    proposal {{
        encryption_algorithm aes 128;
        hash_algorithm sha256;
        authentication_method pre_shared_key;
        dh_group 14;
    }}
}}
sainfo address {ours_in}/32 any address {swan_in}/32 any {{
    encryption_algorithm {esp_encr};
    authentication_algorithm hmac_sha256;
}}
"""

SETKEY = f"""spdadd {OURS_IN}/32 {SWAN_IN}/32 any -P out ipsec esp/tunnel/{OURS}-{SWAN}/require;
spdadd {SWAN_IN}/32 {OURS_IN}/32 any -P in ipsec esp/tunnel/{SWAN}-{OURS}/require;
"""

#: (strongSwan's ESP proposal, ours) per IKE version: AES-GCM with IKEv2, AES-CBC with IKEv1
ESP = {2: ("aes128gcm16", "aes_gcm_16 128"), 1: ("aes128-sha256", "aes 128")}


class Rig4(_Rig):
    """The IPv6 rig's charon and racoon handling, with IPv4 addresses."""

    def start_racoon4(self, version: int) -> None:
        fmt = {"ours": OURS, "swan": SWAN, "ours_in": OURS_IN, "swan_in": SWAN_IN,
               "version": version, "psk": PSK}
        (self.w / "racoon.conf").write_text(RACOON.format(esp_encr=ESP[version][1], **fmt))
        (self.w / "psk.txt").write_text(f"{SWAN} {PSK}\n")
        (self.w / "setkey.conf").write_text(SETKEY)
        dev = f"ik{uuid.uuid4().hex[:8]}"
        ipns(self.ns, "ip", "tuntap", "add", "dev", dev, "mode", "tap")
        err = open(self.w / "racoon.err", "w")  # noqa: SIM115 (the child's, closed in close())
        self.racoon = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, sys.executable, "-m", "kame", "racoon",
             "-f", str(self.w / "racoon.conf"), "--tap", dev, "--addr", f"{OURS}/24",
             "--addr", f"{OURS_IN}/32", "--gateway", SWAN,
             "--setkey", str(self.w / "setkey.conf")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
            text=True, env=child_env())
        ipns(self.ns, "ip", "link", "set", dev, "up")
        ipns(self.ns, "ip", "addr", "add", f"{SWAN}/24", "dev", dev)
        ipns(self.ns, "ip", "addr", "add", f"{SWAN_IN}/32", "dev", "lo")
        ipns(self.ns, "ip", "link", "set", "lo", "up")
        assert self.read(30).get("ready"), self.err()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig4]:
    with fresh_netns("ike4") as ns:
        r = Rig4(ns, tmp_path)
        try:
            yield r
        finally:
            r.close()


def _up(st: Any) -> bool:
    return any(s["state"] == "ESTABLISHED" for s in st["ike"]) and len(st["sad"]) >= 2


def _log(rig: Rig4) -> str:
    return (rig.w / "charon.log").read_text()


@pytest.mark.parametrize("version", [2, 1])
@pytest.mark.parametrize("role", ["initiator", "responder"])
def test_ike_ipv4_tunnel_with_strongswan(rig: Rig4, version: int, role: str) -> None:
    rig.start_charon(SWAN_CONF.format(version=version, swan=SWAN, ours=OURS, swan_in=SWAN_IN,
                                      ours_in=OURS_IN, esp=ESP[version][0], psk=PSK))
    rig.start_racoon4(version)
    if role == "initiator":
        # ip_output meets the `require` policy: SADB_ACQUIRE starts the exchange
        rig.cmd(f"ping {SWAN_IN} {OURS_IN}")
    else:
        subprocess.Popen(["ip", "netns", "exec", rig.ns, "swanctl", "--initiate", "--child",
                          "c", "--uri", rig.vici, "--timeout", "30"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    st = rig.until("the IKE and CHILD SAs", _up)
    assert all(s["version"] == version and s["peer"] == SWAN for s in st["ike"]), st
    # the SAs are between the IPv4 endpoints, ESP in UDP as kernel-libipsec wants
    assert {(x["src"], x["dst"]) for x in st["sad"]} == {(OURS, SWAN), (SWAN, OURS)}, st
    assert all(x["udp_encap"] for x in st["sad"]), st
    if role == "initiator":
        assert any("initiate" in x and SWAN in x for x in st["log"]), st
    sas = rig.swanctl("--list-sas")
    assert "ESTABLISHED" in sas and "INSTALLED" in sas and f"IKEv{version}" in sas, sas
    assert f"local  {SWAN_IN}/32" in sas and f"remote {OURS_IN}/32" in sas, sas
    # strongSwan to us through the tunnel
    end = time.monotonic() + 30
    while True:
        r = ipns(rig.ns, "ping", "-4", "-c", "1", "-W", "2", "-I", SWAN_IN, OURS_IN,
                 check=False)
        if r.returncode == 0:
            break
        assert time.monotonic() < end, f"no echo reply through the tunnel: {r.stdout}"
    # and us to strongSwan
    end = time.monotonic() + 30
    while SWAN_IN not in rig.cmd("show-sa")["replies"]:
        assert time.monotonic() < end, f"no echo reply from {SWAN_IN}: {rig.err()}"
        rig.cmd(f"ping {SWAN_IN} {OURS_IN}")
        time.sleep(0.5)
    st = rig.cmd("show-sa")
    assert st["ipsec4"].get("out_success", 0) >= 1 and st["ipsec4"].get("in_success", 0) >= 1, st
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
    assert "received DELETE for IKE_SA" in _log(rig) or "deleting IKE_SA" in _log(rig), \
        _log(rig)[-3000:]
