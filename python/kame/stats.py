"""Counters with BSD names, as ``netstat -s -p ip6`` / ``-p icmp6`` print them.

Every drop in the node increments a named counter (KAME ``stat++; goto
bad``). Names are the ``struct ip6stat`` / ``struct icmp6stat`` members
(``ip6s_badscope``, ``icp6s_badns``, ``icp6s_nd_toomanyopt`` ...); kame
additions are marked in :data:`DESCRIPTIONS`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from kame.tcp.stat import TCPSTAT

__all__ = ["DESCRIPTIONS", "ICMP6_TYPE_NAMES", "Stats"]

#: Known counters and the line ``netstat -s`` prints for each.
DESCRIPTIONS: dict[str, str] = {
    # ip6stat
    "ip6s_total": "total packets received",
    "ip6s_toosmall": "with size smaller than minimum",
    "ip6s_badvers": "with incorrect version number",
    "ip6s_badscope": "packets that violated scope rules",
    "ip6s_badoptions": "with bad options",
    "ip6s_toomanyhdr": "packets discarded because of too many headers",
    "ip6s_delivered": "packets for this host",
    "ip6s_forward": "packets forwarded",
    "ip6s_cantforward": "packets not forwardable",
    "ip6s_localout": "packets sent from this host",
    "ip6s_noroute": "output packets discarded due to no route",
    "ip6s_odropped": "output packets dropped due to no bufs, etc.",
    "ip6s_ifdisabled": "(kame) packets dropped on an ND-disabled interface",
    "ip6s_notmember": "multicast packets which we don't join",
    "ip6s_noproto": "(kame) packets for an unknown upper-layer protocol",
    "ip6s_tooshort": "with data size < data length",
    "ip6s_redirectsent": "redirects sent",
    "ip6s_fragments": "fragments received",
    "ip6s_fragdropped": "fragments dropped (dup or out of space)",
    "ip6s_fragtimeout": "fragments dropped after timeout",
    "ip6s_fragoverflow": "fragments that exceeded limit",
    "ip6s_reassembled": "packets reassembled ok",
    "ip6s_atomicfrags": "(kame) atomic fragments processed alone (RFC 6946)",
    "ip6s_fragoverlap": "(kame) of fragments dropped: overlapping (RFC 5722)",
    "ip6s_fragbadlen": "(kame) of fragments dropped: bad length or offset",
    "ip6s_fragincomplete": "(kame) of fragments dropped: incomplete header chain (RFC 7112)",
    "ip6s_fragecn": "(kame) of fragments dropped: ECN mix (RFC 3168)",
    "ip6s_fragdup": "(kame) of fragments dropped: exact duplicates",
    "ip6s_fragmented": "datagrams fragmented",
    "ip6s_ofragments": "fragments created",
    "ip6s_cantfrag": "datagrams that can't be fragmented",
    "ip6s_sources_none": "(kame) output packets without a usable source address",
    # icmp6stat
    "icp6s_error": "calls to icmp6_error",
    "icp6s_canterror": "errors not generated in response to an icmp6 message",
    "icp6s_toofreq": "errors not generated because of rate limitation",
    "icp6s_badcode": "messages with bad code fields",
    "icp6s_tooshort": "messages < minimum length",
    "icp6s_checksum": "bad checksums",
    "icp6s_badlen": "messages with bad length",
    "icp6s_reflect": "message responses generated",
    "icp6s_nd_toomanyopt": "messages with too many ND options",
    "icp6s_nd_badopt": "(kame) messages with a bad ND option",
    "icp6s_badns": "bad neighbor solicitation messages",
    "icp6s_badna": "bad neighbor advertisement messages",
    "icp6s_badrs": "bad router solicitation messages",
    "icp6s_badra": "bad router advertisement messages",
    "icp6s_badredirect": "bad redirect messages",
    "icp6s_dupaddr": "(kame) duplicate addresses detected",
    "icp6s_nd_looped": "(kame) looped-back DAD probes ignored (RFC 7527)",
    "icp6s_nd_cachefull": "(kame) neighbor entries evicted by the cache cap",
    "icp6s_nd_holddrop": "(kame) packets dropped from a full hold queue",
    "icp6s_nd_unreach": "(kame) neighbors found unreachable",
    "icp6s_pmtuchg": "path MTU changes",
    # tcpstat (issue 9): kame.tcp.stat
    **TCPSTAT,
    # --- IPv4, ICMP and ARP (kame.inet; struct ipstat, icmpstat, arpstat) ---
    "ips_total": "total packets received",
    "ips_badsum": "bad header checksums",
    "ips_toosmall": "with size smaller than minimum",
    "ips_tooshort": "with data size < data length",
    "ips_badhlen": "with header length < data size",
    "ips_badlen": "with data length < header length",
    "ips_badoptions": "with bad options",
    "ips_badvers": "with incorrect version number",
    "ips_badaddr": "(kame) with a martian source or destination (seed §1.14 for IPv4)",
    "ips_fragments": "fragments received",
    "ips_fragdropped": "fragments dropped (dup or out of space)",
    "ips_fragtimeout": "fragments dropped after timeout",
    "ips_fragoverflow": "(kame) fragments dropped by the reassembly caps",
    "ips_fragoverlap": "(kame) of fragments dropped: overlapping",
    "ips_badfrags": "malformed fragments dropped",
    "ips_toolong": "packets reassembled beyond 65535 octets",
    "ips_reassembled": "packets reassembled ok",
    "ips_delivered": "packets for this host",
    "ips_noproto": "packets for unknown/unsupported protocol",
    "ips_forward": "packets forwarded",
    "ips_cantforward": "packets not forwardable",
    "ips_notmember": "multicast packets which we don't join",
    "ips_localout": "packets sent from this host",
    "ips_noroute": "output packets discarded due to no route",
    "ips_odropped": "output packets dropped due to no bufs, etc.",
    "ips_fragmented": "output datagrams fragmented",
    "ips_ofragments": "fragments created",
    "ips_cantfrag": "datagrams that can't be fragmented",
    "ips_rawout": "raw IP packets generated",
    "ips_redirectsent": "redirects sent",
    "rts_dynamic": "dynamically created routes (ICMP redirects)",
    "rts_badredirect": "bad routing redirects",
    "icps_error": "calls to icmp_error",
    "icps_oldshort": "errors not generated 'cuz old message too short",
    "icps_oldicmp": "errors not generated 'cuz old message was icmp",
    "icps_canterror": "(kame) errors not generated: broadcast, fragment or bad source",
    "icps_toofreq": "(kame) responses not sent because of net.inet.icmp.icmplim",
    "icps_badcode": "messages with bad code fields",
    "icps_tooshort": "messages < minimum length",
    "icps_checksum": "bad checksums",
    "icps_badlen": "messages with bad length",
    "icps_bmcastecho": "broadcast/multicast echo requests ignored",
    "icps_reflect": "message responses generated",
    "icps_pmtuchg": "(kame) path MTU changes (RFC 1191)",
    "arps_received": "packets received",
    "arps_rxrequests": "ARP requests received",
    "arps_rxreplies": "ARP replies received",
    "arps_txrequests": "ARP requests sent",
    "arps_txreplies": "ARP replies sent",
    "arps_dropped": "packets dropped waiting for a reply (hold queue)",
    "arps_timeouts": "entries timed out",
    "arps_dupips": "duplicate IPs seen",
    "arps_badpkt": "(kame) malformed or non-Ethernet/IPv4 ARP packets",
    "arps_ownframe": "(kame) our own frames ignored",
    "arps_badaddr": "(kame) with a broadcast/multicast sender or a martian address",
    "arps_notforus": "(kame) for another host: no entry created",
    "arps_unsolicited": "(kame) unsolicited replies: no entry created",
    "arps_cachefull": "(kame) entries evicted by net.link.ether.inet.max_entries",
    "igps_rcv_total": "messages received",
    "igps_rcv_tooshort": "messages received with too few bytes",
    "igps_rcv_badsum": "messages received with bad checksum",
    "igps_rcv_v1v2_queries": "V1/V2 membership queries received",
    "igps_rcv_v3_queries": "V3 membership queries received",
    "igps_rcv_badqueries": "membership queries received with invalid field(s)",
    "igps_rcv_gen_queries": "general queries received",
    "igps_rcv_group_queries": "group queries received",
    "igps_rcv_gsr_queries": "group-source queries received",
    "igps_rcv_reports": "membership reports received",
    "igps_rcv_badreports": "membership reports received with invalid field(s)",
    "igps_rcv_ourreports": "membership reports received for groups to which we belong",
    "igps_snd_reports": "membership reports sent",
    "igps_groupfull": "(kame) joins refused: net.inet.ip.mcast_maxgroups",
    "igps_srcfull": "(kame) source filter changes refused: net.inet.ip.mcast_maxsocksrc/maxgrpsrc",
    "icp6s_pmtufull": "(kame) path MTUs dropped at mtudisc_hiwat",
    "icp6s_nd_addrfull": "(kame) autoconfigured addresses not made: max_addresses",
    "icp6s_nd_prefixfull": "(kame) prefixes ignored: maxifprefixes",
    "icp6s_nd_rtrfull": "(kame) default routers ignored: maxifdefrouters",
    "icp6s_nd_rtinfofull": "(kame) route information ignored: rtadv_maxroutes",
    "icp6s_nd_rdnssfull": "(kame) DNS servers ignored: maxifrdnss",
    "icp6s_redirfull": "(kame) redirects ignored: maxdynroutes",
    "icp6s_mld_groupfull": "(kame) multicast joins refused: mcast_maxgroups",
    "icp6s_mld_srcfull": "(kame) source filter changes refused: net.inet6.ip6.mcast.maxsocksrc/"
                         "maxgrpsrc (and queried sources past maxgrpsrc)",
    # the IGMP router side (kame.inet.igmp_router)
    "igps_rtr_rcv_gen_queries": "(kame) IGMP general queries heard by the router side",
    "igps_rtr_rcv_group_queries": "(kame) IGMP group-specific queries heard by the router side",
    "igps_rtr_rcv_gsr_queries": "(kame) IGMP group-and-source-specific queries heard by the router side",
    "igps_rtr_rcv_reports": "(kame) IGMPv3 reports received by the router side",
    "igps_rtr_rcv_v1v2reports": "(kame) IGMPv1/v2 reports received by the router side",
    "igps_rtr_rcv_leaves": "(kame) IGMPv2 leaves received by the router side",
    "igps_rtr_rcv_oldqueries": "(kame) IGMPv1/v2 queries heard by an IGMPv3 querier (set net.inet.igmp.version)",
    "igps_rtr_rcv_badrecords": "(kame) IGMP records ignored (unknown type, not a group)",
    "igps_rtr_snd_gen_queries": "(kame) IGMP general queries sent",
    "igps_rtr_snd_group_queries": "(kame) IGMP group-specific queries sent",
    "igps_rtr_snd_gsr_queries": "(kame) IGMP group-and-source-specific queries sent",
    "igps_rtr_querier_lost": "(kame) times a lower address took over as IGMP querier",
    "igps_rtr_querier_won": "(kame) times the IGMP querier role came back (other querier gone)",
    "igps_rtr_expired": "(kame) IGMP group listening states expired",
    "igps_rtr_groupfull": "(kame) IGMP records dropped: net.inet.igmp.maxgroups",
    "igps_rtr_srcfull": "(kame) IGMP listening states made EXCLUDE({}): net.inet.igmp.maxsrc",
    # IPv4 multicast forwarding (kame.inet.mroute; struct mrtstat)
    "mrts_mfc_lookups": "IPv4 multicast forwarding cache hits",
    "mrts_mfc_misses": "IPv4 multicast forwarding cache misses",
    "mrts_no_route": "IPv4 multicast datagrams with no route to their origin",
    "mrts_wrong_if": "IPv4 multicast datagrams arrived on the wrong interface (RPF)",
    "mrts_cache_cleanups": "IPv4 multicast forwarding cache entries expired",
    "mrts_mfc_full": "(kame) IPv4 multicast forwarding cache entries evicted: mfc_max",
    "mrts_mloopback": "(kame) IPv4 multicast copies looped to our own members on an outgoing link",
    "mrts_boundary": "(kame) IPv4 multicast datagrams stopped at an administrative-scope boundary",
    # multicast forwarding (kame.ip6.mroute; struct mrt6stat)
    "mrt6s_mfc_lookups": "multicast forwarding cache hits",
    "mrt6s_mfc_misses": "multicast forwarding cache misses",
    "mrt6s_no_route": "multicast packets with no route to their origin",
    "mrt6s_wrong_if": "multicast packets arrived on the wrong interface (RPF)",
    "mrt6s_cache_cleanups": "multicast forwarding cache entries expired",
    "mrt6s_mfc_full": "(kame) multicast forwarding cache entries evicted: mfc_max",
    "mrt6s_mloopback": "(kame) multicast copies looped to our own members on an outgoing link",
    # the MLD router side (kame.mld6_router; names after FreeBSD's igps_*/mlds_*)
    "mlds_rcv_gen_queries": "(kame) MLD general queries received",
    "mlds_rcv_group_queries": "(kame) MLD multicast-address-specific queries received",
    "mlds_rcv_gsr_queries": "(kame) MLD multicast-address-and-source-specific queries received",
    "mlds_rcv_reports": "(kame) MLDv2 reports received by the router side",
    "mlds_rcv_v1reports": "(kame) MLDv1 reports received by the router side",
    "mlds_rcv_dones": "(kame) MLDv1 done messages received by the router side",
    "mlds_rcv_oldqueries": "(kame) MLDv1 queries heard by an MLDv2 querier (set net.inet6.mld.version)",
    "mlds_rcv_badrecords": "(kame) MLD records ignored (unknown type, unreportable address)",
    "mlds_snd_gen_queries": "(kame) MLD general queries sent",
    "mlds_snd_group_queries": "(kame) MLD multicast-address-specific queries sent",
    "mlds_snd_gsr_queries": "(kame) MLD multicast-address-and-source-specific queries sent",
    "mlds_querier_lost": "(kame) times a lower address took over as MLD querier",
    "mlds_querier_won": "(kame) times the MLD querier role came back (other querier gone)",
    "mlds_rtr_expired": "(kame) multicast address listening states expired",
    "mlds_rtr_groupfull": "(kame) MLD records dropped: net.inet6.mld.maxgroups",
    "mlds_rtr_srcfull": "(kame) MLD listening states made EXCLUDE({}): net.inet6.mld.maxsrc",
    # the stub resolver (kame.resolv: res_send's diagnostics)
    "rs_queries": "(kame) DNS queries sent (UDP datagrams and TCP queries)",
    "rs_answers": "(kame) DNS replies accepted",
    "rs_badsrc": "(kame) DNS replies not from our server's address and port",
    "rs_badid": "(kame) DNS replies with another query's ID",
    "rs_badquestion": "(kame) DNS replies to another question",
    "rs_notresponse": "(kame) DNS messages without QR set",
    "rs_malformed": "(kame) DNS replies that do not parse",
    "rs_timeouts": "(kame) DNS tries timed out",
    "rs_tcpfallback": "(kame) truncated DNS replies asked again over TCP",
    "rs_spoofflood": "(kame) DNS tries moved to TCP after too many bad replies",
    "rs_servfail": "(kame) SERVFAIL, REFUSED or NOTIMP: next server",
    "rs_noedns": "(kame) FORMERR to EDNS0: asked again without it",
    "rs_cnameloop": "(kame) CNAME chains too long or looping",
    "rs_historic": "(kame) A6 records or binary labels seen (not followed)",
    "rs_resent": "(kame) DNS tries sent again after the sibling query's answer",
    "rs_dns64": "(kame) DNS64 AAAA answers synthesized from A records",
    "rs_dns64ptr": "(kame) DNS64 PTR lookups mapped to in-addr.arpa",
    "rs_cachehit": "(kame) DNS answers from the cache",
    "rs_negcachehit": "(kame) negative DNS answers from the cache",
    # gif(4) (kame.gif), stf(4) (kame.stf), FAITH (kame.faith)
    "gifs_ipackets": "(kame) gif: packets decapsulated",
    "gifs_opackets": "(kame) gif: packets encapsulated",
    "gifs_notunnel": "(kame) gif: output on a gif without a tunnel or down",
    "gifs_looped": "(kame) gif: packets that would enter the same tunnel again",
    "gifs_toodeep": "(kame) gif: packets nested beyond net.link.gif.max_nesting",
    "gifs_noroute": "(kame) gif: no route to the tunnel destination",
    "gifs_oerrors": "(kame) gif: packets that could not be encapsulated",
    "gifs_ierrors": "(kame) gif: malformed tunnelled packets",
    "gifs_ecndrop": "(kame) gif: CE outer over Not-ECT inner (RFC 6040)",
    "gifs_pmtu": "(kame) gif: tunnel MTU lowered by an outer error (RFC 4213 §3.2)",
    "stf_ipackets": "(kame) 6to4: packets decapsulated",
    "stf_opackets": "(kame) 6to4: packets encapsulated",
    "stf_badouter": "(kame) 6to4: outer IPv4 address refused (RFC 3964 §5.3)",
    "stf_badembedded": "(kame) 6to4: refused IPv4 address inside 2002::/16 (RFC 3964 §5.3)",
    "stf_mismatch": "(kame) 6to4: embedded and outer IPv4 addresses differ (RFC 3964 §5.1)",
    "stf_notours": "(kame) 6to4: inner destination outside our 6to4 prefix",
    "stf_norelay": "(kame) 6to4: native IPv6 source without a relay configured",
    "stf_badinner": "(kame) 6to4: IPv4-mapped/compatible or malformed inner packet",
    "stf_noaddr": "(kame) 6to4: output without a 6to4 address or next hop",
    # Mobile IPv6, correspondent node (kame.mip6; KAME's struct mip6stat)
    "mip6s_mobility": "Mobility Headers received",
    "mip6s_omobility": "Mobility Headers sent",
    "mip6s_hoti": "home test init messages received",
    "mip6s_coti": "care-of test init messages received",
    "mip6s_bu": "binding update messages received",
    "mip6s_othertype": "(kame) messages of a type a correspondent does not take (BRR, HoT, CoT, BA, BE)",
    "mip6s_ohot": "home test messages sent",
    "mip6s_ocot": "care-of test messages sent",
    "mip6s_oba": "binding acknowledgement messages sent",
    "mip6s_obe": "binding error messages sent",
    "mip6s_hao": "packets with a home address option received",
    "mip6s_unverifiedhao": "home address options without a binding (binding error status 1)",
    "mip6s_orthdr2": "packets sent with a type 2 routing header (route optimization)",
    "mip6s_tooshort": "(kame) Mobility Headers shorter than their Header Len",
    "mip6s_checksum": "Mobility Headers with a bad checksum",
    "mip6s_payloadproto": "Mobility Headers with a Payload Proto other than 59",
    "mip6s_badlen": "(kame) Mobility Headers shorter than their type's message",
    "mip6s_invalidopt": "Mobility Headers with a malformed option",
    "mip6s_unknowntype": "Mobility Headers of an unknown type (binding error status 2)",
    "mip6s_rrhao": "(kame) test init messages with a home address option",
    "mip6s_badhoa": "(kame) binding updates for a home address that is not unicast routable",
    "mip6s_invalidcoa": "binding updates with an invalid care-of address",
    "mip6s_homereg": "(kame) home registrations refused (status 131)",
    "mip6s_unprotected": "binding updates without nonce indices or authorization data last",
    "mip6s_nonce": "(kame) binding updates with expired nonce indices (status 136-138)",
    "mip6s_rrauthfail": "binding updates with a wrong authenticator",
    "mip6s_seqno": "binding updates with an old sequence number (status 135)",
    "mip6s_bcfull": "(kame) binding updates refused: binding cache full (status 130)",
    "mip6s_bcadd": "(kame) binding cache entries created",
    "mip6s_bcupdate": "(kame) binding cache entries refreshed",
    "mip6s_bcdelete": "(kame) binding cache entries deleted by deregistration",
    "mip6s_bcexpire": "(kame) binding cache entries expired",
    "mip6s_berate": "(kame) binding errors not sent because of rate limitation",
    "faith_accepted": "(kame) FAITH: relayed connections",
    "faith_denied": "(kame) FAITH: connections refused by faithd.conf or RFC 3142 §5",
}


#: ICMPv6 type names as BSD ``netstat -s -p icmp6`` prints its histograms.
ICMP6_TYPE_NAMES: dict[int, str] = {
    1: "unreach", 2: "packet too big", 3: "time exceed", 4: "parameter problem",
    128: "echo", 129: "echo reply", 130: "multicast listener query",
    131: "multicast listener report", 132: "multicast listener done",
    133: "router solicitation", 134: "router advertisement",
    135: "neighbor solicitation", 136: "neighbor advertisement", 137: "redirect",
    143: "MLDv2 listener report",
}


class Stats(Mapping[str, int]):
    """A table of named counters; unknown names are refused (typos are bugs)."""

    __slots__ = ("_c", "outhist")

    def __init__(self) -> None:
        self._c: dict[str, int] = dict.fromkeys(DESCRIPTIONS, 0)
        #: ``icp6s_outhist``: ICMPv6 messages sent, by type ("Output histogram").
        self.outhist: dict[int, int] = {}

    def inc(self, name: str, n: int = 1) -> None:
        # one lookup: the counter's += fails alone on an unknown name
        try:
            self._c[name] += n
        except KeyError:
            raise KeyError(f"unknown counter {name!r}") from None

    def __getitem__(self, name: str) -> int:
        return self._c[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._c)

    def __len__(self) -> int:
        return len(self._c)

    def nonzero(self) -> dict[str, int]:
        return {k: v for k, v in self._c.items() if v}

    def render(self, prefix: str) -> str:
        """``netstat -s`` style lines for the counters starting with ``prefix``
        (with the ICMPv6 "Output histogram" for ``icp6s``)."""
        lines = [f"\t{v} {DESCRIPTIONS[k]}" for k, v in self._c.items() if k.startswith(prefix)]
        if "icp6s".startswith(prefix) and self.outhist:
            lines.append("\tOutput histogram:")
            lines += [f"\t\t{ICMP6_TYPE_NAMES.get(t, f'#{t}')}: {n}"
                      for t, n in sorted(self.outhist.items())]
        return "\n".join(lines)
