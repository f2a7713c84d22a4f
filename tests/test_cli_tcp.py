"""`kame tcp connect|listen` (issue 9 item 4): every option is range-checked
before anything runs; a usage error is one line and exit status 2. (The
command itself runs against the kernel in tests/interop/test_apps_kernel.py.)"""

from __future__ import annotations

import argparse

import pytest

from kame.cli import tcp as tcp_cli
from kame.cli.main import main

OK = ["--tap", "tap0", "--addr", "2001:db8::2/64", "--addr", "192.0.2.2/24"]


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[argparse.Namespace]:
    got: list[argparse.Namespace] = []

    def fake(args: argparse.Namespace) -> int:
        got.append(args)
        return 0

    monkeypatch.setattr(tcp_cli, "run_tcp", fake)
    return got


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    rc = main(["tcp", *argv])
    cap = capsys.readouterr()
    assert rc == 2, (argv, rc, cap.err)
    assert cap.out == "" and "Traceback" not in cap.err
    lines = cap.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("kame"), cap.err
    assert lines[0].endswith("--help)"), lines[0]
    return lines[0]


def test_taken(capsys: pytest.CaptureFixture[str], started: list[argparse.Namespace]) -> None:
    assert main(["tcp", "connect", "2001:db8::1", "80", *OK]) == 0
    assert main(["tcp", "connect", "192.0.2.1", "65535", *OK, "--mtu", "1280",
                 "--wait", "0.1", "--profile", "freebsd4x"]) == 0
    assert main(["tcp", "connect", "::ffff:192.0.2.1", "1", *OK]) == 0
    assert main(["tcp", "connect", "fe80::1%tap0", "22", "--tap", "tap0", "--addr",
                 "192.0.2.2/24"]) == 0
    assert main(["tcp", "listen", "5000", *OK, "--bind", "192.0.2.2", "--sysctl",
                 "net.inet6.ip6.dad_count=0", "--mac", "02:00:00:00:00:01"]) == 0
    assert len(started) == 5
    a = started[0]
    assert (a.mode, a.host, a.port, a.profile, a.wait, a.mtu) == \
        ("connect", "2001:db8::1", 80, "linux", 30.0, 1500)
    assert started[4].knobs == {"net.inet6.ip6.dad_count": 0}


@pytest.mark.parametrize(("argv", "why"), [
    (["connect", "2001:db8::1", "0", *OK], "0 is out of range: port 1..65535"),
    (["connect", "2001:db8::1", "65536", *OK], "out of range"),
    (["listen", "-1", *OK], "argument PORT"),
    (["listen", "x", *OK], "not a whole number"),
    (["connect", "example.com", "80", *OK], "not a numeric IPv6 or IPv4 address"),
    (["connect", "ff02::1", "80", *OK], "unicast destination"),
    (["connect", "::", "80", *OK], "unicast destination"),
    (["connect", "2001:db8::1%tap0", "80", *OK], "only a link-local address takes a %zone"),
    (["connect", "2001:db8::1", "80", "--addr", "2001:db8::2/64"], "--tap"),
    (["connect", "2001:db8::1", "80", "--tap", "tap0"], "give --addr"),
    (["connect", "2001:db8::1", "80", "--tap", "a/b", "--addr", "2001:db8::2/64"],
     "not an interface name"),
    (["connect", "2001:db8::1", "80", "--tap", "tap0", "--addr", "2001:db8::2"], "ADDR/LEN"),
    (["connect", "2001:db8::1", "80", "--tap", "tap0", "--addr", "2001:db8::2/129"],
     "not an address/length"),
    (["connect", "2001:db8::1", "80", "--tap", "tap0", "--addr", "ff02::2/64"],
     "not an address to configure"),
    (["connect", "2001:db8::1", "80", "--tap", "tap0", "--addr", "192.0.2.255/24"],
     "not an address to configure"),
    (["connect", "2001:db8::1", "80", "--tap", "tap0", "--addr", "127.0.0.2/8"],
     "not an address to configure"),
    (["connect", "2001:db8::1", "80", *OK, "--mtu", "1279"], "1279 is out of range"),
    (["connect", "2001:db8::1", "80", *OK, "--mtu", "65536"], "out of range"),
    (["connect", "2001:db8::1", "80", *OK, "--wait", "0"], "0 is out of range"),
    (["connect", "2001:db8::1", "80", *OK, "--wait", "nan"], "not a number"),
    (["connect", "2001:db8::1", "80", *OK, "--wait", "3601"], "out of range"),
    (["connect", "2001:db8::1", "80", *OK, "--mac", "01:00:00:00:00:01"], "multicast"),
    (["connect", "2001:db8::1", "80", *OK, "--profile", "plan9"], "invalid choice"),
    (["connect", "2001:db8::1", "80", *OK, "--sysctl", "x=1"], "no such knob"),
    (["connect", "2001:db8::1", "80", *OK, "--sysctl", "net.inet6.ip6.hlim=999"], "hlim"),
    (["connect", "2001:db8::1", "80", *OK, "--hostname", " "], "empty name"),
    (["connect", "2001:db8::1", "80", *OK, "--addr", "2001:db8::2/64"], "given twice"),
    (["connect", "192.0.2.1", "80", "--tap", "tap0", "--addr", "2001:db8::2/64"],
     "give an IPv4 --addr"),
    (["connect", "2001:db8::1", "80", "--tap", "tap0", "--addr", "192.0.2.2/24"],
     "give an IPv6 --addr"),
    (["connect", "fe80::1%eth1", "80", *OK], "the zone is the TAP interface"),
    (["listen", "80", *OK, "--bind", "2001:db8::9"], "none of the --addr addresses"),
    (["listen", "80", *OK, "--mode", "x"], "unrecognized arguments"),
    (["connect", "2001:db8::1", "80", *OK, *[w for i in range(1, 17)
                                                 for w in ("--addr", f"2001:db8:{i}::2/64")]], "at most 16"),
    (["dial", "2001:db8::1", "80"], "invalid choice"),
    ([], "required"),
])
def test_refused(capsys: pytest.CaptureFixture[str], started: list[argparse.Namespace],
                 argv: list[str], why: str) -> None:
    line = refused(capsys, *argv)
    assert why in line, line
    assert started == []
