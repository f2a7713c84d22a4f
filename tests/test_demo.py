"""`kame demo`: the trace shows every phase, the run is deterministic, and
the capture it writes reads back with the right packets."""

from __future__ import annotations

import io
import re
from pathlib import Path

import kame
from kame.cli.demo import run_demo
from kame.cli.main import main
from kame.link.pcap import PcapReader


def _run(pcapng: bool = False) -> tuple[int, str, bytes]:
    out, cap = io.StringIO(), io.BytesIO()
    rc = run_demo(out, cap, pcapng=pcapng)
    return rc, out.getvalue(), cap.getvalue()


def test_trace_shows_each_phase() -> None:
    rc, text, _ = _run()
    assert rc == 0, text
    phases = re.findall(r"^=== (.*) ===$", text, re.MULTILINE)
    assert [p[:2] for p in phases] == ["1.", "2.", "3.", "su"]
    sections = re.split(r"^=== .* ===$", text, flags=re.MULTILINE)
    up, slaac, ping, summary = sections[1:]
    # phase 1: DAD probes from :: for each link-local, then each is unique
    for mac_tail, name in (("1", "r"), ("a", "h1"), ("b", "h2")):
        ll = f"fe80::ff:fe00:{mac_tail}"
        assert re.search(rf"{name} +> IP6 :: > ff02::1:ff00:{mac_tail}: ICMP6, neighbor "
                         rf"solicitation, who has {ll},", up), name
        assert re.search(rf"{name} +\* DAD: {ll} on eth0 is unique", up), name
    assert re.search(r"h\d +> IP6 :: > ff02::2: ICMP6, router solicitation", up)
    assert "multicast listener report v2" in up
    # phase 2: the router's RA with the prefix, SLAAC and DAD on both hosts
    assert re.search(r"r +> IP6 fe80::ff:fe00:1 > ff02::1: ICMP6, router advertisement, .*"
                     r"prefix 2001:db8:1::/64", slaac)
    for tail, name in (("a", "h1"), ("b", "h2")):
        g = f"2001:db8:1::ff:fe00:{tail}"
        assert re.search(rf"{name} +\* SLAAC: {g} on eth0 \(tentative", slaac)
        assert re.search(rf"{name} +> IP6 :: > ff02::1:ff00:{tail}: .*who has {g},", slaac)
        assert re.search(rf"{name} +\* DAD: {g} on eth0 is unique", slaac)
        assert re.search(rf"{name} +\* default router fe80::ff:fe00:1%eth0 installed", slaac)
    # phase 3: address resolution, then three echoes answered
    assert re.search(r"h1 +> IP6 2001:db8:1::ff:fe00:a > ff02::1:ff00:b: .*neighbor "
                     r"solicitation, who has 2001:db8:1::ff:fe00:b", ping)
    assert re.search(r"h2 +> IP6 2001:db8:1::ff:fe00:b > 2001:db8:1::ff:fe00:a: .*neighbor "
                     r"advertisement, tgt is 2001:db8:1::ff:fe00:b \[SO\]", ping)
    assert len(re.findall(r"h2 +> .*echo reply", ping)) == 3
    assert len(re.findall(r"h1 +\* ping6: 64 bytes from 2001:db8:1::ff:fe00:b, icmp_seq=\d",
                          ping)) == 3
    assert "3 packets transmitted, 3 packets received, 0.0% packet loss" in summary


def test_deterministic_trace_and_capture() -> None:
    a, b = _run(), _run()
    assert a == b
    ng1, ng2 = _run(pcapng=True), _run(pcapng=True)
    assert ng1 == ng2 and ng1[1] == a[1]


def test_capture_holds_every_traced_frame() -> None:
    _, text, cap = _run()
    recs = list(PcapReader(io.BytesIO(cap)))
    traced = [ln for ln in text.splitlines() if re.match(r" *\d+\.\d+ \S+ +> ", ln)]
    assert len(recs) == len(traced) > 20
    for rec, line in zip(recs, traced, strict=True):
        p = kame.parse(rec.frame, link="ether")
        assert p.cksum_ok is not False
        assert f"IP6 {p.src} > {p.dst}:" in line
        assert abs(float(line.split()[0]) - rec.ts) < 1e-6


def test_cli_writes_default_file(tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert f"wrote pcap: {tmp_path / 'kame-demo.pcap'}" in out
    assert (tmp_path / "kame-demo.pcap").stat().st_size > 1000


def test_dissect_reads_the_pcapng_demo(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "d.pcapng"
    assert main(["demo", "-w", str(path)]) == 0
    assert path.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
    capsys.readouterr()
    assert main(["dissect", str(path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^(\d+) packets: \1 ok, 0 bad checksum, 0 dropped$", out, re.MULTILINE)
    assert "echo reply" in out and "router advertisement" in out
