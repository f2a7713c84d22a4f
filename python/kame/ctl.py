"""The node's control socket: how BSD-style tools talk to a running node as
they would to a kernel.

- :class:`NodeHost` wraps a :class:`kame.node.Node` for a driver loop (the
  ``kame node --tap`` daemon, or a :class:`kame.link.memory.Simulation`):
  it is itself sans-I/O (``receive`` / ``poll`` / ``next_deadline``), keeps
  the ICMPv6 and IPv6 input/output histograms that ``netstat -s`` prints
  (``icp6s_inhist``/``outhist``, ``ip6s_nxthist``: counted from the frames
  that pass through it; input only for packets the node delivered), and
  queues the node's events for the control server.
- :class:`ControlServer`: an ``AF_UNIX`` stream socket speaking JSON lines.
  Requests are ``{"op": ...}``; answers ``{"ok": true, "data": ...}`` or
  ``{"ok": false, "error": "..."}``. Data is structured, as a kernel's
  sysctl/routing-socket answer would be; the tools (:mod:`kame.cli.tools`)
  do the formatting. ``ping`` subscribes the connection to Echo Replies of
  its identifier, pushed as ``{"event": "echo_reply", ...}`` lines.
  The server does no blocking I/O: the driver ``select``s on
  :meth:`ControlServer.sockets` and calls :meth:`ControlServer.handle`.
  The socket is created owner-only (mode 0600, under a umask, so there is
  no moment when others may connect) and only where nothing is, or where a
  stale socket (one nobody listens on) is left; a file, a folder, a
  symbolic link or a live socket at the path is refused, and no missing
  folder is created (:func:`claim_socket_path`). :meth:`ControlServer.close`
  removes the socket, unless something else has taken its place.
- :func:`request` / :class:`Client`: the tools' side; a missing, stale or
  foreign socket is a :class:`ControlError` that says which.

Operations: ``ndp_a``, ``ndp_p``, ``ndp_r``, ``ndp_i``, ``ndp_i_set``,
``ndp_d``, ``ndp_c``, ``ifconfig``, ``stats``, ``stats4`` (TCP, UDP, IPv4,
ICMPv4 and ARP counters), ``pcblist`` (``netstat -an``), ``arp``
(``arp -an``), ``ping`` and ``time``, and those the node process adds
(:attr:`ControlServer.ops`: ``iperf3``).
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import socket
import stat
from collections import Counter, deque
from collections.abc import Callable, Iterable
from ipaddress import IPv4Address, IPv6Address
from typing import Any, Self

import kame
from kame.addr import is_linklocal, is_multicast
from kame.errors import KameError
from kame.in6_var import IfType, In6Flags
from kame.nd6.cache import NdState
from kame.node import EchoReply, Node
from kame.scope6 import Scope, ScopeError, in6_addrscope, parse_scoped

__all__ = [
    "CTL_DIR",
    "Client",
    "ControlError",
    "ControlServer",
    "NodeHost",
    "claim_socket_path",
    "default_ctl_path",
    "request",
]

Frame = tuple[str, bytes]

#: A request line may not be longer than this (a client cannot make the
#: server buffer without limit); connections are capped too.
MAX_LINE = 4096
MAX_CLIENTS = 32
MAX_OUTBUF = 1 << 20

STATE_LETTER = {NdState.NOSTATE: "N", NdState.INCOMPLETE: "I", NdState.REACHABLE: "R",
                NdState.STALE: "S", NdState.DELAY: "D", NdState.PROBE: "P"}
_NBR_REACHABLE = frozenset((NdState.REACHABLE, NdState.STALE, NdState.DELAY, NdState.PROBE))


#: The per-interface ND flags ``ndp -i`` may set (kame.knobs.IfFlags).
ND_FLAG_NAMES = frozenset({"nud", "accept_rtadv", "disabled", "prefer_source", "auto_linklocal"})
ND_FLAG_ALIASES = {"ifdisabled": "disabled", "performnud": "nud"}


#: Where ``kame node`` puts its control sockets unless told otherwise, and
#: where the tools look for the only one: ``$KAME_CTL_DIR``, else /run/kame.
CTL_DIR = os.environ.get("KAME_CTL_DIR") or "/run/kame"

#: ``sizeof(sun_path)`` on Linux (108) less the terminating NUL.
UNIX_PATH_MAX = 107


def default_ctl_path(ifname: str) -> str:
    return os.path.join(CTL_DIR, f"{ifname}.sock")


class ControlError(Exception):
    """The control socket answered with an error, or could not be reached."""


def _what(mode: int) -> str:
    """What ``ls -l`` would call a file of this mode, with an article."""
    for test, name in ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a socket"


def _check_path(path: str) -> bytes:
    """``path`` as the bytes ``bind``/``connect`` take, or ControlError."""
    if not isinstance(path, str) or not path:
        raise ControlError("empty control socket path")
    if "\0" in path:
        raise ControlError(f"{path!r}: a control socket path holds no NUL character")
    try:
        b = os.fsencode(path)
    except UnicodeError:
        raise ControlError(f"{path!r}: cannot be encoded as a file name") from None
    if len(b) > UNIX_PATH_MAX:
        raise ControlError(f"{path}: too long for a Unix socket ({len(b)} bytes, at most "
                           f"{UNIX_PATH_MAX})")
    return b


def _listening(path: str) -> bool:
    """Whether some process accepts connections on the socket at ``path``
    (ControlError when that cannot be told)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(2.0)
    try:
        probe.connect(path)
    except ConnectionRefusedError:  # bound once, nobody listens: stale
        return False
    except (TimeoutError, BlockingIOError):  # a backlog full of clients: alive
        return True
    except OSError as e:
        raise ControlError(f"{path}: cannot tell whether a node listens on it: "
                           f"{e.strerror or e}") from None
    finally:
        probe.close()
    return True


def claim_socket_path(path: str) -> None:
    """Make ``path`` free for a new control socket. Nothing there is fine;
    a stale socket (nobody listens on it: a node that was killed) is
    removed; anything else is refused with :class:`ControlError` and left
    alone: a regular file, a folder, a symbolic link (even to a socket), a
    FIFO or device, a socket some process listens on. The folder must exist:
    it is not created."""
    _check_path(path)
    folder = os.path.dirname(path) or "."
    try:
        fst = os.stat(folder)
    except FileNotFoundError:
        raise ControlError(f"{path}: folder {folder} does not exist (kame does not create "
                           "folders for a --ctl path)") from None
    except OSError as e:
        raise ControlError(f"{path}: folder {folder}: {e.strerror or e}") from None
    if not stat.S_ISDIR(fst.st_mode):
        raise ControlError(f"{path}: {folder} is not a folder")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise ControlError(f"{path}: {e.strerror or e}") from None
    if not stat.S_ISSOCK(st.st_mode):
        raise ControlError(f"{path} is {_what(st.st_mode)}, not a stale socket: refusing to "
                           "replace it (remove it yourself or choose another --ctl path)")
    if _listening(path):
        raise ControlError(f"{path}: another process listens on this socket (a running kame "
                           "node?): stop it or choose another --ctl path")
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise ControlError(f"{path}: cannot remove the stale socket: {e.strerror or e}"
                           ) from None


def _mac(b: bytes | None) -> str | None:
    return ":".join(f"{x:02x}" for x in b) if b else None


def _remaining(expire: float, now: float) -> float | None:
    """Seconds left, ``None`` for never (infinite)."""
    return None if expire == math.inf else expire - now


def _icmp4_type(frame: bytes) -> int | None:
    """The ICMP type of an unfragmented ICMPv4 packet in an Ethernet frame."""
    if len(frame) < 14 + 20 or frame[14] >> 4 != 4 or frame[14 + 9] != 1:
        return None
    if int.from_bytes(frame[20:22], "big") & 0x3FFF:  # a fragment (MF or an offset)
        return None
    o = 14 + (frame[14] & 0xF) * 4
    return frame[o] if len(frame) > o else None


# --- the node side -------------------------------------------------------------------

class NodeHost:
    """A node as a driver loop sees it; see the module docstring."""

    def __init__(self, node: Node, *, max_events: int = 10000) -> None:
        self.node = node
        self.icmp6_in: Counter[int] = Counter()
        self.icmp6_out: Counter[int] = Counter()
        self.ip6_in: Counter[int] = Counter()
        #: ICMPv4 input/output histograms (``icps_inhist``/``icps_outhist``).
        self.icmp_in: Counter[int] = Counter()
        self.icmp_out: Counter[int] = Counter()
        self.events: deque[Any] = deque(maxlen=max_events)
        #: Hop limits of recent Echo Replies, keyed (src, ident, seq).
        self.reply_hlim: dict[tuple[str, int, int], int] = {}
        self._queued: list[Frame] = []

    def _count_out(self, frames: list[Frame]) -> list[Frame]:
        for _ifn, frame in frames:
            et = frame[12:14]
            if et == b"\x08\x00":
                t = _icmp4_type(frame)
                if t is not None:
                    self.icmp_out[t] += 1
                continue
            if et != b"\x86\xdd" or frame[20:21] in (b"\x06", b"\x11"):
                continue  # TCP and UDP straight after the IPv6 header: nothing to count
            try:
                p = kame.parse(frame, link="ether", verify_cksum=False)
            except KameError:
                continue
            if p.upper_proto == 58 and p.icmp_type is not None:
                self.icmp6_out[p.icmp_type] += 1
        return frames

    def _count_in(self, frame: bytes) -> None:
        nh = frame[20:21]
        if nh in (b"\x06", b"\x11"):  # TCP, UDP: no parse needed
            self.ip6_in[nh[0]] += 1
            return
        try:
            p = kame.parse(frame, link="ether", verify_cksum=False)
        except KameError:
            return
        self.ip6_in[p.next_header] += 1
        if p.upper_proto == 58 and p.icmp_type is not None:
            self.icmp6_in[p.icmp_type] += 1
            if p.icmp_type == 129 and len(p.upper_bytes) >= 8:
                ub = p.upper_bytes
                key = (str(p.src), int.from_bytes(ub[4:6], "big"), int.from_bytes(ub[6:8], "big"))
                if len(self.reply_hlim) >= 1024:
                    self.reply_hlim.pop(next(iter(self.reply_hlim)))
                self.reply_hlim[key] = p.hop_limit or 0

    def _events(self) -> None:
        self.events.extend(self.node.drain_events())

    # sans-I/O surface (what Simulation drives) ----------------------------------

    def receive(self, ifname: str, frame: bytes, now: float) -> list[Frame]:
        st = self.node.stats
        before = st["ip6s_delivered"]
        before4 = st["ips_delivered"]
        out = self.node.receive(ifname, frame, now)
        if st["ip6s_delivered"] != before:
            self._count_in(frame)
        elif st["ips_delivered"] != before4:
            t = _icmp4_type(frame)
            if t is not None:
                self.icmp_in[t] += 1
        self._events()
        return self._count_out(out)

    def poll(self, now: float) -> list[Frame]:
        out = self._queued + self.node.poll(now)
        self._queued = []
        self._events()
        return self._count_out(out)

    def next_deadline(self) -> float | None:
        if self._queued:
            return -math.inf
        return self.node.next_deadline()

    def up(self, ifname: str, now: float) -> list[Frame]:
        out = self.node.up(ifname, now)
        self._events()
        return self._count_out(out)

    def ping(self, dst: IPv6Address, now: float, **kw: Any) -> list[Frame]:
        out = self.node.ping(dst, now, **kw)
        self._events()
        return self._count_out(out)

    def take_events(self) -> list[Any]:
        out = list(self.events)
        self.events.clear()
        return out


# --- snapshots (what the kernel would answer) ------------------------------------------

def _scoped(node: Node, addr: IPv6Address, ifname: str) -> str:
    if in6_addrscope(addr) in (Scope.INTFACELOCAL, Scope.LINKLOCAL):
        return f"{addr}%{ifname}"
    return str(addr)


def snap_ndp_a(node: Node, now: float) -> list[dict[str, Any]]:
    """Neighbor cache entries, and our own addresses as permanent entries
    (BSD lists its interface addresses among the neighbors)."""
    rows: list[dict[str, Any]] = []
    for ln in node.cache:
        rows.append({
            "addr": str(ln.addr), "ifname": ln.ifname, "neighbor": _scoped(node, ln.addr, ln.ifname),
            "lladdr": _mac(ln.lladdr),
            "expire": None if ln.permanent else _remaining(ln.expire, now),
            "state": STATE_LETTER.get(ln.state, "?"), "router": ln.is_router, "own": False,
        })
    for ifa in node.addresses():
        if ifa.flags & In6Flags.ANYCAST:
            continue
        ifp = node.ifnets.get(ifa.ifname)
        rows.append({
            "addr": str(ifa.addr), "ifname": ifa.ifname,
            "neighbor": _scoped(node, ifa.addr, ifa.ifname),
            "lladdr": _mac(ifp.lladdr if ifp else None), "expire": None, "state": "R",
            "router": False, "own": True,
        })
    rows.sort(key=lambda r: (r["ifname"], int(IPv6Address(r["addr"]))))
    return rows


def snap_ndp_p(node: Node, now: float) -> list[dict[str, Any]]:
    rows = []
    for pr in node.rtr.prefixes.values():
        pl = None
        for ifa in node.addresses(pr.ifname):
            if ifa.prefix == pr.prefix and not ifa.flags & In6Flags.TEMPORARY:
                pl = _remaining(ifa.pltime_expire, now)
        advrtrs = []
        for rtr in pr.advrtrs:
            ln = node.cache.lookup(pr.ifname, rtr)
            # ndp.c: reachable in REACHABLE/STALE/DELAY/PROBE, else unreachable
            state = ("no neighbor state" if ln is None else
                     "reachable" if ln.state in _NBR_REACHABLE else "unreachable")
            advrtrs.append({"addr": _scoped(node, rtr, pr.ifname), "state": state})
        rows.append({"prefix": str(pr.prefix), "ifname": pr.ifname, "onlink": pr.onlink,
                     "autonomous": pr.autonomous, "vltime": _remaining(pr.expire, now),
                     "pltime": pl, "expire": _remaining(pr.expire, now),
                     "advrtrs": advrtrs})
    return rows


def snap_ndp_r(node: Node, now: float) -> list[dict[str, Any]]:
    inst = node.rtr.installed
    return [{"addr": str(dr.addr), "ifname": dr.ifname, "neighbor": _scoped(node, dr.addr, dr.ifname),
             "preference": dr.preference, "managed": dr.managed, "other": dr.other,
             "expire": _remaining(dr.expire, now), "installed": dr is inst}
            for dr in node.rtr.routers]


def snap_ndp_i(node: Node, ifname: str) -> dict[str, Any]:
    if ifname not in node.ifnets:
        raise ControlError(f"{ifname}: no such interface")
    ifp = node.ifnets[ifname]
    info = node.cache.info(ifname)
    return {"ifname": ifname, "linkmtu": info.linkmtu, "maxmtu": ifp.mtu, "curhlim": info.chlim,
            "basereachable": info.base_reachable, "reachable": info.reachable,
            "retrans": info.retrans, "flags": ifp.flags.names()}


def snap_ifconfig(node: Node, ifname: str | None, now: float) -> list[dict[str, Any]]:
    names = [ifname] if ifname else list(node.ifnets)
    out = []
    for name in names:
        ifp = node.ifnets.get(name)
        if ifp is None:
            raise ControlError(f"interface {name} does not exist")
        addrs = []
        for ifa in node.addresses(name):
            flags = [n for n, f in (("anycast", In6Flags.ANYCAST), ("tentative", In6Flags.TENTATIVE),
                                    ("duplicated", In6Flags.DUPLICATED),
                                    ("detached", In6Flags.DETACHED),
                                    ("deprecated", In6Flags.DEPRECATED),
                                    ("autoconf", In6Flags.AUTOCONF),
                                    ("temporary", In6Flags.TEMPORARY)) if ifa.flags & f]
            scoped = in6_addrscope(ifa.addr) in (Scope.INTFACELOCAL, Scope.LINKLOCAL)
            addrs.append({"addr": str(ifa.addr), "prefixlen": ifa.prefixlen,
                          "scopeid": ifp.index if scoped else 0, "flags": flags,
                          "pltime": _remaining(ifa.pltime_expire, now),
                          "vltime": _remaining(ifa.vltime_expire, now)})
        out.append({"ifname": name, "index": ifp.index, "type": IfType(ifp.type).name.lower(),
                    "up": ifp.up, "mtu": ifp.mtu, "ether": _mac(ifp.lladdr), "addrs": addrs,
                    "nd6": ifp.flags.names(),
                    "groups": sorted(str(g) for g in node.groups.get(name, ())),
                    "tunnel": node.gif.show(name) if name in node.gif.softc else None})
    return out


def snap_stats(host: NodeHost) -> dict[str, Any]:
    st = host.node.stats
    # what the host counted on every frame the node produced (the node may keep
    # an icp6s_outhist of its own; this one also sees frames from up() and ping)
    outhist = host.icmp6_out
    return {"ip6": {k: st[k] for k in st if k.startswith("ip6s_")},
            "icmp6": {k: st[k] for k in st if k.startswith("icp6s_")},
            "mip6": {k: st[k] for k in st if k.startswith("mip6s_")},
            "ip6_inhist": {str(k): v for k, v in sorted(host.ip6_in.items())},
            "icmp6_inhist": {str(k): v for k, v in sorted(host.icmp6_in.items())},
            "icmp6_outhist": {str(k): v for k, v in sorted(outhist.items())}}


def snap_stats4(host: NodeHost) -> dict[str, Any]:
    """``netstat -s -p tcp|udp|ip|icmp|igmp|arp|ipsec``: the IPv4 and transport counters,
    the ICMPv4 histograms and the TCP connections by state."""
    st = host.node.stats
    layer = getattr(host.node, "sockets", None)
    udp = dict(getattr(layer, "udpstat", {}) or {})
    states: Counter[str] = Counter(r["state"] for r in snap_pcbs(host.node) if r["proto"] == "tcp")
    from kame.tcp.stat import TCPSTAT

    return {"tcp": {k: st[k] for k in TCPSTAT},
            "tcp_states": dict(states),
            "udp": {k: v for k, v in udp.items() if k.startswith("udps_")},
            "ip": {k: st[k] for k in st if k.startswith("ips_")},
            "icmp": {k: st[k] for k in st if k.startswith("icps_")},
            "arp": {k: st[k] for k in st if k.startswith("arps_")},
            "igmp": {k: st[k] for k in st if k.startswith("igps_")},
            "ipsec": dict(getattr(host.node.inet, "ipsec4stat", {})),
            "icmp_inhist": {str(k): v for k, v in sorted(host.icmp_in.items())},
            "icmp_outhist": {str(k): v for k, v in sorted(host.icmp_out.items())}}


def _pcb_addr(node: Node, a: Any, scope: int) -> str | None:
    """An address as netstat prints it (None: the wildcard, ``*``)."""
    if a is None or not int(a):
        return None
    if isinstance(a, IPv6Address):
        if a.ipv4_mapped is not None:
            return str(a.ipv4_mapped)
        if scope and in6_addrscope(a) in (Scope.INTFACELOCAL, Scope.LINKLOCAL):
            name = node.zones.by_index.get(scope) if hasattr(node, "zones") else None
            return f"{a}%{name or scope}"
    return str(a)


def _vflag(family6: bool, v6only: int, *addrs: Any) -> str:
    """FreeBSD's ``inp_vflag`` as netstat names it: ``4``, ``6`` or ``46``."""
    if not family6 or any(isinstance(a, IPv4Address) or
                          (isinstance(a, IPv6Address) and a.ipv4_mapped is not None)
                          for a in addrs if a is not None and int(a)):
        return "4"
    return "6" if v6only else "46"


def snap_pcbs(node: Node) -> list[dict[str, Any]]:
    """``netstat -an``: the node's TCP and UDP protocol control blocks,
    newest first as BSD lists them: every TCP connection (with or without a
    socket: ``TIME_WAIT`` and closed sockets' connections too), every
    listener, every bound UDP socket."""
    from kame.socket.const import AF_INET6 as _AF6
    from kame.socket.const import SOCK_DGRAM as _DGRAM
    from kame.socket.sock import Socket
    from kame.socket.stream import StreamSocket

    rows: list[dict[str, Any]] = []
    layer = getattr(node, "sockets", None)
    tcp = getattr(node, "tcp", None)
    seen: set[int] = set()
    if tcp is not None:
        for tp in reversed(list(tcp.conns.values())):
            so = tp.so
            fam6 = so.family == _AF6 if so is not None else isinstance(tp.laddr, IPv6Address)
            v = _vflag(fam6, 1, tp.laddr, tp.faddr)
            rows.append({"proto": "tcp", "vflag": v, "recvq": len(tp.rcv), "sendq": len(tp.snd),
                         "laddr": _pcb_addr(node, tp.laddr, tp.scope), "lport": tp.lport,
                         "faddr": _pcb_addr(node, tp.faddr, tp.scope), "fport": tp.fport,
                         "state": tp.statename})
            if so is not None:
                seen.add(id(so))
    socks: list[Socket] = list(getattr(layer, "pcbs", []) or [])
    for so in sorted(socks, key=lambda x: -x.seq):
        if so.closed or id(so) in seen:
            continue
        fam6 = so.family == _AF6
        if isinstance(so, StreamSocket):
            if so.listening:
                state = "LISTEN"
            elif so.bound or so.tp is not None:
                state = "CLOSED"
            else:
                continue
            rq = len(so.tp.rcv) if so.tp is not None else 0
            rows.append({"proto": "tcp", "vflag": _vflag(fam6, so.v6only, so.laddr, so.faddr),
                         "recvq": rq, "sendq": 0,
                         "laddr": _pcb_addr(node, so.laddr, so.lscope), "lport": so.lport,
                         "faddr": _pcb_addr(node, so.faddr, so.fscope), "fport": so.fport,
                         "state": state})
        elif so.type == _DGRAM and (so.bound or so.lport):
            rows.append({"proto": "udp", "vflag": _vflag(fam6, so.v6only, so.laddr, so.faddr),
                         "recvq": sum(len(d.data) for d in so.rcvq), "sendq": 0,
                         "laddr": _pcb_addr(node, so.laddr, so.lscope), "lport": so.lport,
                         "faddr": _pcb_addr(node, so.faddr, so.fscope), "fport": so.fport,
                         "state": None})
    rows.sort(key=lambda r: r["proto"] != "tcp")  # stable: TCP first, each newest first
    return rows


def snap_mip6(node: Node, now: float) -> dict[str, Any]:
    """Mobile IPv6 (kame.mip6): the roles, the binding cache (correspondent
    and home registrations) and the mobile node's binding update list."""
    m = node.mip6
    roles = ["correspondent"] if node.knobs["net.inet6.mip6.correspondent"] else []
    bc = [{"home": str(b.home), "coa": str(b.coa), "seq": b.seq, "lifetime": b.lifetime,
           "expire": _remaining(b.expire, now), "home_reg": b.home_reg,
           "ha": None if b.ha_addr is None else str(b.ha_addr)}
          for b in sorted(m.bc.entries.values(), key=lambda b: int(b.home))]
    out: dict[str, Any] = {"roles": roles, "bc": bc, "bul": [], "mn": None}
    if m.ha is not None:
        roles.append("home_agent")
        out["ha_links"] = list(m.ha.ifnames)
        out["halist"] = [{"ifname": e.ifname, "lladdr": str(e.lladdr),
                          "addrs": [str(a) for a in e.addrs], "preference": e.preference,
                          "expire": _remaining(e.expire, now)}
                         for e in sorted(m.ha.halist.values(),
                                         key=lambda e: (e.ifname, -e.preference, int(e.lladdr)))]
    mn = m.mn
    if mn is not None:
        roles.append("mobile_node")
        out["mn"] = {"home": str(mn.home), "prefix": str(mn.prefix),
                     "ha": None if mn.ha is None else str(mn.ha),
                     "away": mn.away, "coa": None if mn.coa is None else str(mn.coa)}
        out["bul"] = [{"peer": str(e.peer), "home_reg": e.home_reg, "seq": e.seq,
                       "state": e.state, "coa": None if e.coa is None else str(e.coa),
                       "expire": _remaining(e.expire, now) if e.state == "bound" else None}
                      for e in mn.bul.values()]
    return out


def snap_arp(node: Node, now: float) -> list[dict[str, Any]]:
    """``arp -an``: the ARP cache, and our own IPv4 addresses as permanent
    entries (BSD keeps them in the table)."""
    inet = getattr(node, "inet", None)
    if inet is None:
        return []
    rows = []
    for la in inet.arptab.values():
        resolved = la.lladdr is not None and not la.down
        rows.append({"addr": str(la.addr), "ifname": la.ifname,
                     "lladdr": _mac(la.lladdr) if resolved else None,
                     "expire": (la.expire - now) if resolved else 0.0, "permanent": False})
    for ifa in inet.addrs:
        ifp = node.ifnets.get(ifa.ifname)
        rows.append({"addr": str(ifa.addr), "ifname": ifa.ifname,
                     "lladdr": _mac(ifp.lladdr if ifp else None), "expire": None,
                     "permanent": True})
    return rows


# --- the server ---------------------------------------------------------------------

class _Conn:
    __slots__ = ("idents", "inbuf", "on_close", "outbuf", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.inbuf = b""
        self.outbuf = b""
        self.idents: set[int] = set()
        self.on_close: list[Callable[[], None]] = []


class ControlServer:
    """JSON-lines control socket for one node (see the module docstring).

    ``clock()`` gives the node's current time; ``transmit(frames)`` sends
    frames a request produced (a ping) on the link.
    """

    def __init__(self, host: NodeHost, path: str, *, clock: Callable[[], float],
                 transmit: Callable[[list[Frame]], None]) -> None:
        self.host = host
        self.path = path
        self.clock = clock
        self.transmit = transmit
        self.conns: dict[int, _Conn] = {}
        #: Further operations, ``op -> handler(conn, request, now)`` (the node
        #: process's applications: ``iperf3``); a handler may :meth:`push`
        #: events to the connection and :meth:`on_close` learns when it goes.
        self.ops: dict[str, Callable[[Any, dict[str, Any], float], Any]] = {}
        claim_socket_path(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Owner-only from the moment it exists: bind() creates the file with
        # mode 0777 & ~umask. (The umask is per process: a thread creating a
        # file in these few instructions would get 0600 too, never wider.)
        old = os.umask(0o177)
        try:
            self.sock.bind(path)
        except OSError as e:  # a race with another node, a read-only folder...
            self.sock.close()
            raise ControlError(f"{path}: {e.strerror or e}") from None
        finally:
            os.umask(old)
        st = os.lstat(path)
        self._ident: tuple[int, int] | None = (st.st_dev, st.st_ino)
        self.sock.listen(8)
        self.sock.setblocking(False)

    def sockets(self) -> list[socket.socket]:
        return [self.sock, *(c.sock for c in self.conns.values())]

    def want_write(self) -> list[socket.socket]:
        return [c.sock for c in self.conns.values() if c.outbuf]

    def close(self) -> None:
        """Close every connection and remove the socket file, if it is
        still the one this server made (idempotent)."""
        for c in list(self.conns.values()):
            self._drop(c)
        self.sock.close()
        ident, self._ident = self._ident, None
        if ident is None:
            return
        with contextlib.suppress(OSError):
            st = os.lstat(self.path)
            if (st.st_dev, st.st_ino) == ident:
                os.unlink(self.path)

    def _drop(self, c: _Conn) -> None:
        self.conns.pop(c.sock.fileno(), None)
        c.sock.close()
        hooks, c.on_close = c.on_close, []
        for fn in hooks:
            fn()

    def push(self, c: Any, obj: dict[str, Any]) -> None:
        """Send an event line to connection ``c`` (if it is still open)."""
        if isinstance(c, _Conn) and c.sock.fileno() >= 0:
            self._send(c, obj)

    @staticmethod
    def on_close(c: Any, fn: Callable[[], None]) -> None:
        """Call ``fn`` when connection ``c`` goes (the client left)."""
        if isinstance(c, _Conn):
            c.on_close.append(fn)

    def handle(self, readable: Iterable[Any], writable: Iterable[Any] = ()) -> None:
        """Accept, read and answer whatever is ready (never blocks)."""
        rset = {s.fileno() if hasattr(s, "fileno") else s for s in readable}
        if self.sock.fileno() in rset:
            self._accept()
        for fd, c in list(self.conns.items()):
            if fd in rset:
                self._read(c)
        for c in list(self.conns.values()):
            if c.outbuf:
                self._flush(c)

    def _accept(self) -> None:
        while True:
            try:
                s, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            if len(self.conns) >= MAX_CLIENTS:
                s.close()
                continue
            s.setblocking(False)
            self.conns[s.fileno()] = _Conn(s)

    def _read(self, c: _Conn) -> None:
        try:
            data = c.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(c)
            return
        if not data:
            self._drop(c)
            return
        c.inbuf += data
        while b"\n" in c.inbuf:
            line, c.inbuf = c.inbuf.split(b"\n", 1)
            self._send(c, self._answer(c, line))
        if len(c.inbuf) > MAX_LINE:
            self._send(c, {"ok": False, "error": f"request longer than {MAX_LINE} bytes"})
            c.inbuf = b""
            self._flush(c)
            self._drop(c)

    def _send(self, c: _Conn, obj: dict[str, Any]) -> None:
        if len(c.outbuf) > MAX_OUTBUF:  # a client that never reads
            self._drop(c)
            return
        c.outbuf += json.dumps(obj).encode() + b"\n"
        self._flush(c)

    def _flush(self, c: _Conn) -> None:
        if c.sock.fileno() < 0:
            return
        try:
            n = c.sock.send(c.outbuf)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            if e.errno not in (errno.EAGAIN,):
                self._drop(c)
            return
        c.outbuf = c.outbuf[n:]

    def dispatch_events(self, events: Iterable[Any]) -> None:
        """Push Echo Replies to the connections pinging with that identifier."""
        for ev in events:
            if not isinstance(ev, EchoReply):
                continue
            for c in list(self.conns.values()):
                if ev.ident in c.idents:
                    hl = self.host.reply_hlim.get((str(ev.src), ev.ident, ev.seq))
                    self._send(c, {"event": "echo_reply", "src": _scoped(self.host.node, ev.src,
                                                                         ev.ifname),
                                   "ident": ev.ident, "seq": ev.seq, "len": len(ev.data) + 8,
                                   "hlim": hl, "time": ev.time})

    # --- requests -------------------------------------------------------------

    def _answer(self, c: _Conn, line: bytes) -> dict[str, Any]:
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise TypeError("a request is a JSON object")
            return {"ok": True, "data": self._op(c, req)}
        except (ControlError, KameError, ValueError, KeyError, TypeError, RecursionError) as e:
            return {"ok": False, "error": str(e) or type(e).__name__}

    def _op(self, c: _Conn, req: dict[str, Any]) -> Any:
        node, now = self.host.node, self.clock()
        op = req.get("op")
        if op == "time":
            return now
        if op == "ndp_a":
            return snap_ndp_a(node, now)
        if op == "ndp_p":
            return snap_ndp_p(node, now)
        if op == "ndp_r":
            return snap_ndp_r(node, now)
        if op == "ndp_i":
            return snap_ndp_i(node, str(req["ifname"]))
        if op == "ndp_i_set":
            return self._ndp_i_set(str(req["ifname"]), req["flags"])
        if op == "ndp_d":
            addr, ifname = self._resolve_dst(str(req["addr"]), req.get("ifname"))
            if ifname is None or not node.cache.delete(ifname, addr):
                raise ControlError(f"cannot locate {req['addr']}")
            return _scoped(node, addr, ifname)
        if op == "ndp_c":
            gone = [_scoped(node, ln.addr, ln.ifname) for ln in node.cache if not ln.permanent]
            node.cache.flush()
            return gone
        if op == "ifconfig":
            name = req.get("ifname")
            return snap_ifconfig(node, str(name) if name else None, now)
        if op == "ifconfig_set":  # kame ifconfig IF create | tunnel SRC DST | ... (kame.gif)
            from kame.cli.ifconfig import apply

            frames, info = apply(node, str(req["ifname"]), req["words"], now)
            self.transmit(self.host._count_out(frames + node._flush()))
            return info
        if op == "stats":
            return snap_stats(self.host)
        if op == "ping":
            return self._ping(c, req, now)
        if op == "stats4":  # kame netstat -s -p tcp|udp|ip|icmp|igmp|arp|ipsec
            return snap_stats4(self.host)
        if op == "pcblist":  # kame netstat -an
            return snap_pcbs(node)
        if op == "arp":  # kame arp -an
            return snap_arp(node, now)
        if op == "mip6":  # kame mip6: binding cache, binding update list (kame.mip6)
            return snap_mip6(node, now)
        if op == "igmp":  # kame igmp show: the IGMP querier (kame.inet.igmp_router)
            return {"links": node.inet.igmpr.snapshot(now),
                    "mroute": node.inet.mroute_snapshot(now),
                    "stats": {k: node.stats[k] for k in node.stats
                              if k.startswith(("igps_rtr_", "mrts_"))}}
        if op == "igmp_boundary":  # kame igmp boundary add|delete IF PREFIX (RFC 2365)
            ifname, prefix = str(req["ifname"]), str(req["prefix"])
            try:
                if req.get("delete"):
                    if not node.inet.mroute_boundary_delete(ifname, prefix):
                        raise ControlError(f"{ifname}: no boundary {prefix}")
                else:
                    node.inet.mroute_boundary_add(ifname, prefix)
            except ValueError as e:
                raise ControlError(str(e)) from None
            return node.inet.mroute_boundaries()
        if op == "mld":  # kame mld show: the querier's listening state (kame.mld6_router)
            return {"links": node.mldr.snapshot(now), "mroute": node.mroute_snapshot(now),
                    "stats": {k: node.stats[k] for k in node.stats
                              if k.startswith(("mlds_", "mrt6s_"))}}
        if op in self.ops:  # what the node process hosts (kame iperf3)
            return self.ops[op](c, req, now)
        if op == "altq":  # kame altqstat (kame.altq)
            return node.altq.snapshot() if node.altq is not None else []
        if op == "altq_conf":  # kame altq load FILE
            from kame.errors import AltqConfError

            try:
                return sorted(node.altq_config(str(req["text"])).ifs)
            except AltqConfError as e:
                raise ControlError(str(e)) from None
        if op == "altq_disable":  # kame altq disable IF
            return node.altq_disable(str(req["ifname"]))
        if op == "ipsec6_stats":  # kame netstat -s -p ipsec6
            return dict(node.key.stats) if node.key is not None else {}
        if op == "pfkey":  # kame setkey: PF_KEY v2 messages (hex) to the node's key engine
            key = node.attach_key()
            return [r.hex() for r in key.engine.send(bytes.fromhex(str(req["msg"])), now)]
        raise ControlError(f"unknown op {op!r}")

    def _ndp_i_set(self, ifname: str, flags: Any) -> dict[str, Any]:
        """``ndp -i IF [-]nud [-]accept_rtadv [-]disabled ...``: the
        interface's ND flags (KAME ``ND6_IFF_*``); clearing ``disabled``
        re-enables IPv6 after a duplicate (§1.2)."""
        node = self.host.node
        if ifname not in node.ifnets:
            raise ControlError(f"{ifname}: no such interface")
        if not isinstance(flags, dict):
            raise TypeError("flags: an object of name: bool")
        ifl = node.ifnets[ifname].flags
        for name, on in flags.items():
            attr = ND_FLAG_ALIASES.get(name, name)
            if attr not in ND_FLAG_NAMES or not isinstance(on, bool):
                raise ControlError(f"unknown ND flag {name!r} (one of "
                                   f"{', '.join(sorted(ND_FLAG_NAMES))})")
            setattr(ifl, attr, on)
        node.ifstate_changed()  # "disabled" moves the MLD querier
        return snap_ndp_i(node, ifname)

    def _resolve_dst(self, text: str, ifname: str | None) -> tuple[IPv6Address, str | None]:
        node = self.host.node
        try:
            sa = parse_scoped(text, node.zones)
        except ScopeError as e:
            raise ControlError(str(e)) from None
        if sa.scope_id:
            zname = node.zones.by_index.get(sa.scope_id)
            if zname is None:
                raise ControlError(f"{text}: no interface with zone {sa.scope_id}")
            if ifname and ifname != zname:
                raise ControlError(f"{text}: zone {zname} conflicts with -I {ifname}")
            ifname = zname
        if ifname is not None and ifname not in node.ifnets:
            raise ControlError(f"{ifname}: no such interface")
        if ifname is None and (is_linklocal(sa.addr) or is_multicast(sa.addr)):
            if len(node.ifnets) == 1:  # the only zone there is (use_defzone in effect)
                ifname = next(iter(node.ifnets))
            else:
                raise ControlError(f"{text}: scoped address needs a zone (%ifname or -I)")
        return sa.addr, ifname

    def _ping(self, c: _Conn, req: dict[str, Any], now: float) -> dict[str, Any]:
        node = self.host.node
        dst, ifname = self._resolve_dst(str(req["dst"]), req.get("ifname"))
        ident = int(req.get("ident", 0)) & 0xFFFF
        seq = int(req.get("seq", 0)) & 0xFFFF
        size = int(req.get("size", 56))
        if not 0 <= size <= 1232:
            raise ControlError("packet size must be 0..1232 (no fragmentation here)")
        # the node's whole table (static, connected, gif, learnt): rtalloc
        rt = None if ifname is not None or is_linklocal(dst) else node.rtalloc(dst, now)
        if ifname is None and rt is None:
            raise ControlError("sendmsg: No route to host")
        out_if = ifname or rt[0]  # type: ignore[index]
        c.idents.add(ident)
        data = bytes((seq + i) & 0xFF for i in range(size))
        frames = self.host.ping(dst, now, ident=ident, seq=seq, data=data, ifname=ifname)
        self.transmit(frames)
        src = None
        with contextlib.suppress(Exception):  # only for ping6's first line
            if hasattr(node, "in6_selectsrc"):
                s = node.in6_selectsrc(dst, out_if)
            else:
                s = node._source_for(out_if, dst)
            src = _scoped(node, s, out_if) if s is not None else None
        return {"sent": now, "src": src, "dst": _scoped(node, dst, out_if) if ifname else str(dst),
                "ifname": out_if}


# --- the tools' side --------------------------------------------------------------------

def _connect_error(path: str, e: OSError) -> str:
    """Why the tools cannot reach a node at ``path``, in words."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f"{path}: no such socket (is `kame node` running? give its --ctl path)"
    except OSError:
        st = None
    if st is not None and not stat.S_ISSOCK(st.st_mode):
        return f"{path} is {_what(st.st_mode)}, not a control socket"
    if isinstance(e, ConnectionRefusedError):
        return (f"{path}: stale socket: no node listens on it (the node that made it has "
                "stopped)")
    if isinstance(e, PermissionError):
        return (f"{path}: permission denied (the control socket is owner-only: run the tool "
                "as the node's user)")
    return f"{path}: {e.strerror or e}"


class Client:
    """A connection to a node's control socket."""

    def __init__(self, path: str, timeout: float = 5.0) -> None:
        _check_path(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError as e:
            self.sock.close()
            raise ControlError(_connect_error(path, e)) from None
        self.buf = b""
        self.pushed: deque[dict[str, Any]] = deque()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _line(self, timeout: float | None) -> dict[str, Any] | None:
        self.sock.settimeout(timeout)
        while b"\n" not in self.buf:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return None
            except OSError as e:
                raise ControlError(f"control connection: {e.strerror or e}") from None
            if not data:
                raise ControlError("the node closed the control connection")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            raise ControlError("bad answer from the node (not a JSON line)") from None
        if not isinstance(obj, dict):
            raise ControlError("bad answer from the node")
        return obj

    def call(self, op: str, **args: Any) -> Any:
        try:
            self.sock.sendall(json.dumps({"op": op, **args}).encode() + b"\n")
        except OSError as e:
            raise ControlError(f"control connection: {e.strerror or e}") from None
        while True:
            obj = self._line(10.0)
            if obj is None:
                raise ControlError(f"no answer to {op}")
            if "event" in obj:
                self.pushed.append(obj)
                continue
            if not obj.get("ok"):
                raise ControlError(str(obj.get("error")))
            return obj.get("data")

    def wait_event(self, timeout: float) -> dict[str, Any] | None:
        """The next pushed event, or None after ``timeout`` seconds."""
        if self.pushed:
            return self.pushed.popleft()
        obj = self._line(max(timeout, 0.0) or 1e-6)
        if obj is not None and "event" not in obj:
            return None
        return obj


def request(path: str, op: str, **args: Any) -> Any:
    """One request on a fresh connection."""
    with Client(path) as c:
        return c.call(op, **args)
