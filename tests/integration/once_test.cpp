// `popgate once`, the real binary, against a real Dovecot: byte-exact delivery of the sample
// corpus from two accounts (POP3S and STLS, private CA as ca_file) through IMAP STARTTLS into a
// folder per account; a second pass adds nothing; keep: false empties the POP box; kill -9 at
// random moments loses and duplicates nothing; bad configs and bad passwords exit as docs/contract.md
// says.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <csignal>
#include <random>
#include <thread>

#include "tests/support/GatewaySetup.h"
#include "tests/support/ListingFlood.h"
#include "tests/support/Messages.h"

using namespace std::chrono_literals;
using namespace popgate::test;

namespace {

std::vector<std::string> expectedFromPop() {
  std::vector<std::string> out;
  for (const auto& s : sampleMessages()) out.push_back(popDelivered(s.bytes));
  return sorted(out);
}

}  // namespace

BOOST_AUTO_TEST_CASE(testTwoAccountsDeliverByteExactIntoTheirFolders) {
  DovecotSandbox dovecot({"work", "isp", "me"});
  for (const auto& s : sampleMessages()) {
    dovecot.seed("work", s.bytes);
    dovecot.seed("isp", s.bytes);
  }
  TempDir dir;
  const auto config = writeGatewayConfig(
      dir, dovecot, "me",
      {AccountSetup{"work", "Work", "implicit"}, AccountSetup{"isp", "ISP/Old Provider", "starttls"}});

  const CommandResult first = runPopgate({"once", "--config", config.string()});
  BOOST_TEST_INFO("stdout: " << first.out << "\nstderr: " << first.err);
  BOOST_TEST(first.exit_code == 0);
  const std::size_t n = sampleMessages().size();
  BOOST_TEST(first.out.find("work: " + std::to_string(n) + " uploaded") != std::string::npos);
  BOOST_TEST(first.out.find("isp: " + std::to_string(n) + " uploaded") != std::string::npos);
  BOOST_TEST(sorted(dovecot.messages("me", "Work")) == expectedFromPop());
  // "/" in a folder name separates levels: Dovecot's delimiter here is ".".
  BOOST_TEST(sorted(dovecot.messages("me", "ISP.Old Provider")) == expectedFromPop());
  BOOST_TEST(dovecot.popBoxSize("work") == n);  // keep: true

  const CommandResult second = runPopgate({"once", "--config", config.string()});
  BOOST_TEST(second.exit_code == 0);
  BOOST_TEST(second.out.find("work: 0 uploaded, " + std::to_string(n) + " already delivered") !=
             std::string::npos);
  BOOST_TEST(dovecot.count("me", "Work") == n);
  BOOST_TEST(dovecot.count("me", "ISP.Old Provider") == n);
}

BOOST_AUTO_TEST_CASE(testKeepFalseEmptiesThePopBoxAfterDelivery) {
  DovecotSandbox dovecot({"isp", "me"});
  for (const auto& s : sampleMessages()) dovecot.seed("isp", s.bytes);
  TempDir dir;
  const auto config = writeGatewayConfig(dir, dovecot, "me",
                                         {AccountSetup{"isp", "INBOX", "starttls", false}});
  const CommandResult r = runPopgate({"once", "--config", config.string(), "--account", "isp"});
  BOOST_TEST_INFO(r.out << r.err);
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(dovecot.popBoxSize("isp") == 0u);
  BOOST_TEST(sorted(dovecot.messages("me", "INBOX")) == expectedFromPop());
}

BOOST_AUTO_TEST_CASE(testKillNineDuringPassesLosesAndDuplicatesNothing) {
  DovecotSandbox dovecot({"work", "me"});
  std::vector<std::string> originals;
  for (std::size_t i = 0; i < 300; ++i) originals.push_back(bulkMessage(i, 2000 + (i % 7) * 900));
  dovecot.seedMany("work", originals);
  TempDir dir;
  // timeout 2s: a pass after a kill waits that long before it looks for what the killed one left
  // in flight (letItWork() does not count the wait).
  const auto config = writeGatewayConfig(
      dir, dovecot, "me", {AccountSetup{"work", "Work", "implicit", false}}, {}, 4, 0, "2s");

  std::mt19937 rng(20261127);
  std::uniform_int_distribution<int> delay_ms(20, 400);
  int kills = 0;
  for (int attempt = 0; attempt < 12 && dovecot.popBoxSize("work") > 0; ++attempt) {
    Process popgate({popgateBinary().string(), "once", "--config", config.string()});
    letItWork(popgate, std::chrono::milliseconds(delay_ms(rng)));
    if (popgate.running()) {
      popgate.kill(SIGKILL);
      ++kills;
    }
    popgate.wait(10s);
  }
  const CommandResult last = runPopgate({"once", "--config", config.string()});
  BOOST_TEST_INFO(last.out << last.err);
  BOOST_TEST(last.exit_code == 0);
  BOOST_TEST_MESSAGE("kill -9 during `once`: " << kills << " kills survived");
  BOOST_TEST(kills >= 1);
  BOOST_TEST(dovecot.popBoxSize("work") == 0u);
  BOOST_TEST(sorted(dovecot.messages("me", "Work")) == sorted(originals));  // none lost, none twice
}

BOOST_AUTO_TEST_CASE(testBadConfigExitsTwoWithFileLineAndKey) {
  TempDir dir;
  const auto config = dir.write("gw.yaml",
                                "state_dir: /tmp/x\n"
                                "target:\n"
                                "  host: localhost\n"
                                "  username: me\n"
                                "  password: x\n"
                                "accounts:\n"
                                "  - name: work\n"
                                "    host: localhost\n"
                                "    username: me\n"
                                "    password: x\n"
                                "    polll_interval: 5m\n");
  for (const std::string command : {"check", "once", "run"}) {
    const CommandResult r = runPopgate({command, "--config", config.string()});
    BOOST_TEST_CONTEXT(command) {
      BOOST_TEST(r.exit_code == 2);
      BOOST_TEST(r.err.find("gw.yaml:11: accounts[0].polll_interval: unknown key (did you mean "
                            "poll_interval?)") != std::string::npos);
      BOOST_TEST(std::count(r.err.begin(), r.err.end(), '\n') <= 2);
      BOOST_TEST(r.err.find("terminate") == std::string::npos);
    }
  }
  const CommandResult missing = runPopgate({"check", "--config", (dir.path() / "nope.yaml").string()});
  BOOST_TEST(missing.exit_code == 2);
  BOOST_TEST(missing.err.find("nope.yaml") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(testWrongPasswordExitsOneNamingTheAccountAndKeepsTheOthersGoing) {
  DovecotSandbox dovecot({"work", "isp", "me"});
  dovecot.seed("work", sampleMessages()[0].bytes);
  dovecot.seed("isp", sampleMessages()[1].bytes);
  TempDir dir;
  const auto config = writeGatewayConfig(
      dir, dovecot, "me",
      {AccountSetup{"work", "Work", "implicit", true, "not-the-password"},
       AccountSetup{"isp", "ISP", "starttls"}});
  const CommandResult r = runPopgate({"once", "--config", config.string()});
  BOOST_TEST_INFO(r.out << r.err);
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.out.find("work: 0 uploaded") != std::string::npos);
  BOOST_TEST(r.out.find("refused the login of work") != std::string::npos);
  BOOST_TEST(r.out.find("isp: 1 uploaded") != std::string::npos);
  BOOST_TEST(dovecot.count("me", "ISP") == 1u);
  BOOST_TEST((r.out + r.err).find("not-the-password") == std::string::npos);
  BOOST_TEST((r.out + r.err).find("pw-") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(testCheckPrintsASummaryWithoutSecrets) {
  DovecotSandbox dovecot({"work", "me"});
  TempDir dir;
  const auto config = writeGatewayConfig(dir, dovecot, "me", {AccountSetup{"work", "Work"}});
  const CommandResult r = runPopgate({"check", "--config", config.string()});
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(r.out.find("work") != std::string::npos);
  BOOST_TEST(r.out.find("pw-") == std::string::npos);
}

// A POP3 server that lists 3,000,000 messages (measured before the fix: popgate took 858 MB and
// was still busy after 300 s, without a word). Now the account fails at once with a clear error,
// memory stays bounded, and the other account is delivered as usual.
BOOST_AUTO_TEST_CASE(testThreeMillionMessageListingFailsClearlyWithBoundedMemory) {
  DovecotSandbox dovecot({"work", "me"});
  for (const auto& s : sampleMessages()) dovecot.seed("work", s.bytes);
  ListingFlood flood(3'000'000);
  AccountSetup huge{"flood", "Flood", "none"};
  huge.host = "127.0.0.1";
  huge.port = flood.port();
  TempDir dir;
  const auto config = writeGatewayConfig(dir, dovecot, "me",
                                         {AccountSetup{"work", "Work", "implicit"}, huge});
  Process popgate({popgateBinary().string(), "once", "--config", config.string()});
  const auto status = popgate.wait(120s);
  BOOST_REQUIRE(status.has_value());
  const std::string out = popgate.output() + popgate.errorOutput();
  BOOST_TEST_MESSAGE("3,000,000-line listing: exit " << status->describe() << ", peak RSS "
                                                     << status->max_rss_kb / 1024 << " MiB, "
                                                     << flood.linesSent() << " lines sent");
  BOOST_TEST(status->shellCode() == 1, out);  // one account failed
  BOOST_TEST(out.find("lists more than 200000 messages") != std::string::npos, out);
  BOOST_TEST(out.find("listing_limit") != std::string::npos, out);
  BOOST_TEST(out.find("work: " + std::to_string(sampleMessages().size()) + " uploaded") !=
             std::string::npos, out);
  BOOST_TEST(sorted(dovecot.messages("me", "Work")) == expectedFromPop());
  BOOST_TEST(status->max_rss_kb < 256 * 1024);
}

// fetchmail refuses an rc file others can read; popgate refuses such secret files in run and once
// (check only warns), and a state_dir another user could write.
BOOST_AUTO_TEST_CASE(testReadableSecretFileAndForeignStateDirAreRefused) {
  DovecotSandbox dovecot({"work", "me"});
  dovecot.seed("work", sampleMessages()[0].bytes);
  TempDir dir;
  const auto config = writeGatewayConfig(dir, dovecot, "me", {AccountSetup{"work", "Work"}});
  const std::filesystem::path secret = dir.path() / "secrets" / "work";
  std::filesystem::permissions(secret, std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  const std::string complaint = "accounts[0].password_file: " + secret.string() +
                                " is readable by other users (mode 0604)";
  for (const std::string command : {"once", "run"}) {
    const CommandResult r = runPopgate({command, "--config", config.string()}, 30s);
    BOOST_TEST_CONTEXT(command) {
      BOOST_TEST(r.exit_code == 2);
      BOOST_TEST(r.err.find(complaint + ": chmod 600 it, or set allow_readable_secrets: true") !=
                 std::string::npos, r.err);
    }
  }
  BOOST_TEST(countOrZero(dovecot, "me", "Work") == 0u);  // nothing ran
  const CommandResult check = runPopgate({"check", "--config", config.string()});
  BOOST_TEST(check.exit_code == 0);
  BOOST_TEST(check.out.find("warning: " + complaint) != std::string::npos, check.out);

  // The operator who really wants it says so.
  const std::string yaml = readFile(config);
  writeFile(config, "allow_readable_secrets: true\n" + yaml);
  const CommandResult allowed = runPopgate({"once", "--config", config.string()});
  BOOST_TEST_INFO(allowed.out << allowed.err);
  BOOST_TEST(allowed.exit_code == 0);
  BOOST_TEST(allowed.err.find(complaint) != std::string::npos);  // still said, as a warning
  BOOST_TEST(countOrZero(dovecot, "me", "Work") == 1u);

  // A state_dir the group may write: refused before anything is read or written.
  writeFile(config, yaml);
  std::filesystem::permissions(secret, std::filesystem::perms::owner_read);
  std::filesystem::permissions(dir.path() / "state", std::filesystem::perms::group_write,
                               std::filesystem::perm_options::add);
  const CommandResult shared = runPopgate({"once", "--config", config.string()});
  BOOST_TEST(shared.exit_code == 2);
  BOOST_TEST(shared.err.find("state_dir " + (dir.path() / "state").string() +
                             " is writable by other users") != std::string::npos, shared.err);
}
