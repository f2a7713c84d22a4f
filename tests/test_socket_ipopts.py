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
the kernels' rules."""

from __future__ import annotations

import errno
import json
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.test_inet_raw import flush, pair

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


def _kernel(run: str, *args: Any) -> Any:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root for a network namespace")
    from tests.interop.netns_rig import fresh_netns

    code = ("import json,socket,sys; sys.path.insert(0, '.');"
            f"from tests.test_socket_ipopts import {run};"
            f"print(json.dumps({run}(lambda f, t, p: socket.socket(f, t, p){''.join(', ' + repr(a) for a in args)})))")
    with fresh_netns("ipopt") as ns:
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True)
        r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code],
                           capture_output=True, text=True, timeout=60, check=False,
                           cwd=str(Path(__file__).resolve().parents[1]))
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)


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
