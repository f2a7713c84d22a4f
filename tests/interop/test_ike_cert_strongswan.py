"""IKEv2 with X.509 certificates against strongSwan (issue 10): charon with
``auth = pubkey`` and kernel-libipsec in a namespace, our `kame racoon` with
``certificate_type x509`` over a TAP. Certificates are made in the test with
the `cryptography` package. RSA and ECDSA, us as initiator and responder:
the tunnel comes up and pings cross it both ways. An expired certificate, a
certificate from another CA and an ID the certificate does not name fail
with AUTHENTICATION_FAILED, each side's log saying why."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ike_pki as pki  # tests/ike_pki.py (tests/ is on the path: its conftest)
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from swan_rig import OURS, OURS_IN, SWAN, SWAN_IN, Rig, swan_rig, up

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")

SWAN_FQDN, OURS_FQDN = "swan.kame.example", "ours.kame.example"


def swan_conf(local_id: str, remote_id: str) -> str:
    rid = f"\n      id = \"{remote_id}\"" if remote_id else ""
    return f"""connections {{
  k {{
    version = 2
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
      auth = pubkey{rid}
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


RACOON = """# our side, with certificates
path certificate "certs";
listen {{ isakmp {ours} [500]; isakmp_natt {ours} [4500]; }}
remote {swan} {{
    exchange_mode main;
    certificate_type x509 "ours.pem" "ours.key";
    ca_type x509 "ca.pem";
    my_identifier {my_id};
    peers_identifier {peer_id};
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
    with swan_rig("ikecrt", tmp_path) as r:
        yield r


@pytest.fixture(scope="module")
def root() -> pki.Issued:
    return pki.ca("kame interop CA", "rsa", n=20)


@pytest.fixture(scope="module")
def other_root() -> pki.Issued:
    return pki.ca("stranger CA", "p256", n=21)


def _start(rig: Rig, swan: pki.Issued, ours: pki.Issued, root: pki.Issued, *,
           swan_ca: pki.Issued | None = None, swan_remote_id: str = "",
           my_id: str = "asn1dn", peer_id: str = "asn1dn", revoke: pki.Issued | None = None) -> None:
    rig.pki(swan, ours, swan_ca or root, root)
    if revoke is not None:
        # racoon's hash-named CRL in the certificate directory (c_rehash's HHHHHHHH.r0)
        (rig.w / "certs" / "0a1b2c3d.r0").write_bytes(pki.crl(root, [revoke]))
    rig.start_charon(swan_conf(swan.subject, swan_remote_id))
    rig.start_racoon(RACOON, my_id=my_id, peer_id=peer_id)


@pytest.mark.parametrize("role", ["initiator", "responder"])
@pytest.mark.parametrize("kinds", [("rsa", "rsa"), ("p256", "p384")])
def test_ikev2_certificates_tunnel_with_strongswan(rig: Rig, root: pki.Issued, role: str,
                                                   kinds: tuple[str, str]) -> None:
    ours = pki.leaf(root, "ours", kinds[0], n=22, dns=(OURS_FQDN,))
    swan = pki.leaf(root, "swan", kinds[1], n=23, dns=(SWAN_FQDN,))
    _start(rig, swan, ours, root, swan_remote_id="C=JP, O=kame, CN=ours",
           peer_id=f'asn1dn "{swan.subject}"')
    if role == "initiator":
        rig.cmd(f"ping6 {SWAN_IN}")
    else:
        rig.swan_initiate()
    st = rig.until("the IKE and CHILD SAs", up)
    assert all(x["udp_encap"] for x in st["sad"]), st
    sas = rig.swanctl("--list-sas")
    assert "ESTABLISHED" in sas and "INSTALLED" in sas, sas
    log = rig.charon_log()
    # strongSwan checked our certificate up to the CA and our RFC 7427 signature
    assert 'reached self-signed root ca with a path length of 0' in log, log
    scheme = "RSA_EMSA_PKCS1_SHA2_256" if kinds[0] == "rsa" else "ECDSA_WITH_SHA256_DER"
    assert f"authentication of 'C=JP, O=kame, CN=ours' with {scheme} successful" in log, log
    rig.ping_swan_to_us()
    rig.ping_us_to_swan()


def _our_failure(rig: Rig, words: str) -> Any:
    return rig.until(f"our log saying {words!r}",
                     lambda s: any("AUTHENTICATION_FAILED" in x and words in x
                                   for x in s["log"]))


# (case, who initiates, what our log says, what charon's log says)
FAILURES = [
    # our certificate is bad: strongSwan refuses it and says why
    ("our-cert-expired", "initiator", "", "subject certificate invalid (valid from"),
    ("our-cert-other-ca", "initiator", "", 'no issuer certificate found for "C=JP, O=kame, CN=ours"'),
    ("our-id-not-in-cert", "initiator", "", f"no trusted RSA public key found for '{OURS_FQDN}'"),
    # strongSwan's certificate is bad: we refuse it and say why
    ("swan-cert-expired", "responder", "expired on", "received AUTHENTICATION_FAILED notify error"),
    # (charon, the responder, had accepted us: our INFORMATIONAL tells it and it deletes)
    ("swan-cert-other-ca", "initiator", "which is not a configured CA",
     "parsed INFORMATIONAL request 2 [ N(AUTH_FAILED) ]"),
    ("swan-id-mismatch", "responder", "is not the configured peers_identifier",
     "received AUTHENTICATION_FAILED notify error"),
    # keyUsage / extendedKeyUsage (RFC 4945 §5.1.3.2, §5.1.3.12): the reason code in our log
    ("swan-cert-bad-eku", "responder", "(ext_key_usage)", "received AUTHENTICATION_FAILED notify error"),
    ("swan-cert-bad-ku", "responder", "(key_usage)", "received AUTHENTICATION_FAILED notify error"),
    # strongSwan's certificate is on its CA's CRL in our certificate directory
    ("swan-cert-revoked", "responder", "(revoked)", "received AUTHENTICATION_FAILED notify error"),
]


@pytest.mark.parametrize("case,role,ours_says,swan_says", FAILURES,
                         ids=[f[0] for f in FAILURES])
def test_ikev2_bad_certificates_fail_on_both_sides(rig: Rig, root: pki.Issued,
                                                   other_root: pki.Issued, case: str,
                                                   role: str, ours_says: str,
                                                   swan_says: str) -> None:
    ours = pki.leaf(root, "ours", "rsa", n=22, dns=(OURS_FQDN,))
    swan = pki.leaf(root, "swan", "p384", n=23, dns=(SWAN_FQDN,))
    kw: dict[str, Any] = {}
    if case == "our-cert-expired":
        ours = pki.leaf(root, "ours", "rsa", n=22, days=(-30, -2))
    elif case == "our-cert-other-ca":
        ours = pki.leaf(other_root, "ours", "rsa", n=22)
    elif case == "our-id-not-in-cert":
        ours = pki.leaf(root, "ours", "rsa", n=22)  # no subjectAltName
        kw = {"my_id": f'fqdn "{OURS_FQDN}"', "swan_remote_id": OURS_FQDN}
    elif case == "swan-cert-expired":
        swan = pki.leaf(root, "swan", "p384", n=23, days=(-30, -2))
    elif case == "swan-cert-other-ca":
        swan = pki.leaf(other_root, "swan", "p384", n=23)
    elif case == "swan-id-mismatch":
        kw = {"peer_id": 'asn1dn "C=JP, O=kame, CN=moon"'}
    elif case == "swan-cert-bad-eku":
        swan = pki.leaf(root, "swan", "p384", n=23, eku=[ExtendedKeyUsageOID.CODE_SIGNING])
    elif case == "swan-cert-bad-ku":
        swan = pki.leaf(root, "swan", "p384", n=23, key_usage=x509.KeyUsage(
            False, False, False, False, True, False, False, False, False))
    elif case == "swan-cert-revoked":
        kw = {"revoke": swan}
    _start(rig, swan, ours, root, **kw)
    if role == "initiator":
        rig.cmd(f"establish-sa {SWAN}")
    else:
        rig.swan_initiate()
    st = _our_failure(rig, ours_says)
    rig.wait_log(swan_says)
    assert not st["sad"], st
    rig.wait_swan_down()


def test_ikev2_crl_of_another_certificate_lets_strongswan_in(rig: Rig, root: pki.Issued) -> None:
    # the CRL in our certificate directory revokes someone else: the tunnel comes up
    ours = pki.leaf(root, "ours", "rsa", n=22, dns=(OURS_FQDN,))
    swan = pki.leaf(root, "swan", "p384", n=23, dns=(SWAN_FQDN,))
    _start(rig, swan, ours, root, swan_remote_id="C=JP, O=kame, CN=ours",
           revoke=pki.leaf(root, "someone else", "p256", n=24))
    rig.swan_initiate()
    rig.until("the IKE and CHILD SAs", up)
    rig.ping_swan_to_us()
