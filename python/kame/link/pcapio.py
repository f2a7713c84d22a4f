"""The pcap link types and the stream the core's capture reader is fed
from (``open_stream``: a file, gzip-inflated as it is read when it is
compressed). :mod:`kame.link.pcap` re-exports all of it.

Kept apart from the pure-Python readers and writers of
:mod:`kame.link.pcap` so that ``kame dissect``, which reads captures in
the core, starts without loading them (nor :mod:`gzip` unless a capture
is compressed)."""

from __future__ import annotations

TYPE_CHECKING = False  # not ``typing``'s: kame dissect starts without it
if TYPE_CHECKING:
    import gzip
    from typing import BinaryIO

__all__ = [
    "GZIP_MAGIC",
    "LINKTYPE_ETHERNET",
    "LINKTYPE_LINUX_SLL",
    "LINKTYPE_LINUX_SLL2",
    "LINKTYPE_LOOP",
    "LINKTYPE_NULL",
    "LINKTYPE_RAW",
    "open_stream",
]

LINKTYPE_NULL = 0  # BSD loopback: a 4-octet address family in host order
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108  # OpenBSD loopback: the family in network order
LINKTYPE_LINUX_SLL = 113  # Linux cooked capture (`tcpdump -i any`)
LINKTYPE_LINUX_SLL2 = 276  # its second version

GZIP_MAGIC = b"\x1f\x8b"
_GZIP_MAGIC = GZIP_MAGIC


class _Prefixed:
    """A binary reader with a few bytes put back in front."""

    def __init__(self, head: bytes, f: BinaryIO) -> None:
        self.head, self.f = head, f

    def read(self, n: int = -1) -> bytes:
        if not self.head:
            return self.f.read(n)
        if n < 0:
            data, self.head = self.head + self.f.read(), b""
            return data
        data, self.head = self.head[:n], self.head[n:]
        if len(data) < n:
            data += self.f.read(n - len(data))
        return data


class _Gunzip:
    """A gzip stream inflated as it is read (``read(n)`` returns at most
    ``n`` octets, so memory stays bounded); a damaged or cut stream is a
    typed error with ``layer="gzip"`` and the offset in the inflated data."""

    z: gzip.GzipFile

    def __init__(self, f: BinaryIO) -> None:
        import gzip  # only for a compressed capture

        self.z = gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[call-overload]
        self.offset = 0

    def read(self, n: int = -1) -> bytes:
        import gzip
        import zlib

        try:
            data: bytes = self.z.read(n)
        except EOFError as e:
            from kame.errors import TruncatedError

            raise TruncatedError(f"gzip: compressed stream ends early ({e})", layer="gzip",
                                 offset=self.offset, needed=max(n, 1), available=0) from None
        except (gzip.BadGzipFile, zlib.error) as e:
            from kame.errors import MalformedError

            raise MalformedError(f"gzip: {e}", layer="gzip", offset=self.offset) from None
        self.offset += len(data)
        return data


def open_stream(f: BinaryIO, head: bytes | None = None) -> BinaryIO:
    """``f``'s octets (after ``head``, its first ones when the caller has
    read them already), inflated as they are read when it is
    gzip-compressed (found by its magic): the stream the Rust reader
    (``kame._core.Dissector``) is fed from; ``read(n)`` returns at most
    ``n`` octets."""
    if head is None:
        head = f.read(2)
    src: BinaryIO = _Prefixed(head, f)  # type: ignore[assignment]
    if head[:2] == GZIP_MAGIC:
        src = _Gunzip(src)  # type: ignore[assignment]
    return src
