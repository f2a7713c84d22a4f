"""Reconfigure (RFC 8415 §18.3.11, RKAP §20.4) through the CLIs (issue 11
item 1): `kame dhcp6s --control` and `kame dhcp6c` on two TAPs bridged in a
namespace. Two Reconfigures forged with scapy from the kernel's side (one
without authentication, one with a wrong HMAC-MD5) are refused and counted
(``d6c_badauth``) and start nothing; `kame dhcp6ctl reconfigure DUID
renew` makes the server send an authenticated one and the client renews
(the server logs the Renew and stops retransmitting), `... info` makes it
ask for information."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

from dhcp6_peer import tshark_dhcp6, wait_file
from netns_rig import child_env, fresh_netns, ipns, until

FORGE = r'''
import socket, sys
from scapy.layers.dhcp6 import (DHCP6_Reconf, DHCP6OptAuth, DHCP6OptReconfMsg,
                                DHCP6OptUnknown)
cduid, sduid, dst, how = bytes.fromhex(sys.argv[1]), bytes.fromhex(sys.argv[2]), sys.argv[3], sys.argv[4]
m = (DHCP6_Reconf(trid=0) / DHCP6OptUnknown(optcode=1, data=cduid)
     / DHCP6OptUnknown(optcode=2, data=sduid) / DHCP6OptReconfMsg(msgtype=5))
if how == "badhmac":
    m = m / DHCP6OptAuth(proto=3, alg=1, rdm=0, replay=b"\x7f" + b"\xff" * 7,
                         authinfo=b"\x02" + b"\x55" * 16)
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 547))
s.sendto(bytes(m), (dst, 546))
'''


def _kame(ns: str, *args: str, out: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-m", "kame", *args],
                            stdout=out, stderr=subprocess.PIPE, text=True, env=child_env())


def _events(p: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in p.read_text().splitlines() if x.startswith("{")]


def _reconf(p: Path) -> dict[str, Any]:
    evs = [e for e in _events(p) if e["event"] == "reconfigure"]
    return evs[-1] if evs else {"accepted": 0, "badauth": 0}


def test_reconfigure_from_dhcp6ctl_accepted_forged_ones_counted(tmp_path: Path) -> None:
    sconf = tmp_path / "dhcp6s.conf"
    sconf.write_text("option domain-name-servers 2001:db8:96::53;\n"
                     "interface kd6r0 {\n  address-pool p 600 1200;\n};\n"
                     "pool p { range 2001:db8:96::100 to 2001:db8:96::1ff; };\n")
    cconf = tmp_path / "dhcp6c.conf"
    cconf.write_text("interface kd6r1 {\n  send ia-na 1;\n  request domain-name-servers;\n};\n"
                     "id-assoc na 1 { };\n")
    ctl = tmp_path / "ctl"
    sout, cout = tmp_path / "s.out", tmp_path / "c.out"
    pcap = tmp_path / "r.pcap"
    with fresh_netns("kd6r") as ns:
        ipns(ns, "ip", "link", "add", "br0", "type", "bridge")
        ipns(ns, "ip", "link", "set", "br0", "up")
        for dev in ("kd6r0", "kd6r1"):
            ipns(ns, "ip", "tuntap", "add", "dev", dev, "mode", "tap")
            ipns(ns, "ip", "link", "set", dev, "master", "br0")
            ipns(ns, "ip", "link", "set", dev, "up")
        ipns(ns, "ip", "-6", "addr", "add", "2001:db8:96::99/64", "dev", "br0", "nodad")
        cap = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-i", "br0", "-U", "-s",
                                "0", "-w", str(pcap), "udp port 546 or udp port 547"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with sout.open("w") as so:
            srv = _kame(ns, "dhcp6s", "-c", str(sconf), "--tap", "kd6r0", "--inet6",
                        "2001:db8:96::2/64", "--control", str(ctl), "--duid-file",
                        str(tmp_path / "sduid"), out=so)
        with cout.open("w") as co:
            cl = _kame(ns, "dhcp6c", "-c", str(cconf), "--tap", "kd6r1", "--duid-file",
                       str(tmp_path / "cduid"), out=co)
        try:
            wait_file(cout, lambda t: '"bound"' in t, 60)
            bound = next(e for e in _events(cout) if e["event"] == "bound")
            addr = bound["addresses"][0]["addr"]
            req = next(e for e in _events(sout) if e["event"] == "request")
            cduid = req["duid"]
            sduid = (tmp_path / "sduid").read_bytes()[2:].hex()
            # forged: no authentication, then a wrong HMAC
            for how in ("noauth", "badhmac"):
                r = ipns(ns, sys.executable, "-c", FORGE, cduid, sduid, addr, how,
                         check=False, env=child_env())
                assert r.returncode == 0, r.stderr
            assert until(lambda: _reconf(cout)["badauth"] >= 2, 30), cout.read_text()[-2000:]
            assert _reconf(cout)["accepted"] == 0
            n_renew = sum(1 for e in _events(sout) if e["event"] == "renew")
            assert n_renew == 0
            # the server's own, through dhcp6ctl
            r = subprocess.run([sys.executable, "-m", "kame", "dhcp6ctl", "-s", str(ctl),
                                "reconfigure", cduid, "renew"], capture_output=True,
                               text=True, env=child_env(), timeout=60, check=False)
            assert r.returncode == 0 and '"ok"' in r.stdout, (r.stdout, r.stderr)
            assert until(lambda: _reconf(cout)["accepted"] >= 1, 30), cout.read_text()[-2000:]
            assert until(lambda: any(e["event"] == "renew" for e in _events(sout)), 30)
            r = subprocess.run([sys.executable, "-m", "kame", "dhcp6ctl", "-s", str(ctl),
                                "reconfigure", cduid, "info"], capture_output=True,
                               text=True, env=child_env(), timeout=60, check=False)
            assert r.returncode == 0, (r.stdout, r.stderr)
            assert until(lambda: any(e["event"] == "info" for e in _events(cout)), 30), \
                cout.read_text()[-2000:]
            # an unknown DUID is refused with a reason
            r = subprocess.run([sys.executable, "-m", "kame", "dhcp6ctl", "-s", str(ctl),
                                "reconfigure", "00030001020000000bad"], capture_output=True,
                               text=True, env=child_env(), timeout=60, check=False)
            assert r.returncode == 1 and "no Reconfigure key" in r.stdout
        finally:
            for p in (cl, srv):
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            _, cerr = cl.communicate(timeout=30)
            _, serr = srv.communicate(timeout=30)
            cap.terminate()
            cap.wait(timeout=10)
        assert cl.returncode == 0, cerr
        assert srv.returncode == 0, serr
    stats = _events(sout)[-1]
    assert stats["event"] == "stats" and stats["reconf_answered"] == 2, stats
    cstats = _events(cout)[-1]
    assert cstats["event"] == "stats" and cstats["d6c_badauth"] == 2, cstats
    types = tshark_dhcp6(pcap)
    assert types.count("10") >= 4, types     # two forged, two signed
    assert "5" in types and "11" in types, types
