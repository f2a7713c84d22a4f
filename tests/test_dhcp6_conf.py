"""WIDE-DHCPv6's dhcp6c.conf and dhcp6s.conf as `kame dhcp6c`/`kame dhcp6s`
read them (kame.dhcp6.conf): what they cover, and errors that name the line."""

from __future__ import annotations

from ipaddress import IPv6Address, IPv6Network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kame.cli.main import main
from kame.dhcp6.agent import PrefixInterface
from kame.dhcp6.conf import parse_client, parse_server
from kame.errors import ConfigError

CLIENT = """# dhcp6c.conf
interface eth0 {
    send ia-na 1;
    send ia-pd 2;
    send rapid-commit;
    request domain-name-servers;
    request domain-name;
    script "/etc/wide-dhcpv6/dhcp6c-script";
};
id-assoc na 1 { };
id-assoc pd 2 {
    prefix 2001:db8:100::/56 infinity;
    prefix-interface eth1 { sla-id 1; sla-len 8; };
};
"""

SERVER = """option domain-name-servers 2001:db8::53 2001:db8::54;
option domain-name "example.test";
option refreshtime 3600;
preference 255;
interface eth0 {
    address-pool pool1 3600 7200;
    prefix-pool pd1 1800;
    allow rapid-commit;
};
pool pool1 { range 2001:db8::1000 to 2001:db8::1fff; };
prefix-pool pd1 { prefix 2001:db8:100::/40; delegated-length 56; };
host kame {
    duid 00:03:00:01:02:00:00:00:00:01;
    address 2001:db8::5 infinity;
    prefix 2001:db8:200::/48 3600 7200;
};
"""


def test_client_conf() -> None:
    c = parse_client(CLIENT)
    ci = c.interfaces["eth0"]
    assert ci.ia_na == [1] and ci.ia_pd == [2] and ci.rapid_commit
    assert ci.request == [23, 24]
    assert c.pd_hints[2] == IPv6Network("2001:db8:100::/56")
    assert c.prefix_interfaces[2] == [PrefixInterface("eth1", 1, 8)]
    assert c.na_hints == {1: None}


def test_server_conf() -> None:
    s = parse_server(SERVER)
    assert s.dns == [IPv6Address("2001:db8::53"), IPv6Address("2001:db8::54")]
    assert s.domains == ["example.test"] and s.refresh == 3600 and s.preference == 255
    pool = s.addr_pool("eth0")
    assert pool is not None and pool.size == 0x1000 and (pool.preferred, pool.valid) == (3600,
                                                                                          7200)
    pd = s.prefix_pool("eth0")
    assert pd is not None and pd.size == 65536 and pd.valid == 1800
    assert s.interfaces["eth0"].rapid_commit
    h = s.hosts[0]
    assert h.duid == bytes.fromhex("00030001020000000001")
    assert h.addresses == [(IPv6Address("2001:db8::5"), 0xFFFFFFFF, 0xFFFFFFFF)]
    assert h.prefixes == [(IPv6Network("2001:db8:200::/48"), 3600, 7200)]


@pytest.mark.parametrize(("text", "line", "what"), [
    ("interface eth0 {\n  send ia-na x;\n};\n", 2, "not a number"),
    ("interface eth0 {\n  send ia-na 1\n};\n", 2, "';'"),
    ("interface eth0 {\n\n  bogus;\n};\n", 3, "unknown"),
    ("id-assoc pd 1 {\n prefix-interface e { sla-id 300; sla-len 8; };\n};\n", 2, "fit"),
    ("id-assoc pd 1 {\n prefix 2001:db8::/zz 10;\n};\n", 2, "prefix"),
    ('interface eth0 {\n script "x;\n};\n', 2, "unterminated"),
    ("interface eth0 {\n send ia-na 1;\n", None, "end of file"),
    ("}\n", 1, "without"),
])
def test_client_errors_name_the_line(text: str, line: int | None, what: str) -> None:
    with pytest.raises(ConfigError, match=what) as ei:
        parse_client(text, "c.conf")
    if line is not None:
        assert str(ei.value).startswith(f"c.conf:{line}:")


@pytest.mark.parametrize(("text", "line", "what"), [
    ("option domain-name-servers 2001:db8::zz;\n", 1, "not an IPv6 address"),
    ("\npool p { range 2001:db8::9 to 2001:db8::1; };\n", 2, "empty range"),
    ("host h {\n address 2001:db8::1 10 5;\n duid 00:01:02;\n};\n", 2, "preferred"),
    ("host h {\n address 2001:db8::1 10;\n};\n", 1, "without a duid"),
    ("preference 256;\n", 1, "not a number"),
    ('option domain-name "a..b";\n', 1, "label"),
    ("interface e { address-pool nope 10; };\n", None, "no pool named"),
])
def test_server_errors_name_the_line(text: str, line: int | None, what: str) -> None:
    with pytest.raises(ConfigError, match=what) as ei:
        parse_server(text, "s.conf")
    if line is not None:
        assert str(ei.value).startswith(f"s.conf:{line}:")


@given(st.text(alphabet='ab {};"#\n0123456789:./-', max_size=200))
def test_any_text_is_a_config_or_a_config_error(text: str) -> None:
    for parse in (parse_client, parse_server):
        try:
            parse(text)
        except ConfigError:
            pass


def test_cli_reports_the_line(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "dhcp6s.conf"
    p.write_text("pool p {\n range 2001:db8::1 2001:db8::9;\n};\n")
    assert main(["dhcp6s", "-c", str(p), "--tap", "kd6none0"]) == 1
    err = capsys.readouterr().err
    assert f"{p}:2:" in err and err.count("\n") == 1
    q = tmp_path / "dhcp6c.conf"
    q.write_text("interface eth9 { send ia-na 1; };\n")
    assert main(["dhcp6c", "-c", str(q), "--tap", "kd6none0"]) == 1
    assert "not one of --tap" in capsys.readouterr().err
