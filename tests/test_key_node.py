"""IPsec in the node (ipsec6_output / ipsec6_input): two kame nodes on a
memory link ping each other under ESP transport mode, and two hosts ping
each other through two gateways under an RFC 2401 ESP tunnel (seed §4.8.1),
all configured by setkey text; policy violations, missing SAs (ACQUIRE),
'use' vs 'require', discard, bundles and lifetimes are counted."""

from __future__ import annotations

from ipaddress import IPv6Address as A

from kame.key import pfkey as P
from kame.key.ipsec6 import PolicyViolation
from kame.key.sad import Acquire, Expire
from kame.key.setkey import run
from kame.knobs import Knobs
from kame.link.memory import MemoryLink, Simulation
from kame.node import EchoReply, Node

MA, MB = bytes.fromhex("020000000a0a"), bytes.fromhex("020000000b0b")
HA, HB = A("2001:db8::a"), A("2001:db8::b")
EK_AB, EK_BA = "0x" + "11" * 16, "0x" + "22" * 16
AK_AB, AK_BA = "0x" + "33" * 20, "0x" + "44" * 20

SAS = f"""
add {HA} {HB} esp 0x1000 -m transport -E rijndael-cbc {EK_AB} -A hmac-sha1 {AK_AB};
add {HB} {HA} esp 0x2000 -m transport -E rijndael-cbc {EK_BA} -A hmac-sha1 {AK_BA};
"""


def pair(frames: list[bytes] | None = None, kb: dict[str, int] | None = None
         ) -> tuple[Simulation, Node, Node]:
    link = MemoryLink(delay=0.001)
    if frames is not None:
        link.add_tap(lambda t, f: frames.append(f))
    sim = Simulation()
    a, b = Node("a", seed=1), Node("b", knobs=Knobs(kb or {}), seed=2)
    for n, mac in ((a, MA), (b, MB)):
        n.add_interface("eth0", mac)
        sim.connect(n, "eth0", link, mac)
        sim.emit(n, n.up("eth0", 0.0))
    a.add_address("eth0", f"{HA}/64", 0.0)
    b.add_address("eth0", f"{HB}/64", 0.0)
    sim.run(until=3.0)
    return sim, a, b


def replies(n: Node) -> list[EchoReply]:
    return [e for e in n.drain_events() if isinstance(e, EchoReply)]


def esp_frames(frames: list[bytes]) -> list[bytes]:
    return [f[14:] for f in frames if f[12:14] == b"\x86\xdd" and f[20] == 50]


def transport_pair(frames: list[bytes] | None = None, level: str = "require"
                   ) -> tuple[Simulation, Node, Node]:
    sim, a, b = pair(frames)
    ka, kb = a.attach_key(), b.attach_key()
    conf_a = SAS + f"""
spdadd {HA} {HB} any -P out ipsec esp/transport//{level};
spdadd {HB} {HA} any -P in ipsec esp/transport//{level};"""
    conf_b = SAS + f"""
spdadd {HB} {HA} any -P out ipsec esp/transport//{level};
spdadd {HA} {HB} any -P in ipsec esp/transport//{level};"""
    assert not run(conf_a, ka.engine, sim.now).errors
    assert not run(conf_b, kb.engine, sim.now).errors
    return sim, a, b


def test_ping_under_esp_transport() -> None:
    frames: list[bytes] = []
    sim, a, b = transport_pair(frames)
    n0, total0 = len(frames), b.stats["ip6s_total"]
    for seq in range(3):
        sim.emit(a, a.ping(HB, sim.now, seq=seq, data=b"secret payload"))
        sim.run(until=sim.now + 1.0)
    # ip6s_total counts each IPv6 frame from a once, ESP or not (transport
    # mode: the decrypted payload is not a new packet)
    from_a = [f for f in frames[n0:] if f[6:12] == MA and f[12:14] == b"\x86\xdd"]
    assert b.stats["ip6s_total"] - total0 == len(from_a) >= 3
    got = replies(a)
    assert [r.seq for r in got] == [0, 1, 2] and all(r.src == HB for r in got)
    assert a.key.stats["out_success"] == 3 and b.key.stats["out_success"] == 3
    assert a.key.stats["in_success"] == 3 and b.key.stats["in_success"] == 3
    assert a.key.stats["in_espauthsucc"] == 3
    assert a.key.stats["in_polvio"] == b.key.stats["in_polvio"] == 0
    wire = esp_frames(frames)
    assert len(wire) == 6
    assert all(b"secret payload" not in w for w in wire)  # encrypted on the link
    spis = sorted({int.from_bytes(w[40:44], "big") for w in wire})
    assert spis == [0x1000, 0x2000]
    # The SAD counts bytes and first use (setkey -D "current:", "last:").
    sa = a.key.sad.get(HB, "esp", 0x1000)
    assert sa.cur_allocs == 3 and sa.cur_bytes > 0 and sa.first_use is not None


def test_esp_randpad_knob_pads_short_packets_randomly() -> None:
    frames: list[bytes] = []
    sim, a, b = pair(frames)
    a.knobs["net.inet6.ipsec6.esp_randpad"] = 200  # seed §4.3, before the SAs are added
    ka, kb = a.attach_key(), b.attach_key()
    run(SAS + f"spdadd {HA} {HB} any -P out ipsec esp/transport//require;", ka.engine, sim.now)
    run(SAS + f"spdadd {HA} {HB} any -P in ipsec esp/transport//require;", kb.engine, sim.now)
    for seq in range(8):
        sim.emit(a, a.ping(HB, sim.now, seq=seq))
        sim.run(until=sim.now + 0.5)
    assert [r.seq for r in replies(a)] == list(range(8))
    sizes = [len(w) for w in esp_frames(frames)]
    assert len(sizes) == 8 and len(set(sizes)) > 1  # random lengths
    # 40 IPv6 + 8 ESP + 16 IV + <= 200 padded payload + 12 ICV
    assert all(n <= 40 + 8 + 16 + 208 + 12 for n in sizes)  # N plus cipher block rounding
    assert max(sizes) > 40 + 8 + 16 + 16 + 12  # longer than the unpadded 12-octet echo


def test_cleartext_echo_to_a_require_policy_is_a_polvio() -> None:
    sim, a, b = pair()
    kb = b.attach_key()
    run(f"spdadd {HA} {HB} any -P in ipsec esp/transport//require;", kb.engine, sim.now)
    sim.emit(a, a.ping(HB, sim.now))
    sim.run(until=sim.now + 2.0)
    assert not replies(a)
    assert kb.stats["in_polvio"] == 1
    assert any(isinstance(e, PolicyViolation) for e in b.drain_events())
    # "use" accepts the clear packet
    run(f"spdupdate {HA} {HB} any -P in ipsec esp/transport//use;", kb.engine, sim.now)
    sim.emit(a, a.ping(HB, sim.now, seq=1))
    sim.run(until=sim.now + 2.0)
    assert [r.seq for r in replies(a)] == [1]


def test_default_level_follows_the_system_knob() -> None:
    sim, a, b = pair(kb={"net.inet6.ipsec6.esp_trans_deflev": 2})
    kb = b.attach_key()
    run(f"spdadd {HA} {HB} any -P in ipsec esp/transport//default;", kb.engine, sim.now)
    sim.emit(a, a.ping(HB, sim.now))
    sim.run(until=sim.now + 2.0)
    assert kb.stats["in_polvio"] == 1 and not replies(a)
    b.knobs["net.inet6.ipsec6.esp_trans_deflev"] = 1  # use
    sim.emit(a, a.ping(HB, sim.now, seq=1))
    sim.run(until=sim.now + 2.0)
    assert [r.seq for r in replies(a)] == [1]


def test_missing_sa_acquires_and_require_drops_use_sends_clear() -> None:
    frames: list[bytes] = []
    sim, a, _b = pair(frames)
    ka = a.attach_key()
    run(f"spdadd {HA} {HB} any -P out ipsec esp/transport//require;", ka.engine, sim.now)
    sim.emit(a, a.ping(HB, sim.now))
    sim.run(until=sim.now + 2.0)
    evs = a.drain_events()
    assert ka.stats["out_nosa"] == 1 and not [e for e in evs if isinstance(e, EchoReply)]
    acq = [e for e in evs if isinstance(e, Acquire)]
    assert len(acq) == 1 and acq[0].dst == HB and acq[0].proto == "esp"
    # the policy that asked (KAME's key_acquire: racoon reads its selectors)
    sp = ka.engine.spd.lookup("out", HA, HB, 58)
    assert sp is not None and sp.id and acq[0].spid == sp.id
    # a second packet within blockacq_lifetime does not acquire again
    sim.emit(a, a.ping(HB, sim.now, seq=1))
    assert not [e for e in a.drain_events() if isinstance(e, Acquire)]
    # the ACQUIRE went to registered PF_KEY listeners as an SADB_ACQUIRE
    heard: list[bytes] = []
    ka.engine.listeners.append(heard.append)
    sim.run(until=sim.now + 30.0)
    run(f"spdupdate {HA} {HB} any -P out ipsec esp/transport//use;", ka.engine, sim.now)
    n = len(esp_frames(frames))
    sim.emit(a, a.ping(HB, sim.now, seq=2))
    sim.run(until=sim.now + 2.0)
    assert [r.seq for r in replies(a)] == [2]  # in clear
    assert len(esp_frames(frames)) == n
    (m,) = [P.decode(h) for h in heard]
    assert m.type == P.SADB_ACQUIRE and m.satype == P.SADB_SATYPE_ESP
    assert m.get(P.SADB_EXT_ADDRESS_DST).addr == HB
    assert m.get(P.SADB_X_EXT_POLICY).id == acq[0].spid


def test_discard_policy_and_bypass_policy() -> None:
    sim, a, _b = pair()
    ka = a.attach_key()
    run(f"spdadd {HA} {HB} icmp6 -P out discard;", ka.engine, sim.now)
    sim.emit(a, a.ping(HB, sim.now))
    sim.run(until=sim.now + 2.0)
    assert ka.stats["out_polvio"] == 1 and not replies(a)
    # order matters (seed §4.1): a "none" entry added before wins
    run(f"spdflush; spdadd {HA} {HB} icmp6 128,0 -P out none;"
        f"spdadd {HA} {HB} any -P out discard;", ka.engine, sim.now)
    sim.emit(a, a.ping(HB, sim.now, seq=5))
    sim.run(until=sim.now + 2.0)
    assert [r.seq for r in replies(a)] == [5]


def test_bad_icv_and_unknown_spi_are_counted() -> None:
    sim, a, b = transport_pair()
    kb = b.key
    # b's inbound SA with the wrong key: authentication failure
    run(f"delete {HA} {HB} esp 0x1000;"
        f"add {HA} {HB} esp 0x1000 -m transport -E rijndael-cbc {EK_AB} -A hmac-sha1 {AK_BA};",
        kb.engine, sim.now)
    sim.emit(a, a.ping(HB, sim.now))
    sim.run(until=sim.now + 2.0)
    assert kb.stats["in_espauthfail"] == 1 and not replies(a)
    run(f"delete {HA} {HB} esp 0x1000;", kb.engine, sim.now)
    sim.emit(a, a.ping(HB, sim.now, seq=1))
    sim.run(until=sim.now + 2.0)
    assert kb.stats["in_nosa"] == 1


def test_bundle_ipcomp_esp_ah_both_ways() -> None:
    sim, a, b = pair()
    conf = f"""
add {HA} {HB} ipcomp 0x3000 -m transport -C deflate -R;
add {HA} {HB} esp 0x1000 -m transport -E 3des-cbc 0x{'ab' * 24} -A hmac-md5 0x{'cd' * 16};
add {HA} {HB} ah 0x1001 -m transport -A hmac-sha1 0x{'ef' * 20};
add {HB} {HA} esp 0x2000 -m transport -E blowfish-cbc 0x{'12' * 16};
"""
    ka, kb = a.attach_key(), b.attach_key()
    run(conf + f"spdadd {HA} {HB} any -P out ipsec ah/transport//require "
               f"esp/transport//require ipcomp/transport//use;"
               f"spdadd {HB} {HA} any -P out ipsec esp/transport//require;", ka.engine, 0)
    run(conf + f"spdadd {HA} {HB} any -P in ipsec esp/transport//require "
               f"ah/transport//require;"
               f"spdadd {HB} {HA} any -P out ipsec esp/transport//require;", kb.engine, 0)
    sim.emit(a, a.ping(HB, sim.now, data=b"z" * 300))
    sim.run(until=sim.now + 2.0)
    assert [r.data for r in replies(a)] == [b"z" * 300]
    assert ka.stats["out_comphist"] == ka.stats["out_esphist"] == ka.stats["out_ahhist"] == 1
    assert kb.stats["in_comphist"] == 1 and kb.stats["in_ahauthsucc"] == 1
    assert kb.stats["in_polvio"] == 0


def test_hard_byte_lifetime_kills_the_sa_and_expires() -> None:
    sim, a, _b = transport_pair()
    ka = a.key
    run(f"delete {HA} {HB} esp 0x1000;"
        f"add {HA} {HB} esp 0x1000 -m transport -E rijndael-cbc {EK_AB} -A hmac-sha1 {AK_AB}"
        f" -bs 60 -bh 150;", ka.engine, sim.now)
    heard: list[bytes] = []
    ka.engine.listeners.append(heard.append)
    for seq in range(4):
        sim.emit(a, a.ping(HB, sim.now, seq=seq))
        sim.run(until=sim.now + 1.0)
    kinds = [(P.decode(h).type, P.SADB_EXT_LIFETIME_HARD in P.decode(h).exts) for h in heard
             if P.decode(h).type == P.SADB_EXPIRE]
    assert kinds[0] == (P.SADB_EXPIRE, False) and (P.SADB_EXPIRE, True) in kinds
    assert ka.sad.get(HB, "esp", 0x1000) is None
    assert ka.stats["out_nosa"] >= 1
    assert len(replies(a)) < 4


def test_ping_with_a_socket_policy_as_in_the_seed() -> None:
    """Seed §4.2: "setup a policy to require keys (like ping -P 'out ipsec
    esp/transport//use')": no SA yet -> ACQUIRE (for racoon) and, the level
    being use, the echo goes out in clear; with SAs it goes out as ESP."""
    frames: list[bytes] = []
    sim, a, b = pair(frames)
    ka = a.attach_key()
    sim.emit(a, ka.ping(a, HB, sim.now, "out ipsec esp/transport//use", seq=1))
    sim.run(until=sim.now + 1.0)
    evs = a.drain_events()
    assert [e.seq for e in evs if isinstance(e, EchoReply)] == [1]
    assert [(e.dst, e.proto) for e in evs if isinstance(e, Acquire)] == [(HB, "esp")]
    assert not esp_frames(frames)
    kb = b.attach_key()
    run(SAS, ka.engine, sim.now)
    run(SAS, kb.engine, sim.now)
    sim.emit(a, ka.ping(a, HB, sim.now, "out ipsec esp/transport//require", seq=2))
    sim.run(until=sim.now + 1.0)
    assert [e.seq for e in replies(a)] == [2]
    assert len(esp_frames(frames)) == 1  # the request; b has no policy, answers in clear
    # "bypass" ignores a system policy that would discard
    run(f"spdadd {HA} {HB} any -P out discard;", ka.engine, sim.now)
    sim.emit(a, ka.ping(a, HB, sim.now, "out bypass", seq=3))
    sim.emit(a, ka.ping(a, HB, sim.now, "out entrust", seq=4))
    sim.run(until=sim.now + 1.0)
    assert [e.seq for e in replies(a)] == [3]
    assert ka.stats["out_polvio"] == 1


def test_idle_sa_expires_on_the_node_clock() -> None:
    sim, a, _b = pair()
    ka = a.attach_key()
    heard: list[bytes] = []
    ka.engine.listeners.append(heard.append)
    t0 = sim.now
    run(f"add {HA} {HB} esp 0x7000 -E null -ls 5 -lh 10;", ka.engine, t0)
    assert a.next_deadline() is not None and a.next_deadline() <= t0 + 5
    sim.run(until=t0 + 6)
    evs = [e for e in a.drain_events() if isinstance(e, Expire)]
    assert [(e.kind, e.now) for e in evs] == [("soft", t0 + 5)]
    sim.run(until=t0 + 11)
    evs = [e for e in a.drain_events() if isinstance(e, Expire)]
    assert [(e.kind, e.now) for e in evs] == [("hard", t0 + 10)]
    assert ka.sad.get(HB, "esp", 0x7000) is None
    msgs = [P.decode(h) for h in heard]
    assert [m.type for m in msgs] == [P.SADB_EXPIRE] * 2
    assert [P.SADB_EXT_LIFETIME_SOFT in m.exts for m in msgs] == [True, False]


# --- RFC 2401 tunnel mode between two gateways (seed §4.8.1) -----------------------

NET_A, NET_B = "2001:db8:a::/64", "2001:db8:b::/64"
H1, H2 = A("2001:db8:a::10"), A("2001:db8:b::20")
GC, GD = A("2001:db8:ffff::c"), A("2001:db8:ffff::d")
EK_CD, AK_CD = "0x" + "5a" * 16, "0x" + "a5" * 20
EK_DC, AK_DC = "0x" + "6b" * 16, "0x" + "b6" * 20
TUN_SAS = f"""
add C D esp 0x4000 -m tunnel -E rijndael-cbc {EK_CD} -A hmac-sha1 {AK_CD};
add D C esp 0x5000 -m tunnel -E rijndael-cbc {EK_DC} -A hmac-sha1 {AK_DC};
"""
HOSTS = {"A": NET_A, "B": NET_B, "C": str(GC), "D": str(GD)}


class Vpn:
    """h1 --lan A-- gw1 (C) --wan-- (D) gw2 --lan B-- h2."""

    def __init__(self) -> None:
        self.sim = sim = Simulation()
        self.lan_a, self.wan, self.lan_b = (MemoryLink(delay=0.001) for _ in range(3))
        self.wan_frames: list[bytes] = []
        self.lan_b_frames: list[bytes] = []
        self.wan.add_tap(lambda t, f: self.wan_frames.append(f))
        self.lan_b.add_tap(lambda t, f: self.lan_b_frames.append(f))
        fw = Knobs({"net.inet6.ip6.forwarding": 1})
        self.h1, self.h2 = Node("h1", seed=1), Node("h2", seed=2)
        self.g1, self.g2 = Node("gw1", knobs=fw, seed=3), \
            Node("gw2", knobs=Knobs({"net.inet6.ip6.forwarding": 1}), seed=4)
        macs = iter(bytes([2, 0, 0, 0, 0, i]) for i in range(1, 10))
        plan = [(self.h1, "eth0", self.lan_a, "2001:db8:a::10/64"),
                (self.g1, "eth0", self.lan_a, "2001:db8:a::1/64"),
                (self.g1, "eth1", self.wan, "2001:db8:ffff::c/64"),
                (self.g2, "eth1", self.wan, "2001:db8:ffff::d/64"),
                (self.g2, "eth0", self.lan_b, "2001:db8:b::1/64"),
                (self.h2, "eth0", self.lan_b, "2001:db8:b::20/64")]
        for n, ifn, link, cidr in plan:
            mac = next(macs)
            n.add_interface(ifn, mac)
            sim.connect(n, ifn, link, mac)
            sim.emit(n, n.up(ifn, 0.0))
            n.add_address(ifn, cidr, 0.0)
        self.h1.route_add("::/0", A("2001:db8:a::1"), "eth0")
        self.h2.route_add("::/0", A("2001:db8:b::1"), "eth0")
        self.g1.route_add(NET_B, GD, "eth1")
        self.g2.route_add(NET_A, GC, "eth1")
        sim.run(until=3.0)
        k1, k2 = self.g1.attach_key(), self.g2.attach_key()
        # the seed's §4.8.1 lines, verbatim, on "your device" (C) ...
        r1 = run(TUN_SAS + """
spdadd A B any -P out ipsec esp/tunnel/C-D/use;
spdadd B A any -P in ipsec esp/tunnel/D-C/use;
""", k1.engine, sim.now, hosts=HOSTS)
        # ... and their mirror on the peer's device (D)
        r2 = run(TUN_SAS + """
spdadd B A any -P out ipsec esp/tunnel/D-C/use;
spdadd A B any -P in ipsec esp/tunnel/C-D/use;
""", k2.engine, sim.now, hosts=HOSTS)
        assert not r1.errors and not r2.errors


def test_ping_through_an_esp_tunnel_between_gateways() -> None:
    v = Vpn()
    for seq in range(3):
        v.sim.emit(v.h1, v.h1.ping(H2, v.sim.now, seq=seq, data=b"vpn payload"))
        v.sim.run(until=v.sim.now + 1.0)
    assert [r.seq for r in replies(v.h1)] == [0, 1, 2]
    wire = esp_frames(v.wan_frames)
    assert len(wire) == 6
    outer = {(A(w[8:24]), A(w[24:40])) for w in wire}
    assert outer == {(GC, GD), (GD, GC)}  # only the gateways' addresses on the WAN
    assert all(b"vpn payload" not in w for w in wire)
    # the LAN behind the gateway sees the clear inner packets
    clear = [f for f in v.lan_b_frames if f[12:14] == b"\x86\xdd" and f[20] == 58
             and b"vpn payload" in f]
    assert clear
    assert v.g1.key.stats["out_success"] == 3 and v.g2.key.stats["in_success"] == 3
    assert v.g1.stats["ip6s_forward"] >= 3 and v.g2.stats["ip6s_forward"] >= 3


def test_tunnel_require_drops_clear_forwarded_traffic() -> None:
    v = Vpn()
    run("spdupdate B A any -P in ipsec esp/tunnel/D-C/require;"
        "delete D C esp 0x5000;", v.g1.key.engine, v.sim.now, hosts=HOSTS)
    run("spdflush;", v.g2.key.engine, v.sim.now)  # gw2 now sends B -> A in clear
    v.sim.emit(v.h1, v.h1.ping(H2, v.sim.now))
    v.sim.run(until=v.sim.now + 2.0)
    assert not replies(v.h1)
    assert v.g1.key.stats["in_polvio"] == 1


def test_tunnel_sas_take_the_ecn_knob_when_added() -> None:
    """net.inet6.ipsec6.ecn (seed §4.6) reaches the tunnel transform of SAs
    added after it is set; those added before keep the value they had."""
    v = Vpn()
    ka = v.g1.key
    before = ka.sad.get(GD, "esp", 0x4000)
    assert before is not None and before.ecn == 0 and before.transform("tunnel").ecn == 0
    v.g1.knobs["net.inet6.ipsec6.ecn"] = 1
    r = run(f"add C D esp 0x4001 -m tunnel -E rijndael-cbc {EK_CD} -A hmac-sha1 {AK_CD};",
            ka.engine, v.sim.now, hosts=HOSTS)
    assert not r.errors
    after = ka.sad.get(GD, "esp", 0x4001)
    assert after is not None and after.ecn == 1 and after.transform("tunnel").ecn == 1
    assert before.transform("tunnel").ecn == 0


# --- SA lifetimes and the node's next-deadline gate (kame.gate) --------------------

def settled_pair() -> tuple[Simulation, Node, Node]:
    """A pair whose gates are closed well ahead: nothing else of the nodes
    is due for a while, so an SA timer that did not lower the gate would
    be missed, not caught by some other timer's poll."""
    sim, a, b = pair()
    a.attach_key()
    b.attach_key()
    sim.run(until=sim.now + 120.0)
    for n in (a, b):
        sim.emit(n, n.poll(sim.now))  # a full poll: the gate exact
    assert a.gate.due > sim.now + 3.0
    return sim, a, b


def test_sa_added_between_polls_expires_on_time() -> None:
    sim, a, _b = settled_pair()
    ka = a.key
    assert ka is not None
    t0 = sim.now
    run(f"add {HA} {HB} esp 0x7001 -E null -ls 1 -lh 2;", ka.engine, t0)
    assert a.gate.due <= t0 + 1
    sim.run(until=t0 + 2.5)
    evs = [e for e in a.drain_events() if isinstance(e, Expire)]
    assert [(e.kind, e.now) for e in evs] == [("soft", t0 + 1), ("hard", t0 + 2)]


def test_byte_expiration_between_polls_is_passed_on_at_once() -> None:
    """An outbound packet that crosses an SA's soft byte limit queues the
    expiration; the next poll passes it on though no timer is due (and no
    answer comes back to drain it: b has no keys and drops the ESP)."""
    sim, a, _b = settled_pair()
    ka = a.key
    assert ka is not None
    t0 = sim.now
    assert not run(f"add {HA} {HB} esp 0x1000 -m transport -E rijndael-cbc {EK_AB} -A hmac-sha1 {AK_AB}"
                   f" -bs 40;spdadd {HA} {HB} any -P out ipsec esp/transport//require;",
                   ka.engine, t0).errors
    heard: list[bytes] = []
    ka.engine.listeners.append(heard.append)
    sim.emit(a, a.ping(HB, sim.now, seq=1))
    sim.run(until=sim.now + 0.5)
    assert a.gate.due > sim.now  # no timer's poll would have passed it on
    evs = [e for e in a.drain_events() if isinstance(e, Expire)]
    assert [(e.kind, e.sa.spi) for e in evs] == [("soft", 0x1000)]
    assert [P.decode(h).type for h in heard] == [P.SADB_EXPIRE]
