"""kame: the KAME IPv6/IPsec stack as a userspace library.

A Rust core (``kame._core``) parses, checksums, builds and transforms bytes;
this package holds state and policy on top of it.
"""

from __future__ import annotations

# ``typing`` and ``importlib`` are not imported here, nor the exception
# tree: with :mod:`re` and :mod:`enum` behind them they cost more than the
# core's own load, and ``kame dissect`` of a small capture is over sooner.
# The exception classes load on first use (the core imports them itself
# when it first raises one). Type checkers see every name.
TYPE_CHECKING = False

from kame import _core
from kame._core import IpcompSa, decapsulate, deflate, encapsulate, inflate

if TYPE_CHECKING:
    from typing import Any

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
# --- node, in6_src, socket: the Python layers, imported on first use ---
# ``import kame`` loads the Rust core and the exception tree only; the node,
# the sockets layer, netdb and the rest load when a name or a submodule is
# first touched (``kame.Node``, ``kame.ipsec.EspSa``, ``kame.key.setkey.run``),
# through the module ``__getattr__`` below (PEP 562).
_LAZY: dict[str, str] = {
    **dict.fromkeys((
        "ConfigError", "EcnDropError", "HeaderLimitError", "Icmp6Answer", "IntegrityError",
        "IpsecError", "KameError", "LimitError", "MalformedError", "PaddingError", "ParseError",
        "ReplayError", "TruncatedError", "UnsupportedError"), "kame.errors"),
    "IfFlags": "kame.knobs",
    "Knobs": "kame.knobs",
    "Node": "kame.node",
    "Sockaddr6": "kame.scope6",
    "format_scoped": "kame.scope6",
    "parse_scoped": "kame.scope6",
    "PolicyTable": "kame.in6_src",
    "order_destinations": "kame.in6_src",
    "Resolver": "kame.netdb",
    "getaddrinfo": "kame.netdb",
    "getnameinfo": "kame.netdb",
    "SocketLayer": "kame.socket",
}

#: The subpackages and modules ``kame.X`` reaches without an import.
_SUBMODULES = frozenset({
    "addr", "cli", "ctl", "errors", "icmp6", "in6_src", "in6_var", "ip6", "ipsec", "key",
    "knobs", "link", "mld6", "nd6", "netdb", "node", "scope6", "socket", "stats", "tunnel",
})

__all__ += [
    "IfFlags",
    "Knobs",
    "Node",
    "PolicyTable",
    "Resolver",
    "Sockaddr6",
    "SocketLayer",
    "format_scoped",
    "getaddrinfo",
    "getnameinfo",
    "order_destinations",
    "parse_scoped",
]

if TYPE_CHECKING:  # what the lazy names are, for type checkers
    from kame import addr as addr
    from kame import cli as cli
    from kame import ctl as ctl
    from kame import icmp6 as icmp6
    from kame import in6_src as in6_src
    from kame import in6_var as in6_var
    from kame import ip6 as ip6
    from kame import ipsec as ipsec
    from kame import key as key
    from kame import knobs as knobs
    from kame import link as link
    from kame import mld6 as mld6
    from kame import nd6 as nd6
    from kame import netdb as netdb
    from kame import node as node
    from kame import scope6 as scope6
    from kame import socket as socket
    from kame import stats as stats
    from kame import tunnel as tunnel
    from kame.in6_src import PolicyTable as PolicyTable
    from kame.in6_src import order_destinations as order_destinations
    from kame.knobs import IfFlags as IfFlags
    from kame.knobs import Knobs as Knobs
    from kame.netdb import Resolver as Resolver
    from kame.netdb import getaddrinfo as getaddrinfo
    from kame.netdb import getnameinfo as getnameinfo
    from kame.node import Node as Node
    from kame.scope6 import Sockaddr6 as Sockaddr6
    from kame.scope6 import format_scoped as format_scoped
    from kame.scope6 import parse_scoped as parse_scoped
    from kame.socket import SocketLayer as SocketLayer


def __getattr__(name: str) -> Any:
    import importlib

    mod = _LAZY.get(name)
    if mod is not None:
        value = getattr(importlib.import_module(mod), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"kame.{name}")
    raise AttributeError(f"module 'kame' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)
