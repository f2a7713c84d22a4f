"""The control socket's path (`kame node --ctl PATH`): only nothing or a
stale socket may be there; anything else is refused and left as it was;
no folder is created; the socket is owner-only from the moment it exists;
it goes away when the node stops. And the tools' words for a missing,
stale or foreign socket."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kame.cli.main import main
from kame.ctl import Client, ControlError, ControlServer, NodeHost
from kame.node import Node

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=str(ROOT / "python") + os.pathsep
           + os.environ.get("PYTHONPATH", ""))


def server(path: Path | str) -> ControlServer:
    node = Node("n", seed=1)
    node.add_interface("eth0", bytes.fromhex("020000000001"))
    return ControlServer(NodeHost(node), str(path), clock=lambda: 0.0, transmit=lambda fr: None)


def answers(sv: ControlServer, path: Path | str) -> float:
    """The ``time`` op over a fresh connection, the server driven by a
    thread meanwhile."""
    import select
    import threading
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            r, w, _ = select.select(sv.sockets(), sv.want_write(), [], 0.01)
            sv.handle(r, w)
    t = threading.Thread(target=loop, daemon=True)
    t.start()
    try:
        with Client(str(path)) as c:
            return float(c.call("time"))
    finally:
        stop.set()
        t.join(5)


def stale_socket(path: Path) -> None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()  # the file stays: what a killed node leaves behind


def test_nothing_there(tmp_path: Path) -> None:
    p = tmp_path / "n.sock"
    sv = server(p)
    try:
        assert stat.S_ISSOCK(os.lstat(p).st_mode)
        assert answers(sv, p) == 0.0
    finally:
        sv.close()
    assert not p.exists()
    sv.close()  # twice is fine


def test_stale_socket_is_replaced(tmp_path: Path) -> None:
    p = tmp_path / "n.sock"
    stale_socket(p)
    with pytest.raises(ControlError, match="stale socket"):
        Client(str(p))
    sv = server(p)
    try:
        assert answers(sv, p) == 0.0
    finally:
        sv.close()


def test_regular_file_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "n.sock"
    p.write_text("precious\n")
    with pytest.raises(ControlError, match="is a regular file, not a stale socket"):
        server(p)
    assert p.read_text() == "precious\n"


def test_folder_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "n.sock"
    p.mkdir()
    (p / "inside").write_text("x")
    with pytest.raises(ControlError, match="is a folder"):
        server(p)
    assert (p / "inside").read_text() == "x"


@pytest.mark.parametrize("target", ["file", "stale", "missing"])
def test_symlink_is_refused(tmp_path: Path, target: str) -> None:
    t = tmp_path / "target"
    if target == "file":
        t.write_text("x")
    elif target == "stale":
        stale_socket(t)
    p = tmp_path / "n.sock"
    p.symlink_to(t)
    with pytest.raises(ControlError, match="is a symbolic link"):
        server(p)
    assert p.is_symlink() and os.readlink(p) == str(t)
    assert (target == "missing") != t.exists()


def test_fifo_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "n.sock"
    os.mkfifo(p)
    with pytest.raises(ControlError, match="is a FIFO"):
        server(p)
    assert stat.S_ISFIFO(os.lstat(p).st_mode)


def test_live_socket_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "n.sock"
    first = server(p)
    try:
        with pytest.raises(ControlError, match="another process listens"):
            server(p)
        assert answers(first, p) == 0.0  # the first node still answers
        other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # not a kame node
        q = tmp_path / "other.sock"
        other.bind(str(q))
        other.listen(1)
        try:
            with pytest.raises(ControlError, match="another process listens"):
                server(q)
        finally:
            other.close()
    finally:
        first.close()


def test_no_folder_is_created(tmp_path: Path) -> None:
    p = tmp_path / "a" / "b" / "n.sock"
    with pytest.raises(ControlError, match="does not exist"):
        server(p)
    assert not (tmp_path / "a").exists()


def test_path_too_long(tmp_path: Path) -> None:
    p = tmp_path / ("x" * 120)
    with pytest.raises(ControlError, match="too long for a Unix socket"):
        server(p)
    with pytest.raises(ControlError, match="too long for a Unix socket"):
        Client(str(p))


def test_owner_only_from_the_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The mode right after bind(), before anything could chmod it, under
    a permissive umask: 0600 (no window in which others may connect)."""
    seen: list[int] = []

    class Recording(socket.socket):
        def bind(self, addr):  # type: ignore[no-untyped-def]
            super().bind(addr)
            seen.append(stat.S_IMODE(os.lstat(addr).st_mode))

    import kame.ctl
    monkeypatch.setattr(kame.ctl.socket, "socket", Recording)
    old = os.umask(0)
    try:
        sv = server(tmp_path / "n.sock")
    finally:
        os.umask(old)
    try:
        assert seen == [0o600]
        assert stat.S_IMODE(os.lstat(tmp_path / "n.sock").st_mode) == 0o600
    finally:
        sv.close()
    assert os.umask(old) == old  # the umask is given back


def test_close_leaves_a_replacement_alone(tmp_path: Path) -> None:
    p = tmp_path / "n.sock"
    sv = server(p)
    os.unlink(p)
    p.write_text("someone else's now")
    sv.close()
    assert p.read_text() == "someone else's now"


# --- the tools' side ------------------------------------------------------------------

def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    rc = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return rc, err.strip()


def test_tools_say_what_is_wrong(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "gone.sock"
    rc, err = run(capsys, "ndp", "-a", "--ctl", str(missing))
    assert rc == 1 and err == (f"kame ndp: {missing}: no such socket (is `kame node` running? "
                               "give its --ctl path)")
    stale = tmp_path / "stale.sock"
    stale_socket(stale)
    rc, err = run(capsys, "ifconfig", "--ctl", str(stale))
    assert rc == 1 and err == (f"kame ifconfig: {stale}: stale socket: no node listens on it "
                               "(the node that made it has stopped)")
    f = tmp_path / "file"
    f.write_text("")
    rc, err = run(capsys, "netstat", "-s", "--ctl", str(f))
    assert rc == 1 and err == f"kame netstat: {f} is a regular file, not a control socket"
    rc, err = run(capsys, "ping6", "-c", "1", "--ctl", str(tmp_path), "::1")
    assert rc == 1 and err == f"kame ping6: {tmp_path} is a folder, not a control socket"
    rc, err = run(capsys, "setkey", "-D", "--ctl", str(missing))
    assert rc == 1 and "no such socket" in err


def test_tools_find_no_socket(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    import kame.ctl
    monkeypatch.setattr(kame.ctl, "CTL_DIR", str(tmp_path))
    rc, err = run(capsys, "ndp", "-a")
    assert rc == 1 and err == (f"kame ndp: no {tmp_path}/*.sock: start `kame node --tap IF` "
                               "or give --ctl PATH")


# --- the daemon -----------------------------------------------------------------------

def kame(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kame", *argv], capture_output=True,
                          text=True, timeout=timeout, env=ENV, check=False)


def test_sim_refuses_a_file_in_place_of_a_socket(tmp_path: Path) -> None:
    (tmp_path / "h1.sock").write_text("precious\n")
    r = kame("node", "--sim", "--ctl-dir", str(tmp_path))
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == (
        f"kame node: {tmp_path}/h1.sock is a regular file, not a stale socket: refusing to "
        "replace it (remove it yourself or choose another --ctl path)")
    assert (tmp_path / "h1.sock").read_text() == "precious\n"
    assert not (tmp_path / "r.sock").exists()  # the one made before is removed again


def test_sim_refuses_a_missing_folder(tmp_path: Path) -> None:
    r = kame("node", "--sim", "--ctl-dir", str(tmp_path / "nope"))
    assert r.returncode == 1 and "no such folder" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "nope").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_sim_removes_its_sockets_on_exit(tmp_path: Path, sig: int) -> None:
    stale_socket(tmp_path / "r.sock")  # left by an earlier run that was killed
    p = subprocess.Popen([sys.executable, "-m", "kame", "node", "--sim", "--ctl-dir",
                          str(tmp_path)], stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        socks = [tmp_path / f"{n}.sock" for n in ("r", "h1", "h2")]
        end = time.monotonic() + 30
        while time.monotonic() < end and not all(s.exists() for s in socks[1:]):
            time.sleep(0.05)
        time.sleep(0.2)
        with Client(str(socks[0])) as c:
            assert isinstance(c.call("time"), float)
        assert all(stat.S_IMODE(os.lstat(s).st_mode) == 0o600 for s in socks)
        p.send_signal(sig)
        assert p.wait(timeout=15) == 0, p.communicate()[1]
        assert not any(s.exists() for s in socks)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)
