"""The AH and ESP packets of issue 8 item 2, built with scapy, shared by
tests/test_node_ah_esp.py (our node alone) and
tests/interop/test_tap_ah_esp.py (our node and the Linux kernel over TAP).

Each case is what follows the IPv6 header, and the Parameter Problem
(code, pointer) a node without IPsec answers: the Linux kernel here, whose
AH and ESP are compiled out, answers exactly these.
"""

from __future__ import annotations

from scapy.layers.inet6 import (
    UDP,
    HBHOptUnknown,
    ICMPv6EchoRequest,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrRouting,
)
from scapy.layers.ipsec import AH, ESP
from scapy.packet import Packet

__all__ = ["CASES", "ah", "echo"]

#: the tunnelled packet's addresses (any: nothing reads past AH)
INNER_SRC, INNER_DST = "2001:db8:a::2", "2001:db8:a::1"


def ah(nh: int, spi: int = 0x4242) -> Packet:
    """An AH header with a 96-bit ICV (Payload Len 4: RFC 4302 §2.2;
    scapy leaves the field 0 unless told)."""
    return AH(nh=nh, payloadlen=4, spi=spi, seq=1, icv=b"\x5a" * 12)


def echo(seq: int) -> Packet:
    return ICMPv6EchoRequest(id=0x4b4d, seq=seq, data=b"kame")


BAD_DSTOPT = IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0x80, optdata=b"ab")])

#: name -> (packet after the IPv6 header, (code, pointer) of the Parameter
#: Problem a node without IPsec answers, the Linux kernel's answer here)
CASES: dict[str, tuple[Packet, tuple[int, int]]] = {
    "ah_unknown_spi": (ah(58) / echo(1), (1, 6)),
    "esp_unknown_spi": (ESP(spi=0x4242, seq=1, data=b"\x00" * 32), (1, 6)),
    "ah_tunnel_mode": (ah(41) / IPv6(src=INNER_SRC, dst=INNER_DST) / echo(2), (1, 6)),
    "ah_after_dstopts": (IPv6ExtHdrDestOpt(nh=51) / ah(58) / echo(3), (1, 40)),
    "ah_then_bad_dstopts": (ah(60) / BAD_DSTOPT / echo(4), (1, 6)),
    "bad_dstopts_then_ah": (BAD_DSTOPT / ah(58) / echo(5), (2, 42)),
    "ah_then_routing_type0": (ah(43) / IPv6ExtHdrRouting(type=0, segleft=1,
                                                          addresses=["2001:db8::5"]) / echo(6),
                              (1, 6)),
    "ah_then_fragment": (ah(44) / IPv6ExtHdrFragment(nh=58, offset=0, m=1, id=7)
                         / bytes.fromhex("800000004b4d0007"), (1, 6)),
    "ah_udp": (ah(17) / UDP(sport=1, dport=7) / b"kame", (1, 6)),
}
