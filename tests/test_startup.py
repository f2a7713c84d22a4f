"""Start-up cost: what ``import kame`` and ``kame dissect`` load.

``kame dissect -r FILE -w OUT EXPR`` on a small selection is over before
Python has finished importing a large package, so the command loads the
core, the exception tree, argparse, the BPF compiler's ctypes binding and
the stream reader, and nothing else of kame: not the node's modules, not
the knob table (dataclasses, inspect), not the memory link or the runner,
not gzip before a compressed capture, not ``ctypes.util`` (which runs
ldconfig in a child process) when libpcap loads by its soname. The lists
are checked in a fresh interpreter, so a new eager import turns this red.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import kame
import kame.link
from kame.cli import dissect
from kame.knobs import KNOBS

#: Never loaded by ``import kame`` nor by ``kame dissect``.
HEAVY = (
    "asyncio", "ctypes.util", "dataclasses", "gzip", "importlib.metadata", "inspect",
    "kame.capture", "kame.knobs", "kame.link.impair", "kame.link.memory", "kame.link.pcap",
    "kame.link.runner", "kame.link.tap", "kame.node", "kame.socket", "random", "subprocess",
    "threading",
)


def _modules(code: str, *args: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_import_kame_loads_the_core_and_errors_only() -> None:
    mods = _modules("import json, sys; import kame; print(json.dumps(sorted(sys.modules)))")
    ours = {m for m in mods if m.startswith("kame")}
    assert ours == {"kame", "kame._core", "kame.errors"}, ours
    assert not mods & set(HEAVY), sorted(mods & set(HEAVY))


@pytest.mark.parametrize("gz", [False, True])
def test_dissect_with_filter_and_write_loads_little(tmp_path: Path, gz: bool) -> None:
    cap = tmp_path / "in.pcap"
    # a pcap header and one IPv6/TCP-port-80 record (raw IP link type)
    tcp = bytes.fromhex("0050005000000001000000005002ffff00000000")
    ip6 = bytes.fromhex("6000000000140640") + bytes(15) + b"\x01" + bytes(15) + b"\x02"
    rec = bytes.fromhex("00000000000000000000000000000000")
    pkt = ip6 + tcp
    rec = rec[:8] + len(pkt).to_bytes(4, "little") * 2 + pkt
    data = bytes.fromhex("d4c3b2a102000400000000000000000000000400") + (101).to_bytes(4, "little")
    data += rec
    if gz:
        import gzip

        data = gzip.compress(data)
    cap.write_bytes(data)
    out = tmp_path / "out.pcap"
    code = ("import json, sys\n"
            "from kame.cli.main import main\n"
            "rc = main(sys.argv[1:])\n"
            "print(json.dumps(sorted(m for m in sys.modules if rc == 0)))\n")
    mods = _modules(code, "dissect", "-n", "-r", str(cap), "-w", str(out), "ip6 and tcp port 80")
    assert mods, "kame dissect failed"
    assert out.read_bytes()[24:] == rec
    heavy = set(HEAVY) - ({"gzip"} if gz else set())
    assert not mods & heavy, sorted(mods & heavy)
    ours = {m for m in mods if m.startswith("kame")}
    assert ours == {"kame", "kame._core", "kame.errors", "kame.cli", "kame.cli.main",
                    "kame.cli.args", "kame.cli.dissect", "kame.link", "kame.link.bpf",
                    "kame.link.pcapio"}, ours


def test_dissect_hdrnestlimit_is_the_knobs() -> None:
    k = KNOBS["net.inet6.ip6.hdrnestlimit"]
    assert dissect.HDRNESTLIMIT == (k.name, k.default, k.minimum, k.maximum)


def test_lazy_names_still_resolve() -> None:
    for name in kame.__all__:
        assert getattr(kame, name) is not None, name
    for name in kame.link.__all__:
        assert getattr(kame.link, name) is not None, name
    from kame.link import pcap, pcapio

    assert pcap.open_stream is pcapio.open_stream and pcap.GZIP_MAGIC == b"\x1f\x8b"
    assert kame.link.memory.MemoryLink is kame.link.MemoryLink
    with pytest.raises(AttributeError):
        kame.link.nothing  # noqa: B018
