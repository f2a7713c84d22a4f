#!/usr/bin/env bash
# Build every fuzz target and run each briefly from its kept corpus.
# Usage: fuzz/smoke.sh [SECONDS_PER_TARGET]
set -euo pipefail
secs=${1:-10}
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1   # cargo-fuzz needs -Z flags; the machine has one stable toolchain
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked -q
fi
cargo fuzz build -O
# The ClusterFuzzLite / OSS-Fuzz build script, then their bad-build criteria
# on what it put in $OUT (fuzz/oss_fuzz_check.sh; their image is not here).
cflite_out=$(mktemp -d)
OUT="$cflite_out" ../.clusterfuzzlite/build.sh >/tmp/fuzz-cflite-build.log 2>&1 \
    || { echo "ClusterFuzzLite build.sh failed:"; tail -n 40 /tmp/fuzz-cflite-build.log; exit 1; }
./oss_fuzz_check.sh "$cflite_out" || exit 1
rm -rf "$cflite_out"
ran=0
for t in $(cargo fuzz list); do
    mkdir -p "corpus/$t"
    cargo fuzz run -O "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=0 >/dev/null 2>"/tmp/fuzz-$t.log" \
        || { echo "fuzz target $t failed:"; tail -n 40 "/tmp/fuzz-$t.log"; exit 1; }
    ran=$((ran + 1))
done
echo "fuzz smoke: $ran targets ran ${secs}s each, no crash"
