"""Addresses and sockaddrs: IPv4-mapped helpers, ``inet_ntop``,
``sockaddr_in6`` / ``sockaddr_storage`` layouts (seed §1.13, §1.3.2)."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address

from kame.errors import MalformedError, RangeError, TruncatedError
from kame.scope6 import sa6_from_user
from kame.socket.const import (
    AF_INET,
    AF_INET6,
)
from kame.socket.profiles import PROFILES

# --- sockaddrs ----------------------------------------------------------------

Addr = IPv4Address | IPv6Address


def v4mapped(a: IPv4Address) -> IPv6Address:
    if not isinstance(a, IPv4Address):
        raise TypeError(f"an IPv4Address, not {type(a).__name__}")
    return IPv6Address((0xFFFF << 32) | int(a))


def unmap(a: IPv6Address) -> IPv4Address:
    if not isinstance(a, IPv6Address):
        raise TypeError(f"an IPv6Address, not {type(a).__name__}")
    return IPv4Address(int(a) & 0xFFFFFFFF)


#: the text of the addresses :func:`ntop6` printed lately (a server's
#: accept names the same peers again and again), by value; bounded
_NTOP6: dict[int, str] = {}


def ntop6(a: IPv6Address) -> str:
    """``inet_ntop(AF_INET6)`` as BSD and glibc print: ``::ffff:1.2.3.4``
    and ``::1.2.3.4`` keep their dotted IPv4 tail (RFC 4291 §2.2 form 3)."""
    if not isinstance(a, IPv6Address):
        raise TypeError(f"an IPv6Address, not {type(a).__name__}")
    x = int(a)
    if x >> 32 == 0xFFFF:
        return f"::ffff:{IPv4Address(x & 0xFFFFFFFF)}"
    if x >> 32 == 0 and x >> 16 != 0:
        return f"::{IPv4Address(x)}"
    if type(a) is not IPv6Address or a.scope_id is not None:
        return str(a)
    s = _NTOP6.get(x)
    if s is None:
        if len(_NTOP6) >= 1024:
            _NTOP6.clear()
        s = _NTOP6[x] = str(a)
    return s


# --- sockaddr_in6 / sockaddr_storage (§1.13, §1.3.2) ---------------------------

#: ``sizeof(struct sockaddr_in6)``, ``sizeof(struct sockaddr_in)``,
#: ``sizeof(struct sockaddr_storage)`` on every platform here.
SIN6_LEN, SIN_LEN, SS_LEN = 28, 16, 128


def _family_of(layout: str, family: int | None, v6: bool) -> int:
    if family is not None:
        return family
    if layout == "linux":
        return AF_INET6 if v6 else AF_INET
    return PROFILES[layout].af_inet6 if v6 else 2


def _uint(name: str, v: object, high: int) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise TypeError(f"{name} is an int, not {type(v).__name__}")
    if not 0 <= v <= high:
        raise RangeError(f"{v} out of range 0-{high}", argument=name, low=0, high=high, value=v)
    return v


def _layout(layout: str) -> str:
    if not isinstance(layout, str):
        raise TypeError(f"layout is a profile name, not {type(layout).__name__}")
    if layout != "linux" and (layout not in PROFILES or PROFILES[layout].name == "linux"):
        raise ValueError(f"unknown sockaddr layout {layout!r}")
    return layout


def _head(layout: str, length: int, fam: int) -> bytes:
    # BSD 4.3-Reno onwards: u_int8_t sa_len, sa_family_t (u_int8_t) sa_family;
    # Linux: sa_family_t (unsigned short, host order) and no length.
    return struct.pack("=H", fam) if layout == "linux" else struct.pack("BB", length, fam)


def pack_sockaddr_in6(addr: IPv6Address | str, port: int = 0, flowinfo: int = 0,
                      scope_id: int = 0, *, layout: str = "linux",
                      family: int | None = None) -> bytes:
    """``struct sockaddr_in6`` bytes: ``sin6_len`` first on the BSDs
    (``layout`` a BSD profile name: its ``AF_INET6`` number), ``sin6_family``
    alone on Linux; port and flow info in network order, ``sin6_scope_id``
    in host order."""
    lay = _layout(layout)
    _uint("port", port, 0xFFFF)
    _uint("flowinfo", flowinfo, 0xFFFFFFFF)  # the 32-bit field (RFC 3493 §3.3)
    _uint("scope_id", scope_id, 0xFFFFFFFF)
    sa = sa6_from_user(addr, scope_id=scope_id)  # a numeric %zone is the scope id
    fam = _uint("family", _family_of(lay, family, True), 0xFF if lay != "linux" else 0xFFFF)
    return (_head(lay, SIN6_LEN, fam) + struct.pack("!HI", port, flowinfo)
            + sa.addr.packed + struct.pack("=I", sa.scope_id or scope_id))


def pack_sockaddr_in(addr: IPv4Address | str, port: int = 0, *, layout: str = "linux") -> bytes:
    lay = _layout(layout)
    _uint("port", port, 0xFFFF)
    if not isinstance(addr, (IPv4Address, str)):
        raise TypeError(f"an IPv4 address is an IPv4Address or str, not {type(addr).__name__}")
    return _head(lay, SIN_LEN, _family_of(lay, None, False)) + struct.pack("!H", port) + \
        IPv4Address(addr).packed + bytes(8)


def sockaddr_family(sa: bytes, *, layout: str = "linux") -> int:
    """``((struct sockaddr *)&ss)->sa_family``, §1.13's portable way (3)."""
    lay = _layout(layout)
    if not isinstance(sa, (bytes, bytearray, memoryview)):
        raise TypeError(f"a sockaddr is bytes, not {type(sa).__name__}")
    if len(sa) < 2:
        raise TruncatedError("sockaddr shorter than its family field", layer="sockaddr",
                             offset=0, needed=2, available=len(sa))
    return int(struct.unpack("=H", sa[:2])[0]) if lay == "linux" else sa[1]


def unpack_sockaddr_in6(sa: bytes, *, layout: str = "linux"
                        ) -> tuple[IPv6Address, int, int, int]:
    """``(addr, port, flowinfo, scope_id)`` from ``struct sockaddr_in6`` bytes
    (or a ``sockaddr_storage`` holding one). A wrong family or ``sin6_len``
    is a :class:`MalformedError`, a short buffer a :class:`TruncatedError`."""
    lay = _layout(layout)
    if len(sa) < SIN6_LEN:
        raise TruncatedError("sockaddr_in6 is 28 bytes", layer="sockaddr", offset=0,
                             needed=SIN6_LEN, available=len(sa))
    fam = sockaddr_family(sa, layout=lay)
    if fam != _family_of(lay, None, True):
        raise MalformedError(f"sa_family {fam} is not AF_INET6", layer="sockaddr",
                             offset=0 if lay == "linux" else 1)
    if lay != "linux" and sa[0] != SIN6_LEN:
        raise MalformedError(f"sin6_len {sa[0]} is not 28", layer="sockaddr", offset=0)
    port, flow = struct.unpack("!HI", sa[2:8])
    (scope,) = struct.unpack("=I", sa[24:28])
    return IPv6Address(bytes(sa[8:24])), port, flow, scope


def sockaddr_storage(sa: bytes) -> bytes:
    """A ``struct sockaddr_storage`` (128 bytes) holding ``sa``."""
    if not isinstance(sa, (bytes, bytearray, memoryview)):
        raise TypeError(f"a sockaddr is bytes, not {type(sa).__name__}")
    if len(sa) > SS_LEN:
        raise MalformedError("sockaddr longer than sockaddr_storage", layer="sockaddr",
                             offset=SS_LEN)
    return bytes(sa) + bytes(SS_LEN - len(sa))
