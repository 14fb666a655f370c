#include "RunningDaemon.h"

#include <boost/test/unit_test.hpp>

#include <csignal>

#include <Poco/JSON/Parser.h>

namespace popgate::test {

using namespace std::chrono_literals;
using Poco::JSON::Object;

std::string interval(const std::string& d) { return "    poll_interval: " + d + "\n"; }

RunningDaemon::RunningDaemon(DovecotSandbox& d, const std::vector<AccountSetup>& accounts)
    : dovecot(d) {
  std::filesystem::permissions(dir.write("secrets/admin-token", kAdminToken + "\n"),
                               std::filesystem::perms::owner_read);
  config = writeGatewayConfig(dir, dovecot, "me", accounts, adminYaml());
}

std::string RunningDaemon::adminYaml() const {
  return "admin:\n  listen: 127.0.0.1:" + std::to_string(port) + "\n  token_file: " +
         (dir.path() / "secrets/admin-token").string() + "\n";
}

void RunningDaemon::start(const ProcessOptions& options) {
  process = std::make_unique<Process>(
      std::vector<std::string>{popgateBinary().string(), "run", "--config", config.string()},
      options);
  BOOST_REQUIRE_MESSAGE(
      waitFor([&] { return httpRequest("GET", port, "/healthz").status == 200; }, 30s),
      "daemon did not come up: " << process->output() << process->errorOutput());
}

Object::Ptr RunningDaemon::status() {
  const HttpResponse r = httpRequest("GET", port, "/status", kAdminToken);
  BOOST_REQUIRE(r.status == 200);
  return Poco::JSON::Parser().parse(r.body).extract<Object::Ptr>();
}

Object::Ptr RunningDaemon::account(const std::string& name) {
  auto accounts = status()->getArray("accounts");
  for (std::size_t i = 0; i < accounts->size(); ++i) {
    auto a = accounts->getObject(static_cast<unsigned>(i));
    if (a->getValue<std::string>("name") == name) return a;
  }
  BOOST_FAIL("no account " << name << " in /status");
  return nullptr;
}

std::string RunningDaemon::log() const { return process->output() + process->errorOutput(); }

int RunningDaemon::stop() {
  process->kill(SIGTERM);
  const auto status = process->wait(10s);
  BOOST_REQUIRE_MESSAGE(status.has_value(), "popgate run did not stop within 10 s after SIGTERM");
  return status->shellCode();
}

}  // namespace popgate::test
