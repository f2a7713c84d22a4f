"""The RFC 3542 helpers that need no socket: ``ICMP6_FILTER`` (§3.2),
``inet6_opt_*`` (§10) and ``inet6_rth_*`` (§7)."""

from __future__ import annotations

import errno
import struct
from ipaddress import IPv6Address

from kame.errors import ScopeError
from kame.scope6 import sa6_from_user
from kame.socket.const import (
    _err,
)


class Icmp6Filter:
    """``struct icmp6_filter`` (RFC 3542 §3.2): 256 bits, one per type.

    :meth:`to_bytes` gives the BSD layout (a set bit passes) or the Linux
    one (a set bit blocks)."""

    __slots__ = ("_bits",)

    def __init__(self, bits: int = (1 << 256) - 1) -> None:
        self._bits = bits

    def setpassall(self) -> None:
        self._bits = (1 << 256) - 1

    def setblockall(self) -> None:
        self._bits = 0

    def setpass(self, t: int) -> None:
        self._bits |= 1 << t

    def setblock(self, t: int) -> None:
        self._bits &= ~(1 << t)

    def willpass(self, t: int) -> bool:
        return bool(self._bits >> t & 1)

    def willblock(self, t: int) -> bool:
        return not self.willpass(t)

    def to_bytes(self, layout: str = "bsd") -> bytes:
        bits = self._bits if layout == "bsd" else ~self._bits & ((1 << 256) - 1)
        return b"".join(struct.pack("=I", bits >> (32 * i) & 0xFFFFFFFF) for i in range(8))

    @classmethod
    def from_bytes(cls, b: bytes, layout: str = "bsd") -> Icmp6Filter:
        if len(b) != 32:
            raise _err(errno.EINVAL, "icmp6_filter is 32 bytes")
        bits = 0
        for i, (w,) in enumerate(struct.iter_unpack("=I", b)):
            bits |= w << (32 * i)
        return cls(bits if layout == "bsd" else ~bits & ((1 << 256) - 1))


# --- RFC 3542 §10: Hop-by-Hop and Destination options -------------------------

def _buf(b: object, what: str = "buffer") -> bytes | bytearray | memoryview:
    """A buffer argument of the RFC 3542 helpers: bytes-like (``TypeError``
    otherwise); lengths and offsets are then checked as the C functions do,
    answering -1 rather than reading past the end."""
    if not isinstance(b, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what} is a bytes-like object, not {type(b).__name__}")
    return b


def _ints(*vals: object) -> None:
    for v in vals:
        if not isinstance(v, int):
            raise TypeError(f"an int, not {type(v).__name__}")


def inet6_opt_init(extbuf: bytearray | None, extlen: int) -> int:
    """Start an options header: 2 bytes (Next Header, Hdr Ext Len)."""
    _ints(extlen)
    if extbuf is not None:
        _buf(extbuf, "extbuf")
        if extlen <= 0 or extlen % 8 or len(extbuf) < extlen or extlen > 2048:
            return -1
        extbuf[1] = extlen // 8 - 1
    return 2


def _pad(extbuf: bytearray | None, off: int, n: int) -> None:
    if extbuf is None or n == 0:
        return
    if n == 1:
        extbuf[off] = 0  # Pad1
    else:
        extbuf[off] = 1  # PadN
        extbuf[off + 1] = n - 2
        extbuf[off + 2:off + n] = bytes(n - 2)


def inet6_opt_append(extbuf: bytearray | None, extlen: int, offset: int, type: int,
                     length: int, align: int) -> tuple[int, int]:
    """Append an option of ``length`` data bytes aligned ``align``n + ...:
    returns ``(new offset, data offset)`` or ``(-1, -1)``."""
    _ints(extlen, offset, type, length, align)
    if extbuf is not None:
        extlen = min(extlen, len(_buf(extbuf, "extbuf")))
    if offset < 2 or type < 2 or type > 255 or length < 0 or length > 255 or \
            align not in (1, 2, 4, 8) or align > length:
        return -1, -1
    cur = offset + 2
    padlen = (align - cur % align) % align
    total = offset + padlen + 2 + length
    if extbuf is not None:
        if total > extlen:
            return -1, -1
        _pad(extbuf, offset, padlen)
        o = offset + padlen
        extbuf[o] = type
        extbuf[o + 1] = length
        return total, o + 2
    return total, -1


def inet6_opt_finish(extbuf: bytearray | None, extlen: int, offset: int) -> int:
    """Pad the header to a multiple of 8 bytes; its total length."""
    _ints(extlen, offset)
    if offset < 0:
        return -1
    if extbuf is not None:
        extlen = min(extlen, len(_buf(extbuf, "extbuf")))
    padlen = (8 - offset % 8) % 8
    total = offset + padlen
    if extbuf is not None:
        if total > extlen:
            return -1
        _pad(extbuf, offset, padlen)
    return total


def inet6_opt_set_val(databuf: bytearray, offset: int, val: bytes) -> int:
    _ints(offset)
    _buf(databuf, "databuf")
    _buf(val, "val")
    if not 0 <= offset <= len(databuf) - len(val):
        return -1
    databuf[offset:offset + len(val)] = val
    return offset + len(val)


def inet6_opt_get_val(databuf: bytes, offset: int, vallen: int) -> tuple[int, bytes]:
    _ints(offset, vallen)
    _buf(databuf, "databuf")
    if offset < 0 or vallen < 0 or offset + vallen > len(databuf):
        return -1, b""
    return offset + vallen, bytes(databuf[offset:offset + vallen])


def inet6_opt_next(extbuf: bytes, extlen: int, offset: int) -> tuple[int, int, int, int]:
    """The next option after ``offset`` (0 = the first), skipping padding:
    ``(next offset, type, length, data offset)``, ``(-1, ...)`` at the end."""
    _ints(extlen, offset)
    extlen = min(extlen, len(_buf(extbuf, "extbuf")))
    off = max(offset, 2)
    while off < extlen:
        t = extbuf[off]
        if t == 0:
            off += 1
            continue
        if off + 2 > extlen:
            return -1, 0, 0, -1
        ln = extbuf[off + 1]
        if off + 2 + ln > extlen:
            return -1, 0, 0, -1
        if t == 1:
            off += 2 + ln
            continue
        return off + 2 + ln, t, ln, off + 2
    return -1, 0, 0, -1


def inet6_opt_find(extbuf: bytes, extlen: int, offset: int, type: int) -> tuple[int, int, int]:
    """The next option of ``type``: ``(next offset, length, data offset)``."""
    _ints(type)
    off = offset
    while True:
        off, t, ln, data = inet6_opt_next(extbuf, extlen, off)
        if off < 0:
            return -1, 0, -1
        if t == type:
            return off, ln, data


# --- RFC 3542 §7: Routing header (type 0) -------------------------------------

IPV6_RTHDR_TYPE_0 = 0


def inet6_rth_space(type: int, segments: int) -> int:
    _ints(type, segments)
    if type != IPV6_RTHDR_TYPE_0 or not 0 <= segments <= 127:
        return 0
    return 8 + 16 * segments


def inet6_rth_init(bp: bytearray, bp_len: int, type: int, segments: int) -> bool:
    n = inet6_rth_space(type, segments)
    _ints(bp_len)
    if n == 0 or bp_len < n or len(_buf(bp, "bp")) < n:
        return False
    bp[:n] = bytes(n)
    bp[1] = 2 * segments  # Hdr Ext Len
    bp[2] = type
    return True


def inet6_rth_add(bp: bytearray, addr: IPv6Address | str) -> int:
    """Add ``addr`` (no zone: a routing header carries none; never the
    embedded form, ``ScopeError``)."""
    sa = sa6_from_user(addr, what="routing header address")
    if sa.scope_id:
        raise ScopeError(f"{addr}: a routing header carries no zone", "EINVAL")
    if len(_buf(bp, "bp")) < 8 or bp[2] != IPV6_RTHDR_TYPE_0:
        return -1
    n, left = bp[1] // 2, bp[3]
    if left >= n:
        return -1
    off = 8 + 16 * left
    if off + 16 > len(bp):
        return -1
    bp[off:off + 16] = sa.addr.packed
    bp[3] = left + 1
    return 0


def inet6_rth_segments(bp: bytes) -> int:
    if len(_buf(bp, "bp")) < 8 or bp[2] != IPV6_RTHDR_TYPE_0 or bp[1] % 2:
        return -1
    return bp[1] // 2


def inet6_rth_getaddr(bp: bytes, index: int) -> IPv6Address | None:
    _ints(index)
    n = inet6_rth_segments(bp)
    if not 0 <= index < n or 24 + 16 * index > len(bp):
        return None
    return IPv6Address(bytes(bp[8 + 16 * index:24 + 16 * index]))


def inet6_rth_reverse(inp: bytes, out: bytearray) -> int:
    n = inet6_rth_segments(inp)
    if n < 0 or len(inp) < 8 + 16 * n or len(_buf(out, "out")) < 8 + 16 * n:
        return -1
    addrs = [bytes(inp[8 + 16 * i:24 + 16 * i]) for i in range(n)]
    hdr = bytes(inp[:8])
    out[:8 + 16 * n] = bytes(8 + 16 * n)
    out[0:8] = hdr
    out[3] = n  # segments left: all of them
    for i, a in enumerate(reversed(addrs)):
        out[8 + 16 * i:24 + 16 * i] = a
    return 0
