#!/usr/bin/env bash
# build.sh [BUILD_DIR] [extra cmake args...] — configures and builds popgate (Release with debug
# info, warnings as errors) into BUILD_DIR (default: build/ at the repository root). The same steps
# run in tests/run.sh, deploy/demo.sh and the Dockerfile's build stage.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${1:-$root/build}
shift || true
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOPGATE_WERROR=ON "$@" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
