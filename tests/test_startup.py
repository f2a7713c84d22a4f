"""Start-up cost: what ``import kame`` and ``kame dissect`` load.

``kame dissect -r FILE -w OUT EXPR`` on a small selection is over before
Python has finished importing a large package, so the command loads the
core (which loads libpcap by its soname to compile a filter) and the
stream reader, and nothing else: not ctypes, not argparse (its words are read by hand when
they can be), not typing, re, enum, functools or collections (each costs
milliseconds, a dissection's worth), not the exception tree until an
error, not the node's modules, not the knob table (dataclasses,
inspect), not the memory link or the runner, not gzip before a
compressed capture, not ``ctypes.util`` (which runs ldconfig in a child
process) when libpcap loads by its soname. The lists are checked in a
fresh interpreter, so a new eager import turns this red.
"""

from __future__ import annotations

import ast
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
    "argparse", "asyncio", "collections", "contextlib", "ctypes.util", "dataclasses", "enum",
    "functools", "gettext", "gzip", "importlib.metadata", "inspect", "json", "kame.capture",
    "kame.cli.args", "kame.errors", "kame.knobs", "kame.link.impair", "kame.link.memory",
    "kame.link.pcap", "kame.link.runner", "kame.link.tap", "kame.node", "kame.socket", "locale",
    "random", "re", "shutil", "subprocess", "threading", "typing",
)

#: The most modules ``kame dissect -r FILE -w OUT EXPR`` may load beyond
#: those the interpreter itself starts with (``python -c pass``: 33 here):
#: kame's eight and ``__future__``. It was 58 (91 in all) before argparse,
#: typing, the exception tree and ctypes (the filter is compiled by the
#: core) left the start-up; 42 in all now.
MAX_MODULES_FILTER_WRITE = 9

#: Printed last by each child: its modules (``repr`` of a sorted list, so
#: that the child imports nothing to print them).
_PRINT_MODULES = "print(repr(sorted(sys.modules)))\n"


def _modules(code: str, *args: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    return set(ast.literal_eval(out.splitlines()[-1]))


def _kame(*words: str) -> set[str]:
    """The modules loaded by ``kame WORDS`` run as the console script runs
    it (empty when it failed)."""
    code = ("import sys\n"
            "from kame.cli.main import main\n"
            "rc = main(sys.argv[1:])\n"
            "if rc == 0:\n"
            "    " + _PRINT_MODULES +
            "else:\n"
            "    print('[]')\n")
    return _modules(code, *words)


def test_import_kame_loads_the_core_only() -> None:
    mods = _modules("import sys; import kame\n" + _PRINT_MODULES)
    ours = {m for m in mods if m.startswith("kame")}
    assert ours == {"kame", "kame._core"}, ours
    assert not mods & set(HEAVY), sorted(mods & set(HEAVY))


def test_errors_still_load_when_used() -> None:
    mods = _modules("import sys, kame\n"
                    "try:\n"
                    "    kame.parse(b'')\n"
                    "except kame.KameError as e:\n"
                    "    assert type(e).__module__ == 'kame.errors' and kame.ParseError\n"
                    + _PRINT_MODULES)
    assert "kame.errors" in mods


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
    mods = _kame("dissect", "-n", "-r", str(cap), "-w", str(out), "ip6 and tcp port 80")
    assert mods, "kame dissect failed"
    assert out.read_bytes()[24:] == rec
    # gzip brings its own (and shutil, for a compressed capture only);
    # libpcap is loaded by the core, not through ctypes
    heavy = {*HEAVY, "ctypes"} - ({"gzip", "shutil"} if gz else set())
    assert not mods & heavy, sorted(mods & heavy)
    ours = {m for m in mods if m.startswith("kame")}
    assert ours == {"kame", "kame._core", "kame.cli", "kame.cli.main", "kame.cli.dissect",
                    "kame.link", "kame.link.bpf", "kame.link.pcapio"}, ours
    if not gz:
        added = mods - _modules("import sys\n" + _PRINT_MODULES)
        assert len(added) <= MAX_MODULES_FILTER_WRITE, sorted(added)


@pytest.mark.parametrize("words", [["-n"], ["-n", "-e"], ["-n", "-v"], ["-n", "-q"],
                                   ["-n", "-c", "1"], ["-n", "-T", "json"], ["-nvv"]])
def test_dissect_without_filter_loads_no_ctypes(tmp_path: Path, words: list[str]) -> None:
    cap = tmp_path / "in.pcap"
    cap.write_bytes(bytes.fromhex("d4c3b2a10200040000000000000000000000040001000000"))
    mods = _kame("dissect", *words, "-r", str(cap))
    assert mods, "kame dissect failed"
    heavy = {*HEAVY, "ctypes"}
    assert not mods & heavy, sorted(mods & heavy)


def test_dissect_errors_still_load_when_needed(tmp_path: Path) -> None:
    """A damaged capture, a bad filter, a usage error: each is still one
    line and its status (the classes are imported when raised)."""
    cap = tmp_path / "bad.pcap"
    cap.write_bytes(b"\xd4\xc3\xb2\xa1" + bytes(10))
    for words, status, text in (
        (["-r", str(cap)], 1, "bad.pcap: "),
        (["-r", str(cap), "ip6 and"], 2, "filter: "),
        (["-T", "json", "-w", str(tmp_path / "o"), "-r", str(cap)], 2, "choose one"),
        (["-c", "x", "-r", str(cap)], 2, "not an integer"),
    ):
        r = subprocess.run([sys.executable, "-m", "kame", "dissect", *words],
                           capture_output=True, text=True, timeout=120, check=False)
        assert r.returncode == status, (words, r)
        assert text in r.stderr and r.stderr.count("\n") == 1, (words, r.stderr)


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


def test_console_script_flushes_before_it_ends_the_process(tmp_path: Path) -> None:
    """``kame dissect`` ends with ``os._exit``: what it printed to a pipe,
    the file it wrote and its status are all there."""
    sample = Path(kame.__file__).parent / "data" / "sample.pcap"
    out = tmp_path / "out.pcap"
    r = subprocess.run([sys.executable, "-m", "kame", "dissect", "-n", "-r", str(sample)],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0 and r.stdout.endswith(" dropped\n"), r
    assert len(r.stdout.splitlines()) == 18, r.stdout
    r = subprocess.run([sys.executable, "-m", "kame", "dissect", "-r", str(sample), "-w",
                        str(out), "ip6"], capture_output=True, text=True, timeout=120,
                       check=False)
    assert r.returncode == 0 and r.stderr.endswith(" dropped\n"), r
    assert out.stat().st_size > 24
    r = subprocess.run([sys.executable, "-m", "kame", "dissect", "-r", str(sample), "ip6 and"],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 2 and r.stderr.startswith("kame dissect: filter: "), r
