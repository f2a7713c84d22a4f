"""kame.difftest without a kernel: the harness reports a divergence between
two peers as a pcap, finds no divergence between our node and itself, and
explains a known difference only where its rule applies."""

from __future__ import annotations

import struct
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from kame import difftest


class Silent:
    """A peer that never answers."""

    name = "silent"

    def exchange(self, frames: Sequence[bytes]) -> list[bytes]:
        return []


def test_node_against_itself_agrees() -> None:
    cases = difftest.draw_cases(150, seed=2)
    rep = difftest.run(cases, difftest.NodePeer(), difftest.NodePeer())
    assert rep.sent == len(cases) and rep.divergences == []
    assert rep.answers["echo_reply"] > 5 and rep.answers["icmp6_error"] > 5


def test_a_divergence_is_reported_with_a_pcap(tmp_path: Path) -> None:
    cases = difftest.draw_cases(60, seed=3)
    rep = difftest.run(cases, Silent(), pcap_dir=tmp_path)
    assert rep.unexplained, "a silent peer must diverge from our node, unexplained"
    d = rep.unexplained[0]
    assert d.linux == [] and d.kame and d.pcap is not None
    data = d.pcap.read_bytes()
    assert struct.unpack_from("<I", data)[0] == 0xA1B2C3D4
    out = subprocess.run(["tshark", "-r", str(d.pcap), "-T", "fields", "-e", "ipv6.dst"],
                         capture_output=True, text=True, check=True, timeout=120)
    assert difftest.TESTER in out.stdout  # our answer is in it


def test_known_differences_have_reasons_and_apply_narrowly() -> None:
    assert len({k.name for k in difftest.KNOWN}) == len(difftest.KNOWN)
    for k in difftest.KNOWN:
        assert "RFC" in k.reason or "seed" in k.reason or "KAME" in k.reason, k.name
    echo = difftest.draw_cases(40, seed=4)
    for c in echo:
        # our answers against nothing: explained only by a rule that says so
        km = [("echo_reply",)]
        found = difftest.explain(c, [], km)
        assert found is None or found.name in ("linux_padding", "rt2_segments_left_0",
                                       "routing_to_multicast", "srh_hmac_flag"), (c.label, found)


def test_cli_lists_known_differences() -> None:
    out = subprocess.run([sys.executable, "-m", "kame", "difftest", "--known"],
                         capture_output=True, text=True, check=True, timeout=120)
    assert all(k.name in out.stdout for k in difftest.KNOWN)
