# sandbox-lib.sh — shell helpers shared by the sandbox scripts of deploy/sandbox (sourced, never
# run). Each script sets `me` (its name, for messages) before sourcing this file.
#
# The interop servers' scripts (mailutils-, cyrus-, courier-, popa3d-, twisted-sandbox.sh) answer
# the same commands. Each sets `services` ("pop3 imap" or "pop3") and defines start_servers (with
# dir, root, run_dir, settings_file, pop3, imap and the users array set, the ports known to be
# free), stop_servers (nothing to do when stopped), cmd_seed and list_messages USER FOLDER (the
# message files of FOLDER in UID order), and ends with `dispatch "$@"`, which does the rest.

# die MESSAGE: prints "<me>: MESSAGE" on stderr and exits 1.
die() {
  echo "${me:-sandbox}: $*" >&2
  exit 1
}

# skip MESSAGE: the server cannot run on this machine (no root, no Debian archive): prints
# "SKIPPED: MESSAGE" on stderr and exits 77, which the tests turn into a loud skip.
skip() {
  echo "SKIPPED: $*" >&2
  exit 77
}

# pid_alive PID: true while PID runs (a zombie waiting for its parent to reap it counts as gone).
pid_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# port_bound PORT: true when a listening socket is bound to 127.0.0.1:PORT or to all addresses.
port_bound() {
  local hex
  printf -v hex '%04X' "$1"
  awk -v p=":$hex" '$4 == "0A" && ($2 == "0100007F" p || $2 == "00000000" p)' \
    /proc/net/tcp 2>/dev/null | grep -q .
}

# check_name WHAT VALUE: user and folder names stay simple (they end up in paths and configs).
check_name() {
  [[ $2 =~ ^[A-Za-z0-9][A-Za-z0-9_.@+-]*$ ]] || die "bad $1 name: '$2'"
}

# check_base BASEPORT: a number in 1024..64540 (BASEPORT+995 must stay a valid port).
check_base() {
  if ! [[ $1 =~ ^[0-9]+$ ]] || [ "$1" -lt 1024 ] || [ "$1" -gt 64540 ]; then
    die "BASEPORT must be a number in 1024..64540"
  fi
}

# free_ports PORT...: fails with "Address already in use" (the tests then try other ports) when
# one of the ports is taken.
free_ports() {
  local p
  for p in "$@"; do
    if port_bound "$p" || port_open "$p"; then
      echo "${me:-sandbox}: 127.0.0.1:$p: Address already in use" >&2
      exit 1
    fi
  done
}

# wait_ports LOG PORT...: waits (up to ~15 s) until every PORT accepts connections; on failure
# shows the tail of LOG and fails.
wait_ports() {
  local log=$1 port tries=0
  shift
  for port in "$@"; do
    until port_open "$port"; do
      tries=$((tries + 1))
      if [ "$tries" -ge 150 ]; then
        [ -f "$log" ] && tail -n 20 "$log" >&2
        return 1
      fi
      sleep 0.1
    done
  done
}

# start_group PIDFILE LOG COMMAND...: COMMAND in the background in a session (and process group)
# of its own, stdin from /dev/null, output to LOG; its pid (= the group id) goes to PIDFILE.
start_group() {
  local pidfile=$1 log=$2
  shift 2
  setsid "$@" </dev/null >>"$log" 2>&1 &
  echo $! >"$pidfile"
}

# stop_group PIDFILE: SIGTERM to the process group PIDFILE names, SIGKILL after 10 s; removes
# PIDFILE. Nothing to do when it is missing or the group is gone.
stop_group() {
  local pid i
  [ -f "$1" ] || return 0
  pid=$(<"$1")
  if [[ $pid =~ ^[0-9]+$ ]] && pid_alive "$pid"; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
      pid_alive "$pid" || break
      sleep 0.05
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}

# chrooted_pids ROOT: the pids of every process whose root directory is ROOT (a server started
# with chroot ROOT, and everything it forked).
chrooted_pids() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$1" ] && echo "${p#/proc/}"
  done
  return 0
}

# stop_chrooted ROOT: SIGTERM to every process living in ROOT, SIGKILL to what is left after 5 s.
stop_chrooted() {
  local pids i
  pids=$(chrooted_pids "$1")
  [ -z "$pids" ] && return 0
  # shellcheck disable=SC2086  # a list of pids
  kill -TERM $pids 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    pids=$(chrooted_pids "$1")
    [ -z "$pids" ] && return 0
    sleep 0.05
  done
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    [ -z "$(chrooted_pids "$1")" ] && return 0
    sleep 0.05
  done
}

# host_mirror, host_archive SUITE: the Debian archives this machine's apt uses.
# shellcheck source=debian-archive.sh
. "$(dirname "${BASH_SOURCE[0]}")/debian-archive.sh"

# crlf_to_lf < IN > OUT: every CRLF line end becomes LF (what a maildir on disk holds).
crlf_to_lf() { sed 's/\r$//'; }

# usage: the script's own command lines ("#   <me> ...") from its header.
usage() {
  sed -n "/^#   $me /p" "$0" | sed 's/^# *//' >&2
  exit 2
}

# set_paths DIR: dir (absolute), root (a Debian root's mount point), run_dir, settings_file.
set_paths() {
  [ -n "${1:-}" ] || usage
  dir=$(realpath -m -- "$1")
  [[ $dir =~ ^[A-Za-z0-9_./+-]+$ ]] || die "DIR must consist of [A-Za-z0-9_./+-] only: $dir"
  root=$dir/root
  run_dir=$dir/run
  settings_file=$dir/sandbox.env
}

# in_root COMMAND...: COMMAND inside the Debian root.
in_root() { chroot "$root" "$@"; }

# enter_root NAME MARKER: mounts root NAME (deploy/sandbox/test-root.sh) on $root unless MARKER,
# a file of the root, shows it is there already. Exits 77 (with the reason) where it cannot be had.
enter_root() {
  [ "$(id -u)" -eq 0 ] || skip "$1 runs in a Debian root entered with chroot, which needs root"
  [ -e "$root$2" ] && return 0
  local status=0
  "$script_dir/test-root.sh" enter "$1" "$root" || status=$?
  [ "$status" -eq 0 ] || exit "$status"
}

# leave_root: stops every process living in the root, then unmounts it.
leave_root() {
  [ -d "$root" ] || return 0
  stop_chrooted "$root"
  "$script_dir/test-root.sh" leave "$root"
}

# write_settings POP3_PORT IMAP_PORT LOGIN_SUFFIX: what `env` prints.
write_settings() {
  printf 'POP3_PORT=%s\nIMAP_PORT=%s\nLOGIN_SUFFIX=%s\nSANDBOX_DIR=%s\n' "$1" "$2" "$3" "$dir" \
    >"$settings_file"
}

cmd_env() {
  [ $# -eq 1 ] || usage
  set_paths "$1"
  [ -f "$settings_file" ] || die "no sandbox in $dir"
  cat "$settings_file"
}

cmd_count() {
  [ $# -eq 3 ] || usage
  set_paths "$1"
  local files
  files=$(list_messages "$2" "$3") || exit 1
  grep -c . <<<"$files" || true
}

cmd_dump() {
  [ $# -eq 4 ] || usage
  set_paths "$1"
  local out=$4 f n=0 files
  files=$(list_messages "$2" "$3") || exit 1
  mkdir -p "$out"
  while IFS= read -r f; do
    [ -n "$f" ] || continue
    n=$((n + 1))
    cp -- "$f" "$(printf '%s/%06d.eml' "$out" "$n")"
  done <<<"$files"
}

# cmd_start DIR BASEPORT USER...: checks the arguments, stops what runs in DIR, makes sure the
# ports are free, then start_servers. Ports: pop3 BASEPORT+110, imap BASEPORT+143.
cmd_start() {
  [ $# -ge 3 ] || usage
  set_paths "$1"
  check_base "$2"
  pop3=$(($2 + 110))
  imap=$(($2 + 143))
  shift 2
  users=("$@")
  local u
  for u in "${users[@]}"; do check_name user "$u"; done
  mkdir -p "$run_dir"
  stop_servers
  if [[ " $services " == *" imap "* ]]; then free_ports "$pop3" "$imap"; else free_ports "$pop3"; fi
  start_servers
}

cmd_stop() {
  [ $# -eq 1 ] || usage
  set_paths "$1"
  stop_servers
}

# dispatch COMMAND ARGS...: runs the script's command.
dispatch() {
  [ $# -ge 1 ] || usage
  local command=$1
  shift
  case $command in
    start | stop | seed | count | dump | env) "cmd_$command" "$@" ;;
    *) usage ;;
  esac
}
