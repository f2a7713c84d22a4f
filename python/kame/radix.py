"""Longest-prefix match, what BSD's ``radix.c`` (``rn_match``) gives the
routing table, done as one hash table per prefix length: a lookup costs
one probe per distinct prefix length present (a handful on a real link),
not one test per entry, so the per-packet cost of route and on-link
lookups does not grow with the number of addresses, prefixes or routes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

__all__ = ["PrefixIndex"]

V = TypeVar("V")


class PrefixIndex(Generic[V]):
    """Values filed under IPv6 prefixes (``net`` as an int, ``plen``); a
    prefix may hold several values (one per interface, address, router)."""

    __slots__ = ("_by_len", "_lens", "_n")

    def __init__(self) -> None:
        self._by_len: dict[int, dict[int, list[V]]] = {}
        self._lens: tuple[int, ...] = ()  # longest first
        self._n = 0

    def add(self, net: int, plen: int, value: V) -> None:
        d = self._by_len.get(plen)
        if d is None:
            d = self._by_len[plen] = {}
            self._lens = tuple(sorted(self._by_len, reverse=True))
        d.setdefault(net >> (128 - plen), []).append(value)
        self._n += 1

    def remove(self, net: int, plen: int, value: V) -> bool:
        """Remove ``value`` (by identity) from ``net/plen``; False if absent."""
        d = self._by_len.get(plen)
        key = net >> (128 - plen)
        vals = d.get(key) if d is not None else None
        if not vals:
            return False
        for i, v in enumerate(vals):
            if v is value:
                del vals[i]
                break
        else:
            return False
        self._n -= 1
        if not vals:
            del d[key]  # type: ignore[union-attr]
            if not d:
                del self._by_len[plen]
                self._lens = tuple(sorted(self._by_len, reverse=True))
        return True

    def match(self, addr: int) -> Iterator[tuple[int, list[V]]]:
        """(prefix length, values) of every prefix containing ``addr``,
        longest first."""
        by_len = self._by_len
        for plen in self._lens:
            vals = by_len[plen].get(addr >> (128 - plen))
            if vals:
                yield plen, vals

    def __len__(self) -> int:
        return self._n
