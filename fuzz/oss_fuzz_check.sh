#!/usr/bin/env bash
# Check what .clusterfuzzlite/build.sh put in $OUT the way ClusterFuzzLite /
# OSS-Fuzz check a build before fuzzing it (their base-runner's "bad build"
# criteria for a libFuzzer + AddressSanitizer build, x86-64), so a build
# that would be refused there fails here first, without their image:
#   - the binary is an x86-64 ELF;
#   - it is instrumented for coverage: libFuzzer finds inputs, and loads at
#     least 100 edges (counters);
#   - it is compiled with ASan (at least 1,000 calls into __asan_*) and not
#     with MSan (at most 3 calls into __msan_*), DFSan (none) or UBSan (at
#     most 200 calls into __ubsan_*);
#   - it starts and runs 4 inputs (-seed=1337 -runs=4);
#   - its seed corpus (<target>_seed_corpus.zip) unpacks and runs through
#     without a crash (-runs=0), with the runner's limits (-rss_limit_mb=2560
#     -timeout=25).
# Usage: fuzz/oss_fuzz_check.sh OUT_DIR     (exit 1 if any target fails)
set -uo pipefail
out=${1:?usage: oss_fuzz_check.sh OUT_DIR}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
call='call[q]?[[:space:]]+[0-9a-f]+[[:space:]]+<'
failed=0
checked=0
bad() { echo "BAD BUILD: $1"; failed=$((failed + 1)); }

for bin in "$out"/*; do
    [ -f "$bin" ] && [ -x "$bin" ] || continue
    name=$(basename "$bin")
    checked=$((checked + 1))
    log="$work/$name.log"

    file "$bin" | grep -q "x86-64" || { bad "$name is not an x86-64 binary"; continue; }

    "$bin" -seed=1337 -runs=4 >"$log" 2>&1
    if grep -q "no interesting inputs were found" "$log"; then
        bad "$name has no coverage instrumentation"; continue
    fi
    grep -q "Done 4 runs" "$log" || { bad "$name crashes or exits at start-up:"; cat "$log"; continue; }
    edges=$(grep -oE "Loaded [0-9]+ module.*\(.*(counters|guards)\):[[:space:]]+[0-9]+" "$log" \
        | grep -oE "[0-9]+$" | head -n 1)
    if [ -z "$edges" ] || [ "$edges" -lt 100 ]; then
        bad "$name has only partial coverage instrumentation (${edges:-no} edges)"
    fi

    dis="$work/$name.dis"
    objdump -d "$bin" >"$dis"
    asan=$(grep -cE "${call}__asan" "$dis")
    msan=$(grep -cE "${call}__msan" "$dis")
    dfsan=$(grep -cE "${call}__dfsan" "$dis")
    ubsan=$(grep -cE "${call}__ubsan" "$dis")
    rm -f "$dis"
    [ "$asan" -ge 1000 ] || bad "$name does not seem compiled with ASan ($asan calls)"
    [ "$msan" -le 3 ] || bad "$name (ASan build) seems compiled with MSan ($msan calls)"
    [ "$dfsan" -eq 0 ] || bad "$name (ASan build) seems compiled with DFSan ($dfsan calls)"
    [ "$ubsan" -le 200 ] || bad "$name (ASan build) seems compiled with UBSan ($ubsan calls)"

    zip="$out/${name}_seed_corpus.zip"
    if [ -f "$zip" ]; then
        seeds="$work/$name.seeds"
        mkdir -p "$seeds"
        unzip -q -o "$zip" -d "$seeds" || { bad "$name's seed corpus does not unpack"; continue; }
        "$bin" -rss_limit_mb=2560 -timeout=25 -runs=0 "$seeds" >"$log" 2>&1 \
            || { bad "$name has a crashing input in its seed corpus:"; tail -n 30 "$log"; }
        rm -rf "$seeds"
    fi
done
if [ "$checked" -eq 0 ]; then
    echo "BAD BUILD: no fuzz target in $out"
    exit 1
fi
if [ "$failed" -gt 0 ]; then
    echo "ClusterFuzzLite build check: $failed problem(s) in $checked targets"
    exit 1
fi
echo "ClusterFuzzLite build check: $checked targets pass (instrumented, ASan only, start, seed corpora)"
