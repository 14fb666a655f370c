#!/usr/bin/env bash
# postgres-sandbox.sh — a private PostgreSQL 15 on 127.0.0.1 for the tests of the shared ledger and
# of replicas, and for trying them by hand. Everything it creates lives in DIR; it reads nothing
# outside the repository except PostgreSQL's binaries (Debian's postgresql-15). Several sandboxes
# (different DIRs and ports) run side by side.
#
#   postgres-sandbox.sh start  DIR PORT     initdb DIR/data on first use, then start the server
#   postgres-sandbox.sh stop   DIR          stop it (fast shutdown; nothing to do when not running)
#   postgres-sandbox.sh kill   DIR          stop it at once (immediate shutdown: a crash, for tests)
#   postgres-sandbox.sh psql   DIR [DB]     psql as the owner over DIR's unix socket (SQL on stdin)
#   postgres-sandbox.sh env    DIR          print PORT, URL, PASSWORD_FILE, PGHOST... one NAME=value a line
#
# The server listens on 127.0.0.1:PORT (password authentication, scram-sha-256) and on a unix
# socket in DIR (trust, for psql). The role "popgate" owns the database "popgate"; its password is
# "pw-popgate" (in DIR/password). URL: postgresql://popgate@127.0.0.1:PORT/popgate.
# The sandbox trades durability for speed (fsync = off): it is for tests, where popgate is
# killed, not the database.
#
# Privileges: initdb and postgres refuse to run as root. As root, the server runs as the system
# user popgate-sandbox (created on first use, the same as the Dovecot sandbox's), DIR belongs to
# it; as any other user, the server runs as that user.
# Prints nothing but errors; exit status 0 on success, 1 on failure, 2 on bad usage.
set -euo pipefail

sandbox_user=popgate-sandbox
pg_bin=${POSTGRES_BIN:-/usr/lib/postgresql/15/bin}

die() { echo "postgres-sandbox: $*" >&2; exit 1; }
usage() {
  sed -n '/^#   postgres-sandbox.sh start/,/^#   postgres-sandbox.sh env/s/^#   /usage: /p' \
    "${BASH_SOURCE[0]}" >&2
  exit 2
}

set_paths() {
  [ -n "${1:-}" ] || usage
  dir=$(realpath -m -- "$1")
  # The unix socket path (108 bytes) lives inside DIR.
  [ "${#dir}" -le 80 ] || die "DIR is too long for a unix socket path (max 80 chars): $dir"
  data=$dir/data
  log_file=$dir/postgres.log
}

# as_owner CMD...: runs CMD as the server's owner (the sandbox user when we are root).
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$sandbox_user" -- "$@"
  else
    "$@"
  fi
}

ensure_sandbox_user() {
  [ "$(id -u)" -eq 0 ] || return 0
  if ! getent passwd "$sandbox_user" >/dev/null; then
    # Two sandboxes starting at once may both try; the loser's useradd fails harmlessly.
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$sandbox_user" 2>/dev/null || true
    getent passwd "$sandbox_user" >/dev/null || die "cannot create system user $sandbox_user"
  fi
}

cmd_start() {
  [ $# -eq 2 ] || usage
  set_paths "$1"
  local port=$2
  [[ $port =~ ^[0-9]+$ ]] && [ "$port" -ge 1024 ] && [ "$port" -le 65535 ] || die "bad PORT: $port"
  [ -x "$pg_bin/initdb" ] || die "no PostgreSQL 15 at $pg_bin (apt-get install postgresql-15)"
  ensure_sandbox_user
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    chown "$sandbox_user:" "$dir"
    chmod 0700 "$dir"
    as_owner test -w "$dir" ||
      die "user $sandbox_user cannot write $dir (is a parent directory closed to others?)"
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    printf 'pw-popgate\n' >"$dir/password"
    [ "$(id -u)" -ne 0 ] || chown "$sandbox_user:" "$dir/password"
    as_owner "$pg_bin/initdb" -D "$data" -U popgate --pwfile="$dir/password" -E UTF8 \
      --locale=C --auth-local=trust --auth-host=scram-sha-256 --no-sync >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    # Tests kill popgate, never the database: no fsync. Small, quiet, loopback only.
    cat >>"$data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 32MB
log_min_messages = warning
log_connections = off
EOF
  fi
  sed -i "/^port = /d" "$data/postgresql.conf"
  echo "port = $port" >>"$data/postgresql.conf"
  as_owner "$pg_bin/pg_ctl" -D "$data" -l "$log_file" -w -t 60 start >"$dir/pg_ctl.log" 2>&1 || {
    cat "$log_file" >&2 2>/dev/null || true
    die "postgres failed to start on 127.0.0.1:$port"
  }
  printf '%s\n' "$port" >"$dir/port"
  if ! as_owner "$pg_bin/psql" -h "$dir" -p "$port" -d popgate -Atqc 'select 1' >/dev/null 2>&1; then
    as_owner "$pg_bin/createdb" -h "$dir" -p "$port" -U popgate -O popgate popgate ||
      die "createdb popgate failed"
  fi
}

cmd_stop() {
  [ $# -eq 1 ] || usage
  set_paths "$1"
  [ -f "$data/postmaster.pid" ] || return 0
  as_owner "$pg_bin/pg_ctl" -D "$data" -m "${2:-fast}" -w -t 60 stop >/dev/null 2>&1 ||
    [ ! -f "$data/postmaster.pid" ] || die "pg_ctl stop failed"
}

cmd_kill() {
  [ $# -eq 1 ] || usage
  set_paths "$1"
  [ -f "$data/postmaster.pid" ] || return 0
  as_owner "$pg_bin/pg_ctl" -D "$data" -m immediate -w -t 60 stop >/dev/null 2>&1 ||
    [ ! -f "$data/postmaster.pid" ] || die "pg_ctl stop failed"
}

cmd_psql() {
  [ $# -ge 1 ] || usage
  set_paths "$1"
  local port
  port=$(cat "$dir/port" 2>/dev/null) || die "not started: $dir"
  as_owner "$pg_bin/psql" -h "$dir" -p "$port" -U popgate -d "${2:-popgate}" -X -Atq -v ON_ERROR_STOP=1
}

cmd_env() {
  [ $# -eq 1 ] || usage
  set_paths "$1"
  local port
  port=$(cat "$dir/port" 2>/dev/null) || die "not started: $dir"
  printf 'PORT=%s\nURL=postgresql://popgate@127.0.0.1:%s/popgate\nPASSWORD_FILE=%s\nPGHOST=%s\nSANDBOX_DIR=%s\n' \
    "$port" "$port" "$dir/password" "$dir" "$dir"
}

[ $# -ge 1 ] || usage
command=$1; shift
case "$command" in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  kill) cmd_kill "$@" ;;
  psql) cmd_psql "$@" ;;
  env) cmd_env "$@" ;;
  *) usage ;;
esac
