"""The Security Association Database (KAME ``netkey/key.c``, ``keydb.c``).

SAs are keyed by ``(dst, proto, spi)`` as RFC 4301 §4.4.2 and KAME's
``key_allocsa`` look them up on input. Each SA walks the states of RFC 2367
(``SADB_SASTATE_LARVAL`` -> ``MATURE`` -> ``DYING`` -> ``DEAD``):

- ``getspi`` makes a LARVAL SA (an SPI reserved for an IKE daemon), which
  ``update`` fills in and makes MATURE, or which dies after
  ``net.key.larval_lifetime`` seconds; the SPI is drawn at random in the
  range asked for, up to ``net.key.spi_trycnt`` (1000) draws, as KAME's
  ``key_do_getnewspi`` does (an SPI that counts up from 256 tells an
  off-path attacker which SPIs are live);
- a soft lifetime (seconds since creation, seconds since first use, bytes,
  allocations) moves a MATURE SA to DYING and queues a soft ``Expire``;
- a hard lifetime removes the SA (DEAD) and queues a hard ``Expire``.

Time is passed in (``now``); the SAD never reads a clock. ``acquire``
queues an ``Acquire`` (``SADB_ACQUIRE``) when output finds no SA, at most
once per ``blockacq_lifetime`` seconds for one (src, dst, proto, mode,
reqid), as KAME's ``key_acquire`` with its ``acqtree``.

The transforms themselves are the core's :class:`kame.ipsec.EspSa`,
:class:`AhSa` and :class:`IpcompSa`, built from the SA on first use.
"""

from __future__ import annotations

import errno
import math
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

from kame.errors import KameError
from kame.gate import Gate

#: SPIs are drawn from the system's random source (KAME: arc4random).
_spi_random = random.SystemRandom()

__all__ = [
    "PROTO_NUMBERS",
    "SATYPES",
    "Acquire",
    "Expire",
    "KeyEngineError",
    "Lifetime",
    "SaState",
    "Sad",
    "SecAsVar",
]

Addr = IPv6Address | IPv4Address

#: setkey protocol name -> IP protocol number
PROTO_NUMBERS: dict[str, int] = {"esp": 50, "ah": 51, "ipcomp": 108}
#: setkey protocol name -> PF_KEY SA type (RFC 2367 §2.3.3; IPComp as KAME/Linux)
SATYPES: dict[str, int] = {"ah": 2, "esp": 3, "ipcomp": 9}


class KeyEngineError(KameError, ValueError):
    """A refused key or policy operation; ``errno`` is what a PF_KEY reply
    would carry in ``sadb_msg_errno`` (EEXIST, ESRCH, EINVAL, ENOENT)."""

    def __init__(self, message: str, err: int = errno.EINVAL) -> None:
        super().__init__(message, layer="key")
        self.errno = err


class SaState(IntEnum):
    """``SADB_SASTATE_*``."""

    LARVAL = 0
    MATURE = 1
    DYING = 2
    DEAD = 3


@dataclass
class Lifetime:
    """``struct sadb_lifetime``: 0 means no limit."""

    allocations: int = 0
    bytes: int = 0
    addtime: int = 0
    usetime: int = 0

    def __bool__(self) -> bool:
        return bool(self.allocations or self.bytes or self.addtime or self.usetime)


@dataclass(frozen=True)
class Expire:
    """``SADB_EXPIRE``: ``kind`` is "soft" or "hard"."""

    sa: SecAsVar
    kind: str
    now: float


@dataclass(frozen=True)
class Acquire:
    """``SADB_ACQUIRE``: output needs an SA that the SAD does not have."""

    src: Addr
    dst: Addr
    proto: str
    mode: str
    reqid: int
    seq: int
    now: float
    #: the id of the outbound policy that asked (0: none): the ACQUIRE's
    #: SADB_X_EXT_POLICY, from which the daemon reads the selectors
    spid: int = 0


@dataclass(eq=False)
class SecAsVar:
    """One SA (KAME ``struct secasvar`` with its ``secasindex``)."""

    proto: str  # "esp" | "ah" | "ipcomp"
    src: Addr
    dst: Addr
    spi: int
    mode: str = "any"  # "transport" | "tunnel" | "any" (setkey -m)
    reqid: int = 0
    replay: int = 0  # anti-replay window in packets (setkey -r); 0 = off
    enc: str | None = None
    enc_key: bytes = b""
    auth: str | None = None
    auth_key: bytes = b""
    comp: str | None = None
    old: bool = False  # esp-old / ah-old (RFC 1826-1829)
    flags: int = 0
    hard: Lifetime = field(default_factory=Lifetime)
    soft: Lifetime = field(default_factory=Lifetime)
    state: SaState = SaState.MATURE
    created: float = 0.0
    first_use: float | None = None
    cur_bytes: int = 0
    cur_allocs: int = 0
    seq: int = 0  # sadb_msg_seq of the message that made it
    pid: int = 0
    #: ``net.inet6.ipsec6.esp_randpad`` when the SA was added (seed §4.3)
    randpad: int = -1
    #: ``net.inet6.ipsec6.ecn`` when the SA was added (seed §4.6, tunnel mode)
    ecn: int = 0
    #: RFC 3948 ESP-in-UDP ports (sport, dport), from SADB_X_EXT_NAT_T_*
    udp_encap: tuple[int, int] | None = None
    _xform: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.proto not in PROTO_NUMBERS:
            raise KeyEngineError(f"unknown SA protocol {self.proto!r}")
        if not isinstance(self.src, IPv6Address | IPv4Address):
            self.src = ip_address(self.src)
        if not isinstance(self.dst, IPv6Address | IPv4Address):
            self.dst = ip_address(self.dst)
        if self.src.version != self.dst.version:
            raise KeyEngineError("source and destination address families differ")
        if not 0 <= self.spi <= 0xFFFFFFFF:
            raise KeyEngineError(f"SPI {self.spi} out of range")
        if self.proto == "ipcomp":
            if self.spi > 0xFFFF:
                raise KeyEngineError(f"CPI {self.spi} out of range (16 bits)")
        elif self.spi < 256 and self.state != SaState.LARVAL:
            raise KeyEngineError(f"SPI {self.spi} is reserved (RFC 4303 §2.1: 1-255)")
        if self.mode not in ("transport", "tunnel", "any"):
            raise KeyEngineError(f"unknown mode {self.mode!r}")
        if not 0 <= self.replay <= 4096:
            raise KeyEngineError(f"replay window {self.replay} out of range 0-4096")

    @property
    def key(self) -> tuple[Addr, str, int]:
        return (self.dst, self.proto, self.spi)

    @property
    def usable(self) -> bool:
        return self.state in (SaState.MATURE, SaState.DYING)

    def transform(self, mode: str | None = None) -> Any:
        """The core transform for this SA, built on first use per mode
        (an SA of mode "any" serves transport and tunnel requests)."""
        m = self.mode if mode is None or self.mode != "any" else mode
        if m == "any":
            m = "transport"
        x = self._xform.get(m)
        if x is None:
            x = self._build(m)
            self._xform[m] = x
        return x

    def _build(self, mode: str) -> Any:
        from kame._core import AhSa, EspSa, IpcompSa

        tun: dict[str, Any] = {}
        if mode == "tunnel":
            tun = {"mode": "tunnel", "tunnel_src": str(self.src), "tunnel_dst": str(self.dst),
                   "ecn": self.ecn}
        try:
            if self.proto == "esp":
                return EspSa(self.spi, self.enc or "null", self.enc_key or None,
                             self.auth if self.auth not in (None, "null") or self.old else None,
                             self.auth_key or None, replay_window=self.replay, old=self.old,
                             randpad=self.randpad, udp_encap=self.udp_encap, **tun)
            if self.proto == "ah":
                return AhSa(self.spi, self.auth or "null", self.auth_key, self.old,
                            replay_window=self.replay, **tun)
            tun.pop("ecn", None)
            return IpcompSa(self.spi, **tun)
        except (ValueError, TypeError, KameError) as e:
            raise KeyEngineError(f"{self.proto} SA 0x{self.spi:x}: {e}") from e

    def check(self) -> None:
        """Build the transform now so that bad algorithms/keys fail at add time."""
        self._build("transport" if self.mode != "tunnel" else "tunnel")


class Sad:
    """The SAD of one key engine; see the module docstring."""

    #: Acquires remembered at once: the outbound packets that make them
    #: follow the link (replies to a flood from random sources under a
    #: ``require`` policy), so the oldest is forgotten past this many.
    MAX_ACQUIRES = 1024

    #: ``net.key.spi_trycnt``: random draws before ``getspi`` gives up.
    SPI_TRYCNT = 1000

    def __init__(self, *, larval_lifetime: float = 30.0, blockacq_lifetime: float = 20.0,
                 preferred_oldsa: bool = True) -> None:
        self._sas: dict[tuple[Addr, str, int], SecAsVar] = {}
        self.larval_lifetime = larval_lifetime
        self.blockacq_lifetime = blockacq_lifetime
        #: ``net.key.preferred_oldsa``: on output, use the oldest usable SA.
        self.preferred_oldsa = preferred_oldsa
        self.events: deque[Expire | Acquire] = deque(maxlen=10000)
        #: The node's next-deadline gate (:mod:`kame.gate`): every SA
        #: lifetime armed lowers it, every event queued opens it (the node
        #: hands its own).
        self.gate = Gate()
        # in order of time (oldest first): expiry and the cap cost O(1)
        self._acq: dict[tuple[Addr, Addr, str, str, int], float] = {}
        self._acq_seq = 0

    def __len__(self) -> int:
        return len(self._sas)

    def __iter__(self) -> Iterator[SecAsVar]:
        return iter(list(self._sas.values()))

    # --- SADB_ADD / UPDATE / GETSPI / GET / DELETE / FLUSH / DUMP -------------

    def add(self, sa: SecAsVar, now: float) -> SecAsVar:
        if sa.key in self._sas:
            raise KeyEngineError(f"SA {sa.dst} {sa.proto} spi=0x{sa.spi:x} exists",
                                 errno.EEXIST)
        sa.check()
        sa.created = now
        sa.state = SaState.MATURE
        self._sas[sa.key] = sa
        self._acq.pop((sa.src, sa.dst, sa.proto, sa.mode, sa.reqid), None)
        self.gate.arm(self._sa_deadline(sa))
        return sa

    def getspi(self, proto: str, src: Addr, dst: Addr, now: float, *,
               lo: int = 256, hi: int = 0xFFFFFFFF, mode: str = "any", reqid: int = 0,
               seq: int = 0) -> SecAsVar:
        """``SADB_GETSPI``: reserve a free SPI in [lo, hi] as a LARVAL SA.

        KAME's ``key_do_getnewspi``: the SPI is drawn at random from the
        range, up to ``SPI_TRYCNT`` draws; a range of at most that many
        values is searched whole instead, so that a nearly full small range
        still gives its last free SPI. EEXIST when none is free."""
        dst_a = ip_address(dst) if isinstance(dst, str) else dst
        if proto == "ipcomp":
            hi = min(hi, 0xFFFF)
        lo = max(lo, 1 if proto == "ipcomp" else 256)
        n = hi - lo + 1
        if n <= self.SPI_TRYCNT:
            tries: Iterator[int] = iter(_spi_random.sample(range(lo, hi + 1), n) if n > 0 else ())
        else:
            tries = (lo + _spi_random.randrange(n) for _ in range(self.SPI_TRYCNT))
        for spi in tries:
            if (dst_a, proto, spi) not in self._sas:
                sa = SecAsVar(proto, src, dst_a, spi, mode=mode, reqid=reqid,
                              state=SaState.LARVAL, created=now, seq=seq)
                self._sas[sa.key] = sa
                self.gate.arm(now + self.larval_lifetime)
                return sa
        raise KeyEngineError("no free SPI in range", errno.EEXIST)

    def update(self, sa: SecAsVar, now: float) -> SecAsVar:
        """``SADB_UPDATE``: fill a LARVAL SA in, making it MATURE."""
        old = self._sas.get(sa.key)
        if old is None:
            raise KeyEngineError(f"no SA {sa.dst} {sa.proto} spi=0x{sa.spi:x}", errno.ESRCH)
        if old.state != SaState.LARVAL:
            raise KeyEngineError("SA is not larval", errno.EINVAL)
        sa.check()
        sa.created = old.created
        sa.state = SaState.MATURE
        self._sas[sa.key] = sa
        self.gate.arm(self._sa_deadline(sa))
        return sa

    def get(self, dst: Addr | str, proto: str, spi: int) -> SecAsVar | None:
        """``key_allocsa``: the SA that inbound ``(dst, proto, spi)`` names."""
        d = ip_address(dst) if isinstance(dst, str) else dst
        return self._sas.get((d, proto, spi))

    def delete(self, src: Addr | str, dst: Addr | str, proto: str, spi: int) -> SecAsVar:
        sa = self.get(dst, proto, spi)
        s = ip_address(src) if isinstance(src, str) else src
        if sa is None or sa.src != s:
            raise KeyEngineError(f"no SA {src} {dst} {proto} spi=0x{spi:x}", errno.ESRCH)
        sa.state = SaState.DEAD
        del self._sas[sa.key]
        return sa

    def deleteall(self, src: Addr | str, dst: Addr | str, proto: str) -> list[SecAsVar]:
        s = ip_address(src) if isinstance(src, str) else src
        d = ip_address(dst) if isinstance(dst, str) else dst
        gone = [sa for sa in self._sas.values() if sa.src == s and sa.dst == d
                and sa.proto == proto]
        for sa in gone:
            sa.state = SaState.DEAD
            del self._sas[sa.key]
        return gone

    def flush(self, proto: str | None = None) -> int:
        gone = [k for k, sa in self._sas.items() if proto is None or sa.proto == proto]
        for k in gone:
            self._sas.pop(k).state = SaState.DEAD
        return len(gone)

    def dump(self, proto: str | None = None) -> list[SecAsVar]:
        return [sa for sa in self._sas.values() if proto is None or sa.proto == proto]

    # --- output side --------------------------------------------------------------

    def lookup_out(self, src: Addr, dst: Addr, proto: str, mode: str,
                   reqid: int = 0) -> SecAsVar | None:
        """``key_allocsa_policy``: a usable SA from ``src`` to ``dst``, MATURE
        before DYING, then the oldest (``preferred_oldsa``) or newest one.
        A request with a ``reqid`` (level unique) takes only SAs of that reqid."""
        best: SecAsVar | None = None
        for sa in self._sas.values():
            if sa.proto != proto or sa.dst != dst or sa.src != src or not sa.usable:
                continue
            if sa.mode not in (mode, "any"):
                continue
            if reqid and sa.reqid != reqid:
                continue
            if best is None:
                best = sa
                continue
            if (sa.state == SaState.MATURE) != (best.state == SaState.MATURE):
                if sa.state == SaState.MATURE:
                    best = sa
                continue
            if (sa.created < best.created) == self.preferred_oldsa and sa.created != best.created:
                best = sa
        return best

    def acquire(self, src: Addr, dst: Addr, proto: str, mode: str, reqid: int,
                now: float, spid: int = 0) -> Acquire | None:
        """Queue ``SADB_ACQUIRE`` unless one is pending for the same request."""
        k = (src, dst, proto, mode, reqid)
        t = self._acq.get(k)
        if t is not None and now - t < self.blockacq_lifetime:
            return None
        if t is not None:
            del self._acq[k]  # to the end: the dict stays in order of time
        elif len(self._acq) >= self.MAX_ACQUIRES:
            del self._acq[next(iter(self._acq))]
        self._acq[k] = now
        self._acq_seq += 1
        ev = Acquire(src, dst, proto, mode, reqid, self._acq_seq, now, spid)
        self.events.append(ev)
        self.gate.open()  # the next poll passes it on (and ages the acquires)
        return ev

    def use(self, sa: SecAsVar, nbytes: int, now: float) -> bool:
        """Account one packet of ``nbytes`` on ``sa``; False if that hit a
        hard limit (the SA is gone and the packet must be dropped)."""
        if sa.first_use is None:
            sa.first_use = now
            self.gate.arm(self._sa_deadline(sa))  # the use-time lifetimes start
        sa.cur_bytes += nbytes
        sa.cur_allocs += 1
        self._check(sa, now)
        if self.events:
            self.gate.open()  # an expiration by bytes or allocations: the next poll tells
        return sa.state != SaState.DEAD

    # --- timers -------------------------------------------------------------------

    def _over(self, lt: Lifetime, sa: SecAsVar, now: float) -> bool:
        if not lt:
            return False
        if lt.bytes and sa.cur_bytes >= lt.bytes:
            return True
        if lt.allocations and sa.cur_allocs >= lt.allocations:
            return True
        if lt.addtime and now - sa.created >= lt.addtime:
            return True
        return bool(lt.usetime and sa.first_use is not None and now - sa.first_use >= lt.usetime)

    def _check(self, sa: SecAsVar, now: float) -> None:
        if sa.state == SaState.LARVAL:
            if now - sa.created >= self.larval_lifetime:
                sa.state = SaState.DEAD
                self._sas.pop(sa.key, None)
            return
        if self._over(sa.hard, sa, now):
            sa.state = SaState.DEAD
            self._sas.pop(sa.key, None)
            self.events.append(Expire(sa, "hard", now))
            return
        if sa.state == SaState.MATURE and self._over(sa.soft, sa, now):
            sa.state = SaState.DYING
            self.events.append(Expire(sa, "soft", now))

    def timehandler(self, now: float) -> None:
        """``key_timehandler``: age every SA and forget old acquires."""
        for sa in list(self._sas.values()):
            self._check(sa, now)
        acq = self._acq
        while acq:
            k, t = next(iter(acq.items()))
            if now - t < self.blockacq_lifetime:
                break
            del acq[k]

    def _sa_deadline(self, sa: SecAsVar) -> float | None:
        """When ``sa``'s next time-driven change is due (LARVAL expiry,
        soft or hard add/use time), or None."""
        if sa.state == SaState.LARVAL:
            return sa.created + self.larval_lifetime
        ts: list[float] = []
        for lt in ((sa.soft, sa.hard) if sa.state == SaState.MATURE else (sa.hard,)):
            if lt.addtime:
                ts.append(sa.created + lt.addtime)
            if lt.usetime and sa.first_use is not None:
                ts.append(sa.first_use + lt.usetime)
        return min(ts) if ts else None

    def next_deadline(self) -> float | None:
        """The earliest SA lifetime or acquire to age out; -inf while
        events wait to be passed on."""
        if self.events:
            return -math.inf
        ts = [t for t in map(self._sa_deadline, self._sas.values()) if t is not None]
        if self._acq:
            ts.append(next(iter(self._acq.values())) + self.blockacq_lifetime)
        return min(ts) if ts else None
