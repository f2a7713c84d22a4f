"""RFC 6146 §3.1-3.5: the Binding Information Bases and session tables of
a stateful NAT64, sans-I/O (every call takes ``now``).

A BIB entry binds an IPv6 transport address ``(X6, x)`` to an IPv4 one
``(T4, t)`` from the pool, per protocol (TCP, UDP, ICMP identifiers); a
session is a BIB entry talking to one remote ``(Y4, y)``. Both tables are
bounded: a new flow past ``max_bib``/``max_sessions`` is refused and
counted, never grown. Lifetimes are RFC 6146 §4's: UDP 5 min (at least 2),
TCP established 2 h 4 min, TCP transitory 4 min, ICMP 60 s; TCP sessions
follow the §3.5.2.2 state machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from ipaddress import IPv4Address, IPv6Address

__all__ = ["TIMEOUTS", "Bib", "Nat64State", "Session", "TcpState"]

PROTO_ICMP, PROTO_TCP, PROTO_UDP = 1, 6, 17
TH_FIN, TH_SYN, TH_RST = 0x01, 0x02, 0x04

#: RFC 6146 §4 defaults, seconds.
TIMEOUTS: dict[str, float] = {
    "udp": 300.0,          # UDP_Min 2 min, default 5 min
    "tcp_est": 7440.0,     # TCP_EST 2 h 4 min
    "tcp_trans": 240.0,    # TCP_TRANS 4 min
    "tcp_incoming_syn": 6.0,  # TCP_INCOMING_SYN
    "icmp": 60.0,          # ICMP_DEFAULT
}


class TcpState(Enum):
    """RFC 6146 §3.5.2.2 (Figure 4)."""

    CLOSED = "CLOSED"
    V6_INIT = "V6 INIT"
    V4_INIT = "V4 INIT"
    ESTABLISHED = "ESTABLISHED"
    V6_FIN_RCV = "V6 FIN RCV"
    V4_FIN_RCV = "V4 FIN RCV"
    V6_FIN_V4_FIN = "V6 FIN + V4 FIN RCV"
    TRANS = "TRANS"


@dataclass
class Bib:
    proto: int
    x6: IPv6Address
    x: int
    t4: IPv4Address
    t: int
    sessions: int = 0
    static: bool = False


@dataclass
class Session:
    bib: Bib
    y4: IPv4Address
    y: int
    expires: float
    state: TcpState = TcpState.CLOSED


@dataclass
class Nat64State:
    """BIBs and sessions. ``pool`` the IPv4 addresses to bind from;
    ``ports`` the port (identifier) range handed out; ``adf`` address-
    dependent filtering (RFC 6146 §3.5.2.2; else endpoint-independent)."""

    pool: list[IPv4Address]
    ports: tuple[int, int] = (1024, 65535)
    max_bib: int = 4096
    max_sessions: int = 16384
    adf: bool = True
    timeouts: dict[str, float] = field(default_factory=lambda: dict(TIMEOUTS))
    stats: dict[str, int] = field(default_factory=dict)
    by6: dict[tuple[int, IPv6Address, int], Bib] = field(default_factory=dict)
    by4: dict[tuple[int, IPv4Address, int], Bib] = field(default_factory=dict)
    sessions: dict[tuple[int, IPv4Address, int, IPv4Address, int], Session] = field(default_factory=dict)
    _next: int = 0

    def __post_init__(self) -> None:
        if not self.pool:
            raise ValueError("a NAT64 needs at least one IPv4 pool address")
        lo, hi = self.ports
        if not 1 <= lo <= hi <= 65535:
            raise ValueError("ports must be 1 <= lo <= hi <= 65535")
        if self.max_bib < 1 or self.max_sessions < 1:
            raise ValueError("table bounds must be positive")

    def inc(self, name: str) -> None:
        self.stats[name] = self.stats.get(name, 0) + 1

    # --- BIB ---------------------------------------------------------------
    def _free(self, proto: int, want: int) -> tuple[IPv4Address, int] | None:
        """A free (T4, t): the host's own port when free (RFC 6146 §3.5.1.1
        prefers port preservation), else the next free one in the range."""
        lo, hi = self.ports
        if lo <= want <= hi:
            for t4 in self.pool:
                if (proto, t4, want) not in self.by4:
                    return t4, want
        span = hi - lo + 1
        for _ in range(min(span * len(self.pool), 65536)):
            i = self._next
            self._next += 1
            t4 = self.pool[(i // span) % len(self.pool)]
            t = lo + i % span
            if (proto, t4, t) not in self.by4:
                return t4, t
        return None

    def bib_for6(self, proto: int, x6: IPv6Address, x: int) -> Bib | None:
        """The BIB entry of an outgoing flow, made when missing (or None,
        counted, when the table is full or the pool spent)."""
        b = self.by6.get((proto, x6, x))
        if b is not None:
            return b
        if len(self.by6) >= self.max_bib:
            self.inc("nat64_bib_full")
            return None
        free = self._free(proto, x)
        if free is None:
            self.inc("nat64_pool_exhausted")
            return None
        b = Bib(proto, x6, x, free[0], free[1])
        self.by6[(proto, x6, x)] = b
        self.by4[(proto, b.t4, b.t)] = b
        self.inc("nat64_bib_created")
        return b

    def add_static(self, proto: int, x6: IPv6Address, x: int, t4: IPv4Address, t: int) -> Bib:
        """A manual BIB entry: never expires, and IPv4 hosts may open
        sessions to it under address-dependent filtering (a server)."""
        if not (0 <= x <= 65535 and 0 <= t <= 65535):
            raise ValueError("ports are 0..65535")
        if (proto, x6, x) in self.by6 or (proto, t4, t) in self.by4:
            raise ValueError("that binding exists already")
        if len(self.by6) >= self.max_bib:
            raise ValueError("the BIB is full")
        b = Bib(proto, x6, x, t4, t, static=True)
        self.by6[(proto, x6, x)] = b
        self.by4[(proto, t4, t)] = b
        return b

    # --- sessions ----------------------------------------------------------
    def _lifetime(self, s: Session) -> float:
        if s.bib.proto == PROTO_UDP:
            return max(self.timeouts["udp"], 120.0)
        if s.bib.proto == PROTO_ICMP:
            return self.timeouts["icmp"]
        if s.state == TcpState.ESTABLISHED:
            return self.timeouts["tcp_est"]
        if s.state == TcpState.V4_INIT:
            return self.timeouts["tcp_incoming_syn"]
        return self.timeouts["tcp_trans"]

    def _new_session(self, b: Bib, y4: IPv4Address, y: int, now: float) -> Session | None:
        if len(self.sessions) >= self.max_sessions:
            self.inc("nat64_session_full")
            return None
        s = Session(b, y4, y, now)
        self.sessions[(b.proto, b.t4, b.t, y4, y)] = s
        b.sessions += 1
        self.inc("nat64_session_created")
        return s

    def _tcp(self, s: Session, flags: int, from6: bool) -> None:
        """RFC 6146 §3.5.2.2 transitions for one segment."""
        st = s.state
        syn, fin, rst = flags & TH_SYN, flags & TH_FIN, flags & TH_RST
        if st == TcpState.CLOSED:
            s.state = TcpState.V6_INIT if from6 else TcpState.V4_INIT
        elif st == TcpState.V6_INIT and syn and not from6 or st == TcpState.V4_INIT and syn and from6:
            s.state = TcpState.ESTABLISHED
        elif st == TcpState.ESTABLISHED:
            if fin:
                s.state = TcpState.V6_FIN_RCV if from6 else TcpState.V4_FIN_RCV
            elif rst:
                s.state = TcpState.TRANS
        elif st == TcpState.V6_FIN_RCV and fin and not from6 or st == TcpState.V4_FIN_RCV and fin and from6:
            s.state = TcpState.V6_FIN_V4_FIN
        elif st == TcpState.TRANS and not rst:
            s.state = TcpState.ESTABLISHED

    def out6(self, proto: int, x6: IPv6Address, x: int, y4: IPv4Address, y: int,
             tcp_flags: int, now: float) -> Bib | None:
        """An IPv6 → IPv4 packet of flow (X6,x)→(Y4,y): its BIB entry with
        the session made or refreshed (RFC 6146 §3.5.1, §3.5.2, §3.5.3)."""
        key6 = (proto, x6, x)
        if proto == PROTO_TCP and key6 not in self.by6 and not tcp_flags & TH_SYN:
            self.inc("nat64_tcp_nosyn")  # §3.5.2.2: only a SYN opens a binding
            return None
        b = self.bib_for6(proto, x6, x)
        if b is None:
            return None
        s = self.sessions.get((proto, b.t4, b.t, y4, y))
        if s is None:
            s = self._new_session(b, y4, y, now)
            if s is None:
                return None
        if proto == PROTO_TCP:
            self._tcp(s, tcp_flags, True)
        s.expires = now + self._lifetime(s)
        return b

    def in4(self, proto: int, y4: IPv4Address, y: int, t4: IPv4Address, t: int,
            tcp_flags: int, now: float) -> Bib | None:
        """An IPv4 → IPv6 packet of flow (Y4,y)→(T4,t): the BIB entry it
        belongs to, or None (no binding, or filtered), counted."""
        b = self.by4.get((proto, t4, t))
        if b is None:
            self.inc("nat64_nobib")
            return None
        s = self.sessions.get((proto, t4, t, y4, y))
        if s is None:
            if self.adf and not b.static and not any(k[0] == proto and k[1] == t4 and k[2] == t and k[3] == y4
                                    for k in self.sessions):
                self.inc("nat64_filtered")
                return None
            s = self._new_session(b, y4, y, now)
            if s is None:
                return None
        if proto == PROTO_TCP:
            self._tcp(s, tcp_flags, False)
        s.expires = now + self._lifetime(s)
        return b

    def expire(self, now: float) -> int:
        """Drop sessions past their lifetime and BIB entries left without
        sessions; returns how many sessions went."""
        gone = [k for k, s in self.sessions.items() if s.expires <= now]
        for k in gone:
            s = self.sessions.pop(k)
            s.bib.sessions -= 1
            if s.bib.sessions <= 0 and not s.bib.static:
                b = s.bib
                self.by6.pop((b.proto, b.x6, b.x), None)
                self.by4.pop((b.proto, b.t4, b.t), None)
        if gone:
            self.stats["nat64_session_expired"] = self.stats.get("nat64_session_expired", 0) + len(gone)
        return len(gone)

    def next_expiry(self) -> float | None:
        return min((s.expires for s in self.sessions.values()), default=None)
