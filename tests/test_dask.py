"""kame.dask on a real distributed.LocalCluster with two worker
processes: a directory of captures (pcap, pcapng, gzip, and a pcap large
enough to be cut into byte ranges) read as a partitioned dataframe gives
the same table as kame.capture in one process, file after file."""

from __future__ import annotations

import gzip
import io
import pickle
import random

import pandas as pd
import pyarrow as pa
import pytest
from distributed import Client, LocalCluster, wait
from test_capture import FRAMES, pcap

from kame import capture
from kame import dask as kdask
from kame.link.pcap import LINKTYPE_ETHERNET, PcapngWriter


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("caps")
    rnd = random.Random(12)
    big = [rnd.choice(FRAMES) for _ in range(3000)]
    (d / "a-big.pcap").write_bytes(pcap(big))
    (d / "b-small.pcap").write_bytes(pcap(FRAMES, t0=1_700_001_000.0))
    buf = io.BytesIO()
    w = PcapngWriter(buf, LINKTYPE_ETHERNET)
    for i, f in enumerate(FRAMES * 3):
        w.write(1_700_002_000.0 + i, f)
    (d / "c.pcapng").write_bytes(buf.getvalue())
    (d / "d.pcap.gz").write_bytes(gzip.compress(pcap(FRAMES[::-1], t0=1_700_003_000.0)))
    (d / "sub").mkdir()
    (d / "sub" / "e.pcap").write_bytes(pcap(FRAMES[:5], t0=1_700_004_000.0))
    return d


def single_process(d) -> pd.DataFrame:
    files = sorted(p for p in d.rglob("*") if p.is_file())
    t = pa.concat_tables(capture.read(p) for p in files)
    return kdask._pandas(t).reset_index(drop=True)


def test_pieces_are_byte_ranges_and_picklable(corpus):
    parts = kdask.pieces(str(corpus), blocksize=16384)
    big = [p for p in parts if p.url.endswith("a-big.pcap")]
    size = (corpus / "a-big.pcap").stat().st_size
    assert len(big) == -(-size // 16384) and big[0].start == 0 and big[-1].stop == size
    assert all(p.stop is None for p in parts if not p.url.endswith("a-big.pcap"))
    assert len(parts) == len(big) + 4
    again = pickle.loads(pickle.dumps(parts))
    assert again == parts
    assert again[1].table().equals(parts[1].table())


def test_dask_on_a_local_cluster_equals_one_process(corpus):
    want = single_process(corpus)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      worker_dashboard_address=None) as cluster, Client(cluster) as client:
        ddf = kdask.read_captures(str(corpus), blocksize=16384)
        assert ddf.npartitions > 6
        kept = client.persist(ddf)
        wait(kept)
        # the partitions were read by both worker processes
        holders = {w for ws in client.who_has(kept).values() for w in ws}
        assert len(holders) == 2
        got = client.compute(kept).result().reset_index(drop=True)
        glob = kdask.read_captures(str(corpus / "*.pcap"), blocksize=None)
        n = client.compute(glob.shape[0]).result()
    pd.testing.assert_frame_equal(got, want)
    assert n == 3000 + len(FRAMES)


def test_a_local_piece_is_mapped_and_reads_what_fsspec_reads(corpus):
    """A local file is read by the core from a map; any other URL through
    fsspec: the same pieces give the same tables."""
    import fsspec

    data = (corpus / "a-big.pcap").read_bytes()
    with fsspec.open("memory://kame-test/a-big.pcap", "wb") as f:
        f.write(data)
    local = kdask.pieces(str(corpus / "a-big.pcap"), blocksize=20000)
    remote = kdask.pieces("memory://kame-test/a-big.pcap", blocksize=20000)
    assert len(local) == len(remote) > 3
    assert local[0].url.startswith("file://") and remote[0].url.startswith("memory://")
    for a, b in zip(local, remote, strict=True):
        assert (a.start, a.stop) == (b.start, b.stop)
        assert a.table().equals(b.table())


def test_only_the_columns_a_computation_reads_reach_pandas(corpus, monkeypatch):
    """Dask's column projection reaches the reader: a reduction over two
    columns converts (and holds, and ships) two columns per partition."""
    import dask

    ddf = kdask.read_captures(str(corpus), blocksize=16384)
    seen: list[list[str]] = []
    real = kdask._pandas

    def spy(t):  # type: ignore[no-untyped-def]
        seen.append(list(t.column_names))
        return real(t)

    monkeypatch.setattr(kdask, "_pandas", spy)
    with dask.config.set(scheduler="sync"):
        got = ddf.groupby("dport")["len"].sum().compute()
    want = single_process(corpus).groupby("dport")["len"].sum()
    assert got.sort_index().tolist() == want.sort_index().tolist()
    # one call per partition with the two columns (and at most one more:
    # Dask may build a partition's metadata once)
    two = [c for c in seen if sorted(c) == ["dport", "len"]]
    assert len(two) >= ddf.npartitions and len(seen) - len(two) <= 1, seen
