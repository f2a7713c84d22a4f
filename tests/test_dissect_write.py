"""`kame dissect -w`: the selected records copied as they are, from a
file mapped by the core (or fed in chunks), a pcapng written as a pcapng
so that every packet keeps its own interface and link type; checked
against tcpdump's -w and tshark's reading of what was written."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import Ether

import kame._core
from kame import capture
from kame.cli.dissect import compile_filters
from kame.cli.main import main
from kame.link.pcap import LINKTYPE_ETHERNET, LINKTYPE_RAW, PcapngWriter, PcapWriter

E = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
V6 = IPv6(src="2001:db8::1", dst="2001:db8::2")
ETHER = [bytes(f) for f in [
    E / V6 / UDP(sport=1000, dport=53) / b"q",
    E / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=7, dport=9),
    E / V6 / ICMPv6EchoRequest(id=1, seq=2),
    E / V6 / UDP(sport=5353, dport=5353) / (b"m" * 300),
]]
RAW = [bytes(f) for f in [
    V6 / UDP(sport=2000, dport=53) / b"r",
    IP(src="198.51.100.1", dst="198.51.100.2") / UDP(sport=1, dport=2),
    V6 / ICMPv6EchoRequest(id=3, seq=4),
]]


def pcap_file(path: Path, frames: list[bytes]) -> None:
    with open(path, "wb") as f:
        w = PcapWriter(f, LINKTYPE_ETHERNET)
        for i, fr in enumerate(frames):
            w.write(1_700_000_000 + i * 0.5, fr)


def two_link_types(path: Path, rounds: int = 5) -> list[tuple[int, bytes]]:
    """A pcapng with interface 0 Ethernet and interface 1 raw IP,
    their packets interleaved; returns (interface, frame) in order."""
    out = []
    with open(path, "wb") as f:
        w = PcapngWriter(f, LINKTYPE_ETHERNET)
        w.add_interface(LINKTYPE_RAW)
        t = 1_700_000_000.0
        for _ in range(rounds):
            for i, fr in [*((0, e) for e in ETHER), *((1, r) for r in RAW)]:
                w.write(t, fr, interface=i)
                out.append((i, fr))
                t += 0.25
    return out


def test_w_of_a_pcap_writes_what_tcpdump_writes(tmp_path):
    src, ours, theirs = tmp_path / "in.pcap", tmp_path / "k.pcap", tmp_path / "t.pcap"
    pcap_file(src, ETHER * 50)
    for expr in ("ip6 and udp", "ip", "icmp6", "udp port 53 or udp port 9"):
        assert main(["dissect", "-r", str(src), "-w", str(ours), expr]) == 0
        subprocess.run(["tcpdump", "-r", str(src), "-w", str(theirs), expr], check=True,
                       capture_output=True)
        # tcpdump writes its own file header (snaplen, version); the records agree
        assert ours.read_bytes()[24:] == theirs.read_bytes()[24:], expr
        assert ours.read_bytes()[:24] == src.read_bytes()[:24]


def test_w_of_a_pcapng_keeps_each_packet_under_its_own_interface(tmp_path, capsys):
    src, out = tmp_path / "in.pcapng", tmp_path / "out.pcapng"
    frames = two_link_types(src)
    assert main(["dissect", "-r", str(src), "-w", str(out), "ip6"]) == 0
    data = out.read_bytes()
    assert data[:4] == b"\x0a\x0d\x0d\x0a", "a pcapng is written as a pcapng"
    want = [(i, fr) for i, fr in frames if fr[0] >> 4 == 6 or fr[12:14] == b"\x86\xdd"]
    t = capture.read(out)
    assert t.column("interface").to_pylist() == [i for i, _ in want]
    assert t.column("linktype").to_pylist() == [(LINKTYPE_ETHERNET, LINKTYPE_RAW)[i] for i, _ in want]
    assert set(t.column("ip_version").to_pylist()) == {6}
    # tshark reads each packet with its interface's link type
    r = subprocess.run(["tshark", "-r", str(out), "-T", "fields", "-e", "frame.interface_id",
                        "-e", "ipv6.src", "-e", "frame.len"], capture_output=True, text=True,
                       check=True)
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    assert [(int(a), b, int(c)) for a, b, c in rows] == [
        (i, "2001:db8::1", len(fr)) for i, fr in want]
    capsys.readouterr()


@pytest.mark.parametrize("expr", [None, "ip6", "udp", "ip and udp"])
@pytest.mark.parametrize("count", [0, 3])
def test_the_mapped_file_writes_what_the_chunks_write(tmp_path, expr, count):
    src = tmp_path / "in.pcapng"
    two_link_types(src, rounds=30)
    plain = tmp_path / "in.pcap"
    pcap_file(plain, ETHER * 40)
    for path in (src, plain):
        filters = compile_filters(expr) if expr else None
        fed = kame._core.Dissector(write=True, count=count, filters=filters)
        data = path.read_bytes()
        chunks = []
        for at in range(0, len(data), 777):
            chunks.append(fed.feed(data[at:at + 777], False)[1])
        chunks.append(fed.feed(b"", True)[1])
        want, want_tally = b"".join(chunks), fed.close()
        mapped = kame._core.Dissector(write=True, count=count, filters=filters)
        out = tmp_path / "out"
        with open(path, "rb") as f, open(out, "wb") as g:
            mapped.write_file(f.fileno(), g.fileno())
        assert out.read_bytes() == want, (path.name, expr, count)
        assert mapped.close() == want_tally
        assert mapped.frames == fed.frames


def test_gzip_and_standard_input_write_the_same(tmp_path):
    src = tmp_path / "in.pcapng"
    two_link_types(src)
    mapped = tmp_path / "m.pcapng"
    assert main(["dissect", "-r", str(src), "-w", str(mapped), "udp"]) == 0
    gz = tmp_path / "in.pcapng.gz"
    gz.write_bytes(gzip.compress(src.read_bytes()))
    streamed = tmp_path / "s.pcapng"
    assert main(["dissect", "-r", str(gz), "-w", str(streamed), "udp"]) == 0
    assert streamed.read_bytes() == mapped.read_bytes()
    assert len(capture.read(io.BytesIO(mapped.read_bytes()))) == 5 * 5


def test_write_file_refuses_misuse(tmp_path):
    d = kame._core.Dissector()
    with pytest.raises(ValueError, match="write=True"):
        d.write_file(0, 1)
    d = kame._core.Dissector(write=True)
    with pytest.raises(ValueError):
        d.write_file(-1, 1)
    with tmp_path.joinpath("p").open("wb") as p, open("/dev/null", "rb") as n, \
            pytest.raises(OSError):
        d.write_file(n.fileno(), p.fileno())


@pytest.mark.parametrize("expr", [None, "ip6", "ip and udp"])
@pytest.mark.parametrize("count", [0, 3])
@pytest.mark.parametrize("opts", [{}, {"json": True}, {"verbose": 2, "link": True},
                                  {"quiet": True}])
def test_the_mapped_file_prints_what_the_chunks_print(tmp_path, expr, count, opts):
    """``print_file``: lines written to a descriptor by the core from the
    mapped file, the same as fed in chunks (a text bigger than a write's
    1 MiB included)."""
    src = tmp_path / "in.pcapng"
    two_link_types(src, rounds=30)
    plain = tmp_path / "in.pcap"
    pcap_file(plain, ETHER * (4000 if not count and not expr and not opts else 40))
    for path in (src, plain):
        filters = compile_filters(expr) if expr else None
        fed = kame._core.Dissector(count=count, filters=filters, **opts)
        data = path.read_bytes()
        chunks = []
        for at in range(0, len(data), 777):
            chunks.append(fed.feed(data[at:at + 777], False)[0])
        chunks.append(fed.feed(b"", True)[0])
        want, want_tally = "".join(chunks), fed.close()
        mapped = kame._core.Dissector(count=count, filters=filters, **opts)
        out = tmp_path / "out"
        with open(path, "rb") as f, open(out, "wb") as g:
            mapped.print_file(f.fileno(), g.fileno())
        assert out.read_text() == want, (path.name, expr, count, opts)
        assert mapped.close() == want_tally
        assert mapped.frames == fed.frames
    with pytest.raises(ValueError, match="write=False"):
        kame._core.Dissector(write=True).print_file(0, 1)


def test_kame_dissect_prints_a_file_as_it_prints_a_pipe(tmp_path):
    """The command's output, mapped (a regular file to standard output)
    and read in chunks (standard input), is the same."""
    src = tmp_path / "in.pcap"
    pcap_file(src, ETHER * 500)
    for words in (["-n"], ["-n", "-T", "json"], ["-n", "-c", "7", "udp"], ["-nvv", "-e"]):
        by_file = subprocess.run([sys.executable, "-m", "kame", "dissect", *words[:1], "-r",
                                  str(src), *words[1:]], capture_output=True, check=True)
        with open(src, "rb") as f:
            by_pipe = subprocess.run([sys.executable, "-m", "kame", "dissect", *words[:1], "-r",
                                      "-", *words[1:]], input=f.read(), capture_output=True,
                                     check=True)
        assert by_file.stdout == by_pipe.stdout and by_file.stdout.count(b"\n") > 7, words
