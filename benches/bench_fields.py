"""Where Python users touch packets: one key field per packet kind, read
with kame, with a bare ``struct.unpack_from`` walk that extracts the same
field, and with dpkt, on the same mixed corpus, in one run (issue 12 item 5).

    python benches/bench_fields.py [--n N] [--repeat R] [--json FILE]

Kinds (the issue's mix: UDP, TCP, extension headers with a fragment, NS
with a source link-layer address option, RA with Prefix Information and
MTU options; scapy builds them, an independent builder):

- ``udp``: the destination port;
- ``tcp``: the sequence number;
- ``frag``: the fragment offset and identification behind a Hop-by-Hop
  and a Destination Options header (kame: ``Packet.frag_offset`` and
  ``Packet.frag_ident``);
- ``ns``: the target address and the source link-layer address option
  (kame: the ``Packet.nd_*`` accessors; the same through the whole
  ``Packet.upper`` message object is printed beside);
- ``ra``: the first Prefix Information's prefix and the MTU option
  (kame: ``Packet.nd_prefix`` and ``Packet.nd_mtu``).

Each contender parses the packet from its bytes and reads the field; the
walk checks what it must to find it (next headers, ICMPv6 type, option
types and lengths). Then the batch calls against the same work done one
call at a time: ``parse_many`` against ``parse``, ``EspSa.output_many``
against ``output``, ``in6_cksum`` with ``bytes`` against ``str``
addresses (the ESP lines in process CPU time and wall clock, since the
batch runs the cipher on worker threads). Rounds are interleaved so that the shared machine's load hits
every contender alike, and what is timed is the CPU time of the calling
thread (``time.thread_time_ns``), not the wall clock, so that other
processes on this shared machine do not count; the load is printed.
The tables go to benches/results/fields.json and fields.png.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from publish import publish

import kame

# --- the corpus ------------------------------------------------------------------


def corpus() -> dict[str, bytes]:
    from scapy.layers.inet import TCP, UDP
    from scapy.layers.inet6 import (
        ICMPv6ND_NS,
        ICMPv6ND_RA,
        ICMPv6NDOptMTU,
        ICMPv6NDOptPrefixInfo,
        ICMPv6NDOptSrcLLAddr,
        IPv6,
        IPv6ExtHdrDestOpt,
        IPv6ExtHdrFragment,
        IPv6ExtHdrHopByHop,
    )

    s, d = "2001:db8::1", "2001:db8::2"
    return {
        "udp": bytes(IPv6(src=s, dst=d) / UDP(sport=5353, dport=53) / (b"q" * 440)),
        "tcp": bytes(IPv6(src=s, dst=d) / TCP(sport=443, dport=40000, seq=123456, flags="PA")
                     / (b"x" * 1000)),
        "frag": bytes(IPv6(src=s, dst=d) / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt()
                      / IPv6ExtHdrFragment(id=0x1234, offset=100, m=1) / (b"f" * 400)),
        "ns": bytes(IPv6(src="fe80::1", dst="ff02::1:ff00:2", hlim=255)
                    / ICMPv6ND_NS(tgt="fe80::2")
                    / ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01")),
        "ra": bytes(IPv6(src="fe80::1", dst="ff02::1", hlim=255) / ICMPv6ND_RA()
                    / ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01")
                    / ICMPv6NDOptMTU(mtu=1480)
                    / ICMPv6NDOptPrefixInfo(prefix="2001:db8:1::", prefixlen=64)),
    }


# --- the bare walk -------------------------------------------------------------------

_EXT = (0, 43, 60)


def _upper(b: bytes) -> tuple[int, int]:
    nh = b[6]
    off = 40
    while nh in _EXT:
        nh, off = b[off], off + (b[off + 1] + 1) * 8
    return nh, off


def walk_udp(b: bytes) -> Any:
    nh, off = _upper(b)
    return struct.unpack_from("!H", b, off + 2)[0] if nh == 17 else None


def walk_tcp(b: bytes) -> Any:
    nh, off = _upper(b)
    return struct.unpack_from("!I", b, off + 4)[0] if nh == 6 else None


def walk_frag(b: bytes) -> Any:
    nh = b[6]
    off = 40
    while nh in _EXT:
        nh, off = b[off], off + (b[off + 1] + 1) * 8
    if nh != 44:
        return None
    offlg, ident = struct.unpack_from("!HI", b, off + 2)
    return offlg >> 3, ident


def _nd_options(b: bytes, off: int) -> dict[int, int]:
    found: dict[int, int] = {}
    while off + 2 <= len(b):
        t, n = b[off], b[off + 1]
        if n == 0:
            break
        found.setdefault(t, off)
        off += n * 8
    return found


def walk_ns(b: bytes) -> Any:
    nh, off = _upper(b)
    if nh != 58 or b[off] != 135:
        return None
    o = _nd_options(b, off + 24)
    sll = b[o[1] + 2:o[1] + 8] if 1 in o else None
    return b[off + 8:off + 24], sll


def walk_ra(b: bytes) -> Any:
    nh, off = _upper(b)
    if nh != 58 or b[off] != 134:
        return None
    o = _nd_options(b, off + 16)
    pfx = b[o[3] + 16:o[3] + 32] if 3 in o else None
    mtu = struct.unpack_from("!I", b, o[5] + 4)[0] if 5 in o else None
    return pfx, mtu


WALK: dict[str, Callable[[bytes], Any]] = {
    "udp": walk_udp, "tcp": walk_tcp, "frag": walk_frag, "ns": walk_ns, "ra": walk_ra}

# --- kame ---------------------------------------------------------------------------------


def kame_udp(b: bytes) -> Any:
    return kame.parse(b).dport


def kame_tcp(b: bytes) -> Any:
    return kame.parse(b).seq


def kame_frag(b: bytes) -> Any:
    p = kame.parse(b)
    off = p.frag_offset
    return None if off is None else (off >> 3, p.frag_ident)


def kame_ns(b: bytes) -> Any:
    p = kame.parse(b)
    return p.nd_target, p.nd_source_lladdr


def kame_ra(b: bytes) -> Any:
    p = kame.parse(b)
    return p.nd_prefix, p.nd_mtu


def upper_ns(b: bytes) -> Any:
    u = kame.parse(b).upper
    return u.target, u.source_lladdr


def upper_ra(b: bytes) -> Any:
    u = kame.parse(b).upper
    return u.prefixes[0].prefix, u.mtu


# the same fields through the whole message object (`Packet.upper`)
UPPER: dict[str, Callable[[bytes], Any]] = {"ns": upper_ns, "ra": upper_ra}


KAME: dict[str, Callable[[bytes], Any]] = {
    "udp": kame_udp, "tcp": kame_tcp, "frag": kame_frag, "ns": kame_ns, "ra": kame_ra}

# --- dpkt -----------------------------------------------------------------------------------


def _dpkt() -> dict[str, Callable[[bytes], Any]]:
    import dpkt

    def up(b: bytes) -> Any:
        return dpkt.ip6.IP6(b).data

    def frag(b: bytes) -> Any:
        ip = dpkt.ip6.IP6(b)
        f = ip.extension_hdrs.get(44)
        return None if f is None else (f.frag_off, f.id)

    def ns(b: bytes) -> Any:
        icmp = dpkt.ip6.IP6(b).data
        body = bytes(icmp.data)
        target = body[4:20]
        opts = body[20:]
        return target, opts[2:8] if opts[:1] == b"\x01" else None

    def ra(b: bytes) -> Any:
        icmp = dpkt.ip6.IP6(b).data
        body = bytes(icmp.data)
        off, pfx, mtu = 12, None, None
        while off + 2 <= len(body):
            t, n = body[off], body[off + 1]
            if n == 0:
                break
            if t == 3 and pfx is None:
                pfx = body[off + 16:off + 32]
            elif t == 5 and mtu is None:
                mtu = int.from_bytes(body[off + 4:off + 8], "big")
            off += n * 8
        return pfx, mtu

    return {"udp": lambda b: up(b).dport, "tcp": lambda b: up(b).seq, "frag": frag,
            "ns": ns, "ra": ra}


# --- timing -----------------------------------------------------------------------------------


def best_ns(fns: dict[str, Callable[[], Any]], n: int, repeat: int,
            clock: Callable[[], int] = time.thread_time_ns) -> dict[str, float]:
    best = {k: float("inf") for k in fns}
    for _ in range(repeat):
        for k, f in fns.items():
            t0 = clock()
            for _ in range(n):
                f()
            best[k] = min(best[k], (clock() - t0) / n)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    pkts = corpus()
    dp = _dpkt()
    print(f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
          f"corpus mean {sum(map(len, pkts.values())) / len(pkts):.0f} B")
    rows: list[dict[str, Any]] = []
    print(f"{'kind':6s} {'kame':>9s} {'walk':>9s} {'dpkt':>9s}  walk/kame  dpkt/kame   (ns per packet)")
    for kind, b in pkts.items():
        k, w, d = KAME[kind](b), WALK[kind](b), dp[kind](b)
        assert k is not None and w is not None and d is not None, kind
        fk, fw, fd = KAME[kind], WALK[kind], dp[kind]
        fns = {"kame": lambda fk=fk, b=b: fk(b), "walk": lambda fw=fw, b=b: fw(b),
               "dpkt": lambda fd=fd, b=b: fd(b)}
        if kind in UPPER:
            fu = UPPER[kind]
            fns["upper"] = lambda fu=fu, b=b: fu(b)
        best = best_ns(fns, args.n, args.repeat)
        rows.append({"kind": kind, **best})
        print(f"{kind:6s} {best['kame']:9.0f} {best['walk']:9.0f} {best['dpkt']:9.0f}  "
              f"{best['walk'] / best['kame']:9.2f} {best['dpkt'] / best['kame']:10.2f}"
              + (f"   (through .upper: {best['upper']:.0f})" if "upper" in best else ""))
    batch = list(pkts.values()) * 2000
    single = best_ns({"single": lambda: [kame.parse(x) for x in batch],
                      "many": lambda: kame.parse_many(batch)}, 1, args.repeat)
    per = {k: v / len(batch) for k, v in single.items()}
    print(f"parse: {per['single']:.0f} ns one call per packet, parse_many {per['many']:.0f} ns "
          f"per packet ({per['single'] / per['many']:.2f}x)")
    # ``kame.parse`` through the package: its module ``__getattr__`` (the
    # lazy names) keeps CPython from specialising the attribute load
    # (LOAD_ATTR_MODULE is refused for a module with ``__getattr__``); the
    # same function through a module without one, and bound to a name
    plain = types.ModuleType("plain")
    plain.parse = kame.parse  # type: ignore[attr-defined]
    bound = kame.parse
    x = pkts["udp"]
    via = best_ns({"kame.parse": lambda: kame.parse(x), "plain.parse": lambda: plain.parse(x),  # type: ignore[attr-defined]
                   "parse": lambda: bound(x)}, args.n, args.repeat)
    print(f"one parse call: kame.parse {via['kame.parse']:.0f} ns, through a module without __getattr__ "
          f"{via['plain.parse']:.0f} ns, bound to a name {via['parse']:.0f} ns")
    sa = kame._core.EspSa(0x1000, "aes-gcm-16", bytes(20))
    inner = list(pkts.values()) * 400
    # output_many spreads the cipher over worker threads: the calling
    # thread's CPU time would not see their work, so the process's CPU time
    # (all threads) and the wall clock are what is compared here
    esp_fns = {"single": lambda: [sa.output(x) for x in inner], "many": lambda: sa.output_many(inner)}
    esp_per: dict[str, float] = {}
    for clock_name, clock in (("process CPU", time.process_time_ns), ("wall", time.perf_counter_ns)):
        esp = best_ns(esp_fns, 1, args.repeat, clock)
        per_c = {k: v / len(inner) for k, v in esp.items()}
        esp_per.update({f"{k} {clock_name}": v for k, v in per_c.items()})
        print(f"ESP AES-GCM output ({clock_name}): {per_c['single']:.0f} ns one call per packet, "
              f"output_many {per_c['many']:.0f} ns per packet "
              f"({per_c['single'] / per_c['many']:.2f}x)")
    up = pkts["udp"][40:]
    s6, d6 = "2001:db8::1", "2001:db8::2"
    sb, db = bytes.fromhex("20010db8" + "0" * 23 + "1"), bytes.fromhex("20010db8" + "0" * 23 + "2")
    ck = best_ns({"str": lambda: kame.in6_cksum(s6, d6, 17, up),
                  "bytes": lambda: kame.in6_cksum(sb, db, 17, up)}, args.n, args.repeat)
    print(f"in6_cksum: str addresses {ck['str']:.0f} ns, bytes {ck['bytes']:.0f} ns")
    groups: dict[str, dict[str, float]] = {}
    for r in rows:
        g = {"kame": r["kame"], "struct walk": r["walk"], "dpkt": r["dpkt"]}
        if "upper" in r:
            g["kame via .upper"] = r["upper"]
        groups[f"{r['kind']}: parse + key field (thread CPU ns per packet)"] = g
    groups["parse_many against parse (thread CPU ns per packet)"] = {
        "parse_many": per["many"], "parse per packet": per["single"]}
    groups["in6_cksum addresses (thread CPU ns per call)"] = {"bytes": ck["bytes"], "str": ck["str"]}
    facts = {"n": args.n, "repeat": args.repeat, "fields": rows, "parse": per, "esp": esp_per, "parse_via": via,
             "in6_cksum": ck, "corpus_mean_octets": sum(map(len, pkts.values())) / len(pkts)}
    for path in publish("fields", groups, unit="ns", better="lower", facts=facts):
        print("wrote", path)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"load": os.getloadavg()[0], "fields": rows, "parse": per, "esp": esp_per,
                       "in6_cksum": ck}, f, indent=1)


if __name__ == "__main__":
    main()
