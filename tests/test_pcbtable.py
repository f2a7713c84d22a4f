"""The sockets layer's PCB table (``SocketLayer.pcbs``): the list it
replaces, as a model, under any sequence of opens and closes; a close
takes its socket out without a scan."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kame.socket import AF_INET6, SO_REUSEADDR, SOL_SOCKET, SocketLayer
from kame.socket.sock import PcbTable
from kame.socket.stream import SOCK_STREAM


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 30)), max_size=80))
def test_pcbtable_is_the_list(ops: list[tuple[bool, int]]) -> None:
    objs = [object() for _ in range(31)]
    t, model = PcbTable(), []
    for add, i in ops:
        o = objs[i]
        if add and o not in model:
            t.append(o)  # type: ignore[arg-type]
            model.append(o)
        elif not add:
            if o in model:
                t.remove(o)  # type: ignore[arg-type]
                model.remove(o)
            else:
                with pytest.raises(ValueError):
                    t.remove(o)  # type: ignore[arg-type]
                t.discard(o)  # type: ignore[arg-type]
        assert list(t) == model and len(t) == len(model) and bool(t) == bool(model)
        assert all((o in t) == (o in model) for o in objs)
        if model:
            assert t[-1] is model[-1] and t[0] is model[0]


def test_pcbtable_loop_may_close() -> None:
    """A loop over the table may close sockets (the list allowed it)."""
    layer = SocketLayer(None, "linux")
    socks = [layer.socket(AF_INET6, SOCK_STREAM) for _ in range(5)]
    assert list(layer.pcbs) == socks
    for s in layer.pcbs:
        s.close()
    assert len(layer.pcbs) == 0 and not layer.pcbs
    socks[0].close()  # twice: nothing more
    assert list(layer.pcbs) == []


@given(st.lists(st.tuples(st.sampled_from(["udp", "tcp", "bind", "close", "connect"]),
                          st.integers(0, 9), st.integers(0, 3)), max_size=60))
def test_port_index_is_the_scan(ops: list[tuple[str, int, int]]) -> None:
    """Whatever binds, autobinds, connects and closes happen, the port
    index (``PcbTable.ports``, what a bind's conflict check reads) holds
    exactly the sockets a scan of the table finds on each port."""
    from kame.socket import SOCK_DGRAM

    layer = SocketLayer(None, "linux")
    socks: list = []
    for op, i, port in ops:
        try:
            if op in ("udp", "tcp"):
                socks.append(layer.socket(AF_INET6, SOCK_DGRAM if op == "udp" else SOCK_STREAM))
            elif socks:
                s = socks[i % len(socks)]
                if op == "bind":
                    s.bind(("::", 5000 + port))
                elif op == "close":
                    s.close()
                elif s.type == SOCK_DGRAM:
                    s.connect(("::1", 7000 + port))
        except OSError:
            pass
        scan: dict[int, set] = {}
        for s in layer.pcbs:
            if s.lport:
                scan.setdefault(s.lport, set()).add(s)
        assert {p: set(on) for p, on in layer.pcbs.ports.items()} == scan


def test_bind_conflict_reads_the_port_index() -> None:
    from kame.socket import SOCK_DGRAM

    layer = SocketLayer(None, "linux")
    a, b = layer.socket(AF_INET6, SOCK_DGRAM), layer.socket(AF_INET6, SOCK_DGRAM)
    a.bind(("::", 5000))
    assert layer.pcbs.ports == {5000: {a: None}}
    with pytest.raises(OSError):
        b.bind(("::", 5000))
    a.close()
    assert layer.pcbs.ports == {}
    b.bind(("::", 5000))
    assert list(layer.pcbs.on_port(5000)) == [b]
    assert list(layer.pcbs.on_port(5001)) == []


def test_on_port_is_a_view_not_a_copy() -> None:
    """A datagram's delivery reads the port's index in place: the view
    follows the table, and a change under a loop over it is caught."""
    from kame.socket import SOCK_DGRAM

    layer = SocketLayer(None, "linux")
    a = layer.socket(AF_INET6, SOCK_DGRAM)
    a.bind(("::", 5000))
    view = layer.pcbs.on_port(5000)
    b = layer.socket(AF_INET6, SOCK_DGRAM)
    b.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    a.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    b.bind(("::", 5000))
    assert list(view) == [a, b]
    with pytest.raises(RuntimeError):
        for s in layer.pcbs.on_port(5000):
            s.close()
