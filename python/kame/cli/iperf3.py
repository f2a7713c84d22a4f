"""iperf3 over the node's own TCP: ``kame iperf3 -s`` and ``kame iperf3 -c
HOST`` run an iperf3 server or client *inside* a running ``kame node``
(started over its control socket; the data never leaves the node process),
speaking iperf3's protocol, so that the real ``iperf3`` runs tests against
the node and the node against a real ``iperf3 -s``.

The protocol (iperf3's ``iperf_api.c``, ``iperf_client_api.c``,
``iperf_server_api.c``), TCP tests only:

1. the client opens the control connection and sends a 37-octet cookie
   (36 characters of ``[a-z2-7]`` and a NUL);
2. the server answers the state ``PARAM_EXCHANGE`` (one signed octet); the
   client sends its parameters as JSON after a 32-bit big-endian length
   (``tcp``, ``time``, ``num``, ``blockcount``, ``parallel``, ``reverse``,
   ``len``, ``omit``...);
3. the server answers ``CREATE_STREAMS``; the client opens ``parallel``
   data connections to the same port, each starting with the cookie (a
   data connection with another cookie gets ``ACCESS_DENIED``, as does a
   second client while a test runs);
4. the server sends ``TEST_START`` and ``TEST_RUNNING``; the sender (the
   client, or the server with ``reverse``) writes blocks of ``len`` octets
   until the client's end condition (``time`` seconds, ``num`` octets or
   ``blockcount`` blocks) is met, when the client sends ``TEST_END``;
5. the server closes the data connections and sends ``EXCHANGE_RESULTS``;
   the client sends its results (JSON: CPU use, and per stream ``id``,
   ``bytes``, ``retransmits``, ``start_time``, ``end_time``...), the server
   its own; the server sends ``DISPLAY_RESULTS``, the client ``IPERF_DONE``.

Both ends are non-blocking state machines over :mod:`kame.socket` stream
sockets, stepped by the node's loop (:class:`kame.cli.inetd.Apps`); every
input is bounded (the parameters and results JSON at 8 KiB and 64 KiB as
iperf3's ``MAX_PARAMS_JSON_STRING``, the test's duration, streams and
block size at iperf3's limits) and every failure ends the test with an
``error`` event, never an exception in the node.

Reports are events (dicts, ``{"event": "iperf3", "kind": ...}``) pushed to
the control connection that started the test; :func:`event_text` renders
them as iperf3 prints its text report, :func:`json_report` as ``iperf3 -J``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import struct
import sys
import time
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

from kame.cli.args import UsageError, int_range
from kame.cli.inetd import open_listener
from kame.socket import AF_INET, AF_INET6
from kame.socket.const import IPPROTO_IPV6, IPV6_V6ONLY
from kame.socket.stream import IPPROTO_TCP, SOCK_STREAM, TCP_NODELAY

__all__ = ["Iperf3Client", "Iperf3Server", "add_parser", "event_text", "json_report"]

# --- iperf_api.h ---------------------------------------------------------------
TEST_START = 1
TEST_RUNNING = 2
TEST_END = 4
PARAM_EXCHANGE = 9
CREATE_STREAMS = 10
SERVER_TERMINATE = 11
CLIENT_TERMINATE = 12
EXCHANGE_RESULTS = 13
DISPLAY_RESULTS = 14
IPERF_START = 15
IPERF_DONE = 16
ACCESS_DENIED = -1
SERVER_ERROR = -2
STATE_NAMES = {1: "TEST_START", 2: "TEST_RUNNING", 4: "TEST_END", 9: "PARAM_EXCHANGE",
               10: "CREATE_STREAMS", 11: "SERVER_TERMINATE", 12: "CLIENT_TERMINATE",
               13: "EXCHANGE_RESULTS", 14: "DISPLAY_RESULTS", 15: "IPERF_START",
               16: "IPERF_DONE", -1: "ACCESS_DENIED", -2: "SERVER_ERROR"}

COOKIE_SIZE = 37
COOKIE_CHARS = "abcdefghijklmnopqrstuvwxyz234567"
DEFAULT_PORT = 5201
DEFAULT_TIME = 10
DEFAULT_TCP_BLKSIZE = 128 * 1024
#: iperf3's limits (``iperf.h``): MAX_TIME 86400 s, MAX_STREAMS 128,
#: MAX_BLOCKSIZE 1 MB (TCP), MAX_PARAMS_JSON_STRING 8 KiB.
MAX_TIME = 86400
MAX_STREAMS = 128
MAX_BLOCKSIZE = 1024 * 1024
MAX_PARAMS_JSON = 8 * 1024
MAX_RESULTS_JSON = 64 * 1024
#: i_errno values sent with SERVER_ERROR (``iperf_api.h``).
IEDURATION, IENUMSTREAMS, IEBLOCKSIZE, IEUNIMP, IERECVPARAMS = 5, 6, 7, 13, 114
#: Seconds without progress before a test is given up.
IDLE_TIMEOUT = 30.0
#: Octets one stream moves in one step before the node gets its turn.
STEP_BYTES = 4 << 20

_BLOCK = random.Random(5201).randbytes(MAX_BLOCKSIZE)


def make_cookie(rng: random.Random | None = None) -> bytes:
    r = rng or random.SystemRandom()
    return "".join(r.choice(COOKIE_CHARS) for _ in range(COOKIE_SIZE - 1)).encode() + b"\0"


class ProtocolError(Exception):
    """The peer broke the protocol, or the test cannot go on."""


def _cpu() -> tuple[float, float, float]:
    t = os.times()
    return time.monotonic(), t.user, t.system


def _cpu_util(start: tuple[float, float, float]) -> dict[str, float]:
    now = _cpu()
    wall = max(now[0] - start[0], 1e-9)
    user = 100.0 * (now[1] - start[1]) / wall
    system = 100.0 * (now[2] - start[2]) / wall
    return {"cpu_util_total": user + system, "cpu_util_user": user, "cpu_util_system": system}


class _Chan:
    """One connection's buffered input (bounded) and queued output."""

    __slots__ = ("eof", "error", "inbuf", "out", "s")

    def __init__(self, s: Any) -> None:
        self.s = s
        self.inbuf = bytearray()
        self.out = bytearray()
        self.eof = False
        #: a reset or other error: what arrived before it is still read
        self.error: OSError | None = None

    def gone(self) -> str:
        """Why the connection ended, in words."""
        if self.error is not None:
            return _why(self.error)
        return "closed"

    def pull(self, limit: int = MAX_RESULTS_JSON + 64) -> None:
        while not self.eof and len(self.inbuf) < limit:
            try:
                d = self.s.recv(limit - len(self.inbuf))
            except BlockingIOError:
                return
            except OSError as e:
                self.error, self.eof = e, True
                return
            if not d:
                self.eof = True
                return
            self.inbuf += d

    def take(self, n: int) -> bytes | None:
        if len(self.inbuf) < n:
            return None
        d = bytes(self.inbuf[:n])
        del self.inbuf[:n]
        return d

    def take_state(self) -> int | None:
        b = self.take(1)
        return None if b is None else struct.unpack("b", b)[0]

    def take_json(self, cap: int) -> dict[str, Any] | None:
        if len(self.inbuf) < 4:
            return None
        (n,) = struct.unpack("!I", self.inbuf[:4])
        if n == 0 or n > cap:
            raise ProtocolError(f"JSON of {n} octets (at most {cap})")
        if len(self.inbuf) < 4 + n:
            return None
        raw = bytes(self.inbuf[4:4 + n])
        del self.inbuf[:4 + n]
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError):
            raise ProtocolError("bad JSON from the peer") from None
        if not isinstance(obj, dict):
            raise ProtocolError("the peer's JSON is not an object")
        return obj

    def put_state(self, st: int) -> None:
        self.out += struct.pack("b", st)
        self.flush()

    def put_json(self, obj: dict[str, Any]) -> None:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        self.out += struct.pack("!I", len(raw)) + raw
        self.flush()

    def flush(self) -> None:
        while self.out:
            try:
                n = self.s.send(bytes(self.out))
            except BlockingIOError:
                return
            except OSError as e:  # reset: the reads will say so, after what arrived
                self.error = e
                self.out.clear()
                return
            del self.out[:n]


def _why(e: OSError) -> str:
    """An error in words (``Connection refused``), as strerror(3) says it."""
    return os.strerror(e.errno) if e.errno else str(e)


def _addr(a: Any) -> str:
    if isinstance(a, IPv6Address) and a.ipv4_mapped is not None:
        return str(a.ipv4_mapped)
    return str(a)


class _Stream:
    __slots__ = ("blkoff", "bytes", "chan", "end", "id", "interval_bytes", "interval_retr",
                 "retr0", "start")

    def __init__(self, sid: int, chan: _Chan) -> None:
        self.id = sid
        self.chan = chan
        self.bytes = 0
        self.blkoff = 0  # where in the current block the next send starts
        self.interval_bytes = 0
        self.interval_retr = 0
        self.retr0 = 0
        self.start = 0.0
        self.end = 0.0

    def retransmits(self) -> int:
        tp = getattr(self.chan.s, "tp", None)
        return int(tp.t_sndrexmitpack) if tp is not None else 0

    def names(self) -> dict[str, Any]:
        s = self.chan.s
        return {"socket": self.id, "local_host": _addr(s.laddr), "local_port": s.lport,
                "remote_host": _addr(s.faddr), "remote_port": s.fport}


def _stream_ids(n: int) -> list[int]:
    """iperf3 numbers its streams 1, 3, 4, 5... (``iperf_add_stream``)."""
    return [1] + list(range(3, n + 2))


class _Test:
    """What the two roles share: streams, moving data, intervals, results."""

    done: bool
    emit: Callable[[dict[str, Any]], None]

    def __init__(self) -> None:
        self.streams: list[_Stream] = []
        self.sender = False
        self.blksize = DEFAULT_TCP_BLKSIZE
        self.duration = DEFAULT_TIME
        self.num = 0
        self.blockcount = 0
        self.t_start = 0.0
        self.t_end = 0.0
        self.t_interval = 0.0
        self.progress_at = 0.0
        self.cpu0 = _cpu()
        self.peer_results: dict[str, Any] | None = None

    def total(self) -> int:
        return sum(st.bytes for st in self.streams)

    def start_running(self, now: float) -> None:
        self.t_start = self.t_interval = self.progress_at = now
        self.cpu0 = _cpu()
        for st in self.streams:
            st.start = now
            st.retr0 = st.retransmits()

    def move(self, now: float) -> None:
        """Write blocks (sender) or read everything (receiver) on each stream."""
        for st in self.streams:
            s = st.chan.s
            moved = 0
            try:
                if self.sender:
                    while moved < STEP_BYTES and not self._sent_enough():
                        # whole blocks, as iperf3's blocking writes: a short
                        # send is completed before the next block starts
                        n = s.send(_BLOCK[st.blkoff:self.blksize])
                        st.blkoff = (st.blkoff + n) % self.blksize
                        st.bytes += n
                        st.interval_bytes += n
                        moved += n
                else:
                    while moved < STEP_BYTES:
                        d = s.recv(1 << 20)
                        if not d:
                            break
                        st.bytes += len(d)
                        st.interval_bytes += len(d)
                        moved += len(d)
            except BlockingIOError:
                pass
            except OSError as e:
                raise ProtocolError(f"data stream {st.id}: {_why(e)}") from None
            if moved:
                self.progress_at = now

    def _sent_enough(self) -> bool:
        if any(st.blkoff for st in self.streams):
            return False  # finish the block under way
        t = self.total()
        return bool((self.num and t >= self.num) or
                    (self.blockcount and t >= self.blockcount * self.blksize))

    def end_reached(self, now: float) -> bool:
        t = self.total()
        if self.num:
            return t >= self.num
        if self.blockcount:
            return t >= self.blockcount * self.blksize
        return now - self.t_start >= self.duration

    def intervals(self, now: float, force: bool = False) -> None:
        if not self.t_start or (now - self.t_interval < 1.0 and not force):
            return
        if now <= self.t_interval:
            return
        rows = []
        for st in self.streams:
            retr = st.retransmits() - st.retr0 if self.sender else None
            rows.append({"socket": st.id, "start": self.t_interval - self.t_start,
                         "end": now - self.t_start, "bytes": st.interval_bytes,
                         "retransmits": None if retr is None else retr - st.interval_retr,
                         "sender": self.sender})
            if retr is not None:
                st.interval_retr = retr
            st.interval_bytes = 0
        self.t_interval = now
        self.emit({"event": "iperf3", "kind": "interval", "streams": rows})

    def results(self) -> dict[str, Any]:
        """``send_results``: what this side tells the other."""
        out: dict[str, Any] = dict(_cpu_util(self.cpu0))
        out["sender_has_retransmits"] = 1 if self.sender else -1
        cc = None
        rows = []
        for st in self.streams:
            tp = getattr(st.chan.s, "tp", None)
            if tp is not None:
                cc = tp.cc.name
            rows.append({"id": st.id, "bytes": st.bytes,
                         "retransmits": st.retransmits() - st.retr0 if self.sender else -1,
                         "jitter": 0, "errors": 0, "omitted_errors": 0, "packets": 0,
                         "omitted_packets": 0, "start_time": 0,
                         "end_time": max(self.t_end - self.t_start, 0.0)})
        if cc is not None:
            out["congestion_used"] = cc
        out["streams"] = rows
        return out

    def take_peer_results(self, obj: dict[str, Any]) -> None:
        streams = obj.get("streams")
        if not isinstance(streams, list) or len(streams) > MAX_STREAMS:
            raise ProtocolError("the peer's results have no streams")
        ids = {st.id for st in self.streams}
        for row in streams:
            if not isinstance(row, dict) or row.get("id") not in ids or \
                    not isinstance(row.get("bytes"), (int, float)):
                raise ProtocolError("the peer's results name an unknown stream")
        self.peer_results = obj

    def summary(self, role: str) -> dict[str, Any]:
        secs = max(self.t_end - self.t_start, 1e-9)
        peer: dict[int, dict[str, Any]] = {}
        if self.peer_results is not None:
            peer = {int(r["id"]): r for r in self.peer_results["streams"]}
        rows = []
        for st in self.streams:
            p = peer.get(st.id, {})
            pb = int(p.get("bytes", 0))
            pt = float(p.get("end_time", secs) or secs) - float(p.get("start_time", 0) or 0)
            mine = {"bytes": st.bytes, "seconds": secs,
                    "retransmits": st.retransmits() - st.retr0 if self.sender else None}
            theirs = {"bytes": pb, "seconds": max(pt, 1e-9),
                      "retransmits": p.get("retransmits") if not self.sender else None}
            rows.append({"socket": st.id, "sender": mine if self.sender else theirs,
                         "receiver": theirs if self.sender else mine})
        return {"event": "iperf3", "kind": "end", "role": role, "we_sent": self.sender,
                "streams": rows, "cpu": _cpu_util(self.cpu0),
                "peer_cpu": {k: self.peer_results.get(k) for k in
                             ("cpu_util_total", "cpu_util_user", "cpu_util_system")}
                if self.peer_results else None}

    def close_streams(self) -> None:
        for st in self.streams:
            st.chan.s.close()


def _params_ok(p: dict[str, Any]) -> tuple[int, str] | None:
    """Why a client's parameters are refused (an i_errno and words), or None."""
    def num(k: str, lo: int, hi: int) -> bool:
        v = p.get(k, lo)
        return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi
    if p.get("tcp") is not True or p.get("udp") or p.get("sctp"):
        return IEUNIMP, "only TCP tests"
    if p.get("bidirectional"):
        return IEUNIMP, "no bidirectional tests"
    if not num("time", 0, MAX_TIME):
        return IEDURATION, "time"
    if not num("parallel", 1, MAX_STREAMS):
        return IENUMSTREAMS, "parallel"
    if not num("len", 1, MAX_BLOCKSIZE):
        return IEBLOCKSIZE, "len"
    if not num("num", 0, 1 << 53) or not num("blockcount", 0, 1 << 53) or not num("omit", 0, 600):
        return IERECVPARAMS, "num, blockcount or omit"
    return None


class Iperf3Server:
    """``iperf3 -s`` on the node: one test at a time (``one_off``: one only)."""

    def __init__(self, layer: Any, port: int = DEFAULT_PORT, *, family: str = "46",
                 emit: Callable[[dict[str, Any]], None], one_off: bool = False) -> None:
        self.layer = layer
        self.port = port
        self.emit = emit
        self.one_off = one_off
        self.ls = open_listener(layer, "tcp", family, port)
        self.test: _ServerTest | None = None
        self.done = False
        emit({"event": "iperf3", "kind": "listening", "port": port})

    def close(self) -> None:
        if self.test is not None:
            self.test.abort()
        self.ls.close()
        self.done = True

    def next_deadline(self) -> float | None:
        return self.test.next_deadline() if self.test is not None else None

    def step(self, now: float) -> None:
        for _ in range(MAX_STREAMS + 8):
            try:
                s, _peer = self.ls.accept()
            except BlockingIOError:
                break
            if self.test is None:
                self.test = _ServerTest(self, s, now)
            elif not self.test.take_stream(s):
                _deny(s)
        t = self.test
        if t is None:
            return
        try:
            t.step(now)
        except ProtocolError as e:
            t.fail(str(e))
        except OSError as e:
            t.fail(f"control connection: {_why(e)}")
        if t.over:
            self.test = None
            if self.one_off:
                self.ls.close()
                self.done = True


def _deny(s: Any) -> None:
    try:
        s.send(struct.pack("b", ACCESS_DENIED))
    except OSError:
        pass
    s.close()


class _ServerTest(_Test):
    def __init__(self, server: Iperf3Server, s: Any, now: float) -> None:
        super().__init__()
        self.server = server
        self.emit = server.emit
        self.ctrl = _Chan(s)
        s.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
        self.phase = "cookie"
        self.cookie = b""
        self.pending: list[_Chan] = []
        self.nstreams = 1
        self.over = False
        self.done = False
        self.begun = now
        self.progress_at = now
        self.emit({"event": "iperf3", "kind": "accepted", "remote_host": _addr(s.faddr),
                   "remote_port": s.fport})

    def next_deadline(self) -> float | None:
        if self.phase == "running":
            return self.t_interval + 1.0
        return self.progress_at + IDLE_TIMEOUT

    def take_stream(self, s: Any) -> bool:
        if self.phase != "streams" or len(self.streams) + len(self.pending) >= self.nstreams:
            return False
        self.pending.append(_Chan(s))
        return True

    def fail(self, why: str) -> None:
        self.emit({"event": "iperf3", "kind": "error", "error": why})
        self.abort()

    def abort(self) -> None:
        for c in self.pending:
            c.s.close()
        self.close_streams()
        self.ctrl.s.close()
        self.over = True

    def step(self, now: float) -> None:
        c = self.ctrl
        c.flush()
        c.pull()
        if self.phase == "cookie":
            ck = c.take(COOKIE_SIZE)
            if ck is not None:
                self.cookie = ck
                self.phase = "params"
                self.progress_at = now
                c.put_state(PARAM_EXCHANGE)
        if self.phase == "params":
            p = c.take_json(MAX_PARAMS_JSON)
            if p is not None:
                self.progress_at = now
                bad = _params_ok(p)
                if bad is not None:
                    c.put_state(SERVER_ERROR)
                    c.out += struct.pack("!ii", bad[0], 0)
                    c.flush()
                    raise ProtocolError(f"refused the client's parameters ({bad[1]})")
                self.sender = bool(p.get("reverse"))
                self.duration = int(p.get("time", DEFAULT_TIME))
                self.num = int(p.get("num", 0))
                self.blockcount = int(p.get("blockcount", 0))
                self.blksize = int(p.get("len", DEFAULT_TCP_BLKSIZE))
                self.nstreams = int(p.get("parallel", 1))
                self.params = p
                self.phase = "streams"
                c.put_state(CREATE_STREAMS)
        if self.phase == "streams":
            for pc in list(self.pending):
                pc.pull(COOKIE_SIZE)
                ck = pc.take(COOKIE_SIZE)
                if ck is None and not pc.eof:
                    continue
                self.pending.remove(pc)
                if ck != self.cookie:
                    _deny(pc.s)
                    continue
                sid = _stream_ids(self.nstreams)[len(self.streams)]
                self.streams.append(_Stream(sid, pc))
                self.progress_at = now
            if len(self.streams) == self.nstreams:
                c.put_state(TEST_START)
                c.put_state(TEST_RUNNING)
                self.phase = "running"
                self.start_running(now)
                self.emit({"event": "iperf3", "kind": "start", "role": "server",
                           "sender": self.sender, "blksize": self.blksize,
                           "duration": self.duration, "bytes": self.num,
                           "blocks": self.blockcount,
                           "connected": [st.names() for st in self.streams]})
        if self.phase == "running":
            st = c.take_state()
            if st is None:
                if c.eof:
                    raise ProtocolError("the client has unexpectedly closed the connection "
                                        f"({c.gone()})")
                self.move(now)
                self.intervals(now)
                limit = (self.duration or 0) + IDLE_TIMEOUT
                if now - self.progress_at > IDLE_TIMEOUT or \
                        (not self.num and not self.blockcount and now - self.t_start > limit):
                    raise ProtocolError("no TEST_END from the client")
                return
            if st == CLIENT_TERMINATE:
                raise ProtocolError("the client has terminated")
            if st != TEST_END:
                raise ProtocolError(f"unexpected state {STATE_NAMES.get(st, st)} from the client")
            if not self.sender:
                self.move(now)  # what already arrived counts
            self.t_end = now
            self.intervals(now, force=True)
            self.close_streams()
            c.put_state(EXCHANGE_RESULTS)
            self.phase = "results"
            self.progress_at = now
        if self.phase == "results":
            r = c.take_json(MAX_RESULTS_JSON)
            if r is not None:
                self.take_peer_results(r)
                c.put_json(self.results())
                c.put_state(DISPLAY_RESULTS)
                self.phase = "display"
                self.emit(self.summary("server"))
        if self.phase == "display":
            st = c.take_state()
            if st is not None or c.eof:
                c.s.close()
                self.over = True
                self.emit({"event": "iperf3", "kind": "done", "role": "server"})
                return
        if c.eof and self.phase != "display":
            raise ProtocolError(f"the client has unexpectedly closed the connection ({c.gone()})")
        if now - self.progress_at > IDLE_TIMEOUT:
            raise ProtocolError(f"no progress in {IDLE_TIMEOUT:g} s ({self.phase})")


class Iperf3Client(_Test):
    """``iperf3 -c HOST``: one test, then ``done``."""

    def __init__(self, layer: Any, host: str, port: int = DEFAULT_PORT, *,
                 emit: Callable[[dict[str, Any]], None], now: float, duration: int = DEFAULT_TIME,
                 num: int = 0, blockcount: int = 0, blksize: int = DEFAULT_TCP_BLKSIZE,
                 parallel: int = 1, reverse: bool = False, family: int | None = None) -> None:
        super().__init__()
        self.layer = layer
        self.emit = emit
        self.duration, self.num, self.blockcount = duration, num, blockcount
        self.blksize, self.parallel, self.reverse = blksize, parallel, reverse
        self.sender = not reverse
        a = ip_address(host.split("%")[0])
        af = family or (AF_INET if isinstance(a, IPv4Address) else AF_INET6)
        if af == AF_INET6 and isinstance(a, IPv4Address):
            host = f"::ffff:{a}"
        self.af, self.host, self.port = af, host, port
        self.cookie = make_cookie()
        self.done = False
        self.phase = "connect"
        self.pending: list[_Chan] = []
        self.progress_at = now
        self.emit({"event": "iperf3", "kind": "connecting", "host": host, "port": port})
        s = self._connect()
        self.ctrl = _Chan(s)

    def _connect(self) -> Any:
        s = self.layer.socket(self.af, SOCK_STREAM)
        if self.af == AF_INET6:
            s.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 0)
        try:
            s.connect((self.host, self.port))
        except BlockingIOError:
            pass
        except OSError as e:
            s.close()
            raise ProtocolError(f"unable to connect to server: {_why(e)}") from None
        return s

    def close(self) -> None:
        for c in self.pending:
            c.s.close()
        self.close_streams()
        self.ctrl.s.close()
        self.done = True

    def next_deadline(self) -> float | None:
        if self.phase == "running":
            t = self.t_interval + 1.0
            if not self.num and not self.blockcount:
                t = min(t, self.t_start + self.duration)
            return t
        return self.progress_at + IDLE_TIMEOUT

    def fail(self, why: str) -> None:
        self.emit({"event": "iperf3", "kind": "error", "error": why})
        self.close()

    def step(self, now: float) -> None:
        if self.done:
            return
        try:
            self._step(now)
        except ProtocolError as e:
            self.fail(str(e))
        except OSError as e:
            if self.phase == "connect":
                self.fail(f"unable to connect to server: {_why(e)}")
            else:
                self.fail(f"control connection: {_why(e)}")

    def _connected(self, c: _Chan) -> bool:
        s = c.s
        if s.so_error:
            s._raise_so_error()
        return bool(s.connected)

    def _step(self, now: float) -> None:
        c = self.ctrl
        if self.phase == "connect":
            if not self._connected(c):
                if now - self.progress_at > IDLE_TIMEOUT:
                    raise ProtocolError("unable to connect to server: timed out")
                return
            c.s.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
            self.emit({"event": "iperf3", "kind": "control", **_Stream(0, c).names()})
            c.out += self.cookie
            c.flush()
            self.phase = "wait"
        c.flush()
        if self.phase == "streams":
            for pc in list(self.pending):
                if self._connected(pc):
                    pc.out += self.cookie
                    pc.flush()
                    self.pending.remove(pc)
                    self.streams.append(_Stream(_stream_ids(self.parallel)[len(self.streams)], pc))
                    self.progress_at = now
            for st in self.streams:
                st.chan.flush()
        if self.phase == "running":
            self.move(now)
            self.intervals(now)
            if self.end_reached(now):
                self.t_end = now
                self.intervals(now, force=True)
                c.put_state(TEST_END)
                self.phase = "ending"
                self.progress_at = now
        c.pull()
        while True:
            if self.phase == "results":
                r = c.take_json(MAX_RESULTS_JSON)
                if r is None:
                    break
                self.take_peer_results(r)
                self.phase = "ending"
                continue
            state = c.take_state()
            if state is None:
                break
            self.progress_at = now
            self._state(state, now)
            if self.done:
                return
        if c.eof:
            raise ProtocolError(f"the server has unexpectedly closed the connection ({c.gone()})")
        if now - self.progress_at > IDLE_TIMEOUT:
            raise ProtocolError(f"no progress in {IDLE_TIMEOUT:g} s ({self.phase})")

    def _params(self) -> dict[str, Any]:
        p: dict[str, Any] = {"tcp": True, "omit": 0, "time": 0 if self.num or self.blockcount
                             else self.duration, "num": self.num, "blockcount": self.blockcount,
                             "parallel": self.parallel, "len": self.blksize,
                             "pacing_timer": 1000, "client_version": "3.12"}
        if self.reverse:
            p["reverse"] = True
        return p

    def _state(self, st: int, now: float) -> None:
        c = self.ctrl
        if st == PARAM_EXCHANGE:
            c.put_json(self._params())
        elif st == CREATE_STREAMS:
            self.phase = "streams"
            for _ in range(self.parallel):
                self.pending.append(_Chan(self._connect()))
        elif st == TEST_START:
            if self.pending or len(self.streams) != self.parallel:
                raise ProtocolError("TEST_START before the streams were connected")
        elif st == TEST_RUNNING:
            self.phase = "running"
            self.start_running(now)
            self.emit({"event": "iperf3", "kind": "start", "role": "client",
                       "sender": self.sender, "blksize": self.blksize,
                       "duration": self.duration, "bytes": self.num, "blocks": self.blockcount,
                       "connected": [s.names() for s in self.streams]})
        elif st == EXCHANGE_RESULTS:
            if not self.t_end:
                self.t_end = now
            c.put_json(self.results())
            self.phase = "results"
        elif st == DISPLAY_RESULTS:
            c.put_state(IPERF_DONE)
            self.emit(self.summary("client"))
            self.close_streams()
            c.s.close()
            self.done = True
            self.emit({"event": "iperf3", "kind": "done", "role": "client"})
        elif st == ACCESS_DENIED:
            raise ProtocolError("the server is busy running a test. try again later")
        elif st == SERVER_ERROR:
            c.pull()
            raw = c.take(8)
            ie, en = struct.unpack("!ii", raw) if raw else (0, 0)
            raise ProtocolError(f"the server reported an error (i_errno {ie}, errno {en})")
        elif st == SERVER_TERMINATE:
            raise ProtocolError("the server has terminated")
        elif st == IPERF_DONE:
            pass
        else:
            raise ProtocolError(f"unexpected state {st} from the server")


# --- the node's side of the control socket --------------------------------------------

def _int(req: dict[str, Any], k: str, lo: int, hi: int, default: int) -> int:
    from kame.ctl import ControlError

    v = req.get(k, default)
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ControlError(f"{k} must be a whole number in {lo}..{hi}")
    return v


def ctl_op(apps: Any, server: Any) -> Callable[[Any, dict[str, Any], float], Any]:
    """The control socket's ``iperf3`` operation: start a server (``role``
    ``s``) or a client test (``c``) in the node process; its events go to
    the requesting connection, and the test or server ends when that
    connection goes."""
    from kame.ctl import ControlError

    def op(c: Any, req: dict[str, Any], now: float) -> Any:
        role = req.get("role")
        port = _int(req, "port", 1, 65535, DEFAULT_PORT)

        def emit(ev: dict[str, Any]) -> None:
            server.push(c, ev)

        app: Any
        try:
            if role == "s":
                fam = req.get("family", "46")
                if fam not in ("4", "6", "46"):
                    raise ControlError("family is 4, 6 or 46")
                app = Iperf3Server(apps.layer, port, family=fam, emit=emit,
                                   one_off=bool(req.get("one_off")))
            elif role == "c":
                host = req.get("host")
                if not isinstance(host, str) or len(host) > 64:
                    raise ControlError("host is an address")
                try:
                    ip_address(host.split("%")[0])
                except ValueError:
                    raise ControlError(f"{host!r} is not an address") from None
                fam = _int(req, "family", 0, 10, 0)
                app = Iperf3Client(
                    apps.layer, host, port, emit=emit, now=now,
                    duration=_int(req, "time", 1, MAX_TIME, DEFAULT_TIME),
                    num=_int(req, "num", 0, 1 << 50, 0),
                    blockcount=_int(req, "blockcount", 0, 1 << 40, 0),
                    blksize=_int(req, "len", 1, MAX_BLOCKSIZE, DEFAULT_TCP_BLKSIZE),
                    parallel=_int(req, "parallel", 1, MAX_STREAMS, 1),
                    reverse=bool(req.get("reverse")),
                    family=AF_INET6 if fam == 6 else None)
            else:
                raise ControlError("role is s or c")
        except ProtocolError as e:
            raise ControlError(str(e)) from None
        except OSError as e:
            why = os.strerror(e.errno) if e.errno else str(e)
            raise ControlError(f"port {port}: {why}" if role == "s" else why) from None
        apps.add(app)
        server.on_close(c, app.close)
        return {"started": role}

    return op


# --- reports ------------------------------------------------------------------------

def _unit(v: float, kilo: float, names: tuple[str, ...]) -> str:
    """iperf3's ``unit_snprintf`` in adaptive mode: ``11.2 MBytes``."""
    i = 0
    while v >= kilo * 0.99 and i < len(names) - 1:  # iperf3 switches at ~1000 of a unit
        v /= kilo
        i += 1
    fmt = "%4.2f" if v < 9.995 else "%4.1f" if v < 99.95 else "%4.0f"
    return f"{fmt % v} {names[i]}"


def transfer(b: float) -> str:
    return _unit(float(b), 1024.0, ("Bytes", "KBytes", "MBytes", "GBytes", "TBytes"))


def bitrate(bps: float) -> str:
    return _unit(bps, 1000.0, ("bits/sec", "Kbits/sec", "Mbits/sec", "Gbits/sec", "Tbits/sec"))


def _line(sid: int, a: float, b: float, nbytes: int, retr: Any, tail: str = "") -> str:
    secs = max(b - a, 1e-9)
    r = f"  {retr:>4}" if isinstance(retr, int) else ""
    return (f"[{sid:>3}] {a:6.2f}-{b:<6.2f} sec  {transfer(nbytes)}  "
            f"{bitrate(nbytes * 8 / secs)}{r}{tail}")


def event_text(ev: dict[str, Any]) -> str:
    """An event as the lines iperf3 prints for it (no final newline)."""
    k = ev.get("kind")
    if k == "listening":
        return f"Server listening on {ev['port']} (test #1)"
    if k == "accepted":
        return f"Accepted connection from {ev['remote_host']}, port {ev['remote_port']}"
    if k == "connecting":
        return f"Connecting to host {ev['host']}, port {ev['port']}"
    if k == "control":
        return ""
    if k == "start":
        out = [f"[{c['socket']:>3}] local {c['local_host']} port {c['local_port']} connected to "
               f"{c['remote_host']} port {c['remote_port']}" for c in ev["connected"]]
        if ev.get("role") == "client" and not ev["sender"]:
            out.insert(0, "Reverse mode, remote host is sending")
        out.append("[ ID] Interval           Transfer     Bitrate" +
                   ("         Retr" if ev["sender"] else ""))
        return "\n".join(out)
    if k == "interval":
        return "\n".join(_line(r["socket"], r["start"], r["end"], r["bytes"], r["retransmits"])
                         for r in ev["streams"])
    if k == "end":
        out = ["- - - - - - - - - - - - - - - - - - - - - - - - -",
               "[ ID] Interval           Transfer     Bitrate         Retr"]
        for r in ev["streams"]:
            s, rc = r["sender"], r["receiver"]
            retr = s["retransmits"] if isinstance(s["retransmits"], int) else 0
            out.append(_line(r["socket"], 0.0, s["seconds"], s["bytes"], retr,
                             "             sender"))
            out.append(_line(r["socket"], 0.0, rc["seconds"], rc["bytes"], None,
                             "                  receiver"))
        return "\n".join(out)
    if k == "done":
        return "\niperf Done." if ev.get("role") == "client" else ""
    if k == "error":
        return f"iperf3: error - {ev['error']}"
    return json.dumps(ev)


def json_report(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The events of one test in the shape of ``iperf3 -J``'s output
    (``start``, ``intervals``, ``end`` with ``sum_sent``/``sum_received``)."""
    out: dict[str, Any] = {"start": {}, "intervals": [], "end": {}}
    for ev in events:
        k = ev.get("kind")
        if k == "start":
            out["start"] = {"connected": ev["connected"], "version": "kame iperf3 (3.12 protocol)",
                            "test_start": {"protocol": "TCP", "num_streams": len(ev["connected"]),
                                           "blksize": ev["blksize"], "omit": 0,
                                           "duration": ev["duration"], "bytes": ev["bytes"],
                                           "blocks": ev["blocks"],
                                           "reverse": int(ev["role"] == "client"
                                                          and not ev["sender"])}}
        elif k == "interval":
            out["intervals"].append({"streams": ev["streams"]})
        elif k == "end":
            sent = sum(r["sender"]["bytes"] for r in ev["streams"])
            rcvd = sum(r["receiver"]["bytes"] for r in ev["streams"])
            ss = max((r["sender"]["seconds"] for r in ev["streams"]), default=0.0)
            rs = max((r["receiver"]["seconds"] for r in ev["streams"]), default=0.0)
            retr = sum(r["sender"]["retransmits"] or 0 for r in ev["streams"])
            out["end"] = {
                "streams": ev["streams"],
                "sum_sent": {"start": 0, "end": ss, "seconds": ss, "bytes": sent,
                             "bits_per_second": sent * 8 / ss if ss else 0.0,
                             "retransmits": retr, "sender": True},
                "sum_received": {"start": 0, "end": rs, "seconds": rs, "bytes": rcvd,
                                 "bits_per_second": rcvd * 8 / rs if rs else 0.0,
                                 "sender": True},
                "cpu_utilization_percent": {
                    "host_total": ev["cpu"]["cpu_util_total"],
                    "host_user": ev["cpu"]["cpu_util_user"],
                    "host_system": ev["cpu"]["cpu_util_system"],
                    **({"remote_total": ev["peer_cpu"]["cpu_util_total"]}
                       if ev.get("peer_cpu") else {})}}
        elif k == "error":
            out["error"] = ev["error"]
    return out


# --- the command ----------------------------------------------------------------------

def _size(text: str) -> int:
    """iperf3's ``unit_atoi``: a number with an optional K, M, G, T (1024-based)."""
    t = text.strip()
    mult = 1
    if t and t[-1] in "kKmMgGtT":
        mult = 1024 ** ("kmgt".index(t[-1].lower()) + 1)
        t = t[:-1]
    try:
        v = int(t, 10) if t.isdigit() else None
    except ValueError:
        v = None
    if v is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (a whole number, optionally "
                                         "with K, M, G or T)")
    return v * mult


def _size_range(lo: int, hi: int, what: str) -> Callable[[str], int]:
    def conv(text: str) -> int:
        v = _size(text)
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{text.strip()} is out of range: {what} {lo}..{hi}")
        return v
    conv.__name__ = "size"
    return conv


def _run(args: argparse.Namespace) -> int:
    from kame.cli.tools import find_ctl
    from kame.ctl import Client, ControlError

    if args.server == (args.client is not None):
        raise UsageError("give -s (server) or -c HOST (client)")
    if args.server:
        for opt, bad in (("-R", args.reverse), ("-t", args.time is not None),
                         ("-n", args.bytes is not None), ("-k", args.blockcount is not None),
                         ("-l", args.length is not None), ("-P", args.parallel is not None)):
            if bad:
                raise UsageError(f"{opt} is a client option")
    else:
        if args.one_off:
            raise UsageError("-1 is a server option")
        ends = [o for o, v in (("-t", args.time), ("-n", args.bytes), ("-k", args.blockcount))
                if v is not None]
        if len(ends) > 1:
            raise UsageError(f"{' and '.join(ends)}: only one test end condition")
        try:
            a = ip_address(args.client.split("%")[0])
        except ValueError:
            raise UsageError(f"{args.client!r} is not an IPv4 or IPv6 address (kame iperf3 "
                             "does not resolve names)") from None
        if args.ipv4 and a.version != 4 or args.ipv6 and a.version != 6:
            raise UsageError(f"-{'4' if args.ipv4 else '6'} does not match {args.client}")
    if args.ipv4 and args.ipv6:
        raise UsageError("-4 and -6: choose one")
    req: dict[str, Any] = {"port": args.port}
    if args.server:
        req.update(role="s", one_off=args.one_off,
                   family="4" if args.ipv4 else "6" if args.ipv6 else "46")
    else:
        req.update(role="c", host=args.client, time=args.time if args.time is not None
                   else DEFAULT_TIME, num=args.bytes or 0, blockcount=args.blockcount or 0,
                   len=args.length or DEFAULT_TCP_BLKSIZE, parallel=args.parallel or 1,
                   reverse=args.reverse, family=6 if args.ipv6 else 0)
    events: list[dict[str, Any]] = []
    failed = False
    with Client(find_ctl(args.ctl)) as c:
        c.call("iperf3", **req)
        try:
            while True:
                ev = c.wait_event(3600.0)
                if ev is None or ev.get("event") != "iperf3":
                    continue
                events.append(ev)
                if not args.json:
                    text = event_text(ev)
                    if text:
                        sys.stdout.write(text + "\n")
                        sys.stdout.flush()
                if ev.get("kind") == "error":
                    failed = True
                    if not args.server or args.one_off:
                        break
                if ev.get("kind") == "done" and (not args.server or args.one_off):
                    break
                if ev.get("kind") == "done" and not args.json:
                    sys.stdout.write("-----------------------------------------------------------"
                                     "\n")
        except KeyboardInterrupt:
            if not args.server:
                raise
        except ControlError:
            raise
    if args.json:
        rep = json_report(events)
        sys.stdout.write(json.dumps(rep, indent=2) + "\n")
    if failed:
        err = next(ev["error"] for ev in events if ev.get("kind") == "error")
        if args.json:
            return 1
        raise ControlError(err)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "iperf3", help="iperf3 server or client on a running node (the iperf3 protocol)",
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-s", "--server", action="store_true", help="run a server on the node")
    p.add_argument("-c", "--client", metavar="HOST", help="run a test against HOST (an address)")
    p.add_argument("-p", "--port", type=int_range(1, 65535, "port"), default=DEFAULT_PORT,
                   help=f"server port (1..65535; {DEFAULT_PORT})")
    p.add_argument("-t", "--time", type=int_range(1, MAX_TIME, "seconds"),
                   help=f"seconds to transmit (1..{MAX_TIME}; {DEFAULT_TIME})")
    p.add_argument("-n", "--bytes", type=_size_range(1, 1 << 50, "octets"),
                   help="octets to transmit instead (K, M, G, T suffixes)")
    p.add_argument("-k", "--blockcount", type=_size_range(1, 1 << 40, "blocks"),
                   help="blocks to transmit instead")
    p.add_argument("-l", "--length", type=_size_range(1, MAX_BLOCKSIZE, "octets"),
                   help=f"block size (1..{MAX_BLOCKSIZE}; 128K)")
    p.add_argument("-P", "--parallel", type=int_range(1, MAX_STREAMS, "streams"),
                   help=f"parallel streams (1..{MAX_STREAMS}; 1)")
    p.add_argument("-R", "--reverse", action="store_true", help="the server sends")
    p.add_argument("-1", "--one-off", action="store_true", help="server: one test, then exit")
    p.add_argument("-4", "--version4", dest="ipv4", action="store_true", help="IPv4 only")
    p.add_argument("-6", "--version6", dest="ipv6", action="store_true", help="IPv6 only")
    p.add_argument("-J", "--json", action="store_true", help="iperf3 -J's JSON report")
    p.add_argument("--ctl", metavar="PATH",
                   help="the node's control socket (default: the only /run/kame/*.sock)")
    p.set_defaults(func=_run)
