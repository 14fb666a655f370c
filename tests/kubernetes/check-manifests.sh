#!/usr/bin/env bash
# check-manifests.sh [POPGATE] — ctest deploy.kubernetes: renders deploy/kubernetes (the base and every
# overlay) with `kubectl kustomize`, validates each rendered object against the Kubernetes API
# schemas (validate.mjs: the npm package kubernetes-models, installed here by
# deploy/install-deps.sh test; nothing is fetched now), and checks what they promise (expect.mjs):
# one process on SQLite for the base and example-site, three replicas on PostgreSQL for
# replicas-postgres. With POPGATE (the binary), each rendered ConfigMap's config.yaml must pass
# `popgate check`, with its paths under /run/secrets and /var/lib/popgate moved into a scratch
# directory and a stand-in value in each secret file it names.
set -euo pipefail
popgate=${1:-}
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
  [ -n "$popgate" ] || continue
  scratch="$out/$name.check"
  mkdir -p "$scratch"
  (cd "$here" && node config-of.mjs "$out/$name.yaml") |
    sed -e "s#/run/secrets/#$scratch/secrets/#g" -e "s#/var/lib/popgate/#$scratch/volume/#g" >"$scratch/config.yaml"
  for secret in $(sed -n "s#^ *[a-z_]*_file: \($scratch/secrets/[^ ]*\).*#\1#p" "$scratch/config.yaml" | sort -u); do
    mkdir -p "$(dirname "$secret")"
    echo "stand-in-secret-$RANDOM$RANDOM$RANDOM" >"$secret"
    chmod 600 "$secret"
  done
  if ! "$popgate" check --config "$scratch/config.yaml" >"$scratch/check.out" 2>&1; then
    echo "FAIL deploy/kubernetes/$dir: its config fails popgate check:"; cat "$scratch/check.out"; status=1
  elif grep -q '^database:' "$scratch/config.yaml" && ! grep -q '^  ledger     PostgreSQL ' "$scratch/check.out"; then
    echo "FAIL deploy/kubernetes/$dir: popgate check does not see the PostgreSQL ledger:"; cat "$scratch/check.out"; status=1
  else
    echo "ok   deploy/kubernetes/$dir: its config passes popgate check"
  fi
done
(cd "$here" && node expect.mjs single "$out/base.yaml" "$out/overlays-example-site.yaml") || status=1
(cd "$here" && node expect.mjs replicas "$out/overlays-replicas-postgres.yaml") || status=1
exit "$status"
