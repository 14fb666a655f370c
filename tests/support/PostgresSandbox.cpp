#include "tests/support/PostgresSandbox.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <random>
#include <stdexcept>
#include <vector>

#include "tests/support/SandboxPorts.h"

namespace popgate::test {
namespace {

using std::chrono::seconds;

constexpr int kMinPort = 32000;
constexpr int kMaxPort = 32699;
constexpr int kStartAttempts = 8;

// The sandbox directory: the unix socket lives inside it, so a long $TMPDIR yields /tmp.
TempDir makeSandboxDir() {
  TempDir dir("popgate-pg");
  if (dir.path().string().size() <= 60) return dir;
  return TempDir("popgate-pg", "/tmp");
}

}  // namespace

std::filesystem::path PostgresSandbox::script() {
  return sourceDir() / "deploy" / "sandbox" / "postgres-sandbox.sh";
}

PostgresSandbox::PostgresSandbox() : dir_(makeSandboxDir()) {
  std::random_device seed_source;
  std::mt19937 rng(seed_source() ^ static_cast<unsigned>(::getpid()));
  std::uniform_int_distribution<int> dist(kMinPort, kMaxPort);
  for (int attempt = 1;; ++attempt) {
    int port = dist(rng);
    if (!portFree(port)) continue;
    port_ = static_cast<std::uint16_t>(port);
    if (tryStart()) break;
    if (attempt == kStartAttempts) {
      throw std::runtime_error("PostgresSandbox: ports kept being taken; gave up after " +
                               std::to_string(kStartAttempts) + " attempts");
    }
  }
  // PostgreSQL outlives a test that crashes or is killed by ctest's timeout: the watchdog stops it.
  try {
    watchdog_ = startServerWatchdog(script(), "kill", dir());
  } catch (...) {
    stop();
    throw;
  }
}

PostgresSandbox::~PostgresSandbox() {
  watchdog_.reset();
  stop();
}

bool PostgresSandbox::tryStart() {
  CommandResult result =
      runCommand({"bash", script().string(), "start", dir().string(), std::to_string(port_)},
                 seconds(120));
  if (!result.timed_out && result.exit_code == 0) {
    running_ = true;
    return true;
  }
  if (log().find("Address already in use") != std::string::npos) return false;
  throw std::runtime_error("PostgresSandbox: cannot start PostgreSQL: " +
                           (result.timed_out ? std::string("timed out") : result.err));
}

void PostgresSandbox::stop() noexcept {
  if (!running_) return;
  try {
    CommandResult result = runCommand({"bash", script().string(), "stop", dir().string()}, seconds(60));
    if (result.exit_code != 0) std::cerr << "PostgresSandbox: stop: " << result.err << '\n';
  } catch (const std::exception& e) {
    std::cerr << "PostgresSandbox: stop: " << e.what() << '\n';
  }
  running_ = false;
}

std::string PostgresSandbox::url(const std::string& database) const {
  return "postgresql://popgate@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

std::string PostgresSandbox::createDatabase(const std::string& name) {
  // [a-z0-9_]+ (no std::regex: GCC 12 warns inside it under ASan, and warnings are errors).
  const auto allowed = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; };
  if (name.empty() || !std::all_of(name.begin(), name.end(), allowed)) {
    throw std::invalid_argument("PostgresSandbox: bad database name " + name);
  }
  query("drop database if exists " + name + " with (force)");
  query("create database " + name + " owner popgate");
  return url(name);
}

std::string PostgresSandbox::query(const std::string& sql, const std::string& database) {
  TempDir scratch("popgate-psql");
  ProcessOptions options;
  options.stdin_file = scratch.write("query.sql", sql + ";\n");
  options.output_dir = scratch.path();
  Process psql({"bash", script().string(), "psql", dir().string(), database}, options);
  auto status = psql.wait(seconds(60));
  if (!status || !status->success()) {
    throw std::runtime_error("PostgresSandbox: psql: " + sql + ": " +
                             (status ? psql.errorOutput() : std::string("timed out")));
  }
  std::string out = psql.output();
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string PostgresSandbox::log() const {
  try {
    return readFile(dir() / "postgres.log");
  } catch (const std::exception&) {
    return {};
  }
}

}  // namespace popgate::test
