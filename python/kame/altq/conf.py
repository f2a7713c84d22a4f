"""altq.conf(5), KAME's ALTQ configuration, parsed strictly: every line
that cannot be taken raises :class:`~kame.errors.AltqConfError` with its
number. ``#`` starts a comment. The lines::

    interface IF [bandwidth BPS] [tbrsize OCTETS] [DISCIPLINE] [OPTIONS]
      fifoq: [qlimit N]
      red:   [thmin N] [thmax N] [invpmax N] [weight N] [qlimit N] [ecn] [flowvalve]
      rio:   [lo_thmin N] [lo_thmax N] [lo_invpmax N] [med_...] [hi_...] [weight N]
             [qlimit N] [ecn]
      blue:  [qlimit N] [maxpmark N] [holdtime MS] [packetsize N] [ecn]
      wfq:   [nqueues N] [qsize OCTETS] [hash dstaddr|srcaddr|srcport|full]
      cbq:   [efficient]                  (needs bandwidth)
      jobs:  [qlimit N] [separate]        (needs bandwidth)
      hfsc                                (needs bandwidth)
    class priq IF NAME NULL priority 0..15 [qlimit N] [default] [red|rio] [ecn] [cleardscp]
    class hfsc IF NAME PARENT [pshare PERCENT] [grate BPS] [sc M1 D M2] | [rt M1 D M2]
             [ls M1 D M2] [ul M1 D M2] [admission cntlload|none] [qlimit N] [default]
             [red|rio] [ecn] [flowvalve] [cleardscp]
    class cbq IF NAME PARENT|NULL pbandwidth PERCENT | bandwidth BPS [priority 0..7]
             [borrow] [default] [control] [maxburst N] [minburst N] [packetsize N]
             [maxpacketsize N] [qlimit N] [red|rio] [ecn] [flowvalve] [cleardscp]
    class jobs IF NAME NULL priority 0..15 [default] [adc MICROSECONDS] [alc LOSSRATE]
             [arc BPS] [rdc FACTOR] [rlc FACTOR]
    conditioner IF NAME <ACTION>
      ACTION: <pass> | <drop> | <mark CODEPOINT> | <tbmeter RATE DEPTH <in> <out>>
             | <trtcm CIR CBS PIR PBS <green> <yellow> <red> [coloraware|colorblind]>
             | <srtcm CIR CBS EBS <green> <yellow> <red> [coloraware|colorblind]>
             | <tswtcm CTR PTR WINDOW_MS <green> <yellow> <red>>
    filter IF CLASS|CONDITIONER DST [netmask M] DPORT SRC [netmask M] SPORT PROTO
             [tos V [tosmask V]] [gpi V]
    filter6 IF CLASS|CONDITIONER DST[/LEN] DPORT SRC[/LEN] SPORT PROTO [flowlabel V]
             [tclass V [tclassmask V]] [gpi V]

Rates take K, M or G (10M = 10 000 000 bits a second), sizes K or M (octets),
``D`` milliseconds; 0 is a wildcard in a filter. ``bandwidth`` sets the
token bucket regulator's rate; without ``tbrsize`` its depth is pfctl's
choice (1, 4, 8, 24 or 128 frames of the MTU by rate). An interface with no
discipline keyword gets a FIFO of 50 frames. PRIQ, HFSC and CBQ need
exactly one ``default`` class; CBQ one root class (parent ``NULL``), and a
class's children may not take more than its own share. HFSC refuses a class
whose real-time curve takes the sum of all the real-time curves over the
link at any time (admission control; ``admission none`` skips it). A
conditioner's filters lead to it: a frame they take is metered and marked
or dropped before the interface's classifier sees it. ``cdnr``
(ALTQ's word for the conditioner module), ``localq`` and ``codel`` lines
are refused as not supported.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from ipaddress import AddressValueError, IPv4Address, IPv6Address
from typing import TYPE_CHECKING

from kame.altq.blue import BLUE_HOLD_TIME, BLUE_LIMIT, BLUE_MAX_PMARK, Blue
from kame.altq.cbq import CBQ_MAXPRI, Cbq, CbqClass
from kame.altq.cdnr import MAX_DEPTH as CDNR_MAX_DEPTH
from kame.altq.cdnr import (
    Action,
    Cdnr,
    Conditioner,
    Drop,
    Mark,
    Pass,
    SrTcm,
    TbMeter,
    TrTcm,
    TswTcm,
)
from kame.altq.classifier import Classifier, Filter
from kame.altq.fifoq import Fifoq
from kame.altq.hfsc import rt_admission
from kame.altq.jobs import JOBS_QLIMIT, Jobs, JobsClass
from kame.altq.priq import Priq
from kame.altq.red import INV_P_MAX, RIO_DEFAULTS, TH_MAX, TH_MIN, W_WEIGHT, FlowValve, Red, Rio
from kame.altq.subr import DEFAULT_QLIMIT, MAX_QLIMIT, AltqClass, AltqIf, Discipline, Tbr
from kame.altq.wfq import DEFAULT_NQUEUES, DEFAULT_QSIZE, HASH_POLICIES, MAX_NQUEUES, MAX_QSIZE, Wfq
from kame.errors import AltqConfError

if TYPE_CHECKING:
    from kame.altq.hfsc import Hfsc

#: Limits of the numbers a line may carry.
MAX_BANDWIDTH = 10**12
MAX_TBRSIZE = 1 << 24
MAX_LINES = 100_000
MAX_LINE = 4096
RED_LIMIT = 60
MAX_CONDITIONERS = 256

_IFNAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,14}")
_CLNAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}")
_RATE = re.compile(r"(\d+(?:\.\d+)?)([KkMmGg]?)(?:bps)?")
_SIZE = re.compile(r"(\d+)([KkMm]?)")
_PROTOS = {"ip": 0, "any": 0, "icmp": 1, "igmp": 2, "ipip": 4, "ipv4": 4, "tcp": 6, "udp": 17,
           "ipv6": 41, "rsvp": 46, "gre": 47, "esp": 50, "ah": 51, "icmp6": 58,
           "ipv6-icmp": 58, "pim": 103, "sctp": 132}
_UNSUPPORTED = ("localq", "codel", "cdnr")
_DISCIPLINES = ("fifoq", "priq", "red", "rio", "hfsc", "cbq", "wfq", "blue", "jobs")
_CLASSFUL = ("priq", "hfsc", "cbq", "jobs")
_CONDITIONER_TOKEN = re.compile(r"<|>|[^\s<>]+")


class AltqConf:
    """A parsed altq.conf: the queue of each interface (``ifs``) and the
    line that declared it (``lines``)."""

    def __init__(self) -> None:
        self.ifs: dict[str, AltqIf] = {}
        self.lines: dict[str, int] = {}


class _Words:
    def __init__(self, words: list[str], line: int) -> None:
        self.w = words
        self.i = 0
        self.line = line

    def err(self, msg: str) -> AltqConfError:
        return AltqConfError(msg, line=self.line)

    def more(self) -> bool:
        return self.i < len(self.w)

    def next(self, what: str) -> str:
        if self.i >= len(self.w):
            raise self.err(f"{what} expected at the end of the line")
        t = self.w[self.i]
        self.i += 1
        return t

    def options(self, seen: set[str] | None = None) -> Iterator[str]:
        """The rest of the line's option words, each at most once (``seen``:
        those read so far, for a caller that asks)."""
        if seen is None:
            seen = set()
        while self.more():
            t = self.next("option")
            if t in seen:
                raise self.err(f"{t} given twice")
            seen.add(t)
            yield t

    def num(self, what: str, low: int, high: int) -> int:
        t = self.next(what)
        try:
            v = int(t, 0)
        except ValueError:
            raise self.err(f"{what}: {t!r} is not a number") from None
        if not low <= v <= high:
            raise self.err(f"{what}: {v} outside {low}..{high}")
        return v

    def rate(self, what: str, low: int = 1) -> int:
        t = self.next(what)
        m = _RATE.fullmatch(t)
        if m is None:
            raise self.err(f"{what}: {t!r} is not a rate (like 10M)")
        v = int(float(m.group(1)) * {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}[
            m.group(2).lower()])
        if not low <= v <= MAX_BANDWIDTH:
            raise self.err(f"{what}: {v} bit/s outside {low}..{MAX_BANDWIDTH}")
        return v

    def real(self, what: str, low: float, high: float) -> float:
        t = self.next(what)
        try:
            v = float(t)
        except ValueError:
            raise self.err(f"{what}: {t!r} is not a number") from None
        if not low <= v <= high:  # NaN fails here too
            raise self.err(f"{what}: {v} outside {low:g}..{high:g}")
        return v

    def size(self, what: str, high: int) -> int:
        t = self.next(what)
        m = _SIZE.fullmatch(t)
        if m is None:
            raise self.err(f"{what}: {t!r} is not a size in octets")
        v = int(m.group(1)) * {"": 1, "k": 1024, "m": 1 << 20}[m.group(2).lower()]
        if not 1 <= v <= high:
            raise self.err(f"{what}: {v} outside 1..{high}")
        return v

    def name(self, what: str, pat: re.Pattern[str]) -> str:
        t = self.next(what)
        if pat.fullmatch(t) is None:
            raise self.err(f"{what}: {t!r} is not a valid name")
        return t


def auto_tbrsize(bandwidth: int, mtu: int) -> int:
    """pfctl's ``tbrsize`` when none is given: a few frames of the MTU by rate."""
    for limit, n in ((10**6, 1), (10 * 10**6, 4), (200 * 10**6, 8), (2500 * 10**6, 24)):
        if bandwidth <= limit:
            return n * mtu
    return 128 * mtu


class _If:
    def __init__(self, line: int, ifname: str, kind: str, bandwidth: int) -> None:
        self.line = line
        self.ifname = ifname
        self.kind = kind
        self.bandwidth = bandwidth
        self.tbrsize = 0
        self.disc: Discipline | None = None
        self.classes: dict[str, AltqClass] = {}
        self.classifier = Classifier()
        self.conditioners: dict[str, Conditioner] = {}
        self.cdnr_classifier = Classifier()
        self.rt_admitted: list[tuple[str, tuple[int, float, int]]] = []


def parse_altq_conf(text: str, *, mtu: int = 1514, rng: random.Random | None = None) -> AltqConf:
    """Parse ``text`` (altq.conf) into queues ready for :meth:`kame.altq.Altq.attach`;
    ``mtu`` the largest frame (for the automatic ``tbrsize``), ``rng`` RED's
    random source (seeded 0 if none)."""
    if not isinstance(text, str):
        raise TypeError(f"altq.conf text must be str, not {type(text).__name__}")
    rng = rng if rng is not None else random.Random(0)
    ifs: dict[str, _If] = {}
    lines = text.split("\n")
    if len(lines) > MAX_LINES:
        raise AltqConfError(f"more than {MAX_LINES} lines", line=MAX_LINES + 1)
    for n, raw in enumerate(lines, 1):
        if len(raw) > MAX_LINE:
            raise AltqConfError(f"line longer than {MAX_LINE} characters", line=n)
        body = raw.split("#", 1)[0]
        words = body.split()
        if not words:
            continue
        if words[0] == "conditioner":
            words = _CONDITIONER_TOKEN.findall(body)
        w = _Words(words, n)
        head = w.next("keyword")
        if head == "conditioner":
            _conditioner(w, ifs, rng)
        elif head == "interface":
            _interface(w, ifs, mtu, rng)
        elif head == "class":
            _class(w, ifs, rng)
        elif head in ("filter", "filter6"):
            _filter(w, ifs, 4 if head == "filter" else 6)
        elif head in _UNSUPPORTED:
            raise w.err(f"{head}: not supported")
        else:
            raise w.err(f"unknown keyword {head!r}")
    conf = AltqConf()
    for s in ifs.values():
        if s.kind in _CLASSFUL:
            if not s.classes:
                raise AltqConfError(f"{s.ifname}: {s.kind} without classes", line=s.line)
            if not any(c.default for c in s.classes.values()):
                raise AltqConfError(f"{s.ifname}: no default class", line=s.line)
        assert s.disc is not None
        if s.kind in ("hfsc", "cbq"):
            try:
                s.disc.finish()  # type: ignore[attr-defined]
            except ValueError as e:
                raise AltqConfError(f"{s.ifname}: {e}", line=s.line) from None
        tbr = None
        if s.bandwidth:
            tbr = Tbr(s.bandwidth, s.tbrsize or auto_tbrsize(s.bandwidth, mtu))
        q = AltqIf(s.ifname, s.disc, tbr=tbr,
                   classifier=s.classifier if s.classifier.filters else None,
                   bandwidth=s.bandwidth)
        if s.conditioners:
            q.cdnr = Cdnr(s.cdnr_classifier)
            for c in s.conditioners.values():
                q.cdnr.add(c)
        conf.ifs[s.ifname] = q
        conf.lines[s.ifname] = s.line
    return conf


def _interface(w: _Words, ifs: dict[str, _If], mtu: int, rng: random.Random) -> None:
    ifname = w.name("interface name", _IFNAME)
    if ifname in ifs:
        raise w.err(f"interface {ifname} already configured (line {ifs[ifname].line})")
    bandwidth = tbrsize = 0
    kind = ""
    opts: dict[str, int] = {}
    ecn = flowvalve = efficient = separate = False
    hash_policy = ""
    while w.more():
        t = w.next("option")
        if t == "bandwidth" and not kind:
            if bandwidth:
                raise w.err("bandwidth given twice")
            bandwidth = w.rate("bandwidth")
        elif t == "tbrsize" and not kind:
            if tbrsize:
                raise w.err("tbrsize given twice")
            tbrsize = w.size("tbrsize", MAX_TBRSIZE)
        elif t in _DISCIPLINES and not kind:
            kind = t
        elif t in _UNSUPPORTED and not kind:
            raise w.err(f"{t}: not supported")
        elif t == "ecn" and kind in ("red", "rio", "blue") and not ecn:
            ecn = True
        elif t == "flowvalve" and kind == "red" and not flowvalve:
            flowvalve = True
        elif t == "efficient" and kind == "cbq" and not efficient:
            efficient = True
        elif t == "separate" and kind == "jobs" and not separate:
            separate = True
        elif t == "hash" and kind == "wfq" and not hash_policy:
            hash_policy = w.next("hash policy")
            if hash_policy not in HASH_POLICIES:
                raise w.err(f"hash {hash_policy!r}: one of {', '.join(HASH_POLICIES)}")
        elif t == "qsize" and kind == "wfq" and "qsize" not in opts:
            opts["qsize"] = w.size("qsize", MAX_QSIZE)
        elif kind and t not in opts and t in _IF_OPTS.get(kind, {}):
            lo, hi = _IF_OPTS[kind][t]
            opts[t] = w.num(t, lo, hi)
        else:
            raise w.err(f"unexpected {t!r}" + (f" for {kind}" if kind else ""))
    if tbrsize and not bandwidth:
        raise w.err("tbrsize needs bandwidth")
    if kind in ("hfsc", "cbq", "jobs") and not bandwidth:
        raise w.err(f"{kind} needs bandwidth")
    kind = kind or "fifoq"
    s = _If(w.line, ifname, kind, bandwidth)
    s.tbrsize = tbrsize
    try:
        if kind == "fifoq":
            s.disc = Fifoq(AltqClass(kind, qlimit=opts.get("qlimit", DEFAULT_QLIMIT)))
        elif kind == "red":
            red = Red(opts.get("thmin", TH_MIN), opts.get("thmax", TH_MAX),
                      opts.get("invpmax", INV_P_MAX), weight=opts.get("weight", W_WEIGHT),
                      ecn=ecn, bandwidth=bandwidth, rng=rng)
            if flowvalve:
                red.fv = FlowValve(red.st.th_max, red.st.inv_pmax)
            s.disc = Fifoq(AltqClass(kind, qlimit=opts.get("qlimit", RED_LIMIT), red=red), "red")
        elif kind == "rio":
            params = tuple(
                (opts.get(p + "_thmin", d[0]), opts.get(p + "_thmax", d[1]),
                 opts.get(p + "_invpmax", d[2]))
                for p, d in zip(("lo", "med", "hi"), RIO_DEFAULTS))
            rio = Rio(params, weight=opts.get("weight", W_WEIGHT), ecn=ecn,
                      bandwidth=bandwidth, rng=rng)
            s.disc = Fifoq(AltqClass(kind, qlimit=opts.get("qlimit", RED_LIMIT * 2), red=rio),
                           "rio")
        elif kind == "priq":
            s.disc = Priq()
        elif kind == "cbq":
            s.disc = Cbq(bandwidth, efficient=efficient, pktsize=mtu - 14)
        elif kind == "jobs":
            s.disc = Jobs(bandwidth, qlimit=opts.get("qlimit", JOBS_QLIMIT), separate=separate)
        elif kind == "wfq":
            s.disc = Wfq(nqueues=opts.get("nqueues", DEFAULT_NQUEUES),
                         qsize=opts.get("qsize", DEFAULT_QSIZE),
                         hash_policy=hash_policy or "dstaddr")
        elif kind == "blue":
            s.disc = Blue(AltqClass(kind, qlimit=opts.get("qlimit", BLUE_LIMIT)),
                          max_pmark=opts.get("maxpmark", BLUE_MAX_PMARK),
                          hold_time=opts.get("holdtime", int(BLUE_HOLD_TIME * 1000)) / 1000.0,
                          ecn=ecn, rng=rng)
        else:
            from kame.altq.hfsc import Hfsc

            s.disc = Hfsc(bandwidth)
            s.classes["root"] = s.disc.root  # type: ignore[attr-defined]
    except ValueError as e:
        raise w.err(str(e)) from None
    ifs[ifname] = s


_RED_OPTS = {"thmin": (0, MAX_QLIMIT), "thmax": (1, MAX_QLIMIT), "invpmax": (1, 1 << 16),
             "weight": (1, 1 << 16), "qlimit": (1, MAX_QLIMIT)}
_IF_OPTS: dict[str, dict[str, tuple[int, int]]] = {
    "fifoq": {"qlimit": (1, MAX_QLIMIT)},
    "red": _RED_OPTS,
    "rio": {**{f"{p}_{k}": v for p in ("lo", "med", "hi")
               for k, v in _RED_OPTS.items() if k in ("thmin", "thmax", "invpmax")},
            "weight": (1, 1 << 16), "qlimit": (1, MAX_QLIMIT)},
    "wfq": {"nqueues": (1, MAX_NQUEUES)},
    "jobs": {"qlimit": (1, MAX_QLIMIT)},
    "blue": {"qlimit": (1, MAX_QLIMIT), "maxpmark": (8, 1 << 16), "holdtime": (1, 60_000),
             "packetsize": (64, 65535)},
}


def _class(w: _Words, ifs: dict[str, _If], rng: random.Random) -> None:
    kind = w.next("class type")
    if kind in _UNSUPPORTED:
        raise w.err(f"class {kind}: not supported")
    if kind not in _CLASSFUL:
        raise w.err(f"class type {kind!r}: priq, hfsc or cbq")
    ifname = w.name("interface name", _IFNAME)
    s = ifs.get(ifname)
    if s is None:
        raise w.err(f"interface {ifname} not declared before its classes")
    if s.kind != kind:
        raise w.err(f"class {kind} on interface {ifname}, which runs {s.kind}")
    name = w.name("class name", _CLNAME)
    if name in s.classes or name == "NULL" or name in s.conditioners:
        raise w.err(f"class {name} already defined on {ifname}")
    parent = w.name("parent class", _CLNAME)
    qlimit = DEFAULT_QLIMIT
    default = ecn = cleardscp = flowvalve = borrow = control = False
    red = ""
    priority = -1
    curves: dict[str, tuple[int, float, int]] = {}
    pshare = grate = -1
    admission = "cntlload"
    cbq: dict[str, int] = {}
    jobs: dict[str, float] = {}
    for t in w.options():
        if t == "priority" and kind in ("priq", "cbq", "jobs"):
            priority = w.num("priority", 0, CBQ_MAXPRI - 1 if kind == "cbq" else 15)
        elif kind == "jobs" and t in ("adc", "alc", "arc", "rdc", "rlc"):
            if t == "adc":
                jobs[t] = w.num("adc (us)", 1, 60_000_000) / 1e6
            elif t == "arc":
                jobs[t] = float(w.rate("arc"))
            elif t == "alc":
                jobs[t] = w.real("alc", 0.0, 1.0)
            else:
                jobs[t] = w.real(t, 1e-3, 1e3)
        elif t == "qlimit":
            qlimit = w.num("qlimit", 1, MAX_QLIMIT)
        elif t == "default":
            default = True
        elif t in ("red", "rio") and not red:
            red = t
        elif t == "ecn":
            ecn = True
        elif t == "flowvalve":
            flowvalve = True
        elif t == "cleardscp":
            cleardscp = True
        elif kind == "hfsc" and t in ("sc", "rt", "ls", "ul"):
            m1 = w.rate(f"{t} m1", 0)
            d = w.num(f"{t} d (ms)", 0, 3_600_000)
            m2 = w.rate(f"{t} m2", 0)
            curves[t] = (m1, d / 1000.0, m2)
        elif kind == "hfsc" and t == "pshare":
            pshare = w.num("pshare", 0, 100)
        elif kind == "hfsc" and t == "grate":
            grate = w.rate("grate", 0)
        elif kind == "hfsc" and t == "admission":
            admission = w.next("admission")
            if admission not in ("cntlload", "none"):
                raise w.err(f"admission {admission!r}: cntlload or none")
        elif kind == "cbq" and t == "borrow":
            borrow = True
        elif kind == "cbq" and t == "control":
            control = True
        elif kind == "cbq" and t == "pbandwidth":
            cbq["pbandwidth"] = w.num("pbandwidth", 1, 100)
        elif kind == "cbq" and t == "bandwidth":
            cbq["bandwidth"] = w.rate("bandwidth")
        elif kind == "cbq" and t in ("maxburst", "minburst"):
            cbq[t] = w.num(t, 1, 1024)
        elif kind == "cbq" and t in ("packetsize", "maxpacketsize"):
            cbq[t] = w.num(t, 64, 65535)
        elif kind == "cbq" and t == "maxdelay":
            raise w.err("maxdelay: not supported (maxburst/minburst set the delays)")
        else:
            raise w.err(f"unexpected {t!r} in class {kind}")
    if ecn and not red:
        raise w.err("ecn needs red or rio")
    if flowvalve and red != "red":
        raise w.err("flowvalve needs red")
    if red == "red":
        rd = Red(max(qlimit * 10 // 100, 0), max(qlimit * 30 // 100, 1), ecn=ecn,
                 bandwidth=s.bandwidth, rng=rng)
        if flowvalve:
            rd.fv = FlowValve(rd.st.th_max, rd.st.inv_pmax)
        rq: Red | Rio | None = rd
    elif red == "rio":
        rq = Rio(ecn=ecn, bandwidth=s.bandwidth, rng=rng)
    else:
        rq = None
    if default and any(c.default for c in s.classes.values()):
        raise w.err(f"a second default class on {ifname}")
    try:
        if kind == "priq":
            if parent != "NULL":
                raise w.err("a priq class's parent is NULL")
            if priority < 0:
                raise w.err("priq class without priority")
            cls = AltqClass(name, qlimit=qlimit, default=default, red=rq)
            s.disc.add_class(cls, priority)  # type: ignore[union-attr]
        elif kind == "jobs":
            if parent != "NULL":
                raise w.err("a jobs class's parent is NULL")
            if priority < 0:
                raise w.err("jobs class without priority")
            if red:
                raise w.err("jobs manages its own buffer: no red or rio")
            jd: Jobs = s.disc  # type: ignore[assignment]
            cls = JobsClass(name, priority, qlimit=jd.qlimit, default=default, **jobs)
            jd.add_class(cls)
        elif kind == "cbq":
            cls = _cbq_class(w, s, name, parent, cbq, priority, borrow, control, qlimit,
                             default, rq)
        else:
            if parent not in s.classes:
                raise w.err(f"parent class {parent} not defined on {ifname}")
            if any(f.cls is s.classes[parent] for f in s.classifier.filters):
                raise w.err(f"parent class {parent} is a filter's class (a leaf)")
            if "sc" in curves and ({"rt", "ls"} & curves.keys()):
                raise w.err("sc with rt or ls")
            if "sc" in curves:
                curves["rt"] = curves["ls"] = curves.pop("sc")
            if pshare >= 0:
                if "ls" in curves:
                    raise w.err("pshare with ls")
                curves["ls"] = (0, 0.0, s.bandwidth * pshare // 100)
            if grate >= 0:
                if "rt" in curves:
                    raise w.err("grate with rt")
                curves["rt"] = (0, 0.0, grate)
            rt = curves.get("rt")
            if admission == "cntlload" and rt is not None and (rt[0] or rt[2]):
                # hfsc admission control: the real-time curves of all the
                # classes fit under the link's line
                over = rt_admission(s.rt_admitted + [(name, rt)], s.bandwidth)
                if over is not None:
                    raise w.err(f"admission control: {over}")
            hd: Hfsc = s.disc  # type: ignore[assignment]
            cls = hd.add_class(name, s.classes[parent], rt=rt,
                               ls=curves.get("ls"), ul=curves.get("ul"), qlimit=qlimit,
                               default=default, red=rq)
            if admission == "cntlload" and rt is not None and (rt[0] or rt[2]):
                s.rt_admitted.append((name, rt))
    except AltqConfError:
        raise
    except ValueError as e:
        raise w.err(str(e)) from None
    cls.cleardscp = cleardscp
    s.classes[name] = cls


def _cbq_class(w: _Words, s: _If, name: str, parent: str, o: dict[str, int], priority: int,
               borrow: bool, control: bool, qlimit: int, default: bool,
               rq: Red | Rio | None) -> AltqClass:
    from kame.altq.cbq import DEFAULT_MAXBURST, DEFAULT_MINBURST, DEFAULT_PRIORITY

    cd: Cbq = s.disc  # type: ignore[assignment]
    if "pbandwidth" in o and "bandwidth" in o:
        raise w.err("both pbandwidth and bandwidth")
    if "pbandwidth" in o:
        share = o["pbandwidth"] / 100.0
    elif "bandwidth" in o:
        if o["bandwidth"] > s.bandwidth:
            raise w.err(f"bandwidth {o['bandwidth']} over the interface's {s.bandwidth}")
        share = o["bandwidth"] / s.bandwidth
    else:
        raise w.err("class cbq without pbandwidth or bandwidth")
    if parent == "NULL":
        pcls = None
    else:
        pc = s.classes.get(parent)
        if pc is None:
            raise w.err(f"parent class {parent} not defined on {s.ifname}")
        if any(f.cls is pc for f in s.classifier.filters):
            raise w.err(f"parent class {parent} is a filter's class (a leaf)")
        assert isinstance(pc, CbqClass)
        pcls = pc
    if pcls is None and (default or control):
        raise w.err("the root class (parent NULL) is not a leaf: no default or control")
    return cd.add_class(name, pcls, share=share,
                        priority=DEFAULT_PRIORITY if priority < 0 else priority,
                        borrow=borrow, maxburst=o.get("maxburst", DEFAULT_MAXBURST),
                        minburst=o.get("minburst", DEFAULT_MINBURST),
                        pktsize=o.get("packetsize", 0), maxpktsize=o.get("maxpacketsize", 0),
                        qlimit=qlimit, default=default, control=control, red=rq)


def _action(w: _Words, depth: int, rng: random.Random) -> Action:
    """One ``<...>`` element of a conditioner line."""
    if depth > CDNR_MAX_DEPTH:
        raise w.err(f"conditioner: actions nested deeper than {CDNR_MAX_DEPTH}")
    if w.next("'<'") != "<":
        raise w.err("conditioner: an action starts with '<'")
    t = w.next("action")
    act: Action
    if t == "pass":
        act = Pass()
    elif t == "drop":
        act = Drop()
    elif t == "mark":
        act = Mark(w.num("mark codepoint", 0, 0xFF))
    elif t == "tbmeter":
        rate = w.rate("tbmeter rate")
        depth_ = w.size("tbmeter depth", MAX_TBRSIZE)
        act = TbMeter(rate, depth_, _action(w, depth + 1, rng), _action(w, depth + 1, rng))
    elif t in ("trtcm", "srtcm"):
        cir = w.rate(f"{t} committed rate")
        cbs = w.size(f"{t} committed depth", MAX_TBRSIZE)
        if t == "trtcm":
            pir = w.rate("trtcm peak rate")
            pbs = w.size("trtcm peak depth", MAX_TBRSIZE)
        else:
            ebs = w.size("srtcm excess depth", MAX_TBRSIZE)
        acts = (_action(w, depth + 1, rng), _action(w, depth + 1, rng),
                _action(w, depth + 1, rng))
        aware = False
        if w.more() and w.w[w.i] in ("coloraware", "colorblind"):
            aware = w.next("mode") == "coloraware"
        act = (TrTcm(cir, cbs, pir, pbs, acts, aware) if t == "trtcm"
               else SrTcm(cir, cbs, ebs, acts, aware))
    elif t == "tswtcm":
        ctr = w.rate("tswtcm committed rate")
        ptr = w.rate("tswtcm peak rate")
        win = w.num("tswtcm avg_interval (ms)", 1, 60_000)
        acts = (_action(w, depth + 1, rng), _action(w, depth + 1, rng),
                _action(w, depth + 1, rng))
        act = TswTcm(ctr, ptr, win / 1000.0, acts, rng)
    else:
        raise w.err(f"conditioner: unknown action {t!r}")
    if w.next("'>'") != ">":
        raise w.err(f"conditioner: {t} takes no more arguments ('>' expected)")
    return act


def _conditioner(w: _Words, ifs: dict[str, _If], rng: random.Random) -> None:
    """``conditioner IF NAME <action>``."""
    ifname = w.name("interface name", _IFNAME)
    s = ifs.get(ifname)
    if s is None:
        raise w.err(f"interface {ifname} not declared before its conditioners")
    name = w.name("conditioner name", _CLNAME)
    if name in s.conditioners or name in s.classes:
        raise w.err(f"{name} already defined on {ifname}")
    if len(s.conditioners) >= MAX_CONDITIONERS:
        raise w.err(f"more than {MAX_CONDITIONERS} conditioners on {ifname}")
    try:
        act = _action(w, 0, rng)
    except AltqConfError:
        raise
    except ValueError as e:
        raise w.err(str(e)) from None
    if w.more():
        raise w.err(f"unexpected {w.w[w.i]!r} after the conditioner's action")
    s.conditioners[name] = Conditioner(name, act)


def _addr(w: _Words, family: int) -> tuple[int, int]:
    t = w.next("address")
    bits = 32 if family == 4 else 128
    if t == "0":
        return 0, 0
    a, sep, plen_s = t.partition("/")
    try:
        v = int(IPv4Address(a) if family == 4 else IPv6Address(a))
    except (AddressValueError, ValueError):
        raise w.err(f"{t!r} is not an IPv{family} address") from None
    plen = bits
    if sep:
        if not plen_s.isdigit() or not 0 <= int(plen_s) <= bits:
            raise w.err(f"{t!r}: prefix length 0..{bits}")
        plen = int(plen_s)
    if family == 4 and w.more() and w.w[w.i] == "netmask":
        w.next("netmask")
        if sep:
            raise w.err("both a prefix length and a netmask")
        m = w.next("netmask value")
        try:
            mv = int(IPv4Address(m))
        except (AddressValueError, ValueError):
            raise w.err(f"netmask {m!r} is not an address") from None
        plen = mv.bit_count()
        if mv != ((1 << plen) - 1) << (32 - plen):
            raise w.err(f"netmask {m} is not contiguous")
    if v & ~(((1 << plen) - 1) << (bits - plen)) & ((1 << bits) - 1):
        raise w.err(f"{t}: host bits set beyond the prefix")
    return v, plen


def _proto(w: _Words) -> int:
    t = w.next("protocol")
    if t in _PROTOS:
        return _PROTOS[t]
    try:
        v = int(t, 0)
    except ValueError:
        raise w.err(f"protocol {t!r}: a number 0..255 or a name") from None
    if not 0 <= v <= 255:
        raise w.err(f"protocol {v} outside 0..255")
    return v


def _filter(w: _Words, ifs: dict[str, _If], family: int) -> None:
    ifname = w.name("interface name", _IFNAME)
    s = ifs.get(ifname)
    if s is None:
        raise w.err(f"interface {ifname} not declared before its filters")
    name = w.name("class name", _CLNAME)
    cond = s.conditioners.get(name)
    cls = s.classes.get(name) if cond is None else cond.tag
    if cls is None or cond is None and s.kind not in _CLASSFUL:
        raise w.err(f"no class {name} on {ifname}")
    if (s.kind == "hfsc" and name == "root" or getattr(cls, "children", None)
            or isinstance(cls, CbqClass) and cls.parent is None):
        raise w.err(f"class {name} is not a leaf")
    dst, dplen = _addr(w, family)
    dport = w.num("destination port", 0, 65535)
    src, splen = _addr(w, family)
    sport = w.num("source port", 0, 65535)
    proto = _proto(w)
    tos = tosmask = flowlabel = gpi = 0
    tk, mk = ("tos", "tosmask") if family == 4 else ("tclass", "tclassmask")
    seen: set[str] = set()
    for t in w.options(seen):
        if t == tk:
            tos = w.num(t, 0, 255)
            tosmask = 0xFF
        elif t == mk and tk in seen:
            tosmask = w.num(t, 0, 255)
        elif t == "flowlabel" and family == 6:
            flowlabel = w.num("flowlabel", 0, 0xFFFFF)
        elif t == "gpi":
            gpi = w.num("gpi", 0, 0xFFFFFFFF)
        else:
            raise w.err(f"unexpected {t!r} in {'filter' if family == 4 else 'filter6'}")
    try:
        (s.classifier if cond is None else s.cdnr_classifier).add(Filter(family, cls, dst=dst, dplen=dplen, src=src, splen=splen,
                                dport=dport, sport=sport, proto=proto, tos=tos,
                                tosmask=tosmask, flowlabel=flowlabel, gpi=gpi))
    except ValueError as e:
        raise w.err(str(e)) from None
