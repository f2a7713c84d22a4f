"""PF_KEY v2 messages (RFC 2367) with KAME's ``SADB_X_*`` extensions.

This is the message format between ``setkey`` and the key engine, as in
KAME where setkey(8) talks to ``netkey/key.c`` over a PF_KEY socket. The
layout is the one of ``<linux/pfkeyv2.h>`` / ``<net/pfkeyv2.h>``: a
16-octet ``sadb_msg`` then extensions, each starting with a 16-bit length
in 64-bit words and a 16-bit type, every length a multiple of 8 octets.
Fields are in host byte order except SPIs and ports (network order), as
RFC 2367 §2 says; sockaddrs are Linux's (``sa_family`` 16 bits,
``AF_INET6`` = 10).

``decode(buf)`` is strict and bounded: a typed :class:`PfkeyError` (a
``ParseError``, with the offset) for a wrong version, a length that does
not match, an extension that is short, overlong, zero-length, unknown,
duplicated, or whose inner lengths lie. ``SadbMsg.pack()`` is its inverse.
"""

from __future__ import annotations

import builtins
import socket
import struct
import sys
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from kame.errors import MalformedError, ParseError, TruncatedError

__all__ = [
    "MSG_TYPES",
    "PF_KEY_V2",
    "PfkeyError",
    "SadbAddress",
    "SadbAlg",
    "SadbComb",
    "SadbIdent",
    "SadbKey",
    "SadbLifetime",
    "SadbMsg",
    "SadbProposal",
    "SadbSa",
    "SadbSpirange",
    "SadbSupported",
    "SadbXIpsecRequest",
    "SadbXNatT",
    "SadbXPolicy",
    "SadbXSa2",
    "decode",
    "decode_stream",
]

PF_KEY_V2 = 2
_E = "<" if sys.byteorder == "little" else ">"  # host order, explicit sizes

# message types (RFC 2367 §2.3.1 + KAME/Linux SADB_X_*)
SADB_RESERVED, SADB_GETSPI, SADB_UPDATE, SADB_ADD, SADB_DELETE, SADB_GET = 0, 1, 2, 3, 4, 5
SADB_ACQUIRE, SADB_REGISTER, SADB_EXPIRE, SADB_FLUSH, SADB_DUMP = 6, 7, 8, 9, 10
SADB_X_PROMISC, SADB_X_PCHANGE, SADB_X_SPDUPDATE, SADB_X_SPDADD = 11, 12, 13, 14
SADB_X_SPDDELETE, SADB_X_SPDGET, SADB_X_SPDACQUIRE, SADB_X_SPDDUMP = 15, 16, 17, 18
SADB_X_SPDFLUSH, SADB_X_SPDSETIDX, SADB_X_SPDEXPIRE, SADB_X_SPDDELETE2 = 19, 20, 21, 22
SADB_MAX = 22
MSG_TYPES: dict[int, str] = {
    0: "RESERVED", 1: "GETSPI", 2: "UPDATE", 3: "ADD", 4: "DELETE", 5: "GET",
    6: "ACQUIRE", 7: "REGISTER", 8: "EXPIRE", 9: "FLUSH", 10: "DUMP",
    11: "X_PROMISC", 12: "X_PCHANGE", 13: "X_SPDUPDATE", 14: "X_SPDADD",
    15: "X_SPDDELETE", 16: "X_SPDGET", 17: "X_SPDACQUIRE", 18: "X_SPDDUMP",
    19: "X_SPDFLUSH", 20: "X_SPDSETIDX", 21: "X_SPDEXPIRE", 22: "X_SPDDELETE2",
}

# SA types
SADB_SATYPE_UNSPEC, SADB_SATYPE_AH, SADB_SATYPE_ESP, SADB_X_SATYPE_IPCOMP = 0, 2, 3, 9
SADB_SATYPE_MAX = 9

# extension types
SADB_EXT_SA = 1
SADB_EXT_LIFETIME_CURRENT, SADB_EXT_LIFETIME_HARD, SADB_EXT_LIFETIME_SOFT = 2, 3, 4
SADB_EXT_ADDRESS_SRC, SADB_EXT_ADDRESS_DST, SADB_EXT_ADDRESS_PROXY = 5, 6, 7
SADB_EXT_KEY_AUTH, SADB_EXT_KEY_ENCRYPT = 8, 9
SADB_EXT_IDENTITY_SRC, SADB_EXT_IDENTITY_DST, SADB_EXT_SENSITIVITY = 10, 11, 12
SADB_EXT_PROPOSAL, SADB_EXT_SUPPORTED_AUTH, SADB_EXT_SUPPORTED_ENCRYPT = 13, 14, 15
SADB_EXT_SPIRANGE, SADB_X_EXT_KMPRIVATE, SADB_X_EXT_POLICY, SADB_X_EXT_SA2 = 16, 17, 18, 19
SADB_EXT_MAX = 19
# RFC 3948 UDP encapsulation (FreeBSD/Linux SADB_X_EXT_NAT_T_*): the IKE
# daemon tells the key engine which ports carry the SA's ESP
SADB_X_EXT_NAT_T_TYPE, SADB_X_EXT_NAT_T_SPORT, SADB_X_EXT_NAT_T_DPORT = 20, 21, 22
UDP_ENCAP_ESPINUDP = 2

# states, modes, policy types, directions, levels (KAME ipsec.h)
IPSEC_MODE_ANY, IPSEC_MODE_TRANSPORT, IPSEC_MODE_TUNNEL = 0, 1, 2
MODES = {"any": 0, "transport": 1, "tunnel": 2}
IPSEC_POLICY = {"discard": 0, "none": 1, "ipsec": 2, "entrust": 3, "bypass": 4}
IPSEC_DIR = {"any": 0, "in": 1, "out": 2}
IPSEC_LEVEL = {"default": 0, "use": 1, "require": 2, "unique": 3}

#: setkey algorithm name -> SADB_AALG_* (KAME numbers; 240+ are kame-private)
AALG: dict[str, int] = {
    "null": 251, "hmac-md5": 2, "hmac-sha1": 3, "hmac-sha256": 5, "hmac-sha384": 6,
    "hmac-sha512": 7, "hmac-ripemd160": 8, "aes-xcbc-mac": 9, "keyed-md5": 249,
    "keyed-sha1": 250, "hmac-sha256-128": 241, "hmac-sha384-192": 242,
    "hmac-sha512-256": 243, "aes-cmac": 240,
}
#: setkey algorithm name -> SADB_EALG_* (Linux numbers; 240+ are kame-private)
EALG: dict[str, int] = {
    "des-cbc": 2, "3des-cbc": 3, "rc5-cbc": 4, "cast128-cbc": 6, "blowfish-cbc": 7,
    "null": 11, "aes-cbc": 12, "aes-ctr": 13, "aes-ccm-8": 14, "aes-ccm-12": 15,
    "aes-ccm-16": 16, "aes-gcm-8": 18, "aes-gcm-12": 19, "aes-gcm-16": 20,
    "aes-gmac": 23, "chacha20-poly1305": 244, "des-deriv": 245,
}
#: SADB_X_CALG_*
CALG: dict[str, int] = {"oui": 1, "deflate": 2, "lzs": 3}
AALG_NAMES = {v: k for k, v in AALG.items()}
EALG_NAMES = {v: k for k, v in EALG.items()}
CALG_NAMES = {v: k for k, v in CALG.items()}

#: sadb_sa_flags (KAME SADB_X_EXT_*)
SADB_X_EXT_OLD = 0x0001
SADB_X_EXT_DERIV = 0x0020
SADB_X_EXT_CYCSEQ = 0x0040

_AF_INET6 = int(socket.AF_INET6)
_AF_INET = int(socket.AF_INET)
MAX_MSG = 8 * 0xFFFF  # sadb_msg_len is 16 bits of 64-bit words


class PfkeyError(ParseError):
    """A PF_KEY message that cannot be accepted."""


def _bad(msg: str, off: int) -> PfkeyError:
    return PfkeyError(f"PF_KEY (RFC 2367): {msg}", layer="pfkey", offset=off, reason=msg)


def _pad8(n: int) -> int:
    return (n + 7) & ~7


# --- extensions ---------------------------------------------------------------

@dataclass
class SadbSa:
    """``struct sadb_sa`` (16 octets)."""

    spi: int
    replay: int = 0
    state: int = 1
    auth: int = 0
    encrypt: int = 0
    flags: int = 0
    exttype: int = SADB_EXT_SA

    def pack(self) -> bytes:
        return struct.pack(_E + "HH", 2, self.exttype) + struct.pack(">I", self.spi) + \
            struct.pack(_E + "BBBBI", self.replay, self.state, self.auth, self.encrypt, self.flags)

    @classmethod
    def unpack(cls, b: bytes, t: int, off: int) -> SadbSa:
        if len(b) != 16:
            raise _bad("sadb_sa must be 16 octets", off)
        (spi,) = struct.unpack_from(">I", b, 4)
        rp, st, a, e, fl = struct.unpack_from(_E + "BBBBI", b, 8)
        return cls(spi, rp, st, a, e, fl, t)


@dataclass
class SadbLifetime:
    """``struct sadb_lifetime`` (32 octets): current, hard or soft."""

    exttype: int
    allocations: int = 0
    bytes: int = 0
    addtime: int = 0
    usetime: int = 0

    def pack(self) -> builtins.bytes:
        return struct.pack(_E + "HHIQQQ", 4, self.exttype, self.allocations, self.bytes,
                           self.addtime, self.usetime)

    @classmethod
    def unpack(cls, b: builtins.bytes, t: int, off: int) -> SadbLifetime:
        if len(b) != 32:
            raise _bad("sadb_lifetime must be 32 octets", off)
        _l, _t, al, by, ad, us = struct.unpack(_E + "HHIQQQ", b)
        return cls(t, al, by, ad, us)


def _pack_sockaddr(a: IPv6Address | IPv4Address, port: int, scope: int = 0) -> bytes:
    if a.version == 6:
        return struct.pack(_E + "H", _AF_INET6) + struct.pack(">HI", port, 0) + a.packed + \
            struct.pack(_E + "I", scope)
    return struct.pack(_E + "H", _AF_INET) + struct.pack(">H", port) + a.packed + bytes(8)


def _unpack_sockaddr(b: bytes, off: int) -> tuple[IPv6Address | IPv4Address, int, int, int]:
    """-> (address, port, scope id, sockaddr length)."""
    if len(b) < 2:
        raise TruncatedError("PF_KEY: sockaddr", layer="pfkey", offset=off, needed=2,
                             available=len(b))
    (fam,) = struct.unpack_from(_E + "H", b)
    if fam == _AF_INET6:
        if len(b) < 28:
            raise _bad("sockaddr_in6 shorter than 28 octets", off)
        (port,) = struct.unpack_from(">H", b, 2)
        (scope,) = struct.unpack_from(_E + "I", b, 24)
        return IPv6Address(b[8:24]), port, scope, 28
    if fam == _AF_INET:
        if len(b) < 16:
            raise _bad("sockaddr_in shorter than 16 octets", off)
        (port,) = struct.unpack_from(">H", b, 2)
        return IPv4Address(b[4:8]), port, 0, 16
    raise _bad(f"unknown address family {fam}", off)


@dataclass
class SadbAddress:
    """``struct sadb_address`` + a sockaddr: src, dst or proxy."""

    exttype: int
    addr: IPv6Address | IPv4Address
    prefixlen: int = 0
    proto: int = 0
    port: int = 0
    scope: int = 0

    def pack(self) -> bytes:
        sa = _pack_sockaddr(self.addr, self.port, self.scope)
        body = sa + bytes(_pad8(len(sa)) - len(sa))
        return struct.pack(_E + "HHBBH", (8 + len(body)) // 8, self.exttype, self.proto,
                           self.prefixlen, 0) + body

    @classmethod
    def unpack(cls, b: bytes, t: int, off: int) -> SadbAddress:
        if len(b) < 8:
            raise _bad("sadb_address shorter than 8 octets", off)
        proto, plen, _r = struct.unpack_from(_E + "BBH", b, 4)
        a, port, scope, n = _unpack_sockaddr(b[8:], off + 8)
        if _pad8(8 + n) != len(b):
            raise _bad("sadb_address length does not fit its sockaddr", off)
        if plen > a.max_prefixlen:
            raise _bad(f"prefix length {plen} > {a.max_prefixlen}", off + 5)
        return cls(t, a, plen, proto, port, scope)


@dataclass
class SadbKey:
    """``struct sadb_key``: ``bits`` then the key padded to 64 bits."""

    exttype: int
    key: bytes

    def pack(self) -> bytes:
        body = self.key + bytes(_pad8(len(self.key)) - len(self.key))
        return struct.pack(_E + "HHHH", (8 + len(body)) // 8, self.exttype,
                           len(self.key) * 8, 0) + body

    @classmethod
    def unpack(cls, b: bytes, t: int, off: int) -> SadbKey:
        if len(b) < 8:
            raise _bad("sadb_key shorter than 8 octets", off)
        (bits,) = struct.unpack_from(_E + "H", b, 4)
        n = (bits + 7) // 8
        if bits % 8:
            raise _bad(f"key of {bits} bits is not whole octets", off + 4)
        if _pad8(8 + n) != len(b):
            raise _bad(f"sadb_key_bits {bits} does not match the extension length", off + 4)
        return cls(t, bytes(b[8:8 + n]))


@dataclass
class SadbIdent:
    """``struct sadb_ident`` + a NUL-padded string."""

    exttype: int
    type: int
    id: int
    text: bytes = b""

    def pack(self) -> bytes:
        body = self.text + bytes(_pad8(len(self.text) + 1) - len(self.text)) if self.text else b""
        return struct.pack(_E + "HHHHQ", (16 + len(body)) // 8, self.exttype, self.type, 0,
                           self.id) + body

    @classmethod
    def unpack(cls, b: bytes, t: int, off: int) -> SadbIdent:
        if len(b) < 16:
            raise _bad("sadb_ident shorter than 16 octets", off)
        _l, _t, ty, _r, i = struct.unpack_from(_E + "HHHHQ", b)
        return cls(t, ty, i, bytes(b[16:]).rstrip(b"\0"))


@dataclass
class SadbComb:
    """``struct sadb_comb`` (72 octets), one proposal in an ACQUIRE."""

    auth: int = 0
    encrypt: int = 0
    flags: int = 0
    auth_minbits: int = 0
    auth_maxbits: int = 0
    encrypt_minbits: int = 0
    encrypt_maxbits: int = 0
    soft_allocations: int = 0
    hard_allocations: int = 0
    soft_bytes: int = 0
    hard_bytes: int = 0
    soft_addtime: int = 0
    hard_addtime: int = 0
    soft_usetime: int = 0
    hard_usetime: int = 0

    FMT = _E + "BBHHHHHIIIQQQQQQ"

    def pack(self) -> bytes:
        return struct.pack(self.FMT, self.auth, self.encrypt, self.flags, self.auth_minbits,
                           self.auth_maxbits, self.encrypt_minbits, self.encrypt_maxbits, 0,
                           self.soft_allocations, self.hard_allocations, self.soft_bytes,
                           self.hard_bytes, self.soft_addtime, self.hard_addtime,
                           self.soft_usetime, self.hard_usetime)

    @classmethod
    def unpack(cls, b: bytes) -> SadbComb:
        v = struct.unpack(cls.FMT, b)
        return cls(*v[:7], *v[8:])


@dataclass
class SadbProposal:
    """``struct sadb_prop`` + combs."""

    replay: int = 0
    combs: list[SadbComb] = field(default_factory=list)
    exttype: int = SADB_EXT_PROPOSAL

    def pack(self) -> bytes:
        body = b"".join(c.pack() for c in self.combs)
        return struct.pack(_E + "HHB3x", (8 + len(body)) // 8, self.exttype, self.replay) + body

    @classmethod
    def unpack(cls, b: bytes, t: int, off: int) -> SadbProposal:
        if len(b) < 8 or (len(b) - 8) % 72:
            raise _bad("sadb_prop length is not 8 + 72 n", off)
        return cls(b[4], [SadbComb.unpack(b[i:i + 72]) for i in range(8, len(b), 72)], t)


@dataclass
class SadbAlg:
    """``struct sadb_alg`` (8 octets)."""

    id: int
    ivlen: int = 0
    minbits: int = 0
    maxbits: int = 0


@dataclass
class SadbSupported:
    """``struct sadb_supported`` + algs (REGISTER replies)."""

    exttype: int
    algs: list[SadbAlg] = field(default_factory=list)

    def pack(self) -> bytes:
        body = b"".join(struct.pack(_E + "BBHHH", a.id, a.ivlen, a.minbits, a.maxbits, 0)
                        for a in self.algs)
        return struct.pack(_E + "HHI", (8 + len(body)) // 8, self.exttype, 0) + body

    @classmethod
    def unpack(cls, b: bytes, t: int, off: int) -> SadbSupported:
        if len(b) < 8:
            raise _bad("sadb_supported shorter than 8 octets", off)
        algs = [SadbAlg(*struct.unpack_from(_E + "BBHH", b, i)) for i in range(8, len(b), 8)]
        return cls(t, algs)


@dataclass
class SadbSpirange:
    """``struct sadb_spirange`` (16 octets)."""

    min: int
    max: int
    exttype: int = SADB_EXT_SPIRANGE

    def pack(self) -> bytes:
        return struct.pack(_E + "HHIII", 2, self.exttype, self.min, self.max, 0)

    @classmethod
    def unpack(cls, b: bytes, t: int, off: int) -> SadbSpirange:
        if len(b) != 16:
            raise _bad("sadb_spirange must be 16 octets", off)
        _l, _t, lo, hi, _r = struct.unpack(_E + "HHIII", b)
        if lo > hi:
            raise _bad(f"SPI range {lo} > {hi}", off + 4)
        return cls(lo, hi, t)


@dataclass
class SadbXSa2:
    """``struct sadb_x_sa2`` (16 octets): mode and reqid of an SA."""

    mode: int = 0
    sequence: int = 0
    reqid: int = 0
    exttype: int = SADB_X_EXT_SA2

    def pack(self) -> bytes:
        return struct.pack(_E + "HHBBHII", 2, self.exttype, self.mode, 0, 0, self.sequence,
                           self.reqid)

    @classmethod
    def unpack(cls, b: bytes, t: int, off: int) -> SadbXSa2:
        if len(b) != 16:
            raise _bad("sadb_x_sa2 must be 16 octets", off)
        _l, _t, mode, _r1, _r2, seq, reqid = struct.unpack(_E + "HHBBHII", b)
        if mode > 2:
            raise _bad(f"unknown mode {mode}", off + 4)
        return cls(mode, seq, reqid, t)


@dataclass
class SadbXIpsecRequest:
    """``struct sadb_x_ipsecrequest`` (16 octets, length in octets) and, for
    tunnel mode, the two endpoint sockaddrs."""

    proto: int
    mode: int
    level: int
    reqid: int = 0
    src: IPv6Address | IPv4Address | None = None
    dst: IPv6Address | IPv4Address | None = None

    def pack(self) -> bytes:
        addrs = b""
        if self.src is not None and self.dst is not None:
            addrs = _pack_sockaddr(self.src, 0) + _pack_sockaddr(self.dst, 0)
        n = _pad8(16 + len(addrs))
        return struct.pack(_E + "HHBBHII", n, self.proto, self.mode, self.level, 0,
                           self.reqid, 0) + addrs + bytes(n - 16 - len(addrs))


@dataclass
class SadbXPolicy:
    """``struct sadb_x_policy`` (16 octets) + ipsec requests."""

    type: int
    dir: int
    id: int = 0
    priority: int = 0
    requests: list[SadbXIpsecRequest] = field(default_factory=list)
    exttype: int = SADB_X_EXT_POLICY

    def pack(self) -> bytes:
        body = b"".join(r.pack() for r in self.requests)
        return struct.pack(_E + "HHHBBII", (16 + len(body)) // 8, self.exttype, self.type,
                           self.dir, 0, self.id, self.priority) + body

    @classmethod
    def unpack(cls, b: bytes, t: int, off: int) -> SadbXPolicy:
        if len(b) < 16:
            raise _bad("sadb_x_policy shorter than 16 octets", off)
        _l, _t, ty, d, _r, i, prio = struct.unpack_from(_E + "HHHBBII", b)
        if ty > 4:
            raise _bad(f"unknown policy type {ty}", off + 4)
        if d > 3:
            raise _bad(f"unknown direction {d}", off + 6)
        reqs: list[SadbXIpsecRequest] = []
        p = 16
        while p < len(b):
            if len(b) - p < 16:
                raise _bad("truncated ipsecrequest", off + p)
            n, proto, mode, level, _r1, reqid, _r2 = struct.unpack_from(_E + "HHBBHII", b, p)
            if n < 16 or n % 8 or p + n > len(b):
                raise _bad(f"ipsecrequest length {n} is bad", off + p)
            if mode > 2 or level > 3:
                raise _bad("ipsecrequest mode or level out of range", off + p + 4)
            if proto not in (50, 51, 108):
                raise _bad(f"ipsecrequest protocol {proto}", off + p + 2)
            src = dst = None
            if n > 16:
                src, _p, _s, n1 = _unpack_sockaddr(b[p + 16:p + n], off + p + 16)
                dst, _p, _s, n2 = _unpack_sockaddr(b[p + 16 + n1:p + n], off + p + 16 + n1)
                if _pad8(16 + n1 + n2) != n or src.version != dst.version:
                    raise _bad("ipsecrequest endpoints do not fit its length", off + p)
            reqs.append(SadbXIpsecRequest(proto, mode, level, reqid, src, dst))
            p += n
        if ty != 2 and reqs:
            raise _bad("requests on a policy that is not ipsec", off)
        return cls(ty, d, i, prio, reqs, t)


@dataclass
class SadbRaw:
    """An extension kept as bytes (sensitivity, kmprivate)."""

    exttype: int
    data: bytes = b""

    def pack(self) -> bytes:
        body = self.data + bytes(_pad8(len(self.data)) - len(self.data))
        return struct.pack(_E + "HH", (4 + len(body) + 4) // 8, self.exttype) + bytes(4) + body

    @classmethod
    def unpack(cls, b: bytes, t: int, off: int) -> SadbRaw:
        return cls(t, bytes(b[8:]))


@dataclass
class SadbXNatT:
    """``struct sadb_x_nat_t_type`` (``value`` is the encapsulation type) or
    ``struct sadb_x_nat_t_port`` (``value`` is the port)."""

    exttype: int
    value: int

    def pack(self) -> bytes:
        if self.exttype == SADB_X_EXT_NAT_T_TYPE:
            return struct.pack(_E + "HHB3x", 1, self.exttype, self.value & 0xFF)
        return struct.pack(_E + "HH", 1, self.exttype) + struct.pack(">H2x", self.value & 0xFFFF)

    @classmethod
    def unpack(cls, b: bytes, t: int, off: int) -> SadbXNatT:
        if len(b) < 8:
            raise _bad("short NAT-T extension", off)
        if t == SADB_X_EXT_NAT_T_TYPE:
            return cls(t, b[4])
        return cls(t, int.from_bytes(b[4:6], "big"))


_EXT: dict[int, Any] = {
    SADB_EXT_SA: SadbSa,
    SADB_EXT_LIFETIME_CURRENT: SadbLifetime, SADB_EXT_LIFETIME_HARD: SadbLifetime,
    SADB_EXT_LIFETIME_SOFT: SadbLifetime,
    SADB_EXT_ADDRESS_SRC: SadbAddress, SADB_EXT_ADDRESS_DST: SadbAddress,
    SADB_EXT_ADDRESS_PROXY: SadbAddress,
    SADB_EXT_KEY_AUTH: SadbKey, SADB_EXT_KEY_ENCRYPT: SadbKey,
    SADB_EXT_IDENTITY_SRC: SadbIdent, SADB_EXT_IDENTITY_DST: SadbIdent,
    SADB_EXT_SENSITIVITY: SadbRaw,
    SADB_EXT_PROPOSAL: SadbProposal,
    SADB_EXT_SUPPORTED_AUTH: SadbSupported, SADB_EXT_SUPPORTED_ENCRYPT: SadbSupported,
    SADB_EXT_SPIRANGE: SadbSpirange, SADB_X_EXT_KMPRIVATE: SadbRaw,
    SADB_X_EXT_POLICY: SadbXPolicy, SADB_X_EXT_SA2: SadbXSa2,
    SADB_X_EXT_NAT_T_TYPE: SadbXNatT, SADB_X_EXT_NAT_T_SPORT: SadbXNatT,
    SADB_X_EXT_NAT_T_DPORT: SadbXNatT,
}


@dataclass
class SadbMsg:
    """``struct sadb_msg`` and its extensions by type (at most one each)."""

    type: int
    satype: int = 0
    errno: int = 0
    seq: int = 0
    pid: int = 0
    exts: dict[int, Any] = field(default_factory=dict)

    def add(self, ext: Any) -> SadbMsg:
        self.exts[ext.exttype] = ext
        return self

    def get(self, exttype: int) -> Any:
        return self.exts.get(exttype)

    def pack(self) -> bytes:
        body = b"".join(self.exts[t].pack() for t in sorted(self.exts))
        n = 16 + len(body)
        if n > MAX_MSG:
            raise ValueError("PF_KEY message longer than 2^16 64-bit words")
        return struct.pack(_E + "BBBBHHII", PF_KEY_V2, self.type, self.errno, self.satype,
                           n // 8, 0, self.seq, self.pid) + body


def _header(buf: bytes, off: int) -> tuple[int, int, int, int, int, int, int]:
    if len(buf) - off < 16:
        raise TruncatedError("PF_KEY: sadb_msg needs 16 octets", layer="pfkey", offset=off,
                             needed=16, available=len(buf) - off)
    ver, typ, err, sat, ln, res, seq, pid = struct.unpack_from(_E + "BBBBHHII", buf, off)
    if ver != PF_KEY_V2:
        raise _bad(f"version {ver}, not PF_KEY_V2", off)
    if typ > SADB_MAX or typ == SADB_RESERVED:
        raise _bad(f"unknown message type {typ}", off + 1)
    if sat > SADB_SATYPE_MAX:
        raise _bad(f"unknown SA type {sat}", off + 3)
    if res:
        raise _bad("sadb_msg_reserved is not zero", off + 6)
    return typ, err, sat, ln * 8, seq, pid, res


def decode(buf: bytes | bytearray | memoryview) -> SadbMsg:
    """One whole message; its length must equal ``len(buf)``."""
    if not isinstance(buf, (bytes, bytearray, memoryview)):
        raise TypeError(f"a PF_KEY message is bytes, not {type(buf).__name__}")
    b = bytes(buf)
    typ, err, sat, n, seq, pid, _r = _header(b, 0)
    if n != len(b):
        raise MalformedError(f"PF_KEY: sadb_msg_len says {n} octets, buffer has {len(b)}",
                             layer="pfkey", offset=4)
    return _exts(SadbMsg(typ, sat, err, seq, pid), b, 16, n)


def _exts(msg: SadbMsg, b: bytes, p: int, end: int) -> SadbMsg:
    while p < end:
        if end - p < 4:
            raise _bad("truncated extension header", p)
        ln, t = struct.unpack_from(_E + "HH", b, p)
        n = ln * 8
        if n == 0:
            raise _bad("zero-length extension", p)
        if p + n > end:
            raise TruncatedError(f"PF_KEY: extension {t} runs past the message", layer="pfkey",
                                 offset=p, needed=n, available=end - p)
        cls = _EXT.get(t)
        if cls is None:
            raise _bad(f"unknown extension type {t}", p + 2)
        if t in msg.exts:
            raise _bad(f"duplicated extension type {t}", p + 2)
        msg.exts[t] = cls.unpack(b[p:p + n], t, p)
        p += n
    return msg


def decode_stream(buf: bytes, limit: int = 100000) -> list[SadbMsg]:
    """Several messages back to back (a DUMP reply), at most ``limit``."""
    out: list[SadbMsg] = []
    p = 0
    while p < len(buf):
        if len(out) >= limit:
            raise _bad(f"more than {limit} messages", p)
        _t, _e, _s, n, _q, _i, _r = _header(buf, p)
        if n < 16 or p + n > len(buf):
            raise _bad(f"sadb_msg_len {n} does not fit", p + 4)
        out.append(decode(buf[p:p + n]))
        p += n
    return out
