"""Segmentation and checksum offload on the TAP (issue 9, benchmarks):
the ``virtio_net_hdr`` of ``IFF_VNET_HDR`` checked and completed on input
(a header that lies is a typed error, a counted drop at the device), the
header of a super-segment on output, and TCP sending super-segments
(``TsoFrame``) on an interface that segments for it, byte-exact, and never
under IPsec or to a peer that cannot take them."""

from __future__ import annotations

import os
import socket
import struct
from ipaddress import IPv6Address
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kame import _core
from kame.errors import KameError, MalformedError, TruncatedError
from kame.in6_var import TsoFrame
from kame.link.memory import MemoryLink, Simulation
from kame.link.tap import TapDevice
from kame.node import Node
from kame.socket import AF_INET, AF_INET6, SocketLayer
from kame.socket.stream import SOCK_STREAM

A, B = IPv6Address("2001:db8::a"), IPv6Address("2001:db8::b")
A4, B4 = "192.0.2.10", "192.0.2.11"
MA, MB = bytes.fromhex("020000000a0a"), bytes.fromhex("020000000b0b")


def vnet(flags: int = 0, gso_type: int = 0, hdr_len: int = 0, gso_size: int = 0,
         csum_start: int = 0, csum_offset: int = 0) -> bytes:
    return struct.pack("<BBHHHH", flags, gso_type, hdr_len, gso_size, csum_start, csum_offset)


def fold(x: int) -> int:
    while x >> 16:
        x = (x & 0xFFFF) + (x >> 16)
    return x


def pseudo_sum(src: IPv6Address, dst: IPv6Address, length: int) -> int:
    b = src.packed + dst.packed + struct.pack("!IxxxB", length, 6)
    return fold(sum(struct.unpack(f"!{len(b) // 2}H", b)))


def tcp_frame(payload: bytes, *, partial: bool) -> bytes:
    """An Ethernet/IPv6/TCP frame from A to B; with ``partial`` its TCP
    checksum field holds only the pseudo-header sum, as the kernel leaves it
    under ``CHECKSUM_PARTIAL``."""
    pkt = bytearray(_core.tcp6_output(A, B, 64, 0, 80, 1234, 1000, 2000, 0x18, 512, b"",
                                      payload))
    if partial:
        pkt[40 + 16:40 + 18] = struct.pack("!H", pseudo_sum(A, B, len(pkt) - 40))
    return MB + MA + b"\x86\xdd" + bytes(pkt)


@given(st.binary(max_size=120))
@settings(max_examples=400, deadline=None)
def test_vnet_input_any_octets(b: bytes) -> None:
    """Whatever the device hands us: a frame 10 octets shorter, or a typed error."""
    try:
        frame, gso = _core.vnet_input(b)
    except KameError:
        return
    assert len(frame) == len(b) - 10 and 0 <= gso <= 0xFFFF


@given(st.binary(min_size=0, max_size=3000), st.booleans(), st.integers(1, 1500))
@settings(max_examples=150, deadline=None)
def test_vnet_input_completes_the_kernels_checksum(payload: bytes, gso: bool, size: int) -> None:
    """NEEDS_CSUM: the frame comes out with the checksum the wire would
    carry, which the TCP parser verifies under the pseudo-header."""
    f = tcp_frame(payload, partial=True)
    h = vnet(1, 4 if gso else 0, 14 + 40 + 20 if gso else 0, size if gso else 0, 54, 16)
    out, g = _core.vnet_input(h + f)
    assert g == (size if gso else 0)
    assert out == tcp_frame(payload, partial=False)
    seg = _core.tcp_input_parse(out[54:], A, B)
    assert seg.payload == payload


@pytest.mark.parametrize("hdr,exc", [
    (vnet(0x08), MalformedError),                           # unknown flag
    (vnet(1, 4, 74, 0, 54, 16), MalformedError),            # gso_size 0
    (vnet(1, 4, 60000, 1428, 54, 16), MalformedError),      # hdr_len past the frame
    (vnet(1, 3, 62, 1400, 54, 6), MalformedError),          # UDP fragmentation, not asked for
    (vnet(0, 4, 74, 1428), MalformedError),                 # TSO without the checksum to do
    (vnet(1, 4, 74, 1428, 54, 6), MalformedError),          # TSO, checksum not TCP's
    (vnet(1, 0, 0, 0, 54, 60000), MalformedError),          # checksum field past the frame
    (vnet(1, 0, 0, 0, 2, 16), MalformedError),              # checksum start in the MAC header
    (vnet(0, 0x80), MalformedError),                        # ECN without segmentation
    (b"\x00" * 9, TruncatedError),
])
def test_vnet_input_lies_are_typed_errors(hdr: bytes, exc: type[Exception]) -> None:
    f = tcp_frame(b"x" * 100, partial=True) if len(hdr) == 10 else b""
    with pytest.raises(exc):
        _core.vnet_input(hdr + f)


def test_vnet_output_hdr() -> None:
    f = tcp_frame(b"y" * 5000, partial=False)
    flags, gso_type, hdr_len, gso_size, cs, co = struct.unpack("<BBHHHH",
                                                               _core.vnet_output_hdr(f, 1428))
    assert (flags, gso_type, hdr_len, gso_size, cs, co) == (0, 4, 14 + 40 + 20, 1428, 0, 0)
    assert _core.vnet_output_hdr(f, 0) == bytes(10)
    with pytest.raises(MalformedError):
        _core.vnet_output_hdr(MB + MA + b"\x08\x06" + bytes(28), 1400)  # ARP
    with pytest.raises(KameError):
        _core.vnet_output_hdr(f[:60], 1428)  # the TCP header cut
    with pytest.raises(ValueError):
        _core.vnet_output_hdr(f, 1 << 16)


def test_tap_counts_a_lying_header_and_reads_on() -> None:
    """TapDevice.read with offload over a SOCK_SEQPACKET pair standing in for
    the device (one frame per read, as a TAP): the frame whose header lies
    is dropped and counted (``ierrors``), the good one after it comes out
    completed, and the device then reads as empty."""
    dev, kernel = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    tap = TapDevice.__new__(TapDevice)
    tap.fd, tap.offload, tap.name = dev.fileno(), True, "fake0"
    tap.rx_frames = tap.tx_frames = tap.ierrors = tap.rx_gso = tap.tx_gso = 0
    dev.setblocking(False)
    try:
        good = tcp_frame(b"z" * 300, partial=True)
        kernel.send(vnet(1, 4, 74, 0, 54, 16) + good)  # gso_size 0: a lie
        kernel.send(vnet(1, 0, 0, 0, 54, 16) + good)
        assert tap.read_many() == [tcp_frame(b"z" * 300, partial=False)]
        assert tap.ierrors == 1 and tap.rx_frames == 1 and tap.read() is None
        # and on output: a plain frame gets an all-zero header, a TsoFrame
        # the segmentation header
        tap.write(good)
        big = TsoFrame(tcp_frame(b"w" * 9000, partial=False))
        big.tso_segsz = 1428
        tap.write(big)
        assert kernel.recv(1 << 17) == bytes(10) + good
        got = kernel.recv(1 << 17)
        assert got[:10] == _core.vnet_output_hdr(big, 1428) and got[10:] == big
        assert tap.tx_gso == 1 and tap.tx_frames == 2
    finally:
        dev.close()
        kernel.close()


# --- TCP sending super-segments ------------------------------------------------------

class Pair:
    """Two nodes on a memory link that carries frames up to 64 KiB (as a
    receiver's GRO would hand them up); ``a``'s interface segments TCP for
    it when ``tsomax`` says so. Every frame ``a`` sends is kept."""

    def __init__(self, tsomax: int) -> None:
        self.link = MemoryLink(delay=0.001, seed=1)
        self.link.mtu = 65535 + 40
        self.sim = Simulation()
        self.a, self.b = Node("a", seed=1), Node("b", seed=2)
        self.a.add_interface("eth0", MA)
        self.b.add_interface("eth0", MB)
        self.a.ifnets["eth0"].tsomax = tsomax
        self.sim.connect(self.a, "eth0", self.link, MA)
        self.sim.connect(self.b, "eth0", self.link, MB)
        self.sent: list[bytes] = []
        emit = self.sim.emit

        def spy(node: Any, frames: Any) -> None:
            frames = list(frames)
            if node is self.a:
                self.sent += [f for _, f in frames]
            emit(node, frames)

        self.sim.emit = spy  # type: ignore[method-assign]
        self.sim.emit(self.a, self.a.up("eth0", 0.0))
        self.sim.emit(self.b, self.b.up("eth0", 0.0))
        self.a.add_address("eth0", f"{A}/64", 0.0)
        self.b.add_address("eth0", f"{B}/64", 0.0)
        for n in (self.a, self.b):
            n.knobs["net.link.ether.inet.dad_count"] = 0
        self.a.add_address4("eth0", f"{A4}/24", 0.0)
        self.b.add_address4("eth0", f"{B4}/24", 0.0)
        self.sim.run(until=3.0)
        self.la, self.lb = SocketLayer(self.a, "linux"), SocketLayer(self.b, "linux")

    def sync(self) -> None:
        for n in (self.a, self.b):
            self.sim.emit(n, n.poll(self.sim.now))


def transfer(p: Pair, data: bytes, *, inet: bool = False) -> bytes:
    fam = AF_INET if inet else AF_INET6
    ls = p.lb.socket(fam, SOCK_STREAM)
    ls.bind(("0.0.0.0" if inet else "::", 80))
    ls.listen(4)
    c = p.la.socket(fam, SOCK_STREAM)
    with pytest.raises(BlockingIOError):
        c.connect((B4 if inet else str(B), 80))
    p.sync()
    p.sim.run(until=p.sim.now + 0.5)
    p.sync()
    s, _ = ls.accept()
    got = bytearray()
    sent = 0
    for _ in range(100_000):
        while sent < len(data):
            try:
                sent += c.send(data[sent:sent + 65536])
            except BlockingIOError:
                break
        if sent == len(data) and not c.cantsendmore:
            c.shutdown(1)
        if not p.sim.step(p.sim.now + 30):
            break
        p.sync()
        try:
            while d := s.recv(1 << 20):
                got += d
            break  # EOF
        except BlockingIOError:
            pass
    return bytes(got)


def test_tcp_sends_super_segments_when_the_interface_segments() -> None:
    data = os.urandom(400_000)
    p = Pair(tsomax=65535)
    assert transfer(p, data) == data
    big = [f for f in p.sent if len(f) > 1514]
    assert big and all(type(f) is TsoFrame and 0 < f.tso_segsz <= 1440 for f in big)
    assert all(len(f) <= 14 + 40 + 65535 for f in big)
    # whole segments of tso_segsz each, but the last of the transfer
    assert sum(1 for f in big if (len(f) - 14 - 40 - 32) % f.tso_segsz == 0) >= len(big) - 2
    assert p.a.stats["tcps_tso_sends"] == len(big)


def test_tcp_over_ipv4_sends_super_segments() -> None:
    """IPv4 too (``CSUM_TSO`` for both families): super-segments of whole
    segments whose data fit the path MTU, DF set, the IPv4 total length
    that of the super-segment; byte-exact at the other end."""
    data = os.urandom(400_000)
    p = Pair(tsomax=65535)
    assert transfer(p, data, inet=True) == data
    big = [f for f in p.sent if len(f) > 1514]
    assert big and all(type(f) is TsoFrame and 0 < f.tso_segsz <= 1460 for f in big)
    for f in big:
        assert f[12:14] == b"\x08\x00" and f[14 + 9] == 6
        assert int.from_bytes(f[16:18], "big") == len(f) - 14 <= 65535
        assert f[20] & 0x40  # DF (RFC 1191)
        assert 20 + 20 + f.tso_segsz <= 1500
    assert sum(1 for f in big if (len(f) - 14 - 20 - 32) % f.tso_segsz == 0) >= len(big) - 2
    assert p.a.stats["tcps_tso_sends"] == len(big)
    assert p.a.stats.get("ips_fragmented", 0) == 0


def test_no_super_segments_without_offload() -> None:
    data = os.urandom(200_000)
    for inet in (False, True):
        p = Pair(tsomax=0)
        assert transfer(p, data, inet=inet) == data
        assert not [f for f in p.sent if len(f) > 1514]
        assert p.a.stats["tcps_tso_sends"] == 0


def test_a_batch_of_segments_is_answered_by_one_ack() -> None:
    """Node.receive_many (one wakeup's frames): the segments of a burst are
    acknowledged once, at the end of the batch, up to the last octet; one
    frame at a time, every second segment is acknowledged."""
    answers = []
    for batched in (True, False):
        p = Pair(tsomax=0)
        ls = p.lb.socket(AF_INET6, SOCK_STREAM)
        ls.bind(("::", 80))
        ls.listen(4)
        c = p.la.socket(AF_INET6, SOCK_STREAM)
        with pytest.raises(BlockingIOError):
            c.connect((str(B), 80))
        p.sync()
        p.sim.run(until=p.sim.now + 0.5)
        p.sync()
        s, _ = ls.accept()
        p.sim.run(until=p.sim.now + 0.5)  # the handshake's last ACK, the window updates
        now = p.sim.now
        assert c.send(b"q" * 8 * 1428) == 8 * 1428
        burst = [f for _, f in p.a.poll(now) if len(f) > 100]
        assert len(burst) == 8
        if batched:
            out = p.b.receive_many("eth0", burst, now)
        else:
            out = [x for f in burst for x in p.b.receive("eth0", f, now)]
        acks = [_core.tcp_input_parse(f[54:], B, A) for _, f in out if f[20] == 6]
        answers.append(acks)
        assert s.recv(1 << 20) == b"q" * 8 * 1428
    batched_acks, single_acks = answers
    assert len(batched_acks) == 1 and len(single_acks) == 4
    assert batched_acks[0].ack == single_acks[-1].ack


def test_route_answers_last_one_instant() -> None:
    """TCP keeps ``route6``'s answer for the instant of a batch only: a route
    that changes is seen at the next instant (a segment after the
    interface went down finds no route, as without the cache)."""
    p = Pair(tsomax=0)
    tcp = p.a.tcp
    now = p.sim.now
    assert tcp.route6(B, 0, now) == ("eth0", B)
    p.a.ifnets["eth0"].up = False
    assert tcp.route6(B, 0, now) == ("eth0", B)  # the same instant: the same answer
    assert tcp.route6(B, 0, now + 0.001) is None
    assert tcp.route6(B, 0, now + 0.001) == tcp._route6(B, 0, now + 0.001)
    p.a.ifnets["eth0"].up = True
    assert tcp.route6(B, 0, now + 0.002) == ("eth0", B)
