"""IN6P_FAITH (seed §3.1, KAME's ``IPV6_FAITH``): only a socket with the
flag accepts TCP connections to a FAITH prefix; faithd sets it on its
listeners; ordinary connections to the node's own address are unchanged."""

from __future__ import annotations

import errno

import pytest
from test_faith import PREFIX, World

from kame.socket import AF_INET6, IPPROTO_IPV6, IPV6_FAITH
from kame.socket.stream import SOCK_STREAM


def connect(w: World, dst: str, port: int) -> bool:
    """Whether a connection from c to ``dst``.``port`` completes."""
    s = w.lc.socket(AF_INET6, SOCK_STREAM)
    try:
        s.connect((dst, port))
    except BlockingIOError:
        pass
    ok = False
    for _ in range(200):
        w.step()
        if s.connected:
            ok = True
            break
        if s.so_error:
            break
    s.close()
    return ok


def test_only_a_faith_socket_takes_the_prefix() -> None:
    w = World()
    assert w.d.listeners[80].getsockopt(IPPROTO_IPV6, IPV6_FAITH) == 1
    plain = w.lr.socket(AF_INET6, SOCK_STREAM)
    # the flag is off until set; on the Linux profile option 29 reads as
    # Linux's IPV6_MULTICAST_ALL (1 until set, the kernel's), the number
    # KAME gave IPV6_FAITH, and setting it sets both alike
    assert IPV6_FAITH not in plain.opts
    assert plain.getsockopt(IPPROTO_IPV6, IPV6_FAITH) == 1
    plain.bind(("::", 8080))
    plain.listen(8)
    # No IN6P_FAITH: a SYN to the prefix finds no listener (reset).
    assert not connect(w, "2001:db8:ffff::192.0.2.2", 8080)
    assert not plain.acceptq
    # The node's own address: the plain socket answers as always.
    assert connect(w, "2001:db8:1::1", 8080)
    # With the flag, the same socket takes the prefix too.
    flagged = w.lr.socket(AF_INET6, SOCK_STREAM)
    flagged.setsockopt(IPPROTO_IPV6, IPV6_FAITH, 1)
    flagged.bind(("::", 8081))
    flagged.listen(8)
    assert connect(w, "2001:db8:ffff::192.0.2.2", 8081)
    assert connect(w, "2001:db8:1::1", 8081)
    flagged.setsockopt(IPPROTO_IPV6, IPV6_FAITH, 0)
    assert not connect(w, "2001:db8:ffff::192.0.2.2", 8081)
    assert w.fetch("2001:db8:ffff::192.0.2.2") == b"v4 server saw: hello"  # faithd still relays
    assert PREFIX.startswith("2001:db8:ffff::")


def test_faith_option_is_ipv6_only() -> None:
    w = World()
    from kame.socket import AF_INET

    s4 = w.lr.socket(AF_INET, SOCK_STREAM)
    with pytest.raises(OSError) as e:
        s4.setsockopt(IPPROTO_IPV6, IPV6_FAITH, 1)
    assert e.value.errno == errno.ENOPROTOOPT
