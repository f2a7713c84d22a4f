"""Several CHILD SAs on one IKE SA against strongSwan (RFC 7296 §1.3.1),
and several IPsec SA pairs on one ISAKMP SA (IKEv1, quick modes at once):
three selector pairs (our inner address to three of charon's) to one
charon, each under its own sainfo and its own ``unique:N`` policy.

``initiator``: three pings at once make the ACQUIREs; the first opens the
IKE SA, the other two wait for it, then CREATE_CHILD_SA on it (no
REKEY_SA, their own TSi/TSr, the third with PFS from its sainfo's
``pfs_group``); in IKEv1 the three quick modes go out together once main
mode is up, each its message ID. Our third sainfo's 10 s
lifetime rekeys that CHILD SA (soft SADB_EXPIRE) while 15 s of echoes go
through the first, not one lost; we delete the second, and the first and
third stay up. ``responder``: charon opens the three; its ``c2`` rekeys
every 8 s under the same ping through ``c1``, and it deletes ``c2`` the
same way. ``swanctl --list-sas`` shows one IKE SA with the CHILD SAs
each time (IKEv1: one ISAKMP SA and the pairs)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netns_rig import ipns
from swan_rig import OURS, OURS_IN, SWAN, Rig, swan_rig
from test_ike_strongswan import PSK

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")

SWAN_INS = ("2001:db8:b::1", "2001:db8:b::2", "2001:db8:b::3")

SWAN_CHILD = """      c{n} {{
        local_ts = {swan_in}/128
        remote_ts = {ours_in}/128
        esp_proposals = {esp}
        mode = tunnel
        rekey_time = {rekey}
        life_time = {life}
        rand_time = 0
        start_action = none
      }}
"""

SWAN_CONF = """connections {{
  k {{
    version = {version}
    local_addrs = {swan}
    remote_addrs = {ours}
    proposals = aes128-sha256-curve25519
    encap = yes
    rekey_time = 0
    local {{
      auth = psk
      id = {swan_id}
    }}
    remote {{
      auth = psk
      id = {ours_id}
    }}
    children {{
{children}    }}
  }}
}}
secrets {{
  ike-1 {{
    id-1 = {swan_id}
    id-2 = {ours_id}
    secret = {psk}
  }}
}}
"""

RACOON = """path pre_shared_key "psk.txt";
listen {{ isakmp {ours} [500]; isakmp_natt {ours} [4500]; }}
remote {swan} {{
    ike_version {version};
    exchange_mode main;
    my_identifier {my_id};
    peers_identifier {peer_id};
    nat_traversal force;
    lifetime time 1 hour;
    proposal {{
        encryption_algorithm aes 128;
        hash_algorithm sha256;
        authentication_method pre_shared_key;
        dh_group curve25519;
    }}
}}
sainfo address {ours_in}/128 any address 2001:db8:b::1/128 any {{
    encryption_algorithm aes 128;
    authentication_algorithm hmac_sha256;
    lifetime time 1 hour;
}}
sainfo address {ours_in}/128 any address 2001:db8:b::2/128 any {{
    encryption_algorithm aes 256;
    authentication_algorithm hmac_sha256;
    lifetime time 1 hour;
}}
sainfo address {ours_in}/128 any address 2001:db8:b::3/128 any {{
    encryption_algorithm aes 128;
    authentication_algorithm hmac_sha256;
    pfs_group curve25519;
    lifetime time {life3};
}}
"""

SETKEY = "".join(
    f"spdadd {{ours_in}}/128 {s}/128 any -P out ipsec esp/tunnel/{{ours}}-{{swan}}/unique:{n};\n"
    f"spdadd {s}/128 {{ours_in}}/128 any -P in ipsec esp/tunnel/{{swan}}-{{ours}}/unique:{n};\n"
    for n, s in enumerate(SWAN_INS, 1))

ESP = {1: "aes128-sha256", 2: "aes256-sha256", 3: "aes128-sha256-curve25519"}


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with swan_rig("ikech", tmp_path) as r:
        yield r


def children(st: dict[str, Any]) -> list[dict[str, Any]]:
    (ike,) = [x for x in st["ike"] if x["state"] == "ESTABLISHED"]
    return list(ike["children"])


def ping_from(rig: Rig, src: str, count: int = 1, interval: float = 1.0) -> tuple[int, int]:
    """Echoes from charon's ``src`` to our inner address: (sent, answered)."""
    r = ipns(rig.ns, "ping", "-6", "-i", str(interval), "-c", str(count), "-W", "3", "-I", src,
             OURS_IN, check=False, timeout=120)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", r.stdout)
    assert m, r.stdout + r.stderr
    return int(m.group(1)), int(m.group(2))


def ping_until(rig: Rig, src: str) -> None:
    for _ in range(10):
        if ping_from(rig, src)[1]:
            return
    raise AssertionError(f"no echo through the CHILD SA of {src}: {rig.err()[-2000:]}")


def ids(version: int) -> dict[str, str]:
    """The identities: FQDNs in IKEv2, the addresses in IKEv1 main mode
    (charon finds a main mode PSK by address)."""
    if version == 2:
        return {"swan_id": "swan.kame.example", "ours_id": "ours.kame.example",
                "my_id": 'fqdn "ours.kame.example"', "peer_id": 'fqdn "swan.kame.example"'}
    return {"swan_id": SWAN, "ours_id": OURS, "my_id": f"address {OURS}",
            "peer_id": f"address {SWAN}"}


@pytest.mark.parametrize("version", [2, 1])
@pytest.mark.parametrize("role", ["initiator", "responder"])
def test_three_child_sas_on_one_ike_sa_with_strongswan(rig: Rig, role: str, version: int
                                                       ) -> None:
    kids = "".join(SWAN_CHILD.format(
        n=n, swan_in=s, ours_in=OURS_IN, esp=ESP[n],
        rekey=8 if role == "responder" and n == 2 else 0,
        life=20 if role == "responder" and n == 2 else 3600) for n, s in enumerate(SWAN_INS, 1))
    rig.start_charon(SWAN_CONF.format(swan=SWAN, ours=OURS, children=kids, psk=PSK,
                                      version=version, **ids(version)))
    rig.start_racoon(RACOON, PSK, setkey=SETKEY, swan_more=SWAN_INS[1:], version=version,
                     life3="10 sec" if role == "initiator" else "1 hour", **ids(version))
    if role == "initiator":
        for s in SWAN_INS:
            rig.cmd(f"ping6 {s}")
    else:
        rig.swan_initiate("c1")
        rig.until("the IKE SA", lambda s: any(x["state"] == "ESTABLISHED" for x in s["ike"]))
        rig.swan_initiate("c2")
        rig.swan_initiate("c3")
    st = rig.until("three CHILD SAs", lambda s: any(
        x["state"] == "ESTABLISHED" and len(x["children"]) == 3 for x in s["ike"]))
    what = f"{st['stats']}\n{st['log'][-12:]}\n{rig.err()[-3000:]}"
    assert len(st["ike"]) == 1, what
    assert len(st["sad"]) == 6, what
    # each CHILD SA has the selectors of its pair and its own SPIs
    assert sorted(c["remote"] for c in children(st)) == [f"{s}/128" for s in SWAN_INS], what
    log = rig.charon_log()
    if version == 1:
        assert st["stats"].get("v1.ipsec_established") == 3, what
        assert st["stats"].get("v1.isakmp_established") == 1, what
        # three quick modes, three message IDs
        mids = re.findall(r"(?:parsed|generating) QUICK_MODE request (\d+)", log)
        assert len(set(mids)) >= 3, log[-3000:]
        if role == "initiator":
            # ours went out at once: charon had all three before it finished one
            m = re.search(r"CHILD_SA c\d\{\d+\} established", log)
            assert m, log[-3000:]
            first_done = m.start()
            assert len(set(re.findall(r"parsed QUICK_MODE request (\d+)",
                                      log[:first_done]))) >= 2, log[-4000:]
    elif role == "initiator":
        assert st["stats"].get("ike_child_new") == 2, what
        # CREATE_CHILD_SA without REKEY_SA; the third with a KE (PFS)
        assert len(re.findall(r"parsed CREATE_CHILD_SA request \d+ \[ SA No TSi TSr \]",
                              log)) == 1, log[-3000:]
        assert len(re.findall(r"parsed CREATE_CHILD_SA request \d+ \[ SA No KE TSi TSr \]",
                              log)) == 1, log[-3000:]
    else:
        assert st["stats"].get("ike_child_new_in") == 2, what
    sas = rig.swanctl("--list-sas")
    assert sas.count("ESTABLISHED") == 1 and sas.count("INSTALLED") == 3, sas
    for s in SWAN_INS:
        ping_until(rig, s)
    # a CHILD rekey of one (ours: the third, with PFS; charon's: c2) under
    # 15 s of echoes through the first, each answered
    before = rig.cmd("show-sa")["stats"]
    sent, got = ping_from(rig, SWAN_INS[0], count=75, interval=0.2)
    st = rig.cmd("show-sa")
    what = f"{st['stats']}\n{st['log'][-12:]}\n{rig.err()[-3000:]}"
    assert sent == got == 75, what
    key = {2: "ike_child_rekeyed" if role == "initiator" else "ike_child_rekey_in",
           1: "v1.ipsec_rekeyed"}[version]
    assert st["stats"].get(key, 0) > before.get(key, 0), what
    if role == "initiator" and version == 2:
        assert any("(PFS" in x and "rekeyed" in x for x in st["log"]), what
    assert len(children(st)) == 3, what
    ping_until(rig, SWAN_INS[2] if role == "initiator" else SWAN_INS[1])
    # the second CHILD SA deleted (by us, or by charon): the other two stay
    two = next(c for c in children(st) if c["remote"] == f"{SWAN_INS[1]}/128")
    if role == "initiator":
        assert rig.cmd(f"delete-child {two['in']}")["ok"]
    else:
        rig.swanctl("--terminate", "--child", "c2")
    st = rig.until("two CHILD SAs", lambda s: len(children(s)) == 2)
    what = f"{st['stats']}\n{st['log'][-12:]}\n{rig.err()[-3000:]}"
    assert sorted(c["remote"] for c in children(st)) == [f"{SWAN_INS[0]}/128",
                                                         f"{SWAN_INS[2]}/128"], what
    sas = rig.until_swan(lambda t: t.count("INSTALLED") == 2)
    assert sas.count("ESTABLISHED") == 1 and f"{SWAN_INS[1]}/128" not in sas, sas
    ping_until(rig, SWAN_INS[0])
    ping_until(rig, SWAN_INS[2])
    assert ping_from(rig, SWAN_INS[1], count=2, interval=0.3)[1] == 0  # no SA: dropped
    final = rig.quit()
    assert not final["sad"], final
    rig.wait_swan_down()
