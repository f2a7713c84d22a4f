"""``kame altqstat`` and ``kame altq``: ALTQ (seed §5, :mod:`kame.altq`) on a
running node, over its control socket.

    kame altqstat [-i IF] [-c N] [-w SEC]  per-class counters, as altqstat(1)
    kame altq load FILE                    put the interfaces of altq.conf(5) FILE
                                           under ALTQ (as altqd -f FILE)
    kame altq disable IF                   IF leaves ALTQ (its queued frames purged)
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from kame.cli.args import UsageError
from kame.ctl import request


def rate2str(bps: float) -> str:
    """altqstat's ``rate2str``: 1.23Mbps."""
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if bps >= div:
            return f"{bps / div:.2f}{unit}bps"
    return f"{bps:.2f}bps"


def _red_lines(r: dict[str, Any]) -> list[str]:
    rows = [r] if r["kind"] == "red" else r["precedences"]
    out = []
    for i, p in enumerate(rows):
        tag = "RED" if r["kind"] == "red" else f"RIO[{('low', 'med', 'high')[i]}]"
        out.append(f"  {tag} th:{p['th_min']}/{p['th_max']} invpmax:{p['inv_pmax']} "
                   f"q_avg:{p['avg']:.2f} xmit:{p['xmit']} drop_forced:{p['drop_forced']} "
                   f"drop_unforced:{p['drop_unforced']} marked:{p['marked']}"
                   + (" ecn" if r["ecn"] else ""))
    return out


def _more_lines(c: dict[str, Any]) -> list[str]:
    """CBQ's estimator, BLUE's pmark, WFQ's buckets, flowvalve's counters."""
    out = []
    if "avgidle" in c:
        out.append(f"  avgidle:{c['avgidle'] * 1e6:.0f}us maxidle:{c['maxidle'] * 1e6:.0f}us "
                   f"minidle:{c['minidle'] * 1e6:.0f}us offtime:{c['offtime'] * 1e6:.0f}us "
                   f"overs:{c['over']} borrows:{c['borrows']} delays:{c['delays']}")
    if c.get("jobs") is not None:
        j = c["jobs"]
        cons = " ".join(f"{k}:{v:g}" for k, v in j.items() if v is not None)
        out.append(f"  JoBS rate:{rate2str(c['service_rate'])} "
                   f"avgdelay:{c['avg_delay'] * 1000:.2f}ms loss:{c['loss']:.4f} "
                   f"adc_violations:{c['adc_violations']}" + (f"  {cons}" if cons else ""))
    if c.get("blue"):
        b = c["blue"]
        out.append(f"  BLUE pmark:{b['pmark']}/{b['max_pmark']} hold:{b['hold_time'] * 1000:g}ms "
                   f"drop_forced:{b['drop_forced']} drop_unforced:{b['drop_unforced']} "
                   f"marked:{b['marked']}" + (" ecn" if b["ecn"] else ""))
    if c.get("wfq"):
        wq = c["wfq"]
        out.append(f"  WFQ hash:{wq['hash']} nqueues:{wq['nqueues']} active:{wq['active']} "
                   f"bytes:{wq['bytes']}/{wq['qsize']}")
        out.extend(f"    [{b['index']}] qlen:{b['qlen']} bytes:{b['bytes']} weight:{b['weight']}"
                   for b in wq["queues"])
    fv = (c.get("red") or {}).get("flowvalve")
    if fv:
        out.append(f"  flowvalve flows:{fv['flows']} blocked:{fv['blocked']} "
                   f"predrop:{fv['predrop']} pass:{fv['pass']} escape:{fv['escape']}")
    return out


def _cdnr_lines(cd: dict[str, Any]) -> list[str]:
    """A conditioner's elements, as altqstat prints ``cdnr``."""
    out = [f"conditioner {cd['name']}: dropped:{cd['dropped']}"]

    def walk(a: dict[str, Any], depth: int) -> None:
        extra = ""
        if a["kind"] == "mark":
            extra = f" {a['codepoint']:#04x}"
        elif a["kind"] in ("trtcm", "srtcm", "tswtcm"):
            extra = f" green:{a['green']} yellow:{a['yellow']} red:{a['red']}"
        elif a["kind"] == "tbmeter":
            extra = f" rate:{rate2str(a['rate'])} depth:{a['depth']}"
        out.append(f"{'  ' * depth}{a['kind']}{extra}  {a['packets']} pkts ({a['bytes']} bytes)")
        for ch in a["children"]:
            walk(ch, depth + 1)

    walk(cd["action"], 1)
    return out


def format_altq(snap: list[dict[str, Any]], ifname: str | None = None,
                prev: list[dict[str, Any]] | None = None, interval: float = 0.0) -> str:
    """The node's ALTQ state (``Altq.snapshot``) as altqstat(1) prints it;
    ``measured`` rates when ``prev`` (a snapshot ``interval`` seconds older) is given."""
    before: dict[tuple[str, str], int] = {}
    for q in prev or []:
        for c in q["classes"]:
            before[(q["ifname"], c["name"])] = c["xmit_bytes"]
    lines: list[str] = []
    for q in snap:
        if ifname is not None and q["ifname"] != ifname:
            continue
        head = f"{q['ifname']}: {q['discipline']}"
        if q["bandwidth"]:
            head += f"  bandwidth:{rate2str(q['bandwidth'])}"
        if q["tbr"] is not None:
            head += f"  tbr rate:{rate2str(q['tbr']['rate'])} depth:{q['tbr']['depth']}"
        lines.append(head + f"  qlen:{q['qlen']}")
        for c in q["classes"]:
            tags = []
            if "priority" in c:
                tags.append(f"pri:{c['priority']}")
            if c.get("parent"):
                tags.append(f"parent:{c['parent']}")
            for k in ("rt", "ls", "ul"):
                if c.get(k):
                    m1, d, m2 = c[k]
                    tags.append(f"{k}:[{rate2str(m1)} {d * 1000:g}ms {rate2str(m2)}]")
            if "pbandwidth" in c:
                tags.append(f"pbandwidth:{c['pbandwidth']:g}%")
                if c["borrow"]:
                    tags.append("borrow")
                if c["control"]:
                    tags.append("control")
            if c["default"]:
                tags.append("default")
            lines.append(f"[{c['name']}] " + " ".join(tags))
            meas = ""
            key = (q["ifname"], c["name"])
            if prev is not None and interval > 0 and key in before:
                meas = f"  measured:{rate2str((c['xmit_bytes'] - before[key]) * 8 / interval)}"
            lines.append(f"  qlen:{c['qlen']:2d}/{c['qlimit']}  xmit:{c['xmit_packets']} pkts "
                         f"({c['xmit_bytes']} bytes)  drop:{c['drop_packets']} pkts "
                         f"({c['drop_bytes']} bytes){meas}")
            if c.get("red"):
                lines.extend(_red_lines(c["red"]))
            lines.extend(_more_lines(c))
        for cd in q.get("conditioners", []):
            lines.extend(_cdnr_lines(cd))
    if not lines:
        return "no interface under ALTQ\n" if ifname is None else f"{ifname}: not under ALTQ\n"
    return "\n".join(lines) + "\n"


def _altqstat(args: argparse.Namespace) -> int:
    from kame.cli.tools import find_ctl

    path = find_ctl(args.ctl)
    prev: list[dict[str, Any]] | None = None
    t0 = 0.0
    for i in range(args.c):
        if i:
            time.sleep(args.w)
        snap = request(path, "altq")
        t = time.monotonic()
        sys.stdout.write(format_altq(snap, args.i, prev, t - t0))
        prev, t0 = snap, t
    return 0


def _altq(args: argparse.Namespace) -> int:
    from kame.cli.tools import find_ctl

    if args.what == "load":
        if len(args.args) != 1:
            raise UsageError("load FILE")
        with open(args.args[0], encoding="utf-8") as fh:
            text = fh.read()
        names = request(find_ctl(args.ctl), "altq_conf", text=text)
        sys.stdout.write("".join(f"{n}: ALTQ enabled\n" for n in names))
        return 0
    if len(args.args) != 1:
        raise UsageError("disable IF")
    n = request(find_ctl(args.ctl), "altq_disable", ifname=args.args[0])
    sys.stdout.write(f"{args.args[0]}: ALTQ disabled, {n} frames purged\n")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from kame.cli.tools import _ctl_arg

    p = sub.add_parser("altqstat", help="ALTQ per-class counters of a running node "
                                        "(like altqstat(1))")
    p.add_argument("-i", metavar="IF", help="only this interface")
    p.add_argument("-c", type=int, default=1, metavar="N", help="print N times (default 1)")
    p.add_argument("-w", type=float, default=1.0, metavar="SEC",
                   help="seconds between prints (default 1); from the second on, "
                        "measured rates")
    _ctl_arg(p)
    p.set_defaults(func=_altqstat)

    p = sub.add_parser("altq", help="ALTQ on a running node: load altq.conf(5), disable")
    p.add_argument("what", choices=["load", "disable"])
    p.add_argument("args", nargs="*", metavar="ARG", help="load FILE | disable IF")
    _ctl_arg(p)
    p.set_defaults(func=_altq)
