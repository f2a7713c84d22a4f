"""Link adapters: an in-memory link under a simulated clock, a Linux TAP
device, pcap/pcapng files that can tap any link, and the runner that drives
nodes on TAP devices and memory links with the real clock."""

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
    "MemoryLink",
    "PcapReader",
    "PcapRecord",
    "PcapWriter",
    "PcapngReader",
    "PcapngWriter",
    "Runner",
    "Simulation",
    "open_capture",
]
