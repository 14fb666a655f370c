#!/usr/bin/env bash
# courier-sandbox.sh — Courier IMAP and POP3 5 (with courier-authdaemon) on 127.0.0.1 for the
# interop tests, in a Debian root of its own (deploy/sandbox/test-root.sh; Courier conflicts with
# Dovecot's packages), entered with chroot: it shares the host's network. Needs root.
#
#   courier-sandbox.sh start DIR BASEPORT USER...       mount the root on DIR/root, start Courier
#   courier-sandbox.sh stop  DIR                        stop it and unmount the root
#   courier-sandbox.sh seed  DIR USER FOLDER FILE...    deliver each FILE into FOLDER's maildir
#   courier-sandbox.sh count DIR USER FOLDER            print the number of messages in FOLDER
#   courier-sandbox.sh dump  DIR USER FOLDER OUTDIR     write the stored messages as OUTDIR/NNNNNN.eml
#   courier-sandbox.sh env   DIR                        print POP3_PORT IMAP_PORT LOGIN_SUFFIX ...
#
# Ports: pop3 BASEPORT+110, imap BASEPORT+143, plaintext; the rest of Courier's configuration is
# Debian's (/etc/courier/imapd, pop3d: ADDRESS and PORT set here). Users are accounts of the root
# (useradd, chpasswd; Courier authenticates them through PAM) logging in as USER with the password
# "pw-USER"; their mail is ~/Maildir. Folders as Courier names them: INBOX, INBOX.Work (personal
# namespace "INBOX.", delimiter "."); INBOX.Work is the maildir++ folder ~/Maildir/.Work.
#
# What Courier does with messages (checked; docs/servers.md has the whole list): its maildir files
# hold LF line ends. APPEND stores the message with every CR taken out (a CR inside a line too)
# and takes NUL bytes and bare LF as they are; IMAP and POP3 serve CRLF again. `seed` writes the
# files as a delivery would (CRLF turned into LF). `dump` writes them in UID order (Courier's
# courierimapuiddb; files IMAP has not seen yet follow in name order).
set -euo pipefail
me=courier-sandbox.sh
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=sandbox-lib.sh
. "$script_dir/sandbox-lib.sh"
services="pop3 imap"

# set_option FILE NAME VALUE: NAME=VALUE in one of Courier's shell-style configuration files.
set_option() {
  sed -i "s|^$2=.*|$2=$3|" "$root$1"
  grep -q "^$2=$3\$" "$root$1" || die "could not set $2 in $1"
}

start_servers() {
  local u
  enter_root courier /usr/lib/courier/imapd
  set_option /etc/courier/imapd ADDRESS 127.0.0.1
  set_option /etc/courier/imapd PORT "$imap"
  set_option /etc/courier/pop3d ADDRESS 127.0.0.1
  set_option /etc/courier/pop3d PORT "$pop3"
  # What systemd-tmpfiles makes on a booted system (usr/lib/tmpfiles.d/courier-*.conf).
  in_root sh -c 'mkdir -p /run/courier/authdaemon &&
                 chown root:courier /run/courier && chmod 0775 /run/courier &&
                 chown courier:courier /run/courier/authdaemon && chmod 0750 /run/courier/authdaemon'
  for u in "${users[@]}"; do
    if ! in_root getent passwd "$u" >/dev/null; then
      in_root useradd --create-home --shell /bin/false "$u"
    fi
    printf '%s:pw-%s\n' "$u" "$u" | in_root chpasswd
    [ -d "$root/home/$u/Maildir" ] || in_root runuser -u "$u" -- maildirmake "/home/$u/Maildir"
  done
  write_settings "$pop3" "$imap" ""
  : >>"$dir/courier.log"
  # Each start script daemonizes (courierlogger, couriertcpd); their logs go to syslog, which the
  # root does not have.
  if ! { in_root /usr/sbin/authdaemond start && in_root /usr/sbin/imapd start &&
         in_root /usr/sbin/pop3d start; } >>"$dir/courier.log" 2>&1 ||
    ! wait_ports "$dir/courier.log" "$pop3" "$imap"; then
    stop_servers
    die "Courier did not start listening on 127.0.0.1:$pop3 and :$imap"
  fi
}

stop_servers() {
  [ -d "$root" ] || return 0
  if [ -x "$root/usr/lib/courier/imapd" ]; then
    in_root /usr/sbin/pop3d stop >/dev/null 2>&1 || true
    in_root /usr/sbin/imapd stop >/dev/null 2>&1 || true
    in_root /usr/sbin/authdaemond stop >/dev/null 2>&1 || true
  fi
  leave_root
}


# maildir USER FOLDER: the maildir of FOLDER inside the root ("INBOX.A.B" is ~/Maildir/.A.B).
maildir() {
  if [ "$2" = INBOX ]; then
    echo "/home/$1/Maildir"
  else
    [[ $2 == INBOX.* ]] || die "Courier's folders are INBOX and INBOX.<name>, not '$2'"
    echo "/home/$1/Maildir/.${2#INBOX.}"
  fi
}

cmd_seed() {
  [ $# -ge 4 ] || usage
  set_paths "$1"
  local user=$2 folder=$3 target f n=0 name stamp
  shift 3
  check_name user "$user"
  [ -f "$settings_file" ] || die "no sandbox in $dir"
  target=$(maildir "$user" "$folder")
  [ -d "$root$target/new" ] || in_root runuser -u "$user" -- maildirmake "$target"
  stamp=$(date +%s)
  for f in "$@"; do
    [ -f "$f" ] || die "no such file: $f"
    n=$((n + 1))
    printf -v name '%s.M%06dP%d.popgate-sandbox' "$stamp" "$n" "$$"
    crlf_to_lf <"$f" >"$root$target/tmp/$name"
    in_root chown "$user:" "$target/tmp/$name"
    mv "$root$target/tmp/$name" "$root$target/new/$name"
  done
}

# list_messages USER FOLDER: the message files of FOLDER, in UID order.
list_messages() {
  local target f name
  target=$root$(maildir "$1" "$2")
  [ -d "$target/cur" ] || die "no folder $2 for $1"
  local -A uid_of=()
  if [ -f "$target/courierimapuiddb" ]; then
    # "1 UIDVALIDITY NEXTUID", then "UID BASENAME" lines.
    while read -r uid name; do uid_of[$name]=$uid; done < <(tail -n +2 "$target/courierimapuiddb")
  fi
  for f in "$target"/cur/* "$target"/new/*; do
    [ -f "$f" ] || continue
    name=${f##*/}
    name=${name%%:*}
    printf '%09d %s\n' "${uid_of[$name]:-999999999}" "$f"
  done | sort | cut -d' ' -f2-
}

dispatch "$@"
