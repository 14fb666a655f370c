# debian-archive.sh — where this machine's apt finds Debian (sourced, never run), for the scripts
# that build Debian roots (deploy/sandbox/test-root.sh, deploy/container-test.sh).

# host_archive SUITE: the archive this machine's apt uses for SUITE (bookworm, bookworm-security),
# from deb822 or one-line sources; nothing when apt has none.
host_archive() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    awk -v suite="$1" '/^URIs:/ { uri = $2 }
      /^Suites:/ && uri { for (i = 2; i <= NF; i++) if ($i == suite) { print uri; exit } }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -e "$f" ] || continue
    awk -v suite="$1" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i == suite) {
        for (j = 2; j < i; j++) if ($j ~ /:\/\//) { print $j; exit } } }' "$f"
  done
}

# host_mirror: the Debian archive this machine's apt uses for bookworm.
host_mirror() { host_archive bookworm; }
