"""BSD-style tools that talk to a running node over its control socket
(:mod:`kame.ctl`), printing what KAME's ``ndp``, ``ping6``, ``netstat -s``
and ``ifconfig`` print:

    kame ndp -a | -p | -r | -i IF [[-]flag...] | -c | -d ADDR
                                       neighbor cache, prefixes, routers, ND parameters
    kame ping6 [-c N] [-i WAIT] [-s SIZE] [-I IF] DST
    kame netstat -an [-W] [-f inet|inet6] [-p tcp|udp]
                                       TCP and UDP PCBs, with TCP states
    kame netstat -s [-p tcp|udp|ip|icmp|igmp|arp|ipsec|ip6|icmp6|ipsec6|mip6|nat64]
    kame arp -an | ADDR [-i IF]
    kame mld show [-i IF] [-s]        the MLD querier: listening state per link, counters
    kame igmp show [-i IF] [-s]       the IGMP querier, the same for IPv4
    kame igmp boundary add|delete IF PREFIX   an RFC 2365 boundary (239/8) on IF
    kame ifconfig [-L] [IF]

Every tool takes ``--ctl PATH`` (default: the only socket in /run/kame, or
in ``$KAME_CTL_DIR`` when set; see :func:`find_ctl`). A missing socket, a
stale one (its node has stopped) and a path that is no socket are told
apart in the error.
"""

from __future__ import annotations

import argparse
import glob
import math
import os
import statistics
import sys
import time
from ipaddress import IPv4Address
from typing import Any, TextIO

from kame import ctl
from kame.cli.args import UsageError, float_range, int_range
from kame.ctl import Client, ControlError, request
from kame.stats import DESCRIPTIONS

__all__ = [
    "ICMP6_HIST_NAMES",
    "IP6_NH_NAMES",
    "find_ctl",
    "format_ifconfig",
    "format_mip6",
    "format_ndp_a",
    "format_ndp_i",
    "format_ndp_p",
    "format_ndp_r",
    "format_netstat",
    "sec2str",
]

#: netstat's names for the ICMPv6 histogram (FreeBSD usr.bin/netstat/inet6.c).
ICMP6_HIST_NAMES = {
    1: "unreach", 2: "packet too big", 3: "time exceed", 4: "parameter problem",
    128: "echo", 129: "echo reply", 130: "multicast listener query",
    131: "MLDv1 listener report", 132: "MLDv1 listener done", 133: "router solicitation",
    134: "router advertisement", 135: "neighbor solicitation", 136: "neighbor advertisement",
    137: "redirect", 138: "router renumbering", 139: "node information request",
    140: "node information reply", 141: "inverse neighbor solicitation",
    142: "inverse neighbor advertisement", 143: "MLDv2 listener report",
}

#: netstat's names for the IPv6 next-header histogram.
IP6_NH_NAMES = {
    0: "hop by hop", 1: "ICMP", 2: "IGMP", 4: "IP", 6: "TCP", 17: "UDP", 41: "IP6",
    43: "routing", 44: "fragment", 50: "ESP", 51: "AH", 58: "ICMP6", 59: "no next header",
    60: "destination option", 103: "PIM", 108: "IPComp",
}

PREF = {0: "medium", 1: "high", 3: "low", 2: "reserved"}

#: ``kame ping6`` ranges: the count is a C long in BSD's ping6; the size
#: keeps an echo within the 1280-octet minimum MTU (1280 - 40 - 8).
PING_MAX_COUNT = 2**31 - 1
PING_MAX_WAIT = 3600.0
PING_MAX_SIZE = 1232

# ND6_IFF_* bits as ifconfig prints them in "nd6 options=".
ND6_BITS = [("nud", 0x1, "PERFORMNUD"), ("accept_rtadv", 0x2, "ACCEPT_RTADV"),
            ("prefer_source", 0x4, "PREFER_SOURCE"), ("disabled", 0x8, "IFDISABLED"),
            ("auto_linklocal", 0x20, "AUTO_LINKLOCAL")]

# IFF_* for the first ifconfig line.
IFF = [(0x1, "UP"), (0x2, "BROADCAST"), (0x8, "LOOPBACK"), (0x10, "POINTOPOINT"),
       (0x40, "RUNNING"), (0x800, "SIMPLEX"), (0x8000, "MULTICAST")]


def sec2str(secs: float | None) -> str:
    """ndp's ``sec2str``: ``1d2h3m4s`` without the leading zero parts."""
    if secs is None:
        return "permanent"
    total = max(0, int(secs))
    d, rem = divmod(total, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    out = ""
    if d:
        out += f"{d}d"
    if d or h:
        out += f"{h}h"
    if d or h or m:
        out += f"{m}m"
    return out + f"{s}s"


def find_ctl(path: str | None) -> str:
    """``--ctl`` if given, else the only ``/run/kame/*.sock``
    (:data:`kame.ctl.CTL_DIR`)."""
    if path is not None:
        if not path:
            raise ControlError("--ctl: empty path")
        return path
    socks = sorted(glob.glob(os.path.join(glob.escape(ctl.CTL_DIR), "*.sock")))
    if len(socks) == 1:
        return socks[0]
    if not socks:
        raise ControlError(f"no {ctl.CTL_DIR}/*.sock: start `kame node --tap IF` or give "
                           "--ctl PATH")
    raise ControlError("several nodes run (" + ", ".join(socks) + "): choose one with --ctl")


# --- formatting (pure functions of the structured answers) ------------------------------

def format_ndp_a(rows: list[dict[str, Any]]) -> str:
    """ndp -a's table; the columns widen for long names instead of cutting them."""
    wa = max([36, *(len(r["neighbor"]) for r in rows)])
    wi = max([5, *(len(r["ifname"]) for r in rows)])
    lines = [(f"{'Neighbor':<{wa}} {'Linklayer Address':<17} {'Netif':>{wi}} "
             f"{'Expire':<9} {'S':1} Flags")]
    for r in rows:
        exp = r["expire"]
        if exp is None:
            exps = "permanent"
        elif exp > 0:
            exps = sec2str(exp)
        else:
            exps = "expired"
        ll = r["lladdr"] or "(incomplete)"
        flags = "R" if r["router"] else ""
        lines.append(f"{r['neighbor']:<{wa}} {ll:<17} {r['ifname']:>{wi}} {exps:<9} "
                     f"{r['state']:1} {flags}".rstrip())
    return "\n".join(lines) + "\n"


def format_ndp_p(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    out = []
    for r in rows:
        flags = ("L" if r["onlink"] else "") + ("A" if r["autonomous"] else "") + \
            ("O" if r["onlink"] else "")
        vl = "infinity" if r["vltime"] is None else str(int(r["vltime"]))
        pl = "infinity" if r["pltime"] is None else str(int(max(r["pltime"], 0)))
        exp = "Never" if r["expire"] is None else (
            sec2str(r["expire"]) if r["expire"] >= 0 else "expired")
        lines = [f"{r['prefix']} if={r['ifname']}",
                 f"flags={flags} vltime={vl}, pltime={pl}, expire={exp}, ref=1"]
        advrtrs = r.get("advrtrs") or []
        if advrtrs:  # ndp.c's plist(): the routers of ndpr_advrtrs
            lines.append("  advertised by")
            lines.extend(f"    {a['addr']} ({a['state']})" for a in advrtrs)
        else:
            lines.append("  No advertising router")
        out.append("\n".join(lines))
    return "\n".join(out) + "\n"


def format_ndp_r(rows: list[dict[str, Any]]) -> str:
    out = []
    for r in rows:
        flags = ("M" if r["managed"] else "") + ("O" if r["other"] else "")
        exp = "Never" if r["expire"] is None else sec2str(r["expire"])
        line = (f"{r['neighbor']} if={r['ifname']}, flags={flags}, "
                f"pref={PREF[r['preference'] & 3]}, expire={exp}")
        if r.get("installed"):
            line += " (installed)"
        out.append(line)
    return "\n".join(out) + ("\n" if out else "")


def format_ndp_i(d: dict[str, Any]) -> str:
    def ms(v: float) -> str:
        t = round(v * 1000)
        return f"{t // 1000}s{t % 1000}ms"
    return (f"linkmtu={d['linkmtu']}, maxmtu={d['maxmtu']}, curhlim={d['curhlim']}, "
            f"basereachable={ms(d['basereachable'])}, reachable={int(d['reachable'])}s, "
            f"retrans={ms(d['retrans'])}\nFlags: {' '.join(d['flags'])}\n")


def _bits(value: int, table: list[tuple[int, str]]) -> str:
    return f"{value:x}<" + ",".join(n for b, n in table if value & b) + ">"


def format_ifconfig(rows: list[dict[str, Any]], *, lifetimes: bool = False) -> str:
    out = []
    for r in rows:
        kind = r["type"]
        flags = 0x8000
        if r["up"]:
            flags |= 0x1 | 0x40
        if kind == "ether":
            flags |= 0x2 | 0x800
        elif kind == "loopback":
            flags |= 0x8
        else:
            flags |= 0x10
        out.append(f"{r['ifname']}: flags={_bits(flags, IFF)} metric 0 mtu {r['mtu']}")
        if r["ether"]:
            out.append(f"\tether {r['ether']}")
        for a in r["addrs"]:
            addr = a["addr"] + (f"%{r['ifname']}" if a["scopeid"] else "")
            line = f"\tinet6 {addr} prefixlen {a['prefixlen']}"
            if a["flags"]:
                line += " " + " ".join(a["flags"])
            if a["scopeid"]:
                line += f" scopeid 0x{a['scopeid']:x}"
            if lifetimes and (a["pltime"] is not None or a["vltime"] is not None):
                pl = "infty" if a["pltime"] is None else str(max(0, int(a["pltime"])))
                vl = "infty" if a["vltime"] is None else str(max(0, int(a["vltime"])))
                line += f" pltime {pl} vltime {vl}"
            out.append(line)
        nd = 0
        for name, bit, _ in ND6_BITS:
            if name in r["nd6"]:
                nd |= bit
        out.append(f"\tnd6 options={_bits(nd, [(b, n) for _, b, n in ND6_BITS])}")
    return "\n".join(out) + "\n"


def _counter_lines(values: dict[str, int]) -> list[str]:
    return [f"\t{v} {DESCRIPTIONS.get(k, k)}" for k, v in values.items()]


def format_netstat(stats: dict[str, Any], proto: str) -> str:
    if proto == "mip6":  # the correspondent node's mip6stat (kame.mip6)
        return "\n".join(["mip6:", *_counter_lines(stats.get("mip6", {}))]) + "\n"
    if proto == "ip6":
        lines = ["ip6:", *_counter_lines(stats["ip6"])]
        hist = stats["ip6_inhist"]
        if hist:
            lines.append("\tInput histogram:")
            lines += [f"\t\t{IP6_NH_NAMES.get(int(k), f'#{k}')}: {v}" for k, v in hist.items()]
        return "\n".join(lines) + "\n"
    c = stats["icmp6"]
    lines = ["icmp6:"]
    first = ("icp6s_error", "icp6s_canterror", "icp6s_toofreq")
    lines += _counter_lines({k: c[k] for k in first if k in c})
    if stats["icmp6_outhist"]:
        lines.append("\tOutput histogram:")
        lines += [f"\t\t{ICMP6_HIST_NAMES.get(int(k), f'#{k}')}: {v}"
                  for k, v in stats["icmp6_outhist"].items()]
    mid = ("icp6s_badcode", "icp6s_tooshort", "icp6s_checksum", "icp6s_badlen")
    lines += _counter_lines({k: c[k] for k in mid if k in c})
    if stats["icmp6_inhist"]:
        lines.append("\tInput histogram:")
        lines += [f"\t\t{ICMP6_HIST_NAMES.get(int(k), f'#{k}')}: {v}"
                  for k, v in stats["icmp6_inhist"].items()]
    lines += _counter_lines({k: v for k, v in c.items() if k not in first + mid})
    return "\n".join(lines) + "\n"


# --- netstat -an, netstat -s -p tcp|udp|ip|icmp|arp, arp -an (FreeBSD's output) ----------

def _pcb_text(addr: str | None, port: int, wide: bool) -> str:
    """netstat's ``inetprint``/``inet6print`` with -n: ``addr.port``, ``*``
    for a wildcard address or port; the address cut to 16 characters unless
    -W (39, an IPv6 address's longest numeric form; zones are kept)."""
    a = addr if addr is not None else "*"
    a = a if wide else a[:16]
    return f"{a}.{port if port else '*'}"


def format_netstat_an(rows: list[dict[str, Any]], *, wide: bool = False, all_: bool = True,
                      family: str | None = None, proto: str | None = None) -> str:
    """FreeBSD's ``netstat -an`` table ("Active Internet connections
    (including servers)": Proto Recv-Q Send-Q Local Address Foreign
    Address (state)); without ``all_`` listeners and wildcard-bound sockets
    are left out, as ``netstat -n`` leaves them."""
    w = 45 if wide else 22
    out = []
    for r in rows:
        if proto is not None and r["proto"] != proto:
            continue
        v = r["vflag"]
        if family == "inet" and "4" not in v or family == "inet6" and "6" not in v:
            continue
        if not all_ and (r["state"] == "LISTEN" or r["laddr"] is None):
            continue
        name = f"{r['proto']:<3.3}{v:<2.2}"
        line = (f"{name:<5.5} {r['recvq']:>6} {r['sendq']:>6} "
                f"{_pcb_text(r['laddr'], r['lport'], wide):<{w}.{w}} "
                f"{_pcb_text(r['faddr'], r['fport'], wide):<{w}.{w}} {r['state'] or ''}")
        out.append(line.rstrip())
    if not out:
        return ""
    head = ("Active Internet connections" + (" (including servers)" if all_ else "") + "\n" +
            f"{'Proto':<5} {'Recv-Q':<6} {'Send-Q':<6} {'Local Address':<{w}} "
            f"{'Foreign Address':<{w}} (state)\n")
    return head + "\n".join(out) + "\n"


def _plural(n: int) -> str:
    return "" if n == 1 else "s"


def _stat_lines(c: dict[str, int], table: list[tuple[int, str, tuple[str, ...]]]) -> list[str]:
    """Lines as FreeBSD's ``p``/``p2``/``p2a``/``p3`` macros print them:
    ``{n0}``, ``{n1}`` the counters, ``{s0}``/``{s1}`` their plural s,
    ``{y0}`` y or ies, ``{e0}`` es."""
    out = []
    for indent, text, keys in table:
        vals = [int(c.get(k, 0)) for k in keys]
        kw: dict[str, Any] = {}
        for i, v in enumerate(vals):
            kw[f"n{i}"] = v
            kw[f"s{i}"] = _plural(v)
            kw[f"y{i}"] = "y" if v == 1 else "ies"
            kw[f"e{i}"] = "" if v == 1 else "es"
        out.append("\t" * indent + text.format(**kw))
    return out


def _kame_extras(c: dict[str, int], table: list[tuple[int, str, tuple[str, ...]]]) -> list[str]:
    """Counters of ours that FreeBSD's netstat has no line for, after its lines."""
    known = {k for _, _, keys in table for k in keys}
    return [f"\t{v} {DESCRIPTIONS.get(k, k)}" for k, v in c.items() if k not in known]


#: FreeBSD ``tcp_stats`` (usr.bin/netstat/inet.c), line for line.
TCP_LINES: list[tuple[int, str, tuple[str, ...]]] = [
    (1, "{n0} packet{s0} sent", ("tcps_sndtotal",)),
    (2, "{n0} data packet{s0} ({n1} byte{s1})", ("tcps_sndpack", "tcps_sndbyte")),
    (2, "{n0} data packet{s0} ({n1} byte{s1}) retransmitted",
     ("tcps_sndrexmitpack", "tcps_sndrexmitbyte")),
    (2, "{n0} data packet{s0} unnecessarily retransmitted", ("tcps_sndrexmitbad",)),
    (2, "{n0} resend{s0} initiated by MTU discovery", ("tcps_mturesent",)),
    (2, "{n0} ack-only packet{s0} ({n1} delayed)", ("tcps_sndacks", "tcps_delack")),
    (2, "{n0} URG only packet{s0}", ("tcps_sndurg",)),
    (2, "{n0} window probe packet{s0}", ("tcps_sndprobe",)),
    (2, "{n0} window update packet{s0}", ("tcps_sndwinup",)),
    (2, "{n0} control packet{s0}", ("tcps_sndctrl",)),
    (1, "{n0} packet{s0} received", ("tcps_rcvtotal",)),
    (2, "{n0} ack{s0} (for {n1} byte{s1})", ("tcps_rcvackpack", "tcps_rcvackbyte")),
    (2, "{n0} duplicate ack{s0}", ("tcps_rcvdupack",)),
    (2, "{n0} ack{s0} for unsent data", ("tcps_rcvacktoomuch",)),
    (2, "{n0} packet{s0} ({n1} byte{s1}) received in-sequence",
     ("tcps_rcvpack", "tcps_rcvbyte")),
    (2, "{n0} completely duplicate packet{s0} ({n1} byte{s1})",
     ("tcps_rcvduppack", "tcps_rcvdupbyte")),
    (2, "{n0} old duplicate packet{s0}", ("tcps_pawsdrop",)),
    (2, "{n0} packet{s0} with some dup. data ({n1} byte{s1} duped)",
     ("tcps_rcvpartduppack", "tcps_rcvpartdupbyte")),
    (2, "{n0} out-of-order packet{s0} ({n1} byte{s1})", ("tcps_rcvoopack", "tcps_rcvoobyte")),
    (2, "{n0} packet{s0} ({n1} byte{s1}) of data after window",
     ("tcps_rcvpackafterwin", "tcps_rcvbyteafterwin")),
    (2, "{n0} window probe{s0}", ("tcps_rcvwinprobe",)),
    (2, "{n0} window update packet{s0}", ("tcps_rcvwinupd",)),
    (2, "{n0} packet{s0} received after close", ("tcps_rcvafterclose",)),
    (2, "{n0} discarded for bad checksum{s0}", ("tcps_rcvbadsum",)),
    (2, "{n0} discarded for bad header offset field{s0}", ("tcps_rcvbadoff",)),
    (2, "{n0} discarded because packet too short", ("tcps_rcvshort",)),
    (2, "{n0} discarded due to memory problems", ("tcps_rcvmemdrop",)),
    (1, "{n0} connection request{s0}", ("tcps_connattempt",)),
    (1, "{n0} connection accept{s0}", ("tcps_accepts",)),
    (1, "{n0} bad connection attempt{s0}", ("tcps_badsyn",)),
    (1, "{n0} listen queue overflow{s0}", ("tcps_listendrop",)),
    (1, "{n0} ignored RSTs in the window{s0}", ("tcps_badrst",)),
    (1, "{n0} connection{s0} established (including accepts)", ("tcps_connects",)),
    (1, "{n0} connection{s0} closed (including {n1} drop{s1})", ("tcps_closed", "tcps_drops")),
    (1, "{n0} embryonic connection{s0} dropped", ("tcps_conndrops",)),
    (1, "{n0} segment{s0} updated rtt (of {n1} attempt{s1})",
     ("tcps_rttupdated", "tcps_segstimed")),
    (1, "{n0} retransmit timeout{s0}", ("tcps_rexmttimeo",)),
    (2, "{n0} connection{s0} dropped by rexmit timeout", ("tcps_timeoutdrop",)),
    (1, "{n0} persist timeout{s0}", ("tcps_persisttimeo",)),
    (2, "{n0} connection{s0} dropped by persist timeout", ("tcps_persistdrop",)),
    (1, "{n0} Connection{s0} (fin_wait_2) dropped because of timeout",
     ("tcps_finwait2_drops",)),
    (1, "{n0} keepalive timeout{s0}", ("tcps_keeptimeo",)),
    (2, "{n0} keepalive probe{s0} sent", ("tcps_keepprobe",)),
    (2, "{n0} connection{s0} dropped by keepalive", ("tcps_keepdrops",)),
    (1, "{n0} correct ACK header prediction{s0}", ("tcps_predack",)),
    (1, "{n0} correct data packet header prediction{s0}", ("tcps_preddat",)),
    (1, "{n0} syncache entr{y0} added", ("tcps_sc_added",)),
    (2, "{n0} retransmitted", ("tcps_sc_retransmitted",)),
    (2, "{n0} dupsyn", ("tcps_sc_dupsyn",)),
    (2, "{n0} dropped", ("tcps_sc_dropped",)),
    (2, "{n0} completed", ("tcps_sc_completed",)),
    (2, "{n0} bucket overflow", ("tcps_sc_bucketoverflow",)),
    (2, "{n0} cache overflow", ("tcps_sc_cacheoverflow",)),
    (2, "{n0} reset", ("tcps_sc_reset",)),
    (2, "{n0} stale", ("tcps_sc_stale",)),
    (2, "{n0} aborted", ("tcps_sc_aborted",)),
    (2, "{n0} badack", ("tcps_sc_badack",)),
    (2, "{n0} unreach", ("tcps_sc_unreach",)),
    (2, "{n0} zone failure{s0}", ("tcps_sc_zonefail",)),
    (1, "{n0} cookie{s0} sent", ("tcps_sc_sendcookie",)),
    (1, "{n0} cookie{s0} received", ("tcps_sc_recvcookie",)),
    (1, "{n0} SACK recovery episode{s0}", ("tcps_sack_recovery_episode",)),
    (1, "{n0} segment rexmit{s0} in SACK recovery episodes", ("tcps_sack_rexmits",)),
    (1, "{n0} byte rexmit{s0} in SACK recovery episodes", ("tcps_sack_rexmit_bytes",)),
    (1, "{n0} SACK option{s0} (SACK blocks) received", ("tcps_sack_rcv_blocks",)),
    (1, "{n0} SACK option{s0} (SACK blocks) sent", ("tcps_sack_send_blocks",)),
    (1, "{n0} SACK scoreboard overflow", ("tcps_sack_sboverflow",)),
    (1, "{n0} packet{s0} with ECN CE bit set", ("tcps_ecn_ce",)),
    (1, "{n0} packet{s0} with ECN ECT(0) bit set", ("tcps_ecn_ect0",)),
    (1, "{n0} packet{s0} with ECN ECT(1) bit set", ("tcps_ecn_ect1",)),
    (1, "{n0} successful ECN handshake{s0}", ("tcps_ecn_shs",)),
    (1, "{n0} time{s0} ECN reduced the congestion window", ("tcps_ecn_rcwnd",)),
]

UDP_LINES: list[tuple[int, str, tuple[str, ...]]] = [
    (1, "{n0} datagram{s0} received", ("udps_ipackets",)),
    (1, "{n0} with incomplete header", ("udps_hdrops",)),
    (1, "{n0} with bad data length field", ("udps_badlen",)),
    (1, "{n0} with bad checksum", ("udps_badsum",)),
    (1, "{n0} with no checksum", ("udps_nosum",)),
    (1, "{n0} dropped due to no socket", ("udps_noport",)),
    (1, "{n0} broadcast/multicast datagram{s0} undelivered", ("udps_noportbcast",)),
    (1, "{n0} dropped due to full socket buffers", ("udps_fullsock",)),
    (1, "{n0} not for hashed pcb", ("udpps_pcbhashmiss",)),
    (1, "{n0} delivered", ("udps_delivered",)),
    (1, "{n0} datagram{s0} output", ("udps_opackets",)),
    (1, "{n0} time{s0} multicast source filter matched", ("udps_filtermcast",)),
]

IP_LINES: list[tuple[int, str, tuple[str, ...]]] = [
    (1, "{n0} total packet{s0} received", ("ips_total",)),
    (1, "{n0} bad header checksum{s0}", ("ips_badsum",)),
    (1, "{n0} with size smaller than minimum", ("ips_toosmall",)),
    (1, "{n0} with data size < data length", ("ips_tooshort",)),
    (1, "{n0} with ip length > max ip packet size", ("ips_toolong",)),
    (1, "{n0} with header length < data size", ("ips_badhlen",)),
    (1, "{n0} with data length < header length", ("ips_badlen",)),
    (1, "{n0} with bad options", ("ips_badoptions",)),
    (1, "{n0} with incorrect version number", ("ips_badvers",)),
    (1, "{n0} fragment{s0} received", ("ips_fragments",)),
    (1, "{n0} fragment{s0} dropped (dup or out of space)", ("ips_fragdropped",)),
    (1, "{n0} fragment{s0} dropped after timeout", ("ips_fragtimeout",)),
    (1, "{n0} packet{s0} reassembled ok", ("ips_reassembled",)),
    (1, "{n0} packet{s0} for this host", ("ips_delivered",)),
    (1, "{n0} packet{s0} for unknown/unsupported protocol", ("ips_noproto",)),
    (1, "{n0} packet{s0} forwarded ({n1} packet{s1} fast forwarded)",
     ("ips_forward", "ips_fastforward")),
    (1, "{n0} packet{s0} not forwardable", ("ips_cantforward",)),
    (1, "{n0} packet{s0} received for unknown multicast group", ("ips_notmember",)),
    (1, "{n0} redirect{s0} sent", ("ips_redirectsent",)),
    (1, "{n0} packet{s0} sent from this host", ("ips_localout",)),
    (1, "{n0} packet{s0} sent with fabricated ip header", ("ips_rawout",)),
    (1, "{n0} output packet{s0} dropped due to no bufs, etc.", ("ips_odropped",)),
    (1, "{n0} output packet{s0} discarded due to no route", ("ips_noroute",)),
    (1, "{n0} output datagram{s0} fragmented", ("ips_fragmented",)),
    (1, "{n0} fragment{s0} created", ("ips_ofragments",)),
    (1, "{n0} datagram{s0} that can't be fragmented", ("ips_cantfrag",)),
    (1, "{n0} tunneling packet{s0} that can't find gif", ("ips_nogif",)),
    (1, "{n0} datagram{s0} with bad address in header", ("ips_badaddr",)),
]

ICMP_LINES_1: list[tuple[int, str, tuple[str, ...]]] = [
    (1, "{n0} call{s0} to icmp_error", ("icps_error",)),
    (1, "{n0} error{s0} not generated in response to an icmp message", ("icps_oldicmp",)),
]
ICMP_LINES_2: list[tuple[int, str, tuple[str, ...]]] = [
    (1, "{n0} message{s0} with bad code fields", ("icps_badcode",)),
    (1, "{n0} message{s0} less than the minimum length", ("icps_tooshort",)),
    (1, "{n0} message{s0} with bad checksum", ("icps_checksum",)),
    (1, "{n0} message{s0} with bad length", ("icps_badlen",)),
    (1, "{n0} multicast echo requests ignored", ("icps_bmcastecho",)),
    (1, "{n0} multicast timestamp requests ignored", ("icps_bmcasttstamp",)),
]
ICMP_LINES_3: list[tuple[int, str, tuple[str, ...]]] = [
    (1, "{n0} message response{s0} generated", ("icps_reflect",)),
    (1, "{n0} invalid return address{e0}", ("icps_badaddr",)),
    (1, "{n0} no return route{s0}", ("icps_noroute",)),
]

ARP_LINES: list[tuple[int, str, tuple[str, ...]]] = [
    (1, "{n0} ARP request{s0} sent", ("arps_txrequests",)),
    (1, "{n0} ARP repl{y0} sent", ("arps_txreplies",)),
    (1, "{n0} ARP request{s0} received", ("arps_rxrequests",)),
    (1, "{n0} ARP repl{y0} received", ("arps_rxreplies",)),
    (1, "{n0} ARP packet{s0} received", ("arps_received",)),
    (1, "{n0} total packet{s0} dropped due to no ARP entry", ("arps_dropped",)),
    (1, "{n0} ARP entry{s0} timed out", ("arps_timeouts",)),
    (1, "{n0} Duplicate IP{s0} seen", ("arps_dupips",)),
]

#: FreeBSD ``igmp_stats`` (usr.bin/netstat/inet.c, IGMPv3), line for line.
IGMP_LINES: list[tuple[int, str, tuple[str, ...]]] = [
    (1, "{n0} message{s0} received", ("igps_rcv_total",)),
    (1, "{n0} message{s0} received with too few bytes", ("igps_rcv_tooshort",)),
    (1, "{n0} message{s0} received with wrong TTL", ("igps_rcv_badttl",)),
    (1, "{n0} message{s0} received with bad checksum", ("igps_rcv_badsum",)),
    (1, "{n0} V1/V2 membership quer{y0} received", ("igps_rcv_v1v2_queries",)),
    (1, "{n0} V3 membership quer{y0} received", ("igps_rcv_v3_queries",)),
    (1, "{n0} membership quer{y0} received with invalid field(s)", ("igps_rcv_badqueries",)),
    (1, "{n0} general quer{y0} received", ("igps_rcv_gen_queries",)),
    (1, "{n0} group quer{y0} received", ("igps_rcv_group_queries",)),
    (1, "{n0} group-source quer{y0} received", ("igps_rcv_gsr_queries",)),
    (1, "{n0} group-source quer{y0} dropped", ("igps_drop_gsr_queries",)),
    (1, "{n0} membership report{s0} received", ("igps_rcv_reports",)),
    (1, "{n0} membership report{s0} received with invalid field(s)", ("igps_rcv_badreports",)),
    (1, "{n0} membership report{s0} received for groups to which we belong",
     ("igps_rcv_ourreports",)),
    (1, "{n0} V3 report{s0} received without Router Alert", ("igps_rcv_nora",)),
    (1, "{n0} membership report{s0} sent", ("igps_snd_reports",)),
]

#: netstat's ``icmpnames[]`` (ICMPv4 types).
ICMP_NAMES = {0: "echo reply", 3: "destination unreachable", 4: "source quench",
              5: "routing redirect", 8: "echo", 9: "router advertisement",
              10: "router solicitation", 11: "time exceeded", 12: "parameter problem",
              13: "time stamp", 14: "time stamp reply", 15: "information request",
              16: "information request reply", 17: "address mask request",
              18: "address mask reply", 30: "icmp traceroute", 31: "datagram conversion error",
              32: "mobile host redirect", 33: "IPv6 where-are-you", 34: "IPv6 i-am-here",
              35: "mobile registration req", 36: "mobile registration reply",
              37: "domain name request", 38: "domain name reply", 39: "icmp SKIP",
              40: "icmp photuris"}

#: ``tcpstates[]`` in tcp_fsm.h order.
TCP_STATE_NAMES = ("CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT",
                   "FIN_WAIT_1", "CLOSING", "LAST_ACK", "FIN_WAIT_2", "TIME_WAIT")


def _hist(h: dict[str, int]) -> list[str]:
    out = []
    for k, v in sorted(h.items(), key=lambda kv: int(kv[0])):
        name = ICMP_NAMES.get(int(k))
        out.append(f"\t\t{name}: {v}" if name else f"\t\tunknown ICMP #{k}: {v}")
    return out


def format_netstat4(st: dict[str, Any], proto: str) -> str:
    """``netstat -s -p tcp|udp|ip|icmp|igmp|arp|ipsec`` as FreeBSD prints it (every
    counter, zeros too, as with one -s), our additions after its lines."""
    if proto == "tcp":
        c = st["tcp"]
        lines = ["tcp:", *_stat_lines(c, TCP_LINES), *_kame_extras(c, TCP_LINES),
                 "TCP connection count by state:"]
        for name in TCP_STATE_NAMES:
            n = int(st["tcp_states"].get(name, 0))
            lines.append(f"\t{n} connection{'' if n == 1 else 's'} in {name} state")
    elif proto == "udp":
        c = dict(st["udp"])
        c["udps_noportbcast"] = c.get("udps_noportbcast", 0) + c.pop("udps_noportmcast", 0)
        c["udps_delivered"] = max(0, c.get("udps_ipackets", 0) - sum(
            c.get(k, 0) for k in ("udps_hdrops", "udps_badlen", "udps_badsum", "udps_noport",
                                  "udps_noportbcast", "udps_fullsock")))
        lines = ["udp:", *_stat_lines(c, UDP_LINES), *_kame_extras(c, UDP_LINES)]
    elif proto == "ip":
        c = st["ip"]
        lines = ["ip:", *_stat_lines(c, IP_LINES), *_kame_extras(c, IP_LINES)]
    elif proto == "icmp":
        c = st["icmp"]
        lines = ["icmp:", *_stat_lines(c, ICMP_LINES_1)]
        if st["icmp_outhist"]:
            lines += ["\tOutput histogram:", *_hist(st["icmp_outhist"])]
        lines += _stat_lines(c, ICMP_LINES_2)
        if st["icmp_inhist"]:
            lines += ["\tInput histogram:", *_hist(st["icmp_inhist"])]
        lines += _stat_lines(c, ICMP_LINES_3)
        lines += _kame_extras(c, ICMP_LINES_1 + ICMP_LINES_2 + ICMP_LINES_3)
    elif proto == "igmp":
        c = st.get("igmp", {})
        lines = ["igmp:", *_stat_lines(c, IGMP_LINES), *_kame_extras(c, IGMP_LINES)]
    elif proto == "ipsec":  # struct ipsecstat for IPv4 (kame.inet.ipsec4)
        from kame.key.ipsec6 import IPSEC6_STATS

        c = st.get("ipsec", {})
        lines = ["ipsec:", *(f"\t{int(c.get(k, 0))} {d}" for k, d in IPSEC6_STATS.items())]
    else:
        c = st["arp"]
        lines = ["arp:", *_stat_lines(c, ARP_LINES), *_kame_extras(c, ARP_LINES)]
    return "\n".join(lines) + "\n"


def format_arp(rows: list[dict[str, Any]], now_note: bool = False) -> str:
    """FreeBSD ``arp -an``: ``? (10.0.0.1) at 02:00:00:00:00:01 on tap0
    expires in 1199 seconds [ethernet]``."""
    out = []
    rows = sorted(rows, key=lambda r: (r["ifname"], tuple(int(x) for x in r["addr"].split("."))))
    for r in rows:
        ll = r["lladdr"] or "(incomplete)"
        if r["permanent"]:
            when = " permanent"
        elif r["lladdr"] and r["expire"] is not None and int(r["expire"]) > 0:
            when = f" expires in {int(r['expire'])} seconds"
        else:
            when = " expired"
        out.append(f"? ({r['addr']}) at {ll} on {r['ifname']}{when} [ethernet]")
    return "\n".join(out) + ("\n" if out else "")


def format_mld(d: dict[str, Any], ifname: str | None = None, stats: bool = False,
               proto: str = "mld") -> str:
    """The MLD querier's state per link (:mod:`kame.mld6_router`), in the
    spirit of ``ifmcstat`` and ``mrouted``'s dumps: the querier, then each
    address with its filter mode, Filter Timer and compatibility mode, its
    sources with their timers (a source without one is EXCLUDE's
    "Excluded" list: not forwarded); then, on a router that forwarded
    multicast by that state, the interface table and the forwarding cache
    as ``netstat -g`` prints them; ``stats``: the mlds_* and mrt6s_*
    counters. ``proto`` "igmp": the IGMP querier's (:mod:`kame.inet.igmp_router`),
    with the igps_rtr_* and mrts_* counters."""
    v4 = proto == "igmp"
    fam, cpfx, mpfx = ("IPv4", "igps_rtr_", "mrts_") if v4 else ("IPv6", "mlds_", "mrt6s_")
    out = []
    for ln in d["links"]:
        if ifname is not None and ln["ifname"] != ifname:
            continue
        if ln["is_querier"]:
            who = f"querier {ln['querier']} (this router), next query in " \
                  f"{sec2str(ln['next_query'])}"
        else:
            who = f"querier {ln['querier']}, other querier present " \
                  f"{sec2str(ln['other_querier_timer'])}"
        out.append(f"{ln['ifname']}: {who}")
        oq = ln.get("older_querier")
        if oq:  # RFC 3810 §8.3.1, RFC 3376 §7.3.1: lower the version knob by hand
            knob = "net.inet.igmp.version" if v4 else "net.inet6.mld.version"
            out.append(f"\tolder querier {oq['addr']} ({'IGMP' if v4 else 'MLD'}v{oq['version']}, "
                       f"{oq['queries']} quer{'y' if oq['queries'] == 1 else 'ies'}): "
                       f"set {knob} to {oq['version']}")
        for b in (d.get("mroute") or {}).get("boundaries", {}).get(ln["ifname"], ()):
            out.append(f"\tboundary {b}")  # RFC 2365: not forwarded in or out
        for g in ln["groups"]:
            t = f" timer {sec2str(g['timer'])}" if g["timer"] is not None else ""
            out.append(f"\tgroup {g['group']} mode {g['mode']}{t} {g['compat']}")
            for s in g["sources"]:
                st = f"timer {sec2str(s['timer'])}" if s["timer"] is not None else "blocked"
                out.append(f"\t\tsource {s['addr']} {st}")
    mr = d.get("mroute") or {}
    shown = {ln["ifname"] for ln in d["links"]}
    for ifn, nets in sorted(mr.get("boundaries", {}).items()):
        if ifn not in shown and (ifname is None or ifn == ifname):  # no querier there
            out += [f"{ifn}: boundary {b}" for b in nets]
    if mr.get("mifs") or mr.get("mfc"):  # forwarding by that state (kame.ip6.mroute)
        out.append(f"{fam} Multicast Interface Table")  # as netstat -g prints it
        out.append(f" {'PhyIF':<10} {'Pkts-In':>10} {'Pkts-Out':>10}")
        for m in mr["mifs"]:
            out.append(f" {m['ifname']:<10} {m['pkt_in']:>10} {m['pkt_out']:>10}")
        out.append(f"{fam} Multicast Forwarding Cache")
        out.append(f" {'Origin':<24} {'Group':<24} {'Packets':>8} {'In-If':<10} Out-Ifs")
        for e in mr["mfc"]:
            parent = e["parent"] if e["parent"] is not None else "(no route)"
            out.append(f" {e['origin']:<24} {e['group']:<24} {e['packets']:>8} {parent:<10} "
                       + " ".join(e["oifs"]))
    if stats:
        out.append(f"{proto} (router side):")
        out += [f"\t{v} {DESCRIPTIONS.get(k, k).removeprefix('(kame) ')}"
                for k, v in d["stats"].items() if v and k.startswith(cpfx)]
        mrs = [(k, v) for k, v in d["stats"].items() if v and k.startswith(mpfx)]
        if mrs:
            out.append(f"{fam} multicast forwarding:")
            out += [f"\t{v} {DESCRIPTIONS.get(k, k).removeprefix('(kame) ')}" for k, v in mrs]
    return "\n".join(out) + ("\n" if out else "")


# --- commands -----------------------------------------------------------------------

def _ndp(args: argparse.Namespace) -> int:
    if args.i is not None:  # -i IF [[-]flag ...] (the rest of the line, as ndp(8))
        rest = list(args.i)
        if "--ctl" in rest:
            k = rest.index("--ctl")
            if k + 1 >= len(rest):
                raise ControlError("--ctl needs a PATH")
            args.ctl = rest[k + 1]
            del rest[k:k + 2]
        if not rest:
            raise ControlError("-i needs an interface")
        ifname, flags = rest[0], rest[1:]
        path = find_ctl(args.ctl)
        if flags:
            sets = {f.lstrip("-"): not f.startswith("-") for f in flags}
            sys.stdout.write(format_ndp_i(request(path, "ndp_i_set", ifname=ifname, flags=sets)))
        else:
            sys.stdout.write(format_ndp_i(request(path, "ndp_i", ifname=ifname)))
        return 0
    path = find_ctl(args.ctl)
    if args.c:
        for name in request(path, "ndp_c"):
            sys.stdout.write(f"{name} ({name}) deleted\n")
    elif args.d:
        name = request(path, "ndp_d", addr=args.d)
        sys.stdout.write(f"{name} ({name}) deleted\n")
    elif args.p:
        sys.stdout.write(format_ndp_p(request(path, "ndp_p")))
    elif args.r:
        sys.stdout.write(format_ndp_r(request(path, "ndp_r")))
    else:
        sys.stdout.write(format_ndp_a(request(path, "ndp_a")))
    return 0


NETSTAT4 = ("tcp", "udp", "ip", "icmp", "igmp", "arp", "ipsec")


def _netstat(args: argparse.Namespace) -> int:
    if not args.s:
        if args.p not in (None, "tcp", "udp"):
            raise UsageError(f"-p {args.p} goes with -s (the table shows tcp and udp)")
        rows = request(find_ctl(args.ctl), "pcblist")
        sys.stdout.write(format_netstat_an(rows, wide=args.W, all_=args.a, family=args.f,
                                           proto=args.p))
        return 0
    if args.a or args.W or args.f:
        raise UsageError("-a, -W and -f go with the table (netstat -an), not with -s")
    if args.p in NETSTAT4:
        st4 = request(find_ctl(args.ctl), "stats4")
        sys.stdout.write(format_netstat4(st4, args.p))
        return 0
    if args.p is None:
        st4 = request(find_ctl(args.ctl), "stats4")
        sys.stdout.write("".join(format_netstat4(st4, p) for p in NETSTAT4
                                 if p != "ipsec"))  # as ipsec6: with -p only
    if args.p == "nat64":  # a `kame nat64` node's translator and tables (kame.nat64)
        from kame.cli.nat64 import format_nat64_stats

        sys.stdout.write(format_nat64_stats(request(find_ctl(args.ctl), "nat64_stats")))
        return 0
    if args.p == "ipsec6":  # the node's ipsec6stat (kame.key.ipsec6)
        from kame.key.ipsec6 import IPSEC6_STATS

        c = request(find_ctl(args.ctl), "ipsec6_stats")
        sys.stdout.write("ipsec6:\n" + "".join(f"\t{c.get(k, 0)} {d}\n"
                                                for k, d in IPSEC6_STATS.items()))
        return 0
    stats = request(find_ctl(args.ctl), "stats")
    protos = [args.p] if args.p else ["ip6", "icmp6"]
    sys.stdout.write("".join(format_netstat(stats, p) for p in protos))
    return 0


def format_mip6(snap: dict[str, Any], cache: bool = True, bul: bool = True) -> str:
    """``kame mip6``: the roles, the binding cache and the binding update
    list, one entry a line (as SHISA's ``mipctl`` shows them)."""
    lines = [f"roles: {' '.join(snap['roles']) or 'none'}"]
    mn = snap.get("mn")
    if mn is not None:
        where = f"away, care-of {mn['coa']}" if mn["away"] else "at home"
        lines.append(f"mobile node: home {mn['home']} ({mn['prefix']}), home agent {mn['ha']}, "
                     f"{where}")
    if snap.get("halist"):
        lines.append("home agents list:")
        for h in snap["halist"]:
            left = "-" if h["expire"] is None else f"{max(0, int(h['expire']))}s"
            lines.append(f"  {h['ifname']} {h['lladdr']} ({' '.join(h['addrs'])}) preference "
                         f"{h['preference']} left {left}")
    if cache:
        lines.append("binding cache:")
        for b in snap["bc"]:
            kind = f"home registration via {b['ha']}" if b["home_reg"] else "correspondent"
            left = "-" if b["expire"] is None else f"{max(0, int(b['expire']))}s"
            lines.append(f"  {b['home']} -> {b['coa']} seq {b['seq']} lifetime "
                         f"{b['lifetime']}s left {left} ({kind})")
    if bul and mn is not None:
        lines.append("binding update list:")
        for e in snap["bul"]:
            kind = "home agent" if e["home_reg"] else "correspondent"
            left = "" if e["expire"] is None else f" left {max(0, int(e['expire']))}s"
            lines.append(f"  {e['peer']} ({kind}) {e['state']} seq {e['seq']} care-of "
                         f"{e['coa']}{left}")
    return "\n".join(lines) + "\n"


def _mip6(args: argparse.Namespace) -> int:
    snap = request(find_ctl(args.ctl), "mip6")
    both = not args.c and not args.u
    sys.stdout.write(format_mip6(snap, cache=both or args.c, bul=both or args.u))
    return 0


def _arp(args: argparse.Namespace) -> int:
    if args.a == (args.hostname is not None):
        raise UsageError("give -a (all entries) or one address")
    rows = request(find_ctl(args.ctl), "arp")
    if args.i is not None:
        rows = [r for r in rows if r["ifname"] == args.i]
    if args.hostname is not None:
        try:
            want = str(IPv4Address(args.hostname))
        except ValueError:
            raise UsageError(f"{args.hostname}: not an IPv4 address (kame arp does not resolve "
                             "names)") from None
        rows = [r for r in rows if r["addr"] == want]
        if not rows:
            sys.stdout.write(f"{want} ({want}) -- no entry\n")
            return 1
    sys.stdout.write(format_arp(rows))
    return 0


def _mld(args: argparse.Namespace) -> int:
    if args.what == "boundary":  # kame igmp boundary add|delete IF PREFIX
        rest = list(args.args)
        if len(rest) != 3 or rest[0] not in ("add", "delete"):
            raise UsageError("boundary add|delete IF PREFIX (a prefix inside 239.0.0.0/8)")
        bounds = request(find_ctl(args.ctl), "igmp_boundary", ifname=rest[1], prefix=rest[2],
                         delete=rest[0] == "delete")
        for ifn, nets in sorted(bounds.items()):
            sys.stdout.write(f"{ifn}: boundary {' '.join(nets)}\n")
        return 0
    if args.args:
        raise UsageError(f"show takes no arguments: {' '.join(args.args)}")
    d = request(find_ctl(args.ctl), args.proto)
    sys.stdout.write(format_mld(d, args.i, args.s, args.proto))
    return 0


def ping6(path: str, dst: str, *, count: int, wait: float, size: int, ifname: str | None,
          out: TextIO, deadline_wait: float = 2.0) -> int:
    """KAME ping6's output and exit status (0: replies heard, 2: none)."""
    ident = os.getpid() & 0xFFFF
    sent = 0
    rtts: list[float] = []
    seen: set[int] = set()
    dups = 0
    sent_at: dict[int, float] = {}
    shown = dst
    with Client(path) as c:
        try:
            for seq in range(count):
                r = c.call("ping", dst=dst, ifname=ifname, ident=ident, seq=seq, size=size)
                if seq == 0:
                    shown = r["dst"]
                    out.write(f"PING6({40 + 8 + size}=40+8+{size} bytes) "
                              f"{r['src'] or '::'} --> {shown}\n")
                sent += 1
                sent_at[seq] = r["sent"]
                end = time.monotonic() + (wait if seq + 1 < count else deadline_wait)
                while (left := end - time.monotonic()) > 0:
                    ev = c.wait_event(left)
                    if ev is None:
                        continue
                    if ev.get("event") != "echo_reply" or ev.get("ident") != ident:
                        continue
                    s = int(ev["seq"])
                    if s not in sent_at:
                        continue
                    rtt = (float(ev["time"]) - sent_at[s]) * 1000.0
                    dup = s in seen
                    if dup:
                        dups += 1
                    else:
                        seen.add(s)
                        rtts.append(rtt)
                    hl = f" hlim={ev['hlim']}" if ev.get("hlim") is not None else ""
                    out.write(f"{ev['len']} bytes from {ev['src']}, icmp_seq={s}{hl} "
                              f"time={rtt:.3f} ms{' (DUP!)' if dup else ''}\n")
                    out.flush()
                    if seq + 1 == count and len(seen) == count:
                        break
        except KeyboardInterrupt:
            pass
    out.write(f"\n--- {shown} ping6 statistics ---\n")
    got = len(seen)
    line = f"{sent} packets transmitted, {got} packets received, "
    if dups:
        line += f"+{dups} duplicates, "
    loss = 100.0 * (sent - got) / sent if sent else 0.0
    out.write(line + f"{loss:.1f}% packet loss\n")
    if rtts:
        sd = statistics.pstdev(rtts) if len(rtts) > 1 else 0.0
        out.write(f"round-trip min/avg/max/std-dev = {min(rtts):.3f}/"
                  f"{sum(rtts) / len(rtts):.3f}/{max(rtts):.3f}/{sd:.3f} ms\n")
    return 0 if got else 2


def _ping6(args: argparse.Namespace) -> int:
    if args.count is not None and args.count <= 0:
        raise ControlError("invalid count")
    count = args.count if args.count is not None else 2**31
    if not (args.wait > 0 and math.isfinite(args.wait)):
        raise ControlError("invalid wait")
    return ping6(find_ctl(args.ctl), args.destination, count=count, wait=args.wait,
                 size=args.packetsize, ifname=args.I, out=sys.stdout)


def _ctl_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ctl", metavar="PATH",
                   help="the node's control socket (default: the only /run/kame/*.sock)")


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("ndp", help="neighbor cache, prefixes, routers (like ndp(8))")
    g = p.add_mutually_exclusive_group()
    g.add_argument("-a", action="store_true", help="the neighbor cache (default)")
    g.add_argument("-p", action="store_true", help="the prefix list")
    g.add_argument("-r", action="store_true", help="the default router list")
    g.add_argument("-i", nargs=argparse.REMAINDER, metavar="IF [[-]FLAG ...]",
                   help="ND parameters of an interface; set flags: nud, accept_rtadv, "
                        "disabled, prefer_source, auto_linklocal (a leading - clears)")
    g.add_argument("-c", action="store_true", help="flush the neighbor cache")
    g.add_argument("-d", metavar="ADDR", help="delete a neighbor entry (fe80::1%%tap0)")
    _ctl_arg(p)
    p.set_defaults(func=_ndp)

    p = sub.add_parser("ping6", help="send ICMPv6 echo requests from the node (like ping6(8))")
    p.add_argument("-c", dest="count", type=int_range(1, PING_MAX_COUNT, "count"),
                   help=f"stop after COUNT requests (1..{PING_MAX_COUNT})")
    p.add_argument("-i", dest="wait", type=float_range(0.0, PING_MAX_WAIT, "seconds",
                                                       lo_open=True),
                   default=1.0, help=f"seconds between requests (up to {PING_MAX_WAIT:g}; 1)")
    p.add_argument("-s", dest="packetsize", type=int_range(0, PING_MAX_SIZE, "octets"),
                   default=56, help=f"data bytes (0..{PING_MAX_SIZE}, so that no fragment is "
                                    "needed on a 1280-octet link; 56)")
    p.add_argument("-I", metavar="IF", help="outgoing interface")
    p.add_argument("destination", help="address, e.g. 2001:db8::1 or fe80::1%%tap0")
    _ctl_arg(p)
    p.set_defaults(func=_ping6)

    p = sub.add_parser("netstat", help="the node's connections (netstat -an) and counters "
                                        "(netstat -s -p PROTO), like FreeBSD's netstat")
    p.add_argument("-s", action="store_true", help="statistics (every protocol without -p)")
    p.add_argument("-p", choices=["tcp", "udp", "ip", "icmp", "igmp", "arp", "ipsec", "ip6",
                                  "icmp6", "ipsec6", "mip6", "nat64"],
                   help="protocol")
    p.add_argument("-a", action="store_true",
                   help="with the table: listeners and wildcard-bound sockets too")
    p.add_argument("-n", action="store_true",
                   help="numeric addresses and ports (always: kame resolves no names)")
    p.add_argument("-W", action="store_true", help="wide: addresses not cut to 16 characters")
    p.add_argument("-f", choices=["inet", "inet6"], help="address family of the table")
    _ctl_arg(p)
    p.set_defaults(func=_netstat)

    p = sub.add_parser("mip6", help="Mobile IPv6: roles, binding cache, binding update list "
                                     "(counters: netstat -s -p mip6)")
    p.add_argument("-c", action="store_true", help="the binding cache only")
    p.add_argument("-u", action="store_true", help="the binding update list only")
    _ctl_arg(p)
    p.set_defaults(func=_mip6)

    p = sub.add_parser("arp", help="the node's ARP cache (like FreeBSD's arp -an)")
    p.add_argument("-a", action="store_true", help="every entry")
    p.add_argument("-n", action="store_true", help="numeric (always: no names are resolved)")
    p.add_argument("-i", metavar="IF", help="only entries of this interface")
    p.add_argument("hostname", nargs="?", metavar="ADDR", help="one entry (an IPv4 address)")
    _ctl_arg(p)
    p.set_defaults(func=_arp)

    p = sub.add_parser("mld", help="the node's MLD querier (RFC 3810 router side): listening "
                                    "state per link, querier, counters")
    p.add_argument("what", choices=["show"], help="show the state")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    p.add_argument("-i", metavar="IF", help="only this interface")
    p.add_argument("-s", action="store_true", help="the mlds_* counters too")
    _ctl_arg(p)
    p.set_defaults(func=_mld, proto="mld")

    p = sub.add_parser("igmp", help="the node's IGMP querier (RFC 3376 router side): "
                                     "listening state per link, querier, counters")
    p.add_argument("what", choices=["show", "boundary"],
                   help="show the state; boundary add|delete IF PREFIX: an RFC 2365 "
                        "administrative-scope boundary (inside 239.0.0.0/8) on IF")
    p.add_argument("args", nargs="*", metavar="ARG", help="boundary: add|delete IF PREFIX")
    p.add_argument("-i", metavar="IF", help="only this interface")
    p.add_argument("-s", action="store_true", help="the igps_rtr_* and mrts_* counters too")
    _ctl_arg(p)
    p.set_defaults(func=_mld, proto="igmp")

    from kame.cli import ifconfig

    ifconfig.add_parsers(sub)  # ifconfig and gifconfig (gif and stf interfaces too)
