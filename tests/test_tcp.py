"""kame.tcp (issue 9): the byte paths of the core, two of our nodes on the
memory link (random-size transfers byte-exact under loss, reordering and
duplication), the RFC 9293 state diagram (simultaneous open and close,
TIME_WAIT), RFC 5961, SYN floods and cookies, keepalive, persist, PMTU,
stream-socket errno semantics, and a hypothesis state machine."""

from __future__ import annotations

import errno
import random
import socket
import struct
import sys
from ipaddress import IPv6Address
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from tcp_pair import MA, MB, A, B, Pair, pump

from kame import _core
from kame.errors import KameError
from kame.socket import AF_INET6
from kame.socket.stream import (
    IPPROTO_TCP,
    POLLIN,
    POLLOUT,
    SO_KEEPALIVE,
    SO_LINGER,
    SOCK_STREAM,
    SOL_SOCKET,
    TCP_KEEPCNT,
    TCP_KEEPIDLE,
    TCP_KEEPINTVL,
    TCP_NODELAY,
    StreamSocket,
)
from kame.tcp.var import TCPS_CLOSED, TCPS_TIME_WAIT, TH_ACK, TH_FIN, TH_RST, TH_SYN, Tcptw

# --- the core ---------------------------------------------------------------------

@given(st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 400)), max_size=60),
       st.integers(0, 2000))
@settings(max_examples=150, deadline=None)
def test_reass_against_a_model(segs: list[tuple[int, int]], cap: int) -> None:
    """Whatever arrives in whatever order, pull() yields the stream's octets
    in order, and the queue holds no more than its bound beyond rcv_nxt."""
    stream = bytes((i * 7 + 3) & 0xFF for i in range(4000))
    q = _core.TcpReass(cap, 8)
    rcv_nxt = 0
    out = bytearray()
    for off, n in segs:
        before = q.bytes
        r = q.insert(off, stream[off:off + n], rcv_nxt)
        assert r == -1 or q.bytes == before + r
        if off > rcv_nxt:
            assert q.bytes <= max(cap, before)
        got = q.pull(rcv_nxt)
        out += got
        rcv_nxt += len(got)
        for left, right in q.sack_blocks(4):
            assert rcv_nxt < left < right
    assert bytes(out) == stream[:rcv_nxt]


@given(st.binary(max_size=80))
@settings(max_examples=300, deadline=None)
def test_segment_parse_never_crashes(b: bytes) -> None:
    try:
        s = _core.tcp_input_parse(b, IPv6Address(A), IPv6Address(B), verify=False)
    except KameError:
        return
    assert 20 <= s.header_len <= len(b) and len(s.sack) <= 4


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.sampled_from([0x02, 0x12, 0x10, 0x11]),
       st.one_of(st.none(), st.integers(1, 65535)), st.one_of(st.none(), st.integers(0, 14)),
       st.booleans(), st.one_of(st.none(), st.tuples(st.integers(0, 2**32 - 1),
                                                       st.integers(0, 2**32 - 1))),
       st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)), max_size=4),
       st.binary(max_size=100))
@settings(max_examples=150, deadline=None)
def test_segment_round_trip(seq: int, ack: int, flags: int, mss: int | None, ws: int | None,
                            sackp: bool, ts: tuple[int, int] | None,
                            sack: list[tuple[int, int]], payload: bytes) -> None:
    opts = _core.tcp_options(mss, ws, sackp, ts, sack)
    pkt = _core.tcp6_output(IPv6Address(A), IPv6Address(B), 64, 0, 1234, 80, seq, ack, flags,
                            1000, opts, payload)
    s = _core.tcp_input_parse(pkt[40:], IPv6Address(A), IPv6Address(B))
    assert (s.seq, s.ack, s.flags, s.window, s.payload) == (seq, ack, flags, 1000, payload)
    assert (s.mss, s.wscale, s.sack_permitted, s.ts) == (mss, ws, sackp, ts)
    room = (40 - len(_core.tcp_options(mss, ws, sackp, ts)) - 4) // 8
    assert s.sack == sack[:max(0, min(room, 4))]
    bad = bytearray(pkt[40:])
    bad[16] ^= 0xFF
    with pytest.raises(KameError):
        _core.tcp_input_parse(bytes(bad), IPv6Address(A), IPv6Address(B))


# --- two nodes on the memory link ---------------------------------------------------

def test_handshake_options_and_transfer() -> None:
    p = Pair()
    _srv, cli, conn = p.connect()
    assert p.la.poll([(cli, POLLOUT | POLLIN)]) == [(cli, POLLOUT)]
    ci, si = cli.tcp_info(), conn.tcp_info()
    assert ci["state"] == si["state"] == "ESTABLISHED"
    assert ci["mss"] == si["mss"] == 1500 - 60 - 12 and ci["sack"] and ci["ts"]
    assert ci["snd_wscale"] == si["rcv_wscale"] and ci["cc"] == "cubic"
    data = random.Random(1).randbytes(1_000_000)
    assert pump(p, cli, conn, data) == data
    assert p.a.stats["tcps_sndbyte"] == len(data) and p.b.stats["tcps_rcvbyte"] == len(data)
    assert p.b.stats["tcps_sc_completed"] == 1 and p.a.stats["tcps_connects"] == 1


@pytest.mark.parametrize("seed", range(6))
def test_transfers_under_loss_reorder_duplication(seed: int) -> None:
    """Random sizes, both directions, 1-10 % loss, reordering, duplication:
    byte-exact, and the counters show the recovery that explains it."""
    rng = random.Random(seed)
    loss = (0.01, 0.03, 0.05, 0.1, 0.02, 0.07)[seed]
    p = Pair(seed=seed, loss=loss, reorder=0.05, duplicate=0.02,
             knobs={"net.inet.tcp.cc.algorithm": seed % 2})
    _srv, cli, conn = p.connect()
    up = rng.randbytes(rng.randrange(1, 300_000))
    down = rng.randbytes(rng.randrange(1, 100_000))
    assert pump(p, cli, conn, up) == up
    assert pump(p, conn, cli, down) == down
    st_a, st_b = p.a.stats, p.b.stats
    assert st_a["tcps_sndrexmitpack"] + st_b["tcps_sndrexmitpack"] > 0
    assert st_b["tcps_rcvoopack"] > 0 or st_b["tcps_rcvduppack"] > 0
    p.run(130)  # TIME_WAIT ends, nothing left behind
    assert not p.a.tcp.conns and not p.b.tcp.conns


def test_sack_recovery_and_newreno() -> None:
    for sack in (1, 0):
        p = Pair(seed=3, loss=0.03, knobs={"net.inet.tcp.sack.enable": sack,
                                           "net.inet.tcp.cc.algorithm": 0})
        _srv, cli, conn = p.connect()
        data = random.Random(5).randbytes(400_000)
        assert pump(p, cli, conn, data) == data
        if sack:
            assert p.a.stats["tcps_sack_recovery_episode"] > 0
            assert p.a.stats["tcps_sack_rexmits"] > 0
        else:
            assert p.a.stats["tcps_sack_rexmits"] == 0 and cli.tcp_info()["sack"] is False


# --- the state diagram ------------------------------------------------------------------

def test_simultaneous_open_and_close() -> None:
    p = Pair()
    x = p.la.socket(AF_INET6, SOCK_STREAM)
    y = p.lb.socket(AF_INET6, SOCK_STREAM)
    x.bind((A, 5000))
    y.bind((B, 6000))
    for s, dst in ((x, (B, 6000)), (y, (A, 5000))):
        with pytest.raises(BlockingIOError):
            s.connect(dst)
    seen = set()
    for _ in range(40):
        p.run(0.001)
        seen |= {x.tp.statename, y.tp.statename}  # type: ignore[union-attr]
    assert "SYN_RCVD" in seen
    assert x.tcp_info()["state"] == y.tcp_info()["state"] == "ESTABLISHED"
    x.send(b"ping")
    y.send(b"pong")
    p.run(0.5)
    assert x.recv(10) == b"pong" and y.recv(10) == b"ping"
    x.shutdown(1)
    y.shutdown(1)  # both FINs cross: CLOSING on each side, then TIME_WAIT
    seen = set()
    for _ in range(40):
        p.run(0.001)
        seen |= {x.tp.statename, y.tp.statename}  # type: ignore[union-attr]
    assert "CLOSING" in seen
    assert x.tp.state == y.tp.state == TCPS_TIME_WAIT  # type: ignore[union-attr]
    p.run(59)
    assert x.tp.state == TCPS_TIME_WAIT  # type: ignore[union-attr]
    p.run(2)  # 2MSL = 60 s (net.inet.tcp.msl 30000)
    assert x.tp.state == TCPS_CLOSED and x.tp.gone  # type: ignore[union-attr]


def test_time_wait_table_is_bounded_by_maxtcptw() -> None:
    """The side that closes first holds TIME_WAIT for 2MSL; past
    ``net.inet.tcp.maxtcptw`` connections there the oldest ends early
    (FreeBSD's tcp_twstart reusing the oldest tcptw), counted, so a client
    closing connections at any rate holds a bounded table."""
    p = Pair(knobs={"net.inet.tcp.maxtcptw": 3})
    tws = []
    for i in range(7):
        _srv, cli, conn = p.connect(port=100 + i)
        tp = cli.tp
        assert tp is not None
        cli.close()  # a closes first: FIN_WAIT_2, then TIME_WAIT on b's FIN
        p.run(0.2)
        conn.close()
        p.run(0.5)
        tw = p.a.tcp.conns[tp.key]  # the compact TIME_WAIT state in its place
        assert isinstance(tw, Tcptw) and tw.state == TCPS_TIME_WAIT
        tws.append(tw)
        assert len(p.a.tcp.timewait) == min(i + 1, 3)
    assert p.a.stats["tcps_tw_evicted"] == 4
    assert all(t.statename == "CLOSED" and t.gone for t in tws[:4])
    assert not any(p.a.tcp.conns.get(t.key) is t for t in tws[:4])
    assert all(t.statename == "TIME_WAIT" and not t.gone for t in tws[4:])
    assert list(p.a.tcp.timewait.values()) == tws[4:]  # oldest first
    p.run(61)  # 2MSL: the rest end on their timers
    assert not p.a.tcp.timewait and all(t.gone for t in tws)
    assert not any(isinstance(t, Tcptw) for t in p.a.tcp.conns.values())
    assert p.a.stats["tcps_tw_evicted"] == 4


def test_time_wait_ack_keeps_the_offered_window() -> None:
    """TIME_WAIT answers a retransmitted FIN with the window last offered
    (``tcp_twstart`` keeps ``last_win``), not a zero window that the peer,
    or tshark, would take for a closed receiver."""
    p = Pair()
    _srv, cli, conn = p.connect()
    seen: list[tuple[bytes, int, int]] = []  # (source MAC, TCP flags, window)
    state = {"fin_from_b": False, "dropped": 0}

    def tcp_of(frame: bytes) -> tuple[int, int] | None:
        if len(frame) < 14 + 40 + 20 or frame[12:14] != b"\x86\xdd" or frame[14 + 6] != 6:
            return None
        t = frame[54:]
        return t[13], int.from_bytes(t[14:16], "big")

    def drop_first_ack_of_b_fin(frame: bytes) -> bytes | None:
        h = tcp_of(frame)
        if h is None:
            return frame
        if frame[6:12] == MB and h[0] & 0x01:
            state["fin_from_b"] = True
        elif frame[6:12] == MA and state["fin_from_b"] and h[0] == TH_ACK \
                and not state["dropped"]:
            state["dropped"] = 1
            return None
        return frame

    p.link.filters.append(drop_first_ack_of_b_fin)
    p.link.taps.append(lambda _t, f: (h := tcp_of(f)) and seen.append((f[6:12], *h)))
    cli.close()  # a closes first: FIN_WAIT_2, then TIME_WAIT on b's FIN
    p.run(0.5)
    conn.close()
    p.run(5)  # b's FIN is resent after its RTO; a answers from TIME_WAIT
    assert cli.tp.state == TCPS_TIME_WAIT and state["dropped"]  # type: ignore[union-attr]
    acks_from_a = [w for mac, fl, w in seen if mac == MA and not fl & TH_RST]
    assert len(acks_from_a) >= 2 and all(w > 0 for w in acks_from_a), seen
    assert p.b.tcp.conns == {} or all(tp.gone for tp in p.b.tcp.conns.values())


def test_time_wait_is_a_compact_tcptw_answering_fin_and_syn() -> None:
    """``tcp_twstart`` leaves a compact :class:`Tcptw` in the table in the
    Tcpcb's place (no buffers, congestion or timer state, no socket link
    for an orphan); from it TIME_WAIT still acknowledges a retransmitted
    FIN with the kept sequence numbers and window (restarting 2MSL),
    answers an old SYN with that ACK, and lets a SYN with a higher ISN
    reuse the connection (RFC 6191, ``tcps_tw_recycles``)."""
    p = Pair()
    srv, cli, conn = p.connect()
    assert cli.tp is not None and conn.tp is not None
    key_b = conn.tp.key  # b closes first: b holds TIME_WAIT
    a_port = cli.tp.lport
    conn.close()
    p.run(0.5)
    cli.close()
    p.run(0.5)
    tw = p.b.tcp.conns[key_b]
    assert type(tw) is Tcptw and tw.tp is None and tw.so is None and tw.state == TCPS_TIME_WAIT
    assert not hasattr(tw, "__dict__") and sys.getsizeof(tw) < 200
    assert list(p.b.tcp.timewait.values()) == [tw] and tw.tw_last_win > 0
    sent: list[tuple[Any, ...]] = []
    respond = p.b.tcp.tcp_respond
    p.b.tcp.tcp_respond = lambda *a, **k: (sent.append((*a, k)), respond(*a, **k))[1]

    def to_b(seq: int, flags: int) -> None:
        raw = _core.tcp_output_segment(IPv6Address(A).packed, IPv6Address(B).packed, a_port,
                                       key_b[1], seq & 0xFFFFFFFF, tw.snd_nxt & 0xFFFFFFFF,
                                       flags, 1000, b"", b"")
        seg = _core.tcp_input_parse(raw, IPv6Address(A).packed, IPv6Address(B).packed)
        p.b.tcp.tcp_input(IPv6Address(A), IPv6Address(B), seg, 0, 0, p.sim.now)

    t0 = tw.tw_time
    p.run(1.0)
    to_b(tw.rcv_nxt - 1, TH_FIN | TH_ACK)  # a's FIN again: its ACK was lost
    assert len(sent) == 1 and tw.tw_time > t0  # 2MSL restarted
    laddr, faddr, lport, fport, seq, ack, flags, _now, kw = sent[0]
    assert (laddr.packed, lport, faddr.packed, fport, 0) == key_b and flags == TH_ACK
    assert (seq, ack, kw["win"]) == (tw.snd_nxt, tw.rcv_nxt, tw.tw_last_win)
    to_b(tw.rcv_nxt - 100, TH_SYN)  # an old SYN: the ACK of what we have, no reuse
    assert len(sent) == 2 and sent[1][6] == TH_ACK and p.b.tcp.conns[key_b] is tw
    assert p.b.stats["tcps_tw_recycles"] == 0
    # a new connection from the same port with a higher ISN reuses it
    again = p.la.socket(AF_INET6, SOCK_STREAM)
    again.bind((A, a_port))
    with pytest.raises(BlockingIOError):
        again.connect((B, key_b[1]))
    p.run(0.5)
    new, _ = srv.accept()
    assert p.b.stats["tcps_tw_recycles"] == 1 and tw.gone and not p.b.tcp.timewait
    assert type(p.b.tcp.conns[key_b]) is not Tcptw and new.tp is p.b.tcp.conns[key_b]
    assert new.tp.statename == "ESTABLISHED"  # type: ignore[union-attr]
    again.send(b"reused")
    p.run(0.5)
    assert new.recv(100) == b"reused"


def test_connection_refused_and_errno() -> None:
    for profile, unconnected in (("linux", errno.EPIPE), ("netbsd", errno.ENOTCONN)):
        p = Pair(profile)
        c = p.la.socket(AF_INET6, SOCK_STREAM)
        with pytest.raises(OSError) as ei:
            c.send(b"x")
        assert ei.value.errno == unconnected
        with pytest.raises(OSError) as ei:
            c.recv(1)
        assert ei.value.errno == errno.ENOTCONN
        with pytest.raises(BlockingIOError):
            c.connect((B, 81))
        with pytest.raises(OSError) as ei:
            c.connect((B, 81))
        assert ei.value.errno == errno.EALREADY
        p.run(0.5)
        assert p.la.poll([(c, POLLOUT)])[0][1] & 0x08  # POLLERR
        assert c.getsockopt(SOL_SOCKET, 4) == errno.ECONNREFUSED  # SO_ERROR, cleared
        assert c.getsockopt(SOL_SOCKET, 4) == 0
        assert p.b.stats["tcps_noport"] == 1 and p.b.stats["tcps_sndrst"] == 1
        assert p.a.stats["tcps_conndrops"] == 1


def test_eagain_eisconn_epipe_and_reset() -> None:
    p = Pair()
    srv, cli, conn = p.connect()
    with pytest.raises(BlockingIOError):
        conn.recv(10)
    with pytest.raises(BlockingIOError):
        srv.accept()
    with pytest.raises(OSError) as ei:
        cli.connect((B, 80))
    assert ei.value.errno == errno.EISCONN
    cli.shutdown(1)
    with pytest.raises(OSError) as ei:
        cli.send(b"x")
    assert ei.value.errno == errno.EPIPE
    conn.setsockopt(SOL_SOCKET, SO_LINGER, (1, 0))
    conn.close()  # SO_LINGER 0: an abortive close, RST
    p.run(0.1)
    with pytest.raises(OSError) as ei:
        cli.recv(10)
    assert ei.value.errno == errno.ECONNRESET
    assert cli.recv(10) == b""


def test_close_with_unread_data_resets_on_linux() -> None:
    p = Pair()
    _srv, cli, conn = p.connect()
    cli.send(b"never read")
    p.run(0.1)
    conn.close()
    p.run(0.1)
    with pytest.raises(OSError) as ei:
        cli.recv(1)
    assert ei.value.errno == errno.ECONNRESET


def test_backlog_and_listen_drops() -> None:
    p = Pair()
    srv = p.lb.socket(AF_INET6, SOCK_STREAM)
    srv.bind(("::", 80))
    srv.listen(1)  # Linux: backlog + 1 wait
    clis = []
    for _ in range(4):
        c = p.la.socket(AF_INET6, SOCK_STREAM)
        with pytest.raises(BlockingIOError):
            c.connect((B, 80))
        clis.append(c)
    p.run(3.5)  # the first SYN waited for ND (one packet held), the others retransmit
    assert len(srv.acceptq) == 2 and p.b.stats["tcps_listendrop"] > 0
    srv.accept()
    srv.accept()
    p.run(5)  # the dropped ones retransmit and complete now
    assert len(srv.acceptq) == 2


# --- RFC 5961, floods, RST for no PCB ---------------------------------------------------------

def inject(p: Pair, seg: bytes) -> None:
    """Put a forged segment from b to a on the wire (b's MAC and address)."""
    pkt = _core.Ipv6Header(IPv6Address(B), IPv6Address(A), next_header=6, hop_limit=64,
                           payload_len=len(seg)).to_bytes() + seg
    frame = MA + MB + b"\x86\xdd" + pkt
    p.sim.emit(p.a, p.a.receive("eth0", frame, p.sim.now))


def forged(cli: StreamSocket, conn: StreamSocket, flags: int, seq_off: int,
           payload: bytes = b"") -> bytes:
    tp = cli.tp
    assert tp is not None
    return _core.tcp_output_segment(IPv6Address(B), IPv6Address(A), conn.lport, cli.lport,
                                    (tp.rcv_nxt + seq_off) & 0xFFFFFFFF, tp.snd_nxt & 0xFFFFFFFF,
                                    flags, 1000, b"", payload)


def test_rfc5961_blind_rst_syn_and_data() -> None:
    p = Pair()
    _srv, cli, conn = p.connect()
    st = p.a.stats
    inject(p, forged(cli, conn, TH_RST, 1000))          # in window, not exact
    inject(p, forged(cli, conn, TH_SYN, 5))             # SYN in a synchronized state
    inject(p, forged(cli, conn, TH_RST, 10_000_000))     # far outside: silently dropped
    inject(p, forged(cli, conn, TH_ACK, 10_000_000, b"evil"))  # data beyond the window
    assert st["tcps_badrst"] == 1 and st["tcps_syn_inwin"] == 1
    assert st["tcps_challenge_ack"] >= 2 and st["tcps_rcvpackafterwin"] == 1
    for _ in range(10):  # the ack war limit (5 per second)
        inject(p, forged(cli, conn, TH_RST, 100))
    assert st["tcps_challenge_ack_limited"] > 0
    p.run(0.1)
    assert cli.tcp_info()["state"] == "ESTABLISHED"
    cli.send(b"still here")
    p.run(0.2)
    assert conn.recv(100) == b"still here"
    inject(p, forged(cli, conn, TH_RST, 0))  # exactly RCV.NXT: accepted
    assert cli.tp.gone and cli.so_error == errno.ECONNRESET  # type: ignore[union-attr]


def test_syn_flood_cookies_and_survivors() -> None:
    p = Pair(knobs={"net.inet.tcp.syncache.cachelimit": 8})
    srv, cli, conn = p.connect()
    rng = random.Random(7)
    for i in range(300):  # spoofed SYNs that never complete
        seg = _core.tcp_output_segment(IPv6Address(A), IPv6Address(B), 1024 + i, 80,
                                       rng.getrandbits(32), 0, TH_SYN, 1000,
                                       _core.tcp_options(1440), b"")
        pkt = _core.Ipv6Header(IPv6Address(A), IPv6Address(B), next_header=6, hop_limit=64,
                               payload_len=len(seg)).to_bytes() + seg
        p.b.receive("eth0", MB + MA + b"\x86\xdd" + pkt, p.sim.now)
    assert len(p.b.tcp.syncache) <= 8
    assert p.b.stats["tcps_sc_sendcookie"] >= 290
    # a real client completes through a cookie meanwhile
    c2 = p.la.socket(AF_INET6, SOCK_STREAM)
    with pytest.raises(BlockingIOError):
        c2.connect((B, 80))
    p.run(0.5)
    assert c2.tcp_info()["state"] == "ESTABLISHED"
    assert p.b.stats["tcps_sc_recvcookie"] >= 1
    c3, _ = srv.accept()
    c2.send(b"via cookie")
    cli.send(b"old one")
    p.run(0.5)
    assert c3.recv(100) == b"via cookie" and conn.recv(100) == b"old one"
    p.run(20)  # the SYN queue empties (3 SYN,ACK retransmissions)
    assert len(p.b.tcp.syncache) == 0


def test_rst_for_no_connection_is_rate_limited_and_never_for_rst() -> None:
    p = Pair(knobs={"net.inet.tcp.icmplim": 10})
    for i in range(30):
        seg = _core.tcp_output_segment(IPv6Address(A), IPv6Address(B), 2000 + i, 99, 1, 0,
                                       TH_SYN, 1000, b"", b"")
        pkt = _core.Ipv6Header(IPv6Address(A), IPv6Address(B), next_header=6, hop_limit=64,
                               payload_len=len(seg)).to_bytes() + seg
        p.b.receive("eth0", MB + MA + b"\x86\xdd" + pkt, p.sim.now)
    assert p.b.stats["tcps_sndrst"] == 10 and p.b.stats["tcps_rstratelimit"] == 20
    seg = _core.tcp_output_segment(IPv6Address(A), IPv6Address(B), 3000, 99, 1, 0, TH_RST,
                                   1000, b"", b"")
    pkt = _core.Ipv6Header(IPv6Address(A), IPv6Address(B), next_header=6, hop_limit=64,
                           payload_len=len(seg)).to_bytes() + seg
    p.b.receive("eth0", MB + MA + b"\x86\xdd" + pkt, p.sim.now + 5)
    assert p.b.stats["tcps_sndrst"] == 10


def test_multicast_unspecified_and_mapped_addresses_are_dropped() -> None:
    """RFC 9293 §3.9.2.1: ``tcp6_input`` drops a segment to or from a
    multicast address, from the unspecified address or from an IPv4-mapped
    one (``tcps_rcvmcast``), without a RST; from a unicast address the same
    SYN gets its SYN,ACK from the listener."""
    from types import SimpleNamespace

    p = Pair()
    ls = p.lb.socket(AF_INET6, SOCK_STREAM)
    ls.bind(("::", 80))
    ls.listen(8)
    tcp = p.b.tcp
    cases = [(A, "ff02::1"), (A, "ff0e::1:2"), ("ff02::1", B), ("ff05::2", B), ("::", B),
             ("::ffff:192.0.2.1", B), (A, B)]
    for i, (src, dst) in enumerate(cases):
        sa, da = IPv6Address(src), IPv6Address(dst)
        seg = _core.tcp_output_segment(sa.packed, da.packed, 3000 + i, 80, 1, 0, TH_SYN, 1000,
                                       b"", b"")
        before = (p.b.stats["tcps_rcvmcast"], p.b.stats["tcps_sndtotal"],
                  p.b.stats["tcps_sndrst"])
        tcp.tcp6_input("eth0", SimpleNamespace(src=sa, dst=da, traffic_class=0), seg,
                       p.sim.now)
        after = (p.b.stats["tcps_rcvmcast"], p.b.stats["tcps_sndtotal"],
                 p.b.stats["tcps_sndrst"])
        if (src, dst) == (A, B):
            assert after == (before[0], before[1] + 1, before[2])  # the SYN,ACK
        else:
            assert after == (before[0] + 1, before[1], before[2]), (src, dst)


def test_bad_segments_are_counted_drops() -> None:
    p = Pair()
    good = _core.tcp_output_segment(IPv6Address(A), IPv6Address(B), 1, 2, 3, 4, TH_ACK, 5, b"",
                                    b"data")
    for body, counter in ((good[:10], "tcps_rcvshort"),
                          (good[:16] + b"\0\0" + good[18:], "tcps_rcvbadsum"),
                          (good[:12] + b"\x20" + good[13:], "tcps_rcvbadoff")):
        pkt = _core.Ipv6Header(IPv6Address(A), IPv6Address(B), next_header=6, hop_limit=64,
                               payload_len=len(body)).to_bytes() + body
        p.b.receive("eth0", MB + MA + b"\x86\xdd" + pkt, p.sim.now)
        assert p.b.stats[counter] == 1, counter
    assert p.b.stats["tcps_sndrst"] == 0


# --- timers ------------------------------------------------------------------------------------

def test_keepalive_finds_a_dead_peer() -> None:
    p = Pair()
    _srv, cli, _conn = p.connect()
    cli.setsockopt(SOL_SOCKET, SO_KEEPALIVE, 1)
    cli.setsockopt(IPPROTO_TCP, TCP_KEEPIDLE, 10)
    cli.setsockopt(IPPROTO_TCP, TCP_KEEPINTVL, 2)
    cli.setsockopt(IPPROTO_TCP, TCP_KEEPCNT, 3)
    p.run(11)
    assert p.a.stats["tcps_keepprobe"] == 1 and cli.tcp_info()["state"] == "ESTABLISHED"
    p.link.loss = 1.0  # the peer goes away
    p.run(30)
    assert p.a.stats["tcps_keepdrops"] == 1
    with pytest.raises(OSError) as ei:
        cli.recv(1)
    assert ei.value.errno == errno.ETIMEDOUT


def test_zero_window_persist_and_nodelay() -> None:
    p = Pair()
    _srv, cli, conn = p.connect()
    conn.tp.rcv.cap = 4096  # type: ignore[union-attr]
    cli.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
    data = random.Random(2).randbytes(20_000)
    sent = cli.send(data)
    p.run(30)  # the receiver never reads: zero window, persist probes
    assert p.a.stats["tcps_persisttimeo"] >= 2 and p.a.stats["tcps_sndprobe"] >= 2
    assert cli.tcp_info()["state"] == "ESTABLISHED"
    got = bytearray()
    for _ in range(200):
        try:
            got += conn.recv(65536)
        except BlockingIOError:
            pass
        p.run(0.05)
    assert bytes(got) == data[:sent]


def test_rto_backoff_and_timeout() -> None:
    p = Pair(knobs={"net.inet.tcp.rexmit_min": 200})
    _srv, cli, _conn = p.connect()
    p.link.loss = 1.0
    cli.send(b"lost")
    p.run(1000)
    assert p.a.stats["tcps_rexmttimeo"] == 12 and p.a.stats["tcps_timeoutdrop"] == 1
    with pytest.raises(OSError) as ei:
        cli.send(b"x")
    assert ei.value.errno == errno.ETIMEDOUT


def test_packet_too_big_lowers_the_mss() -> None:
    p = Pair()
    _srv, cli, conn = p.connect()
    data = random.Random(3).randbytes(50_000)
    cli.send(data)
    tp = cli.tp
    assert tp is not None
    # a router says 1400: the ICMPv6 PTB quoting one of our segments in flight
    inv = _core.tcp6_output(IPv6Address(A), IPv6Address(B), 64, 0, cli.lport, 80,
                            tp.snd_una & 0xFFFFFFFF, 0, TH_ACK, 0, b"", b"x" * 1000)
    err = _core.Icmpv6Error(2, 0, 1400, inv)
    from kame.nd6 import codec
    pkt = codec.build_icmp6_packet(IPv6Address(B), IPv6Address(A), err, 64)
    p.sim.emit(p.a, p.a.receive("eth0", MA + MB + b"\x86\xdd" + pkt, p.sim.now))
    assert tp.t_maxopd == 1400 - 60 and p.a.stats["tcps_mturesent"] == 1
    got = bytearray()
    for _ in range(100):
        p.run(0.05)
        try:
            got += conn.recv(65536)
        except BlockingIOError:
            pass
    assert bytes(got) == data


def test_loopback_connection() -> None:
    p = Pair()
    srv = p.la.socket(AF_INET6, SOCK_STREAM)
    srv.bind(("::1", 7))
    srv.listen()
    c = p.la.socket(AF_INET6, SOCK_STREAM)
    c.connect(("::1", 7))  # completes at once over the loopback
    s, peer = srv.accept()
    assert peer[0] == "::1"
    c.send(b"echo")
    assert s.recv(10) == b"echo"


# --- the state diagram under random events (hypothesis) ------------------------------

class TcpMachine(RuleBasedStateMachine):
    """Random application calls, loss and time on a connected pair: the
    stream is a prefix of what was sent, states stay legal, and once the
    link heals and time passes both ends reach CLOSED or TIME_WAIT."""

    def __init__(self) -> None:
        super().__init__()
        self.p = Pair(seed=4)
        _srv, self.cli, self.conn = self.p.connect()
        self.sent = {id(self.cli): bytearray(), id(self.conn): bytearray()}
        self.got = {id(self.cli): bytearray(), id(self.conn): bytearray()}
        self.rng = random.Random(0)
        self.aborted = False

    def ends(self) -> tuple[StreamSocket, StreamSocket]:
        return self.cli, self.conn

    @rule(which=st.booleans(), n=st.integers(1, 30000))
    def send(self, which: bool, n: int) -> None:
        s = self.ends()[which]
        try:
            k = s.send(self.rng.randbytes(n))
        except (BlockingIOError, OSError):
            return
        assert s.tp is not None
        self.sent[id(s)] += s.tp.snd.peek(len(s.tp.snd) - k, k)

    @rule(which=st.booleans())
    def recv(self, which: bool) -> None:
        s = self.ends()[which]
        try:
            self.got[id(s)] += s.recv(1 << 20)
        except (BlockingIOError, OSError):
            pass

    @rule(which=st.booleans())
    def shutdown(self, which: bool) -> None:
        try:
            self.ends()[which].shutdown(1)
        except OSError:
            pass

    @precondition(lambda self: not self.aborted)
    @rule(which=st.booleans())
    def abort(self, which: bool) -> None:
        s = self.ends()[which]
        s.setsockopt(SOL_SOCKET, SO_LINGER, (1, 0))
        s.close()
        self.aborted = True

    @rule(loss=st.sampled_from([0.0, 0.0, 0.1, 0.5]), dt=st.sampled_from([0.001, 0.05, 0.5, 3.0]))
    def time_passes(self, loss: float, dt: float) -> None:
        self.p.link.loss = loss
        self.p.run(dt)

    @invariant()
    def stream_is_a_prefix(self) -> None:
        a, b = self.ends()
        assert bytes(self.got[id(b)]) == bytes(self.sent[id(a)][:len(self.got[id(b)])])
        assert bytes(self.got[id(a)]) == bytes(self.sent[id(b)][:len(self.got[id(a)])])
        for s in (a, b):
            if s.tp is not None:
                assert 0 <= s.tp.state <= TCPS_TIME_WAIT
                assert s.tp.snd_una <= s.tp.snd_nxt <= s.tp.snd_max or s.tp.gone

    def teardown(self) -> None:
        self.p.link.loss = 0.0
        for s in self.ends():
            try:
                s.shutdown(1)
            except OSError:
                pass
        for _ in range(40):
            self.p.run(5)
            for s in self.ends():
                try:
                    self.got[id(s)] += s.recv(1 << 22)
                except (BlockingIOError, OSError):
                    pass
        for s in self.ends():
            if s.tp is not None:
                assert s.tp.gone or s.tp.state == TCPS_TIME_WAIT, s.tp.statename
        if not self.aborted:
            a, b = self.ends()
            assert self.got[id(b)] == self.sent[id(a)] and self.got[id(a)] == self.sent[id(b)]


TestTcpMachine = TcpMachine.TestCase
TestTcpMachine.settings = settings(max_examples=15, stateful_step_count=25, deadline=None)


def _held_time_wait(p: Pair, unread: int = 1000, n: int = 200_000) -> Any:
    """A connection whose accepted side ``b`` received ``n`` octets (reading
    all but ``unread``), sent ``n`` and closed first while its application
    still holds the socket: b's socket in TIME_WAIT."""
    _srv, cli, conn = p.connect()
    data = random.Random(5).randbytes(n)
    sent, got = 0, 0
    while got < n - unread:
        while sent < n:
            try:
                sent += cli.send(data[sent:sent + 65536])
            except BlockingIOError:
                break
        p.run(0.05)
        try:
            got += len(conn.recv(min(65536, n - unread - got)))
        except BlockingIOError:
            pass
    assert pump(p, conn, cli, data) == data  # b sends n and its FIN first
    cli.close()
    p.run(1.0)
    return conn, data[n - unread:]


def test_a_held_time_wait_socket_keeps_only_its_unread_data() -> None:
    """A socket the application still holds in TIME_WAIT: the table has the
    compact Tcptw; the socket's Tcpcb keeps its unread data in a buffer of
    its own size, an empty send buffer, no out-of-order queue or SACK
    scoreboard; SO_SNDBUF/SO_RCVBUF read back as before; recv gives the
    unread octets, then EOF."""
    p = Pair()
    conn, rest = _held_time_wait(p)
    tp = conn.tp
    assert tp is not None and tp.state == TCPS_TIME_WAIT and tp.t_tw is not None
    assert p.b.tcp.conns[tp.key] is tp.t_tw and isinstance(tp.t_tw, Tcptw)
    assert len(tp.snd) == 0 and len(tp.rcv) == len(rest) and not tp.sackhint_blocks
    # the room the buffers had at their fullest is given back
    assert tp.snd.allocated == 0 and len(rest) <= tp.rcv.allocated < 2 * len(rest)
    assert tp.snd.cap == conn.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    assert tp.rcv.cap == conn.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    assert conn.recv(100_000) == rest
    assert conn.recv(100) == b""


@pytest.mark.parametrize(("level", "opt", "mode", "taken"), [
    (41, 23, 1, True), (41, 23, 2, True), (41, 23, 4, False), (41, 23, 5, False),
    (0, 10, 0, True)])  # IP_MTU_DISCOVER is for IPv4 peers: an IPv6 one takes the PTB
def test_a_packet_too_big_shrinks_segments_unless_the_socket_says_not(
        level: int, opt: int, mode: int, taken: bool) -> None:
    """Linux's ``tcp_v6_err``: a socket of ``IPV6_PMTUDISC_INTERFACE`` or
    ``_OMIT`` ignores Packet Too Big (``ip6_sk_accept_pmtu``); the others
    send smaller segments."""
    import types
    p = Pair()
    _srv, cli, _conn = p.connect()
    cli.setsockopt(level, opt, mode)
    tp = cli.tp
    assert tp is not None
    cli.send(bytes(20_000))
    before = tp.t_maxseg
    now = p.a._now
    p.a.pmtu_update(IPv6Address(B), 1280, now)
    inv = (struct.pack("!IHBB", 0x60000000, 1400, 6, 64) + IPv6Address(A).packed
           + IPv6Address(B).packed + struct.pack("!HHI", tp.lport, tp.fport,
                                                 tp.snd_una & 0xFFFFFFFF))
    p.a.tcp.tcp6_ctlinput(types.SimpleNamespace(type=2, code=0, ifname="eth0"), inv, now)
    assert (tp.t_maxseg < before) == taken, (before, tp.t_maxseg)
