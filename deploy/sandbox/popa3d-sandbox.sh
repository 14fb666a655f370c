#!/usr/bin/env bash
# popa3d-sandbox.sh — popa3d 1.0.3, a POP3 server without CAPA, on 127.0.0.1 for the interop tests,
# in a Debian root of its own (deploy/sandbox/test-root.sh; popa3d conflicts with Dovecot's
# pop3-server), run inetd-style: socat accepts the connections and starts one popa3d per
# connection, both inside the root (chroot; the root shares the host's network). Needs root.
#
#   popa3d-sandbox.sh start DIR BASEPORT USER...       mount the root on DIR/root, start socat
#   popa3d-sandbox.sh stop  DIR                        stop it and unmount the root
#   popa3d-sandbox.sh seed  DIR USER INBOX FILE...     append each FILE to USER's mbox
#   popa3d-sandbox.sh count DIR USER INBOX             print the number of messages in the mbox
#   popa3d-sandbox.sh dump  DIR USER INBOX OUTDIR      write them as OUTDIR/NNNNNN.eml, in order
#   popa3d-sandbox.sh env   DIR                        print POP3_PORT IMAP_PORT(empty) LOGIN_SUFFIX
#
# Port: pop3 BASEPORT+110, plaintext; no IMAP. Users are accounts of the root (useradd, chpasswd:
# popa3d checks /etc/shadow) logging in as USER with the password "pw-USER"; mail is the mbox
# /var/mail/USER, the only folder (INBOX).
#
# What popa3d does (checked; docs/servers.md has the whole list): it answers CAPA with a bare
# "-ERR", greets with "+OK" and no APOP timestamp, and serves each mbox message with CRLF line
# ends, the separator line and the empty line before the next one left out. Its UIDL is a hash
# of some header fields, so different messages can share one. `seed` writes an mbox as a local
# delivery agent does: a "From " line, the message with LF line ends (and one added where the
# last line has none), body lines starting "From " written as ">From " (which popa3d serves as
# they are), an empty line.
set -euo pipefail
me=popa3d-sandbox.sh
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=sandbox-lib.sh
. "$script_dir/sandbox-lib.sh"
services="pop3"

start_servers() {
  local u
  enter_root popa3d /usr/sbin/popa3d
  for u in "${users[@]}"; do
    in_root getent passwd "$u" >/dev/null || in_root useradd --shell /bin/false "$u"
    printf '%s:pw-%s\n' "$u" "$u" | in_root chpasswd
    in_root sh -c "touch /var/mail/$u && chown $u:mail /var/mail/$u && chmod 0660 /var/mail/$u"
  done
  write_settings "$pop3" "" ""
  : >>"$dir/socat.log"
  start_group "$run_dir/socat.pid" "$dir/socat.log" \
    chroot "$root" socat "TCP-LISTEN:$pop3,bind=127.0.0.1,fork,reuseaddr" EXEC:/usr/sbin/popa3d
  if ! wait_ports "$dir/socat.log" "$pop3"; then
    stop_servers
    die "socat did not start listening on 127.0.0.1:$pop3"
  fi
}

stop_servers() {
  stop_group "$run_dir/socat.pid"
  leave_root
}


# mbox USER FOLDER: the mbox inside the root (INBOX is the only folder).
mbox() {
  [ "$2" = INBOX ] || die "popa3d serves INBOX only, not '$2'"
  echo "/var/mail/$1"
}

cmd_seed() {
  [ $# -ge 4 ] || usage
  set_paths "$1"
  local user=$2 box f
  box=$root$(mbox "$user" "$3")
  shift 3
  [ -f "$box" ] || die "no mbox for $user"
  for f in "$@"; do
    [ -f "$f" ] || die "no such file: $f"
    {
      echo "From popgate-sandbox@localhost $(LC_ALL=C date -u '+%a %b %e %H:%M:%S %Y')"
      crlf_to_lf <"$f" | sed 's/^From />From /'
      [ -z "$(tail -c 1 "$f")" ] || echo
      echo
    } >>"$box"
  done
}

# The messages of the mbox, one file each (the lines between separators, the last empty line
# before the next separator left out), written to OUTDIR/NNNNNN.eml.
split_mbox() {
  awk -v out="$2" '
    function flush() { if (n > 0) { printf "%s", body > file; close(file) } }
    /^From / && (NR == 1 || prev == "") { flush(); n++; file = sprintf("%s/%06d.eml", out, n); body = ""; pending = ""; prev = "x"; next }
    { if (pending != "") body = body pending; pending = ""
      if ($0 == "") pending = "\n"; else body = body $0 "\n"
      prev = $0 }
    END { flush() }' "$1"
}

# existing_mbox DIR USER FOLDER: the host path of USER's mbox in the sandbox DIR (which must exist).
# count and dump read the mbox itself (there are no message files to list).
existing_mbox() {
  set_paths "$1"
  local box
  box=$root$(mbox "$2" "$3")
  [ -f "$box" ] || die "no mbox for $2"
  echo "$box"
}

cmd_count() {
  [ $# -eq 3 ] || usage
  local box
  box=$(existing_mbox "$@")
  awk '/^From / && (NR == 1 || prev == "") { n++ } { prev = $0 } END { print n + 0 }' "$box"
}

cmd_dump() {
  [ $# -eq 4 ] || usage
  local box
  box=$(existing_mbox "$1" "$2" "$3")
  mkdir -p "$4"
  split_mbox "$box" "$4"
}

dispatch "$@"
