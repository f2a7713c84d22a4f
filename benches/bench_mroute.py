"""Multicast forwarding rates (kame.ip6.mroute, kame.inet.mroute) against
plain unicast forwarding, in one run.

    python benches/bench_mroute.py [--n 20000] [--rounds 3]

Router node ``a`` (forwarding on) with a source link eth0 and listener
links eth1 and eth2; the listening state is given to the queriers
directly (MLDv2/IGMPv3 EXCLUDE({}) records). Each case hands ``a`` a
batch of ``--n`` Ethernet frames (UDP, 64 octets of payload) with
``receive_many`` and counts the frames it sends, packets in per second,
best of ``--rounds``:

- **unicast6**: IPv6 UDP forwarded to a resolved neighbor on eth1 (the
  baseline, ``ip6_forward``);
- **mcast6 x1 / x2**: IPv6 UDP to ff05::4242 with listeners on eth1 (and
  eth2): ``ip6_mforward``, the cache hit, a copy per link;
- **mcast4 x1 / x2**: the same for IPv4 to 239.1.2.3 (``ip_mforward``);
- **mcast6 miss**: every packet from another source (the cache's miss
  path, the RPF lookup, evictions past ``mfc_max``).

The load average is printed with the table (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import struct
import time
from ipaddress import IPv4Address, IPv6Address

from kame import _core
from kame.knobs import Knobs
from kame.mcast import MODE_IS_EXCLUDE
from kame.node import Node

KN = {"net.inet6.ip6.dad_count": 0, "net.link.ether.inet.dad_count": 0,
      "net.inet6.ip6.forwarding": 1, "net.inet.ip.forwarding": 1}
SMAC = bytes.fromhex("0200000000aa")
G6, G4 = IPv6Address("ff05::4242"), IPv4Address("239.1.2.3")


def setup() -> Node:
    a = Node("a", knobs=Knobs(KN), seed=1)
    for i in range(3):
        a.add_interface(f"eth{i}", bytes([2, 0, 0, 0, 0xA, i]))
        a.up(f"eth{i}", 0.0)
        a.add_address(f"eth{i}", f"2001:db8:{i}::1/64", 0.0)
        a.add_address4(f"eth{i}", f"10.{i}.0.1/24", 0.0)
    a.poll(0.0)
    a.poll(1.0)
    a.cache.set_permanent("eth1", IPv6Address("2001:db8:1::2"), bytes.fromhex("0200000000bb"))
    return a


def udp6(src: str, dst: IPv6Address | str, dmac: bytes) -> bytes:
    s, d = IPv6Address(src), IPv6Address(dst)
    body = _core.UdpHeader(4242, 4242, bytes(64)).to_bytes(s, d)
    hdr = _core.Ipv6Header(s, d, next_header=17, hop_limit=64,
                           payload_len=len(bytes(body))).to_bytes()
    return dmac + SMAC + b"\x86\xdd" + bytes(hdr) + bytes(body)


def udp4(src: str, dst: IPv4Address) -> bytes:
    body = struct.pack("!HHHH", 4242, 4242, 72, 0) + bytes(64)
    pkt = _core.ip_build(src, str(dst), 17, body, ttl=64)
    return bytes.fromhex("01005e") + (int(dst) & 0x7FFFFF).to_bytes(3, "big") + SMAC + \
        b"\x08\x00" + bytes(pkt)


def rate(a: Node, frames: list[bytes], rounds: int) -> tuple[float, int]:
    best, sent = 0.0, 0
    for _ in range(rounds):
        t = time.perf_counter()
        out = a.receive_many("eth0", frames, 2.0)
        dt = time.perf_counter() - t
        best = max(best, len(frames) / dt)
        sent = len(out)
    return best, sent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    n = args.n
    a = setup()
    m6 = b"\x33\x33" + G6.packed[-4:]
    rows = []
    uni = [udp6("2001:db8::5", "2001:db8:1::2", bytes.fromhex("020000000a00"))] * n
    rows.append(("unicast6", *rate(a, uni, args.rounds)))
    mc6 = [udp6("2001:db8::5", G6, m6)] * n
    mc4 = [udp4("10.0.0.5", G4)] * n
    a.route_add("2001:db8::/64", None, "eth0")
    a.mldr.report_input("eth1", [(MODE_IS_EXCLUDE, G6, [])], 2.0)
    a.inet.igmpr.report_input("eth1", [(MODE_IS_EXCLUDE, G4, [])], 2.0)
    rows.append(("mcast6 x1", *rate(a, mc6, args.rounds)))
    rows.append(("mcast4 x1", *rate(a, mc4, args.rounds)))
    a.mldr.report_input("eth2", [(MODE_IS_EXCLUDE, G6, [])], 2.0)
    a.inet.igmpr.report_input("eth2", [(MODE_IS_EXCLUDE, G4, [])], 2.0)
    rows.append(("mcast6 x2", *rate(a, mc6, args.rounds)))
    rows.append(("mcast4 x2", *rate(a, mc4, args.rounds)))
    miss = [udp6(f"2001:db8::{i % 60000 + 1:x}", G6, m6) for i in range(n)]
    rows.append(("mcast6 miss", *rate(a, miss, args.rounds)))
    print(f"load average {os.getloadavg()[0]:.2f}, n={n}, best of {args.rounds}")
    print(f"{'case':<14}{'pkt/s in':>12}{'frames out':>12}")
    for name, pps, sent in rows:
        print(f"{name:<14}{pps:>12,.0f}{sent:>12}")
    print(f"mfc entries {len(a.mfc)} (mfc_max {a.knobs['net.inet6.ip6.mfc_max']}), "
          f"evicted {a.stats['mrt6s_mfc_full']}")


if __name__ == "__main__":
    main()
