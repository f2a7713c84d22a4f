"""IKEv2 (RFC 7296) exchanges, sans-I/O: racoon's job for the key engine.

:class:`Ike` is the daemon's protocol half. It takes UDP datagrams in
(:meth:`Ike.input`, with the addresses and ports they came with), PF_KEY
ACQUIREs from the key engine (:meth:`Ike.acquire`), and the clock
(:meth:`Ike.timehandler`); it queues datagrams to send in :attr:`Ike.out`
as ``(data, dst, dport, sport)`` (``sport`` 4500 means the caller sends
from its port-4500 socket and prefixes the non-ESP marker), and installs
the CHILD SAs it negotiates into a :class:`kame.key.engine.KeyEngine`
with SADB_GETSPI / SADB_UPDATE / SADB_ADD (and SADB_DELETE on delete).

What it does: IKE_SA_INIT (cookies when half-open SAs pile up,
INVALID_KE_PAYLOAD and retry with the group asked for), IKE_AUTH with
pre-shared keys and one CHILD SA (ESP, tunnel mode), NAT detection and
the float to port 4500 with RFC 3948 UDP encapsulation of the ESP SAs,
INFORMATIONAL (delete of the IKE SA or of CHILD SAs, liveness checks),
and retransmission with exponential backoff. Every refused message is
counted (:attr:`Ike.stats`) and every failure is logged in :attr:`Ike.log`
in words that name the cause.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Any

from kame import _core
from kame.errors import KameError
from kame.ike import cert as ikecert
from kame.ike import payloads as pl
from kame.ike.payloads import Delete, Notify
from kame.key import pfkey as P

__all__ = ["ChildProposal", "Ike", "IkeProposal", "Peer"]

Network = IPv4Network | IPv6Network
IKE_PORT, NATT_PORT = 500, 4500

#: ESP algorithm names (setkey) for IKEv2 transform ids
ESP_ENCR = {12: "aes-cbc", 20: "aes-gcm-16"}
ESP_INTEG = {2: "hmac-sha1", 12: "hmac-sha256-128", 13: "hmac-sha384-192",
             14: "hmac-sha512-256"}
INTEG_KEYLEN = {0: 0, 2: 20, 12: 32, 13: 48, 14: 64}
PRF_LEN = {2: 20, 4: 16, 5: 32, 6: 48, 7: 64}


@dataclass(frozen=True)
class IkeProposal:
    """One IKE SA proposal: ENCR (with key bits), INTEG (0 for AEAD), PRF, DH."""

    encr: int = 12
    key_bits: int = 128
    integ: int = 12
    prf: int = 5
    dh: int = 14

    def transforms(self) -> list[tuple[int, int, int | None]]:
        t: list[tuple[int, int, int | None]] = [(pl.T_ENCR, self.encr, self.key_bits)]
        t.append((pl.T_PRF, self.prf, None))
        if self.integ:
            t.append((pl.T_INTEG, self.integ, None))
        t.append((pl.T_DH, self.dh, None))
        return t


@dataclass(frozen=True)
class ChildProposal:
    """One ESP proposal: ENCR (with key bits), INTEG (0 for AEAD)."""

    encr: int = 12
    key_bits: int = 128
    integ: int = 12

    def transforms(self) -> list[tuple[int, int, int | None]]:
        t: list[tuple[int, int, int | None]] = [(pl.T_ENCR, self.encr, self.key_bits)]
        if self.integ:
            t.append((pl.T_INTEG, self.integ, None))
        t.append((pl.T_ESN, 0, None))
        return t

    def keylens(self) -> tuple[int, int]:
        ek = self.key_bits // 8 + (4 if self.encr == 20 else 0)
        return ek, INTEG_KEYLEN.get(self.integ, 0)


@dataclass
class Peer:
    """One ``remote`` with its ``sainfo``: who, how, and what to protect."""

    address: Any
    local_address: Any
    psk: bytes
    my_id: str = ""
    peer_id: str = ""
    proposals: list[IkeProposal] = field(default_factory=lambda: [IkeProposal()])
    child: list[ChildProposal] = field(default_factory=lambda: [ChildProposal()])
    local_ts: Network | None = None
    remote_ts: Network | None = None
    #: racoon's ``nat_traversal``: "on" (when a NAT is seen), "force", "off"
    nat_traversal: str = "on"
    lifetime: int = 3600
    #: certificate authentication (racoon's certificate_type/ca_type), else the PSK
    cert: ikecert.CertAuth | None = None

    def __post_init__(self) -> None:
        self.address = ip_address(self.address)
        self.local_address = ip_address(self.local_address)
        if not self.my_id and self.cert is None:
            self.my_id = str(self.local_address)
        if self.local_ts is None:
            self.local_ts = _host_net(self.local_address)
        if self.remote_ts is None:
            self.remote_ts = _host_net(self.address)


def _host_net(a: Any) -> Network:
    from ipaddress import ip_network

    return ip_network(f"{a}/{a.max_prefixlen}")


def _ts_tuple(n: Network) -> tuple[int, int, int, int, bytes, bytes]:
    return (8 if n.version == 6 else 7, 0, 0, 65535, n.network_address.packed,
            n.broadcast_address.packed)


def _ts_covers(sels: list[Any], n: Network) -> bool:
    """Whether one of the peer's selectors (any protocol and port) holds ``n``."""
    lo, hi = n.network_address.packed, n.broadcast_address.packed
    for t, proto, sp, ep, start, end in sels:
        if (t == (8 if n.version == 6 else 7) and proto == 0 and sp == 0 and ep == 65535
                and start <= lo and hi <= end):
            return True
    return False


def _natd(spi_i: bytes, spi_r: bytes, addr: Any, port: int) -> bytes:
    return hashlib.sha1(spi_i + spi_r + addr.packed + struct.pack(">H", port)).digest()


class IkeSa:
    """One IKE SA (and its one CHILD SA) on either side."""

    def __init__(self, peer: Peer, initiator: bool, spi_i: bytes, now: float) -> None:
        self.peer = peer
        self.initiator = initiator
        self.spi_i = spi_i
        self.spi_r = bytes(8)
        self.state = "INIT"  # INIT, AUTH, ESTABLISHED, DELETING, DEAD
        self.created = now
        self.remote_port = IKE_PORT
        self.local_port = IKE_PORT
        self.nat = peer.nat_traversal == "force"
        self.prop: IkeProposal | None = None
        self.child_prop: ChildProposal | None = None
        self.dh: Any = None
        self.ni = self.nr = b""
        self.keys: dict[str, bytes] = {}
        self.init_req = self.init_resp = b""
        self.cookie = b""
        # window of one request each way (RFC 7296 §2.3)
        self.next_id = 0
        self.peer_next = 0
        self.last_resp: tuple[int, bytes] | None = None
        self.pending: tuple[int, bytes, int] | None = None  # (msg_id, data, exchange)
        self.tries = 0
        self.deadline: float | None = None
        self.child_spi_in = 0
        self.child_spi_out = 0
        self.installed = False
        self.reqid = 0
        self.error = ""
        #: the peer's SIGNATURE_HASH_ALGORITHMS (RFC 7427), empty if it sent none
        self.peer_hashes: list[int] = []

    @property
    def spi_local(self) -> bytes:
        return self.spi_i if self.initiator else self.spi_r

    # keys for what we send and what we receive
    def _k(self, out: bool) -> tuple[bytes, bytes]:
        mine = out == self.initiator  # initiator's keys are the "i" ones
        s = "i" if mine else "r"
        return self.keys["sk_e" + s], self.keys["sk_a" + s]


class Ike:
    """The IKEv2 daemon; see the module docstring.

    ``engine`` is the key engine the CHILD SAs go to (None: negotiate only,
    for tests); ``peers`` the configured remotes; ``cookie_threshold`` the
    number of half-open SAs past which IKE_SA_INIT needs a cookie."""

    RETRANS_BASE = 1.0
    RETRANS_TRIES = 6
    HALF_OPEN_TIMEOUT = 30.0
    MAX_SAS = 10000

    def __init__(self, peers: list[Peer], engine: Any = None, *,
                 cookie_threshold: int = 32, log: Callable[[str], None] | None = None) -> None:
        self.peers = list(peers)
        self.engine = engine
        self.cookie_threshold = cookie_threshold
        self.sas: dict[bytes, IkeSa] = {}  # by our SPI
        self.out: list[tuple[bytes, Any, int, int]] = []
        self.log: list[str] = []
        self._logfn = log
        self.stats: dict[str, int] = {}
        self._secret = _core.ike_random(32)
        self._seq = 0
        if engine is not None:
            m = P.SadbMsg(P.SADB_REGISTER, P.SADB_SATYPE_ESP, seq=self._nextseq())
            engine.send(m.pack(), 0.0)
            engine.listeners.append(self._pfkey_event)
        self._acquires: list[bytes] = []

    # --- bookkeeping ---------------------------------------------------------------

    def _nextseq(self) -> int:
        self._seq += 1
        return self._seq

    def inc(self, name: str) -> None:
        self.stats[name] = self.stats.get(name, 0) + 1

    def _say(self, text: str) -> None:
        self.log.append(text)
        if len(self.log) > 1000:
            del self.log[:500]
        if self._logfn is not None:
            self._logfn(text)

    def half_open(self) -> int:
        return sum(1 for s in self.sas.values() if not s.initiator and s.state in ("INIT", "AUTH"))

    def established(self) -> list[IkeSa]:
        return [s for s in self.sas.values() if s.state == "ESTABLISHED"]

    def _peer_for(self, addr: Any) -> Peer | None:
        return next((p for p in self.peers if p.address == addr), None)

    # --- PF_KEY -----------------------------------------------------------------------

    def _pfkey_event(self, buf: bytes) -> None:
        if len(self._acquires) < 64:
            self._acquires.append(buf)

    def acquire(self, buf: bytes, now: float) -> IkeSa | None:
        """An SADB_ACQUIRE: start an exchange with the remote it names."""
        try:
            m = P.decode(buf)
        except KameError:
            self.inc("pfkey_bad")
            return None
        if m.type != P.SADB_ACQUIRE:
            return None
        dst = m.get(P.SADB_EXT_ADDRESS_DST)
        peer = self._peer_for(dst.addr) if dst is not None else None
        if peer is None:
            self._say(f"ACQUIRE for {dst.addr if dst else '?'}: no remote configured")
            return None
        if any(s.peer is peer and s.state != "DEAD" for s in self.sas.values()):
            return None  # already negotiating (or up)
        sa2 = m.get(P.SADB_X_EXT_SA2)
        sa = self.initiate(peer, now)
        sa.reqid = sa2.reqid if sa2 else 0
        return sa

    def _engine(self, msg: P.SadbMsg, now: float) -> P.SadbMsg | None:
        if self.engine is None:
            return None
        reply = P.decode(self.engine.send(msg.pack(), now)[0])
        if reply.errno:
            self._say(f"key engine refused {P.MSG_TYPES.get(msg.type, msg.type)}: "
                      f"errno {reply.errno}")
            return None
        return reply

    def _getspi(self, sa: IkeSa, now: float) -> int:
        if self.engine is None:
            return int.from_bytes(_core.ike_random(4), "big") | 0x100
        p = sa.peer
        m = P.SadbMsg(P.SADB_GETSPI, P.SADB_SATYPE_ESP, seq=self._nextseq())
        m.add(P.SadbXSa2(P.MODES["tunnel"], 0, sa.reqid))
        m.add(P.SadbAddress(P.SADB_EXT_ADDRESS_SRC, p.address, p.address.max_prefixlen, 255))
        m.add(P.SadbAddress(P.SADB_EXT_ADDRESS_DST, p.local_address,
                            p.local_address.max_prefixlen, 255))
        r = self._engine(m, now)
        if r is None:
            raise KameError("SADB_GETSPI failed", layer="ike")
        return int(r.get(P.SADB_EXT_SA).spi)

    def _install(self, sa: IkeSa, keymat: bytes, now: float) -> None:
        cp = sa.child_prop
        assert cp is not None
        ek, ak = cp.keylens()
        i2r = (keymat[:ek], keymat[ek:ek + ak])
        r2i = (keymat[ek + ak:2 * ek + ak], keymat[2 * ek + ak:2 * (ek + ak)])
        kin, kout = (r2i, i2r) if sa.initiator else (i2r, r2i)
        sa.installed = True
        if self.engine is None:
            sa.keys["child_in"], sa.keys["child_out"] = kin[0] + kin[1], kout[0] + kout[1]
            return
        p = sa.peer
        for typ, spi, src, dst, (e, a) in (
                (P.SADB_UPDATE, sa.child_spi_in, p.address, p.local_address, kin),
                (P.SADB_ADD, sa.child_spi_out, p.local_address, p.address, kout)):
            m = P.SadbMsg(typ, P.SADB_SATYPE_ESP, seq=self._nextseq())
            m.add(P.SadbSa(spi, 4, 1, P.AALG[ESP_INTEG[cp.integ]] if cp.integ else 0,
                           P.EALG[ESP_ENCR[cp.encr]]))
            m.add(P.SadbXSa2(P.MODES["tunnel"], 0, sa.reqid))
            m.add(P.SadbAddress(P.SADB_EXT_ADDRESS_SRC, src, src.max_prefixlen, 255))
            m.add(P.SadbAddress(P.SADB_EXT_ADDRESS_DST, dst, dst.max_prefixlen, 255))
            m.add(P.SadbKey(P.SADB_EXT_KEY_ENCRYPT, e))
            if a:
                m.add(P.SadbKey(P.SADB_EXT_KEY_AUTH, a))
            m.add(P.SadbLifetime(P.SADB_EXT_LIFETIME_HARD, 0, 0, p.lifetime, 0))
            if sa.nat:
                m.add(P.SadbXNatT(P.SADB_X_EXT_NAT_T_TYPE, P.UDP_ENCAP_ESPINUDP))
                m.add(P.SadbXNatT(P.SADB_X_EXT_NAT_T_SPORT, NATT_PORT))
                m.add(P.SadbXNatT(P.SADB_X_EXT_NAT_T_DPORT, sa.remote_port))
            self._engine(m, now)

    def _uninstall(self, sa: IkeSa, now: float) -> None:
        """SADB_DELETE the CHILD SA pair (or the larval inbound SA GETSPI made)."""
        p = sa.peer
        todo = []
        if sa.child_spi_in:
            todo.append((sa.child_spi_in, p.address, p.local_address))
        if sa.installed:
            todo.append((sa.child_spi_out, p.local_address, p.address))
        sa.installed = False
        sa.child_spi_in = 0
        if self.engine is None:
            return
        for spi, src, dst in todo:
            m = P.SadbMsg(P.SADB_DELETE, P.SADB_SATYPE_ESP, seq=self._nextseq())
            m.add(P.SadbSa(spi))
            m.add(P.SadbAddress(P.SADB_EXT_ADDRESS_SRC, src, src.max_prefixlen, 255))
            m.add(P.SadbAddress(P.SADB_EXT_ADDRESS_DST, dst, dst.max_prefixlen, 255))
            self._engine(m, now)

    # --- sending ------------------------------------------------------------------------

    def _send(self, sa: IkeSa, data: bytes) -> None:
        self.out.append((data, sa.peer.address, sa.remote_port, sa.local_port))

    def _header(self, sa: IkeSa, exchange: int, msg_id: int, response: bool) -> bytes:
        flags = (pl.F_INITIATOR if sa.initiator else 0) | (pl.F_RESPONSE if response else 0)
        return bytes(_core.ike_build_header(sa.spi_i, sa.spi_r, 0, exchange, flags, msg_id, 0))

    def _plain(self, sa: IkeSa, exchange: int, msg_id: int, response: bool,
               payloads: list[tuple[int, bool, bytes]]) -> bytes:
        chain = _core.ike_build_chain(payloads)
        h = bytearray(self._header(sa, exchange, msg_id, response))
        h[16] = payloads[0][0] if payloads else 0
        h[24:28] = struct.pack(">I", 28 + len(chain))
        return bytes(h) + chain

    def _sealed(self, sa: IkeSa, exchange: int, msg_id: int, response: bool,
                payloads: list[tuple[int, bool, bytes]]) -> bytes:
        assert sa.prop is not None
        e, a = sa._k(True)
        inner = _core.ike_build_chain(payloads)
        first = payloads[0][0] if payloads else 0
        return bytes(_core.ike_seal(self._header(sa, exchange, msg_id, response), first, inner,
                                    sa.prop.encr, sa.prop.key_bits, sa.prop.integ, e, a))

    def _request(self, sa: IkeSa, exchange: int, data: bytes, now: float) -> None:
        sa.pending = (sa.next_id, data, exchange)
        sa.tries = 0
        sa.deadline = now + self.RETRANS_BASE
        self._send(sa, data)

    def _notify_peer(self, sa: IkeSa, note: int) -> None:
        """One INFORMATIONAL request carrying an error notify (RFC 7296
        §2.21.2: the initiator tells the responder its AUTH failed; the
        responder then ends the IKE SA), sent once."""
        self._send(sa, self._sealed(sa, pl.INFORMATIONAL, sa.next_id, False,
                                    [(pl.PT_N, False, Notify(note).pack())]))

    def _respond(self, sa: IkeSa, msg_id: int, data: bytes) -> None:
        sa.last_resp = (msg_id, data)
        self._send(sa, data)

    # --- initiator ----------------------------------------------------------------------

    def initiate(self, peer: Peer, now: float) -> IkeSa:
        """Start IKE_SA_INIT towards ``peer``."""
        sa = IkeSa(peer, True, _core.ike_random(8), now)
        if peer.nat_traversal == "force":
            sa.nat = True
        self.sas[sa.spi_i] = sa
        sa.ni = _core.ike_random(32)
        sa.dh = _core.IkeDh(peer.proposals[0].dh)
        self._say(f"initiate IKE_SA_INIT to {peer.address}")
        self._send_init(sa, now)
        return sa

    def _natd_payloads(self, sa: IkeSa, src: Any, sport: int, dst: Any, dport: int
                       ) -> list[tuple[int, bool, bytes]]:
        s = _natd(sa.spi_i, sa.spi_r, src, sport)
        if sa.peer.nat_traversal == "force":
            s = hashlib.sha1(b"force" + s).digest()  # as strongSwan's encap=yes: a NAT seen
        d = _natd(sa.spi_i, sa.spi_r, dst, dport)
        return [(pl.PT_N, False, Notify(pl.N_NAT_DETECTION_SOURCE_IP, data=s).pack()),
                (pl.PT_N, False, Notify(pl.N_NAT_DETECTION_DESTINATION_IP, data=d).pack())]

    def _send_init(self, sa: IkeSa, now: float) -> None:
        p = sa.peer
        props = [(i + 1, pl.PROTO_IKE, b"", x.transforms()) for i, x in enumerate(p.proposals)]
        pls: list[tuple[int, bool, bytes]] = []
        if sa.cookie:
            pls.append((pl.PT_N, False, Notify(pl.N_COOKIE, data=sa.cookie).pack()))
        pls += [(pl.PT_SA, False, _core.ike_build_sa(props)),
                (pl.PT_KE, False, pl.ke_body(sa.dh.group, sa.dh.public)),
                (pl.PT_NONCE, False, sa.ni)]
        if p.nat_traversal != "off":
            pls += self._natd_payloads(sa, p.local_address, IKE_PORT, p.address, IKE_PORT)
        if p.cert is not None:
            pls.append(self._sha_notify())
        sa.init_req = self._plain(sa, pl.IKE_SA_INIT, 0, False, pls)
        sa.next_id = 0
        self._request(sa, pl.IKE_SA_INIT, sa.init_req, now)

    def _init_response(self, sa: IkeSa, hdr: tuple[Any, ...], pays: list[Any], data: bytes,
                       src: Any, sport: int, now: float) -> None:
        notes = [Notify.unpack(b) for t, _c, b in pays if t == pl.PT_N]
        for n in notes:
            if n.type == pl.N_COOKIE and not sa.cookie:
                sa.cookie = n.data[:64]
                self._send_init(sa, now)
                return
            if n.type == pl.N_INVALID_KE_PAYLOAD and len(n.data) >= 2:
                g = struct.unpack(">H", n.data[:2])[0]
                if g in {x.dh for x in sa.peer.proposals} and g != sa.dh.group:
                    self._say(f"peer asks for DH group {g}: retrying")
                    sa.dh = _core.IkeDh(g)
                    self._send_init(sa, now)
                    return
            if n.type < 16384:
                extra = (f" (it asks for DH group {int.from_bytes(n.data[:2], 'big')}, which we "
                         f"do not offer or already sent)" if n.type == pl.N_INVALID_KE_PAYLOAD
                         else "")
                self._fail(sa, f"IKE_SA_INIT refused by {sa.peer.address}: "
                               f"{pl.notify_name(n.type)}{extra}", now)
                return
        sa.spi_r = hdr[1]
        by = {t: b for t, _c, b in pays}
        if pl.PT_SA not in by or pl.PT_KE not in by or pl.PT_NONCE not in by:
            self._fail(sa, "IKE_SA_INIT response lacks SA, KE or Nonce", now)
            return
        chosen = _core.ike_parse_sa(by[pl.PT_SA])
        prop = self._match_ike(chosen[:1]) if len(chosen) == 1 else None
        if prop is None:
            self._fail(sa, "IKE_SA_INIT response chose a proposal we did not offer", now)
            return
        sa.prop = prop
        group, kex = pl.ke_parse(by[pl.PT_KE])
        if group != sa.dh.group:
            self._fail(sa, f"peer's KE is group {group}, ours {sa.dh.group}", now)
            return
        sa.nr = by[pl.PT_NONCE]
        sa.init_resp = data
        sa.peer_hashes = self._peer_hashes(notes)
        self._nat_check(sa, notes, src, sport, sa.peer.local_address, IKE_PORT)
        self._derive(sa, kex)
        sa.pending = None
        sa.next_id = 1
        if sa.nat:
            sa.local_port = sa.remote_port = NATT_PORT
        self._send_auth(sa, now)

    def _send_auth(self, sa: IkeSa, now: float) -> None:
        p = sa.peer
        sa.child_spi_in = self._getspi(sa, now)
        idb = self._my_idb(p)
        props = [(i + 1, pl.PROTO_ESP, struct.pack(">I", sa.child_spi_in), c.transforms())
                 for i, c in enumerate(p.child)]
        assert p.local_ts is not None and p.remote_ts is not None
        pls = [(pl.PT_IDI, False, idb)] + self._cert_payloads(p)
        if p.cert is not None:
            pls.append((pl.PT_CERTREQ, False, ikecert.certreq_body(p.cert.ca_hashes())))
        if p.peer_id and (p.cert is None or p.cert.peer_id_kind != "asn1dn"):
            rt, rd = pl.id_for(p.peer_id)
            pls.append((pl.PT_IDR, False, pl.id_body(rt, rd)))
        try:
            authb = self._auth_body(sa, idb, initiator=True)
        except KameError as e:
            self._fail(sa, f"cannot sign our AUTH: {e}", now)
            return
        pls += [(pl.PT_AUTH, False, authb),
                (pl.PT_SA, False, _core.ike_build_sa(props)),
                (pl.PT_TSI, False, _core.ike_build_ts([_ts_tuple(p.local_ts)])),
                (pl.PT_TSR, False, _core.ike_build_ts([_ts_tuple(p.remote_ts)]))]
        sa.state = "AUTH"
        self._request(sa, pl.IKE_AUTH, self._sealed(sa, pl.IKE_AUTH, 1, False, pls), now)

    def _auth_response(self, sa: IkeSa, inner: list[Any], now: float) -> None:
        by = {t: b for t, _c, b in inner}
        for t, _c, b in inner:
            if t == pl.PT_N:
                n = Notify.unpack(b)
                if n.type < 16384:
                    self._fail(sa, f"IKE_AUTH refused by {sa.peer.address}: "
                                   f"{pl.notify_name(n.type)}", now)
                    return
        if pl.PT_IDR not in by or pl.PT_AUTH not in by:
            self._fail(sa, "IKE_AUTH response lacks IDr or AUTH", now)
            return
        if not self._check_auth(sa, by[pl.PT_IDR], by[pl.PT_AUTH], now, certs=_certs(inner)):
            return
        if pl.PT_SA not in by:
            self._fail(sa, "IKE_AUTH response has no CHILD SA", now)
            return
        props = _core.ike_parse_sa(by[pl.PT_SA])
        cp = self._match_child(props[:1]) if len(props) == 1 else None
        if cp is None or len(props[0][2]) != 4:
            self._fail(sa, "IKE_AUTH response chose an ESP proposal we did not offer", now)
            return
        sa.child_prop = cp
        sa.child_spi_out = int.from_bytes(props[0][2], "big")
        self._established(sa, now)

    # --- responder ----------------------------------------------------------------------

    def _cookie(self, ni: bytes, src: Any, spi_i: bytes) -> bytes:
        return b"\x00" + hmac.new(self._secret, ni + src.packed + spi_i, "sha256").digest()

    def _init_request(self, hdr: tuple[Any, ...], pays: list[Any], data: bytes, src: Any,
                      sport: int, dst: Any, dport: int, now: float) -> None:
        peer = self._peer_for(src)
        if peer is None:
            self.inc("ike_nopeer")
            self._say(f"IKE_SA_INIT from {src}: no remote configured")
            return
        by = {t: b for t, _c, b in pays}
        notes = [Notify.unpack(b) for t, _c, b in pays if t == pl.PT_N]
        ni = by.get(pl.PT_NONCE, b"")
        spi_i = hdr[0]
        tmp = IkeSa(peer, False, spi_i, now)
        tmp.remote_port, tmp.local_port = sport, dport
        # RFC 7296 §2.6: past the threshold, answer with a cookie and keep no state
        if self.half_open() >= self.cookie_threshold:
            want = self._cookie(ni, src, spi_i)
            got = next((n.data for n in notes if n.type == pl.N_COOKIE), None)
            if got is None or not hmac.compare_digest(got, want):
                self.inc("ike_cookie_sent")
                self._send(tmp, self._plain(tmp, pl.IKE_SA_INIT, 0, True, [
                    (pl.PT_N, False, Notify(pl.N_COOKIE, data=want).pack())]))
                return
        if len(self.sas) >= self.MAX_SAS:
            self.inc("ike_toomany")
            return
        if pl.PT_SA not in by or pl.PT_KE not in by or not 16 <= len(ni) <= 256:
            self.inc("ike_badinit")
            self._send(tmp, self._plain(tmp, pl.IKE_SA_INIT, 0, True, [
                (pl.PT_N, False, Notify(pl.N_INVALID_SYNTAX).pack())]))
            return
        prop = self._match_ike(_core.ike_parse_sa(by[pl.PT_SA]))
        if prop is None:
            self._say(f"IKE_SA_INIT from {src}: NO_PROPOSAL_CHOSEN (none of its proposals "
                      f"is in our proposal list)")
            self._send(tmp, self._plain(tmp, pl.IKE_SA_INIT, 0, True, [
                (pl.PT_N, False, Notify(pl.N_NO_PROPOSAL_CHOSEN).pack())]))
            return
        group, kex = pl.ke_parse(by[pl.PT_KE])
        if group != prop.dh:
            self._send(tmp, self._plain(tmp, pl.IKE_SA_INIT, 0, True, [
                (pl.PT_N, False, Notify(pl.N_INVALID_KE_PAYLOAD,
                                        data=struct.pack(">H", prop.dh)).pack())]))
            return
        sa = IkeSa(peer, False, spi_i, now)
        sa.spi_r = _core.ike_random(8)
        sa.remote_port, sa.local_port = sport, dport
        sa.prop, sa.ni, sa.nr = prop, ni, _core.ike_random(32)
        sa.init_req = data
        sa.dh = _core.IkeDh(prop.dh)
        try:
            self._derive(sa, kex)
        except KameError as e:
            self._say(f"IKE_SA_INIT from {src}: bad KE ({e})")
            return
        self._nat_check(sa, notes, src, sport, dst, dport, spi_r=bytes(8))
        sa.state = "AUTH"
        self.sas[sa.spi_r] = sa
        chosen = [(1, pl.PROTO_IKE, b"", prop.transforms())]
        pls = [(pl.PT_SA, False, _core.ike_build_sa(chosen)),
               (pl.PT_KE, False, pl.ke_body(prop.dh, sa.dh.public)),
               (pl.PT_NONCE, False, sa.nr)]
        if any(n.type == pl.N_NAT_DETECTION_SOURCE_IP for n in notes):
            pls += self._natd_payloads(sa, dst, dport, src, sport)
        sa.peer_hashes = self._peer_hashes(notes)
        if peer.cert is not None:
            pls += [(pl.PT_CERTREQ, False, ikecert.certreq_body(peer.cert.ca_hashes())),
                    self._sha_notify()]
        sa.init_resp = self._plain(sa, pl.IKE_SA_INIT, 0, True, pls)
        sa.peer_next = 1
        sa.deadline = now + self.HALF_OPEN_TIMEOUT
        self._respond(sa, 0, sa.init_resp)

    def _auth_request(self, sa: IkeSa, inner: list[Any], msg_id: int, now: float) -> None:
        by = {t: b for t, _c, b in inner}
        if pl.PT_IDI not in by or pl.PT_AUTH not in by:
            self._refuse_auth(sa, msg_id, pl.N_INVALID_SYNTAX, "IKE_AUTH lacks IDi or AUTH", now)
            return
        if not self._check_auth(sa, by[pl.PT_IDI], by[pl.PT_AUTH], now, msg_id=msg_id,
                                certs=_certs(inner)):
            return
        p = sa.peer
        cp = self._match_child(_core.ike_parse_sa(by[pl.PT_SA])) if pl.PT_SA in by else None
        props = _core.ike_parse_sa(by[pl.PT_SA]) if pl.PT_SA in by else []
        if cp is None:
            self._refuse_auth(sa, msg_id, pl.N_NO_PROPOSAL_CHOSEN,
                              "IKE_AUTH: none of the peer's ESP proposals is acceptable", now,
                              keep=True)
            return
        peer_spi = next((pr[2] for pr in props if self._match_child([pr]) == cp), b"")
        assert p.local_ts is not None and p.remote_ts is not None
        tsi = _core.ike_parse_ts(by[pl.PT_TSI]) if pl.PT_TSI in by else []
        tsr = _core.ike_parse_ts(by[pl.PT_TSR]) if pl.PT_TSR in by else []
        if not (_ts_covers(tsi, p.remote_ts) and _ts_covers(tsr, p.local_ts)):
            self._refuse_auth(sa, msg_id, pl.N_TS_UNACCEPTABLE,
                              f"IKE_AUTH: the peer's selectors do not hold {p.remote_ts} <-> "
                              f"{p.local_ts}", now, keep=True)
            return
        sa.child_prop = cp
        sa.child_spi_out = int.from_bytes(peer_spi, "big")
        sa.child_spi_in = self._getspi(sa, now)
        idb = self._my_idb(p)
        try:
            authb = self._auth_body(sa, idb, initiator=False)
        except KameError as e:
            self._refuse_auth(sa, msg_id, pl.N_AUTHENTICATION_FAILED,
                              f"cannot sign our AUTH: {e}", now)
            return
        chosen = [(1, pl.PROTO_ESP, struct.pack(">I", sa.child_spi_in), cp.transforms())]
        pls = [(pl.PT_IDR, False, idb), *self._cert_payloads(p),
               (pl.PT_AUTH, False, authb),
               (pl.PT_SA, False, _core.ike_build_sa(chosen)),
               (pl.PT_TSI, False, _core.ike_build_ts([_ts_tuple(p.remote_ts)])),
               (pl.PT_TSR, False, _core.ike_build_ts([_ts_tuple(p.local_ts)]))]
        self._respond(sa, msg_id, self._sealed(sa, pl.IKE_AUTH, msg_id, True, pls))
        self._established(sa, now)

    def _refuse_auth(self, sa: IkeSa, msg_id: int, note: int, why: str, now: float,
                     keep: bool = False) -> None:
        self._say(f"{sa.peer.address}: {why}: answering {pl.notify_name(note)}")
        self._respond(sa, msg_id, self._sealed(sa, pl.IKE_AUTH, msg_id, True, [
            (pl.PT_N, False, Notify(note).pack())]))
        sa.error = why
        if not keep:
            sa.state = "DEAD"
            sa.deadline = now + 5.0  # answer retransmits for a while, then forget

    # --- shared --------------------------------------------------------------------------

    def _match_ike(self, props: list[Any]) -> IkeProposal | None:
        for ours in (x for p in self.peers for x in p.proposals):
            for _num, proto, _spi, trs in props:
                if proto != pl.PROTO_IKE:
                    continue
                have = set(trs)
                integ_ok = ((pl.T_INTEG, ours.integ, None) in have if ours.integ
                            else not any(t[0] == pl.T_INTEG and t[1] != 0 for t in trs))
                if ((pl.T_ENCR, ours.encr, ours.key_bits) in have and integ_ok
                        and (pl.T_PRF, ours.prf, None) in have
                        and (pl.T_DH, ours.dh, None) in have):
                    return ours
        return None

    def _match_child(self, props: list[Any]) -> ChildProposal | None:
        for ours in (x for p in self.peers for x in p.child):
            for _num, proto, spi, trs in props:
                if proto != pl.PROTO_ESP or len(spi) != 4:
                    continue
                have = set(trs)
                integ_ok = ((pl.T_INTEG, ours.integ, None) in have if ours.integ
                            else not any(t[0] == pl.T_INTEG and t[1] != 0 for t in trs))
                esn_ok = (pl.T_ESN, 0, None) in have or not any(t[0] == pl.T_ESN for t in trs)
                if (pl.T_ENCR, ours.encr, ours.key_bits) in have and integ_ok and esn_ok:
                    return ours
        return None

    def _derive(self, sa: IkeSa, kex: bytes) -> None:
        assert sa.prop is not None
        gir = sa.dh.shared(kex)
        encr_len = sa.prop.key_bits // 8 + (4 if sa.prop.encr == 20 else 0)
        sa.keys = dict(_core.ike_keys(sa.prop.prf, sa.ni, sa.nr, gir, sa.spi_i, sa.spi_r,
                                      INTEG_KEYLEN.get(sa.prop.integ, 0), encr_len))

    def _nat_check(self, sa: IkeSa, notes: list[Notify], src: Any, sport: int, dst: Any,
                   dport: int, spi_r: bytes | None = None) -> None:
        if sa.peer.nat_traversal == "off":
            return
        srcs = [n.data for n in notes if n.type == pl.N_NAT_DETECTION_SOURCE_IP]
        dsts = [n.data for n in notes if n.type == pl.N_NAT_DETECTION_DESTINATION_IP]
        if not srcs and not dsts:
            return
        r = sa.spi_r if spi_r is None else spi_r  # zero in the IKE_SA_INIT request
        peer_nat = _natd(sa.spi_i, r, src, sport) not in srcs
        our_nat = _natd(sa.spi_i, r, dst, dport) not in dsts
        if peer_nat or our_nat:
            sa.nat = True
            self._say(f"{sa.peer.address}: NAT detected ({'peer' if peer_nat else 'us'} "
                      f"behind one): IKE and ESP over UDP {NATT_PORT}")

    def _octets(self, sa: IkeSa, idbody: bytes, *, initiator: bool) -> bytes:
        """RFC 7296 §2.15: InitiatorSignedOctets / ResponderSignedOctets."""
        assert sa.prop is not None
        prf = sa.prop.prf
        if initiator:
            return sa.init_req + sa.nr + bytes(_core.ike_prf(prf, sa.keys["sk_pi"], idbody))
        return sa.init_resp + sa.ni + bytes(_core.ike_prf(prf, sa.keys["sk_pr"], idbody))

    def _auth(self, sa: IkeSa, idbody: bytes, *, initiator: bool) -> bytes:
        assert sa.prop is not None
        prf = sa.prop.prf
        octets = self._octets(sa, idbody, initiator=initiator)
        key = _core.ike_prf(prf, sa.peer.psk, b"Key Pad for IKEv2")
        return bytes(_core.ike_prf(prf, key, octets))

    def _auth_body(self, sa: IkeSa, idbody: bytes, *, initiator: bool) -> bytes:
        """Our AUTH payload body: a signature with our certificate's key, or the PSK MAC."""
        c = sa.peer.cert
        if c is None:
            return bytes([pl.AUTH_PSK, 0, 0, 0]) + self._auth(sa, idbody, initiator=initiator)
        method, sig = c.sign(sa.peer_hashes, self._octets(sa, idbody, initiator=initiator))
        return bytes([method, 0, 0, 0]) + sig

    def _my_idb(self, p: Peer) -> bytes:
        got = p.cert.my_id(p.my_id) if p.cert is not None else None
        idt, idd = got if got is not None else pl.id_for(p.my_id)
        return pl.id_body(idt, idd)

    def _cert_payloads(self, p: Peer) -> list[tuple[int, bool, bytes]]:
        if p.cert is None:
            return []
        return [(pl.PT_CERT, False, ikecert.cert_body(c)) for c in p.cert.chain]

    def _sha_notify(self) -> tuple[int, bool, bytes]:
        return (pl.PT_N, False, Notify(ikecert.N_SIGNATURE_HASH_ALGORITHMS,
                                       data=ikecert.hash_algorithms_data()).pack())

    def _peer_hashes(self, notes: list[Notify]) -> list[int]:
        return [h for n in notes if n.type == ikecert.N_SIGNATURE_HASH_ALGORITHMS
                for h in ikecert.hash_algorithms(n.data)]

    def _check_cert_auth(self, sa: IkeSa, idbody: bytes, authbody: bytes,
                         certs: list[bytes], *, initiator: bool) -> str:
        """'' when the peer's certificate, identity and signature hold, else why not."""
        c = sa.peer.cert
        assert c is not None
        method, data = pl.auth_parse(authbody)
        if method == pl.AUTH_PSK:
            return "peer authenticates with a pre-shared key; we want a certificate"
        if sa.peer.peer_id and idbody != pl.id_body(*pl.id_for(sa.peer.peer_id)):
            return f"ID {pl.id_text(idbody)!r} is not the configured {sa.peer.peer_id!r}"
        try:
            leaf = c.check_peer(certs, idbody[0] if idbody else 0, idbody[4:])
            _core.ike_auth_verify(leaf, method, data,
                                  self._octets(sa, idbody, initiator=initiator))
        except KameError as e:
            return f"bad certificate: {e}"
        return ""

    def _check_auth(self, sa: IkeSa, idbody: bytes, authbody: bytes, now: float,
                    msg_id: int | None = None, certs: list[bytes] | None = None) -> bool:
        p = sa.peer
        if p.cert is not None:
            why = self._check_cert_auth(sa, idbody, authbody, certs or [],
                                        initiator=msg_id is not None)
            if not why:
                return True
            why = f"AUTHENTICATION_FAILED: {p.address}'s {why}"
            self.inc("ike_authfail")
            if msg_id is not None:
                self._refuse_auth(sa, msg_id, pl.N_AUTHENTICATION_FAILED, why, now)
            else:
                self._notify_peer(sa, pl.N_AUTHENTICATION_FAILED)
                self._fail(sa, why, now)
            return False
        if p.peer_id:
            t, d = pl.id_for(p.peer_id)
            if idbody != pl.id_body(t, d):
                why = f"peer's ID {pl.id_text(idbody)!r} is not {p.peer_id!r}"
                if msg_id is not None:
                    self._refuse_auth(sa, msg_id, pl.N_AUTHENTICATION_FAILED, why, now)
                else:
                    self._fail(sa, why, now)
                return False
        method, data = pl.auth_parse(authbody)
        want = self._auth(sa, idbody, initiator=msg_id is not None)
        if method != pl.AUTH_PSK or not hmac.compare_digest(want, data):
            why = (f"AUTHENTICATION_FAILED: {p.address}'s AUTH does not match our "
                   f"pre-shared key" if method == pl.AUTH_PSK
                   else f"peer authenticates with method {method}, not a pre-shared key")
            self.inc("ike_authfail")
            if msg_id is not None:
                self._refuse_auth(sa, msg_id, pl.N_AUTHENTICATION_FAILED, why, now)
            else:
                self._fail(sa, why, now)
            return False
        return True

    def _established(self, sa: IkeSa, now: float) -> None:
        assert sa.prop is not None and sa.child_prop is not None
        km_len = 2 * sum(sa.child_prop.keylens())
        keymat = _core.ike_child_keymat(sa.prop.prf, sa.keys["sk_d"], sa.ni, sa.nr, km_len)
        self._install(sa, bytes(keymat), now)
        sa.state = "ESTABLISHED"
        sa.pending = None
        sa.deadline = None
        sa.next_id = max(sa.next_id, 2) if sa.initiator else sa.next_id
        self.inc("ike_established")
        self._say(f"IKE SA {sa.spi_i.hex()}:{sa.spi_r.hex()} with {sa.peer.address} "
                  f"established; CHILD SA esp in 0x{sa.child_spi_in:08x} out "
                  f"0x{sa.child_spi_out:08x}" + (" (UDP-encapsulated)" if sa.nat else ""))

    def _fail(self, sa: IkeSa, why: str, now: float) -> None:
        self.inc("ike_failed")
        sa.error = why
        self._say(f"{sa.peer.address}: {why}")
        self._kill(sa, now)

    def _kill(self, sa: IkeSa, now: float) -> None:
        self._uninstall(sa, now)
        sa.state = "DEAD"
        sa.pending = None
        sa.deadline = None
        self.sas.pop(sa.spi_local, None)

    # --- INFORMATIONAL --------------------------------------------------------------------

    def delete(self, sa: IkeSa, now: float) -> None:
        """Delete the IKE SA (and with it its CHILD SA): INFORMATIONAL with D."""
        if sa.state != "ESTABLISHED":
            self._kill(sa, now)
            return
        sa.state = "DELETING"
        self._uninstall(sa, now)
        data = self._sealed(sa, pl.INFORMATIONAL, sa.next_id, False,
                            [(pl.PT_D, False, Delete(pl.PROTO_IKE).pack())])
        self._request(sa, pl.INFORMATIONAL, data, now)
        self._say(f"deleting IKE SA with {sa.peer.address}")

    def shutdown(self, now: float) -> None:
        for sa in list(self.sas.values()):
            self.delete(sa, now)

    def _informational(self, sa: IkeSa, inner: list[Any], msg_id: int, now: float) -> None:
        reply: list[tuple[int, bool, bytes]] = []
        gone = False
        for t, _c, b in inner:
            if t == pl.PT_N and Notify.unpack(b).type == pl.N_AUTHENTICATION_FAILED:
                # RFC 7296 §2.21.2: the initiator did not accept our AUTH
                self.inc("ike_authfail")
                self._say(f"{sa.peer.address}: AUTHENTICATION_FAILED: the peer refused our "
                          f"AUTH (our certificate or ID)")
                gone = True
            if t != pl.PT_D:
                continue
            d = Delete.unpack(b)
            if d.protocol == pl.PROTO_IKE:
                gone = True
            elif d.protocol == pl.PROTO_ESP and struct.pack(">I", sa.child_spi_out) in d.spis:
                reply.append((pl.PT_D, False,
                              Delete(pl.PROTO_ESP, (struct.pack(">I", sa.child_spi_in),)).pack()))
                self._uninstall(sa, now)
                self._say(f"{sa.peer.address} deleted the CHILD SA")
        self._respond(sa, msg_id, self._sealed(sa, pl.INFORMATIONAL, msg_id, True, reply))
        if gone:
            self._say(f"{sa.peer.address} deleted the IKE SA")
            self._kill(sa, now)

    # --- input ------------------------------------------------------------------------------

    def input(self, data: bytes, src: Any, sport: int, dst: Any, dport: int,
              now: float) -> None:
        """One IKE message (the non-ESP marker already stripped)."""
        try:
            self._input(bytes(data), ip_address(src), sport, ip_address(dst), dport, now)
        except (KameError, ValueError) as e:
            self.inc("ike_badmsg")
            self._say(f"message from {src} port {sport} dropped: {e}")

    def _input(self, data: bytes, src: Any, sport: int, dst: Any, dport: int,
               now: float) -> None:
        hdr, pays, sk = _core.ike_parse(data)
        spi_i, spi_r, _np, _ver, exch, flags, msg_id, _len = hdr
        response = bool(flags & pl.F_RESPONSE)
        from_initiator = bool(flags & pl.F_INITIATOR)
        if exch == pl.IKE_SA_INIT:
            if response:
                sa = self.sas.get(spi_i)
                if sa is None or not sa.initiator or sa.state != "INIT" or msg_id != 0:
                    self.inc("ike_unexpected")
                    return
                self._init_response(sa, hdr, pays, data, src, sport, now)
                return
            if spi_r != bytes(8) or msg_id != 0:
                self.inc("ike_unexpected")
                return
            # a retransmitted request: the same answer again
            old = next((s for s in self.sas.values() if not s.initiator and s.spi_i == spi_i
                        and s.peer.address == src), None)
            if old is not None:
                if old.last_resp is not None and old.last_resp[0] == 0:
                    self._send(old, old.last_resp[1])
                return
            self._init_request(hdr, pays, data, src, sport, dst, dport, now)
            return
        sa = self.sas.get(spi_i if not from_initiator else spi_r)
        if sa is None or sk is None:
            self.inc("ike_nosa" if sa is None else "ike_nosk")
            return
        assert sa.prop is not None
        e, a = sa._k(False)
        first, plain = _core.ike_open(data, sk, sa.prop.encr, sa.prop.key_bits, sa.prop.integ,
                                      e, a)
        inner = _core.ike_parse_chain(first, plain)
        # authenticated: follow the peer's address and port (RFC 7296 §2.23)
        sa.remote_port = sport
        if dport == NATT_PORT:
            sa.local_port = NATT_PORT
        if response:
            if sa.pending is None or sa.pending[0] != msg_id:
                self.inc("ike_unexpected")
                return
            kind = sa.pending[2]
            sa.pending = None
            sa.deadline = None
            sa.next_id = msg_id + 1
            if kind == pl.IKE_AUTH:
                self._auth_response(sa, inner, now)
            elif kind == pl.INFORMATIONAL and sa.state == "DELETING":
                self._say(f"{sa.peer.address} confirmed the delete")
                self._kill(sa, now)
            return
        if sa.last_resp is not None and msg_id == sa.last_resp[0]:
            self._send(sa, sa.last_resp[1])  # a retransmitted request
            return
        if msg_id != sa.peer_next:
            self.inc("ike_badmsgid")
            return
        sa.peer_next = msg_id + 1
        if exch == pl.IKE_AUTH and not sa.initiator and sa.state == "AUTH":
            self._auth_request(sa, inner, msg_id, now)
        elif exch == pl.INFORMATIONAL and sa.state in ("ESTABLISHED", "DELETING"):
            self._informational(sa, inner, msg_id, now)
        elif exch == pl.CREATE_CHILD_SA:
            self._respond(sa, msg_id, self._sealed(sa, exch, msg_id, True, [
                (pl.PT_N, False, Notify(pl.N_NO_PROPOSAL_CHOSEN).pack())]))
        else:
            self.inc("ike_unexpected")

    # --- timers -------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        ds = [s.deadline for s in self.sas.values() if s.deadline is not None]
        return min(ds) if ds else None

    def timehandler(self, now: float) -> None:
        while self._acquires:
            self.acquire(self._acquires.pop(0), now)
        for sa in list(self.sas.values()):
            if sa.deadline is None or now < sa.deadline:
                continue
            if sa.pending is not None:
                sa.tries += 1
                if sa.tries >= self.RETRANS_TRIES:
                    what = pl.EXCHANGE_NAMES.get(sa.pending[2], "request")
                    self._fail(sa, f"no answer to {what} from {sa.peer.address} after "
                                   f"{sa.tries} tries", now)
                    continue
                self.inc("ike_retransmit")
                sa.deadline = now + self.RETRANS_BASE * (2 ** sa.tries)
                self._send(sa, sa.pending[1])
            else:
                if sa.state != "ESTABLISHED":
                    self._kill(sa, now)  # half-open too long, or dead and quiet
                else:
                    sa.deadline = None


def _certs(inner: list[Any]) -> list[bytes]:
    """The X.509 certificates of the CERT payloads, in order."""
    out = []
    for t, _c, b in inner:
        if t == pl.PT_CERT and b and b[0] == ikecert.CERT_X509_SIGNATURE:
            out.append(bytes(b[1:]))
    return out


def prefix_of(a: Any) -> IPv6Network | IPv4Network:
    return _host_net(a)


def is_v6(a: Any) -> bool:
    return isinstance(a, IPv6Address)
