"""Type stubs for the extension module kame._core (one block per area)."""

# --- reass ---
import sys
from typing import Literal, final

if sys.version_info >= (3, 12):
    from collections.abc import Buffer
else:
    from typing_extensions import Buffer

from kame.errors import Icmp6Answer

@final
class ReassOutcome:
    """What became of one fragment (RFC 8200 §4.5)."""

    @property
    def kind(self) -> Literal["not_fragment", "incomplete", "reassembled", "dropped", "answer"]: ...
    @property
    def packet(self) -> bytes | None: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def icmp(self) -> Icmp6Answer | None: ...

@final
class Reassembler:
    """IPv6 fragment reassembly, sans-I/O; ``now`` is float seconds."""

    def __new__(
        cls,
        timeout: float = 60.0,
        max_bytes: int = 4194304,
        max_queues: int = 1024,
        max_frags_per_queue: int = 64,
        ignore_exact_duplicates: bool = False,
    ) -> Reassembler: ...
    def input(
        self,
        frame: Buffer,
        frag_offset: int,
        nh_offset: int,
        now: float,
        zone: int = 0,
        chain_complete: bool = True,
    ) -> ReassOutcome: ...
    def input_packet(self, frame: Buffer, now: float, zone: int = 0) -> ReassOutcome: ...
    def expire(self, now: float) -> list[tuple[Icmp6Answer, bytes, int]]: ...
    def next_deadline(self) -> float | None: ...
    @property
    def stats(self) -> dict[str, int]: ...
    @property
    def bytes_held(self) -> int: ...
    @property
    def frags_held(self) -> int: ...
    timeout: float
    max_bytes: int
    max_queues: int
    max_frags_per_queue: int
    ignore_exact_duplicates: bool
    def __len__(self) -> int: ...

def fragment(
    packet: Buffer,
    mtu: int,
    ident: int,
    unfrag_len: int | None = None,
    nh_offset: int | None = None,
) -> list[bytes]: ...
def atomic_fragment(
    packet: Buffer,
    ident: int,
    unfrag_len: int | None = None,
    nh_offset: int | None = None,
) -> bytes: ...

# --- end reass ---
