"""Every `kame` command checks its options against the documented ranges and
says what is wrong in one line on standard error (exit status 2 for a usage
error, 1 for a failed command), never a traceback. The named cases of
issue 8 item 9, each with the value that must pass beside the one that must
not; `kame --version`, `python -m kame`; setkey's key lengths against the
core's own table."""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

import kame
from kame.cli import node as node_cli
from kame.cli.main import main
from kame.errors import ConfigError
from kame.ipsec import AhSa, EspSa
from kame.key.setkey import AALG_KEY_OCTETS, AALG_SPELLINGS, EALG_KEY_OCTETS, EALG_SPELLINGS

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=str(ROOT / "python") + os.pathsep
           + os.environ.get("PYTHONPATH", ""))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err + cap.out
    return rc, cap.out, cap.err


def refused(capsys: pytest.CaptureFixture[str], *argv: str, status: int = 2) -> str:
    """The one line a refused command prints (and its exit status)."""
    rc, out, err = run(capsys, *argv)
    assert rc == status, (argv, rc, err)
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"kame {argv[0]}: "), err
    return lines[0]


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[argparse.Namespace]:
    """`kame node` checks its options and would start; the daemons are
    replaced by a note of what they were given."""
    got: list[argparse.Namespace] = []

    def fake(args: argparse.Namespace) -> int:
        got.append(args)
        return 0

    monkeypatch.setattr(node_cli, "run_node", fake)
    monkeypatch.setattr(node_cli, "run_sim", fake)
    return got


# --- kame node --------------------------------------------------------------------------

@pytest.mark.parametrize("mtu", ["-1", "100", "1279", "65536", "abc", "1e3", "1500.0", ""])
def test_node_mtu_refused(capsys, started, mtu: str) -> None:  # type: ignore[no-untyped-def]
    line = refused(capsys, "node", "--tap", "tap0", "--mtu", mtu)
    assert "argument --mtu:" in line and "see kame node --help" in line
    if mtu in ("-1", "100", "1279", "65536"):
        assert f"{mtu} is out of range: MTU 1280..65535" in line
    assert started == []


@pytest.mark.parametrize("mtu", ["1280", "1500", "9000", "65535"])
def test_node_mtu_taken(capsys, started, mtu: str) -> None:  # type: ignore[no-untyped-def]
    assert run(capsys, "node", "--tap", "tap0", "--mtu", mtu)[0] == 0
    assert started[0].mtu == int(mtu)


@pytest.mark.parametrize("value", ["1", "3.99", "1800.5", "0", "-4", "nan", "inf", "x"])
def test_node_ra_interval_refused(capsys, started, value: str) -> None:  # type: ignore[no-untyped-def]
    line = refused(capsys, "node", "--tap", "tap0", "--router", "--ra-interval", value)
    assert "argument --ra-interval:" in line
    if value in ("1", "3.99", "1800.5", "0", "-4"):
        assert "MaxRtrAdvInterval 4..1800" in line


def test_node_ra_intervals(capsys, started) -> None:  # type: ignore[no-untyped-def]
    t = ("node", "--tap", "tap0", "--router")
    assert run(capsys, *t, "--ra-interval", "4")[0] == 0
    assert started[-1].ra_interval == 4.0 and started[-1].ra_min_interval is None
    assert run(capsys, *t, "--ra-interval", "1800", "--ra-min-interval", "1350")[0] == 0
    assert run(capsys, *t, "--ra-interval", "10", "--ra-min-interval", "7.5")[0] == 0
    assert started[-1].ra_min_interval == 7.5
    line = refused(capsys, *t, "--ra-interval", "10", "--ra-min-interval", "7.6")
    assert line == ("kame node: --ra-min-interval 7.6 is out of range: 3..7.5 s (0.75 × "
                    "--ra-interval 10, RFC 4861 §6.2.1) (see kame node --help)")
    assert "3..1350" in refused(capsys, *t, "--ra-min-interval", "2")
    assert run(capsys, *t, "--ra-interval", "4", "--ra-min-interval", "3")[0] == 0
    assert "3..3 s" in refused(capsys, *t, "--ra-interval", "4", "--ra-min-interval", "3.5")
    assert "needs --router" in refused(capsys, "node", "--tap", "tap0", "--ra-interval", "30")
    assert run(capsys, *t)[0] == 0 and started[-1].ra_interval == 30.0  # the default


@pytest.mark.parametrize("prefix,why", [
    ("2001:db8::/48", ("/48 is not /64; stateless autoconfiguration on Ethernet needs a /64 "
                      "(RFC 4862 §5.5.3, RFC 2464 §4)")),
    ("2001:db8::/80", "/80 is not /64"),
    ("2001:db8::1/64", "host bits are set; the prefix is 2001:db8::/64"),
    ("2001:db8::", "give the prefix length (/64)"),
    ("ff02::/64", "not a prefix to advertise"),
    ("fe80::/64", "not a prefix to advertise"),
    ("fec0::/64", "not a prefix to advertise"),
    ("::/64", "not a prefix to advertise"),
    ("2001:db8::%eth0/64", "a prefix takes no zone"),
    ("10.0.0.0/64", "is not an IPv6 prefix"),
    ("zz", "give the prefix length"),
    ("2001:db8::/x", "is not an IPv6 prefix"),
])
def test_node_prefix_refused(capsys, started, prefix: str, why: str) -> None:  # type: ignore[no-untyped-def]
    line = refused(capsys, "node", "--tap", "tap0", "--router", "--prefix", prefix)
    assert line.startswith("kame node: argument --prefix: ") and why in line


def test_node_prefixes(capsys, started) -> None:  # type: ignore[no-untyped-def]
    t = ("node", "--tap", "tap0", "--router")
    assert run(capsys, *t, "--prefix", "2001:db8:1::/64", "--prefix", "fd00:1::/64")[0] == 0
    assert [str(p) for p in started[-1].prefix] == ["2001:db8:1::/64", "fd00:1::/64"]
    assert "needs --router" in refused(capsys, "node", "--tap", "tap0", "--prefix",
                                       "2001:db8:1::/64")
    assert "given twice" in refused(capsys, *t, "--prefix", "2001:db8:1::/64",
                                    "--prefix", "2001:db8:1:0::/64")
    many = [a for i in range(9) for a in ("--prefix", f"2001:db8:{i}::/64")]
    assert "at most 8" in refused(capsys, *t, *many)
    assert run(capsys, *t, *many[:16])[0] == 0


@pytest.mark.parametrize("mac,why", [
    ("zz:zz", "'zz:zz' is not a MAC address (six octets as 02:00:00:00:00:01)"),
    ("02:00:00:00:00", "is not a MAC address"),
    ("02:00:00:00:00:01:02", "is not a MAC address"),
    ("2:0:0:0:0:1", "is not a MAC address"),
    ("020000000001", "is not a MAC address"),
    ("01:00:5e:00:00:01", "is a multicast address (the I/G bit of the first octet is set)"),
    ("33:33:00:00:00:01", "is a multicast address"),
    ("ff:ff:ff:ff:ff:ff", "is a multicast address"),
    ("00:00:00:00:00:00", "is the all-zeros MAC"),
])
def test_node_mac_refused(capsys, started, mac: str, why: str) -> None:  # type: ignore[no-untyped-def]
    line = refused(capsys, "node", "--tap", "tap0", "--mac", mac)
    assert line.startswith("kame node: argument --mac: ") and why in line


def test_node_mac_taken(capsys, started) -> None:  # type: ignore[no-untyped-def]
    assert run(capsys, "node", "--tap", "tap0", "--mac", "02:00:00:00:00:42")[0] == 0
    assert started[-1].mac == bytes.fromhex("020000000042")
    assert run(capsys, "node", "--tap", "tap0", "--mac", "02-00-00-00-00-AB")[0] == 0
    assert started[-1].mac == bytes.fromhex("0200000000ab")


@pytest.mark.parametrize("name", ["", "a/b", "a:b", "a b", ".", "..", "x" * 16, "ä" * 8])
def test_node_tap_name_refused(capsys, started, name: str) -> None:  # type: ignore[no-untyped-def]
    line = refused(capsys, "node", "--tap", name)
    assert "is not an interface name (1..15 bytes, no '/', ':' or spaces)" in line


@pytest.mark.parametrize("argv,why", [
    (["--tap", "tap0", "--sysctl", "nosuch=1"], "--sysctl nosuch: no such knob"),
    (["--tap", "tap0", "--sysctl", "net.inet6.ip6.hlim"], "expected NAME=VALUE"),
    (["--tap", "tap0", "--sysctl", "net.inet6.ip6.hlim=x"], "'x' is not a whole number"),
    (["--tap", "tap0", "--sysctl", "net.inet6.ip6.hlim=256"],
     "--sysctl net.inet6.ip6.hlim: 256 out of range [0, 255]"),
    (["--tap", "tap0", "--router", "--sysctl", "net.inet6.ip6.forwarding=0"], "contradict"),
    (["--sim", "--tap", "tap0"], "--sim and --tap: choose one"),
    (["--sim", "--ctl", "/tmp/x.sock"], "--ctl is for --tap"),
    (["--tap", "tap0", "--ctl-dir", "/tmp"], "--ctl-dir is for --sim"),
    (["--sim", "--mac", "02:00:00:00:00:01"], "--mac is for --tap"),
    (["--tap", "tap0", "--hostname", " "], "--hostname: empty name"),
    ([], "give --tap IFNAME (or --sim)"),
])
def test_node_option_combinations(capsys, started, argv: list[str], why: str) -> None:  # type: ignore[no-untyped-def]
    line = refused(capsys, "node", *argv)
    assert why in line and line.endswith("(see kame node --help)")
    assert started == []


# --- the other commands -------------------------------------------------------------------

@pytest.mark.parametrize("count", ["-1", "0", "1001", "x", "2.5"])
def test_demo_count_refused(capsys, count: str) -> None:  # type: ignore[no-untyped-def]
    line = refused(capsys, "demo", "-c", count)
    assert line.startswith("kame demo: argument -c/--count: ")
    if count in ("-1", "0", "1001"):
        assert "out of range: echo requests 1..1000" in line


def test_demo_count_one(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rc, out, _ = run(capsys, "demo", "-c", "1", "-w", str(tmp_path / "d.pcap"))
    assert rc == 0 and "1 packets transmitted, 1 packets received" in out


def test_demo_unwritable_capture(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    line = refused(capsys, "demo", "-w", str(tmp_path / "no" / "d.pcap"), status=1)
    assert line == f"kame demo: {tmp_path}/no/d.pcap: No such file or directory"


@pytest.mark.parametrize("argv,why", [
    (["-c", "0", "::1"], "-c: 0 is out of range: count 1..2147483647"),
    (["-i", "0", "::1"], "-i: 0 is out of range: seconds more than 0 and at most 3600"),
    (["-i", "nan", "::1"], "-i: 'nan' is not a number"),
    (["-s", "-1", "::1"], "-s: -1 is out of range: octets 0..1232"),
    (["-s", "1233", "::1"], "-s: 1233 is out of range"),
    ([], "the following arguments are required: destination"),
])
def test_ping6_options_refused(capsys, argv: list[str], why: str) -> None:  # type: ignore[no-untyped-def]
    assert why in refused(capsys, "ping6", *argv)


def test_setkey_without_arguments_prints_usage(capsys) -> None:  # type: ignore[no-untyped-def]
    rc, out, err = run(capsys, "setkey")
    assert (rc, out) == (2, "")
    assert err == ("usage: kame setkey [-n] [--host NAME=ADDR] [--ctl PATH | --live] "
                   "-f FILE | -c | -D [-P] | -F [-P]\n")


def test_setkey_non_utf8_file(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "k.conf"
    f.write_bytes(b"flush;\n# caf\xe9\nspdflush;\n")
    assert refused(capsys, "setkey", "-f", str(f), status=1) == (
        f"kame setkey: {f}: line 2, column 6: byte 0xe9 is not UTF-8 text (write keys as "
        "0x... hex)")


@pytest.mark.parametrize("stmt,why", [
    ("-E rijndael-cbc 0x0011", ("encryption key for rijndael-cbc: 2 octets (16 bits) given; "
                               "rijndael-cbc takes 128, 192 or 256 bits (16, 24 or 32 octets)")),
    ("-E aes-gcm-16 0x" + "00" * 16, ("encryption key for aes-gcm-16: 16 octets (128 bits) given; "
                                     "aes-gcm-16 takes 128, 192 or 256 bits plus a 32-bit salt "
                                     "(20, 28 or 36 octets)")),
    ("-E 3des-cbc 0x" + "11" * 16, ("encryption key for 3des-cbc: 16 octets (128 bits) given; "
                                   "3des-cbc takes 192 bits (24 octets)")),
    ("-E blowfish-cbc 0x1122", "blowfish-cbc takes 40 to 448 bits"),
    ("-E aes-cbc 0x" + "11" * 16 + " -A hmac-sha1 0x" + "22" * 16,
     ("authentication key for hmac-sha1: 16 octets (128 bits) given; hmac-sha1 takes 160 bits "
     "(20 octets)")),
    ('-E null -A hmac-sha2-256 "short"', ("authentication key for hmac-sha2-256: 5 octets (40 "
                                        "bits) given; hmac-sha2-256 takes 256 bits (32 octets)")),
])
def test_setkey_key_length(capsys, tmp_path: Path, stmt: str, why: str) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "k.conf"
    f.write_text(f"add 2001:db8::1 2001:db8::2 esp 0x1000 {stmt};\n")
    line = refused(capsys, "setkey", "-f", str(f), status=1)
    assert line.startswith(f"kame setkey: {f}: line 1, column ") and line.endswith(why)


@pytest.mark.parametrize("argv,why", [
    (["-P"], "usage: kame setkey"),
    (["-DP", "--ctl", "/x.sock", "--live"], "--ctl and --live: choose one"),
    (["-D", "--host", "a"], "--host takes NAME=ADDR, not 'a'"),
    (["-D", "--host", "a=b"], "--host a=b: 'b' is not an address or a prefix"),
    (["-f", ""], "-f: empty file name"),
    (["-f", "/nonexistent/k.conf"], "/nonexistent/k.conf: No such file or directory"),
])
def test_setkey_options_refused(capsys, argv: list[str], why: str) -> None:  # type: ignore[no-untyped-def]
    rc, out, err = run(capsys, "setkey", *argv)
    assert rc in (1, 2) and out == "" and len(err.splitlines()) == 1 and why in err


def enc_takes(name: str, n: int) -> bool:
    key = random.Random(n).randbytes(n)
    try:
        EspSa(0x1000, enc=name, enc_key=key)
    except ConfigError:
        return False
    return True


def auth_takes(name: str, n: int) -> bool:
    key = random.Random(n).randbytes(n)
    try:
        AhSa(0x1000, name, key)
    except ConfigError:
        return False
    return True


@pytest.mark.parametrize("name", sorted(set(EALG_SPELLINGS.values())))
def test_setkey_encryption_key_table_is_the_cores(name: str) -> None:
    lengths, salt = EALG_KEY_OCTETS[name]
    for n in range(300):
        assert ((n - salt) in lengths) == enc_takes(name, n), (name, n)


@pytest.mark.parametrize("name", sorted(set(AALG_SPELLINGS.values())))
def test_setkey_authentication_key_table_is_the_cores(name: str) -> None:
    lengths, salt = AALG_KEY_OCTETS[name]
    for n in range(300):
        assert ((n - salt) in lengths) == auth_takes(name, n), (name, n)


# --- the dispatcher -------------------------------------------------------------------------

def test_version(capsys) -> None:  # type: ignore[no-untyped-def]
    rc, out, err = run(capsys, "--version")
    assert rc == 0 and err == ""
    assert out.startswith(f"kame {kame.__version__} (distribution kame6, Python ")


def test_no_command(capsys) -> None:  # type: ignore[no-untyped-def]
    rc, out, err = run(capsys)
    assert (rc, out) == (2, "")
    assert err == ("kame: the following arguments are required: COMMAND "
                   "(see kame --help)\n")
    rc, out, err = run(capsys, "nosuch")
    assert rc == 2 and err.startswith("kame: argument COMMAND: invalid choice: 'nosuch'")


def test_help_returns(capsys) -> None:  # type: ignore[no-untyped-def]
    for argv in (["--help"], ["node", "--help"], ["setkey", "-h"]):
        rc, out, _ = run(capsys, *argv)
        assert rc == 0 and out.startswith("usage: kame")


def test_python_dash_m_kame() -> None:
    r = subprocess.run([sys.executable, "-m", "kame", "--version"], capture_output=True,
                       text=True, env=ENV, timeout=60, check=False)
    assert r.returncode == 0 and r.stdout.startswith(f"kame {kame.__version__} ")
    r = subprocess.run([sys.executable, "-m", "kame", "node", "--mtu", "100", "--tap", "t0"],
                       capture_output=True, text=True, env=ENV, timeout=60, check=False)
    assert r.returncode == 2 and r.stderr == (
        "kame node: argument --mtu: 100 is out of range: MTU 1280..65535 "
        "(see kame node --help)\n")
