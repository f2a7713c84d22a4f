"""IP-in-IP tunnels (seed §1.5, gif(4)) and their ECN rules (seed §4.6).

A thin facade over ``kame._core``: the four gif configurations (IPv6 in
IPv6, IPv4 in IPv6, IPv6 in IPv4, IPv4 in IPv4) with the outer family
following the addresses, and KAME's ``net.inet6.ipsec6.ecn`` settings:

====  ==================  =====================================  ==============================
ecn   name                encapsulate (outer TOS)                decapsulate (inner TOS)
====  ==================  =====================================  ==============================
-1    ``"rfc2401"``       inner TOS copied                       inner as is
0     ``"forbidden"``     inner TOS & 0xfc (ECN bits 0)          inner as is
1     ``"allowed"``       inner TOS & 0xfe (CE bit 0)            inner | 0x01 if outer & 0x01
2     ``"rfc6040"``       inner TOS copied                       RFC 6040 §4.2 table; CE over
                                                                 Not-ECT raises EcnDropError
====  ==================  =====================================  ==============================

0 is the default, as in KAME.
"""

from __future__ import annotations

from kame._core import decapsulate, decapsulate_ex, ecn_egress, ecn_ingress, encapsulate

ECN_RFC2401 = -1
ECN_FORBIDDEN = 0
ECN_ALLOWED = 1
ECN_RFC6040 = 2

__all__ = [
    "ECN_ALLOWED",
    "ECN_FORBIDDEN",
    "ECN_RFC2401",
    "ECN_RFC6040",
    "decapsulate",
    "decapsulate_ex",
    "ecn_egress",
    "ecn_ingress",
    "encapsulate",
]
