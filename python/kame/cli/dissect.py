"""`kame dissect [-nqe] [-v[v]] [-c N] [-w FILE] [-T json] [-r FILE | FILE] [EXPRESSION]`:
a tcpdump-like dissection with verdicts.

Every IP packet is put through the same checks as a node's input path
(``ip6_input``: version, lengths, jumbograms, the header chain under
``hdrnestlimit``; then the upper-layer header and its checksum), and the
line ends with the verdict: ``ok``, ``cksum BAD`` (with the value that was
due, and tshark's hint when the stored value is what checksum offload on
the capturing host leaves), or ``DROP`` with the reason, the offset and the
ICMPv6 error a stack must answer with. ARP is decoded (a malformed one is a
DROP); other frames are shown by their EtherType or address family, as
``not IP``. The words between the addresses and the verdict are tcpdump's
(echo id and seq, ND targets, the MTU of a Packet Too Big, MLD and IGMP
group records; with -v ND options, RA fields, MLD records).

EXPRESSION is a filter in the pcap-filter language (pcap-filter(7)),
compiled by libpcap as tcpdump compiles it and run by the core's BPF
machine: the packets selected are tcpdump's. An invalid one exits with
status 2. -w writes the selected records instead of printing them, copied
as they are: a pcap from a pcap, a pcapng from a pcapng (its section and
interface blocks with the selected packet blocks, so that each packet
keeps its own interface and link type); a regular file is mapped by the
core and written from there. -T json prints one JSON object per packet; -c stops after
N selected packets. A progress bar is drawn on standard error for a long
file when it is a terminal.

Reads pcap and pcapng, either gzip-compressed (found by its magic), with
Ethernet, raw IP, Linux cooked (``tcpdump -i any``: SLL and SLL2) or BSD
loopback (null, loop) link types, streaming: memory stays bounded whatever
the file's size. ``-`` reads standard input. With no FILE, standard input
is read when it is a pipe or a file; otherwise (a terminal) a small
capture bundled with the package is shown, and said so.
"""

from __future__ import annotations

import io
import os
import stat
import sys
import time

import kame._core
from kame.link.bpf import FilterError, compile_filter
from kame.link.pcapio import (
    GZIP_MAGIC,
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_LOOP,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
    open_stream,
)

# What ``kame dissect`` imports is kept to the core, ctypes (for a filter)
# and this: typing, functools, collections, argparse (unless the words need
# its help or its messages), re and the exception tree (until an error) are
# each a dissection's worth of start-up (tests/test_startup.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from typing import BinaryIO, TextIO

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
    from kame.errors import KameError

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
    from kame.errors import KameError

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
        from kame.errors import KameError

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
    from kame.errors import KameError

    try:
        q = kame.parse(p.upper_bytes, hdrnestlimit=hdrnestlimit)
    except KameError as e:
        return f": [inner packet refused: {e}]"
    inner = describe(q, verbose, hdrnestlimit=hdrnestlimit, depth=depth + 1)
    if q.cksum_ok is False:
        inner += " [inner cksum BAD]"
    return ": " + inner


#: Octets read from the capture per call into the core.
CHUNK = 1 << 20

#: The link types a filter is compiled for (what the core reads).
FILTER_LINKTYPES = (LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LOOP,
                    LINKTYPE_LINUX_SLL, 228, 229, LINKTYPE_LINUX_SLL2)


def compile_filters(expr: str) -> dict[int, list[tuple[int, int, int, int]] | str]:
    """The BPF program of ``expr`` for every link type read here (libpcap's
    message where it does not apply); :class:`FilterError` when it applies
    to none (a syntax error)."""
    progs = _COMPILED.get(expr)
    if progs is None:
        progs = _COMPILED[expr] = _compile_filters(expr)
    return dict(progs)


#: Filters compiled so far (an expression is compiled once per run).
_COMPILED: dict[str, dict[int, list[tuple[int, int, int, int]] | str]] = {}


def _compile_filters(expr: str) -> dict[int, list[tuple[int, int, int, int]] | str]:
    if len(_COMPILED) >= 8:
        _COMPILED.clear()
    progs: dict[int, list[tuple[int, int, int, int]] | str] = {}
    first: FilterError | None = None
    for lt in FILTER_LINKTYPES:
        try:
            progs[lt] = _compile(expr, lt)
        except FilterError as e:
            progs[lt] = str(e)
            first = first or e
    if first is not None and all(isinstance(v, str) for v in progs.values()):
        raise first
    return progs


def _compile(expr: str, linktype: int) -> list[tuple[int, int, int, int]]:
    """libpcap's program for ``expr``: loaded and called by the core
    (``kame._core.pcap_compile``, no ctypes), else through ctypes
    (:func:`kame.link.bpf.compile_filter`, which also looks libpcap up by
    ``ctypes.util.find_library`` when no soname loads)."""
    if "\0" in expr:
        raise FilterError("a filter expression cannot hold a NUL character")
    try:
        return kame._core.pcap_compile(expr, linktype)
    except ValueError as e:
        raise FilterError(str(e)) from None
    except OSError:
        return compile_filter(expr, linktype)


class _Progress:
    """A progress bar on standard error for a long file (when it is a
    terminal): the share of the file read, redrawn at most 4 times a second."""

    def __init__(self, f: BinaryIO, err: TextIO) -> None:
        self.f, self.err, self.total, self.last = f, err, 0, 0.0
        try:
            st = os.fstat(f.fileno())
            if stat.S_ISREG(st.st_mode) and st.st_size >= 16 << 20 and err.isatty():
                self.total = st.st_size
        except (OSError, ValueError, AttributeError):
            pass

    def tick(self, frames: int) -> None:
        if not self.total:
            return
        now = time.monotonic()
        if now - self.last < 0.25:
            return
        self.last = now
        try:
            done = self.f.tell() / self.total
        except (OSError, ValueError):
            return
        bar = "#" * int(30 * done)
        self.err.write(f"\r[{bar:<30}] {100 * done:5.1f}% {frames} packets")
        self.err.flush()

    def end(self) -> None:
        if self.total and self.last:
            self.err.write("\r\033[K")
            self.err.flush()


def dissect_stream(f: BinaryIO, out: TextIO, *, hdrnestlimit: int = 50, count: int = 0,
                   verbose: bool | int = False, verify_cksum: bool = True, link: bool = False,
                   quiet: bool = False, json: bool = False, expr: str | None = None,
                   write: BinaryIO | None = None, progress: TextIO | None = None) -> Tally:
    """Dissect every record of the pcap or pcapng (gzip-compressed or not)
    in ``f`` (each pcapng packet with its own interface's link type), or
    those the filter ``expr`` selects, at most ``count`` of them; returns
    verdict counts: ``ok``, ``cksum bad`` (of which ``offload``), ``drop``,
    ``not ip``. The core reads, filters and prints; this only moves
    chunks. ``write`` receives the selected records as they are in ``f``:
    a pcap from a pcap, a pcapng (its section and interface blocks and the
    selected packet blocks) from a pcapng, so that every packet keeps its
    own interface and link type. From a regular file into a file with a
    descriptor (``write``, or ``out`` when nothing is written), the core
    maps ``f`` and writes there itself."""
    filters = compile_filters(expr) if expr else None
    d = kame._core.Dissector(hdrnestlimit=hdrnestlimit, verify_cksum=verify_cksum,
                             verbose=int(verbose), link=link, quiet=quiet, json=json,
                             write=write is not None, count=count, filters=filters)
    bar = _Progress(f, progress) if progress is not None else None
    head = f.read(2)
    mapped = False
    read: Callable[[], bytes | memoryview]
    if head == GZIP_MAGIC:
        src = open_stream(f, head)

        def read() -> bytes | memoryview:
            return src.read(CHUNK)
    elif write is not None and _mappable(f) and (outfd := _fd(write)) is not None:
        write.flush()
        d.write_file(f.fileno(), outfd)
        mapped = True
        read = bytes
    elif (write is None and (bar is None or not bar.total) and _mappable(f)
          and (outfd := _fd(out)) is not None):
        # A regular file printed to a descriptor (no progress bar to draw):
        # the core maps it and writes the lines itself.
        out.flush()
        d.print_file(f.fileno(), outfd)
        mapped = True
        read = bytes
    else:
        d.feed(head, False)  # nothing to show yet: a file header is longer
        chunk = bytearray(CHUNK)
        view = memoryview(chunk)
        readinto = getattr(f, "readinto", None)

        def read() -> bytes | memoryview:
            if readinto is None:
                return f.read(CHUNK)
            n = readinto(view)
            return view[:n or 0]
    eof = mapped
    try:
        while not eof:
            data = read()
            eof = not len(data)
            text, wbytes, stop = d.feed(data, eof)
            if text:
                out.write(text)
            if wbytes and write is not None:
                write.write(wbytes)
            if bar is not None:
                bar.tick(d.frames)
            if stop:
                break
    finally:
        if bar is not None:
            bar.end()
    tally = Tally(d.close())
    if d.unsupported is not None:
        from kame.errors import UnsupportedError

        i, lt = d.unsupported
        raise UnsupportedError(f"packet {i}: linktype {lt} is not {_LINKTYPES_HELP}",
                               layer="pcap")
    return tally


def _mappable(f: BinaryIO) -> bool:
    """Whether ``f``, read from its start up to its first two octets, is a
    regular file (which the core can map and read in place)."""
    try:
        return stat.S_ISREG(os.fstat(f.fileno()).st_mode) and f.tell() == 2
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return False


def _fd(f: BinaryIO | TextIO) -> int | None:
    try:
        return f.fileno()
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return None


class Tally(dict[str, int]):
    """Verdict counts (``collections.Counter``'s way: 0 for a verdict that
    did not occur), without importing :mod:`collections`."""

    def __missing__(self, key: str) -> int:
        return 0


def summary_line(tally: dict[str, int]) -> str:
    """``N packets: N ok, N bad checksum, N dropped`` (and the rest when
    there is any)."""
    tally = tally if isinstance(tally, Tally) else Tally(tally)
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


def _run(args: argparse.Namespace | Args) -> int:
    out = sys.stdout
    words = list(args.words)
    name = args.read
    if name is None and words:
        name = words.pop(0)  # `kame dissect FILE [EXPR]`
    expr = " ".join(words) or None
    if args.output_type == "json" and args.write is not None:
        from kame.cli.args import UsageError

        raise UsageError("-T json and -w: choose one")
    opts = {"hdrnestlimit": args.hdrnestlimit, "count": args.count, "verbose": args.verbose,
            "verify_cksum": not args.no_cksum, "link": args.link, "quiet": args.quiet,
            "json": args.output_type == "json", "expr": expr,
            "progress": sys.stderr}
    if name is None:
        stdin = getattr(sys.stdin, "buffer", None)
        name = "-" if stdin is not None and _stdin_has_data(stdin) else None
    wfile: BinaryIO | None = None
    text = out
    try:
        if expr:
            compile_filters(expr)  # a bad expression: exit 2 before any output
        if args.write is not None:
            wfile = sys.stdout.buffer if args.write == "-" else open(args.write, "wb")  # noqa: SIM115
            text = io.StringIO() if args.write == "-" else open(os.devnull, "w")  # noqa: SIM115
        opts["write"] = wfile
        if name == "-":
            tally = dissect_stream(_stdin(), text, **opts)  # type: ignore[arg-type]
        elif name is not None:
            with open(name, "rb") as f:
                tally = dissect_stream(f, text, **opts)  # type: ignore[arg-type]
        else:
            from importlib import resources  # only here: its import costs a dissection's time

            sample = resources.files("kame") / "data" / "sample.pcap"
            sys.stderr.write(f"kame dissect: no file given: reading the bundled capture "
                             f"{sample.name} (kame dissect FILE, or - for standard input)\n")
            with sample.open("rb") as f:
                tally = dissect_stream(f, text, **opts)  # type: ignore[arg-type]
    except BrokenPipeError:  # `kame dissect | head`: the reader is gone
        raise
    except FilterError as e:
        out.flush()
        sys.stderr.write(f"kame dissect: filter: {e}\n")
        return 2
    except (OSError, ValueError) as e:  # the errors import only when one is raised
        out.flush()
        if isinstance(e, ValueError) and not _is_kame_error(e):
            # the filter does not apply to this file's link type
            sys.stderr.write(f"kame dissect: filter: {e}\n")
            return 2
        where = "standard input" if name == "-" else name
        sys.stderr.write(f"kame dissect: {where}: {_plain(e)}\n")
        return 1
    except Exception as e:
        if not _is_kame_error(e):
            raise
        out.flush()
        where = "standard input" if name == "-" else name
        sys.stderr.write(f"kame dissect: {where}: {_plain(e)}\n")
        return 1
    finally:
        if wfile is not None and wfile is not sys.stdout.buffer:
            wfile.close()
        if text is not out:
            text.close()
    if args.output_type == "json" or args.write is not None:
        sys.stderr.write(summary_line(tally) + "\n")
    else:
        out.write(summary_line(tally) + "\n")
    return 0


def _is_kame_error(e: BaseException) -> bool:
    """Whether ``e`` is a :class:`kame.errors.KameError` (the tree is
    loaded by then if it is one: nothing is imported for the test)."""
    errors = sys.modules.get("kame.errors")
    return errors is not None and isinstance(e, errors.KameError)


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
    import argparse

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


#: ``net.inet6.ip6.hdrnestlimit``'s default and range, as :mod:`kame.knobs`
#: gives them (a test holds the two equal): the option's help is built
#: without importing the knob table, which ``kame dissect`` has no other
#: use for.
HDRNESTLIMIT = ("net.inet6.ip6.hdrnestlimit", 50, 0, 2**31 - 1)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    import argparse

    name, default, lo, hi = HDRNESTLIMIT
    p = sub.add_parser("dissect", help="tcpdump-like dissection with validation verdicts",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("words", nargs="*", metavar="[FILE] [EXPRESSION]",
                   help="a pcap or pcapng file, maybe gzip-compressed (- for standard input), "
                        "unless -r names it; then a filter in the pcap-filter language "
                        "(tcpdump's, compiled by libpcap)")
    p.add_argument("-r", dest="read", metavar="FILE",
                   help="the capture to read (- for standard input); every other word is "
                        "the filter expression")
    p.add_argument("-c", "--count", type=_int_in(0, None, "0 = every packet"), default=0,
                   help="stop after COUNT selected packets (0, the default: every packet)")
    p.add_argument("-n", action="store_true",
                   help="numeric addresses and ports (always so; accepted as tcpdump does)")
    p.add_argument("-e", dest="link", action="store_true", help="show the link header")
    p.add_argument("-q", dest="quiet", action="store_true",
                   help="fewer words: no TCP flags, chain or ICMPv6 details")
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="-v, -vv: hop limits, ND options, RA fields, MLD and IGMP records, "
                        "unverified checksums of first fragments")
    p.add_argument("-w", dest="write", metavar="FILE",
                   help="write the selected packets to FILE (- for standard output) instead of "
                        "printing them: pcap from a pcap, pcapng from a pcapng")
    p.add_argument("-T", dest="output_type", choices=["text", "json"], default="text",
                   help="json: one JSON object per packet and line")
    p.add_argument("--hdrnestlimit", type=_int_in(lo, hi, name), default=default,
                   help=f"{name}, {lo} to {hi} (default {default}, 0 = no limit)")
    p.add_argument("--no-cksum", action="store_true", help="do not verify upper-layer checksums")
    p.set_defaults(func=_run)


class Args:
    """The options of ``kame dissect`` as :func:`parse_words` reads them
    (the attributes of argparse's namespace from :func:`add_parser`)."""

    command = "dissect"

    def __init__(self) -> None:
        self.words: list[str] = []
        self.read: str | None = None
        self.count = 0
        self.n = False
        self.link = False
        self.quiet = False
        self.verbose = 0
        self.write: str | None = None
        self.output_type = "text"
        self.hdrnestlimit = HDRNESTLIMIT[1]
        self.no_cksum = False
        self.func = _run


#: Single-letter flags, and the options taking a value, by letter.
_FLAGS = {"n": "n", "e": "link", "q": "quiet"}
_VALUED = {"r": "read", "c": "count", "w": "write", "T": "output_type"}
_LONG = {"--count": "count", "--verbose": None, "--hdrnestlimit": "hdrnestlimit",
         "--no-cksum": None}


def _to_int(s: str, lo: int, hi: int | None) -> int | None:
    try:
        v = int(s, 10)
    except ValueError:
        return None
    return v if lo <= v and (hi is None or v <= hi) else None


def _set(a: Args, dest: str, value: str) -> bool:
    if dest == "count":
        n = _to_int(value, 0, None)
        if n is None:
            return False
        a.count = n
    elif dest == "hdrnestlimit":
        n = _to_int(value, HDRNESTLIMIT[2], HDRNESTLIMIT[3])
        if n is None:
            return False
        a.hdrnestlimit = n
    elif dest == "output_type":
        if value not in ("text", "json"):
            return False
        a.output_type = value
    else:
        setattr(a, dest, value)
    return True


def parse_words(words: list[str]) -> Args | None:
    """The words after ``kame dissect`` read without argparse, whose import
    costs a small capture's dissection; None for anything this does not
    read exactly as :func:`add_parser`'s parser would (help, a mistake, an
    abbreviated long option, ``--``, an option after the file or the
    expression...): argparse then reads them, with its messages."""
    a = Args()
    i = 0
    positional = False
    while i < len(words):
        w = words[i]
        i += 1
        if w == "-" or not w.startswith("-"):
            a.words.append(w)
            positional = True
            continue
        if positional or w == "--":
            return None  # argparse's rules for what follows: let it apply them
        if w.startswith("--"):
            name, eq, value = w.partition("=")
            if name not in _LONG:
                return None
            if name == "--no-cksum" or name == "--verbose":
                if eq:
                    return None
                if name == "--no-cksum":
                    a.no_cksum = True
                else:
                    a.verbose += 1
                continue
            if not eq:
                if i >= len(words) or (words[i].startswith("-") and words[i] != "-"):
                    return None
                value = words[i]
                i += 1
            dest = _LONG[name]
            if dest is None or not _set(a, dest, value):
                return None
            continue
        j = 1
        while j < len(w):
            c = w[j]
            j += 1
            if c in _FLAGS:
                setattr(a, _FLAGS[c], True)
            elif c == "v":
                a.verbose += 1
            elif c in _VALUED:
                value = w[j:]
                if not value:
                    if i >= len(words) or (words[i].startswith("-") and words[i] != "-"):
                        return None
                    value = words[i]
                    i += 1
                if value.startswith("="):
                    return None  # -c=5: argparse's reading differs by option
                if not _set(a, _VALUED[c], value):
                    return None
                break
            else:
                return None
    return a
