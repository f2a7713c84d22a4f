"""getaddrinfo / getnameinfo over a small local resolver (seed §1.3.2,
§1.6.2, §1.17).

:class:`Resolver` answers from a hosts file (``/etc/hosts`` syntax) and an
optional static zone (master-file lines ``name [ttl] [IN] A|AAAA|PTR|CNAME
data``), "files" before "dns" as nsswitch would; then, when given one, from
DNS servers through :class:`kame.resolv.Client` (the node's sockets).

:func:`getaddrinfo` follows RFC 3493 §6.1 and glibc where RFC 3493 is
silent: ``AI_PASSIVE`` (wildcards, IPv4 first, unsorted, as glibc),
``AI_NUMERICHOST``, ``AI_NUMERICSERV``, ``AI_CANONNAME``, ``AI_V4MAPPED``
and ``AI_ALL`` (for ``AF_INET6`` only), ``AI_ADDRCONFIG`` (a family counts
when the node has an address of it other than loopback and link-local);
the extended numeric syntax ``fe80::1%eth0`` of RFC 4007 §11 (§1.3.2);
``type`` 0 gives one answer per SOCK_STREAM, SOCK_DGRAM and SOCK_RAW.
Answers are ordered by RFC 6724 §6 (which replaces the RFC 3484 of §1.6.2)
with :func:`kame.in6_src.order_destinations`: each destination's source
comes from a ``sources`` callable or from a node (``in6_selectsrc`` over
its addresses: KAME's "opens a UDP socket and tries to connect(2)").

Errors are :class:`socket.gaierror` with the host's ``EAI_*`` numbers, so
callers catch them as from :func:`socket.getaddrinfo`.

Services are read as glibc reads them (``strtoul`` over the whole string:
``" 80"``, ``"+80"``, ``"080"`` are numeric, ``"80a"``, ``"0x50"``, ``"80 "``
are names) with one difference: a numeric service outside 0-65535, which
glibc keeps modulo 65536 (``65536`` gives port 0), is ``EAI_SERVICE`` as in
KAME's ``getaddrinfo.c``. A port given as an ``int`` must be an exact
``int`` (the host says ``OSError("Int or String expected")`` otherwise);
one beyond a C long is ``EAI_SERVICE`` where the host raises
``OverflowError``. ``getnameinfo`` checks its sockaddr as the host does;
a port outside 0-65535 is ``EAI_SERVICE``, a flowinfo or scope id beyond
its field :class:`kame.errors.RangeError`. Addresses go through
:func:`kame.scope6.sa6_from_user`: the embedded form, a zone that names no
interface and a zone on a global address are ``EAI_NONAME`` (glibc takes
them all; its numeric zones are never checked).
"""

from __future__ import annotations

import builtins
import operator
import socket as _s
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Any

from kame.errors import RangeError, ScopeError
from kame.in6_src import Destination, PolicyTable, SourceCandidate, order_destinations
from kame.in6_var import In6Flags
from kame.ip6.var import NodeVars
from kame.scope6 import Scope, ZoneTable, in6_addrscope, is_embedded_form, sa6_from_user
from kame.socket import ntop6

__all__ = ["Resolver", "getaddrinfo", "getnameinfo", "inet_aton"]

AF_UNSPEC, AF_INET, AF_INET6 = _s.AF_UNSPEC, _s.AF_INET, _s.AF_INET6
AI_PASSIVE, AI_CANONNAME, AI_NUMERICHOST = _s.AI_PASSIVE, _s.AI_CANONNAME, _s.AI_NUMERICHOST
AI_V4MAPPED, AI_ALL, AI_ADDRCONFIG = _s.AI_V4MAPPED, _s.AI_ALL, _s.AI_ADDRCONFIG
AI_NUMERICSERV = _s.AI_NUMERICSERV
# the flags as plain ints for the tests below: ``int & IntFlag`` goes
# through the enum's reflected ``__and__`` (a few microseconds each)
_PASSIVE, _CANONNAME, _NUMERICHOST = int(AI_PASSIVE), int(AI_CANONNAME), int(AI_NUMERICHOST)
_V4MAPPED, _ALL, _ADDRCONFIG = int(AI_V4MAPPED), int(AI_ALL), int(AI_ADDRCONFIG)
_NUMERICSERV = int(AI_NUMERICSERV)
NI_NUMERICHOST, NI_NUMERICSERV, NI_NAMEREQD = _s.NI_NUMERICHOST, _s.NI_NUMERICSERV, \
    _s.NI_NAMEREQD
NI_DGRAM, NI_NOFQDN = _s.NI_DGRAM, _s.NI_NOFQDN
NI_NUMERICSCOPE = 0x100  # glibc's value (Python does not export it)

_TYPES = ((_s.SOCK_STREAM, 6), (_s.SOCK_DGRAM, 17), (_s.SOCK_RAW, 0))
# the enum members getaddrinfo's tuples carry, made once (each call to the
# enum classes costs more than the rest of building a tuple)
_AF4, _AF6 = _s.AddressFamily(_s.AF_INET), _s.AddressFamily(_s.AF_INET6)
_KIND = {t: _s.SocketKind(t) for t, _p in _TYPES}
_DEPRECATED, _TEMPORARY = int(In6Flags.DEPRECATED), int(In6Flags.TEMPORARY)
#: Text forms of IPv6 addresses getaddrinfo returned lately (ntop6 is the
#: slowest part of building an answer from the cache).
_NTOP: dict[IPv6Address, str] = {}
_NTOP_MAX = 4096


def _ntop(a: IPv6Address) -> str:
    t = _NTOP.get(a)
    if t is None:
        if len(_NTOP) >= _NTOP_MAX:
            _NTOP.clear()
        t = _NTOP[a] = ntop6(a)
    return t

Addr = IPv4Address | IPv6Address


def _gai(code: int, msg: str) -> _s.gaierror:
    return _s.gaierror(code, msg)


def inet_aton(text: str) -> IPv4Address | None:
    """BSD ``inet_aton``: 1 to 4 parts, decimal, octal (0...) or hex (0x...);
    the last part fills the remaining bytes."""
    if not isinstance(text, str):
        raise TypeError(f"inet_aton takes a str, not {type(text).__name__}")
    parts = text.split(".")
    if not 1 <= len(parts) <= 4 or text.endswith(".") and len(parts) > 1 and parts[-1] == "":
        return None
    vals: list[int] = []
    for p in parts:
        if p == "":
            return None
        try:
            if p[:2].lower() == "0x":
                v = int(p, 16) if len(p) > 2 else -1
            elif p.startswith("0") and len(p) > 1:
                v = int(p[1:], 8)
            else:
                v = int(p, 10) if p.isdigit() else -1
        except ValueError:
            return None
        if v < 0:
            return None
        vals.append(v)
    *head, last = vals
    if any(v > 255 for v in head) or last >= 1 << (8 * (4 - len(head))):
        return None
    x = 0
    for v in head:
        x = x << 8 | v
    return IPv4Address(x << (8 * (4 - len(head))) | last)


def _text(t: object) -> str:
    if not isinstance(t, str):
        raise TypeError(f"a str, not {type(t).__name__}")
    return t


def _args(resolver: object, node: object) -> None:
    if resolver is not None and not isinstance(resolver, Resolver):
        raise TypeError(f"resolver is a kame.netdb.Resolver, not {type(resolver).__name__}")
    if node is not None and not isinstance(node, NodeVars):
        raise TypeError(f"node is a kame.node.Node, not {type(node).__name__}")


@dataclass
class Resolver:
    """Hosts file plus static zone, then ``dns`` (a :class:`kame.resolv.Client`)
    when one is given; without it all lookups are local."""

    hosts: list[tuple[Addr, int, list[str]]] = field(default_factory=list)  # (addr, scope, names)
    zone: dict[str, list[tuple[str, str]]] = field(default_factory=dict)   # name -> (type, data)
    services: dict[tuple[str, str], int] = field(default_factory=dict)
    zones: ZoneTable | None = None
    #: A DNS client asked after the hosts file and the zone (a
    #: :class:`kame.resolv.Client`: ``lookup(name)`` and ``reverse(addr)``).
    dns: Any = None

    @classmethod
    def from_files(cls, hosts: str | Path | None = None, zone: str | Path | None = None,
                   services: str | Path | None = "/etc/services",
                   zones: ZoneTable | None = None) -> Resolver:
        r = cls(zones=zones)
        if hosts is not None:
            r.load_hosts(Path(hosts).read_text())
        if zone is not None:
            r.load_zone(Path(zone).read_text())
        if services is not None and Path(services).exists():
            r.load_services(Path(services).read_text())
        return r

    def load_hosts(self, text: str) -> None:
        for line in _text(text).splitlines():
            words = line.split("#", 1)[0].split()
            if len(words) < 2:
                continue
            a, _, z = words[0].partition("%")
            try:
                addr: Addr = IPv4Address(a) if ":" not in a else IPv6Address(a)
            except ValueError:
                continue
            if isinstance(addr, IPv6Address) and is_embedded_form(addr):
                continue  # the kernel-internal form is no address (seed §1.3.3)
            scope = 0
            if z:
                if z.isascii() and z.isdigit():
                    scope = int(z)
                elif self.zones:
                    if z not in self.zones.by_name:
                        continue  # a zone this node does not have: skip the line
                    scope = self.zones.index(z)
            self.hosts.append((addr, scope, [w.lower() for w in words[1:]]))

    def load_zone(self, text: str) -> None:
        for line in _text(text).splitlines():
            words = line.split(";", 1)[0].split()
            if len(words) < 3:
                continue
            name = words[0].lower().rstrip(".")
            rest = [w for w in words[1:] if not w.isdigit() and w.upper() != "IN"]
            if len(rest) < 2:
                continue
            self.zone.setdefault(name, []).append((rest[0].upper(), rest[1].rstrip(".")))

    def load_services(self, text: str) -> None:
        for line in _text(text).splitlines():
            words = line.split("#", 1)[0].split()
            if len(words) < 2 or "/" not in words[1]:
                continue
            port, proto = words[1].split("/", 1)
            if not (port.isascii() and port.isdigit()) or int(port) > 65535 or not proto:
                continue  # not a service line: "name port/proto"
            for n in [words[0], *words[2:]]:
                self.services.setdefault((n, proto), int(port))

    def service(self, name: str, proto: str) -> int | None:
        _text(name), _text(proto)
        return self.services.get((name, proto))

    def service_name(self, port: int, proto: str) -> str | None:
        for (n, p), v in self.services.items():
            if v == port and p == proto:
                return n
        return None

    def lookup(self, name: str) -> tuple[str, list[tuple[Addr, int]]]:
        """Canonical name and addresses (hosts first, then the zone)."""
        key = _text(name).lower().rstrip(".")
        out: list[tuple[Addr, int]] = []
        canon = ""
        for addr, scope, names in self.hosts:
            if key in names:
                out.append((addr, scope))
                canon = canon or names[0]
        if out:
            return canon, out
        seen = 0
        while key in self.zone and seen < 8:  # CNAME chain, bounded
            recs = self.zone[key]
            cn = [d for t, d in recs if t == "CNAME"]
            if cn:
                key, seen = cn[0].lower(), seen + 1
                continue
            for t, d in recs:
                if t == "AAAA":
                    out.append((IPv6Address(d), 0))
                elif t == "A":
                    out.append((IPv4Address(d), 0))
            return key, out
        if self.dns is not None:
            canon, found = self.dns.lookup(name)
            return canon, list(found)
        return "", []

    def reverse(self, addr: Addr) -> str | None:
        if not isinstance(addr, (IPv4Address, IPv6Address)):
            raise TypeError(f"an ipaddress address, not {type(addr).__name__}")
        for a, _scope, names in self.hosts:
            if a == addr:
                return names[0]
        ptr = addr.reverse_pointer
        for t, d in self.zone.get(ptr, []):
            if t == "PTR":
                return d
        if self.dns is not None:
            name: str | None = self.dns.reverse(addr)
            return name
        return None


SourceOf = Callable[[Addr], SourceCandidate | None]


def _service_text(port: object) -> str | None:
    """The service argument as the host's :func:`socket.getaddrinfo` hands it to
    C: an exact ``int`` printed in decimal, ``str`` or ``bytes`` up to a NUL,
    ``None``; anything else is ``OSError("Int or String expected")`` as there."""
    if port is None:
        return None
    if type(port) is int:
        return str(port)
    if isinstance(port, str):
        port.encode("utf-8")  # a lone surrogate: UnicodeEncodeError, as the host
        return port.split("\x00", 1)[0]
    if isinstance(port, bytes):
        return port.split(b"\x00", 1)[0].decode("latin-1")
    raise OSError("Int or String expected")


_CSPACE = " \t\n\v\f\r"


def _strtoul(text: str) -> int | None:
    """The numeric service test of ``strtoul(text, &end, 10)`` consuming all
    of ``text`` (C white space and one sign first, then ASCII digits): the
    value with its sign, or ``None`` when ``text`` is not numeric (a name).
    glibc then keeps the value in an ``int`` (``"65536"`` becomes port 0,
    ``"-1"`` a name); KAME's ``str2number`` refuses anything outside
    0-65535 (``EAI_SERVICE``), as we do."""
    t = text.lstrip(_CSPACE)
    neg = t[:1] == "-"
    if t[:1] in ("+", "-"):
        t = t[1:]
    if not t or not t.isascii() or not t.isdigit():
        return None
    return -int(t) if neg else int(t)


def _numeric(host: str, zones: ZoneTable | None) -> tuple[Addr, int] | None:
    if ":" in host:
        a, sep, z = host.partition("%")
        try:
            IPv6Address(a)
        except ValueError:
            return None
        if sep and z and not (z.isascii() and z.isdigit()) and zones is None:
            try:  # no node: the host's interfaces name the zones, as its resolver
                host = f"{a}%{_s.if_nametoindex(z)}"
            except OSError:
                raise _gai(_s.EAI_NONAME, f"unknown zone {z!r}") from None
        try:
            sa = sa6_from_user(host, zones)
        except ScopeError as e:  # embedded form, unknown zone, zone on a global address
            raise _gai(_s.EAI_NONAME, f"Name or service not known: {e}") from None
        return sa.addr, sa.scope_id
    last = host.rstrip(".").rpartition(".")[2]
    if last and not _AToN_CHARS.issuperset(last):
        return None   # "name.test": no inet_aton part has a letter past 'f' but x
    a4 = inet_aton(host)
    return (a4, 0) if a4 is not None else None


_AToN_CHARS = frozenset("0123456789abcdefABCDEFxX")


def _addrconfig(node: Any) -> tuple[bool, bool]:
    """(has IPv4, has IPv6) the way glibc's AI_ADDRCONFIG counts them."""
    if node is None:
        return True, True
    v6 = any(not (ifa.addr.is_loopback or ifa.addr.is_link_local) for ifa in node.addrs.all())
    layer = getattr(node, "sockets", None)
    v4 = layer is not None and any((int(a) >> 24) != 127 for a in layer.in_ifaddrs)
    inet = getattr(node, "inet", None)  # the node's own IPv4 addresses (kame.inet)
    v4 = v4 or (inet is not None and any(ifa.usable for ifa in inet.addrs))
    return v4, v6


def getaddrinfo(host: str | None, port: str | int | None, family: int = 0, type: int = 0,
                proto: int = 0, flags: int = 0, *, resolver: Resolver | None = None,
                node: Any = None, sources: SourceOf | None = None,
                policy: PolicyTable | None = None) -> list[tuple[Any, ...]]:
    """Like :func:`socket.getaddrinfo`, over ``resolver`` and ``node``."""
    _args(resolver, node)
    if sources is not None and not callable(sources):
        raise TypeError("sources is a callable")
    if policy is not None and not isinstance(policy, PolicyTable):
        raise TypeError(f"policy is a PolicyTable, not {type(policy).__name__}")
    res = resolver or Resolver()
    zones = res.zones if res.zones is not None else (node.zones if node is not None else None)
    if isinstance(host, (bytes, bytearray)):
        host = bytes(host).decode("ascii")  # the host's idna codec takes ASCII bytes
    if host is not None and not isinstance(host, str):
        raise TypeError(f"getaddrinfo() argument 1 must be string or None, not "
                        f"{builtins.type(host).__name__}")
    for what, arg in (("family", family), ("type", type), ("proto", proto), ("flags", flags)):
        if not isinstance(arg, int):
            raise TypeError(f"{what} must be an int, not {builtins.type(arg).__name__}")
    if host is None and port is None:
        raise _gai(_s.EAI_NONAME, "Name or service not known")
    if flags & _CANONNAME and host is None:
        raise _gai(_s.EAI_BADFLAGS, "Bad value for ai_flags")
    if family not in (AF_UNSPEC, AF_INET, AF_INET6):
        raise _gai(_s.EAI_FAMILY, "ai_family not supported")
    types = [(t, p) for t, p in _TYPES if (type == 0 or t == type) and
             (proto == 0 or p == proto or (t == _s.SOCK_RAW and type == _s.SOCK_RAW))]
    if type == _s.SOCK_RAW and proto:
        types = [(_s.SOCK_RAW, proto)]
    # service
    pnum = 0
    serv = _service_text(port)
    if serv is not None and serv != "":
        snum = _strtoul(serv)
        if snum is None and flags & _NUMERICSERV:
            raise _gai(_s.EAI_NONAME, "Name or service not known")
        if type == _s.SOCK_RAW:
            raise _gai(_s.EAI_SERVICE, "Servname not supported for ai_socktype")
        if snum is not None:
            if not 0 <= snum <= 0xFFFF:  # KAME getaddrinfo.c; glibc wraps or looks it up
                raise _gai(_s.EAI_SERVICE, "Servname not supported for ai_socktype")
            pnum = snum
        else:
            found = []
            for t, p in types:
                if t == _s.SOCK_RAW:
                    continue
                v = res.service(serv, "tcp" if t == _s.SOCK_STREAM else "udp")
                if v is not None:
                    found.append((t, p, v))
            if not found:
                raise _gai(_s.EAI_SERVICE, "Servname not supported for ai_socktype")
            types = [(t, p) for t, p, _v in found]
            pnum = found[0][2]
    canon = ""
    sort = True
    if host is None:
        if flags & _PASSIVE:
            addrs: list[tuple[Addr, int]] = [(IPv4Address(0), 0), (IPv6Address(0), 0)]
            sort = False
        else:
            addrs = [(IPv6Address(1), 0), (IPv4Address("127.0.0.1"), 0)]
    else:
        try:
            num = _numeric(host, zones)
        except _s.gaierror:
            if family == AF_INET:
                raise _gai(_s.EAI_ADDRFAMILY, "Address family for hostname not supported") \
                    from None
            raise
        if num is not None and family == AF_INET and isinstance(num[0], IPv6Address) \
                and num[0].ipv4_mapped is not None:
            num = (num[0].ipv4_mapped, 0)  # glibc: a mapped literal asked as AF_INET
        if num is not None:
            addrs = [num]
            canon = host
        elif flags & _NUMERICHOST:
            raise _gai(_s.EAI_NONAME, "Name or service not known")
        else:
            canon, addrs = res.lookup(host)
            if not addrs:
                raise _gai(_s.EAI_NONAME, "Name or service not known")
            if flags & _ADDRCONFIG:
                has4, has6 = _addrconfig(node)
                addrs = [(a, z) for a, z in addrs if (has4 if isinstance(a, IPv4Address)
                                                      else has6)]
        if family == AF_INET6 and flags & _V4MAPPED:
            v6: list[tuple[Addr, int]] = [(a, z) for a, z in addrs if isinstance(a, IPv6Address)]
            v4: list[tuple[Addr, int]] = [(IPv6Address((0xFFFF << 32) | int(a)), 0)
                                          for a, _ in addrs if isinstance(a, IPv4Address)]
            addrs = v6 + v4 if (flags & _ALL or not v6) else v6
    fam_ok = [(a, z) for a, z in addrs if family == AF_UNSPEC or
              (family == AF_INET) == isinstance(a, IPv4Address)]
    if not fam_ok:
        if host is not None and _numeric(host, zones) is not None:
            raise _gai(_s.EAI_ADDRFAMILY, "Address family for hostname not supported")
        raise _gai(_s.EAI_NONAME if host is None or res.lookup(host)[1] == [] else
                   _s.EAI_NODATA, "No address associated with hostname")
    if sort and len(fam_ok) > 1:
        fam_ok = _order(fam_ok, node, sources, policy)
    out: list[tuple[Any, ...]] = []
    for a, z in fam_ok:
        for t, p in types:
            cn = canon if (flags & _CANONNAME and not out) else ""
            kind = _KIND.get(t)
            if kind is None:
                kind = _s.SocketKind(t)
            if isinstance(a, IPv4Address):
                out.append((_AF4, kind, p, cn, (str(a), pnum)))
            else:
                out.append((_AF6, kind, p, cn, (_ntop(a), pnum, 0, z)))
    return out


def _order(addrs: list[tuple[Addr, int]], node: Any, sources: SourceOf | None,
           policy: PolicyTable | None) -> list[tuple[Addr, int]]:
    """RFC 6724 §6 over the sources the node (or ``sources``) picks."""
    pol = policy if policy is not None else (node.policy if node is not None else None)

    def src(a: Addr, z: int) -> SourceCandidate | None:
        if sources is not None:
            return sources(a)
        if node is None:
            if isinstance(a, IPv6Address) and a == IPv6Address(1) or \
                    isinstance(a, IPv4Address) and a.is_loopback:
                return SourceCandidate(a, "lo", 128 if isinstance(a, IPv6Address) else 8)
            return None
        if isinstance(a, IPv4Address):
            layer = getattr(node, "sockets", None)
            if layer is None:
                return None
            if (int(a) >> 24) == 127:
                return SourceCandidate(a, "lo", 8)
            inet = getattr(node, "inet", None)  # in_pcbladdr over the node's IPv4 (kame.inet)
            rt = inet.rtalloc(a) if inet is not None else None
            src4 = inet.in_selectsrc(a) if inet is not None and rt is not None else None
            if src4 is not None and inet is not None:
                ifa = inet.find(src4)
                return SourceCandidate(src4, ifa.ifname if ifa else "", ifa.prefixlen if ifa else 24)
            v4 = [x for x in layer.in_ifaddrs if (int(x) >> 24) != 127]
            return SourceCandidate(v4[0], "", 24) if v4 else None
        if a == IPv6Address(1):
            return SourceCandidate(a, "lo", 128)
        ifname = node.zones.by_index.get(z) if z else None
        if ifname is None and in6_addrscope(a) <= Scope.LINKLOCAL:
            return None
        if ifname is None:
            rt = node.rtalloc(a, node._now)
            if rt is None:
                return None
            ifname = rt.ifname
            # RFC 6724 rule 5.5: the router this route goes through
            s = node.in6_selectsrc(a, ifname, next_hop=(rt.ifname, rt.next_hop)
                                   if rt.gateway else None)
        else:
            s = node.in6_selectsrc(a, ifname)
        ifa = node.addrs.find_any(s) if s is not None else None
        if ifa is None:
            return None
        fl = int(ifa.flags)
        return SourceCandidate(ifa.addr, ifa.ifname, ifa.prefixlen, bool(fl & _DEPRECATED),
                               bool(fl & _TEMPORARY))

    ds = [Destination(a, src(a, z)) for a, z in addrs]
    scopes = {id(d): z for d, (_a, z) in zip(ds, addrs, strict=True)}
    ordered = order_destinations(ds, policy=pol)
    return [(d.addr, scopes[id(d)]) for d in ordered]


class _HostZones(ZoneTable):
    """The host's interfaces as a zone table, for netdb calls made without a
    node or a resolver zone table (as the host's resolver would see them)."""

    def __init__(self) -> None:
        super().__init__()
        try:
            for idx, name in _s.if_nameindex():
                self.add(name, idx)
        except (OSError, ScopeError):
            pass


def getnameinfo(sockaddr: tuple[Any, ...], flags: int = 0, *,
                resolver: Resolver | None = None) -> tuple[str, str]:
    """Like :func:`socket.getnameinfo`; ``NI_NUMERICSCOPE`` prints the zone
    as a number instead of the interface name (RFC 4007 §11)."""
    _args(resolver, None)
    res = resolver or Resolver()
    if not isinstance(sockaddr, tuple):
        raise TypeError("getnameinfo() argument 1 must be a tuple")
    if not 2 <= len(sockaddr) <= 4:
        raise TypeError("getnameinfo(): illegal sockaddr argument")
    host = sockaddr[0]
    if not isinstance(host, str):
        raise TypeError(f"getnameinfo(): host must be str, not {type(host).__name__}")
    port = operator.index(sockaddr[1])  # TypeError for "80", 80.0 ... as the host
    flowinfo = operator.index(sockaddr[2]) if len(sockaddr) > 2 else 0
    scope = operator.index(sockaddr[3]) if len(sockaddr) > 3 else 0
    if not isinstance(flags, int):
        raise TypeError(f"flags must be an int, not {type(flags).__name__}")
    if not 0 <= flowinfo <= 0xFFFFF:
        raise RangeError("getnameinfo(): flowinfo must be 0-1048575.", argument="flowinfo",
                         low=0, high=0xFFFFF, value=flowinfo)
    if not 0 <= scope <= 0xFFFFFFFF:
        raise RangeError("getnameinfo(): scope_id must be 0-4294967295.", argument="scope_id",
                         low=0, high=0xFFFFFFFF, value=scope)
    if not 0 <= port <= 0xFFFF:  # glibc: -1 EAI_SERVICE, 65536 wraps; KAME: EAI_SERVICE
        raise _gai(_s.EAI_SERVICE, "Servname not supported for ai_socktype")
    addr: Addr
    if ":" in host:
        zones = res.zones if res.zones is not None else _HostZones()
        try:
            sa = sa6_from_user(host, zones, scope_id=scope)  # type: ignore[arg-type]
        except ScopeError:
            raise _gai(_s.EAI_NONAME, "Name or service not known") from None
        addr, scope = sa.addr, sa.scope_id
    else:
        try:
            addr = IPv4Address(host)
        except ValueError:
            raise _gai(_s.EAI_NONAME, "Name or service not known") from None
        if len(sockaddr) != 2:
            raise OSError("IPv4 sockaddr must be 2 tuple")
    # service
    if flags & NI_NUMERICSERV:
        serv = str(port)
    else:
        serv = res.service_name(port, "udp" if flags & NI_DGRAM else "tcp") or str(port)
    name = None if flags & NI_NUMERICHOST else res.reverse(addr)
    if name is None:
        if flags & NI_NAMEREQD:
            raise _gai(_s.EAI_NONAME, "Name or service not known")
        if isinstance(addr, IPv4Address):
            return str(addr), serv
        text = ntop6(addr)
        if scope and in6_addrscope(addr) in (Scope.LINKLOCAL, Scope.INTFACELOCAL) \
                and not flags & NI_NUMERICSCOPE:
            zname = None
            if res.zones is not None:
                zname = res.zones.by_index.get(scope)
            else:
                try:
                    zname = _s.if_indextoname(scope)
                except OSError:
                    zname = None
            text += f"%{zname if zname is not None else scope}"
        elif scope:
            text += f"%{scope}"
        return text, serv
    if flags & NI_NOFQDN:
        name = name.split(".", 1)[0]
    return name, serv
