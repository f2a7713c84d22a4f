"""What the TAP/netns interop tests share: a throw-away network namespace
and `ip netns exec`. Imported by the test modules beside it (pytest puts
this folder on sys.path, as it has no __init__.py)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def ipns(ns: str, *args: str, check: bool = True, timeout: float = 60,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command inside namespace ``ns``."""
    return subprocess.run(["ip", "netns", "exec", ns, *args], capture_output=True, text=True,
                          timeout=timeout, check=check, env=env)


@contextmanager
def fresh_netns(prefix: str) -> Iterator[str]:
    """A new namespace named ``prefix-XXXXXXXX``, deleted afterwards; the
    test is skipped when namespaces cannot be made here."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    try:
        subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True, timeout=30)
    except subprocess.CalledProcessError as e:
        pytest.skip(f"cannot create a network namespace: {e.stderr.strip()}")
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30, check=False)


class TapPort:
    """A TAP device whose descriptor this process holds, its interface moved
    into namespace ``ns``: a port that plugs the test (or a node the test
    runs) into that namespace's network. A frame written here arrives there
    as received on the interface; a frame sent there out of the interface
    is read here. ``tap`` is the :class:`kame.link.tap.TapDevice` (hand it
    to a node's loop); ``name`` the interface's unique name."""

    def __init__(self, ns: str, prefix: str) -> None:
        from kame.link.tap import TapDevice

        self.name = f"{prefix}{uuid.uuid4().hex[:15 - len(prefix)]}"
        self.tap = TapDevice(self.name)
        try:
            subprocess.run(["ip", "link", "set", self.name, "netns", ns], check=True,
                           capture_output=True, timeout=30)
        except Exception:
            self.tap.close()
            raise

    def fileno(self) -> int:
        return self.tap.fileno()

    def write(self, frame: bytes) -> None:
        self.tap.write(frame)

    def read_all(self) -> list[bytes]:
        """Every frame waiting now."""
        out = []
        while (f := self.tap.read()) is not None:
            out.append(f)
        return out

    def close(self) -> None:
        self.tap.close()
