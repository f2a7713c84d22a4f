"""BSD-style tools that talk to a running node over its control socket
(:mod:`kame.ctl`), printing what KAME's ``ndp``, ``ping6``, ``netstat -s``
and ``ifconfig`` print:

    kame ndp -a | -p | -r | -i IF [[-]flag...] | -c | -d ADDR
                                       neighbor cache, prefixes, routers, ND parameters
    kame ping6 [-c N] [-i WAIT] [-s SIZE] [-I IF] DST
    kame netstat -s -p ip6|icmp6
    kame ifconfig [-L] [IF]

Every tool takes ``--ctl PATH`` (default: the only socket in /run/kame, or
in ``$KAME_CTL_DIR`` when set; see :func:`find_ctl`). A missing socket, a
stale one (its node has stopped) and a path that is no socket are told
apart in the error.
"""

from __future__ import annotations

import argparse
import glob
import math
import os
import statistics
import sys
import time
from typing import Any, TextIO

from kame import ctl
from kame.cli.args import float_range, int_range
from kame.ctl import Client, ControlError, request
from kame.stats import DESCRIPTIONS

__all__ = [
    "ICMP6_HIST_NAMES",
    "IP6_NH_NAMES",
    "find_ctl",
    "format_ifconfig",
    "format_ndp_a",
    "format_ndp_i",
    "format_ndp_p",
    "format_ndp_r",
    "format_netstat",
    "sec2str",
]

#: netstat's names for the ICMPv6 histogram (FreeBSD usr.bin/netstat/inet6.c).
ICMP6_HIST_NAMES = {
    1: "unreach", 2: "packet too big", 3: "time exceed", 4: "parameter problem",
    128: "echo", 129: "echo reply", 130: "multicast listener query",
    131: "MLDv1 listener report", 132: "MLDv1 listener done", 133: "router solicitation",
    134: "router advertisement", 135: "neighbor solicitation", 136: "neighbor advertisement",
    137: "redirect", 138: "router renumbering", 139: "node information request",
    140: "node information reply", 141: "inverse neighbor solicitation",
    142: "inverse neighbor advertisement", 143: "MLDv2 listener report",
}

#: netstat's names for the IPv6 next-header histogram.
IP6_NH_NAMES = {
    0: "hop by hop", 1: "ICMP", 2: "IGMP", 4: "IP", 6: "TCP", 17: "UDP", 41: "IP6",
    43: "routing", 44: "fragment", 50: "ESP", 51: "AH", 58: "ICMP6", 59: "no next header",
    60: "destination option", 103: "PIM", 108: "IPComp",
}

PREF = {0: "medium", 1: "high", 3: "low", 2: "reserved"}

#: ``kame ping6`` ranges: the count is a C long in BSD's ping6; the size
#: keeps an echo within the 1280-octet minimum MTU (1280 - 40 - 8).
PING_MAX_COUNT = 2**31 - 1
PING_MAX_WAIT = 3600.0
PING_MAX_SIZE = 1232

# ND6_IFF_* bits as ifconfig prints them in "nd6 options=".
ND6_BITS = [("nud", 0x1, "PERFORMNUD"), ("accept_rtadv", 0x2, "ACCEPT_RTADV"),
            ("prefer_source", 0x4, "PREFER_SOURCE"), ("disabled", 0x8, "IFDISABLED"),
            ("auto_linklocal", 0x20, "AUTO_LINKLOCAL")]

# IFF_* for the first ifconfig line.
IFF = [(0x1, "UP"), (0x2, "BROADCAST"), (0x8, "LOOPBACK"), (0x10, "POINTOPOINT"),
       (0x40, "RUNNING"), (0x800, "SIMPLEX"), (0x8000, "MULTICAST")]


def sec2str(secs: float | None) -> str:
    """ndp's ``sec2str``: ``1d2h3m4s`` without the leading zero parts."""
    if secs is None:
        return "permanent"
    total = max(0, int(secs))
    d, rem = divmod(total, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    out = ""
    if d:
        out += f"{d}d"
    if d or h:
        out += f"{h}h"
    if d or h or m:
        out += f"{m}m"
    return out + f"{s}s"


def find_ctl(path: str | None) -> str:
    """``--ctl`` if given, else the only ``/run/kame/*.sock``
    (:data:`kame.ctl.CTL_DIR`)."""
    if path is not None:
        if not path:
            raise ControlError("--ctl: empty path")
        return path
    socks = sorted(glob.glob(os.path.join(glob.escape(ctl.CTL_DIR), "*.sock")))
    if len(socks) == 1:
        return socks[0]
    if not socks:
        raise ControlError(f"no {ctl.CTL_DIR}/*.sock: start `kame node --tap IF` or give "
                           "--ctl PATH")
    raise ControlError("several nodes run (" + ", ".join(socks) + "): choose one with --ctl")


# --- formatting (pure functions of the structured answers) ------------------------------

def format_ndp_a(rows: list[dict[str, Any]]) -> str:
    """ndp -a's table; the columns widen for long names instead of cutting them."""
    wa = max([36, *(len(r["neighbor"]) for r in rows)])
    wi = max([5, *(len(r["ifname"]) for r in rows)])
    lines = [(f"{'Neighbor':<{wa}} {'Linklayer Address':<17} {'Netif':>{wi}} "
             f"{'Expire':<9} {'S':1} Flags")]
    for r in rows:
        exp = r["expire"]
        if exp is None:
            exps = "permanent"
        elif exp > 0:
            exps = sec2str(exp)
        else:
            exps = "expired"
        ll = r["lladdr"] or "(incomplete)"
        flags = "R" if r["router"] else ""
        lines.append(f"{r['neighbor']:<{wa}} {ll:<17} {r['ifname']:>{wi}} {exps:<9} "
                     f"{r['state']:1} {flags}".rstrip())
    return "\n".join(lines) + "\n"


def format_ndp_p(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    out = []
    for r in rows:
        flags = ("L" if r["onlink"] else "") + ("A" if r["autonomous"] else "") + \
            ("O" if r["onlink"] else "")
        vl = "infinity" if r["vltime"] is None else str(int(r["vltime"]))
        pl = "infinity" if r["pltime"] is None else str(int(max(r["pltime"], 0)))
        exp = "Never" if r["expire"] is None else (
            sec2str(r["expire"]) if r["expire"] >= 0 else "expired")
        out.append(f"{r['prefix']} if={r['ifname']}\n"
                   f"flags={flags} vltime={vl}, pltime={pl}, expire={exp}, ref=1")
    return "\n".join(out) + "\n"


def format_ndp_r(rows: list[dict[str, Any]]) -> str:
    out = []
    for r in rows:
        flags = ("M" if r["managed"] else "") + ("O" if r["other"] else "")
        exp = "Never" if r["expire"] is None else sec2str(r["expire"])
        line = (f"{r['neighbor']} if={r['ifname']}, flags={flags}, "
                f"pref={PREF[r['preference'] & 3]}, expire={exp}")
        if r.get("installed"):
            line += " (installed)"
        out.append(line)
    return "\n".join(out) + ("\n" if out else "")


def format_ndp_i(d: dict[str, Any]) -> str:
    def ms(v: float) -> str:
        t = round(v * 1000)
        return f"{t // 1000}s{t % 1000}ms"
    return (f"linkmtu={d['linkmtu']}, maxmtu={d['maxmtu']}, curhlim={d['curhlim']}, "
            f"basereachable={ms(d['basereachable'])}, reachable={int(d['reachable'])}s, "
            f"retrans={ms(d['retrans'])}\nFlags: {' '.join(d['flags'])}\n")


def _bits(value: int, table: list[tuple[int, str]]) -> str:
    return f"{value:x}<" + ",".join(n for b, n in table if value & b) + ">"


def format_ifconfig(rows: list[dict[str, Any]], *, lifetimes: bool = False) -> str:
    out = []
    for r in rows:
        kind = r["type"]
        flags = 0x8000
        if r["up"]:
            flags |= 0x1 | 0x40
        if kind == "ether":
            flags |= 0x2 | 0x800
        elif kind == "loopback":
            flags |= 0x8
        else:
            flags |= 0x10
        out.append(f"{r['ifname']}: flags={_bits(flags, IFF)} metric 0 mtu {r['mtu']}")
        if r["ether"]:
            out.append(f"\tether {r['ether']}")
        for a in r["addrs"]:
            addr = a["addr"] + (f"%{r['ifname']}" if a["scopeid"] else "")
            line = f"\tinet6 {addr} prefixlen {a['prefixlen']}"
            if a["flags"]:
                line += " " + " ".join(a["flags"])
            if a["scopeid"]:
                line += f" scopeid 0x{a['scopeid']:x}"
            if lifetimes and (a["pltime"] is not None or a["vltime"] is not None):
                pl = "infty" if a["pltime"] is None else str(max(0, int(a["pltime"])))
                vl = "infty" if a["vltime"] is None else str(max(0, int(a["vltime"])))
                line += f" pltime {pl} vltime {vl}"
            out.append(line)
        nd = 0
        for name, bit, _ in ND6_BITS:
            if name in r["nd6"]:
                nd |= bit
        out.append(f"\tnd6 options={_bits(nd, [(b, n) for _, b, n in ND6_BITS])}")
    return "\n".join(out) + "\n"


def _counter_lines(values: dict[str, int]) -> list[str]:
    return [f"\t{v} {DESCRIPTIONS.get(k, k)}" for k, v in values.items()]


def format_netstat(stats: dict[str, Any], proto: str) -> str:
    if proto == "ip6":
        lines = ["ip6:", *_counter_lines(stats["ip6"])]
        hist = stats["ip6_inhist"]
        if hist:
            lines.append("\tInput histogram:")
            lines += [f"\t\t{IP6_NH_NAMES.get(int(k), f'#{k}')}: {v}" for k, v in hist.items()]
        return "\n".join(lines) + "\n"
    c = stats["icmp6"]
    lines = ["icmp6:"]
    first = ("icp6s_error", "icp6s_canterror", "icp6s_toofreq")
    lines += _counter_lines({k: c[k] for k in first if k in c})
    if stats["icmp6_outhist"]:
        lines.append("\tOutput histogram:")
        lines += [f"\t\t{ICMP6_HIST_NAMES.get(int(k), f'#{k}')}: {v}"
                  for k, v in stats["icmp6_outhist"].items()]
    mid = ("icp6s_badcode", "icp6s_tooshort", "icp6s_checksum", "icp6s_badlen")
    lines += _counter_lines({k: c[k] for k in mid if k in c})
    if stats["icmp6_inhist"]:
        lines.append("\tInput histogram:")
        lines += [f"\t\t{ICMP6_HIST_NAMES.get(int(k), f'#{k}')}: {v}"
                  for k, v in stats["icmp6_inhist"].items()]
    lines += _counter_lines({k: v for k, v in c.items() if k not in first + mid})
    return "\n".join(lines) + "\n"


# --- commands -----------------------------------------------------------------------

def _ndp(args: argparse.Namespace) -> int:
    if args.i is not None:  # -i IF [[-]flag ...] (the rest of the line, as ndp(8))
        rest = list(args.i)
        if "--ctl" in rest:
            k = rest.index("--ctl")
            if k + 1 >= len(rest):
                raise ControlError("--ctl needs a PATH")
            args.ctl = rest[k + 1]
            del rest[k:k + 2]
        if not rest:
            raise ControlError("-i needs an interface")
        ifname, flags = rest[0], rest[1:]
        path = find_ctl(args.ctl)
        if flags:
            sets = {f.lstrip("-"): not f.startswith("-") for f in flags}
            sys.stdout.write(format_ndp_i(request(path, "ndp_i_set", ifname=ifname, flags=sets)))
        else:
            sys.stdout.write(format_ndp_i(request(path, "ndp_i", ifname=ifname)))
        return 0
    path = find_ctl(args.ctl)
    if args.c:
        for name in request(path, "ndp_c"):
            sys.stdout.write(f"{name} ({name}) deleted\n")
    elif args.d:
        name = request(path, "ndp_d", addr=args.d)
        sys.stdout.write(f"{name} ({name}) deleted\n")
    elif args.p:
        sys.stdout.write(format_ndp_p(request(path, "ndp_p")))
    elif args.r:
        sys.stdout.write(format_ndp_r(request(path, "ndp_r")))
    else:
        sys.stdout.write(format_ndp_a(request(path, "ndp_a")))
    return 0


def _netstat(args: argparse.Namespace) -> int:
    if not args.s:
        raise ControlError("only `netstat -s -p ip6|icmp6` is implemented")
    if args.p == "ipsec6":  # the node's ipsec6stat (kame.key.ipsec6)
        from kame.key.ipsec6 import IPSEC6_STATS

        c = request(find_ctl(args.ctl), "ipsec6_stats")
        sys.stdout.write("ipsec6:\n" + "".join(f"\t{c.get(k, 0)} {d}\n"
                                                for k, d in IPSEC6_STATS.items()))
        return 0
    stats = request(find_ctl(args.ctl), "stats")
    protos = [args.p] if args.p else ["ip6", "icmp6"]
    sys.stdout.write("".join(format_netstat(stats, p) for p in protos))
    return 0


def _ifconfig(args: argparse.Namespace) -> int:
    rows = request(find_ctl(args.ctl), "ifconfig", ifname=args.interface)
    sys.stdout.write(format_ifconfig(rows, lifetimes=args.L))
    return 0


def ping6(path: str, dst: str, *, count: int, wait: float, size: int, ifname: str | None,
          out: TextIO, deadline_wait: float = 2.0) -> int:
    """KAME ping6's output and exit status (0: replies heard, 2: none)."""
    ident = os.getpid() & 0xFFFF
    sent = 0
    rtts: list[float] = []
    seen: set[int] = set()
    dups = 0
    sent_at: dict[int, float] = {}
    shown = dst
    with Client(path) as c:
        try:
            for seq in range(count):
                r = c.call("ping", dst=dst, ifname=ifname, ident=ident, seq=seq, size=size)
                if seq == 0:
                    shown = r["dst"]
                    out.write(f"PING6({40 + 8 + size}=40+8+{size} bytes) "
                              f"{r['src'] or '::'} --> {shown}\n")
                sent += 1
                sent_at[seq] = r["sent"]
                end = time.monotonic() + (wait if seq + 1 < count else deadline_wait)
                while (left := end - time.monotonic()) > 0:
                    ev = c.wait_event(left)
                    if ev is None:
                        continue
                    if ev.get("event") != "echo_reply" or ev.get("ident") != ident:
                        continue
                    s = int(ev["seq"])
                    if s not in sent_at:
                        continue
                    rtt = (float(ev["time"]) - sent_at[s]) * 1000.0
                    dup = s in seen
                    if dup:
                        dups += 1
                    else:
                        seen.add(s)
                        rtts.append(rtt)
                    hl = f" hlim={ev['hlim']}" if ev.get("hlim") is not None else ""
                    out.write(f"{ev['len']} bytes from {ev['src']}, icmp_seq={s}{hl} "
                              f"time={rtt:.3f} ms{' (DUP!)' if dup else ''}\n")
                    out.flush()
                    if seq + 1 == count and len(seen) == count:
                        break
        except KeyboardInterrupt:
            pass
    out.write(f"\n--- {shown} ping6 statistics ---\n")
    got = len(seen)
    line = f"{sent} packets transmitted, {got} packets received, "
    if dups:
        line += f"+{dups} duplicates, "
    loss = 100.0 * (sent - got) / sent if sent else 0.0
    out.write(line + f"{loss:.1f}% packet loss\n")
    if rtts:
        sd = statistics.pstdev(rtts) if len(rtts) > 1 else 0.0
        out.write(f"round-trip min/avg/max/std-dev = {min(rtts):.3f}/"
                  f"{sum(rtts) / len(rtts):.3f}/{max(rtts):.3f}/{sd:.3f} ms\n")
    return 0 if got else 2


def _ping6(args: argparse.Namespace) -> int:
    if args.count is not None and args.count <= 0:
        raise ControlError("invalid count")
    count = args.count if args.count is not None else 2**31
    if not (args.wait > 0 and math.isfinite(args.wait)):
        raise ControlError("invalid wait")
    return ping6(find_ctl(args.ctl), args.destination, count=count, wait=args.wait,
                 size=args.packetsize, ifname=args.I, out=sys.stdout)


def _ctl_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ctl", metavar="PATH",
                   help="the node's control socket (default: the only /run/kame/*.sock)")


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("ndp", help="neighbor cache, prefixes, routers (like ndp(8))")
    g = p.add_mutually_exclusive_group()
    g.add_argument("-a", action="store_true", help="the neighbor cache (default)")
    g.add_argument("-p", action="store_true", help="the prefix list")
    g.add_argument("-r", action="store_true", help="the default router list")
    g.add_argument("-i", nargs=argparse.REMAINDER, metavar="IF [[-]FLAG ...]",
                   help="ND parameters of an interface; set flags: nud, accept_rtadv, "
                        "disabled, prefer_source, auto_linklocal (a leading - clears)")
    g.add_argument("-c", action="store_true", help="flush the neighbor cache")
    g.add_argument("-d", metavar="ADDR", help="delete a neighbor entry (fe80::1%%tap0)")
    _ctl_arg(p)
    p.set_defaults(func=_ndp)

    p = sub.add_parser("ping6", help="send ICMPv6 echo requests from the node (like ping6(8))")
    p.add_argument("-c", dest="count", type=int_range(1, PING_MAX_COUNT, "count"),
                   help=f"stop after COUNT requests (1..{PING_MAX_COUNT})")
    p.add_argument("-i", dest="wait", type=float_range(0.0, PING_MAX_WAIT, "seconds",
                                                       lo_open=True),
                   default=1.0, help=f"seconds between requests (up to {PING_MAX_WAIT:g}; 1)")
    p.add_argument("-s", dest="packetsize", type=int_range(0, PING_MAX_SIZE, "octets"),
                   default=56, help=f"data bytes (0..{PING_MAX_SIZE}, so that no fragment is "
                                    "needed on a 1280-octet link; 56)")
    p.add_argument("-I", metavar="IF", help="outgoing interface")
    p.add_argument("destination", help="address, e.g. 2001:db8::1 or fe80::1%%tap0")
    _ctl_arg(p)
    p.set_defaults(func=_ping6)

    p = sub.add_parser("netstat", help="the node's counters (like netstat -s -p ip6|icmp6)")
    p.add_argument("-s", action="store_true", help="statistics")
    p.add_argument("-p", choices=["ip6", "icmp6", "ipsec6"], help="protocol")
    _ctl_arg(p)
    p.set_defaults(func=_netstat)

    p = sub.add_parser("ifconfig", help="the node's interfaces and addresses (like ifconfig(8))")
    p.add_argument("-L", action="store_true", help="show address lifetimes")
    p.add_argument("interface", nargs="?")
    _ctl_arg(p)
    p.set_defaults(func=_ifconfig)
