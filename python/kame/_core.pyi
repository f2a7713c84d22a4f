"""Type stubs for the extension module kame._core (one marked block per area)."""

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address
from typing import Self, TypeAlias, final

from typing_extensions import Buffer

__version__: str

# --- ipcomp ---
_Addr: TypeAlias = str | bytes | IPv4Address | IPv6Address
_Ecn: TypeAlias = int | str

@final
class IpcompSa:
    """An IPComp association (RFC 3173, DEFLATE per RFC 2394), KAME defaults."""

    def __new__(
        cls,
        cpi: int = 2,
        mode: str = "transport",
        tunnel_src: _Addr | None = None,
        tunnel_dst: _Addr | None = None,
        level: int = ...,
        window_bits: int = 12,
        min_size: int = 90,
        max_inflate: int = 65535,
        ecn: _Ecn | None = None,
        hop_limit: int = 64,
    ) -> Self: ...
    def output(self, packet: Buffer) -> bytes: ...
    def input(self, packet: Buffer) -> bytes: ...
    def output_many(self, packets: Sequence[Buffer]) -> list[bytes | Exception]: ...
    def input_many(self, packets: Sequence[Buffer]) -> list[bytes | Exception]: ...
    @property
    def counters(self) -> dict[str, int]: ...
    @property
    def cpi(self) -> int: ...
    @property
    def mode(self) -> str: ...
    @property
    def level(self) -> int: ...
    @property
    def window_bits(self) -> int: ...
    @property
    def min_size(self) -> int: ...
    @property
    def max_inflate(self) -> int: ...
    @property
    def ecn(self) -> int: ...
    @property
    def tunnel_src(self) -> str | None: ...
    @property
    def tunnel_dst(self) -> str | None: ...

def deflate(data: Buffer, level: int = ..., window_bits: int = 12) -> bytes: ...
def inflate(data: Buffer, max_size: int = 65535) -> bytes: ...
def encapsulate(
    inner: Buffer,
    outer_src: _Addr,
    outer_dst: _Addr,
    ecn: _Ecn | None = None,
    hop_limit: int = 64,
    flow_label: int = 0,
    ident: int = 0,
    df: bool | None = None,
    nest_limit: int = 8,
) -> bytes: ...
def decapsulate(
    packet: Buffer, ecn: _Ecn | None = None, recursive: bool = False, nest_limit: int = 8
) -> bytes: ...
def decapsulate_ex(
    packet: Buffer, ecn: _Ecn | None = None, recursive: bool = False, nest_limit: int = 8
) -> tuple[bytes, int, str | None]: ...
def ecn_ingress(ecn: _Ecn, inner_tos: int) -> int: ...
def ecn_egress(ecn: _Ecn, outer_tos: int, inner_tos: int) -> tuple[int, str | None]: ...

# --- end ipcomp ---
