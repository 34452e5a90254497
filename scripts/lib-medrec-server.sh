# Sourced by scripts/bench-platform.sh and scripts/fuzz-platform.sh: a release medrec on its own
# embedded cluster in a temporary directory, with a system client. Call `medrec_prepare` (build,
# work dir, client), add accounts with "$bin … --data-dir $work/data" if needed, then
# `medrec_start` (serve, wait, stop on exit) and `medrec_system_token`.
# Sets: bin, work, port, base, client_id, client_secret.

medrec_prepare() {
  swift build -c release --product medrec >/dev/null
  bin="$(swift build -c release --show-bin-path)/medrec"
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
  for _ in $(seq 1 120); do grep -q "listening on" "$work/server.log" && break; sleep 0.5; done
  grep -q "listening on" "$work/server.log" || { cat "$work/server.log"; exit 1; }
  base="http://127.0.0.1:$port"
}

medrec_system_token() {
  curl -sf -X POST "$base/auth/token" -u "$client_id:$client_secret" -d grant_type=client_credentials \
    | python3 -c "import json,sys; print(json.load(sys.stdin)['access_token'])"
}
