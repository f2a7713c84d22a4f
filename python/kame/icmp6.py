"""ICMPv6 error generation rules and rate limits (KAME ``icmp6.c``, §1.9).

:func:`may_send_error` is RFC 4443 §2.4 (e) plus the seed's rule that no
error is sent about a Redirect (§1.9); refusals are counted
``icp6s_canterror``. :class:`ErrorRateLimiter` applies both KAME limits,
``net.inet6.icmp6.errppslimit`` (a token bucket of that many errors per
second, default 200; -1 unlimited, 0 none) and
``net.inet6.icmp6.errratelimit`` (a minimum interval in milliseconds between
two errors, default 0 = off); refusals are counted ``icp6s_toofreq``.
:func:`error_payload` truncates the invoking packet so the error fits the
minimum MTU of 1280 bytes (RFC 4443 §2.4 (c)).
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address

from kame.addr import is_multicast
from kame.knobs import Knobs

__all__ = [
    "ICMP6_DST_UNREACH",
    "ICMP6_DST_UNREACH_ADDR",
    "ICMP6_DST_UNREACH_NOPORT",
    "ICMP6_PACKET_TOO_BIG",
    "ICMP6_PARAMPROB_NEXTHEADER",
    "ICMP6_PARAMPROB_OPTION",
    "ICMP6_PARAM_PROB",
    "ICMP6_TIME_EXCEEDED",
    "ICMPV6_PLD_MAXLEN",
    "IPV6_MMTU",
    "ND_REDIRECT",
    "ErrorRateLimiter",
    "Invoking",
    "error_payload",
    "is_error_type",
    "may_send_error",
]

ICMP6_DST_UNREACH = 1
ICMP6_DST_UNREACH_NOROUTE = 0
ICMP6_DST_UNREACH_ADMIN = 1
ICMP6_DST_UNREACH_BEYONDSCOPE = 2
ICMP6_DST_UNREACH_ADDR = 3
ICMP6_DST_UNREACH_NOPORT = 4
ICMP6_PACKET_TOO_BIG = 2
ICMP6_TIME_EXCEEDED = 3
ICMP6_PARAM_PROB = 4
ICMP6_PARAMPROB_HEADER = 0
ICMP6_PARAMPROB_NEXTHEADER = 1
ICMP6_PARAMPROB_OPTION = 2
ND_REDIRECT = 137

IPV6_MMTU = 1280
#: Invoking-packet bytes that fit: 1280 - IPv6 header (40) - ICMPv6 header (8).
ICMPV6_PLD_MAXLEN = IPV6_MMTU - 40 - 8


def is_error_type(icmp6_type: int) -> bool:
    """Types 0-127 are errors (RFC 4443 §2.1)."""
    return 0 <= icmp6_type < 128


@dataclass(frozen=True, slots=True)
class Invoking:
    """What the rules need to know about the packet that caused an error.

    ``icmp6_type`` is the type of the invoking packet's ICMPv6 header when
    its upper layer is ICMPv6 (``None`` otherwise, or when the header could
    not be read: a truncated ICMPv6 header is treated as possibly an error
    and refused, as KAME does). ``ll_multicast`` / ``ll_broadcast`` say how
    the frame arrived. ``src_not_unique`` is true when the source is known
    not to identify a single node (one of our anycast addresses, RFC 4443
    §2.4 (e.6)). ``option_type`` is the unrecognised option's type for a
    Parameter Problem code 2.
    """

    src: IPv6Address
    dst: IPv6Address
    next_header: int
    icmp6_type: int | None = None
    ll_multicast: bool = False
    ll_broadcast: bool = False
    src_not_unique: bool = False
    option_type: int | None = None


def may_send_error(inv: Invoking, err_type: int, err_code: int) -> tuple[bool, str]:
    """RFC 4443 §2.4 (e) with the §1.9 Redirect rule: ``(allowed, why_not)``.

    An error MUST NOT be sent about:

    - (e.1) an ICMPv6 error message; §1.9: nor a Redirect;
    - (e.2/3/4) a packet to an IPv6 multicast address, or sent as a
      link-layer multicast or broadcast — except Packet Too Big, and
      Parameter Problem code 2 for an option whose type's two high bits are
      ``10`` (RFC 8200 §4.2);
    - (e.5) a packet whose source does not uniquely identify a node:
      unspecified, multicast, or an anycast address we know.
    """
    if not isinstance(inv, Invoking):
        raise TypeError(f"inv is an Invoking, not {type(inv).__name__}")
    if inv.next_header == 58:
        t = inv.icmp6_type
        if t is None:
            return False, "invoking ICMPv6 header unreadable"
        if is_error_type(t):
            return False, "invoking packet is an ICMPv6 error"
        if t == ND_REDIRECT:
            return False, "invoking packet is a Redirect"
    exempt = err_type == ICMP6_PACKET_TOO_BIG or (
        err_type == ICMP6_PARAM_PROB
        and err_code == ICMP6_PARAMPROB_OPTION
        and inv.option_type is not None
        and (inv.option_type & 0xC0) == 0x80
    )
    if not exempt:
        if is_multicast(inv.dst):
            return False, "invoking packet sent to a multicast address"
        if inv.ll_multicast:
            return False, "invoking packet was a link-layer multicast"
        if inv.ll_broadcast:
            return False, "invoking packet was a link-layer broadcast"
    if int(inv.src) == 0 or is_multicast(inv.src) or inv.src_not_unique:
        return False, "invoking source does not identify a single node"
    return True, ""


def error_payload(invoking: bytes) -> bytes:
    """As much of the invoking packet as fits in a 1280-byte error."""
    return bytes(invoking[:ICMPV6_PLD_MAXLEN])


class ErrorRateLimiter:
    """``icmp6_ratelimit``: both KAME limits, read live from the knobs.

    The pps limit is a token bucket holding at most ``errppslimit`` tokens,
    refilled at ``errppslimit`` per second, starting full.
    """

    __slots__ = ("_last", "_stamp", "_tokens", "knobs")

    def __init__(self, knobs: Knobs | None = None) -> None:
        self.knobs = knobs if knobs is not None else Knobs()
        self._tokens: float | None = None
        self._stamp = 0.0
        self._last: float | None = None

    def allow(self, now: float) -> bool:
        """Take one error's worth of budget at ``now``; ``False`` = too frequent."""
        interval = self.knobs["net.inet6.icmp6.errratelimit"] / 1000.0
        if interval > 0 and self._last is not None and now - self._last < interval:
            return False
        pps = self.knobs["net.inet6.icmp6.errppslimit"]
        if pps == 0:
            return False
        if pps > 0:
            if self._tokens is None:
                self._tokens = float(pps)
            else:
                elapsed = max(0.0, now - self._stamp)
                self._tokens = min(float(pps), self._tokens + elapsed * pps)
            self._stamp = now
            if self._tokens < 1.0:
                return False
            self._tokens -= 1.0
        self._last = now
        return True
