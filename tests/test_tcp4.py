"""TCP over IPv4 (issue 9): kame.tcp over kame.inet between two of our nodes
on the memory link: AF_INET sockets and AF_INET6 sockets with ``::ffff:``
addresses under the §1.12 profile rules, the IPv4 pseudo-header, DF on
every segment (RFC 1191), the MSS (link MTU - 40; ``mssdflt`` 536 when the
peer sends none), a RST for a segment no connection takes, and
``tcp_ctlinput`` (Fragmentation Needed, unreachables)."""

from __future__ import annotations

import errno
import random
from ipaddress import IPv4Address
from typing import Any

import pytest
from tcp_pair import MA, MB, Pair, pump

from kame import _core
from kame.socket import AF_INET, AF_INET6
from kame.socket.stream import SOCK_STREAM, StreamSocket
from kame.tcp.var import TH_ACK, TH_SYN

A, B = "192.0.2.1", "192.0.2.2"
MAPPED_A, MAPPED_B = "::ffff:" + A, "::ffff:" + B


class Pair4(Pair):
    """tests/tcp_pair.py's :class:`Pair` over IPv4 (A, B on one /24),
    every frame captured; :meth:`connect` with the sockets' families."""

    def __init__(self, profile: str = "linux", seed: int = 0, **link: Any) -> None:
        super().__init__(profile, seed=seed, capture=True, inet4=(A, B), **link)

    def accept(self, srv: StreamSocket) -> tuple[StreamSocket, tuple[Any, ...]]:
        for _ in range(self.tries):
            self.run(0.05)
            try:
                return srv.accept()
            except BlockingIOError:
                continue
        raise AssertionError("no connection")

    def connect(self, sfam: int, cfam: int, dst: str,  # type: ignore[override]
                port: int = 80
                ) -> tuple[StreamSocket, StreamSocket, StreamSocket, tuple[Any, ...]]:
        srv = self.lb.socket(sfam, SOCK_STREAM)
        srv.bind(("0.0.0.0" if sfam == AF_INET else "::", port))
        srv.listen(8)
        cli = self.la.socket(cfam, SOCK_STREAM)
        with pytest.raises(BlockingIOError) as ei:
            cli.connect((dst, port))
        assert ei.value.errno == errno.EINPROGRESS
        conn, peer = self.accept(srv)
        return srv, cli, conn, peer

    def tcp_frames(self) -> list[bytes]:
        """The IPv4 datagrams carrying TCP seen on the link."""
        return [f[14:] for _t, f in self.frames if f[12:14] == b"\x08\x00" and f[14 + 9] == 6]


def check_wire(p: Pair4) -> None:
    """Every segment: DF set, the IPv4 header and TCP checksums right."""
    frames = p.tcp_frames()
    assert frames
    for ip in frames:
        v = _core.ip_validate(ip, False)
        assert v.df and not v.is_fragment
        seg = ip[v.header_len:v.total_len]
        _core.tcp_input_parse(seg, v.src.packed, v.dst.packed)  # raises on a bad checksum


@pytest.mark.parametrize("profile", ["linux", "freebsd4x", "netbsd", "openbsd"])
def test_af_inet_transfer_random_sizes(profile: str) -> None:
    rng = random.Random(profile)
    p = Pair4(profile, seed=len(profile), loss=0.02, reorder=0.03)
    _srv, cli, conn, peer = p.connect(AF_INET, AF_INET, B)
    assert peer == (A, cli.getsockname()[1])
    assert cli.getpeername() == (B, 80)
    ci = cli.tcp_info()
    assert ci["advmss"] == 1500 - 40 and ci["mss"] == 1500 - 40 - 12 and ci["ts"]
    up, down = rng.randbytes(rng.randrange(1, 200_000)), rng.randbytes(rng.randrange(1, 60_000))
    assert pump(p, cli, conn, up) == up
    assert pump(p, conn, cli, down) == down
    check_wire(p)
    assert p.a.stats["tcps_sndbyte"] >= len(up) and p.b.stats["tcps_rcvbyte"] >= len(up)
    p.run(130)
    assert not p.a.tcp.conns and not p.b.tcp.conns


@pytest.mark.parametrize("profile", ["linux", "freebsd4x"])
def test_mapped_addresses_on_af_inet6_sockets(profile: str) -> None:
    """§1.12: an AF_INET6 wildcard listener (v6only off) takes IPv4
    connections and names the peer ::ffff:a.b.c.d; an AF_INET6 client
    connects to ::ffff:a.b.c.d (the initiating side)."""
    rng = random.Random(7)
    p = Pair4(profile)
    _srv, cli, conn, peer = p.connect(AF_INET6, AF_INET6, MAPPED_B)
    assert peer[0] == MAPPED_A and peer[1] == cli.getsockname()[1]
    assert cli.getpeername()[:2] == (MAPPED_B, 80)
    assert cli.getsockname()[0] == MAPPED_A and conn.getsockname()[:2] == (MAPPED_B, 80)
    for _ in range(3):
        data = rng.randbytes(rng.randrange(1, 150_000))
        a, b = (cli, conn) if rng.random() < 0.5 else (conn, cli)
        got = bytearray()
        sent = 0
        while len(got) < len(data):
            if sent < len(data):
                try:
                    sent += a.send(data[sent:sent + 65536])
                except BlockingIOError:
                    pass
            p.run(0.02)
            try:
                got += b.recv(1 << 20)
            except BlockingIOError:
                pass
        assert bytes(got) == data
    check_wire(p)


def test_mapped_mixed_af_inet_client_to_v6_listener() -> None:
    p = Pair4("freebsd4x")
    _srv, cli, conn, peer = p.connect(AF_INET6, AF_INET, B)
    assert peer[0] == MAPPED_A and cli.getpeername() == (B, 80)
    data = random.Random(3).randbytes(30_000)
    assert pump(p, cli, conn, data) == data


def test_openbsd_refuses_mapped_both_ways() -> None:
    """§1.12.5: no IPv4 through AF_INET6 sockets: a connect to ::ffff:
    fails (EINVAL), and a SYN for an AF_INET6 wildcard listener finds no
    listener: RST, the connect is refused."""
    p = Pair4("openbsd")
    c6 = p.la.socket(AF_INET6, SOCK_STREAM)
    with pytest.raises(OSError) as ei:
        c6.connect((MAPPED_B, 80))
    assert ei.value.errno == errno.EINVAL
    srv = p.lb.socket(AF_INET6, SOCK_STREAM)
    srv.bind(("::", 80))
    srv.listen(8)
    cli = p.la.socket(AF_INET, SOCK_STREAM)
    with pytest.raises(BlockingIOError):
        cli.connect((B, 80))
    p.run(1.0)
    assert cli.connect_ex((B, 80)) == errno.ECONNREFUSED or \
        cli.getsockopt(1, 4) == errno.ECONNREFUSED  # SO_ERROR
    assert p.b.stats["tcps_noport"] == 1 and p.b.stats["tcps_sndrst"] == 1
    with pytest.raises(BlockingIOError):
        srv.accept()


def test_v6only_listener_refuses_ipv4_on_linux() -> None:
    p = Pair4("linux")
    srv = p.lb.socket(AF_INET6, SOCK_STREAM)
    srv.setsockopt(41, 26, 1)  # IPV6_V6ONLY
    srv.bind(("::", 80))
    srv.listen(8)
    cli = p.la.socket(AF_INET, SOCK_STREAM)
    assert cli.connect_ex((B, 80)) == errno.EINPROGRESS
    p.run(1.0)
    assert cli.getsockopt(1, 4) == errno.ECONNREFUSED
    assert p.b.stats["tcps_noport"] == 1


def test_mssdflt_when_the_peer_sends_none() -> None:
    """net.inet.tcp.mssdflt (536) for an IPv4 peer that offers no MSS."""
    p = Pair4()
    tcp = p.a.tcp
    tp = tcp.newtcpcb(IPv4Address(A), 4000, IPv4Address(B), 80, p.sim.now)
    tcp.tcp_mss(tp, None, p.sim.now)
    assert tp.peer_mss == 536 and tp.t_maxopd == 536
    tcp.tcp_mss(tp, 1460, p.sim.now)
    assert tp.t_maxopd == 1460
    assert tcp.mssopt_for(IPv4Address(B), 0, p.sim.now) == 1460


def test_no_listener_no_socket_layer_answers_rst() -> None:
    """A node without a socket layer still answers a SYN with RST over IPv4."""
    p = Pair4()
    syn = _core.tcp_output_segment(IPv4Address(A).packed, IPv4Address(B).packed, 5555, 81,
                                   1000, 0, TH_SYN, 1000, b"", b"")
    p.a.tcp.ip4_output(IPv4Address(A), IPv4Address(B), syn, 0, None, p.sim.now)
    p.sync()
    p.run(0.5)
    assert p.b.stats["tcps_noport"] == 1 and p.b.stats["tcps_sndrst"] == 1
    rsts = [f for f in p.tcp_frames() if f[12:16] == IPv4Address(B).packed]
    assert len(rsts) == 1
    s = _core.tcp_input_parse(rsts[0][20:], IPv4Address(B).packed, IPv4Address(A).packed)
    assert s.ack == 1001 and s.flags & 0x04
    assert p.b.stats["ips_noproto"] == 0


def test_segments_to_broadcast_and_bad_checksums_are_dropped() -> None:
    p = Pair4()
    for dst, corrupt in (("192.0.2.255", False), (B, True)):
        seg = bytearray(_core.tcp_output_segment(IPv4Address(A).packed, IPv4Address(dst).packed,
                                                 5555, 80, 1, 0, TH_SYN, 1000, b"", b""))
        if corrupt:
            seg[16] ^= 0xFF
        pkt = _core.ip_build(IPv4Address(A), IPv4Address(dst), 6, bytes(seg))
        mac = b"\xff" * 6 if dst.endswith("255") else MB
        p.sim.emit(p.b, p.b.receive("eth0", mac + MA + b"\x08\x00" + pkt, p.sim.now))
    assert p.b.stats["tcps_rcvmcast"] == 1 and p.b.stats["tcps_rcvbadsum"] == 1
    assert p.b.stats["tcps_sndrst"] == 0


def icmp_about(p: Pair4, seg_ip: bytes, t: int, code: int, rest: int) -> None:
    """B's router tells A: an ICMP error quoting A's datagram ``seg_ip``."""
    msg = _core.icmp_build(t, code, rest, seg_ip[:28])
    pkt = _core.ip_build(IPv4Address(B), IPv4Address(A), 1, msg)
    p.sim.emit(p.a, p.a.receive("eth0", MA + MB + b"\x08\x00" + pkt, p.sim.now))


def test_fragmentation_needed_lowers_the_mss() -> None:
    p = Pair4()
    _srv, cli, conn, _ = p.connect(AF_INET, AF_INET, B)
    data = random.Random(3).randbytes(60_000)
    p.frames.clear()
    cli.send(data)
    p.sync()
    tp = cli.tp
    assert tp is not None
    mine = [f for f in p.tcp_frames() if f[12:16] == IPv4Address(A).packed and len(f) > 1000]
    assert mine
    icmp_about(p, mine[0], 3, 4, 1200)
    assert tp.t_maxopd == 1200 - 40 and p.a.stats["tcps_mturesent"] == 1
    got = bytearray()
    for _ in range(200):
        p.run(0.05)
        try:
            got += conn.recv(1 << 20)
        except BlockingIOError:
            pass
        if len(got) == len(data):
            break
    assert bytes(got) == data
    later = [f for f in p.tcp_frames() if f[12:16] == IPv4Address(A).packed]
    assert max(len(f) for f in later[-5:]) <= 1200


def quiet_pair() -> Pair4:
    """A pair whose link loses everything once ARP has resolved B."""
    p = Pair4()
    p.sim.emit(p.a, p.a.ping4(B, p.sim.now))
    p.run(0.2)
    p.link.loss = 1.0
    p.frames.clear()
    return p


def test_icmp_unreachables_in_syn_sent() -> None:
    """Port unreachable and administratively prohibited refuse a connect in
    SYN_SENT (icmp_may_rst); host unreachable is a soft error, reported
    when the connection times out (RFC 5461)."""
    for code, want in ((3, errno.ECONNREFUSED), (13, errno.ECONNREFUSED), (1, None)):
        p = quiet_pair()
        cli = p.la.socket(AF_INET, SOCK_STREAM)
        assert cli.connect_ex((B, 80)) == errno.EINPROGRESS
        p.sync()
        syn = [f for f in p.tcp_frames() if f[12:16] == IPv4Address(A).packed]
        assert syn
        icmp_about(p, syn[0], 3, code, 0)
        tp = cli.tp
        assert tp is not None
        if want is not None:
            assert tp.gone and cli.getsockopt(1, 4) == want
        else:
            assert not tp.gone and tp.t_softerror == errno.EHOSTUNREACH
            assert p.a.stats["tcps_softerror"] == 1
        # a quote of a sequence number not in flight is ignored (RFC 5927)
        p2 = quiet_pair()
        c2 = p2.la.socket(AF_INET, SOCK_STREAM)
        c2.connect_ex((B, 80))
        p2.sync()
        s2 = bytearray(next(f for f in p2.tcp_frames() if f[12:16] == IPv4Address(A).packed))
        assert c2.tp is not None
        s2[24:28] = ((c2.tp.iss + 100_000) & 0xFFFFFFFF).to_bytes(4, "big")
        icmp_about(p2, bytes(s2), 3, 3, 0)
        assert c2.tp is not None and not c2.tp.gone


def test_ipv4_loopback_and_own_address() -> None:
    p = Pair4()
    for dst in ("127.0.0.1", A):
        srv = p.la.socket(AF_INET, SOCK_STREAM)
        srv.bind((dst, 7))
        srv.listen()
        c = p.la.socket(AF_INET, SOCK_STREAM)
        c.connect((dst, 7))  # completes at once over the loopback
        s, peer = srv.accept()
        assert peer[0] == dst
        c.send(b"echo")
        assert s.recv(10) == b"echo"
        for x in (c, s, srv):
            x.close()


def test_no_route_is_enetunreach() -> None:
    p = Pair4()
    c = p.la.socket(AF_INET, SOCK_STREAM)
    assert c.connect_ex(("198.51.100.1", 80)) == errno.ENETUNREACH


def test_ipv4_tos_ecn_and_ack_flags() -> None:
    """The segments of a handshake carry the ACK flag from the SYN-ACK on."""
    p = Pair4()
    p.connect(AF_INET, AF_INET, B)
    segs = []
    for ip in p.tcp_frames():
        v = _core.ip_validate(ip, False)
        segs.append(_core.tcp_input_parse(ip[v.header_len:], v.src.packed, v.dst.packed))
    assert segs[0].flags & (TH_SYN | TH_ACK) == TH_SYN and segs[0].mss == 1460
    assert segs[1].flags & (TH_SYN | TH_ACK) == TH_SYN | TH_ACK and segs[1].mss == 1460


@pytest.mark.parametrize(("mode", "df", "taken"), [(None, 1, True), (0, 0, False), (1, 1, True),
                                                   (2, 1, True), (3, 0, True)])
def test_ip_mtu_discover_sets_df_and_takes_fragmentation_needed(
        mode: int | None, df: int, taken: bool) -> None:
    """Linux: a TCP segment carries DF as ``ip_dont_fragment`` says for the
    socket's ``IP_MTU_DISCOVER`` (WANT and DO; unset: WANT), and a
    Fragmentation Needed shrinks the segments unless the mode is DONT
    (``tcp_v4_mtu_reduced``)."""
    p = Pair4()
    _srv, cli, _conn, _peer = p.connect(AF_INET, AF_INET, B)
    if mode is not None:
        cli.setsockopt(0, 10, mode)
    tp = cli.tp
    assert tp is not None
    p.frames.clear()
    cli.send(bytes(20_000))
    p.run(0.01)
    mine = [ip for ip in p.tcp_frames() if ip[12:16] == IPv4Address(A).packed]
    assert mine and all(_core.ip_validate(ip, False).df == df for ip in mine)
    before = tp.t_maxseg
    now = p.a._now
    p.a.inet.pmtu_update(IPv4Address(B), 1000, now)
    inv = mine[0][:20] + mine[0][20:24] + (tp.snd_una & 0xFFFFFFFF).to_bytes(4, "big")
    p.a.tcp.tcp_ctlinput(3, 4, 1000, inv, now)
    assert (tp.t_maxseg < before) == taken, (before, tp.t_maxseg)
