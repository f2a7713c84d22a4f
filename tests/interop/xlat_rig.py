"""TAYGA (Debian's stateless NAT64 on a TUN device) as the translator's
oracle: a namespace with TAYGA on its TUN, and a feeder run inside that
namespace which writes packets into the TUN (an AF_PACKET socket sending
on the interface hands them to TAYGA) and reads what TAYGA writes back.

After every corpus packet the feeder sends a marker (an ICMPv6 echo that
TAYGA translates) and collects until the marker's translation arrives:
TAYGA is one thread reading its TUN in order, so whatever came before the
marker is that packet's answer, with no timing guesses.

Run as a script inside the namespace: ``xlat_rig.py feed DEV`` (JSON
lines in, JSON lines out) or ``xlat_rig.py bench DEV N`` (packets per
second through TAYGA for a hex corpus on stdin)."""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
PACKET_OUTGOING = 4

# The addresses both translators are configured with.
PREFIX = "2001:db8:64::/96"
TAYGA4 = "192.0.2.1"
TAYGA6 = "2001:db8:ff::1"
HOST6 = "2001:db8:1::2"   # the IPv6 host, mapped 1:1 (EAM / TAYGA `map`)
HOST4 = "192.0.2.2"
REMOTE4 = "198.51.100.10"  # an IPv4 host, reached through the prefix
REMOTE6 = "2001:db8:64::c633:640a"
MARK_ID = 0xBEEF


def marker(seq: int) -> bytes:
    from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6

    return bytes(IPv6(src=HOST6, dst=REMOTE6, hlim=64) / ICMPv6EchoRequest(id=MARK_ID, seq=seq & 0xFFFF))


def is_marker(p: bytes) -> int | None:
    """The sequence number of a translated marker, or None."""
    if len(p) >= 28 and p[0] >> 4 == 4 and p[9] == 1 and p[20] == 8 and p[24:26] == MARK_ID.to_bytes(2, "big"):
        return int.from_bytes(p[26:28], "big")
    return None


@contextmanager
def tayga(ns: str, dev: str = "nat64") -> Iterator[str]:
    """TAYGA running on TUN ``dev`` in namespace ``ns``; yields the device."""
    if shutil.which("tayga") is None:
        raise RuntimeError("tayga is not installed (apt-get install tayga; it is in .ci/run)")
    d = Path(tempfile.mkdtemp(prefix="tayga-"))
    conf = d / "tayga.conf"
    conf.write_text(f"tun-device {dev}\nipv4-addr {TAYGA4}\nipv6-addr {TAYGA6}\nprefix {PREFIX}\n"
                    f"map {HOST4} {HOST6}\ndata-dir {d}\n")

    def run(*a: str) -> None:
        subprocess.run(["ip", "netns", "exec", ns, *a], check=True, capture_output=True, timeout=60)

    run("tayga", "-c", str(conf), "--mktun")
    run("ip", "link", "set", dev, "up")
    run("ip", "link", "set", dev, "mtu", "9000")
    p = subprocess.Popen(["ip", "netns", "exec", ns, "tayga", "-d", "-c", str(conf)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield dev
    finally:
        p.terminate()
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=20)
        subprocess.run(["ip", "netns", "exec", ns, "tayga", "-c", str(conf), "--rmtun"],
                       capture_output=True, timeout=60, check=False)
        shutil.rmtree(d, ignore_errors=True)


class Feeder:
    """The feeder process inside the namespace, driven over pipes."""

    def __init__(self, ns: str, dev: str) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self.p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, str(Path(__file__)), "feed", dev],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

    def translate(self, pkt: bytes) -> list[bytes]:
        assert self.p.stdin is not None and self.p.stdout is not None
        self.p.stdin.write(pkt.hex() + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("the TAYGA feeder died")
        return [bytes.fromhex(h) for h in json.loads(line)]

    def close(self) -> None:
        if self.p.stdin:
            self.p.stdin.close()
        try:
            self.p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(timeout=20)


def _sock(dev: str) -> tuple[socket.socket, int]:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
    s.bind((dev, ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    return s, socket.if_nametoindex(dev)


def _send(s: socket.socket, dev: str, pkt: bytes) -> None:
    proto = ETH_P_IPV6 if pkt and pkt[0] >> 4 == 6 else ETH_P_IP
    s.sendto(pkt, (dev, proto))


def _recv(s: socket.socket, deadline: float) -> bytes | None:
    """The next packet TAYGA wrote (not one we sent), or None at the deadline."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        r, _, _ = select.select([s], [], [], left)
        if not r:
            return None
        data, addr = s.recvfrom(65536)
        if addr[2] != PACKET_OUTGOING:
            return data


def _feed(dev: str) -> None:
    s, _ = _sock(dev)
    for seq, line in enumerate(sys.stdin, start=1):
        pkt = bytes.fromhex(line.strip())
        _send(s, dev, pkt)
        _send(s, dev, marker(seq))
        out: list[str] = []
        deadline = time.monotonic() + 60
        while (p := _recv(s, deadline)) is not None:
            m = is_marker(p)
            if m == seq & 0xFFFF:
                break
            if m is None:
                out.append(p.hex())
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


def _bench(dev: str, n: int) -> None:
    """Write ``n`` packets (cycling the corpus on stdin) into TAYGA's TUN
    and read its translations; print packets per second."""
    corpus = [bytes.fromhex(line.strip()) for line in sys.stdin if line.strip()]
    s, _ = _sock(dev)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    got = 0
    t0 = time.perf_counter()
    window = 256  # in flight at most, so neither queue overflows
    sent = 0
    while sent < n or got < sent:
        while sent < n and sent - got < window:
            _send(s, dev, corpus[sent % len(corpus)])
            sent += 1
        p = _recv(s, time.monotonic() + 5)
        if p is None:
            break
        got += 1
    dt = time.perf_counter() - t0
    print(json.dumps({"sent": sent, "translated": got, "seconds": dt, "pps": got / dt if dt else 0.0}))


if __name__ == "__main__":
    if sys.argv[1] == "feed":
        _feed(sys.argv[2])
    elif sys.argv[1] == "bench":
        _bench(sys.argv[2], int(sys.argv[3]))
