"""FAITH (seed §3.1, RFC 3142) on a memory link: an IPv6-only client node
reaches an IPv4-only server node through our relay; faithd.conf rules and
RFC 3142 §5's refusals are counted; the FTP control translation."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kame.errors import ConfigError
from kame.faith import Faithd, _Relay, add_faith_prefix, faith_dst4, parse_conf, relay_refusal
from kame.knobs import Knobs
from kame.link.memory import MemoryLink, Simulation
from kame.node import Node
from kame.socket import AF_INET, AF_INET6, SocketLayer
from kame.socket.stream import SOCK_STREAM

KN = {"net.inet6.ip6.dad_count": 0, "net.link.ether.inet.dad_count": 0}
PREFIX = "2001:db8:ffff::/96"


class World:
    """c (2001:db8:1::2, IPv6 only), r (the relay: 2001:db8:1::1 and
    192.0.2.1), s (192.0.2.2, IPv4 only, a one-line TCP server on 80)."""

    def __init__(self, *, rules: str | None = None, allow_private: bool = False,
                 keepfaith: int = 1) -> None:
        self.sim = Simulation()
        link = MemoryLink(delay=0.0005)
        self.c = Node("c", knobs=Knobs(KN), seed=1)
        self.r = Node("r", knobs=Knobs({**KN, "net.inet6.ip6.keepfaith": keepfaith}), seed=2)
        self.s = Node("s", knobs=Knobs(KN), seed=3)
        for i, n in enumerate((self.c, self.r, self.s)):
            mac = bytes([2, 0, 0, 0, 0xF, i + 1])
            n.add_interface("eth0", mac)
            self.sim.connect(n, "eth0", link, mac)
            self.sim.emit(n, n.up("eth0", 0.0))
        self.c.add_address("eth0", "2001:db8:1::2/64", 0.0)
        self.r.add_address("eth0", "2001:db8:1::1/64", 0.0)
        self.r.add_address4("eth0", "192.0.2.1/24", 0.0)
        self.s.add_address4("eth0", "192.0.2.2/24", 0.0)
        self.c.route_add("2001:db8:ffff::/96", "2001:db8:1::1", "eth0")
        add_faith_prefix(self.r, PREFIX)
        self.lc, self.lr, self.ls = (SocketLayer(n, "linux") for n in (self.c, self.r, self.s))
        self.d = Faithd(self.lr, [80, 21], rules=parse_conf(rules) if rules is not None else None,
                        allow_private=allow_private)
        self.srv = self.ls.socket(AF_INET, SOCK_STREAM)
        self.srv.bind(("0.0.0.0", 80))
        self.srv.listen(8)
        self.conns: list[Any] = []
        self.sim.run(until=1.0)

    def step(self, dt: float = 0.01) -> None:
        self.sim.run(until=self.sim.now + dt)
        self.d.step(self.sim.now)
        try:
            c, _ = self.srv.accept()
            self.conns.append(c)
        except BlockingIOError:
            pass
        for c in list(self.conns):
            try:
                data = c.recv(4096)
            except BlockingIOError:
                continue
            if data:
                c.send(b"v4 server saw: " + data)
            c.close()
            self.conns.remove(c)

    def fetch(self, dst: str, data: bytes = b"hello") -> bytes:
        s = self.lc.socket(AF_INET6, SOCK_STREAM)
        try:
            s.connect((dst, 80))
        except BlockingIOError:
            pass
        got = b""
        sent = False
        for _ in range(300):
            self.step()
            if not sent and s.connected:
                s.send(data)
                sent = True
            try:
                d = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                break
            if not d:
                break
            got += d
        s.close()
        return got


def test_relay_to_embedded_ipv4() -> None:
    w = World()
    assert w.fetch("2001:db8:ffff::192.0.2.2") == b"v4 server saw: hello"
    assert w.r.stats["faith_accepted"] == 1
    assert w.d.log == ["relay 2001:db8:1::2 -> 192.0.2.2 port 80"]


def test_keepfaith_off_no_relay() -> None:
    w = World(keepfaith=0)
    assert w.fetch("2001:db8:ffff::192.0.2.2") == b""
    assert w.r.stats["faith_accepted"] == 0


@pytest.mark.parametrize(("dst", "why"), [
    ("2001:db8:ffff::192.0.2.1", "own"),        # the relay's own address
    ("2001:db8:ffff::127.0.0.1", "loopback"),
    ("2001:db8:ffff::10.1.2.3", "private"),
    ("2001:db8:ffff::224.0.0.1", "multicast"),
    ("2001:db8:ffff::192.0.2.255", "broadcast"),
])
def test_rfc3142_refusals(dst: str, why: str) -> None:
    w = World()
    assert w.fetch(dst) == b""
    assert w.r.stats["faith_denied"] == 1
    assert w.r.stats["faith_accepted"] == 0


def test_faithd_conf() -> None:
    deny = World(rules="192.0.2.0/24 !2001:db8:1::/64\n")
    assert deny.fetch("2001:db8:ffff::192.0.2.2") == b""
    assert deny.r.stats["faith_denied"] == 1
    allow = World(rules="# comment\n192.0.2.2/32 2001:db8:1::/64\n")
    assert allow.fetch("2001:db8:ffff::192.0.2.2") == b"v4 server saw: hello"


def test_conf_and_prefix_refusals() -> None:
    with pytest.raises(ConfigError):
        parse_conf("192.0.2.0/24\n")
    with pytest.raises(ConfigError):
        parse_conf("192.0.2.0/24 nonsense\n")
    n = Node("n")
    with pytest.raises(ConfigError):
        add_faith_prefix(n, "2001:db8::/120")
    with pytest.raises(ConfigError):
        add_faith_prefix(n, "fe80::/64")
    add_faith_prefix(n, PREFIX)
    assert faith_dst4(n, IPv6Address("2001:db8:ffff::c000:202")) == IPv4Address("192.0.2.2")
    assert faith_dst4(n, IPv6Address("2001:db8:fffe::c000:202")) is None


@given(st.integers(0, 2**32 - 1), st.booleans())
def test_refusal_never_allows_reserved(x: int, priv: bool) -> None:
    a = IPv4Address(x)
    why = relay_refusal(_N, IPv6Address("2001:db8::1"), a, None, priv)
    if a.is_loopback or a.is_multicast or x >> 24 == 0 or x >> 28 == 0xF or a == _OWN:
        assert why is not None


_N = Node("p")
_N.add_interface("eth0", bytes.fromhex("020000000001"))
_N.add_address4("eth0", "198.51.100.1/24", 0.0)
_OWN = IPv4Address("198.51.100.1")


class _FakeSock:
    def __init__(self, peer: tuple[str, int], name: tuple[str, int]) -> None:
        self.peer, self.name = peer, name

    def getpeername(self) -> tuple[str, int]:
        return self.peer

    def getsockname(self) -> tuple[str, int]:
        return self.name


class _FakeLayer:
    def __init__(self) -> None:
        self.made: list[Any] = []

    def socket(self, fam: int, typ: int) -> Any:
        layer = self

        class L:
            port = 40000 + len(layer.made)

            def bind(self, a: Any) -> None:
                self.fam = fam

            def listen(self, n: int) -> None:
                pass

            def setsockopt(self, level: int, opt: int, v: int) -> None:
                self.faith = v  # IPV6_FAITH: the data connection comes to the prefix

            def getsockname(self) -> tuple[str, int]:
                return ("::" if fam == AF_INET6 else "0.0.0.0", self.port)

        s = L()
        layer.made.append(s)
        return s


def _ftp_relay() -> tuple[_Relay, Any]:
    d: Any = type("D", (), {})()
    d.layer = _FakeLayer()
    d.data_listeners = []
    d.now = 0.0
    c = _FakeSock(("2001:db8:1::2", 5000), ("2001:db8:ffff::c000:202", 21))
    s = _FakeSock(("192.0.2.2", 21), ("192.0.2.1", 3000))
    return _Relay(d, c, s, True), d


def test_ftp_epsv_becomes_pasv() -> None:
    r, d = _ftp_relay()
    assert r._ftp_client(b"USER x\r\nEPSV\r\n") == b"USER x\r\nPASV\r\n"
    out = r._ftp_server(b"331 ok\r\n227 Entering Passive Mode (192,0,2,2,195,80).\r\n")
    assert out == b"331 ok\r\n229 Entering Extended Passive Mode (|||40000|)\r\n"
    assert d.data_listeners[0][1:3] == (("192.0.2.2", 195 * 256 + 80), AF_INET)
    assert d.data_listeners[0][0].faith == 1


def test_ftp_pasv_bounce_refused() -> None:
    r, d = _ftp_relay()
    r._ftp_client(b"EPSV\r\n")
    out = r._ftp_server(b"227 Entering Passive Mode (10,9,9,9,1,2)\r\n")
    assert out.startswith(b"425") and not d.data_listeners


def test_ftp_eprt_becomes_port() -> None:
    r, d = _ftp_relay()
    out = r._ftp_client(b"EPRT |2|2001:db8:1::2|6000|\r\n")
    assert out == b"PORT 192,0,2,1,156,64\r\n"          # 40000 = 156 * 256 + 64
    assert d.data_listeners[0][1:3] == (("2001:db8:1::2", 6000), AF_INET6)
    # another host's address (a bounce, RFC 2577) is refused
    r2, d2 = _ftp_relay()
    assert r2._ftp_client(b"EPRT |2|2001:db8:1::99|6000|\r\n") == b""
    assert r2.down.buf.startswith(b"500") and not d2.data_listeners


def test_ftp_v4_commands_refused() -> None:
    r, _d = _ftp_relay()
    assert r._ftp_client(b"PASV\r\nPORT 1,2,3,4,5,6\r\n") == b""
    assert r.down.buf.count(b"500 ") == 2


@given(st.binary(max_size=300))
def test_ftp_lines_never_raise(data: bytes) -> None:
    r, _d = _ftp_relay()
    r._ftp_client(data)
    r._ftp_server(data)
    assert len(r.cline) <= 2048 + 300 and len(r.sline) <= 2048 + 300


@given(st.text(max_size=300))
def test_parse_conf_typed_errors_only(text: str) -> None:
    try:
        rules = parse_conf(text)
    except ConfigError:
        return
    for r in rules:
        assert r.dst.version == 4 and r.src.version == 6
