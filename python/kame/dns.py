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

This is a Python parser (the project's parsers are usually in Rust with a
cargo-fuzz target); its properties are checked with hypothesis in
``tests/test_dns.py``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address

from kame.errors import MalformedError, TruncatedError

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


def _trunc(what: str, off: int, need: int, have: int) -> TruncatedError:
    return TruncatedError(f"DNS message ends inside {what} at offset {off} (RFC 1035 §4.1)",
                          layer="dns", offset=off, needed=need, available=have)


def _bad(what: str, off: int, cls: type[MalformedError] = MalformedError) -> MalformedError:
    return cls(f"DNS: {what} at offset {off}", layer="dns", offset=off, reason=what)


class Name(str):
    """A domain name in presentation form (no final dot; the root is
    ``"."``), compared without regard to ASCII case. ``binary`` says a
    binary label (RFC 2673) is in it: reported, never followed."""

    binary: bool = False

    def key(self) -> str:
        return self.lower()


def _label_text(raw: bytes) -> str:
    out = []
    for b in raw:
        if b in (0x2E, 0x5C):  # "." and "\"
            out.append("\\" + chr(b))
        elif 0x21 <= b <= 0x7E:
            out.append(chr(b))
        else:
            out.append(f"\\{b:03d}")
    return "".join(out)


def _read_name(buf: bytes, off: int) -> tuple[Name, int]:
    """The name at ``off`` and the offset after it (after its first pointer)."""
    labels: list[str] = []
    n = len(buf)
    end = -1           # where the name ends in the record (after the first pointer)
    limit = off        # a pointer must point before the label sequence it is in
    wire = 1           # octets of the name uncompressed (the root label)
    jumps = 0
    binary = False
    pos = off
    while True:
        if pos >= n:
            raise _trunc("a name", pos, pos + 1, n)
        c = buf[pos]
        kind = c & 0xC0
        if kind == 0xC0:
            if pos + 1 >= n:
                raise _trunc("a compression pointer", pos, pos + 2, n)
            ptr = ((c & 0x3F) << 8) | buf[pos + 1]
            if ptr >= n:
                raise _bad(f"compression pointer to {ptr} past the end ({n})", pos,
                           CompressionError)
            if ptr >= limit:
                raise _bad(f"compression pointer to {ptr} does not point backwards (loop)",
                           pos, CompressionError)
            jumps += 1
            if jumps > MAX_POINTERS:
                raise _bad("too many compression pointers", pos, CompressionError)
            if end < 0:
                end = pos + 2
            limit = ptr
            pos = ptr
            continue
        if kind == 0x40:
            if c != 0x41:
                raise _bad(f"unknown extended label type {c:#x} (RFC 6891 §5)", pos)
            # binary label (RFC 2673 §3.1): count, then ceil(count/8) octets
            if pos + 1 >= n:
                raise _trunc("a binary label", pos, pos + 2, n)
            bits = buf[pos + 1] or 256
            size = (bits + 7) // 8
            if pos + 2 + size > n:
                raise _trunc("a binary label", pos, pos + 2 + size, n)
            wire += 2 + size
            if wire > MAX_NAME:
                raise _bad("name longer than 255 octets", pos)
            value = int.from_bytes(buf[pos + 2:pos + 2 + size], "big") >> (size * 8 - bits)
            labels.append(f"\\[x{value:0{(bits + 3) // 4}x}/{bits}]")
            binary = True
            pos += 2 + size
            continue
        if kind == 0x80:
            raise _bad(f"reserved label type {c:#x}", pos)
        if c == 0:
            pos += 1
            break
        if pos + 1 + c > n:
            raise _trunc("a label", pos, pos + 1 + c, n)
        wire += 1 + c
        if wire > MAX_NAME:
            raise _bad("name longer than 255 octets", pos)
        labels.append(_label_text(buf[pos + 1:pos + 1 + c]))
        pos += 1 + c
    name = Name(".".join(labels) if labels else ".")
    name.binary = binary
    return name, (end if end >= 0 else pos)


def _split_text(name: str) -> list[bytes]:
    """Labels of a presentation-form name (``\\.``, ``\\DDD`` escapes)."""
    if name in ("", "."):
        return []
    text = name[:-1] if name.endswith(".") and not name.endswith("\\.") else name
    labels: list[bytes] = []
    cur = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            dig = text[i + 1:i + 4]
            if len(dig) == 3 and dig.isascii() and dig.isdigit():
                v = int(dig)
                if v > 255:
                    raise ValueError(f"bad escape in {name!r}")
                cur.append(v)
                i += 4
                continue
            if i + 1 >= len(text):
                raise ValueError(f"dangling escape in {name!r}")
            cur += text[i + 1].encode("utf-8")
            i += 2
            continue
        if ch == ".":
            if not cur:
                raise ValueError(f"empty label in {name!r}")
            labels.append(bytes(cur))
            cur = bytearray()
        else:
            cur += ch.encode("utf-8")
        i += 1
    if not cur:
        raise ValueError(f"empty label in {name!r}")
    labels.append(bytes(cur))
    return labels


def encode_name(name: str) -> bytes:
    """Wire form (no compression) of a presentation-form name; a label over
    63 octets or a name over 255 is :class:`ValueError`."""
    if not isinstance(name, str):
        raise TypeError(f"a name is a str, not {type(name).__name__}")
    out = bytearray()
    for lab in _split_text(name):
        if len(lab) > MAX_LABEL:
            raise ValueError(f"label longer than 63 octets in {name!r}")
        out.append(len(lab))
        out += lab
    out.append(0)
    if len(out) > MAX_NAME:
        raise ValueError(f"name longer than 255 octets: {name!r}")
    return bytes(out)


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


def _rdata(buf: bytes, rtype: int, off: int, size: int) -> object:
    end = off + size
    if rtype == A:
        if size != 4:
            raise _bad(f"A record data of {size} octets", off)
        return IPv4Address(buf[off:end])
    if rtype == AAAA:
        if size != 16:
            raise _bad(f"AAAA record data of {size} octets", off)
        return IPv6Address(buf[off:end])
    if rtype in (CNAME, PTR, NS, DNAME):
        name, after = _read_name(buf[:end], off)
        if after != end:
            raise _bad("name does not fill its record data", off)
        return name
    if rtype == SOA:
        mname, p = _read_name(buf[:end], off)
        rname, p = _read_name(buf[:end], p)
        if end - p != 20:
            raise _bad("SOA record data of the wrong size", off)
        return Soa(mname, rname, *struct.unpack_from("!IIIII", buf, p))
    if rtype == A6_TYPE:  # RFC 2874 §3.1.1
        if size < 1:
            raise _bad("empty A6 record", off)
        plen = buf[off]
        if plen > 128:
            raise _bad(f"A6 prefix length {plen}", off)
        slen = (128 - plen + 7) // 8
        if 1 + slen > size:
            raise _bad("A6 suffix past its record data", off)
        suffix = IPv6Address(bytes(16 - slen) + buf[off + 1:off + 1 + slen])
        pname = None
        if plen:
            name, after = _read_name(buf[:end], off + 1 + slen)
            if after != end:
                raise _bad("A6 prefix name does not fill its record data", off)
            pname = name
        elif 1 + slen != size:
            raise _bad("A6 record data of the wrong size", off)
        return A6(plen, suffix, pname)
    return buf[off:end]


def parse(data: bytes) -> Message:
    """A whole DNS message; typed errors for everything malformed."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"a DNS message is bytes, not {type(data).__name__}")
    buf = bytes(data)
    n = len(buf)
    if n > MAX_MESSAGE:
        raise _bad(f"message of {n} octets (over 65535)", 0)
    if n < HEADER:
        raise _trunc("the header", 0, HEADER, n)
    mid, flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", buf)
    msg = Message(mid, flags)
    pos = HEADER
    for _ in range(qd):
        name, pos = _read_name(buf, pos)
        if pos + 4 > n:
            raise _trunc("a question", pos, pos + 4, n)
        qt, qc = struct.unpack_from("!HH", buf, pos)
        pos += 4
        msg.questions.append(Question(name, qt, qc))
    for count, section in ((an, msg.answers), (ns, msg.authority), (ar, msg.additional)):
        for _ in range(count):
            name, pos = _read_name(buf, pos)
            if pos + 10 > n:
                raise _trunc("a resource record", pos, pos + 10, n)
            rt, rc, ttl, size = struct.unpack_from("!HHIH", buf, pos)
            pos += 10
            if pos + size > n:
                raise _trunc("record data", pos, pos + size, n)
            if rt == OPT:
                if section is not msg.additional:
                    raise _bad("OPT record outside the additional section", pos)
                if msg.edns is not None:
                    raise _bad("second OPT record (RFC 6891 §6.1.1)", pos)
                if name != ".":
                    raise _bad("OPT record not owned by the root", pos)
                opts: list[tuple[int, bytes]] = []
                p, end = pos, pos + size
                while p < end:
                    if p + 4 > end:
                        raise _bad("EDNS option header past its record", p)
                    code, olen = struct.unpack_from("!HH", buf, p)
                    if p + 4 + olen > end:
                        raise _bad("EDNS option past its record", p)
                    opts.append((code, buf[p + 4:p + 4 + olen]))
                    p += 4 + olen
                msg.edns = Edns(rc, ttl >> 24, (ttl >> 16) & 0xFF, bool(ttl & 0x8000),
                                tuple(opts))
            else:
                value = _rdata(buf, rt, pos, size)
                # RFC 2181 §8: a TTL with the top bit set is read as zero
                section.append(Record(name, rt, rc, 0 if ttl & 0x80000000 else ttl,
                                      buf[pos:pos + size], value))
            pos += size
    return msg


def query(qid: int, name: str, qtype: int, *, rd: bool = True,
          payload: int | None = 1232) -> bytes:
    """A query; ``payload`` is the EDNS0 UDP size advertised (RFC 6891
    §6.2.5), ``None`` for no OPT record."""
    if not 0 <= qid <= 0xFFFF:
        raise ValueError(f"query id {qid} not in 0-65535")
    if payload is not None and not 512 <= payload <= 0xFFFF:
        raise ValueError(f"EDNS payload {payload} not in 512-65535")
    msg = Message(qid, 0x0100 if rd else 0, [Question(name, qtype, IN)],
                  edns=Edns(payload) if payload is not None else None)
    return msg.emit()
