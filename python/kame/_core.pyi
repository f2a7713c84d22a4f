"""Type stubs for the extension module ``kame._core``."""

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv6Address
from typing import Any, TypeAlias, final

from typing_extensions import Buffer

__all__ = ["__version__"]
__version__: str

# --- hdr6 ---
_Ip6Addr: TypeAlias = IPv6Address | str | bytes | bytearray

@final
class Ipv6Header:
    """The fixed IPv6 header (RFC 8200 §3)."""

    @property
    def src(self) -> IPv6Address: ...
    @src.setter
    def src(self, value: _Ip6Addr) -> None: ...
    @property
    def dst(self) -> IPv6Address: ...
    @dst.setter
    def dst(self, value: _Ip6Addr) -> None: ...
    next_header: int
    hop_limit: int
    traffic_class: int
    flow_label: int
    payload_len: int
    @property
    def version(self) -> int: ...
    def __new__(
        cls,
        src: _Ip6Addr,
        dst: _Ip6Addr,
        next_header: int = 59,
        hop_limit: int = 64,
        traffic_class: int = 0,
        flow_label: int = 0,
        payload_len: int = 0,
    ) -> Ipv6Header: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> Ipv6Header: ...
    def to_bytes(self) -> bytes: ...
    def __len__(self) -> int: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Ipv6Option:
    """A Hop-by-Hop / Destination option (RFC 8200 §4.2)."""

    type: int
    @property
    def data(self) -> bytes: ...
    @data.setter
    def data(self, value: Buffer) -> None: ...
    def __new__(cls, type: int, data: Buffer | None = None) -> Ipv6Option: ...
    @staticmethod
    def pad1() -> Ipv6Option: ...
    @staticmethod
    def padn(n: int) -> Ipv6Option: ...
    @staticmethod
    def jumbo(length: int) -> Ipv6Option: ...
    @staticmethod
    def router_alert(value: int) -> Ipv6Option: ...
    @staticmethod
    def home_address(addr: _Ip6Addr) -> Ipv6Option: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> Ipv6Option: ...
    def to_bytes(self) -> bytes: ...
    @property
    def action(self) -> int: ...
    @property
    def is_mutable(self) -> bool: ...
    @property
    def value(self) -> int | IPv6Address | None: ...
    def __len__(self) -> int: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class HopByHop:
    """The Hop-by-Hop Options header (RFC 8200 §4.3)."""

    @property
    def options(self) -> list[Ipv6Option]: ...
    @options.setter
    def options(self, value: Iterable[Ipv6Option]) -> None: ...
    next_header: int
    def __new__(
        cls, options: Iterable[Ipv6Option] | None = None, next_header: int = 59
    ) -> HopByHop: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> HopByHop: ...
    def to_bytes(self, pad: bool = True) -> bytes: ...
    def padded_options(self) -> list[Ipv6Option]: ...
    def __len__(self) -> int: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class DestOpts:
    """The Destination Options header (RFC 8200 §4.6)."""

    @property
    def options(self) -> list[Ipv6Option]: ...
    @options.setter
    def options(self, value: Iterable[Ipv6Option]) -> None: ...
    next_header: int
    def __new__(
        cls, options: Iterable[Ipv6Option] | None = None, next_header: int = 59
    ) -> DestOpts: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> DestOpts: ...
    def to_bytes(self, pad: bool = True) -> bytes: ...
    def padded_options(self) -> list[Ipv6Option]: ...
    def __len__(self) -> int: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class RoutingHeader:
    """A Routing header (RFC 8200 §4.4; type 0 RFC 5095, type 2 RFC 6275 §6.4)."""

    routing_type: int
    segments_left: int
    @property
    def addresses(self) -> list[IPv6Address]: ...
    @addresses.setter
    def addresses(self, value: Iterable[_Ip6Addr]) -> None: ...
    @property
    def data(self) -> bytes: ...
    @data.setter
    def data(self, value: Buffer) -> None: ...
    next_header: int
    def __new__(
        cls,
        routing_type: int,
        segments_left: int,
        addresses: Iterable[_Ip6Addr] | None = None,
        data: Buffer | None = None,
        next_header: int = 59,
    ) -> RoutingHeader: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> RoutingHeader: ...
    def to_bytes(self) -> bytes: ...
    def __len__(self) -> int: ...
    def __eq__(self, value: object, /) -> bool: ...
    @property
    def srh(self) -> SegmentRoutingHeader | None: ...

@final
class SrhTlv:
    """One TLV of a Segment Routing Header (RFC 8754 §2.1)."""

    def __new__(cls, type: int, data: Buffer | None = None) -> SrhTlv: ...
    @staticmethod
    def pad1() -> SrhTlv: ...
    @staticmethod
    def padn(n: int = 0) -> SrhTlv: ...
    @staticmethod
    def hmac(key_id: int, hmac: Buffer, d: bool = False) -> SrhTlv: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> SrhTlv: ...
    def to_bytes(self) -> bytes: ...
    def __len__(self) -> int: ...
    def __eq__(self, value: object, /) -> bool: ...
    @property
    def type(self) -> int: ...
    @property
    def data(self) -> bytes: ...
    @property
    def d(self) -> bool | None: ...
    @property
    def key_id(self) -> int | None: ...
    @property
    def value(self) -> bytes | None: ...

@final
class SegmentRoutingHeader:
    """The Segment Routing Header (RFC 8754 §2), Routing header type 4."""

    segments_left: int
    flags: int
    tag: int
    next_header: int
    @property
    def segments(self) -> list[IPv6Address]: ...
    @segments.setter
    def segments(self, value: Iterable[_Ip6Addr]) -> None: ...
    @property
    def tlvs(self) -> list[SrhTlv]: ...
    @tlvs.setter
    def tlvs(self, value: Iterable[SrhTlv]) -> None: ...
    @property
    def last_entry(self) -> int: ...
    def __new__(
        cls,
        segments: Iterable[_Ip6Addr],
        segments_left: int | None = None,
        tlvs: Iterable[SrhTlv] | None = None,
        flags: int = 0,
        tag: int = 0,
        next_header: int = 59,
    ) -> SegmentRoutingHeader: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> SegmentRoutingHeader: ...
    def to_bytes(self, pad: bool = True) -> bytes: ...
    def __len__(self) -> int: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class FragmentHeader:
    """The Fragment header (RFC 8200 §4.5); offset in 8-octet units."""

    offset: int
    more: bool
    ident: int
    next_header: int
    reserved: int
    res: int
    @property
    def byte_offset(self) -> int: ...
    def __new__(
        cls,
        offset: int,
        more: bool,
        ident: int,
        next_header: int = 59,
        reserved: int = 0,
        res: int = 0,
    ) -> FragmentHeader: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> FragmentHeader: ...
    def to_bytes(self) -> bytes: ...
    def __len__(self) -> int: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Ip6Chain:
    """The extension-header chain found by ``walk``."""

    @property
    def headers(self) -> list[tuple[int, int, int]]: ...
    @property
    def upper(self) -> int: ...
    @property
    def upper_offset(self) -> int: ...
    @property
    def upper_nh_offset(self) -> int: ...
    @property
    def fragment(self) -> FragmentHeader | None: ...
    @property
    def fragment_offset(self) -> int | None: ...
    @property
    def jumbo(self) -> int | None: ...
    @property
    def jumbo_offset(self) -> int | None: ...
    @property
    def unfragmentable_len(self) -> int: ...
    @property
    def truncated(self) -> bool: ...
    def __len__(self) -> int: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class Ip6Validated:
    """What ``ip6_validate`` learned about an accepted frame."""

    @property
    def header(self) -> Ipv6Header: ...
    @property
    def payload_len(self) -> int: ...
    @property
    def jumbo(self) -> bool: ...
    @property
    def jumbo_offset(self) -> int | None: ...
    @property
    def trailing(self) -> int: ...
    @property
    def packet_len(self) -> int: ...
    @property
    def chain(self) -> Ip6Chain: ...
    @property
    def router_alert(self) -> int | None: ...
    @property
    def home_address(self) -> IPv6Address | None: ...
    @property
    def home_address_offset(self) -> int | None: ...
    @property
    def pseudo_src(self) -> IPv6Address: ...
    @property
    def pseudo_dst(self) -> IPv6Address: ...

def walk(buf: Buffer, hdrnestlimit: int = 50, lax: bool = False) -> Ip6Chain: ...
def walk_from(
    buf: Buffer, next_header: int, start: int = 40, hdrnestlimit: int = 50, lax: bool = False
) -> Ip6Chain: ...
def ip6_validate(
    frame: Buffer, hdrnestlimit: int = 50, *, reassembled: bool = False, transit: bool = False
) -> Ip6Validated: ...
def ip6_suspicious_address(addr: _Ip6Addr) -> str | None: ...

__all__ += [
    "DestOpts",
    "FragmentHeader",
    "HopByHop",
    "Ip6Chain",
    "Ip6Validated",
    "Ipv6Header",
    "Ipv6Option",
    "RoutingHeader",
    "SegmentRoutingHeader",
    "SrhTlv",
    "ip6_suspicious_address",
    "ip6_validate",
    "walk",
    "walk_from",
]
# --- end hdr6 ---

_Addr6: TypeAlias = str | bytes | IPv6Address
_Addr4: TypeAlias = str | bytes | IPv4Address
_AddrAny: TypeAlias = str | bytes | IPv4Address | IPv6Address

# --- upper ---
ND6_MAXNDOPT: int

@final
class NdOptSourceLinkAddr:
    lladdr: bytes
    def __new__(cls, lladdr: Buffer | None = None) -> NdOptSourceLinkAddr: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> _NdOption: ...

@final
class NdOptTargetLinkAddr:
    lladdr: bytes
    def __new__(cls, lladdr: Buffer | None = None) -> NdOptTargetLinkAddr: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> _NdOption: ...

@final
class NdOptPrefixInfo:
    prefix: IPv6Address
    prefix_len: int
    flags: int
    valid_lifetime: int
    preferred_lifetime: int
    on_link: bool
    autonomous: bool
    def __new__(
        cls,
        prefix: _Addr6 | None = None,
        prefix_len: int = 64,
        on_link: bool = True,
        autonomous: bool = True,
        valid_lifetime: int = 2592000,
        preferred_lifetime: int = 604800,
        flags: int | None = None,
    ) -> NdOptPrefixInfo: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> _NdOption: ...

@final
class NdOptRedirectedHeader:
    data: bytes
    def __new__(cls, data: Buffer | None = None) -> NdOptRedirectedHeader: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> _NdOption: ...

@final
class NdOptMtu:
    mtu: int
    def __new__(cls, mtu: int = 1500) -> NdOptMtu: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> _NdOption: ...

@final
class NdOptNonce:
    nonce: bytes
    def __new__(cls, nonce: Buffer | None = None) -> NdOptNonce: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> _NdOption: ...

@final
class NdOptRouteInfo:
    prefix: IPv6Address
    prefix_len: int
    preference: int
    lifetime: int
    def __new__(
        cls, prefix: _Addr6 | None = None, prefix_len: int = 0, preference: int = 0, lifetime: int = 0xFFFFFFFF
    ) -> NdOptRouteInfo: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> _NdOption: ...

@final
class NdOptRdnss:
    servers: list[IPv6Address]
    lifetime: int
    def __new__(cls, servers: Sequence[_Addr6] | None = None, lifetime: int = 0xFFFFFFFF) -> NdOptRdnss: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> _NdOption: ...

@final
class NdOptUnknown:
    type: int
    data: bytes
    def __new__(cls, type: int = 0, data: Buffer | None = None) -> NdOptUnknown: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> _NdOption: ...

_NdOption: TypeAlias = (
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

@final
class Icmpv6Echo:
    def to_bytes(self, src: _Addr6 | None = None, dst: _Addr6 | None = None) -> bytes: ...
    @staticmethod
    def from_bytes(
        buf: Buffer, src: _Addr6 | None = None, dst: _Addr6 | None = None, maxndopt: int = 10
    ) -> _Icmpv6Message: ...
    def validate(self, hop_limit: int, src: _Addr6, dst: _Addr6) -> None: ...
    type: int
    ident: int
    seq: int
    data: bytes
    @property
    def is_request(self) -> bool: ...
    def __new__(cls, type: int = 128, ident: int = 0, seq: int = 0, data: Buffer | None = None) -> Icmpv6Echo: ...

@final
class Icmpv6Error:
    def to_bytes(self, src: _Addr6 | None = None, dst: _Addr6 | None = None) -> bytes: ...
    @staticmethod
    def from_bytes(
        buf: Buffer, src: _Addr6 | None = None, dst: _Addr6 | None = None, maxndopt: int = 10
    ) -> _Icmpv6Message: ...
    def validate(self, hop_limit: int, src: _Addr6, dst: _Addr6) -> None: ...
    type: int
    code: int
    param: int
    mtu: int
    pointer: int
    invoking: bytes
    def __new__(
        cls,
        type: int = 1,
        code: int = 0,
        param: int = 0,
        invoking: Buffer | None = None,
        mtu: int | None = None,
        pointer: int | None = None,
    ) -> Icmpv6Error: ...

@final
class Icmpv6Unknown:
    def to_bytes(self, src: _Addr6 | None = None, dst: _Addr6 | None = None) -> bytes: ...
    @staticmethod
    def from_bytes(
        buf: Buffer, src: _Addr6 | None = None, dst: _Addr6 | None = None, maxndopt: int = 10
    ) -> _Icmpv6Message: ...
    def validate(self, hop_limit: int, src: _Addr6, dst: _Addr6) -> None: ...
    type: int
    code: int
    body: bytes
    def __new__(cls, type: int = 0, code: int = 0, body: Buffer | None = None) -> Icmpv6Unknown: ...

@final
class RouterSolicitation:
    options: list[_NdOption]
    nd_toomanyopt: int
    nd_dupopt: int
    nd_badopt: int
    nd_unknownopt: int
    def to_bytes(self, src: _Addr6 | None = None, dst: _Addr6 | None = None) -> bytes: ...
    @staticmethod
    def from_bytes(
        buf: Buffer, src: _Addr6 | None = None, dst: _Addr6 | None = None, maxndopt: int = 10
    ) -> _Icmpv6Message: ...
    def validate(self, hop_limit: int, src: _Addr6, dst: _Addr6) -> None: ...
    def __new__(cls, options: Iterable[_NdOption] | None = None) -> RouterSolicitation: ...
    @property
    def source_lladdr(self) -> bytes | None: ...

@final
class RouterAdvertisement:
    options: list[_NdOption]
    nd_toomanyopt: int
    nd_dupopt: int
    nd_badopt: int
    nd_unknownopt: int
    def to_bytes(self, src: _Addr6 | None = None, dst: _Addr6 | None = None) -> bytes: ...
    @staticmethod
    def from_bytes(
        buf: Buffer, src: _Addr6 | None = None, dst: _Addr6 | None = None, maxndopt: int = 10
    ) -> _Icmpv6Message: ...
    def validate(self, hop_limit: int, src: _Addr6, dst: _Addr6) -> None: ...
    cur_hop_limit: int
    flags: int
    router_lifetime: int
    reachable_time: int
    retrans_timer: int
    managed: bool
    other: bool
    preference: int
    def __new__(
        cls,
        cur_hop_limit: int = 64,
        managed: bool = False,
        other: bool = False,
        preference: int = 0,
        router_lifetime: int = 1800,
        reachable_time: int = 0,
        retrans_timer: int = 0,
        options: Iterable[_NdOption] | None = None,
        flags: int | None = None,
    ) -> RouterAdvertisement: ...
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

@final
class NeighborSolicitation:
    options: list[_NdOption]
    nd_toomanyopt: int
    nd_dupopt: int
    nd_badopt: int
    nd_unknownopt: int
    def to_bytes(self, src: _Addr6 | None = None, dst: _Addr6 | None = None) -> bytes: ...
    @staticmethod
    def from_bytes(
        buf: Buffer, src: _Addr6 | None = None, dst: _Addr6 | None = None, maxndopt: int = 10
    ) -> _Icmpv6Message: ...
    def validate(self, hop_limit: int, src: _Addr6, dst: _Addr6) -> None: ...
    target: IPv6Address
    def __new__(cls, target: _Addr6 | None = None, options: Iterable[_NdOption] | None = None) -> NeighborSolicitation: ...
    @property
    def source_lladdr(self) -> bytes | None: ...

@final
class NeighborAdvertisement:
    options: list[_NdOption]
    nd_toomanyopt: int
    nd_dupopt: int
    nd_badopt: int
    nd_unknownopt: int
    def to_bytes(self, src: _Addr6 | None = None, dst: _Addr6 | None = None) -> bytes: ...
    @staticmethod
    def from_bytes(
        buf: Buffer, src: _Addr6 | None = None, dst: _Addr6 | None = None, maxndopt: int = 10
    ) -> _Icmpv6Message: ...
    def validate(self, hop_limit: int, src: _Addr6, dst: _Addr6) -> None: ...
    target: IPv6Address
    flags: int
    router: bool
    solicited: bool
    override: bool
    def __new__(
        cls,
        target: _Addr6 | None = None,
        router: bool = False,
        solicited: bool = False,
        override: bool = False,
        options: Iterable[_NdOption] | None = None,
        flags: int | None = None,
    ) -> NeighborAdvertisement: ...
    @property
    def target_lladdr(self) -> bytes | None: ...

@final
class Redirect:
    options: list[_NdOption]
    nd_toomanyopt: int
    nd_dupopt: int
    nd_badopt: int
    nd_unknownopt: int
    def to_bytes(self, src: _Addr6 | None = None, dst: _Addr6 | None = None) -> bytes: ...
    @staticmethod
    def from_bytes(
        buf: Buffer, src: _Addr6 | None = None, dst: _Addr6 | None = None, maxndopt: int = 10
    ) -> _Icmpv6Message: ...
    def validate(self, hop_limit: int, src: _Addr6, dst: _Addr6) -> None: ...
    target: IPv6Address
    destination: IPv6Address
    def __new__(
        cls,
        target: _Addr6 | None = None,
        destination: _Addr6 | None = None,
        options: Iterable[_NdOption] | None = None,
    ) -> Redirect: ...
    @property
    def target_lladdr(self) -> bytes | None: ...
    @property
    def redirected_header(self) -> bytes | None: ...

@final
class MldQuery:
    def to_bytes(self, src: _Addr6 | None = None, dst: _Addr6 | None = None) -> bytes: ...
    @staticmethod
    def from_bytes(
        buf: Buffer, src: _Addr6 | None = None, dst: _Addr6 | None = None, maxndopt: int = 10
    ) -> _Icmpv6Message: ...
    def validate(self, hop_limit: int, src: _Addr6, dst: _Addr6) -> None: ...
    max_resp: int
    mcast_addr: IPv6Address
    v2: bool
    suppress: bool
    qrv: int
    qqic: int
    sources: list[IPv6Address]
    def __new__(
        cls,
        max_resp: int = 10000,
        mcast_addr: _Addr6 | None = None,
        v2: bool = False,
        suppress: bool = False,
        qrv: int = 2,
        qqic: int = 125,
        sources: Sequence[_Addr6] | None = None,
    ) -> MldQuery: ...

@final
class MldReport:
    def to_bytes(self, src: _Addr6 | None = None, dst: _Addr6 | None = None) -> bytes: ...
    @staticmethod
    def from_bytes(
        buf: Buffer, src: _Addr6 | None = None, dst: _Addr6 | None = None, maxndopt: int = 10
    ) -> _Icmpv6Message: ...
    def validate(self, hop_limit: int, src: _Addr6, dst: _Addr6) -> None: ...
    mcast_addr: IPv6Address
    def __new__(cls, mcast_addr: _Addr6 | None = None) -> MldReport: ...

@final
class MldDone:
    def to_bytes(self, src: _Addr6 | None = None, dst: _Addr6 | None = None) -> bytes: ...
    @staticmethod
    def from_bytes(
        buf: Buffer, src: _Addr6 | None = None, dst: _Addr6 | None = None, maxndopt: int = 10
    ) -> _Icmpv6Message: ...
    def validate(self, hop_limit: int, src: _Addr6, dst: _Addr6) -> None: ...
    mcast_addr: IPv6Address
    def __new__(cls, mcast_addr: _Addr6 | None = None) -> MldDone: ...

@final
class MldAddressRecord:
    record_type: int
    mcast_addr: IPv6Address
    sources: list[IPv6Address]
    aux_data: bytes
    def __new__(
        cls,
        record_type: int = 1,
        mcast_addr: _Addr6 | None = None,
        sources: Sequence[_Addr6] | None = None,
        aux_data: Buffer | None = None,
    ) -> MldAddressRecord: ...

@final
class Mldv2Report:
    def to_bytes(self, src: _Addr6 | None = None, dst: _Addr6 | None = None) -> bytes: ...
    @staticmethod
    def from_bytes(
        buf: Buffer, src: _Addr6 | None = None, dst: _Addr6 | None = None, maxndopt: int = 10
    ) -> _Icmpv6Message: ...
    def validate(self, hop_limit: int, src: _Addr6, dst: _Addr6) -> None: ...
    records: list[MldAddressRecord]
    def __new__(cls, records: Sequence[MldAddressRecord] | None = None) -> Mldv2Report: ...

_Icmpv6Message: TypeAlias = (
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
) -> _Icmpv6Message: ...
def parse_nd_options(buf: Buffer, maxndopt: int = 10) -> tuple[list[_NdOption], dict[str, int]]: ...

@final
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
    def __new__(
        cls,
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
    ) -> Ipv4Header: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(buf: Buffer, verify: bool = True) -> Ipv4Header: ...

@final
class UdpHeader:
    src_port: int
    dst_port: int
    payload: bytes
    checksum: int | None
    @property
    def length(self) -> int: ...
    def __new__(
        cls, src_port: int = 0, dst_port: int = 0, payload: Buffer | None = None, checksum: int | None = None
    ) -> UdpHeader: ...
    def to_bytes(self, src: _AddrAny | None = None, dst: _AddrAny | None = None) -> bytes: ...
    @staticmethod
    def from_bytes(buf: Buffer, src: _AddrAny | None = None, dst: _AddrAny | None = None) -> UdpHeader: ...

@final
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
    def __new__(
        cls,
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
    ) -> TcpHeader: ...
    def to_bytes(self, src: _AddrAny | None = None, dst: _AddrAny | None = None) -> bytes: ...
    @staticmethod
    def from_bytes(buf: Buffer, src: _AddrAny | None = None, dst: _AddrAny | None = None) -> TcpHeader: ...

def tcp_jumbo_mss(mss: int) -> int: ...
def icmp6_may_elicit_error(msg_type: int) -> bool: ...
def tcp_effective_mss(mss_option: int, path_mtu: int) -> int: ...

# --- tcp (issue 9: kame.tcp's byte paths) ---
__all__ += ["TcpReass", "TcpRecvBuffer", "TcpSegment", "TcpSendBuffer", "TcpSynCache", "tcp6_output",
            "tcp_input_parse", "tcp_options", "tcp_output_segment"]

@final
class TcpSegment:
    @property
    def src_port(self) -> int: ...
    @property
    def dst_port(self) -> int: ...
    @property
    def seq(self) -> int: ...
    @property
    def ack(self) -> int: ...
    @property
    def flags(self) -> int: ...
    @property
    def window(self) -> int: ...
    @property
    def urgent(self) -> int: ...
    @property
    def header_len(self) -> int: ...
    @property
    def mss(self) -> int | None: ...
    @property
    def wscale(self) -> int | None: ...
    @property
    def sack_permitted(self) -> bool: ...
    @property
    def sack(self) -> list[tuple[int, int]]: ...
    @property
    def ts(self) -> tuple[int, int] | None: ...
    @property
    def payload(self) -> bytes: ...

def tcp_input_parse(
    buf: Buffer,
    src: _AddrAny | Buffer,
    dst: _AddrAny | Buffer,
    verify: bool = True,
    start: int = 0,
    end: int | None = None,
) -> TcpSegment: ...
def tcp_options(
    mss: int | None = None,
    wscale: int | None = None,
    sack_permitted: bool = False,
    ts: tuple[int, int] | None = None,
    sack: Iterable[tuple[int, int]] | None = None,
) -> bytes: ...
def tcp6_output(
    src: _AddrAny | Buffer,
    dst: _AddrAny | Buffer,
    hlim: int,
    tclass: int,
    sport: int,
    dport: int,
    seq: int,
    ack: int,
    flags: int,
    window: int,
    options: Buffer,
    payload: Buffer,
    urgent: int = 0,
    flow: int = 0,
) -> bytes: ...
def tcp_output_segment(
    src: _AddrAny | Buffer,
    dst: _AddrAny | Buffer,
    sport: int,
    dport: int,
    seq: int,
    ack: int,
    flags: int,
    window: int,
    options: Buffer,
    payload: Buffer,
    urgent: int = 0,
) -> bytes: ...
@final
class TcpReass:
    def __new__(cls, cap_bytes: int, max_blocks: int = 100) -> TcpReass: ...
    def insert(self, seq: int, data: Buffer, rcv_nxt: int) -> int: ...
    def pull(self, rcv_nxt: int) -> bytes: ...
    def sack_blocks(self, n: int) -> list[tuple[int, int]]: ...
    def set_bounds(self, cap_bytes: int, max_blocks: int) -> None: ...
    def clear(self) -> None: ...
    @property
    def bytes(self) -> int: ...
    @property
    def end(self) -> int | None: ...
    def __len__(self) -> int: ...
@final
class TcpSendBuffer:
    def __new__(cls, cap: int) -> TcpSendBuffer: ...
    def write(self, data: Buffer) -> int: ...
    def peek(self, off: int, n: int) -> bytes: ...
    def drop_front(self, n: int) -> None: ...
    def clear(self) -> None: ...
    def shrink(self) -> None: ...
    @property
    def allocated(self) -> int: ...
    @property
    def space(self) -> int: ...
    @property
    def cap(self) -> int: ...
    @cap.setter
    def cap(self, cap: int) -> None: ...
    def __len__(self) -> int: ...
@final
class TcpRecvBuffer:
    def __new__(cls, cap: int) -> TcpRecvBuffer: ...
    def write(self, data: Buffer) -> None: ...
    def read(self, n: int) -> bytes: ...
    def peek(self, n: int) -> bytes: ...
    def clear(self) -> None: ...
    def shrink(self) -> None: ...
    @property
    def allocated(self) -> int: ...
    @property
    def space(self) -> int: ...
    @property
    def cap(self) -> int: ...
    @cap.setter
    def cap(self, cap: int) -> None: ...
    def __len__(self) -> int: ...
@final
class TcpSynCache:
    def __new__(cls, secret: bytes) -> TcpSynCache: ...
    def add(
        self,
        laddr: bytes,
        faddr: bytes,
        seg: TcpSegment,
        scope: int,
        mss: int,
        rcvbuf: int,
        lso: Any,
        policy: tuple[int, bool, bool, bool, bool, int, float],
        now: float,
    ) -> tuple[int, bytes | None]: ...
    def expand(
        self, laddr: bytes, faddr: bytes, seg: TcpSegment, rcvbuf: int, can_accept: bool, cookies: bool, now: float
    ) -> tuple[
        int,
        tuple[int, int, int | None, int | None, bool, int | None, bool, int, float | None, int, bool, Any] | None,
    ]: ...
    def chkrst(self, laddr: bytes, lport: int, faddr: bytes, fport: int, seq: int) -> bool: ...
    def unreach(self, laddr: bytes, lport: int, faddr: bytes, fport: int, seq: int) -> bool: ...
    def next_deadline(self) -> float | None: ...
    def expire(
        self, now: float, rexmit_initial: float
    ) -> tuple[list[tuple[bytes, int, bytes, int, int, Any, bytes]], int]: ...
    @staticmethod
    def rcv_wscale(rcvbuf: int) -> int: ...
    def clear(self) -> None: ...
    def __len__(self) -> int: ...

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
# --- reass ---
from typing import Literal

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
"""Type stubs for the extension module kame._core (one marked block per area)."""

import sys
from typing import final

if sys.version_info >= (3, 12):
    from collections.abc import Buffer
else:
    from typing_extensions import Buffer


# --- ipsec ---
_IpsecAddr: TypeAlias = str | bytes | IPv4Address | IPv6Address

@final
class PacketRun:
    """The packets of one batch in one buffer the core owns."""

    def __len__(self) -> int: ...
    def __getitem__(self, index: int, /) -> memoryview | Exception: ...
    def __iter__(self) -> PacketRunIter: ...
    @property
    def ok(self) -> int: ...
    @property
    def octets(self) -> int: ...
    @property
    def errors(self) -> list[tuple[int, Exception]]: ...
    @property
    def spans(self) -> memoryview: ...
    def tolist(self) -> list[bytes | Exception]: ...

@final
class PacketRunIter:
    def __iter__(self) -> PacketRunIter: ...
    def __next__(self) -> memoryview | Exception: ...

@final
class EspSa:
    """An ESP SA (RFC 4303; old ESP RFC 1827/1829 with old=True)."""

    def __new__(
        cls,
        spi: int,
        enc: str = "null",
        enc_key: Buffer | None = None,
        auth: str | None = None,
        auth_key: Buffer | None = None,
        *,
        mode: str = "transport",
        tunnel_src: _IpsecAddr | None = None,
        tunnel_dst: _IpsecAddr | None = None,
        replay_window: int = 32,
        esn: bool = False,
        udp_encap: bool | int | tuple[int, int] | None = None,
        randpad: int = ...,  # -1: off (seed §4.3)
        old: bool = False,
        ecn: int | str | None = None,  # seed §4.6: -1, 0 (default), 1; 2 = RFC 6040
    ) -> EspSa: ...
    def output(self, packet: Buffer, *, iv: Buffer | None = None, pad: Buffer | None = None) -> bytes: ...
    def input(self, packet: Buffer) -> bytes: ...
    def output_many(self, packets: Sequence[Buffer], *, threads: int = 1) -> list[bytes | Exception]: ...
    def input_many(self, packets: Sequence[Buffer], *, threads: int = 1) -> list[bytes | Exception]: ...
    def output_batch(self, packets: Iterable[Buffer], *, threads: int = 1) -> PacketBatch: ...
    def input_batch(self, packets: Iterable[Buffer], *, threads: int = 1) -> PacketBatch: ...
    def overhead(self, length: int) -> int: ...
    @property
    def counters(self) -> dict[str, int]: ...
    @property
    def spi(self) -> int: ...
    @property
    def seq(self) -> int: ...
    @seq.setter
    def seq(self, value: int) -> None: ...
    @property
    def replay_top(self) -> int: ...
    @replay_top.setter
    def replay_top(self, value: int) -> None: ...
    @property
    def replay_window(self) -> int: ...
    @property
    def enc(self) -> str: ...
    @property
    def auth(self) -> str | None: ...
    @property
    def icv_len(self) -> int: ...
    @property
    def mode(self) -> str: ...
    @property
    def ecn(self) -> int: ...
    @ecn.setter
    def ecn(self, value: int | str) -> None: ...
    @property
    def esn(self) -> bool: ...
    @property
    def old(self) -> bool: ...

@final
class AhSa:
    """An AH SA (RFC 4302; old AH RFC 1826 with old=True)."""

    def __new__(
        cls,
        spi: int,
        auth: str,
        key: Buffer,
        old: bool = False,
        *,
        mode: str = "transport",
        tunnel_src: _IpsecAddr | None = None,
        tunnel_dst: _IpsecAddr | None = None,
        replay_window: int = 32,
        esn: bool = False,
        ecn: int | str | None = None,
    ) -> AhSa: ...
    def output(self, packet: Buffer) -> bytes: ...
    def input(self, packet: Buffer) -> bytes: ...
    def output_many(self, packets: Sequence[Buffer], *, threads: int = 1) -> list[bytes | Exception]: ...
    def input_many(self, packets: Sequence[Buffer], *, threads: int = 1) -> list[bytes | Exception]: ...
    def output_batch(self, packets: Iterable[Buffer], *, threads: int = 1) -> PacketBatch: ...
    def input_batch(self, packets: Iterable[Buffer], *, threads: int = 1) -> PacketBatch: ...
    @property
    def counters(self) -> dict[str, int]: ...
    @property
    def spi(self) -> int: ...
    @property
    def seq(self) -> int: ...
    @seq.setter
    def seq(self, value: int) -> None: ...
    @property
    def replay_top(self) -> int: ...
    @replay_top.setter
    def replay_top(self, value: int) -> None: ...
    @property
    def replay_window(self) -> int: ...
    @property
    def auth(self) -> str: ...
    @property
    def icv_len(self) -> int: ...
    @property
    def mode(self) -> str: ...
    @property
    def ecn(self) -> int: ...
    @ecn.setter
    def ecn(self, value: int | str) -> None: ...
    @property
    def esn(self) -> bool: ...
    @property
    def old(self) -> bool: ...

# --- end ipsec ---
"""Type stubs for the extension module kame._core (one marked block per area)."""

from typing import Self, final

from typing_extensions import Buffer

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
    def output_many(self, packets: Sequence[Buffer], *, threads: int = 1) -> list[bytes | Exception]: ...
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

# --- nd6 ---
_NdFields: TypeAlias = tuple[int, int, int, int, int, int, bytes | None, bytes | None, int]

def nd6_input(
    frame: Buffer, hdrnestlimit: int = 50, maxndopt: int = 10, own_lladdr: Buffer | None = None
) -> _NdFields | None: ...
def nd6_input_many(
    frames: Iterable[Buffer],
    hdrnestlimit: int = 50,
    maxndopt: int = 10,
    own_lladdr: Buffer | None = None,
) -> list[_NdFields | None]: ...
def nd6_na_output(
    src: int, dst: int, target: int, flags: int, tlla: Buffer | None = None
) -> bytes: ...
def nd6_ns_output(
    src: int, dst: int, target: int, slla: Buffer | None = None, nonce: Buffer | None = None
) -> bytes: ...

# --- end nd6 ---

# --- wire: parse / parse_many ---
@final
class Packet:
    """A dissected packet (or Ethernet frame); see ``parse``."""

    # Every field is computed on its first read (none is made at parse time).
    @property
    def src_bytes(self) -> bytes: ...
    @property
    def dst_bytes(self) -> bytes: ...
    @property
    def hop_limit(self) -> int: ...
    @property
    def upper_proto(self) -> int: ...
    @property
    def sport(self) -> int | None: ...
    @property
    def dport(self) -> int | None: ...
    @property
    def version(self) -> int: ...
    @property
    def traffic_class(self) -> int: ...
    @property
    def flow_label(self) -> int: ...
    @property
    def payload_len(self) -> int: ...
    @property
    def next_header(self) -> int: ...
    @property
    def src(self) -> IPv6Address | IPv4Address: ...
    @property
    def dst(self) -> IPv6Address | IPv4Address: ...
    @property
    def jumbo(self) -> int | None: ...
    @property
    def router_alert(self) -> int | None: ...
    @property
    def fragment(self) -> tuple[int, bool, int] | None: ...
    @property
    def frag_offset(self) -> int | None: ...
    @property
    def frag_ident(self) -> int | None: ...
    @property
    def trailing(self) -> int: ...
    @property
    def chain(self) -> list[tuple[int, int, int]]: ...
    @property
    def headers(self) -> list[HopByHop | DestOpts | RoutingHeader | FragmentHeader | bytes]: ...
    @property
    def upper_offset(self) -> int: ...
    @property
    def payload_offset(self) -> int: ...
    @property
    def icmp_type(self) -> int | None: ...
    @property
    def icmp_code(self) -> int | None: ...
    @property
    def tcp(self) -> tuple[int, int, int, int] | None: ...
    @property
    def seq(self) -> int | None: ...
    @property
    def ack(self) -> int | None: ...
    @property
    def tcp_flags(self) -> int | None: ...
    @property
    def window(self) -> int | None: ...
    @property
    def cksum_ok(self) -> bool | None: ...
    @property
    def cksum_bad(self) -> tuple[int, int, bool] | None: ...
    @property
    def payload(self) -> bytes: ...
    @property
    def upper_bytes(self) -> bytes: ...
    @property
    def upper(self) -> Any: ...
    @property
    def nd_target(self) -> IPv6Address | None: ...
    @property
    def nd_source_lladdr(self) -> bytes | None: ...
    @property
    def nd_target_lladdr(self) -> bytes | None: ...
    @property
    def nd_mtu(self) -> int | None: ...
    @property
    def nd_prefixes(self) -> list[NdOptPrefixInfo]: ...
    @property
    def nd_prefix(self) -> IPv6Address | None: ...
    @property
    def nd_prefix_len(self) -> int | None: ...
    @property
    def nd_options(self) -> list[tuple[int, bytes]]: ...
    @property
    def link(self) -> tuple[bytes, bytes, int] | None: ...
    @property
    def data(self) -> bytes: ...
    def __bytes__(self) -> bytes: ...
    def __len__(self) -> int: ...

@final
class PacketBatch:
    """The result of ``parse_many``."""

    def __len__(self) -> int: ...
    def __getitem__(self, i: int, /) -> Packet: ...
    def __iter__(self) -> PacketBatchIter: ...
    @property
    def ok_count(self) -> int: ...
    def upper_protos(self) -> bytes: ...
    def cksum_verdicts(self) -> bytes: ...
    def errors(self) -> list[tuple[int, Exception]]: ...

@final
class PacketBatchIter:
    """The iterator of a ``PacketBatch``."""

    def __iter__(self) -> PacketBatchIter: ...
    def __next__(self) -> Packet: ...

def parse(data: Buffer, hdrnestlimit: int = 50, verify_cksum: bool = True, link: str | int = ...) -> Packet: ...
def parse_many(
    packets: Iterable[Buffer] | Buffer,
    hdrnestlimit: int = 50,
    verify_cksum: bool = True,
    link: str | int = ...,
    offsets: Sequence[int] | None = None,
) -> PacketBatch: ...

__all__ += ["Packet", "PacketBatch", "PacketBatchIter", "parse", "parse_many"]
# --- end wire ---

# --- dissect: Dissector, bpf_filter, pcap_compile ---
@final
class Dissector:
    """``kame dissect`` over a capture fed by chunks: records, filter,
    lines and verdicts in the core."""

    def __new__(
        cls,
        *,
        hdrnestlimit: int = 50,
        verify_cksum: bool = True,
        verbose: int = 0,
        link: bool = False,
        quiet: bool = False,
        json: bool = False,
        write: bool = False,
        count: int = 0,
        filters: dict[int, list[tuple[int, int, int, int]] | str] | None = None,
        max_caplen: int = ...,
    ) -> Dissector: ...
    def feed(self, data: Buffer, eof: bool) -> tuple[str, bytes, bool]: ...
    def write_file(self, infd: int, outfd: int) -> None: ...
    def print_file(self, infd: int, outfd: int) -> None: ...
    def close(self) -> dict[str, int]: ...
    @property
    def unsupported(self) -> tuple[int, int] | None: ...
    @property
    def linktype(self) -> int | None: ...
    @property
    def frames(self) -> int: ...

def bpf_filter(
    program: Sequence[tuple[int, int, int, int]], packet: bytes, wirelen: int | None = None
) -> int: ...

def pcap_compile(expr: str, linktype: int) -> list[tuple[int, int, int, int]]: ...

__all__ += ["Dissector", "bpf_filter", "pcap_compile"]
# --- end dissect ---

# --- link: parse_link, LinkFrame, Arp ---
@final
class Arp:
    """An Ethernet/IPv4 ARP (or RARP) packet, RFC 826."""

    op: int
    sender_mac: bytes
    sender_ip: IPv4Address
    target_mac: bytes
    target_ip: IPv4Address
    def __new__(
        cls,
        op: int = 1,
        sender_mac: Buffer | None = None,
        sender_ip: _Addr4 | None = None,
        target_mac: Buffer | None = None,
        target_ip: _Addr4 | None = None,
    ) -> Arp: ...
    @staticmethod
    def from_bytes(buf: Buffer) -> Arp: ...
    def to_bytes(self) -> bytes: ...
    @property
    def is_gratuitous(self) -> bool: ...
    @property
    def is_probe(self) -> bool: ...

@final
class LinkFrame:
    """The link header of a frame; see ``parse_link``."""

    @property
    def linktype(self) -> str: ...
    @property
    def ethertype(self) -> int | None: ...
    @property
    def payload_offset(self) -> int: ...
    @property
    def payload_len(self) -> int: ...
    @property
    def src(self) -> bytes | None: ...
    @property
    def dst(self) -> bytes | None: ...
    @property
    def vlans(self) -> list[int]: ...
    @property
    def pkttype(self) -> int | None: ...
    @property
    def hatype(self) -> int | None: ...
    @property
    def ifindex(self) -> int | None: ...
    @property
    def family(self) -> int | None: ...
    @property
    def outgoing(self) -> bool: ...
    @property
    def is_ip(self) -> bool: ...
    @property
    def is_arp(self) -> bool: ...
    @property
    def arp(self) -> Arp: ...
    @property
    def data(self) -> bytes: ...
    def __len__(self) -> int: ...

def parse_link(data: Buffer, link: str | int | None = None) -> LinkFrame: ...

def vnet_input(buf: Buffer) -> tuple[bytes, int]: ...
def vnet_output_hdr(frame: Buffer, gso_size: int) -> bytes: ...

__all__ += ["Arp", "LinkFrame", "parse_link", "vnet_input", "vnet_output_hdr"]
# --- end link ---

# The names of the upper, cksum, frag6/reass and nd6 sections, exported at runtime.
__all__ += [
    "ND6_MAXNDOPT",
    "Icmpv6Echo",
    "Icmpv6Error",
    "Icmpv6Unknown",
    "Ipv4Header",
    "MldAddressRecord",
    "MldDone",
    "MldQuery",
    "MldReport",
    "Mldv2Report",
    "NdOptMtu",
    "NdOptNonce",
    "NdOptPrefixInfo",
    "NdOptRdnss",
    "NdOptRedirectedHeader",
    "NdOptRouteInfo",
    "NdOptSourceLinkAddr",
    "NdOptTargetLinkAddr",
    "NdOptUnknown",
    "NeighborAdvertisement",
    "NeighborSolicitation",
    "ReassOutcome",
    "Reassembler",
    "Redirect",
    "RouterAdvertisement",
    "RouterSolicitation",
    "TcpHeader",
    "UdpHeader",
    "atomic_fragment",
    "cksum_many",
    "cksum_path",
    "fragment",
    "icmp6_may_elicit_error",
    "in4_cksum",
    "in6_cksum",
    "ip_cksum",
    "nd6_input",
    "nd6_input_many",
    "nd6_na_output",
    "nd6_ns_output",
    "parse_icmpv6",
    "parse_nd_options",
    "tcp_effective_mss",
    "tcp_jumbo_mss",
]

# The names of the ipsec, ipcomp and tunnel blocks, exported at runtime.
__all__ += [
    "AhSa",
    "EspSa",
    "IpcompSa",
    "PacketRun",
    "PacketRunIter",
    "decapsulate",
    "decapsulate_ex",
    "deflate",
    "ecn_egress",
    "ecn_ingress",
    "encapsulate",
    "inflate",
]
# --- inet --- (IPv4 and ARP on the wire, kame_core::inet; issue 9)
__all__ += [
    "Ip4Validated",
    "IpReassembler",
    "arp_build",
    "arp_parse",
    "icmp_build",
    "icmp_next_plateau",
    "icmp_parse",
    "ip_build",
    "ip_forward_ttl",
    "ip_fragment",
    "ip_validate",
]

@final
class Ip4Validated:
    """What ``ip_validate`` found in an IPv4 datagram."""

    @property
    def header_len(self) -> int: ...
    @property
    def total_len(self) -> int: ...
    @property
    def tos(self) -> int: ...
    @property
    def ident(self) -> int: ...
    @property
    def flags(self) -> int: ...
    @property
    def df(self) -> bool: ...
    @property
    def mf(self) -> bool: ...
    @property
    def frag_off(self) -> int: ...
    @property
    def ttl(self) -> int: ...
    @property
    def protocol(self) -> int: ...
    @property
    def src(self) -> IPv4Address: ...
    @property
    def dst(self) -> IPv4Address: ...
    @property
    def opt_count(self) -> int: ...
    @property
    def record_route(self) -> int | None: ...
    @property
    def timestamp(self) -> int | None: ...
    @property
    def source_route(self) -> tuple[bool, int, bool] | None: ...
    @property
    def router_alert(self) -> bool: ...
    @property
    def is_fragment(self) -> bool: ...

def ip_validate(packet: Buffer, verify_checksum: bool = True) -> Ip4Validated: ...
def ip_build(
    src: _Addr4,
    dst: _Addr4,
    protocol: int,
    payload: Buffer,
    ttl: int = 64,
    tos: int = 0,
    ident: int = 0,
    df: bool = False,
    options: Buffer | None = None,
) -> bytes: ...
def ip_fragment(packet: Buffer, mtu: int) -> list[bytes]: ...
def ip_forward_ttl(packet: Buffer) -> bytes: ...
def icmp_parse(buf: Buffer, verify_checksum: bool = True) -> tuple[int, int, int, bytes]: ...
def icmp_build(icmp_type: int, code: int, rest: int = 0, data: Buffer | None = None) -> bytes: ...
def icmp_next_plateau(total_len: int) -> int: ...
def arp_parse(buf: Buffer) -> tuple[int, bytes, IPv4Address, bytes, IPv4Address]: ...
def arp_build(op: int, sha: Buffer, spa: _Addr4, tha: Buffer, tpa: _Addr4) -> bytes: ...

@final
class IpReassembler:
    """Bounded IPv4 reassembly (``ip_reass``)."""

    timeout: float
    max_bytes: int
    max_queues: int
    max_frags_per_queue: int
    def __new__(
        cls, timeout: float = 30.0, max_bytes: int = 4194304, max_queues: int = 1024, max_frags_per_queue: int = 16
    ) -> IpReassembler: ...
    def input(
        self, packet: Buffer, now: float, zone: int = 0
    ) -> tuple[Literal["not_fragment", "incomplete", "reassembled", "dropped"], bytes | None, str | None]: ...
    def expire(self, now: float) -> list[tuple[bytes, int]]: ...
    def next_deadline(self) -> float | None: ...
    @property
    def stats(self) -> dict[str, int]: ...
    @property
    def bytes_held(self) -> int: ...
    @property
    def frags_held(self) -> int: ...
    def __len__(self) -> int: ...

# --- end inet ---

# --- capture: CaptureColumns, CaptureFile, pcap_resync, capture_schema ---
import os

@final
class CaptureColumns:
    """A capture fed by chunks turned into batches of Arrow column
    buffers; see ``kame.capture``."""

    def __new__(
        cls,
        *,
        batch_rows: int = 65536,
        hdrnestlimit: int = 50,
        verify_cksum: bool = True,
        max_caplen: int = ...,
        stop: int | None = None,
    ) -> CaptureColumns: ...
    def feed(self, data: Buffer, eof: bool) -> tuple[list[dict[str, Any]], bool]: ...
    def seek(self, offset: int) -> None: ...
    def close(self) -> None: ...
    @property
    def linktype(self) -> int | None: ...
    @property
    def is_pcap(self) -> bool: ...
    @property
    def frames(self) -> int: ...

@final
class CaptureFile:
    """A capture file read as batches of Arrow column buffers, mapped
    into memory: the whole file, or the records of a pcap starting in
    ``[start, stop)``; see ``kame.capture``."""

    def __new__(
        cls,
        path: str | os.PathLike[str],
        *,
        batch_rows: int = 65536,
        hdrnestlimit: int = 50,
        verify_cksum: bool = True,
        max_caplen: int = ...,
        start: int = 0,
        stop: int | None = None,
        lean: bool = True,
    ) -> CaptureFile: ...
    def next_batch(self) -> dict[str, Any] | None: ...
    def close(self) -> None: ...
    @property
    def linktype(self) -> int | None: ...
    @property
    def is_pcap(self) -> bool: ...
    @property
    def frames(self) -> int: ...

@final
class ColumnBuffer:
    """A column buffer of the core, exported by the buffer protocol."""

    def __len__(self) -> int: ...

def pcap_resync(header: bytes, first_sec: int, window: bytes, window_is_tail: bool) -> int | None: ...
def capture_schema() -> tuple[list[str], list[str]]: ...

__all__ += ["CaptureColumns", "CaptureFile", "ColumnBuffer", "capture_schema", "pcap_resync"]
# --- end capture ---
# --- dns (issue 11: the resolver's DNS messages, rust/src/py/dns.rs) ---

__all__ += ["dns_encode_name", "dns_parse", "dns_query"]

def dns_parse(
    buf: Buffer,
) -> tuple[
    int,
    int,
    list[tuple[str, bool, int, int]],
    list[tuple[int, str, bool, int, int, int, bytes, int, Any]],
    tuple[int, int, int, bool, list[tuple[int, bytes]]] | None,
]: ...
def dns_encode_name(name: str) -> bytes: ...
def dns_query(qid: int, name: str, qtype: int, rd: bool = True, payload: int | None = None) -> bytes: ...

# --- end dns ---
# --- ike --- (IKE crypto and IKEv2 messages, kame_core::ike; issue 10)
__all__ += [
    "IkeDh", "ike_build_chain", "ike_build_header", "ike_build_sa", "ike_build_ts",
    "ike_child_keymat", "ike_keys", "ike_open", "ike_parse", "ike_parse_chain", "ike_parse_sa",
    "ike_parse_ts", "ike_prf", "ike_prf_plus", "ike_random", "ike_seal", "ikev1_keys",
]

@final
class IkeDh:
    def __new__(cls, group: int) -> IkeDh: ...
    @property
    def group(self) -> int: ...
    @property
    def public(self) -> bytes: ...
    def shared(self, peer: Buffer) -> bytes: ...

def ike_prf(prf: int, key: Buffer, data: Buffer) -> bytes: ...
def ike_prf_plus(prf: int, key: Buffer, seed: Buffer, length: int) -> bytes: ...
def ike_keys(
    prf: int, ni: Buffer, nr: Buffer, gir: Buffer, spi_i: Buffer, spi_r: Buffer, integ_len: int, encr_len: int
) -> dict[str, bytes]: ...
def ike_child_keymat(
    prf: int, sk_d: Buffer, ni: Buffer, nr: Buffer, length: int, gir: Buffer | None = None
) -> bytes: ...
def ike_random(n: int) -> bytes: ...
def ikev1_keys(
    prf: int, psk: Buffer | None, ni: Buffer, nr: Buffer, gxy: Buffer, cky_i: Buffer, cky_r: Buffer
) -> dict[str, bytes]: ...
def ike_seal(
    header: Buffer, first: int, inner: Buffer, encr: int, key_bits: int, integ: int, ekey: Buffer, akey: Buffer
) -> bytes: ...
def ike_open(
    msg: Buffer, sk_offset: int, encr: int, key_bits: int, integ: int, ekey: Buffer, akey: Buffer
) -> tuple[int, bytes]: ...
def ike_parse(
    data: Buffer,
) -> tuple[
    tuple[bytes, bytes, int, int, int, int, int, int], list[tuple[int, bool, bytes]], int | None
]: ...
def ike_parse_chain(first: int, data: Buffer) -> list[tuple[int, bool, bytes]]: ...
def ike_build_header(
    spi_i: Buffer, spi_r: Buffer, next: int, exchange: int, flags: int, msg_id: int, length: int
) -> bytes: ...
def ike_build_chain(payloads: Iterable[tuple[int, bool, Buffer]], last_next: int = 0) -> bytes: ...
def ike_parse_sa(body: Buffer) -> list[tuple[int, int, bytes, list[tuple[int, int, int | None]]]]: ...
def ike_build_sa(
    proposals: Iterable[tuple[int, int, Buffer, Iterable[tuple[int, int, int | None]]]],
) -> bytes: ...
def ike_parse_ts(body: Buffer) -> list[tuple[int, int, int, int, bytes, bytes]]: ...
def ike_build_ts(selectors: Iterable[tuple[int, int, int, int, Buffer, Buffer]]) -> bytes: ...

# --- ike cert --- X.509 certificates and signature AUTH (kame_core::ike::cert)
__all__ += [
    "IkeKey", "ike_auth_verify", "ike_cert_id_match", "ike_cert_info", "ike_cert_load",
    "ike_cert_verify", "ike_crl_info", "ike_crl_load", "ike_dn_text", "ike_v1_sig_verify",
]

@final
class IkeKey:
    def __new__(cls, data: Buffer) -> IkeKey: ...
    @property
    def key_type(self) -> str: ...
    @property
    def public_key(self) -> bytes: ...
    def sign_auth(self, method: int, hashes: list[int], octets: Buffer) -> tuple[int, bytes]: ...
    def sign_v1(self, hash: Buffer) -> bytes: ...

def ike_cert_load(data: Buffer) -> list[bytes]: ...
def ike_cert_info(
    der: Buffer,
) -> tuple[bytes, str, str, int, int, bytes, list[tuple[int, bytes]], str]: ...
def ike_cert_verify(
    leaf: Buffer, intermediates: Iterable[Buffer], cas: Iterable[Buffer], now: int,
    crls: Iterable[Buffer] | None = None,
) -> int: ...
def ike_crl_load(data: Buffer) -> list[bytes]: ...
def ike_crl_info(der: Buffer) -> tuple[str, int, int | None, int]: ...
def ike_cert_id_match(der: Buffer, id_type: int, data: Buffer) -> None: ...
def ike_dn_text(der: Buffer) -> str: ...
def ike_auth_verify(der: Buffer, method: int, data: Buffer, octets: Buffer) -> None: ...
def ike_v1_sig_verify(der: Buffer, hash: Buffer, sig: Buffer) -> None: ...
# --- end ike cert ---

# --- end ike ---

# --- ikev1 --- (IKEv1/ISAKMP messages and RFC 2409 Appendix B encryption, kame_core::ike::v1)
__all__ += [
    "ikev1_build_chain", "ikev1_build_sa", "ikev1_decrypt", "ikev1_enc_key", "ikev1_encrypt",
    "ikev1_parse", "ikev1_parse_chain", "ikev1_parse_sa",
]

def ikev1_parse(
    data: Buffer,
) -> tuple[tuple[bytes, bytes, int, int, int, int, int, int], list[tuple[int, bytes]], bytes | None]: ...
def ikev1_parse_chain(first: int, data: Buffer) -> list[tuple[int, bytes]]: ...
def ikev1_build_chain(payloads: Iterable[tuple[int, Buffer]]) -> bytes: ...
def ikev1_parse_sa(
    body: Buffer,
) -> tuple[int, int, list[tuple[int, int, bytes, list[tuple[int, int, list[tuple[int, int | bytes]]]]]]]: ...
def ikev1_build_sa(doi: int, situation: int, proposals: Iterable[Any]) -> bytes: ...
def ikev1_encrypt(cipher: int, key_bits: int, key: Buffer, iv: Buffer, plain: Buffer) -> bytes: ...
def ikev1_decrypt(cipher: int, key_bits: int, key: Buffer, iv: Buffer, ct: Buffer) -> bytes: ...
def ikev1_enc_key(prf: int, skeyid_e: Buffer, length: int) -> bytes: ...

# --- end ikev1 ---
# --- xlat --- the IPv6-to-IPv4 header translator (issue 13)
__all__ += ["Xlat", "xlat_drop_names", "xlat_flow"]
_XlatVerdict: TypeAlias = tuple[Literal["out", "back", "drop"], list[bytes], str | None]

@final
class Xlat:
    """Stateless IP/ICMP translation (RFC 7915), RFC 6052 prefix and EAMs (RFC 7757)."""

    def __new__(
        cls,
        prefix: str | None = "64:ff9b::/96",
        eam: list[tuple[str, str]] | None = None,
        *,
        forwarding: bool = True,
        mtu6: int = 1280,
        mtu4: int = 1500,
        lowest_mtu6: int = 1280,
        copy_tos: bool = True,
        udp0_compute: bool = True,
        self4: _Addr4 | None = None,
        self6: _Addr6 | None = None,
        pool6791v4: list[_Addr4] | None = None,
        pool6791v6: list[_Addr6] | None = None,
    ) -> Xlat: ...
    def to6(self, packet: Buffer) -> _XlatVerdict: ...
    def to4(self, packet: Buffer, ident: int = 0) -> _XlatVerdict: ...
    def to6_nat(self, packet: Buffer, pool4: _Addr4, host6: _Addr6, port: int | None = None) -> _XlatVerdict: ...
    def to4_nat(
        self, packet: Buffer, host6: _Addr6, pool4: _Addr4, port: int | None = None, ident: int = 0
    ) -> _XlatVerdict: ...
    def batch(self, packets: list[Buffer], to4: bool = True) -> int: ...
    def map4(self, addr: _Addr4) -> IPv6Address | None: ...
    def map6(self, addr: _Addr6) -> IPv4Address | None: ...

def xlat_flow(
    packet: Buffer,
) -> tuple[tuple[int, IPv4Address | IPv6Address, IPv4Address | IPv6Address, int, int, bool, int] | None, str | None]: ...
def xlat_drop_names() -> list[str]: ...

# --- end xlat ---

# --- mh (RFC 6275 Mobility Header) ---

__all__ += ["MobilityHeader", "mh_build", "mh_parse", "mh_verify_auth", "mip6_kbm", "mip6_keygen_token"]

@final
class MobilityHeader:
    """A parsed Mobility Header (RFC 6275 §6.1); fields a type lacks are None."""

    @property
    def payload_proto(self) -> int: ...
    @property
    def mh_type(self) -> int: ...
    @property
    def checksum(self) -> int: ...
    @property
    def length(self) -> int: ...
    @property
    def cookie(self) -> bytes | None: ...
    @property
    def nonce_index(self) -> int | None: ...
    @property
    def token(self) -> bytes | None: ...
    @property
    def seq(self) -> int | None: ...
    @property
    def flags(self) -> int | None: ...
    @property
    def lifetime(self) -> int | None: ...
    @property
    def status(self) -> int | None: ...
    @property
    def home_address(self) -> IPv6Address | None: ...
    @property
    def data(self) -> bytes | None: ...
    @property
    def options(self) -> list[tuple[int, int, bytes]]: ...
    @property
    def refresh_advice(self) -> int | None: ...
    @property
    def alt_coa(self) -> IPv6Address | None: ...
    @property
    def nonce_indices(self) -> tuple[int, int] | None: ...
    @property
    def auth_data(self) -> bytes | None: ...
    @property
    def auth_last(self) -> bool: ...

def mh_parse(buf: Buffer, src: _Ip6Addr | None = None, dst: _Ip6Addr | None = None) -> MobilityHeader: ...
def mh_build(
    mh_type: int,
    *,
    src: _Ip6Addr | None = None,
    dst: _Ip6Addr | None = None,
    payload_proto: int = 59,
    cookie: Buffer | None = None,
    nonce_index: int = 0,
    token: Buffer | None = None,
    seq: int = 0,
    flags: int = 0,
    lifetime: int = 0,
    status: int = 0,
    home_address: _Ip6Addr | None = None,
    data: Buffer | None = None,
    refresh_advice: int | None = None,
    alt_coa: _Ip6Addr | None = None,
    nonce_indices: tuple[int, int] | None = None,
    options: Sequence[tuple[int, bytes]] | None = None,
    auth: tuple[Buffer, _Ip6Addr, _Ip6Addr] | None = None,
) -> bytes: ...
def mh_verify_auth(buf: Buffer, kbm: Buffer, coa: _Ip6Addr, cn: _Ip6Addr) -> bool: ...
def mip6_keygen_token(kcn: Buffer, addr: _Ip6Addr, nonce: Buffer, which: int) -> bytes: ...
def mip6_kbm(home_token: Buffer, careof_token: Buffer | None = None) -> bytes: ...

# --- end mh ---
