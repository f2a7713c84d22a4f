"""DHCPv6 (RFC 8415): the client, the server and the relay agent of a node.

- :mod:`kame.dhcp6.codec`: messages and options, bounded parsing;
- :mod:`kame.dhcp6.duid`: DUID-LLT/EN/LL/UUID, kept in a file;
- :mod:`kame.dhcp6.client`: the client state machine (sans-I/O);
- :mod:`kame.dhcp6.server`: the server and the relay agent (sans-I/O);
- :mod:`kame.dhcp6.agent`: the daemons over a node's sockets;
- :mod:`kame.dhcp6.conf`: WIDE-DHCPv6's dhcp6c.conf and dhcp6s.conf.
"""

from kame.dhcp6.client import Bound, Dhcp6Client, Expired, InfoReceived
from kame.dhcp6.server import AddrPool, Dhcp6Relay, Dhcp6Server, Host, PrefixPool

__all__ = ["AddrPool", "Bound", "Dhcp6Client", "Dhcp6Relay", "Dhcp6Server", "Expired", "Host",
           "InfoReceived", "PrefixPool"]
