"""Our RFC 7915 translator against TAYGA, field by field.

TAYGA (Debian's `tayga`, a stateless NAT64 on a TUN device in a throw-away
namespace) and `kame._core.Xlat` get the same configuration (the prefix
2001:db8:64::/96, one host mapped 1:1 as TAYGA's `map` / an RFC 7757 EAM)
and the same corpus, built with scapy: UDP, TCP, ICMP echo, every ICMP and
ICMPv6 error type with its inner packet, fragments both ways, what must be
dropped. Both outputs are dissected by scapy and compared field by field;
every difference must be one of ALLOWED, each explained by the RFC section
behind it (mostly: TAYGA 0.9.2 implements RFC 6145, which RFC 7915
replaced)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("scapy")

import xlat_rig as rig
from netns_rig import fresh_netns
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_LSRR, IPOption_RR
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6PacketTooBig,
    ICMPv6ParamProblem,
    ICMPv6TimeExceeded,
    ICMPv6Unknown,
    IPv6,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.packet import Packet, Raw

from kame import _core

H6, R6, H4, R4 = rig.HOST6, rig.REMOTE6, rig.HOST4, rig.REMOTE4
ROUTER4 = "198.51.100.1"
ROUTER6 = "2001:db8:64::c633:6401"


def v6(**kw: Any) -> IPv6:
    return IPv6(src=kw.pop("src", H6), dst=kw.pop("dst", R6), hlim=kw.pop("hlim", 30), **kw)


def v4(**kw: Any) -> IP:
    return IP(src=kw.pop("src", R4), dst=kw.pop("dst", H4), ttl=kw.pop("ttl", 30), **kw)


def inner6() -> Packet:
    """A packet the IPv6 host got from the IPv4 remote, quoted in its errors."""
    return IPv6(src=R6, dst=H6, hlim=20) / UDP(sport=53, dport=1000) / (b"r" * 32)


def inner4() -> Packet:
    """A packet the IPv6 host sent, as the IPv4 side saw it, quoted by a router."""
    return IP(src=H4, dst=R4, ttl=20, id=0) / UDP(sport=1000, dport=53) / (b"q" * 32)


def corpus() -> Iterator[tuple[str, bytes]]:
    pay = b"kame-xlat" * 3
    # --- IPv6 → IPv4
    yield "6to4 udp", bytes(v6(tc=0x28) / UDP(sport=1000, dport=53) / pay)
    yield "6to4 udp big (DF)", bytes(v6() / UDP(sport=1000, dport=53) / (b"x" * 1300))
    yield "6to4 tcp syn", bytes(v6() / TCP(sport=40000, dport=80, flags="S", seq=1,
                                            options=[("MSS", 1440), ("SAckOK", b""), ("WScale", 7)]))
    yield "6to4 tcp data", bytes(v6() / TCP(sport=40000, dport=80, flags="PA", seq=2, ack=9) / pay)
    yield "6to4 echo request", bytes(v6() / ICMPv6EchoRequest(id=7, seq=1, data=pay))
    yield "6to4 echo reply", bytes(v6() / ICMPv6EchoReply(id=7, seq=1, data=pay))
    whole = bytes(UDP(sport=1000, dport=53, len=8 + 64) / (b"f" * 64))
    yield "6to4 first fragment", bytes(v6() / IPv6ExtHdrFragment(nh=17, offset=0, m=1, id=0x1234) / whole[:32])
    yield "6to4 last fragment", bytes(v6() / IPv6ExtHdrFragment(nh=17, offset=4, m=0, id=0x1234) / whole[32:])
    yield "6to4 hop limit 1", bytes(v6(hlim=1) / UDP(sport=1000, dport=53) / pay)
    yield "6to4 hop-by-hop", bytes(v6() / IPv6ExtHdrHopByHop() / UDP(sport=1000, dport=53) / pay)
    yield "6to4 routing segleft 0", bytes(v6() / IPv6ExtHdrRouting(addresses=[R6], segleft=0)
                                          / UDP(sport=1000, dport=53) / pay)
    yield "6to4 udp zero checksum", bytes(v6() / UDP(sport=1000, dport=53, chksum=0) / pay)
    yield "6to4 unmapped source", bytes(v6(src="2001:db8:2::9") / UDP(sport=1000, dport=53) / pay)
    yield "6to4 echo unknown type", bytes(v6() / ICMPv6Unknown(type=200, code=0, msgbody=pay))
    for code in (0, 1, 2, 3, 4):
        yield f"6to4 unreach/{code}", bytes(v6() / ICMPv6DestUnreach(code=code) / inner6())
    yield "6to4 too big 1400", bytes(v6() / ICMPv6PacketTooBig(mtu=1400) / inner6())
    for code in (0, 1):
        yield f"6to4 time exceeded/{code}", bytes(v6() / ICMPv6TimeExceeded(code=code) / inner6())
    for code, ptr in ((0, 6), (0, 7), (0, 8), (0, 24), (0, 4), (0, 2), (1, 40), (2, 40)):
        yield f"6to4 param problem/{code} ptr {ptr}", bytes(v6() / ICMPv6ParamProblem(code=code, ptr=ptr)
                                                             / inner6())
    yield "6to4 unreach inner echo", bytes(
        v6() / ICMPv6DestUnreach(code=1) / IPv6(src=R6, dst=H6, hlim=9) / ICMPv6EchoReply(id=3, seq=4, data=pay))
    # --- IPv4 → IPv6
    yield "4to6 udp", bytes(v4(tos=0x28, id=77) / UDP(sport=53, dport=1000) / pay)
    yield "4to6 udp zero checksum", bytes(v4(id=78) / UDP(sport=53, dport=1000, chksum=0) / pay)
    yield "4to6 udp big DF clear", bytes(v4(id=79, flags=0) / UDP(sport=53, dport=1000) / (b"y" * 1300))
    yield "4to6 udp big DF set", bytes(v4(id=80, flags="DF") / UDP(sport=53, dport=1000) / (b"y" * 1300))
    yield "4to6 tcp syn-ack", bytes(v4(id=81, flags="DF") / TCP(sport=80, dport=40000, flags="SA", seq=5, ack=2,
                                                                  options=[("MSS", 1460)]))
    yield "4to6 echo request", bytes(v4(id=82) / ICMP(type=8, id=7, seq=1) / pay)
    yield "4to6 echo reply", bytes(v4(id=83) / ICMP(type=0, id=7, seq=1) / pay)
    whole4 = bytes(UDP(sport=53, dport=1000, len=8 + 64) / (b"g" * 64))
    yield "4to6 first fragment", bytes(v4(id=84, flags="MF", frag=0, proto=17) / whole4[:32])
    yield "4to6 last fragment", bytes(v4(id=84, flags=0, frag=4, proto=17) / whole4[32:])
    yield "4to6 ttl 1", bytes(v4(ttl=1, id=85) / UDP(sport=53, dport=1000) / pay)
    yield "4to6 record route", bytes(v4(id=86, options=[IPOption_RR(routers=["0.0.0.0"])])
                                     / UDP(sport=53, dport=1000) / pay)
    yield "4to6 source route", bytes(v4(id=87, options=[IPOption_LSRR(routers=[H4])])
                                     / UDP(sport=53, dport=1000) / pay)
    for code in range(16):
        err = ICMP(type=3, code=code, nexthopmtu=1400 if code == 4 else 0)
        yield f"4to6 unreach/{code}", bytes(v4(src=ROUTER4, id=100 + code) / err / inner4())
    yield "4to6 frag needed mtu 0", bytes(v4(src=ROUTER4, id=120) / ICMP(type=3, code=4) / inner4())
    for code in (0, 1):
        yield f"4to6 time exceeded/{code}", bytes(v4(src=ROUTER4, id=121 + code) / ICMP(type=11, code=code)
                                                  / inner4())
    for code, ptr in ((0, 9), (0, 8), (0, 12), (0, 16), (0, 4), (2, 1), (1, 0)):
        yield f"4to6 param problem/{code} ptr {ptr}", bytes(v4(src=ROUTER4, id=130) / ICMP(type=12, code=code,
                                                                                          ptr=ptr) / inner4())
    for t in (4, 5, 13, 15, 17, 9):
        yield f"4to6 icmp type {t}", bytes(v4(src=ROUTER4, id=140) / ICMP(type=t, code=0) / inner4())
    yield "4to6 unreach inner echo", bytes(v4(src=ROUTER4, id=150) / ICMP(type=3, code=1)
                                           / IP(src=H4, dst=R4, ttl=9) / ICMP(type=8, id=3, seq=4) / pay)


def dissect(p: bytes) -> Packet:
    return IPv6(p) if p[0] >> 4 == 6 else IP(p)


def fields(p: bytes) -> dict[str, Any]:
    """Every field scapy dissects, keyed ``"<n>:<Layer>.<field>"``."""
    out: dict[str, Any] = {}
    layer: Packet | None = dissect(p)
    n = 0
    while layer is not None and not (layer is None):
        name = type(layer).__name__
        for k, v in layer.fields.items():
            out[f"{n}:{name}.{k}"] = v
        if isinstance(layer, Raw):
            break
        layer = layer.payload if layer.payload else None
        n += 1
    return out


Rule = tuple[str, Callable[[str, Any, Any], bool], str]

# Every difference allowed between TAYGA and us, and the RFC section that
# explains it. A rule is (corpus-name prefix, predicate over
# (field, tayga value, our value), the explanation).
SUMS = (":IP.chksum", "ICMP.chksum", "UDP.chksum", "TCP.chksum", "UDPerror.chksum", "IPerror.chksum")
DERIVED = "checksums follow from the fields above (each side's checksum is verified separately)"


def _count(t: int, o: int) -> Callable[[str, Any, Any], bool]:
    return lambda f, tv, ov: f == "count" and (tv, ov) == (t, o)


ALLOWED: list[Rule] = [
    ("6to4", lambda f, t, o: f.endswith((":IP.flags", ":IPerror.flags")) and int(t) == 2 and int(o) == 0,
     ("RFC 7915 §5.1: DF is set only when the IPv4 packet exceeds 1260 octets; TAYGA follows RFC 6145 §5.1, "
      "which set DF on every packet")),
    ("6to4", lambda f, t, o: f.endswith(SUMS), DERIVED),
    ("4to6", lambda f, t, o: f.endswith(("chksum", "cksum")), DERIVED),
    # Whole packets TAYGA 0.9.2 drops and RFC 7915 translates:
    ("6to4 unreach/3", _count(0, 1),
     ("RFC 7915 §5.2: Destination Unreachable code 3 (address unreachable) becomes ICMPv4 Host Unreachable; "
      "TAYGA drops it")),
    ("6to4 param problem/0", _count(0, 1),
     "RFC 7915 §5.2 Figure 6 maps the Parameter Problem pointer; TAYGA drops every code-0 Parameter Problem"),
    ("6to4 unreach inner echo", _count(0, 1),
     ("RFC 7915 §5.3: the inner packet is translated, only a second embedded error stops it; TAYGA drops an "
      "error quoting an ICMPv6 echo")),
    ("4to6 udp zero checksum", _count(0, 1),
     ("RFC 7915 §4.5: an unfragmented zero-checksum UDP datagram SHOULD get its checksum computed "
      "(TAYGA drops it, the RFC's other option)")),
    ("4to6 param problem", _count(0, 1),
     "RFC 7915 §4.2 Figure 3 maps the Parameter Problem pointer; TAYGA drops every IPv4 Parameter Problem"),
    ("4to6 source route", lambda f, t, o: True,
     ("RFC 7915 §4.1: a packet with a source route option MUST NOT be translated; we answer Destination "
      "Unreachable/Source Route Failed (ICMPv4 3/5), TAYGA translates it ignoring the option")),
]


def explained(name: str, field: str, t: Any, o: Any) -> str | None:
    for prefix, pred, why in ALLOWED:
        if name.startswith(prefix):
            try:
                if pred(field, t, o):
                    return why
            except (TypeError, ValueError):
                continue
    return None


def checksums_ok(p: bytes) -> None:
    """Every checksum in the outer packet verifies (scapy recomputes them)."""
    d = dissect(p)
    for cls in (IP, UDP, TCP, ICMP):
        if cls in d and not d[cls].__class__.__name__.endswith("error"):
            lay = d[cls]
            if cls is UDP and lay.chksum == 0:
                continue
            if cls in (UDP, TCP) and (IP in d and d[IP].flags.MF or IPv6ExtHdrFragment in d):
                continue
            got = lay.chksum
            c = d.copy()
            del c[cls].chksum
            assert dissect(bytes(c))[cls].chksum == got, f"bad {cls.__name__} checksum"


@pytest.fixture(scope="module")
def tayga_feeder() -> Iterator[rig.Feeder]:
    with fresh_netns("xlt") as ns, rig.tayga(ns) as dev:
        f = rig.Feeder(ns, dev)
        try:
            yield f
        finally:
            f.close()


def ours() -> Any:
    return _core.Xlat(rig.PREFIX, [(H4, H6)], self4=rig.TAYGA4, self6=rig.TAYGA6, mtu6=9000, mtu4=9000)
    # TAYGA's TUN has MTU 9000: both next hops are 9000; IPv6 fragments at 1280 (lowest-ipv6-mtu).


def test_corpus_against_tayga(tayga_feeder: rig.Feeder) -> None:
    x = ours()
    report: list[str] = []
    unexplained: list[str] = []
    compared = 0
    for name, pkt in corpus():
        theirs = tayga_feeder.translate(pkt)
        kind, mine, reason = x.to6(pkt) if pkt[0] >> 4 == 4 else x.to4(pkt, 0)
        if kind == "back":
            # An error sent back to the sender, which TAYGA writes to its TUN too.
            pass
        if len(theirs) != len(mine):
            why = explained(name, "count", len(theirs), len(mine))
            line = f"{name}: TAYGA {len(theirs)} packets, ours {len(mine)} ({kind} {reason})"
            (report if why else unexplained).append(line + (f" -- {why}" if why else ""))
            continue
        for t, o in zip(theirs, mine):
            checksums_ok(o)
            ft, fo = fields(t), fields(o)
            compared += 1
            for k in sorted(set(ft) | set(fo)):
                tv, ov = ft.get(k), fo.get(k)
                if tv == ov:
                    continue
                why = explained(name, k, tv, ov)
                line = f"{name}: {k} TAYGA={tv!r} ours={ov!r}"
                (report if why else unexplained).append(line + (f" -- {why}" if why else ""))
    print("\n".join(report))
    assert compared > 40
    assert not unexplained, "unexplained differences from TAYGA:\n" + "\n".join(unexplained)


def test_feeder_is_not_blind(tayga_feeder: rig.Feeder) -> None:
    """The comparison can fail: a mis-translation we plant is seen as a difference."""
    pkt = bytes(v6() / UDP(sport=1000, dport=53) / b"abc")
    t = tayga_feeder.translate(pkt)
    assert len(t) == 1
    bad = bytearray(t[0])
    bad[8] ^= 1  # TTL off by one
    assert fields(bytes(bad)) != fields(t[0])
    _, mine, _ = ours().to4(pkt, 0)
    assert fields(mine[0])["0:IP.ttl"] == fields(t[0])["0:IP.ttl"]


def test_unique_names() -> None:
    names = [n for n, _ in corpus()]
    assert len(names) == len(set(names))
    assert uuid  # the rig makes unique namespace names
