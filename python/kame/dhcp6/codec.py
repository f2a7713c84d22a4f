"""DHCPv6 messages and options (RFC 8415 §8, §9, §21; RFC 3646; RFC 8415 §21.23).

:func:`parse` turns a UDP payload into a :class:`Message` or a
:class:`RelayMessage`; :meth:`Message.build` and :meth:`RelayMessage.build`
turn them back into bytes. Options the node understands become typed
dataclasses; any other option is kept as :class:`RawOption` and round-trips
byte for byte.

Parsing is bounded: a message is at most :data:`MAX_MESSAGE` octets, holds
at most :data:`MAX_OPTIONS` options at each level, encapsulation (IA
options, relay messages) nests at most :data:`MAX_DEPTH` deep, domain names
are at most 255 octets with labels of 63 (no compression, RFC 8415 §10).
Every refusal is a :class:`kame.errors.TruncatedError` or
:class:`kame.errors.MalformedError` with ``layer="dhcp6"`` and the absolute
offset of the field at fault.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from ipaddress import IPv6Address, IPv6Network
from typing import ClassVar, TypeVar

from kame.errors import MalformedError, RangeError, TruncatedError

__all__ = [
    "MAX_DEPTH",
    "MAX_MESSAGE",
    "MAX_OPTIONS",
    "Auth",
    "ClientId",
    "DnsServers",
    "DomainList",
    "ElapsedTime",
    "IaAddr",
    "IaNa",
    "IaPd",
    "IaPrefix",
    "IaTa",
    "InfMaxRt",
    "InfoRefreshTime",
    "InterfaceId",
    "Message",
    "MsgType",
    "OptionRequest",
    "Preference",
    "RapidCommit",
    "RawOption",
    "ReconfAccept",
    "ReconfMsg",
    "RelayMessage",
    "RelayMsg",
    "ServerId",
    "SolMaxRt",
    "Status",
    "StatusCode",
    "Unicast",
    "decode_domains",
    "encode_domains",
    "parse",
]

MAX_MESSAGE = 65535 - 8
MAX_OPTIONS = 128
MAX_DEPTH = 34          # relay chain (32, RFC 8415 §7.6 HOP_COUNT_LIMIT ceiling) + IA + address
MAX_NAMES = 32          # domain names in one domain list
T = TypeVar("T")


class MsgType:
    SOLICIT = 1
    ADVERTISE = 2
    REQUEST = 3
    CONFIRM = 4
    RENEW = 5
    REBIND = 6
    REPLY = 7
    RELEASE = 8
    DECLINE = 9
    RECONFIGURE = 10
    INFORMATION_REQUEST = 11
    RELAY_FORW = 12
    RELAY_REPL = 13

    NAMES: ClassVar[dict[int, str]] = {1: "SOLICIT", 2: "ADVERTISE", 3: "REQUEST", 4: "CONFIRM", 5: "RENEW", 6: "REBIND",
             7: "REPLY", 8: "RELEASE", 9: "DECLINE", 10: "RECONFIGURE",
             11: "INFORMATION-REQUEST", 12: "RELAY-FORW", 13: "RELAY-REPL"}


class Status:
    SUCCESS = 0
    UNSPEC_FAIL = 1
    NO_ADDRS_AVAIL = 2
    NO_BINDING = 3
    NOT_ON_LINK = 4
    USE_MULTICAST = 5
    NO_PREFIX_AVAIL = 6


# option codes
OPT_CLIENTID = 1
OPT_SERVERID = 2
OPT_IA_NA = 3
OPT_IA_TA = 4
OPT_IAADDR = 5
OPT_ORO = 6
OPT_PREFERENCE = 7
OPT_ELAPSED_TIME = 8
OPT_RELAY_MSG = 9
OPT_AUTH = 11
OPT_UNICAST = 12
OPT_STATUS_CODE = 13
OPT_RAPID_COMMIT = 14
OPT_INTERFACE_ID = 18
OPT_RECONF_MSG = 19
OPT_RECONF_ACCEPT = 20
OPT_DNS_SERVERS = 23
OPT_DOMAIN_LIST = 24
OPT_IA_PD = 25
OPT_IAPREFIX = 26
OPT_INFORMATION_REFRESH_TIME = 32
OPT_SOL_MAX_RT = 82
OPT_INF_MAX_RT = 83


def _trunc(what: str, off: int, need: int, have: int) -> TruncatedError:
    return TruncatedError(f"DHCPv6 {what} at offset {off}: needs {need} octets, {have} left "
                          "(RFC 8415 §21.1)", layer="dhcp6", offset=off, needed=need,
                          available=have)


def _bad(why: str, off: int) -> MalformedError:
    return MalformedError(f"DHCPv6 {why} at offset {off}", layer="dhcp6", offset=off, reason=why)


# --- options ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawOption:
    """An option kept as its bytes (unknown, or known but not interpreted)."""

    code: int
    data: bytes = b""

    def body(self) -> bytes:
        return self.data


@dataclass(frozen=True, slots=True)
class ClientId:
    duid: bytes
    code = OPT_CLIENTID

    def body(self) -> bytes:
        return self.duid


@dataclass(frozen=True, slots=True)
class ServerId:
    duid: bytes
    code = OPT_SERVERID

    def body(self) -> bytes:
        return self.duid


@dataclass(frozen=True, slots=True)
class StatusCode:
    status: int
    message: str = ""
    code = OPT_STATUS_CODE

    def body(self) -> bytes:
        return struct.pack("!H", self.status) + self.message.encode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class IaAddr:
    addr: IPv6Address
    preferred: int
    valid: int
    options: tuple[Option, ...] = ()
    code = OPT_IAADDR

    def body(self) -> bytes:
        return self.addr.packed + struct.pack("!II", self.preferred, self.valid) + \
            _emit(self.options)

    @property
    def status(self) -> StatusCode | None:
        return _first(self.options, StatusCode)


@dataclass(frozen=True, slots=True)
class IaPrefix:
    prefix: IPv6Network
    preferred: int
    valid: int
    options: tuple[Option, ...] = ()
    code = OPT_IAPREFIX

    def body(self) -> bytes:
        return struct.pack("!IIB", self.preferred, self.valid, self.prefix.prefixlen) + \
            self.prefix.network_address.packed + _emit(self.options)

    @property
    def status(self) -> StatusCode | None:
        return _first(self.options, StatusCode)


@dataclass(frozen=True, slots=True)
class IaNa:
    iaid: int
    t1: int = 0
    t2: int = 0
    options: tuple[Option, ...] = ()
    code = OPT_IA_NA

    def body(self) -> bytes:
        return struct.pack("!III", self.iaid, self.t1, self.t2) + _emit(self.options)

    @property
    def addresses(self) -> list[IaAddr]:
        return [o for o in self.options if isinstance(o, IaAddr)]

    @property
    def status(self) -> StatusCode | None:
        return _first(self.options, StatusCode)


@dataclass(frozen=True, slots=True)
class IaPd:
    iaid: int
    t1: int = 0
    t2: int = 0
    options: tuple[Option, ...] = ()
    code = OPT_IA_PD

    def body(self) -> bytes:
        return struct.pack("!III", self.iaid, self.t1, self.t2) + _emit(self.options)

    @property
    def prefixes(self) -> list[IaPrefix]:
        return [o for o in self.options if isinstance(o, IaPrefix)]

    @property
    def status(self) -> StatusCode | None:
        return _first(self.options, StatusCode)


@dataclass(frozen=True, slots=True)
class IaTa:
    iaid: int
    options: tuple[Option, ...] = ()
    code = OPT_IA_TA

    def body(self) -> bytes:
        return struct.pack("!I", self.iaid) + _emit(self.options)

    @property
    def addresses(self) -> list[IaAddr]:
        return [o for o in self.options if isinstance(o, IaAddr)]

    @property
    def status(self) -> StatusCode | None:
        return _first(self.options, StatusCode)


@dataclass(frozen=True, slots=True)
class OptionRequest:
    codes: tuple[int, ...]
    code = OPT_ORO

    def body(self) -> bytes:
        return b"".join(struct.pack("!H", c) for c in self.codes)


@dataclass(frozen=True, slots=True)
class Preference:
    value: int
    code = OPT_PREFERENCE

    def body(self) -> bytes:
        return bytes([self.value])


@dataclass(frozen=True, slots=True)
class ElapsedTime:
    centiseconds: int
    code = OPT_ELAPSED_TIME

    def body(self) -> bytes:
        return struct.pack("!H", min(self.centiseconds, 0xFFFF))


@dataclass(frozen=True, slots=True)
class RelayMsg:
    message: Message | RelayMessage
    code = OPT_RELAY_MSG

    def body(self) -> bytes:
        return self.message.build()


@dataclass(frozen=True, slots=True)
class Auth:
    """RFC 8415 §21.11; RKAP (§20.4) is protocol 3, algorithm 1, RDM 0."""

    protocol: int
    algorithm: int
    rdm: int
    replay: int
    info: bytes
    code = OPT_AUTH

    def body(self) -> bytes:
        return struct.pack("!BBBQ", self.protocol, self.algorithm, self.rdm, self.replay) + \
            self.info


@dataclass(frozen=True, slots=True)
class Unicast:
    addr: IPv6Address
    code = OPT_UNICAST

    def body(self) -> bytes:
        return self.addr.packed


@dataclass(frozen=True, slots=True)
class RapidCommit:
    code = OPT_RAPID_COMMIT

    def body(self) -> bytes:
        return b""


@dataclass(frozen=True, slots=True)
class InterfaceId:
    ident: bytes
    code = OPT_INTERFACE_ID

    def body(self) -> bytes:
        return self.ident


@dataclass(frozen=True, slots=True)
class ReconfMsg:
    msg_type: int
    code = OPT_RECONF_MSG

    def body(self) -> bytes:
        return bytes([self.msg_type])


@dataclass(frozen=True, slots=True)
class ReconfAccept:
    code = OPT_RECONF_ACCEPT

    def body(self) -> bytes:
        return b""


@dataclass(frozen=True, slots=True)
class DnsServers:
    servers: tuple[IPv6Address, ...]
    code = OPT_DNS_SERVERS

    def body(self) -> bytes:
        return b"".join(a.packed for a in self.servers)


@dataclass(frozen=True, slots=True)
class DomainList:
    names: tuple[str, ...]
    code = OPT_DOMAIN_LIST

    def body(self) -> bytes:
        return encode_domains(self.names)


@dataclass(frozen=True, slots=True)
class InfoRefreshTime:
    seconds: int
    code = OPT_INFORMATION_REFRESH_TIME

    def body(self) -> bytes:
        return struct.pack("!I", self.seconds)


@dataclass(frozen=True, slots=True)
class SolMaxRt:
    seconds: int
    code = OPT_SOL_MAX_RT

    def body(self) -> bytes:
        return struct.pack("!I", self.seconds)


@dataclass(frozen=True, slots=True)
class InfMaxRt:
    seconds: int
    code = OPT_INF_MAX_RT

    def body(self) -> bytes:
        return struct.pack("!I", self.seconds)


Option = (RawOption | ClientId | ServerId | StatusCode | IaAddr | IaPrefix | IaNa | IaPd | IaTa
          | OptionRequest | Preference | ElapsedTime | RelayMsg | Auth | Unicast | RapidCommit
          | InterfaceId | ReconfMsg | ReconfAccept | DnsServers | DomainList | InfoRefreshTime
          | SolMaxRt | InfMaxRt)


def _first(options: tuple[Option, ...] | list[Option], cls: type[T]) -> T | None:
    for o in options:
        if isinstance(o, cls):
            return o
    return None


def _emit(options: tuple[Option, ...] | list[Option]) -> bytes:
    parts = []
    for o in options:
        b = o.body()
        if len(b) > 0xFFFF:
            raise RangeError(f"option {o.code} body of {len(b)} octets", argument="option",
                             low=0, high=0xFFFF, value=len(b))
        parts.append(struct.pack("!HH", o.code, len(b)))
        parts.append(b)
    return b"".join(parts)


# --- domain names (RFC 1035 §3.1 without compression; RFC 8415 §10) -------------------


def _octets(data: object, what: str) -> bytes:
    """``data`` as bytes: any buffer; anything else is a TypeError."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        raise TypeError(f"{what}: a bytes-like object, not str")
    try:
        return bytes(memoryview(data))  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{what}: a bytes-like object, not {type(data).__name__}") from None


def encode_domains(names: tuple[str, ...] | list[str]) -> bytes:
    if isinstance(names, (str, bytes)) or not isinstance(names, (list, tuple)):
        raise TypeError("domain names: a list or tuple of str")
    out = bytearray()
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"domain name {name!r}: a str")
        n = name.rstrip(".")
        wire = bytearray()
        for label in n.split(".") if n else []:
            lb = label.encode("ascii")
            if not 1 <= len(lb) <= 63:
                raise ValueError(f"domain label {label!r} is not 1 to 63 octets")
            wire.append(len(lb))
            wire += lb
        wire.append(0)
        if len(wire) > 255:
            raise ValueError(f"domain name {name!r} longer than 255 octets")
        out += wire
    return bytes(out)


def decode_domains(data: bytes, base: int = 0) -> tuple[str, ...]:
    data = _octets(data, "domain list")
    if not isinstance(base, int) or isinstance(base, bool) or base < 0:
        raise TypeError("base: a non-negative int (the offset reported in errors)")
    names: list[str] = []
    i = 0
    while i < len(data):
        if len(names) >= MAX_NAMES:
            raise _bad(f"more than {MAX_NAMES} domain names", base + i)
        start, labels = i, []
        while True:
            if i >= len(data):
                raise _trunc("domain name", base + i, 1, 0)
            n = data[i]
            if n == 0:
                i += 1
                break
            if n > 63:
                raise _bad(f"domain label length {n} (compression is not allowed, RFC 8415 §10)",
                           base + i)
            if i + 1 + n > len(data):
                raise _trunc("domain label", base + i, n + 1, len(data) - i)
            lab = data[i + 1:i + 1 + n]
            try:
                labels.append(lab.decode("ascii"))
            except UnicodeDecodeError:
                raise _bad("non-ASCII domain label", base + i) from None
            i += 1 + n
            if i - start > 255:
                raise _bad("domain name longer than 255 octets", base + start)
        names.append(".".join(labels))
    return tuple(names)


# --- parsing ----------------------------------------------------------------------------


def _u32(b: bytes, o: int) -> int:
    return int.from_bytes(b[o:o + 4], "big")


def _options(data: bytes, base: int, depth: int) -> tuple[Option, ...]:
    if depth > MAX_DEPTH:
        raise _bad(f"options nested deeper than {MAX_DEPTH}", base)
    out: list[Option] = []
    i, n = 0, len(data)
    while i < n:
        if len(out) >= MAX_OPTIONS:
            raise _bad(f"more than {MAX_OPTIONS} options", base + i)
        if n - i < 4:
            raise _trunc("option header", base + i, 4, n - i)
        code, ln = struct.unpack_from("!HH", data, i)
        if n - i - 4 < ln:
            raise _trunc(f"option {code}", base + i, ln + 4, n - i)
        body = data[i + 4:i + 4 + ln]
        out.append(_option(code, body, base + i + 4, depth))
        i += 4 + ln
    return tuple(out)


def _need(code: int, body: bytes, off: int, length: int, exact: bool = True) -> None:
    if len(body) < length or (exact and len(body) != length):
        raise _bad(f"option {code} of {len(body)} octets (needs {'' if exact else '>= '}"
                   f"{length})", off - 4)


def _option(code: int, b: bytes, off: int, depth: int) -> Option:
    if code == OPT_CLIENTID or code == OPT_SERVERID:
        if not 2 <= len(b) <= 130:  # RFC 8415 §11.1: at most 128 octets plus the type
            raise _bad(f"DUID of {len(b)} octets", off - 4)
        return ClientId(b) if code == OPT_CLIENTID else ServerId(b)
    if code == OPT_STATUS_CODE:
        _need(code, b, off, 2, exact=False)
        return StatusCode(struct.unpack_from("!H", b)[0], b[2:].decode("utf-8", "replace"))
    if code == OPT_IA_NA or code == OPT_IA_PD:
        _need(code, b, off, 12, exact=False)
        iaid, t1, t2 = struct.unpack_from("!III", b)
        opts = _options(b[12:], off + 12, depth + 1)
        return IaNa(iaid, t1, t2, opts) if code == OPT_IA_NA else IaPd(iaid, t1, t2, opts)
    if code == OPT_IA_TA:
        _need(code, b, off, 4, exact=False)
        return IaTa(_u32(b, 0), _options(b[4:], off + 4, depth + 1))
    if code == OPT_IAADDR:
        _need(code, b, off, 24, exact=False)
        return IaAddr(IPv6Address(b[:16]), _u32(b, 16), _u32(b, 20),
                      _options(b[24:], off + 24, depth + 1))
    if code == OPT_IAPREFIX:
        _need(code, b, off, 25, exact=False)
        plen = b[8]
        if plen > 128:
            raise _bad(f"prefix length {plen}", off + 8)
        addr = int.from_bytes(b[9:25], "big")
        net = IPv6Network((addr & ~((1 << (128 - plen)) - 1), plen))
        return IaPrefix(net, _u32(b, 0), _u32(b, 4), _options(b[25:], off + 25, depth + 1))
    if code == OPT_ORO:
        if len(b) % 2:
            raise _bad("option request of odd length", off - 4)
        return OptionRequest(tuple(struct.unpack(f"!{len(b) // 2}H", b)))
    if code == OPT_PREFERENCE:
        _need(code, b, off, 1)
        return Preference(b[0])
    if code == OPT_ELAPSED_TIME:
        _need(code, b, off, 2)
        return ElapsedTime(struct.unpack("!H", b)[0])
    if code == OPT_RELAY_MSG:
        return RelayMsg(_parse(b, off, depth + 1))
    if code == OPT_AUTH:
        _need(code, b, off, 11, exact=False)
        p, a, r, rep = struct.unpack_from("!BBBQ", b)
        return Auth(p, a, r, rep, b[11:])
    if code == OPT_UNICAST:
        _need(code, b, off, 16)
        return Unicast(IPv6Address(b))
    if code == OPT_RAPID_COMMIT:
        _need(code, b, off, 0)
        return RapidCommit()
    if code == OPT_INTERFACE_ID:
        return InterfaceId(b)
    if code == OPT_RECONF_MSG:
        _need(code, b, off, 1)
        return ReconfMsg(b[0])
    if code == OPT_RECONF_ACCEPT:
        _need(code, b, off, 0)
        return ReconfAccept()
    if code == OPT_DNS_SERVERS:
        if len(b) % 16:
            raise _bad(f"DNS servers option of {len(b)} octets, not a multiple of 16", off - 4)
        return DnsServers(tuple(IPv6Address(b[i:i + 16]) for i in range(0, len(b), 16)))
    if code == OPT_DOMAIN_LIST:
        return DomainList(decode_domains(b, off))
    if code in (OPT_INFORMATION_REFRESH_TIME, OPT_SOL_MAX_RT, OPT_INF_MAX_RT):
        _need(code, b, off, 4)
        v = _u32(b, 0)
        if code == OPT_INFORMATION_REFRESH_TIME:
            return InfoRefreshTime(v)
        return SolMaxRt(v) if code == OPT_SOL_MAX_RT else InfMaxRt(v)
    return RawOption(code, bytes(b))


@dataclass(frozen=True, slots=True)
class Message:
    """A client/server message (RFC 8415 §8): type, 24-bit transaction id, options."""

    msg_type: int
    xid: int
    options: tuple[Option, ...] = field(default=())

    def build(self) -> bytes:
        if not 0 <= self.xid <= 0xFFFFFF:
            raise RangeError("transaction id", argument="xid", low=0, high=0xFFFFFF,
                             value=self.xid)
        return bytes([self.msg_type]) + self.xid.to_bytes(3, "big") + _emit(self.options)

    def get(self, cls: type[T]) -> T | None:
        return _first(self.options, cls)

    def all(self, cls: type[T]) -> list[T]:
        return [o for o in self.options if isinstance(o, cls)]

    @property
    def name(self) -> str:
        return MsgType.NAMES.get(self.msg_type, str(self.msg_type))


@dataclass(frozen=True, slots=True)
class RelayMessage:
    """A relay agent/server message (RFC 8415 §9)."""

    msg_type: int
    hop_count: int
    link_address: IPv6Address
    peer_address: IPv6Address
    options: tuple[Option, ...] = field(default=())

    def build(self) -> bytes:
        return bytes([self.msg_type, self.hop_count]) + self.link_address.packed + \
            self.peer_address.packed + _emit(self.options)

    def get(self, cls: type[T]) -> T | None:
        return _first(self.options, cls)

    @property
    def name(self) -> str:
        return MsgType.NAMES.get(self.msg_type, str(self.msg_type))


def _parse(data: bytes, base: int, depth: int) -> Message | RelayMessage:
    if depth > MAX_DEPTH:
        raise _bad(f"messages nested deeper than {MAX_DEPTH}", base)
    if len(data) < 4:
        raise _trunc("message header", base, 4, len(data))
    t = data[0]
    if t in (MsgType.RELAY_FORW, MsgType.RELAY_REPL):
        if len(data) < 34:
            raise _trunc("relay message header", base, 34, len(data))
        return RelayMessage(t, data[1], IPv6Address(data[2:18]), IPv6Address(data[18:34]),
                            _options(data[34:], base + 34, depth))
    if t == 0:
        raise _bad("message type 0", base)
    return Message(t, int.from_bytes(data[1:4], "big"), _options(data[4:], base + 4, depth))


def parse(data: bytes) -> Message | RelayMessage:
    """One DHCPv6 message from a UDP payload (see the module docstring)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"a DHCPv6 message is bytes, not {type(data).__name__}")
    b = bytes(data)
    if len(b) > MAX_MESSAGE:
        raise _bad(f"message of {len(b)} octets (more than {MAX_MESSAGE})", 0)
    return _parse(b, 0, 0)
