"""IPsec for IPv4 (KAME ``netinet6/ipsec.c`` ``ipsec4_output``,
``esp_input.c`` ``esp4_input``, ``ah_input.c`` ``ah4_input``,
``ipsec4_in_reject``): the node's SPD and SAD (``node.key``,
:class:`kame.key.ipsec6.Ipsec6`, the same tables IPv6 uses) applied to
IPv4 datagrams; the transforms are the core's (``EspSa``, ``AhSa``,
``IpcompSa`` work on IPv4 datagrams as on IPv6 packets).

- ``ip_output`` and ``ip_forward`` (a tunnel-mode gateway): the outbound
  policy for (src, dst, protocol, ports — ICMP type and code as ports)
  decides as for IPv6: ``discard`` drops (``out_polvio``), ``none`` or no
  match sends in clear, ``ipsec`` applies the bundle (IPComp -> ESP -> AH)
  with the SAs the SAD has; a missing SA acquires and drops (``out_nosa``,
  ``ENOBUFS`` to the sender as KAME's ``ipsec4_output``) unless the level is
  ``use``. The result is routed again towards its outer destination
  (tunnel mode; an IPv6 outer header leaves through ``ip6_output``), and
  fragmented after the transforms.
- ``ip_input``, after reassembly: ESP (50), AH (51) and IPComp (108) to us
  are opened with the SA (dst, protocol, SPI) — no SA is ``in_nosa`` and
  ``in_badspi`` whatever follows — and the result goes back to input
  (tunnel mode: an inner IPv4 or IPv6 datagram); ESP in UDP (RFC 3948) is
  recognised on port 4500 by its non-zero first four octets. Then the
  inbound policy (``ipsec4_in_reject``): a datagram a ``require``/``unique``
  request wanted protected and that was not is dropped (``in_polvio``).

IGMP bypasses the SPD (as MLD does for IPv6), so a ``0.0.0.0/0`` policy
does not cut the node off its groups. Counters are ``struct ipsecstat``'s
for IPv4 (``netstat -s -p ipsec``), in ``ipsec4stat``.
"""

from __future__ import annotations

import errno
from collections import Counter
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from kame.inet.output import IpOutput

_PROTO = {50: "esp", 51: "ah", 108: "ipcomp"}


class Ipsec4(IpOutput):
    """IPv4 hook points for the node's key engine."""

    ipsec4stat: Counter[str]

    def _selector4(self, pkt: bytes) -> tuple[IPv4Address, IPv4Address, int, int, int]:
        hl = (pkt[0] & 0x0F) * 4
        ul = pkt[9]
        sport = dport = 0
        frag = int.from_bytes(pkt[6:8], "big") & 0x1FFF
        if not frag and ul in (6, 17) and hl + 4 <= len(pkt):
            sport = int.from_bytes(pkt[hl:hl + 2], "big")
            dport = int.from_bytes(pkt[hl + 2:hl + 4], "big")
        elif not frag and ul == 1 and hl + 2 <= len(pkt):
            sport, dport = pkt[hl], pkt[hl + 1]  # KAME: icmp type/code as ports
        return IPv4Address(pkt[12:16]), IPv4Address(pkt[16:20]), ul, sport, dport

    # --- ipsec4_output ------------------------------------------------------------

    def ipsec4_output(self, ifname: str, pkt: bytes, hop: IPv4Address, now: float) -> int | None:
        """``None``: not for IPsec, send ``pkt`` as it is; else the datagram
        was consumed: 0 sent, or the errno of the drop."""
        key = self.node.key
        if key is None or key._busy:
            return None
        src, dst, ul, sport, dport = self._selector4(pkt)
        if ul == 2:
            return None  # IGMP bypasses the SPD
        st = self.ipsec4stat
        sp = key.spd.lookup("out", src, dst, ul, sport, dport, so=key._so, now=now)
        if sp is None or sp.action in ("none", "bypass"):
            return None
        from kame.key.ipsec6 import PolicyViolation

        if sp.action == "discard":
            st["out_polvio"] += 1
            self.node.events.append(PolicyViolation("out", src, dst, "discard"))  # type: ignore[arg-type]
            return errno.EACCES  # as ipsec4_output's policy discard
        n_nosa = key.stats["out_nosa"]
        chosen = key._select(self.node, sp, src, dst, now)
        if chosen is None:
            key.stats["out_nosa"] = n_nosa  # counted here, for IPv4
            st["out_nosa"] += 1
            return errno.ENOBUFS  # KAME's ipsec4_output without an SA
        if not chosen:
            return None
        out = key.apply(self.node, chosen, pkt, now, st)
        if isinstance(out, str):  # dropped, counted
            return errno.ENOBUFS if out == "out_nosa" else errno.EINVAL
        key._busy += 1
        try:
            if out[0] >> 4 == 6:  # an IPv6 tunnel endpoint: ip6_output
                odst6 = IPv6Address(out[24:40])
                rt6 = self.node.rtalloc(odst6, now)
                if rt6 is None:
                    st["out_noroute"] += 1
                    return errno.ENETUNREACH
                self.node.output(rt6.ifname, out, now, rt6.next_hop)
                return 0
            odst = IPv4Address(out[16:20])
            if odst != dst:
                rt = self.rtalloc(odst)
                if rt is None:
                    st["out_noroute"] += 1
                    return errno.ENETUNREACH
                ifname, hop = rt.ifname, rt.next_hop
            self.ether_output(ifname, hop, out, now)
        finally:
            key._busy -= 1
        return 0

    # --- ipsec4_input -------------------------------------------------------------

    def ipsec4_input(self, ifname: str, v: Any, pkt: bytes, now: float) -> bool:
        """Before delivery: True when the datagram was consumed (opened and
        fed back, or dropped)."""
        key = self.node.key
        proto = v.protocol
        hl = v.header_len
        if proto in _PROTO:
            self.ipsec4_input_at(ifname, pkt, v.dst, _PROTO[proto], hl, now)
            return True
        if (proto == 17 and pkt[hl + 2:hl + 4] == b"\x11\x94" and len(pkt) >= hl + 16
                and pkt[hl + 8:hl + 12] != bytes(4)):
            # RFC 3948 §2.2: ESP in UDP 4500 (not the non-ESP marker)
            self.ipsec4_input_at(ifname, pkt, v.dst, "esp", hl + 8, now)
            return True
        return key is not None and self.ipsec4_in_reject(pkt, now)

    def ipsec4_input_at(self, ifname: str, pkt: bytes, dst: IPv4Address, proto: str, off: int,
                        now: float) -> None:
        key = self.node.key
        opened = key.open(self.node, pkt, dst, proto, off, now, self.ipsec4stat)
        if opened is None:
            return
        mode, sa, inner = opened
        inner = bytes(inner)
        key._hist.append((proto, mode, sa))
        try:
            if inner[:1] and inner[0] >> 4 == 6:  # IPv6 in an IPv4 tunnel
                ifp = self.node.ifnets[ifname]
                me = ifp.lladdr or bytes(6)
                self.node.ip6_input(ifname, me + me + b"\x86\xdd" + inner, now)
            else:
                self.ip_input(ifname, inner, now, ipsec_again=True)
        finally:
            key._hist.pop()

    def ipsec4_in_reject(self, pkt: bytes, now: float) -> bool:
        """``ipsec4_in_reject``: True (and counted) when the inbound policy
        wants protection the datagram did not have."""
        from kame.key.ipsec6 import PolicyViolation

        key = self.node.key
        src, dst, ul, sport, dport = self._selector4(pkt)
        if ul == 2 and not key._hist:
            return False
        sp = key.spd.lookup("in", src, dst, ul, sport, dport, now=now)
        if sp is None or sp.action == "none":
            return False
        why = key.unapplied(sp)
        if why is None:
            return False
        self.ipsec4stat["in_polvio"] += 1
        self.node.events.append(PolicyViolation("in", src, dst, why))  # type: ignore[arg-type]
        return True

    def ip_input(self, ifname: str, payload: bytes, now: float, *,
                 link_bcast: bool = False, loopback: bool = False,
                 ipsec_again: bool = False, mloop: bool = False) -> None:
        """Overridden by the input layer."""
