"""Mobile IPv6 (RFC 6275), the correspondent node of seed §6.1:
:mod:`kame.mip6.cncore` (``mip6_cncore.c``: the Home Address option,
Return Routability, Binding Updates and Errors, route optimization) over
:mod:`kame.mip6.bcache` (``mip6_bc.c``: the binding cache). The home agent
and mobile node of seed §6.2 are :mod:`kame.mip6.homeagent` and
:mod:`kame.mip6.mobilenode`. The Mobility Header's bytes are the core's
(``kame._core.mh_parse`` / ``mh_build``)."""

from kame.mip6.bcache import Binding, BindingCache
from kame.mip6.cncore import BA_STATUS, MAX_NONCE_LIFETIME, Mip6Cn, seq_greater
from kame.mip6.homeagent import HomeAgent, ha_anycast
from kame.mip6.mobilenode import BulEntry, MobileNode

__all__ = ["BA_STATUS", "MAX_NONCE_LIFETIME", "Binding", "BindingCache", "BulEntry", "HomeAgent",
           "Mip6Cn", "MobileNode", "ha_anycast", "seq_greater"]
