"""pcap and pcapng writers and a bounded pcap reader.

- :class:`PcapWriter`: libpcap format (microsecond or nanosecond magic),
  any linktype (1 = Ethernet, 101 = raw IP).
- :class:`PcapngWriter`: a Section Header Block, one Interface Description
  Block and Enhanced Packet Blocks (options: ``if_name``, ``if_tsresol`` 9 =
  nanoseconds).
- :class:`PcapReader`: reads either endianness and either resolution.
  Hostile files give typed errors, never unbounded work: a bad magic or a
  bad header is :class:`kame.MalformedError`, a file ending inside a header
  or record :class:`kame.TruncatedError` (with ``needed`` / ``available``),
  a record larger than ``max_caplen`` (or than the file's own snaplen when
  ``strict``) or more records than ``max_records``
  :class:`kame.LimitError`. Errors carry ``layer="pcap"`` and the absolute
  file offset.

Any link can be tapped: ``link.add_tap(writer.write)``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from kame.errors import LimitError, MalformedError, TruncatedError

__all__ = [
    "LINKTYPE_ETHERNET",
    "LINKTYPE_RAW",
    "PcapReader",
    "PcapRecord",
    "PcapWriter",
    "PcapngWriter",
]

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101

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


class PcapngWriter:
    """Write a pcapng file with one interface (nanosecond timestamps)."""

    def __init__(self, f: BinaryIO, linktype: int = LINKTYPE_ETHERNET, *,
                 if_name: str | None = None, snaplen: int = 262144) -> None:
        self.f = f
        self.snaplen = snaplen
        self.count = 0
        shb_body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
        self._block(0x0A0D0D0A, shb_body)
        opts = b""
        if if_name:
            opts += self._opt(2, if_name.encode())
        opts += self._opt(9, b"\x09")  # if_tsresol: 10^-9
        opts += self._opt(0, b"")
        self._block(0x00000001, struct.pack("<HHI", linktype, 0, snaplen) + opts)

    @staticmethod
    def _opt(code: int, value: bytes) -> bytes:
        pad = (-len(value)) % 4
        return struct.pack("<HH", code, len(value)) + value + b"\0" * pad

    def _block(self, btype: int, body: bytes) -> None:
        body += b"\0" * ((-len(body)) % 4)
        total = len(body) + 12
        self.f.write(struct.pack("<II", btype, total) + body + struct.pack("<I", total))

    def write(self, ts: float, frame: bytes) -> None:
        t = round(ts * 1_000_000_000)
        cap = bytes(frame[: self.snaplen])
        body = struct.pack("<IIIII", 0, (t >> 32) & 0xFFFFFFFF, t & 0xFFFFFFFF,
                           len(cap), len(frame)) + cap
        self._block(0x00000006, body)
        self.count += 1

    __call__ = write


@dataclass(frozen=True, slots=True)
class PcapRecord:
    ts: float
    frame: bytes
    orig_len: int


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
            yield PcapRecord(sec + frac / div, frame, origlen)
        if self.f.read(1):
            raise LimitError(f"pcap: more than {self.max_records} records", layer="pcap",
                             offset=self.offset, limit=self.max_records)
