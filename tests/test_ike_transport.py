"""IKEv2 CHILD SAs in transport mode (RFC 7296 §1.3.1, §3.10.1): the
initiator asks with USE_TRANSPORT_MODE when its policy (the key engine's
SPD, or the remote's `mode`) says transport, the responder agrees only
when its own policy says so, and a refusal ends the exchange with a clear
reason; the SAs go into the key engine in the negotiated mode and keep it
across a CHILD SA rekey. Two of our daemons in memory; tshark decrypts the
exchange and shows the notify."""

from __future__ import annotations

import shutil
import subprocess
from ipaddress import ip_address
from pathlib import Path

import pytest
from scapy.layers.inet import UDP
from scapy.layers.inet6 import IPv6
from scapy.utils import wrpcap
from test_ike import A, B, pair, run

from kame.key.engine import KeyEngine
from kame.key.spd import IpsecRequest, SecPolicy, Selector


def _transport_policy(e: KeyEngine, me: str, peer: str) -> None:
    """`spdadd me peer any -P out ipsec esp/transport//require;` and its
    inbound mirror."""
    for d, s, t in (("out", me, peer), ("in", peer, me)):
        e.spd.add(SecPolicy(Selector.of(s, t), d, "ipsec",
                            (IpsecRequest("esp", "transport", level="require"),)), 0.0)


def _modes(e: KeyEngine) -> set[str]:
    return {s.mode for s in e.sad}


def test_both_policies_transport_give_transport_sas() -> None:
    a, b, ea, eb = pair()
    _transport_policy(ea, A, B)
    _transport_policy(eb, B, A)
    sa = a.initiate(a.peers[0], 0.0)
    assert sa.mode == "transport"
    run(a, b)
    (sb,) = b.sas.values()
    assert sa.state == sb.state == "ESTABLISHED"
    assert sa.mode == sb.mode == "transport"
    assert _modes(ea) == _modes(eb) == {"transport"} and len(ea.sad) == len(eb.sad) == 2
    # a transport-mode packet through the pair
    out = next(s for s in ea.sad if str(s.src) == A)
    inn = next(s for s in eb.sad if str(s.src) == A)
    pkt = bytes(IPv6(src=A, dst=B) / UDP(sport=1, dport=2) / b"transport")
    wire = out.transform("transport").output(pkt)
    assert IPv6(wire).nh == 50 and IPv6(wire).src == A  # the original header kept
    assert inn.transform("transport").input(wire) == pkt
    # a CHILD SA rekey keeps the mode (the request carries the notify again)
    assert a.rekey_child(sa, 10.0)
    run(a, b, 10.0)
    assert sa.state == "ESTABLISHED" and sa.rekey is None
    assert _modes(ea) == _modes(eb) == {"transport"}


def test_acquire_for_a_transport_request_asks_for_transport() -> None:
    a, b, ea, eb = pair()
    _transport_policy(eb, B, A)
    ea.sad.acquire(ip_address(A), ip_address(B), "esp", "transport", 0, 0.0)
    ea.event_messages(0.0)
    a.timehandler(0.0)
    run(a, b)
    (sa,) = a.sas.values()
    assert sa.state == "ESTABLISHED" and sa.mode == "transport"
    assert _modes(ea) == _modes(eb) == {"transport"}


def test_responder_with_a_tunnel_policy_refuses_and_the_initiator_gives_up() -> None:
    a, b, ea, eb = pair()
    a.peers[0].mode = "transport"  # no SPD entry: the remote's mode
    sa = a.initiate(a.peers[0], 0.0)
    run(a, b)
    assert sa.state == "DEAD" and "refused transport mode" in sa.error
    assert not len(ea.sad)
    # the responder was told: its IKE SA and tunnel-mode pair are gone
    assert not any(s.state == "ESTABLISHED" for s in b.sas.values())
    assert not len(eb.sad)
    assert any("asks for transport mode, our policy for tunnel" in x for x in b.log)


def test_initiator_without_the_notify_gets_tunnel_even_from_a_transport_responder() -> None:
    a, b, ea, eb = pair()
    _transport_policy(eb, B, A)  # b would take transport, a does not ask
    sa = a.initiate(a.peers[0], 0.0)
    run(a, b)
    (sb,) = b.sas.values()
    assert sa.state == sb.state == "ESTABLISHED" and sa.mode == sb.mode == "tunnel"
    assert _modes(ea) == _modes(eb) == {"tunnel"}


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is installed by .ci/run")
def test_tshark_sees_use_transport_mode_in_both_ike_auth_messages(tmp_path: Path) -> None:
    a, b, ea, eb = pair()
    _transport_policy(ea, A, B)
    _transport_policy(eb, B, A)
    frames = []
    orig = b.input

    def tap(data: bytes, src: str, sport: int, dst: str, dport: int, now: float) -> None:
        frames.append(IPv6(src=src, dst=dst) / UDP(sport=sport, dport=dport) / data)
        orig(data, src, sport, dst, dport, now)

    b.input = tap  # type: ignore[method-assign]
    a_in = a.input

    def tap_a(data: bytes, src: str, sport: int, dst: str, dport: int, now: float) -> None:
        frames.append(IPv6(src=src, dst=dst) / UDP(sport=sport, dport=dport) / data)
        a_in(data, src, sport, dst, dport, now)

    a.input = tap_a  # type: ignore[method-assign]
    sa = a.initiate(a.peers[0], 0.0)
    run(a, b)
    assert sa.state == "ESTABLISHED"
    pcap = tmp_path / "ike.pcap"
    wrpcap(str(pcap), frames)
    row = sa.ikev2_decryption_row()
    out = subprocess.run(
        ["tshark", "-r", str(pcap), "-o", f"uat:ikev2_decryption_table:{row}",
         "-Y", "isakmp.exchangetype == 35", "-T", "fields", "-E", "occurrence=a",
         "-e", "isakmp.notify.msgtype"],
        capture_output=True, text=True, check=True, timeout=60).stdout.split()
    # IKE_AUTH request and response, each with USE_TRANSPORT_MODE (16391)
    assert len(out) == 2 and all("16391" in x.split(",") for x in out), out
