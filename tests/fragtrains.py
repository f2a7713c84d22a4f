"""Fragment trains built with scapy (RFC 8200 §4.5), shared by the unit
tests and the interop tests (tests/ is on ``sys.path`` through its
conftest).

A *train* is the fragments of one datagram whose fragmentable part starts
with a chosen extension header (or with the upper-layer header itself):
every fragment repeats the 40-octet IPv6 header with Next Header 44, then
a Fragment header naming that first header, then its piece. The cuts are
absolute offsets in the fragmentable part, multiples of 8.

``FIRST`` names the first fragmentable headers: Destination Options, a
Routing header of type 0, 2 and 4 (SRH) with Segments Left 0 (skipped by a
node that does not process them, RFC 8200 §4.4, RFC 8754 §4.3.2), AH
(with its Next Header and Payload Len filled in: scapy leaves them 0 unless
a SecurityAssociation builds it), ESP, another Fragment header (an atomic
fragment inside the datagram) and "none" (the upper-layer header first).
"""

from __future__ import annotations

from typing import Any

from scapy.layers.inet import UDP
from scapy.layers.inet6 import (
    ICMPv6EchoRequest,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrRouting,
    IPv6ExtHdrSegmentRouting,
    PadN,
)
from scapy.layers.ipsec import AH, ESP
from scapy.packet import Raw

FIRST = ("none", "dst", "rt0", "rt2", "srh", "ah", "esp", "frag")
UPPERS = ("echo", "udp")

#: Octets of each first header (0 for "none").
FIRST_LEN = {"none": 0, "dst": 8, "rt0": 24, "rt2": 24, "srh": 24, "ah": 24, "esp": 0,
             "frag": 8}

#: The closed UDP port the trains are sent to.
CLOSED_PORT = 33434


def upper_layer(upper: str, data: bytes, seq: int) -> Any:
    if upper == "echo":
        return ICMPv6EchoRequest(id=0x4b46, seq=seq, data=data)
    if upper == "udp":
        return UDP(sport=40000 + seq % 1000, dport=CLOSED_PORT) / Raw(data)
    raise AssertionError(upper)


def first_header(first: str, src: str, dst: str, upper: str = "echo") -> Any:
    """The extension header that starts the fragmentable part (None for
    "none" and "esp", which are built with the upper layer)."""
    if first == "dst":
        return IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0" * 4)])
    if first == "rt0":
        return IPv6ExtHdrRouting(type=0, segleft=0, addresses=[src])
    if first == "rt2":
        return IPv6ExtHdrRouting(type=2, segleft=0, addresses=[dst])
    if first == "srh":
        return IPv6ExtHdrSegmentRouting(addresses=[dst], segleft=0, lastentry=0)
    if first == "ah":
        return AH(nh=58 if upper == "echo" else 17, payloadlen=4, spi=0x1000, seq=1,
                  icv=b"\xa5" * 12)
    if first == "frag":
        return IPv6ExtHdrFragment(offset=0, m=0, id=0x1F1F)
    return None


def datagram(src: str, dst: str, first: str, upper: str, data: bytes, seq: int = 1) -> bytes:
    """The whole datagram, unfragmented: IPv6, the first header, the upper layer."""
    ip = IPv6(src=src, dst=dst, hlim=64)
    if first == "esp":
        return bytes(ip / ESP(spi=0x1000, seq=seq) / Raw(data))
    up = upper_layer(upper, data, seq)
    hdr = first_header(first, src, dst, upper)
    alone = bytes(ip / up)
    if hdr is None:
        return alone
    # The upper layer as built without the header: its checksum covers the
    # same pseudo-header (the destination is final, the header is not
    # covered), and scapy cannot checksum UDP behind AH.
    pkt = bytes(ip / hdr / up)
    return pkt[:len(pkt) - (len(alone) - 40)] + alone[40:]


def train(whole: bytes, cuts: list[int], ident: int) -> list[bytes]:
    """The fragments of ``whole`` (an unfragmented datagram with no
    extension header in its unfragmentable part), cut at ``cuts`` (offsets
    in the fragmentable part, multiples of 8), in order."""
    nh, body = whole[6], whole[40:]
    hdr = IPv6(whole[:40])
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(body)), len(body)]
    out = []
    for i in range(len(bounds) - 1):
        a, b = bounds[i], bounds[i + 1]
        assert a % 8 == 0
        last = i == len(bounds) - 2
        f = IPv6(src=hdr.src, dst=hdr.dst, hlim=hdr.hlim, nh=44) / IPv6ExtHdrFragment(
            nh=nh, offset=a // 8, m=0 if last else 1, id=ident) / Raw(body[a:b])
        out.append(bytes(f))
    return out


def first_fragment_complete(first: str, upper: str, first_cut: int) -> bool:
    """Whether a first fragment carrying ``first_cut`` octets of the
    fragmentable part holds the whole chain through the upper-layer header
    (RFC 7112 §5; ICMPv6 needs its 8-octet header here, as in Linux, and
    cuts are multiples of 8 so RFC 4443's 4 octets never differ)."""
    need = FIRST_LEN[first]
    if first == "esp":
        return first_cut >= 8
    if first == "frag":
        need += 8  # the upper-layer header after the inner Fragment header
        return first_cut >= need
    need += 8  # ICMPv6 echo header or UDP header
    return first_cut >= need
