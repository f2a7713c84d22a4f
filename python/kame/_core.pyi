"""Stubs for the Rust extension kame._core (one block per area)."""

from __future__ import annotations

from collections.abc import Buffer, Iterable, Sequence
from ipaddress import IPv4Address, IPv6Address
from typing import Any

__version__: str

_Addr6 = str | bytes | IPv6Address
_Addr4 = str | bytes | IPv4Address
_Addr = str | bytes | IPv4Address | IPv6Address

# --- upper ---
ND6_MAXNDOPT: int

class NdOptSourceLinkAddr:
    lladdr: bytes
    def __init__(self, lladdr: Buffer | None = None) -> None: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> NdOption: ...

class NdOptTargetLinkAddr:
    lladdr: bytes
    def __init__(self, lladdr: Buffer | None = None) -> None: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> NdOption: ...

class NdOptPrefixInfo:
    prefix: IPv6Address
    prefix_len: int
    flags: int
    valid_lifetime: int
    preferred_lifetime: int
    on_link: bool
    autonomous: bool
    def __init__(
        self,
        prefix: _Addr6 | None = None,
        prefix_len: int = 64,
        on_link: bool = True,
        autonomous: bool = True,
        valid_lifetime: int = 2592000,
        preferred_lifetime: int = 604800,
        flags: int | None = None,
    ) -> None: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> NdOption: ...

class NdOptRedirectedHeader:
    data: bytes
    def __init__(self, data: Buffer | None = None) -> None: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> NdOption: ...

class NdOptMtu:
    mtu: int
    def __init__(self, mtu: int = 1500) -> None: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> NdOption: ...

class NdOptNonce:
    nonce: bytes
    def __init__(self, nonce: Buffer | None = None) -> None: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> NdOption: ...

class NdOptRouteInfo:
    prefix: IPv6Address
    prefix_len: int
    preference: int
    lifetime: int
    def __init__(
        self, prefix: _Addr6 | None = None, prefix_len: int = 0, preference: int = 0, lifetime: int = 0xFFFFFFFF
    ) -> None: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> NdOption: ...

class NdOptRdnss:
    servers: list[IPv6Address]
    lifetime: int
    def __init__(self, servers: Sequence[_Addr6] | None = None, lifetime: int = 0xFFFFFFFF) -> None: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> NdOption: ...

class NdOptUnknown:
    type: int
    data: bytes
    def __init__(self, type: int = 0, data: Buffer | None = None) -> None: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> NdOption: ...

NdOption = (
    NdOptSourceLinkAddr
    | NdOptTargetLinkAddr
    | NdOptPrefixInfo
    | NdOptRedirectedHeader
    | NdOptMtu
    | NdOptNonce
    | NdOptRouteInfo
    | NdOptRdnss
    | NdOptUnknown
)

class _Message:
    def to_bytes(self, src: _Addr6 | None = None, dst: _Addr6 | None = None) -> bytes: ...
    @staticmethod
    def from_bytes(
        buf: Buffer, src: _Addr6 | None = None, dst: _Addr6 | None = None, maxndopt: int = 10
    ) -> Icmpv6Message: ...
    def validate(self, hop_limit: int, src: _Addr6, dst: _Addr6) -> None: ...

class _NdMessage(_Message):
    options: list[NdOption]
    nd_toomanyopt: int
    nd_dupopt: int
    nd_badopt: int
    nd_unknownopt: int

class Icmpv6Echo(_Message):
    type: int
    ident: int
    seq: int
    data: bytes
    @property
    def is_request(self) -> bool: ...
    def __init__(self, type: int = 128, ident: int = 0, seq: int = 0, data: Buffer | None = None) -> None: ...

class Icmpv6Error(_Message):
    type: int
    code: int
    param: int
    mtu: int
    pointer: int
    invoking: bytes
    def __init__(
        self,
        type: int = 1,
        code: int = 0,
        param: int = 0,
        invoking: Buffer | None = None,
        mtu: int | None = None,
        pointer: int | None = None,
    ) -> None: ...

class Icmpv6Unknown(_Message):
    type: int
    code: int
    body: bytes
    def __init__(self, type: int = 0, code: int = 0, body: Buffer | None = None) -> None: ...

class RouterSolicitation(_NdMessage):
    def __init__(self, options: Iterable[NdOption] | None = None) -> None: ...
    @property
    def source_lladdr(self) -> bytes | None: ...

class RouterAdvertisement(_NdMessage):
    cur_hop_limit: int
    flags: int
    router_lifetime: int
    reachable_time: int
    retrans_timer: int
    managed: bool
    other: bool
    preference: int
    def __init__(
        self,
        cur_hop_limit: int = 64,
        managed: bool = False,
        other: bool = False,
        preference: int = 0,
        router_lifetime: int = 1800,
        reachable_time: int = 0,
        retrans_timer: int = 0,
        options: Iterable[NdOption] | None = None,
        flags: int | None = None,
    ) -> None: ...
    @property
    def source_lladdr(self) -> bytes | None: ...
    @property
    def mtu(self) -> int | None: ...
    @property
    def prefixes(self) -> list[NdOptPrefixInfo]: ...
    @property
    def routes(self) -> list[NdOptRouteInfo]: ...
    @property
    def rdnss(self) -> list[NdOptRdnss]: ...

class NeighborSolicitation(_NdMessage):
    target: IPv6Address
    def __init__(self, target: _Addr6 | None = None, options: Iterable[NdOption] | None = None) -> None: ...
    @property
    def source_lladdr(self) -> bytes | None: ...

class NeighborAdvertisement(_NdMessage):
    target: IPv6Address
    flags: int
    router: bool
    solicited: bool
    override: bool
    def __init__(
        self,
        target: _Addr6 | None = None,
        router: bool = False,
        solicited: bool = False,
        override: bool = False,
        options: Iterable[NdOption] | None = None,
        flags: int | None = None,
    ) -> None: ...
    @property
    def target_lladdr(self) -> bytes | None: ...

class Redirect(_NdMessage):
    target: IPv6Address
    destination: IPv6Address
    def __init__(
        self,
        target: _Addr6 | None = None,
        destination: _Addr6 | None = None,
        options: Iterable[NdOption] | None = None,
    ) -> None: ...
    @property
    def target_lladdr(self) -> bytes | None: ...
    @property
    def redirected_header(self) -> bytes | None: ...

class MldQuery(_Message):
    max_resp: int
    mcast_addr: IPv6Address
    v2: bool
    suppress: bool
    qrv: int
    qqic: int
    sources: list[IPv6Address]
    def __init__(
        self,
        max_resp: int = 10000,
        mcast_addr: _Addr6 | None = None,
        v2: bool = False,
        suppress: bool = False,
        qrv: int = 2,
        qqic: int = 125,
        sources: Sequence[_Addr6] | None = None,
    ) -> None: ...

class MldReport(_Message):
    mcast_addr: IPv6Address
    def __init__(self, mcast_addr: _Addr6 | None = None) -> None: ...

class MldDone(_Message):
    mcast_addr: IPv6Address
    def __init__(self, mcast_addr: _Addr6 | None = None) -> None: ...

class MldAddressRecord:
    record_type: int
    mcast_addr: IPv6Address
    sources: list[IPv6Address]
    aux_data: bytes
    def __init__(
        self,
        record_type: int = 1,
        mcast_addr: _Addr6 | None = None,
        sources: Sequence[_Addr6] | None = None,
        aux_data: Buffer | None = None,
    ) -> None: ...

class Mldv2Report(_Message):
    records: list[MldAddressRecord]
    def __init__(self, records: Sequence[MldAddressRecord] | None = None) -> None: ...

Icmpv6Message = (
    Icmpv6Echo
    | Icmpv6Error
    | Icmpv6Unknown
    | RouterSolicitation
    | RouterAdvertisement
    | NeighborSolicitation
    | NeighborAdvertisement
    | Redirect
    | MldQuery
    | MldReport
    | MldDone
    | Mldv2Report
)

def parse_icmpv6(
    buf: Buffer, src: _Addr6 | None = None, dst: _Addr6 | None = None, maxndopt: int = 10
) -> Icmpv6Message: ...
def parse_nd_options(buf: Buffer, maxndopt: int = 10) -> tuple[list[NdOption], dict[str, int]]: ...

class Ipv4Header:
    tos: int
    total_length: int
    ident: int
    flags: int
    frag_offset: int
    ttl: int
    protocol: int
    src: IPv4Address
    dst: IPv4Address
    options: bytes
    checksum: int | None
    @property
    def header_len(self) -> int: ...
    @property
    def dscp(self) -> int: ...
    @property
    def ecn(self) -> int: ...
    @property
    def df(self) -> bool: ...
    @property
    def mf(self) -> bool: ...
    def __init__(
        self,
        src: _Addr4 | None = None,
        dst: _Addr4 | None = None,
        protocol: int = 0,
        total_length: int = 20,
        ttl: int = 64,
        tos: int = 0,
        ident: int = 0,
        flags: int = 0,
        frag_offset: int = 0,
        options: Buffer | None = None,
        checksum: int | None = None,
    ) -> None: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(buf: Buffer, verify: bool = True) -> Ipv4Header: ...

class UdpHeader:
    src_port: int
    dst_port: int
    payload: bytes
    checksum: int | None
    @property
    def length(self) -> int: ...
    def __init__(
        self, src_port: int = 0, dst_port: int = 0, payload: Buffer | None = None, checksum: int | None = None
    ) -> None: ...
    def to_bytes(self, src: _Addr | None = None, dst: _Addr | None = None) -> bytes: ...
    @staticmethod
    def from_bytes(buf: Buffer, src: _Addr | None = None, dst: _Addr | None = None) -> UdpHeader: ...

class TcpHeader:
    src_port: int
    dst_port: int
    seq: int
    ack: int
    flags: int
    window: int
    urgent: int
    options: list[tuple[Any, Any]]
    payload: bytes
    checksum: int | None
    @property
    def header_len(self) -> int: ...
    def __init__(
        self,
        src_port: int = 0,
        dst_port: int = 0,
        seq: int = 0,
        ack: int = 0,
        flags: int = 0,
        window: int = 65535,
        urgent: int = 0,
        options: Iterable[tuple[Any, Any]] | None = None,
        payload: Buffer | None = None,
        checksum: int | None = None,
    ) -> None: ...
    def to_bytes(self, src: _Addr | None = None, dst: _Addr | None = None) -> bytes: ...
    @staticmethod
    def from_bytes(buf: Buffer, src: _Addr | None = None, dst: _Addr | None = None) -> TcpHeader: ...

def tcp_jumbo_mss(mss: int) -> int: ...
def tcp_effective_mss(mss_option: int, path_mtu: int) -> int: ...

# --- cksum ---
def in6_cksum(
    src: _Addr6, dst: _Addr6, next_header: int, data: Buffer | Iterable[Buffer], length: int | None = None
) -> int: ...
def in4_cksum(
    src: _Addr4, dst: _Addr4, protocol: int, data: Buffer | Iterable[Buffer], length: int | None = None
) -> int: ...
def ip_cksum(buf: Buffer) -> int: ...
def cksum_many(items: Iterable[tuple[_Addr6, _Addr6, int, Buffer | Iterable[Buffer]]]) -> list[int]: ...
def cksum_path() -> str: ...
