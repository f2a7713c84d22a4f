"""ALTQ's packet classifier (``acc_add_filter``, ``acc_classify``,
``apply_filter4``/``apply_filter6`` in ``altq_subr.c``): ``filter`` and
``filter6`` rules of altq.conf mapping a flow to a class.

A field of 0 (address, port, protocol, flow label, gpi) is a wildcard, as
in ALTQ. IPv4 rules see only IPv4 packets and IPv6 rules only IPv6 ones;
the first rule that matches, in the order the rules were added, names the
class. A table is bounded (:data:`MAX_FILTERS`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kame.altq.subr import AltqClass, Flow

#: Rules one interface takes (ALTQ's ``ACC_MAXFILTERS``-like bound).
MAX_FILTERS = 4096


class Filter:
    """One rule (``struct flow_filter`` / ``flow_filter6``). ``src``/``dst``
    are ``(address as int, prefix length)``; ``tos``/``tosmask`` the TOS
    octet (IPv4) or the traffic class (IPv6) under a mask (mask 0: any)."""

    __slots__ = (
        "_dmask",
        "_smask",
        "cls",
        "dplen",
        "dport",
        "dst",
        "family",
        "flowlabel",
        "gpi",
        "hits",
        "proto",
        "splen",
        "sport",
        "src",
        "tos",
        "tosmask",
    )

    def __init__(self, family: int, cls: AltqClass, *, dst: int = 0, dplen: int = 0,
                 src: int = 0, splen: int = 0, dport: int = 0, sport: int = 0, proto: int = 0,
                 tos: int = 0, tosmask: int = 0, flowlabel: int = 0, gpi: int = 0) -> None:
        bits = 32 if family == 4 else 128
        if family not in (4, 6) or not 0 <= dplen <= bits or not 0 <= splen <= bits:
            raise ValueError("filter: family 4 or 6 and prefix lengths that fit")
        self.family = family
        self.cls = cls
        self._dmask = ((1 << dplen) - 1) << (bits - dplen)
        self._smask = ((1 << splen) - 1) << (bits - splen)
        self.dst, self.dplen = dst & self._dmask, dplen
        self.src, self.splen = src & self._smask, splen
        self.dport, self.sport, self.proto = dport, sport, proto
        self.tos, self.tosmask = tos & tosmask, tosmask
        self.flowlabel, self.gpi = flowlabel, gpi
        self.hits = 0

    def match(self, fl: Flow) -> bool:
        return (fl.family == self.family
                and (fl.dst & self._dmask) == self.dst
                and (fl.src & self._smask) == self.src
                and (not self.proto or fl.proto == self.proto)
                and (not self.dport or fl.dport == self.dport)
                and (not self.sport or fl.sport == self.sport)
                and (fl.tos & self.tosmask) == self.tos
                and (not self.flowlabel or fl.flowlabel == self.flowlabel)
                and (not self.gpi or fl.gpi == self.gpi))


class Classifier:
    """The rules of one interface, in order; ``classify`` counts the hits."""

    def __init__(self) -> None:
        self.filters: list[Filter] = []
        #: packets no rule took (they go to the default class)
        self.misses = 0

    def add(self, f: Filter) -> None:
        if len(self.filters) >= MAX_FILTERS:
            raise ValueError(f"filter: more than {MAX_FILTERS} rules on one interface")
        self.filters.append(f)

    def classify(self, fl: Flow) -> AltqClass | None:
        if fl.family:
            for f in self.filters:
                if f.match(fl):
                    f.hits += 1
                    return f.cls
        self.misses += 1
        return None
