"""Differential testing: the same generated packets to the Linux kernel and
to our node, and every difference in their answers reported.

A *peer* is anything that takes an Ethernet frame and returns the frames it
answers with (``Peer.exchange``). Two are given here:

- :class:`NodePeer`: a :class:`kame.node.Node` in memory (sans-I/O: the
  answers are what ``node.receive`` returns).
- :class:`KernelPeer`: the Linux kernel behind a TAP device in a network
  namespace. After each packet a *sentinel* echo request with a fresh
  identifier follows; the kernel processes a TAP's frames in order, so once
  the sentinel's reply is read every answer to the packet before it has
  been sent. No fixed sleep: a packet that is not answered costs one echo
  round trip, and a deadline bounds the wait.

Both peers own the same address (``TARGET``, ``TARGET_MAC``) and know the
tester (``TESTER``, ``TESTER_MAC``) as a permanent neighbor, so the same
frame goes to both unchanged and neither has to resolve the tester first.

:func:`run` draws packets from :mod:`kame.strategies` (valid chains of
every extension header, fragment trains, ICMPv6 echo and errors, UDP, TCP,
and the near-valid mutations), sends each to both peers, reduces each
answer to what a stack decided (:func:`summarize`: an echo reply, an
ICMPv6 error with its type, code and pointer, a TCP reset, a Neighbor
Advertisement; the link's own chatter, MLD reports and router and
neighbor solicitations, left out) and compares. A divergence is written as
a pcap: the packet sent, then the kernel's answers, then ours.
:data:`KNOWN` lists the differences that are understood, each with its
reason (the RFC or seed section behind our answer and the kernel's);
:func:`explain` finds the entry of a divergence, and an unexplained one is
what a test fails on.

``kame difftest`` (:mod:`kame.cli.difftest`) runs it from the command line.
"""

from __future__ import annotations

import selectors
import struct
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from ipaddress import IPv6Address
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "KNOWN",
    "TARGET",
    "TARGET_MAC",
    "TESTER",
    "TESTER_MAC",
    "Divergence",
    "KernelPeer",
    "Known",
    "NodePeer",
    "Peer",
    "Report",
    "draw_cases",
    "explain",
    "kernel_peer",
    "run",
    "summarize",
    "write_pcap",
]

TARGET, TESTER = "2001:db8:d1f::1", "2001:db8:d1f::2"
TARGET_MAC, TESTER_MAC = bytes.fromhex("02000000d101"), bytes.fromhex("02000000d102")
_TARGET_B, _TESTER_B = IPv6Address(TARGET).packed, IPv6Address(TESTER).packed
_ALL_NODES_MAC = bytes.fromhex("333300000001")

#: An answer reduced to what the stack decided.
Answer = tuple[Any, ...]


class Peer(Protocol):
    name: str

    def exchange(self, frames: Sequence[bytes]) -> list[bytes]:
        """Send ``frames`` (one packet or a fragment train); the frames
        answered to the tester."""
        ...


def _ether(dst_mac: bytes, packet: bytes) -> bytes:
    return dst_mac + TESTER_MAC + b"\x86\xdd" + packet


def summarize(frame: bytes) -> Answer | None:
    """What one answered frame says, or None for link chatter (MLD, RS, NS,
    DAD) and anything not sent to the tester."""
    if len(frame) < 54 or frame[12:14] != b"\x86\xdd":
        return None
    p = frame[14:]
    if p[24:40] != _TESTER_B:
        return None
    from kame import _core

    try:
        pk = _core.parse(p)
    except Exception:  # noqa: BLE001 - a malformed answer is itself an answer
        return ("malformed",)
    up = pk.upper_offset
    if pk.upper_proto == 58 and pk.icmp_type is not None:
        t, c = pk.icmp_type, pk.icmp_code
        if t == 129:
            return ("echo_reply",)
        if t < 128:
            word = struct.unpack_from("!I", p, up + 4)[0] if len(p) >= up + 8 else 0
            return ("icmp6_error", t, c, word if t in (2, 4) else 0)
        if t == 136:
            return ("na", str(IPv6Address(p[up + 8:up + 24])))
        if t in (130, 131, 132, 133, 135, 143):
            return None
        return ("icmp6", t, c)
    if pk.upper_proto == 6 and pk.tcp is not None:
        flags = p[up + 13] if len(p) > up + 13 else 0
        return ("tcp", "R" if flags & 0x04 else "SA" if flags & 0x12 == 0x12 else hex(flags))
    return ("other", pk.upper_proto)


class NodePeer:
    """Our node, in memory: one interface with TARGET (no DAD), the tester a
    permanent neighbor, no ICMPv6 error rate limit."""

    name = "kame"

    def __init__(self) -> None:
        from kame.knobs import Knobs
        from kame.node import Node

        k = {"net.inet6.ip6.dad_count": 0, "net.inet6.icmp6.errppslimit": -1}
        self.node = Node("difftest", knobs=Knobs(k), seed=7)
        self.node.add_interface("eth0", TARGET_MAC)
        self.node.up("eth0", 0.0)
        self.node.add_address("eth0", f"{TARGET}/64", 0.0)
        self.node.cache.set_permanent("eth0", IPv6Address(TESTER), TESTER_MAC)
        # a host's socket layer: udp6_input checks the checksum before the
        # port (a bare node answers Port Unreachable to any UDP datagram)
        from kame.socket import SocketLayer

        self.sockets = SocketLayer(self.node, "linux")
        self.now = 1.0
        self.node.poll(self.now)  # the link's own chatter at start

    def exchange(self, frames: Sequence[bytes]) -> list[bytes]:
        out: list[bytes] = []
        for f in frames:
            self.now += 0.001
            out.extend(fr for _ifn, fr in self.node.receive("eth0", f, self.now))
        return out


class KernelPeer:
    """The Linux kernel on the far side of a TAP device (its descriptor is
    ``tap``: an object with ``write(frame)`` and ``read() -> frame | None``
    and ``fileno()``), configured by :func:`kernel_peer` or a test rig."""

    name = "linux"

    def __init__(self, tap: Any, deadline: float = 20.0) -> None:
        self.tap = tap
        self.deadline = deadline
        self._ident = 0x4000
        self.sel = selectors.DefaultSelector()
        self.sel.register(tap.fileno(), selectors.EVENT_READ)

    def _sentinel(self) -> tuple[bytes, int]:
        from kame import _core

        self._ident = (self._ident + 1) & 0xFFFF
        body = struct.pack("!BBHHH", 128, 0, 0, self._ident, 0xD1F) + b"sentinel"
        c = _core.in6_cksum(_TESTER_B, _TARGET_B, 58, body)
        body = body[:2] + struct.pack("!H", c) + body[4:]
        ip = struct.pack("!IHBB", 0x60000000, len(body), 58, 64) + _TESTER_B + _TARGET_B + body
        return _ether(TARGET_MAC, ip), self._ident

    def _is_sentinel_reply(self, frame: bytes, ident: int) -> bool:
        p = frame[14:]
        return (len(p) >= 48 and frame[12:14] == b"\x86\xdd" and p[6] == 58 and p[40] == 129
                and struct.unpack_from("!HH", p, 44) == (ident, 0xD1F))

    def drain(self) -> None:
        while self.tap.read() is not None:
            pass

    def exchange(self, frames: Sequence[bytes]) -> list[bytes]:
        for f in frames:
            self.tap.write(f)
        sentinel, ident = self._sentinel()
        self.tap.write(sentinel)
        out: list[bytes] = []
        end = time.monotonic() + self.deadline
        resent = time.monotonic() + 1.0
        while True:
            f = self.tap.read()
            if f is None:
                now = time.monotonic()
                if now > end:
                    raise TimeoutError("the kernel did not answer the sentinel echo request")
                if now > resent:  # lost under load: ask again (same identifier)
                    self.tap.write(sentinel)
                    resent = now + 1.0
                self.sel.select(timeout=0.2)
                continue
            if self._is_sentinel_reply(f, ident):
                return out
            out.append(f)


@contextmanager
def kernel_peer(prefix: str = "kdt") -> Iterator[KernelPeer]:
    """A namespace, a TAP device in it configured as TARGET, and the
    :class:`KernelPeer` on it; all removed afterwards (needs root)."""
    from kame.link.tap import TapDevice

    ns = f"{prefix}-{uuid.uuid4().hex[:8]}"
    dev = f"{prefix}{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True, capture_output=True, timeout=30)
    try:
        with TapDevice(dev) as tap:
            subprocess.run(["ip", "link", "set", dev, "netns", ns], check=True,
                           capture_output=True, timeout=30)
            peer = setup_kernel(ns, dev, tap)
            yield peer
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30, check=False)


def setup_kernel(ns: str, dev: str, tap: Any) -> KernelPeer:
    """Configure interface ``dev`` of namespace ``ns`` as TARGET and return
    the :class:`KernelPeer` that writes and reads ``tap``."""
    def ip(*args: str) -> None:
        subprocess.run(["ip", "netns", "exec", ns, *args], check=True, capture_output=True,
                       timeout=30)

    ip("sysctl", "-qw", "net.ipv6.icmp.ratelimit=0")
    # the global ICMP budget (IPv4 and IPv6 errors alike, 1000/s with a
    # burst of 50 by default) would silence the kernel part-way through a
    # fast run: every case must be answered as if it came alone
    ip("sysctl", "-qw", "net.ipv4.icmp_msgs_per_sec=1000000")
    ip("sysctl", "-qw", "net.ipv4.icmp_msgs_burst=1000000")
    ip("sysctl", "-qw", f"net.ipv6.conf.{dev}.accept_dad=0")
    ip("sysctl", "-qw", f"net.ipv6.conf.{dev}.accept_ra=0")
    # process Segment Routing headers (Segments Left 0: the next header,
    # RFC 8754 §4.3.1); Linux drops every SRH when this is off
    ip("sysctl", "-qw", "net.ipv6.conf.all.seg6_enabled=1")
    ip("sysctl", "-qw", f"net.ipv6.conf.{dev}.seg6_enabled=1")
    ip("ip", "link", "set", dev, "address", ":".join(f"{b:02x}" for b in TARGET_MAC))
    ip("ip", "link", "set", dev, "up")
    ip("ip", "-6", "addr", "add", f"{TARGET}/64", "dev", dev, "nodad")
    ip("ip", "-6", "neigh", "replace", TESTER, "lladdr",
       ":".join(f"{b:02x}" for b in TESTER_MAC), "dev", dev, "nud", "permanent")
    peer = KernelPeer(tap)
    # the interface's own start-up chatter (MLD reports, RS) read and dropped;
    # the first exchange waits until the kernel answers at all
    peer.exchange([])
    peer.drain()
    return peer


# --- known, explained differences ------------------------------------------------

@dataclass(frozen=True)
class Known:
    """A difference that is understood: ``applies(case, linux, kame)``."""

    name: str
    reason: str
    applies: Callable[[Case, list[Answer], list[Answer]], bool]


@dataclass(frozen=True)
class Case:
    """One generated packet (or train) as sent to both peers."""

    label: str
    mutation: str | None
    frames: tuple[bytes, ...]


def _has_error(answers: list[Answer], t: int, c: int | None = None) -> bool:
    return any(a[0] == "icmp6_error" and a[1] == t and (c is None or a[2] == c) for a in answers)


def _headers(frame: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(protocol, offset in the IPv6 packet, bytes) of each extension
    header of an Ethernet frame, through the Fragment header of a first
    fragment, stopping where the bytes run out."""
    p = frame[14:]
    nh, off = p[6] if len(p) > 6 else 59, 40
    while nh in (0, 43, 44, 51, 60) and off + 8 <= len(p):
        n = 8 if nh == 44 else (p[off + 1] + 2) * 4 if nh == 51 else (p[off + 1] + 1) * 8
        yield nh, off, p[off:off + n]
        if nh == 44 and struct.unpack_from("!H", p, off + 2)[0] & 0xFFF8:
            return
        nh, off = p[off], off + n


def _linux_refuses_padding(hdr: bytes) -> bool:
    """Linux's ip6_parse_tlv: more than 7 consecutive octets of padding,
    or a PadN whose data is not zero, drops the packet."""
    at, pad = 2, 0
    while at < len(hdr):
        t = hdr[at]
        if t == 0:
            pad, at = pad + 1, at + 1
        else:
            n = 2 + (hdr[at + 1] if at + 1 < len(hdr) else 0)
            if t == 1:
                pad += n
                if any(hdr[at + 2:at + n]):
                    return True
            else:
                pad = 0
            at += n
        if pad > 7:
            return True
    return False


def _padding(c: Case, lx: list[Answer], km: list[Answer]) -> bool:
    return lx == [] and any(_linux_refuses_padding(h) for f in c.frames
                            for nh, _, h in _headers(f) if nh in (0, 60))


def _rt2(c: Case, lx: list[Answer], km: list[Answer]) -> bool:
    return lx == [] and any(nh == 43 and h[2] == 2 and h[3] == 0 for f in c.frames
                            for nh, _, h in _headers(f))


def _atomic(c: Case, lx: list[Answer], km: list[Answer]) -> bool:
    """Both answer Parameter Problem code 1; ours points into the packet
    without its atomic Fragment header."""
    if len(c.frames) != 1 or len(lx) != 1 or len(km) != 1:
        return False
    if lx[0][:3] != ("icmp6_error", 4, 1) or km[0][:3] != ("icmp6_error", 4, 1):
        return False
    hdrs = list(_headers(c.frames[0]))
    for i, (nh, off, h) in enumerate(hdrs):
        if nh == 44 and struct.unpack_from("!H", h, 2)[0] == 0:
            named_by = hdrs[i - 1][1] if i else 6  # the Next Header field naming it
            want = lx[0][3] - 8 if lx[0][3] > off else named_by
            return bool(km[0][3] == want)
    return False


def _routing_to_multicast(c: Case, lx: list[Answer], km: list[Answer]) -> bool:
    return lx == [] and any(f[14 + 24] == 0xFF and any(nh == 43 for nh, _, _ in _headers(f))
                            for f in c.frames)


def _srh_hmac_flag(c: Case, lx: list[Answer], km: list[Answer]) -> bool:
    return lx == [] and any(nh == 43 and h[2] == 4 and h[5] & 0x08 for f in c.frames
                            for nh, _, h in _headers(f))


def _short_fragment_header(c: Case, lx: list[Answer], km: list[Answer]) -> bool:
    """The packet ends inside its Fragment header: Linux answers a
    Parameter Problem at that header, we drop."""
    if len(c.frames) != 1 or km != [] or len(lx) != 1 or lx[0][:3] != ("icmp6_error", 4, 0):
        return False
    p = c.frames[0][14:]
    nh, off = p[6], 40
    while nh in (0, 43, 60, 51) and off + 2 <= len(p):
        n = (p[off + 1] + 2) * 4 if nh == 51 else (p[off + 1] + 1) * 8
        nh, off = p[off], off + n
    return nh == 44 and len(p) < off + 8 and lx[0][3] == off


KNOWN: list[Known] = [
    Known("linux_padding",
          "RFC 8200 §4.2 sets no limit on Pad1/PadN; Linux's ip6_parse_tlv drops an options "
          "header with more than 7 consecutive octets of padding or non-zero PadN data "
          "(RFC 4942 §2.1.9.5 advice), so it does not answer; we process the packet",
          _padding),
    Known("rt2_segments_left_0",
          "RFC 6275 §6.4: a Type 2 Routing header not processed by the node itself is "
          "silently discarded by a Mobile IPv6 node (Linux, CONFIG_IPV6_MIP6); our node has no "
          "Mobile IPv6 and, as RFC 8200 §4.4 says for any routing type with Segments Left 0, "
          "goes on to the next header",
          _rt2),
    Known("atomic_fragment_pointer",
          "our Reassembler takes an atomic fragment (offset 0, M 0) alone (RFC 6946, "
          "ip6s_atomicfrags) as a one-fragment reassembly: the Fragment header is removed as "
          "from any reassembled datagram (RFC 8200 §4.5) and the error is about, and quotes, "
          "that datagram, so our Parameter Problem pointer is 8 octets less (or, when the "
          "Fragment header named the unknown protocol, the field that now names it); Linux "
          "skips the Fragment header in place and points into the packet as received",
          _atomic),
    Known("routing_to_multicast",
          "RFC 8200 §4.4 processes a Routing header with Segments Left 0 whatever the "
          "destination, and so do we; Linux's ipv6_rthdr_rcv drops every packet with a Routing "
          "header sent to a multicast address (RFC 2460 §4.4's rule for type 0, applied to "
          "all types; InAddrErrors)",
          _routing_to_multicast),
    Known("srh_hmac_flag",
          "RFC 8754 §2.1 defines no SRH flags (unassigned ones are ignored on receipt); Linux "
          "still reads 0x08 as the HMAC flag of the SRH drafts (SR6_FLAG1_HMAC) and drops the "
          "packet when no valid HMAC TLV follows; we process it (Segments Left 0: the next "
          "header)",
          _srh_hmac_flag),
    Known("short_fragment_header",
          "a packet that ends inside its Fragment header: KAME's frag6_input drops it "
          "(IP6_EXTHDR_CHECK, ip6s_tooshort) without an error, as every header cut short; "
          "Linux's ipv6_frag_rcv answers a Parameter Problem (code 0) pointing at the header",
          _short_fragment_header),
]


def explain(case: Case, linux: list[Answer], kame: list[Answer]) -> Known | None:
    """The entry of :data:`KNOWN` that explains a divergence, if any."""
    return next((k for k in KNOWN if k.applies(case, linux, kame)), None)


# --- the run -------------------------------------------------------------------------

@dataclass
class Divergence:
    case: Case
    linux: list[Answer]
    kame: list[Answer]
    linux_frames: list[bytes]
    kame_frames: list[bytes]
    known: Known | None
    pcap: Path | None = None


@dataclass
class Report:
    sent: int = 0
    agreed: int = 0
    divergences: list[Divergence] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)

    @property
    def unexplained(self) -> list[Divergence]:
        return [d for d in self.divergences if d.known is None]


def write_pcap(path: Path, frames: Sequence[bytes]) -> None:
    """An Ethernet pcap of ``frames``, one microsecond apart."""
    with path.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 0, i, len(fr), len(fr)) + fr)


def draw_cases(n: int, seed: int = 0) -> list[Case]:
    """``n`` cases drawn from :mod:`kame.strategies`, addressed from the
    tester to TARGET (or to all nodes), in a reproducible order."""
    import random

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from kame import strategies as ks

    source = st.one_of(
        ks.ipv6_packets(uppers=("udp", "tcp", "echo", "none"), src=TESTER, dst=TARGET),
        ks.ipv6_packets(uppers=("echo", "udp"), src=TESTER, dst="ff02::1"),
        ks.fragment_trains(src=TESTER, dst=TARGET),
        ks.near_valid_packets([m for m in ks.MUTATIONS if not m.startswith("nd_")],
                              src=TESTER, dst=TARGET),
    )
    out: list[Case] = []

    @settings(max_examples=n, database=None, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(source)
    def collect(p: ks.GenPacket) -> None:
        if len(out) >= n:
            return
        if len(p.data) > 1500 - 14 and not p.fragments:
            return  # the TAP's MTU: a jumbogram is the kernel's to refuse before IPv6
        dst_mac = _ALL_NODES_MAC if p.data[24:40] == IPv6Address("ff02::1").packed else TARGET_MAC
        # a fresh Fragment Identification per case: both stacks keep fragment
        # queues from one case to the next
        ident = 0xD1F00000 + len(out)
        wire = [_set_frag_ident(w, ident) for w in p.wire()]
        out.append(Case(p.label, p.mutation, tuple(_ether(dst_mac, w) for w in wire)))

    collect()
    random.Random(seed).shuffle(out)
    return out


def _set_frag_ident(packet: bytes, ident: int) -> bytes:
    """``packet`` with the Identification of its first Fragment header set."""
    nh, off = packet[6], 40
    while off + 8 <= len(packet):
        if nh == 44:
            return packet[:off + 4] + struct.pack("!I", ident) + packet[off + 8:]
        if nh in (0, 43, 60):
            nh, off = packet[off], off + (packet[off + 1] + 1) * 8
        elif nh == 51:
            nh, off = packet[off], off + (packet[off + 1] + 2) * 4
        else:
            break
    return packet


def run(cases: Sequence[Case], kernel: Peer, ours: Peer | None = None,
        pcap_dir: Path | None = None) -> Report:
    """Send each case to both peers and compare; divergences written to
    ``pcap_dir`` (one pcap each) when given."""
    ours = ours if ours is not None else NodePeer()
    rep = Report()
    for case in cases:
        lx_frames = kernel.exchange(case.frames)
        km_frames = ours.exchange(case.frames)
        lx = sorted((a for a in map(summarize, lx_frames) if a is not None), key=repr)
        km = sorted((a for a in map(summarize, km_frames) if a is not None), key=repr)
        rep.sent += 1
        for a in km:
            rep.answers[a[0]] = rep.answers.get(a[0], 0) + 1
        if lx == km:
            rep.agreed += 1
            continue
        d = Divergence(case, lx, km, lx_frames, km_frames, explain(case, lx, km))
        if pcap_dir is not None:
            pcap_dir.mkdir(parents=True, exist_ok=True)
            d.pcap = pcap_dir / f"divergence-{len(rep.divergences):03d}.pcap"
            write_pcap(d.pcap, [*case.frames, *lx_frames, *km_frames])
        rep.divergences.append(d)
    return rep
