"""Our DHCPv6 client against ISC ``dhcpd -6`` in a namespace over TAP
(issue 11 item 1, the rest): the Server Unicast option (Request and Renew
sent to the server's address, seen in the capture; a server that no longer
allows unicast answers UseMulticast and the Renew is sent again by
multicast), IA_TA temporary addresses from a ``temporary`` range, Rebind
at T2 when the server that gave the lease is gone (a second dhcpd with
another DUID ignores the Renew and answers the Rebind: its log and lease
file), and ``kame dhcp6c --state-file -n`` restarted: the kept lease is
confirmed (dhcpd logs the Confirm) and renewed at T1 with the same DUID."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from ipaddress import IPv6Address, IPv6Network
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

from dhcp6_peer import Ours, dhcp6_ns, tshark_dhcp6, wait_file, wait_linklocal
from netns_rig import child_env, fresh_netns, ipns

from kame.dhcp6 import duid
from kame.dhcp6.agent import ClientAgent
from kame.dhcp6.client import Dhcp6Client

K6 = "2001:db8:99::1"
MAC = "02:00:00:00:d6:21"
DHCPD = shutil.which("dhcpd") or "/usr/sbin/dhcpd"


def _conf(tmp: Path, name: str, *, unicast: bool, server_duid: str = "") -> Path:
    conf = tmp / name
    conf.write_text(
        "default-lease-time 120; preferred-lifetime 60; max-lease-time 600;\n"
        "option dhcp-renewal-time 5; option dhcp-rebinding-time 10;\n"
        + (f"option dhcp6.unicast {K6};\n" if unicast else "")
        + (f"server-duid {server_duid};\n" if server_duid else "")
        + "option dhcp6.name-servers 2001:db8:99::53;\n"
        "subnet6 2001:db8:99::/64 {\n range6 2001:db8:99::1000 2001:db8:99::1fff;\n"
        " range6 2001:db8:99:0:7e00::/80 temporary;\n}\n")
    return conf


def _dhcpd(ns: str, dev: str, conf: Path, leases: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as lf:
        return subprocess.Popen(
            ["ip", "netns", "exec", ns, DHCPD, "-6", "-f", "-d", "-cf", str(conf), "-lf",
             str(leases), "-pf", str(log.with_suffix(".pid")), dev],
            stdout=lf, stderr=subprocess.STDOUT)


def _stop(p: subprocess.Popen[Any]) -> None:
    if p.poll() is None:
        p.terminate()
        p.wait(timeout=15)


def _dst_of(pcap: Path, msgtype: int) -> list[str]:
    out = subprocess.run(["tshark", "-r", str(pcap), "-Y", f"dhcpv6.msgtype == {msgtype}",
                          "-T", "fields", "-e", "ipv6.dst"], capture_output=True, text=True,
                         timeout=120, check=False)
    return out.stdout.split()


def test_unicast_use_multicast_ia_ta_and_rebind_with_isc_dhcpd(tmp_path: Path) -> None:
    assert os.path.exists(DHCPD), "isc-dhcp-server is missing (.ci/run installs it)"
    leases = tmp_path / "dhcpd6.leases"
    leases.write_text("")
    with dhcp6_ns("kd6u", tmp_path, K6) as (ns, port, pcap):
        log1 = tmp_path / "dhcpd1.log"
        srv = _dhcpd(ns, port.name, _conf(tmp_path, "d1.conf", unicast=True), leases, log1)
        try:
            ours = Ours(port, MAC, 21)
            # the on-link /64 (as an RA's prefix would give it): a source of
            # sufficient scope and a route to the server's unicast address
            ours.node.add_address(ours.dev, "2001:db8:99::d621/64", ours.runner.clock())
            assert ours.pump(lambda: any(a.usable and a.addr.is_link_local
                                         for a in ours.node.addresses(ours.dev)), 30)
            cl = Dhcp6Client(ours.dev, duid.duid_llt(bytes.fromhex("020000d621ff"), 1.7e9),
                             ia_na=(1,), ia_ta=(5,), rng=random.Random(21))
            agent = ClientAgent(ours.node, ours.layer, cl, mode="stateful",
                                now=ours.runner.clock())
            ours.agents.append(agent)
            assert ours.pump(lambda: cl.lease is not None and bool(cl.lease.ta)
                             and bool(cl.lease.na), 60), (cl.stats, log1.read_text()[-2000:])
            lease = cl.lease
            assert lease is not None
            assert lease.unicast == IPv6Address(K6)
            taddr = lease.ta[5].addresses[0].addr
            naddr = lease.na[1].addresses[0].addr
            assert taddr in IPv6Network("2001:db8:99:0:7e00::/80")
            # both on the interface (DAD ran)
            assert ours.pump(lambda: all(any(a.addr == x and a.usable
                                             for a in ours.node.addresses(ours.dev))
                                         for x in (taddr, naddr)), 20)
            first_server = lease.server
            # Renew at T1 (5 s) goes to the unicast address and is answered
            sent_uc = cl.stats["d6c_unicast"]
            assert ours.pump(lambda: log1.read_text().count("Renew message") >= 1 and
                             cl.ex is None and cl.stats["d6c_unicast"] > sent_uc, 40), \
                (cl.stats, log1.read_text()[-2000:])
            assert cl.stats["d6c_usemulticast"] == 0 and agent.send_errors == 0
            # the same server restarted without the Unicast option: UseMulticast
            _stop(srv)
            log2 = tmp_path / "dhcpd2.log"
            srv = _dhcpd(ns, port.name, _conf(tmp_path, "d2.conf", unicast=False), leases, log2)
            assert ours.pump(lambda: cl.stats["d6c_usemulticast"] >= 1 and cl.ex is None, 40), \
                (cl.stats, log2.read_text()[-2000:])
            assert cl.lease is not None and cl.lease.unicast is None
            assert cl.lease.server == first_server
            # a server with another DUID: the Renew to the first goes unanswered,
            # the Rebind at T2 (10 s) reaches the new one
            _stop(srv)
            text = leases.read_text()
            # (line by line: the DUID is a quoted string whose printable
            # octets stand as themselves, a ';' among them)
            leases.write_text("".join(ln for ln in text.splitlines(keepends=True)
                                      if not ln.startswith("server-duid ")))
            log3 = tmp_path / "dhcpd3.log"
            srv = _dhcpd(ns, port.name, _conf(tmp_path, "d3.conf", unicast=False,
                                              server_duid='EN 2495 "kame-rebind"'),
                         leases, log3)
            rb = cl.stats["d6c_reply"]
            assert ours.pump(lambda: cl.lease is not None and cl.lease.server != first_server
                             and cl.stats["d6c_reply"] > rb, 60), \
                (cl.stats, log3.read_text()[-3000:])
            l3 = log3.read_text()
            assert "Rebind message" in l3, l3[-3000:]
            assert "Renew message" in l3 and "Reply" in l3
            assert cl.lease.na[1].addresses[0].addr == naddr
            # the new server wrote the rebound lease under its own DUID
            wait_file(leases, lambda t: "kame-rebind" in t and str(naddr) in t, 30)
            agent.release(ours.runner.clock())
            assert ours.pump(lambda: cl.ex is None, 30)
        finally:
            _stop(srv)
    # the Request by multicast (no global address yet), the first Renew to the
    # unicast address, the one after UseMulticast and the Rebind by multicast
    assert set(_dst_of(pcap, 3)) == {"ff02::1:2"}, _dst_of(pcap, 3)
    assert K6 in _dst_of(pcap, 5) and "ff02::1:2" in _dst_of(pcap, 5)
    assert set(_dst_of(pcap, 6)) == {"ff02::1:2"}
    types = tshark_dhcp6(pcap)
    for t in ("1", "2", "3", "7", "5", "6", "8"):
        assert t in types, types


def _kame(ns: str, *args: str, out: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-m", "kame", *args],
                            stdout=out, stderr=subprocess.PIPE, text=True, env=child_env())


def _events(p: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in p.read_text().splitlines() if x.startswith("{")]


def test_dhcp6c_state_file_confirm_and_renew_after_restart(tmp_path: Path) -> None:
    assert os.path.exists(DHCPD)
    conf = tmp_path / "dhcp6c.conf"
    conf.write_text("interface kd6k0 {\n  send ia-na 1;\n  request domain-name-servers;\n};\n"
                    "id-assoc na 1 { };\n")
    state = tmp_path / "dhcp6c.state"
    leases = tmp_path / "dhcpd6.leases"
    leases.write_text("")
    log = tmp_path / "dhcpd.log"
    with fresh_netns("kd6k") as ns:
        ipns(ns, "ip", "tuntap", "add", "dev", "kd6k0", "mode", "tap")
        ipns(ns, "ip", "-6", "addr", "add", f"{K6}/64", "dev", "kd6k0", "nodad")
        ipns(ns, "ip", "link", "set", "kd6k0", "up")
        args = ("dhcp6c", "-c", str(conf), "--tap", "kd6k0", "--duid-file",
                str(tmp_path / "duid"), "--state-file", str(state), "-n")
        out1 = tmp_path / "run1.out"
        with out1.open("w") as of:
            cl = _kame(ns, *args, out=of)
        srv = None
        try:
            wait_linklocal(ns, "kd6k0")
            srv = _dhcpd(ns, "kd6k0", _conf(tmp_path, "d.conf", unicast=False), leases, log)
            wait_file(out1, lambda t: '"bound"' in t, 60)
            bound1 = next(e for e in _events(out1) if e["event"] == "bound")
            addr = bound1["addresses"][0]["addr"]
            cl.send_signal(signal.SIGTERM)
            _, err = cl.communicate(timeout=20)
            assert cl.returncode == 0, err
            assert '"released"' not in out1.read_text()
            st = json.loads(state.read_text())
            assert st["lease"]["na"][0][3][0][0] == addr
            n_renew = log.read_text().count("Renew message")
            out2 = tmp_path / "run2.out"
            with out2.open("w") as of:
                cl = _kame(ns, *args, out=of)
            wait_file(out2, lambda t: '"confirmed"' in t, 40)
            ev = _events(out2)
            conf_ev = next(e for e in ev if e["event"] == "confirmed")
            assert conf_ev["ok"] is True, (ev, log.read_text()[-2000:])
            wait_file(log, lambda t: "Confirm message" in t, 20)
            bound2 = next(e for e in ev if e["event"] == "bound")
            assert bound2["addresses"][0]["addr"] == addr
            # no Solicit after the restart: Confirm, then Renew at T1
            wait_file(log, lambda t: t.count("Renew message") > n_renew, 40)
            cl.send_signal(signal.SIGTERM)
            _, err = cl.communicate(timeout=20)
            assert cl.returncode == 0, err
            stats = _events(out2)[-1]
            assert stats["event"] == "stats" and stats.get("d6c_confirm") == 1
            text = log.read_text()
            # one Solicit in all: the second run never solicited
            assert text.count("Solicit message") == 1, text[-3000:]
        finally:
            if cl.poll() is None:
                cl.kill()
                cl.wait(timeout=10)
            if srv is not None:
                _stop(srv)
