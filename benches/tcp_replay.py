"""Connection setup counted, not timed: record the frames a kame client sends
a kame server (``bench_tcp.py``'s ``nodesrv`` loop, its ``churn``: connect,
accept, close, 64 at a time), then replay them into a fresh server node, check its output
octet for octet against the recording and count the instructions its steps
take per accepted connection under callgrind. On a shared machine timings
swing ±25 % with the load; instruction counts do not, so a cut of a few
percent in the per-connection work shows.

    python benches/tcp_replay.py record N FILE     # N connections
    python benches/tcp_replay.py replay FILE [--python]
    python benches/tcp_replay.py count FILE [--python]   # needs valgrind

``replay`` says how many of the server's steps gave other frames than the
recording (0: the server's behaviour is unchanged); ``count`` runs the
replay under ``valgrind --tool=callgrind``, collecting only inside the
server's steps, and prints the instructions per accepted connection.
``--python`` turns off the core's SYN queue, header prediction and TCP from
the link (the Python reference paths). Record with the tree you compare
against; the recording is a pickle of frames (a file of ours: do not replay
a file from elsewhere).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import pickle
import subprocess
import sys
import tempfile
from typing import Any

from bench_tcp import KERNEL as PEER
from bench_tcp import MAC, OURS, churn

from kame.node import Node
from kame.socket import AF_INET6, SocketLayer
from kame.socket.stream import SOCK_STREAM
from kame.tcp.usrreq import Tcp

PEER_MAC = bytes.fromhex("020000000b0b")
Step = tuple[float, list[bytes], str]


def server_node() -> tuple[Node, Any, list[bytes]]:
    srv = Node("kame-srv", seed=1)
    srv.knobs["net.inet6.ip6.dad_count"] = 0
    srv.add_interface("eth0", MAC)
    first = [f for _, f in srv.up("eth0", 0.0)]
    srv.add_address("eth0", f"{OURS}/64", 0.0)
    ls = SocketLayer(srv, "linux").socket(AF_INET6, SOCK_STREAM)
    ls.bind(("::", 80))
    ls.listen(4096)
    return srv, ls, first


def server_step(srv: Node, ls: Any, frames: list[bytes], now: float) -> tuple[int, list[bytes]]:
    """One turn of the server: take the frames, poll, accept and close
    what is ready, poll again; the connections accepted and the frames out."""
    out = srv.receive_many("eth0", frames, now) if frames else []
    out += srv.poll(now)
    accepted = 0
    while True:
        try:
            s, _ = ls.accept()
        except BlockingIOError:
            break
        s.close()
        accepted += 1
    out += srv.poll(now)
    return accepted, [f for _, f in out]


def digest(frames: list[bytes]) -> str:
    return hashlib.sha256(b"".join(frames)).hexdigest()


def record(n: int, path: str, par: int = 64) -> None:
    srv, ls, first = server_node()
    cli = Node("kame-cli", seed=2)
    cli.knobs["net.inet6.ip6.dad_count"] = 0
    cli.add_interface("eth0", PEER_MAC)
    to_srv = [f for _, f in cli.up("eth0", 0.0)]
    cli.add_address("eth0", f"{PEER}/64", 0.0)
    to_cli = list(first)
    clayer = SocketLayer(cli, "linux")
    steps: list[Step] = []

    def srv_turn(now: float) -> int:
        frames = list(to_srv)
        acc, out = server_step(srv, ls, frames, now)
        steps.append((now, frames, digest(out)))
        to_srv.clear()
        to_cli.extend(out)
        return acc

    def cli_turn(now: float) -> None:
        out = cli.receive_many("eth0", to_cli, now) if to_cli else []
        out += cli.poll(now)
        to_cli.clear()
        to_srv.extend(f for _, f in out)

    clock = [0.5]
    for _ in range(20):  # ND and MLD settle before the first connection
        srv_turn(clock[0])
        cli_turn(clock[0])
        clock[0] += 0.05
    warmup = len(steps)

    def before() -> int:
        cli_turn(clock[0])
        return 0

    def after() -> int:
        cli_turn(clock[0])
        acc = srv_turn(clock[0])
        clock[0] += 0.0005
        return acc

    accepted = churn(n, par, clayer, (OURS, 80), before, after,
                     busy=lambda: bool(to_srv or to_cli))
    with open(path, "wb") as fh:
        pickle.dump({"warmup": warmup, "n": n, "steps": steps}, fh)
    print(f"recorded {accepted} connections in {len(steps)} server steps, "
          f"{sum(len(s[1]) for s in steps)} frames to the server")


def replay(path: str, check: bool = True) -> tuple[int, int]:
    """Replay a recording; (connections accepted, steps whose output differs)."""
    with open(path, "rb") as fh:
        d = pickle.load(fh)  # our own recording
    srv, ls, _ = server_node()
    steps: list[Step] = d["steps"]
    warmup = d["warmup"]
    for now, frames, _h in steps[:warmup]:
        server_step(srv, ls, frames, now)
    if not check:
        # the measured part runs inside functools.reduce, which callgrind's
        # --toggle-collect=functools_reduce counts alone
        acc = functools.reduce(lambda a, s: a + server_step(srv, ls, s[1], s[0])[0],
                               steps[warmup:], 0)
        return acc, 0
    acc = bad = 0
    for now, frames, h in steps[warmup:]:
        a, out = server_step(srv, ls, frames, now)
        acc += a
        bad += digest(out) != h
    return acc, bad


def count(path: str, python_paths: bool) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no",
               "--toggle-collect=functools_reduce", f"--callgrind-out-file={out}",
               sys.executable, __file__, "replay", path, "--no-check"]
        if python_paths:
            cmd.append("--python")
        env = dict(os.environ, PYTHONHASHSEED="0")
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
        acc = int(r.stdout.split("accepted ")[1].split(",")[0])
        with open(out) as fh:
            total = next(int(line.split()[1]) for line in fh if line.startswith("totals:"))
    per = total // max(acc, 1)
    print(f"{acc} connections, {total} instructions in the server's steps, {per} per connection")
    return per


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=("record", "replay", "count"))
    ap.add_argument("args", nargs="+", help="record: N FILE; replay, count: FILE")
    ap.add_argument("--python", action="store_true", help="the Python reference paths")
    ap.add_argument("--no-check", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.python:
        Tcp.fast_syncache = Tcp.hdrpred = False
        Node.tcp_fastpath = False
    if a.what == "record":
        record(int(a.args[0]), a.args[1])
    elif a.what == "replay":
        acc, bad = replay(a.args[0], check=not a.no_check)
        print(f"accepted {acc}, mismatched steps {bad}")
        return 1 if bad else 0
    else:
        count(a.args[0], a.python)
    return 0


if __name__ == "__main__":
    sys.exit(main())
