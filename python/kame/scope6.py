"""Scope zones (RFC 4007, seed §1.3).

An address with a non-global scope is ambiguous without its zone. kame
carries zones beside addresses:

- users and applications write ``fe80::1%eth0`` (the RFC 4007 §11 extended
  format, the interface name as the link name, §1.3.3) or use the
  ``scope_id`` of a :class:`Sockaddr6` (``sin6_scope_id``);
- the kernel-internal *embedded* form (zone in the second 16-bit word,
  ``fe80:1::200:f8ff:fe01:6317``) exists only behind the four helpers of
  §1.3.1 — :func:`sa6_embedscope`, :func:`sa6_recoverscope`,
  :func:`in6_clearscope`, :func:`in6_setscope` — and in no other module. It
  never goes on the wire and an embedded form typed by a user is refused.

The model assumes KAME's 1-to-1 relationship between links and interfaces
(§1.3): the link zone id of an interface is its interface index.

Errors are :class:`kame.errors.ScopeError` (a :class:`kame.ConfigError`,
so a ``ValueError``) with an ``errno`` name as KAME's helpers return;
:class:`kame.errors.NoInterfaceError` (``ENXIO``) is the one for a zone or
interface that does not exist.

Addresses from users: one door
------------------------------
Every user entry point (the Node API, the sockets layer, netdb, the CLIs
through :func:`parse_scoped`, setkey) takes its IPv6 addresses through
:func:`sa6_from_user`, which accepts ``str`` (``"fe80::1%eth0"``, ``"%2"``),
``ipaddress.IPv6Address`` (its ``scope_id``, as ``IPv6Address("fe80::1%eth0")``
keeps it), :class:`Sockaddr6` and 16 packed octets, and decides, always the
same way:

- the embedded form (a non-zero second 16-bit word in a link- or
  interface-local unicast or multicast address: ``fe80:1::5``, ``ff02:1::1``)
  is refused: ``ScopeError`` ``EINVAL`` (§1.3.1, §1.3.3 "NEVER write the
  embedded form");
- a zone that names no interface, by name or number, is refused:
  ``NoInterfaceError`` (``ENXIO``, as KAME's ``sa6_embedscope``);
- a zone written on a global address (``2001:db8::1%eth0``) is refused
  (``EINVAL``): RFC 4007 §11 defines the format for non-global addresses
  only, and §6 gives the global scope a single zone, so a named one is a
  mistake rather than something to guess about. A numeric
  ``sin6_scope_id`` beside a global address (or ``::1``) is ignored, as
  KAME's ``sa6_embedscope`` and Linux ignore it;
- two zones that disagree (``"fe80::1%eth0"`` with ``scope_id`` 3) are refused
  (``EINVAL``).

The sockets layer reports these as ``OSError`` with the errno its platform
profile gives (BSD sockets speak errno); netdb as ``socket.gaierror``
(``EAI_NONAME``), as ``getaddrinfo`` callers expect. The wire-level
builders of ``kame._core`` (``Ipv6Header``...) take any 128-bit value,
embedded form included, since they are how hostile packets are crafted;
they refuse a zone, which no header can carry. The node never sends an
embedded form: ``ip6_output`` drops one, counted as ``ip6s_badscope``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import IntEnum
from ipaddress import IPv6Address

from kame.errors import NoInterfaceError, ScopeError

__all__ = [
    "Scope",
    "ScopeError",
    "Sockaddr6",
    "ZoneTable",
    "format_scoped",
    "in6_addrscope",
    "in6_clearscope",
    "in6_setscope",
    "is_embeddable",
    "is_embedded_form",
    "parse_scoped",
    "sa6_embedscope",
    "sa6_from_user",
    "sa6_recoverscope",
]


class Scope(IntEnum):
    """RFC 4007 §4 / RFC 4291 §2.7 scope values (``IPV6_ADDR_SCOPE_*``)."""

    INTFACELOCAL = 0x1
    LINKLOCAL = 0x2
    REALMLOCAL = 0x3
    ADMINLOCAL = 0x4
    SITELOCAL = 0x5
    ORGLOCAL = 0x8
    GLOBAL = 0xE


def _notaddr(a: object) -> TypeError:
    return TypeError(f"an ipaddress.IPv6Address, not {type(a).__name__}")


def _sa6(sa6: object, zones: object) -> None:
    if not isinstance(sa6, Sockaddr6) or not isinstance(sa6.addr, IPv6Address) or \
            not isinstance(sa6.scope_id, int):
        raise TypeError(f"a Sockaddr6 of an IPv6Address, not {sa6!r:.60}")
    if not isinstance(zones, ZoneTable):
        raise TypeError(f"zones is a ZoneTable, not {type(zones).__name__}")


def in6_addrscope(a: IPv6Address) -> int:
    """The scope of an address, as KAME ``in6_addrscope``.

    fe80::/10 link, fec0::/10 site, multicast by its scope nibble (reserved
    values returned as they are), ``::1`` link-local (RFC 4291 §2.5.3: the
    loopback address is treated as link-local scope), all else global.
    """
    try:
        p = a.packed
    except AttributeError:
        raise _notaddr(a) from None
    if p[0] == 0xFE:
        if (p[1] & 0xC0) == 0x80:
            return Scope.LINKLOCAL
        if (p[1] & 0xC0) == 0xC0:
            return Scope.SITELOCAL
        return Scope.GLOBAL
    if p[0] == 0xFF:
        return p[1] & 0x0F
    if int(a) == 1:
        return Scope.LINKLOCAL
    return Scope.GLOBAL


def is_embeddable(a: IPv6Address) -> bool:
    """Whether the embedded form applies to ``a``.

    ``IN6_IS_SCOPE_LINKLOCAL`` (fe80::/10, ff02-scope multicast) or
    ``IN6_IS_ADDR_MC_INTFACELOCAL`` (ff01-scope multicast) — as KAME, only
    these carry the zone in the second 16-bit word.
    """
    try:
        x = a._ip  # type: ignore[attr-defined]
    except AttributeError:
        raise _notaddr(a) from None
    if (x >> 118) == 0x3FA:  # fe80::/10
        return True
    return (x >> 120) == 0xFF and ((x >> 112) & 0x0F) in (0x1, 0x2)


def _word1(a: IPv6Address) -> int:
    return int((a._ip >> 96) & 0xFFFF)  # type: ignore[attr-defined]


def is_embedded_form(a: IPv6Address) -> bool:
    """Whether ``a`` is written in the kernel-internal embedded form: an
    embeddable address (:func:`is_embeddable`) whose second 16-bit word is
    not zero (``fe80:1::5``, ``ff02:1::1``). Never from a user, never on the
    wire (§1.3.1)."""
    try:
        x = a._ip  # type: ignore[attr-defined]
    except AttributeError:
        raise _notaddr(a) from None
    return bool((x >> 96) & 0xFFFF) and ((x >> 118) == 0x3FA or (
        (x >> 120) == 0xFF and ((x >> 112) & 0x0F) in (0x1, 0x2)))


@dataclass(frozen=True, slots=True)
class Sockaddr6:
    """``struct sockaddr_in6``: address, port, flow info, scope zone id."""

    addr: IPv6Address
    scope_id: int = 0
    port: int = 0
    flowinfo: int = 0


@dataclass(slots=True)
class ZoneTable:
    """Interfaces and their zone ids per scope (KAME ``scope6_id``).

    ``add(name)`` gives the next interface index. Interface- and link-local
    zones are the interface index; the site, organisation and other zones
    default to 1 (one site, §1.3); global is 0. ``default`` holds the
    default zone per scope (RFC 4007 §6, ``scope6_setdefault``), consulted
    when ``net.inet6.ip6.use_defzone`` is 1.
    """

    by_name: dict[str, int] = field(default_factory=dict)
    by_index: dict[int, str] = field(default_factory=dict)
    zones: dict[str, dict[int, int]] = field(default_factory=dict)
    default: dict[int, int] = field(default_factory=dict)

    def add(self, name: str, index: int | None = None) -> int:
        if not isinstance(name, str) or not (index is None or isinstance(index, int)):
            raise TypeError("ZoneTable.add(name: str, index: int | None)")
        if name in self.by_name:
            return self.by_name[name]
        if index is None:
            index = max(self.by_index, default=0) + 1
        if index in self.by_index or not 0 < index <= 0xFFFF:
            raise ScopeError(f"interface index {index} unusable", "EEXIST")
        self.by_name[name] = index
        self.by_index[index] = name
        zl = {s: 1 for s in range(16)}
        zl[Scope.INTFACELOCAL] = zl[Scope.LINKLOCAL] = index
        zl[Scope.GLOBAL] = 0
        self.zones[name] = zl
        return index

    def remove(self, name: str) -> None:
        idx = self.by_name.pop(name, None)
        if idx is not None:
            self.by_index.pop(idx, None)
            self.zones.pop(name, None)
            for s, z in list(self.default.items()):
                if s in (Scope.INTFACELOCAL, Scope.LINKLOCAL) and z == idx:
                    del self.default[s]

    def index(self, name: str) -> int:
        try:
            return self.by_name[name]
        except KeyError:
            raise NoInterfaceError(f"no interface {name!r}") from None

    def name(self, index: int) -> str:
        try:
            return self.by_index[index]
        except KeyError:
            raise NoInterfaceError(f"no interface with index {index}") from None

    def zone_of(self, name: str, scope: int) -> int:
        """The zone id of ``scope`` that interface ``name`` belongs to."""
        try:
            return self.zones[name][scope]
        except KeyError:
            raise NoInterfaceError(f"no interface {name!r}") from None

    def set_default(self, name: str) -> None:
        """Make ``name``'s zones the defaults (``ndp -I name``)."""
        zl = self.zones.get(name)
        if zl is None:
            raise NoInterfaceError(f"no interface {name!r}")
        self.default = {s: z for s, z in zl.items() if s != Scope.GLOBAL}


# --- the four helpers of §1.3.1 ----------------------------------------------

def sa6_embedscope(sa6: Sockaddr6, zones: ZoneTable, defaultok: bool) -> Sockaddr6:
    """Embed ``sa6.scope_id`` into the address; return it with ``scope_id`` 0.

    If ``scope_id`` is 0, ``defaultok`` is true (typically
    ``net.inet6.ip6.use_defzone``) and a default zone is configured for the
    address's scope, that zone is used. An address still ambiguous after
    that is returned as it is (KAME lets ``in6_setscope`` settle it once the
    outgoing interface is known). An address that already carries an
    embedded id came from outside the kernel and is refused (EINVAL): the
    embedded form is never accepted from an application (§1.3.1).
    """
    _sa6(sa6, zones)
    a = sa6.addr
    if not is_embeddable(a):
        return replace(sa6, scope_id=0)
    if _word1(a) != 0:
        raise ScopeError(f"{a}: embedded zone form from outside the kernel", "EINVAL")
    zoneid = sa6.scope_id
    if zoneid == 0 and defaultok:
        zoneid = zones.default.get(in6_addrscope(a), 0)
    if zoneid == 0:
        return sa6
    if zoneid not in zones.by_index or zoneid > 0xFFFF:
        raise NoInterfaceError(f"zone {zoneid} does not exist")
    p = bytearray(a.packed)
    p[2:4] = zoneid.to_bytes(2, "big")
    return replace(sa6, addr=IPv6Address(bytes(p)), scope_id=0)


def sa6_recoverscope(sa6: Sockaddr6, zones: ZoneTable) -> Sockaddr6:
    """Move an embedded zone id into ``scope_id`` and clear it in the address.

    ENXIO if the embedded zone names no interface; EINVAL if ``scope_id``
    was already set to a different zone.
    """
    _sa6(sa6, zones)
    a = sa6.addr
    if not is_embeddable(a):
        return sa6
    zoneid = _word1(a)
    if zoneid == 0:
        return sa6
    if zoneid not in zones.by_index:
        raise NoInterfaceError(f"embedded zone {zoneid} does not exist")
    if sa6.scope_id not in (0, zoneid):
        raise ScopeError(
            f"scope id {sa6.scope_id} disagrees with embedded zone {zoneid}", "EINVAL"
        )
    p = bytearray(a.packed)
    p[2:4] = b"\0\0"
    return replace(sa6, addr=IPv6Address(bytes(p)), scope_id=zoneid)


def in6_clearscope(a: IPv6Address) -> tuple[IPv6Address, bool]:
    """Reset an embedded zone id to 0: ``(address, modified)``. Never fails.

    Used just before a packet goes to the wire, and by input to spot an
    embedded form arriving from outside (``modified`` true means the wire
    carried something that looks embedded: drop it).
    """
    if is_embeddable(a) and _word1(a) != 0:
        p = bytearray(a.packed)
        p[2:4] = b"\0\0"
        return IPv6Address(bytes(p)), True
    return a, False


def in6_setscope(a: IPv6Address, zones: ZoneTable, ifname: str) -> tuple[IPv6Address, int]:
    """Embed the zone of ``a``'s scope that ``ifname`` belongs to.

    Returns ``(embedded_address, zoneid)``. The loopback address is only
    legal on a loopback interface (``ifname`` ``lo*``) and gets zone 0, as
    KAME treats it (EINVAL otherwise).
    """
    if not isinstance(a, IPv6Address):
        raise _notaddr(a)
    if not isinstance(zones, ZoneTable) or not isinstance(ifname, str):
        raise TypeError("in6_setscope(address, ZoneTable, interface name)")
    if int(a) == 1:
        if not ifname.startswith("lo"):
            raise ScopeError("::1 on a non-loopback interface", "EINVAL")
        return a, 0
    zoneid = zones.zone_of(ifname, in6_addrscope(a))
    if zoneid != 0 and is_embeddable(a):
        p = bytearray(a.packed)
        p[2:4] = (zoneid & 0xFFFF).to_bytes(2, "big")
        return IPv6Address(bytes(p)), zoneid
    return a, zoneid


# --- the user's extended format (§1.3.3, RFC 4007 §11) -----------------------

def parse_scoped(
    text: str, zones: ZoneTable | None = None, *, use_defzone: bool = False
) -> Sockaddr6:
    """Parse ``fe80::1%eth0`` (or ``%2``) into a :class:`Sockaddr6`.

    :func:`sa6_from_user` for text only (a non-``str`` is a ``TypeError``):
    the zone may be an interface name or a decimal zone id; a name must exist
    in ``zones`` (and a number too, for a link- or interface-local address,
    when ``zones`` is given); a zone on a global address and the embedded
    form (``fe80:2::fedc``, ``ff02:1::1``) are refused; without a zone,
    ``use_defzone`` picks the configured default zone.
    """
    if not isinstance(text, str):
        raise TypeError(f"an address in text is a str, not {type(text).__name__}")
    return sa6_from_user(text, zones, use_defzone=use_defzone)


#: What :func:`sa6_from_user` takes.
UserAddr = str | bytes | bytearray | IPv6Address | Sockaddr6

_UINT32 = 0xFFFFFFFF


def sa6_from_user(
    value: object, zones: ZoneTable | None = None, *, scope_id: int = 0,
    use_defzone: bool = False, what: str = "address",
) -> Sockaddr6:
    """The one door for an IPv6 address from a user (see the module docstring).

    ``value`` is ``str`` (``"fe80::1%eth0"``, ``"fe80::1%2"``), an
    ``ipaddress.IPv6Address`` (its ``scope_id`` is the zone), a
    :class:`Sockaddr6` or 16 packed octets; ``scope_id`` a numeric zone given
    beside it (``sin6_scope_id``). Returns a :class:`Sockaddr6` whose
    ``addr`` carries no ``scope_id`` and whose ``scope_id`` is the zone
    (0: none; ignored for global addresses and ``::1``). ``zones`` ``None``
    skips the existence checks of numeric zones (pure parsing); a zone name
    always needs a table. Errors: ``TypeError`` for another type,
    :class:`ScopeError` (``EINVAL``) for text that is no IPv6 address, the
    embedded form, a zone on a global address or conflicting zones,
    :class:`NoInterfaceError` (``ENXIO``) for a zone that names no interface.
    ``what`` names the argument in messages.
    """
    if zones is not None and not isinstance(zones, ZoneTable):
        raise TypeError(f"zones is a ZoneTable, not {type(zones).__name__}")
    zone_text: str | None = None
    if isinstance(value, Sockaddr6):
        a, given = value.addr, value.scope_id
        if isinstance(a, IPv6Address) and a.scope_id is not None:
            zone_text, a = a.scope_id, IPv6Address(int(a))
        if not isinstance(given, int) or isinstance(given, bool):
            raise TypeError(f"{what}: scope_id must be an int")
        if given and scope_id and given != scope_id:
            raise ScopeError(f"{what}: scope id {given} disagrees with {scope_id}", "EINVAL")
        scope_id = scope_id or given
        if not isinstance(a, IPv6Address):
            raise TypeError(f"{what}: Sockaddr6.addr must be an IPv6Address")
    elif isinstance(value, IPv6Address):
        a = value
        if a.scope_id is not None:
            zone_text, a = a.scope_id, IPv6Address(int(a))
    elif isinstance(value, str):
        text, sep, z = value.partition("%")
        if sep:
            if not z:
                raise ScopeError(f"{value!r}: empty zone", "EINVAL")
            zone_text = z
        try:
            a = IPv6Address(text)
        except ValueError as e:
            raise ScopeError(f"{what} {value!r}: {e}", "EINVAL") from None
    elif isinstance(value, (bytes, bytearray)):
        if len(value) != 16:
            raise ScopeError(f"{what}: a packed IPv6 address is 16 octets, not {len(value)}",
                             "EINVAL")
        a = IPv6Address(bytes(value))
    else:
        raise TypeError(f"{what} must be a str, an ipaddress.IPv6Address, a Sockaddr6 or 16 "
                        f"octets, not {type(value).__name__}")
    if not isinstance(scope_id, int) or isinstance(scope_id, bool):
        raise TypeError(f"{what}: scope_id must be an int")
    if not 0 <= scope_id <= _UINT32:
        raise ScopeError(f"{what}: scope id {scope_id} out of range 0-{_UINT32}", "EINVAL")
    shown = value if isinstance(value, str) else str(a)
    if is_embedded_form(a):
        raise ScopeError(
            f"{shown!r}: the embedded zone form is kernel-internal (seed §1.3.3); "
            "write fe80::...%ifname", "EINVAL")
    scope = in6_addrscope(a)
    zoneid = 0
    if zone_text is not None:
        if scope == Scope.GLOBAL:
            raise ScopeError(f"{shown!r}: zone given for a global address (RFC 4007 §11)",
                             "EINVAL")
        if zone_text.isascii() and zone_text.isdigit():
            zoneid = int(zone_text)
            if zoneid > _UINT32:
                raise ScopeError(f"{shown!r}: zone id out of range", "EINVAL")
        else:
            if zones is None:
                raise NoInterfaceError(f"{shown!r}: no interface table to resolve the zone")
            zoneid = zones.zone_of(zone_text, scope)
    if scope_id and scope != Scope.GLOBAL and int(a) != 1:
        if zoneid and zoneid != scope_id:
            raise ScopeError(f"{shown!r}: zone {zoneid} disagrees with scope id {scope_id}",
                             "EINVAL")
        zoneid = scope_id
    if zoneid == 0 and use_defzone and zones is not None and scope != Scope.GLOBAL:
        zoneid = zones.default.get(scope, 0)
    if zoneid and zones is not None and is_embeddable(a) and zoneid not in zones.by_index:
        raise NoInterfaceError(f"{shown!r}: zone {zoneid} names no interface")
    return Sockaddr6(a, zoneid)


def format_scoped(sa6: Sockaddr6 | IPv6Address, zones: ZoneTable | None = None) -> str:
    """Print ``fe80::1%eth0``; numeric ``%N`` when the zone has no name.

    Only interface- and link-scope zones map to interface names; other
    scopes print their zone number.
    """
    if isinstance(sa6, IPv6Address):
        sa6 = Sockaddr6(sa6)
    if not isinstance(sa6, Sockaddr6) or not isinstance(sa6.addr, IPv6Address):
        raise TypeError(f"a Sockaddr6 or IPv6Address, not {type(sa6).__name__}")
    a = sa6.addr
    if is_embeddable(a) and _word1(a) != 0:
        raise ScopeError(f"{a}: refusing to print the embedded form", "EINVAL")
    text = str(IPv6Address(int(a)))
    if sa6.scope_id == 0:
        return text
    scope = in6_addrscope(a)
    if zones is not None and scope in (Scope.INTFACELOCAL, Scope.LINKLOCAL):
        name = zones.by_index.get(sa6.scope_id)
        if name is not None:
            return f"{text}%{name}"
    return f"{text}%{sa6.scope_id}"
