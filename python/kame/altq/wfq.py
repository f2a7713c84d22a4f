"""WFQ (KAME ``altq_wfq.c``): per-flow fair queueing. Each packet's flow
hashes (by ``hash`` policy: destination address, source port, or the full
five-tuple) into one of ``nqueues`` buckets; the buckets with packets are
served by deficit round robin, each round granting a bucket ``quantum *
weight`` octets (weights 1 unless set), so flows share the link in
proportion to their weights whatever their packet sizes. The queue is
bounded by ``qsize`` octets in all (and :data:`MAX_FRAMES` frames): an
arrival past the bound drops the tail packet of the longest bucket (in
octets), as ALTQ's ``wfq_maxqueue``, so the heaviest flow loses first.
"""

from __future__ import annotations

import heapq
import zlib
from collections import deque
from typing import Any

from kame.altq.subr import AltqClass, Discipline, Flow

#: Defaults (``altq_wfq.h``-like): 256 buckets, 64 KiB queued in all.
DEFAULT_NQUEUES = 256
DEFAULT_QSIZE = 64 * 1024
MAX_NQUEUES = 4096
MAX_QSIZE = 1 << 26
#: The frames a WFQ interface holds at most, whatever ``qsize``.
MAX_FRAMES = 65536
#: Octets a bucket of weight 1 may send each round.
DEFAULT_QUANTUM = 1514
HASH_POLICIES = ("dstaddr", "full", "srcport", "srcaddr")


class _Bucket:
    __slots__ = ("bytes", "deficit", "index", "q", "weight")

    def __init__(self, index: int) -> None:
        self.index = index
        self.q: deque[bytes] = deque()
        self.bytes = 0
        self.deficit = 0
        self.weight = 1


class Wfq(Discipline):
    kind = "wfq"

    def __init__(self, *, nqueues: int = DEFAULT_NQUEUES, qsize: int = DEFAULT_QSIZE,
                 hash_policy: str = "dstaddr", quantum: int = DEFAULT_QUANTUM) -> None:
        if not 1 <= nqueues <= MAX_NQUEUES:
            raise ValueError(f"wfq: nqueues {nqueues} outside 1..{MAX_NQUEUES}")
        if not 1 <= qsize <= MAX_QSIZE:
            raise ValueError(f"wfq: qsize {qsize} outside 1..{MAX_QSIZE}")
        if hash_policy not in HASH_POLICIES:
            raise ValueError(f"wfq: hash {hash_policy!r}: one of {', '.join(HASH_POLICIES)}")
        self.cls = AltqClass("wfq", qlimit=min(MAX_FRAMES, qsize), default=True)
        self.nqueues = nqueues
        self.qsize = qsize
        self.hash_policy = hash_policy
        self.quantum = quantum
        self.buckets = [_Bucket(i) for i in range(nqueues)]
        self.active: deque[_Bucket] = deque()  # buckets with packets, in service order
        self.bytes = 0
        self.frames = 0
        #: (-octets, bucket) for finding the longest bucket in log time; an
        #: entry whose octets are no longer the bucket's is stale and skipped
        self._longest: list[tuple[int, int]] = []

    def _note(self, b: _Bucket) -> None:
        if b.bytes:
            heapq.heappush(self._longest, (-b.bytes, b.index))
        if len(self._longest) > 4 * self.nqueues + 64:
            self._longest = [(-x.bytes, x.index) for x in self.active]
            heapq.heapify(self._longest)

    def _maxqueue(self) -> _Bucket:
        """``wfq_maxqueue``: the bucket holding the most octets."""
        h = self._longest
        while True:
            neg, i = h[0]
            b = self.buckets[i]
            if b.bytes == -neg:
                return b
            heapq.heappop(h)

    def classes(self) -> list[AltqClass]:
        return [self.cls]

    def __len__(self) -> int:
        return self.frames

    def hash(self, flow: Flow) -> int:
        """``wfq_hash``: the bucket of a flow under the hash policy."""
        p = self.hash_policy
        if p == "dstaddr":
            key = b"%d/%x" % (flow.family, flow.dst)
        elif p == "srcaddr":
            key = b"%d/%x" % (flow.family, flow.src)
        elif p == "srcport":
            key = b"%d" % flow.sport
        else:
            key = b"%d/%x/%x/%d/%d/%d" % (flow.family, flow.src, flow.dst, flow.proto,
                                          flow.sport, flow.dport)
        return zlib.crc32(key) % self.nqueues

    def set_weight(self, bucket: int, weight: int) -> None:
        """``WFQ_CONFIG``: the weight of one bucket (1..100)."""
        if not 0 <= bucket < self.nqueues or not 1 <= weight <= 100:
            raise ValueError("wfq: bucket in range and weight 1..100")
        self.buckets[bucket].weight = weight

    def enqueue(self, cls: AltqClass, frame: bytes, flow: Flow, now: float) -> bool:
        b = self.buckets[self.hash(flow)]
        if not b.q:
            b.deficit = 0
            self.active.append(b)
        b.q.append(frame)
        b.bytes += len(frame)
        self.bytes += len(frame)
        self.frames += 1
        self._note(b)
        dropped_new = False
        while self.bytes > self.qsize or self.frames > MAX_FRAMES:
            worst = self._maxqueue()
            victim = worst.q.pop()
            dropped_new = dropped_new or victim is frame
            worst.bytes -= len(victim)
            self.bytes -= len(victim)
            self.frames -= 1
            if not worst.q:
                self.active.remove(worst)
            self._note(worst)
            self.cls.drop(victim)
        return not dropped_new

    def _head(self) -> _Bucket | None:
        """The bucket deficit round robin serves next (deficits credited)."""
        act = self.active
        while act:
            b = act[0]
            if b.deficit >= len(b.q[0]):
                return b
            b.deficit += self.quantum * b.weight
            if b.deficit >= len(b.q[0]):
                return b
            act.rotate(-1)
        return None

    def poll(self, now: float) -> bytes | None:
        b = self._head()
        return b.q[0] if b is not None else None

    def dequeue(self, now: float) -> bytes | None:
        b = self._head()
        if b is None:
            return None
        f = b.q.popleft()
        n = len(f)
        b.deficit -= n
        b.bytes -= n
        self.bytes -= n
        self.frames -= 1
        self._note(b)
        if not b.q:
            b.deficit = 0
            self.active.popleft()
        elif b.deficit < len(b.q[0]):
            self.active.rotate(-1)
        s = self.cls.stats
        s.xmit_packets += 1
        s.xmit_bytes += n
        return f

    def purge(self) -> int:
        n = 0
        for b in self.active:
            for f in b.q:
                self.cls.drop(f)
            n += len(b.q)
            b.q.clear()
            b.bytes = b.deficit = 0
        self.active.clear()
        self._longest.clear()
        self.bytes = self.frames = 0
        self.cls.stats.purged_packets += n
        return n

    def snapshot(self) -> list[dict[str, Any]]:
        d: dict[str, Any] = {**self.cls.snapshot(), "qlen": self.frames}
        d["wfq"] = {"nqueues": self.nqueues, "qsize": self.qsize, "bytes": self.bytes,
                    "hash": self.hash_policy, "active": len(self.active),
                    "queues": [{"index": b.index, "qlen": len(b.q), "bytes": b.bytes,
                                "weight": b.weight} for b in list(self.active)[:16]]}
        return [d]
