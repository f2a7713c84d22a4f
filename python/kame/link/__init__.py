"""Link adapters: an in-memory link under a simulated clock, a Linux TAP
device, pcap/pcapng files that can tap any link, deterministic impairments
(loss, reordering, duplication, delay, PMTU black holes, ECN marks) for both,
and the runner that drives nodes on TAP devices and memory links with the
real clock.

The names below load on first use (PEP 562): ``kame dissect`` imports
``kame.link.bpf`` and ``kame.link.pcapio`` without the memory link, the
impairments or the runner."""

from __future__ import annotations

TYPE_CHECKING = False  # not ``typing``'s: kame dissect starts without it

__all__ = [
    "Delivery",
    "Endpoint",
    "ImpairedTap",
    "Impairment",
    "MemoryLink",
    "PcapReader",
    "PcapRecord",
    "PcapWriter",
    "PcapngReader",
    "PcapngWriter",
    "Runner",
    "Simulation",
    "blackhole",
    "ce_marker",
    "open_capture",
]

#: Each public name and the module that defines it.
_LAZY: dict[str, str] = {
    "ImpairedTap": "kame.link.impair",
    "Impairment": "kame.link.impair",
    "blackhole": "kame.link.impair",
    "ce_marker": "kame.link.impair",
    "Delivery": "kame.link.memory",
    "Endpoint": "kame.link.memory",
    "MemoryLink": "kame.link.memory",
    "Simulation": "kame.link.memory",
    "PcapngReader": "kame.link.pcap",
    "PcapngWriter": "kame.link.pcap",
    "PcapReader": "kame.link.pcap",
    "PcapRecord": "kame.link.pcap",
    "PcapWriter": "kame.link.pcap",
    "open_capture": "kame.link.pcap",
    "Runner": "kame.link.runner",
}

#: The submodules ``kame.link.X`` reaches without an import (as when this
#: package imported them all).
_SUBMODULES = frozenset({"bpf", "impair", "memory", "pcap", "pcapio", "runner", "tap"})

if TYPE_CHECKING:
    from typing import Any

    from kame.link import bpf as bpf
    from kame.link import impair as impair
    from kame.link import memory as memory
    from kame.link import pcap as pcap
    from kame.link import pcapio as pcapio
    from kame.link import runner as runner
    from kame.link import tap as tap
    from kame.link.impair import ImpairedTap as ImpairedTap
    from kame.link.impair import Impairment as Impairment
    from kame.link.impair import blackhole as blackhole
    from kame.link.impair import ce_marker as ce_marker
    from kame.link.memory import Delivery as Delivery
    from kame.link.memory import Endpoint as Endpoint
    from kame.link.memory import MemoryLink as MemoryLink
    from kame.link.memory import Simulation as Simulation
    from kame.link.pcap import PcapngReader as PcapngReader
    from kame.link.pcap import PcapngWriter as PcapngWriter
    from kame.link.pcap import PcapReader as PcapReader
    from kame.link.pcap import PcapRecord as PcapRecord
    from kame.link.pcap import PcapWriter as PcapWriter
    from kame.link.pcap import open_capture as open_capture
    from kame.link.runner import Runner as Runner


def __getattr__(name: str) -> Any:
    import importlib

    mod = _LAZY.get(name)
    if mod is None:
        if name in _SUBMODULES:
            return importlib.import_module(f"kame.link.{name}")
        raise AttributeError(f"module 'kame.link' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)
