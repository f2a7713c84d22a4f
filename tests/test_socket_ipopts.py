"""IPv4 socket options over kame.socket (issue 9, seed §1.12/§1.16):
``IP_TTL``/``IP_TOS`` (and the multicast TTL and loop) at ``IPPROTO_IP`` on
AF_INET6 sockets for the mapped traffic they send; the IPv4 receive options
(Linux ``IP_PKTINFO``, ``IP_RECVTTL``, ``IP_RECVTOS``,
``IP_RECVORIGDSTADDR``; FreeBSD ``IP_RECVDSTADDR``, ``IP_RECVTTL``,
``IP_RECVTOS``) on AF_INET sockets and, as Linux does, on AF_INET6 sockets
for IPv4-mapped datagrams; Linux's ``ip_cmsg_send`` (``IP_PKTINFO``,
``IP_TTL``, ``IP_TOS``, a mapped ``IPV6_PKTINFO``).

The Linux profile runs the same steps as the kernel's own sockets on
127.0.0.1, ``::ffff:127.0.0.1`` and ``::1`` in a fresh namespace: every
errno, option value (as an int and as the octets a short buffer gets) and
control message (level, type, octets, in order) must be equal. Between two
nodes on a memory link the TTL and TOS another host sent reach the control
messages; the encodings of option values are hypothesis properties against
the kernels' rules.

The multicast options at IPPROTO_IP (``IP_MULTICAST_IF``,
``IP_MULTICAST_ALL``, the memberships, source filters and RFC 3678
requests), which Linux's AF_INET6 UDP and TCP sockets take as AF_INET ones
do, run on the kernel's sockets in a namespace with a veth and on ours:
every errno and read-back value, seeded random requests of every length,
and who gets a looped-back mapped multicast datagram, equal.

Path MTU discovery (``IP_MTU_DISCOVER``'s six modes, ``IP_MTU``) runs the
same way with a route of MTU 1200: every errno, value, and datagram the
sockets put on the wire (length, DF, MF, offset) equal to the kernel's;
FreeBSD's ``IP_DONTFRAG`` between two nodes on a memory link. So do
``IP_UNICAST_IF`` and ``IPV6_UNICAST_IF`` (which link each datagram leaves
by, read off the veths), ``IP_MSFILTER`` (requests of every shape, the
read-backs, the filter in effect), ``IPV6_MULTICAST_ALL``, multicast looped
back to the node's raw sockets, and joins without a route (``ENODEV``)."""

from __future__ import annotations

import errno
import json
import select
import socket
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.test_inet_raw import drain, flush, pair

from kame.in6_var import IfType
from kame.node import Node
from kame.socket import AF_INET, AF_INET6, SOCK_DGRAM, SOCK_RAW, SocketLayer
from kame.socket.inctl import (
    BSD_IP_RECVDSTADDR,
    BSD_IP_RECVTOS,
    BSD_IP_RECVTTL,
    IP_PKTINFO,
    IP_RECVORIGDSTADDR,
    IP_RECVTOS,
    IP_RECVTTL,
)
from kame.tcp.usrreq import Tcp

SOCK_STREAM = socket.SOCK_STREAM
IP_TTL, IP_TOS, IP_HDRINCL = socket.IP_TTL, socket.IP_TOS, socket.IP_HDRINCL
IP_MULTICAST_TTL, IP_MULTICAST_LOOP = socket.IP_MULTICAST_TTL, socket.IP_MULTICAST_LOOP
IPV6_PKTINFO, IPV6_RECVPKTINFO = socket.IPV6_PKTINFO, socket.IPV6_RECVPKTINFO
OPTS = (IP_TTL, IP_TOS, IP_MULTICAST_TTL, IP_MULTICAST_LOOP, IP_HDRINCL, IP_PKTINFO, IP_RECVTTL,
        IP_RECVTOS, IP_RECVORIGDSTADDR)
EXP = 253  # RFC 3692 experimentation
KINDS = ((AF_INET, SOCK_DGRAM, 0), (AF_INET6, SOCK_DGRAM, 0), (AF_INET, SOCK_STREAM, 0),
         (AF_INET6, SOCK_STREAM, 0), (AF_INET, SOCK_RAW, EXP), (AF_INET6, SOCK_RAW, 17))
VALUES: tuple[Any, ...] = (5, 0, 1, 255, 256, -1, -2, 0x1FF, 0x1F, b"", b"\x07", b"\x07\x00",
                           b"\x09" * 8, struct.pack("=i", -1), struct.pack("=i", 0xB8))


def _try(fn: Any) -> Any:
    try:
        r = fn()
        return r.hex() if isinstance(r, bytes) else ("ok" if r is None else r)
    except OSError as e:
        return errno.errorcode[e.errno or 0]


def pktinfo(ifindex: int, spec: str, addr: str = "0.0.0.0") -> bytes:
    """A ``struct in_pktinfo``."""
    return struct.pack("=i4s4s", ifindex, socket.inet_aton(spec), socket.inet_aton(addr))


def pktinfo6(addr: str, ifindex: int = 0) -> bytes:
    return socket.inet_pton(socket.AF_INET6, addr) + struct.pack("=I", ifindex)


def option_run(make: Any) -> list[Any]:
    """Every option's default, its short-buffer forms and what each value
    encoding does, on each kind of socket."""
    out: list[Any] = []
    for fam, typ, proto in KINDS:
        s = make(fam, typ, proto)
        for opt in OPTS:
            out.append(["get", fam, typ, opt, _try(lambda s=s, o=opt: s.getsockopt(0, o)),
                        _try(lambda s=s, o=opt: s.getsockopt(0, o, 1)),
                        _try(lambda s=s, o=opt: s.getsockopt(0, o, 4))])
        for opt in (IP_TTL, IP_TOS, IP_MULTICAST_TTL, IP_MULTICAST_LOOP, IP_PKTINFO, IP_RECVTOS):
            for v in VALUES:
                out.append(["set", fam, typ, opt, v.hex() if isinstance(v, bytes) else v,
                            _try(lambda s=s, o=opt, v=v: s.setsockopt(0, o, v)),
                            _try(lambda s=s, o=opt: s.getsockopt(0, o))])
        s.close()
    return out


def datagram_run(make: Any, host: bool) -> list[Any]:
    """Datagrams over the loopback with the receive options on, and the
    ancillary data of sendmsg, on AF_INET and AF_INET6 (mapped) sockets."""
    out: list[Any] = []

    def recv(r: Any) -> Any:
        if host:
            select.select([r], [], [], 0.5)
        try:
            data, anc, _fl, addr = r.recvmsg(100, 4096)
        except BlockingIOError:
            return "EAGAIN"
        return [data.hex(), [[lv, t, d.hex()] for lv, t, d in anc], list(addr)]

    r4 = make(AF_INET, SOCK_DGRAM, 0)
    r4.bind(("127.0.0.1", 7201))
    r6 = make(AF_INET6, SOCK_DGRAM, 0)
    r6.bind(("::", 7202))
    for r in (r4, r6):
        for opt in (IP_PKTINFO, IP_RECVTTL, IP_RECVTOS, IP_RECVORIGDSTADDR):
            out.append(_try(lambda r=r, o=opt: r.setsockopt(0, o, 1)))
    r6.setsockopt(41, IPV6_RECVPKTINFO, 1)
    if host:
        r4.setblocking(False)
        r6.setblocking(False)
    s4 = make(AF_INET, SOCK_DGRAM, 0)
    s4.bind(("127.0.0.1", 7203))
    s4.setsockopt(0, IP_TOS, 0x1D)
    s6 = make(AF_INET6, SOCK_DGRAM, 0)
    s6.bind(("::", 7204))
    out.append(_try(lambda: s6.setsockopt(0, IP_TTL, 9)))
    out.append(_try(lambda: s6.setsockopt(0, IP_TOS, 0x20)))
    to4, to6 = ("127.0.0.1", 7201), ("::ffff:127.0.0.1", 7202)
    s4.sendto(b"plain", to4)
    out.append(recv(r4))
    for anc in ([(0, IP_PKTINFO, pktinfo(0, "127.0.0.9"))],
                [(0, IP_PKTINFO, pktinfo(0, "10.99.99.99"))],
                [(0, IP_PKTINFO, pktinfo(999, "0.0.0.0"))],
                [(0, IP_PKTINFO, pktinfo(1, "0.0.0.0"))],
                [(0, IP_PKTINFO, pktinfo(0, "0.0.0.0")[:11])],
                [(0, IP_TTL, struct.pack("=i", 7))], [(0, IP_TTL, struct.pack("=i", 0))],
                [(0, IP_TTL, struct.pack("=i", 256))], [(0, IP_TTL, b"\x07")],
                [(0, IP_TOS, b"\x28")], [(0, IP_TOS, struct.pack("=i", 0x48))],
                [(0, IP_TOS, b"\x28\x00")], [(0, IP_TOS, struct.pack("=i", 256))],
                [(41, IPV6_PKTINFO, bytes(20))], [(0, 99, bytes(4))], [(99, 1, bytes(4))],
                [(0, IP_TTL, struct.pack("=i", 3)), (0, IP_TOS, b"\x04")]):
        out.append(_try(lambda a=anc: s4.sendmsg([b"anc"], a, 0, to4)))
        out.append(recv(r4))
    # AF_INET6: IP_TTL/IP_TOS on the mapped datagrams; the IPv4 items too
    s6.sendto(b"mapped", to6)
    out.append(recv(r6))
    s6.sendto(b"to AF_INET", ("::ffff:127.0.0.1", 7201))
    out.append(recv(r4))
    for anc in ([(0, IP_PKTINFO, pktinfo(0, "127.0.0.9"))],
                [(41, IPV6_PKTINFO, pktinfo6("::ffff:127.0.0.5"))],
                [(41, IPV6_PKTINFO, pktinfo6("::"))], [(41, IPV6_PKTINFO, pktinfo6("::1"))],
                [(41, IPV6_PKTINFO, pktinfo6("::ffff:127.0.0.5", 999))],
                [(0, IP_TTL, struct.pack("=i", 3))], [(0, IP_TTL, b"\x03")],
                [(41, socket.IPV6_HOPLIMIT, struct.pack("=i", 3))], [(0, 99, bytes(4))]):
        out.append(_try(lambda a=anc: s6.sendmsg([b"anc6"], a, 0, to6)))
        out.append(recv(r6))
    # to ::1 the IPv4 items pass unread; IP_TOS is not the traffic class
    for anc in ([(0, IP_TTL, struct.pack("=i", 3))], [(0, 99, bytes(4))], [(99, 1, b"")]):
        out.append(_try(lambda a=anc: s6.sendmsg([b"v6"], a, 0, ("::1", 7202))))
        out.append(recv(r6))
    # switched off again, a short buffer: no items
    r4.setsockopt(0, IP_RECVTTL, b"")
    r4.setsockopt(0, IP_PKTINFO, 0)
    s4.sendto(b"off", to4)
    out.append(recv(r4))
    out.append(recv(r4))  # nothing more queued
    for s in (r4, r6, s4, s6):
        s.close()
    return out


def kame_linux() -> SocketLayer:
    """A node whose only interface is ``lo`` (index 1, as in the kernel's
    fresh namespace)."""
    node = Node("k")
    node.add_interface("lo", None, type=IfType.LOOPBACK, mtu=65536)
    node.up("lo", 0.0)
    node.poll(10.0)
    return SocketLayer(node, "linux")


def _ours(run: Any, *args: Any) -> Any:
    layer = kame_linux()
    return json.loads(json.dumps(run(lambda f, t, p: layer.socket(f, t, p), *args)))


def _kernel(run: str, *args: Any, veth: bool = False, extra: tuple[str, ...] = (),
            module: str = "tests.test_socket_ipopts") -> Any:
    """``run`` on the kernel's sockets in a fresh namespace (``lo`` up; with
    ``veth``, a veth ``d0`` with 10.9.9.1/24 and 224.0.0.0/4 routed to it,
    whose index is the first argument); ``run`` is a function of
    ``module``)."""
    from tests.interop.netns_rig import kernel_json, veth_d0

    argv = "".join(", " + repr(a) for a in args)
    setup: list[list[str]] = []
    if veth:
        argv = ", socket.if_nametoindex('d0')" + argv
        setup = [*veth_d0(f"{ME4}/24"), ["ip", "route", "add", "224.0.0.0/4", "dev", "d0"]]
    code = ("import json,socket,sys; sys.path.insert(0, '.');"
            f"from {module} import {run};"
            f"print(json.dumps({run}(lambda f, t, p: socket.socket(f, t, p){argv})))")
    return kernel_json("ipopt", code, [*setup, *(line.split() for line in extra)])


def test_option_values_on_the_linux_profile() -> None:
    out = _ours(option_run)
    get = {(r[1], r[2], r[3]): r[4:] for r in out if r[0] == "get"}
    put = {(r[1], r[2], r[3], r[4]): r[5:] for r in out if r[0] == "set"}
    # defaults: the route's TTL as an int, one octet, an int's octets;
    # AF_INET6 raw sockets refuse the level
    assert get[(AF_INET6, SOCK_DGRAM, IP_TTL)] == [64, "40", "40000000"]
    assert get[(AF_INET6, SOCK_RAW, IP_TTL)][0] == "ENOPROTOOPT"
    assert get[(AF_INET, SOCK_STREAM, IP_TOS)][1] == "00"
    assert put[(AF_INET6, SOCK_DGRAM, IP_TTL, 9 - 4)] == ["ok", 5]
    assert put[(AF_INET6, SOCK_DGRAM, IP_TTL, 0)][0] == "EINVAL"
    assert put[(AF_INET6, SOCK_DGRAM, IP_TOS, 0x1FF)] == ["ok", 255]
    assert put[(AF_INET6, SOCK_STREAM, IP_TOS, 0x1F)] == ["ok", 0x1C]  # ECN bits kept
    assert put[(AF_INET6, SOCK_DGRAM, IP_PKTINFO, "")] == ["ok", 0]


@pytest.mark.root
def test_option_values_equal_the_kernels() -> None:
    assert _ours(option_run) == _kernel("option_run")


@pytest.mark.root
def test_datagrams_and_control_messages_equal_the_kernels() -> None:
    assert _ours(datagram_run, False) == _kernel("datagram_run", True)


def test_datagram_steps_on_the_linux_profile() -> None:
    out = _ours(datagram_run, False)
    plain = out[10]  # after the 8 switches and the two IP_TTL/IP_TOS sets
    assert plain[0] == b"plain".hex()
    items = [(lv, t) for lv, t, _d in plain[1]]
    assert items == [(0, IP_PKTINFO), (0, IP_TTL), (0, IP_TOS), (0, IP_RECVORIGDSTADDR)]
    d = {t: bytes.fromhex(h) for _lv, t, h in plain[1]}
    assert d[IP_PKTINFO] == pktinfo(1, "127.0.0.1", "127.0.0.1")
    assert d[IP_TTL] == struct.pack("=i", 64) and d[IP_TOS] == b"\x1d"
    assert d[IP_RECVORIGDSTADDR] == struct.pack("=H", 2) + struct.pack("!H", 7201) + \
        socket.inet_aton("127.0.0.1") + bytes(8)


# --- another host's TTL and TOS, over a memory link ---------------------------

@pytest.mark.parametrize("profile", ["linux", "freebsd4x"])
def test_ttl_and_tos_from_another_host_reach_the_control_messages(profile: str) -> None:
    sim, a, b, la, lb = pair(profile)
    linux = profile == "linux"
    r = lb.socket(AF_INET, SOCK_DGRAM)
    r.bind(("0.0.0.0", 7300))
    sw = (IP_PKTINFO, IP_RECVTTL, IP_RECVTOS) if linux else \
        (BSD_IP_RECVDSTADDR, BSD_IP_RECVTTL, BSD_IP_RECVTOS)
    for opt in sw:
        r.setsockopt(0, opt, 1)
        assert r.getsockopt(0, opt) == 1
    s = la.socket(AF_INET, SOCK_DGRAM)
    s.setsockopt(0, IP_TTL, 33)
    s.setsockopt(0, IP_TOS, 0xB8)
    s.sendto(b"over the link", ("192.0.2.2", 7300))
    flush(sim, a, b)
    data, anc, _fl, addr = r.recvmsg(100, 1024)
    assert (data, addr[0]) == (b"over the link", "192.0.2.1")
    ifi = int(b.ifnets["eth0"].index)
    if linux:
        assert anc == [(0, IP_PKTINFO, pktinfo(ifi, "192.0.2.2", "192.0.2.2")),
                       (0, IP_TTL, struct.pack("=i", 33)), (0, IP_TOS, b"\xb8")]
    else:  # FreeBSD ip_savecontrol: an in_addr, then u_chars
        assert anc == [(0, BSD_IP_RECVDSTADDR, socket.inet_aton("192.0.2.2")),
                       (0, BSD_IP_RECVTTL, b"\x21"), (0, BSD_IP_RECVTOS, b"\xb8")]
    # a per-datagram TTL and TOS (Linux ip_cmsg_send); and an AF_INET6
    # socket's mapped datagram with its IPPROTO_IP TTL and TOS
    if linux:
        s.sendmsg([b"anc"], [(0, IP_TTL, struct.pack("=i", 5)), (0, IP_TOS, b"\x10")], 0,
                  ("192.0.2.2", 7300))
        s6 = la.socket(AF_INET6, SOCK_DGRAM)
        s6.setsockopt(0, IP_TTL, 44)
        s6.setsockopt(0, IP_TOS, 0x48)
        s6.sendto(b"mapped", ("::ffff:192.0.2.2", 7300))
        flush(sim, a, b)
        got = [r.recvmsg(100, 1024) for _ in range(2)]
        assert [{t: v for _lv, t, v in g[1]}[IP_TTL] for g in got] == \
            [struct.pack("=i", 5), struct.pack("=i", 44)]
        assert [{t: v for _lv, t, v in g[1]}[IP_TOS] for g in got] == [b"\x10", b"\x48"]
    else:  # the BSDs' ip6_ctloutput takes no IPPROTO_IP
        s6 = la.socket(AF_INET6, SOCK_DGRAM)
        with pytest.raises(OSError) as e:
            s6.setsockopt(0, IP_TTL, 44)
        assert e.value.errno == errno.EINVAL
        # FreeBSD udp_output: IP_SENDSRCADDR and a one-octet IP_TOS; other
        # levels unread, another type ENOPROTOOPT
        to = ("192.0.2.2", 7300)
        for anc, want in (([(0, IP_TTL, struct.pack("=i", 5))], errno.ENOPROTOOPT),
                          ([(0, IP_TOS, struct.pack("=i", 5))], errno.EINVAL),
                          ([(0, BSD_IP_RECVDSTADDR, socket.inet_aton("192.0.2.99"))],
                           errno.EADDRNOTAVAIL),
                          ([(0, BSD_IP_RECVDSTADDR, b"\0")], errno.EINVAL)):
            with pytest.raises(OSError) as e:
                s.sendmsg([b"no"], anc, 0, to)
            assert e.value.errno == want, anc
        s.sendmsg([b"anc"], [(41, 99, b""), (0, IP_TOS, b"\x10"),
                             (0, BSD_IP_RECVDSTADDR, socket.inet_aton("192.0.2.1"))], 0, to)
        flush(sim, a, b)
        data, anc, _fl, addr = r.recvmsg(100, 1024)
        assert (data, addr[0]) == (b"anc", "192.0.2.1")
        assert anc[1:] == [(0, BSD_IP_RECVTTL, b"\x21"), (0, BSD_IP_RECVTOS, b"\x10")]


def test_raw_sockets_get_the_control_messages_and_send_the_items() -> None:
    sim, a, b, la, lb = pair("linux")
    r = lb.socket(AF_INET, SOCK_RAW, EXP)
    r.setsockopt(0, IP_RECVTTL, 1)
    r.setsockopt(0, IP_RECVTOS, 1)
    s = la.socket(AF_INET, SOCK_RAW, EXP)
    s.sendmsg([b"raw"], [(0, IP_TTL, struct.pack("=i", 7)), (0, IP_TOS, b"\x20")], 0,
              ("192.0.2.2", 0))
    flush(sim, a, b)
    data, anc, _fl, _addr = r.recvmsg(100, 1024)
    assert data[0] >> 4 == 4 and data[8] == 7 and data[1] == 0x20  # the IP header as sent
    assert anc == [(0, IP_TTL, struct.pack("=i", 7)), (0, IP_TOS, b"\x20")]


# --- value encodings ------------------------------------------------------------

def _linux_read(v: Any) -> int:
    if isinstance(v, bytes):
        if len(v) >= 4:
            return int(struct.unpack("=i", v[:4])[0])
        return v[0] if v else 0
    return int(v)


@given(st.one_of(st.binary(max_size=12), st.integers(-(2**31), 2**31 - 1)),
       st.sampled_from(["linux", "freebsd4x"]), st.sampled_from([AF_INET, AF_INET6]))
def test_ttl_tos_encodings_follow_the_kernels(value: Any, profile: str, fam: int) -> None:
    """Linux ``do_ip_setsockopt``: an int from four octets or more, the first
    octet of one to three, 0 from none; TTL -1 or 1-255 else EINVAL, TOS
    cut to an octet. FreeBSD ``ip_ctloutput``: fewer than four octets
    EINVAL, both kept as a u_char; its AF_INET6 sockets refuse the level."""
    layer = SocketLayer(None, profile)
    s = layer.socket(fam, SOCK_DGRAM)
    linux = profile == "linux"
    for opt in (IP_TTL, IP_TOS):
        try:
            s.setsockopt(0, opt, value)
            err = 0
        except OSError as e:
            err = e.errno or 0
        if fam == AF_INET6 and not linux:
            assert err == errno.EINVAL
            continue
        if not linux and isinstance(value, bytes) and len(value) < 4:
            assert err == errno.EINVAL
            continue
        v = _linux_read(value)
        if linux and opt == IP_TTL and not (v == -1 or 1 <= v <= 255):
            assert err == errno.EINVAL
            continue
        assert err == 0
        want = 64 if linux and opt == IP_TTL and v == -1 else v & 0xFF
        assert s.getsockopt(0, opt) == want
        assert s.getsockopt(0, opt, 1) == (bytes([want]) if linux else bytes([want & 0xFF]))


@given(st.binary(max_size=24), st.sampled_from([IP_PKTINFO, IP_TTL, IP_TOS, 99]))
def test_ancillary_lengths_are_einval_or_sent(item: bytes, typ: int) -> None:
    """Linux ``ip_cmsg_send``: an ``in_pktinfo`` of 12 octets, an int TTL of
    1-255, a TOS of one octet or an int of 0-255; anything else EINVAL."""
    layer = kame_linux()
    r = layer.socket(AF_INET, SOCK_DGRAM)
    r.bind(("127.0.0.1", 7301))
    s = layer.socket(AF_INET, SOCK_DGRAM)
    try:
        s.sendmsg([b"x"], [(0, typ, item)], 0, ("127.0.0.1", 7301))
        err = 0
    except OSError as e:
        err = e.errno or 0
    if typ == IP_PKTINFO:
        ok = len(item) == 12
        if ok:
            ifi = struct.unpack("=i", item[:4])[0]
            spec = item[4:8]
            if ifi not in (0, 1):
                assert err == errno.ENODEV
                return
            if spec != bytes(4) and spec[0] != 127:
                assert err == errno.ENETUNREACH
                return
    elif typ == IP_TTL:
        ok = len(item) == 4 and 1 <= struct.unpack("=i", item)[0] <= 255
    elif typ == IP_TOS:
        ok = len(item) == 1 or (len(item) == 4 and 0 <= struct.unpack("=i", item)[0] <= 255)
    else:
        ok = False
    assert err == (0 if ok else errno.EINVAL)
    assert (r.recv(10) == b"x") if ok else True


@pytest.mark.parametrize("fast", [True, False])
def test_tcp_segments_to_an_ipv4_peer_carry_ip_ttl_and_tos(fast: bool,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A stream socket's segments to an IPv4 peer (AF_INET, or mapped on
    AF_INET6) carry its IP_TTL and IP_TOS (Linux ``inet->uc_ttl``,
    ``inet->tos`` less the ECN bits); an accepted socket has its
    listener's, and so has the SYN,ACK, from either SYN cache (the core's
    and the Python one), as Linux's ``ip_build_and_send_pkt``."""
    monkeypatch.setattr(Tcp, "fast_syncache", fast)
    sim, a, b, la, lb = pair("linux")
    sent: dict[str, list[bytes]] = {"a": [], "b": []}
    emit = sim.emit

    def record(node: Any, frames: Any) -> Any:
        frames = list(frames)
        sent["a" if node is a else "b"].extend(f for _i, f in frames)
        return emit(node, frames)

    sim.emit = record  # type: ignore[method-assign]
    srv = lb.socket(AF_INET, SOCK_STREAM)
    srv.setsockopt(0, IP_TTL, 99)
    srv.setsockopt(0, IP_TOS, 0x10)
    srv.bind(("0.0.0.0", 80))
    srv.listen(8)
    cli = la.socket(AF_INET6, SOCK_STREAM)
    cli.setsockopt(0, IP_TTL, 77)
    cli.setsockopt(0, IP_TOS, 0x2B)
    assert cli.getsockopt(0, IP_TOS) == 0x28  # a stream socket's ECN bits are the stack's
    with pytest.raises(BlockingIOError):
        cli.connect(("::ffff:192.0.2.2", 80))
    conn = None
    for _ in range(100):
        flush(sim, a, b, t=0.05)
        try:
            conn, _ = srv.accept()
            break
        except BlockingIOError:
            continue
    assert conn is not None and conn.getsockopt(0, IP_TTL) == 99
    cli.send(b"x" * 3000)
    conn.send(b"y" * 100)
    got = b""
    for _ in range(40):
        flush(sim, a, b, t=0.05)
        try:
            got += conn.recv(10000)
        except BlockingIOError:
            pass
    assert got == b"x" * 3000

    def ip4(frames: list[bytes]) -> list[tuple[int, int, int]]:
        # (TTL, TOS, TCP flags) of each IPv4 TCP segment
        return [(f[22], f[15], f[14 + (f[14] & 15) * 4 + 13]) for f in frames
                if f[12:14] == b"\x08\x00" and f[23] == 6]

    ours, theirs = ip4(sent["a"]), ip4(sent["b"])
    assert ours and {(t, tos) for t, tos, _f in ours} == {(77, 0x28)}, ours
    # the listener's, the SYN,ACK's included
    assert [fl & 0x12 for _t, _tos, fl in theirs].count(0x12) == 1, theirs
    assert {(t, tos) for t, tos, _fl in theirs} == {(99, 0x10)}, theirs
    cli.setsockopt(0, IP_TTL, 5)  # on a connected socket: the next segments
    cli.send(b"z")
    flush(sim, a, b, t=0.05)
    assert ip4(sent["a"])[-1][0] == 5


# --- the multicast options of IPPROTO_IP on every kind of socket ----------------
#
# Linux ``ipv6_setsockopt``/``ipv6_getsockopt`` hand IPPROTO_IP of a UDP or
# TCP AF_INET6 socket to ``ip_setsockopt``/``ip_getsockopt``: the interface
# of mapped multicast sends, IPv4 memberships and their source filters,
# ``IP_MULTICAST_ALL``. The steps run on the kernel's sockets in a namespace
# with a veth ``d0`` (10.9.9.1/24, 224.0.0.0/4 routed to it) and on ours.

IP_MULTICAST_IF = socket.IP_MULTICAST_IF
IP_ADD_MEMBERSHIP, IP_DROP_MEMBERSHIP = socket.IP_ADD_MEMBERSHIP, socket.IP_DROP_MEMBERSHIP
IP_ADD_SOURCE_MEMBERSHIP, IP_DROP_SOURCE_MEMBERSHIP = 39, 40
IP_BLOCK_SOURCE, IP_UNBLOCK_SOURCE = 38, 37
IP_MULTICAST_ALL = 49
MCAST_JOIN_GROUP, MCAST_LEAVE_GROUP, MCAST_JOIN_SOURCE_GROUP = 42, 45, 46
MCAST_LEAVE_SOURCE_GROUP, MCAST_BLOCK_SOURCE = 47, 43
ME4 = "10.9.9.1"


def _a(x: str) -> bytes:
    return socket.inet_aton(x)


def mreqn(group: str, addr: str = "0.0.0.0", ifindex: int = 0) -> bytes:
    """A ``struct ip_mreqn``."""
    return _a(group) + _a(addr) + struct.pack("=i", ifindex)


def mreq_source(group: str, iface: str, source: str) -> bytes:
    """Linux's ``struct ip_mreq_source``: group, interface, source."""
    return _a(group) + _a(iface) + _a(source)


def _gr(ifi: int, group: str, source: str | None = None) -> bytes:
    from kame.socket.inctl import group_req, group_source_req
    return group_req(ifi, group) if source is None else group_source_req(ifi, group, source)


def mcast_if_values(ifi: int) -> list[Any]:
    """``IP_MULTICAST_IF`` values: an ``in_addr``, ``ip_mreq`` and
    ``ip_mreqn`` (and lengths between), ours, the loopback's, not ours, by
    index (ours, the loopback, none), an index with an address not ours."""
    me, lo, far = _a(ME4), _a("127.0.0.1"), _a("10.1.1.1")
    return [b"", me[:3], me, lo, far, me + b"\x01", bytes(4) + me, _a("239.1.1.1") + me,
            bytes(4) + me + b"\x01", mreqn("0.0.0.0", "0.0.0.0", ifi), mreqn("0.0.0.0", ME4, 0),
            mreqn("0.0.0.0", "0.0.0.0", 1), mreqn("0.0.0.0", "0.0.0.0", 999),
            mreqn("0.0.0.0", "10.1.1.1", ifi), mreqn("0.0.0.0", "0.0.0.0", ifi) + b"\xff" * 4,
            bytes(4), bytes(12), 0, 5, struct.unpack("=i", me)[0]]


def membership_values(ifi: int) -> list[Any]:
    """``ip_mreq``/``ip_mreqn`` requests for a join then a leave: every
    length Linux reads (fewer than 8 octets are EINVAL, 8 to 11 an
    ``ip_mreq``, 12 and more an ``ip_mreqn``), by address, by index, by the
    route; unicast groups, interfaces not ours."""
    g = "239.1.2.3"
    return [b"", _a(g), (_a(g) + _a(ME4))[:7], _a(g) + _a(ME4), _a(g) + _a(ME4) + b"\x05",
            _a(g) + bytes(4), mreqn(g, "0.0.0.0", ifi), mreqn(g, ME4, 999),
            mreqn(g, "10.1.1.1", 0), _a(g) + _a("10.1.1.1"), mreqn(g, "0.0.0.0", 999),
            mreqn(g, "10.1.1.1", ifi), mreqn(g) + b"\x01" * 4, mreqn("10.9.9.9"),
            mreqn("224.0.0.1", ME4), mreqn("255.255.255.255"), 0]


def mcast_option_run(make: Any, ifi: int) -> list[Any]:
    """``IP_MULTICAST_IF``, ``IP_MULTICAST_ALL``, the memberships and the
    source filters at IPPROTO_IP on each kind of socket: every errno, and
    what the options read back in one, four and eight octets."""
    out: list[Any] = []

    def enc(v: Any) -> Any:
        return v.hex() if isinstance(v, bytes) else v

    for fam, typ, proto in KINDS:
        s = make(fam, typ, proto)
        k = [fam, typ]

        def so(opt: int, v: Any, lvl: int = 0, s: Any = s, k: list[int] = k) -> None:
            out.append([*k, "set", lvl, opt, enc(v), _try(lambda: s.setsockopt(lvl, opt, v))])

        def get(opt: int, s: Any = s, k: list[int] = k) -> None:
            out.append([*k, "get", opt] + [_try(lambda n=n: s.getsockopt(0, opt, n))
                                           for n in (1, 4, 8)])

        get(IP_MULTICAST_IF)
        get(IP_MULTICAST_ALL)
        for v in mcast_if_values(ifi):
            so(IP_MULTICAST_IF, v)
            get(IP_MULTICAST_IF)
        for v in (0, 1, 2, -1, b"", b"\x01", b"\x02", b"\x00\x00", struct.pack("=i", 1) + b"\x09"):
            so(IP_MULTICAST_ALL, v)
            get(IP_MULTICAST_ALL)
        for v in membership_values(ifi):
            so(IP_ADD_MEMBERSHIP, v)
            so(IP_ADD_MEMBERSHIP, v)  # twice
            so(IP_DROP_MEMBERSHIP, v)
            so(IP_DROP_MEMBERSHIP, v)  # not a member now
        # a leave names the membership by address, index or nothing
        so(IP_ADD_MEMBERSHIP, mreqn("239.1.2.4", ME4))
        so(IP_DROP_MEMBERSHIP, mreqn("239.1.2.4", "0.0.0.0", ifi))
        so(IP_ADD_MEMBERSHIP, mreqn("239.1.2.4", "0.0.0.0", ifi))
        so(IP_DROP_MEMBERSHIP, mreqn("239.1.2.4"))
        so(IP_DROP_MEMBERSHIP, mreqn("239.1.2.4", "0.0.0.0", 999))
        so(IP_ADD_MEMBERSHIP, mreqn("239.1.2.4", "0.0.0.0", ifi))
        so(IP_DROP_MEMBERSHIP, mreqn("239.1.2.4", ME4))  # the join named no address
        so(IP_DROP_MEMBERSHIP, mreqn("239.1.2.4", "127.0.0.1"))
        so(IP_ADD_MEMBERSHIP, mreqn("239.1.2.4", "127.0.0.1"))  # on lo
        so(IP_ADD_MEMBERSHIP, mreqn("239.1.2.4", ME4))
        so(IP_DROP_MEMBERSHIP, mreqn("239.1.2.4"))  # the first of the two
        so(IP_DROP_MEMBERSHIP, mreqn("239.1.2.4", "127.0.0.1"))
        so(IP_DROP_MEMBERSHIP, mreqn("239.1.2.4", "0.0.0.0", ifi))
        # source filters (an ip_mreq_source: exactly 12 octets)
        g, s1, s2 = "239.1.2.5", "10.0.0.1", "10.0.0.2"
        for v in (mreq_source(g, ME4, s1)[:11], mreq_source(g, ME4, s1) + b"\x00",
                  mreq_source("10.0.0.9", ME4, s1), mreq_source(g, "10.1.1.1", s1),
                  mreq_source("239.1.2.15", ME4, "239.0.0.1"),
                  mreq_source("239.1.2.15", ME4, "0.0.0.0")):
            so(IP_ADD_SOURCE_MEMBERSHIP, v)
        so(IP_DROP_MEMBERSHIP, mreqn("239.1.2.15"))
        so(IP_BLOCK_SOURCE, mreq_source(g, ME4, s1))  # not a member
        so(IP_DROP_SOURCE_MEMBERSHIP, mreq_source(g, ME4, s1))
        so(IP_ADD_SOURCE_MEMBERSHIP, mreq_source(g, ME4, s1))
        so(IP_ADD_SOURCE_MEMBERSHIP, mreq_source(g, "0.0.0.0", s2))
        so(IP_ADD_SOURCE_MEMBERSHIP, mreq_source(g, ME4, s2))  # twice
        so(IP_BLOCK_SOURCE, mreq_source(g, ME4, s1))  # an INCLUDE membership
        so(IP_ADD_MEMBERSHIP, mreqn(g, ME4))  # a member already
        so(IP_DROP_SOURCE_MEMBERSHIP, mreq_source(g, "0.0.0.0", s1))
        so(IP_DROP_SOURCE_MEMBERSHIP, mreq_source(g, ME4, s2))  # the last: left
        so(IP_DROP_MEMBERSHIP, mreqn(g, ME4))
        so(IP_ADD_MEMBERSHIP, mreqn(g, ME4))
        so(IP_BLOCK_SOURCE, mreq_source(g, ME4, s1))
        so(IP_BLOCK_SOURCE, mreq_source(g, "0.0.0.0", s1))  # twice
        so(IP_UNBLOCK_SOURCE, mreq_source(g, ME4, s2))  # not blocked
        so(IP_ADD_SOURCE_MEMBERSHIP, mreq_source(g, ME4, s2))  # an EXCLUDE membership
        so(IP_UNBLOCK_SOURCE, mreq_source(g, ME4, s1))
        so(IP_DROP_MEMBERSHIP, mreqn(g))
        # RFC 3678's requests at IPPROTO_IP (AF_INET groups) and, with an
        # AF_INET group, at IPPROTO_IPV6
        g2 = "239.1.2.6"
        so(MCAST_JOIN_GROUP, _gr(ifi, g2))
        so(MCAST_JOIN_GROUP, _gr(ifi, g2))
        so(MCAST_JOIN_GROUP, _gr(0, "239.1.2.7"))
        so(MCAST_JOIN_GROUP, _gr(ifi, "ff3e::1"))
        so(MCAST_JOIN_GROUP, _gr(ifi, g2)[:135])
        so(MCAST_JOIN_GROUP, _gr(ifi, "239.1.2.8"), 41)
        so(MCAST_BLOCK_SOURCE, _gr(ifi, g2, s1))
        so(MCAST_JOIN_SOURCE_GROUP, _gr(ifi, g2, s2))
        so(MCAST_JOIN_SOURCE_GROUP, _gr(ifi, "239.1.2.9", s2))
        so(MCAST_JOIN_SOURCE_GROUP, _gr(ifi, "239.1.2.9", "2001:db8::1"))
        so(MCAST_LEAVE_SOURCE_GROUP, _gr(ifi, "239.1.2.9", s2))
        so(MCAST_LEAVE_GROUP, _gr(ifi, g2))
        so(MCAST_LEAVE_GROUP, _gr(0, g2))
        so(MCAST_LEAVE_GROUP, _gr(0, "239.1.2.7"))
        so(MCAST_LEAVE_GROUP, _gr(ifi, "239.1.2.7"), 41)
        # the 21st membership is one too many (igmp_max_memberships)
        for i in range(21):
            so(IP_ADD_MEMBERSHIP, mreqn(f"239.2.0.{i}", ME4))
        so(MCAST_JOIN_GROUP, _gr(ifi, "239.2.1.1"))
        for i in range(21):
            so(IP_DROP_MEMBERSHIP, mreqn(f"239.2.0.{i}", ME4))
        s.close()
    return out


def kame_veth() -> SocketLayer:
    """The namespace of :func:`_kernel` with ``veth``: ``lo`` (index 1), the
    peer ``d1`` (2) and ``d0`` (3) with 10.9.9.1/24, 224.0.0.0/4 routed to it."""
    layer = kame_linux()
    node = layer.node
    assert node is not None
    node.add_interface("d1", bytes.fromhex("020000000b0c"))
    node.add_interface("d0", bytes.fromhex("020000000b0b"))
    node.up("d1", 10.0)
    node.up("d0", 10.0)
    node.add_address4("d0", f"{ME4}/24", 10.0)
    node.poll(20.0)
    node.inet.route_add("224.0.0.0/4", None, "d0")
    return layer


def _ours_veth(run: Any, *args: Any) -> Any:
    layer = kame_veth()
    return json.loads(json.dumps(run(lambda f, t, p: layer.socket(f, t, p),
                                     layer.ifindex("d0"), *args)))


def _diff(ours: list[Any], kernel: list[Any]) -> list[Any]:
    return [(o, k) for o, k in zip(ours, kernel, strict=True) if o != k]


@pytest.mark.root
def test_multicast_options_equal_the_kernels() -> None:
    ours, kernel = _ours_veth(mcast_option_run), _kernel("mcast_option_run", veth=True)
    assert ours == kernel, _diff(ours, kernel)


def mcast_datagram_run(make: Any, ifi: int, host: bool = True) -> list[Any]:
    """Who gets a mapped multicast datagram an AF_INET6 socket sends out of
    ``d0`` (``IP_MULTICAST_IF`` at IPPROTO_IP) and the stack loops back:
    an AF_INET socket (``IP_MULTICAST_ALL`` on), AF_INET6 ones that did not
    join (off), joined with ``IP_ADD_MEMBERSHIP``, with a source join at
    IPPROTO_IP (the sender's source, another), with ``IP_MULTICAST_ALL``,
    a V6ONLY one that joined; then after leaves, with the loop off."""
    out: list[Any] = []
    g, port = "239.1.2.3", 7400

    def rx(s: Any) -> Any:
        if host:
            select.select([s], [], [], 0.2)
        try:
            data, anc, _fl, addr = s.recvmsg(100, 256)
        except BlockingIOError:
            return "EAGAIN"
        return [data.decode(), list(addr)[:2], [[lv, t, d.hex()] for lv, t, d in anc]]

    def sock(fam: int, v6only: int = 0) -> Any:
        s = make(fam, SOCK_DGRAM, 0)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == AF_INET6:
            s.setsockopt(41, socket.IPV6_V6ONLY, v6only)
        s.bind(("::" if fam == AF_INET6 else "0.0.0.0", port))
        if host:
            s.setblocking(False)
        return s

    names = ["member4", "plain4", "plain6", "joined6", "ssm6", "ssm6_other", "all6",
             "v6only"]
    rs = dict(zip(names, [sock(AF_INET), sock(AF_INET), sock(AF_INET6), sock(AF_INET6),
                          sock(AF_INET6), sock(AF_INET6), sock(AF_INET6),
                          sock(AF_INET6, 1)], strict=True))
    so = rs["member4"].setsockopt
    out.append(_try(lambda: so(0, IP_ADD_MEMBERSHIP, mreqn(g, ME4))))
    out.append(_try(lambda: rs["joined6"].setsockopt(0, IP_ADD_MEMBERSHIP, mreqn(g, ME4))))
    out.append(_try(lambda: rs["joined6"].setsockopt(0, IP_PKTINFO, 1)))
    out.append(_try(lambda: rs["ssm6"].setsockopt(0, MCAST_JOIN_SOURCE_GROUP,
                                                  _gr(ifi, g, ME4))))
    out.append(_try(lambda: rs["ssm6_other"].setsockopt(0, MCAST_JOIN_SOURCE_GROUP,
                                                        _gr(ifi, g, "10.9.9.7"))))
    out.append(_try(lambda: rs["all6"].setsockopt(0, IP_MULTICAST_ALL, 1)))
    out.append(_try(lambda: rs["v6only"].setsockopt(0, IP_ADD_MEMBERSHIP,
                                                    mreqn(g, "0.0.0.0", ifi))))
    s6 = make(AF_INET6, SOCK_DGRAM, 0)
    s6.bind(("::", port + 1))
    out.append(_try(lambda: s6.setsockopt(0, IP_MULTICAST_IF, _a(ME4))))
    out.append(_try(lambda: s6.setsockopt(0, IP_MULTICAST_TTL, 3)))

    def send(tag: str) -> None:
        out.append([tag, _try(lambda: s6.sendto(tag.encode(), (f"::ffff:{g}", port)))])
        out.append({n: rx(r) for n, r in rs.items()})

    send("joined")
    for n, opt, v in (("joined6", IP_DROP_MEMBERSHIP, mreqn(g)),
                      ("ssm6", MCAST_LEAVE_SOURCE_GROUP, _gr(ifi, g, ME4)),
                      ("all6", IP_MULTICAST_ALL, 0)):
        out.append(_try(lambda r=rs[n], o=opt, v=v: r.setsockopt(0, o, v)))
    send("left")
    # Linux sk_mc_loop: an AF_INET6 socket loops by IPV6_MULTICAST_LOOP
    out.append(_try(lambda: s6.setsockopt(0, IP_MULTICAST_LOOP, 0)))
    send("IP_MULTICAST_LOOP 0")
    out.append(_try(lambda: s6.setsockopt(41, socket.IPV6_MULTICAST_LOOP, 0)))
    out.append(_try(lambda: s6.setsockopt(0, IP_MULTICAST_LOOP, 1)))
    send("IPV6_MULTICAST_LOOP 0")
    out.append(_try(lambda: s6.setsockopt(41, socket.IPV6_MULTICAST_LOOP, 1)))
    out.append(_try(lambda: rs["plain6"].setsockopt(0, IP_MULTICAST_ALL, 1)))
    out.append(_try(lambda: s6.setsockopt(0, IP_MULTICAST_IF, mreqn("0.0.0.0", "0.0.0.0", 1))))
    send("out of lo")  # the host is no member on lo: nothing loops back
    out.append(_try(lambda: s6.setsockopt(0, IP_MULTICAST_IF, mreqn("0.0.0.0", "0.0.0.0", ifi))))
    send("by index")
    out.append(_try(lambda: s6.setsockopt(0, IP_MULTICAST_IF, mreqn("0.0.0.0", "10.1.1.1", ifi))))
    send("a source not ours")
    for r in (*rs.values(), s6):
        r.close()
    return out


@pytest.mark.root
def test_multicast_delivery_equals_the_kernels() -> None:
    ours = _ours_veth(mcast_datagram_run, False)
    kernel = _kernel("mcast_datagram_run", veth=True)
    assert ours == kernel, _diff(ours, kernel)


# --- the request encodings: random ones against the kernel, and a model ----------

_GROUPS = ("239.1.2.3", "224.0.0.1", "10.9.9.9", "0.0.0.0", "255.255.255.255")
_IFADDRS = ("0.0.0.0", ME4, "127.0.0.1", "10.1.1.1")


def _request(rnd: Any, ifi: int) -> bytes:
    """An ``ip_mreqn``-shaped request: a group, an interface address and
    index from the interesting ones, cut or padded to a length of 0-20."""
    b = _a(rnd.choice(_GROUPS)) + _a(rnd.choice(_IFADDRS)) + struct.pack(
        "=i", rnd.choice((0, 0, 1, ifi, 999)))
    n = rnd.randrange(0, 21)
    return (b + bytes(rnd.randrange(256) for _ in range(8)))[:n]


def encoding_run(make: Any, ifi: int, seed: int = 9, n: int = 150,
                 fam: int = AF_INET6) -> list[Any]:
    """``n`` random requests (seeded) for each option that parses one, on
    a UDP socket of ``fam`` (and the memberships on a TCP one): the errno
    or what the socket reads back, so that the kernel and we can be
    compared request by request."""
    import random

    rnd = random.Random(seed)
    out: list[Any] = []
    s = make(fam, SOCK_DGRAM, 0)
    t = make(fam, SOCK_STREAM, 0)
    for _ in range(n):
        req = _request(rnd, ifi)
        out.append(["if", req.hex(), _try(lambda r=req: s.setsockopt(0, IP_MULTICAST_IF, r)),
                    _try(lambda: s.getsockopt(0, IP_MULTICAST_IF, 4))])
        req = _request(rnd, ifi)
        for sock in (s, t):
            out.append(["join", req.hex(),
                        _try(lambda r=req, k=sock: k.setsockopt(0, IP_ADD_MEMBERSHIP, r)),
                        _try(lambda r=req, k=sock: k.setsockopt(0, IP_DROP_MEMBERSHIP, r))])
        src = _a(rnd.choice(("10.0.0.1", "0.0.0.0", "239.0.0.1")))
        req = (_request(rnd, ifi)[:8].ljust(8, b"\0") + src)[:rnd.choice((11, 12, 12, 12, 13))]
        opt = rnd.choice((IP_ADD_SOURCE_MEMBERSHIP, IP_DROP_SOURCE_MEMBERSHIP, IP_BLOCK_SOURCE,
                          IP_UNBLOCK_SOURCE))
        out.append(["source", opt, req.hex(), _try(lambda o=opt, r=req: s.setsockopt(0, o, r))])
        g = rnd.choice(_GROUPS + ("ff3e::1",))
        gr = _gr(rnd.choice((0, ifi, 999)), g)
        gr = gr[:rnd.choice((135, 136, 136, 200))].ljust(136, b"\0") if len(gr) else gr
        opt = rnd.choice((MCAST_JOIN_GROUP, MCAST_LEAVE_GROUP))
        out.append(["group_req", opt, g, len(gr),
                    _try(lambda o=opt, r=gr: s.setsockopt(0, o, r))])
    s.close()
    t.close()
    return out


@pytest.mark.root
def test_random_encodings_equal_the_kernels() -> None:
    """750 seeded random requests (``ip_mreqn`` and ``in_addr`` of every
    length 0-20, ``ip_mreq_source`` of 11-13, ``group_req`` cut short or
    long) on AF_INET6 UDP and TCP sockets, 750 others on AF_INET ones: each
    errno and read-back value equal to the kernel's."""
    ours = _ours_veth(encoding_run) + _ours_veth(encoding_run, 10, 150, int(AF_INET))
    kernel = _kernel("encoding_run", veth=True) + _kernel("encoding_run", 10, 150, int(AF_INET),
                                                          veth=True)
    assert ours == kernel, _diff(ours, kernel)
    flat = json.dumps(kernel)
    for e in ("EINVAL", "ENODEV", "EADDRNOTAVAIL", "EPROTO", "EADDRINUSE"):
        assert e in flat, e  # the run reaches every answer
    assert flat.count('"ok"') > 50


_READ_CLASSES = {  # option: (the shortest Linux takes, [(from, octets read)])
    IP_MULTICAST_IF: (4, [(4, 4), (8, 8), (12, 12)]),
    IP_ADD_MEMBERSHIP: (8, [(8, 8), (12, 12)]),
    IP_DROP_MEMBERSHIP: (8, [(8, 8), (12, 12)]),
    IP_ADD_SOURCE_MEMBERSHIP: (12, [(12, 12)]),
    MCAST_JOIN_GROUP: (136, [(136, 136)]),
}


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(_READ_CLASSES)), st.binary(max_size=24),
       st.sampled_from(_GROUPS), st.sampled_from((0, 1, 3, 999)), st.binary(max_size=160))
def test_requests_are_read_as_linux_reads_each_length(opt: int, body: bytes, group: str,
                                                      ifi: int, noise: bytes) -> None:
    """Linux ``do_ip_setsockopt``/``ip_mcast_join_leave`` on an AF_INET6
    socket: shorter than the structure's least ``EINVAL`` (an
    ``ip_mreq_source`` of any length but 12 too); longer, only the octets
    of the structure that length names are read (an ``in_addr``,
    ``ip_mreq`` or ``ip_mreqn``; a ``group_req``), so other octets past
    them change nothing; never an exception but ``OSError``."""
    if opt == MCAST_JOIN_GROUP:  # a group_req, cut or with more after it
        body = (_gr(ifi, group) + noise)[:len(noise) + 100]
    elif opt != IP_MULTICAST_IF and len(body) >= 4 and noise[:1] != b"\x00":
        body = _a(group) + body[4:]  # mostly a real group
    least, classes = _READ_CLASSES[opt]
    layer = kame_veth()

    def run(b: bytes) -> Any:
        s = layer.socket(AF_INET6, SOCK_DGRAM)
        r = [_try(lambda: s.setsockopt(0, opt, b))]
        if opt == IP_MULTICAST_IF:
            r.append(_try(lambda: s.getsockopt(0, IP_MULTICAST_IF, 4)))
        s.close()
        return r

    got = run(body)
    n = len(body)
    if n < least or (opt == IP_ADD_SOURCE_MEMBERSHIP and n != 12):
        assert got[0] == "EINVAL", (body.hex(), got)
        return
    read = max(k for frm, k in classes if n >= frm)
    other = body[:read] + (noise * (n // max(len(noise), 1) + 1) if noise else bytes(n))[:n - read]
    assert len(other) == n
    assert run(other) == got, (body.hex(), other.hex())


def test_a_stream_socket_s_memberships_go_with_it() -> None:
    """Linux: ``IP_ADD_MEMBERSHIP`` on a connection socket is ``EPROTO``,
    ``IP_MULTICAST_IF`` ``EINVAL``, but ``MCAST_JOIN_GROUP`` and source
    memberships join (as the kernel's differential steps show); closing
    the socket leaves them."""
    from ipaddress import IPv4Address
    layer = kame_veth()
    node = layer.node
    assert node is not None
    ifi = layer.ifindex("d0")
    t = layer.socket(AF_INET6, SOCK_STREAM)
    for opt, v, want in ((IP_ADD_MEMBERSHIP, mreqn("239.5.5.5", ME4), errno.EPROTO),
                         (IP_MULTICAST_IF, _a(ME4), errno.EINVAL)):
        with pytest.raises(OSError) as e:
            t.setsockopt(0, opt, v)
        assert e.value.errno == want
    t.setsockopt(0, MCAST_JOIN_GROUP, _gr(ifi, "239.5.5.5"))
    t.setsockopt(0, IP_ADD_SOURCE_MEMBERSHIP, mreq_source("232.5.5.5", ME4, "10.0.0.1"))
    assert node.inet.in_member("d0", IPv4Address("239.5.5.5"))
    assert node.inet.in_filter("d0", IPv4Address("232.5.5.5")) is not None
    t.close()
    assert not node.inet.in_member("d0", IPv4Address("239.5.5.5"))
    assert node.inet.in_filter("d0", IPv4Address("232.5.5.5")) is None


@pytest.mark.parametrize("profile", ["freebsd4x", "netbsd", "bsdi4"])
def test_kame_in6_sockets_refuse_ipproto_ip(profile: str) -> None:
    """KAME's ``ip6_ctloutput`` takes no level but IPPROTO_IPV6: an
    AF_INET6 socket's ``IPPROTO_IP`` options, the multicast ones among
    them, are ``EINVAL`` both ways; an AF_INET socket takes them (and has
    no ``IP_MULTICAST_ALL``)."""
    layer = kame_veth()
    layer = SocketLayer(layer.node, profile)
    ifi = layer.ifindex("d0")
    s6 = layer.socket(AF_INET6, SOCK_DGRAM)
    from kame.socket.inctl import group_req
    for opt, v in ((IP_MULTICAST_IF, _a(ME4)), (IP_ADD_MEMBERSHIP, _a("239.5.5.5") + _a(ME4)),
                   (IP_MULTICAST_ALL, 1), (80, group_req(ifi, "239.5.5.5", profile)),
                   (IP_TTL, 5)):
        with pytest.raises(OSError) as e:
            s6.setsockopt(0, opt, v)
        assert e.value.errno == errno.EINVAL, opt
    with pytest.raises(OSError) as e:
        s6.getsockopt(0, IP_MULTICAST_IF)
    assert e.value.errno == errno.EINVAL
    s4 = layer.socket(AF_INET, SOCK_DGRAM)
    s4.setsockopt(0, IP_MULTICAST_IF, _a(ME4))
    assert s4.getsockopt(0, IP_MULTICAST_IF) == _a(ME4)
    s4.setsockopt(0, IP_ADD_MEMBERSHIP, _a("239.5.5.5") + _a(ME4))
    with pytest.raises(OSError) as e:
        s4.setsockopt(0, IP_MULTICAST_ALL, 1)
    assert e.value.errno == errno.ENOPROTOOPT


def test_af_inet6_sockets_take_the_ipv4_groups_they_join() -> None:
    """Between two nodes on a memory link: an AF_INET6 socket that joined
    239.9.9.9 at IPPROTO_IP gets the other node's datagrams as
    ``::ffff:192.0.2.1``, one that did not join none (Linux's
    ``IP_MULTICAST_ALL`` is off on AF_INET6 sockets) until it turns the
    option on, an AF_INET socket on the port all (on by default); a
    refused source is ``udps_filtermcast``; after the leave, none."""
    sim, a, b, la, lb = pair("linux")
    for n in (a, b):  # the route a join without an interface takes (Linux: else ENODEV)
        n.inet.route_add("224.0.0.0/4", None, "eth0")
    g = "239.9.9.9"

    def sock(fam: int) -> Any:
        s = lb.socket(fam, SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::" if fam == AF_INET6 else "0.0.0.0", 7600))
        return s

    joined, plain, v4, blocked = sock(AF_INET6), sock(AF_INET6), sock(AF_INET), sock(AF_INET6)
    # raw sockets too (Linux raw_v4_input asks ip_mc_sf_allow)
    raw_all, raw_off, raw_member = (lb.socket(AF_INET, SOCK_RAW, 17) for _ in range(3))
    raw_off.setsockopt(0, IP_MULTICAST_ALL, 0)
    raw_member.setsockopt(0, IP_MULTICAST_ALL, 0)
    raw_member.setsockopt(0, IP_ADD_MEMBERSHIP, _a(g) + _a("192.0.2.2"))
    joined.setsockopt(0, IP_ADD_MEMBERSHIP, _a(g) + _a("192.0.2.2"))
    blocked.setsockopt(0, IP_ADD_MEMBERSHIP, _a(g) + _a("192.0.2.2"))
    blocked.setsockopt(0, IP_BLOCK_SOURCE, mreq_source(g, "192.0.2.2", "192.0.2.1"))
    snd = la.socket(AF_INET6, SOCK_DGRAM)
    snd.setsockopt(0, IP_MULTICAST_IF, _a("192.0.2.1"))

    def round_(tag: bytes) -> dict[str, list[Any]]:
        snd.sendto(tag, (f"::ffff:{g}", 7600))
        flush(sim, a, b)
        return {n: drain(s) for n, s in (("joined", joined), ("plain", plain), ("v4", v4),
                                         ("blocked", blocked))}

    got = round_(b"one")
    assert [len(drain(r)) for r in (raw_all, raw_off, raw_member)] == [1, 0, 1]
    assert got["joined"] == [(b"one", ("::ffff:192.0.2.1", snd.getsockname()[1], 0, 0))]
    assert got["v4"] == [(b"one", ("192.0.2.1", snd.getsockname()[1]))]
    assert got["plain"] == [] and got["blocked"] == []
    assert lb.udpstat["udps_filtermcast"] == 1
    plain.setsockopt(0, IP_MULTICAST_ALL, 1)
    assert [d for d, _a in round_(b"two")["plain"]] == [b"two"]
    for r in (raw_all, raw_off, raw_member):
        r.close()  # raw_member's membership goes with it
    joined.setsockopt(0, IP_DROP_MEMBERSHIP, _a(g) + _a("192.0.2.2"))
    blocked.setsockopt(0, IP_DROP_MEMBERSHIP, _a(g) + bytes(4))  # by the route
    assert round_(b"three") == {"joined": [], "plain": [], "v4": [], "blocked": []}
    assert b.stats["ips_notmember"] >= 1


# --- path MTU discovery: IP_MTU_DISCOVER, IP_MTU, DF and EMSGSIZE ---------------
#
# Linux's ``inet->pmtudisc`` (``IP_PMTUDISC_DONT`` .. ``_OMIT``) decides DF on
# a datagram (``__ip_make_skb``: DO and PROBE always, WANT when it fits the
# path MTU) and the largest one sent whole or refused with EMSGSIZE
# (``__ip_append_data``: DO the path MTU, PROBE and INTERFACE the device's,
# DONT, WANT and OMIT none, fragmented to the path MTU or, OMIT, the
# device's). The steps run on the kernel's sockets in the veth namespace
# with a route of MTU 1200 to the neighbor ``PMTU_DST`` (ours: a path MTU
# learnt for it), its link-layer address known, and what leaves ``d0`` is
# read off the wire: every IPv4 datagram's length, DF, MF and fragment
# offset.

IP_MTU_DISCOVER, IP_MTU = 10, 14
PMTU_DST, PEER_MAC = "10.9.9.7", "02:00:00:00:0b:0c"
PMTU_SETUP = (f"ip route add {PMTU_DST}/32 dev d0 mtu 1200",
              f"ip neigh add {PMTU_DST} lladdr {PEER_MAC} dev d0 nud permanent")
# IPv4 lengths around the path MTU (1200) and the device's (1500), and above both
PMTU_SIZES = (1200, 1201, 1500, 1501, 2400)


def _wire_host(peer: str = "d1") -> Any:
    """The kernel's datagrams leaving ``d0``, read on its peer ``d1``."""
    p = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    p.bind((peer, 0x0800))
    p.setblocking(False)

    def read() -> list[bytes]:
        got: list[bytes] = []
        while select.select([p], [], [], 0.05)[0]:
            got.append(p.recv(70000))
        return got
    return read


def _frag(pkt: bytes) -> list[int]:
    """(length, DF, MF, fragment offset) of an IPv4 datagram."""
    off = struct.unpack("!H", pkt[6:8])[0]
    return [struct.unpack("!H", pkt[2:4])[0], off >> 14 & 1, off >> 13 & 1, off & 0x1FFF]


def pmtu_run(make: Any, ifi: int, wire: Any = None) -> list[Any]:
    """``IP_MTU_DISCOVER``'s values and encodings and ``IP_MTU`` on each kind
    of socket (unconnected, connected to the loopback, to ``::1``, to a
    group by way of ``d0`` and to ``PMTU_DST``); then datagrams of each
    mode, size and socket kind (AF_INET and AF_INET6 UDP, AF_INET raw) to
    ``PMTU_DST``: the errno, and the datagrams on the wire."""
    out: list[Any] = []
    wire = wire or _wire_host()
    for fam, typ, proto in KINDS:
        s = make(fam, typ, proto)
        k = [fam, typ]
        out.append(k + ["get", _try(lambda s=s: s.getsockopt(0, IP_MTU_DISCOVER)),
                        _try(lambda s=s: s.getsockopt(0, IP_MTU_DISCOVER, 1)),
                        _try(lambda s=s: s.getsockopt(0, IP_MTU_DISCOVER, 4)),
                        _try(lambda s=s: s.getsockopt(0, IP_MTU)),
                        _try(lambda s=s: s.setsockopt(0, IP_MTU, 1400))])
        for v in (-1, 0, 1, 2, 3, 4, 5, 6, 256 + 2, b"", b"\x03", b"\x04\x00\x00",
                  struct.pack("=ii", 5, 9), b"\x07"):
            out.append(k + ["set", v.hex() if isinstance(v, bytes) else v,
                            _try(lambda s=s, v=v: s.setsockopt(0, IP_MTU_DISCOVER, v)),
                            _try(lambda s=s: s.getsockopt(0, IP_MTU_DISCOVER))])
        s.close()
        if typ == SOCK_STREAM:
            continue
        to = [("127.0.0.1", 9), ("239.1.1.1", 9), (PMTU_DST, 9)]
        if fam == AF_INET6:
            to = [("::ffff:" + a, p) for a, p in to] + [("::1", 9)]
        for dst in to:
            s = make(fam, typ, proto)
            out.append(k + ["mtu", dst[0], _try(lambda s=s, d=dst: s.connect(d)),
                            _try(lambda s=s: s.getsockopt(0, IP_MTU)),
                            _try(lambda s=s: s.getsockopt(0, IP_MTU, 2))])
            s.close()
    wire()
    for fam, typ, proto in ((AF_INET, SOCK_DGRAM, 0), (AF_INET6, SOCK_DGRAM, 0),
                            (AF_INET, SOCK_RAW, EXP)):
        hdr = 28 if typ == SOCK_DGRAM else 20
        to = ("::ffff:" + PMTU_DST if fam == AF_INET6 else PMTU_DST, 9 if hdr == 28 else 0)
        for mode in range(6):
            s = make(fam, typ, proto)
            s.setsockopt(0, IP_MTU_DISCOVER, mode)
            for n in PMTU_SIZES:
                err = _try(lambda s=s, n=n, h=hdr, d=to: s.sendto(bytes(n - h), d))
                out.append([fam, typ, "send", mode, n, err, [_frag(p) for p in wire()]])
            s.close()
    return out


def kame_pmtu() -> tuple[SocketLayer, Any]:
    """:func:`kame_veth` with a path MTU of 1200 to ``PMTU_DST`` and its
    link-layer address, and the reader of what leaves ``d0``."""
    from ipaddress import IPv4Address
    layer = kame_veth()
    node = layer.node
    assert node is not None
    dst = IPv4Address(PMTU_DST)
    assert node.inet.pmtu_update(dst, 1200, 20.0)
    inet = node.inet
    inet._arp_update(inet._new_entry("d0", dst, 20.0), bytes.fromhex(PEER_MAC.replace(":", "")),
                     20.0)

    def read() -> list[bytes]:
        got = [bytes(f)[14:] for ifn, f in node._out if ifn == "d0" and
               bytes(f)[12:14] == b"\x08\x00" and bytes(f)[14 + 9] in (17, EXP)]
        node._out.clear()
        return got
    return layer, read


def test_path_mtu_discovery_on_the_linux_profile() -> None:
    layer, read = kame_pmtu()
    out = json.loads(json.dumps(pmtu_run(lambda f, t, p: layer.socket(f, t, p),
                                         layer.ifindex("d0"), read)))
    get = {(r[0], r[1]): r[3:] for r in out if r[2] == "get"}
    assert get[(AF_INET, SOCK_DGRAM)] == [1, "01", "01000000", "ENOTCONN", "ENOPROTOOPT"]
    assert get[(AF_INET6, SOCK_RAW)][0] == "ENOPROTOOPT"
    mtu = {(r[0], r[1], r[3]): r[5] for r in out if r[2] == "mtu"}
    assert mtu[(AF_INET, SOCK_DGRAM, "127.0.0.1")] == 65535  # IP_MAX_MTU
    assert mtu[(AF_INET6, SOCK_DGRAM, "::1")] == 65536
    assert mtu[(AF_INET6, SOCK_DGRAM, "::ffff:" + PMTU_DST)] == 1200
    assert mtu[(AF_INET, SOCK_RAW, "239.1.1.1")] == 1500
    sent = {(r[0], r[1], r[3], r[4]): r[5:] for r in out if r[2] == "send"}
    u = (AF_INET, SOCK_DGRAM)
    assert sent[(*u, 1, 1200)] == [1172, [[1200, 1, 0, 0]]]  # WANT: DF when it fits
    assert sent[(*u, 1, 1201)] == [1173, [[1196, 0, 1, 0], [25, 0, 0, 147]]]
    assert sent[(*u, 0, 1200)] == [1172, [[1200, 0, 0, 0]]]  # DONT: never
    assert sent[(*u, 2, 1201)] == ["EMSGSIZE", []]  # DO: the path MTU
    assert sent[(*u, 3, 1500)] == [1472, [[1500, 1, 0, 0]]]  # PROBE: the device's
    assert sent[(*u, 3, 1501)] == ["EMSGSIZE", []]
    assert sent[(*u, 4, 1500)] == [1472, [[1500, 0, 0, 0]]]  # INTERFACE: no DF
    assert sent[(*u, 5, 1501)][1] == [[1500, 0, 1, 0], [21, 0, 0, 185]]  # OMIT: device's


@pytest.mark.root
def test_path_mtu_discovery_equals_the_kernels() -> None:
    layer, read = kame_pmtu()
    ours = json.loads(json.dumps(pmtu_run(lambda f, t, p: layer.socket(f, t, p),
                                          layer.ifindex("d0"), read)))
    kernel = _kernel("pmtu_run", veth=True, extra=PMTU_SETUP)
    assert ours == kernel, _diff(ours, kernel)


BSD_IP_DONTFRAG = 67


@pytest.mark.parametrize("profile", ["freebsd4x", "freebsd3x", "netbsd", "openbsd"])
def test_freebsd_ip_dontfrag_sets_df_and_refuses_what_does_not_fit(profile: str) -> None:
    """FreeBSD's ``IP_DONTFRAG`` (``ip_ctloutput``: an int, ``sooptcopyin``
    of exactly 4 octets; ``INP_DONTFRAG``): DF on the socket's UDP and raw
    datagrams (``udp_output``, ``rip_output``), ``EMSGSIZE`` and
    ``ips_cantfrag`` from ``ip_output`` for one above the path MTU; off,
    the datagram is fragmented without DF. NetBSD and OpenBSD have no such
    option (``ENOPROTOOPT``); no BSD's AF_INET6 socket takes IPPROTO_IP."""
    sim, a, b, la, lb = pair(profile)
    s = la.socket(AF_INET, SOCK_DGRAM)
    if not profile.startswith("freebsd"):
        for fn in (lambda: s.setsockopt(0, BSD_IP_DONTFRAG, 1),
                   lambda: s.getsockopt(0, BSD_IP_DONTFRAG)):
            with pytest.raises(OSError) as e:
                fn()
            assert e.value.errno == errno.ENOPROTOOPT
        return
    sent: list[bytes] = []
    emit = sim.emit

    def record(node: Any, frames: Any) -> Any:
        frames = list(frames)
        if node is a:
            sent.extend(bytes(f)[14:] for _i, f in frames if bytes(f)[12:14] == b"\x08\x00")
        return emit(node, frames)

    sim.emit = record  # type: ignore[method-assign]
    r = lb.socket(AF_INET, SOCK_DGRAM)
    r.bind(("0.0.0.0", 7800))
    rr = lb.socket(AF_INET, SOCK_RAW, EXP)
    assert s.getsockopt(0, BSD_IP_DONTFRAG) == 0
    for short in (b"", b"\x01", b"\x01\x00\x00"):
        with pytest.raises(OSError) as e:
            s.setsockopt(0, BSD_IP_DONTFRAG, short)
        assert e.value.errno == errno.EINVAL
    s.setsockopt(0, BSD_IP_DONTFRAG, 7)
    assert s.getsockopt(0, BSD_IP_DONTFRAG) == 1
    to = ("192.0.2.2", 7800)
    s.sendto(bytes(1472), to)  # 1500 octets: DF
    flush(sim, a, b)  # (ARP holds one datagram)
    with pytest.raises(OSError) as e:
        s.sendto(bytes(1473), to)
    assert e.value.errno == errno.EMSGSIZE and a.stats["ips_cantfrag"] == 1
    raw = la.socket(AF_INET, SOCK_RAW, EXP)
    raw.setsockopt(0, BSD_IP_DONTFRAG, struct.pack("=i", 1))
    raw.sendto(b"raw", ("192.0.2.2", 0))
    flush(sim, a, b)
    with pytest.raises(OSError) as e:
        raw.sendto(bytes(1481), ("192.0.2.2", 0))
    assert e.value.errno == errno.EMSGSIZE
    s.setsockopt(0, BSD_IP_DONTFRAG, 0)
    s.sendto(bytes(1473), to)  # fragmented, no DF
    flush(sim, a, b)
    ours = [_frag(p) for p in sent if p[9] in (17, EXP)]
    assert ours == [[1500, 1, 0, 0], [23, 1, 0, 0], [1500, 0, 1, 0], [21, 0, 0, 185]], ours
    assert [len(d) for d, _a in drain(r)] == [1472, 1473]
    assert len(drain(rr)) == 1
    s6 = la.socket(AF_INET6, SOCK_DGRAM)
    with pytest.raises(OSError) as e:
        s6.setsockopt(0, BSD_IP_DONTFRAG, 1)
    assert e.value.errno == errno.EINVAL


@given(st.one_of(st.binary(max_size=12), st.integers(-(2**31), 2**31 - 1)),
       st.sampled_from([AF_INET, AF_INET6]), st.sampled_from([SOCK_DGRAM, SOCK_STREAM]))
def test_ip_mtu_discover_encodings_follow_linux(value: Any, fam: int, typ: int) -> None:
    """Linux ``do_ip_setsockopt``: the value as every int option is read
    (four octets or more an int, one to three the first octet, none 0), then
    ``IP_PMTUDISC_DONT`` (0) to ``_OMIT`` (5) or ``EINVAL`` and the mode kept."""
    layer = SocketLayer(None, "linux")
    s = layer.socket(fam, typ)
    v = _linux_read(value)
    try:
        s.setsockopt(0, IP_MTU_DISCOVER, value)
        err = 0
    except OSError as e:
        err = e.errno or 0
    assert err == (0 if 0 <= v <= 5 else errno.EINVAL)
    assert s.getsockopt(0, IP_MTU_DISCOVER) == (v if not err else 1)


# --- IP_UNICAST_IF: the interface a unicast datagram leaves by ------------------
#
# Linux's ``inet->uc_index`` (an index in network byte order): a datagram
# that is not multicast and names no interface routes through it only, and
# with no route there its destination is taken as on that link. The
# namespace of ``pmtu_run`` with a second veth ``e0`` (10.9.8.1/24; its
# peer ``e1``), a default route by way of 10.9.9.2 on ``d0``, and the
# link-layer addresses of the neighbors known; what leaves is read on
# ``d1`` and ``e1``.

IP_UNICAST_IF = 50
UCIF_SETUP = ("ip link add e0 type veth peer name e1", "ip link set e1 up",
              "ip link set e0 up", "ip addr add 10.9.8.1/24 dev e0",
              "ip route add default via 10.9.9.2 dev d0",
              f"ip neigh add 10.9.9.2 lladdr {PEER_MAC} dev d0 nud permanent",
              f"ip neigh add 10.9.8.2 lladdr {PEER_MAC} dev d0 nud permanent",
              f"ip neigh add 10.9.7.5 lladdr {PEER_MAC} dev e0 nud permanent",
              f"ip neigh add 10.9.8.2 lladdr {PEER_MAC} dev e0 nud permanent")


def _wires_host() -> Any:
    reads = {n: _wire_host(n) for n in ("d1", "e1")}
    return lambda: [[n, *_route(p)] for n, r in reads.items() for p in r()]


def _route(pkt: bytes) -> list[Any]:
    """(source, destination, protocol) of an IPv4 datagram."""
    return [socket.inet_ntoa(pkt[12:16]), socket.inet_ntoa(pkt[16:20]), pkt[9]]


def unicast_if_run(make: Any, ifi: int, wire: Any = None) -> list[Any]:
    """``IP_UNICAST_IF``'s values on each kind of socket, then datagrams
    (AF_INET and AF_INET6 UDP, AF_INET raw) with it unset, naming ``e0``
    and naming ``d0``, to a host behind the default route, one on ``e0``'s
    subnet and one on ``d0``'s: the errno and where each datagram went."""
    out: list[Any] = []
    e0 = socket.if_nametoindex("e0") if wire is None else ifi + 2
    wire = wire or _wires_host()
    net = [struct.unpack("=i", struct.pack("!I", i))[0] for i in (ifi, e0, 1)]
    for fam, typ, proto in KINDS:
        s = make(fam, typ, proto)
        k = [fam, typ]
        out.append(k + ["get", _try(lambda s=s: s.getsockopt(0, IP_UNICAST_IF)),
                        _try(lambda s=s: s.getsockopt(0, IP_UNICAST_IF, 1))])
        for v in (*net, 0, ifi, 999, b"", struct.pack("!I", ifi)[:3],
                  struct.pack("!I", ifi) + bytes(4), struct.pack("!I", e0)):
            out.append(k + ["set", v.hex() if isinstance(v, bytes) else v,
                            _try(lambda s=s, v=v: s.setsockopt(0, IP_UNICAST_IF, v)),
                            _try(lambda s=s: s.getsockopt(0, IP_UNICAST_IF))])
        s.close()
    wire()
    for fam, typ, proto in ((AF_INET, SOCK_DGRAM, 0), (AF_INET6, SOCK_DGRAM, 0),
                            (AF_INET, SOCK_RAW, EXP)):
        for uc in (0, e0, ifi):
            s = make(fam, typ, proto)
            if uc:
                s.setsockopt(0, IP_UNICAST_IF, struct.pack("!I", uc))
            for dst in ("10.9.7.5", "10.9.8.2", "10.9.9.2"):
                to = ("::ffff:" + dst if fam == AF_INET6 else dst, 9 if typ == SOCK_DGRAM else 0)
                err = _try(lambda s=s, d=to: s.sendto(b"uc", d))
                out.append([fam, typ, "send", uc == e0, uc == ifi, dst, err, wire()])
            s.close()
    return out


def kame_unicast_if() -> tuple[SocketLayer, Any]:
    """:func:`kame_veth` with ``e1`` (4), ``e0`` (5) and the routes and
    neighbors of :data:`UCIF_SETUP`; the reader of what leaves."""
    from ipaddress import IPv4Address
    layer = kame_veth()
    node = layer.node
    assert node is not None
    node.add_interface("e1", bytes.fromhex("020000000e01"))
    node.add_interface("e0", bytes.fromhex("020000000e00"))
    node.up("e1", 20.0)
    node.up("e0", 20.0)
    node.add_address4("e0", "10.9.8.1/24", 20.0)
    node.poll(30.0)
    inet = node.inet
    inet.route_add("default", "10.9.9.2", "d0")
    mac = bytes.fromhex(PEER_MAC.replace(":", ""))
    for ifn, a in (("d0", "10.9.9.2"), ("d0", "10.9.8.2"), ("e0", "10.9.7.5"),
                   ("e0", "10.9.8.2")):
        inet._arp_update(inet._new_entry(ifn, IPv4Address(a), 30.0), mac, 30.0)
    node._out.clear()

    def read() -> list[Any]:
        got = [[{"d0": "d1", "e0": "e1"}[ifn], *_route(bytes(f)[14:])] for ifn, f in node._out
               if ifn in ("d0", "e0") and bytes(f)[12:14] == b"\x08\x00" and
               bytes(f)[14 + 9] in (17, EXP)]
        node._out.clear()
        return got
    return layer, read


def _ours_ucif() -> Any:
    layer, read = kame_unicast_if()
    return json.loads(json.dumps(unicast_if_run(lambda f, t, p: layer.socket(f, t, p),
                                                layer.ifindex("d0"), read)))


def test_unicast_if_on_the_linux_profile() -> None:
    out = _ours_ucif()
    get = {(r[0], r[1]): r[3:] for r in out if r[2] == "get"}
    assert get[(AF_INET, SOCK_DGRAM)] == [0, "00"]
    assert get[(AF_INET6, SOCK_RAW)][0] == "ENOPROTOOPT"
    put = {(r[0], r[1], r[3]): r[4:] for r in out if r[2] == "set"}
    assert put[(AF_INET, SOCK_DGRAM, 3)] == ["EADDRNOTAVAIL", 0]  # host order: no such index
    assert put[(AF_INET, SOCK_DGRAM, "")] == ["EINVAL", 0]
    sent = {(r[0], r[1], r[3], r[4], r[5]): r[6:] for r in out if r[2] == "send"}
    u = (AF_INET, SOCK_DGRAM)
    assert sent[(*u, False, False, "10.9.7.5")] == [2, [["d1", ME4, "10.9.7.5", 17]]]
    assert sent[(*u, True, False, "10.9.7.5")] == [2, [["e1", "10.9.8.1", "10.9.7.5", 17]]]
    assert sent[(*u, False, True, "10.9.8.2")] == [2, [["d1", ME4, "10.9.8.2", 17]]]


@pytest.mark.root
def test_unicast_if_equals_the_kernels() -> None:
    ours = _ours_ucif()
    kernel = _kernel("unicast_if_run", veth=True, extra=UCIF_SETUP)
    assert ours == kernel, _diff(ours, kernel)


# --- IPV6_MULTICAST_ALL and IPV6_UNICAST_IF (Linux, IPPROTO_IPV6) ---------------

IPV6_MULTICAST_ALL, IPV6_UNICAST_IF = 29, 76
G6, ME6 = "ff1e::7", "2001:db8:9::1"
V6_SETUP = (f"ip -6 addr add {ME6}/64 dev d0 nodad",)


def _ours_v6(run: Any, *args: Any) -> Any:
    """:func:`kame_veth` with :data:`ME6` on ``d0``."""
    layer = kame_veth()
    node = layer.node
    assert node is not None
    node.add_address("d0", f"{ME6}/64", 20.0)
    while (t := node.next_deadline()) is not None and t < 40.0:  # DAD (the kernel's: nodad)
        node.poll(t)
    node.poll(40.0)
    return json.loads(json.dumps(run(lambda f, t, p: layer.socket(f, t, p),
                                     layer.ifindex("d0"), *args)))


def ipv6_opts_run(make: Any, ifi: int, host: bool = True) -> list[Any]:
    """``IPV6_MULTICAST_ALL`` and ``IPV6_UNICAST_IF``'s values on each kind
    of socket, then who gets an IPv6 multicast datagram the node loops
    back out of ``d0``: sockets joined and not, with ``IPV6_MULTICAST_ALL``
    on (the default) and off."""
    out: list[Any] = []
    for fam, typ, proto in KINDS:
        s = make(fam, typ, proto)
        k = [fam, typ]
        for opt in (IPV6_MULTICAST_ALL, IPV6_UNICAST_IF):
            out.append(k + ["get", opt, _try(lambda s=s, o=opt: s.getsockopt(41, o)),
                            _try(lambda s=s, o=opt: s.getsockopt(41, o, 1))])
            for v in (0, 1, 2, -1, struct.unpack("=i", struct.pack("!I", ifi))[0], ifi, 999,
                      b"", b"\x01", b"\x01\x00\x00", struct.pack("!I", 1) + bytes(4)):
                out.append(k + ["set", opt, v.hex() if isinstance(v, bytes) else v,
                                _try(lambda s=s, o=opt, v=v: s.setsockopt(41, o, v)),
                                _try(lambda s=s, o=opt: s.getsockopt(41, o))])
        s.close()
    port = 7520

    def sock() -> Any:
        s = make(AF_INET6, SOCK_DGRAM, 0)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::", port))
        if host:
            s.setblocking(False)
        return s

    def rx(s: Any) -> Any:
        if host:
            select.select([s], [], [], 0.2)
        try:
            return s.recv(100).decode()
        except BlockingIOError:
            return "EAGAIN"

    names = ["joined", "plain", "off", "joined_off", "off_on"]
    rs = {n: sock() for n in names}
    mreq6 = socket.inet_pton(socket.AF_INET6, G6) + struct.pack("=I", ifi)
    for n in ("joined", "joined_off"):
        out.append(_try(lambda n=n: rs[n].setsockopt(41, socket.IPV6_JOIN_GROUP, mreq6)))
    for n in ("off", "joined_off", "off_on"):
        out.append(_try(lambda n=n: rs[n].setsockopt(41, IPV6_MULTICAST_ALL, 0)))
    out.append(_try(lambda: rs["off_on"].setsockopt(41, IPV6_MULTICAST_ALL, 7)))
    s6 = make(AF_INET6, SOCK_DGRAM, 0)
    s6.setsockopt(41, socket.IPV6_MULTICAST_IF, ifi)
    for tag in ("one", "two"):
        out.append(_try(lambda t=tag: s6.sendto(t.encode(), (G6, port))))
        out.append({n: rx(r) for n, r in rs.items()})
        out.append(_try(lambda: rs["joined"].setsockopt(41, socket.IPV6_LEAVE_GROUP, mreq6)))
    for r in (*rs.values(), s6):
        r.close()
    return out


def test_ipv6_multicast_all_on_the_linux_profile() -> None:
    out = _ours_v6(ipv6_opts_run, False)
    got = [r for r in out if isinstance(r, dict)]
    assert got[0] == {"joined": "one", "plain": "one", "off": "EAGAIN", "joined_off": "one",
                      "off_on": "one"}
    # "joined" left, but IPV6_MULTICAST_ALL is on: the node is still a
    # member (joined_off), the datagram loops back to it as to "plain"
    assert got[1] == {"joined": "two", "plain": "two", "off": "EAGAIN", "joined_off": "two",
                      "off_on": "two"}
    get = {(r[0], r[1], r[3]): r[4:] for r in out if isinstance(r, list) and r[2:3] == ["get"]}
    assert get[(AF_INET6, SOCK_DGRAM, IPV6_MULTICAST_ALL)] == [1, "01"]
    assert get[(AF_INET, SOCK_DGRAM, IPV6_UNICAST_IF)] == ["ENOTSUP", "ENOTSUP"]


@pytest.mark.root
def test_ipv6_multicast_all_and_unicast_if_equal_the_kernels() -> None:
    ours = _ours_v6(ipv6_opts_run, False)
    kernel = _kernel("ipv6_opts_run", veth=True, extra=V6_SETUP)
    assert ours == kernel, _diff(ours, kernel)


UCIF6_SETUP = ("ip link add e0 type veth peer name e1", "ip link set e1 up",
               "ip link set e0 up", f"ip -6 addr add {ME6}/64 dev d0 nodad",
               "ip -6 addr add 2001:db8:8::1/64 dev e0 nodad",
               "ip -6 route add default via 2001:db8:9::2 dev d0")


def _ns_host() -> Any:
    """The Neighbor Solicitations the kernel sends out of ``d0`` and ``e0``
    (read on ``d1``, ``e1``): the link and the address solicited."""
    ps = {}
    for n in ("d1", "e1"):
        p = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x86DD))
        p.bind((n, 0x86DD))
        p.setblocking(False)
        ps[n] = p

    def read() -> list[Any]:
        got: list[Any] = []
        for n, p in ps.items():
            while select.select([p], [], [], 0.05)[0]:
                got.extend(_ns_target(n, p.recv(70000)))
        return got
    return read


def _ns_target(link: str, pkt: bytes) -> list[Any]:
    if len(pkt) >= 64 and pkt[6] == 58 and pkt[40] == 135 and any(pkt[8:24]):
        return [[link, socket.inet_ntop(socket.AF_INET6, pkt[48:64])]]
    return []


def unicast_if6_run(make: Any, ifi: int, read: Any = None) -> list[Any]:
    """Datagrams of AF_INET6 UDP sockets with ``IPV6_UNICAST_IF`` unset,
    naming ``e0`` and naming ``d0`` to a host behind the default route, one
    on ``e0``'s prefix and one on ``d0``'s: the errno and which link the
    Neighbor Solicitation for the next hop goes out of (none known)."""
    out: list[Any] = []
    e0 = socket.if_nametoindex("e0") if read is None else ifi + 2
    read = read or _ns_host()
    read()
    for uc, dst in (("d0", "2001:db8:8::2"), ("e0", "2001:db8:7::5"),
                    ("", "2001:db8:7::6"), ("", "2001:db8:8::3"), ("e0", "2001:db8:9::7"),
                    ("d0", "2001:db8:9::8")):
        s = make(AF_INET6, SOCK_DGRAM, 0)
        idx = {"d0": ifi, "e0": e0, "": 0}[uc]
        out.append(_try(lambda s=s, i=idx: s.setsockopt(41, IPV6_UNICAST_IF,
                                                         struct.pack("!I", i))))
        out.append([uc, dst, _try(lambda s=s, d=dst: s.sendto(b"uc6", (d, 9))), read()])
        s.close()
    return out


def _ours_ucif6() -> Any:
    layer, _read4 = kame_unicast_if()
    node = layer.node
    assert node is not None
    node.add_address("d0", f"{ME6}/64", 30.0)
    node.add_address("e0", "2001:db8:8::1/64", 30.0)
    node.poll(60.0)
    node.route_add("::/0", "2001:db8:9::2", "d0")
    node._out.clear()

    def read() -> list[Any]:
        got = [x for ifn, f in node._out if ifn in ("d0", "e0") and
               bytes(f)[12:14] == b"\x86\xdd"
               for x in _ns_target({"d0": "d1", "e0": "e1"}[ifn], bytes(f)[14:])]
        node._out.clear()
        return got
    return json.loads(json.dumps(unicast_if6_run(lambda f, t, p: layer.socket(f, t, p),
                                                 layer.ifindex("d0"), read)))


@pytest.mark.root
def test_ipv6_unicast_if_equals_the_kernels() -> None:
    ours = _ours_ucif6()
    kernel = _kernel("unicast_if6_run", veth=True, extra=UCIF6_SETUP)
    assert ours == kernel, _diff(ours, kernel)


# --- IP_MSFILTER: RFC 3678 §4.1.2's full-state API, struct ip_msfilter ----------

IP_MSFILTER = 41
G4 = "239.1.2.5"


def ip_msfilter(group: str, iface: str, fmode: int, sources: list[str],
                numsrc: int | None = None) -> bytes:
    """A ``struct ip_msfilter`` (``numsrc``: another count than the list's)."""
    return (_a(group) + _a(iface) + struct.pack("=II", fmode, len(sources)
                                                if numsrc is None else numsrc)
            + b"".join(_a(x) for x in sources))


def _msfget_host(s: Any, req: bytes) -> Any:
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(req, len(req))
    n = ctypes.c_uint32(len(req))
    if libc.getsockopt(s.fileno(), 0, IP_MSFILTER, buf, ctypes.byref(n)) != 0:
        return errno.errorcode[ctypes.get_errno()]
    return buf.raw[:n.value].hex()


def msfilter_run(make: Any, ifi: int, host: bool = True) -> list[Any]:
    """``IP_MSFILTER`` set and get on each kind of socket: requests of every
    shape (short, counts beyond the octets and the bound, unicast groups,
    bad modes, interfaces not ours), the membership's filter read back in
    buffers of each room, the INCLUDE({}) leave, then the filter in effect
    on a multicast datagram the node loops back."""
    out: list[Any] = []

    def get(s: Any, group: str, iface: str, room: int) -> Any:
        req = ip_msfilter(group, iface, 0, [], room) + bytes(4 * room)
        return _msfget_host(s, req) if host else _try(lambda: s.getsockopt(0, IP_MSFILTER, req))

    srcs = ["10.9.9.7", "10.9.9.5", ME4]
    for fam, typ, proto in KINDS:
        s = make(fam, typ, proto)
        k = [fam, typ]
        out.append(k + [_try(lambda s=s: s.getsockopt(0, IP_MSFILTER)),
                        _try(lambda s=s: s.getsockopt(0, IP_MSFILTER, 24)),
                        get(s, G4, ME4, 2)])
        for req in (b"", ip_msfilter(G4, ME4, 1, [])[:15], ip_msfilter(G4, ME4, 1, srcs[:1]),
                    ip_msfilter(G4, ME4, 0, srcs, 4), ip_msfilter(G4, ME4, 1, [], 11),
                    ip_msfilter(G4, ME4, 1, [], 0x3FFFFFFC), ip_msfilter("10.9.9.9", ME4, 1, []),
                    ip_msfilter(G4, ME4, 2, srcs), ip_msfilter(G4, "10.1.1.1", 1, srcs)):
            out.append(k + [req.hex(), _try(lambda s=s, r=req: s.setsockopt(0, IP_MSFILTER, r))])
        out.append(k + [_try(lambda s=s: s.setsockopt(0, IP_ADD_MEMBERSHIP, mreqn(G4, ME4)))])
        out.append(k + [get(s, G4, ME4, 2), get(s, G4, "0.0.0.0", 0)])
        for mode, lst in ((1, srcs), (0, srcs[1:]), (1, srcs[::-1] + ["10.9.9.4"]),
                          (1, srcs[:1] * 2 + srcs[1:2]), (0, []), (1, [])):
            req = ip_msfilter(G4, ME4, mode, lst)
            out.append(k + [mode, lst, _try(lambda s=s, r=req: s.setsockopt(0, IP_MSFILTER, r)),
                            get(s, G4, ME4, 0), get(s, G4, ME4, 1), get(s, G4, ME4, 9)])
        out.append(k + [get(s, G4, ME4, 2), get(s, "10.9.9.9", ME4, 2),
                        get(s, G4, "10.1.1.1", 2), get(s, G4, "0.0.0.0", 2)[:4]])
        s.close()
    # the filter in effect: a loopback datagram from ME4
    port = 7540
    r = make(AF_INET, SOCK_DGRAM, 0)
    r.bind(("0.0.0.0", port))
    if host:
        r.setblocking(False)
    r.setsockopt(0, IP_ADD_MEMBERSHIP, mreqn(G4, ME4))
    snd = make(AF_INET, SOCK_DGRAM, 0)
    snd.setsockopt(0, IP_MULTICAST_IF, _a(ME4))
    for mode, lst in ((1, ["10.9.9.7"]), (1, [ME4]), (0, [ME4]), (0, ["10.9.9.7"])):
        out.append(_try(lambda m=mode, v=lst: r.setsockopt(0, IP_MSFILTER,
                                                         ip_msfilter(G4, ME4, m, v))))
        snd.sendto(f"{mode}{lst}".encode(), (G4, port))
        if host:
            select.select([r], [], [], 0.2)
        out.append(_try(lambda: r.recv(100).decode()))
    r.close()
    snd.close()
    return out


def _ours_msf() -> Any:
    """:func:`msfilter_run` on ours (the source bound the Linux profile's
    ``net.inet.ip.igmp_max_msf``, 10 as the kernel's)."""
    layer = kame_veth()
    assert layer.node is not None
    return json.loads(json.dumps(msfilter_run(lambda f, t, p: layer.socket(f, t, p),
                                              layer.ifindex("d0"), False)))


def test_ip_msfilter_on_the_linux_profile() -> None:
    out = _ours_msf()
    assert out[-8:] == ["ok", "EAGAIN", "ok", f"1['{ME4}']", "ok", "EAGAIN", "ok",
                        "0['10.9.9.7']"]


@pytest.mark.root
def test_ip_msfilter_equals_the_kernels() -> None:
    ours = _ours_msf()
    kernel = _kernel("msfilter_run", veth=True)
    assert ours == kernel, _diff(ours, kernel)


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.binary(max_size=40),
                 st.builds(lambda g, a, m, n, tail: g + a + struct.pack("=II", m, n) + tail,
                           st.sampled_from([_a(G4), _a("10.9.9.9"), bytes(4)]),
                           st.sampled_from([_a(ME4), bytes(4), _a("10.1.1.1")]),
                           st.integers(0, 3), st.integers(0, 14),
                           st.binary(max_size=60))))
def test_ip_msfilter_requests_are_read_as_linux_reads_them(req: bytes) -> None:
    """``do_ip_setsockopt(IP_MSFILTER)`` then ``ip_mc_msfilter``: shorter
    than 16 octets EINVAL; more sources than ``igmp_max_msf`` ENOBUFS; fewer
    octets than counted EINVAL; a group not multicast or a mode not 0 or 1
    EINVAL; an interface address not ours ENODEV; INCLUDE({}) a leave (of
    no membership: EADDRNOTAVAIL); no membership EINVAL; else the filter,
    read back as set."""
    layer = kame_veth()
    assert layer.node is not None
    s = layer.socket(AF_INET, SOCK_DGRAM)
    member = len(req) % 2 == 0
    if member:
        s.setsockopt(0, IP_ADD_MEMBERSHIP, mreqn(G4, ME4))
    err = _try(lambda: s.setsockopt(0, IP_MSFILTER, req))
    if len(req) < 16:
        assert err == "EINVAL"
        return
    g, a, (mode, n) = req[:4], req[4:8], struct.unpack("=II", req[8:16])
    if n > 10:
        assert err == "ENOBUFS"
    elif 16 + 4 * n > len(req) or g[0] >> 4 != 14 or mode > 1:
        assert err == "EINVAL"
    elif a not in (_a(ME4), bytes(4)):
        assert err == "ENODEV"
    elif mode == 1 and n == 0:
        assert err == ("ok" if member else "EADDRNOTAVAIL")
    elif not member:
        assert err == "EINVAL"
    else:
        srcs = [socket.inet_ntoa(req[16 + 4 * i:20 + 4 * i]) for i in range(n)]
        assert err == "ok"
        got = bytes.fromhex(_try(lambda: s.getsockopt(
            0, IP_MSFILTER, ip_msfilter(G4, ME4, 0, [], 16) + bytes(64))))
        # the list as given, a source twice kept twice (the kernel's copy)
        assert struct.unpack("=II", got[8:16]) == (mode, n)
        assert [socket.inet_ntoa(got[16 + 4 * i:20 + 4 * i]) for i in range(n)] == srcs


# --- multicast looped back to the sending node reaches its raw sockets ----------

def _hdr(pkt: bytes) -> list[Any]:
    """What a raw socket got: length, TOS, DF, TTL, protocol, source,
    destination, the payload (the identification and checksum aside; and a
    UDP checksum, which the kernel's looped copy carries as its offload
    left it, the pseudo-header's partial sum)."""
    hl = (pkt[0] & 15) * 4
    body = pkt[hl:]
    if pkt[9] == 17 and len(body) >= 8:
        body = body[:6] + b"\0\0" + body[8:]
    return [len(pkt), pkt[1], pkt[6] >> 6 & 1, pkt[8], pkt[9], *_route(pkt)[:2], body.hex()]


def _mloop_drain(s: Any, host: bool, view: Callable[[bytes], Any]) -> list[Any]:
    """Every datagram ``s`` holds, as ``view`` shows it (a host socket is
    waited on up to 0.1 s for each; ours hold theirs already)."""
    got = []
    while True:
        if host and not select.select([s], [], [], 0.1)[0]:
            break
        try:
            d = s.recv(2000)
        except BlockingIOError:
            break
        got.append(view(d))
    return got


def _mloop_socket(make: Any, host: bool, fam: int, typ: int, proto: int) -> Any:
    """A socket of ``make``'s, non-blocking on the host."""
    s = make(fam, typ, proto)
    if host:
        s.setblocking(False)
    return s


def _hex(d: bytes) -> str:
    return d.hex()


def mloop_raw_run(make: Any, ifi: int, host: bool = True) -> list[Any]:
    """A UDP socket joined to a group on ``d0``; raw sockets of IPPROTO_UDP
    and of an experimental protocol (one joined, one with
    ``IP_MULTICAST_ALL`` off); then a UDP, a raw and an ``IP_HDRINCL``
    sender's multicast out of ``d0``, with the loop on and off: what each
    socket gets."""
    out: list[Any] = []
    g, port = "239.1.2.6", 7560

    def rx(s: Any, raw: bool) -> Any:
        return _mloop_drain(s, host, _hdr if raw else _hex)

    def sock(typ: int, proto: int) -> Any:
        return _mloop_socket(make, host, AF_INET, typ, proto)

    u = sock(SOCK_DGRAM, 0)
    u.bind(("0.0.0.0", port))
    u.setsockopt(0, IP_ADD_MEMBERSHIP, mreqn(g, ME4))
    raws = {"udp": sock(SOCK_RAW, 17), "exp": sock(SOCK_RAW, EXP),
            "exp_joined": sock(SOCK_RAW, EXP), "exp_off": sock(SOCK_RAW, EXP)}
    raws["exp_joined"].setsockopt(0, IP_ADD_MEMBERSHIP, mreqn(g, ME4))
    raws["exp_off"].setsockopt(0, IP_MULTICAST_ALL, 0)
    su = sock(SOCK_DGRAM, 0)
    su.bind(("0.0.0.0", port + 1))
    sr = sock(SOCK_RAW, EXP)
    sh = sock(SOCK_RAW, 255)
    for s in (su, sr, sh):
        s.setsockopt(0, IP_MULTICAST_IF, _a(ME4))
        s.setsockopt(0, IP_MULTICAST_TTL, 2)
        s.setsockopt(0, IP_TOS, 0x20)
    hdr = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0x08, 0, 0x1234, 0, 3, EXP, 0,
                                _a(ME4), _a(g)))
    for loop in (1, 0):
        for s in (su, sr, sh):
            s.setsockopt(0, IP_MULTICAST_LOOP, loop)
        out.append(["udp", loop, _try(lambda: su.sendto(b"from udp", (g, port)))])
        out.append([rx(u, False), {n: rx(r, True) for n, r in raws.items()}, rx(sr, True)])
        out.append(["raw", loop, _try(lambda: sr.sendto(b"from raw", (g, 0)))])
        out.append([rx(u, False), {n: rx(r, True) for n, r in raws.items()}, rx(sr, True)])
        out.append(["hdrincl", loop, _try(lambda: sh.sendto(bytes(hdr) + b"hdrincl", (g, 0)))])
        out.append([rx(u, False), {n: rx(r, True) for n, r in raws.items()}, rx(sr, True)])
    for s in (u, su, sr, sh, *raws.values()):
        s.close()
    return out


def test_multicast_loopback_reaches_raw_sockets_on_the_linux_profile() -> None:
    out = _ours_veth(mloop_raw_run, False)
    udp_on, raw_on = out[1], out[3]
    assert udp_on[0] == [b"from udp".hex()]
    assert [len(udp_on[1]["udp"]), len(udp_on[1]["exp"])] == [1, 0]
    assert udp_on[1]["udp"][0][3:6] == [2, 17, ME4]  # TTL, protocol, source
    assert [len(raw_on[1][n]) for n in ("udp", "exp", "exp_joined", "exp_off")] == [0, 1, 1, 0]
    assert raw_on[2] and raw_on[2][0][-1] == b"from raw".hex()  # the sender's own copy
    assert all(not any(v.values()) for v in (out[7][1], out[9][1], out[11][1]))  # loop off


@pytest.mark.root
def test_multicast_loopback_to_raw_sockets_equals_the_kernels() -> None:
    ours = _ours_veth(mloop_raw_run, False)
    kernel = _kernel("mloop_raw_run", veth=True)
    assert ours == kernel, _diff(ours, kernel)


def _udp6_view(d: bytes) -> str:
    """A datagram in hex, a UDP checksum aside (the kernel's looped copy
    carries its offload's partial sum)."""
    return (d[:6] + b"\0\0" + d[8:] if d[4:6] == b"\0\x10" else d).hex()


def mloop_raw6_run(make: Any, ifi: int, host: bool = True) -> list[Any]:
    """IPv6: a UDP socket joined to a group on ``d0``; raw sockets of an
    experimental protocol (joined, not, ``IPV6_MULTICAST_ALL`` off) and of
    IPPROTO_UDP; a raw and a UDP sender's multicast out of ``d0``, the loop
    on and off: what each gets."""
    out: list[Any] = []
    g, port = "ff1e::8", 7570
    mreq6 = socket.inet_pton(socket.AF_INET6, g) + struct.pack("=I", ifi)

    def rx(s: Any) -> Any:
        return _mloop_drain(s, host, _udp6_view)

    def sock(typ: int, proto: int) -> Any:
        return _mloop_socket(make, host, AF_INET6, typ, proto)

    u = sock(SOCK_DGRAM, 0)
    u.bind(("::", port))
    u.setsockopt(41, socket.IPV6_JOIN_GROUP, mreq6)
    raws = {"exp": sock(SOCK_RAW, EXP), "exp_joined": sock(SOCK_RAW, EXP),
            "exp_off": sock(SOCK_RAW, EXP), "udp": sock(SOCK_RAW, 17)}
    raws["exp_joined"].setsockopt(41, socket.IPV6_JOIN_GROUP, mreq6)
    raws["exp_off"].setsockopt(41, IPV6_MULTICAST_ALL, 0)
    sr = sock(SOCK_RAW, EXP)
    su = sock(SOCK_DGRAM, 0)
    su.bind(("::", port + 1))
    for s in (sr, su):
        s.setsockopt(41, socket.IPV6_MULTICAST_IF, ifi)
    for loop in (1, 0):
        for s in (sr, su):
            s.setsockopt(41, socket.IPV6_MULTICAST_LOOP, loop)
        out.append(["raw", loop, _try(lambda: sr.sendto(b"from raw", (g, 0)))])
        out.append([rx(u), {n: rx(r) for n, r in raws.items()}, rx(sr)])
        out.append(["udp", loop, _try(lambda: su.sendto(b"from udp", (g, port)))])
        out.append([rx(u), {n: rx(r) for n, r in raws.items()}, rx(sr)])
    for s in (u, sr, su, *raws.values()):
        s.close()
    return out


@pytest.mark.root
def test_ipv6_multicast_loopback_to_raw_sockets_equals_the_kernels() -> None:
    ours = _ours_v6(mloop_raw6_run, False)
    kernel = _kernel("mloop_raw6_run", veth=True, extra=V6_SETUP)
    assert ours == kernel, _diff(ours, kernel)


def noroute_run(make: Any) -> list[Any]:
    """A node whose only interface is ``lo`` and no route to a group: the
    requests that name no interface (``ip_mreqn``, RFC 3678, the source
    filters, ``IP_MSFILTER``) and those that name ``lo``."""
    out: list[Any] = []
    g = "239.1.2.8"
    for fam in (AF_INET, AF_INET6):
        s = make(fam, SOCK_DGRAM, 0)
        for opt, val in ((IP_ADD_MEMBERSHIP, mreqn(g)), (IP_DROP_MEMBERSHIP, mreqn(g)),
                         (MCAST_JOIN_GROUP, _gr(0, g)), (MCAST_JOIN_SOURCE_GROUP,
                                                         _gr(0, g, "10.9.9.7")),
                         (IP_ADD_SOURCE_MEMBERSHIP, mreq_source(g, "0.0.0.0", "10.9.9.7")),
                         (IP_MSFILTER, ip_msfilter(g, "0.0.0.0", 0, [])),
                         (IP_ADD_MEMBERSHIP, mreqn(g, "0.0.0.0", 1)),
                         (IP_ADD_MEMBERSHIP, mreqn(g, "127.0.0.1")),
                         (IP_DROP_MEMBERSHIP, mreqn(g, "0.0.0.0", 1)),
                         (MCAST_JOIN_GROUP, _gr(1, g))):
            out.append([fam, opt, _try(lambda s=s, o=opt, v=val: s.setsockopt(0, o, v))])
        s.close()
    return out


def test_a_join_without_a_route_is_enodev_on_the_linux_profile() -> None:
    out = _ours(noroute_run)
    assert [r[2] for r in out[:6]] == ["ENODEV"] * 6
    assert [r[2] for r in out[6:10]] == ["ok", "EADDRINUSE", "ok", "ok"]


@pytest.mark.root
def test_a_join_without_a_route_equals_the_kernels() -> None:
    assert _ours(noroute_run) == _kernel("noroute_run")


# --- a socket's IPv4 source list: its bound and Linux's mode switches -----------
#
# Linux bounds a socket's IPv4 source list by ``net.ipv4.igmp_max_msf`` (10;
# ``ip_mc_source``, ``ip_mc_msfilter``): the Linux profile by
# ``net.inet.ip.igmp_max_msf``, the BSD ones by ``net.inet.ip.mcast_maxsocksrc``.
# A membership with no source list (``pmc->sflist`` NULL: any-source, or a
# full-state filter of no sources) switches mode on a source call of the other
# mode, and stays switched when the call then fails: a source leave of a source
# never added leaves an any-source membership INCLUDE({}), which takes nothing.


def source_switch_run(make: Any, ifi: int, host: bool = True) -> list[Any]:
    """Source calls of each kind up to and past the bound, then failed source
    calls on memberships with no list and what each then reads back and
    receives (a multicast datagram looped back from ``ME4``)."""
    out: list[Any] = []

    def get(s: Any) -> Any:
        req = ip_msfilter(G4, ME4, 0, [], 12) + bytes(4 * 12)
        return _msfget_host(s, req) if host else _try(lambda: s.getsockopt(0, IP_MSFILTER, req))

    many = [f"10.9.7.{i}" for i in range(1, 13)]
    for opt in (IP_ADD_SOURCE_MEMBERSHIP, IP_BLOCK_SOURCE):
        s = make(AF_INET, SOCK_DGRAM, 0)
        if opt == IP_BLOCK_SOURCE:
            s.setsockopt(0, IP_ADD_MEMBERSHIP, mreqn(G4, ME4))
        out.append([opt, [_try(lambda s=s, o=opt, x=x: s.setsockopt(0, o, mreq_source(G4, ME4, x)))
                          for x in many], get(s)])
        s.close()
    s = make(AF_INET, SOCK_DGRAM, 0)
    out.append([_try(lambda x=x: s.setsockopt(0, MCAST_JOIN_SOURCE_GROUP, _gr(ifi, G4, x)))
                for x in many] + [get(s)])
    s.close()
    port = 7541
    snd = make(AF_INET, SOCK_DGRAM, 0)
    snd.setsockopt(0, IP_MULTICAST_IF, _a(ME4))
    r = make(AF_INET, SOCK_DGRAM, 0)
    r.bind(("0.0.0.0", port))
    if host:
        r.setblocking(False)
    n = [0]

    def recv() -> Any:
        n[0] += 1
        snd.sendto(b"%d" % n[0], (G4, port))
        if host:
            select.select([r], [], [], 0.2)
        return _try(lambda: r.recv(100).decode())

    def step(opt: int, x: str = "10.9.9.7") -> None:
        req = _gr(ifi, G4, x) if opt == MCAST_LEAVE_SOURCE_GROUP else \
            mreqn(G4, ME4) if opt in (IP_ADD_MEMBERSHIP, IP_DROP_MEMBERSHIP) else \
            ip_msfilter(G4, ME4, 0, []) if opt == IP_MSFILTER else mreq_source(G4, ME4, x)
        out.append([opt, x, _try(lambda: r.setsockopt(0, opt, req)), get(r), recv()])

    for opts in ((IP_ADD_MEMBERSHIP, IP_DROP_SOURCE_MEMBERSHIP, IP_ADD_MEMBERSHIP,
                  IP_BLOCK_SOURCE, IP_DROP_SOURCE_MEMBERSHIP, IP_UNBLOCK_SOURCE,
                  IP_DROP_SOURCE_MEMBERSHIP, IP_ADD_SOURCE_MEMBERSHIP, IP_DROP_MEMBERSHIP),
                 (IP_ADD_MEMBERSHIP, IP_DROP_SOURCE_MEMBERSHIP, IP_UNBLOCK_SOURCE,
                  MCAST_LEAVE_SOURCE_GROUP, IP_DROP_MEMBERSHIP, IP_DROP_MEMBERSHIP),
                 (IP_ADD_MEMBERSHIP, IP_MSFILTER, IP_DROP_SOURCE_MEMBERSHIP,
                  IP_ADD_SOURCE_MEMBERSHIP, IP_DROP_SOURCE_MEMBERSHIP, IP_DROP_MEMBERSHIP),
                 (IP_ADD_MEMBERSHIP, IP_DROP_SOURCE_MEMBERSHIP, IP_ADD_SOURCE_MEMBERSHIP,
                  IP_DROP_SOURCE_MEMBERSHIP, IP_ADD_MEMBERSHIP)):
        for opt in opts:
            step(opt, ME4 if opt == IP_ADD_SOURCE_MEMBERSHIP else "10.9.9.7")
    r.close()
    snd.close()
    return out


def test_source_lists_and_mode_switches_on_the_linux_profile() -> None:
    out = _ours_veth(source_switch_run, False)
    assert out[0][1] == ["ok"] * 10 + ["ENOBUFS"] * 2  # igmp_max_msf
    assert out[1][1] == ["ok"] * 10 + ["ENOBUFS"] * 2
    # a failed source leave: EADDRNOTAVAIL, the membership INCLUDE({}), deaf
    assert out[4][2:] == ["EADDRNOTAVAIL", f"{_a(G4).hex()}{_a(ME4).hex()}0100000000000000",
                          "EAGAIN"]
    assert out[5][2] == "EADDRINUSE"  # still a member
    layer = kame_veth()
    assert layer.node is not None
    layer.node.knobs["net.inet.ip.igmp_max_msf"] = 3
    s = layer.socket(AF_INET, SOCK_DGRAM)
    got = [_try(lambda x=x: s.setsockopt(0, IP_ADD_SOURCE_MEMBERSHIP, mreq_source(G4, ME4, x)))
           for x in ("10.9.7.1", "10.9.7.2", "10.9.7.3", "10.9.7.4")]
    assert got == ["ok", "ok", "ok", "ENOBUFS"]


@pytest.mark.parametrize("profile", ["freebsd4x", "netbsd"])
def test_bsd_source_lists_keep_mcast_maxsocksrc(profile: str) -> None:
    layer = kame_veth()
    bsd = SocketLayer(layer.node, profile)
    s = bsd.socket(AF_INET, SOCK_DGRAM)
    s.setsockopt(0, IP_ADD_MEMBERSHIP, _a(G4) + _a(ME4))
    # the BSDs' ip_mreq_source: group, source, interface
    got = [_try(lambda i=i: s.setsockopt(0, IP_BLOCK_SOURCE, _a(G4) + _a(f"10.9.7.{i + 1}") +
                                        _a(ME4)))
           for i in range(129)]
    assert got[:128] == ["ok"] * 128 and got[128] in ("ENOSPC", "ENOBUFS")


@pytest.mark.root
def test_source_lists_and_mode_switches_equal_the_kernels() -> None:
    ours = _ours_veth(source_switch_run, False)
    kernel = _kernel("source_switch_run", veth=True)
    assert ours == kernel, _diff(ours, kernel)


# --- a socket's IPv6 source list: its bound and Linux's mode switches -----------
#
# Linux bounds a socket's IPv6 source list by ``net.ipv6.mld_max_msf`` (64;
# ``ip6_mc_source``, ``ipv6_set_mcast_msfilter``): the Linux profile by
# ``net.inet6.ip6.mld_max_msf``, the BSD ones by ``net.inet6.ip6.mcast.maxsocksrc``.
# As for IPv4, a membership with no source list switches mode on a source
# call of the other mode and stays switched when the call then fails.

MCAST_UNBLOCK_SOURCE, MCAST_MSFILTER = 44, 48
IPV6_JOIN_GROUP, IPV6_LEAVE_GROUP = socket.IPV6_JOIN_GROUP, socket.IPV6_LEAVE_GROUP


def _gf6(ifi: int, fmode: int, sources: list[str], room: int | None = None) -> bytes:
    """Linux's ``struct group_filter`` for :data:`G6` (``room``: the count
    a get request gives, with as many empty ``sockaddr_storage``)."""
    from ipaddress import ip_address

    from kame.socket.inctl import _ss_linux
    n = len(sources) if room is None else room
    return (struct.pack("=I4x", ifi) + _ss_linux(ip_address(G6)) + struct.pack("=II", fmode, n)
            + b"".join(_ss_linux(ip_address(a)) for a in sources)
            + (bytes(128 * room) if room is not None else b""))


def _gf6_decode(raw: bytes, optlen: int) -> list[Any]:
    """[optlen, fmode, numsrc, the sources written back]."""
    import ipaddress
    fmode, num = struct.unpack_from("=II", raw, 136)
    return [optlen, fmode, num,
            [str(ipaddress.IPv6Address(raw[144 + 128 * i + 8:144 + 128 * i + 24]))
             for i in range((optlen - 144) // 128)]]


def source_switch6_run(make: Any, ifi: int, host: bool = True) -> list[Any]:
    """:func:`source_switch_run` for IPv6 groups at ``IPPROTO_IPV6``: source
    calls of each kind up to and past the bound, full-state filters at and
    past it, then failed source calls on memberships with no list and what
    each then reads back (``MCAST_MSFILTER``) and receives (a multicast
    datagram from ``ME6`` looped back)."""
    out: list[Any] = []

    def get(s: Any) -> Any:
        req = _gf6(ifi, 0, [], 70)
        if not host:
            r = _try(lambda: s.getsockopt(41, MCAST_MSFILTER, req))
            return r if r[:1].isupper() else _gf6_decode(bytes.fromhex(r).ljust(144, b"\0"),
                                                         len(r) // 2)
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        buf = ctypes.create_string_buffer(req, len(req))
        n = ctypes.c_uint32(len(req))
        if libc.getsockopt(s.fileno(), 41, MCAST_MSFILTER, buf, ctypes.byref(n)) != 0:
            return errno.errorcode[ctypes.get_errno()]
        return _gf6_decode(buf.raw, n.value)

    many = [f"2001:db8:7::{i:x}" for i in range(1, 71)]
    mreq6 = socket.inet_pton(socket.AF_INET6, G6) + struct.pack("=I", ifi)
    for opt in (MCAST_JOIN_SOURCE_GROUP, MCAST_BLOCK_SOURCE):
        s = make(AF_INET6, SOCK_DGRAM, 0)
        if opt == MCAST_BLOCK_SOURCE:
            s.setsockopt(41, IPV6_JOIN_GROUP, mreq6)
        out.append([opt, [_try(lambda s=s, x=x, o=opt: s.setsockopt(41, o, _gr(ifi, G6, x)))
                          for x in many], get(s)])
        s.close()
    s = make(AF_INET6, SOCK_DGRAM, 0)
    s.setsockopt(41, IPV6_JOIN_GROUP, mreq6)
    for mode, n in ((0, 64), (1, 65), (0, 65), (1, 64), (1, 63)):
        out.append([mode, n, _try(lambda m=mode, n=n: s.setsockopt(
            41, MCAST_MSFILTER, _gf6(ifi, m, many[:n]))), get(s)[1:3]])
    s.close()
    port = 7542
    snd = make(AF_INET6, SOCK_DGRAM, 0)
    snd.setsockopt(41, socket.IPV6_MULTICAST_IF, ifi)
    r = make(AF_INET6, SOCK_DGRAM, 0)
    r.bind(("::", port))
    if host:
        r.setblocking(False)
    k = [0]

    def recv() -> Any:
        k[0] += 1
        snd.sendto(b"%d" % k[0], (G6, port))
        if host:
            select.select([r], [], [], 0.2)
        return _try(lambda: r.recv(100).decode())

    def step(opt: int, x: str = "2001:db8:7::77") -> None:
        req = mreq6 if opt in (IPV6_JOIN_GROUP, IPV6_LEAVE_GROUP) else \
            _gf6(ifi, 0, []) if opt == MCAST_MSFILTER else _gr(ifi, G6, x)
        out.append([opt, x, _try(lambda: r.setsockopt(41, opt, req)), get(r), recv()])

    J, L, JS, LS = IPV6_JOIN_GROUP, IPV6_LEAVE_GROUP, MCAST_JOIN_SOURCE_GROUP, \
        MCAST_LEAVE_SOURCE_GROUP
    B, U = MCAST_BLOCK_SOURCE, MCAST_UNBLOCK_SOURCE
    for opts in ((J, LS, J, B, LS, U, LS, JS, L),
                 (J, LS, U, LS, L, L),
                 (J, MCAST_MSFILTER, LS, JS, LS, L),
                 (J, LS, JS, LS, J),
                 (J, U, B, JS, U, LS, L)):
        for opt in opts:
            step(opt, ME6 if opt == JS else "2001:db8:7::77")
    r.close()
    snd.close()
    return out


def test_ipv6_source_lists_and_mode_switches_on_the_linux_profile() -> None:
    out = _ours_v6(source_switch6_run, False)
    assert out[0][1] == ["ok"] * 64 + ["ENOBUFS"] * 6  # mld_max_msf
    assert out[1][1] == ["ok"] * 64 + ["ENOBUFS"] * 6
    assert [x[2] for x in out[2:7]] == ["ok", "ENOBUFS", "ENOBUFS", "ok", "ok"]
    # a failed source leave: EADDRNOTAVAIL, the membership INCLUDE({}), deaf
    assert out[8][2:] == ["EADDRNOTAVAIL", [144, 1, 0, []], "EAGAIN"]
    assert out[9][2] == "EADDRINUSE"  # still a member
    layer = kame_veth()
    assert layer.node is not None
    layer.node.knobs["net.inet6.ip6.mld_max_msf"] = 3
    s = layer.socket(AF_INET6, SOCK_DGRAM)
    got = [_try(lambda x=x: s.setsockopt(41, MCAST_JOIN_SOURCE_GROUP, _gr(1, G6, x)))
           for x in ("2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8::4")]
    assert got == ["ok", "ok", "ok", "ENOBUFS"]


@pytest.mark.parametrize("profile", ["freebsd4x", "netbsd"])
def test_bsd_ipv6_source_lists_keep_mcast_maxsocksrc(profile: str) -> None:
    from kame.socket.inctl import group_req, group_source_req
    layer = kame_veth()
    bsd = SocketLayer(layer.node, profile)
    s = bsd.socket(AF_INET6, SOCK_DGRAM)
    ifi = bsd.ifindex("d0")
    s.setsockopt(41, 80, group_req(ifi, G6, profile))  # FreeBSD's MCAST_JOIN_GROUP
    got = [_try(lambda i=i: s.setsockopt(41, 84, group_source_req(  # MCAST_BLOCK_SOURCE
        ifi, G6, f"2001:db8:7::{i + 1:x}", profile))) for i in range(129)]
    assert got[:128] == ["ok"] * 128 and got[128] in ("ENOSPC", "ENOBUFS")


@pytest.mark.root
def test_ipv6_source_lists_and_mode_switches_equal_the_kernels() -> None:
    ours = _ours_v6(source_switch6_run, False)
    kernel = _kernel("source_switch6_run", veth=True, extra=V6_SETUP)
    assert ours == kernel, _diff(ours, kernel)


# --- IP_PKTINFO's interface routes; an interface with no address borrows one ----
#
# Linux's ``ip_cmsg_send`` makes ``ipi_ifindex`` the flow's output interface
# (``ipc.oif``): the route is looked up through that interface only, and with
# none there the destination is taken as on its link, as ``IP_UNICAST_IF``'s
# is. An output interface with no address of its own gives the source
# ``inet_select_addr`` finds on the other interfaces (the first of global
# scope, in the interfaces' order). The namespace of ``unicast_if_run`` with
# a third veth ``f0`` (no address; its peer ``f1``) whose neighbors are known.

NOADDR_SETUP = UCIF_SETUP + (
    "ip link add f0 type veth peer name f1", "ip link set f1 up", "ip link set f0 up",
    f"ip neigh add 10.9.7.5 lladdr {PEER_MAC} dev f0 nud permanent",
    f"ip neigh add 10.9.9.2 lladdr {PEER_MAC} dev f0 nud permanent")


def pktinfo_route_run(make: Any, ifi: int, wire: Any = None) -> list[Any]:
    """Datagrams (AF_INET and AF_INET6 UDP, AF_INET raw) whose ``IP_PKTINFO``
    names no interface, ``e0``, ``d0``, ``f0`` or one that is not there,
    with and without a source, to a host behind the default route and to
    neighbors of ``d0`` and ``e0``; then ``IP_UNICAST_IF`` naming ``f0``: the
    errno and where each datagram went, from which source."""
    out: list[Any] = []
    if wire is None:
        e0, f0 = socket.if_nametoindex("e0"), socket.if_nametoindex("f0")
        reads = {n: _wire_host(n) for n in ("d1", "e1", "f1")}
        wire = lambda: [[n, *_route(p)] for n, r in reads.items() for p in r()]
    else:
        e0, f0 = ifi + 2, ifi + 4
    wire()
    for fam, typ, proto in ((AF_INET, SOCK_DGRAM, 0), (AF_INET6, SOCK_DGRAM, 0),
                            (AF_INET, SOCK_RAW, EXP)):
        for idx in (0, e0, ifi, f0, 99):
            for spec in ("0.0.0.0", ME4):
                s = make(fam, typ, proto)
                for dst in ("10.9.7.5", "10.9.8.2", "10.9.9.2"):
                    to = ("::ffff:" + dst if fam == AF_INET6 else dst,
                          9 if typ == SOCK_DGRAM else 0)
                    anc = [(0, IP_PKTINFO, pktinfo(idx, spec))]
                    err = _try(lambda s=s, d=to, a=anc: s.sendmsg([b"pi"], a, 0, d))
                    out.append([fam, typ, "pktinfo", idx == e0, idx == ifi, idx == f0, idx, spec,
                                dst, err, wire()])
                s.close()
        s = make(fam, typ, proto)
        out.append([fam, typ, "ucif", _try(lambda s=s: s.setsockopt(
            0, IP_UNICAST_IF, struct.pack("!I", f0)))])
        for dst in ("10.9.7.5", "10.9.9.2"):
            to = ("::ffff:" + dst if fam == AF_INET6 else dst, 9 if typ == SOCK_DGRAM else 0)
            out.append([fam, typ, "ucif", dst, _try(lambda s=s, d=to: s.sendto(b"uc", d)),
                        wire()])
        s.close()
    return out


def kame_noaddr() -> tuple[SocketLayer, Any]:
    """:func:`kame_unicast_if` with ``f1`` (6), ``f0`` (7) and the neighbors
    of :data:`NOADDR_SETUP`; the reader of what leaves ``d0``, ``e0``, ``f0``."""
    from ipaddress import IPv4Address
    layer, _read = kame_unicast_if()
    node = layer.node
    assert node is not None
    node.add_interface("f1", bytes.fromhex("020000000f01"))
    node.add_interface("f0", bytes.fromhex("020000000f00"))
    node.up("f1", 30.0)
    node.up("f0", 30.0)
    node.poll(40.0)
    inet = node.inet
    mac = bytes.fromhex(PEER_MAC.replace(":", ""))
    for a in ("10.9.7.5", "10.9.9.2"):
        inet._arp_update(inet._new_entry("f0", IPv4Address(a), 40.0), mac, 40.0)
    node._out.clear()
    peer = {"d0": "d1", "e0": "e1", "f0": "f1"}

    def read() -> list[Any]:
        got = [[peer[ifn], *_route(bytes(f)[14:])] for ifn, f in node._out
               if ifn in peer and bytes(f)[12:14] == b"\x08\x00" and
               bytes(f)[14 + 9] in (17, EXP)]
        node._out.clear()
        return got
    return layer, read


def _ours_noaddr() -> Any:
    layer, read = kame_noaddr()
    return json.loads(json.dumps(pktinfo_route_run(lambda f, t, p: layer.socket(f, t, p),
                                                   layer.ifindex("d0"), read)))


def test_pktinfo_routes_and_a_bare_interface_borrows_on_the_linux_profile() -> None:
    out = _ours_noaddr()
    sent = {(r[0], r[1], r[6], r[7], r[8]): r[9:] for r in out if r[2] == "pktinfo"}
    u = (AF_INET, SOCK_DGRAM)
    # d0 routes 10.9.7.5 by way of its gateway; e0 takes it as on its link
    assert sent[(*u, 3, "0.0.0.0", "10.9.7.5")] == [2, [["d1", ME4, "10.9.7.5", 17]]]
    assert sent[(*u, 5, "0.0.0.0", "10.9.7.5")] == [2, [["e1", "10.9.8.1", "10.9.7.5", 17]]]
    # f0 has no address: the first one of the others
    assert sent[(*u, 7, "0.0.0.0", "10.9.7.5")] == [2, [["f1", ME4, "10.9.7.5", 17]]]
    uc = {(r[0], r[1], r[3]): r[4:] for r in out if r[2] == "ucif" and len(r) > 4}
    assert uc[(*u, "10.9.9.2")] == [2, [["f1", ME4, "10.9.9.2", 17]]]


@pytest.mark.root
def test_pktinfo_routes_and_a_bare_interface_equal_the_kernels() -> None:
    ours = _ours_noaddr()
    kernel = _kernel("pktinfo_route_run", veth=True, extra=NOADDR_SETUP)
    assert ours == kernel, _diff(ours, kernel)


# --- IP_RECVERR / IPV6_RECVERR: the ICMP error queue (Linux) ---------------------
#
# With ``IP_RECVERR`` (``IPV6_RECVERR``) on, an ICMP (ICMPv6) error about a
# datagram of the socket is queued on it (``ip_icmp_error``,
# ``ipv6_icmp_error``) as well as made its pending error, even unconnected;
# ``recvmsg(MSG_ERRQUEUE)`` gives the quoted payload, the destination it was
# sent to, ``MSG_ERRQUEUE`` and an ``IP_RECVERR`` item: a ``struct
# sock_extended_err`` (errno, origin, type, code, info: the MTU) and the
# offender (the ICMP message's source). The errors come from the loopback
# (the node's own Port Unreachable) and from the wire: ICMP messages written
# on the veth's peer quoting a datagram read off it.

IP_RECVERR, IPV6_RECVERR, MSG_ERRQUEUE = 11, 25, 0x2000
ERR_SETUP = PMTU_SETUP + V6_SETUP + (
    f"ip neigh add 10.9.9.2 lladdr {PEER_MAC} dev d0 nud permanent",
    f"ip -6 neigh add 2001:db8:9::7 lladdr {PEER_MAC} dev d0 nud permanent")
PEER6, ROUTER6 = "2001:db8:9::7", "2001:db8:9::2"


def _errq(s: Any) -> Any:
    try:
        data, anc, fl, addr = s.recvmsg(2048, 1024, MSG_ERRQUEUE)
    except OSError as e:
        return errno.errorcode[e.errno or 0]
    return [data.hex(), [[lv, t, d.hex()] for lv, t, d in anc], fl, list(addr)]


def _icmp4(src: str, t: int, code: int, rest: int, quoted: bytes) -> bytes:
    from kame import _core
    return _core.ip_build(src, ME4, 1, _core.icmp_build(t, code, rest, quoted), ttl=64)


def _icmp6(src: str, t: int, code: int, rest: int, quoted: bytes) -> bytes:
    from ipaddress import IPv6Address

    from kame import _core
    body = bytearray(struct.pack("!BBHI", t, code, 0, rest) + quoted)
    body[2:4] = struct.pack("!H", _core.in6_cksum(IPv6Address(src), IPv6Address(ME6), 58,
                                                  bytes(body)))
    return struct.pack("!IHBB", 0x60000000, len(body), 58, 64) + \
        socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, ME6) + \
        bytes(body)


def recverr_run(make: Any, ifi: int, wire: Any = None, inject: Any = None) -> list[Any]:
    """``IP_RECVERR``'s and ``IPV6_RECVERR``'s values; then errors from the
    loopback and the wire on UDP and raw sockets, connected or not, with the
    option on and off: what ``recvmsg(MSG_ERRQUEUE)``, ``SO_ERROR`` and a
    plain receive give."""
    out: list[Any] = []
    if inject is None:
        mac = bytes.fromhex(Path("/sys/class/net/d0/address").read_text().strip()
                            .replace(":", ""))
        p4 = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM)
        reads = {0x0800: _wire_host(), 0x86DD: None}
        p6 = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x86DD))
        p6.bind(("d1", 0x86DD))
        p6.setblocking(False)

        def read6() -> list[bytes]:
            got: list[bytes] = []
            while select.select([p6], [], [], 0.05)[0]:
                got.append(p6.recv(70000))
            return got
        reads[0x86DD] = read6

        def inject(pkt: bytes) -> None:
            et = 0x86DD if pkt[0] >> 4 == 6 else 0x0800
            p4.sendto(pkt, ("d1", et, 0, 0, mac))
            select.select([], [], [], 0.1)
        wire = lambda et=0x0800: reads[et]()
    so_error = socket.SO_ERROR
    for fam, typ, proto in KINDS:
        s = make(fam, typ, proto)
        lv, opt = (41, IPV6_RECVERR) if fam == AF_INET6 else (0, IP_RECVERR)
        out.append([fam, typ, _try(lambda s=s, lv=lv, o=opt: s.getsockopt(lv, o)),
                    *[[_try(lambda s=s, lv=lv, o=opt, v=v: s.setsockopt(lv, o, v)),
                       _try(lambda s=s, lv=lv, o=opt: s.getsockopt(lv, o))]
                      for v in (1, 0, 5, b"\x01", b"")],
                    _errq(s)])
        s.close()

    def after(s: Any, n: int = 2) -> list[Any]:
        got: list[Any] = []
        for _ in range(n):
            got += [_errq(s), _try(lambda: s.getsockopt(1, so_error))]
        return got + [_try(lambda: s.recv(100, socket.MSG_DONTWAIT))]

    # the loopback: unconnected, with the option on and off, two errors queued
    for on in (1, 0):
        s = make(AF_INET, SOCK_DGRAM, 0)
        s.setsockopt(0, IP_RECVERR, on)
        s.bind(("127.0.0.1", 7550))
        sent = [_try(lambda s=s, i=i: s.sendto(b"to nobody %d" % i, ("127.0.0.1", 7551 + i)))
                for i in range(3)]
        out.append(["lo", on, sent, *after(s, 3)])
        s.close()
    # the queue's bound: the receive buffer against each error's truesize
    for n in (11, 500):
        s = make(AF_INET, SOCK_DGRAM, 0)
        s.setsockopt(0, IP_RECVERR, 1)
        s.bind(("127.0.0.1", 7555))
        sent = [_try(lambda s=s, n=n: s.sendto(b"z" * n, ("127.0.0.1", 7556)))
                for _ in range(600)]
        got = 0
        while isinstance(_errq(s), list):
            got += 1
        out.append(["bound", n, sent.count(n), got])
        s.close()
    s = make(AF_INET, SOCK_DGRAM, 0)
    s.setsockopt(0, IP_RECVERR, 1)
    s.connect(("127.0.0.1", 7553))
    out.append(["lo connected", _try(lambda: s.send(b"x" * 600)), _try(lambda: s.send(b"y")),
                *after(s, 3)])
    s.close()
    # the wire: Port Unreachable from the host, Fragmentation Needed and Time
    # Exceeded from a router, Host Unreachable to a raw socket
    wire()
    for on, conn in ((1, False), (1, True), (0, True)):
        s = make(AF_INET, SOCK_DGRAM, 0)
        s.setsockopt(0, IP_RECVERR, on)
        s.bind((ME4, 7560 + on + 2 * conn))
        if conn:
            s.connect((PMTU_DST, 9))
        _try(lambda s=s: s.sendto(b"a datagram to be refused", (PMTU_DST, 9)))
        (pkt,) = wire()
        pkt = pkt[:8] + b"\x40" + pkt[9:]  # the TTL as the peer saw it is not ours to keep
        inject(_icmp4(PMTU_DST, 3, 3, 0, pkt))
        inject(_icmp4("10.9.9.2", 3, 4, 1100, pkt[:36]))
        inject(_icmp4("10.9.9.2", 11, 0, 0, pkt[:28]))
        inject(_icmp4("10.9.9.2", 12, 0, 0x14000000, pkt[:30]))
        out.append(["wire", on, conn, *after(s, 5)])
        s.close()
    r = make(AF_INET, SOCK_RAW, EXP)
    r.setsockopt(0, IP_RECVERR, 1)
    r.sendto(b"raw datagram", (PMTU_DST, 0))
    (pkt,) = wire()
    inject(_icmp4("10.9.9.2", 3, 1, 0, pkt))
    inject(_icmp4("10.9.9.2", 3, 4, 1000, pkt[:24]))
    out.append(["raw", *after(r, 3)])
    r.close()
    # IPv6: Port Unreachable from the host, Packet Too Big from a router
    wire(0x86DD)
    for on, conn in ((1, False), (0, True)):
        s = make(AF_INET6, SOCK_DGRAM, 0)
        s.setsockopt(41, IPV6_RECVERR, on)
        s.bind((ME6, 7570 + on))
        if conn:
            s.connect((PEER6, 9))
        _try(lambda s=s: s.sendto(b"a datagram to be refused", (PEER6, 9)))
        pkts = [p for p in wire(0x86DD) if p[6] == 17]
        out.append(len(pkts))
        if pkts:
            pkt = pkts[0]
            pkt = pkt[:7] + b"\x40" + pkt[8:]
            inject(_icmp6(PEER6, 1, 4, 0, pkt))
            inject(_icmp6(ROUTER6, 2, 0, 1280, pkt[:52]))
            inject(_icmp6(ROUTER6, 3, 0, 0, pkt[:48]))
        out.append(["wire6", on, conn, *after(s, 4)])
        s.close()
    # a raw IPv6 socket: Address Unreachable and Packet Too Big from a router
    r = make(AF_INET6, SOCK_RAW, EXP)
    r.setsockopt(41, IPV6_RECVERR, 1)
    _try(lambda: r.sendto(b"raw6 datagram", (PEER6, 0)))
    pkts = [p for p in wire(0x86DD) if p[6] == EXP]
    out.append(len(pkts))
    if pkts:
        pkt = pkts[0][:7] + b"\x40" + pkts[0][8:]
        inject(_icmp6(ROUTER6, 1, 3, 0, pkt))
        inject(_icmp6(ROUTER6, 2, 0, 1300, pkt[:44]))  # short of 8 octets: not delivered
        inject(_icmp6(ROUTER6, 2, 0, 1300, pkt[:50]))
    out.append(["raw6", *after(r, 3)])
    r.close()
    return out


def kame_recverr() -> tuple[SocketLayer, Any, Any]:
    """:func:`kame_pmtu` with :data:`ME6` and the neighbors of
    :data:`ERR_SETUP`; the reader of what leaves ``d0`` (IPv4 or IPv6) and
    the writer of what ``d1`` sends it."""
    from ipaddress import IPv4Address, IPv6Address
    layer, _read = kame_pmtu()
    node = layer.node
    assert node is not None
    node.add_address("d0", f"{ME6}/64", 20.0)
    while (d := node.next_deadline()) is not None and d < 40.0:
        node.poll(d)  # DAD done
    node.poll(40.0)
    inet = node.inet
    mac = bytes.fromhex(PEER_MAC.replace(":", ""))
    inet._arp_update(inet._new_entry("d0", IPv4Address("10.9.9.2"), 40.0), mac, 40.0)
    node.cache.set_permanent("d0", IPv6Address(PEER6), mac)
    node._out.clear()

    def read(et: int = 0x0800) -> list[bytes]:
        want = et.to_bytes(2, "big")
        got = [bytes(f)[14:] for ifn, f in node._out if ifn == "d0" and bytes(f)[12:14] == want
               and (bytes(f)[14 + 9] in (17, EXP) if et == 0x0800 else True)]
        node._out.clear()
        return got

    def inject(pkt: bytes) -> None:
        et = b"\x86\xdd" if pkt[0] >> 4 == 6 else b"\x08\x00"
        lladdr = node.ifnets["d0"].lladdr
        node.receive("d0", lladdr + mac + et + pkt, node._now)
    return layer, read, inject


def _ours_recverr() -> Any:
    layer, read, inject = kame_recverr()
    return json.loads(json.dumps(recverr_run(lambda f, t, p: layer.socket(f, t, p),
                                             layer.ifindex("d0"), read, inject)))


def test_icmp_errors_queue_on_the_linux_profile() -> None:
    out = _ours_recverr()
    lo = next(r for r in out if isinstance(r, list) and r[:2] == ["lo", 1])
    # the first Port Unreachable makes the second send fail; two are queued
    assert lo[2] == [11, "ECONNREFUSED", 11]
    data, anc, flags, addr = lo[3]
    assert bytes.fromhex(data) == b"to nobody 0" and flags == MSG_ERRQUEUE
    assert addr == ["127.0.0.1", 7551]
    # sock_extended_err: ECONNREFUSED, SO_EE_ORIGIN_ICMP, type 3 code 3; the offender
    assert anc == [[0, IP_RECVERR, (struct.pack("=IBBBBII", errno.ECONNREFUSED, 2, 3, 3, 0, 0, 0)
                                    + struct.pack("=HH4s8x", 2, 0, _a("127.0.0.1"))).hex()]]
    assert lo[4] == errno.ECONNREFUSED and lo[6] == 0  # the next error's, then none
    wire = next(r for r in out if isinstance(r, list) and r[:3] == ["wire", 1, False])
    ee = bytes.fromhex(wire[5][1][0][2])
    assert struct.unpack("=IBBBBII", ee[:16]) == (errno.EMSGSIZE, 2, 3, 4, 0, 1100, 0)
    assert ee[20:24] == _a("10.9.9.2")
    six = next(r for r in out if isinstance(r, list) and r[:2] == ["wire6", 1])
    ee6 = bytes.fromhex(six[5][1][0][2])
    assert struct.unpack("=IBBBBII", ee6[:16]) == (errno.EMSGSIZE, 3, 2, 0, 0, 1280, 0)
    assert [r[1:] for r in out if isinstance(r, list) and r[0] == "bound"] == \
        [[11, 300, 255], [500, 300, 166]]


@pytest.mark.root
def test_icmp_error_queue_equals_the_kernels() -> None:
    ours = _ours_recverr()
    kernel = _kernel("recverr_run", veth=True, extra=ERR_SETUP)
    assert ours == kernel, _diff(ours, kernel)


# --- the error queue of an AF_INET6 socket's IPv4-mapped traffic ---------------
#
# ``__udp4_lib_err`` finds the AF_INET6 socket that sent a datagram to a
# ``::ffff:`` address and queues the ICMP error when ``inet->recverr`` is on
# (``IP_RECVERR`` at ``IPPROTO_IP``; ``IPV6_RECVERR`` does not count);
# ``recvmsg(MSG_ERRQUEUE)`` is ``ipv6_recv_error``: a ``sockaddr_in6`` of the
# mapped destination, ``IPV6_RECVERR`` at ``IPPROTO_IPV6`` carrying the ICMP
# origin, type and code, the offender a mapped ``sockaddr_in6``.


def _err_io() -> tuple[Any, Any]:
    """The kernel's side of :func:`recverr_run`: the reader of the IPv4 and
    IPv6 packets leaving ``d0`` and the writer of what ``d1`` sends it."""
    mac = bytes.fromhex(Path("/sys/class/net/d0/address").read_text().strip()
                        .replace(":", ""))
    p4 = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM)
    read4 = _wire_host()

    def inject(pkt: bytes) -> None:
        et = 0x86DD if pkt[0] >> 4 == 6 else 0x0800
        p4.sendto(pkt, ("d1", et, 0, 0, mac))
        select.select([], [], [], 0.1)
    return (lambda et=0x0800: read4()), inject


def recverr_mapped_run(make: Any, ifi: int, wire: Any = None, inject: Any = None) -> list[Any]:
    """An AF_INET6 UDP socket's datagrams to ``::ffff:`` addresses with
    ``IP_RECVERR`` and ``IPV6_RECVERR`` each on and off, connected or not:
    Port Unreachable from the loopback and from the wire, Fragmentation
    Needed, Time Exceeded and Parameter Problem from a router; what
    ``recvmsg(MSG_ERRQUEUE)``, ``SO_ERROR`` and a plain receive give."""
    if inject is None:
        wire, inject = _err_io()
    out: list[Any] = []
    so_error = socket.SO_ERROR

    def after(s: Any, n: int) -> list[Any]:
        got: list[Any] = []
        for _ in range(n):
            got += [_errq(s), _try(lambda: s.getsockopt(1, so_error))]
        return got + [_try(lambda: s.recv(100, socket.MSG_DONTWAIT))]

    combos = ((1, 0), (0, 1), (1, 1), (0, 0))
    port = 7580
    for ip, ip6 in combos:
        for conn in (False, True):
            port += 1
            s = make(AF_INET6, SOCK_DGRAM, 0)
            s.setsockopt(0, IP_RECVERR, ip)
            s.setsockopt(41, IPV6_RECVERR, ip6)
            s.bind(("::ffff:127.0.0.1", port))
            if conn:
                s.connect(("::ffff:127.0.0.1", 7599))
            sent = [_try(lambda s=s, i=i: s.sendto(b"mapped %d" % i, ("::ffff:127.0.0.1", 7599)))
                    for i in range(2)]
            out.append(["lo", ip, ip6, conn, sent, *after(s, 3)])
            s.close()
    wire()
    for ip, ip6 in combos:
        for conn in (False, True):
            port += 1
            s = make(AF_INET6, SOCK_DGRAM, 0)
            s.setsockopt(0, IP_RECVERR, ip)
            s.setsockopt(41, IPV6_RECVERR, ip6)
            s.bind(("::ffff:" + ME4, port))
            if conn:
                s.connect(("::ffff:" + PMTU_DST, 9))
            _try(lambda s=s: s.sendto(b"a mapped datagram to be refused", ("::ffff:" + PMTU_DST, 9)))
            pkts = wire()
            out.append(len(pkts))
            if pkts:
                pkt = pkts[0][:8] + b"\x40" + pkts[0][9:]
                inject(_icmp4(PMTU_DST, 3, 3, 0, pkt))
                inject(_icmp4("10.9.9.2", 3, 4, 1100, pkt[:36]))
                inject(_icmp4("10.9.9.2", 11, 0, 0, pkt[:28]))
                inject(_icmp4("10.9.9.2", 12, 0, 0x14000000, pkt[:30]))
            out.append(["wire", ip, ip6, conn, *after(s, 5)])
            s.close()
    # IPV6_RECVERR alone, then IP_RECVERR turned off: the queue empties
    s = make(AF_INET6, SOCK_DGRAM, 0)
    s.setsockopt(0, IP_RECVERR, 1)
    s.bind(("::ffff:127.0.0.1", 7598))
    sent = [_try(lambda s=s, i=i: s.sendto(b"x%d" % i, ("::ffff:127.0.0.1", 7599)))
            for i in range(3)]
    out.append(["off", sent, _try(lambda: s.setsockopt(41, IPV6_RECVERR, 0)), _errq(s),
                _try(lambda: s.setsockopt(0, IP_RECVERR, 0)), *after(s, 1)])
    s.close()
    return out


def _ours_recverr_mapped() -> Any:
    layer, read, inject = kame_recverr()
    return json.loads(json.dumps(recverr_mapped_run(lambda f, t, p: layer.socket(f, t, p),
                                                    layer.ifindex("d0"), read, inject)))


def test_mapped_icmp_errors_queue_on_the_linux_profile() -> None:
    out = _ours_recverr_mapped()
    wire = next(r for r in out if isinstance(r, list) and r[:4] == ["wire", 1, 0, False])
    data, anc, flags, addr = wire[4]
    assert bytes.fromhex(data) == b"a mapped datagram to be refused" and flags == MSG_ERRQUEUE
    assert addr[:2] == ["::ffff:" + PMTU_DST, 9]
    # ipv6_recv_error: IPV6_RECVERR at IPPROTO_IPV6, the ICMP origin, type
    # and code; the offender a mapped sockaddr_in6
    assert anc == [[41, IPV6_RECVERR, (
        struct.pack("=IBBBBII", errno.ECONNREFUSED, 2, 3, 3, 0, 0, 0)
        + struct.pack("=HHI16sI", 10, 0, 0, socket.inet_pton(
            socket.AF_INET6, "::ffff:" + PMTU_DST), 0)).hex()]]
    ee = bytes.fromhex(wire[6][1][0][2])
    assert struct.unpack("=IBBBBII", ee[:16]) == (errno.EMSGSIZE, 2, 3, 4, 0, 1100, 0)
    # IPV6_RECVERR alone queues nothing: the hard error of a connected socket
    six = next(r for r in out if isinstance(r, list) and r[:4] == ["wire", 0, 1, True])
    assert six[4] == "EAGAIN" and six[5] == errno.EPROTO  # the last hard one


@pytest.mark.root
def test_mapped_icmp_error_queue_equals_the_kernels() -> None:
    ours = _ours_recverr_mapped()
    kernel = _kernel("recverr_mapped_run", veth=True, extra=ERR_SETUP)
    assert ours == kernel, _diff(ours, kernel)


# --- IPV6_MTU_DISCOVER, and IP_MTU_DISCOVER's DF on TCP segments ----------------
#
# Linux's ``np->pmtudisc``: DONT and WANT fragment at the path MTU, DO
# refuses past it, PROBE and INTERFACE send up to the interface's MTU
# unfragmented, OMIT fragments at the interface's MTU; with IPV6_RECVERR an
# EMSGSIZE queues a local error; INTERFACE and OMIT ignore Packet Too Big.
# A TCP segment carries DF when ``ip_dont_fragment`` says (WANT and DO).

IPV6_MTU_DISCOVER = 23
PMTU6_SETUP = ERR_SETUP + (f"ip -6 route add {PEER6}/128 dev d0 mtu 1300",)
PMTU6_SIZES = (1300, 1301, 1500, 1501, 3000)


def _frag6(p: bytes) -> list[int]:
    """(length, a Fragment header, M, fragment offset) of an IPv6 packet."""
    plen = struct.unpack("!H", p[4:6])[0]
    if p[6] == 44:
        off = struct.unpack("!H", p[42:44])[0]
        return [40 + plen, 1, off & 1, off >> 3]
    return [40 + plen, 0, 0, 0]


def _wire6_host() -> Any:
    p6 = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x86DD))
    p6.bind(("d1", 0x86DD))
    p6.setblocking(False)

    def read6() -> list[bytes]:
        got: list[bytes] = []
        while select.select([p6], [], [], 0.05)[0]:
            got.append(p6.recv(70000))
        return got
    return read6


def pmtu6_run(make: Any, ifi: int, wire: Any = None, inject: Any = None,
              tcpwire: Any = None) -> list[Any]:
    """``IPV6_MTU_DISCOVER``'s values on each kind of socket; datagrams of
    each mode and size (UDP and raw) to a peer 1300 octets away on a
    1500-octet link: the errno and the packets on the wire; the local error
    ``IPV6_RECVERR`` queues; a Packet Too Big to a socket of each mode; then
    the DF bit of the SYN of TCP sockets of each ``IP_MTU_DISCOVER`` mode."""
    if inject is None:
        _w4, inject = _err_io()
        read6, read4 = _wire6_host(), _wire_host()
        wire = lambda et=0x86DD: read6() if et == 0x86DD else read4()
    me6 = socket.inet_pton(socket.AF_INET6, ME6)

    def sent6() -> list[Any]:
        return [_frag6(p) for p in wire(0x86DD) if p[8:24] == me6 and p[6] in (17, 44, EXP)]

    out: list[Any] = []
    for fam, typ, proto in KINDS:
        s = make(fam, typ, proto)
        k = [fam, typ]
        out.append(k + ["get", _try(lambda s=s: s.getsockopt(41, IPV6_MTU_DISCOVER)),
                        _try(lambda s=s: s.getsockopt(41, IPV6_MTU_DISCOVER, 1)),
                        _try(lambda s=s: s.getsockopt(41, IPV6_MTU_DISCOVER, 4))])
        for v in (-1, 0, 1, 2, 3, 4, 5, 6, 256 + 2, b"", b"\x03", b"\x04\x00\x00",
                  struct.pack("=ii", 5, 9)):
            out.append(k + ["set", v.hex() if isinstance(v, bytes) else v,
                            _try(lambda s=s, v=v: s.setsockopt(41, IPV6_MTU_DISCOVER, v)),
                            _try(lambda s=s: s.getsockopt(41, IPV6_MTU_DISCOVER))])
        s.close()
    wire(0x86DD)
    for typ, proto in ((SOCK_DGRAM, 0), (SOCK_RAW, EXP)):
        hdr = 48 if typ == SOCK_DGRAM else 40
        for mode in range(6):
            s = make(AF_INET6, typ, proto)
            s.setsockopt(41, IPV6_MTU_DISCOVER, mode)
            for n in PMTU6_SIZES:
                err = _try(lambda s=s, n=n, h=hdr: s.sendto(bytes(n - h), (PEER6, 9 if h == 48
                                                                           else 0)))
                out.append([typ, "send", mode, n, err, sent6()])
            s.close()
    # the local error: EMSGSIZE with IPV6_RECVERR, IPV6_DONTFRAG too
    for mode, dontfrag in ((2, 0), (1, 1), (4, 0)):
        s = make(AF_INET6, SOCK_DGRAM, 0)
        s.setsockopt(41, IPV6_MTU_DISCOVER, mode)
        s.setsockopt(41, IPV6_RECVERR, 1)
        s.setsockopt(41, socket.IPV6_DONTFRAG, dontfrag)
        s.bind((ME6, 7590 + mode))
        got = [_try(lambda s=s, n=n: s.sendto(bytes(n - 48), (PEER6, 9))) for n in (1400, 1600)]
        sent6()
        out.append(["local", mode, dontfrag, got, _errq(s),
                    _try(lambda s=s: s.getsockopt(1, socket.SO_ERROR)), _errq(s), _errq(s)])
        s.close()
    # Packet Too Big to a connected socket of each mode, IPV6_RECVERR off and on
    for mode in range(6):
        for on in (0, 1):
            s = make(AF_INET6, SOCK_DGRAM, 0)
            s.setsockopt(41, IPV6_MTU_DISCOVER, mode)
            s.setsockopt(41, IPV6_RECVERR, on)
            s.bind((ME6, 7600 + 2 * mode + on))
            s.connect((PEER6, 9))
            s.send(b"to be too big")
            pkts = [p for p in wire(0x86DD) if p[6] == 17]
            if pkts:
                inject(_icmp6(ROUTER6, 2, 0, 1280, pkts[0][:7] + b"\x40" + pkts[0][8:]))
            out.append(["ptb", mode, on, len(pkts), _errq(s),
                        _try(lambda s=s: s.getsockopt(1, socket.SO_ERROR))])
            s.close()
    # TCP: DF on the SYN by IP_MTU_DISCOVER (AF_INET and a mapped AF_INET6 socket)
    wire(0x0800)
    for fam in (AF_INET, AF_INET6):
        for mode in (None, 0, 1, 2, 3, 4, 5):
            t = make(fam, SOCK_STREAM, 0)
            if mode is not None:
                t.setsockopt(0, IP_MTU_DISCOVER, mode)
            if hasattr(t, "setblocking"):  # ours never blocks
                t.setblocking(False)
            dst = PMTU_DST if fam == AF_INET else "::ffff:" + PMTU_DST
            got = _try(lambda t=t, d=dst: t.connect_ex((d, 9)))
            syns = [p for p in wire(0x0800) if p[9] == 6]
            out.append(["tcp", fam, mode, got, _try(lambda t=t: t.getsockopt(0, IP_MTU_DISCOVER)),
                        [(p[6] >> 6) & 1 for p in syns[:1]]])
            t.close()
    return out


def _ours_pmtu6() -> Any:
    from ipaddress import IPv6Address
    layer, _read, inject = kame_recverr()
    node = layer.node
    assert node is not None
    assert node.pmtu_update(IPv6Address(PEER6), 1300, node._now)

    def wire(et: int = 0x86DD) -> list[bytes]:
        want = et.to_bytes(2, "big")
        got = [bytes(f)[14:] for ifn, f in node._out if ifn == "d0" and bytes(f)[12:14] == want]
        node._out.clear()
        return got
    return json.loads(json.dumps(pmtu6_run(lambda f, t, p: layer.socket(f, t, p),
                                           layer.ifindex("d0"), wire, inject)))


def test_ipv6_mtu_discover_on_the_linux_profile() -> None:
    out = _ours_pmtu6()
    get = {(r[0], r[1]): r[3:] for r in out if r[2:3] == ["get"]}
    assert get[(AF_INET6, SOCK_DGRAM)] == [1, "01", "01000000"]  # WANT
    send = {(r[0], r[2], r[3]): r[4:] for r in out if r[1:2] == ["send"]}
    # WANT: fragments at the path MTU (1300); DO: EMSGSIZE past it; PROBE:
    # unfragmented up to the link's 1500; OMIT: fragments at 1500
    assert send[(SOCK_DGRAM, 1, 1301)] == [1253, [[1296, 1, 1, 0], [61, 1, 0, 156]]]
    assert send[(SOCK_DGRAM, 2, 1301)] == ["EMSGSIZE", []]
    assert send[(SOCK_DGRAM, 3, 1500)] == [1452, [[1500, 0, 0, 0]]]
    assert send[(SOCK_DGRAM, 3, 1501)] == ["EMSGSIZE", []]
    assert send[(SOCK_DGRAM, 5, 3000)][1][0] == [1496, 1, 1, 0]
    local = next(r for r in out if r[:3] == ["local", 2, 0])
    assert local[3] == ["EMSGSIZE", "EMSGSIZE"]
    ee = bytes.fromhex(local[4][1][0][2])
    assert struct.unpack("=IBBBBII", ee[:16]) == (errno.EMSGSIZE, 1, 0, 0, 0, 1300, 0)
    tcp = {(r[1], r[2]): r[5] for r in out if r[:1] == ["tcp"]}
    assert tcp[(AF_INET, None)] == [1] and tcp[(AF_INET, 0)] == [0] and tcp[(AF_INET, 3)] == [0]
    assert tcp[(AF_INET6, 2)] == [1]


@pytest.mark.root
def test_ipv6_mtu_discover_equals_the_kernels() -> None:
    ours = _ours_pmtu6()
    kernel = _kernel("pmtu6_run", veth=True, extra=PMTU6_SETUP)
    assert ours == kernel, _diff(ours, kernel)


# --- the local error of an IPv4 datagram past the MTU (ip_local_error) ----------


def local4_run(make: Any, ifi: int, wire: Any = None) -> list[Any]:
    """Datagrams past the path MTU (1200 to ``PMTU_DST``) and the device's
    from AF_INET and mapped AF_INET6 UDP sockets of each ``IP_MTU_DISCOVER``
    mode, with ``IP_RECVERR`` (and ``IPV6_RECVERR``) on and off: the errno,
    what ``recvmsg(MSG_ERRQUEUE)`` and ``SO_ERROR`` give."""
    wire = wire or _wire_host()
    out: list[Any] = []
    for fam in (AF_INET, AF_INET6):
        dst = PMTU_DST if fam == AF_INET else "::ffff:" + PMTU_DST
        for mode in (1, 2, 3):
            for ip, ip6 in ((1, 0), (0, 0), (0, 1), (1, 1)):
                if fam == AF_INET and ip6:
                    continue
                s = make(fam, SOCK_DGRAM, 0)
                s.setsockopt(0, IP_MTU_DISCOVER, mode)
                s.setsockopt(0, IP_RECVERR, ip)
                if fam == AF_INET6:
                    s.setsockopt(41, IPV6_RECVERR, ip6)
                got = [_try(lambda s=s, n=n, d=dst: s.sendto(bytes(n - 28), (d, 9)))
                       for n in (1300, 1600)]
                wire()
                out.append([fam, mode, ip, ip6, got, _errq(s),
                            _try(lambda s=s: s.getsockopt(1, socket.SO_ERROR)), _errq(s),
                            _errq(s)])
                s.close()
    return out


def _ours_local4() -> Any:
    layer, read, _inject = kame_recverr()
    return json.loads(json.dumps(local4_run(lambda f, t, p: layer.socket(f, t, p),
                                            layer.ifindex("d0"), read)))


def test_ipv4_local_errors_queue_on_the_linux_profile() -> None:
    out = _ours_local4()
    do = next(r for r in out if r[:4] == [AF_INET, 2, 1, 0])
    assert do[4] == ["EMSGSIZE", "EMSGSIZE"]
    assert do[5][1] == [[0, IP_RECVERR, (struct.pack("=IBBBBII", errno.EMSGSIZE, 1, 0, 0, 0,
                                                     1200, 0) + bytes(16)).hex()]]
    probe = next(r for r in out if r[:4] == [AF_INET6, 3, 1, 0])
    assert probe[4] == [1272, "EMSGSIZE"] and probe[5][1][0][:2] == [41, IPV6_RECVERR]
    assert struct.unpack_from("=I", bytes.fromhex(probe[5][1][0][2]), 8) == (1500,)
    assert next(r for r in out if r[:4] == [AF_INET6, 2, 0, 1])[5] == "EAGAIN"


@pytest.mark.root
def test_ipv4_local_errors_equal_the_kernels() -> None:
    ours = _ours_local4()
    kernel = _kernel("local4_run", veth=True, extra=ERR_SETUP)
    assert ours == kernel, _diff(ours, kernel)
