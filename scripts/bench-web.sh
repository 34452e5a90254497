#!/usr/bin/env bash
# Web application benchmark (issue 17): the server time of the doctor's patient chart page for a
# Synthea patient with its full history (thousands of observations, paged), and the page's
# weight. Release build, embedded cluster, wrk, with the baseline measured in the same run:
#   (a) GET <chart page> of that patient as the signed-in doctor (session cookie), 1 connection
#   (b) GET /fhir/Patient/{id} of the same patient as the same doctor (bearer token), 1 connection
# (a) and (b) run interleaved in rounds (drift hits both alike); medians of the rounds' p50 and
# p99 are reported, and (a) as a ratio to (b). One connection: each request's latency is the
# server's time plus a loopback round trip, the same for both. Target: (a) p50 under 20 ms.
# Page weight: the chart's HTML plus the stylesheets and scripts it links (no images), in KB;
# target under 100 KB.
# Usage: scripts/bench-web.sh [--duration SECONDS] [--rounds N] [--observations N]
#   MEDREC_CHART_PATH: the chart's path, {id} for the Patient id (default /app/doctor/patients/{id})
#   MEDREC_BENCH_HOLD: keep the loaded server up (until $work/hold is removed) to look at plans
#   MEDREC_BIN: a medrec binary to use instead of building the release one (numbers from a
#   debug binary are not comparable).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=10
rounds=3
observations=3000
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --observations) observations="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
chart_template="${MEDREC_CHART_PATH:-/app/doctor/patients/{id\}}"
fixtures="${MEDREC_FIXTURES:-../shared/fixtures}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
export PATH="$pgbin:$PATH"
. scripts/lib-medrec-server.sh
if [ -n "${MEDREC_BIN:-}" ]; then
  # medrec_prepare without its release build.
  bin="$MEDREC_BIN"
  work=$(mktemp -d /tmp/medrec-bench-web.XXXXXX)
  chmod 755 "$work"
  port=$((20000 + RANDOM % 20000))
  "$bin" client add --name bench-web --scopes "system/*.cruds" --data-dir "$work/data" > "$work/client.txt"
  client_id=$(awk '/^client_id:/ {print $2}' "$work/client.txt")
  client_secret=$(awk '/^client_secret:/ {print $2}' "$work/client.txt")
else
  medrec_prepare bench-web
fi
medrec_bench_doctor
medrec_start
system=$(medrec_system_token)

# The patient: the largest Synthea bundle, then copies of its observations on earlier dates until
# it has about $observations of them (a long history, as the chart pages through).
bundle=$(ls -S "$fixtures"/synthea/*.json | head -1)
patient=$(curl -sf -X POST "$base/fhir" -H "Authorization: Bearer $system" -H 'Content-Type: application/fhir+json' \
  --data-binary @"$bundle" | python3 -c "
import json, sys
for e in json.load(sys.stdin)['entry']:
    loc = e.get('response', {}).get('location', '')
    if loc.startswith('Patient/'):
        print(loc.split('/')[1]); break")
python3 - "$bundle" "$patient" "$observations" "$work" <<'PY'
import copy, datetime, json, sys
bundle, patient, wanted, work = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3]), sys.argv[4]
observations = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
made, batch, n = len(observations), [], 0
def shifted(text, days):
    if not isinstance(text, str) or len(text) < 10:
        return text
    day = datetime.date.fromisoformat(text[:10]) - datetime.timedelta(days=days)
    return day.isoformat() + text[10:]
round_ = 0
while made < wanted:
    round_ += 1
    for original in observations:
        if made >= wanted:
            break
        o = copy.deepcopy(original)
        o.pop("id", None)
        o["subject"] = {"reference": f"Patient/{patient}"}
        o.pop("encounter", None)
        for key in ("effectiveDateTime", "issued"):
            if key in o:
                o[key] = shifted(o[key], 30 * round_)
        batch.append({"resource": o, "request": {"method": "POST", "url": "Observation"}})
        made += 1
        if len(batch) == 500:
            json.dump({"resourceType": "Bundle", "type": "transaction", "entry": batch}, open(f"{work}/obs-{n}.json", "w"))
            batch, n = [], n + 1
if batch:
    json.dump({"resourceType": "Bundle", "type": "transaction", "entry": batch}, open(f"{work}/obs-{n}.json", "w"))
PY
for file in "$work"/obs-*.json; do
  curl -sf -o /dev/null -X POST "$base/fhir" -H "Authorization: Bearer $system" -H 'Content-Type: application/fhir+json' --data-binary @"$file"
done
count=$(curl -sf "$base/fhir/Observation?patient=$patient&_summary=count" -H "Authorization: Bearer $system" \
  | python3 -c "import json,sys; print(json.load(sys.stdin)['total'])")
# The doctor's care relationship (an Encounter naming them), so the chart needs no break-glass.
curl -sf -o /dev/null -X POST "$base/fhir/Encounter" -H "Authorization: Bearer $system" -H 'Content-Type: application/fhir+json' \
  -d "{\"resourceType\":\"Encounter\",\"status\":\"finished\",\"class\":{\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ActCode\",\"code\":\"AMB\"},\"subject\":{\"reference\":\"Patient/$patient\"},\"participant\":[{\"individual\":{\"reference\":\"$practitioner\"}}]}"
token=$(medrec_doctor_token)

# The doctor signs in on the web face (the form's CSRF token and cookie, then the session cookie).
jar="$work/cookies.txt"
csrf=$(curl -sf -c "$jar" "$base/app/sign-in" | grep -o 'name="_csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
curl -sf -o /dev/null -b "$jar" -c "$jar" -X POST "$base/app/sign-in" \
  --data-urlencode "_csrf=$csrf" --data-urlencode "email=doctor@bench.example" --data-urlencode "password=bench doctor passphrase"
session=$(awk '$6 ~ /medrec_session$/ {print $6"="$7}' "$jar")
[ -n "$session" ] || { echo "web sign-in failed" >&2; exit 1; }
chart="${chart_template//\{id\}/$patient}"
status=$(curl -s -o "$work/chart.html" -w '%{http_code}' -H "Cookie: $session" "$base$chart")
if [ "$status" != 200 ]; then
  echo "the chart page $chart answers HTTP $status (not built yet? set MEDREC_CHART_PATH)" >&2
  exit 1
fi

# Page weight: the HTML and what it links (stylesheets, scripts), no images.
weight=$(python3 - "$work/chart.html" "$base" "$session" <<'PY'
import re, sys, urllib.request
html = open(sys.argv[1], "rb").read()
total = len(html)
for ref in sorted(set(re.findall(rb'<(?:link[^>]+href|script[^>]+src)="(/[^"]+)"', html))):
    request = urllib.request.Request(sys.argv[2] + ref.decode(), headers={"Cookie": sys.argv[3]})
    total += len(urllib.request.urlopen(request).read())
print(f"{total / 1024:.1f}")
PY
)

if [ -n "${MEDREC_BENCH_HOLD:-}" ]; then
  # For looking at plans: the loaded server stays up until $work/hold is removed.
  touch "$work/hold"
  echo "holding: patient $patient, base $base, data $work/data; rm $work/hold to go on" >&2
  while [ -e "$work/hold" ]; do sleep 2; done
fi

lua() {  # cookie or bearer header line
  cat <<LUA
wrk.headers["$1"] = "$2"
done = function(summary, latency, requests)
  io.write(string.format("RESULT p50=%.3f p99=%.3f requests=%d non2xx=%d\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests, summary.errors.status))
end
LUA
}
lua Cookie "$session" > "$work/chart.lua"
lua Authorization "Bearer $token" > "$work/read.lua"
run() {  # lua, path
  wrk -t1 -c1 -d"${duration}s" -s "$1" "$base$2" | grep '^RESULT'
}
: > "$work/chart.txt"; : > "$work/read.txt"
for round in $(seq 1 "$rounds"); do
  run "$work/chart.lua" "$chart" | tee -a "$work/chart.txt"
  run "$work/read.lua" "/fhir/Patient/$patient" | tee -a "$work/read.txt"
done
python3 - "$work/chart.txt" "$work/read.txt" "$count" "$weight" "$chart" <<'PY'
import re, statistics, sys
def load(path):
    rows = [dict((k, float(v)) for k, v in re.findall(r"(\w+)=([\d.]+)", line)) for line in open(path)]
    return statistics.median(r["p50"] for r in rows), statistics.median(r["p99"] for r in rows), sum(r["non2xx"] for r in rows)
c50, c99, cbad = load(sys.argv[1])
r50, r99, rbad = load(sys.argv[2])
print(f"patient with {sys.argv[3]} observations; chart page {sys.argv[5]}")
print(f"(a) chart page      p50 {c50:7.2f} ms  p99 {c99:7.2f} ms  (non-2xx: {int(cbad)})")
print(f"(b) FHIR Patient    p50 {r50:7.2f} ms  p99 {r99:7.2f} ms  (non-2xx: {int(rbad)})")
print(f"(a)/(b)             p50 {c50 / r50:7.1f} x   p99 {c99 / r99:7.1f} x")
print(f"page weight (HTML + CSS + JS, no images): {sys.argv[4]} KB (target < 100 KB); p50 target < 20 ms: {'met' if c50 < 20 else 'NOT met'}")
PY
