#!/usr/bin/env bash
# Before/after of a change, in one run: this tree's release medrec against a baseline medrec
# binary (built from an earlier commit), both serving the SAME database at the same time, so
# the figures differ only by the code. In interleaved rounds (the machine's drift hits both):
#   GET  /fhir/Patient/{id}  and  GET /patients/{id}    as an approved doctor who cares for the patient
#   POST /fhir/Patient       and  POST /patients        as a system client
#   a Synthea transaction Bundle import (resources/s)   as a system client
# The headline figures of scripts/bench.sh (read, create, import) and scripts/bench-platform.sh
# (both faces), as medians of the rounds, with the new/baseline ratio of each.
# Usage: scripts/bench-versions.sh --baseline PATH/TO/medrec [--duration S] [--rounds N] [--connections C]
#          [--baseline-env NAME=VALUE]...   (settings of the baseline server only; @DB_URL@ in a value
#          is the shared database's URL: e.g. the same binary with and without
#          --baseline-env MEDREC_DATABASE_READ_URL=@DB_URL@ measures what a configured read replica costs)
# Build a baseline with e.g.: git worktree add /tmp/base <commit> && (cd /tmp/base && swift build -c release --product medrec)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=5
rounds=3
connections=32
baseline=""
baseline_env=()
while [ $# -gt 0 ]; do
  case "$1" in
    --baseline) baseline="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --baseline-env) baseline_env+=("$2"); shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$baseline" ] || { echo "--baseline must name a medrec binary" >&2; exit 2; }
fixtures="${MEDREC_FIXTURES:-../shared/fixtures}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

source scripts/lib-medrec-server.sh
medrec_prepare bench-versions
medrec_bench_doctor
medrec_start
new_base=$base
# The baseline serves the same cluster, keys and accounts: the new server's database URL and data dir.
base_port=$((port + 1))
db_url=$("$bin" db url --data-dir "$work/data")
env MEDREC_DATABASE_URL="$db_url" "${baseline_env[@]//@DB_URL@/$db_url}" \
  "$baseline" serve --data-dir "$work/data" --port "$base_port" >"$work/baseline.log" 2>&1 &
baseline_server=$!
trap 'kill -TERM "$baseline_server" "$server" 2>/dev/null || true; wait "$baseline_server" "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
medrec_wait "$work/baseline.log"
old_base="http://127.0.0.1:$base_port"

sys_token=$(medrec_system_token)
doc_token=$(medrec_doctor_token)
base=$new_base
medrec_bench_patient "$practitioner" "$sys_token"
# Every request answers 200 on both servers before the load starts.
for server_base in "$new_base" "$old_base"; do
  for path in "fhir/Patient/$patient" "patients/$patient"; do
    status=$(curl -s -o /dev/null -w '%{http_code}' "$server_base/$path" -H "Authorization: Bearer $doc_token")
    [ "$status" = 200 ] || { echo "GET $server_base/$path answered $status"; exit 1; }
  done
done
medrec_post_lua "$work/fhir-patient.json" "application/fhir+json" "$sys_token" > "$work/fhir-post.lua"
medrec_post_lua "$work/platform-patient.json" "application/json" "$sys_token" > "$work/platform-post.lua"
ls "$fixtures"/synthea/*.json | head -n 6 > "$work/bundles"
resources=$(python3 -c "import json,sys; print(sum(len(json.load(open(f))['entry']) for f in sys.stdin.read().split()))" < "$work/bundles")

run() {  # name, wrk arguments...
  local name=$1; shift
  wrk -t2 -c"$connections" -d"${duration}s" --latency "$@" > "$work/$name.txt"
  awk '/Requests\/sec/ {print $2}' "$work/$name.txt" >> "$work/$name.rate"
  awk '/Non-2xx/ {print $NF}' "$work/$name.txt" >> "$work/$name.bad"
}
import_rate() {  # name, server base: the bundles, 2 clients in parallel
  local start end
  start=$(date +%s.%N)
  xargs -P 2 -I{} curl -sf -o /dev/null -X POST "$2/fhir" -H "Authorization: Bearer $sys_token" \
    -H 'Content-Type: application/fhir+json' --data-binary @{} < "$work/bundles"
  end=$(date +%s.%N)
  python3 -c "print(round($resources / ($end - $start)))" >> "$work/$1.rate"
}
echo "new: $new_base   baseline: $old_base ($baseline)   rounds: $rounds × ${duration}s, $connections connections"
for round in $(seq 1 "$rounds"); do
  # Alternate which binary goes first, so neither always gets the warmer or cooler machine.
  if [ $((round % 2)) -eq 1 ]; then order="new old"; else order="old new"; fi
  for side in $order; do
    b=$new_base; [ "$side" = old ] && b=$old_base
    run "$side-fhir-read" -H "Authorization: Bearer $doc_token" "$b/fhir/Patient/$patient"
    run "$side-platform-read" -H "Authorization: Bearer $doc_token" "$b/patients/$patient"
  done
  for side in $order; do
    b=$new_base; [ "$side" = old ] && b=$old_base
    run "$side-fhir-create" -s "$work/fhir-post.lua" "$b/fhir/Patient"
    run "$side-platform-create" -s "$work/platform-post.lua" "$b/patients"
    import_rate "$side-import" "$b"
  done
done
python3 - "$work" <<'PY'
import statistics, sys, pathlib
work = pathlib.Path(sys.argv[1])
def rates(name):
    return [float(x) for x in (work / f"{name}.rate").read_text().split()]
def bad(name):
    path = work / f"{name}.bad"
    return sum(int(x) for x in path.read_text().split()) if path.exists() else 0
rows = [("GET /fhir/Patient/{id} (req/s)", "fhir-read"), ("GET /patients/{id} (req/s)", "platform-read"),
        ("POST /fhir/Patient (req/s)", "fhir-create"), ("POST /patients (req/s)", "platform-create"),
        ("Synthea import (resources/s)", "import")]
print(f"{'':34s} {'baseline':>9s} {'new':>9s} {'new/base':>9s}   rounds baseline | new")
for label, name in rows:
    old, new = rates("old-" + name), rates("new-" + name)
    mo, mn = statistics.median(old), statistics.median(new)
    errors = bad("old-" + name) + bad("new-" + name)
    print(f"{label:34s} {mo:9.0f} {mn:9.0f} {mn / mo:9.2f}   {', '.join(f'{r:.0f}' for r in old)} | {', '.join(f'{r:.0f}' for r in new)}"
          + (f"   non-2xx {errors}" if errors else ""))
PY
