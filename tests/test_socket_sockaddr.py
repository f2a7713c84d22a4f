"""sockaddr_in6 / sockaddr_storage (§1.13) in the Linux and BSD layouts:
offsets against gcc's offsetof on the host's <netinet/in.h> and on the BSD
4.4 struct (sin6_len first), bytes against glibc's getaddrinfo ai_addr,
and bad input as typed errors."""

from __future__ import annotations

import ctypes
import shutil
import socket
import subprocess
from ipaddress import IPv6Address as A

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kame.errors import MalformedError, ParseError, TruncatedError
from kame.socket import (
    PROFILES,
    SIN6_LEN,
    SS_LEN,
    pack_sockaddr_in,
    pack_sockaddr_in6,
    sockaddr_family,
    sockaddr_storage,
    unpack_sockaddr_in6,
)

C = r"""
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
struct bsd_in6_addr { uint8_t bsd_s6_addr[16]; };
struct bsd_sockaddr_in6 {           /* 4.4BSD / KAME <netinet6/in6.h> */
    uint8_t  sin6_len;
    uint8_t  sin6_family;
    uint16_t sin6_port;
    uint32_t sin6_flowinfo;
    struct bsd_in6_addr sin6_addr;
    uint32_t sin6_scope_id;
};
struct bsd_sockaddr_storage {       /* RFC 3493 / XNET names (§1.13) */
    uint8_t ss_len; uint8_t ss_family; char __ss_pad1[6]; int64_t __ss_align;
    char __ss_pad2[128 - 2 - 6 - 8];
};
int main(void) {
    printf("%zu %zu %zu %zu %zu %zu\n", offsetof(struct sockaddr_in6, sin6_family),
           offsetof(struct sockaddr_in6, sin6_port), offsetof(struct sockaddr_in6, sin6_flowinfo),
           offsetof(struct sockaddr_in6, sin6_addr), offsetof(struct sockaddr_in6, sin6_scope_id),
           sizeof(struct sockaddr_in6));
    printf("%zu %zu %zu %zu %zu %zu\n", offsetof(struct bsd_sockaddr_in6, sin6_family),
           offsetof(struct bsd_sockaddr_in6, sin6_port),
           offsetof(struct bsd_sockaddr_in6, sin6_flowinfo),
           offsetof(struct bsd_sockaddr_in6, sin6_addr),
           offsetof(struct bsd_sockaddr_in6, sin6_scope_id), sizeof(struct bsd_sockaddr_in6));
    printf("%zu %zu %zu\n", sizeof(struct sockaddr_storage),
           offsetof(struct sockaddr_storage, ss_family), sizeof(struct bsd_sockaddr_storage));
    printf("%d %zu\n", AF_INET6, sizeof(struct sockaddr_in));
    return 0;
}
"""


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> list[list[int]]:
    if shutil.which("gcc") is None:
        pytest.skip("no gcc")
    d = tmp_path_factory.mktemp("sa")
    (d / "sa.c").write_text(C)
    subprocess.run(["gcc", "-o", str(d / "sa"), str(d / "sa.c")], check=True, timeout=60)
    out = subprocess.run([str(d / "sa")], capture_output=True, text=True, check=True).stdout
    return [[int(x) for x in ln.split()] for ln in out.splitlines()]


def field_offsets(layout_name: str) -> list[int]:
    """Where our bytes put each field: found by packing distinct values."""
    sa = pack_sockaddr_in6(A("1:2:3:4:5:6:7:8"), 0xA1B2, 0x0C0D0E0F, 0x11223344,
                           layout=layout_name)
    port = sa.index(bytes.fromhex("a1b2"))
    flow = sa.index(bytes.fromhex("0c0d0e0f"))
    addr = sa.index(A("1:2:3:4:5:6:7:8").packed)
    scope = sa.index((0x11223344).to_bytes(4, "little"))
    fam = 1 if layout_name != "linux" else 0
    return [fam, port, flow, addr, scope, len(sa)]


def test_linux_layout_equals_netinet_in_h(layout: list[list[int]]) -> None:
    assert field_offsets("linux") == layout[0]
    assert SS_LEN == layout[2][0] and layout[2][1] == 0
    assert layout[3] == [socket.AF_INET6, 16]
    assert len(pack_sockaddr_in("1.2.3.4", 5)) == layout[3][1]


@pytest.mark.parametrize("name", [p for p in PROFILES if p not in ("linux", "rfc3493")])
def test_bsd_layout_sin6_len_first(layout: list[list[int]], name: str) -> None:
    assert field_offsets(name) == layout[1]
    sa = pack_sockaddr_in6("fe80::1", 80, 0, 2, layout=name)
    assert sa[0] == SIN6_LEN == layout[1][5] and sa[1] == PROFILES[name].af_inet6
    assert SS_LEN == layout[2][2]


def glibc_ai_addr(host: str, port: str) -> bytes:
    libc = ctypes.CDLL("libc.so.6")

    class AddrInfo(ctypes.Structure):
        pass

    AddrInfo._fields_ = [("ai_flags", ctypes.c_int), ("ai_family", ctypes.c_int),
                         ("ai_socktype", ctypes.c_int), ("ai_protocol", ctypes.c_int),
                         ("ai_addrlen", ctypes.c_uint32), ("ai_addr", ctypes.c_void_p),
                         ("ai_canonname", ctypes.c_char_p),
                         ("ai_next", ctypes.POINTER(AddrInfo))]
    hints = AddrInfo()
    hints.ai_flags = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
    hints.ai_socktype = socket.SOCK_DGRAM
    res = ctypes.POINTER(AddrInfo)()
    assert libc.getaddrinfo(host.encode(), port.encode(), ctypes.byref(hints),
                            ctypes.byref(res)) == 0
    try:
        return ctypes.string_at(res.contents.ai_addr, res.contents.ai_addrlen)
    finally:
        libc.freeaddrinfo(res)


@pytest.mark.parametrize("host,port,scope", [("fe80::1%1", "80", 1), ("::1", "53", 0),
                                             ("2001:db8::1234", "65535", 0),
                                             ("ff02::1%1", "0", 1)])
def test_bytes_equal_glibc_getaddrinfo(host: str, port: str, scope: int) -> None:
    ours = pack_sockaddr_in6(host.split("%")[0], int(port), 0, scope)
    assert ours == glibc_ai_addr(host, port)
    assert unpack_sockaddr_in6(ours) == (A(host.split("%")[0]), int(port), 0, scope)
    assert glibc_ai_addr("192.0.2.1", "7") == pack_sockaddr_in("192.0.2.1", 7)


@given(st.integers(0, 2**128 - 1), st.integers(0, 65535), st.integers(0, 2**20 - 1),
       st.integers(0, 2**32 - 1), st.sampled_from(["linux", "netbsd", "freebsd4x"]))
def test_roundtrip_and_storage(a: int, port: int, flow: int, scope: int, lay: str) -> None:
    sa = pack_sockaddr_in6(A(a), port, flow, scope, layout=lay)
    ss = sockaddr_storage(sa)
    assert len(ss) == SS_LEN
    assert unpack_sockaddr_in6(ss, layout=lay) == (A(a), port, flow, scope)
    assert sockaddr_family(ss, layout=lay) == (socket.AF_INET6 if lay == "linux"
                                               else PROFILES[lay].af_inet6)


@given(st.binary(max_size=40), st.sampled_from(["linux", "netbsd"]))
def test_garbage_is_a_typed_error(b: bytes, lay: str) -> None:
    try:
        unpack_sockaddr_in6(b, layout=lay)
    except ParseError:
        pass


def test_wrong_len_and_family() -> None:
    sa = bytearray(pack_sockaddr_in6("::1", layout="netbsd"))
    sa[0] = 16
    with pytest.raises(MalformedError):
        unpack_sockaddr_in6(bytes(sa), layout="netbsd")
    with pytest.raises(MalformedError):
        unpack_sockaddr_in6(pack_sockaddr_in6("::1", layout="freebsd4x"), layout="netbsd")
    with pytest.raises(TruncatedError):
        unpack_sockaddr_in6(b"\x0a\x00", layout="linux")
    with pytest.raises(ValueError):
        pack_sockaddr_in6("::1", layout="windows")

