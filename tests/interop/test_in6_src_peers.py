"""kame.in6_src against two independent implementations of RFC 6724, in a
network namespace of their own (DESIGN.md §5, "address selection"):

- source selection against the Linux kernel's (``ip -6 route get DST``
  prints the source the kernel chose among the same addresses, a
  deprecated one among them);
- destination ordering against glibc's ``getaddrinfo`` (RFC 3484/6724 rules
  with a ``gai.conf`` holding RFC 6724's default policy table, and an
  ``/etc/hosts`` name with five addresses), using the sources the kernel
  picked for each destination, IPv4 ones too.

Skipped when not root.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path

import pytest

from kame.in6_src import (
    DEFAULT_POLICY,
    Destination,
    SourceCandidate,
    in6_selectsrc,
    order_destinations,
)

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None:
    pytest.skip("needs root and iproute2", allow_module_level=True)

NS = "nodefwd-sel"
ETC = Path("/etc/netns") / NS
DEV, PEER = "nodefwdd0", "nodefwdd1"
ADDRS6 = ["2001:db8:1::2/64", "2001:db8:3f44::2/64", "2002:c633:6401::2/64", "fd00:5::2/64"]
DEPRECATED6 = "2001:db8:2::9/64"
ADDRS4 = ["10.1.2.4/24", "169.254.13.78/16"]
NAME = "multi.nodefwd"
DESTS = ["2001:db8:3ffe::1", "2002:c633:6401::1", "10.1.2.3", "2001:db8:1::1",
         "198.51.100.121", "fd00:6::1"]


def ipns(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", NS, *args], capture_output=True, text=True,
                          timeout=30, check=check)


def cleanup() -> None:
    subprocess.run(["ip", "netns", "del", NS], capture_output=True, timeout=30, check=False)
    shutil.rmtree(ETC, ignore_errors=True)


@pytest.fixture(scope="module")
def ns() -> Iterator[str]:
    cleanup()
    try:
        subprocess.run(["ip", "netns", "add", NS], check=True, capture_output=True, timeout=30)
    except subprocess.CalledProcessError as e:
        pytest.skip(f"cannot create a network namespace: {e.stderr.strip()}")
    try:
        ipns("ip", "link", "set", "lo", "up")
        ipns("ip", "link", "add", DEV, "type", "veth", "peer", "name", PEER)
        for d in (DEV, PEER):
            ipns("ip", "link", "set", d, "up")
        for a in ADDRS6:
            ipns("ip", "-6", "addr", "add", a, "dev", DEV, "nodad")
        ipns("ip", "-6", "addr", "add", DEPRECATED6, "dev", DEV, "nodad", "preferred_lft", "0")
        for a in ADDRS4:
            ipns("ip", "addr", "add", a, "dev", DEV)
        ipns("ip", "-6", "route", "add", "default", "dev", DEV)
        ipns("ip", "route", "add", "default", "dev", DEV)
        ETC.mkdir(parents=True, exist_ok=True)
        (ETC / "hosts").write_text("".join(f"{d} {NAME}\n" for d in DESTS))
        gai = [f"label {p} {lab}" for p, _, lab in DEFAULT_POLICY]
        gai += [f"precedence {p} {prec}" for p, prec, _ in DEFAULT_POLICY]
        (ETC / "gai.conf").write_text("\n".join(gai) + "\n")
        for _ in range(50):  # link-locals out of DAD
            if "tentative" not in ipns("ip", "-6", "addr", "show").stdout:
                break
            subprocess.run(["sleep", "0.1"], check=False)
        yield NS
    finally:
        cleanup()


def candidates() -> list[SourceCandidate]:
    out: list[SourceCandidate] = []
    for fam in ("-6", "-4"):
        for link in json.loads(ipns("ip", "-j", fam, "addr", "show").stdout):
            for a in link["addr_info"]:
                out.append(SourceCandidate(ip_address(a["local"]), link["ifname"],
                                           a["prefixlen"], bool(a.get("deprecated"))))
    return out


def kernel_source(dst: str) -> str:
    fam = "-6" if ":" in dst else "-4"
    extra = ["oif", DEV] if dst.startswith("fe80") else []
    words = ipns("ip", fam, "route", "get", dst, *extra).stdout.split()
    return words[words.index("src") + 1]


@pytest.mark.parametrize("dst", [
    "2001:db8:1::1", "2001:db8:3ffe::1", "2001:db8:2::1", "2001:db8:99::1",
    "2002:c633:6401::1", "2002:c633:6402::1", "fd00:6::1", "fd00:5::77", "fe80::1",
    "3ffe::1", "2001:db8:2::9"])
def test_source_selection_agrees_with_the_linux_kernel(ns: str, dst: str) -> None:
    cands = candidates()
    assert any(c.deprecated for c in cands)
    ours = in6_selectsrc(IPv6Address(dst), cands, outif=DEV)
    assert ours is not None
    assert str(ours.addr) == kernel_source(dst)


def test_destination_order_agrees_with_glibc_getaddrinfo(ns: str) -> None:
    got = ipns("getent", "ahosts", NAME).stdout.split("\n")
    glibc: list[str] = []
    for line in got:
        if line and line.split()[0] not in glibc:
            glibc.append(line.split()[0])
    assert sorted(glibc) == sorted(DESTS), got
    by_addr = {str(c.addr): c for c in candidates()}
    dests = []
    for d in DESTS:
        a: IPv4Address | IPv6Address = ip_address(d)
        src = by_addr[kernel_source(d)]
        dests.append(Destination(a, src))
    ours = [str(x.addr) for x in order_destinations(dests)]
    assert ours == glibc
    # and the order is not the order of the hosts file
    assert ours != DESTS
