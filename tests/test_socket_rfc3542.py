"""RFC 3542 over kame.socket: the inet6_opt_* (§10) and inet6_rth_* (§7)
helpers byte for byte against the host glibc (ctypes) and parsed back by
our Rust core; socket options and ancillary data (checked on the Linux
profile against the kernel's own recvmsg on ::1 when root); raw ICMPv6
sockets with ICMP6_FILTER and IPV6_CHECKSUM over a node."""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import struct
from ipaddress import IPv6Address as A
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.test_socket import two_nodes

from kame import _core
from kame.socket import (
    AF_INET6,
    ICMP6_FILTER,
    IPPROTO_ICMPV6,
    IPV6_CHECKSUM,
    IPV6_HOPLIMIT,
    IPV6_JOIN_GROUP,
    IPV6_LEAVE_GROUP,
    IPV6_MULTICAST_HOPS,
    IPV6_MULTICAST_LOOP,
    IPV6_PKTINFO,
    IPV6_RECVHOPLIMIT,
    IPV6_RECVPKTINFO,
    IPV6_RECVTCLASS,
    IPV6_TCLASS,
    IPV6_UNICAST_HOPS,
    SOCK_DGRAM,
    SOCK_RAW,
    Icmp6Filter,
    SocketLayer,
    inet6_opt_append,
    inet6_opt_find,
    inet6_opt_finish,
    inet6_opt_get_val,
    inet6_opt_init,
    inet6_opt_next,
    inet6_opt_set_val,
    inet6_rth_add,
    inet6_rth_getaddr,
    inet6_rth_init,
    inet6_rth_reverse,
    inet6_rth_segments,
    inet6_rth_space,
)

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.inet6_opt_append.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_uint8,
                                  ctypes.c_int, ctypes.c_uint8, ctypes.POINTER(ctypes.c_void_p)]
libc.inet6_opt_init.argtypes = [ctypes.c_void_p, ctypes.c_int]
libc.inet6_opt_finish.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
libc.inet6_rth_init.restype = ctypes.c_void_p
libc.inet6_rth_init.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]
libc.inet6_rth_add.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
libc.inet6_rth_reverse.argtypes = [ctypes.c_void_p, ctypes.c_void_p]

Opt = tuple[int, bytes, int]  # type, data, alignment
opt_st = st.tuples(st.integers(2, 255), st.binary(min_size=1, max_size=20),
                   st.sampled_from([1, 2, 4, 8])).filter(lambda o: o[2] <= len(o[1]))


def glibc_opts(opts: list[Opt]) -> bytes | None:
    # Pass 1: the length (extbuf NULL), pass 2: the bytes (RFC 3542 §10.1).
    off = libc.inet6_opt_init(None, 0)
    for t, d, al in opts:
        off = libc.inet6_opt_append(None, 0, off, t, len(d), al, None)
        if off < 0:
            return None
    total = libc.inet6_opt_finish(None, 0, off)
    buf = ctypes.create_string_buffer(total)
    off = libc.inet6_opt_init(buf, total)
    for t, d, al in opts:
        dp = ctypes.c_void_p()
        off = libc.inet6_opt_append(buf, total, off, t, len(d), al, ctypes.byref(dp))
        ctypes.memmove(dp, d, len(d))
    assert libc.inet6_opt_finish(buf, total, off) == total
    return buf.raw


def kame_opts(opts: list[Opt]) -> bytes | None:
    off = inet6_opt_init(None, 0)
    for t, d, al in opts:
        off, _ = inet6_opt_append(None, 0, off, t, len(d), al)
        if off < 0:
            return None
    total = inet6_opt_finish(None, 0, off)
    buf = bytearray(total)
    off = inet6_opt_init(buf, total)
    for t, d, al in opts:
        off, dp = inet6_opt_append(buf, total, off, t, len(d), al)
        inet6_opt_set_val(buf, dp, d)
    assert inet6_opt_finish(buf, total, off) == total
    return bytes(buf)


@given(st.lists(opt_st, min_size=1, max_size=6))
def test_inet6_opt_bytes_equal_glibc_and_parse_in_the_core(opts: list[Opt]) -> None:
    ours, theirs = kame_opts(opts), glibc_opts(opts)
    assert ours == theirs
    if ours is None:
        return
    hdr = bytearray(ours)
    hdr[0] = 59
    parsed = _core.DestOpts.from_bytes(bytes(hdr))
    got = [(o.type, o.data) for o in parsed.options if o.type not in (0, 1)]
    assert got == [(t, d) for t, d, _ in opts]
    # and our own walker finds them back
    off, seen = 0, []
    while True:
        off, t, ln, dp = inet6_opt_next(ours, len(ours), off)
        if off < 0:
            break
        seen.append((t, inet6_opt_get_val(ours, dp, ln)[1]))
    assert seen == [(t, d) for t, d, _ in opts]
    t0, _d0, _ = opts[-1]
    _off, ln, dp = inet6_opt_find(ours, len(ours), 0, t0)
    assert ours[dp:dp + ln] == next(d for t, d, _ in opts if t == t0)


def test_inet6_opt_known_answer() -> None:
    """RFC 3542 §22.1's example: an 8-octet-aligned 4-byte option, then a
    2-byte aligned and a 4-byte aligned one."""
    opts = [(0x0A, b"\x01\x02\x03\x04", 4), (0x0B, b"\x05\x06", 2), (0x0C, b"\x07" * 4, 4)]
    assert kame_opts(opts) == glibc_opts(opts)
    assert inet6_opt_append(None, 0, 2, 0, 1, 1) == (-1, -1)      # Pad1 type refused
    assert inet6_opt_append(None, 0, 2, 5, 1, 3) == (-1, -1)      # bad alignment
    assert libc.inet6_opt_append(None, 0, 2, 5, 1, 3, None) == -1


@given(st.lists(st.integers(1, 2**128 - 1), min_size=0, max_size=12))
def test_inet6_rth_equals_glibc_and_parses_in_the_core(addrs: list[int]) -> None:
    n = len(addrs)
    assert inet6_rth_space(0, n) == libc.inet6_rth_space(0, n)
    size = inet6_rth_space(0, n)
    ours = bytearray(size)
    assert inet6_rth_init(ours, size, 0, n)
    theirs = ctypes.create_string_buffer(size)
    assert libc.inet6_rth_init(theirs, size, 0, n)
    for x in addrs:
        assert inet6_rth_add(ours, A(x)) == 0
        assert libc.inet6_rth_add(theirs, A(x).packed) == 0
    assert inet6_rth_add(ours, A(1)) == -1
    assert bytes(ours) == theirs.raw
    assert inet6_rth_segments(ours) == libc.inet6_rth_segments(theirs) == n
    assert [inet6_rth_getaddr(ours, i) for i in range(n)] == [A(x) for x in addrs]
    rev, grev = bytearray(size), ctypes.create_string_buffer(size)
    assert inet6_rth_reverse(bytes(ours), rev) == libc.inet6_rth_reverse(theirs, grev) == 0
    assert bytes(rev) == grev.raw
    hdr = bytearray(ours)
    hdr[0] = 59
    rh = _core.RoutingHeader.from_bytes(bytes(hdr))
    assert rh.routing_type == 0 and rh.segments_left == n
    assert list(rh.addresses) == [A(x) for x in addrs]


def test_inet6_rth_limits_match_glibc() -> None:
    for t, n in ((0, 128), (0, -1), (2, 1), (0, 127)):
        assert inet6_rth_space(t, n) == libc.inet6_rth_space(t, n)


# --- options and ancillary data ------------------------------------------------

def _anc(lv: int, t: int, d: bytes, lo: int) -> list[Any]:
    if t == IPV6_PKTINFO and struct.unpack("=I", d[16:])[0] == lo:
        return [lv, t, d[:16].hex() + "/lo"]
    return [lv, t, d.hex()]


def ancillary_run(make: Any, host: bool, lo: int = 0) -> list[Any]:
    """Options set on a receiver on ::1, a datagram sent with ancillary data,
    what recvmsg reports. Same code for the kernel and kame."""
    r, s = make(), make()
    r.bind(("::1", 7101))
    out: list[Any] = []
    for opt in (IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS):
        r.setsockopt(41, opt, 1)
        out.append(r.getsockopt(41, opt))
    out.append(s.getsockopt(41, IPV6_UNICAST_HOPS))
    s.setsockopt(41, IPV6_UNICAST_HOPS, 7)
    out.append(s.getsockopt(41, IPV6_UNICAST_HOPS))
    s.setsockopt(41, IPV6_UNICAST_HOPS, -1)
    out.append(s.getsockopt(41, IPV6_UNICAST_HOPS))
    out.append(s.getsockopt(41, IPV6_MULTICAST_HOPS))
    out.append(s.getsockopt(41, IPV6_MULTICAST_LOOP))
    for bad in (256, -2):
        try:
            s.setsockopt(41, IPV6_UNICAST_HOPS, bad)
            out.append("ok")
        except OSError as e:
            out.append(errno.errorcode[e.errno or 0])
    s.setsockopt(41, IPV6_TCLASS, 0x28)
    s.sendmsg([b"one"], [(41, IPV6_HOPLIMIT, struct.pack("=i", 9))], 0, ("::1", 7101))
    s.sendmsg([b"two"], [(41, IPV6_TCLASS, struct.pack("=i", 0xB8))], 0, ("::1", 7101))
    s.sendmsg([b"three"], [(41, IPV6_PKTINFO, A(1).packed + struct.pack("=I", 0))], 0,
              ("::1", 7101))
    for _ in range(3):
        if host:
            import select
            select.select([r], [], [], 0.5)
        data, anc, flags, _addr = r.recvmsg(100, 1024)
        out.append([data.hex(), sorted(_anc(lv, t, d, lo) for lv, t, d in anc), flags])
    s.sendto(b"x" * 50, ("::1", 7101))
    if host:
        import select
        select.select([r], [], [], 0.5)
    data, anc, flags, _addr = r.recvmsg(10, 1024)
    out.append([data.hex(), flags])
    from kame.socket import IPV6_PATHMTU, IPV6_RECVPATHMTU

    for sock in (s, make()):
        try:
            if sock is not s:
                sock.connect(("::1", 7101))
            out.append(sock.getsockopt(41, IPV6_PATHMTU, 32).hex())
        except OSError as e:
            out.append(errno.errorcode[e.errno or 0])
        sock.setsockopt(41, IPV6_RECVPATHMTU, 1)
        out.append(sock.getsockopt(41, IPV6_RECVPATHMTU))
        sock.close()
    r.close()
    return out


def _lo_index() -> int:
    return socket.if_nametoindex("lo")


def test_ancillary_data_layouts() -> None:
    layer = SocketLayer(None, "linux")
    out = ancillary_run(lambda: layer.socket(AF_INET6, SOCK_DGRAM), host=False, lo=1)
    assert out[:3] == [1, 1, 1]
    assert out[3:8] == [64, 7, 64, 1, 1]
    assert out[8:10] == ["EINVAL", "EINVAL"]
    one = {(lv, t): bytes.fromhex(d.split("/")[0]) for lv, t, d in out[10][1]}
    assert struct.unpack("=i", one[(41, IPV6_HOPLIMIT)])[0] == 9
    assert struct.unpack("=i", one[(41, IPV6_TCLASS)])[0] == 0x28
    assert one[(41, IPV6_PKTINFO)] == A(1).packed
    assert out[10][1][0][2].endswith("/lo")
    two = {(lv, t): bytes.fromhex(d.split("/")[0]) for lv, t, d in out[11][1]}
    assert struct.unpack("=i", two[(41, IPV6_TCLASS)])[0] == 0xB8
    assert out[13] == ["78" * 10, 0x20]  # MSG_TRUNC


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a netns")
def test_ancillary_data_equals_the_kernels() -> None:
    import json
    import subprocess
    import sys

    ns = "sock-anc"
    subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
    if subprocess.run(["ip", "netns", "add", ns], capture_output=True, check=False).returncode:
        pytest.skip("no netns")
    try:
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True)
        code = ("import json,socket,sys; sys.path.insert(0, '.');"
                "from tests.test_socket_rfc3542 import ancillary_run;"
                "print(json.dumps([ancillary_run(lambda: socket.socket(socket.AF_INET6,"
                " socket.SOCK_DGRAM), True, socket.if_nametoindex('lo'))]))")
        r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code],
                           capture_output=True, text=True, check=True, timeout=60,
                           cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        (kernel,) = json.loads(r.stdout)
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
    layer = SocketLayer(None, "linux")
    ours = ancillary_run(lambda: layer.socket(AF_INET6, SOCK_DGRAM), host=False, lo=1)
    # The loopback's interface index: the kernel's lo there, 1 here (a layer
    # without a node takes the fresh namespace's lo): both print as "/lo".
    assert json.loads(json.dumps(ours)) == kernel


# --- raw ICMPv6 sockets over nodes --------------------------------------------

def test_raw_icmp6_filter_and_checksum_over_nodes() -> None:
    sim, a, _b, la, lb = two_nodes()
    raw = lb.socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)
    with pytest.raises(OSError) as ei:  # RFC 3542 §3.1
        raw.setsockopt(41, IPV6_CHECKSUM, 4)
    assert ei.value.errno == errno.EINVAL
    assert raw.getsockopt(41, IPV6_CHECKSUM) == 2
    f = Icmp6Filter()
    f.setblockall()
    f.setpass(128)
    raw.setsockopt(IPPROTO_ICMPV6, ICMP6_FILTER, f.to_bytes())
    assert raw.getsockopt(IPPROTO_ICMPV6, ICMP6_FILTER).willpass(128)
    sender = la.socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)
    echo = bytes([128, 0, 0, 0]) + struct.pack("!HH", 0x1234, 1) + b"raw!"
    sender.sendto(echo, ("2001:db8::b", 0))
    sim.emit(a, a.poll(sim.now))
    sim.run(until=sim.now + 1)
    data, peer = raw.recvfrom(200)
    assert data[0] == 128 and data[8:] == b"raw!" and peer[0] == "2001:db8::a"
    assert _core.in6_cksum(A("2001:db8::a"), A("2001:db8::b"), 58, data) == 0
    # Neighbor Solicitations etc. were filtered, the node still answered the echo.
    assert lb.udpstat["rip6s_filtered"] > 0
    replies = []
    while sender.rcvq:
        replies.append(sender.recvfrom(200)[0])
    assert any(r[0] == 129 and r[8:] == b"raw!" for r in replies)


def test_raw_other_protocol_checksum_offset() -> None:
    layer = SocketLayer(None, "netbsd")
    r = layer.socket(AF_INET6, SOCK_RAW, 253)
    s = layer.socket(AF_INET6, SOCK_RAW, 253)
    assert s.getsockopt(41, IPV6_CHECKSUM) == -1
    with pytest.raises(OSError):
        s.setsockopt(41, IPV6_CHECKSUM, 3)  # odd
    for x in (r, s):
        x.setsockopt(41, IPV6_CHECKSUM, 2)
    s.sendto(b"\x00\x00\x00\x00abcd", ("::1", 0))
    data, _ = r.recvfrom(100)
    assert _core.in6_cksum(A(1), A(1), 253, data) == 0 and data[4:] == b"abcd"
    r.setsockopt(41, IPV6_CHECKSUM, 4)  # now the receiver checks another offset
    s.setsockopt(41, IPV6_CHECKSUM, -1)
    s.sendto(b"\x00\x00\x00\x00abcd", ("::1", 0))  # no checksum: dropped
    with pytest.raises(BlockingIOError):
        r.recvfrom(100)
    assert layer.udpstat["rip6s_badsum"] == 1


def test_multicast_join_hops_loop_over_nodes() -> None:
    sim, a, b, la, lb = two_nodes()
    g = A("ff02::1:3")
    ifb = b.zones.by_name["eth0"]
    r = lb.socket(AF_INET6)
    r.bind(("::", 5355))
    mreq = g.packed + struct.pack("=I", ifb)
    r.setsockopt(41, IPV6_JOIN_GROUP, mreq)
    with pytest.raises(OSError):
        r.setsockopt(41, IPV6_JOIN_GROUP, mreq)
    assert g in b.groups["eth0"]
    s = la.socket(AF_INET6)
    s.setsockopt(41, IPV6_MULTICAST_HOPS, 1)
    s.setsockopt(41, IPV6_RECVHOPLIMIT, 1)
    r.setsockopt(41, IPV6_RECVHOPLIMIT, 1)
    r.setsockopt(41, IPV6_RECVPKTINFO, 1)
    s.sendto(b"llmnr", (f"{g}%eth0", 5355))
    sim.emit(a, a.poll(sim.now))
    sim.run(until=sim.now + 1)
    data, anc, _fl, _peer = r.recvmsg(100, 100)
    d = {t: v for _lv, t, v in anc}
    assert data == b"llmnr" and struct.unpack("=i", d[IPV6_HOPLIMIT])[0] == 1
    assert d[IPV6_PKTINFO] == g.packed + struct.pack("=I", ifb)
    # the sender's own loopback copy: a is not a member, so none
    assert not s.rcvq
    r.setsockopt(41, IPV6_LEAVE_GROUP, mreq)
    assert g not in b.groups["eth0"]
    with pytest.raises(OSError):
        r.setsockopt(41, IPV6_LEAVE_GROUP, mreq)


def test_pktinfo_chooses_source_and_checks_it() -> None:
    sim, a, b, la, lb = two_nodes()
    srv = lb.socket(AF_INET6)
    srv.bind(("::", 9))
    c = la.socket(AF_INET6)
    with pytest.raises(OSError) as ei:
        c.sendmsg([b"x"], [(41, IPV6_PKTINFO, A("2001:db8::99").packed + bytes(4))], 0,
                  ("2001:db8::b", 9))
    assert ei.value.errno == errno.EADDRNOTAVAIL
    ll_a = next(x.addr for x in a.addresses("eth0") if x.addr.is_link_local)
    ll_b = next(x.addr for x in b.addresses("eth0") if x.addr.is_link_local)
    idx = a.zones.by_name["eth0"]
    c.sendmsg([b"y"], [(41, IPV6_PKTINFO, bytes(16) + struct.pack("=I", idx))], 0,
              (str(ll_b), 9))
    sim.emit(a, a.poll(sim.now))
    sim.run(until=sim.now + 1)
    assert srv.recvfrom(10)[1][0] == str(ll_a)


@given(st.binary(max_size=64))
def test_inet6_opt_walkers_on_garbage_stop(buf: bytes) -> None:
    """Any bytes: the walkers end (each step moves forward) and never read
    past ``extlen``."""
    off, steps = 0, 0
    while True:
        nxt, _t, ln, dp = inet6_opt_next(buf, len(buf), off)
        if nxt < 0:
            break
        assert nxt > off and dp + ln <= len(buf)
        off, steps = nxt, steps + 1
        assert steps <= len(buf)
    fo, fl, fd = inet6_opt_find(buf, len(buf), 0, 5)
    assert fo < 0 or (buf[fd - 2] == 5 and fd + fl <= len(buf))


@given(st.binary(min_size=8, max_size=64).map(lambda b: b[:1] + bytes([b[1] & 0x1E]) + b"\0"
                                               + b[3:]))
def test_inet6_rth_readers_on_garbage(buf: bytes) -> None:
    n = inet6_rth_segments(buf)
    for i in range(max(n, 0) + 1):
        a = inet6_rth_getaddr(buf, i)
        if a is None:
            assert i >= n or 24 + 16 * i > len(buf)
        else:
            assert a.packed == buf[8 + 16 * i:24 + 16 * i]


def test_multicast_if_picks_the_interface() -> None:
    from kame.node import Node

    n = Node("m")
    for i, name in enumerate(("eth0", "eth1")):
        n.add_interface(name, bytes([2, 0, 0, 0, 0, i + 1]))
        n.up(name, 0.0)
    for now in (2.0, 4.0, 10.0):
        n.poll(now)
    layer = SocketLayer(n, "netbsd")
    s = layer.socket(AF_INET6)
    from kame.socket import IPV6_MULTICAST_IF

    with pytest.raises(OSError) as ei:
        s.setsockopt(41, IPV6_MULTICAST_IF, 99)
    assert ei.value.errno == errno.ENXIO
    for name in ("eth1", "eth0"):
        s.setsockopt(41, IPV6_MULTICAST_IF, n.zones.by_name[name])
        assert s.getsockopt(41, IPV6_MULTICAST_IF) == n.zones.by_name[name]
        s.sendto(b"m", ("ff02::1:3", 5355))
        (frame,) = [f for f in n.poll(10.0) if f[1][20] == 17]
        assert frame[0] == name and frame[1][21] == 1  # hop limit 1 by default
        src = A(frame[1][22:38])
        assert any(x.addr == src for x in n.addresses(name))


def test_unicast_hops_and_tclass_reach_the_wire() -> None:
    sim, a, _b, la, _lb = two_nodes()
    s = la.socket(AF_INET6)
    s.setsockopt(41, IPV6_UNICAST_HOPS, 3)
    s.setsockopt(41, IPV6_TCLASS, 0xB8)
    s.sendto(b"w", ("2001:db8::b", 9))
    sim.emit(a, a.poll(sim.now))  # the first one waits for ND
    sim.run(until=sim.now + 1)
    s.sendto(b"w", ("2001:db8::b", 9))
    (f,) = [f for _i, f in a.poll(sim.now) if f[20] == 17]
    hdr = _core.Ipv6Header.from_bytes(f[14:54])
    assert hdr.hop_limit == 3 and hdr.traffic_class == 0xB8


def test_raw_icmp6_socket_sees_ns_na_despite_the_fast_path() -> None:
    sim, a, b, _la, lb = two_nodes()
    assert getattr(b, "nd6_fastpath", True)
    raw = lb.socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)
    b.cache.flush("eth0")
    a.cache.flush("eth0")
    sim.emit(a, a.ping(A("2001:db8::b"), sim.now))
    sim.run(until=sim.now + 2)
    types = set()
    while raw.rcvq:
        types.add(raw.recvfrom(1500)[0][0])
    assert {128, 135}.issubset(types)
    raw.close()
    assert getattr(b, "nd6_fastpath", True)


def test_recvpathmtu_from_a_packet_too_big_over_nodes() -> None:
    """RFC 3542 §11.3: a PTB about a datagram of ours reaches the socket as
    an empty message with IPV6_PATHMTU (KAME: ip6_mtuinfo with the
    destination); IPV6_PATHMTU then reads the lowered path MTU."""
    from kame.nd6 import codec
    from kame.socket import IPV6_PATHMTU, IPV6_RECVPATHMTU, unpack_sockaddr_in6

    sim, a, _b, la, _lb = two_nodes()
    c = la.socket(AF_INET6)
    c.connect(("2001:db8::b", 4000))
    other = la.socket(AF_INET6)
    other.bind(("::", 0))
    for x in (c, other):
        x.setsockopt(41, IPV6_RECVPATHMTU, 1)
    info = c.getsockopt(41, IPV6_PATHMTU, 32)
    assert struct.unpack("=I", info[28:])[0] == 1500
    sport = c.getsockname()[1]
    inv_body = _core.UdpHeader(sport, 4000, b"z" * 1400).to_bytes(A("2001:db8::a"),
                                                                    A("2001:db8::b"))
    inv = _core.Ipv6Header(A("2001:db8::a"), A("2001:db8::b"), next_header=17,
                           payload_len=len(inv_body)).to_bytes() + inv_body
    ptb = _core.Icmpv6Error(2, 0, invoking=inv[:1232], mtu=1400)
    pkt = codec.build_icmp6_packet(A("2001:db8::b"), A("2001:db8::a"), ptb, 64)
    a.receive("eth0", codec.ether(bytes.fromhex("020000000a0a"),
                                  bytes.fromhex("020000000b0b"), pkt), sim.now)
    data, anc, _fl, peer = c.recvmsg(100, 100)
    assert data == b"" and peer[0] == "2001:db8::b"
    ((lv, typ, val),) = anc
    assert (lv, typ) == (41, IPV6_PATHMTU)
    addr, _port, _flow, _scope = unpack_sockaddr_in6(val[:28], layout="netbsd")
    assert addr == A("2001:db8::b") and struct.unpack("=I", val[28:])[0] == 1400
    assert not other.rcvq  # a different local port
    info = c.getsockopt(41, IPV6_PATHMTU, 32)
    assert struct.unpack("=I", info[28:])[0] == 1400


FILTER_C = r"""
#include <stdio.h>
#include <netinet/icmp6.h>
int main(void) {
    struct icmp6_filter f;
    ICMP6_FILTER_SETBLOCKALL(&f);
    ICMP6_FILTER_SETPASS(129, &f);
    ICMP6_FILTER_SETPASS(1, &f);
    ICMP6_FILTER_SETPASS(255, &f);
    ICMP6_FILTER_SETBLOCK(1, &f);
    const unsigned char *p = (const unsigned char *)&f;
    for (unsigned i = 0; i < sizeof f; i++) printf("%02x", p[i]);
    printf(" %d %d\n", ICMP6_FILTER_WILLPASS(129, &f), ICMP6_FILTER_WILLBLOCK(1, &f));
    return 0;
}
"""


def test_icmp6_filter_bytes_equal_the_linux_macros(tmp_path: Any) -> None:
    import shutil
    import subprocess

    if shutil.which("gcc") is None:
        pytest.skip("no gcc")
    (tmp_path / "f.c").write_text(FILTER_C)
    subprocess.run(["gcc", "-o", str(tmp_path / "f"), str(tmp_path / "f.c")], check=True,
                   timeout=60)
    hexbytes, wp, wb = subprocess.run([str(tmp_path / "f")], capture_output=True, text=True,
                                      check=True).stdout.split()
    f = Icmp6Filter()
    f.setblockall()
    for t in (129, 1, 255):
        f.setpass(t)
    f.setblock(1)
    assert f.to_bytes("linux").hex() == hexbytes
    assert (f.willpass(129), f.willblock(1)) == (wp == "1", wb == "1")
    # the linux profile reads and writes that layout through setsockopt
    layer = SocketLayer(None, "linux")
    raw = layer.socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)
    raw.setsockopt(IPPROTO_ICMPV6, ICMP6_FILTER, bytes.fromhex(hexbytes))
    assert raw.getsockopt(IPPROTO_ICMPV6, ICMP6_FILTER, 32).hex() == hexbytes
    assert raw.getsockopt(IPPROTO_ICMPV6, ICMP6_FILTER).willpass(129)
    assert not raw.getsockopt(IPPROTO_ICMPV6, ICMP6_FILTER).willpass(128)
    # and a BSD profile the inverse bits
    braw = SocketLayer(None, "netbsd").socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)
    braw.setsockopt(IPPROTO_ICMPV6, ICMP6_FILTER, f.to_bytes("bsd"))
    assert braw.getsockopt(IPPROTO_ICMPV6, ICMP6_FILTER).willpass(129)
    assert braw.getsockopt(IPPROTO_ICMPV6, ICMP6_FILTER, 32) == f.to_bytes("bsd")
