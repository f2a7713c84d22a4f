"""The seed's §1.12 table and the platform profiles that encode it
(see :mod:`kame.socket`)."""

from __future__ import annotations

import errno
from dataclasses import dataclass

from kame.socket.const import (
    EPHEMERAL_BSD,
    EPHEMERAL_LINUX,
)

# --- the seed's table (§1.12) -------------------------------------------------

#: §1.12 verbatim: platform, listening side, initiating side.
SEED_TABLE: tuple[tuple[str, str, str], ...] = (
    ("KAME/BSDI3", "not supported", "not supported"),
    ("KAME/FreeBSD228", "not supported", "not supported"),
    ("KAME/FreeBSD3x", "configurable default: enabled", "supported"),
    ("KAME/FreeBSD4x", "configurable default: enabled", "supported"),
    ("KAME/NetBSD", "configurable default: disabled", "supported"),
    ("KAME/BSDI4", "enabled", "supported"),
    ("KAME/OpenBSD", "not supported", "not supported"),
)


@dataclass(frozen=True, slots=True)
class Profile:
    """How one platform's socket layer treats IPv4 over ``AF_INET6``.

    - ``listening``: "not supported", "configurable" or "enabled" (§1.12 table);
    - ``listening_default``: for "configurable", whether an ``AF_INET6``
      wildcard socket gets IPv4 traffic by default (``v6only`` = not it);
    - ``initiating``: connection to ``::ffff:a.b.c.d`` supported (when the
      socket accepts IPv4, i.e. ``IPV6_V6ONLY`` is 0);
    - ``shared_ports``: AF_INET and dual AF_INET6 wildcard binds share one
      port space (Linux); KAME keeps them separate (§1.12 "You can perform
      wildcard bind on both of the address families, on the same port");
    - ``bind_mapped``: bind to ``::ffff:a.b.c.d`` allowed (then the socket
      lives in the IPv4 port space); ``bind_mapped_errno`` otherwise;
    - ``v6only_opt``: the ``IPV6_V6ONLY`` option exists;
    - ``mapped_errno``: what connect/sendto to a mapped address fails with;
    - ``af_inet6``: the platform's ``AF_INET6`` number (sockaddr layout);
    - ``bsd_delivery``: an AF_INET socket always wins over an AF_INET6
      wildcard (KAME: the v4 table first); Linux scores them instead;
    - ``nodev_errno``: a zone or interface index that names no interface,
      in ``bind``, ``IPV6_JOIN_GROUP``, ``IPV6_MULTICAST_IF`` and
      ``IPV6_PKTINFO`` (KAME ``sa6_embedscope`` / ``ip6_setmoptions``:
      ``ENXIO``; Linux ``ENODEV``);
    - ``nozone_errno``: ``connect``/``sendto`` to a zone that names no
      interface (KAME ``ENXIO``; Linux finds no route: ``ENETUNREACH``);
    - ``zoneless_errno``: ``connect``/``sendto`` to a link-local address
      with no zone (KAME finds no route: ``EHOSTUNREACH``; Linux ``EINVAL``
      for ``connect``).
    """

    name: str
    platform: str
    listening: str
    listening_default: bool
    initiating: bool
    shared_ports: bool
    bind_mapped: bool
    bind_mapped_errno: int
    v6only_opt: bool
    mapped_errno: int
    af_inet6: int
    bsd_delivery: bool
    ephemeral: tuple[int, int]
    section: str
    nodev_errno: int = errno.ENXIO
    nozone_errno: int = errno.ENXIO
    zoneless_errno: int = errno.EHOSTUNREACH

    @property
    def v6only_default(self) -> int:
        return 0 if (self.listening == "enabled" or
                     (self.listening == "configurable" and self.listening_default)) else 1


def _bsd(name: str, platform: str, listening: str, default: bool, initiating: bool,
         af6: int, section: str, *, bind_mapped: bool = True) -> Profile:
    return Profile(name, platform, listening, default, initiating, False,
                   bind_mapped and listening != "not supported", errno.EADDRNOTAVAIL,
                   listening != "enabled", errno.EINVAL, af6, True, EPHEMERAL_BSD, section)


#: Profiles by name.
PROFILES: dict[str, Profile] = {p.name: p for p in (
    _bsd("bsdi3", "KAME/BSDI3", "not supported", False, False, 24, "1.12.1"),
    _bsd("freebsd228", "KAME/FreeBSD228", "not supported", False, False, 28, "1.12.1"),
    _bsd("freebsd3x", "KAME/FreeBSD3x", "configurable", True, True, 28, "1.12.2"),
    _bsd("freebsd4x", "KAME/FreeBSD4x", "configurable", True, True, 28, "1.12.2"),
    _bsd("netbsd", "KAME/NetBSD", "configurable", False, True, 24, "1.12.3",
         bind_mapped=False),
    _bsd("bsdi4", "KAME/BSDI4", "enabled", True, True, 24, "1.12.4"),
    _bsd("openbsd", "KAME/OpenBSD", "not supported", False, False, 24, "1.12.5"),
    Profile("linux", "Linux", "configurable", True, True, True, True, errno.EINVAL, True,
            errno.ENETUNREACH, 10, False, EPHEMERAL_LINUX, "host kernel",
            errno.ENODEV, errno.ENETUNREACH, errno.EINVAL),
    Profile("rfc3493", "RFC 3493", "configurable", True, True, False, True, errno.EINVAL,
            True, errno.EINVAL, 10, True, EPHEMERAL_BSD, "RFC 3493 §3.7, §5.3"),
)}


def profile_table_row(p: Profile) -> tuple[str, str, str]:
    """The §1.12 table cells a profile implies, in the seed's words."""
    if not isinstance(p, Profile):
        raise TypeError(f"a Profile, not {type(p).__name__}")
    if p.listening == "configurable":
        lst = "configurable default: " + ("enabled" if p.listening_default else "disabled")
    else:
        lst = p.listening
    return (p.platform, lst, "supported" if p.initiating else "not supported")
