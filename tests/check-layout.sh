#!/usr/bin/env bash
# tests/check-layout.sh — the tree's dependency rules, checked (ctest: unit.layout):
#   gateway/app ──► gateway/admin ──► gateway/service ──► gateway/delivery ──► connectors, config
#   connectors/codec is pure: no sockets, no Poco, nothing of the clients;
#   connectors and config know nothing of gateway; config knows nothing of connectors' clients;
#   nothing in the repository refers to files outside it.
# Prints every include that breaks a rule and exits 1; exit 0 when the tree keeps them all.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
status=0

# forbid DIR REGEX WHY: no C++ file under DIR may include a path matching REGEX.
forbid() {
  local dir=$1 pattern=$2 why=$3 hits
  hits=$(grep -rnE --include='*.h' --include='*.cpp' "^#include [\"<]($pattern)" "$dir" || true)
  if [ -n "$hits" ]; then
    printf '%s: %s\n%s\n\n' "$dir" "$why" "$hits"
    status=1
  fi
}

forbid connectors/codec 'Poco/|connectors/(net|imap|pop3)/|gateway/|config/' "codecs are pure: no sockets, no Poco, no clients"
forbid connectors 'gateway/|config/' "connectors know nothing of the configuration or the gateway"
forbid config 'gateway/|connectors/(net|imap|pop3)/' "the configuration layer knows only YAML and plain values"
forbid gateway/delivery 'gateway/(service|admin|app)/' "delivery is the bottom room of gateway/"
forbid gateway/service 'gateway/(admin|app)/' "service may use delivery only"
forbid gateway/admin 'gateway/app/' "admin may use service and delivery only"

# The project stands alone: no file cites design notes that are not in the repository.
outside=$(grep -rnE --exclude-dir=build --exclude-dir=build-asan --exclude-dir=build-tsan \
            --exclude-dir=.git --exclude=check-layout.sh \
            '\.\./shared|CONTRACT\.md|PROTOCOL-NOTES\.md|ARCHITECTURE\.md|OAUTH-NOTES\.md|SERVERS-NOTES\.md' . || true)
if [ -n "$outside" ]; then
  printf 'files refer to notes outside the repository (cite docs/ instead):\n%s\n' "$outside"
  status=1
fi

[ "$status" = 0 ] && echo "layout: every dependency points the allowed way"
exit "$status"
