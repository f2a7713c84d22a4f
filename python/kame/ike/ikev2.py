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
CREATE_CHILD_SA (new CHILD SAs on an IKE SA, RFC 7296 §1.3.1: an ACQUIRE
for a second selector pair to a remote we have an IKE SA with opens one
there, and a peer's are taken, up to :attr:`Ike.MAX_CHILDREN` per IKE SA;
rekey of each CHILD SA on its own, with PFS when its sainfo's
``pfs_group`` is set, and of the IKE SA with all its CHILD SAs;
simultaneous rekeys settled as RFC 7296 §2.8.1 says), rekeys started by
the key engine's soft SADB_EXPIRE and the racoon.conf lifetimes, and
retransmission with exponential backoff. Each CHILD SA (:class:`Child`)
is made under the ``sainfo`` of its selectors (:class:`Sainfo`; the
ACQUIRE's policy as initiator, TSi/TSr as responder, TS_UNACCEPTABLE when
none takes them) and deleted on its own. The keys can be
exported for a dissector (:meth:`IkeSa.ikev2_decryption_row`,
:meth:`Ike.esp_sa_rows`). Every refused message is
counted (:attr:`Ike.stats`) and every failure is logged in :attr:`Ike.log`
in words that name the cause.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Any

from kame import _core
from kame.errors import KameError
from kame.ike import cert as ikecert
from kame.ike import payloads as pl
from kame.ike.daemon import IKE_PORT, NATT_PORT, KeyDaemon
from kame.ike.payloads import Delete, Notify
from kame.key import pfkey as P

__all__ = ["Child", "ChildProposal", "Ike", "IkeProposal", "Peer", "Sainfo"]

Network = IPv4Network | IPv6Network

INTEG_KEYLEN = {0: 0, 2: 20, 12: 32, 13: 48, 14: 64}
PRF_LEN = {2: 20, 4: 16, 5: 32, 6: 48, 7: 64}
#: Wireshark's names of the IKE and ESP algorithms (its decryption tables)
IKE_INTEG_WS = {2: "HMAC_SHA1_96 [RFC2404]", 12: "HMAC_SHA2_256_128 [RFC4868]",
                13: "HMAC_SHA2_384_192 [RFC4868]", 14: "HMAC_SHA2_512_256 [RFC4868]"}
ESP_INTEG_WS = {2: "HMAC-SHA-1-96 [RFC2404]", 12: "HMAC-SHA-256-128 [RFC4868]",
                13: "HMAC-SHA-384-192 [RFC4868]", 14: "HMAC-SHA-512-256 [RFC4868]"}
#: the share of a lifetime after which a rekey starts (less a random part
#: of up to REKEY_JITTER, so that two peers seldom start at once)
REKEY_AT, REKEY_JITTER = 0.85, 0.1


@dataclass(frozen=True)
class IkeProposal:
    """One IKE SA proposal: ENCR (with key bits), INTEG (0 for AEAD), PRF, DH."""

    encr: int = 12
    key_bits: int = 128
    integ: int = 12
    prf: int = 5
    dh: int = 14

    def encr_t(self) -> tuple[int, int, int | None]:
        """The ENCR transform: 3DES carries no Key Length attribute."""
        return (pl.T_ENCR, self.encr, None if self.encr == 3 else self.key_bits)

    def sk_e_len(self) -> int:
        """SK_e's length: the key, plus the salt (GCM, RFC 5282 §7.1) or
        nonce (CTR, RFC 5930 §2) of 4 octets."""
        return self.key_bits // 8 + (4 if self.encr in (13, 20) else 0)

    def transforms(self) -> list[tuple[int, int, int | None]]:
        t: list[tuple[int, int, int | None]] = [self.encr_t()]
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
class Sainfo:
    """One racoon.conf ``sainfo``: the selectors it serves (``local`` and
    ``remote`` None: ``sainfo anonymous``, any) and what the CHILD SAs made
    under it get: the ESP proposals, the PFS group, the lifetime."""

    local: Network | None
    remote: Network | None
    child: list[ChildProposal] = field(default_factory=lambda: [ChildProposal()])
    pfs_group: int = 0
    lifetime: int = 3600
    #: its line in racoon.conf (0: not from a file)
    line: int = 0

    @property
    def anonymous(self) -> bool:
        return self.local is None or self.remote is None

    def name(self) -> str:
        at = f" (line {self.line})" if self.line else ""
        if self.anonymous:
            return f"sainfo anonymous{at}"
        return f"sainfo {self.local} <-> {self.remote}{at}"

    def holds(self, local: Network, remote: Network) -> bool:
        """Whether selectors ``local`` <-> ``remote`` are within this sainfo's."""
        if self.local is None or self.remote is None:
            return True
        return (local.version == self.local.version and remote.version == self.remote.version
                and local.subnet_of(self.local)  # type: ignore[arg-type]
                and remote.subnet_of(self.remote))  # type: ignore[arg-type]


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
    #: the IKE SA's lifetime (racoon's ``lifetime`` in ``remote``): rekeyed
    #: before it runs out, deleted when it does (0: no limit)
    lifetime: int = 3600
    #: the CHILD SAs' lifetime (``lifetime`` in ``sainfo``): the hard lifetime
    #: of the SAs in the key engine; their soft lifetime starts the rekey
    child_lifetime: int = 3600
    #: ``pfs_group`` in ``sainfo``: a new DH exchange with each CHILD rekey (0: none)
    pfs_group: int = 0
    #: certificate authentication (racoon's certificate_type/ca_type), else the PSK
    cert: ikecert.CertAuth | None = None
    #: the CHILD SAs' mode when the key engine's SPD does not say (racoon
    #: takes it from the policy): "tunnel" or "transport" (RFC 7296 §1.3.1)
    mode: str = "tunnel"
    #: the ``sainfo`` sections, chosen per CHILD SA by its selectors (the
    #: ACQUIRE's policy, the peer's TSi/TSr or quick mode IDs); empty: one
    #: made of ``child``, ``local_ts``/``remote_ts``, ``pfs_group`` and
    #: ``child_lifetime`` (:meth:`own_sainfo`)
    sainfos: list[Sainfo] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.address = ip_address(self.address)
        self.local_address = ip_address(self.local_address)
        if not self.my_id and self.cert is None:
            self.my_id = str(self.local_address)
        if self.local_ts is None:
            self.local_ts = _host_net(self.local_address)
        if self.remote_ts is None:
            self.remote_ts = _host_net(self.address)

    def own_sainfo(self) -> Sainfo:
        """The sainfo of a remote configured without ``sainfos``."""
        return Sainfo(self.local_ts, self.remote_ts, self.child, self.pfs_group,
                      self.child_lifetime)

    def sainfo_for(self, local: Network, remote: Network) -> Sainfo | None:
        """racoon's ``getsainfo``: the first specific sainfo holding the
        selectors ``local`` <-> ``remote``, else ``sainfo anonymous``, else
        None (without ``sainfos``: the remote's own)."""
        if not self.sainfos:
            return self.own_sainfo()
        return next((s for s in self.sainfos if not s.anonymous and s.holds(local, remote)),
                    next((s for s in self.sainfos if s.anonymous), None))

    def first_sainfo(self) -> tuple[Sainfo | None, Network, Network]:
        """What a CHILD SA started without selectors (``establish-sa``) is
        made of: the first specific sainfo and its selectors, else the
        anonymous one between the two ends."""
        assert self.local_ts is not None and self.remote_ts is not None
        if not self.sainfos:
            return None, self.local_ts, self.remote_ts
        s = next((x for x in self.sainfos if not x.anonymous), self.sainfos[0])
        if s.local is None or s.remote is None:
            return s, self.local_ts, self.remote_ts
        return s, s.local, s.remote


def _jitter() -> float:
    """A random share in [0, 1) of the rekey margin (not a secret)."""
    return random.random()


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


def _ts_nets(sels: list[Any]) -> list[Network]:
    """The address ranges of selectors (any protocol and port) that are one prefix each."""
    from ipaddress import ip_address as ipa
    from ipaddress import summarize_address_range

    out: list[Network] = []
    for t, proto, sp, ep, start, end in sels:
        if t not in (7, 8) or proto != 0 or sp != 0 or ep != 65535:
            continue
        try:
            nets: list[Any] = list(summarize_address_range(ipa(bytes(start)), ipa(bytes(end))))
        except (TypeError, ValueError):
            continue
        if len(nets) == 1:
            out.append(nets[0])
    return out


def _ts_text(sels: list[Any]) -> str:
    nets = _ts_nets(sels)
    return ", ".join(str(n) for n in nets) if nets else f"{len(sels)} selector(s)"


def _natd(spi_i: bytes, spi_r: bytes, addr: Any, port: int) -> bytes:
    return hashlib.sha1(spi_i + spi_r + addr.packed + struct.pack(">H", port)).digest()


class ChildSelectors:
    """The sainfo and selectors of the CHILD SA (IKEv2) or IPsec SA pair
    (IKEv1) an IKE SA carries: ``sainfo`` None is the remote's own."""

    peer: Peer
    sainfo: Sainfo | None
    local_ts: Network | None
    remote_ts: Network | None

    @property
    def si(self) -> Sainfo:
        """The sainfo the CHILD SA is made under."""
        return self.sainfo if self.sainfo is not None else self.peer.own_sainfo()

    @property
    def ts(self) -> tuple[Network, Network]:
        """The CHILD SA's selectors, ours and the peer's."""
        lt = self.local_ts if self.local_ts is not None else self.peer.local_ts
        rt = self.remote_ts if self.remote_ts is not None else self.peer.remote_ts
        assert lt is not None and rt is not None
        return lt, rt

    def use_sainfo(self, si: Sainfo | None, local: Network, remote: Network) -> None:
        self.sainfo, self.local_ts, self.remote_ts = si, local, remote


class Child(ChildSelectors):
    """One CHILD SA (a pair of ESP SAs) of an IKE SA: its proposal, SPIs,
    sainfo and selectors, the policy's reqid and mode, and when the key
    engine ends it. The IKE SA is its own first CHILD SA (the one of
    IKE_AUTH); the others, made with CREATE_CHILD_SA (RFC 7296 §1.3.1), are
    in :attr:`IkeSa.children`."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.child_prop: ChildProposal | None = None
        self.child_spi_in = 0
        self.child_spi_out = 0
        self.installed = False
        self.reqid = 0
        #: the CHILD SA's mode: "tunnel", or "transport" once both sides
        #: agreed with USE_TRANSPORT_MODE (RFC 7296 §1.3.1, §3.10.1)
        self.mode = "tunnel"
        #: when the key engine ends the current pair (its hard lifetime): a
        #: refused rekey is tried again well before it
        self.child_hard_at: float | None = None
        #: when a rekey of this CHILD SA is tried again (refused, or the
        #: IKE SA's window was busy)
        self.child_retry_at: float | None = None
        self.sainfo: Sainfo | None = None
        self.local_ts: Network | None = None
        self.remote_ts: Network | None = None

    @property
    def live(self) -> bool:
        """Whether the CHILD SA is up or being made (an inbound SPI held)."""
        return bool(self.child_spi_in) or self.installed


class IkeSa(Child):
    """One IKE SA on either side, with its first CHILD SA (its own fields)
    and the others (:attr:`children`)."""

    def __init__(self, peer: Peer, initiator: bool, spi_i: bytes, now: float) -> None:
        super().__init__(peer)
        #: the CHILD SAs made with CREATE_CHILD_SA besides the first
        self.children: list[Child] = []
        #: ACQUIREs for other selectors waiting for this IKE SA to be up
        #: (or its window free): sainfo, selectors, reqid, mode
        self.wanted: list[tuple[Sainfo | None, Network, Network, int, str]] = []
        self.initiator = initiator
        self.spi_i = spi_i
        self.spi_r = bytes(8)
        self.state = "INIT"  # INIT, AUTH, ESTABLISHED, DELETING, DEAD
        self.created = now
        self.remote_port = IKE_PORT
        self.local_port = IKE_PORT
        self.nat = peer.nat_traversal == "force"
        self.prop: IkeProposal | None = None
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
        self.error = ""
        # CREATE_CHILD_SA (RFC 7296 §1.3): our rekey under way, the one of the
        # peer we answered meanwhile (a collision, §2.8.1), CHILD SA pairs
        # waiting for their delete, outbound SAs installed once the old pair
        # is gone, requests waiting for the window, and the IKE SA's lifetime
        self.rekey: dict[str, Any] | None = None
        self.peer_rekey: dict[str, Any] | None = None
        self.old_children: list[tuple[int, int]] = []
        self.out_later: dict[int, Callable[[float], None]] = {}
        #: the inbound SPI of the pair that replaced a rekeyed one (by the
        #: old pair's inbound SPI): its outbound SA goes in once the old is gone
        self.successor: dict[int, int] = {}
        #: when the ACQUIREs in ``wanted`` are tried again (a TEMPORARY_FAILURE)
        self.wanted_at: float | None = None
        self.queue: list[tuple[int, list[tuple[int, bool, bytes]], dict[str, Any]]] = []
        self.pending_ctx: dict[str, Any] = {}
        self.rekey_at: float | None = None
        self.expire_at: float | None = None
        self.retry_at: float | None = None
        self.retry_kind = ""
        #: the peer's SIGNATURE_HASH_ALGORITHMS (RFC 7427), empty if it sent none
        self.peer_hashes: list[int] = []

    @property
    def spi_local(self) -> bytes:
        return self.spi_i if self.initiator else self.spi_r

    def all_children(self) -> list[Child]:
        """Its CHILD SAs: the first (itself), then those of CREATE_CHILD_SA."""
        return [self, *self.children]

    def child_by(self, *, spi_in: int = 0, spi_out: int = 0) -> Child | None:
        """The CHILD SA whose current pair has inbound ``spi_in`` or outbound ``spi_out``."""
        for ch in self.all_children():
            if (spi_in and ch.child_spi_in == spi_in) or (spi_out and ch.child_spi_out == spi_out):
                return ch
        return None

    def child_count(self) -> int:
        """How many CHILD SAs it carries (up or being made)."""
        return sum(1 for ch in self.all_children() if ch.live)

    # keys for what we send and what we receive
    def _k(self, out: bool) -> tuple[bytes, bytes]:
        mine = out == self.initiator  # initiator's keys are the "i" ones
        s = "i" if mine else "r"
        return self.keys["sk_e" + s], self.keys["sk_a" + s]

    def export_keys(self) -> dict[str, Any]:
        """The IKE SA's SPIs and SK_e/SK_a keys, as a key log (strongSwan's
        save-keys, NSS's SSLKEYLOGFILE) gives them to a dissector."""
        p = self.prop
        return {"spi_i": self.spi_i, "spi_r": self.spi_r,
                "encr": p.encr if p else 0, "key_bits": p.key_bits if p else 0,
                "integ": p.integ if p else 0,
                **{k: self.keys.get(k, b"") for k in ("sk_ei", "sk_er", "sk_ai", "sk_ar")}}

    def ikev2_decryption_row(self) -> str:
        """One row of Wireshark's ``ikev2_decryption_table`` for this IKE SA."""
        k = self.export_keys()
        integ = IKE_INTEG_WS.get(k["integ"], "NONE [RFC4306]")
        if k["encr"] == 20:
            encr = f"AES-GCM-{k['key_bits']} with 16 octet ICV [RFC5282]"
            integ = "NONE [RFC4306]"
        elif k["encr"] == 13:
            encr = f"AES-CTR-{k['key_bits']} [RFC5930]"
        elif k["encr"] == 3:
            encr = "3DES [RFC2451]"
        else:
            encr = f"AES-CBC-{k['key_bits']} [RFC3602]"
        # the SPIs and keys are byte fields (bare hex), the algorithms strings
        return ",".join((k["spi_i"].hex(), k["spi_r"].hex(), k["sk_ei"].hex(),
                         k["sk_er"].hex(), f'"{encr}"', k["sk_ai"].hex(), k["sk_ar"].hex(),
                         f'"{integ}"'))


class Ike(KeyDaemon):
    """The IKEv2 daemon; see the module docstring.

    ``engine`` is the key engine the CHILD SAs go to (None: negotiate only,
    for tests); ``peers`` the configured remotes; ``cookie_threshold`` the
    number of half-open SAs past which IKE_SA_INIT needs a cookie; ``others``
    the remotes the IKEv1 daemon serves on the same key engine (their
    ACQUIREs are left to it; :class:`kame.ike.daemon.KeyDaemon`)."""

    RETRANS_BASE = 1.0
    RETRANS_TRIES = 6
    HALF_OPEN_TIMEOUT = 30.0
    MAX_SAS = 10000
    #: rekeyed CHILD SA pairs waiting for their delete, per IKE SA: past
    #: this a peer's next rekey gets TEMPORARY_FAILURE (memory stays bounded)
    MAX_OLD_CHILDREN = 8
    #: CHILD SAs per IKE SA (the first, those of CREATE_CHILD_SA, those being
    #: made): past this a peer's new one gets NO_ADDITIONAL_SAS
    MAX_CHILDREN = 16

    def __init__(self, peers: list[Peer], engine: Any = None, *,
                 cookie_threshold: int = 32, log: Callable[[str], None] | None = None,
                 others: Iterable[Any] = ()) -> None:
        super().__init__(peers, engine, log=log, others=others)
        self.cookie_threshold = cookie_threshold
        self.sas: dict[bytes, IkeSa] = {}  # by our SPI
        self._secret = _core.ike_random(32)

    def half_open(self) -> int:
        return sum(1 for s in self.sas.values() if not s.initiator and s.state in ("INIT", "AUTH"))

    def established(self) -> list[IkeSa]:
        return [s for s in self.sas.values() if s.state == "ESTABLISHED"]

    def esp_sa_rows(self) -> list[str]:
        """Wireshark's ``esp_sa`` rows for the CHILD SAs in place (the keys
        in the key engine, or those negotiated when there is none)."""
        out = []
        for sa, ch in ((s, c) for s in self.sas.values() for c in s.all_children()):
            cp = ch.child_prop
            if cp is None or not ch.installed:
                continue
            p = sa.peer
            fam = "IPv6" if p.address.version == 6 else "IPv4"
            if cp.encr == 20:
                encr, integ = "AES-GCM with 16 octet ICV [RFC4106]", "NULL"
            else:
                encr, integ = "AES-CBC [RFC3602]", ESP_INTEG_WS.get(cp.integ, "NULL")
            for spi, src, dst, name in ((ch.child_spi_in, p.address, p.local_address, "in"),
                                        (ch.child_spi_out, p.local_address, p.address, "out")):
                ek, ak = cp.keylens()
                k = sa.keys.get(f"child_{name}_{spi:08x}")
                if k is None and self.engine is not None:
                    s = self.engine.sad.get(dst, "esp", spi)
                    k = (s.enc_key + s.auth_key) if s is not None else None
                if k is None:
                    continue
                out.append(",".join(f'"{x}"' for x in (
                    fam, src, dst, f"0x{spi:08x}", encr, "0x" + k[:ek].hex(), integ,
                    ("0x" + k[ek:ek + ak].hex()) if ak else "")))
        return out

    # --- PF_KEY -----------------------------------------------------------------------

    def acquire(self, buf: bytes, now: float) -> IkeSa | None:
        """An SADB_ACQUIRE: a CHILD SA under the sainfo of the policy's
        selectors with the remote it names: on the IKE SA we have with it
        (CREATE_CHILD_SA, RFC 7296 §1.3.1; once it is up if it is being
        made), else on a new one (IKE_SA_INIT)."""
        got = self._acquire_of(buf)
        if got is None:
            return None
        m, peer = got
        si = self._acquire_sainfo(m, peer)
        if si is None:
            return None
        sels = si[1:]
        for s in self.sas.values():
            if s.peer is not peer or s.state in ("DEAD", "DELETING"):
                continue
            if (any(c.ts == sels and (c.live or c is s and s.state != "ESTABLISHED")
                    for c in s.all_children()) or any(w[1:3] == sels for w in s.wanted)):
                return None  # already negotiating (or up) for these selectors
        sa2 = m.get(P.SADB_X_EXT_SA2)
        reqid = sa2.reqid if sa2 else 0
        modes = {v: k for k, v in P.MODES.items()}
        asked = modes.get(sa2.mode, "any") if sa2 else "any"
        mode = asked if asked != "any" else self._policy_mode(peer)
        have = [s for s in self.sas.values() if s.peer is peer and (
            s.state == "ESTABLISHED" or s.initiator and s.state in ("INIT", "AUTH"))]
        if have:
            sa = max(have, key=lambda s: (s.state == "ESTABLISHED", s.created))
            self.create_child(sa, si, now, reqid=reqid, mode=mode)
            return sa
        sa = self.initiate(peer, now, sainfo=si)
        sa.reqid = reqid
        sa.mode = mode
        return sa

    def _getspi(self, sa: IkeSa, now: float, ch: Child | None = None) -> int:
        ch = ch or sa
        return self._pfkey_getspi(sa.peer, ch.mode, ch.reqid, now)

    def _install(self, sa: IkeSa, keymat: bytes, now: float, *, spi_in: int | None = None,
                 spi_out: int | None = None, cp: ChildProposal | None = None,
                 initiator: bool | None = None, delay_out: bool = False,
                 ch: Child | None = None) -> None:
        """Install a CHILD SA pair from KEYMAT (RFC 7296 §2.17: the first keys
        for the direction from the exchange's initiator). By default the IKE
        SA's current pair from IKE_AUTH; a CREATE_CHILD_SA names its own.
        ``delay_out``: the outbound SA waits in ``sa.out_later`` (the responder
        of a rekey keeps sending on the old pair until the initiator deletes
        it, so nothing is sent before the peer has the new inbound SA).
        ``ch``: the CHILD SA (by default the IKE SA's first)."""
        ch = ch or sa
        cp = cp or ch.child_prop
        assert cp is not None
        spi_in = ch.child_spi_in if spi_in is None else spi_in
        spi_out = ch.child_spi_out if spi_out is None else spi_out
        initiator = sa.initiator if initiator is None else initiator
        ek, ak = cp.keylens()
        i2r = (keymat[:ek], keymat[ek:ek + ak])
        r2i = (keymat[ek + ak:2 * ek + ak], keymat[2 * ek + ak:2 * (ek + ak)])
        kin, kout = (r2i, i2r) if initiator else (i2r, r2i)
        if spi_in == ch.child_spi_in:
            ch.installed = True
        if self.engine is None:
            sa.keys[f"child_in_{spi_in:08x}"] = kin[0] + kin[1]
            sa.keys[f"child_out_{spi_out:08x}"] = kout[0] + kout[1]
            if spi_in == ch.child_spi_in and ch is sa:
                sa.keys["child_in"], sa.keys["child_out"] = kin[0] + kin[1], kout[0] + kout[1]
            return
        p = sa.peer
        life = ch.si.lifetime
        if spi_in == ch.child_spi_in:
            ch.child_hard_at = now + life if life else None
        soft = int(life * (REKEY_AT - REKEY_JITTER * _jitter())) if life else 0

        def add(typ: int, spi: int, src: Any, dst: Any, keys: tuple[bytes, bytes],
                when: float) -> None:
            self._add_sa(typ, spi, src, dst, cp, keys, mode=ch.mode, reqid=ch.reqid, life=life,
                         soft=soft, natt_dport=sa.remote_port if sa.nat else None, now=when)

        add(P.SADB_UPDATE, spi_in, p.address, p.local_address, kin, now)
        if delay_out:
            sa.out_later[spi_in] = lambda when: add(P.SADB_ADD, spi_out, p.local_address,
                                                    p.address, kout, when)
        else:
            add(P.SADB_ADD, spi_out, p.local_address, p.address, kout, now)

    def _uninstall(self, sa: IkeSa, now: float) -> None:
        """SADB_DELETE the CHILD SA pair (or the larval inbound SA GETSPI made),
        and the pairs that wait for their delete."""
        todo = []
        for ch in sa.all_children():
            if ch.child_spi_in:
                todo.append((ch.child_spi_in, ch.child_spi_out if ch.installed else 0))
            ch.installed = False
            ch.child_spi_in = 0
        todo += sa.old_children
        sa.old_children = []
        sa.children = []
        sa.successor = {}
        for spi_in, spi_out in todo:
            self._delete_pair(sa, spi_in, spi_out, now)

    def _delete_pair(self, sa: IkeSa, spi_in: int, spi_out: int, now: float) -> None:
        """SADB_DELETE one pair (0: that half is not there); an outbound SA
        still waiting to be installed is dropped."""
        waiting = sa.out_later.pop(spi_in, None)
        if self.engine is None:
            return
        p = sa.peer
        todo = []
        if spi_in:
            todo.append((spi_in, p.address, p.local_address))
        if spi_out and waiting is None:
            todo.append((spi_out, p.local_address, p.address))
        for spi, src, dst in todo:
            self._delete_sa(spi, src, dst, now)

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

    def initiate(self, peer: Peer, now: float,
                 sainfo: tuple[Sainfo | None, Network, Network] | None = None) -> IkeSa:
        """Start IKE_SA_INIT towards ``peer``, for a CHILD SA under ``sainfo``
        (with its selectors, ours first; by default the remote's first sainfo)."""
        sa = IkeSa(peer, True, _core.ike_random(8), now)
        sa.use_sainfo(*(sainfo or peer.first_sainfo()))
        sa.mode = self._policy_mode(peer)
        if peer.nat_traversal == "force":
            sa.nat = True
        self.sas[sa.spi_i] = sa
        sa.ni = _core.ike_random(32)
        sa.dh = _core.IkeDh(peer.proposals[0].dh)
        self._say(f"initiate IKE_SA_INIT to {peer.address}")
        self._send_init(sa, now)
        return sa

    def _policy_mode(self, p: Peer) -> str:
        """The CHILD SA mode the key engine's SPD asks for between us and
        ``p`` (racoon reads it from the policy), else the remote's ``mode``."""
        if self.engine is not None:
            sp = self.engine.spd.lookup("out", p.local_address, p.address, 255)
            for r in sp.requests if sp is not None and sp.action == "ipsec" else ():
                if r.proto == "esp" and r.mode in ("tunnel", "transport"):
                    return str(r.mode)
        return p.mode

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
                 for i, c in enumerate(sa.si.child)]
        lts, rts = sa.ts
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
        pls.append((pl.PT_AUTH, False, authb))
        pls += _transport_n(sa)
        pls += [(pl.PT_SA, False, _core.ike_build_sa(props)),
                (pl.PT_TSI, False, _core.ike_build_ts([_ts_tuple(lts)])),
                (pl.PT_TSR, False, _core.ike_build_ts([_ts_tuple(rts)]))]
        sa.state = "AUTH"
        self._request(sa, pl.IKE_AUTH, self._sealed(sa, pl.IKE_AUTH, 1, False, pls), now)

    def _auth_response(self, sa: IkeSa, inner: list[Any], now: float) -> None:
        by = {t: b for t, _c, b in inner}
        for t, _c, b in inner:
            if t == pl.PT_N:
                n = Notify.unpack(b)
                if n.type < 16384:
                    if pl.PT_IDR in by and pl.PT_AUTH in by:
                        # RFC 7296 §2.21.2: authenticated, only the CHILD SA
                        # refused: the peer holds the IKE SA, which we delete
                        self._send(sa, self._sealed(sa, pl.INFORMATIONAL, max(sa.next_id, 2),
                                                    False, [(pl.PT_D, False,
                                                             Delete(pl.PROTO_IKE).pack())]))
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
        cp = self._match_child(props[:1], sa.si.child) if len(props) == 1 else None
        if cp is None or len(props[0][2]) != 4:
            self._fail(sa, "IKE_AUTH response chose an ESP proposal we did not offer", now)
            return
        transport = _carries(inner, pl.N_USE_TRANSPORT_MODE)
        if sa.mode == "transport" and not transport:
            # RFC 7296 §1.3.1: without the notify the CHILD SA is in tunnel
            # mode, which our policy does not ask for
            # the peer holds an IKE SA and a tunnel-mode pair: delete them
            self._send(sa, self._sealed(sa, pl.INFORMATIONAL, max(sa.next_id, 2), False,
                                        [(pl.PT_D, False, Delete(pl.PROTO_IKE).pack())]))
            self._fail(sa, f"{sa.peer.address} refused transport mode (no USE_TRANSPORT_MODE "
                           f"in its IKE_AUTH response; our policy asks for transport)", now)
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
        props = _core.ike_parse_sa(by[pl.PT_SA]) if pl.PT_SA in by else []
        tsi = _core.ike_parse_ts(by[pl.PT_TSI]) if pl.PT_TSI in by else []
        tsr = _core.ike_parse_ts(by[pl.PT_TSR]) if pl.PT_TSR in by else []
        # the sainfo for the peer's selectors (RFC 7296 §2.9: none is TS_UNACCEPTABLE)
        got = self._sainfo_for_ts(p, tsi, tsr)
        if got is None:
            self._refuse_auth(sa, msg_id, pl.N_TS_UNACCEPTABLE,
                              f"IKE_AUTH: no sainfo for the peer's selectors "
                              f"{_ts_text(tsr)} <-> {_ts_text(tsi)}", now, keep=True)
            return
        sa.use_sainfo(*got)
        cp = self._match_child(props, sa.si.child)
        if cp is None:
            self._refuse_auth(sa, msg_id, pl.N_NO_PROPOSAL_CHOSEN,
                              f"IKE_AUTH: none of the peer's ESP proposals is in "
                              f"{sa.si.name()}", now, keep=True)
            return
        peer_spi = next((pr[2] for pr in props if self._match_child([pr], [cp]) == cp), b"")
        lts, rts = sa.ts
        asked = _carries(inner, pl.N_USE_TRANSPORT_MODE)
        ours = self._policy_mode(p)
        sa.mode = "transport" if asked and ours == "transport" else "tunnel"
        if asked != (ours == "transport"):
            self._say(f"{p.address} asks for {'transport' if asked else 'tunnel'} mode, our "
                      f"policy for {ours}: {sa.mode} mode (RFC 7296 §1.3.1)")
        sa.child_prop = cp
        sa.child_spi_out = int.from_bytes(peer_spi, "big")
        sa.reqid = self._policy_reqid(lts, rts)
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
               *_transport_n(sa),
               (pl.PT_SA, False, _core.ike_build_sa(chosen)),
               (pl.PT_TSI, False, _core.ike_build_ts([_ts_tuple(rts)])),
               (pl.PT_TSR, False, _core.ike_build_ts([_ts_tuple(lts)]))]
        self._respond(sa, msg_id, self._sealed(sa, pl.IKE_AUTH, msg_id, True, pls))
        self._established(sa, now)

    def _refuse_auth(self, sa: IkeSa, msg_id: int, note: int, why: str, now: float,
                     keep: bool = False) -> None:
        """Refuse an IKE_AUTH request. ``keep``: the peer is authenticated and
        only its CHILD SA is refused (RFC 7296 §2.21.2): the answer carries
        IDr and AUTH beside the error, so the IKE SA exists at the peer, and
        with no CHILD SA to serve we delete it (INFORMATIONAL with D)."""
        self._say(f"{sa.peer.address}: {why}: answering {pl.notify_name(note)}")
        pls: list[tuple[int, bool, bytes]] = [(pl.PT_N, False, Notify(note).pack())]
        if keep:
            idb = self._my_idb(sa.peer)
            try:
                pls = [(pl.PT_IDR, False, idb), *self._cert_payloads(sa.peer),
                       (pl.PT_AUTH, False, self._auth_body(sa, idb, initiator=False)), *pls]
            except KameError as e:
                self._say(f"cannot sign our AUTH: {e}")
                keep = False
        self._respond(sa, msg_id, self._sealed(sa, pl.IKE_AUTH, msg_id, True, pls))
        sa.error = why
        if not keep:
            sa.state = "DEAD"
            sa.deadline = now + 5.0  # answer retransmits for a while, then forget
            return
        sa.state = "DELETING"
        self._request(sa, pl.INFORMATIONAL, self._sealed(
            sa, pl.INFORMATIONAL, sa.next_id, False,
            [(pl.PT_D, False, Delete(pl.PROTO_IKE).pack())]), now)
        self._say(f"deleting IKE SA with {sa.peer.address}: no CHILD SA to serve")

    # --- shared --------------------------------------------------------------------------

    def _match_ike(self, props: list[Any]) -> IkeProposal | None:
        for ours in (x for p in self.peers for x in p.proposals):
            for _num, proto, _spi, trs in props:
                if proto != pl.PROTO_IKE:
                    continue
                have = set(trs)
                integ_ok = ((pl.T_INTEG, ours.integ, None) in have if ours.integ
                            else not any(t[0] == pl.T_INTEG and t[1] != 0 for t in trs))
                if (ours.encr_t() in have and integ_ok
                        and (pl.T_PRF, ours.prf, None) in have
                        and (pl.T_DH, ours.dh, None) in have):
                    return ours
        return None

    @staticmethod
    def _sainfo_for_ts(p: Peer, tsi: list[Any], tsr: list[Any]
                       ) -> tuple[Sainfo | None, Network, Network] | None:
        """The responder's sainfo for the initiator's TSi/TSr, with the
        selectors we answer (ours, the peer's): a specific sainfo whose
        selectors the peer's hold (narrowed to the sainfo's, RFC 7296 §2.9)
        or that holds the peer's first ones; else ``sainfo anonymous`` with
        the peer's first selectors; None: TS_UNACCEPTABLE."""
        if not p.sainfos:
            assert p.local_ts is not None and p.remote_ts is not None
            if _ts_covers(tsi, p.remote_ts) and _ts_covers(tsr, p.local_ts):
                return None, p.local_ts, p.remote_ts
            return None
        ni, nr = _ts_nets(tsi), _ts_nets(tsr)
        for s in p.sainfos:
            if s.local is None or s.remote is None:
                continue
            if _ts_covers(tsi, s.remote) and _ts_covers(tsr, s.local):
                return s, s.local, s.remote
            if ni and nr and s.holds(nr[0], ni[0]):
                return s, nr[0], ni[0]
        anon = next((s for s in p.sainfos if s.anonymous), None)
        if anon is not None and ni and nr and ni[0].version == nr[0].version:
            return anon, nr[0], ni[0]
        return None

    def _match_child(self, props: list[Any], mine: list[ChildProposal]
                     ) -> ChildProposal | None:
        """The first of ``mine`` (a sainfo's proposals) the peer offers."""
        for ours in mine:
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
        encr_len = sa.prop.sk_e_len()
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
            return f"bad certificate ({getattr(e, 'reason', '') or 'error'}): {e}"
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
        self._set_lifetime(sa, now)
        self.inc("ike_established")
        self._say(f"IKE SA {sa.spi_i.hex()}:{sa.spi_r.hex()} with {sa.peer.address} "
                  f"established; CHILD SA esp in 0x{sa.child_spi_in:08x} out "
                  f"0x{sa.child_spi_out:08x}" + (" (UDP-encapsulated)" if sa.nat else ""))
        self._start_wanted(sa, now)

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

    # --- CREATE_CHILD_SA (RFC 7296 §1.3) ----------------------------------------------------

    def _set_lifetime(self, sa: IkeSa, now: float) -> None:
        life = sa.peer.lifetime
        if life:
            sa.rekey_at = now + life * (REKEY_AT - REKEY_JITTER * _jitter())
            sa.expire_at = now + life

    def _req(self, sa: IkeSa, exchange: int, payloads: list[tuple[int, bool, bytes]],
             now: float, ctx: dict[str, Any] | None = None) -> None:
        """Send a request on an established IKE SA, or queue it while the
        window (one request, RFC 7296 §2.3) is taken."""
        if sa.pending is not None:
            if len(sa.queue) < 16:
                sa.queue.append((exchange, payloads, ctx or {}))
            return
        sa.pending_ctx = ctx or {}
        self._request(sa, exchange, self._sealed(sa, exchange, sa.next_id, False, payloads),
                      now)

    def _next_queued(self, sa: IkeSa, now: float) -> None:
        if sa.pending is None and sa.queue and sa.state == "ESTABLISHED":
            exchange, payloads, ctx = sa.queue.pop(0)
            self._req(sa, exchange, payloads, now, ctx)

    def _child_props(self, ch: Child, spi: int, group: int) -> list[Any]:
        out = []
        for i, c in enumerate(ch.si.child):
            t = c.transforms()
            if group:
                t.insert(len(t) - 1, (pl.T_DH, group, None))
            out.append((i + 1, pl.PROTO_ESP, struct.pack(">I", spi), t))
        return out

    def rekey_child(self, sa: IkeSa, now: float, group: int | None = None,
                    ch: Child | None = None) -> bool:
        """Rekey a CHILD SA of the IKE SA (``ch``, by default its first):
        CREATE_CHILD_SA with REKEY_SA, a new SPI, a nonce and (``pfs_group``)
        a new KE; the old pair is deleted once the new one is in. False when
        there is nothing to rekey now."""
        ch = ch or sa
        if (sa.state != "ESTABLISHED" or sa.rekey is not None or not ch.installed
                or ch.child_prop is None):
            return False
        p = sa.peer
        group = ch.si.pfs_group if group is None else group
        try:
            spi = self._getspi(sa, now, ch)
        except KameError as e:
            self._say(f"CHILD SA rekey with {p.address}: {e}")
            return False
        ni = _core.ike_random(32)
        dh = _core.IkeDh(group) if group else None
        sa.rekey = {"kind": "child", "ni": ni, "dh": dh, "spi_in": spi, "child": ch,
                    "old": (ch.child_spi_in, ch.child_spi_out)}
        lts, rts = ch.ts
        pls = [(pl.PT_N, False, Notify(pl.N_REKEY_SA, pl.PROTO_ESP,
                                       struct.pack(">I", ch.child_spi_in)).pack()),
               *_transport_n(ch),
               (pl.PT_SA, False, _core.ike_build_sa(self._child_props(ch, spi, group))),
               (pl.PT_NONCE, False, ni)]
        if dh is not None:
            pls.append((pl.PT_KE, False, pl.ke_body(group, dh.public)))
        pls += [(pl.PT_TSI, False, _core.ike_build_ts([_ts_tuple(lts)])),
                (pl.PT_TSR, False, _core.ike_build_ts([_ts_tuple(rts)]))]
        self._say(f"rekeying CHILD SA esp in 0x{ch.child_spi_in:08x} ({lts} <-> {rts}) with "
                  f"{p.address}" + (f" (PFS, DH group {group})" if group else ""))
        self.inc("ike_child_rekey_out")
        self._req(sa, pl.CREATE_CHILD_SA, pls, now)
        return True

    def create_child(self, sa: IkeSa, sainfo: tuple[Sainfo | None, Network, Network],
                     now: float, *, reqid: int = 0, mode: str | None = None,
                     group: int | None = None) -> bool:
        """A new CHILD SA on the IKE SA for ``sainfo``'s selectors (ours
        first): CREATE_CHILD_SA without REKEY_SA (RFC 7296 §1.3.1), with its
        own TSi/TSr, a nonce and, with the sainfo's ``pfs_group``, a KE.
        While the IKE SA is being made or its window is taken, the request
        waits in ``sa.wanted``. False when it is neither sent nor kept."""
        mode = mode or self._policy_mode(sa.peer)
        if sa.state != "ESTABLISHED" or sa.rekey is not None or (
                sa.wanted_at is not None and now < sa.wanted_at):
            if len(sa.wanted) >= self.MAX_CHILDREN or sa.state not in (
                    "INIT", "AUTH", "ESTABLISHED"):
                return False
            sa.wanted.append((*sainfo, reqid, mode))
            return True
        if sa.child_count() >= self.MAX_CHILDREN:
            self.inc("ike_child_toomany")
            self._say(f"new CHILD SA with {sa.peer.address}: {self.MAX_CHILDREN} CHILD SAs on "
                      f"the IKE SA already")
            return False
        ch = Child(sa.peer)
        ch.use_sainfo(*sainfo)
        ch.reqid, ch.mode = reqid, mode
        group = ch.si.pfs_group if group is None else group
        try:
            ch.child_spi_in = self._getspi(sa, now, ch)
        except KameError as e:
            self._say(f"new CHILD SA with {sa.peer.address}: {e}")
            return False
        sa.children.append(ch)
        ni = _core.ike_random(32)
        dh = _core.IkeDh(group) if group else None
        sa.rekey = {"kind": "new", "ni": ni, "dh": dh, "spi_in": ch.child_spi_in, "child": ch}
        lts, rts = ch.ts
        pls = [*_transport_n(ch),
               (pl.PT_SA, False, _core.ike_build_sa(self._child_props(ch, ch.child_spi_in,
                                                                      group))),
               (pl.PT_NONCE, False, ni)]
        if dh is not None:
            pls.append((pl.PT_KE, False, pl.ke_body(group, dh.public)))
        pls += [(pl.PT_TSI, False, _core.ike_build_ts([_ts_tuple(lts)])),
                (pl.PT_TSR, False, _core.ike_build_ts([_ts_tuple(rts)]))]
        self._say(f"new CHILD SA {lts} <-> {rts} with {sa.peer.address} under "
                  f"{ch.si.name()}" + (f" (PFS, DH group {group})" if group else ""))
        self.inc("ike_child_new_out")
        self._req(sa, pl.CREATE_CHILD_SA, pls, now)
        return True

    def _start_wanted(self, sa: IkeSa, now: float) -> None:
        """The next ACQUIRE that waited for the IKE SA, now that it can go."""
        if (sa.state != "ESTABLISHED" or sa.rekey is not None or not sa.wanted
                or (sa.wanted_at is not None and now < sa.wanted_at)):
            return
        sa.wanted_at = None
        si, lts, rts, reqid, mode = sa.wanted.pop(0)
        self.create_child(sa, (si, lts, rts), now, reqid=reqid, mode=mode)

    def delete_child(self, sa: IkeSa, ch: Child, now: float) -> None:
        """Delete one CHILD SA of the IKE SA (INFORMATIONAL with D for its
        inbound SPI); the IKE SA and its other CHILD SAs stay."""
        if not ch.live:
            return
        spi_in = ch.child_spi_in
        self._say(f"deleting CHILD SA esp in 0x{spi_in:08x} ({ch.ts[0]} <-> {ch.ts[1]}) with "
                  f"{sa.peer.address}")
        self._drop_child(sa, ch, now)
        if sa.state == "ESTABLISHED":
            self._delete_child_request(sa, spi_in, now)

    def _drop_child(self, sa: IkeSa, ch: Child, now: float) -> None:
        """SADB_DELETE a CHILD SA's pair and forget it (the first one's
        fields are emptied: it is the IKE SA itself)."""
        self._delete_pair(sa, ch.child_spi_in, ch.child_spi_out if ch.installed else 0, now)
        ch.child_spi_in = ch.child_spi_out = 0
        ch.installed = False
        ch.child_retry_at = None
        if ch is not sa and ch in sa.children:
            sa.children.remove(ch)

    def rekey_ike(self, sa: IkeSa, now: float) -> bool:
        """Rekey the IKE SA (RFC 7296 §1.3.2): CREATE_CHILD_SA with a new SPI,
        nonce and KE; the CHILD SAs move to the new IKE SA and the old one is
        deleted."""
        if sa.state != "ESTABLISHED" or sa.rekey is not None or sa.prop is None:
            return False
        spi = _core.ike_random(8)
        ni = _core.ike_random(32)
        dh = _core.IkeDh(sa.prop.dh)
        sa.rekey = {"kind": "ike", "ni": ni, "dh": dh, "spi": spi}
        pls = [(pl.PT_SA, False, _core.ike_build_sa(
                   [(1, pl.PROTO_IKE, spi, sa.prop.transforms())])),
               (pl.PT_NONCE, False, ni),
               (pl.PT_KE, False, pl.ke_body(dh.group, dh.public))]
        self._say(f"rekeying IKE SA {sa.spi_i.hex()}:{sa.spi_r.hex()} with {sa.peer.address}")
        self.inc("ike_ike_rekey_out")
        self._req(sa, pl.CREATE_CHILD_SA, pls, now)
        return True

    def _rekey_keys(self, sa: IkeSa, new: IkeSa, gir: bytes) -> None:
        """RFC 7296 §2.18: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr), and
        the seven keys from it with the new SPIs."""
        assert sa.prop is not None and new.prop is not None
        prf = new.prop.prf
        seed = _core.ike_prf(sa.prop.prf, sa.keys["sk_d"], gir + new.ni + new.nr)
        integ = INTEG_KEYLEN.get(new.prop.integ, 0)
        encr = new.prop.sk_e_len()
        plen = PRF_LEN[prf]
        km = bytes(_core.ike_prf_plus(prf, seed, new.ni + new.nr + new.spi_i + new.spi_r,
                                      3 * plen + 2 * integ + 2 * encr))
        keys: dict[str, bytes] = {"skeyseed": bytes(seed)}
        off = 0
        for name, n in (("sk_d", plen), ("sk_ai", integ), ("sk_ar", integ), ("sk_ei", encr),
                        ("sk_er", encr), ("sk_pi", plen), ("sk_pr", plen)):
            keys[name] = km[off:off + n]
            off += n
        new.keys = keys

    def _new_ike_sa(self, sa: IkeSa, initiator: bool, spi_i: bytes, spi_r: bytes,
                    prop: IkeProposal, ni: bytes, nr: bytes, gir: bytes, now: float) -> IkeSa:
        new = IkeSa(sa.peer, initiator, spi_i, now)
        new.spi_r = spi_r
        new.prop, new.ni, new.nr = prop, ni, nr
        new.remote_port, new.local_port, new.nat = sa.remote_port, sa.local_port, sa.nat
        new.reqid = sa.reqid
        new.mode = sa.mode
        new.use_sainfo(sa.sainfo, *sa.ts)
        new.state = "ESTABLISHED"
        self._rekey_keys(sa, new, gir)
        self._set_lifetime(new, now)
        self.sas[new.spi_local] = new
        return new

    @staticmethod
    def _move_children(old: IkeSa, new: IkeSa) -> None:
        """All the CHILD SAs of ``old`` to ``new`` (an IKE SA rekey)."""
        new.child_prop, new.child_spi_in, new.child_spi_out = (
            old.child_prop, old.child_spi_in, old.child_spi_out)
        new.use_sainfo(old.sainfo, *old.ts)
        new.installed = old.installed
        new.child_hard_at = old.child_hard_at
        new.reqid, new.mode = old.reqid, old.mode
        # a CHILD rekey refused during the peer's IKE rekey: the new IKE SA tries it
        new.child_retry_at, old.child_retry_at = old.child_retry_at, None
        new.children += old.children
        new.wanted += old.wanted
        new.old_children += old.old_children
        new.out_later.update(old.out_later)
        new.successor.update(old.successor)
        old.child_spi_in = old.child_spi_out = 0
        old.installed = False
        old.old_children, old.out_later, old.successor = [], {}, {}
        old.children, old.wanted = [], []

    def _ccsa_refuse(self, sa: IkeSa, msg_id: int, note: int, why: str,
                     data: bytes = b"") -> None:
        self._say(f"{sa.peer.address}: CREATE_CHILD_SA: {why}: answering "
                  f"{pl.notify_name(note)}")
        self.inc("ike_ccsa_refused")
        self._respond(sa, msg_id, self._sealed(sa, pl.CREATE_CHILD_SA, msg_id, True, [
            (pl.PT_N, False, Notify(note, data=data).pack())]))

    def _ccsa_request(self, sa: IkeSa, inner: list[Any], msg_id: int, now: float) -> None:
        """The responder's side of CREATE_CHILD_SA: rekey of a CHILD SA (a
        REKEY_SA notify), of the IKE SA (an SA payload for protocol IKE), or
        a new CHILD SA (neither)."""
        by = {t: b for t, _c, b in inner}
        notes = [Notify.unpack(b) for t, _c, b in inner if t == pl.PT_N]
        if pl.PT_SA not in by or pl.PT_NONCE not in by:
            self._ccsa_refuse(sa, msg_id, pl.N_INVALID_SYNTAX, "no SA or Nonce payload")
            return
        ni = by[pl.PT_NONCE]
        if not 16 <= len(ni) <= 256:
            self._ccsa_refuse(sa, msg_id, pl.N_INVALID_SYNTAX, "bad nonce length")
            return
        props = _core.ike_parse_sa(by[pl.PT_SA])
        ours = sa.rekey
        if props and props[0][1] == pl.PROTO_IKE:
            if ours is not None and ours["kind"] != "ike" or sa.state != "ESTABLISHED":
                self._ccsa_refuse(sa, msg_id, pl.N_TEMPORARY_FAILURE,
                                  "a CHILD SA exchange of ours is under way")
                return
            self._ike_rekey_request(sa, by, props, ni, msg_id, now)
            return
        if ours is not None and ours["kind"] == "ike":
            self._ccsa_refuse(sa, msg_id, pl.N_TEMPORARY_FAILURE,
                              "an IKE SA rekey of ours is under way")
            return
        rekey = next((n for n in notes if n.type == pl.N_REKEY_SA), None)
        if rekey is None:
            self._new_child_request(sa, by, props, ni, _carries(inner, pl.N_USE_TRANSPORT_MODE),
                                    msg_id, now)
            return
        if len(sa.old_children) >= self.MAX_OLD_CHILDREN:
            self._ccsa_refuse(sa, msg_id, pl.N_TEMPORARY_FAILURE,
                              f"{len(sa.old_children)} rekeyed CHILD SA pairs not deleted yet")
            return
        old_out = int.from_bytes(rekey.spi, "big") if len(rekey.spi) == 4 else 0
        ch = sa.child_by(spi_out=old_out)
        if ch is None or not ch.installed:
            self._ccsa_refuse(sa, msg_id, pl.N_CHILD_SA_NOT_FOUND,
                              f"no CHILD SA with outbound SPI 0x{old_out:08x}")
            return
        p = sa.peer
        si = ch.si
        got = self._ccsa_choose(sa, by, props, si, msg_id)
        if got is None:
            return
        cp, chosen, dh, gir = got
        lts, rts = ch.ts
        tsi = _core.ike_parse_ts(by[pl.PT_TSI]) if pl.PT_TSI in by else []
        tsr = _core.ike_parse_ts(by[pl.PT_TSR]) if pl.PT_TSR in by else []
        if not (_ts_covers(tsi, rts) and _ts_covers(tsr, lts)):
            self._ccsa_refuse(sa, msg_id, pl.N_TS_UNACCEPTABLE,
                              f"the selectors do not hold {rts} <-> {lts}")
            return
        nr = _core.ike_random(32)
        spi_in = self._getspi(sa, now, ch)
        spi_out = int.from_bytes(chosen[2], "big")
        keymat = self._ccsa_keymat(sa, cp, ni, nr, gir)
        old = (ch.child_spi_in, ch.child_spi_out)
        self._respond(sa, msg_id, self._sealed(sa, pl.CREATE_CHILD_SA, msg_id, True,
                                               self._ccsa_answer(ch, cp, chosen, spi_in, nr,
                                                                 dh, lts, rts)))
        self._install(sa, keymat, now, spi_in=spi_in, spi_out=spi_out, cp=cp,
                      initiator=False, delay_out=True, ch=ch)
        sa.old_children.append(old)
        sa.successor[old[0]] = spi_in
        ch.child_prop, ch.child_spi_in, ch.child_spi_out = cp, spi_in, spi_out
        ch.installed = True
        if ours is not None and ours["kind"] == "child" and ours["old"] == old:
            sa.peer_rekey = {"kind": "child", "nonces": (ni, nr), "pair": (spi_in, spi_out)}
        self.inc("ike_child_rekey_in")
        self._say(f"{p.address} rekeyed the CHILD SA {lts} <-> {rts}: esp in "
                  f"0x{spi_in:08x} out 0x{spi_out:08x}"
                  + (f" (PFS, DH group {dh.group})" if dh else "")
                  + f", replacing in 0x{old[0]:08x}")

    def _ccsa_choose(self, sa: IkeSa, by: dict[int, bytes], props: list[Any], si: Sainfo,
                     msg_id: int) -> tuple[ChildProposal, Any, Any, bytes | None] | None:
        """The ESP proposal of a CREATE_CHILD_SA request for a CHILD SA under
        ``si``, and its DH exchange (PFS: the peer's KE against ``si``'s
        ``pfs_group``): (ours, the peer's proposal, our DH, g^ir), or None
        once refused."""
        cp = self._match_child(props, si.child)
        chosen = next((pr for pr in props if self._match_child([pr], [cp]) == cp), None) \
            if cp is not None else None
        if cp is None or chosen is None:
            self._ccsa_refuse(sa, msg_id, pl.N_NO_PROPOSAL_CHOSEN,
                              f"none of the peer's ESP proposals is in {si.name()}")
            return None
        groups = [t[1] for t in chosen[3] if t[0] == pl.T_DH and t[1]]
        gir = None
        dh = None
        if pl.PT_KE in by:
            group, kex = pl.ke_parse(by[pl.PT_KE])
            want = si.pfs_group or (groups[0] if groups else 0)
            if group not in groups or (si.pfs_group and group != si.pfs_group):
                if want and want in groups:
                    self._ccsa_refuse(sa, msg_id, pl.N_INVALID_KE_PAYLOAD,
                                      f"KE of DH group {group}, we want {want}",
                                      struct.pack(">H", want))
                else:
                    self._ccsa_refuse(sa, msg_id, pl.N_NO_PROPOSAL_CHOSEN,
                                      f"KE of DH group {group} not in its proposal")
                return None
            try:
                dh = _core.IkeDh(group)
                gir = bytes(dh.shared(kex))
            except (KameError, ValueError) as e:
                self._ccsa_refuse(sa, msg_id, pl.N_INVALID_SYNTAX, f"bad KE ({e})")
                return None
        elif si.pfs_group:
            self._ccsa_refuse(sa, msg_id, pl.N_NO_PROPOSAL_CHOSEN,
                              f"no KE, and {si.name()} wants PFS (DH group {si.pfs_group})")
            return None
        return cp, chosen, dh, gir

    @staticmethod
    def _ccsa_keymat(sa: IkeSa, cp: ChildProposal, ni: bytes, nr: bytes,
                     gir: bytes | None) -> bytes:
        """KEYMAT of a CHILD SA made by CREATE_CHILD_SA (RFC 7296 §2.17)."""
        assert sa.prop is not None
        return bytes(_core.ike_child_keymat(sa.prop.prf, sa.keys["sk_d"], ni, nr,
                                            2 * sum(cp.keylens()), gir))

    @staticmethod
    def _ccsa_answer(ch: Child, cp: ChildProposal, chosen: Any, spi_in: int, nr: bytes,
                     dh: Any, lts: Network, rts: Network) -> list[tuple[int, bool, bytes]]:
        """The payloads of our CREATE_CHILD_SA answer for a CHILD SA."""
        trs = cp.transforms()
        if dh is not None:
            trs.insert(len(trs) - 1, (pl.T_DH, dh.group, None))
        pls = [*_transport_n(ch),
               (pl.PT_SA, False, _core.ike_build_sa(
                   [(chosen[0], pl.PROTO_ESP, struct.pack(">I", spi_in), trs)])),
               (pl.PT_NONCE, False, nr)]
        if dh is not None:
            pls.append((pl.PT_KE, False, pl.ke_body(dh.group, dh.public)))
        return pls + [(pl.PT_TSI, False, _core.ike_build_ts([_ts_tuple(rts)])),
                      (pl.PT_TSR, False, _core.ike_build_ts([_ts_tuple(lts)]))]

    def _new_child_request(self, sa: IkeSa, by: dict[int, bytes], props: list[Any], ni: bytes,
                           transport: bool, msg_id: int, now: float) -> None:
        """A new CHILD SA the peer opens on the IKE SA (RFC 7296 §1.3.1): the
        sainfo for its TSi/TSr (narrowed as in IKE_AUTH), its proposals and
        PFS; refused with NO_ADDITIONAL_SAS past :attr:`MAX_CHILDREN`, else
        TS_UNACCEPTABLE or NO_PROPOSAL_CHOSEN; the IKE SA and its other
        CHILD SAs stay either way."""
        p = sa.peer
        if sa.child_count() >= self.MAX_CHILDREN:
            self.inc("ike_child_toomany")
            self._ccsa_refuse(sa, msg_id, pl.N_NO_ADDITIONAL_SAS,
                              f"{self.MAX_CHILDREN} CHILD SAs on the IKE SA already")
            return
        tsi = _core.ike_parse_ts(by[pl.PT_TSI]) if pl.PT_TSI in by else []
        tsr = _core.ike_parse_ts(by[pl.PT_TSR]) if pl.PT_TSR in by else []
        got = self._sainfo_for_ts(p, tsi, tsr)
        if got is None:
            self.inc("ike_nosainfo")
            self._ccsa_refuse(sa, msg_id, pl.N_TS_UNACCEPTABLE,
                              f"new CHILD SA: no sainfo for the peer's selectors "
                              f"{_ts_text(tsr)} <-> {_ts_text(tsi)}")
            return
        ch = Child(p)
        ch.use_sainfo(*got)
        chose = self._ccsa_choose(sa, by, props, ch.si, msg_id)
        if chose is None:
            return
        cp, chosen, dh, gir = chose
        lts, rts = ch.ts
        ours = self._policy_mode(p)
        ch.mode = "transport" if transport and ours == "transport" else "tunnel"
        ch.reqid = self._policy_reqid(lts, rts)
        nr = _core.ike_random(32)
        try:
            ch.child_spi_in = self._getspi(sa, now, ch)
        except KameError as e:
            self._ccsa_refuse(sa, msg_id, pl.N_TEMPORARY_FAILURE, f"new CHILD SA: {e}")
            return
        ch.child_spi_out = int.from_bytes(chosen[2], "big")
        ch.child_prop = cp
        keymat = self._ccsa_keymat(sa, cp, ni, nr, gir)
        self._respond(sa, msg_id, self._sealed(sa, pl.CREATE_CHILD_SA, msg_id, True,
                                               self._ccsa_answer(ch, cp, chosen,
                                                                 ch.child_spi_in, nr, dh,
                                                                 lts, rts)))
        sa.children.append(ch)
        self._install(sa, keymat, now, initiator=False, ch=ch)
        self.inc("ike_child_new_in")
        self._say(f"{p.address} opened a CHILD SA {lts} <-> {rts} under {ch.si.name()}: esp "
                  f"in 0x{ch.child_spi_in:08x} out 0x{ch.child_spi_out:08x}"
                  + (f" (PFS, DH group {dh.group})" if dh else ""))

    def _ike_rekey_request(self, sa: IkeSa, by: dict[int, bytes], props: list[Any],
                           ni: bytes, msg_id: int, now: float) -> None:
        prop = self._match_ike(props)
        chosen = next((pr for pr in props if self._match_ike([pr]) == prop), None)
        if prop is None or chosen is None or len(chosen[2]) != 8:
            self._ccsa_refuse(sa, msg_id, pl.N_NO_PROPOSAL_CHOSEN,
                              "none of the peer's IKE proposals is acceptable")
            return
        if pl.PT_KE not in by:
            self._ccsa_refuse(sa, msg_id, pl.N_INVALID_SYNTAX, "IKE SA rekey without KE")
            return
        group, kex = pl.ke_parse(by[pl.PT_KE])
        if group != prop.dh:
            self._ccsa_refuse(sa, msg_id, pl.N_INVALID_KE_PAYLOAD,
                              f"KE of DH group {group}, we want {prop.dh}",
                              struct.pack(">H", prop.dh))
            return
        dh = _core.IkeDh(prop.dh)
        try:
            gir = bytes(dh.shared(kex))
        except (KameError, ValueError) as e:
            self._ccsa_refuse(sa, msg_id, pl.N_INVALID_SYNTAX, f"bad KE ({e})")
            return
        nr = _core.ike_random(32)
        spi_r = _core.ike_random(8)
        pls = [(pl.PT_SA, False, _core.ike_build_sa(
                   [(chosen[0], pl.PROTO_IKE, spi_r, prop.transforms())])),
               (pl.PT_NONCE, False, nr),
               (pl.PT_KE, False, pl.ke_body(dh.group, dh.public))]
        self._respond(sa, msg_id, self._sealed(sa, pl.CREATE_CHILD_SA, msg_id, True, pls))
        new = self._new_ike_sa(sa, False, bytes(chosen[2]), spi_r, prop, ni, nr, gir, now)
        self._move_children(sa, new)
        if sa.rekey is not None:
            sa.peer_rekey = {"kind": "ike", "nonces": (ni, nr), "sa": new}
        # the initiator deletes the old IKE SA; until then it only answers
        sa.rekey_at = None
        self.inc("ike_ike_rekey_in")
        self._say(f"{sa.peer.address} rekeyed the IKE SA: {new.spi_i.hex()}:"
                  f"{new.spi_r.hex()} replaces {sa.spi_i.hex()}:{sa.spi_r.hex()}")
        if sa.rekey is None:
            self._start_wanted(new, now)  # ACQUIREs that waited: on the new IKE SA

    def _ccsa_response(self, sa: IkeSa, inner: list[Any], now: float) -> None:
        """Our CREATE_CHILD_SA answered."""
        ours, sa.rekey = sa.rekey, None
        if ours is None:
            return
        by = {t: b for t, _c, b in inner}
        ch: Child | None = ours.get("child")
        for n in (Notify.unpack(b) for t, _c, b in inner if t == pl.PT_N):
            if n.type >= 16384:
                continue
            if ours["kind"] == "child":
                self._delete_pair(sa, ours["spi_in"], 0, now)
            elif ours["kind"] == "new" and ch is not None:
                self._drop_child(sa, ch, now)
            sa.peer_rekey = None
            what = {"child": "CHILD SA rekey", "ike": "IKE SA rekey"}.get(
                ours["kind"], "new CHILD SA")
            if n.type == pl.N_INVALID_KE_PAYLOAD and ch is not None and len(n.data) >= 2:
                g = struct.unpack(">H", n.data[:2])[0]
                if ours["dh"] is not None and g != ours["dh"].group:
                    self._say(f"{sa.peer.address} asks for DH group {g} in the {what}")
                    if ours["kind"] == "child":
                        self.rekey_child(sa, now, group=g, ch=ch)
                    else:
                        self.create_child(sa, (ch.sainfo, *ch.ts), now, reqid=ch.reqid,
                                          mode=ch.mode, group=g)
                    return
            if n.type == pl.N_TEMPORARY_FAILURE:
                # again in 1 to 3 s (RFC 7296 §2.25: the peer's own exchange
                # should be over by then); a CHILD SA near its hard lifetime
                # gets a third of what it has left at most
                wait = 1.0 + 2.0 * _jitter()
                if ours["kind"] == "child" and ch is not None:
                    if ch.child_hard_at is not None:
                        wait = min(wait, max(0.1, (ch.child_hard_at - now) / 3))
                    ch.child_retry_at = now + wait
                elif ours["kind"] == "new" and ch is not None:
                    sa.wanted.insert(0, (ch.sainfo, *ch.ts, ch.reqid, ch.mode))
                    sa.wanted_at = now + wait
                else:
                    sa.retry_at, sa.retry_kind = now + wait, "ike"
                self._say(f"{sa.peer.address}: {what}: TEMPORARY_FAILURE, again in a moment")
                return
            if ours["kind"] == "new":
                self.inc("ike_child_new_refused")
            self._say(f"{what} refused by {sa.peer.address}: {pl.notify_name(n.type)}")
            self._start_wanted(sa, now)
            return
        if ours["kind"] == "ike":
            self._ike_rekey_response(sa, ours, by, now)
            return
        if ours["kind"] == "new":
            self._new_child_response(sa, ours, inner, by, now)
        else:
            self._child_rekey_response(sa, ours, by, now)
        self._start_wanted(sa, now)

    def _new_child_response(self, sa: IkeSa, ours: dict[str, Any], inner: list[Any],
                            by: dict[int, bytes], now: float) -> None:
        """The answer to our new CHILD SA: its proposal, nonce, KE (PFS) and
        selectors (the peer may narrow ours, RFC 7296 §2.9); the pair goes
        in, or it is deleted at the peer when we cannot take it."""
        ch: Child = ours["child"]
        props = _core.ike_parse_sa(by[pl.PT_SA]) if pl.PT_SA in by else []
        cp = self._match_child(props[:1], ch.si.child) if len(props) == 1 else None
        nr = by.get(pl.PT_NONCE, b"")
        lts, rts = ch.ts
        if cp is None or len(props[0][2]) != 4 or not 16 <= len(nr) <= 256:
            self._drop_child(sa, ch, now)
            self.inc("ike_child_new_refused")
            self._say(f"new CHILD SA: {sa.peer.address} answered with no acceptable SA or "
                      f"nonce")
            return
        spi_out = int.from_bytes(props[0][2], "big")
        gir = None
        why = ""
        if ours["dh"] is not None:
            group, kex = pl.ke_parse(by.get(pl.PT_KE, b"\0\0\0\0"))
            if group != ours["dh"].group or pl.PT_KE not in by:
                why = f"its KE is not of group {ours['dh'].group}"
            else:
                gir = bytes(ours["dh"].shared(kex))
        tsi = _ts_nets(_core.ike_parse_ts(by[pl.PT_TSI])) if pl.PT_TSI in by else []
        tsr = _ts_nets(_core.ike_parse_ts(by[pl.PT_TSR])) if pl.PT_TSR in by else []
        if not why and not (tsi and tsr and tsi[0].version == lts.version
                            and tsr[0].version == rts.version
                            and tsi[0].subnet_of(lts) and tsr[0].subnet_of(rts)):  # type: ignore[arg-type]
            why = (f"its selectors {', '.join(str(n) for n in tsi + tsr) or 'none'} are not "
                   f"within {lts} <-> {rts}")
        if not why and ch.mode == "transport" and not _carries(inner, pl.N_USE_TRANSPORT_MODE):
            why = "no USE_TRANSPORT_MODE (our policy asks for transport)"
        if why:
            # the peer has the pair: delete it there (its outbound is our SPI)
            self.inc("ike_child_new_refused")
            self._say(f"new CHILD SA {lts} <-> {rts}: {sa.peer.address}'s answer: {why}; "
                      f"deleting it")
            spi_in = ch.child_spi_in
            self._drop_child(sa, ch, now)
            self._delete_child_request(sa, spi_in, now)
            return
        ch.use_sainfo(ch.sainfo, tsi[0], tsr[0])
        ch.child_prop, ch.child_spi_out = cp, spi_out
        self._install(sa, self._ccsa_keymat(sa, cp, ours["ni"], nr, gir), now, initiator=True,
                      ch=ch)
        self.inc("ike_child_new")
        self._say(f"CHILD SA {tsi[0]} <-> {tsr[0]} with {sa.peer.address} established: esp in "
                  f"0x{ch.child_spi_in:08x} out 0x{spi_out:08x}" + (" (PFS)" if gir else "")
                  + f"; {sa.child_count()} on the IKE SA")

    def _child_rekey_response(self, sa: IkeSa, ours: dict[str, Any], by: dict[int, bytes],
                              now: float) -> None:
        assert sa.prop is not None
        ch: Child = ours["child"]
        props = _core.ike_parse_sa(by[pl.PT_SA]) if pl.PT_SA in by else []
        cp = self._match_child(props[:1], ch.si.child) if len(props) == 1 else None
        nr = by.get(pl.PT_NONCE, b"")
        if cp is None or len(props[0][2]) != 4 or not 16 <= len(nr) <= 256:
            self._delete_pair(sa, ours["spi_in"], 0, now)
            self._say(f"CHILD SA rekey: {sa.peer.address} answered with no acceptable SA "
                      f"or nonce")
            return
        gir = None
        if ours["dh"] is not None:
            group, kex = pl.ke_parse(by.get(pl.PT_KE, b"\0\0\0\0"))
            if group != ours["dh"].group or pl.PT_KE not in by:
                self._delete_pair(sa, ours["spi_in"], 0, now)
                self._say(f"CHILD SA rekey: {sa.peer.address}'s KE is not of group "
                          f"{ours['dh'].group}")
                return
            gir = bytes(ours["dh"].shared(kex))
        spi_in, spi_out = ours["spi_in"], int.from_bytes(props[0][2], "big")
        if not ch.installed:
            # the CHILD SA was deleted while its rekey was under way: so is the new pair
            self._delete_pair(sa, spi_in, 0, now)
            self._delete_child_request(sa, spi_in, now)
            return
        keymat = self._ccsa_keymat(sa, cp, ours["ni"], nr, gir)
        self._install(sa, keymat, now, spi_in=spi_in, spi_out=spi_out, cp=cp,
                      initiator=True, ch=ch)
        old = ours["old"]
        theirs, sa.peer_rekey = sa.peer_rekey, None
        self.inc("ike_child_rekeyed")
        if theirs is not None and theirs["kind"] == "child":
            # §2.8.1: both rekeyed the same CHILD SA; the exchange with the
            # lowest of the four nonces made the redundant pair, and whoever
            # started that exchange deletes it (the other one deletes the old)
            if min(ours["ni"], nr) < min(theirs["nonces"]):
                self.inc("ike_rekey_collision_lost")
                self._say(f"CHILD SA rekey collision with {sa.peer.address}: ours lost, "
                          f"deleting esp in 0x{spi_in:08x}")
                sa.old_children.append((spi_in, spi_out))
                self._delete_child_request(sa, spi_in, now)
                return
            self.inc("ike_rekey_collision_won")
            self._say(f"CHILD SA rekey collision with {sa.peer.address}: ours won")
            sa.old_children.append(theirs["pair"])  # the peer deletes it
        elif (ch.child_spi_in, ch.child_spi_out) == old:
            sa.old_children.append(old)
        ch.child_prop, ch.child_spi_in, ch.child_spi_out = cp, spi_in, spi_out
        ch.installed = True
        self._say(f"CHILD SA {ch.ts[0]} <-> {ch.ts[1]} with {sa.peer.address} rekeyed: esp in "
                  f"0x{spi_in:08x} out 0x{spi_out:08x}" + (" (PFS)" if gir else "")
                  + f"; deleting in 0x{old[0]:08x}")
        self._delete_child_request(sa, old[0], now)

    def _delete_child_request(self, sa: IkeSa, spi_in: int, now: float) -> None:
        self._req(sa, pl.INFORMATIONAL, [(pl.PT_D, False, Delete(
            pl.PROTO_ESP, (struct.pack(">I", spi_in),)).pack())], now, {"child_delete": spi_in})

    def _ike_rekey_response(self, sa: IkeSa, ours: dict[str, Any], by: dict[int, bytes],
                            now: float) -> None:
        assert sa.prop is not None
        props = _core.ike_parse_sa(by[pl.PT_SA]) if pl.PT_SA in by else []
        prop = self._match_ike(props[:1]) if len(props) == 1 else None
        nr = by.get(pl.PT_NONCE, b"")
        if (prop is None or len(props[0][2]) != 8 or pl.PT_KE not in by
                or not 16 <= len(nr) <= 256):
            self._say(f"IKE SA rekey: {sa.peer.address} answered with no acceptable SA, "
                      f"nonce or KE")
            return
        group, kex = pl.ke_parse(by[pl.PT_KE])
        if group != ours["dh"].group:
            self._say(f"IKE SA rekey: {sa.peer.address}'s KE is not of group "
                      f"{ours['dh'].group}")
            return
        gir = bytes(ours["dh"].shared(kex))
        new = self._new_ike_sa(sa, True, ours["spi"], bytes(props[0][2]), prop, ours["ni"], nr,
                               gir, now)
        theirs, sa.peer_rekey = sa.peer_rekey, None
        self.inc("ike_ike_rekeyed")
        if theirs is not None and theirs["kind"] == "ike":
            other: IkeSa = theirs["sa"]
            if min(ours["ni"], nr) < min(theirs["nonces"]):
                # ours is redundant: the children stay on the peer's new SA,
                # ours goes, and the peer deletes the old one
                self._say(f"IKE SA rekey collision with {sa.peer.address}: ours lost, "
                          f"deleting {new.spi_i.hex()}:{new.spi_r.hex()}")
                self.delete(new, now)
                return
            self._say(f"IKE SA rekey collision with {sa.peer.address}: ours won")
            self._move_children(other, new)
        else:
            self._move_children(sa, new)
        new.queue, sa.queue = sa.queue, []
        self._say(f"IKE SA with {sa.peer.address} rekeyed: {new.spi_i.hex()}:"
                  f"{new.spi_r.hex()} replaces {sa.spi_i.hex()}:{sa.spi_r.hex()}")
        self.delete(sa, now)
        self._start_wanted(new, now)  # ACQUIREs that waited: on the new IKE SA

    def _expire(self, m: P.SadbMsg, now: float) -> None:
        """SADB_EXPIRE from the key engine: a soft one rekeys the CHILD SA
        whose SA it is, a hard one deletes it (the key engine has removed it
        already); the IKE SA's other CHILD SAs are not touched."""
        s = m.get(P.SADB_EXT_SA)
        if s is None:
            return
        spi = s.spi
        hard = m.get(P.SADB_EXT_LIFETIME_HARD) is not None
        for sa in list(self.sas.values()):
            if sa.state != "ESTABLISHED":
                continue
            old = next((x for x in sa.old_children if spi in x), None)
            if old is not None and hard:
                # an old pair whose delete never came: gone now, and the new
                # outbound SA that waited for it goes in
                self._old_pair_gone(sa, old, now)
                return
            ch = next((c for c in sa.all_children()
                       if spi in (c.child_spi_in, c.child_spi_out) and c.installed), None)
            if ch is None:
                continue
            if hard:
                self._say(f"CHILD SA esp 0x{spi:08x} with {sa.peer.address}: hard "
                          f"lifetime over, deleting it")
                self.inc("ike_child_expired")
                spi_in = ch.child_spi_in
                self._drop_child(sa, ch, now)
                self._delete_child_request(sa, spi_in, now)
            elif sa.rekey is None and sa.peer_rekey is None:
                self._say(f"CHILD SA esp 0x{spi:08x} with {sa.peer.address}: soft "
                          f"lifetime over")
                if not self.rekey_child(sa, now, ch=ch):
                    ch.child_retry_at = now + 1.0
            else:
                ch.child_retry_at = now + 1.0  # the window is busy: in a moment
            return

    def _old_pair_gone(self, sa: IkeSa, old: tuple[int, int], now: float) -> None:
        """A rekeyed pair is deleted (by the peer, by us, or by its hard
        lifetime); the outbound SA of the pair that replaced it goes in."""
        if old in sa.old_children:
            sa.old_children.remove(old)
        self._delete_pair(sa, *old, now)
        new_in = sa.successor.pop(old[0], None)
        later = sa.out_later.pop(new_in, None) if new_in is not None else None
        if later is not None:
            later(now)

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
                continue
            if d.protocol != pl.PROTO_ESP:
                continue
            for spi_b in d.spis:
                spi = int.from_bytes(spi_b, "big")
                old = next((x for x in sa.old_children if x[1] == spi), None)
                ch = sa.child_by(spi_out=spi) if spi else None
                if old is not None:
                    # the old pair of a rekey: gone, and the new outbound SA
                    # that waited for that goes in
                    self._old_pair_gone(sa, old, now)
                    reply.append((pl.PT_D, False,
                                  Delete(pl.PROTO_ESP, (struct.pack(">I", old[0]),)).pack()))
                elif ch is not None and ch.child_spi_in:
                    reply.append((pl.PT_D, False, Delete(
                        pl.PROTO_ESP, (struct.pack(">I", ch.child_spi_in),)).pack()))
                    lts, rts = ch.ts
                    self._drop_child(sa, ch, now)
                    self.inc("ike_child_deleted_in")
                    self._say(f"{sa.peer.address} deleted the CHILD SA {lts} <-> {rts}; "
                              f"{sa.child_count()} left on the IKE SA")
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
            ctx, sa.pending_ctx = sa.pending_ctx, {}
            if kind == pl.IKE_AUTH:
                self._auth_response(sa, inner, now)
            elif kind == pl.INFORMATIONAL and sa.state == "DELETING":
                self._say(f"{sa.peer.address} confirmed the delete")
                self._kill(sa, now)
            elif kind == pl.CREATE_CHILD_SA and sa.state == "ESTABLISHED":
                self._ccsa_response(sa, inner, now)
            elif kind == pl.INFORMATIONAL and "child_delete" in ctx:
                gone = [x for x in sa.old_children if x[0] == ctx["child_delete"]]
                for pair in gone:
                    sa.old_children.remove(pair)
                    self._delete_pair(sa, *pair, now)
            self._next_queued(sa, now)
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
        elif exch in (pl.INFORMATIONAL, pl.CREATE_CHILD_SA) and \
                sa.state in ("ESTABLISHED", "DELETING"):
            try:
                if exch == pl.INFORMATIONAL:
                    self._informational(sa, inner, msg_id, now)
                elif sa.state == "DELETING":
                    self._ccsa_refuse(sa, msg_id, pl.N_TEMPORARY_FAILURE, "the IKE SA is going")
                else:
                    self._ccsa_request(sa, inner, msg_id, now)
            except (KameError, ValueError) as e:
                # authenticated but not well formed: answered (RFC 7296 §2.21.1),
                # so that the message IDs stay in step
                self.inc("ike_badmsg")
                self._say(f"{pl.EXCHANGE_NAMES[exch]} from {src}: {e}: answering "
                          f"INVALID_SYNTAX")
                self._respond(sa, msg_id, self._sealed(sa, exch, msg_id, True, [
                    (pl.PT_N, False, Notify(pl.N_INVALID_SYNTAX).pack())]))
        else:
            self.inc("ike_unexpected")

    # --- timers -------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        ds = [t for s in self.sas.values()
              for t in (s.deadline, s.rekey_at, s.expire_at, s.retry_at,
                        s.wanted_at if s.wanted else None,
                        *(c.child_retry_at for c in s.all_children())) if t is not None]
        return min(ds) if ds else None

    def timehandler(self, now: float) -> None:
        self._drain_pfkey(now)
        for sa in list(self.sas.values()):
            if sa.state != "ESTABLISHED":
                continue
            if sa.expire_at is not None and now >= sa.expire_at:
                self._say(f"IKE SA with {sa.peer.address}: lifetime over, deleting it")
                self.inc("ike_expired")
                self.delete(sa, now)
            elif sa.rekey_at is not None and now >= sa.rekey_at:
                ok = sa.rekey is None and sa.peer_rekey is None and self.rekey_ike(sa, now)
                sa.rekey_at = None if ok else now + 1.0
            elif sa.retry_at is not None and now >= sa.retry_at and sa.rekey is None:
                sa.retry_at = None
                self.rekey_ike(sa, now)
            if sa.state != "ESTABLISHED":
                continue
            for ch in sa.all_children():
                if (ch.child_retry_at is not None and now >= ch.child_retry_at
                        and sa.rekey is None):
                    ch.child_retry_at = None
                    self.rekey_child(sa, now, ch=ch)
            self._start_wanted(sa, now)
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


def _carries(inner: list[Any], note: int) -> bool:
    """Whether the payload chain ``inner`` holds a Notify of type ``note``."""
    return any(t == pl.PT_N and Notify.unpack(b).type == note for t, _c, b in inner)


def _transport_n(sa: Child) -> list[tuple[int, bool, bytes]]:
    """The USE_TRANSPORT_MODE notify an exchange creating a CHILD SA of a
    transport-mode IKE SA carries (RFC 7296 §1.3.1), else nothing."""
    if sa.mode != "transport":
        return []
    return [(pl.PT_N, False, Notify(pl.N_USE_TRANSPORT_MODE).pack())]

