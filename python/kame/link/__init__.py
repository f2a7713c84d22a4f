"""Link adapters: an in-memory link under a simulated clock, a Linux TAP
device, and pcap/pcapng files that can tap any link."""

from kame.link.memory import Delivery, Endpoint, MemoryLink, Simulation
from kame.link.pcap import PcapngWriter, PcapReader, PcapRecord, PcapWriter

__all__ = [
    "Delivery",
    "Endpoint",
    "MemoryLink",
    "PcapReader",
    "PcapRecord",
    "PcapWriter",
    "PcapngWriter",
    "Simulation",
]
