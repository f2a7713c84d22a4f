"""RFC 3542 §4, §6-§9, §11 and RFC 2292 (seed §1.16) over kame.socket:
sticky and ancillary Hop-by-Hop, Destination options and Routing headers,
the receive switches, IPV6_NEXTHOP, IPV6_DONTFRAG, IPV6_USE_MIN_MTU and
IPV6_PKTOPTIONS. The Linux profile runs the same steps as the kernel's own
sockets on ::1 in a fresh namespace and must give the same answers; the
wire layout is checked between two nodes, by our core's parser and by
tshark; the RFC 2292 helpers byte for byte against known answers."""

from __future__ import annotations

import errno
import json
import shutil
import socket
import struct
import subprocess
from ipaddress import IPv6Address as A
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.test_socket import two_nodes

from kame import _core
from kame.socket import (
    AF_INET6,
    IPV6_2292DSTOPTS,
    IPV6_2292HOPLIMIT,
    IPV6_2292HOPOPTS,
    IPV6_2292PKTINFO,
    IPV6_2292PKTOPTIONS,
    IPV6_DONTFRAG,
    IPV6_DSTOPTS,
    IPV6_HOPOPTS,
    IPV6_NEXTHOP,
    IPV6_PATHMTU,
    IPV6_RECVDSTOPTS,
    IPV6_RECVHOPOPTS,
    IPV6_RECVPATHMTU,
    IPV6_RECVRTHDR,
    IPV6_RTHDR,
    IPV6_RTHDRDSTOPTS,
    IPV6_USE_MIN_MTU,
    SOCK_DGRAM,
    SOCK_RAW,
    SocketLayer,
    inet6_rth_add,
    inet6_rth_init,
    inet6_rth_space,
)
from kame.socket.pktopts import pack_cmsgs, parse_cmsgs
from kame.socket.rfc2292 import (
    IPV6_RTHDR_LOOSE,
    IPV6_RTHDR_STRICT,
    Cmsg,
    inet6_option_alloc,
    inet6_option_append,
    inet6_option_find,
    inet6_option_init,
    inet6_option_next,
    inet6_option_space,
    inet6_rthdr_add,
    inet6_rthdr_getaddr,
    inet6_rthdr_getflags,
    inet6_rthdr_lasthop,
    inet6_rthdr_reverse,
    inet6_rthdr_segments,
    inet6_rthdr_space,
)

# An experimental option (RFC 4727 0x1e: skip if unknown) carrying "kame",
# and a Destination options header of 16 octets ending in PadN.
HBH = bytes([0, 0, 0x1E, 4]) + b"kame"
HBH2 = bytes([0, 0, 0x1E, 4]) + b"KAME"
HBH3 = bytes([0, 0, 0x3E, 4]) + b"2292"
DST = bytes([0, 1, 0x1E, 10]) + b"0123456789" + bytes([1, 0])
DST2 = bytes([0, 0, 0x1E, 4]) + b"dst2"


def _anc(items: list[tuple[int, int, bytes]]) -> list[list[Any]]:
    return sorted([lv, t, d.hex() if t not in (IPV6_2292PKTINFO,) else d[:16].hex()]
                  for lv, t, d in items)


def _try(fn: Any) -> Any:
    try:
        r = fn()
        return r.hex() if isinstance(r, bytes) else ("ok" if r is None else r)
    except OSError as e:
        return errno.errorcode[e.errno or 0]


def exthdr_run(make: Any, host: bool) -> list[Any]:
    """The same steps on a host socket (in a namespace) or on kame's."""
    import select

    r, s = make(), make()
    r.bind(("::1", 7102))
    out: list[Any] = []
    for opt in (IPV6_RECVHOPOPTS, IPV6_RECVDSTOPTS, IPV6_RECVRTHDR, IPV6_2292HOPLIMIT):
        r.setsockopt(41, opt, 1)
        out.append(r.getsockopt(41, opt))

    def recv() -> list[Any]:
        if host:
            select.select([r], [], [], 1.0)
        data, anc, _flags, _addr = r.recvmsg(100, 4096)
        return [data.decode(), _anc(anc)]

    out.append(_try(lambda: s.getsockopt(41, IPV6_HOPOPTS, 256)))
    s.setsockopt(41, IPV6_HOPOPTS, HBH)
    s.setsockopt(41, IPV6_DSTOPTS, DST)
    out.append(_try(lambda: s.getsockopt(41, IPV6_HOPOPTS, 256)))
    out.append(_try(lambda: s.getsockopt(41, IPV6_DSTOPTS, 256)))
    s.sendto(b"sticky", ("::1", 7102))
    out.append(recv())
    # an ancillary item replaces the sticky one of its type only
    s.sendmsg([b"anc"], [(41, IPV6_HOPOPTS, HBH2)], 0, ("::1", 7102))
    out.append(recv())
    # RFC 2292's ancillary types are taken too
    s.sendmsg([b"old"], [(41, IPV6_2292HOPOPTS, HBH3), (41, IPV6_2292DSTOPTS, DST2)], 0,
              ("::1", 7102))
    out.append(recv())
    # RFC 2292's receive switches report under RFC 2292's types
    r.setsockopt(41, IPV6_2292HOPOPTS, 1)
    r.setsockopt(41, IPV6_RECVDSTOPTS, 0)
    s.sendto(b"both", ("::1", 7102))
    out.append(recv())
    # lengths: not a multiple of 8, a header longer than the buffer, longer buffer
    for bad in (HBH[:7], bytes([0, 1]) + HBH[2:], HBH + bytes(8), HBH[:12]):
        out.append(_try(lambda b=bad: s.setsockopt(41, IPV6_HOPOPTS, b)))
        out.append(_try(lambda: s.getsockopt(41, IPV6_HOPOPTS, 256)))
    # a type 0 Routing header (Linux refuses to send one, RFC 5095)
    rh = bytearray(inet6_rth_space(0, 1))
    inet6_rth_init(rh, len(rh), 0, 1)
    inet6_rth_add(rh, "2001:db8::1")
    out.append(_try(lambda: s.setsockopt(41, IPV6_RTHDR, bytes(rh))))
    out.append(_try(lambda: s.sendmsg([b"rh"], [(41, IPV6_RTHDR, bytes(rh))], 0,
                                      ("::1", 7102))))
    # empty clears
    s.setsockopt(41, IPV6_HOPOPTS, b"")
    out.append(_try(lambda: s.getsockopt(41, IPV6_HOPOPTS, 256)))
    s.sendto(b"dst only", ("::1", 7102))
    out.append(recv())
    # RFC 2292 IPV6_PKTOPTIONS: one buffer replaces every sticky option
    buf = pack_cmsgs([(41, IPV6_2292HOPOPTS, HBH2)])
    out.append(_try(lambda: s.setsockopt(41, IPV6_2292PKTOPTIONS, buf)))
    out.append(_try(lambda: s.getsockopt(41, IPV6_DSTOPTS, 256)))
    out.append(_try(lambda: s.getsockopt(41, IPV6_HOPOPTS, 256)))
    out.append(_try(lambda: s.getsockopt(41, IPV6_2292PKTOPTIONS, 256)))
    s.sendto(b"pktoptions", ("::1", 7102))
    out.append(recv())
    out.append(_try(lambda: s.setsockopt(41, IPV6_2292PKTOPTIONS, buf[:20])))
    out.append(_try(lambda: s.getsockopt(41, IPV6_HOPOPTS, 256)))
    # switches, options Linux lacks, DONTFRAG's value
    r.setsockopt(41, IPV6_2292PKTINFO, 1)
    s.sendto(b"pktinfo", ("::1", 7102))
    out.append(recv())
    out.append(_try(lambda: s.setsockopt(41, IPV6_DONTFRAG, 1)))
    out.append(_try(lambda: s.getsockopt(41, IPV6_DONTFRAG)))
    nh = struct.pack("=HHI", 10, 0, 0) + A(1).packed + bytes(4)
    out.append(_try(lambda: s.setsockopt(41, IPV6_NEXTHOP, nh)))
    r.close()
    s.close()
    return out


def test_exthdr_steps_on_the_linux_profile() -> None:
    layer = SocketLayer(None, "linux")
    out = exthdr_run(lambda: layer.socket(AF_INET6, SOCK_DGRAM), host=False)
    assert out[:4] == [1, 1, 1, 1]
    assert out[4] == "" and out[5] == HBH.hex() and out[6] == DST.hex()
    first = {t: d for _lv, t, d in out[7][1]}
    assert out[7][0] == "sticky" and first[IPV6_HOPOPTS][4:] == HBH.hex()[4:]
    assert first[IPV6_DSTOPTS][4:] == DST.hex()[4:]
    assert bytes.fromhex(first[IPV6_HOPOPTS])[0] == 60  # then the Destination options
    assert bytes.fromhex(first[IPV6_DSTOPTS])[0] == 17  # then UDP
    anc = {t: d for _lv, t, d in out[8][1]}
    # Linux: ancillary extension headers replace all the sticky ones
    assert anc[IPV6_HOPOPTS][4:] == HBH2.hex()[4:] and IPV6_DSTOPTS not in anc
    assert out[13] == "EINVAL"  # a type 0 Routing header on Linux


def _kernel(code: str) -> Any:
    from tests.interop.netns_rig import kernel_json

    return kernel_json("exth", code)


@pytest.mark.root
def test_exthdr_steps_equal_the_kernels() -> None:
    kernel = _kernel("import json,socket,sys; sys.path.insert(0, '.');"
                     "from tests.test_socket_exthdrs import exthdr_run;"
                     "print(json.dumps(exthdr_run(lambda: socket.socket(socket.AF_INET6,"
                     " socket.SOCK_DGRAM), True)))")
    layer = SocketLayer(None, "linux")
    ours = exthdr_run(lambda: layer.socket(AF_INET6, SOCK_DGRAM), host=False)
    assert json.loads(json.dumps(ours)) == kernel


# --- on the wire, between two nodes --------------------------------------------

def _frames(sim: Any, node: Any, proto: int = -1) -> list[bytes]:
    return [f for _i, f in node.poll(sim.now)]


def _send_resolved(sim: Any, a: Any, s: Any, data: bytes, anc: list[Any], dst: str) -> list[bytes]:
    """Send once so ND resolves, then again and return the frames."""
    s.sendmsg([data], anc, 0, (dst, 9))
    sim.emit(a, a.poll(sim.now))
    sim.run(until=sim.now + 1)
    s.sendmsg([data], anc, 0, (dst, 9))
    return [f for _i, f in a.poll(sim.now)]


def test_headers_in_rfc8200_order_with_the_routing_header_swapped() -> None:
    sim, a, _b, la, _lb = two_nodes()  # the netbsd profile: KAME's rules
    s = la.socket(AF_INET6, SOCK_DGRAM)
    rh = bytearray(inet6_rth_space(0, 2))
    inet6_rth_init(rh, len(rh), 0, 2)
    inet6_rth_add(rh, "2001:db8::b")
    inet6_rth_add(rh, "2001:db8:1::2")
    s.setsockopt(41, IPV6_HOPOPTS, HBH)
    s.setsockopt(41, IPV6_RTHDRDSTOPTS, DST2)
    s.setsockopt(41, IPV6_RTHDR, bytes(rh))
    s.setsockopt(41, IPV6_DSTOPTS, DST)
    (f,) = _send_resolved(sim, a, s, b"routed", [], "2001:db8::99")
    pkt = f[14:]
    v = _core.ip6_validate(pkt, 50, transit=True)
    assert [h[0] for h in v.chain.headers] == [0, 60, 43, 60] and v.chain.upper == 17
    assert v.header.dst == A("2001:db8::b")  # the first hop
    _t, off, _ln = v.chain.headers[2]
    addrs = [A(pkt[off + 8 + 16 * i:off + 24 + 16 * i]) for i in range(2)]
    assert addrs == [A("2001:db8:1::2"), A("2001:db8::99")]  # the final one last
    uo = v.chain.upper_offset
    # the UDP checksum covers the final destination (RFC 8200 §8.1)
    assert _core.in6_cksum(v.header.src, A("2001:db8::99"), 17, pkt[uo:]) == 0


def test_received_headers_over_the_node() -> None:
    sim, a, _b, la, lb = two_nodes()
    r = lb.socket(AF_INET6, SOCK_DGRAM)
    r.bind(("::", 5400))
    r.setsockopt(41, IPV6_RECVHOPOPTS, 1)
    r.setsockopt(41, IPV6_RECVDSTOPTS, 1)
    s = la.socket(AF_INET6, SOCK_DGRAM)
    s.setsockopt(41, IPV6_HOPOPTS, HBH)
    s.sendmsg([b"over"], [(41, IPV6_DSTOPTS, DST)], 0, ("2001:db8::b", 5400))
    sim.emit(a, a.poll(sim.now))
    sim.run(until=sim.now + 1)
    data, anc, _fl, _addr = r.recvmsg(100, 4096)
    assert data == b"over"
    got = [(t, d) for _lv, t, d in anc]
    assert [t for t, _d in got] == [IPV6_HOPOPTS, IPV6_DSTOPTS]  # in the order they arrived
    assert got[0][1][1:] == HBH[1:] and got[0][1][0] == 60
    assert got[1][1][1:] == DST[1:] and got[1][1][0] == 17
    # a raw socket of another protocol gets them too
    raw = lb.socket(AF_INET6, SOCK_RAW, 253)
    raw.setsockopt(41, IPV6_RECVHOPOPTS, 1)
    sr = la.socket(AF_INET6, SOCK_RAW, 253)
    sr.setsockopt(41, IPV6_HOPOPTS, HBH2)
    sr.sendto(b"raw", ("2001:db8::b", 0))
    sim.emit(a, a.poll(sim.now))
    sim.run(until=sim.now + 1)
    data, anc, _fl, _addr = raw.recvmsg(100, 4096)
    assert data == b"raw" and [(t, d[2:]) for _lv, t, d in anc] == [(IPV6_HOPOPTS, HBH2[2:])]


def test_dontfrag_min_mtu_and_nexthop() -> None:
    sim, a, b, la, lb = two_nodes()
    sink = lb.socket(AF_INET6, SOCK_DGRAM)
    sink.bind(("::", 9))
    s = la.socket(AF_INET6, SOCK_DGRAM)
    s.connect(("2001:db8::b", 9))
    s.send(b"x")
    sim.emit(a, a.poll(sim.now))
    sim.run(until=sim.now + 1)
    s.setsockopt(41, IPV6_RECVPATHMTU, 1)
    s.setsockopt(41, IPV6_DONTFRAG, 1)
    with pytest.raises(OSError) as ei:
        s.send(b"y" * 1600)
    assert ei.value.errno == errno.EMSGSIZE
    _d, anc, _f, _a = s.recvmsg(10, 256)  # RFC 3542 §11.2: the MTU, told
    assert anc[0][1] == IPV6_PATHMTU and struct.unpack("=I", anc[0][2][-4:])[0] == 1500
    s.send(b"y" * 1400)
    assert len(a.poll(sim.now)) == 1  # it fits: sent whole
    s.setsockopt(41, IPV6_DONTFRAG, 0)
    s.setsockopt(41, IPV6_USE_MIN_MTU, 1)
    s.send(b"z" * 1400)
    frames = [f for _i, f in a.poll(sim.now)]
    assert len(frames) == 2 and max(len(f) - 14 for f in frames) <= 1280
    s.setsockopt(41, IPV6_USE_MIN_MTU, 0)
    s.send(b"z" * 1400)
    assert len(a.poll(sim.now)) == 1
    with pytest.raises(OSError) as ei:
        s.setsockopt(41, IPV6_USE_MIN_MTU, 2)
    assert ei.value.errno == errno.EINVAL
    # IPV6_NEXTHOP: to an off-link address through the neighbor b
    t = la.socket(AF_INET6, SOCK_DGRAM)
    with pytest.raises(OSError):
        t.sendto(b"n", ("2001:db8:9::1", 9))  # no route
    t.setsockopt(41, IPV6_NEXTHOP, struct.pack("=HHI", 10, 0, 0) + A("2001:db8::b").packed
                 + bytes(4))
    t.sendto(b"n", ("2001:db8:9::1", 9))
    (f,) = [f for _i, f in a.poll(sim.now)]
    assert f[:6] == b.ifnets["eth0"].lladdr and A(f[38:54]) == A("2001:db8:9::1")
    for bad in (struct.pack("=HHI", 10, 0, 0) + A("ff02::1").packed + bytes(4), b"\x02" * 28):
        with pytest.raises(OSError):
            t.setsockopt(41, IPV6_NEXTHOP, bad)
    # Linux has neither option; its 42 is MCAST_JOIN_GROUP, for which an
    # int is too short a group_req (the kernel's EINVAL)
    lx = SocketLayer(a, "linux").socket(AF_INET6, SOCK_DGRAM)
    for opt in (IPV6_NEXTHOP, IPV6_USE_MIN_MTU):
        with pytest.raises(OSError) as ei:
            lx.setsockopt(41, opt, struct.pack("=HHI", 10, 0, 0) + bytes(20)
                          if opt == IPV6_NEXTHOP else 1)
        assert ei.value.errno == (errno.ENOPROTOOPT if opt == IPV6_NEXTHOP else errno.EINVAL)


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark")
def test_tshark_reads_the_headers(tmp_path: Path) -> None:
    from kame.difftest import write_pcap

    sim, a, _b, la, _lb = two_nodes()
    s = la.socket(AF_INET6, SOCK_DGRAM)
    s.setsockopt(41, IPV6_HOPOPTS, HBH)
    s.setsockopt(41, IPV6_DSTOPTS, DST)
    frames = _send_resolved(sim, a, s, b"tshark", [], "2001:db8::b")
    rh = bytearray(inet6_rth_space(0, 1))
    inet6_rth_init(rh, len(rh), 0, 1)
    inet6_rth_add(rh, "2001:db8::b")
    s.setsockopt(41, IPV6_HOPOPTS, b"")
    s.setsockopt(41, IPV6_RTHDR, bytes(rh))
    s.sendto(b"routed", ("2001:db8::55", 9))
    frames += [f for _i, f in a.poll(sim.now)]
    p = tmp_path / "x.pcap"
    write_pcap(p, frames)
    r = subprocess.run(["tshark", "-r", str(p), "-o", "udp.check_checksum:TRUE", "-T", "fields",
                        "-e", "ipv6.hopopts.len_oct", "-e", "ipv6.dstopts.len_oct",
                        "-e", "ipv6.routing.type", "-e", "ipv6.routing.segleft",
                        "-e", "udp.checksum.status", "-e", "_ws.expert"],
                       capture_output=True, text=True, timeout=60, check=True)
    rows = [ln.split("\t") for ln in r.stdout.strip().splitlines()]
    # udp.checksum.status 1: good (over the final destination for the second)
    assert rows[0][:2] == ["8", "16"] and rows[0][4] == "1" and not rows[0][5], rows
    assert rows[1][2:5] == ["0", "1", "1"] and "Malformed" not in rows[1][5], rows


# --- RFC 2292 helpers -----------------------------------------------------------

def test_rfc2292_options_known_answer() -> None:
    c = inet6_option_init(IPV6_HOPOPTS)
    assert c is not None and c.data == bytearray(2)
    # a 4-octet option aligned 4n+2 (as RFC 2675's jumbo): at offset 2, no pad
    assert inet6_option_append(c, bytes([0x1E, 4]) + struct.pack("!I", 70000), 4, 2) == 0
    assert bytes(c.data) == bytes([0, 0, 0x1E, 4]) + struct.pack("!I", 70000)
    # the router alert (2 octets, 2n+0) after it: PadN… then a whole 8 octets
    assert inet6_option_append(c, bytes([5, 2, 0, 0]), 2, 0) == 0
    assert len(c.data) % 8 == 0 and c.data[1] == len(c.data) // 8 - 1
    types = []
    off = inet6_option_next(c, None)
    while off is not None:
        types.append(c.data[off])
        off = inet6_option_next(c, off)
    assert [t for t in types if t not in (0, 1)] == [0x1E, 5]
    assert inet6_option_find(c, None, 5) is not None
    assert inet6_option_find(c, None, 0x77) is None
    off = inet6_option_alloc(c, 3, 1, 0)
    assert off > 0
    c.data[off:off + 5] = bytes([0x3E, 3]) + b"abc"
    assert inet6_option_find(c, None, 0x3E) == off
    assert inet6_option_space(6) == socket.CMSG_SPACE(8)
    for bad in ((3, 0), (4, 9), (0, 0)):
        assert inet6_option_append(c, bytes([0x1E, 0]), *bad) == -1
    assert inet6_option_init(IPV6_RTHDR) is None
    # it goes to sendmsg as it is, and the core reads the header
    hdr = bytes(c.data)
    hdr = bytes([17]) + hdr[1:]
    assert _core.ip6_validate(
        _core.Ipv6Header("::1", "::1", next_header=0, payload_len=len(hdr) + 8).to_bytes()
        + hdr + _core.UdpHeader(1, 2, b"").to_bytes("::1", "::1"), 50).chain.upper == 17


def test_rfc2292_routing_header() -> None:
    c = Cmsg(41, IPV6_RTHDR, bytearray(8))
    assert inet6_rthdr_space(0, 1) == socket.CMSG_SPACE(24)
    assert inet6_rthdr_space(0, 24) == 0 and inet6_rthdr_space(2, 1) == 0
    hops = [f"2001:db8::{i}" for i in range(1, 4)]
    for h in hops:
        assert inet6_rthdr_add(c, h, IPV6_RTHDR_LOOSE) == 0
    assert inet6_rthdr_add(c, "2001:db8::9", IPV6_RTHDR_STRICT) == -1  # the seed: no bitmap
    assert inet6_rthdr_add(c, "ff02::1", IPV6_RTHDR_LOOSE) == -1
    assert inet6_rthdr_lasthop(c, IPV6_RTHDR_LOOSE) == 0
    assert inet6_rthdr_lasthop(c, IPV6_RTHDR_STRICT) == -1
    assert inet6_rthdr_segments(c) == 3
    assert [inet6_rthdr_getaddr(c, i) for i in (1, 2, 3)] == [A(h) for h in hops]
    assert inet6_rthdr_getaddr(c, 0) is None and inet6_rthdr_getaddr(c, 4) is None
    assert [inet6_rthdr_getflags(c, i) for i in range(4)] == [IPV6_RTHDR_LOOSE] * 4
    assert inet6_rthdr_getflags(c, 5) == -1
    # the same bytes as RFC 3542's inet6_rth_* build
    rh = bytearray(inet6_rth_space(0, 3))
    inet6_rth_init(rh, len(rh), 0, 3)
    for h in hops:
        inet6_rth_add(rh, h)
    assert bytes(c.data) == bytes(rh)
    out = Cmsg(41, IPV6_RTHDR, bytearray())
    assert inet6_rthdr_reverse(c, out) == 0
    assert [inet6_rthdr_getaddr(out, i) for i in (1, 2, 3)] == [A(h) for h in reversed(hops)]
    full = Cmsg(41, IPV6_RTHDR, bytearray(8))
    assert all(inet6_rthdr_add(full, f"2001:db8::{i}", 0) == 0 for i in range(1, 24))
    assert inet6_rthdr_add(full, "2001:db8::99", 0) == -1  # 23 at most


@given(st.binary(max_size=64))
def test_rfc2292_readers_on_garbage(buf: bytes) -> None:
    for typ in (IPV6_HOPOPTS, IPV6_RTHDR):
        c = Cmsg(41, typ, bytearray(buf))
        off = inet6_option_next(c, None)
        seen = 0
        while off is not None and seen < 100:
            assert 2 <= off < len(buf)
            off = inet6_option_next(c, off)
            seen += 1
        assert seen < 100
        n = inet6_rthdr_segments(c)
        assert n == -1 or 8 + 16 * n <= len(buf)
        assert inet6_rthdr_reverse(c, Cmsg(41, typ, bytearray())) in (0, -1)


@given(st.binary(max_size=200))
def test_pktoptions_buffers_parse_or_einval(buf: bytes) -> None:
    try:
        items = parse_cmsgs(buf)
    except OSError as e:
        assert e.errno in (errno.EINVAL, errno.ENOBUFS)
        return
    assert pack_cmsgs(items) == buf[:len(pack_cmsgs(items))]


@given(st.binary(max_size=64), st.sampled_from([IPV6_HOPOPTS, IPV6_DSTOPTS, IPV6_RTHDR,
                                                 IPV6_RTHDRDSTOPTS]),
       st.sampled_from(["linux", "netbsd"]))
def test_sticky_headers_take_or_refuse_any_bytes(buf: bytes, opt: int, prof: str) -> None:
    s = SocketLayer(None, prof).socket(AF_INET6, SOCK_DGRAM)
    try:
        s.setsockopt(41, opt, buf)
    except OSError as e:
        assert e.errno == errno.EINVAL
        return
    got = s.getsockopt(41, opt, 2048)
    assert got == b"" if not buf else (len(got) == (got[1] + 1) * 8 and buf.startswith(got))


def test_kame_ancillary_replaces_the_sticky_header_of_its_type_only() -> None:
    layer = SocketLayer(None, "netbsd")  # KAME, RFC 3542 §6.1
    r, s = layer.socket(AF_INET6, SOCK_DGRAM), layer.socket(AF_INET6, SOCK_DGRAM)
    r.bind(("::1", 7000))
    r.setsockopt(41, IPV6_RECVHOPOPTS, 1)
    r.setsockopt(41, IPV6_RECVDSTOPTS, 1)
    s.setsockopt(41, IPV6_HOPOPTS, HBH)
    s.setsockopt(41, IPV6_DSTOPTS, DST)
    s.sendmsg([b"x"], [(41, IPV6_HOPOPTS, HBH2)], 0, ("::1", 7000))
    _d, anc, _f, _a = r.recvmsg(10, 1024)
    assert [(t, d[2:]) for _lv, t, d in anc] == [(IPV6_HOPOPTS, HBH2[2:]),
                                                 (IPV6_DSTOPTS, DST[2:])]
    # KAME is strict about the length (Linux takes a longer buffer)
    with pytest.raises(OSError) as ei:
        s.setsockopt(41, IPV6_HOPOPTS, HBH + bytes(8))
    assert ei.value.errno == errno.EINVAL


def test_rfc2292_switches_deliver_under_their_types() -> None:
    layer = SocketLayer(None, "netbsd")
    r, s = layer.socket(AF_INET6, SOCK_DGRAM), layer.socket(AF_INET6, SOCK_DGRAM)
    r.bind(("::1", 7000))
    r.setsockopt(41, IPV6_2292HOPOPTS, 1)
    r.setsockopt(41, IPV6_2292DSTOPTS, 1)
    s.sendmsg([b"x"], [(41, IPV6_HOPOPTS, HBH), (41, IPV6_DSTOPTS, DST)], 0, ("::1", 7000))
    _d, anc, _f, _a = r.recvmsg(10, 1024)
    assert [t for _lv, t, _d in anc] == [IPV6_2292HOPOPTS, IPV6_2292DSTOPTS]
    assert r.getsockopt(41, IPV6_2292PKTOPTIONS) == b""


def test_tcp_segments_carry_the_sticky_headers() -> None:
    """RFC 3542 §6: sticky headers on a stream socket go on its segments
    (an accepted socket has its listener's), the MSS leaves room for them,
    and the transfer is byte-exact both ways."""
    from tests.test_tcp import B, Pair, pump

    from kame.socket.stream import SOCK_STREAM

    p = Pair()
    sent: dict[str, list[bytes]] = {"a": [], "b": []}
    emit = p.sim.emit

    def record(node: Any, frames: Any) -> Any:
        frames = list(frames)
        sent["a" if node is p.a else "b"].extend(f for _i, f in frames)
        return emit(node, frames)

    p.sim.emit = record  # type: ignore[method-assign]
    srv = p.lb.socket(AF_INET6, SOCK_STREAM)
    srv.setsockopt(41, IPV6_HOPOPTS, HBH)
    srv.bind(("::", 80))
    srv.listen(8)
    cli = p.la.socket(AF_INET6, SOCK_STREAM)
    cli.setsockopt(41, IPV6_DSTOPTS, DST)
    with pytest.raises(BlockingIOError):
        cli.connect((B, 80))
    conn = None
    for _ in range(200):
        p.run(0.05)
        try:
            conn, _ = srv.accept()
            break
        except BlockingIOError:
            continue
    assert conn is not None
    assert conn.getsockopt(41, IPV6_HOPOPTS, 256) == HBH  # inherited from the listener
    data = bytes(range(256)) * 400
    assert pump(p, cli, conn, data) == data
    back = bytes(reversed(data))
    assert pump(p, conn, cli, back) == back

    def chains(frames: list[bytes]) -> list[tuple[list[int], int]]:
        out = []
        for f in frames:
            if f[12:14] != b"\x86\xdd":
                continue
            v = _core.ip6_validate(f[14:], 50, transit=True)
            if v.chain.upper == 6:
                out.append(([h[0] for h in v.chain.headers], len(f) - 14))
        return out

    ours, theirs = chains(sent["a"]), chains(sent["b"])
    assert ours and all(c == [60] for c, _n in ours), ours[:3]
    assert all(n <= 1500 for _c, n in ours + theirs)
    assert max(n for _c, n in ours) > 1400  # full-sized segments, headers included
    # the listener's, on every segment of its connection, the SYN,ACK from
    # the SYN cache in the core included
    assert theirs and all(c == [0] for c, _n in theirs), [
        (i, t) for i, t in enumerate(theirs) if t[0] != [0]]
