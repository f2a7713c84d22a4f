"""The RFC 2292 helpers (seed §1.16: KAME kept RFC 2292's API beside RFC
3542's for binaries written to it): ``inet6_option_*`` (§6.3) build and read
Hop-by-Hop and Destination options inside one ancillary item,
``inet6_rthdr_*`` (§6.4) a type 0 Routing header.

C hands these functions a ``struct cmsghdr``; here that is a :class:`Cmsg`
``(level, type, data)`` whose ``data`` is a ``bytearray`` the functions grow.
A ``Cmsg`` is a tuple, so it goes to ``sendmsg`` as it is, and an item
``recvmsg`` returned becomes one with ``Cmsg(*item)``. Offsets into ``data``
stand for C's pointers. As in C, failures answer -1 (or ``None`` for a
pointer), never an exception; a wrong argument type is a ``TypeError``.

KAME's limits are kept: a Routing header holds at most 23 addresses (RFC
1883's 24-bit strict/loose map), and with RFC 2460's header there is no such
map: ``IPV6_RTHDR_STRICT`` is refused and every hop reads back as
``IPV6_RTHDR_LOOSE`` (the seed: "Type 0 routing header lacks support for
strict/loose bitmap"). ``inet6_rthdr_reverse``, which KAME left returning
-1, is built."""

from __future__ import annotations

import socket as _hostsock
from ipaddress import IPv6Address
from typing import NamedTuple

from kame.errors import ScopeError
from kame.scope6 import sa6_from_user
from kame.socket.const import (
    IPPROTO_IPV6,
    IPV6_2292DSTOPTS,
    IPV6_2292HOPOPTS,
    IPV6_2292RTHDR,
    IPV6_DSTOPTS,
    IPV6_HOPOPTS,
    IPV6_RTHDR,
)

IPV6_RTHDR_LOOSE = 0
IPV6_RTHDR_STRICT = 1
IPV6_RTHDR_TYPE_0 = 0
#: RFC 1883's strict/loose map has 24 bits: KAME's ``inet6_rthdr_add``
#: stops at 23 addresses.
RTHDR_MAX_SEGMENTS = 23

_OPT_TYPES = (IPV6_HOPOPTS, IPV6_DSTOPTS, IPV6_2292HOPOPTS, IPV6_2292DSTOPTS)
_RTH_TYPES = (IPV6_RTHDR, IPV6_2292RTHDR)


class Cmsg(NamedTuple):
    """One ancillary item being built: ``data`` grows in place."""

    level: int
    type: int
    data: bytearray


def _cmsg(c: object) -> Cmsg:
    if not isinstance(c, Cmsg):
        raise TypeError(f"a Cmsg, not {type(c).__name__}")
    if not isinstance(c.data, bytearray):
        raise TypeError("Cmsg.data is a bytearray")
    return c


def _int(*vals: object) -> None:
    for v in vals:
        if not isinstance(v, int) or isinstance(v, bool):
            raise TypeError(f"an int, not {type(v).__name__}")


# --- §6.3: Hop-by-Hop and Destination options ---------------------------------

def inet6_option_space(nbytes: int) -> int:
    """``CMSG_SPACE`` of an options header holding ``nbytes`` of options
    (the header's 2 octets and padding to 8 included)."""
    _int(nbytes)
    if not 0 <= nbytes <= 2046:
        return 0
    return _hostsock.CMSG_SPACE((nbytes + 2 + 7) & ~7)


def inet6_option_init(type: int) -> Cmsg | None:
    """A new item of ``type`` (``IPV6_HOPOPTS`` or ``IPV6_DSTOPTS``, or their
    RFC 2292 numbers) holding an empty header (Next Header, Hdr Ext Len)."""
    _int(type)
    if type not in _OPT_TYPES:
        return None
    return Cmsg(IPPROTO_IPV6, type, bytearray(2))


def _padopt(buf: bytearray, n: int) -> None:
    if n == 1:
        buf.append(0)  # Pad1
    elif n > 1:
        buf += bytes([1, n - 2]) + bytes(n - 2)  # PadN


def _place(c: Cmsg, optlen: int, multx: int, plusy: int) -> int:
    """Pad so that the option (``optlen`` octets) starts at ``multx``·n +
    ``plusy`` from the header, reserve it, pad the header to 8 octets;
    the option's offset, or -1."""
    if multx not in (1, 2, 4, 8) or not 0 <= plusy <= 7 or c.type not in _OPT_TYPES:
        return -1
    d = c.data
    off = len(d)
    pad = (plusy - off % multx) % multx
    if off + pad + optlen > 2048:
        return -1
    _padopt(d, pad)
    start = len(d)
    d += bytes(optlen)
    _padopt(d, (8 - len(d) % 8) % 8)
    d[1] = len(d) // 8 - 1
    return start


def inet6_option_append(cmsg: Cmsg, typep: bytes, multx: int, plusy: int) -> int:
    """Append the option ``typep`` (type, length, data) aligned at
    ``multx``·n + ``plusy``; 0, or -1."""
    c = _cmsg(cmsg)
    _int(multx, plusy)
    if not isinstance(typep, (bytes, bytearray, memoryview)) or not typep:
        return -1
    optlen = 1 if typep[0] == 0 else (typep[1] + 2 if len(typep) >= 2 else 0)
    if optlen == 0 or len(typep) < optlen:
        return -1
    off = _place(c, optlen, multx, plusy)
    if off < 0:
        return -1
    c.data[off:off + optlen] = bytes(typep[:optlen])
    return 0


def inet6_option_alloc(cmsg: Cmsg, datalen: int, multx: int, plusy: int) -> int:
    """Reserve an option of ``datalen`` data octets (the caller writes its
    type and length at the offset returned, the data after them); the
    offset in ``cmsg.data``, or -1."""
    c = _cmsg(cmsg)
    _int(datalen, multx, plusy)
    if not 0 <= datalen <= 255:
        return -1
    return _place(c, datalen + 2, multx, plusy)


def _optlen(d: bytearray, off: int, lim: int) -> int:
    if off >= lim:
        return 0
    if d[off] == 0:
        return 1
    if off + 2 > lim or off + 2 + d[off + 1] > lim:
        return 0
    return 2 + d[off + 1]


def _hdr_lim(c: Cmsg) -> int:
    if c.level != IPPROTO_IPV6 or c.type not in _OPT_TYPES or len(c.data) < 2:
        return -1
    lim = (c.data[1] + 1) * 8
    return lim if lim <= len(c.data) else -1


def inet6_option_next(cmsg: Cmsg, prev: int | None) -> int | None:
    """The option after the one at ``prev`` (``None``: the first), Pad1
    and PadN included, as KAME's; ``None`` at the end or on a malformed
    header."""
    c = _cmsg(cmsg)
    lim = _hdr_lim(c)
    if lim < 0:
        return None
    if prev is None:
        off = 2
    else:
        _int(prev)
        n = _optlen(c.data, prev, lim) if prev >= 2 else 0
        if n == 0:
            return None
        off = prev + n
    if off >= lim or _optlen(c.data, off, lim) == 0:
        return None
    return off


def inet6_option_find(cmsg: Cmsg, prev: int | None, type: int) -> int | None:
    """The next option of ``type`` after ``prev``; ``None`` if none."""
    _int(type)
    off = inet6_option_next(cmsg, prev)
    while off is not None:
        if cmsg.data[off] == type:
            return off
        off = inet6_option_next(cmsg, off)
    return None


# --- §6.4: the type 0 Routing header -------------------------------------------

def inet6_rthdr_space(type: int, segments: int) -> int:
    """``CMSG_SPACE`` of a type 0 Routing header of ``segments`` addresses
    (1 to 23); 0 otherwise."""
    _int(type, segments)
    if type != IPV6_RTHDR_TYPE_0 or not 1 <= segments <= RTHDR_MAX_SEGMENTS:
        return 0
    return _hostsock.CMSG_SPACE(8 + 16 * segments)


def inet6_rthdr_init(type: int) -> Cmsg | None:
    """A new ``IPV6_RTHDR`` item with an empty type 0 header (no address
    yet: ``inet6_rthdr_add`` each hop, then ``inet6_rthdr_lasthop``)."""
    _int(type)
    if type != IPV6_RTHDR_TYPE_0:
        return None
    return Cmsg(IPPROTO_IPV6, IPV6_RTHDR, bytearray(8))


def _rth(c: Cmsg) -> int:
    """The number of addresses of a well-formed type 0 header, or -1."""
    d = c.data
    if c.level != IPPROTO_IPV6 or c.type not in _RTH_TYPES or len(d) < 8 or d[2] != 0:
        return -1
    n = d[1] // 2
    if d[1] % 2 or len(d) < 8 + 16 * n or n > RTHDR_MAX_SEGMENTS:
        return -1
    return n


def inet6_rthdr_add(cmsg: Cmsg, addr: IPv6Address | str, flags: int) -> int:
    """Add ``addr`` as the next hop; ``flags`` ``IPV6_RTHDR_LOOSE``
    (``IPV6_RTHDR_STRICT`` has no bit to go in with RFC 2460's header: -1);
    at most 23 addresses. 0, or -1."""
    c = _cmsg(cmsg)
    _int(flags)
    n = _rth(c)
    if n < 0 or flags != IPV6_RTHDR_LOOSE or n >= RTHDR_MAX_SEGMENTS:
        return -1
    try:
        sa = sa6_from_user(addr, what="routing header address")
    except (ValueError, ScopeError):
        return -1
    if sa.scope_id or sa.addr.is_multicast:
        return -1
    c.data.extend(sa.addr.packed)
    c.data[1] = 2 * (n + 1)
    c.data[3] = n + 1  # Segments Left
    return 0


def inet6_rthdr_lasthop(cmsg: Cmsg, flags: int) -> int:
    """The flag of the last hop: only ``IPV6_RTHDR_LOOSE`` (0), else -1."""
    c = _cmsg(cmsg)
    _int(flags)
    if _rth(c) < 1 or flags != IPV6_RTHDR_LOOSE:
        return -1
    return 0


def inet6_rthdr_segments(cmsg: Cmsg) -> int:
    """The number of hops (addresses) in the header, or -1."""
    return _rth(_cmsg(cmsg))


def inet6_rthdr_getaddr(cmsg: Cmsg, index: int) -> IPv6Address | None:
    """Hop ``index`` (1 to the number of hops), or ``None``."""
    c = _cmsg(cmsg)
    _int(index)
    n = _rth(c)
    if not 1 <= index <= n:
        return None
    o = 8 + 16 * (index - 1)
    return IPv6Address(bytes(c.data[o:o + 16]))


def inet6_rthdr_getflags(cmsg: Cmsg, index: int) -> int:
    """``IPV6_RTHDR_LOOSE`` for hops 0 (the first) to n; -1 out of range."""
    c = _cmsg(cmsg)
    _int(index)
    n = _rth(c)
    if not 0 <= index <= n or n < 0:
        return -1
    return IPV6_RTHDR_LOOSE


def inet6_rthdr_reverse(inp: Cmsg, out: Cmsg) -> int:
    """Write into ``out`` the header for the way back: the hops reversed,
    all of them left to visit (KAME returned -1 here)."""
    i, o = _cmsg(inp), _cmsg(out)
    n = _rth(i)
    if n < 0:
        return -1
    addrs = [bytes(i.data[8 + 16 * k:24 + 16 * k]) for k in range(n)]
    hdr = bytearray(i.data[:8])
    hdr[3] = n
    o.data[:] = hdr + b"".join(reversed(addrs))
    return 0


__all__ = [
    "IPV6_RTHDR_LOOSE",
    "IPV6_RTHDR_STRICT",
    "RTHDR_MAX_SEGMENTS",
    "Cmsg",
    "inet6_option_alloc",
    "inet6_option_append",
    "inet6_option_find",
    "inet6_option_init",
    "inet6_option_next",
    "inet6_option_space",
    "inet6_rthdr_add",
    "inet6_rthdr_getaddr",
    "inet6_rthdr_getflags",
    "inet6_rthdr_lasthop",
    "inet6_rthdr_reverse",
    "inet6_rthdr_segments",
    "inet6_rthdr_space",
]
