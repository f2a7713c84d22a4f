"""`kame dissect` in the core (kame._core.Dissector, bpf_filter): the
same lines whatever the chunking and whether the file is pcap or pcapng;
any bytes give lines or a typed error; the BPF machine answers what
libpcap's own `pcap_offline_filter` answers for compiled programs; memory
stays bounded on a capture larger than it; -c, -e, -q, -T json, -w and
the options' checks."""

from __future__ import annotations

import ctypes
import io
import json
import resource
import struct
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import (
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptSrcLLAddr,
    ICMPv6PacketTooBig,
    IPv6,
    IPv6ExtHdrFragment,
)
from scapy.layers.l2 import ARP, Dot1Q, Ether

import kame._core
from kame.cli.dissect import dissect_stream
from kame.errors import KameError
from kame.link.bpf import FilterError, _libpcap, compile_filter
from kame.link.pcap import LINKTYPE_ETHERNET, PcapngWriter, PcapWriter

A, B = "02:00:00:00:00:01", "02:00:00:00:00:02"
FRAMES = [bytes(f) for f in [
    Ether(src=A, dst=B) / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=5353, dport=53) / b"abcd",
    Ether(src=A, dst=B) / IPv6(src="2001:db8::1", dst="2001:db8::2") / TCP(sport=40000, dport=80, flags="S"),
    Ether(src=A, dst=B) / IPv6(src="fe80::1", dst="ff02::1:ff00:2") /
    ICMPv6ND_NS(tgt="fe80::2") / ICMPv6NDOptSrcLLAddr(lladdr=A),
    Ether(src=B, dst=A) / IPv6(src="fe80::2", dst="fe80::1") / ICMPv6ND_NA(tgt="fe80::2", R=0, S=1),
    Ether(src=A, dst=B) / IPv6(src="2001:db8::1", dst="2001:db8::2") / ICMPv6EchoRequest(id=7, seq=9),
    Ether(src=A, dst=B) / IPv6(src="2001:db8::1", dst="2001:db8::2") /
    ICMPv6PacketTooBig(mtu=1280) / IPv6(src="2001:db8::2", dst="2001:db8::9") / UDP(),
    Ether(src=A, dst=B) / IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrFragment(offset=10, id=3) / (b"x" * 16),
    Ether(src=A, dst=B) / IP(src="192.0.2.1", dst="192.0.2.2") / ICMP(type=8, id=3, seq=4),
    Ether(src=A, dst=B) / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=7, dport=9) / b"q",
    Ether(src=A, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=A, psrc="10.0.0.1", pdst="10.0.0.2"),
    Ether(src=A, dst=B) / Dot1Q(vlan=100) / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=1, dport=2),
    Ether(src=A, dst=B, type=0x88cc) / (b"\0" * 30),
]]


def pcap(frames: list[bytes]) -> bytes:
    buf = io.BytesIO()
    w = PcapWriter(buf, LINKTYPE_ETHERNET)
    for i, f in enumerate(frames):
        w.write(i * 0.25, f)
    return buf.getvalue()


def run(data: bytes, chunks: list[int] | None = None, **kw: Any) -> tuple[str, bytes, dict[str, int]]:
    d = kame._core.Dissector(**kw)
    text, written, pos = [], [], 0
    for n in chunks or []:
        t, w, _ = d.feed(data[pos:pos + n], False)
        text.append(t)
        written.append(w)
        pos += n
    t, w, _ = d.feed(data[pos:], False)
    text.append(t)
    written.append(w)
    t, w, _ = d.feed(b"", True)
    text.append(t)
    written.append(w)
    return "".join(text), b"".join(written), d.close()


@settings(max_examples=60)
@given(st.lists(st.sampled_from(FRAMES), min_size=1, max_size=30),
       st.lists(st.integers(0, 300), max_size=40), st.integers(0, 2), st.booleans())
def test_chunking_never_changes_the_lines(frames, chunks, verbose, link):
    data = pcap(frames)
    whole = run(data, verbose=verbose, link=link)
    assert run(data, chunks, verbose=verbose, link=link) == whole
    assert whole[0].count("\n") >= len(frames)
    assert sum(whole[2].values()) - whole[2].get("offload", 0) == len(frames)


@settings(max_examples=30)
@given(st.lists(st.sampled_from(FRAMES), min_size=1, max_size=20), st.booleans())
def test_pcapng_reads_as_the_pcap_does(frames, big):
    buf = io.BytesIO()
    w = PcapngWriter(buf, LINKTYPE_ETHERNET, big_endian=big)
    for i, f in enumerate(frames):
        w.write(i * 0.25, f)
    assert run(buf.getvalue())[0] == run(pcap(frames))[0]


@settings(max_examples=200)
@given(st.binary(max_size=400), st.integers(1, 64))
def test_any_bytes_give_lines_or_a_typed_error(data, chunk):
    for blob in (data, pcap([data]), pcap([data])[: 24 + len(data) // 2]):
        d = kame._core.Dissector(verbose=2, link=True)
        for i in range(0, len(blob) + 1, chunk):
            d.feed(blob[i:i + chunk], False)
        d.feed(b"", True)
        try:
            d.close()
        except KameError:
            pass


# --- BPF: ours against libpcap's own pcap_offline_filter ----------------------------

class _Hdr(ctypes.Structure):
    _fields_ = [("sec", ctypes.c_long), ("usec", ctypes.c_long), ("caplen", ctypes.c_uint32),
                ("len", ctypes.c_uint32)]


class _Insn(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint32)]


class _Prog(ctypes.Structure):
    _fields_ = [("bf_len", ctypes.c_uint), ("bf_insns", ctypes.POINTER(_Insn))]


def libpcap_filter(prog: list[tuple[int, int, int, int]], pkt: bytes, wirelen: int) -> int:
    arr = (_Insn * len(prog))(*[_Insn(*i) for i in prog])
    p = _Prog(len(prog), arr)
    h = _Hdr(0, 0, len(pkt), wirelen)
    lib = _libpcap()
    lib.pcap_offline_filter.argtypes = [ctypes.POINTER(_Prog), ctypes.POINTER(_Hdr), ctypes.c_char_p]
    return int(lib.pcap_offline_filter(ctypes.byref(p), ctypes.byref(h), pkt))


EXPRS = ["ip6", "icmp6", "tcp port 80", "udp and port 53", "host 2001:db8::2", "net 2001:db8::/64",
         "ip6[40] == 135", "vlan 100", "vlan and ip6", "arp", "ether src 02:00:00:00:00:01",
         "ip6 protochain 44", "tcp[tcpflags] & tcp-syn != 0", "greater 80", "ip[6:2] & 0x1fff != 0",
         "icmp[icmptype] == icmp-echo", "ip6[48:4] == 0x61626364", "udp[8:4] == 0x61626364",
         "ether multicast",
         "len <= 60", "not ip and not ip6"]
PROGS = {e: compile_filter(e, LINKTYPE_ETHERNET) for e in EXPRS}


@settings(max_examples=300)
@given(st.one_of(st.sampled_from(FRAMES), st.binary(max_size=120),
                 st.sampled_from(FRAMES).flatmap(lambda f: st.integers(0, len(f)).map(lambda n: f[:n]))),
       st.sampled_from(EXPRS), st.integers(0, 2000))
def test_bpf_machine_answers_what_libpcap_answers(pkt, expr, extra):
    prog = PROGS[expr]
    wirelen = len(pkt) + extra
    assert kame._core.bpf_filter(prog, pkt, wirelen) == libpcap_filter(prog, pkt, wirelen)


def test_bpf_programs_are_checked():
    with pytest.raises(ValueError, match="refused at instruction 0"):
        kame._core.bpf_filter([(0x15, 3, 0, 0), (6, 0, 0, 0)], b"")
    with pytest.raises(ValueError):
        kame._core.bpf_filter([], b"")
    with pytest.raises(ValueError):  # a division by a constant zero
        kame._core.bpf_filter([(0x34, 0, 0, 0), (6, 0, 0, 1)], b"")
    with pytest.raises(FilterError, match="syntax error"):
        compile_filter("ip6 and", LINKTYPE_ETHERNET)


# --- Options ---------------------------------------------------------------------------

def test_count_link_quiet_json_and_write():
    data = pcap(FRAMES)
    text, _, tally = run(data, count=3)
    assert text.count("\n") == 3 and sum(tally.values()) == 3
    text, _, _ = run(data, link=True)
    assert "02:00:00:00:00:01 > 02:00:00:00:00:02, ethertype IPv6 (0x86dd), length 66: IP6" in text
    assert ", vlan 100, ethertype IPv6" in text
    text, _, _ = run(data, quiet=True)
    assert "2001:db8::1.40000 > 2001:db8::2.80: tcp 0  [ok]" in text
    text, _, _ = run(data, json=True)
    objs = [json.loads(line) for line in text.splitlines()]
    assert [o["frame"] for o in objs] == list(range(1, len(FRAMES) + 1))
    assert objs[0]["sport"] == 5353 and objs[4]["icmp_type"] == 128 and objs[9]["verdict"] == "ok"
    assert objs[11]["verdict"] == "not ip" and "src" not in objs[11]
    _, written, _ = run(data, write=True, filters={LINKTYPE_ETHERNET: PROGS["ip6"]})
    assert written[:24] == data[:24]
    assert len(written) < len(data) and struct.unpack_from("<I", written, 32)[0] == len(FRAMES[0])


def test_verbose_words_are_tcpdump_s():
    text, _, _ = run(pcap(FRAMES), verbose=1)
    assert "ICMP6, neighbor solicitation, who has fe80::2, length 32" in text
    assert "\n\t  source link-address option (1), length 8 (1): 02:00:00:00:00:01" in text
    assert "ICMP6, neighbor advertisement, tgt is fe80::2, length 24" in text
    assert "\n\t  Flags [solicited, override]" in text
    assert "ICMP6, echo request, id 7, seq 9, length 8" in text
    assert "ICMP6, packet too big, mtu 1280, length" in text
    assert "ICMP echo request, id 3, seq 4, length 8" in text


def test_filter_on_another_link_type_is_a_filter_error():
    d = kame._core.Dissector(filters={LINKTYPE_ETHERNET: "not for this link type"})
    raw = io.BytesIO()
    PcapWriter(raw, 101).write(0.0, bytes(IPv6()))
    text, _, stop = d.feed(raw.getvalue(), True)
    assert text == "" and stop
    with pytest.raises(ValueError, match="no filter program for link type 101"):
        d.close()


def test_a_capture_larger_than_memory_streams(tmp_path):
    """200 MB through standard input: the process stays small (the core
    holds one chunk and one record)."""
    gen = ("import sys, struct\n"
           "from kame.link.pcap import PcapWriter\n"
           "import io\n"
           "b = io.BytesIO(); w = PcapWriter(b, 1)\n"
           f"frame = {FRAMES[0]!r} + bytes(1400)\n"
           "for i in range(1000): w.write(i / 1000, frame)\n"
           "v = b.getvalue(); out = sys.stdout.buffer; out.write(v)\n"
           "rec = v[24:]\n"
           "for _ in range(140): out.write(rec)\n")
    p1 = subprocess.Popen([sys.executable, "-c", gen], stdout=subprocess.PIPE)
    measure = ("import resource, subprocess, sys\n"
               "r = subprocess.run([sys.executable, '-m', 'kame.cli.main', 'dissect', '-q', '-'],"
               " stdout=subprocess.DEVNULL)\n"
               "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    r = subprocess.run([sys.executable, "-c", measure], stdin=p1.stdout, capture_output=True,
                       text=True, check=True)
    p1.wait()
    rc, maxrss_kb = map(int, r.stdout.split())
    assert rc == 0
    assert maxrss_kb < 120_000, maxrss_kb  # the interpreter and kame alone are ~60 MB
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0


def test_dissect_stream_filter_and_count():
    out = io.StringIO()
    tally = dissect_stream(io.BytesIO(pcap(FRAMES)), out, expr="ip6 and not vlan", count=2)
    assert sum(tally.values()) == 2 and out.getvalue().count("\n") == 2
    with pytest.raises(FilterError):
        dissect_stream(io.BytesIO(pcap(FRAMES)), out, expr="ip6 and")


def test_progress_bar_on_a_terminal_only(tmp_path):
    """A long file (16 MiB or more): a bar on standard error when it is a
    terminal, cleared at the end; nothing when it is not."""
    import os
    import pty
    path = tmp_path / "long.pcap"
    data = pcap([FRAMES[0] + bytes(1400)] * 12_000)
    assert len(data) > 16 << 20
    path.write_bytes(data)
    master, slave = pty.openpty()
    r = subprocess.run([sys.executable, "-m", "kame.cli.main", "dissect", "-q", str(path)],
                       stdout=subprocess.DEVNULL, stderr=slave, check=False)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert r.returncode == 0
    assert b"\r[" in seen and b"%" in seen and seen.endswith(b"\r\x1b[K"), seen[-80:]
    r2 = subprocess.run([sys.executable, "-m", "kame.cli.main", "dissect", "-q", str(path)],
                        capture_output=True, check=False)
    assert r2.returncode == 0 and r2.stderr == b""


#: Expressions for the compiler comparison: valid on some link types,
#: not on others, or on none.
COMPILE_EXPRS = ["ip6 and tcp port 80", "ip", "arp", "ether host 02:00:00:00:00:01", "vlan 100",
                 "icmp6 and ip6[40] == 135", "ip6 protochain 44", "greater 1000", "ip6 and",
                 "port 99999", "tcp[tcpflags] & tcp-syn != 0", "", "not not ip6", "host ::1"]
COMPILE_LINKTYPES = [0, 1, 101, 108, 113, 228, 229, 276, 147, 2**31 - 1]


def _core_and_ctypes_compile(expr: str, lt: int) -> tuple[Any, Any]:
    """The program (or the refusal's text) of ``expr`` on link type ``lt``
    from the core, then from libpcap through ctypes."""
    try:
        want: Any = compile_filter(expr, lt)
    except FilterError as e:
        want = str(e)
    try:
        got: Any = kame._core.pcap_compile(expr, lt)
    except ValueError as e:
        got = str(e)
    return got, want


@pytest.mark.parametrize("expr", COMPILE_EXPRS)
def test_core_compiles_as_libpcap_through_ctypes(expr):
    """kame dissect compiles in the core (libpcap loaded by soname, no
    ctypes): the same programs, and the same refusals, as libpcap called
    through ctypes."""
    for lt in COMPILE_LINKTYPES:
        got, want = _core_and_ctypes_compile(expr, lt)
        assert got == want, (expr, lt)


def test_core_compile_refuses_what_it_cannot_pass():
    with pytest.raises(ValueError, match="NUL"):
        kame._core.pcap_compile("ip6\0", 1)
    with pytest.raises(ValueError):
        kame._core.pcap_compile("ip6", 2**32 - 1)
    with pytest.raises((ValueError, OverflowError)):
        kame._core.pcap_compile("ip6", -1)


@given(st.text(max_size=40), st.sampled_from(COMPILE_LINKTYPES))
@settings(max_examples=150)
def test_core_compile_answers_any_text_as_ctypes_does(expr, lt):
    got, want = _core_and_ctypes_compile(expr, lt)
    assert got == want
