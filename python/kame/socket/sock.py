"""A socket (``struct socket`` + its PCB): the calls an application makes,
handed to the :class:`~kame.socket.layer.SocketLayer` it belongs to."""

from __future__ import annotations

import errno
import operator
import socket as _hostsocket
import struct
from collections import deque
from collections.abc import Iterable, Iterator, KeysView
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from typing import TYPE_CHECKING, Any

from kame.addr import is_v4mapped
from kame.errors import NoInterfaceError, RangeError, ScopeError
from kame.scope6 import Scope, in6_addrscope, sa6_from_user
from kame.socket.const import (
    AF_INET,
    AF_INET6,
    IPPROTO_ICMPV6,
    IPPROTO_IPV6,
    IPV6_2292HOPLIMIT,
    IPV6_2292PKTINFO,
    IPV6_HOPLIMIT,
    IPV6_PATHMTU,
    IPV6_PKTINFO,
    IPV6_RECVHOPLIMIT,
    IPV6_RECVPKTINFO,
    IPV6_RECVTCLASS,
    IPV6_TCLASS,
    SOCK_DGRAM,
    SOCK_RAW,
    _err,
    _octets,
)
from kame.socket.pktopts import recv_items
from kame.socket.profiles import Profile
from kame.socket.rfc3542 import Icmp6Filter
from kame.socket.sockaddr import Addr, ntop6, unmap, v4mapped

#: ``recvmsg``'s flag for the error queue (Linux ``<linux/socket.h>``),
#: also set in the ``msg_flags`` of what it gives.
MSG_ERRQUEUE = 0x2000

if TYPE_CHECKING:
    from kame.socket.layer import SocketLayer


@dataclass(slots=True)
class Datagram:
    data: bytes
    src: Addr
    sport: int
    dst: Addr
    ifindex: int
    hlim: int
    tclass: int
    #: RFC 3542 §11.3: an ``IPV6_PATHMTU`` notice (destination, scope, MTU)
    #: rather than data.
    mtuinfo: tuple[IPv6Address, int, int] | None = None
    #: Its Hop-by-Hop, Destination options and Routing headers, in order
    #: (RFC 3542 §4: ``IPV6_RECVHOPOPTS``, ``IPV6_RECVDSTOPTS``, ``IPV6_RECVRTHDR``).
    ext: tuple[tuple[int, bytes], ...] = ()


# --- the PCB table --------------------------------------------------------------

#: the port index of a port without sockets (never written)
_NO_SOCKETS: dict[Any, None] = {}


class PcbTable:
    """A layer's sockets in the order they were made (the ``in6pcb`` list):
    a dict keyed by the socket itself (sockets compare by identity), so a
    close takes its PCB out in O(1) rather than by a scan of every socket
    (two scans of a list of 10,000 sockets cost ~0.7 ms a close). Iterates,
    tests membership and counts as the list it replaces; ``pcbs[-1]``
    copies (for tests and tools, not the per-connection paths). ``ports``
    indexes the table's sockets by local port (kept by
    :attr:`Socket.lport`'s setter), so a bind or connect looks at the
    sockets on its port only (``in_pcblookup_local``'s port hash), not at
    every socket."""

    __slots__ = ("_d", "ports")

    def __init__(self) -> None:
        self._d: dict[Socket, None] = {}
        self.ports: dict[int, dict[Socket, None]] = {}

    def append(self, s: Socket) -> None:
        self._d[s] = None
        port = getattr(s, "_lport", 0)
        if port:
            self.ports.setdefault(port, {})[s] = None

    def _unport(self, s: Socket, port: int) -> None:
        on = self.ports.get(port)
        if on is not None:
            on.pop(s, None)
            if not on:
                del self.ports[port]

    def remove(self, s: Socket) -> None:
        """ValueError when ``s`` is not in the table, as ``list.remove``."""
        try:
            del self._d[s]
        except KeyError:
            raise ValueError("PcbTable.remove(s): s not in the table") from None
        self._unport(s, getattr(s, "_lport", 0))

    def discard(self, s: Socket) -> None:
        if self._d.pop(s, 0) is None:
            self._unport(s, getattr(s, "_lport", 0))

    def on_port(self, port: int) -> KeysView[Socket]:
        """The table's sockets whose local port is ``port``, in the order
        they were made: a live view of the port's index, not a copy (one
        per datagram delivered). Its callers only read it; a loop over it
        must not bind, connect or close a socket meanwhile (the view
        raises RuntimeError if the port's sockets change under it)."""
        on = self.ports.get(port)
        return on.keys() if on else _NO_SOCKETS.keys()

    def report(self, s: Socket, old: int, new: int) -> None:
        """``s``'s local port changed from ``old`` to ``new``."""
        if s in self._d:
            if old:
                self._unport(s, old)
            if new:
                self.ports.setdefault(new, {})[s] = None

    def __contains__(self, s: object) -> bool:
        return s in self._d

    def __iter__(self) -> Iterator[Socket]:
        # a copy of the keys: a loop may close (remove) sockets as the list allowed
        return iter(list(self._d))

    def __len__(self) -> int:
        return len(self._d)

    def __bool__(self) -> bool:
        return bool(self._d)

    def __getitem__(self, i: int) -> Socket:
        return list(self._d)[i]


# --- the PCB ------------------------------------------------------------------

@dataclass(eq=False, slots=True)
class Socket:
    """One socket; the methods mirror Python's :class:`socket.socket`."""

    layer: SocketLayer
    family: int
    type: int
    proto: int
    laddr: Addr | None = None
    #: the local port (read and set as ``lport``)
    _lport: int = 0
    lscope: int = 0
    faddr: Addr | None = None
    fport: int = 0
    fscope: int = 0
    v6only: int = 1
    reuseaddr: bool = False
    reuseport: bool = False
    so_error: int = 0
    closed: bool = False
    bound: bool = False
    rcvq: deque[Datagram] = field(default_factory=lambda: deque(maxlen=256))
    #: Linux's ``sk_error_queue`` (``IP_RECVERR``, ``IPV6_RECVERR``): the
    #: ICMP errors :mod:`kame.socket.errqueue` queued, none until the first
    errq: deque[Any] | None = None
    opts: dict[int, Any] = field(default_factory=dict)
    groups: set[tuple[IPv6Address | IPv4Address, int]] = field(default_factory=set)
    #: Source filters of memberships (``ip_msource``, ``ip6_msource``): (group, ifindex) ->
    #: (MCAST_INCLUDE or MCAST_EXCLUDE, sources); a membership not here is
    #: any-source.
    msf: dict[tuple[IPv4Address | IPv6Address, int], tuple[int, frozenset[Any]]] = \
        field(default_factory=dict)
    #: The same sources in the order Linux keeps them (joins appended, a
    #: full-state filter as given), for getsockopt(MCAST_MSFILTER).
    msf_order: dict[tuple[IPv4Address | IPv6Address, int], tuple[Any, ...]] = \
        field(default_factory=dict)
    #: Linux: the interface address each IPv4 membership's join named
    #: (``ip_mc_socklist.multi.imr_address``), oldest first; a leave by an
    #: address of no interface finds the membership by it.
    in_mreq: dict[tuple[IPv4Address, int], IPv4Address] = field(default_factory=dict)
    #: ``IPPROTO_IP`` options (kame.socket.inctl): option -> value.
    ipopts: dict[int, Any] = field(default_factory=dict)
    filter: Icmp6Filter = field(default_factory=Icmp6Filter)
    checksum: int = -1
    seq: int = 0
    #: the last destination sockaddr ``sendto`` parsed, what it gave and,
    #: for a loopback destination, the layer's plan for it
    #: (:meth:`~kame.socket.layer.SocketLayer.loop_plan`); and the last peer
    #: name ``recvfrom`` made: a datagram loop with one peer parses and
    #: formats addresses once (only IPv4, global addresses and ``::1``,
    #: whose meaning no zone table can change, are kept)
    sa_last: tuple[Any, tuple[Any, int, int], Any] | None = None
    name_last: tuple[Any, int, int, tuple[Any, ...]] | None = None

    # --- helpers --------------------------------------------------------------

    @property
    def lport(self) -> int:
        """The local port; setting it keeps the layer's
        :attr:`PcbTable.ports` index."""
        return self._lport

    @lport.setter
    def lport(self, port: int) -> None:
        old = self._lport
        if old != port:
            self._lport = port
            pcbs = getattr(self.layer, "pcbs", None)
            if isinstance(pcbs, PcbTable):
                pcbs.report(self, old, port)

    @property
    def profile(self) -> Profile:
        return self.layer.profile

    @property
    def mapped_bound(self) -> bool:
        """An AF_INET6 socket bound to ``::ffff:a.b.c.d`` (or connected to
        one) lives in the IPv4 tables."""
        return self.family == AF_INET6 and isinstance(self.laddr, IPv4Address)

    def _check_open(self) -> None:
        if self.closed:
            raise _err(errno.EBADF)

    def _sockaddr_in(self, addr: Any, op: str = "bind") -> tuple[Addr, int, int]:
        """Parse a Python sockaddr tuple into (address, port, scope_id) as
        the host's :mod:`socket` does (a tuple; ``""`` is the wildcard; the
        port 0-65535, ``flowinfo`` 20 bits, ``scope_id`` 32 bits: out of range
        is a :class:`~kame.errors.RangeError` where the host raises
        ``OverflowError``). An AF_INET6 host goes through
        :func:`kame.scope6.sa6_from_user`: the embedded form is ``EINVAL``, a
        zone that names no interface the profile's errno (``op`` ``bind``:
        ``nodev_errno``; ``connect``/``send``: ``nozone_errno``; a zone
        *name* on Linux: ``gaierror(EAI_NONAME)``, as the host's resolver).
        A ``::ffff:a.b.c.d`` comes back as an IPv4Address."""
        v4 = self.family == AF_INET
        if not isinstance(addr, tuple):
            raise TypeError(f"{'AF_INET' if v4 else 'AF_INET6'} address must be tuple, "
                            f"not {type(addr).__name__}")
        if not (len(addr) == 2 if v4 else 2 <= len(addr) <= 4):
            raise TypeError(f"{'AF_INET' if v4 else 'AF_INET6'} address must be a tuple "
                            + ("(host, port)" if v4 else "(host, port[, flowinfo[, scopeid]])"))
        host = addr[0]
        if isinstance(host, (bytes, bytearray)):
            host = bytes(host).decode("latin-1")
        if not isinstance(host, str):
            raise TypeError(f"str, bytes or bytearray expected, not {type(host).__name__}")
        port = _field(addr[1], op, "port", 0xFFFF)
        if v4:
            try:
                return IPv4Address(host if host else "0.0.0.0"), port, 0
            except ValueError:
                raise _err(errno.EINVAL, f"{host!r} is not an IPv4 address") from None
        if len(addr) >= 3:
            _field(addr[2], op, "flowinfo", 0xFFFFF)
        scope = _field(addr[3], op, "scope_id", 0xFFFFFFFF) if len(addr) == 4 else 0
        try:
            sa = sa6_from_user(host if host else "::", self.layer.zones, scope_id=scope)
        except NoInterfaceError as e:
            p = self.profile
            zone = host.partition("%")[2]
            if p.name == "linux" and zone and not (zone.isascii() and zone.isdigit()):
                raise _gaierror(e) from e
            raise _err(p.nodev_errno if op == "bind" else p.nozone_errno, str(e)) from e
        except ScopeError as e:
            raise _err(errno.EINVAL, str(e)) from e
        if is_v4mapped(sa.addr):
            return unmap(sa.addr), port, 0
        return sa.addr, port, sa.scope_id

    def _name(self, a: Addr | None, port: int, scope: int) -> tuple[Any, ...]:
        if self.family == AF_INET:
            return (str(a or IPv4Address(0)), port)
        if isinstance(a, IPv4Address):
            return (ntop6(v4mapped(a)), port, 0, 0)
        return (ntop6(a or IPv6Address(0)), port, 0, scope)

    # --- API ------------------------------------------------------------------

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.layer.pcbs.remove(self)
            self.layer.pcbgen += 1
            if self.type == SOCK_RAW and self.proto == IPPROTO_ICMPV6 and self.family == AF_INET6:
                self.layer._raw_icmp6(-1)
            if self.type == SOCK_RAW and self.family == AF_INET:
                self.layer.raw4_detach(self)
            for g, ifi in list(self.groups):
                self.layer.leave_group(self, g, ifi)

    def __enter__(self) -> Socket:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def getsockname(self) -> tuple[Any, ...]:
        self._check_open()
        return self._name(self.laddr, self.lport, self.lscope)

    def getpeername(self) -> tuple[Any, ...]:
        self._check_open()
        if self.faddr is None:
            raise _err(errno.ENOTCONN)
        return self._name(self.faddr, self.fport, self.fscope)

    def bind(self, addr: Any) -> None:
        self._check_open()
        if self.bound:
            raise _err(errno.EINVAL, "already bound")
        a, port, scope = self._sockaddr_in(addr)
        self.layer.pcbbind(self, a, port, scope)

    def connect(self, addr: Any) -> None:
        self._check_open()
        a, port, scope = self._sockaddr_in(addr, "connect")
        self.layer.autobind_first(self)
        self.layer.pcbconnect(self, a, port, scope)

    def sendto(self, data: bytes, flags_or_addr: Any, addr: Any = None) -> int:
        if addr is None and type(data) is bytes:
            sa = self.sa_last
            if sa is not None and (sa[0] is flags_or_addr or (
                    sa[0] == flags_or_addr and _exact(flags_or_addr))):
                lp = sa[2]
                layer = self.layer
                if lp is not None and lp[0] == layer.pcbgen and not self.so_error and \
                        not self.opts and not self.ipopts and len(data) <= 0xFFF7:
                    # looutput to the receiver the layer planned (loop_plan): what
                    # the general path does with this datagram, without its lookups
                    hl = lp[4] or int(layer.node.knobs[lp[5]])
                    st = layer.udpstat
                    st["udps_opackets"] += 1
                    st["udps_ipackets"] += 1
                    q = lp[1].rcvq
                    if len(q) == q.maxlen:
                        st["udps_fullsock"] += 1
                    else:
                        q.append(Datagram(data, lp[2], self.lport, lp[3], lp[6], hl, 0))
                    return len(data)
            else:
                sa = None
            return self._sendto(data, flags_or_addr, sa)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"a bytes-like object is required, not {type(data).__name__}")
        dst = addr if addr is not None else flags_or_addr
        return self.sendmsg([data], [], 0, dst)

    def _sendto(self, data: bytes, a: Any, sa: Any) -> int:
        """``sendto`` of one buffer without ancillary data: sendmsg's path,
        the destination's parse remembered (``sa``: the one remembered for
        ``a``), and the loopback plan for the next datagrams made."""
        if self.closed or self.so_error or self.type != SOCK_DGRAM:
            return self.sendmsg([data], [], 0, a)
        layer = self.layer
        if sa is not None:
            dst, port, scope = sa[1]
        else:
            dst, port, scope = self._sockaddr_in(a, "send")
            if layer.loop_fastpath and not scope and _exact(a) and (
                    isinstance(dst, IPv4Address) or int(dst) == 1 or
                    in6_addrscope(dst) == Scope.GLOBAL):
                # only addresses whose meaning no zone table can change
                sa = self.sa_last = (a, (dst, port, scope), None)
        if self.faddr is not None and self.profile.name != "linux":
            raise _err(errno.EISCONN)
        layer.autobind_first(self)
        n = layer.output(self, data, dst, port, scope, [])
        last = self.sa_last
        if sa is not None and last is sa:
            self.sa_last = (last[0], last[1], layer.loop_plan(self, dst, port, scope))
        return n

    def send(self, data: bytes, flags: int = 0) -> int:
        return self.sendmsg([data], [], flags, None)

    def sendmsg(self, buffers: Iterable[bytes], ancdata: Iterable[tuple[int, int, bytes]] = (),
                flags: int = 0, address: Any = None) -> int:
        self._check_open()
        data = b"".join(_octets(b, "buffer") for b in buffers)
        # Linux's udp_sendmsg reads a pending error last (sock_alloc_send_skb,
        # after the size check of __ip_append_data): kame.socket.layer
        # raises it there for an IPv4 destination; the BSDs' sosend first
        late = self.type == SOCK_DGRAM and self.profile.name == "linux"
        if not late:
            self._raise_so_error()
        if address is None:
            if self.faddr is None:
                self._raise_so_error()
                raise _err(errno.EDESTADDRREQ)
            dst, port, scope = self.faddr, self.fport, self.fscope
        else:
            if self.faddr is not None and self.type == SOCK_DGRAM and \
                    self.profile.name != "linux":
                raise _err(errno.EISCONN)  # BSD udp6_output; Linux sends to the address
            try:
                dst, port, scope = self._sockaddr_in(address, "send")
            except OSError:
                self._raise_so_error()
                raise
        if late and not isinstance(dst, IPv4Address):
            self._raise_so_error()
        self.layer.autobind_first(self)
        return self.layer.output(self, data, dst, port, scope, _ancillary(ancdata))

    def _raise_so_error(self) -> None:
        if self.so_error:
            e, self.so_error = self.so_error, 0
            raise _err(e)

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, tuple[Any, ...]]:
        q = self.rcvq
        if q and not flags and not self.closed and not self.so_error and type(bufsize) is int \
                and (d := q[0]).mtuinfo is None and len(d.data) <= bufsize:
            # recvmsg's path without ancillary data or truncation
            q.popleft()
            nl = self.name_last
            if nl is not None and nl[0] is d.src and nl[1] == d.sport and nl[2] == d.ifindex:
                return d.data, nl[3]
            return d.data, self._peer_name(d)
        data, _anc, _fl, addr = self.recvmsg(bufsize, 0, flags)
        return data, addr

    def _peer_name(self, d: Datagram) -> tuple[Any, ...]:
        """The sender's sockaddr tuple, the last one made kept (``::1`` has
        no zone: in6_setscope gives the loopback 0, as Linux does)."""
        nl = self.name_last
        if nl is not None and nl[0] is d.src and nl[1] == d.sport and nl[2] == d.ifindex:
            return nl[3]
        scope = d.ifindex if isinstance(d.src, IPv6Address) and \
            in6_addrscope(d.src) in (Scope.LINKLOCAL, Scope.INTFACELOCAL) and int(d.src) != 1 \
            else 0
        name = self._name(d.src, d.sport, scope)
        self.name_last = (d.src, d.sport, d.ifindex, name)
        return name

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        return self.recvfrom(bufsize, flags)[0]

    def recvmsg(self, bufsize: int, ancbufsize: int = 0,
                flags: int = 0) -> tuple[bytes, list[tuple[int, int, bytes]], int, tuple[Any, ...]]:
        """``(data, ancdata, msg_flags, address)`` as Python's ``recvmsg``;
        ancillary items carry the kernel's own layouts (``in6_pktinfo``, an
        ``int`` hop limit / traffic class; ``in_pktinfo``, an ``int`` TTL,
        an octet TOS)."""
        self._check_open()
        if flags & MSG_ERRQUEUE:
            return self.layer.recv_error(self, bufsize)  # kame.socket.errqueue
        self._raise_so_error()
        if not self.rcvq:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        d = self.rcvq.popleft()
        if d.mtuinfo is not None:
            a, sc, mtu = d.mtuinfo
            return b"", [(IPPROTO_IPV6, IPV6_PATHMTU, self.layer.ip6_mtuinfo(a, sc, mtu))], 0, \
                self._name(a, 0, sc)
        anc = self._rx_items(d)
        flg = 0
        data = d.data
        if len(data) > bufsize:
            data, flg = data[:bufsize], 0x20  # MSG_TRUNC
        scope = d.ifindex if isinstance(d.src, IPv6Address) and \
            in6_addrscope(d.src) in (Scope.LINKLOCAL, Scope.INTFACELOCAL) and int(d.src) != 1 \
            else 0
        return data, anc, flg, self._name(d.src, d.sport, scope)

    def _rx_items(self, d: Datagram, errq: bool = False) -> list[tuple[int, int, bytes]]:
        """The receive items of a datagram (or, ``errq``, of the ICMP
        message an error queue entry came in: Linux's ``ip_recv_error``
        and ``ipv6_recv_error`` give them before the extended error)."""
        anc: list[tuple[int, int, bytes]] = []
        if self.family == AF_INET6 and isinstance(d.dst, IPv4Address):
            # an IPv4 datagram: its destination mapped in IPV6_PKTINFO (Linux
            # ip6_datagram_recv_common_ctl: that alone); the BSDs' fake IPv6
            # header (ip6_savecontrol_v4) also gives the TTL and TOS
            if self.opts.get(IPV6_RECVPKTINFO):
                anc.append((IPPROTO_IPV6, IPV6_PKTINFO,
                            v4mapped(d.dst).packed + struct.pack("=I", d.ifindex)))
            if self.ipopts:  # Linux udpv6_recvmsg: then ip_cmsg_recv's items
                anc += self.layer.ip_recv_items(self, d, errq)
            if self.profile.name != "linux":
                if self.opts.get(IPV6_RECVHOPLIMIT):
                    anc.append((IPPROTO_IPV6, IPV6_HOPLIMIT, struct.pack("=i", d.hlim)))
                if self.opts.get(IPV6_RECVTCLASS):
                    anc.append((IPPROTO_IPV6, IPV6_TCLASS, struct.pack("=i", d.tclass)))
        if self.family == AF_INET and self.ipopts:
            anc += self.layer.ip_recv_items(self, d, errq)  # kame.socket.inctl
        if self.family == AF_INET6 and isinstance(d.dst, IPv6Address):
            # the kernels' order (ip6_savecontrol; Linux common then specific
            # ctl): the packet info, the hop limit, the traffic class, headers
            if self.opts.get(IPV6_RECVPKTINFO):
                anc.append((IPPROTO_IPV6, IPV6_PKTINFO,
                            d.dst.packed + struct.pack("=I", d.ifindex)))
            if self.opts.get(IPV6_RECVHOPLIMIT):
                anc.append((IPPROTO_IPV6, IPV6_HOPLIMIT, struct.pack("=i", d.hlim)))
            if self.opts.get(IPV6_RECVTCLASS):
                anc.append((IPPROTO_IPV6, IPV6_TCLASS, struct.pack("=i", d.tclass)))
            if d.ext:
                anc += recv_items(self.opts, d.ext)
            if self.opts.get(IPV6_2292PKTINFO):  # RFC 2292: under its own types
                anc.append((IPPROTO_IPV6, IPV6_2292PKTINFO,
                            d.dst.packed + struct.pack("=I", d.ifindex)))
            if self.opts.get(IPV6_2292HOPLIMIT):
                anc.append((IPPROTO_IPV6, IPV6_2292HOPLIMIT, struct.pack("=i", d.hlim)))
        return anc

    def setsockopt(self, level: int, opt: int, value: Any) -> None:
        self._check_open()
        self.layer.ctloutput_set(self, level, opt, value)

    def getsockopt(self, level: int, opt: int, buflen: int | bytes = 0) -> Any:
        """``buflen``: the buffer length, or for Linux's MCAST_MSFILTER the
        ``struct group_filter`` passed in (the C call's in-out ``optval``)."""
        self._check_open()
        return self.layer.ctloutput_get(self, level, opt, buflen)


def _ancillary(ancdata: Iterable[tuple[int, int, bytes]]) -> list[tuple[int, int, bytes]]:
    """``sendmsg``'s ancillary items as the host checks them: each a
    ``(level, type, data)`` tuple of two ints and a bytes-like object; at most
    64 of them (an ``msg_controllen`` well past any real use)."""
    out: list[tuple[int, int, bytes]] = []
    for item in ancdata:
        if not isinstance(item, tuple) or len(item) != 3:
            raise TypeError("ancillary data items must be (level, type, data) tuples")
        level, typ, data = item
        if not isinstance(level, int) or not isinstance(typ, int):
            raise TypeError("ancillary level and type are ints")
        if len(out) == 64:
            raise _err(errno.ENOBUFS, "too much ancillary data")
        out.append((level, typ, _octets(data, "ancillary data")))
    return out


def _exact(a: Any) -> bool:
    """A sockaddr tuple of a str and ints, no subclasses: one that equals
    another means the same destination (``("::1", 7.0)`` equals
    ``("::1", 7)`` but is a TypeError)."""
    return type(a) is tuple and type(a[0]) is str and all(type(x) is int for x in a[1:])


def _field(value: Any, op: str, name: str, high: int) -> int:
    """One integer field of a sockaddr tuple: an int (``__index__``) in 0..high."""
    v = operator.index(value)  # TypeError for float, str ... as the host's socket module
    if not 0 <= v <= high:
        raise RangeError(f"{op}(): {name} must be 0-{high}.", argument=name, low=0, high=high,
                         value=v)
    return v


def _gaierror(e: Exception) -> OSError:
    """What the host's socket module raises for a zone name its resolver
    does not know (``getaddrinfo`` ``EAI_NONAME``)."""
    return _hostsocket.gaierror(_hostsocket.EAI_NONAME, f"Name or service not known: {e}")


def _ival(value: Any) -> int:
    """An integer option value: 4 octets (host order) or an int that fits a C
    ``int``, as the host's ``setsockopt`` takes it."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        if len(value) != 4:
            raise _err(errno.EINVAL)
        return int(struct.unpack("=i", bytes(value))[0])
    v = operator.index(value)  # TypeError for str, float, None ...
    if not -(2**31) <= v < 2**31:
        raise RangeError("option value does not fit a C int", argument="value",
                         low=-(2**31), high=2**31 - 1, value=v)
    return v
