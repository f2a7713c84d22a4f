"""Enter a named network namespace from inside a process: what the node
children (router_node.py, gif_tapnode.py) do before opening each TAP
device there. Kept apart from netns_rig.py, which imports pytest, so that
those scripts, run as plain ``python``, can import it from beside them."""

from __future__ import annotations

import ctypes
import os

CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)


def setns(ns: str) -> None:
    """Move this thread into ``/run/netns/NS`` (``ip netns add``'s)."""
    fd = os.open("/run/netns/" + ns, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns " + ns)
    finally:
        os.close(fd)
