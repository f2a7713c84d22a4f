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
    │   ├── RangeError            an integer argument outside its range
    │   └── ScopeError            a zone that cannot be resolved, an embedded form
    │       └── NoInterfaceError  an interface name, index or zone that names none (ENXIO)
    ├── LimitError                a bounded resource would be exceeded (limit)
    └── EcnDropError              tunnel egress must drop: CE over Not-ECT (RFC 6040)
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = [
    "CertificateError",
    "ConfigError",
    "EcnDropError",
    "HeaderLimitError",
    "Icmp6Answer",
    "IntegrityError",
    "IpsecError",
    "KameError",
    "LimitError",
    "MalformedError",
    "NoInterfaceError",
    "PaddingError",
    "ParseError",
    "RangeError",
    "ReplayError",
    "ScopeError",
    "TruncatedError",
    "UnsupportedError",
]


#: The note PyO3 adds to an error raised while converting an argument.
_ARG_NOTE = re.compile(r"while processing '(?:r#)?([A-Za-z_][A-Za-z0-9_]*)'")


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


class RangeError(ConfigError):
    """An integer argument outside the range its field holds (``Ipv6Header(hop_limit=300)``).

    ``argument`` names the argument (``None`` if unknown), ``low`` and
    ``high`` the inclusive range, ``value`` what was given. The core's
    bindings raise it for every integer argument that does not fit; the
    name reaches it through the note PyO3 adds ("while processing 'x'").
    """

    def __init__(self, message: str = "", *, argument: str | None = None,
                 low: int | None = None, high: int | None = None,
                 value: object = None, **kw: object) -> None:
        if argument is not None and not message.startswith(f"{argument}:"):
            message = f"{argument}: {message}"
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.argument = argument
        self.low = low
        self.high = high
        self.value = value

    def add_note(self, note: str) -> None:
        m = _ARG_NOTE.fullmatch(note)
        if m is not None and self.argument is None:
            self.argument = m.group(1)
            self.args = (f"{self.argument}: {self.args[0] if self.args else ''}",)
            self.reason = str(self.args[0])
            return
        super().add_note(note)


class AltqConfError(ConfigError):
    """A line of altq.conf(5) that cannot be taken (:mod:`kame.altq.conf`):
    ``line`` its number (from 1), ``reason`` what is wrong with it."""

    def __init__(self, message: str = "", *, line: int = 0, **kw: object) -> None:
        kw.setdefault("layer", "altq")
        super().__init__(f"altq.conf line {line}: {message}", **kw)  # type: ignore[arg-type]
        self.line = line
        self.reason = message


class ScopeError(ConfigError):
    """A scope zone that cannot be resolved, or an embedded form out of place
    (seed §1.3). ``errno`` names the error KAME's scope6 helpers return:
    ``EINVAL`` (an embedded form from a user, a zone on a global address,
    conflicting zones), ``ENXIO`` (a zone that names no interface)."""

    def __init__(self, message: str = "", errno: str = "EINVAL", **kw: object) -> None:
        kw.setdefault("layer", "scope6")
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.errno = errno


class NoInterfaceError(ScopeError):
    """An interface name, index or zone id that names no interface (``ENXIO``,
    as BSD's ``ifconfig`` and ``sa6_embedscope`` answer)."""

    def __init__(self, message: str = "", errno: str = "ENXIO", **kw: object) -> None:
        super().__init__(message, errno, **kw)


class CertificateError(KameError, ValueError):
    """An X.509 certificate, chain, identity or signature AUTH refused (IKE).
    ``reason`` is a code: malformed, unsupported, not_yet_valid, expired,
    unknown_issuer, not_ca, too_deep, bad_cert_signature, id_mismatch,
    bad_auth_signature, bad_key, ca_key_usage, key_usage, ext_key_usage,
    path_len, name_constraints, name_constraint_unsupported, revoked,
    crl_bad_signature, crl_expired, crl_not_yet_valid, no_certificate; the
    message names the certificate."""


class LimitError(KameError):
    """A bounded resource (inflate output, reassembly memory) would be exceeded."""


# --- ipcomp/tunnel ---
class EcnDropError(KameError):
    """A tunnel egress must drop the packet: the outer header says CE and the
    inner one is Not-ECT (RFC 6040 §4.2; ``ecn=2`` only)."""
# --- end ipcomp/tunnel ---
