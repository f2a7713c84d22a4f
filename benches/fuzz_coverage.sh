#!/usr/bin/env bash
# Coverage over time, structure-aware mutator against plain libFuzzer
# (see benches/fuzz_coverage.py). Usage: benches/fuzz_coverage.sh [SECONDS] [TARGET ...]
# Extra flags go to the script, e.g. --kept-corpus to start from fuzz/corpus/TARGET.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-120}
shift || true
uptime
exec python3 benches/fuzz_coverage.py --seconds "$secs" --seeds 1 2 "$@"
