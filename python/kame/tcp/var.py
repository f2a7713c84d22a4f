"""``tcp_var.h``, ``tcp_fsm.h``, ``tcp_seq.h``: the TCP control block, the
states of RFC 9293 §3.3.2 with FreeBSD's numbers, flags, the sequence
number helpers and ``struct tcpstat``'s counter names.

Sequence numbers in a :class:`Tcpcb` are absolute Python integers that
never wrap (the initial send sequence is below 2**32 and grows from there);
a 32-bit number from the wire is unwrapped against the connection's state
(:func:`unwrap`) and sent as ``x & 0xFFFFFFFF``. Comparisons are then plain
``<``; RFC 9293's modular arithmetic lives in :func:`unwrap` alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from typing import TYPE_CHECKING, Any

from kame import _core
from kame.tcp.stat import TCPSTAT

if TYPE_CHECKING:
    from kame.tcp.cc import CcAlgo

__all__ = ["TCPSTAT", "TCPSTATES", "ConnKey", "Tcpcb", "Tcptw"]

# --- tcp_fsm.h -----------------------------------------------------------------
TCPS_CLOSED = 0
TCPS_LISTEN = 1
TCPS_SYN_SENT = 2
TCPS_SYN_RECEIVED = 3
TCPS_ESTABLISHED = 4
TCPS_CLOSE_WAIT = 5
TCPS_FIN_WAIT_1 = 6
TCPS_CLOSING = 7
TCPS_LAST_ACK = 8
TCPS_FIN_WAIT_2 = 9
TCPS_TIME_WAIT = 10

#: ``tcpstates[]``: the names ``netstat -an`` prints.
TCPSTATES = ("CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT",
             "FIN_WAIT_1", "CLOSING", "LAST_ACK", "FIN_WAIT_2", "TIME_WAIT")


def haveestablished(s: int) -> bool:
    """``TCPS_HAVEESTABLISHED``: the connection reached ESTABLISHED once."""
    return s >= TCPS_ESTABLISHED


def havercvdfin(s: int) -> bool:
    """``TCPS_HAVERCVDFIN``: CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT."""
    return s in (TCPS_CLOSE_WAIT, TCPS_CLOSING, TCPS_LAST_ACK, TCPS_TIME_WAIT)


# --- tcp.h: control bits --------------------------------------------------------
TH_FIN = 0x01
TH_SYN = 0x02
TH_RST = 0x04
TH_PUSH = 0x08
TH_ACK = 0x10
TH_URG = 0x20
TH_ECE = 0x40
TH_CWR = 0x80

TCP_MAXWIN = 65535
TCP_MAX_WINSHIFT = 14
#: RFC 7323 §5.5: a TS.Recent older than 24 days is invalid (PAWS_IDLE).
TCP_PAWS_IDLE = 24 * 24 * 60 * 60.0
#: Octets of the Timestamps option as sent on every segment (NOP NOP TS).
TCPOLEN_TSTAMP_APPA = 12

M32 = 0xFFFFFFFF


def unwrap(ref: int, w: int) -> int:
    """The absolute sequence number nearest ``ref`` whose low 32 bits are ``w``."""
    return ref + ((w - ref + 0x80000000) & M32) - 0x80000000


def ts_lt(a: int, b: int) -> bool:
    """``TSTMP_LT`` over 32-bit timestamps (RFC 7323 §5.2)."""
    return ((a - b) & M32) >= 0x80000000


# --- tcpcb flags (t_flags) ------------------------------------------------------
TF_ACKNOW = 0x0001      # ack peer immediately
TF_DELACK = 0x0002      # ack, but try to delay it
TF_NODELAY = 0x0004     # don't delay packets to coalesce (TCP_NODELAY)
TF_SENTFIN = 0x0010     # a FIN has been sent
TF_REQ_SCALE = 0x0020   # have/will request window scaling
TF_RCVD_SCALE = 0x0040  # other side has requested scaling
TF_REQ_TSTMP = 0x0080   # have/will request timestamps
TF_RCVD_TSTMP = 0x0100  # a timestamp was received in SYN
TF_SACK_PERMIT = 0x0200  # other side said I could SACK
TF_NEEDFIN = 0x0800     # send a FIN when the data is out (after shutdown)
TF_FASTRECOVERY = 0x1000  # in NewReno/SACK fast recovery
TF_CONGRECOVERY = 0x2000  # congestion recovery (ECN) this window
TF_WASFRECOVERY = 0x4000
TF_ECN_PERMIT = 0x8000  # connection ECN-ready (RFC 3168)
TF_ECN_SND_CWR = 0x10000  # ECN: CWR on the next new data segment
TF_ECN_SND_ECE = 0x20000  # ECN: ECE on every ACK until CWR arrives
TF_FORCEDATA = 0x40000  # persist: send a byte beyond the window
TF_KEEPALIVE = 0x80000  # SO_KEEPALIVE
TF_NOSOCKET = 0x100000  # the socket was closed: an orphan (SS_NOFDREF)
TF_CANTRCVMORE = 0x200000  # shutdown(SHUT_RD) or close

# --- t_plpmtu (FreeBSD t_flags2) ------------------------------------------------
TF2_PLPMTU_BLACKHOLE = 0x01  # black-hole detection is under way
TF2_PLPMTU_PMTUD = 0x02      # path MTU discovery still allowed (not at the minimum)
TF2_PLPMTU_MAXSEGSNT = 0x04  # the last data segment sent was full-size

#: The timers of a connection (``tcp_timer.h``), by name.
TT_REXMT, TT_PERSIST, TT_KEEP, TT_2MSL, TT_DELACK = "rexmt", "persist", "keep", "2msl", "delack"
TIMERS = (TT_DELACK, TT_REXMT, TT_PERSIST, TT_KEEP, TT_2MSL)

#: ``tcp_backoff[]``: RTO multipliers per retransmission (FreeBSD).
TCP_BACKOFF = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 512, 512, 512)
TCP_MAXRXTSHIFT = 12
#: SYN retransmissions before giving up (Linux ``tcp_syn_retries`` 6).
TCP_SYN_MAXRXTSHIFT = 6

#: the connection table's key (``Tcp.conns``): the local address packed,
#: the local port, the foreign address packed, the foreign port, the zone
#: (the interface index of a link-local peer, else 0). Packed addresses
#: keep the families apart (4 octets or 16) and hash and compare in C (an
#: ``IPv6Address`` hashes and compares in Python); bytes cache their hash.
ConnKey = tuple[bytes, int, bytes, int, int]


@dataclass(eq=False, slots=True)
class Tcpcb:
    """``struct tcpcb`` (with its ``inpcb``'s addresses and ``so_snd``/
    ``so_rcv``): one connection. Addresses may be IPv6 or IPv4; only the
    output hook (``Tcp.ip_output``) cares which."""

    laddr: IPv6Address | IPv4Address
    lport: int
    faddr: IPv6Address | IPv4Address
    fport: int
    cc: CcAlgo
    snd: Any  # _core.TcpSendBuffer
    rcv: Any  # _core.TcpRecvBuffer
    reass: Any  # _core.TcpReass
    scope: int = 0
    state: int = TCPS_CLOSED
    t_flags: int = 0
    so: Any = None
    #: the socket's error to report (``so_error``) and the last soft error
    so_error: int = 0
    t_softerror: int = 0
    # --- send sequence space (RFC 9293 §3.3.1) ---
    iss: int = 0
    snd_una: int = 0
    snd_nxt: int = 0
    snd_max: int = 0
    snd_wnd: int = 0
    snd_wl1: int = 0
    snd_wl2: int = 0
    max_sndwnd: int = 0
    #: the sequence number of so_snd's first octet
    snd_buf_seq: int = 0
    # --- receive sequence space ---
    irs: int = 0
    rcv_nxt: int = 0
    rcv_adv: int = 0
    last_ack_sent: int = 0
    #: the window (scaled field) TIME_WAIT's ACKs carry: the one last
    #: offered, as ``tcp_twstart`` keeps it (``tw->last_win``)
    tw_last_win: int = 0
    #: the sequence number of a FIN that arrived ahead of a hole
    rcv_fin_seq: int = -1
    # --- options (RFC 7323, RFC 2018) ---
    t_maxopd: int = 536     # MSS for the path, options included
    t_maxseg: int = 536     # data per segment (t_maxopd less the TS option)
    peer_mss: int = 0
    #: data octets one segment may carry when the interface segments for us
    #: (``t_tsomax``; 0: no TSO on the route, or IPsec on the connection)
    t_tsomax: int = 0
    snd_scale: int = 0
    rcv_scale: int = 0
    request_r_scale: int = 0
    ts_recent: int = 0
    ts_recent_age: float = 0.0
    ts_offset: int = 0
    # --- retransmission (RFC 6298) ---
    t_srtt: float = 0.0     # seconds; 0 = no sample yet
    t_rttvar: float = 0.0
    t_rxtcur: float = 1.0
    t_rxtshift: int = 0
    t_rtttime: float = 0.0  # when the timed segment left (0 = none)
    t_rtseq: int = 0
    t_rttmin: float = 1.0
    t_rcvtime: float = 0.0  # last segment received (keepalive, idle restart)
    t_starttime: float = 0.0
    t_badrxtwin: float = 0.0
    # --- congestion control ---
    snd_cwnd: int = 0
    snd_ssthresh: int = 1 << 30
    snd_recover: int = 0
    t_dupacks: int = 0
    snd_limited: int = 0
    ccv: dict[str, Any] = field(default_factory=dict)
    # --- SACK sender scoreboard (tcp_sack.c): sorted disjoint (start, end) ---
    sackhint_blocks: list[tuple[int, int]] = field(default_factory=list)
    sack_rxmit_next: int = 0
    sack_bytes_rexmit: int = 0
    # --- ECN ---
    ecn_last_cwr: int = 0
    # --- PLPMTUD black-hole detection (FreeBSD t_flags2 TF2_PLPMTU_*) ---
    t_plpmtu: int = 0
    #: t_maxopd before the black-hole MSS replaced it (t_pmtud_saved_maxseg)
    t_pmtud_saved_maxopd: int = 0
    # --- timers: name -> deadline (None = off) ---
    timers: dict[str, float | None] = field(default_factory=lambda: dict.fromkeys(TIMERS))
    #: keepalive probes sent without answer
    t_keepcnt: int = 0
    #: SO_LINGER (on, seconds)
    linger: tuple[bool, int] = (False, 0)
    keepidle: float = 7200.0
    keepintvl: float = 75.0
    keepcnt: int = 8
    # RFC 5961 challenge ACK limit (FreeBSD ack_war)
    t_ack_war_start: float = -1e9
    t_ack_war_cnt: int = 0
    #: out interface index for link-local peers
    ifname: str | None = None
    tclass: int = 0
    hlim: int | None = None
    #: RFC 3542 §6 sticky extension headers of the socket, built for this
    #: peer: ``(headers, first Next Header, IPv6 destination)``
    ext6: tuple[bytes, int, IPv6Address] | None = None
    #: packed addresses for the core calls
    lpacked: bytes = b""
    fpacked: bytes = b""
    #: set when the connection reached its end (removed from the table)
    gone: bool = False
    #: segments sent/received (tcp_info), rexmits
    t_sndrexmitpack: int = 0
    delivered: int = 0
    #: the compact TIME_WAIT state that replaced this one in the table
    #: (``tcp_twstart``) while the socket still holds it
    t_tw: Tcptw | None = None

    @property
    def key(self) -> ConnKey:
        """The connection table's key (:data:`ConnKey`)."""
        return (self.lpacked, self.lport, self.fpacked, self.fport, self.scope)

    @property
    def statename(self) -> str:
        return TCPSTATES[self.state]

    def snd_end(self) -> int:
        """The sequence number after the last octet queued to send."""
        return self.snd_buf_seq + len(self.snd)

    def in_recovery(self) -> bool:
        return bool(self.t_flags & TF_FASTRECOVERY)

    def sacked_bytes(self) -> int:
        return sum(e - s for s, e in self.sackhint_blocks)


class Tcptw:
    """``struct tcptw``: what a connection keeps in TIME_WAIT (``tcp_twstart``
    replaces the :class:`Tcpcb` in the table by it): its addresses, the
    sequence numbers to acknowledge a retransmitted FIN with, the window
    last offered, the timestamp state, when 2MSL ends. No buffers, no
    congestion state, no timer but its 2MSL deadline (the table
    ``Tcp.timewait`` is in deadline order, as FreeBSD's TIME_WAIT list). ``tp`` is the socket's Tcpcb
    while the application still holds the socket (its unread data lives
    there), None for an orphan."""

    __slots__ = (
        "ext6",
        "faddr",
        "fpacked",
        "fport",
        "gone",
        "irs",
        "iss",
        "laddr",
        "lpacked",
        "lport",
        "rcv_nxt",
        "scope",
        "snd_nxt",
        "t_flags",
        "tp",
        "ts_offset",
        "ts_recent",
        "tw_last_win",
        "tw_time",
    )

    #: a TIME_WAIT connection is in no other state until it ends
    state = TCPS_TIME_WAIT

    def __init__(self, tp: Tcpcb, keep: bool) -> None:
        self.laddr, self.lport, self.faddr, self.fport = tp.laddr, tp.lport, tp.faddr, tp.fport
        self.lpacked, self.fpacked = tp.lpacked, tp.fpacked
        self.scope = tp.scope
        self.t_flags = tp.t_flags & (TF_REQ_TSTMP | TF_RCVD_TSTMP)
        self.snd_nxt, self.rcv_nxt = tp.snd_nxt, tp.rcv_nxt
        self.iss, self.irs = tp.iss, tp.irs
        self.tw_last_win = tp.tw_last_win
        self.ts_recent, self.ts_offset = tp.ts_recent, tp.ts_offset
        self.ext6 = tp.ext6
        self.tw_time = 0.0
        self.gone = False
        self.tp: Tcpcb | None = tp if keep else None

    @property
    def key(self) -> ConnKey:
        """The connection table's key (:data:`ConnKey`)."""
        return (self.lpacked, self.lport, self.fpacked, self.fport, self.scope)

    @property
    def statename(self) -> str:
        return TCPSTATES[TCPS_TIME_WAIT] if not self.gone else TCPSTATES[TCPS_CLOSED]

    @property
    def so(self) -> Any:
        return self.tp.so if self.tp is not None else None

    @property
    def rcv(self) -> Any:
        """The socket's unread data (netstat's Recv-Q), empty for an orphan."""
        return self.tp.rcv if self.tp is not None else b""

    @property
    def snd(self) -> Any:
        return self.tp.snd if self.tp is not None else b""


def new_buffers(sndbuf: int, rcvbuf: int, reass_blocks: int) -> tuple[Any, Any, Any]:
    """``so_snd``, ``so_rcv`` and the out-of-order queue of a new connection."""
    return (_core.TcpSendBuffer(sndbuf), _core.TcpRecvBuffer(rcvbuf),
            _core.TcpReass(rcvbuf, reass_blocks))
