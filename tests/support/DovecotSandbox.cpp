#include "tests/support/DovecotSandbox.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "tests/support/SandboxPorts.h"
#include "tests/support/SandboxWatchdog.h"
#include "tests/support/ScriptSandbox.h"
#include "tests/support/TestCerts.h"

namespace popgate::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

constexpr int kStartAttempts = 8;

// The sandbox directory: the script allows at most 60 characters, so a long $TMPDIR yields /tmp.
TempDir makeSandboxDir() {
  TempDir dir("popgate-dovecot");
  if (dir.path().string().size() <= 60) return dir;
  return TempDir("popgate-dovecot", "/tmp");
}

std::size_t parseCount(const std::string& out) {
  try {
    return static_cast<std::size_t>(std::stoull(out));
  } catch (const std::exception&) {
    throw std::runtime_error("DovecotSandbox: unexpected count output: " + out);
  }
}

}  // namespace

DovecotSandbox::DovecotSandbox(std::vector<std::string> users, SandboxOptions options)
    : dir_(makeSandboxDir()), users_(std::move(users)), options_(std::move(options)) {
  if (users_.empty()) throw std::invalid_argument("DovecotSandbox: no users");
  std::random_device seed_source;
  std::mt19937 rng(seed_source() ^ static_cast<unsigned>(::getpid()));
  for (int attempt = 1;; ++attempt) {
    base_port_ = pickBasePort(rng, {110, 143, 993, 995});
    if (tryStart()) break;
    if (attempt == kStartAttempts) {
      throw std::runtime_error("DovecotSandbox: ports kept being taken; gave up after " +
                               std::to_string(kStartAttempts) + " attempts");
    }
  }
  try {
    settings_ = parseSettings(run({"env", dir().string()}));
    // A daemonized Dovecot outlives a test that crashes or is killed by ctest's timeout.
    watchdog_ = startSandboxWatchdog(script(), dir());
  } catch (...) {
    try {
      stop();                          // no destructor runs for a constructor that throws
    } catch (const std::exception&) {  // the first error is the one to report
    }
    throw;
  }
}

DovecotSandbox::~DovecotSandbox() {
  watchdog_.reset();  // killed: this process stops Dovecot itself
  try {
    stop();
  } catch (const std::exception& e) {
    std::cerr << "DovecotSandbox: " << e.what() << '\n';
  }
}

fs::path DovecotSandbox::script() {
  return sourceDir() / "deploy" / "sandbox" / "dovecot-sandbox.sh";
}

std::string DovecotSandbox::run(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"bash", script().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult result = runCommand(argv, seconds(60));
  if (result.timed_out || result.exit_code != 0) {
    throw std::runtime_error(
        "DovecotSandbox: `dovecot-sandbox.sh " + args.front() + "` " +
        (result.timed_out ? std::string("timed out") : "failed: " + result.err));
  }
  return result.out;
}

bool DovecotSandbox::tryStart() {
  // make-certs.sh keeps existing certificates: reuse the ones TestCerts made for this process
  // rather than generating four RSA keys per sandbox.
  const fs::path certs = dir() / "certs";
  if (!fs::exists(certs / "ca.pem")) {
    fs::copy(TestCerts::dir(), certs, fs::copy_options::recursive);
    fs::permissions(certs, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec);
  }
  std::vector<std::string> argv{"bash", script().string(), "start", dir().string(),
                                std::to_string(base_port_)};
  argv.insert(argv.end(), users_.begin(), users_.end());
  std::map<std::string, std::string> env{
      {"SANDBOX_GMAIL_LIKE", options_.gmail_like ? "1" : "0"},
      {"SANDBOX_POP3_LOGIN", options_.pop3_login == SandboxOptions::Pop3Login::One ? "one"
                             : options_.pop3_login == SandboxOptions::Pop3Login::PerConnection
                                 ? "per-connection"
                                 : ""},
      {"SANDBOX_QUOTA", options_.quota_user.empty()
                            ? ""
                            : options_.quota_user + ":" + std::to_string(options_.quota_bytes)},
      {"SANDBOX_OAUTH2_URL", options_.oauth2_introspection_url}};
  CommandResult result = runCommand(argv, seconds(60), env);
  if (result.exit_code == 0 && !result.timed_out) {
    running_ = true;
    return true;
  }
  if (result.err.find("Address already in use") != std::string::npos) return false;
  throw std::runtime_error("DovecotSandbox: cannot start Dovecot: " +
                           (result.timed_out ? std::string("timed out") : result.err));
}

void DovecotSandbox::stop() {
  if (!running_) return;
  run({"stop", dir().string()});
  running_ = false;
}

void DovecotSandbox::restart() {
  stop();
  if (!tryStart()) {
    throw std::runtime_error("DovecotSandbox: a port of " + std::to_string(base_port_) +
                             "+110..995 was taken while Dovecot was stopped");
  }
}

std::string DovecotSandbox::log() const {
  try {
    return readFile(dir() / "dovecot.log");
  } catch (const std::exception& e) {
    return e.what();
  }
}

std::string DovecotSandbox::doveadm(const std::vector<std::string>& args,
                                    const fs::path& stdin_file) {
  std::vector<std::string> argv{"doveadm", "-c", confFile().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions options;
  options.stdin_file = stdin_file;
  Process child(argv, options);
  std::optional<ExitStatus> status = child.wait(seconds(60));
  if (!status || !status->success()) {
    throw std::runtime_error("DovecotSandbox: `doveadm " + args.front() + "` " +
                             (status ? "failed: " + child.errorOutput() : "timed out"));
  }
  return child.output();
}

void DovecotSandbox::seed(const std::string& user, std::string_view bytes,
                          const std::string& folder) {
  createFolder(user, folder);
  // doveadm directly rather than through the script: one process per message, not three.
  fs::path file = dir_.write("seed-" + std::to_string(seed_counter_++) + ".eml", bytes);
  try {
    doveadm({"save", "-u", user, "-m", folder}, file);
  } catch (...) {
    std::error_code ignored;
    fs::remove(file, ignored);
    throw;
  }
  fs::remove(file);
}

void DovecotSandbox::createFolder(const std::string& user, const std::string& folder) {
  if (folder == "INBOX" || created_.count({user, folder}) != 0) return;  // known to exist
  run({"create", dir().string(), user, folder});
  created_.insert({user, folder});
}

std::size_t DovecotSandbox::count(const std::string& user, const std::string& folder) {
  // The script's `count`, minus bash: "messages=N".
  std::string out = doveadm({"-f", "flow", "mailbox", "status", "-u", user, "messages", folder});
  std::size_t at = out.find("messages=");
  if (at == std::string::npos) {
    throw std::runtime_error("DovecotSandbox: unexpected doveadm output: " + out);
  }
  return parseCount(out.substr(at + 9));
}

fs::path DovecotSandbox::folderDir(const std::string& user, const std::string& folder) const {
  fs::path maildir = dir() / "home" / user / "Maildir";
  if (folder == "INBOX") return maildir;
  std::string name = folder;
  std::replace(name.begin(), name.end(), '/', '.');  // maildir++: "." separates levels
  return maildir / ("." + name);
}

void DovecotSandbox::seedMany(const std::string& user, const std::vector<std::string>& messages,
                              const std::string& folder) {
  createFolder(user, folder);
  // Also makes Dovecot create the maildir (cur/ new/ tmp/) of a user who has no mail yet.
  std::size_t before = count(user, folder);
  fs::path maildir = folderDir(user, folder);
  if (!fs::is_directory(maildir / "new") || !fs::is_directory(maildir / "tmp")) {
    throw std::runtime_error("DovecotSandbox: no maildir at " + maildir.string());
  }
  // As root the files must belong to the unprivileged mail user Dovecot runs as.
  const bool chown_needed = ::geteuid() == 0;
  uid_t uid = 0;
  gid_t gid = 0;
  if (chown_needed) {
    uid = static_cast<uid_t>(std::stoul(settings_.at("MAIL_UID")));
    gid = static_cast<gid_t>(std::stoul(settings_.at("MAIL_GID")));
  }
  // Maildir names "<seconds>.M<microseconds>P<pid>Q<n>.<host>": Dovecot gives new files UIDs in
  // the order of the time in their names, so an increasing "microseconds" keeps the list order.
  const std::string stamp = std::to_string(std::time(nullptr));
  const std::string pid = std::to_string(::getpid());
  for (const std::string& message : messages) {
    if (seed_counter_ >= 1'000'000) throw std::runtime_error("DovecotSandbox: seed counter full");
    std::string usec = std::to_string(seed_counter_);
    usec.insert(0, 6 - usec.size(), '0');
    std::string name = stamp;
    name.append(".M").append(usec).append("P").append(pid);
    name.append("Q").append(std::to_string(seed_counter_)).append(".popgate-seed");
    ++seed_counter_;
    fs::path tmp = maildir / "tmp" / name;
    writeFile(tmp, message);
    if (chown_needed && ::chown(tmp.c_str(), uid, gid) != 0) {
      throw std::system_error(errno, std::generic_category(), "chown " + tmp.string());
    }
    fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write);
    fs::rename(tmp, maildir / "new" / name);
  }
  // Let Dovecot notice the files and assign UIDs now, in order.
  std::size_t after = count(user, folder);
  if (!pollers_take_mail_ && after != before + messages.size()) {
    throw std::runtime_error("DovecotSandbox: seedMany stored " + std::to_string(after - before) +
                             " of " + std::to_string(messages.size()) + " messages");
  }
}

std::vector<std::string> DovecotSandbox::messages(const std::string& user,
                                                  const std::string& folder) {
  // The script's `dump`, without a process per message: sync, then dovecot-uidlist maps each UID
  // to a file base name ("UID [extensions] :BASE" lines after a header line), and the file is
  // BASE or BASE:2,FLAGS in cur/ or new/. A session of a test running meanwhile may move a file
  // from new/ to cur/ or change its flags: then the whole read is tried again.
  for (int attempt = 1;; ++attempt) {
    const std::size_t expected = count(user, folder);
    const fs::path maildir = folderDir(user, folder);
    std::map<std::string, fs::path> files;  // base name -> path
    for (const char* sub : {"cur", "new"}) {
      std::error_code ec;
      for (const fs::directory_entry& entry : fs::directory_iterator(maildir / sub, ec)) {
        std::string name = entry.path().filename().string();
        files[name.substr(0, name.find(':'))] = entry.path();
      }
    }
    std::vector<std::string> result;
    bool vanished = false;
    if (expected > 0) {
      std::istringstream uidlist(readFile(maildir / "dovecot-uidlist"));
      std::string line;
      std::getline(uidlist, line);  // header
      while (std::getline(uidlist, line)) {
        std::size_t colon = line.find(" :");
        if (colon == std::string::npos) continue;
        auto file = files.find(line.substr(colon + 2));
        if (file == files.end()) continue;  // listed but expunged
        try {
          result.push_back(readFile(file->second));
        } catch (const std::system_error&) {
          vanished = true;  // renamed under our feet
          break;
        }
      }
    }
    if (!vanished && result.size() == expected) return result;
    if (attempt == 3) {
      std::string what = "DovecotSandbox: found " + std::to_string(result.size());
      what.append(" of ").append(std::to_string(expected)).append(" messages in ");
      what.append(folder).append(" of ").append(user);
      throw std::runtime_error(what);
    }
  }
}

}  // namespace popgate::test
