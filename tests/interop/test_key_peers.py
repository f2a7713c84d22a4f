"""The ESP that kame nodes exchange under setkey-configured policies, opened
by independent peers: tshark decrypts the frames captured on the memory
links (transport mode between two hosts, and the RFC 2401 tunnel between two
gateways of seed §4.8.1) with the keys of the setkey text and checks their
ICVs; scapy's ``SecurityAssociation`` decrypts the same frames to the Echo
Request/Reply the nodes sent."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, IPv6
from scapy.layers.ipsec import ESP, SecurityAssociation
from test_key_node import (
    AK_AB,
    AK_BA,
    AK_CD,
    AK_DC,
    EK_AB,
    EK_BA,
    EK_CD,
    EK_DC,
    H1,
    H2,
    HA,
    HB,
    Vpn,
    esp_frames,
    replies,
    transport_pair,
)

pytestmark = pytest.mark.interop
TSHARK = shutil.which("tshark")


def write_pcap(path: Path, packets: list[bytes]) -> None:
    with path.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))  # LINKTYPE_RAW
        f.writelines(struct.pack("<IIII", i, 0, len(p), len(p)) + p
                     for i, p in enumerate(packets))


def uat(spi: int, ek: str, ak: str) -> list[str]:
    return ["-o", (f'uat:esp_sa:"IPv6","*","*","0x{spi:08x}","AES-CBC [RFC3602]","{ek}",'
                   f'"HMAC-SHA-1-96 [RFC2404]","{ak}"')]


def tshark_open(tmp_path: Path, packets: list[bytes], sas: list[tuple[int, str, str]]
                ) -> list[dict]:
    pcap = tmp_path / "esp.pcap"
    write_pcap(pcap, packets)
    args = [a for s in sas for a in uat(*s)]
    out = subprocess.run(
        [TSHARK, "-r", str(pcap), "-o", "esp.enable_encryption_decode:TRUE",
         "-o", "esp.enable_authentication_check:TRUE", *args, "-T", "json"],
        capture_output=True, text=True, check=True, timeout=120).stdout
    return [f["_source"]["layers"] for f in json.loads(out)]


def icv_good(layers: dict) -> bool:
    esp = layers["esp"]
    tree = esp.get("esp.icv_tree", {})
    good = tree.get("esp.icv_good", esp.get("esp.icv_good"))
    return good in ("1", "True", "true")


def scapy_sa(spi: int, ek: str, ak: str, tunnel: tuple[str, str] | None = None
             ) -> SecurityAssociation:
    th = IPv6(src=tunnel[0], dst=tunnel[1]) if tunnel else None
    return SecurityAssociation(ESP, spi=spi, crypt_algo="AES-CBC",
                               crypt_key=bytes.fromhex(ek[2:]), auth_algo="HMAC-SHA1-96",
                               auth_key=bytes.fromhex(ak[2:]), tunnel_header=th)


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
def test_tshark_and_scapy_open_the_transport_mode_ping(tmp_path: Path) -> None:
    frames: list[bytes] = []
    sim, a, _b = transport_pair(frames)
    for seq in range(2):
        sim.emit(a, a.ping(HB, sim.now, seq=seq, data=b"kame key interop"))
        sim.run(until=sim.now + 1.0)
    assert len(replies(a)) == 2
    wire = esp_frames(frames)
    assert len(wire) == 4
    layers = tshark_open(tmp_path, wire, [(0x1000, EK_AB, AK_AB), (0x2000, EK_BA, AK_BA)])
    for ly in layers:
        assert "_ws.malformed" not in ly
        assert icv_good(ly)
        assert ly["icmpv6"]["icmpv6.type"] in ("128", "129")
        assert b"kame key interop".hex() in json.dumps(ly["icmpv6"]).replace(":", "")
    sas = {0x1000: scapy_sa(0x1000, EK_AB, AK_AB), 0x2000: scapy_sa(0x2000, EK_BA, AK_BA)}
    kinds = []
    for w in wire:
        p = IPv6(w)
        clear = sas[p[ESP].spi].decrypt(p)
        kinds.append(type(clear.payload).__name__)
        assert bytes(clear)[-16:] == b"kame key interop"
        assert {clear.src, clear.dst} == {str(HA), str(HB)}
    assert kinds == [ICMPv6EchoRequest.__name__, ICMPv6EchoReply.__name__] * 2


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
def test_tshark_and_scapy_open_the_gateway_tunnel(tmp_path: Path) -> None:
    v = Vpn()
    v.sim.emit(v.h1, v.h1.ping(H2, v.sim.now, seq=9, data=b"kame vpn interop"))
    v.sim.run(until=v.sim.now + 2.0)
    assert [r.seq for r in replies(v.h1)] == [9]
    wire = esp_frames(v.wan_frames)
    assert len(wire) == 2
    layers = tshark_open(tmp_path, wire, [(0x4000, EK_CD, AK_CD), (0x5000, EK_DC, AK_DC)])
    for ly in layers:
        assert "_ws.malformed" not in ly
        assert icv_good(ly)
        # the inner IPv6 header is the hosts' (tshark lists both ipv6 layers)
        assert str(H1) in json.dumps(ly) and str(H2) in json.dumps(ly)
    gw = ("2001:db8:ffff::c", "2001:db8:ffff::d")
    sas = {0x4000: scapy_sa(0x4000, EK_CD, AK_CD, gw),
           0x5000: scapy_sa(0x5000, EK_DC, AK_DC, (gw[1], gw[0]))}
    inner = [sas[IPv6(w)[ESP].spi].decrypt(IPv6(w)) for w in wire]
    assert [(p.src, p.dst) for p in inner] == [(str(H1), str(H2)), (str(H2), str(H1))]
    assert isinstance(inner[0].payload, ICMPv6EchoRequest)
    assert isinstance(inner[1].payload, ICMPv6EchoReply)
