#!/usr/bin/env bash
# tests/run.sh — the one test command (README, .ci/run). On a fresh Debian 12 machine, as root or
# as a user with sudo: installs the packages that are missing, builds popgate and its tests with
# warnings as errors, runs every ctest test (labels unit, component, integration, interop, plus the
# fuzz corpus replay) and ends with ctest's summary. The exit status is ctest's.
#
#   tests/run.sh [CTEST_ARGS...]   build/ (or $BUILD_DIR), every test; extra arguments go to ctest,
#                                  e.g. tests/run.sh -L integration, tests/run.sh -R dovecot
#   SANITIZE=1 tests/run.sh        build-asan/ (or $BUILD_DIR) with AddressSanitizer and UBSan
#                                  (-DPOPGATE_SANITIZE=ON); runs the unit and component tests
#   SANITIZE=thread tests/run.sh   build-tsan/ (or $BUILD_DIR) with ThreadSanitizer
#                                  (-DPOPGATE_TSAN=ON); runs the unit and component tests, with
#                                  tests/tsan.supp for reports inside uninstrumented libraries
#
# Integration tests start their own Dovecot instances (deploy/sandbox/dovecot-sandbox.sh) on
# 127.0.0.1, ports 20110..31995, as the unprivileged user popgate-sandbox when run as root. They
# never use a system Dovecot, so one that the package may have started on 110/143/993/995 is left
# alone. Interop tests (tests/interop, docs/servers.md) start GNU mailutils and Twisted on the host
# and Cyrus, Courier and popa3d in Debian roots that deploy/sandbox/test-root.sh builds once (a few
# minutes, needs root and the Debian archive; cached in /var/cache/popgate-test-roots or
# $POPGATE_TEST_ROOTS); where they cannot run they are reported as skipped, with the reason.
# Useful variables: CTEST_PARALLEL_LEVEL (ctest -j), TEST_TIMEOUT (seconds allowed a test
# that sets no timeout of its own; default 900), POPGATE_KEEP_TEMP=1 (keep the tests' temporary
# directories, Dovecot's included, for a look after a failure).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

say() { printf '\n== %s\n' "$*"; }

sanitize=${SANITIZE:-0}
if [ "$sanitize" = 1 ]; then
  build_dir=${BUILD_DIR:-$root/build-asan}
  cmake_args=(-DPOPGATE_SANITIZE=ON)
  ctest_filter=(-L 'unit|component')
  # Only what this leg runs: the binary and the unit and component tests.
  export POPGATE_TARGETS='^(popgate|unit_[a-z0-9_]+|component_[a-z0-9_]+)$'
  # Fail on the first sanitizer report, with a stack trace; leaks count as failures.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
elif [ "$sanitize" = thread ]; then
  build_dir=${BUILD_DIR:-$root/build-tsan}
  cmake_args=(-DPOPGATE_TSAN=ON)
  ctest_filter=(-L 'unit|component')
  # The unit and component tests only: they run in-process, where TSan sees every thread.
  export POPGATE_TARGETS='^(unit_[a-z0-9_]+|component_[a-z0-9_]+)$'
  # A race fails the test at once (exit 66), with both stacks.
  export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$root/tests/tsan.supp}
elif [ "$sanitize" != 0 ]; then
  echo "tests/run.sh: SANITIZE must be 1 (ASan + UBSan) or thread (TSan), not '$sanitize'" >&2
  exit 2
else
  build_dir=${BUILD_DIR:-$root/build}
  cmake_args=()
  ctest_filter=()
fi

# 1. Packages: compiler, CMake, Ninja, Poco, yaml-cpp, Boost.Test, Dovecot (imapd, pop3d) for the
#    sandbox, OpenSSL, CA certificates, Python 3 — each installed only when `dpkg -s` lacks it.
#    install-deps.sh uses sudo when not root, and keeps the packages from starting the system
#    Dovecot on the standard ports.
say "Packages"
bash "$root/deploy/install-deps.sh" interop
echo "ok"

# 2. Configure (RelWithDebInfo, -DPOPGATE_WERROR=ON) and build with every core.
say "Building in $build_dir${cmake_args[*]:+ (${cmake_args[*]})}"
bash "$root/deploy/build.sh" "$build_dir" "${cmake_args[@]}"

# 3. Test. ctest's summary is the last thing printed; its exit status is ours.
say "Testing${ctest_filter[*]:+ (${ctest_filter[*]})}"
exec ctest --test-dir "$build_dir" --output-on-failure --timeout "${TEST_TIMEOUT:-900}" \
  "${ctest_filter[@]}" "$@"
