"""``ip6_pktopts``: the extension headers and per-packet options a socket
puts on what it sends (RFC 3542 §6-§9, §11; RFC 2292 through its own option
numbers, seed §1.16), as KAME's ``ip6_setpktopt`` checks them and its
``ip6_output`` lays them out.

A socket's sticky options (``setsockopt``) and one ``sendmsg``'s ancillary
items meet in :class:`PktOpts`: an ancillary item replaces the sticky option
of its own type for that datagram only (RFC 3542 §6.1). :func:`exthdrs`
chains the headers in RFC 8200 §4.1's order (Hop-by-Hop, Destination options
before the Routing header, Routing, Destination options); with a type 0
Routing header the packet goes to the first listed hop and the final
destination takes the last slot (KAME's ``ip6_output``). Received extension
headers go back to the application as ancillary items
(:func:`recv_items`), in the order they arrived, as Linux and KAME report
them."""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass, replace
from ipaddress import IPv6Address
from typing import Any

from kame.addr import is_multicast
from kame.socket.const import (
    IPPROTO_IPV6,
    IPV6_2292DSTOPTS,
    IPV6_2292HOPLIMIT,
    IPV6_2292HOPOPTS,
    IPV6_2292PKTINFO,
    IPV6_2292RTHDR,
    IPV6_DONTFRAG,
    IPV6_DSTOPTS,
    IPV6_HOPLIMIT,
    IPV6_HOPOPTS,
    IPV6_NEXTHOP,
    IPV6_PKTINFO,
    IPV6_RECVDSTOPTS,
    IPV6_RECVHOPOPTS,
    IPV6_RECVRTHDR,
    IPV6_RTHDR,
    IPV6_RTHDRDSTOPTS,
    IPV6_USE_MIN_MTU,
    _err,
    _octets,
)
from kame.socket.sockaddr import SIN6_LEN

#: Received extension headers: ``(Next Header value, the header)`` in order.
Ext = tuple[tuple[int, bytes], ...]

#: Next Header values of the headers a socket may add.
NH_HOPOPTS, NH_ROUTING, NH_DSTOPTS = 0, 43, 60

#: The RFC 2292 ancillary types and the RFC 3542 ones they stand for.
RFC2292_TYPES = {
    IPV6_2292PKTINFO: IPV6_PKTINFO,
    IPV6_2292HOPLIMIT: IPV6_HOPLIMIT,
    IPV6_2292HOPOPTS: IPV6_HOPOPTS,
    IPV6_2292DSTOPTS: IPV6_DSTOPTS,
    IPV6_2292RTHDR: IPV6_RTHDR,
}

#: Sticky extension headers (``setsockopt`` value: the whole header).
EXTHDR_OPTS = (IPV6_HOPOPTS, IPV6_DSTOPTS, IPV6_RTHDRDSTOPTS, IPV6_RTHDR)

#: Receive switches for extension headers: RFC 3542's and RFC 2292's
#: (each reports with its own ancillary type).
RECV_EXTHDR = (IPV6_RECVHOPOPTS, IPV6_RECVDSTOPTS, IPV6_RECVRTHDR,
               IPV6_2292HOPOPTS, IPV6_2292DSTOPTS, IPV6_2292RTHDR)

#: The largest extension header an option can carry (Hdr Ext Len 255).
MAX_EXTHDR = 2048


def check_exthdr(opt: int, value: Any, linux: bool = False) -> bytes:
    """A Hop-by-Hop, Destination options or Routing header given by the
    application, checked as ``ip6_setpktopt`` does: its length is its Hdr
    Ext Len (``EINVAL`` otherwise; Linux takes a longer buffer, a multiple
    of 8, and keeps the header's own length); a Routing header is type 0
    with an even Hdr Ext Len of two per address and Segments Left equal to
    the number of addresses (RFC 3542 §7; every other type ``EINVAL``), and
    none on Linux, which sends no type 0 header (RFC 5095). Empty bytes
    clear the option."""
    b = _octets(value, "extension header")
    if not b:
        return b
    if len(b) < 8 or len(b) > MAX_EXTHDR or len(b) % 8:
        raise _err(errno.EINVAL, "extension header length is (Hdr Ext Len + 1) * 8")
    n = (b[1] + 1) * 8
    if n > len(b) or (n != len(b) and not linux):
        raise _err(errno.EINVAL, "extension header length is (Hdr Ext Len + 1) * 8")
    b = b[:n]
    if opt == IPV6_RTHDR:
        if b[2] != 0 or linux:
            raise _err(errno.EINVAL, f"routing header type {b[2]}: only type 0")
        if b[1] == 0 or b[1] % 2 or b[1] // 2 != b[3]:
            raise _err(errno.EINVAL, "type 0 routing header: Segments Left is its addresses")
        for i in range(b[3]):
            a = IPv6Address(b[8 + 16 * i:24 + 16 * i])
            if is_multicast(a):
                raise _err(errno.EINVAL, "a multicast address in a routing header")
    return b


def check_nexthop(value: Any) -> tuple[IPv6Address, int] | None:
    """``IPV6_NEXTHOP``'s ``sockaddr_in6`` (Linux layout, as the host's
    sockets take it): ``(address, scope id)``; empty bytes clear it. Not
    multicast, not unspecified (RFC 3542 §6.1: a neighbor)."""
    b = _octets(value, "IPV6_NEXTHOP")
    if not b:
        return None
    if len(b) < SIN6_LEN:
        raise _err(errno.EINVAL, "IPV6_NEXTHOP is a sockaddr_in6")
    if struct.unpack("=H", b[:2])[0] != 10:
        raise _err(errno.EAFNOSUPPORT, "IPV6_NEXTHOP: not AF_INET6")
    a = IPv6Address(b[8:24])
    if is_multicast(a) or not int(a) or a.ipv4_mapped is not None:
        raise _err(errno.EINVAL, "IPV6_NEXTHOP is a unicast neighbor")
    return a, int(struct.unpack("=I", b[24:28])[0])


def check_minmtu(value: int) -> int:
    if value not in (-1, 0, 1):
        raise _err(errno.EINVAL, "IPV6_USE_MIN_MTU is -1, 0 or 1")
    return value


@dataclass(slots=True)
class PktOpts:
    """The options of one datagram (``struct ip6_pktopts``)."""

    hbh: bytes = b""
    dest1: bytes = b""  # before a Routing header (IPV6_RTHDRDSTOPTS)
    rthdr: bytes = b""
    dest2: bytes = b""  # IPV6_DSTOPTS
    nexthop: tuple[IPv6Address, int] | None = None
    dontfrag: bool = False
    minmtu: int = -1

    @classmethod
    def sticky(cls, opts: dict[int, Any]) -> PktOpts:
        return cls(opts.get(IPV6_HOPOPTS, b""), opts.get(IPV6_RTHDRDSTOPTS, b""),
                   opts.get(IPV6_RTHDR, b""), opts.get(IPV6_DSTOPTS, b""),
                   opts.get(IPV6_NEXTHOP), bool(opts.get(IPV6_DONTFRAG, 0)),
                   opts.get(IPV6_USE_MIN_MTU, -1))

    def ancillary(self, typ: int, val: bytes, bsd: bool) -> bool:
        """Take one ancillary item of ``typ`` (an RFC 2292 type already
        mapped); False when the type is none of these (Linux has neither
        ``IPV6_NEXTHOP`` nor ``IPV6_USE_MIN_MTU``)."""
        if typ in EXTHDR_OPTS:
            b = check_exthdr(typ, val, linux=not bsd)
            if typ == IPV6_HOPOPTS:
                self.hbh = b
            elif typ == IPV6_RTHDRDSTOPTS:
                self.dest1 = b
            elif typ == IPV6_RTHDR:
                self.rthdr = b
            else:
                self.dest2 = b
        elif typ == IPV6_NEXTHOP and bsd:
            self.nexthop = check_nexthop(val)
        elif typ == IPV6_DONTFRAG:
            self.dontfrag = bool(_cint(val))
        elif typ == IPV6_USE_MIN_MTU and bsd:
            self.minmtu = check_minmtu(_cint(val))
        else:
            return False
        return True

    def copy(self) -> PktOpts:
        return replace(self)

    @property
    def has_exthdrs(self) -> bool:
        return bool(self.hbh or self.rthdr or self.dest2)


def _cint(val: bytes) -> int:
    if len(val) != 4:
        raise _err(errno.EINVAL, "an int is 4 bytes")
    return int(struct.unpack("=i", val)[0])


def exthdrs(po: PktOpts, dst: IPv6Address, upper: int) -> tuple[bytes, int, IPv6Address]:
    """The extension headers of ``po`` chained in front of protocol
    ``upper``: ``(headers, first Next Header, destination of the IPv6
    header)``. Destination options before the Routing header go only with
    one (RFC 3542 §9.2, ``IPV6_RTHDRDSTOPTS``). With a type 0 Routing header
    the IPv6 header names the first hop and ``dst`` becomes the last
    address (``ip6_output``)."""
    parts: list[tuple[int, bytes]] = []
    first = dst
    if po.hbh:
        parts.append((NH_HOPOPTS, po.hbh))
    if po.rthdr:
        if po.dest1:
            parts.append((NH_DSTOPTS, po.dest1))
        rh = bytearray(po.rthdr)
        n = rh[3]
        if n:
            first = IPv6Address(bytes(rh[8:24]))
            rh[8:8 + 16 * (n - 1)] = rh[24:8 + 16 * n]
            rh[8 + 16 * (n - 1):8 + 16 * n] = dst.packed
        parts.append((NH_ROUTING, bytes(rh)))
    if po.dest2:
        parts.append((NH_DSTOPTS, po.dest2))
    if not parts:
        return b"", upper, dst
    out = bytearray()
    for i, (_t, h) in enumerate(parts):
        nxt = parts[i + 1][0] if i + 1 < len(parts) else upper
        out += bytes([nxt]) + h[1:]
    return bytes(out), parts[0][0], first


def split_exthdrs(ext: bytes, first: int) -> Ext:
    """Headers built by :func:`exthdrs` as a receiver sees them."""
    out = []
    t, off = first, 0
    while off < len(ext) and t in (NH_HOPOPTS, NH_DSTOPTS, NH_ROUTING):
        n = (ext[off + 1] + 1) * 8
        out.append((t, ext[off:off + n]))
        t, off = ext[off], off + n
    return tuple(out)


def recv_items(opts: dict[int, Any], ext: Ext) -> list[tuple[int, int, bytes]]:
    """The ancillary items for the received headers ``ext`` a socket with
    ``opts`` asked for: ``IPV6_HOPOPTS``, each ``IPV6_DSTOPTS`` (before and
    after a Routing header, as Linux and KAME give them) and ``IPV6_RTHDR``
    as they arrived; with the RFC 2292 switches under RFC 2292's types."""
    items: list[tuple[int, int, bytes]] = []
    want = {NH_HOPOPTS: (opts.get(IPV6_RECVHOPOPTS), opts.get(IPV6_2292HOPOPTS),
                         IPV6_HOPOPTS, IPV6_2292HOPOPTS),
            NH_DSTOPTS: (opts.get(IPV6_RECVDSTOPTS), opts.get(IPV6_2292DSTOPTS),
                         IPV6_DSTOPTS, IPV6_2292DSTOPTS),
            NH_ROUTING: (opts.get(IPV6_RECVRTHDR), opts.get(IPV6_2292RTHDR),
                         IPV6_RTHDR, IPV6_2292RTHDR)}
    for t, h in ext:
        new, old, tnew, told = want[t]
        if new:
            items.append((IPPROTO_IPV6, tnew, h))
        if old:
            items.append((IPPROTO_IPV6, told, h))
    return items


# --- RFC 2292 IPV6_PKTOPTIONS: sticky options as one buffer of cmsghdrs -------

_CMSG_HDR = struct.Struct("=Qii")  # Linux LP64: size_t cmsg_len, int level, int type


def _align(n: int) -> int:
    return (n + 7) & ~7


def parse_cmsgs(buf: bytes) -> list[tuple[int, int, bytes]]:
    """A ``msg_control`` buffer (Linux's LP64 ``cmsghdr`` layout) as
    ``(level, type, data)`` items; a header whose length runs past the
    buffer or is shorter than itself is ``EINVAL``."""
    out = []
    off = 0
    while off + _CMSG_HDR.size <= len(buf):
        ln, level, typ = _CMSG_HDR.unpack_from(buf, off)
        if ln < _CMSG_HDR.size or off + ln > len(buf):
            raise _err(errno.EINVAL, "cmsg_len")
        out.append((level, typ, bytes(buf[off + _CMSG_HDR.size:off + ln])))
        if len(out) > 64:
            raise _err(errno.ENOBUFS, "too much ancillary data")
        off += _align(ln)
    if off < len(buf) and any(buf[off:]):
        raise _err(errno.EINVAL, "a truncated cmsghdr")
    return out


def pack_cmsgs(items: list[tuple[int, int, bytes]]) -> bytes:
    out = bytearray()
    for level, typ, data in items:
        ln = _CMSG_HDR.size + len(data)
        out += _CMSG_HDR.pack(ln, level, typ) + data + bytes(_align(ln) - ln)
    return bytes(out)


__all__ = [
    "EXTHDR_OPTS",
    "RECV_EXTHDR",
    "RFC2292_TYPES",
    "Ext",
    "PktOpts",
    "check_exthdr",
    "check_minmtu",
    "check_nexthop",
    "exthdrs",
    "pack_cmsgs",
    "parse_cmsgs",
    "recv_items",
    "split_exthdrs",
]
