"""AH and ESP that no SA opens (issue 8 item 2; RFC 4302 §3.4.2, RFC 4303
§3.4.2: no SA, no delivery).

- With no key engine (``node.key is None``) the node is a node without
  IPsec, as the Linux kernel here (its AH and ESP are compiled out) and a
  KAME kernel built without ``options IPSEC``: AH and ESP are unknown
  protocols, delivered to raw sockets of 51/50 if any, otherwise answered
  with Parameter Problem code 1 pointing at the Next Header field that
  named them, and counted in ``ip6s_noproto``. Headers before AH are
  processed first (a bad Destination Options header before AH is its own
  Parameter Problem); nothing after AH is looked at: the headers it
  protects, a Fragment header, the packet it tunnels.
- With a key engine, AH or ESP whose SPI names no SA is dropped and
  counted (``in_nosa``, ``in_badspi``), whatever follows it.

scapy builds the packets and dissects the answers; the interop twin
(tests/interop/test_tap_ah_esp.py) sends the same packets to the Linux
kernel.
"""

from __future__ import annotations

from ipaddress import IPv6Address as A

import pytest
from ah_esp_packets import CASES, ah, echo
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ParamProblem,
    IPv6,
    IPv6ExtHdrFragment,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from kame.node import Node

ME_MAC, PEER_MAC = "02:00:00:00:0a:01", "02:00:00:00:0a:02"
ME, PEER = "2001:db8:a::1", "2001:db8:a::2"


def node(key: bool) -> Node:
    n = Node("ah", seed=3)
    n.add_interface("eth0", bytes.fromhex(ME_MAC.replace(":", "")))
    n.up("eth0", 0.0)
    n.add_address("eth0", f"{ME}/64", 0.0)
    n.cache.set_permanent("eth0", A(PEER), bytes.fromhex(PEER_MAC.replace(":", "")))
    for t in range(1, 40):
        n.poll(t / 10)
    assert all(a.usable for a in n.addresses("eth0"))
    if key:
        n.attach_key()
    n.drain_events()
    return n


def send(n: Node, l3: Packet, now: float = 5.0) -> list[Packet]:
    """Our answers (IPv6 packets to the peer, MLD and ND left out)."""
    frame = bytes(Ether(src=PEER_MAC, dst=ME_MAC) / l3)
    out = [Ether(f)[IPv6] for _, f in n.receive("eth0", frame, now)]
    return [p for p in out if p.dst == PEER]


def param_problem(out: list[Packet]) -> tuple[int, int] | None:
    pps = [p[ICMPv6ParamProblem] for p in out if ICMPv6ParamProblem in p]
    assert len(pps) <= 1, out
    return (pps[0].code, pps[0].ptr) if pps else None


@pytest.mark.parametrize("case", sorted(CASES))
def test_without_a_key_engine_ah_and_esp_are_unknown_protocols(case: str) -> None:
    n = node(key=False)
    body, answer = CASES[case]
    out = send(n, IPv6(src=PEER, dst=ME) / body)
    assert not any(ICMPv6EchoReply in p for p in out), out
    assert param_problem(out) == answer, out
    if answer[0] == 1:
        assert n.stats["ip6s_noproto"] == 1
        # the error quotes the packet: its Next Header octet names AH or ESP
        pp = next(p[ICMPv6ParamProblem] for p in out)
        assert bytes(pp.payload)[answer[1]] in (50, 51)
    assert n.reass.frags_held == 0  # AH before the Fragment header: never queued


@pytest.mark.parametrize("case", sorted(c for c in CASES if CASES[c][1][0] == 1))
def test_with_a_key_engine_and_no_sa_the_packet_is_dropped_and_counted(case: str) -> None:
    n = node(key=True)
    body, _ = CASES[case]
    out = send(n, IPv6(src=PEER, dst=ME) / body)
    assert out == [], out
    assert n.key.stats["in_nosa"] == 1 and n.key.stats["in_badspi"] == 1
    assert n.stats["ip6s_noproto"] == 0 and n.reass.frags_held == 0


def test_with_a_key_engine_a_bad_header_before_ah_is_still_answered() -> None:
    n = node(key=True)
    body, answer = CASES["bad_dstopts_then_ah"]
    assert param_problem(send(n, IPv6(src=PEER, dst=ME) / body)) == answer
    assert n.key.stats["in_nosa"] == 0


def test_ah_to_a_group_is_dropped_without_an_error() -> None:
    """RFC 4443 §2.4 (e): no Parameter Problem code 1 to a multicast
    destination; still not delivered."""
    for key in (False, True):
        n = node(key=key)
        out = send(n, IPv6(src=PEER, dst="ff02::1") / ah(58) / echo(9))
        assert out == [], out
        if key:
            assert n.key.stats["in_nosa"] == 1
        else:
            assert n.stats["ip6s_noproto"] == 1 and n.stats["icp6s_canterror"] == 1


def test_ah_fragmented_after_the_fragment_header_is_judged_once_reassembled() -> None:
    """AH after the Fragment header is in the fragmentable part: the
    datagram is reassembled first, then AH is an unknown protocol."""
    n = node(key=False)
    # the octets where the second fragment starts read as a harmless header
    # (Next Header 59, length 0): whatever a walker makes of them, the
    # fragment reaches reassembly
    data = b"k" * 16 + b"\x3b\x00" + b"y" * 46
    whole = bytes(IPv6(src=PEER, dst=ME) / ah(58)
                  / ICMPv6EchoRequest(id=0x4b4d, seq=10, data=data))[40:]
    f1 = IPv6(src=PEER, dst=ME) / IPv6ExtHdrFragment(nh=51, offset=0, m=1, id=99) / whole[:48]
    f2 = IPv6(src=PEER, dst=ME) / IPv6ExtHdrFragment(nh=51, offset=6, m=0, id=99) / whole[48:]
    assert send(n, f1) == []
    out = send(n, f2)
    assert param_problem(out) == (1, 6)  # reassembled: the IPv6 header names AH
    assert n.stats["ip6s_reassembled"] == 1 and n.stats["ip6s_noproto"] == 1


_NODES: dict[bool, Node] = {}


def shared_node(key: bool) -> Node:
    """One node per kind for the property below (set up once: DAD takes
    simulated seconds); each example checks counters as differences."""
    if key not in _NODES:
        _NODES[key] = node(key=key)
    return _NODES[key]


def _header(kind: str, nh: int, data: st.DataObject) -> bytes:
    if kind == "dstopts":
        opt = data.draw(st.sampled_from([b"\x01\x04\x00\x00\x00\x00",  # PadN
                                         b"\x80\x04abcd",  # unknown, discard + error
                                         b"\x00" * 6]))
        return bytes([nh, 0]) + opt
    if kind == "routing":
        rtype, segleft = data.draw(st.sampled_from([0, 2, 4, 253])), data.draw(st.integers(0, 2))
        return bytes([nh, 2, rtype, segleft, 0, 0, 0, 0]) + bytes(16)
    if kind == "fragment":
        off = data.draw(st.integers(0, 3))
        return bytes([nh, 0, off >> 5, ((off & 0x1F) << 3) | 1]) + data.draw(st.binary(
            min_size=4, max_size=4))
    plen = data.draw(st.integers(1, 6))  # AH: (plen + 2) * 4 octets
    return bytes([nh, plen, 0, 0]) + (0x4242).to_bytes(4, "big") + bytes((plen + 2) * 4 - 8)


_NH = {"dstopts": 60, "routing": 43, "fragment": 44, "ah": 51}


@given(data=st.data(), key=st.booleans(),
       kinds=st.lists(st.sampled_from(sorted(_NH)), min_size=1, max_size=5))
def test_ah_before_any_fragment_header_is_never_delivered(
        data: st.DataObject, key: bool, kinds: list[str]) -> None:
    """Any chain of Destination Options, Routing, Fragment and AH headers
    in front of an echo request: when an AH header comes before every
    Fragment header, no echo reply (nothing behind AH is delivered without
    its SA, RFC 4302 §3.4.2), and the node never raises."""
    n = shared_node(key)
    body = bytes(IPv6(src=PEER, dst=ME) / echo(1))[40:]  # its checksum over ME
    nhs = [_NH[k] for k in kinds] + [58]
    chain = b"".join(_header(k, nhs[i + 1], data) for i, k in enumerate(kinds))
    pkt = IPv6(src=PEER, dst=ME, nh=nhs[0]) / (chain + body)
    out = send(n, pkt, 10.0)
    first_frag = kinds.index("fragment") if "fragment" in kinds else len(kinds)
    if "ah" in kinds[:first_frag]:
        assert not any(ICMPv6EchoReply in p for p in out), kinds
        pp = param_problem(out)
        if not key and pp is not None and pp[0] == 1:
            assert bytes(out[0][ICMPv6ParamProblem].payload)[pp[1]] == 51
