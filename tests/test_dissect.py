"""`kame dissect`: the bundled capture, verdicts, and tshark on the same file."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from importlib import resources

import pytest

from kame.cli.dissect import dissect_stream
from kame.cli.main import main

SAMPLE = resources.files("kame") / "data" / "sample.pcap"


def test_bundled_capture_verdicts():
    out = io.StringIO()
    with SAMPLE.open("rb") as f:
        tally = dissect_stream(f, out)
    text = out.getvalue()
    assert (tally["ok"], tally["cksum bad"], tally["drop"]) == (12, 1, 4)
    assert "jumbo 68016" in text
    assert "hdrnestlimit" in text and "type 4 code 0 pointer 42" in text
    assert "type 4 code 1 pointer 40" in text


def test_cli_runs(capsys):
    assert main(["dissect", "-c", "3"]) == 0
    assert "neighbor solicitation" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_agrees_on_the_accepted_packets():
    """tshark dissects the packets we accept with no malformed field, and
    finds the bad checksum we report."""
    with resources.as_file(SAMPLE) as path:
        r = subprocess.run(
            ["tshark", "-r", str(path), "-T", "json", "-o", "udp.check_checksum:TRUE"],
            capture_output=True, text=True, check=True,
        )
    frames = json.loads(r.stdout)
    assert len(frames) == 17
    for i, fr in enumerate(frames[:12]):
        assert "_ws.malformed" not in json.dumps(fr), f"frame {i + 1}"
    bad = json.dumps(frames[12]["_source"]["layers"]["udp"])
    assert '"udp.checksum.status": "0"' in bad  # tshark: Bad
