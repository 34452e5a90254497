#!/usr/bin/env bash
# Scale-out on one machine (issue 18, docs/scaling.md "Measured throughput"): the local cluster
# (deploy/local-cluster.sh: PostgreSQL primary + streaming standby, two replicas, HAProxy) with a
# release binary, and wrk against
#   (1) replica 1 directly (one replica, the baseline), and
#   (2) HAProxy in front of both replicas,
# for reads (GET /fhir/Patient/{id}, one stored Patient, bearer token of a system client) and
# writes (POST /fhir/Patient, the same body). The two setups run interleaved in rounds (drift hits
# both alike); medians of the rounds are reported, and (2)/(1) as a ratio.
# Usage: scripts/bench-cluster.sh [--duration SECONDS] [--rounds N] [--connections N]
#   MEDREC_BIN: a medrec binary instead of building the release one.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=10
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
if [ -z "${MEDREC_BIN:-}" ]; then
  swift build -c release --product medrec >/dev/null
  MEDREC_BIN="$(swift build -c release --show-bin-path)/medrec"
fi
dir=$(mktemp -d /tmp/medrec-bench-cluster.XXXXXX)
rmdir "$dir"
work=$(mktemp -d /tmp/medrec-bench-cluster-work.XXXXXX)
cluster() { MEDREC_CLUSTER_DIR="$dir" deploy/local-cluster.sh "$@"; }
trap 'cluster down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
cluster up --bin "$MEDREC_BIN" >/dev/null
eval "$(cluster env | grep -E '^(LB_PORT|MEDREC1_PORT)=')"
creds=$(cluster medrec client add --name bench-cluster --scopes "system/*.cruds")
id=$(awk '/^client_id:/ {print $2}' <<<"$creds"); secret=$(awk '/^client_secret:/ {print $2}' <<<"$creds")
token=$(curl -sf -X POST "http://127.0.0.1:$LB_PORT/auth/token" -u "$id:$secret" -d grant_type=client_credentials \
  | python3 -c "import json,sys; print(json.load(sys.stdin)['access_token'])")
body='{"resourceType":"Patient","name":[{"family":"Bench","given":["Cluster"]}],"gender":"female","birthDate":"1980-05-17"}'
patient=$(curl -sf -X POST "http://127.0.0.1:$LB_PORT/fhir/Patient" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/fhir+json' -d "$body" | python3 -c "import json,sys; print(json.load(sys.stdin)['id'])")
lua() {  # method
  cat <<LUA
wrk.method = "$1"
wrk.headers["Authorization"] = "Bearer $token"
wrk.headers["Content-Type"] = "application/fhir+json"
$([ "$1" = POST ] && echo "wrk.body = '$body'")
done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.1f p50=%.3f p99=%.3f non2xx=%d errors=%d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA
}
lua GET > "$work/read.lua"; lua POST > "$work/write.lua"
run() {  # label, lua, url
  wrk -t2 -c"$connections" -d"${duration}s" -s "$2" "$3" | grep '^RESULT' | sed "s/^RESULT/$1/" | tee -a "$work/results.txt"
}
for round in $(seq 1 "$rounds"); do
  run one-read "$work/read.lua" "http://127.0.0.1:$MEDREC1_PORT/fhir/Patient/$patient"
  run two-read "$work/read.lua" "http://127.0.0.1:$LB_PORT/fhir/Patient/$patient"
  run one-write "$work/write.lua" "http://127.0.0.1:$MEDREC1_PORT/fhir/Patient"
  run two-write "$work/write.lua" "http://127.0.0.1:$LB_PORT/fhir/Patient"
done
python3 - "$work/results.txt" "$connections" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    label, rest = line.split(" ", 1)
    rows.setdefault(label, []).append({k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", rest)})
def med(label, key): return statistics.median(r[key] for r in rows[label])
print(f"{sys.argv[2]} connections, medians of {len(rows['one-read'])} rounds")
for kind in ("read", "write"):
    one, two = f"one-{kind}", f"two-{kind}"
    for label in (one, two):
        bad = sum(r["non2xx"] + r["errors"] for r in rows[label])
        print(f"{label:10} {med(label, 'rps'):9.1f} req/s  p50 {med(label, 'p50'):7.2f} ms  p99 {med(label, 'p99'):7.2f} ms  (non-2xx/errors: {int(bad)})")
    print(f"{kind}: two replicas behind HAProxy / one replica direct = {med(two, 'rps') / med(one, 'rps'):.2f} x throughput")
PY
