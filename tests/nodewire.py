"""A node on a fake wire, for unit tests that compare answers: one
interface with a static address (no DAD), the peer SRC in its neighbor
cache, no ICMPv6 rate limit; ``feed`` returns the IPv6 packets it sends to
SRC and ``answer`` summarizes one."""

from __future__ import annotations

import struct
from ipaddress import IPv6Address

from kame.knobs import Knobs
from kame.nd6 import codec
from kame.node import Node

SRC, DST = "2001:db8:f7::1", "2001:db8:f7::2"
MAC_NODE, MAC_PEER = bytes.fromhex("02000000f702"), bytes.fromhex("02000000f701")


def make_node(**knobs: int) -> Node:
    k = {"net.inet6.ip6.dad_count": 0, "net.inet6.icmp6.errppslimit": -1, **knobs}
    n = Node("frag", knobs=Knobs(k), seed=5)
    n.add_interface("eth0", MAC_NODE)
    n.up("eth0", 0.0)
    n.add_address("eth0", f"{DST}/64", 0.0)
    n.cache.set_permanent("eth0", IPv6Address(SRC), MAC_PEER)
    return n


def feed(node: Node, packets: list[bytes], now: float = 1.0) -> list[bytes]:
    """The IPv6 packets the node sends back to SRC for ``packets``."""
    out = []
    for p in packets:
        for _ifn, f in node.receive("eth0", codec.ether(MAC_NODE, MAC_PEER, p), now):
            if f[12:14] == b"\x86\xdd" and f[14 + 24:14 + 40] == IPv6Address(SRC).packed:
                out.append(f[14:])
    return out


def answer(p: bytes) -> tuple[object, ...]:
    """(type, code, pointer, invoking) of an ICMPv6 error, ("echo-reply",
    data) of a reply, else the raw packet."""
    if p[6] == 58 and p[40] < 128:
        return (p[40], p[41], struct.unpack_from("!I", p, 44)[0], p[48:])
    if p[6] == 58 and p[40] == 129:
        return ("echo-reply", p[48:])
    return ("other", p)
