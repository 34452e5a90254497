#!/usr/bin/env bash
# Bulk $import and $export throughput of a release medrec against PostgreSQL's own COPY of the
# same rows, measured in the same run on the same cluster (issue 15). Reports resources/s,
# the ratio to each baseline and the server's peak RSS (VmHWM).
#
#   scripts/bench-bulk.sh [--resources N] [--bin PATH/medrec]
#
# N defaults to 1,000,000 (scripts/scale-synthea.py --format ndjson makes them from the Synthea
# fixtures). --bin uses an already built binary instead of `swift build -c release`.
# Import baseline: COPY of the same NDJSON lines into a bare jsonb table.
# Export baseline: COPY (SELECT content FROM resource) TO STDOUT, to /dev/null.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib-medrec-server.sh

resources=1000000
bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --resources) resources="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -z "$bin" ]; then
  swift build -c release --product medrec >/dev/null
  bin="$(swift build -c release --show-bin-path)/medrec"
fi
work=$(mktemp -d "/tmp/medrec-bench-bulk.XXXXXX")
chmod 755 "$work"
port=$((20000 + RANDOM % 20000))
"$bin" client add --name bench-bulk --scopes "system/*.cruds" --data-dir "$work/data" > "$work/client.txt"
client_id=$(awk '/^client_id:/ {print $2}' "$work/client.txt")
client_secret=$(awk '/^client_secret:/ {print $2}' "$work/client.txt")

echo "== generating about $resources resources (NDJSON)"
python3 scripts/scale-synthea.py --resources "$resources" --format ndjson --out "$work/ndjson" >/dev/null
chmod -R a+rX "$work/ndjson"
lines=$(cat "$work"/ndjson/*.ndjson | wc -l)
echo "   $lines lines, $(du -sh "$work/ndjson" | cut -f1)"

export MEDREC_BULK_IMPORT_DIRECTORY="$work/ndjson"
export MEDREC_BULK_RESOURCES_PER_FILE=250000
medrec_start
token=$(medrec_system_token)
auth=(-H "Authorization: Bearer $token")
psql_bin=$(ls -d /usr/lib/postgresql/*/bin | tail -1)/psql
dburl=$("$bin" db url --data-dir "$work/data")
now() { python3 -c 'import time; print(time.time())'; }
rss() { awk '/VmHWM/ {print $2}' "/proc/$server/status"; }

# Polls a status URL until 200; prints the manifest to $work/$2.json.
wait_done() {
  while :; do
    code=$(curl -s -o "$work/$2.json" -w '%{http_code}' "${auth[@]}" "$1")
    [ "$code" = 200 ] && return 0
    [ "$code" = 202 ] || { echo "status $code: $(cat "$work/$2.json")" >&2; exit 1; }
    sleep 0.5
  done
}

echo "== baseline: COPY of the same lines into a bare jsonb table"
"$psql_bin" -q "$dburl" -c "CREATE TABLE bench_raw (body jsonb)"
t0=$(now)
cat "$work"/ndjson/*.ndjson | "$psql_bin" -q "$dburl" -c "\\copy bench_raw (body) FROM STDIN WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"
t1=$(now)
copy_in=$(python3 -c "print($lines / ($t1 - $t0))")
"$psql_bin" -q "$dburl" -c "DROP TABLE bench_raw"

echo "== \$import (validation, encryption, indexing, compartments, audit)"
params=$(python3 - "$work/ndjson" <<'PY'
import json, os, sys
d = sys.argv[1]
inputs = [{"name": "input", "part": [{"name": "type", "valueCode": f.split(".")[0]}, {"name": "url", "valueUrl": "file://" + os.path.join(d, f)}]}
          for f in sorted(os.listdir(d)) if f.endswith(".ndjson")]
print(json.dumps({"resourceType": "Parameters", "parameter": [{"name": "inputFormat", "valueCode": "application/fhir+ndjson"}] + inputs}))
PY
)
t0=$(now)
status=$(curl -sf -D - -o /dev/null "${auth[@]}" -H "Prefer: respond-async" -H "Content-Type: application/fhir+json" \
  -X POST "$base/fhir/\$import" -d "$params" | awk 'tolower($1) == "content-location:" {print $2}' | tr -d '\r')
wait_done "$status" import
t1=$(now)
import_rate=$(python3 -c "print($lines / ($t1 - $t0))")
import_errors=$(python3 -c "import json; m = json.load(open('$work/import.json')); print(sum(e['count'] for e in m['error']))")
rss_import=$(rss)

echo "== baseline: COPY (SELECT content FROM resource) TO STDOUT"
stored=$("$psql_bin" -tA "$dburl" -c "SELECT count(*) FROM resource")
t0=$(now)
"$psql_bin" -q "$dburl" -c "\\copy (SELECT content FROM resource) TO '/dev/null'"
t1=$(now)
copy_out=$(python3 -c "print($stored / ($t1 - $t0))")

echo "== \$export (snapshot, decryption, NDJSON, gzip + sealing at rest, download)"
t0=$(now)
status=$(curl -sf -D - -o /dev/null "${auth[@]}" -H "Prefer: respond-async" -H "Accept: application/fhir+json" \
  "$base/fhir/\$export" | awk 'tolower($1) == "content-location:" {print $2}' | tr -d '\r')
wait_done "$status" export
exported=0
for url in $(python3 -c "import json; print(' '.join(o['url'] for o in json.load(open('$work/export.json'))['output']))"); do
  n=$(curl -sf "${auth[@]}" "$url" | wc -l)
  exported=$((exported + n))
done
t1=$(now)
export_rate=$(python3 -c "print($exported / ($t1 - $t0))")
rss_export=$(rss)

python3 - <<PY
print()
print("| measure | resources | medrec /s | COPY baseline /s | ratio |")
print("| --- | ---: | ---: | ---: | ---: |")
print(f"| import | $lines | {$import_rate:,.0f} | {$copy_in:,.0f} | {$import_rate / $copy_in:.2f} |")
print(f"| export | $exported | {$export_rate:,.0f} | {$copy_out:,.0f} | {$export_rate / $copy_out:.2f} |")
print()
print(f"import errors: $import_errors; stored resources: $stored; server peak RSS: {$rss_export / 1024:.0f} MiB (after import {$rss_import / 1024:.0f} MiB)")
PY
