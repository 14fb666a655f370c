#!/usr/bin/env bash
# systemd-unit-test.sh POPGATE_BINARY — checks deploy/systemd/popgate.service offline:
# `systemd-analyze verify` finds nothing wrong (with ExecStart pointed at the built binary), and
# `systemd-analyze security --offline=true` rates its exposure below 2.0, at the figure that
# docs/deployment.md records. Prints "SKIPPED: ..." and exits 0 without systemd-analyze.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
binary=$(realpath "${1:?usage: systemd-unit-test.sh POPGATE_BINARY}")
command -v systemd-analyze >/dev/null || { echo "SKIPPED: systemd-analyze is not installed"; exit 0; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s|/usr/local/bin/popgate|$binary|g" "$root/deploy/systemd/popgate.service" >"$work/popgate.service"

status=0
if ! systemd-analyze verify "$work/popgate.service" >"$work/verify.log" 2>&1 || [ -s "$work/verify.log" ]; then
  echo "FAIL: systemd-analyze verify complains:"; sed 's/^/   | /' "$work/verify.log"; status=1
fi

systemd-analyze security --offline=true --no-pager "$work/popgate.service" >"$work/security.log" 2>&1 || true
score=$(sed -n 's/.*Overall exposure level for popgate.service: \([0-9.]*\).*/\1/p' "$work/security.log")
if [ -z "$score" ]; then
  echo "FAIL: no exposure level in the output of systemd-analyze security:"
  sed 's/^/   | /' "$work/security.log"; exit 1
fi
echo "exposure level $score ($(systemd-analyze --version | head -n 1))"
if ! awk -v s="$score" 'BEGIN { exit !(s < 2.0) }'; then
  echo "FAIL: exposure level $score is not below 2.0"; grep '✗' "$work/security.log" || true; status=1
fi
if ! grep -q "exposure level $score\b" "$root/docs/deployment.md"; then
  echo "FAIL: docs/deployment.md does not record the exposure level $score"; status=1
fi
[ "$status" = 0 ] && echo "PASS: unit verified, exposure level $score < 2.0"
exit "$status"
