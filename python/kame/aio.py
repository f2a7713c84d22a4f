"""asyncio over a kame node: ``open_connection``, ``start_server`` and
datagram endpoints whose connections run through the node's TCP and UDP,
on a TAP device or a memory link, in the event loop's thread.

The node is driven by a :class:`kame.link.runner.Runner` that the loop
runs: ``loop.add_reader`` on each TAP descriptor, ``loop.call_later`` for
the next deadline (node timers, memory-link deliveries), ``loop.call_soon``
after a socket call queued frames. After every pass the adapter pumps its
transports: it reads what arrived into the protocols (``data_received``,
``eof_received``, ``datagram_received``), hands completed connections to
servers, finishes connects and sends what waits in the write buffers.

Transports and protocols are asyncio's own interfaces, so the streams are
asyncio's real :class:`asyncio.StreamReader`/:class:`asyncio.StreamWriter`
(flow control included: a paused reader leaves data in TCP's receive
buffer and the window closes)::

    node = Node("h1"); node.add_interface("tap0", mac)
    runner = Runner(); runner.attach_device(node, "tap0", TapDevice("tap0"))
    stack = Stack(SocketLayer(node, "linux"), runner)
    reader, writer = await stack.open_connection("2001:db8::1", 80)

Several stacks may share one runner (two nodes on one memory link, in one
loop). Host names resolve through :func:`kame.netdb.getaddrinfo` (numeric
addresses, or the ``resolver`` given); errors are the profile's errno
values as :class:`OSError`.
"""

from __future__ import annotations

import asyncio
import errno
import os
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Self

from kame import netdb
from kame.link.runner import Runner
from kame.socket.const import AF_INET, AF_INET6, SO_ERROR, SO_REUSEADDR, SOCK_DGRAM, SOL_SOCKET
from kame.socket.stream import SHUT_WR, SOCK_STREAM, StreamSocket

__all__ = ["DatagramTransport", "Server", "Stack", "StreamTransport"]

#: Bytes taken from a socket per ``recv`` (TCP's receive buffer is larger).
READ_CHUNK = 256 * 1024
#: Write-buffer marks of :meth:`StreamTransport.set_write_buffer_limits`.
HIGH_WATER, LOW_WATER = 256 * 1024, 64 * 1024


class _Driver:
    """A runner on an event loop (one per runner and loop)."""

    def __init__(self, runner: Runner, loop: asyncio.AbstractEventLoop) -> None:
        self.runner, self.loop = runner, loop
        self.pumps: list[Any] = []
        self._timer: asyncio.TimerHandle | None = None
        self._soon: asyncio.Handle | None = None
        self._fds = list(runner.fds())
        for fd in self._fds:
            loop.add_reader(fd, self.service)
        runner.after_service.append(self._pump)
        self.kick()

    def kick(self) -> None:
        """A pass soon (a socket call queued frames or wants an answer)."""
        if self._soon is None:
            self._soon = self.loop.call_soon(self.service)

    def service(self) -> None:
        self._soon = None
        d = self.runner.service()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if d is not None:
            self._timer = self.loop.call_later(max(0.0, d - self.runner.clock()), self.service)

    def _pump(self) -> None:
        for p in list(self.pumps):
            p._pump()

    def close(self) -> None:
        if not self.loop.is_closed():
            for fd in self._fds:
                self.loop.remove_reader(fd)
        if self._timer is not None:
            self._timer.cancel()
        if self._soon is not None:
            self._soon.cancel()
        if self._pump in self.runner.after_service:
            self.runner.after_service.remove(self._pump)


#: The driver of each runner: a runner is run by one event loop at a time.
_DRIVERS: weakref.WeakKeyDictionary[Runner, _Driver] = weakref.WeakKeyDictionary()


def _driver(runner: Runner) -> _Driver:
    loop = asyncio.get_running_loop()
    d = _DRIVERS.get(runner)
    if d is not None and d.loop is not loop:
        d.close()  # a loop that ended (asyncio.run) left it: its transports go with it
        d = None
    if d is None:
        d = _DRIVERS[runner] = _Driver(runner, loop)
    return d


class StreamTransport(asyncio.Transport):
    """An :class:`asyncio.Transport` over a kame stream socket."""

    def __init__(self, driver: _Driver, sock: StreamSocket, protocol: asyncio.BaseProtocol,
                 server: Server | None = None) -> None:
        super().__init__({"socket": sock, "peername": sock.getpeername(),
                          "sockname": sock.getsockname()})
        self._d, self._sock, self._protocol = driver, sock, protocol
        self._server = server
        self._wbuf = bytearray()
        self._high, self._low = HIGH_WATER, LOW_WATER
        self._closing = self._lost = self._eof = self._write_eof = False
        self._paused = self._writing_paused = False
        driver.pumps.append(self)
        if server is not None:
            server._attach()
        protocol.connection_made(self)
        driver.kick()

    # --- asyncio.Transport ----------------------------------------------------------

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def is_closing(self) -> bool:
        return self._closing

    def is_reading(self) -> bool:
        return not self._paused and not self._closing

    def pause_reading(self) -> None:
        self._paused = True

    def resume_reading(self) -> None:
        if self._paused:
            self._paused = False
            self._d.kick()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if high is None:
            high = HIGH_WATER if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high, self._low = high, low

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._low, self._high

    def get_write_buffer_size(self) -> int:
        return len(self._wbuf)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data argument must be a bytes-like object, not {type(data).__name__}")
        if self._write_eof:
            raise RuntimeError("Cannot call write() after write_eof()")
        if self._closing or self._lost or not data:
            return
        self._wbuf += data
        self._flush()
        self._d.kick()
        self._check_high()

    def writelines(self, list_of_data: Any) -> None:
        for d in list_of_data:
            self.write(d)

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        if self._write_eof or self._lost:
            return
        self._write_eof = True
        self._flush()
        self._d.kick()

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._flush()
        self._d.kick()

    def abort(self) -> None:
        self._lose(None, abort=True)

    # --- the pump ---------------------------------------------------------------------

    def _check_high(self) -> None:
        if not self._writing_paused and len(self._wbuf) > self._high:
            self._writing_paused = True
            self._protocol.pause_writing()

    def _flush(self) -> None:
        s = self._sock
        try:
            while self._wbuf:
                n = s.send(bytes(self._wbuf[:READ_CHUNK]))
                del self._wbuf[:n]
        except BlockingIOError:
            pass
        except OSError as e:
            self._lose(e)
            return
        if self._writing_paused and len(self._wbuf) <= self._low:
            self._writing_paused = False
            self._protocol.resume_writing()
        if not self._wbuf and (self._write_eof or self._closing) and not s.cantsendmore:
            try:
                s.shutdown(SHUT_WR)
            except OSError:
                pass

    def _pump(self) -> None:
        if self._lost:
            return
        s = self._sock
        proto = self._protocol
        while not self._paused and not self._eof and not self._lost:
            try:
                data = s.recv(READ_CHUNK)
            except BlockingIOError:
                break
            except OSError as e:
                self._lose(e)
                return
            if data:
                if not self._closing:
                    proto.data_received(data)  # type: ignore[attr-defined]
                continue
            self._eof = True
            if not self._closing:
                keep_open = proto.eof_received()  # type: ignore[attr-defined]
                if not keep_open:
                    self.close()
        if self._lost:
            return
        self._flush()
        if self._lost:
            return
        tp = s.tp
        gone = tp is None or tp.gone
        if not self._wbuf and (self._closing or gone and self._eof and s.cantsendmore):
            # all we had is in TCP's send buffer: the socket closes (TCP goes
            # on to send it and our FIN, as a kernel does after close(2))
            self._lose(None)
        elif gone and s.so_error:
            err = s.getsockopt(SOL_SOCKET, SO_ERROR)
            self._lose(OSError(err, os.strerror(err)))

    def _lose(self, exc: Exception | None, *, abort: bool = False) -> None:
        if self._lost:
            return
        self._lost = self._closing = True
        if abort or exc is not None:
            self._sock.close_abort() if abort else self._sock.close()
        else:
            self._sock.close()
        if self in self._d.pumps:
            self._d.pumps.remove(self)
        self._d.kick()
        self._d.loop.call_soon(self._connection_lost, exc)

    def _connection_lost(self, exc: Exception | None) -> None:
        try:
            self._protocol.connection_lost(exc)
        finally:
            if self._server is not None:
                self._server._detach()
                self._server = None


class DatagramTransport(asyncio.DatagramTransport):
    """An :class:`asyncio.DatagramTransport` over a kame UDP socket."""

    def __init__(self, driver: _Driver, sock: Any, protocol: asyncio.DatagramProtocol,
                 address: Any = None) -> None:
        extra = {"socket": sock, "sockname": sock.getsockname()}
        if address is not None:
            extra["peername"] = sock.getpeername()
        super().__init__(extra)
        self._d, self._sock, self._protocol = driver, sock, protocol
        self._address = address
        self._closing = False
        driver.pumps.append(self)
        protocol.connection_made(self)
        driver.kick()

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol  # type: ignore[assignment]

    def is_closing(self) -> bool:
        return self._closing

    def get_write_buffer_size(self) -> int:
        return 0

    def sendto(self, data: bytes | bytearray | memoryview, addr: Any = None) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data argument must be a bytes-like object, not {type(data).__name__}")
        if self._closing:
            return
        try:
            if addr is None or self._address is not None:
                if addr is not None and addr[:2] != self._address[:2]:
                    raise ValueError(f"Invalid address: must be None or {self._address}")
                self._sock.send(bytes(data))
            else:
                self._sock.sendto(bytes(data), addr)
        except OSError as e:
            self._protocol.error_received(e)
        self._d.kick()

    def _pump(self) -> None:
        if self._closing:
            return
        s = self._sock
        for _ in range(1024):
            try:
                data, addr = s.recvfrom(65536)
            except BlockingIOError:
                return
            except OSError as e:
                self._protocol.error_received(e)
                continue
            self._protocol.datagram_received(data, addr)

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._sock.close()
        if self in self._d.pumps:
            self._d.pumps.remove(self)
        self._d.loop.call_soon(self._protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()


class Server(asyncio.AbstractServer):
    """What :meth:`Stack.start_server` returns: an
    :class:`asyncio.AbstractServer` over kame listeners (``close``,
    ``wait_closed``, ``serve_forever``, ``sockets``, ``async with``)."""

    def __init__(self, stack: Stack, driver: _Driver, socks: list[StreamSocket],
                 factory: Callable[[], asyncio.BaseProtocol]) -> None:
        self._stack, self._d, self._socks, self._factory = stack, driver, socks, factory
        self._active = 0
        self._serving = True
        self._waiters: list[asyncio.Future[None]] = []
        self._forever: asyncio.Future[None] | None = None
        driver.pumps.append(self)
        driver.kick()

    @property
    def sockets(self) -> tuple[StreamSocket, ...]:
        return tuple(self._socks)

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._d.loop

    def is_serving(self) -> bool:
        return self._serving

    def _attach(self) -> None:
        self._active += 1

    def _detach(self) -> None:
        self._active -= 1
        self._wake()

    def _wake(self) -> None:
        if not self._serving and self._active == 0:
            for w in self._waiters:
                if not w.done():
                    w.set_result(None)
            self._waiters.clear()

    def _pump(self) -> None:
        if not self._serving:
            return
        for ls in self._socks:
            while True:
                try:
                    c, _ = ls.accept()
                except BlockingIOError:
                    break
                except OSError:
                    break
                StreamTransport(self._d, c, self._factory(), self)

    def close(self) -> None:
        if not self._serving:
            return
        self._serving = False
        for ls in self._socks:
            ls.close()
        if self in self._d.pumps:
            self._d.pumps.remove(self)
        if self._forever is not None and not self._forever.done():
            self._forever.cancel()
        self._d.kick()
        self._wake()

    def close_clients(self) -> None:
        for p in list(self._d.pumps):
            if isinstance(p, StreamTransport) and p._server is self:
                p.close()

    async def start_serving(self) -> None:
        return None

    async def serve_forever(self) -> None:
        if self._forever is not None:
            raise RuntimeError("server is already being awaited on serve_forever()")
        self._forever = self._d.loop.create_future()
        try:
            await self._forever
        except asyncio.CancelledError:
            self.close()
            await self.wait_closed()
            raise
        finally:
            self._forever = None

    async def wait_closed(self) -> None:
        if not self._serving and self._active == 0:
            return
        fut: asyncio.Future[None] = self._d.loop.create_future()
        self._waiters.append(fut)
        self._wake()
        await fut

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
        await self.wait_closed()


class Stack:
    """One node's sockets (a :class:`kame.socket.SocketLayer`) on a runner,
    with asyncio's connection calls."""

    def __init__(self, layer: Any, runner: Runner, *,
                 resolver: netdb.Resolver | None = None) -> None:
        self.layer, self.runner = layer, runner
        self.resolver = resolver if resolver is not None else netdb.Resolver()

    def _addrs(self, host: str | None, port: int, family: int, type: int,
               passive: bool = False) -> list[tuple[int, Any]]:
        flags = netdb.AI_PASSIVE if passive else 0
        res = netdb.getaddrinfo(host, port, family, type, 0, flags, resolver=self.resolver,
                                node=self.layer.node)
        out: list[tuple[int, Any]] = []
        for fam, _t, _p, _c, sa in res:
            if (fam, sa) not in out:
                out.append((fam, sa))
        return out

    async def create_connection(self, protocol_factory: Callable[[], asyncio.BaseProtocol],
                                host: str, port: int, *, family: int = 0,
                                local_addr: tuple[str, int] | None = None
                                ) -> tuple[StreamTransport, asyncio.BaseProtocol]:
        """``loop.create_connection`` through the node: each address of
        ``host`` in turn, the first connection that completes wins."""
        d = _driver(self.runner)
        last: OSError | None = None
        for fam, sa in self._addrs(host, port, family, SOCK_STREAM):
            s: StreamSocket = self.layer.socket(fam, SOCK_STREAM)
            try:
                if local_addr is not None:
                    s.bind(local_addr)
                await self._connect(d, s, sa)
            except OSError as e:
                s.close()
                last = e
                continue
            except BaseException:
                s.close()
                raise
            proto = protocol_factory()
            return StreamTransport(d, s, proto), proto
        raise last if last is not None else OSError(errno.EHOSTUNREACH, "no address")

    async def _connect(self, d: _Driver, s: StreamSocket, sa: Any) -> None:
        try:
            s.connect(sa)
            return
        except BlockingIOError:
            pass
        fut: asyncio.Future[None] = d.loop.create_future()

        class _Waiter:
            @staticmethod
            def _pump() -> None:
                if fut.done():
                    return
                if s.so_error or (s.tp is not None and s.tp.gone):
                    e = s.getsockopt(SOL_SOCKET, SO_ERROR) or errno.ECONNREFUSED
                    fut.set_exception(OSError(e, os.strerror(e)))
                elif s.connected:
                    fut.set_result(None)

        w = _Waiter()
        d.pumps.append(w)
        d.kick()
        try:
            await fut
        finally:
            if w in d.pumps:
                d.pumps.remove(w)

    async def open_connection(self, host: str, port: int, *, limit: int = 2 ** 16,
                              **kw: Any) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """:func:`asyncio.open_connection` through the node."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=limit, loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        transport, _ = await self.create_connection(lambda: protocol, host, port, **kw)
        return reader, asyncio.StreamWriter(transport, protocol, reader, loop)

    async def create_server(self, protocol_factory: Callable[[], asyncio.BaseProtocol],
                            host: str | None = None, port: int = 0, *, family: int = 0,
                            backlog: int = 100, reuse_address: bool = True) -> Server:
        """``loop.create_server`` on the node: with no ``host``, an
        ``AF_INET6`` wildcard listener (which takes IPv4 too where the
        profile lets ``IPV6_V6ONLY`` be off) and, where it does not, an
        ``AF_INET`` one beside it."""
        d = _driver(self.runner)
        socks: list[StreamSocket] = []
        try:
            if host is None or host == "":
                fams = [family] if family else [AF_INET6, AF_INET]
                for fam in fams:
                    s = self.layer.socket(fam, SOCK_STREAM)
                    socks.append(s)
                    if reuse_address:
                        s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
                    if fam == AF_INET6 and not family and not s.v6only:
                        s.bind(("::", port))
                        s.listen(backlog)
                        port = s.getsockname()[1]
                        break
                    s.bind(("::" if fam == AF_INET6 else "0.0.0.0", port))
                    s.listen(backlog)
                    port = s.getsockname()[1]
            else:
                for fam, sa in self._addrs(host, port, family, SOCK_STREAM, passive=True):
                    s = self.layer.socket(fam, SOCK_STREAM)
                    socks.append(s)
                    if reuse_address:
                        s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
                    s.bind(sa)
                    s.listen(backlog)
        except BaseException:
            for s in socks:
                s.close()
            raise
        return Server(self, d, socks, protocol_factory)

    async def start_server(self, client_connected_cb: Callable[
            [asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None] | None],
            host: str | None = None, port: int = 0, *, limit: int = 2 ** 16,
            **kw: Any) -> Server:
        """:func:`asyncio.start_server` on the node."""
        loop = asyncio.get_running_loop()

        def factory() -> asyncio.BaseProtocol:
            reader = asyncio.StreamReader(limit=limit, loop=loop)
            return asyncio.StreamReaderProtocol(reader, client_connected_cb, loop=loop)

        return await self.create_server(factory, host, port, **kw)

    async def create_datagram_endpoint(
            self, protocol_factory: Callable[[], asyncio.DatagramProtocol],
            local_addr: tuple[Any, ...] | None = None,
            remote_addr: tuple[Any, ...] | None = None, *,
            family: int = 0) -> tuple[DatagramTransport, asyncio.DatagramProtocol]:
        """``loop.create_datagram_endpoint`` over a kame UDP socket."""
        d = _driver(self.runner)
        if not family:
            ref = remote_addr or local_addr
            family = AF_INET6
            if ref is not None:
                family = self._addrs(ref[0], ref[1], 0, SOCK_DGRAM)[0][0]
        s = self.layer.socket(family, SOCK_DGRAM)
        try:
            if local_addr is not None:
                la = self._addrs(local_addr[0], local_addr[1], family, SOCK_DGRAM,
                                 passive=True)[0][1]
                s.bind(la)
            ra = None
            if remote_addr is not None:
                ra = self._addrs(remote_addr[0], remote_addr[1], family, SOCK_DGRAM)[0][1]
                s.connect(ra)
        except BaseException:
            s.close()
            raise
        proto = protocol_factory()
        return DatagramTransport(d, s, proto, ra), proto

    def close(self) -> None:
        """Stop driving the runner from the running loop."""
        d = _DRIVERS.pop(self.runner, None)
        if d is not None:
            d.close()
