"""The loopback fast path of kame.socket (``::1``, ``127.0.0.0/8`` over
AF_INET, ``::ffff:127.x.y.z`` over AF_INET6) held against the general path:
the same socket calls on a layer with ``loop_fastpath`` on and on one with
it off give the same results call by call (values, errnos, peer names,
ancillary data), the same ``udpstat`` counters and the same socket names,
under every platform profile; and a datagram round on each of the three
destinations, once warm, no longer goes through ``SocketLayer.output``."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kame.in6_var import IfType
from kame.node import Node
from kame.socket import (
    AF_INET,
    AF_INET6,
    IPPROTO_IPV6,
    IPV6_HOPLIMIT,
    IPV6_PKTINFO,
    IPV6_RECVHOPLIMIT,
    IPV6_RECVPKTINFO,
    IPV6_RECVTCLASS,
    IPV6_TCLASS,
    IPV6_UNICAST_HOPS,
    IPV6_V6ONLY,
    PROFILES,
    SO_REUSEADDR,
    SOL_SOCKET,
    SocketLayer,
)
from kame.socket.inctl import IP_TOS, IP_TTL, IPPROTO_IP

HOSTS = ("::1", "::ffff:127.0.0.1", "127.0.0.1", "127.0.0.2", "::ffff:127.0.0.2", "::",
         "0.0.0.0", "::ffff:0.0.0.0", "::2")
PORTS = (7001, 7002, 0)
N = 4  # socket slots

KINDS = {  # local binds: family, v6only, address
    "v4any": (AF_INET, 0, "0.0.0.0"), "v4lo": (AF_INET, 0, "127.0.0.1"),
    "v4lo2": (AF_INET, 0, "127.0.0.2"), "v6any": (AF_INET6, 0, "::"),
    "v6any-only": (AF_INET6, 1, "::"), "v6lo": (AF_INET6, 0, "::1"),
    "map-lo": (AF_INET6, 0, "::ffff:127.0.0.1"), "map-any": (AF_INET6, 0, "::ffff:0.0.0.0"),
}
#: (weight, op): sendto the program's destination and recvfrom most often
WEIGHTS = (("sendto", 30), ("recvfrom", 20), ("receiver", 4), ("sock", 2), ("v6only", 2),
           ("bind", 3), ("connect", 3), ("sendto-any", 4), ("send", 3), ("recvmsg", 3),
           ("opt", 3), ("close", 2), ("knob", 2))


def program(seed: int) -> tuple[Any, ...]:
    """A program drawn from ``seed``: receivers and a sender, then 5-30
    calls, the whole of them repeated 2-5 times (a plan made in one pass
    is used in the next); most datagrams go to one destination."""
    rnd = random.Random(seed)
    target = (rnd.choice(HOSTS[:5]), rnd.choice([7001, 7001, 7002]))
    setup: list[tuple[Any, ...]] = [("receiver", i, rnd.choice(sorted(KINDS)),
                                     rnd.choice([7001, 7001, 7002]))
                                    for i in range(rnd.randint(1, N - 1))]
    setup.append(("sender", N - 1, rnd.choice([None, None, None, AF_INET, AF_INET6]),
                  rnd.choice([0, 0, 1])))
    names, weights = zip(*WEIGHTS, strict=True)
    ops: list[tuple[Any, ...]] = []
    for kind in rnd.choices(names, weights, k=rnd.randint(5, 30)):
        i = rnd.choice([N - 1, N - 1, N - 1, 0, 1, 2] if kind == "sendto" else range(N))
        if kind == "sendto":
            ops.append((kind, i, None, None, rnd.random() < 0.3,
                        rnd.choice([3, 3, 3, 3, 0, 1, 65507, 65528])))
        elif kind == "sendto-any":
            ops.append(("sendto", i, rnd.choice(HOSTS), rnd.choice(PORTS), rnd.random() < 0.5,
                        rnd.choice([0, 3])))
        elif kind == "receiver":
            ops.append((kind, rnd.randrange(N - 1), rnd.choice(sorted(KINDS)),
                        rnd.choice([7001, 7002])))
        elif kind == "sock":
            ops.append((kind, i, rnd.choice([AF_INET, AF_INET6])))
        elif kind == "v6only":
            ops.append((kind, i, rnd.randint(0, 1)))
        elif kind in ("bind", "connect"):
            ops.append((kind, i, rnd.choice(HOSTS), rnd.choice(PORTS)))
        elif kind == "recvfrom":
            ops.append((kind, rnd.choice([0, 0, 1, 2, 3]), rnd.choice([100, 100, 1])))
        elif kind == "opt":
            ops.append((kind, i, rnd.choice(["pktinfo", "hops", "ttl", "recvhlim", "tos"])))
        elif kind == "knob":
            ops.append((kind, rnd.choice([9, 64])))
        else:
            ops.append((kind, i))
    return target, setup, ops, rnd.randint(2, 5)


def _node() -> Node:
    node = Node("k")
    node.add_interface("lo", None, type=IfType.LOOPBACK, mtu=65536)
    node.up("lo", 0.0)
    node.poll(10.0)
    return node


def run(profile: str, with_node: bool, fast: bool, program: Any) -> list[Any]:
    node = _node() if with_node else None
    layer = SocketLayer(node, profile, seed=3)
    layer.loop_fastpath = fast
    socks: dict[int, Any] = {}
    addrs: dict[tuple[str, int], tuple[str, int]] = {}
    out: list[Any] = []
    seq = 0
    target, first, ops, times = program
    for op in list(first) + list(ops) * times:
        kind, i, *args = op if op[0] != "knob" else ("knob", 0, *op[1:])
        s = socks.get(i)
        try:
            if kind == "sock":
                if s is not None:
                    s.close()
                socks[i] = layer.socket(args[0])
                r: Any = "ok"
            elif kind == "receiver":
                fam, only, host = KINDS[args[0]]
                if s is not None:
                    s.close()
                s = socks[i] = layer.socket(fam)
                s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
                if fam == AF_INET6:
                    s.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, only)
                s.bind((host, args[1]))
                r = "ok"
            elif kind == "sender":
                if s is not None:
                    s.close()
                fam = args[0] or (AF_INET if ":" not in target[0] else AF_INET6)
                s = socks[i] = layer.socket(fam)
                if fam == AF_INET6 and PROFILES[profile].v6only_opt and \
                        PROFILES[profile].listening != "not supported":
                    s.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, args[1])
                r = "ok"
            elif kind == "knob":
                if node is not None:
                    node.knobs["net.inet6.ip6.hlim"] = args[0]
                r = "ok"
            elif s is None:
                r = "none"
            elif kind == "v6only":
                s.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, args[0])
                r = "ok"
            elif kind == "reuse":
                s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
                r = "ok"
            elif kind == "bind":
                s.bind((args[0], args[1]))
                r = "ok"
            elif kind == "connect":
                s.connect((args[0], args[1]))
                r = "ok"
            elif kind == "sendto":
                host, port, fresh, size = args
                if host is None:
                    host, port = target
                if fresh:
                    a = (str(host), int(port))
                else:
                    a = addrs.setdefault((host, port), (host, port))
                seq += 1
                r = s.sendto(seq.to_bytes(3, "big") * (size // 3) + b"x" * (size % 3), a)
            elif kind == "send":
                seq += 1
                r = s.send(seq.to_bytes(3, "big"))
            elif kind == "recvfrom":
                r = s.recvfrom(args[0])
            elif kind == "recvmsg":
                r = s.recvmsg(100, 100)
            elif kind == "opt":
                if args[0] == "pktinfo":
                    s.setsockopt(IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
                elif args[0] == "hops":
                    s.setsockopt(IPPROTO_IPV6, IPV6_UNICAST_HOPS, 9)
                elif args[0] == "recvhlim":
                    s.setsockopt(IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
                    s.setsockopt(IPPROTO_IPV6, IPV6_RECVTCLASS, 1)
                elif args[0] == "ttl":
                    s.setsockopt(IPPROTO_IP, IP_TTL, 9)
                else:
                    s.setsockopt(IPPROTO_IP, IP_TOS, 0x20)
                r = "ok"
            elif kind == "close":
                s.close()
                del socks[i]
                r = "ok"
            else:
                raise AssertionError(kind)
        except OSError as e:
            r = ("OSError", type(e).__name__, e.errno)
        except (TypeError, ValueError) as e:
            r = (type(e).__name__,)
        if isinstance(r, tuple) and r and isinstance(r[0], bytes):
            r = (len(r[0]), r[0][:6], *r[1:])
        out.append(r)
    for i, s in sorted(socks.items()):
        out.append((i, s.getsockname(), s.so_error, len(s.rcvq)))
    out.append(dict(layer.udpstat))
    return out


@pytest.mark.parametrize("profile", sorted(PROFILES))
@settings(max_examples=60)
@given(seed=st.integers(0, 2**32 - 1), with_node=st.booleans())
def test_fast_and_general_paths_agree(profile: str, with_node: bool, seed: int) -> None:
    p = program(seed)
    assert run(profile, with_node, True, p) == run(profile, with_node, False, p), p


@pytest.mark.parametrize("profile", ["linux", "freebsd4x", "netbsd", "openbsd"])
def test_a_warm_round_skips_the_general_path(profile: str) -> None:
    """Once a sender has sent to a receiver, its next datagrams to it are
    handed over without ``SocketLayer.output`` (and the counters count
    them as that path does)."""
    layer = SocketLayer(None, profile)
    for fam, rfam, dst in ((AF_INET6, AF_INET6, "::1"), (AF_INET, AF_INET, "127.0.0.1"),
                           (AF_INET6, AF_INET, "::ffff:127.0.0.1")):
        if dst.startswith("::ffff:") and not PROFILES[profile].initiating:
            continue
        r = layer.socket(rfam)
        r.bind(("127.0.0.1" if rfam == AF_INET else "::1", 0))
        s = layer.socket(fam)
        if fam == AF_INET6 and dst.startswith("::ffff:"):
            s.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 0)
        addr = (dst, r.getsockname()[1])
        s.sendto(b"warm", addr)
        assert r.recvfrom(10)[0] == b"warm"
        before = dict(layer.udpstat)
        layer.output = _no_general_path  # type: ignore[method-assign]
        for k in range(3):
            assert s.sendto(b"%d" % k, addr) == 1
            data, peer = r.recvfrom(10)
            assert data == b"%d" % k and peer[1] == s.getsockname()[1]
        del layer.output
        assert layer.udpstat["udps_opackets"] == before["udps_opackets"] + 3
        assert layer.udpstat["udps_ipackets"] == before["udps_ipackets"] + 3
        r.close()
        s.close()


def _no_general_path(*a: Any) -> int:
    raise AssertionError("SocketLayer.output on a warm loopback round")


def test_a_bind_after_the_first_round_takes_the_datagrams() -> None:
    """The fast path's receiver is chosen again when a PCB changes: a more
    specific bind, then its close."""
    layer = SocketLayer(None, "linux")
    wild = layer.socket(AF_INET6)
    wild.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    wild.bind(("::", 7001))
    s = layer.socket(AF_INET)
    s.sendto(b"1", ("127.0.0.1", 7001))
    assert wild.recvfrom(10) == (b"1", ("::ffff:127.0.0.1", s.getsockname()[1], 0, 0))
    v4 = layer.socket(AF_INET)
    v4.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    v4.bind(("127.0.0.1", 7001))
    s.sendto(b"2", ("127.0.0.1", 7001))
    assert v4.recvfrom(10) == (b"2", ("127.0.0.1", s.getsockname()[1]))
    v4.close()
    s.sendto(b"3", ("127.0.0.1", 7001))
    assert wild.recvfrom(10)[0] == b"3"
    wild.close()
    s.sendto(b"4", ("127.0.0.1", 7001))
    assert layer.udpstat["udps_noport"] == 1
    with pytest.raises(BlockingIOError):
        s.recvfrom(10)


@pytest.mark.parametrize("profile", ["linux", "freebsd4x", "bsdi4"])
def test_an_ipv4_datagram_on_a_dual_socket_carries_its_mapped_destination(profile: str) -> None:
    """RFC 3542 options of a dual AF_INET6 socket for an IPv4 datagram:
    ``IPV6_PKTINFO`` holds the mapped destination on every profile (Linux
    ``ip6_datagram_recv_common_ctl``, the BSDs' ``ip6_savecontrol_v4``); the
    BSDs also give the TTL as hop limit and the TOS as traffic class, the
    sender's ``IP_TTL`` and ``IP_TOS`` carried over the loopback."""
    layer = SocketLayer(None, profile)
    r = layer.socket(AF_INET6)
    if PROFILES[profile].v6only_opt:
        r.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 0)
    r.bind(("::", 7001))
    for o in (IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS):
        r.setsockopt(IPPROTO_IPV6, o, 1)
    s = layer.socket(AF_INET)
    s.setsockopt(IPPROTO_IP, IP_TTL, 9)
    s.setsockopt(IPPROTO_IP, IP_TOS, 0x20)
    for _ in range(2):
        s.sendto(b"x", ("127.0.0.2", 7001))
        data, anc, _fl, peer = r.recvmsg(10, 100)
        assert (data, peer[0]) == (b"x", "::ffff:127.0.0.1")
        got = {t: v for _lv, t, v in anc}
        assert got[IPV6_PKTINFO][:16] == bytes(10) + b"\xff\xff" + bytes([127, 0, 0, 2])
        if profile == "linux":
            assert set(got) == {IPV6_PKTINFO}
        else:
            assert got[IPV6_HOPLIMIT] == (9).to_bytes(4, "little")
            assert got[IPV6_TCLASS] == (0x20).to_bytes(4, "little")
