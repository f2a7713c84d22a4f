"""PRIQ (KAME ``altq_priq.c``): strict priority over up to 16 classes
(priority 0, lowest, to 15); the highest non-empty class always goes
first, so under overload the lower classes starve, as PRIQ means."""

from __future__ import annotations

from kame.altq.subr import AltqClass, Discipline

#: ``PRIQ_MAXPRI``: priorities 0..15.
PRIQ_MAXPRI = 16


class Priq(Discipline):
    kind = "priq"

    def __init__(self) -> None:
        self.by_pri: list[AltqClass | None] = [None] * PRIQ_MAXPRI
        self.priority: dict[str, int] = {}

    def add_class(self, cls: AltqClass, priority: int) -> None:
        """``priq_class_create``: one class per priority."""
        if not 0 <= priority < PRIQ_MAXPRI:
            raise ValueError(f"priq: priority {priority} outside 0..{PRIQ_MAXPRI - 1}")
        if self.by_pri[priority] is not None:
            raise ValueError(f"priq: priority {priority} already in use")
        if cls.default and any(c.default for c in self.classes()):
            raise ValueError("priq: a second default class")
        self.by_pri[priority] = cls
        self.priority[cls.name] = priority

    def classes(self) -> list[AltqClass]:
        return [c for c in reversed(self.by_pri) if c is not None]

    def _head(self) -> AltqClass | None:
        for c in reversed(self.by_pri):
            if c is not None and c.q:
                return c
        return None

    def poll(self, now: float) -> bytes | None:
        c = self._head()
        return c.q[0] if c is not None else None

    def dequeue(self, now: float) -> bytes | None:
        c = self._head()
        return c.getq(now) if c is not None else None

    def snapshot(self) -> list[dict[str, object]]:
        return [{**c.snapshot(), "priority": self.priority[c.name]} for c in self.classes()]
