"""The stub resolver against unbound (issue 11's proof rig): Debian's
unbound serves a test zone (an auth-zone, authoritative, with its SOA in
negative answers) in a namespace, on the kernel's side of a TAP whose
other side is our node; our node asks it through its own sockets (the
blocking shim over the TAP). For AAAA-only, A-only and dual names, CNAME
chains, NXDOMAIN, an answer too big for UDP (truncation, then TCP), an IDN
in punycode and a name near 255 octets, kame.netdb.getaddrinfo returns the
addresses glibc's getaddrinfo returns, in the same order, glibc run in the
namespace with a resolv.conf and a gai.conf (/etc/netns/NAME/) naming the
same server and the RFC 6724 policy table; PTR lookups (ip6.arpa nibbles,
in-addr.arpa) of the addresses round-trip and agree with glibc's
getnameinfo. With ``dns64 64:ff9b::/96`` in our resolv.conf (RFC 6147 in
the stub resolver), getaddrinfo of an A-only name returns the synthesized
address, a real AAAA is kept, an AAAA in ::ffff:0:0/96 is excluded and
replaced, NXDOMAIN stays, and the PTR of a synthesized address is the
in-addr.arpa one of the IPv4 address inside it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from typing import Any

import pytest
from netns_rig import TapPort, fresh_netns, glibc_getaddrinfo, ipns, node_on_port

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

from kame import dns, netdb
from kame.resolv import Cache, Client, ResolvConf, Server, Status
from kame.socket.blocking import Stack

K6, O6, K4, O4, MAC = "2001:db8:97::1", "2001:db8:97::2", "192.0.2.1", "192.0.2.2", \
    "02:00:00:00:09:71"
LONG = ".".join(["l" * 60, "o" * 60, "n" * 60, "g" * 50]) + ".test"  # 240 octets
BIG = [f"2001:db8:97::1:{i:x}" for i in range(100)]
ZONE = {  # name -> [(type, data)]
    "both": [("AAAA", "2001:db8:97::10"), ("A", "192.0.2.10")],
    "v6only": [("AAAA", "2001:db8:97::11")],
    "v4only": [("A", "192.0.2.11")],
    "multi": [("AAAA", "2001:db8:97::20"), ("AAAA", "2001:db8:97::21"),
              ("AAAA", "2001:db8:97::22"), ("A", "192.0.2.20"), ("A", "192.0.2.21")],
    "alias": [("CNAME", "both.test.")],
    "alias2": [("CNAME", "alias.test.")],
    "alias3": [("CNAME", "alias2.test.")],
    "xn--bcher-kva": [("AAAA", "2001:db8:97::12")],
    LONG.removesuffix(".test"): [("A", "192.0.2.13"), ("AAAA", "2001:db8:97::14")],
    "kame": [("AAAA", O6), ("A", O4)],
    "big": [("AAAA", a) for a in BIG],
    # DNS64: an AAAA only in ::ffff:0:0/96 is no real one (RFC 6147 §5.1.4)
    "mapped": [("AAAA", "::ffff:192.0.2.30"), ("A", "192.0.2.30")],
}
NAMES = ["both.test", "v6only.test", "v4only.test", "multi.test", "alias.test",
         "alias2.test", "alias3.test", "xn--bcher-kva.test", LONG, "big.test",
         "nothere.test", "nothere.alias.nowhere.test"]
PTRS = {"2001:db8:97::10": "both.test", "2001:db8:97::11": "v6only.test",
        "192.0.2.11": "v4only.test", O6: "kame.test", O4: "kame.test",
        "2001:db8:97::12": "xn--bcher-kva.test"}
# RFC 6724 §2.1's policy table, for glibc (its default is RFC 3484's)
GAI_CONF = """label ::1/128 0
label ::/0 1
label ::ffff:0:0/96 4
label 2002::/16 2
label 2001::/32 5
label fc00::/7 13
label ::/96 3
label fec0::/10 11
label 3ffe::/16 12
precedence ::1/128 50
precedence ::/0 40
precedence ::ffff:0:0/96 35
precedence 2002::/16 30
precedence 2001::/32 5
precedence fc00::/7 3
precedence ::/96 1
precedence fec0::/10 1
precedence 3ffe::/16 1
"""
SOA = "@ 300 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60\n@ 300 IN NS ns.test.\n"


def _zones(d: Path) -> str:
    fwd = SOA + "ns 300 IN AAAA " + K6 + "\n"
    for name, rrs in ZONE.items():
        fwd += "".join(f"{name} 300 IN {t} {v}\n" for t, v in rrs)
    rev6 = SOA + "".join(f"{dns.ptr_name(ip_address(a))}. 300 IN PTR {n}.\n"
                         for a, n in PTRS.items() if ":" in a)
    rev4 = SOA + "".join(f"{dns.ptr_name(ip_address(a))}. 300 IN PTR {n}.\n"
                         for a, n in PTRS.items() if ":" not in a)
    (d / "test.zone").write_text("$ORIGIN test.\n" + fwd)
    (d / "rev6.zone").write_text("$ORIGIN 7.9.0.0.8.b.d.0.1.0.0.2.ip6.arpa.\n" + rev6)
    (d / "rev4.zone").write_text("$ORIGIN 2.0.192.in-addr.arpa.\n" + rev4)
    auth = ""
    for zone, f in (("test.", "test.zone"), ("7.9.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", "rev6.zone"),
                    ("2.0.192.in-addr.arpa.", "rev4.zone")):
        auth += (f"auth-zone:\n  name: \"{zone}\"\n  zonefile: \"{d / f}\"\n"
                 "  for-downstream: yes\n  for-upstream: no\n  fallback-enabled: no\n")
    return auth


def _unbound() -> str:
    for p in ("/usr/sbin/unbound", shutil.which("unbound")):
        if p and os.path.exists(p):
            return p
    raise AssertionError("unbound is missing: .ci/run installs it")


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    d = tmp_path_factory.mktemp("unbound")
    conf = d / "unbound.conf"
    with fresh_netns("kame-unb") as ns:
        ipns(ns, "ip", "link", "set", "lo", "up")
        port = TapPort(ns, "kub")
        dev = port.name
        ipns(ns, "ip", "addr", "add", f"{K6}/64", "dev", dev, "nodad")
        ipns(ns, "ip", "addr", "add", f"{K4}/24", "dev", dev)
        ipns(ns, "ip", "link", "set", dev, "up")
        conf.write_text(
            "server:\n"
            f"  interface: {K6}\n  interface: {K4}\n  port: 53\n"
            "  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n"
            f"  directory: \"{d}\"\n  pidfile: \"\"\n  use-syslog: no\n"
            f"  logfile: \"{d / 'unbound.log'}\"\n  verbosity: 1\n"
            "  access-control: ::/0 allow\n  access-control: 0.0.0.0/0 allow\n"
            "  module-config: \"iterator\"\n  rrset-roundrobin: no\n"
            "  do-not-query-localhost: yes\n  edns-buffer-size: 1232\n"
            "  num-threads: 1\n  so-reuseport: no\n  harden-referral-path: no\n"
            # test., TEST-NET-1 and 2001:db8::/32 are unbound's default empty
            # zones (RFC 6761, 5737, 3849): let the auth-zones answer them
            "  local-zone: \"test.\" nodefault\n"
            "  local-zone: \"2.0.192.in-addr.arpa.\" nodefault\n"
            "  local-zone: \"8.b.d.0.1.0.0.2.ip6.arpa.\" nodefault\n"
            + _zones(d))
        chk = subprocess.run(["unbound-checkconf", str(conf)], capture_output=True, text=True,
                             check=False)
        assert chk.returncode == 0, chk.stdout + chk.stderr
        etc = Path("/etc/netns") / ns
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "resolv.conf").write_text(f"nameserver {K6}\noptions edns0\n")
        (etc / "gai.conf").write_text(GAI_CONF)
        srv = subprocess.Popen(["ip", "netns", "exec", ns, _unbound(), "-d", "-c", str(conf)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        node, runner, layer = node_on_port(port, "kub", 17, MAC, O6, O4)
        try:
            end = time.monotonic() + 30
            while not (ipns(ns, "ss", "-Hlun", "sport = :53", check=False).stdout.strip() and
                       ipns(ns, "ss", "-Hltn", "sport = :53", check=False).stdout.strip()):
                log = (d / "unbound.log").read_text() if (d / "unbound.log").exists() else ""
                assert time.monotonic() < end and srv.poll() is None, \
                    f"unbound did not start: {log}"
                time.sleep(0.1)
            with Stack(layer, runner) as st:
                client = Client(ResolvConf(servers=[Server(IPv6Address(K6))], timeout=3.0,
                                           attempts=3), factory=st, node=node)
                st.resolver = netdb.Resolver(dns=client)
                yield {"ns": ns, "dev": dev, "stack": st, "client": client, "node": node,
                       "dir": d}
        finally:
            srv.terminate()
            try:
                srv.wait(10)
            except subprocess.TimeoutExpired:
                srv.kill()
                srv.wait()
            port.close()
            shutil.rmtree(etc, ignore_errors=True)



GLIBC_NI = """
import json, socket, sys
out = {}
for a in sys.argv[1:]:
    try:
        out[a] = socket.getnameinfo((a, 80), socket.NI_NAMEREQD)[0]
    except socket.gaierror as e:
        out[a] = e.errno
print(json.dumps(out))
"""


def _ours(st: Stack, names: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        try:
            out[name] = [a[4][0] for a in st.getaddrinfo(name, 80, 0, socket.SOCK_STREAM)]
        except socket.gaierror as e:
            out[name] = e.errno
    return out


def test_getaddrinfo_matches_glibc(rig: dict[str, Any]) -> None:
    theirs = glibc_getaddrinfo(rig["ns"], NAMES)
    c: Client = rig["client"]
    c.cache = Cache()
    ours = _ours(rig["stack"], NAMES)
    assert ours == theirs, {k: v for k, v in c.stats.items() if v}
    # what the names are: the comparison is not of two empty answers
    assert ours["both.test"][0] == "2001:db8:97::10" and "192.0.2.10" in ours["both.test"]
    assert ours["v6only.test"] == ["2001:db8:97::11"]
    assert ours["v4only.test"] == ["192.0.2.11"]
    assert ours["alias3.test"] == ours["both.test"]
    assert ours["big.test"] == BIG
    assert len(ours["multi.test"]) == 5
    assert ours[LONG] == ["2001:db8:97::14", "192.0.2.13"]
    assert ours["nothere.test"] == socket.EAI_NONAME
    assert c.stats["rs_tcpfallback"] >= 1  # big.test does not fit the 1232 octets we offer
    assert c.stats["rs_badsrc"] == c.stats["rs_badid"] == c.stats["rs_malformed"] == 0
    # the same answers again, now from the cache
    hits = c.stats["rs_cachehit"]
    assert _ours(rig["stack"], NAMES) == theirs
    assert c.stats["rs_cachehit"] > hits


def test_cname_chain_tcp_and_negative_cache(rig: dict[str, Any]) -> None:
    c: Client = rig["client"]
    c.cache = Cache()
    ans = c.query("alias3.test", dns.AAAA)
    assert ans.status is Status.OK and ans.canonical == "both.test"
    assert ans.values == [IPv6Address("2001:db8:97::10")]
    big = c.query("big.test", dns.AAAA)
    assert big.status is Status.OK and big.tcp and len(big.values) == 100
    nx = c.query("nothere.test", dns.AAAA)
    # unbound's authoritative NXDOMAIN carries the SOA: negative TTL min(300, 60)
    assert nx.status is Status.NXDOMAIN and nx.ttl == 60
    neg = c.stats["rs_negcachehit"]
    assert c.query("nothere.test", dns.AAAA).cached and c.stats["rs_negcachehit"] == neg + 1
    nodata = c.query("v4only.test", dns.AAAA)
    assert nodata.status is Status.NODATA and nodata.ttl == 60


def test_ptr_round_trip(rig: dict[str, Any]) -> None:
    st: Stack = rig["stack"]
    c: Client = rig["client"]
    theirs = json.loads(ipns(rig["ns"], "python3", "-c", GLIBC_NI, *PTRS).stdout)
    for addr, name in PTRS.items():
        a = ip_address(addr)
        assert c.reverse(a) == name == theirs[addr]
        with st.cond:
            got = netdb.getnameinfo((addr, 80), socket.NI_NAMEREQD | socket.NI_NUMERICSERV,
                                    resolver=st.resolver)
        assert got == (name, "80")
        # and forward again: the name has the address
        _canon, addrs = c.lookup(name)
        assert a in {x for x, _z in addrs}
    q = c.query(dns.ptr_name(IPv6Address(O6)), dns.PTR)
    assert q.name.endswith(".ip6.arpa") and q.name.count(".") == 33
    assert isinstance(IPv4Address(O4), IPv4Address)


def test_randomcase_against_unbound(rig: dict[str, Any]) -> None:
    """0x20 bits: unbound echoes the question's case, so every answer is
    taken and none is counted as another question's."""
    c = Client(ResolvConf(servers=[Server(IPv6Address(K6))], timeout=3.0, attempts=3,
                          randomcase=True), factory=rig["stack"], cache=Cache(0))
    for name in ("both.test", "alias3.test", "big.test", LONG):
        ans = c.query(name, dns.AAAA)
        assert ans.status is Status.OK and ans.values, name
    assert c.stats["rs_badquestion"] == 0 and c.stats["rs_answers"] >= 4


def test_dns64_synthesizes_aaaa_for_a_only_names(rig: dict[str, Any]) -> None:
    st: Stack = rig["stack"]
    conf = ResolvConf.parse(f"nameserver {K6}\noptions timeout:3 attempts:3\n"
                            "dns64 64:ff9b::/96\n")
    assert conf.dns64 is not None and str(conf.dns64) == "64:ff9b::/96"
    c = Client(conf, factory=st, cache=Cache())
    res = netdb.Resolver(dns=c)

    def gai(name: str, family: int) -> Any:
        try:
            with st.cond:
                return [a[4][0] for a in netdb.getaddrinfo(
                    name, 80, family, socket.SOCK_STREAM, resolver=res, node=rig["node"])]
        except socket.gaierror as e:
            return e.errno

    # 192.0.2.11 in the well-known prefix: 64:ff9b::c000:20b
    assert gai("v4only.test", socket.AF_INET6) == ["64:ff9b::c000:20b"]
    assert set(gai("v4only.test", 0)) == {"64:ff9b::c000:20b", "192.0.2.11"}
    assert c.stats["rs_dns64"] >= 1
    # a real AAAA is kept, nothing synthesized (§5.1.6)
    assert gai("both.test", socket.AF_INET6) == ["2001:db8:97::10"]
    # an AAAA in ::ffff:0:0/96 is excluded and the A record mapped (§5.1.4)
    assert gai("mapped.test", socket.AF_INET6) == ["64:ff9b::c000:21e"]
    assert gai("alias3.test", socket.AF_INET6) == ["2001:db8:97::10"]
    assert gai("nothere.test", socket.AF_INET6) == socket.EAI_NONAME
    # PTR of a synthesized address: the A record's in-addr.arpa name (§5.3.1)
    assert c.reverse(IPv6Address("64:ff9b::c000:20b")) == "v4only.test"
    assert c.stats["rs_dns64ptr"] == 1
    with st.cond:
        assert netdb.getnameinfo(("64:ff9b::c000:20b", 80),
                                 socket.NI_NAMEREQD | socket.NI_NUMERICSERV,
                                 resolver=res) == ("v4only.test", "80")
    # the same resolver without DNS64: no IPv6 address for the A-only name
    plain = netdb.Resolver(dns=Client(ResolvConf.parse(f"nameserver {K6}\n"), factory=st))
    with st.cond:
        try:
            got = netdb.getaddrinfo("v4only.test", 80, socket.AF_INET6, socket.SOCK_STREAM,
                                    resolver=plain, node=rig["node"])
        except socket.gaierror as e:
            got = e.errno
    assert got == socket.EAI_NODATA   # the name exists, with no IPv6 address
    # a network-specific /56 prefix (RFC 6052 §2.2: octets 64..71 left zero)
    c56 = Client(ResolvConf.parse(f"nameserver {K6}\ndns64 2001:db8:6400::/56\n"),
                 factory=st)
    _canon, addrs = c56.lookup("v4only.test")
    assert IPv6Address("2001:db8:6400:c0:0:20b::") in {a for a, _z in addrs}
