"""Source address selection and destination address ordering (KAME
``in6_src.c``; RFC 6724, which obsoletes RFC 3484; seed §1.6).

- :class:`PolicyTable` — the policy table of RFC 6724 §2.1, managed like
  ``ip6addrctl``: :meth:`~PolicyTable.add`, :meth:`~PolicyTable.delete`,
  :meth:`~PolicyTable.flush`, :meth:`~PolicyTable.show` and
  :meth:`~PolicyTable.install_default` (the "default policy installed at
  bootstrap" of §1.6.1). An address that no entry matches gets precedence 0
  and no label, as KAME's ``defaultaddrpolicy`` (rule 6 then never matches).
- :func:`in6_selectsrc` — RFC 6724 §5, all eight rules in order and the
  optional rule 5.5 between rules 5 and 6 (below), with KAME's two extra
  rules ahead of rule 8 (prefer addresses on interfaces that are up, then on "preferred"
  interfaces, ``ndp -i IF prefer_source``), ``net.inet6.ip6.use_deprecated``
  (0: a deprecated address is never chosen) and
  ``net.inet6.ip6.prefer_tempaddr`` (rule 7: 0 prefers public addresses, as
  KAME's default; 1 prefers temporary ones, as RFC 6724's). The caller
  filters out candidates that break the destination's scope zone.
- Rule 5.5, "prefer addresses in a prefix advertised by the next-hop": the
  caller gives the router the route to D goes through (``next_hop``: the
  default router chosen for D, an RFC 4191 route's router, a Redirect's
  target or a static route's gateway; ``None`` when D is on-link, the
  route is not known, or ``net.inet6.ip6.prefer_nexthop_prefix`` is 0) and,
  per candidate, the routers that advertised its prefix on its link
  (:attr:`SourceCandidate.advrtrs`, from the ND prefix list's
  ``ndpr_advrtrs``). A candidate whose prefix that router advertised wins
  over one whose prefix it did not; with no next hop, or when both or
  neither qualify, the rule does not decide. A candidate whose prefix no
  router advertised (a manual address outside every advertised prefix)
  counts as not advertised by the next hop: the RFC's literal pairwise
  wording (prefer SA only when SB's prefix came from a *different* router)
  is not transitive once such a candidate is among them (A beats B, both
  tie with C, and rules 6-8 may rank B over C over A), and the choice must
  be a maximum that does not depend on the candidates' order.
- :func:`order_destinations` — RFC 6724 §6, rules 1-10, stable; what
  ``getaddrinfo`` sorts its answers with (§1.6.2).

Addresses may be IPv6 or IPv4; IPv4 addresses are looked up in the policy
table as IPv4-mapped addresses, and take the scopes of RFC 6724 §3.2
(127/8 and 169.254/16 link-local, all others global).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cmp_to_key
from ipaddress import IPv4Address, IPv6Address, IPv6Network

from kame.errors import ConfigError
from kame.scope6 import in6_addrscope

__all__ = [
    "DEFAULT_POLICY",
    "AddrPolicy",
    "Destination",
    "PolicyTable",
    "SourceCandidate",
    "common_prefix_len",
    "in6_selectsrc",
    "order_destinations",
    "scope_of",
]

Address = IPv6Address | IPv4Address

#: RFC 6724 §2.1 default policy table: prefix, precedence, label.
DEFAULT_POLICY: tuple[tuple[str, int, int], ...] = (
    ("::1/128", 50, 0),
    ("::/0", 40, 1),
    ("::ffff:0:0/96", 35, 4),
    ("2002::/16", 30, 2),
    ("2001::/32", 5, 5),
    ("fc00::/7", 3, 13),
    ("::/96", 1, 3),
    ("fec0::/10", 1, 11),
    ("3ffe::/16", 1, 12),
)

#: KAME ``ADDR_LABEL_NOTAPP``: no policy matched.
LABEL_NOTAPP = -1


@dataclass(frozen=True, slots=True)
class AddrPolicy:
    """One row of the policy table (``struct in6_addrpolicy``)."""

    prefix: IPv6Network
    precedence: int
    label: int


_NOPOLICY = AddrPolicy(IPv6Network("::/0"), 0, LABEL_NOTAPP)


def _as6(a: Address) -> IPv6Address:
    if isinstance(a, IPv4Address):
        return IPv6Address((0xFFFF << 32) | int(a))
    if not isinstance(a, IPv6Address):
        raise TypeError(f"an ipaddress address, not {type(a).__name__}")
    return a


class PolicyTable:
    """The node's address selection policy table (``ip6addrctl``)."""

    __slots__ = ("_match", "_memo", "_rows")

    #: Addresses whose entry :meth:`lookup` remembers (the memo is emptied
    #: when full and on every change of the table).
    MEMO = 4096

    def __init__(self, rows: Iterable[tuple[str | IPv6Network, int, int]] | None = None) -> None:
        self._memo: dict[Address, AddrPolicy] = {}
        self._rows: dict[IPv6Network, AddrPolicy] = {}
        # (network as int, mask as int, row), longest prefix first
        self._match: list[tuple[int, int, AddrPolicy]] = []
        for prefix, prec, label in (DEFAULT_POLICY if rows is None else rows):
            self.add(prefix, prec, label)

    @classmethod
    def empty(cls) -> PolicyTable:
        return cls(())

    def install_default(self) -> None:
        """``ip6addrctl install``: replace the table by RFC 6724's default."""
        self.flush()
        for prefix, prec, label in DEFAULT_POLICY:
            self.add(prefix, prec, label)

    def add(self, prefix: str | IPv6Network, precedence: int, label: int) -> AddrPolicy:
        """``ip6addrctl add PREFIX PRECEDENCE LABEL`` (EEXIST if present)."""
        net = _net(prefix)
        for name, v in (("precedence", precedence), ("label", label)):
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"{name} is an int, not {type(v).__name__}")
            if not 0 <= v <= 0xFFFFFFFF:
                raise ConfigError(f"{name} {v} out of range", layer="in6_src")
        if net in self._rows:
            raise ConfigError(f"policy for {net} exists (EEXIST)", layer="in6_src")
        row = AddrPolicy(net, precedence, label)
        self._rows[net] = row
        self._reindex()
        return row

    def _reindex(self) -> None:
        self._memo = {}
        self._match = [(int(r.prefix.network_address), int(r.prefix.netmask), r)
                       for r in self.rows()]

    def delete(self, prefix: str | IPv6Network) -> None:
        """``ip6addrctl delete PREFIX`` (ESRCH if absent)."""
        net = _net(prefix)
        if self._rows.pop(net, None) is None:
            raise ConfigError(f"no policy for {net} (ESRCH)", layer="in6_src")
        self._reindex()

    def flush(self) -> None:
        """``ip6addrctl flush``."""
        self._rows.clear()
        self._match = []
        self._memo = {}

    def rows(self) -> list[AddrPolicy]:
        return sorted(self._rows.values(),
                      key=lambda r: (-r.prefix.prefixlen, int(r.prefix.network_address)))

    def show(self) -> str:
        """``ip6addrctl show``: one line per entry, longest prefix first."""
        lines = ["Prefix                          Prec Label      Use"]
        for r in self.rows():
            lines.append(f"{r.prefix!s:<32}{r.precedence:>4}{r.label:>6}{0:>9}")
        return "\n".join(lines)

    def lookup(self, addr: Address) -> AddrPolicy:
        """The longest matching entry (``match_addrsel_policy``)."""
        memo = self._memo
        hit = memo.get(addr)
        if hit is not None and type(addr) in (IPv6Address, IPv4Address):
            return hit
        x = int(_as6(addr))
        found = _NOPOLICY
        for net, mask, r in self._match:
            if x & mask == net:
                found = r
                break
        if len(memo) >= self.MEMO:
            memo.clear()
        memo[addr] = found
        return found

    def __len__(self) -> int:
        return len(self._rows)


def _net(prefix: object) -> IPv6Network:
    if not isinstance(prefix, (str, IPv6Network)):
        raise TypeError(f"a prefix is a str or IPv6Network, not {type(prefix).__name__}")
    return IPv6Network(prefix)


def scope_of(addr: Address) -> int:
    """RFC 6724 §3.1/§3.2 scope; IPv4 loopback and 169.254/16 are
    link-local (2), all other IPv4 global (14)."""
    if isinstance(addr, IPv4Address):
        x = int(addr)
        if (x >> 24) == 127 or (x >> 16) == 0xA9FE:
            return 2
        return 14
    return int(in6_addrscope(addr))


def common_prefix_len(s: Address, d: Address, s_prefixlen: int | None = None) -> int:
    """CommonPrefixLen(S, D) of RFC 6724 §2.2, up to the length of S's prefix
    (``s_prefixlen``; 64 for IPv6 when unknown). Mixed families: 0."""
    for a in (s, d):
        if not isinstance(a, (IPv4Address, IPv6Address)):
            raise TypeError(f"an ipaddress address, not {type(a).__name__}")
    if s_prefixlen is not None and not isinstance(s_prefixlen, int):
        raise TypeError("s_prefixlen is an int")
    if isinstance(s, IPv4Address) != isinstance(d, IPv4Address):
        return 0
    bits = 32 if isinstance(s, IPv4Address) else 128
    cap = s_prefixlen if s_prefixlen is not None else (bits if bits == 32 else 64)
    x = int(s) ^ int(d)
    n = bits - x.bit_length()
    return min(n, cap)


@dataclass(frozen=True, slots=True)
class SourceCandidate:
    """A candidate source: the address and what the rules need to know."""

    addr: Address
    ifname: str = ""
    prefixlen: int | None = None
    deprecated: bool = False
    temporary: bool = False
    home: bool = False
    care_of: bool = False
    if_up: bool = True
    if_preferred: bool = False
    #: rule 5.5: routers known to have advertised the prefix of ``addr`` on
    #: the link of ``ifname`` (``ndpr_advrtrs``; the node fills in only the
    #: next hop, when it is one of them)
    advrtrs: tuple[Address, ...] = ()


def _home_rank(c: SourceCandidate) -> int:
    """Rule 4 (both §5 and §6): home and care-of at once, then just a home
    address, then the rest (just a care-of address, or no Mobile IPv6)."""
    if c.home:
        return 2 if c.care_of else 1
    return 0


def _rule2(scope_s: int, scope_d: int) -> tuple[int, int]:
    # Scope(SA) < Scope(SB): prefer SB if Scope(SA) < Scope(D), else SA.
    # As a key to maximise: big enough beats too small; among big enough the
    # smaller wins, among too small the bigger.
    return (1, -scope_s) if scope_s >= scope_d else (0, scope_s)


def source_key(c: SourceCandidate, dst: Address, *, outif: str | None,
               policy: PolicyTable, prefer_tempaddr: bool,
               next_hop: Address | None = None,
               _dst_info: tuple[int, int] | None = None) -> tuple[object, ...]:
    """The tuple ``in6_selectsrc`` maximises, rule by rule (RFC 6724 §5)."""
    scope_d, dlabel = _dst_info if _dst_info is not None else (
        scope_of(dst), policy.lookup(dst).label)
    slabel = policy.lookup(c.addr).label
    return (
        c.addr == dst,                                   # rule 1
        _rule2(scope_of(c.addr), scope_d),               # rule 2
        not c.deprecated,                                # rule 3
        _home_rank(c),                                   # rule 4
        outif is None or c.ifname == outif,              # rule 5
        next_hop is not None and next_hop in c.advrtrs   # rule 5.5
        and (outif is None or c.ifname == outif),
        slabel != LABEL_NOTAPP and slabel == dlabel,     # rule 6
        c.temporary if prefer_tempaddr else not c.temporary,  # rule 7
        c.if_up,                                         # KAME: alive interface
        c.if_preferred,                                  # KAME: preferred interface
        common_prefix_len(c.addr, dst, c.prefixlen),     # rule 8
    )


def in6_selectsrc(dst: Address, candidates: Sequence[SourceCandidate], *,
                  outif: str | None = None, policy: PolicyTable | None = None,
                  use_deprecated: bool = True,
                  prefer_tempaddr: bool = False,
                  next_hop: Address | None = None) -> SourceCandidate | None:
    """Choose a source for ``dst`` among ``candidates`` (RFC 6724 §5).

    ``next_hop`` is the router the route to ``dst`` uses (rule 5.5; ``None``:
    not known, the rule does not decide); a candidate qualifies when that
    router is in its :attr:`~SourceCandidate.advrtrs` (and the candidate
    is on ``outif``, the next hop's link, when ``outif`` is given).
    ``None`` when no candidate is left (the caller returns EADDRNOTAVAIL).
    Ties after rule 8 keep the first candidate in the given order.
    """
    pol = _policy(policy)
    if not isinstance(dst, (IPv4Address, IPv6Address)):
        raise TypeError(f"dst is an ipaddress address, not {type(dst).__name__}")
    if next_hop is not None and not isinstance(next_hop, (IPv4Address, IPv6Address)):
        raise TypeError(f"next_hop is an ipaddress address, not {type(next_hop).__name__}")
    best: SourceCandidate | None = None
    best_key: tuple[object, ...] | None = None
    dst4 = isinstance(dst, IPv4Address)
    left: list[SourceCandidate] = []
    for c in candidates:
        if not isinstance(c, SourceCandidate) or not isinstance(c.addr, (IPv4Address, IPv6Address)):
            raise TypeError(f"candidates holds SourceCandidate objects, not {c!r:.60}")
        if isinstance(c.addr, IPv4Address) != dst4:
            continue
        if c.deprecated and not use_deprecated:
            continue  # §1.6.1: use_deprecated=0 prohibits them, even for rule 1
        left.append(c)
    if len(left) <= 1:
        return left[0] if left else None   # the rules only rank two or more
    info = (scope_of(dst), pol.lookup(dst).label)
    for c in left:
        k = source_key(c, dst, outif=outif, policy=pol, prefer_tempaddr=prefer_tempaddr,
                       next_hop=next_hop, _dst_info=info)
        if best_key is None or k > best_key:  # type: ignore[operator]
            best, best_key = c, k
    return best


_DEFAULT_TABLE = PolicyTable()


def _policy(policy: PolicyTable | None) -> PolicyTable:
    if policy is None:
        return _DEFAULT_TABLE
    if not isinstance(policy, PolicyTable):
        raise TypeError(f"policy is a PolicyTable, not {type(policy).__name__}")
    return policy


@dataclass(frozen=True, slots=True)
class Destination:
    """A destination to order, with the source ``in6_selectsrc`` gave it
    (``None``: unusable) and what rules 1, 4 and 7 need."""

    addr: Address
    source: SourceCandidate | None = None
    reachable: bool = True
    encapsulated: bool = False


def _cmp_dest(a: Destination, b: Destination, pol: PolicyTable) -> int:
    """Negative when ``a`` goes first (RFC 6724 §6)."""
    sa, sb = a.source, b.source
    # Rule 1: avoid unusable destinations.
    ua, ub = sa is not None and a.reachable, sb is not None and b.reachable
    if ua != ub:
        return -1 if ua else 1
    if sa is None or sb is None:
        return 0
    # Rule 2: prefer matching scope.
    ma, mb = scope_of(a.addr) == scope_of(sa.addr), scope_of(b.addr) == scope_of(sb.addr)
    if ma != mb:
        return -1 if ma else 1
    # Rule 3: avoid deprecated addresses.
    if sa.deprecated != sb.deprecated:
        return 1 if sa.deprecated else -1
    # Rule 4: prefer home addresses.
    ha, hb = _home_rank(sa), _home_rank(sb)
    if ha != hb:
        return -1 if ha > hb else 1
    # Rule 5: prefer matching label.
    la = pol.lookup(sa.addr).label
    lb = pol.lookup(sb.addr).label
    da, db = pol.lookup(a.addr), pol.lookup(b.addr)
    ma = la != LABEL_NOTAPP and la == da.label
    mb = lb != LABEL_NOTAPP and lb == db.label
    if ma != mb:
        return -1 if ma else 1
    # Rule 6: prefer higher precedence.
    if da.precedence != db.precedence:
        return -1 if da.precedence > db.precedence else 1
    # Rule 7: prefer native transport.
    if a.encapsulated != b.encapsulated:
        return 1 if a.encapsulated else -1
    # Rule 8: prefer smaller scope.
    sca, scb = scope_of(a.addr), scope_of(b.addr)
    if sca != scb:
        return -1 if sca < scb else 1
    # Rule 9: longest matching prefix, same family only.
    if isinstance(a.addr, IPv4Address) == isinstance(b.addr, IPv4Address):
        ca = common_prefix_len(sa.addr, a.addr, sa.prefixlen)
        cb = common_prefix_len(sb.addr, b.addr, sb.prefixlen)
        if ca != cb:
            return -1 if ca > cb else 1
    # Rule 10: leave the order unchanged.
    return 0


def order_destinations(dests: Sequence[Destination], *,
                       policy: PolicyTable | None = None) -> list[Destination]:
    """RFC 6724 §6: sort ``dests`` (a stable sort; rule 10 keeps ties)."""
    pol = _policy(policy)
    ds: list[Destination] = []
    for d in dests:
        if not isinstance(d, Destination):
            raise TypeError(f"dests holds Destination objects, not {type(d).__name__}")
        if len(ds) == 1 << 16:
            raise ValueError("more than 65536 destinations to order")
        ds.append(d)

    def cmp(x: Destination, y: Destination) -> int:
        return _cmp_dest(x, y, pol)

    return sorted(ds, key=cmp_to_key(cmp))
