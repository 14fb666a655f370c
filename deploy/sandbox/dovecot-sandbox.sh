#!/usr/bin/env bash
# dovecot-sandbox.sh — a private Dovecot on 127.0.0.1 for the integration tests, deploy/demo.sh and
# bench/. Everything it creates lives in DIR; it reads nothing outside the repository except the
# Dovecot and OpenSSL binaries. Several sandboxes (different DIRs and ports) run side by side.
#
#   dovecot-sandbox.sh start  DIR BASEPORT USER...      create/refresh DIR and (re)start Dovecot
#   dovecot-sandbox.sh stop   DIR                       stop it (nothing to do when not running)
#   dovecot-sandbox.sh seed   DIR USER FILE [FOLDER]    store FILE byte-exact as one message (INBOX)
#   dovecot-sandbox.sh create DIR USER FOLDER           create FOLDER unless it exists
#   dovecot-sandbox.sh count  DIR USER FOLDER           print the number of messages in FOLDER
#   dovecot-sandbox.sh dump   DIR USER FOLDER OUTDIR    write each message as OUTDIR/<uid>.eml
#   dovecot-sandbox.sh env    DIR                       print shell variables (ports, CA_FILE, CONF)
#
# Ports on 127.0.0.1 (and ::1 when the host has IPv6 loopback): imap BASEPORT+143 (plaintext,
# STARTTLS), imaps BASEPORT+993, pop3 BASEPORT+110 (plaintext, STLS), pop3s BASEPORT+995.
# BASEPORT is 1024..64540.
# Users: password "pw-USER" (stored {PLAIN}, so USER/PASS, AUTH PLAIN/LOGIN and APOP all work);
# mail in DIR/home/USER/Maildir. The server certificate is DIR/certs/localhost.pem (DNS:localhost,
# IP:127.0.0.1) signed by DIR/certs/ca.pem.
# DIR: at most 60 characters of [A-Za-z0-9_./+-] (Dovecot's unix socket paths live inside it).
# `env` prints IMAP_PORT IMAPS_PORT POP3_PORT POP3S_PORT CA_FILE CONF SANDBOX_DIR MAIL_USER
# MAIL_UID MAIL_GID, one NAME=value a line: `. <(dovecot-sandbox.sh env DIR)`.
#
# Behaviour (Dovecot 2.3.19, checked):
# - Messages are stored with CRLF line ends (mail_save_crlf = yes; Dovecot's default would store
#   LF): a maildir file holds exactly the bytes APPENDed or saved (a saved bare LF becomes CRLF),
#   so `dump` is byte-exact, a missing final newline included.
# - POP3 RETR serves CRLF lines and ends a message that lacks a final newline with an added CRLF
#   before the "." line, so a POP client receives that message with "\r\n" appended.
# - A wrong password is answered within 0.5 s, however often it is tried (see auth settings).
#
# Privileges: as root, Dovecot's master runs as root and everything else (login processes, auth,
# mail access) as the system user popgate-sandbox, created on first use; DIR is made traversable
# (0711) for that user. As any other user, the whole Dovecot runs as that user (no chroot).
#
# Options (environment, read by `start`):
#   SANDBOX_GMAIL_LIKE=1      IMAP capabilities like Gmail: LITERAL-, no LITERAL+, no MULTIAPPEND
#   SANDBOX_QUOTA=USER:BYTES  quota plugin on; USER may store at most BYTES (NO [OVERQUOTA] beyond)
#   SANDBOX_POP3_LOGIN=one    one pop3-login process serving every client (default: two or
#                             more). Each login process keeps TLS sessions (tickets, cache) of
#                             its own, so only with one can every reconnecting client resume
#   SANDBOX_POP3_LOGIN=per-connection
#                             Dovecot's default high-security mode (service_count = 1): a fresh
#                             login process per connection, so no TLS session is ever resumed
#   SANDBOX_FSYNC=1           fsync saved mail like a real server (mail_fsync = optimized, for
#                             benchmarks); by default Dovecot never fsyncs: saves take half the time
# Prints nothing but errors; exit status 0 on success, 1 on failure, 2 on bad usage.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sandbox_user=popgate-sandbox
export PATH="$PATH:/usr/sbin:/usr/bin:/sbin:/bin"

die() { echo "dovecot-sandbox: $*" >&2; exit 1; }
usage() {
  sed -n '/^#   dovecot-sandbox.sh start/,/^#   dovecot-sandbox.sh env/s/^#   /usage: /p' \
    "${BASH_SOURCE[0]}" >&2
  exit 2
}

# ---------------------------------------------------------------------------------------------
# Paths and helpers shared by every command

# set_paths DIR: absolute paths of everything inside a sandbox directory.
set_paths() {
  [ -n "$1" ] || usage
  dir=$(realpath -m -- "$1")
  # Dovecot's configuration syntax and unix socket paths (108 bytes) limit what DIR may be.
  [[ $dir =~ ^[A-Za-z0-9_./+-]+$ ]] || die "DIR must consist of [A-Za-z0-9_./+-] only: $dir"
  [ "${#dir}" -le 60 ] || die "DIR is too long for Dovecot's socket paths (max 60 chars): $dir"
  conf=$dir/dovecot.conf
  run_dir=$dir/run
  pid_file=$run_dir/master.pid
  log_file=$dir/dovecot.log
  settings_file=$dir/sandbox.env
}

# pid_alive PID: true while PID runs (a zombie waiting for its parent to reap it counts as gone).
pid_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# master_pid: prints the pid of this sandbox's running Dovecot master, or fails.
master_pid() {
  local pid
  [ -f "$pid_file" ] || return 1
  pid=$(<"$pid_file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  pid_alive "$pid" || return 1
  # A stale pid file could name an unrelated process that reused the pid.
  [ "$(readlink "/proc/$pid/exe" 2>/dev/null || true)" = "$(readlink -f "$(command -v dovecot)")" ] \
    || return 1
  echo "$pid"
}

# require_running: a command that talks to Dovecot needs a started sandbox.
require_running() {
  [ -f "$conf" ] || die "no sandbox in $dir (run: $0 start $dir BASEPORT USER...)"
  master_pid >/dev/null || die "the sandbox in $dir is not running"
}

# doveadm_cmd ARGS...: doveadm against this sandbox's configuration.
doveadm_cmd() { doveadm -c "$conf" "$@"; }

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# folder_dir USER FOLDER: the maildir++ directory of FOLDER ("." separates levels on disk).
folder_dir() {
  local home=$dir/home/$1/Maildir
  if [ "$2" = INBOX ]; then echo "$home"; else echo "$home/.${2//\//.}"; fi
}

# check_name WHAT VALUE: user and folder names stay simple (they end up in paths and configs).
check_name() {
  [[ $2 =~ ^[A-Za-z0-9][A-Za-z0-9_.@+-]*$ ]] || die "bad $1 name: '$2'"
}

# ---------------------------------------------------------------------------------------------
# start

# ensure_sandbox_user: as root, the dedicated unprivileged owner of the mail files.
ensure_sandbox_user() {
  if ! getent passwd "$sandbox_user" >/dev/null; then
    # Two sandboxes starting at once may both try; the loser's useradd fails harmlessly.
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$sandbox_user" 2>/dev/null || true
    getent passwd "$sandbox_user" >/dev/null || die "cannot create system user $sandbox_user"
  fi
}

# write_config BASEPORT USER...: dovecot.conf, the passwd file and sandbox.env.
write_config() {
  local base=$1; shift
  local imap=$((base + 143)) imaps=$((base + 993)) pop3=$((base + 110)) pop3s=$((base + 995))
  local user group uid gid login_chroot
  if [ "$(id -u)" -eq 0 ]; then
    user=$sandbox_user
    login_chroot=login   # Dovecot's defaults: login processes chrooted into base_dir/login
  else
    user=$(id -un) || die "the current uid has no user name; Dovecot needs one"
    login_chroot=""      # chroot needs root
  fi
  uid=$(id -u "$user"); gid=$(id -g "$user"); group=$(id -gn "$user")

  # Quota: SANDBOX_QUOTA=USER:BYTES.
  local quota_user="" quota_bytes=""
  if [ -n "${SANDBOX_QUOTA:-}" ]; then
    [[ $SANDBOX_QUOTA =~ ^([^:]+):([0-9]+)$ ]] || die "SANDBOX_QUOTA must be USER:BYTES"
    quota_user=${BASH_REMATCH[1]}; quota_bytes=${BASH_REMATCH[2]}
  fi

  # passwd-file: user:password:uid:gid:gecos:home:shell:extra_fields. {PLAIN} keeps APOP possible.
  local passwd=$dir/passwd u extra
  : >"$passwd.new"
  for u in "$@"; do
    extra=""
    if [ "$u" = "$quota_user" ]; then extra="userdb_quota_rule=*:bytes=$quota_bytes"; fi
    printf '%s:{PLAIN}pw-%s:%s:%s::%s::%s\n' "$u" "$u" "$uid" "$gid" "$dir/home/$u" "$extra" \
      >>"$passwd.new"
  done
  chmod 640 "$passwd.new"
  chgrp "$gid" "$passwd.new"     # read by the auth process, which runs as $user
  mv -f "$passwd.new" "$passwd"

  local mail_plugins="" imap_plugins="" imap_capability="" plugin_block=""
  if [ -n "$quota_user" ]; then
    mail_plugins="mail_plugins = \$mail_plugins quota"
    imap_plugins="mail_plugins = \$mail_plugins imap_quota"
    plugin_block=$'plugin {\n  quota = count:User quota\n  quota_vsizes = yes\n}'
  fi
  if [ "${SANDBOX_GMAIL_LIKE:-0}" = 1 ]; then
    imap_capability="imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL- UIDPLUS"
  fi

  local fsync=never
  if [ "${SANDBOX_FSYNC:-0}" = 1 ]; then fsync=optimized; fi
  local pop3_login=$'service_count = 0\n  process_min_avail = 2'
  case "${SANDBOX_POP3_LOGIN:-}" in
    one) pop3_login=$'service_count = 0\n  process_min_avail = 1\n  process_limit = 1' ;;
    per-connection) pop3_login=$'service_count = 1\n  process_min_avail = 2' ;;
  esac

  # Loopback only. Also ::1 when the host has it: a stock Debian /etc/hosts maps "localhost" to
  # ::1 as well, and clients try ::1 first (RFC 6724).
  local listen=127.0.0.1
  if grep -qs '^00000000000000000000000000000001 ' /proc/net/if_inet6; then
    listen="127.0.0.1, ::1"
  fi

  cat >"$conf.new" <<EOF
# Generated by deploy/sandbox/dovecot-sandbox.sh — a test server, not a production setup.
instance_name = popgate-sandbox-$(basename "$dir")
base_dir = $run_dir
state_dir = $dir/state
log_path = $log_file
listen = $listen
protocols = imap pop3

# Privileges: every non-master process and all mail files belong to $user.
default_internal_user = $user
default_internal_group = $group
default_login_user = $user
first_valid_uid = $uid
last_valid_uid = $uid
first_valid_gid = $gid
last_valid_gid = $gid

ssl = yes
ssl_cert = <$dir/certs/localhost.pem
ssl_key = <$dir/certs/localhost.key
ssl_min_protocol = TLSv1.2

# Authentication: plaintext allowed (tests use tls: none too), APOP needs {PLAIN} passwords.
disable_plaintext_auth = no
auth_mechanisms = plain login apop
auth_verbose = yes
# Wrong passwords fail fast (tests try them on purpose): no 2 s failure delay (Dovecot still
# answers failures from a 500 ms timer) and no growing penalty (see service anvil below).
# login_trusted_networks is deliberately unset: in 2.3.19 it does not lift the penalty, and it
# would mark plaintext loopback connections "secured" and allow XCLIENT, unlike a real server.
auth_failure_delay = 0
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $passwd
}
userdb {
  driver = passwd-file
  args = username_format=%u $passwd
}

mail_location = maildir:~/Maildir
# Maildir files hold the saved bytes exactly (CRLF stays CRLF) instead of LF-converted text.
mail_save_crlf = yes
mail_fsync = $fsync
mail_max_userip_connections = 100
pop3_uidl_format = %08Xu%08Xv
$mail_plugins

protocol imap {
  $imap_capability
  $imap_plugins
}
$plugin_block

# Login processes serve many clients each: ~20 parallel connections without fork storms.
service imap-login {
  chroot = $login_chroot
  inet_listener imap {
    port = $imap
  }
  inet_listener imaps {
    port = $imaps
    ssl = yes
  }
  service_count = 0
  process_min_avail = 2
  client_limit = 200
}
service pop3-login {
  chroot = $login_chroot
  inet_listener pop3 {
    port = $pop3
  }
  inet_listener pop3s {
    port = $pop3s
    ssl = yes
  }
  $pop3_login
  client_limit = 200
}
service imap {
  process_limit = 200
}
service pop3 {
  process_limit = 200
}
service anvil {
  # anvil's default "chroot = empty" needs root; unprivileged it runs unchrooted.
  chroot = ${login_chroot:+empty}
  # No auth penalty (2, 4, 8, 15 s per wrong password from one IP): without this socket the auth
  # process skips penalty tracking (a stale socket file would make it retry for 5 s at startup).
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
EOF
  mv -f "$conf.new" "$conf"

  cat >"$settings_file" <<EOF
IMAP_PORT=$imap
IMAPS_PORT=$imaps
POP3_PORT=$pop3
POP3S_PORT=$pop3s
CA_FILE=$dir/certs/ca.pem
CONF=$conf
SANDBOX_DIR=$dir
MAIL_USER=$user
MAIL_UID=$uid
MAIL_GID=$gid
EOF
}

cmd_start() {
  [ $# -ge 3 ] || usage
  set_paths "$1"; shift
  local base=$1; shift
  if ! [[ $base =~ ^[0-9]+$ ]] || [ "$base" -lt 1024 ] || [ "$base" -gt 64540 ]; then
    die "BASEPORT must be a number in 1024..64540"
  fi
  local u
  for u in "$@"; do check_name user "$u"; done
  command -v dovecot >/dev/null || die "dovecot is not installed (apt-get install dovecot-imapd dovecot-pop3d)"
  command -v doveadm >/dev/null || die "doveadm is not installed"

  # Starting again on the same DIR restarts: stop the old instance, keep the mail.
  if master_pid >/dev/null; then stop_dovecot; fi
  # Sockets of an earlier run would be taken for live ones (auth then retries them for seconds).
  rm -rf "$dir/run"

  mkdir -p "$dir"
  "$script_dir/make-certs.sh" "$dir/certs"
  local user
  if [ "$(id -u)" -eq 0 ]; then
    ensure_sandbox_user
    user=$sandbox_user
    # The unprivileged user must reach DIR/home and DIR/passwd (through DIR), nothing more.
    chmod 0711 "$dir"
  else
    user=$(id -un)
  fi
  mkdir -p "$dir/home" "$dir/state"
  chmod 0711 "$dir/home"
  for u in "$@"; do
    mkdir -p "$dir/home/$u"
    chmod 0700 "$dir/home/$u"
    if [ "$(id -u)" -eq 0 ]; then chown -R "$user:" "$dir/home/$u"; fi
  done
  if [ "$(id -u)" -eq 0 ] &&
    ! runuser -u "$user" -- test -w "$dir/home/$1" 2>/dev/null; then
    die "user $user cannot write $dir/home (is a parent directory of $dir closed to others?)"
  fi
  write_config "$base" "$@"
  : >"$log_file"

  # The master daemonizes once it has bound every listener; a taken port fails right here. Its
  # output goes to a file: the daemon keeps stderr open, and would hold a caller's pipe open forever.
  if ! dovecot -c "$conf" >"$dir/startup.log" 2>&1; then
    cat "$dir/startup.log" >&2   # Dovecot repeats its fatal error there and in the log
    die "dovecot failed to start (ports $((base + 110)), $((base + 143)), $((base + 993)), $((base + 995)))"
  fi

  # Wait (up to ~10 s) until all four listeners accept connections.
  local port tries=0
  for port in $((base + 143)) $((base + 993)) $((base + 110)) $((base + 995)); do
    until port_open "$port"; do
      tries=$((tries + 1))
      if [ "$tries" -ge 100 ] || ! master_pid >/dev/null; then
        tail -n 20 "$log_file" >&2 || true
        stop_dovecot || true
        die "dovecot did not start listening on 127.0.0.1:$port"
      fi
      sleep 0.1
    done
  done
}

# ---------------------------------------------------------------------------------------------
# stop

# stop_dovecot: SIGTERM to the master, wait up to 10 s, then SIGKILL the master and its children.
stop_dovecot() {
  local pid children i
  pid=$(master_pid) || return 0
  children=$(pgrep -P "$pid" || true)
  # What `doveadm stop` does, minus its wait, which also waits for the reaping of the zombie.
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    pid_alive "$pid" || break
    sleep 0.05
  done
  if pid_alive "$pid"; then
    echo "dovecot-sandbox: dovecot ($pid) ignored SIGTERM; killing it" >&2
    # shellcheck disable=SC2086  # $children: a list of pids
    kill -KILL "$pid" $children 2>/dev/null || true
    while pid_alive "$pid"; do sleep 0.05; done
  fi
  rm -f "$pid_file"
}

cmd_stop() {
  [ $# -eq 1 ] || usage
  set_paths "$1"
  stop_dovecot
}

# ---------------------------------------------------------------------------------------------
# seed, create, count, dump

# create_folder USER FOLDER: create FOLDER unless it exists (INBOX always exists).
create_folder() {
  [ "$2" = INBOX ] && return 0
  local err
  if ! err=$(doveadm_cmd mailbox create -u "$1" "$2" 2>&1); then
    [[ $err == *"already exists"* ]] || { echo "$err" >&2; die "cannot create folder $2 for $1"; }
  fi
}

cmd_seed() {
  if [ $# -lt 3 ] || [ $# -gt 4 ]; then usage; fi
  set_paths "$1"
  local user=$2 file=$3 folder=${4:-INBOX} err
  check_name user "$user"
  [ -f "$file" ] || die "no such file: $file"
  require_running
  # Try first, create the folder only when Dovecot says it is missing: one doveadm run per message.
  if err=$(doveadm_cmd save -u "$user" -m "$folder" <"$file" 2>&1); then return 0; fi
  if [[ $err == *"doesn't exist"* || $err == *"not found"* ]]; then
    create_folder "$user" "$folder"
    doveadm_cmd save -u "$user" -m "$folder" <"$file" || die "cannot store $file for $user"
    return 0
  fi
  echo "$err" >&2
  die "cannot store $file for $user in $folder"
}

cmd_create() {
  [ $# -eq 3 ] || usage
  set_paths "$1"
  check_name user "$2"
  require_running
  create_folder "$2" "$3"
}

# mailbox_messages USER FOLDER: the message count (also makes Dovecot notice files in new/).
mailbox_messages() {
  local out
  out=$(doveadm_cmd -f flow mailbox status -u "$1" messages "$2") || die "cannot read $2 of $1"
  [[ $out =~ messages=([0-9]+) ]] || die "unexpected doveadm output: $out"
  echo "${BASH_REMATCH[1]}"
}

cmd_count() {
  [ $# -eq 3 ] || usage
  set_paths "$1"
  check_name user "$2"
  require_running
  mailbox_messages "$2" "$3"
}

# dump: maildir files are the raw message bytes (mail_save_crlf = yes); dovecot-uidlist maps each
# UID to the file's base name ("UID [extensions] :BASENAME" lines after a header line), and the
# file is BASENAME or BASENAME:2,FLAGS in cur/ or new/. (doveadm fetch 'text' is no help: it frames
# messages with form feeds and cannot show whether the last line had a newline.)
cmd_dump() {
  [ $# -eq 4 ] || usage
  set_paths "$1"
  local user=$2 folder=$3 out=$4
  check_name user "$user"
  require_running
  local count
  count=$(mailbox_messages "$user" "$folder")   # syncs: every message has a UID afterwards
  mkdir -p "$out"
  [ "$count" -eq 0 ] && return 0
  local fdir uidlist
  fdir=$(folder_dir "$user" "$folder")
  uidlist=$fdir/dovecot-uidlist
  [ -f "$uidlist" ] || die "no $uidlist"

  # Index the maildir once: base name -> file.
  local -A files=()
  local path name
  for path in "$fdir"/cur/* "$fdir"/new/*; do
    [ -f "$path" ] || continue
    name=${path##*/}
    files[${name%%:*}]=$path
  done

  local line uid base written=0
  while IFS= read -r line; do
    [[ $line =~ ^([0-9]+)\ (.*\ )?:(.+)$ ]] || continue
    uid=${BASH_REMATCH[1]}; base=${BASH_REMATCH[3]}
    [ -n "${files[$base]:-}" ] || continue   # listed but expunged
    cp -- "${files[$base]}" "$out/$uid.eml"
    written=$((written + 1))
  done < <(tail -n +2 "$uidlist")
  [ "$written" -eq "$count" ] || die "dump of $folder for $user found $written of $count messages"
}

cmd_env() {
  [ $# -eq 1 ] || usage
  set_paths "$1"
  [ -f "$settings_file" ] || die "no sandbox in $dir"
  cat "$settings_file"
}

# ---------------------------------------------------------------------------------------------
[ $# -ge 1 ] || usage
command=$1; shift
case $command in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  seed) cmd_seed "$@" ;;
  create) cmd_create "$@" ;;
  count) cmd_count "$@" ;;
  dump) cmd_dump "$@" ;;
  env) cmd_env "$@" ;;
  -h | --help | help) usage ;;
  *) usage ;;
esac
