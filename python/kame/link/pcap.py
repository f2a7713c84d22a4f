"""pcap and pcapng writers and bounded readers.

- :class:`PcapWriter`: libpcap format (microsecond or nanosecond magic),
  any linktype (1 = Ethernet, 101 = raw IP).
- :class:`PcapngWriter`: a Section Header Block, an Interface Description
  Block per interface and Enhanced Packet Blocks (options: ``if_name``,
  ``if_tsresol`` 9 = nanoseconds); little- or big-endian.
- :class:`PcapngReader`: every section, either byte order, EPB/SPB/PB,
  ``if_tsresol`` and ``if_tsoffset``; bounded and strict (see the class).
- :func:`open_capture`: the right reader for a file's first bytes; a
  gzip-compressed capture (``.pcap.gz``, ``.pcapng.gz``: found by its magic,
  not its name) is inflated as it is read.
- :class:`PcapReader`: reads either endianness and either resolution.
  Hostile files give typed errors, never unbounded work: a bad magic or a
  bad header is :class:`kame.MalformedError`, a file ending inside a header
  or record :class:`kame.TruncatedError` (with ``needed`` / ``available``),
  a record larger than ``max_caplen`` (or than the file's own snaplen when
  ``strict``) or more records than ``max_records``
  :class:`kame.LimitError`. Errors carry ``layer="pcap"`` and the absolute
  file offset.

Every reader streams: it holds one record (at most ``max_caplen`` octets,
or one pcapng block) at a time, whatever the file's size, compressed or not.

Any link can be tapped: ``link.add_tap(writer.write)``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from kame.errors import LimitError, MalformedError, TruncatedError
from kame.link.pcapio import (
    _GZIP_MAGIC,
    GZIP_MAGIC,
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_LOOP,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
    _Gunzip,
    _Prefixed,
    open_stream,
)

__all__ = [
    "GZIP_MAGIC",
    "LINKTYPE_ETHERNET",
    "LINKTYPE_LINUX_SLL",
    "LINKTYPE_LINUX_SLL2",
    "LINKTYPE_LOOP",
    "LINKTYPE_NULL",
    "LINKTYPE_RAW",
    "PcapReader",
    "PcapRecord",
    "PcapWriter",
    "PcapngInterface",
    "PcapngReader",
    "PcapngWriter",
    "open_capture",
    "open_stream",
]

_MAGIC_US = 0xA1B2C3D4
_MAGIC_NS = 0xA1B23C4D


def _split_ts(ts: float, nano: bool) -> tuple[int, int]:
    scale = 1_000_000_000 if nano else 1_000_000
    total = round(ts * scale)
    return total // scale, total % scale


class PcapWriter:
    """Write a libpcap file to a binary file object."""

    def __init__(self, f: BinaryIO, linktype: int = LINKTYPE_ETHERNET, *,
                 snaplen: int = 262144, nanosecond: bool = False) -> None:
        self.f = f
        self.snaplen = snaplen
        self.nano = nanosecond
        self.count = 0
        f.write(struct.pack("<IHHiIII", _MAGIC_NS if nanosecond else _MAGIC_US, 2, 4, 0, 0,
                            snaplen, linktype))

    def write(self, ts: float, frame: bytes) -> None:
        sec, frac = _split_ts(ts, self.nano)
        cap = bytes(frame[: self.snaplen])
        self.f.write(struct.pack("<IIII", sec, frac, len(cap), len(frame)) + cap)
        self.count += 1

    __call__ = write


@dataclass(frozen=True, slots=True)
class PcapRecord:
    """One packet: time (seconds), captured bytes, original length; for
    pcapng also the interface id and that interface's link type."""

    ts: float
    frame: bytes
    orig_len: int
    interface: int = 0
    linktype: int | None = None


class PcapReader:
    """Iterate the records of a libpcap file, with bounds (see module doc)."""

    def __init__(self, f: BinaryIO, *, max_caplen: int = 262144,
                 max_records: int = 10_000_000, strict: bool = False) -> None:
        self.f = f
        self.max_caplen = max_caplen
        self.max_records = max_records
        self.strict = strict
        self.offset = 0
        hdr = self._read(24, "file header")
        magic_le = struct.unpack_from("<I", hdr)[0]
        magic_be = struct.unpack_from(">I", hdr)[0]
        if magic_le in (_MAGIC_US, _MAGIC_NS):
            self.endian, magic = "<", magic_le
        elif magic_be in (_MAGIC_US, _MAGIC_NS):
            self.endian, magic = ">", magic_be
        else:
            raise MalformedError(f"pcap: bad magic 0x{magic_le:08x}", layer="pcap", offset=0,
                                 reason="not a libpcap file (pcapng is not read here)")
        self.nano = magic == _MAGIC_NS
        vmaj, vmin, _tz, _sig, self.snaplen, self.linktype = struct.unpack_from(
            self.endian + "HHiIII", hdr, 4)
        if vmaj != 2:
            raise MalformedError(f"pcap: version {vmaj}.{vmin}", layer="pcap", offset=4)

    def _read(self, n: int, what: str) -> bytes:
        data = self.f.read(n)
        if len(data) < n:
            raise TruncatedError(f"pcap: truncated {what}", layer="pcap", offset=self.offset,
                                 needed=n, available=len(data))
        self.offset += n
        return data

    def __iter__(self) -> Iterator[PcapRecord]:
        div = 1e9 if self.nano else 1e6
        for _ in range(self.max_records):
            start = self.offset
            head = self.f.read(16)
            if not head:
                return
            if len(head) < 16:
                raise TruncatedError("pcap: truncated record header", layer="pcap",
                                     offset=start, needed=16, available=len(head))
            self.offset += 16
            sec, frac, caplen, origlen = struct.unpack(self.endian + "IIII", head)
            limit = min(self.max_caplen, self.snaplen) if self.strict else self.max_caplen
            if caplen > limit:
                raise LimitError(f"pcap: record caplen {caplen} > {limit}", layer="pcap",
                                 offset=start + 8, limit=limit)
            if frac >= div:
                raise MalformedError(f"pcap: sub-second field {frac} out of range",
                                     layer="pcap", offset=start + 4)
            frame = self._read(caplen, "record data")
            yield PcapRecord(sec + frac / div, frame, origlen, 0, self.linktype)
        if self.f.read(1):
            raise LimitError(f"pcap: more than {self.max_records} records", layer="pcap",
                             offset=self.offset, limit=self.max_records)


# --- pcapng -------------------------------------------------------------------------

BT_SHB = 0x0A0D0D0A
BT_IDB = 0x00000001
BT_OPB = 0x00000002  # obsolete Packet Block
BT_SPB = 0x00000003
BT_EPB = 0x00000006
_BOM = 0x1A2B3C4D

OPT_ENDOFOPT = 0
OPT_COMMENT = 1
IF_NAME = 2
IF_TSRESOL = 9
SHB_USERAPPL = 4


def _opt(endian: str, code: int, value: bytes) -> bytes:
    return struct.pack(endian + "HH", code, len(value)) + value + b"\0" * ((-len(value)) % 4)


class PcapngWriter:
    """Write a pcapng file: a Section Header Block, an Interface Description
    Block per interface (link type, snaplen, ``if_name``, ``if_tsresol`` =
    nanoseconds) and an Enhanced Packet Block per frame.

    The constructor describes interface 0; :meth:`add_interface` adds more
    (an IDB may follow packets of other interfaces). ``big_endian`` writes
    the whole section in network order (both are valid pcapng).
    """

    def __init__(self, f: BinaryIO, linktype: int = LINKTYPE_ETHERNET, *,
                 if_name: str | None = None, snaplen: int = 262144,
                 big_endian: bool = False, userappl: str = "kame") -> None:
        self.f = f
        self.e = ">" if big_endian else "<"
        self.count = 0
        self.snaplens: list[int] = []
        body = struct.pack(self.e + "IHHq", _BOM, 1, 0, -1)
        body += _opt(self.e, SHB_USERAPPL, userappl.encode()) + _opt(self.e, OPT_ENDOFOPT, b"")
        self._block(BT_SHB, body)
        self.add_interface(linktype, if_name=if_name, snaplen=snaplen)

    def add_interface(self, linktype: int = LINKTYPE_ETHERNET, *, if_name: str | None = None,
                      snaplen: int = 262144) -> int:
        """Write an IDB; returns the new interface id for :meth:`write`."""
        opts = _opt(self.e, IF_NAME, if_name.encode()) if if_name else b""
        opts += _opt(self.e, IF_TSRESOL, b"\x09") + _opt(self.e, OPT_ENDOFOPT, b"")
        self._block(BT_IDB, struct.pack(self.e + "HHI", linktype, 0, snaplen) + opts)
        self.snaplens.append(snaplen)
        return len(self.snaplens) - 1

    def _block(self, btype: int, body: bytes) -> None:
        body += b"\0" * ((-len(body)) % 4)
        total = len(body) + 12
        self.f.write(struct.pack(self.e + "II", btype, total) + body
                     + struct.pack(self.e + "I", total))

    def write(self, ts: float, frame: bytes, interface: int = 0) -> None:
        if not 0 <= interface < len(self.snaplens):
            raise ValueError(f"pcapng: no interface {interface}")
        t = round(ts * 1_000_000_000)
        cap = bytes(frame[: self.snaplens[interface]])
        body = struct.pack(self.e + "IIIII", interface, (t >> 32) & 0xFFFFFFFF, t & 0xFFFFFFFF,
                           len(cap), len(frame)) + cap
        self._block(BT_EPB, body)
        self.count += 1

    __call__ = write


@dataclass(frozen=True, slots=True)
class PcapngInterface:
    """An Interface Description Block as read."""

    linktype: int
    snaplen: int
    name: str | None = None
    tsresol: int = 1_000_000  # units per second
    tsoffset: int = 0


class PcapngReader:
    """Iterate the packets of a pcapng file (every section, either byte
    order; EPB, SPB and the obsolete PB; other block types skipped).

    Bounded and strict: a block length under 12, not a multiple of 4, or
    different in the trailer, an option or a packet overrunning its block,
    an unknown interface id, a bad byte-order magic or major version are
    :class:`kame.MalformedError`; a file ending inside a block
    :class:`kame.TruncatedError`; a block longer than ``max_block``, a
    packet longer than ``max_caplen``, more than ``max_interfaces``
    interfaces or ``max_records`` packets :class:`kame.LimitError`. No read
    is larger than ``max_block``. Errors carry ``layer="pcapng"`` and the
    absolute file offset of the offending field.
    """

    def __init__(self, f: BinaryIO, *, max_caplen: int = 262144, max_block: int | None = None,
                 max_records: int = 10_000_000, max_interfaces: int = 4096,
                 strict: bool = False) -> None:
        self.f = f
        self.max_caplen = max_caplen
        self.max_block = max_block if max_block is not None else max_caplen + 65536
        self.max_records = max_records
        self.max_interfaces = max_interfaces
        self.strict = strict
        self.offset = 0
        self.interfaces: list[PcapngInterface] = []
        self.sections = 0
        self.userappl: str | None = None
        self.endian = "<"
        head = self._read(12, "section header")
        btype = struct.unpack_from("<I", head)[0]
        if btype != BT_SHB:
            raise MalformedError(f"pcapng: first block type 0x{btype:08x} is not a Section "
                                 "Header Block", layer="pcapng", offset=0)
        self._pending: bytes | None = head

    # the first interface's link type, for callers that expect one
    @property
    def linktype(self) -> int | None:
        return self.interfaces[0].linktype if self.interfaces else None

    def _read(self, n: int, what: str) -> bytes:
        data = self.f.read(n)
        if len(data) < n:
            raise TruncatedError(f"pcapng: truncated {what}", layer="pcapng", offset=self.offset,
                                 needed=n, available=len(data))
        self.offset += n
        return data

    def _err(self, msg: str, offset: int) -> MalformedError:
        return MalformedError(f"pcapng: {msg}", layer="pcapng", offset=offset)

    def _next_block(self) -> tuple[int, int, bytes] | None:
        """(type, start offset, body) of the next block, or None at the end."""
        start = self.offset
        if self._pending is not None:
            head = self._pending
            self._pending = None
            start = 0
        else:
            head = self.f.read(8)
            if not head:
                return None
            if len(head) < 8:
                raise TruncatedError("pcapng: truncated block header", layer="pcapng",
                                     offset=start, needed=8, available=len(head))
            self.offset += 8
        btype = struct.unpack_from(self.endian + "I", head)[0]
        if btype == BT_SHB:
            if len(head) == 8:
                head += self._read(4, "byte-order magic")
            if struct.unpack_from("<I", head, 8)[0] == _BOM:
                self.endian = "<"
            elif struct.unpack_from(">I", head, 8)[0] == _BOM:
                self.endian = ">"
            else:
                raise self._err("bad byte-order magic in the Section Header Block", start + 8)
        total = struct.unpack_from(self.endian + "I", head, 4)[0]
        if total < 12 or total % 4:
            raise self._err(f"block length {total} is not a multiple of 4 and >= 12", start + 4)
        if btype == BT_SHB and total < 28:
            raise self._err(f"Section Header Block length {total} < 28", start + 4)
        if total > self.max_block:
            raise LimitError(f"pcapng: block length {total} > {self.max_block}",
                             layer="pcapng", offset=start + 4, limit=self.max_block)
        rest = self._read(total - len(head), "block")
        body = head[8:] + rest[:-4]
        trailer = struct.unpack_from(self.endian + "I", rest, len(rest) - 4)[0]
        if trailer != total:
            raise self._err(f"trailing block length {trailer} != {total}",
                            start + total - 4)
        return btype, start, body

    def _options(self, body: bytes, pos: int, base: int) -> dict[int, bytes]:
        """Options from ``body[pos:]`` (first of each code kept)."""
        out: dict[int, bytes] = {}
        e = self.endian
        while pos + 4 <= len(body):
            code, length = struct.unpack_from(e + "HH", body, pos)
            if code == OPT_ENDOFOPT:
                break
            end = pos + 4 + length
            if end > len(body):
                raise self._err(f"option {code} of length {length} overruns its block",
                                base + pos + 2)
            out.setdefault(code, body[pos + 4:end])
            pos = end + (-length) % 4
        return out

    def _shb(self, body: bytes, start: int) -> None:
        vmaj, vmin = struct.unpack_from(self.endian + "HH", body, 4)
        if vmaj != 1:
            raise self._err(f"version {vmaj}.{vmin} (only 1.x is pcapng)", start + 12)
        self.interfaces = []  # interface ids are per section
        self.sections += 1
        appl = self._options(body, 16, start + 8).get(SHB_USERAPPL)
        if appl is not None:
            self.userappl = appl.decode("utf-8", "replace")

    def _idb(self, body: bytes, start: int) -> None:
        if len(body) < 8:
            raise self._err("Interface Description Block shorter than 20", start + 4)
        if len(self.interfaces) >= self.max_interfaces:
            raise LimitError(f"pcapng: more than {self.max_interfaces} interfaces",
                             layer="pcapng", offset=start, limit=self.max_interfaces)
        linktype, _res, snaplen = struct.unpack_from(self.endian + "HHI", body)
        opts = self._options(body, 8, start + 8)
        tsresol = 1_000_000
        r = opts.get(IF_TSRESOL)
        if r:
            v = r[0]
            exp = v & 0x7F
            if (v & 0x80 and exp > 63) or (not v & 0x80 and exp > 18):
                raise self._err(f"if_tsresol 0x{v:02x} out of range", start + 8)
            tsresol = 1 << exp if v & 0x80 else 10 ** exp
        tsoffset = 0
        o = opts.get(14)  # if_tsoffset
        if o is not None and len(o) == 8:
            tsoffset = struct.unpack(self.endian + "q", o)[0]
        name = opts.get(IF_NAME)
        self.interfaces.append(PcapngInterface(
            linktype, snaplen, name.decode("utf-8", "replace") if name is not None else None,
            tsresol, tsoffset))

    def _iface(self, ifid: int, at: int) -> PcapngInterface:
        if ifid >= len(self.interfaces):
            raise self._err(f"packet for interface {ifid}, but only {len(self.interfaces)} "
                            "described", at)
        return self.interfaces[ifid]

    def _caplen_ok(self, caplen: int, iface: PcapngInterface, at: int) -> None:
        limit = self.max_caplen
        if self.strict and iface.snaplen:
            limit = min(limit, iface.snaplen)
        if caplen > limit:
            raise LimitError(f"pcapng: packet caplen {caplen} > {limit}", layer="pcapng",
                             offset=at, limit=limit)

    def _packet(self, btype: int, body: bytes, start: int) -> PcapRecord:
        e = self.endian
        if btype == BT_SPB:
            if len(body) < 4:
                raise self._err("Simple Packet Block shorter than 16", start + 4)
            iface = self._iface(0, start)
            origlen = struct.unpack_from(e + "I", body)[0]
            caplen = min(origlen, len(body) - 4)
            if iface.snaplen:
                caplen = min(caplen, iface.snaplen)
            self._caplen_ok(caplen, iface, start + 8)
            return PcapRecord(0.0, body[4:4 + caplen], origlen, 0, iface.linktype)
        if btype == BT_EPB:
            if len(body) < 20:
                raise self._err("Enhanced Packet Block shorter than 32", start + 4)
            ifid, hi, lo, caplen, origlen = struct.unpack_from(e + "IIIII", body)
        else:  # obsolete Packet Block: 16-bit interface id and drops count
            if len(body) < 20:
                raise self._err("Packet Block shorter than 32", start + 4)
            ifid, _drops, hi, lo, caplen, origlen = struct.unpack_from(e + "HHIIII", body)
        iface = self._iface(ifid, start + 8)
        self._caplen_ok(caplen, iface, start + 20)
        if 20 + caplen > len(body):
            raise self._err(f"captured length {caplen} overruns its block", start + 20)
        ts = ((hi << 32) | lo) / iface.tsresol + iface.tsoffset
        return PcapRecord(ts, body[20:20 + caplen], origlen, ifid, iface.linktype)

    def __iter__(self) -> Iterator[PcapRecord]:
        n = 0
        while True:
            blk = self._next_block()
            if blk is None:
                return
            btype, start, body = blk
            if btype == BT_SHB:
                self._shb(body, start)
            elif btype == BT_IDB:
                self._idb(body, start)
            elif btype in (BT_EPB, BT_SPB, BT_OPB):
                if n >= self.max_records:
                    raise LimitError(f"pcapng: more than {self.max_records} packets",
                                     layer="pcapng", offset=start, limit=self.max_records)
                n += 1
                yield self._packet(btype, body, start)


def open_capture(f: BinaryIO, *, max_caplen: int = 262144,
                 max_records: int = 10_000_000) -> PcapReader | PcapngReader:
    """A reader for a pcap or a pcapng file, chosen by its first four bytes;
    either may be gzip-compressed (inflated as it is read)."""
    head = f.read(4)
    src: BinaryIO = _Prefixed(head, f)  # type: ignore[assignment]
    if head[:2] == _GZIP_MAGIC:
        src = _Gunzip(src)  # type: ignore[assignment]
        head = src.read(4)
        src = _Prefixed(head, src)  # type: ignore[assignment]
    if len(head) == 4 and struct.unpack("<I", head)[0] == BT_SHB:
        return PcapngReader(src, max_caplen=max_caplen, max_records=max_records)
    return PcapReader(src, max_caplen=max_caplen, max_records=max_records)
