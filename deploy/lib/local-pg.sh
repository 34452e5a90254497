# shellcheck shell=bash
# Sourced by deploy/local-cluster.sh and deploy/test-backup.sh: throwaway PostgreSQL 15 clusters
# on 127.0.0.1 with private socket directories, run as the `postgres` user when we are root
# (PostgreSQL refuses to run as root). Not for production: see docs/deployment.md for that.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

# Runs a command as the PostgreSQL user (postgres when root, else ourselves).
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Makes directories owned by the PostgreSQL user, mode 0700.
pg_mkdir() {
  mkdir -p "$@"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$@"; fi
  chmod 700 "$@"
}

# Whether TCP port $1 on 127.0.0.1 is free (nobody listens and we did not pick it already).
port_is_free() {
  ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && [[ " ${PICKED_PORTS:-} " != *" $1 "* ]]
}

# Prints the first free port at or after $1 and remembers it (PICKED_PORTS) so the next call
# picks another one. Call as: pick_port 18400; port=$PICKED (not in a subshell).
pick_port() {
  local p=$1
  while ! port_is_free "$p"; do p=$((p + 1)); done
  PICKED_PORTS="${PICKED_PORTS:-} $p"
  PICKED=$p
  export PICKED
}

# A random password of hex digits (no characters that need escaping in URLs or conninfo).
random_secret() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

# pg_init_primary PGDATA PORT SOCKDIR ARCHIVEDIR PASSWORD_FILE
# initdb with scram on TCP, trust on the private socket; WAL archiving into ARCHIVEDIR and
# streaming replication enabled; the superuser password is in PASSWORD_FILE.
pg_init_primary() {
  local pgdata=$1 port=$2 sock=$3 archive=$4 pwfile=$5
  pg_mkdir "$pgdata" "$sock" "$archive"
  local pwcopy
  pwcopy=$(dirname "$pgdata")/.initdb-pw.$$
  install -o postgres -g postgres -m 600 "$pwfile" "$pwcopy" 2>/dev/null || install -m 600 "$pwfile" "$pwcopy"
  as_pg "$PG_BIN/initdb" -D "$pgdata" -U postgres --pwfile="$pwcopy" --auth-local=trust \
    --auth-host=scram-sha-256 --encoding=UTF8 --locale=C --lc-ctype=C.UTF-8 >"$pgdata.initdb.log" 2>&1 || {
    cat "$pgdata.initdb.log" >&2; rm -f "$pwcopy"; return 1; }
  rm -f "$pwcopy"
  as_pg tee -a "$pgdata/postgresql.conf" >/dev/null <<EOF

# --- medrec local cluster ---
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = '256MB'
hot_standby = on
archive_mode = on
archive_command = 'test ! -f $archive/%f && cp %p $archive/%f.tmp && mv $archive/%f.tmp $archive/%f'
archive_timeout = 60
max_connections = 200
shared_buffers = '128MB'
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
EOF
  as_pg tee "$pgdata/pg_hba.conf" >/dev/null <<'EOF'
# TYPE  DATABASE     USER        ADDRESS        METHOD
local   all          all                        trust
local   replication  all                        trust
host    all          all         127.0.0.1/32   scram-sha-256
host    replication  replicator  127.0.0.1/32   scram-sha-256
EOF
}

# pg_start PGDATA LOGFILE: starts and waits until it accepts connections.
pg_start() {
  as_pg "$PG_BIN/pg_ctl" -D "$1" -l "$2" -w -t 60 start >/dev/null
}

# pg_stop PGDATA: fast shutdown if running.
pg_stop() {
  if [ -f "$1/postmaster.pid" ]; then as_pg "$PG_BIN/pg_ctl" -D "$1" -m fast -w -t 60 stop >/dev/null || true; fi
}

# pg_running PGDATA
pg_running() { [ -d "$1" ] && as_pg "$PG_BIN/pg_ctl" -D "$1" status >/dev/null 2>&1; }

# pg_sql SOCKDIR PORT DB SQL...: runs SQL as the superuser over the private socket; unaligned output.
pg_sql() {
  local sock=$1 port=$2 db=$3
  shift 3
  as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -At -h "$sock" -p "$port" -U postgres -d "$db" -c "$*"
}
