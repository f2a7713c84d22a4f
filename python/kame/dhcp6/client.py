"""The DHCPv6 client (RFC 8415 §18), sans-I/O.

:class:`Dhcp6Client` is one client on one interface. It is fed datagrams
(:meth:`~Dhcp6Client.receive`), the RA's M and O flags
(:meth:`~Dhcp6Client.ra_flags`) and the time; :meth:`~Dhcp6Client.poll`
returns the datagrams to send (:class:`Send`: payload and destination), and
:meth:`~Dhcp6Client.next_deadline` says when to poll next. What it learns
comes out as events in :attr:`Dhcp6Client.events`: :class:`Bound` (IA_NA
addresses, IA_PD prefixes, DNS servers and search list, each time a Reply
changes them), :class:`Expired` and :class:`InfoReceived` (stateless).

Exchanges, one at a time (the RFC's transmission state):

- M set (or ``start("stateful")``): Solicit (with Rapid Commit if asked) →
  Advertise (the best by preference, §18.2.9; 255 ends the wait at once) →
  Request → Reply; a Reply to the Solicit with Rapid Commit binds at once;
- O set without M: Information-Request, asked again after the Information
  Refresh Time (RFC 8415 §21.23; 86400 s by default, at least 600 s);
- T1: Renew to the server that gave the lease; T2: Rebind to all servers;
  the valid lifetimes ending: the lease is dropped and Solicit starts again;
- an address the node found duplicated (:meth:`declined`): Decline;
- :meth:`release`: Release of every binding (on shutdown);
- a Reconfigure authenticated with the key the server gave (RKAP, RFC 8415
  §20.4, HMAC-MD5) starts a Renew or Information-Request at once.

Retransmission is §15's: the first timeout IRT ± 10 % (a Solicit's strictly
above IRT), then RT = 2 RT ± 10 %, capped at MRT ± 10 %, stopping after MRC
tries or MRD seconds; the first Solicit and Information-Request wait a
random 0-1 s (SOL_MAX_DELAY, INF_MAX_DELAY). Every message carries the
Elapsed Time of its exchange.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections import deque
from dataclasses import dataclass, field
from ipaddress import IPv6Address, IPv6Network
from typing import Any

from kame.dhcp6 import codec as c
from kame.errors import ParseError

__all__ = ["ALL_DHCP_RELAY_AGENTS_AND_SERVERS", "Bound", "Confirmed", "Dhcp6Client", "Expired",
           "InfoReceived", "Send", "Timing"]

ALL_DHCP_RELAY_AGENTS_AND_SERVERS = IPv6Address("ff02::1:2")
CLIENT_PORT = 546
SERVER_PORT = 547


@dataclass(frozen=True, slots=True)
class Timing:
    """§7.6 transmission parameters of one message type."""

    irt: float
    mrt: float = 0.0
    mrc: int = 0
    mrd: float = 0.0
    max_delay: float = 0.0


SOLICIT = Timing(1, 3600, 0, 0, 1)
REQUEST = Timing(1, 30, 10)
RENEW = Timing(10, 600)
REBIND = Timing(10, 600)
INFO = Timing(1, 3600, 0, 0, 1)
RELEASE = Timing(1, 0, 4)
DECLINE = Timing(1, 0, 4)
CONFIRM = Timing(1, 4, 0, 10, 1)
IRT_DEFAULT = 86400
IRT_MINIMUM = 600
MAX_ADVERTISES = 16
#: Addresses or prefixes taken from one IA of a Reply.
MAX_PER_IA = 8

RKAP_PROTOCOL = 3
RKAP_HMAC_MD5 = 1
RKAP_KEY = 1
RKAP_HMAC = 2


@dataclass(frozen=True, slots=True)
class Send:
    payload: bytes
    dst: IPv6Address
    port: int = SERVER_PORT


@dataclass(frozen=True, slots=True)
class Bound:
    """A Reply bound or renewed leases (the whole current state)."""

    ifname: str
    server: bytes
    addresses: tuple[c.IaAddr, ...]
    prefixes: tuple[c.IaPrefix, ...]
    dns: tuple[IPv6Address, ...]
    domains: tuple[str, ...]
    rapid: bool = False
    #: IA_TA addresses (RFC 8415 §21.5), apart from the IA_NA ones.
    temporary: tuple[c.IaAddr, ...] = ()


@dataclass(frozen=True, slots=True)
class Confirmed:
    """The answer to a Confirm (§18.2.3): ``ok`` False is NotOnLink (the lease
    was dropped and Solicit starts); None is no answer (the lease is kept)."""

    ifname: str
    ok: bool | None


@dataclass(frozen=True, slots=True)
class Expired:
    ifname: str
    addresses: tuple[IPv6Address, ...]
    prefixes: tuple[IPv6Network, ...]


@dataclass(frozen=True, slots=True)
class InfoReceived:
    ifname: str
    dns: tuple[IPv6Address, ...]
    domains: tuple[str, ...]
    refresh: float


@dataclass(slots=True)
class _Exchange:
    """One message in flight and its retransmission state (§15)."""

    kind: str
    msg_type: int
    timing: Timing
    xid: int
    start: float          # first transmission (for Elapsed Time and MRD)
    next_send: float
    rt: float = 0.0
    count: int = 0
    mrd: float = 0.0
    server: bytes = b""
    options: tuple[c.Option, ...] = ()
    #: Where it goes: the server's address when a Server Unicast option allows
    #: it (§18.4), All_DHCP_Relay_Agents_and_Servers otherwise.
    dst: IPv6Address = ALL_DHCP_RELAY_AGENTS_AND_SERVERS
    advertises: list[tuple[int, int, c.Message]] = field(default_factory=list)
    collect_until: float = 0.0


@dataclass(slots=True)
class _Lease:
    server: bytes
    server_addr: IPv6Address | None
    na: dict[int, c.IaNa]
    pd: dict[int, c.IaPd]
    obtained: float
    t1: float
    t2: float
    expire: float
    ta: dict[int, c.IaTa] = field(default_factory=dict)
    #: The server's Server Unicast address (§21.12), or None: multicast.
    unicast: IPv6Address | None = None


class Dhcp6Client:
    """One DHCPv6 client on one interface; see the module docstring."""

    def __init__(self, ifname: str, duid: bytes, *, ia_na: tuple[int, ...] = (0,),
                 ia_pd: tuple[tuple[int, IPv6Network | None], ...] = (),
                 ia_ta: tuple[int, ...] = (), rapid_commit: bool = False, request: tuple[int, ...] = (
                     c.OPT_DNS_SERVERS, c.OPT_DOMAIN_LIST),
                 reconfigure: bool = True, rng: random.Random | None = None) -> None:
        if not isinstance(ifname, str):
            raise TypeError(f"ifname is a str, not {type(ifname).__name__}")
        if not isinstance(duid, bytes) or not 3 <= len(duid) <= 130:
            raise ValueError("a DUID is 3 to 130 octets")
        self.ifname, self.duid = ifname, duid
        self.ia_na, self.ia_pd, self.ia_ta = tuple(ia_na), tuple(ia_pd), tuple(ia_ta)
        self.rapid_commit = rapid_commit
        self.request = tuple(request)
        self.reconfigure = reconfigure
        self.rng = rng if rng is not None else random.Random()
        self.events: deque[Any] = deque(maxlen=1000)
        self.stats: dict[str, int] = dict.fromkeys((
            "d6c_sent", "d6c_retrans", "d6c_received", "d6c_malformed", "d6c_badxid",
            "d6c_badclientid", "d6c_noserverid", "d6c_advertise", "d6c_reply",
            "d6c_noaddrs", "d6c_decline", "d6c_release", "d6c_expired", "d6c_reconfigure",
            "d6c_badauth", "d6c_giveup", "d6c_badaddr", "d6c_confirm", "d6c_notonlink",
            "d6c_unicast", "d6c_usemulticast", "d6c_rebind"), 0)
        self.mode = ""            # "", "stateful", "stateless"
        self.ex: _Exchange | None = None
        self.lease: _Lease | None = None
        self.dns: tuple[IPv6Address, ...] = ()
        self.domains: tuple[str, ...] = ()
        self.refresh_at: float | None = None
        self.sol_max_rt = SOLICIT.mrt
        self.inf_max_rt = INFO.mrt
        self.reconf_key: bytes | None = None
        self.replay = -1
        self.declined: list[IPv6Address] = []
        self._out: list[Send] = []

    # --- inputs --------------------------------------------------------------------------

    def ra_flags(self, managed: bool, other: bool, now: float) -> None:
        """The M and O flags of an RA on our interface (RFC 4861 §4.2)."""
        if managed:
            if self.mode != "stateful":
                self.start("stateful", now)
        elif other and self.mode == "":
            self.start("stateless", now)

    def start(self, mode: str, now: float) -> None:
        if mode not in ("stateful", "stateless"):
            raise ValueError(f"mode {mode!r} is not stateful or stateless")
        self.mode = mode
        if mode == "stateful":
            if self.lease is None:
                self._solicit(now)
        else:
            self._info_request(now)

    def link_changed(self, now: float) -> None:
        """The link may have changed (carrier back, a reboot, a restored
        lease; §18.2.12): a lease with delegated prefixes is checked with
        Rebind, one of addresses only with Confirm (§18.2.3)."""
        lease = self.lease
        if lease is None:
            if self.mode == "stateful":
                self._solicit(now)
            return
        self.mode = "stateful"
        if lease.pd:
            self.stats["d6c_rebind"] += 1
            self._begin("rebind", c.MsgType.REBIND, REBIND, now,
                        mrd=max(1.0, lease.expire - now), options=self._ia_options(lease))
            return
        opts: list[c.Option] = [
            c.IaNa(i, 0, 0, tuple(c.IaAddr(a.addr, 0, 0) for a in ia.addresses))
            for i, ia in lease.na.items()]
        opts += [c.IaTa(i, tuple(c.IaAddr(a.addr, 0, 0) for a in ia.addresses))
                 for i, ia in lease.ta.items()]
        self.stats["d6c_confirm"] += 1
        self._begin("confirm", c.MsgType.CONFIRM, CONFIRM, now, options=tuple(opts))

    # --- the lease kept across restarts ---------------------------------------------------

    def save_state(self, wall: float, now: float) -> dict[str, Any]:
        """The binding as JSON-ready data (times on the wall clock ``wall``,
        which is ``now`` on the client's clock): what :meth:`restore_state`
        takes after a restart."""
        lease = self.lease
        off = wall - now
        st: dict[str, Any] = {"version": 1, "duid": self.duid.hex(), "saved": wall,
                              "dns": [str(a) for a in self.dns],
                              "domains": list(self.domains), "replay": self.replay,
                              "reconf_key": None if self.reconf_key is None
                              else self.reconf_key.hex(), "lease": None}
        if lease is None:
            return st

        def t(x: float) -> float | None:
            return None if x == float("inf") else x + off

        def addrs(opts: tuple[c.Option, ...]) -> list[list[Any]]:
            return [[str(a.addr), a.preferred, a.valid] for a in opts
                    if isinstance(a, c.IaAddr)]

        st["lease"] = {
            "server": lease.server.hex(),
            "server_addr": None if lease.server_addr is None else str(lease.server_addr),
            "unicast": None if lease.unicast is None else str(lease.unicast),
            "obtained": lease.obtained + off, "t1": t(lease.t1), "t2": t(lease.t2),
            "expire": t(lease.expire),
            "na": [[i, ia.t1, ia.t2, addrs(ia.options)] for i, ia in lease.na.items()],
            "ta": [[i, addrs(ia.options)] for i, ia in lease.ta.items()],
            "pd": [[i, ia.t1, ia.t2, [[str(p.prefix), p.preferred, p.valid]
                                      for p in ia.prefixes]] for i, ia in lease.pd.items()]}
        return st

    def restore_state(self, st: object, wall: float, now: float) -> bool:
        """Take back a binding :meth:`save_state` wrote (lifetimes shortened by
        the time that passed; a lease past its valid lifetime, for another DUID
        or badly formed is not taken). True when a lease was restored: then
        :meth:`link_changed` confirms it."""
        try:
            return self._restore(st, wall, now)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            self.lease = None
            return False

    def _restore(self, st: Any, wall: float, now: float) -> bool:
        if not isinstance(st, dict) or st.get("version") != 1 or \
                st.get("duid") != self.duid.hex():
            return False
        key = st.get("reconf_key")
        self.reconf_key = bytes.fromhex(key) if isinstance(key, str) else None
        self.replay = int(st.get("replay", -1))
        self.dns = tuple(IPv6Address(a) for a in st.get("dns", []))[:8]
        self.domains = tuple(str(d) for d in st.get("domains", []))[:6]
        ls = st.get("lease")
        if not isinstance(ls, dict):
            return False
        off = wall - now
        elapsed = max(0.0, wall - float(ls["obtained"]))

        def left(v: int) -> int:
            return v if v == 0xFFFFFFFF else max(0, int(v - elapsed))

        def addrs(rows: list[Any]) -> tuple[c.Option, ...]:
            out = []
            for a, p, v in rows[:MAX_PER_IA]:
                if int(v) == 0xFFFFFFFF or left(int(v)) > 0:
                    out.append(c.IaAddr(IPv6Address(a), left(int(p)), left(int(v))))
            return tuple(out)

        na = {int(i): c.IaNa(int(i), int(t1), int(t2), addrs(rows))
              for i, t1, t2, rows in ls.get("na", []) if int(i) in self.ia_na}
        ta = {int(i): c.IaTa(int(i), addrs(rows))
              for i, rows in ls.get("ta", []) if int(i) in self.ia_ta}
        pd: dict[int, c.IaPd] = {}
        for i, t1, t2, rows in ls.get("pd", []):
            if int(i) not in dict(self.ia_pd):
                continue
            pfx = tuple(c.IaPrefix(IPv6Network(p), left(int(pl)), left(int(v)))
                        for p, pl, v in rows[:MAX_PER_IA]
                        if int(v) == 0xFFFFFFFF or left(int(v)) > 0)
            pd[int(i)] = c.IaPd(int(i), int(t1), int(t2), pfx)
        na = {i: ia for i, ia in na.items() if ia.options}
        ta = {i: ia for i, ia in ta.items() if ia.options}
        pd = {i: ia for i, ia in pd.items() if ia.options}

        def mono(x: object) -> float:
            return float("inf") if x is None else float(x) - off  # type: ignore[arg-type]

        expire = mono(ls["expire"])
        if not (na or ta or pd) or expire <= now:
            return False
        sa, uc = ls.get("server_addr"), ls.get("unicast")
        self.lease = _Lease(bytes.fromhex(ls["server"]),
                            None if sa is None else IPv6Address(sa), na, pd, now,
                            mono(ls["t1"]), mono(ls["t2"]), expire, ta,
                            None if uc is None else IPv6Address(uc))
        return True

    def receive(self, data: bytes, src: IPv6Address, now: float) -> None:
        """A datagram to our port 546 from ``src``."""
        self.stats["d6c_received"] += 1
        try:
            m = c.parse(data)
        except ParseError:
            self.stats["d6c_malformed"] += 1
            return
        if isinstance(m, c.RelayMessage):
            self.stats["d6c_malformed"] += 1
            return
        if m.msg_type == c.MsgType.RECONFIGURE:
            self._reconfigure(m, data, now)
            return
        ex = self.ex
        if ex is None or m.xid != ex.xid:
            self.stats["d6c_badxid"] += 1
            return
        cid = m.get(c.ClientId)
        if not isinstance(cid, c.ClientId) or cid.duid != self.duid:
            self.stats["d6c_badclientid"] += 1
            return
        sid = m.get(c.ServerId)
        if not isinstance(sid, c.ServerId):
            self.stats["d6c_noserverid"] += 1
            return
        self._max_rt(m)
        if m.msg_type == c.MsgType.ADVERTISE and ex.kind == "solicit":
            self._advertise(m, now)
        elif m.msg_type == c.MsgType.REPLY:
            self.stats["d6c_reply"] += 1
            self._reply(m, src, now)

    def declined_address(self, addr: IPv6Address, now: float) -> None:
        """The node found ``addr`` duplicated (DAD): Decline it (§18.2.8)."""
        lease = self.lease
        if lease is None:
            return
        for iaid, ia in list(lease.na.items()):
            mine = [a for a in ia.options if isinstance(a, c.IaAddr) and a.addr == addr]
            if not mine:
                continue
            rest = tuple(o for o in ia.options if o not in mine)
            lease.na[iaid] = c.IaNa(ia.iaid, ia.t1, ia.t2, rest)
            self.declined.append(addr)
            self.stats["d6c_decline"] += 1
            opts = (c.IaNa(iaid, 0, 0, (c.IaAddr(addr, 0, 0),)),)
            self._begin("decline", c.MsgType.DECLINE, DECLINE, now, server=lease.server,
                        options=opts, dst=self._dst(lease))
            return
        for iaid, ta in list(lease.ta.items()):
            if not any(a.addr == addr for a in ta.addresses):
                continue
            lease.ta[iaid] = c.IaTa(iaid, tuple(o for o in ta.options if not (
                isinstance(o, c.IaAddr) and o.addr == addr)))
            self.declined.append(addr)
            self.stats["d6c_decline"] += 1
            self._begin("decline", c.MsgType.DECLINE, DECLINE, now, server=lease.server,
                        options=(c.IaTa(iaid, (c.IaAddr(addr, 0, 0),)),),
                        dst=self._dst(lease))
            return

    def release(self, now: float) -> None:
        """Release every binding (shutdown, §18.2.7)."""
        lease = self.lease
        if lease is None:
            return
        self.stats["d6c_release"] += 1
        opts: list[c.Option] = [c.IaNa(i, 0, 0, tuple(a for a in ia.options
                                                       if isinstance(a, c.IaAddr)))
                                for i, ia in lease.na.items()]
        opts += [c.IaPd(i, 0, 0, tuple(p for p in ia.options if isinstance(p, c.IaPrefix)))
                 for i, ia in lease.pd.items()]
        opts += [c.IaTa(i, tuple(a for a in ia.options if isinstance(a, c.IaAddr)))
                 for i, ia in lease.ta.items()]
        self._drop_lease()
        self.mode = "released"
        self._begin("release", c.MsgType.RELEASE, RELEASE, now, server=lease.server,
                    options=tuple(opts), dst=self._dst(lease))

    # --- outputs -------------------------------------------------------------------------

    def poll(self, now: float) -> list[Send]:
        ex = self.ex
        if ex is not None and ex.kind == "solicit" and ex.advertises and \
                now >= ex.collect_until:
            self._choose(now)
        lease = self.lease
        if lease is not None and (self.ex is None or self.ex.kind in ("renew", "rebind")):
            if now >= lease.expire:
                self._expire(now)
            elif now >= lease.t2 and (self.ex is None or self.ex.kind == "renew"):
                self._begin("rebind", c.MsgType.REBIND, REBIND, now,
                            mrd=lease.expire - now, options=self._ia_options(lease))
            elif now >= lease.t1 and self.ex is None:
                self._begin("renew", c.MsgType.RENEW, RENEW, now, server=lease.server,
                            mrd=lease.t2 - now, options=self._ia_options(lease),
                            dst=self._dst(lease))
        if self.refresh_at is not None and now >= self.refresh_at and self.ex is None:
            self.refresh_at = None
            self._info_request(now)
        ex = self.ex
        if ex is not None and now >= ex.next_send:
            self._transmit(ex, now)
        out, self._out = self._out, []
        return out

    def next_deadline(self) -> float | None:
        ts: list[float] = []
        ex = self.ex
        if ex is not None:
            ts.append(ex.next_send)
            if ex.kind == "solicit" and ex.advertises:
                ts.append(ex.collect_until)
        lease = self.lease
        if lease is not None:
            ts.append(lease.expire)
            if self.ex is None:
                ts.append(lease.t1)
            elif self.ex.kind == "renew":
                ts.append(lease.t2)
        if self.refresh_at is not None:
            ts.append(self.refresh_at)
        if self._out:
            return 0.0
        return min(ts) if ts else None

    # --- exchanges -----------------------------------------------------------------------

    def _rand(self) -> float:
        return self.rng.uniform(-0.1, 0.1)

    def _begin(self, kind: str, msg_type: int, timing: Timing, now: float, *,
               server: bytes = b"", mrd: float = 0.0,
               options: tuple[c.Option, ...] = (),
               dst: IPv6Address = ALL_DHCP_RELAY_AGENTS_AND_SERVERS) -> None:
        delay = self.rng.uniform(0, timing.max_delay) if timing.max_delay else 0.0
        self.ex = _Exchange(kind, msg_type, timing, self.rng.getrandbits(24), now + delay,
                            now + delay, mrd=mrd or timing.mrd, server=server, options=options,
                            dst=dst)

    @staticmethod
    def _dst(lease: _Lease | None) -> IPv6Address:
        """Request, Renew, Release and Decline go to the server's unicast
        address when it sent a Server Unicast option (§18.4, §21.12)."""
        if lease is not None and lease.unicast is not None:
            return lease.unicast
        return ALL_DHCP_RELAY_AGENTS_AND_SERVERS

    def _solicit(self, now: float) -> None:
        opts: list[c.Option] = [c.IaNa(i) for i in self.ia_na]
        opts += [c.IaPd(i, 0, 0, () if h is None else (c.IaPrefix(h, 0, 0),))
                 for i, h in self.ia_pd]
        opts += [c.IaTa(i) for i in self.ia_ta]
        if self.rapid_commit:
            opts.append(c.RapidCommit())
        timing = SOLICIT if self.sol_max_rt == SOLICIT.mrt else \
            Timing(SOLICIT.irt, self.sol_max_rt, 0, 0, SOLICIT.max_delay)
        self._begin("solicit", c.MsgType.SOLICIT, timing, now, options=tuple(opts))

    def _info_request(self, now: float) -> None:
        timing = INFO if self.inf_max_rt == INFO.mrt else \
            Timing(INFO.irt, self.inf_max_rt, 0, 0, INFO.max_delay)
        self._begin("info", c.MsgType.INFORMATION_REQUEST, timing, now)

    def _ia_options(self, lease: _Lease) -> tuple[c.Option, ...]:
        opts: list[c.Option] = [c.IaNa(i, 0, 0, tuple(
            c.IaAddr(a.addr, 0, 0) for a in ia.options if isinstance(a, c.IaAddr)))
            for i, ia in lease.na.items()]
        opts += [c.IaPd(i, 0, 0, tuple(c.IaPrefix(p.prefix, 0, 0) for p in ia.options
                                       if isinstance(p, c.IaPrefix)))
                 for i, ia in lease.pd.items()]
        opts += [c.IaTa(i, tuple(c.IaAddr(a.addr, 0, 0) for a in ia.addresses))
                 for i, ia in lease.ta.items()]
        return tuple(opts)

    def _transmit(self, ex: _Exchange, now: float) -> None:
        t = ex.timing
        if ex.count and ((t.mrc and ex.count >= t.mrc) or
                         (ex.mrd and now - ex.start >= ex.mrd)):
            self._give_up(ex, now)
            return
        # §15: RT for the first try and after
        if ex.count == 0:
            r = self._rand()
            if ex.kind == "solicit":
                r = abs(r) or 0.01   # strictly greater than IRT (§18.2.1)
            ex.rt = t.irt + r * t.irt
            if ex.kind == "solicit":
                ex.collect_until = now + ex.rt
        else:
            ex.rt = 2 * ex.rt + self._rand() * ex.rt
            if t.mrt and ex.rt > t.mrt:
                ex.rt = t.mrt + self._rand() * t.mrt
            self.stats["d6c_retrans"] += 1
        if ex.mrd:
            ex.rt = min(ex.rt, max(0.0, ex.start + ex.mrd - now))
        ex.count += 1
        ex.next_send = now + ex.rt
        elapsed = 0 if ex.count == 1 else round((now - ex.start) * 100)
        opts: list[c.Option] = [c.ClientId(self.duid)]
        if ex.server and ex.msg_type not in (c.MsgType.REBIND, c.MsgType.SOLICIT,
                                             c.MsgType.INFORMATION_REQUEST,
                                             c.MsgType.CONFIRM):
            opts.append(c.ServerId(ex.server))
        opts.append(c.ElapsedTime(min(elapsed, 0xFFFF)))
        opts.extend(ex.options)
        if ex.msg_type in (c.MsgType.SOLICIT, c.MsgType.REQUEST, c.MsgType.RENEW,
                           c.MsgType.REBIND, c.MsgType.INFORMATION_REQUEST):
            oro = list(self.request)
            if ex.msg_type == c.MsgType.SOLICIT:
                oro.append(c.OPT_SOL_MAX_RT)
            if ex.msg_type != c.MsgType.INFORMATION_REQUEST:
                # servers such as ISC dhcpd send a Server Unicast option only
                # when it is asked for
                oro.append(c.OPT_UNICAST)
            if ex.msg_type == c.MsgType.INFORMATION_REQUEST:
                oro += [c.OPT_INFORMATION_REFRESH_TIME, c.OPT_INF_MAX_RT]
            if oro:
                opts.append(c.OptionRequest(tuple(dict.fromkeys(oro))))
            if self.reconfigure and ex.msg_type != c.MsgType.INFORMATION_REQUEST:
                opts.append(c.ReconfAccept())
        self.stats["d6c_sent"] += 1
        if ex.dst != ALL_DHCP_RELAY_AGENTS_AND_SERVERS:
            self.stats["d6c_unicast"] += 1
        self._out.append(Send(c.Message(ex.msg_type, ex.xid, tuple(opts)).build(), ex.dst))

    def _give_up(self, ex: _Exchange, now: float) -> None:
        self.stats["d6c_giveup"] += 1
        self.ex = None
        if ex.kind == "confirm":
            # §18.2.3: no answer, so no server says otherwise: keep the lease
            self._confirmed(None, now)
            return
        if ex.kind == "request" or ex.kind == "decline" and self.lease is not None and \
                not any(ia.addresses for ia in self.lease.na.values()):
            self._solicit(now)
        # renew -> rebind at T2, rebind -> expiry: poll() sees the lease's times

    def _max_rt(self, m: c.Message) -> None:
        s = m.get(c.SolMaxRt)
        if isinstance(s, c.SolMaxRt) and 60 <= s.seconds <= 86400:
            self.sol_max_rt = float(s.seconds)
        i = m.get(c.InfMaxRt)
        if isinstance(i, c.InfMaxRt) and 60 <= i.seconds <= 86400:
            self.inf_max_rt = float(i.seconds)

    def _advertise(self, m: c.Message, now: float) -> None:
        ex = self.ex
        assert ex is not None
        self.stats["d6c_advertise"] += 1
        st = m.get(c.StatusCode)
        if isinstance(st, c.StatusCode) and st.status == c.Status.NO_ADDRS_AVAIL:
            self.stats["d6c_noaddrs"] += 1
            return
        if not self._useful(m):
            self.stats["d6c_noaddrs"] += 1
            return
        pref_o = m.get(c.Preference)
        pref = pref_o.value if isinstance(pref_o, c.Preference) else 0
        if len(ex.advertises) < MAX_ADVERTISES:
            ex.advertises.append((pref, -len(ex.advertises), m))
        if pref == 255 or ex.count > 1:
            self._choose(now)

    def _useful(self, m: c.Message) -> bool:
        for o in m.options:
            if isinstance(o, c.IaNa) and o.addresses and (o.status is None or
                                                          o.status.status == 0):
                return True
            if isinstance(o, c.IaPd) and o.prefixes and (o.status is None or
                                                         o.status.status == 0):
                return True
            if isinstance(o, c.IaTa) and o.addresses and (o.status is None or
                                                          o.status.status == 0):
                return True
        return False

    def _choose(self, now: float) -> None:
        ex = self.ex
        assert ex is not None
        best = max(ex.advertises, key=lambda t: (t[0], t[1]))[2]
        sid = best.get(c.ServerId)
        assert isinstance(sid, c.ServerId)
        opts: list[c.Option] = []
        for o in best.options:
            if isinstance(o, c.IaNa) and o.iaid in self.ia_na:
                opts.append(c.IaNa(o.iaid, 0, 0, tuple(c.IaAddr(a.addr, 0, 0)
                                                       for a in o.addresses)))
            elif isinstance(o, c.IaPd) and o.iaid in dict(self.ia_pd):
                opts.append(c.IaPd(o.iaid, 0, 0, tuple(c.IaPrefix(p.prefix, 0, 0)
                                                       for p in o.prefixes)))
            elif isinstance(o, c.IaTa) and o.iaid in self.ia_ta:
                opts.append(c.IaTa(o.iaid, tuple(c.IaAddr(a.addr, 0, 0)
                                                 for a in o.addresses)))
        # the Request goes by multicast even when the Advertise granted unicast:
        # before the Reply the client has no address of sufficient scope for
        # the server to answer (RFC 3315 §18.1.1); Renew, Release and Decline
        # use the Reply's Server Unicast option
        self._begin("request", c.MsgType.REQUEST, REQUEST, now, server=sid.duid,
                    options=tuple(opts))

    @staticmethod
    def _unicast_ok(a: IPv6Address) -> bool:
        return not (a.is_multicast or a.is_unspecified or a.is_loopback or a.is_link_local
                    or a.ipv4_mapped is not None)

    def _reply(self, m: c.Message, src: IPv6Address, now: float) -> None:
        ex = self.ex
        assert ex is not None
        sid = m.get(c.ServerId)
        assert isinstance(sid, c.ServerId)
        st = m.get(c.StatusCode)
        if isinstance(st, c.StatusCode) and st.status == c.Status.USE_MULTICAST:
            # §18.2.10: the server wants multicast: send the same again that way
            self.stats["d6c_usemulticast"] += 1
            if self.lease is not None:
                self.lease.unicast = None
            if ex.dst != ALL_DHCP_RELAY_AGENTS_AND_SERVERS:
                self._begin(ex.kind, ex.msg_type, ex.timing, now, server=ex.server,
                            mrd=ex.mrd, options=ex.options)
            return
        if ex.kind == "confirm":
            self.ex = None
            ok = not (isinstance(st, c.StatusCode) and st.status != c.Status.SUCCESS)
            if not ok:
                self.stats["d6c_notonlink"] += 1
            self._dns(m)
            self._confirmed(ok, now)
            return
        self._dns(m)
        if ex.kind == "info":
            self.ex = None
            rt = m.get(c.InfoRefreshTime)
            refresh = float(IRT_DEFAULT)
            if isinstance(rt, c.InfoRefreshTime):
                refresh = max(float(IRT_MINIMUM), float(rt.seconds))
            self.refresh_at = now + refresh
            self.events.append(InfoReceived(self.ifname, self.dns, self.domains, refresh))
            return
        if ex.kind in ("release", "decline"):
            self.ex = None
            if ex.kind == "decline" and self.lease is not None and \
                    not any(ia.addresses for ia in self.lease.na.values()):
                self._solicit(now)
            return
        if ex.kind == "solicit" and not (self.rapid_commit and
                                         isinstance(m.get(c.RapidCommit), c.RapidCommit)):
            return
        if isinstance(st, c.StatusCode) and st.status != c.Status.SUCCESS:
            self.stats["d6c_noaddrs"] += 1
            if ex.kind in ("request", "solicit"):
                self._solicit(now)
            return
        self._auth_key(m)
        na: dict[int, c.IaNa] = {}
        pd: dict[int, c.IaPd] = {}
        ta: dict[int, c.IaTa] = {}
        renew_again = False
        for o in m.options:
            if isinstance(o, c.IaNa) and o.iaid in self.ia_na:
                if o.status is not None and o.status.status != 0:
                    if o.status.status == c.Status.NO_BINDING:
                        renew_again = True
                    continue
                addrs = tuple(a for a in o.addresses if a.valid and a.preferred <= a.valid
                              and (a.status is None or a.status.status == 0)
                              and self._usable(a.addr))[:MAX_PER_IA]
                if addrs:
                    na[o.iaid] = c.IaNa(o.iaid, o.t1, o.t2, addrs)
            elif isinstance(o, c.IaPd) and o.iaid in dict(self.ia_pd):
                if o.status is not None and o.status.status != 0:
                    if o.status.status == c.Status.NO_BINDING:
                        renew_again = True
                    continue
                pfx = tuple(p for p in o.prefixes if p.valid and p.preferred <= p.valid
                            and self._usable(p.prefix))[:MAX_PER_IA]
                if pfx:
                    pd[o.iaid] = c.IaPd(o.iaid, o.t1, o.t2, pfx)
            elif isinstance(o, c.IaTa) and o.iaid in self.ia_ta:
                if o.status is not None and o.status.status != 0:
                    if o.status.status == c.Status.NO_BINDING:
                        renew_again = True
                    continue
                taddrs = tuple(a for a in o.addresses if a.valid and a.preferred <= a.valid
                               and (a.status is None or a.status.status == 0)
                               and self._usable(a.addr))[:MAX_PER_IA]
                if taddrs:
                    ta[o.iaid] = c.IaTa(o.iaid, taddrs)
        if not na and not pd and not ta:
            self.stats["d6c_noaddrs"] += 1
            if ex.kind in ("request", "solicit"):
                self.ex = None
                self._solicit(now)
            elif renew_again:
                self.ex = None
                self._request_again(now)
            return
        self.ex = None
        uc = m.get(c.Unicast)
        unicast = uc.addr if isinstance(uc, c.Unicast) and self._unicast_ok(uc.addr) else None
        self._bind(sid.duid, src, na, pd, now, rapid=ex.kind == "solicit", ta=ta,
                   unicast=unicast)

    def unicast_unreachable(self, now: float) -> None:
        """The node could not send to the server's unicast address (no route,
        no source of its scope): forget it and send the exchange again by
        multicast, as after a UseMulticast status."""
        ex = self.ex
        if self.lease is not None:
            self.lease.unicast = None
        if ex is not None and ex.dst != ALL_DHCP_RELAY_AGENTS_AND_SERVERS:
            self.stats["d6c_usemulticast"] += 1
            self._begin(ex.kind, ex.msg_type, ex.timing, now, server=ex.server, mrd=ex.mrd,
                        options=ex.options)

    def _confirmed(self, ok: bool | None, now: float) -> None:
        lease = self.lease
        self.events.append(Confirmed(self.ifname, ok))
        if lease is None:
            return
        if ok is False:
            self._drop_lease()
            self._solicit(now)
            return
        self.events.append(self._bound_event(lease))

    def _usable(self, v: IPv6Address | IPv6Network) -> bool:
        """A unicast address or prefix a node may configure: not multicast,
        link-local, loopback, unspecified, IPv4-mapped, nor a prefix shorter
        than /16 (a hostile server's ::/0 is counted, ``d6c_badaddr``)."""
        a = v if isinstance(v, IPv6Address) else v.network_address
        ok = not (a.is_multicast or a.is_link_local or a.is_loopback or a.is_unspecified
                  or a.ipv4_mapped is not None)
        if isinstance(v, IPv6Network) and v.prefixlen < 16:
            ok = False
        if not ok:
            self.stats["d6c_badaddr"] += 1
        return ok

    def _request_again(self, now: float) -> None:
        lease = self.lease
        if lease is None:
            self._solicit(now)
            return
        self._begin("request", c.MsgType.REQUEST, REQUEST, now, server=lease.server,
                    options=self._ia_options(lease))

    def _bind(self, server: bytes, src: IPv6Address, na: dict[int, c.IaNa],
              pd: dict[int, c.IaPd], now: float, rapid: bool,
              ta: dict[int, c.IaTa] | None = None, unicast: IPv6Address | None = None) -> None:
        ta = ta or {}
        valids = [a.valid for ia in na.values() for a in ia.addresses] + \
            [p.valid for ia in pd.values() for p in ia.prefixes] + \
            [a.valid for ia in ta.values() for a in ia.addresses]
        prefs = [a.preferred for ia in na.values() for a in ia.addresses] + \
            [p.preferred for ia in pd.values() for p in ia.prefixes] + \
            [a.preferred for ia in ta.values() for a in ia.addresses]
        ias: list[c.IaNa | c.IaPd] = [*na.values(), *pd.values()]
        t1s = [ia.t1 for ia in ias if ia.t1]
        t2s = [ia.t2 for ia in ias if ia.t2]
        shortest = float(min(prefs)) if prefs else 3600.0
        # §21.4: T1/T2 of 0 leave the times to the client: 0.5 and 0.8 of the shortest preferred
        t1 = float(min(t1s)) if t1s else 0.5 * shortest
        t2 = float(min(t2s)) if t2s else 0.8 * shortest
        if t1 > t2:
            t1 = 0.5 * t2
        expire = max(valids) if valids else 0
        old = self.lease
        self.lease = _Lease(server, src, na, pd, now, now + t1, now + t2,
                            now + min(float(expire), 2.0 ** 32), ta, unicast)
        if 0xFFFFFFFF in t1s:
            self.lease.t1 = float("inf")
        if 0xFFFFFFFF in t2s:
            self.lease.t2 = float("inf")
        if expire == 0xFFFFFFFF:
            self.lease.expire = float("inf")
        if old is not None:
            gone_a = {a.addr for a in _addrs(old.na, old.ta)} - \
                {a.addr for a in _addrs(na, ta)}
            gone_p = {p.prefix for ia in old.pd.values() for p in ia.prefixes} - \
                {p.prefix for ia in pd.values() for p in ia.prefixes}
            if gone_a or gone_p:
                self.events.append(Expired(self.ifname, tuple(gone_a), tuple(gone_p)))
        self.events.append(self._bound_event(self.lease, rapid))

    def _bound_event(self, lease: _Lease, rapid: bool = False) -> Bound:
        return Bound(self.ifname, lease.server,
                     tuple(a for ia in lease.na.values() for a in ia.addresses),
                     tuple(p for ia in lease.pd.values() for p in ia.prefixes),
                     self.dns, self.domains, rapid,
                     tuple(a for ia in lease.ta.values() for a in ia.addresses))

    def _dns(self, m: c.Message) -> None:
        d = m.get(c.DnsServers)
        if isinstance(d, c.DnsServers):
            self.dns = d.servers[:8]
        s = m.get(c.DomainList)
        if isinstance(s, c.DomainList):
            self.domains = s.names[:6]

    def _drop_lease(self) -> None:
        lease = self.lease
        if lease is None:
            return
        self.lease = None
        self.events.append(Expired(
            self.ifname, tuple(a.addr for a in _addrs(lease.na, lease.ta)),
            tuple(p.prefix for ia in lease.pd.values() for p in ia.prefixes)))

    def _expire(self, now: float) -> None:
        self.stats["d6c_expired"] += 1
        self.ex = None
        self._drop_lease()
        self._solicit(now)

    # --- Reconfigure and RKAP (§18.2.11, §20.4) ------------------------------------------

    def _auth_key(self, m: c.Message) -> None:
        a = m.get(c.Auth)
        if isinstance(a, c.Auth) and a.protocol == RKAP_PROTOCOL and \
                a.algorithm == RKAP_HMAC_MD5 and len(a.info) == 17 and a.info[0] == RKAP_KEY:
            self.reconf_key = a.info[1:]

    def _reconfigure(self, m: c.Message, raw: bytes, now: float) -> None:
        self.stats["d6c_reconfigure"] += 1
        key, lease = self.reconf_key, self.lease
        cid = m.get(c.ClientId)
        a = m.get(c.Auth)
        rm = m.get(c.ReconfMsg)
        if key is None or not isinstance(a, c.Auth) or not isinstance(rm, c.ReconfMsg) or \
                not isinstance(cid, c.ClientId) or cid.duid != self.duid or \
                a.protocol != RKAP_PROTOCOL or a.algorithm != RKAP_HMAC_MD5 or \
                len(a.info) != 17 or a.info[0] != RKAP_HMAC or a.replay <= self.replay:
            self.stats["d6c_badauth"] += 1
            return
        if not hmac.compare_digest(rkap_digest(key, raw), a.info[1:]):
            self.stats["d6c_badauth"] += 1
            return
        self.replay = a.replay
        if self.ex is not None:
            return  # §18.2.11: ignored while an exchange is in progress
        if rm.msg_type == c.MsgType.RENEW and lease is not None:
            self._begin("renew", c.MsgType.RENEW, RENEW, now, server=lease.server,
                        mrd=max(1.0, lease.t2 - now), options=self._ia_options(lease),
                        dst=self._dst(lease))
        elif rm.msg_type == c.MsgType.REBIND and lease is not None:
            self._begin("rebind", c.MsgType.REBIND, REBIND, now,
                        mrd=max(1.0, lease.expire - now), options=self._ia_options(lease))
        elif rm.msg_type == c.MsgType.INFORMATION_REQUEST:
            self._info_request(now)


def _addrs(na: dict[int, c.IaNa], ta: dict[int, c.IaTa]) -> list[c.IaAddr]:
    return [a for ia in na.values() for a in ia.addresses] + \
        [a for t in ta.values() for a in t.addresses]


def rkap_digest(key: bytes, raw: bytes) -> bytes:
    """HMAC-MD5 over the message with the Authentication option's digest zeroed
    (RFC 8415 §20.4.3). ``raw`` must hold one well-formed AUTH option."""
    b = bytearray(raw)
    i = 4
    while i + 4 <= len(b):
        code = int.from_bytes(b[i:i + 2], "big")
        ln = int.from_bytes(b[i + 2:i + 4], "big")
        if code == c.OPT_AUTH and ln == 11 + 17:
            b[i + 4 + 12:i + 4 + 28] = bytes(16)
            break
        i += 4 + ln
    return hmac.new(key, bytes(b), hashlib.md5).digest()
