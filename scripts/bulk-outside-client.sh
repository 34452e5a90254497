#!/usr/bin/env bash
# Bulk Data $export consumed by clients no one here wrote: smart-fetch (PyPI, a SMART Backend
# Services + Bulk Data client) and scripts/bulk-export-client.py (stdlib + cryptography, written
# from the IG). Builds nothing.
#
#   scripts/bulk-outside-client.sh [--bin PATH/medrec] [--client both|smart-fetch|plain]
#                                  [--fixtures DIR] [--venv DIR] [--keep]
#
# A temporary data dir; `medrec import` of the Synthea NDJSON fixtures; an RS384 key pair and its
# public JWKS; `medrec client add --scopes system/*.rs --jwks`; `medrec serve`; then each client
# exports from http://127.0.0.1:PORT/fhir with that client's signed assertion, and the NDJSON
# files it wrote must hold, per type, exactly the fixture counts. smart-fetch only asks for its
# patient-data types (its --type refuses Location, Organization, Practitioner,
# PractitionerRole), so it is checked on those 8; the plain client on all 12. If smart-fetch
# cannot get a token, the reason is printed and it is run again with a bearer token (same
# client, assertion made by the plain client) so the export itself is still checked.
# The last line is PASS or FAIL; the exit status is non-zero on FAIL.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.build/debug/medrec"
clients=both
fixtures="$root/../shared/fixtures/ndjson"
venv="${MEDREC_CLIENT_VENV:-${TMPDIR:-/tmp}/medrec-outside-client-venv}"
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --client) clients="$2"; shift 2 ;;
    --fixtures) fixtures="$2"; shift 2 ;;
    --venv) venv="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
case "$clients" in both|smart-fetch|plain) ;; *) echo "--client must be both, smart-fetch or plain" >&2; exit 2 ;; esac
[ -x "$bin" ] || { echo "FAIL bulk-outside-client: no medrec binary at $bin (build it, or pass --bin)"; exit 2; }
[ -d "$fixtures" ] || { echo "FAIL bulk-outside-client: no fixtures at $fixtures (pass --fixtures)"; exit 2; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
fixtures=$(cd "$fixtures" && pwd)

declare -A expected=(
  [AllergyIntolerance]=11 [Condition]=555 [Device]=16 [Encounter]=1215 [Immunization]=161 [Location]=44
  [MedicationRequest]=1745 [Organization]=43 [Patient]=13 [Practitioner]=43 [PractitionerRole]=43 [Procedure]=2056)
all_types="AllergyIntolerance Condition Device Encounter Immunization Location MedicationRequest Organization Patient Practitioner PractitionerRole Procedure"
smart_fetch_types="AllergyIntolerance Condition Device Encounter Immunization MedicationRequest Patient Procedure"
expect_list() { local out="" t; for t in $1; do out+="${out:+,}$t=${expected[$t]}"; done; echo "$out"; }

now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f} s')" "$1" "$(now)"; }

# The clients' Python: a venv with smart-fetch and cryptography (kept between runs).
if [ ! -x "$venv/bin/smart-fetch" ] || ! "$venv/bin/python" -c "import cryptography" 2>/dev/null; then
  echo "venv: installing smart-fetch and cryptography into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check smart-fetch cryptography
fi
py="$venv/bin/python"
echo "clients: $("$venv/bin/pip" show smart-fetch 2>/dev/null | awk '/^Version:/ {print "smart-fetch " $2}'), $("$py" --version)"

work=$(mktemp -d "${TMPDIR:-/tmp}/medrec-outside-client.XXXXXX")
chmod 755 "$work"   # the embedded cluster runs as postgres when we are root
server=""
cleanup() {
  if [ -n "$server" ]; then kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  if [ "$keep" = 1 ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

t=$(now)
"$bin" import "$fixtures" --data-dir "$work/data" >"$work/import.log" 2>&1 || { cat "$work/import.log"; echo "FAIL bulk-outside-client: medrec import failed"; exit 1; }
echo "import: $(grep -o 'done in .*' "$work/import.log" | cut -c1-60)… ($(since "$t"))"

# An RS384 key pair: PEM and JWKS (private, for the clients) and the public JWKS (registered).
kid="outside-client-$(date +%s)"
"$py" - "$work" "$kid" <<'PY'
import base64, json, os, sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
work, kid = sys.argv[1], sys.argv[2]
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
b64 = lambda n: base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()
pub, priv = key.public_key().public_numbers(), key.private_numbers()
public = {"kty": "RSA", "kid": kid, "alg": "RS384", "use": "sig", "n": b64(pub.n), "e": b64(pub.e)}
private = dict(public, key_ops=["sign"], d=b64(priv.d), p=b64(priv.p), q=b64(priv.q),
               dp=b64(priv.dmp1), dq=b64(priv.dmq1), qi=b64(priv.iqmp))
def write(name, data, mode=0o600):
    path = os.path.join(work, name)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "w" if isinstance(data, str) else "wb") as f:
        f.write(data)
write("public.jwks", json.dumps({"keys": [public]}), 0o644)
write("private.jwks", json.dumps({"keys": [private]}))
write("private.pem", key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
PY
"$bin" client add --name outside-bulk-client --scopes "system/*.rs" --jwks "$work/public.jwks" --data-dir "$work/data" \
  >"$work/client.txt" 2>>"$work/import.log"
client_id=$(awk '/^client_id:/ {print $2}' "$work/client.txt")
echo "client: $client_id (system/*.rs, RS384 kid $kid)"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
t=$(now)
"$bin" serve --data-dir "$work/data" --port "$port" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 120); do grep -qs "listening on" "$work/server.log" && break; sleep 0.5; done
grep -qs "listening on" "$work/server.log" || { cat "$work/server.log"; echo "FAIL bulk-outside-client: the server did not start"; exit 1; }
base="http://127.0.0.1:$port/fhir"
echo "server: $base ($(since "$t"))"

# Counts per type of the NDJSON files a client wrote ($1), against "Type=n,…" ($2).
check_counts() {
  python3 - "$1" "$2" <<'PY'
import json, os, re, sys
folder, expected = sys.argv[1], dict((k, int(v)) for k, v in (i.split("=") for i in sys.argv[2].split(",")))
counts, problems = {}, []
for name in sorted(os.listdir(folder)):
    match = re.fullmatch(r"([A-Za-z]+)\.\d+\.ndjson", name)
    if not match or name == "log.ndjson":
        continue
    kind = match.group(1)
    with open(os.path.join(folder, name), encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                resource = json.loads(line)
            except ValueError:
                problems.append(f"{name}:{number} is not JSON")
                continue
            if resource.get("resourceType") != kind:
                problems.append(f"{name}:{number} holds a {resource.get('resourceType')}")
            counts[kind] = counts.get(kind, 0) + 1
for kind in sorted(set(expected) | set(counts)):
    if counts.get(kind, 0) != expected.get(kind, 0):
        problems.append(f"{kind}: expected {expected.get(kind, 0)}, got {counts.get(kind, 0)}")
print("  counts: " + ", ".join(f"{k} {counts[k]}" for k in sorted(counts)) + f" ({sum(counts.values())} resources)")
for problem in problems:
    print(f"  problem: {problem}")
sys.exit(1 if problems else 0)
PY
}

results=()
verdict=0

run_smart_fetch() {  # output dir, auth arguments…
  local out="$1"; shift
  (cd "$work" && "$venv/bin/smart-fetch" bulk --fhir-url "$base" "$@" --type "${smart_fetch_types// /,}" \
     --no-compression "$out") >"$out.log" 2>&1
}

if [ "$clients" != plain ]; then
  echo "smart-fetch: bulk export of ${smart_fetch_types// /,} with client assertions"
  t=$(now)
  if run_smart_fetch "$work/smart-fetch" --smart-client-id "$client_id" --smart-key "$work/private.jwks"; then
    echo "  finished in $(since "$t")"
    if check_counts "$work/smart-fetch" "$(expect_list "$smart_fetch_types")"; then
      results+=("smart-fetch PASS"); else results+=("smart-fetch FAIL (counts)"); verdict=1; fi
  else
    verdict=1
    reason=$(grep -E "Error|error" "$work/smart-fetch.log" | tail -1 | cut -c1-300)
    discovery=$(curl -s -o /dev/null -w '%{http_code}' "$base/.well-known/smart-configuration" || true)
    if [ "$discovery" != 200 ]; then
      reason="GET $base/.well-known/smart-configuration answered $discovery: smart-fetch (cumulus-fhir-support auth.py _ensure_config) reads token_endpoint from [FHIR base]/.well-known/smart-configuration, as SMART App Launch 2 says, and stops on the error even with --token-url; this server serves the document only at /.well-known/smart-configuration"
    fi
    echo "  smart-fetch cannot authenticate: $reason"
    results+=("smart-fetch FAIL (no token: discovery)")
    # The export itself, with a bearer token for the same client (assertion made by the plain client).
    if token=$("$py" "$root/scripts/bulk-export-client.py" --fhir-url "$base" --client-id "$client_id" \
         --private-key "$work/private.pem" --kid "$kid" --token-only 2>>"$work/plain.log"); then
      printf '%s\n' "$token" >"$work/token.txt"; chmod 600 "$work/token.txt"
      echo "smart-fetch: same export with --bearer-token (a token for the same client)"
      t=$(now)
      if run_smart_fetch "$work/smart-fetch-bearer" --bearer-token "$work/token.txt"; then
        echo "  finished in $(since "$t")"
        if check_counts "$work/smart-fetch-bearer" "$(expect_list "$smart_fetch_types")"; then
          results+=("smart-fetch with a bearer token PASS")
        else
          results+=("smart-fetch with a bearer token FAIL (counts)")
        fi
      else
        echo "  $(grep -E "Error|error" "$work/smart-fetch-bearer.log" | tail -1 | cut -c1-300)"
        results+=("smart-fetch with a bearer token FAIL")
      fi
    fi
  fi
fi

if [ "$clients" != smart-fetch ]; then
  echo "bulk-export-client.py: system \$export of every type, following the Bulk Data IG"
  t=$(now)
  if "$py" "$root/scripts/bulk-export-client.py" --fhir-url "$base" --client-id "$client_id" \
       --private-key "$work/private.pem" --kid "$kid" --out "$work/plain" --expect "$(expect_list "$all_types")" \
       2>"$work/plain.log" | sed 's/^/  /'; then
    results+=("bulk-export-client PASS")
  else
    results+=("bulk-export-client FAIL"); verdict=1
  fi
  grep -E "^WARNING" "$work/plain.log" | sed 's/^/  /' || true
  echo "  finished in $(since "$t")"
fi

summary=$(IFS=';'; echo "${results[*]}" | sed 's/;/; /g')
if [ "$verdict" = 0 ]; then echo "PASS bulk-outside-client: $summary"; else echo "FAIL bulk-outside-client: $summary"; fi
exit "$verdict"
