"""WIDE-DHCPv6's configuration files, for what kame's daemons do.

``dhcp6c.conf`` (:func:`parse_client`)::

    interface eth0 {
        send ia-na 1;  send ia-pd 2;  send rapid-commit;
        request domain-name-servers;  request domain-name;
        information-only;              # stateless: Information-Request only
        script "/path";                # accepted, not run
    };
    id-assoc na 1 { address 2001:db8::5 3600 7200; };      # a hint
    id-assoc pd 2 {
        prefix 2001:db8:100::/56 infinity;                 # a hint
        prefix-interface eth1 { sla-id 1; sla-len 8; };
    };

``dhcp6s.conf`` (:func:`parse_server`)::

    option domain-name-servers 2001:db8::53 2001:db8::54;
    option domain-name "example.test";
    option refreshtime 3600;
    preference 255;
    interface eth0 { address-pool pool1 3600 7200; prefix-pool pd1 3600 7200;
                     allow rapid-commit; };
    pool pool1 { range 2001:db8::1000 to 2001:db8::1fff; };
    host kame { duid 00:03:00:01:02:00:00:00:00:01;
                address 2001:db8::5 infinity; prefix 2001:db8:200::/48 infinity; };

``prefix-pool NAME { prefix P/LEN; delegated-length N; };`` (with the
interface's ``prefix-pool NAME PLTIME VLTIME;``) is kame's own: WIDE's
dhcp6s delegates prefixes to ``host`` entries only. Any other statement,
and any malformed one, is a :class:`kame.errors.ConfigError` that names the
file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv6Address, IPv6Network

from kame.dhcp6 import codec as c
from kame.dhcp6.agent import PrefixInterface
from kame.dhcp6.server import AddrPool, Host, PrefixPool
from kame.errors import ConfigError

__all__ = ["ClientConf", "ClientIf", "ServerConf", "parse_client", "parse_server"]

MAX_TOKENS = 100000
MAX_NEST = 8
INFINITY = 0xFFFFFFFF


@dataclass
class _Stmt:
    words: list[str]
    line: int
    block: list[_Stmt] | None = None


def _tokens(text: str, path: str) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    i, line, n = 0, 1, len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            i += 1
        elif ch.isspace():
            i += 1
        elif ch == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif ch in "{};":
            out.append((ch, line))
            i += 1
        elif ch == '"':
            j = text.find('"', i + 1)
            if j < 0 or "\n" in text[i:j]:
                raise ConfigError(f"{path}:{line}: unterminated string")
            out.append((text[i:j + 1], line))
            i = j + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in '{};#"':
                j += 1
            out.append((text[i:j], line))
            i = j
        if len(out) > MAX_TOKENS:
            raise ConfigError(f"{path}:{line}: more than {MAX_TOKENS} tokens")
    return out


def _statements(toks: list[tuple[str, int]], path: str) -> list[_Stmt]:
    pos = 0

    def block(depth: int) -> list[_Stmt]:
        nonlocal pos
        if depth > MAX_NEST:
            raise ConfigError(f"{path}:{toks[pos][1]}: blocks nested deeper than {MAX_NEST}")
        out: list[_Stmt] = []
        while pos < len(toks):
            tok, line = toks[pos]
            if tok == "}":
                if depth == 0:
                    raise ConfigError(f"{path}:{line}: '}}' without '{{'")
                pos += 1
                return out
            words: list[str] = []
            while pos < len(toks) and toks[pos][0] not in "{};":
                words.append(toks[pos][0])
                pos += 1
            if pos >= len(toks):
                raise ConfigError(f"{path}:{line}: statement not ended by ';'")
            if not words:
                raise ConfigError(f"{path}:{toks[pos][1]}: unexpected {toks[pos][0]!r}")
            st = _Stmt(words, line)
            if toks[pos][0] == "{":
                pos += 1
                st.block = block(depth + 1)
                if pos >= len(toks) or toks[pos][0] != ";":
                    raise ConfigError(f"{path}:{line}: '}}' of {words[0]!r} not followed by ';'")
            elif toks[pos][0] == "}":
                raise ConfigError(f"{path}:{line}: {' '.join(words)}: statement not ended "
                                  "by ';'")
            pos += 1
            out.append(st)
        if depth:
            raise ConfigError(f"{path}: end of file inside a block")
        return out

    return block(0)


def _parse(text: str, path: str) -> list[_Stmt]:
    if not isinstance(text, str):
        raise TypeError(f"a configuration is a str, not {type(text).__name__}")
    return _statements(_tokens(text, path), path)


def _err(path: str, st: _Stmt, why: str) -> ConfigError:
    return ConfigError(f"{path}:{st.line}: {' '.join(st.words)}: {why}")


def _int(path: str, st: _Stmt, text: str, lo: int = 0, hi: int = INFINITY) -> int:
    if text == "infinity":
        return INFINITY
    if not text.isdigit() or not lo <= int(text) <= hi:
        raise _err(path, st, f"{text!r} is not a number in [{lo}, {hi}]")
    return int(text)


def _addr(path: str, st: _Stmt, text: str) -> IPv6Address:
    try:
        return IPv6Address(text)
    except ValueError:
        raise _err(path, st, f"{text!r} is not an IPv6 address") from None


def _net(path: str, st: _Stmt, text: str) -> IPv6Network:
    try:
        return IPv6Network(text, strict=False)
    except ValueError:
        raise _err(path, st, f"{text!r} is not an IPv6 prefix") from None


def _lifetimes(path: str, st: _Stmt, words: list[str]) -> tuple[int, int]:
    if not 1 <= len(words) <= 2:
        raise _err(path, st, "needs a preferred and an optional valid lifetime")
    p = _int(path, st, words[0])
    v = _int(path, st, words[1]) if len(words) > 1 else p
    if p > v:
        raise _err(path, st, "preferred lifetime above valid lifetime")
    return p, v


def _unquote(path: str, st: _Stmt, text: str) -> str:
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise _err(path, st, f"{text} is not a quoted string")
    return text[1:-1]


# --- dhcp6c.conf -----------------------------------------------------------------------


@dataclass
class ClientIf:
    ifname: str
    ia_na: list[int] = field(default_factory=list)
    ia_pd: list[int] = field(default_factory=list)
    #: kame's ``send ia-ta N;`` (temporary addresses, RFC 8415 §21.5).
    ia_ta: list[int] = field(default_factory=list)
    rapid_commit: bool = False
    request: list[int] = field(default_factory=list)
    information_only: bool = False


@dataclass
class ClientConf:
    interfaces: dict[str, ClientIf] = field(default_factory=dict)
    na_hints: dict[int, IPv6Address | None] = field(default_factory=dict)
    pd_hints: dict[int, IPv6Network | None] = field(default_factory=dict)
    prefix_interfaces: dict[int, list[PrefixInterface]] = field(default_factory=dict)

    def check(self, path: str = "dhcp6c.conf") -> None:
        for ci in self.interfaces.values():
            for i in ci.ia_na:
                if i not in self.na_hints:
                    self.na_hints[i] = None
            for i in ci.ia_pd:
                if i not in self.pd_hints:
                    self.pd_hints[i] = None


REQUESTS = {"domain-name-servers": c.OPT_DNS_SERVERS, "domain-name": c.OPT_DOMAIN_LIST,
            "refreshtime": c.OPT_INFORMATION_REFRESH_TIME}


def parse_client(text: str, path: str = "dhcp6c.conf") -> ClientConf:
    conf = ClientConf()
    for st in _parse(text, path):
        w = st.words
        if w[0] == "interface" and len(w) == 2 and st.block is not None:
            ci = ClientIf(w[1])
            if w[1] in conf.interfaces:
                raise _err(path, st, "interface configured twice")
            for s in st.block:
                sw = s.words
                if sw[:2] == ["send", "ia-na"] and len(sw) == 3:
                    ci.ia_na.append(_int(path, s, sw[2], 0, INFINITY - 1))
                elif sw[:2] == ["send", "ia-pd"] and len(sw) == 3:
                    ci.ia_pd.append(_int(path, s, sw[2], 0, INFINITY - 1))
                elif sw[:2] == ["send", "ia-ta"] and len(sw) == 3:
                    ci.ia_ta.append(_int(path, s, sw[2], 0, INFINITY - 1))
                elif sw == ["send", "rapid-commit"]:
                    ci.rapid_commit = True
                elif sw[0] == "request" and len(sw) == 2 and sw[1] in REQUESTS:
                    ci.request.append(REQUESTS[sw[1]])
                elif sw == ["information-only"]:
                    ci.information_only = True
                elif sw[0] == "script" and len(sw) == 2:
                    _unquote(path, s, sw[1])
                else:
                    raise _err(path, s, "unknown or malformed statement in interface")
                if s.block is not None:
                    raise _err(path, s, "takes no block")
            conf.interfaces[w[1]] = ci
        elif w[0] == "id-assoc" and len(w) == 3 and w[1] in ("na", "pd") \
                and st.block is not None:
            iaid = _int(path, st, w[2], 0, INFINITY - 1)
            if w[1] == "na":
                conf.na_hints[iaid] = None
                for s in st.block:
                    if s.words[0] == "address" and len(s.words) in (3, 4):
                        _lifetimes(path, s, s.words[2:])
                        conf.na_hints[iaid] = _addr(path, s, s.words[1])
                    else:
                        raise _err(path, s, "unknown or malformed statement in id-assoc na")
            else:
                conf.pd_hints[iaid] = None
                pis = conf.prefix_interfaces.setdefault(iaid, [])
                for s in st.block:
                    if s.words[0] == "prefix" and len(s.words) in (3, 4):
                        _lifetimes(path, s, s.words[2:])
                        conf.pd_hints[iaid] = _net(path, s, s.words[1])
                    elif s.words[0] == "prefix-interface" and len(s.words) == 2 \
                            and s.block is not None:
                        sla_id, sla_len = 0, 16
                        for t in s.block:
                            if t.words[0] == "sla-id" and len(t.words) == 2:
                                sla_id = _int(path, t, t.words[1], 0, INFINITY - 1)
                            elif t.words[0] == "sla-len" and len(t.words) == 2:
                                sla_len = _int(path, t, t.words[1], 0, 128)
                            elif t.words[0] == "ifid" and len(t.words) == 2:
                                _int(path, t, t.words[1])
                            else:
                                raise _err(path, t, "unknown statement in prefix-interface")
                        if sla_len < 32 and sla_id >= 1 << sla_len:
                            raise _err(path, s, f"sla-id {sla_id} does not fit sla-len "
                                                f"{sla_len}")
                        pis.append(PrefixInterface(s.words[1], sla_id, sla_len))
                    else:
                        raise _err(path, s, "unknown or malformed statement in id-assoc pd")
        else:
            raise _err(path, st, "unknown or malformed statement")
    conf.check(path)
    return conf


# --- dhcp6s.conf -----------------------------------------------------------------------


@dataclass
class ServerIf:
    ifname: str
    pool: str | None = None
    pool_times: tuple[int, int] = (3600, 7200)
    pd_pool: str | None = None
    pd_times: tuple[int, int] = (3600, 7200)
    rapid_commit: bool = False
    preference: int | None = None


@dataclass
class ServerConf:
    dns: list[IPv6Address] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    refresh: int | None = None
    preference: int = 0
    interfaces: dict[str, ServerIf] = field(default_factory=dict)
    pools: dict[str, tuple[IPv6Address, IPv6Address]] = field(default_factory=dict)
    pd_pools: dict[str, tuple[IPv6Network, int]] = field(default_factory=dict)
    hosts: list[Host] = field(default_factory=list)

    def addr_pool(self, ifname: str) -> AddrPool | None:
        si = self.interfaces.get(ifname)
        if si is None or si.pool is None:
            return None
        a, b = self.pools[si.pool]
        return AddrPool(a, b, *si.pool_times)

    def prefix_pool(self, ifname: str) -> PrefixPool | None:
        si = self.interfaces.get(ifname)
        if si is None or si.pd_pool is None:
            return None
        p, n = self.pd_pools[si.pd_pool]
        return PrefixPool(p, n, *si.pd_times)


def _duid_hex(path: str, st: _Stmt, text: str) -> bytes:
    try:
        b = bytes.fromhex(text.replace(":", ""))
    except ValueError:
        raise _err(path, st, f"{text!r} is not a DUID (hex octets with ':')") from None
    if not 3 <= len(b) <= 130:
        raise _err(path, st, "a DUID is 3 to 130 octets")
    return b


def parse_server(text: str, path: str = "dhcp6s.conf") -> ServerConf:
    conf = ServerConf()
    for st in _parse(text, path):
        w = st.words
        if w[0] == "option" and len(w) >= 3 and st.block is None:
            if w[1] == "domain-name-servers":
                conf.dns += [_addr(path, st, a) for a in w[2:]]
            elif w[1] == "domain-name" and len(w) == 3:
                name = _unquote(path, st, w[2])
                try:
                    c.encode_domains([name])
                except ValueError as e:
                    raise _err(path, st, str(e)) from None
                conf.domains.append(name)
            elif w[1] == "refreshtime" and len(w) == 3:
                conf.refresh = _int(path, st, w[2], 600)
            else:
                raise _err(path, st, "unknown option")
        elif w[0] == "preference" and len(w) == 2:
            conf.preference = _int(path, st, w[1], 0, 255)
        elif w[0] == "interface" and len(w) == 2 and st.block is not None:
            si = ServerIf(w[1])
            for s in st.block:
                sw = s.words
                if sw[0] == "address-pool" and len(sw) in (3, 4):
                    si.pool, si.pool_times = sw[1], _lifetimes(path, s, sw[2:])
                elif sw[0] == "prefix-pool" and len(sw) in (3, 4):
                    si.pd_pool, si.pd_times = sw[1], _lifetimes(path, s, sw[2:])
                elif sw == ["allow", "rapid-commit"]:
                    si.rapid_commit = True
                elif sw[0] == "preference" and len(sw) == 2:
                    si.preference = _int(path, s, sw[1], 0, 255)
                else:
                    raise _err(path, s, "unknown or malformed statement in interface")
            conf.interfaces[w[1]] = si
        elif w[0] == "pool" and len(w) == 2 and st.block is not None:
            rng = None
            for s in st.block:
                if s.words[0] == "range" and len(s.words) == 4 and s.words[2] == "to":
                    a, b = _addr(path, s, s.words[1]), _addr(path, s, s.words[3])
                    if int(b) < int(a):
                        raise _err(path, s, "empty range")
                    rng = (a, b)
                else:
                    raise _err(path, s, "unknown or malformed statement in pool")
            if rng is None:
                raise _err(path, st, "pool without a range")
            conf.pools[w[1]] = rng
        elif w[0] == "prefix-pool" and len(w) == 2 and st.block is not None:
            pfx, dl = None, None
            for s in st.block:
                if s.words[0] == "prefix" and len(s.words) == 2:
                    pfx = _net(path, s, s.words[1])
                elif s.words[0] == "delegated-length" and len(s.words) == 2:
                    dl = _int(path, s, s.words[1], 1, 128)
                else:
                    raise _err(path, s, "unknown or malformed statement in prefix-pool")
            if pfx is None or dl is None or dl < pfx.prefixlen:
                raise _err(path, st, "needs a prefix and a delegated-length not shorter")
            conf.pd_pools[w[1]] = (pfx, dl)
        elif w[0] == "host" and len(w) == 2 and st.block is not None:
            h = Host(w[1], b"")
            for s in st.block:
                sw = s.words
                if sw[0] == "duid" and len(sw) == 2:
                    h.duid = _duid_hex(path, s, sw[1])
                elif sw[0] == "address" and len(sw) in (3, 4):
                    h.addresses.append((_addr(path, s, sw[1]), *_lifetimes(path, s, sw[2:])))
                elif sw[0] == "prefix" and len(sw) in (3, 4):
                    h.prefixes.append((_net(path, s, sw[1]), *_lifetimes(path, s, sw[2:])))
                else:
                    raise _err(path, s, "unknown or malformed statement in host")
            if not h.duid:
                raise _err(path, st, "host without a duid")
            conf.hosts.append(h)
        else:
            raise _err(path, st, "unknown or malformed statement")
    for si in conf.interfaces.values():
        if si.pool is not None and si.pool not in conf.pools:
            raise ConfigError(f"{path}: interface {si.ifname}: no pool named {si.pool!r}")
        if si.pd_pool is not None and si.pd_pool not in conf.pd_pools:
            raise ConfigError(f"{path}: interface {si.ifname}: no prefix-pool named "
                              f"{si.pd_pool!r}")
    return conf
