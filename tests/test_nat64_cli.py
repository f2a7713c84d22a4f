"""`kame nat64` and `kame netstat -s -p nat64` without devices: usage
errors are one line and status 2, never a traceback; the tables and
counters format as the interop test reads them
(tests/interop/test_nat64_cli_kernel.py runs the command for real)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet6 import UDP, IPv6

from kame import _core
from kame.cli.main import main
from kame.cli.nat64 import format_nat64_show, format_nat64_stats, snap_nat64
from kame.nat64 import NAT64_STATS, Nat64

BASE = ["nat64", "--tap", "a6", "--tap", "a4", "--prefix", "64:ff9b::/96"]


@pytest.mark.parametrize(("extra", "why"), [
    (["--timeout", "udp=x"], "seconds"),
    (["--timeout", "bogus=5", "--pool", "203.0.113.1"], "unknown NAT64 timeout"),
    (["--timeout", "udp=-1"], "0 < T"),
    (["--eam", "nonsense"], "NAME=VALUE"),
    (["--eam", "2001:db8::1=192.0.2.1"], "IPv4"),
    (["--static", "udp,2001:db8::1,7000,203.0.113.1"], "PROTO,ADDR6,PORT,ADDR4,PORT"),
    (["--static", "udp,2001:db8::1,7000,203.0.113.1,7000"], "needs a NAT64 pool"),
    (["--pool", "203.0.113.1", "--static", "gre,2001:db8::1,1,203.0.113.1,1"], "tcp, udp or icmp"),
    (["--pool", "203.0.113.1", "--static", "udp,2001:db8::1,1,192.0.2.9,1"], "not in the pool"),
    (["--pool", "not-an-address"], "not-an-address"),
    (["--pool6791v6", "192.0.2.1"], "192.0.2.1"),
])
def test_bad_configuration_is_a_usage_error(extra: list[str], why: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kame nat64: ") and why.lower() in err.lower() and err.count("\n") == 1


def test_taps_and_prefix_are_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nat64", "--tap", "a6"]) == 2
    assert main(["nat64", "--tap", "a6", "--tap", "a6", "--prefix", "64:ff9b::/96"]) == 2
    assert main(["nat64", "--tap", "a6", "--tap", "a4"]) == 2
    assert main(["nat64", "--tap", "a6", "--tap", "a4", "--prefix", "64:ff9b::/95"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_show_without_a_node(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nat64", "show", "--ctl", f"{tmp_path}/none.sock"]) == 1
    assert main(["netstat", "-s", "-p", "nat64", "--ctl", f"{tmp_path}/none.sock"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 2 and "no such socket" in err


def test_show_and_stats_format() -> None:
    n = Nat64("64:ff9b::/96", ["203.0.113.1"])
    n.add_static("tcp", "2001:db8:1::80", 80, "203.0.113.1", 8080)
    n.translate6(bytes(IPv6(src="2001:db8:1::5", dst="64:ff9b::c633:640a") / UDP(sport=5000, dport=53)), 0)
    snap = snap_nat64(n, 10.0)
    text = format_nat64_show(snap)
    assert "udp   [2001:db8:1::5]#5000 <-> 203.0.113.1#5000\n" in text
    assert "tcp   [2001:db8:1::80]#80 <-> 203.0.113.1#8080  static\n" in text
    assert "-> 198.51.100.10#53  -  expires 290.0s" in text
    out = format_nat64_stats(n.all_stats())
    assert out.startswith("nat64:\n\t1 packets translated IPv6 to IPv4\n")
    assert "\t1 BIB entries created\n" in out


def test_every_counter_has_netstat_words() -> None:
    """Every xlats_* the core names and every nat64_* the tables count
    has a line in `netstat -s -p nat64` (no bare names left)."""
    assert set(_core.xlat_drop_names()) <= set(NAT64_STATS)
    n = Nat64("64:ff9b::/96", ["203.0.113.1"])
    assert set(n.all_stats()) <= set(NAT64_STATS)
    for name in ("nat64_bib_full", "nat64_session_full", "nat64_pool_exhausted", "nat64_nobib",
                 "nat64_filtered", "nat64_tcp_nosyn", "nat64_session_expired", "nat64_noroute"):
        assert name in NAT64_STATS


@settings(max_examples=40)
@given(st.lists(st.sampled_from(["--pool", "--eam", "--static", "--timeout", "--mtu6",
                                 "--pool6791v4", "x", "1", "=", ",", "udp", "203.0.113.1",
                                 "2001:db8::1", "udp=1"]), max_size=8))
def test_any_words_never_traceback(words: list[str]) -> None:
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main([*BASE[:5], "--prefix", "64:ff9b::/96", "--tap", "x", *words])
    assert rc in (1, 2) and "Traceback" not in err.getvalue() and "internal error" not in err.getvalue()
