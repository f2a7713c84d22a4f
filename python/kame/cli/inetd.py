"""Services a ``kame node`` hosts on its own sockets (``--serve``), named
as inetd(8) names its internal services, and the registry of the
applications that run inside the node process (:class:`Apps`: the
services, and the iperf3 tests started over the control socket).

A service is ``PROTO:PORT:NAME`` (``--serve tcp:7:echo``):

- ``PROTO``: ``tcp`` or ``udp`` (an ``AF_INET6`` wildcard socket with
  ``IPV6_V6ONLY`` off, so that IPv4 reaches it as ``::ffff:a.b.c.d``:
  ``tcp46`` in ``netstat -an``), ``tcp4``/``udp4`` (``AF_INET``),
  ``tcp6``/``udp6`` (``AF_INET6``, ``IPV6_V6ONLY`` on);
- ``PORT``: 1..65535;
- ``NAME``: ``echo`` (RFC 862), ``discard`` (RFC 863), ``chargen``
  (RFC 864, TCP only) or ``iperf3`` (an iperf3 server, TCP only:
  :mod:`kame.cli.iperf3`).

Everything is non-blocking and bounded: each service holds at most
:data:`MAX_CONNS` connections (more are accepted and closed at once, as
inetd's connection limit), echo reads only what it can write back, and a
step does a bounded amount of work.
"""

from __future__ import annotations

import argparse
import errno
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kame.socket import AF_INET, AF_INET6
from kame.socket.const import IPPROTO_IPV6, IPV6_V6ONLY, SOCK_DGRAM
from kame.socket.stream import SHUT_WR, SOCK_STREAM

__all__ = ["MAX_CONNS", "MAX_SERVE", "SERVICES", "Apps", "ServeSpec", "parse_serve"]

#: ``--serve`` may be given this many times.
MAX_SERVE = 16
#: Connections one TCP service holds at once.
MAX_CONNS = 64
#: What one service moves in one step, per connection (octets).
STEP_BYTES = 1 << 18

SERVICES = {"echo": ("tcp", "udp"), "discard": ("tcp", "udp"), "chargen": ("tcp",),
            "iperf3": ("tcp",)}
_FAMILY = {"": "46", "4": "4", "6": "6"}


@dataclass(frozen=True, slots=True)
class ServeSpec:
    proto: str   # "tcp" | "udp"
    family: str  # "46" | "4" | "6"
    port: int
    service: str

    def __str__(self) -> str:
        fam = "" if self.family == "46" else self.family
        return f"{self.proto}{fam}:{self.port}:{self.service}"


def parse_serve(text: str) -> ServeSpec:
    """``--serve``: ``tcp|tcp4|tcp6|udp|udp4|udp6:PORT:SERVICE``."""
    m = re.fullmatch(r"(tcp|udp)(4|6)?:([0-9]{1,5}):([a-z0-9]+)", text.strip())
    if m is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not PROTO:PORT:SERVICE (e.g. tcp:7:echo; PROTO tcp, tcp4, tcp6, udp, "
            f"udp4, udp6; SERVICE {', '.join(SERVICES)})")
    proto, fam, port_s, name = m.group(1), m.group(2) or "", m.group(3), m.group(4)
    port = int(port_s)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text.strip()}: port {port} is out of range: 1..65535")
    if name not in SERVICES:
        raise argparse.ArgumentTypeError(
            f"{text.strip()}: no service {name!r} (one of {', '.join(SERVICES)})")
    if proto not in SERVICES[name]:
        raise argparse.ArgumentTypeError(f"{text.strip()}: {name} is a TCP service only")
    return ServeSpec(proto, _FAMILY[fam], port, name)


def open_listener(layer: Any, proto: str, family: str, port: int, backlog: int = 128) -> Any:
    """A bound (and for TCP, listening) wildcard socket of the node."""
    af = AF_INET if family == "4" else AF_INET6
    s = layer.socket(af, SOCK_STREAM if proto == "tcp" else SOCK_DGRAM)
    try:
        if af == AF_INET6:
            s.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1 if family == "6" else 0)
        s.bind(("0.0.0.0" if af == AF_INET else "::", port))
        if proto == "tcp":
            s.listen(backlog)
    except BaseException:
        s.close()
        raise
    return s


# --- the services ----------------------------------------------------------------------

_CHARGEN = bytes(range(32, 127))


def _chargen_lines(n: int) -> bytes:
    """RFC 864: 72-character lines, each starting one character further on."""
    out = bytearray()
    k = len(_CHARGEN)
    for i in range(n):
        o = i % k
        line = (_CHARGEN[o:] + _CHARGEN[:o])[:72]
        out += line + b"\r\n"
    return bytes(out)


_CHARGEN_BLOCK = _chargen_lines(95)  # one full rotation: the stream repeats it


class _Conn:
    __slots__ = ("eof", "out", "pos", "s")

    def __init__(self, s: Any) -> None:
        self.s = s
        self.out = bytearray()
        self.eof = False
        self.pos = 0


class TcpService:
    """echo, discard or chargen on one TCP listener."""

    def __init__(self, layer: Any, spec: ServeSpec) -> None:
        self.spec = spec
        self.ls = open_listener(layer, "tcp", spec.family, spec.port)
        self.conns: list[_Conn] = []
        self.done = False

    def close(self) -> None:
        for c in self.conns:
            c.s.close()
        self.conns.clear()
        self.ls.close()
        self.done = True

    def next_deadline(self) -> float | None:
        return None

    def step(self, now: float) -> None:
        for _ in range(MAX_CONNS):
            try:
                s, _peer = self.ls.accept()
            except BlockingIOError:
                break
            if len(self.conns) >= MAX_CONNS:
                s.close()
                continue
            self.conns.append(_Conn(s))
        for c in list(self.conns):
            try:
                self._serve(c)
            except OSError:  # reset, timed out...
                c.s.close()
                self.conns.remove(c)
                continue
            if c.s.closed:
                self.conns.remove(c)

    def _serve(self, c: _Conn) -> None:
        s, name = c.s, self.spec.service
        moved = 0
        while not c.eof and moved < STEP_BYTES:
            room = STEP_BYTES - len(c.out) if name == "echo" else 65536
            if room <= 0:
                break
            try:
                d = s.recv(room)
            except BlockingIOError:
                break
            if not d:
                c.eof = True
                break
            moved += len(d)
            if name == "echo":
                c.out += d
        if name == "chargen" and not s.cantsendmore:
            while moved < STEP_BYTES:
                blk = _CHARGEN_BLOCK[c.pos:] or _CHARGEN_BLOCK
                try:
                    n = s.send(blk)
                except BlockingIOError:
                    break
                c.pos = (c.pos + n) % len(_CHARGEN_BLOCK)
                moved += n
            if c.eof:
                s.close()
            return
        while c.out:
            try:
                n = s.send(bytes(c.out[:65536]))
            except BlockingIOError:
                break
            del c.out[:n]
        if c.eof and not c.out:
            if not s.cantsendmore:
                s.shutdown(SHUT_WR)
            s.close()


class UdpService:
    """echo or discard on one UDP socket."""

    def __init__(self, layer: Any, spec: ServeSpec) -> None:
        self.spec = spec
        self.s = open_listener(layer, "udp", spec.family, spec.port)
        self.done = False

    def close(self) -> None:
        self.s.close()
        self.done = True

    def next_deadline(self) -> float | None:
        return None

    def step(self, now: float) -> None:
        for _ in range(256):
            try:
                d, peer = self.s.recvfrom(65535)
            except BlockingIOError:
                return
            except OSError:  # an ICMP error for an earlier echo
                continue
            if self.spec.service == "echo":
                try:
                    self.s.sendto(d, peer)
                except OSError as e:
                    if e.errno not in (errno.EAGAIN, errno.EHOSTUNREACH, errno.ENETUNREACH):
                        raise


# --- the registry -------------------------------------------------------------------

class Apps:
    """The applications of one node process: ``step(now)`` after the node
    took its frames, ``next_deadline()`` for the driver's wait."""

    def __init__(self, layer: Any, log: Callable[[str], None] = lambda _t: None) -> None:
        self.layer = layer
        self.log = log
        self.apps: list[Any] = []

    def serve(self, spec: ServeSpec) -> Any:
        app: Any
        if spec.service == "iperf3":
            from kame.cli.iperf3 import Iperf3Server

            def log(ev: dict[str, Any]) -> None:
                for line in _iperf3_log(ev).splitlines():
                    self.log(line)
            app = Iperf3Server(self.layer, spec.port, family=spec.family, emit=log,
                               one_off=False)
        elif spec.proto == "tcp":
            app = TcpService(self.layer, spec)
        else:
            app = UdpService(self.layer, spec)
        self.apps.append(app)
        return app

    def add(self, app: Any) -> Any:
        self.apps.append(app)
        return app

    def step(self, now: float) -> None:
        for app in list(self.apps):
            app.step(now)
            if app.done:
                self.apps.remove(app)

    def next_deadline(self) -> float | None:
        ts = [t for a in self.apps if (t := a.next_deadline()) is not None]
        return min(ts) if ts else None

    def close(self) -> None:
        for app in self.apps:
            app.close()
        self.apps.clear()


def _iperf3_log(ev: dict[str, Any]) -> str:
    from kame.cli.iperf3 import event_text

    if ev.get("kind") == "interval":
        return ""  # the daemon logs the summary, not every second
    text = event_text(ev).strip("\n")
    return "\n".join("iperf3: " + ln for ln in text.splitlines()) if text else ""
