"""DNS messages (RFC 1035 §4) for the stub resolver (seed §1.17).

:func:`parse` reads a whole message into a :class:`Message`; every malformed
input is a typed error, never an exception of another kind and never
unbounded work:

- a name longer than 255 octets, a label longer than 63, a compression
  pointer that does not point strictly backwards (a loop, or a pointer to
  itself or forwards) and a pointer past the end of the message are
  :class:`CompressionError` / :class:`kame.errors.MalformedError`; each
  name's walk touches at most 255 octets of labels and 127 pointers;
- a message that ends inside a header, a question, a record or a record's
  data (RDLENGTH beyond the message) is :class:`kame.errors.TruncatedError`;
- a message longer than 65535 octets (what no transport carries) is
  :class:`kame.errors.MalformedError`;
- record data that does not fit its type (an A of 5 octets, a CNAME whose
  name ends before or after RDLENGTH) is :class:`kame.errors.MalformedError`.

Historic forms of seed §1.1 are parsed and reported, not followed: A6
records (RFC 2874) come back as :class:`A6` and binary labels (RFC 2673,
``\\[x.../n]``) as names whose :class:`Name` has ``binary`` set.

EDNS0 (RFC 6891): the OPT pseudo-record of the additional section is taken
out into :class:`Edns` (payload size, extended RCODE, version, DO); a
second OPT is :class:`kame.errors.MalformedError` (§6.1.1).

The parser and the name encoder are the Rust core's (``rust/src/wire/dns.rs``,
``kame._core.dns_parse``; cargo-fuzz target ``dns_msg``); this module wraps
what it reads in the dataclasses below. Errors carry the offset of the
octet at fault (``layer="dns"``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from kame import _core
from kame.errors import MalformedError

__all__ = [
    "A6", "CompressionError", "Edns", "Message", "Name", "Question", "Record",
    "Soa", "encode_name", "parse", "ptr_name", "query",
]

# RR types (RFC 1035, RFC 3596, RFC 2874, RFC 6672, RFC 6891)
A, NS, CNAME, SOA, PTR, AAAA, A6_TYPE, DNAME, OPT = 1, 2, 5, 6, 12, 28, 38, 39, 41
IN = 1
# RCODEs
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5

MAX_MESSAGE = 0xFFFF
MAX_NAME = 255     # RFC 1035 §3.1: octets of a name on the wire
MAX_LABEL = 63
MAX_POINTERS = 127  # more pointers than a 255-octet name can need
HEADER = 12

TYPE_NAMES = {A: "A", NS: "NS", CNAME: "CNAME", SOA: "SOA", PTR: "PTR", AAAA: "AAAA",
              A6_TYPE: "A6", DNAME: "DNAME", OPT: "OPT"}


class CompressionError(MalformedError):
    """A compression pointer that loops, points forwards or past the end."""


class Name(str):
    """A domain name in presentation form (no final dot; the root is
    ``"."``), compared without regard to ASCII case. ``binary`` says a
    binary label (RFC 2673) is in it: reported, never followed."""

    binary: bool = False

    def key(self) -> str:
        return self.lower()


def _name(text: str, binary: bool) -> Name:
    n = Name(text)
    if binary:
        n.binary = True
    return n


def encode_name(name: str) -> bytes:
    """Wire form (no compression) of a presentation-form name (``\\.`` and
    ``\\DDD`` escapes); an empty label, a bad escape, a label over 63
    octets or a name over 255 is :class:`ValueError`."""
    if not isinstance(name, str):
        raise TypeError(f"a name is a str, not {type(name).__name__}")
    return _core.dns_encode_name(name)


def ptr_name(addr: IPv4Address | IPv6Address) -> str:
    """The reverse name: ``ip6.arpa`` nibbles (RFC 3596 §2.5) or in-addr.arpa."""
    if isinstance(addr, IPv6Address):
        return ".".join(reversed(addr.exploded.replace(":", ""))) + ".ip6.arpa"
    if isinstance(addr, IPv4Address):
        return ".".join(reversed(str(addr).split("."))) + ".in-addr.arpa"
    raise TypeError(f"an ipaddress address, not {type(addr).__name__}")


@dataclass(frozen=True)
class Question:
    name: str
    qtype: int
    qclass: int = IN


@dataclass(frozen=True)
class Soa:
    mname: str
    rname: str
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int


@dataclass(frozen=True)
class A6:
    """RFC 2874 (historic): prefix length, address suffix, prefix name."""

    prefix_len: int
    suffix: IPv6Address
    prefix_name: str | None


@dataclass(frozen=True)
class Record:
    name: str
    rtype: int
    rclass: int
    ttl: int
    data: bytes = field(repr=False)
    value: object = None  # IPv4Address, IPv6Address, name str, Soa, A6 or the raw bytes


@dataclass(frozen=True)
class Edns:
    payload: int = 1232
    ext_rcode: int = 0
    version: int = 0
    do: bool = False
    options: tuple[tuple[int, bytes], ...] = ()


@dataclass
class Message:
    id: int
    flags: int
    questions: list[Question] = field(default_factory=list)
    answers: list[Record] = field(default_factory=list)
    authority: list[Record] = field(default_factory=list)
    additional: list[Record] = field(default_factory=list)
    edns: Edns | None = None

    @property
    def qr(self) -> bool:
        return bool(self.flags & 0x8000)

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF

    @property
    def tc(self) -> bool:
        return bool(self.flags & 0x0200)

    @property
    def rcode(self) -> int:
        """The full RCODE (the OPT record's upper 8 bits over the header's 4)."""
        ext = self.edns.ext_rcode if self.edns is not None else 0
        return (ext << 4) | (self.flags & 0xF)

    def emit(self) -> bytes:
        """Wire form, without compression (what a test server needs)."""
        add = list(self.additional)
        if self.edns is not None:
            e = self.edns
            opts = b"".join(struct.pack("!HH", c, len(d)) + d for c, d in e.options)
            ttl = (e.ext_rcode << 24) | (e.version << 16) | (0x8000 if e.do else 0)
            add.append(Record(".", OPT, e.payload, ttl, opts))
        out = bytearray(struct.pack("!HHHHHH", self.id, self.flags & 0xFFFF,
                                    len(self.questions), len(self.answers),
                                    len(self.authority), len(add)))
        for q in self.questions:
            out += encode_name(q.name) + struct.pack("!HH", q.qtype, q.qclass)
        for r in [*self.answers, *self.authority, *add]:
            out += encode_name(r.name) + struct.pack("!HHIH", r.rtype, r.rclass,
                                                     r.ttl & 0xFFFFFFFF, len(r.data)) + r.data
        return bytes(out)


def rdata(rtype: int, value: object) -> bytes:
    """Record data of ``value`` for the types the resolver reads."""
    if rtype in (A, AAAA) and isinstance(value, (IPv4Address, IPv6Address)):
        return value.packed
    if rtype in (CNAME, PTR, NS, DNAME) and isinstance(value, str):
        return encode_name(value)
    if rtype == SOA and isinstance(value, Soa):
        return encode_name(value.mname) + encode_name(value.rname) + struct.pack(
            "!IIIII", value.serial, value.refresh, value.retry, value.expire, value.minimum)
    if isinstance(value, bytes):
        return value
    raise TypeError(f"no record data of type {rtype} from {type(value).__name__}")


def _value(kind: int, v: Any, data: bytes) -> object:
    if kind == 1:
        return v
    if kind == 2:
        return _name(*v)
    if kind == 3:
        return Soa(_name(v[0], v[1]), _name(v[2], v[3]), *v[4:])
    if kind == 4:
        return A6(v[0], v[1], None if v[2] is None else _name(v[2], v[3]))
    return data


def parse(data: bytes) -> Message:
    """A whole DNS message; typed errors for everything malformed."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"a DNS message is bytes, not {type(data).__name__}")
    try:
        mid, flags, qs, rs, edns = _core.dns_parse(data)
    except MalformedError as e:
        if "compression pointer" in (e.reason or ""):
            raise CompressionError(str(e), layer="dns", offset=e.offset,
                                   reason=e.reason) from None
        raise
    msg = Message(mid, flags, [Question(_name(n, b), t, c) for n, b, t, c in qs])
    sections = (msg.answers, msg.authority, msg.additional)
    for sec, name, binary, rt, rc, ttl, rd, kind, v in rs:
        sections[sec].append(Record(_name(name, binary), rt, rc, ttl, rd, _value(kind, v, rd)))
    if edns is not None:
        msg.edns = Edns(edns[0], edns[1], edns[2], edns[3], tuple(edns[4]))
    return msg


def query(qid: int, name: str, qtype: int, *, rd: bool = True,
          payload: int | None = 1232) -> bytes:
    """A query; ``payload`` is the EDNS0 UDP size advertised (RFC 6891
    §6.2.5), ``None`` for no OPT record."""
    if not isinstance(qid, int) or not 0 <= qid <= 0xFFFF:
        raise ValueError(f"query id {qid} not in 0-65535")
    if payload is not None and not 512 <= payload <= 0xFFFF:
        raise ValueError(f"EDNS payload {payload} not in 512-65535")
    if not isinstance(name, str):
        raise TypeError(f"a name is a str, not {type(name).__name__}")
    if not isinstance(qtype, int) or not 0 <= qtype <= 0xFFFF:
        raise ValueError(f"query type {qtype} not in 0-65535")
    return _core.dns_query(qid, name, qtype, rd, payload)
