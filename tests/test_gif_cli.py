"""`kame ifconfig IF WORD...` and `kame gifconfig` against a node's control
socket (kame.cli.ifconfig), and the words' refusals as typed errors."""

from __future__ import annotations

import select
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kame.cli.ifconfig import apply
from kame.cli.main import main
from kame.ctl import ControlServer, NodeHost
from kame.errors import ConfigError, KameError
from kame.knobs import Knobs
from kame.node import Node


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Node, str]]:
    node = Node("n", knobs=Knobs({"net.inet6.ip6.dad_count": 0}), seed=1)
    node.add_interface("eth0", bytes.fromhex("020000000001"))
    node.up("eth0", 0.0)
    path = str(tmp_path / "n.sock")
    sv = ControlServer(NodeHost(node), path, clock=lambda: 1.0, transmit=lambda fr: None)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            r, w, _ = select.select(sv.sockets(), sv.want_write(), [], 0.01)
            sv.handle(r, w)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    try:
        yield node, path
    finally:
        stop.set()
        t.join(5)
        sv.close()


def test_create_tunnel_up(served: tuple[Node, str], capsys: pytest.CaptureFixture[str]) -> None:
    node, path = served
    assert main(["ifconfig", "--ctl", path, "gif0", "create", "tunnel", "192.0.2.1",
                 "198.51.100.1", "ecn", "1", "inet6", "2001:db8::1", "prefixlen", "64",
                 "up"]) == 0
    sc = node.gif.softc["gif0"]
    assert (str(sc.src), str(sc.dst), sc.ecn) == ("192.0.2.1", "198.51.100.1", 1)
    assert node.ifnets["gif0"].up
    assert any(str(a.addr) == "2001:db8::1" for a in node.addresses("gif0"))
    assert main(["ifconfig", "--ctl", path, "gif1", "create"]) == 0
    assert main(["gifconfig", "--ctl", path, "gif1", "2001:db8:1::1", "2001:db8:2::1"]) == 0
    capsys.readouterr()
    assert main(["gifconfig", "--ctl", path, "-a"]) == 0
    out = capsys.readouterr().out
    assert "physical address inet 192.0.2.1 --> 198.51.100.1" in out
    assert "physical address inet6 2001:db8:1::1 --> 2001:db8:2::1" in out
    assert main(["ifconfig", "--ctl", path, "gif0", "-linklocal", "deletetunnel"]) == 0
    assert node.gif.softc["gif0"].src is None
    assert not [a for a in node.addresses("gif0") if a.addr.is_link_local]
    assert main(["ifconfig", "--ctl", path, "gif1", "destroy"]) == 0
    assert "gif1" not in node.ifnets


def test_stf_words(served: tuple[Node, str]) -> None:
    node, path = served
    assert main(["ifconfig", "--ctl", path, "stf0", "create", "inet6", "2002:c000:201::1/16",
                 "up", "relay", "192.88.99.1"]) == 0
    assert str(node.gif.stf.relay) == "192.88.99.1"
    rt = node.rtalloc("2001:db8::5", 1.0)
    assert rt is not None and rt.ifname == "stf0"


@pytest.mark.parametrize("words", [
    ["frobnicate"], ["tunnel", "192.0.2.1"], ["tunnel", "192.0.2.1", "2001:db8::1"],
    ["mtu", "99"], ["ecn", "x"], ["ecn", "7"], ["relay", "192.0.2.1"], ["inet6"],
])
def test_refusals(served: tuple[Node, str], capsys: pytest.CaptureFixture[str],
                  words: list[str]) -> None:
    _node, path = served
    main(["ifconfig", "--ctl", path, "gif0", "create"])
    capsys.readouterr()
    assert main(["ifconfig", "--ctl", path, "gif0", *words]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kame ifconfig: ") and err.count("\n") == 1


def test_create_only_gif_or_stf() -> None:
    n = Node("n")
    with pytest.raises(ConfigError):
        apply(n, "eth9", ["create"], 0.0)


@settings(max_examples=200)
@given(st.lists(st.sampled_from(["create", "destroy", "tunnel", "192.0.2.1", "2001:db8::1",
                                 "up", "down", "mtu", "1400", "ecn", "1", "-linklocal",
                                 "deletetunnel", "inet6", "inet", "10.0.0.1/24", "link1",
                                 "relay", "x"]), max_size=12))
def test_words_never_escape_typed_errors(words: list[str]) -> None:
    n = Node("n", seed=2)
    n.add_interface("eth0", bytes.fromhex("020000000001"))
    for name in ("gif0", "stf0"):
        try:
            apply(n, name, words, 0.0)
        except (KameError, ValueError, TypeError):
            pass
