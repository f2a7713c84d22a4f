"""gif's Path MTU against a real router (RFC 4213 §3.2, RFC 2473 §7): two
of our nodes tunnel across a Linux router namespace whose link towards
the far end has a small MTU. The router sends the real ICMPv6 Packet Too
Big / ICMPv4 Fragmentation Needed for our outer packet; our node turns it
into the inner error, and the kernel host behind it lowers its path MTU
(its route cache shows it) and then gets through.

The rig is tests/interop/gif_rig.py's:

    ns hl (kernel HL)        ns r (kernel router)                 ns hr (kernel HR)
    2001:db8:11::2           2001:db8:1::ff | 2001:db8:2::ff       2001:db8:21::2
    10.1.1.2                 192.0.2.254    | 198.51.100.254       10.2.1.2
        tap ── kame L ── tap (1500)          tap (MTU 1400) ── kame R ── tap
               gif0: 192.0.2.1 -> 198.51.100.1, IPv4 in IPv4, mtu 1440
               gif1: 2001:db8:1::1 -> 2001:db8:2::1, IPv6 in IPv6, mtu 1440
               (for the host prefixes routed this way: 2001:db8:11/21, 10.1.1/10.2.1)

IPv6: a 1440-octet packet from HL becomes a 1480-octet outer packet; the
router's PTB says 1400; HL hears 1360 (1400 less the outer header).
IPv4: a 1440-octet DF datagram becomes 1460 with DF copied; the router's
Needs-Frag says 1400; HL hears 1380.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator

import pytest

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

from gif_rig import Rig, gif_rig
from netns_rig import ipns, until


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """tests/interop/gif_rig.py with gif MTUs of 1440 and the router's link
    towards R at 1400 (its host prefixes 2001:db8:11/21 go through gif1,
    10.1.1/10.2.1 through gif0, as drawn above)."""
    with gif_rig(tmp_path_factory.mktemp("gif-pmtu"), b"", gif_mtu=1440, router_mtu=1400) as r:
        yield r


def _route_mtu(ns: str, *get: str) -> int | None:
    out = ipns(ns, "ip", *get, check=False).stdout
    m = re.search(r"\bmtu (\d+)", out)
    return int(m.group(1)) if m else None


def _ping(ns: str, *args: str) -> bool:
    r = ipns(ns, "ping", "-c", "2", "-i", "0.3", "-W", "2", *args, check=False)
    return r.returncode == 0 and " 0% packet loss" in r.stdout


def test_outer_ptb_becomes_inner_ptb_ipv6(rig: Rig) -> None:
    dst = "2001:db8:21::2"
    assert until(lambda: _ping(rig.hl, "-6", dst), 60.0)  # ND done, small packets pass
    assert _route_mtu(rig.hl, "-6", "route", "get", dst) is None

    def lowered() -> bool:
        _ping(rig.hl, "-6", "-s", "1392", dst)  # 1440 octets: 1480 outside, too big at 1400
        return _route_mtu(rig.hl, "-6", "route", "get", dst) == 1360

    assert until(lowered, 60.0), ipns(rig.hl, "ip", "-6", "route", "get", dst).stdout
    # HL now fragments to 1360 and the big echo gets through, both ways.
    assert until(lambda: _ping(rig.hl, "-6", "-s", "1392", dst), 60.0)
    assert rig.cmd({"stats": "L"}).get("gifs_pmtu", 0) >= 1


def test_outer_needfrag_becomes_inner_needfrag_ipv4(rig: Rig) -> None:
    dst = "10.2.1.2"
    assert until(lambda: _ping(rig.hl, dst), 60.0)

    def lowered() -> bool:
        _ping(rig.hl, "-M", "do", "-s", "1412", dst)  # 1440 with DF: 1460 outside
        return _route_mtu(rig.hl, "route", "get", dst) == 1380

    assert until(lowered, 60.0), ipns(rig.hl, "ip", "route", "get", dst).stdout
    assert until(lambda: _ping(rig.hl, "-M", "do", "-s", "1352", dst), 60.0)  # 1380 fits
    assert rig.cmd({"stats": "L"}).get("gifs_pmtu", 0) >= 2
