"""Socket constants: the host's values, so code written for Python's
:mod:`socket` runs unchanged on a kame socket (and the Linux profile
compares 1:1); ephemeral port ranges; the ``OSError`` maker."""

from __future__ import annotations

import errno
import socket as _hostsock

# Constants: the host's values, so code written for Python's socket module
# runs unchanged on a kame socket (and the Linux profile compares 1:1).
AF_INET = _hostsock.AF_INET
AF_INET6 = _hostsock.AF_INET6
SOCK_DGRAM = _hostsock.SOCK_DGRAM
SOCK_RAW = _hostsock.SOCK_RAW
SOL_SOCKET = _hostsock.SOL_SOCKET
SO_REUSEADDR = _hostsock.SO_REUSEADDR
SO_REUSEPORT = getattr(_hostsock, "SO_REUSEPORT", 15)
SO_ERROR = _hostsock.SO_ERROR
SO_TYPE = _hostsock.SO_TYPE
IPPROTO_IPV6 = 41
IPPROTO_UDP = 17
IPPROTO_ICMPV6 = 58
IPPROTO_RAW = 255
IPV6_V6ONLY = _hostsock.IPV6_V6ONLY
#: KAME's ``IPV6_FAITH`` (netinet6/in6.h, 29): the socket accepts connections
#: to the FAITH prefixes (``IN6P_FAITH``, seed §3.1); kame only.
IPV6_FAITH = 29
IPV6_UNICAST_HOPS = _hostsock.IPV6_UNICAST_HOPS
IPV6_MULTICAST_IF = _hostsock.IPV6_MULTICAST_IF
IPV6_MULTICAST_HOPS = _hostsock.IPV6_MULTICAST_HOPS
IPV6_MULTICAST_LOOP = _hostsock.IPV6_MULTICAST_LOOP
IPV6_JOIN_GROUP = _hostsock.IPV6_JOIN_GROUP
IPV6_LEAVE_GROUP = _hostsock.IPV6_LEAVE_GROUP
IPV6_CHECKSUM = _hostsock.IPV6_CHECKSUM
IPV6_RECVPKTINFO = _hostsock.IPV6_RECVPKTINFO
IPV6_PKTINFO = _hostsock.IPV6_PKTINFO
IPV6_RECVHOPLIMIT = _hostsock.IPV6_RECVHOPLIMIT
IPV6_HOPLIMIT = _hostsock.IPV6_HOPLIMIT
IPV6_RECVTCLASS = _hostsock.IPV6_RECVTCLASS
IPV6_TCLASS = _hostsock.IPV6_TCLASS
IPV6_RECVPATHMTU = getattr(_hostsock, "IPV6_RECVPATHMTU", 60)
IPV6_PATHMTU = getattr(_hostsock, "IPV6_PATHMTU", 61)
ICMP6_FILTER = 1  # level IPPROTO_ICMPV6 (both BSD and Linux)
#: RFC 3542 §6-§9, §11: extension headers, next hop, fragmentation.
IPV6_RECVHOPOPTS = _hostsock.IPV6_RECVHOPOPTS
IPV6_HOPOPTS = _hostsock.IPV6_HOPOPTS
IPV6_RTHDRDSTOPTS = _hostsock.IPV6_RTHDRDSTOPTS
IPV6_RECVRTHDR = _hostsock.IPV6_RECVRTHDR
IPV6_RTHDR = _hostsock.IPV6_RTHDR
IPV6_RECVDSTOPTS = _hostsock.IPV6_RECVDSTOPTS
IPV6_DSTOPTS = _hostsock.IPV6_DSTOPTS
IPV6_NEXTHOP = _hostsock.IPV6_NEXTHOP
IPV6_DONTFRAG = getattr(_hostsock, "IPV6_DONTFRAG", 62)
#: KAME's ``IPV6_USE_MIN_MTU`` (netinet6/in6.h, 42): the BSD profiles only;
#: Linux has no such option (its 42 is ``MCAST_JOIN_GROUP``).
IPV6_USE_MIN_MTU = 42
#: RFC 2292's numbers (Linux's ``IPV6_2292*``, KAME's compatibility names):
#: a switch to receive, and the ancillary type it is sent and received with.
IPV6_2292PKTINFO = 2
IPV6_2292HOPOPTS = 3
IPV6_2292DSTOPTS = 4
IPV6_2292RTHDR = 5
IPV6_2292PKTOPTIONS = 6
IPV6_2292HOPLIMIT = 8

#: Ephemeral ports (BSD ``ipport_hifirstauto``..``hilastauto``; Linux
#: ``ip_local_port_range`` 32768-60999).
EPHEMERAL_BSD = (49152, 65535)
EPHEMERAL_LINUX = (32768, 60999)


def _octets(value: object, what: str) -> bytes:
    """A bytes-like option value or buffer (``bytes(5)`` would be five zero
    octets, and ``bytes(10**12)`` a terabyte: ints are refused)."""
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what}: a bytes-like object is required, not {type(value).__name__}")
    return bytes(value)


def _err(code: int, what: str = "") -> OSError:
    return OSError(code, errno.errorcode.get(code, str(code)) + (f": {what}" if what else ""))
