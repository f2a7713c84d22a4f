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

import os
import select
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from swan_rig import OURS, OURS_IN, SWAN, SWAN_IN, Rig, swan_rig, up

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


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with swan_rig("ikev1", tmp_path, aggressive_psk=True) as r:
        yield r


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


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("role", ["initiator", "responder"])
def test_ikev1_psk_tunnel_with_strongswan(rig: Rig, case: str, role: str) -> None:
    c = CASES[case]
    rig.start_charon(swan_conf(c, PSK, rig.w))
    cap = _capture(rig)
    rig.start_racoon(RACOON, PSK, **c)
    if role == "initiator":
        rig.cmd(f"ping6 {SWAN_IN}")  # SADB_ACQUIRE starts phase 1
    else:
        rig.swan_initiate()
    st = rig.until("the ISAKMP and IPsec SAs", up)
    assert all(s["version"] == 1 for s in st["ike"]), st
    assert all(x["udp_encap"] for x in st["sad"]), st
    if role == "initiator":
        assert any(f"initiate {c['mode']} mode" in x for x in st["log"]), st
    if c["pfs"]:
        assert any("with PFS" in x for x in st["log"]), st
    sas = rig.swanctl("--list-sas")
    assert "ESTABLISHED" in sas and "INSTALLED" in sas and "IKEv1" in sas, sas
    rig.ping_swan_to_us()
    rig.ping_us_to_swan()
    # DPD both ways (dpd_delay 2 s on both sides): strongSwan's R-U-THERE
    # answered, and ours acknowledged
    rig.until("DPD both ways", lambda s: s["stats"].get("v1.dpd_request_in", 0) >= 1
              and s["stats"].get("v1.dpd_ack_in", 0) >= 1)
    final = rig.quit()
    assert not final["sad"], final
    rig.wait_swan_down()
    assert "received DELETE for IKE_SA" in rig.charon_log() or \
        "deleting IKE_SA" in rig.charon_log()
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
    rig.start_racoon(RACOON, "not-the-" + PSK, **c)
    if role == "initiator":
        rig.cmd(f"establish-sa {SWAN}")
    else:
        rig.swan_initiate()
    st = rig.until("the failure", lambda s: any("pre-shared key" in x for x in s["log"]))
    assert not st["sad"], st
    # charon cannot decrypt our message 5, or gets our PAYLOAD-MALFORMED for its own
    rig.wait_log("decryption failed" if role == "initiator" else "N(PLD_MAL)")
    assert "ESTABLISHED" not in rig.swanctl("--list-sas")


@pytest.mark.parametrize("role", ["initiator", "responder"])
def test_ikev1_unacceptable_proposal_fails_on_both_sides(rig: Rig, role: str) -> None:
    c = CASES["main"]
    rig.start_charon(swan_conf(c, PSK, rig.w))
    rig.start_racoon(RACOON, PSK, **{**c, "encr": "aes 256", "dh": "5"})
    if role == "initiator":
        rig.cmd(f"establish-sa {SWAN}")
        want = "refused by"
    else:
        rig.swan_initiate()
        want = "NO-PROPOSAL-CHOSEN"
    st = rig.until("the failure", lambda s: any(want in x for x in s["log"]))
    assert not st["sad"] and "NO-PROPOSAL-CHOSEN" in " ".join(st["log"]), st
    rig.wait_log("no proposal found" if role == "initiator"
                   else "received NO_PROPOSAL_CHOSEN")
