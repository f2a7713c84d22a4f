"""tshark reads the ECN CE marks ALTQ's RED sets (seed §5): on IPv4 the
header checksum still verifies, on IPv6 the traffic class's DSCP and the
flow label are kept; Not-ECT packets are never marked."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kame.link.pcap import PcapWriter
from kame.node import Node
from kame.socket import SocketLayer
from kame.socket.const import AF_INET, AF_INET6, IPPROTO_IPV6, IPV6_TCLASS, SOCK_DGRAM
from kame.socket.inctl import IP_TOS, IPPROTO_IP

MAC = bytes.fromhex("020000000001")


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is installed by .ci/run")
def test_tshark_reads_our_ce_marks(tmp_path: Path) -> None:
    n = Node("a", seed=1)
    n.add_interface("eth0", MAC)
    n.add_address("eth0", "2001:db8::1/64", 0.0)
    n.add_address4("eth0", "192.0.2.1/24", 0.0)
    n.up("eth0", 0.0)
    t = 0.0
    while (d := n.next_deadline()) is not None and d < 30:  # DAD, RFC 5227 probes
        n.poll(d)
        t = d
    # a 1 Mb/s link under RED with ECN: thresholds low so a burst marks
    n.altq_config("interface eth0 bandwidth 1M tbrsize 1600 red thmin 2 thmax 40 "
                  "invpmax 1 weight 1 qlimit 100 ecn\n")
    layer = SocketLayer(n, "linux")
    s6 = layer.socket(AF_INET6, SOCK_DGRAM)
    s4 = layer.socket(AF_INET, SOCK_DGRAM)
    s6.setsockopt(IPPROTO_IPV6, IPV6_TCLASS, 0xB9)  # EF + ECT(1)
    s4.setsockopt(IPPROTO_IP, IP_TOS, 0xB8 | 2)  # EF + ECT(0)
    frames: list[tuple[float, bytes]] = []
    for i in range(60):
        s6.sendto(bytes(300), ("ff02::1%eth0", 9))
        s4.sendto(bytes(300), ("224.0.0.1", 9))
        if i % 20 == 19:
            frames += [(t, f) for _, f in n.poll(t)]
            t += 0.0005
    while (d := n.next_deadline()) is not None and d < t + 10:
        t = d
        frames += [(t, f) for _, f in n.poll(t)]
    pcap = tmp_path / "ce.pcap"
    with open(pcap, "wb") as fh:
        w = PcapWriter(fh)
        for ts, f in frames:
            w.write(ts, f)
    out = subprocess.run(
        ["tshark", "-r", str(pcap), "-o", "ip.check_checksum:TRUE", "-T", "fields",
         "-E", "separator=,", "-e", "ip.dsfield.ecn", "-e", "ip.checksum.status",
         "-e", "ipv6.tclass.dscp", "-e", "ipv6.tclass.ecn", "-e", "_ws.expert.severity",
         "-Y", "udp"],
        capture_output=True, text=True, check=True, timeout=120).stdout.split("\n")
    rows = [r.split(",") for r in out if r]
    v4 = [r for r in rows if r[0]]
    v6 = [r for r in rows if r[3]]
    assert v4 and v6
    assert {r[1] for r in v4} == {"1"}  # checksum good (1) on every datagram, marked or not
    assert {r[0] for r in v4} <= {"2", "3"} and any(r[0] == "3" for r in v4)
    assert {r[2] for r in v6} == {"46"}
    assert {r[3] for r in v6} <= {"1", "3"} and any(r[3] == "3" for r in v6)
    assert not any(r[4] for r in rows)  # no malformed or expert mark
    snap = n.altq.snapshot()[0]["classes"][0]  # type: ignore[union-attr]
    marked = sum(1 for r in v4 if r[0] == "3") + sum(1 for r in v6 if r[3] == "3")
    assert snap["red"]["marked"] == marked
    assert snap["xmit_packets"] == len(frames)
