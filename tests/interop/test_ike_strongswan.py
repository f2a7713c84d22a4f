"""IKEv2 against strongSwan (issue 10): `kame racoon` on our node over a TAP
in a namespace where charon runs with kernel-libipsec (tunnel mode, ESP in
UDP 4500, ``encap = yes``). The IKE SA and the CHILD SA come up with us as
initiator and as responder, pings cross the tunnel both ways, our delete
reaches strongSwan, and a wrong pre-shared key fails on both sides with
AUTHENTICATION_FAILED in both logs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from swan_rig import OURS, OURS_IN, SWAN, SWAN_IN, Rig, swan_rig, up

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


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with swan_rig("ikesw", tmp_path) as r:
        yield r


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("role", ["initiator", "responder"])
def test_ikev2_psk_tunnel_with_strongswan(rig: Rig, case: str, role: str) -> None:
    c = CASES[case]
    rig.start_charon(swan_conf(c["ike"], c["esp"], PSK, rig.w))
    rig.start_racoon(RACOON, PSK, **c)
    if role == "initiator":
        # racoon's way: a packet under a `require` policy makes the key
        # engine send SADB_ACQUIRE, which starts the negotiation
        rig.cmd(f"ping6 {SWAN_IN}")
    else:
        rig.swan_initiate()
    st = rig.until("the IKE and CHILD SAs", up)
    if role == "initiator":
        assert any("initiate IKE_SA_INIT" in x for x in st["log"]), st
    assert all(x["udp_encap"] for x in st["sad"]), st
    sas = rig.swanctl("--list-sas")
    assert "ESTABLISHED" in sas and "INSTALLED" in sas, sas
    # both ways through the tunnel
    rig.ping_swan_to_us()
    rig.ping_us_to_swan()
    # shutdown deletes the SAs at strongSwan too
    final = rig.quit()
    assert not final["sad"], final
    rig.wait_swan_down()
    assert "deleting IKE_SA" in rig.charon_log() or \
        "received DELETE for IKE_SA" in rig.charon_log()


@pytest.mark.parametrize("role", ["initiator", "responder"])
def test_ikev2_wrong_psk_fails_on_both_sides(rig: Rig, role: str) -> None:
    c = CASES["aes-cbc-sha256"]
    rig.start_charon(swan_conf(c["ike"], c["esp"], PSK, rig.w))
    rig.start_racoon(RACOON, "not-the-" + PSK, **c)
    if role == "initiator":
        rig.cmd(f"establish-sa {SWAN}")
        swan_says = "MAC mismatched"  # charon checked our AUTH
    else:
        rig.swan_initiate()
        swan_says = "received AUTHENTICATION_FAILED notify error"
    st = rig.until("the failure", lambda s: any("AUTHENTICATION_FAILED" in x for x in s["log"]))
    assert not st["sad"], st
    rig.wait_log(swan_says, timeout=20)
    assert "ESTABLISHED" not in rig.swanctl("--list-sas")


@pytest.mark.parametrize("role", ["initiator", "responder"])
@pytest.mark.parametrize("what", ["ike", "esp"])
def test_ikev2_unacceptable_proposal_fails_on_both_sides(rig: Rig, role: str, what: str) -> None:
    """No IKE proposal in common (IKE_SA_INIT) or no ESP proposal in
    common (IKE_AUTH): NO_PROPOSAL_CHOSEN, said and logged on both sides,
    and no SA anywhere."""
    c = CASES["aes-cbc-sha256"]
    rig.start_charon(swan_conf(c["ike"], c["esp"], PSK, rig.w))
    ours = {**c, "encr": "aes 256", "dh": "5"} if what == "ike" else {**c, "esp_encr": "aes 256"}
    rig.start_racoon(RACOON, PSK, **ours)
    if role == "initiator":
        rig.cmd(f"establish-sa {SWAN}")
    else:
        rig.swan_initiate()
    st = rig.until("the failure", lambda s: any("NO_PROPOSAL_CHOSEN" in x for x in s["log"]))
    assert not st["sad"], st
    if role == "initiator":  # charon refused what we offered and says why
        log = rig.wait_log("received proposals unacceptable" if what == "ike" else
                           "no acceptable proposal found", timeout=20)
    else:  # we refused: charon hears NO_PROPOSAL_CHOSEN
        log = rig.wait_log("received NO_PROPOSAL_CHOSEN", timeout=20)
    assert "N(NO_PROP)" in log, log[-2000:]
    assert "INSTALLED" not in rig.swanctl("--list-sas")
