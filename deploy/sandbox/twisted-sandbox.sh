#!/usr/bin/env bash
# twisted-sandbox.sh — Twisted's POP3 server (python3-twisted 22.4, twisted.mail.pop3) on
# 127.0.0.1 for the interop tests, on the host. Everything lives in DIR. deploy/sandbox/
# twisted-pop3.tac wires it (and says why `twistd mail` itself cannot be used under Python 3).
#
#   twisted-sandbox.sh start DIR BASEPORT USER...       create DIR and start twistd3
#   twisted-sandbox.sh stop  DIR                        stop it (nothing to do when stopped)
#   twisted-sandbox.sh seed  DIR USER INBOX FILE...     deliver each FILE into USER's maildir
#   twisted-sandbox.sh count DIR USER INBOX             print the number of messages
#   twisted-sandbox.sh dump  DIR USER INBOX OUTDIR      write them as OUTDIR/NNNNNN.eml, in order
#   twisted-sandbox.sh env   DIR                        print POP3_PORT IMAP_PORT(empty) LOGIN_SUFFIX
#
# Port: pop3 BASEPORT+110, plaintext; no IMAP. Users log in as USER with the password "pw-USER";
# mail is the maildir DIR/mail/USER, its one folder (INBOX). `seed` writes the files as a delivery
# would (CRLF turned into LF); Twisted serves them with CRLF lines, and its LIST counts the file's
# bytes (LF line ends), not what RETR sends.
set -euo pipefail
me=twisted-sandbox.sh
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=sandbox-lib.sh
. "$script_dir/sandbox-lib.sh"
services="pop3"

start_servers() {
  command -v twistd3 >/dev/null || die "twistd3 is not installed (python3-twisted: deploy/install-deps.sh interop)"
  local u
  for u in "${users[@]}"; do mkdir -p "$dir/mail/$u/new" "$dir/mail/$u/cur" "$dir/mail/$u/tmp"; done
  write_settings "$pop3" "" ""
  : >>"$dir/twistd.log"
  # twistd3 -n stays in the foreground (in a process group of its own, started here).
  SANDBOX_MAIL=$dir/mail SANDBOX_POP3_PORT=$pop3 SANDBOX_USERS="${users[*]}" \
    start_group "$run_dir/twistd.pid" "$dir/twistd.log" \
    twistd3 -n --pidfile= --logfile=- -y "$script_dir/twisted-pop3.tac"
  if ! wait_ports "$dir/twistd.log" "$pop3"; then
    stop_group "$run_dir/twistd.pid"
    die "Twisted did not start listening on 127.0.0.1:$pop3"
  fi
}


stop_servers() { stop_group "$run_dir/twistd.pid"; }

# maildir USER FOLDER: the user's maildir (INBOX is the only folder).
maildir() {
  [ "$2" = INBOX ] || die "Twisted's POP3 serves INBOX only, not '$2'"
  echo "$dir/mail/$1"
}

cmd_seed() {
  [ $# -ge 4 ] || usage
  set_paths "$1"
  local user=$2 target f n=0 name stamp
  target=$(maildir "$user" "$3")
  shift 3
  [ -d "$target/new" ] || die "no maildir for $user"
  stamp=$(date +%s)
  for f in "$@"; do
    [ -f "$f" ] || die "no such file: $f"
    n=$((n + 1))
    printf -v name '%s.M%06dP%d.popgate-sandbox' "$stamp" "$n" "$$"
    crlf_to_lf <"$f" >"$target/tmp/$name"
    mv "$target/tmp/$name" "$target/new/$name"
  done
}

# list_messages USER FOLDER: the files in the order Twisted numbers them (cur/ then new/, by name).
list_messages() {
  local target
  target=$(maildir "$1" "$2")
  [ -d "$target/new" ] || die "no maildir for $1"
  find "$target/cur" "$target/new" -maxdepth 1 -type f | sort
}

dispatch "$@"
