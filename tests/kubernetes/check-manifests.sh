#!/usr/bin/env bash
# check-manifests.sh — ctest deploy.kubernetes: renders deploy/kubernetes (the base and every
# overlay) with `kubectl kustomize`, validates each rendered object against the Kubernetes API
# schemas (validate.mjs: the npm package kubernetes-models, installed here by
# deploy/install-deps.sh test; nothing is fetched now), and checks the base's promises (expect.mjs).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
command -v kubectl >/dev/null || { echo "FAIL: kubectl missing (deploy/install-deps.sh test installs it)"; exit 1; }
[ -d "$here/node_modules/kubernetes-models" ] ||
  { echo "FAIL: $here/node_modules missing (deploy/install-deps.sh test installs it)"; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0
cd "$root/deploy/kubernetes"
for dir in base overlays/*/; do
  dir=${dir%/}
  name=${dir//\//-}
  # kustomize warns on stderr about fields newer versions deprecate (kept for older kubectl).
  if ! kubectl kustomize "$root/deploy/kubernetes/$dir" >"$out/$name.yaml" 2>"$out/$name.err"; then
    echo "FAIL kubectl kustomize deploy/kubernetes/$dir:"; cat "$out/$name.err"; status=1; continue
  fi
  (cd "$here" && node validate.mjs "$out/$name.yaml") || status=1
done
(cd "$here" && node expect.mjs "$out/base.yaml") || status=1
exit "$status"
