#!/usr/bin/env bash
# idle_polls.sh — the cost of polling thousands of idle POP3S accounts (issue 15), one command; a
# script, never a timed test. Installs what is missing (deploy/install-deps.sh test, fetchmail),
# builds popgate into build-bench/ (deploy/build.sh, only the binary), then runs
# bench/idle_polls.py (read its header for what is measured and how). About 20 minutes with the
# defaults.
#
#   bench/idle_polls.sh [--accounts 1000,5000] [--interval 60] [--measure 120] [--json FILE]
#                        [--modes resumed,full] [--compare OLD_POPGATE]   (idle_polls.py says more)
#
# Work files in /tmp/popgate-idle (BENCH_WORK=DIR: DIR/popgate-idle); sandbox mail in
# /dev/shm/popgate-idle. Everything it starts is stopped on exit.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${BENCH_WORK:-/tmp}/popgate-idle
sandboxes=/dev/shm/popgate-idle

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -f "$sandboxes/idle/dovecot.conf" ] && "$root/deploy/sandbox/dovecot-sandbox.sh" stop "$sandboxes/idle" 2>/dev/null || true
  rm -rf "$sandboxes"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$root/deploy/install-deps.sh" test
if ! dpkg -s fetchmail >/dev/null 2>&1; then
  sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends fetchmail >/dev/null
fi
build_dir=$root/build-bench
POPGATE_TARGETS='^popgate$' "$root/deploy/build.sh" "$build_dir" >"$work.build.log" 2>&1 ||
  { tail -n 30 "$work.build.log" >&2; exit 1; }
rm -rf "$work" "$sandboxes"
mkdir -p "$work" "$sandboxes"
python3 "$root/bench/idle_polls.py" --popgate "$build_dir/popgate" --work "$work" \
  --sandboxes "$sandboxes" "$@"
