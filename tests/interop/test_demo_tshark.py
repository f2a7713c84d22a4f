"""tshark dissects the whole `kame demo` capture (pcap and pcapng) with no
malformed packet and no expert-info entry, and sees the same ICMPv6 message
sequence as our own reader."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

import kame
from kame.cli.demo import run_demo
from kame.link.pcap import PcapReader

pytestmark = pytest.mark.interop

if shutil.which("tshark") is None:
    pytest.skip("tshark not installed", allow_module_level=True)


@pytest.mark.parametrize("ng", [False, True], ids=["pcap", "pcapng"])
def test_tshark_dissects_whole_demo(tmp_path: Path, ng: bool) -> None:
    path = tmp_path / ("demo.pcapng" if ng else "demo.pcap")
    with path.open("wb") as f:
        assert run_demo(io.StringIO(), f, pcapng=ng) == 0
    res = subprocess.run(["tshark", "-r", str(path), "-T", "json"], capture_output=True,
                         text=True, timeout=120, check=True)
    pkts = json.loads(res.stdout)
    assert "_ws.malformed" not in res.stdout and "_ws.expert" not in res.stdout
    types = [p["_source"]["layers"]["icmpv6"]["icmpv6.type"] for p in pkts]
    ours = [kame.parse(r.frame, link="ether").icmp_type
            for r in PcapReader(io.BytesIO(path.read_bytes()))] if not ng else None
    if ours is not None:
        assert [int(t) for t in types] == ours
    for t in ("143", "133", "134", "135", "136", "128", "129"):
        assert t in types, t
    for p in pkts:
        icmp = p["_source"]["layers"]["icmpv6"]
        assert icmp.get("icmpv6.checksum.status") == "1", icmp  # "Good"
    # the RA carries the prefix the hosts configured
    ra = [p for p in pkts if p["_source"]["layers"]["icmpv6"]["icmpv6.type"] == "134"]
    assert "2001:db8:1::" in json.dumps(ra[0])
