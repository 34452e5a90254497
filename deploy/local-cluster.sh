#!/usr/bin/env bash
# A whole medrec deployment on this one machine, for trying and testing operations (run as root):
#   PostgreSQL 15 primary (WAL archiving to a directory) + a streaming standby (pg_basebackup -R),
#   `medrec migrate`, two `medrec serve` replicas on the primary (same key files, unprivileged
#   user, no writable data directory), HAProxy in front with health checks on /health/ready,
#   and Prometheus scraping both replicas when the binary has --metrics-port.
#
# Usage: deploy/local-cluster.sh up|down|status [--bin PATH] [--dir DIR]
#        deploy/local-cluster.sh env                       # the ports etc. as shell variables
#        deploy/local-cluster.sh medrec ARGS...            # run the binary against the cluster's database
#        deploy/local-cluster.sh kill-replica N            # SIGKILL replica N (1 or 2)
#        deploy/local-cluster.sh stop-replica N            # SIGTERM replica N and wait for it
#        deploy/local-cluster.sh start-replica N           # start replica N again
# Everything lives under DIR (default /tmp/medrec-cluster, or MEDREC_CLUSTER_DIR); `up` on a running
# cluster reports it and changes nothing; `down` stops everything and deletes DIR.
# Ports: the first free ones from MEDREC_CLUSTER_BASE_PORT (default 18400) upwards, recorded in DIR/ports.env.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/lib/local-pg.sh
. "$here/lib/local-pg.sh"

cmd=${1:-}
[ $# -gt 0 ] && shift
state=${MEDREC_CLUSTER_DIR:-/tmp/medrec-cluster}
bin=${MEDREC_BIN:-}
run_as=${MEDREC_CLUSTER_USER:-nobody}
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --bin) bin=$2; shift 2 ;;
    --dir) state=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done

die() { echo "local-cluster: $*" >&2; exit 1; }
log() { echo "local-cluster: $*" >&2; }
now() { date +%s.%N; }

load_state() {
  [ -f "$state/ports.env" ] || die "no cluster in $state (run: $0 up --bin PATH)"
  # shellcheck disable=SC1091
  . "$state/ports.env"
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# --- medrec replicas ------------------------------------------------------------------------

# Runs the binary with the cluster's configuration (as root: the command-line tools).
run_medrec() {
  load_state
  ( set -a; . "$state/secrets/medrec.env"; set +a; exec "$BIN" "$@" )
}

start_replica() {
  local n=$1 port metrics
  load_state
  port=$(eval echo "\$MEDREC${n}_PORT")
  metrics=$(eval echo "\$METRICS${n}_PORT")
  local dir=$state/medrec-$n
  if pid_alive "$dir/pid"; then log "replica $n already running (pid $(cat "$dir/pid"))"; return 0; fi
  mkdir -p "$dir"
  mkdir -p "$dir/data" && chmod 755 "$dir/data"   # root-owned: the server may not write here
  : >"$dir/server.log"
  (
    cd "$dir"
    set -a
    . "$state/secrets/medrec.env"
    export MEDREC_PORT=$port MEDREC_DATA_DIR=$dir/data
    if [ "$METRICS_SUPPORTED" = yes ]; then export MEDREC_METRICS_PORT=$metrics MEDREC_METRICS_HOST=127.0.0.1; fi
    set +a
    # setsid: its own session, so a Ctrl-C in this shell does not reach it; setpriv execs in place,
    # so $! is the server's own pid (kill-replica sends SIGKILL to exactly that process).
    exec setsid setpriv --reuid="$run_as" --regid="$(id -gn "$run_as")" --clear-groups \
      "$BIN" serve </dev/null >>"$dir/server.log" 2>&1
  ) &
  echo $! >"$dir/pid"
  local t0
  t0=$(now)
  for _ in $(seq 1 240); do
    grep -qs "listening on" "$dir/server.log" && break
    kill -0 "$(cat "$dir/pid")" 2>/dev/null || { cat "$dir/server.log" >&2; die "replica $n exited at start"; }
    sleep 0.25
  done
  grep -qs "listening on" "$dir/server.log" || { cat "$dir/server.log" >&2; die "replica $n did not start"; }
  log "replica $n: pid $(cat "$dir/pid"), http://127.0.0.1:$port (up in $(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}') s)"
}

stop_replica() {  # N SIGNAL
  local n=$1 sig=${2:-TERM} dir=$state/medrec-$1
  pid_alive "$dir/pid" || return 0
  local pid
  pid=$(cat "$dir/pid")
  kill -s "$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 1 160); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  if kill -0 "$pid" 2>/dev/null; then log "replica $n ignored SIG$sig for 40 s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$dir/pid"
}

# --- HAProxy ----------------------------------------------------------------------------------

write_haproxy_cfg() {
  mkdir -p "$state/haproxy"
  cat >"$state/haproxy/haproxy.cfg" <<EOF
# Local-cluster variant of deploy/haproxy/haproxy.cfg: plain HTTP on 127.0.0.1, same checks.
global
    log stdout format raw local0 info
    stats socket $state/haproxy/admin.sock mode 600 level admin
    maxconn 2000

defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    # A connection refused by a dead replica is retried on the other one (the request never
    # reached medrec, so this is safe even for POST); nothing else is retried.
    retries 2
    retry-on conn-failure
    option redispatch 1

frontend medrec_http
    bind 127.0.0.1:$LB_PORT
    option forwardfor
    http-request set-header X-Forwarded-Proto http
    unique-id-format %{+X}o\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid
    unique-id-header X-Request-Id
    http-request set-header X-Request-Id %[unique-id] unless { req.hdr(x-request-id) -m found }
    default_backend medrec

backend medrec
    balance roundrobin
    option httpchk GET /health/ready
    http-check expect status 200
    # Checks every second (every 250 ms once a check or live traffic fails); 2 failures = out of
    # rotation, 2 successes = back in. Live connection errors speed the checks up (observe layer4).
    default-server check inter 1s fastinter 250ms downinter 1s fall 2 rise 2 observe layer4 error-limit 1 on-error fastinter
    server r1 127.0.0.1:$MEDREC1_PORT
    server r2 127.0.0.1:$MEDREC2_PORT

frontend stats
    bind 127.0.0.1:$LB_STATS_PORT
    http-request use-service prometheus-exporter if { path /metrics }
    stats enable
    stats uri /stats
    stats refresh 2s
EOF
  haproxy -c -q -f "$state/haproxy/haproxy.cfg"
}

start_haproxy() {
  load_state
  pid_alive "$state/haproxy/pid" && return 0
  write_haproxy_cfg
  ( exec setsid haproxy -f "$state/haproxy/haproxy.cfg" </dev/null >>"$state/haproxy/haproxy.log" 2>&1 ) &
  echo $! >"$state/haproxy/pid"
  for _ in $(seq 1 40); do curl -sf -o /dev/null "http://127.0.0.1:$LB_STATS_PORT/stats" && break; sleep 0.25; done
  log "haproxy: pid $(cat "$state/haproxy/pid"), http://127.0.0.1:$LB_PORT (stats http://127.0.0.1:$LB_STATS_PORT/stats)"
}

# --- Prometheus ------------------------------------------------------------------------------

start_prometheus() {
  load_state
  if [ "$METRICS_SUPPORTED" != yes ]; then
    log "prometheus: not started (the binary has no --metrics-port)"
    return 0
  fi
  pid_alive "$state/prometheus/pid" && return 0
  command -v prometheus >/dev/null || die "prometheus is not installed (apt-get install prometheus)"
  mkdir -p "$state/prometheus/data"
  cp "$here/prometheus/alerts.yml" "$state/prometheus/alerts.yml"
  cat >"$state/prometheus/prometheus.yml" <<EOF
global:
  scrape_interval: 2s
  evaluation_interval: 2s
rule_files: [alerts.yml]
scrape_configs:
  - job_name: medrec
    static_configs:
      - targets: ['127.0.0.1:$METRICS1_PORT']
        labels: {replica: r1}
      - targets: ['127.0.0.1:$METRICS2_PORT']
        labels: {replica: r2}
  - job_name: haproxy
    static_configs:
      - targets: ['127.0.0.1:$LB_STATS_PORT']
EOF
  promtool check config "$state/prometheus/prometheus.yml" >/dev/null
  ( exec setsid prometheus --config.file="$state/prometheus/prometheus.yml" --storage.tsdb.path="$state/prometheus/data" \
      --web.listen-address="127.0.0.1:$PROM_PORT" </dev/null >>"$state/prometheus/prometheus.log" 2>&1 ) &
  echo $! >"$state/prometheus/pid"
  for _ in $(seq 1 60); do curl -sf -o /dev/null "http://127.0.0.1:$PROM_PORT/-/ready" && break; sleep 0.5; done
  log "prometheus: pid $(cat "$state/prometheus/pid"), http://127.0.0.1:$PROM_PORT"
}

# --- up / down / status ----------------------------------------------------------------------

up() {
  [ "$(id -u)" = 0 ] || die "run as root (PostgreSQL runs as postgres, the replicas as $run_as)"
  if [ -f "$state/ports.env" ]; then
    load_state
    if pg_running "$state/pg/primary"; then log "already up in $state"; status; return 0; fi
    die "$state holds a stopped or broken cluster: run '$0 down' first"
  fi
  [ -n "$bin" ] || bin=$(command -v medrec || true)
  [ -n "$bin" ] && [ -x "$bin" ] || die "no medrec binary: pass --bin PATH"
  bin=$(readlink -f "$bin")
  for tool in haproxy curl ss setpriv; do command -v $tool >/dev/null || die "$tool is missing (apt-get install haproxy curl iproute2 util-linux)"; done
  [ -x "$PG_BIN/initdb" ] || die "PostgreSQL 15 server binaries not found in $PG_BIN"
  local t0
  t0=$(now)
  mkdir -p "$state" && chmod 755 "$state"
  mkdir -p "$state/secrets" && chmod 700 "$state/secrets"

  local base=${MEDREC_CLUSTER_BASE_PORT:-18400}
  pick_port "$base"; local pg1=$PICKED
  pick_port "$pg1"; local pg2=$PICKED
  pick_port "$((base + 10))"; local m1=$PICKED
  pick_port "$m1"; local m2=$PICKED
  pick_port "$((base + 20))"; local lb=$PICKED
  pick_port "$lb"; local lbs=$PICKED
  pick_port "$((base + 30))"; local x1=$PICKED
  pick_port "$x1"; local x2=$PICKED
  pick_port "$((base + 40))"; local pp=$PICKED
  local metrics=no
  if "$bin" serve --help 2>/dev/null | grep -q -- --metrics-port; then metrics=yes; fi
  cat >"$state/ports.env" <<EOF
BIN=$bin
PG_PRIMARY_PORT=$pg1
PG_STANDBY_PORT=$pg2
PG_SOCKET_DIR=$state/pg/sock
PG_ARCHIVE_DIR=$state/pg/archive
MEDREC1_PORT=$m1
MEDREC2_PORT=$m2
LB_PORT=$lb
LB_STATS_PORT=$lbs
METRICS1_PORT=$x1
METRICS2_PORT=$x2
PROM_PORT=$pp
METRICS_SUPPORTED=$metrics
STATE_DIR=$state
EOF
  load_state

  # 1. Primary with WAL archiving.
  mkdir -p "$state/pg" && chmod 755 "$state/pg"
  pg_mkdir "$state/pg/logs"
  random_secret >"$state/secrets/postgres-password"
  random_secret >"$state/secrets/db-password"
  random_secret >"$state/secrets/replicator-password"
  chmod 600 "$state/secrets/"*-password
  pg_init_primary "$state/pg/primary" "$pg1" "$PG_SOCKET_DIR" "$PG_ARCHIVE_DIR" "$state/secrets/postgres-password"
  pg_start "$state/pg/primary" "$state/pg/logs/primary.log"
  pg_sql "$PG_SOCKET_DIR" "$pg1" postgres "CREATE ROLE medrec LOGIN PASSWORD '$(cat "$state/secrets/db-password")'"
  pg_sql "$PG_SOCKET_DIR" "$pg1" postgres "CREATE DATABASE medrec OWNER medrec"
  pg_sql "$PG_SOCKET_DIR" "$pg1" postgres "CREATE ROLE replicator LOGIN REPLICATION PASSWORD '$(cat "$state/secrets/replicator-password")'"
  log "postgres primary: 127.0.0.1:$pg1 (archive $PG_ARCHIVE_DIR)"

  # 2. Streaming standby from a base backup; -R writes primary_conninfo and standby.signal.
  pg_mkdir "$state/pg/standby"
  as_pg env PGPASSWORD="$(cat "$state/secrets/replicator-password")" \
    "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$pg1" -U replicator -D "$state/pg/standby" -R -X stream -c fast \
    -C -S standby1 >/dev/null
  as_pg tee -a "$state/pg/standby/postgresql.auto.conf" >/dev/null <<EOF
port = $pg2
restore_command = 'cp $PG_ARCHIVE_DIR/%f %p'
EOF
  pg_start "$state/pg/standby" "$state/pg/logs/standby.log"
  for _ in $(seq 1 40); do
    [ "$(pg_sql "$PG_SOCKET_DIR" "$pg1" postgres "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")" = 1 ] && break
    sleep 0.25
  done
  log "postgres standby: 127.0.0.1:$pg2 ($(pg_sql "$PG_SOCKET_DIR" "$pg1" postgres "SELECT state FROM pg_stat_replication"))"

  # 3. Keys (one set for both replicas) and the replicas' environment.
  "$here/make-keys.sh" "$state/secrets/keys" >/dev/null
  chmod 711 "$state/secrets" "$state/secrets/keys"   # the unprivileged server reads its key file, nothing else
  chown "$run_as" "$state/secrets/keys/encryption-keys.json"
  {
    echo "# medrec environment of the local cluster (sourced with set -a)"
    echo "MEDREC_MODE=production"
    echo "MEDREC_HOST=127.0.0.1"
    echo "MEDREC_DATABASE_URL='postgres://medrec:$(cat "$state/secrets/db-password")@127.0.0.1:$pg1/medrec?sslmode=disable'"
    # Searches and type/system history on the standby, read-your-writes kept (docs/scaling.md).
    echo "MEDREC_DATABASE_READ_URL='postgres://medrec:$(cat "$state/secrets/db-password")@127.0.0.1:$pg2/medrec?sslmode=disable'"
    echo "MEDREC_ENCRYPTION_KEY_FILE=$state/secrets/keys/encryption-keys.json"
    cat "$state/secrets/keys/signing-keys.env"
    echo "MEDREC_DATABASE_POOL_SIZE=8"
    echo "MEDREC_LOG_FORMAT=json"
    echo "MEDREC_SHUTDOWN_GRACE_SECONDS=25"
    echo "MEDREC_DATA_DIR=$state/medrec-cli-data"
  } >"$state/secrets/medrec.env"
  chmod 600 "$state/secrets/medrec.env"

  # 4. Migrations, then the replicas (each also migrates at start: a no-op by then).
  log "migrate: $(run_medrec migrate | tail -1)"
  start_replica 1
  start_replica 2

  # 5. Balancer and metrics.
  start_haproxy
  start_prometheus
  for _ in $(seq 1 40); do curl -sf -o /dev/null "http://127.0.0.1:$LB_PORT/health/ready" && break; sleep 0.25; done
  log "up in $(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}') s"
  status
}

down() {
  if [ ! -d "$state" ]; then log "nothing in $state"; return 0; fi
  if [ -f "$state/ports.env" ]; then . "$state/ports.env"; fi
  for p in prometheus haproxy; do
    if pid_alive "$state/$p/pid"; then
      local pid
      pid=$(cat "$state/$p/pid")
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  stop_replica 1 TERM
  stop_replica 2 TERM
  pg_stop "$state/pg/standby"
  pg_stop "$state/pg/primary"
  rm -rf "$state"
  log "down: everything stopped, $state removed"
}

status() {
  load_state
  local rc=0 line
  printf '%-20s %-8s %-28s %s\n' PIECE STATE ADDRESS DETAIL
  for role in primary standby; do
    local port=$PG_PRIMARY_PORT
    [ $role = standby ] && port=$PG_STANDBY_PORT
    if pg_running "$state/pg/$role"; then
      if [ $role = primary ]; then
        line="archived $(pg_sql "$PG_SOCKET_DIR" "$port" postgres "SELECT archived_count || ' WAL files, failed ' || failed_count FROM pg_stat_archiver"); replicas: $(pg_sql "$PG_SOCKET_DIR" "$port" postgres "SELECT coalesce(string_agg(application_name || ' ' || state || ' lag ' || coalesce(replay_lag::text, '0'), ', '), 'none') FROM pg_stat_replication")"
      else
        line="in recovery: $(pg_sql "$PG_SOCKET_DIR" "$port" postgres "SELECT pg_is_in_recovery()"), replayed $(pg_sql "$PG_SOCKET_DIR" "$port" postgres "SELECT pg_last_wal_replay_lsn()")"
      fi
      printf '%-20s %-8s %-28s %s\n' "postgres-$role" up "127.0.0.1:$port" "$line"
    else
      printf '%-20s %-8s %-28s\n' "postgres-$role" DOWN "127.0.0.1:$port"; rc=1
    fi
  done
  for n in 1 2; do
    local port
    port=$(eval echo "\$MEDREC${n}_PORT")
    if pid_alive "$state/medrec-$n/pid"; then
      line="pid $(cat "$state/medrec-$n/pid"), ready: $(curl -s -o /dev/null -w '%{http_code}' --max-time 4 "http://127.0.0.1:$port/health/ready")"
      [ "$METRICS_SUPPORTED" = yes ] && line="$line, metrics :$(eval echo "\$METRICS${n}_PORT")"
      printf '%-20s %-8s %-28s %s\n' "medrec-$n" up "127.0.0.1:$port" "$line"
    else
      printf '%-20s %-8s %-28s\n' "medrec-$n" DOWN "127.0.0.1:$port"; rc=1
    fi
  done
  if pid_alive "$state/haproxy/pid"; then
    line=$(curl -s --max-time 3 "http://127.0.0.1:$LB_STATS_PORT/stats;csv" \
      | awk -F, '$1=="medrec" && $2 ~ /^r[0-9]$/ {printf "%s %s; ", $2, $18}' || true)
    [ -n "$line" ] || line="stats http://127.0.0.1:$LB_STATS_PORT/stats"
    printf '%-20s %-8s %-28s %s\n' haproxy up "127.0.0.1:$LB_PORT" "$line"
  else
    printf '%-20s %-8s %-28s\n' haproxy DOWN "127.0.0.1:$LB_PORT"; rc=1
  fi
  if [ "$METRICS_SUPPORTED" = yes ]; then
    if pid_alive "$state/prometheus/pid"; then
      printf '%-20s %-8s %-28s %s\n' prometheus up "127.0.0.1:$PROM_PORT" "targets up: $(curl -s "http://127.0.0.1:$PROM_PORT/api/v1/query?query=sum(up)" | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')"
    else
      printf '%-20s %-8s %-28s\n' prometheus DOWN "127.0.0.1:$PROM_PORT"; rc=1
    fi
  else
    printf '%-20s %-8s %-28s %s\n' prometheus skipped - "binary has no --metrics-port"
  fi
  return $rc
}

case $cmd in
  up) up ;;
  down) down ;;
  status) status ;;
  env) load_state; cat "$state/ports.env" ;;
  medrec) run_medrec "${args[@]}" ;;
  kill-replica) load_state; stop_replica "${args[0]:?replica number}" KILL; log "replica ${args[0]} killed (SIGKILL)" ;;
  stop-replica) load_state; stop_replica "${args[0]:?replica number}" TERM; log "replica ${args[0]} stopped (SIGTERM)" ;;
  start-replica) start_replica "${args[0]:?replica number}" ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
