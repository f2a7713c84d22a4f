"""Linux's ``IPV6_MTU`` and the rest of the path MTU and error-queue rows
of the Linux profile, against the kernel's own sockets in a namespace with
a veth (the harness of :mod:`tests.test_socket_ipopts`).

``IPV6_MTU`` (``np->frag_size``): ``setsockopt`` takes 0 or at least 1280
(``EINVAL`` below); a datagram is then sized by the smaller of that and the
MTU it would otherwise go by (``ip6_setup_cork``); ``getsockopt`` gives the
MTU of the socket's cached route (``ENOTCONN`` without one)."""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

import pytest
from tests.test_socket_ipopts import (
    EXP,
    IPV6_RECVERR,
    KINDS,
    ME6,
    PEER6,
    PEER_MAC,
    PMTU6_SETUP,
    SOCK_STREAM,
    _diff,
    _errq,
    _frag6,
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
    layer, _read, inject = kame_recverr()
    node = layer.node
    assert node is not None
    assert node.pmtu_update(IPv6Address(PEER6), 1300, node._now)
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
