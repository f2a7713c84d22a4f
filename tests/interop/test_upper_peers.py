"""Our ICMPv6 / ND / MLD / UDP / TCP / IPv4 bytes against independent
peers: scapy and dpkt parse what we build to the same field values and the
same checksums (they recompute them), we parse scapy's bytes to the same
values, and tshark dissects a corpus of our packets with no malformed
field, no expert error, and every checksum status "good".

The IPv6 header is assembled here with struct (the IPv6 builder belongs to
another area)."""

from __future__ import annotations

import ipaddress
import json
import shutil
import struct
import subprocess

import pytest

import kame

pytestmark = pytest.mark.interop

scapy_all = pytest.importorskip("scapy.all")
dpkt = pytest.importorskip("dpkt")

S6 = "fe80::1"
D6 = "ff02::1"
MAC = b"\x00\x11\x22\x33\x44\x55"


def ip6(src: str, dst: str, nh: int, payload: bytes, hlim: int = 255) -> bytes:
    s = ipaddress.IPv6Address(src).packed
    d = ipaddress.IPv6Address(dst).packed
    return struct.pack("!IHBB", 6 << 28, len(payload), nh, hlim) + s + d + payload


def ip6_jumbo(src: str, dst: str, nh: int, payload: bytes) -> bytes:
    # Hop-by-Hop with the Jumbo Payload option (RFC 2675 §2), Payload Length 0.
    hbh = struct.pack("!BBBBI", nh, 0, 0xC2, 4, len(payload) + 8)
    s = ipaddress.IPv6Address(src).packed
    d = ipaddress.IPv6Address(dst).packed
    return struct.pack("!IHBB", 6 << 28, 0, 0, 64) + s + d + hbh + payload


def ip4(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    h = kame.Ipv4Header(src, dst, proto, 20 + len(payload), ident=0x1234, flags=2)
    return h.to_bytes() + payload


def scapy_checksum_of(pkt, layer) -> int:
    """Ask scapy to recompute the checksum of `layer` from scratch."""
    name = "chksum" if layer.__name__ in ("IP", "UDP", "TCP") else "cksum"
    p = pkt.copy()
    delattr(p[layer], name)
    return getattr(type(pkt)(bytes(p))[layer], name)


# ------------------------------------------------------------------ scapy reads ours


def test_scapy_reads_echo():
    sa = scapy_all
    b = kame.Icmpv6Echo(type=128, ident=0x1234, seq=7, data=b"ping").to_bytes(S6, D6)
    p = sa.IPv6(ip6(S6, D6, 58, b))
    e = p[sa.ICMPv6EchoRequest]
    assert (e.id, e.seq, e.data) == (0x1234, 7, b"ping")
    assert e.cksum == scapy_checksum_of(p, sa.ICMPv6EchoRequest)


def test_scapy_reads_ra_with_options():
    sa = scapy_all
    ra = kame.RouterAdvertisement(
        cur_hop_limit=64,
        managed=True,
        other=True,
        preference=1,
        router_lifetime=1800,
        reachable_time=30000,
        retrans_timer=1000,
        options=[
            kame.NdOptSourceLinkAddr(MAC),
            kame.NdOptMtu(1480),
            kame.NdOptPrefixInfo("2001:db8:1::", 64, valid_lifetime=86400, preferred_lifetime=14400),
            kame.NdOptRouteInfo("2001:db8:2::", 48, 3, 600),
            kame.NdOptRdnss(["2001:db8::53", "2001:db8::54"], 300),
        ],
    )
    b = ra.to_bytes(S6, D6)
    p = sa.IPv6(ip6(S6, D6, 58, b))
    r = p[sa.ICMPv6ND_RA]
    assert (r.chlim, r.M, r.O, r.prf, r.routerlifetime, r.reachabletime, r.retranstimer) == (
        64, 1, 1, 1, 1800, 30000, 1000,
    )
    assert r.cksum == scapy_checksum_of(p, sa.ICMPv6ND_RA)
    assert p[sa.ICMPv6NDOptSrcLLAddr].lladdr == "00:11:22:33:44:55"
    assert p[sa.ICMPv6NDOptMTU].mtu == 1480
    pi = p[sa.ICMPv6NDOptPrefixInfo]
    assert (pi.prefix, pi.prefixlen, pi.L, pi.A, pi.validlifetime, pi.preferredlifetime) == (
        "2001:db8:1::", 64, 1, 1, 86400, 14400,
    )
    ri = p[sa.ICMPv6NDOptRouteInfo]
    assert (ri.prefix, ri.plen, ri.prf, ri.rtlifetime, ri.len) == ("2001:db8:2::", 48, 3, 600, 2)
    dns = p[sa.ICMPv6NDOptRDNSS]
    assert (dns.lifetime, list(dns.dns)) == (300, ["2001:db8::53", "2001:db8::54"])


def test_scapy_reads_ns_na_redirect():
    sa = scapy_all
    ns = kame.NeighborSolicitation("fe80::2", options=[kame.NdOptSourceLinkAddr(MAC)]).to_bytes(S6, "ff02::1:ff00:2")
    p = sa.IPv6(ip6(S6, "ff02::1:ff00:2", 58, ns))
    assert p[sa.ICMPv6ND_NS].tgt == "fe80::2"
    assert p[sa.ICMPv6ND_NS].cksum == scapy_checksum_of(p, sa.ICMPv6ND_NS)
    na = kame.NeighborAdvertisement("fe80::2", router=True, solicited=True, override=True,
                                    options=[kame.NdOptTargetLinkAddr(MAC)]).to_bytes("fe80::2", S6)
    p = sa.IPv6(ip6("fe80::2", S6, 58, na))
    n = p[sa.ICMPv6ND_NA]
    assert (n.R, n.S, n.O, n.tgt) == (1, 1, 1, "fe80::2")
    assert p[sa.ICMPv6NDOptDstLLAddr].lladdr == "00:11:22:33:44:55"
    assert n.cksum == scapy_checksum_of(p, sa.ICMPv6ND_NA)
    inner = ip6("2001:db8::1", "2001:db8::9", 59, b"")
    rd = kame.Redirect("fe80::9", "2001:db8::9", options=[kame.NdOptRedirectedHeader(inner)]).to_bytes(S6, "fe80::5")
    p = sa.IPv6(ip6(S6, "fe80::5", 58, rd))
    r = p[sa.ICMPv6ND_Redirect]
    assert (r.tgt, r.dst) == ("fe80::9", "2001:db8::9")
    assert r.cksum == scapy_checksum_of(p, sa.ICMPv6ND_Redirect)


def test_scapy_reads_mldv2_report_and_errors():
    sa = scapy_all
    rep = kame.Mldv2Report([
        kame.MldAddressRecord(4, "ff02::fb"),
        kame.MldAddressRecord(1, "ff05::1:3", ["2001:db8::1", "2001:db8::2"]),
    ]).to_bytes(S6, "ff02::16")
    p = sa.IPv6(ip6(S6, "ff02::16", 58, rep, hlim=1))
    r = p[sa.ICMPv6MLReport2]
    assert r.records_number == 2
    recs = r.records[0]  # scapy chains the second record as the first one's payload
    assert (recs.rtype, recs.dst) == (4, "ff02::fb")
    second = recs.payload
    assert second.dst == "ff05::1:3" and list(second.sources) == ["2001:db8::1", "2001:db8::2"]
    # and scapy builds the very same body
    theirs = sa.ICMPv6MLReport2(records=[
        sa.ICMPv6MLDMultAddrRec(rtype=4, dst="ff02::fb"),
        sa.ICMPv6MLDMultAddrRec(rtype=1, dst="ff05::1:3", sources=["2001:db8::1", "2001:db8::2"]),
    ])
    assert bytes(theirs)[4:] == rep[4:]
    assert r.cksum == scapy_checksum_of(p, sa.ICMPv6MLReport2)
    invoking = ip6("2001:db8::2", "2001:db8::1", 17, kame.UdpHeader(1, 2, b"x").to_bytes("2001:db8::2", "2001:db8::1"))
    du = kame.Icmpv6Error(type=1, code=4, invoking=invoking).to_bytes("2001:db8::1", "2001:db8::2")
    p = sa.IPv6(ip6("2001:db8::1", "2001:db8::2", 58, du))
    assert p[sa.ICMPv6DestUnreach].code == 4
    assert p[sa.ICMPv6DestUnreach].cksum == scapy_checksum_of(p, sa.ICMPv6DestUnreach)
    ptb = kame.Icmpv6Error(type=2, mtu=1280, invoking=invoking).to_bytes("2001:db8::1", "2001:db8::2")
    p = sa.IPv6(ip6("2001:db8::1", "2001:db8::2", 58, ptb))
    assert p[sa.ICMPv6PacketTooBig].mtu == 1280
    pp = kame.Icmpv6Error(type=4, code=1, pointer=6, invoking=invoking).to_bytes("2001:db8::1", "2001:db8::2")
    p = sa.IPv6(ip6("2001:db8::1", "2001:db8::2", 58, pp))
    assert p[sa.ICMPv6ParamProblem].ptr == 6


def test_scapy_reads_udp_tcp_ipv4():
    sa = scapy_all
    u = kame.UdpHeader(5353, 53, b"query").to_bytes("2001:db8::1", "2001:db8::2")
    p = sa.IPv6(ip6("2001:db8::1", "2001:db8::2", 17, u))
    assert (p[sa.UDP].sport, p[sa.UDP].dport, p[sa.UDP].len) == (5353, 53, 13)
    assert p[sa.UDP].chksum == scapy_checksum_of(p, sa.UDP)
    t = kame.TcpHeader(40000, 80, 1000, 0, 2, 65535, 0,
                       [("mss", 1440), ("sack_permitted", None), ("timestamps", (123, 0)), ("nop", None), ("wscale", 7)])
    tb = t.to_bytes("2001:db8::1", "2001:db8::2")
    p = sa.IPv6(ip6("2001:db8::1", "2001:db8::2", 6, tb))
    assert p[sa.TCP].flags == "S" and p[sa.TCP].seq == 1000
    assert {k: v for k, v in p[sa.TCP].options if k != "NOP"} == {
        "MSS": 1440, "SAckOK": b"", "Timestamp": (123, 0), "WScale": 7,
    }
    assert p[sa.TCP].chksum == scapy_checksum_of(p, sa.TCP)
    tb4 = kame.TcpHeader(80, 40000, 5, 1001, 0x18, 501, 0, [("nop", None), ("nop", None), ("sack", [(100, 200)])],
                         b"data").to_bytes("10.0.0.1", "10.0.0.2")
    p = sa.IP(ip4("10.0.0.1", "10.0.0.2", 6, tb4))
    assert p[sa.IP].chksum == scapy_checksum_of(p, sa.IP)
    assert p[sa.TCP].chksum == scapy_checksum_of(p, sa.TCP)
    assert (p[sa.IP].id, p[sa.IP].flags, p[sa.IP].ttl) == (0x1234, 2, 64)


# ------------------------------------------------------------------ we read scapy's


def test_we_read_scapy():
    sa = scapy_all
    pkt = sa.IPv6(src=S6, dst=D6) / sa.ICMPv6ND_RA(chlim=32, O=1, prf=3, routerlifetime=600) / \
        sa.ICMPv6NDOptSrcLLAddr(lladdr="00:11:22:33:44:55") / \
        sa.ICMPv6NDOptPrefixInfo(prefix="2001:db8:5::", prefixlen=56, L=1, A=0, validlifetime=7200, preferredlifetime=3600) / \
        sa.ICMPv6NDOptRDNSS(dns=["2001:db8::53"], lifetime=99) / \
        sa.ICMPv6NDOptRouteInfo(prefix="2001:db8:7::", plen=48, prf=1, rtlifetime=60)
    b = bytes(pkt)[40:]
    ra = kame.parse_icmpv6(b, S6, D6)
    assert isinstance(ra, kame.RouterAdvertisement)
    assert (ra.cur_hop_limit, ra.managed, ra.other, ra.preference, ra.router_lifetime) == (32, False, True, 3, 600)
    assert ra.source_lladdr == MAC
    (pi,) = ra.prefixes
    assert (str(pi.prefix), pi.prefix_len, pi.on_link, pi.autonomous, pi.valid_lifetime, pi.preferred_lifetime) == (
        "2001:db8:5::", 56, True, False, 7200, 3600,
    )
    assert [str(a) for a in ra.rdnss[0].servers] == ["2001:db8::53"] and ra.rdnss[0].lifetime == 99
    assert (str(ra.routes[0].prefix), ra.routes[0].prefix_len, ra.routes[0].preference) == ("2001:db8:7::", 48, 1)

    e = kame.parse_icmpv6(bytes(sa.IPv6(src=S6, dst=D6) / sa.ICMPv6EchoReply(id=9, seq=10, data=b"abc"))[40:], S6, D6)
    assert (e.type, e.ident, e.seq, e.data) == (129, 9, 10, b"abc")
    q = kame.parse_icmpv6(bytes(sa.IPv6(src=S6, dst=D6) / sa.ICMPv6MLQuery2(mladdr="ff02::fb", sources=["fe80::9"]))[40:], S6, D6)
    assert q.v2 and str(q.mcast_addr) == "ff02::fb" and [str(s) for s in q.sources] == ["fe80::9"]
    r2 = kame.parse_icmpv6(bytes(sa.IPv6(src=S6, dst="ff02::16") / sa.ICMPv6MLReport2(
        records=[sa.ICMPv6MLDMultAddrRec(rtype=2, dst="ff05::2", sources=["2001:db8::7"])]))[40:], S6, "ff02::16")
    assert r2.records[0].record_type == 2 and [str(s) for s in r2.records[0].sources] == ["2001:db8::7"]

    u = bytes(sa.IPv6(src="2001:db8::1", dst="2001:db8::2") / sa.UDP(sport=7, dport=9) / b"xyz")[40:]
    uh = kame.UdpHeader.from_bytes(u, "2001:db8::1", "2001:db8::2")
    assert (uh.src_port, uh.dst_port, uh.payload) == (7, 9, b"xyz")
    t = bytes(sa.IP(src="10.0.0.1", dst="10.0.0.2") / sa.TCP(sport=1, dport=2, flags="SA", seq=5, ack=6,
                                                            options=[("MSS", 536), ("NOP", None), ("WScale", 2)]))
    ih = kame.Ipv4Header.from_bytes(t)
    assert (str(ih.src), str(ih.dst), ih.protocol, ih.total_length) == ("10.0.0.1", "10.0.0.2", 6, len(t))
    th = kame.TcpHeader.from_bytes(t[20:], "10.0.0.1", "10.0.0.2")
    assert (th.flags, th.seq, th.ack) == (0x12, 5, 6)
    assert ("mss", 536) in th.options and ("wscale", 2) in th.options


# ------------------------------------------------------------------ dpkt


def test_dpkt_reads_ours():
    src, dst = "2001:db8::1", "2001:db8::2"
    cases = [
        (58, kame.Icmpv6Echo(ident=3, seq=4, data=b"dpkt").to_bytes(src, dst)),
        (58, kame.RouterAdvertisement(options=[kame.NdOptPrefixInfo("2001:db8::", 64)]).to_bytes(src, dst)),
        (58, kame.Icmpv6Error(type=2, mtu=1400, invoking=b"\x60" + bytes(47)).to_bytes(src, dst)),
        (17, kame.UdpHeader(1000, 2000, b"payload").to_bytes(src, dst)),
        (6, kame.TcpHeader(1, 2, 3, 4, 0x10, 100, 0, [("mss", 1200)], b"abc").to_bytes(src, dst)),
    ]
    for nh, b in cases:
        raw = ip6(src, dst, nh, b)
        p = dpkt.ip6.IP6(raw)
        theirs = dpkt.ip6.IP6(raw)
        theirs.data.sum = 0  # dpkt recomputes the upper-layer checksum on pack
        assert bytes(theirs) == raw, nh
    p = dpkt.ip6.IP6(ip6(src, dst, 58, cases[0][1]))
    assert (p.data.type, p.data.data.id, p.data.data.seq, p.data.data.data) == (128, 3, 4, b"dpkt")
    p = dpkt.ip6.IP6(ip6(src, dst, 17, cases[3][1]))
    assert (p.data.sport, p.data.dport, p.data.ulen, p.data.data) == (1000, 2000, 15, b"payload")
    p = dpkt.ip6.IP6(ip6(src, dst, 6, cases[4][1]))
    assert (p.data.sport, p.data.seq, p.data.ack, p.data.flags, p.data.data) == (1, 3, 4, 0x10, b"abc")
    assert dpkt.tcp.parse_opts(p.data.opts) == [(dpkt.tcp.TCP_OPT_MSS, struct.pack("!H", 1200))]

    tb = kame.TcpHeader(80, 81, payload=b"v4").to_bytes("10.0.0.1", "10.0.0.2")
    raw4 = ip4("10.0.0.1", "10.0.0.2", 6, tb)
    q = dpkt.ip.IP(raw4)
    assert (q.id, q.ttl, q.p, q.len) == (0x1234, 64, 6, len(raw4))
    q.sum = 0
    q.data.sum = 0
    assert bytes(q) == raw4


def test_we_read_dpkt():
    u = dpkt.udp.UDP(sport=11, dport=12, data=b"from dpkt")
    u.ulen = 8 + len(u.data)
    p = dpkt.ip6.IP6(src=ipaddress.IPv6Address("2001:db8::1").packed, dst=ipaddress.IPv6Address("2001:db8::2").packed,
                     nxt=17, hlim=64, data=u, plen=u.ulen)
    raw = bytes(p)
    uh = kame.UdpHeader.from_bytes(raw[40:], "2001:db8::1", "2001:db8::2")
    assert (uh.src_port, uh.dst_port, uh.payload) == (11, 12, b"from dpkt")


# ------------------------------------------------------------------ tshark


def write_pcap(path, packets):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 101))  # LINKTYPE_RAW
        for i, p in enumerate(packets):
            f.write(struct.pack("<IIII", i, 0, len(p), len(p)))
            f.write(p)


def corpus() -> list[bytes]:
    g = "2001:db8::1"
    h = "2001:db8::2"
    invoking = ip6(h, g, 17, kame.UdpHeader(40002, 9, b"discard").to_bytes(h, g))
    pkts = [
        ip6(S6, D6, 58, kame.Icmpv6Echo(ident=1, seq=1, data=b"abcdefgh").to_bytes(S6, D6)),
        ip6(S6, D6, 58, kame.Icmpv6Echo(type=129, ident=1, seq=1, data=b"x" * 100).to_bytes(S6, D6)),
        ip6(S6, "ff02::2", 58, kame.RouterSolicitation(options=[kame.NdOptSourceLinkAddr(MAC)]).to_bytes(S6, "ff02::2")),
        ip6(S6, D6, 58, kame.RouterAdvertisement(
            managed=True, preference=1, reachable_time=30000, retrans_timer=1000,
            options=[kame.NdOptSourceLinkAddr(MAC), kame.NdOptMtu(1500),
                     kame.NdOptPrefixInfo("2001:db8:1::", 64), kame.NdOptRouteInfo("2001:db8:2::", 48, 1, 600),
                     kame.NdOptRouteInfo("::", 0, 3, 60), kame.NdOptRouteInfo("2001:db8:3::1:0", 96, 0, 6),
                     kame.NdOptRdnss(["2001:db8::53"], 300)]).to_bytes(S6, D6)),
        ip6("::", "ff02::1:ff00:2", 58, kame.NeighborSolicitation(
            "fe80::2", options=[kame.NdOptNonce(b"\x01\x02\x03\x04\x05\x06")]).to_bytes("::", "ff02::1:ff00:2")),
        ip6(S6, "ff02::1:ff00:2", 58, kame.NeighborSolicitation(
            "fe80::2", options=[kame.NdOptSourceLinkAddr(MAC)]).to_bytes(S6, "ff02::1:ff00:2")),
        ip6("fe80::2", S6, 58, kame.NeighborAdvertisement(
            "fe80::2", solicited=True, override=True, options=[kame.NdOptTargetLinkAddr(MAC)]).to_bytes("fe80::2", S6)),
        ip6(S6, "fe80::5", 58, kame.Redirect("fe80::9", "2001:db8::9", options=[
            kame.NdOptTargetLinkAddr(MAC),
            kame.NdOptRedirectedHeader(ip6("fe80::5", "2001:db8::9", 59, b""))]).to_bytes(S6, "fe80::5")),
        ip6(g, h, 58, kame.Icmpv6Error(type=1, code=4, invoking=invoking).to_bytes(g, h)),
        ip6(g, h, 58, kame.Icmpv6Error(type=2, mtu=1280, invoking=invoking).to_bytes(g, h)),
        ip6(g, h, 58, kame.Icmpv6Error(type=3, code=0, invoking=invoking).to_bytes(g, h)),
        ip6(g, h, 58, kame.Icmpv6Error(type=4, code=0, pointer=4, invoking=invoking).to_bytes(g, h)),
        ip6(S6, D6, 58, kame.MldQuery(max_resp=10000).to_bytes(S6, D6), hlim=1),
        ip6(S6, D6, 58, kame.MldQuery(max_resp=1000, mcast_addr="ff02::fb", v2=True, qrv=2, qqic=125,
                                      sources=["fe80::7"]).to_bytes(S6, D6), hlim=1),
        ip6(S6, "ff02::fb", 58, kame.MldReport("ff02::fb").to_bytes(S6, "ff02::fb"), hlim=1),
        ip6(S6, "ff02::2", 58, kame.MldDone("ff02::fb").to_bytes(S6, "ff02::2"), hlim=1),
        ip6(S6, "ff02::16", 58, kame.Mldv2Report([kame.MldAddressRecord(4, "ff02::fb"),
                                                  kame.MldAddressRecord(1, "ff05::1:3", ["2001:db8::1"])]
                                                 ).to_bytes(S6, "ff02::16"), hlim=1),
        ip6(g, h, 17, kame.UdpHeader(40000, 9, b"discard me").to_bytes(g, h)),
        ip6(g, h, 6, kame.TcpHeader(40000, 9, 1000, 0, 2, 65535, 0, [("mss", 1440), ("sack_permitted", None),
                                    ("timestamps", (1, 0)), ("nop", None), ("wscale", 7)]).to_bytes(g, h)),
        ip6(g, h, 6, kame.TcpHeader(9, 40000, 5000, 1001, 0x18, 502, 0,
                                    [("nop", None), ("nop", None), ("timestamps", (5, 1))], b"hello").to_bytes(g, h)),
        ip4("10.0.0.1", "10.0.0.2", 17, kame.UdpHeader(40001, 9, b"v4 discard").to_bytes("10.0.0.1", "10.0.0.2")),
        ip4("10.0.0.1", "10.0.0.2", 6, kame.TcpHeader(1, 2, 3, 4, 0x10, 5, 0,
                                                      [("nop", None), ("nop", None), ("sack", [(1, 2)])],
                                                      b"x").to_bytes("10.0.0.1", "10.0.0.2")),
    ]
    return pkts


def walk(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from walk(v, k)
    elif isinstance(obj, list):
        for v in obj:
            yield from walk(v, path)
    else:
        yield path, obj


def tshark_json(tmp_path, pkts):
    pcap = tmp_path / "upper.pcap"
    write_pcap(pcap, pkts)
    out = subprocess.run(
        ["tshark", "-r", str(pcap), "-T", "json", "--no-duplicate-keys",
         "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"],
        capture_output=True, check=True, text=True,
    ).stdout
    return json.loads(out)


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_dissects_our_corpus(tmp_path):
    pkts = corpus()
    frames = tshark_json(tmp_path, pkts)
    assert len(frames) == len(pkts)
    statuses = {"icmpv6.checksum.status": 0, "udp.checksum.status": 0, "tcp.checksum.status": 0,
                "ip.checksum.status": 0}
    for i, fr in enumerate(frames):
        layers = fr["_source"]["layers"]
        text = json.dumps(layers)
        assert "_ws.malformed" not in text, (i, text[:2000])
        for key, val in walk(layers):
            if key == "_ws.expert.severity":
                assert int(val) < 8388608, (i, text[:3000])  # below PI_ERROR
            if key in statuses:
                # the invoking packet inside an ICMPv6 error carries its own
                # (correct) UDP checksum too
                assert val == "1", (i, key, text[:3000])
                statuses[key] += 1
    assert statuses["icmpv6.checksum.status"] >= 17
    assert statuses["udp.checksum.status"] >= 2
    assert statuses["tcp.checksum.status"] == 3
    assert statuses["ip.checksum.status"] >= 2
    # field values as tshark reads them
    ra = list(walk(frames[3]["_source"]["layers"]["icmpv6"]))
    got = {}
    for k, v in ra:
        got.setdefault(k, []).append(v)
    assert got["icmpv6.nd.ra.cur_hop_limit"] == ["64"]
    assert got["icmpv6.nd.ra.flag.m"] == ["1"] and got["icmpv6.nd.ra.flag.prf"] == ["1"]
    assert got["icmpv6.nd.ra.reachable_time"] == ["30000"]
    assert got["icmpv6.opt.type"] == ["1", "5", "3", "24", "24", "24", "25"]
    assert got["icmpv6.opt.src_linkaddr"] == ["00:11:22:33:44:55"]
    assert got["icmpv6.opt.mtu"] == ["1500"]
    assert got["icmpv6.opt.prefix"] == ["2001:db8:1::", "2001:db8:2::", "2001:db8:3::"]
    assert got["icmpv6.opt.prefix.length"] == ["64", "48", "0", "96"]
    assert got["icmpv6.opt.route_info.flag.route_preference"] == ["1", "3", "0"]
    assert got["icmpv6.opt.rdnss"] == ["2001:db8::53"]
    # MLDv2 report records
    mld = dict(walk(frames[16]["_source"]["layers"]["icmpv6"]))
    assert mld.get("icmpv6.mldr.nb_mcast_records") == "2"


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_udp_jumbogram(tmp_path):
    g, h = "2001:db8::1", "2001:db8::2"
    payload = bytes(range(256)) * 275  # 70400 octets
    u = kame.UdpHeader(7, 9, payload).to_bytes(g, h)
    assert u[4:6] == b"\0\0"
    frames = tshark_json(tmp_path, [ip6_jumbo(g, h, 17, u)])
    text = json.dumps(frames[0]["_source"]["layers"])
    assert "_ws.malformed" not in text
    vals = dict(walk(frames[0]["_source"]["layers"]))
    assert vals.get("ipv6.opt.jumbo") == str(len(u) + 8)
    assert vals.get("udp.checksum.status") == "1", text[:3000]
