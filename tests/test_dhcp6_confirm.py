"""The DHCPv6 client's Confirm (RFC 8415 §18.2.3, §18.2.12), Server Unicast
(§18.4, §21.12, UseMulticast §18.2.10), IA_TA (§21.5) and the binding kept
across restarts (``save_state``/``restore_state``), each driven message by
message under a simulated clock with a scripted server."""

from __future__ import annotations

import itertools
import json
import random
from ipaddress import IPv6Address, IPv6Network

from hypothesis import given
from hypothesis import strategies as st

from kame.dhcp6 import codec as c
from kame.dhcp6 import duid as duidmod
from kame.dhcp6.client import ALL_DHCP_RELAY_AGENTS_AND_SERVERS, Bound, Confirmed, Dhcp6Client

DUID_C = duidmod.duid_ll(bytes.fromhex("020000000002"))
DUID_S = duidmod.duid_ll(bytes.fromhex("020000000001"))
SRV_LL = IPv6Address("fe80::1")
UNICAST = IPv6Address("2001:db8::547")
A1 = IPv6Address("2001:db8::100")
T1 = IPv6Address("2001:db8::7e:1")
P1 = IPv6Network("2001:db8:100::/56")


def _client(**kw: object) -> Dhcp6Client:
    return Dhcp6Client("eth0", DUID_C, rng=random.Random(1), **kw)  # type: ignore[arg-type]


def _next(cl: Dhcp6Client, now: float) -> tuple[float, c.Message, IPv6Address]:
    """Poll until the client sends; the time, the message and where it went."""
    t = now
    for _ in range(200):
        out = cl.poll(t)
        if out:
            m = c.parse(out[0].payload)
            assert isinstance(m, c.Message)
            return t, m, out[0].dst
        d = cl.next_deadline()
        assert d is not None
        t = max(t, d)
    raise AssertionError("the client never sent")


def _answer(req: c.Message, t: int, *extra: c.Option, ias: bool = True) -> bytes:
    opts: list[c.Option] = [c.ClientId(DUID_C), c.ServerId(DUID_S)]
    if ias:
        for o in req.options:
            if isinstance(o, c.IaNa):
                opts.append(c.IaNa(o.iaid, 100, 160, (c.IaAddr(A1, 200, 400),)))
            elif isinstance(o, c.IaTa):
                opts.append(c.IaTa(o.iaid, (c.IaAddr(T1, 200, 400),)))
            elif isinstance(o, c.IaPd):
                opts.append(c.IaPd(o.iaid, 100, 160, (c.IaPrefix(P1, 200, 400),)))
    opts += extra
    return c.Message(t, req.xid, tuple(opts)).build()


def _bind(cl: Dhcp6Client, *adv_extra: c.Option, reply_extra: tuple[c.Option, ...] = ()
          ) -> tuple[float, IPv6Address]:
    """Solicit → Advertise → Request → Reply; the time and where the Request went."""
    cl.start("stateful", 0.0)
    t, sol, _ = _next(cl, 0.0)
    assert sol.msg_type == c.MsgType.SOLICIT
    cl.receive(_answer(sol, c.MsgType.ADVERTISE, *adv_extra, c.Preference(255)), SRV_LL, t)
    t, req, dst = _next(cl, t)
    assert req.msg_type == c.MsgType.REQUEST
    cl.receive(_answer(req, c.MsgType.REPLY, *reply_extra), SRV_LL, t)
    assert cl.lease is not None
    return t, dst


# --- Server Unicast --------------------------------------------------------------------


def test_unicast_option_sends_request_renew_release_to_the_server() -> None:
    cl = _client()
    t, dst = _bind(cl, c.Unicast(UNICAST), reply_extra=(c.Unicast(UNICAST),))
    # no address of sufficient scope before the Reply: the Request is multicast
    assert dst == ALL_DHCP_RELAY_AGENTS_AND_SERVERS
    assert cl.lease is not None and cl.lease.unicast == UNICAST
    t, renew, dst = _next(cl, t)
    assert renew.msg_type == c.MsgType.RENEW and dst == UNICAST and t >= 100
    cl.receive(_answer(renew, c.MsgType.REPLY, c.Unicast(UNICAST)), SRV_LL, t)
    cl.release(t)
    _, rel, dst = _next(cl, t)
    assert rel.msg_type == c.MsgType.RELEASE and dst == UNICAST
    assert cl.stats["d6c_unicast"] == 2


def test_unicast_unreachable_falls_back_to_multicast() -> None:
    cl = _client()
    t, _ = _bind(cl, reply_extra=(c.Unicast(UNICAST),))
    t, _renew, dst = _next(cl, t)
    assert dst == UNICAST
    cl.unicast_unreachable(t)
    _, again, dst = _next(cl, t)
    assert again.msg_type == c.MsgType.RENEW and dst == ALL_DHCP_RELAY_AGENTS_AND_SERVERS
    assert cl.stats["d6c_usemulticast"] == 1


def test_use_multicast_status_resends_by_multicast_and_forgets_unicast() -> None:
    cl = _client()
    t, _ = _bind(cl, reply_extra=(c.Unicast(UNICAST),))
    t, renew, dst = _next(cl, t)
    assert dst == UNICAST
    cl.receive(c.Message(c.MsgType.REPLY, renew.xid, (
        c.ClientId(DUID_C), c.ServerId(DUID_S),
        c.StatusCode(c.Status.USE_MULTICAST, "multicast please"))).build(), SRV_LL, t)
    assert cl.stats["d6c_usemulticast"] == 1
    t, again, dst = _next(cl, t)
    assert again.msg_type == c.MsgType.RENEW and dst == ALL_DHCP_RELAY_AGENTS_AND_SERVERS
    assert cl.lease is not None and cl.lease.unicast is None
    cl.receive(_answer(again, c.MsgType.REPLY), SRV_LL, t)
    assert cl.ex is None and cl.lease is not None and cl.lease.unicast is None


def test_without_unicast_option_everything_is_multicast() -> None:
    cl = _client()
    t, dst = _bind(cl)
    assert dst == ALL_DHCP_RELAY_AGENTS_AND_SERVERS
    _, _renew, dst = _next(cl, t)
    assert dst == ALL_DHCP_RELAY_AGENTS_AND_SERVERS and cl.stats["d6c_unicast"] == 0


def test_unicast_to_a_multicast_or_link_local_address_is_not_followed() -> None:
    for bad in (IPv6Address("ff02::1"), IPv6Address("fe80::9"), IPv6Address("::")):
        cl = _client()
        _, dst = _bind(cl, c.Unicast(bad), reply_extra=(c.Unicast(bad),))
        assert dst == ALL_DHCP_RELAY_AGENTS_AND_SERVERS
        assert cl.lease is not None and cl.lease.unicast is None


# --- IA_TA -----------------------------------------------------------------------------


def test_ia_ta_solicited_requested_bound_renewed_declined_released() -> None:
    cl = _client(ia_na=(1,), ia_ta=(7,))
    cl.start("stateful", 0.0)
    t, sol, _ = _next(cl, 0.0)
    assert [o.iaid for o in sol.all(c.IaTa)] == [7]
    cl.receive(_answer(sol, c.MsgType.ADVERTISE, c.Preference(255)), SRV_LL, t)
    t, req, _ = _next(cl, t)
    tas = req.all(c.IaTa)
    assert len(tas) == 1 and [a.addr for a in tas[0].addresses] == [T1]
    cl.receive(_answer(req, c.MsgType.REPLY), SRV_LL, t)
    bound = [e for e in cl.events if isinstance(e, Bound)]
    assert bound and [a.addr for a in bound[-1].temporary] == [T1]
    assert [a.addr for a in bound[-1].addresses] == [A1]
    t, renew, _ = _next(cl, t)
    assert renew.msg_type == c.MsgType.RENEW
    assert [a.addr for ta in renew.all(c.IaTa) for a in ta.addresses] == [T1]
    cl.receive(_answer(renew, c.MsgType.REPLY), SRV_LL, t)
    cl.declined_address(T1, t)
    _, dec, _ = _next(cl, t)
    assert dec.msg_type == c.MsgType.DECLINE
    assert [a.addr for ta in dec.all(c.IaTa) for a in ta.addresses] == [T1]
    assert dec.all(c.IaNa) == []


def test_ia_ta_alone_is_a_lease_and_released() -> None:
    cl = _client(ia_na=(), ia_ta=(3,))
    t, _ = _bind(cl)
    lease = cl.lease
    assert lease is not None and not lease.na and [a.addr for a in lease.ta[3].addresses] == [T1]
    # no T1/T2 in an IA_TA: 0.5 and 0.8 of the preferred lifetime (§21.4)
    assert lease.t1 - t == 100 and lease.t2 - t == 160
    cl.release(t)
    _, rel, _ = _next(cl, t)
    assert rel.msg_type == c.MsgType.RELEASE and rel.all(c.IaTa)[0].addresses[0].addr == T1


def test_ia_ta_with_a_hostile_address_is_refused() -> None:
    cl = _client(ia_na=(), ia_ta=(3,))
    cl.start("stateful", 0.0)
    t, sol, _ = _next(cl, 0.0)
    adv = c.Message(c.MsgType.ADVERTISE, sol.xid, (
        c.ClientId(DUID_C), c.ServerId(DUID_S),
        c.IaTa(3, (c.IaAddr(IPv6Address("ff02::1"), 200, 400),)))).build()
    cl.receive(adv, SRV_LL, t)
    t, req, _ = _next(cl, t)
    bad = c.Message(c.MsgType.REPLY, req.xid, (
        c.ClientId(DUID_C), c.ServerId(DUID_S),
        c.IaTa(3, (c.IaAddr(IPv6Address("ff02::1"), 200, 400),)))).build()
    cl.receive(bad, SRV_LL, t)
    # a multicast temporary address is counted and not bound
    assert cl.stats["d6c_badaddr"] >= 1 and cl.lease is None


# --- Confirm ---------------------------------------------------------------------------


def test_confirm_after_link_change_success_keeps_the_lease() -> None:
    cl = _client(ia_na=(1,), ia_ta=(2,))
    t, _ = _bind(cl)
    cl.events.clear()
    cl.link_changed(t + 5)
    t2, cnf, dst = _next(cl, t + 5)
    assert cnf.msg_type == c.MsgType.CONFIRM and dst == ALL_DHCP_RELAY_AGENTS_AND_SERVERS
    assert cnf.get(c.ServerId) is None
    assert [(a.addr, a.preferred, a.valid) for ia in cnf.all(c.IaNa) for a in ia.addresses] \
        == [(A1, 0, 0)]
    assert [a.addr for ia in cnf.all(c.IaTa) for a in ia.addresses] == [T1]
    assert t2 - (t + 5) <= 1.0         # CNF_MAX_DELAY
    cl.receive(_answer(cnf, c.MsgType.REPLY, c.StatusCode(0, "all on link"), ias=False),
               SRV_LL, t2)
    assert Confirmed("eth0", True) in cl.events
    assert any(isinstance(e, Bound) for e in cl.events)
    assert cl.lease is not None and cl.ex is None and cl.stats["d6c_confirm"] == 1


def test_confirm_not_on_link_drops_the_lease_and_solicits() -> None:
    cl = _client()
    t, _ = _bind(cl)
    cl.link_changed(t)
    t, cnf, _ = _next(cl, t)
    cl.receive(_answer(cnf, c.MsgType.REPLY, c.StatusCode(c.Status.NOT_ON_LINK, "moved"),
                       ias=False), SRV_LL, t)
    assert cl.lease is None and cl.stats["d6c_notonlink"] == 1
    assert Confirmed("eth0", False) in cl.events
    _, sol, _ = _next(cl, t)
    assert sol.msg_type == c.MsgType.SOLICIT


def test_confirm_unanswered_gives_up_after_mrd_and_keeps_the_lease() -> None:
    cl = _client()
    t0, _ = _bind(cl)
    cl.link_changed(t0)
    times = []
    t = t0
    while True:
        out = cl.poll(t)
        times += [t for _ in out]
        d = cl.next_deadline()
        if cl.ex is None or d is None or d > t0 + 60:
            break
        t = d
    assert cl.ex is None and cl.lease is not None
    assert Confirmed("eth0", None) in cl.events
    # CNF_MAX_RD 10 s; RT capped at CNF_MAX_RT 4 s (+10 %)
    assert 10 <= t - t0 <= 11.5 and len(times) >= 4
    assert all(b - a <= 4.4 + 1e-9 for a, b in itertools.pairwise(times))


def test_link_change_with_delegated_prefix_rebinds() -> None:
    cl = _client(ia_na=(1,), ia_pd=((2, None),))
    t, _ = _bind(cl)
    cl.link_changed(t)
    _, m, dst = _next(cl, t)
    assert m.msg_type == c.MsgType.REBIND and m.get(c.ServerId) is None
    assert dst == ALL_DHCP_RELAY_AGENTS_AND_SERVERS and m.all(c.IaPd)


# --- the binding kept across restarts ----------------------------------------------------


def test_state_round_trip_shortens_lifetimes_and_confirms() -> None:
    cl = _client(ia_na=(1,), ia_pd=((2, None),), ia_ta=(3,))
    t, _ = _bind(cl, reply_extra=(c.Unicast(UNICAST),))
    st_ = json.loads(json.dumps(cl.save_state(1_000_000.0 + t, t)))
    # restarted 30 s later on a clock that starts at 5
    cl2 = _client(ia_na=(1,), ia_pd=((2, None),), ia_ta=(3,))
    assert cl2.restore_state(st_, 1_000_030.0 + t, 5.0)
    lease = cl2.lease
    assert lease is not None and lease.server == DUID_S and lease.unicast == UNICAST
    a = lease.na[1].addresses[0]
    assert (a.addr, a.preferred, a.valid) == (A1, 170, 370)
    p = lease.pd[2].prefixes[0]
    assert (p.prefix, p.valid) == (P1, 370)
    assert lease.ta[3].addresses[0].addr == T1
    assert abs(lease.t1 - (5.0 + 100 - 30)) < 1e-6 and abs(lease.expire - (5 + 370)) < 1e-6
    cl3 = _client(ia_na=(1,))
    assert cl3.restore_state(st_, 1_000_030.0 + t, 5.0)
    assert cl3.lease is not None and not cl3.lease.pd and not cl3.lease.ta
    cl3.link_changed(5.0)
    _, cnf, _ = _next(cl3, 5.0)
    assert cnf.msg_type == c.MsgType.CONFIRM


def test_state_not_restored_when_expired_other_duid_or_garbage() -> None:
    cl = _client()
    t, _ = _bind(cl)
    st_ = cl.save_state(1000.0 + t, t)
    assert not _client().restore_state(st_, 1000.0 + t + 401, 0.0)
    other = Dhcp6Client("eth0", duidmod.duid_ll(bytes.fromhex("020000000009")))
    assert not other.restore_state(st_, 1000.0 + t, 0.0)
    for bad in (None, 3, "x", {"version": 1, "duid": DUID_C.hex(), "lease": {"na": 5}},
                {"version": 1, "duid": DUID_C.hex(), "lease": {"obtained": "x"}}):
        c2 = _client()
        assert not c2.restore_state(bad, 0.0, 0.0) and c2.lease is None


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda ch: st.lists(ch, max_size=4) | st.dictionaries(
                        st.sampled_from(["version", "duid", "lease", "na", "pd", "ta",
                                         "obtained", "expire", "t1", "t2", "server", "dns"]),
                        ch, max_size=6), max_leaves=20))
def test_hostile_state_files_never_raise(data: object) -> None:
    cl = _client(ia_na=(1,), ia_pd=((2, None),), ia_ta=(3,))
    if isinstance(data, dict):
        data = {"version": 1, "duid": DUID_C.hex(), **data}
    ok = cl.restore_state(data, 100.0, 0.0)
    assert ok == (cl.lease is not None)


# --- Reconfigure from the server agent (what kame dhcp6ctl asks) -----------------------


def test_server_agent_reconfigure_retransmits_until_the_client_renews() -> None:
    from dhcp6_rig import Rig

    from kame.dhcp6.agent import REC_MAX_RC

    r = Rig()
    r.run(15)
    assert r.client.lease is not None and r.client.reconf_key is not None
    cduid = r.client.duid
    assert r.srv.reconfigure(b"\x00\x03\x00\x01\x02\x00\x00\x00\x0b\xad", c.MsgType.RENEW,
                             r.sim.now).startswith("no Reconfigure key")
    assert "not Renew" in r.srv.reconfigure(cduid, c.MsgType.SOLICIT, r.sim.now)
    renews = r.server.stats["d6s_renew"]
    assert r.srv.reconfigure(cduid, c.MsgType.RENEW, r.sim.now) == ""
    r.run(r.sim.now + 5)
    assert r.server.stats["d6s_renew"] == renews + 1
    assert r.srv.reconf_sent == 1 and r.srv.reconf_answered == 1 and not r.srv.pending
    assert r.client.stats["d6c_reconfigure"] == 1 and r.client.stats["d6c_badauth"] == 0
    # a client that stopped listening: REC_MAX_RC copies, REC_TIMEOUT doubling, then given up
    r.cli.sock.close()
    r.agents.remove(r.cli)
    t0 = r.sim.now
    assert r.srv.reconfigure(cduid, c.MsgType.INFORMATION_REQUEST, t0) == ""
    r.run(t0 + 2 * (2 ** REC_MAX_RC))
    assert r.srv.reconf_sent == 1 + REC_MAX_RC and r.srv.reconf_giveup == 1
    assert not r.srv.pending


def test_parse_duid() -> None:
    import pytest

    from kame.cli.dhcp6s import parse_duid

    assert parse_duid("00:03:00:01:02:00:00:00:00:02") == bytes.fromhex("00030001020000000002")
    for bad in ("xyz", "00", "0" * 300):
        with pytest.raises(ValueError):
            parse_duid(bad)
