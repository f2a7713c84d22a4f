"""gif tunnels between two of our nodes across a Linux router, with Linux
hosts behind each end (seed §1.5; RFC 4213, 2473, 2003). This kernel has no
sit/ip6tnl/ipip: the tunnel ends are ours, everything else is the kernel's.

    ns gk-hl (kernel HL)      ns gk-r (kernel router)          ns gk-hr (kernel HR)
    2001:db8:10::2, :11::2    192.0.2.254  198.51.100.254      2001:db8:20::2, :21::2
    10.1.0.2, 10.1.1.2        2001:db8:1::ff 2001:db8:2::ff     10.2.0.2, 10.2.1.2
          │                     │              │                     │
        tap ── kame node L ── tap              tap ── kame node R ── tap
               gif0: 192.0.2.1 -> 198.51.100.1 (IPv4 outer)
               gif1: 2001:db8:1::1 -> 2001:db8:2::1 (IPv6 outer)

The rig is ``gif_rig.py``'s. The kernel hosts ping and fetch (curl from
python's http.server) through the tunnels; tcpdump captures the router's
side and tshark dissects both layers of every packet, none malformed.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator

import pytest

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

from gif_rig import CASES, T_LO, T_RO, Rig, gif_rig, kame_cli, ping_and_fetch, sh

BODY = os.urandom(200_000)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with gif_rig(tmp_path_factory.mktemp("gif"), BODY) as r:
        yield r


@pytest.mark.parametrize(("name", "src", "dst", "outer", "inner"), CASES,
                         ids=[c[0] for c in CASES])
def test_ping_and_fetch_through_gif(rig: Rig, name: str, src: str, dst: str, outer: str,
                                    inner: str) -> None:
    ping_and_fetch(rig, name, src, dst, BODY)


def test_cli_shows_tunnels(rig: Rig) -> None:
    out = kame_cli("gifconfig", "--ctl", str(rig.tmp / "L.sock"), "-a")
    assert "gif0: flags=UP" in out and "physical address inet 192.0.2.1 --> 198.51.100.1" in out
    assert "physical address inet6 2001:db8:1::1 --> 2001:db8:2::1" in out
    out = kame_cli("ifconfig", "--ctl", str(rig.tmp / "L.sock"), "gif0")
    assert "fe80::" in out  # the borrowed EUI-64 link-local (§1.4.1)


def test_tshark_dissects_both_layers(rig: Rig) -> None:
    """Every captured tunnel packet: both IP layers dissected, nothing
    malformed, and each of the four combinations present."""
    time.sleep(1.0)  # tcpdump writes with -U; the last packets settle
    seen: set[str] = set()
    for dev in (T_LO, T_RO):
        f = rig.tmp / f"{dev}.pcap"
        p = sh("tshark", "-r", str(f), "-T", "fields", "-e", "frame.protocols",
               "-e", "_ws.malformed", "-e", "_ws.expert.severity", timeout=120)
        for line in p.stdout.splitlines():
            protos, malformed, _sev = (line.split("\t") + ["", ""])[:3]
            assert not malformed, line
            layers = protos.split(":")
            assert "eth" in layers
            ips = [x for x in layers if x in ("ip", "ipv6")]
            assert len(ips) >= 2, line  # the outer and the inner header
            seen.add(f"{ips[1]}-in-{ips[0]}")
    assert {"ipv6-in-ip", "ipv6-in-ipv6", "ip-in-ipv6", "ip-in-ip"} <= seen, seen


def test_counters(rig: Rig) -> None:
    for node in ("L", "R"):
        st = rig.cmd({"stats": node})
        assert st.get("gifs_opackets", 0) > 0 and st.get("gifs_ipackets", 0) > 0
        assert st.get("gifs_looped", 0) == 0
