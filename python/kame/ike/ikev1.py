"""IKEv1 (RFC 2409 over ISAKMP, RFC 2408 and the IPsec DOI, RFC 2407):
racoon's own protocol, sans-I/O, with the interface of
:class:`kame.ike.ikev2.Ike`.

:class:`Ikev1` takes UDP datagrams in (:meth:`Ikev1.input`), SADB_ACQUIREs
(:meth:`Ikev1.acquire`) and the clock (:meth:`Ikev1.timehandler`), queues
datagrams in :attr:`Ikev1.out` as ``(data, dst, dport, sport)``, and
installs the ESP SA pair each quick mode negotiates into the key engine
(SADB_GETSPI / SADB_UPDATE / SADB_ADD, SADB_DELETE on delete).

Phase 1: main mode (identity protection) and aggressive mode with
pre-shared keys (RFC 2409 §5.4), both roles; 3DES-CBC or AES-CBC with
SHA-1 or SHA-2 (the PRF is the HMAC of the negotiated hash); the MODP and
ECP groups of the core. The encrypted messages chain their IVs as RFC
2409 Appendix B says. NAT traversal (RFC 3947): the vendor ID, NAT-D,
the float to port 4500 and the UDP-Encapsulated-Tunnel mode of the ESP
SAs. Phase 2: quick mode (RFC 2409 §5.5) with and without PFS, both
roles, ESP in tunnel mode. INFORMATIONAL: delete (ESP and ISAKMP SAs),
notifications, and Dead Peer Detection (RFC 3706, R-U-THERE and the ACK).
Rekeying: the key engine's soft SADB_EXPIRE of an IPsec SA starts a new
quick mode on the ISAKMP SA (with PFS when ``pfs_group`` is set); the new
pair goes in (our new outbound SA after OUT_DELAY) and the old pair is
deleted with an INFORMATIONAL OLD_GRACE later; as responder the old pair
stays until the peer deletes it; two rekeys at once: the ISAKMP SA's
responder gives way. A hard SADB_EXPIRE deletes the pair and tells the
peer. The quick mode's lifetime is the smaller of the two ends' (RFC 2407
§4.5; RESPONDER-LIFETIME, §4.6.3.1, sent and honoured). The ISAKMP SA's
lifetime (``remote { lifetime }``, the smaller of both) starts a new main or
aggressive mode at 85 % (its initiator) or 90 % (its responder); the
IPsec SAs move to the new ISAKMP SA and the old one is deleted.
Each quick mode is made under the ``sainfo`` of its selectors (the
ACQUIRE's policy as initiator, the IDci/IDcr as responder,
INVALID-ID-INFORMATION when none takes them); an ISAKMP SA carries
several pairs (:class:`V1Child`), as racoon's do: an ACQUIRE for other
selectors starts a quick mode of its own on it, the quick modes run at
once, each by its message ID with its own retransmission, and each pair
rekeys, expires and is deleted on its own (up to
:attr:`Ikev1.MAX_CHILDREN`, counted past it). Requests are retransmitted with exponential backoff. Every refused
message is counted in :attr:`Ikev1.stats` and every failure is logged in
:attr:`Ikev1.log` in words that name the cause.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

from kame import _core
from kame.errors import CertificateError, KameError
from kame.ike.cert import CERT_X509_SIGNATURE, cert_body, parse_cert
from kame.ike.daemon import IKE_PORT, NATT_PORT, KeyDaemon
from kame.ike.ikev2 import (
    ChildProposal,
    ChildSelectors,
    IkeProposal,
    Network,
    Peer,
    Sainfo,
    _host_net,
)
from kame.key import pfkey as P

__all__ = ["Ikev1", "V1Peer", "V1Sa"]

# exchange types (RFC 2408 §3.1, RFC 2409 §5)
MAIN, AGGRESSIVE, INFO, QUICK = 2, 4, 5, 32
EXCHANGE_NAMES = {MAIN: "main mode", AGGRESSIVE: "aggressive mode", INFO: "INFORMATIONAL",
                  QUICK: "quick mode"}
F_ENC = 0x01
# payload types (RFC 2408 §3.1, RFC 3947)
PT_SA, PT_KE, PT_ID, PT_HASH, PT_NONCE, PT_N, PT_D, PT_VID = 1, 4, 5, 8, 10, 11, 12, 13
PT_NATD = 20
PT_CERT, PT_CR, PT_SIG = 6, 7, 9
PROTO_ISAKMP, PROTO_ESP = 1, 3
DOI_IPSEC, SIT_IDENTITY_ONLY = 1, 1
KEY_IKE = 1
# phase-1 attributes (RFC 2409 Appendix A)
A_ENC, A_HASH, A_AUTH, A_GROUP, A_LIFE_TYPE, A_LIFE, A_KEYLEN = 1, 2, 3, 4, 11, 12, 14
AUTH_PSK = 1
AUTH_RSA = 3  # RSA signatures (RFC 2409 §5.1)
ID_DER_ASN1_DN = 9
ENC_3DES, ENC_AES = 5, 7
#: IKEv2 PRF id (what IkeProposal.prf holds) <-> IKEv1 hash algorithm
HASH_OF_PRF = {2: 2, 5: 4, 6: 5, 7: 6}
HASHLIB = {2: "sha1", 5: "sha256", 6: "sha384", 7: "sha512"}
# phase-2 attributes (RFC 2407 §4.5)
Q_LIFE_TYPE, Q_LIFE, Q_GROUP, Q_ENCAP, Q_AUTH, Q_KEYLEN = 1, 2, 3, 4, 5, 6
ENCAP_TUNNEL, ENCAP_UDP_TUNNEL, ENCAP_UDP_TUNNEL_DRAFT = 1, 3, 61443
#: IKEv2 INTEG id <-> IKEv1 ESP authentication algorithm
AUTH_OF_INTEG = {2: 2, 12: 5, 13: 6, 14: 7}
INTEG_OF_AUTH = {v: k for k, v in AUTH_OF_INTEG.items()}
ESP_3DES = 3
# ID types (RFC 2407 §4.6.2.1)
ID_IPV4, ID_FQDN, ID_USER_FQDN, ID_IPV4_SUBNET, ID_IPV6, ID_IPV6_SUBNET = 1, 2, 3, 4, 5, 6
# notify types (RFC 2408 §3.14.1, RFC 3706)
N_INVALID_PAYLOAD_TYPE, N_PAYLOAD_MALFORMED, N_NO_PROPOSAL_CHOSEN = 1, 16, 14
N_INVALID_ID_INFORMATION, N_INVALID_HASH_INFORMATION, N_AUTHENTICATION_FAILED = 18, 23, 24
N_R_U_THERE, N_R_U_THERE_ACK, N_INITIAL_CONTACT = 36136, 36137, 24578
N_RESPONDER_LIFETIME = 24576  # RFC 2407 §4.6.3.1
NOTIFY_NAMES = {1: "INVALID-PAYLOAD-TYPE", 14: "NO-PROPOSAL-CHOSEN", 16: "PAYLOAD-MALFORMED",
                18: "INVALID-ID-INFORMATION", 23: "INVALID-HASH-INFORMATION",
                24: "AUTHENTICATION-FAILED", 36136: "R-U-THERE", 36137: "R-U-THERE-ACK",
                24578: "INITIAL-CONTACT", 24576: "RESPONDER-LIFETIME"}
VID_NATT = bytes.fromhex("4a131c81070358455c5728f20e95452f")  # RFC 3947
VID_DPD = bytes.fromhex("afcad71368a1f1c96b8696fc77570100")  # RFC 3706
#: the share of the IPsec SAs' lifetime after which the soft lifetime rekeys
#: them (less a random part of up to REKEY_JITTER)
REKEY_AT, REKEY_JITTER = 0.85, 0.1
#: after a rekey of ours: the new outbound SA waits this long (the peer gets
#: our quick mode message 3 first), the old pair this long before its delete
OUT_DELAY, OLD_GRACE = 0.5, 1.5
#: the share of the ISAKMP SA's lifetime after which a new phase 1 starts
P1_REKEY_AT = 0.9


def p1_life(attrs: list[Any]) -> int:
    """The lifetime in seconds a phase-1 attribute list names (0: none)."""
    typ, life = 1, 0
    for k, v in attrs:
        n = int.from_bytes(v, "big") if isinstance(v, bytes) else int(v)
        if k == A_LIFE_TYPE:
            typ = n
        elif k == A_LIFE and typ == 1:
            life = n
    return life


def p2_life(attrs: list[Any]) -> int:
    """The lifetime in seconds a phase-2 attribute list names (0: none)."""
    typ, life = 1, 0
    for k, v in attrs:
        n = int.from_bytes(v, "big") if isinstance(v, bytes) else int(v)
        if k == Q_LIFE_TYPE:
            typ = n
        elif k == Q_LIFE and typ == 1:
            life = n
    return life


def life_attrs(life: int) -> bytes:
    """LIFE-TYPE seconds and LIFE-DURATION, as RESPONDER-LIFETIME carries them."""
    return struct.pack(">HHHHI", 0x8000 | Q_LIFE_TYPE, 1, Q_LIFE, 4, life)


def life_attrs_parse(b: bytes) -> int:
    """The seconds in a RESPONDER-LIFETIME's attributes (0: none)."""
    out: list[tuple[int, Any]] = []
    i = 0
    while i + 4 <= len(b):
        t, v = struct.unpack_from(">HH", b, i)
        if t & 0x8000:
            out.append((t & 0x7FFF, v))
            i += 4
        else:
            out.append((t, bytes(b[i + 4:i + 4 + v])))
            i += 4 + v
    return p2_life(out)


def notify_name(t: int) -> str:
    return NOTIFY_NAMES.get(t, f"notify {t}")


@dataclass
class V1Peer(Peer):
    """A ``remote`` spoken to in IKEv1: its ``exchange_mode`` list (the
    first is what we initiate with), the quick mode's ``pfs_group`` (0:
    none) and ``dpd_delay`` (seconds between R-U-THERE, 0: off)."""

    exchange_mode: tuple[str, ...] = ("main",)
    pfs_group: int = 0
    dpd_delay: int = 0


def p1_transform(num: int, p: IkeProposal, lifetime: int, auth: int = AUTH_PSK
                 ) -> tuple[int, int, list[Any]]:
    attrs: list[tuple[int, Any]] = [(A_ENC, ENC_3DES if p.encr == 3 else ENC_AES)]
    if p.encr != 3:
        attrs.append((A_KEYLEN, p.key_bits))
    attrs += [(A_HASH, HASH_OF_PRF[p.prf]), (A_AUTH, auth), (A_GROUP, p.dh),
              (A_LIFE_TYPE, 1), (A_LIFE, struct.pack(">I", lifetime))]
    return (num, KEY_IKE, attrs)


def p1_match(ours: list[IkeProposal], trs: list[Any], auth: int = AUTH_PSK
             ) -> tuple[IkeProposal, Any] | None:
    """The first of our proposals one of the peer's phase-1 transforms names."""
    for p in ours:
        for t in trs:
            a = {k: v for k, v in t[2] if isinstance(v, int)}
            enc = a.get(A_ENC)
            if t[1] != KEY_IKE or a.get(A_AUTH) != auth:
                continue
            if p.encr == 3 and enc != ENC_3DES:
                continue
            if p.encr == 12 and (enc != ENC_AES or a.get(A_KEYLEN, 128) != p.key_bits):
                continue
            if p.encr not in (3, 12):
                continue
            if a.get(A_HASH) == HASH_OF_PRF.get(p.prf) and a.get(A_GROUP) == p.dh:
                return p, t
    return None


def p2_transform(num: int, c: ChildProposal, lifetime: int, encap: int, pfs: int
                 ) -> tuple[int, int, list[Any]]:
    attrs: list[tuple[int, Any]] = [(Q_LIFE_TYPE, 1), (Q_LIFE, struct.pack(">I", lifetime)),
                                    (Q_ENCAP, encap)]
    if c.integ:
        attrs.append((Q_AUTH, AUTH_OF_INTEG[c.integ]))
    if c.encr != ESP_3DES:
        attrs.append((Q_KEYLEN, c.key_bits))
    if pfs:
        attrs.append((Q_GROUP, pfs))
    return (num, c.encr, attrs)


def p2_match(ours: list[ChildProposal], trs: list[Any], pfs: int | None
             ) -> tuple[ChildProposal, Any] | None:
    for c in ours:
        for t in trs:
            a = {k: v for k, v in t[2] if isinstance(v, int)}
            if t[1] != c.encr or a.get(Q_KEYLEN, 192 if c.encr == ESP_3DES else 128) != c.key_bits:
                continue
            if INTEG_OF_AUTH.get(a.get(Q_AUTH, 0), 0) != c.integ:
                continue
            if a.get(Q_ENCAP, ENCAP_TUNNEL) not in (ENCAP_TUNNEL, ENCAP_UDP_TUNNEL,
                                                    ENCAP_UDP_TUNNEL_DRAFT):
                continue
            if pfs is not None and a.get(Q_GROUP, 0) != pfs:
                continue
            return c, t
    return None


def id_body(text: str) -> bytes:
    """A phase-1 ID payload body: an address, user@fqdn or an FQDN."""
    try:
        a = ip_address(text)
    except ValueError:
        return bytes([ID_USER_FQDN if "@" in text else ID_FQDN, 0, 0, 0]) + text.encode()
    return bytes([ID_IPV6 if isinstance(a, IPv6Address) else ID_IPV4, 0, 0, 0]) + a.packed


def id_net(n: Network) -> bytes:
    """A quick-mode client ID (IDci/IDcr) for a network: the address for a host."""
    v6 = n.version == 6
    if n.prefixlen == n.max_prefixlen:
        return bytes([ID_IPV6 if v6 else ID_IPV4, 0, 0, 0]) + n.network_address.packed
    return (bytes([ID_IPV6_SUBNET if v6 else ID_IPV4_SUBNET, 0, 0, 0])
            + n.network_address.packed + n.netmask.packed)


def id_to_net(b: bytes) -> Network | None:
    """The network of a quick-mode client ID for any protocol and port
    (an address or a subnet), else None."""
    from ipaddress import ip_network

    if len(b) < 4 or b[1] != 0 or b[2:4] != b"\0\0":
        return None
    t, d = b[0], b[4:]
    try:
        if t in (ID_IPV4, ID_IPV6) and len(d) in (4, 16) and (len(d) == 16) == (t == ID_IPV6):
            return ip_network(ip_address(d))
        if t in (ID_IPV4_SUBNET, ID_IPV6_SUBNET) and len(d) in (8, 32) and \
                (len(d) == 32) == (t == ID_IPV6_SUBNET):
            h = len(d) // 2
            mask = int.from_bytes(d[h:], "big")
            plen = mask.bit_count()
            if mask != ((1 << plen) - 1) << (8 * h - plen):
                return None  # not a prefix
            return ip_network((ip_address(d[:h]), plen))
    except ValueError:
        return None
    return None


def id_text(b: bytes) -> str:
    if len(b) < 4:
        return "(short ID)"
    t, d = b[0], b[4:]
    if t == ID_IPV6 and len(d) == 16:
        return str(IPv6Address(d))
    if t == ID_IPV4 and len(d) == 4:
        return str(IPv4Address(d))
    if t in (ID_FQDN, ID_USER_FQDN):
        return d.decode("ascii", "replace")
    n = id_to_net(b)
    if n is not None:
        return str(n)
    return f"type {t}: {d.hex()}"


def notify_body(ntype: int, proto: int = PROTO_ISAKMP, spi: bytes = b"", data: bytes = b""
                ) -> bytes:
    return struct.pack(">IBBH", DOI_IPSEC, proto, len(spi), ntype) + spi + data


def notify_parse(b: bytes) -> tuple[int, int, bytes, bytes]:
    if len(b) < 8 or 8 + b[5] > len(b):
        raise KameError("IKEv1: Notification payload shorter than its SPI", layer="ike")
    return b[4], struct.unpack_from(">H", b, 6)[0], bytes(b[8:8 + b[5]]), bytes(b[8 + b[5]:])


def delete_body(proto: int, spis: list[bytes]) -> bytes:
    size = len(spis[0]) if spis else 0
    return struct.pack(">IBBH", DOI_IPSEC, proto, size, len(spis)) + b"".join(spis)


def delete_parse(b: bytes) -> tuple[int, list[bytes]]:
    if len(b) < 8:
        raise KameError("IKEv1: Delete payload shorter than 8 octets", layer="ike")
    proto, size, n = b[4], b[5], struct.unpack_from(">H", b, 6)[0]
    if 8 + size * n != len(b):
        raise KameError("IKEv1: Delete payload length does not match its SPIs", layer="ike")
    return proto, [bytes(b[8 + i * size:8 + (i + 1) * size]) for i in range(n)]


class V1Child(ChildSelectors):
    """One IPsec SA pair an ISAKMP SA carries (its selectors, sainfo,
    policy reqid, SPIs) and the quick mode making or rekeying it. The
    ISAKMP SA is its own first pair; the others are in
    :attr:`V1Sa.children`."""

    def __init__(self, peer: V1Peer) -> None:
        self.peer = peer
        self.child_spi_in = 0
        self.child_spi_out = 0
        self.installed = False
        self.reqid = 0
        self.sainfo: Sainfo | None = None
        self.local_ts: Network | None = None
        self.remote_ts: Network | None = None
        #: the quick mode under way for this pair (ours or the peer's)
        self.quick: Quick | None = None

    @property
    def live(self) -> bool:
        """Up, or being made (an inbound SPI held or a quick mode under way)."""
        return self.installed or bool(self.child_spi_in) or (
            self.quick is not None and self.quick.state != "DONE")


class Quick:
    """One quick mode (phase 2) exchange, with its own retransmission (the
    quick modes of an ISAKMP SA run at once, each by its message ID)."""

    def __init__(self, msg_id: int, initiator: bool, iv: bytes) -> None:
        self.msg_id = msg_id
        #: the pair it makes or rekeys
        self.pair: V1Child | None = None
        #: our message waiting for its answer (data, what), its tries and deadline
        self.pending: tuple[bytes, str] | None = None
        self.tries = 0
        self.deadline: float | None = None
        self.initiator = initiator
        self.iv = iv
        self.ni = self.nr = b""
        self.dh: Any = None
        self.gxy = b""
        self.spi_in = 0
        self.spi_out = 0
        self.child: ChildProposal | None = None
        self.encap = ENCAP_TUNNEL
        self.state = "QM1"
        self.idci = self.idcr = b""
        #: the lifetime installed (seconds)
        self.life = 0
        #: a rekey: an IPsec SA pair was up when it started
        self.rekey = False


class V1Sa(V1Child):
    """One ISAKMP SA (phase 1), its first IPsec SA pair (its own fields)
    and the others (:attr:`children`)."""

    peer: V1Peer

    def __init__(self, peer: V1Peer, initiator: bool, cky_i: bytes, mode: str, now: float
                 ) -> None:
        super().__init__(peer)
        #: the IPsec SA pairs besides the first
        self.children: list[V1Child] = []
        #: the quick modes under way, by message ID
        self.quicks: dict[int, Quick] = {}
        #: ACQUIREs waiting for phase 1: sainfo, selectors, reqid
        self.wanted: list[tuple[Sainfo | None, Network, Network, int]] = []
        #: outbound SAs of our rekeys waiting OUT_DELAY, by the new inbound SPI
        self.pending_outs: dict[int, Callable[[], None]] = {}
        self.initiator = initiator
        self.cky_i = cky_i
        self.cky_r = bytes(8)
        self.mode = mode
        self.exch = MAIN if mode == "main" else AGGRESSIVE
        self.state = "MM1" if mode == "main" else "AM1"
        self.created = now
        self.remote_port = IKE_PORT
        self.local_port = IKE_PORT
        self.natt = False  # both sent the RFC 3947 vendor ID
        self.dpd = False  # the peer sent the RFC 3706 vendor ID
        self.nat = False
        self.prop: IkeProposal | None = None
        self.dh: Any = None
        self.ni = self.nr = self.gxi = self.gxr = b""
        self.sai_b = b""
        self.idir_b = self.idii_b = b""
        self.keys: dict[str, bytes] = {}
        self.enc = b""
        self.iv = b""
        self.p1_iv = b""
        self.pending: tuple[bytes, str] | None = None
        self.tries = 0
        self.deadline: float | None = None
        self.last_in = b""
        self.last_out = b""
        #: the answers we gave, by the message they answered (a retransmitted
        #: message gets the same answer again)
        self.answers: dict[bytes, bytes] = {}
        #: aggressive mode's message 3 until the responder is heard from again:
        #: resent with quick mode's retransmissions, as nothing answers it
        self.p1_final = b""
        #: rekeyed pairs (in, out) still in the key engine: deleted after
        #: OLD_GRACE by the rekey's initiator, or when the peer deletes them
        self.old_pairs: list[tuple[int, int]] = []
        #: deferred work: (when, what, spi in, spi out)
        self.later: list[tuple[float, str, int, int]] = []
        self.error = ""
        self.want_child = initiator
        self.dpd_seq = int.from_bytes(_core.ike_random(2), "big")
        self.dpd_at: float | None = None
        self.dpd_wait = 0
        #: the ISAKMP SA's lifetime (seconds, 0: none): a new phase 1 at
        #: P1_REKEY_AT of it, deleted when it runs out
        self.life = 0
        self.rekey_at: float | None = None
        self.expire_at: float | None = None
        #: the phase 1 that replaces this one is under way or up
        self.replaced = False

    @property
    def spi_i(self) -> bytes:
        return self.cky_i

    def all_children(self) -> list[V1Child]:
        """Its IPsec SA pairs: the first (itself), then the others."""
        return [self, *self.children]

    def child_by(self, *, spi_in: int = 0, spi_out: int = 0) -> V1Child | None:
        """The pair with inbound ``spi_in`` or outbound ``spi_out``."""
        for ch in self.all_children():
            if (spi_in and ch.child_spi_in == spi_in) or (spi_out and ch.child_spi_out == spi_out):
                return ch
        return None

    def child_count(self) -> int:
        """How many pairs it carries (up or being made)."""
        return sum(1 for ch in self.all_children() if ch.live)

    @property
    def spi_r(self) -> bytes:
        return self.cky_r

    @property
    def hashname(self) -> str:
        assert self.prop is not None
        return HASHLIB[self.prop.prf]

    def block(self) -> int:
        assert self.prop is not None
        return 8 if self.prop.encr == 3 else 16


class Ikev1(KeyDaemon):
    """The IKEv1 daemon; see the module docstring. It registers with the key
    engine when it has remotes; ``others`` are the IKEv2 daemon's remotes on
    the same key engine (:class:`kame.ike.daemon.KeyDaemon`), and with them
    the word on ACQUIREs for no remote at all is the IKEv2 daemon's."""

    RETRANS_BASE = 1.0
    RETRANS_TRIES = 6
    HALF_OPEN_TIMEOUT = 30.0
    #: seconds a replaced ISAKMP SA lives on after our phase-1 rekey
    P1_LINGER = 3.0
    MAX_SAS = 10000
    DEFERS_UNKNOWN = True
    #: IPsec SA pairs per ISAKMP SA (up or being made): past this a peer's
    #: next new pair is refused (NO-PROPOSAL-CHOSEN, counted)
    MAX_CHILDREN = 16

    def __init__(self, peers: list[V1Peer], engine: Any = None, *,
                 log: Callable[[str], None] | None = None,
                 others: Iterable[Any] = ()) -> None:
        super().__init__(peers, engine, log=log, others=others, register=bool(peers))
        self.sas: dict[bytes, V1Sa] = {}  # by CKY-I

    def established(self) -> list[V1Sa]:
        return [s for s in self.sas.values() if s.state == "ESTABLISHED"]

    # --- PF_KEY -----------------------------------------------------------------------

    def acquire(self, buf: bytes, now: float) -> V1Sa | None:
        """An SADB_ACQUIRE for one of our remotes: a quick mode under the
        sainfo of the policy's selectors, on the ISAKMP SA we have with the
        remote (racoon's way: several pairs on one, each its own quick
        mode), else after a new phase 1."""
        acq = self._acquire_of(buf)
        if acq is None:
            return None
        m, peer = acq
        sa2 = m.get(P.SADB_X_EXT_SA2)
        got = self._acquire_sainfo(m, peer)
        if got is None:
            return None
        reqid = sa2.reqid if sa2 else 0
        mine = [s for s in self.sas.values() if s.peer is peer and s.state != "DEAD"]
        old = max(mine, key=lambda s: (s.state == "ESTABLISHED" and not s.replaced, s.created),
                  default=None)
        if old is not None:
            if any(c.live and c.ts == got[1:] for c in old.all_children()) or \
                    any(w[1:3] == got[1:] for w in old.wanted):
                return None  # up, or being made
            if old.state != "ESTABLISHED":
                if old.initiator and len(old.wanted) < self.MAX_CHILDREN:
                    old.wanted.append((*got, reqid))
                return None
            self.new_pair(old, got, reqid, now)
            return None
        sa = self.initiate(peer, now)
        sa.use_sainfo(*got)
        sa.reqid = reqid
        return sa

    def new_pair(self, sa: V1Sa, got: tuple[Sainfo | None, Network, Network], reqid: int,
                 now: float) -> V1Child | None:
        """A quick mode on the established ISAKMP SA for a pair of its own
        (the first pair's place when it is empty); None past
        :attr:`MAX_CHILDREN` (counted)."""
        if sa.child_count() >= self.MAX_CHILDREN:
            self.inc("ipsec_toomany")
            self._say(f"quick mode for {got[1]} <-> {got[2]} with {sa.peer.address}: "
                      f"{self.MAX_CHILDREN} IPsec SA pairs on the ISAKMP SA already")
            return None
        ch: V1Child = sa if not sa.live else V1Child(sa.peer)
        if ch is not sa:
            sa.children.append(ch)
        ch.use_sainfo(*got)
        ch.reqid = reqid
        self._quick_start(sa, now, ch)
        return ch

    def _getspi(self, sa: V1Sa, now: float, ch: V1Child | None = None) -> int:
        return self._pfkey_getspi(sa.peer, "tunnel", (ch or sa).reqid, now)

    def _install(self, sa: V1Sa, q: Quick, now: float) -> None:
        """Install the pair quick mode ``q`` made. A rekey keeps the pair that
        was up in ``sa.old_pairs``; when we started it, our new outbound SA
        waits OUT_DELAY and the old pair is deleted OLD_GRACE later."""
        assert sa.prop is not None and q.child is not None
        ch = q.pair or sa
        cp = q.child
        ek, ak = cp.keylens()

        def keymat(spi: int) -> bytes:
            seed = q.gxy + bytes([PROTO_ESP]) + struct.pack(">I", spi) + q.ni + q.nr
            out, k = b"", b""
            while len(out) < ek + ak:
                k = _core.ike_prf(sa.prop.prf, sa.keys["skeyid_d"], k + seed)  # type: ignore[union-attr]
                out += k
            return out

        kin, kout = keymat(q.spi_in), keymat(q.spi_out)
        rekey = ch.installed and (ch.child_spi_in, ch.child_spi_out) != (q.spi_in, q.spi_out)
        if rekey:
            sa.old_pairs.append((ch.child_spi_in, ch.child_spi_out))
            if q.initiator:
                sa.later.append((now + OLD_GRACE, "delete", ch.child_spi_in, ch.child_spi_out))
            self.inc("ipsec_rekeyed")
        ch.child_spi_in, ch.child_spi_out = q.spi_in, q.spi_out
        ch.installed = True
        sa.nat = sa.nat or q.encap != ENCAP_TUNNEL
        sa.keys[f"child_in_{q.spi_in:08x}"] = kin[:ek + ak]
        sa.keys[f"child_out_{q.spi_out:08x}"] = kout[:ek + ak]
        keep = {x for pr in sa.old_pairs for x in pr} | {
            x for c in sa.all_children() for x in (c.child_spi_in, c.child_spi_out)}
        for k in [k for k in sa.keys if k.startswith("child_") and k.count("_") == 2
                  and int(k[-8:], 16) not in keep]:
            del sa.keys[k]
        if self.engine is None:
            if ch is sa:
                sa.keys["child_in"], sa.keys["child_out"] = kin[:ek + ak], kout[:ek + ak]
            return
        p = sa.peer
        life = q.life
        soft = int(life * (REKEY_AT - REKEY_JITTER * random.random())) if life else 0

        def add(typ: int, spi: int, src: Any, dst: Any, km: bytes) -> None:
            self._add_sa(typ, spi, src, dst, cp, (km[:ek], km[ek:ek + ak]), mode="tunnel",
                         reqid=ch.reqid, life=life, soft=soft,
                         natt_dport=sa.remote_port if q.encap != ENCAP_TUNNEL else None,
                         now=now)

        add(P.SADB_UPDATE, q.spi_in, p.address, p.local_address, kin)
        if rekey and q.initiator:
            sa.pending_outs[q.spi_in] = lambda: add(P.SADB_ADD, q.spi_out, p.local_address,
                                                    p.address, kout)
            sa.later.append((now + OUT_DELAY, "out", q.spi_in, q.spi_out))
        else:
            add(P.SADB_ADD, q.spi_out, p.local_address, p.address, kout)

    def _drop_old(self, sa: V1Sa, pair: tuple[int, int], now: float, tell: bool) -> None:
        """Delete a rekeyed pair from the key engine (and, ``tell``, at the peer)."""
        if pair in sa.old_pairs:
            sa.old_pairs.remove(pair)
        if tell and sa.state == "ESTABLISHED":
            self._info(sa, [(PT_D, delete_body(PROTO_ESP, [struct.pack(">I", pair[0])]))])
        p = sa.peer
        self._delete_sa(pair[0], p.address, p.local_address, now)
        self._delete_sa(pair[1], p.local_address, p.address, now)
        for spi, d in ((pair[0], "in"), (pair[1], "out")):
            sa.keys.pop(f"child_{d}_{spi:08x}", None)
        self._say(f"old IPsec SA pair with {p.address} deleted: esp in 0x{pair[0]:08x} out "
                  f"0x{pair[1]:08x}")

    def _uninstall(self, sa: V1Sa, now: float) -> None:
        """Every pair of the ISAKMP SA out of the key engine, the rekeyed
        ones too, and its quick modes forgotten."""
        for pair in list(sa.old_pairs):
            self._drop_old(sa, pair, now, False)
        sa.later = []
        sa.pending_outs = {}
        for q in list(sa.quicks.values()):
            if q.spi_in and (q.pair is None or q.spi_in != q.pair.child_spi_in):
                self._delete_sa(q.spi_in, sa.peer.address, sa.peer.local_address, now)
        sa.quicks = {}
        for ch in sa.all_children():
            self._drop_child(sa, ch, now)

    def _drop_child(self, sa: V1Sa, ch: V1Child, now: float) -> None:
        """One pair out of the key engine and forgotten (the first pair's
        fields emptied: it is the ISAKMP SA itself)."""
        p = sa.peer
        todo = []
        if ch.child_spi_in:
            todo.append((ch.child_spi_in, p.address, p.local_address))
        if ch.installed:
            todo.append((ch.child_spi_out, p.local_address, p.address))
        sa.pending_outs.pop(ch.child_spi_in, None)
        ch.installed = False
        ch.child_spi_in = ch.child_spi_out = 0
        ch.quick = None
        for spi, src, dst in todo:
            self._delete_sa(spi, src, dst, now)
        if ch is not sa and ch in sa.children:
            sa.children.remove(ch)

    # --- message building --------------------------------------------------------------

    def _send(self, sa: V1Sa, data: bytes) -> None:
        self.out.append((data, sa.peer.address, sa.remote_port, sa.local_port))

    @staticmethod
    def _hdr(sa: V1Sa, first: int, exch: int, flags: int, msg_id: int, length: int) -> bytes:
        return struct.pack(">8s8sBBBBII", sa.cky_i, sa.cky_r, first, 0x10, exch, flags,
                           msg_id, length)

    def _plain(self, sa: V1Sa, exch: int, msg_id: int, pls: list[tuple[int, bytes]]) -> bytes:
        chain = _core.ikev1_build_chain(pls)
        return self._hdr(sa, pls[0][0] if pls else 0, exch, 0, msg_id, 28 + len(chain)) + chain

    def _sealed(self, sa: V1Sa, exch: int, msg_id: int, pls: list[tuple[int, bytes]],
                iv: bytes) -> tuple[bytes, bytes]:
        """The encrypted message and the IV that follows it (its last block)."""
        assert sa.prop is not None
        chain = _core.ikev1_build_chain(pls)
        ct = _core.ikev1_encrypt(ENC_3DES if sa.prop.encr == 3 else ENC_AES, sa.prop.key_bits,
                                 sa.enc, iv, chain)
        return self._hdr(sa, pls[0][0], exch, F_ENC, msg_id, 28 + len(ct)) + ct, ct[-len(iv):]

    def _open(self, sa: V1Sa, first: int, ct: bytes, iv: bytes
              ) -> tuple[list[tuple[int, bytes]], bytes, bytes]:
        """(payloads, plaintext chain without its padding, next IV)."""
        assert sa.prop is not None
        pt = _core.ikev1_decrypt(ENC_3DES if sa.prop.encr == 3 else ENC_AES, sa.prop.key_bits,
                                 sa.enc, iv, ct)
        pls = _core.ikev1_parse_chain(first, pt)
        used = sum(4 + len(b) for _t, b in pls)
        return pls, pt[:used], ct[-len(iv):]

    def _prf(self, sa: V1Sa, key: bytes, data: bytes) -> bytes:
        assert sa.prop is not None
        return bytes(_core.ike_prf(sa.prop.prf, key, data))

    def _hash(self, sa: V1Sa, data: bytes) -> bytes:
        return hashlib.new(sa.hashname, data).digest()

    def _p2_iv(self, sa: V1Sa, msg_id: int) -> bytes:
        return self._hash(sa, sa.p1_iv + struct.pack(">I", msg_id))[:sa.block()]

    def _request(self, sa: V1Sa, data: bytes, what: str, now: float) -> None:
        sa.pending = (data, what)
        sa.tries = 0
        sa.deadline = now + self.RETRANS_BASE
        sa.last_out = data
        self._send(sa, data)

    def _remember(self, sa: V1Sa, data: bytes) -> None:
        sa.answers[sa.last_in] = data
        while len(sa.answers) > 4 + 2 * len(sa.quicks):
            del sa.answers[next(iter(sa.answers))]

    def _reply(self, sa: V1Sa, data: bytes, now: float) -> None:
        sa.pending = None
        sa.last_out = data
        self._remember(sa, data)
        sa.deadline = now + self.HALF_OPEN_TIMEOUT if sa.state != "ESTABLISHED" else None
        self._send(sa, data)

    def _vids(self, sa: V1Sa) -> list[tuple[int, bytes]]:
        v = [(PT_VID, VID_DPD)]
        if sa.peer.nat_traversal != "off":
            v.insert(0, (PT_VID, VID_NATT))
        return v

    def _natd(self, sa: V1Sa, addr: Any, port: int) -> bytes:
        return self._hash(sa, sa.cky_i + sa.cky_r + addr.packed + struct.pack(">H", port))

    def _natd_payloads(self, sa: V1Sa) -> list[tuple[int, bytes]]:
        """NAT-D of the peer's address, then of ours (RFC 3947 §3.2)."""
        if not sa.natt:
            return []
        p = sa.peer
        mine = self._natd(sa, p.local_address, IKE_PORT)
        if p.nat_traversal == "force":
            mine = self._hash(sa, b"force" + mine)  # as if behind a NAT
        return [(PT_NATD, self._natd(sa, p.address, sa.remote_port)), (PT_NATD, mine)]

    def _nat_check(self, sa: V1Sa, pls: list[tuple[int, bytes]], src: Any, sport: int,
                   dport: int) -> None:
        if not sa.natt:
            return
        got = [b for t, b in pls if t == PT_NATD]
        if len(got) < 2:
            return
        us_ok = got[0] == self._natd(sa, sa.peer.local_address, dport)
        peer_ok = self._natd(sa, src, sport) in got[1:]
        if not (us_ok and peer_ok) or sa.peer.nat_traversal == "force":
            sa.nat = True
            self._say(f"{sa.peer.address}: NAT detected"
                      + (" (forced)" if us_ok and peer_ok else "")
                      + f": ISAKMP and ESP over UDP {NATT_PORT}")

    def _float(self, sa: V1Sa) -> None:
        if sa.nat:
            sa.local_port = sa.remote_port = NATT_PORT

    # --- phase 1 ------------------------------------------------------------------------

    def _sa_payload(self, sa: V1Sa) -> bytes:
        p = sa.peer
        props = p.proposals
        if sa.mode == "aggressive":  # one DH group in aggressive mode (RFC 2409 §5.4)
            props = [x for x in props if x.dh == props[0].dh]
        trs = [p1_transform(i + 1, x, p.lifetime, self._auth(p)) for i, x in enumerate(props)]
        return bytes(_core.ikev1_build_sa(DOI_IPSEC, SIT_IDENTITY_ONLY,
                                          [(1, PROTO_ISAKMP, b"", trs)]))

    @staticmethod
    def _auth(peer: Peer) -> int:
        return AUTH_RSA if peer.cert is not None else AUTH_PSK

    def _my_id(self, sa: V1Sa) -> bytes:
        """Our phase-1 ID: the certificate's subject DN (``my_identifier
        asn1dn``) or ``my_id``."""
        c = sa.peer.cert
        if c is not None:
            mine = c.my_id("")
            if mine is not None:
                return bytes([mine[0], 0, 0, 0]) + mine[1]
        return id_body(sa.peer.my_id)

    def _cr_payloads(self, sa: V1Sa) -> list[tuple[int, bytes]]:
        """CR payloads (RFC 2408 §3.10): X.509 signature, one per CA by
        subject DN (an empty one when we check no chain)."""
        c = sa.peer.cert
        if c is None:
            return []
        dns = [bytes(_core.ike_cert_info(ca)[0]) for ca in c.cas] or [b""]
        return [(PT_CR, cert_body(dn)) for dn in dns]

    def _auth_out(self, sa: V1Sa, hash_: bytes) -> list[tuple[int, bytes]]:
        """HASH_I/HASH_R, or with a certificate CERT (the chain) and SIG."""
        c = sa.peer.cert
        if c is None:
            return [(PT_HASH, hash_)]
        return [*((PT_CERT, cert_body(d)) for d in c.chain),
                (PT_SIG, bytes(c.key.sign_v1(hash_)))]

    def _auth_in(self, sa: V1Sa, pls: list[tuple[int, bytes]], idb: bytes, want: bytes,
                 now: float) -> bool:
        """Check the peer's HASH, or its CERT chain, ID and SIG over ``want``."""
        c = sa.peer.cert
        if c is None:
            return self._check_hash(sa, dict(pls).get(PT_HASH), want, now)
        certs = [d for enc, d in (parse_cert(b) for t, b in pls if t == PT_CERT)
                 if enc == CERT_X509_SIGNATURE]
        sig = dict(pls).get(PT_SIG)
        try:
            leaf = c.check_peer(certs, idb[0] if idb else 0, idb[4:])
            if sig is None:
                raise CertificateError("no SIG payload", layer="ike", reason="bad_auth_signature")
            _core.ike_v1_sig_verify(leaf, want, sig)
        except CertificateError as e:
            self.inc("ike_authfail")
            # phase 1 is keyed: the notify goes under its keys (IV from the last
            # phase-1 block, RFC 2409 Appendix B) so the peer takes it
            sa.p1_iv = sa.iv
            self._info(sa, [(PT_N, notify_body(N_AUTHENTICATION_FAILED,
                                               spi=sa.cky_i + sa.cky_r))])
            self._fail(sa, f"AUTHENTICATION-FAILED: {sa.peer.address}'s certificate ({e.reason}): {e}",
                       now)
            return False
        return True

    def initiate(self, peer: V1Peer, now: float, mode: str | None = None) -> V1Sa:
        """Start phase 1 (the remote's first ``exchange_mode``) towards ``peer``;
        quick mode follows when it is up."""
        mode = mode or peer.exchange_mode[0]
        sa = V1Sa(peer, True, _core.ike_random(8), mode, now)
        sa.use_sainfo(*peer.first_sainfo())
        self.sas[sa.cky_i] = sa
        sa.natt = peer.nat_traversal != "off"
        sa.sai_b = self._sa_payload(sa)
        self._say(f"initiate {mode} mode to {peer.address}")
        if mode == "main":
            pls = [(PT_SA, sa.sai_b), *self._vids(sa)]
        else:
            sa.prop = peer.proposals[0]
            sa.dh = _core.IkeDh(sa.prop.dh)
            sa.gxi = bytes(sa.dh.public)
            sa.ni = _core.ike_random(32)
            sa.idii_b = id_body(peer.my_id)
            pls = [(PT_SA, sa.sai_b), (PT_KE, sa.gxi), (PT_NONCE, sa.ni), (PT_ID, sa.idii_b),
                   *self._vids(sa)]
        self._request(sa, self._plain(sa, sa.exch, 0, pls), f"{mode} mode message 1", now)
        return sa

    def _derive(self, sa: V1Sa, gxy: bytes) -> None:
        assert sa.prop is not None
        psk = None if sa.peer.cert is not None else sa.peer.psk  # SKEYID for signatures
        k = _core.ikev1_keys(sa.prop.prf, psk, sa.ni, sa.nr, gxy, sa.cky_i, sa.cky_r)
        sa.keys = dict(k)
        klen = 24 if sa.prop.encr == 3 else sa.prop.key_bits // 8
        sa.enc = bytes(_core.ikev1_enc_key(sa.prop.prf, sa.keys["skeyid_e"], klen))
        sa.iv = self._hash(sa, sa.gxi + sa.gxr)[:sa.block()]

    def _hash_i(self, sa: V1Sa) -> bytes:
        return self._prf(sa, sa.keys["skeyid"], sa.gxi + sa.gxr + sa.cky_i + sa.cky_r
                         + sa.sai_b + sa.idii_b)

    def _hash_r(self, sa: V1Sa) -> bytes:
        return self._prf(sa, sa.keys["skeyid"], sa.gxr + sa.gxi + sa.cky_r + sa.cky_i
                         + sa.sai_b + sa.idir_b)

    def _vid_seen(self, sa: V1Sa, pls: list[tuple[int, bytes]]) -> None:
        vids = [b for t, b in pls if t == PT_VID]
        sa.natt = sa.peer.nat_traversal != "off" and VID_NATT in vids
        sa.dpd = VID_DPD in vids

    def _check_id(self, sa: V1Sa, idb: bytes, now: float) -> bool:
        p = sa.peer
        if p.peer_id and idb[:1] + idb[4:] != id_body(p.peer_id)[:1] + id_body(p.peer_id)[4:]:
            self._fail(sa, f"INVALID-ID-INFORMATION: peer's ID {id_text(idb)!r} is not "
                           f"{p.peer_id!r}", now)
            return False
        return True

    def _check_hash(self, sa: V1Sa, got: bytes | None, want: bytes, now: float) -> bool:
        if got is None or not hmac.compare_digest(got, want):
            self.inc("ike_authfail")
            self._fail(sa, f"AUTHENTICATION-FAILED: {sa.peer.address}'s phase-1 HASH does not "
                           f"match our pre-shared key", now)
            return False
        return True

    def _phase1_done(self, sa: V1Sa, now: float) -> None:
        sa.p1_iv = sa.iv
        sa.state = "ESTABLISHED"
        self.inc("isakmp_established")
        self._say(f"ISAKMP SA {sa.cky_i.hex()}:{sa.cky_r.hex()} with {sa.peer.address} "
                  f"established ({sa.mode} mode)" + (" (NAT-T)" if sa.nat else ""))
        if sa.dpd and sa.peer.dpd_delay:
            sa.dpd_at = now + sa.peer.dpd_delay
        if sa.life:
            sa.expire_at = now + sa.life
            # the phase-1 initiator first; the responder a little later
            sa.rekey_at = now + sa.life * (P1_REKEY_AT - (0.05 if sa.initiator else 0.0))
        self._adopt(sa, now)
        if sa.want_child and not sa.installed:
            self._quick_start(sa, now)
        # the other pairs asked for meanwhile: their quick modes at once
        wanted, sa.wanted = sa.wanted, []
        for si, lts, rts, reqid in wanted:
            if not any(c.live and c.ts == (lts, rts) for c in sa.all_children()):
                self.new_pair(sa, (si, lts, rts), reqid, now)

    def rekey_phase1(self, sa: V1Sa, now: float) -> V1Sa:
        """A new main or aggressive mode with the peer of ``sa``: when it is up
        the IPsec SAs move to it and ``sa`` is deleted."""
        sa.replaced = True
        new = self.initiate(sa.peer, now, sa.mode)
        new.want_child = False
        new.reqid = sa.reqid
        new.use_sainfo(sa.sainfo, *sa.ts)
        self.inc("isakmp_rekey")
        self._say(f"rekeying ISAKMP SA {sa.cky_i.hex()}:{sa.cky_r.hex()} with {sa.peer.address}")
        return new

    def _adopt(self, sa: V1Sa, now: float) -> None:
        """A new ISAKMP SA with a peer we had one with: the IPsec SAs of the
        older one move to it (later quick modes run on it), and the older
        is deleted by whoever started the new phase 1 (us, or the peer when
        it deletes its old one)."""
        for old in [s for s in self.sas.values() if s is not sa and s.peer is sa.peer
                    and s.state == "ESTABLISHED"]:
            old.replaced = True
            old.rekey_at = None
            redo: list[V1Child] = []
            if sa.initiator and not sa.want_child:
                # our quick modes (rekeys) on the old one: again on the new
                for q in list(old.quicks.values()):
                    if q.initiator and q.rekey and q.state != "DONE" and q.pair is not None:
                        redo.append(q.pair)
                        del old.quicks[q.msg_id]
                        q.pair.quick = None
                        self._delete_sa(q.spi_in, sa.peer.address, sa.peer.local_address, now)
            moved = 0
            if old.installed and not sa.installed:
                sa.child_spi_in, sa.child_spi_out = old.child_spi_in, old.child_spi_out
                sa.installed, sa.reqid, sa.nat = True, old.reqid, old.nat or sa.nat
                sa.use_sainfo(old.sainfo, *old.ts)
                old.installed, old.child_spi_in, old.child_spi_out = False, 0, 0
                moved += 1
            for ch in list(old.children):
                if ch.installed and not any(c.installed and c.ts == ch.ts
                                            for c in sa.all_children()):
                    old.children.remove(ch)
                    ch.quick = None
                    sa.children.append(ch)
                    moved += 1
            if moved:
                sa.old_pairs += old.old_pairs
                sa.later += old.later
                sa.pending_outs.update(old.pending_outs)
                sa.keys.update({k: v for k, v in old.keys.items() if k.startswith("child_")})
                old.old_pairs, old.later, old.pending_outs = [], [], {}
                self._say(f"{moved} IPsec SA pair(s) with {sa.peer.address} moved to ISAKMP SA "
                          f"{sa.cky_i.hex()}:{sa.cky_r.hex()}")
            if sa.initiator and not sa.want_child:  # our phase-1 rekey
                # the old one lingers before its delete, as racoon lets it:
                # the peer first moves its IPsec SAs to the new one (charon
                # does so on another thread; a delete on the heels of main
                # mode took the IPsec SAs with it, and traffic stopped until
                # the next quick mode)
                old.expire_at = now + self.P1_LINGER if old.expire_at is None else \
                    min(old.expire_at, now + self.P1_LINGER)
            for ch in redo:
                target = sa if ch is old else ch
                if target.installed and target in sa.all_children():
                    self._quick_start(sa, now, target)

    def _fail(self, sa: V1Sa, why: str, now: float, notify: int = 0) -> None:
        self.inc("ike_failed")
        sa.error = why
        self._say(f"{sa.peer.address}: {why}")
        if notify:
            self._send_notify_plain(sa, notify)
        self._kill(sa, now)

    def _kill(self, sa: V1Sa, now: float) -> None:
        self._uninstall(sa, now)
        sa.state = "DEAD"
        sa.pending = None
        sa.deadline = None
        self.sas.pop(sa.cky_i, None)

    def _send_notify_plain(self, sa: V1Sa, ntype: int) -> None:
        """An unprotected INFORMATIONAL with an error (phase 1 not yet keyed)."""
        mid = int.from_bytes(_core.ike_random(4), "big")
        self._send(sa, self._plain(sa, INFO, mid, [
            (PT_N, notify_body(ntype, spi=sa.cky_i + sa.cky_r))]))

    def _first(self, hdr: tuple[Any, ...], pls: list[tuple[int, bytes]], data: bytes, src: Any,
               sport: int, dport: int, now: float) -> None:
        """Message 1 of main or aggressive mode: we respond."""
        peer = self._peer_for(src)
        if peer is None:
            self.inc("ike_nopeer")
            self._say(f"{EXCHANGE_NAMES[hdr[4]]} from {src}: no remote configured")
            return
        mode = "main" if hdr[4] == MAIN else "aggressive"
        sa = V1Sa(peer, False, hdr[0], mode, now)
        sa.cky_r = _core.ike_random(8)
        sa.remote_port, sa.local_port = sport, dport
        if mode not in peer.exchange_mode:
            self._say(f"{mode} mode from {src}: not in exchange_mode "
                      f"{','.join(peer.exchange_mode)}: NO-PROPOSAL-CHOSEN")
            self._send_notify_plain(sa, N_NO_PROPOSAL_CHOSEN)
            return
        if len(self.sas) >= self.MAX_SAS:
            self.inc("ike_toomany")
            return
        by = dict(pls)
        if PT_SA not in by:
            self.inc("ike_badinit")
            return
        doi, _sit, props = _core.ikev1_parse_sa(by[PT_SA])
        isakmp = [pr for pr in props if pr[1] == PROTO_ISAKMP]
        m = p1_match(peer.proposals, isakmp[0][3], self._auth(peer)) if doi == DOI_IPSEC and isakmp else None
        if m is None:
            self._say(f"{mode} mode from {src}: NO-PROPOSAL-CHOSEN (none of its proposals is "
                      f"in our proposal list)")
            self._send_notify_plain(sa, N_NO_PROPOSAL_CHOSEN)
            return
        sa.prop, chosen = m
        theirs = p1_life(chosen[2])
        sa.life = min(x for x in (theirs, peer.lifetime) if x) if theirs or peer.lifetime else 0
        sa.sai_b = by[PT_SA]
        self._vid_seen(sa, pls)
        reply_sa = bytes(_core.ikev1_build_sa(DOI_IPSEC, SIT_IDENTITY_ONLY,
                                              [(isakmp[0][0], PROTO_ISAKMP, b"", [chosen])]))
        self.sas[sa.cky_i] = sa
        sa.last_in = data
        if mode == "main":
            sa.state = "MM3"
            self._reply(sa, self._plain(sa, MAIN, 0, [(PT_SA, reply_sa), *self._vids(sa)]), now)
            return
        # aggressive: SA, KE, Ni, IDii in; SA, KE, Nr, IDir, HASH_R, NAT-D out
        if PT_KE not in by or PT_NONCE not in by or PT_ID not in by:
            self._fail(sa, "aggressive mode message 1 lacks KE, Nonce or ID", now,
                       N_PAYLOAD_MALFORMED)
            return
        sa.idii_b = by[PT_ID]
        if not self._check_id(sa, sa.idii_b, now):
            return
        sa.ni, sa.gxi = by[PT_NONCE], by[PT_KE]
        sa.dh = _core.IkeDh(sa.prop.dh)
        sa.gxr = bytes(sa.dh.public)
        sa.nr = _core.ike_random(32)
        try:
            self._derive(sa, bytes(sa.dh.shared(sa.gxi)))
        except KameError as e:
            self._fail(sa, f"aggressive mode from {src}: bad KE ({e})", now)
            return
        sa.idir_b = id_body(peer.my_id)
        pls_out = [(PT_SA, reply_sa), (PT_KE, sa.gxr), (PT_NONCE, sa.nr), (PT_ID, sa.idir_b),
                   (PT_HASH, self._hash_r(sa)), *self._vids(sa), *self._natd_payloads(sa)]
        sa.state = "AM3"
        self._reply(sa, self._plain(sa, AGGRESSIVE, 0, pls_out), now)

    def _phase1(self, sa: V1Sa, hdr: tuple[Any, ...], pls: list[tuple[int, bytes]],
                enc: bytes | None, src: Any, sport: int, dport: int, now: float) -> None:
        by = dict(pls)
        st = sa.state
        if enc is not None:
            if not sa.enc:
                self.inc("ike_unexpected")
                return
            try:
                pls, _pt, nxt = self._open(sa, hdr[2], enc, sa.iv)
            except (KameError, ValueError) as e:
                self.inc("ike_authfail")
                self._fail(sa, f"AUTHENTICATION-FAILED: {sa.peer.address}'s encrypted {sa.mode} "
                               f"mode message does not decrypt with our keys ({e}): the "
                               f"pre-shared keys differ", now, N_PAYLOAD_MALFORMED)
                return
            sa.iv = nxt
            by = dict(pls)
            sa.remote_port, sa.local_port = sport, dport
        if sa.initiator and st == "MM1":
            if PT_SA not in by:
                self._fail(sa, "main mode message 2 lacks SA", now)
                return
            _doi, _sit, props = _core.ikev1_parse_sa(by[PT_SA])
            trs = props[0][3] if len(props) == 1 else []
            m = p1_match(sa.peer.proposals, trs[:1], self._auth(sa.peer)) if len(
                trs) == 1 else None
            if m is None:
                self._fail(sa, "main mode message 2 chose a proposal we did not offer", now)
                return
            sa.prop = m[0]
            sa.life = min(x for x in (p1_life(trs[0][2]), sa.peer.lifetime) if x) if (
                p1_life(trs[0][2]) or sa.peer.lifetime) else 0
            sa.cky_r = hdr[1]
            self._vid_seen(sa, pls)
            sa.dh = _core.IkeDh(sa.prop.dh)
            sa.gxi = bytes(sa.dh.public)
            sa.ni = _core.ike_random(32)
            sa.state = "MM2"
            self._request(sa, self._plain(sa, MAIN, 0, [(PT_KE, sa.gxi), (PT_NONCE, sa.ni),
                                                         *self._cr_payloads(sa),
                                                         *self._natd_payloads(sa)]),
                          "main mode message 3", now)
        elif sa.initiator and st == "MM2" and enc is None:
            if PT_KE not in by or PT_NONCE not in by:
                self._fail(sa, "main mode message 4 lacks KE or Nonce", now)
                return
            sa.gxr, sa.nr = by[PT_KE], by[PT_NONCE]
            self._nat_check(sa, pls, src, sport, dport)
            try:
                self._derive(sa, bytes(sa.dh.shared(sa.gxr)))
            except KameError as e:
                self._fail(sa, f"main mode message 4: bad KE ({e})", now)
                return
            self._float(sa)
            sa.idii_b = self._my_id(sa)
            data, sa.iv = self._sealed(sa, MAIN, 0, [(PT_ID, sa.idii_b),
                                                     *self._auth_out(sa, self._hash_i(sa))],
                                       sa.iv)
            sa.state = "MM4"
            self._request(sa, data, "main mode message 5", now)
        elif sa.initiator and st == "MM4" and enc is not None:
            if PT_ID not in by:
                self._fail(sa, "main mode message 6 lacks ID", now)
                return
            sa.idir_b = by[PT_ID]
            if not self._check_id(sa, sa.idir_b, now):
                return
            if not self._auth_in(sa, pls, sa.idir_b, self._hash_r(sa), now):
                return
            sa.pending = None
            sa.deadline = None
            self._phase1_done(sa, now)
        elif not sa.initiator and st == "MM3" and enc is None:
            if PT_KE not in by or PT_NONCE not in by:
                self._fail(sa, "main mode message 3 lacks KE or Nonce", now, N_PAYLOAD_MALFORMED)
                return
            assert sa.prop is not None
            sa.gxi, sa.ni = by[PT_KE], by[PT_NONCE]
            sa.dh = _core.IkeDh(sa.prop.dh)
            sa.gxr = bytes(sa.dh.public)
            sa.nr = _core.ike_random(32)
            self._nat_check(sa, pls, src, sport, dport)
            try:
                self._derive(sa, bytes(sa.dh.shared(sa.gxi)))
            except KameError as e:
                self._fail(sa, f"main mode message 3: bad KE ({e})", now)
                return
            sa.state = "MM5"
            self._reply(sa, self._plain(sa, MAIN, 0, [(PT_KE, sa.gxr), (PT_NONCE, sa.nr),
                                                       *self._cr_payloads(sa),
                                                       *self._natd_payloads(sa)]), now)
        elif not sa.initiator and st == "MM5" and enc is not None:
            if PT_ID not in by:
                self._fail(sa, "main mode message 5 lacks ID", now)
                return
            sa.idii_b = by[PT_ID]
            if not self._check_id(sa, sa.idii_b, now):
                return
            if not self._auth_in(sa, pls, sa.idii_b, self._hash_i(sa), now):
                return
            sa.idir_b = self._my_id(sa)
            data, sa.iv = self._sealed(sa, MAIN, 0, [(PT_ID, sa.idir_b),
                                                     *self._auth_out(sa, self._hash_r(sa))],
                                       sa.iv)
            self._phase1_done(sa, now)
            self._reply(sa, data, now)
        elif sa.initiator and st == "AM1" and enc is None:
            assert sa.prop is not None
            need = (PT_SA, PT_KE, PT_NONCE, PT_ID, PT_HASH)
            if any(t not in by for t in need):
                self._fail(sa, "aggressive mode message 2 lacks SA, KE, Nonce, ID or HASH", now)
                return
            _doi, _sit, props = _core.ikev1_parse_sa(by[PT_SA])
            trs = props[0][3] if len(props) == 1 else []
            m = p1_match(sa.peer.proposals, trs[:1]) if len(trs) == 1 else None
            if m is None or m[0].dh != sa.prop.dh:
                self._fail(sa, "aggressive mode message 2 chose a proposal we did not offer",
                           now)
                return
            sa.prop = m[0]
            sa.life = min(x for x in (p1_life(trs[0][2]), sa.peer.lifetime) if x) if (
                p1_life(trs[0][2]) or sa.peer.lifetime) else 0
            sa.cky_r = hdr[1]
            self._vid_seen(sa, pls)
            sa.gxr, sa.nr, sa.idir_b = by[PT_KE], by[PT_NONCE], by[PT_ID]
            if not self._check_id(sa, sa.idir_b, now):
                return
            try:
                self._derive(sa, bytes(sa.dh.shared(sa.gxr)))
            except KameError as e:
                self._fail(sa, f"aggressive mode message 2: bad KE ({e})", now)
                return
            if not self._check_hash(sa, by.get(PT_HASH), self._hash_r(sa), now):
                return
            self._nat_check(sa, pls, src, sport, dport)
            natd = self._natd_payloads(sa)
            self._float(sa)
            data, sa.iv = self._sealed(sa, AGGRESSIVE, 0,
                                       [(PT_HASH, self._hash_i(sa)), *natd], sa.iv)
            sa.pending = None
            sa.deadline = None
            sa.last_out = data
            self._remember(sa, data)
            sa.p1_final = data
            self._send(sa, data)
            self._phase1_done(sa, now)
        elif not sa.initiator and st == "AM3" and enc is not None:
            if not self._check_hash(sa, by.get(PT_HASH), self._hash_i(sa), now):
                return
            self._nat_check(sa, pls, src, sport, dport)
            sa.nat = sa.nat or dport == NATT_PORT
            sa.deadline = None
            self._phase1_done(sa, now)
        else:
            self.inc("ike_unexpected")

    # --- quick mode ------------------------------------------------------------------------

    def _quick_start(self, sa: V1Sa, now: float, ch: V1Child | None = None) -> None:
        """Our quick mode for pair ``ch`` (by default the first): a new pair,
        or its rekey when it is up. It runs beside the others under way,
        by its own message ID."""
        ch = ch or sa
        p = sa.peer
        mid = int.from_bytes(_core.ike_random(4), "big") | 1
        while mid in sa.quicks:
            mid = int.from_bytes(_core.ike_random(4), "big") | 1
        q = Quick(mid, True, self._p2_iv(sa, mid))
        q.pair = ch
        q.ni = _core.ike_random(32)
        q.encap = ENCAP_UDP_TUNNEL if sa.nat else ENCAP_TUNNEL
        q.rekey = ch.installed
        si = ch.si
        q.life = si.lifetime
        try:
            q.spi_in = self._getspi(sa, now, ch)
        except KameError as e:
            self._quick_fail(sa, q, str(e), now)
            return
        if not q.rekey:
            ch.child_spi_in = q.spi_in
        ch.quick = q
        sa.quicks[mid] = q
        trs = [p2_transform(i + 1, c, si.lifetime, q.encap, si.pfs_group)
               for i, c in enumerate(si.child)]
        sab = bytes(_core.ikev1_build_sa(DOI_IPSEC, SIT_IDENTITY_ONLY,
                                         [(1, PROTO_ESP, struct.pack(">I", q.spi_in), trs)]))
        q.idci, q.idcr = id_net(ch.ts[0]), id_net(ch.ts[1])
        rest = [(PT_SA, sab), (PT_NONCE, q.ni)]
        if si.pfs_group:
            q.dh = _core.IkeDh(si.pfs_group)
            rest.append((PT_KE, bytes(q.dh.public)))
        rest += [(PT_ID, q.idci), (PT_ID, q.idcr)]
        h1 = self._prf(sa, sa.keys["skeyid_a"], struct.pack(">I", mid)
                       + bytes(_core.ikev1_build_chain(rest)))
        data, q.iv = self._sealed(sa, QUICK, mid, [(PT_HASH, h1), *rest], q.iv)
        self._say((f"rekeying IPsec SA esp in 0x{ch.child_spi_in:08x}: " if q.rekey else "")
                  + f"initiate quick mode with {p.address} for {ch.ts[0]} <-> {ch.ts[1]}"
                  + (f" (PFS group {si.pfs_group})" if si.pfs_group else ""))
        self._q_request(sa, q, data, "quick mode message 1", now)

    def _q_request(self, sa: V1Sa, q: Quick, data: bytes, what: str, now: float) -> None:
        """Send a quick mode message that waits for its answer (retransmitted)."""
        q.pending = (data, what)
        q.tries = 0
        q.deadline = now + self.RETRANS_BASE
        sa.last_out = data
        self._send(sa, data)

    def _quick_fail(self, sa: V1Sa, q: Quick, why: str, now: float) -> None:
        """One quick mode failed: it ends, with the pair it was making (a
        rekey's pair stays up); the ISAKMP SA and its other pairs stay."""
        self.inc("ipsec_failed")
        sa.error = why
        self._say(f"{sa.peer.address}: {why}")
        sa.quicks.pop(q.msg_id, None)
        ch = q.pair
        if ch is not None and ch.quick is q:
            ch.quick = None
        if ch is not None and not ch.installed:
            self._drop_child(sa, ch, now)
        elif q.spi_in:
            self._delete_sa(q.spi_in, sa.peer.address, sa.peer.local_address, now)

    def _quick(self, sa: V1Sa, hdr: tuple[Any, ...], enc: bytes, now: float) -> None:
        mid = hdr[6]
        q = sa.quicks.get(mid)
        if q is None:
            if len(sa.quicks) >= self.MAX_CHILDREN:
                self.inc("ipsec_toomany")  # that many quick modes under way: not one more
                return
            q = Quick(mid, False, self._p2_iv(sa, mid))
        try:
            pls, pt, nxt = self._open(sa, hdr[2], enc, q.iv)
        except (KameError, ValueError) as e:
            self.inc("ike_badmsg")
            self._say(f"quick mode message from {sa.peer.address} dropped: {e}")
            return
        if not pls or pls[0][0] != PT_HASH:
            self.inc("ike_badmsg")
            return
        sa.p1_final = b""  # the responder has phase 1's keys: it got our message 3
        got = pls[0][1]
        rest = pt[4 + len(got):]
        by: dict[int, bytes] = {}
        ids = []
        for t, b in pls[1:]:
            by.setdefault(t, b)
            if t == PT_ID:
                ids.append(b)
        midb = struct.pack(">I", mid)
        ska = sa.keys["skeyid_a"]
        if q.initiator and q.state == "QM1":
            want = self._prf(sa, ska, midb + q.ni + rest)
            if not hmac.compare_digest(got, want):
                self.inc("ike_authfail")
                self._say(f"quick mode message 2 from {sa.peer.address}: HASH(2) does not match")
                return
            q.iv = nxt
            _doi, _sit, props = _core.ikev1_parse_sa(by.get(PT_SA, b""))
            esp = [pr for pr in props if pr[1] == PROTO_ESP and len(pr[2]) == 4]
            si = (q.pair or sa).si
            pfs = si.pfs_group or None
            m = p2_match(si.child, esp[0][3], pfs) if len(esp) == 1 else None
            if m is None or PT_NONCE not in by:
                self._quick_fail(sa, q, "quick mode message 2 chose an ESP proposal we did "
                                        "not offer", now)
                return
            q.child = m[0]
            q.spi_out = int.from_bytes(esp[0][2], "big")
            # RFC 2407 §4.5: the responder's choice, or its RESPONDER-LIFETIME
            for life in [p2_life(m[1][2])] + [
                    life_attrs_parse(nd) for t, b in pls[1:] if t == PT_N
                    for _pr, nt, _spi, nd in [notify_parse(b)] if nt == N_RESPONDER_LIFETIME]:
                if life and (not q.life or life < q.life):
                    q.life = life
                    self._say(f"{sa.peer.address} shortens the IPsec SA lifetime to {life} s")
            q.nr = by[PT_NONCE]
            if q.dh is not None:
                if PT_KE not in by:
                    self._quick_fail(sa, q, "quick mode message 2 lacks the KE PFS needs", now)
                    return
                q.gxy = bytes(q.dh.shared(by[PT_KE]))
            h3 = self._prf(sa, ska, b"\x00" + midb + q.ni + q.nr)
            data, q.iv = self._sealed(sa, QUICK, mid, [(PT_HASH, h3)], q.iv)
            q.pending = None
            q.deadline = None
            sa.last_out = data
            self._remember(sa, data)
            self._send(sa, data)
            q.state = "DONE"
            self._quick_done(sa, q, now)
        elif not q.initiator and q.state == "QM1":
            want = self._prf(sa, ska, midb + rest)
            if not hmac.compare_digest(got, want):
                self.inc("ike_authfail")
                self._say(f"quick mode message 1 from {sa.peer.address}: HASH(1) does not match")
                return
            q.iv = nxt
            p = sa.peer
            q.ni = by.get(PT_NONCE, b"")
            _doi, _sit, props = _core.ikev1_parse_sa(by.get(PT_SA, b""))
            esp = [pr for pr in props if pr[1] == PROTO_ESP and len(pr[2]) == 4]
            # the sainfo for the peer's IDs (without IDs: the two ends, RFC 2409 §5.5)
            if len(ids) >= 2:
                q.idci, q.idcr = ids[0], ids[1]
            sel = self._sainfo_for_ids(p, q.idci, q.idcr)
            if sel is None:
                self.inc("ipsec_nosainfo")
                self._quick_refuse(sa, q, N_INVALID_ID_INFORMATION,
                                   f"quick mode: no sainfo for the peer's IDs "
                                   f"{id_text(q.idcr) if q.idcr else p.local_address} <-> "
                                   f"{id_text(q.idci) if q.idci else p.address}", now)
                return
            # a rekey of the pair with these selectors, or a pair of its own
            ch = next((c for c in sa.all_children() if c.installed and c.ts == sel[1:]),
                      None) or next((c for c in sa.all_children()
                                     if c.live and c.ts == sel[1:]), None)
            mine_q = ch.quick if ch is not None else None
            if mine_q is not None and mine_q.initiator and mine_q.state != "DONE":
                if sa.initiator or not mine_q.rekey:
                    self.inc("ike_unexpected")
                    return
                # both rekey the pair at once: the ISAKMP SA's initiator's quick
                # mode goes on, ours (its responder's) gives way
                self._say(f"{sa.peer.address} rekeys the IPsec SA too: ours gives way")
                self.inc("ipsec_rekey_collision")
                sa.quicks.pop(mine_q.msg_id, None)
                self._delete_sa(mine_q.spi_in, p.address, p.local_address, now)
            if ch is not None and ch.installed and len(sa.old_pairs) >= 2 * self.MAX_CHILDREN:
                self.inc("ipsec_toomany")
                self._quick_refuse(sa, q, N_NO_PROPOSAL_CHOSEN,
                                   f"quick mode: {len(sa.old_pairs)} rekeyed IPsec SA pairs "
                                   f"not deleted yet", now)
                return
            if ch is None:
                if sa.child_count() >= self.MAX_CHILDREN:
                    self.inc("ipsec_toomany")
                    self._quick_refuse(sa, q, N_NO_PROPOSAL_CHOSEN,
                                       f"quick mode: {self.MAX_CHILDREN} IPsec SA pairs on "
                                       f"the ISAKMP SA already", now)
                    return
                ch = sa if not sa.live else V1Child(p)
                ch.reqid = self._policy_reqid(sel[1], sel[2]) or (sa.reqid if ch is sa else 0)
            si = sel[0] if sel[0] is not None else p.own_sainfo()
            pfs = si.pfs_group if si.pfs_group else (None if PT_KE in by else 0)
            m = next((x for pr in esp if (x := p2_match(si.child, pr[3], pfs))), None)
            if m is None or not q.ni:
                self._quick_refuse(sa, q, N_NO_PROPOSAL_CHOSEN,
                                   f"quick mode: none of the peer's ESP proposals is in "
                                   f"{si.name()}"
                                   + (f" (we require PFS group {si.pfs_group})"
                                      if si.pfs_group else ""), now)
                return
            q.child, chosen = m
            pr = next(pr for pr in esp if chosen in pr[3])
            q.spi_out = int.from_bytes(pr[2], "big")
            enc_attr = {k: v for k, v in chosen[2] if isinstance(v, int)}.get(Q_ENCAP, 1)
            q.encap = enc_attr
            q.nr = _core.ike_random(32)
            q.rekey = ch.installed
            ch.use_sainfo(*sel)
            try:
                q.spi_in = self._getspi(sa, now, ch)
            except KameError as e:
                self._quick_refuse(sa, q, N_NO_PROPOSAL_CHOSEN, f"quick mode: {e}", now)
                return
            q.pair = ch
            if ch is not sa and ch not in sa.children:
                sa.children.append(ch)
            if not q.rekey:
                ch.child_spi_in = q.spi_in
            ch.quick = q
            sa.quicks[mid] = q
            # RFC 2407 §4.5: the smaller of the peer's lifetime and ours
            theirs, ours = p2_life(chosen[2]), si.lifetime
            q.life = min(x for x in (theirs, ours) if x) if theirs or ours else 0
            sab = bytes(_core.ikev1_build_sa(DOI_IPSEC, SIT_IDENTITY_ONLY, [
                (pr[0], PROTO_ESP, struct.pack(">I", q.spi_in), [chosen])]))
            out = [(PT_SA, sab), (PT_NONCE, q.nr)]
            if PT_KE in by:
                group = {k: v for k, v in chosen[2] if isinstance(v, int)}.get(Q_GROUP, 0)
                try:
                    q.dh = _core.IkeDh(group)
                    q.gxy = bytes(q.dh.shared(by[PT_KE]))
                except KameError as e:
                    self._quick_refuse(sa, q, N_NO_PROPOSAL_CHOSEN, f"quick mode: PFS: {e}",
                                       now)
                    return
                out.append((PT_KE, bytes(q.dh.public)))
            if q.idci:
                out += [(PT_ID, q.idci), (PT_ID, q.idcr)]
            if q.life and q.life != theirs:
                out.append((PT_N, notify_body(N_RESPONDER_LIFETIME, PROTO_ESP,
                                              struct.pack(">I", q.spi_in), life_attrs(q.life))))
            h2 = self._prf(sa, ska, midb + q.ni + bytes(_core.ikev1_build_chain(out)))
            data, q.iv = self._sealed(sa, QUICK, mid, [(PT_HASH, h2), *out], q.iv)
            q.state = "QM3"
            self._remember(sa, data)
            # retransmitted until message 3 comes (RFC 2409 §5.5 leaves it to the responder)
            self._q_request(sa, q, data, "quick mode message 2", now)
        elif not q.initiator and q.state == "QM3":
            want = self._prf(sa, ska, b"\x00" + midb + q.ni + q.nr)
            if not hmac.compare_digest(got, want):
                self.inc("ike_authfail")
                self._say(f"quick mode message 3 from {sa.peer.address}: HASH(3) does not match")
                return
            q.iv = nxt
            q.state = "DONE"
            q.pending = None
            q.deadline = None
            self._quick_done(sa, q, now)
        else:
            self.inc("ike_unexpected")

    @staticmethod
    def _sainfo_for_ids(p: V1Peer, idci: bytes, idcr: bytes
                        ) -> tuple[Sainfo | None, Network, Network] | None:
        """racoon's ``getsainfo`` for a quick mode's IDs (the peer's IDci,
        our IDcr): the sainfo and the selectors, ours first; None when no
        sainfo takes them (INVALID_ID_INFORMATION)."""
        if idci:
            ni, nr = id_to_net(idci), id_to_net(idcr)
            if ni is None or nr is None:
                return None
        else:
            ni, nr = _host_net(p.address), _host_net(p.local_address)
        if not p.sainfos:
            assert p.local_ts is not None and p.remote_ts is not None
            if idci and (idci != id_net(p.remote_ts) or idcr != id_net(p.local_ts)):
                return None
            return None, p.local_ts, p.remote_ts
        si = p.sainfo_for(nr, ni)
        return (si, nr, ni) if si is not None else None

    def _quick_refuse(self, sa: V1Sa, q: Quick, note: int, why: str, now: float) -> None:
        self._say(f"{sa.peer.address}: {why}: answering {notify_name(note)}")
        sa.error = why
        self._info(sa, [(PT_N, notify_body(note, PROTO_ESP))])

    def _quick_done(self, sa: V1Sa, q: Quick, now: float) -> None:
        sa.quicks.pop(q.msg_id, None)
        ch = q.pair or sa
        if ch.quick is q:
            ch.quick = None
        self._install(sa, q, now)
        self.inc("ipsec_established")
        self._say(f"IPsec SA {ch.ts[0]} <-> {ch.ts[1]} with {sa.peer.address} established"
                  + (" (rekey)" if q.rekey else "") + f": esp in 0x{q.spi_in:08x} out "
                  f"0x{q.spi_out:08x}" + (" (UDP-encapsulated)" if q.encap != ENCAP_TUNNEL
                                          else "")
                  + (" with PFS" if q.gxy else ""))

    # --- INFORMATIONAL ---------------------------------------------------------------------

    def _info(self, sa: V1Sa, pls: list[tuple[int, bytes]]) -> None:
        """An INFORMATIONAL exchange under the ISAKMP SA: HASH(1) and ``pls``."""
        mid = int.from_bytes(_core.ike_random(4), "big") | 1
        h = self._prf(sa, sa.keys["skeyid_a"], struct.pack(">I", mid)
                      + bytes(_core.ikev1_build_chain(pls)))
        data, _ = self._sealed(sa, INFO, mid, [(PT_HASH, h), *pls], self._p2_iv(sa, mid))
        self._send(sa, data)

    def delete(self, sa: V1Sa, now: float) -> None:
        """Delete the ESP SAs and the ISAKMP SA (each its INFORMATIONAL)."""
        if sa.state != "ESTABLISHED":
            self._kill(sa, now)
            return
        for spi_in, _out in sa.old_pairs:
            self._info(sa, [(PT_D, delete_body(PROTO_ESP, [struct.pack(">I", spi_in)]))])
        for ch in sa.all_children():
            if ch.installed:
                self._info(sa, [(PT_D, delete_body(PROTO_ESP,
                                                   [struct.pack(">I", ch.child_spi_in)]))])
        self._info(sa, [(PT_D, delete_body(PROTO_ISAKMP, [sa.cky_i + sa.cky_r]))])
        self._say(f"deleting ISAKMP SA with {sa.peer.address}")
        self._kill(sa, now)

    def delete_pair(self, sa: V1Sa, ch: V1Child, now: float) -> None:
        """Delete one IPsec SA pair (INFORMATIONAL with D for its inbound
        SPI); the ISAKMP SA and its other pairs stay."""
        if not ch.installed:
            return
        if sa.state == "ESTABLISHED":
            self._info(sa, [(PT_D, delete_body(PROTO_ESP, [struct.pack(">I", ch.child_spi_in)]))])
        self._say(f"deleting IPsec SA {ch.ts[0]} <-> {ch.ts[1]} with {sa.peer.address}")
        self._drop_child(sa, ch, now)

    def shutdown(self, now: float) -> None:
        for sa in list(self.sas.values()):
            self.delete(sa, now)

    def _informational(self, sa: V1Sa, hdr: tuple[Any, ...], pls: list[tuple[int, bytes]],
                       enc: bytes | None, now: float) -> None:
        if enc is None:
            # unprotected: only believed before phase 1 has keys
            for t, b in pls:
                if t == PT_N and sa.state != "ESTABLISHED":
                    _proto, nt, _spi, _d = notify_parse(b)
                    if nt < 8192:
                        self._fail(sa, f"{sa.mode} mode refused by {sa.peer.address}: "
                                       f"{notify_name(nt)}", now)
                        return
            self.inc("ike_unprotected")
            return
        if not sa.enc:
            self.inc("ike_unexpected")
            return
        mid = hdr[6]
        early = not sa.p1_iv  # phase 1 keyed but not finished
        why = ""
        try:
            iv = (self._hash(sa, sa.iv + struct.pack(">I", mid))[:sa.block()] if early
                  else self._p2_iv(sa, mid))
            inner, pt, _nxt = self._open(sa, hdr[2], enc, iv)
        except (KameError, ValueError) as e:
            inner, pt, why = [], b"", str(e)
        if inner and inner[0][0] == PT_HASH:
            got = inner[0][1]
            want = self._prf(sa, sa.keys["skeyid_a"], struct.pack(">I", mid) + pt[4 + len(got):])
            if not hmac.compare_digest(got, want):
                inner, why = [], "HASH(1) does not match"
        elif not why:
            why = "no HASH payload first"
        if why:
            if early and sa.initiator and sa.state == "MM4":
                # the answer to our message 5 is a notification under other keys
                self.inc("ike_authfail")
                self._fail(sa, f"AUTHENTICATION-FAILED: {sa.peer.address} answered our main "
                               f"mode message 5 with an INFORMATIONAL that does not decrypt "
                               f"with our keys ({why}): the pre-shared keys differ", now)
                return
            self.inc("ike_badmsg")
            self._say(f"INFORMATIONAL from {sa.peer.address} dropped: {why}")
            return
        for t, b in inner[1:]:
            if t == PT_D:
                proto, spis = delete_parse(b)
                if proto == PROTO_ISAKMP:
                    self._say(f"{sa.peer.address} deleted the ISAKMP SA")
                    self._kill(sa, now)
                    return
                old = [pr for pr in sa.old_pairs if proto == PROTO_ESP
                       and struct.pack(">I", pr[1]) in spis]
                for pr in old:
                    self._say(f"{sa.peer.address} deleted the rekeyed IPsec SA")
                    self._drop_old(sa, pr, now, False)
                    sa.later = [x for x in sa.later if x[2:] != pr]
                for ch in [c for c in sa.all_children() if proto == PROTO_ESP and c.installed
                           and struct.pack(">I", c.child_spi_out) in spis]:
                    self.inc("ipsec_deleted_in")
                    self._say(f"{sa.peer.address} deleted the IPsec SA {ch.ts[0]} <-> "
                              f"{ch.ts[1]}")
                    self._drop_child(sa, ch, now)
            elif t == PT_N:
                _proto, nt, spi, data = notify_parse(b)
                if nt == N_R_U_THERE:
                    self.inc("dpd_request_in")
                    self._info(sa, [(PT_N, notify_body(N_R_U_THERE_ACK, PROTO_ISAKMP, spi,
                                                       data))])
                elif nt == N_R_U_THERE_ACK:
                    self.inc("dpd_ack_in")
                    sa.dpd_wait = 0
                elif nt < 8192:
                    sa.error = f"{sa.peer.address} says {notify_name(nt)}"
                    self._say(sa.error)
                    if sa.state != "ESTABLISHED":  # an error to our phase 1 (bad certificate)
                        self._fail(sa, f"{sa.mode} mode refused by {sa.peer.address}: "
                                       f"{notify_name(nt)}", now)
                        return
                    # the quick mode of ours it answers: the one whose SPI it
                    # names, else the oldest waiting for its message 2
                    waiting = [q for q in sa.quicks.values() if q.initiator and q.state == "QM1"]
                    q = next((q for q in waiting if len(spi) == 4
                              and int.from_bytes(spi, "big") == q.spi_in),
                             waiting[0] if waiting else None)
                    if q is not None:
                        self._quick_fail(sa, q, f"quick mode refused by {sa.peer.address}: "
                                                f"{notify_name(nt)}", now)

    # --- input ------------------------------------------------------------------------------

    def input(self, data: bytes, src: Any, sport: int, dst: Any, dport: int,
              now: float) -> None:
        """One ISAKMP message (the non-ESP marker already stripped)."""
        try:
            self._input(bytes(data), ip_address(src), sport, dport, now)
        except (KameError, ValueError) as e:
            self.inc("ike_badmsg")
            self._say(f"message from {src} port {sport} dropped: {e}")

    def _input(self, data: bytes, src: Any, sport: int, dport: int, now: float) -> None:
        hdr, pls, enc = _core.ikev1_parse(data)
        cky_i, cky_r, _np, _ver, exch, _flags, _mid, _len = hdr
        pls = [(t, bytes(b)) for t, b in pls]
        sa = self.sas.get(cky_i)
        if sa is not None and sa.peer.address != src:
            self.inc("ike_nosa")
            return
        if sa is None:
            if exch in (MAIN, AGGRESSIVE) and cky_r == bytes(8) and enc is None:
                self._first(hdr, pls, data, src, sport, dport, now)
            else:
                self.inc("ike_nosa")
            return
        if data in sa.answers:
            self.inc("ike_retransmitted_in")
            self._send(sa, sa.answers[data])  # a retransmitted message: the same answer
            return
        if data == sa.last_in:
            return
        if cky_r != sa.cky_r and not (sa.initiator and sa.cky_r == bytes(8)):
            self.inc("ike_nosa")
            return
        sa.last_in = data
        if exch == INFO:
            self._informational(sa, hdr, pls, enc, now)
        elif exch == sa.exch and _mid == 0 and sa.state != "ESTABLISHED":
            self._phase1(sa, hdr, pls, enc, src, sport, dport, now)
        elif exch == QUICK and enc is not None and sa.state == "ESTABLISHED":
            sa.remote_port, sa.local_port = sport, dport
            self._quick(sa, hdr, enc, now)
        else:
            self.inc("ike_unexpected")

    # --- timers -------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        ds = [d for s in self.sas.values() for d in (s.deadline, s.dpd_at) if d is not None]
        ds += [q.deadline for s in self.sas.values() for q in s.quicks.values()
               if q.deadline is not None]
        ds += [x[0] for s in self.sas.values() for x in s.later]
        ds += [d for s in self.sas.values() for d in (s.rekey_at, s.expire_at) if d is not None]
        return min(ds) if ds else None

    def _expire(self, m: P.SadbMsg, now: float) -> None:
        """SADB_EXPIRE from the key engine: a soft one starts a new quick mode
        on the ISAKMP SA (the rekey), a hard one deletes the pair (the key
        engine has removed that SA already) and tells the peer."""
        s = m.get(P.SADB_EXT_SA)
        if s is None:
            return
        spi, hard = s.spi, m.get(P.SADB_EXT_LIFETIME_HARD) is not None
        for sa in list(self.sas.values()):
            if sa.state != "ESTABLISHED":
                continue
            old = next((pr for pr in sa.old_pairs if spi in pr), None)
            if old is not None:
                if hard:
                    self.inc("ipsec_expired")
                    sa.later = [x for x in sa.later if x[2:] != old]
                    self._drop_old(sa, old, now, True)
                return
            ch = next((c for c in sa.all_children()
                       if c.installed and spi in (c.child_spi_in, c.child_spi_out)), None)
            if ch is None:
                continue
            if hard:
                self.inc("ipsec_expired")
                self._say(f"IPsec SA esp 0x{spi:08x} with {sa.peer.address}: hard lifetime "
                          f"over, deleting the pair")
                self._info(sa, [(PT_D, delete_body(PROTO_ESP,
                                                   [struct.pack(">I", ch.child_spi_in)]))])
                cur = (ch.child_spi_in, ch.child_spi_out)
                sa.later = [x for x in sa.later if x[2:] != cur]
                self._drop_child(sa, ch, now)
            elif ch.quick is None:
                self.inc("ipsec_soft_expired")
                self._quick_start(sa, now, ch)
            return

    def _run_later(self, sa: V1Sa, now: float) -> None:
        due = [x for x in sa.later if x[0] <= now]
        if not due:
            return
        sa.later = [x for x in sa.later if x[0] > now]
        for _when, what, spi_in, spi_out in due:
            if what == "out" and spi_in in sa.pending_outs:
                sa.pending_outs.pop(spi_in)()
            elif what == "delete" and (spi_in, spi_out) in sa.old_pairs:
                self._drop_old(sa, (spi_in, spi_out), now, True)

    def timehandler(self, now: float) -> None:
        self._drain_pfkey(now)
        for sa in list(self.sas.values()):
            if sa.later:
                self._run_later(sa, now)
            if sa.state != "ESTABLISHED":
                continue
            if sa.expire_at is not None and now >= sa.expire_at:
                if sa.replaced:
                    self._say(f"ISAKMP SA {sa.cky_i.hex()}:{sa.cky_r.hex()} with "
                              f"{sa.peer.address} replaced: deleting it")
                else:
                    self.inc("isakmp_expired")
                    self._say(f"ISAKMP SA with {sa.peer.address}: lifetime over, deleting it")
                self.delete(sa, now)
            elif sa.rekey_at is not None and now >= sa.rekey_at:
                sa.rekey_at = None
                if not sa.replaced:
                    self.rekey_phase1(sa, now)
        for sa in list(self.sas.values()):
            if sa.dpd_at is not None and now >= sa.dpd_at and sa.state == "ESTABLISHED":
                if sa.dpd_wait >= 5:
                    self._fail(sa, f"DPD: {sa.peer.address} answered none of "
                                   f"{sa.dpd_wait} R-U-THERE", now)
                    continue
                sa.dpd_seq = (sa.dpd_seq + 1) & 0xffffffff
                sa.dpd_wait += 1
                self._info(sa, [(PT_N, notify_body(N_R_U_THERE, PROTO_ISAKMP,
                                                   sa.cky_i + sa.cky_r,
                                                   struct.pack(">I", sa.dpd_seq)))])
                sa.dpd_at = now + (sa.peer.dpd_delay if sa.dpd_wait <= 1 else 5.0)
            for q in list(sa.quicks.values()):
                if q.deadline is None or now < q.deadline or q.pending is None:
                    continue
                q.tries += 1
                if q.tries >= self.RETRANS_TRIES:
                    self._quick_fail(sa, q, f"no answer to {q.pending[1]} from {sa.peer.address} "
                                            f"after {q.tries} tries", now)
                    continue
                self.inc("ike_retransmit")
                q.deadline = now + self.RETRANS_BASE * (2 ** q.tries)
                if sa.p1_final:
                    self._send(sa, sa.p1_final)
                self._send(sa, q.pending[0])
            if sa.deadline is None or now < sa.deadline:
                continue
            if sa.pending is not None:
                sa.tries += 1
                if sa.tries >= self.RETRANS_TRIES:
                    self._fail(sa, f"no answer to {sa.pending[1]} from {sa.peer.address} after "
                                   f"{sa.tries} tries", now)
                    continue
                self.inc("ike_retransmit")
                sa.deadline = now + self.RETRANS_BASE * (2 ** sa.tries)
                if sa.p1_final:
                    self._send(sa, sa.p1_final)
                self._send(sa, sa.pending[0])
            elif sa.state != "ESTABLISHED":
                self._say(f"{sa.peer.address}: phase 1 not finished in time")
                self._kill(sa, now)
            else:
                sa.deadline = None
