"""The README's "Python API in brief" block runs as written (issue 8 item 7):
extracted from README.md and executed after nothing but ``import kame`` in a
fresh interpreter, with real inputs bound to the names it uses, so the
README cannot rot and every ``kame.X`` it shows is reachable without an
explicit import of a submodule."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"

#: The inputs the block names, built from the core only (``kame._core`` and
#: the exception tree: what a bare ``import kame`` loads).
PRELUDE = '''
import sys
import kame
_loaded_before = sorted(m for m in sys.modules if m.startswith("kame."))
src, dst, gw = "2001:db8::1", "2001:db8::2", "fe80::1"
chunk1, chunk2 = b"\\x00\\x35\\x00\\x35\\x00\\x10\\x00\\x00", b"payload!"
udp = kame.UdpHeader(53, 53, b"x" * 1400).to_bytes(src, dst)
packet = kame.Ipv6Header(src, dst, next_header=17, payload_len=len(udp)).to_bytes() + udp
mac = bytes.fromhex("020000000001")
frame = bytes.fromhex("33330000000102000000000286dd") + packet
frames = [packet, packet[:60]]
ident, now = 0x1234, 1.0
frag = kame.fragment(packet, 1280, ident)[0]
key = bytes(range(20))
text = "add 2001:db8::1 2001:db8::2 esp 0x1000 -E aes-gcm-16 0x" + "11" * 20 + ";"
'''

CHECKS = '''
assert p.dst == kame._core.Ipv6Header(src, dst).dst and p.sport == 53
assert len(batch) == 2 and batch.ok_count == 1
assert wire != packet and len(wire) > len(packet)
assert [type(x).__name__ for x in kame.netdb.getaddrinfo("fe80::1%eth0", 80, node=node)][:1] \\
    == ["tuple"]
print(json.dumps({"before": _loaded_before}))
'''


def readme_block() -> str:
    text = README.read_text()
    sec = text[text.index("## Python API in brief"):]
    m = re.search(r"```python\n(.*?)```", sec, re.DOTALL)
    assert m is not None, "the README lost its API block"
    return m.group(1)


def test_readme_api_block_runs_after_a_bare_import() -> None:
    block = readme_block()
    assert block.startswith("import kame\n")
    code = "import json\n" + textwrap.dedent(PRELUDE) + block + textwrap.dedent(CHECKS)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    before = json.loads(r.stdout.strip().splitlines()[-1])["before"]
    # nothing but the core and the exception tree was loaded before the block ran
    assert set(before) <= {"kame._core", "kame.errors"}, before


def test_readme_block_names_only_what_kame_exposes() -> None:
    """Every ``kame.X`` the block names is in ``dir(kame)``."""
    import kame
    for name in set(re.findall(r"\bkame\.([A-Za-z_]\w*)", readme_block())):
        assert name in dir(kame), name
