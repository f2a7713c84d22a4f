"""``mip6_cncore.c``: Mobile IPv6 correspondent node (seed §6.1, RFC 6275
§9), on while ``net.inet6.mip6.correspondent`` is 1 (the default, as KAME's
"default installation recognizes home address option").

- Mobility Header input (§9.2) through ``kame._core.mh_parse``: checksum,
  type, Payload Proto and Header Len checked in that order; the faults
  that call for it answered with a Parameter Problem, an unknown type with
  a Binding Error status 2 (§9.3.3).
- Return Routability (§5.2, §9.4): a secret ``Kcn`` and a table of nonces,
  a fresh one every ``net.inet6.mip6.nonce_interval`` seconds, each kept
  ``MAX_NONCE_LIFETIME`` (240 s); a Home Test Init gets a Home Test, a
  Care-of Test Init a Care-of Test, with keygen tokens
  First(64, HMAC_SHA1(Kcn, address | nonce | 0 or 1)). Nothing about the
  mobile node is kept: a flood of test inits grows no state (§5.2.8).
- Binding Update processing (§9.5.1): Nonce Indices and Binding
  Authorization Data (last) required; expired nonce indices answered with
  status 136/137/138; Kbm = SHA1(home token | care-of token) (home token
  alone when the care-of address is the home address); the authenticator
  checked in constant time; sequence numbers compared modulo 2**16
  (status 135 with the last accepted one); lifetime capped at
  ``net.inet6.mip6.rr_lifetime_max``; deregistration deletes the entry;
  a Binding Acknowledgement signed with Kbm (§9.5.4), sent to the source
  of the Binding Update with a type 2 routing header naming the home
  address when that source is not the home address.
- Home Address option (§9.3.1): accepted only with a binding whose care-of
  address is the packet's source (or on a Binding Update); the source and
  the option are then swapped in the packet (KAME's ``dest6_swap_hao``) so
  that every upper layer, its checksum too, sees the home address. Without
  one: Binding Error status 1 to the source, rate limited
  (``net.inet6.mip6.be_ppslimit``).
- Route optimization (§9.3.2): our packets to a home address with a
  binding leave for the care-of address with a type 2 routing header
  carrying the home address (:meth:`Mip6Cn.ro_output`).

Status 139 (registration type change disallowed) answers a Binding Update
without the H flag for a home address this node is the home agent of.
The home agent and mobile node roles (seed §6.2) are
:mod:`kame.mip6.homeagent` and :mod:`kame.mip6.mobilenode`; this module
hands them their messages (:meth:`Mip6Cn.output`,
:meth:`Mip6Cn.tunnel_input`, :meth:`Mip6Cn.icmp6_input`).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from ipaddress import IPv6Address
from typing import TYPE_CHECKING, Any

from kame import _core
from kame.errors import KameError, TruncatedError
from kame.icmp6 import ICMP6_PARAM_PROB
from kame.mip6.bcache import BindingCache

if TYPE_CHECKING:
    from kame.mip6.homeagent import HomeAgent
    from kame.mip6.mobilenode import MobileNode
    from kame.node import Node

__all__ = [
    "BA_STATUS",
    "MAX_NONCE_LIFETIME",
    "MH_BA",
    "MH_BE",
    "MH_BU",
    "MH_COT",
    "MH_COTI",
    "MH_HOT",
    "MH_HOTI",
    "Mip6Cn",
    "seq_greater",
]

MH_BRR, MH_HOTI, MH_COTI, MH_HOT, MH_COT, MH_BU, MH_BA, MH_BE = range(8)
IPPROTO_MH = 135

#: Binding Update flags (§6.1.7)
BU_ACK, BU_HOME = 0x8000, 0x4000

#: Binding Acknowledgement status codes (§6.1.8)
BA_STATUS = {
    0: "Binding Update accepted",
    1: "Accepted but prefix discovery necessary",
    128: "Reason unspecified",
    129: "Administratively prohibited",
    130: "Insufficient resources",
    131: "Home registration not supported",
    132: "Not home subnet",
    133: "Not home agent for this mobile node",
    134: "Duplicate Address Detection failed",
    135: "Sequence number out of window",
    136: "Expired home nonce index",
    137: "Expired care-of nonce index",
    138: "Expired nonces",
    139: "Registration type change disallowed",
}

#: Binding Error status codes (§6.1.9)
BE_NO_BINDING, BE_UNKNOWN_MH = 1, 2
_UNSPEC = IPv6Address("::")

#: §12: nonces are accepted this long after they were made.
MAX_NONCE_LIFETIME = 240.0


def seq_greater(a: int, b: int) -> bool:
    """Whether sequence number ``a`` comes after ``b`` modulo 2**16 (§9.5.1)."""
    return 0 < (a - b) & 0xFFFF < 0x8000


def unicast_routable(a: IPv6Address) -> bool:
    """Not multicast, unspecified, loopback, link-local or IPv4-mapped
    (§9.5.1: a home or care-of address must be unicast routable)."""
    return not (a.is_multicast or a.is_unspecified or a.is_loopback or a.is_link_local
                or a.ipv4_mapped is not None)


class Mip6Cn:
    """The correspondent node of one :class:`~kame.node.Node`."""

    def __init__(self, node: Node, kcn: bytes | None = None) -> None:
        self.node = node
        kv = node.knobs._values
        #: Kcn (§5.2.3): 20 random octets, never leaving the node.
        self._kcn = kcn if kcn is not None else os.urandom(20)
        #: nonce index -> (nonce, made at); the last is the current one
        self.nonces: OrderedDict[int, tuple[bytes, float]] = OrderedDict()
        self._nonce_index = int.from_bytes(os.urandom(2), "big")
        self.bc = BindingCache(lambda: int(kv["net.inet6.mip6.bc_max"]))
        self._be_tokens = 0.0
        self._be_last: float | None = None
        #: the home agent and mobile node roles (seed §6.2), when started
        #: (:meth:`kame.mip6.HomeAgent.attach`, :meth:`kame.mip6.MobileNode.attach`)
        self.ha: HomeAgent | None = None
        self.mn: MobileNode | None = None

    # --- nonces (§5.2.7) ----------------------------------------------------

    def _nonce_purge(self, now: float) -> None:
        ns = self.nonces
        while ns:
            idx, (_n, made) = next(iter(ns.items()))
            if now - made <= MAX_NONCE_LIFETIME and made <= now:
                break
            del ns[idx]

    def current_nonce(self, now: float) -> tuple[int, bytes]:
        """The nonce to hand out now: a fresh one when the current is
        ``nonce_interval`` old (the table holds at most 240 / interval + 1)."""
        self._nonce_purge(now)
        interval = self.node.knobs._values["net.inet6.mip6.nonce_interval"]
        if self.nonces:
            idx, (nonce, made) = next(reversed(self.nonces.items()))
            if now - made < interval:
                return idx, nonce
        self._nonce_index = (self._nonce_index + 1) & 0xFFFF
        nonce = os.urandom(8)
        self.nonces[self._nonce_index] = (nonce, now)
        return self._nonce_index, nonce

    def nonce(self, index: int, now: float) -> bytes | None:
        """The nonce of ``index`` while it is accepted (§5.2.7), else None."""
        e = self.nonces.get(index)
        if e is None or not 0 <= now - e[1] <= MAX_NONCE_LIFETIME:
            return None
        return e[0]

    # --- output of Mobility Headers -----------------------------------------

    def _send(self, ifname: str, src: IPv6Address, dst: IPv6Address, mh_type: int,
              now: float, home: IPv6Address | None = None, **fields: Any) -> None:
        """Build and send one Mobility Header from ``src`` to ``dst``; with
        ``home``, through a type 2 routing header to that home address (the
        checksum's final destination, RFC 8200 §8.1)."""
        node = self.node
        mh = _core.mh_build(mh_type, src=src, dst=home if home is not None else dst, **fields)
        ext = b""
        nh = IPPROTO_MH
        if home is not None:
            ext = _core.RoutingHeader(2, 1, [home], next_header=IPPROTO_MH).to_bytes()
            nh = 43
        outif, hop = node._reflect_route(ifname, dst, now)
        hdr = _core.Ipv6Header(src, dst, next_header=nh, hop_limit=node.cache.info(outif).chlim,
                               payload_len=len(ext) + len(mh))
        node.stats.inc("mip6s_omobility")
        node.output(outif, hdr.to_bytes() + ext + mh, now, hop)

    def be_output(self, ifname: str, src: IPv6Address, dst: IPv6Address, status: int,
                  home: IPv6Address, now: float) -> None:
        """A Binding Error (§9.3.3), at most ``be_ppslimit`` a second."""
        limit = self.node.knobs._values["net.inet6.mip6.be_ppslimit"]
        if self._be_last is None or now < self._be_last:
            self._be_tokens = float(limit)
        else:
            self._be_tokens = min(float(limit), self._be_tokens + (now - self._be_last) * limit)
        self._be_last = now
        if self._be_tokens < 1.0:
            self.node.stats.inc("mip6s_berate")
            return
        self._be_tokens -= 1.0
        self.node.stats.inc("mip6s_obe")
        self._send(ifname, src, dst, MH_BE, now, status=status, home_address=home)

    # --- input ----------------------------------------------------------------

    def hao_input(self, ifname: str, packet: bytes, v: Any, chain: Any,
                  now: float) -> tuple[bytes, Any, IPv6Address] | None:
        """A packet for us with a Home Address option (§9.3.1): with a
        binding of that home address to the packet's source, or carrying a
        Binding Update, the packet with source and option swapped, its
        header and the care-of address; else None (dropped, Binding Error
        status 1 sent)."""
        node = self.node
        st = node.stats
        hdr = v.header
        if not node.knobs._values["net.inet6.mip6.correspondent"]:
            # a node without Mobile IPv6: option type 201 is unknown, its
            # action bits 11 say Parameter Problem code 2 unless the
            # destination is multicast (RFC 8200 §4.2), as Linux without
            # CONFIG_IPV6_MIP6 answers
            st.inc("ip6s_badoptions")
            if not hdr.dst.is_multicast:
                uo = chain.upper_offset
                itype = packet[uo] if chain.upper == 58 and uo < len(packet) else None
                node.icmp6_error(ifname, packet, hdr.src, hdr.dst, chain.upper, itype,
                                 ICMP6_PARAM_PROB, 2, now, pointer=v.home_address_offset)
            return None
        st.inc("mip6s_hao")
        coa, home, dst = hdr.src, v.home_address, hdr.dst
        b = self.bc.entries.get(home)
        if b is None or b.coa != coa:
            uo = chain.upper_offset
            if not (chain.upper == IPPROTO_MH and packet[uo + 2:uo + 3] == bytes([MH_BU])):
                st.inc("mip6s_unverifiedhao")
                if not dst.is_multicast:
                    self.be_output(ifname, dst, coa, BE_NO_BINDING, home, now)
                return None
        off = v.home_address_offset + 2
        p = bytearray(packet)
        p[8:24] = home.packed
        p[off:off + 16] = coa.packed
        return bytes(p), _core.Ipv6Header.from_bytes(p), coa

    def mh_input(self, ifname: str, hdr: Any, body: bytes, upper_offset: int,
                 coa: IPv6Address | None, packet: bytes, now: float) -> None:
        """A Mobility Header for us (§9.2). ``hdr`` is the header as the
        upper layers see it (the home address as source after a Home
        Address option, whose care-of address is ``coa``)."""
        st = self.node.stats
        st.inc("mip6s_mobility")
        try:
            mh = _core.mh_parse(body, hdr.src, hdr.dst)
        except KameError as e:
            off = e.offset if e.offset is not None else -1
            if isinstance(e, TruncatedError):
                st.inc("mip6s_tooshort")
            elif off == 4:
                st.inc("mip6s_checksum")
            elif off in (0, 1):
                st.inc("mip6s_payloadproto" if off == 0 else "mip6s_badlen")
                if not hdr.dst.is_multicast:
                    self.node.icmp6_error(ifname, packet, hdr.src, hdr.dst, IPPROTO_MH, None,
                                          ICMP6_PARAM_PROB, 0, now, pointer=upper_offset + off)
            else:
                st.inc("mip6s_invalidopt")
            return
        t = mh.mh_type
        if t == MH_HOTI or t == MH_COTI:
            self._test_init(ifname, hdr, mh, coa, now)
        elif t == MH_BU:
            self._bu_input(ifname, hdr, mh, body[:mh.length], coa, now)
        elif t <= MH_BE and self.mn is not None:
            self.mn.mh_input(ifname, hdr, mh, body[:mh.length], now)
        elif t <= MH_BE:
            st.inc("mip6s_othertype")
        else:
            st.inc("mip6s_unknowntype")
            if not hdr.dst.is_multicast:
                # the Home Address field: the home address when the packet
                # carried one (its source after the swap), else unspecified
                # (§6.1.9; UMIP's mh_recv reads it the same way)
                self.be_output(ifname, hdr.dst, coa if coa is not None else hdr.src,
                               BE_UNKNOWN_MH, hdr.src if coa is not None else _UNSPEC, now)

    def _test_init(self, ifname: str, hdr: Any, mh: Any, coa: IPv6Address | None,
                   now: float) -> None:
        """HoTI -> HoT, CoTI -> CoT (§9.4.1-§9.4.4): stateless."""
        st = self.node.stats
        home = mh.mh_type == MH_HOTI
        st.inc("mip6s_hoti" if home else "mip6s_coti")
        if coa is not None or hdr.dst.is_multicast or not unicast_routable(hdr.src):
            st.inc("mip6s_rrhao")  # §9.4.1/§9.4.2: no Home Address option
            return
        idx, nonce = self.current_nonce(now)
        token = _core.mip6_keygen_token(self._kcn, hdr.src, nonce, 0 if home else 1)
        st.inc("mip6s_ohot" if home else "mip6s_ocot")
        self._send(ifname, hdr.dst, hdr.src, MH_HOT if home else MH_COT, now,
                   nonce_index=idx, cookie=mh.cookie, token=token)

    def _bu_input(self, ifname: str, hdr: Any, mh: Any, raw: bytes, src_coa: IPv6Address | None,
                  now: float) -> None:
        """§9.5.1, as a correspondent node."""
        node = self.node
        st = node.stats
        kv = node.knobs._values
        st.inc("mip6s_bu")
        home, cn = hdr.src, hdr.dst
        src = src_coa if src_coa is not None else home  # where the update came from
        coa = mh.alt_coa if mh.alt_coa is not None else src
        if cn.is_multicast or not unicast_routable(home):
            st.inc("mip6s_badhoa")
            return
        if not unicast_routable(coa):
            st.inc("mip6s_invalidcoa")
            return
        seq, flags = mh.seq, mh.flags
        rh2 = home if src != home else None

        def ack(status: int, seq: int, lifetime: int = 0, kbm: bytes | None = None) -> None:
            st.inc("mip6s_oba")
            self._send(ifname, cn, src, MH_BA, now, rh2, status=status, seq=seq,
                       lifetime=lifetime, auth=(kbm, coa, cn) if kbm is not None else None)

        b = self.bc.lookup(home)
        if flags & BU_HOME:
            if self.ha is not None:
                self.ha.bu_input(ifname, hdr, mh, src, coa, now)
                return
            st.inc("mip6s_homereg")
            ack(131, seq)
            return
        if b is not None and b.home_reg:
            st.inc("mip6s_hatypechange")  # §9.5.1: a home registration stays one
            ack(139, seq)
            return
        if mh.nonce_indices is None or mh.auth_data is None or not mh.auth_last:
            st.inc("mip6s_unprotected")
            return
        at_home = coa == home
        hi, ci = mh.nonce_indices
        hn = self.nonce(hi, now)
        cnn = None if at_home else self.nonce(ci, now)
        if hn is None or (cnn is None and not at_home):
            st.inc("mip6s_nonce")
            ack(138 if hn is None and cnn is None and not at_home else 136 if hn is None else 137,
                seq)
            return
        htok = _core.mip6_keygen_token(self._kcn, home, hn, 0)
        ctok = _core.mip6_keygen_token(self._kcn, coa, cnn, 1) if cnn is not None else None
        kbm = _core.mip6_kbm(htok, ctok)
        if not _core.mh_verify_auth(raw, kbm, coa, cn):
            st.inc("mip6s_rrauthfail")
            return
        b = self.bc.lookup(home)
        if b is not None and not seq_greater(seq, b.seq):
            st.inc("mip6s_seqno")
            ack(135, b.seq, 0, kbm)
            return
        if mh.lifetime == 0 or at_home:  # deregistration (§9.5.3)
            if self.bc.remove(home) is not None:
                st.inc("mip6s_bcdelete")
            if flags & BU_ACK:
                ack(0, seq, 0, kbm)
            return
        granted = min(mh.lifetime * 4, kv["net.inet6.mip6.rr_lifetime_max"]) // 4 * 4
        r = self.bc.update(home, coa, seq, granted, now)
        if r is None:
            st.inc("mip6s_bcfull")
            ack(130, seq, 0, kbm)  # sent without the A bit too (§9.5.4)
            return
        self.node.gate.arm(r[0].expire)  # its lifetime ends in poll (kame.gate)
        st.inc("mip6s_bcadd" if r[1] else "mip6s_bcupdate")
        if flags & BU_ACK:
            ack(0, seq, granted // 4, kbm)

    # --- output (§9.3.2) --------------------------------------------------------

    def output(self, packet: bytes, now: float) -> tuple[str, bytes, IPv6Address] | None:
        """``ip6_output``'s Mobile IPv6 step: the mobile node's tunnel or
        Home Address option (:meth:`MobileNode.output`), the home agent's
        tunnel to a registered home address, route optimization."""
        mn = self.mn
        if mn is not None and (r := mn.output(packet, now)) is not None:
            return r
        return self.ro_output(packet, now) if self.bc.entries else None

    def tunnel_input(self, ifname: str, packet: bytes, src: IPv6Address, dst: IPv6Address,
                     now: float) -> bool:
        """IPv6-in-IPv6 no gif took: a home agent's reverse tunnel or a
        mobile node's tunnel from its home agent."""
        if self.ha is None and self.mn is None:
            return False
        return bool(self.ha is not None and self.ha.tunnel_input(ifname, packet, src, dst, now)
                    or self.mn is not None and self.mn.tunnel_input(ifname, packet, src, dst, now))

    def ro_output(self, packet: bytes, now: float) -> tuple[str, bytes, IPv6Address] | None:
        """Route optimization: our ``packet`` to a home address with a
        binding, rewritten for the care-of address with a type 2 routing
        header after the IPv6 header (after Hop-by-Hop options, if any);
        ``(ifname, packet, next hop)``, or None to send it as it is
        (no binding, not ours, a routing or Mobility Header already, a
        jumbogram, no route to the care-of address)."""
        node = self.node
        if not node.knobs._values["net.inet6.mip6.correspondent"]:
            return None
        b = self.bc.entries.get(IPv6Address(packet[24:40]))
        if b is not None and b.home_reg and self.ha is not None:
            return self.ha.tunnel_to(b, packet, now)  # a packet of ours to a mobile node away
        nh = packet[6]
        if b is None or nh in (43, IPPROTO_MH) or packet[4:6] == b"\0\0":
            return None
        if node.addrs.find_any(IPv6Address(packet[8:24])) is None:
            return None
        at = 40
        if nh == 0:
            if len(packet) < 42:
                return None
            at = 40 + (packet[41] + 1) * 8
            nh = packet[40]
            if at > len(packet) or nh in (43, IPPROTO_MH):
                return None
        rt = node.rtalloc(b.coa, now)
        if rt is None:
            return None
        rh = _core.RoutingHeader(2, 1, [b.home], next_header=nh).to_bytes()
        p = bytearray(packet[:at])
        p[4:6] = (int.from_bytes(packet[4:6], "big") + len(rh)).to_bytes(2, "big")
        p[24:40] = b.coa.packed
        if at == 40:
            p[6] = 43
        else:
            p[40] = 43
        node.stats.inc("mip6s_orthdr2")
        return rt.ifname, bytes(p) + rh + packet[at:], rt.next_hop

    # --- timers -------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        ts = [self.bc.next_deadline(), self.ha.next_deadline() if self.ha else None,
              self.mn.next_deadline() if self.mn else None]
        return min((t for t in ts if t is not None), default=None)

    def poll(self, now: float) -> None:
        """Expire bindings (§9.5.2, §10.3.2) and nonces (§5.2.7); the home
        agent's DAD and the mobile node's timers."""
        for b in self.bc.expire(now):
            self.node.stats.inc("mip6s_bcexpire")
            if b.home_reg and self.ha is not None:
                self.ha.withdraw(b, now)
        self._nonce_purge(now)
        if self.ha is not None:
            self.ha.poll(now)
        if self.mn is not None:
            self.mn.poll(now)

    def icmp6_input(self, ifname: str, hdr: Any, msg: Any, now: float) -> None:
        """ICMPv6 144-147 (§6.5-§6.8): the home agent answers 144 and 146,
        the mobile node takes 145; anything else is counted."""
        if self.ha is not None and msg.type in (144, 146):
            self.ha.icmp6_input(ifname, hdr, msg, now)
        elif self.mn is not None and msg.type in (145, 147):
            self.mn.icmp6_input(hdr, msg, now)
        else:
            self.node.stats.inc("mip6s_icmpother")
