"""The node's next-deadline gate: no timer of any of its owners (neighbor
cache, DAD, router lists, MLD, the MLD and IGMP queriers, reassembly,
path MTU, ARP, IGMP, TCP, SA lifetimes, Mobile IPv6 bindings) fires
before :attr:`Gate.due`.

``due`` is a lower bound: every place that arms a timer lowers it
(:meth:`Gate.arm`), a cancelled timer leaves it where it was, and
``Node.poll`` makes it exact again after a poll that found something due.
So an idle ``Node.poll(now)`` with ``now < due`` returns at once, without
asking each owner (BSD's callout wheel answers "nothing in this bucket" the
same way; here one float stands for the wheel). An owner built on its own
(tests) has a gate of its own; the node hands every owner its one gate.
"""

from __future__ import annotations

import math


class Gate:
    """The earliest time any timer may fire: a lower bound, lowered by
    every timer armed."""

    __slots__ = ("due",)

    def __init__(self) -> None:
        self.due = -math.inf  # unknown: the next poll looks

    def arm(self, t: float | None) -> None:
        """A timer armed for ``t`` (``None``: none)."""
        if t is not None and t < self.due:
            self.due = t

    def open(self) -> None:
        """Something waits for the next poll whatever its time."""
        self.due = -math.inf
