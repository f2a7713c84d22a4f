"""Zones and embedded forms from users (seed §1.3, issue 8 item 5): every
user entry point — the sockets layer, the Node API, netdb, setkey — takes
its IPv6 addresses through ``kame.scope6.sa6_from_user`` and decides the
same way: a zone that names no interface is refused (the sockets layer with
its platform's errno: ENXIO on the KAME platforms, ENODEV / ENETUNREACH on
Linux), the embedded form (``fe80:1::5``, ``ff02:1::1``) is refused (EINVAL),
and nothing in the embedded form ever reaches the wire (``ip6_output`` drops
it, counted as ``ip6s_badscope``). The Linux profile's errnos are checked
against the host kernel in ``tests/interop/test_sock_linux.py``."""

from __future__ import annotations

import errno
import socket
import struct
from ipaddress import IPv6Address as A

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kame import _core
from kame.errors import NoInterfaceError, ScopeError
from kame.key.engine import KeyEngine
from kame.key.setkey import SetkeyError, run
from kame.netdb import getaddrinfo, getnameinfo
from kame.node import Node
from kame.scope6 import Sockaddr6, is_embedded_form, sa6_from_user
from kame.socket import (
    IPPROTO_IPV6,
    IPV6_JOIN_GROUP,
    IPV6_LEAVE_GROUP,
    IPV6_MULTICAST_IF,
    IPV6_PKTINFO,
    PROFILES,
    SocketLayer,
)

MAC = bytes.fromhex("020000000001")
EMBEDDED = ["fe80:1::5", "ff02:1::1", "ff01:2::1", "fe80:ffff::1", "febf:1::1", "ff12:1::2"]
NOT_EMBEDDED = ["fe80::5", "ff02::1", "ff05:1::1", "ff0e:1::1", "2001:1::1", "fec0:1::1"]


def up_node() -> tuple[Node, A]:
    n = Node("n")
    n.add_interface("eth0", MAC)
    n.up("eth0", 0.0)
    n.add_address("eth0", "2001:db8::1/64", 0.0)
    n.poll(10.0)
    n.poll(20.0)
    (ll,) = [ifa.addr for ifa in n.addresses("eth0") if ifa.addr.is_link_local]
    assert all(not ifa.tentative for ifa in n.addresses("eth0"))
    n.drain_events()
    return n, ll


@pytest.mark.parametrize("a", EMBEDDED)
def test_is_embedded_form(a: str) -> None:
    assert is_embedded_form(A(a))


@pytest.mark.parametrize("a", NOT_EMBEDDED)
def test_not_embedded_form(a: str) -> None:
    assert not is_embedded_form(A(a))


# --- the one door -------------------------------------------------------------------

def test_sa6_from_user_forms() -> None:
    n, ll = up_node()
    z = n.zones
    want = Sockaddr6(ll, 1)
    assert sa6_from_user(f"{ll}%eth0", z) == want
    assert sa6_from_user(f"{ll}%1", z) == want
    assert sa6_from_user(A(f"{ll}%eth0"), z) == want
    assert sa6_from_user(A(f"{ll}%1"), z) == want
    assert sa6_from_user(ll, z, scope_id=1) == want
    assert sa6_from_user(ll.packed, z, scope_id=1) == want
    assert sa6_from_user(Sockaddr6(ll, 1), z) == want
    assert sa6_from_user("2001:db8::1", z) == Sockaddr6(A("2001:db8::1"), 0)
    # a numeric sin6_scope_id beside a global address or ::1 is ignored (KAME, Linux)
    assert sa6_from_user("2001:db8::1", z, scope_id=7) == Sockaddr6(A("2001:db8::1"), 0)
    assert sa6_from_user("::1", z, scope_id=99) == Sockaddr6(A("::1"), 0)
    assert sa6_from_user(A(f"{ll}%eth0"), z).addr.scope_id is None


@pytest.mark.parametrize("value,kw,exc,eno", [
    ("fe80::10%99", {}, NoInterfaceError, "ENXIO"),
    ("fe80::10%eth9", {}, NoInterfaceError, "ENXIO"),
    (A("fe80::10%eth9"), {}, NoInterfaceError, "ENXIO"),
    (A("ff02::1%99"), {}, NoInterfaceError, "ENXIO"),
    ("fe80::10", {"scope_id": 99}, NoInterfaceError, "ENXIO"),
    ("ff01::1", {"scope_id": 99}, NoInterfaceError, "ENXIO"),
    ("fe80::10%eth0", {"scope_id": 2}, ScopeError, "EINVAL"),
    ("2001:db8::1%eth0", {}, ScopeError, "EINVAL"),
    (A("2001:db8::1%eth0"), {}, ScopeError, "EINVAL"),
    ("fe80::10%", {}, ScopeError, "EINVAL"),
    ("nonsense", {}, ScopeError, "EINVAL"),
    ("fe80::10", {"scope_id": 2**32}, ScopeError, "EINVAL"),
] + [(e, {}, ScopeError, "EINVAL") for e in EMBEDDED]
  + [(A(e), {}, ScopeError, "EINVAL") for e in EMBEDDED]
  + [(e + "%eth0", {}, ScopeError, "EINVAL") for e in EMBEDDED])
def test_sa6_from_user_refuses(value: object, kw: dict[str, int], exc: type, eno: str) -> None:
    n, _ll = up_node()
    with pytest.raises(exc) as ei:
        sa6_from_user(value, n.zones, **kw)
    assert ei.value.errno == eno and isinstance(ei.value, ValueError)


@pytest.mark.parametrize("value", [None, 1, 1.5, [], object(), A("::1").exploded.encode()])
def test_sa6_from_user_types(value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        sa6_from_user(value)


# --- sockets ------------------------------------------------------------------------

@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_bind_zone_that_names_no_interface(profile: str) -> None:
    """bind to one of our link-local addresses with a zone that names no
    interface: KAME ENXIO (sa6_embedscope), Linux ENODEV."""
    n, ll = up_node()
    layer = SocketLayer(n, profile)
    want = errno.ENODEV if profile == "linux" else errno.ENXIO
    for sa in [(str(ll), 5000, 0, 99), (f"{ll}%99", 5000), (f"{ll}%99", 5000, 0, 99),
               ("ff02::1", 5000, 0, 99)]:
        with pytest.raises(OSError) as ei:
            layer.socket().bind(sa)
        assert ei.value.errno == want, (sa, ei.value)
    # by name: the host's getaddrinfo says EAI_NONAME for Linux, KAME ENXIO
    with pytest.raises(OSError) as ei:
        layer.socket().bind((f"{ll}%eth9", 5000))
    assert ei.value.errno == (socket.EAI_NONAME if profile == "linux" else errno.ENXIO)
    # a right zone binds, by name or number; the wrong (existing) zone does not
    s = layer.socket()
    s.bind((f"{ll}%eth0", 5000))
    assert s.getsockname() == (str(ll), 5000, 0, 1)
    n.add_interface("eth1", bytes.fromhex("020000000002"))
    with pytest.raises(OSError) as ei:
        layer.socket().bind((str(ll), 5001, 0, 2))
    assert ei.value.errno == errno.EADDRNOTAVAIL
    with pytest.raises(TypeError):
        layer.socket().bind(f"{ll}%99")  # AF_INET6 addresses are tuples, as the host says


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_connect_sendto_zone_that_names_no_interface(profile: str) -> None:
    n, _ll = up_node()
    layer = SocketLayer(n, profile)
    want = errno.ENETUNREACH if profile == "linux" else errno.ENXIO
    for dst in [("fe80::10", 9, 0, 99), ("fe80::10%99", 9), ("ff02::1", 9, 0, 99),
                ("ff01::1", 9, 0, 99)]:
        with pytest.raises(OSError) as ei:
            layer.socket().connect(dst)
        assert ei.value.errno == want, dst
        with pytest.raises(OSError) as ei:
            layer.socket().sendto(b"x", dst)
        assert ei.value.errno == want, dst
    assert n.poll(21.0) == []


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_socket_options_interface_that_does_not_exist(profile: str) -> None:
    n, _ll = up_node()
    layer = SocketLayer(n, profile)
    want = errno.ENODEV if profile == "linux" else errno.ENXIO
    s = layer.socket()
    mreq = A("ff02::1:3").packed + struct.pack("=I", 99)
    with pytest.raises(OSError) as ei:
        s.setsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP, mreq)
    assert ei.value.errno == want
    with pytest.raises(OSError) as ei:
        s.setsockopt(IPPROTO_IPV6, IPV6_MULTICAST_IF, 99)
    assert ei.value.errno == want
    with pytest.raises(OSError) as ei:
        s.sendmsg([b"x"], [(IPPROTO_IPV6, IPV6_PKTINFO, bytes(16) + struct.pack("=I", 99))], 0,
                  ("2001:db8::2", 9))
    assert ei.value.errno == want


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("emb", EMBEDDED)
def test_socket_refuses_the_embedded_form(profile: str, emb: str) -> None:
    n, _ll = up_node()
    layer = SocketLayer(n, profile)
    calls = [
        lambda s: s.bind((emb, 5000)),
        lambda s: s.bind((emb, 5000, 0, 1)),
        lambda s: s.connect((emb, 9, 0, 1)),
        lambda s: s.connect((emb, 9)),
        lambda s: s.sendto(b"x", (emb, 9, 0, 1)),
        lambda s: s.sendto(b"x", (emb, 9)),
        lambda s: s.sendmsg([b"x"], [(IPPROTO_IPV6, IPV6_PKTINFO,
                                      A(emb).packed + struct.pack("=I", 1))], 0,
                           ("2001:db8::2", 9)),
        lambda s: s.setsockopt(IPPROTO_IPV6, IPV6_PKTINFO, A(emb).packed + struct.pack("=I", 1)),
    ]
    if A(emb).is_multicast:
        calls += [
            lambda s: s.setsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP,
                                   A(emb).packed + struct.pack("=I", 1)),
            lambda s: s.setsockopt(IPPROTO_IPV6, IPV6_LEAVE_GROUP,
                                   A(emb).packed + struct.pack("=I", 1)),
        ]
    for call in calls:
        with pytest.raises(OSError) as ei:
            call(layer.socket())
        assert ei.value.errno == errno.EINVAL
    assert n.poll(21.0) == []
    assert all(g.packed[2:4] == b"\0\0" for g in n.groups["eth0"])


# --- the Node API -------------------------------------------------------------------

@pytest.mark.parametrize("emb", EMBEDDED)
def test_node_refuses_the_embedded_form(emb: str) -> None:
    n, _ll = up_node()
    calls = [
        lambda: n.route_add("::/0", emb, "eth0"),
        lambda: n.route_add(f"{emb}/128", None, "eth0"),
        lambda: n.route_delete(f"{emb}/128"),
        lambda: n.ping(emb, 21.0, ifname="eth0"),
        lambda: n.ping(A(emb), 21.0, ifname="eth0"),
        lambda: n.ping(emb + "%eth0", 21.0),
        lambda: n.send(A(emb), b"", 59, 21.0, ifname="eth0"),
        lambda: n.in6_selectsrc(emb, "eth0"),
        lambda: n.add_address("eth0", f"{emb}/64", 21.0),
        lambda: n.join("eth0", A(emb), 21.0),
        lambda: n.sort_destinations([A(emb)], 21.0),
    ]
    for call in calls:
        with pytest.raises(ScopeError) as ei:
            call()
        assert ei.value.errno == "EINVAL"
    assert n.poll(21.0) == []
    assert n.routes(21.0) == [r for r in n.routes(21.0) if ":1::" not in r[1]]
    assert all(not is_embedded_form(g) for g in n.groups["eth0"])


def test_node_zone_that_names_no_interface() -> None:
    n, _ll = up_node()
    for call in [lambda: n.ping("fe80::10%eth9", 21.0), lambda: n.ping("fe80::10%99", 21.0),
                 lambda: n.ping(A("fe80::10%eth9"), 21.0),
                 lambda: n.route_add("::/0", "fe80::10%eth9", "eth0"),
                 lambda: n.in6_selectsrc("fe80::10%9"),
                 lambda: n.ping("fe80::10", 21.0, ifname="eth9"),
                 lambda: n.up("eth9", 21.0), lambda: n.down("eth9", 21.0),
                 lambda: n.join("eth9", A("ff02::1:3"), 21.0),
                 lambda: n.add_address("eth9", "2001:db8:9::1/64", 21.0),
                 lambda: n.route_add("::/0", "fe80::1", "eth9"),
                 lambda: n.receive("eth9", b"\0" * 60, 21.0)]:
        with pytest.raises(NoInterfaceError) as ei:
            call()
        assert ei.value.errno == "ENXIO" and isinstance(ei.value, ValueError)
    # zones that disagree with the interface given
    n.add_interface("eth1", bytes.fromhex("020000000002"))
    with pytest.raises(ScopeError):
        n.ping("fe80::10%eth1", 21.0, ifname="eth0")
    with pytest.raises(ScopeError):
        n.route_add("::/0", "fe80::10%eth1", "eth0")


# --- nothing in the embedded form reaches the wire -----------------------------------

@pytest.mark.parametrize("which", ["src", "dst"])
@pytest.mark.parametrize("emb", EMBEDDED)
def test_ip6_output_drops_the_embedded_form(which: str, emb: str) -> None:
    n, ll = up_node()
    src, dst = (A(emb), A("ff02::1")) if which == "src" else (ll, A(emb))
    pkt = _core.Ipv6Header(src, dst, next_header=59).to_bytes()
    n.cache.set_permanent("eth0", A("fe80::99"), bytes.fromhex("020000000099"))
    before = n.stats["ip6s_badscope"]
    n.output("eth0", pkt, 21.0, next_hop=A("fe80::99"))
    frames = n.poll(22.0)
    assert not any(f[12:14] == b"\x86\xdd" and f[22:54] == pkt[8:40] for _i, f in frames)
    assert n.stats["ip6s_badscope"] == before + 1


@given(st.integers(1, 0xFFFF), st.sampled_from(["fe80::", "ff02::", "ff01::"]),
       st.integers(0, 2**64 - 1))
def test_no_path_from_a_user_to_the_wire(word1: int, base: str, low: int) -> None:
    """Any embedded address through ping, sendto and route_add: refused up front,
    and not one frame leaves with an embedded form in it."""
    n, _ll = up_node()
    layer = SocketLayer(n, "freebsd4x")
    a = A(int(A(base)) | (word1 << 96) | low)
    for call in (lambda: n.ping(a, 21.0, ifname="eth0"),
                 lambda: layer.socket().sendto(b"x", (str(a), 9, 0, 1)),
                 lambda: n.route_add("::/0", a, "eth0")):
        with pytest.raises((ScopeError, OSError)):
            call()
    for _ifn, f in n.poll(22.0):
        if f[12:14] == b"\x86\xdd":
            assert not is_embedded_form(A(f[22:38])) and not is_embedded_form(A(f[38:54]))


# --- netdb and setkey --------------------------------------------------------------

@pytest.mark.parametrize("emb", EMBEDDED)
def test_netdb_refuses_the_embedded_form(emb: str) -> None:
    with pytest.raises(socket.gaierror) as ei:
        getaddrinfo(emb, 80)
    assert ei.value.errno == socket.EAI_NONAME
    with pytest.raises(socket.gaierror) as ei:
        getnameinfo((emb, 80, 0, 1), socket.NI_NUMERICHOST)
    assert ei.value.errno == socket.EAI_NONAME


@pytest.mark.parametrize("emb", EMBEDDED)
def test_setkey_refuses_the_embedded_form(emb: str) -> None:
    e = KeyEngine()
    for text in (f"add {emb} fe80::2 esp 0x1000 -E null;",
                 f"add fe80::2 {emb} ah 0x1000 -A hmac-sha1 0x{'11' * 20};",
                 f"spdadd {emb}/128 ::/0 any -P out none;",
                 ("spdadd 2001:db8::/32 ::/0 any -P out ipsec "
                  f"esp/tunnel/{emb}-2001:db8::1/require;")):
        with pytest.raises(SetkeyError, match="embedded"):
            run(text, e, 0.0)
    with pytest.raises(SetkeyError, match="global"):
        run("add 2001:db8::1%eth0 2001:db8::2 esp 0x1000 -E null;", e, 0.0)


# --- item 7: str and ipaddress objects with zones, everywhere, the same way ------------

def test_str_and_zoned_addresses_are_accepted_everywhere() -> None:
    n, ll = up_node()
    n.add_interface("eth1", bytes.fromhex("020000000002"))
    for dst in ("fe80::99%eth0", A("fe80::99%eth0"), "fe80::99%1", Sockaddr6(A("fe80::99"), 1)):
        frames = n.ping(dst, 21.0)
        assert [i for i, _f in frames] == ["eth0"], dst  # the NS for fe80::99, on eth0
        n.cache.flush()
    for dst in ("ff02::1%eth0", A("ff02::1%eth0")):
        (ifn, f), = n.ping(dst, 21.0)
        assert ifn == "eth0" and f[38:54] == A("ff02::1").packed and f[54] == 128
    assert n.in6_selectsrc("2001:db8::5") == A("2001:db8::1")
    assert n.in6_selectsrc("fe80::5%eth0") == ll
    assert n.in6_selectsrc(A("fe80::5%eth0")) == ll
    rt = n.route_add("::/0", "fe80::1%eth0", "eth0")
    assert rt.gateway == A("fe80::1") and rt.gateway.scope_id is None
    assert n.rtalloc("2001:db8:77::1", 21.0).next_hop == A("fe80::1")
    assert n.send("2001:db8::2", b"", 59, 21.0)
    d = n.sort_destinations(["2001:db8::2", ("fe80::2", "eth0"), A("fe80::3%eth0")], 21.0)
    assert {x.addr for x in d} == {A("2001:db8::2"), A("fe80::2"), A("fe80::3")}
    layer = SocketLayer(n, "freebsd4x")
    s = layer.socket()
    assert s.sendto(b"x", ("fe80::99%eth0", 9)) == 1
    s.connect(("fe80::99%eth0", 9))
    assert s.getpeername() == ("fe80::99", 9, 0, 1)
    ai = getaddrinfo("fe80::1%eth0", 80, socket.AF_INET6, socket.SOCK_DGRAM, node=n)
    assert ai[0][4] == ("fe80::1", 80, 0, 1)
    assert getnameinfo(("fe80::1%eth0", 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV,
                       resolver=__import__("kame").netdb.Resolver(zones=n.zones)) == \
        ("fe80::1%eth0", "80")
