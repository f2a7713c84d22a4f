# One task runner. `make run` sets up and runs the main job; `make test`
# runs the whole test suite (what .ci/run calls).
PY ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
FUZZ_SECONDS ?= 10

.PHONY: venv build-dev build-release run test test-rust test-py fuzz-smoke lint bench clean

venv: $(VENV)/.ok
$(VENV)/.ok: pyproject.toml Makefile
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q "maturin>=1.7,<2" pytest hypothesis scapy dpkt cryptography cryptography_vectors ruff mypy
	touch $@

build-dev: venv
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
	$(VPY) -m mypy.stubtest kame._core

bench: build-dev
	$(VPY) benches/bench_parse.py
	$(VPY) benches/bench_ipsec.py
	$(VPY) benches/bench_ipcomp.py
	$(VPY) benches/python/bench_nd6.py
	$(VPY) benches/bench_socket.py
	cargo bench --workspace

clean:
	cargo clean
	rm -rf $(VENV) python/kame/_core*.so
