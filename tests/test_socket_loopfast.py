"""The loopback fast path of kame.socket (``::1``, ``127.0.0.0/8`` over
AF_INET, ``::ffff:127.x.y.z`` over AF_INET6) held against the general path:
the same socket calls on a layer with ``loop_fastpath`` on and on one with
it off give the same results call by call (values, errnos, peer names,
ancillary data), the same ``udpstat`` counters and the same socket names,
under every platform profile; and a datagram round on each of the three
destinations, once warm, no longer goes through ``SocketLayer.output``."""

from __future__ import annotations

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
    IPV6_RECVPKTINFO,
    IPV6_UNICAST_HOPS,
    IPV6_V6ONLY,
    PROFILES,
    SO_REUSEADDR,
    SOL_SOCKET,
    SocketLayer,
)

HOSTS = ("::1", "::ffff:127.0.0.1", "127.0.0.1", "127.0.0.2", "::ffff:127.0.0.2", "::",
         "0.0.0.0", "::ffff:0.0.0.0", "::2")
PORTS = (7001, 7002, 0)
N = 4  # socket slots

SOCK = st.tuples(st.just("sock"), st.integers(0, N - 1), st.sampled_from([AF_INET, AF_INET6]))
OP = st.one_of(
    SOCK,
    st.tuples(st.just("v6only"), st.integers(0, N - 1), st.integers(0, 1)),
    st.tuples(st.just("reuse"), st.integers(0, N - 1)),
    st.tuples(st.just("bind"), st.integers(0, N - 1), st.sampled_from(HOSTS),
              st.sampled_from(PORTS)),
    st.tuples(st.just("connect"), st.integers(0, N - 1), st.sampled_from(HOSTS),
              st.sampled_from(PORTS)),
    st.tuples(st.just("sendto"), st.integers(0, N - 1), st.sampled_from(HOSTS),
              st.sampled_from(PORTS), st.booleans(), st.sampled_from([0, 1, 3, 65507, 65528])),
    st.tuples(st.just("send"), st.integers(0, N - 1)),
    st.tuples(st.just("recvfrom"), st.integers(0, N - 1), st.sampled_from([1, 100])),
    st.tuples(st.just("recvmsg"), st.integers(0, N - 1)),
    st.tuples(st.just("opt"), st.integers(0, N - 1), st.sampled_from(["pktinfo", "hops"])),
    st.tuples(st.just("close"), st.integers(0, N - 1)),
    st.tuples(st.just("knob"), st.sampled_from([9, 64])),
)
# a program: some sockets first, then anything, then rounds that repeat
PROGRAM = st.tuples(st.lists(SOCK, min_size=1, max_size=3), st.lists(OP, max_size=25),
                    st.integers(1, 4))


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
    first, ops, times = program
    for op in list(first) + list(ops) * times:
        kind, i, *args = op if op[0] != "knob" else ("knob", 0, *op[1:])
        s = socks.get(i)
        try:
            if kind == "sock":
                if s is not None:
                    s.close()
                socks[i] = layer.socket(args[0])
                r: Any = "ok"
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
                else:
                    s.setsockopt(IPPROTO_IPV6, IPV6_UNICAST_HOPS, 9)
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
@given(program=PROGRAM, with_node=st.booleans())
def test_fast_and_general_paths_agree(profile: str, with_node: bool, program: Any) -> None:
    assert run(profile, with_node, True, program) == run(profile, with_node, False, program)


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
            assert data == b"%d" % k and peer == s.getsockname()[:2] + peer[2:]
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
