"""kame.tcp beyond the plain link (issue 9 item 1), two of our nodes on the
memory link, tshark the independent dissector of what crossed it:

- over IPsec, ESP transport and ESP tunnel (seed §4.3, KAME
  ``ipsec6_hdrsiz``): the segment size shrinks by the ESP (and outer
  header) overhead, so a full segment still fits the link after ESP: no
  fragment on the wire; tshark decrypts every ESP packet with the keys
  (``esp_sa``), finds its ICV good and a well-formed TCP segment inside.
  (The Linux kernel here has ESP compiled out, ``ip xfrm state add`` fails
  with "Requested type not found", so it cannot be the peer.)
- over jumbograms (RFC 2675 §4-5) on a link with a 200000-octet MTU: MSS
  65535 ("infinity") on the SYN, the MSS from the interface MTU, segments
  longer than 65535 in Jumbo Payload options, byte-exact; tshark dissects
  them with no malformed or bad-checksum mark.
- PLPMTUD black-hole detection (RFC 4821, RFC 2923 §2.1, FreeBSD
  ``net.inet.tcp.pmtud_blackhole_detection``): a router drops full-size
  packets without Packet Too Big; after two retransmission timeouts the
  MSS drops to ``v6pmtud_blackhole_mss`` (1220), the transfer completes,
  the counters say so (off, FreeBSD's default: nothing helps).
- ECN (RFC 3168) through an ESP tunnel that follows the seed's §4.6 ECN
  table (``net.inet6.ipsec6.ecn``): a router marks CE on the outer header;
  with ``ecn`` 1 the CE reaches the inner header at decapsulation, the
  receiver answers with ECE until CWR, the sender reduces its window once
  per round trip; with ``ecn`` 0 the outer header is Not-ECT and nothing
  is marked. The same through a gif(4) tunnel (:mod:`kame.tunnel`) for
  the table's four settings.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from ipaddress import IPv6Address
from pathlib import Path
from typing import Any

import pytest
import tcp_pair
from hypothesis import given, settings
from hypothesis import strategies as st
from tcp_pair import A, B

from kame import _core
from kame.key.setkey import run as setkey
from kame.link.impair import blackhole, ce_marker

pytestmark = pytest.mark.interop  # tshark judges the captures

EK_AB, EK_BA = "11" * 16, "22" * 16
AK_AB, AK_BA = "33" * 20, "44" * 20
TSHARK = shutil.which("tshark")


class Pair(tcp_pair.Pair):
    """Two nodes on one memory link, a capture of every frame sent."""

    port = 47000
    tries = 400
    send_chunk, recv_chunk = 262144, 1 << 20

    def __init__(self, *, mtu: int = 1500, knobs: dict[str, int] | None = None,
                 seed: int = 0) -> None:
        super().__init__("linux", knobs, seed, mtu=mtu, capture=True)


def keys(p: Pair, conf_a: str, conf_b: str) -> None:
    ka, kb = p.a.attach_key(), p.b.attach_key()
    assert not setkey(conf_a, ka.engine, p.sim.now).errors
    assert not setkey(conf_b, kb.engine, p.sim.now).errors


def ipv6_frames(p: Pair) -> list[bytes]:
    return [f[14:] for _, f in p.frames if f[12:14] == b"\x86\xdd"]


def tshark(pcap: Path, fields: list[str], *opts: str, display: str = "") -> list[dict[str, Any]]:
    """One row per packet: the fields tshark gives (lists of strings)."""
    assert TSHARK is not None, "tshark is a peer of these tests (.ci/run installs it)"
    cmd = [TSHARK, "-r", str(pcap), "-n", "-T", "json", *opts]
    for f in fields:
        cmd += ["-e", f]
    if display:
        cmd += ["-Y", display]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout
    return [r["_source"]["layers"] for r in json.loads(out or "[]")]


def clean(rows: list[dict[str, Any]]) -> None:
    """No malformed packet, no bad checksum, no error-severity expert mark."""
    for r in rows:
        assert "_ws.malformed" not in r, r
        assert "tcp.checksum.status" not in r or r["tcp.checksum.status"] == ["2"] or \
            r["tcp.checksum.status"] == ["1"], r
        sev = [int(s) for s in r.get("_ws.expert.severity", [])]
        assert not [s for s in sev if s >= 0x800000], r


CHECKS = ["-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"]
EXPERT = ["_ws.malformed", "_ws.expert.severity", "tcp.checksum.status", "tcp.len",
          "tcp.analysis.flags"]


# --- TCP over IPsec ------------------------------------------------------------------

SAS = f"""
add {A} {B} esp 0x1000 -m MODE -E rijndael-cbc 0x{EK_AB} -A hmac-sha1 0x{AK_AB};
add {B} {A} esp 0x2000 -m MODE -E rijndael-cbc 0x{EK_BA} -A hmac-sha1 0x{AK_BA};
"""


def ipsec_conf(mode: str, me: str, peer: str) -> str:
    req = f"esp/tunnel/{me}-{peer}/require" if mode == "tunnel" else "esp/transport//require"
    back = f"esp/tunnel/{peer}-{me}/require" if mode == "tunnel" else "esp/transport//require"
    return SAS.replace("MODE", mode) + f"""
spdadd {me} {peer} tcp -P out ipsec {req};
spdadd {peer} {me} tcp -P in ipsec {back};"""


def esp_uats() -> list[str]:
    out: list[str] = []
    for spi, ek, ak in ((0x1000, EK_AB, AK_AB), (0x2000, EK_BA, AK_BA)):
        out += ["-o", (f'uat:esp_sa:"IPv6","*","*","0x{spi:08x}","AES-CBC [RFC3602]","0x{ek}",'
                f'"HMAC-SHA-1-96 [RFC2404]","0x{ak}"')]
    return out


@pytest.mark.parametrize("mode", ["transport", "tunnel"])
def test_tcp_over_esp_shrinks_the_segment(mode: str, tmp_path: Path) -> None:
    p = Pair()
    keys(p, ipsec_conf(mode, A, B), ipsec_conf(mode, B, A))
    _srv, cli, conn = p.connect()
    # ESP with AES-CBC and HMAC-SHA-1-96: 8 header + 16 IV + up to 15
    # padding + 2 trailer + 12 ICV = 53; tunnel mode: 40 more
    over = 53 + (40 if mode == "tunnel" else 0)
    for s in (cli, conn):
        assert s.tcp_info()["mss"] == 1500 - 60 - over - 12, s.tcp_info()
    data = random.Random(2).randbytes(300_000)
    assert p.pump(cli, conn, data) == data
    assert p.pump(conn, cli, data[:100_000]) == data[:100_000]
    wire = ipv6_frames(p)
    esp = [f for f in wire if f[6] == 50]
    assert len(esp) > 200 and not [f for f in wire if f[6] == 6], "TCP went out in clear"
    assert max(len(f) for f in esp) <= 1500 and max(len(f) for f in esp) > 1400
    for n in (p.a, p.b):
        assert n.stats["ip6s_fragmented"] == 0 and n.stats["ip6s_cantfrag"] == 0
        assert n.key.stats["in_espauthfail"] == 0 and n.key.stats["in_polvio"] == 0
    # tshark decrypts every ESP packet, checks its ICV, dissects the TCP inside
    rows = tshark(p.pcap(tmp_path / "esp.pcap"), ["esp.spi", "esp.icv_good", "esp.icv_bad",
                                                   *EXPERT],
                  "-o", "esp.enable_encryption_decode:TRUE",
                  "-o", "esp.enable_authentication_check:TRUE", *CHECKS, *esp_uats(),
                  display="esp")
    assert len(rows) == len(esp)
    assert all(r.get("esp.icv_good") == ["1"] and r.get("esp.icv_bad", ["0"]) == ["0"]
               for r in rows), rows[:3]
    assert sum(int(r.get("tcp.len", ["0"])[0]) for r in rows) >= 400_000
    clean(rows)


def test_hdrsiz_counts_each_request() -> None:
    """``ipsec6_hdrsiz``: 0 without a policy; ESP and AH of the SAs in use;
    KAME's estimate without an SA; the outer header of tunnel mode."""
    p = Pair()
    k = p.a.attach_key()
    a, b = IPv6Address(A), IPv6Address(B)
    assert k.hdrsiz(a, b, 6, 1, 80) == 0
    setkey(f"spdadd {A} {B} tcp -P out ipsec esp/transport//require "
           f"ah/transport//require;", k.engine, 0)
    assert k.hdrsiz(a, b, 6, 1, 80) == (8 + 16 + 17 + 32) + (12 + 32)  # no SAs yet
    assert k.hdrsiz(a, b, 17, 1, 53) == 0
    setkey(f"add {A} {B} esp 0x1000 -m transport -E rijndael-cbc 0x{EK_AB} -A hmac-sha1 "
           f"0x{AK_AB}; add {A} {B} ah 0x1001 -m transport -A hmac-sha256 0x{'55' * 32};",
           k.engine, 0)
    assert k.hdrsiz(a, b, 6, 1, 80) == 53 + (12 + 12)  # ICV 96 bits (seed §4.5), 8-aligned
    setkey("spdflush;" f"spdadd {A} {B} tcp -P out ipsec esp/tunnel/{A}-{B}/require;",
           k.engine, 0)
    setkey(f"add {A} {B} esp 0x1002 -m tunnel -E null -A hmac-sha1 0x{AK_AB};", k.engine, 0)
    assert k.hdrsiz(a, b, 6, 1, 80) == 8 + 3 + 2 + 12 + 40  # null: 4-octet alignment


# --- jumbograms ------------------------------------------------------------------------

JUMBO_MTU = 200_000


def test_tcp_over_jumbograms(tmp_path: Path) -> None:
    p = Pair(mtu=JUMBO_MTU, knobs={"net.inet.tcp.sendspace": 4 << 20,
                                    "net.inet.tcp.recvspace": 4 << 20})
    _srv, cli, conn = p.connect()
    syns = [f for f in ipv6_frames(p) if f[6] == 6 and f[40 + 13] & 0x02]
    assert syns
    for f in syns:  # RFC 2675 §5: MSS 65535 on the SYN and SYN,ACK, "infinity"
        assert f[40 + 20:40 + 24] == b"\x02\x04\xff\xff", f[40:80].hex()
    for s in (cli, conn):  # MSS from the interface MTU (RFC 2675 §5), less the
        # 8-octet Hop-by-Hop header of the jumbogram and 12 of timestamps
        assert s.tcp_info()["mss"] == JUMBO_MTU - 60 - 8 - 12
    data = random.Random(3).randbytes(3_000_000)
    assert p.pump(cli, conn, data) == data
    jumbos = [f for f in ipv6_frames(p) if f[4:6] == b"\0\0" and f[6] == 0]
    assert len(jumbos) >= 10
    for f in jumbos:
        assert f[40:44] == b"\x06\x00\xc2\x04"
        assert int.from_bytes(f[44:48], "big") == len(f) - 40 > 65535
    assert max(len(f) for f in jumbos) == JUMBO_MTU
    assert p.a.stats["ip6s_fragmented"] == 0 and p.a.stats["tcps_sndrexmitpack"] == 0
    assert p.link.dropped == 0
    rows = tshark(p.pcap(tmp_path / "jumbo.pcap"), ["ipv6.opt.jumbo",
                                                     "ipv6.plen", *EXPERT], *CHECKS,
                  display="tcp")
    big = [r for r in rows if "ipv6.opt.jumbo" in r]
    assert len(big) == len(jumbos)
    assert sum(int(r["tcp.len"][0]) for r in big) > 2_000_000
    clean(rows)


# --- PLPMTUD black-hole detection -------------------------------------------------------

def test_pmtud_blackhole_detection() -> None:
    """Full-size packets vanish (a 1400-octet hop that sends no Packet Too
    Big); after two timeouts the MSS falls to 1220 (IPv6), data flows,
    and the counters record the activation."""
    p = Pair(knobs={"net.inet.tcp.pmtud_blackhole_detection": 1})
    p.link.filters.append(blackhole(1400))
    _srv, cli, conn = p.connect()
    assert cli.tcp_info()["mss"] == 1428
    data = random.Random(4).randbytes(200_000)
    assert p.pump(cli, conn, data, limit=120) == data
    st = p.a.stats
    assert st["tcps_pmtud_blackhole_activated"] == 1
    assert st["tcps_pmtud_blackhole_failed"] == 0
    assert cli.tcp_info()["mss"] == 1220 - 12
    assert st["tcps_rexmttimeo"] >= 2


def test_pmtud_blackhole_detection_ipv4() -> None:
    """The same over IPv4 (DF set, no Fragmentation Needed): the MSS falls to
    ``pmtud_blackhole_mss`` (1200)."""
    from test_tcp4 import B as B4
    from test_tcp4 import Pair4
    from test_tcp4 import pump as pump4

    from kame.socket import AF_INET

    p = Pair4()
    for n in (p.a, p.b):
        n.knobs["net.inet.tcp.pmtud_blackhole_detection"] = 1
    p.link.filters.append(blackhole(1400))
    _srv, cli, conn, _peer = p.connect(AF_INET, AF_INET, B4)
    assert cli.tcp_info()["mss"] == 1448
    data = random.Random(7).randbytes(100_000)
    assert pump4(p, cli, conn, data, limit=120) == data
    assert p.a.stats["tcps_pmtud_blackhole_activated"] == 1
    assert cli.tcp_info()["mss"] == 1200 - 12


def test_pmtud_blackhole_detection_off_is_a_timeout() -> None:
    """With the knob off (FreeBSD's default), the same path never delivers
    a full segment."""
    p = Pair(knobs={"net.inet.tcp.pmtud_blackhole_detection": 0})
    p.link.filters.append(blackhole(1400))
    _srv, cli, conn = p.connect()
    cli.send(random.Random(4).randbytes(20_000))
    p.run(60)
    with pytest.raises(BlockingIOError):
        conn.recv(100)
    assert p.a.stats["tcps_rexmttimeo"] >= 5
    assert p.a.stats["tcps_pmtud_blackhole_activated"] == 0


def test_pmtud_blackhole_restores_when_not_the_path() -> None:
    """A peer that went silent (everything is lost, not just big packets):
    the smaller MSS does not help either, so it is given up and counted
    (``tcps_pmtud_blackhole_failed``) and the original MSS restored."""
    p = Pair(knobs={"net.inet.tcp.pmtud_blackhole_detection": 1})
    _srv, cli, _conn = p.connect()
    p.link.loss = 1.0
    cli.send(random.Random(5).randbytes(20_000))
    p.run(30)
    st = p.a.stats
    assert st["tcps_pmtud_blackhole_activated"] == 1
    assert st["tcps_pmtud_blackhole_failed"] == 1
    assert cli.tcp_info()["mss"] == 1428


# --- ECN through a tunnel ----------------------------------------------------------------

@pytest.mark.parametrize("ecn", [1, 0])
def test_ecn_through_an_esp_tunnel(ecn: int, tmp_path: Path) -> None:
    p = Pair(knobs={"net.inet.tcp.ecn.enable": 1, "net.inet6.ipsec6.ecn": ecn})
    keys(p, ipsec_conf("tunnel", A, B), ipsec_conf("tunnel", B, A))
    marker = ce_marker(every=50)
    p.link.filters.append(marker)
    _srv, cli, conn = p.connect()
    assert cli.tcp_info()["ecn"] and conn.tcp_info()["ecn"]
    assert p.a.stats["tcps_ecn_shs"] == 1
    data = random.Random(6).randbytes(1_000_000)
    assert p.pump(cli, conn, data) == data
    sa, sb = p.a.stats, p.b.stats
    assert sb["tcps_ecn_ect0"] > 100  # the inner header's ECT(0) from the sender
    if ecn:
        assert marker.marked > 0  # type: ignore[attr-defined]
        assert sb["tcps_ecn_ce"] == marker.marked  # type: ignore[attr-defined]
        assert sa["tcps_ecn_rcwnd"] > 0  # ECE: the window reduced
        assert sa["tcps_sndrexmitpack"] == 0  # no loss, only marks
    else:  # forbidden: the outer header is Not-ECT, no router may mark it
        assert marker.marked == 0  # type: ignore[attr-defined]
        assert sb["tcps_ecn_ce"] == 0 and sa["tcps_ecn_rcwnd"] == 0
    rows = tshark(p.pcap(tmp_path / "ecn.pcap"),
                  ["ipv6.tclass.ecn", "tcp.flags.ece", "tcp.flags.cwr", *EXPERT],
                  "-o", "esp.enable_encryption_decode:TRUE", *CHECKS, *esp_uats(),
                  display="tcp && tcp.flags.syn == 0")
    ecns = [r["ipv6.tclass.ecn"] for r in rows]
    if ecn:
        # outer CE, inner CE after the marker; then the receiver's ECE and
        # the sender's CWR, as tshark reads the decrypted segments
        assert any(e == ["3", "2"] for e in ecns), ecns[:20]
        assert any(r["tcp.flags.ece"] == ["1"] for r in rows)
        assert any(r["tcp.flags.cwr"] == ["1"] for r in rows)
    else:
        assert not any("3" in e for e in ecns)
        assert not any(r["tcp.flags.ece"] == ["1"] or r["tcp.flags.cwr"] == ["1"] for r in rows)
    clean(rows)


@given(st.integers(65400, 66000), st.integers(0, 40))
@settings(max_examples=40, deadline=None)
def test_tcp6_output_switches_to_a_jumbogram_past_65535(n: int, optlen: int) -> None:
    """Across the 65535-octet boundary the core's segment builder goes from
    Payload Length to the Jumbo Payload option; the core's own IPv6 input
    walks either to a TCP segment that checks and parses back."""
    opts = bytes(_core.tcp_options(None, None, False, (1, 2))) + b"\x01" * (optlen // 4 * 4 % 28)
    payload = bytes(range(256)) * (n // 256) + bytes(n % 256)
    a, b = IPv6Address(A), IPv6Address(B)
    pkt = _core.tcp6_output(a, b, 64, 2, 1, 2, 3, 4, 0x10, 5, opts, payload)
    seglen = 20 + len(opts) + n
    v = _core.ip6_validate(pkt, 0)
    assert v.packet_len == len(pkt) and v.chain.upper == 6
    if seglen > 0xFFFF:
        assert pkt[4:7] == b"\0\0\0" and v.chain.upper_offset == 48
        assert int.from_bytes(pkt[44:48], "big") == seglen + 8
    else:
        assert int.from_bytes(pkt[4:6], "big") == seglen and v.chain.upper_offset == 40
    s = _core.tcp_input_parse(pkt[v.chain.upper_offset:], a, b)
    assert s.payload == payload and s.ts == (1, 2)


def gif_path(ecn: int, marker: Any) -> Any:
    """A link filter: IPv6 packets cross a gif(4) tunnel (kame.tunnel,
    IPv6 in IPv6, ``ecn`` the seed's §4.6 setting on both ends) whose
    outer packets pass ``marker``, a congested queue."""
    from kame.errors import KameError
    from kame.tunnel import decapsulate, encapsulate

    def flt(frame: bytes) -> bytes | None:
        if frame[12:14] != b"\x86\xdd":
            return frame
        outer = encapsulate(frame[14:], "2001:db8:ffff::1", "2001:db8:ffff::2", ecn=ecn)
        marked = marker(frame[:14] + outer)
        try:
            return frame[:14] + decapsulate(marked[14:], ecn=ecn)
        except KameError:
            return None  # RFC 6040 §4.2: CE over a Not-ECT inner is dropped

    return flt


@pytest.mark.parametrize("ecn", [-1, 0, 1, 2])
def test_ecn_through_a_gif_tunnel_follows_the_table(ecn: int) -> None:
    """The seed's §4.6 table decides what reaches TCP: ``rfc2401`` (-1)
    copies the inner ECN field out but ignores the outer at
    decapsulation (the CE is lost); ``forbidden`` (0) sends the outer
    Not-ECT (nothing to mark); ``allowed`` (1) and ``rfc6040`` (2) carry
    the CE to the inner header, which the receiver echoes."""
    p = Pair(knobs={"net.inet.tcp.ecn.enable": 1})
    marker = ce_marker(every=40)
    p.link.filters.append(gif_path(ecn, marker))
    _srv, cli, conn = p.connect()
    data = random.Random(8).randbytes(500_000)
    assert p.pump(cli, conn, data) == data
    marked = marker.marked  # type: ignore[attr-defined]
    ce, rcwnd = p.b.stats["tcps_ecn_ce"], p.a.stats["tcps_ecn_rcwnd"]
    if ecn == 0:
        assert marked == 0 and ce == 0
    elif ecn == -1:
        assert marked > 0 and ce == 0 and rcwnd == 0
    else:
        assert marked > 0 and ce == marked and rcwnd > 0
    assert p.a.stats["tcps_sndrexmitpack"] == 0


def _synacks(frames: list[tuple[float, bytes]]) -> list[tuple[bytes, int]]:
    """(the Destination options header, the MSS option) of each SYN,ACK
    from B in ``frames``; an empty header when there is none."""
    out = []
    b = IPv6Address(B).packed
    for _t, f in frames:
        ip = f[14:]
        if f[12:14] != b"\x86\xdd" or ip[8:24] != b:
            continue
        nh, off, hdr = ip[6], 40, b""
        if nh == 60:
            hdr = ip[40:40 + (ip[41] + 1) * 8]
            nh, off = ip[40], 40 + len(hdr)
        tcp = ip[off:]
        if nh != 6 or tcp[13] & 0x12 != 0x12:
            continue
        opts, i, mss = tcp[20:(tcp[12] >> 4) * 4], 0, -1
        while i < len(opts) and opts[i] != 0:
            if opts[i] == 1:
                i += 1
                continue
            if opts[i] == 2:
                mss = int.from_bytes(opts[i + 2:i + 4], "big")
            i += opts[i + 1]
        out.append((hdr, mss))
    return out


@pytest.mark.parametrize("fast", [True, False], ids=["core-syncache", "python-syncache"])
def test_synack_and_its_retransmissions_carry_the_listeners_headers(
        fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """RFC 3542 §6 on a listener (KAME's syncache_respond sends with the
    listener's ``in6p_outputopts``): the SYN,ACK, the first and those sent
    again after 1 and 2 s, carries the sticky Destination options header,
    its MSS 16 octets less; both SYN queues (the core's and Python's)."""
    import errno

    from kame.socket import AF_INET6, IPV6_DSTOPTS
    from kame.socket.stream import SOCK_STREAM
    from kame.tcp.usrreq import Tcp

    monkeypatch.setattr(Tcp, "fast_syncache", fast)
    p = tcp_pair.Pair(capture=True)
    p.connect(80)  # neighbors resolved both ways before the loss
    dst = bytes([0, 1, 0x1E, 10]) + b"0123456789" + bytes([1, 0])
    srv = p.lb.socket(AF_INET6, SOCK_STREAM)
    srv.setsockopt(41, IPV6_DSTOPTS, dst)
    srv.bind(("::", 81))
    srv.listen(4)
    cli = p.la.socket(AF_INET6, SOCK_STREAM)
    with pytest.raises(BlockingIOError) as ei:
        cli.connect((B, 81))
    assert ei.value.errno == errno.EINPROGRESS
    p.run(0.001)  # the SYN on its way
    del p.frames[:]
    p.link.loss = 1.0  # the SYN,ACKs lost until the third
    p.run(2.5)
    p.link.loss = 0.0
    conn = None
    for _ in range(200):
        p.run(0.05)
        try:
            conn, _a = srv.accept()
            break
        except BlockingIOError:
            continue
    assert conn is not None
    sa = _synacks(p.frames)
    assert len(sa) >= 3, sa
    assert all(h == bytes([6]) + dst[1:] and mss == 1500 - 60 - 16 for h, mss in sa), sa
    assert p.pump(cli, conn, b"x" * 5000) == b"x" * 5000
