"""``kame node --altq FILE`` (seed §5): altq.conf(5) read and checked before
any TAP is made (a bad line is one line on standard error with its number),
and the node starts with its interface under the queues it names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kame.cli import node as node_cli
from kame.cli.main import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    rc = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return rc, err


def test_node_altq_bad_line_refused_before_the_tap(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Any] = []
    monkeypatch.setattr(node_cli, "run_node", lambda a: started.append(a) or 0)
    conf = tmp_path / "altq.conf"
    conf.write_text("interface tap0 bandwidth 10M cbq\nclass cbq tap0 root NULL pbandwidth 100\n"
                    "class cbq tap0 a root pbandwidth 120 default\n")
    rc, err = _run(capsys, "node", "--tap", "tap0", "--altq", str(conf))
    assert rc != 0 and started == []
    assert "altq.conf line 3:" in err and "pbandwidth" in err and len(err.splitlines()) == 1
    rc, err = _run(capsys, "node", "--sim", "--altq", str(conf))
    assert rc == 2 and "--altq is for --tap" in err
    rc, err = _run(capsys, "node", "--tap", "tap0", "--altq", str(tmp_path / "none"))
    assert rc != 0 and "none" in err


def test_node_altq_puts_the_interface_under_altq(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    nodes: list[Any] = []
    real_host = node_cli.NodeHost

    def host(node: Any) -> Any:
        nodes.append(node)
        return real_host(node)

    def no_tap(name: str, offload: bool = False) -> Any:
        raise OSError(f"{name}: no TAP in this test")

    monkeypatch.setattr(node_cli, "NodeHost", host)
    monkeypatch.setattr(node_cli, "_open_tap", no_tap)
    conf = tmp_path / "altq.conf"
    conf.write_text("interface tap0 bandwidth 10M wfq hash full\n"
                    "conditioner tap0 ef <tbmeter 1M 10K <pass><drop>>\n"
                    "filter6 tap0 ef 0 0 0 0 udp\n")
    rc, err = _run(capsys, "node", "--tap", "tap0", "--ctl", str(tmp_path / "c.sock"),
                   "--altq", str(conf))
    assert rc == 1 and "no TAP in this test" in err
    (n,) = nodes
    assert n.altq is not None
    q = n.altq.ifs["tap0"]
    assert q.disc.kind == "wfq" and q.cdnr is not None
    # a configuration naming another interface stops the start with its line
    conf.write_text("# x\ninterface eth9 fifoq\n")
    nodes.clear()
    rc, err = _run(capsys, "node", "--tap", "tap0", "--ctl", str(tmp_path / "d.sock"),
                   "--altq", str(conf))
    assert rc == 1 and "altq.conf line 2: no interface eth9" in err
