"""IKEv1 main mode with RSA signatures (RFC 2409 §5.1) against strongSwan
(issue 10): charon with ``version = 1`` and ``auth = pubkey``, our `kame
racoon` with an ``ike_version 1`` remote, ``certificate_type x509`` and
``authentication_method rsasig``. Us as initiator and as responder: the
ISAKMP and IPsec SAs come up and pings cross the tunnel both ways. An
expired certificate (ours, then strongSwan's) fails with the reason in both
logs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ike_pki as pki  # tests/ike_pki.py (tests/ is on the path: its conftest)
import pytest
from swan_rig import OURS, OURS_IN, SWAN, SWAN_IN, Rig, swan_rig, up

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")


def swan_conf(local_id: str, remote_id: str) -> str:
    return f"""connections {{
  k {{
    version = 1
    local_addrs = {SWAN}
    remote_addrs = {OURS}
    proposals = aes128-sha256-modp2048
    encap = yes
    rekey_time = 0
    local {{
      auth = pubkey
      certs = swan.pem
      id = "{local_id}"
    }}
    remote {{
      auth = pubkey
      id = "{remote_id}"
    }}
    children {{
      c {{
        local_ts = {SWAN_IN}/128
        remote_ts = {OURS_IN}/128
        esp_proposals = aes128-sha256
        mode = tunnel
        start_action = none
      }}
    }}
  }}
}}
"""


RACOON = """# our side: IKEv1 with certificates
path certificate "certs";
listen {{ isakmp {ours} [500]; isakmp_natt {ours} [4500]; }}
remote {swan} {{
    ike_version 1;
    exchange_mode main;
    certificate_type x509 "ours.pem" "ours.key";
    ca_type x509 "ca.pem";
    my_identifier asn1dn;
    peers_identifier asn1dn "{peer_dn}";
    verify_cert on;
    nat_traversal force;
    proposal {{
        encryption_algorithm aes 128;
        hash_algorithm sha256;
        authentication_method rsasig;
        dh_group 14;
    }}
}}
sainfo address {ours_in}/128 any address {swan_in}/128 any {{
    encryption_algorithm aes 128;
    authentication_algorithm hmac_sha256;
}}
"""


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with swan_rig("v1crt", tmp_path) as r:
        yield r


@pytest.fixture(scope="module")
def root() -> pki.Issued:
    return pki.ca("kame v1 interop CA", "rsa", n=30)


def _start(rig: Rig, swan: pki.Issued, ours: pki.Issued, root: pki.Issued) -> None:
    rig.pki(swan, ours, root, root)
    rig.start_charon(swan_conf(swan.subject, ours.subject))
    rig.start_racoon(RACOON, peer_dn=swan.subject)


@pytest.mark.parametrize("role", ["initiator", "responder"])
def test_ikev1_rsa_signatures_tunnel_with_strongswan(rig: Rig, root: pki.Issued,
                                                     role: str) -> None:
    ours = pki.leaf(root, "ours", "rsa", n=32)
    swan = pki.leaf(root, "swan", "rsa", n=33)
    _start(rig, swan, ours, root)
    if role == "initiator":
        rig.cmd(f"ping6 {SWAN_IN}")
    else:
        rig.swan_initiate()
    st = rig.until("the ISAKMP and IPsec SAs", up)
    assert all(s["version"] == 1 for s in st["ike"]), st
    sas = rig.swanctl("--list-sas")
    assert "ESTABLISHED" in sas and "INSTALLED" in sas and "IKEv1" in sas, sas
    log = rig.charon_log()
    # strongSwan checked our chain and our bare-hash PKCS#1 signature
    assert "reached self-signed root ca with a path length of 0" in log, log[-4000:]
    assert "authentication of 'C=JP, O=kame, CN=ours' with RSA_EMSA_PKCS1_NULL successful" \
        in log, log[-4000:]
    rig.ping_swan_to_us()
    rig.ping_us_to_swan()


# (case, who initiates, what our log says, what charon's log says)
FAILURES = [
    ("our-cert-expired", "initiator", "", "subject certificate invalid (valid from"),
    ("swan-cert-expired", "responder", "expired on",
     "received AUTHENTICATION_FAILED error notify"),
]


@pytest.mark.parametrize("case,role,ours_says,swan_says", FAILURES,
                         ids=[f[0] for f in FAILURES])
def test_ikev1_expired_certificate_fails_on_both_sides(rig: Rig, root: pki.Issued,
                                                       case: str, role: str, ours_says: str,
                                                       swan_says: str) -> None:
    ours = pki.leaf(root, "ours", "rsa", n=32)
    swan = pki.leaf(root, "swan", "rsa", n=33)
    if case == "our-cert-expired":
        ours = pki.leaf(root, "ours", "rsa", n=32, days=(-30, -2))
    else:
        swan = pki.leaf(root, "swan", "rsa", n=33, days=(-30, -2))
    _start(rig, swan, ours, root)
    if role == "initiator":
        rig.cmd(f"establish-sa {SWAN}")
    else:
        rig.swan_initiate()
    rig.wait_log(swan_says)
    st: Any = rig.until(f"our log saying {ours_says!r}",
                        lambda s: any("AUTHENTICATION" in x and ours_says in x
                                      for x in s["log"]))
    assert not st["sad"], st
    assert "ESTABLISHED" not in rig.swanctl("--list-sas")
