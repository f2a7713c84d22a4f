"""pcapng against Wireshark's own code: tshark and capinfos read what we
write (two interfaces, both byte orders), and we read what tshark and
editcap write (`-F pcapng`, with comments, name resolution and statistics
blocks) to the same frames and timestamps as the pcap they came from."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import pytest

from kame._core import Icmpv6Echo, Ipv6Header
from kame.cli.dissect import dissect_stream
from kame.link.pcap import LINKTYPE_ETHERNET, LINKTYPE_RAW, PcapngReader, PcapngWriter, PcapReader

pytestmark = pytest.mark.interop

if shutil.which("tshark") is None or shutil.which("capinfos") is None:
    pytest.skip("tshark/capinfos not installed", allow_module_level=True)

SAMPLE = resources.files("kame") / "data" / "sample.pcap"
_ECHO = Icmpv6Echo(128, 1, 2, b"kame").to_bytes("fe80::1", "ff02::1")
ETH6 = (bytes.fromhex("333300000001" "020000000001" "86dd")
        + Ipv6Header("fe80::1", "ff02::1", next_header=58, hop_limit=64,
                     payload_len=len(_ECHO)).to_bytes() + _ECHO)


def run(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=True).stdout


@pytest.mark.parametrize("big", [False, True], ids=["le", "be"])
def test_wireshark_reads_ours(tmp_path: Path, big: bool) -> None:
    path = tmp_path / "ours.pcapng"
    with SAMPLE.open("rb") as f:
        recs = list(PcapReader(f))
    with path.open("wb") as f:
        w = PcapngWriter(f, LINKTYPE_RAW, if_name="kame0", big_endian=big)
        eth = w.add_interface(LINKTYPE_ETHERNET, if_name="kame-eth")
        for r in recs:
            w.write(r.ts, r.frame)
        w.write(recs[-1].ts + 1.25, ETH6, eth)
    out = run("tshark", "-r", str(path), "-T", "fields", "-e", "frame.interface_id",
              "-e", "frame.interface_name", "-e", "frame.len", "-e", "frame.time_epoch",
              "-e", "_ws.malformed")
    rows = [ln.split("\t") for ln in out.splitlines()]
    assert len(rows) == len(recs) + 1
    for row, r in zip(rows, recs, strict=False):
        assert row[:3] == ["0", "kame0", str(len(r.frame))]
        assert float(row[3]) == pytest.approx(r.ts, abs=1e-6)
    assert rows[-1][:3] == ["1", "kame-eth", str(len(ETH6))]
    assert not any(row[4] for row in rows)
    info = run("capinfos", str(path))
    assert re.search(rf"Number of packets:\s+{len(recs) + 1}\b", info)
    assert "Number of interfaces in file: 2" in info
    assert "Capture application: kame" in info
    assert "Name = kame0" in info and "Name = kame-eth" in info
    assert "Time precision = nanoseconds (9)" in info


@pytest.mark.parametrize("tool", ["tshark", "editcap"])
def test_we_read_wiresharks(tmp_path: Path, tool: str) -> None:
    out = tmp_path / "theirs.pcapng"
    if tool == "tshark":
        run("tshark", "-r", str(SAMPLE), "-F", "pcapng", "-w", str(out))
    else:
        run("editcap", "-F", "pcapng", "-a", "2:a packet comment", str(SAMPLE), str(out))
    with SAMPLE.open("rb") as f:
        pr = PcapReader(f)
        want = list(pr)
    with out.open("rb") as f:
        r = PcapngReader(f)
        got = list(r)
    assert [g.frame for g in got] == [w.frame for w in want]
    assert [g.orig_len for g in got] == [w.orig_len for w in want]
    assert [g.ts for g in got] == pytest.approx([w.ts for w in want], abs=1e-6)
    assert {g.linktype for g in got} == {pr.linktype}
    # and `kame dissect` gives the same verdicts for both files
    a, b = io.StringIO(), io.StringIO()
    with SAMPLE.open("rb") as f:
        dissect_stream(f, a)
    with out.open("rb") as f:
        dissect_stream(f, b)
    assert a.getvalue() == b.getvalue()


def test_wireshark_rewrites_ours_identically(tmp_path: Path) -> None:
    """tshark reading our pcapng and writing its own: we read both to the
    same records."""
    ours = tmp_path / "ours.pcapng"
    with SAMPLE.open("rb") as f:
        recs = list(PcapReader(f))
    with ours.open("wb") as f:
        w = PcapngWriter(f, LINKTYPE_RAW, if_name="kame0", big_endian=True)
        for r in recs:
            w.write(r.ts, r.frame)
    theirs = tmp_path / "theirs.pcapng"
    run("tshark", "-r", str(ours), "-F", "pcapng", "-w", str(theirs))
    with ours.open("rb") as f1, theirs.open("rb") as f2:
        a, b = list(PcapngReader(f1)), list(PcapngReader(f2))
    assert [(x.frame, x.orig_len) for x in a] == [(x.frame, x.orig_len) for x in b]
    assert [x.ts for x in a] == pytest.approx([x.ts for x in b], abs=1e-9)
