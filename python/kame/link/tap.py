"""A Linux TAP device: raw Ethernet frames in and out of the kernel.

Opens ``/dev/net/tun`` with ``TUNSETIFF`` (``IFF_TAP | IFF_NO_PI``), so each
``read`` returns exactly one Ethernet frame and each ``write`` sends one,
without the 4-byte packet-information header. The descriptor is
non-blocking: :meth:`TapDevice.read` returns ``None`` when nothing is
waiting; use :meth:`TapDevice.fileno` with ``select``/``selectors`` to wait.

With ``offload=True`` the device is opened with ``IFF_VNET_HDR`` and
``TUNSETOFFLOAD`` (``TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN``):
the kernel then hands us TCP super-segments of up to 64 KiB with their
checksum left to complete (each read is checked and completed by
``_core.vnet_input``; a frame whose ``virtio_net_hdr`` lies is dropped and
counted in :attr:`TapDevice.ierrors`), and we write a
:class:`~kame.in6_var.TsoFrame` as one super-segment with a header asking
the kernel to cut it into segments of its ``tso_segsz``. The node learns
the capability from :attr:`TapDevice.tsomax` (set ``Ifnet.tsomax``).

This is the only module of the node that does I/O; the node itself stays
sans-I/O and is fed by a loop such as ``kame node --tap`` (:mod:`kame.cli.node`).
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
from collections.abc import Iterable
from types import TracebackType
from typing import Self

from kame import _core
from kame.errors import KameError
from kame.in6_var import TsoFrame

__all__ = ["IFF_NO_PI", "IFF_TAP", "IFF_VNET_HDR", "TUNSETIFF", "TUNSETOFFLOAD", "TapDevice"]

TUNSETIFF = 0x400454CA
TUNSETOFFLOAD = 0x400454D0
TUNSETVNETHDRSZ = 0x400454D8
IFF_TUN = 0x0001
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
TUN_F_CSUM = 0x01
TUN_F_TSO4 = 0x02
TUN_F_TSO6 = 0x04
TUN_F_TSO_ECN = 0x08
VNET_HDR_LEN = 10
IFNAMSIZ = 16
_MAX_FRAME = 65535 + 14
#: a super-segment: 64 KiB of IP packet, the Ethernet and virtio headers
_MAX_VNET = VNET_HDR_LEN + 14 + 65536 + 256
_NO_OFFLOAD = bytes(VNET_HDR_LEN)


class TapDevice:
    """An open TAP interface. ``name`` may be a pattern such as ``"ktap%d"``;
    the kernel's chosen name is in :attr:`name` afterwards."""

    def __init__(self, name: str, *, path: str = "/dev/net/tun", offload: bool = False) -> None:
        if not name or len(name.encode()) >= IFNAMSIZ:
            raise ValueError(f"interface name {name!r} must be 1..{IFNAMSIZ - 1} bytes")
        self.fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        self.offload = bool(offload)
        try:
            flags = IFF_TAP | IFF_NO_PI | (IFF_VNET_HDR if self.offload else 0)
            ifr = struct.pack("16sH", name.encode(), flags)
            res = fcntl.ioctl(self.fd, TUNSETIFF, ifr)
            if self.offload:
                fcntl.ioctl(self.fd, TUNSETVNETHDRSZ, struct.pack("i", VNET_HDR_LEN))
                fcntl.ioctl(self.fd, TUNSETOFFLOAD,
                            TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)
        except OSError:
            os.close(self.fd)
            raise
        self.name = res[:IFNAMSIZ].rstrip(b"\0").decode()
        self.rx_frames = self.tx_frames = 0
        #: frames dropped on input: a ``virtio_net_hdr`` that lies (``if_ierrors``)
        self.ierrors = 0
        #: super-segments read and written (``rx_frames``/``tx_frames`` count them too)
        self.rx_gso = self.tx_gso = 0

    @property
    def tsomax(self) -> int:
        """The largest IP packet the device segments for us: 65535 with
        offload (``Ifnet.tsomax``), else 0."""
        return 65535 if self.offload else 0

    def fileno(self) -> int:
        return self.fd

    def read(self) -> bytes | None:
        """One frame, or ``None`` if none is waiting (with offload, a frame
        whose ``virtio_net_hdr`` lies is counted in :attr:`ierrors` and the
        next one read)."""
        while True:
            try:
                if not self.offload:
                    frame = os.read(self.fd, _MAX_FRAME)
                    self.rx_frames += 1
                    return frame
                buf = os.read(self.fd, _MAX_VNET)
                if not buf:
                    return None
            except BlockingIOError:
                return None
            except OSError as e:
                if e.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                    return None
                raise
            try:
                frame, gso = _core.vnet_input(buf)
            except KameError:
                self.ierrors += 1
                continue
            self.rx_frames += 1
            if gso:
                self.rx_gso += 1
            return frame

    def read_many(self, limit: int = 256) -> list[bytes]:
        """The frames waiting, at most ``limit`` of them (one wakeup's batch):
        :meth:`read`'s loop without a call per frame, the counters added
        once."""
        if not self.offload:
            out = []
            read, fd = os.read, self.fd
            try:
                for _ in range(limit):
                    out.append(read(fd, _MAX_FRAME))
            except BlockingIOError:
                pass
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                    raise
            finally:
                self.rx_frames += len(out)
            return out
        out = []
        read, fd, vnet_input = os.read, self.fd, _core.vnet_input
        gsos = bad = 0
        try:
            while len(out) < limit:
                buf = read(fd, _MAX_VNET)
                if not buf:
                    break
                try:
                    frame, gso = vnet_input(buf)
                except KameError:
                    bad += 1
                    continue
                out.append(frame)
                if gso:
                    gsos += 1
        except BlockingIOError:
            pass
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                raise
        finally:
            self.rx_frames += len(out)
            self.rx_gso += gsos
            self.ierrors += bad
        return out

    def write(self, frame: bytes) -> int:
        """Send one Ethernet frame to the kernel (it arrives as received on
        the interface). With offload a :class:`~kame.in6_var.TsoFrame` goes
        as one super-segment for the kernel to segment at its
        ``tso_segsz``. Returns the octets of the frame written."""
        if not self.offload:
            n = os.write(self.fd, frame)
        elif type(frame) is TsoFrame and frame.tso_segsz:
            n = os.writev(self.fd, [_core.vnet_output_hdr(frame, frame.tso_segsz), frame]) \
                - VNET_HDR_LEN
            self.tx_gso += 1
        else:
            n = os.writev(self.fd, [_NO_OFFLOAD, frame]) - VNET_HDR_LEN
        self.tx_frames += 1
        return n

    def write_many(self, frames: Iterable[bytes]) -> int:
        """:meth:`write` each frame; returns how many were written (with
        offload, the plain frames' ``writev`` without a call each)."""
        if not self.offload:
            k = 0
            for f in frames:
                self.write(f)
                k += 1
            return k
        k = plain = 0
        writev, fd, hdr = os.writev, self.fd, [_NO_OFFLOAD, b""]
        try:
            for f in frames:
                if type(f) is TsoFrame and f.tso_segsz:
                    self.write(f)  # counts itself
                else:
                    hdr[1] = f
                    writev(fd, hdr)
                    plain += 1
                k += 1
        finally:
            self.tx_frames += plain
        return k

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
