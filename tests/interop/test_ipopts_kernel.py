"""IPv4 socket options against the Linux kernel over a TAP (issue 9): the
TTL and TOS the kernel's socket sends (``IP_TTL``, ``IP_TOS``) reach our
AF_INET and dual AF_INET6 sockets' control messages (``IP_PKTINFO``,
``IP_TTL``, ``IP_TOS``; ``IPV6_PKTINFO`` with the mapped address); the
ones our AF_INET6 socket sets at ``IPPROTO_IP`` go on its mapped datagrams
and the kernel's ``IP_RECVTTL``/``IP_RECVTOS`` report them. Our node runs
in a child process (``inet_tapnode.py``, the rig of test_inet_kernel).
Over two TAP links, IPv4 multicast on our AF_INET6 sockets: memberships
taken at ``IPPROTO_IP`` receive the kernel's datagrams as ``::ffff:``,
an unjoined socket none, leaving stops them, ``IP_MULTICAST_IF`` picks the
link our mapped multicast leaves by; tshark reads our IGMPv3 reports
clean. Through a kernel router with a 1280-octet link, each
``IP_MTU_DISCOVER`` mode on our connected sockets and on a kernel host's:
``IP_MTU``, the errnos, what the far host gets and every datagram on the
wire equal."""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from netns_rig import ipns
from test_inet_kernel import FAST, KERNEL, OURS, rig

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

IP_PKTINFO, IP_RECVTTL, IP_RECVTOS = 8, 12, 13


def test_kernel_ttl_and_tos_in_our_control_messages_and_ours_in_its() -> None:
    with rig({"knobs": FAST, "profile": "linux"}) as (ns, child):
        s4 = child.cmd(cmd="udp", family=2, bind=["0.0.0.0", 7310])["sock"]
        s6 = child.cmd(cmd="udp", family=10, bind=["::", 7311])["sock"]
        for s in (s4, s6):
            for opt in (IP_PKTINFO, IP_RECVTTL, IP_RECVTOS):
                assert child.cmd(cmd="sockopt", sock=s, level=0, opt=opt, int=1) == {"ok": True}
        assert child.cmd(cmd="sockopt", sock=s6, level=41, opt=socket.IPV6_RECVPKTINFO,
                         int=1) == {"ok": True}
        for port in (7310, 7311):
            ipns(ns, sys.executable, "-c",
                 "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);"
                 "s.setsockopt(0,socket.IP_TTL,17);s.setsockopt(0,socket.IP_TOS,0x28);"
                 f"s.sendto(b'ttl 17',('{OURS}',{port}))")
        g4 = child.cmd(cmd="recv", sock=s4, wait=0.5, anc=True)["data"]
        g6 = child.cmd(cmd="recv", sock=s6, wait=0.5, anc=True)["data"]
        # and ours to the kernel: IP_TTL and IP_TOS of an AF_INET6 socket
        server = ("import socket,json\n"
                  "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                  f"s.bind(('{KERNEL}',7320)); s.settimeout(8)\n"
                  "s.setsockopt(0,12,1); s.setsockopt(0,13,1)\n"
                  "print('up',flush=True)\n"
                  "d,anc,_f,a=s.recvmsg(100,256)\n"
                  "print(json.dumps([d.decode(),[[l,t,v.hex()] for l,t,v in anc]]),flush=True)\n")
        srv = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", server],
                               stdout=subprocess.PIPE, text=True)
        try:
            assert srv.stdout is not None and srv.stdout.readline().strip() == "up"
            c = child.cmd(cmd="udp", family=10)["sock"]
            assert child.cmd(cmd="sockopt", sock=c, level=0, opt=socket.IP_TTL,
                             int=23) == {"ok": True}
            assert child.cmd(cmd="sockopt", sock=c, level=0, opt=socket.IP_TOS,
                             int=0x48) == {"ok": True}
            assert child.cmd(cmd="sendto", sock=c, data="mapped ttl",
                             to=[f"::ffff:{KERNEL}", 7320]) == {"ok": 10}
            theirs = json.loads(srv.stdout.readline())
        finally:
            srv.kill()
        idx = child.cmd(cmd="state")["ifindex"]
    ours = socket.inet_aton(OURS)
    assert len(g4) == 1 and g4[0][0] == "ttl 17" and g4[0][1] == [KERNEL, g4[0][1][1]]
    anc4 = [(lv, t, bytes.fromhex(h)) for lv, t, h in g4[0][2]]
    assert [(lv, t) for lv, t, _v in anc4] == [(0, IP_PKTINFO), (0, socket.IP_TTL),
                                               (0, socket.IP_TOS)]
    ifi = struct.unpack("=i", anc4[0][2][:4])[0]
    assert ifi == idx  # the TAP the datagram came in on
    assert anc4[0][2][4:] == ours + ours  # ipi_spec_dst, ipi_addr
    assert anc4[1][2] == struct.pack("=i", 17) and anc4[2][2] == b"\x28"
    assert len(g6) == 1 and g6[0][1][0] == f"::ffff:{KERNEL}"
    anc6 = [(lv, t, bytes.fromhex(h)) for lv, t, h in g6[0][2]]
    assert anc6[0] == (41, socket.IPV6_PKTINFO, socket.inet_pton(
        socket.AF_INET6, f"::ffff:{OURS}") + struct.pack("=I", ifi))
    assert anc6[1:] == anc4  # then ip_cmsg_recv's items, as on AF_INET
    assert theirs == ["mapped ttl", [[0, socket.IP_TTL, struct.pack("=i", 23).hex()],
                                     [0, socket.IP_TOS, "48"]]]


# --- IPv4 multicast on an AF_INET6 socket, two TAP links ------------------------
#
#     kernel 10.9.21.1 (and .3) ── TAP A ── our node 10.9.21.2   (224/4 routed to A)
#     kernel 10.9.22.1          ── TAP B ── our node 10.9.22.2
#
# Our AF_INET6 sockets join at IPPROTO_IP (IP_ADD_MEMBERSHIP; MCAST_JOIN_SOURCE_GROUP
# with an AF_INET group and source) and get the kernel's datagrams as ::ffff:...,
# an AF_INET6 socket that did not join gets none (Linux's IP_MULTICAST_ALL is off
# on AF_INET6 sockets), leaving stops them; IP_MULTICAST_IF sends our mapped
# multicast out of B (by address) then A (by ip_mreqn index). tcpdump captures
# both links; tshark reads our IGMPv3 reports clean.

A4, A4_OTHER, OURS_A = "10.9.21.1", "10.9.21.3", "10.9.21.2"
B4, OURS_B = "10.9.22.1", "10.9.22.2"
ASM, SSM, OUT = "239.1.2.3", "239.1.2.4", "239.1.2.9"

# the kernel's listener on B: joined to OUT there, prints what it gets
LISTENER = r"""
import json, select, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7500))
s.setsockopt(0, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(sys.argv[1]) + socket.inet_aton(sys.argv[2]))
s.setsockopt(0, 12, 1)  # IP_RECVTTL
print("ready", flush=True)
while select.select([s], [], [], 20)[0]:
    d, anc, _f, a = s.recvmsg(100, 64)
    print(json.dumps([d.decode(), a[0], [int.from_bytes(v, "little") for _l, _t, v in anc]]), flush=True)
"""


def _kernel_send(ns: str, src: str, group: str, port: int, tag: str) -> None:
    ipns(ns, sys.executable, "-c",
         "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);"
         f"s.bind(('{src}',0));s.setsockopt(0,socket.IP_MULTICAST_IF,socket.inet_aton('{src}'));"
         f"s.sendto(b'{tag}',('{group}',{port}))")


def _pcap_rows(pcap: Path, flt: str, fields: list[str]) -> list[list[str]]:
    res = subprocess.run(["tshark", "-r", str(pcap), "-Y", flt, "-o", "ip.check_checksum:TRUE",
                          "-T", "fields", *[x for f in fields for x in ("-e", f)]],
                         capture_output=True, text=True, timeout=120, check=True)
    return [line.split("\t") for line in res.stdout.splitlines()]


def _node_on_a_and_b(pa: Any, pb: Any, name: str, seed: int, macs: tuple[str, str],
                     route: tuple[str, str | None]) -> tuple[Any, Any, Any]:
    """Our node on TAP A (``pa``, OURS_A) and B (``pb``, OURS_B), DAD off,
    an IPv4 ``route`` (prefix, gateway) by way of A, served by a Runner
    for a second (the addresses usable): the node, the runner and a
    linux-profile SocketLayer."""
    from test_exthdr_kernel import pump

    from kame.knobs import Knobs
    from kame.link.runner import Runner
    from kame.node import Node
    from kame.socket import SocketLayer

    node = Node(name, knobs=Knobs({"net.link.ether.inet.dad_count": 0}), seed=seed)
    node.add_interface(pa.name, bytes.fromhex(macs[0]))
    node.add_interface(pb.name, bytes.fromhex(macs[1]))
    runner = Runner()
    for port in (pa, pb):
        runner.attach_device(node, port.name, port.tap)
        runner.transmit(node, node.up(port.name, runner.clock()))
    node.add_address4(pa.name, f"{OURS_A}/24", runner.clock())
    node.add_address4(pb.name, f"{OURS_B}/24", runner.clock())
    node.inet.route_add(route[0], route[1], pa.name)
    layer = SocketLayer(node, "linux")
    pump(runner, lambda: False, 1.0)
    return node, runner, layer


def test_ipv4_multicast_on_an_af_inet6_socket_with_the_kernel(tmp_path: Path) -> None:
    if shutil.which("tcpdump") is None or shutil.which("tshark") is None:
        pytest.skip("needs tcpdump and tshark")
    from ipaddress import IPv4Address

    from netns_rig import TapPort, fresh_netns
    from test_exthdr_kernel import pump

    from kame.socket import AF_INET6, SOCK_DGRAM
    from kame.socket.inctl import (
        IP_ADD_MEMBERSHIP,
        IP_DROP_MEMBERSHIP,
        IP_MULTICAST_IF,
        IP_MULTICAST_TTL,
        MCAST_JOIN_SOURCE_GROUP,
        MCAST_LEAVE_SOURCE_GROUP,
        group_source_req,
    )

    a4 = socket.inet_aton
    caps: list[subprocess.Popen[bytes]] = []
    with fresh_netns("ipo6k") as ns:
        ipns(ns, "ip", "link", "set", "lo", "up")
        pa, pb = TapPort(ns, "ipa"), TapPort(ns, "ipb")
        try:
            for port, addrs in ((pa, (A4, A4_OTHER)), (pb, (B4,))):
                for x in addrs:
                    ipns(ns, "ip", "addr", "add", f"{x}/24", "dev", port.name)
                ipns(ns, "ip", "link", "set", port.name, "up")
                pcap = tmp_path / f"{port.name[:3]}.pcap"
                caps.append(subprocess.Popen(
                    ["ip", "netns", "exec", ns, "tcpdump", "-i", port.name, "-U", "-w",
                     str(pcap), "ip"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            node, runner, layer = _node_on_a_and_b(  # tcpdump running, addresses usable
                pa, pb, "ipo6", 9, ("02000000150a", "02000000160b"), ("224.0.0.0/4", None))
            ifa, ifb = layer.ifindex(pa.name), layer.ifindex(pb.name)

            def sock(port: int) -> Any:
                s = layer.socket(AF_INET6, SOCK_DGRAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("::", port))
                return s

            joined, plain, ssm = sock(7400), sock(7400), sock(7401)
            joined.setsockopt(0, IP_ADD_MEMBERSHIP, a4(ASM) + a4(OURS_A))
            ssm.setsockopt(0, MCAST_JOIN_SOURCE_GROUP, group_source_req(ifa, SSM, A4))
            assert node.inet.in_member(pa.name, IPv4Address(ASM))
            pump(runner, lambda: False, 0.5)
            got: dict[str, list[Any]] = {"joined": [], "plain": [], "ssm": []}

            def drain() -> None:
                for name, s in (("joined", joined), ("plain", plain), ("ssm", ssm)):
                    while True:
                        try:
                            got[name].append(s.recvfrom(100))
                        except BlockingIOError:
                            break

            def heard(tag: str) -> Any:
                def f() -> bool:
                    drain()
                    return any(d == tag.encode() for x in got.values() for d, _a in x)
                return f

            for i in range(3):
                _kernel_send(ns, A4, ASM, 7400, f"asm {i}")
                _kernel_send(ns, A4, SSM, 7401, f"ssm {i}")
                _kernel_send(ns, A4_OTHER, SSM, 7401, f"other {i}")
                pump(runner, heard(f"ssm {i}"), 3.0)
            pump(runner, lambda: False, 0.3)
            drain()
            assert [d for d, _a in got["joined"]] == [b"asm 0", b"asm 1", b"asm 2"], got
            assert {a[0] for _d, a in got["joined"]} == {f"::ffff:{A4}"}
            assert [d for d, _a in got["ssm"]] == [b"ssm 0", b"ssm 1", b"ssm 2"], got
            assert got["plain"] == [], got  # IP_MULTICAST_ALL: off on AF_INET6
            # the other source's: refused by the interface's filter (INCLUDE {A4})
            assert node.stats["ips_notmember"] >= 3
            # leaving stops the delivery (the node is no longer a member)
            joined.setsockopt(0, IP_DROP_MEMBERSHIP, a4(ASM) + a4(OURS_A))
            ssm.setsockopt(0, MCAST_LEAVE_SOURCE_GROUP, group_source_req(ifa, SSM, A4))
            pump(runner, lambda: False, 0.5)
            notmember = node.stats["ips_notmember"]
            for got_list in got.values():
                got_list.clear()
            _kernel_send(ns, A4, ASM, 7400, "after leave")
            _kernel_send(ns, A4, SSM, 7401, "after leave")
            pump(runner, lambda: False, 1.0)
            drain()
            assert got == {"joined": [], "plain": [], "ssm": []}, got
            assert node.stats["ips_notmember"] >= notmember + 2
            # our mapped multicast out of the interface IP_MULTICAST_IF names
            lst = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", LISTENER,
                                    OUT, B4], stdout=subprocess.PIPE, text=True)
            try:
                assert lst.stdout is not None and lst.stdout.readline().strip() == "ready"
                snd = layer.socket(AF_INET6, SOCK_DGRAM)
                snd.bind(("::", 7501))
                snd.setsockopt(0, IP_MULTICAST_IF, a4(OURS_B))
                snd.setsockopt(0, IP_MULTICAST_TTL, 5)
                assert snd.getsockopt(0, IP_MULTICAST_IF, 4) == a4(OURS_B)
                snd.sendto(b"out of B", (f"::ffff:{OUT}", 7500))
                pump(runner, lambda: False, 0.5)
                heard_b = json.loads(lst.stdout.readline())
                snd.setsockopt(0, IP_MULTICAST_IF, struct.pack("=4s4si", bytes(4), bytes(4), ifa))
                snd.sendto(b"out of A", (f"::ffff:{OUT}", 7500))
                pump(runner, lambda: False, 0.5)
            finally:
                lst.kill()
            assert heard_b == ["out of B", OURS_B, [5]], heard_b
            assert ifb != ifa
        finally:
            time.sleep(1.0)
            for c in caps:
                c.terminate()
                c.wait(timeout=10)
            pa.close()
            pb.close()
    cap_a, cap_b = tmp_path / "ipa.pcap", tmp_path / "ipb.pcap"
    udp = ["ip.src", "ip.dst", "ip.ttl", "udp.srcport"]
    ours_a = _pcap_rows(cap_a, f"udp && ip.dst == {OUT}", udp)
    ours_b = _pcap_rows(cap_b, f"udp && ip.dst == {OUT}", udp)
    assert ours_b == [[OURS_B, OUT, "5", "7501"]], ours_b  # IP_MULTICAST_IF by address
    assert ours_a == [[OURS_A, OUT, "5", "7501"]], ours_a  # by ip_mreqn index
    # our IGMPv3 reports on A: the joins and the leaves, nothing malformed
    rows = _pcap_rows(cap_a, f"igmp && ip.src == {OURS_A}",
                      ["igmp.version", "igmp.record_type", "igmp.maddr", "igmp.saddr",
                       "igmp.checksum.status", "ip.checksum.status", "_ws.malformed",
                       "_ws.expert.severity", "igmp.num_src"])
    assert rows, "no IGMP report of ours"
    # checksum status 1 is "good"; no malformed mark, no expert note of warning or worse
    bad = [r for r in rows if r[0] != "3" or r[4] != "1" or r[5] != "1" or r[6]
           or (r[7] and int(r[7].split(",")[0]) >= 0x00600000)]
    assert not bad, rows
    # records (type, group, sources): the joins (ASM: TO_EX {}, SSM: ALLOW
    # or TO_IN {A4}) and the leaves (ASM: TO_IN {}, SSM: BLOCK {A4})
    recs: set[tuple[str, str, str]] = set()
    for r in rows:
        srcs = [x for x in r[3].split(",") if x]
        for typ, grp, n in zip(r[1].split(","), r[2].split(","), r[8].split(","), strict=True):
            took, srcs = srcs[:int(n)], srcs[int(n):]
            recs.add((typ, grp, ",".join(took)))
    assert ("4", ASM, "") in recs and ("3", ASM, "") in recs, recs
    assert {("5", SSM, A4), ("3", SSM, A4)} & recs and ("6", SSM, A4) in recs, recs


# --- path MTU discovery modes through a kernel router ---------------------------
#
#     our node 10.9.0.2 ── TAP ──┐
#                                kernel router (ip_forward) ── 1280-octet veth ── far 10.9.1.2
#     kernel host 10.9.2.2 ─ veth┘
#
# The same steps on our connected UDP sockets and on the kernel host's:
# IP_MTU before and after the router's Fragmentation Needed, each
# IP_MTU_DISCOVER mode's errno (the EMSGSIZE the ICMP leaves on a connected
# socket, the path MTU's and the interface MTU's), what the far host gets,
# and every datagram each sender put on its link (length, DF, MF).

IP_MTU_DISCOVER, IP_MTU = 10, 14
FAR, NEAR, NEAR_GW = "10.9.1.2", "10.9.2.2", "10.9.2.1"
PMTU_STEPS: list[list[Any]] = [
    ["udp", 2], ["mtu"], ["mode", 2], ["send", 1400, "do-fits-the-link"], ["wait"], ["mtu"],
    ["send", 1400, "do-after-the-icmp"], ["send", 1400, "do-too-big"],
    ["send", 1252, "do-fits"], ["mode", 3], ["send", 1400, "probe"], ["wait"],
    ["send", 100, "probe-after-the-icmp"], ["send", 1473, "probe-too-big"],
    ["mode", 4], ["send", 1472, "interface"], ["send", 1473, "interface-too-big"],
    ["mode", 5], ["send", 1600, "omit"], ["mode", 0], ["send", 1400, "dont"],
    ["mode", 1], ["send", 1000, "want-small"], ["send", 1400, "want-big"],
    ["udp", 10], ["mtu"], ["mode", 2], ["send", 1400, "mapped-do"], ["mode", 1],
    ["send", 1400, "mapped-want"]]

# the kernel host's run of PMTU_STEPS (argv: the steps, the port)
NEAR_RUN = r"""
import json, socket, sys, time
steps, port = json.loads(sys.argv[1]), int(sys.argv[2])
out, s = [], None
for st in steps:
    try:
        if st[0] == "udp":
            s = socket.socket(st[1], socket.SOCK_DGRAM)
            s.connect(("%s" if st[1] == 2 else "::ffff:%s", port))
            r = "ok"
        elif st[0] == "mtu":
            r = s.getsockopt(0, 14)
        elif st[0] == "mode":
            s.setsockopt(0, 10, st[1]); r = "ok"
        elif st[0] == "send":
            r = s.send(st[2].encode().ljust(st[1], b"."))
        else:
            time.sleep(0.5); r = "ok"
    except OSError as e:
        r = e.errno
    out.append(r)
print(json.dumps(out))
""".replace("%s", FAR)

FAR_LISTEN = r"""
import json, select, socket
socks = []
for port in (7700, 7701):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port)); socks.append(s)
print("ready", flush=True)
got = {7700: [], 7701: []}
while True:
    r = select.select(socks, [], [], 3)[0]
    if not r:
        break
    for s in r:
        d = s.recv(70000)
        got[s.getsockname()[1]].append([d.split(b".")[0].decode(), len(d)])
print(json.dumps(got), flush=True)
"""


def _ours_steps(child: Any, steps: list[list[Any]], port: int) -> list[Any]:
    out: list[Any] = []
    s = None
    for st in steps:
        if st[0] == "udp":
            s = child.cmd(cmd="udp", family=st[1],
                          connect=[FAR if st[1] == 2 else f"::ffff:{FAR}", port])["sock"]
            r: Any = {"ok": True}
        elif st[0] == "mtu":
            r = child.cmd(cmd="getsockopt", sock=s, level=0, opt=IP_MTU)
        elif st[0] == "mode":
            r = child.cmd(cmd="sockopt", sock=s, level=0, opt=IP_MTU_DISCOVER, int=st[1])
        elif st[0] == "send":
            r = child.cmd(cmd="sendto", sock=s, hex=st[2].encode().ljust(st[1], b".").hex(),
                          to=None)
        else:
            r = child.cmd(cmd="wait", s=0.5)
        out.append(r.get("errno", r.get("value", r.get("ok"))))
        out[-1] = "ok" if out[-1] is True else out[-1]
    return out


def test_path_mtu_discovery_modes_through_a_kernel_router(tmp_path: Path) -> None:
    if shutil.which("tcpdump") is None or shutil.which("tshark") is None:
        pytest.skip("needs tcpdump and tshark")
    from netns_rig import fresh_netns

    with fresh_netns("kame-pmtu-far") as far, fresh_netns("kame-pmtu-near") as near, \
            rig({"knobs": FAST, "gw": KERNEL}) as (ns, child):
        for a, b, other, mine, theirs, mtu in (("kv0", "kv1", far, "10.9.1.1", FAR, "1280"),
                                               ("kn0", "kn1", near, NEAR_GW, NEAR, "1500")):
            ipns(ns, "ip", "link", "add", a, "type", "veth", "peer", "name", b)
            ipns(ns, "ip", "link", "set", b, "netns", other)
            ipns(ns, "ip", "link", "set", a, "mtu", mtu, "up")
            ipns(ns, "ip", "addr", "add", f"{mine}/24", "dev", a)
            ipns(other, "ip", "link", "set", "lo", "up")
            ipns(other, "ip", "link", "set", b, "mtu", mtu, "up")
            ipns(other, "ip", "addr", "add", f"{theirs}/24", "dev", b)
            ipns(other, "ip", "route", "add", "default", "via", mine)
        ipns(ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        ipns(ns, "sysctl", "-qw", "net.ipv4.icmp_ratelimit=0")
        pcaps = {d: tmp_path / f"{d}.pcap" for d in ("kin0", "kn0")}
        dumps = [subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-i", d, "-U", "-w",
                                   str(p), "udp or (ip[6:2] & 0x1fff != 0)"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for d, p in pcaps.items()]
        listener = subprocess.Popen(["ip", "netns", "exec", far, sys.executable, "-c",
                                     FAR_LISTEN], stdout=subprocess.PIPE, text=True)
        try:
            assert listener.stdout is not None and listener.stdout.readline().strip() == "ready"
            time.sleep(1.0)  # tcpdump running
            ours = _ours_steps(child, PMTU_STEPS, 7700)
            r = ipns(near, sys.executable, "-c", NEAR_RUN, json.dumps(PMTU_STEPS), "7701")
            theirs = json.loads(r.stdout)
            got = json.loads(listener.stdout.readline())
            st = child.cmd(cmd="state")
            time.sleep(1.0)
        finally:
            listener.kill()
            for d in dumps:
                d.terminate()
                d.wait(10)

    def wire(pcap: Path, src: str) -> list[list[str]]:
        return _pcap_rows(pcap, f"ip.src == {src} && ip.dst == {FAR}",
                          ["ip.len", "ip.flags.df", "ip.flags.mf"])

    mine, kernel = wire(pcaps["kin0"], OURS), wire(pcaps["kn0"], NEAR)
    assert ours == theirs, json.dumps([ours, theirs])
    assert got["7700"] == got["7701"], got
    assert mine == kernel, (mine, kernel)
    # what the modes mean, on both: the path MTU learnt; a DO datagram above
    # it EMSGSIZE before the Fragmentation Needed's pending EMSGSIZE, which
    # the next one that fits gets; PROBE and INTERFACE bounded by the link
    E = errno.EMSGSIZE
    assert ours[:6] == ["ok", 1500, "ok", 1400, "ok", 1280] and st["pmtu"] == {FAR: 1280}
    assert ours[6:9] == [E, E, E] and ours[10:14] == [1400, "ok", E, E]
    assert ours[15:17] == [1472, E] and ours[25:28] == [1280, "ok", E]
    assert [t for t, _n in got["7700"]] == ["interface", "omit", "dont", "want-small",
                                            "want-big", "mapped-want"], got
    assert ["1428", "1", "0"] in mine and ["1500", "0", "0"] in mine  # PROBE; INTERFACE
    assert ["1276", "0", "1"] in mine  # DONT, WANT: fragments of the path MTU


# --- IP_UNICAST_IF over two TAP links --------------------------------------------
#
#     kernel 10.9.21.1 ── TAP A ── our node 10.9.21.2  (our default route: by way of 10.9.21.1)
#     kernel 10.9.22.1 ── TAP B ── our node 10.9.22.2
#
# Our datagrams to the kernel's 10.9.22.1: without IP_UNICAST_IF they leave
# by B (the connected route); naming A (an AF_INET socket, an AF_INET6 one
# at IPPROTO_IP, a raw one) they go through A only (the default route
# there) with A's source; naming B again, by B. The kernel's socket says
# which interface each came in on (IP_PKTINFO).

UC_LISTENER = r"""
import json, select, socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 7610)); s.setsockopt(0, 8, 1)
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, 253); r.setsockopt(0, 8, 1)
print("ready", flush=True)
got = []
while True:
    ready = select.select([s, r], [], [], 3)[0]
    if not ready:
        break
    for x in ready:
        d, anc, _f, a = x.recvmsg(200, 256)
        if x is r:
            d = d[(d[0] & 15) * 4:]
        ifi = struct.unpack("=i", anc[0][2][:4])[0]
        got.append([d.decode(), a[0], socket.if_indextoname(ifi)[:3]])
print(json.dumps(got), flush=True)
"""


def test_unicast_if_picks_the_link_with_the_kernel() -> None:
    from netns_rig import TapPort, fresh_netns
    from test_exthdr_kernel import pump

    from kame.socket import AF_INET, AF_INET6, SOCK_DGRAM, SOCK_RAW

    IP_UNICAST_IF = 50
    with fresh_netns("ipouc") as ns:
        ipns(ns, "ip", "link", "set", "lo", "up")
        for k in ("all", "default"):
            ipns(ns, "sysctl", "-qw", f"net.ipv4.conf.{k}.rp_filter=0")
        pa, pb = TapPort(ns, "ipa"), TapPort(ns, "ipb")
        lst = None
        try:
            for port, addr in ((pa, A4), (pb, B4)):
                ipns(ns, "sysctl", "-qw", f"net.ipv4.conf.{port.name}.rp_filter=0")
                ipns(ns, "ip", "addr", "add", f"{addr}/24", "dev", port.name)
                ipns(ns, "ip", "link", "set", port.name, "up")
            _node, runner, layer = _node_on_a_and_b(
                pa, pb, "ipouc", 11, ("02000000170a", "02000000180b"), ("default", A4))
            ifa, ifb = layer.ifindex(pa.name), layer.ifindex(pb.name)
            lst = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", UC_LISTENER],
                                   stdout=subprocess.PIPE, text=True)
            assert lst.stdout is not None and lst.stdout.readline().strip() == "ready"
            to = (B4, 7610)
            for fam, typ, proto, dst in ((AF_INET, SOCK_DGRAM, 0, to),
                                         (AF_INET6, SOCK_DGRAM, 0, (f"::ffff:{B4}", 7610)),
                                         (AF_INET, SOCK_RAW, 253, (B4, 0))):
                s = layer.socket(fam, typ, proto)
                for tag, idx in (("plain", 0), ("A", ifa), ("B", ifb)):
                    if idx:
                        s.setsockopt(0, IP_UNICAST_IF, struct.pack("!I", idx))
                    assert s.getsockopt(0, IP_UNICAST_IF) == \
                        struct.unpack("=i", struct.pack("!I", idx))[0]
                    s.sendto(f"{fam}/{typ} {tag}".encode(), dst)
                    pump(runner, lambda: False, 0.4)
                s.close()
            got = json.loads(lst.stdout.readline())
        finally:
            if lst is not None:
                lst.kill()
            pa.close()
            pb.close()
    want = []
    for k in ("2/2", "10/2", "2/3"):
        want += [[f"{k} plain", OURS_B, "ipb"], [f"{k} A", OURS_A, "ipa"],
                 [f"{k} B", OURS_B, "ipb"]]
    assert got == want, got
