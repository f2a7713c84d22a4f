#!/bin/bash -eu
# Build every cargo-fuzz target of fuzz/ for ClusterFuzzLite / OSS-Fuzz and
# put each binary, with its kept corpus as <target>_seed_corpus.zip, in $OUT.
#
# In their image (base-builder-rust) $SRC, $OUT, the nightly toolchain and
# the sanitizer flags are given. Run here, outside it:
#   .clusterfuzzlite/build.sh          (binaries in $OUT, default /tmp/kame-cflite-out)
# ($SRC defaults to the checkout's parent; RUSTC_BOOTSTRAP lets a stable
# toolchain take cargo-fuzz's -Z flags, as fuzz/smoke.sh does.)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." 2>/dev/null && pwd || true)
SRC=${SRC:-$(dirname "$here")}
OUT=${OUT:-${TMPDIR:-/tmp}/kame-cflite-out}
mkdir -p "$OUT"
if [ -d "$SRC/kame/fuzz" ]; then
    cd "$SRC/kame"
else
    cd "$here"
fi
export RUSTC_BOOTSTRAP=1
# -O: release with debug assertions off is what cargo-fuzz calls -O; keep
# overflow-checks on (fuzz/Cargo.toml's [profile.release]) so lying length
# fields trap.
cargo fuzz build -O
bins=fuzz/target/x86_64-unknown-linux-gnu/release
for t in $(cargo fuzz list); do
    cp "$bins/$t" "$OUT/"
    if [ -d "fuzz/corpus/$t" ] && [ -n "$(ls -A "fuzz/corpus/$t")" ]; then
        rm -f "$OUT/${t}_seed_corpus.zip"
        (cd "fuzz/corpus/$t" && find . -type f -print | sed 's|^\./||' \
            | zip -q -@ "$OUT/${t}_seed_corpus.zip")
    fi
done
ls "$OUT"
