"""The distribution as PyPI would get it: `maturin sdist` builds a kame6
source distribution that carries the license, the third-party notices and
complete metadata; LICENSE-THIRD-PARTY lists exactly the crates linked into
the extension; the PyPI README's example runs and prints what it says.

(The manylinux2014 wheel itself, `make wheel`, takes some 5 minutes of
release build with zig and is not built here; see the Makefile.)
"""

from __future__ import annotations

import email.parser
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import kame

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=str(ROOT / "python") + os.pathsep
           + os.environ.get("PYTHONPATH", ""))
README = ROOT / "python" / "README-pypi.md"


def test_sdist(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "maturin", "sdist", "--out", str(tmp_path)],
                   cwd=ROOT, check=True, capture_output=True, timeout=600)
    (sdist,) = tmp_path.glob("*.tar.gz")
    assert sdist.name == f"kame6-{kame.__version__}.tar.gz"
    top = f"kame6-{kame.__version__}"
    with tarfile.open(sdist) as tf:
        names = set(tf.getnames())
        for f in ("LICENSE", "LICENSE-THIRD-PARTY", "README.md", "python/README-pypi.md",
                  "pyproject.toml", "Cargo.lock", "rust/Cargo.toml", "python/kame/__init__.py",
                  "python/kame/__main__.py", "python/kame/py.typed",
                  "python/kame/data/sample.pcap"):
            assert f"{top}/{f}" in names, f
        lic = tf.extractfile(f"{top}/LICENSE")
        assert lic is not None
        assert lic.read() == (ROOT / "LICENSE").read_bytes()
        pkg = tf.extractfile(f"{top}/PKG-INFO")
        assert pkg is not None
        meta = email.parser.Parser().parsestr(pkg.read().decode())
    assert meta["Name"] == "kame6" and meta["Version"] == kame.__version__
    assert meta["License-Expression"] == "BSD-2-Clause"
    assert meta.get_all("License-File") == ["LICENSE", "LICENSE-THIRD-PARTY"]
    assert meta["Requires-Python"] == ">=3.11"
    assert meta["Description-Content-Type"].startswith("text/markdown")
    assert meta.get_payload().strip() == README.read_text().strip()
    cls = meta.get_all("Classifier")
    for c in ("Operating System :: POSIX :: Linux", "Programming Language :: Python :: 3.11",
              "Topic :: System :: Networking", "Development Status :: 3 - Alpha"):
        assert c in cls
    # PEP 639: the license expression replaces the License :: classifiers
    assert not any(c.startswith("License ::") for c in cls)
    assert "ipv6" in meta["Keywords"].split(",")
    assert meta["Author"] == "The kame6 developers"


def test_license_file() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("Copyright (C) 2026 The kame6 developers.\nAll rights reserved.\n")
    assert "Redistributions in binary form must reproduce the above copyright" in text


def test_third_party_notices_are_current() -> None:
    """Every crate linked into kame._core, and only those, is listed (a new
    dependency makes this fail until `make licenses` is run)."""
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "third_party_licenses.py"),
                        "--check"], capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode == 0, r.stderr
    text = (ROOT / "LICENSE-THIRD-PARTY").read_text()
    for crate in ("ring ", "pyo3 ", "aes ", "zlib-rs ", "subtle "):
        assert f"\n  {crate}" in text
    assert "\n  syn " not in text  # a proc-macro crate: not in the binary


def test_pypi_readme_example_runs(tmp_path: Path) -> None:
    text = README.read_text()
    (code,) = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    shown = re.search(r"\nprints\n\n```\n(.*?)```", text, re.DOTALL)
    assert shown is not None
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV,
                       timeout=120, check=False, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == shown.group(1)
