"""Filter expressions in the pcap-filter language, compiled by libpcap.

:func:`compile_filter` hands the expression to libpcap's own compiler
(``pcap_compile`` on a dead handle of the capture's link type, optimized,
netmask 0: what ``tcpdump -r FILE EXPR`` does) and returns the classic
BPF program as ``(code, jt, jf, k)`` tuples; the Rust core checks it
(``bpf_validate``'s rules) and runs it over every record
(``kame._core.Dissector``). The selection is therefore tcpdump's, by
construction. libpcap is the system's (Debian ``libpcap0.8``, which
tcpdump depends on); it is loaded on first use.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not ``typing``'s, nor functools: kame dissect starts without them
if TYPE_CHECKING:
    from typing import Any

__all__ = ["FilterError", "compile_filter"]

#: What ``pcap_open_dead`` is given as the snapshot length (libpcap's maximum).
SNAPLEN = 262144


#: libpcap's shared objects, newest first (Debian's libpcap0.8 installs
#: libpcap.so.0.8; upstream's soname is libpcap.so.1).
_SONAMES = ("libpcap.so.1", "libpcap.so.0.8", "libpcap.so", "libpcap.dylib")

#: LINKTYPE_ values whose DLT_ differs (libpcap's pcap-common.c).
_DLT = {101: 12}


class FilterError(ValueError):
    """The expression is not valid pcap-filter (libpcap's message)."""


#: ``struct bpf_program`` and the loaded libpcap, once made.
_MADE: dict[str, Any] = {}


def _program_type() -> Any:
    """``struct bpf_program`` (ctypes is imported on first use only: a
    dissection without a filter does not pay for it)."""
    if "program" in _MADE:
        return _MADE["program"]
    import ctypes

    class Insn(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                    ("k", ctypes.c_uint32)]

    class Program(ctypes.Structure):
        _fields_ = [("bf_len", ctypes.c_uint), ("bf_insns", ctypes.POINTER(Insn))]

    _MADE["program"] = Program
    return Program


def _libpcap() -> Any:
    if "lib" in _MADE:
        return _MADE["lib"]
    import ctypes

    program = ctypes.POINTER(_program_type())
    # The sonames first: ctypes.util.find_library runs ldconfig (or a
    # compiler) in a child process, which costs more than a small
    # capture's dissection; it is asked only when no soname loads.
    for name in (*_SONAMES, None):
        if name is None:
            import ctypes.util

            name = ctypes.util.find_library("pcap")
            if not name:
                break
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        lib.pcap_open_dead.restype = ctypes.c_void_p
        lib.pcap_open_dead.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.pcap_compile.restype = ctypes.c_int
        lib.pcap_compile.argtypes = [ctypes.c_void_p, program, ctypes.c_char_p,
                                     ctypes.c_int, ctypes.c_uint32]
        lib.pcap_geterr.restype = ctypes.c_char_p
        lib.pcap_geterr.argtypes = [ctypes.c_void_p]
        lib.pcap_freecode.argtypes = [program]
        lib.pcap_close.argtypes = [ctypes.c_void_p]
        _MADE["lib"] = lib
        return lib
    raise OSError("libpcap is not installed (Debian: libpcap0.8): filter expressions need it")


def compile_filter(expr: str, linktype: int) -> list[tuple[int, int, int, int]]:
    """The BPF program of ``expr`` for captures of ``linktype``;
    :class:`FilterError` with libpcap's message if it is not valid there."""
    if "\0" in expr:
        raise FilterError("a filter expression cannot hold a NUL character")
    lib = _libpcap()
    # libpcap takes a DLT_ value: the same number as the file's LINKTYPE_
    # but for raw IP (LINKTYPE_RAW 101 is DLT_RAW, 12 on Linux).
    handle = lib.pcap_open_dead(_DLT.get(linktype, linktype), SNAPLEN)
    if not handle:
        raise FilterError(f"libpcap does not know link type {linktype}")
    import ctypes

    prog = _program_type()()
    try:
        if lib.pcap_compile(handle, ctypes.byref(prog), expr.encode(), 1, 0) != 0:
            msg = lib.pcap_geterr(handle) or b"invalid filter expression"
            raise FilterError(msg.decode("utf-8", "replace"))
        try:
            return [(prog.bf_insns[i].code, prog.bf_insns[i].jt, prog.bf_insns[i].jf,
                     prog.bf_insns[i].k) for i in range(prog.bf_len)]
        finally:
            lib.pcap_freecode(ctypes.byref(prog))
    finally:
        lib.pcap_close(handle)
