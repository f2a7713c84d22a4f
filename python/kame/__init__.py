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

# --- ipcomp ---
from kame._core import IpcompSa, decapsulate, deflate, encapsulate, inflate
from kame.errors import EcnDropError

# --- end ipcomp ---

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
    # --- ipcomp ---
    "EcnDropError",
    "IpcompSa",
    "decapsulate",
    "deflate",
    "encapsulate",
    "inflate",
    # --- end ipcomp ---
]
