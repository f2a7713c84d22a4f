"""Raw IPv4 sockets (SOCK_RAW, AF_INET; kame.socket.raw4: ``rip_input``,
``rip_output``) between two nodes on a memory link: protocol filtering,
the IP header on input, IP_HDRINCL on output (what the kernel fills in and
what it refuses), IPPROTO_RAW, bound and connected filters, Linux's
ICMP_FILTER, and the platform profiles' differences."""

from __future__ import annotations

import errno
import socket as hostsock
import struct
from ipaddress import IPv4Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kame import _core
from kame.knobs import Knobs
from kame.link.memory import MemoryLink, Simulation
from kame.node import Node
from kame.socket import AF_INET, SOCK_DGRAM, SOCK_RAW, SocketLayer

MA, MB = bytes.fromhex("02000000000a"), bytes.fromhex("02000000000b")
A, B = "192.0.2.1", "192.0.2.2"
IPPROTO_IP, IPPROTO_ICMP, IPPROTO_UDP, IPPROTO_RAW = 0, 1, 17, 255
EXP = 253  # RFC 3692 experimentation


def pair(profile: str = "linux") -> tuple[Simulation, Node, Node, SocketLayer, SocketLayer]:
    sim = Simulation()
    link = MemoryLink(delay=0.001)
    knobs = Knobs({"net.link.ether.inet.dad_count": 0})
    a, b = Node("a", knobs=knobs, seed=1), Node("b", knobs=Knobs(knobs._values), seed=2)
    for n, mac, addr in ((a, MA, A), (b, MB, B)):
        n.add_interface("eth0", mac)
        sim.connect(n, "eth0", link, mac)
        sim.emit(n, n.up("eth0", 0.0))
        n.add_address4("eth0", f"{addr}/24", 0.0)
    sim.run(until=0.1)
    return sim, a, b, SocketLayer(a, profile), SocketLayer(b, profile)


def flush(sim: Simulation, *nodes: Node, t: float = 0.5) -> None:
    for n in nodes:
        sim.emit(n, n.poll(sim.now))
    sim.run(until=sim.now + t)


def drain(s: object) -> list[tuple[bytes, tuple[str, int]]]:
    out = []
    while True:
        try:
            out.append(s.recvfrom(65535))  # type: ignore[attr-defined]
        except BlockingIOError:
            return out


@pytest.mark.parametrize("profile", ["linux", "freebsd4x"])
def test_a_protocol_of_our_own_both_ways_with_the_ip_header(profile: str) -> None:
    sim, a, b, la, lb = pair(profile)
    rb = lb.socket(AF_INET, SOCK_RAW, EXP)
    ra = la.socket(AF_INET, SOCK_RAW, EXP)
    assert ra.sendto(b"hello raw", (B, 0)) == 9
    flush(sim, a, b)
    got = drain(rb)
    assert len(got) == 1
    pkt, name = got[0]
    assert name == (A, 0)
    v = _core.ip_validate(pkt, True)
    assert (str(v.src), str(v.dst), v.protocol, pkt[v.header_len:]) == (A, B, EXP, b"hello raw")
    assert b.stats["ips_noproto"] == 0 and b.stats["icps_error"] == 0
    # no socket of that protocol: Protocol Unreachable, as before
    rb.close()
    ra.sendto(b"again", (B, 0))
    flush(sim, a, b)
    assert b.stats["ips_noproto"] == 1
    assert lb.udpstat["rips_ipackets"] == 1 and la.udpstat["rips_opackets"] == 2


@pytest.mark.parametrize("profile", ["linux", "freebsd4x"])
def test_raw_icmp_sees_echo_both_ends_and_the_application_checksums(profile: str) -> None:
    sim, a, b, la, lb = pair(profile)
    ra = la.socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)
    rb = lb.socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)
    echo = _core.icmp_build(8, 0, 0x12340001, b"ping")
    ra.sendto(echo, (B, 0))
    flush(sim, a, b)
    seen_b = drain(rb)
    seen_a = drain(ra)
    assert [p[20] for p, _n in seen_b] == [8]  # the request, answered by b's kernel too
    assert [(p[20], p[-4:]) for p, _n in seen_a] == [(0, b"ping")]
    assert b.stats["icps_reflect"] == 1
    # a bad checksum the application left is sent as it is, and counted at b
    bad = bytearray(echo)
    bad[2] ^= 0xFF
    ra.sendto(bytes(bad), (B, 0))
    flush(sim, a, b)
    assert b.stats["icps_checksum"] == 1


def test_linux_raw_sockets_see_udp_the_bsds_do_not() -> None:
    for profile, copies in (("linux", 1), ("freebsd4x", 0)):
        sim, a, b, la, lb = pair(profile)
        raw = lb.socket(AF_INET, SOCK_RAW, IPPROTO_UDP)
        u = lb.socket(AF_INET, SOCK_DGRAM)
        u.bind(("0.0.0.0", 7000))
        la.socket(AF_INET, SOCK_DGRAM).sendto(b"udp", (B, 7000))
        flush(sim, a, b)
        assert u.recv(10) == b"udp"
        assert len(drain(raw)) == copies, profile


@pytest.mark.parametrize("profile", ["linux", "freebsd4x"])
def test_hdrincl_fills_id_source_checksum_and_checks_length(profile: str) -> None:
    sim, a, b, la, lb = pair(profile)
    rb = lb.socket(AF_INET, SOCK_RAW, EXP)
    ra = la.socket(AF_INET, SOCK_RAW, EXP)
    assert ra.getsockopt(IPPROTO_IP, hostsock.IP_HDRINCL) == 0
    ra.setsockopt(IPPROTO_IP, hostsock.IP_HDRINCL, 1)
    body = b"built by the application"
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0x10, 20 + len(body), 0, 0, 7, EXP, 0xBEEF,
                      bytes(4), IPv4Address(B).packed)
    ra.sendto(hdr + body, (B, 0))
    flush(sim, a, b)
    (pkt, _n), = drain(rb)
    v = _core.ip_validate(pkt, True)  # the checksum was filled in
    assert (str(v.src), v.ttl, v.tos, pkt[20:]) == (A, 7, 0x10, body)
    assert pkt[4:6] != b"\0\0"  # an IP ID was given
    # a total length that lies: Linux fixes it, the BSDs refuse it
    lie = bytearray(hdr)
    lie[2:4] = struct.pack("!H", 999)
    if profile == "linux":
        ra.sendto(bytes(lie) + body, (B, 0))
        flush(sim, a, b)
        assert _core.ip_validate(drain(rb)[0][0], True).total_len == 20 + len(body)
    else:
        with pytest.raises(OSError) as e:
            ra.sendto(bytes(lie) + body, (B, 0))
        assert e.value.errno == errno.EINVAL
    for short in (b"", b"\x45" * 19, b"\x46" + hdr[1:] + body[:2]):
        with pytest.raises(OSError) as e:
            ra.sendto(short, (B, 0))
        assert e.value.errno == errno.EINVAL
    with pytest.raises(OSError) as e:
        ra.sendto(hdr + bytes(65600), (B, 0))
    assert e.value.errno == errno.EMSGSIZE


def test_ipproto_raw_and_protocol_zero_per_profile() -> None:
    sim, a, b, la, lb = pair("linux")
    r = la.socket(AF_INET, SOCK_RAW, IPPROTO_RAW)
    assert r.getsockopt(IPPROTO_IP, hostsock.IP_HDRINCL) == 1  # implied on Linux
    with pytest.raises(OSError) as e:
        la.socket(AF_INET, SOCK_RAW, 0)
    assert e.value.errno == errno.EPROTONOSUPPORT
    rb = lb.socket(AF_INET, SOCK_RAW, EXP)
    hdr = _core.ip_build(A, B, EXP, b"via IPPROTO_RAW", ttl=9)
    r.sendto(hdr, (B, 0))
    flush(sim, a, b)
    assert [p[20:] for p, _n in drain(rb)] == [b"via IPPROTO_RAW"]
    assert drain(r) == []  # IPPROTO_RAW never receives
    with pytest.raises(OSError) as e:
        la.socket(AF_INET, SOCK_DGRAM).setsockopt(IPPROTO_IP, hostsock.IP_HDRINCL, 1)
    assert e.value.errno == errno.ENOPROTOOPT
    # FreeBSD: protocol 0 takes every protocol no one else claims
    sim, a, b, la, lb = pair("freebsd4x")
    any_ = lb.socket(AF_INET, SOCK_RAW, 0)
    la.socket(AF_INET, SOCK_RAW, EXP).sendto(b"to anyone", (B, 0))
    flush(sim, a, b)
    assert [p[20:] for p, _n in drain(any_)] == [b"to anyone"]
    with pytest.raises(OSError) as e:
        la.socket(AF_INET, SOCK_DGRAM).setsockopt(IPPROTO_IP, hostsock.IP_HDRINCL, 1)
    assert e.value.errno == errno.EINVAL


def test_bound_connected_filters_and_linux_icmp_filter() -> None:
    sim, a, b, la, lb = pair("linux")
    bound_other = lb.socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)
    with pytest.raises(OSError) as e:
        bound_other.bind(("192.0.2.99", 0))
    assert e.value.errno == errno.EADDRNOTAVAIL
    conn_other = lb.socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)
    conn_other.connect(("192.0.2.77", 0))
    conn_a = lb.socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)
    conn_a.connect((A, 0))
    filt = lb.socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)
    filt.setsockopt(255, 1, struct.pack("=I", 1 << 8))  # SOL_RAW, ICMP_FILTER: block echo
    la.socket(AF_INET, SOCK_RAW, IPPROTO_ICMP).sendto(_core.icmp_build(8, 0, 1, b"x"), (B, 0))
    flush(sim, a, b)
    assert drain(conn_other) == [] and len(drain(conn_a)) == 1 and drain(filt) == []
    assert lb.udpstat["rips_filtered"] == 1


@settings(max_examples=60)
@given(st.binary(max_size=80), st.booleans())
def test_any_bytes_through_hdrincl_are_sent_or_refused(data: bytes, linux: bool) -> None:
    sim, a, b, la, _lb = pair("linux" if linux else "freebsd4x")
    r = la.socket(AF_INET, SOCK_RAW, EXP)
    r.setsockopt(IPPROTO_IP, hostsock.IP_HDRINCL, 1)
    try:
        r.sendto(data, (B, 0))
    except OSError as e:
        assert e.errno in (errno.EINVAL, errno.EMSGSIZE, errno.ENETUNREACH, errno.EADDRNOTAVAIL)
    flush(sim, a, b, t=0.05)
