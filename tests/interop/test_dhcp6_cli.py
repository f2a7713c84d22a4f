"""`kame dhcp6s` and `kame dhcp6c` (issue 11 item 1) on TAP devices in a
namespace, as `kame node` runs: ISC dhclient -6 gets an address and a
delegated prefix from `kame dhcp6s` reading a WIDE dhcp6s.conf; `kame
dhcp6c` reading a WIDE dhcp6c.conf gets an address and DNS servers from
dnsmasq and releases it on SIGTERM (dnsmasq's log)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)

from dhcp6_peer import tshark_dhcp6, wait_file, wait_linklocal
from netns_rig import child_env, fresh_netns, ipns


def _kame(ns: str, *args: str, out: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-m", "kame", *args],
                            stdout=out, stderr=subprocess.PIPE, text=True, env=child_env())


def _capture(ns: str, dev: str, pcap: Path) -> subprocess.Popen[bytes]:
    cap = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-i", dev, "-U", "-s", "0",
                            "-w", str(pcap), "udp port 546 or udp port 547"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.monotonic() + 20
    while not pcap.exists() and time.monotonic() < end:
        time.sleep(0.05)
    time.sleep(0.3)
    return cap


def _stop_capture(cap: subprocess.Popen[bytes], pcap: Path) -> None:
    last, end = -1, time.monotonic() + 15
    while time.monotonic() < end:
        time.sleep(0.5)
        size = pcap.stat().st_size
        if size == last:
            break
        last = size
    cap.terminate()
    cap.wait(timeout=10)


def _tap_up(ns: str, dev: str, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if ipns(ns, "ip", "link", "show", dev, check=False).returncode == 0:
            ipns(ns, "ip", "link", "set", dev, "up")
            return
        time.sleep(0.05)
    raise AssertionError(f"{dev} never appeared")


def test_kame_dhcp6s_serves_dhclient(tmp_path: Path) -> None:
    conf = tmp_path / "dhcp6s.conf"
    conf.write_text(
        "option domain-name-servers 2001:db8:95::53;\n"
        'option domain-name "cli.test";\n'
        "interface kd6s0 {\n  address-pool p 10 30;\n  prefix-pool d 10 30;\n};\n"
        "pool p { range 2001:db8:95::100 to 2001:db8:95::1ff; };\n"
        "prefix-pool d { prefix 2001:db8:500::/40; delegated-length 56; };\n")
    leases = tmp_path / "dhclient6.leases"
    out = tmp_path / "dhcp6s.out"
    with fresh_netns("kd6s") as ns:
        ipns(ns, "ip", "tuntap", "add", "dev", "kd6s0", "mode", "tap")
        with out.open("w") as of:
            srv = _kame(ns, "dhcp6s", "-c", str(conf), "--tap", "kd6s0", "--inet6",
                        "2001:db8:95::2/64", "--duid-file", str(tmp_path / "duid"), out=of)
        cl = None
        try:
            _tap_up(ns, "kd6s0")
            wait_linklocal(ns, "kd6s0")
            pcap = tmp_path / "d.pcap"
            cap = _capture(ns, "kd6s0", pcap)
            cl = subprocess.Popen(["ip", "netns", "exec", ns, "dhclient", "-6", "-N", "-P",
                                   "-d", "-lf", str(leases), "-pf", str(tmp_path / "pid"),
                                   "-sf", "/bin/true", "kd6s0"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
            text = wait_file(leases, lambda t: "iaprefix" in t and "iaaddr" in t, 60)
            assert "2001:db8:95:" in text and "2001:db8:5" in text and "cli.test" in text
            wait_file(out, lambda t: '"renew"' in t, 40)
            _stop_capture(cap, pcap)
        finally:
            if cl is not None:
                cl.send_signal(signal.SIGTERM)
                cl.wait(timeout=10)
            srv.send_signal(signal.SIGTERM)
            _, err = srv.communicate(timeout=20)
        assert srv.returncode == 0, err
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert any(e["event"] == "request" for e in events)
    assert events[-1]["event"] == "stats" and events[-1]["leases"] == 2
    types = tshark_dhcp6(pcap)
    assert {"1", "2", "3", "7", "5"} <= set(types), types


def test_kame_dhcp6c_gets_a_lease_from_dnsmasq_and_releases(tmp_path: Path) -> None:
    dnsmasq = "/usr/sbin/dnsmasq" if os.path.exists("/usr/sbin/dnsmasq") else \
        shutil.which("dnsmasq")
    assert dnsmasq
    conf = tmp_path / "dhcp6c.conf"
    conf.write_text("interface kd6c0 {\n  send ia-na 7;\n  request domain-name-servers;\n"
                    "  request domain-name;\n};\nid-assoc na 7 { };\n")
    log = tmp_path / "dnsmasq.log"
    out = tmp_path / "dhcp6c.out"
    with fresh_netns("kd6c") as ns:
        ipns(ns, "ip", "tuntap", "add", "dev", "kd6c0", "mode", "tap")
        ipns(ns, "ip", "-6", "addr", "add", "2001:db8:94::1/64", "dev", "kd6c0", "nodad")
        ipns(ns, "ip", "link", "set", "kd6c0", "up")
        with log.open("w") as lf:
            srv = subprocess.Popen(
                ["ip", "netns", "exec", ns, dnsmasq, "--keep-in-foreground", "--port=0",
                 "--interface=kd6c0", "--bind-interfaces",
                 "--dhcp-range=2001:db8:94::100,2001:db8:94::1ff,64,2m",
                 "--dhcp-option=option6:dns-server,[2001:db8:94::53]",
                 "--dhcp-option=option6:domain-search,cli.test",
                 f"--dhcp-leasefile={tmp_path / 'leases'}", "--log-dhcp", "--log-facility=-",
                 "--user=root", "--pid-file"], stdout=lf, stderr=subprocess.STDOUT)
        try:
            with out.open("w") as of:
                cl = _kame(ns, "dhcp6c", "-c", str(conf), "--tap", "kd6c0", "--duid-file",
                           str(tmp_path / "duid"), out=of)
            try:
                text = wait_file(out, lambda t: '"bound"' in t, 60)
                ev = json.loads(next(line for line in text.splitlines() if '"bound"' in line))
                assert ev["addresses"][0]["addr"].startswith("2001:db8:94::")
                assert ev["dns"] == ["2001:db8:94::53"] and ev["domains"] == ["cli.test"]
                # the node answers the kernel at its leased address once DAD is done
                addr = ev["addresses"][0]["addr"]
                end = time.monotonic() + 30
                while ipns(ns, "ping", "-6", "-c", "1", "-W", "1", addr,
                           check=False).returncode and time.monotonic() < end:
                    time.sleep(0.2)
                assert ipns(ns, "ping", "-6", "-c", "1", "-W", "2", addr,
                            check=False).returncode == 0
            finally:
                cl.send_signal(signal.SIGTERM)
                _, err = cl.communicate(timeout=20)
            assert cl.returncode == 0, err
            assert '"released"' in out.read_text()
            wait_file(log, lambda t: "DHCPRELEASE" in t, 20)
        finally:
            srv.terminate()
            srv.wait(timeout=10)
    # the DUID was kept: a second run would send the same one
    assert (tmp_path / "duid").stat().st_size > 2
