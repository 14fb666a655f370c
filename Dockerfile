# popgate — POP3 accounts into one IMAP mailbox, as a container image.
#
#   docker build -t popgate:latest .
#   docker run -d --name popgate \
#     -v popgate-state:/var/lib/popgate \
#     -v "$PWD/config.yaml:/etc/popgate/config.yaml:ro" \
#     -v "$PWD/secrets:/run/secrets:ro" \
#     -p 127.0.0.1:8025:8025 popgate:latest
#
# Two stages: "build" compiles popgate and runs the unit tests with the same scripts as
# tests/run.sh; the final stage holds only the runtime libraries, CA certificates and the binary.
# See docs/deployment.md.

# ---------------------------------------------------------------------------------------------
# Build stage
FROM debian:bookworm-slim AS build

# The dependency installer alone first: this layer stays cached while only the sources change.
COPY deploy/install-deps.sh /src/deploy/install-deps.sh
# Compiler, CMake, Ninja, Poco, yaml-cpp, Boost.Test and OpenSSL headers; plus ccache, which only
# this image build uses (see the cache mount below).
RUN /src/deploy/install-deps.sh build \
 && apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends ccache >/dev/null

# The sources (.dockerignore keeps build trees, .git and fuzz corpora out of the context).
COPY . /src

# The same configure+build as tests/run.sh (RelWithDebInfo, -Werror; only the binary and the unit
# tests, which are all this stage runs), then the unit tests: an
# image is only produced from a tree whose unit tests pass. The compiler cache lives in a build
# cache mount (BuildKit, buildah, podman), so a rebuild after a small change recompiles little.
# The shipped binary gets its debug sections stripped (~20 MB -> ~1 MB), and the build tree
# goes: nothing else leaves this stage, and a smaller layer commits faster.
RUN --mount=type=cache,id=popgate-ccache,target=/root/.cache/ccache \
    CCACHE_DIR=/root/.cache/ccache POPGATE_TARGETS='^(popgate|unit_[a-z0-9_]+)$' \
      /src/deploy/build.sh /src/build \
      -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
 && ctest --test-dir /src/build -L unit --output-on-failure \
 && strip --strip-debug -o /popgate /src/build/popgate \
 && /popgate --version \
 && rm -rf /src/build

# ---------------------------------------------------------------------------------------------
# Runtime stage
FROM debian:bookworm-slim

# Runtime libraries (Poco, yaml-cpp, OpenSSL, ...) and ca-certificates, from the same list the
# other scripts use; then apt's cache, lists and the installer go: dead weight at run time.
# A fixed uid/gid (10001) for the user, so host directories and volumes can be chowned to it ahead
# of time. state_dir (ledger + spool) belongs to popgate alone, mode 0700; it is set up before
# VOLUME below, so a fresh named volume starts with this ownership. /etc/popgate stays root's.
COPY deploy/install-deps.sh /tmp/install-deps.sh
RUN /tmp/install-deps.sh runtime \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh \
 && groupadd --system --gid 10001 popgate \
 && useradd --system --uid 10001 --gid popgate --no-create-home --home-dir /var/lib/popgate \
      --shell /usr/sbin/nologin popgate \
 && install -d -o popgate -g popgate -m 0700 /var/lib/popgate \
 && install -d -o root -g root -m 0755 /etc/popgate

COPY --from=build /popgate /usr/local/bin/popgate
# The annotated example (Gmail target, secrets under /run/secrets, admin on 0.0.0.0:8025).
# The real configuration is mounted at /etc/popgate/config.yaml; there is no default one.
COPY deploy/config.example.yaml /etc/popgate/config.example.yaml

# The ledger and the spool must outlive the container: always mount a volume here.
VOLUME /var/lib/popgate

# The admin endpoint (/healthz, /status, /metrics). It is only reachable from outside the
# container when the config says `admin: {listen: 0.0.0.0:8025}`; publish it on the host's
# loopback only (-p 127.0.0.1:8025:8025), and set admin.token_file.
EXPOSE 8025

# `popgate health` asks the daemon's /healthz (on 127.0.0.1 when it listens on 0.0.0.0) and exits 0
# when it answers 200; it gives up after 5 s by itself. /healthz answers as soon as the config is
# loaded; the start period only covers a slow start. It reads the config (and its secrets) as well.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
  CMD ["popgate", "health", "--config", "/etc/popgate/config.yaml"]

# Never root at run time; no capability is needed (the admin port is above 1024). Numeric, so that
# Kubernetes can check runAsNonRoot without reading /etc/passwd. popgate writes only to
# /var/lib/popgate: the image runs with a read-only root file system and needs no /tmp.
USER 10001:10001

# Arguments replace only the command: docker run --rm IMAGE check --config /etc/popgate/config.yaml
ENTRYPOINT ["popgate"]
# The daemon in the foreground: logs on stdout, SIGTERM stops it cleanly (exit 0), SIGHUP reloads.
CMD ["run", "--config", "/etc/popgate/config.yaml"]
