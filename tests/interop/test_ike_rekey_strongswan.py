"""IKEv2 rekeying against strongSwan (issue 10, RFC 7296 §1.3): short
lifetimes on both sides make the CHILD SA and the IKE SA rekey under a
continuous ping through the tunnel, with CREATE_CHILD_SA started by us and
by charon, with PFS and without, and not one echo is lost.

``ours``: we open the IKE SA; our sainfo ``lifetime`` (12 s, ``pfs_group
curve25519``) rekeys the CHILD SA from our key engine's soft SADB_EXPIRE,
charon's ``rekey_time`` (10 s) rekeys the IKE SA.
The two can collide (our CHILD rekey in flight when charon's IKE rekey
arrives, or the reverse): each side answers TEMPORARY_FAILURE (RFC 7296
§2.25.2) and tries again later, charon 5 to 15 s later. Its ``over_time``
is therefore set well past that (the default, a tenth of ``rekey_time``,
would end the IKE SA one second after a refused rekey), and a run that saw
a collision pings on, round after round, until the rekeys it counts have
happened, all under the ping.
``swan``: charon opens it; its CHILD ``rekey_time`` (8 s, no PFS) rekeys the
CHILD SA, our remote ``lifetime`` (12 s) rekeys the IKE SA."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netns_rig import ipns
from swan_rig import OURS, OURS_IN, SWAN, SWAN_IN, Rig, swan_rig, up
from test_ike_strongswan import PSK

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")

CASES: dict[str, dict[str, Any]] = {
    "ours": {"ike_rekey": 10, "child_rekey": 0, "child_life": 0, "esp": "aes128-sha256-curve25519",
             "remote_life": "1 hour", "sainfo": "pfs_group curve25519; lifetime time 12 sec;"},
    "swan": {"ike_rekey": 0, "child_rekey": 8, "child_life": 20, "esp": "aes128-sha256",
             "remote_life": "12 sec", "sainfo": "lifetime time 1 hour;"},
}

SWAN_CONF = """connections {{
  k {{
    version = 2
    local_addrs = {swan}
    remote_addrs = {ours}
    proposals = aes128-sha256-curve25519
    encap = yes
    rekey_time = {ike_rekey}
    over_time = 60
    rand_time = 0
    reauth_time = 0
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
        local_ts = {swan_in}/128
        remote_ts = {ours_in}/128
        esp_proposals = {esp}
        mode = tunnel
        rekey_time = {child_rekey}
        life_time = {child_life}
        rand_time = 0
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

RACOON = """path pre_shared_key "psk.txt";
listen {{{{ isakmp {{ours}} [500]; isakmp_natt {{ours}} [4500]; }}}}
remote {{swan}} {{{{
    my_identifier fqdn "ours.kame.example";
    peers_identifier fqdn "swan.kame.example";
    nat_traversal force;
    lifetime time {remote_life};
    proposal {{{{
        encryption_algorithm aes 128;
        hash_algorithm sha256;
        authentication_method pre_shared_key;
        dh_group curve25519;
    }}}}
}}}}
sainfo address {{ours_in}}/128 any address {{swan_in}}/128 any {{{{
    encryption_algorithm aes 128;
    authentication_algorithm hmac_sha256;
    {sainfo}
}}}}
"""


def _rekeys_seen(case: str, stats: dict[str, int], log: str) -> bool:
    """Two rekeys of each kind the case drives, on both sides' records."""
    if case == "ours":
        return (stats.get("ike_child_rekeyed", 0) >= 2 and stats.get("ike_ike_rekey_in", 0) >= 2
                and len(re.findall(r"IKE_SA k\[\d+\] rekeyed between", log)) >= 2)
    return (stats.get("ike_child_rekey_in", 0) >= 2 and stats.get("ike_ike_rekeyed", 0) >= 1
            and len(re.findall(r"IKE_SA k\[\d+\] rekeyed between", log)) >= 1)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with swan_rig("ikerk", tmp_path) as r:
        yield r


@pytest.mark.parametrize("case", sorted(CASES))
def test_rekey_under_ping_with_strongswan(rig: Rig, case: str) -> None:
    c = CASES[case]
    rig.start_charon(SWAN_CONF.format(swan=SWAN, ours=OURS, swan_in=SWAN_IN, ours_in=OURS_IN,
                                      psk=PSK, **c))
    rig.start_racoon(RACOON.format(**c), PSK)
    if case == "ours":
        rig.cmd(f"establish-sa {SWAN}")
    else:
        rig.swan_initiate()
    rig.until("the IKE and CHILD SAs", up)
    rig.ping_swan_to_us()
    first = rig.cmd("show-sa")
    # 24 s of echoes, 5 a second, through two or more rekeys of each kind;
    # after a collision, rounds more until they have happened (3 at most)
    n, sent, got = 120, 0, 0
    for _ in range(3):
        r = ipns(rig.ns, "ping", "-6", "-i", "0.2", "-c", str(n), "-W", "5", "-I", SWAN_IN,
                 OURS_IN, check=False, timeout=120)
        st = rig.cmd("show-sa")
        m = re.search(r"(\d+) packets transmitted, (\d+) received", r.stdout)
        assert m, r.stdout + r.stderr
        sent, got = sent + int(m.group(1)), got + int(m.group(2))
        log = (rig.w / "charon.log").read_text()
        if _rekeys_seen(case, st["stats"], log) or "TEMPORARY_FAILURE" not in log:
            break
    what = f"{r.stdout[-300:]}\nours: {st['stats']} {st['log'][-12:]}\n{rig.err()[-3000:]}"
    assert got == sent and sent % n == 0, what
    stats = st["stats"]
    if case == "ours":
        assert stats.get("ike_child_rekeyed", 0) >= 2, what       # we rekeyed the CHILD SA
        assert stats.get("ike_ike_rekey_in", 0) >= 2, what        # charon rekeyed the IKE SA
        assert any("(PFS" in x for x in st["log"]), what
        # charon took our rekey with a KE (PFS), installed the new pair and
        # deleted the old one when we asked
        assert len(re.findall(r"parsed CREATE_CHILD_SA request \d+ \[ N\(REKEY_SA\) SA No KE ",
                              log)) >= 2, log[-3000:]
        assert len(re.findall(r"outbound CHILD_SA c\{\d+\} established", log)) >= 2
        assert "received DELETE for ESP CHILD_SA" in log
        assert len(re.findall(r"IKE_SA k\[\d+\] rekeyed between", log)) >= 2, log[-3000:]
    else:
        assert stats.get("ike_child_rekey_in", 0) >= 2, what      # charon rekeyed the CHILD SA
        assert stats.get("ike_ike_rekeyed", 0) >= 1, what          # we rekeyed the IKE SA
        assert not any("(PFS" in x for x in st["log"]), what
        assert len(re.findall(r"generating CREATE_CHILD_SA request \d+ \[ N\(REKEY_SA\) SA No "
                              r"TSi TSr \]", log)) >= 2, log[-3000:]
        assert len(re.findall(r"IKE_SA k\[\d+\] rekeyed between", log)) >= 1, log[-3000:]
        assert "received DELETE for IKE_SA" in log
    assert len([x for x in st["ike"] if x["state"] == "ESTABLISHED"]) == 1, what
    assert len(st["sad"]) == 2, what
    # charon's SPIs are random: the outbound SA is a new one
    assert {x["spi"] for x in st["sad"] if x["dst"] == SWAN}.isdisjoint(
        {x["spi"] for x in first["sad"] if x["dst"] == SWAN}), what
    # the key log of what is up now: the rekeyed IKE SA and the CHILD SA pair
    keys = rig.cmd("keys")
    (ike,) = [x for x in st["ike"] if x["state"] == "ESTABLISHED"]
    assert [r.split(",")[:2] for r in keys["ikev2_decryption_table"]] == [
        [ike["spi_i"], ike["spi_r"]]], keys
    assert len(keys["esp_sa"]) == 2, keys
    sas = rig.swanctl("--list-sas")
    assert sas.count("INSTALLED") == 1 and sas.count("ESTABLISHED") == 1, sas
