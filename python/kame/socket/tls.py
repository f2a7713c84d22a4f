"""TLS over the blocking shim's sockets (:mod:`kame.socket.blocking`), with
the interface of :class:`ssl.SSLSocket`, so that ``https://`` through
``urllib.request`` and ``http.client.HTTPSConnection``, ``smtplib``'s
``starttls``, ``ftplib.FTP_TLS`` and ``http.server`` behind
``SSLContext.wrap_socket`` run through a node unchanged.

The TLS is the host's OpenSSL (Python's :mod:`ssl`), driven through an
:class:`ssl.SSLObject` over two memory BIOs: records the object writes go
out with the kame socket's ``sendall``, records the kame socket receives
are fed to it. :class:`SSLSocket` is what ``SSLContext.wrap_socket``
returns for a kame socket once the context's ``sslsocket_class`` is it
(:func:`use`; :meth:`kame.socket.blocking.Stack.patched` sets it on
:class:`ssl.SSLContext` for the block it runs); for any other socket it
hands over to :class:`ssl.SSLSocket`, so a context can serve both.

Errors are :mod:`ssl`'s: a bad certificate is
:class:`ssl.SSLCertVerificationError`, a socket in non-blocking mode that
needs the peer's records raises :class:`ssl.SSLWantReadError`, an EOF
without ``close_notify`` reads as the end of the stream
(``suppress_ragged_eofs``, the default) or raises
:class:`ssl.SSLEOFError`.
"""

from __future__ import annotations

import errno
import socket as _hostsock
import ssl
from typing import Any

from kame.socket.blocking import BlockingSocket, SocketFiles

__all__ = ["SSLSocket", "use"]

#: Octets asked of the kame socket per read: a TLS record and its header.
_RECORD = 16384 + 2048


def use(context: ssl.SSLContext) -> ssl.SSLContext:
    """Make ``context.wrap_socket`` take kame sockets; returns ``context``."""
    context.sslsocket_class = SSLSocket  # type: ignore[assignment]
    return context


class SSLSocket(SocketFiles):
    """A TLS connection over a :class:`~kame.socket.blocking.BlockingSocket`
    (a listening one: :meth:`accept` gives TLS connections)."""

    @classmethod
    def _create(cls, sock: Any, server_side: bool = False, do_handshake_on_connect: bool = True,
                suppress_ragged_eofs: bool = True, server_hostname: str | None = None,
                context: ssl.SSLContext | None = None,
                session: ssl.SSLSession | None = None) -> Any:
        """``SSLContext.wrap_socket``'s constructor."""
        if not isinstance(sock, BlockingSocket):
            return ssl.SSLSocket._create(  # type: ignore[attr-defined]
                sock=sock, server_side=server_side,
                do_handshake_on_connect=do_handshake_on_connect,
                suppress_ragged_eofs=suppress_ragged_eofs, server_hostname=server_hostname,
                context=context, session=session)
        if context is None:
            raise ValueError("a context is needed")
        return cls(sock, context, server_side=server_side,
                   do_handshake_on_connect=do_handshake_on_connect,
                   suppress_ragged_eofs=suppress_ragged_eofs,
                   server_hostname=server_hostname, session=session)

    def __init__(self, sock: BlockingSocket, context: ssl.SSLContext, *,
                 server_side: bool = False, do_handshake_on_connect: bool = True,
                 suppress_ragged_eofs: bool = True, server_hostname: str | None = None,
                 session: ssl.SSLSession | None = None) -> None:
        if sock.type != _hostsock.SOCK_STREAM:
            raise NotImplementedError("only stream sockets are supported")
        if server_side and server_hostname:
            raise ValueError("server_hostname can only be specified in client mode")
        if context.check_hostname and not server_side and not server_hostname:
            raise ValueError("check_hostname requires server_hostname")
        self._sock = sock
        self.context = context
        self.server_side = server_side
        self.server_hostname = server_hostname
        self.do_handshake_on_connect = do_handshake_on_connect
        self.suppress_ragged_eofs = suppress_ragged_eofs
        self._session = session
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._obj: ssl.SSLObject | None = None
        self._io_refs = 0
        self._closed = False
        if not sock.kame_socket.listening and self._connected():
            self._start()
            if do_handshake_on_connect:
                self.do_handshake()

    def _connected(self) -> bool:
        try:
            self._sock.getpeername()
        except OSError as e:
            if e.errno != errno.ENOTCONN:
                raise
            return False
        return True

    def _start(self) -> None:
        self._obj = self.context.wrap_bio(self._in, self._out, server_side=self.server_side,
                                          server_hostname=self.server_hostname,
                                          session=self._session)

    # --- the record pump --------------------------------------------------------------

    def _flush(self) -> None:
        data = self._out.read()
        if data:
            self._sock.sendall(data)

    def _fill(self) -> None:
        try:
            data = self._sock.recv(_RECORD)
        except BlockingIOError:
            raise ssl.SSLWantReadError("The operation did not complete (read)") from None
        if data:
            self._in.write(data)
        else:
            self._in.write_eof()

    def _pump(self, step: Any) -> Any:
        """``step()`` on the TLS object, moving records until it completes."""
        while True:
            try:
                res = step()
            except ssl.SSLWantReadError:
                self._flush()
                self._fill()
                continue
            except ssl.SSLWantWriteError:
                self._flush()
                continue
            self._flush()
            return res

    def _tls(self) -> ssl.SSLObject:
        if self._obj is None:  # closed (with no file open on it), or never connected
            if self._sock._closed:
                raise OSError(errno.EBADF, "Bad file descriptor")
            raise OSError(errno.ENOTCONN, "Socket is not connected")
        return self._obj

    # --- ssl.SSLSocket's calls --------------------------------------------------------

    def do_handshake(self, block: bool = False) -> None:
        obj = self._tls()
        self._pump(obj.do_handshake)

    def connect(self, address: Any) -> None:
        if self._obj is not None:
            raise ValueError("attempt to connect already-connected SSLSocket!")
        self._sock.connect(address)
        self._start()
        if self.do_handshake_on_connect:
            self.do_handshake()

    def connect_ex(self, address: Any) -> int:
        try:
            self.connect(address)
        except OSError as e:
            return e.errno or errno.EIO
        return 0

    def accept(self) -> tuple[SSLSocket, Any]:
        conn, addr = self._sock.accept()
        try:
            return SSLSocket(conn, self.context, server_side=True,
                             do_handshake_on_connect=self.do_handshake_on_connect,
                             suppress_ragged_eofs=self.suppress_ragged_eofs), addr
        except BaseException:
            conn.close()
            raise

    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        obj = self._tls()
        try:
            if buffer is not None:
                return self._pump(lambda: obj.read(len, buffer))
            return self._pump(lambda: obj.read(len))
        except ssl.SSLZeroReturnError:
            return 0 if buffer is not None else b""
        except ssl.SSLEOFError:
            if self.suppress_ragged_eofs:
                return 0 if buffer is not None else b""
            raise

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        if flags:
            raise ValueError(f"non-zero flags not allowed in calls to recv() on {type(self)}")
        data: bytes = self.read(buflen)
        return data

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        if flags:
            raise ValueError(f"non-zero flags not allowed in calls to recv_into() on {type(self)}")
        mv = memoryview(buffer).cast("B")
        n = nbytes or len(mv)
        if n == 0:
            return 0
        got: int = self.read(n, mv[:n])
        return got

    def write(self, data: Any) -> int:
        obj = self._tls()
        n: int = self._pump(lambda: obj.write(data))
        return n

    def send(self, data: Any, flags: int = 0) -> int:
        if flags:
            raise ValueError(f"non-zero flags not allowed in calls to send() on {type(self)}")
        return self.write(bytes(data))

    def sendall(self, data: Any, flags: int = 0) -> None:
        view = memoryview(bytes(data))
        while view:
            n = self.send(view[:16384], flags)
            view = view[n:]

    def pending(self) -> int:
        return self._obj.pending() if self._obj is not None else 0

    def getpeercert(self, binary_form: bool = False) -> Any:
        return self._tls().getpeercert(binary_form)

    def cipher(self) -> tuple[str, str, int] | None:
        return self._obj.cipher() if self._obj is not None else None

    def shared_ciphers(self) -> list[tuple[str, str, int]] | None:
        return self._obj.shared_ciphers() if self._obj is not None else None

    def version(self) -> str | None:
        return self._obj.version() if self._obj is not None else None

    def selected_alpn_protocol(self) -> str | None:
        return self._obj.selected_alpn_protocol() if self._obj is not None else None

    def compression(self) -> str | None:
        return None

    def get_channel_binding(self, cb_type: str = "tls-unique") -> bytes | None:
        return self._tls().get_channel_binding(cb_type)

    @property
    def session(self) -> ssl.SSLSession | None:
        return self._obj.session if self._obj is not None else self._session

    @property
    def session_reused(self) -> bool | None:
        return self._obj.session_reused if self._obj is not None else None

    def unwrap(self) -> BlockingSocket:
        """Send close_notify, wait for the peer's, give the plain socket back."""
        obj = self._tls()
        self._pump(obj.unwrap)
        self._obj = None
        return self._sock

    def _real_close(self) -> None:
        if self._io_refs > 0:
            return
        obj, self._obj = self._obj, None
        if obj is not None:  # close_notify, as OpenSSL's SSL_shutdown sends it
            try:
                obj.unwrap()
            except (ssl.SSLError, ValueError):
                pass
            try:
                self._flush()
            except OSError:
                pass
        self._sock.close()

    def __repr__(self) -> str:
        return f"<kame SSLSocket {self.version() or 'no TLS yet'} over {self._sock!r}>"

    def __getattr__(self, name: str) -> Any:
        """The rest (``fileno``, timeouts, names, options, ``shutdown``...)
        is the kame socket's."""
        if name.startswith("__") or name == "_sock":
            raise AttributeError(name)
        return getattr(self._sock, name)
