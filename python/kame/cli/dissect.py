"""`kame dissect [FILE.pcap|FILE.pcapng]`: a tcpdump-like dissection with verdicts.

Every record is put through the same checks as a node's input path
(``ip6_input``: version, lengths, jumbograms, the header chain under
``hdrnestlimit``; then the upper-layer header and its checksum), and the
line ends with the verdict: ``ok``, ``cksum BAD``, or ``DROP`` with the
reason, the offset and the ICMPv6 error a stack must answer with. Without a
file, a small capture bundled with the package is read.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from importlib import resources
from typing import BinaryIO, TextIO

import kame
import kame._core
from kame.errors import KameError
from kame.link.pcap import LINKTYPE_ETHERNET, LINKTYPE_RAW, PcapReader, open_capture

# pcap linktypes that carry a bare IP packet.
_RAW_LINKTYPES = {LINKTYPE_RAW, 228, 229}

ICMP6_NAMES = {
    1: "destination unreachable",
    2: "packet too big",
    3: "time exceeded",
    4: "parameter problem",
    128: "echo request",
    129: "echo reply",
    130: "multicast listener query",
    131: "multicast listener report",
    132: "multicast listener done",
    133: "router solicitation",
    134: "router advertisement",
    135: "neighbor solicitation",
    136: "neighbor advertisement",
    137: "redirect",
    143: "multicast listener report v2",
}

PROTO_NAMES = {
    0: "HBH", 4: "IPIP", 6: "TCP", 17: "UDP", 41: "IP6", 43: "RT", 44: "FRAG",
    50: "ESP", 51: "AH", 58: "ICMP6", 59: "NONE", 60: "DST", 108: "IPCOMP", 1: "ICMP",
}

TCP_FLAGS = "FSRPAUEC"


def _tcp_flags(bits: int) -> str:
    s = "".join(c for i, c in enumerate(TCP_FLAGS) if bits & (1 << i))
    return s or "."


_PREF = {0: "medium", 1: "high", 3: "low", 2: "reserved"}


def nd_detail(p: kame.Packet) -> str:
    """tcpdump's extra words for ICMPv6 echo, ND and MLDv2 ("who has X",
    "tgt is X", "id N, seq N", the RA's prefixes); "" when there are none
    or the message is refused."""
    if p.upper_proto != 58:
        return ""
    try:
        m = p.upper
    except KameError:
        return ""
    if isinstance(m, kame._core.Icmpv6Echo):
        return f"id {m.ident}, seq {m.seq}"
    if isinstance(m, kame._core.NeighborSolicitation):
        return f"who has {m.target}"
    if isinstance(m, kame._core.NeighborAdvertisement):
        fl = "".join(c for c, on in (("R", m.router), ("S", m.solicited), ("O", m.override)) if on)
        return f"tgt is {m.target}" + (f" [{fl}]" if fl else "")
    if isinstance(m, kame._core.RouterAdvertisement):
        words = [f"hlim {m.cur_hop_limit}", f"pref {_PREF[m.preference & 3]}",
                 f"router_ltime {m.router_lifetime}"]
        words += [f"prefix {pi.prefix}/{pi.prefix_len}" for pi in m.prefixes]
        return ", ".join(words)
    if isinstance(m, kame._core.Mldv2Report):
        return f"{len(m.records)} group record(s)"
    return ""


def describe(p: kame.Packet, verbose: bool = False) -> str:
    """One tcpdump-like line for an accepted packet."""
    up = p.upper_proto
    src, dst = str(p.src), str(p.dst)
    if p.sport is not None:
        src, dst = f"{src}.{p.sport}", f"{dst}.{p.dport}"
    if up == 58 or up == 1:
        name = ICMP6_NAMES.get(p.icmp_type, f"type {p.icmp_type}") if up == 58 else f"type {p.icmp_type}"
        what = f"{'ICMP6' if up == 58 else 'ICMP'}, {name}"
        if p.icmp_code:
            what += f" code {p.icmp_code}"
        length = len(p.upper_bytes)
    elif up == 6:
        seq, ack, flags, win = p.tcp
        length = len(p.payload)
        what = f"TCP, flags [{_tcp_flags(flags)}], seq {seq}, ack {ack}, win {win}"
    elif up == 17:
        length = len(p.payload)
        what = "UDP"
    elif up == 44:
        off, more, ident = p.fragment
        length = len(p.upper_bytes)
        what = f"frag (id 0x{ident:08x}, offset {off}{', more' if more else ''})"
    else:
        length = len(p.upper_bytes)
        what = PROTO_NAMES.get(up, f"proto {up}")
    line = f"IP{'6' if p.version == 6 else ''} {src} > {dst}: {what}, length {length}"
    extras = []
    if p.chain:
        extras.append("chain " + ",".join(PROTO_NAMES.get(h[0], str(h[0])) for h in p.chain))
    if p.jumbo is not None:
        extras.append(f"jumbo {p.jumbo}")
    if p.router_alert is not None:
        extras.append(f"router-alert {p.router_alert}")
    if p.version == 6 and p.hop_limit is not None and verbose:
        extras.append(f"hlim {p.hop_limit}")
    if p.fragment is not None and up != 44:
        off, more, ident = p.fragment
        extras.append(f"frag id 0x{ident:08x} off {off}{' M' if more else ''}")
    if extras:
        line += " (" + "; ".join(extras) + ")"
    if verbose and up == 58:
        try:
            line += f"\n\t{p.upper!r}"
        except KameError as e:  # the message body is refused by ND validation
            line += f"\n\tmessage refused: {e}"
    return line


def dissect_stream(f: BinaryIO, out: TextIO, *, hdrnestlimit: int = 50, count: int = 0,
                   verbose: bool = False, verify_cksum: bool = True) -> Counter[str]:
    """Dissect every record of the pcap or pcapng in ``f``; returns verdict
    counts. In a pcapng each packet is read with its own interface's link
    type."""
    reader = open_capture(f)
    if isinstance(reader, PcapReader) and reader.linktype not in _RAW_LINKTYPES | {
            LINKTYPE_ETHERNET}:
        raise KameError(f"pcap linktype {reader.linktype} is not Ethernet (1) or raw IP (101)")
    tally: Counter[str] = Counter()
    t0 = None
    for i, rec in enumerate(reader, 1):
        if count and i > count:
            break
        t0 = rec.ts if t0 is None else t0
        head = f"{i:4d} {rec.ts - t0:10.6f} "
        if rec.linktype == LINKTYPE_ETHERNET:
            link = "ether"
        elif rec.linktype in _RAW_LINKTYPES:
            link = "raw"
        else:
            raise KameError(f"linktype {rec.linktype} is not Ethernet (1) or raw IP (101)")
        try:
            p = kame.parse(rec.frame, hdrnestlimit=hdrnestlimit, verify_cksum=verify_cksum, link=link)
        except KameError as e:
            tally["drop"] += 1
            out.write(f"{head}[DROP: {e}]\n")
            continue
        if p.cksum_ok is False:
            verdict = "cksum BAD"
            tally["cksum bad"] += 1
        else:
            verdict = "ok"
            tally["ok"] += 1
        if p.trailing:
            verdict += f", {p.trailing} trailing octets"
        out.write(f"{head}{describe(p, verbose)}  [{verdict}]\n")
    return tally


def _run(args: argparse.Namespace) -> int:
    out = sys.stdout
    if args.file:
        with open(args.file, "rb") as f:
            tally = dissect_stream(f, out, hdrnestlimit=args.hdrnestlimit, count=args.count,
                                   verbose=args.verbose, verify_cksum=not args.no_cksum)
    else:
        sample = resources.files("kame") / "data" / "sample.pcap"
        out.write(f"(no file given: reading the bundled capture {sample.name})\n")
        with sample.open("rb") as f:
            tally = dissect_stream(f, out, hdrnestlimit=args.hdrnestlimit, count=args.count,
                                   verbose=args.verbose, verify_cksum=not args.no_cksum)
    total = tally["ok"] + tally["cksum bad"] + tally["drop"]
    out.write(f"{total} packets: {tally['ok']} ok, {tally['cksum bad']} bad checksum, "
              f"{tally['drop']} dropped\n")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("dissect", help="tcpdump-like dissection with validation verdicts",
                       description=__doc__)
    p.add_argument("file", nargs="?", help="a pcap or pcapng file (Ethernet or raw IP); default: bundled sample")
    p.add_argument("-c", "--count", type=int, default=0, help="stop after COUNT packets")
    p.add_argument("-v", "--verbose", action="store_true", help="show the ICMPv6/ND message")
    p.add_argument("--hdrnestlimit", type=int, default=50,
                   help="net.inet6.ip6.hdrnestlimit (default 50, 0 = no limit)")
    p.add_argument("--no-cksum", action="store_true", help="do not verify upper-layer checksums")
    p.set_defaults(func=_run)
