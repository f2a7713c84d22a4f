"""What the IKEv2 and IKEv1 daemons share (racoon's ``pfkey.c`` and
``isakmp.c`` plumbing around the two protocols): the log and the counters,
the remotes, the key engine over PF_KEY (SADB_REGISTER, the queue of
SADB_ACQUIRE/SADB_EXPIRE messages, SADB_GETSPI, SADB_UPDATE/SADB_ADD and
SADB_DELETE), and the reading of an ACQUIRE: which remote, which policy
selectors, which ``sainfo``.

:class:`KeyDaemon` is the base of :class:`kame.ike.ikev2.Ike` and
:class:`kame.ike.ikev1.Ikev1`; each adds its exchanges.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from kame import _core
from kame.errors import KameError
from kame.key import pfkey as P

if TYPE_CHECKING:
    from kame.ike.ikev2 import ChildProposal, Network, Peer, Sainfo

__all__ = ["ESP_ENCR", "ESP_INTEG", "IKE_PORT", "NATT_PORT", "KeyDaemon"]

IKE_PORT, NATT_PORT = 500, 4500
#: ESP algorithm names (setkey) for the IKEv2 transform ids (IKEv1 maps its own to these)
ESP_ENCR = {12: "aes-cbc", 20: "aes-gcm-16"}
ESP_INTEG = {2: "hmac-sha1", 12: "hmac-sha256-128", 13: "hmac-sha384-192",
             14: "hmac-sha512-256"}


class KeyDaemon:
    """The daemon half both IKE versions share; see the module docstring.

    ``peers`` are the remotes this daemon speaks to, ``engine`` the key
    engine (None: negotiate only, for tests), ``log`` a function that gets
    every log line as well, ``others`` the remotes the daemon of the other
    IKE version serves on the same key engine (their ACQUIREs are left to
    it without a word)."""

    #: leave the word on ACQUIREs for no remote at all to the other daemon
    #: when there is one (only one of the two says it)
    DEFERS_UNKNOWN = False
    #: the key engine's SADB_ACQUIRE/SADB_EXPIRE messages waiting for timehandler
    MAX_QUEUED = 64

    def __init__(self, peers: Iterable[Any], engine: Any = None, *,
                 log: Callable[[str], None] | None = None, others: Iterable[Any] = (),
                 register: bool = True) -> None:
        self.peers: list[Any] = list(peers)
        self.engine = engine
        self.others = {p.address for p in others}
        self.out: list[tuple[bytes, Any, int, int]] = []
        self.log: list[str] = []
        self._logfn = log
        self.stats: dict[str, int] = {}
        self._seq = 0
        self._acquires: list[bytes] = []
        if engine is not None and register:
            m = P.SadbMsg(P.SADB_REGISTER, P.SADB_SATYPE_ESP, seq=self._nextseq())
            engine.send(m.pack(), 0.0)
            engine.listeners.append(self._pfkey_event)

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

    def _peer_for(self, addr: Any) -> Any:
        return next((p for p in self.peers if p.address == addr), None)

    # --- PF_KEY ------------------------------------------------------------------------

    def _pfkey_event(self, buf: bytes) -> None:
        if len(self._acquires) < self.MAX_QUEUED:
            self._acquires.append(buf)

    def _drain_pfkey(self, now: float) -> None:
        """Hand the queued key-engine messages to the protocol: SADB_EXPIRE
        to ``_expire``, the rest (SADB_ACQUIRE) to ``acquire``."""
        sub: Any = self
        while self._acquires:
            buf = self._acquires.pop(0)
            if len(buf) > 1 and buf[1] == P.SADB_EXPIRE:
                try:
                    sub._expire(P.decode(buf), now)
                except KameError:
                    self.inc("pfkey_bad")
            else:
                sub.acquire(buf, now)

    def _engine(self, msg: P.SadbMsg, now: float) -> P.SadbMsg | None:
        """Send one message to the key engine; its answer, None if refused."""
        if self.engine is None:
            return None
        reply = P.decode(self.engine.send(msg.pack(), now)[0])
        if reply.errno:
            self._say(f"key engine refused {P.MSG_TYPES.get(msg.type, msg.type)}: "
                      f"errno {reply.errno}")
            return None
        return reply

    def _acquire_of(self, buf: bytes) -> tuple[P.SadbMsg, Any] | None:
        """An SADB_ACQUIRE and the remote of ours it names, else None: not an
        ACQUIRE, another daemon's remote (counted), or no remote at all
        (logged, by one of the two daemons)."""
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
            if dst is not None and dst.addr in self.others:
                self.inc("pfkey_acquire_other")  # the other IKE version's remote
            elif not (self.DEFERS_UNKNOWN and self.others):
                self._say(f"ACQUIRE for {dst.addr if dst else '?'}: no remote configured")
            return None
        return m, peer

    def _acquire_sainfo(self, m: P.SadbMsg, peer: Peer
                        ) -> tuple[Sainfo | None, Network, Network] | None:
        """racoon's ``getsainfo`` for an ACQUIRE: the selectors of the policy
        it names (its SADB_X_EXT_POLICY, looked up in the key engine's SPD),
        ours first, and the sainfo for them; without a policy, the remote's
        first sainfo. None (logged, counted) when no sainfo takes them."""
        xp = m.get(P.SADB_X_EXT_POLICY)
        spd = getattr(self.engine, "spd", None)
        sp = spd.get_id(xp.id) if xp is not None and xp.id and spd is not None else None
        if sp is None:
            return peer.first_sainfo()
        sel = (sp.selector.src, sp.selector.dst)
        si = peer.sainfo_for(*sel)
        if peer.sainfos and si is None:
            self.inc("ike_nosainfo")
            self._say(f"ACQUIRE for {peer.address}: no sainfo for {sel[0]} <-> {sel[1]}")
            return None
        return (si if peer.sainfos else None, *sel)

    def _policy_reqid(self, local: Network, remote: Network) -> int:
        """The reqid of our outbound policy for ``local`` -> ``remote``
        (setkey's ``unique:N``), else 0: the SAs of a CHILD SA a peer
        opens carry it, so that each selector pair's policy takes its own."""
        if self.engine is None:
            return 0
        sp = self.engine.spd.lookup("out", local.network_address, remote.network_address, 255)
        for r in sp.requests if sp is not None and sp.action == "ipsec" else ():
            if r.proto == "esp" and r.level == "unique":
                return int(r.reqid)
        return 0

    def _pfkey_getspi(self, peer: Peer, mode: str, reqid: int, now: float) -> int:
        """SADB_GETSPI for an inbound SA from ``peer`` (a larval SA in the
        key engine); without an engine, a random SPI."""
        if self.engine is None:
            return int.from_bytes(_core.ike_random(4), "big") | 0x100
        m = P.SadbMsg(P.SADB_GETSPI, P.SADB_SATYPE_ESP, seq=self._nextseq())
        m.add(P.SadbXSa2(P.MODES[mode], 0, reqid))
        m.add(P.SadbAddress(P.SADB_EXT_ADDRESS_SRC, peer.address,
                            peer.address.max_prefixlen, 255))
        m.add(P.SadbAddress(P.SADB_EXT_ADDRESS_DST, peer.local_address,
                            peer.local_address.max_prefixlen, 255))
        r = self._engine(m, now)
        if r is None:
            raise KameError("SADB_GETSPI failed", layer="ike")
        return int(r.get(P.SADB_EXT_SA).spi)

    def _add_sa(self, typ: int, spi: int, src: Any, dst: Any, cp: ChildProposal,
                keys: tuple[bytes, bytes], *, mode: str, reqid: int, life: int, soft: int,
                natt_dport: int | None, now: float) -> None:
        """SADB_UPDATE (the larval inbound SA) or SADB_ADD (the outbound one)
        of one ESP SA with its keys and lifetimes; ``natt_dport``: RFC 3948
        UDP encapsulation from our port 4500 to that port of the peer."""
        e, a = keys
        m = P.SadbMsg(typ, P.SADB_SATYPE_ESP, seq=self._nextseq())
        m.add(P.SadbSa(spi, 4, 1, P.AALG[ESP_INTEG[cp.integ]] if cp.integ else 0,
                       P.EALG[ESP_ENCR[cp.encr]]))
        m.add(P.SadbXSa2(P.MODES[mode], 0, reqid))
        m.add(P.SadbAddress(P.SADB_EXT_ADDRESS_SRC, src, src.max_prefixlen, 255))
        m.add(P.SadbAddress(P.SADB_EXT_ADDRESS_DST, dst, dst.max_prefixlen, 255))
        m.add(P.SadbKey(P.SADB_EXT_KEY_ENCRYPT, e))
        if a:
            m.add(P.SadbKey(P.SADB_EXT_KEY_AUTH, a))
        if life:
            m.add(P.SadbLifetime(P.SADB_EXT_LIFETIME_HARD, 0, 0, life, 0))
        if soft:
            m.add(P.SadbLifetime(P.SADB_EXT_LIFETIME_SOFT, 0, 0, soft, 0))
        if natt_dport is not None:
            m.add(P.SadbXNatT(P.SADB_X_EXT_NAT_T_TYPE, P.UDP_ENCAP_ESPINUDP))
            m.add(P.SadbXNatT(P.SADB_X_EXT_NAT_T_SPORT, NATT_PORT))
            m.add(P.SadbXNatT(P.SADB_X_EXT_NAT_T_DPORT, natt_dport))
        self._engine(m, now)

    def _delete_sa(self, spi: int, src: Any, dst: Any, now: float) -> None:
        """SADB_DELETE one ESP SA, unless the key engine has it no more (a
        hard expiry took it already)."""
        if self.engine is None or not spi:
            return
        sad = getattr(self.engine, "sad", None)
        if sad is not None and sad.get(dst, "esp", spi) is None:
            return
        m = P.SadbMsg(P.SADB_DELETE, P.SADB_SATYPE_ESP, seq=self._nextseq())
        m.add(P.SadbSa(spi))
        m.add(P.SadbAddress(P.SADB_EXT_ADDRESS_SRC, src, src.max_prefixlen, 255))
        m.add(P.SadbAddress(P.SADB_EXT_ADDRESS_DST, dst, dst.max_prefixlen, 255))
        self._engine(m, now)
