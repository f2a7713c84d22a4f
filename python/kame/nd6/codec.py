"""The thin mapping between the wire core's message objects and the ND
state machines' typed inputs and actions.

Input: ``kame._core.parse_icmpv6`` returns one object per ICMPv6 message
(``NeighborSolicitation``, ``NeighborAdvertisement``, ``RouterSolicitation``,
``RouterAdvertisement``, ``Redirect`` ...), with its ND options already
walked KAME-style (zero length rejected, first of each single-use option
wins, past ``nd6_maxndopt`` counted in ``nd_toomanyopt``). :func:`to_input`
copies those fields, plus the IPv6 header's source, destination and hop
limit, into the frozen dataclasses of :mod:`kame.nd6.types`. Nothing is
parsed here.

Output: :func:`build_rs` and :func:`build_ra` turn actions into ICMPv6
message objects and then into a complete IPv6 packet (header from
``kame._core.Ipv6Header``, checksum by the core over the pseudo-header);
:func:`build_ns` and :func:`build_na`, sent for every resolution and every
answered NS, go straight from the action's fields to the packet in one core
call (``kame._core.nd6_ns_output`` / ``nd6_na_output``, the same bytes).
:func:`ether` / :func:`parse_ether` frame and unframe Ethernet II (RFC 2464).

The node's ND fast path (``kame._core.nd6_input``) hands addresses over as
ints; :func:`addr6` turns them into :class:`~ipaddress.IPv6Address` objects,
reusing the object of a recently seen address.
"""

from __future__ import annotations

import struct
from ipaddress import IPv6Address
from typing import Any

from kame import _core
from kame.nd6.types import (
    NaInput,
    NsInput,
    PrefixInfo,
    RaInput,
    RdnssInfo,
    RedirectInput,
    RouteInfo,
    RsInput,
    SendNA,
    SendNS,
    SendRA,
    SendRS,
)

__all__ = [
    "ETHERTYPE_IPV6",
    "addr6",
    "build_icmp6_packet",
    "build_na",
    "build_ns",
    "build_ra",
    "build_rs",
    "ether",
    "parse_ether",
    "to_input",
]

ETHERTYPE_IPV6 = 0x86DD
ND_HOPLIMIT = 255
_ETHERTYPE_IPV6_BYTES = b"\x86\xdd"

#: Recently seen addresses by their int; bounded, emptied when full.
_ADDR6: dict[int, IPv6Address] = {}
_ADDR6_MAX = 4096


def addr6(x: int) -> IPv6Address:
    """``IPv6Address(x)`` for an int ``0 <= x < 2**128`` (as the core gives),
    reusing the object of a recently seen address (they are immutable).

    A cache miss fills the two slots of the object directly, which is what
    ``IPv6Address.__init__`` does for an int after its type and range checks.
    """
    a = _ADDR6.get(x)
    if a is None:
        if not 0 <= x <= 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF:
            raise ValueError(f"{x!r} is not a 128-bit address")
        if len(_ADDR6) >= _ADDR6_MAX:
            _ADDR6.clear()
        a = object.__new__(IPv6Address)
        a._ip = x  # type: ignore[attr-defined]
        a._scope_id = None  # type: ignore[attr-defined]
        _ADDR6[x] = a
    return a


def ether(dst: bytes, src: bytes, payload: bytes, ethertype: int = ETHERTYPE_IPV6) -> bytes:
    """An Ethernet II frame (no FCS; short frames are not padded)."""
    t = _ETHERTYPE_IPV6_BYTES if ethertype == ETHERTYPE_IPV6 else struct.pack("!H", ethertype)
    return b"".join((dst, src, t, payload))


def parse_ether(frame: bytes) -> tuple[bytes, bytes, int, bytes] | None:
    """``(dst, src, ethertype, payload)`` or ``None`` for a runt."""
    if len(frame) < 14:
        return None
    return frame[:6], frame[6:12], (frame[12] << 8) | frame[13], frame[14:]


def _opt(msg: Any, cls: type) -> Any:
    for o in msg.options:
        if isinstance(o, cls):
            return o
    return None


def ha_info(options: Any) -> tuple[int, int] | None:
    """The first Home Agent Information option (RFC 6275 §7.4: type 8,
    length 1, reserved, a signed preference, a lifetime in seconds) among
    ``options`` as (preference, lifetime); None when there is none or it is
    not 8 octets long (an invalid option, ignored as RFC 4861 §4.6 says)."""
    for o in options:
        if isinstance(o, _core.NdOptUnknown) and o.type == 8:
            d = o.data
            if len(d) != 6:
                return None
            pref = int.from_bytes(d[2:4], "big", signed=True)
            return pref, int.from_bytes(d[4:6], "big")
    return None


def to_input(src: IPv6Address, dst: IPv6Address, hop_limit: int, msg: Any) -> Any:
    """The typed input for an ND message object, or ``None`` for other types."""
    if isinstance(msg, _core.NeighborSolicitation):
        nonce = _opt(msg, _core.NdOptNonce)
        return NsInput(src, dst, hop_limit, msg.target, msg.source_lladdr,
                       nonce.nonce if nonce is not None else None, 0, msg.nd_toomanyopt)
    if isinstance(msg, _core.NeighborAdvertisement):
        return NaInput(src, dst, hop_limit, msg.target, msg.router, msg.solicited,
                       msg.override, msg.target_lladdr, 0, msg.nd_toomanyopt)
    if isinstance(msg, _core.RouterSolicitation):
        return RsInput(src, dst, hop_limit, msg.source_lladdr, 0, msg.nd_toomanyopt)
    if isinstance(msg, _core.RouterAdvertisement):
        return RaInput(
            src, dst, hop_limit,
            cur_hop_limit=msg.cur_hop_limit, managed=msg.managed, other=msg.other,
            preference=msg.preference, router_lifetime=msg.router_lifetime,
            reachable_time=msg.reachable_time, retrans_timer=msg.retrans_timer,
            slla=msg.source_lladdr, mtu=msg.mtu,
            prefixes=tuple(PrefixInfo(p.prefix, p.prefix_len, p.on_link, p.autonomous,
                                      p.valid_lifetime, p.preferred_lifetime,
                                      bool(p.flags & 0x20)) for p in msg.prefixes),
            routes=tuple(RouteInfo(r.prefix, r.prefix_len, r.preference, r.lifetime)
                         for r in msg.routes),
            rdnss=tuple(RdnssInfo(r.lifetime, tuple(r.servers)) for r in msg.rdnss),
            code=0, options_ignored=msg.nd_toomanyopt,
            home_agent=bool(msg.flags & 0x20), ha_info=ha_info(msg.options),
        )
    if isinstance(msg, _core.Redirect):
        tlla = _opt(msg, _core.NdOptTargetLinkAddr)
        return RedirectInput(src, dst, hop_limit, msg.target, msg.destination,
                             tlla.lladdr if tlla is not None else None, 0, msg.nd_toomanyopt)
    return None


def build_icmp6_packet(src: IPv6Address, dst: IPv6Address, msg: Any,
                       hop_limit: int = ND_HOPLIMIT) -> bytes:
    """IPv6 header + ICMPv6 message with its checksum."""
    body = msg.to_bytes(src, dst)
    hdr = _core.Ipv6Header(src, dst, next_header=58, hop_limit=hop_limit, payload_len=len(body))
    return bytes(hdr.to_bytes() + body)


def build_ns(a: SendNS, src: IPv6Address, own_lladdr: bytes | None) -> bytes:
    """The NS packet: SLLA unless a DAD probe (``src`` ::) or not asked for,
    then the RFC 7527 nonce if any (RFC 4861 §4.3, §7.2.2)."""
    slla = own_lladdr if a.include_slla and src._ip != 0 and own_lladdr else None  # type: ignore[attr-defined]
    return _core.nd6_ns_output(src._ip, a.dst._ip, a.target._ip, slla, a.nonce)  # type: ignore[attr-defined]


def build_na(a: SendNA, src: IPv6Address, own_lladdr: bytes | None) -> bytes:
    """The NA packet: R/S/O flags and, if asked for, a TLLA carrying the
    proxied address or ours (RFC 4861 §4.4, §7.2.4)."""
    ll = a.tlla if a.tlla is not None else own_lladdr
    flags = (0x80 if a.router else 0) | (0x40 if a.solicited else 0) | (0x20 if a.override else 0)
    return _core.nd6_na_output(src._ip, a.dst._ip, a.target._ip, flags,  # type: ignore[attr-defined]
                               ll if a.include_tlla and ll else None)


def build_rs(a: SendRS, own_lladdr: bytes | None) -> bytes:
    opts = [_core.NdOptSourceLinkAddr(own_lladdr)] if a.include_slla and own_lladdr else []
    return build_icmp6_packet(a.src, IPv6Address("ff02::2"), _core.RouterSolicitation(opts))


def build_ra(a: SendRA, src: IPv6Address, own_lladdr: bytes | None) -> bytes:
    opts: list[Any] = []
    if a.include_slla and own_lladdr:
        opts.append(_core.NdOptSourceLinkAddr(own_lladdr))
    if a.mtu:
        opts.append(_core.NdOptMtu(a.mtu))
    for p in a.prefixes:
        opts.append(_core.NdOptPrefixInfo(p.prefix, p.prefixlen, p.onlink, p.autonomous,
                                          p.valid_lifetime, p.preferred_lifetime))
    for r in a.routes:
        opts.append(_core.NdOptRouteInfo(r.prefix, r.prefixlen, r.preference, r.lifetime))
    for d in a.rdnss:
        opts.append(_core.NdOptRdnss(list(d.servers), d.lifetime))
    flags = None
    if a.home_agent is not None:  # RFC 6275 §7.1 (H), §7.4 (Home Agent Information)
        pref, life = a.home_agent
        opts.append(_core.NdOptUnknown(8, b"\0\0" + (pref & 0xFFFF).to_bytes(2, "big")
                                       + life.to_bytes(2, "big")))
        flags = (0x80 * a.managed) | (0x40 * a.other) | 0x20 | ((a.preference & 3) << 3)
    msg = _core.RouterAdvertisement(a.cur_hop_limit, a.managed, a.other, a.preference,
                                    a.router_lifetime, a.reachable_time, a.retrans_timer, opts,
                                    flags=flags)
    return build_icmp6_packet(src, a.dst, msg)
