#!/usr/bin/env bash
# Soak (issue 19; docs/reliability.md, "Soak"): a mixed load for a long while on one medrec with a
# fresh embedded cluster, local only. wrk runs scripts/soak.lua (FHIR reads, searches, creates and
# updates; platform reads, lists and creates; a few logins) in back-to-back windows, one wrk
# process per window (so the connections are opened again at every window); scripts/soak.py
# samples medrec's RSS, open fds and threads, the database connections and PostgreSQL's memory
# every few seconds, then writes CSVs, an SVG plot and a summary with PASS/FAIL lines:
# no 5xx, RSS growth over the second half < 10 %, fds and database connections flat, p99 stable.
# Builds nothing; run as root (the embedded cluster runs as `postgres`; psql through runuser).
# Usage: scripts/soak.sh [--bin .build/release/medrec] [--duration 600] [--window 30]
#          [--connections 200] [--threads 2] [--interval 5] [--patients 200] [--login-gap 10]
#          [--out docs/soak] [--keep]
# Exits 1 if a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
bin=.build/release/medrec
duration=600
window=30
connections=200
threads=2
interval=5
patients=200
login_gap=10
out=docs/soak
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --window) window="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --interval) interval="$2"; shift 2 ;;
    --patients) patients="$2"; shift 2 ;;
    --login-gap) login_gap="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "run as root: the embedded cluster runs as postgres and psql is run through runuser" >&2; exit 2; }
bin=$(readlink -f "$bin")
[ -x "$bin" ] || { echo "no medrec binary at $bin" >&2; exit 2; }
[ -d "$(dirname "$bin")/medical-records_Server.resources" ] || {
  echo "medical-records_Server.resources is missing beside $bin" >&2; exit 2; }
case "$out" in /*) ;; *) out="$repo/$out" ;; esac
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
pool=${MEDREC_DATABASE_POOL_SIZE:-12}

work=$(mktemp -d /tmp/medrec-soak.XXXXXX)
chmod 755 "$work"  # the postgres user must reach the cluster inside
data="$work/data"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
metrics_port=$(free_port)
base="http://127.0.0.1:$port"
server=""
sampler=""

cleanup() {
  set +e
  [ -n "$sampler" ] && kill -TERM "$sampler" 2>/dev/null && wait "$sampler" 2>/dev/null
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server"
    for _ in $(seq 1 120); do kill -0 "$server" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$server" 2>/dev/null; then echo "medrec did not stop within 60 s of SIGTERM: SIGKILL" >&2; kill -KILL "$server"; fi
    wait "$server" 2>/dev/null
  fi
  # medrec stops its cluster on SIGTERM; if it could not, stop what is left of it.
  pgdata="$data/postgres/data"
  [ -f "$data/postgres.location" ] && pgdata="$(cat "$data/postgres.location")/data"
  if [ -f "$pgdata/postmaster.pid" ] && kill -0 "$(head -1 "$pgdata/postmaster.pid")" 2>/dev/null; then
    (cd / && runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$pgdata" -m fast -w -t 60 -s stop) >/dev/null 2>&1
  fi
  if [ "$keep" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "soak: $bin, ${duration} s in ${window} s windows, $connections connections, $threads wrk threads; work $work"
"$bin" client add --name soak --scopes "system/*.cruds" --data-dir "$data" > "$work/client.txt"
client_id=$(awk '/^client_id:/ {print $2}' "$work/client.txt")
client_secret=$(awk '/^client_secret:/ {print $2}' "$work/client.txt")
"$bin" user add --email doctor@soak.example --password "soak doctor passphrase" --role doctor \
  --first-name Soak --last-name Doctor --data-dir "$data" > /dev/null
"$bin" user add --email patient@soak.example --password "soak patient passphrase" --role patient \
  --first-name Soak --last-name Patient --data-dir "$data" > /dev/null
printf 'doctor@soak.example\tsoak doctor passphrase\npatient@soak.example\tsoak patient passphrase\n' > "$work/logins.tsv"

"$bin" serve --data-dir "$data" --port "$port" --metrics-port "$metrics_port" > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 600); do grep -qs "listening on" "$work/server.log" && break; kill -0 "$server" 2>/dev/null || break; sleep 0.5; done
grep -qs "listening on" "$work/server.log" || { tail -50 "$work/server.log"; echo "medrec did not start" >&2; exit 1; }

token() {
  curl -sf -X POST "$base/auth/token" -u "$client_id:$client_secret" -d grant_type=client_credentials \
    | python3 -c "import json,sys; print(json.load(sys.stdin)['access_token'])"
}
python3 scripts/soak.py seed --base "$base" --token "$(token)" --logins "$work/logins.tsv" --out "$work/ids.txt" \
  --patients "$patients"

python3 scripts/soak.py sample --pid "$server" --data "$data" --out "$work/samples.csv" --interval "$interval" \
  --metrics "http://127.0.0.1:$metrics_port/metrics" 2> "$work/sampler.log" &
sampler=$!
sleep $((interval * 2 + 1))  # two samples before the load

: > "$work/windows.tsv"
n=0
elapsed=0
while [ "$elapsed" -lt "$duration" ]; do
  n=$((n + 1))
  length=$(( duration - elapsed < window ? duration - elapsed : window ))
  kill -0 "$server" 2>/dev/null || { echo "medrec is gone (window $n)" >&2; tail -30 "$work/server.log"; exit 1; }
  tok=$(token)  # a fresh token per window: a long soak outlives one (15 min by default)
  start=$(date +%s.%N)
  SOAK_TOKEN="$tok" SOAK_IDS="$work/ids.txt" SOAK_LOGINS="$work/logins.tsv" SOAK_LOGIN_GAP="$login_gap" \
    wrk -t"$threads" -c"$connections" -d"${length}s" --timeout 30s --latency -s scripts/soak.lua "$base" \
    > "$work/wrk-$n.txt" 2>&1 || { cat "$work/wrk-$n.txt"; echo "wrk failed (window $n)" >&2; exit 1; }
  end=$(date +%s.%N)
  printf '%s\t%s\t%s\t%s\n' "$n" "$start" "$end" "$work/wrk-$n.txt" >> "$work/windows.tsv"
  awk -v n="$n" -v t="$elapsed" '/^SOAK / { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
      printf "window %d (%d s): %d requests, %.0f/s, p50 %.1f ms, p99 %.1f ms, non-2xx/3xx %d, socket errors %d\n",
        n, t, f["requests"], f["requests"] / (f["duration_us"] / 1e6), f["p50_us"] / 1000, f["p99_us"] / 1000, f["status"],
        f["connect"] + f["read"] + f["write"] + f["timeout"] }' "$work/wrk-$n.txt"
  elapsed=$((elapsed + length))
done
# wrk leaves with requests in flight at the end of each window (the server finishes them; they are
# counted from its log): wait until none is left, so that the samples after the load show what
# the server holds at rest.
drained=""
for i in $(seq 1 360); do
  flight=$(curl -sf "http://127.0.0.1:$metrics_port/metrics" | awk '/^medrec_http_requests_in_flight/ {print int($NF)}' || true)
  [ "${flight:-1}" = 0 ] && { drained=$((i / 2)); break; }
  sleep 0.5
done
if [ -n "$drained" ]; then echo "requests in flight after the load: none after $drained s"
else echo "requests in flight after the load: still ${flight:-?} after 180 s"; fi
echo "$drained" > "$work/drained.txt"
sleep $((interval * 2 + 1))  # two samples after the load
kill -TERM "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
sampler=""
[ -s "$work/sampler.log" ] && { echo "sampler:"; sort "$work/sampler.log" | uniq -c | head -5; }

set +e
python3 scripts/soak.py report --work "$work" --out "$out" --connections "$connections" --pool "$pool" \
  --title "medrec soak $(date -u '+%Y-%m-%d %H:%M') UTC - $connections connections, ${duration} s - $bin"
status=$?
exit "$status"
