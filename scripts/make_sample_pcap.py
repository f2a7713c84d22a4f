"""Build python/kame/data/sample.pcap, the capture `kame dissect` reads when
given no file, with kame's own builders: a host's everyday traffic, then
packets that a strict stack must refuse (each with its verdict).

    python scripts/make_sample_pcap.py
"""

from __future__ import annotations

from pathlib import Path

import kame
from kame.link.pcap import LINKTYPE_RAW, PcapWriter

A, B = "2001:db8::1", "2001:db8::2"
LL1, LL2 = "fe80::200:ff:fe00:1", "fe80::200:ff:fe00:2"


def ip6(src, dst, nh, payload, hlim=64, plen=None):
    h = kame.Ipv6Header(src, dst, next_header=nh, hop_limit=hlim,
                        payload_len=len(payload) if plen is None else plen)
    return h.to_bytes() + payload


def icmp6(src, dst, msg, hlim=64):
    return ip6(src, dst, 58, msg.to_bytes(src, dst), hlim)


def packets() -> list[bytes]:
    out = []
    # Neighbor Discovery: DAD probe, resolution, router advertisement.
    out.append(icmp6("::", "ff02::1:ff00:1", kame.NeighborSolicitation(LL1, []), 255))
    out.append(icmp6(LL2, "ff02::1:ff00:1", kame.NeighborSolicitation(
        LL1, [kame.NdOptSourceLinkAddr(bytes.fromhex("020000000002"))]), 255))
    out.append(icmp6(LL1, LL2, kame.NeighborAdvertisement(
        LL1, False, True, True, [kame.NdOptTargetLinkAddr(bytes.fromhex("020000000001"))]), 255))
    out.append(icmp6("fe80::1", "ff02::1", kame.RouterAdvertisement(
        cur_hop_limit=64, router_lifetime=1800,
        options=[kame.NdOptPrefixInfo("2001:db8::", 64, valid_lifetime=86400, preferred_lifetime=14400),
                 kame.NdOptMtu(1500)]), 255))
    # Echo, UDP, TCP.
    out.append(icmp6(A, B, kame.Icmpv6Echo(128, 1, 1, b"kame" * 8)))
    out.append(icmp6(B, A, kame.Icmpv6Echo(129, 1, 1, b"kame" * 8)))
    out.append(ip6(A, B, 17, kame.UdpHeader(40001, 9, payload=b"\x12\x34" + b"q" * 30).to_bytes(A, B)))
    out.append(ip6(A, B, 6, kame.TcpHeader(40000, 443, seq=1, flags=0x02, window=65535,
                                           options=[("mss", 1440)]).to_bytes(A, B)))
    # MLD report behind a Hop-by-Hop Router Alert.
    hbh = kame.HopByHop([kame.Ipv6Option.router_alert(0)], next_header=58).to_bytes()
    mld = kame.Mldv2Report([kame.MldAddressRecord(4, "ff02::1:ff00:1", [])]).to_bytes(LL1, "ff02::16")
    out.append(ip6(LL1, "ff02::16", 0, hbh + mld, 1))
    # A UDP datagram fragmented for a 1280 path.
    big = ip6(A, B, 17, kame.UdpHeader(9, 9, payload=bytes(range(256)) * 8).to_bytes(A, B))
    out.extend(kame.fragment(big, 1280, 0x4b414d45))
    # The seed's jumbogram: ping6 -b 70000 -s 68000 ::1.
    echo = kame.Icmpv6Echo(128, 7, 1, b"j" * 68000).to_bytes("::1", "::1")
    jhbh = kame.HopByHop([kame.Ipv6Option.jumbo(len(echo) + 8)], next_header=58).to_bytes()
    out.append(ip6("::1", "::1", 0, jhbh + echo, plen=0))
    # --- what a strict stack refuses ---
    bad = bytearray(out[6])
    bad[-1] ^= 0xFF  # UDP checksum no longer matches
    out.append(bytes(bad))
    out.append(out[4][:60])  # "with data size < data length"
    chain = b""
    for i in range(60):  # 61 headers: past hdrnestlimit 50
        chain += kame.DestOpts([], next_header=60 if i < 59 else 59).to_bytes()
    out.append(ip6(A, B, 60, chain))
    jbad = kame.HopByHop([kame.Ipv6Option.jumbo(70000)], next_header=59).to_bytes()
    out.append(ip6(A, B, 0, jbad, plen=8))  # Jumbo with Payload Length != 0 (RFC 2675 §3)
    late = kame.HopByHop([], next_header=59).to_bytes()
    out.append(ip6(A, B, 60, kame.DestOpts([], next_header=0).to_bytes() + late))  # HBH not first
    return out


def main() -> None:
    path = Path(__file__).resolve().parent.parent / "python" / "kame" / "data" / "sample.pcap"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        w = PcapWriter(f, LINKTYPE_RAW, snaplen=262144)
        for i, p in enumerate(packets()):
            w.write(1700000000.0 + i * 0.001, p)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
