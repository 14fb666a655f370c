#!/usr/bin/env bash
# install-deps.sh [build|test|interop|runtime] — installs the Debian 12 packages popgate needs,
# and only those missing (dpkg -s). Used by tests/run.sh (interop), deploy/demo.sh (test), bench/
# and the Dockerfile.
#   build    compiler, cmake, ninja, Poco, libpq (the PostgreSQL ledger), yaml-cpp, Boost.Test,
#            OpenSSL headers
#   test     build + Dovecot (imapd, pop3d) and openssl for the sandbox, systemd for
#            systemd-analyze (the unit check), PostgreSQL 15 (the sandbox for ledger tests),
#            kubectl and Node.js with the npm packages of tests/kubernetes (the manifest
#            checks: npm ci from its package-lock.json), headless Chromium with its WebDriver
#            and python3-selenium (the status page's browser test), prometheus for promtool
#            (the alert rules' checks) (the default)
#   interop  test + what the interop tests (tests/interop, docs/servers.md) run on the host: GNU
#            mailutils' pop3d and imap4d, Twisted's POP3 server (python3-twisted), and mmdebstrap,
#            which builds the Debian roots of Cyrus, Courier and popa3d (deploy/sandbox/test-root.sh)
#   runtime  the shared libraries and CA certificates a built popgate needs
set -euo pipefail
set_name=${1:-test}
build_pkgs="g++ cmake ninja-build pkg-config libpoco-dev libpq-dev libyaml-cpp-dev libboost-test-dev libssl-dev"
test_pkgs="$build_pkgs ca-certificates dovecot-imapd dovecot-pop3d openssl python3 procps iproute2 systemd time"
case "$set_name" in
  build) pkgs="$build_pkgs ca-certificates" ;;
  test|interop)
        pkgs="$test_pkgs postgresql-15 chromium chromium-driver python3-selenium prometheus"
        [ "$set_name" = interop ] && pkgs="$pkgs mailutils-imap4d mailutils-pop3d python3-twisted mmdebstrap"
        # A kubectl from another repository (with a newer kustomize) counts; else Debian's.
        command -v kubectl >/dev/null || pkgs="$pkgs kubernetes-client"
        # Node.js and npm may come as one package from elsewhere; else Debian's two.
        command -v node >/dev/null || pkgs="$pkgs nodejs"
        command -v npm >/dev/null || pkgs="$pkgs npm" ;;
  runtime) pkgs="ca-certificates libpocofoundation80 libpoconet80 libpoconetssl80 libpococrypto80
                 libpocoutil80 libpocojson80 libpocodata80 libpocodatasqlite80
                 libpocodatapostgresql80 libyaml-cpp0.7 libssl3 libstdc++6" ;;
  *) echo "usage: install-deps.sh [build|test|interop|runtime]" >&2; exit 2 ;;
esac

# The manifest checks' npm packages (tests/kubernetes), pinned by its package-lock.json; installed
# once here, so the test itself fetches nothing.
npm_packages() {
  [ "$set_name" = test ] || [ "$set_name" = interop ] || return 0
  local dir
  dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/kubernetes" 2>/dev/null && pwd) || return 0
  [ -f "$dir/package-lock.json" ] || return 0
  [ -d "$dir/node_modules/kubernetes-models" ] && return 0
  echo "install-deps: npm ci in $dir" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}

missing=()
for p in $pkgs; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then npm_packages; exit 0; fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Package scripts must not start the system Dovecot on the standard ports (the sandbox uses its own).
policy_added=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
  "${sudo[@]}" chmod 755 /usr/sbin/policy-rc.d
  policy_added=1
fi
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
[ "$policy_added" = 1 ] && "${sudo[@]}" rm -f /usr/sbin/policy-rc.d
npm_packages
exit 0
