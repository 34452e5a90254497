#!/usr/bin/env bash
# PostgreSQL backups for medrec: base backups (pg_basebackup) + continuous WAL archiving, and
# point-in-time restore into a NEW cluster. The database only: the keys (encryption keyring,
# blind-index key, JWT signing keys) are backed up separately and never next to these files
# (docs/operations.md, "Backups and keys").
#
#   backup.sh archive-command ARCHIVE_DIR
#       prints the postgresql.conf lines that archive every WAL segment into ARCHIVE_DIR
#   backup.sh base --dest DIR [--textfile DIR] [-- pg_basebackup connection options]
#       DIR/base-<UTC time>/: a plain-format base backup with the WAL it needs (-X stream),
#       verified with pg_verifybackup; DIR/LATEST names it. Connection: the usual PG* variables
#       or options after --, e.g. -- -h db.internal -p 5432 -U replicator (a role with REPLICATION).
#       --textfile writes medrec_backup_last_success_timestamp_seconds for node_exporter.
#   backup.sh restore --base DIR --archive ARCHIVE_DIR --pgdata NEW_PGDATA
#                     [--target-time 'YYYY-MM-DD HH:MM:SS+00'] [--port P] [--socket-dir D] [--start]
#       copies the base backup into NEW_PGDATA (which must not exist), replays archived WAL up to
#       the target time (or to the end of the archive) and promotes. The restored cluster does not
#       archive (archive_mode=off): point it at a new archive once it is verified, never the old one.
#   backup.sh prune --dest DIR --archive ARCHIVE_DIR --keep N
#       keeps the newest N base backups and the WAL they need; deletes the rest.
#
# Run as the PostgreSQL OS user, or as root (the PostgreSQL tools then run as $PG_OS_USER, default
# postgres). PG_BIN defaults to /usr/lib/postgresql/15/bin.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_OS_USER=${PG_OS_USER:-postgres}

die() { echo "backup: $*" >&2; exit 1; }
log() { echo "backup: $*" >&2; }
as_pg() {
  if [ "$(id -u)" = 0 ] && [ "$PG_OS_USER" != root ]; then runuser -u "$PG_OS_USER" -- "$@"; else "$@"; fi
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

cmd=${1:-}
[ $# -gt 0 ] && shift
dest="" archive="" base="" pgdata="" target_time="" port="" socket_dir="" start=no keep="" textfile=""
extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --dest) dest=$2; shift 2 ;;
    --archive) archive=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    --pgdata) pgdata=$2; shift 2 ;;
    --target-time) target_time=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --socket-dir) socket_dir=$2; shift 2 ;;
    --start) start=yes; shift ;;
    --keep) keep=$2; shift 2 ;;
    --textfile) textfile=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) [ "$cmd" = archive-command ] && [ -z "$archive" ] && { archive=$1; shift; continue; }
       die "unknown argument $1" ;;
  esac
done

archive_command() {
  [ -n "$archive" ] || die "usage: backup.sh archive-command ARCHIVE_DIR"
  cat <<EOF
# postgresql.conf: continuous WAL archiving for medrec backups (deploy/backup.sh).
# ARCHIVE_DIR on another disk or host mount than the data directory; owned by postgres, mode 0700.
wal_level = replica
archive_mode = on
archive_command = 'test ! -f $archive/%f && cp %p $archive/%f.tmp && sync $archive/%f.tmp && mv $archive/%f.tmp $archive/%f'
archive_timeout = 300        # a segment at least every 5 minutes: bounds the data lost with the server
EOF
}

base_backup() {
  [ -n "$dest" ] || die "usage: backup.sh base --dest DIR [-- connection options]"
  if [ ! -d "$dest" ]; then
    mkdir -p "$dest"
    if [ "$(id -u)" = 0 ]; then chown "$PG_OS_USER:" "$dest"; fi
  fi
  local name target t0
  name=base-$(date -u +%Y%m%dT%H%M%SZ)
  target=$dest/$name
  [ -e "$target" ] && die "$target exists"
  t0=$(now)
  # Plain format (pg_verifybackup checks it), WAL streamed alongside so the copy is consistent
  # on its own, a fast checkpoint so it starts at once.
  as_pg "$PG_BIN/pg_basebackup" -D "$target.partial" -Fp -X stream -c fast -l "medrec $name" \
    --manifest-checksums=SHA256 "${extra[@]}"
  as_pg "$PG_BIN/pg_verifybackup" -q "$target.partial"
  as_pg mv "$target.partial" "$target"
  as_pg sh -c "echo '$name' > '$dest/LATEST.tmp' && mv '$dest/LATEST.tmp' '$dest/LATEST'"
  local size
  size=$(du -sb "$target" | cut -f1)
  if [ -n "$textfile" ]; then
    mkdir -p "$textfile"
    cat >"$textfile/medrec_backup.prom.$$" <<EOF
# HELP medrec_backup_last_success_timestamp_seconds End of the last verified medrec base backup.
# TYPE medrec_backup_last_success_timestamp_seconds gauge
medrec_backup_last_success_timestamp_seconds $(date +%s)
# HELP medrec_backup_last_size_bytes Size of the last medrec base backup.
# TYPE medrec_backup_last_size_bytes gauge
medrec_backup_last_size_bytes $size
EOF
    mv "$textfile/medrec_backup.prom.$$" "$textfile/medrec_backup.prom"
  fi
  log "base backup $target: $((size / 1024 / 1024)) MiB in $(elapsed "$t0") s, verified"
  echo "$target"
}

restore() {
  [ -n "$base" ] && [ -n "$archive" ] && [ -n "$pgdata" ] || die "usage: backup.sh restore --base DIR --archive DIR --pgdata NEW [--target-time T] [--port P] [--start]"
  [ -f "$base/backup_manifest" ] || die "$base is not a base backup (no backup_manifest)"
  [ -e "$pgdata" ] && die "$pgdata exists: restore only into a new directory"
  local t0
  t0=$(now)
  as_pg "$PG_BIN/pg_verifybackup" -q "$base"
  mkdir -p "$pgdata"
  if [ "$(id -u)" = 0 ]; then chown "$PG_OS_USER:" "$pgdata"; fi
  chmod 700 "$pgdata"
  as_pg cp -a "$base/." "$pgdata/"
  as_pg rm -f "$pgdata/standby.signal" "$pgdata/postmaster.pid" "$pgdata/backup_manifest"
  {
    echo ""
    echo "# --- point-in-time restore by deploy/backup.sh, $(date -u +%FT%TZ) ---"
    echo "restore_command = 'cp $archive/%f %p'"
    if [ -n "$target_time" ]; then
      echo "recovery_target_time = '$target_time'"
      echo "recovery_target_inclusive = false"
    fi
    echo "recovery_target_action = 'promote'"
    echo "recovery_target_timeline = 'latest'"
    echo "primary_conninfo = ''"
    echo "primary_slot_name = ''"
    # Never archive into the old cluster's archive: a new timeline starts here.
    echo "archive_mode = off"
    [ -n "$port" ] && echo "port = $port"
    [ -n "$socket_dir" ] && echo "unix_socket_directories = '$socket_dir'"
  } | as_pg tee -a "$pgdata/postgresql.auto.conf" >/dev/null
  as_pg touch "$pgdata/recovery.signal"
  log "restored files into $pgdata in $(elapsed "$t0") s (target: ${target_time:-end of archive})"
  if [ "$start" = yes ]; then
    local t1
    t1=$(now)
    as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -l "$pgdata/restore.log" -w -t 300 start >/dev/null
    local args=(-X -q -At -d postgres)
    [ -n "$socket_dir" ] && args+=(-h "$socket_dir")
    [ -n "$port" ] && args+=(-p "$port")
    for _ in $(seq 1 600); do
      [ "$(as_pg "$PG_BIN/psql" "${args[@]}" -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ] && break
      sleep 0.5
    done
    [ "$(as_pg "$PG_BIN/psql" "${args[@]}" -c 'SELECT pg_is_in_recovery()')" = f ] || {
      tail -20 "$pgdata/restore.log" >&2; die "the restored cluster did not finish recovery"; }
    log "recovered and promoted in $(elapsed "$t1") s: $(grep -E 'recovery stopping|last completed transaction' "$pgdata/restore.log" | tail -2 | sed 's/^.*LOG: *//' | tr '\n' ' ')"
  fi
}

prune() {
  [ -n "$dest" ] && [ -n "$archive" ] && [ -n "$keep" ] || die "usage: backup.sh prune --dest DIR --archive DIR --keep N"
  mapfile -t backups < <(find "$dest" -maxdepth 1 -name 'base-*' -type d ! -name '*.partial' | sort)
  local count=${#backups[@]}
  [ "$count" -gt "$keep" ] || { log "prune: $count base backups, keeping all"; return 0; }
  local oldest_kept=${backups[$((count - keep))]}
  # The first WAL segment the oldest kept backup needs (from its backup_label).
  local wal
  wal=$(awk '/^START WAL LOCATION/ {gsub(/[()]/, "", $6); print $6}' "$oldest_kept/backup_label")
  [ -n "$wal" ] || die "no START WAL LOCATION in $oldest_kept/backup_label"
  for old in "${backups[@]:0:$((count - keep))}"; do as_pg rm -rf "$old"; log "prune: removed $old"; done
  as_pg "$PG_BIN/pg_archivecleanup" "$archive" "$wal"
  log "prune: WAL before $wal removed from $archive"
}

case $cmd in
  archive-command) archive_command ;;
  base) base_backup ;;
  restore) restore ;;
  prune) prune ;;
  *) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
