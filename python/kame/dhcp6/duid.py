"""DHCP Unique Identifiers (RFC 8415 §11): DUID-LLT, DUID-EN, DUID-LL, DUID-UUID.

A DUID is made once and kept: :func:`load_or_create` reads it from a file
(WIDE-DHCPv6's ``dhcp6c_duid`` layout: a 2-octet little-endian length, then
the DUID) and writes a new one there if there is none, so a client or
server keeps its identity across restarts.
"""

from __future__ import annotations

import math
import os
import struct
import uuid
from pathlib import Path

from kame.errors import MalformedError

__all__ = ["DUID_EN", "DUID_LL", "DUID_LLT", "DUID_UUID", "describe", "duid_en", "duid_ll",
           "duid_llt", "duid_uuid", "load_or_create"]

DUID_LLT = 1
DUID_EN = 2
DUID_LL = 3
DUID_UUID = 4
HWTYPE_ETHER = 1
#: RFC 8415 §11.2: DUID-LLT time is seconds since midnight UTC, 1 January 2000.
EPOCH_2000 = 946684800
MAX_DUID = 130


def _link(mac: object, hwtype: object) -> bytes:
    """The link-layer address and hardware type a DUID carries, checked."""
    if isinstance(mac, str) or not isinstance(mac, (bytes, bytearray, memoryview)):
        raise TypeError("a link-layer address is bytes")
    if not isinstance(hwtype, int) or isinstance(hwtype, bool) or not 0 <= hwtype <= 0xFFFF:
        raise ValueError("a hardware type is an int from 0 to 65535 (RFC 826 ar$hrd)")
    mac = bytes(mac)
    if len(mac) > MAX_DUID - 8:
        raise ValueError(f"a link-layer address of at most {MAX_DUID - 8} octets")
    return mac


def duid_llt(mac: bytes, unix_time: float, hwtype: int = HWTYPE_ETHER) -> bytes:
    mac = _link(mac, hwtype)
    if not isinstance(unix_time, (int, float)) or isinstance(unix_time, bool) or \
            not math.isfinite(unix_time):
        raise ValueError("unix_time: seconds since 1970, a finite number")
    t = (int(unix_time) - EPOCH_2000) & 0xFFFFFFFF
    return struct.pack("!HHI", DUID_LLT, hwtype, t) + bytes(mac)


def duid_en(enterprise: int, ident: bytes) -> bytes:
    if not isinstance(enterprise, int) or isinstance(ident, str) or \
            not isinstance(ident, (bytes, bytearray, memoryview)):
        raise TypeError("DUID-EN: an int enterprise number and bytes of identifier")
    if not 0 <= enterprise <= 0xFFFFFFFF or not 1 <= len(ident) <= 120:
        raise ValueError("DUID-EN: a 32-bit enterprise number and 1 to 120 octets of identifier")
    return struct.pack("!HI", DUID_EN, enterprise) + bytes(ident)


def duid_ll(mac: bytes, hwtype: int = HWTYPE_ETHER) -> bytes:
    mac = _link(mac, hwtype)
    return struct.pack("!HH", DUID_LL, hwtype) + bytes(mac)


def duid_uuid(u: uuid.UUID | None = None) -> bytes:
    if u is not None and not isinstance(u, uuid.UUID):
        raise TypeError("a uuid.UUID, or None for a new one")
    return struct.pack("!H", DUID_UUID) + (u if u is not None else uuid.uuid4()).bytes


def describe(duid: bytes) -> str:
    """``LLT hw 1 time 123 00:11:22:33:44:55`` and so on; raises MalformedError."""
    if not 2 < len(duid) <= MAX_DUID:
        raise MalformedError(f"DUID of {len(duid)} octets", layer="dhcp6")
    t = struct.unpack_from("!H", duid)[0]
    if t == DUID_LLT and len(duid) >= 8:
        hw, tm = struct.unpack_from("!HI", duid, 2)
        return f"LLT hw {hw} time {tm} {duid[8:].hex(':')}"
    if t == DUID_EN and len(duid) >= 7:
        return f"EN {struct.unpack_from('!I', duid, 2)[0]} {duid[6:].hex()}"
    if t == DUID_LL and len(duid) >= 4:
        return f"LL hw {struct.unpack_from('!H', duid, 2)[0]} {duid[4:].hex(':')}"
    if t == DUID_UUID and len(duid) == 18:
        return f"UUID {uuid.UUID(bytes=duid[2:])}"
    raise MalformedError(f"DUID type {t} of {len(duid)} octets", layer="dhcp6")


def make(kind: str, mac: bytes, unix_time: float, *, enterprise: int = 0) -> bytes:
    """A new DUID of ``kind`` (``llt``, ``en``, ``ll``, ``uuid``)."""
    if kind == "llt":
        return duid_llt(mac, unix_time)
    if kind == "ll":
        return duid_ll(mac)
    if kind == "en":
        return duid_en(enterprise, os.urandom(8))
    if kind == "uuid":
        return duid_uuid()
    raise ValueError(f"DUID kind {kind!r} is not one of llt, en, ll, uuid")


def load(path: str | Path) -> bytes | None:
    """The DUID kept in ``path``, or None if the file is missing; a file that
    does not hold one is a MalformedError."""
    p = Path(path)
    try:
        raw = p.read_bytes()[:2 + MAX_DUID + 1]
    except FileNotFoundError:
        return None
    if len(raw) < 2:
        raise MalformedError(f"{p}: no DUID length", layer="dhcp6")
    n = struct.unpack_from("<H", raw)[0]
    if n != len(raw) - 2 or not 3 <= n <= MAX_DUID:
        raise MalformedError(f"{p}: DUID length {n} does not match the file", layer="dhcp6")
    duid = raw[2:]
    describe(duid)
    return duid


def save(path: str | Path, duid: bytes) -> None:
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_bytes(struct.pack("<H", len(duid)) + duid)
    os.replace(tmp, p)


def load_or_create(path: str | Path | None, kind: str, mac: bytes, unix_time: float,
                   *, enterprise: int = 0) -> bytes:
    """The DUID in ``path``, or a new one of ``kind`` written there."""
    if path is not None:
        d = load(path)
        if d is not None:
            return d
    d = make(kind, mac, unix_time, enterprise=enterprise)
    if path is not None:
        save(path, d)
    return d
