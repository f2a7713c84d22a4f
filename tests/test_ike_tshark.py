"""tshark reads our IKEv2 (issue 10): given the keys our IKE SAs export
(:meth:`IkeSa.ikev2_decryption_row`, Wireshark's ``ikev2_decryption_table``
as strongSwan's save-keys writes it) it decrypts every encrypted payload
of IKE_AUTH, CREATE_CHILD_SA (CHILD rekey with PFS, IKE SA rekey) and
INFORMATIONAL, checks their ICVs, and dissects them without a malformed or
expert-error mark; with the CHILD SAs' keys (``esp_sa``,
:meth:`Ike.esp_sa_rows`) it decrypts the ESP they carry, before and after
the rekeys."""

from __future__ import annotations

import shutil
import struct
import subprocess
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest

from kame.ike.ikev2 import ChildProposal, Ike, IkeProposal, Peer
from kame.key.engine import KeyEngine
from kame.link.pcap import LINKTYPE_RAW, PcapWriter

A, B = "2001:db8:1::1", "2001:db8:1::2"
pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")


def _sum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f">{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def ip6(src: str, dst: str, nh: int, payload: bytes) -> bytes:
    return (struct.pack(">IHBB", 0x60000000, len(payload), nh, 64) + ip_address(src).packed
            + ip_address(dst).packed + payload)


def udp6(src: str, dst: str, sport: int, dport: int, data: bytes) -> bytes:
    n = 8 + len(data)
    pseudo = ip_address(src).packed + ip_address(dst).packed + struct.pack(">IxxxB", n, 17)
    ck = 0xFFFF - _sum(pseudo + struct.pack(">HHHH", sport, dport, n, 0) + data)
    return ip6(src, dst, 17, struct.pack(">HHHH", sport, dport, n, ck or 0xFFFF) + data)


def echo6(src: str, dst: str, seq: int) -> bytes:
    body = struct.pack(">BBHHH", 128, 0, 0, 0x1234, seq) + b"kame" * 8
    pseudo = ip_address(src).packed + ip_address(dst).packed + struct.pack(">IxxxB", len(body),
                                                                            58)
    ck = 0xFFFF - _sum(pseudo + body)
    return ip6(src, dst, 58, body[:2] + struct.pack(">H", ck) + body[4:])


class Wire:
    """Two daemons in memory; every datagram goes to a pcap on its way."""

    def __init__(self, prop: IkeProposal, child: ChildProposal) -> None:
        self.ea, self.eb = KeyEngine(), KeyEngine()
        kw: dict[str, Any] = {"proposals": [prop], "child": [child], "pfs_group": 31}
        self.a = Ike([Peer(B, A, b"secret", my_id="a.example", peer_id="b.example", **kw)],
                     self.ea)
        self.b = Ike([Peer(A, B, b"secret", my_id="b.example", peer_id="a.example", **kw)],
                     self.eb)
        # both key engines hand out SPIs from 256 up: B's start further on, so
        # the two directions differ (tshark follows sequence numbers by SPI)
        for _ in range(16):
            self.eb.sad.getspi("esp", ip_address(A), ip_address(B), 0.0)
        self.frames: list[bytes] = []
        self.rows: set[str] = set()
        self.esp: set[str] = set()
        self.seq = 0

    def run(self, now: float) -> None:
        for _ in range(50):
            moved = False
            for x, y, me in ((self.a, self.b, A), (self.b, self.a, B)):
                out, x.out = x.out, []
                for data, dst, dport, sport in out:
                    moved = True
                    self.frames.append(udp6(me, str(dst), sport, dport, data))
                    y.input(data, me, sport, str(dst), dport, now)
            for x in (self.a, self.b):
                self.rows |= {s.ikev2_decryption_row() for s in x.sas.values() if s.keys}
                self.esp |= set(x.esp_sa_rows())
            if not moved:
                break

    def ping(self) -> None:
        """One echo each way through the current CHILD SA pair."""
        for eng, src, dst in ((self.ea, A, B), (self.eb, B, A)):
            sa = next(s for s in eng.sad if str(s.src) == src)
            self.seq += 1
            inner = echo6("2001:db8:a::1" if src == A else "2001:db8:b::1",
                          "2001:db8:b::1" if src == A else "2001:db8:a::1", self.seq)
            out = sa.transform("tunnel").output(inner)  # the outer IPv6 header and ESP
            assert out[6] == 50 and out[8:24] == ip_address(src).packed
            self.frames.append(out)

    def pcap(self, path: Path) -> Path:
        with path.open("wb") as f:
            w = PcapWriter(f, LINKTYPE_RAW)
            for i, fr in enumerate(self.frames):
                w.write(float(i), fr)
        return path


FIELDS = ["frame.number", "isakmp.exchangetype", "isakmp.enc.decrypted", "isakmp.enc.icd",
          "isakmp.notify.msgtype", "isakmp.ts.type", "isakmp.key_exchange.dh_group",
          "esp.spi", "esp.icv_good", "icmpv6.type", "_ws.malformed", "_ws.expert.severity",
          "_ws.expert.message"]


def tshark(pcap: Path, rows: set[str], esp: set[str]) -> list[dict[str, str]]:
    args = ["tshark", "-n", "-r", str(pcap), "-o", "esp.enable_encryption_decode:TRUE",
            "-o", "esp.enable_authentication_check:TRUE"]
    for r in sorted(rows):
        args += ["-o", f"uat:ikev2_decryption_table:{r}"]
    for r in sorted(esp):
        args += ["-o", f"uat:esp_sa:{r}"]
    args += ["-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=;"]
    for f in FIELDS:
        args += ["-e", f]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return [dict(zip(FIELDS, line.split("|"), strict=True))
            for line in done.stdout.splitlines()]


@pytest.mark.parametrize("prop,child", [
    (IkeProposal(12, 128, 12, 5, 31), ChildProposal(12, 128, 12)),
    (IkeProposal(20, 256, 0, 6, 19), ChildProposal(20, 128, 0)),
    (IkeProposal(13, 192, 12, 5, 14), ChildProposal(12, 128, 12)),  # AES-CTR (RFC 5930)
    (IkeProposal(3, 192, 2, 2, 14), ChildProposal(12, 256, 12)),  # 3DES
])
def test_tshark_decrypts_our_ikev2_and_the_esp_it_keys(prop: IkeProposal, child: ChildProposal,
                                                       tmp_path: Path) -> None:
    w = Wire(prop, child)
    w.a.initiate(w.a.peers[0], 0.0)
    w.run(0.0)
    w.ping()
    (sa,) = w.a.sas.values()
    assert w.a.rekey_child(sa, 1.0)  # CREATE_CHILD_SA with REKEY_SA and a KE (PFS)
    w.run(1.0)
    w.ping()
    (sb,) = w.b.sas.values()
    assert w.b.rekey_ike(sb, 2.0)  # CREATE_CHILD_SA for the IKE SA, then the old one's delete
    w.run(2.0)
    w.ping()
    w.a.shutdown(3.0)
    w.run(3.0)
    assert len(w.rows) == 2 and len(w.esp) == 4
    rows = tshark(w.pcap(tmp_path / "ike.pcap"), w.rows, w.esp)
    assert len(rows) == len(w.frames)
    # (a wrong SK_a shows as a warning, "Integrity Checksum Data is
    # incorrect"; a wrong SK_e as a malformed packet)
    bad = [r for r in rows if r["_ws.malformed"] or any(
        int(x, 0) >= 0x00600000 for x in r["_ws.expert.severity"].split(";") if x)]
    assert not bad, bad
    ike = [r for r in rows if r["isakmp.exchangetype"]]
    enc = [r for r in ike if r["isakmp.exchangetype"] != "34"]
    # every encrypted message decrypted, its integrity good
    assert len(enc) >= 10 and all(r["isakmp.enc.decrypted"] for r in enc), enc
    # what only the decrypted payloads show: the REKEY_SA notify, the KE of
    # the PFS rekey and of the IKE SA rekey, the selectors
    notes = ";".join(r["isakmp.notify.msgtype"] for r in enc)
    assert "16393" in notes.split(";")
    ccsa = [r for r in enc if r["isakmp.exchangetype"] == "36"]
    assert len(ccsa) == 4 and all(r["isakmp.key_exchange.dh_group"] for r in ccsa), ccsa
    assert sum(1 for r in enc if r["isakmp.ts.type"]) >= 4
    # the ESP of both CHILD SA generations decrypted, ICV good, echo inside
    esp = [r for r in rows if r["esp.spi"]]
    assert len(esp) == 6 and len({r["esp.spi"] for r in esp}) == 4
    assert all(r["esp.icv_good"] == "1" or child.encr == 20 for r in esp), esp
    assert all(r["icmpv6.type"] == "128" for r in esp), esp
