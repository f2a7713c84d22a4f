"""Our node as a multicast router (kame.ip6.mroute by the listening state of
kame.mld6_router) between two Linux network namespaces, over two TAPs:

    ns kmr-s: kernel sender 2001:db8:a::2, ::3 ── tap kmra ── kame router
    kame router ── tap kmrb ── ns kmr-l: kernel listeners (their own MLDv2)

The sender is a ``python3`` UDP socket in the kernel (``IPV6_MULTICAST_IF``,
``IPV6_MULTICAST_HOPS`` 8); the listeners join with the kernel's own MLD
(``IPV6_JOIN_GROUP`` for ff05::4242, ``MCAST_JOIN_SOURCE_GROUP`` for
ff3e::77 from ::2 only) and count what arrives with its hop limit
(``IPV6_RECVHOPLIMIT``):

- before anyone listens nothing crosses;
- with listeners, every datagram to both groups arrives with hop limit 7;
  from ::3 to the SSM group (not in its include list) and to the
  link-scope ff02::4242 (joined too) nothing arrives;
- after the listeners leave (their kernel's TO_IN({}) / BLOCK, our
  queries, the Last Listener Query Time) nothing crosses any more;
- the router's own sockets (hop limit/TTL 8) reach the listeners with 7;
- a listener without an IPv4 address reports from 0.0.0.0 and is heard;
- our own sockets joined on the listeners' link get what crosses, once;
- an RFC 2365 boundary stops 239.255.0.0/16 and lets 239.1.2.3 through;
  our raw ``IP_HDRINCL`` multicast is forwarded as our other multicast;
- the node writes a pcap of both links: tshark finds nothing malformed,
  and the UDP copies on the listeners' link are exactly the ones counted.

The node is router_node.py under router_rig.py (test_tap_forward.py's
rig too).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from netns_rig import ipns
from router_rig import RouterRig, namespaces, router, wait_kernel_ready

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

NS_S, NS_L = "kmr-s", "kmr-l"
TAP_S, TAP_L = "kmra", "kmrb"
MAC_S, MAC_L = "02:00:00:00:fe:0a", "02:00:00:00:fe:0b"
OUR_S, OUR_L = "2001:db8:a::1", "2001:db8:b::1"
SRC, SRC_OTHER, KERN_L = "2001:db8:a::2", "2001:db8:a::3", "2001:db8:b::2"
ASM, SSM, LINK = "ff05::4242", "ff3e::77", "ff02::4242"
PORT = 4242
OUR_S4, OUR_L4 = "192.0.2.1", "198.51.100.1"
SRC4, SRC4_OTHER, KERN_L4 = "192.0.2.2", "192.0.2.3", "198.51.100.2"
ASM4, SSM4, LINK4 = "239.1.2.3", "232.1.1.1", "224.0.0.200"
LOCAL4 = "239.255.1.2"  # RFC 2365 IPv4 Local Scope

# how each listener script below ends: once joined it counts what arrives
# by its hop limit or TTL (the ancillary item of type HOPS) and answers on
# stdin "report" (what it got) and "leave" (its leave(), then "left");
# anything else ends it
LISTEN_LOOP = r"""
print('joined', flush=True)
got = {}
while True:
    r, _, _ = select.select([s, sys.stdin], [], [])
    if s in r:
        data, anc, _, _ = s.recvmsg(2048, 64)
        hl = [struct.unpack('=i', d)[0] for lv, ty, d in anc if ty == HOPS]
        got.setdefault(data.decode(), []).append(hl[0] if hl else None)
    if sys.stdin in r:
        cmd = sys.stdin.readline().strip()
        if cmd == 'leave':
            leave()
            print('left', flush=True)
        elif cmd == 'report':
            print(json.dumps(got), flush=True)
        else:
            break
"""

LISTENER = f"""
import json, select, socket, struct, sys
idx = socket.if_nametoindex('{TAP_L}')
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('::', {PORT}))
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
def ss(a):
    return struct.pack('=H', socket.AF_INET6) + bytes(6) + socket.inet_pton(socket.AF_INET6, a) \\
        + bytes(4) + bytes(128 - 28)
mreq = lambda g: socket.inet_pton(socket.AF_INET6, g) + struct.pack('=I', idx)
gsr = struct.pack('=I', idx) + bytes(4) + ss('{SSM}') + ss('{SRC}')
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq('{ASM}'))
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq('{LINK}'))
s.setsockopt(socket.IPPROTO_IPV6, 46, gsr)  # MCAST_JOIN_SOURCE_GROUP
HOPS = socket.IPV6_HOPLIMIT
def leave():
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_LEAVE_GROUP, mreq('{ASM}'))
    s.setsockopt(socket.IPPROTO_IPV6, 47, gsr)  # MCAST_LEAVE_SOURCE_GROUP
""" + LISTEN_LOOP

SENDER = f"""
import socket, struct, sys, time
src, dst, tag, n, idx = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind((src, 0))
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, socket.if_nametoindex(idx))
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 8)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
for i in range(n):
    s.sendto(tag.encode(), (dst, {PORT}))
    time.sleep(0.02)
"""


class Rig(RouterRig):
    def groups(self, proto: str = "mld") -> dict[str, Any]:
        (st,) = [x for x in self.state()[proto] if x["ifname"] == TAP_L]
        return {g["group"]: g for g in st["groups"]}

    def own(self, tag: str, n: int) -> None:
        """The node's own UDP sockets send ``n`` datagrams to ASM (``tag``6,
        hop limit 8) and ASM4 (``tag``4, TTL 8) on TAP_S."""
        assert self.cmd(f"own {tag} {n}") == {"sent": n}


def send(src: str, dst: str, tag: str, n: int = 10) -> None:
    p = ipns(NS_S, sys.executable, "-c", SENDER, src, dst, tag, str(n), TAP_S, timeout=60,
             check=False)
    assert p.returncode == 0, p.stderr


def links_up() -> None:
    ipns(NS_S, "ip", "link", "set", TAP_S, "up")
    ipns(NS_S, "ip", "-6", "addr", "add", SRC + "/64", "dev", TAP_S, "nodad")
    ipns(NS_S, "ip", "-6", "addr", "add", SRC_OTHER + "/64", "dev", TAP_S, "nodad")
    ipns(NS_L, "ip", "link", "set", TAP_L, "up")
    ipns(NS_L, "ip", "-6", "addr", "add", KERN_L + "/64", "dev", TAP_L, "nodad")
    ipns(NS_S, "ip", "addr", "add", SRC4 + "/24", "dev", TAP_S)
    ipns(NS_S, "ip", "addr", "add", SRC4_OTHER + "/24", "dev", TAP_S)
    ipns(NS_L, "ip", "addr", "add", KERN_L4 + "/24", "dev", TAP_L)


@pytest.fixture
def rig(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Rig]:
    """The two namespaces and the node; ``request.param`` the listeners'
    versions: 1 MLDv1 and IGMPv2 (``force_mld_version``,
    ``force_igmp_version``), "igmpv1" IGMPv1, 2 (default) MLDv2 and IGMPv3;
    "oldq": our queriers speak MLDv1 and IGMPv2 (the version knobs)."""
    param = getattr(request, "param", 2)
    with namespaces(NS_S, NS_L):
        for ns, dev in ((NS_S, TAP_S), (NS_L, TAP_L)):
            ipns(ns, "ip", "tuntap", "add", "dev", dev, "mode", "tap")
            ipns(ns, "sysctl", "-qw", f"net.ipv6.conf.{dev}.accept_ra=0")
        if param == 1:
            ipns(NS_L, "sysctl", "-qw", f"net.ipv6.conf.{TAP_L}.force_mld_version=1")
            ipns(NS_L, "sysctl", "-qw", f"net.ipv4.conf.{TAP_L}.force_igmp_version=2")
        if param == "igmpv1":
            ipns(NS_L, "sysctl", "-qw", f"net.ipv4.conf.{TAP_L}.force_igmp_version=1")
        for ns, dev in ((NS_S, TAP_S), (NS_L, TAP_L)):
            for d in ("all", "default", dev):
                ipns(ns, "sysctl", "-qw", f"net.ipv4.conf.{d}.rp_filter=0")
        cfg = {
            "name": "kame-mr", "seed": 23,
            "knobs": {"net.inet6.ip6.forwarding": 1, "net.inet.ip.forwarding": 1,
                      "net.link.ether.inet.dad_count": 0,
                      "net.inet.igmp.query_interval": 8,
                      "net.inet.igmp.query_response_interval": 2000,
                      "net.inet.igmp.last_member_query_interval": 500,
                      **({"net.inet6.mld.version": 1, "net.inet.igmp.version": 2}
                         if param == "oldq" else {}),
                      "net.inet6.mld.query_interval": 8,
                      "net.inet6.mld.query_response_interval": 2000,
                      "net.inet6.mld.last_listener_query_interval": 500},
            "own4": OUR_S4, "group6": ASM, "group4": ASM4, "port": PORT,
            "devs": [
                {"ns": NS_S, "name": TAP_S, "mac": MAC_S, "addr": OUR_S + "/64",
                 "addr4": OUR_S4 + "/24", "pcap": str(tmp_path / "s.pcap")},
                {"ns": NS_L, "name": TAP_L, "mac": MAC_L, "addr": OUR_L + "/64",
                 "addr4": OUR_L4 + "/24", "pcap": str(tmp_path / "l.pcap")},
            ],
        }
        with router(cfg, links_up) as r:
            for ns in (NS_S, NS_L):
                wait_kernel_ready(ns)
            ipns(NS_L, "ip", "route", "add", "default", "via", OUR_L4)
            ipns(NS_S, "ip", "route", "add", "default", "via", OUR_S4)
            yield Rig(r.child, r.pcaps)


def udp_on(pcap: Path) -> list[dict[str, str]]:
    fields = ["ipv6.src", "ipv6.dst", "ipv6.hlim", "udp.checksum.status", "data.data",
              "_ws.malformed", "_ws.expert.severity"]
    res = subprocess.run(["tshark", "-r", str(pcap), "-o", "udp.check_checksum:TRUE",
                          "-Y", f"udp.port == {PORT}", "-T", "fields", "-E", "occurrence=f",
                          *[x for f in fields for x in ("-e", f)]],
                         capture_output=True, text=True, timeout=120, check=True)
    return [dict(zip(fields, ln.split("\t"), strict=True)) for ln in res.stdout.splitlines()]


def malformed(pcap: Path) -> str:
    flt = "_ws.malformed || _ws.expert.severity >= error"
    return subprocess.run(["tshark", "-r", str(pcap), "-Y", flt], capture_output=True, text=True,
                          timeout=120, check=True).stdout


def mld_on(pcap: Path) -> list[dict[str, str]]:
    """The MLD messages on a link: type, address, who sent them."""
    fields = ["eth.src", "icmpv6.type", "icmpv6.mld.multicast_address", "ipv6.dst"]
    res = subprocess.run(["tshark", "-r", str(pcap), "-Y", "icmpv6.type in {130, 131, 132, 143}",
                          "-T", "fields", "-E", "occurrence=f",
                          *[x for f in fields for x in ("-e", f)]],
                         capture_output=True, text=True, timeout=120, check=True)
    return [dict(zip(fields, ln.split("\t"), strict=True)) for ln in res.stdout.splitlines()]


LISTENER4 = f"""
import json, select, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', {PORT}))
s.setsockopt(socket.IPPROTO_IP, 12, 1)  # IP_RECVTTL
a = socket.inet_aton
mreq = lambda g: a(g) + a('{KERN_L4}')
msrc = a('{SSM4}') + a('{KERN_L4}') + a('{SRC4}')  # struct ip_mreq_source (Linux order)
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq('{ASM4}'))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq('{LINK4}'))
s.setsockopt(socket.IPPROTO_IP, 39, msrc)  # IP_ADD_SOURCE_MEMBERSHIP
for g in sys.argv[1:]:  # more groups to join
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq(g))
HOPS = socket.IP_TTL
def leave():
    s.setsockopt(socket.IPPROTO_IP, socket.IP_DROP_MEMBERSHIP, mreq('{ASM4}'))
    s.setsockopt(socket.IPPROTO_IP, 40, msrc)  # IP_DROP_SOURCE_MEMBERSHIP
""" + LISTEN_LOOP

SENDER4 = f"""
import socket, sys, time
src, dst, tag, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(src))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 8)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
for i in range(n):
    s.sendto(tag.encode(), (dst, {PORT}))
    time.sleep(0.02)
"""


def send4(src: str, dst: str, tag: str, n: int = 10) -> None:
    p = ipns(NS_S, sys.executable, "-c", SENDER4, src, dst, tag, str(n), timeout=60, check=False)
    assert p.returncode == 0, p.stderr


def udp4_on(pcap: Path) -> list[dict[str, str]]:
    fields = ["ip.src", "ip.dst", "ip.ttl", "ip.checksum.status", "data.data"]
    res = subprocess.run(["tshark", "-r", str(pcap), "-o", "ip.check_checksum:TRUE",
                          "-Y", f"ip && udp.port == {PORT}", "-T", "fields",
                          "-E", "occurrence=f", *[x for f in fields for x in ("-e", f)]],
                         capture_output=True, text=True, timeout=120, check=True)
    return [dict(zip(fields, ln.split("\t"), strict=True)) for ln in res.stdout.splitlines()]


def igmp_on(pcap: Path) -> list[dict[str, str]]:
    fields = ["frame.time_relative", "eth.src", "igmp.type", "igmp.version", "igmp.maddr",
              "igmp.record_type", "ip.ttl", "ip.opt.ra", "igmp.checksum.status", "igmp.max_resp"]
    res = subprocess.run(["tshark", "-r", str(pcap), "-Y", "igmp", "-T", "fields",
                          "-E", "aggregator=;", *[x for f in fields for x in ("-e", f)]],
                         capture_output=True, text=True, timeout=120, check=True)
    return [dict(zip(fields, ln.split("\t"), strict=True)) for ln in res.stdout.splitlines()]


@dataclass(frozen=True)
class Fam:
    """What the per-family tests read: the groups, the sender and listener
    scripts, the state's keys, the counters' prefixes and the captures."""

    v4: bool
    proto: str  # the querier's state: "mld" | "igmp"
    mroute: str  # netstat -g: "mroute" | "mroute4"
    cpfx: str  # the querier's counters
    mpfx: str  # the forwarding counters
    listener: str
    src: str
    src_other: str
    asm: str
    ssm: str
    link: str

    def send(self, src: str, dst: str, tag: str, n: int = 10) -> None:
        (send4 if self.v4 else send)(src, dst, tag, n)

    def udp(self, pcap: Path) -> list[dict[str, str]]:
        """The family's UDP datagrams to PORT: src, ttl (hop limit), ok
        (checksum good), data."""
        if self.v4:
            return [{"src": r["ip.src"], "ttl": r["ip.ttl"], "ok": r["ip.checksum.status"],
                     "data": r["data.data"]} for r in udp4_on(pcap)]
        return [{"src": r["ipv6.src"], "ttl": r["ipv6.hlim"], "ok": r["udp.checksum.status"],
                 "data": r["data.data"]} for r in udp_on(pcap) if r["ipv6.dst"]]

    def membership(self, pcap: Path) -> list[dict[str, Any]]:
        """The MLD or IGMP messages: time, ours, type (a query is "query"),
        the group of a query or an MLDv1/IGMPv2 message, and the records
        (record type, group) of an MLDv2/IGMPv3 report."""
        if self.v4:
            out = []
            for m in igmp_on(pcap):
                t = m["igmp.type"]
                grps = m["igmp.maddr"].split(";") if m["igmp.maddr"] else []
                rts = m["igmp.record_type"].split(";") if m["igmp.record_type"] else []
                out.append({"t": float(m["frame.time_relative"]), "ours": m["eth.src"] == MAC_L,
                            "type": "query" if t == "0x11" else t,
                            "group": grps[0] if grps and t != "0x22" else "",
                            "records": list(zip(rts, grps, strict=False)) if t == "0x22" else [],
                            "ok": m["igmp.checksum.status"] == "1" and m["ip.ttl"] == "1" and
                            (m["ip.opt.ra"] == "0" or t not in ("0x11", "0x22"))
                            and (m["igmp.version"] == "3" or t != "0x11")})
            return out
        fields = ["frame.time_relative", "eth.src", "icmpv6.type", "icmpv6.mld.multicast_address",
                  "icmpv6.mldr.mar.record_type", "icmpv6.mldr.mar.multicast_address",
                  "ipv6.hlim", "icmpv6.checksum.status"]
        res = subprocess.run(["tshark", "-r", str(pcap), "-Y",
                              "icmpv6.type in {130, 131, 132, 143}", "-T", "fields",
                              "-E", "aggregator=;", *[x for f in fields for x in ("-e", f)]],
                             capture_output=True, text=True, timeout=120, check=True)
        out = []
        for ln in res.stdout.splitlines():
            m = dict(zip(fields, ln.split("\t"), strict=True))
            t = m["icmpv6.type"]
            rts = m["icmpv6.mldr.mar.record_type"].split(";") if m[
                "icmpv6.mldr.mar.record_type"] else []
            grps = m["icmpv6.mldr.mar.multicast_address"].split(";") if m[
                "icmpv6.mldr.mar.multicast_address"] else []
            out.append({"t": float(m["frame.time_relative"]), "ours": m["eth.src"] == MAC_L,
                        "type": "query" if t == "130" else t,
                        "group": m["icmpv6.mld.multicast_address"],
                        "records": list(zip(rts, grps, strict=False)),
                        "ok": m["ipv6.hlim"] == "1" and m["icmpv6.checksum.status"] == "1"})
        return out


V6 = Fam(False, "mld", "mroute", "mlds_", "mrt6s_", LISTENER, SRC, SRC_OTHER, ASM, SSM, LINK)
V4 = Fam(True, "igmp", "mroute4", "igps_rtr_", "mrts_", LISTENER4, SRC4, SRC4_OTHER, ASM4,
         SSM4, LINK4)
#: MLDv2 / IGMPv3 and MLDv1 / IGMPv2 kernels: their report types, their
#: Done or Leave, the compatibility mode we must show
OLDER = {False: ("mldv1", {"131", "132"}), True: ("igmpv2", {"0x16", "0x17"})}
CURRENT = {False: ("mldv2", {"143"}), True: ("igmpv3", {"0x22"})}


class Listener:
    """A kernel listener script (LISTENER, LISTENER4, LISTENER4_NOADDR) run
    in NS_L: ``report()`` what it got, ``leave()`` its groups."""

    def __init__(self, script: str, *args: str) -> None:
        p = subprocess.Popen(["ip", "netns", "exec", NS_L, sys.executable, "-c", script, *args],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert p.stdin is not None and p.stdout is not None
        self.p, self.stdin, self.stdout = p, p.stdin, p.stdout

    def report(self) -> dict[str, Any]:
        self.stdin.write("report\n")
        self.stdin.flush()
        got: dict[str, Any] = json.loads(self.stdout.readline())
        return got

    def leave(self) -> None:
        self.stdin.write("leave\n")
        self.stdin.flush()
        assert "left" in self.stdout.readline()

    def close(self) -> None:
        self.stdin.close()
        self.p.wait(timeout=30)


@contextmanager
def listening(script: str, *args: str) -> Iterator[Listener]:
    """A Listener that has joined its groups, ended afterwards."""
    lis = Listener(script, *args)
    try:
        assert "joined" in lis.stdout.readline()
        yield lis
    finally:
        lis.close()


def run_listener(rig: Rig, fam: Fam, older: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """Before anyone listens a datagram crosses nowhere; then the kernel
    listener joins ASM and SSM (from ``src`` only) and our querier learns
    them (``older``: in MLDv1/IGMPv2 compatibility, EXCLUDE({}) both, as
    such a host cannot name sources); after our next General Query and
    the kernel's answer a kernel sender sends to each group, from the
    other source to SSM, and to the link-scope group; the listener
    leaves, the state goes, and the sender sends again. What the listener
    got while joined and after."""
    fam.send(fam.src, fam.asm, "before")
    st = rig.state()
    assert st["stats"].get(fam.mpfx + "mfc_misses", 0) >= 1, st["stats"]
    assert not any(m["pkt_out"] for m in st[fam.mroute]["mifs"]), st[fam.mroute]
    with listening(fam.listener) as lis:
        assert rig.until(lambda: fam.asm in rig.groups(fam.proto) and
                         fam.ssm in rig.groups(fam.proto), 30), rig.groups(fam.proto)
        gs = rig.groups(fam.proto)
        if older:
            for g in (fam.asm, fam.ssm):
                assert gs[g]["compat"] == OLDER[fam.v4][0] and gs[g]["mode"] == "exclude", gs
                assert gs[g]["sources"] == [], gs
        else:
            assert gs[fam.asm]["mode"] == "exclude", gs
            assert gs[fam.asm]["compat"] == CURRENT[fam.v4][0], gs
            assert gs[fam.ssm]["mode"] == "include", gs
            assert [x["addr"] for x in gs[fam.ssm]["sources"]] == [fam.src], gs
        # our next General Query and the kernel's answer (QRI 2 s)
        (ln,) = [x for x in rig.state()[fam.proto] if x["ifname"] == TAP_L]
        time.sleep(ln["next_query"] + 2.5)
        fam.send(fam.src, fam.asm, "asm")
        fam.send(fam.src, fam.ssm, "ssm")
        fam.send(fam.src_other, fam.ssm, "ssm-other")
        fam.send(fam.src, fam.link, "link")
        time.sleep(0.5)
        got = lis.report()
        lis.leave()
        # TO_IN({}) and BLOCK, or a Done/Leave: our specific queries, then
        # gone after the Last Listener/Member Query Time (1 s)
        assert rig.until(lambda: fam.asm not in rig.groups(fam.proto) and
                         fam.ssm not in rig.groups(fam.proto), 15), rig.groups(fam.proto)
        fam.send(fam.src, fam.asm, "after")
        fam.send(fam.src, fam.ssm, "after")
        time.sleep(0.5)
        got2 = lis.report()
    return got, got2


def check_pcaps(rig: Rig, fam: Fam, older: bool, forwarded: list[str]) -> list[dict[str, Any]]:
    """The datagrams on the listeners' link are exactly ``forwarded``, one
    hop less, from the sender, checksums good; on the sender's link every
    one the sender sent (hop limit/TTL 8); our queries and the kernel's
    messages well formed; the kernel's of its version; our queries include
    a General Query and one for ASM; tshark finds nothing malformed."""
    on_l = fam.udp(rig.pcaps[TAP_L])
    assert sorted(bytes.fromhex(r["data"]).decode() for r in on_l) == sorted(forwarded), on_l
    assert all(r["ttl"] == "7" and r["ok"] == "1" and r["src"] == (
        fam.src_other if bytes.fromhex(r["data"]) == b"ssm-other" else fam.src)
        for r in on_l), on_l
    on_s = fam.udp(rig.pcaps[TAP_S])
    assert len(on_s) == 70 and all(r["ttl"] == "8" for r in on_s), len(on_s)
    msgs = fam.membership(rig.pcaps[TAP_L])
    ours = [m for m in msgs if m["ours"] and m["type"] == "query"]
    assert ours and all(m["ok"] for m in ours), ours
    if fam.v4:  # no IPv4 group of ours to report (our node reports its MLD groups)
        assert all(m["type"] == "query" for m in msgs if m["ours"]), msgs
    assert {m["group"] for m in ours} >= {"::" if not fam.v4 else "0.0.0.0", fam.asm}, ours
    kern = [m for m in msgs if not m["ours"]]
    kinds = (OLDER if older else CURRENT)[fam.v4][1]
    assert {m["type"] for m in kern} == kinds and all(m["ok"] for m in kern), kern
    for p in rig.pcaps.values():
        assert not malformed(p), malformed(p)
    return msgs


@pytest.mark.parametrize("fam", [V6, V4], ids=["mldv2", "igmpv3"])
def test_kernel_listeners_get_what_they_joined_through_us(rig: Rig, fam: Fam) -> None:
    """MLDv2 and IGMPv3 kernel listeners: our querier learns ASM (EXCLUDE)
    and SSM (INCLUDE of the source) from the kernel's own reports; the
    kernel answers our General Query with Current-State records; a kernel
    sender's datagrams cross with hop limit/TTL 7, except from the excluded
    source, to link scope (ff02::/16, 224.0.0.0/24) and before the join;
    after the leave (TO_IN, BLOCK; our address- and source-specific
    queries), none."""
    got, got2 = run_listener(rig, fam, older=False)
    assert got.get("asm") == [7] * 10 and got.get("ssm") == [7] * 10, got
    assert "ssm-other" not in got and "link" not in got and "before" not in got, got
    assert "after" not in got2, got2
    st = rig.state()
    s = st["stats"]
    c, m = fam.cpfx, fam.mpfx
    assert s.get(c + "rcv_reports", 0) >= 3, s
    assert s.get(c + "snd_group_queries", 0) >= 1 and s.get(c + "snd_gsr_queries", 0) >= 1, s
    assert s.get(m + "mfc_lookups", 0) >= 30 and not s.get(m + "wrong_if"), s
    mifs = {x["ifname"]: x for x in st[fam.mroute]["mifs"]}
    assert mifs[TAP_L]["pkt_out"] == 20 and mifs[TAP_S]["pkt_in"] == 60, mifs
    rig.quit()
    msgs = check_pcaps(rig, fam, False, ["asm"] * 10 + ["ssm"] * 10)
    # the kernel answered a General Query of ours: MODE_IS_EXCLUDE (2) for ASM
    gq = [x["t"] for x in msgs if x["ours"] and x["group"] in ("::", "0.0.0.0")]
    answers = [x["t"] for x in msgs if not x["ours"] and ("2", fam.asm) in x["records"]]
    assert any(0 <= a - q <= 2.2 for a in answers for q in gq), msgs


@pytest.mark.parametrize("rig", [1], indirect=True)
@pytest.mark.parametrize("fam", [V6, V4], ids=["mldv1", "igmpv2"])
def test_older_kernel_listeners_put_the_group_in_compatibility_mode(rig: Rig, fam: Fam
                                                                     ) -> None:
    """RFC 3810 §8.3.2, RFC 3376 §7.3.2 against a kernel forced to MLDv1 /
    IGMPv2 (``force_mld_version=1``, ``force_igmp_version=2``): its Reports
    put each group in compatibility mode (Older Version Host Present):
    IS_EX({}), so its source-specific join forwards every source (such a
    host cannot say which: TO_EX(S) is TO_EX({}); the kernel filters the
    rest); its Done/Leave is TO_IN({}): our address-specific queries,
    which the older kernel reads as its own, and the state is gone after
    the Last Listener/Member Query Time."""
    got, got2 = run_listener(rig, fam, older=True)
    assert got.get("asm") == [7] * 10 and got.get("ssm") == [7] * 10, got
    assert "ssm-other" not in got and "link" not in got, got  # forwarded; the kernel filters
    assert "after" not in got2, got2
    s = rig.state()["stats"]
    v1, done = ("igps_rtr_rcv_v1v2reports", "igps_rtr_rcv_leaves") if fam.v4 else \
        ("mlds_rcv_v1reports", "mlds_rcv_dones")
    assert s.get(v1, 0) >= 2 and s.get(done, 0) >= 2, s
    assert s.get(fam.cpfx + "snd_group_queries", 0) >= 2, s
    mifs = {x["ifname"]: x for x in rig.state()[fam.mroute]["mifs"]}
    assert mifs[TAP_L]["pkt_out"] == 30, mifs
    rig.quit()
    msgs = check_pcaps(rig, fam, True, ["asm"] * 10 + ["ssm"] * 10 + ["ssm-other"] * 10)
    kern = [x for x in msgs if not x["ours"]]
    done_t = "0x17" if fam.v4 else "132"
    assert {x["group"] for x in kern if x["type"] == done_t} >= {fam.asm, fam.ssm}, kern
    assert {x["group"] for x in msgs if x["ours"]} >= {fam.ssm}, msgs


@pytest.mark.parametrize("rig", ["igmpv1"], indirect=True)
def test_igmpv1_kernel_listener_is_timed_out_not_left(rig: Rig) -> None:
    """A kernel forced to IGMPv1: v1 Reports put the group in IGMPv1 mode
    (RFC 3376 §7.3.2); an IGMPv1 host sends no Leave (and one heard while
    it is present would be ignored: test_igmp_router), so the group stays until
    the Group Membership Interval (2 x 8 s + 2 s) runs out without a
    report; then nothing crosses."""
    with listening(LISTENER4) as lis:
        assert rig.until(lambda: ASM4 in rig.groups("igmp"), 30), rig.groups("igmp")
        assert rig.groups("igmp")[ASM4]["compat"] == "igmpv1"
        send4(SRC4, ASM4, "asm")
        time.sleep(0.5)
        assert lis.report().get("asm") == [7] * 10
        lis.leave()
        t0 = time.monotonic()
        time.sleep(3)  # > the Last Member Query Time: a v2 group would be gone
        assert ASM4 in rig.groups("igmp"), rig.groups("igmp")
        assert rig.until(lambda: ASM4 not in rig.groups("igmp"), 30), rig.groups("igmp")
        assert time.monotonic() - t0 > 5  # by its timer, not by a leave
        send4(SRC4, ASM4, "after")
        time.sleep(0.5)
        assert "after" not in lis.report()
    s = rig.state()["stats"]
    assert s.get("igps_rtr_rcv_v1v2reports", 0) >= 1 and not s.get("igps_rtr_rcv_leaves"), s
    rig.quit()
    kern = {m["igmp.type"] for m in igmp_on(rig.pcaps[TAP_L]) if m["eth.src"] != MAC_L}
    assert kern == {"0x12"}, kern  # IGMPv1 Membership Reports only
    assert not malformed(rig.pcaps[TAP_L])


@pytest.mark.parametrize("rig", ["oldq"], indirect=True)
def test_our_older_version_queries_move_kernel_hosts_to_that_version(rig: Rig) -> None:
    """With net.inet6.mld.version 1 and net.inet.igmp.version 2 (RFC 3810
    §8.3.1, RFC 3376 §7.3.1) our queries are MLDv1 and IGMPv2; the kernel
    hosts, MLDv2/IGMPv3 by default, fall back to the older version
    (Older Version Querier Present) and report and leave in it, and the
    forwarding follows their state."""
    got, got2 = run_listener(rig, V4, older=True)
    assert got.get("asm") == [7] * 10 and "after" not in got2, (got, got2)
    with listening(LISTENER) as lis:
        assert rig.until(lambda: ASM in rig.groups() and
                         rig.groups()[ASM]["compat"] == "mldv1", 30), rig.groups()
        send(SRC, ASM, "asm")
        time.sleep(0.5)
        assert lis.report().get("asm") == [7] * 10
        lis.leave()
        assert rig.until(lambda: ASM not in rig.groups(), 15), rig.groups()
    s = rig.state()["stats"]
    assert not s.get("mlds_snd_gsr_queries") and not s.get("igps_rtr_snd_gsr_queries"), s
    rig.quit()
    msgs = mld_on(rig.pcaps[TAP_L])
    late = [m["icmpv6.type"] for m in msgs if m["eth.src"] != MAC_L and
            m["icmpv6.mld.multicast_address"] == ASM]
    assert "131" in late and "132" in late, msgs  # MLDv1 Report and Done from the kernel
    res = subprocess.run(["tshark", "-r", str(rig.pcaps[TAP_L]), "-Y",
                          f"icmpv6.type == 130 && eth.src == {MAC_L}", "-T", "fields",
                          "-e", "icmpv6.mld.flag.s", "-e", "ipv6.plen"], capture_output=True, text=True, timeout=120,
                         check=True)
    # our queries are all MLDv1: Hop-by-Hop 8 + 24 octets
    assert {ln.split("\t")[1] for ln in res.stdout.splitlines()} == {"32"}, res.stdout
    q4 = [m for m in igmp_on(rig.pcaps[TAP_L]) if m["eth.src"] == MAC_L]
    assert q4 and all(m["igmp.version"] == "2" for m in q4), q4
    kern4 = {m["igmp.type"] for m in igmp_on(rig.pcaps[TAP_L]) if m["eth.src"] != MAC_L}
    assert {"0x16", "0x17"} <= kern4, kern4


def test_our_own_multicast_reaches_kernel_listeners(rig: Rig) -> None:
    """The router's own sockets (IPV6_MULTICAST_HOPS / IP_MULTICAST_TTL 8)
    send on the sender's link; ip6_output's ip6_mforward and ip_output's
    ip_mforward copy them to the kernel listeners' link, one hop less."""
    with listening(LISTENER) as lis6, listening(LISTENER4) as lis4:
        assert rig.until(lambda: ASM in rig.groups() and ASM4 in rig.groups("igmp"), 30), \
            (rig.groups(), rig.groups("igmp"))
        rig.own("own", 5)
        time.sleep(0.5)
        got = [lis6.report(), lis4.report()]
        assert got[0].get("own6") == [7] * 5, got
        assert got[1].get("own4") == [7] * 5, got
    st = rig.state()
    mifs6 = {m["ifname"]: m for m in st["mroute"]["mifs"]}
    mifs4 = {m["ifname"]: m for m in st["mroute4"]["mifs"]}
    for mifs in (mifs6, mifs4):
        assert mifs[TAP_S]["pkt_out"] == 5 and mifs[TAP_S]["pkt_in"] == 0, mifs
        assert mifs[TAP_L]["pkt_out"] == 5, mifs
    rig.quit()
    on_l6 = [r for r in udp_on(rig.pcaps[TAP_L]) if r["ipv6.dst"]]  # udp_on: IPv4 too
    assert len(on_l6) == 5 and all(r["ipv6.hlim"] == "7" and r["ipv6.src"] == OUR_S and
                                   r["udp.checksum.status"] == "1" for r in on_l6), on_l6
    on_s6 = [r for r in udp_on(rig.pcaps[TAP_S]) if r["ipv6.dst"]]
    assert len(on_s6) == 5 and all(r["ipv6.hlim"] == "8" for r in on_s6), on_s6
    on_l4 = udp4_on(rig.pcaps[TAP_L])
    assert len(on_l4) == 5 and all(r["ip.ttl"] == "7" and r["ip.src"] == OUR_S4 and
                                   r["ip.checksum.status"] == "1" for r in on_l4), on_l4
    for p in rig.pcaps.values():
        assert not malformed(p), malformed(p)


LISTENER4_NOADDR = f"""
import json, select, socket, struct, sys
idx = socket.if_nametoindex('{TAP_L}')
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', {PORT}))
s.setsockopt(socket.IPPROTO_IP, 12, 1)  # IP_RECVTTL
mreqn = socket.inet_aton('{ASM4}') + bytes(4) + struct.pack('=i', idx)  # struct ip_mreqn
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
HOPS = socket.IP_TTL
def leave():
    s.setsockopt(socket.IPPROTO_IP, socket.IP_DROP_MEMBERSHIP, mreqn)
""" + LISTEN_LOOP


def test_kernel_listener_without_an_address_reports_from_0_0_0_0(rig: Rig) -> None:
    """A Linux listener with no IPv4 address sends its IGMPv3 Reports from
    0.0.0.0 (RFC 3376 §4.2.13): our ip_input lets them in for IGMP, the
    querier learns the group, and the traffic reaches the listener."""
    ipns(NS_L, "ip", "route", "del", "default", check=False)
    ipns(NS_L, "ip", "addr", "del", KERN_L4 + "/24", "dev", TAP_L)
    with listening(LISTENER4_NOADDR) as lis:
        assert rig.until(lambda: ASM4 in rig.groups("igmp"), 30), rig.groups("igmp")
        send4(SRC4, ASM4, "asm")
        time.sleep(0.5)
        got = lis.report()
        assert got.get("asm") == [7] * 10, got
    s = rig.state()["stats"]
    assert not s.get("igps_rcv_badreports") and s.get("igps_rtr_rcv_reports", 0) >= 1, s
    rig.quit()
    reports = [m for m in igmp_on(rig.pcaps[TAP_L]) if m["eth.src"] != MAC_L]
    assert reports and all(m["igmp.type"] == "0x22" for m in reports), reports
    res = subprocess.run(["tshark", "-r", str(rig.pcaps[TAP_L]), "-Y",
                          "igmp.type == 0x22 && ip.src == 0.0.0.0", "-T", "fields",
                          "-e", "igmp.maddr"], capture_output=True, text=True, timeout=120,
                         check=True)
    assert ASM4 in res.stdout, res.stdout


def test_our_sockets_on_the_listeners_link_get_what_crosses(rig: Rig) -> None:
    """Our own sockets joined to ASM and ASM4 on the listeners' link, no
    Linux listener there: what a Linux sender on the other link sends and
    what our own sockets send there cross (our membership is a listener,
    as a BSD router's daemon hears its kernel's looped Reports), and our
    sockets get a copy, hop limit/TTL 7, received on the listeners' link
    (phyint_send -> ip6_mloopback, send_packet -> ip_mloopback), once."""
    lidx = rig.cmd("join")["joined"]
    send(SRC, ASM, "k6")
    send4(SRC4, ASM4, "k4")
    rig.own("own", 5)
    time.sleep(0.3)
    got = rig.cmd("got")
    assert got["got6"] == {"k6": [[7, lidx]] * 10, "own6": [[7, lidx]] * 5}, got
    assert got["got4"] == {"k4": [[7, lidx]] * 10, "own4": [[7, lidx]] * 5}, got
    st = rig.state()
    s = st["stats"]
    assert s.get("mrt6s_mloopback") == 15 and s.get("mrts_mloopback") == 15, s
    assert not s.get("mrt6s_wrong_if") and not s.get("mrts_wrong_if"), s
    (e6,) = [e for e in st["mroute"]["mfc"] if e["origin"] == SRC]
    assert e6["oifs"] == [TAP_L], e6
    rig.quit()
    on_l = udp_on(rig.pcaps[TAP_L])
    on_l6 = [r for r in on_l if r["ipv6.dst"]]
    assert sorted(bytes.fromhex(r["data.data"]).decode() for r in on_l6) == \
        ["k6"] * 10 + ["own6"] * 5, on_l6
    assert all(r["ipv6.hlim"] == "7" and r["udp.checksum.status"] == "1" for r in on_l6), on_l6
    on_l4 = udp4_on(rig.pcaps[TAP_L])
    assert sorted(bytes.fromhex(r["data.data"]).decode() for r in on_l4) == \
        ["k4"] * 10 + ["own4"] * 5, on_l4
    assert all(r["ip.ttl"] == "7" and r["ip.checksum.status"] == "1" for r in on_l4), on_l4
    for p in rig.pcaps.values():
        assert not malformed(p), malformed(p)


def test_boundary_and_hdrincl(rig: Rig) -> None:
    """An RFC 2365 boundary for 239.255.0.0/16 on the listeners' link: a
    Linux listener joined to 239.1.2.3 and 239.255.1.2 gets the first from
    a Linux sender across our router, never the second (``mrts_boundary``
    counts each), and ``kame igmp show`` prints the boundary; then our own
    raw ``IP_HDRINCL`` socket's datagrams to 239.1.2.3 with TTL 8 reach it
    with TTL 7 (ip_mforward, as our other multicast)."""
    from kame.cli.tools import format_mld

    assert rig.cmd(f"boundary {TAP_L} 239.255.0.0/16") == \
        {"boundaries": {TAP_L: ["239.255.0.0/16"]}}
    with listening(LISTENER4, LOCAL4) as lis:
        assert rig.until(lambda: ASM4 in rig.groups("igmp") and LOCAL4 in rig.groups("igmp"),
                         30), rig.groups("igmp")
        send4(SRC4, ASM4, "asm")
        send4(SRC4, LOCAL4, "local")
        assert rig.cmd("hdrincl hinc 5") == {"sent": 5}
        time.sleep(0.5)
        got = lis.report()
    assert got.get("asm") == [7] * 10 and got.get("hinc") == [7] * 5, got
    assert "local" not in got, got
    st = rig.state()
    assert st["stats"].get("mrts_boundary") == 10, st["stats"]
    text = format_mld({"links": st["igmp"], "mroute": st["mroute4"], "stats": st["stats"]},
                      TAP_L, True, "igmp")
    assert "\tboundary 239.255.0.0/16" in text.splitlines(), text
    assert any("stopped at an administrative-scope boundary" in ln
               for ln in text.splitlines()), text
    mifs = {m["ifname"]: m for m in st["mroute4"]["mifs"]}
    assert mifs[TAP_S]["pkt_out"] == 5 and mifs[TAP_L]["pkt_out"] == 15, mifs
    rig.quit()
    on_l4 = udp4_on(rig.pcaps[TAP_L])
    assert sorted(bytes.fromhex(r["data.data"]).decode() for r in on_l4) == \
        ["asm"] * 10 + ["hinc"] * 5, on_l4
    assert all(r["ip.ttl"] == "7" and r["ip.checksum.status"] == "1" for r in on_l4), on_l4
    on_s4 = [r for r in udp4_on(rig.pcaps[TAP_S]) if r["ip.src"] == OUR_S4]
    assert len(on_s4) == 5 and all(r["ip.ttl"] == "8" for r in on_s4), on_s4
    for p in rig.pcaps.values():
        assert not malformed(p), malformed(p)
