# Sourced by scripts/bench-platform.sh, fuzz-platform.sh and fuzz-fhir.sh: a release medrec (or
# $MEDREC_BIN) on its own embedded cluster in a temporary directory, with a system client. Call
# `medrec_prepare` (build, work dir, client), add accounts with "$bin … --data-dir $work/data" if needed, then
# `medrec_start` (serve, wait, stop on exit) and `medrec_system_token`.
# Sets: bin, work, port, base, client_id, client_secret.

medrec_prepare() {
  # MEDREC_BIN: an existing binary (CI passes its debug build); otherwise a release build.
  if [ -n "${MEDREC_BIN:-}" ]; then
    bin="$MEDREC_BIN"
  else
    swift build -c release --product medrec >/dev/null
    bin="$(swift build -c release --show-bin-path)/medrec"
  fi
  work=$(mktemp -d "/tmp/medrec-$1.XXXXXX")
  chmod 755 "$work"
  port=$((20000 + RANDOM % 20000))
  "$bin" client add --name "$1" --scopes "system/*.cruds" --data-dir "$work/data" > "$work/client.txt"
  client_id=$(awk '/^client_id:/ {print $2}' "$work/client.txt")
  client_secret=$(awk '/^client_secret:/ {print $2}' "$work/client.txt")
}

medrec_start() {
  "$bin" serve --data-dir "$work/data" --port "$port" >"$work/server.log" 2>&1 &
  server=$!
  trap 'kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
  medrec_wait "$work/server.log"
  base="http://127.0.0.1:$port"
}

# Waits (at most a minute) until the server writing log file $1 listens; shows the log and exits if not.
medrec_wait() {
  for _ in $(seq 1 120); do grep -qs "listening on" "$1" && break; sleep 0.5; done
  grep -qs "listening on" "$1" || { cat "$1"; exit 1; }
}

medrec_system_token() {
  curl -sf -X POST "$base/auth/token" -u "$client_id:$client_secret" -d grant_type=client_credentials \
    | python3 -c "import json,sys; print(json.load(sys.stdin)['access_token'])"
}

# An approved doctor account (before `medrec_start`); sets $practitioner ("Practitioner/<id>").
medrec_bench_doctor() {
  "$bin" user add --email doctor@bench.example --password "bench doctor passphrase" --role doctor \
    --first-name Bench --last-name Doctor --data-dir "$work/data" > "$work/doctor.txt"
  practitioner=$(grep -o 'Practitioner/[^ ]*' "$work/doctor.txt")
}

# That doctor's access token from $base.
medrec_doctor_token() {
  curl -sf -X POST "$base/auth/login" -H 'Content-Type: application/json' \
    -d '{"email":"doctor@bench.example","password":"bench doctor passphrase"}' \
    | python3 -c "import json,sys; print(json.load(sys.stdin)['accessToken'])"
}

# The benchmarks' shared record: writes $work/platform-patient.json, creates that patient on the
# platform face of $base (sets $patient), writes its FHIR form as $work/fhir-patient.json (the
# FHIR POST body that stores the same thing), and gives the practitioner $1 a care relationship
# with it (an Encounter naming them), so a doctor's reads are authorized and audited.
medrec_bench_patient() {  # practitioner reference, system token
  cat > "$work/platform-patient.json" <<'JSON'
{"firstName": "Bench", "lastName": "Marker", "dateOfBirth": "1980-05-17", "gender": "female",
 "address": {"line": ["1 Load Street"], "city": "Springfield", "state": "IL", "postalCode": "62701", "country": "US"},
 "contact": {"phone": "+1 555 0100", "email": "bench.marker@example.org", "other": []},
 "insurance": {"provider": "Acme Health", "policyNumber": "ACME-0001", "coverageDetails": "PPO"}}
JSON
  patient=$(curl -sf -X POST "$base/patients" -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
    --data-binary @"$work/platform-patient.json" | python3 -c "import json,sys; print(json.load(sys.stdin)['id'])")
  curl -sf "$base/fhir/Patient/$patient" -H "Authorization: Bearer $2" \
    | python3 -c "import json,sys; r=json.load(sys.stdin); r.pop('id'); r.pop('meta', None); print(json.dumps(r))" > "$work/fhir-patient.json"
  curl -sf -o /dev/null -X POST "$base/fhir/Encounter" -H "Authorization: Bearer $2" -H 'Content-Type: application/fhir+json' \
    -d "{\"resourceType\":\"Encounter\",\"status\":\"finished\",\"class\":{\"system\":\"http://terminology.hl7.org/CodeSystem/v3-ActCode\",\"code\":\"AMB\"},\"subject\":{\"reference\":\"Patient/$patient\"},\"participant\":[{\"individual\":{\"reference\":\"$1\"}}]}"
}

# A wrk script that POSTs a body file: body file, content type, bearer token.
medrec_post_lua() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
body = open(sys.argv[1]).read()
print('wrk.method = "POST"')
print('wrk.headers["Content-Type"] = "' + sys.argv[2] + '"')
print('wrk.headers["Authorization"] = "Bearer ' + sys.argv[3] + '"')
print('wrk.body = ' + json.dumps(body))
PY
}
