"""Seed §4.8.2, the draft-touch-ipsec-vpn approach: gif tunnels protected
by IPsec *transport* mode SAs between the tunnel endpoints, with Linux
hosts behind each end and a Linux router between (``gif_rig.py``).

As the seed configures it on each gateway::

    gifconfig gif0 C D
    setkey: spdadd C D any -P out ipsec esp/transport//use;
            spdadd D C any -P in ipsec esp/transport//use;

for both tunnels (IPv4 outer C, D = 192.0.2.1, 198.51.100.1; IPv6 outer
2001:db8:1::1, 2001:db8:2::1). The Linux hosts ping and fetch through
all four inner/outer combinations; the router sees nothing but ESP
between the endpoints, which tshark decrypts with the SAs' keys to the
gif packet inside (outer, ESP, inner); and, the point of the approach, a
packet the gateway originates to the far network takes the address of
the tunnel interface as its source (source selection looks at gif1).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Iterator

import pytest

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

from gif_rig import CASES, T_LO, T_RO, Rig, gif_rig, kame_cli, ping_and_fetch, sh

BODY = os.urandom(100_000)
EKEY = bytes(range(0x10, 0x20))
AKEY = bytes(range(0x40, 0x54))
ENDS = {"inet6": ("2001:db8:1::1", "2001:db8:2::1"), "inet": ("192.0.2.1", "198.51.100.1")}
#: SPI of each direction: (family, from L) -> SPI
SPIS = {("inet6", True): 0x1006, ("inet6", False): 0x2006,
        ("inet", True): 0x1004, ("inet", False): 0x2004}
TUNNEL_IP6 = "2001:db8:99::1"  # gif1's own address on L (the seed's "A")


def setkey_text(node: str) -> str:
    lines = []
    for fam, (c, d) in ENDS.items():
        for src, dst, from_l in ((c, d, True), (d, c, False)):
            lines.append(f"add {src} {dst} esp 0x{SPIS[(fam, from_l)]:x} -m transport "
                         f"-E rijndael-cbc 0x{EKEY.hex()} -A hmac-sha1 0x{AKEY.hex()};")
        me, peer = (c, d) if node == "L" else (d, c)
        lines.append(f"spdadd {me} {peer} any -P out ipsec esp/transport//use;")
        lines.append(f"spdadd {peer} {me} any -P in ipsec esp/transport//use;")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    capture = "ip proto 50 or ip6 proto 50 or ip proto 41 or ip proto 4 or ip6 proto 41 " \
              "or ip6 proto 4"
    with gif_rig(tmp_path_factory.mktemp("gifesp"), BODY, capture=capture,
                 setkey={n: setkey_text(n) for n in ("L", "R")}) as r:
        yield r


@pytest.mark.parametrize(("name", "src", "dst", "outer", "inner"), CASES,
                         ids=[c[0] for c in CASES])
def test_ping_and_fetch_through_gif_over_esp(rig: Rig, name: str, src: str, dst: str,
                                             outer: str, inner: str) -> None:
    ping_and_fetch(rig, name, src, dst, BODY)


def test_gateway_originates_from_the_tunnel_address(rig: Rig) -> None:
    """§4.8.2: "we can have source address A, for packets originated by the
    VPN gateway to B": L pings HR; in6_selectsrc takes gif1's address."""
    ctl_l, ctl_r = str(rig.tmp / "L.sock"), str(rig.tmp / "R.sock")
    kame_cli("ifconfig", "--ctl", ctl_l, "gif1", "inet6", f"{TUNNEL_IP6}/128")
    assert rig.cmd({"route6": ["R", f"{TUNNEL_IP6}/128", None, "gif1"]}) == {"ok": 1}
    out = kame_cli("ping6", "--ctl", ctl_l, "-c", "3", "-i", "0.3", "2001:db8:21::2")
    assert f"{TUNNEL_IP6} --> 2001:db8:21::2" in out, out
    assert "3 packets transmitted, 3 packets received" in out, out
    del ctl_r


def test_router_sees_only_esp(rig: Rig) -> None:
    """Between the endpoints every packet is ESP; decrypted with the SAs'
    keys, each carries the gif packet: ICV good, an inner IP header under
    ESP, nothing malformed; no tunnel packet crosses in the clear."""
    time.sleep(1.0)  # tcpdump writes with -U; the last packets settle
    uats = []
    for (fam, _), spi in SPIS.items():
        uats += ["-o", (f'uat:esp_sa:"{"IPv6" if fam == "inet6" else "IPv4"}","*","*",'
                        f'"0x{spi:08x}","AES-CBC [RFC3602]","0x{EKEY.hex()}",'
                        f'"HMAC-SHA-1-96 [RFC2404]","0x{AKEY.hex()}"')]
    seen: set[str] = set()
    for dev in (T_LO, T_RO):
        p = sh("tshark", "-r", str(rig.tmp / f"{dev}.pcap"),
               "-o", "esp.enable_encryption_decode:TRUE",
               "-o", "esp.enable_authentication_check:TRUE", *uats,
               "-T", "fields", "-e", "frame.protocols", "-e", "esp.icv_good",
               "-e", "_ws.malformed", timeout=120)
        rows = [(ln.split("\t") + ["", ""])[:3] for ln in p.stdout.splitlines()]
        assert rows, f"nothing captured on {dev}"
        kinds = Counter(r[0] for r in rows)
        for protos, good, malformed in rows:
            layers = protos.split(":")
            assert "esp" in layers, (dev, kinds)  # nothing tunnelled in the clear
            assert good == "1", (protos, good)
            if layers[layers.index("esp") + 1] == "icmp":
                # a protocol unreachable from the end whose gif was not yet
                # up (the tunnels come up one after the other): protected
                # too; tshark calls the inner IPv6 header it quotes
                # malformed, for RFC 792 quotes 8 octets of it
                continue
            assert not malformed, (protos, malformed)
            at = [i for i, x in enumerate(layers) if x in ("ip", "ipv6")]
            assert len(at) >= 2 and at[0] < layers.index("esp") < at[1], protos
            seen.add(f"{layers[at[1]]}-in-{layers[at[0]]}")
    assert {"ipv6-in-ip", "ipv6-in-ipv6", "ip-in-ipv6", "ip-in-ip"} <= seen, seen


def test_sa_counters(rig: Rig) -> None:
    """Both gateways protected and accepted packets of both tunnels
    (``netstat -s -p ipsec`` / ``ipsec6``, KAME's ipsecstat)."""
    for node in ("L", "R"):
        st = rig.cmd({"stats": node})
        assert st.get("gifs_opackets", 0) > 0 and st.get("gifs_ipackets", 0) > 0, st
        for proto in ("ipsec", "ipsec6"):
            out = kame_cli("netstat", "--ctl", str(rig.tmp / f"{node}.sock"), "-s", "-p", proto)
            for what in ("inbound packets processed successfully",
                         "outbound packets processed successfully"):
                m = re.search(rf"\t(\d+) {what}", out)
                assert m and int(m.group(1)) > 0, (node, proto, out)
