#!/usr/bin/env bash
# Memory under a moderate, unsaturated read load (docs/reliability.md, "Memory under a light
# load"): 8 wrk connections read one Patient as a doctor for DUR seconds (default 240) on a
# fresh embedded cluster; medrec's RSS is printed every 20 s, then the database sessions opened.
# postgres-nio arms an idle timer each time a pooled connection goes idle with no request
# waiting; with a long idle timeout the cancelled timers piled up (64 -> 361 MB in 4 minutes).
# Usage: [BIN=path/to/release/medrec] [DUR=240] bash scripts/pool-idle-memory.sh   (root, wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib-medrec-server.sh
MEDREC_BIN=${BIN:-$(pwd)/.build/release/medrec}
medrec_prepare rss
medrec_bench_doctor
medrec_start
token=$(medrec_system_token)
medrec_bench_patient "$practitioner" "$token"
doctor=$(medrec_doctor_token)
echo "t=0 $(grep VmRSS /proc/$server/status)"
wrk -t1 -c8 -d${DUR:-240}s -H "Authorization: Bearer $doctor" "$base/fhir/Patient/$patient" > $work/wrk.txt &
w=$!
for i in $(seq 1 $(( ${DUR:-240} / 20 ))); do sleep 20; echo "t=$((i*20)) $(grep VmRSS /proc/$server/status)"; done
wait $w; grep -E "Requests/sec" $work/wrk.txt
sleep 20; echo "after+20 $(grep VmRSS /proc/$server/status)"
url=$("$bin" db url --data-dir "$work/data" 2>/dev/null); echo "sessions: $(psql "$url" -Atc "SELECT sessions FROM pg_stat_database WHERE datname = current_database()")"
