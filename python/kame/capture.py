"""A capture as an Apache Arrow table.

The records of a pcap or pcapng file (gzip-compressed too) are dissected
by the core into Arrow column buffers, in record batches of at most
``batch_rows`` rows; this module only wraps those buffers in pyarrow
arrays (no copy, no Python loop over packets). A file given by path is
mapped into memory and read in place; a file object (or gzip) is fed to
the core in chunks. Memory stays bounded for any file size when
``batches`` or ``to_parquet`` is used.

One row per record, columns in this order (null where a packet has no
such field; after a refusal, verdict ``drop``, every column from
``ip_version`` to ``cksum_ok`` is null and ``reason`` says why)::

    ts            timestamp[ns, UTC]   the record's time
    interface     uint32               pcapng interface id (0 in a pcap)
    caplen, len   uint32               octets captured, octets on the wire
    linktype      uint32               LINKTYPE_ value of the record
    offset        uint64               the record's offset in the file
    ip_version    uint8                6 or 4
    src, dst      fixed_size_binary[16]  IPv4 as IPv4-mapped (::ffff:a.b.c.d)
    hop_limit     uint8                (IPv4: TTL)
    traffic_class uint8                (IPv4: TOS)
    flow_label    uint32               IPv6 only
    next_header   uint8                the IPv6 header's (IPv4: protocol)
    chain         list<uint8>          the extension headers, in order
    upper_proto   uint8                what ends the chain (44: fragment data)
    packet_len    uint64               the IP packet's length
    frag_offset   uint32, frag_more bool, frag_id uint32   a fragment
    sport, dport  uint16               UDP, TCP
    icmp_type, icmp_code  uint8        ICMPv6, ICMP
    nd_target     fixed_size_binary[16]  NS, NA, Redirect target
    esp_spi, esp_seq      uint32       ESP
    tcp_flags uint16, tcp_seq uint32, tcp_ack uint32
    cksum_ok      bool                 the upper-layer checksum, if checked
    verdict       dictionary<int8, string>  ok, cksum bad, offload, drop, not ip
    reason        string               the refusal, or the checksum found and due

``address_text`` turns an address column into text when it is wanted
(``::ffff:a.b.c.d`` as ``a.b.c.d``), not while the table is built.

pyarrow is an optional dependency (``pip install kame6[arrow]``),
imported when this module is.
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from kame import _core

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]

__all__ = ["address_text", "batches", "read", "read_range", "schema", "to_parquet"]

#: Rows per record batch unless asked otherwise.
BATCH_ROWS = 65536
#: Octets read from the file per call into the core.
CHUNK = 1 << 22
#: Octets searched for the first record of a byte range: RESYNC_DEPTH
#: (8) records of the largest size (262144 + 16) fit twice.
RESYNC_WINDOW = 1 << 22

Source = str | os.PathLike[str] | IO[bytes]


def _pa() -> Any:
    try:
        import pyarrow  # type: ignore[import-untyped]
    except ImportError as e:  # pragma: no cover - the test extra has it
        raise ImportError("kame.capture needs pyarrow: pip install 'kame6[arrow]'") from e
    return pyarrow


_TYPES: dict[str, Any] = {}


def _types() -> dict[str, Any]:
    if not _TYPES:
        pa = _pa()
        u8, u16, u32, u64 = pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64()
        _TYPES.update(
            ts=pa.timestamp("ns", tz="UTC"), interface=u32, caplen=u32, len=u32, linktype=u32,
            offset=u64, ip_version=u8, src=pa.binary(16), dst=pa.binary(16), hop_limit=u8,
            traffic_class=u8, flow_label=u32, next_header=u8, chain=pa.list_(u8),
            upper_proto=u8, packet_len=u64, frag_offset=u32, frag_more=pa.bool_(), frag_id=u32,
            sport=u16, dport=u16, icmp_type=u8, icmp_code=u8, nd_target=pa.binary(16),
            esp_spi=u32, esp_seq=u32, tcp_flags=u16, tcp_seq=u32, tcp_ack=u32,
            cksum_ok=pa.bool_(), verdict=pa.dictionary(pa.int8(), pa.string()),
            reason=pa.string(),
        )
        names, _ = _core.capture_schema()
        assert list(_TYPES) == names, "kame.capture's types and the core's columns differ"
    return _TYPES


def schema() -> pa.Schema:
    """The schema of every table and batch made here."""
    pa = _pa()
    return pa.schema([pa.field(n, t) for n, t in _types().items()])


_VERDICTS: list[Any] = []


def _batch(cols: dict[str, Any]) -> pa.RecordBatch:
    pa = _pa()
    n = cols["rows"]
    buf = pa.py_buffer
    arrays = []
    for name, t in _types().items():
        nulls, valid, data, offsets = cols[name]
        vb = None if valid is None else buf(valid)
        if name == "verdict":
            if not _VERDICTS:
                _VERDICTS.append(pa.array(_core.capture_schema()[1], pa.string()))
            idx = pa.Array.from_buffers(pa.int8(), n, [None, buf(data)])
            arrays.append(pa.DictionaryArray.from_arrays(idx, _VERDICTS[0]))
        elif name == "chain":
            child = pa.Array.from_buffers(pa.uint8(), len(data), [None, buf(data)])
            arrays.append(pa.Array.from_buffers(t, n, [vb, buf(offsets)], nulls, children=[child]))
        elif t.equals(pa.binary(16)):
            arrays.append(pa.Array.from_buffers(t, n, [vb, buf(data)], nulls))
        elif offsets is not None:
            arrays.append(pa.Array.from_buffers(t, n, [vb, buf(offsets), buf(data)], nulls))
        else:
            arrays.append(pa.Array.from_buffers(t, n, [vb, buf(data)], nulls))
    return pa.RecordBatch.from_arrays(arrays, schema=schema())


def address_text(column: Any) -> pa.Array:
    """An address column (``src``, ``dst``, ``nd_target``; an array or a
    chunked array) as strings: IPv6 in RFC 5952 form, IPv4-mapped ones as
    dotted quads; nulls stay null."""
    import ipaddress

    pa = _pa()

    def text(b: bytes | None) -> str | None:
        if b is None:
            return None
        if b[:12] == b"\0" * 10 + b"\xff\xff":
            return str(ipaddress.IPv4Address(b[12:]))
        return str(ipaddress.IPv6Address(b))

    return pa.array([text(b) for b in column.to_pylist()], pa.string())


def _plain_path(source: Source) -> str | None:
    """The path of ``source`` when it names a regular file that is not gzip
    (read mapped into memory), else None."""
    if not isinstance(source, (str, os.PathLike)):
        return None
    path = os.fspath(source)
    try:
        with open(path, "rb") as f:
            if f.read(2) == b"\x1f\x8b":
                return None
            if not os.path.isfile(path):
                return None
    except OSError:
        return None
    return path


def _mapped(cf: Any) -> Iterator[pa.RecordBatch]:
    while (cols := cf.next_batch()) is not None:
        yield _batch(cols)
    cf.close()


def _open(source: Source) -> tuple[IO[bytes], bool]:
    """The capture's octets (inflated if gzip) and whether to close them."""
    if isinstance(source, (str, os.PathLike)):
        f: IO[bytes] = open(source, "rb")  # noqa: SIM115 - closed by the caller
        owned = True
    else:
        f, owned = source, False
    head = f.peek(2)[:2] if isinstance(f, io.BufferedReader) else b""
    if head == b"\x1f\x8b":
        z: IO[bytes] = gzip.GzipFile(fileobj=f)  # type: ignore[assignment]
        return z, True
    return f, owned


def _columns(batch_rows: int, hdrnestlimit: int, verify_cksum: bool, stop: int | None = None) -> Any:
    return _core.CaptureColumns(
        batch_rows=batch_rows, hdrnestlimit=hdrnestlimit, verify_cksum=verify_cksum, stop=stop
    )


def _drain(cc: Any, f: IO[bytes], chunk: int) -> Iterator[pa.RecordBatch]:
    while True:
        data = f.read(chunk)
        out, done = cc.feed(data, not data)
        for cols in out:
            yield _batch(cols)
        if done:
            break
    cc.close()


def batches(
    source: Source,
    *,
    batch_rows: int = BATCH_ROWS,
    hdrnestlimit: int = 50,
    verify_cksum: bool = True,
    chunk: int = CHUNK,
) -> Iterator[pa.RecordBatch]:
    """The capture at ``source`` (a path or a binary file object) as
    record batches of at most ``batch_rows`` rows. A malformed or
    truncated file raises ``kame.errors`` after the batches of the records
    before the fault."""
    path = _plain_path(source)
    if path is not None:
        yield from _mapped(_core.CaptureFile(path, batch_rows=batch_rows, hdrnestlimit=hdrnestlimit,
                                             verify_cksum=verify_cksum))
        return
    cc = _columns(batch_rows, hdrnestlimit, verify_cksum)
    f, owned = _open(source)
    try:
        yield from _drain(cc, f, chunk)
    finally:
        if owned:
            f.close()


def read(source: Source, **kw: Any) -> pa.Table:
    """The whole capture as one table (see ``batches`` for the options)."""
    return _pa().Table.from_batches(list(batches(source, **kw)), schema=schema())


def to_parquet(source: Source, dest: str | os.PathLike[str] | IO[bytes], **kw: Any) -> int:
    """Write the capture as Parquet, batch by batch; returns the rows written."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    rows = 0
    with pq.ParquetWriter(dest, schema()) as w:
        for b in batches(source, **kw):
            w.write_batch(b)
            rows += b.num_rows
    return rows


def read_range(
    f: IO[bytes] | str | os.PathLike[str],
    start: int,
    stop: int | None,
    *,
    size: int | None = None,
    batch_rows: int = BATCH_ROWS,
    hdrnestlimit: int = 50,
    verify_cksum: bool = True,
    chunk: int = CHUNK,
) -> Iterator[pa.RecordBatch]:
    """The records of a seekable pcap ``f`` (a file object, or a path:
    then mapped into memory) that start in ``[start, stop)`` (``stop``
    None: to the end). For ``start`` past the file header the first record
    is found by ``_core.pcap_resync`` (see ``kame.dask``); ranges that tile
    the file give every record exactly once."""
    if isinstance(f, (str, os.PathLike)):
        yield from _mapped(_core.CaptureFile(f, batch_rows=batch_rows, hdrnestlimit=hdrnestlimit,
                                             verify_cksum=verify_cksum, start=start, stop=stop))
        return
    f.seek(0)
    header = f.read(24)
    cc = _columns(batch_rows, hdrnestlimit, verify_cksum, stop)
    out, done = cc.feed(header, len(header) < 24)
    if done or not cc.is_pcap:
        cc.close()
        raise ValueError("a byte range can only be read from a pcap (not pcapng or gzip)")
    if start > 24:
        first = f.read(16)
        if len(first) < 16:
            cc.close()
            return
        big = header[:4] in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d")
        first_sec = int.from_bytes(first[:4], "big" if big else "little")
        if size is None:
            size = f.seek(0, io.SEEK_END)
        f.seek(start)
        window = f.read(RESYNC_WINDOW)
        at = _core.pcap_resync(header, first_sec, window, start + len(window) >= size)
        if at is None:
            cc.close()
            raise ValueError(f"no pcap record boundary found in the {len(window)} octets at {start}")
        if stop is not None and start + at >= stop:
            cc.close()
            return
        cc.seek(start + at)
        out, done = cc.feed(memoryview(window)[at:], start + len(window) >= size)
        for cols in out:
            yield _batch(cols)
        if done:
            cc.close()
            return
    yield from _drain(cc, f, chunk)
