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


def _first_fragment() -> bytes:
    """The first fragment (offset 0, M=1) of a 3000-octet UDP datagram,
    cut by scapy (an independent fragmenter) for a 1280-octet MTU."""
    from scapy.layers.inet import UDP
    from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, fragment6

    whole = IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrFragment(id=0x1234) / UDP(
        sport=5353, dport=53
    ) / (b"d" * 3000)
    first = bytes(fragment6(whole, 1280)[0])
    assert first[40 + 2:40 + 4] == b"\x00\x01"  # offset 0, M=1
    return first


def test_first_fragment_shows_the_ports():
    """A first fragment carries the UDP header but not the datagram its
    Length covers: the ports are shown, the checksum is not judged."""
    import kame
    from kame.link.pcap import LINKTYPE_RAW, PcapWriter

    first = _first_fragment()
    p = kame.parse(first)
    assert (p.upper_proto, p.sport, p.dport) == (17, 5353, 53)
    assert p.fragment == (0, True, 0x1234) and p.cksum_ok is None
    buf = io.BytesIO()
    PcapWriter(buf, LINKTYPE_RAW).write(0.0, first)
    buf.seek(0)
    out = io.StringIO()
    tally = dissect_stream(buf, out)
    line = out.getvalue()
    assert tally["ok"] == 1, line
    assert "2001:db8::1.5353 > 2001:db8::2.53: UDP" in line
    assert "frag id 0x00001234 off 0 M" in line


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_first_fragment_ports_match_tshark(tmp_path):
    """tshark, told not to wait for the other fragments, reads the same
    ports from the same first fragment."""
    import kame
    from kame.link.pcap import LINKTYPE_RAW, PcapWriter

    first = _first_fragment()
    path = tmp_path / "first.pcap"
    with open(path, "wb") as f:
        PcapWriter(f, LINKTYPE_RAW).write(0.0, first)
    r = subprocess.run(
        ["tshark", "-r", str(path), "-o", "ipv6.defragment:FALSE", "-T", "fields",
         "-e", "udp.srcport", "-e", "udp.dstport", "-e", "ipv6.fraghdr.ident"],
        capture_output=True, text=True, check=True,
    )
    sport, dport, ident = r.stdout.strip().split("\t")
    p = kame.parse(first)
    assert (int(sport), int(dport)) == (p.sport, p.dport) == (5353, 53)
    assert int(ident, 16) == p.fragment[2]
