"""Link adapters: an in-memory link under a simulated clock, a Linux TAP
device, pcap/pcapng files that can tap any link, deterministic impairments
(loss, reordering, duplication, delay, PMTU black holes, ECN marks) for both,
and the runner that drives nodes on TAP devices and memory links with the
real clock."""

from kame.link.impair import ImpairedTap, Impairment, blackhole, ce_marker
from kame.link.memory import Delivery, Endpoint, MemoryLink, Simulation
from kame.link.pcap import (
    PcapngReader,
    PcapngWriter,
    PcapReader,
    PcapRecord,
    PcapWriter,
    open_capture,
)
from kame.link.runner import Runner

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
