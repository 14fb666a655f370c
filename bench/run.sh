#!/usr/bin/env bash
# run.sh — popgate's benchmark (issue 4), one command; a script, never a timed test.
#
#   bench/run.sh [--quick] [--cases a,b,c,d] [--json FILE] [--repeats N] [--disk]
#
# Installs what is missing (deploy/install-deps.sh test, fetchmail, dovecot-lda, GNU time), builds
# popgate into build-bench/ (deploy/build.sh), then runs bench/bench.py, which starts private
# sandbox Dovecots on 127.0.0.1 (ports BENCH_BASEPORT+110/143/993/995 and +1000 for the
# Gmail-like one, proxies at +2110/+2143/+3110/+3143; BENCH_BASEPORT defaults to 41000), seeds
# them, measures popgate, fetchmail + dovecot-lda and the server floor, verifies every popgate run,
# and prints a table (and JSON with --json). Exit status: 0 when every target passes, 1 when one
# is missed or a case failed, 2 on bad usage.
#
#   --quick     small N and one repetition: a smoke run of the whole machinery (a minute or two)
#   --cases     which of a (loopback), b (20 ms RTT), c (Gmail-like at 20 ms), d (memory)
#   --repeats   timings per tool (default 3; the median is reported)
#   --disk      keep the sandbox mail on disk (/tmp) instead of tmpfs (/dev/shm): then every
#               measurement includes Dovecot's fsyncs on a disk shared with other work
#
# Everything it starts is stopped on exit, Ctrl-C or failure (trap below). Work files (configs,
# popgate state, logs) are in /tmp/popgate-bench (BENCH_WORK=DIR: DIR/popgate-bench); sandbox mail in
# /dev/shm/popgate-bench.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_args=()
on_disk=0
while [ $# -gt 0 ]; do
  case $1 in
    --quick) bench_args+=(--quick) ;;
    --cases | --json | --repeats)
      [ $# -ge 2 ] || { echo "run.sh: $1 needs a value" >&2; exit 2; }
      value=$2
      # --json FILE: bench.py runs from the repository root; keep relative paths the caller's.
      if [ "$1" = --json ]; then value=$(realpath -m -- "$2"); fi
      bench_args+=("$1" "$value"); shift ;;
    --disk) on_disk=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

work=${BENCH_WORK:-/tmp}/popgate-bench   # removed and made afresh below: always our own subdirectory
if [ "$on_disk" = 1 ]; then sandboxes=/tmp/popgate-bench-sb; else sandboxes=/dev/shm/popgate-bench; fi
sandbox_sh=$root/deploy/sandbox/dovecot-sandbox.sh

# cleanup: stop the proxy (its pid file) and every sandbox this script may have started. Runs on
# every exit; bench.py stops them too, this catches a bench.py that was killed outright.
cleanup() {
  local rc=$? pid d
  trap - EXIT INT TERM
  if [ -n "${bench_pid:-}" ] && kill -0 "$bench_pid" 2>/dev/null; then
    kill -TERM "$bench_pid" 2>/dev/null || true
    wait "$bench_pid" 2>/dev/null || true
  fi
  if [ -f "$work/latproxy.pid" ]; then
    pid=$(<"$work/latproxy.pid")
    # Only our proxy: the pid must still be a latproxy.py process.
    if [[ $pid =~ ^[0-9]+$ ]] && grep -qa latproxy.py "/proc/$pid/cmdline" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
    fi
    rm -f "$work/latproxy.pid"
  fi
  for d in "$sandboxes"/a "$sandboxes"/g; do
    [ -f "$d/dovecot.conf" ] && "$sandbox_sh" stop "$d" 2>/dev/null || true
  done
  # The sandbox mail lives in memory (tmpfs): give it back. Configs and logs stay in $work.
  rm -rf "$sandboxes"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { printf '== %s\n' "$*" >&2; }

# --- install what is missing ---------------------------------------------------------------
say "installing what is missing"
"$root/deploy/install-deps.sh" test
# fetchmail (the classic baseline) and GNU time (peak RSS); dovecot-lda ships in dovecot-core,
# which dovecot-imapd already depends on.
extra=()
for p in fetchmail time dovecot-core; do
  dpkg -s "$p" >/dev/null 2>&1 || extra+=("$p")
done
if [ ${#extra[@]} -gt 0 ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  say "installing ${extra[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${extra[@]}" >/dev/null
fi
[ -x /usr/lib/dovecot/dovecot-lda ] || { echo "run.sh: /usr/lib/dovecot/dovecot-lda is missing" >&2; exit 1; }

# --- build -----------------------------------------------------------------------------------
build_dir=$root/build-bench
say "building popgate into $build_dir"
mkdir -p "$build_dir"
if ! "$root/deploy/build.sh" "$build_dir" >"$build_dir/bench-build.log" 2>&1; then
  # The full build includes every test; the benchmark needs only the binary. Someone else's
  # unfinished test must not stop a measurement of the product, so try the one target.
  echo "run.sh: full build failed (see $build_dir/bench-build.log); building only the popgate target" >&2
  cmake --build "$build_dir" --target popgate -j "$(nproc)" >>"$build_dir/bench-build.log" 2>&1 || {
    tail -n 30 "$build_dir/bench-build.log" >&2; exit 1; }
fi
popgate=$build_dir/popgate
[ -x "$popgate" ] || { echo "run.sh: no $popgate after the build" >&2; exit 1; }
say "popgate: $("$popgate" --version 2>&1 | head -n 1), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"

# --- measure ---------------------------------------------------------------------------------
# Earlier runs' sandboxes (a killed run) are stopped and their mail removed: every run starts clean.
for d in "$sandboxes"/a "$sandboxes"/g; do
  [ -f "$d/dovecot.conf" ] && "$sandbox_sh" stop "$d" 2>/dev/null || true
done
rm -rf "$work" "$sandboxes"
mkdir -p "$work" "$sandboxes"

python3 "$root/bench/bench.py" --popgate "$popgate" --work "$work" --sandboxes "$sandboxes" \
  "${bench_args[@]}" &
bench_pid=$!
set +e
wait "$bench_pid"
rc=$?
set -e
bench_pid=""
exit "$rc"
