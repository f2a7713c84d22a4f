"""Translated packets per second: our RFC 7915 translator against TAYGA on
the same machine in the same run (issue 13's translator benchmark).

    python benches/bench_xlat.py [--n 200000] [--tayga-n 50000]   (as root)

The corpus is IPv6 → IPv4 (UDP with 64 octets of data, a TCP ACK, an
ICMPv6 echo request) and IPv4 → IPv6 (the same three the other way).
Ours: ``Xlat.to4``/``to6`` one packet per call from Python, and
``Xlat.batch`` (one call for a list, the loop in Rust with the GIL
released). TAYGA: packets written into its TUN device (an AF_PACKET socket
sending on the interface, in a namespace) and its translations read back,
at most 256 in flight; TAYGA's figure includes the TUN and socket round
trip it needs to translate anything at all, ours is the translation alone.
The machine's load (``uptime``) is printed with the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "interop"))

import xlat_rig as rig
from netns_rig import fresh_netns
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6

from kame import _core


def corpus6() -> list[bytes]:
    base = IPv6(src=rig.HOST6, dst=rig.REMOTE6, hlim=64)
    return [bytes(base / UDP(sport=1000, dport=53) / (b"u" * 64)),
            bytes(base / TCP(sport=40000, dport=80, flags="A", seq=1, ack=1)),
            bytes(base / ICMPv6EchoRequest(id=1, seq=1, data=b"p" * 56))]


def corpus4() -> list[bytes]:
    base = IP(src=rig.REMOTE4, dst=rig.HOST4, ttl=64)
    return [bytes(base / UDP(sport=53, dport=1000) / (b"u" * 64)),
            bytes(base / TCP(sport=80, dport=40000, flags="A", seq=1, ack=1)),
            bytes(base / ICMP(type=0, id=1, seq=1) / (b"p" * 56))]


def ours(n: int) -> dict[str, float]:
    x = _core.Xlat(rig.PREFIX, [(rig.HOST4, rig.HOST6)], self4=rig.TAYGA4, self6=rig.TAYGA6)
    res: dict[str, float] = {}
    for name, corp, f in (("6to4", corpus6(), x.to4), ("4to6", corpus4(), x.to6)):
        pk = [corp[i % len(corp)] for i in range(n)]
        assert all(f(p)[0] == "out" for p in corp)
        t = time.perf_counter()
        for p in pk:
            f(p)
        res[f"ours {name} per call"] = n / (time.perf_counter() - t)
        t = time.perf_counter()
        got = x.batch(pk, to4=(name == "6to4"))
        res[f"ours {name} batch"] = n / (time.perf_counter() - t)
        assert got == n
    return res


def tayga(n: int) -> dict[str, float]:
    res: dict[str, float] = {}
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    with fresh_netns("xltb") as ns, rig.tayga(ns) as dev:
        time.sleep(0.5)
        for name, corp in (("6to4", corpus6()), ("4to6", corpus4())):
            r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, rig.__file__, "bench", dev, str(n)],
                               input="\n".join(p.hex() for p in corp), capture_output=True, text=True,
                               env=env, timeout=600, check=True)
            d = json.loads(r.stdout)
            if d["translated"] < d["sent"] * 0.99:
                print(f"warning: TAYGA translated {d['translated']} of {d['sent']}", file=sys.stderr)
            res[f"TAYGA {name} via TUN"] = d["pps"]
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--tayga-n", type=int, default=50_000)
    a = ap.parse_args()
    load = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    t = tayga(a.tayga_n)
    o = ours(a.n)
    print(f"# {load}")
    for k, v in {**o, **t}.items():
        print(f"{k:28s} {v:12,.0f} packets/s")
    for d in ("6to4", "4to6"):
        base = t[f"TAYGA {d} via TUN"]
        print(f"ratio {d}: per call {o[f'ours {d} per call'] / base:.1f}x TAYGA, "
              f"batch {o[f'ours {d} batch'] / base:.1f}x TAYGA")


if __name__ == "__main__":
    main()
