"""The stub resolver (kame.resolv): resolv.conf, the sans-I/O query against
hostile servers (typed errors or counted drops with bounded work), the
cache with negative caching, and the driver over real sockets with an
in-process server (UDP, TCP fallback) under kame.netdb."""

from __future__ import annotations

import random
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kame import dns, netdb
from kame.resolv import (
    MAX_CNAME,
    MAX_SPOOF,
    Answer,
    Cache,
    Client,
    Query,
    ResolvConf,
    Send,
    Server,
    Status,
)

S1 = Server(IPv6Address("2001:db8::53"))
S2 = Server(IPv6Address("2001:db8::54"))


def conf(*servers: Server, **kw: object) -> ResolvConf:
    c = ResolvConf(servers=list(servers or [S1]))
    for k, v in kw.items():
        setattr(c, k, v)
    return c


def reply_to(payload: bytes, *, answers: list[dns.Record] | None = None,
             authority: list[dns.Record] | None = None, rcode: int = 0, tc: bool = False,
             qid: int | None = None, qname: str | None = None) -> bytes:
    q = dns.parse(payload)
    quest = q.questions[0]
    if qname is not None:
        quest = dns.Question(qname, quest.qtype)
    flags = 0x8180 | rcode | (0x0200 if tc else 0)
    return dns.Message(q.id if qid is None else qid, flags, [quest], answers or [],
                       authority or []).emit()


def aaaa(name: str, addr: str, ttl: int = 300) -> dns.Record:
    a = IPv6Address(addr)
    return dns.Record(name, dns.AAAA, dns.IN, ttl, a.packed, a)


def a4(name: str, addr: str, ttl: int = 300) -> dns.Record:
    a = IPv4Address(addr)
    return dns.Record(name, dns.A, dns.IN, ttl, a.packed, a)


def cname(name: str, target: str, ttl: int = 300) -> dns.Record:
    return dns.Record(name, dns.CNAME, dns.IN, ttl, dns.encode_name(target), target)


def soa(zone: str, ttl: int, minimum: int) -> dns.Record:
    v = dns.Soa("ns." + zone, "root." + zone, 1, 2, 3, 4, minimum)
    return dns.Record(zone, dns.SOA, dns.IN, ttl, dns.rdata(dns.SOA, v), v)


def src(s: Send) -> tuple[IPv6Address | IPv4Address, int, str]:
    return (s.server.addr, s.server.port, s.server.zone)


def start(name: str = "www.example", qtype: int = dns.AAAA, c: ResolvConf | None = None,
          seed: int = 1) -> tuple[Query, Send]:
    q = Query(name, qtype, c or conf(), 0.0, rng=random.Random(seed))
    s = q.poll()
    assert s is not None and s.transport == "udp"
    return q, s


# --- resolv.conf ---------------------------------------------------------------------


def test_resolv_conf() -> None:
    c = ResolvConf.parse(
        "# comment\nnameserver fe80::1%eth0\nnameserver 192.0.2.53\nnameserver bogus\n"
        "nameserver 2001:db8::53 ; x\nnameserver 2001:db8::99\n"
        "domain old.example\nsearch a.example b.example.\n"
        "options ndots:2 timeout:3 attempts:9 rotate inet6 edns0 unknown:1 ndots:x\n")
    assert c.servers == [Server(IPv6Address("fe80::1"), 53, "eth0"),
                         Server(IPv4Address("192.0.2.53")), Server(IPv6Address("2001:db8::53"))]
    assert c.search == ["a.example", "b.example"]
    assert (c.ndots, c.timeout, c.attempts, c.rotate, c.inet6) == (2, 3.0, 5, True, True)
    assert ResolvConf.parse("search x\ndomain y\n").search == ["y"]
    assert ResolvConf.parse("nameserver 192.0.2.1%eth0\n").servers == []
    with pytest.raises(TypeError):
        ResolvConf.parse(b"nameserver ::1")  # type: ignore[arg-type]


def test_search_order() -> None:
    c = ResolvConf(search=["a.example", "b.example"], ndots=1)
    assert c.candidates("www") == ["www.a.example", "www.b.example", "www"]
    assert c.candidates("www.x") == ["www.x", "www.x.a.example", "www.x.b.example"]
    assert c.candidates("www.") == ["www"]
    c.ndots = 2
    assert c.candidates("www.x")[0] == "www.x.a.example"


# --- one query -----------------------------------------------------------------------


def test_answer_accepted() -> None:
    q, s = start()
    m = dns.parse(s.payload)
    assert m.edns is not None and m.edns.payload == 1232  # RFC 6891 advertised size
    q.datagram(reply_to(s.payload, answers=[aaaa("www.example", "2001:db8::1")]), src(s),
               s.sport, 0.1)
    assert q.answer is not None and q.answer.status is Status.OK
    assert q.answer.values == [IPv6Address("2001:db8::1")] and q.answer.ttl == 300


def test_ids_and_ports_are_random() -> None:
    ids, ports = set(), set()
    for _ in range(300):
        q = Query("x.example", dns.A, conf(), 0.0)  # the system's random source
        s = q.poll()
        assert s is not None
        ids.add(dns.parse(s.payload).id)
        ports.add(s.sport)
        assert 1024 <= s.sport <= 65535
    assert len(ids) > 290 and len(ports) > 290


def test_wrong_source_address_port_or_our_port_dropped() -> None:
    q, s = start()
    good = reply_to(s.payload, answers=[aaaa("www.example", "2001:db8::1")])
    q.datagram(good, (IPv6Address("2001:db8::66"), 53, ""), s.sport, 0.1)
    q.datagram(good, (s.server.addr, 5353, ""), s.sport, 0.1)
    q.datagram(good, src(s), s.sport ^ 1, 0.1)
    assert not q.done and q.stats["rs_badsrc"] == 3
    q.datagram(good, src(s), s.sport, 0.2)
    assert q.done and q.answer is not None and q.answer.status is Status.OK


def test_mismatched_id_question_and_qr_dropped() -> None:
    q, s = start()
    qid = dns.parse(s.payload).id
    q.datagram(reply_to(s.payload, qid=qid ^ 1), src(s), s.sport, 0.1)
    q.datagram(reply_to(s.payload, qname="evil.example"), src(s), s.sport, 0.1)
    other = dns.parse(s.payload)
    other.questions = [dns.Question("www.example", dns.A)]
    other.flags |= 0x8000
    q.datagram(other.emit(), src(s), s.sport, 0.1)
    q.datagram(s.payload, src(s), s.sport, 0.1)  # our own query reflected: QR clear
    assert not q.done
    assert (q.stats["rs_badid"], q.stats["rs_badquestion"], q.stats["rs_notresponse"]) == \
        (1, 2, 1)
    # the question's case does not matter (RFC 1035 §2.3.3)
    q.datagram(reply_to(s.payload, qname="WWW.Example"), src(s), s.sport, 0.2)
    assert q.done


def _hostile(payload: bytes) -> list[bytes]:
    qid = payload[:2]
    head = qid + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00"
    quest = payload[12:payload.index(b"\x00", 12) + 5]
    return [
        head + quest + b"\xc0\x40" + bytes(10),            # pointer past the end
        head + quest + b"\x01a\xc0\x1d" + bytes(10),       # pointer to itself (loop)
        head + quest + b"\xc0\x0c\x00\x1c\x00\x01" + bytes(4) + b"\x00\x10\x20",  # cut data
        head[:7],                                          # cut header
        head + quest + b"\xc0\x0c\x00\x1c\x00\x01\x00\x00\x00\x01\x00\x05" + bytes(5),
    ]


def test_malformed_replies_are_counted_drops() -> None:
    q, s = start()
    for bad in _hostile(s.payload):
        q.datagram(bad, src(s), s.sport, 0.1)
    assert not q.done and q.stats["rs_malformed"] == 5
    q.datagram(reply_to(s.payload, answers=[aaaa("www.example", "::1")]), src(s), s.sport, 0.2)
    assert q.done


def test_spoof_flood_is_bounded_and_moves_to_tcp() -> None:
    q, s = start()
    rnd = random.Random(5)
    t = time.perf_counter()
    for _ in range(20000):
        qid = rnd.randrange(65536)
        if qid == dns.parse(s.payload).id:
            continue
        q.datagram(reply_to(s.payload, qid=qid), src(s), s.sport, 0.1)
        if q.poll_pending() is not None:
            break
    nxt = q.poll()
    assert nxt is not None and nxt.transport == "tcp" and q.stats["rs_spoofflood"] == 1
    assert q.stats["rs_badid"] == MAX_SPOOF
    # over TCP no datagram is listened to: the rest of the flood is dropped unparsed
    for _ in range(20000):
        q.datagram(b"\x00" * 40, src(s), s.sport, 0.2)
    assert time.perf_counter() - t < 5
    assert not q.done and q.stats["rs_badsrc"] == 20000
    w = reply_to(nxt.payload[2:], answers=[aaaa("www.example", "::2")])
    q.stream(struct.pack("!H", len(w)) + w, 0.3)
    assert q.answer is not None and q.answer.tcp and q.answer.values == [IPv6Address("::2")]


def test_truncated_goes_to_tcp() -> None:
    q, s = start()
    q.datagram(reply_to(s.payload, tc=True), src(s), s.sport, 0.1)
    t = q.poll()
    assert t is not None and t.transport == "tcp" and t.server == s.server
    assert q.stats["rs_tcpfallback"] == 1
    size = struct.unpack("!H", t.payload[:2])[0]
    assert size == len(t.payload) - 2
    big = [aaaa("www.example", f"2001:db8::{i:x}") for i in range(200)]
    w = reply_to(t.payload[2:], answers=big)
    framed = struct.pack("!H", len(w)) + w
    for i in range(0, len(framed), 100):  # the stream arrives in pieces
        assert not q.done
        q.stream(framed[i:i + 100], 0.2)
    assert q.answer is not None and len(q.answer.values) == 200 and q.answer.tcp


def test_tcp_answer_cut_short_goes_to_next_server() -> None:
    q, s = start(c=conf(S1, S2))
    q.datagram(reply_to(s.payload, tc=True), src(s), s.sport, 0.1)
    t = q.poll()
    assert t is not None
    q.stream(b"\x01\x00" + bytes(30), 0.2)
    q.stream_closed(0.3)
    n = q.poll()
    assert n is not None and n.transport == "udp" and n.server == S2


def test_formerr_retries_without_edns() -> None:
    q, s = start()
    q.datagram(reply_to(s.payload, rcode=dns.FORMERR), src(s), s.sport, 0.1)
    s2 = q.poll()
    assert s2 is not None and s2.server == s.server and dns.parse(s2.payload).edns is None


def test_servfail_next_server_then_fails() -> None:
    q, s = start(c=conf(S1, S2, attempts=1))
    q.datagram(reply_to(s.payload, rcode=dns.SERVFAIL), src(s), s.sport, 0.1)
    s2 = q.poll()
    assert s2 is not None and s2.server == S2
    q.datagram(reply_to(s2.payload, rcode=dns.REFUSED), src(s2), s2.sport, 0.2)
    assert q.answer is not None and q.answer.status is Status.SERVFAIL


def test_timeouts_and_attempts() -> None:
    c = conf(S1, S2, attempts=2, timeout=2.0)
    q = Query("x.example", dns.A, c, 0.0, rng=random.Random(3))
    seen = []
    now = 0.0
    while not q.done:
        s = q.poll()
        if s is not None:
            seen.append(s.server)
        now = q.deadline()
        q.tick(now - 0.001)  # not yet
        q.tick(now)
    assert seen == [S1, S2, S1, S2] and now == 8.0
    assert q.answer is not None and q.answer.status is Status.TIMEOUT
    assert q.stats["rs_timeouts"] == 4
    q2 = Query("x.example", dns.A, c, 0.0, first=1)
    s = q2.poll()
    assert s is not None and s.server == S2  # rotate starts at the next server


def test_cname_chain_and_loops() -> None:
    q, s = start()
    recs = [cname("www.example", "a.example"), cname("A.example", "b.example", 60),
            aaaa("b.example", "2001:db8::b", 100), aaaa("other.example", "2001:db8::c")]
    q.datagram(reply_to(s.payload, answers=recs), src(s), s.sport, 0.1)
    assert q.answer is not None and q.answer.canonical == "b.example"
    assert q.answer.values == [IPv6Address("2001:db8::b")] and q.answer.ttl == 60
    q, s = start()
    loop = [cname("www.example", "a.example"), cname("a.example", "www.example")]
    q.datagram(reply_to(s.payload, answers=loop), src(s), s.sport, 0.1)
    assert q.answer is not None and q.answer.status is Status.NODATA
    assert q.stats["rs_cnameloop"] == 1
    q, s = start()
    long = [cname("www.example" if i == 0 else f"c{i}.example", f"c{i + 1}.example")
            for i in range(MAX_CNAME + 5)] + [aaaa(f"c{MAX_CNAME + 5}.example", "::1")]
    q.datagram(reply_to(s.payload, answers=long), src(s), s.sport, 0.1)
    assert q.answer is not None and q.answer.status is Status.NODATA
    assert q.stats["rs_cnameloop"] == 1


def test_a6_and_binary_labels_reported_not_followed() -> None:
    q, s = start()
    a6 = bytes([0]) + IPv6Address("2001:db8::6").packed
    rec = dns.Record("www.example", dns.A6_TYPE, dns.IN, 60, a6,
                     dns.A6(0, IPv6Address("2001:db8::6"), None))
    blab = b"\x41\x08\xab" + dns.encode_name("example")
    w = reply_to(s.payload, answers=[rec]) 
    # a CNAME whose target has a binary label, added by hand
    m = dns.parse(w)
    m.answers.append(dns.Record("www.example", dns.CNAME, dns.IN, 60, blab, None))
    q.datagram(m.emit(), src(s), s.sport, 0.1)
    assert q.answer is not None and q.answer.status is Status.NODATA
    assert q.answer.canonical == "www.example" and len(q.answer.historic) == 2
    assert q.stats["rs_historic"] == 2


def test_negative_answers_and_cache() -> None:
    q, s = start()
    q.datagram(reply_to(s.payload, rcode=dns.NXDOMAIN, authority=[soa("example", 900, 120)]),
               src(s), s.sport, 0.1)
    ans = q.answer
    assert ans is not None and ans.status is Status.NXDOMAIN and ans.ttl == 120  # RFC 2308 §5
    cache = Cache(4)
    cache.put(ans, 10.0)
    hit = cache.get("WWW.example", dns.AAAA, 100.0)
    assert hit is not None and hit.cached and hit.status is Status.NXDOMAIN and hit.ttl == 30
    assert cache.get("www.example", dns.AAAA, 130.0) is None  # expired
    cache.put(Answer("n.example", dns.A, Status.NXDOMAIN, ttl=0), 0.0)  # no SOA: not kept
    assert len(cache) == 0
    for i in range(10):
        cache.put(Answer(f"h{i}", dns.A, Status.OK, "h", [IPv4Address(i)], 10**9), 0.0)
    assert len(cache) == 4 and cache.get("h9", dns.A, 1.0) is not None
    assert cache.get("h0", dns.A, 1.0) is None
    hit = cache.get("h9", dns.A, 1.0)
    assert hit is not None and hit.ttl <= 86400  # capped
    cache.put(Answer("t", dns.A, Status.TIMEOUT, ttl=100), 0.0)
    assert cache.get("t", dns.A, 1.0) is None
    with pytest.raises(ValueError):
        Cache(-1)


# --- the driver over real sockets ------------------------------------------------------


class FakeServer:
    """UDP and TCP on ::1 at one port; ``zone`` maps (name, type) to records.
    Answers over UDP that do not fit 512 octets (or the EDNS size) get TC=1.
    ``spoof`` first sends bad replies (wrong ID, wrong source port)."""

    def __init__(self, zone: dict[tuple[str, int], list[dns.Record]],
                 spoof: bool = False) -> None:
        self.zone, self.spoof = zone, spoof
        self.udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.udp.bind(("::1", 0))
        self.port = self.udp.getsockname()[1]
        self.tcp = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("::1", self.port))
        self.tcp.listen()
        self.other = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.other.bind(("::1", 0))
        self.udp_queries = 0
        self.tcp_queries = 0
        self.stop = False
        self.threads = [threading.Thread(target=f, daemon=True) for f in (self._u, self._t)]
        for t in self.threads:
            t.start()

    def answer(self, payload: bytes, limit: int | None) -> bytes:
        q = dns.parse(payload)
        qu = q.questions[0]
        recs = self.zone.get((qu.name.lower(), qu.qtype))
        if recs is None and not any(k[0] == qu.name.lower() for k in self.zone):
            return reply_to(payload, rcode=dns.NXDOMAIN, authority=[soa("test", 60, 30)])
        w = reply_to(payload, answers=recs or [], authority=[] if recs else
                     [soa("test", 60, 30)])
        if limit is not None and len(w) > limit:
            w = reply_to(payload, tc=True)
        return w

    def _u(self) -> None:
        self.udp.settimeout(0.2)
        while not self.stop:
            try:
                data, peer = self.udp.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            self.udp_queries += 1
            m = dns.parse(data)
            limit = m.edns.payload if m.edns else 512
            if self.spoof:
                qid = m.id ^ 0x5555
                self.udp.sendto(reply_to(data, qid=qid), peer)
                self.other.sendto(self.answer(data, limit), peer)
                self.udp.sendto(b"\xde\xad" + bytes(3), peer)
            self.udp.sendto(self.answer(data, limit), peer)

    def _t(self) -> None:
        self.tcp.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.tcp.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with c:
                c.settimeout(2)
                head = c.recv(2, socket.MSG_WAITALL)
                data = c.recv(struct.unpack("!H", head)[0], socket.MSG_WAITALL)
                self.tcp_queries += 1
                w = self.answer(data, None)
                c.sendall(struct.pack("!H", len(w)) + w)

    def close(self) -> None:
        self.stop = True
        for t in self.threads:
            t.join()
        for s in (self.udp, self.tcp, self.other):
            s.close()


ZONE = {
    ("both.test", dns.AAAA): [aaaa("both.test", "2001:db8::10")],
    ("both.test", dns.A): [a4("both.test", "192.0.2.10")],
    ("alias.test", dns.AAAA): [cname("alias.test", "both.test"),
                               aaaa("both.test", "2001:db8::10")],
    ("alias.test", dns.A): [cname("alias.test", "both.test"), a4("both.test", "192.0.2.10")],
    ("big.test", dns.AAAA): [aaaa("big.test", f"2001:db8::1:{i:x}") for i in range(100)],
    ("v4.test", dns.A): [a4("v4.test", "192.0.2.11")],
    (dns.ptr_name(IPv6Address("2001:db8::10")), dns.PTR):
        [dns.Record(dns.ptr_name(IPv6Address("2001:db8::10")), dns.PTR, dns.IN, 60,
                    dns.encode_name("both.test"), "both.test")],
}


@pytest.fixture
def server_factory() -> Iterator[Callable[..., FakeServer]]:
    made: list[FakeServer] = []

    def make(**kw: object) -> FakeServer:
        s = FakeServer(ZONE, **kw)  # type: ignore[arg-type]
        made.append(s)
        return s
    yield make
    for s in made:
        s.close()


def test_client_udp_tcp_cache_and_netdb(server_factory: Callable[..., FakeServer]) -> None:
    srv = server_factory()
    c = Client(ResolvConf(servers=[Server(IPv6Address("::1"), srv.port)], search=["test"],
                          timeout=2.0))
    ans = c.query("big.test", dns.AAAA)
    assert ans.status is Status.OK and ans.tcp and len(ans.values) == 100
    assert c.stats["rs_tcpfallback"] == 1 and srv.tcp_queries == 1
    assert c.query("big.test", dns.AAAA).cached
    assert c.stats["rs_cachehit"] == 1
    nx = c.query("nothere.test", dns.AAAA)
    assert nx.status is Status.NXDOMAIN
    assert c.query("nothere.test", dns.AAAA).cached and c.stats["rs_negcachehit"] == 1
    res = netdb.Resolver(dns=c)
    got = netdb.getaddrinfo("alias", 80, type=socket.SOCK_STREAM, flags=socket.AI_CANONNAME,
                            resolver=res,
                            sources=lambda a: None)
    assert {g[4][0] for g in got} == {"2001:db8::10", "192.0.2.10"}
    assert got[0][3] == "both.test"
    with pytest.raises(socket.gaierror) as e:  # the name is there, without AAAA
        netdb.getaddrinfo("v4.test", 80, socket.AF_INET6, socket.SOCK_STREAM, resolver=res)
    assert e.value.errno == socket.EAI_NODATA
    with pytest.raises(socket.gaierror) as e:
        netdb.getaddrinfo("nothere.test", 80, resolver=res)
    assert e.value.errno == socket.EAI_NONAME
    assert netdb.getnameinfo(("2001:db8::10", 80), socket.NI_NUMERICSERV, resolver=res) == \
        ("both.test", "80")


def test_client_ignores_spoofed_replies(server_factory: Callable[..., FakeServer]) -> None:
    srv = server_factory(spoof=True)
    c = Client(ResolvConf(servers=[Server(IPv6Address("::1"), srv.port)], timeout=2.0))
    ans = c.query("both.test", dns.AAAA)
    assert ans.status is Status.OK and ans.values == [IPv6Address("2001:db8::10")]
    assert c.stats["rs_badid"] == 1 and c.stats["rs_badsrc"] == 1
    assert c.stats["rs_malformed"] == 1


def test_client_times_out_on_a_silent_server() -> None:
    dead = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    dead.bind(("::1", 0))
    try:
        c = Client(ResolvConf(servers=[Server(IPv6Address("::1"), dead.getsockname()[1])],
                              timeout=1.0, attempts=1))
        t = time.monotonic()
        ans = c.query("x.test", dns.A)
        assert ans.status is Status.TIMEOUT and 0.9 < time.monotonic() - t < 3
        with pytest.raises(socket.gaierror) as e:
            netdb.getaddrinfo("x.test", 80, resolver=netdb.Resolver(dns=c))
        assert e.value.errno == socket.EAI_AGAIN
    finally:
        dead.close()


def test_rdnss_servers_follow_the_configured_ones() -> None:
    from types import SimpleNamespace

    from kame.nd6.rtr import RdnssEntry
    r = IPv6Address("fe80::1")
    rd = {("eth0", IPv6Address("fe80::53")): RdnssEntry("eth0", IPv6Address("fe80::53"), r, 100.0),
          ("eth0", IPv6Address("2001:db8::99")): RdnssEntry("eth0", IPv6Address("2001:db8::99"),
                                                            r, 5.0),
          ("eth1", IPv6Address(S1.addr)): RdnssEntry("eth1", IPv6Address(S1.addr), r, 100.0)}
    node = SimpleNamespace(rtr=SimpleNamespace(rdnss=rd))
    got = conf(S1).with_rdnss(node, 10.0)
    assert got.servers == [S1, Server(IPv6Address("fe80::53"), 53, "eth0")]  # expired, dup out
    c = Client(ResolvConf(), node=SimpleNamespace(rtr=SimpleNamespace(rdnss={}), _now=0.0))
    assert c.query("x.test", dns.A).status is Status.SERVFAIL  # no server at all


@given(st.binary(max_size=300), st.booleans())
def test_any_datagram_is_an_answer_or_a_counted_drop(data: bytes, keep_id: bool) -> None:
    q, s = start()
    if keep_id and len(data) >= 2:
        data = s.payload[:2] + data[2:]
    before = sum(q.stats.values())
    q.datagram(data, src(s), s.sport, 0.1)
    assert q.done or q.poll_pending() is not None or sum(q.stats.values()) == before + 1


def test_link_local_reply_from_another_zone_dropped() -> None:
    ll = Server(IPv6Address("fe80::53"), 53, "eth0")
    q, s = start(c=conf(ll))
    good = reply_to(s.payload, answers=[aaaa("www.example", "2001:db8::1")])
    q.datagram(good, (ll.addr, 53, "eth1"), s.sport, 0.1)
    assert not q.done and q.stats["rs_badsrc"] == 1
    q.datagram(good, (ll.addr, 53, "eth0"), s.sport, 0.1)
    assert q.done


# --- 0x20 bits, A and AAAA together, counters in node.stats -----------------------------


def test_randomcase_asks_mixed_case_and_wants_it_echoed() -> None:
    name = "www.example.org"
    q, s = start(name, c=conf(randomcase=True))
    asked = dns.parse(s.payload).questions[0].name
    assert asked.lower() == name and asked != name  # the case was drawn
    # a reply that does not echo the case is a spoofer's guess: counted, dropped
    q.datagram(reply_to(s.payload, qname=name, answers=[aaaa(name, "2001:db8::1")]),
               src(s), s.sport, 0.1)
    assert not q.done and q.stats["rs_badquestion"] == 1
    q.datagram(reply_to(s.payload, answers=[aaaa(asked, "2001:db8::1")]), src(s), s.sport, 0.1)
    assert q.done and q.answer is not None and q.answer.values == [IPv6Address("2001:db8::1")]
    # every try draws again; without the knob the name goes as given
    cases = {dns.parse(start(name, c=conf(randomcase=True), seed=i)[1].payload)
             .questions[0].name for i in range(8)}
    assert len(cases) > 4
    assert dns.parse(start(name)[1].payload).questions[0].name == name


def test_client_asks_a_and_aaaa_together_over_one_socket(
        server_factory: Callable[..., FakeServer]) -> None:
    srv = server_factory()
    c = Client(ResolvConf(servers=[Server(IPv6Address("::1"), srv.port)], timeout=2.0,
                          randomcase=True), cache=Cache(0))
    canon, addrs = c.lookup("both.test")
    assert canon == "both.test"
    assert {a for a, _z in addrs} == {IPv6Address("2001:db8::10"), IPv4Address("192.0.2.10")}
    assert srv.udp_queries == 2 and c.stats["rs_answers"] == 2
    # a silent server: both tries time out together, not one after the other
    dead = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    dead.bind(("::1", 0))
    try:
        c2 = Client(ResolvConf(servers=[Server(IPv6Address("::1"), dead.getsockname()[1])],
                               timeout=1.0, attempts=1))
        t = time.monotonic()
        got = c2.query_many("x.test", (dns.A, dns.AAAA))
        assert [a.status for a in got] == [Status.TIMEOUT, Status.TIMEOUT]
        assert time.monotonic() - t < 1.8
        assert c2.stats["rs_timeouts"] == 2
    finally:
        dead.close()


def test_counters_go_to_the_nodes_stats(server_factory: Callable[..., FakeServer]) -> None:
    from types import SimpleNamespace

    from kame import resolv
    from kame.stats import Stats
    srv = server_factory()
    node = SimpleNamespace(stats=Stats(), rtr=SimpleNamespace(rdnss={}), _now=0.0)
    before = dict(resolv.STATS)
    c = Client(ResolvConf(servers=[Server(IPv6Address("::1"), srv.port)], timeout=2.0),
               node=node)
    assert c.query("both.test", dns.AAAA).status is Status.OK
    assert c.query("both.test", dns.AAAA).cached
    assert node.stats["rs_queries"] == 1 and node.stats["rs_answers"] == 1
    assert node.stats["rs_cachehit"] == 1
    assert "1 (kame) DNS answers from the cache" in node.stats.render("rs_")
    assert dict(resolv.STATS) == before  # not counted twice
    c0 = Client(ResolvConf(servers=[Server(IPv6Address("::1"), srv.port)], timeout=2.0))
    c0.query("both.test", dns.A)
    assert resolv.STATS["rs_queries"] == before["rs_queries"] + 1
    assert set(resolv.STATS_NAMES) <= set(node.stats)


def test_a_lost_sibling_query_is_sent_again_not_waited_out() -> None:
    """A and AAAA go out together; the first datagram to a neighbour not yet
    resolved is lost (KAME's hold queue keeps one packet): when the other's
    answer comes and its own does not, it is sent again at once."""
    udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    udp.bind(("::1", 0))
    udp.settimeout(0.2)
    seen: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = udp.recvfrom(65535)
            except TimeoutError:
                continue
            q = dns.parse(data)
            seen.append(q.id)
            if len(seen) == 1:
                continue  # the first datagram is lost
            qn = q.questions[0]
            rec = aaaa(qn.name, "2001:db8::10") if qn.qtype == dns.AAAA else \
                a4(qn.name, "192.0.2.10")
            udp.sendto(reply_to(data, answers=[rec]), peer)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        c = Client(ResolvConf(servers=[Server(IPv6Address("::1"), udp.getsockname()[1])],
                              timeout=5.0), cache=Cache(0))
        t0 = time.monotonic()
        _canon, addrs = c.lookup("both.test")
        assert len(addrs) == 2 and time.monotonic() - t0 < 2.5  # not the 5 s timeout
        assert c.stats["rs_resent"] == 1 and c.stats["rs_timeouts"] == 0
        assert len(seen) == 3 and seen[2] == seen[0]  # the same try: same ID
    finally:
        stop.set()
        t.join()
        udp.close()
