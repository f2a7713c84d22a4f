"""Neighbor Discovery of kame.Node proven against the Linux kernel and radvd.

Each test makes its own network namespace (``ndi-*``) and TAP device
(``ndiN``); the node runs in a child process (tapnode.py) on the TAP.

- the kernel loses a DAD conflict: our node holds an address, the kernel is
  given the same one and marks it ``dadfailed`` because our node defends it
  with a Neighbor Advertisement (RFC 4862 §5.4.3);
- the kernel's neighbor entry for us walks REACHABLE → STALE → DELAY →
  PROBE → REACHABLE (RFC 4861 §7.3.3) with its timers shortened by sysctl,
  our node answering its unicast probes;
- radvd's prefix gives us a SLAAC address, an RFC 4941 temporary address and
  a default route, and the kernel pings both addresses;
- a Router Advertisement from radvd with 20 prefixes yields only the first
  10 (seed §1.2, nd6_maxndopt = 10) and the drop is counted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from ipaddress import IPv6Address, IPv6Network
from pathlib import Path

import netns_rig
import pytest
from netns_rig import fresh_netns, read_json, stop

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
TAPNODE = Path(__file__).with_name("tapnode.py")
TENTATIVE, DUPLICATED, AUTOCONF, TEMPORARY = 0x02, 0x04, 0x40, 0x80  # In6Flags


def ipns(ns: str, *args: str, check: bool = True, timeout: float = 30
         ) -> subprocess.CompletedProcess[str]:
    return netns_rig.ipns(ns, *args, check=check, timeout=timeout)


@pytest.fixture
def netns():  # type: ignore[no-untyped-def]
    with fresh_netns("ndi") as name:
        yield name


def start_node(ns: str, dev: str, mac: str, duration: float, cfg: dict
               ) -> subprocess.Popen[str]:
    """Create the TAP, start the node on it, bring the link up."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python") + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, str(TAPNODE), dev, mac,
                          str(duration), json.dumps(cfg)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert p.stdout is not None and p.stdin is not None
    line = p.stdout.readline()
    assert json.loads(line or "{}").get("opened") == dev, p.stderr.read() if p.stderr else ""
    ipns(ns, "ip", "link", "set", dev, "up")
    p.stdin.write("up\n")
    p.stdin.flush()
    return p


def kernel_ll(ns: str, dev: str) -> str:
    out = ""
    for _ in range(50):
        out = ipns(ns, "ip", "-6", "addr", "show", "dev", dev).stdout
        for line in out.splitlines():
            if "inet6 fe80::" in line and "tentative" not in line:
                return line.split()[1].split("/")[0]
        time.sleep(0.1)
    raise AssertionError(out)


def addr_line(ns: str, dev: str, addr: str) -> str:
    out = ipns(ns, "ip", "-6", "addr", "show", "dev", dev).stdout
    for line in out.splitlines():
        if f"inet6 {addr}/" in line:
            return line
    return ""


def neigh_state(ns: str, dev: str, addr: str) -> str:
    out = ipns(ns, "ip", "-6", "neigh", "show", "dev", dev).stdout
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == addr:
            return f[-1]
    return ""


def test_kernel_loses_dad_to_our_node(netns: str) -> None:
    """Our node holds a static global and its link-local; the kernel is then
    configured with both, its DAD NS reaches our node, our node answers with
    an NA for its own address and the kernel marks both ``dadfailed``."""
    dev, mac = "ndi1", "02:00:00:00:00:61"
    ours_ll, ours_gl = "fe80::ff:fe00:61", "2001:db8:5::1"
    ipns(netns, "ip", "tuntap", "add", "dev", dev, "mode", "tap")
    ipns(netns, "sysctl", "-qw", f"net.ipv6.conf.{dev}.accept_dad=1")
    node = start_node(netns, dev, mac, 7.0, {"addresses": [f"{ours_gl}/64"],
                                             "report_after": 2.5})
    try:
        kernel_ll(netns, dev)
        mid = read_json(node)  # our DAD is over: both addresses are ours
        flags = {a: f for a, f in mid["addresses"]}
        assert flags.get(ours_gl, TENTATIVE) & (TENTATIVE | DUPLICATED) == 0, mid
        assert flags.get(ours_ll, TENTATIVE) & (TENTATIVE | DUPLICATED) == 0, mid
        ipns(netns, "ip", "-6", "addr", "add", f"{ours_gl}/64", "dev", dev)
        ipns(netns, "ip", "-6", "addr", "add", f"{ours_ll}/64", "dev", dev)
        lines = {}
        for _ in range(40):
            lines = {a: addr_line(netns, dev, a) for a in (ours_gl, ours_ll)}
            if all("dadfailed" in v for v in lines.values()):
                break
            time.sleep(0.1)
        state = read_json(node)
    finally:
        stop(node)
    assert all("dadfailed" in v and "tentative" in v for v in lines.values()), lines
    # our node kept its addresses and answered the kernel's DAD probes with NAs
    flags = {a: f for a, f in state["addresses"]}
    assert flags[ours_gl] & (TENTATIVE | DUPLICATED) == 0, state
    assert flags[ours_ll] & (TENTATIVE | DUPLICATED) == 0, state
    assert "AddressDuplicated:" not in state["events"], state
    sent_na = state["outhist"].get("136", 0) - mid["outhist"].get("136", 0)
    assert sent_na >= 2, (mid["outhist"], state["outhist"])


def test_kernel_nud_of_our_node(netns: str) -> None:
    """The kernel's neighbor entry for our link-local address, with its timers
    shortened: a ping makes it REACHABLE, it ages to STALE, new traffic moves
    it to DELAY, then PROBE (a unicast NS to us), and our solicited NA brings it
    back to REACHABLE: never INCOMPLETE or FAILED once resolved."""
    dev, mac = "ndi2", "02:00:00:00:00:62"
    ours = "fe80::ff:fe00:62"
    ipns(netns, "ip", "tuntap", "add", "dev", dev, "mode", "tap")
    for k, v in (("base_reachable_time_ms", 3000), ("delay_first_probe_time", 1),
                 ("retrans_time_ms", 500), ("gc_stale_time", 60)):
        ipns(netns, "sysctl", "-qw", f"net.ipv6.neigh.{dev}.{k}={v}")
    node = start_node(netns, dev, mac, 30.0, {"report_after": 2.5})
    mon = subprocess.Popen(["ip", "netns", "exec", netns, "ip", "-6", "monitor", "neigh",
                            "dev", dev], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    seen: list[str] = []

    def watch(until: str, limit: float) -> None:
        end = time.monotonic() + limit
        while time.monotonic() < end:
            s = neigh_state(netns, dev, ours)
            if s and (not seen or seen[-1] != s):
                seen.append(s)
            if s == until:
                return
            time.sleep(0.05)

    try:
        kernel_ll(netns, dev)
        mid = read_json(node)
        assert [ours, 0] in mid["addresses"], mid
        ping = ipns(netns, "ping", "-6", "-c", "1", "-W", "2", f"{ours}%{dev}", check=False)
        assert ping.returncode == 0, ping.stdout + ping.stderr
        watch("STALE", 7.0)
        ping2 = ipns(netns, "ping", "-6", "-c", "1", "-W", "2", f"{ours}%{dev}", check=False)
        watch("REACHABLE", 5.0)
        time.sleep(0.3)
    finally:
        mon.terminate()
        events, _ = mon.communicate(timeout=10)
        stop(node)
    assert ping2.returncode == 0, ping2.stdout + ping2.stderr
    # polled: the states that last long enough to be seen (DELAY is not notified)
    assert is_subsequence(["REACHABLE", "STALE", "DELAY", "REACHABLE"], seen), seen
    # notified by the kernel (ip monitor): PROBE is left by our solicited NA
    notified = [ln.split()[-1] for ln in events.splitlines()
                if ln.startswith(ours + " ")]
    assert is_subsequence(["REACHABLE", "STALE", "PROBE", "REACHABLE"], notified), events
    assert not {"FAILED", "INCOMPLETE"} & set(seen + notified), (seen, events)


def is_subsequence(want: list[str], got: list[str]) -> bool:
    it = iter(got)
    return all(any(w == g for g in it) for w in want)


def start_radvd(ns: str, conf: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(["ip", "netns", "exec", ns, "radvd", "-n", "-C", str(conf),
                             "-p", str(conf.with_suffix(".pid")), "-m", "stderr"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop_radvd(p: subprocess.Popen[str] | None) -> None:
    if p is not None:
        p.terminate()
        p.wait(timeout=10)


@pytest.mark.skipif(shutil.which("radvd") is None, reason="radvd not installed")
def test_radvd_slaac_temporary_and_kernel_pings_both(netns: str, tmp_path: Path) -> None:
    """radvd advertises 2001:db8:43::/64; our node (accept_rtadv, use_tempaddr)
    forms prefix ‖ EUI-64, an RFC 4941 temporary address in the same prefix
    and a default route via radvd's link-local; the kernel then pings both
    global addresses while the node keeps running."""
    dev, mac = "ndi3", "02:00:00:00:00:63"
    prefix = IPv6Network("2001:db8:43::/64")
    slaac = "2001:db8:43::ff:fe00:63"
    ipns(netns, "ip", "tuntap", "add", "dev", dev, "mode", "tap")
    ipns(netns, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
    conf = tmp_path / "radvd.conf"
    conf.write_text(f"""interface {dev} {{
    AdvSendAdvert on; MinRtrAdvInterval 3; MaxRtrAdvInterval 4;
    prefix {prefix} {{ AdvOnLink on; AdvAutonomous on;
        AdvValidLifetime 7200; AdvPreferredLifetime 3600; }};
}};
""")
    node = start_node(netns, dev, mac, 10.0, {
        "knobs": {"net.inet6.ip6.accept_rtadv": 1, "net.inet6.ip6.use_tempaddr": 1},
        "report_after": 6.0})
    radvd = None
    try:
        kll = kernel_ll(netns, dev)
        ipns(netns, "ip", "-6", "addr", "add", "2001:db8:43::1/64", "dev", dev, "nodad")
        radvd = start_radvd(netns, conf)
        mid = read_json(node)
        temps = [a for a, f in mid["addresses"]
                 if f & TEMPORARY and not f & (TENTATIVE | DUPLICATED)]
        assert len(temps) == 1, mid
        temp = temps[0]
        pings = {a: ipns(netns, "ping", "-6", "-c", "2", "-i", "0.3", "-W", "2", a,
                         check=False) for a in (slaac, temp)}
        state = read_json(node)
    finally:
        stop_radvd(radvd)
        stop(node)
    flags = {a: f for a, f in mid["addresses"]}
    assert flags.get(slaac, 0) & AUTOCONF and not flags[slaac] & (TEMPORARY | TENTATIVE), mid
    assert IPv6Address(temp) in prefix and temp != slaac
    assert IPv6Address(temp).packed[11:13] != b"\xff\xfe"  # random, not EUI-64
    assert mid["installed"] == kll and mid["routers"] == [kll], mid
    for a, p in pings.items():
        assert p.returncode == 0 and " 0% packet loss" in p.stdout, (a, p.stdout + p.stderr)
    assert state["outhist"].get("129", 0) >= 4, state["outhist"]  # echo replies


@pytest.mark.skipif(shutil.which("radvd") is None or shutil.which("tcpdump") is None,
                    reason="radvd and tcpdump needed")
def test_radvd_twenty_prefixes_yield_first_ten(netns: str, tmp_path: Path) -> None:
    """radvd sends one RA with 20 Prefix Information options (checked in a
    capture on the kernel side); our node processes only the first
    nd6_maxndopt = 10 options: 10 prefixes, 10 SLAAC addresses, and each such
    RA counted in icp6s_nd_toomanyopt (seed §1.2)."""
    from scapy.layers.inet6 import ICMPv6ND_RA, ICMPv6NDOptPrefixInfo
    from scapy.utils import rdpcap

    dev, mac = "ndi4", "02:00:00:00:00:64"
    ipns(netns, "ip", "tuntap", "add", "dev", dev, "mode", "tap")
    ipns(netns, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
    prefixes = [IPv6Network(f"2001:db8:{0x100 + i:x}::/64") for i in range(20)]
    blocks = "".join(f"    prefix {p} {{ AdvOnLink on; AdvAutonomous on; }};\n"
                     for p in prefixes)
    conf = tmp_path / "radvd.conf"
    conf.write_text(f"""interface {dev} {{
    AdvSendAdvert on; MinRtrAdvInterval 3; MaxRtrAdvInterval 4;
    AdvSourceLLAddress off;
{blocks}}};
""")
    pcap = tmp_path / "ra.pcap"
    node = start_node(netns, dev, mac, 7.0, {"knobs": {"net.inet6.ip6.accept_rtadv": 1}})
    radvd = None
    dump = subprocess.Popen(["ip", "netns", "exec", netns, "tcpdump", "-U", "-n", "-i", dev,
                             "-w", str(pcap), "icmp6 and ip6[40] == 134"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        kernel_ll(netns, dev)
        radvd = start_radvd(netns, conf)
        state = read_json(node)
    finally:
        stop_radvd(radvd)
        stop(node)
        dump.terminate()
        dump.wait(timeout=10)
    ras = [p[ICMPv6ND_RA] for p in rdpcap(str(pcap)) if ICMPv6ND_RA in p]
    assert ras, "no RA captured"
    first = ras[0]
    opts, o = [], first.payload
    while o and o.__class__.__name__.startswith("ICMPv6NDOpt"):
        opts.append(o)
        o = o.payload
    sent = [IPv6Network(f"{x.prefix}/{x.prefixlen}") for x in opts
            if isinstance(x, ICMPv6NDOptPrefixInfo)]
    assert sorted(sent) == sorted(prefixes), "radvd split the RA: " + repr(sent)
    assert all(len([x for x in r.payload.iterpayloads()
                    if isinstance(x, ICMPv6NDOptPrefixInfo)]) == 20 for r in ras)
    kept = [IPv6Network(f"{x.prefix}/{x.prefixlen}") for x in opts[:10]
            if isinstance(x, ICMPv6NDOptPrefixInfo)]
    assert len(kept) == 10  # AdvSourceLLAddress off: the first 10 options are prefixes
    assert [IPv6Network(p) for p in state["prefixes"]] == kept, state["prefixes"]
    auto = [IPv6Address(a) for a, f in state["addresses"] if f & AUTOCONF]
    eui64 = 0x0000_00FF_FE00_0064  # 02:00:00:00:00:64, U/L bit inverted
    assert sorted(auto) == sorted(IPv6Address(int(p.network_address) | eui64) for p in kept)
    assert state["stats"].get("icp6s_nd_toomanyopt", 0) >= 1, state["stats"]
