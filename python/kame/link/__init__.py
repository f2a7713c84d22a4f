"""Link adapters: an in-memory link under a simulated clock, a Linux TAP
device, and pcap/pcapng files that can tap any link."""

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
    "MemoryLink",
    "PcapReader",
    "PcapRecord",
    "PcapWriter",
    "PcapngReader",
    "PcapngWriter",
    "Simulation",
    "open_capture",
]
