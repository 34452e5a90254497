#!/usr/bin/env bash
# FHIR codec throughput over the Synthea corpus (issue: FHIRModels). Release build, one core.
# Usage: scripts/bench-codecs.sh [CORPUS_DIR] [--rounds N]
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="${1:-../shared/fixtures/synthea}"
shift || true
swift build -c release --product FHIRCodecBenchmark >/dev/null 2>&1
# taskset pins the run to one core where available, so figures mean "one core".
runner=()
command -v taskset >/dev/null && runner=(taskset -c 0)
"${runner[@]}" "$(swift build -c release --show-bin-path)/FHIRCodecBenchmark" "$corpus" "$@"
