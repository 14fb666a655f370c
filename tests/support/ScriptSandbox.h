#pragma once
// A mail server started by one of the sandbox scripts of deploy/sandbox (mailutils-sandbox.sh,
// cyrus-sandbox.sh, courier-sandbox.sh, popa3d-sandbox.sh, twisted-sandbox.sh), which all answer
// the same commands:
//   start DIR BASEPORT USER...   (exit 77 with "SKIPPED: reason" when the server cannot run here)
//   stop DIR | seed DIR USER FOLDER FILE... | count DIR USER FOLDER | dump DIR USER FOLDER OUTDIR
//   env DIR   (POP3_PORT, IMAP_PORT, LOGIN_SUFFIX as NAME=value lines)
// The subclasses name the script and the server; this class does the rest.

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/MailServer.h"
#include "tests/support/Process.h"
#include "tests/support/TempDir.h"

namespace popgate::test {

// The server cannot run on this machine (no root for chroot, no Debian archive for its root):
// what() is the script's reason. Tests turn it into a loud skip, never a pass.
class SandboxUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ScriptSandbox : public MailServer {
 public:
  // Stops the server; then the directory goes (kept with POPGATE_KEEP_TEMP=1). Never throws.
  // Should this process die first, a watchdog child does the same within about a second.
  ~ScriptSandbox() override;
  ScriptSandbox(const ScriptSandbox&) = delete;
  ScriptSandbox& operator=(const ScriptSandbox&) = delete;

  std::uint16_t pop3Port() const override { return port("POP3_PORT"); }
  std::uint16_t imapPort() const override { return port("IMAP_PORT"); }
  std::string login(const std::string& user) const override;
  void seedMany(const std::string& user, const std::vector<std::string>& messages,
                const std::string& folder = "INBOX") override;
  std::vector<std::string> messages(const std::string& user,
                                    const std::string& folder = "INBOX") override;
  std::size_t count(const std::string& user, const std::string& folder = "INBOX") override;
  // Every *.log file of the sandbox directory, each headed by its name.
  std::string log() const override;
  // The sandbox directory.
  const std::filesystem::path& dir() const { return dir_.path(); }
  // A value of the script's `env` output ("" when absent).
  std::string setting(const std::string& name) const;

  // Why the Debian root `root` (deploy/sandbox/roots/ROOT.sh) cannot be had here, after building
  // it when it is missing (minutes, once per machine); nullopt when it is ready. Throws
  // std::runtime_error when the build fails for another reason (a broken recipe).
  static std::optional<std::string> rootUnavailable(const std::string& root);
  // deploy/sandbox/<file> of the source tree.
  static std::filesystem::path sandboxFile(const std::string& file);

 protected:
  // Starts `script` (a file of deploy/sandbox) with these users on a free range of ports (bases
  // 20000..30999; the script's ports are base + 110 and base + 143), with `env` added to its
  // environment. Throws SandboxUnavailable (exit 77) or std::runtime_error with the script's
  // error output.
  ScriptSandbox(const std::string& script, std::vector<std::string> users,
                std::map<std::string, std::string> env = {});

 private:
  // Runs the script; its stdout, or std::runtime_error with its stderr.
  std::string run(const std::vector<std::string>& args);
  std::uint16_t port(const std::string& name) const;

  std::filesystem::path script_;
  TempDir dir_;
  std::vector<std::string> users_;
  std::map<std::string, std::string> settings_;
  bool running_ = false;
  unsigned seeded_ = 0;  // names the seed files
  std::unique_ptr<Process> watchdog_;
};

// "NAME=value" lines into a map (the sandbox scripts' `env` output).
std::map<std::string, std::string> parseSettings(const std::string& text);

}  // namespace popgate::test
