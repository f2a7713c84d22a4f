"""IKEv2 handshakes per second (issue 10, "Benchmarks"): ours against
strongSwan's on this machine, in the same run.

    python benches/bench_ike.py [--n 300] [--swan-n 300] [--conc 8] [--no-swan] [--profile]

- **kame**: two of our IKEv2 daemons (:class:`kame.ike.ikev2.Ike`) in
  memory, each with its own key engine; one handshake is IKE_SA_INIT +
  IKE_AUTH with a pre-shared key, X25519, AES-CBC-128/HMAC-SHA2-256/
  PRF-HMAC-SHA2-256, and one CHILD SA (ESP AES-CBC-128/HMAC-SHA2-256)
  installed on both sides with GETSPI/UPDATE/ADD. One Python thread does
  both sides, one handshake after the other: handshakes per second of wall
  clock, which is also per CPU second.
- **strongSwan**: Debian's charon has no load-tester plugin, so two charons
  (kernel-libipsec, as in the interop tests) in two network namespaces over
  a veth pair, the initiator with ``--swan-n`` connections of the same
  proposals, each opened over vici (``--conc`` at a time; strongSwan's
  Python client, PyPI ``vici``, in the ``bench`` extra; without it one
  ``swanctl --initiate`` process each);
  each its own identity (so charon opens an IKE SA for each rather than
  reusing one) and inner address; the responder takes them all
  (``unique = never``, DoS thresholds raised). Each ``swanctl --initiate``
  holds one of charon's worker threads until its IKE SA is up, so charon
  gets 32 threads and ``--conc`` stays well below that.
  Reported: handshakes per second of wall clock (charon runs 32 threads on
  both cores), and per CPU second of the two charons (the swanctl clients
  not counted) — the fairer figure against our one thread.

Prints the table, the ratios and the load average (the machine is shared);
``--profile`` adds where our time goes (cProfile, top functions).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from kame.ike.ikev2 import ChildProposal, Ike, IkeProposal, Peer
from kame.key.engine import KeyEngine

A, B = "2001:db8:1::1", "2001:db8:1::2"
A_IN, B_IN = "2001:db8:a::1", "2001:db8:b::1"
ROOT = Path(__file__).resolve().parent.parent


def _pair() -> tuple[Ike, Ike]:
    kw: dict[str, Any] = {"proposals": [IkeProposal(12, 128, 12, 5, 31)],
                          "child": [ChildProposal(12, 128, 12)]}
    a = Ike([Peer(B, A, b"bench-psk", my_id="a.example", peer_id="b.example", **kw)],
            KeyEngine())
    b = Ike([Peer(A, B, b"bench-psk", my_id="b.example", peer_id="a.example", **kw)],
            KeyEngine(), cookie_threshold=1 << 30)
    return a, b


def _handshake(a: Ike, b: Ike, now: float) -> None:
    sa = a.initiate(a.peers[0], now)
    for _ in range(10):
        moved = False
        for x, y, me in ((a, b, A), (b, a, B)):
            out, x.out = x.out, []
            for data, dst, dport, sport in out:
                moved = True
                y.input(data, me, sport, str(dst), dport, now)
        if not moved:
            break
    if sa.state != "ESTABLISHED":
        raise SystemExit(f"handshake failed: {a.log[-3:]} {b.log[-3:]}")


def bench_ours(n: int, rounds: int = 3) -> dict[str, float]:
    best = best_cpu = 0.0
    for _ in range(rounds):
        a, b = _pair()
        _handshake(a, b, 0.0)  # warm up
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(n):
            _handshake(a, b, float(i))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        best, best_cpu = max(best, n / wall), max(best_cpu, n / cpu)
        assert len(a.sas) == n + 1 and len(b.sas) == n + 1
    return {"per_s": best, "per_cpu_s": best_cpu}


def profile_ours(n: int) -> str:
    a, b = _pair()
    pr = cProfile.Profile()
    pr.enable()
    for i in range(n):
        _handshake(a, b, float(i))
    pr.disable()
    out = Path(tempfile.mkstemp(suffix=".txt")[1])
    with out.open("w") as f:
        pstats.Stats(pr, stream=f).sort_stats("tottime").print_stats(18)
    text = out.read_text()
    out.unlink()
    return text


# --- strongSwan, charon to charon ------------------------------------------------------------

def _sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=check, timeout=120)


def _swan_conf(me: str, peer: str, n: int, initiator: bool) -> str:
    def conn(name: str, extra: str, i: int = 0) -> str:
        return f"""  {name} {{
    version = 2
    local_addrs = {me}
    remote_addrs = {peer if initiator else '%any'}
    proposals = aes128-sha256-curve25519
    encap = yes
    rekey_time = 0
    reauth_time = 0
{extra}    local {{
      auth = psk
      id = {f"a{i}" if initiator else "b"}.example
    }}
    remote {{
      auth = psk
{"      id = b.example" if initiator else ""}
    }}
    children {{
      c{i} {{
        local_ts = {f"2001:db8:a::{i + 1:x}/128" if initiator else B_IN + "/128"}
        remote_ts = {B_IN + "/128" if initiator else "2001:db8:a::/64"}
        esp_proposals = aes128-sha256
        mode = tunnel
        rekey_time = 0
        start_action = none
      }}
    }}
  }}
"""
    conns = ([conn(f"k{i}", "", i) for i in range(n)] if initiator
             else [conn("r", "    unique = never\n")])
    return ("connections {\n" + "".join(conns) + "}\nsecrets {\n  ike-1 {\n    secret = bench-psk\n  }\n}\n")


def _filelog(k: str) -> str:
    """``BENCH_IKE_LOG=DIR``: charon's log in DIR (slows it; for trouble only)."""
    d = os.environ.get("BENCH_IKE_LOG")
    if not d:
        return ""
    return f"  filelog {{\n    f {{\n      path = {d}/charon-{k}.log\n      default = 1\n    }}\n  }}\n"


def _initiate_all(ns: str, sock: Path, n: int, conc: int) -> int:
    """Open the ``n`` connections, ``conc`` at a time: over vici from
    Python (strongSwan's own client library, PyPI ``vici``) when it is
    there, else one ``swanctl --initiate`` process each (whose start-up
    then counts against charon's rate). The number that came up."""
    try:
        import socket

        import vici  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        vici = None
    if vici is not None:
        from concurrent.futures import ThreadPoolExecutor

        def one(i: int) -> bool:
            with socket.socket(socket.AF_UNIX) as so:
                so.connect(str(sock))
                try:
                    for _ in vici.Session(so).initiate({"ike": f"k{i}", "child": f"c{i}",
                                                        "timeout": 60000}):
                        pass
                except Exception:  # noqa: BLE001 (vici's CommandException and kin)
                    return False
            return True

        with ThreadPoolExecutor(conc) as ex:
            return sum(ex.map(one, range(n)))
    running: list[subprocess.Popen[bytes]] = []
    ok = 0
    for i in range(n):
        while len(running) >= conc:
            running[0].wait(60)
            ok += running.pop(0).returncode == 0
        running.append(subprocess.Popen(
            ["ip", "netns", "exec", ns, "swanctl", "--initiate", "--ike", f"k{i}",
             "--child", f"c{i}", "--timeout", "60", "--uri", f"unix://{sock}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for p in running:
        p.wait(60)
        ok += p.returncode == 0
    return ok


def _cpu(pid: int) -> float:
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def bench_swan(n: int, conc: int) -> dict[str, float]:
    if shutil.which("swanctl") is None or not Path("/usr/lib/ipsec/charon").exists():
        raise SystemExit("strongSwan is not installed (strongswan-charon, strongswan-swanctl)")
    tag = uuid.uuid4().hex[:6]
    ns = {"i": f"bswi-{tag}", "r": f"bswr-{tag}"}
    w = Path(tempfile.mkdtemp(prefix="bench-ike-"))
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for x in ns.values():
            _sh("ip", "netns", "add", x)
            _sh("ip", "-n", x, "link", "set", "lo", "up")
        va, vb = f"vi{tag}", f"vr{tag}"
        _sh("ip", "link", "add", va, "type", "veth", "peer", "name", vb)
        _sh("ip", "link", "set", va, "netns", ns["i"])
        _sh("ip", "link", "set", vb, "netns", ns["r"])
        for x, v, me, inner in ((ns["i"], va, A, A_IN), (ns["r"], vb, B, B_IN)):
            _sh("ip", "-n", x, "link", "set", v, "up")
            _sh("ip", "-n", x, "addr", "add", f"{me}/64", "dev", v, "nodad")
            _sh("ip", "-n", x, "addr", "add", f"{inner}/128", "dev", "lo")
        # each connection's inner address is ours (libipsec routes from it)
        batch = w / "addrs"
        batch.write_text("".join(f"addr add 2001:db8:a::{i + 1:x}/128 dev lo\n"
                                 for i in range(1, n)))
        _sh("ip", "-n", ns["i"], "-batch", str(batch))
        for k, x in ns.items():
            etc = Path("/etc/netns") / x
            etc.mkdir(parents=True, exist_ok=True)
            (etc / "strongswan.conf").write_text(f"""charon {{
  threads = 32
  dos_protection = no
  cookie_threshold = 100000
  cookie_threshold_ip = 100000
  block_threshold = 100000
  init_limit_half_open = 0
  plugins {{
    include strongswan.d/charon/*.conf
    kernel-libipsec {{ load = yes }}
    vici {{ socket = unix://{w}/{k}.vici }}
  }}
  syslog {{
    daemon {{
      default = -1
    }}
  }}
{_filelog(k)}}}
""")
            (w / f"{k}.conf").write_text(_swan_conf(A if k == "i" else B, B if k == "i" else A,
                                                    n, k == "i"))
            procs[k] = subprocess.Popen(
                ["ip", "netns", "exec", x, "sh", "-c",
                 "mount -t tmpfs tmpfs /run && exec /usr/lib/ipsec/charon"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + 30
        while not all((w / f"{k}.vici").exists() for k in ns):
            if time.monotonic() > end:
                raise SystemExit("charon did not open its vici socket")
            time.sleep(0.1)
        for k, x in ns.items():
            _sh("ip", "netns", "exec", x, "swanctl", "--load-all", "--file", str(w / f"{k}.conf"),
                "--uri", f"unix://{w}/{k}.vici")
        cpu0 = sum(_cpu(p.pid) for p in procs.values())
        t0 = time.perf_counter()  # (from the first IKE_SA_INIT to the last IKE_AUTH)
        ok = _initiate_all(ns["i"], w / "i.vici", n, conc)
        wall = time.perf_counter() - t0
        cpu = sum(_cpu(p.pid) for p in procs.values()) - cpu0
        if ok != n:
            raise SystemExit(f"strongSwan: only {ok} of {n} handshakes succeeded")
        return {"per_s": n / wall, "per_cpu_s": n / cpu if cpu else float("inf")}
    finally:
        for p in procs.values():
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        for x in ns.values():
            _sh("ip", "netns", "del", x, check=False)
            shutil.rmtree(Path("/etc/netns") / x, ignore_errors=True)
        shutil.rmtree(w, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=300, help="our handshakes per round")
    ap.add_argument("--swan-n", type=int, default=300, help="strongSwan's handshakes")
    ap.add_argument("--conc", type=int, default=8, help="swanctl clients at once")
    ap.add_argument("--no-swan", action="store_true")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    res: dict[str, Any] = {"load_before": os.getloadavg()}
    res["kame"] = bench_ours(args.n)
    if not args.no_swan:
        res["strongswan"] = bench_swan(args.swan_n, args.conc)
    res["load_after"] = os.getloadavg()
    print(f"IKEv2 handshakes (PSK, X25519, AES-CBC-128/SHA2-256, one CHILD SA), "
          f"load {res['load_before'][0]:.2f} -> {res['load_after'][0]:.2f}")
    print(f"{'':12}{'per s':>10}{'per CPU s':>12}")
    for k in ("kame", "strongswan"):
        if k in res:
            print(f"{k:12}{res[k]['per_s']:>10.0f}{res[k]['per_cpu_s']:>12.0f}")
    if "strongswan" in res:
        res["ratio_wall"] = res["kame"]["per_s"] / res["strongswan"]["per_s"]
        res["ratio_cpu"] = res["kame"]["per_cpu_s"] / res["strongswan"]["per_cpu_s"]
        print(f"kame / strongSwan: {res['ratio_wall']:.2f}x per second (charon on 2 cores), "
              f"{res['ratio_cpu']:.2f}x per CPU second")
    if args.profile:
        print(profile_ours(min(args.n, 200)))
    out = ROOT / "benches" / "results" / "ike.json"
    out.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
