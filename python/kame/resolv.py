"""A stub resolver (seed §1.17) over the node's own sockets.

The core is sans-I/O, as the rest of kame: :class:`Query` is one question
asked of the configured servers, fed with datagrams, stream bytes and the
time, and says what to send and when it next wants to be woken;
:class:`Cache` keeps answers and negative answers (RFC 2308) within a
bound; :class:`ResolvConf` is resolv.conf. :class:`Client` is the small
driver over a socket factory with the interface of Python's :mod:`socket`
(a :class:`kame.socket.blocking.Stack`, i.e. the node's sockets; or the
host's module in tests) and what :class:`kame.netdb.Resolver` calls after
its hosts file (``Resolver(dns=Client(...))``).

What a query does (BSD ``res_send``, RFC 5452, RFC 6891):

- every try has a fresh random ID and a fresh random source port;
- a reply is taken only from the server's address (and zone) and port 53
  (the server's port), to the try's port, with the try's ID, QR set and
  the question asked, case aside; anything else is a counted drop
  (:data:`STATS`: ``rs_badsrc``, ``rs_badid``, ``rs_badquestion``,
  ``rs_malformed``...) and the try keeps waiting until its own deadline, so
  a flood of spoofed replies costs parsing work only (each datagram is
  bounded by its size) and never extends a try. After :data:`MAX_SPOOF`
  dropped replies in one try that try is asked again over TCP of the same
  server (``rs_spoofflood``; once per try), where a blind spoofer cannot
  follow and datagrams are no longer read;
- an EDNS0 OPT record advertises :attr:`ResolvConf.payload` octets
  (1232 by default); FORMERR to an EDNS query is asked again without it
  (RFC 6891 §7);
- TC=1 asks the same server again over TCP (RFC 7766), the reply read
  through a 2-octet length (so at most 65535 octets);
- SERVFAIL, REFUSED, NOTIMP and malformed-but-matching answers go to the
  next server; ``attempts`` rounds over the servers (``rotate`` starts each
  query at the next one), ``timeout`` seconds per try.

Answers follow CNAME chains inside the answer (at most :data:`MAX_CNAME`
links; a loop ends the chain, ``rs_cnameloop``). A6 records and binary
labels are reported in :attr:`Answer.historic` and not followed.
"""

from __future__ import annotations

import enum
import errno
import os
import random
import select as _select
import socket as _hs
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address
from pathlib import Path
from typing import Any

from kame import dns
from kame.errors import ParseError

__all__ = ["STATS", "Answer", "Cache", "Client", "Query", "ResolvConf", "Send", "Server",
           "Status", "Urandom"]

MAXNS = 3          # resolv.h
MAXDNSRCH = 6
DNS64_LENGTHS = (32, 40, 48, 56, 64, 96)   # RFC 6052 §2.2
MAX_CNAME = 8
MAX_SPOOF = 64     # dropped replies in one try before the query goes to TCP
RESEND_GAP = 0.05  # least wait after a sibling query's answer before sending again
MAX_TTL = 86400    # cap on a cached answer
MAX_NEG_TTL = 10800  # RFC 2308 §5: one to three hours
Addr = IPv4Address | IPv6Address

#: Counters (the ``res_send`` diagnostics under BSD-style names).
STATS_NAMES = (
    "rs_queries",      # tries sent (UDP datagrams and TCP queries)
    "rs_answers",      # replies accepted
    "rs_badsrc",       # reply from an address or port not the server's ("not our server")
    "rs_badid",        # reply with another ID ("old answer")
    "rs_badquestion",  # reply to another question ("wrong query name")
    "rs_notresponse",  # QR clear
    "rs_malformed",    # reply that does not parse
    "rs_timeouts",     # tries that timed out
    "rs_tcpfallback",  # TC=1 answered over TCP
    "rs_spoofflood",   # tries moved to TCP after MAX_SPOOF drops
    "rs_servfail",     # SERVFAIL, REFUSED, NOTIMP: next server
    "rs_noedns",       # FORMERR to EDNS, asked again without it
    "rs_cnameloop",    # CNAME chain too long or looping
    "rs_historic",     # A6 records or binary labels seen (not followed)
    "rs_resent",       # a try sent again when its sibling's answer came and its own not
    "rs_cachehit",     # answers from the cache
    "rs_negcachehit",  # negative answers from the cache
    "rs_dns64",        # AAAA answers synthesized from A records (RFC 6147)
    "rs_dns64ptr",     # PTR of a synthesized address asked under in-addr.arpa
)


class ResStats(dict[str, int]):
    def __init__(self) -> None:
        super().__init__(dict.fromkeys(STATS_NAMES, 0))

    def inc(self, name: str, n: int = 1) -> None:
        if name not in self:
            raise KeyError(f"unknown counter {name!r}")
        self[name] += n


#: Process-wide counters; each :class:`Client` also has its own ``stats``.
STATS = ResStats()


class Urandom(random.SystemRandom):
    """:class:`random.SystemRandom` reading the kernel's generator 256
    octets at a time instead of once per draw (a lookup draws IDs and ports
    six times or so, half the ID draws being rejected by ``randrange``):
    every octet still comes from ``os.urandom`` and is used once; a forked
    child reads afresh rather than share its parent's octets."""

    POOL = 256

    def __init__(self) -> None:
        super().__init__()
        self._buf = b""
        self._pos = 0
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def _take(self, n: int) -> bytes:
        with self._lock:
            pid = os.getpid()
            if self._pos + n > len(self._buf) or pid != self._pid:
                self._buf, self._pos, self._pid = os.urandom(max(self.POOL, n)), 0, pid
            out = self._buf[self._pos:self._pos + n]
            self._pos += n
            return out

    def random(self) -> float:
        return (int.from_bytes(self._take(7), "big") >> 3) * 2.0 ** -53

    def getrandbits(self, k: int) -> int:
        if k < 0:
            raise ValueError("number of bits must be non-negative")
        n = (k + 7) // 8
        return int.from_bytes(self._take(n), "big") >> (n * 8 - k) if n else 0



_RNG = Urandom()   # the default draws of every Query and Client


# --- resolv.conf ---------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    addr: Addr
    port: int = 53
    zone: str = ""   # interface of a link-local server (``fe80::1%eth0``)

    def __str__(self) -> str:
        return f"{self.addr}{'%' + self.zone if self.zone else ''}"


@dataclass
class ResolvConf:
    """resolv.conf(5): ``nameserver`` (at most 3; IPv6 with ``%zone``),
    ``domain``/``search`` (the last one wins; at most 6 domains),
    ``options ndots:n timeout:n attempts:n rotate inet6 edns0``, and kame's
    ``dns64 PREFIX/LEN`` (RFC 6147 in the stub: AAAA synthesized from A
    with that RFC 6052 prefix, 32, 40, 48, 56, 64 or 96 bits) with
    ``dns64-exclude PREFIX/LEN ...`` (AAAA records in those ranges count as
    absent, RFC 6147 §5.1.4; ``::ffff:0:0/96`` by default). Lines that
    cannot be read are skipped, as libc does (which is why glibc, reading
    the same file, ignores the ``dns64`` lines)."""

    servers: list[Server] = field(default_factory=list)
    search: list[str] = field(default_factory=list)
    ndots: int = 1
    timeout: float = 5.0
    attempts: int = 2
    rotate: bool = False
    inet6: bool = False
    payload: int | None = 1232   # EDNS0 UDP payload advertised; None: no OPT
    #: 0x20 bits: each try asks the name in a random mix of upper and lower
    #: case and takes only a reply whose question echoes it exactly (a blind
    #: spoofer must guess the case too). Off by default: some servers and
    #: middleboxes do not keep the case.
    randomcase: bool = False
    #: DNS64 (RFC 6147 §5.5, in the stub resolver): the NAT64's RFC 6052
    #: prefix; None: off.
    dns64: IPv6Network | None = None
    #: AAAA records in these ranges are not real IPv6 answers (§5.1.4).
    dns64_exclude: tuple[IPv6Network, ...] = (IPv6Network("::ffff:0:0/96"),)

    def __post_init__(self) -> None:
        if self.dns64 is not None:
            if not isinstance(self.dns64, IPv6Network):
                raise TypeError(f"dns64 is an IPv6Network, not {type(self.dns64).__name__}")
            if self.dns64.prefixlen not in DNS64_LENGTHS:
                raise ValueError(f"dns64 prefix {self.dns64}: RFC 6052 allows /32, /40, "
                                 f"/48, /56, /64 or /96")

    @classmethod
    def parse(cls, text: str) -> ResolvConf:
        if not isinstance(text, str):
            raise TypeError(f"resolv.conf text is a str, not {type(text).__name__}")
        conf = cls()
        for line in text.splitlines():
            words = line.split("#", 1)[0].split(";", 1)[0].split()
            if not words:
                continue
            key, args = words[0], words[1:]
            if key == "nameserver" and args and len(conf.servers) < MAXNS:
                a, _, zone = args[0].partition("%")
                try:
                    addr = ip_address(a)
                except ValueError:
                    continue
                if zone and not isinstance(addr, IPv6Address):
                    continue
                conf.servers.append(Server(addr, 53, zone))
            elif key == "domain" and args:
                conf.search = [args[0].rstrip(".")]
            elif key == "search" and args:
                conf.search = [d.rstrip(".") for d in args[:MAXDNSRCH]]
            elif key == "dns64" and len(args) == 1:
                try:
                    net = IPv6Network(args[0])
                except ValueError:
                    continue
                if net.prefixlen in DNS64_LENGTHS:
                    conf.dns64 = net
            elif key == "dns64-exclude" and args:
                ex = []
                for w in args[:8]:
                    try:
                        ex.append(IPv6Network(w))
                    except ValueError:
                        continue
                conf.dns64_exclude = tuple(ex)
            elif key == "options":
                for opt in args:
                    name, _, val = opt.partition(":")
                    num = int(val) if val.isascii() and val.isdigit() else None
                    if name == "ndots" and num is not None:
                        conf.ndots = min(num, 15)
                    elif name == "timeout" and num is not None:
                        conf.timeout = float(min(max(num, 1), 30))
                    elif name == "attempts" and num is not None:
                        conf.attempts = min(max(num, 1), 5)
                    elif name == "rotate":
                        conf.rotate = True
                    elif name == "inet6":
                        conf.inet6 = True
                    elif name == "edns0":
                        conf.payload = conf.payload or 1232
        return conf

    @classmethod
    def load(cls, path: str | Path = "/etc/resolv.conf") -> ResolvConf:
        return cls.parse(Path(path).read_text())

    def with_rdnss(self, node: Any, now: float) -> ResolvConf:
        """This configuration with the servers the node learned from Router
        Advertisements (RDNSS, RFC 8106 §5.3.1) after its own, unexpired,
        link-local ones in the zone of the interface they came on, then those
        its DHCPv6 client learnt (``node.dhcp6c``, RFC 3646; its search list
        if this one has none); at most :data:`MAXNS` in all."""
        servers = list(self.servers)
        rtr = getattr(node, "rtr", None)
        for e in (getattr(rtr, "rdnss", {}) or {}).values():
            if e.expire <= now or len(servers) >= MAXNS:
                continue
            zone = e.ifname if e.server.is_link_local else ""
            srv = Server(e.server, 53, zone)
            if srv not in servers:
                servers.append(srv)
        search = list(self.search)
        # DHCPv6 (RFC 3646): servers and search list the node's dhcp6c learnt
        dhcp6c = getattr(node, "dhcp6c", None)
        for a in getattr(dhcp6c, "dns", ()):
            srv = Server(a, 53, getattr(dhcp6c, "ifname", "") if a.is_link_local else "")
            if len(servers) < MAXNS and srv not in servers:
                servers.append(srv)
        if not search:
            search = list(getattr(dhcp6c, "domains", ()))[:MAXDNSRCH]
        if servers == self.servers and search == self.search:
            return self   # nothing learned: the same configuration
        return ResolvConf(servers, search, self.ndots, self.timeout, self.attempts,
                          self.rotate, self.inet6, self.payload, self.randomcase,
                          self.dns64, self.dns64_exclude)

    def candidates(self, name: str) -> list[str]:
        """The names ``res_search`` asks, in order."""
        if name.endswith("."):
            return [name.rstrip(".")]
        as_is = [name]
        searched = [f"{name}.{d}" for d in self.search if d]
        if name.count(".") >= self.ndots:
            return as_is + searched
        return searched + as_is


# --- answers and the cache -----------------------------------------------------------


class Status(enum.Enum):
    OK = "ok"
    NXDOMAIN = "nxdomain"    # the name does not exist
    NODATA = "nodata"        # the name exists, no record of the type
    SERVFAIL = "servfail"    # every server failed or refused
    TIMEOUT = "timeout"      # no server answered


@dataclass
class Answer:
    name: str                # the name asked
    qtype: int
    status: Status
    canonical: str = ""      # the end of the CNAME chain
    values: list[Any] = field(default_factory=list)  # rdata of the qtype at the canonical name
    ttl: int = 0
    historic: list[str] = field(default_factory=list)  # A6 records, binary labels: reported
    server: Server | None = None
    tcp: bool = False
    cached: bool = False


class Cache:
    """At most ``size`` answers (least recently used go first), each kept
    for its TTL (capped at :data:`MAX_TTL`); NXDOMAIN and NODATA for the
    SOA's negative TTL (RFC 2308 §5: min(SOA TTL, SOA MINIMUM), capped at
    three hours) and not at all without an SOA."""

    def __init__(self, size: int = 1024) -> None:
        if not isinstance(size, int) or size < 0:
            raise ValueError(f"cache size {size!r} is not a count")
        self.size = size
        self._d: OrderedDict[tuple[str, int], tuple[float, Answer]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._d)

    def get(self, name: str, qtype: int, now: float) -> Answer | None:
        k = (name.lower(), qtype)
        hit = self._d.get(k)
        if hit is None:
            return None
        expires, ans = hit
        if now >= expires:
            del self._d[k]
            return None
        self._d.move_to_end(k)
        left = int(expires - now)
        return Answer(ans.name, ans.qtype, ans.status, ans.canonical, list(ans.values), left,
                      list(ans.historic), ans.server, ans.tcp, cached=True)

    def put(self, ans: Answer, now: float) -> None:
        if self.size == 0 or ans.status not in (Status.OK, Status.NXDOMAIN, Status.NODATA):
            return
        cap = MAX_TTL if ans.status is Status.OK else MAX_NEG_TTL
        ttl = min(ans.ttl, cap)
        if ttl <= 0:
            return
        k = (ans.name.lower(), ans.qtype)
        self._d[k] = (now + ttl, ans)
        self._d.move_to_end(k)
        while len(self._d) > self.size:
            self._d.popitem(last=False)


# --- one query -----------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """What to send now: a UDP datagram from ``sport`` to the server, or a
    query over a TCP connection to it (``payload`` already length-framed)."""

    transport: str      # "udp" or "tcp"
    server: Server
    sport: int
    payload: bytes


class Query:
    """One question asked of the servers (sans-I/O). Call :meth:`poll` for
    the next :class:`Send`; hand replies to :meth:`datagram` or
    :meth:`stream`; call :meth:`tick` at :meth:`deadline`; read
    :attr:`answer` once :attr:`done`."""

    def __init__(self, name: str, qtype: int, conf: ResolvConf, now: float, *,
                 rng: random.Random | None = None, stats: ResStats | None = None,
                 first: int = 0) -> None:
        if not isinstance(name, str):
            raise TypeError(f"a name is a str, not {type(name).__name__}")
        dns.encode_name(name)  # ValueError for a name that cannot be asked
        if not isinstance(conf, ResolvConf):
            raise TypeError(f"conf is a ResolvConf, not {type(conf).__name__}")
        if not conf.servers:
            raise ValueError("no name server configured")
        self.name, self.qtype, self.conf = name.rstrip(".") or ".", qtype, conf
        self.rng = rng if rng is not None else _RNG
        self.stats = stats if stats is not None else ResStats()
        n = len(conf.servers)
        order = [conf.servers[(first + i) % n] for i in range(n)]
        self._plan = [s for _ in range(conf.attempts) for s in order]
        self._edns = conf.payload
        self._pending: Send | None = None
        self._server: Server | None = None
        self._id = 0
        self._sport = 0
        self._qname = self.name
        self._deadline = now
        self._drops = 0
        self._tcp = False
        self._stream = bytearray()
        self.answer: Answer | None = None
        self._failed: Status = Status.TIMEOUT
        self._next(now)

    @property
    def done(self) -> bool:
        return self.answer is not None

    def deadline(self) -> float:
        return self._deadline

    def poll_pending(self) -> Send | None:
        """The :class:`Send` waiting, left in place."""
        return self._pending

    def poll(self) -> Send | None:
        s, self._pending = self._pending, None
        return s

    def pick_port(self, port: int | None = None) -> int:
        """Another random source port (the driver's bind found it in use),
        or ``port``: the port of a socket the driver shares between the
        queries of one name (A and AAAA asked together, as glibc does)."""
        if port is not None and not (isinstance(port, int) and 1 <= port <= 0xFFFF):
            raise ValueError(f"port {port!r} not in 1-65535")
        self._sport = port if port is not None else self.rng.randrange(1024, 65536)
        if self._pending is not None:
            p = self._pending
            self._pending = Send(p.transport, p.server, self._sport, p.payload)
        return self._sport

    @property
    def qid(self) -> int:
        """The ID of the current try (the driver routes replies by it)."""
        return self._id

    @property
    def waiting(self) -> bool:
        """A try is out over UDP and its answer has not come."""
        return not self.done and self._pending is None and not self._tcp

    def _wire(self) -> bytes:
        return dns.query(self._id, self._qname, self.qtype, payload=self._edns)

    def _mix_case(self) -> str:
        """The name with each ASCII letter's case drawn at random (0x20
        bits, draft-vixie-dnsext-dns0x20): a reply must echo it exactly."""
        bits = self.rng.getrandbits(len(self.name)) if self.name else 0
        out = []
        for i, ch in enumerate(self.name):
            if ch.isascii() and ch.isalpha():
                ch = ch.upper() if bits >> i & 1 else ch.lower()
            out.append(ch)
        return "".join(out)

    def _send(self, server: Server, now: float, tcp: bool) -> None:
        self._server, self._tcp, self._drops = server, tcp, 0
        self._id = self.rng.randrange(0, 0x10000)
        self._sport = self.rng.randrange(1024, 65536)
        self._qname = self._mix_case() if self.conf.randomcase else self.name
        self._stream.clear()
        w = self._wire()
        self._pending = Send("tcp" if tcp else "udp", server, self._sport,
                             struct.pack("!H", len(w)) + w if tcp else w)
        self._deadline = now + self.conf.timeout
        self.stats.inc("rs_queries")

    def _next(self, now: float) -> None:
        if not self._plan:
            self.answer = Answer(self.name, self.qtype, self._failed)
            return
        self._edns = self.conf.payload
        self._send(self._plan.pop(0), now, False)

    def tick(self, now: float) -> None:
        if self.done or now < self._deadline:
            return
        self.stats.inc("rs_timeouts")
        self._next(now)

    def fail_transport(self, now: float) -> None:
        """The driver could not send or connect: next server."""
        if not self.done:
            self._next(now)

    def _drop(self, counter: str, now: float) -> None:
        self.stats.inc(counter)
        self._drops += 1
        if self._drops >= MAX_SPOOF and not self._tcp and self._server is not None:
            self.stats.inc("rs_spoofflood")
            self._send(self._server, now, True)

    def datagram(self, data: bytes, src: tuple[Addr, int, str], dport: int,
                 now: float) -> None:
        """A UDP datagram to ``dport`` from ``src`` = (address, port, zone)."""
        if self.done or self._tcp or self._server is None:
            self.stats.inc("rs_badsrc")
            return
        s = self._server
        addr, port, zone = src
        if addr != s.addr or port != s.port or dport != self._sport or \
                (s.zone and zone and zone != s.zone):
            self.stats.inc("rs_badsrc")  # not counted toward the flood limit: not our path
            return
        self._reply(data, now)

    def stream(self, data: bytes, now: float) -> None:
        """Bytes read from the TCP connection of the current try."""
        if self.done or not self._tcp:
            return
        self._stream += data
        if len(self._stream) < 2:
            return
        size = int.from_bytes(self._stream[:2], "big")
        if len(self._stream) < 2 + size:
            return
        msg = bytes(self._stream[2:2 + size])
        self._stream.clear()
        self._reply(msg, now)

    def stream_closed(self, now: float) -> None:
        if not self.done and self._tcp:
            self.stats.inc("rs_malformed" if self._stream else "rs_timeouts")
            self._next(now)

    def _reply(self, data: bytes, now: float) -> None:
        try:
            m = dns.parse(data)
        except ParseError:
            if self._tcp:  # the connection is ours: a bad answer is the server's
                self.stats.inc("rs_malformed")
                self._next(now)
            else:
                self._drop("rs_malformed", now)
            return
        if m.id != self._id:
            self._drop("rs_badid", now)
            return
        if not m.qr:
            self._drop("rs_notresponse", now)
            return
        if len(m.questions) != 1 or not self._same_name(m.questions[0].name) \
                or m.questions[0].qtype != self.qtype or m.questions[0].qclass != dns.IN:
            if not m.questions and m.rcode == dns.FORMERR and self._edns is not None:
                pass  # some servers send FORMERR without the question
            else:
                self._drop("rs_badquestion", now)
                return
        self.stats.inc("rs_answers")
        assert self._server is not None
        if m.tc and not self._tcp:
            self.stats.inc("rs_tcpfallback")
            self._send(self._server, now, True)
            return
        rc = m.rcode
        if rc == dns.FORMERR and self._edns is not None:
            self.stats.inc("rs_noedns")
            self._edns = None
            self._send(self._server, now, self._tcp)
            return
        if rc in (dns.SERVFAIL, dns.REFUSED, dns.NOTIMP, dns.FORMERR) or rc > dns.REFUSED:
            self.stats.inc("rs_servfail")
            self._failed = Status.SERVFAIL
            self._next(now)
            return
        self.answer = self._extract(m, rc, now)

    def _same_name(self, qn: str) -> bool:
        if self.conf.randomcase:  # 0x20: the case we sent, exactly
            if qn == self._qname:
                return True
            try:
                return dns.encode_name(qn) == dns.encode_name(self._qname)
            except ValueError:
                return False
        return qn.lower() == self.name.lower()

    def _extract(self, m: dns.Message, rc: int, now: float) -> Answer:
        ans = Answer(self.name, self.qtype, Status.OK, server=self._server, tcp=self._tcp)
        historic = [f"{r.name} A6 {r.value}" for r in m.answers if r.rtype == dns.A6_TYPE]
        historic += [f"{r.name} binary label" for r in [*m.answers, *m.authority]
                     if getattr(r.name, "binary", False) or
                     getattr(r.value, "binary", False)]
        if historic:
            self.stats.inc("rs_historic", len(historic))
        ans.historic = historic
        cur = self.name.lower()
        ttl = MAX_TTL
        seen = {cur}
        for _ in range(MAX_CNAME + 1):
            cn = [r for r in m.answers if r.rtype == dns.CNAME and r.name.lower() == cur
                  and r.rclass == dns.IN]
            if not cn or self.qtype == dns.CNAME:
                break
            target = cn[0].value
            assert isinstance(target, str)
            if getattr(target, "binary", False):
                break  # reported above, not followed
            ttl = min(ttl, cn[0].ttl)
            cur = target.lower()
            if cur in seen:
                self.stats.inc("rs_cnameloop")
                break
            seen.add(cur)
        else:
            self.stats.inc("rs_cnameloop")
        ans.canonical = cur
        recs = [r for r in m.answers if r.rtype == self.qtype and r.rclass == dns.IN
                and r.name.lower() == cur]
        ans.values = [r.value for r in recs]
        if recs:
            ans.ttl = min(ttl, *(r.ttl for r in recs))
            return ans
        ans.status = Status.NXDOMAIN if rc == dns.NXDOMAIN else Status.NODATA
        soa = [(r.ttl, r.value) for r in m.authority if r.rtype == dns.SOA]
        ans.ttl = next((min(t, v.minimum) for t, v in soa if isinstance(v, dns.Soa)), 0)
        return ans


# --- the driver ----------------------------------------------------------------------


_ADDRS: dict[str, Addr] = {}   # replies' source addresses, parsed (few: the servers)


def _src(sa: Any) -> tuple[Addr, int, str]:
    host = str(sa[0])
    a, _, zone = host.partition("%")
    if not zone and len(sa) >= 4 and sa[3]:
        zone = str(sa[3])  # the scope id: Client._zone_name names it
    addr = _ADDRS.get(a)
    if addr is None:
        addr = ip_address(a)
        if isinstance(addr, IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        if len(_ADDRS) >= 64:
            _ADDRS.clear()
        _ADDRS[a] = addr
    return addr, int(sa[1]), zone


class _HostUdp:
    """A UDP socket of a factory with Python's socket interface."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock

    def bind(self, addr: tuple[Any, ...]) -> None:
        self.sock.bind(addr)

    def sendto(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.sock.sendto(data, addr)

    def flush(self) -> None:
        pass

    def recvfrom(self, timeout: float) -> tuple[bytes, Any]:
        self.sock.settimeout(timeout)
        res: tuple[bytes, Any] = self.sock.recvfrom(65535)
        return res

    def close(self) -> None:
        self.sock.close()


class _NodeUdp:
    """A UDP socket of a node run by a blocking
    :class:`~kame.socket.blocking.Stack`, used under the stack's lock
    directly: the datagrams of a round are queued on the node and go out
    in one pass of the runner made by this thread, and the replies are
    waited for by this thread itself, in ``select`` on the runner's
    devices, with a pass of its own as soon as one is readable. No other
    thread is woken to send or to read: under load each hand-over between
    threads costs a scheduling delay, which is most of a lookup's time
    (the runner thread, blocked on the lock meanwhile, finds nothing left
    to do when it gets it). On a memory link (no descriptor to wait on)
    this thread makes the passes as well, each as soon as the runner's
    next deadline (the link's delivery) is due: the runner thread sleeps
    until its own next timer, up to half a second away, and a stack whose
    thread was never started has no one else to make them."""

    #: At most this long in one ``select`` with the lock held; between two,
    #: the lock is let go (``cond.wait(0)``) so other users of the stack run.
    SLICE = 0.02

    def __init__(self, stack: Any, family: int) -> None:
        self.stack, self.cond = stack, stack.cond
        self.runner = stack.runner
        #: The runner's next deadline as its last pass here left it.
        self._due: float | None = 0.0   # a pass due at once
        with self.cond:
            self.sock = stack.layer.socket(int(family), int(_hs.SOCK_DGRAM), 0)

    def bind(self, addr: tuple[Any, ...]) -> None:
        with self.cond:
            self.sock.bind(addr)

    def sendto(self, data: bytes, addr: tuple[Any, ...]) -> None:
        with self.cond:
            self.sock.sendto(data, addr)

    def flush(self) -> None:
        with self.cond:
            self._due = self.runner.service()

    def recvfrom(self, timeout: float) -> tuple[bytes, Any]:
        """The next datagram, this thread making the runner's passes: at
        once when one is due (a memory link's delivery, a frame read), else
        after ``select`` on the devices says a frame came, or, on a memory
        link, after waiting on the condition until the runner's next
        deadline (another thread's pass may bring the datagram first)."""
        end = time.monotonic() + timeout
        runner = self.runner
        with self.cond:
            while True:
                try:
                    res: tuple[bytes, Any] = self.sock.recvfrom(65535)
                    return res
                except BlockingIOError:
                    pass
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError("timed out")
                due = self._due   # what the last pass said (a pass computes it anyway)
                wait = min(left, self.SLICE, left if due is None else
                           max(0.0, due - runner.clock()))
                if wait > 0:
                    fds = runner.fds()
                    if fds:
                        try:
                            r, _, _ = _select.select(fds, [], [], wait)
                        except (InterruptedError, ValueError, OSError):
                            r = []
                        if not r:
                            self.cond.wait(0)  # let the stack's other users run
                    else:
                        self.cond.wait(wait)
                self._due = runner.service()
                self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.sock.close()


class Client:
    """The resolver over a socket factory (``factory.socket(family, type)``
    with Python's socket interface: a node's blocking
    :class:`~kame.socket.blocking.Stack`, or the host's :mod:`socket`)."""

    def __init__(self, conf: ResolvConf, factory: Any = _hs, *, cache: Cache | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None, node: Any = None) -> None:
        if not isinstance(conf, ResolvConf):
            raise TypeError(f"conf is a ResolvConf, not {type(conf).__name__}")
        self.conf, self.factory, self.clock = conf, factory, clock
        self.cache = cache if cache is not None else Cache()
        self.rng = rng if rng is not None else _RNG
        self.stats = ResStats()
        self._rotor = 0
        #: Names lookup() found well formed lately (the check costs a core call).
        self._names_ok: set[str] = set()
        self._xlat_obj: Any = None
        self._xlat_for: IPv6Network | None = None
        self._sa: dict[Server, tuple[Any, ...]] = {}   # servers' sockaddrs, as sent
        #: A node whose RDNSS servers (RFC 8106) follow the configured ones.
        self.node = node if node is not None else getattr(factory, "node", None)

    @property
    def sink(self) -> Any:
        """Where the counters go besides :attr:`stats`: the node's
        ``node.stats`` (``netstat -s``) when the client has a node, else
        :data:`STATS`."""
        st = getattr(self.node, "stats", None)
        return st if st is not None and hasattr(st, "inc") else STATS

    def _count(self, q: Query) -> None:
        sink = self.sink
        for k, v in q.stats.items():
            if v:
                self.stats.inc(k, v)
                sink.inc(k, v)

    def _hit(self, ans: Answer) -> None:
        k = "rs_cachehit" if ans.status is Status.OK else "rs_negcachehit"
        self.stats.inc(k)
        self.sink.inc(k)

    def query(self, name: str, qtype: int) -> Answer:
        """One name, one type: the cache, else the servers."""
        return self.query_many(name, (qtype,))[0]

    def query_many(self, name: str, qtypes: tuple[int, ...]) -> list[Answer]:
        """One name, several types (A and AAAA) asked at once, the way
        glibc's ``getaddrinfo`` asks them: the queries share one socket
        (one random port; each its own random ID) and their round trips
        overlap. Each type comes from the cache when it can."""
        now = self.clock()
        out: list[Answer | None] = []
        for t in qtypes:
            hit = self.cache.get(name.rstrip("."), t, now)
            if hit is not None:
                self._hit(hit)
            out.append(hit)
        if all(a is not None for a in out):
            return [a for a in out if a is not None]
        conf = self.conf
        if self.node is not None:
            conf = conf.with_rdnss(self.node, getattr(self.node, "_now", now))
        first = 0
        if conf.rotate and conf.servers:
            first = self._rotor % len(conf.servers)
            self._rotor += 1
        if not conf.servers:
            return [a if a is not None else Answer(name, t, Status.SERVFAIL)
                    for a, t in zip(out, qtypes, strict=True)]
        qs = {i: Query(name, t, conf, now, rng=self.rng, first=first)
              for i, t in enumerate(qtypes) if out[i] is None}
        try:
            self._run(list(qs.values()))
        finally:
            for q in qs.values():
                self._count(q)
        done = self.clock()
        for i, q in qs.items():
            assert q.answer is not None
            self.cache.put(q.answer, done)
            out[i] = q.answer
        return [a for a in out if a is not None]

    def _run(self, qs: list[Query]) -> None:
        """Drive the queries to their answers: the UDP tries out at the
        same time go in one round over one socket; TCP tries one by one."""
        while True:
            live = [q for q in qs if not q.done]
            if not live:
                return
            tcp = [q for q in live if (p := q.poll_pending()) is not None and
                   p.transport == "tcp"]
            for q in tcp:
                send = q.poll()
                assert send is not None
                self._tcp(q, send)
            if tcp:
                continue
            udp = [q for q in live if q.poll_pending() is not None]
            if not udp:  # all waiting with nothing out: the earliest deadline passed
                q = min(live, key=Query.deadline)
                q.tick(max(self.clock(), q.deadline()))
                continue
            self._udp_round(udp)

    def _zone_name(self, zone: str) -> str:
        """A numeric zone (a scope id) as the interface's name, the way
        resolv.conf names a link-local server's zone."""
        if not (zone.isascii() and zone.isdigit()):
            return zone
        zones = getattr(self.node, "zones", None)
        if zones is not None:
            return str(zones.by_index.get(int(zone), zone))
        try:
            return _hs.if_indextoname(int(zone))
        except (OSError, OverflowError):
            return zone

    def _sockaddr(self, s: Server) -> tuple[Any, ...]:
        sa = self._sa.get(s)
        if sa is None:
            if isinstance(s.addr, IPv6Address):
                sa = (f"{s.addr}%{s.zone}" if s.zone else str(s.addr), s.port, 0, 0)
            else:
                sa = (str(s.addr), s.port)
            if len(self._sa) >= 64:
                self._sa.clear()
            self._sa[s] = sa
        return sa

    def _udp_round(self, qs: list[Query]) -> None:
        """Send the pending UDP tries of ``qs`` (those of the first one's
        address family) from one socket at one random port, then read
        replies, each routed to the query of its ID (others get it to
        count the drop), until none of the round is waiting any more."""
        first = qs[0].poll_pending()
        assert first is not None
        v6 = isinstance(first.server.addr, IPv6Address)
        qs = [q for q in qs if (p := q.poll_pending()) is not None and
              isinstance(p.server.addr, IPv6Address) == v6]
        sock = self._udp_socket(_hs.AF_INET6 if v6 else _hs.AF_INET)
        try:
            port = first.sport
            for _ in range(16):
                try:
                    sock.bind(("::" if v6 else "0.0.0.0", port))
                    break
                except OSError as e:
                    if e.errno != errno.EADDRINUSE:
                        raise
                    port = qs[0].pick_port()
            sent: list[Query] = []
            wire: dict[int, tuple[bytes, tuple[Any, ...]]] = {}
            for q in qs:
                q.pick_port(port)
                send = q.poll()
                assert send is not None
                sa = self._sockaddr(send.server)
                try:
                    sock.sendto(send.payload, sa)
                except OSError:
                    q.fail_transport(self.clock())
                    continue
                sent.append(q)
                wire[id(q)] = (send.payload, sa)
            sock.flush()
            t0 = self.clock()
            first_answer: float | None = None
            resent: set[int] = set()
            while True:
                waiting = [q for q in sent if q.waiting]
                if not waiting:
                    break
                now = self.clock()
                late = [q for q in waiting if q.deadline() <= now]
                if late:
                    for q in late:
                        q.tick(now)
                    continue
                left = min(q.deadline() for q in waiting) - now
                if first_answer is None and len(waiting) < len(sent):
                    first_answer = now
                if first_answer is not None:
                    # a sibling's answer came and this one's did not: the server
                    # answers both at once, so ours was lost on the way (a
                    # neighbour's hold queue keeps one packet, KAME's
                    # nd6_maxqueuelen): send it again, same ID and port, once,
                    # rather than wait out the try's timeout
                    gap = max(RESEND_GAP, 2 * (first_answer - t0))
                    due = [q for q in waiting if id(q) not in resent]
                    if due and now - first_answer >= gap:
                        for q in due:
                            resent.add(id(q))
                            try:
                                sock.sendto(*wire[id(q)])
                            except OSError:
                                continue
                            q.stats.inc("rs_resent")
                        sock.flush()
                        continue
                    if due:
                        left = min(left, first_answer + gap - now)
                try:
                    data, sa = sock.recvfrom(left)
                except (TimeoutError, BlockingIOError):
                    continue
                except OSError:  # an ICMPv6 error reported on the socket
                    for q in waiting:
                        q.fail_transport(self.clock())
                    break
                addr, sport, zone = _src(sa)
                qid = int.from_bytes(data[:2], "big") if len(data) >= 2 else -1
                to = next((q for q in waiting if q.qid == qid), waiting[0])
                to.datagram(data, (addr, sport, self._zone_name(zone)), port, self.clock())
        finally:
            sock.close()

    def _udp_socket(self, family: int) -> _HostUdp | _NodeUdp:
        layer = getattr(self.factory, "layer", None)
        cond = getattr(self.factory, "cond", None)
        if layer is not None and cond is not None and hasattr(self.factory, "kick"):
            return _NodeUdp(self.factory, family)
        return _HostUdp(self.factory.socket(family, _hs.SOCK_DGRAM))

    def _tcp(self, q: Query, send: Send) -> None:
        fam = _hs.AF_INET6 if isinstance(send.server.addr, IPv6Address) else _hs.AF_INET
        sock = self.factory.socket(fam, _hs.SOCK_STREAM)
        try:
            sock.settimeout(max(q.deadline() - self.clock(), 0.001))
            try:
                sock.connect(self._sockaddr(send.server))
                sock.sendall(send.payload)
            except OSError:
                q.fail_transport(self.clock())
                return
            while not q.done and q.poll_pending() is None:
                left = q.deadline() - self.clock()
                if left <= 0:
                    q.tick(self.clock())
                    break
                sock.settimeout(left)
                try:
                    data = sock.recv(65537)
                except (TimeoutError, BlockingIOError):
                    continue
                except OSError:
                    q.fail_transport(self.clock())
                    break
                if not data:
                    q.stream_closed(self.clock())
                    break
                q.stream(data, self.clock())
        finally:
            sock.close()

    # --- what netdb asks -----------------------------------------------------------

    def search(self, name: str, qtype: int) -> Answer:
        """``res_search``: the search list and ``ndots``; the first name
        with records wins; NODATA over NXDOMAIN when no name has any."""
        return self.search_many(name, (qtype,))[0]

    def search_many(self, name: str, qtypes: tuple[int, ...]) -> list[Answer]:
        """:meth:`search` for several types asked together of each name
        (glibc's A and AAAA): the first name with records of any of the
        types wins; when none has any, for each type NODATA over NXDOMAIN."""
        best: list[Answer] | None = None
        for cand in self.conf.candidates(name):
            got = self.query_many(cand, qtypes)
            if any(a.status is Status.OK for a in got):
                return got
            if best is None:
                best = got
            else:
                best = [n if n.status is Status.NODATA and b.status is not Status.NODATA
                        else b for b, n in zip(best, got, strict=True)]
        assert best is not None
        return best

    def lookup(self, name: str) -> tuple[str, list[tuple[Addr, int]]]:
        """(canonical name, addresses) as :meth:`kame.netdb.Resolver.lookup`
        (:class:`socket.gaierror` ``EAI_AGAIN`` when no server answered):
        A and AAAA are asked together (the AAAA addresses first with
        ``options inet6``, the A ones first otherwise); getaddrinfo orders
        the addresses by RFC 6724."""
        if not isinstance(name, str):
            raise TypeError(f"a name is a str, not {type(name).__name__}")
        if name not in self._names_ok:
            try:
                dns.encode_name(name.rstrip(".") or ".")
            except ValueError:
                return "", []
            if len(self._names_ok) >= 1024:
                self._names_ok.clear()
            self._names_ok.add(name)
        out: list[tuple[Addr, int]] = []
        canon = ""
        types = (dns.AAAA, dns.A) if self.conf.inet6 else (dns.A, dns.AAAA)
        answers = self.search_many(name, types)
        if self.conf.dns64 is not None:
            answers = self._dns64(types, answers)
        for ans in answers:
            if ans.status is Status.OK:
                canon = canon or ans.canonical
                out += [(v, 0) for v in ans.values if isinstance(v, (IPv4Address, IPv6Address))]
        if not out and all(a.status is Status.TIMEOUT or a.status is Status.SERVFAIL
                           for a in answers):
            # no server said yes or no: glibc's EAI_AGAIN, not "no such name"
            raise _hs.gaierror(_hs.EAI_AGAIN, "Temporary failure in name resolution")
        return canon, out

    def _xlat(self) -> Any:
        from kame import _core

        if self._xlat_for != self.conf.dns64:
            self._xlat_obj = _core.Xlat(str(self.conf.dns64))
            self._xlat_for = self.conf.dns64
        return self._xlat_obj

    def _dns64(self, types: tuple[int, ...], answers: list[Answer]) -> list[Answer]:
        """The AAAA answer replaced by the DNS64 one (RFC 6147 §5.1, by
        :func:`kame.nat64.dns64.synthesize`: real AAAA records kept, the
        excluded ones dropped, NXDOMAIN kept, otherwise the A records mapped
        into the prefix); the A answer stays as it is."""
        from kame.nat64 import dns64

        i6, i4 = types.index(dns.AAAA), types.index(dns.A)
        aaaa = answers[i6]
        real = [v for v in aaaa.values if isinstance(v, IPv6Address)
                and not any(v in n for n in self.conf.dns64_exclude)]
        syn = dns64.synthesize(aaaa, answers[i4], self._xlat(),
                               exclude=self.conf.dns64_exclude)
        if syn.values and not real:
            self.stats.inc("rs_dns64")
        out = list(answers)
        out[i6] = syn
        return out

    def reverse(self, addr: Addr) -> str | None:
        """The PTR name of ``addr`` (``ip6.arpa`` nibbles, RFC 3596 §2.5).
        With DNS64 on, an address inside its prefix is a synthesized one:
        its PTR is asked under ``in-addr.arpa`` for the IPv4 address it
        carries (RFC 6147 §5.3.1, the CNAME a DNS64 would synthesize),
        then under ``ip6.arpa`` if that has none."""
        if self.conf.dns64 is not None and isinstance(addr, IPv6Address) and \
                addr in self.conf.dns64:
            v4 = self._xlat().map6(addr)
            if v4 is not None:
                ans = self.query(dns.ptr_name(v4), dns.PTR)
                if ans.status is Status.OK and ans.values:
                    v = ans.values[0]
                    if not getattr(v, "binary", False):
                        self.stats.inc("rs_dns64ptr")
                        return str(v)
        ans = self.query(dns.ptr_name(addr), dns.PTR)
        if ans.status is Status.OK and ans.values:
            v = ans.values[0]
            return str(v) if not getattr(v, "binary", False) else None
        return None

