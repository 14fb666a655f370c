// `popgate once` delivering to a kind: gmail-api target: the real binary fetches from a real
// Dovecot over POP3S and imports into the test suite's own Gmail API server over TLS, with access
// tokens from the test suite's token endpoint (the API accepts only tokens that endpoint issued).
// Every message arrives byte for byte (as POP hands it out) under a nested label created on the
// way, a message Gmail refuses by policy stays on the POP server with Google's words while the
// others are deleted (keep: false), and a second pass imports nothing again.
#include <boost/test/unit_test.hpp>

#include "tests/support/GatewaySetup.h"
#include "tests/support/GmailTestServer.h"
#include "tests/support/Messages.h"
#include "tests/support/OAuthTestServer.h"
#include "tests/support/TestCerts.h"

using namespace std::chrono_literals;
using namespace popgate::test;

namespace {

const std::string kRefusal =
    "Invalid attachment. This message was blocked because its content presents a potential "
    "security issue.";

struct Rig {
  Rig() : gmail([this](const std::string& token) { return tokens.accessTokenActive(token); }) {}

  std::filesystem::path writeConfig() {
    const std::string refresh = tokens.issueRefreshToken("me");
    const auto refresh_file = dir.writePrivate("secrets/me-refresh", refresh + "\n");
    const auto pop_password = dir.writePrivate("secrets/isp", DovecotSandbox::password("isp") + "\n");
    std::string y = "state_dir: " + (dir.path() / "state").string() + "\nlog_level: info\n";
    y += "target:\n"
         "  kind: gmail-api\n"
         "  username: me@gmail.com\n"
         "  api_url: " + gmail.baseUrl() + "\n"
         "  ca_file: " + TestCerts::caFile() + "\n"
         "  connections: 2\n"
         "  timeout: 20s\n"
         "  oauth:\n"
         "    token_url: " + tokens.url("/token") + "\n"
         "    client_id: popgate-test-client\n"
         "    refresh_token_file: " + refresh_file.string() + "\n";
    y += "accounts:\n"
         "  - name: isp\n"
         "    host: localhost\n"
         "    port: " + std::to_string(dovecot.pop3sPort()) + "\n"
         "    tls: implicit\n"
         "    ca_file: " + dovecot.caFile().string() + "\n"
         "    username: isp\n"
         "    password_file: " + pop_password.string() + "\n"
         "    folder: Lists/ISP\n"
         "    keep: false\n"
         "    timeout: 20s\n";
    return dir.write("popgate.yaml", y);
  }

  OAuthTestServer tokens;
  GmailTestServer gmail;
  DovecotSandbox dovecot{{"isp"}};
  TempDir dir{"popgate-gmail-it"};
};

}  // namespace

BOOST_AUTO_TEST_CASE(testOnceImportsEveryMessageAndQuarantinesAPolicyRefusal) {
  Rig rig;
  rig.gmail.refuseContaining("X-Blocked-Attachment", kRefusal);
  std::vector<std::string> expected;
  for (const auto& sample : sampleMessages()) {
    rig.dovecot.seed("isp", sample.bytes);
    expected.push_back(popDelivered(sample.bytes));
  }
  for (const auto& hard : hardCases()) {
    if (hard.name == "h3-nul-byte") continue;  // Dovecot's POP3 serves it; kept to the IMAP tests
    rig.dovecot.seed("isp", hard.bytes);
    expected.push_back(popDelivered(hard.bytes));
  }
  rig.dovecot.seed("isp", "X-Blocked-Attachment: yes\r\n" + noteMessage(99, ""));
  const auto config = rig.writeConfig();

  const CommandResult first = runPopgate({"once", "--config", config.string()});
  BOOST_TEST(first.exit_code == 0, first.err);  // a quarantined message fails no account
  std::vector<std::string> arrived;
  const auto stored = rig.gmail.messages();
  for (const auto& message : stored) arrived.push_back(message.raw);
  const Tally t = tally(expected, arrived);
  BOOST_TEST(t.exact(), t);
  const auto labels = rig.gmail.labels();
  BOOST_REQUIRE(labels.count("Lists/ISP") == 1u);
  BOOST_TEST(labels.count("Lists") == 1u);
  for (const auto& message : stored) {
    BOOST_TEST(message.label_ids.front() == labels.at("Lists/ISP"));
    BOOST_TEST(message.params.at("internalDateSource") == "dateHeader");
  }
  // Only the refused message is left on the POP server; the log has Google's words.
  BOOST_TEST(rig.dovecot.count("isp") == 1u);
  BOOST_TEST(first.err.find(kRefusal) != std::string::npos, first.err);

  const CommandResult second = runPopgate({"once", "--config", config.string()});
  BOOST_TEST(second.exit_code == 0, second.err);
  BOOST_TEST(rig.gmail.messages().size() == stored.size());  // nothing imported twice
  BOOST_TEST(rig.dovecot.count("isp") == 1u);
  BOOST_TEST(second.err.find("refresh_token") == std::string::npos);
}
