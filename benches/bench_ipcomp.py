"""IPComp throughput, kame against its peers, in one run on the same payloads.

    maturin develop -q --release && python benches/bench_ipcomp.py [--quick]

Groups (each at the same deflate level, raw deflate, window 2^12 out as
KAME's `deflate_window_out`):

- kame `IpcompSa.output` per packet (whole IPv6 packet in, header work
  included) and `output_many` (one call, GIL released);
- kame `deflate()` per payload (fresh zlib state each call: shows what the
  state reuse inside `IpcompSa` buys);
- Python `zlib.compressobj(level, DEFLATED, -12)` per packet, then
  `compress` + `flush` (what a pure-Python IPComp would do);
- `zlib_ng.compressobj` the same way, and `isal_zlib.compressobj` at ISA-L's
  levels, if those PyPI packages are installed (skipped otherwise).

Inflate is timed the same way (kame `IpcompSa.input` / `input_many` against
`decompressobj(-15)`). Reported: µs per packet, MB/s of payload, and the
compression ratio (compressed octets / original octets, lower is better).
"""

# ruff: noqa: B023  (the lambdas run inside the loop iteration that made them)
from __future__ import annotations

import argparse
import random
import statistics
import struct
import sys
import time
import zlib

import kame

try:
    from zlib_ng import zlib_ng
except ImportError:  # pragma: no cover - optional peer
    zlib_ng = None
try:
    from isal import isal_zlib
except ImportError:  # pragma: no cover - optional peer
    isal_zlib = None

PAYLOAD = 1400
WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "for",
    "on",
    "that",
    "with",
    "as",
    "by",
    "this",
    "be",
    "are",
    "from",
    "at",
    "or",
    "an",
    "it",
    "not",
    "have",
    "kame",
    "ipv6",
    "ipsec",
    "ipcomp",
    "neighbor",
    "discovery",
    "router",
    "prefix",
    "address",
    "tunnel",
    "interface",
    "packet",
    "header",
    "option",
    "compression",
    "deflate",
    "window",
    "level",
    "stack",
    "kernel",
    "socket",
]
TAGS = ["div", "span", "p", "a", "li", "td", "tr", "h2", "em", "strong"]


def html_payload(rng: random.Random) -> bytes:
    out = []
    size = 0
    while size < PAYLOAD:
        tag = rng.choice(TAGS)
        cls = rng.choice(["nav", "item", "row", "col-md-4", "content", "footer", "x"])
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14)))
        if rng.random() < 0.3:
            words += f' <a href="/doc/{rng.randint(1, 9999)}.html">{rng.choice(WORDS)}</a>'
        piece = f'<{tag} class="{cls}">{words}</{tag}>\n'
        out.append(piece)
        size += len(piece)
    return "".join(out).encode()[:PAYLOAD]


def json_payload(rng: random.Random) -> bytes:
    items = []
    size = 0
    while size < PAYLOAD:
        it = (
            f'{{"id":{rng.randint(1, 10**6)},"name":"{rng.choice(WORDS)}-{rng.randint(0, 99)}",'
            f'"ok":{rng.choice(["true", "false"])},"ts":{1700000000 + rng.randint(0, 10**6)}}}'
        )
        items.append(it)
        size += len(it) + 1
    return ("[" + ",".join(items) + "]").encode()[:PAYLOAD]


def v6(payload: bytes, nh: int = 17) -> bytes:
    hdr = struct.pack("!IHBB", 0x60000000, len(payload), nh, 64)
    return (
        hdr
        + bytes.fromhex("20010db8" + "00" * 11 + "01")
        + bytes.fromhex("20010db8" + "00" * 11 + "02")
        + payload
    )


def udp(data: bytes) -> bytes:
    return struct.pack("!HHHH", 40000, 40001, 8 + len(data), 0) + data


def tcp(data: bytes) -> bytes:
    return struct.pack("!HHIIBBHHH", 443, 51234, 1, 1, 0x50, 0x18, 65535, 0, 0) + data


def make_sets(n: int) -> dict[str, list[bytes]]:
    rng = random.Random(2026)
    text = [html_payload(rng) for _ in range(n)]
    mix = []
    for i in range(n):
        k = i % 10
        if k < 4:
            mix.append(tcp(html_payload(rng)[: PAYLOAD - 20]))
        elif k < 6:
            mix.append(udp(json_payload(rng)[: PAYLOAD - 8]))
        elif k < 8:
            mix.append(tcp(b""))  # bare ACK: under 90 octets, never compressed
        else:
            mix.append(udp(rng.randbytes(PAYLOAD - 8)))  # already encrypted / compressed
    return {"html-1400": text, "packet-mix": mix}


def bench(fn, reps: int) -> float:
    """Best-of median seconds for one call of fn()."""
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(statistics.median(times), min(times) * 1.05)


def row(name: str, secs: float, n: int, orig: int, comp: int | None) -> None:
    us = secs / n * 1e6
    mbs = orig / secs / 1e6
    ratio = f"{comp / orig:6.3f}" if comp is not None else "     -"
    print(f"  {name:<38} {us:8.2f} µs/pkt {mbs:8.1f} MB/s  ratio {ratio}")


def peer_compress(mod, level: int, wbits: int, payloads: list[bytes]):
    def run():
        out = []
        for p in payloads:
            if len(p) < 90:
                out.append(p)
                continue
            c = mod.compressobj(level, mod.DEFLATED, wbits)
            z = c.compress(p) + c.flush()
            out.append(z if len(z) + 4 < len(p) else p)
        return out

    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer packets and repetitions")
    ap.add_argument("--packets", type=int, default=2000)
    args = ap.parse_args()
    n = 300 if args.quick else args.packets
    reps = 3 if args.quick else 7
    print(
        f"kame {kame.__version__}, Python {sys.version.split()[0]}, zlib {zlib.ZLIB_RUNTIME_VERSION}"
    )
    if zlib_ng is not None:
        print(f"zlib-ng {zlib_ng.ZLIBNG_VERSION}")
    if isal_zlib is None:
        print("isal: not installed (pip install isal), skipped")
    sets = make_sets(n)
    for level in (-1, 1):
        for set_name, payloads in sets.items():
            pkts = [v6(p) for p in payloads]
            orig = sum(len(p) for p in payloads)
            print(
                f"\n== deflate level {level} ({'Z_DEFAULT_COMPRESSION' if level == -1 else 'fast'}),"
                f" window 2^12, {set_name}: {n} packets, {orig} payload octets"
            )
            sa = kame.IpcompSa(level=level)
            outs = [sa.output(p) for p in pkts]
            comp = sum(len(o) - 40 for o in outs)
            row(
                "kame IpcompSa.output (per packet)",
                bench(lambda: [sa.output(p) for p in pkts], reps),
                n,
                orig,
                comp,
            )
            row(
                "kame IpcompSa.output_many (batch)",
                bench(lambda: sa.output_many(pkts), reps),
                n,
                orig,
                comp,
            )
            row(
                "kame deflate() (fresh state, no header)",
                bench(lambda: [kame.deflate(p, level, 12) for p in payloads], reps),
                n,
                orig,
                sum(len(kame.deflate(p, level, 12)) for p in payloads),
            )
            for name, mod in (("python zlib", zlib), ("zlib-ng", zlib_ng)):
                if mod is None:
                    print(f"  {name:<38} not installed, skipped")
                    continue
                run = peer_compress(mod, level, -12, payloads)
                c = sum(len(x) + (4 if x is not p else 0) for x, p in zip(run(), payloads))
                row(f"{name} compressobj(-12) per packet", bench(run, reps), n, orig, c)
            if isal_zlib is not None:
                for il in (1, 2, 3) if level == -1 else (0, 1):
                    # ISA-L needs a 2^15 window for raw deflate
                    run = peer_compress(isal_zlib, il, -15, payloads)
                    c = sum(len(x) + (4 if x is not p else 0) for x, p in zip(run(), payloads))
                    row(
                        f"isal compressobj(level {il}, -15) per packet",
                        bench(run, reps),
                        n,
                        orig,
                        c,
                    )
            # inflate
            comps = [o for o in outs]
            rsa = kame.IpcompSa()
            assert [rsa.input(o) for o in comps] == pkts
            row(
                "kame IpcompSa.input (per packet)",
                bench(lambda: [rsa.input(o) for o in comps], reps),
                n,
                orig,
                None,
            )
            row(
                "kame IpcompSa.input_many (batch)",
                bench(lambda: rsa.input_many(comps), reps),
                n,
                orig,
                None,
            )
            raw = [o[44:] if o[6] == 108 else None for o in comps]
            raw = [r for r in raw if r is not None]

            def zin(mod=zlib):
                for r in raw:
                    d = mod.decompressobj(-15)
                    d.decompress(r, 65535)

            if raw:
                row(
                    f"python zlib decompressobj(-15) [{len(raw)} compressed]",
                    bench(zin, reps) * n / len(raw),
                    n,
                    orig,
                    None,
                )
                if zlib_ng is not None:
                    row(
                        f"zlib-ng decompressobj(-15) [{len(raw)} compressed]",
                        bench(lambda: zin(zlib_ng), reps) * n / len(raw),
                        n,
                        orig,
                        None,
                    )


if __name__ == "__main__":
    main()
