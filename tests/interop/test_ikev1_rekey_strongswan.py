"""IKEv1 quick-mode rekeying against strongSwan (issue 10, RFC 2409 §5.5,
RFC 2407 §4.5): short lifetimes make the IPsec SAs rekey with new quick
modes on the one ISAKMP SA under a continuous ping through the tunnel, and
not one echo is lost.

``ours``: we open the ISAKMP SA; our sainfo ``lifetime`` (12 s, ``pfs_group
14``) rekeys from our key engine's soft SADB_EXPIRE; the old pair is deleted
(INFORMATIONAL) once the new one is in.
``swan``: charon opens it (``version = 1``); its CHILD ``rekey_time`` (8 s,
no PFS) rekeys; we answer each new quick mode while the old pair lives.
``p1``: our remote ``lifetime`` (15 s) starts a new main mode at 85 %; the
IPsec SAs move to the new ISAKMP SA, the old one is deleted, and the quick
mode rekeys (sainfo 12 s) go on on the new one."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netns_rig import ipns
from swan_rig import OURS, OURS_IN, SWAN, SWAN_IN, Rig, swan_rig, up
from test_ikev1_strongswan import PSK

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")

CASES: dict[str, dict[str, Any]] = {
    "ours": {"child_rekey": 0, "child_life": 3600, "esp": "aes128-sha256-modp2048",
             "sainfo": "pfs_group 14; lifetime time 12 sec;"},
    # our remote lifetime (15 s): new main modes at 85 %, the IPsec SAs move to them
    "p1": {"child_rekey": 0, "child_life": 3600, "esp": "aes128-sha256", "p1life": "15 sec",
           "sainfo": "lifetime time 12 sec;"},
    "swan": {"child_rekey": 8, "child_life": 20, "esp": "aes128-sha256",
             "sainfo": "lifetime time 1 hour;"},
}

SWAN_CONF = """connections {{
  k {{
    version = 1
    local_addrs = {swan}
    remote_addrs = {ours}
    proposals = aes128-sha256-modp2048
    encap = yes
    rekey_time = 0
    reauth_time = 0
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
    id-1 = {swan}
    id-2 = {ours}
    secret = {psk}
  }}
}}
"""

RACOON = """path pre_shared_key "psk.txt";
listen {{{{ isakmp {{ours}} [500]; isakmp_natt {{ours}} [4500]; }}}}
remote {{swan}} {{{{
    ike_version 1;
    exchange_mode main;
    my_identifier address {{ours}};
    peers_identifier address {{swan}};
    nat_traversal force;
    lifetime time {p1life};
    proposal {{{{
        encryption_algorithm aes 128;
        hash_algorithm sha256;
        authentication_method pre_shared_key;
        dh_group 14;
    }}}}
}}}}
sainfo address {{ours_in}}/128 any address {{swan_in}}/128 any {{{{
    encryption_algorithm aes 128;
    authentication_algorithm hmac_sha256;
    {sainfo}
}}}}
"""


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with swan_rig("ik1rk", tmp_path) as r:
        yield r


@pytest.mark.parametrize("case", sorted(CASES))
def test_ikev1_rekey_under_ping_with_strongswan(rig: Rig, case: str) -> None:
    c = {"p1life": "1 hour", **CASES[case]}
    rig.start_charon(SWAN_CONF.format(swan=SWAN, ours=OURS, swan_in=SWAN_IN, ours_in=OURS_IN,
                                      psk=PSK, **c))
    rig.start_racoon(RACOON.format(**c), PSK)
    if case != "swan":
        rig.cmd(f"establish-sa {SWAN}")
    else:
        rig.swan_initiate()
    rig.until("the ISAKMP and IPsec SAs", up)
    rig.ping_swan_to_us()
    first = rig.cmd("show-sa")
    # 24 s of echoes, 5 a second, through two or more rekeys
    n = 120
    r = ipns(rig.ns, "ping", "-6", "-i", "0.2", "-c", str(n), "-W", "5", "-I", SWAN_IN,
             OURS_IN, check=False, timeout=120)
    st = rig.cmd("show-sa")
    m = re.search(r"(\d+) packets transmitted, (\d+) received", r.stdout)
    assert m, r.stdout + r.stderr
    log = (rig.w / "charon.log").read_text()
    what = f"{r.stdout[-300:]}\nours: {st['stats']} {st['log'][-12:]}\n{rig.err()[-3000:]}"
    assert (int(m.group(1)), int(m.group(2))) == (n, n), what
    stats = st["stats"]
    assert stats.get("v1.ipsec_rekeyed", 0) >= 2, what
    established = re.findall(r"CHILD_SA c\{\d+\} established with SPIs", log)
    assert len(established) >= 3, log[-3000:]  # the first pair and two rekeys
    if case == "p1":
        assert stats.get("v1.isakmp_rekey", 0) >= 1, what
        assert any("moved to ISAKMP SA" in x for x in st["log"]), what
        assert "received DELETE for IKE_SA k[1]" in log, log[-3000:]
        # charon kept the CHILD SA on its new ISAKMP SA: our next delete found it
        assert "IKE_SA k[2] established" in log, log[-3000:]
    if case != "swan":
        assert stats.get("v1.ipsec_soft_expired", 0) >= 2, what   # our soft lifetime
        assert any("rekeying IPsec SA" in x for x in st["log"]), what
        assert any("(rekey)" in x and ("with PFS" in x) == (case == "ours")
                   for x in st["log"]), what
        assert "received DELETE for ESP CHILD_SA" in log, log[-3000:]
    if case == "ours":
        # charon took our quick modes with a KE (PFS)
        assert len(re.findall(r"parsed QUICK_MODE request \d+ \[ HASH SA No KE ID ID",
                              log)) + len(re.findall(r"parsed QUICK_MODE response \d+ \[ HASH SA "
                                                     r"No KE ID ID", log)) >= 3, log[-3000:]
    if case == "swan":
        assert stats.get("v1.ipsec_soft_expired", 0) == 0, what
        assert len(re.findall(r"generating QUICK_MODE request", log)) >= 3, log[-3000:]
    assert len([x for x in st["ike"] if x["state"] == "ESTABLISHED"]) == 1, what
    # charon's SPIs are random: the outbound SA is a new one
    assert {x["spi"] for x in st["sad"] if x["dst"] == SWAN}.isdisjoint(
        {x["spi"] for x in first["sad"] if x["dst"] == SWAN}), what
    sas = rig.swanctl("--list-sas")
    assert sas.count("ESTABLISHED") == 1, sas
    if case != "swan":
        # every old pair deleted at both ends: one pair left
        assert len(st["sad"]) == 2 or rig.until(
            "the old pair's delete", lambda s: len(s["sad"]) == 2), what
