#!/usr/bin/env bash
# demo.sh — see popgate work in a minute, on a fresh Debian 12 machine.
# Installs what is missing, builds, starts a sandbox Dovecot on 127.0.0.1 (ports 24110, 24143,
# 24993, 24995) with a "work" and an "isp" POP account holding sample mail and a central mailbox
# "me", then runs the daemon (`popgate run --config deploy/demo.yaml`, admin endpoint on
# 127.0.0.1:24080), shows the mail arriving in a folder per account and the status URL with its
# token, and keeps running until Ctrl-C, which stops everything. Everything lives in
# /tmp/popgate-demo; run it again to start over.
#   deploy/demo.sh          the daemon, until Ctrl-C
#   deploy/demo.sh --once   one `popgate once` pass instead, then stop (for scripts)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
demo=/tmp/popgate-demo
sandbox="$root/deploy/sandbox/dovecot-sandbox.sh"
config="$root/deploy/demo.yaml"
mode=${1:-run}

say() { printf '\n== %s\n' "$*"; }
daemon_pid=
cleanup() {
  [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
  "$sandbox" stop "$demo/dovecot" 2>/dev/null || true
}
trap cleanup EXIT
trap 'echo; say "Ctrl-C: stopping popgate and the sandbox"; exit 0' INT TERM

# http GET PATH: the body of http://127.0.0.1:24080PATH with the demo token (no curl needed).
http() {
  python3 - "$1" "$(cat "$demo/secrets/admin-token")" <<'PY'
import sys, urllib.request
req = urllib.request.Request("http://127.0.0.1:24080" + sys.argv[1],
                             headers={"Authorization": "Bearer " + sys.argv[2]})
print(urllib.request.urlopen(req, timeout=5).read().decode())
PY
}

show_folders() {
  for folder in Work ISP; do
    out="$demo/arrived/$folder"
    rm -rf "$out"
    mkdir -p "$out"
    "$sandbox" dump "$demo/dovecot" me "$folder" "$out" 2>/dev/null || true
    echo "$folder: $(find "$out" -name '*.eml' | wc -l) messages"
    for m in "$out"/*.eml; do
      [ -e "$m" ] || continue
      printf '   %s\n' "$(grep -a -m1 -i '^Subject:' "$m" | tr -d '\r' | cut -c1-90)"
    done
  done
  echo "isp POP box after delivery (keep: false): $("$sandbox" count "$demo/dovecot" isp INBOX) messages"
}

say "Installing what is missing and building popgate"
bash "$root/deploy/install-deps.sh" test
build_log=/tmp/popgate-demo-build.log
if ! bash "$root/deploy/build.sh" "$root/build" > "$build_log" 2>&1; then
  tail -n 30 "$build_log"
  echo "the build failed (full log: $build_log)"
  exit 1
fi
popgate="$root/build/popgate"

say "Starting a sandbox Dovecot in $demo/dovecot"
"$sandbox" stop "$demo/dovecot" 2>/dev/null || true
rm -rf "$demo"
mkdir -p "$demo/secrets"
"$sandbox" start "$demo/dovecot" 24000 work isp me
for u in work isp me; do printf 'pw-%s\n' "$u" > "$demo/secrets/$u"; done
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$demo/secrets/admin-token"
chmod 600 "$demo/secrets/"*
export DEMO_ISP_PASSWORD=pw-isp

say "Seeding sample mail"
for f in "$root"/tests/data/messages/*.eml; do
  "$sandbox" seed "$demo/dovecot" work "$f"
  case "$(basename "$f")" in 03-*|04-*|05-*|07-*) "$sandbox" seed "$demo/dovecot" isp "$f" ;; esac
done
echo "work: $("$sandbox" count "$demo/dovecot" work INBOX) messages, isp: $("$sandbox" count "$demo/dovecot" isp INBOX) messages"

say "popgate check --config deploy/demo.yaml"
"$popgate" check --config "$config"

if [ "$mode" = --once ]; then
  say "popgate once --config deploy/demo.yaml"
  "$popgate" once --config "$config"
  say "What arrived in the central mailbox of \"me\""
  show_folders
  say "A second pass delivers nothing twice"
  "$popgate" once --config "$config"
  exit 0
fi

say "popgate run --config deploy/demo.yaml"
"$popgate" run --config "$config" > "$demo/popgate.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 100); do
  [ "$("$sandbox" count "$demo/dovecot" isp INBOX 2>/dev/null || echo 1)" = 0 ] &&
    [ "$("$sandbox" count "$demo/dovecot" me Work 2>/dev/null || echo 0)" -ge 8 ] && break
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$demo/popgate.log"; echo "popgate stopped"; exit 1; }
  sleep 0.2
done
sed 's/^/   /' "$demo/popgate.log"

say "What arrived in the central mailbox of \"me\""
show_folders

say "Status"
cat <<MSG
   status:  http://127.0.0.1:24080/status    (token: $(cat "$demo/secrets/admin-token"))
   metrics: http://127.0.0.1:24080/metrics   health: http://127.0.0.1:24080/healthz (no token)
   poll now: curl -X POST -H "Authorization: Bearer \$(cat $demo/secrets/admin-token)" \\
               http://127.0.0.1:24080/accounts/work/poll
MSG
http /status | python3 -m json.tool | head -40 | sed 's/^/   /'

say "popgate keeps polling every minute (log: $demo/popgate.log). Ctrl-C stops everything."
tail -n 0 -f "$demo/popgate.log" &
tail_pid=$!
wait "$daemon_pid" || true
kill "$tail_pid" 2>/dev/null || true
