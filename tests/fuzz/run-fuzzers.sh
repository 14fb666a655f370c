#!/usr/bin/env bash
# Builds the libFuzzer targets with clang into build-fuzz and runs each one, one after the
# other, for SECONDS (default 600), then merges what it found into tests/fuzz/corpus/<target>/
# (only inputs that add coverage are kept, so the committed corpus stays small).
#   tests/fuzz/run-fuzzers.sh [SECONDS [TARGET...]]      e.g.  run-fuzzers.sh 60 config_fuzz
# Environment: BUILD_DIR (default <repo>/build-fuzz), JOBS (build parallelism, default 2),
# MERGE=0 to leave the corpus alone, FUZZ_FLAGS for more libFuzzer flags (e.g. "-fork=1
# -ignore_crashes=1" to keep going past a known finding). Runs niced, with -timeout=10 -rss_limit_mb=2048 and
# -max_len 4096 (8192 for config_fuzz). A crash, timeout or leak leaves its input in
# BUILD_DIR/fuzz-artifacts/<target>/ and makes the script exit 1 after the other targets ran;
# minimise it (see README.md) and keep it in tests/fuzz/crashes/<target>/ as a regression input.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${BUILD_DIR:-$root/build-fuzz}"
seconds="${1:-600}"
shift || true
all_targets=(pop3_reply_fuzz dot_unstuffer_fuzz imap_response_fuzz imap_command_fuzz
             pop3_listing_fuzz oauth_codec_fuzz config_fuzz)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=("${all_targets[@]}"); fi

CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DPOPGATE_FUZZ=ON -DPOPGATE_TESTS=ON >/dev/null
cmake --build "$build" -j "${JOBS:-2}" --target "${targets[@]/#/fuzz_}"

status=0
for target in "${targets[@]}"; do
  binary="$build/tests/fuzz/fuzz_$target"
  corpus="$here/corpus/$target"
  work="$build/fuzz-work/$target"
  artifacts="$build/fuzz-artifacts/$target"
  log="$build/fuzz-logs/$target.log"
  max_len=4096
  if [ "$target" = config_fuzz ]; then max_len=8192; fi
  mkdir -p "$corpus" "$work" "$artifacts" "$(dirname "$log")"
  options=(-max_len="$max_len" -timeout=10 -rss_limit_mb=2048)
  read -r -a extra <<<"${FUZZ_FLAGS:-}"

  echo "== $target: ${seconds}s, log $log"
  started=$(date +%s)
  if ! nice -n 19 "$binary" "${options[@]}" ${extra[@]+"${extra[@]}"} -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="$artifacts/" "$work" "$corpus" </dev/null >"$log" 2>&1; then
    echo "!! $target stopped on a finding; see $log and $artifacts/"
    status=1
  fi
  elapsed=$(($(date +%s) - started))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1 || true)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1 || true)
  echo "   ${runs:-?} runs in ${elapsed}s, ${cov:-no coverage line}"

  if [ "${MERGE:-1}" != 0 ]; then
    nice -n 19 "$binary" "${options[@]}" -merge=1 "$corpus" "$work" </dev/null \
      >"$log.merge" 2>&1
    echo "   corpus: $(find "$corpus" -type f | wc -l) files, $(du -sh "$corpus" | cut -f1)"
  fi
done
exit "$status"
