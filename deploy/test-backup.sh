#!/usr/bin/env bash
# Tests the backup procedure end to end with a real medrec (run as root):
#   a PostgreSQL 15 primary with WAL archiving, medrec on it with production key files;
#   write phase A → base backup (deploy/backup.sh base) → write phase B → note time T →
#   write phase C → restore to T into a NEW cluster (deploy/backup.sh restore) → medrec on the
#   restored cluster with the same key files (kept apart from the backup) must serve exactly A and
#   B, decrypted, and not C; with a different keyring the sealed data must not open.
# Usage: deploy/test-backup.sh [--bin PATH] [--dir DIR] [--keep]
# Prints PASS/FAIL lines, timings and 'N passed, N failed'; exits 1 on any failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/lib/local-pg.sh
. "$here/lib/local-pg.sh"

bin=${MEDREC_BIN:-$(command -v medrec || true)}
work=${MEDREC_BACKUP_TEST_DIR:-/tmp/medrec-backup-test}
keep=no
while [ $# -gt 0 ]; do
  case $1 in
    --bin) bin=$2; shift 2 ;;
    --dir) work=$2; shift 2 ;;
    --keep) keep=yes; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
[ -n "$bin" ] && [ -x "$bin" ] || { echo "no medrec binary: pass --bin PATH" >&2; exit 2; }
bin=$(readlink -f "$bin")

passed=0 failed=0
check() {  # name, condition (0 = ok), detail
  if [ "$2" = 0 ]; then echo "PASS: $1: $3"; passed=$((passed + 1)); else echo "FAIL: $1: $3"; failed=$((failed + 1)); fi
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }
t_all=$(now)

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do for _ in $(seq 1 80); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done; done
  pg_stop "$work/restored" 2>/dev/null || true
  pg_stop "$work/primary" 2>/dev/null || true
  if [ "$keep" = no ]; then rm -rf "$work"; else echo "kept $work"; fi
}
if [ -e "$work" ]; then
  pg_stop "$work/restored" 2>/dev/null || true
  pg_stop "$work/primary" 2>/dev/null || true
  rm -rf "$work"
fi
trap cleanup EXIT
mkdir -p "$work" && chmod 755 "$work"

pick_port 18500; pg1=$PICKED
pick_port "$pg1"; pg2=$PICKED
pick_port 18510; http1=$PICKED
pick_port "$http1"; http2=$PICKED
pick_port "$http2"; http3=$PICKED
sock=$work/sock
archive=$work/wal-archive           # the database backup: base backups + WAL …
backups=$work/backups
keys=$work/keys-kept-elsewhere      # … and the keys, kept apart from it (another volume/host/vault in real life)

# --- the primary and medrec ------------------------------------------------------------------
mkdir -p "$work/secrets" && chmod 700 "$work/secrets"
random_secret >"$work/secrets/postgres-password"; random_secret >"$work/secrets/db-password"
pg_mkdir "$work/logs" "$backups"
pg_init_primary "$work/primary" "$pg1" "$sock" "$archive" "$work/secrets/postgres-password"
pg_start "$work/primary" "$work/logs/primary.log"
pg_sql "$sock" "$pg1" postgres "CREATE ROLE medrec LOGIN PASSWORD '$(cat "$work/secrets/db-password")'"
pg_sql "$sock" "$pg1" postgres "CREATE DATABASE medrec OWNER medrec"
"$here/make-keys.sh" "$keys" >/dev/null
chmod 711 "$keys"; chown nobody "$keys/encryption-keys.json"

medrec_env() {  # database port → environment for medrec
  echo "MEDREC_MODE=production"
  echo "MEDREC_DATABASE_URL=postgres://medrec:$(cat "$work/secrets/db-password")@127.0.0.1:$1/medrec?sslmode=disable"
  echo "MEDREC_ENCRYPTION_KEY_FILE=$2/encryption-keys.json"
  cat "$2/signing-keys.env"
  echo "MEDREC_DATA_DIR=$work/no-data-dir"
  echo "MEDREC_DATABASE_POOL_SIZE=4"
}
medrec_cli() {  # db port, keys dir, args…
  local port=$1 k=$2; shift 2
  ( set -a; eval "$(medrec_env "$port" "$k")"; set +a; exec "$bin" "$@" )
}
start_medrec() {  # db port, http port, keys dir, log → sets $server_pid
  local db=$1 port=$2 k=$3 logf=$4
  (
    set -a; eval "$(medrec_env "$db" "$k")"; export MEDREC_PORT=$port; set +a
    exec setsid setpriv --reuid=nobody --regid=nogroup --clear-groups "$bin" serve </dev/null >"$logf" 2>&1
  ) &
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 1 120); do grep -qs "listening on" "$logf" && return 0; kill -0 "$server_pid" 2>/dev/null || break; sleep 0.25; done
  cat "$logf" >&2; echo "medrec did not start" >&2; exit 1
}
stop_medrec() {
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 1 80); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.25; done
  kill -KILL "$1" 2>/dev/null || true
}

medrec_cli "$pg1" "$keys" migrate >/dev/null
start_medrec "$pg1" "$http1" "$keys" "$work/logs/medrec-primary.log"
primary_server=$server_pid
base=http://127.0.0.1:$http1
medrec_cli "$pg1" "$keys" client add --name backup-test --scopes "system/*.cruds" >"$work/secrets/client.txt"
client_id=$(awk '/^client_id:/ {print $2}' "$work/secrets/client.txt")
client_secret=$(awk '/^client_secret:/ {print $2}' "$work/secrets/client.txt")
token() {  # base URL → system access token
  curl -sf -X POST "$1/auth/token" -u "$client_id:$client_secret" -d grant_type=client_credentials \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
tok=$(token "$base")
run=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')

write_phase() {  # phase letter, count → appends "id phase email" lines to $work/written
  local phase=$1 n=$2 i id
  for i in $(seq 1 "$n"); do
    id=$(curl -sf -X POST "$base/patients" -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
      -d "{\"firstName\":\"Bk$run\",\"lastName\":\"Phase$phase\",\"dateOfBirth\":\"1970-01-0$i\",\"gender\":\"other\",
           \"address\":{\"line\":[\"$i $phase Street\"],\"city\":\"Springfield\",\"postalCode\":\"6270$i\",\"country\":\"US\"},
           \"contact\":{\"email\":\"$phase$i.$run@example.org\",\"phone\":\"+1 555 010$i\",\"other\":[]}}" \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    echo "$id $phase $phase$i.$run@example.org" >>"$work/written"
  done
}

write_phase A 5
t0=$(now)
backup_dir=$("$here/backup.sh" base --dest "$backups" --textfile "$work/textfile" -- -h "$sock" -p "$pg1" -U postgres)
backup_s=$(elapsed "$t0")
write_phase B 5
sleep 1.2
target=$(pg_sql "$sock" "$pg1" postgres "SELECT now()")
sleep 1.2
write_phase C 5
# Close the WAL segment holding phase C and wait until it is archived (in production
# archive_timeout bounds this; here the test forces it).
seg=$(pg_sql "$sock" "$pg1" postgres "SELECT pg_walfile_name(pg_switch_wal())")
t0=$(now)
for _ in $(seq 1 120); do [ -f "$archive/$seg" ] && break; sleep 0.25; done
[ -f "$archive/$seg" ] || { echo "WAL segment $seg was not archived" >&2; exit 1; }
archive_wait=$(elapsed "$t0")
stop_medrec "$primary_server"
echo "wrote A=5 before the base backup, B=5 after it, C=5 after the target time $target; base backup $backup_s s ($backup_dir), WAL $seg archived in $archive_wait s"

# --- restore into a new cluster --------------------------------------------------------------
t0=$(now)
"$here/backup.sh" restore --base "$backup_dir" --archive "$archive" --pgdata "$work/restored" \
  --target-time "$target" --port "$pg2" --socket-dir "$sock" --start
restore_s=$(elapsed "$t0")
recovery_line=$(grep -E "recovery stopping" "$work/restored/restore.log" | sed 's/^.*LOG: *//' | head -1)
check "restore to the noted time" 0 "new cluster on :$pg2 promoted in $restore_s s ($recovery_line)"

# --- medrec on the restored cluster, same key files ------------------------------------------
start_medrec "$pg2" "$http2" "$keys" "$work/logs/medrec-restored.log"
base=http://127.0.0.1:$http2
tok=$(token "$base")
ok_ab=0 bad=()
while read -r id phase email; do
  code=$(curl -s -o "$work/read.json" -w '%{http_code}' "$base/patients/$id" -H "Authorization: Bearer $tok")
  if [ "$phase" = C ]; then
    [ "$code" = 404 ] || bad+=("$phase:$id:$code")
  else
    got=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("contact",{}).get("email"), d.get("address",{}).get("line",[""])[0])' "$work/read.json" 2>/dev/null || true)
    if [ "$code" = 200 ] && [ "${got%% *}" = "$email" ]; then ok_ab=$((ok_ab + 1)); else bad+=("$phase:$id:$code:$got"); fi
  fi
done <"$work/written"
check "phases A and B readable and decrypted, phase C absent" "$([ "$ok_ab" = 10 ] && [ ${#bad[@]} = 0 ] && echo 0 || echo 1)" \
  "$ok_ab/10 of A+B read with their sealed email and address; C answers 404 for all 5; problems: ${bad[*]:-none}"

expected=$(awk '$2 != "C" {print $1}' "$work/written" | sort | tr '\n' ' ')
found=$(curl -sf "$base/patients?name=Bk$run&limit=100" -H "Authorization: Bearer $tok" \
  | python3 -c 'import json,sys; print(" ".join(sorted(i["id"] for i in json.load(sys.stdin)["items"])))')
check "search finds exactly the data before the time" "$([ "$found " = "$expected" ] && echo 0 || echo 1)" \
  "GET /patients?name=Bk$run → $(echo "$found" | wc -w) patients (expected the 10 of A and B)"
rows=$(pg_sql "$sock" "$pg2" medrec "SELECT string_agg(content->'name'->0->>'family', ',' ORDER BY 1) FROM (SELECT content FROM resource WHERE type = 'Patient' AND content::text LIKE '%Bk$run%') r")
check "restored database rows" "$([ "$rows" = "PhaseA,PhaseA,PhaseA,PhaseA,PhaseA,PhaseB,PhaseB,PhaseB,PhaseB,PhaseB" ] && echo 0 || echo 1)" "families in the restored resource table: $rows"

# --- without the keyring the backup is unreadable ---------------------------------------------
"$here/make-keys.sh" "$work/other-keys" >/dev/null
chmod 711 "$work/other-keys"; chown nobody "$work/other-keys/encryption-keys.json"
start_medrec "$pg2" "$http3" "$work/other-keys" "$work/logs/medrec-wrong-keys.log"
# The signing keys differ too: a token from this server, then a read of a sealed record.
base3=http://127.0.0.1:$http3
tok3=$(token "$base3")
first_a=$(awk '$2 == "A" {print $1; exit}' "$work/written")
code=$(curl -s -o "$work/wrong.json" -w '%{http_code}' "$base3/patients/$first_a" -H "Authorization: Bearer $tok3")
leaked=$(grep -c "@example.org" "$work/wrong.json" || true)
check "the backup without its keyring does not open" "$([ "$code" = 500 ] && [ "$leaked" = 0 ] && echo 0 || echo 1)" \
  "medrec with another keyring answers $code for a sealed Patient, sealed values in the body: $leaked"
check "backup freshness metric written" "$(grep -q '^medrec_backup_last_success_timestamp_seconds ' "$work/textfile/medrec_backup.prom" && echo 0 || echo 1)" \
  "$(grep '^medrec_backup_last_size_bytes' "$work/textfile/medrec_backup.prom")"

echo "test-backup: $(elapsed "$t_all") s in all"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
