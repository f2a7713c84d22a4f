"""Blocking sockets over a kame node, with the interface of Python's
:mod:`socket`, so that ``http.client``, ``urllib.request``, ``smtplib`` and
``ftplib`` (EPSV and EPRT, RFC 2428) run through the node unchanged.

A :class:`Stack` owns a node's :class:`~kame.socket.SocketLayer` and the
:class:`~kame.link.runner.Runner` that moves its frames; :meth:`Stack.start`
runs the runner in a background thread (``select`` on the TAP descriptors
and a wake-up pipe until the next deadline). One lock guards the node:
every socket call takes it, and a call that would block (``EAGAIN``,
``EINPROGRESS``) waits on the lock's condition, woken after each pass of
the runner, until it can go on or its timeout (``settimeout``) runs out
(:class:`TimeoutError`, ``socket.timeout``). What a call queued is sent in
the same breath. Errors are the profile's errno values.

The stack is also a stand-in for the :mod:`socket` module: ``socket()``,
``create_connection()``, ``create_server()``, ``getaddrinfo()`` (numeric
addresses, or the :class:`kame.netdb.Resolver` given) and every other name
of the host's module (constants, exceptions). Hand it over as a factory::

    conn = http.client.HTTPConnection("2001:db8::1", 8000)
    conn._create_connection = stack.create_connection

or swap it in for a library's ``socket`` global while a block runs::

    with stack.patched(http.client, smtplib, ftplib):
        urllib.request.urlopen("http://[2001:db8::1]:8000/")
        smtplib.SMTP("192.0.2.1", 25, local_hostname="kame")
        ftplib.FTP("2001:db8::1")  # EPSV; set_pasv(False): EPRT

``fileno()`` is a real descriptor that ``select``, ``poll``, ``epoll`` and
:mod:`selectors` wait on (so ``socketserver``'s ``serve_forever``, and
with it ``http.server``, run on the node): one end of a host socket pair
made on the first ``fileno()`` call, which the runner thread keeps
readable while the kame socket is (data, a connection to accept, EOF, an
error) and writable while it has send space, after every pass of the
runner and every socket call. Read and write through the socket's
methods, never the descriptor.
"""

from __future__ import annotations

import errno
import math
import os
import select
import socket as _hostsock
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any, ClassVar, Self, TypeVar

from kame import netdb
from kame.link.runner import Runner
from kame.socket.const import AF_INET, AF_INET6, SO_ERROR, SO_REUSEADDR, SOL_SOCKET
from kame.socket.stream import SOCK_STREAM, StreamSocket

__all__ = ["BlockingSocket", "RunnerThread", "SocketFiles", "Stack"]

T = TypeVar("T")
_DEFAULT = _hostsock._GLOBAL_DEFAULT_TIMEOUT  # type: ignore[attr-defined]
_READ_EVENTS = select.POLLIN | select.POLLERR | select.POLLHUP | select.POLLNVAL
_WRITE_EVENTS = select.POLLOUT | select.POLLERR


class Readiness:
    """A kame socket's readiness as a host descriptor (``fileno()``): the
    ``fd`` end of an AF_UNIX stream pair is readable while a byte waits in
    it and writable while its send buffer (made as small as the host
    allows) has room; the other end sets both."""

    __slots__ = ("_a", "_b", "readable", "writable")

    def __init__(self) -> None:
        self._a, self._b = _hostsock.socketpair(_hostsock.AF_UNIX, _hostsock.SOCK_STREAM)
        self._a.setblocking(False)
        self._b.setblocking(False)
        self._a.setsockopt(_hostsock.SOL_SOCKET, _hostsock.SO_SNDBUF, 1)
        self.readable, self.writable = False, True

    @property
    def fd(self) -> int:
        return self._a.fileno()

    @staticmethod
    def _drain(s: _hostsock.socket) -> None:
        try:
            while s.recv(65536):
                pass
        except OSError:
            pass

    def set(self, readable: bool, writable: bool) -> None:
        if readable != self.readable:
            self.readable = readable
            if readable:
                try:
                    self._b.send(b"r")
                except OSError:
                    pass
            else:
                self._drain(self._a)
        if writable != self.writable:
            self.writable = writable
            if writable:
                self._drain(self._b)
            else:  # fill the send buffer: not writable until drained
                try:
                    while self._a.send(bytes(4096)):
                        pass
                except OSError:
                    pass

    def close(self) -> None:
        self._a.close()
        self._b.close()


class RunnerThread:
    """A runner in a background thread, with the one lock its nodes are
    used under: one per runner, shared by every :class:`Stack` on it (two
    nodes on one memory link)."""

    _of: ClassVar[weakref.WeakKeyDictionary[Runner, RunnerThread]] = \
        weakref.WeakKeyDictionary()

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        #: The one lock: the nodes, their sockets and the runner are used under it.
        self.cond = threading.Condition(threading.RLock())
        self._thread: threading.Thread | None = None
        self._stop = False
        self._users = 0
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        #: Sockets whose ``fileno()`` was asked for: their readiness kept.
        self.watched: weakref.WeakSet[BlockingSocket] = weakref.WeakSet()
        os.set_blocking(self._wake_w, False)

    @classmethod
    def of(cls, runner: Runner) -> RunnerThread:
        t = cls._of.get(runner)
        if t is None:
            t = cls._of[runner] = cls(runner)
        return t

    def start(self) -> None:
        self._users += 1
        if self._thread is None:
            self._stop = False
            self._thread = threading.Thread(target=self._loop, name="kame-runner", daemon=True)
            self._thread.start()

    def release(self) -> None:
        self._users -= 1
        if self._users <= 0:
            self._users = 0
            self._stop = True
            self.wake()
            if self._thread is not None and self._thread is not threading.current_thread():
                self._thread.join(timeout=5)
            self._thread = None

    def wake(self) -> None:
        """Make the thread look at its deadline again."""
        try:
            os.write(self._wake_w, b"\0")
        except OSError:
            pass

    def _loop(self) -> None:
        while not self._stop:
            with self.cond:
                wait = self.runner.timeout(0.5)
                fds = self.runner.fds()
            try:
                r, _, _ = select.select([*fds, self._wake_r], [], [], wait)
            except (InterruptedError, ValueError, OSError):
                r = []
            if self._wake_r in r:
                try:
                    while os.read(self._wake_r, 512):
                        pass
                except OSError:
                    pass
            with self.cond:
                self.runner.service()
                self.refresh()
                self.cond.notify_all()

    def kick(self) -> None:
        """Under the lock, after a socket call: send what it queued now."""
        self.runner.service()
        self.refresh()
        self.cond.notify_all()
        self.wake()

    def refresh(self) -> None:
        """Under the lock: the watched sockets' descriptors follow their
        readiness."""
        for bs in list(self.watched):
            bs.update_readiness()

    def __del__(self) -> None:
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass


class Stack:
    """A node's sockets as blocking calls, its runner in a thread."""

    def __init__(self, layer: Any, runner: Runner, *,
                 resolver: netdb.Resolver | None = None) -> None:
        self.layer, self.runner = layer, runner
        self.node = layer.node
        self.resolver = resolver if resolver is not None else netdb.Resolver()
        self.thread = RunnerThread.of(runner)
        #: The one lock (the runner thread's).
        self.cond = self.thread.cond
        self._default_timeout: float | None = None
        self._started = False

    def start(self) -> Self:
        """Run the node in a background (daemon) thread (once per runner)."""
        if not self._started:
            self._started = True
            self.thread.start()
        return self

    def close(self) -> None:
        """Stop using the thread (it ends with its last stack)."""
        if self._started:
            self._started = False
            self.thread.release()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def kick(self) -> None:
        self.thread.kick()

    def call(self, fn: Callable[[], T], timeout: float | None) -> T:
        """``fn()`` under the lock; while it raises :class:`BlockingIOError`
        wait (at most ``timeout`` seconds, ``None``: for ever; ``0.0``: not
        at all) and try again."""
        end = None if timeout is None else time.monotonic() + timeout
        with self.cond:
            while True:
                try:
                    res = fn()
                except BlockingIOError:
                    if timeout is not None and timeout <= 0:
                        self.kick()
                        raise
                else:
                    self.kick()
                    return res
                self.kick()
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError("timed out")
                self.cond.wait(0.5 if left is None else min(0.5, left))

    # --- the socket module -------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_hostsock, name)

    def socket(self, family: int = AF_INET, type: int = SOCK_STREAM, proto: int = 0,
               fileno: int | None = None) -> BlockingSocket:
        if fileno is not None:
            raise OSError(errno.EBADF, "a kame socket has no descriptor to adopt")
        with self.cond:
            s = self.layer.socket(int(family), int(type), int(proto))
        return BlockingSocket(self, s, self._default_timeout)

    def getdefaulttimeout(self) -> float | None:
        return self._default_timeout

    def setdefaulttimeout(self, timeout: float | None) -> None:
        self._default_timeout = _timeout(timeout)

    def gethostname(self) -> str:
        return str(getattr(self.node, "hostname", "kame"))

    def getfqdn(self, name: str = "") -> str:
        return name or self.gethostname()

    def getaddrinfo(self, host: Any, port: Any, family: int = 0, type: int = 0,
                    proto: int = 0, flags: int = 0) -> list[tuple[Any, ...]]:
        with self.cond:
            return netdb.getaddrinfo(host, port, family, type, proto, flags,
                                     resolver=self.resolver, node=self.node)

    def create_connection(self, address: tuple[Any, ...], timeout: Any = _DEFAULT,
                          source_address: tuple[Any, ...] | None = None, *,
                          all_errors: bool = False) -> BlockingSocket:
        """:func:`socket.create_connection` through the node."""
        host, port = address[0], address[1]
        errors: list[OSError] = []
        for fam, typ, proto, _c, sa in self.getaddrinfo(host, port, 0, SOCK_STREAM):
            s = None
            try:
                s = self.socket(fam, typ, proto)
                if timeout is not _DEFAULT:
                    s.settimeout(timeout)
                if source_address:
                    s.bind(source_address)
                s.connect(sa)
                return s
            except OSError as e:
                errors.append(e)
                if s is not None:
                    s.close()
        if not errors:
            raise OSError("getaddrinfo returns an empty list")
        if all_errors:
            raise ExceptionGroup("create_connection failed", errors)
        raise errors[0]

    def create_server(self, address: tuple[Any, ...], *, family: int = AF_INET,
                      backlog: int | None = None, reuse_port: bool = False,
                      dualstack_ipv6: bool = False) -> BlockingSocket:
        """:func:`socket.create_server` on the node."""
        s = self.socket(family, SOCK_STREAM)
        try:
            s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
            if family == AF_INET6 and dualstack_ipv6:
                s.setsockopt(41, _hostsock.IPV6_V6ONLY, 0)
            elif family == AF_INET6:
                try:  # as the socket module does: IPv6 only where the profile lets us say so
                    s.setsockopt(41, _hostsock.IPV6_V6ONLY, 1)
                except OSError:
                    pass
            s.bind(address)
            s.listen(128 if backlog is None else backlog)
        except BaseException:
            s.close()
            raise
        return s

    @contextmanager
    def patched(self, *modules: ModuleType) -> Iterator[Stack]:
        """While the block runs, each module's ``socket`` global is this stack
        (``http.client``, ``smtplib``, ``ftplib``...; process-wide), and
        ``ssl.SSLContext.wrap_socket`` takes kame sockets
        (:mod:`kame.socket.tls`; other sockets it wraps as before)."""
        import ssl

        from kame.socket.tls import SSLSocket

        saved = [(m, m.socket) for m in modules]
        saved_ssl = ssl.SSLContext.sslsocket_class
        for m in modules:
            m.socket = self  # type: ignore[attr-defined]
        ssl.SSLContext.sslsocket_class = SSLSocket  # type: ignore[assignment]
        try:
            yield self
        finally:
            ssl.SSLContext.sslsocket_class = saved_ssl
            for m, s in saved:
                m.socket = s  # type: ignore[attr-defined]


def _timeout(value: Any) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError("Timeout value must be int, float or None") from None
    if math.isnan(v) or v < 0:
        raise ValueError("Timeout value out of range")
    return v


class SocketFiles:
    """What :meth:`socket.socket.makefile` needs of a socket, and the close
    that waits for its files (``socket.socket``'s ``_io_refs``): a socket
    closed while a file made from it is open closes for real
    (:meth:`_real_close`) when the last such file closes."""

    _io_refs: int
    _closed: bool

    def makefile(self, mode: str = "r", buffering: int | None = None, *,
                 encoding: str | None = None, errors: str | None = None,
                 newline: str | None = None) -> Any:
        """As :meth:`socket.socket.makefile` (the same code: a
        :class:`socket.SocketIO` over ``recv_into`` and ``send``)."""
        return _hostsock.socket.makefile(self, mode, buffering,  # type: ignore[call-overload]
                                         encoding=encoding, errors=errors, newline=newline)

    def _decref_socketios(self) -> None:
        if self._io_refs > 0:
            self._io_refs -= 1
        if self._closed:
            self._real_close()

    def _real_close(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._closed = True
        if self._io_refs <= 0:
            self._real_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BlockingSocket(SocketFiles):
    """A kame socket with :class:`socket.socket`'s blocking behaviour."""

    def __init__(self, stack: Stack, sock: Any, timeout: float | None) -> None:
        self._stack, self._sock = stack, sock
        self._timeout = timeout
        self._io_refs = 0
        self._closed = False
        self._ready: Readiness | None = None

    # --- properties and plumbing ---------------------------------------------------

    @property
    def family(self) -> _hostsock.AddressFamily:
        return _hostsock.AddressFamily(self._sock.family)

    @property
    def type(self) -> _hostsock.SocketKind:
        return _hostsock.SocketKind(self._sock.type)

    @property
    def proto(self) -> int:
        return int(self._sock.proto)

    @property
    def kame_socket(self) -> Any:
        """The :class:`kame.socket` socket underneath."""
        return self._sock

    def __repr__(self) -> str:
        return f"<kame BlockingSocket family={self.family!r} type={self.type!r} " \
               f"{'closed' if self._closed else 'open'}>"

    def fileno(self) -> int:
        """A host descriptor that polls as this socket does (module docs)."""
        if self._closed:
            return -1
        if self._ready is None:
            with self._stack.cond:
                if self._ready is None:
                    self._ready = Readiness()
                    self._stack.thread.watched.add(self)
                    self.update_readiness()
        return self._ready.fd

    def update_readiness(self) -> None:
        """Under the lock: set the descriptor's readiness from the socket's
        (``poll`` events: POLLIN, an error or a hang-up read as readable,
        POLLOUT or an error as writable, as the kernel's ``select``)."""
        if self._ready is None:
            return
        rv = self._stack.layer._revents(self._sock)
        self._ready.set(bool(rv & _READ_EVENTS), bool(rv & _WRITE_EVENTS))

    def gettimeout(self) -> float | None:
        return self._timeout

    def settimeout(self, value: float | None) -> None:
        self._timeout = _timeout(value)

    def setblocking(self, flag: bool) -> None:
        self._timeout = None if flag else 0.0

    def getblocking(self) -> bool:
        return self._timeout != 0.0

    def _call(self, fn: Callable[[], T]) -> T:
        if self._sock.closed:  # closed with files open: they still read (io refs)
            raise OSError(errno.EBADF, "Bad file descriptor")
        return self._stack.call(fn, self._timeout)

    def _now(self, fn: Callable[[], T]) -> T:
        if self._sock.closed:
            raise OSError(errno.EBADF, "Bad file descriptor")
        with self._stack.cond:
            res = fn()
            self._stack.kick()
            return res

    # --- calls ------------------------------------------------------------------------

    def bind(self, address: Any) -> None:
        self._now(lambda: self._sock.bind(address))

    def listen(self, backlog: int = 128) -> None:
        self._now(lambda: self._sock.listen(backlog))

    def accept(self) -> tuple[BlockingSocket, Any]:
        c, addr = self._call(self._sock.accept)
        return BlockingSocket(self._stack, c, self._stack._default_timeout), addr

    def connect(self, address: Any) -> None:
        s = self._sock
        if not isinstance(s, StreamSocket):
            self._now(lambda: s.connect(address))
            return
        try:
            self._now(lambda: s.connect(address))
            return
        except BlockingIOError:
            if self._timeout == 0.0:
                raise

        def done() -> None:
            tp = s.tp
            if s.so_error or tp is None or tp.gone:
                e = s.getsockopt(SOL_SOCKET, SO_ERROR) or errno.ECONNREFUSED
                raise OSError(e, os.strerror(e))
            if not s.connected:
                raise BlockingIOError(errno.EINPROGRESS, "Operation now in progress")

        try:
            self._call(done)
        except TimeoutError:
            raise TimeoutError("timed out") from None
        except OSError as e:
            if e.errno == errno.ECONNREFUSED:
                raise ConnectionRefusedError(e.errno, e.strerror) from None
            raise

    def connect_ex(self, address: Any) -> int:
        try:
            self.connect(address)
        except OSError as e:
            return int(e.errno or errno.ETIMEDOUT)
        return 0

    def send(self, data: Any, flags: int = 0) -> int:
        b = bytes(data)
        n: int = self._call(lambda: self._sock.send(b, flags))
        return n

    def sendall(self, data: Any, flags: int = 0) -> None:
        view = memoryview(bytes(data))
        while view:
            n = self.send(view[:262144], flags)
            view = view[n:]

    def sendto(self, data: Any, flags_or_addr: Any, addr: Any = None) -> int:
        b = bytes(data)
        n: int = self._call(lambda: self._sock.sendto(b, flags_or_addr, addr))
        return n

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        data: bytes = self._call(lambda: self._sock.recv(bufsize, flags))
        return data

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        mv = memoryview(buffer).cast("B")
        n = nbytes or len(mv)
        data = self.recv(n, flags)
        mv[:len(data)] = data
        return len(data)

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, Any]:
        res: tuple[bytes, Any] = self._call(lambda: self._sock.recvfrom(bufsize, flags))
        return res

    def recvfrom_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> tuple[int, Any]:
        mv = memoryview(buffer).cast("B")
        data, addr = self.recvfrom(nbytes or len(mv), flags)
        mv[:len(data)] = data
        return len(data), addr

    def shutdown(self, how: int) -> None:
        self._now(lambda: self._sock.shutdown(how))

    def getsockname(self) -> Any:
        return self._now(self._sock.getsockname)

    def getpeername(self) -> Any:
        return self._now(self._sock.getpeername)

    def setsockopt(self, level: int, opt: int, value: Any, optlen: int | None = None) -> None:
        self._now(lambda: self._sock.setsockopt(level, opt, value))

    def getsockopt(self, level: int, opt: int, buflen: int | bytes = 0) -> Any:
        return self._now(lambda: self._sock.getsockopt(level, opt, buflen))

    def _real_close(self) -> None:
        if self._io_refs > 0:
            return
        with self._stack.cond:
            if not self._sock.closed:
                self._sock.close()
                self._stack.kick()
            if self._ready is not None:
                self._stack.thread.watched.discard(self)
                self._ready.close()
                self._ready = None

    def detach(self) -> int:
        raise OSError(errno.EOPNOTSUPP, "a kame socket has no descriptor to detach")

    def __del__(self) -> None:
        try:
            if not self._closed:
                self._closed = True
                self._real_close()
        except Exception:  # noqa: BLE001,S110 - a finaliser must not raise
            pass
