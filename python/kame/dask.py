"""Captures as a partitioned Dask dataframe: many files, or large ones,
read by the workers of a cluster.

``read_captures("captures/*.pcap")`` gives a ``dask.dataframe.DataFrame``
with one partition per file, or per byte range of ``blocksize`` octets of
a large uncompressed pcap; each partition is ``kame.capture``'s table of
those records (same columns, pyarrow-backed pandas dtypes; ``verdict`` a
category). Paths are fsspec URLs: local paths, directories, globs,
``s3://bucket/day/*.pcap``, ``gs://``, ``hdfs://``, ``https://`` (with
``storage_options`` passed to fsspec). The readers are small picklable
objects (``CapturePiece``): the client lists the files and their sizes,
each worker opens its own piece.

Byte ranges: a pcap record header has no marker, so a worker that starts
reading at an arbitrary offset resynchronises: from the range's start it
takes the first offset where eight record headers in a row are
plausible (sub-second field in range, caplen at most 262144 and at most
the original length, times within a day of each other and not before the
file's first record) and chained (each starts where the previous record
ends), or the chain ends exactly at the end of the file. A range owns the
records that start in it; the worker reads past its end to finish the
last one. pcapng files (whose records need the interface blocks before
them) and compressed files are one partition each.

A worker reads a local file (``file://``) by mapping it into memory: the
core parses the records in place and builds the columns; what crosses
between processes is the piece (a URL and two offsets) and the result of
the computation, not packets.

Only the columns a computation reads are converted and kept: Dask's
column projection reaches the reader (``_read_piece(..., columns=)``), so
``ddf.groupby("dport")["len"].sum()`` holds two columns per partition, not
thirty-three.

Partition size: each task costs the scheduler and the worker a few
milliseconds (more on a loaded machine), so a partition should hold
enough records for well over that: the default ``blocksize`` (256 MiB)
does; ``benches/bench_dask.py`` takes 16 MiB (about 100 ms of work each)
where 4 MiB spent a third of the workers' CPU on the tasks themselves.
The workers' statistical profiler (``distributed.worker.profile.enabled``,
on by default) samples each running task every 10 ms; turn it off for
throughput.

Needs ``pip install 'kame6[dask]'`` (dask[dataframe], distributed,
pyarrow); imported lazily.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kame import capture

__all__ = ["CapturePiece", "pieces", "read_captures"]

#: Byte range per partition of a large pcap unless asked otherwise.
BLOCKSIZE = 256 << 20
_COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".lz4")


@dataclass(frozen=True)
class CapturePiece:
    """One partition: records of ``url`` starting in ``[start, stop)``
    (``stop`` None: the whole file, any format). Picklable; calling it
    reads the piece as a pyarrow table."""

    url: str
    start: int = 0
    stop: int | None = None
    size: int | None = None
    storage_options: dict[str, Any] = field(default_factory=dict, hash=False)
    options: dict[str, Any] = field(default_factory=dict, hash=False)

    def table(self) -> Any:
        import fsspec  # type: ignore[import-untyped]
        import pyarrow as pa  # type: ignore[import-untyped]

        local = self.url.startswith("file://") or "://" not in self.url
        if local and not self.url.endswith(_COMPRESSED):
            # A local file is mapped into memory by the core and read in place.
            path = self.url.removeprefix("file://")
            if self.stop is None:
                bs = list(capture.batches(path, **self.options))
            else:
                bs = list(capture.read_range(path, self.start, self.stop, **self.options))
            return pa.Table.from_batches(bs, schema=capture.schema())
        compression = "infer" if self.stop is None else None
        with fsspec.open(self.url, "rb", compression=compression, **self.storage_options) as f:
            if self.stop is None:
                bs = list(capture.batches(f, **self.options))
            else:
                bs = list(capture.read_range(f, self.start, self.stop, size=self.size, **self.options))
        return pa.Table.from_batches(bs, schema=capture.schema())

    def __call__(self, columns: list[str] | None = None) -> Any:
        t = self.table()
        if columns is not None:
            t = t.select(columns)  # only what the computation reads crosses to pandas
        return _pandas(t)


def _mapper(t: Any) -> Any:
    import pandas as pd  # type: ignore[import-untyped]
    import pyarrow as pa  # type: ignore[import-untyped]

    return None if pa.types.is_dictionary(t) else pd.ArrowDtype(t)


def _pandas(table: Any) -> Any:
    return table.to_pandas(types_mapper=_mapper)


def _read_piece(piece: CapturePiece, columns: list[str] | None = None) -> Any:
    """One partition; ``columns`` (given by Dask's column projection: a
    ``groupby("dport")["len"].sum()`` asks for two) keeps the others from
    being converted and shipped."""
    return piece(columns)


def pieces(
    paths: str | Iterable[str],
    *,
    blocksize: int | None = BLOCKSIZE,
    storage_options: dict[str, Any] | None = None,
    **options: Any,
) -> list[CapturePiece]:
    """The partitions ``read_captures`` makes (files in sorted order, byte
    ranges in file order). A directory stands for every file under it."""
    import fsspec  # type: ignore[import-untyped]
    from fsspec.core import get_fs_token_paths  # type: ignore[import-untyped]

    so = dict(storage_options or {})
    fs, _, expanded = get_fs_token_paths(
        [paths] if isinstance(paths, str) else list(paths), storage_options=so
    )
    files: list[str] = []
    for p in expanded:
        if fs.isdir(p):
            files.extend(x for x in fs.find(p) if not fs.isdir(x))
        else:
            files.append(p)
    if not files:
        raise FileNotFoundError(f"no capture files in {paths!r}")
    out: list[CapturePiece] = []
    for p in sorted(set(files)):
        url = fs.unstrip_protocol(p)
        size = int(fs.size(p))
        whole = blocksize is None or size <= blocksize or p.endswith(_COMPRESSED)
        if not whole:
            with fsspec.open(url, "rb", **so) as f:
                magic = f.read(4)
            whole = magic not in (
                b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"
            )
        if whole:
            out.append(CapturePiece(url, 0, None, size, so, options))
            continue
        assert blocksize is not None
        for start in range(0, size, blocksize):
            out.append(CapturePiece(url, start, min(start + blocksize, size), size, so, options))
    return out


def read_captures(
    paths: str | Iterable[str],
    *,
    blocksize: int | None = BLOCKSIZE,
    storage_options: dict[str, Any] | None = None,
    **options: Any,
) -> Any:
    """A ``dask.dataframe.DataFrame`` of the captures at ``paths`` (see the
    module doc). ``options`` go to ``kame.capture.batches`` (batch_rows,
    hdrnestlimit, verify_cksum)."""
    import dask.dataframe as dd

    parts = pieces(paths, blocksize=blocksize, storage_options=storage_options, **options)
    meta = _pandas(capture.schema().empty_table())
    return dd.from_map(_read_piece, parts, meta=meta, enforce_metadata=False)
