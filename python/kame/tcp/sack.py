"""``tcp_sack.c``: the sender's SACK scoreboard (RFC 2018) and RFC 6675
loss recovery (``pipe``, ``NextSeg``); the receiver's blocks come from the
out-of-order queue (``TcpReass.sack_blocks``, most recent first).

The scoreboard is a sorted list of disjoint (start, end) absolute sequence
ranges above ``snd_una`` the peer holds. Holes below the highest SACKed
octet count as lost (RFC 6675 ``IsLost`` with the DupThresh rule applied
when recovery starts); ``sack_rxmit_next`` walks them in order.
"""

from __future__ import annotations

from kame.tcp.var import Tcpcb, unwrap

#: Scoreboard blocks kept per connection (``tcp_sack_maxholes`` bound).
SACK_MAXBLOCKS = 128


def sack_update(tp: Tcpcb, wire_blocks: list[tuple[int, int]]) -> int:
    """Merge the SACK blocks of an ACK into the scoreboard; blocks outside
    (snd_una, snd_max] are ignored (RFC 2018 §8 says they may be bogus).
    Returns the number of blocks taken."""
    taken = 0
    sb = tp.sackhint_blocks
    for lw, rw in wire_blocks:
        left, right = unwrap(tp.snd_una, lw), unwrap(tp.snd_una, rw)
        if right <= left or left < tp.snd_una or right > tp.snd_max:
            continue
        taken += 1
        merged = [(left, right)]
        rest: list[tuple[int, int]] = []
        for s, e in sb:
            if e < left or s > right:
                rest.append((s, e))
            else:
                merged.append((s, e))
        lo = min(s for s, _ in merged)
        hi = max(e for _, e in merged)
        rest.append((lo, hi))
        rest.sort()
        sb = rest[-SACK_MAXBLOCKS:]
    tp.sackhint_blocks = sb
    return taken


def sack_clean(tp: Tcpcb) -> None:
    """Forget what ``snd_una`` passed (cumulatively acknowledged)."""
    una = tp.snd_una
    tp.sackhint_blocks = [(max(s, una), e) for s, e in tp.sackhint_blocks if e > una]
    tp.sack_rxmit_next = max(tp.sack_rxmit_next, una)


def sack_highest(tp: Tcpcb) -> int:
    return tp.sackhint_blocks[-1][1] if tp.sackhint_blocks else tp.snd_una


def sack_islost(tp: Tcpcb) -> bool:
    """RFC 6675 §4 ``IsLost(SND.UNA)``: more than (DupThresh - 1) * SMSS
    octets SACKed above it, or DupThresh discontiguous blocks."""
    return tp.sacked_bytes() > 2 * tp.t_maxseg or len(tp.sackhint_blocks) >= 3


def sack_holes(tp: Tcpcb, start: int) -> list[tuple[int, int]]:
    """The holes at or above ``start`` below the highest SACKed octet."""
    out = []
    cur = max(start, tp.snd_una)
    for s, e in tp.sackhint_blocks:
        if e <= cur:
            continue
        if s > cur:
            out.append((cur, s))
        cur = max(cur, e)
    return out


def sack_pipe(tp: Tcpcb) -> int:
    """RFC 6675 §4 ``SetPipe``: octets outstanding that are neither SACKed
    nor lost-and-not-yet-retransmitted (retransmitted holes count again)."""
    out = tp.snd_max - tp.snd_una - tp.sacked_bytes()
    lost = sum(e - s for s, e in sack_holes(tp, tp.sack_rxmit_next))
    return max(out - lost, 0)


def sack_nextseg(tp: Tcpcb, maxlen: int) -> tuple[int, int] | None:
    """RFC 6675 §4 ``NextSeg`` rule 1: the first lost octets not yet
    retransmitted, at most ``maxlen`` of them, as (seq, length)."""
    for s, e in sack_holes(tp, tp.sack_rxmit_next):
        return s, min(e - s, maxlen)
    return None
