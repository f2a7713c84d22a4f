"""The differential harness (kame.difftest, issue 12 item 4) against the
Linux kernel: generated packets (valid chains of every extension header,
fragment trains, echo, UDP, TCP, and the near-valid mutations) go to the
kernel over a TAP device in a namespace and to our node in memory; every
divergence in their answers must be one of the known, explained
differences of kame.difftest.KNOWN, and each is written as a pcap with
both answers. An unexplained divergence fails the test.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from netns_rig import TapPort, fresh_netns

from kame import difftest

pytestmark = [pytest.mark.interop, pytest.mark.root]

if os.geteuid() != 0 or shutil.which("ip") is None or not os.path.exists("/dev/net/tun"):
    pytest.skip("needs root, iproute2 and /dev/net/tun", allow_module_level=True)


def test_kernel_and_node_answer_alike_but_for_known_differences(tmp_path: Path) -> None:
    cases = difftest.draw_cases(400, seed=1)
    with fresh_netns("kdt") as ns:
        port = TapPort(ns, "kdt")
        try:
            kernel = difftest.setup_kernel(ns, port.name, port.tap)
            rep = difftest.run(cases, kernel, pcap_dir=tmp_path)
        finally:
            port.close()
    unexplained = [(d.case.label, d.case.mutation, d.linux, d.kame, str(d.pcap))
                   for d in rep.unexplained]
    assert unexplained == []
    # the comparison is about something: most cases answered alike, and
    # answered with echo replies and errors both
    assert rep.sent == len(cases) and rep.agreed > rep.sent // 2
    assert rep.answers.get("echo_reply", 0) > 20 and rep.answers.get("icmp6_error", 0) > 20
    assert rep.divergences, "no divergence at all: are the known ones still reached?"
    print(Counter(d.known.name for d in rep.divergences if d.known))
    # each divergence is a pcap: the packet sent, the kernel's answers, ours
    for d in rep.divergences:
        assert d.pcap is not None
        assert _records(d.pcap) == [*d.case.frames, *d.linux_frames, *d.kame_frames]
    # and tshark reads one
    first = rep.divergences[0].pcap
    assert first is not None
    out = subprocess.run(["tshark", "-r", str(first), "-T", "fields", "-e", "frame.number"],
                         capture_output=True, text=True, check=True, timeout=120)
    assert len(out.stdout.split()) == len(_records(first))


def _records(path: Path) -> list[bytes]:
    data = path.read_bytes()
    out, at = [], 24
    while at < len(data):
        n = struct.unpack_from("<I", data, at + 8)[0]
        out.append(data[at + 16:at + 16 + n])
        at += 16 + n
    return out
