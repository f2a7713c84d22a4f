"""`kame dissect` against tcpdump on the same capture of real kernel
traffic (dissect_traffic.py: ND, MLD, ARP, pings flooded and fragmented,
port unreachables, UDP, HTTP on TCP port 80; a copy with 802.1Q tags):
a filter expression selects exactly the packets `tcpdump -r FILE EXPR`
selects (compiled by libpcap either way, run by our BPF machine); what
`-w` writes is what tcpdump writes, and tshark and capinfos read it; `-T
json` is one JSON object per packet; the lines agree with tcpdump's
field by field (addresses, ports, ICMPv6/ICMP messages, ARP)."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dissect_traffic import record, with_vlan_tags

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None:
    pytest.skip("needs root and iproute2", allow_module_level=True)

KAME = [sys.executable, "-m", "kame.cli.main"]


def kame(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KAME, "dissect", *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dfilter") / "kernel.pcap"
    record(path, 3000, prefix="kdf")
    return path


@pytest.fixture(scope="module")
def vlan_capture(capture: Path) -> Path:
    path = capture.with_name("vlan.pcap")
    with_vlan_tags(capture, path)
    return path


def records(path: Path) -> list[tuple[int, int, int, int, bytes]]:
    """Every record of a little-endian pcap: (sec, frac, caplen, len, data)."""
    data = path.read_bytes()
    out, pos = [], 24
    while pos + 16 <= len(data):
        sec, frac, caplen, orig = struct.unpack_from("<IIII", data, pos)
        out.append((sec, frac, caplen, orig, data[pos + 16:pos + 16 + caplen]))
        pos += 16 + caplen
    assert pos == len(data)
    return out


def frame_numbers(whole: list[Any], picked: list[Any]) -> list[int]:
    """The 1-based numbers in ``whole`` of the records ``picked`` (in order)."""
    out, i = [], 0
    for r in picked:
        while whole[i] != r:
            i += 1
        out.append(i + 1)
        i += 1
    return out


EXPRS = [
    "ip6", "ip", "icmp6", "icmp", "tcp port 80", "tcp", "udp", "arp", "not ip6",
    "host 2001:db8:9::2", "host 10.9.0.1", "src host 2001:db8:9::1 and dst port 80",
    "net 2001:db8:9::/64", "net 10.9.0.0/24", "ip6[40] == 135", "ip6[48] == 143",
    "icmp6 and (ip6[40] == 128 or ip6[40] == 129)", "ip6 and udp and port 5353",
    "portrange 5353-5355", "tcp[tcpflags] & tcp-syn != 0", "ip[6:2] & 0x3fff != 0",
    "ip6 protochain 44", "ether broadcast", "ether multicast", "greater 1000", "less 100",
    "icmp[icmptype] == icmp-unreach", "len > 1400 and ip6",
]
MUST_MATCH = {"ip6", "ip", "icmp6", "icmp", "tcp port 80", "udp", "arp", "ip6[40] == 135",
              "ip6[48] == 143", "ip6 protochain 44", "ip[6:2] & 0x3fff != 0",
              "icmp[icmptype] == icmp-unreach", "net 2001:db8:9::/64"}
VLAN_EXPRS = ["vlan", "vlan 100", "vlan 101 and icmp", "vlan and ip6", "not vlan",
              "vlan and tcp port 80", "ip6"]


def _agree(path: Path, expr: str, tmp_path: Path) -> list[int]:
    theirs, ours = tmp_path / "theirs.pcap", tmp_path / "ours.pcap"
    subprocess.run(["tcpdump", "-r", str(path), "-w", str(theirs), expr], check=True,
                   capture_output=True)
    r = kame("-n", "-r", str(path), "-w", str(ours), expr)
    assert r.returncode == 0, r.stderr
    assert records(ours) == records(theirs), expr
    # byte for byte: tcpdump copies the file header of the capture it
    # reads (tcpdump wrote this one), and so do we
    assert ours.read_bytes() == theirs.read_bytes(), expr
    whole = records(path)
    want = frame_numbers(whole, records(theirs))
    r = kame("-n", "-T", "json", "-r", str(path), *expr.split())
    assert r.returncode == 0, r.stderr
    got = [json.loads(line)["frame"] for line in r.stdout.splitlines()]
    assert got == want, expr
    return got


@pytest.mark.parametrize("expr", EXPRS)
def test_filter_selects_what_tcpdump_selects(capture: Path, tmp_path: Path, expr: str) -> None:
    got = _agree(capture, expr, tmp_path)
    if expr in MUST_MATCH:
        assert got, f"the capture holds no {expr!r} packet: the test would prove nothing"


@pytest.mark.parametrize("expr", VLAN_EXPRS)
def test_vlan_filters_select_what_tcpdump_selects(vlan_capture: Path, tmp_path: Path,
                                                  expr: str) -> None:
    got = _agree(vlan_capture, expr, tmp_path)
    assert got or expr == "vlan and tcp port 80"


@pytest.mark.parametrize("expr", ["ip6 and", "tcp port 99999", "host 300.1.1.1", "frobnicate",
                                  "ip6[40] ==", "ether host 02:00", "(ip", "vlan 5000"])
def test_invalid_expressions_exit_2_with_one_line(capture: Path, expr: str) -> None:
    td = subprocess.run(["tcpdump", "-r", str(capture), expr], capture_output=True, text=True,
                        check=False)
    assert td.returncode != 0  # tcpdump refuses it too
    r = kame("-r", str(capture), *expr.split())
    assert r.returncode == 2, (expr, r.stdout[:200])
    assert r.stdout == "" and r.stderr.startswith("kame dissect: filter: ")
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_written_capture_is_read_by_tshark_and_capinfos(capture: Path, tmp_path: Path) -> None:
    out = tmp_path / "icmp6.pcap"
    r = kame("-r", str(capture), "-w", str(out), "-c", "100", "icmp6")
    assert r.returncode == 0 and "100 packets" in r.stderr
    info = subprocess.run(["capinfos", "-c", "-M", str(out)], capture_output=True, text=True,
                          check=True).stdout
    assert re.search(r"Number of packets:\s+100\b", info), info
    t = subprocess.run(["tshark", "-r", str(out), "-T", "fields", "-e", "ipv6.nxt",
                        "-e", "_ws.malformed"], capture_output=True, text=True, check=True)
    rows = t.stdout.splitlines()
    # ICMPv6 right after the IPv6 header, or after a Hop-by-Hop header (MLD)
    # or a Fragment header; nothing malformed.
    assert len(rows) == 100 and all(row.split("\t")[0].split(",")[0] in ("58", "0", "44") for row in rows)
    assert all(row.split("\t")[1] == "" for row in rows), rows


def test_json_lines_parse_and_match_tshark(capture: Path) -> None:
    r = kame("-T", "json", "-r", str(capture))
    assert r.returncode == 0
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    t = subprocess.run(["tshark", "-r", str(capture), "-T", "fields", "-e", "frame.number",
                        "-e", "ipv6.src", "-e", "ip.src", "-e", "frame.len"],
                       capture_output=True, text=True, check=True)
    rows = [line.split("\t") for line in t.stdout.splitlines()]
    assert len(objs) == len(rows) == 3000
    for o, (no, src6, src4, flen) in zip(objs, rows, strict=True):
        assert o["frame"] == int(no) and o["len"] == int(flen)
        if "src" in o:  # an accepted IP packet: its outer source address
            assert o["src"] == (src6 or src4).split(",")[0], o
        assert o["verdict"] in ("ok", "cksum bad", "drop", "not ip")


#: Our words that tcpdump prints the same, between the addresses and the length.
_SAME = re.compile(r"^(ICMP6, (echo request|echo reply|neighbor solicitation|neighbor advertisement|"
                   r"multicast listener report v2)|ICMP (echo|\S+ udp port)|ARP, )")


def test_lines_agree_with_tcpdump_field_by_field(capture: Path) -> None:
    """Addresses and ports of every IP packet; the whole message for ICMPv6
    echoes, NS, NA, MLDv2 reports, ICMP echoes and port unreachables, ARP."""
    td = subprocess.run(["tcpdump", "-nr", str(capture)], capture_output=True, text=True,
                        check=True).stdout.splitlines()
    r = kame("-n", "-r", str(capture))
    ours = r.stdout.splitlines()[:-1]  # the summary line
    assert len(ours) == len(td) == 3000
    compared = 0
    for a, b in zip(ours, td, strict=True):
        a = re.sub(r"^\s*\d+\s+-?\d+\.\d+ ", "", a).rsplit("  [", 1)[0]
        b = b.split(" ", 1)[1]
        if b.startswith(("IP6 ", "IP ")) and not a.startswith("["):
            assert a.split(" ")[:4] == b.split(" ")[:4], (a, b)
        what = a.split(": ", 1)[1] if ": " in a else a
        if _SAME.match(what):
            mine = what.split(", length")[0]
            assert mine in b, (a, b)
            compared += 1
    assert compared > 1000
