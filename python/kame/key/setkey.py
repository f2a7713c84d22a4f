"""setkey(8)'s configuration language (KAME ``setkey/parse.y``, ``token.l``)
and its ``-D`` / ``-DP`` output.

Statements end with ``;``; ``#`` starts a comment::

    add [-46n] src dst proto spi [-m mode] [-u reqid] [-r size] [-f padopt]
        [-lh sec] [-ls sec] [-bh bytes] [-bs bytes] algorithm... ;
    get src dst proto spi ;          delete src dst proto spi ;
    deleteall src dst proto ;        flush [proto] ;     dump [proto] ;
    spdadd [-46n] src_range dst_range upperspec policy ;
    spdupdate ... ;                  spddelete src_range dst_range upperspec -P dir ;
    spdflush ;                       spddump ;

- proto: ``esp``, ``esp-old``, ``ah``, ``ah-old``, ``ipcomp``, and
  ``esp-udp`` (ipsec-tools' spelling): ESP in UDP (RFC 3948), its ports
  those of the SA's addresses, ``src[port] dst[port]`` (4500 when not
  given), carried as the ``SADB_X_EXT_NAT_T_*`` extensions;
- algorithm: ``-E ealgo key [-A aalgo key]``, ``-A aalgo key``,
  ``-C calgo [-R]``; keys are ``0x`` hex or a ``"double-quoted string"``;
  setkey's spellings (``des-cbc``, ``3des-cbc``, ``blowfish-cbc``,
  ``cast128-cbc``, ``rijndael-cbc``, ``aes-ctr``, ``hmac-md5``, ``hmac-sha1``,
  ``hmac-sha2-256``, ``keyed-md5``, ``deflate`` ...) and the names of
  :mod:`kame.ipsec`;
- ``-r size``: replay window in octets (8 packets each), as setkey(8);
- src_range: ``address[/prefixlen][[port]]``; upperspec: ``any``, ``icmp6
  [type[,code]]``, ``tcp``, ``udp``, or a number;
- policy: ``-P in|out [discard|none|ipsec request...]``, request
  ``proto/mode/src-dst/level`` with level ``default``, ``use``, ``require``,
  ``unique`` or ``unique:reqid``.

Names other than addresses resolve through the ``hosts`` mapping given to
the parser (setkey's getaddrinfo; ``-n`` turns it off), so the seed's
``spdadd A B any -P out ipsec esp/tunnel/C-D/use;`` parses once A, B, C, D
are defined. Errors are :class:`SetkeyError` with line and column.

Each statement becomes a PF_KEY message (:mod:`kame.key.pfkey`) sent to a
:class:`kame.key.engine.KeyEngine`, as setkey talks to the kernel.
"""

from __future__ import annotations

import errno
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any

from kame.errors import ParseError
from kame.key import pfkey as P
from kame.key.engine import (
    LEVEL_NAMES,
    MODE_NAMES,
    POLICY_NAMES,
    PROTO_NAME,
    SATYPE_NAMES,
    KeyEngine,
)
from kame.key.spd import IpsecRequest, SecPolicy, Selector
from kame.scope6 import Scope, in6_addrscope, is_embedded_form

__all__ = [
    "AALG_KEY_OCTETS",
    "AALG_SPELLINGS",
    "EALG_KEY_OCTETS",
    "EALG_SPELLINGS",
    "SetkeyError",
    "Statement",
    "format_sa",
    "format_sp",
    "key_length_error",
    "parse",
    "parse_policy",
    "run",
]


class SetkeyError(ParseError):
    """A setkey statement that cannot be accepted; ``line``/``column`` are 1-based."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"line {line}, column {column}: {message}", layer="setkey",
                         reason=message)
        self.line = line
        self.column = column


#: setkey(8) spellings -> kame.ipsec names
EALG_SPELLINGS: dict[str, str] = {
    "des-cbc": "des-cbc", "3des-cbc": "3des-cbc", "null": "null", "blowfish-cbc": "blowfish-cbc",
    "cast128-cbc": "cast128-cbc", "des-deriv": "des-deriv", "rc5-cbc": "rc5-cbc",
    "rijndael-cbc": "aes-cbc", "aes-cbc": "aes-cbc", "aes-ctr": "aes-ctr",
    "aes-gcm-16": "aes-gcm-16", "aes-gcm-12": "aes-gcm-12", "aes-gcm-8": "aes-gcm-8",
    "aes-ccm-16": "aes-ccm-16", "aes-ccm-12": "aes-ccm-12", "aes-ccm-8": "aes-ccm-8",
    "aes-gmac": "aes-gmac", "chacha20-poly1305": "chacha20-poly1305",
}
AALG_SPELLINGS: dict[str, str] = {
    "hmac-md5": "hmac-md5", "hmac-sha1": "hmac-sha1", "keyed-md5": "keyed-md5",
    "keyed-sha1": "keyed-sha1", "null": "null", "hmac-sha2-256": "hmac-sha256",
    "hmac-sha2-384": "hmac-sha384", "hmac-sha2-512": "hmac-sha512",
    "hmac-sha256": "hmac-sha256", "hmac-sha384": "hmac-sha384", "hmac-sha512": "hmac-sha512",
    "hmac-sha256-128": "hmac-sha256-128", "hmac-sha384-192": "hmac-sha384-192",
    "hmac-sha512-256": "hmac-sha512-256", "hmac-ripemd160": "hmac-ripemd160",
    "aes-xcbc-mac": "aes-xcbc-mac", "aes-cmac": "aes-cmac",
}
CALG_SPELLINGS = {"deflate": "deflate"}

_AES = (16, 24, 32)
#: Key lengths each algorithm takes, in octets (KAME's ``esp_algorithms[]``
#: / ``ah_algorithms[]`` keymin..keymax, as the core checks them): a tuple of
#: lengths or a ``range``; then the salt octets that RFC 3686/4106/4309/
#: 4543/7634 append to the key. Kept equal to the core's table by
#: tests/test_cli_validate.py, which tries every length on the core.
EALG_KEY_OCTETS: dict[str, tuple[tuple[int, ...] | range, int]] = {
    "null": (range(257), 0), "des-cbc": ((8,), 0), "des-deriv": ((8,), 0),
    "3des-cbc": ((24,), 0), "blowfish-cbc": (range(5, 57), 0),
    "cast128-cbc": (range(5, 17), 0), "rc5-cbc": (range(5, 256), 0), "aes-cbc": (_AES, 0),
    "aes-ctr": (_AES, 4), "aes-gcm-16": (_AES, 4), "aes-gcm-12": (_AES, 4),
    "aes-gcm-8": (_AES, 4), "aes-ccm-16": (_AES, 3), "aes-ccm-12": (_AES, 3),
    "aes-ccm-8": (_AES, 3), "aes-gmac": (_AES, 4), "chacha20-poly1305": ((32,), 4),
}
AALG_KEY_OCTETS: dict[str, tuple[tuple[int, ...] | range, int]] = {
    "null": (range(257), 0), "keyed-md5": ((16,), 0), "hmac-md5": ((16,), 0),
    "keyed-sha1": ((20,), 0), "hmac-sha1": ((20,), 0), "hmac-ripemd160": ((20,), 0),
    "hmac-sha256": ((32,), 0), "hmac-sha256-128": ((32,), 0), "hmac-sha384": ((48,), 0),
    "hmac-sha384-192": ((48,), 0), "hmac-sha512": ((64,), 0), "hmac-sha512-256": ((64,), 0),
    "aes-xcbc-mac": ((16,), 0), "aes-cmac": ((16,), 0),
}


def _either(ns: tuple[int, ...] | list[int]) -> str:
    """``16, 24 or 32``."""
    *head, last = [str(n) for n in ns]
    return f"{', '.join(head)} or {last}" if head else last


def key_length_error(spelling: str, name: str, key: bytes, *, auth: bool) -> str | None:
    """``None`` when ``key`` fits algorithm ``name`` (a :mod:`kame.ipsec`
    name; ``spelling`` is how the file wrote it), else what is wrong:
    the length given and the lengths the algorithm takes, in bits as
    setkey(8) and the RFCs give them."""
    table = AALG_KEY_OCTETS if auth else EALG_KEY_OCTETS
    entry = table.get(name)
    if entry is None:
        return None
    lengths, salt = entry
    if len(key) - salt in lengths:
        return None

    def bits(n: int) -> str:
        return f"{n * 8} bits"

    if isinstance(lengths, range):
        need = f"{lengths.start * 8} to {(lengths.stop - 1) * 8} bits"
        if lengths.start == 0:
            need = f"at most {bits(lengths.stop - 1)}"
    elif len(lengths) == 1:
        need = bits(lengths[0])
    else:
        need = _either([n * 8 for n in lengths]) + " bits"
    if salt:
        total = _either([n + salt for n in lengths]) if not isinstance(lengths, range) \
            else f"{lengths.start + salt}..{lengths.stop - 1 + salt}"
        need += f" plus a {salt * 8}-bit salt ({total} octets)"
    elif not isinstance(lengths, range):
        need += f" ({_either(lengths)} octets)"
    which = "authentication" if auth else "encryption"
    return (f"{which} key for {spelling}: {len(key)} octets ({len(key) * 8} bits) given; "
            f"{spelling} takes {need}")
_ULPROTO = {"any": 255, "icmp6": 58, "ipv6-icmp": 58, "tcp": 6, "udp": 17, "icmp": 1,
            "gre": 47, "ip4": 4, "ipv4": 4, "esp": 50, "ah": 51, "ipcomp": 108, "sctp": 132}
_ULNAME = {58: "icmp6", 6: "tcp", 17: "udp", 1: "icmp", 47: "gre", 4: "ip4", 255: "any"}
SADB_X_EXT_RAWCPI = 0x0080
SADB_X_EXT_PZERO = 0x0200
SADB_X_EXT_PRAND = 0x0100
SADB_X_EXT_PSEQ = 0x0000
SADB_X_EXT_CYCSEQ = P.SADB_X_EXT_CYCSEQ
_PADOPT = {"zero-pad": SADB_X_EXT_PZERO, "random-pad": SADB_X_EXT_PRAND,
           "seq-pad": SADB_X_EXT_PSEQ, "nocyclic-seq": 0, "cyclic-seq": SADB_X_EXT_CYCSEQ}
MAX_STATEMENTS = 100000
#: The IKE NAT-T port (RFC 3948), an `esp-udp` SA's ports when not given.
NATT_PORT = 4500


@dataclass(frozen=True)
class Tok:
    text: str
    line: int
    col: int
    quoted: bool = False


_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|;|[^\s;"]+')


def tokenize(text: str) -> Iterator[Tok]:
    for ln, line in enumerate(text.splitlines(), 1):
        p = 0
        while p < len(line):
            if line[p].isspace():
                p += 1
                continue
            if line[p] == "#":
                break
            m = _TOKEN.match(line, p)
            if m is None:  # an unterminated string
                raise SetkeyError("unterminated string", ln, p + 1)
            s = m.group(0)
            if s.startswith('"'):
                try:
                    text = s[1:-1].encode().decode("unicode_escape")
                except UnicodeDecodeError as e:
                    raise SetkeyError(f"bad escape in string ({e.reason})", ln, p + 1) from None
                yield Tok(text, ln, p + 1, True)
            else:
                yield Tok(s, ln, p + 1)
            p = m.end()


@dataclass
class Statement:
    """One parsed statement, its PF_KEY message, and where it started."""

    verb: str
    msg: P.SadbMsg
    line: int
    col: int
    args: dict[str, object] = field(default_factory=dict)


class _Parser:
    def __init__(self, text: str, hosts: Mapping[str, str] | None, resolve: bool,
                 pid: int) -> None:
        if not isinstance(text, str):
            raise TypeError(f"setkey text is a str, not {type(text).__name__}")
        if hosts is not None and not isinstance(hosts, Mapping):
            raise TypeError(f"hosts is a mapping of names to addresses, not {type(hosts).__name__}")
        self.toks = list(tokenize(text))
        self.i = 0
        self.hosts = dict(hosts or {})
        self.resolve = resolve
        self.pid = pid
        self.seq = 0
        self._sa_ports = (0, 0)

    # --- token helpers ------------------------------------------------------------

    def err(self, msg: str, tok: Tok | None = None) -> SetkeyError:
        t = tok or self.peek()
        if t is None:
            last = self.toks[-1] if self.toks else Tok("", 1, 1)
            return SetkeyError(msg + " (at end of input)", last.line,
                               last.col + len(last.text))
        return SetkeyError(msg, t.line, t.col)

    def peek(self) -> Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self, what: str) -> Tok:
        t = self.peek()
        if t is None or (t.text == ";" and not t.quoted and what != ";"):
            raise self.err(f"expected {what}")
        self.i += 1
        return t

    def at(self, *words: str) -> bool:
        t = self.peek()
        return t is not None and not t.quoted and t.text in words

    def end(self) -> None:
        t = self.peek()
        if t is None or t.text != ";" or t.quoted:
            raise self.err("expected ';'" + (f", got {t.text!r}" if t else ""))
        self.i += 1

    # --- values ---------------------------------------------------------------------

    def number(self, what: str, lo: int = 0, hi: int = 0xFFFFFFFF) -> int:
        t = self.next(what)
        try:
            v = int(t.text, 16) if t.text.lower().startswith("0x") else int(t.text, 10)
        except ValueError:
            raise self.err(f"{what}: {t.text!r} is not a number", t) from None
        if not lo <= v <= hi:
            raise self.err(f"{what} {v} out of range {lo}-{hi}", t)
        return v

    def key(self, what: str) -> bytes:
        t = self.next(what)
        if t.quoted:
            try:
                return t.text.encode("latin-1", "strict")
            except UnicodeEncodeError:
                raise self.err(f"{what}: a quoted key holds octets; write a key with other "
                               "characters as 0x... hex", t) from None
        if t.text.lower().startswith("0x"):
            h = t.text[2:]
            if len(h) % 2 or not re.fullmatch(r"[0-9a-fA-F]*", h):
                raise self.err(f"{what}: bad hex key {t.text!r}", t)
            return bytes.fromhex(h)
        raise self.err(f"{what}: a key is 0x... or \"string\"", t)

    def _check_key(self, spelling: str, name: str, key: bytes, *, auth: bool) -> None:
        """setkey(8) checks key lengths before it talks to the kernel
        (libipsec ``ipsec_check_keylen``); so do we, naming the key."""
        why = key_length_error(spelling, name, key, auth=auth)
        if why is not None:
            raise self.err(why, self.toks[self.i - 1])

    def _addr(self, text: str, tok: Tok) -> tuple[IPv6Network | IPv4Network, bool]:
        """-> (network, had a prefix length). As every user entry point
        (:mod:`kame.scope6`), the embedded form and a zone on a global address
        are refused; a zone on a scoped address is parsed, not resolved (the
        parser runs without the node's interfaces, and PF_KEY's addresses
        here carry none)."""
        net, had = self._addr_net(text, tok)
        if isinstance(net, IPv6Network) and is_embedded_form(net.network_address):
            raise self.err(f"{text!r}: the embedded zone form is kernel-internal "
                           "(seed §1.3.3)", tok)
        return net, had

    def _addr_net(self, text: str, tok: Tok) -> tuple[IPv6Network | IPv4Network, bool]:
        name, _, plen = text.partition("/")
        bare, sep, zone = name.partition("%") if ":" in name else (name, "", "")
        try:
            a: IPv4Address | IPv6Address = ip_address(bare)
        except ValueError:
            if not self.resolve or name not in self.hosts:
                raise self.err(f"{name!r} is not an address"
                               + ("" if self.resolve else " (-n: no name lookup)"), tok) from None
            try:
                net = ip_network(self.hosts[name], strict=False)
            except ValueError:
                raise self.err(f"{name!r} resolves to a bad address", tok) from None
            if plen:
                try:
                    return ip_network(f"{net.network_address}/{plen}", strict=False), True
                except ValueError:
                    raise self.err(f"bad prefix length {plen!r}", tok) from None
            return net, "/" in self.hosts[name]
        if sep and not zone:
            raise self.err(f"{name!r}: empty zone", tok)
        if sep and in6_addrscope(a) == Scope.GLOBAL:  # type: ignore[arg-type]
            raise self.err(f"{name!r}: zone given for a global address (RFC 4007 §11)", tok)
        if plen:
            if not plen.isdigit() or int(plen) > a.max_prefixlen:
                raise self.err(f"bad prefix length {plen!r}", tok)
            return ip_network(f"{a}/{plen}", strict=False), True
        return ip_network(a), False

    def address(self, what: str, *, ranged: bool) -> tuple[IPv6Network | IPv4Network, int, Tok]:
        t = self.next(what)
        if t.quoted:
            raise self.err(f"{what}: expected an address", t)
        text, port = t.text, 0
        m = re.fullmatch(r"(.*)\[([^\]]*)\]", text)
        if m:
            text = m.group(1)
            ps = m.group(2)
            if ps != "any":
                if not ps.isdigit() or int(ps) > 0xFFFF:
                    raise self.err(f"bad port {ps!r}", t)
                port = int(ps)
        net, had_plen = self._addr(text, t)
        if had_plen and not ranged and net.prefixlen != net.max_prefixlen:
            raise self.err(f"{what}: an SA address takes no prefix length", t)
        return net, port, t

    def proto(self) -> tuple[str, bool, Tok]:
        t = self.next("protocol (esp, esp-old, esp-udp, ah, ah-old, ipcomp)")
        name = t.text.lower()
        table = {"esp": ("esp", False), "esp-old": ("esp", True), "ah": ("ah", False),
                 "ah-old": ("ah", True), "ipcomp": ("ipcomp", False),
                 "esp-udp": ("esp", False)}
        if name not in table or t.quoted:
            raise self.err(f"unknown protocol {t.text!r}", t)
        p, old = table[name]
        return p, old, t

    # --- statements -----------------------------------------------------------------

    def statements(self) -> list[Statement]:
        out: list[Statement] = []
        while self.peek() is not None:
            if len(out) >= MAX_STATEMENTS:
                raise self.err(f"more than {MAX_STATEMENTS} statements")
            out.append(self.statement())
        return out

    def _msg(self, typ: int, satype: int = 0) -> P.SadbMsg:
        self.seq += 1
        return P.SadbMsg(typ, satype, seq=self.seq, pid=self.pid)

    def _family_flags(self) -> None:
        while self.at("-4", "-6", "-n", "-46"):
            t = self.next("flag")
            if "n" in t.text:
                self.resolve = False

    def statement(self) -> Statement:
        t = self.next("a command")
        verb = t.text.lower()
        handler = getattr(self, "st_" + verb, None)
        if t.quoted or handler is None:
            raise self.err(f"unknown command {t.text!r}", t)
        st: Statement = handler(t)
        self.end()
        return st

    def _sa_addrs(self, msg: P.SadbMsg) -> tuple[IPv6Address | IPv4Address,
                                                 IPv6Address | IPv4Address]:
        s, sport, _st = self.address("source address", ranged=False)
        d, dport, dt = self.address("destination address", ranged=False)
        if s.version != d.version:
            raise self.err("source and destination are of different families", dt)
        self._sa_ports = (sport, dport)
        msg.add(P.SadbAddress(P.SADB_EXT_ADDRESS_SRC, s.network_address, s.max_prefixlen, 255,
                              sport))
        msg.add(P.SadbAddress(P.SADB_EXT_ADDRESS_DST, d.network_address, d.max_prefixlen, 255,
                              dport))
        return s.network_address, d.network_address

    def st_add(self, t: Tok, verb: str = "add", typ: int = P.SADB_ADD) -> Statement:
        self._family_flags()
        msg = self._msg(typ)
        src, dst = self._sa_addrs(msg)
        proto, old, pt = self.proto()
        msg.satype = {"esp": 3, "ah": 2, "ipcomp": 9}[proto]
        if pt.text.lower() == "esp-udp":
            sport, dport = self._sa_ports
            msg.add(P.SadbXNatT(P.SADB_X_EXT_NAT_T_TYPE, P.UDP_ENCAP_ESPINUDP))
            msg.add(P.SadbXNatT(P.SADB_X_EXT_NAT_T_SPORT, sport or NATT_PORT))
            msg.add(P.SadbXNatT(P.SADB_X_EXT_NAT_T_DPORT, dport or NATT_PORT))
        maxspi = 0xFFFF if proto == "ipcomp" else 0xFFFFFFFF
        spi = self.number("SPI", 0 if proto == "ipcomp" else 256, maxspi)
        mode, reqid, replay, flags = 0, 0, 0, P.SADB_X_EXT_OLD if old else 0
        hard, soft = P.SadbLifetime(P.SADB_EXT_LIFETIME_HARD), \
            P.SadbLifetime(P.SADB_EXT_LIFETIME_SOFT)
        auth = enc = 0
        akey = ekey = None
        seen: set[str] = set()
        while not self.at(";"):
            o = self.next("an option or algorithm")
            opt = o.text
            if o.quoted or not opt.startswith("-"):
                raise self.err(f"expected an option or algorithm, got {opt!r}", o)
            if opt in seen:
                raise self.err(f"option {opt} given twice", o)
            seen.add(opt)
            if opt == "-m":
                m = self.next("mode")
                if m.text not in P.MODES:
                    raise self.err(f"mode is transport, tunnel or any, not {m.text!r}", m)
                mode = P.MODES[m.text]
            elif opt == "-u":
                reqid = self.number("reqid")
            elif opt == "-r":
                replay = self.number("replay window (octets)", 0, 255)
            elif opt == "-f":
                f = self.next("pad option")
                if f.text not in _PADOPT:
                    raise self.err(f"unknown -f option {f.text!r}", f)
                flags |= _PADOPT[f.text]
            elif opt in ("-lh", "-ls", "-bh", "-bs"):
                v = self.number("lifetime", 0, 2**63 - 1)
                lt = hard if opt[2] == "h" else soft
                if opt[1] == "l":
                    lt.addtime = v
                else:
                    lt.bytes = v
            elif opt == "-E":
                if proto != "esp":
                    raise self.err(f"-E is for esp, not {proto}", o)
                a = self.next("encryption algorithm")
                name = EALG_SPELLINGS.get(a.text.lower())
                if name is None:
                    raise self.err(f"unknown encryption algorithm {a.text!r}", a)
                if name == "des-deriv":
                    enc, flags = P.EALG["des-cbc"], flags | P.SADB_X_EXT_DERIV
                else:
                    enc = P.EALG[name]
                if name != "null" or (self.peek() is not None and (
                        self.peek().quoted or self.peek().text.lower().startswith("0x"))):  # type: ignore[union-attr]
                    ekey = self.key(f"{a.text} key")
                    self._check_key(a.text, name, ekey, auth=False)
            elif opt == "-A":
                if proto == "ipcomp":
                    raise self.err("-A is for esp and ah", o)
                a = self.next("authentication algorithm")
                name = AALG_SPELLINGS.get(a.text.lower())
                if name is None:
                    raise self.err(f"unknown authentication algorithm {a.text!r}", a)
                auth = P.AALG[name]
                if name != "null" or (self.peek() is not None and (
                        self.peek().quoted or self.peek().text.lower().startswith("0x"))):  # type: ignore[union-attr]
                    akey = self.key(f"{a.text} key")
                    self._check_key(a.text, name, akey, auth=True)
            elif opt == "-C":
                if proto != "ipcomp":
                    raise self.err(f"-C is for ipcomp, not {proto}", o)
                a = self.next("compression algorithm")
                if a.text.lower() not in CALG_SPELLINGS:
                    raise self.err(f"unknown compression algorithm {a.text!r}", a)
                enc = P.CALG["deflate"]
                if self.at("-R"):
                    self.next("-R")
                    flags |= SADB_X_EXT_RAWCPI
            else:
                raise self.err(f"unknown option {opt!r}", o)
        if proto == "esp" and "-E" not in seen:
            raise self.err("esp needs -E algorithm")
        if proto == "ah" and "-A" not in seen:
            raise self.err("ah needs -A algorithm")
        if proto == "ipcomp" and "-C" not in seen:
            raise self.err("ipcomp needs -C algorithm")
        msg.add(P.SadbSa(spi, replay, 1, auth, enc, flags))
        msg.add(P.SadbXSa2(mode, 0, reqid))
        if hard.addtime or hard.bytes:
            msg.add(hard)
        if soft.addtime or soft.bytes:
            msg.add(soft)
        if akey is not None:
            msg.add(P.SadbKey(P.SADB_EXT_KEY_AUTH, akey))
        if ekey is not None:
            msg.add(P.SadbKey(P.SADB_EXT_KEY_ENCRYPT, ekey))
        return Statement(verb, msg, t.line, t.col, {"src": src, "dst": dst, "spi": spi})

    def st_update(self, t: Tok) -> Statement:
        return self.st_add(t, "update", P.SADB_UPDATE)

    def _get_delete(self, t: Tok, verb: str, typ: int) -> Statement:
        self._family_flags()
        msg = self._msg(typ)
        self._sa_addrs(msg)
        proto, _old, _ = self.proto()
        msg.satype = {"esp": 3, "ah": 2, "ipcomp": 9}[proto]
        if verb != "deleteall":
            spi = self.number("SPI")
            msg.add(P.SadbSa(spi))
        return Statement(verb, msg, t.line, t.col)

    def st_get(self, t: Tok) -> Statement:
        return self._get_delete(t, "get", P.SADB_GET)

    def st_delete(self, t: Tok) -> Statement:
        return self._get_delete(t, "delete", P.SADB_DELETE)

    def st_deleteall(self, t: Tok) -> Statement:
        return self._get_delete(t, "deleteall", P.SADB_DELETE)

    def _opt_proto(self, typ: int, t: Tok, verb: str) -> Statement:
        msg = self._msg(typ)
        if not self.at(";"):
            proto, _old, _ = self.proto()
            msg.satype = {"esp": 3, "ah": 2, "ipcomp": 9}[proto]
        return Statement(verb, msg, t.line, t.col)

    def st_flush(self, t: Tok) -> Statement:
        return self._opt_proto(P.SADB_FLUSH, t, "flush")

    def st_dump(self, t: Tok) -> Statement:
        return self._opt_proto(P.SADB_DUMP, t, "dump")

    def st_spdflush(self, t: Tok) -> Statement:
        return Statement("spdflush", self._msg(P.SADB_X_SPDFLUSH), t.line, t.col)

    def st_spddump(self, t: Tok) -> Statement:
        return Statement("spddump", self._msg(P.SADB_X_SPDDUMP), t.line, t.col)

    def upperspec(self) -> tuple[int, int, int]:
        u = self.next("upper-layer protocol")
        name = u.text.lower()
        if name in _ULPROTO:
            ul = _ULPROTO[name]
        elif name.isdigit() and int(name) <= 255:
            ul = int(name)
        else:
            raise self.err(f"unknown upper-layer protocol {u.text!r}", u)
        itype = icode = 0
        if ul == 58 and self.peek() is not None and re.fullmatch(r"\d+(,\d+)?",
                                                                   self.peek().text):  # type: ignore[union-attr]
            tc = self.next("icmp6 type")
            a, _, b = tc.text.partition(",")
            if int(a) > 255 or (b and int(b) > 255):
                raise self.err("icmp6 type/code out of range", tc)
            itype, icode = int(a), int(b or 0)
        return ul, itype, icode

    def policy(self, selector_version: int, *, delete: bool = False) -> P.SadbXPolicy:
        p = self.next("-P")
        if p.text != "-P":
            raise self.err(f"expected -P, got {p.text!r}", p)
        d = self.next("direction (in, out)")
        if d.text not in ("in", "out"):
            raise self.err(f"direction is in or out, not {d.text!r}", d)
        prio = 0
        if self.peek() is not None and re.fullmatch(r"(prio|priority)", self.peek().text):  # type: ignore[union-attr]
            self.next("priority")
            prio = self.number("priority", 0, 0xFFFFFFFF)
        if delete and self.at(";"):
            return P.SadbXPolicy(P.IPSEC_POLICY["discard"], P.IPSEC_DIR[d.text], 0, prio)
        a = self.next("policy (discard, none, ipsec)")
        if a.text not in ("discard", "none", "ipsec", "entrust", "bypass"):
            raise self.err(f"unknown policy {a.text!r}", a)
        reqs: list[P.SadbXIpsecRequest] = []
        while not self.at(";") and self.peek() is not None:
            if a.text != "ipsec":
                raise self.err(f"{a.text} takes no request")
            reqs.append(self.request(selector_version))
        if a.text == "ipsec" and not reqs:
            raise self.err("ipsec needs at least one request proto/mode/src-dst/level")
        return P.SadbXPolicy(P.IPSEC_POLICY[a.text], P.IPSEC_DIR[d.text], 0, prio, reqs)

    def request(self, version: int | None) -> P.SadbXIpsecRequest:
        r = self.next("request")
        parts = r.text.split("/")
        if len(parts) not in (3, 4):
            raise self.err(f"request is proto/mode/src-dst/level, not {r.text!r}", r)
        proto, mode, ends = parts[0], parts[1], parts[2]
        level = parts[3] if len(parts) == 4 and parts[3] else "default"
        if proto not in ("esp", "ah", "ipcomp"):
            raise self.err(f"unknown protocol {proto!r} in request", r)
        if mode not in ("transport", "tunnel"):
            raise self.err(f"mode is transport or tunnel, not {mode!r}", r)
        reqid = 0
        m = re.fullmatch(r"unique:(\d+)", level)
        if m:
            level, reqid = "unique", int(m.group(1))
            if not 1 <= reqid <= 0x3FFF:
                raise self.err("unique:reqid is 1-16383 (IPSEC_MANUAL_REQID_MAX)", r)
        if level not in P.IPSEC_LEVEL:
            raise self.err(f"unknown level {level!r}", r)
        src = dst = None
        if ends:
            if mode != "tunnel":
                raise self.err("endpoints are for tunnel mode only", r)
            # IPv6 addresses hold no '-', so the first '-' splits the pair
            s, sep, d = ends.partition("-")
            if not sep or not s or not d:
                raise self.err(f"tunnel endpoints are src-dst, not {ends!r}", r)
            sn, _ = self._addr(s, r)
            dn, _ = self._addr(d, r)
            src, dst = sn.network_address, dn.network_address
            if src.version != dst.version:
                raise self.err("tunnel endpoints of different families", r)
        elif mode == "tunnel":
            raise self.err("tunnel mode needs endpoints src-dst", r)
        return P.SadbXIpsecRequest({"esp": 50, "ah": 51, "ipcomp": 108}[proto],
                                   P.MODES[mode], P.IPSEC_LEVEL[level], reqid, src, dst)

    def _spd(self, t: Tok, verb: str, typ: int) -> Statement:
        self._family_flags()
        msg = self._msg(typ)
        s, sport, _st = self.address("source range", ranged=True)
        d, dport, dt = self.address("destination range", ranged=True)
        if s.version != d.version:
            raise self.err("source and destination are of different families", dt)
        ul, itype, icode = self.upperspec()
        if ul == 58 and (itype or icode):
            sport, dport = itype, icode  # KAME keeps icmp6 type/code in the ports
        msg.add(P.SadbAddress(P.SADB_EXT_ADDRESS_SRC, s.network_address, s.prefixlen, ul, sport))
        msg.add(P.SadbAddress(P.SADB_EXT_ADDRESS_DST, d.network_address, d.prefixlen, ul, dport))
        msg.add(self.policy(s.version, delete=verb == "spddelete"))
        return Statement(verb, msg, t.line, t.col)

    def st_spdadd(self, t: Tok) -> Statement:
        return self._spd(t, "spdadd", P.SADB_X_SPDADD)

    def st_spdupdate(self, t: Tok) -> Statement:
        return self._spd(t, "spdupdate", P.SADB_X_SPDUPDATE)

    def st_spddelete(self, t: Tok) -> Statement:
        return self._spd(t, "spddelete", P.SADB_X_SPDDELETE)


def parse(text: str, *, hosts: Mapping[str, str] | None = None, resolve: bool = True,
          pid: int = 0) -> list[Statement]:
    """Parse a whole setkey configuration (``setkey -f`` / ``-c``)."""
    return _Parser(text, hosts, resolve, pid).statements()


def parse_policy(text: str, *, hosts: Mapping[str, str] | None = None) -> SecPolicy:
    """``ipsec_set_policy(3)``: a per-socket policy such as
    ``"out ipsec esp/transport//use"`` (``ping -P``), selector any."""
    p = _Parser(text, hosts, True, 0)
    d = p.next("direction (in, out)")
    if d.text not in ("in", "out"):
        raise p.err(f"direction is in or out, not {d.text!r}", d)
    a = p.next("policy")
    if a.text not in ("discard", "none", "ipsec", "entrust", "bypass"):
        raise p.err(f"unknown policy {a.text!r}", a)
    reqs = []
    while p.peek() is not None:
        if a.text != "ipsec":
            raise p.err(f"{a.text} takes no request")
        x = p.request(None)
        reqs.append(IpsecRequest(PROTO_NAME[x.proto], MODE_NAMES[x.mode], x.src, x.dst,
                                 LEVEL_NAMES[x.level], x.reqid))
    if a.text == "ipsec" and not reqs:
        raise p.err("ipsec needs at least one request")
    sel = Selector(IPv6Network("::/0"), IPv6Network("::/0"))
    return SecPolicy(sel, d.text, a.text, tuple(reqs))


# --- output (setkey -D, -DP) ------------------------------------------------------

_STATE = {0: "larval", 1: "mature", 2: "dying", 3: "dead"}


def _when(t: int) -> str:
    return time.strftime("%b %d %H:%M:%S %Y", time.gmtime(t))


def _hexkey(k: bytes) -> str:
    h = k.hex()
    return " ".join(h[i:i + 8] for i in range(0, len(h), 8))


def _satype_name(m: P.SadbMsg, old: bool) -> str:
    n = SATYPE_NAMES.get(m.satype, str(m.satype))
    return n + ("-old" if old else "")


def _needs(m: P.SadbMsg, *exttypes: int) -> list[Any]:
    """The extensions a message must carry to be printed (``ValueError`` if not)."""
    if not isinstance(m, P.SadbMsg):
        raise TypeError(f"a SadbMsg, not {type(m).__name__}")
    exts = [m.get(t) for t in exttypes]
    if any(e is None for e in exts):
        raise ValueError(f"message type {m.type} lacks the extensions {exttypes} to print")
    return exts


def format_sa(m: P.SadbMsg, now: float) -> str:
    """One SA as ``setkey -D`` prints it."""
    sa, src, dst = _needs(m, P.SADB_EXT_SA, P.SADB_EXT_ADDRESS_SRC, P.SADB_EXT_ADDRESS_DST)
    sa2 = m.get(P.SADB_X_EXT_SA2) or P.SadbXSa2()
    cur = m.get(P.SADB_EXT_LIFETIME_CURRENT) or P.SadbLifetime(2)
    hard = m.get(P.SADB_EXT_LIFETIME_HARD) or P.SadbLifetime(3)
    soft = m.get(P.SADB_EXT_LIFETIME_SOFT) or P.SadbLifetime(4)
    old = bool(sa.flags & P.SADB_X_EXT_OLD)
    natt = m.get(P.SADB_X_EXT_NAT_T_TYPE)
    if natt is not None and m.satype == P.SADB_SATYPE_ESP:  # ipsec-tools: ports, esp-udp
        sp, dp = m.get(P.SADB_X_EXT_NAT_T_SPORT), m.get(P.SADB_X_EXT_NAT_T_DPORT)
        ends = (f"{src.addr}[{sp.value if sp else NATT_PORT}] "
                f"{dst.addr}[{dp.value if dp else NATT_PORT}]")
        satype = "esp-udp"
    else:
        ends, satype = f"{src.addr} {dst.addr}", _satype_name(m, old)
    lines = [ends,
             (f"\t{satype} mode={MODE_NAMES.get(sa2.mode, sa2.mode)} "
              f"spi={sa.spi}(0x{sa.spi:08x}) reqid={sa2.reqid}(0x{sa2.reqid:08x})")]
    ekey, akey = m.get(P.SADB_EXT_KEY_ENCRYPT), m.get(P.SADB_EXT_KEY_AUTH)
    if m.satype == P.SADB_X_SATYPE_IPCOMP:
        lines.append(f"\tC: {P.CALG_NAMES.get(sa.encrypt, sa.encrypt)}")
    else:
        if m.satype == P.SADB_SATYPE_ESP:
            ename = P.EALG_NAMES.get(sa.encrypt, str(sa.encrypt))
            if ename == "aes-cbc":
                ename = "rijndael-cbc"
            if sa.flags & P.SADB_X_EXT_DERIV:
                ename = "des-deriv"
            lines.append(f"\tE: {ename}  {_hexkey(ekey.key) if ekey else ''}".rstrip())
        if sa.auth:
            aname = P.AALG_NAMES.get(sa.auth, str(sa.auth))
            aname = {"hmac-sha256": "hmac-sha2-256", "hmac-sha384": "hmac-sha2-384",
                     "hmac-sha512": "hmac-sha2-512"}.get(aname, aname)
            lines.append(f"\tA: {aname}  {_hexkey(akey.key) if akey else ''}".rstrip())
    lines.append(f"\tseq=0x{sa2.sequence:08x} replay={sa.replay} flags=0x{sa.flags:08x} "
                 f"state={_STATE.get(sa.state, sa.state)} ")
    lines.append(f"\tcreated: {_when(cur.addtime)}\tcurrent: {_when(int(now))}")
    lines.append(f"\tdiff: {max(0, int(now) - cur.addtime)}(s)\thard: {hard.addtime}(s)\t"
                 f"soft: {soft.addtime}(s)")
    last = _when(cur.usetime) if cur.usetime else ""
    lines.append(f"\tlast: {last}\thard: {hard.usetime}(s)\tsoft: {soft.usetime}(s)")
    lines.append(f"\tcurrent: {cur.bytes}(bytes)\thard: {hard.bytes}(bytes)\t"
                 f"soft: {soft.bytes}(bytes)")
    lines.append(f"\tallocated: {cur.allocations}\thard: {hard.allocations}\t"
                 f"soft: {soft.allocations}")
    lines.append(f"\tsadb_seq={m.seq} pid={m.pid} refcnt=1")
    return "\n".join(lines)


def _range(a: P.SadbAddress) -> str:
    port = "any" if a.port == 0 else str(a.port)
    return f"{a.addr}/{a.prefixlen}[{port}]"


def format_sp(m: P.SadbMsg, now: float) -> str:
    """One policy as ``setkey -DP`` prints it."""
    src, dst, pol = _needs(m, P.SADB_EXT_ADDRESS_SRC, P.SADB_EXT_ADDRESS_DST,
                           P.SADB_X_EXT_POLICY)
    cur = m.get(P.SADB_EXT_LIFETIME_CURRENT) or P.SadbLifetime(2)
    hard = m.get(P.SADB_EXT_LIFETIME_HARD) or P.SadbLifetime(3)
    ul = _ULNAME.get(src.proto, str(src.proto))
    dirname = {1: "in", 2: "out"}.get(pol.dir, "any")
    lines = [f"{_range(src)} {_range(dst)} {ul}",
             f"\t{dirname} {POLICY_NAMES.get(pol.type, pol.type)}"]
    for r in pol.requests:
        ends = f"{r.src}-{r.dst}" if r.src is not None else ""
        lev = LEVEL_NAMES.get(r.level, str(r.level))
        if lev == "unique" and r.reqid:
            lev = f"unique:{r.reqid}"
        lines.append(f"\t{PROTO_NAME.get(r.proto, r.proto)}/{MODE_NAMES.get(r.mode, r.mode)}/"
                     f"{ends}/{lev}")
    last = _when(cur.usetime) if cur.usetime else ""
    lines.append(f"\tcreated: {_when(cur.addtime)}  lastused: {last}")
    lines.append(f"\tlifetime: {hard.addtime}(s) validtime: {hard.usetime}(s)")
    lines.append(f"\tspid={pol.id} seq={m.seq} pid={m.pid}")
    lines.append("\trefcnt=1")
    return "\n".join(lines)


@dataclass
class Result:
    """What ``run`` did: the output text and the failed statements."""

    output: str = ""
    errors: list[str] = field(default_factory=list)


def run(text: str, engine: KeyEngine | Callable[[bytes], list[bytes]], now: float, *,
        hosts: Mapping[str, str] | None = None, resolve: bool = True,
        pid: int | None = None) -> Result:
    """Parse ``text`` and send every statement to ``engine`` as PF_KEY
    messages (parse errors raise before anything is sent, as setkey parses
    the whole file first); ``get``/``dump``/``spddump`` output is collected.
    ``engine`` is a :class:`KeyEngine` or any callable that takes one
    encoded message and returns the encoded replies (a node's control socket)."""
    pid = os.getpid() if pid is None else pid
    if not isinstance(engine, KeyEngine) and not callable(engine):
        raise TypeError(f"engine is a KeyEngine or a callable, not {type(engine).__name__}")
    sts = parse(text, hosts=hosts, resolve=resolve, pid=pid)
    send = (lambda b: engine.send(b, now)) if isinstance(engine, KeyEngine) else engine
    res = Result()
    out: list[str] = []
    for st in sts:
        replies = [P.decode(b) for b in send(st.msg.pack())]
        for r in replies:
            if r.errno:
                if r.errno == errno.ENOENT and st.verb in ("dump", "spddump"):
                    out.append("No SAD entries." if st.verb == "dump" else "No SPD entries.")
                    continue
                res.errors.append(f"line {st.line}: {st.verb}: {os.strerror(r.errno)}")
                continue
            if st.verb in ("get", "dump"):
                out.append(format_sa(r, now))
            elif st.verb == "spddump":
                out.append(format_sp(r, now))
    res.output = "\n".join(out) + ("\n" if out else "")
    return res


def dump(engine: KeyEngine | Callable[[bytes], list[bytes]], now: float, *,
         policy: bool = False) -> str:
    """``setkey -D`` / ``setkey -DP``."""
    return run("spddump;" if policy else "dump;", engine, now, pid=0).output

