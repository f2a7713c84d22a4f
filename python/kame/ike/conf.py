"""racoon.conf (racoon.conf(5)), the part an IKEv2 PSK gateway uses.

Taken::

    path pre_shared_key "psk.txt";          # "ID KEY" lines, 0x... for hex
    path certificate "certs";                # where certificate files are; hash-named
                                             # CRLs there (c_rehash's HHHHHHHH.rN) are read
    crl "all.crl";                           # CRLs for every remote (also in a remote)
    listen { isakmp ADDR [500]; isakmp_natt ADDR [4500]; }  # IPv6 and IPv4
    remote ADDR { ... }                      # our end: the listen ADDR of its family
    padding { ... }                          # accepted; IKEv2 pads itself
    remote ADDR {
        ike_version 1;                       # 1: IKEv1 (RFC 2409); 2 (the default): IKEv2
        exchange_mode main,aggressive;       # IKEv1: the first is what we initiate with
        dpd_delay 30;                        # IKEv1: R-U-THERE every 30 s (RFC 3706)
        my_identifier fqdn "a.example";      # address, fqdn, user_fqdn
        peers_identifier fqdn "b.example";
        # certificates instead of a PSK (RSA or ECDSA P-256/P-384, PEM or DER):
        certificate_type x509 "cert.pem" "key.pem";  # key: PKCS#8
        ca_type x509 "ca.pem";
        my_identifier asn1dn;                # the certificate's subject DN
        peers_identifier asn1dn ["C=CH, O=strongSwan, CN=moon"];
        verify_cert on | off;                # off: no chain check (ID and AUTH still)
        crl "ca.crl";                        # CRLs (PEM or DER) of the CAs; also global
        nat_traversal on | off | force;
        lifetime time 1 hour;                # the IKE SA's (rekeyed at 75-85 %)
        proposal {
            encryption_algorithm aes 128;    # aes [128|192|256], aes_ctr [...] (v2), aes_gcm_16 [128|256], 3des
            hash_algorithm sha256;           # sha1 sha256 sha384 sha512: PRF (and INTEG)
            authentication_method pre_shared_key;  # or rsasig with certificate_type
            dh_group 14;                     # 2 5 14 19 20 31 or modp1024 ... curve25519
        }
    }
    # one sainfo per selector pair (ours, the peer's; 'subnet' is taken for
    # 'address'), chosen per CHILD SA by its selectors as racoon's getsainfo
    # does; 'anonymous' the fallback. Not taken (an error naming the line):
    # protocols other than any, ports, 'from ID', 'group', half-anonymous.
    sainfo address NET any address NET any | anonymous {
        encryption_algorithm aes 128, aes_gcm_16;
        authentication_algorithm hmac_sha256;  # hmac_sha1 hmac_sha384 hmac_sha512
        pfs_group 14;                        # a new KE with each CHILD SA rekey (IKEv2), quick mode PFS (IKEv1)
        lifetime time 1 hour;                # the CHILD SAs' (soft at 75-85 %: rekey)
        compression_algorithm deflate;       # accepted, not used
    }

Anything else is a :class:`kame.errors.ConfigError` naming the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

from kame.errors import ConfigError
from kame.ike.cert import CertAuth
from kame.ike.ikev1 import V1Peer
from kame.ike.ikev2 import ChildProposal, IkeProposal, Peer, Sainfo

__all__ = ["RacoonConf", "parse", "read_psk"]

DH = {"1": 1, "modp768": 1, "2": 2, "modp1024": 2, "5": 5, "modp1536": 5, "14": 14, "modp2048": 14,
      "19": 19, "ecp256": 19, "20": 20, "ecp384": 20, "31": 31, "curve25519": 31}
HASH = {"sha1": (2, 2), "sha256": (12, 5), "sha384": (13, 6), "sha512": (14, 7)}
AUTH = {"hmac_sha1": 2, "hmac_sha256": 12, "hmac_sha384": 13, "hmac_sha512": 14,
        "non_auth": 0}
UNITS = {"sec": 1, "secs": 1, "second": 1, "seconds": 1, "min": 60, "mins": 60,
         "minute": 60, "minutes": 60, "hour": 3600, "hours": 3600}


@dataclass
class RacoonConf:
    peers: list[Peer] = field(default_factory=list)
    listen: list[tuple[Any, int]] = field(default_factory=list)
    psk_path: str | None = None
    cert_path: str | None = None
    #: global ``crl "FILE"`` statements
    crl_files: list[str] = field(default_factory=list)


class _Toks:
    def __init__(self, text: str) -> None:
        self.t: list[tuple[str, int]] = []
        for n, line in enumerate(text.splitlines(), 1):
            for m in re.finditer(r'"([^"]*)"|([{};,])|([^\s{};,"#]+)|(#.*)', line):
                if m.group(4) is not None:
                    break
                if m.group(1) is not None:
                    self.t.append(('"' + m.group(1), n))
                else:
                    self.t.append((m.group(2) or m.group(3), n))
        self.i = 0

    #: the line of the last ``authentication_method rsasig`` (it needs certificate_type)
    rsasig_line = 0

    def line(self) -> int:
        """The line of the last token read."""
        return self.t[min(max(self.i - 1, 0), len(self.t) - 1)][1] if self.t else 0

    def err(self, msg: str, line: int | None = None) -> ConfigError:
        return ConfigError(f"racoon.conf line {line or self.line()}: {msg}", layer="ike")

    def peek(self) -> str | None:
        return self.t[self.i][0] if self.i < len(self.t) else None

    def next(self, what: str) -> str:
        if self.i >= len(self.t):
            raise self.err(f"unexpected end of file, expected {what}")
        tok = self.t[self.i][0]
        self.i += 1
        return tok

    def expect(self, tok: str) -> None:
        got = self.next(repr(tok))
        if got != tok:
            raise self.err(f"expected {tok!r}, got {got.lstrip(chr(34))!r}", self.t[self.i - 1][1])

    def words(self) -> list[str]:
        """Tokens up to ';' (consumed)."""
        out = []
        while (t := self.next("';'")) != ";":
            if t in "{}":
                raise self.err(f"unexpected {t!r}: a statement ends with ';'")
            out.append(t.lstrip('"'))
        return out


def _addr(tk: _Toks, text: str) -> Any:
    try:
        return ip_address(text)
    except ValueError:
        raise tk.err(f"{text!r} is not an IP address") from None


def _lifetime(tk: _Toks, w: list[str]) -> int:
    if len(w) != 3 or w[0] != "time" or not w[1].isdigit() or w[2] not in UNITS:
        raise tk.err("lifetime takes 'time N sec|min|hour'")
    return int(w[1]) * UNITS[w[2]]


def _encr(tk: _Toks, w: list[str]) -> tuple[int, int]:
    name = w[0] if w else ""
    bits = int(w[1]) if len(w) > 1 and w[1].isdigit() else 128
    if name in ("aes", "rijndael") and bits in (128, 192, 256):
        return 12, bits
    if name == "aes_gcm_16" and bits in (128, 256):
        return 20, bits
    raise tk.err(f"encryption algorithm {' '.join(w)!r} not supported "
                 f"(aes 128/192/256, aes_gcm_16 128/256)")


def _proposal(tk: _Toks) -> IkeProposal:
    tk.expect("{")
    encr, bits, hashes, dh = 12, 128, "sha256", 14
    while (t := tk.next("'}'")) != "}":
        w = tk.words()
        if t == "encryption_algorithm":
            if w == ["3des"]:
                encr, bits = 3, 192
            elif w[:1] == ["aes_ctr"]:  # RFC 5930, the IKE SA only
                encr, bits = _encr(tk, ["aes", *w[1:]])
                encr = 13
            else:
                encr, bits = _encr(tk, w)
        elif t == "hash_algorithm":
            if w[:1] == [] or w[0] not in HASH:
                raise tk.err(f"hash_algorithm {' '.join(w)!r} not supported (sha1 sha256 sha384 "
                             f"sha512)")
            hashes = w[0]
        elif t == "authentication_method":
            if w not in (["pre_shared_key"], ["rsasig"]):
                raise tk.err(f"authentication_method {' '.join(w)!r} not supported "
                             f"(pre_shared_key, rsasig)")
            if w == ["rsasig"]:
                tk.rsasig_line = tk.line()
        elif t == "dh_group":
            if len(w) != 1 or w[0] not in DH:
                raise tk.err(f"dh_group {' '.join(w)!r} not supported (1 2 5 14 19 20 31)")
            dh = DH[w[0]]
        elif t == "lifetime":
            _lifetime(tk, w)
        else:
            raise tk.err(f"{t!r} not taken in a proposal")
    integ, prf = HASH[hashes]
    return IkeProposal(encr, bits, 0 if encr == 20 else integ, prf, dh)


def _ident(tk: _Toks, w: list[str]) -> str:
    if w[:1] == ["asn1dn"] and len(w) <= 2:
        return w[1] if len(w) == 2 else ""
    if len(w) != 2 or w[0] not in ("address", "fqdn", "user_fqdn"):
        raise tk.err("an identifier is 'address ADDR', 'fqdn \"NAME\"', 'user_fqdn \"U@NAME\"' "
                     "or 'asn1dn [\"DN\"]'")
    return w[1]


def _onoff(tk: _Toks, k: str, w: list[str]) -> bool:
    if w not in (["on"], ["off"]):
        raise tk.err(f"{k} takes on or off")
    return w == ["on"]


def _sainfo_id(tk: _Toks) -> Any:
    kind = tk.next("'address'")
    if kind not in ("address", "subnet"):
        raise tk.err(f"sainfo takes 'address NET any' (or 'anonymous'), not {kind!r}"
                     + (" (asn1dn/fqdn IDs are not taken)" if kind in ("asn1dn", "fqdn",
                                                                     "user_fqdn") else ""))
    net = tk.next("a network")
    if "[" in net:
        raise tk.err(f"sainfo {net!r}: ports are not taken (any port)")
    try:
        n = ip_network(net, strict=False)
    except ValueError:
        raise tk.err(f"{net!r} is not a network") from None
    proto = tk.next("'any'")
    if proto != "any":
        raise tk.err(f"sainfo {kind} {net} {proto}: only protocol 'any' is taken")
    return n


def parse(text: str, *, base: Path | None = None, psk: dict[str, bytes] | None = None,
          local: Any = None) -> RacoonConf:
    """Read racoon.conf text. ``psk`` (ID -> key) overrides the file named by
    ``path pre_shared_key``; ``local`` is our address (or a list of them, IPv6
    and IPv4) for the remotes of a family no ``listen`` address has."""
    tk = _Toks(text)
    conf = RacoonConf()
    remotes: list[tuple[Any, dict[str, Any], int]] = []
    sainfos: list[tuple[Any, Any, list[ChildProposal], int, dict[str, int]]] = []
    while tk.peek() is not None:
        t = tk.next("a statement")
        ln = tk.t[tk.i - 1][1]
        if t == "path":
            w = tk.words()
            if len(w) != 2 or w[0] not in ("pre_shared_key", "include", "certificate"):
                raise tk.err("path takes pre_shared_key, include or certificate and a path", ln)
            if w[0] == "pre_shared_key":
                conf.psk_path = w[1]
            elif w[0] == "certificate":
                conf.cert_path = w[1]
        elif t == "crl":
            w = tk.words()
            if len(w) != 1:
                raise tk.err('crl takes "FILE" (PEM or DER CRLs)', ln)
            conf.crl_files.append(w[0])
        elif t in ("padding", "log", "timer"):
            if t == "log":
                tk.words()
                continue
            tk.expect("{")
            while tk.next("'}'") != "}":
                tk.words()
        elif t == "listen":
            tk.expect("{")
            while (k := tk.next("'}'")) != "}":
                w = tk.words()
                if k not in ("isakmp", "isakmp_natt") or not w:
                    raise tk.err(f"listen takes isakmp/isakmp_natt ADDR [PORT], not {k!r}")
                port = int(w[1].strip("[]")) if len(w) > 1 else (500 if k == "isakmp" else 4500)
                conf.listen.append((_addr(tk, w[0]), port))
        elif t == "remote":
            addr = _addr(tk, tk.next("an address"))
            tk.expect("{")
            kw: dict[str, Any] = {"proposals": []}
            while (k := tk.next("'}'")) != "}":
                if k == "proposal":
                    kw["proposals"].append(_proposal(tk))
                    continue
                w = tk.words()
                if k == "ike_version":
                    if w not in (["1"], ["2"]):
                        raise tk.err("ike_version takes 1 (RFC 2409) or 2 (RFC 7296)")
                    kw["version"] = int(w[0])
                elif k == "exchange_mode":
                    modes = tuple(x.strip() for x in " ".join(w).split(",") if x.strip())
                    if not modes or any(m not in ("main", "aggressive", "base") for m in modes):
                        raise tk.err("exchange_mode takes main, aggressive (IKEv1)")
                    if "base" in modes:
                        raise tk.err("exchange_mode base is not supported (main, aggressive)")
                    kw["exchange_mode"] = modes
                elif k == "dpd_delay":
                    if len(w) != 1 or not w[0].isdigit():
                        raise tk.err("dpd_delay takes a number of seconds")
                    kw["dpd_delay"] = int(w[0])
                elif k in ("generate_policy", "passive", "proposal_check", "initial_contact"):
                    pass
                elif k == "my_identifier":
                    kw["my_id"] = _ident(tk, w)
                    kw["my_id_kind"] = w[0]
                elif k == "peers_identifier":
                    kw["peer_id"] = _ident(tk, w)
                    kw["peer_id_kind"] = w[0]
                elif k == "certificate_type":
                    if len(w) != 3 or w[0] != "x509":
                        raise tk.err('certificate_type takes x509 "CERTFILE" "KEYFILE"')
                    kw["certificate"] = (w[1], w[2])
                elif k == "ca_type":
                    if len(w) != 2 or w[0] != "x509":
                        raise tk.err('ca_type takes x509 "CAFILE"')
                    kw.setdefault("ca", []).append(w[1])
                elif k == "crl":
                    if len(w) != 1:
                        raise tk.err('crl takes "FILE" (PEM or DER CRLs)')
                    kw.setdefault("crl", []).append(w[0])
                elif k == "verify_cert":
                    kw["verify_cert"] = _onoff(tk, k, w)
                elif k in ("verify_identifier", "send_cert", "send_cr"):
                    _onoff(tk, k, w)
                elif k == "nat_traversal":
                    if w not in (["on"], ["off"], ["force"]):
                        raise tk.err("nat_traversal takes on, off or force")
                    kw["nat_traversal"] = w[0]
                elif k == "lifetime":
                    kw["lifetime"] = _lifetime(tk, w)
                else:
                    raise tk.err(f"{k!r} not taken in a remote section")
            if not kw["proposals"]:
                raise tk.err(f"remote {addr} has no proposal", ln)
            if kw.get("version", 2) == 1 and any(x.encr == 13 for x in kw["proposals"]):
                raise tk.err(f"remote {addr}: aes_ctr is taken with ike_version 2 only", ln)
            if tk.rsasig_line and "certificate" not in kw:
                raise tk.err("authentication_method rsasig needs certificate_type x509 "
                             "\"CERT\" \"KEY\" in the remote", tk.rsasig_line)
            tk.rsasig_line = 0
            remotes.append((addr, kw, ln))
        elif t == "sainfo":
            if tk.peek() == "anonymous":
                tk.next("anonymous")
                src = dst = None
                if tk.peek() not in ("{", None):
                    raise tk.err(f"sainfo anonymous {tk.peek()!r}: 'anonymous' stands alone "
                                 f"(half-anonymous sainfos are not taken)")
            else:
                src = _sainfo_id(tk)
                if tk.peek() == "anonymous":
                    raise tk.err("sainfo ADDRESS anonymous: half-anonymous sainfos are not "
                                 "taken ('sainfo anonymous' or two addresses)")
                dst = _sainfo_id(tk)
                if src.version != dst.version:
                    raise tk.err(f"sainfo {src} <-> {dst}: both of one family")
            if tk.peek() in ("from", "group"):
                raise tk.err(f"sainfo ... {tk.peek()} ...: not taken (a sainfo serves every "
                             f"remote)")
            if any(x[0] == src and x[1] == dst for x in sainfos):
                first = next(x[3] for x in sainfos if x[0] == src and x[1] == dst)
                raise tk.err(f"sainfo {'anonymous' if src is None else f'{src} <-> {dst}'} "
                             f"again (first at line {first})", ln)
            tk.expect("{")
            encs: list[tuple[int, int]] = []
            auths: list[int] = []
            extra: dict[str, int] = {}
            while (k := tk.next("'}'")) != "}":
                w = tk.words()
                items = [x for x in " ".join(w).split(",") if x.strip()]
                if k == "encryption_algorithm":
                    encs += [_encr(tk, x.split()) for x in items]
                elif k == "authentication_algorithm":
                    for x in items:
                        if x.strip() not in AUTH:
                            raise tk.err(f"authentication_algorithm {x.strip()!r} not supported "
                                         f"(hmac_sha1 hmac_sha256 hmac_sha384 hmac_sha512)")
                        auths.append(AUTH[x.strip()])
                elif k == "pfs_group":
                    if len(w) != 1 or w[0] not in DH:
                        raise tk.err(f"pfs_group {' '.join(w)!r} not supported "
                                     f"(1 2 5 14 19 20 31, modp768 ... curve25519)")
                    extra["pfs_group"] = DH[w[0]]
                elif k == "lifetime":
                    extra["child_lifetime"] = _lifetime(tk, w)
                elif k == "compression_algorithm":
                    pass
                else:
                    raise tk.err(f"{k!r} not taken in a sainfo section")
            child = []
            for e, b in encs or [(12, 128)]:
                if e == 20:
                    child.append(ChildProposal(e, b, 0))
                else:
                    child += [ChildProposal(e, b, a) for a in (auths or [12]) if a]
            if not child:
                raise tk.err("sainfo: no usable ESP proposal", ln)
            sainfos.append((src, dst, child, ln, extra))
        else:
            raise tk.err(f"{t.lstrip(chr(34))!r} not taken at the top level "
                         f"(path, listen, padding, remote, sainfo)", ln)
    keys = dict(psk or {})
    if conf.psk_path and psk is None:
        keys = read_psk(Path(conf.psk_path) if base is None else base / conf.psk_path)
    locals_ = [ip_address(x) for x in (local if isinstance(local, (list, tuple)) else
                                       [local] if local is not None else [])]
    for addr, kw, ln in remotes:
        # our end of the remote: the listen address of its family, else ours
        mine = next((a for a, _port in conf.listen if a.version == addr.version),
                    next((a for a in locals_ if a.version == addr.version), None))
        certauth = _certauth(conf, base, kw, ln)
        secret = keys.get(str(addr)) or keys.get(kw.get("peer_id", ""))
        if certauth is not None:
            secret = secret or b""
        if secret is None:
            raise ConfigError(f"racoon.conf line {ln}: no pre-shared key for {addr} "
                              f"(path pre_shared_key)", layer="ike")
        if mine is None:
            raise ConfigError(f"racoon.conf line {ln}: no local IPv{addr.version} address for "
                              f"remote {addr} (listen {{ isakmp ADDR; }})", layer="ike")
        # the first sainfo is the remote's default (establish-sa); each CHILD SA
        # takes the one of its selectors (Peer.sainfo_for)
        sa = next((x for x in sainfos if x[0] is not None), sainfos[0]) if sainfos else None
        version = kw.pop("version", 2)
        v1 = {k: kw.pop(k) for k in ("exchange_mode", "dpd_delay") if k in kw}
        if version == 1:
            if certauth is not None and certauth.key.key_type != "rsa":
                raise ConfigError(f"racoon.conf line {ln}: IKEv1 signatures take an RSA "
                                  f"certificate (here {certauth.key.key_type})", layer="ike")
            if certauth is not None and "aggressive" in v1.get("exchange_mode", ()):
                raise ConfigError(f"racoon.conf line {ln}: IKEv1 certificates are taken in "
                                  f"main mode only", layer="ike")
            for k in ("my_id_kind", "peer_id_kind"):
                kw.pop(k, None)
            p: Peer = V1Peer(addr, mine, secret, cert=certauth, **kw, **v1,
                             pfs_group=sa[4].get("pfs_group", 0) if sa is not None else 0)
        else:
            p = Peer(addr, mine, secret, cert=certauth, **kw)
        if sa is not None:
            p.child = sa[2]
            for k, v in sa[4].items():
                setattr(p, k, v)
            if sa[0] is not None:
                p.local_ts, p.remote_ts = sa[0], sa[1]
            p.sainfos = [Sainfo(x[0], x[1], x[2], x[4].get("pfs_group", 0),
                                x[4].get("child_lifetime", 3600), x[3]) for x in sainfos]
        conf.peers.append(p)
    return conf


_HASHED_CRL = re.compile(r"[0-9a-f]{8}\.r[0-9]+")


def _certauth(conf: RacoonConf, base: Path | None, kw: dict[str, Any],
              ln: int) -> CertAuth | None:
    """The remote's certificate settings (popped from ``kw``) as a CertAuth."""
    cert = kw.pop("certificate", None)
    cas = kw.pop("ca", [])
    crls = kw.pop("crl", [])
    verify = kw.pop("verify_cert", True)
    my_kind = kw.pop("my_id_kind", "asn1dn")
    peer_kind = kw.pop("peer_id_kind", "asn1dn")
    if cert is None:
        if my_kind == "asn1dn" and "my_id" in kw or peer_kind == "asn1dn" and "peer_id" in kw:
            raise ConfigError(f"racoon.conf line {ln}: asn1dn identifiers need "
                              f"certificate_type x509", layer="ike")
        return None
    if not cas and verify:
        raise ConfigError(f"racoon.conf line {ln}: certificate_type x509 needs ca_type x509 "
                          f"\"CAFILE\" (or verify_cert off)", layer="ike")
    d = Path(conf.cert_path) if conf.cert_path else Path()
    if base is not None and not d.is_absolute():
        d = base / d
    # racoon looks CRLs up in the certificate directory by hash name (c_rehash's HHHHHHHH.rN)
    hashed = sorted(p for p in d.glob("*.r[0-9]*") if _HASHED_CRL.fullmatch(p.name)) \
        if conf.cert_path else []
    crl_paths = [d / c for c in conf.crl_files + crls] + hashed
    auth = CertAuth.load(d / cert[0], d / cert[1], [d / c for c in cas], crls=crl_paths,
                         verify=verify,
                         my_id_kind=my_kind, peer_id_kind=peer_kind,
                         peer_id=kw.get("peer_id", "") if peer_kind == "asn1dn" else "")
    if my_kind == "asn1dn":
        kw.pop("my_id", None)
    if peer_kind == "asn1dn":
        kw.pop("peer_id", None)
    return auth


def read_psk(path: Path) -> dict[str, bytes]:
    """racoon's psk.txt: ``ID KEY`` per line, ``#`` comments, ``0x`` hex keys."""
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"pre_shared_key file {path}: {e.strerror}", layer="ike") from None
    out = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split(None, 1)
        if len(parts) != 2:
            raise ConfigError(f"{path} line {n}: expected 'ID KEY'", layer="ike")
        k = parts[1].strip()
        if k.startswith("0x"):
            try:
                out[parts[0]] = bytes.fromhex(k[2:])
            except ValueError:
                raise ConfigError(f"{path} line {n}: bad hex key", layer="ike") from None
        else:
            out[parts[0]] = k.encode()
    return out
