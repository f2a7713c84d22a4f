"""IPsec over IPv4 from the node (kame.inet.ipsec4): the ESP frames two of
our nodes exchange (transport, tunnel, ESP in UDP 4500) as tshark sees them,
decrypted with the keys (its esp_sa table): every ICV good, the UDP
payload in clear inside, nothing malformed and no expert error."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_inet_ipsec import AKEY, EKEY, MA, MB, pair, udp_exchange

from kame.link.pcap import PcapWriter

pytestmark = pytest.mark.interop


@pytest.mark.parametrize(("mode", "encap"), [("transport", False), ("tunnel", False),
                                              ("transport", True)])
def test_tshark_decrypts_the_nodes_esp(tmp_path: Path, mode: str, encap: bool) -> None:
    if shutil.which("tshark") is None:
        pytest.fail("tshark is needed (.ci/run installs it)")
    sim, a, b, seen = pair(mode, "esp", encap)
    assert udp_exchange(sim, a, b) == (b"secret v4 payload", b"secret reply")
    pcap = tmp_path / "esp4.pcap"
    with open(pcap, "wb") as f:
        w = PcapWriter(f)
        for i, fr in enumerate(seen):
            if fr[6:12] in (MA, MB):
                w.write(float(i), fr)
    uats = []
    for spi in (0x1000, 0x2000):
        uats += ["-o", (f'uat:esp_sa:"IPv4","*","*","0x{spi:08x}","AES-CBC [RFC3602]",'
                       f'"0x{EKEY.hex()}","HMAC-SHA-1-96 [RFC2404]","0x{AKEY.hex()}"')]
    res = subprocess.run(["tshark", "-r", str(pcap), "-o", "esp.enable_encryption_decode:TRUE",
                          "-o", "esp.enable_authentication_check:TRUE",
                          "-o", "udp.try_heuristic_first:FALSE", *uats,
                          "-Y", "esp", "-T", "fields", "-E", "occurrence=l",
                          "-e", "esp.spi", "-e", "esp.icv_good", "-e", "data.data",
                          "-e", "_ws.malformed", "-e", "_ws.expert.severity"],
                         capture_output=True, text=True, timeout=120, check=True)
    rows = [r.split("\t") for r in res.stdout.splitlines()]
    assert len(rows) == 2, res.stdout + res.stderr
    datas = set()
    for spi, good, data, malformed, sev in rows:
        assert good == "1" and not malformed, rows
        assert not sev or int(sev.split(",")[0]) < 0x00800000, rows
        datas.add(bytes.fromhex(data.replace(":", "")))
    assert datas == {b"secret v4 payload", b"secret reply"}, rows
