"""Settings addressed by their sysctl names, with the seeds' defaults.

Every knob of the IPv6 node lives in one :class:`Knobs` table, keyed by its
BSD sysctl name (``net.inet6.ip6.accept_rtadv``, ``net.inet6.icmp6.nd6_maxndopt``
...). Defaults follow ``seeds/KAME-IMPLEMENTATION.txt`` and DESIGN.md §4; where
KAME's code later differed, the seed wins (``errppslimit`` 200, not 100;
``hdrnestlimit`` 50, not 15).

Per-interface ND flags (KAME ``struct nd_ifinfo`` ``flags``, set with
``ndp -i IF [-]nud``, ``[-]accept_rtadv``, ``[-]disabled``) are an
:class:`IfFlags` object, one per interface.

A few knobs are kame extensions that KAME kept as compile-time constants;
they are marked ``(kame)`` in their description.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields

from kame.errors import ConfigError

__all__ = ["KNOBS", "IfFlags", "KnobSpec", "Knobs"]


@dataclass(frozen=True, slots=True)
class KnobSpec:
    """One sysctl: its name, default, legal range and meaning."""

    name: str
    default: int
    minimum: int
    maximum: int
    doc: str

    def check(self, value: object) -> int:
        """Return ``value`` as an int, or raise :class:`ConfigError`."""
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int):
            raise ConfigError(
                f"{self.name}: expected an integer, got {type(value).__name__}",
                layer="knobs",
            )
        if not self.minimum <= value <= self.maximum:
            raise ConfigError(
                f"{self.name}: {value} out of range [{self.minimum}, {self.maximum}]",
                layer="knobs",
                limit=self.maximum,
            )
        return value


_I32 = 2**31 - 1


def _k(name: str, default: int, lo: int, hi: int, doc: str) -> KnobSpec:
    return KnobSpec(name, default, lo, hi, doc)


#: Every knob, by sysctl name.
KNOBS: dict[str, KnobSpec] = {
    spec.name: spec
    for spec in (
        # --- net.inet6.ip6 ---------------------------------------------------
        _k("net.inet6.ip6.forwarding", 0, 0, 1,
           "1 = router, 0 = host (§1.4.2); set at bootstrap only"),
        _k("net.inet6.ip6.redirect", 1, 0, 1, "send Redirects when forwarding"),
        _k("net.inet6.ip6.hlim", 64, 0, 255, "default hop limit (AdvCurHopLimit)"),
        _k("net.inet6.ip6.accept_rtadv", 0, 0, 1,
           "accept Router Advertisements (§1.4.2 table)"),
        _k("net.inet6.ip6.hdrnestlimit", 50, 0, _I32,
           "extension headers walked before drop, 0 = no limit (§1.8)"),
        _k("net.inet6.ip6.dad_count", 1, 0, 15, "DupAddrDetectTransmits (RFC 4862)"),
        _k("net.inet6.ip6.dad_enhanced", 1, 0, 1,
           "(kame) RFC 7527 nonce in DAD probes to spot looped-back NS"),
        _k("net.inet6.ip6.use_deprecated", 1, 0, 1,
           "allow deprecated addresses as source (§1.6.1, RFC 4862 5.5.4)"),
        _k("net.inet6.ip6.use_tempaddr", 0, 0, 1,
           "generate RFC 3041/4941 temporary addresses"),
        _k("net.inet6.ip6.temppltime", 86400, 0, _I32,
           "TEMP_PREFERRED_LIFETIME in seconds (1 day)"),
        _k("net.inet6.ip6.tempvltime", 604800, 0, _I32,
           "TEMP_VALID_LIFETIME in seconds (1 week)"),
        _k("net.inet6.ip6.prefer_tempaddr", 0, 0, 1,
           "prefer temporary addresses in source selection (§1.6.1)"),
        _k("net.inet6.ip6.use_defzone", 0, 0, 1,
           "use the default zone for an address typed without %zone (§1.3.1)"),
        _k("net.inet6.ip6.v6only", 1, 0, 1,
           "IPV6_V6ONLY default; platform profiles of §1.12 override it"),
        _k("net.inet6.ip6.auto_linklocal", 1, 0, 1,
           "assign a link-local address when an interface comes up (§1.4.1)"),
        _k("net.inet6.ip6.log_interval", 5, 0, _I32,
           "seconds between two rate-limited log lines of one kind"),
        # --- net.inet6.icmp6 -------------------------------------------------
        _k("net.inet6.icmp6.rediraccept", 1, 0, 1, "accept Redirects (hosts)"),
        _k("net.inet6.icmp6.redirtimeout", 600, 0, _I32,
           "lifetime of a route learnt from a Redirect, seconds"),
        _k("net.inet6.icmp6.nd6_prune", 1, 1, _I32, "seconds between ND timer sweeps"),
        _k("net.inet6.icmp6.nd6_delay", 5, 0, _I32, "DELAY_FIRST_PROBE_TIME, seconds"),
        _k("net.inet6.icmp6.nd6_umaxtries", 3, 1, 255, "MAX_UNICAST_SOLICIT"),
        _k("net.inet6.icmp6.nd6_mmaxtries", 3, 1, 255, "MAX_MULTICAST_SOLICIT"),
        _k("net.inet6.icmp6.nd6_useloopback", 1, 0, 1,
           "route own addresses through the loopback interface"),
        _k("net.inet6.icmp6.nd6_maxnudhint", 0, 0, _I32,
           "upper-layer reachability hints accepted in a row (§1.2); 0 = none"),
        _k("net.inet6.icmp6.nd6_maxndopt", 10, 0, _I32,
           "ND options looked at per message (§1.2); further ones ignored"),
        _k("net.inet6.icmp6.nd6_debug", 0, 0, 1,
           "log bad ND packets (rate-limited); must be 0 in production (§1.2)"),
        _k("net.inet6.icmp6.nd6_maxqueuelen", 1, 1, 1024,
           "packets held per INCOMPLETE neighbor (KAME holds 1)"),
        _k("net.inet6.icmp6.nd6_gctimer", 86400, 1, _I32,
           "seconds a STALE entry is kept before garbage collection"),
        _k("net.inet6.icmp6.nd6_maxentries", 1024, 1, 1 << 20,
           "(kame) neighbor cache cap; LRU eviction past it (NS-flood bound)"),
        _k("net.inet6.icmp6.nd6_maxproxy", 256, 0, 1 << 20,
           "(kame) proxy NDP entries allowed"),
        _k("net.inet6.icmp6.errppslimit", 200, -1, _I32,
           "ICMPv6 errors per second; -1 = unlimited, 0 = none (§1.9)"),
        _k("net.inet6.icmp6.errratelimit", 0, 0, _I32,
           "minimum interval between ICMPv6 errors in ms; 0 = off (§1.9)"),
        _k("net.inet6.icmp6.nodeinfo", 0, 0, 3, "answer node information queries"),
        _k("net.inet6.icmp6.mtudisc_hiwat", 1280, 0, _I32, "PMTU cache high water"),
        # IPsec (seed §4.1, §4.3; KAME ipsec6 sysctls): levels 1 = use, 2 = require
        _k("net.inet6.ipsec6.esp_trans_deflev", 1, 1, 2, "system level of esp/transport//default"),
        _k("net.inet6.ipsec6.esp_net_deflev", 1, 1, 2, "system level of esp/tunnel//default"),
        _k("net.inet6.ipsec6.ah_trans_deflev", 1, 1, 2, "system level of ah/transport//default"),
        _k("net.inet6.ipsec6.ah_net_deflev", 1, 1, 2, "system level of ah/tunnel//default"),
        _k("net.inet6.ipsec6.def_policy", 1, 0, 1,
           "policy when no SPD entry matches: 0 discard, 1 none (no IPsec)"),
        _k("net.inet6.ipsec6.esp_randpad", -1, -1, 65535,
           "pad ESP payloads shorter than N to a random length <= N; -1 off (§4.3)"),
        _k("net.inet6.ipsec6.ecn", 0, -1, 2,
           "ECN on IPsec tunnels (§4.6): -1 RFC 2401, 0 forbidden, 1 allowed; 2 RFC 6040"),
    )
}


class Knobs(Mapping[str, int]):
    """The sysctl table of one node.

    ``knobs["net.inet6.ip6.forwarding"]`` reads, ``knobs[...] = 1`` writes
    after validation (:class:`ConfigError` on an unknown name, a non-integer
    or a value out of range). ``str(knobs)`` prints like ``sysctl -a``.
    """

    __slots__ = ("_values",)

    def __init__(self, overrides: Mapping[str, int] | None = None) -> None:
        self._values: dict[str, int] = {n: s.default for n, s in KNOBS.items()}
        if overrides is not None and not isinstance(overrides, Mapping):
            raise TypeError(f"overrides is a mapping of sysctl names, not {type(overrides).__name__}")
        if overrides:
            for name, value in overrides.items():
                self[name] = value

    def __getitem__(self, name: str) -> int:
        try:
            return self._values[name]
        except KeyError:
            raise ConfigError(f"unknown sysctl {name!r}", layer="knobs") from None

    def __setitem__(self, name: str, value: int) -> None:
        spec = KNOBS.get(name)
        if spec is None:
            raise ConfigError(f"unknown sysctl {name!r}", layer="knobs")
        self._values[name] = spec.check(value)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def reset(self, name: str) -> None:
        """Restore one knob to its default."""
        spec = KNOBS.get(name)
        if spec is None:
            raise ConfigError(f"unknown sysctl {name!r}", layer="knobs")
        self._values[name] = spec.default

    def __str__(self) -> str:
        return "\n".join(f"{n}: {v}" for n, v in sorted(self._values.items()))

    # Short accessors for the hot paths (read-only views of the table).
    @property
    def forwarding(self) -> bool:
        return self._values["net.inet6.ip6.forwarding"] != 0

    @property
    def accept_rtadv(self) -> bool:
        return self._values["net.inet6.ip6.accept_rtadv"] != 0


@dataclass(slots=True)
class IfFlags:
    """Per-interface ND flags (KAME ``nd_ifinfo.flags``, ``ndp -i``).

    - ``accept_rtadv``: KAME ``ND6_IFF_ACCEPT_RTADV``, the "if_accept_rtadv"
      of §1.4.2; only consulted when ``net.inet6.ip6.accept_rtadv`` is 1.
    - ``nud``: ``ND6_IFF_PERFORMNUD``; on by default, also on p2p (§1.2).
    - ``disabled``: ``ND6_IFF_IFDISABLED``; set by the rfc2462bis rule when
      a hardware-derived link-local address is a duplicate (§1.2). Every
      IPv6 packet received on or sent to the interface is dropped.
    - ``prefer_source``: ``ND6_IFF_PREFER_SOURCE`` (§1.6.1 "preferred
      interfaces").
    - ``auto_linklocal``: assign the link-local address on up.
    """

    accept_rtadv: bool = True
    nud: bool = True
    disabled: bool = False
    prefer_source: bool = False
    auto_linklocal: bool = True

    def names(self) -> list[str]:
        """The flags that are on, as ``ndp -i`` prints them."""
        return [f.name for f in fields(self) if getattr(self, f.name)]
