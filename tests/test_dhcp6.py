"""DHCPv6 (issue 11 item 1) on memory links under a simulated clock: our
client against our server (Solicit/Advertise/Request/Reply, Rapid Commit,
IA_NA with DAD and Decline, IA_PD with the sub-prefix in the router's RAs,
Information-Request and its refresh time, the RA's M and O flags, T1/T2,
Release), §15 retransmission timing, pools full, the relay agent, RKAP
Reconfigure, DUIDs kept in a file, and hostile messages (hypothesis)."""

from __future__ import annotations

import itertools
import random
import struct
from ipaddress import IPv6Address, IPv6Network
from pathlib import Path

import pytest
from dhcp6_rig import Rig, drive
from hypothesis import given
from hypothesis import strategies as st

from kame import resolv
from kame.dhcp6 import codec as c
from kame.dhcp6 import duid as duidmod
from kame.dhcp6.agent import RelayAgent, ServerAgent
from kame.dhcp6.client import Bound, Dhcp6Client, Expired, InfoReceived, rkap_digest
from kame.dhcp6.server import AddrPool, Dhcp6Relay, Dhcp6Server, PrefixPool
from kame.errors import MalformedError, ParseError, TruncatedError
from kame.link.memory import MemoryLink
from kame.nd6.rtr import RaConfig
from kame.node import Node
from kame.socket import SocketLayer

DUID_C = duidmod.duid_ll(bytes.fromhex("020000000002"))
DUID_S = duidmod.duid_ll(bytes.fromhex("020000000001"))


# --- full exchanges -------------------------------------------------------------------


def test_solicit_advertise_request_reply_na_pd_dns() -> None:
    r = Rig(ia_pd=True)
    r.run(15)
    lease = r.client.lease
    assert lease is not None
    assert r.server.stats["d6s_solicit"] == 1 and r.server.stats["d6s_advertise"] == 1
    assert r.server.stats["d6s_request"] == 1 and r.server.stats["d6s_reply"] == 1
    addr = lease.na[1].addresses[0].addr
    assert r.server.pool is not None and r.server.pool.index(addr) is not None
    pfx = lease.pd[2].prefixes[0].prefix
    assert pfx.prefixlen == 56 and pfx.subnet_of(IPv6Network("2001:db8:100::/40"))
    assert r.cli.dns == (IPv6Address("2001:db8::53"),)
    assert r.cli.domains == ("example.test", "corp.test")
    # DAD ran on the node before the address became usable
    ifa = r.cli_node.addrs.find("eth0", addr)
    assert ifa is not None and ifa.usable and ifa.prefixlen == 128
    # T1/T2 from the server: 0.5 and 0.8 of the preferred lifetime (3600 s)
    assert lease.na[1].t1 == 1800 and lease.na[1].t2 == 2880
    # the resolver takes the servers and the search list
    conf = resolv.ResolvConf().with_rdnss(r.cli_node, r.sim.now)
    assert conf.servers == [resolv.Server(IPv6Address("2001:db8::53"))]
    assert conf.search == ["example.test", "corp.test"]


def test_rapid_commit_two_messages() -> None:
    r = Rig(rapid=True)
    r.run(15)
    assert r.client.lease is not None
    assert r.client.stats["d6c_sent"] == 1 and r.server.stats["d6s_rapidcommit"] == 1
    assert r.server.stats["d6s_advertise"] == 0
    assert any(isinstance(e, Bound) and e.rapid for e in r.cli.events)


def test_rapid_commit_refused_by_server_falls_back_to_four_messages() -> None:
    r = Rig(rapid=True, server_rapid=False)
    r.run(15)
    assert r.client.lease is not None
    assert r.server.stats["d6s_advertise"] == 1 and r.server.stats["d6s_request"] == 1


def test_renew_at_t1_rebind_at_t2_expiry_drops_the_address() -> None:
    r = Rig()
    r.run(15)
    lease = r.client.lease
    assert lease is not None
    addr = lease.na[1].addresses[0].addr
    t1 = lease.t1
    r.run(t1 + 1)
    assert r.server.stats["d6s_renew"] == 1
    assert r.client.lease is not None and r.client.lease.t1 > t1
    # the server goes away: Renew until T2, Rebind until the valid lifetime ends
    r.agents.remove(r.srv)
    r.srv.close()
    lease = r.client.lease
    r.run(lease.t1 + 1)
    assert r.client.ex is not None and r.client.ex.kind == "renew"
    r.run(lease.t2 + 1)
    assert r.client.ex is not None and r.client.ex.kind == "rebind"
    r.run(lease.expire + 1)
    assert r.client.lease is None and r.client.stats["d6c_expired"] == 1
    assert r.cli_node.addrs.find("eth0", addr) is None
    assert any(isinstance(e, Expired) and addr in e.addresses for e in r.cli.events)
    assert r.client.ex is not None and r.client.ex.kind == "solicit"


def test_release_on_shutdown_frees_the_lease() -> None:
    r = Rig(ia_pd=True)
    r.run(15)
    assert r.server.nleases == 2
    addr = r.client.lease.na[1].addresses[0].addr  # type: ignore[union-attr]
    r.cli.release(r.sim.now)
    r.run(r.sim.now + 5)
    assert r.server.stats["d6s_release"] == 1 and r.server.nleases == 0
    assert r.cli_node.addrs.find("eth0", addr) is None
    assert r.client.ex is None


def test_dad_conflict_declines_and_gets_another_address() -> None:
    # a third node already holds the address the server will offer first
    pool = AddrPool(IPv6Address("2001:db8::100"), IPv6Address("2001:db8::1ff"))
    probe = Dhcp6Server(DUID_S, pool=pool)
    lease = probe._pick(DUID_C, c.OPT_IA_NA, 1, None)
    assert lease is not None
    taken = lease.value
    assert isinstance(taken, IPv6Address)
    r = Rig(pool=pool)
    squatter = Node("x", seed=9)
    squatter.add_interface("eth0", bytes.fromhex("020000000009"))
    r.sim.connect(squatter, "eth0", r.link, bytes.fromhex("020000000009"))
    r.sim.emit(squatter, squatter.up("eth0", r.sim.now))
    squatter.add_address("eth0", f"{taken}/64", r.sim.now)
    r.sim.emit(squatter, squatter.poll(r.sim.now))
    r.run(r.sim.now + 5)
    r.run(30)
    assert r.client.stats["d6c_decline"] == 1 and r.server.stats["d6s_decline"] == 1
    assert taken in r.server.declined
    new = r.client.lease
    assert new is not None and new.na[1].addresses[0].addr != taken
    assert r.cli_node.addrs.find("eth0", taken) is None


def test_information_request_on_o_flag_with_refresh_time() -> None:
    r = Rig(follow_ra=True, info_refresh=700)
    r.srv_node.knobs["net.inet6.ip6.forwarding"] = 1
    r.srv_node.rtr.advertise("eth0", RaConfig(other=True, max_interval=600), r.sim.now)
    r.sim.emit(r.srv_node, r.srv_node.poll(r.sim.now))
    r.run(r.sim.now + 10)
    assert r.client.mode == "stateless" and r.client.lease is None
    infos = [e for e in r.cli.events if isinstance(e, InfoReceived)]
    assert len(infos) == 1 and infos[0].refresh == 700
    assert r.cli.dns == (IPv6Address("2001:db8::53"),)
    assert r.server.stats["d6s_inforeq"] == 1
    r.run(r.sim.now + 705)
    assert r.server.stats["d6s_inforeq"] == 2   # asked again after the refresh time


def test_refresh_time_below_minimum_is_raised_to_600() -> None:
    r = Rig(mode="stateless", info_refresh=5)
    r.run(10)
    infos = [e for e in r.cli.events if isinstance(e, InfoReceived)]
    assert infos and infos[0].refresh == 600


def test_m_flag_starts_stateful() -> None:
    r = Rig(follow_ra=True)
    r.srv_node.knobs["net.inet6.ip6.forwarding"] = 1
    r.srv_node.rtr.advertise("eth0", RaConfig(managed=True, other=True), r.sim.now)
    r.sim.emit(r.srv_node, r.srv_node.poll(r.sim.now))
    assert r.client.mode == ""
    r.run(r.sim.now + 10)
    assert r.client.mode == "stateful" and r.client.lease is not None


def test_delegated_prefix_advertised_on_the_other_interface() -> None:
    r = Rig(ia_pd=True, router=True)
    r.agents.append(_HostSlaac(r))
    r.run(40)
    lease = r.client.lease
    assert lease is not None
    pfx = lease.pd[2].prefixes[0].prefix
    sub = IPv6Network((int(pfx.network_address) | (1 << 64), 64))
    # the router holds sub::ifid on eth1 and advertises sub; the host configured an address in it
    assert any(a.addr in sub for a in r.cli_node.addresses("eth1"))
    assert any(a.addr in sub and a.usable for a in r.host.addresses("eth0")), \
        [str(a.addr) for a in r.host.addresses("eth0")]


class _HostSlaac:
    """Lets drive() poll the host behind the router."""

    def __init__(self, r: Rig) -> None:
        self.layer = SocketLayer(r.host, "netbsd")

    def service(self, now: float) -> None:
        pass

    def next_deadline(self) -> float | None:
        return None


def test_pool_full_refusals_are_counted() -> None:
    r = Rig(max_leases=1)
    r.run(15)
    assert r.client.lease is not None
    other = Dhcp6Client("eth0", duidmod.duid_ll(b"\x02\x00\x00\x00\x00\x77"), rng=random.Random(3))
    sol = _first_send(other)
    out = r.server.receive(sol, IPv6Address("fe80::77"), "eth0", r.sim.now)
    m = c.parse(out[0].payload)
    assert isinstance(m, c.Message) and m.msg_type == c.MsgType.ADVERTISE
    st_o = m.get(c.StatusCode)
    assert isinstance(st_o, c.StatusCode) and st_o.status == c.Status.NO_ADDRS_AVAIL
    assert r.server.stats["d6s_leasefull"] >= 1 and r.server.stats["d6s_noaddrs"] >= 1
    assert r.server.nleases == 1


def test_small_pool_exhausted_then_freed_by_expiry() -> None:
    srv = Dhcp6Server(DUID_S, pool=AddrPool(IPv6Address("2001:db8::1"),
                                            IPv6Address("2001:db8::2"), 10, 20))
    got = []
    for i in range(3):
        cl = Dhcp6Client("eth0", duidmod.duid_ll(bytes([2, 0, 0, 0, 1, i])), rapid_commit=True,
                         rng=random.Random(i))
        m = c.parse(srv.receive(_first_send(cl), IPv6Address("fe80::1"), "eth0", 0.0)[0].payload)
        assert isinstance(m, c.Message)
        ia = m.get(c.IaNa)
        got.append(ia.addresses[0].addr if isinstance(ia, c.IaNa) and ia.addresses else None)
    assert got[2] is None and srv.stats["d6s_noaddrs"] == 1 and srv.nleases == 2
    cl = Dhcp6Client("eth0", duidmod.duid_ll(b"\x02\x00\x00\x00\x01\x09"), rapid_commit=True)
    m = c.parse(srv.receive(_first_send(cl), IPv6Address("fe80::1"), "eth0", 21.0)[0].payload)
    assert srv.stats["d6s_expired"] == 2 and srv.nleases == 1


def _first_send(cl: Dhcp6Client, now: float = 0.0) -> bytes:
    cl.start("stateful", now)
    d = cl.next_deadline()
    assert d is not None
    return cl.poll(d)[0].payload


# --- retransmission (§15) ---------------------------------------------------------------


def _sends(cl: Dhcp6Client, n: int) -> list[tuple[float, c.Message]]:
    out = []
    for _ in range(n):
        d = cl.next_deadline()
        if d is None:
            break
        for s in cl.poll(d):
            m = c.parse(s.payload)
            assert isinstance(m, c.Message)
            out.append((d, m))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_solicit_retransmission_timing(seed: int) -> None:
    cl = Dhcp6Client("eth0", DUID_C, rng=random.Random(seed))
    cl.start("stateful", 100.0)
    sends = _sends(cl, 16)
    times = [t for t, _ in sends]
    assert 100.0 <= times[0] <= 101.0                    # SOL_MAX_DELAY
    rts = [b - a for a, b in itertools.pairwise(times)]
    assert 1.0 < rts[0] <= 1.1                           # IRT + RAND*IRT, RAND > 0
    for prev, rt in itertools.pairwise(rts):
        if rt < 3600 * 0.9:
            assert 1.9 * prev - 1e-9 <= rt <= 2.1 * prev + 1e-9
        else:
            assert 3600 * 0.9 - 1e-9 <= rt <= 3600 * 1.1 + 1e-9   # MRT + RAND*MRT
    assert max(rts) >= 3240
    # one transaction, the Elapsed Time grows with the exchange (0 at first)
    assert len({m.xid for _, m in sends}) == 1
    el = [m.get(c.ElapsedTime) for _, m in sends]
    assert isinstance(el[0], c.ElapsedTime) and el[0].centiseconds == 0
    assert isinstance(el[3], c.ElapsedTime) and \
        el[3].centiseconds == round((times[3] - times[0]) * 100)
    assert isinstance(el[-1], c.ElapsedTime) and el[-1].centiseconds == 0xFFFF


def test_request_gives_up_after_mrc_and_solicits_again() -> None:
    cl = Dhcp6Client("eth0", DUID_C, rng=random.Random(1))
    srv = Dhcp6Server(DUID_S, pool=AddrPool(IPv6Address("2001:db8::1"),
                                            IPv6Address("2001:db8::ff")))
    sol = _first_send(cl)
    adv = srv.receive(sol, IPv6Address("fe80::2"), "eth0", 1.0)[0].payload
    cl.receive(adv, IPv6Address("fe80::1"), 1.0)
    sends = _sends(cl, 12)
    kinds = [m.msg_type for _, m in sends]
    assert kinds[:10] == [c.MsgType.REQUEST] * 10 and kinds[10] == c.MsgType.SOLICIT
    times = [t for t, _ in sends[:10]]
    rts = [b - a for a, b in itertools.pairwise(times)]
    assert all(rt <= 30 * 1.1 + 1e-9 for rt in rts) and max(rts) >= 27
    assert cl.stats["d6c_giveup"] == 1


def test_release_retransmitted_mrc_4() -> None:
    cl = Dhcp6Client("eth0", DUID_C, rapid_commit=True, rng=random.Random(1))
    srv = Dhcp6Server(DUID_S, pool=AddrPool(IPv6Address("2001:db8::1"),
                                            IPv6Address("2001:db8::ff")))
    rep = srv.receive(_first_send(cl), IPv6Address("fe80::2"), "eth0", 1.0)[0].payload
    cl.receive(rep, IPv6Address("fe80::1"), 1.0)
    assert cl.lease is not None
    cl.release(2.0)
    sends = _sends(cl, 8)
    assert [m.msg_type for _, m in sends] == [c.MsgType.RELEASE] * 4
    assert cl.ex is None and cl.next_deadline() is None


# --- relay agent (§19) -----------------------------------------------------------------


def test_relay_forward_and_reply_across_two_links() -> None:
    from kame.link.memory import Simulation
    sim = Simulation()
    lan, up = MemoryLink(delay=0.001), MemoryLink(delay=0.001)
    cn, rn, sn = Node("c", seed=1), Node("r", seed=2), Node("s", seed=3)
    for n, ifn, link, mac in ((cn, "eth0", lan, "020000000101"), (rn, "eth0", lan, "020000000102"),
                              (rn, "eth1", up, "020000000103"), (sn, "eth0", up, "020000000104")):
        n.add_interface(ifn, bytes.fromhex(mac))
        sim.connect(n, ifn, link, bytes.fromhex(mac))
        sim.emit(n, n.up(ifn, 0.0))
    rn.add_address("eth1", "2001:db8:1::1/64", 0.0)
    rn.add_address("eth0", "2001:db8:2::1/64", 0.0)
    sn.add_address("eth0", "2001:db8:1::2/64", 0.0)
    for n in (cn, rn, sn):
        sim.emit(n, n.poll(0.0))
    sim.run(3.0)
    server = Dhcp6Server(DUID_S, pool=AddrPool(IPv6Address("2001:db8:2::100"),
                                               IPv6Address("2001:db8:2::1ff")))
    relay = Dhcp6Relay({"eth0": IPv6Address("2001:db8:2::1")}, (IPv6Address("2001:db8:1::2"),),
                       "eth1")
    from kame.dhcp6.agent import ClientAgent
    client = Dhcp6Client("eth0", DUID_C, rng=random.Random(4))
    agents = [ServerAgent(SocketLayer(sn, "netbsd"), server, ("eth0",)),
              RelayAgent(SocketLayer(rn, "netbsd"), relay),
              ClientAgent(cn, SocketLayer(cn, "netbsd"), client, mode="stateful", now=3.0)]
    drive(sim, agents, 20.0)
    assert client.lease is not None
    assert client.lease.na[0].addresses[0].addr in IPv6Network("2001:db8:2::/64")
    assert relay.stats["d6r_forwarded"] == 2 and relay.stats["d6r_replied"] == 2
    assert server.stats["d6s_relayforw"] == 2


def test_relay_hop_limit_and_interface_id() -> None:
    relay = Dhcp6Relay({"eth0": IPv6Address("2001:db8::1")}, (IPv6Address("2001:db8::2"),),
                       "eth1")
    inner = c.Message(c.MsgType.SOLICIT, 1, (c.ClientId(DUID_C),))
    fw = c.RelayMessage(c.MsgType.RELAY_FORW, 8, IPv6Address(0), IPv6Address("fe80::9"),
                        (c.RelayMsg(inner),)).build()
    assert relay.receive(fw, IPv6Address("fe80::9"), "eth0", 0.0) == []
    assert relay.stats["d6r_hoplimit"] == 1
    fw7 = fw[:1] + b"\x07" + fw[2:]
    out = relay.receive(fw7, IPv6Address("fe80::9"), "eth0", 0.0)
    m = c.parse(out[0].payload)
    assert isinstance(m, c.RelayMessage) and m.hop_count == 8
    # the server echoes the Interface-Id; the relay sends the reply out of that interface
    srv = Dhcp6Server(DUID_S, pool=AddrPool(IPv6Address("2001:db8::100"),
                                            IPv6Address("2001:db8::1ff")))
    rep = srv.receive(out[0].payload, IPv6Address("2001:db8::1"), "eth1", 0.0, 547)
    rm = c.parse(rep[0].payload)
    assert isinstance(rm, c.RelayMessage) and rm.msg_type == c.MsgType.RELAY_REPL
    assert rm.get(c.InterfaceId) == c.InterfaceId(b"eth0")
    back = relay.receive(rep[0].payload, IPv6Address("2001:db8::2"), "eth1", 0.0)
    assert back[0].ifname == "eth0" and back[0].dst == IPv6Address("fe80::9")
    assert back[0].port == 547    # the inner message is itself a Relay-Reply


# --- Reconfigure (RKAP) ---------------------------------------------------------------


def test_reconfigure_with_rkap_starts_renew_and_forgery_is_refused() -> None:
    cl = Dhcp6Client("eth0", DUID_C, rapid_commit=True, rng=random.Random(1))
    srv = Dhcp6Server(DUID_S, pool=AddrPool(IPv6Address("2001:db8::1"),
                                            IPv6Address("2001:db8::ff")))
    rep = srv.receive(_first_send(cl), IPv6Address("fe80::2"), "eth0", 1.0)[0].payload
    cl.receive(rep, IPv6Address("fe80::1"), 1.0)
    assert cl.reconf_key is not None and len(cl.reconf_key) == 16
    msg = srv.reconfigure_message(DUID_C)
    assert msg is not None
    forged = bytearray(msg)
    forged[-1] ^= 1
    cl.receive(bytes(forged), IPv6Address("fe80::1"), 2.0)
    assert cl.stats["d6c_badauth"] == 1 and cl.ex is None
    cl.receive(msg, IPv6Address("fe80::1"), 2.0)
    assert cl.ex is not None and cl.ex.kind == "renew"
    cl.ex = None
    cl.receive(msg, IPv6Address("fe80::1"), 3.0)     # replayed
    assert cl.stats["d6c_badauth"] == 2 and cl.ex is None
    assert rkap_digest(cl.reconf_key, msg) == c.parse(msg).get(c.Auth).info[1:]  # type: ignore


# --- DUIDs ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["llt", "en", "ll", "uuid"])
def test_duid_kept_across_restarts(tmp_path: Path, kind: str) -> None:
    p = tmp_path / "duid"
    a = duidmod.load_or_create(p, kind, b"\x02\x00\x00\x00\x00\x01", 1.7e9, enterprise=32473)
    b = duidmod.load_or_create(p, "uuid", b"\x02\x00\x00\x00\x00\x02", 1.8e9)
    assert a == b
    assert duidmod.describe(a).split()[0] == kind.upper()
    assert struct.unpack("!H", a[:2])[0] == {"llt": 1, "en": 2, "ll": 3, "uuid": 4}[kind]


def test_duid_file_corrupt_is_a_typed_error(tmp_path: Path) -> None:
    p = tmp_path / "duid"
    p.write_bytes(b"\xff\xff\x00")
    with pytest.raises(MalformedError):
        duidmod.load(p)


# --- the codec and hostile input ---------------------------------------------------------

_addr = st.integers(0, 2**128 - 1).map(IPv6Address)
_u32 = st.integers(0, 2**32 - 1)
_label = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20)
_name = st.lists(_label, min_size=1, max_size=4).map(".".join)
_duid = st.binary(min_size=3, max_size=130)
_leaf = st.one_of(
    _duid.map(c.ClientId), _duid.map(c.ServerId),
    st.builds(c.StatusCode, st.integers(0, 65535), st.text(max_size=20)),
    st.lists(st.integers(0, 65535), max_size=10).map(lambda v: c.OptionRequest(tuple(v))),
    st.integers(0, 255).map(c.Preference), st.integers(0, 65535).map(c.ElapsedTime),
    st.just(c.RapidCommit()), st.just(c.ReconfAccept()),
    st.binary(max_size=32).map(c.InterfaceId), st.integers(0, 255).map(c.ReconfMsg),
    st.lists(_addr, max_size=4).map(lambda v: c.DnsServers(tuple(v))),
    st.lists(_name, max_size=4).map(lambda v: c.DomainList(tuple(v))),
    _u32.map(c.InfoRefreshTime), _u32.map(c.SolMaxRt), _u32.map(c.InfMaxRt),
    _addr.map(c.Unicast),
    st.builds(c.Auth, st.integers(0, 255), st.integers(0, 255), st.integers(0, 255),
              st.integers(0, 2**64 - 1), st.binary(max_size=20)),
    st.builds(c.RawOption, st.integers(100, 65535), st.binary(max_size=20)),
)
_iaaddr = st.builds(c.IaAddr, _addr, _u32, _u32, st.just(()))
_iapfx = st.builds(lambda n, lp, p, v: c.IaPrefix(IPv6Network((n >> (128 - lp) << (128 - lp), lp)),
                                                  p, v), st.integers(0, 2**128 - 1),
                   st.integers(0, 128), _u32, _u32)
_ia = st.one_of(
    st.builds(c.IaNa, _u32, _u32, _u32, st.lists(_iaaddr, max_size=3).map(tuple)),
    st.builds(c.IaPd, _u32, _u32, _u32, st.lists(_iapfx, max_size=3).map(tuple)),
)
_msg = st.builds(c.Message, st.integers(1, 11), st.integers(0, 2**24 - 1),
                 st.lists(st.one_of(_leaf, _ia), max_size=8).map(tuple))


def _clean(m: c.Message) -> c.Message:
    """A StatusCode's text is UTF-8 (surrogates do not survive the round trip)."""
    return m


@given(_msg)
def test_codec_round_trip(m: c.Message) -> None:
    try:
        raw = m.build()
    except UnicodeEncodeError:
        return
    back = c.parse(raw)
    assert back.build() == raw
    if all(not isinstance(o, c.StatusCode) for o in m.options):
        assert back == m


@given(_msg, st.integers(0, 2**8 - 1), st.integers(0, 2**16))
def test_relay_nesting_round_trip(m: c.Message, hops: int, iid: int) -> None:
    try:
        m.build()
    except UnicodeEncodeError:
        return
    r = c.RelayMessage(c.MsgType.RELAY_FORW, hops, IPv6Address(1), IPv6Address(2),
                       (c.InterfaceId(iid.to_bytes(3, "big")), c.RelayMsg(m)))
    assert c.parse(r.build()).build() == r.build()


@given(st.binary(max_size=600))
def test_hostile_bytes_are_typed_errors_or_counted_drops(data: bytes) -> None:
    try:
        c.parse(data)
    except ParseError:
        pass
    srv = Dhcp6Server(DUID_S, pool=AddrPool(IPv6Address("2001:db8::1"),
                                            IPv6Address("2001:db8::ff")),
                      pd_pool=PrefixPool(IPv6Network("2001:db8:100::/48"), 64))
    srv.receive(data, IPv6Address("fe80::1"), "eth0", 0.0)
    cl = Dhcp6Client("eth0", DUID_C)
    cl.start("stateful", 0.0)
    cl.poll(2.0)
    cl.receive(data, IPv6Address("fe80::1"), 2.0)
    relay = Dhcp6Relay({"eth0": IPv6Address("2001:db8::1")}, (IPv6Address("2001:db8::2"),),
                       "eth1")
    relay.receive(data, IPv6Address("fe80::1"), "eth0", 0.0)
    relay.receive(data, IPv6Address("2001:db8::2"), "eth1", 0.0)


@given(_msg, st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
       st.integers(0, 2000))
def test_mutated_messages_never_crash_the_server(m: c.Message, flips: list[tuple[int, int]],
                                                  cut: int) -> None:
    try:
        raw = bytearray(m.build())
    except UnicodeEncodeError:
        return
    for pos, val in flips:
        if raw:
            raw[pos % len(raw)] = val
    data = bytes(raw[:cut])
    srv = Dhcp6Server(DUID_S, pool=AddrPool(IPv6Address("2001:db8::1"),
                                            IPv6Address("2001:db8::ff")),
                      pd_pool=PrefixPool(IPv6Network("2001:db8:100::/48"), 64), max_leases=4)
    for i in range(3):
        srv.receive(data, IPv6Address("fe80::1"), "eth0", float(i))
    assert srv.nleases <= 4


def test_bounds_nesting_options_names() -> None:
    inner: c.Message | c.RelayMessage = c.Message(c.MsgType.SOLICIT, 1, ())
    for _ in range(c.MAX_DEPTH + 2):
        inner = c.RelayMessage(c.MsgType.RELAY_FORW, 0, IPv6Address(0), IPv6Address(0),
                               (c.RelayMsg(inner),))
    with pytest.raises(MalformedError, match="nested"):
        c.parse(inner.build())
    many = c.Message(1, 1, tuple(c.RapidCommit() for _ in range(c.MAX_OPTIONS + 1)))
    with pytest.raises(MalformedError, match="options"):
        c.parse(many.build())
    with pytest.raises(TruncatedError) as ei:
        c.parse(bytes([1, 0, 0, 1, 0, 1, 0, 10, 1]))
    assert ei.value.offset == 4 and ei.value.layer == "dhcp6"
    with pytest.raises(MalformedError, match="compression"):
        c.parse(bytes([11, 0, 0, 1, 0, 24, 0, 2, 0xC0, 0x0C]))
    with pytest.raises(MalformedError, match="prefix length"):
        c.parse(bytes([7, 0, 0, 1]) + struct.pack("!HH", 26, 25) + bytes(8) + b"\x81" +
                bytes(16))
    with pytest.raises(TypeError):
        c.parse("x")  # type: ignore[arg-type]
    big = bytes([1, 0, 0, 1]) + struct.pack("!HH", 200, 65535) + bytes(65535)
    with pytest.raises(MalformedError):
        c.parse(big)


def test_server_ignores_messages_not_for_it_and_counts() -> None:
    srv = Dhcp6Server(DUID_S, pool=AddrPool(IPv6Address("2001:db8::1"),
                                            IPv6Address("2001:db8::ff")))
    other = c.Message(c.MsgType.REQUEST, 5, (c.ClientId(DUID_C), c.ServerId(b"\x00\x03\x00\x01xy"),
                                             c.IaNa(1))).build()
    assert srv.receive(other, IPv6Address("fe80::1"), "eth0", 0.0) == []
    noid = c.Message(c.MsgType.SOLICIT, 5, (c.IaNa(1),)).build()
    assert srv.receive(noid, IPv6Address("fe80::1"), "eth0", 0.0) == []
    adv = c.Message(c.MsgType.ADVERTISE, 5, (c.ClientId(DUID_C),)).build()
    assert srv.receive(adv, IPv6Address("fe80::1"), "eth0", 0.0) == []
    assert srv.stats["d6s_notforus"] == 1 and srv.stats["d6s_noclientid"] == 1
    assert srv.stats["d6s_badtype"] == 1


def test_client_drops_replies_to_others() -> None:
    cl = Dhcp6Client("eth0", DUID_C, rng=random.Random(1))
    sol = c.parse(_first_send(cl))
    assert isinstance(sol, c.Message)
    wrong_xid = c.Message(c.MsgType.ADVERTISE, sol.xid ^ 1, (c.ClientId(DUID_C),
                                                             c.ServerId(DUID_S))).build()
    wrong_cid = c.Message(c.MsgType.ADVERTISE, sol.xid, (c.ClientId(DUID_S),
                                                         c.ServerId(DUID_S))).build()
    no_sid = c.Message(c.MsgType.ADVERTISE, sol.xid, (c.ClientId(DUID_C),)).build()
    for b in (wrong_xid, wrong_cid, no_sid):
        cl.receive(b, IPv6Address("fe80::1"), 1.5)
    assert (cl.stats["d6c_badxid"], cl.stats["d6c_badclientid"],
            cl.stats["d6c_noserverid"]) == (1, 1, 1)
    assert cl.ex is not None and cl.ex.kind == "solicit" and not cl.ex.advertises


def test_hostile_reply_addresses_are_not_configured() -> None:
    """A server handing out multicast, link-local, loopback, mapped or ::/0
    gets nothing configured (counted); the good address is taken."""
    cl = Dhcp6Client("eth0", DUID_C, ia_pd=((2, None),), rapid_commit=True,
                     rng=random.Random(1))
    sol = c.parse(_first_send(cl))
    assert isinstance(sol, c.Message)
    bad = [IPv6Address(a) for a in ("ff02::1", "fe80::5", "::1", "::", "::ffff:192.0.2.1")]
    ia = c.IaNa(0, 10, 20, tuple(c.IaAddr(a, 10, 20) for a in [*bad, IPv6Address(
        "2001:db8::7")] + [IPv6Address(f"2001:db8::{i:x}") for i in range(0x10, 0x30)]))
    pd = c.IaPd(2, 10, 20, (c.IaPrefix(IPv6Network("::/0"), 10, 20),
                            c.IaPrefix(IPv6Network("ff00::/8"), 10, 20)))
    rep = c.Message(c.MsgType.REPLY, sol.xid, (c.ClientId(DUID_C), c.ServerId(DUID_S),
                                               c.RapidCommit(), ia, pd)).build()
    cl.receive(rep, IPv6Address("fe80::1"), 1.0)
    assert cl.lease is not None and not cl.lease.pd
    got = [a.addr for a in cl.lease.na[0].addresses]
    assert got[0] == IPv6Address("2001:db8::7") and len(got) == 8
    assert cl.stats["d6c_badaddr"] == 7
