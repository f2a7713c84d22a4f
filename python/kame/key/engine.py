"""The key engine (KAME ``netkey/key.c`` ``key_parse``): PF_KEY v2 messages
in, replies out, over one SAD and one SPD.

``KeyEngine.send(buf, now)`` takes one encoded message (what setkey writes
to its PF_KEY socket) and returns the encoded replies (what it reads back:
one reply, or for DUMP/SPDDUMP one message per entry with ``sadb_msg_seq``
counting down to 0). Errors come back as a reply carrying
``sadb_msg_errno``, as RFC 2367 §1.8 specifies. Registered listeners get
ACQUIRE and EXPIRE messages (``SADB_REGISTER``).
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Mapping
from ipaddress import ip_network
from typing import Any

from kame.key import pfkey as P
from kame.key.sad import (
    Acquire,
    Expire,
    KeyEngineError,
    Lifetime,
    Sad,
    SaState,
    SecAsVar,
)
from kame.key.spd import IpsecRequest, SecPolicy, Selector, Spd

__all__ = ["SATYPE_NAMES", "KeyEngine", "policy_to_ext", "sa_to_msg"]

SATYPE_NAMES = {P.SADB_SATYPE_AH: "ah", P.SADB_SATYPE_ESP: "esp", P.SADB_X_SATYPE_IPCOMP: "ipcomp"}
SATYPES = {v: k for k, v in SATYPE_NAMES.items()}
PROTO_OF = {"esp": 50, "ah": 51, "ipcomp": 108}
PROTO_NAME = {v: k for k, v in PROTO_OF.items()}
MODE_NAMES = {v: k for k, v in P.MODES.items()}
DIR_NAMES = {1: "in", 2: "out"}
POLICY_NAMES = {v: k for k, v in P.IPSEC_POLICY.items()}
LEVEL_NAMES = {v: k for k, v in P.IPSEC_LEVEL.items()}


def _lt(sa_lt: Lifetime, t: int) -> P.SadbLifetime:
    return P.SadbLifetime(t, sa_lt.allocations, sa_lt.bytes, sa_lt.addtime, sa_lt.usetime)


def sa_to_msg(sa: SecAsVar, typ: int, now: float, *, seq: int = 0, pid: int = 0,
              keys: bool = True) -> P.SadbMsg:
    """The reply/dump message describing ``sa``."""
    if not isinstance(sa, SecAsVar):
        raise TypeError(f"sa is a SecAsVar, not {type(sa).__name__}")
    flags = (P.SADB_X_EXT_OLD if sa.old else 0) | sa.flags
    if sa.proto == "esp":
        a = P.AALG.get(sa.auth or "", 0) if sa.auth else 0
        e = P.EALG.get(sa.enc or "null", 0)
        if sa.enc == "des-deriv":
            e, flags = P.EALG["des-cbc"], flags | P.SADB_X_EXT_DERIV
    elif sa.proto == "ah":
        a, e = P.AALG.get(sa.auth or "null", 0), 0
    else:
        a, e = 0, P.CALG.get(sa.comp or "deflate", 2)
    m = P.SadbMsg(typ, SATYPES[sa.proto], seq=seq, pid=pid)
    # sadb_sa_replay is the window in octets (KAME setkey -r), 8 packets each
    m.add(P.SadbSa(sa.spi, min(sa.replay // 8, 255), int(sa.state), a, e, flags))
    # sadb_x_sa2_sequence: the SA's output sequence counter (setkey -D "seq=")
    ctr = max((int(getattr(x, "seq", 0)) for x in sa._xform.values()), default=0)
    m.add(P.SadbXSa2(P.MODES[sa.mode], ctr & 0xFFFFFFFF, sa.reqid))
    m.add(P.SadbAddress(P.SADB_EXT_ADDRESS_SRC, sa.src, sa.src.max_prefixlen, 255))
    m.add(P.SadbAddress(P.SADB_EXT_ADDRESS_DST, sa.dst, sa.dst.max_prefixlen, 255))
    m.add(P.SadbLifetime(P.SADB_EXT_LIFETIME_CURRENT, sa.cur_allocs, sa.cur_bytes,
                         int(sa.created), int(sa.first_use or 0)))
    if sa.hard:
        m.add(_lt(sa.hard, P.SADB_EXT_LIFETIME_HARD))
    if sa.soft:
        m.add(_lt(sa.soft, P.SADB_EXT_LIFETIME_SOFT))
    if keys and sa.auth_key:
        m.add(P.SadbKey(P.SADB_EXT_KEY_AUTH, sa.auth_key))
    if keys and sa.enc_key:
        m.add(P.SadbKey(P.SADB_EXT_KEY_ENCRYPT, sa.enc_key))
    if sa.udp_encap is not None:  # RFC 3948: the ports that carry the SA's ESP
        m.add(P.SadbXNatT(P.SADB_X_EXT_NAT_T_TYPE, P.UDP_ENCAP_ESPINUDP))
        m.add(P.SadbXNatT(P.SADB_X_EXT_NAT_T_SPORT, sa.udp_encap[0]))
        m.add(P.SadbXNatT(P.SADB_X_EXT_NAT_T_DPORT, sa.udp_encap[1]))
    return m


def policy_to_ext(sp: SecPolicy) -> P.SadbXPolicy:
    if not isinstance(sp, SecPolicy):
        raise TypeError(f"sp is a SecPolicy, not {type(sp).__name__}")
    reqs = [P.SadbXIpsecRequest(PROTO_OF[r.proto], P.MODES[r.mode], P.IPSEC_LEVEL[r.level],
                                r.reqid, r.src, r.dst) for r in sp.requests]
    return P.SadbXPolicy(P.IPSEC_POLICY[sp.action], P.IPSEC_DIR[sp.dir], sp.id, 0, reqs)


def policy_to_msg(sp: SecPolicy, typ: int, *, seq: int = 0, pid: int = 0) -> P.SadbMsg:
    s = sp.selector
    m = P.SadbMsg(typ, seq=seq, pid=pid)
    m.add(P.SadbAddress(P.SADB_EXT_ADDRESS_SRC, s.src.network_address, s.src.prefixlen,
                        s.ulproto, s.sport))
    m.add(P.SadbAddress(P.SADB_EXT_ADDRESS_DST, s.dst.network_address, s.dst.prefixlen,
                        s.ulproto, s.dport))
    m.add(P.SadbLifetime(P.SADB_EXT_LIFETIME_CURRENT, 0, 0, int(sp.created),
                         int(sp.lastused or 0)))
    if sp.lifetime or sp.validtime:
        m.add(P.SadbLifetime(P.SADB_EXT_LIFETIME_HARD, 0, 0, sp.lifetime, sp.validtime))
    m.add(policy_to_ext(sp))
    return m


class KeyEngine:
    """SAD + SPD behind a PF_KEY message interface; see the module docstring."""

    def __init__(self, knobs: Mapping[str, int] | None = None) -> None:
        self.knobs = knobs
        self.sad = Sad()
        self.spd = Spd()
        self.listeners: list[Callable[[bytes], None]] = []
        self._registered: set[int] = set()

    # --- the socket -------------------------------------------------------------

    def send(self, buf: bytes, now: float) -> list[bytes]:
        """Process one PF_KEY message; the encoded replies (an ill-formed one
        gets an EINVAL reply, as the kernel's key_parse answers)."""
        if not isinstance(buf, (bytes, bytearray, memoryview)):
            raise TypeError(f"a PF_KEY message is bytes, not {type(buf).__name__}")
        try:
            msg = P.decode(buf)
        except P.ParseError as e:
            hdr = bytes(buf[:16]) + bytes(max(0, 16 - len(buf)))
            reply = P.SadbMsg(max(1, min(hdr[1], P.SADB_MAX)), errno=errno.EINVAL,
                              seq=int.from_bytes(hdr[8:12], "little"))
            reply.exts.clear()
            del e
            return [reply.pack()]
        return [m.pack() for m in self.handle(msg, now)]

    def handle(self, msg: P.SadbMsg, now: float) -> list[P.SadbMsg]:
        try:
            return self._handle(msg, now)
        except KeyEngineError as e:
            return [P.SadbMsg(msg.type, msg.satype, e.errno, msg.seq, msg.pid)]

    def _satype(self, msg: P.SadbMsg, *, required: bool = True) -> str | None:
        if msg.satype == 0:
            if required:
                raise KeyEngineError("SA type unspecified", errno.EINVAL)
            return None
        name = SATYPE_NAMES.get(msg.satype)
        if name is None:
            raise KeyEngineError(f"SA type {msg.satype} not supported", errno.EINVAL)
        return name

    def _need(self, msg: P.SadbMsg, *types: int) -> list[Any]:
        out = []
        for t in types:
            x = msg.get(t)
            if x is None:
                raise KeyEngineError(f"{P.MSG_TYPES[msg.type]} lacks extension {t}",
                                     errno.EINVAL)
            out.append(x)
        return out

    def _sa_from(self, msg: P.SadbMsg, proto: str) -> SecAsVar:
        ext, src, dst = self._need(msg, P.SADB_EXT_SA, P.SADB_EXT_ADDRESS_SRC,
                                   P.SADB_EXT_ADDRESS_DST)
        sa2 = msg.get(P.SADB_X_EXT_SA2)
        akey = msg.get(P.SADB_EXT_KEY_AUTH)
        ekey = msg.get(P.SADB_EXT_KEY_ENCRYPT)
        kw: dict[str, Any] = {}
        old = bool(ext.flags & P.SADB_X_EXT_OLD)
        if proto == "esp":
            enc = P.EALG_NAMES.get(ext.encrypt)
            if enc is None:
                raise KeyEngineError(f"unknown encryption algorithm {ext.encrypt}")
            if enc == "des-cbc" and ext.flags & P.SADB_X_EXT_DERIV:
                enc = "des-deriv"
            kw["enc"] = enc
            kw["enc_key"] = ekey.key if ekey else b""
            if ext.auth:
                auth = P.AALG_NAMES.get(ext.auth)
                if auth is None:
                    raise KeyEngineError(f"unknown authentication algorithm {ext.auth}")
                kw["auth"] = auth
                kw["auth_key"] = akey.key if akey else b""
        elif proto == "ah":
            auth = P.AALG_NAMES.get(ext.auth)
            if auth is None or ext.auth == 0:
                raise KeyEngineError(f"AH needs an authentication algorithm ({ext.auth})")
            kw["auth"], kw["auth_key"] = auth, akey.key if akey else b""
        else:
            comp = P.CALG_NAMES.get(ext.encrypt)
            if comp != "deflate":
                raise KeyEngineError(f"compression algorithm {ext.encrypt} not supported")
            kw["comp"] = comp
        hard, soft = msg.get(P.SADB_EXT_LIFETIME_HARD), msg.get(P.SADB_EXT_LIFETIME_SOFT)
        if hard:
            kw["hard"] = Lifetime(hard.allocations, hard.bytes, hard.addtime, hard.usetime)
        if soft:
            kw["soft"] = Lifetime(soft.allocations, soft.bytes, soft.addtime, soft.usetime)
        natt = msg.get(P.SADB_X_EXT_NAT_T_TYPE)
        if natt is not None and proto == "esp":
            sp, dp = msg.get(P.SADB_X_EXT_NAT_T_SPORT), msg.get(P.SADB_X_EXT_NAT_T_DPORT)
            kw["udp_encap"] = (sp.value if sp else 4500, dp.value if dp else 4500)
        replay = ext.replay * 8  # octets -> packets
        return SecAsVar(proto, src.addr, dst.addr, ext.spi,
                        mode=MODE_NAMES.get(sa2.mode if sa2 else 0, "any"),
                        reqid=sa2.reqid if sa2 else 0, replay=replay, old=old,
                        flags=ext.flags & ~(P.SADB_X_EXT_OLD | P.SADB_X_EXT_DERIV),
                        seq=msg.seq, pid=msg.pid,
                        randpad=self._knob("net.inet6.ipsec6.esp_randpad", -1),
                        ecn=self._knob("net.inet6.ipsec6.ecn", 0), **kw)

    def _knob(self, name: str, default: int) -> int:
        k = self.knobs
        return int(k[name]) if k is not None and name in k else default

    def _policy_from(self, msg: P.SadbMsg) -> SecPolicy:
        src, dst, pol = self._need(msg, P.SADB_EXT_ADDRESS_SRC, P.SADB_EXT_ADDRESS_DST,
                                   P.SADB_X_EXT_POLICY)
        if src.proto != dst.proto:
            raise KeyEngineError("upper-layer protocols of src and dst differ")
        sel = Selector(ip_network(f"{src.addr}/{src.prefixlen}", strict=False),
                       ip_network(f"{dst.addr}/{dst.prefixlen}", strict=False),
                       src.proto, src.port, dst.port)
        d = DIR_NAMES.get(pol.dir)
        if d is None:
            raise KeyEngineError(f"policy direction {pol.dir} is neither in nor out")
        reqs = tuple(IpsecRequest(PROTO_NAME[r.proto], MODE_NAMES[r.mode], r.src, r.dst,
                                  LEVEL_NAMES[r.level], r.reqid) for r in pol.requests)
        if any(r.mode == 0 for r in pol.requests):
            raise KeyEngineError("ipsec request without a mode")
        hard = msg.get(P.SADB_EXT_LIFETIME_HARD)
        return SecPolicy(sel, d, POLICY_NAMES[pol.type], reqs, seq=msg.seq, pid=msg.pid,
                         lifetime=hard.addtime if hard else 0,
                         validtime=hard.usetime if hard else 0)

    def _handle(self, msg: P.SadbMsg, now: float) -> list[P.SadbMsg]:
        t = msg.type
        if t in (P.SADB_ADD, P.SADB_UPDATE):
            proto = self._satype(msg)
            assert proto is not None
            sa = self._sa_from(msg, proto)
            (self.sad.add if t == P.SADB_ADD else self.sad.update)(sa, now)
            return [sa_to_msg(sa, t, now, seq=msg.seq, pid=msg.pid, keys=False)]
        if t == P.SADB_GETSPI:
            proto = self._satype(msg)
            assert proto is not None
            src, dst = self._need(msg, P.SADB_EXT_ADDRESS_SRC, P.SADB_EXT_ADDRESS_DST)
            rng = msg.get(P.SADB_EXT_SPIRANGE)
            sa2 = msg.get(P.SADB_X_EXT_SA2)
            sa = self.sad.getspi(proto, src.addr, dst.addr, now,
                                 lo=rng.min if rng else 256, hi=rng.max if rng else 0xFFFFFFFF,
                                 mode=MODE_NAMES.get(sa2.mode, "any") if sa2 else "any",
                                 reqid=sa2.reqid if sa2 else 0, seq=msg.seq)
            return [sa_to_msg(sa, t, now, seq=msg.seq, pid=msg.pid, keys=False)]
        if t in (P.SADB_GET, P.SADB_DELETE):
            proto = self._satype(msg)
            assert proto is not None
            src, dst = self._need(msg, P.SADB_EXT_ADDRESS_SRC, P.SADB_EXT_ADDRESS_DST)
            ext = msg.get(P.SADB_EXT_SA)
            if ext is None:
                if t == P.SADB_GET:
                    raise KeyEngineError("GET needs an SA extension")
                gone = self.sad.deleteall(src.addr, dst.addr, proto)
                if not gone:
                    raise KeyEngineError("no SA to delete", errno.ESRCH)
                m = P.SadbMsg(t, msg.satype, seq=msg.seq, pid=msg.pid)
                return [m.add(src).add(dst)]
            if t == P.SADB_DELETE:
                sa = self.sad.delete(src.addr, dst.addr, proto, ext.spi)
                return [sa_to_msg(sa, t, now, seq=msg.seq, pid=msg.pid, keys=False)]
            found = self.sad.get(dst.addr, proto, ext.spi)
            if found is None or found.src != src.addr:
                raise KeyEngineError("no such SA", errno.ESRCH)
            return [sa_to_msg(found, t, now, seq=msg.seq, pid=msg.pid)]
        if t == P.SADB_FLUSH:
            self.sad.flush(self._satype(msg, required=False))
            return [P.SadbMsg(t, msg.satype, seq=msg.seq, pid=msg.pid)]
        if t == P.SADB_DUMP:
            sas = self.sad.dump(self._satype(msg, required=False))
            if not sas:
                raise KeyEngineError("no SAD entries", errno.ENOENT)
            n = len(sas)
            return [sa_to_msg(sa, t, now, seq=n - 1 - i, pid=msg.pid)
                    for i, sa in enumerate(sas)]
        if t == P.SADB_REGISTER:
            self._satype(msg)
            self._registered.add(msg.satype)
            m = P.SadbMsg(t, msg.satype, seq=msg.seq, pid=msg.pid)
            m.add(P.SadbSupported(P.SADB_EXT_SUPPORTED_AUTH,
                                  [P.SadbAlg(i) for i in sorted(P.AALG_NAMES)]))
            m.add(P.SadbSupported(P.SADB_EXT_SUPPORTED_ENCRYPT,
                                  [P.SadbAlg(i) for i in sorted(P.EALG_NAMES)]))
            return [m]
        if t in (P.SADB_X_SPDADD, P.SADB_X_SPDUPDATE, P.SADB_X_SPDSETIDX):
            sp = self._policy_from(msg)
            self.spd.add(sp, now, update=t == P.SADB_X_SPDUPDATE)
            return [policy_to_msg(sp, t, seq=msg.seq, pid=msg.pid)]
        if t == P.SADB_X_SPDDELETE:
            sp = self._policy_from(msg)
            gone_sp = self.spd.delete(sp.selector, sp.dir)
            return [policy_to_msg(gone_sp, t, seq=msg.seq, pid=msg.pid)]
        if t in (P.SADB_X_SPDDELETE2, P.SADB_X_SPDGET):
            (pol,) = self._need(msg, P.SADB_X_EXT_POLICY)
            if t == P.SADB_X_SPDDELETE2:
                gone_sp = self.spd.delete_id(pol.id)
            else:
                got = self.spd.get_id(pol.id)
                if got is None:
                    raise KeyEngineError(f"no policy id {pol.id}", errno.ENOENT)
                gone_sp = got
            return [policy_to_msg(gone_sp, t, seq=msg.seq, pid=msg.pid)]
        if t == P.SADB_X_SPDFLUSH:
            self.spd.flush()
            return [P.SadbMsg(t, seq=msg.seq, pid=msg.pid)]
        if t == P.SADB_X_SPDDUMP:
            sps = self.spd.dump()
            if not sps:
                raise KeyEngineError("no SPD entries", errno.ENOENT)
            n = len(sps)
            return [policy_to_msg(sp, t, seq=n - 1 - i, pid=msg.pid)
                    for i, sp in enumerate(sps)]
        raise KeyEngineError(f"{P.MSG_TYPES.get(t, t)} not supported", errno.EOPNOTSUPP)

    # --- events to registered listeners ---------------------------------------

    def event_messages(self, now: float) -> list[P.SadbMsg]:
        """Turn queued SAD events into ACQUIRE / EXPIRE messages (and pass
        them to the listeners)."""
        out: list[P.SadbMsg] = []
        while self.sad.events:
            ev = self.sad.events.popleft()
            if isinstance(ev, Expire):
                m = sa_to_msg(ev.sa, P.SADB_EXPIRE, now, keys=False)
                lt = ev.sa.hard if ev.kind == "hard" else ev.sa.soft
                m.add(_lt(lt, P.SADB_EXT_LIFETIME_HARD if ev.kind == "hard"
                          else P.SADB_EXT_LIFETIME_SOFT))
                if ev.kind == "hard":
                    m.exts.pop(P.SADB_EXT_LIFETIME_SOFT, None)
                else:
                    m.exts.pop(P.SADB_EXT_LIFETIME_HARD, None)
            else:
                assert isinstance(ev, Acquire)
                m = P.SadbMsg(P.SADB_ACQUIRE, SATYPES[ev.proto], seq=ev.seq)
                m.add(P.SadbAddress(P.SADB_EXT_ADDRESS_SRC, ev.src, ev.src.max_prefixlen, 255))
                m.add(P.SadbAddress(P.SADB_EXT_ADDRESS_DST, ev.dst, ev.dst.max_prefixlen, 255))
                m.add(P.SadbXSa2(P.MODES[ev.mode], 0, ev.reqid))
                if ev.spid:  # KAME's key_acquire: the policy, whose selectors racoon reads
                    m.add(P.SadbXPolicy(P.IPSEC_POLICY["ipsec"], P.IPSEC_DIR["out"], ev.spid))
                m.add(P.SadbProposal(0, [self._comb(ev.proto)]))
            out.append(m)
            for fn in self.listeners:
                fn(m.pack())
        return out

    def _comb(self, proto: str) -> P.SadbComb:
        if proto == "ah":
            return P.SadbComb(auth=P.AALG["hmac-sha1"], auth_minbits=160, auth_maxbits=160,
                              hard_addtime=28800, soft_addtime=23040)
        if proto == "ipcomp":
            return P.SadbComb(encrypt=P.CALG["deflate"])
        return P.SadbComb(auth=P.AALG["hmac-sha1"], encrypt=P.EALG["aes-cbc"],
                          auth_minbits=160, auth_maxbits=160, encrypt_minbits=128,
                          encrypt_maxbits=256, hard_addtime=28800, soft_addtime=23040)

    def timehandler(self, now: float) -> list[P.SadbMsg]:
        self.sad.timehandler(now)
        return self.event_messages(now)

    def state_of(self, dst: Any, proto: str, spi: int) -> SaState | None:
        sa = self.sad.get(dst, proto, spi)
        return sa.state if sa is not None else None
