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
        _k("net.inet6.ip6.prefer_nexthop_prefix", 1, 0, 1,
           "(kame) RFC 6724 §5 rule 5.5: prefer a source in a prefix the "
           "next-hop router advertised"),
        _k("net.inet6.ip6.use_defzone", 0, 0, 1,
           "use the default zone for an address typed without %zone (§1.3.1)"),
        _k("net.inet6.ip6.v6only", 1, 0, 1,
           "IPV6_V6ONLY default; platform profiles of §1.12 override it"),
        _k("net.inet6.ip6.auto_linklocal", 1, 0, 1,
           "assign a link-local address when an interface comes up (§1.4.1)"),
        _k("net.inet6.ip6.log_interval", 5, 0, _I32,
           "seconds between two rate-limited log lines of one kind"),
        # What the link can grow (issue 8): each bound refuses or evicts and counts.
        _k("net.inet6.ip6.max_addresses", 16, 0, 1 << 16,
           "addresses per interface past which no SLAAC or temporary address is "
           "made (Linux max_addresses); 0 = no limit"),
        _k("net.inet6.ip6.maxifprefixes", 16, -1, 1 << 16,
           "prefixes learnt from RAs per interface (BSD); -1 = no limit"),
        _k("net.inet6.ip6.maxifdefrouters", 16, -1, 1 << 16,
           "default routers learnt from RAs per interface (BSD); -1 = no limit"),
        _k("net.inet6.ip6.rtadv_maxroutes", 100, -1, 1 << 20,
           "routes learnt from RFC 4191 Route Information options (NetBSD); -1 = no limit"),
        _k("net.inet6.ip6.maxifrdnss", 8, 0, 1 << 16,
           "(kame) RFC 8106 DNS servers kept per interface"),
        _k("net.inet6.ip6.maxdynroutes", 4096, -1, 1 << 20,
           "host routes created by Redirects (BSD); further ones ignored; -1 = no limit"),
        _k("net.inet6.ip6.maxfragpackets", 1024, 0, 1 << 20,
           "datagrams being reassembled (BSD); the oldest is dropped past it"),
        _k("net.inet6.ip6.maxfragsperpacket", 64, 1, 1 << 16,
           "fragments held per datagram (FreeBSD); the datagram is dropped past it"),
        _k("net.inet6.ip6.maxfragbytes", 4 << 20, 0, 1 << 30,
           "(kame) octets held by reassembly (Linux ip6frag_high_thresh)"),
        _k("net.inet6.ip6.mcast_maxgroups", 1024, 1, 1 << 20,
           "(kame) multicast groups joined per interface"),
        _k("net.inet6.ip6.mcast.maxsocksrc", 128, 1, 1 << 16,
           "sources in one socket's filter for a group (FreeBSD's; icp6s_mld_srcfull past it)"),
        _k("net.inet6.ip6.mld_max_msf", 64, 1, 1 << 16,
           "(kame) sources in one socket's IPv6 filter for a group on the Linux profile "
           "(Linux net.ipv6.mld_max_msf; ENOBUFS past it)"),
        _k("net.inet6.ip6.mcast.maxgrpsrc", 512, 1, 1 << 16,
           "sources in an interface's filter for a group (FreeBSD's; icp6s_mld_srcfull past it)"),
        _k("net.inet6.ip6.mforwarding", 1, 0, 1,
           "(kame) forward multicast by MLD listening state when forwarding (kame.ip6.mroute)"),
        _k("net.inet6.ip6.mfc_max", 1024, 1, 1 << 20,
           "(kame) multicast forwarding cache entries (mrt6s_mfc_full past it)"),
        _k("net.inet6.ip6.mcast.loop", 1, 0, 1,
           "loop forwarded multicast back to our own members on the outgoing link "
           "(FreeBSD's in6_mcast_loop: phyint_send -> ip6_mloopback)"),
        # --- net.inet6.mld: the router side (kame.mld6_router, RFC 3810 §7, §9) ---
        _k("net.inet6.mld.querier", 1, 0, 2,
           "(kame) MLD querier on up interfaces: 0 never, 1 when forwarding, 2 always"),
        _k("net.inet6.mld.version", 2, 1, 2,
           "(kame) the querier's MLD version: 1 when an MLDv1 router is on the link (RFC 3810 §8.3.1)"),
        _k("net.inet6.mld.robustness", 2, 1, 7, "(kame) Robustness Variable (RFC 3810 §9.1)"),
        _k("net.inet6.mld.query_interval", 125, 1, 31744,
           "(kame) Query Interval, seconds (RFC 3810 §9.2)"),
        _k("net.inet6.mld.query_response_interval", 10000, 100, 8387584,
           "(kame) Query Response Interval, ms (RFC 3810 §9.3)"),
        _k("net.inet6.mld.last_listener_query_interval", 1000, 100, 8387584,
           "(kame) Last Listener Query Interval, ms (RFC 3810 §9.8)"),
        _k("net.inet6.mld.maxgroups", 1024, 1, 1 << 20,
           "(kame) multicast addresses a querier keeps per link (mlds_rtr_groupfull past it)"),
        _k("net.inet6.mld.maxsrc", 512, 1, 1 << 16,
           "(kame) sources a querier keeps per address (mlds_rtr_srcfull past it)"),
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
        _k("net.inet6.icmp6.mtudisc_hiwat", 1280, 1, 1 << 20,
           "path MTUs kept (KAME); past it the least recently updated is dropped"),
        # IPsec (seed §4.1, §4.3; KAME ipsec6 sysctls): levels 1 = use, 2 = require
        _k("net.inet6.ipsec6.esp_trans_deflev", 1, 1, 2, "system level of esp/transport//default"),
        _k("net.inet6.ipsec6.esp_net_deflev", 1, 1, 2, "system level of esp/tunnel//default"),
        _k("net.inet6.ipsec6.ah_trans_deflev", 1, 1, 2, "system level of ah/transport//default"),
        _k("net.inet6.ipsec6.ah_net_deflev", 1, 1, 2, "system level of ah/tunnel//default"),
        _k("net.inet6.ipsec6.def_policy", 1, 0, 1,
           "policy when no SPD entry matches: 0 discard, 1 none (no IPsec)"),
        _k("net.inet6.ipsec6.esp_randpad", -1, -1, 65535,
           "pad ESP payloads shorter than N to a random length <= N; -1 off (§4.3)"),
        # gif(4) and FAITH (seed §1.5, §3.1; kame.gif, kame.faith)
        _k("net.link.gif.max_nesting", 1, 1, 64,
           "gif interfaces one packet may be nested in (KAME max_gif_nesting, seed §1.5)"),
        _k("net.inet6.ip6.gifhlim", 30, 1, 255, "hop limit of gif's outer IPv6 header (GIF_HLIM)"),
        _k("net.inet.ip.gifttl", 30, 1, 255, "TTL of gif's outer IPv4 header (GIF_TTL)"),
        _k("net.inet6.ip6.keepfaith", 0, 0, 1,
           "accept TCP to the FAITH prefixes for faithd (RFC 3142, seed §3.1)"),
        # Mobile IPv6, correspondent node (seed §6.1, RFC 6275 §9; kame.mip6)
        _k("net.inet6.mip6.correspondent", 1, 0, 1,
           "correspondent node: Home Address option, Return Routability, binding cache, "
           "route optimization (seed §6.1: on as KAME); 0 = a node without Mobile IPv6"),
        _k("net.inet6.mip6.bc_max", 1024, 1, 1 << 20,
           "(kame) binding cache entries; past it a Binding Update gets status 130"),
        _k("net.inet6.mip6.nonce_interval", 30, 1, 240,
           "(kame) seconds between fresh Return Routability nonces (RFC 6275 §5.2.7)"),
        _k("net.inet6.mip6.rr_lifetime_max", 420, 4, 262140,
           "longest binding granted under Return Routability, s (MAX_RR_BINDING_LIFETIME)"),
        _k("net.inet6.mip6.be_ppslimit", 10, 0, 10000,
           "(kame) Binding Errors sent per second (RFC 6275 §9.3.3: rate limited); 0 none"),
        # Mobile IPv6, home agent and mobile node (seed §6.2, RFC 6275 §10, §11)
        _k("net.inet6.mip6.ha_lifetime_max", 3600, 4, 262140,
           "(kame) longest home registration a home agent grants, s (also bounded by the "
           "home prefix's valid lifetime)"),
        _k("net.inet6.mip6.ha_dad", 1, 0, 1,
           "home agent: Duplicate Address Detection of a home address before a new "
           "registration is accepted (RFC 6275 §10.3.1)"),
        _k("net.inet6.mip6.ha_dad_max", 64, 1, 65536,
           "(kame) home registrations waiting for DAD at once; past it status 130"),
        _k("net.inet6.mip6.bul_max", 64, 1, 65536,
           "(kame) mobile node: binding update list entries (home agent and correspondents)"),
        _k("net.inet6.mip6.mn_lifetime", 600, 4, 262140,
           "(kame) mobile node: home registration lifetime asked for, s"),
        _k("net.inet6.mip6.first_reg_timeout_ms", 1500, 100, 32000,
           "mobile node: first retransmission timeout of a home registration with no "
           "binding at the home agent, ms (InitialBindackTimeoutFirstReg, RFC 6275 §11.8)"),
        _k("net.inet6.mip6.halist_max", 32, 1, 65536,
           "(kame) home agent: other home agents listed from Router Advertisements with the H "
           "flag (RFC 6275 §10.5.1); past it not listed, counted mip6s_halistfull"),
        _k("net.inet6.mip6.ha_brr", 1, 0, 1,
           "home agent: a Binding Refresh Request when 90 % of a home registration's lifetime "
           "has passed without a refresh (RFC 6275 §6.1.2)"),
        _k("net.inet6.mip6.mpa_min_interval", 600, 1, 86400,
           "home agent: MinMobPfxAdvInterval, s (RFC 6275 §10.6.2, §13)"),
        _k("net.inet6.mip6.mpa_max_interval", 86400, 1, 86400,
           "home agent: MaxMobPfxAdvInterval, s (RFC 6275 §10.6.2, §13)"),
        _k("net.inet6.ipsec6.ecn", 0, -1, 2,
           "ECN on IPsec tunnels (§4.6): -1 RFC 2401, 0 forbidden, 1 allowed; 2 RFC 6040"),
        # --- net.inet.tcp (issue 9: kame.tcp; FreeBSD's names, times in ms) ---
        _k("net.inet.tcp.mssdflt", 536, 88, 65535, "MSS when the peer sends none (IPv4)"),
        _k("net.inet.tcp.v6mssdflt", 1220, 88, 65535, "MSS when the peer sends none (IPv6)"),
        _k("net.inet.tcp.rfc1323", 1, 0, 3,
           "RFC 7323: 1 window scaling and timestamps, 2 scaling only, 3 timestamps only"),
        _k("net.inet.tcp.sack.enable", 1, 0, 1, "SACK (RFC 2018) with RFC 6675 recovery"),
        _k("net.inet.tcp.ecn.enable", 2, 0, 2,
           "ECN (RFC 3168): 0 off, 1 request and accept, 2 accept when requested"),
        _k("net.inet.tcp.cc.algorithm", 1, 0, 1,
           "congestion control: 0 newreno (RFC 6582), 1 cubic (RFC 9438)"),
        _k("net.inet.tcp.initcwnd_segments", 10, 1, 1000, "initial window (RFC 6928)"),
        _k("net.inet.tcp.delayed_ack", 1, 0, 1, "delay ACKs (RFC 5681 §4.2)"),
        _k("net.inet.tcp.delacktime", 40, 1, 500, "delayed-ACK timeout, ms"),
        _k("net.inet.tcp.rexmit_initial", 1000, 1, 600000, "initial RTO, ms (RFC 6298 §2.1)"),
        _k("net.inet.tcp.rexmit_min", 1000, 1, 600000,
           "minimum RTO, ms (RFC 6298 §2.4: 1 s; Linux uses 200)"),
        _k("net.inet.tcp.rexmit_max", 64000, 1000, 3600000, "maximum RTO, ms (RFC 6298 §2.5)"),
        _k("net.inet.tcp.msl", 30000, 1, 600000, "maximum segment lifetime, ms (TIME_WAIT = 2MSL)"),
        _k("net.inet.tcp.finwait2_timeout", 60000, 1, _I32,
           "FIN_WAIT_2 of a closed socket, ms"),
        _k("net.inet.tcp.keepinit", 75000, 1, _I32, "connection establishment timeout, ms"),
        _k("net.inet.tcp.keepidle", 7200000, 1, _I32, "idle time before keepalive probes, ms"),
        _k("net.inet.tcp.keepintvl", 75000, 1, _I32, "interval between keepalive probes, ms"),
        _k("net.inet.tcp.keepcnt", 8, 1, 1000, "unanswered keepalive probes before drop"),
        _k("net.inet.tcp.persmin", 5000, 1, _I32, "minimum persist interval, ms"),
        _k("net.inet.tcp.persmax", 60000, 1, _I32, "maximum persist interval, ms"),
        _k("net.inet.tcp.sendspace", 262144, 1024, 1 << 30, "default SO_SNDBUF"),
        _k("net.inet.tcp.recvspace", 262144, 1024, 1 << 30, "default SO_RCVBUF"),
        _k("net.inet.tcp.reass.maxqueuelen", 100, 1, 1 << 20,
           "out-of-order blocks held per connection (octets bounded by SO_RCVBUF)"),
        _k("net.inet.tcp.syncache.cachelimit", 1024, 1, 1 << 24,
           "SYN queue entries (all listeners); SYN cookies beyond it"),
        _k("net.inet.tcp.syncookies", 1, 0, 1, "answer SYNs with cookies when the SYN queue is full"),
        _k("net.inet.tcp.syncookies_only", 0, 0, 1, "answer every SYN with a cookie"),
        _k("net.inet.tcp.blackhole", 0, 0, 2,
           "segments for no connection: 0 RST, 1 no RST for SYN, 2 no RST at all"),
        _k("net.inet.tcp.icmplim", 200, -1, _I32,
           "(kame) RSTs for closed ports per second (BSD icmplim, badport_bandlim); -1 no limit"),
        _k("net.inet.tcp.ack_war_timewindow", 1000, 1, _I32,
           "RFC 5961 challenge-ACK window, ms"),
        _k("net.inet.tcp.ack_war_cnt", 5, 0, _I32, "challenge ACKs per window and connection"),
        _k("net.inet.tcp.path_mtu_discovery", 1, 0, 1, "use the path MTU for the MSS (RFC 8201)"),
        _k("net.inet.tcp.pmtud_blackhole_detection", 0, 0, 1,
           "lower the MSS when full-size segments time out twice (RFC 4821); off as in "
           "FreeBSD: random loss of two full segments in a row also trips it"),
        _k("net.inet.tcp.pmtud_blackhole_mss", 1200, 88, 65535,
           "IPv4 MSS tried against a PMTU black hole"),
        _k("net.inet.tcp.v6pmtud_blackhole_mss", 1220, 88, 65535,
           "IPv6 MSS tried against a PMTU black hole"),
        _k("net.inet.tcp.icmp_may_rst", 1, 0, 1,
           "ICMPv6 unreachable port/prohibited aborts a connection in SYN_SENT"),
        _k("net.inet.tcp.nolocaltimewait", 0, 0, 1, "no TIME_WAIT for connections to ourselves"),
        _k("net.inet.tcp.maxtcptw", 16384, 1, 1 << 24,
           "connections held in TIME_WAIT; past it the oldest ends early"),
        # --- net.inet / net.link.ether.inet (IPv4 and ARP, kame.inet; issue 9) ---
        _k("net.inet.ip.forwarding", 0, 0, 1, "forward IPv4 datagrams not for us (router)"),
        _k("net.inet.ip.ttl", 64, 1, 255, "default IPv4 Time to Live"),
        _k("net.inet.ip.accept_sourceroute", 0, 0, 1,
           "accept datagrams for us carrying a complete LSRR/SSRR option"),
        _k("net.inet.ip.maxfragpackets", 1024, -1, _I32,
           "IPv4 datagrams in reassembly at once; 0 = no reassembly, -1 = no limit"),
        _k("net.inet.ip.maxfragsperpacket", 16, 0, 1 << 16,
           "fragments held per IPv4 datagram (FreeBSD's default)"),
        _k("net.inet.ip.fragttl", 30, 1, 3600,
           "(kame) IPv4 reassembly time limit in seconds (BSD IPFRAGTTL, Linux ipfrag_time)"),
        _k("net.inet.ip.maxfragbytes", 4 << 20, 0, _I32,
           "(kame) octets held by IPv4 reassembly (Linux ipfrag_high_thresh)"),
        _k("net.inet.ip.mcast_maxgroups", 1024, 1, 1 << 20,
           "(kame) IPv4 multicast groups joined per interface (igps_groupfull past it)"),
        _k("net.inet.ip.mcast_maxsocksrc", 128, 1, 1 << 16,
           "sources in one socket's filter for a group (FreeBSD's; igps_srcfull past it)"),
        _k("net.inet.ip.igmp_max_msf", 10, 1, 1 << 16,
           "(kame) sources in one socket's IPv4 filter for a group on the Linux profile "
           "(Linux net.ipv4.igmp_max_msf; ENOBUFS past it)"),
        _k("net.inet.ip.mcast_maxgrpsrc", 512, 1, 1 << 16,
           "sources in an interface's filter for a group (FreeBSD's; igps_srcfull past it)"),
        # --- net.inet.igmp: the router side (kame.inet.igmp_router, RFC 3376 §6, §8) ---
        _k("net.inet.igmp.querier", 1, 0, 2,
           "(kame) IGMP querier on up interfaces: 0 never, 1 when forwarding, 2 always"),
        _k("net.inet.igmp.version", 3, 1, 3,
           "(kame) the querier's IGMP version: the oldest router's on the link (RFC 3376 §7.3.1)"),
        _k("net.inet.igmp.robustness", 2, 1, 7, "(kame) Robustness Variable (RFC 3376 §8.1)"),
        _k("net.inet.igmp.query_interval", 125, 1, 31744,
           "(kame) Query Interval, seconds (RFC 3376 §8.2)"),
        _k("net.inet.igmp.query_response_interval", 10000, 100, 3174400,
           "(kame) Query Response Interval, ms (RFC 3376 §8.3)"),
        _k("net.inet.igmp.last_member_query_interval", 1000, 100, 3174400,
           "(kame) Last Member Query Interval, ms (RFC 3376 §8.8)"),
        _k("net.inet.igmp.maxgroups", 1024, 1, 1 << 20,
           "(kame) groups a querier keeps per link (igps_rtr_groupfull past it)"),
        _k("net.inet.igmp.maxsrc", 512, 1, 1 << 16,
           "(kame) sources a querier keeps per group (igps_rtr_srcfull past it)"),
        _k("net.inet.ip.mforwarding", 1, 0, 1,
           "(kame) forward multicast by IGMP listening state when forwarding (kame.inet.mroute)"),
        _k("net.inet.ip.mfc_max", 1024, 1, 1 << 20,
           "(kame) IPv4 multicast forwarding cache entries (mrts_mfc_full past it)"),
        _k("net.inet.ip.mcast.loop", 1, 0, 1,
           "loop forwarded multicast back to our own members on the outgoing link "
           "(FreeBSD's in_mcast_loop: send_packet -> ip_mloopback)"),
        _k("net.inet.igmp.default_version", 3, 1, 3,
           "IGMP version used when no older querier is present"),
        _k("net.inet.ip.redirect", 1, 0, 1, "send ICMP Redirects when forwarding"),
        _k("net.inet.icmp.drop_redirect", 0, 0, 1, "ignore ICMP Redirects"),
        _k("net.inet.icmp.redirtimeout", 600, 1, _I32,
           "seconds a host route learnt from a Redirect lasts"),
        _k("net.inet.icmp.maxdynroutes", 1024, 1, 1 << 20,
           "(kame) host routes learnt from Redirects at once (the oldest goes)"),
        _k("net.inet.icmp.icmplim", 200, 0, _I32,
           "ICMP errors (and echo replies) per second; 0 = no limit"),
        _k("net.inet.icmp.bmcastecho", 0, 0, 1, "answer echo requests sent to broadcast/multicast"),
        _k("net.inet.icmp.quotelen", 8, 8, 548,
           "octets of the invoking datagram after its header quoted in ICMP errors"),
        _k("net.link.ether.inet.max_age", 1200, 1, _I32, "seconds a resolved ARP entry is kept"),
        _k("net.link.ether.inet.maxtries", 5, 1, 100, "ARP requests before a neighbor is down"),
        _k("net.link.ether.inet.wait", 20, 0, _I32,
           "seconds an unanswered ARP entry stays down (arpt_down)"),
        _k("net.link.ether.inet.maxhold", 1, 1, 1024,
           "packets held per unresolved ARP entry (BSD's la_hold: 1)"),
        _k("net.link.ether.inet.max_entries", 1024, 1, 1 << 20,
           "(kame) ARP cache cap; the least recently used entry goes past it (flood bound)"),
        _k("net.link.ether.inet.dad_count", 3, 0, 15,
           "(kame) RFC 5227 probes before an IPv4 address is used; 0 = BSD (one gratuitous ARP)"),
    )
}


class Knobs(Mapping[str, int]):
    """The sysctl table of one node.

    ``knobs["net.inet6.ip6.forwarding"]`` reads, ``knobs[...] = 1`` writes
    after validation (:class:`ConfigError` on an unknown name, a non-integer
    or a value out of range). ``str(knobs)`` prints like ``sysctl -a``.
    """

    __slots__ = ("_values", "gen")

    def __init__(self, overrides: Mapping[str, int] | None = None) -> None:
        self._values: dict[str, int] = {n: s.default for n, s in KNOBS.items()}
        #: Bumped by every write: what derives state from knobs (the
        #: queriers' per-interface state) recomputes it when this moves.
        self.gen = 0
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
        self.gen += 1

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
        self.gen += 1

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
