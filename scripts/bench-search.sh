#!/usr/bin/env bash
# Search benchmark (issue 6, "Performance"): the fixed query set at a small (~10K) and a large
# (~1M) data set in the same session, on a release build and the embedded cluster, and the
# table of p50/p99 per query, the p50 ratio large/small and the goals (p50 <= 5 ms and
# p99 <= 30 ms at large, $everything p50 <= 100 ms, ratio <= 1.5).
#
# Data: scripts/scale-synthea.py clones the Synthea fixtures deterministically into transaction
# Bundles; clone i is the same whatever --resources says, so the small set is the first clones
# of the large one. They are POSTed to /fhir by parallel clients (the import path of
# scripts/bench.sh (c)), the small set first; after the small run the rest is loaded on top.
# Query values are picked from the clones of the small set and reused at the large size.
#
# Usage: scripts/bench-search.sh [--small N] [--large N] [--iterations N] [--clients N]
#          [--out FILE] [--data DIR] [--keep] [--lenient] [--everything-count N] [--deep-page N]
#   --small N        resources in the small set (default 10000)
#   --large N        resources in the large set (default 1000000)
#   --iterations N   timed requests per query and size (default 200)
#   --clients N      parallel loading clients (default 4)
#   --out FILE       the table as JSON (default bench-search.json)
#   --data DIR       generated clones to use (and to create if missing); reused across runs,
#                    regenerated only when it holds fewer than --large resources
#   --keep           keep the temporary server directory (database, logs) for EXPLAIN
#   --lenient        do not send Prefer: handling=strict (unknown parameters then give 200)
#   --everything-count N  _count on $everything (default 50; 0 = none, the server's default)
#   --deep-page N    page to reach by following next links (default 20)
#   --bin PATH       use this medrec binary instead of building the release product (e.g. a copy
#                    of an earlier build, to measure before and after on one kept database)
#   --explain MS     after the timed runs, repeat the queries a few times at the large size with
#                    auto_explain (ANALYZE, BUFFERS) logging every statement over MS ms, into
#                    <out>-explain.log: the EXPLAIN for queries that miss their goals (the server
#                    and its cluster restart for this pass, so the first plans see cold buffers)
# A quick run: scripts/bench-search.sh --small 2000 --large 20000 --iterations 50
set -euo pipefail
cd "$(dirname "$0")/.."
small=10000
large=1000000
iterations=200
clients=4
out=bench-search.json
data=""
keep=0
explain_ms=""
query_opts=()
bin=""
while [ $# -gt 0 ]; do
  case "$1" in
    --small) small="$2"; shift 2 ;;
    --large) large="$2"; shift 2 ;;
    --iterations) iterations="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    --lenient) query_opts+=(--lenient); shift ;;
    --everything-count) query_opts+=(--everything-count "$2"); shift 2 ;;
    --deep-page) query_opts+=(--deep-page "$2"); shift 2 ;;
    --explain) explain_ms="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$small" -lt "$large" ] || { echo "--small must be below --large" >&2; exit 2; }
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
export PATH="$pgbin:$PATH"
helper="python3 scripts/bench_search.py"

if [ -z "$bin" ]; then
  swift build -c release --product medrec >/dev/null
  bin="$(swift build -c release --show-bin-path)/medrec"
fi
work=$(mktemp -d /tmp/medrec-bench-search.XXXXXX)
chmod 755 "$work"
[ -n "$data" ] || data="$work/clones"
port=$((20000 + RANDOM % 20000))
"$bin" client add --name bench-search --scopes "system/*.cruds" --data-dir "$work/data" > "$work/client.txt"
MEDREC_BENCH_CLIENT_ID=$(awk '/^client_id:/ {print $2}' "$work/client.txt")
MEDREC_BENCH_CLIENT_SECRET=$(awk '/^client_secret:/ {print $2}' "$work/client.txt")
export MEDREC_BENCH_CLIENT_ID MEDREC_BENCH_CLIENT_SECRET
server=""
start_server() {
  "$bin" serve --data-dir "$work/data" --port "$port" >"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 120); do grep -q "listening on" "$work/server.log" && break; sleep 0.5; done
  grep -q "listening on" "$work/server.log" || { cat "$work/server.log"; exit 1; }
}
stop_server() {
  [ -n "$server" ] || return 0
  kill -TERM "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=""
}
cleanup() {
  stop_server
  if [ "$keep" = 1 ]; then echo "kept $work (server stopped; its database is in $work/data)" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
start_server
base="http://127.0.0.1:$port"
dburl=$("$bin" db url --data-dir "$work/data")
echo "server: $base   database: $("$bin" db url --without-password --data-dir "$work/data")"

# Generate (or reuse) the clones for the large set.
have=0
[ -f "$data/resources.txt" ] && have=$(cat "$data/resources.txt")
if [ "$have" -lt "$large" ]; then
  echo "generating $large resources into $data"
  mkdir -p "$data"
  rm -f "$data"/clone-*.json "$data/resources.txt"
  python3 scripts/scale-synthea.py --resources "$large" --out "$data" 2> "$work/generate.log" \
    || { cat "$work/generate.log"; exit 1; }
  tail -n +1 "$work/generate.log" | grep '^wrote' >&2
  python3 -c "import glob,sys; print(sum(open(f,'rb').read().count(b'\"fullUrl\":') for f in glob.glob(sys.argv[1]+'/clone-*.json')))" "$data" > "$data/resources.txt"
fi

settle() { psql "$dburl" -qc "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null; }
# What the database holds after a load (rows in `resource` should match what was posted).
stored() {
  psql "$dburl" -Atc "SELECT format('database: %s rows in resource, %s', count(*), pg_size_pretty(pg_database_size(current_database()))) FROM resource"
}

status=0
$helper load --base "$base" --gen "$data" --state "$work/load.json" --upto "$small" --clients "$clients"
settle
loaded_small=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['resources'])" "$work/load.json")
$helper sample --gen "$data" --state "$work/load.json" --out "$work/sample.json"
echo "small: $loaded_small resources posted; $(stored)"
$helper queries --base "$base" --sample "$work/sample.json" --out "$work/small.json" --label small \
  --resources "$loaded_small" --iterations "$iterations" "${query_opts[@]}"

$helper load --base "$base" --gen "$data" --state "$work/load.json" --upto "$large" --clients "$clients"
settle
loaded_large=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['resources'])" "$work/load.json")
echo "large: $loaded_large resources posted; $(stored)"
$helper queries --base "$base" --sample "$work/sample.json" --out "$work/large.json" --label large \
  --resources "$loaded_large" --iterations "$iterations" "${query_opts[@]}"

# Plans of the large run's slow statements: a separate, untimed pass with auto_explain on (it costs
# time, so the timed runs above go without it). Plans show constants inline (filters on ids, codes,
# names of the synthetic data set): keep this off for real data.
if [ -n "$explain_ms" ]; then
  psql "$dburl" -q -v ON_ERROR_STOP=1 -c "LOAD 'auto_explain'" \
    -c "ALTER SYSTEM SET session_preload_libraries = 'auto_explain'" \
    -c "ALTER SYSTEM SET auto_explain.log_min_duration = '${explain_ms}ms'" \
    -c "ALTER SYSTEM SET auto_explain.log_analyze = on" -c "ALTER SYSTEM SET auto_explain.log_buffers = on" \
    >/dev/null
  # PostgreSQL 16+ would also log the bound values of every statement; 15 has no such setting.
  psql "$dburl" -q -c "LOAD 'auto_explain'" -c "ALTER SYSTEM SET auto_explain.log_parameter_max_length = 0" >/dev/null 2>&1 || true
  stop_server
  start_server  # new connections load auto_explain
  pglog="$(cat "$work/data/postgres.location" 2>/dev/null || echo "$work/data/postgres")/postgres.log"
  from=$(($(wc -c < "$pglog") + 1))
  $helper queries --base "$base" --sample "$work/sample.json" --out "$work/explain-run.json" --label explain \
    --resources "$loaded_large" --iterations 3 --warmup 3 --no-baseline "${query_opts[@]}" 2>/dev/null
  explain_out="${out%.json}-explain.log"
  tail -c +"$from" "$pglog" > "$explain_out"
  psql "$dburl" -q -c "ALTER SYSTEM RESET session_preload_libraries" >/dev/null
  echo "plans of statements over ${explain_ms} ms during an untimed pass at the large size: $explain_out ($(grep -c 'duration:' "$explain_out" || true) plans)"
fi

$helper report --small "$work/small.json" --large "$work/large.json" --load-state "$work/load.json" --out "$out" || status=$?
echo "table written to $out"
exit "$status"
