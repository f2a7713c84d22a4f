"""API edges (issue 8 item 11): typed, named errors instead of PyO3's bare
OverflowError, KeyError and friends. The class is fixed, not the cases:
every integer argument of every binding goes through ``int_arg`` in
``rust/src/py/util.rs`` (``test_every_integer_argument_of_every_binding``
sweeps them all); the fuzz of ``test_api_fuzz.py`` covers the rest."""

from __future__ import annotations

import inspect
import typing
from ipaddress import IPv6Address
from pathlib import Path
from typing import Any

import pytest

import kame
from kame import _core
from kame.errors import ConfigError, NoInterfaceError, RangeError, ScopeError
from kame.key.ipsec6 import Ipsec6
from kame.node import Node

PKT = bytes.fromhex("6000000000083a40" + "20010db8" + "0" * 23 + "1" + "20010db8" + "0" * 23 + "2"
                    + "8000000012340001")


def test_hop_limit_and_cpi_out_of_range() -> None:
    with pytest.raises(RangeError) as ei:
        kame.Ipv6Header("::1", "::1", hop_limit=300)
    e = ei.value
    assert (e.argument, e.low, e.high, e.value) == ("hop_limit", 0, 255, 300)
    assert str(e) == "hop_limit: 300 is out of range 0-255"
    assert isinstance(e, ValueError) and not isinstance(e, OverflowError)
    with pytest.raises(RangeError) as ei:
        kame.IpcompSa(cpi=70000)
    assert (ei.value.argument, ei.value.high) == ("cpi", 65535)
    with pytest.raises(RangeError, match="hop_limit: -1 is out of range 0-255"):
        kame.Ipv6Header("::1", "::1", hop_limit=-1)
    with pytest.raises(RangeError, match="an int of 301 bits"):
        kame.Ipv6Header("::1", "::1", hop_limit=2**300)
    with pytest.raises(TypeError):
        kame.Ipv6Header("::1", "::1", hop_limit=1.5)


def test_setters_are_range_checked() -> None:
    h = kame.Ipv6Header("::1", "::1")
    with pytest.raises(RangeError) as ei:
        h.hop_limit = 256
    assert ei.value.argument == "hop_limit"
    e = kame.Icmpv6Echo()
    with pytest.raises(RangeError) as ei:
        e.ident = 70000
    assert ei.value.argument == "ident"
    with pytest.raises(RangeError):
        kame.TcpHeader(options=[("mss", 70000)]).to_bytes()
    with pytest.raises(RangeError):
        kame.cksum_many([("::1", "::1", 300, b"")])


def test_sequences_are_bounded() -> None:
    """PyO3's Vec<T> reserved len(seq) slots first: range(10**12) aborted the
    process. Lists are walked with a bound now."""
    with pytest.raises(RangeError):
        kame.NdOptRdnss(servers=range(10**12))
    with pytest.raises(RangeError):
        kame.RoutingHeader(0, 1, __import__("ipaddress").IPv6Network("2001:db8::/64"))
    with pytest.raises(RangeError):
        kame.IpcompSa().output_many(range(10**12))


def _node() -> Node:
    n = Node("n")
    n.add_interface("eth0", bytes.fromhex("020000000001"))
    return n


def test_node_unknown_interface_and_macs() -> None:
    n = _node()
    with pytest.raises(NoInterfaceError) as ei:
        n.up("eth9", 0.0)
    assert ei.value.errno == "ENXIO" and "eth9" in str(ei.value)
    with pytest.raises(ConfigError, match="mac"):
        n.add_interface("eth1", b"\x01")
    with pytest.raises(ConfigError, match="exists"):
        n.add_interface("eth0", bytes(6))
    with pytest.raises(RangeError) as r:
        n.add_interface("eth2", bytes(6), mtu=100)
    assert r.value.argument == "mtu"
    n.add_interface("eth3", bytes(range(8)))  # EUI-64 hardware addresses are fine
    n.add_interface("gif0", None)


def test_spi_zero_never_on_the_wire() -> None:
    with pytest.raises(ConfigError, match="spi"):
        kame.ipsec.EspSa(0, "aes-gcm-16", bytes(20))
    with pytest.raises(ConfigError, match="spi"):
        kame.ipsec.AhSa(0, "hmac-sha1", bytes(20))
    kame.ipsec.EspSa(1, "aes-gcm-16", bytes(20))  # reserved, but known-answer vectors use it


def test_attach_key_and_parse_many_are_typed() -> None:
    assert typing.get_type_hints(Node.attach_key, localns={"Ipsec6": Ipsec6})["return"] \
        is Ipsec6
    batch = kame.parse_many([PKT, PKT])
    it = iter(batch)
    assert type(it).__name__ == "PacketBatchIter"
    assert [p.dst for p in batch] == [IPv6Address("2001:db8::2")] * 2
    stub = (Path(kame.__file__).parent / "_core.pyi").read_text()
    assert "def __iter__(self) -> PacketBatchIter: ..." in stub
    assert "def __next__(self) -> Packet: ..." in stub


def test_headers_carry_no_zone() -> None:
    """A wire header has no zone (RFC 4007 §6): refused, not dropped."""
    for a in (IPv6Address("fe80::1%eth0"), "fe80::1%eth0", "fe80::1%2"):
        with pytest.raises(ScopeError):
            kame.Ipv6Header(a, "::1")
    with pytest.raises(ScopeError):
        kame.in6_cksum("fe80::1%eth0", "::1", 17, b"")
    # the builders take any 128-bit value: this is how hostile packets are made
    assert kame.Ipv6Header("fe80:1::5", "ff02:1::1").src == IPv6Address("fe80:1::5")


# --- the class: every integer argument of every binding -----------------------------

_REQUIRED: dict[str, Any] = {
    "src": "2001:db8::1", "dst": "2001:db8::2", "packet": PKT, "buf": PKT, "data": PKT,
    "inner": PKT, "outer_src": "2001:db8::1", "outer_dst": "2001:db8::2", "frame": PKT,
    "frames": [PKT], "packets": [PKT], "items": [], "spi": 0x1000, "auth": "hmac-sha1",
    "key": bytes(20), "routing_type": 0, "segments_left": 0, "offset": 0, "more": False,
    "ident": 1, "addr": "2001:db8::1", "type": 128, "value": 0, "records": [],
    "now": 0.0, "mtu": 1280, "msg": PKT, "wire": PKT, "next_header": 17, "length": 8,
    "link": "raw", "group": "ff02::1:3", "target": "2001:db8::1", "prefix": "2001:db8::",
}


def _callables() -> list[tuple[str, Any]]:
    out = []
    for name in dir(_core):
        obj = getattr(_core, name)
        if name.startswith("_") or not callable(obj):
            continue
        out.append((name, obj))
        if inspect.isclass(obj):
            for m in dir(obj):
                f = inspect.getattr_static(obj, m)
                if not m.startswith("_") and isinstance(f, staticmethod):
                    out.append((f"{name}.{m}", getattr(obj, m)))
    return out


def _int_params() -> list[tuple[str, str]]:
    out = []
    for name, f in _callables():
        try:
            sig = inspect.signature(f)
        except (TypeError, ValueError):
            continue
        for p in sig.parameters.values():
            if isinstance(p.default, int) and not isinstance(p.default, bool):
                out.append((name, p.name))
    return out


INT_PARAMS = _int_params()


def _call(f: Any, **over: Any) -> Any:
    sig = inspect.signature(f)
    args = {}
    for p in sig.parameters.values():
        if p.default is inspect.Parameter.empty and p.name in _REQUIRED:
            args[p.name] = _REQUIRED[p.name]
    args.update(over)
    return f(**args)


def test_the_sweep_is_not_empty() -> None:
    assert len(INT_PARAMS) > 60
    assert ("Ipv6Header", "hop_limit") in INT_PARAMS and ("IpcompSa", "cpi") in INT_PARAMS


@pytest.mark.parametrize("target,param", INT_PARAMS, ids=[f"{t}:{p}" for t, p in INT_PARAMS])
def test_every_integer_argument_of_every_binding(target: str, param: str) -> None:
    """Where the call works with the default, 2**64 and -2**64 in that one
    argument raise RangeError naming it; nothing ever raises OverflowError."""
    f = dict(_callables())[target]
    try:
        _call(f)
    except Exception:  # noqa: BLE001 - no working baseline call: nothing to compare with
        baseline_ok = False
    else:
        baseline_ok = True
    for bad in (2**64, -(2**64), 2**200):
        try:
            _call(f, **{param: bad})
        except RangeError as e:
            assert e.argument == param, (target, param, e)
            continue
        except OverflowError as e:  # the bug class this test exists for
            pytest.fail(f"{target}({param}={bad}): bare OverflowError {e}")
        except Exception as e:  # noqa: BLE001
            assert not baseline_ok or isinstance(e, (TypeError, ValueError)), (target, e)
            continue
        pytest.fail(f"{target}({param}={bad}) was accepted")
