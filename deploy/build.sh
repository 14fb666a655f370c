#!/usr/bin/env bash
# build.sh [BUILD_DIR] [extra cmake args...] — configures and builds popgate (Release with debug
# info, warnings as errors) into BUILD_DIR (default: build/ at the repository root). The same steps
# run in tests/run.sh, deploy/demo.sh, bench/run.sh and the Dockerfile's build stage.
#   POPGATE_TARGETS=REGEX   build only the targets whose names match (e.g. '^(popgate|unit_.*)$'
#                           for the binary and the unit tests); default: everything
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${1:-$root/build}
shift || true
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOPGATE_WERROR=ON "$@" >/dev/null
targets=()
if [ -n "${POPGATE_TARGETS:-}" ]; then
  # Ninja's own list of targets ("name: rule"), filtered by the pattern.
  mapfile -t targets < <(ninja -C "$build_dir" -t targets all | sed 's/: .*//' |
                         grep -E "$POPGATE_TARGETS" | sort -u)
  [ ${#targets[@]} -gt 0 ] || { echo "build.sh: no target matches $POPGATE_TARGETS" >&2; exit 2; }
  targets=(--target "${targets[@]}")
fi
cmake --build "$build_dir" -j "$(nproc)" "${targets[@]}"
