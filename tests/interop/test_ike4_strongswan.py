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

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from swan_rig import Rig, swan_rig, up
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

#: (strongSwan's ESP proposal, ours) per IKE version: AES-GCM with IKEv2, AES-CBC with IKEv1
ESP = {2: ("aes128gcm16", "aes_gcm_16 128"), 1: ("aes128-sha256", "aes 128")}


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with swan_rig("ike4", tmp_path, ours=OURS, swan=SWAN, ours_in=OURS_IN,
                  swan_in=SWAN_IN) as r:
        yield r


def _log(rig: Rig) -> str:
    return rig.charon_log()


@pytest.mark.parametrize("version", [2, 1])
@pytest.mark.parametrize("role", ["initiator", "responder"])
def test_ike_ipv4_tunnel_with_strongswan(rig: Rig, version: int, role: str) -> None:
    rig.start_charon(SWAN_CONF.format(version=version, swan=SWAN, ours=OURS, swan_in=SWAN_IN,
                                      ours_in=OURS_IN, esp=ESP[version][0], psk=PSK))
    rig.start_racoon(RACOON, PSK, version=version, esp_encr=ESP[version][1])
    if role == "initiator":
        # ip_output meets the `require` policy: SADB_ACQUIRE starts the exchange
        rig.cmd(f"ping {SWAN_IN} {OURS_IN}")
    else:
        rig.swan_initiate()
    st = rig.until("the IKE and CHILD SAs", up)
    assert all(s["version"] == version and s["peer"] == SWAN for s in st["ike"]), st
    # the SAs are between the IPv4 endpoints, ESP in UDP as kernel-libipsec wants
    assert {(x["src"], x["dst"]) for x in st["sad"]} == {(OURS, SWAN), (SWAN, OURS)}, st
    assert all(x["udp_encap"] for x in st["sad"]), st
    if role == "initiator":
        assert any("initiate" in x and SWAN in x for x in st["log"]), st
    sas = rig.swanctl("--list-sas")
    assert "ESTABLISHED" in sas and "INSTALLED" in sas and f"IKEv{version}" in sas, sas
    assert f"local  {SWAN_IN}/32" in sas and f"remote {OURS_IN}/32" in sas, sas
    rig.ping_swan_to_us()  # strongSwan to us through the tunnel
    rig.ping_us_to_swan()  # and us to strongSwan
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
