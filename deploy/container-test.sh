#!/usr/bin/env bash
# container-test.sh — builds the repository's Dockerfile and runs the image for real, without a
# Docker engine: buildah (vfs storage, chroot isolation) builds it on a Debian base image made with
# debootstrap, then the image's popgate, as the image's non-root user, delivers mail from a sandbox
# Dovecot on 127.0.0.1 (chroot isolation shares the host's network).
#
#   deploy/container-test.sh        prints one PASS/FAIL line at the end; exit 0 on PASS (or SKIPPED)
#
# What it checks: the image builds (which runs the unit tests), its configuration (user, entry
# point, command, health check, volume, port), every shared library resolves, `popgate --version`,
# `popgate check` on the test config and on the shipped example config, `popgate run` answering
# /healthz (from the host and via `popgate health` from the image), the admin token, 3 messages
# delivered into the central mailbox, the daemon running as uid 10001 and owning what it wrote, a
# clean stop on SIGTERM, the daemon again on a read-only root file system without /tmp (a 4th
# message delivered), and that no secret shows up in any output.
#
# Needs root (debootstrap, chroot isolation). Installs buildah, debootstrap and (for the sandbox)
# Dovecot when missing. Prints "SKIPPED: ..." and exits 0 when containers cannot work here.
# Environment:
#   POPGATE_CACHE=DIR            reusable cache: base rootfs tarball, buildah storage, compiler
#                                cache (default /var/tmp/popgate-container-cache, about 4 GB); a
#                                second run reuses the base image, the dependency layers and ccache
#   POPGATE_DEBIAN_MIRROR=URL    Debian mirror for debootstrap (default: the archive this machine's
#                                apt uses, from /etc/apt/sources.list{,.d/*})
#   POPGATE_KEEP_WORK=1          keep the temporary directory (logs, state) for a look afterwards

# Functions called through check, fails and the EXIT trap look unreachable to shellcheck.
# shellcheck disable=SC2317
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sandbox=$root/deploy/sandbox/dovecot-sandbox.sh
cache=${POPGATE_CACHE:-/var/tmp/popgate-container-cache}
# host_mirror: the Debian archive this machine's apt uses for bookworm.
# shellcheck source=sandbox/debian-archive.sh
. "$root/deploy/sandbox/debian-archive.sh"
mirror=${POPGATE_DEBIAN_MIRROR:-$(host_mirror | head -n 1)}
base_image=docker.io/library/debian:bookworm-slim
image=localhost/popgate:test
image_uid=10001
started=$(date +%s)

# ---------------------------------------------------------------------------------------------
# Reporting

elapsed() { local s=$(($(date +%s) - started)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
say() { printf '== [%s] %s\n' "$(elapsed)" "$*"; }
skipped=0
skip() {
  skipped=1
  echo "container-test: SKIPPED: $* ($(elapsed))"
  exit 0
}
failures=()
# check WHAT COMMAND...: runs COMMAND, records WHAT as failed when it fails.
check() {
  local what=$1; shift
  if "$@"; then
    echo "   ok: $what"
  else
    echo "   FAILED: $what" >&2
    failures+=("$what")
  fi
}
# fails COMMAND...: true when COMMAND fails.
fails() { ! "$@"; }
# fatal WHAT [LOGFILE]: a step the rest depends on failed; shows the log's tail and stops.
fatal() {
  echo "container-test: $1" >&2
  if [ -n "${2:-}" ] && [ -f "$2" ]; then tail -n 40 "$2" | sed 's/^/   | /' >&2; fi
  failures+=("$1")
  exit 1   # the EXIT trap cleans up and prints the FAIL line
}

# ---------------------------------------------------------------------------------------------
# Prerequisites: root, buildah, debootstrap, Dovecot for the sandbox

[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap and buildah's chroot isolation)"
if [ ! -f /etc/debian_version ] || ! command -v apt-get >/dev/null; then
  skip "needs a Debian-based host (apt-get)"
fi

need=()
command -v buildah >/dev/null || need+=(buildah)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v pgrep >/dev/null || need+=(procps)
if [ ${#need[@]} -gt 0 ]; then
  say "Installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; }; then
    skip "cannot install ${need[*]} with apt-get"
  fi
fi
if ! command -v dovecot >/dev/null || ! command -v doveadm >/dev/null; then
  say "Installing the sandbox's Dovecot (deploy/install-deps.sh test)"
  "$root/deploy/install-deps.sh" test || skip "cannot install Dovecot for the sandbox"
fi

# A private storage for buildah: no clash with another storage driver configured on this machine,
# and nothing here touches other users' containers or images. One run at a time per cache.
mkdir -p "$cache"
exec 9>"$cache/lock"
flock -w 1200 9 || skip "another container-test.sh holds $cache/lock"
runroot=/run/popgate-container-test
B=(buildah --storage-driver vfs --root "$cache/storage" --runroot "$runroot")
# buildah's temporary files and its RUN --mount=type=cache directories (the compiler cache) go
# under TMPDIR: keep them in the cache too.
mkdir -p "$cache/tmp"
export TMPDIR=$cache/tmp

# Everything temporary: short path, the sandbox's DIR must be <= 60 chars of [A-Za-z0-9_./+-].
work=$(mktemp -d /tmp/pgct.XXXXXX)
chmod 0711 "$work"   # the sandbox's unprivileged Dovecot user must traverse it
run_pid=""
daemon_pid=""
ro_pid=""

cleanup() {
  local rc=$?
  set +e
  # The background daemon: stop it by its own pid, then its buildah run.
  [ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2>/dev/null
  [ -n "$ro_pid" ] && kill -KILL "$ro_pid" 2>/dev/null && wait "$ro_pid" 2>/dev/null
  if [ -n "$run_pid" ] && kill -0 "$run_pid" 2>/dev/null; then
    kill -TERM "$run_pid" 2>/dev/null
    wait "$run_pid" 2>/dev/null
  fi
  [ -f "$work/dovecot/dovecot.conf" ] && "$sandbox" stop "$work/dovecot"
  # Our working containers, and those a failed build leaves behind (this storage is ours alone,
  # and the lock keeps other runs out).
  "${B[@]}" rm --all >/dev/null 2>&1
  [ -f "$work/build.log" ] && { prune_images; cp "$work/build.log" "$cache/last-build.log"; }
  if [ "${POPGATE_KEEP_WORK:-0}" = 1 ]; then
    echo "container-test: kept $work"
  else
    rm -rf "$work"
  fi
  [ "$skipped" = 1 ] && exit 0
  if [ "$rc" -eq 0 ] && [ ${#failures[@]} -eq 0 ]; then
    echo "container-test: PASS: $image (${image_size:-?}) built and ran; 3 messages delivered as uid $image_uid, a 4th on a read-only root ($(elapsed))"
    exit 0
  fi
  [ ${#failures[@]} -eq 0 ] && failures+=("unexpected error (exit $rc)")
  echo "container-test: FAIL: $(IFS=';'; echo "${failures[*]}") ($(elapsed))"
  exit 1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# new_container IMAGE: a working container from IMAGE in $container (cleanup removes them all).
new_container() {
  container=$("${B[@]}" from -q --pull-never "$1")
}

# prune_images: vfs stores every layer as a full copy (about 1 GB per build-stage step), so keep
# only the base image and the images of the latest build (its steps are the cache of the next
# one: "--> ID" and "Using cache ID" in build.log) and remove every other image.
prune_images() {
  local keep id k used remove=()
  keep=$(grep -oE -- '--> (Using cache )?[0-9a-f]{11,64}' "$work/build.log" | grep -oE '[0-9a-f]+$')
  for k in "$base_image" "$image"; do
    keep+=" $("${B[@]}" inspect --type image --format '{{.FromImageID}}' "$k" 2>/dev/null)"
  done
  for id in $("${B[@]}" images --all --noheading --no-trunc --format '{{.ID}}' 2>/dev/null); do
    id=${id#sha256:}
    used=0
    for k in $keep; do [[ $id == "$k"* ]] && used=1; done
    [ "$used" = 1 ] || remove+=("$id")
  done
  [ ${#remove[@]} -eq 0 ] && return 0
  # One call removes them all (children before parents); one at a time if that fails.
  "${B[@]}" rmi "${remove[@]}" >/dev/null 2>&1 && return 0
  for id in "${remove[@]}"; do "${B[@]}" rmi "$id" >/dev/null 2>&1; done
  return 0
}

# ---------------------------------------------------------------------------------------------
# The base image: debian:bookworm-slim made from Debian's packages

# Bump base_version when the recipe below changes: an older cached base is then made again.
base_version=slim-1
if [ "$("${B[@]}" inspect --type image --format '{{index .Docker.Config.Labels "popgate.base"}}' \
        "$base_image" 2>/dev/null || true)" != "$base_version" ]; then
  tarball=$cache/debian-bookworm-$base_version.tar
  if [ ! -s "$tarball" ]; then
    say "Making the base image with debootstrap (minbase, $mirror)"
    rootfs=$work/rootfs
    if ! debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
      tail -n 20 "$work/debootstrap.log" >&2
      skip "debootstrap could not make a Debian root file system here (no network or no mount permission?)"
    fi
    # Like the official image: updates and security updates as sources — the archives this
    # machine's apt uses, so the image sees the packages the host sees — no package cache.
    rm -f "$rootfs/etc/apt/sources.list"
    if [ -e /etc/apt/sources.list.d/debian.sources ]; then
      cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/debian.sources"
    else
      printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: %s\n' \
        "$mirror" /usr/share/keyrings/debian-archive-keyring.gpg \
        >"$rootfs/etc/apt/sources.list.d/debian.sources"
    fi
    # Like the official slim variant: no documentation, manual pages or translations, now or
    # from packages installed later (copyright files stay). Only inside $rootfs, never the host.
    [[ $rootfs == /tmp/pgct.*/rootfs && -f $rootfs/etc/debian_version ]] \
      || fatal "unexpected root file system path '$rootfs'"
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'SLIM'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
SLIM
    find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
    for d in man groff info lintian linda locale; do
      if [ -d "$rootfs/usr/share/$d" ]; then find "$rootfs/usr/share/$d" -mindepth 1 -delete; fi
    done
    rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
    tar -C "$rootfs" -cf "$tarball.tmp" . && mv -f "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
    # Tarballs of older recipes.
    find "$cache" -maxdepth 1 -name 'debian-bookworm-*.tar' ! -name "${tarball##*/}" -delete
  fi
  say "Importing the base image as $base_image"
  new_container scratch || skip "buildah cannot create a container here"
  "${B[@]}" add "$container" "$tarball" / >/dev/null
  # The official image's configuration: PATH (exec-form ENTRYPOINT/HEALTHCHECK rely on it), bash.
  "${B[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd bash --label popgate.base="$base_version" "$container"
  "${B[@]}" commit -q "$container" "$base_image" >/dev/null
fi

# Can buildah run a process with chroot isolation here at all (mount and chroot permissions)?
new_container "$base_image" || skip "buildah cannot create a container from $base_image"
if ! "${B[@]}" run --isolation chroot "$container" -- true </dev/null >"$work/probe.log" 2>&1; then
  cat "$work/probe.log" >&2
  skip "buildah cannot run a container with chroot isolation here"
fi
"${B[@]}" rm "$container" >/dev/null

# ---------------------------------------------------------------------------------------------
# Build the image (its build stage runs deploy/build.sh and the unit tests)

say "Building $image from $root/Dockerfile (a few minutes when the sources changed)"
build_started=$(date +%s)
# --layers: unchanged steps (the dependency installs) come from the cache on the next run.
# --format docker: the OCI format has no HEALTHCHECK; the Docker format keeps it.
# Each line of build.log gets the seconds since the build started.
SECONDS=0
if ! "${B[@]}" bud --pull-never --isolation chroot --layers --format docker \
  -t "$image" -f "$root/Dockerfile" "$root" </dev/null 2>&1 |
  while IFS= read -r line; do printf '[%4d s] %s\n' "$SECONDS" "$line"; done >"$work/build.log"; then
  fatal "the image did not build" "$work/build.log"
fi
image_size=$("${B[@]}" images --format '{{.Size}}' "$image" | head -n 1)
echo "   built in $(($(date +%s) - build_started)) s; image size $image_size"

say "The image's configuration"
cfg() { "${B[@]}" inspect --type image --format "$1" "$image"; }
check "runs as user 10001:10001 (numeric, for runAsNonRoot)" \
  test "$(cfg '{{.Docker.Config.User}}')" = "$image_uid:$image_uid"
check "ENTRYPOINT [popgate]" test "$(cfg '{{.Docker.Config.Entrypoint}}')" = "[popgate]"
check "CMD run --config /etc/popgate/config.yaml" \
  test "$(cfg '{{.Docker.Config.Cmd}}')" = "[run --config /etc/popgate/config.yaml]"
check "HEALTHCHECK popgate health" \
  grep -q 'CMD popgate health --config /etc/popgate/config.yaml' <<<"$(cfg '{{.Docker.Config.Healthcheck.Test}}')"
check "EXPOSE 8025" grep -q '8025/tcp' <<<"$(cfg '{{.Docker.Config.ExposedPorts}}')"
check "VOLUME /var/lib/popgate" grep -q '/var/lib/popgate' <<<"$(cfg '{{.Docker.Config.Volumes}}')"

# ---------------------------------------------------------------------------------------------
# The sandbox Dovecot, 3 messages, the configuration, secrets and state directory

# A base port whose four listeners and the admin port are free on 127.0.0.1. Every port stays
# below 32768, where Linux starts picking ephemeral ports: an outgoing connection elsewhere on the
# machine can hold any port above that as its local end, and a connect probe cannot see it. A
# port can still be taken between the probe and Dovecot's bind, so a failed start tries another.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_base() {
  local candidate free p
  for _ in $(seq 1 50); do
    candidate=$((20000 + RANDOM % 4700))   # base + 8025 <= 32724
    free=1
    for p in 110 143 993 995 8025; do port_open $((candidate + p)) && free=0; done
    if [ "$free" = 1 ]; then echo "$candidate"; return 0; fi
  done
  return 1
}
dovecot_up=0
for attempt in 1 2 3 4 5; do
  base=$(pick_base) || fatal "found no free ports on 127.0.0.1"
  say "Starting a sandbox Dovecot on 127.0.0.1 (ports $((base + 110))..$((base + 995)), try $attempt)"
  if "$sandbox" start "$work/dovecot" "$base" work me; then dovecot_up=1; break; fi
  grep -q 'Address already in use' "$work/dovecot/dovecot.log" 2>/dev/null ||
    fatal "the sandbox Dovecot did not start" "$work/dovecot/dovecot.log"
  echo "   a port was taken meanwhile; trying another range"
done
[ "$dovecot_up" = 1 ] || fatal "the sandbox Dovecot did not start" "$work/dovecot/dovecot.log"
admin_port=$((base + 8025))
# shellcheck disable=SC1090  # IMAP_PORT, IMAPS_PORT, POP3_PORT, POP3S_PORT, CA_FILE
. <("$sandbox" env "$work/dovecot")

mkdir -p "$work/messages"
for i in 1 2 3; do
  printf '%s\r\n' \
    "From: Sender $i <sender$i@work.example>" \
    "To: me@work.example" \
    "Subject: container test message $i" \
    "Date: Mon, 2 Jun 2025 10:0$i:00 +0000" \
    "Message-ID: <container-test-$i.$RANDOM@work.example>" \
    "" \
    "Body of message $i." >"$work/messages/$i.eml"
  "$sandbox" seed "$work/dovecot" work "$work/messages/$i.eml"
done
echo "   seeded $("$sandbox" count "$work/dovecot" work INBOX) messages into work's INBOX"

# Secrets: readable by the image's user only, mounted read-only at /run/secrets.
secret_values=(pw-me pw-work "$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')")
mkdir -p "$work/secrets"
printf '%s\n' "${secret_values[0]}" >"$work/secrets/me"
printf '%s\n' "${secret_values[1]}" >"$work/secrets/work"
printf '%s\n' "${secret_values[2]}" >"$work/secrets/admin_token"
# Dummy secrets under the names the shipped example config uses.
mkdir -p "$work/example-secrets"
for s in gmail_app_password work_pop_password isp_pop_password popgate_admin_token; do
  printf 'example-%s\n' "$s" >"$work/example-secrets/$s"
done
chown -R "$image_uid:$image_uid" "$work/secrets" "$work/example-secrets"
chmod 0500 "$work/secrets" "$work/example-secrets"
chmod 0400 "$work/secrets/"* "$work/example-secrets/"*

# The configuration directory, mounted read-only at /etc/popgate, with the sandbox's CA.
mkdir -p "$work/conf"
cp "$CA_FILE" "$work/conf/ca.pem"
cat >"$work/conf/config.yaml" <<EOF
# Written by deploy/container-test.sh
state_dir: /var/lib/popgate
log_level: info
admin:
  listen: 127.0.0.1:$admin_port
  token_file: /run/secrets/admin_token
target:
  host: localhost
  port: $IMAPS_PORT
  tls: implicit
  ca_file: /etc/popgate/ca.pem
  username: me
  password_file: /run/secrets/me
  connections: 2
defaults:
  poll_interval: 1m
accounts:
  - name: work
    host: localhost
    port: $POP3S_PORT
    tls: implicit
    ca_file: /etc/popgate/ca.pem
    username: work
    password_file: /run/secrets/work
    folder: Work
EOF
chmod 0755 "$work/conf"
chmod 0644 "$work/conf/"*

# The state directory: the volume at /var/lib/popgate, writable by the image's user only.
mkdir -p "$work/state"
chown "$image_uid:$image_uid" "$work/state"
chmod 0700 "$work/state"

mounts=(-v "$work/conf:/etc/popgate:ro" -v "$work/secrets:/run/secrets:ro"
        -v "$work/state:/var/lib/popgate")
# image_container: a working container of the image in $container. buildah 1.28 mounts the
# image's VOLUME (an anonymous copy) over a -v mount of the same path about half of the time;
# Docker and podman let -v win. Dropping the declaration from the working container (not from
# the image) makes buildah run use the -v mount every time.
image_container() {
  new_container "$image" || return 1
  "${B[@]}" config --volume /var/lib/popgate- "$container"
}
# in_image LOG COMMAND...: COMMAND in the image, as the image's user. vfs copies the whole image
# for each container: one serves every short command, another the daemon.
tools=""
in_image() {
  local log=$1; shift
  if [ -z "$tools" ]; then
    image_container || return 1
    tools=$container
  fi
  "${B[@]}" run --isolation chroot --user "$image_uid:$image_uid" "${mounts[@]}" "$tools" -- "$@" \
    </dev/null >"$log" 2>&1
}
# no_secrets FILE...: none of the secret values appears in the files.
no_secrets() {
  local s
  for s in "${secret_values[@]}"; do
    if grep -qF -- "$s" "$@"; then return 1; fi
  done
}

# ---------------------------------------------------------------------------------------------
# popgate from the image

say "popgate from the image, as uid $image_uid"
# (The single-quoted scripts below are expanded by the image's sh, not here.)
# shellcheck disable=SC2016
check "every shared library of popgate resolves (ldd)" in_image "$work/ldd.log" \
  sh -c 'libs=$(ldd /usr/local/bin/popgate) && ! printf "%s\n" "$libs" | grep "not found"'
# shellcheck disable=SC2016
check "no compiler, no apt lists, no sources in the image" in_image "$work/slim.log" \
  sh -c '! command -v c++ && ! command -v cmake && [ ! -e /src ] &&
         [ -z "$(find /var/lib/apt/lists -type f ! -name lock)" ]'
check "popgate --version" in_image "$work/version.log" popgate --version
echo "   $(head -n 1 "$work/version.log")"
check "popgate check (exit 0)" in_image "$work/check.log" popgate check --config /etc/popgate/config.yaml
check "popgate check prints no secret" no_secrets "$work/check.log"

# The shipped example, with dummy secrets where compose puts them (/run/secrets).
mounts_saved=("${mounts[@]}")
mounts=(-v "$work/example-secrets:/run/secrets:ro")
check "popgate check on /etc/popgate/config.example.yaml (exit 0)" \
  in_image "$work/check-example.log" popgate check --config /etc/popgate/config.example.yaml
check "... and it does not warn" fails grep -qi warn "$work/check-example.log"
mounts=("${mounts_saved[@]}")

say "popgate run in the background"
image_container || fatal "cannot create a container from $image"
"${B[@]}" run --isolation chroot --user "$image_uid:$image_uid" "${mounts[@]}" "$container" -- \
  popgate run --config /etc/popgate/config.yaml </dev/null >"$work/run.log" 2>&1 &
run_pid=$!

# http_get PATH [TOKEN]: the HTTP status code of GET PATH on the admin port (bash /dev/tcp).
http_get() {
  local answer auth=""
  [ -n "${2:-}" ] && auth="Authorization: Bearer $2"$'\r\n'
  answer=$(
    exec 2>/dev/null
    exec 3<>"/dev/tcp/127.0.0.1/$admin_port" || exit 1
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n%s\r\n' "$1" "$auth" >&3
    timeout 5 head -n 1 <&3
  ) || return 1
  answer=${answer%$'\r'}
  echo "${answer#HTTP/1.? }" | cut -d' ' -f1
}

# wait_healthy PID: waits up to 20 s (while PID runs) until /healthz answers 200.
wait_healthy() {
  for _ in $(seq 1 100); do
    [ "$(http_get /healthz || true)" = 200 ] && return 0
    kill -0 "$1" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

healthy=0
wait_healthy "$run_pid" && healthy=1
[ "$healthy" = 1 ] || fatal "popgate run did not answer /healthz on 127.0.0.1:$admin_port" "$work/run.log"
echo "   ok: /healthz answered 200 on 127.0.0.1:$admin_port"
check "popgate health from the image (exit 0)" in_image "$work/health.log" \
  popgate health --config /etc/popgate/config.yaml
check "/status without the token is refused" test "$(http_get /status || true)" = 401
check "/status with the token answers 200" test "$(http_get /status "${secret_values[2]}" || true)" = 200

# The daemon process: the popgate below our buildah run, by pid (never by name).
descendants() {
  local p
  for p in $(pgrep -P "$1" || true); do echo "$p"; descendants "$p"; done
}
for p in $(descendants "$run_pid"); do
  case "$(readlink "/proc/$p/exe" 2>/dev/null || true)" in
    */usr/local/bin/popgate) daemon_pid=$p ;;
  esac
done
uid_line() { awk -v k="$1:" '$1 == k { print $2, $3, $4, $5 }' "/proc/$daemon_pid/status"; }
if [ -n "$daemon_pid" ]; then
  check "the daemon runs as uid $image_uid" test "$(uid_line Uid)" = "$image_uid $image_uid $image_uid $image_uid"
  check "the daemon runs as gid $image_uid" test "$(uid_line Gid)" = "$image_uid $image_uid $image_uid $image_uid"
  check "the daemon has no capabilities" grep -q '^CapEff:[[:space:]]*0*$' "/proc/$daemon_pid/status"
else
  failures+=("found no popgate process below buildah run ($run_pid)")
fi

# wait_delivered N PID: waits up to 60 s (while PID runs) until me/Work holds N messages; sets
# $delivered to what it holds.
wait_delivered() {
  delivered=0
  for _ in $(seq 1 60); do
    delivered=$("$sandbox" count "$work/dovecot" me Work 2>/dev/null || echo 0)
    [ "$delivered" -ge "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 1
  done
  return 1
}

# Delivery: the 3 messages in me's folder Work (the first poll starts within 3 s).
wait_delivered 3 "$run_pid" || true
check "3 messages delivered into me/Work (found $delivered)" test "$delivered" -eq 3

# What the daemon wrote into the volume belongs to the image's user.
check "the ledger exists in the state volume" test -f "$work/state/ledger.sqlite"
foreign=$(find "$work/state" -mindepth 1 \( ! -uid "$image_uid" -o ! -gid "$image_uid" \) -print)
check "everything in the state volume is owned by $image_uid:$image_uid" test -z "$foreign"

say "Stopping the daemon with SIGTERM"
if [ -n "$daemon_pid" ]; then
  kill -TERM "$daemon_pid"
  stopped=0
  for _ in $(seq 1 100); do
    kill -0 "$run_pid" 2>/dev/null || { stopped=1; break; }
    sleep 0.2
  done
  if [ "$stopped" = 1 ]; then
    rc=0; wait "$run_pid" || rc=$?
    run_pid=""; daemon_pid=""
    check "popgate run exited 0 on SIGTERM" test "$rc" -eq 0
    check "the log says it stopped" grep -q 'stopped' "$work/run.log"
    check "popgate health fails once the daemon is gone" \
      fails in_image "$work/health-after.log" popgate health --config /etc/popgate/config.yaml
  else
    failures+=("popgate run did not stop within 20 s of SIGTERM")
  fi
fi

# ---------------------------------------------------------------------------------------------
# A read-only root file system (docker run --read-only, compose read_only: true, Kubernetes
# readOnlyRootFilesystem): buildah run has no such option, so the image's root file system (vfs
# storage: a plain directory) is mounted read-only in a private mount namespace, with the state
# volume, the configuration and the secrets on top, and the host's /etc/hosts and resolv.conf (an
# engine mounts its own; the image's are empty placeholders), as a container engine does, and
# popgate runs there with chroot as uid 10001. No tmpfs on /tmp: state_dir must be the only place
# it writes.

say "popgate run on a read-only root file system (no writable /tmp)"
image_container || fatal "cannot create a container from $image"
ro_root=$("${B[@]}" mount "$container")
mkdir -p "$ro_root/run/secrets"
touch "$ro_root/etc/hosts" "$ro_root/etc/resolv.conf"   # mount points, as an engine makes them
cat >"$work/ro-run.sh" <<'RO'
# ro-run.sh ROOT WORK: in a private mount namespace (unshare --mount), ROOT read-only with the
# volumes on top; proves that nothing can be written there, then runs popgate.
set -eu
r=$1 w=$2
mount --bind "$r" "$r"
mount -o remount,bind,ro "$r"
mount --bind "$w/state" "$r/var/lib/popgate"
for ro in "$w/conf:/etc/popgate" "$w/secrets:/run/secrets" /etc/hosts:/etc/hosts \
          /etc/resolv.conf:/etc/resolv.conf; do
  mount --bind "${ro%%:*}" "$r${ro#*:}"
  mount -o remount,bind,ro "$r${ro#*:}"
done
mount --rbind /dev "$r/dev"
mount -t proc proc "$r/proc"
for probe in /tmp/probe /var/tmp/probe /probe; do
  if chroot --userspec=10001:10001 "$r" /bin/sh -c ": > $probe" 2>/dev/null; then
    echo "ro-run: $probe is writable"; exit 3
  fi
done
echo "ro-run: the root file system and /tmp are read-only"
exec chroot --userspec=10001:10001 "$r" /usr/local/bin/popgate run --config /etc/popgate/config.yaml
RO
printf '%s\r\n' "From: Sender 4 <sender4@work.example>" "To: me@work.example" \
  "Subject: container test message 4" "Date: Mon, 2 Jun 2025 10:04:00 +0000" \
  "Message-ID: <container-test-4.$RANDOM@work.example>" "" "Body of message 4." >"$work/messages/4.eml"
"$sandbox" seed "$work/dovecot" work "$work/messages/4.eml"
unshare --mount --propagation private bash "$work/ro-run.sh" "$ro_root" "$work" </dev/null \
  >"$work/ro.log" 2>&1 &
ro_pid=$!
healthy=0
wait_healthy "$ro_pid" && healthy=1
check "the root file system and /tmp are read-only for uid $image_uid" \
  grep -q 'the root file system and /tmp are read-only' "$work/ro.log"
if [ "$healthy" = 1 ]; then
  echo "   ok: /healthz answered 200 from the read-only root"
  wait_delivered 4 "$ro_pid" || true
  check "a 4th message delivered from the read-only root (found $delivered)" test "$delivered" -eq 4
  [ "$delivered" -eq 4 ] || tail -n 20 "$work/ro.log" | sed 's/^/   | /'
  check "/status with the token answers 200" test "$(http_get /status "${secret_values[2]}" || true)" = 200
  kill -TERM "$ro_pid"
  rc=0
  for _ in $(seq 1 100); do kill -0 "$ro_pid" 2>/dev/null || break; sleep 0.2; done
  wait "$ro_pid" || rc=$?
  ro_pid=""
  check "popgate on the read-only root exited 0 on SIGTERM" test "$rc" -eq 0
  check "... and logged no write error" fails grep -qiE 'read-only file system|cannot (create|write)' "$work/ro.log"
else
  failures+=("popgate on a read-only root did not answer /healthz")
  tail -n 20 "$work/ro.log" | sed 's/^/   | /'
fi
foreign=$(find "$work/state" -mindepth 1 \( ! -uid "$image_uid" -o ! -gid "$image_uid" \) -print)
check "the state volume still holds only files of $image_uid:$image_uid" test -z "$foreign"
open_modes=$(find "$work/state" -mindepth 1 -perm /077 -print)
check "nothing in the state volume is open to group or others" test -z "$open_modes"

check "no secret in the daemon's logs" no_secrets "$work/run.log" "$work/ro.log"
check "no secret in the health/check output" no_secrets "$work/health.log" "$work/check.log"

if [ ${#failures[@]} -gt 0 ]; then
  echo "--- popgate run log (last 30 lines)"
  tail -n 30 "$work/run.log" | sed 's/^/   | /'
fi
exit 0
