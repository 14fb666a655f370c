#!/usr/bin/env bash
# test-root.sh — Debian bookworm roots for test servers that cannot be installed beside Dovecot
# (Cyrus, Courier and popa3d conflict with its imap-server/pop3-server packages). Each root is
# built once with mmdebstrap from the Debian archive this machine's apt uses, kept as a tarball
# and an unpacked copy, and copied for every server instance, which runs in it with chroot and
# shares the host's network (its servers listen on 127.0.0.1 like any other).
#
#   test-root.sh enter NAME DEST   DEST becomes a fresh, writable root NAME (built first when
#                                  missing): an overlay mount on the cached root (DEST.upper holds
#                                  what changes), or a copy where overlays cannot be mounted
#   test-root.sh leave DEST        unmount DEST (when it is a mount point); the caller removes it
#   test-root.sh build NAME        build root NAME unless the cache has it; print the tarball's path
#   test-root.sh names             the roots there are recipes for, one a line
#
# Recipes: deploy/sandbox/roots/NAME.sh sets `packages` (Debian packages to install) and may define
# `customize ROOT` (run after the installation, as root, on the root's directory). A root is
# cached under a key made of its name and the SHA-256 of its recipe and of this script's build
# steps, so a changed recipe makes a new root and an unchanged one is never built twice.
#
# Environment:
#   POPGATE_TEST_ROOTS=DIR        the cache (default /var/cache/popgate-test-roots; about 700 MB
#                                 for the three roots, tarballs and unpacked copies)
#   POPGATE_DEBIAN_MIRROR=URL     the Debian archive (default: the one this machine's apt uses)
#
# Exit status: 0 done; 77 the root cannot be had here (not root, no mmdebstrap, the archive
# unreachable), with "SKIPPED: reason" on stderr; 1 anything else (a broken recipe: a failure).
set -euo pipefail
me=test-root.sh
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=sandbox-lib.sh
. "$script_dir/sandbox-lib.sh"

cache=${POPGATE_TEST_ROOTS:-/var/cache/popgate-test-roots}
# Bump when the build steps below change in a way that changes the roots.
builder_version=1

usage() {
  sed -n '/^#   test-root.sh/p' "$0" | sed 's/^# *//' >&2
  exit 2
}

# recipe NAME: the recipe file of root NAME.
recipe() {
  [[ $1 =~ ^[a-z0-9-]+$ ]] || die "bad root name: '$1'"
  local f=$script_dir/roots/$1.sh
  [ -f "$f" ] || die "no recipe for root '$1' ($f)"
  echo "$f"
}

# key NAME: NAME-<first 16 hex digits of the SHA-256 of the recipe and the build steps>.
key() {
  local f hash
  f=$(recipe "$1")
  hash=$({ echo "builder $builder_version"; cat "$f"; sed -n '/^# build steps/,/^# end of build steps/p' "$0"; } |
    sha256sum | cut -c1-16)
  echo "$1-$hash"
}

# probe_archive URL: true when a TCP connection to the archive's host opens within 10 s.
probe_archive() {
  local url=$1 scheme host port
  scheme=${url%%://*}
  host=${url#*://}
  host=${host%%/*}
  port=80
  [ "$scheme" = https ] && port=443
  if [[ $host == *:* ]]; then port=${host##*:}; host=${host%:*}; fi
  timeout 10 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null
}

# build steps (part of every root's key)
# build_tarball NAME TARBALL: mmdebstrap a minbase bookworm with the recipe's packages into TARBALL.
build_tarball() {
  local name=$1 out=$2 f mirror security work log
  f=$(recipe "$name")
  local packages=()
  # shellcheck disable=SC1090
  . "$f"
  [ ${#packages[@]} -gt 0 ] || die "recipe $f sets no packages"
  mirror=${POPGATE_DEBIAN_MIRROR:-$(host_mirror | head -n 1)}
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
  security=$(host_archive bookworm-security | head -n 1)
  [ -n "$security" ] || security=${mirror%/debian}/debian-security
  probe_archive "$mirror" || skip "root $name: the Debian archive $mirror cannot be reached from here"

  work=$(mktemp -d "${TMPDIR:-/tmp}/popgate-root.XXXXXX")
  log=$cache/$name.build.log
  # Updates and security updates too: the roots get the package versions the host gets.
  cat >"$work/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  local hooks=()
  if declare -F customize >/dev/null; then
    # mmdebstrap runs the hook with the root's directory as $1.
    { declare -f customize; echo 'customize "$1"'; } >"$work/customize.sh"
    hooks=(--customize-hook="bash $work/customize.sh \"\$1\"")
  fi
  # Downloaded packages are kept for the next root (they share the base system's packages).
  local debs=$cache/debs
  mkdir -p "$debs"
  hooks+=(--skip=essential/unlink
          --setup-hook='mkdir -p "$1"/var/cache/apt/archives/'
          --setup-hook="sync-in $debs /var/cache/apt/archives/"
          --customize-hook="sync-out /var/cache/apt/archives $debs")
  # The root is put together in memory when there is room: dpkg's many small writes take five
  # times as long on a virtual disk.
  local tmp=${TMPDIR:-/tmp}
  if [ -d /dev/shm ] && [ -w /dev/shm ] &&
    [ "$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')" -gt $((2 * 1024 * 1024)) ]; then
    tmp=/dev/shm
  fi
  echo "$me: building root $name (${packages[*]}) from $mirror" >&2
  local started=$SECONDS
  # Services must not start inside the root while it is built: mmdebstrap installs a policy-rc.d
  # for the duration of the build. Documentation, manual pages and translations are left out.
  if ! TMPDIR=$tmp mmdebstrap --variant=minbase --mode=root --format=tar \
      --include="$(IFS=,; echo "${packages[*]}")" --dpkgopt=force-unsafe-io \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-exclude=/usr/share/info/*' \
      "${hooks[@]}" bookworm "$out.tmp" "$work/debian.sources" >"$log" 2>&1; then
    rm -rf "$work" "$out.tmp"
    tail -n 20 "$log" >&2
    if grep -qE 'Could not resolve|Failed to fetch|Temporary failure|Unable to connect|Connection (refused|timed out)|Network is unreachable' "$log"; then
      skip "root $name: the Debian archive $mirror did not answer (see $log)"
    fi
    die "building root $name failed (log: $log)"
  fi
  rm -rf "$work"
  mv -f "$out.tmp" "$out"
  echo "$me: root $name built in $((SECONDS - started)) s: $out ($(du -h "$out" | cut -f1))" >&2
}
# end of build steps

# ensure_built NAME: the tarball and the unpacked copy of root NAME exist; prints the unpacked
# directory. Concurrent callers wait for the one that builds.
ensure_built() {
  local name=$1 k dir
  [ "$(id -u)" -eq 0 ] || skip "root $name: building and entering Debian roots needs root (chroot)"
  command -v mmdebstrap >/dev/null || skip "root $name: mmdebstrap is not installed (deploy/install-deps.sh interop)"
  k=$(key "$name")
  dir=$cache/$k
  mkdir -p "$cache"
  if [ ! -f "$dir/.complete" ]; then
    exec 8>"$cache/$name.lock"
    flock -w 1800 8 || die "root $name: another build holds $cache/$name.lock for 30 minutes"
    if [ ! -f "$dir/.complete" ]; then
      [ -s "$cache/$k.tar" ] || build_tarball "$name" "$cache/$k.tar"
      rm -rf "$dir.tmp"
      mkdir -p "$dir.tmp"
      tar -C "$dir.tmp" -xf "$cache/$k.tar"
      touch "$dir.tmp/.complete"
      rm -rf "$dir"
      mv "$dir.tmp" "$dir"
      # Older builds of this root (another recipe) are of no use any more.
      local old
      for old in "$cache/$name"-*; do
        case $old in "$dir" | "$cache/$k.tar" | *.lock | *.log) ;; *) rm -rf "$old" ;; esac
      done
    fi
    exec 8>&-
  fi
  echo "$dir"
}

cmd_enter() {
  [ $# -eq 2 ] || usage
  local base dest
  base=$(ensure_built "$1")
  dest=$(realpath -m -- "$2")
  if mountpoint -q "$dest" 2>/dev/null; then die "$dest is mounted already"; fi
  [ ! -e "$dest" ] || [ -z "$(ls -A "$dest")" ] || die "$dest exists and is not empty"
  mkdir -p "$dest" "$dest.upper" "$dest.work"
  # An overlay costs nothing to set up; a copy of a 150-230 MB root takes seconds.
  if mount -t overlay "popgate-root-$1" \
      -o "lowerdir=$base,upperdir=$dest.upper,workdir=$dest.work" "$dest" 2>/dev/null; then
    return 0
  fi
  rm -rf "$dest" "$dest.upper" "$dest.work"
  cp -a "$base" "$dest"
  rm -f "$dest/.complete"
}

cmd_leave() {
  [ $# -eq 1 ] || usage
  local dest i
  dest=$(realpath -m -- "$1")
  for ((i = 0; i < 50; i++)); do
    mountpoint -q "$dest" 2>/dev/null || return 0
    umount "$dest" 2>/dev/null && return 0
    sleep 0.1   # a process that was just killed may still hold a file open in it
  done
  die "cannot unmount $dest"
}

cmd_build() {
  [ $# -eq 1 ] || usage
  ensure_built "$1" >/dev/null
  echo "$cache/$(key "$1").tar"
}

cmd_names() {
  local f
  for f in "$script_dir"/roots/*.sh; do
    f=${f##*/}
    echo "${f%.sh}"
  done
}

[ $# -ge 1 ] || usage
command=$1
shift
case $command in
  enter) cmd_enter "$@" ;;
  leave) cmd_leave "$@" ;;
  build) cmd_build "$@" ;;
  names) cmd_names "$@" ;;
  *) usage ;;
esac
