"""``kame altq load|disable`` and ``kame altqstat`` against a node behind its
control socket (the rig of test_ctl)."""

from __future__ import annotations

import re
from pathlib import Path

from test_ctl import Rig, kame, rig  # noqa: F401 - the fixture

CONF = """\
interface eth0 bandwidth 1M tbrsize 3000 priq
class priq eth0 icmp NULL priority 7 qlimit 20
class priq eth0 rest NULL priority 0 default red
filter6 eth0 icmp 0 0 0 0 icmp6
"""


def test_altq_load_stat_disable(rig: Rig, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def] # noqa: F811
    path = rig.server.path
    rc, out, err = kame(capsys, "altqstat", "--ctl", path)
    assert rc == 0 and out == "no interface under ALTQ\n"
    bad = tmp_path / "bad.conf"
    bad.write_text("interface eth0 priq\nclass priq eth0 a NULL priority 99 default\n")
    rc, out, err = kame(capsys, "altq", "load", str(bad), "--ctl", path)
    assert rc == 1 and "altq.conf line 2: priority: 99 outside 0..15" in err
    good = tmp_path / "altq.conf"
    good.write_text(CONF)
    rc, out, err = kame(capsys, "altq", "load", str(good), "--ctl", path)
    assert (rc, out) == (0, "eth0: ALTQ enabled\n"), err
    rc, out, err = kame(capsys, "ping6", "-c", "2", "-i", "0.2", "ff02::1%eth0", "--ctl", path)
    rc, out, err = kame(capsys, "altqstat", "-i", "eth0", "--ctl", path)
    assert rc == 0, err
    assert out.startswith("eth0: priq  bandwidth:1.00Mbps  tbr rate:1.00Mbps depth:3000")
    lines = out.splitlines()
    i = lines.index("[icmp] pri:7")
    assert re.search(r"xmit:[1-9]\d* pkts \(\d+ bytes\)  drop:0 pkts", lines[i + 1]), lines
    assert "[rest] pri:0 default" in lines and any(x.startswith("  RED th:5/15 ") for x in lines)
    rc, out, err = kame(capsys, "altq", "disable", "eth0", "--ctl", path)
    assert rc == 0 and out.startswith("eth0: ALTQ disabled, ")
    rc, out, err = kame(capsys, "altqstat", "--ctl", path)
    assert out == "no interface under ALTQ\n"


MORE = """\
interface eth0 bandwidth 1M cbq
class cbq eth0 root NULL pbandwidth 100
class cbq eth0 icmp root borrow pbandwidth 30 red flowvalve
class cbq eth0 rest root borrow pbandwidth 70 default
filter6 eth0 icmp 0 0 0 0 icmp6
conditioner eth0 ef <trtcm 100K 2K 200K 2K <mark 0x28><mark 0x30><mark 0x38>>
filter6 eth0 ef 0 0 0 0 icmp6
"""


def test_altq_cbq_and_conditioner_through_the_control_socket(  # type: ignore[no-untyped-def]
        rig: Rig, capsys, tmp_path: Path) -> None:  # noqa: F811
    path = rig.server.path
    conf = tmp_path / "altq.conf"
    for text, head in ((MORE, "eth0: cbq"),
                       ("interface eth0 bandwidth 1M wfq hash full\n", "eth0: wfq"),
                       ("interface eth0 bandwidth 1M blue ecn\n", "eth0: blue"),
                       (("interface eth0 bandwidth 1M jobs\n"
                        "class jobs eth0 a NULL priority 0 rdc 2 rlc 2 default\n"
                        "class jobs eth0 b NULL priority 1 adc 20000\n"), "eth0: jobs")):
        conf.write_text(text)
        rc, out, err = kame(capsys, "altq", "load", str(conf), "--ctl", path)
        assert (rc, out) == (0, "eth0: ALTQ enabled\n"), err
        kame(capsys, "ping6", "-c", "2", "-i", "0.2", "ff02::1%eth0", "--ctl", path)
        rc, out, err = kame(capsys, "altqstat", "-i", "eth0", "--ctl", path)
        assert rc == 0 and out.startswith(head), (out, err)
        if head == "eth0: cbq":
            lines = out.splitlines()
            assert "[icmp] pri:1 parent:root pbandwidth:30% borrow" in lines
            i = lines.index("[icmp] pri:1 parent:root pbandwidth:30% borrow")
            assert re.search(r"xmit:[1-9]\d* pkts", lines[i + 1]), lines
            assert any(x.startswith("  flowvalve flows:") for x in lines)
            assert "conditioner ef: dropped:0" in lines
            assert any(re.match(r"  trtcm green:[1-9]", x) for x in lines), lines
        if head == "eth0: jobs":
            assert "  JoBS rate:" in out
