#!/usr/bin/env bash
# Outside check of the FHIR face against its own OpenAPI document (GET /fhir/openapi.json, made
# from the CapabilityStatement) with schemathesis (PyPI): generated and mutated requests for the
# chosen resource types' operations and the system ones. Checks: no server error (5xx; the
# document allows 503 only for a database outage, and there is none here, so any 5xx fails the
# run through the server-log count below), answers that break their schema (FHIR JSON schemas per
# type), undocumented status codes, content types and headers.
#
# Usage: scripts/fuzz-fhir.sh [--examples N] [--types 'Patient|Observation|…'] [--all-types]
#   --examples   examples per operation and phase (default 20)
#   --phases     schemathesis phases (default fuzzing); --max-time S bounds the whole run
#   --types      a regex alternation of resource types (default: the types the platform maps and
#                their neighbours; --all-types takes all 146, about 1,760 operations)
# Release build unless MEDREC_BIN names a binary (CI runs a small budget on its debug build).
# Prints schemathesis's summary, the number of requests the server answered by status class (from
# its /metrics listener) and the server errors it logged; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
examples=20
# The coverage phase (boundary values of every parameter) crawls on FHIR's deep schemas; the
# examples phase has no examples to run. Fuzzing is what finds the bugs.
phases=fuzzing
max_time=
types='Patient|Practitioner|Encounter|Observation|Condition|MedicationRequest|AllergyIntolerance|Appointment|Claim|Composition|Procedure|DiagnosticReport|Immunization|Group'
while [ $# -gt 0 ]; do
  case "$1" in
    --examples) examples="$2"; shift 2 ;;
    --types) types="$2"; shift 2 ;;
    --all-types) types='[A-Za-z]+'; shift ;;
    --phases) phases="$2"; shift 2 ;;
    --max-time) max_time="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v st >/dev/null || python3 -m pip install -q "schemathesis==4.32.5"
source scripts/lib-medrec-server.sh
medrec_prepare fuzz-fhir
metrics_port=$((port + 1))
export MEDREC_METRICS_PORT=$metrics_port
medrec_start
token=$(medrec_system_token)
status=0
# Health checks are schemathesis's own (data generation too slow on deep FHIR schemas such as
# Observation's), not the server's: suppressed.
# The system paths (search, transaction, history, metadata, the document itself, bulk data) and
# every operation of the chosen types. Kick-offs of $export start real jobs; they run beside the fuzz.
st run "$base/fhir/openapi.json" -H "Authorization: Bearer $token" \
  -c not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance,response_headers_conformance \
  -n "$examples" -w 2 --seed 19 --request-timeout 60 --output-truncate true --suppress-health-check all --phases "$phases" ${max_time:+--max-time "$max_time"} \
  --include-path-regex "^/(($types)(/.*)?|_history|metadata|openapi\\.json|\\\$export|\\\$import|\\\$bulk-status/.*|\\\$bulk-file/.*)?\$" \
  || status=$?
set +e
python3 - "http://127.0.0.1:$metrics_port/metrics" <<'PY'
import collections, re, sys, urllib.request
text = urllib.request.urlopen(sys.argv[1], timeout=10).read().decode()
counts = collections.Counter()
for line in text.splitlines():
    m = re.match(r'medrec_http_requests_total\{(.*)\} ([0-9.e+]+)$', line)
    if m and 'route="/fhir' in m.group(1):
        status = re.search(r'status="(\d)', m.group(1))
        counts[(status.group(1) if status else "?") + "xx"] += int(float(m.group(2)))
print("requests answered on /fhir:", sum(counts.values()), dict(sorted(counts.items())))
sys.exit(1 if counts["5xx"] else 0)
PY
[ $? = 0 ] || status=1
errors=$(grep -c 'request failed' "$work/server.log" || true)
echo "server errors logged: $errors"
[ "$errors" = 0 ] || status=1
exit "$status"
