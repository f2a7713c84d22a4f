"""FAITH, the IPv6-to-IPv4 TCP relay (seed §3.1, RFC 3142, KAME ``faithd``).

The relay reserves an IPv6 prefix (:func:`add_faith_prefix`, KAME's
``route add -inet6 PREFIX ::1 -ifp faith0``) and, with
``net.inet6.ip6.keepfaith`` 1, the node takes TCP segments to any address
in it as its own (``ip6_input``'s ``IFT_FAITH`` case). :class:`Faithd`
listens on the relayed ports; a connection to ``PREFIX::a.b.c.d`` is
relayed to ``a.b.c.d`` on the same port over IPv4, both ends through the
node's own sockets (:mod:`kame.socket`), sans-I/O (:meth:`Faithd.step`).

- **Access control** (faithd.conf(5), :func:`parse_conf`): lines
  ``DST[/LEN] [!]SRC[/LEN]``; the first line whose ``DST`` holds the IPv4
  destination decides: relayed when the IPv6 client is in ``SRC`` (or,
  with ``!``, is not). With a configuration and no matching line the
  connection is refused; without one every connection is relayed.
- **RFC 3142 §5 (security)**: never relayed, whatever the configuration
  says, to one of the relay's own IPv4 addresses, nor to 0/8, 127/8,
  multicast, class E or a broadcast address; RFC 1918, 169.254/16 and
  100.64/10 destinations only with ``allow_private`` (faithd's ``-p``
  "permit private"); and only TCP (the relay prefix is never forwarded).
  Refusals close the client's connection and count ``faith_denied``.
- **FTP** (port 21, faithd's ``ftp.c``): the control connection is read
  line by line; the client's ``EPSV`` becomes ``PASV`` to the server, whose
  ``227`` reply opens a listener on the IPv6 side and is answered ``229
  (|||port|)``; the client's ``EPRT |2|addr|port|`` (only its own address)
  becomes ``PORT`` to the server, which connects to a listener on the IPv4
  side; each data connection is relayed as any other. ``PASV``, ``PORT``,
  ``LPSV`` and ``LPRT`` from an IPv6 client cannot carry its address and
  are answered 500 by the relay, as faithd answered them.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any

from kame.errors import ConfigError
from kame.socket import AF_INET, AF_INET6, SocketLayer
from kame.socket.const import IPPROTO_IPV6, IPV6_FAITH, SO_ERROR, SOL_SOCKET
from kame.socket.stream import SHUT_WR, SOCK_STREAM

__all__ = ["FAITH_BUF", "ConfRule", "Faithd", "add_faith_prefix", "faith_dst4", "parse_conf",
           "relay_refusal"]

#: Octets held per direction of a relayed connection before reading stops.
FAITH_BUF = 1 << 18
#: Relayed connections at once (faithd forked per connection; bounded here).
FAITH_MAXCONN = 256
#: The longest FTP control line kept (RFC 959 lines are short).
FTP_MAXLINE = 2048
#: FTP commands awaiting their reply (pipelined) before the relay gives up.
FTP_MAXPENDING = 1024

_PRIVATE = tuple(IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                           "169.254.0.0/16", "100.64.0.0/10"))


def add_faith_prefix(node: Any, prefix: str | IPv6Network) -> IPv6Network:
    """Reserve ``prefix`` (a /96 or shorter, RFC 3142 §3) for the relay;
    the node takes TCP to it as its own when ``net.inet6.ip6.keepfaith``
    is 1."""
    net = IPv6Network(prefix)
    if net.prefixlen > 96:
        raise ConfigError(f"faith prefix {net}: at most /96, to hold an IPv4 address",
                          layer="faith")
    if net.network_address.is_multicast or net.network_address.is_link_local:
        raise ConfigError(f"faith prefix {net}: a global prefix", layer="faith")
    if net not in node.faith_prefixes:
        node.faith_prefixes.append(net)
    return net


def faith_dst4(node: Any, dst: IPv6Address) -> IPv4Address | None:
    """The IPv4 address in ``dst`` when ``dst`` is in a faith prefix."""
    for net in node.faith_prefixes:
        if dst in net:
            return IPv4Address(int(dst) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True, slots=True)
class ConfRule:
    """One faithd.conf line: ``dst [!]src``."""

    dst: IPv4Network
    src: IPv6Network
    negate: bool


def parse_conf(text: str) -> list[ConfRule]:
    """faithd.conf(5): ``DST[/LEN] [!]SRC[/LEN]`` per line, ``#`` comments."""
    rules: list[ConfRule] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ConfigError(f"faithd.conf line {n}: expected 'DST[/LEN] [!]SRC[/LEN]'",
                              layer="faith")
        neg = parts[1].startswith("!")
        try:
            rules.append(ConfRule(IPv4Network(parts[0], strict=False),
                                  IPv6Network(parts[1].lstrip("!"), strict=False), neg))
        except ValueError as e:
            raise ConfigError(f"faithd.conf line {n}: {e}", layer="faith") from None
        if len(rules) > 4096:
            raise ConfigError("faithd.conf: more than 4096 lines", layer="faith")
    return rules


def relay_refusal(node: Any, src: IPv6Address, dst4: IPv4Address, rules: list[ConfRule] | None,
                  allow_private: bool) -> str | None:
    """Why a connection from ``src`` to ``dst4`` is not relayed (None: it is)."""
    x = int(dst4)
    if x >> 24 in (0, 127) or x >> 28 in (0xE, 0xF):
        return "a loopback, this-network, multicast or reserved destination (RFC 3142 §5)"
    if node.inet.find(dst4) is not None:
        return "the relay's own address (RFC 3142 §5)"
    if any(dst4 == ifa.broadcast for ifa in node.inet.addrs):
        return "a broadcast address (RFC 3142 §5)"
    if not allow_private and any(dst4 in n for n in _PRIVATE):
        return "a private address (RFC 3142 §5; faithd -p permits)"
    if rules is None:
        return None
    for r in rules:
        if dst4 in r.dst:
            if (src in r.src) != r.negate:
                return None
            return "refused by faithd.conf"
    return "no faithd.conf line for the destination"


def _close(s: Any) -> None:
    try:
        s.close()
    except OSError:
        pass


@dataclass(slots=True)
class _Pipe:
    """One direction of a relay: read ``frm``, write ``to``."""

    frm: Any
    to: Any
    buf: bytearray = field(default_factory=bytearray)
    eof: bool = False
    shut: bool = False


class _Relay:
    """A relayed TCP connection (client side ``c``, server side ``s``,
    ``s`` connecting until writable), optionally an FTP control one."""

    def __init__(self, d: Faithd, c: Any, s: Any, ftp: bool) -> None:
        self.d, self.c, self.s = d, c, s
        self.up = _Pipe(c, s)
        self.down = _Pipe(s, c)
        self.ftp = ftp
        #: What each command sent to the server was, oldest first, until its
        #: final reply: "epsv" (its 227 becomes a 229), "eprt", or "".
        self.pending: list[tuple[str, Any]] = []
        self.cline = bytearray()
        self.sline = bytearray()
        self.dead = False

    def close(self) -> None:
        self.dead = True
        _close(self.c)
        _close(self.s)

    def _read(self, p: _Pipe) -> bytes:
        out = bytearray()
        while not p.eof and len(p.buf) + len(out) < FAITH_BUF:
            try:
                d = p.frm.recv(65536)
            except BlockingIOError:
                break
            except OSError:
                p.eof = True
                self.dead = True
                break
            if not d:
                p.eof = True
                break
            out += d
        return bytes(out)

    def _write(self, p: _Pipe) -> None:
        while p.buf:
            try:
                n = p.to.send(bytes(p.buf[:65536]))
            except BlockingIOError:
                return
            except OSError:
                self.dead = True
                return
            if n <= 0:
                return
            del p.buf[:n]
        if p.eof and not p.shut:
            p.shut = True
            try:
                p.to.shutdown(SHUT_WR)
            except OSError:
                pass

    def step(self) -> None:
        if self.dead:
            return
        if not self.s.connected and not self.s.was_connected:  # still connecting
            try:
                failed = self.s.getsockopt(SOL_SOCKET, SO_ERROR)
            except OSError:
                failed = True
            if failed:
                self.close()
            return
        up = self._read(self.up)
        down = self._read(self.down)
        if self.ftp:
            up = self._ftp_client(up)
            down = self._ftp_server(down)
        self.up.buf += up
        self.down.buf += down
        self._write(self.up)
        self._write(self.down)
        if self.up.shut and self.down.shut or self.dead:
            self.close()

    # --- FTP (faithd ftp.c) --------------------------------------------------------------

    @staticmethod
    def _lines(buf: bytearray, data: bytes) -> tuple[list[bytes], bool]:
        buf += data
        out = []
        while (i := buf.find(b"\n")) >= 0:
            out.append(bytes(buf[:i + 1]))
            del buf[:i + 1]
        return out, len(buf) > FTP_MAXLINE

    def _ftp_client(self, data: bytes) -> bytes:
        lines, toolong = self._lines(self.cline, data)
        if toolong or len(self.pending) > FTP_MAXPENDING:
            self.dead = True
        out = bytearray()
        for ln in lines:
            word = ln.split(b" ", 1)[0].strip().upper()
            if word == b"EPSV":
                self.pending.append(("epsv", None))
                out += b"PASV\r\n"
            elif word == b"EPRT":
                port_cmd = self._eprt(ln)
                if port_cmd is None:
                    self.down.buf += b"500 EPRT: not the client's own IPv6 address\r\n"
                else:
                    out += port_cmd
            elif word in (b"PASV", b"PORT", b"LPSV", b"LPRT"):
                self.down.buf += b"500 " + word + b" cannot be relayed to IPv4: use EPSV or EPRT\r\n"
            else:
                self.pending.append(("", None))  # its final reply passes as is
                out += ln
        return bytes(out)

    def _eprt(self, ln: bytes) -> bytes | None:
        m = re.match(rb"EPRT\s+(.)2\1([0-9A-Fa-f:.]+)\1(\d{1,5})\1", ln.strip(), re.IGNORECASE)
        if m is None:
            return None
        try:
            addr, port = IPv6Address(m.group(2).decode()), int(m.group(3))
        except ValueError:
            return None
        if addr != IPv6Address(self.c.getpeername()[0]) or not 0 < port < 65536:
            return None
        lay = self.d.layer
        ls: Any = lay.socket(AF_INET, SOCK_STREAM)
        try:
            ls.bind(("0.0.0.0", 0))
            ls.listen(1)
        except OSError:
            _close(ls)
            return None
        me = IPv4Address(self.s.getsockname()[0])
        lport = ls.getsockname()[1]
        self.pending.append(("eprt", None))
        self.d.data_listeners.append((ls, (str(addr), port), AF_INET6, self.d.now + 60.0))
        h = ",".join(str(b) for b in me.packed)
        return f"PORT {h},{lport >> 8},{lport & 0xFF}\r\n".encode()

    def _ftp_server(self, data: bytes) -> bytes:
        lines, toolong = self._lines(self.sline, data)
        if toolong:
            self.dead = True
        out = bytearray()
        for ln in lines:
            # a final reply (not 1yz, not a continuation line) answers the
            # oldest command sent (RFC 959 §4.2)
            if self.pending and ln[:3].isdigit() and ln[3:4] == b" " and ln[:1] != b"1":
                kind, _ = self.pending.pop(0)
                if kind == "epsv":
                    out += self._pasv_reply(ln)
                    continue
            out += ln
        return bytes(out)

    def _pasv_reply(self, ln: bytes) -> bytes:
        m = re.search(rb"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)", ln)
        if not ln.startswith(b"227") or m is None:
            return ln if not ln.startswith(b"227") else b"425 bad PASV reply from server\r\n"
        n = [int(x) for x in m.groups()]
        if any(x > 255 for x in n):
            return b"425 bad PASV reply from server\r\n"
        host = IPv4Address(bytes(n[:4]))
        if host != IPv4Address(self.s.getpeername()[0]):
            return b"425 PASV address is not the server's\r\n"  # RFC 2577 §3 bounce
        ls: Any = self.d.layer.socket(AF_INET6, SOCK_STREAM)
        # the client's data connection comes to the FAITH address too
        ls.setsockopt(IPPROTO_IPV6, IPV6_FAITH, 1)
        try:
            ls.bind(("::", 0))
            ls.listen(1)
        except OSError:
            _close(ls)
            return b"425 cannot open a data listener\r\n"
        lport = ls.getsockname()[1]
        self.d.data_listeners.append((ls, (str(host), n[4] * 256 + n[5]), AF_INET,
                                      self.d.now + 60.0))
        return f"229 Entering Extended Passive Mode (|||{lport}|)\r\n".encode()


class Faithd:
    """The relay daemon over a :class:`kame.socket.SocketLayer` (see the
    module docs): ``Faithd(layer, ports)``, then :meth:`step` whenever
    the node ran; ``rules`` from :func:`parse_conf` (None: no faithd.conf)."""

    def __init__(self, layer: SocketLayer, ports: Iterable[int], *,
                 rules: list[ConfRule] | None = None, allow_private: bool = False) -> None:
        self.layer = layer
        node = layer.node
        self.node = node
        self.rules = rules
        self.allow_private = allow_private
        self.now = 0.0
        self.listeners: dict[int, Any] = {}
        self.relays: list[_Relay] = []
        self.data_listeners: list[tuple[Any, tuple[str, int], int, float]] = []
        self.log: list[str] = []
        for p in ports:
            if not isinstance(p, int) or isinstance(p, bool) or not 0 < p < 65536:
                raise ConfigError(f"faithd port {p!r}: 1..65535", layer="faith")
            ls: Any = layer.socket(AF_INET6, SOCK_STREAM)
            ls.setsockopt(IPPROTO_IPV6, IPV6_FAITH, 1)  # IN6P_FAITH, as KAME's faithd
            ls.bind(("::", p))
            ls.listen(64)
            self.listeners[p] = ls
        if not self.listeners:
            raise ConfigError("faithd: give at least one port", layer="faith")

    def close(self) -> None:
        for ls in self.listeners.values():
            _close(ls)
        for r in self.relays:
            r.close()
        for ls, *_ in self.data_listeners:
            _close(ls)

    def _connect(self, fam: int, host: str, port: int) -> Any:
        """A connecting socket, or None (the error is logged)."""
        s = self.layer.socket(fam, SOCK_STREAM)
        try:
            s.connect((host, port))
        except BlockingIOError:
            pass
        except OSError as e:
            self.log.append(f"connect to {host} port {port}: "
                            f"{errno.errorcode.get(e.errno or 0, str(e))}")
            _close(s)
            return None
        return s

    def step(self, now: float) -> None:
        """Accept, relay, expire: call after the node ran."""
        self.now = now
        st = self.node.stats
        for port, ls in self.listeners.items():
            while True:
                try:
                    c, peer = ls.accept()
                except BlockingIOError:
                    break
                except OSError:
                    break
                try:
                    local = IPv6Address(c.getsockname()[0])
                    src = IPv6Address(peer[0])
                except (OSError, ValueError):
                    _close(c)
                    continue
                dst4 = faith_dst4(self.node, local)
                why = "not a faith address" if dst4 is None else relay_refusal(
                    self.node, src, dst4, self.rules, self.allow_private)
                if why is None and len(self.relays) >= FAITH_MAXCONN:
                    why = f"{FAITH_MAXCONN} connections relayed already"
                if why is not None or dst4 is None:
                    st.inc("faith_denied")
                    self.log.append(f"deny {src} -> {local} port {port}: {why}")
                    _close(c)
                    continue
                out = self._connect(AF_INET, str(dst4), port)
                if out is None:
                    _close(c)
                    continue
                st.inc("faith_accepted")
                self.log.append(f"relay {src} -> {dst4} port {port}")
                self.relays.append(_Relay(self, c, out, port == 21))
        keep = []
        for ls, (host, port), fam, deadline in self.data_listeners:
            try:
                c, _peer = ls.accept()
            except BlockingIOError:
                if now < deadline:
                    keep.append((ls, (host, port), fam, deadline))
                else:
                    _close(ls)
                continue
            except OSError:
                _close(ls)
                continue
            _close(ls)
            out = self._connect(fam, host, port)
            if out is None:
                _close(c)
                continue
            self.relays.append(_Relay(self, c, out, False))
        self.data_listeners = keep
        for r in self.relays:
            r.step()
        self.relays = [r for r in self.relays if not r.dead]
