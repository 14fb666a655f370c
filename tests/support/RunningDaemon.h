#pragma once
// `popgate run`, the real daemon, against a DovecotSandbox, with its admin endpoint on a free
// loopback port behind a bearer token (kAdminToken): integration tests start it, read /status and
// stop it.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <Poco/JSON/Object.h>

#include "GatewaySetup.h"

namespace popgate::test {

// The admin token every RunningDaemon is configured with.
inline const std::string kAdminToken = "t0ken-for-tests-0123456789";

// "    poll_interval: <d>\n", an AccountSetup::extra line.
std::string interval(const std::string& d);

struct RunningDaemon {
  DovecotSandbox& dovecot;
  TempDir dir;
  std::uint16_t port = freeLocalPort();
  std::filesystem::path config;
  std::unique_ptr<Process> process;

  // Writes the config (target user "me", the token file mode 0400); starts nothing.
  RunningDaemon(DovecotSandbox& d, const std::vector<AccountSetup>& accounts);
  // The admin: section of the config.
  std::string adminYaml() const;
  // Starts `popgate run` and waits (test failure after 30 s) until /healthz answers 200.
  void start(const ProcessOptions& options = {});
  // GET /status with the token, parsed (test failure unless 200).
  Poco::JSON::Object::Ptr status();
  // The account `name` of /status (test failure when missing).
  Poco::JSON::Object::Ptr account(const std::string& name);
  // Everything the daemon wrote so far.
  std::string log() const;
  // SIGTERM; returns the exit code (test failure unless it ends within 10 s).
  int stop();
};

}  // namespace popgate::test
