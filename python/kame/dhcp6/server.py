"""The DHCPv6 server (RFC 8415 §18.3) and relay agent (§19), sans-I/O.

:class:`Dhcp6Server` answers Solicit (Advertise, or Reply with Rapid
Commit), Request, Renew, Rebind, Release, Decline, Confirm and
Information-Request, from an address pool (:class:`AddrPool`), a prefix
pool (:class:`PrefixPool`) and fixed bindings per DUID (WIDE-DHCPv6's
``host``). Lease tables are bounded: a pool hands out at most its size and
at most ``max_leases`` in all; a refused client is counted
(``d6s_noaddrs``, ``d6s_noprefix``, ``d6s_leasefull``) and answered with
NoAddrsAvail / NoPrefixAvail. Messages relayed to it (Relay-Forward) are
answered in a Relay-Reply of the same nesting, with the relay's
Interface-Id echoed.

:class:`Dhcp6Relay` forwards client messages received on its interfaces to
its servers in Relay-Forward (peer and link addresses, Interface-Id), and
Relay-Replies back to the client on the interface the Interface-Id names;
a Relay-Forward whose hop count reached :data:`HOP_COUNT_LIMIT` (8) is
dropped (``d6r_hoplimit``).

Both take ``(payload, source address, interface, now)`` and return
:class:`Reply` objects (payload, destination, port, interface).
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv6Address, IPv6Network

from kame.dhcp6 import codec as c
from kame.dhcp6.client import (
    CLIENT_PORT,
    RKAP_HMAC,
    RKAP_HMAC_MD5,
    RKAP_KEY,
    RKAP_PROTOCOL,
    SERVER_PORT,
    rkap_digest,
)
from kame.errors import ConfigError, ParseError

__all__ = ["HOP_COUNT_LIMIT", "AddrPool", "Dhcp6Relay", "Dhcp6Server", "Host", "Lease",
           "PrefixPool", "Reply"]

HOP_COUNT_LIMIT = 8
#: Addresses or prefixes tried from a client's hashed place in a pool before
#: it is refused: bounded work per message however full the pool.
MAX_PROBES = 4096
INFINITY = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class Reply:
    payload: bytes
    dst: IPv6Address
    port: int
    ifname: str


@dataclass(slots=True)
class Lease:
    """One binding: an address or a prefix held by (DUID, IA type, IAID)."""

    duid: bytes
    iatype: int
    iaid: int
    value: IPv6Address | IPv6Network
    preferred: int
    valid: int
    expire: float
    reconf_key: bytes | None = None


def _addr(a: object) -> IPv6Address:
    try:
        return IPv6Address(a)  # type: ignore[arg-type]
    except (TypeError, ValueError) as e:
        raise ConfigError(f"pool address {a!r}: {e}") from None


def _lifetime(v: object) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 0xFFFFFFFF:
        raise ConfigError(f"lifetime {v!r}: seconds, 0 to 2^32-1 (RFC 8415 §7.7)")
    return v


@dataclass(slots=True)
class AddrPool:
    """Addresses ``start`` to ``end`` inclusive (WIDE's ``range A to B``)."""

    start: IPv6Address
    end: IPv6Address
    preferred: int = 3600
    valid: int = 7200

    def __post_init__(self) -> None:
        self.start, self.end = _addr(self.start), _addr(self.end)
        self.preferred, self.valid = _lifetime(self.preferred), _lifetime(self.valid)
        if int(self.end) < int(self.start):
            raise ConfigError(f"pool range {self.start} to {self.end} is empty")
        if self.preferred > self.valid:
            raise ConfigError("preferred lifetime above valid lifetime")

    @property
    def size(self) -> int:
        return int(self.end) - int(self.start) + 1

    def nth(self, i: int) -> IPv6Address:
        return IPv6Address(int(self.start) + i)

    def index(self, a: IPv6Address) -> int | None:
        i = int(a) - int(self.start)
        return i if 0 <= i < self.size else None


@dataclass(slots=True)
class PrefixPool:
    """Prefixes of length ``length`` carved from ``prefix``."""

    prefix: IPv6Network
    length: int
    preferred: int = 3600
    valid: int = 7200

    def __post_init__(self) -> None:
        if isinstance(self.prefix, bool):
            raise ConfigError("a prefix pool's prefix is an IPv6 network, not a bool")
        try:
            self.prefix = IPv6Network(self.prefix)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"prefix pool {self.prefix!r}: {e}") from None
        if not isinstance(self.length, int) or isinstance(self.length, bool):
            raise ConfigError(f"delegated length {self.length!r} is not an int")
        self.preferred, self.valid = _lifetime(self.preferred), _lifetime(self.valid)
        if not self.prefix.prefixlen <= self.length <= 128:
            raise ConfigError(f"delegated length {self.length} outside {self.prefix}")
        if self.preferred > self.valid:
            raise ConfigError("preferred lifetime above valid lifetime")

    @property
    def size(self) -> int:
        return 1 << (self.length - self.prefix.prefixlen)

    def nth(self, i: int) -> IPv6Network:
        base = int(self.prefix.network_address) + (i << (128 - self.length))
        return IPv6Network((base, self.length))

    def index(self, p: IPv6Network) -> int | None:
        if p.prefixlen != self.length or not p.subnet_of(self.prefix):
            return None
        return (int(p.network_address) - int(self.prefix.network_address)) >> \
            (128 - self.length)


@dataclass(slots=True)
class Host:
    """A fixed binding (WIDE's ``host NAME { duid ...; address ...; prefix ...; }``)."""

    name: str
    duid: bytes
    addresses: list[tuple[IPv6Address, int, int]] = field(default_factory=list)
    prefixes: list[tuple[IPv6Network, int, int]] = field(default_factory=list)


_STATS = ("d6s_received", "d6s_malformed", "d6s_solicit", "d6s_request", "d6s_renew",
          "d6s_rebind", "d6s_release", "d6s_decline", "d6s_confirm", "d6s_inforeq",
          "d6s_relayforw", "d6s_advertise", "d6s_reply", "d6s_rapidcommit", "d6s_noaddrs",
          "d6s_noprefix", "d6s_leasefull", "d6s_nobinding", "d6s_notforus", "d6s_noclientid",
          "d6s_badtype", "d6s_relaydepth", "d6s_expired", "d6s_reconfigure")


class Dhcp6Server:
    """A DHCPv6 server; see the module docstring."""

    def __init__(self, duid: bytes, *, pool: AddrPool | None = None,
                 pd_pool: PrefixPool | None = None, hosts: Iterable[Host] = (),
                 dns: tuple[IPv6Address, ...] = (), domains: tuple[str, ...] = (),
                 preference: int = 0, rapid_commit: bool = True, max_leases: int = 65536,
                 info_refresh: int | None = None, reconfigure: bool = True,
                 t1: float = 0.5, t2: float = 0.8) -> None:
        if not isinstance(duid, bytes) or not 3 <= len(duid) <= 130:
            raise ValueError("a DUID is 3 to 130 octets")
        if not 0 <= preference <= 255:
            raise ConfigError(f"preference {preference} not in [0, 255]")
        if max_leases < 1:
            raise ConfigError("max_leases must be at least 1")
        self.duid = duid
        self.pool, self.pd_pool = pool, pd_pool
        self.hosts = {h.duid: h for h in hosts}
        self.dns, self.domains = tuple(dns), tuple(domains)
        self.preference, self.rapid_commit = preference, rapid_commit
        self.max_leases, self.info_refresh = max_leases, info_refresh
        self.reconfigure = reconfigure
        self.t1f, self.t2f = t1, t2
        self.leases: dict[tuple[bytes, int, int], list[Lease]] = {}
        self.used: dict[IPv6Address | IPv6Network, Lease] = {}
        self._held: dict[int, int] = {}   # IA type -> leases held
        self.declined: dict[IPv6Address, float] = {}
        self._heap: list[tuple[float, int, IPv6Address | IPv6Network]] = []
        self._seq = 0
        self.stats: dict[str, int] = dict.fromkeys(_STATS, 0)
        #: The last event seen per client (the peer's "log"): (now, message, DUID, values).
        self.log: list[tuple[float, str, str, tuple[str, ...]]] = []
        self.replay = 0
        #: The message type and DUID of the last client message received
        #: directly (not relayed): where :class:`~kame.dhcp6.agent.ServerAgent`
        #: learns the address it sends a client's Reconfigure to.
        self.last_client: tuple[int, bytes] | None = None

    @property
    def nleases(self) -> int:
        return len(self.used)

    # --- input ---------------------------------------------------------------------------

    def receive(self, data: bytes, src: IPv6Address, ifname: str, now: float,
                port: int = CLIENT_PORT) -> list[Reply]:
        self.stats["d6s_received"] += 1
        try:
            m = c.parse(data)
        except ParseError:
            self.stats["d6s_malformed"] += 1
            return []
        self._purge(now)
        if isinstance(m, c.RelayMessage):
            if m.msg_type != c.MsgType.RELAY_FORW:
                self.stats["d6s_badtype"] += 1
                return []
            self.stats["d6s_relayforw"] += 1
            out = self._relayed(m, now, 0)
            if out is None:
                return []
            return [Reply(out.build(), src, SERVER_PORT, ifname)]
        cid = m.get(c.ClientId)
        self.last_client = (m.msg_type, cid.duid) if isinstance(cid, c.ClientId) else None
        r = self.process(m, now)
        return [] if r is None else [Reply(r.build(), src, port, ifname)]

    def _relayed(self, rm: c.RelayMessage, now: float, depth: int) -> c.RelayMessage | None:
        inner = rm.get(c.RelayMsg)
        if not isinstance(inner, c.RelayMsg) or depth > HOP_COUNT_LIMIT * 4:
            self.stats["d6s_relaydepth" if depth else "d6s_malformed"] += 1
            return None
        im = inner.message
        if isinstance(im, c.RelayMessage):
            if im.msg_type != c.MsgType.RELAY_FORW:
                return None
            r: c.Message | c.RelayMessage | None = self._relayed(im, now, depth + 1)
        else:
            r = self.process(im, now)
        if r is None:
            return None
        opts: list[c.Option] = []
        iid = rm.get(c.InterfaceId)
        if isinstance(iid, c.InterfaceId):
            opts.append(iid)
        opts.append(c.RelayMsg(r))
        return c.RelayMessage(c.MsgType.RELAY_REPL, rm.hop_count, rm.link_address,
                              rm.peer_address, tuple(opts))

    def process(self, m: c.Message, now: float) -> c.Message | None:
        """The answer to one client message, or None (dropped, counted)."""
        t = m.msg_type
        cid = m.get(c.ClientId)
        sid = m.get(c.ServerId)
        if t == c.MsgType.INFORMATION_REQUEST:
            self.stats["d6s_inforeq"] += 1
            if isinstance(sid, c.ServerId) and sid.duid != self.duid:
                self.stats["d6s_notforus"] += 1
                return None
            return self._answer(c.MsgType.REPLY, m, cid, [], info=True)
        if not isinstance(cid, c.ClientId):
            self.stats["d6s_noclientid"] += 1
            return None
        duid = cid.duid
        if t in (c.MsgType.SOLICIT, c.MsgType.REBIND, c.MsgType.CONFIRM):
            if sid is not None:
                self.stats["d6s_notforus"] += 1
                return None
        elif t in (c.MsgType.REQUEST, c.MsgType.RENEW, c.MsgType.RELEASE, c.MsgType.DECLINE):
            if not isinstance(sid, c.ServerId) or sid.duid != self.duid:
                self.stats["d6s_notforus"] += 1
                return None
        else:
            self.stats["d6s_badtype"] += 1
            return None
        if t == c.MsgType.SOLICIT:
            self.stats["d6s_solicit"] += 1
            rapid = self.rapid_commit and isinstance(m.get(c.RapidCommit), c.RapidCommit)
            if rapid:
                self.stats["d6s_rapidcommit"] += 1
            ias = self._assign(duid, m, now, commit=rapid)
            if not ias:
                return self._answer(c.MsgType.ADVERTISE, m, cid,
                                    [c.StatusCode(c.Status.NO_ADDRS_AVAIL, "no addresses")])
            extra: list[c.Option] = list(ias)
            if rapid:
                extra.append(c.RapidCommit())
                extra += self._key(duid, m)
                self._log(now, "solicit+rapid", duid, ias)
                return self._answer(c.MsgType.REPLY, m, cid, extra)
            if self.preference:
                extra.append(c.Preference(self.preference))
            return self._answer(c.MsgType.ADVERTISE, m, cid, extra)
        if t == c.MsgType.REQUEST:
            self.stats["d6s_request"] += 1
            ias = self._assign(duid, m, now, commit=True)
            self._log(now, "request", duid, ias)
            return self._answer(c.MsgType.REPLY, m, cid, list(ias) + self._key(duid, m))
        if t in (c.MsgType.RENEW, c.MsgType.REBIND):
            self.stats["d6s_renew" if t == c.MsgType.RENEW else "d6s_rebind"] += 1
            ias = self._extend(duid, m, now, rebind=t == c.MsgType.REBIND)
            self._log(now, "renew" if t == c.MsgType.RENEW else "rebind", duid, ias)
            return self._answer(c.MsgType.REPLY, m, cid, list(ias))
        if t == c.MsgType.RELEASE:
            self.stats["d6s_release"] += 1
            ias = self._release(duid, m, now, decline=False)
            self._log(now, "release", duid, ())
            return self._answer(c.MsgType.REPLY, m, cid,
                                [c.StatusCode(c.Status.SUCCESS, "released")] + ias)
        if t == c.MsgType.DECLINE:
            self.stats["d6s_decline"] += 1
            ias = self._release(duid, m, now, decline=True)
            self._log(now, "decline", duid, ())
            return self._answer(c.MsgType.REPLY, m, cid,
                                [c.StatusCode(c.Status.SUCCESS, "declined")] + ias)
        self.stats["d6s_confirm"] += 1
        ok = all(self.pool is not None and self.pool.index(a.addr) is not None
                 for ia in m.all(c.IaNa) if isinstance(ia, c.IaNa) for a in ia.addresses)
        return self._answer(c.MsgType.REPLY, m, cid, [c.StatusCode(
            c.Status.SUCCESS if ok else c.Status.NOT_ON_LINK, "confirm")])

    # --- answers -------------------------------------------------------------------------

    def _answer(self, t: int, m: c.Message, cid: object, extra: list[c.Option],
                info: bool = False) -> c.Message:
        opts: list[c.Option] = []
        if isinstance(cid, c.ClientId):
            opts.append(cid)
        opts.append(c.ServerId(self.duid))
        opts.extend(extra)
        oro = m.get(c.OptionRequest)
        want = set(oro.codes) if isinstance(oro, c.OptionRequest) else set()
        if self.dns and (c.OPT_DNS_SERVERS in want or info):
            opts.append(c.DnsServers(self.dns))
        if self.domains and (c.OPT_DOMAIN_LIST in want or info):
            opts.append(c.DomainList(self.domains))
        if info and self.info_refresh is not None:
            opts.append(c.InfoRefreshTime(self.info_refresh))
        self.stats["d6s_advertise" if t == c.MsgType.ADVERTISE else "d6s_reply"] += 1
        return c.Message(t, m.xid, tuple(opts))

    def _key(self, duid: bytes, m: c.Message) -> list[c.Option]:
        """RKAP (§20.4): a Reconfigure Key for a client that accepts Reconfigure."""
        if not self.reconfigure or not isinstance(m.get(c.ReconfAccept), c.ReconfAccept):
            return []
        key = os.urandom(16)
        for ls in self.leases.values():
            for lease in ls:
                if lease.duid == duid:
                    lease.reconf_key = key
        self.replay += 1
        return [c.Auth(RKAP_PROTOCOL, RKAP_HMAC_MD5, 0, self.replay, bytes([RKAP_KEY]) + key)]

    def has_reconf_key(self, duid: bytes) -> bool:
        return any(lease.duid == duid and lease.reconf_key for ls in self.leases.values()
                   for lease in ls)

    def reconfigure_message(self, duid: bytes, msg_type: int = c.MsgType.RENEW) -> bytes | None:
        """A Reconfigure for the client ``duid``, signed with its RKAP key, or
        None if it has none (§18.3.11: Renew, Rebind or Information-Request)."""
        if msg_type not in (c.MsgType.RENEW, c.MsgType.REBIND,
                            c.MsgType.INFORMATION_REQUEST):
            raise ValueError(f"a Reconfigure asks for Renew, Rebind or Information-Request, "
                             f"not message type {msg_type}")
        key = next((lease.reconf_key for ls in self.leases.values() for lease in ls
                    if lease.duid == duid and lease.reconf_key), None)
        if key is None:
            return None
        self.stats["d6s_reconfigure"] += 1
        self.replay += 1
        auth = c.Auth(RKAP_PROTOCOL, RKAP_HMAC_MD5, 0, self.replay,
                      bytes([RKAP_HMAC]) + bytes(16))
        m = c.Message(c.MsgType.RECONFIGURE, 0, (c.ClientId(duid), c.ServerId(self.duid),
                                                 c.ReconfMsg(msg_type), auth))
        raw = m.build()
        digest = rkap_digest(key, raw)
        auth = c.Auth(RKAP_PROTOCOL, RKAP_HMAC_MD5, 0, self.replay, bytes([RKAP_HMAC]) + digest)
        return c.Message(m.msg_type, 0, m.options[:3] + (auth,)).build()

    def _times(self, preferred: int) -> tuple[int, int]:
        if preferred == INFINITY:
            return INFINITY, INFINITY
        return int(preferred * self.t1f), int(preferred * self.t2f)

    def _log(self, now: float, what: str, duid: bytes, ias: Iterable[c.Option]) -> None:
        vals: list[str] = []
        for ia in ias:
            if isinstance(ia, c.IaNa):
                vals += [str(a.addr) for a in ia.addresses]
            elif isinstance(ia, c.IaPd):
                vals += [str(p.prefix) for p in ia.prefixes]
        if len(self.log) >= 10000:
            del self.log[:5000]
        self.log.append((now, what, duid.hex(), tuple(vals)))

    # --- leases --------------------------------------------------------------------------

    def _purge(self, now: float) -> None:
        h = self._heap
        while h and h[0][0] <= now:
            _, _, v = heapq.heappop(h)
            lease = self.used.get(v)
            if lease is not None and lease.expire <= now:
                self._unbind(lease)
                self.stats["d6s_expired"] += 1
        for a, t in list(self.declined.items())[:64]:
            if t <= now:
                del self.declined[a]

    def _unbind(self, lease: Lease) -> None:
        if self.used.pop(lease.value, None) is not None:
            self._held[lease.iatype] = self._held.get(lease.iatype, 1) - 1
        key = (lease.duid, lease.iatype, lease.iaid)
        ls = self.leases.get(key)
        if ls is not None:
            if lease in ls:
                ls.remove(lease)
            if not ls:
                del self.leases[key]

    def _hash(self, duid: bytes, iatype: int, iaid: int) -> int:
        h = hashlib.blake2b(duid + struct.pack("!HI", iatype, iaid), digest_size=8).digest()
        return int.from_bytes(h, "big")

    def _pick(self, duid: bytes, iatype: int, iaid: int, hint: object) -> Lease | None:
        pool: AddrPool | PrefixPool | None = self.pool if iatype == c.OPT_IA_NA else self.pd_pool
        if pool is None:
            return None
        if len(self.used) >= self.max_leases:
            self.stats["d6s_leasefull"] += 1
            return None
        size = pool.size
        if self._held.get(iatype, 0) >= size:
            return None   # the pool is all held (counted by the caller)
        if isinstance(hint, (IPv6Address, IPv6Network)):
            i = pool.index(hint)  # type: ignore[arg-type]
            if i is not None:
                v = pool.nth(i)
                if v not in self.used and v not in self.declined:
                    return Lease(duid, iatype, iaid, v, pool.preferred, pool.valid, 0.0)
        start = self._hash(duid, iatype, iaid) % size
        for k in range(min(size, MAX_PROBES)):
            v = pool.nth((start + k) % size)
            if v not in self.used and v not in self.declined:
                return Lease(duid, iatype, iaid, v, pool.preferred, pool.valid, 0.0)
        return None

    def _hold(self, lease: Lease, now: float) -> None:
        lease.expire = now + lease.valid if lease.valid != INFINITY else float("inf")
        key = (lease.duid, lease.iatype, lease.iaid)
        ls = self.leases.setdefault(key, [])
        if lease not in ls:
            ls.append(lease)
        if lease.value not in self.used:
            self._held[lease.iatype] = self._held.get(lease.iatype, 0) + 1
        self.used[lease.value] = lease
        if lease.expire != float("inf"):
            self._seq += 1
            heapq.heappush(self._heap, (lease.expire, self._seq, lease.value))

    def _host_leases(self, duid: bytes, iatype: int, iaid: int) -> list[Lease]:
        h = self.hosts.get(duid)
        if h is None:
            return []
        if iatype == c.OPT_IA_NA:
            return [Lease(duid, iatype, iaid, a, p, v, 0.0) for a, p, v in h.addresses]
        return [Lease(duid, iatype, iaid, n, p, v, 0.0) for n, p, v in h.prefixes]

    def _assign(self, duid: bytes, m: c.Message, now: float, commit: bool) -> list[c.Option]:
        out: list[c.Option] = []
        got_any = False
        for ia in m.options:
            if not isinstance(ia, (c.IaNa, c.IaPd)):
                continue
            iatype = ia.code
            key = (duid, iatype, ia.iaid)
            leases = list(self.leases.get(key, ()))
            if not leases:
                leases = self._host_leases(duid, iatype, ia.iaid)
            if not leases:
                hint: IPv6Address | IPv6Network | None = None
                if isinstance(ia, c.IaNa) and ia.addresses:
                    hint = ia.addresses[0].addr
                elif isinstance(ia, c.IaPd) and ia.prefixes:
                    hint = ia.prefixes[0].prefix
                lease = self._pick(duid, iatype, ia.iaid, hint)
                if lease is not None:
                    leases = [lease]
            if not leases:
                if iatype == c.OPT_IA_NA:
                    self.stats["d6s_noaddrs"] += 1
                    out.append(c.IaNa(ia.iaid, 0, 0, (c.StatusCode(c.Status.NO_ADDRS_AVAIL,
                                                                   "pool exhausted"),)))
                else:
                    self.stats["d6s_noprefix"] += 1
                    out.append(c.IaPd(ia.iaid, 0, 0, (c.StatusCode(c.Status.NO_PREFIX_AVAIL,
                                                                   "pool exhausted"),)))
                continue
            got_any = True
            if commit:
                for lease in leases:
                    self._hold(lease, now)
            out.append(self._ia(iatype, ia.iaid, leases))
        return out if got_any else []

    def _ia(self, iatype: int, iaid: int, leases: list[Lease]) -> c.Option:
        pref = min(lease.preferred for lease in leases) if leases else 0
        t1, t2 = self._times(pref)
        if iatype == c.OPT_IA_NA:
            return c.IaNa(iaid, t1, t2, tuple(
                c.IaAddr(lease.value, lease.preferred, lease.valid)  # type: ignore[arg-type]
                for lease in leases))
        return c.IaPd(iaid, t1, t2, tuple(
            c.IaPrefix(lease.value, lease.preferred, lease.valid)  # type: ignore[arg-type]
            for lease in leases))

    def _extend(self, duid: bytes, m: c.Message, now: float,
                rebind: bool) -> list[c.Option]:
        out: list[c.Option] = []
        for ia in m.options:
            if not isinstance(ia, (c.IaNa, c.IaPd)):
                continue
            key = (duid, ia.code, ia.iaid)
            leases = self.leases.get(key)
            if not leases:
                if rebind:
                    # §18.3.5: bindings we do not know but could give: give them
                    asked = [self._pick(duid, ia.code, ia.iaid, v) for v in (
                        [a.addr for a in ia.addresses] if isinstance(ia, c.IaNa)
                        else [p.prefix for p in ia.prefixes])][:1]
                    got = [lease for lease in asked if lease is not None]
                    if got:
                        for lease in got:
                            self._hold(lease, now)
                        out.append(self._ia(ia.code, ia.iaid, got))
                        continue
                self.stats["d6s_nobinding"] += 1
                st = (c.StatusCode(c.Status.NO_BINDING, "no binding"),)
                out.append(c.IaNa(ia.iaid, 0, 0, st) if isinstance(ia, c.IaNa)
                           else c.IaPd(ia.iaid, 0, 0, st))
                continue
            for lease in leases:
                self._hold(lease, now)
            out.append(self._ia(ia.code, ia.iaid, list(leases)))
        return out

    def _release(self, duid: bytes, m: c.Message, now: float,
                 decline: bool) -> list[c.Option]:
        out: list[c.Option] = []
        for ia in m.options:
            if not isinstance(ia, (c.IaNa, c.IaPd)):
                continue
            values = {a.addr for a in ia.addresses} if isinstance(ia, c.IaNa) else \
                {p.prefix for p in ia.prefixes}
            leases = self.leases.get((duid, ia.code, ia.iaid))
            if not leases:
                self.stats["d6s_nobinding"] += 1
                st = (c.StatusCode(c.Status.NO_BINDING, "no binding"),)
                out.append(c.IaNa(ia.iaid, 0, 0, st) if isinstance(ia, c.IaNa)
                           else c.IaPd(ia.iaid, 0, 0, st))
                continue
            for lease in list(leases):
                if lease.value in values:
                    self._unbind(lease)
                    # §18.3.8: a declined address is not handed out again for a while
                    if decline and isinstance(lease.value, IPv6Address) and \
                            len(self.declined) < 4096:
                        self.declined[lease.value] = now + 3600
        return out


class Dhcp6Relay:
    """A relay agent (§19); ``links`` maps each client-facing interface to the
    address put in Link-Address (a global address on it, or ``::``)."""

    def __init__(self, links: dict[str, IPv6Address], servers: Iterable[IPv6Address],
                 upstream: str) -> None:
        self.links = dict(links)
        self.servers = tuple(servers)
        self.upstream = upstream
        if not self.servers:
            raise ConfigError("a relay needs at least one server address")
        self.stats: dict[str, int] = dict.fromkeys(
            ("d6r_received", "d6r_malformed", "d6r_forwarded", "d6r_replied", "d6r_hoplimit",
             "d6r_noiface", "d6r_badtype"), 0)

    def receive(self, data: bytes, src: IPv6Address, ifname: str, now: float) -> list[Reply]:
        self.stats["d6r_received"] += 1
        try:
            m = c.parse(data)
        except ParseError:
            self.stats["d6r_malformed"] += 1
            return []
        if isinstance(m, c.RelayMessage) and m.msg_type == c.MsgType.RELAY_REPL:
            iid = m.get(c.InterfaceId)
            inner = m.get(c.RelayMsg)
            if not isinstance(iid, c.InterfaceId) or not isinstance(inner, c.RelayMsg):
                self.stats["d6r_malformed"] += 1
                return []
            out_if = iid.ident.decode("ascii", "replace")
            if out_if not in self.links:
                self.stats["d6r_noiface"] += 1
                return []
            port = SERVER_PORT if isinstance(inner.message, c.RelayMessage) else CLIENT_PORT
            self.stats["d6r_replied"] += 1
            return [Reply(inner.message.build(), m.peer_address, port, out_if)]
        if ifname not in self.links:
            self.stats["d6r_noiface"] += 1
            return []
        if isinstance(m, c.RelayMessage):
            if m.msg_type != c.MsgType.RELAY_FORW:
                self.stats["d6r_badtype"] += 1
                return []
            if m.hop_count >= HOP_COUNT_LIMIT:
                self.stats["d6r_hoplimit"] += 1
                return []
            hop, link = m.hop_count + 1, IPv6Address(0)
        else:
            if m.msg_type in (c.MsgType.ADVERTISE, c.MsgType.REPLY, c.MsgType.RECONFIGURE):
                self.stats["d6r_badtype"] += 1
                return []
            hop, link = 0, self.links[ifname]
        fw = c.RelayMessage(c.MsgType.RELAY_FORW, hop, link, src,
                            (c.InterfaceId(ifname.encode()), c.RawOption(c.OPT_RELAY_MSG, bytes(data))))
        self.stats["d6r_forwarded"] += 1
        raw = fw.build()
        return [Reply(raw, s, SERVER_PORT, self.upstream) for s in self.servers]


def verify_reconfigure(key: bytes, raw: bytes) -> bool:
    """Whether ``raw`` (a Reconfigure) carries a good RKAP digest under ``key``."""
    m = c.parse(raw)
    a = m.get(c.Auth) if isinstance(m, c.Message) else None
    if not isinstance(a, c.Auth) or len(a.info) != 17:
        return False
    return hmac.compare_digest(rkap_digest(key, raw), a.info[1:])
