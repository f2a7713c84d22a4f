"""The DHCPv6 daemons on a node: the few lines between the sans-I/O state
machines (:mod:`kame.dhcp6.client`, :mod:`kame.dhcp6.server`) and the
node's own UDP sockets (:class:`kame.socket.SocketLayer`).

:class:`ClientAgent` (``dhcp6c``) binds port 546, hands the client the RA's
M/O flags (``node.rtr.ra_flag_hooks``), puts IA_NA addresses on the
interface (the node runs DAD; an address found duplicated is declined),
takes them off when they expire or are released, gives delegated prefixes
to the ``prefix-interface``\\ s (an address ``prefix::ifid`` and the
sub-prefix in the node's own RAs, :meth:`kame.nd6.rtr.Nd6Rtr.advertise_prefixes`)
and keeps the DNS servers and search list it learnt in :attr:`ClientAgent.dns`
and :attr:`ClientAgent.domains` (what :meth:`kame.resolv.ResolvConf.with_dhcp6`
reads). :class:`ServerAgent` (``dhcp6s``) and :class:`RelayAgent` bind port
547 and join ff02::1:2 on their interfaces.

Each agent has ``service(now)`` (read the socket, run the timers, send) and
``next_deadline()``; :class:`kame.link.runner.Runner` calls them through
its ``after_service`` list in the CLIs.
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network
from typing import Any

from kame.dhcp6 import codec as c
from kame.dhcp6.client import (
    ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
    CLIENT_PORT,
    SERVER_PORT,
    Bound,
    Dhcp6Client,
    Expired,
    InfoReceived,
)
from kame.dhcp6.server import Dhcp6Relay, Dhcp6Server, Reply
from kame.errors import KameError
from kame.nd6.types import PrefixInfo
from kame.socket.const import AF_INET6, IPPROTO_IPV6, IPV6_JOIN_GROUP, SOCK_DGRAM

__all__ = ["ClientAgent", "PrefixInterface", "RelayAgent", "ServerAgent"]

#: Datagrams read from the socket per service pass.
RX_BATCH = 256


@dataclass(frozen=True, slots=True)
class PrefixInterface:
    """WIDE's ``prefix-interface NAME { sla-id N; sla-len L; }``."""

    ifname: str
    sla_id: int = 0
    sla_len: int = 8

    def subprefix(self, p: IPv6Network) -> IPv6Network | None:
        plen = p.prefixlen + self.sla_len
        if plen > 128 or self.sla_id >= (1 << self.sla_len):
            return None
        base = int(p.network_address) | (self.sla_id << (128 - plen))
        return IPv6Network((base, plen))


def _src(name: tuple[Any, ...]) -> IPv6Address:
    return IPv6Address(str(name[0]).partition("%")[0])


class _Sock:
    def __init__(self, layer: Any, port: int) -> None:
        self.layer = layer
        self.sock = layer.socket(AF_INET6, SOCK_DGRAM)
        self.sock.bind(("::", port))

    def join(self, ifname: str) -> None:
        ifi = self.layer.ifindex(ifname)
        mreq = ALL_DHCP_RELAY_AGENTS_AND_SERVERS.packed + struct.pack("=I", ifi)
        self.sock.setsockopt(IPPROTO_IPV6, IPV6_JOIN_GROUP, mreq)

    def read(self) -> list[tuple[bytes, IPv6Address, int, str]]:
        out = []
        for _ in range(RX_BATCH):
            try:
                data, name = self.sock.recvfrom(65535)
            except BlockingIOError:
                break
            except OSError:
                continue
            scope = name[3] if len(name) > 3 else 0
            ifname = self.layer.ifname(scope) if scope else ""
            out.append((data, _src(name), int(name[1]), ifname))
        return out

    def send(self, payload: bytes, dst: IPv6Address, port: int, ifname: str) -> bool:
        scope = self.layer.ifindex(ifname) if (dst.is_link_local or dst.is_multicast) else 0
        try:
            self.sock.sendto(payload, (str(dst), port, 0, scope))
        except OSError as e:
            if e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL,
                           errno.ENOBUFS):
                return False
            raise
        return True

    def close(self) -> None:
        self.sock.close()


class ClientAgent:
    """``dhcp6c`` on one interface of a node; see the module docstring."""

    def __init__(self, node: Any, layer: Any, client: Dhcp6Client, *,
                 prefix_interfaces: tuple[PrefixInterface, ...] = (),
                 follow_ra: bool = False, mode: str | None = None, now: float = 0.0) -> None:
        self.node, self.layer, self.client = node, layer, client
        self.ifname = client.ifname
        self.sock = _Sock(layer, CLIENT_PORT)
        self.prefix_interfaces = prefix_interfaces
        self.dns: tuple[IPv6Address, ...] = ()
        self.domains: tuple[str, ...] = ()
        #: Addresses put on the interface (address -> its DAD verdict is pending).
        self.addresses: dict[IPv6Address, bool] = {}
        #: Delegated prefix -> the (ifname, sub-prefix, address) made from it.
        self.delegated: dict[IPv6Network, list[tuple[str, IPv6Network, IPv6Address]]] = {}
        self.events: list[Any] = []
        self.send_errors = 0
        #: Addresses the node refused to configure.
        self.refused = 0
        node.dhcp6c = self
        if follow_ra:
            node.rtr.ra_flag_hooks.append(self._ra_flags)
        elif mode is not None:
            client.start(mode, now)

    def _ra_flags(self, ifname: str, managed: bool, other: bool, now: float) -> None:
        if ifname == self.ifname:
            self.client.ra_flags(managed, other, now)

    def service(self, now: float) -> None:
        for data, src, _port, _ifn in self.sock.read():
            self.client.receive(data, src, now)
        for addr, pending in list(self.addresses.items()):
            ifa = self.node.addrs.find(self.ifname, addr)
            if ifa is None:
                continue
            if ifa.duplicated and pending:
                self.addresses[addr] = False
                self.client.declined_address(addr, now)
                self._remove(self.ifname, addr, now)
                self.addresses.pop(addr, None)
        while self.client.events:
            self._apply(self.client.events.popleft(), now)
        for s in self.client.poll(now):
            if not self.sock.send(s.payload, s.dst, s.port, self.ifname):
                self.send_errors += 1
                if not s.dst.is_multicast:
                    self.client.unicast_unreachable(now)
        while self.client.events:
            self._apply(self.client.events.popleft(), now)

    def next_deadline(self) -> float | None:
        return self.client.next_deadline()

    def release(self, now: float) -> None:
        """Release the bindings (shutdown): the Release is sent at once and
        retransmitted by later ``service`` calls until a Reply or MRC."""
        self.client.release(now)
        self.service(now)

    def _apply(self, ev: Any, now: float) -> None:
        self.events.append(ev)
        if len(self.events) > 1000:
            del self.events[:500]
        if isinstance(ev, (Bound, InfoReceived)):
            self.dns, self.domains = ev.dns, ev.domains
        if isinstance(ev, Bound):
            for a in (*ev.addresses, *ev.temporary):
                ifa = self.node.addrs.find(self.ifname, a.addr)
                if ifa is None:
                    try:
                        ifa = self.node.add_address(self.ifname, f"{a.addr}/128", now)
                    except KameError:
                        self.refused += 1   # the node's own limits (max addresses ...)
                        continue
                    self.addresses[a.addr] = True
                ifa.vltime_expire = now + a.valid if a.valid != 0xFFFFFFFF else float("inf")
                ifa.pltime_expire = now + a.preferred if a.preferred != 0xFFFFFFFF else \
                    float("inf")
            for p in ev.prefixes:
                if p.prefix not in self.delegated:
                    self._delegate(p, now)
                else:
                    self._advertise(now, p)
        elif isinstance(ev, Expired):
            for addr in ev.addresses:
                self.addresses.pop(addr, None)
                self._remove(self.ifname, addr, now)
            for net in ev.prefixes:
                for ifn, _sub, addr in self.delegated.pop(net, []):
                    self._remove(ifn, addr, now)
                self._advertise(now, None)

    def _remove(self, ifname: str, addr: IPv6Address, now: float) -> None:
        if self.node.addrs.remove(ifname, addr) is not None:
            self.node._addr_gone(ifname, addr, now)

    def _delegate(self, p: c.IaPrefix, now: float) -> None:
        made: list[tuple[str, IPv6Network, IPv6Address]] = []
        for pi in self.prefix_interfaces:
            sub = pi.subprefix(p.prefix)
            if sub is None or pi.ifname not in self.node.ifnets:
                continue
            ifid = self.node.ifids.get(pi.ifname)
            low = int.from_bytes(ifid, "big") if ifid and sub.prefixlen <= 64 else 1
            addr = IPv6Address(int(sub.network_address) | (low & ((1 << (128 - sub.prefixlen))
                                                                  - 1)))
            if self.node.addrs.find(pi.ifname, addr) is None:
                try:
                    self.node.add_address(pi.ifname, f"{addr}/{sub.prefixlen}", now)
                except KameError:
                    self.refused += 1
                    continue
            made.append((pi.ifname, sub, addr))
        self.delegated[p.prefix] = made
        self._advertise(now, p)

    def _advertise(self, now: float, changed: c.IaPrefix | None) -> None:
        """The sub-prefixes of every delegated prefix, in the RAs of their
        interfaces (only on a router: ``net.inet6.ip6.forwarding=1``)."""
        if not self.node.knobs.forwarding:
            return
        lifetimes = {}
        lease = self.client.lease
        if lease is not None:
            for ia in lease.pd.values():
                for p in ia.prefixes:
                    lifetimes[p.prefix] = (p.valid, p.preferred)
        per_if: dict[str, list[PrefixInfo]] = {pi.ifname: [] for pi in self.prefix_interfaces}
        for net, made in self.delegated.items():
            v, pl = lifetimes.get(net, (0, 0))
            for ifn, sub, _addr in made:
                per_if.setdefault(ifn, []).append(PrefixInfo(
                    sub.network_address, sub.prefixlen, True, sub.prefixlen == 64, v, pl))
        for ifn, pis in per_if.items():
            if ifn in self.node.ifnets:
                self.node.rtr.advertise_prefixes(ifn, tuple(pis), now)

    def close(self) -> None:
        if self._ra_flags in self.node.rtr.ra_flag_hooks:
            self.node.rtr.ra_flag_hooks.remove(self._ra_flags)
        self.sock.close()


class _ServerBase:
    def __init__(self, layer: Any, interfaces: tuple[str, ...]) -> None:
        self.layer = layer
        self.sock = _Sock(layer, SERVER_PORT)
        self.interfaces = interfaces
        for ifn in interfaces:
            self.sock.join(ifn)
        self.send_errors = 0

    def _send(self, replies: list[Reply]) -> None:
        for r in replies:
            if not self.sock.send(r.payload, r.dst, r.port, r.ifname):
                self.send_errors += 1

    def next_deadline(self) -> float | None:
        return None

    def close(self) -> None:
        self.sock.close()


#: Reconfigure retransmission (RFC 8415 §7.6): REC_TIMEOUT, REC_MAX_RC.
REC_TIMEOUT = 2.0
REC_MAX_RC = 8
#: Clients whose last address is remembered for a Reconfigure.
MAX_PEERS = 4096


@dataclass(slots=True)
class _PendingReconf:
    msg_type: int
    dst: IPv6Address
    ifname: str
    next_send: float
    rt: float
    count: int = 0


class ServerAgent(_ServerBase):
    """``dhcp6s`` on ``interfaces`` of a node.

    :meth:`reconfigure` sends a client a Reconfigure (§18.3.11) signed with
    its RKAP key to the address its last message came from, retransmitted
    from REC_TIMEOUT doubling up to REC_MAX_RC times until the client starts
    the exchange asked for (each copy with a new replay counter, §20.3)."""

    def __init__(self, layer: Any, server: Dhcp6Server, interfaces: tuple[str, ...]) -> None:
        super().__init__(layer, interfaces)
        self.server = server
        self.peers: dict[bytes, tuple[IPv6Address, str]] = {}
        self.pending: dict[bytes, _PendingReconf] = {}
        self.reconf_sent = 0
        self.reconf_answered = 0
        self.reconf_giveup = 0

    def service(self, now: float) -> None:
        for data, src, port, ifname in self.sock.read():
            if ifname and ifname not in self.interfaces and port == CLIENT_PORT:
                continue
            self.server.last_client = None
            self._send(self.server.receive(data, src, ifname, now, port))
            last = self.server.last_client
            if last is not None and port == CLIENT_PORT:
                t, duid = last
                self.peers.pop(duid, None)
                self.peers[duid] = (src, ifname)
                if len(self.peers) > MAX_PEERS:
                    del self.peers[next(iter(self.peers))]
                if duid in self.pending and t in (c.MsgType.RENEW, c.MsgType.REBIND,
                                                  c.MsgType.INFORMATION_REQUEST,
                                                  c.MsgType.REQUEST):
                    del self.pending[duid]
                    self.reconf_answered += 1
        for duid, p in list(self.pending.items()):
            if now < p.next_send:
                continue
            if p.count >= REC_MAX_RC:
                del self.pending[duid]
                self.reconf_giveup += 1
                continue
            msg = self.server.reconfigure_message(duid, p.msg_type)
            if msg is None:
                del self.pending[duid]
                continue
            if p.count:
                p.rt *= 2
            p.count += 1
            p.next_send = now + p.rt
            self.reconf_sent += 1
            self._send([Reply(msg, p.dst, CLIENT_PORT, p.ifname)])

    def reconfigure(self, duid: bytes, msg_type: int, now: float) -> str:
        """Start sending ``duid`` a Reconfigure asking for ``msg_type``; an
        empty string, or why not (no key, address unknown)."""
        if msg_type not in (c.MsgType.RENEW, c.MsgType.REBIND,
                            c.MsgType.INFORMATION_REQUEST):
            return f"message type {msg_type} is not Renew, Rebind or Information-Request"
        if not self.server.has_reconf_key(duid):
            return "no Reconfigure key for that DUID (no lease, or it did not accept)"
        peer = self.peers.get(duid)
        if peer is None:
            return "no address known for that DUID"
        self.pending[duid] = _PendingReconf(msg_type, peer[0], peer[1], now, REC_TIMEOUT)
        return ""

    def next_deadline(self) -> float | None:
        return min((p.next_send for p in self.pending.values()), default=None)


class RelayAgent(_ServerBase):
    """``dhcp6relay``: client-facing ``interfaces``, servers upstream."""

    def __init__(self, layer: Any, relay: Dhcp6Relay) -> None:
        super().__init__(layer, tuple(relay.links))
        self.relay = relay

    def service(self, now: float) -> None:
        for data, src, _port, ifname in self.sock.read():
            self._send(self.relay.receive(data, src, ifname, now))
