"""The stub resolver (kame.resolv) against a real DNS server (issue 11 item
2): Debian's dnsmasq serves a test zone in a namespace, on the kernel's side
of a TAP whose other side is our node; our node asks it through its own
sockets (the blocking shim). For each name, kame.netdb.getaddrinfo returns
the addresses glibc's getaddrinfo returns, in the same order, glibc run in
the namespace with a resolv.conf naming the same server; an answer too big
for UDP comes over TCP; the node's own address round-trips through
ip6.arpa; a link-local server is reached through its zone."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from ipaddress import IPv6Address
from pathlib import Path
from typing import Any

import pytest
from netns_rig import TapPort, fresh_netns, glibc_getaddrinfo, ipns, node_on_port

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

from kame import dns, netdb
from kame.resolv import Client, ResolvConf, Server, Status
from kame.socket.blocking import Stack

K6, O6, K4, O4, MAC = "2001:db8:98::1", "2001:db8:98::2", "192.0.2.1", "192.0.2.2", \
    "02:00:00:00:09:81"
LONG = ".".join(["l" * 60, "o" * 60, "n" * 60, "g" * 50]) + ".test"
HOSTS = [
    ("2001:db8:98::10", "both.test"), ("192.0.2.10", "both.test"),
    ("2001:db8:98::11", "v6only.test"), ("192.0.2.11", "v4only.test"),
    ("2001:db8:98::12", "xn--bcher-kva.test"), ("192.0.2.13", LONG),
    ("2001:db8:98::14", LONG), (O6, "kame.test"),
    *[(f"2001:db8:98::1:{i:x}", "big.test") for i in range(100)],
]
NAMES = ["both.test", "v6only.test", "v4only.test", "alias.test", "alias2.test",
         "xn--bcher-kva.test", LONG, "big.test", "nothere.test"]


def _dnsmasq() -> str:
    for p in ("/usr/sbin/dnsmasq", shutil.which("dnsmasq")):
        if p and os.path.exists(p):
            return p
    raise AssertionError("dnsmasq is missing: .ci/run installs dnsmasq-base")


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    d = tmp_path_factory.mktemp("dns")
    (d / "hosts").write_text("".join(f"{a} {n}\n" for a, n in HOSTS))
    with fresh_netns("kame-dns") as ns:
        ipns(ns, "ip", "link", "set", "lo", "up")
        port = TapPort(ns, "kdn")
        dev = port.name
        ipns(ns, "ip", "addr", "add", f"{K6}/64", "dev", dev, "nodad")
        ipns(ns, "ip", "addr", "add", f"{K4}/24", "dev", dev)
        ipns(ns, "ip", "link", "set", dev, "up")
        etc = Path("/etc/netns") / ns
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "resolv.conf").write_text(f"nameserver {K6}\noptions edns0\n")
        log = (d / "dnsmasq.log").open("w")
        srv = subprocess.Popen(
            ["ip", "netns", "exec", ns, _dnsmasq(), "--keep-in-foreground", "--no-resolv",
             "--no-hosts", f"--addn-hosts={d / 'hosts'}", "--local=/test/",
             "--local=/98.0.8.b.d.0.1.0.0.2.ip6.arpa/", "--cname=alias.test,both.test",
             "--cname=alias2.test,alias.test", "--pid-file", "--user=root", "--port=53",
             f"--interface={dev}", "--log-queries",
             "--log-facility=-", "--local-ttl=300", "--neg-ttl=60"],
            stdout=log, stderr=subprocess.STDOUT)  # a file: a full pipe would stop dnsmasq
        _node, runner, layer = node_on_port(port, "kdn", 11, MAC, O6, O4)
        try:
            end = time.monotonic() + 10
            while not ipns(ns, "ss", "-Hlun", "sport = :53", check=False).stdout.strip():
                assert time.monotonic() < end and srv.poll() is None, "dnsmasq did not start"
                time.sleep(0.05)
            ll = ipns(ns, "ip", "-6", "-o", "addr", "show", "dev", dev, "scope", "link"
                      ).stdout.split()[3].split("/")[0]
            with Stack(layer, runner) as st:
                client = Client(ResolvConf(servers=[Server(IPv6Address(K6))], timeout=2.0),
                                factory=st)
                st.resolver = netdb.Resolver(dns=client)
                yield {"ns": ns, "dev": dev, "stack": st, "client": client, "ll": ll,
                       "server": srv}
        finally:
            srv.kill()
            srv.wait()
            log.close()
            port.close()
            shutil.rmtree(etc, ignore_errors=True)


def test_getaddrinfo_matches_glibc(rig: dict[str, Any]) -> None:
    theirs = glibc_getaddrinfo(rig["ns"], NAMES)
    st: Stack = rig["stack"]
    ours: dict[str, Any] = {}
    for name in NAMES:
        try:
            ours[name] = [a[4][0] for a in st.getaddrinfo(name, 80, 0, socket.SOCK_STREAM)]
        except socket.gaierror as e:
            ours[name] = e.errno
    # dnsmasq turns a record set round by one between answers (round robin) and
    # RFC 6724 keeps the server's order among equals: the same cycle, each turned
    big, their_big = ours.pop("big.test"), theirs.pop("big.test")
    assert ours == theirs, {k: v for k, v in rig["client"].stats.items() if v}
    assert len(big) == 100 and sorted(big) == sorted(their_big)
    i = their_big.index(big[0])
    assert their_big[i:] + their_big[:i] == big
    assert ours["nothere.test"] == socket.EAI_NONAME
    c: Client = rig["client"]
    assert c.stats["rs_tcpfallback"] >= 1  # big.test does not fit the 1232 octets we offer
    assert c.stats["rs_badsrc"] == c.stats["rs_badid"] == c.stats["rs_malformed"] == 0


def test_tcp_fallback_and_cache(rig: dict[str, Any]) -> None:
    c: Client = rig["client"]
    c.cache = type(c.cache)()
    ans = c.query("big.test", dns.AAAA)
    assert ans.status is Status.OK and ans.tcp and len(ans.values) == 100
    hits = c.stats["rs_cachehit"]
    assert c.query("big.test", dns.AAAA).cached and c.stats["rs_cachehit"] == hits + 1
    nx = c.query("nothere.test", dns.AAAA)
    assert nx.status is Status.NXDOMAIN
    # dnsmasq's NXDOMAIN for a --local domain has no SOA: RFC 2308 §5, not cached
    # (the negative cache is proven against an SOA in tests/test_resolv.py)
    assert nx.ttl == 0 and not c.query("nothere.test", dns.AAAA).cached


def test_ptr_round_trip_and_link_local_server(rig: dict[str, Any]) -> None:
    st: Stack = rig["stack"]
    with st.cond:
        name = netdb.getnameinfo((O6, 80), socket.NI_NAMEREQD | socket.NI_NUMERICSERV,
                                 resolver=st.resolver)
    assert name == ("kame.test", "80")
    theirs = ipns(rig["ns"], "python3", "-c",
                  f"import socket; print(socket.getnameinfo(('{O6}', 80), 0)[0])").stdout
    assert theirs.strip() == "kame.test"
    ll = Client(ResolvConf.parse(f"nameserver {rig['ll']}%{rig['dev']}\nsearch test\n"),
                factory=st)
    canon, addrs = ll.lookup("alias2")  # the search list, ndots 1
    assert canon == "both.test"
    assert {str(a) for a, _z in addrs} == {"2001:db8:98::10", "192.0.2.10"}
