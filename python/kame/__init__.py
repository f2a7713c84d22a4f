"""kame: the KAME IPv6/IPsec stack as a userspace library.

A Rust core (``kame._core``) parses, checksums, builds and transforms bytes;
this package holds state and policy on top of it.
"""

from __future__ import annotations

from kame import _core
from kame._core import IpcompSa, decapsulate, deflate, encapsulate, inflate
from kame.errors import (
    ConfigError,
    EcnDropError,
    HeaderLimitError,
    Icmp6Answer,
    IntegrityError,
    IpsecError,
    KameError,
    LimitError,
    MalformedError,
    PaddingError,
    ParseError,
    ReplayError,
    TruncatedError,
    UnsupportedError,
)

__version__ = _core.__version__

__all__ = [
    "ConfigError",
    "EcnDropError",
    "HeaderLimitError",
    "Icmp6Answer",
    "IntegrityError",
    "IpcompSa",
    "IpsecError",
    "KameError",
    "LimitError",
    "MalformedError",
    "PaddingError",
    "ParseError",
    "ReplayError",
    "TruncatedError",
    "UnsupportedError",
    "__version__",
    "decapsulate",
    "deflate",
    "encapsulate",
    "inflate",
]

# --- hdr6 ---
from kame._core import (
    DestOpts,
    FragmentHeader,
    HopByHop,
    Ip6Chain,
    Ip6Validated,
    Ipv6Header,
    Ipv6Option,
    RoutingHeader,
    SegmentRoutingHeader,
    SrhTlv,
    ip6_suspicious_address,
    ip6_validate,
    walk,
    walk_from,
)

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

# --- wire (whole-packet dissection) ---
from kame._core import Arp, LinkFrame, Packet, PacketBatch, parse, parse_link, parse_many

__all__ += ["Arp", "LinkFrame", "Packet", "PacketBatch", "parse", "parse_link", "parse_many"]
# --- end wire ---
# --- upper ---
from kame._core import (
    ND6_MAXNDOPT,
    Icmpv6Echo,
    Icmpv6Error,
    Icmpv6Unknown,
    Ipv4Header,
    MldAddressRecord,
    MldDone,
    MldQuery,
    MldReport,
    Mldv2Report,
    NdOptMtu,
    NdOptNonce,
    NdOptPrefixInfo,
    NdOptRdnss,
    NdOptRedirectedHeader,
    NdOptRouteInfo,
    NdOptSourceLinkAddr,
    NdOptTargetLinkAddr,
    NdOptUnknown,
    NeighborAdvertisement,
    NeighborSolicitation,
    Redirect,
    RouterAdvertisement,
    RouterSolicitation,
    TcpHeader,
    UdpHeader,
    icmp6_may_elicit_error,
    parse_icmpv6,
    parse_nd_options,
    tcp_effective_mss,
    tcp_jumbo_mss,
)

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
    "Redirect",
    "RouterAdvertisement",
    "RouterSolicitation",
    "TcpHeader",
    "UdpHeader",
    "icmp6_may_elicit_error",
    "parse_icmpv6",
    "parse_nd_options",
    "tcp_effective_mss",
    "tcp_jumbo_mss",
]
# --- end upper ---

# --- cksum ---
from kame._core import cksum_many, cksum_path, in4_cksum, in6_cksum, ip_cksum

__all__ += [
    "cksum_many",
    "cksum_path",
    "in4_cksum",
    "in6_cksum",
    "ip_cksum",
]
# --- end cksum ---
# --- reass ---
from kame._core import Reassembler, ReassOutcome, atomic_fragment, fragment

__all__ += ["ReassOutcome", "Reassembler", "atomic_fragment", "fragment"]
# --- end reass ---
# --- node ---
from kame.knobs import IfFlags, Knobs
from kame.node import Node
from kame.scope6 import Sockaddr6, format_scoped, parse_scoped

__all__ += [
    "IfFlags",
    "Knobs",
    "Node",
    "Sockaddr6",
    "format_scoped",
    "parse_scoped",
]
# --- end node ---
# --- in6_src ---
from kame.in6_src import PolicyTable, order_destinations

__all__ += ["PolicyTable", "order_destinations"]
# --- end in6_src ---
# --- socket ---
from kame.netdb import Resolver, getaddrinfo, getnameinfo
from kame.socket import SocketLayer

__all__ += ["Resolver", "SocketLayer", "getaddrinfo", "getnameinfo"]
# --- end socket ---
