"""IPsec over IPv4 (kame.inet.ipsec4: ``ipsec4_output``, ``ipsec4_input``
with the SPD and SAD of ``node.key``) between two nodes on a memory link
and against scapy's ``SecurityAssociation``: ESP and AH in transport and
tunnel mode, ESP in UDP (RFC 3948), inbound policy (a clear datagram a
``require`` policy wants protected is dropped), forged and replayed
packets counted; a raw socket's ``IP_HDRINCL`` datagrams go through the SPD
as any other (BSD's ip_output with IP_RAWOUTPUT, Linux's xfrm lookup on the
raw socket's route)."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, UDP
from scapy.layers.ipsec import AH, ESP, SecurityAssociation

from kame import _core
from kame.key.setkey import run as setkey
from kame.knobs import Knobs
from kame.link.memory import MemoryLink, Simulation
from kame.node import Node
from kame.socket import AF_INET, SOCK_DGRAM, SOCK_RAW, SocketLayer

MA, MB = bytes.fromhex("02000000000a"), bytes.fromhex("02000000000b")
A, B = "192.0.2.1", "192.0.2.2"
EKEY = bytes(range(16))
AKEY = bytes(range(100, 120))


def sad(mode: str = "transport", proto: str = "esp", encap: bool = False) -> str:
    """The SAs as setkey statements; ``encap``: RFC 3948 ESP in UDP 4500
    (``esp-udp``, ipsec-tools' spelling, what IKE's NAT-T sets through
    SADB_X_EXT_NAT_T_*)."""
    m = f"-m {mode} " if mode == "tunnel" else ""
    alg = (f"-E aes-cbc 0x{EKEY.hex()} -A hmac-sha1 0x{AKEY.hex()}" if proto == "esp"
           else f"-A hmac-sha1 0x{AKEY.hex()}")
    a, b, p = (f"{A}[4500]", f"{B}[4500]", "esp-udp") if encap else (A, B, proto)
    lines = [f"add {a} {b} {p} 0x1000 {m}-r 32 {alg};",
             f"add {b} {a} {p} 0x2000 {m}-r 32 {alg};"]
    return "\n".join(lines) + "\n"


def spd(mode: str = "transport", proto: str = "esp", level: str = "require") -> tuple[str, str]:
    ends = f"{A}-{B}" if mode == "tunnel" else ""
    back = f"{B}-{A}" if mode == "tunnel" else ""
    a = (f"spdadd {A} {B} udp -P out ipsec {proto}/{mode}/{ends}/{level};\n"
         f"spdadd {B} {A} udp -P in ipsec {proto}/{mode}/{back}/{level};\n")
    b = (f"spdadd {B} {A} udp -P out ipsec {proto}/{mode}/{back}/{level};\n"
         f"spdadd {A} {B} udp -P in ipsec {proto}/{mode}/{ends}/{level};\n")
    return a, b


def pair(mode: str = "transport", proto: str = "esp", encap: bool = False,
         policy: bool = True) -> tuple[Simulation, Node, Node, list[bytes]]:
    sim = Simulation()
    link = MemoryLink(delay=0.001)
    seen: list[bytes] = []
    link.add_tap(lambda t, f: seen.append(f))
    a, b = (Node(n, knobs=Knobs({"net.link.ether.inet.dad_count": 0}), seed=i)
            for i, n in ((1, "a"), (2, "b")))
    pa, pb = spd(mode, proto)
    for n, mac, addr, pol in ((a, MA, A, pa), (b, MB, B, pb)):
        n.add_interface("eth0", mac)
        sim.connect(n, "eth0", link, mac)
        sim.emit(n, n.up("eth0", 0.0))
        n.add_address4("eth0", f"{addr}/24", 0.0)
        n.attach_key()
        setkey(sad(mode, proto, encap) + (pol if policy else ""), n.key.engine, 0.0)
        assert all(x.udp_encap == ((4500, 4500) if encap else None)
                   for x in n.key.sad.dump("esp"))
    sim.run(until=0.1)
    return sim, a, b, seen


def udp_exchange(sim: Simulation, a: Node, b: Node) -> tuple[bytes, bytes]:
    sb = SocketLayer(b, "linux").socket(AF_INET, SOCK_DGRAM)
    sb.bind(("0.0.0.0", 5000))
    sa = SocketLayer(a, "linux").socket(AF_INET, SOCK_DGRAM)
    sa.sendto(b"secret v4 payload", (B, 5000))
    sim.emit(a, a.poll(sim.now))
    sim.run(until=sim.now + 0.5)
    got, peer = sb.recvfrom(100)
    sb.sendto(b"secret reply", peer)
    sim.emit(b, b.poll(sim.now))
    sim.run(until=sim.now + 0.5)
    return got, sa.recv(100)


def ip_frames(seen: list[bytes], src: bytes) -> list[bytes]:
    return [f[14:] for f in seen if f[6:12] == src and f[12:14] == b"\x08\x00"]


def scapy_sa(spi: int, proto: str = "esp", mode: str = "transport",
             encap: bool = False) -> SecurityAssociation:
    tun = {"tunnel_header": IP(src=A if spi == 0x1000 else B,
                               dst=B if spi == 0x1000 else A)} if mode == "tunnel" else {}
    if encap:
        tun["nat_t_header"] = UDP(sport=4500, dport=4500)
    if proto == "esp":
        return SecurityAssociation(ESP, spi=spi, crypt_algo="AES-CBC", crypt_key=EKEY,
                                   auth_algo="HMAC-SHA1-96", auth_key=AKEY, **tun)
    return SecurityAssociation(AH, spi=spi, auth_algo="HMAC-SHA1-96", auth_key=AKEY, **tun)


@pytest.mark.parametrize(("mode", "proto", "encap"), [
    ("transport", "esp", False), ("tunnel", "esp", False), ("transport", "ah", False),
    ("tunnel", "ah", False), ("transport", "esp", True)])
def test_two_nodes_and_scapy_open_each_others(mode: str, proto: str, encap: bool) -> None:
    sim, a, b, seen = pair(mode, proto, encap)
    assert udp_exchange(sim, a, b) == (b"secret v4 payload", b"secret reply")
    wire = [p for p in ip_frames(seen, MA) if p[9] in (50, 51, 17)]
    assert wire, seen
    p = wire[0]
    v = _core.ip_validate(p, True)
    assert v.protocol == ({"esp": 17 if encap else 50, "ah": 51}[proto])
    if proto == "esp":
        assert b"secret" not in p
    # scapy opens ours ...
    inner = IP(bytes(scapy_sa(0x1000, proto, mode, encap).decrypt(IP(p))))
    assert bytes(inner[UDP].payload) == b"secret v4 payload"
    assert inner[IP].src == A and inner[IP].dst == B
    # ... and we open scapy's (a later sequence number than ours)
    sb = SocketLayer(b, "linux").socket(AF_INET, SOCK_DGRAM)
    sb.bind(("0.0.0.0", 5001))
    sas = scapy_sa(0x1000, proto, mode, encap)
    sas.seq_num = 10
    clear = IP(src=A, dst=B, ttl=64) / UDP(sport=1234, dport=5001) / b"from scapy"
    enc = bytes(sas.encrypt(IP(bytes(clear))))
    b.receive("eth0", MB + MA + b"\x08\x00" + enc, sim.now)
    assert sb.recvfrom(100) == (b"from scapy", (A, 1234))
    st = b.inet.ipsec4stat
    assert st["in_success"] >= 2 and a.inet.ipsec4stat["out_success"] >= 1, dict(st)
    if proto == "esp":
        assert st["in_espauthsucc"] >= 2
    # forged (one bit of the ICV) and replayed: counted drops
    bad = bytearray(bytes(sas.encrypt(IP(bytes(clear)))))  # a fresh sequence number
    bad[-1] ^= 1
    b.receive("eth0", MB + MA + b"\x08\x00" + bytes(bad), sim.now)
    b.receive("eth0", MB + MA + b"\x08\x00" + enc, sim.now)
    fail, replay = ("in_espauthfail", "in_espreplay") if proto == "esp" else \
        ("in_ahauthfail", "in_ahreplay")
    assert (st[fail], st[replay]) == (1, 1), dict(st)
    with pytest.raises(BlockingIOError):
        sb.recvfrom(100)


@pytest.mark.parametrize("mode", ["transport", "tunnel"])
def test_ip_hdrincl_datagrams_are_protected_by_the_policy(mode: str) -> None:
    """A UDP datagram built whole by the application on a raw socket
    (IPPROTO_RAW, IP_HDRINCL implied on Linux) meets the SPD's ``udp``
    policy: it leaves as ESP, scapy opens it, and the peer, whose inbound
    policy requires ESP, delivers it."""
    sim, a, b, seen = pair(mode)
    sb = SocketLayer(b, "linux").socket(AF_INET, SOCK_DGRAM)
    sb.bind(("0.0.0.0", 5000))
    r = SocketLayer(a, "linux").socket(AF_INET, SOCK_RAW, 255)
    data = b"secret raw v4 payload"
    udp = struct.pack("!HHHH", 1234, 5000, 8 + len(data), 0) + data
    r.sendto(_core.ip_build(A, B, 17, udp, ttl=64), (B, 0))
    sim.emit(a, a.poll(sim.now))
    sim.run(until=sim.now + 0.5)
    wire = [p for p in ip_frames(seen, MA) if p[9] in (17, 50)]
    assert [p[9] for p in wire] == [50] and data not in wire[0], wire
    inner = IP(bytes(scapy_sa(0x1000, "esp", mode).decrypt(IP(wire[0]))))
    assert bytes(inner[UDP].payload) == data
    assert sb.recvfrom(100) == (data, (A, 1234))
    assert a.inet.ipsec4stat["out_success"] == 1 and a.stats["ips_rawout"] == 1


def test_inbound_policy_drops_clear_datagrams_and_no_sa_is_counted() -> None:
    sim, a, b, _seen = pair(policy=False)
    _pa, pb = spd()
    setkey(pb, b.key.engine, 0.0)  # only b requires ESP; a sends in clear
    sb = SocketLayer(b, "linux").socket(AF_INET, SOCK_DGRAM)
    sb.bind(("0.0.0.0", 5000))
    SocketLayer(a, "linux").socket(AF_INET, SOCK_DGRAM).sendto(b"clear", (B, 5000))
    sim.emit(a, a.poll(sim.now))
    sim.run(until=sim.now + 0.5)
    with pytest.raises(BlockingIOError):
        sb.recvfrom(100)
    assert b.inet.ipsec4stat["in_polvio"] == 1
    # ESP with an SPI no SA has
    esp = _core.ip_build(A, B, 50, struct.pack("!II", 0x9999, 1) + bytes(40))
    b.receive("eth0", MB + MA + b"\x08\x00" + esp, sim.now)
    assert b.inet.ipsec4stat["in_nosa"] == 1 and b.stats["ips_noproto"] == 0


def test_no_sa_for_a_required_policy_drops_and_acquires() -> None:
    sim, a, _b, seen = pair(policy=False)
    setkey(f"spdadd {A} {B} udp -P out ipsec esp/transport//require;\n"
           f"flush;\n", a.key.engine, 0.0)
    seen.clear()
    with pytest.raises(OSError):
        SocketLayer(a, "linux").socket(AF_INET, SOCK_DGRAM).sendto(b"x", (B, 5000))
    sim.emit(a, a.poll(sim.now))
    sim.run(until=sim.now + 0.5)
    assert [p for p in ip_frames(seen, MA) if p[9] == 17] == []
    assert a.inet.ipsec4stat["out_nosa"] == 1


@settings(max_examples=40)
@given(st.binary(max_size=120), st.sampled_from([50, 51, 108]))
def test_any_bytes_as_esp_ah_ipcomp_are_counted_drops(body: bytes, proto: int) -> None:
    _sim, _a, b, _seen = pair()
    pkt = _core.ip_build(A, B, proto, body)
    b.receive("eth0", MB + MA + b"\x08\x00" + pkt, 1.0)
    assert sum(b.inet.ipsec4stat.values()) >= 1


def test_knob_free_node_without_key_treats_esp_as_unknown() -> None:
    n = Node("x", knobs=Knobs({"net.link.ether.inet.dad_count": 0}), seed=1)
    n.add_interface("eth0", MB)
    n.up("eth0", 0.0)
    n.add_address4("eth0", f"{B}/24", 0.0)
    n.poll(0.1)
    pkt = _core.ip_build(A, B, 50, bytes(40))
    n.receive("eth0", MB + MA + b"\x08\x00" + pkt, 1.0)
    assert n.stats["ips_noproto"] == 1 and IPv4Address(B)


def test_tcp_over_ipv4_esp_transport() -> None:
    """TCP through ESP transport (any protocol): the MSS leaves room for
    ESP (ipsec_hdrsiz), every segment on the wire is ESP, the bytes arrive."""
    import random

    from kame.socket.stream import SOCK_STREAM

    sim, a, b, seen = pair(policy=False)
    for n, (x, y) in ((a, (A, B)), (b, (B, A))):
        setkey(f"spdadd {x} {y} any -P out ipsec esp/transport//require;\n"
               f"spdadd {y} {x} any -P in ipsec esp/transport//require;\n", n.key.engine, 0.0)
    la, lb = SocketLayer(a, "linux"), SocketLayer(b, "linux")
    srv = lb.socket(AF_INET, SOCK_STREAM)
    srv.bind(("0.0.0.0", 80))
    srv.listen(4)
    cli = la.socket(AF_INET, SOCK_STREAM)
    with pytest.raises(BlockingIOError):
        cli.connect((B, 80))
    conn = None
    for _ in range(100):
        for n in (a, b):
            sim.emit(n, n.poll(sim.now))
        sim.run(until=sim.now + 0.05)
        try:
            conn, _peer = srv.accept()
            break
        except BlockingIOError:
            continue
    assert conn is not None
    data = random.Random(3).randbytes(30_000)
    sent, got = 0, bytearray()
    for _ in range(2000):
        if sent < len(data):
            try:
                sent += cli.send(data[sent:sent + 8192])
            except BlockingIOError:
                pass
        for n in (a, b):
            sim.emit(n, n.poll(sim.now))
        sim.run(until=sim.now + 0.02)
        try:
            while chunk := conn.recv(65536):
                got += chunk
        except BlockingIOError:
            pass
        if len(got) == len(data):
            break
    assert bytes(got) == data
    assert cli.tcp_info()["mss"] < 1448 - 30
    wire = ip_frames(seen, MA)
    assert wire and all(p[9] == 50 for p in wire[-20:]), {p[9] for p in wire}
    assert b.inet.ipsec4stat["in_polvio"] == 0
