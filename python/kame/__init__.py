"""kame: the KAME IPv6/IPsec stack as a userspace library.

A Rust core (``kame._core``) parses, checksums, builds and transforms bytes;
this package holds state and policy on top of it.
"""

from __future__ import annotations

from kame import _core
from kame.errors import (
    ConfigError,
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
    "HeaderLimitError",
    "Icmp6Answer",
    "IntegrityError",
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
    "ip6_suspicious_address",
    "ip6_validate",
    "walk",
    "walk_from",
]
# --- end hdr6 ---

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
