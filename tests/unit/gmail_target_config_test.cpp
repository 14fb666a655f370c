// The kind: gmail-api target in the configuration: the exact keys of the issue, their defaults,
// Google's token endpoint and the narrow scopes (gmail.insert, gmail.labels) that `popgate
// authorize` then asks for, api_url for tests, and "FILE:LINE: KEY: what" for each mistake.
#include <boost/test/unit_test.hpp>

#include <string>

#include "config/ConfigLoader.h"
#include "connectors/common/Error.h"
#include "tests/support/ConfigEnv.h"
#include "tests/support/TempDir.h"

using popgate::config::GatewayConfig;
using popgate::config::TargetKind;
using popgate::test::envOf;
using popgate::test::TempDir;

namespace {

class Files {
 public:
  Files() { dir_.write("refresh", "1//0refresh-token\n"); }
  GatewayConfig load(const std::string& yaml) const {
    return popgate::config::loadConfigText(yaml, "gw.yaml", dir_.path(), envOf({}));
  }
  std::string error(const std::string& yaml) const {
    try {
      load(yaml);
    } catch (const popgate::Error& e) {
      BOOST_TEST((e.kind() == popgate::ErrorKind::Config));
      return e.what();
    }
    BOOST_FAIL("no error for:\n" << yaml);
    return {};
  }

 private:
  TempDir dir_{"popgate-gmail-config"};
};

const std::string kTail =
    "accounts:\n"
    "  - {name: isp, host: pop.isp.example, username: me, password: pw, folder: Lists/ISP}\n";

}  // namespace

BOOST_AUTO_TEST_CASE(testGmailApiTargetWithDefaults) {
  Files files;
  const GatewayConfig cfg = files.load(
      "state_dir: /s\n"
      "targets:\n"
      "  me:\n"
      "    kind: gmail-api\n"
      "    username: me@gmail.com\n"
      "    oauth: {client_id: 1234.apps.googleusercontent.com, refresh_token_file: refresh}\n"
      "accounts:\n"
      "  - {name: isp, target: me, host: pop.isp.example, username: me, password: pw}\n");
  const auto& target = cfg.targets.at(0);
  BOOST_TEST((target.kind == TargetKind::GmailApi));
  BOOST_TEST(!target.never_mark_spam);
  BOOST_TEST(target.process_for_calendar);
  BOOST_TEST(target.api_url == "https://gmail.googleapis.com");
  BOOST_TEST(target.server.host == "gmail.googleapis.com");
  BOOST_TEST(target.server.port == 443);
  BOOST_REQUIRE(target.server.oauth);
  BOOST_TEST(target.server.oauth->token_url == "https://oauth2.googleapis.com/token");
  BOOST_TEST(target.server.oauth->scope ==
             "https://www.googleapis.com/auth/gmail.insert "
             "https://www.googleapis.com/auth/gmail.labels");
  const std::string summary = popgate::config::describe(cfg);
  BOOST_TEST(summary.find("Gmail API https://gmail.googleapis.com as me@gmail.com, spam filter on, "
                          "invitations to Calendar") != std::string::npos,
             summary);
}

BOOST_AUTO_TEST_CASE(testGmailApiTargetKeys) {
  Files files;
  const GatewayConfig cfg = files.load(
      "state_dir: /s\n"
      "target:\n"
      "  kind: gmail-api\n"
      "  username: me@gmail.com\n"
      "  never_mark_spam: true\n"
      "  process_for_calendar: false\n"
      "  api_url: https://localhost:8443/\n"
      "  connections: 2\n"
      "  oauth: {client_id: c, refresh_token_file: refresh, scope: 'https://www.googleapis.com/auth/gmail.insert https://www.googleapis.com/auth/gmail.labels https://www.googleapis.com/auth/gmail.readonly'}\n" +
      kTail);
  const auto& target = cfg.targets.at(0);
  BOOST_TEST(target.never_mark_spam);
  BOOST_TEST(!target.process_for_calendar);
  BOOST_TEST(target.api_url == "https://localhost:8443");
  BOOST_TEST(target.server.host == "localhost");
  BOOST_TEST(target.server.port == 8443);
  BOOST_TEST(target.connections == 2u);
  BOOST_TEST(target.server.oauth->scope.find("gmail.readonly") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(testGmailApiTargetMistakes) {
  Files files;
  const std::string head = "state_dir: /s\ntarget:\n  kind: gmail-api\n  username: me@gmail.com\n";
  BOOST_TEST(files.error(head + kTail) ==
             "gw.yaml:2: target: missing required key 'oauth' (kind: gmail-api signs in with OAuth "
             "2.0: oauth: {client_id: ..., refresh_token_file: ...}; see docs/gmail.md)");
  BOOST_TEST(files.error(head + "  host: imap.gmail.com\n  oauth: {client_id: c}\n" + kTail) ==
             "gw.yaml:5: target.host: is not used with kind: gmail-api (it signs in with oauth and "
             "talks to Google's API over HTTPS; see docs/gmail.md)");
  BOOST_TEST(files.error(head + "  password: pw\n" + kTail) ==
             "gw.yaml:5: target.password: is not used with kind: gmail-api (it signs in with oauth "
             "and talks to Google's API over HTTPS; see docs/gmail.md)");
  BOOST_TEST(files.error(head + "  api_url: http://localhost:80\n  oauth: {client_id: c}\n" + kTail) ==
             "gw.yaml:5: target.api_url: expected an https:// URL (the Gmail API's base, for tests)");
  BOOST_TEST(files.error("state_dir: /s\ntarget:\n  kind: pop\n  username: u\n" + kTail) .find(
                 "gw.yaml:3: target.kind: ") == 0u);
  BOOST_TEST(files.error("state_dir: /s\ntarget:\n  host: imap.example.com\n  username: u\n"
                         "  password: pw\n  never_mark_spam: true\n" + kTail) ==
             "gw.yaml:6: target.never_mark_spam: is only used with kind: gmail-api");
  BOOST_TEST(files.error("state_dir: /s\ntarget:\n  username: me@gmail.com\n  kind: gmail-api\n"
                         "  oauth: {client_id: c}\n  process_for_calendar: maybe\n" + kTail)
                 .find("gw.yaml:6: target.process_for_calendar: ") == 0u);
}
