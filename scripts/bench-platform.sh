#!/usr/bin/env bash
# Platform API vs FHIR face (issue 7): the mapping must not be the bottleneck.
# Release build, embedded cluster, wrk. In the same run and interleaved in rounds (so that the
# machine's drift hits both sides alike), each pair reads or writes the same record:
#   (a) GET /fhir/Patient/{id}   vs   (b) GET /patients/{id}      as an approved doctor with a
#       care relationship to the patient (authorized and audited on both faces)
#   (c) POST /fhir/Patient       vs   (d) POST /patients          as a system client; the FHIR
#       body is exactly the resource the platform body maps to, so both store the same thing
# Reports the median req/s of the rounds, p99 of the last round, and the platform/FHIR ratios
# (goal: ≥ 0.90).
# Usage: scripts/bench-platform.sh [--duration SECONDS_PER_TEST] [--rounds N] [--connections C]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=5
rounds=3
connections=32
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

source scripts/lib-medrec-server.sh
medrec_prepare bench-platform
medrec_bench_doctor
medrec_start
sys_token=$(medrec_system_token)
doc_token=$(medrec_doctor_token)

# The platform body, the patient it creates, and that patient's FHIR form as the FHIR POST body.
medrec_bench_patient "$practitioner" "$sys_token"
# Both reads answer 200 for the doctor before the load starts.
for path in "fhir/Patient/$patient" "patients/$patient"; do
  status=$(curl -s -o /dev/null -w '%{http_code}' "$base/$path" -H "Authorization: Bearer $doc_token")
  [ "$status" = 200 ] || { echo "GET /$path answered $status"; exit 1; }
done
medrec_post_lua "$work/fhir-patient.json" "application/fhir+json" "$sys_token" > "$work/fhir-post.lua"
medrec_post_lua "$work/platform-patient.json" "application/json" "$sys_token" > "$work/platform-post.lua"

rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
p99() { awk '$1=="99%" {print $2}' "$1"; }
non2xx() { awk '/Non-2xx/ {print $NF}' "$1"; }
run() {  # name, wrk arguments...
  local name=$1; shift
  wrk -t2 -c"$connections" -d"${duration}s" --latency "$@" > "$work/$name.txt"
  echo "$(rps "$work/$name.txt")" >> "$work/$name.rps"
}
echo "server: $base   rounds: $rounds × ${duration}s per test, $connections connections"
for _ in $(seq 1 "$rounds"); do
  run fhir-read -H "Authorization: Bearer $doc_token" "$base/fhir/Patient/$patient"
  run platform-read -H "Authorization: Bearer $doc_token" "$base/patients/$patient"
  run fhir-create -s "$work/fhir-post.lua" "$base/fhir/Patient"
  run platform-create -s "$work/platform-post.lua" "$base/patients"
done
python3 - "$work" <<'PY'
import statistics, sys, re, pathlib
work = pathlib.Path(sys.argv[1])
def figures(name):
    rates = [float(x) for x in (work / f"{name}.rps").read_text().split()]
    text = (work / f"{name}.txt").read_text()
    p99 = re.search(r"^\s*99%\s+(\S+)", text, re.M)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return statistics.median(rates), rates, p99.group(1) if p99 else "?", int(bad.group(1)) if bad else 0
rows = [("(a) GET /fhir/Patient/{id}", "fhir-read"), ("(b) GET /patients/{id}", "platform-read"),
        ("(c) POST /fhir/Patient", "fhir-create"), ("(d) POST /patients", "platform-create")]
result = {}
for label, name in rows:
    median, rates, p99, bad = figures(name)
    result[name] = median
    print(f"{label:30s} {median:9.0f} req/s (rounds: {', '.join(f'{r:.0f}' for r in rates)})   p99 {p99:>8s}   non-2xx {bad}")
for label, platform, fhir in [("read", "platform-read", "fhir-read"), ("create", "platform-create", "fhir-create")]:
    ratio = result[platform] / result[fhir]
    print(f"platform/FHIR {label}: {ratio:.2f}   goal ≥ 0.90: {'met' if ratio >= 0.90 else 'MISSED'}")
PY
