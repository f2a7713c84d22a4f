"""ICMPv4 Redirects (RFC 1122 §3.2.2.2, RFC 1812 §5.2.7.2; kame.inet.icmp
``icmp_input`` -> ``rtredirect``, ``ip_forward``): a host obeys a redirect
from its current first hop only, validated as BSD's ``rtredirect``
(gateway directly reachable and not ours, the destination not on-link),
with a host route that expires; forged ones are counted drops; a router
sends redirects when it forwards back out the interface a datagram came
in on, within the ICMP rate limit. scapy builds the redirects."""

from __future__ import annotations

from ipaddress import IPv4Address

from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import Ether

from kame.inet import EchoReply4
from kame.knobs import Knobs
from kame.link.memory import MemoryLink, Simulation
from kame.node import Node

MA, MR, MR2 = "02:00:00:00:00:0a", "02:00:00:00:00:fe", "02:00:00:00:00:fd"
A, R, R2 = "192.0.2.1", "192.0.2.254", "192.0.2.253"
FAR = "198.51.100.7"


def host(**kn: int) -> Node:
    n = Node("a", knobs=Knobs({"net.link.ether.inet.dad_count": 0, **kn}), seed=1)
    n.add_interface("eth0", bytes.fromhex(MA.replace(":", "")))
    n.up("eth0", 0.0)
    n.add_address4("eth0", f"{A}/24", 0.0)
    n.poll(0.1)
    n.inet.route_add("default", R)
    return n


def redirect(frm: str, gw: str, dst: str = FAR, code: int = 1, src: str = A) -> bytes:
    inner = IP(src=src, dst=dst, ttl=63) / UDP(sport=1000, dport=53)
    return bytes(Ether(src=MR, dst=MA) / IP(src=frm, dst=A) /
                 ICMP(type=5, code=code, gw=gw) / bytes(inner)[:28])


def hop(n: Node, dst: str = FAR) -> str:
    rt = n.inet.rtalloc(IPv4Address(dst))
    assert rt is not None
    return str(rt.next_hop)


def test_host_obeys_its_first_hop_and_the_route_expires() -> None:
    n = host()
    assert hop(n) == R
    n.receive("eth0", redirect(R, R2), 1.0)
    assert hop(n) == R2 and n.stats["rts_dynamic"] == 1
    assert hop(n, "198.51.100.8") == R  # a host route: only that destination
    assert any(r[0] == f"{FAR}/32" and r[1] == R2 for r in n.inet.routes_table())
    # redirect code 0 (network) is taken as a host redirect too (RFC 1122)
    n.receive("eth0", redirect(R, R2, "203.0.113.9", code=0), 2.0)
    assert hop(n, "203.0.113.9") == R2 and hop(n, "203.0.113.10") == R
    # net.inet.icmp.redirtimeout (600 s): the learnt route goes
    n.poll(1.0 + 601.0)
    assert hop(n) == R


def test_forged_redirects_are_counted_and_change_nothing() -> None:
    n = host()
    cases = [
        redirect("192.0.2.99", R2),           # not our first hop towards FAR
        redirect(R, "10.0.0.1"),              # new gateway not on a connected network
        redirect(R, A),                       # new gateway is ourselves
        redirect(R, R2, dst="192.0.2.77"),    # an on-link destination has no first hop
        redirect(R, "192.0.2.255"),           # the subnet broadcast as a gateway
        redirect(R, "224.0.0.5"),             # a multicast gateway
    ]
    for i, f in enumerate(cases):
        n.receive("eth0", f, 1.0 + i)
    assert n.stats["rts_badredirect"] == len(cases) and n.stats["rts_dynamic"] == 0
    assert hop(n) == R and hop(n, "192.0.2.77") == "192.0.2.77"
    # a router ignores redirects (RFC 1812 §5.2.7.2), and drop_redirect drops them
    for kn in ({"net.inet.ip.forwarding": 1}, {"net.inet.icmp.drop_redirect": 1}):
        m = host(**kn)
        m.receive("eth0", redirect(R, R2), 1.0)
        assert hop(m) == R and m.stats["rts_dynamic"] == 0, kn
    # bad code
    n.receive("eth0", redirect(R, R2, code=7), 9.0)
    assert n.stats["icps_badcode"] == 1 and hop(n) == R


def test_dynamic_routes_are_bounded() -> None:
    n = host(**{"net.inet.icmp.maxdynroutes": 4})
    for i in range(10):
        n.receive("eth0", redirect(R, R2, f"198.51.100.{i + 10}"), 1.0 + i)
    assert n.stats["rts_dynamic"] == 10
    assert sum(1 for r in n.inet.routes.values() if r.expire is not None) == 4
    assert hop(n, "198.51.100.19") == R2 and hop(n, "198.51.100.10") == R


@settings(max_examples=50)
@given(st.binary(min_size=0, max_size=60), st.integers(0, 3))
def test_any_redirect_body_is_a_counted_drop_or_a_route(body: bytes, code: int) -> None:
    n = host()
    f = bytes(Ether(src=MR, dst=MA) / IP(src=R, dst=A) / ICMP(type=5, code=code, gw=R2) / body)
    n.receive("eth0", f, 1.0)
    assert n.stats["rts_dynamic"] + n.stats["rts_badredirect"] + n.stats["icps_badlen"] + \
        n.stats["icps_tooshort"] >= 1


def test_router_sends_redirects_out_the_same_interface_rate_limited() -> None:
    sim = Simulation()
    link = MemoryLink(delay=0.001)
    knobs = {"net.link.ether.inet.dad_count": 0}
    a = Node("a", knobs=Knobs(knobs), seed=1)
    r = Node("r", knobs=Knobs({**knobs, "net.inet.ip.forwarding": 1,
                                "net.inet.icmp.icmplim": 3}), seed=2)
    r2 = Node("r2", knobs=Knobs(knobs), seed=3)
    for n, mac, addr in ((a, MA, A), (r, MR, R), (r2, MR2, R2)):
        b = bytes.fromhex(mac.replace(":", ""))
        n.add_interface("eth0", b)
        sim.connect(n, "eth0", link, b)
        sim.emit(n, n.up("eth0", 0.0))
        n.add_address4("eth0", f"{addr}/24", 0.0)
    r2.add_interface("lo1", bytes.fromhex("0200000000dd"))
    r2.up("lo1", 0.0)
    r2.add_address4("lo1", f"{FAR}/24", 0.0)
    sim.run(until=0.2)
    a.inet.route_add("default", R)
    r.inet.route_add("198.51.100.0/24", R2)
    sim.emit(a, a.ping4(IPv4Address(FAR), sim.now, seq=1))
    sim.run(until=sim.now + 1.0)
    assert [e.seq for e in a.drain_events() if isinstance(e, EchoReply4)] == [1]
    assert r.stats["ips_redirectsent"] == 1 and r.stats["ips_forward"] == 1
    assert a.stats["rts_dynamic"] == 1 and hop(a) == R2
    sim.emit(a, a.ping4(IPv4Address(FAR), sim.now, seq=2))  # now straight to r2
    sim.run(until=sim.now + 1.0)
    assert [e.seq for e in a.drain_events() if isinstance(e, EchoReply4)] == [2]
    assert r.stats["ips_forward"] == 1
    # many sources at once: redirects within net.inet.icmp.icmplim a second
    t = sim.now
    for i in range(10):
        f = bytes(Ether(src=f"02:00:00:00:01:{i:02x}", dst=MR) /
                  IP(src=f"192.0.2.{20 + i}", dst="198.51.100.8") / UDP(sport=9, dport=9))
        r.receive("eth0", f, t)
    assert r.stats["ips_redirectsent"] == 1 + 3 and r.stats["ips_forward"] == 11
    # no redirect for a source that is not on the link, nor with redirect 0
    r.knobs["net.inet.ip.redirect"] = 0
    r.receive("eth0", bytes(Ether(src=MA, dst=MR) / IP(src=A, dst="198.51.100.8") /
                            UDP(sport=9, dport=9)), t + 5)
    assert r.stats["ips_redirectsent"] == 4
