#!/usr/bin/env bash
# prometheus-rules-test.sh — the monitoring files, checked offline with promtool (Debian's
# prometheus package, installed by deploy/install-deps.sh test):
#  - deploy/prometheus/popgate.rules.yml is valid (promtool check rules) and its alerts fire and
#    stay quiet as deploy/prometheus/popgate.rules.test.yml says (promtool test rules);
#  - every query of deploy/grafana/popgate-dashboard.json is valid JSON and valid PromQL (each is
#    checked as a recording rule of a generated rules file).
# That the metric names exist is checked against a live daemon in tests/integration/status_test.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
command -v promtool >/dev/null || { echo "promtool missing: run deploy/install-deps.sh test" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

promtool check rules "$root/deploy/prometheus/popgate.rules.yml"
(cd "$root/deploy/prometheus" && promtool test rules popgate.rules.test.yml)

python3 - "$root/deploy/grafana/popgate-dashboard.json" "$work/dashboard.rules.yml" <<'PY'
import json, sys
dashboard = json.load(open(sys.argv[1]))
assert dashboard.get("panels"), "the dashboard has no panels"
exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
assert exprs, "the dashboard has no queries"
with open(sys.argv[2], "w") as out:
    out.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, expr in enumerate(exprs):
        out.write(f"      - record: dashboard:query{i}\n        expr: {json.dumps(expr)}\n")
print(f"{len(dashboard['panels'])} panels, {len(exprs)} queries")
PY
promtool check rules "$work/dashboard.rules.yml"
echo "prometheus rules and grafana dashboard OK"
