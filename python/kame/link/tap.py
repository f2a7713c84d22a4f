"""A Linux TAP device: raw Ethernet frames in and out of the kernel.

Opens ``/dev/net/tun`` with ``TUNSETIFF`` (``IFF_TAP | IFF_NO_PI``), so each
``read`` returns exactly one Ethernet frame and each ``write`` sends one,
without the 4-byte packet-information header. The descriptor is
non-blocking: :meth:`TapDevice.read` returns ``None`` when nothing is
waiting; use :meth:`TapDevice.fileno` with ``select``/``selectors`` to wait.

This is the only module of the node that does I/O; the node itself stays
sans-I/O and is fed by a loop such as ``kame node --tap`` (:mod:`kame.cli.node`).
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
from types import TracebackType
from typing import Self

__all__ = ["IFF_NO_PI", "IFF_TAP", "TUNSETIFF", "TapDevice"]

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFNAMSIZ = 16
_MAX_FRAME = 65535 + 14


class TapDevice:
    """An open TAP interface. ``name`` may be a pattern such as ``"ktap%d"``;
    the kernel's chosen name is in :attr:`name` afterwards."""

    def __init__(self, name: str, *, path: str = "/dev/net/tun") -> None:
        if not name or len(name.encode()) >= IFNAMSIZ:
            raise ValueError(f"interface name {name!r} must be 1..{IFNAMSIZ - 1} bytes")
        self.fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            ifr = struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI)
            res = fcntl.ioctl(self.fd, TUNSETIFF, ifr)
        except OSError:
            os.close(self.fd)
            raise
        self.name = res[:IFNAMSIZ].rstrip(b"\0").decode()
        self.rx_frames = self.tx_frames = 0

    def fileno(self) -> int:
        return self.fd

    def read(self) -> bytes | None:
        """One frame, or ``None`` if none is waiting."""
        try:
            frame = os.read(self.fd, _MAX_FRAME)
        except BlockingIOError:
            return None
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                return None
            raise
        self.rx_frames += 1
        return frame

    def write(self, frame: bytes) -> int:
        """Send one Ethernet frame to the kernel (it arrives as received on
        the interface)."""
        n = os.write(self.fd, frame)
        self.tx_frames += 1
        return n

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
