"""BLUE (Feng, Kandlur, Saha and Shin; KAME ``altq_blue.c``): one queue
whose marking probability ``pmark`` (out of ``max_pmark``) rises by
``max_pmark / 8`` on a queue overflow and falls by one when the queue
empties, each at most once a ``hold_time``; an arrival is dropped, or
marked CE with ``ecn``, with probability ``pmark / max_pmark`` (when more
than one packet is queued). On an overflow the arrival is queued and a
queued packet chosen at random is dropped in its place, as ALTQ does;
after more than a second idle ``pmark`` starts again from 1.
"""

from __future__ import annotations

import random
from typing import Any

from kame.altq.red import mark_ecn
from kame.altq.subr import AltqClass, Discipline, Flow

#: Defaults of altq.conf's ``blue`` (``qop_blue.c``-like): 1000 levels of
#: pmark, a 50 ms hold time, a 1000-octet packet, a 200-frame queue.
BLUE_MAX_PMARK = 1000
BLUE_HOLD_TIME = 0.05
BLUE_LIMIT = 200


class Blue(Discipline):
    kind = "blue"

    def __init__(self, cls: AltqClass, *, max_pmark: int = BLUE_MAX_PMARK,
                 hold_time: float = BLUE_HOLD_TIME, ecn: bool = False,
                 rng: random.Random | None = None) -> None:
        if max_pmark < 8:
            raise ValueError(f"blue: maxpmark {max_pmark} below 8")
        if hold_time <= 0:
            raise ValueError("blue: hold time must be positive")
        cls.default = True
        self.cls = cls
        self.max_pmark = max_pmark
        self.hold_time = hold_time
        self.ecn = ecn
        self.rng = rng if rng is not None else random.Random(0)
        self.pmark = 0
        self.idle = True
        self.last = 0.0
        self.drop_forced = self.drop_unforced = self.marked = 0

    def classes(self) -> list[AltqClass]:
        return [self.cls]

    def enqueue(self, cls: AltqClass, frame: bytes, flow: Flow, now: float) -> bool:
        """``blue_addq``."""
        q = self.cls.q
        if self.idle:
            self.idle = False
            if now - self.last > 1.0:
                self.pmark = 1
                self.last = now
            elif now - self.last > self.hold_time:
                self.pmark = max(self.pmark - 1, 0)
                self.last = now
        if len(q) > 1 and self.rng.randrange(self.max_pmark) < self.pmark:
            marked = mark_ecn(frame, flow) if self.ecn else None
            if marked is None:
                self.drop_unforced += 1
                return self.cls.drop(frame)
            self.marked += 1
            frame = marked
        if len(q) >= self.cls.qlimit:
            q.append(frame)
            i = self.rng.randrange(len(q))  # _getq_random: the victim
            victim = q[i]
            del q[i]
            if now - self.last > self.hold_time:
                self.pmark = min(self.pmark + (self.max_pmark >> 3), self.max_pmark)
                self.last = now
            self.drop_forced += 1
            self.cls.drop(victim)
            return victim is not frame
        q.append(frame)
        return True

    def poll(self, now: float) -> bytes | None:
        q = self.cls.q
        return q[0] if q else None

    def dequeue(self, now: float) -> bytes | None:
        """``blue_getq``: the link's going idle starts the hold time."""
        if not self.cls.q:
            return None
        f = self.cls.getq(now)
        if not self.cls.q:
            self.idle = True
            self.last = now
        return f

    def purge(self) -> int:
        self.idle = True
        return self.cls.purge()

    def snapshot(self) -> list[dict[str, Any]]:
        return [{**self.cls.snapshot(),
                 "blue": {"pmark": self.pmark, "max_pmark": self.max_pmark,
                          "hold_time": self.hold_time, "ecn": self.ecn,
                          "drop_forced": self.drop_forced, "drop_unforced": self.drop_unforced,
                          "marked": self.marked}}]
