"""`kame dissect [FILE | -]`: a tcpdump-like dissection with verdicts.

Every IP packet is put through the same checks as a node's input path
(``ip6_input``: version, lengths, jumbograms, the header chain under
``hdrnestlimit``; then the upper-layer header and its checksum), and the
line ends with the verdict: ``ok``, ``cksum BAD`` (with the value that was
due, and tshark's hint when the stored value is what checksum offload on
the capturing host leaves), or ``DROP`` with the reason, the offset and the
ICMPv6 error a stack must answer with. ARP is decoded (a malformed one is a
DROP); other frames are shown by their EtherType or address family, as
``not IP``.

Reads pcap and pcapng, either gzip-compressed (found by its magic), with
Ethernet, raw IP, Linux cooked (``tcpdump -i any``: SLL and SLL2) or BSD
loopback (null, loop) link types. ``-`` reads standard input. With no FILE,
standard input is read when it is a pipe or a file; otherwise (a terminal)
a small capture bundled with the package is shown, and said so.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from collections import Counter
from collections.abc import Callable
from importlib import resources
from typing import BinaryIO, TextIO

import kame
import kame._core
from kame.errors import KameError, UnsupportedError
from kame.knobs import KNOBS
from kame.link.pcap import (
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_LOOP,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
    PcapReader,
    open_capture,
)

#: The pcap link types read here, by name.
LINKTYPES = {
    LINKTYPE_NULL: "null",
    LINKTYPE_ETHERNET: "ether",
    LINKTYPE_RAW: "raw",
    LINKTYPE_LOOP: "loop",
    LINKTYPE_LINUX_SLL: "sll",
    228: "raw",  # LINKTYPE_IPV4
    229: "raw",  # LINKTYPE_IPV6
    LINKTYPE_LINUX_SLL2: "sll2",
}

_LINKTYPES_HELP = ("Ethernet (1), raw IP (101, 228, 229), Linux cooked (113, 276) "
                   "or BSD loopback (0, 108)")

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

#: A cooked header's packet type as tcpdump shows it.
SLL_DIRECTIONS = {0: "In", 1: "B", 2: "M", 3: "P", 4: "Out"}

ETHERTYPE_ARP = 0x0806
ETHERTYPE_RARP = 0x8035


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


#: Where the checksum sits in the upper-layer header, by protocol.
_CKSUM_AT = {58: 2, 17: 6, 6: 16}


def srh_words(p: kame.Packet) -> list[str]:
    """Each Segment Routing Header (RFC 8754) in the chain as tcpdump shows
    one: Segments Left, Last Entry, Tag, Flags, the segments by index, the
    TLVs. Empty when there is none (or the core does not decode SRHs)."""
    if not any(h[0] == 43 for h in p.chain):
        return []
    words = []
    for h in p.headers:
        try:
            srh = getattr(h, "srh", None)
        except KameError as e:
            words.append(f"srh refused: {e}")
            continue
        if srh is None:
            continue
        parts = [f"segleft={srh.segments_left}", f"last-entry={srh.last_entry}",
                 f"tag={srh.tag}", f"flags=0x{srh.flags:02x}"]
        parts += [f"[{i}]{seg}" for i, seg in enumerate(srh.segments)]
        for t in srh.tlvs:
            if t.type == 5:
                parts.append(f"hmac key-id {t.key_id}{' D' if t.d else ''}")
            elif t.type not in (0, 4):  # padding is not shown
                parts.append(f"tlv type {t.type} len {len(t.data)}")
        words.append("srh (" + ", ".join(parts) + ")")
    return words


#: Nested IP-in-IP packets shown after the outer one.
MAX_INNER = 4


def describe(p: kame.Packet, verbose: bool = False, *, hdrnestlimit: int = 50,
             depth: int = 0) -> str:
    """One tcpdump-like line for an accepted packet (and the packet it
    carries, for IPv6 or IPv4 in IPv6: a tunnel, an SRv6 encapsulation)."""
    up = p.upper_proto
    src, dst = str(p.src), str(p.dst)
    if p.sport is not None:
        src, dst = f"{src}.{p.sport}", f"{dst}.{p.dport}"
    tcp, frag, icmp_type = p.tcp, p.fragment, p.icmp_type
    if (up == 58 or up == 1) and icmp_type is not None:
        name = ICMP6_NAMES.get(icmp_type, f"type {icmp_type}") if up == 58 else f"type {icmp_type}"
        what = f"{'ICMP6' if up == 58 else 'ICMP'}, {name}"
        if p.icmp_code:
            what += f" code {p.icmp_code}"
        length = len(p.upper_bytes)
    elif up == 6 and tcp is not None:
        seq, ack, flags, win = tcp
        length = len(p.payload)
        what = f"TCP, flags [{_tcp_flags(flags)}], seq {seq}, ack {ack}, win {win}"
    elif up == 17 and p.sport is not None:
        length = len(p.payload)
        what = "UDP"
    elif up == 44 and frag is not None:
        off, more, ident = frag
        length = len(p.upper_bytes)
        what = f"frag (id 0x{ident:08x}, offset {off}{', more' if more else ''})"
    else:
        # Another protocol, or a first fragment too short for the
        # upper-layer header (the rest comes with the next fragments).
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
    extras += srh_words(p)
    if extras:
        line += " (" + "; ".join(extras) + ")"
    if up in (4, 41):
        line += _inner(p, verbose, hdrnestlimit, depth)
    if verbose and up == 58:
        try:
            line += f"\n\t{p.upper!r}"
        except KameError as e:  # the message body is refused by ND validation
            line += f"\n\tmessage refused: {e}"
    if verbose and p.fragment is not None and p.fragment[:2] == (0, True) and up in _CKSUM_AT:
        # A first fragment holds part of the datagram its checksum covers:
        # no verdict until reassembly (tshark says the same).
        at = _CKSUM_AT[up]
        ck = p.upper_bytes[at:at + 2]
        if len(ck) == 2:
            line += f"\n\tchecksum 0x{ck.hex()} unverified (fragmented datagram)"
    return line


def _mac(b: bytes) -> str:
    return ":".join(f"{o:02x}" for o in b)


def _inner(p: kame.Packet, verbose: bool, hdrnestlimit: int, depth: int) -> str:
    """": " and the line of the packet an IP-in-IP packet carries."""
    if depth + 1 >= MAX_INNER:
        return ": (more tunnels)"
    try:
        q = kame.parse(p.upper_bytes, hdrnestlimit=hdrnestlimit)
    except KameError as e:
        return f": [inner packet refused: {e}]"
    inner = describe(q, verbose, hdrnestlimit=hdrnestlimit, depth=depth + 1)
    if q.cksum_ok is False:
        inner += " [inner cksum BAD]"
    return ": " + inner


def describe_arp(a: kame._core.Arp, ethertype: int, length: int) -> str:
    """tcpdump -n's line for an ARP or RARP packet (RFC 826, 903, 2390)."""
    tpa, spa = a.target_ip, a.sender_ip
    tha, sha = _mac(a.target_mac), _mac(a.sender_mac)
    if a.op == 1:
        what = f"Request who-has {tpa}"
        if any(a.target_mac):
            what += f" ({tha})"
        what += f" tell {spa}"
    elif a.op == 2:
        what = f"Reply {spa} is-at {sha}"
    elif a.op == 3:
        what = f"Reverse Request who-is {tha} tell {sha}"
    elif a.op == 4:
        what = f"Reverse Reply {tha} at {tpa}"
    elif a.op == 8:
        what = f"InARP request who-is {tha} tell {spa} ({sha})"
    elif a.op == 9:
        what = f"InARP reply {sha} at {spa}"
    else:
        what = f"op {a.op}, sender {spa} ({sha}), target {tpa} ({tha})"
    name = "RARP" if ethertype == ETHERTYPE_RARP else "ARP"
    line = f"{name}, {what}, length {length}"
    if a.is_probe:
        line += " (probe)"
    elif a.is_gratuitous:
        line += " (gratuitous)"
    return line


def describe_other(lf: kame._core.LinkFrame) -> str:
    """A frame that is neither IP nor ARP: what its link header says."""
    if lf.family is not None:
        return f"AF {lf.family}, length {lf.payload_len}"
    if lf.ethertype is None:
        return f"not IP, length {lf.payload_len}"
    if lf.ethertype < 0x0600:
        if lf.linktype == "ether":  # IEEE 802.3: a length, then LLC
            return f"802.3, length {lf.payload_len}"
        # A Linux pseudo-protocol (ETH_P_802_2, ETH_P_CAN...).
        return f"link protocol 0x{lf.ethertype:04x}, length {lf.payload_len}"
    return f"ethertype 0x{lf.ethertype:04x}, length {lf.payload_len}"


def cksum_verdict(p: kame.Packet) -> str:
    """``cksum BAD`` with what was stored and what was due (UDP, TCP), and
    tshark's hint when the stored value is what checksum offload leaves on
    the capturing host."""
    bad = p.cksum_bad
    if bad is None:
        return "cksum BAD"
    stored, expected, offload = bad
    v = f"cksum BAD 0x{stored:04x}, should be 0x{expected:04x}"
    if offload:
        proto = "TCP" if p.upper_proto == 6 else "UDP"
        v += f" (maybe caused by {proto} checksum offload?)"
    return v


def dissect_stream(f: BinaryIO, out: TextIO, *, hdrnestlimit: int = 50, count: int = 0,
                   verbose: bool = False, verify_cksum: bool = True) -> Counter[str]:
    """Dissect every record of the pcap or pcapng (gzip-compressed or not)
    in ``f``; returns verdict counts: ``ok``, ``cksum bad`` (of which
    ``offload``), ``drop``, ``not ip``. In a pcapng each packet is read with
    its own interface's link type."""
    reader = open_capture(f)
    if isinstance(reader, PcapReader) and reader.linktype not in LINKTYPES:
        raise UnsupportedError(f"pcap linktype {reader.linktype} is not {_LINKTYPES_HELP}",
                               layer="pcap", offset=20)
    tally: Counter[str] = Counter()
    t0 = None
    for i, rec in enumerate(reader, 1):
        if count and i > count:
            break
        t0 = rec.ts if t0 is None else t0
        head = f"{i:4d} {rec.ts - t0:10.6f} "
        if rec.linktype not in LINKTYPES:
            raise UnsupportedError(f"packet {i}: linktype {rec.linktype} is not {_LINKTYPES_HELP}",
                                   layer="pcapng")
        link = LINKTYPES[rec.linktype]
        try:
            lf = kame.parse_link(rec.frame, link)
        except KameError as e:
            tally["drop"] += 1
            out.write(f"{head}[DROP: {e}]\n")
            continue
        if lf.pkttype is not None:
            head += f"{SLL_DIRECTIONS.get(lf.pkttype, f'pkttype {lf.pkttype}'):<3} "
        if link == "raw" or lf.is_ip:
            tally.update(_ip_line(rec.frame, link, head, out, hdrnestlimit=hdrnestlimit,
                                  verbose=verbose, verify_cksum=verify_cksum))
        elif lf.is_arp:
            try:
                a = lf.arp
            except KameError as e:
                tally["drop"] += 1
                out.write(f"{head}[DROP: {e}]\n")
                continue
            tally["ok"] += 1
            line = describe_arp(a, lf.ethertype or ETHERTYPE_ARP, lf.payload_len)
            if verbose:
                line += f"\n\t{a!r}"
            out.write(f"{head}{line}  [ok]\n")
        else:
            tally["not ip"] += 1
            out.write(f"{head}{describe_other(lf)}  [not IP]\n")
    return tally


def _ip_line(frame: bytes, link: str, head: str, out: TextIO, *, hdrnestlimit: int,
             verbose: bool, verify_cksum: bool) -> list[str]:
    """Dissect and print one IP packet; returns the tally keys it counts."""
    try:
        p = kame.parse(frame, hdrnestlimit=hdrnestlimit, verify_cksum=verify_cksum, link=link)
    except KameError as e:
        out.write(f"{head}[DROP: {e}]\n")
        return ["drop"]
    keys = ["ok"]
    verdict = "ok"
    if p.cksum_ok is False:
        verdict = cksum_verdict(p)
        bad = p.cksum_bad
        keys = ["cksum bad", "offload"] if bad is not None and bad[2] else ["cksum bad"]
    if p.trailing:
        verdict += f", {p.trailing} trailing octets"
    out.write(f"{head}{describe(p, verbose, hdrnestlimit=hdrnestlimit)}  [{verdict}]\n")
    return keys


def summary_line(tally: Counter[str]) -> str:
    """``N packets: N ok, N bad checksum, N dropped`` (and the rest when
    there is any)."""
    total = tally["ok"] + tally["cksum bad"] + tally["drop"] + tally["not ip"]
    bad = f"{tally['cksum bad']} bad checksum"
    if tally["offload"]:
        bad += f" ({tally['offload']} maybe offload)"
    line = f"{total} packets: {tally['ok']} ok, {bad}, {tally['drop']} dropped"
    if tally["not ip"]:
        line += f", {tally['not ip']} not IP"
    return line


def _stdin_has_data(stdin: BinaryIO) -> bool:
    """Whether standard input is a pipe, a socket or a file (something to
    read), not a terminal, /dev/null or closed."""
    try:
        mode = os.fstat(stdin.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode) or stat.S_ISSOCK(mode)


def _stdin() -> BinaryIO:
    stdin = getattr(sys.stdin, "buffer", None)
    if stdin is None:
        raise OSError("standard input is closed")
    if stdin.isatty():
        raise OSError("standard input is a terminal: pipe a capture in, or name a FILE")
    return stdin  # type: ignore[no-any-return]


def _run(args: argparse.Namespace) -> int:
    out = sys.stdout
    opts = {"hdrnestlimit": args.hdrnestlimit, "count": args.count, "verbose": args.verbose,
            "verify_cksum": not args.no_cksum}
    name = args.file
    if name is None:
        stdin = getattr(sys.stdin, "buffer", None)
        name = "-" if stdin is not None and _stdin_has_data(stdin) else None
    try:
        if name == "-":
            tally = dissect_stream(_stdin(), out, **opts)
        elif name is not None:
            with open(name, "rb") as f:
                tally = dissect_stream(f, out, **opts)
        else:
            sample = resources.files("kame") / "data" / "sample.pcap"
            sys.stderr.write(f"kame dissect: no file given: reading the bundled capture "
                             f"{sample.name} (kame dissect FILE, or - for standard input)\n")
            with sample.open("rb") as f:
                tally = dissect_stream(f, out, **opts)  # type: ignore[arg-type]
    except BrokenPipeError:  # `kame dissect | head`: the reader is gone
        raise
    except (KameError, OSError) as e:
        out.flush()
        where = "standard input" if name == "-" else name
        sys.stderr.write(f"kame dissect: {where}: {_plain(e)}\n")
        return 1
    out.write(summary_line(tally) + "\n")
    return 0


def _plain(e: BaseException) -> str:
    """An error as one line a user can act on."""
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    msg = str(e)
    if getattr(e, "layer", None) in ("pcap", "pcapng") and getattr(e, "offset", None) == 0:
        if getattr(e, "available", None) == 0:
            return "empty: not a pcap or pcapng capture"
        msg += " (not a pcap or pcapng capture)"
    return msg


def _int_in(lo: int, hi: int | None, what: str) -> Callable[[str], int]:
    def conv(s: str) -> int:
        try:
            v = int(s, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{s!r} is not an integer ({what})") from None
        if v < lo or (hi is not None and v > hi):
            rng = f"{lo} to {hi}" if hi is not None else f"{lo} or more"
            raise argparse.ArgumentTypeError(f"{v} is out of range: {rng} ({what})")
        return v
    return conv


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    knob = KNOBS["net.inet6.ip6.hdrnestlimit"]
    p = sub.add_parser("dissect", help="tcpdump-like dissection with validation verdicts",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", nargs="?", metavar="FILE",
                   help="a pcap or pcapng file, maybe gzip-compressed; - for standard input")
    p.add_argument("-c", "--count", type=_int_in(0, None, "0 = every packet"), default=0,
                   help="stop after COUNT packets (0, the default: every packet)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="show hop limits, the ICMPv6/ND message, the ARP packet")
    p.add_argument("--hdrnestlimit", type=_int_in(knob.minimum, knob.maximum, knob.name),
                   default=knob.default,
                   help=f"{knob.name}, {knob.minimum} to {knob.maximum} "
                        f"(default {knob.default}, 0 = no limit)")
    p.add_argument("--no-cksum", action="store_true", help="do not verify upper-layer checksums")
    p.set_defaults(func=_run)
