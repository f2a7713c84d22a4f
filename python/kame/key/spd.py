"""The Security Policy Database (KAME ``netinet6/ipsec.c``, ``netkey/key.c``).

A policy (KAME ``struct secpolicy``) has a selector (source and destination
prefixes with optional ports, an upper-layer protocol), a direction (``in``
or ``out``) and an action:

- ``discard``: drop the packet;
- ``none``: no IPsec (bypass);
- ``ipsec``: apply the request list, e.g. ``esp/transport//require`` or
  ``esp/tunnel/C-D/use`` (seed §4.8.1); several requests form a bundle,
  applied on output in the order IPComp -> ESP -> AH (seed §4.4);
- per-socket policies also know ``entrust`` (consult the system SPD) and
  ``bypass`` (no IPsec whatever the system SPD says).

System-wide policies are matched **in order** (seed §4.1: "The policy entry
will be matched in order"; FreeBSD handbook 8.1.4.1: "the order of entry
when you add is very significant"); the first match wins.

Levels (``ipsec_set_policy(3)``): ``use`` uses an SA if there is one,
``require`` needs one, ``unique`` needs one that no other policy shares
(its ``reqid``), and ``default`` takes the system-wide level from the knobs
``net.inet6.ipsec6.esp_trans_deflev``, ``esp_net_deflev``,
``ah_trans_deflev``, ``ah_net_deflev`` (1 = use, 2 = require), as KAME's
``ipsec_get_reqlevel``. IPComp's default level is always ``use``.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from kame.key.sad import PROTO_NUMBERS, KeyEngineError

__all__ = [
    "IPSEC_ULPROTO_ANY",
    "LEVELS",
    "IpsecRequest",
    "SecPolicy",
    "Selector",
    "Spd",
    "effective_level",
]

Addr = IPv6Address | IPv4Address
Net = IPv6Network | IPv4Network

IPSEC_ULPROTO_ANY = 255
IPSEC_PORT_ANY = 0
#: IPSEC_LEVEL_* numbers
LEVELS: dict[str, int] = {"default": 0, "use": 1, "require": 2, "unique": 3}
LEVEL_NAMES = {v: k for k, v in LEVELS.items()}
#: the first reqid handed to a ``unique`` request without one (KAME IPSEC_MANUAL_REQID_MAX)
REQID_AUTO_BASE = 0x4000

_DEFLEV_KNOB = {
    ("esp", "transport"): "net.inet6.ipsec6.esp_trans_deflev",
    ("esp", "tunnel"): "net.inet6.ipsec6.esp_net_deflev",
    ("ah", "transport"): "net.inet6.ipsec6.ah_trans_deflev",
    ("ah", "tunnel"): "net.inet6.ipsec6.ah_net_deflev",
}


@dataclass(frozen=True)
class IpsecRequest:
    """One ``protocol/mode/src-dst/level`` item of a policy (``struct ipsecrequest``)."""

    proto: str
    mode: str
    src: Addr | None = None
    dst: Addr | None = None
    level: str = "default"
    reqid: int = 0

    def __post_init__(self) -> None:
        if self.proto not in PROTO_NUMBERS:
            raise KeyEngineError(f"unknown protocol {self.proto!r} in request")
        if self.mode not in ("transport", "tunnel"):
            raise KeyEngineError(f"unknown mode {self.mode!r} in request")
        if self.level not in LEVELS:
            raise KeyEngineError(f"unknown level {self.level!r}")
        if self.mode == "tunnel":
            if self.src is None or self.dst is None:
                raise KeyEngineError("tunnel mode needs both endpoints (proto/tunnel/src-dst)")
            if self.src.version != self.dst.version:
                raise KeyEngineError("tunnel endpoints of different families")
        if not 0 <= self.reqid <= 0xFFFFFFFF:
            raise KeyEngineError(f"reqid {self.reqid} out of range")

    def __str__(self) -> str:
        ends = f"{self.src}-{self.dst}" if self.src is not None and self.dst is not None else ""
        lev = self.level
        if self.level == "unique" and self.reqid:
            lev = f"unique:{self.reqid}"
        return f"{self.proto}/{self.mode}/{ends}/{lev}"


def effective_level(req: IpsecRequest, knobs: Mapping[str, int] | None) -> str:
    """``ipsec_get_reqlevel``: resolve ``default`` through the system-wide knobs."""
    if not isinstance(req, IpsecRequest):
        raise TypeError(f"req is an IpsecRequest, not {type(req).__name__}")
    if req.level != "default":
        return req.level
    if req.proto == "ipcomp":
        return "use"
    name = _DEFLEV_KNOB[(req.proto, req.mode)]
    v = knobs[name] if knobs is not None and name in knobs else 1
    return "require" if v >= 2 else "use"


@dataclass(frozen=True)
class Selector:
    """``struct secpolicyindex``: prefixes, ports (0 = any), upper-layer proto
    (255 = any), and for ICMPv6 optionally type and code."""

    src: Net
    dst: Net
    ulproto: int = IPSEC_ULPROTO_ANY
    sport: int = IPSEC_PORT_ANY
    dport: int = IPSEC_PORT_ANY

    def __post_init__(self) -> None:
        if not isinstance(self.src, (IPv4Network, IPv6Network)) or \
                not isinstance(self.dst, (IPv4Network, IPv6Network)):
            raise TypeError("Selector src and dst are ipaddress networks")
        for v in (self.ulproto, self.sport, self.dport):
            if not isinstance(v, int):
                raise TypeError(f"Selector ports and protocol are ints, not {type(v).__name__}")
        if self.src.version != self.dst.version:
            raise KeyEngineError("source and destination of different families")
        if not 0 <= self.ulproto <= 255:
            raise KeyEngineError(f"upper-layer protocol {self.ulproto} out of range")
        if not (0 <= self.sport <= 0xFFFF and 0 <= self.dport <= 0xFFFF):
            raise KeyEngineError("port out of range")

    @classmethod
    def of(cls, src: str | Net, dst: str | Net, ulproto: int = IPSEC_ULPROTO_ANY,
           sport: int = 0, dport: int = 0) -> Selector:
        s = ip_network(src, strict=False) if isinstance(src, str) else src
        d = ip_network(dst, strict=False) if isinstance(dst, str) else dst
        return cls(s, d, ulproto, sport, dport)

    def matches(self, src: Addr, dst: Addr, ulproto: int, sport: int = 0,
                dport: int = 0) -> bool:
        if src.version != self.src.version:
            return False
        if src not in self.src or dst not in self.dst:
            return False
        if self.ulproto != IPSEC_ULPROTO_ANY and self.ulproto != ulproto:
            return False
        if self.sport and self.sport != sport:
            return False
        return not (self.dport and self.dport != dport)


@dataclass(eq=False)
class SecPolicy:
    """One policy: selector, direction, action, requests."""

    selector: Selector
    dir: str  # "in" | "out"
    action: str = "ipsec"  # discard | none | ipsec | entrust | bypass
    requests: tuple[IpsecRequest, ...] = ()
    id: int = 0
    created: float = 0.0
    lastused: float | None = None
    lifetime: int = 0
    validtime: int = 0
    seq: int = 0
    pid: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.dir not in ("in", "out"):
            raise KeyEngineError(f"unknown direction {self.dir!r}")
        if self.action not in ("discard", "none", "ipsec", "entrust", "bypass"):
            raise KeyEngineError(f"unknown policy {self.action!r}")
        if self.action == "ipsec" and not self.requests:
            raise KeyEngineError("ipsec policy without a request")
        if self.action != "ipsec" and self.requests:
            raise KeyEngineError(f"{self.action} policy cannot carry requests")
        seen: set[tuple[str, str]] = set()
        for r in self.requests:
            if (r.proto, r.mode) in seen and r.mode == "transport":
                raise KeyEngineError(f"duplicated request {r}")
            seen.add((r.proto, r.mode))

    @property
    def bundle(self) -> list[IpsecRequest]:
        """The requests in output order: IPComp, then ESP, then AH (seed §4.4);
        requests of one protocol keep the order given."""
        order = {"ipcomp": 0, "esp": 1, "ah": 2}
        return sorted(self.requests, key=lambda r: order[r.proto])

    def __str__(self) -> str:
        body = " ".join(str(r) for r in self.requests)
        return f"{self.dir} {self.action}" + (f" {body}" if body else "")


class Spd:
    """System-wide policies (matched in order) plus per-socket policies."""

    def __init__(self) -> None:
        self._sps: list[SecPolicy] = []
        self._next_id = 1
        self._next_reqid = REQID_AUTO_BASE
        #: per-socket policies: socket id -> {"in": SecPolicy, "out": SecPolicy}
        self.sockets: dict[object, dict[str, SecPolicy]] = {}
        self.gen = 0

    def __len__(self) -> int:
        return len(self._sps)

    def __iter__(self) -> Iterator[SecPolicy]:
        return iter(list(self._sps))

    def _unique(self, sp: SecPolicy) -> SecPolicy:
        reqs = []
        for r in sp.requests:
            if r.level == "unique" and not r.reqid:
                self._next_reqid += 1
                r = IpsecRequest(r.proto, r.mode, r.src, r.dst, "unique", self._next_reqid)
            reqs.append(r)
        sp.requests = tuple(reqs)
        return sp

    def find(self, selector: Selector, direction: str) -> SecPolicy | None:
        for sp in self._sps:
            if sp.selector == selector and sp.dir == direction:
                return sp
        return None

    def add(self, sp: SecPolicy, now: float, *, update: bool = False) -> SecPolicy:
        """``SADB_X_SPDADD`` (EEXIST on the same selector and direction)
        or, with ``update``, ``SADB_X_SPDUPDATE`` (replace it in place)."""
        if sp.action in ("entrust", "bypass"):
            raise KeyEngineError(f"{sp.action} is a per-socket policy only")
        old = self.find(sp.selector, sp.dir)
        if old is not None and not update:
            raise KeyEngineError(f"policy {sp.selector} {sp.dir} exists", errno.EEXIST)
        self._unique(sp)
        sp.created = now
        self.gen += 1
        if old is not None:
            sp.id = old.id
            self._sps[self._sps.index(old)] = sp
            return sp
        sp.id = self._next_id
        self._next_id += 1
        self._sps.append(sp)
        return sp

    def delete(self, selector: Selector, direction: str) -> SecPolicy:
        sp = self.find(selector, direction)
        if sp is None:
            raise KeyEngineError(f"no policy {selector} {direction}", errno.ENOENT)
        self._sps.remove(sp)
        self.gen += 1
        return sp

    def delete_id(self, spid: int) -> SecPolicy:
        for sp in self._sps:
            if sp.id == spid:
                self._sps.remove(sp)
                self.gen += 1
                return sp
        raise KeyEngineError(f"no policy id {spid}", errno.ENOENT)

    def get_id(self, spid: int) -> SecPolicy | None:
        return next((sp for sp in self._sps if sp.id == spid), None)

    def flush(self) -> int:
        n = len(self._sps)
        self._sps.clear()
        self.gen += 1
        return n

    def dump(self) -> list[SecPolicy]:
        return list(self._sps)

    def lookup(self, direction: str, src: Addr, dst: Addr, ulproto: int,
               sport: int = 0, dport: int = 0, *, so: object = None,
               now: float | None = None) -> SecPolicy | None:
        """``ipsec_getpolicybyaddr`` / ``ipsec_getpolicybysock``: the socket's
        policy for ``direction`` unless it is ``entrust``, then the first
        system-wide policy that matches; None means the system default
        (no IPsec)."""
        if so is not None:
            sp = self.sockets.get(so, {}).get(direction)
            if sp is not None and sp.action != "entrust":
                return sp
        for sp in self._sps:
            if sp.dir == direction and sp.selector.matches(src, dst, ulproto, sport, dport):
                if now is not None:
                    sp.lastused = now
                return sp
        return None

    def set_socket_policy(self, so: object, sp: SecPolicy) -> None:
        """``setsockopt(IPV6_IPSEC_POLICY)``: any action including entrust/bypass."""
        self._unique(sp)
        self.sockets.setdefault(so, {})[sp.dir] = sp


def any_selector(version: int = 6) -> Selector:
    net: Net = IPv6Network("::/0") if version == 6 else IPv4Network("0.0.0.0/0")
    return Selector(net, net)


def addr(text: str) -> Addr:
    return ip_address(text)
