"""The BSD sockets layer over a :class:`kame.node.Node` (seed §1.12, §1.16).

A :class:`SocketLayer` is the socket half of a kernel: a PCB table
(``in6_pcb``/``inpcb``) for UDP and raw sockets, ``bind``/``connect``
with wildcard and specific binds, ``SO_REUSEADDR``/``SO_REUSEPORT``,
``IPV6_V6ONLY`` and the IPv4-mapped address semantics of one platform
profile of the seed's §1.12 table, and the RFC 3542 advanced API
(:mod:`kame.socket` ``IPV6_*`` options, ``sendmsg``/``recvmsg`` with
ancillary data as ``(level, type, data)`` tuples, exactly the layout the
Linux kernel and Python's :mod:`socket` use).

Sans-I/O like the node: a send queues frames on the node (``node.poll(now)``
returns them); a datagram the node receives lands in the socket's queue and
``recvfrom`` returns it; an empty queue raises :class:`BlockingIOError`
(``EAGAIN``). The layer's clock is the node's last ``now``.

IPv4 datagrams (``AF_INET`` sockets and ``AF_INET6`` sockets talking to
``::ffff:a.b.c.d``) to one of the node's IPv4 addresses (:mod:`kame.inet`)
or of the layer's loopback addresses (:attr:`SocketLayer.in_ifaddrs`,
``127.0.0.1`` by default) loop back to the layer's own sockets; others go
out through the node (``udp_output`` -> ``ip_output``: route, source, ARP,
fragmentation), and :meth:`SocketLayer.udp_input` is where the node hands
UDP datagrams up. Without a node there is no IPv4 wire (``ENETUNREACH``).
IPv6 datagrams to ``::1`` or one of
the node's addresses loop back too; others go out through the node
(``ip6_output``: route, ``in6_selectsrc``, ``nd6_output``).

Profiles (:data:`PROFILES`) encode the seed's table (:data:`SEED_TABLE`)
and the text of §1.12.1-§1.12.5, plus ``linux`` (the host kernel, proven
against it in ``tests/interop/test_sock_linux.py``) and ``rfc3493``.
Where the seed leaves a detail open, the profile says what we chose:

- errno for a refused mapped destination: ``EINVAL`` on the BSDs (their
  ``in6_pcbconnect``/``udp6_output``), ``ENETUNREACH`` on Linux;
- errno for a refused mapped bind: ``EADDRNOTAVAIL`` (NetBSD "cannot bind(2)
  with IPv4 mapped address", and the platforms without mapped support),
  ``EINVAL`` on Linux with ``IPV6_V6ONLY`` set;
- ``IPV6_V6ONLY`` on a platform without the option (KAME/BSDI4: "no way to
  disable"): ``ENOPROTOOPT``; clearing it where mapped addresses are not
  supported: ``EINVAL``; changing it after ``bind``: ``EINVAL``.

Zones (seed §1.3): addresses in sockaddr tuples go through
:func:`kame.scope6.sa6_from_user`, the ``%zone`` of the host string included
(which Python's own socket module drops). The embedded form (``fe80:1::5``,
``ff02:1::1``, in a sockaddr, ``IPV6_PKTINFO`` or ``ipv6_mreq``) is
``EINVAL``; a zone or interface index that names no interface is the
profile's ``nodev_errno`` (``bind``, the options; ENXIO on the KAME
platforms, ENODEV on Linux) or ``nozone_errno`` (``connect``/``sendto``;
ENXIO, or ENETUNREACH on Linux); a sockaddr field out of range is
:class:`kame.errors.RangeError` where the host raises ``OverflowError``.

The package, by BSD source file: :mod:`~kame.socket.layer` (the layer,
``udp6_usrreq.c``, ``raw_ip6.c``), :mod:`~kame.socket.pcb` (``in6_pcb.c``),
:mod:`~kame.socket.ctloutput` (``ip6_ctloutput``), :mod:`~kame.socket.sock`
(the socket object), :mod:`~kame.socket.profiles` (§1.12),
:mod:`~kame.socket.sockaddr` (§1.13), :mod:`~kame.socket.rfc3542`,
:mod:`~kame.socket.rfc2292` (the RFC 2292 helpers KAME kept, §1.16),
:mod:`~kame.socket.pktopts` (``ip6_setpktopt``: extension headers and
per-packet options) and :mod:`~kame.socket.const`.
"""

from __future__ import annotations

from kame.socket.const import *
from kame.socket.const import _err  # noqa: F401
from kame.socket.inctl import (
    MCAST_BLOCK_SOURCE,
    MCAST_JOIN_GROUP,
    MCAST_JOIN_SOURCE_GROUP,
    MCAST_LEAVE_GROUP,
    MCAST_LEAVE_SOURCE_GROUP,
    MCAST_MSFILTER,
    MCAST_UNBLOCK_SOURCE,
    getsourcefilter,
    group_req,
    group_source_req,
    setsourcefilter,
)
from kame.socket.layer import SocketLayer
from kame.socket.profiles import PROFILES, SEED_TABLE, Profile, profile_table_row
from kame.socket.rfc2292 import (
    IPV6_RTHDR_LOOSE,
    IPV6_RTHDR_STRICT,
    Cmsg,
    inet6_option_alloc,
    inet6_option_append,
    inet6_option_find,
    inet6_option_init,
    inet6_option_next,
    inet6_option_space,
    inet6_rthdr_add,
    inet6_rthdr_getaddr,
    inet6_rthdr_getflags,
    inet6_rthdr_lasthop,
    inet6_rthdr_reverse,
    inet6_rthdr_segments,
    inet6_rthdr_space,
)
from kame.socket.rfc3542 import (
    IPV6_RTHDR_TYPE_0,
    Icmp6Filter,
    inet6_opt_append,
    inet6_opt_find,
    inet6_opt_finish,
    inet6_opt_get_val,
    inet6_opt_init,
    inet6_opt_next,
    inet6_opt_set_val,
    inet6_rth_add,
    inet6_rth_getaddr,
    inet6_rth_init,
    inet6_rth_reverse,
    inet6_rth_segments,
    inet6_rth_space,
)
from kame.socket.sock import Datagram, Socket
from kame.socket.sockaddr import (
    SIN6_LEN,
    SIN_LEN,
    SS_LEN,
    Addr,
    ntop6,
    pack_sockaddr_in,
    pack_sockaddr_in6,
    sockaddr_family,
    sockaddr_storage,
    unmap,
    unpack_sockaddr_in6,
    v4mapped,
)

__all__ = [
    "AF_INET",
    "AF_INET6",
    "IPV6_RTHDR_LOOSE",
    "IPV6_RTHDR_STRICT",
    "IPV6_RTHDR_TYPE_0",
    "MCAST_BLOCK_SOURCE",
    "MCAST_JOIN_GROUP",
    "MCAST_JOIN_SOURCE_GROUP",
    "MCAST_LEAVE_GROUP",
    "MCAST_LEAVE_SOURCE_GROUP",
    "MCAST_MSFILTER",
    "MCAST_UNBLOCK_SOURCE",
    "PROFILES",
    "SEED_TABLE",
    "SIN6_LEN",
    "SIN_LEN",
    "SOCK_DGRAM",
    "SOCK_RAW",
    "SS_LEN",
    "Addr",
    "Cmsg",
    "Datagram",
    "Icmp6Filter",
    "Profile",
    "Socket",
    "SocketLayer",
    "getsourcefilter",
    "group_req",
    "group_source_req",
    "inet6_opt_append",
    "inet6_opt_find",
    "inet6_opt_finish",
    "inet6_opt_get_val",
    "inet6_opt_init",
    "inet6_opt_next",
    "inet6_opt_set_val",
    "inet6_option_alloc",
    "inet6_option_append",
    "inet6_option_find",
    "inet6_option_init",
    "inet6_option_next",
    "inet6_option_space",
    "inet6_rth_add",
    "inet6_rth_getaddr",
    "inet6_rth_init",
    "inet6_rth_reverse",
    "inet6_rth_segments",
    "inet6_rth_space",
    "inet6_rthdr_add",
    "inet6_rthdr_getaddr",
    "inet6_rthdr_getflags",
    "inet6_rthdr_lasthop",
    "inet6_rthdr_reverse",
    "inet6_rthdr_segments",
    "inet6_rthdr_space",
    "ntop6",
    "pack_sockaddr_in",
    "pack_sockaddr_in6",
    "profile_table_row",
    "setsourcefilter",
    "sockaddr_family",
    "sockaddr_storage",
    "unmap",
    "unpack_sockaddr_in6",
    "v4mapped",
]
