"""Linux's ``IPV6_MTU`` and the rest of the path MTU and error-queue rows
of the Linux profile, against the kernel's own sockets in a namespace with
a veth (the harness of :mod:`tests.test_socket_ipopts`: every errno,
value, control message and what leaves on the veth equal).

``IPV6_MTU`` (``np->frag_size``): ``setsockopt`` takes 0 or at least 1280
(``EINVAL`` below; fewer octets than an int ``EINVAL``) on AF_INET6 UDP,
TCP and raw sockets; a datagram is refused past the smaller of it and the
MTU it goes by under DO/PROBE/INTERFACE (``ip6_setup_cork``) and, past
that MTU, cut into fragments of it (``ip6_fragment``); ``getsockopt`` gives
the MTU of the socket's route (``ENOTCONN`` without one). TCP neither
offers nor sends by it.

The error queue: ``::1``'s Port Unreachable is queued as the kernel's
loopback queues it, and ``recvmsg(MSG_ERRQUEUE)`` gives the receive items
the socket asked for about the ICMP message before the extended error.

``IPV6_MTU_DISCOVER``'s interface-MTU sizing holds for a datagram waiting
for neighbor discovery (kernel rows) and one sent through ESP (two nodes);
a Packet Too Big that a socket of INTERFACE or OMIT ignores lowers no path
MTU, so its TCP segments stay full and others' datagrams whole; so does an
IPv4 Fragmentation Needed to a UDP socket of those ``IP_MTU_DISCOVER``
modes (``ipv4_sk_update_pmtu``)."""

from __future__ import annotations

import errno
import json
import socket
import struct
from typing import Any

import pytest
from tests.test_socket_ipopts import (
    ERR_SETUP,
    EXP,
    IP_RECVERR,
    IPV6_RECVERR,
    KINDS,
    ME4,
    ME6,
    PEER6,
    PEER_MAC,
    PMTU6_SETUP,
    PMTU_DST,
    ROUTER6,
    SOCK_STREAM,
    _diff,
    _errq,
    _frag6,
    _icmp4,
    _icmp6,
    _kernel,
    _try,
    _wire6_host,
    kame_recverr,
)

from kame.socket import AF_INET, AF_INET6, SOCK_DGRAM, SOCK_RAW

IPV6_MTU_DISCOVER, IPV6_MTU = 23, 24
#: a neighbor on the 1500-octet link with no smaller path MTU
PEER8 = "2001:db8:9::8"
MTU_SETUP = PMTU6_SETUP + (
    f"ip -6 neigh add {PEER8} lladdr {PEER_MAC} dev d0 nud permanent",)
MTU_SIZES = (1281, 1400, 1401, 3000)


def ipv6_mtu_run(make: Any, ifi: int, wire: Any = None) -> list[Any]:
    """``IPV6_MTU``'s values on each kind of socket, unconnected and
    connected; then UDP and raw datagrams of each ``IPV6_MTU_DISCOVER``
    mode and ``IPV6_MTU`` value to a peer 1300 octets away and one on the
    1500-octet link: the errno, the local error, the packets on the wire."""
    if wire is None:
        wire = _wire6_host()
    me6 = socket.inet_pton(socket.AF_INET6, ME6)

    def sent6() -> list[Any]:
        return [_frag6(p) for p in wire() if p[8:24] == me6 and p[6] in (17, 44, EXP)]

    out: list[Any] = []
    for fam, typ, proto in KINDS:
        s = make(fam, typ, proto)
        k = [fam, typ]
        out.append(k + ["get", _try(lambda s=s: s.getsockopt(41, IPV6_MTU)),
                        _try(lambda s=s: s.getsockopt(41, IPV6_MTU, 2))])
        for v in (-1, 0, 1, 1279, 1280, 1400, 65535, 65536, 1 << 20, b"", b"\x01",
                  b"\x00\x05\x00", struct.pack("=ii", 1300, 9)):
            out.append(k + ["set", v.hex() if isinstance(v, bytes) else v,
                            _try(lambda s=s, v=v: s.setsockopt(41, IPV6_MTU, v)),
                            _try(lambda s=s: s.getsockopt(41, IPV6_MTU))])
        s.close()
    # the route's MTU once connected
    for typ, proto in ((SOCK_DGRAM, 0), (SOCK_RAW, EXP)):
        for dst in ("::1", PEER6, PEER8, "ff02::1%d0", "ff1e::7", "::ffff:127.0.0.1"):
            s = make(AF_INET6, typ, proto)
            if dst.startswith("ff"):
                s.setsockopt(41, socket.IPV6_MULTICAST_IF, ifi)
            s.setsockopt(41, IPV6_MTU, 1280)
            out.append([typ, "conn", dst, _try(lambda s=s, d=dst: s.connect((d, 9))),
                        _try(lambda s=s: s.getsockopt(41, IPV6_MTU)),
                        _try(lambda s=s: s.getsockopt(41, IPV6_MTU, 1))])
            s.close()
    wire()
    for typ, proto in ((SOCK_DGRAM, 0), (SOCK_RAW, EXP)):
        hdr = 48 if typ == SOCK_DGRAM else 40
        for mode in (1, 2, 3, 5):
            for frag in (0, 1280, 1400):
                s = make(AF_INET6, typ, proto)
                s.setsockopt(41, IPV6_MTU_DISCOVER, mode)
                s.setsockopt(41, IPV6_MTU, frag)
                s.setsockopt(41, IPV6_RECVERR, 1)
                for dst in (PEER6, PEER8):
                    for n in MTU_SIZES:
                        err = _try(lambda s=s, n=n, h=hdr, d=dst: s.sendto(
                            bytes(n - h), (d, 9 if h == 48 else 0)))
                        q = _errq(s)
                        out.append([typ, "send", mode, frag, dst, n, err, sent6(),
                                    q if isinstance(q, str) else q[1]])
                s.close()
    # IPV6_DONTFRAG: refused past the smaller size, IPV6_RECVPATHMTU's
    # notice carrying it (ipv6_local_rxpmtu)
    for frag in (0, 1280, 1400):
        for dst in (PEER6, PEER8):
            s = make(AF_INET6, SOCK_DGRAM, 0)
            s.setsockopt(41, socket.IPV6_DONTFRAG, 1)
            s.setsockopt(41, socket.IPV6_RECVPATHMTU, 1)
            s.setsockopt(41, IPV6_MTU, frag)
            s.bind((ME6, 0))
            err = _try(lambda s=s, d=dst: s.sendto(bytes(1400 - 48), (d, 9)))
            try:
                data, anc, _fl, addr = s.recvmsg(100, 256, socket.MSG_DONTWAIT)
                got: Any = [data.hex(), [[lv, t, d.hex()] for lv, t, d in anc], list(addr)]
            except OSError as e:
                got = errno.errorcode[e.errno or 0]
            out.append(["dontfrag", frag, dst, err, sent6(), got])
            s.close()
    # TCP: the route's MTU, and the MSS a SYN offers, by IPV6_MTU_DISCOVER
    # and IPV6_MTU
    lst = make(AF_INET6, SOCK_STREAM, 0)
    lst.bind(("::1", 7700))
    lst.listen(4)
    c = make(AF_INET6, SOCK_STREAM, 0)
    out.append(["tcp lo", _try(lambda: c.connect(("::1", 7700))),
                _try(lambda: c.getsockopt(41, IPV6_MTU))])
    a, _ = lst.accept()
    out.append(["tcp accepted", _try(lambda: a.getsockopt(41, IPV6_MTU))])
    for x in (a, c, lst):
        x.close()
    wire()
    for mode in (None, 1, 2, 4, 5):
        for frag in (0, 1280):
            for dst in (PEER6, PEER8):
                t = make(AF_INET6, SOCK_STREAM, 0)
                if mode is not None:
                    t.setsockopt(41, IPV6_MTU_DISCOVER, mode)
                t.setsockopt(41, IPV6_MTU, frag)
                if hasattr(t, "setblocking"):  # ours never blocks
                    t.setblocking(False)
                got = _try(lambda t=t, d=dst: t.connect_ex((d, 9)))
                syns = [p for p in wire() if p[6] == 6]
                out.append(["tcp", mode, frag, dst, got,
                            _try(lambda t=t: t.getsockopt(41, IPV6_MTU)),
                            [_syn_mss(p) for p in syns[:1]]])
                t.close()
    return out


def _syn_mss(p: bytes) -> int:
    """The MSS option of a TCP segment in an IPv6 packet (0: none)."""
    tcp = p[40:]
    opts, i = tcp[20:(tcp[12] >> 4) * 4], 0
    while i < len(opts) and opts[i] != 0:
        if opts[i] == 1:
            i += 1
            continue
        if opts[i] == 2:
            return int(struct.unpack("!H", opts[i + 2:i + 4])[0])
        i += max(opts[i + 1], 2)
    return 0


def _ours_mtu() -> tuple[Any, Any, Any]:
    from ipaddress import IPv6Address
    layer, _read, _inject = kame_recverr()
    node = layer.node
    assert node is not None
    assert node.pmtu_update(IPv6Address(PEER6), 1300, node._now)
    mac = bytes.fromhex(PEER_MAC.replace(":", ""))

    def inject(pkt: bytes) -> None:
        """What ``d1`` sends ``d0``; what the node sends back stays on the wire."""
        et = b"\x86\xdd" if pkt[0] >> 4 == 6 else b"\x08\x00"
        lladdr = node.ifnets["d0"].lladdr
        frames = node.receive("d0", lladdr + mac + et + pkt, node._now)  # swaps node._out
        node._out.extend(frames)
    node.cache.set_permanent("d0", IPv6Address(PEER8), bytes.fromhex(PEER_MAC.replace(":", "")))

    def wire(et: int = 0x86DD) -> list[bytes]:
        want = et.to_bytes(2, "big")
        got = [bytes(f)[14:] for ifn, f in node._out if ifn == "d0" and bytes(f)[12:14] == want]
        node._out.clear()
        return got
    return layer, wire, inject


def _ours_ipv6_mtu() -> Any:
    layer, wire, _inject = _ours_mtu()
    return json.loads(json.dumps(ipv6_mtu_run(lambda f, t, p: layer.socket(f, t, p),
                                              layer.ifindex("d0"), wire)))


@pytest.mark.root
def test_ipv6_mtu_equals_the_kernels() -> None:
    ours = _ours_ipv6_mtu()
    kernel = _kernel("ipv6_mtu_run", veth=True, extra=MTU_SETUP,
                     module="tests.test_socket_ipv6mtu")
    assert ours == kernel, _diff(ours, kernel)


__all__ = ["AF_INET", "SOCK_STREAM"]


# --- the ICMP error queue: ::1's Port Unreachable, the ICMP message's items ---
#
# ``ip_recv_error``/``ipv6_recv_error`` give, before the extended error, the
# receive items the socket asked for about the ICMP message itself
# (``ipv4_datagram_support_cmsg``: ICMP origins only; ``ip_cmsg_recv``,
# ``ip6_datagram_recv_common_ctl``/``_specific_ctl``).

IP_PKTINFO, IP_RECVTTL, IP_RECVTOS = 8, 12, 13
#: IPV6_RECVPKTINFO, _RECVHOPLIMIT, _RECVTCLASS, RFC 2292's PKTINFO and
#: HOPLIMIT, IPV6_RECVRTHDR (no routing header: no item)
V6_RX = tuple((41, o) for o in (socket.IPV6_RECVPKTINFO, socket.IPV6_RECVHOPLIMIT,
                                socket.IPV6_RECVTCLASS, 2, 8, socket.IPV6_RECVRTHDR))
V4_RX = tuple((0, o) for o in (IP_PKTINFO, IP_RECVTTL, IP_RECVTOS))
ERRQ_SETUP = ERR_SETUP + ("ip route add 10.9.8.0/24 via 10.9.9.2 dev d0",)


def _tos(pkt: bytes, tos: int, ttl: int) -> bytes:
    """An IPv4 packet with another TOS and TTL (its checksum redone)."""
    b = bytearray(pkt)
    b[1], b[8], b[10:12] = tos, ttl, b"\0\0"
    hl = (b[0] & 15) * 4
    c = sum(struct.unpack(f"!{hl // 2}H", bytes(b[:hl])))
    while c >> 16:
        c = (c & 0xFFFF) + (c >> 16)
    b[10:12] = struct.pack("!H", ~c & 0xFFFF)
    return bytes(b)


def _tclass(pkt: bytes, tclass: int, hlim: int) -> bytes:
    b = bytearray(pkt)
    b[0:4] = struct.pack("!I", 0x60000000 | tclass << 20 | 0x12345)
    b[7] = hlim
    return bytes(b)


def errq_ctl_run(make: Any, ifi: int, wire: Any = None, inject: Any = None) -> list[Any]:
    """Port Unreachable from ``::1``, ``127.0.0.1`` and the wire to UDP
    and raw sockets with ``IPV6_RECVERR``/``IP_RECVERR`` and each set of
    receive options on: what ``recvmsg(MSG_ERRQUEUE)`` and ``SO_ERROR``
    give."""
    if inject is None:
        from tests.test_socket_ipopts import _err_io
        w4, inject = _err_io()
        w6 = _wire6_host()
        wire = lambda et=0x86DD: w6() if et == 0x86DD else w4()
    so_error = socket.SO_ERROR
    out: list[Any] = []
    sets6: tuple[tuple[tuple[int, int], ...], ...] = ((), (V6_RX[0],), (V6_RX[1],), (V6_RX[2],),
                                          (V6_RX[3], V6_RX[4]), (V6_RX[5],), V6_RX)
    # the loopback: ::1, unconnected and connected
    for i, opts in enumerate(sets6):
        for conn in (False, True):
            s = make(AF_INET6, SOCK_DGRAM, 0)
            s.setsockopt(41, IPV6_RECVERR, 1)
            for lv, o in opts:
                s.setsockopt(lv, o, 1)
            to = ME6 if i == 1 else "::1"
            s.bind((to, 7620 + 2 * i + conn))
            if conn:
                s.connect((to, 7690))
            sent = [_try(lambda s=s, n=n, t=to: s.sendto(b"to nobody %d" % n, (t, 7690)))
                    for n in range(2)]
            out.append(["lo6", opts, conn, sent, _errq(s), _try(lambda s=s: s.getsockopt(
                1, so_error)), _errq(s), _errq(s)])
            s.close()
    # ::1 with IPV6_RECVERR off: the pending error of a connected socket only
    for conn in (False, True):
        s = make(AF_INET6, SOCK_DGRAM, 0)
        s.bind(("::1", 7640 + conn))
        if conn:
            s.connect(("::1", 7690))
        out.append(["lo6 off", conn, _try(lambda s=s: s.sendto(b"x", ("::1", 7690))),
                    _try(lambda s=s: s.getsockopt(1, so_error)), _errq(s)])
        s.close()
    # a long datagram to ::1: how much of it comes back
    s = make(AF_INET6, SOCK_DGRAM, 0)
    s.setsockopt(41, IPV6_RECVERR, 1)
    s.bind(("::1", 7645))
    s.sendto(bytes(range(256)) * 8, ("::1", 7690))
    q = _errq(s)
    out.append(["lo6 long", q if isinstance(q, str) else [len(q[0]) // 2, q[1:]]])
    s.close()
    # IPv4 (and mapped) from 127.0.0.1
    for fam, opts in ((AF_INET, ()), (AF_INET, V4_RX), (AF_INET, V4_RX[:1]),
                      (AF_INET6, V4_RX), (AF_INET6, V6_RX[:2]), (AF_INET, V4_RX[1:]),
                      (AF_INET6, V4_RX[1:] + V6_RX), (AF_INET, ((0, 20),)),
                      (AF_INET6, ((0, 20),))):
        s = make(fam, SOCK_DGRAM, 0)
        s.setsockopt(0, IP_RECVERR, 1)
        for lv, o in opts:
            s.setsockopt(lv, o, 1)
        dst = ("127.0.0.1" if len(opts) != 2 else ME4) if fam == AF_INET else \
            "::ffff:127.0.0.1"
        _try(lambda s=s, d=dst: s.sendto(b"to nobody", (d, 7690)))
        out.append(["lo4", fam, opts, _errq(s)])
        s.close()
    # the wire: a Port Unreachable with a TOS or traffic class, a TTL or hop
    # limit of its own
    wire(0x0800)
    for fam, opts in ((AF_INET, ()), (AF_INET, V4_RX), (AF_INET6, V4_RX), (AF_INET, ((0, 20),)),
                      (AF_INET6, (V6_RX[0], V6_RX[1], V6_RX[2]))):
        s = make(fam, SOCK_DGRAM, 0)
        s.setsockopt(0, IP_RECVERR, 1)
        for lv, o in opts:
            s.setsockopt(lv, o, 1)
        dst = PMTU_DST if fam == AF_INET else "::ffff:" + PMTU_DST
        _try(lambda s=s, d=dst: s.sendto(b"a datagram to be refused", (d, 9)))
        pkts = [p for p in wire(0x0800) if p[9] == 17]
        if pkts:
            pkt = pkts[0][:8] + b"\x40" + pkts[0][9:]
            inject(_tos(_icmp4(PMTU_DST, 3, 3, 0, pkt), 0x28, 17))
        out.append(["wire4", fam, opts, len(pkts), _errq(s)])
        s.close()
    wire(0x86DD)
    for typ, proto, opts in ((SOCK_DGRAM, 0, sets6[0]), (SOCK_DGRAM, 0, V6_RX),
                             (SOCK_DGRAM, 0, (V6_RX[0],)), (SOCK_RAW, EXP, V6_RX)):
        s = make(AF_INET6, typ, proto)
        s.setsockopt(41, IPV6_RECVERR, 1)
        for lv, o in opts:
            s.setsockopt(lv, o, 1)
        _try(lambda s=s, t=typ: s.sendto(b"a datagram to be refused",
                                         (PEER6, 9 if t == SOCK_DGRAM else 0)))
        pkts = [p for p in wire(0x86DD) if p[6] in (17, EXP)]
        if pkts:
            pkt = pkts[0][:7] + b"\x40" + pkts[0][8:]
            inject(_tclass(_icmp6(ROUTER6, 1, 3 if typ == SOCK_RAW else 4, 0, pkt), 0x28, 17))
        out.append(["wire6", typ, opts, len(pkts), _errq(s)])
        s.close()
    r = make(AF_INET, SOCK_RAW, EXP)
    r.setsockopt(0, IP_RECVERR, 1)
    for lv, o in V4_RX:
        r.setsockopt(lv, o, 1)
    r.sendto(b"raw datagram", (PMTU_DST, 0))
    pkts = [p for p in wire(0x0800) if p[9] == EXP]
    if pkts:
        inject(_tos(_icmp4("10.9.9.2", 3, 1, 0, pkts[0][:8] + b"\x40" + pkts[0][9:]), 0x10, 9))
    out.append(["raw4", len(pkts), _errq(r)])
    r.close()
    return out


def _ours_errq_ctl() -> Any:
    layer, wire, inject = _ours_mtu()
    return json.loads(json.dumps(errq_ctl_run(lambda f, t, p: layer.socket(f, t, p),
                                              layer.ifindex("d0"), wire, inject)))


@pytest.mark.root
def test_error_queue_items_equal_the_kernels() -> None:
    ours = _ours_errq_ctl()
    kernel = _kernel("errq_ctl_run", veth=True, extra=ERRQ_SETUP,
                     module="tests.test_socket_ipv6mtu")
    assert ours == kernel, _diff(ours, kernel)


# --- IPV6_MTU_DISCOVER's interface-MTU sizing across neighbor discovery -------
#
# A datagram to a neighbor not yet resolved waits for the Neighbor
# Advertisement; what then leaves is sized as it would have been at once:
# PROBE (and INTERFACE, OMIT) by the link's 1500, DONT/WANT by the route's
# 1300, IPV6_MTU's smaller size kept.

HOLD_PEERS = ("2001:db8:9::11", "2001:db8:9::12", "2001:db8:9::13", "2001:db8:9::14",
              "2001:db8:9::15")
HOLD_SETUP = MTU_SETUP + tuple(f"ip -6 route add {a}/128 dev d0 mtu 1300" for a in HOLD_PEERS)


def _na(target: str) -> bytes:
    """A solicited Neighbor Advertisement from ``target`` to ``ME6`` with
    :data:`PEER_MAC` as its link-layer address."""
    tgt = socket.inet_pton(socket.AF_INET6, target)
    opt = b"\x02\x01" + bytes.fromhex(PEER_MAC.replace(":", ""))
    p = bytearray(_icmp6(target, 136, 0, 0x60000000, tgt + opt))
    p[7] = 255
    return bytes(p)


def hold_run(make: Any, ifi: int, wire: Any = None, inject: Any = None) -> list[Any]:
    """UDP datagrams of each ``IPV6_MTU_DISCOVER`` mode (and one with
    ``IPV6_MTU``) to a neighbor being resolved, 1300 octets away on the
    1500-octet link: the errno at once, the Neighbor Solicitation, and
    the packets that leave once the advertisement comes."""
    if inject is None:
        from tests.test_socket_ipopts import _err_io
        _w4, inject = _err_io()
        wire = _wire6_host()
    me6 = socket.inet_pton(socket.AF_INET6, ME6)
    out: list[Any] = []
    wire()
    for peer, (mode, frag) in zip(HOLD_PEERS, ((1, 0), (3, 0), (5, 0), (4, 0), (3, 1280)),
                                  strict=True):
        s = make(AF_INET6, SOCK_DGRAM, 0)
        s.setsockopt(41, IPV6_MTU_DISCOVER, mode)
        s.setsockopt(41, IPV6_MTU, frag)
        got = [_try(lambda s=s, n=n, p=peer: s.sendto(bytes(n - 48), (p, 9)))
               for n in (1400, 3000)]
        first = wire()
        ns = [p[40] for p in first if p[6] == 58]
        inject(_na(peer))
        sent = [_frag6(p) for p in first + wire() if p[8:24] == me6 and p[6] in (17, 44)]
        out.append(["hold", mode, frag, got, ns[:1], sent])
        s.close()
    return out


def _ours_hold() -> Any:
    from ipaddress import IPv6Address
    layer, wire, inject = _ours_mtu()
    node = layer.node
    assert node is not None
    for a in HOLD_PEERS:
        assert node.pmtu_update(IPv6Address(a), 1300, node._now)
    # the hold queue is the node's: KAME keeps one packet, Linux's
    # neigh.default.unres_qlen 101
    node.knobs["net.inet6.icmp6.nd6_maxqueuelen"] = 101
    return json.loads(json.dumps(hold_run(lambda f, t, p: layer.socket(f, t, p),
                                          layer.ifindex("d0"), wire, inject)))


@pytest.mark.root
def test_held_datagrams_are_sized_as_the_kernels() -> None:
    ours = _ours_hold()
    kernel = _kernel("hold_run", veth=True, extra=HOLD_SETUP, module="tests.test_socket_ipv6mtu")
    assert ours == kernel, _diff(ours, kernel)


# --- memory links: IPV6_MTU and the interface-MTU sizing between two nodes ----


def _udp6_frames(frames: list[bytes], since: int, mac: bytes) -> list[list[int]]:
    """(length, a Fragment header, M, offset) of the IPv6 frames ``mac`` sent."""
    return [_frag6(f[14:]) for f in frames[since:] if f[6:12] == mac and
            f[12:14] == b"\x86\xdd" and f[20] in (17, 44, 50)]


def test_ipv6_mtu_fragments_between_two_nodes() -> None:
    from tests.test_key_node import HB, MA, pair

    from kame.socket import SocketLayer
    frames: list[bytes] = []
    sim, a, b = pair(frames)
    la, lb = SocketLayer(a, "linux"), SocketLayer(b, "linux")
    srv = lb.socket(AF_INET6, SOCK_DGRAM, 0)
    srv.bind(("::", 9))
    cli = la.socket(AF_INET6, SOCK_DGRAM, 0)
    assert _try(lambda: cli.getsockopt(41, IPV6_MTU)) == "ENOTCONN"
    assert _try(lambda: cli.setsockopt(41, IPV6_MTU, 1279)) == "EINVAL"
    cli.setsockopt(41, IPV6_MTU, 1280)
    cli.connect((str(HB), 9))
    assert cli.getsockopt(41, IPV6_MTU) == 1500  # the route's, not frag_size
    got = []
    for n in (1400, 3000):
        since = len(frames)
        data = (bytes(range(256)) * 12)[:n - 48]
        assert cli.send(data) == n - 48
        sim.emit(a, a.poll(sim.now))
        sim.run(until=sim.now + 1.0)
        got.append(_udp6_frames(frames, since, MA))
        assert srv.recv(4000) == data  # reassembled
    # within the link's MTU whole (frag_size does not cut it), past it in
    # fragments of 1280 (ip6_fragment)
    assert got[0] == [[1400, 0, 0, 0]]
    assert got[1] == [[1280, 1, 1, 0], [1280, 1, 1, 154], [544, 1, 0, 308]]


@pytest.mark.parametrize("mode", [1, 3, 5])
def test_interface_mtu_sizing_survives_neighbor_discovery_and_esp(mode: int) -> None:
    """A datagram held for neighbor discovery and sent through ESP transport
    mode is sized as it would have been at once: PROBE (3) and OMIT (5) by
    the link's 1500, WANT (1) by the 1300-octet path MTU."""
    from ipaddress import IPv6Address

    from tests.test_key_node import HB, MA, transport_pair

    from kame.socket import SocketLayer
    frames: list[bytes] = []
    sim, a, b = transport_pair(frames)
    assert not any(ln.addr == HB for ln in a.cache)  # to be resolved
    assert a.pmtu_update(IPv6Address(HB), 1300, sim.now)
    la, lb = SocketLayer(a, "linux"), SocketLayer(b, "linux")
    srv = lb.socket(AF_INET6, SOCK_DGRAM, 0)
    srv.bind(("::", 9))
    cli = la.socket(AF_INET6, SOCK_DGRAM, 0)
    cli.setsockopt(41, IPV6_MTU_DISCOVER, mode)
    since = len(frames)
    assert cli.sendto(b"k" * 1352, (str(HB), 9)) == 1352  # 1400 octets before ESP
    sim.emit(a, a.poll(sim.now))
    sim.run(until=sim.now + 2.0)
    sent = _udp6_frames(frames, since, MA)
    assert a.key.stats["out_success"] == 1
    if mode == 1:
        assert len(sent) == 2 and sent[0][:2] == [1296, 1]  # ESP, fragmented at 1300
    else:
        assert len(sent) == 1 and 1400 < sent[0][0] <= 1500 and sent[0][1] == 0
    assert srv.recv(2000) == b"k" * 1352


# --- TCP and Packet Too Big by IPV6_MTU_DISCOVER -------------------------------
#
# A connection to a peer on the 1500-octet link, the peer written on the
# veth: its SYN,ACK offers an MSS of 1440; four kilobytes go out; a Packet
# Too Big of 1280 quotes the first segment. DONT/WANT/DO/PROBE take it
# (``tcp_v6_mtu_reduced``: the segment size falls to 1220 and what is
# unacknowledged goes again), INTERFACE and OMIT do not
# (``ip6_sk_accept_pmtu``).


#: a peer for each mode (a Packet Too Big lowers the path MTU the next
#: connection to the same peer would start from)
TCP_PEERS = tuple(f"2001:db8:9::2{i}" for i in range(7))
UDP_PEERS = tuple(f"2001:db8:9::3{i}" for i in range(4))
TCP_SETUP = MTU_SETUP + ("ip link set d0 gso_max_segs 1",) + tuple(
    f"ip -6 neigh add {a} lladdr {PEER_MAC} dev d0 nud permanent"
    for a in TCP_PEERS + UDP_PEERS)


def _tcp6(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int,
          opts: bytes = b"", data: bytes = b"") -> bytes:
    from ipaddress import IPv6Address

    from kame import _core
    hdr = bytearray(struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (20 + len(opts)) // 4 << 4,
                                flags, 65535, 0, 0) + opts + data)
    hdr[16:18] = struct.pack("!H", _core.in6_cksum(IPv6Address(src), IPv6Address(dst), 6,
                                                   bytes(hdr)))
    return struct.pack("!IHBB", 0x60000000, len(hdr), 6, 64) + \
        socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) + \
        bytes(hdr)


def _segs(pkts: list[bytes], sport: int) -> list[int]:
    """The payload lengths of the TCP segments ``ME6`` sent from ``sport``
    (another connection's retransmissions left out)."""
    me6 = socket.inet_pton(socket.AF_INET6, ME6)
    return [len(p) - 40 - (p[52] >> 4) * 4 for p in pkts if p[6] == 6 and p[8:24] == me6
            and p[40:42] == struct.pack("!H", sport)]


def tcp_ptb_run(make: Any, ifi: int, wire: Any = None, inject: Any = None) -> list[Any]:
    """For each ``IPV6_MTU_DISCOVER`` mode, a connection to a peer of its
    own: the segments of two full ones' worth; after a Packet Too Big of
    1280 about the first, what goes again (its largest segment and its
    octets: Linux cuts each queued segment, the BSD stack resends the
    stream); once the peer has acknowledged it all, the first two segments
    of as much again; ``IPV6_MTU``; and how a UDP datagram of 1400 octets to
    that peer leaves afterwards (whether the path MTU fell)."""
    if inject is None:
        from tests.test_socket_ipopts import _err_io
        _w4, inject = _err_io()
        wire = _wire6_host()
    me6 = socket.inet_pton(socket.AF_INET6, ME6)
    out: list[Any] = []
    wire()
    for peer, mode in zip(TCP_PEERS, (None, 0, 1, 2, 3, 4, 5), strict=True):
        t = make(AF_INET6, SOCK_STREAM, 0)
        if mode is not None:
            t.setsockopt(41, IPV6_MTU_DISCOVER, mode)
        if hasattr(t, "setblocking"):  # ours never blocks
            t.setblocking(False)
        port = 9100
        t.connect_ex((peer, port))
        syn = [p for p in wire() if p[6] == 6 and p[8:24] == me6]
        if not syn:
            out.append(["tcp ptb", mode, "no SYN"])
            continue
        sport, iss = struct.unpack("!HI", syn[0][40:42] + syn[0][44:48])
        inject(_tcp6(peer, ME6, port, sport, 5000, iss + 1, 0x12, b"\x02\x04\x05\xa0"))
        wire()  # the ACK
        sent = _try(lambda t=t: t.send(bytes(2880)))
        first = [p for p in wire() if p[6] == 6 and len(p) > 40 + 20 and
                 p[40:42] == struct.pack("!H", sport)]
        if first:
            inject(_icmp6(ROUTER6, 2, 0, 1280, (first[0][:7] + b"\x40" + first[0][8:])[:1232]))
        again = _segs(wire(), sport)
        inject(_tcp6(peer, ME6, port, sport, 5001, iss + 1 + 2880, 0x10))
        more = _try(lambda t=t: t.send(bytes(2880)))
        segs = _segs(wire(), sport)[:2]  # the third: cwnd (BSD's tcp_mtudisc: one segment)
        mtu = _try(lambda t=t: t.getsockopt(41, IPV6_MTU))
        u = make(AF_INET6, SOCK_DGRAM, 0)
        u.sendto(bytes(1352), (peer, 9))
        udp = [_frag6(p) for p in wire() if p[6] in (17, 44)]
        u.close()
        out.append(["tcp ptb", mode, sent, _segs(first, sport),
                    [max(again, default=0), sum(again)], more, segs, mtu, udp])
        t.close()
        wire()
    # UDP: a connected socket of each mode gets the Packet Too Big; then
    # its IPV6_MTU and another socket's datagram to the same peer
    for peer, mode in zip(UDP_PEERS, (1, 3, 4, 5), strict=True):
        s = make(AF_INET6, SOCK_DGRAM, 0)
        s.setsockopt(41, IPV6_MTU_DISCOVER, mode)
        s.connect((peer, 9))
        s.send(bytes(1352))
        pkts = [p for p in wire() if p[6] == 17]
        if pkts:
            inject(_icmp6(ROUTER6, 2, 0, 1280, (pkts[0][:7] + b"\x40" + pkts[0][8:])[:1232]))
        u = make(AF_INET6, SOCK_DGRAM, 0)
        u.sendto(bytes(1352), (peer, 9))
        out.append(["udp ptb", mode, len(pkts), _try(lambda s=s: s.getsockopt(41, IPV6_MTU)),
                    [_frag6(p) for p in wire() if p[6] in (17, 44)]])
        u.close()
        s.close()
    return out


def _ours_tcp_ptb() -> Any:
    from ipaddress import IPv6Address
    layer, wire, inject = _ours_mtu()
    node = layer.node
    assert node is not None
    for a in TCP_PEERS + UDP_PEERS:
        node.cache.set_permanent("d0", IPv6Address(a), bytes.fromhex(PEER_MAC.replace(":", "")))
    return json.loads(json.dumps(tcp_ptb_run(lambda f, t, p: layer.socket(f, t, p),
                                             layer.ifindex("d0"), wire, inject)))


@pytest.mark.root
def test_tcp_and_packet_too_big_by_mode_equal_the_kernels() -> None:
    ours = _ours_tcp_ptb()
    kernel = _kernel("tcp_ptb_run", veth=True, extra=TCP_SETUP, module="tests.test_socket_ipv6mtu")
    assert ours == kernel, _diff(ours, kernel)


# --- the same runs on the Linux profile alone (no namespace needed) -----------


def test_ipv6_mtu_on_the_linux_profile() -> None:
    out = _ours_ipv6_mtu()
    get = {(r[0], r[1]): r[3:] for r in out if r[2:3] == ["get"]}
    assert get[(AF_INET6, SOCK_DGRAM)] == ["ENOTCONN", "ENOTCONN"]
    assert get[(AF_INET, SOCK_DGRAM)] == ["ENOTSUP", "ENOTSUP"]  # do_ip_getsockopt
    put = {(r[0], r[1], r[3]): r[4] for r in out if r[2:3] == ["set"]}
    assert put[(AF_INET6, SOCK_RAW, 1279)] == "EINVAL" and put[(AF_INET6, SOCK_STREAM, 0)] == "ok"
    assert put[(AF_INET6, SOCK_DGRAM, "000500")] == "EINVAL"  # fewer octets than an int
    assert put[(AF_INET, SOCK_DGRAM, 1280)] == "ENOPROTOOPT"
    conn = {(r[0], r[2]): r[4:] for r in out if r[1:2] == ["conn"]}
    assert conn[(SOCK_DGRAM, PEER6)] == [1300, "14"] and conn[(SOCK_RAW, "::1")][0] == 65536
    assert conn[(SOCK_DGRAM, "::ffff:127.0.0.1")][0] == 65535  # the IPv4 route's
    send = {(r[0], r[2], r[3], r[4], r[5]): r[6:] for r in out if r[1:2] == ["send"]}
    # WANT, 1280: whole up to the path MTU, past it in fragments of 1280
    assert send[(SOCK_DGRAM, 1, 1280, PEER6, 1281)][1] == [[1281, 0, 0, 0]]
    assert send[(SOCK_DGRAM, 1, 1280, PEER6, 1400)][1] == [[1280, 1, 1, 0], [176, 1, 0, 154]]
    # DO and PROBE refuse past it, the local error's MTU the smaller size
    for mode in (2, 3):
        err, wire, items = send[(SOCK_DGRAM, mode, 1280, PEER8, 1281)]
        assert err == "EMSGSIZE" and wire == []
        assert struct.unpack_from("=I", bytes.fromhex(items[0][2]), 8) == (1280,)
    tcp = [r for r in out if r[:1] == ["tcp"]]
    assert all(r[6] == [1240 if r[3] == PEER6 else 1440] for r in tcp)  # the SYN's MSS


def test_error_queue_items_on_the_linux_profile() -> None:
    out = _ours_errq_ctl()
    lo = next(r for r in out if r[0] == "lo6" and r[1] == [] and r[2] is False)
    data, anc, flags, name = lo[4]
    assert flags == 0x2000  # MSG_ERRQUEUE
    assert bytes.fromhex(data) == b"to nobody 0" and name == ["::1", 7690, 0, 0]
    assert lo[3] == [11, "ECONNREFUSED"] and lo[5] == 0  # the next error's, then none
    ee = bytes.fromhex(anc[-1][2])
    assert struct.unpack("=IBBBBII", ee[:16]) == (errno.ECONNREFUSED, 3, 1, 4, 0, 0, 0)
    assert ee[24:40] == socket.inet_pton(socket.AF_INET6, "::1") and ee[40:44] == bytes(4)
    mine = next(r for r in out if r[0] == "lo6" and r[1] == [list(V6_RX[0])])
    # the ICMPv6 message came in on the interface holding the address
    assert mine[4][1][0] == [41, socket.IPV6_PKTINFO,
                             (socket.inet_pton(socket.AF_INET6, ME6) +
                              struct.pack("=I", 3)).hex()]
    assert next(r for r in out if r[:2] == ["lo6 off", True])[3] == errno.ECONNREFUSED
    assert next(r for r in out if r[0] == "lo6 long")[1][0] == 1184
    w4 = next(r for r in out if r[:3] == ["wire4", AF_INET, [list(x) for x in V4_RX]])
    # IP_PKTINFO (no ipi_spec_dst), the ICMP message's TTL 17 and TOS 0x28
    assert [a[:2] for a in w4[4][1]] == [[0, IP_PKTINFO], [0, 2], [0, 1], [0, IP_RECVERR]]
    assert w4[4][1][1][2] == "11000000" and w4[4][1][2][2] == "28"
    w6 = next(r for r in out if r[0] == "wire6" and r[1] == SOCK_RAW)
    assert [a[1] for a in w6[4][1]] == [50, 52, 67, 2, 8, IPV6_RECVERR]


def test_held_datagrams_on_the_linux_profile() -> None:
    rows = {(r[1], r[2]): r[3:] for r in _ours_hold()}
    assert rows[(3, 0)] == [[1352, "EMSGSIZE"], [135], [[1400, 0, 0, 0]]]
    assert rows[(1, 0)][2][:2] == [[1296, 1, 1, 0], [160, 1, 0, 156]]


def test_tcp_and_udp_ignore_packet_too_big_by_mode_on_the_linux_profile() -> None:
    out = _ours_tcp_ptb()
    tcp = {r[1]: r[2:] for r in out if r[0] == "tcp ptb"}
    assert tcp[1][2:] == [[1220, 2880], 2880, [1220, 1220], 1280,
                          [[1280, 1, 1, 0], [176, 1, 0, 154]]]
    for mode in (4, 5):  # ignored: no resend, full segments, the path MTU kept
        assert tcp[mode][2:] == [[0, 0], 2880, [1440, 1440], 1500, [[1400, 0, 0, 0]]]
    udp = {r[1]: r[3:] for r in out if r[0] == "udp ptb"}
    assert udp[3] == [1280, [[1280, 1, 1, 0], [176, 1, 0, 154]]]
    assert udp[4] == udp[5] == [1500, [[1400, 0, 0, 0]]]


# --- IPv4: Fragmentation Needed to a socket of each IP_MTU_DISCOVER mode --------

UDP4_PEERS = tuple(f"10.9.9.4{i}" for i in range(4))
FN_SETUP = ERR_SETUP + tuple(f"ip neigh add {a} lladdr {PEER_MAC} dev d0 nud permanent"
                             for a in UDP4_PEERS)


def frag_needed_run(make: Any, ifi: int, wire: Any = None, inject: Any = None) -> list[Any]:
    """A connected AF_INET (and a mapped AF_INET6) UDP socket of each mode
    gets a Fragmentation Needed of 1100 about its datagram; then its
    ``IP_MTU`` and how another socket's datagram of 1400 octets leaves
    (``ip_sk_accept_pmtu``: INTERFACE and OMIT leave the route alone)."""
    if inject is None:
        from tests.test_socket_ipopts import _err_io
        wire, inject = _err_io()
    out: list[Any] = []
    wire(0x0800)
    for peer, mode, fam in zip(UDP4_PEERS, (1, 3, 4, 5), (AF_INET, AF_INET6, AF_INET, AF_INET6),
                               strict=True):
        s = make(fam, SOCK_DGRAM, 0)
        s.setsockopt(0, 10, mode)  # IP_MTU_DISCOVER
        dst = peer if fam == AF_INET else "::ffff:" + peer
        s.connect((dst, 9))
        s.send(bytes(1000))
        pkts = [p for p in wire(0x0800) if p[9] == 17]
        if pkts:
            inject(_icmp4("10.9.9.2", 3, 4, 1100, pkts[0][:8] + b"\x40" + pkts[0][9:36]))
        u = make(AF_INET, SOCK_DGRAM, 0)
        u.sendto(bytes(1400 - 28), (peer, 9))
        from tests.test_socket_ipopts import _frag
        out.append(["frag needed", mode, fam, len(pkts), _try(lambda s=s: s.getsockopt(0, 14)),
                    _try(lambda s=s: s.getsockopt(1, socket.SO_ERROR)),
                    [_frag(p) for p in wire(0x0800) if p[9] == 17]])
        u.close()
        s.close()
    return out


def _ours_frag_needed() -> Any:
    from ipaddress import IPv4Address
    layer, wire, inject = _ours_mtu()
    node = layer.node
    assert node is not None
    inet = node.inet
    for a in UDP4_PEERS:
        inet._arp_update(inet._new_entry("d0", IPv4Address(a), node._now),
                         bytes.fromhex(PEER_MAC.replace(":", "")), node._now)
    return json.loads(json.dumps(frag_needed_run(lambda f, t, p: layer.socket(f, t, p),
                                                 layer.ifindex("d0"),
                                                 lambda et=0x0800: wire(et), inject)))


@pytest.mark.root
def test_fragmentation_needed_by_mode_equals_the_kernels() -> None:
    ours = _ours_frag_needed()
    kernel = _kernel("frag_needed_run", veth=True, extra=FN_SETUP,
                     module="tests.test_socket_ipv6mtu")
    assert ours == kernel, _diff(ours, kernel)


def test_fragmentation_needed_by_mode_on_the_linux_profile() -> None:
    rows = {r[1]: r[3:] for r in _ours_frag_needed()}
    assert rows[1] == [1, 1100, errno.EMSGSIZE, [[1100, 0, 1, 0], [320, 0, 0, 135]]]
    assert rows[4] == rows[5] == [1, 1500, errno.EMSGSIZE, [[1400, 1, 0, 0]]]
