"""kame.socket: the seed's §1.12 table cell by cell, the per-platform text of
§1.12.1-§1.12.5, and UDP over two nodes on a memory link (delivery from
the node's input, ECONNREFUSED from a real Port Unreachable)."""

from __future__ import annotations

import errno
from ipaddress import IPv6Address as A
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kame.link.memory import MemoryLink, Simulation
from kame.node import Node
from kame.socket import (
    AF_INET,
    AF_INET6,
    IPPROTO_IPV6,
    IPV6_V6ONLY,
    PROFILES,
    SEED_TABLE,
    SO_REUSEADDR,
    SO_REUSEPORT,
    SOCK_DGRAM,
    SOL_SOCKET,
    SocketLayer,
    ntop6,
    profile_table_row,
)

KAME = [p for p in PROFILES.values() if p.platform.startswith("KAME/")]
SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "KAME-IMPLEMENTATION.txt"
for _cand in (SEED, Path("/work/shared/seeds/KAME-IMPLEMENTATION.txt")):
    if _cand.exists():
        SEED = _cand


def test_profiles_cover_every_row_of_the_seed_table() -> None:
    assert sorted(p.platform for p in KAME) == sorted(r[0] for r in SEED_TABLE)
    for p in KAME:
        assert profile_table_row(p) in SEED_TABLE


@pytest.mark.skipif(not SEED.exists(), reason="seed text not present")
def test_seed_table_is_the_seeds_own_text() -> None:
    """SEED_TABLE against the table in the seed file itself (§1.12)."""
    lines = SEED.read_text().splitlines()
    start = lines.index("1.12 IPv4 mapped address and IPv6 wildcard socket", 100)
    table = lines[start:start + 40]
    for platform, listening, initiating in SEED_TABLE:
        (i,) = [k for k, ln in enumerate(table) if ln.split() and ln.split()[0] == platform]
        first = " ".join(table[i].split()[1:])
        assert first.endswith(initiating)
        assert first[:-len(initiating)].strip() == listening.split(" default:")[0]
        if "default:" in listening:
            assert table[i + 1].strip() == "default: " + listening.split("default: ")[1]


def v4_to_v6_wildcard(layer: SocketLayer, v6only: int | None = None) -> bool:
    """Does an AF_INET6 wildcard socket get an IPv4 datagram?"""
    s = layer.socket(AF_INET6)
    if v6only is not None:
        s.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, v6only)
    s.bind(("::", 6000))
    c = layer.socket(AF_INET)
    c.sendto(b"v4", ("127.0.0.1", 6000))
    try:
        data, peer = s.recvfrom(10)
    except BlockingIOError:
        return False
    finally:
        s.close()
        c.close()
    assert data == b"v4" and peer[0] == "::ffff:127.0.0.1"
    return True


def mapped_connect_ok(layer: SocketLayer, v6only: int | None = None) -> bool:
    s = layer.socket(AF_INET6)
    if v6only is not None:
        s.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, v6only)
    r = layer.socket(AF_INET)
    r.bind(("127.0.0.1", 6001))
    try:
        s.connect(("::ffff:127.0.0.1", 6001))
    except OSError as e:
        assert e.errno == layer.profile.mapped_errno
        r.close()
        return False
    s.send(b"x")
    assert r.recvfrom(5) == (b"x", ("127.0.0.1", s.getsockname()[1]))
    assert s.getpeername() == ("::ffff:127.0.0.1", 6001, 0, 0)
    r.close()
    s.close()
    return True


@pytest.mark.parametrize("platform,listening,initiating", SEED_TABLE)
def test_listening_cell(platform: str, listening: str, initiating: str) -> None:
    (p,) = [q for q in KAME if q.platform == platform]
    layer = SocketLayer(None, p)
    if listening == "not supported":
        assert not v4_to_v6_wildcard(layer)
        with pytest.raises(OSError) as ei:
            layer.socket(AF_INET6).setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 0)
        assert ei.value.errno == errno.EINVAL
    elif listening == "enabled":
        assert v4_to_v6_wildcard(layer)
        with pytest.raises(OSError) as ei:  # "There is no way to disable the behavior."
            layer.socket(AF_INET6).setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1)
        assert ei.value.errno == errno.ENOPROTOOPT
    else:
        default = listening.endswith("enabled")
        assert v4_to_v6_wildcard(layer) is default
        assert layer.socket(AF_INET6).getsockopt(IPPROTO_IPV6, IPV6_V6ONLY) == int(not default)
        assert v4_to_v6_wildcard(layer, 0) is True      # per socket (setsockopt)
        assert v4_to_v6_wildcard(layer, 1) is False


@pytest.mark.parametrize("platform,listening,initiating", SEED_TABLE)
def test_initiating_cell(platform: str, listening: str, initiating: str) -> None:
    (p,) = [q for q in KAME if q.platform == platform]
    layer = SocketLayer(None, p)
    if initiating == "not supported":
        assert not mapped_connect_ok(layer)
        return
    if p.v6only_opt:
        # §1.12.2.2 / §1.12.3.2: supported when the socket accepts IPv4.
        assert mapped_connect_ok(layer, 0)
        assert not mapped_connect_ok(layer, 1)
    else:
        assert mapped_connect_ok(layer)


@pytest.mark.parametrize("p", [p for p in KAME if p.listening != "not supported"],
                         ids=lambda p: p.name)
def test_af_inet_socket_wins_over_the_v6_wildcard(p: object) -> None:
    """"Wildcard AF_INET6 socket grabs IPv4 connection if and only if ...
    there's no AF_INET socket that matches the IPv4 connection"."""
    layer = SocketLayer(None, p)  # type: ignore[arg-type]
    s6 = layer.socket(AF_INET6)
    if layer.profile.v6only_opt:
        s6.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 0)
    s6.bind(("::", 6002))
    s4 = layer.socket(AF_INET)
    s4.bind(("0.0.0.0", 6002))  # separate port spaces: no EADDRINUSE (§1.12)
    layer.socket(AF_INET).sendto(b"a", ("127.0.0.1", 6002))
    assert s4.recvfrom(5) == (b"a", ("127.0.0.1", s4.layer.pcbs[-1].lport))
    with pytest.raises(BlockingIOError):
        s6.recvfrom(5)
    s4.close()
    layer.socket(AF_INET).sendto(b"b", ("127.0.0.1", 6002))
    assert s6.recvfrom(5)[0] == b"b"


@pytest.mark.parametrize("p", KAME, ids=lambda p: p.name)
def test_kame_port_spaces_are_separate(p: object) -> None:
    layer = SocketLayer(None, p)  # type: ignore[arg-type]
    for v6only in (0, 1):
        s6 = layer.socket(AF_INET6)
        if layer.profile.v6only_opt and layer.profile.listening == "configurable":
            s6.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, v6only)
        s6.bind(("::", 6003))
        s4 = layer.socket(AF_INET)
        s4.bind(("0.0.0.0", 6003))
        s4.close()
        s6.close()


def test_linux_port_space_is_shared() -> None:
    layer = SocketLayer(None, "linux")
    layer.socket(AF_INET6).bind(("::", 6004))
    with pytest.raises(OSError) as ei:
        layer.socket(AF_INET).bind(("0.0.0.0", 6004))
    assert ei.value.errno == errno.EADDRINUSE


def test_netbsd_cannot_bind_mapped_freebsd_can() -> None:
    """§1.12.3.1: "You cannot bind(2) with IPv4 mapped address"; FreeBSD's
    unified inpcb takes it (and the socket is then an IPv4 one)."""
    nb = SocketLayer(None, "netbsd").socket(AF_INET6)
    nb.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 0)
    with pytest.raises(OSError) as ei:
        nb.bind(("::ffff:127.0.0.1", 6005))
    assert ei.value.errno == errno.EADDRNOTAVAIL
    fl = SocketLayer(None, "freebsd4x")
    fb = fl.socket(AF_INET6)
    fb.bind(("::ffff:127.0.0.1", 6005))
    assert fb.getsockname() == ("::ffff:127.0.0.1", 6005, 0, 0)
    with pytest.raises(OSError) as ei:
        fl.socket(AF_INET).bind(("127.0.0.1", 6005))
    assert ei.value.errno == errno.EADDRINUSE


def test_netbsd_sysctl_is_copied_at_creation_only() -> None:
    """§1.12.3: a sysctl change does not touch sockets already open."""
    node = Node("n")
    layer = SocketLayer(node, "netbsd")
    assert node.knobs["net.inet6.ip6.v6only"] == 1
    old = layer.socket(AF_INET6)
    node.knobs["net.inet6.ip6.v6only"] = 0
    new = layer.socket(AF_INET6)
    assert old.getsockopt(IPPROTO_IPV6, IPV6_V6ONLY) == 1
    assert new.getsockopt(IPPROTO_IPV6, IPV6_V6ONLY) == 0
    with pytest.raises(OSError):
        new.bind(("::", 0)) or new.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1)


def test_v6only_after_bind_is_einval() -> None:
    s = SocketLayer(None, "freebsd4x").socket(AF_INET6)
    s.bind(("::", 0))
    with pytest.raises(OSError) as ei:
        s.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1)
    assert ei.value.errno == errno.EINVAL


@pytest.mark.parametrize("name", ["netbsd", "freebsd4x", "openbsd", "linux"])
def test_bsd_reuse_rules(name: str) -> None:
    layer = SocketLayer(None, name)
    a = layer.socket(AF_INET6)
    a.bind(("::", 6006))
    b = layer.socket(AF_INET6)
    with pytest.raises(OSError):
        b.bind(("::1", 6006))  # specific under a wildcard, no reuse
    c = layer.socket(AF_INET6)
    c.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    if name == "linux":  # Linux wants SO_REUSEADDR on both
        with pytest.raises(OSError):
            c.bind(("::1", 6006))
    else:  # BSD in_pcbbind: the new socket's SO_REUSEADDR skips the wildcard
        c.bind(("::1", 6006))
    d, e = layer.socket(AF_INET6), layer.socket(AF_INET6)
    for s in (d, e):
        s.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1)
    d.bind(("::1", 6007))
    e.bind(("::1", 6007))


@given(st.integers(0, 2**128 - 1))
def test_ntop6_agrees_with_the_host(x: int) -> None:
    import socket

    a = A(x)
    assert ntop6(a) == socket.inet_ntop(socket.AF_INET6, a.packed)


@given(st.sampled_from([0, 1, 2**32 - 1, 2**32, 2**48 - 1, 0xFFFF << 32, (0xFFFF << 32) + 1,
                        0xFFFE << 32, 1 << 16, (1 << 16) - 1]))
def test_ntop6_edges(x: int) -> None:
    import socket

    assert ntop6(A(x)) == socket.inet_ntop(socket.AF_INET6, A(x).packed)


# --- over the node --------------------------------------------------------------

MA = bytes.fromhex("020000000a0a")
MB = bytes.fromhex("020000000b0b")


def two_nodes() -> tuple[Simulation, Node, Node, SocketLayer, SocketLayer]:
    link = MemoryLink(delay=0.001)
    sim = Simulation()
    a, b = Node("a", seed=1), Node("b", seed=2)
    a.add_interface("eth0", MA)
    b.add_interface("eth0", MB)
    sim.connect(a, "eth0", link, MA)
    sim.connect(b, "eth0", link, MB)
    sim.emit(a, a.up("eth0", 0.0))
    sim.emit(b, b.up("eth0", 0.0))
    a.add_address("eth0", "2001:db8::a/64", 0.0)
    sim.emit(a, a.poll(0.0))
    b.add_address("eth0", "2001:db8::b/64", 0.0)
    sim.emit(b, b.poll(0.0))
    sim.run(until=3.0)
    return sim, a, b, SocketLayer(a, "netbsd"), SocketLayer(b, "netbsd")


def test_udp_between_two_nodes_and_econnrefused() -> None:
    sim, a, b, la, lb = two_nodes()
    srv = lb.socket(AF_INET6, SOCK_DGRAM)
    srv.bind(("::", 5353))
    cli = la.socket(AF_INET6, SOCK_DGRAM)
    cli.connect(("2001:db8::b", 5353))
    assert cli.getsockname()[0] == "2001:db8::a"
    cli.send(b"hello")
    sim.emit(a, a.poll(sim.now))
    sim.run(until=sim.now + 1)
    data, peer = srv.recvfrom(100)
    assert data == b"hello" and peer[:2] == ("2001:db8::a", cli.getsockname()[1])
    srv.sendto(b"back", peer)
    sim.emit(b, b.poll(sim.now))
    sim.run(until=sim.now + 1)
    assert cli.recv(100) == b"back"
    assert lb.udpstat["udps_ipackets"] == 1
    # Close the server: the node answers Port Unreachable, the connected
    # client hears ECONNREFUSED on its next call (udp6_ctlinput).
    srv.close()
    cli.send(b"again")
    sim.emit(a, a.poll(sim.now))
    sim.run(until=sim.now + 1)
    with pytest.raises(ConnectionRefusedError):
        cli.recv(100)
    with pytest.raises(BlockingIOError):
        cli.recv(100)


def test_link_local_needs_a_scope_and_gets_it_back() -> None:
    sim, a, b, la, lb = two_nodes()
    srv = lb.socket(AF_INET6)
    srv.bind(("::", 7))
    cli = la.socket(AF_INET6)
    ll_b = next(x.addr for x in b.addresses("eth0") if x.addr.is_link_local)
    with pytest.raises(OSError) as ei:
        cli.sendto(b"x", (str(ll_b), 7))
    assert ei.value.errno == errno.EHOSTUNREACH
    cli.sendto(b"x", (f"{ll_b}%eth0", 7))
    sim.emit(a, a.poll(sim.now))
    sim.run(until=sim.now + 1)
    _data, peer = srv.recvfrom(10)
    assert peer[0].startswith("fe80::") and peer[3] == b.zones.by_name["eth0"]


def _udp_frame(src: str, dst: str, sport: int, dport: int, data: bytes, *,
               hlim: int = 64) -> bytes:
    from kame import _core
    from kame.nd6 import codec

    body = _core.UdpHeader(sport, dport, data).to_bytes(A(src), A(dst))
    hdr = _core.Ipv6Header(A(src), A(dst), next_header=17, hop_limit=hlim,
                           payload_len=len(body))
    return codec.ether(MB, MA, hdr.to_bytes() + body)


@pytest.mark.parametrize("name", ["freebsd4x", "bsdi4", "linux"])
def test_mapped_source_on_the_wire_never_reaches_a_socket(name: str) -> None:
    """§1.12.6/§1.12.7/§1.14: an IPv6 packet whose source is ::ffff:10.1.1.1
    must not reach an AF_INET6 socket that accepts IPv4 (it would pass for
    IPv4 peer 10.1.1.1); the node drops it, counted, and sends nothing."""
    sim, _a, b, _la, _lb = two_nodes()
    lb = SocketLayer(b, name)
    s = lb.socket(AF_INET6)
    if lb.profile.v6only_opt:
        s.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 0)
    s.bind(("::", 514))
    before = b.stats["ip6s_badscope"]
    out = b.receive("eth0", _udp_frame("::ffff:10.1.1.1", "2001:db8::b", 514, 514, b"x"),
                    sim.now)
    assert out == [] and b.stats["ip6s_badscope"] == before + 1
    with pytest.raises(BlockingIOError):
        s.recvfrom(10)
    # the same datagram from a real IPv6 source is delivered
    b.receive("eth0", _udp_frame("2001:db8::a", "2001:db8::b", 514, 514, b"y"), sim.now)
    assert s.recvfrom(10) == (b"y", ("2001:db8::a", 514, 0, 0))


def test_bad_udp_checksum_is_a_counted_drop_without_icmp() -> None:
    sim, _a, b, _la, lb = two_nodes()
    s = lb.socket(AF_INET6)
    s.bind(("::", 515))
    f = bytearray(_udp_frame("2001:db8::a", "2001:db8::b", 9, 515, b"abc"))
    f[-1] ^= 0xFF
    assert b.receive("eth0", bytes(f), sim.now) == []
    assert lb.udpstat["udps_badsum"] == 1
    with pytest.raises(BlockingIOError):
        s.recvfrom(10)


def test_no_socket_still_means_port_unreachable() -> None:
    sim, _a, b, _la, lb = two_nodes()
    before = b.stats["icp6s_error"]
    sim.emit(b, b.receive("eth0", _udp_frame("2001:db8::a", "2001:db8::b", 9, 516, b"abc"),
                          sim.now))
    sim.run(until=sim.now + 2)
    assert lb.udpstat["udps_noport"] == 1 and b.stats["icp6s_error"] == before + 1
    assert b.stats.outhist.get(1) == 1  # the Destination Unreachable left after ND


def test_multicast_goes_to_every_matching_socket() -> None:
    sim, _a, b, _la, lb = two_nodes()
    g = "ff02::fb"
    socks = []
    for _ in range(3):
        s = lb.socket(AF_INET6)
        s.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1)
        s.bind(("::", 5353))
        socks.append(s)
    b.join("eth0", A(g), sim.now)
    from kame import _core
    from kame.nd6 import codec

    body = _core.UdpHeader(5353, 5353, b"mdns").to_bytes(A("fe80::1"), A(g))
    pkt = _core.Ipv6Header(A("fe80::1"), A(g), next_header=17, hop_limit=255,
                           payload_len=len(body)).to_bytes() + body
    b.receive("eth0", codec.ether(bytes.fromhex("3333000000fb"), MA, pkt), sim.now)
    for s in socks:
        data, peer = s.recvfrom(10)
        assert data == b"mdns" and peer == ("fe80::1", 5353, 0, b.zones.by_name["eth0"])
    # unicast to the same port: one socket only (the newest, BSD's hash order)
    b.receive("eth0", _udp_frame("2001:db8::a", "2001:db8::b", 1, 5353, b"u"), sim.now)
    assert [bool(s.rcvq) for s in socks] == [False, False, True]


def test_bsd_sendto_on_connected_udp_is_eisconn() -> None:
    layer = SocketLayer(None, "netbsd")
    r = layer.socket(AF_INET6)
    r.bind(("::1", 6010))
    c = layer.socket(AF_INET6)
    c.connect(("::1", 6010))
    with pytest.raises(OSError) as ei:
        c.sendto(b"x", ("::1", 6011))
    assert ei.value.errno == errno.EISCONN
    c.send(b"y")
    assert r.recv(5) == b"y"
