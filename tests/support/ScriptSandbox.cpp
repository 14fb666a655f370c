#include "tests/support/ScriptSandbox.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <random>
#include <sstream>

#include "tests/support/SandboxPorts.h"
#include "tests/support/SandboxWatchdog.h"

namespace popgate::test {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int kStartAttempts = 8;
constexpr int kUnavailable = 77;           // the scripts' "cannot run here"
constexpr std::size_t kFilesPerSeed = 100;  // files per `seed` command line

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// The reason after "SKIPPED: " in a script's error output, else all of it.
std::string skipReason(const std::string& err) {
  const std::size_t at = err.rfind("SKIPPED: ");
  return trimmed(at == std::string::npos ? err : err.substr(at + 9));
}

}  // namespace

std::map<std::string, std::string> parseSettings(const std::string& text) {
  std::map<std::string, std::string> settings;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    const std::size_t eq = line.find('=');
    if (eq != std::string::npos) settings[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return settings;
}

fs::path ScriptSandbox::sandboxFile(const std::string& file) {
  return sourceDir() / "deploy" / "sandbox" / file;
}

std::optional<std::string> ScriptSandbox::rootUnavailable(const std::string& root) {
  // A cold build downloads and installs a Debian system: allow it half an hour.
  const CommandResult r =
      runCommand({"bash", sandboxFile("test-root.sh").string(), "build", root}, 1800s);
  if (!r.timed_out && r.exit_code == 0) return std::nullopt;
  if (r.exit_code == kUnavailable) return skipReason(r.err);
  throw std::runtime_error("test-root.sh build " + root + " " +
                           (r.timed_out ? std::string("timed out") : "failed: " + r.err));
}

ScriptSandbox::ScriptSandbox(const std::string& script, std::vector<std::string> users,
                             std::map<std::string, std::string> env)
    : script_(sandboxFile(script)), dir_("popgate-" + script.substr(0, script.find('-'))),
      users_(std::move(users)) {
  if (users_.empty()) throw std::invalid_argument("ScriptSandbox: no users");
  std::random_device seed_source;
  std::mt19937 rng(seed_source() ^ static_cast<unsigned>(::getpid()));
  // The watchdog first: a root copy and half-started servers must go as well.
  watchdog_ = startSandboxWatchdog(script_, dir());
  try {
    for (int attempt = 1;; ++attempt) {
      const std::uint16_t base = pickBasePort(rng, {110, 143});
      std::vector<std::string> argv{"bash", script_.string(), "start", dir().string(),
                                    std::to_string(base)};
      argv.insert(argv.end(), users_.begin(), users_.end());
      // The first start of a root-based server may build the root (minutes, once per machine).
      const CommandResult r = runCommand(argv, 1800s, env);
      running_ = true;  // whatever happened, `stop` has something to look at
      if (!r.timed_out && r.exit_code == 0) break;
      if (r.exit_code == kUnavailable) throw SandboxUnavailable(skipReason(r.err));
      if (r.err.find("Address already in use") == std::string::npos || attempt == kStartAttempts) {
        throw std::runtime_error(script + " start failed: " +
                                 (r.timed_out ? std::string("timed out") : r.err) + "\n" + log());
      }
    }
    settings_ = parseSettings(run({"env", dir().string()}));
  } catch (...) {
    try {
      if (running_) run({"stop", dir().string()});  // no destructor runs for a failed constructor
    } catch (const std::exception&) {  // the first error is the one to report
    }
    throw;
  }
}

ScriptSandbox::~ScriptSandbox() {
  watchdog_.reset();  // killed: this process stops the server itself
  if (!running_) return;
  try {
    run({"stop", dir().string()});
  } catch (const std::exception& e) {
    std::cerr << "ScriptSandbox: " << e.what() << '\n';
  }
}

std::string ScriptSandbox::run(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"bash", script_.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  const CommandResult r = runCommand(argv, 300s);
  if (r.timed_out || r.exit_code != 0) {
    throw std::runtime_error(script_.filename().string() + " " + args.front() + " " +
                             (r.timed_out ? std::string("timed out") : "failed: " + r.err));
  }
  return r.out;
}

std::string ScriptSandbox::setting(const std::string& name) const {
  const auto it = settings_.find(name);
  return it == settings_.end() ? std::string() : it->second;
}

std::uint16_t ScriptSandbox::port(const std::string& name) const {
  const std::string value = setting(name);
  return value.empty() ? 0 : static_cast<std::uint16_t>(std::stoul(value));
}

std::string ScriptSandbox::login(const std::string& user) const {
  return user + setting("LOGIN_SUFFIX");
}

void ScriptSandbox::seedMany(const std::string& user, const std::vector<std::string>& messages,
                             const std::string& folder) {
  std::vector<std::string> files;
  for (const std::string& message : messages) {
    files.push_back(dir_.write("seed/" + std::to_string(seeded_++) + ".eml", message).string());
  }
  for (std::size_t at = 0; at < files.size(); at += kFilesPerSeed) {
    std::vector<std::string> args{"seed", dir().string(), user, folder};
    const auto end = files.begin() + static_cast<std::ptrdiff_t>(std::min(files.size(), at + kFilesPerSeed));
    args.insert(args.end(), files.begin() + static_cast<std::ptrdiff_t>(at), end);
    run(args);
  }
  for (const std::string& file : files) fs::remove(file);
}

std::vector<std::string> ScriptSandbox::messages(const std::string& user,
                                                 const std::string& folder) {
  TempDir out("popgate-dump");
  run({"dump", dir().string(), user, folder, out.path().string()});
  std::vector<fs::path> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(out.path())) {
    files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> result;
  for (const fs::path& file : files) result.push_back(readFile(file));
  return result;
}

std::size_t ScriptSandbox::count(const std::string& user, const std::string& folder) {
  const std::string out = trimmed(run({"count", dir().string(), user, folder}));
  try {
    return static_cast<std::size_t>(std::stoull(out));
  } catch (const std::exception&) {
    throw std::runtime_error(script_.filename().string() + ": unexpected count output: " + out);
  }
}

std::string ScriptSandbox::log() const {
  std::string text;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir(), ec)) {
    if (entry.path().extension() != ".log") continue;
    try {
      text += "--- " + entry.path().filename().string() + "\n" + readFile(entry.path());
    } catch (const std::exception&) {
    }
  }
  return text;
}

}  // namespace popgate::test
