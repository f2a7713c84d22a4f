"""DNS64 (RFC 6147): AAAA records synthesized from A records with the
NAT64's RFC 6052 prefix, for IPv6-only clients of the translator.

:func:`synthesize` works on :class:`kame.resolv.Answer` values (the AAAA
and the A answer of one name); :func:`lookup64` asks both through a
:class:`kame.resolv.Client` and returns the answer a DNS64 gives. The
resolver plugs it in where it takes AAAA answers: ``Client.search(name,
AAAA)`` followed by ``synthesize(aaaa, lambda: client.search(name, A),
xlat)`` (the A query is only made when it is needed, RFC 6147 §5.1.1)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from ipaddress import IPv4Address, IPv6Address, IPv6Network
from typing import Any

from kame import _core
from kame.resolv import Answer, Status

__all__ = ["lookup64", "synthesize"]

#: RFC 6147 §5.1.4: AAAA records in ::ffff:0:0/96 are not real IPv6
#: answers and are excluded by default.
EXCLUDE6 = (IPv6Network("::ffff:0:0/96"),)


def _real(values: list[Any], exclude: tuple[IPv6Network, ...]) -> list[IPv6Address]:
    return [v for v in values if isinstance(v, IPv6Address) and not any(v in n for n in exclude)]


def synthesize(aaaa: Answer, a: Answer | Callable[[], Answer], xlat: _core.Xlat, *,
               exclude: tuple[IPv6Network, ...] = EXCLUDE6, max_ttl: int = 600) -> Answer:
    """The DNS64 answer for one name (RFC 6147 §5.1):

    - real AAAA records (not excluded, §5.1.4) are returned as they are;
    - a Name Error (NXDOMAIN) for the AAAA is returned as it is (§5.1.2);
    - otherwise (NODATA, or an error other than NXDOMAIN, §5.1.2-5.1.3)
      the A records are each mapped into the prefix (§5.1.7; an address the
      prefix may not carry, RFC 6052 §3.1, is skipped), with the TTL of the
      A answer capped by ``max_ttl`` (§5.1.7 says at most the SOA minimum).

    ``a`` is the A answer, or a function that asks for it (called only
    when synthesis is needed)."""
    real = _real(aaaa.values, exclude) if aaaa.status is Status.OK else []
    if real:
        return replace(aaaa, values=real)
    if aaaa.status is Status.NXDOMAIN:
        return aaaa
    a_ans = a() if callable(a) else a
    if a_ans.status is not Status.OK:
        return aaaa if aaaa.status is not Status.OK else replace(aaaa, status=Status.NODATA, values=[])
    synth: list[Any] = []
    for v in a_ans.values:
        if isinstance(v, IPv4Address):
            m = xlat.map4(v)
            if m is not None:
                synth.append(m)
    if not synth:
        return replace(aaaa, status=Status.NODATA, values=[])
    return replace(aaaa, status=Status.OK, values=synth, canonical=a_ans.canonical or aaaa.canonical,
                   ttl=min(a_ans.ttl, max_ttl), server=a_ans.server)


def lookup64(client: Any, name: str, xlat: _core.Xlat) -> Answer:
    """``client.search`` for AAAA with DNS64 synthesis from A (RFC 6147)."""
    from kame import dns

    aaaa = client.search(name, dns.AAAA)
    return synthesize(aaaa, lambda: client.search(name, dns.A), xlat)
