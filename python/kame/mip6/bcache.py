"""``mip6_bc.c``: the binding cache of a correspondent node (RFC 6275
§9.1, §9.5.2): home address -> care-of address, the last accepted
sequence number and a lifetime, bounded by ``net.inet6.mip6.bc_max``.
A new entry past the bound is refused (the Binding Update gets status
130, counted ``mip6s_bcfull``); an existing one can always be refreshed.
Entries expire in :meth:`BindingCache.expire` (the node's poll)."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv6Address

__all__ = ["Binding", "BindingCache"]


@dataclass(slots=True)
class Binding:
    """One binding cache entry (RFC 6275 §9.1)."""

    home: IPv6Address
    coa: IPv6Address
    seq: int
    #: the lifetime granted, in seconds
    lifetime: int
    expire: float
    #: a home registration (the H flag, RFC 6275 §10.3.1): this node is the
    #: mobile node's home agent, proxies its home address on ``ifname`` and
    #: tunnels to the care-of address from ``ha_addr``
    home_reg: bool = False
    ha_addr: IPv6Address | None = None
    ifname: str | None = None
    #: the L flag: the link-local address with the home address's
    #: interface identifier is proxied too
    link_local: IPv6Address | None = None


class BindingCache:
    """Bindings by home address, bounded by ``bc_max()`` entries."""

    __slots__ = ("_heap", "bc_max", "entries")

    def __init__(self, bc_max: Callable[[], int]) -> None:
        self.bc_max = bc_max
        self.entries: dict[IPv6Address, Binding] = {}
        # (expiry, home) pushed at every add or refresh; stale pairs are
        # skipped when popped and the heap is rebuilt when they pile up
        self._heap: list[tuple[float, IPv6Address]] = []

    def __len__(self) -> int:
        return len(self.entries)

    def lookup(self, home: IPv6Address) -> Binding | None:
        return self.entries.get(home)

    def update(self, home: IPv6Address, coa: IPv6Address, seq: int, lifetime: int,
               now: float, *, home_reg: bool = False) -> tuple[Binding, bool] | None:
        """Add or refresh the binding of ``home``: ``(entry, created)``, or
        None when a new entry would pass ``bc_max``."""
        b = self.entries.get(home)
        created = b is None
        if b is None:
            if len(self.entries) >= self.bc_max():
                return None
            b = self.entries[home] = Binding(home, coa, seq, lifetime, now + lifetime, home_reg)
        else:
            b.coa, b.seq, b.lifetime, b.expire = coa, seq, lifetime, now + lifetime
        heapq.heappush(self._heap, (b.expire, home))
        if len(self._heap) > 2 * len(self.entries) + 64:
            self._heap = [(e.expire, h) for h, e in self.entries.items()]
            heapq.heapify(self._heap)
        return b, created

    def remove(self, home: IPv6Address) -> Binding | None:
        return self.entries.pop(home, None)

    def next_deadline(self) -> float | None:
        heap = self._heap
        while heap:
            t, home = heap[0]
            b = self.entries.get(home)
            if b is not None and b.expire == t:
                return t
            heapq.heappop(heap)
        return None

    def expire(self, now: float) -> list[Binding]:
        """Remove and return the entries whose lifetime ran out by ``now``."""
        out: list[Binding] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            t, home = heapq.heappop(heap)
            b = self.entries.get(home)
            if b is not None and b.expire == t:
                del self.entries[home]
                out.append(b)
        return out
