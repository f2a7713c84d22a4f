# One task runner. `make run` sets up and runs the main job; `make test`
# runs the whole test suite (what .ci/run calls).
PY ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
FUZZ_SECONDS ?= 10

.PHONY: venv build-dev build-release run test test-rust test-py fuzz-smoke lint bench clean \
	wheel sdist licenses

venv: $(VENV)/.ok
$(VENV)/.ok: pyproject.toml Makefile
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q "maturin>=1.7,<2" pytest hypothesis scapy dpkt cryptography cryptography_vectors ruff mypy pyftpdlib \
		pyarrow "dask[dataframe]" distributed duckdb matplotlib
	touch $@

build-dev: venv
	$(VPY) -m pip uninstall -q -y kame 2>/dev/null || true  # the distribution's name before kame6
	. $(VENV)/bin/activate && maturin develop -q --release

run: build-dev
	$(VENV)/bin/kame demo

test-rust:
	cargo test -q --workspace

test-py: build-dev
	$(VPY) -m pytest -q tests

fuzz-smoke:
	./fuzz/smoke.sh $(FUZZ_SECONDS)

test: test-rust test-py fuzz-smoke

lint: build-dev
	cargo clippy --workspace --all-targets -- -D warnings
	PYO3_PYTHON=$(abspath $(VPY)) cargo clippy -p kame-core --features python -- -D warnings
	$(VPY) -m ruff check python tests benches
	$(VPY) -m mypy python/kame
	$(VPY) -m mypy.stubtest kame._core

bench: build-dev
	$(VPY) benches/bench_parse.py
	$(VPY) benches/bench_ipsec.py
	$(VPY) benches/bench_ipcomp.py
	$(VPY) benches/python/bench_nd6.py
	$(VPY) benches/bench_socket.py
	$(VPY) benches/bench_tcp.py  # as root: network namespaces, a TAP and a veth pair
	cargo bench --workspace

# The wheel PyPI gets: manylinux2014 (glibc 2.17 and later, so distributions
# older than glibc 2.34 run it too), one abi3 wheel for CPython 3.11+, the
# extension stripped, built with zig as the cross linker against glibc 2.17
# (about 5 minutes on 2 cores); then auditwheel says which platform tag it
# is consistent with. The zig build has its own target dir so it does not
# throw away the build-dev objects.
wheel: venv
	$(VPY) -m pip install -q ziglang auditwheel
	. $(VENV)/bin/activate && maturin build --release --zig --compatibility manylinux2014 \
		--strip --out dist --target-dir target/zig
	$(VPY) -m auditwheel show dist/kame6-*-manylinux2014_x86_64*.whl

sdist: venv
	. $(VENV)/bin/activate && maturin sdist --out dist

# LICENSE-THIRD-PARTY: the licenses of the crates linked into kame._core
# (rerun when Cargo.lock changes; tests/test_packaging.py checks it)
licenses:
	$(PY) scripts/third_party_licenses.py

clean:
	cargo clean
	rm -rf $(VENV) python/kame/_core*.so
