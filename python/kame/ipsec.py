"""IPsec transforms: ESP and AH security associations (seed §4.3-4.5).

The SA objects come from the Rust core (``kame._core``) and work on whole IP
packets (IPv6 or IPv4)::

    from kame.ipsec import EspSa, AhSa, SaBundle

    esp = EspSa(0x1000, enc="aes-gcm-16", enc_key=key20)           # RFC 4106
    esp = EspSa(0x1000, enc="aes-cbc", enc_key=k16,
                auth="hmac-sha1", auth_key=k20,                      # RFC 3602 + 2404
                mode="tunnel", tunnel_src="2001:db8::1", tunnel_dst="2001:db8::2")
    ah = AhSa(0x2000, "hmac-sha1", k20)                              # RFC 4302
    old = AhSa(0x2001, "keyed-md5", k16, old=True)                   # RFC 1826/1828

    wire = esp.output(packet)      # bytes -> bytes
    packet = esp.input(wire)       # raises IntegrityError, ReplayError, PaddingError, ...

``EspSa(spi, enc="null", enc_key=None, auth=None, auth_key=None, *,
mode="transport", tunnel_src=None, tunnel_dst=None, replay_window=32,
esn=False, udp_encap=None, randpad=-1, old=False)``

- ``enc``: ``null``, ``des-cbc``, ``des-deriv``, ``3des-cbc``, ``blowfish-cbc``,
  ``cast128-cbc``, ``rc5-cbc``, ``rijndael-cbc``/``aes-cbc``, ``aes-ctr``,
  ``aes-gcm-16``/``-12``/``-8``, ``aes-ccm-16``/``-12``/``-8``, ``aes-gmac``,
  ``chacha20-poly1305``. Keys of the counter/AEAD modes end with the salt
  (4 octets; 3 for CCM), as RFC 3686/4106/4309/4543/7634 key them.
  ``rc5-cbc`` (RC5-32/16, RFC 2451) takes keys of 40..2040 bits.
- ``auth``: ``null``, ``keyed-md5``, ``keyed-sha1``, ``hmac-md5``, ``hmac-sha1``,
  ``hmac-sha256``/``hmac-sha384``/``hmac-sha512`` (96-bit ICVs as seed §4.5),
  ``hmac-sha256-128``/``hmac-sha384-192``/``hmac-sha512-256`` (RFC 4868),
  ``hmac-ripemd160``, ``aes-xcbc-mac``, ``aes-cmac``.
- ``replay_window``: packets, 0 = off, up to 4096; ``esn``: RFC 4303 §2.2.1.
- ``udp_encap``: ``True`` (4500/4500), a port, or ``(sport, dport)`` (RFC 3948).
- ``randpad``: ``net.inet6.ipsec6.esp_randpad`` (seed §4.3): N > 0 pads ESP
  payloads shorter than N octets to a random length <= N (ICV excluded).
- ``old``: RFC 1827/1829 ESP: SPI then IV, no sequence number, no ICV.
- IVs: CBC ciphers take E(K_iv, SPI ‖ seq) under a random per-SA AES key
  (unpredictable, never repeating, as Linux's seqiv/echainiv); CTR, GCM,
  CCM, GMAC and ChaCha20-Poly1305 carry the 64-bit sequence counter, so a
  nonce never repeats under one key; ``des-deriv`` uses the sequence number
  (KAME ``SADB_X_EXT_DERIV``: IV = seq ‖ ~seq).
- ``output(packet, *, iv=None, pad=None)``: ``iv``/``pad`` are
  known-answer-test hooks only (a fixed IV is insecure).
- ``output_batch(packets)`` / ``input_batch(packets)``: the same into one
  buffer the core owns (a ``PacketRun``: ``len``, ``batch[i]`` a
  read-only memoryview or the failed packet's exception, iteration,
  ``spans``, ``errors``, the buffer protocol); no object per packet, and
  the buffer of a batch Python has let go is reused by the next.
- ``output_many(packets)`` / ``input_many(packets)``: batches that release
  the GIL; a refused packet gives its exception object in its place.
- ``counters``: dict of ``out_packets``, ``out_bytes``, ``in_packets``,
  ``in_bytes``, ``replay_drops``, ``icv_failures``, ``padding_errors``,
  ``other_errors``.

``AhSa(spi, auth, key, old=False, *, mode="transport", tunnel_src=None,
tunnel_dst=None, replay_window=32, esn=False)`` has the same methods.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from kame._core import AhSa, EspSa, PacketRun
from kame.errors import ConfigError, RangeError

__all__ = [
    "AUTH_ALGORITHMS",
    "ENC_ALGORITHMS",
    "AhSa",
    "EspSa",
    "PacketRun",
    "SaBundle",
    "Transform",
    "ah_input_chain",
    "ah_output_chain",
]

#: setkey names of the authentication algorithms (AH, and ESP's integrity)
AUTH_ALGORITHMS: tuple[str, ...] = (
    "null",
    "keyed-md5",
    "keyed-sha1",
    "hmac-md5",
    "hmac-sha1",
    "hmac-sha256",
    "hmac-sha384",
    "hmac-sha512",
    "hmac-sha256-128",
    "hmac-sha384-192",
    "hmac-sha512-256",
    "hmac-ripemd160",
    "aes-xcbc-mac",
    "aes-cmac",
)

#: setkey names of the ESP encryption algorithms
ENC_ALGORITHMS: tuple[str, ...] = (
    "null",
    "des-cbc",
    "des-deriv",
    "3des-cbc",
    "blowfish-cbc",
    "cast128-cbc",
    "rc5-cbc",
    "aes-cbc",
    "aes-ctr",
    "aes-gcm-16",
    "aes-gcm-12",
    "aes-gcm-8",
    "aes-ccm-16",
    "aes-ccm-12",
    "aes-ccm-8",
    "aes-gmac",
    "chacha20-poly1305",
)


class Transform(Protocol):
    """Anything with whole-packet ``output`` and ``input`` (EspSa, AhSa, IpcompSa)."""

    def output(self, packet: bytes, /) -> bytes: ...

    def input(self, packet: bytes, /) -> bytes: ...


def _bounded(it: Iterable[bytes], limit: int, what: str) -> Iterable[bytes]:
    for n, x in enumerate(it):
        if n == limit:
            raise RangeError(f"more than {limit} items", argument=what, low=0, high=limit)
        if not isinstance(x, (bytes, bytearray, memoryview)):
            raise TypeError(f"{what} holds bytes, not {type(x).__name__}")
        yield x


def _kind(sa: object) -> int:
    name = type(sa).__name__.lower()
    if "ipcomp" in name:
        return 0
    if "esp" in name:
        return 1
    if "ah" in name:
        return 2
    return 1


#: SAs in one bundle (KAME applies at most one IPComp, ESP and AH each per
#: level; nested tunnels add a few): more is a configuration error.
MAX_BUNDLE = 16


def _transform(sa: object) -> Transform:
    if not (callable(getattr(sa, "output", None)) and callable(getattr(sa, "input", None))):
        raise TypeError(f"an SA (EspSa, AhSa, IpcompSa), not {type(sa).__name__}")
    return sa  # type: ignore[return-value]


class SaBundle:
    """An SA bundle applied in the order of seed §4.4: output runs IPComp,
    then ESP, then AH (compress, encrypt, authenticate); input runs the
    reverse. SAs of one kind keep the order given (innermost first).
    """

    def __init__(self, sas: Iterable[Transform]) -> None:
        out: list[Transform] = []
        for sa in sas:  # checked one by one: an IPv6Network is iterable too, endlessly
            _transform(sa)
            if len(out) == MAX_BUNDLE:
                raise ConfigError(f"an SA bundle holds at most {MAX_BUNDLE} SAs", layer="ipsec")
            out.append(sa)
        self.sas: list[Transform] = sorted(out, key=_kind)

    def output(self, packet: bytes) -> bytes:
        for sa in self.sas:
            packet = sa.output(packet)
        return packet

    def input(self, packet: bytes) -> bytes:
        for sa in reversed(self.sas):
            packet = sa.input(packet)
        return packet

    def output_many(self, packets: Sequence[bytes]) -> list[bytes]:
        out = list(_bounded(packets, 1 << 20, "packets"))
        for sa in self.sas:
            many = getattr(sa, "output_many", None)
            out = many(out) if many else [sa.output(p) for p in out]
            for item in out:
                if isinstance(item, Exception):
                    raise item
        return out

    def __repr__(self) -> str:
        return f"SaBundle({self.sas!r})"


def ah_output_chain(sas: Sequence[AhSa], packet: bytes) -> bytes:
    """Apply AH SAs given outermost first (``[ah1, ah2, ah3]`` builds
    ``IP AH1 AH2 AH3 payload``), computed inside-out as seed §4.3: AH3
    first, each outer AH covering the inner ones as immutable. The same SA
    may appear several times; then AH3 gets the smallest sequence number.
    """
    for sa in reversed(_ah_list(sas)):
        packet = sa.output(packet)
    return packet


def ah_input_chain(sas: Sequence[AhSa], packet: bytes) -> bytes:
    """Verify and strip AHs outermost first (the inverse of ah_output_chain)."""
    for sa in _ah_list(sas):
        packet = sa.input(packet)
    return packet


def _ah_list(sas: Sequence[AhSa]) -> list[AhSa]:
    if not isinstance(sas, (list, tuple)):
        raise TypeError(f"sas is a list of AhSa, not {type(sas).__name__}")
    for sa in sas:
        if not isinstance(sa, AhSa):
            raise TypeError(f"sas holds AhSa objects, not {type(sa).__name__}")
    if len(sas) > MAX_BUNDLE:
        raise ConfigError(f"at most {MAX_BUNDLE} AH SAs", layer="ipsec")
    return list(sas)
