"""The asyncio adapter (kame.aio, issue 9 item 4): two of our nodes on a
memory link, driven by kame.link.runner.Runner in one event loop with the
real clock; asyncio's own StreamReader/StreamWriter over TCP (IPv6, IPv4,
``::ffff:``), datagram endpoints over UDP, refused connects, flow control."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import random
from typing import Any

import pytest

from kame.aio import Stack
from kame.knobs import Knobs
from kame.link.memory import MemoryLink
from kame.link.runner import Runner
from kame.node import Node
from kame.socket import AF_INET, AF_INET6, SocketLayer

MA, MB = bytes.fromhex("02000000000a"), bytes.fromhex("02000000000b")
A6, B6 = "2001:db8:a10::a", "2001:db8:a10::b"
A4, B4 = "192.0.2.10", "192.0.2.11"


def pair(profile: str = "linux", **link: Any) -> tuple[Runner, Stack, Stack]:
    runner = Runner()
    ml = MemoryLink(delay=0.0005, seed=3, **link)
    kn = {"net.inet6.ip6.dad_count": 0, "net.link.ether.inet.dad_count": 0}
    stacks = []
    for name, mac, a6, a4 in (("a", MA, A6, A4), ("b", MB, B6, B4)):
        n = Node(name, knobs=Knobs(kn), seed=len(stacks) + 1)
        n.add_interface("eth0", mac)
        runner.attach_link(n, "eth0", ml, mac)
        now = runner.clock()
        runner.transmit(n, n.up("eth0", now))
        n.add_address("eth0", f"{a6}/64", now)
        n.add_address4("eth0", f"{a4}/24", now)
        stacks.append(Stack(SocketLayer(n, profile), runner))
    return runner, stacks[0], stacks[1]


def run(coro: Any, timeout: float = 30.0) -> Any:
    async def main() -> Any:
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(main())


async def _serve_random(stack: Stack, host: str | None, port: int, seed: int) -> Any:
    """An HTTP/1.0-like server: ``GET /N`` answers N random octets."""

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        line = await r.readline()
        while (await r.readline()) not in (b"\r\n", b""):
            pass
        n = int(line.split()[1].strip(b"/"))
        w.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % n)
        w.write(random.Random(seed).randbytes(n))
        await w.drain()
        w.close()
        await w.wait_closed()

    return await stack.start_server(handle, host, port)


async def _fetch(stack: Stack, host: str, port: int, n: int) -> bytes:
    r, w = await stack.open_connection(host, port)
    w.write(b"GET /%d HTTP/1.0\r\n\r\n" % n)
    await w.drain()
    data = await r.read()
    w.close()
    await w.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200"), head
    return body


@pytest.mark.parametrize("dst", [B6, B4, "::ffff:" + B4])
def test_streams_fetch_byte_exact(dst: str) -> None:
    """asyncio streams between two nodes: random sizes, byte-exact, over
    IPv6, IPv4 and an AF_INET6 socket to ``::ffff:`` (Linux profile)."""
    _, a, b = pair()

    async def main() -> None:
        srv = await _serve_random(b, None, 8080, 5)
        rng = random.Random(1)
        for n in (0, 1, rng.randrange(1, 3000), rng.randrange(100_000, 400_000)):
            body = await _fetch(a, dst, 8080, n)
            assert hashlib.sha256(body).digest() == \
                hashlib.sha256(random.Random(5).randbytes(n)).digest()
        # the server saw the peers as the socket family named them
        srv.close()
        await srv.wait_closed()

    run(main())


def test_streams_under_loss_and_reordering() -> None:
    """The same over a link that loses 3 % and reorders 3 % of frames."""
    _, a, b = pair(loss=0.03, reorder=0.03)

    async def main() -> None:
        srv = await _serve_random(b, B6, 80, 7)
        body = await _fetch(a, B6, 80, 200_000)
        assert body == random.Random(7).randbytes(200_000)
        srv.close()

    run(main(), timeout=60)


def test_peername_and_family() -> None:
    _, a, b = pair()
    seen: list[Any] = []

    async def main() -> None:
        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            seen.append((w.get_extra_info("peername"), w.get_extra_info("sockname")))
            w.write(await r.readexactly(5))
            await w.drain()
            w.close()

        srv = await b.start_server(handle, None, 7)
        assert isinstance(srv, asyncio.AbstractServer)
        assert srv.sockets[0].family == AF_INET6  # Linux: one dual-stack listener
        for dst in (B6, B4):
            r, w = await a.open_connection(dst, 7)
            w.write(b"hello")
            assert await r.readexactly(5) == b"hello"
            assert await r.read() == b""
            w.close()
            await w.wait_closed()
        srv.close()
        await srv.wait_closed()

    run(main())
    assert seen[0][0][0] == A6 and seen[0][1][:2] == (B6, 7)
    assert seen[1][0][0] == "::ffff:" + A4  # an IPv4 peer of an AF_INET6 listener


def test_netbsd_listens_on_both_families() -> None:
    """Where ``IPV6_V6ONLY`` is on by default, start_server(None) opens an
    ``AF_INET`` listener beside the ``AF_INET6`` one."""
    _, a, b = pair("netbsd")

    async def main() -> list[int]:
        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            w.write(b"ok")
            w.close()

        srv = await b.start_server(handle, None, 25)
        fams = [s.family for s in srv.sockets]
        for dst in (B6, B4):
            r, w = await a.open_connection(dst, 25)
            assert await r.read() == b"ok"
            w.close()
        srv.close()
        return fams

    assert run(main()) == [AF_INET6, AF_INET]


def test_connection_refused() -> None:
    _, a, _b = pair()

    async def main() -> None:
        with pytest.raises(ConnectionRefusedError) as ei:
            await a.open_connection(B6, 9)
        assert ei.value.errno == errno.ECONNREFUSED

    run(main())


def test_flow_control_pauses_the_reader() -> None:
    """A reader that does not read: the writer's drain() waits (its buffer
    is past the high mark), then completes once the reader reads."""
    _, a, b = pair()
    size = 3_000_000

    async def main() -> None:
        got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        go = asyncio.Event()

        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await go.wait()
            got.set_result(await r.read())
            w.close()

        srv = await b.start_server(handle, None, 9000)
        _r, w = await a.open_connection(B6, 9000)
        data = random.Random(2).randbytes(size)
        w.write(data)
        drain = asyncio.ensure_future(w.drain())
        await asyncio.sleep(0.3)
        assert not drain.done()  # the peer's window is shut, our buffer past the mark
        go.set()
        await drain
        w.write_eof()
        assert await got == data
        w.close()
        srv.close()

    run(main())


def test_datagram_endpoints() -> None:
    """UDP through create_datagram_endpoint: an echo on B, a client on A
    connected to it (IPv6) and an unconnected one (IPv4)."""
    _, a, b = pair()

    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport: Any) -> None:
            self.t = transport

        def datagram_received(self, data: bytes, addr: Any) -> None:
            self.t.sendto(data[::-1], addr)

    class Client(asyncio.DatagramProtocol):
        def __init__(self) -> None:
            self.q: asyncio.Queue[tuple[bytes, Any]] = asyncio.Queue()

        def datagram_received(self, data: bytes, addr: Any) -> None:
            self.q.put_nowait((data, addr))

    async def main() -> None:
        et, _ = await b.create_datagram_endpoint(Echo, local_addr=("::", 7007))
        ct, cp = await a.create_datagram_endpoint(Client, remote_addr=(B6, 7007))
        ct.sendto(b"abc")
        data, addr = await cp.q.get()
        assert data == b"cba" and addr[:2] == (B6, 7007)
        ut, up = await a.create_datagram_endpoint(Client, local_addr=("0.0.0.0", 0),
                                                  family=AF_INET)
        ut.sendto(b"xyz", (B4, 7007))
        data, addr = await up.q.get()
        assert data == b"zyx" and addr == (B4, 7007)
        for t in (et, ct, ut):
            t.close()

    run(main())


def test_runner_outlives_its_loop() -> None:
    """A runner driven by one asyncio.run, then by another: the second
    loop takes it over (readers, timers, the pump) and the node carries on."""
    _, a, b = pair()

    async def once(port: int) -> bytes:
        srv = await _serve_random(b, B6, port, 11)
        body = await _fetch(a, B6, port, 5000)
        srv.close()
        await srv.wait_closed()
        return body

    assert run(once(81)) == random.Random(11).randbytes(5000)
    assert run(once(82)) == random.Random(11).randbytes(5000)
