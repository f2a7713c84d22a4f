"""RFC 3678's protocol-independent multicast API on kame.socket, for IPv6 and
IPv4 sockets: MCAST_JOIN_GROUP, MCAST_LEAVE_GROUP, MCAST_JOIN_SOURCE_GROUP,
MCAST_LEAVE_SOURCE_GROUP, MCAST_BLOCK_SOURCE, MCAST_UNBLOCK_SOURCE
(``struct group_req``/``group_source_req``) and the full-state API
(setsourcefilter/getsourcefilter, Linux's MCAST_MSFILTER). The Linux
profile runs the same steps as the kernel's own sockets in a fresh
namespace (a veth interface to join on) and must give the same errno and
filter sequence; the FreeBSD profile takes FreeBSD's option numbers and
``sockaddr`` layout; the node's MLD and IGMP report what the sockets
ask."""

from __future__ import annotations

import ctypes
import errno
import json
import socket
import struct
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

import pytest

from kame import _core
from kame.node import Node
from kame.socket import AF_INET, AF_INET6, SOCK_DGRAM, SocketLayer
from kame.socket.inctl import (
    MCAST_BLOCK_SOURCE,
    MCAST_JOIN_GROUP,
    MCAST_JOIN_SOURCE_GROUP,
    MCAST_LEAVE_GROUP,
    MCAST_LEAVE_SOURCE_GROUP,
    MCAST_MSFILTER,
    MCAST_UNBLOCK_SOURCE,
    getsourcefilter,
    group_req,
    group_source_req,
    setsourcefilter,
)

MAC = bytes.fromhex("020000000b0b")
G6, G4 = "ff3e::4321", "232.1.2.3"
S6 = ["2001:db8::1", "2001:db8::2", "2001:db8::3"]
S4 = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]


def _name(e: BaseException) -> str:
    return errno.errorcode.get(getattr(e, "errno", 0) or 0, type(e).__name__)


def _try(f: Callable[[], Any]) -> Any:
    try:
        r = f()
        return "ok" if r is None else r
    except OSError as e:
        return _name(e)


def _gf(ifi: int, group: str, fmode: int, sources: list[str]) -> bytes:
    """Linux's ``struct group_filter`` (MCAST_MSFILTER)."""
    from kame.socket.inctl import _ss_linux
    return struct.pack("=I4x", ifi) + _ss_linux(ip_address(group)) + struct.pack(
        "=II", fmode, len(sources)) + b"".join(_ss_linux(ip_address(a)) for a in sources)


def kernel_getsourcefilter(s: socket.socket, ifi: int, group: str) -> Any:
    """getsourcefilter(3) on a kernel socket: MCAST_MSFILTER through libc
    (the kernel reads the interface and group from the buffer it fills)."""
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(_gf(ifi, group, 0, [])[:136] + struct.pack("=II", 0, 8)
                                      + bytes(128 * 8))
    n = ctypes.c_uint32(len(buf))
    v6 = ":" in group
    if libc.getsockopt(s.fileno(), 41 if v6 else 0, MCAST_MSFILTER, buf, ctypes.byref(n)) != 0:
        return errno.errorcode[ctypes.get_errno()]
    raw = buf.raw
    fmode, num = struct.unpack_from("=II", raw, 136)
    out = []
    for i in range(min(num, 8)):
        ss = raw[144 + 128 * i:144 + 128 * (i + 1)]
        out.append(str(IPv6Address(ss[8:24]) if v6 else IPv4Address(ss[4:8])))
    return [fmode, sorted(out)]


def _msf_variants(ifi: int, g: str) -> list[bytes]:
    """getsockopt(MCAST_MSFILTER) requests: room for 0, 1 and 8 sources;
    interface 0; another family's group; a buffer short of the header."""
    other = G4 if ":" in g else G6
    return [_gf(ifi, g, 0, [])[:136] + struct.pack("=II", 0, room) + bytes(128 * room)
            for room in (0, 1, 8)] + [
        _gf(0, g, 0, [])[:136] + struct.pack("=II", 0, 8) + bytes(128 * 8),
        _gf(ifi, other, 0, [])[:136] + struct.pack("=II", 0, 8) + bytes(128 * 8),
        _gf(ifi, g, 0, [])[:100]]


def _msf_decode(raw: bytes, optlen: int, v6: bool) -> list[Any]:
    """[optlen, fmode, numsrc, the sources written back]."""
    fmode, num = struct.unpack_from("=II", raw, 136)
    srcs = [str(IPv6Address(raw[144 + 128 * i + 8:144 + 128 * i + 24]) if v6
                else IPv4Address(raw[144 + 128 * i + 4:144 + 128 * i + 8]))
            for i in range((optlen - 144) // 128)]
    return [optlen, fmode, num, srcs]


def kernel_msfilter(s: socket.socket, ifi: int, g: str) -> list[Any]:
    """getsockopt(MCAST_MSFILTER) through libc on a kernel socket, for each
    of :func:`_msf_variants`: the optlen and buffer it writes back, or the
    errno's name."""
    libc = ctypes.CDLL(None, use_errno=True)
    lvl = 41 if ":" in g else 0
    out: list[Any] = []
    for req in _msf_variants(ifi, g):
        buf = ctypes.create_string_buffer(req, len(req))
        n = ctypes.c_uint32(len(req))
        if libc.getsockopt(s.fileno(), lvl, MCAST_MSFILTER, buf, ctypes.byref(n)) != 0:
            out.append(errno.errorcode[ctypes.get_errno()])
        else:
            out.append(_msf_decode(buf.raw, n.value, ":" in g))
    return out


def our_msfilter(s: Any, ifi: int, g: str) -> list[Any]:
    """The same on our socket: ``getsockopt(level, MCAST_MSFILTER, request)``."""
    lvl = 41 if ":" in g else 0
    out: list[Any] = []
    for req in _msf_variants(ifi, g):
        r = _try(lambda req=req: s.getsockopt(lvl, MCAST_MSFILTER, req))
        out.append(r if isinstance(r, str) else _msf_decode(r.ljust(144, b"\0"), len(r),
                                                             ":" in g))
    return out


def kernel_msfilter_steps(ifi: int) -> list[Any]:
    def setsf(s: socket.socket, i: int, g: str, mode: int, srcs: list[str]) -> None:
        s.setsockopt(41 if ":" in g else 0, MCAST_MSFILTER, _gf(i, g, mode, srcs))

    return steps(lambda f: socket.socket(f, socket.SOCK_DGRAM), ifi, kernel_msfilter, setsf)


def our_msfilter_steps(layer: SocketLayer, ifi: int) -> list[Any]:
    def setsf(s: Any, i: int, g: str, mode: int, srcs: list[str]) -> None:
        s.setsockopt(41 if ":" in g else 0, MCAST_MSFILTER, _gf(i, g, mode, srcs))

    return steps(lambda f: layer.socket(f, SOCK_DGRAM), ifi, our_msfilter, setsf)


def steps(sock: Callable[[int], Any], ifi: int, getsf: Callable[[Any, int, str], Any],
          setsf: Callable[[Any, int, str, int, list[str]], Any]) -> list[Any]:
    """The same calls on either sockets: every answer, errno by name."""
    out: list[Any] = []
    # the third: IPv4 groups at IPPROTO_IP on an AF_INET6 socket (Linux's
    # ipv6_setsockopt hands the level to ip_setsockopt)
    for fam, g, srcs, lvl in ((AF_INET6, G6, S6, 41), (AF_INET, G4, S4, 0),
                              (AF_INET6, G4, S4, 0)):
        _family_steps(out, sock(fam), fam, g, srcs, lvl, ifi, getsf, setsf)
    return out


def _family_steps(out: list[Any], s: Any, fam: int, g: str, srcs: list[str], lvl: int, ifi: int,
                  getsf: Callable[[Any, int, str], Any],
                  setsf: Callable[[Any, int, str, int, list[str]], Any]) -> None:
    s1, s2, s3 = srcs

    def so(opt: int, val: bytes, s: Any = s, lvl: int = lvl) -> None:
        out.append(_try(lambda: s.setsockopt(lvl, opt, val)))

    def gr(group: str = g, i: int = ifi) -> bytes:
        return group_req(i, group, "linux")

    def gsr(src: str, group: str = g, i: int = ifi) -> bytes:
        return group_source_req(i, group, src, "linux")

    so(MCAST_LEAVE_GROUP, gr())  # not joined
    so(MCAST_JOIN_GROUP, gr())
    so(MCAST_JOIN_GROUP, gr())  # twice
    out.append(getsf(s, ifi, g))
    so(MCAST_BLOCK_SOURCE, gsr(s1))
    so(MCAST_BLOCK_SOURCE, gsr(s1))  # twice
    so(MCAST_BLOCK_SOURCE, gsr(s2))
    so(MCAST_UNBLOCK_SOURCE, gsr(s3))  # not blocked
    so(MCAST_LEAVE_SOURCE_GROUP, gsr(s1))  # an EXCLUDE-mode membership
    so(MCAST_JOIN_SOURCE_GROUP, gsr(s3))
    out.append(getsf(s, ifi, g))
    so(MCAST_UNBLOCK_SOURCE, gsr(s1))
    so(MCAST_UNBLOCK_SOURCE, gsr(s2))
    out.append(getsf(s, ifi, g))
    so(MCAST_JOIN_SOURCE_GROUP, gsr(s1))  # an any-source member, no list
    out.append(getsf(s, ifi, g))
    so(MCAST_LEAVE_GROUP, gr())
    out.append(getsf(s, ifi, g))
    so(MCAST_JOIN_SOURCE_GROUP, gsr(s1))
    so(MCAST_JOIN_SOURCE_GROUP, gsr(s2))
    so(MCAST_JOIN_SOURCE_GROUP, gsr(s2))  # twice
    so(MCAST_BLOCK_SOURCE, gsr(s3))  # an INCLUDE-mode membership
    so(MCAST_UNBLOCK_SOURCE, gsr(s1))
    so(MCAST_LEAVE_SOURCE_GROUP, gsr(s3))  # not joined
    out.append(getsf(s, ifi, g))
    so(MCAST_JOIN_GROUP, gr())  # a source-specific member
    so(MCAST_LEAVE_SOURCE_GROUP, gsr(s1))
    so(MCAST_LEAVE_SOURCE_GROUP, gsr(s2))  # the last: the group is left
    out.append(getsf(s, ifi, g))
    so(MCAST_LEAVE_GROUP, gr())
    # source operations without a membership
    so(MCAST_BLOCK_SOURCE, gsr(s1))
    so(MCAST_UNBLOCK_SOURCE, gsr(s1))
    so(MCAST_LEAVE_SOURCE_GROUP, gsr(s1))
    # an any-source member that never had a source list takes a source join
    so(MCAST_JOIN_GROUP, gr())
    so(MCAST_JOIN_SOURCE_GROUP, gsr(s1))
    out.append(getsf(s, ifi, g))
    so(MCAST_LEAVE_GROUP, gr())
    # the full state at once (Linux's modes: 0 EXCLUDE, 1 INCLUDE)
    out.append(_try(lambda: setsf(s, ifi, g, 0, [s1, s2])))  # not a member
    so(MCAST_JOIN_GROUP, gr())
    out.append(_try(lambda: setsf(s, ifi, g, 2, [s2, s1])))  # FreeBSD's EXCLUDE
    out.append(_try(lambda: setsf(s, ifi, g, 0, [s2, s1])))
    out.append(getsf(s, ifi, g))
    out.append(_try(lambda: setsf(s, ifi, g, 1, [s3])))
    out.append(getsf(s, ifi, g))
    out.append(_try(lambda: setsf(s, ifi, g, 3, [s3])))  # no such mode
    out.append(_try(lambda: setsf(s, ifi, g, 1, [])))
    out.append(getsf(s, ifi, g))
    so(MCAST_LEAVE_GROUP, gr())
    # the unspecified and a multicast address as sources (Linux takes any)
    zero, mc = ("::", "ff02::1") if ":" in g else ("0.0.0.0", "239.0.0.1")
    so(MCAST_JOIN_SOURCE_GROUP, gsr(zero))
    so(MCAST_JOIN_SOURCE_GROUP, gsr(mc))
    out.append(getsf(s, ifi, g))
    so(MCAST_LEAVE_GROUP, gr())
    # bad requests
    so(MCAST_JOIN_GROUP, gr()[:100])  # short
    so(MCAST_JOIN_SOURCE_GROUP, gsr(s1)[:200])
    so(MCAST_JOIN_GROUP, gr(srcs[0]))  # not a group
    so(MCAST_JOIN_GROUP, gr(i=4242))  # no such interface
    other = G4 if fam == AF_INET6 else G6
    so(MCAST_JOIN_GROUP, gr(other))  # the other family's group
    so(MCAST_JOIN_SOURCE_GROUP, gsr(S4[0] if fam == AF_INET6 else S6[0]))
    s.close()


def kernel_steps(ifi: int) -> list[Any]:
    def setsf(s: socket.socket, i: int, g: str, mode: int, srcs: list[str]) -> None:
        s.setsockopt(41 if ":" in g else 0, MCAST_MSFILTER, _gf(i, g, mode, srcs))

    return steps(lambda f: socket.socket(f, socket.SOCK_DGRAM), ifi, kernel_getsourcefilter,
                 setsf)


def our_steps(layer: SocketLayer, ifi: int) -> list[Any]:
    def getsf(s: Any, i: int, g: str) -> Any:
        r = _try(lambda: getsourcefilter(s, i, g))
        return r if isinstance(r, str) else [r[0], sorted(str(a) for a in r[1])]

    return steps(lambda f: layer.socket(f, SOCK_DGRAM), ifi, getsf,
                 lambda s, i, g, m, srcs: setsourcefilter(s, i, g, m, srcs))


def node() -> tuple[Node, SocketLayer]:
    n = Node("m", seed=3)
    n.add_interface("d0", MAC)
    n.up("d0", 0.0)
    n.add_address4("d0", "10.9.9.2/24", 0.0)
    return n, SocketLayer(n, "linux")


def _kernel_run(prefix: str, run: str) -> Any:
    """``run`` (a function of this module's, given d0's index) on the
    kernel's sockets in a fresh namespace: ``lo`` up and a veth ``d0`` with
    10.9.9.1/24."""
    from tests.interop.netns_rig import kernel_json, veth_d0

    code = ("import json,socket,sys; sys.path.insert(0, '.');"
            f"from tests.test_socket_mcast_api import {run};"
            f"print(json.dumps({run}(socket.if_nametoindex('d0'))))")
    return kernel_json(prefix, code, veth_d0("10.9.9.1/24"))


@pytest.mark.root
def test_mcast_api_steps_equal_the_kernels() -> None:
    kernel = _kernel_run("mcapi", "kernel_steps")
    n, layer = node()
    ours = json.loads(json.dumps(our_steps(layer, layer.ifindex("d0"))))
    assert ours == kernel, [(i, o, k) for i, (o, k) in enumerate(zip(ours, kernel, strict=True))
                            if o != k]
    # every socket closed: no member left, and the node's filters are gone
    assert IPv6Address(G6) not in n.groups["d0"]
    assert n.inet.in_filter("d0", IPv4Address(G4)) is None


@pytest.mark.root
def test_getsockopt_msfilter_equals_the_kernels() -> None:
    """getsockopt(MCAST_MSFILTER) (Linux's ``struct group_filter`` in and
    out) at every step of the same sequence: the mode, the number of
    sources, as many sources as the caller has room for and the optlen,
    or the errno, as the kernel's sockets answer in a fresh namespace."""
    kernel = _kernel_run("mcmsf", "kernel_msfilter_steps")
    _n, layer = node()
    ours = json.loads(json.dumps(our_msfilter_steps(layer, layer.ifindex("d0"))))
    assert ours == kernel, [(i, o, k) for i, (o, k) in enumerate(zip(ours, kernel, strict=True))
                            if o != k]
    # the answers hold sources, truncation and errors: the test can tell
    flat = json.dumps(kernel)
    assert "EADDRNOTAVAIL" in flat and "EINVAL" in flat
    assert any(isinstance(x, list) and x[2] > len(x[3]) > 0 for step in kernel
               if isinstance(step, list) for x in step)


def test_freebsd_numbers_and_sockaddrs() -> None:
    """FreeBSD's MCAST_* (80-85) and its ``sockaddr`` (length, family 28)."""
    n = Node("f", seed=3)
    n.add_interface("d0", MAC)
    n.up("d0", 0.0)
    layer = SocketLayer(n, "freebsd4x")
    ifi = layer.ifindex("d0")
    s = layer.socket(AF_INET6, SOCK_DGRAM)
    s.setsockopt(41, 82, group_source_req(ifi, G6, S6[0], "freebsd4x"))  # JOIN_SOURCE_GROUP
    assert getsourcefilter(s, ifi, G6) == (1, [IPv6Address(S6[0])])
    with pytest.raises(OSError) as e:
        s.setsockopt(41, MCAST_JOIN_SOURCE_GROUP,  # Linux's number: not an option here
                     group_source_req(ifi, G6, S6[1], "freebsd4x"))
    assert e.value.errno == errno.ENOPROTOOPT
    with pytest.raises(OSError) as e:  # a Linux sockaddr: family 10 is not AF_INET6 here
        s.setsockopt(41, 82, group_source_req(ifi, G6, S6[1], "linux"))
    assert e.value.errno == errno.EINVAL
    s.setsockopt(41, 83, group_source_req(ifi, G6, S6[0], "freebsd4x"))  # the last source
    assert IPv6Address(G6) not in n.groups["d0"]


def test_an_ipv6_source_filter_reaches_mld_and_the_receiver() -> None:
    """A source-specific join is reported (ALLOW), the interface and the
    socket take that source only, a dropped source is reported (BLOCK)."""
    from kame.mcast import BLOCK_OLD_SOURCES
    n, layer = node()
    ifi = layer.ifindex("d0")
    s = layer.socket(AF_INET6, SOCK_DGRAM)
    t = layer.socket(AF_INET6, SOCK_DGRAM)
    for x in (s, t):
        x.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        x.bind(("::", 5000))
    t.setsockopt(41, MCAST_JOIN_SOURCE_GROUP, group_source_req(ifi, G6, S6[1], "linux"))
    s.setsockopt(41, MCAST_JOIN_SOURCE_GROUP, group_source_req(ifi, G6, S6[0], "linux"))
    assert n.mld.filter("d0", IPv6Address(G6)) == (1, frozenset(map(IPv6Address, S6[:2])))
    assert n.mld._st("d0").changes  # retransmissions owed
    g = IPv6Address(G6)
    for src, data in ((S6[0], b"joined"), (S6[2], b"other")):
        hdr = type("H", (), {"src": IPv6Address(src), "dst": g, "hop_limit": 1,
                             "traffic_class": 0})()
        body = _core.UdpHeader(1234, 5000, data).to_bytes(IPv6Address(src), g)
        n.udp6_input("d0", hdr, body, 1.0)
    assert s.recvfrom(100)[0] == b"joined"
    with pytest.raises(BlockingIOError):
        s.recvfrom(100)
    with pytest.raises(BlockingIOError):
        t.recvfrom(100)  # t takes S6[1] only
    assert n.stats["ip6s_notmember"] >= 1
    s.setsockopt(41, MCAST_LEAVE_SOURCE_GROUP, group_source_req(ifi, G6, S6[0], "linux"))
    assert n.mld.filter("d0", g) == (1, frozenset({IPv6Address(S6[1])}))
    recs = [r for x in n.mld.poll(100.0) for r in x.records if r[1] == g]
    # S6[1]'s two ALLOWs went with the two joins' reports (the second report
    # merges what the first still owed); S6[0]'s BLOCK is retransmitted once
    assert recs == [(BLOCK_OLD_SOURCES, g, (IPv6Address(S6[0]),))], recs
    assert not n.mld._st("d0").changes.get(g)


def test_source_lists_are_bounded_and_long_reports_split_to_the_mtu() -> None:
    """``net.inet6.ip6.mld_max_msf`` bounds a Linux socket's list (ENOBUFS,
    ``icp6s_mld_srcfull``), ``maxgrpsrc`` the interface's; a filter
    of 200 sources is reported in as many MLDv2 reports as a 1280-octet
    link needs, each parsed back by our core and none over the MTU."""
    from kame.knobs import Knobs
    n = Node("b", knobs=Knobs({"net.inet6.ip6.mld_max_msf": 300,
                               "net.inet6.ip6.mcast.maxgrpsrc": 250}), seed=3)
    n.add_interface("d0", MAC, mtu=1280)
    n.up("d0", 0.0)
    while (d := n.next_deadline()) is not None and d < 5:
        n.poll(d)
    layer = SocketLayer(n, "linux")
    ifi = layer.ifindex("d0")
    many = [f"2001:db8:5::{i:x}" for i in range(1, 202)]
    s = layer.socket(AF_INET6, SOCK_DGRAM)
    s.setsockopt(41, MCAST_JOIN_GROUP, group_req(ifi, G6))
    n.poll(6.0)
    def sent(mode: int) -> list[tuple[int, int]]:
        setsourcefilter(s, ifi, G6, mode, many[:200])
        reps = [f for _i, f in n.poll(n._now) if f[12:14] == b"\x86\xdd" and f[62:63] == b"\x8f"]
        assert all(len(f) - 14 <= 1280 for f in reps), [len(f) for f in reps]
        got = []
        for f in reps:
            m = _core.Mldv2Report.from_bytes(f[62:], IPv6Address(f[22:38]), IPv6Address(f[38:54]))
            got.append(sum(len(r.sources) for r in m.records if str(r.mcast_addr) == G6))
            got += [r.record_type for r in m.records if str(r.mcast_addr) == G6]
        return list(zip(got[1::2], got[::2], strict=True))

    # EXCLUDE 200 sources: BLOCK, split over three reports (RFC 3810 §5.2.15)
    assert sent(0) == [(6, 75), (6, 75), (6, 50)]
    assert sent(1) == [(3, 75), (3, 75), (3, 50)]  # TO_IN splits too
    assert sent(0) == [(4, 75)]  # TO_EX keeps the sources one report takes, once
    g2 = "ff3e::5555"
    t, u = layer.socket(AF_INET6, SOCK_DGRAM), layer.socket(AF_INET6, SOCK_DGRAM)
    t.setsockopt(41, MCAST_JOIN_GROUP, group_req(ifi, g2))
    u.setsockopt(41, MCAST_JOIN_GROUP, group_req(ifi, g2))
    setsourcefilter(t, ifi, g2, 1, many[:201])
    with pytest.raises(OSError) as e:  # the interface's INCLUDE list: 251 > maxgrpsrc
        setsourcefilter(u, ifi, g2, 1, [f"2001:db8:6::{i:x}" for i in range(1, 51)])
    assert e.value.errno == errno.ENOBUFS
    n.knobs["net.inet6.ip6.mld_max_msf"] = 100
    with pytest.raises(OSError) as e:
        s.setsockopt(41, MCAST_BLOCK_SOURCE, group_source_req(ifi, G6, many[200]))
    assert e.value.errno == errno.ENOBUFS
    assert n.stats["icp6s_mld_srcfull"] == 2
    assert getsourcefilter(s, ifi, G6)[1] == sorted(map(IPv6Address, many[:200]), key=int)
