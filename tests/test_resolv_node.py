"""The resolver over a node's own sockets on a memory link (kame.resolv's
``_NodeUdp`` driver under a :class:`kame.socket.blocking.Stack`): a DNS
server on a second node of the link answers from the runner's passes.

A lookup must be driven by the thread that asks: the datagrams it queued
cross the link and the answers come back in passes it makes itself, not at
the runner thread's next timer (up to half a second away) nor never (no
runner thread at all)."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from kame import dns, netdb
from kame.knobs import Knobs
from kame.link.memory import MemoryLink
from kame.link.runner import Runner
from kame.node import Node
from kame.resolv import Cache, Client, ResolvConf, Server, Urandom
from kame.socket import SocketLayer
from kame.socket.blocking import Stack

CLIENT, SERVER = "2001:db8:53::1", "2001:db8:53::53"


class Rig:
    """Two nodes on a memory link; the second answers DNS on port 53 from
    ``runner.after_service`` (so in whichever thread makes the pass)."""

    def __init__(self) -> None:
        knobs = Knobs({"net.inet6.ip6.dad_count": 0})
        self.link = MemoryLink()
        self.runner = Runner()
        self.client = Node("c", knobs=knobs, seed=1)
        self.server = Node("s", knobs=knobs, seed=2)
        now = self.runner.clock()
        for node, mac, addr in ((self.client, "020000005301", CLIENT),
                                (self.server, "020000005302", SERVER)):
            node.add_interface("eth0", bytes.fromhex(mac))
            self.runner.attach_link(node, "eth0", self.link)
            self.runner.transmit(node, node.up("eth0", now))
            node.add_address("eth0", f"{addr}/64", now)
        self.srv = SocketLayer(self.server, "linux").socket(socket.AF_INET6,
                                                            socket.SOCK_DGRAM, 0)
        self.srv.bind(("::", 53))
        self.queries = 0
        self.passes = 0
        self.runner.after_service.append(self._serve)
        self.layer = SocketLayer(self.client, "linux")
        self.runner.service()

    def _serve(self) -> None:
        self.passes += 1
        while True:
            try:
                data, peer = self.srv.recvfrom(65535)
            except BlockingIOError:
                return
            self.queries += 1
            q = dns.parse(data)
            qu = q.questions[0]
            recs = []
            if qu.qtype == dns.AAAA:
                a6 = IPv6Address("2001:db8:53::80")
                recs = [dns.Record(qu.name, dns.AAAA, dns.IN, 300, a6.packed, a6)]
            elif qu.qtype == dns.A:
                a4 = IPv4Address("192.0.2.80")
                recs = [dns.Record(qu.name, dns.A, dns.IN, 300, a4.packed, a4)]
            w = dns.Message(q.id, 0x8180, [qu], recs, []).emit()
            self.srv.sendto(w, peer)

    def resolver(self, stack: Stack) -> netdb.Resolver:
        conf = ResolvConf(servers=[Server(IPv6Address(SERVER))], timeout=3.0, attempts=1)
        return netdb.Resolver(dns=Client(conf, factory=stack, cache=Cache(0)))


@pytest.fixture
def rig() -> Iterator[Rig]:
    yield Rig()


def lookup(st: Stack) -> set[Any]:
    return {ai[4][0] for ai in st.getaddrinfo("www.test", 80, 0, socket.SOCK_STREAM)}


def test_lookup_without_a_runner_thread(rig: Rig) -> None:
    """No runner thread: the asking thread makes every pass itself (it
    used to wait on the stack's condition for passes nobody made, until
    the try timed out: EAI_AGAIN after 3 s)."""
    st = Stack(rig.layer, rig.runner)   # not started
    st.resolver = rig.resolver(st)
    t = time.monotonic()
    assert lookup(st) == {"2001:db8:53::80", "192.0.2.80"}
    assert time.monotonic() - t < 2.0
    assert rig.queries == 2
    # the queries out and across, the answers across and in: a handful of passes
    before = rig.passes
    assert lookup(st) == {"2001:db8:53::80", "192.0.2.80"}
    assert rig.passes - before <= 6


def test_lookups_do_not_wait_for_the_runner_threads_timer(rig: Rig) -> None:
    """With the runner thread up (asleep in ``select`` until its next
    timer, up to 0.5 s): each lookup takes a few passes' time, not a timer
    interval."""
    with Stack(rig.layer, rig.runner) as st:
        st.resolver = rig.resolver(st)
        lookup(st)   # neighbour discovery
        times = []
        for _ in range(7):
            t = time.monotonic()
            assert lookup(st) == {"2001:db8:53::80", "192.0.2.80"}
            times.append(time.monotonic() - t)
        times.sort()
        assert times[len(times) // 2] < 0.15, times


# --- the default draws (IDs, ports) ------------------------------------------------------


@given(hs.integers(0, 130))
def test_urandom_bits_within_range(k: int) -> None:
    r = Urandom()
    for _ in range(20):
        assert 0 <= r.getrandbits(k) < 2 ** k
    assert 0.0 <= r.random() < 1.0


def test_urandom_ids_and_ports_spread() -> None:
    """Fresh octets for every draw: 2,000 16-bit IDs from a 256-octet pool
    refilled again and again are nearly all distinct (a reused pool would
    repeat them), ports stay within 1024-65535."""
    r = Urandom()
    ids = [r.randrange(0, 0x10000) for _ in range(2000)]
    assert len(set(ids)) > 1900
    ports = [r.randrange(1024, 65536) for _ in range(2000)]
    assert min(ports) >= 1024 and max(ports) <= 65535
    with pytest.raises(ValueError):
        r.getrandbits(-1)


def test_urandom_forked_child_draws_afresh() -> None:
    r = Urandom()
    r.getrandbits(8)   # the pool is filled
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: its next draw, to the parent
        os.write(wr, r.getrandbits(128).to_bytes(16, "big"))
        os._exit(0)
    os.close(wr)
    child = int.from_bytes(os.read(rd, 16), "big")
    os.close(rd)
    os.waitpid(pid, 0)
    assert child != r.getrandbits(128)
