"""The exception tree of kame.

Every error raised by the Rust core (``kame._core``) is an instance of one of
these ordinary Python classes, so it can be caught, inspected and subclassed
like any other exception. The attributes say which layer refused the bytes,
at which absolute offset, why (citing the RFC), and which ICMPv6 error the
receiver must send back, if any.

    KameError
    ├── ParseError (also a ValueError)
    │   ├── TruncatedError        not enough bytes (needed, available)
    │   ├── MalformedError        the bytes say something illegal
    │   ├── HeaderLimitError      longer chain than hdrnestlimit (limit)
    │   └── UnsupportedError
    ├── IpsecError
    │   ├── IntegrityError        ICV / AEAD tag did not verify
    │   ├── ReplayError           replayed or too old sequence number
    │   └── PaddingError          ESP padding is not 1, 2, 3, ...
    ├── ConfigError (also a ValueError)   bad key, algorithm or setting
    ├── LimitError                a bounded resource would be exceeded (limit)
    └── EcnDropError              tunnel egress must drop: CE over Not-ECT (RFC 6040)
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "ConfigError",
    "EcnDropError",
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
]


class Icmp6Answer(NamedTuple):
    """The ICMPv6 error a receiver must send for a refused packet (RFC 4443).

    ``pointer`` is meaningful for Parameter Problem (type 4): the offset of
    the offending octet from the start of the invoking IPv6 header.
    """

    type: int
    code: int
    pointer: int


class KameError(Exception):
    """Base of every kame error."""

    def __init__(
        self,
        message: str = "",
        *,
        layer: str | None = None,
        offset: int | None = None,
        reason: str | None = None,
        icmp: Icmp6Answer | None = None,
        needed: int | None = None,
        available: int | None = None,
        limit: int | None = None,
    ) -> None:
        super().__init__(message)
        self.layer = layer
        self.offset = offset
        self.reason = reason if reason is not None else message
        self.icmp = icmp
        self.needed = needed
        self.available = available
        self.limit = limit


class ParseError(KameError, ValueError):
    """Bytes that cannot be accepted as the protocol they claim to be."""


class TruncatedError(ParseError):
    """The buffer ends before a field that the headers require."""


class MalformedError(ParseError):
    """The bytes are there but say something illegal."""


class HeaderLimitError(ParseError):
    """The extension-header chain is longer than ``hdrnestlimit``."""


class UnsupportedError(ParseError):
    """A well-formed value that kame does not implement."""


class IpsecError(KameError):
    """An IPsec transform refused a packet."""


class IntegrityError(IpsecError):
    """An integrity check value (AH, ESP ICV or AEAD tag) did not verify."""


class ReplayError(IpsecError):
    """A sequence number was replayed or fell left of the replay window."""


class PaddingError(IpsecError):
    """A decrypted ESP trailer carried padding other than 1, 2, 3, ..."""


class ConfigError(KameError, ValueError):
    """A wrong key, algorithm name or setting."""


class LimitError(KameError):
    """A bounded resource (inflate output, reassembly memory) would be exceeded."""


# --- ipcomp/tunnel ---
class EcnDropError(KameError):
    """A tunnel egress must drop the packet: the outer header says CE and the
    inner one is Not-ECT (RFC 6040 §4.2; ``ecn=2`` only)."""
# --- end ipcomp/tunnel ---
