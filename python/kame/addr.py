"""IPv6 address classification and interface identifiers.

- Classification helpers in the spirit of ``IN6_IS_ADDR_*``.
- The invalid-on-the-wire ranges of seed §1.14, exactly as the seed lists
  them (:data:`INVALID_WIRE_RANGES`), and :func:`check_wire_addresses`, the
  ``ip6_input`` test that drops them (counted as ``ip6s_badscope``).
- When the unspecified source is legal (§1.14): DAD, MLD, RS.
- Interface identifiers: modified EUI-64 from a MAC (RFC 4291 appendix A,
  the u/l bit flipped), the MD5(hostname) last resort of KAME
  ``in6_ifattach.c`` ``get_rand_ifid`` (§1.4.1), and RFC 3041 temporary
  identifiers (``generate_tmp_ifid``).
- Solicited-node and subnet-router anycast addresses, Ethernet multicast
  mapping (RFC 2464 §7).

Addresses are :class:`ipaddress.IPv6Address` without a scope; zones are
carried beside them (see :mod:`kame.scope6`). The hot predicates read the
address's integer (``_ip``, stable since Python 3.3) rather than building
``packed`` bytes on every call.
"""

from __future__ import annotations

import hashlib
import random
from ipaddress import IPv6Address, IPv6Network

__all__ = [
    "ALL_NODES",
    "ALL_ROUTERS",
    "INVALID_WIRE_RANGES",
    "LINKLOCAL_ALL_NODES",
    "LINKLOCAL_ALL_ROUTERS",
    "LOOPBACK",
    "MLDV2_ROUTERS",
    "NODELOCAL_ALL_NODES",
    "UNSPECIFIED",
    "check_wire_addresses",
    "ether_multicast",
    "eui64_ifid",
    "generate_tmp_ifid",
    "hostname_ifid",
    "ifid_of",
    "in6_addr",
    "invalid_wire_reason",
    "is_6to4",
    "is_linklocal",
    "is_loopback",
    "is_mc_intfacelocal",
    "is_mc_linklocal",
    "is_multicast",
    "is_sitelocal",
    "is_solicited_node",
    "is_unspecified",
    "is_v4compat",
    "is_v4mapped",
    "make_addr",
    "mc_scope",
    "solicited_node",
    "subnet_router_anycast",
    "unspecified_source_allowed",
]

UNSPECIFIED = IPv6Address("::")
LOOPBACK = IPv6Address("::1")
NODELOCAL_ALL_NODES = IPv6Address("ff01::1")
LINKLOCAL_ALL_NODES = ALL_NODES = IPv6Address("ff02::1")
LINKLOCAL_ALL_ROUTERS = ALL_ROUTERS = IPv6Address("ff02::2")
MLDV2_ROUTERS = IPv6Address("ff02::16")

_SOLICITED_PREFIX = int(IPv6Address("ff02::1:ff00:0"))


def in6_addr(a: IPv6Address | str | bytes | int) -> IPv6Address:
    """Coerce text, 16 bytes or an int to an :class:`IPv6Address`.

    Text with a ``%zone`` is refused here: zones belong to :mod:`kame.scope6`.
    """
    if isinstance(a, IPv6Address):
        if a.scope_id is not None:
            return IPv6Address(int(a))
        return a
    if isinstance(a, str) and "%" in a:
        raise ValueError(f"{a!r}: zone not allowed here; use kame.scope6.parse")
    return IPv6Address(a)


# --- classification (IN6_IS_ADDR_*) ------------------------------------------

def _notaddr(a: object) -> TypeError:
    return TypeError(f"an ipaddress.IPv6Address, not {type(a).__name__}")


def _int6(a: object) -> int:
    """The 128-bit integer of an ``IPv6Address`` (``TypeError`` otherwise)."""
    if isinstance(a, IPv6Address):
        return a._ip  # type: ignore[attr-defined,no-any-return]
    raise _notaddr(a)


# The predicates below read ``a._ip`` under a try: free when ``a`` is an
# address (Python 3.11's zero-cost exceptions), a TypeError when it is not.

def is_unspecified(a: IPv6Address) -> bool:
    try:
        return bool(a._ip == 0)  # type: ignore[attr-defined]
    except AttributeError:
        raise _notaddr(a) from None


def is_loopback(a: IPv6Address) -> bool:
    try:
        return bool(a._ip == 1)  # type: ignore[attr-defined]
    except AttributeError:
        raise _notaddr(a) from None


def is_multicast(a: IPv6Address) -> bool:
    try:
        return bool((a._ip >> 120) == 0xFF)  # type: ignore[attr-defined]
    except AttributeError:
        raise _notaddr(a) from None


def mc_scope(a: IPv6Address) -> int:
    """The 4-bit scope field of a multicast address (RFC 4291 §2.7)."""
    return (_int6(a) >> 112) & 0x0F


def is_mc_intfacelocal(a: IPv6Address) -> bool:
    return is_multicast(a) and mc_scope(a) == 1


def is_mc_linklocal(a: IPv6Address) -> bool:
    return is_multicast(a) and mc_scope(a) == 2


def is_linklocal(a: IPv6Address) -> bool:
    """fe80::/10 (KAME ``IN6_IS_ADDR_LINKLOCAL``)."""
    try:
        return bool((a._ip >> 118) == 0x3FA)  # type: ignore[attr-defined]  # fe80::/10
    except AttributeError:
        raise _notaddr(a) from None


def is_sitelocal(a: IPv6Address) -> bool:
    """fec0::/10 (deprecated by RFC 3879, still scoped per §1.3)."""
    return (_int6(a) >> 118) == 0x3FB


def is_v4mapped(a: IPv6Address) -> bool:
    """::ffff:0:0/96."""
    return (_int6(a) >> 32) == 0xFFFF


def is_v4compat(a: IPv6Address) -> bool:
    """::0:0/96 minus :: and ::1 (KAME ``IN6_IS_ADDR_V4COMPAT``)."""
    x = _int6(a)
    return (x >> 32) == 0 and x > 1


def is_6to4(a: IPv6Address) -> bool:
    """2002::/16 (RFC 3056)."""
    return (_int6(a) >> 112) == 0x2002


def is_solicited_node(a: IPv6Address) -> bool:
    """ff02::1:ff00:0/104 (RFC 4291 §2.7.1)."""
    try:
        return bool((a._ip >> 24) == (_SOLICITED_PREFIX >> 24))  # type: ignore[attr-defined]
    except AttributeError:
        raise _notaddr(a) from None


# --- §1.14 invalid addresses on the wire --------------------------------------

#: The ranges of seed §1.14, in the seed's order, each with its reason.
INVALID_WIRE_RANGES: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(net), why)
    for net, why in (
        # IPv4 mapped address embedding unspecified/multicast/loopback/broadcast
        ("::ffff:0.0.0.0/104", "v4mapped unspecified"),
        ("::ffff:127.0.0.0/104", "v4mapped loopback"),
        ("::ffff:224.0.0.0/100", "v4mapped multicast"),
        ("::ffff:255.0.0.0/104", "v4mapped broadcast"),
        # 6to4 from unspecified/multicast/loopback/broadcast/private IPv4
        ("2002:0000::/24", "6to4 unspecified"),
        ("2002:7f00::/24", "6to4 loopback"),
        ("2002:e000::/24", "6to4 multicast"),
        ("2002:ff00::/24", "6to4 broadcast"),
        ("2002:0a00::/24", "6to4 private 10/8"),
        ("2002:ac10::/28", "6to4 private 172.16/12"),
        ("2002:c0a8::/32", "6to4 private 192.168/16"),
        # IPv4 compatible embedding unspecified/multicast/loopback/broadcast
        ("::0.0.0.0/104", "v4compat unspecified"),
        ("::127.0.0.0/104", "v4compat loopback"),
        ("::224.0.0.0/100", "v4compat multicast"),
        ("::255.0.0.0/104", "v4compat broadcast"),
    )
)


_INVALID_INT: tuple[tuple[int, int, str], ...] = tuple(
    (int(net.network_address), int(net.netmask), why) for net, why in INVALID_WIRE_RANGES
)


def invalid_wire_reason(a: IPv6Address) -> str | None:
    """Which §1.14 range ``a`` falls in, or ``None``.

    ``::`` and ``::1`` sit inside ``::0.0.0.0/104`` but are not IPv4
    compatible addresses; they are judged by :func:`check_wire_addresses`.
    """
    try:
        x = a._ip  # type: ignore[attr-defined]
    except AttributeError:
        raise _notaddr(a) from None
    if x <= 1 or ((x >> 112) not in (0, 0x2002)):
        return None  # fast path: every listed range is inside ::/16 or 2002::/16
    for base, mask, why in _INVALID_INT:
        if x & mask == base:
            return why
    return None


def check_wire_addresses(
    src: IPv6Address,
    dst: IPv6Address,
    *,
    siit: bool = False,
    from_loopback: bool = False,
) -> str | None:
    """The ``ip6_input`` address checks: ``None`` if acceptable, else why.

    Every refusal is counted as ``ip6s_badscope`` by the node. Rules (§1.14,
    RFC 4291): multicast source; unspecified destination; ``::1`` on a
    non-loopback interface; any of :data:`INVALID_WIRE_RANGES`; and, unless in
    an SIIT environment (``siit``), any IPv4-mapped address at all ("someone
    is trying to impersonate an IPv4 peer").
    """
    if is_multicast(src):
        return "multicast source"
    if is_unspecified(dst):
        return "unspecified destination"
    if not from_loopback and (is_loopback(src) or is_loopback(dst)):
        return "loopback address on the wire"
    for a, which in ((src, "source"), (dst, "destination")):
        why = invalid_wire_reason(a)
        if why is not None:
            return f"{which}: {why}"
        if not siit and (a._ip >> 32) == 0xFFFF:  # type: ignore[attr-defined]
            return f"{which}: v4mapped in a native IPv6 header"
    return None


#: ICMPv6 types that may carry the unspecified source (§1.14): RS (RFC 4861
#: 4.1), NS for DAD (RFC 4862 5.4.2), MLDv1 report/done and MLDv2 report
#: (RFC 3810 5.2.13 "while no IPv6 address is assigned").
_UNSPEC_OK_ICMP6 = frozenset({131, 132, 133, 135, 143})


def unspecified_source_allowed(next_header: int, icmp6_type: int | None = None) -> bool:
    """Whether a packet of this kind may be sent from ``::`` (§1.14).

    Only DAD and MLD (and RS) are legal; TCP from ``::`` is an attack and
    anything else has no legitimate use.
    """
    return next_header == 58 and icmp6_type in _UNSPEC_OK_ICMP6


# --- interface identifiers ---------------------------------------------------

EUI64_UBIT = 0x02
EUI64_GBIT = 0x01


def eui64_ifid(mac: bytes) -> bytes:
    """Modified EUI-64 interface ID from a 48-bit MAC or a 64-bit EUI-64.

    RFC 4291 appendix A: insert ``ff:fe`` in the middle of a MAC, then
    invert the universal/local bit (0x02 of the first octet).
    """
    if len(mac) == 6:
        eui = mac[:3] + b"\xff\xfe" + mac[3:]
    elif len(mac) == 8:
        eui = bytes(mac)
    else:
        raise ValueError(f"hardware address of {len(mac)} bytes has no EUI-64")
    return bytes([eui[0] ^ EUI64_UBIT]) + eui[1:]


def hostname_ifid(hostname: str | bytes) -> bytes:
    """KAME's last-resort interface ID: MD5(hostname) (§1.4.1).

    As ``get_rand_ifid``: the first 8 bytes of the digest, g bit cleared
    ("individual"), u bit set ("local"), then converted EUI-64 -> IID, which
    flips u back: the first octet ends with both low bits clear.
    """
    if isinstance(hostname, str):
        hostname = hostname.encode()
    d = bytearray(hashlib.md5(hostname).digest()[:8])
    d[0] &= ~EUI64_GBIT & 0xFF
    d[0] |= EUI64_UBIT
    d[0] ^= EUI64_UBIT
    return bytes(d)


def generate_tmp_ifid(
    history: bytes, ifid: bytes, rng: random.Random | None = None
) -> tuple[bytes, bytes]:
    """RFC 3041 §3.2.1: a temporary interface ID and the next history value.

    ``history`` is the 64-bit history value (all zero = none yet: seeded from
    ``rng``); ``ifid`` the interface's stable 64-bit ID. Returns
    ``(tmp_ifid, new_history)``: ``tmp_ifid`` = MD5(history ‖ ifid)[0:8] with
    bit 6 (0x02 of the first byte) cleared; ``new_history`` =
    MD5(...)[8:16]. As KAME ``generate_tmp_ifid``, an all-zero result or one
    equal to ``ifid`` is replaced by a random ID.
    """
    if len(history) != 8 or len(ifid) != 8:
        raise ValueError("history and ifid are 8 bytes each")
    rng = rng or random.Random()
    if history == bytes(8):
        history = rng.getrandbits(64).to_bytes(8, "big")
    digest = hashlib.md5(history + ifid).digest()
    tmp = bytearray(digest[:8])
    tmp[0] &= ~EUI64_UBIT & 0xFF
    if bytes(tmp) == bytes(8) or bytes(tmp) == ifid:
        tmp = bytearray(rng.getrandbits(64).to_bytes(8, "big"))
        tmp[0] &= ~EUI64_UBIT & 0xFF
    return bytes(tmp), digest[8:16]


def make_addr(prefix: IPv6Address | IPv6Network, ifid: bytes, prefixlen: int = 64) -> IPv6Address:
    """Prefix (upper ``prefixlen`` bits) ‖ interface ID (lower bits)."""
    p = _int6(prefix.network_address if isinstance(prefix, IPv6Network) else prefix)
    if not isinstance(prefixlen, int) or not 0 <= prefixlen <= 128:
        raise ValueError(f"prefixlen {prefixlen!r}: 0-128")
    if not isinstance(ifid, (bytes, bytearray)):
        raise TypeError(f"ifid is bytes, not {type(ifid).__name__}")
    host_bits = 128 - prefixlen
    mask = (1 << host_bits) - 1
    return IPv6Address((p & ~mask & ((1 << 128) - 1)) | (int.from_bytes(ifid, "big") & mask))


def ifid_of(a: IPv6Address) -> bytes:
    """The lower 64 bits."""
    return (_int6(a) & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big")


def solicited_node(a: IPv6Address) -> IPv6Address:
    """ff02::1:ffXX:XXXX from the low 24 bits of ``a`` (RFC 4291 §2.7.1)."""
    return IPv6Address(_SOLICITED_PREFIX | (_int6(a) & 0xFFFFFF))


def subnet_router_anycast(prefix: IPv6Network) -> IPv6Address:
    """prefix::/n with all host bits zero (RFC 4291 §2.6.1)."""
    if not isinstance(prefix, IPv6Network):
        raise TypeError(f"an ipaddress.IPv6Network, not {type(prefix).__name__}")
    return prefix.network_address


def ether_multicast(a: IPv6Address) -> bytes:
    """33:33 ‖ low 32 bits (RFC 2464 §7)."""
    return b"\x33\x33" + (_int6(a) & 0xFFFFFFFF).to_bytes(4, "big")
