"""A capture of real kernel traffic for `kame dissect`'s tests and its
benchmark: two namespaces joined by a veth pair (), while
tcpdump (`-i va`, Ethernet) records ``packets`` frames. The kernels send
ND and MLD (the link comes up again), ARP, ICMPv6/ICMP echoes (flooded,
and fragmented at 3000 octets), ICMPv6/ICMP port unreachables, UDP
datagrams, HTTP over TCP port 80 (python's http.server, curl). No VLAN here (the
kernel has no 8021q module): `with_vlan_tags` adds 802.1Q tags to some
frames of such a capture. Imported by tests/interop (pytest puts this folder on sys.path)
and by benches/bench_dissect.py."""

from __future__ import annotations

import signal
import subprocess
import tempfile
import time
from pathlib import Path

from netns_rig import fresh_netns, ipns

UDP = """
import socket, sys
n = int(sys.argv[1])
s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    s6.sendto(b"q" * (i % 200), ("2001:db8:9::2", 5353 + i % 3))
    s4.sendto(b"r" * (i % 100), ("10.9.0.2", 9 + i % 2))
"""


def _links(a: str, b: str) -> None:
    subprocess.run(["ip", "link", "add", "va", "netns", a, "type", "veth", "peer", "name", "vb",
                    "netns", b], check=True, capture_output=True)
    for ns, dev, n in ((a, "va", 1), (b, "vb", 2)):
        ipns(ns, "ip", "link", "set", "lo", "up")
        ipns(ns, "ip", "addr", "add", f"10.9.0.{n}/24", "dev", dev)
        ipns(ns, "ip", "addr", "add", f"2001:db8:9::{n}/64", "dev", dev, "nodad")
        ipns(ns, "sysctl", "-qw", f"net.ipv6.conf.{dev}.keep_addr_on_down=1")
        ipns(ns, "ip", "link", "set", dev, "up")
        # One frame per segment on the capture (no GSO super-frames).
        ipns(ns, "ip", "link", "set", dev, "gso_max_size", "1500", check=False)


def _round(a: str, b: str, flood: int) -> None:
    for ns in (a, b):
        ipns(ns, "ip", "neigh", "flush", "all", check=False)
    ipns(b, "ip", "link", "set", "vb", "down")  # MLD reports and DAD when it comes back
    ipns(b, "ip", "link", "set", "vb", "up")
    time.sleep(0.3)
    ipns(a, "ping", "-6", "-c1", "-w5", "2001:db8:9::2", check=False)  # vb is back
    ipns(a, "ping", "-c2", "-i0.01", "-W2", "10.9.0.2", check=False)
    ipns(a, "ping", "-6", "-c2", "-i0.01", "-W2", "2001:db8:9::2", check=False)
    ipns(a, "ping", "-6", "-c2", "-i0.01", "-W2", "-s", "3000", "2001:db8:9::2", check=False)
    ipns(a, "ping", "-c2", "-i0.01", "-W2", "-s", "3000", "10.9.0.2", check=False)
    ipns(a, "ping", "-6", "-c2", "-i0.01", "-W2", "fe80::1%va", check=False)  # unanswered ND
    ipns(a, "python3", "-c", UDP, "50", check=False)
    for url in ("http://[2001:db8:9::2]/", "http://10.9.0.2/", "http://[2001:db8:9::2]/big"):
        ipns(a, "curl", "-s", "-o", "/dev/null", "--max-time", "10", url, check=False)
    if flood:
        ipns(a, "ping", "-6", "-f", "-c", str(flood), "-w", "120", "-s", "1000", "2001:db8:9::2",
             check=False, timeout=300)
        ipns(a, "ping", "-f", "-c", str(flood), "-w", "120", "-s", "1000", "10.9.0.2", check=False,
             timeout=300)


def record(path: Path, packets: int, *, prefix: str = "kdt") -> None:
    """Write ``packets`` frames of kernel traffic to ``path`` (pcap,
    Ethernet, as `tcpdump -i va -w` writes it)."""
    with fresh_netns(f"{prefix}a") as a, fresh_netns(f"{prefix}b") as b, \
            tempfile.TemporaryDirectory() as www:
        _links(a, b)
        (Path(www) / "big").write_bytes(bytes(range(256)) * 4096)  # 1 MiB over TCP port 80
        srv = subprocess.Popen(["ip", "netns", "exec", b, "python3", "-m", "http.server", "80",
                                "--bind", "::", "--directory", www],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        dump = subprocess.Popen(["ip", "netns", "exec", a, "tcpdump", "-i", "va", "-s", "262144",
                                 "-c", str(packets), "-w", str(path)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            assert dump.stderr is not None
            line = dump.stderr.readline()
            assert "listening on va" in line, line
            time.sleep(0.5)  # the server is listening
            # Each round is a few hundred frames besides the floods.
            flood = max(0, (packets - 2000) // 4)
            for _ in range(200):
                _round(a, b, flood)
                if dump.poll() is not None:
                    break
                flood = min(flood, 2000) or 200
        finally:
            if dump.poll() is None:
                dump.send_signal(signal.SIGINT)
            dump.wait(timeout=60)
            srv.kill()
            srv.wait()


def with_vlan_tags(src: Path, dst: Path, every: int = 3) -> None:
    """``src`` with an 802.1Q tag (VLAN 100, 101 or 102 in turn, priority 5) put into
    every ``every``-th Ethernet frame (pcap, little-endian as tcpdump
    writes it)."""
    import struct
    data = src.read_bytes()
    out = bytearray(data[:24])
    pos, i = 24, 0
    while pos + 16 <= len(data):
        sec, frac, caplen, orig = struct.unpack_from("<IIII", data, pos)
        frame = data[pos + 16:pos + 16 + caplen]
        pos += 16 + caplen
        if i % every == 0 and len(frame) >= 14:
            tci = (5 << 13) | (100 + (i // every) % 3)
            frame = frame[:12] + struct.pack("!HH", 0x8100, tci) + frame[12:]
            caplen, orig = caplen + 4, orig + 4
        out += struct.pack("<IIII", sec, frac, caplen, orig) + frame
        i += 1
    dst.write_bytes(bytes(out))
