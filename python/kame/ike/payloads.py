"""IKEv2 numbers (RFC 7296 §3, IANA "IKEv2 Parameters") and the simple
payload bodies (KE, Nonce, ID, AUTH, Notify, Delete). The header, the
payload chain and the nested SA and TS payloads are parsed in the Rust
core (``kame._core.ike_parse``, ``ike_parse_sa``, ``ike_parse_ts``)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address

from kame.errors import MalformedError, TruncatedError

# exchange types
IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL = 34, 35, 36, 37
EXCHANGE_NAMES = {34: "IKE_SA_INIT", 35: "IKE_AUTH", 36: "CREATE_CHILD_SA", 37: "INFORMATIONAL"}
# header flags
F_INITIATOR, F_VERSION, F_RESPONSE = 0x08, 0x10, 0x20
# payload types
PT_SA, PT_KE, PT_IDI, PT_IDR, PT_CERT, PT_CERTREQ, PT_AUTH = 33, 34, 35, 36, 37, 38, 39
PT_NONCE, PT_N, PT_D, PT_V, PT_TSI, PT_TSR, PT_SK = 40, 41, 42, 43, 44, 45, 46
# transform types
T_ENCR, T_PRF, T_INTEG, T_DH, T_ESN = 1, 2, 3, 4, 5
# protocol ids
PROTO_IKE, PROTO_AH, PROTO_ESP = 1, 2, 3
# ID types
ID_IPV4_ADDR, ID_FQDN, ID_RFC822_ADDR, ID_IPV6_ADDR, ID_KEY_ID = 1, 2, 3, 5, 11
# auth methods
AUTH_PSK = 2
# notify message types
N_UNSUPPORTED_CRITICAL_PAYLOAD, N_INVALID_IKE_SPI, N_INVALID_SYNTAX = 1, 4, 7
N_INVALID_MESSAGE_ID, N_NO_PROPOSAL_CHOSEN, N_INVALID_KE_PAYLOAD = 9, 14, 17
N_AUTHENTICATION_FAILED, N_TS_UNACCEPTABLE, N_TEMPORARY_FAILURE = 24, 38, 43
N_INITIAL_CONTACT, N_NAT_DETECTION_SOURCE_IP, N_NAT_DETECTION_DESTINATION_IP = 16384, 16388, 16389
N_COOKIE, N_USE_TRANSPORT_MODE = 16390, 16391
N_NO_ADDITIONAL_SAS, N_CHILD_SA_NOT_FOUND, N_REKEY_SA = 35, 44, 16393
NOTIFY_NAMES = {
    1: "UNSUPPORTED_CRITICAL_PAYLOAD", 4: "INVALID_IKE_SPI", 5: "INVALID_MAJOR_VERSION",
    7: "INVALID_SYNTAX", 9: "INVALID_MESSAGE_ID", 11: "INVALID_SPI",
    14: "NO_PROPOSAL_CHOSEN", 17: "INVALID_KE_PAYLOAD", 24: "AUTHENTICATION_FAILED",
    34: "SINGLE_PAIR_REQUIRED", 35: "NO_ADDITIONAL_SAS", 36: "INTERNAL_ADDRESS_FAILURE",
    37: "FAILED_CP_REQUIRED", 38: "TS_UNACCEPTABLE", 39: "INVALID_SELECTORS",
    43: "TEMPORARY_FAILURE", 44: "CHILD_SA_NOT_FOUND",
    16384: "INITIAL_CONTACT", 16388: "NAT_DETECTION_SOURCE_IP",
    16389: "NAT_DETECTION_DESTINATION_IP", 16390: "COOKIE", 16391: "USE_TRANSPORT_MODE",
    16393: "REKEY_SA",
}


def notify_name(t: int) -> str:
    return NOTIFY_NAMES.get(t, f"notify {t}")


def _short(what: str, need: int, have: int) -> TruncatedError:
    return TruncatedError(f"IKE: {what} needs {need} octets, has {have}", layer="ike",
                          needed=need, available=have)


@dataclass(frozen=True)
class Notify:
    """A Notify payload (RFC 7296 §3.10)."""

    type: int
    protocol: int = 0
    spi: bytes = b""
    data: bytes = b""

    def pack(self) -> bytes:
        return struct.pack(">BBH", self.protocol, len(self.spi), self.type) + self.spi + self.data

    @classmethod
    def unpack(cls, b: bytes) -> Notify:
        if len(b) < 4:
            raise _short("Notify", 4, len(b))
        proto, n, t = struct.unpack_from(">BBH", b)
        if 4 + n > len(b):
            raise _short("Notify SPI", 4 + n, len(b))
        return cls(t, proto, bytes(b[4:4 + n]), bytes(b[4 + n:]))


@dataclass(frozen=True)
class Delete:
    """A Delete payload (RFC 7296 §3.11): no SPIs for the IKE SA itself."""

    protocol: int
    spis: tuple[bytes, ...] = ()

    def pack(self) -> bytes:
        size = len(self.spis[0]) if self.spis else 0
        return struct.pack(">BBH", self.protocol, size, len(self.spis)) + b"".join(self.spis)

    @classmethod
    def unpack(cls, b: bytes) -> Delete:
        if len(b) < 4:
            raise _short("Delete", 4, len(b))
        proto, size, n = struct.unpack_from(">BBH", b)
        if 4 + size * n != len(b):
            raise MalformedError("IKE: Delete payload length does not match its SPIs",
                                 layer="ike", offset=0)
        return cls(proto, tuple(bytes(b[4 + i * size:4 + (i + 1) * size]) for i in range(n)))


def ke_body(group: int, data: bytes) -> bytes:
    return struct.pack(">HH", group, 0) + data


def ke_parse(b: bytes) -> tuple[int, bytes]:
    if len(b) < 4:
        raise _short("KE", 4, len(b))
    return struct.unpack_from(">H", b)[0], bytes(b[4:])


def id_body(id_type: int, data: bytes) -> bytes:
    return bytes([id_type, 0, 0, 0]) + data


def id_for(text: str) -> tuple[int, bytes]:
    """racoon's ``my_identifier``/``peers_identifier`` value to (type, data):
    an IP address, user@fqdn, or an FQDN (as strongSwan reads a bare name)."""
    try:
        a = ip_address(text)
    except ValueError:
        return (ID_RFC822_ADDR if "@" in text else ID_FQDN), text.encode()
    return (ID_IPV6_ADDR if isinstance(a, IPv6Address) else ID_IPV4_ADDR), a.packed


def id_text(body: bytes) -> str:
    if len(body) < 4:
        return "(short ID)"
    t, data = body[0], body[4:]
    if t == ID_IPV6_ADDR and len(data) == 16:
        return str(IPv6Address(data))
    if t == ID_IPV4_ADDR and len(data) == 4:
        return str(IPv4Address(data))
    if t in (ID_FQDN, ID_RFC822_ADDR):
        return data.decode("ascii", "replace")
    return f"type {t}: {data.hex()}"


def auth_parse(b: bytes) -> tuple[int, bytes]:
    if len(b) < 4:
        raise _short("AUTH", 4, len(b))
    return b[0], bytes(b[4:])
