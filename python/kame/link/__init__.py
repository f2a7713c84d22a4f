"""Link adapters: an in-memory link under a simulated clock, a Linux TAP
device, pcap/pcapng files that can tap any link, and deterministic
impairments (loss, reordering, duplication, delay, PMTU black holes, ECN
marks) for both."""

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
    "Simulation",
    "blackhole",
    "ce_marker",
    "open_capture",
]
