"""Neighbor Discovery (RFC 4861, RFC 4862), after KAME's file split.

- :mod:`kame.nd6.types`    parsed inputs, actions and events (the codec's mapping point)
- :mod:`kame.nd6.cache`    ``nd6.c``: the neighbor cache and NUD
- :mod:`kame.nd6.nbr`      ``nd6_nbr.c``: NS/NA, DAD, proxy NDP
- :mod:`kame.nd6.rtr`      ``nd6_rtr.c``: routers, prefixes, SLAAC, RS/RA
- :mod:`kame.nd6.ifattach` ``in6_ifattach.c``: link-local and required addresses
"""

from kame.nd6.cache import NdIfinfo, NdLog, NdState, Neighbor, NeighborCache
from kame.nd6.ifattach import IfattachResult, get_ifid, in6_ifattach
from kame.nd6.nbr import Nd6Nbr, ProxyTable
from kame.nd6.rtr import Nd6Rtr, RaConfig, node_role, ra_accepted, two_hour_rule

__all__ = [
    "IfattachResult",
    "Nd6Nbr",
    "Nd6Rtr",
    "NdIfinfo",
    "NdLog",
    "NdState",
    "Neighbor",
    "NeighborCache",
    "ProxyTable",
    "RaConfig",
    "get_ifid",
    "in6_ifattach",
    "node_role",
    "ra_accepted",
    "two_hour_rule",
]
