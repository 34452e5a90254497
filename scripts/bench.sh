#!/usr/bin/env bash
# Server benchmark (issue: REST store). Release build, embedded cluster, real load tool (wrk),
# with the physical baselines measured in the same run:
#   (a) GET /fhir/Patient/{id}, JSON, 32 connections: req/s and p99
#   (b) POST /fhir/Patient: req/s
#   (c) Synthea transaction import, 4 clients in parallel: resources/s
#   (d) pgbench -S (select-only) TPS against the same cluster
#   (e) raw COPY of the same resources as jsonb rows: resources/s
#   (f) (a) and (b) again on a second server over the same database with field encryption
#       switched off (an empty policy), for the cost of sealing; (a), (b) and (f) run interleaved
#       in three rounds and report medians
#   (g) (a) on a third server with read auditing off, for the cost of the audit trail
#   (h) logins per second (bcrypt cost 12), and GET latency while a login flood runs
#   (i) the stack ceiling: Benchmarks/StackCeiling (the same Hummingbird + postgres-nio stack and
#       pool configuration) reading the same Patient's jsonb row by primary key, nothing else
#   (j) (a) as a system client (token + revocation check, scopes, audited; no care relationship)
#   (k) (a) on the platform face: GET /patients/{id} as the same doctor
# Every read figure is reported as a ratio to (d) pgbench -S AND to (i) the stack ceiling; (a),
# (b), (f), (g), (i), (j), (k) run interleaved in rounds (drift hits all alike), medians reported.
# Every request is authenticated: (a) and (g) as an approved doctor with a care relationship to
# the patient (authorized and, for (a), audited); writes and imports as a system client.
# Usage: scripts/bench.sh [--duration SECONDS] [--import-rounds N] [--read-rounds N] [--only-reads]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=10
rounds=3
read_rounds=3
only_reads=false
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --import-rounds) rounds="$2"; shift 2 ;;
    --read-rounds) read_rounds="$2"; shift 2 ;;
    --only-reads) only_reads=true; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
fixtures="${MEDREC_FIXTURES:-../shared/fixtures}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
export PATH="$pgbin:$PATH"

swift build -c release --product medrec >/dev/null
swift build -c release --product StackCeiling >/dev/null
bin="$(swift build -c release --show-bin-path)/medrec"
ceiling_bin="$(swift build -c release --show-bin-path)/StackCeiling"
work=$(mktemp -d /tmp/medrec-bench.XXXXXX)
chmod 755 "$work"
port=$((20000 + RANDOM % 20000))
# Accounts before the first start: a system client for writes, a doctor for reads.
"$bin" client add --name bench --scopes "system/*.cruds" --data-dir "$work/data" > "$work/client.txt"
client_id=$(awk '/^client_id:/ {print $2}' "$work/client.txt")
client_secret=$(awk '/^client_secret:/ {print $2}' "$work/client.txt")
doctor_password="bench doctor passphrase"
"$bin" user add --email doctor@bench.example --password "$doctor_password" --role doctor \
  --first-name Bench --last-name Doctor --data-dir "$work/data" > "$work/doctor.txt"
practitioner=$(grep -o 'Practitioner/[^ ]*' "$work/doctor.txt")
# Three servers and the ceiling (a pool of up to 20 connections each) plus pgbench's 32 clients
# exceed the embedded cluster's 100 connections: raise it for the benchmark only.
echo "max_connections = 200" >> "$work/data/postgres/data/postgresql.auto.conf"
"$bin" serve --data-dir "$work/data" --port "$port" >"$work/server.log" 2>&1 &
server=$!
cleanup() { kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 120); do grep -q "listening on" "$work/server.log" && break; sleep 0.5; done
grep -q "listening on" "$work/server.log" || { cat "$work/server.log"; exit 1; }
base="http://127.0.0.1:$port"
dburl=$("$bin" db url --data-dir "$work/data")
shown_url=$("$bin" db url --without-password --data-dir "$work/data")
echo "server: $base   database: $shown_url   duration: ${duration}s per load test"
system_token() {
  curl -sf -X POST "$1/auth/token" -u "$client_id:$client_secret" -d grant_type=client_credentials \
    | python3 -c "import json,sys; print(json.load(sys.stdin)['access_token'])"
}
doctor_token() {
  curl -sf -X POST "$1/auth/login" -H 'Content-Type: application/json' \
    -d "{\"email\":\"doctor@bench.example\",\"password\":\"$doctor_password\"}" \
    | python3 -c "import json,sys; print(json.load(sys.stdin)['accessToken'])"
}
sys_token=$(system_token "$base")

# (c) Synthea import: every bundle, $rounds times, 4 clients in parallel.
ls "$fixtures"/synthea/*.json > "$work/bundles"
for _ in $(seq 2 "$rounds"); do ls "$fixtures"/synthea/*.json >> "$work/bundles"; done
resources_per_round=$(python3 -c "import json,sys,glob; print(sum(len(json.load(open(f))['entry']) for f in glob.glob(sys.argv[1]+'/synthea/*.json')))" "$fixtures")
import_rate=0
if ! $only_reads; then
start=$(date +%s.%N)
xargs -P 4 -I{} curl -sf -o /dev/null -X POST "$base/fhir" -H "Authorization: Bearer $sys_token" \
  -H 'Content-Type: application/fhir+json' --data-binary @{} < "$work/bundles"
end=$(date +%s.%N)
import_rate=$(python3 -c "print(round($resources_per_round * $rounds / ($end - $start)))")
fi

# Let PostgreSQL settle after the bulk import, so the read and write figures that follow (and
# their sealing-off counterparts) see the same database state.
psql "$dburl" -qc "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null

# A second server on the same database with field encryption off (an empty policy), for (f).
echo '{"*": []}' > "$work/no-sealing.json"
plain_port=$((port + 1))
MEDREC_DATABASE_URL="$dburl" MEDREC_ENCRYPTION_POLICY="$work/no-sealing.json" \
  "$bin" serve --data-dir "$work/data" --port "$plain_port" >"$work/plain.log" 2>&1 &
plain_server=$!
# A third with read auditing off, for (g).
audit_port=$((port + 2))
MEDREC_DATABASE_URL="$dburl" MEDREC_AUTH_AUDIT_READS=false \
  "$bin" serve --data-dir "$work/data" --port "$audit_port" >"$work/noaudit.log" 2>&1 &
audit_server=$!
# (i) The stack ceiling on the same database.
ceiling_port=$((port + 3))
"$ceiling_bin" --database-url "$dburl" --port "$ceiling_port" >"$work/ceiling.log" 2>&1 &
ceiling_server=$!
for _ in $(seq 1 60); do grep -q "listening on" "$work/plain.log" && grep -q "listening on" "$work/noaudit.log" && grep -q "listening on" "$work/ceiling.log" && break; sleep 0.5; done
plain_base="http://127.0.0.1:$plain_port"
audit_base="http://127.0.0.1:$audit_port"
plain_sys_token=$(system_token "$plain_base")
doc_token=$(doctor_token "$base")
plain_doc_token=$(doctor_token "$plain_base")
audit_doc_token=$(doctor_token "$audit_base")

# The read patient, one per sealing mode, each with an Encounter naming the doctor (the care
# relationship that authorizes the doctor's reads).
new_patient() {
  local target=$1 token=$2 id
  id=$(curl -sf -X POST "$target/fhir/Patient" -H "Authorization: Bearer $token" -H 'Content-Type: application/fhir+json' \
    --data-binary @"$fixtures/hl7-examples/json/patient-example.json" | python3 -c "import json,sys; print(json.load(sys.stdin)['id'])")
  curl -sf -o /dev/null -X POST "$target/fhir/Encounter" -H "Authorization: Bearer $token" -H 'Content-Type: application/fhir+json' \
    -d "{\"resourceType\":\"Encounter\",\"status\":\"finished\",\"class\":{\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ActCode\",\"code\":\"AMB\"},\"subject\":{\"reference\":\"Patient/$id\"},\"participant\":[{\"individual\":{\"reference\":\"$practitioner\"}}]}"
  echo "$id"
}
patient=$(new_patient "$base" "$sys_token")
plain_patient=$(new_patient "$plain_base" "$plain_sys_token")
python3 - "$fixtures/hl7-examples/json/patient-example.json" "$sys_token" > "$work/post.lua" <<'PY'
import json, sys
body = json.dumps(json.load(open(sys.argv[1])))
print('wrk.method = "POST"')
print('wrk.headers["Content-Type"] = "application/fhir+json"')
print('wrk.headers["Prefer"] = "return=minimal"')
print('wrk.headers["Authorization"] = "Bearer ' + sys.argv[2] + '"')
print('wrk.body = ' + json.dumps(body))
PY
sed "s/$sys_token/$plain_sys_token/" "$work/post.lua" > "$work/plain-post.lua"

# (a), (b), (f), (g), (i), (j), (k) interleaved in rounds so that drift in the machine's speed
# hits every side alike; each figure is the median of its rounds, p99 from the middle round.
round_seconds=$(( duration / 3 > 2 ? duration / 3 : 2 ))
rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
p99() { awk '$1=="99%" {print $2}' "$1"; }
median() { python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
load() {  # name, then wrk arguments
  local name=$1; shift
  wrk -t2 -c32 -d"${round_seconds}s" --latency "$@" > "$work/$name-$round.txt"
}
# (d) pgbench select-only on the same cluster, in the same rounds.
psql "$dburl" -qc "CREATE DATABASE bench" >/dev/null
benchurl="${dburl%/*}/bench"
pgbench -i -q -s 10 "$benchurl" >/dev/null 2>&1
pgbench_runs=()
for round in $(seq 1 "$read_rounds"); do
  pgbench_runs+=("$(pgbench -S -n -c 32 -j 2 -T "$round_seconds" "$benchurl" 2>/dev/null | awk '/^tps/ {print int($3)}')")
  load ceiling "http://127.0.0.1:$ceiling_port/ceiling/Patient/$patient"
  load read -H "Authorization: Bearer $doc_token" "$base/fhir/Patient/$patient"
  load sysread -H "Authorization: Bearer $sys_token" "$base/fhir/Patient/$patient"
  load platread -H "Authorization: Bearer $doc_token" "$base/patients/$patient"
  load unaudited -H "Authorization: Bearer $audit_doc_token" "$audit_base/fhir/Patient/$patient"
  load plainread -H "Authorization: Bearer $plain_doc_token" "$plain_base/fhir/Patient/$plain_patient"
  load create -s "$work/post.lua" "$base/fhir/Patient"
  load plaincreate -s "$work/plain-post.lua" "$plain_base/fhir/Patient"
done
figure() { local values=(); for f in "$work/$1"-*.txt; do values+=("$(rps "$f")"); done; median "${values[@]}"; }
middle=$(( (read_rounds + 1) / 2 ))
audited_rows=$(psql "$dburl" -Atc "SELECT count(*) FROM audit_event WHERE subtype = 'read'")
read_rps=$(figure read); read_p99=$(p99 "$work/read-$middle.txt")
ceiling_rps=$(figure ceiling); ceiling_p99=$(p99 "$work/ceiling-$middle.txt")
sysread_rps=$(figure sysread); sysread_p99=$(p99 "$work/sysread-$middle.txt")
platread_rps=$(figure platread); platread_p99=$(p99 "$work/platread-$middle.txt")
read_errors=$(cat "$work"/read-*.txt "$work"/sysread-*.txt "$work"/platread-*.txt "$work"/ceiling-*.txt | grep -c "Non-2xx" || true)
create_rps=$(figure create)
plain_read_rps=$(figure plainread)
plain_create_rps=$(figure plaincreate)
unaudited_read_rps=$(figure unaudited)
pgbench_tps=$(median "${pgbench_runs[@]}")
kill -TERM "$plain_server" "$audit_server" "$ceiling_server"; wait "$plain_server" "$audit_server" "$ceiling_server" 2>/dev/null || true

login_rps=0; login_non2xx=0; during_rps=0; during_p99=-; quiet_rps=1; quiet_p99=-; copy_rate=1; copy_lz4_rate=1
if ! $only_reads; then
# (h) Logins: 8 clients for the duration, and reads' latency meanwhile (bcrypt runs on its own
# bounded pool, so reads should not starve).
cat > "$work/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"doctor@bench.example","password":"$doctor_password"}'
LUA
wrk -t1 -c8 -d"$(( duration > 4 ? duration - 2 : 2 ))s" --latency -H "Authorization: Bearer $doc_token" "$base/fhir/Patient/$patient" > "$work/login-quiet.txt"
wrk -t1 -c8 -d"${duration}s" -s "$work/login.lua" "$base/auth/login" > "$work/login.txt" &
login_job=$!
sleep 1
wrk -t1 -c8 -d"$(( duration > 4 ? duration - 2 : 2 ))s" --latency -H "Authorization: Bearer $doc_token" "$base/fhir/Patient/$patient" > "$work/login-during.txt"
wait "$login_job"
login_rps=$(rps "$work/login.txt")
login_non2xx=$(awk '/Non-2xx/ {print $NF}' "$work/login.txt")
during_p99=$(awk '$1=="99%" {print $2}' "$work/login-during.txt")
during_rps=$(rps "$work/login-during.txt")
quiet_p99=$(awk '$1=="99%" {print $2}' "$work/login-quiet.txt")
quiet_rps=$(rps "$work/login-quiet.txt")

# (e) COPY the same resources as jsonb rows.
python3 - "$fixtures" "$rounds" > "$work/copy.tsv" <<'PY'
import json, sys, glob
for _ in range(int(sys.argv[2])):
    for f in sorted(glob.glob(sys.argv[1] + '/synthea/*.json')):
        for e in json.load(open(f))['entry']:
            line = json.dumps(e['resource'], separators=(',', ':'))
            print(line.replace('\\', '\\\\').replace('\t', '\\t'))
PY
copy_rows=$(wc -l < "$work/copy.tsv")
psql "$benchurl" -qc "CREATE TABLE copy_baseline (id bigserial primary key, content jsonb)" >/dev/null
start=$(date +%s.%N)
psql "$benchurl" -qc "\\copy copy_baseline (content) FROM '$work/copy.tsv'" >/dev/null
end=$(date +%s.%N)
copy_rate=$(python3 -c "print(round($copy_rows / ($end - $start)))")
# The same COPY into a table whose jsonb column uses lz4, as the server's resource tables do
# since migration 0007: the import's ratio to this one is the stricter figure.
psql "$benchurl" -qc "CREATE TABLE copy_lz4 (id bigserial primary key, content jsonb COMPRESSION lz4)" >/dev/null
start=$(date +%s.%N)
psql "$benchurl" -qc "\\copy copy_lz4 (content) FROM '$work/copy.tsv'" >/dev/null
end=$(date +%s.%N)
copy_lz4_rate=$(python3 -c "print(round($copy_rows / ($end - $start)))")
fi

python3 - <<PY
read_rps, create_rps, pgbench, import_rate, copy_rate = float("$read_rps"), float("$create_rps"), float("$pgbench_tps"), float("$import_rate"), float("$copy_rate")
plain_read, plain_create = float("$plain_read_rps"), float("$plain_create_rps")
ceiling, sysread, platread = float("$ceiling_rps"), float("$sysread_rps"), float("$platread_rps")
print(f"medians of $read_rounds interleaved rounds of {$round_seconds}s, wrk -t2 -c32; p99 from round $middle")
print(f"(a) doctor GET /fhir/Patient/{{id}}       {read_rps:10.0f} req/s   p99 $read_p99   {read_rps/pgbench:5.2f}x of (d)   {read_rps/ceiling:5.2f}x of (i)   non-2xx lines: $read_errors")
print(f"(j) system GET /fhir/Patient/{{id}}       {sysread:10.0f} req/s   p99 $sysread_p99   {sysread/pgbench:5.2f}x of (d)   {sysread/ceiling:5.2f}x of (i)")
print(f"(k) doctor GET /patients/{{id}}           {platread:10.0f} req/s   p99 $platread_p99   {platread/pgbench:5.2f}x of (d)   {platread/ceiling:5.2f}x of (i)   {platread/read_rps:5.2f}x of (a)")
print(f"(i) stack ceiling, PK read of the row    {ceiling:10.0f} req/s   p99 $ceiling_p99   {ceiling/pgbench:5.2f}x of (d)")
print(f"(b) POST /fhir/Patient, 32 conns        {create_rps:10.0f} req/s             {create_rps/pgbench:5.2f}x of (d)")
copy_lz4 = float("$copy_lz4_rate")
if import_rate: print(f"(c) Synthea transactions, 4 clients     {import_rate:10.0f} resources/s       {import_rate/copy_rate:5.2f}x of (e)   {import_rate/copy_lz4:5.2f}x of (e')")
print(f"(d) pgbench -S, 32 clients              {pgbench:10.0f} TPS   (rounds: ${pgbench_runs[*]})")
if import_rate: print(f"(e) COPY jsonb rows                     {copy_rate:10.0f} resources/s")
if import_rate: print(f"(e') COPY jsonb rows, lz4 column        {copy_lz4:10.0f} resources/s")
print(f"(f) sealing off: GET {plain_read:8.0f} req/s, POST {plain_create:6.0f} req/s;  sealing cost: GET {1 - read_rps/plain_read:6.1%}, POST {1 - create_rps/plain_create:6.1%}")
unaudited = float("$unaudited_read_rps")
print(f"(g) read auditing off: GET {unaudited:8.0f} req/s;  audit cost: GET {1 - read_rps/unaudited:6.1%}   (audit rows for reads: $audited_rows)")
if import_rate: print(f"(h) logins, 8 clients                   {float('$login_rps'):10.1f} /s   (non-2xx: ${login_non2xx:-0});  GET meanwhile {float('$during_rps'):8.0f} req/s, p99 $during_p99 (without logins: {float('$quiet_rps'):.0f} req/s, p99 $quiet_p99; {float('$during_rps')/float('$quiet_rps'):.2f}x)")
PY
