"""FIFOQ (KAME ``altq_fifoq.c``): one drop-tail queue of ``qlimit`` frames
(ALTQ's default 50); or, with RED or RIO at its tail, the ``red`` and
``rio`` disciplines of altq.conf."""

from __future__ import annotations

from kame.altq.subr import AltqClass, Discipline


class Fifoq(Discipline):
    kind = "fifoq"

    def __init__(self, cls: AltqClass, kind: str = "fifoq") -> None:
        cls.default = True
        self.cls = cls
        self.kind = kind

    def classes(self) -> list[AltqClass]:
        return [self.cls]

    def poll(self, now: float) -> bytes | None:
        q = self.cls.q
        return q[0] if q else None

    def dequeue(self, now: float) -> bytes | None:
        return self.cls.getq(now) if self.cls.q else None
