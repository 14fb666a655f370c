#include "tests/support/HostileRig.h"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <future>
#include <sstream>
#include <thread>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "connectors/codec/Sasl.h"
#include "gateway/admin/StatusJson.h"
#include "gateway/delivery/ImapSink.h"
#include "gateway/delivery/Pop3Source.h"
#include "gateway/service/Logging.h"
#include "gateway/service/PassRunner.h"
#include "tests/support/TestCerts.h"

namespace popgate::test {

using namespace std::chrono_literals;
using gateway::LedgerState;

namespace {

// A pass that runs longer than this hangs: the case fails and the run goes on.
constexpr std::chrono::seconds kPassLimit{30};
// Scripts end soon after the client leaves; waiting longer means a script was not followed.
constexpr std::chrono::seconds kScriptLimit{15};

config::PopAccount popAccount(std::uint16_t port, TlsMode tls) {
  config::PopAccount a;
  a.name = kAccount;
  a.server.host = "localhost";
  a.server.port = port;
  a.server.tls = tls;
  a.server.ca_file = std::filesystem::path(TestCerts::caFile());
  a.server.username = kPopUser;
  a.server.password = config::Secret(kPopPassword);
  a.server.password_source = "password (inline in config)";
  a.server.timeout = 2s;
  a.folder = "INBOX";
  a.keep = false;  // so a wrongful deletion would happen if the code were wrong
  a.max_message_size = 1024 * 1024;
  return a;
}

config::ImapTarget imapTarget(std::uint16_t port, TlsMode tls) {
  config::ImapTarget t;
  t.server.host = "localhost";
  t.server.port = port;
  t.server.tls = tls;
  t.server.ca_file = std::filesystem::path(TestCerts::caFile());
  t.server.username = kImapUser;
  t.server.password = config::Secret(kImapPassword);
  t.server.password_source = "password (inline in config)";
  t.server.timeout = 2s;
  t.auth = config::ImapAuth::Auto;
  t.connections = 1;
  return t;
}

// The POP3 side of a pass: the FakeMaildrop, or the real Pop3Source against the scripted server.
gateway::SourceFactory sourceFor(const std::shared_ptr<Rig>& rig) {
  if (rig->fake_pop) return [rig] { return rig->drop.open(); };
  return [rig]() -> std::unique_ptr<gateway::MailSource> {
    return std::make_unique<gateway::Pop3Source>(rig->account,
                                                 gateway::traceTo(kAccount + " pop3"));
  };
}

// The target of a pass: the real ImapSink over the rig's pool, or the FakeTarget.
gateway::SinkFactory sinkFor(const std::shared_ptr<Rig>& rig) {
  if (rig->pool) {
    return [rig]() -> std::unique_ptr<gateway::MailSink> {
      return std::make_unique<gateway::ImapSink>(*rig->pool);
    };
  }
  return [rig] { return rig->fake.open(); };
}

// As makePollJob() wires a real pass: one upload thread per target connection, and a server
// that fails under PIPELINING is asked again without it.
gateway::PollOptions optionsFor(const std::shared_ptr<Rig>& rig) {
  gateway::PollOptions options;
  options.upload_threads = 1;
  if (!rig->fake_pop) {
    options.reopen_without_pipelining = [rig]() -> std::unique_ptr<gateway::MailSource> {
      pop3::Pop3Options pop3;
      pop3.allow_pipelining = false;
      return std::make_unique<gateway::Pop3Source>(rig->account,
                                                   gateway::traceTo(kAccount + " pop3"), pop3);
    };
  }
  return options;
}

// The log of the process: one stream for the whole run, emptied before each pass.
std::ostringstream& logStream() {
  static std::ostringstream out;
  return out;
}

// The lines of `text`, each without its LF or CRLF.
std::vector<std::string> linesOf(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    const std::size_t lf = text.find('\n');
    std::string_view line = text.substr(0, lf);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.emplace_back(line);
    if (lf == std::string_view::npos) break;
    text.remove_prefix(lf + 1);
  }
  return lines;
}

// Every client line of every connection of `servers` that starts with `verb` and a space.
std::set<std::string> commands(const std::vector<const ScriptedServer*>& servers,
                               std::string_view verb) {
  std::set<std::string> out;
  for (const ScriptedServer* srv : servers) {
    for (std::size_t i = 0; i < srv->accepted(); ++i) {
      for (const std::string& line : linesOf(srv->transcript(i))) {
        if (line.size() > verb.size() && line.starts_with(verb) && line[verb.size()] == ' ') {
          out.insert(line);
        }
      }
    }
  }
  return out;
}

// A hostile server must not be able to forge or hide log lines: no control bytes but TAB.
void checkLogIsPrintable(std::string_view log) {
  for (const std::string& line : linesOf(log)) {
    const bool clean = std::all_of(line.begin(), line.end(), [](char c) {
      const auto u = static_cast<unsigned char>(c);
      return u == '\t' || (u >= 0x20 && u != 0x7f);
    });
    BOOST_TEST(clean, "a log line holds control bytes: \"" << printable(line) << "\"");
  }
}

}  // namespace

Rig::Rig() : account(popAccount(0, TlsMode::None)) {
  gateway::AccountStatus status;
  status.name = kAccount;
  status.host = "localhost";
  status.folder = "INBOX";
  board.setAccounts({status});
}

std::shared_ptr<Rig> popRig(const ScriptedServer& pop, TlsMode tls) {
  auto rig = std::make_shared<Rig>();
  rig->account = popAccount(pop.port(), tls);
  return rig;
}

void useImap(Rig& rig, const ScriptedServer& imap, TlsMode tls) {
  rig.target = imapTarget(imap.port(), tls);
  rig.pool = gateway::makeImapPool(*rig.target);
}

std::shared_ptr<Rig> imapRig(const ScriptedServer& imap,
                             const std::vector<std::pair<std::string, std::string>>& messages,
                             TlsMode tls) {
  auto rig = std::make_shared<Rig>();
  rig->fake_pop = true;
  for (const auto& [uidl, bytes] : messages) rig->drop.add(bytes, uidl);
  useImap(*rig, imap, tls);
  return rig;
}

Outcome runPass(const std::shared_ptr<Rig>& rig) {
  logStream().str("");
  gateway::setupLogging(config::LogLevel::Debug, config::LogFormat::Text, logStream());
  Outcome out;
  // A detached thread rather than std::async: the future of std::async blocks in its destructor,
  // so a pass that hangs would hang the test run. This thread owns the rig and may be abandoned.
  auto promise = std::make_shared<std::promise<gateway::PollResult>>();
  std::future<gateway::PollResult> done = promise->get_future();
  std::thread([rig, promise] {
    gateway::PollResult r;
    {
      gateway::PollJob job(rig->account, rig->ledger, sourceFor(rig), sinkFor(rig), rig->spoolDir(),
                           optionsFor(rig));
      r = job.run();
    }
    promise->set_value(std::move(r));
  }).detach();
  if (done.wait_for(kPassLimit) != std::future_status::ready) {
    BOOST_ERROR("the pass did not end within " << kPassLimit.count() << " s: it hangs");
    return out;
  }
  out.finished = true;
  out.result = done.get();
  if (rig->pool) rig->pool->closeAll();  // as runPasses() does after the passes

  // The log lines and the board update the Scheduler makes for a finished pass.
  const gateway::PollResult& r = out.result;
  for (const std::string& p : r.problems) gateway::logWarning(kAccount + ": " + p);
  if (r.ok()) {
    gateway::logInfo(gateway::summarize(r));
  } else {
    gateway::logError(gateway::summarize(r));
  }
  std::vector<gateway::QuarantinedMessage> quarantine;
  for (const gateway::LedgerEntry& e : rig->ledger.quarantine(kAccount)) {
    quarantine.push_back(gateway::QuarantinedMessage{e.key, e.reason, e.attempts, e.retry_at});
  }
  rig->board.pollFinished(kAccount, r, std::chrono::system_clock::now(),
                          r.ok() ? gateway::AccountState::Idle : gateway::AccountState::Failing,
                          std::nullopt, std::move(quarantine));
  out.status = gateway::admin::renderStatusJson(rig->board.snapshot());
  Poco::JSON::Parser parser;
  const auto root = parser.parse(out.status).extract<Poco::JSON::Object::Ptr>();
  const auto account = root->getArray("accounts")->getObject(0);
  if (!account->isNull("last_error")) {
    out.last_error = account->getValue<std::string>("last_error");
  }
  if (!account->isNull("last_error_kind")) {
    out.last_error_kind = account->getValue<std::string>("last_error_kind");
  }
  out.log = logStream().str();
  return out;
}

std::optional<std::string> logLine(std::string_view log, std::string_view level,
                                   const std::vector<std::string>& parts) {
  for (const std::string& line : linesOf(log)) {
    const std::size_t space = line.find(' ');
    if (space == std::string::npos) continue;
    const std::string_view rest = std::string_view(line).substr(space + 1);
    if (!rest.starts_with(level) || rest.size() <= level.size() || rest[level.size()] != ' ') {
      continue;
    }
    bool all = true;
    for (const std::string& part : parts) all = all && has(line, part);
    if (all) return line;
  }
  return std::nullopt;
}

void checkNoSecret(const std::string& where, std::string_view text) {
  const std::vector<std::string> secrets = {kPopPassword, kImapPassword,
                                            codec::saslPlain(kPopUser, kPopPassword),
                                            codec::saslPlain(kImapUser, kImapPassword)};
  for (const std::string& secret : secrets) {
    BOOST_TEST(!has(text, secret), where << " holds a password: " << printable(text));
  }
}

void checkPass(Rig& rig, const Outcome& out, const Expect& want, const Servers& servers) {
  BOOST_REQUIRE_MESSAGE(out.finished, "the pass hung");
  for (const auto* list : {&servers.pop, &servers.imap}) {
    for (const ScriptedServer* srv : *list) {
      BOOST_TEST(srv->wait(kScriptLimit), "a script did not end: " << srv->report());
      BOOST_TEST(srv->failures().empty(), srv->report());
    }
  }
  const gateway::PollResult& r = out.result;
  const std::string summary = gateway::summarize(r);
  BOOST_TEST_MESSAGE(printable(summary));
  for (const std::string& p : r.problems) BOOST_TEST_MESSAGE("  warning: " << printable(p));

  // The outcome, as the result, the log line and /status tell it.
  if (want.kind) {
    BOOST_REQUIRE_MESSAGE(r.error.has_value(), "the pass succeeded: " << printable(summary));
    const std::string what = r.error->what();
    BOOST_TEST(r.error->kind() == *want.kind, printable(what));
    BOOST_TEST(r.error->account() == kAccount);
    BOOST_TEST(what.starts_with(kAccount + ": "), printable(what));
    BOOST_TEST(has(what, want.message), printable(what) << " lacks \"" << want.message << "\"");
    std::vector<std::string> parts{kAccount + ": ", want.message};
    if (!want.server.empty()) {
      BOOST_TEST(has(r.error->serverText(), want.server),
                 "server text \"" << printable(r.error->serverText()) << "\" lacks \""
                                  << printable(want.server) << "\"");
      BOOST_TEST(has(what, want.server), printable(what) << " does not quote the server");
      parts.push_back(want.server);
    }
    BOOST_TEST(logLine(out.log, "error", parts).has_value(), "no error log line with "
                                                                 << show(parts) << " in:\n"
                                                                 << printable(out.log, 6000));
    BOOST_REQUIRE(out.last_error.has_value());
    BOOST_TEST(out.last_error->starts_with(kAccount + ": "), printable(*out.last_error));
    for (const std::string& part : parts) {
      BOOST_TEST(has(*out.last_error, part), "/status last_error lacks \""
                                                 << printable(part)
                                                 << "\": " << printable(out.status));
    }
    BOOST_TEST(out.last_error_kind.value_or("") == std::string(kindName(*want.kind)));
  } else {
    BOOST_TEST(r.ok(), "the pass failed: " << printable(summary));
    BOOST_TEST(!out.last_error.has_value(), printable(out.status));
    const std::string said = kAccount + ": " + std::to_string(want.uploaded) + " uploaded";
    BOOST_TEST(logLine(out.log, "info", {said}).has_value(), printable(out.log, 6000));
  }

  // Counters.
  BOOST_TEST(r.uploaded == want.uploaded, summary);
  BOOST_TEST(r.recovered == want.recovered, summary);
  BOOST_TEST(r.skipped == want.skipped, summary);
  BOOST_TEST(r.deleted == want.deleted, summary);
  BOOST_TEST(r.rejected == want.rejected, summary);
  BOOST_TEST(r.too_large == want.too_large, summary);

  // The target got exactly what it should.
  if (rig.pool) {
    for (const std::string& m : want.delivered) {
      bool seen = false;
      for (const ScriptedServer* srv : servers.imap) seen = seen || srv->received(m);
      BOOST_TEST(seen, "the target never got \"" << printable(m) << "\"");
    }
    for (const std::string& m : want.not_delivered) {
      for (const ScriptedServer* srv : servers.imap) {
        BOOST_TEST(!srv->received(m), "the target got \"" << printable(m) << "\"");
      }
    }
  } else {
    const std::vector<std::string> got = rig.fake.all();
    BOOST_CHECK_MESSAGE(got == want.delivered,
                        "the target holds " << show(got) << ", expected " << show(want.delivered));
  }

  // Deletions: only what reached the target.
  const std::set<std::string> dele = commands(servers.pop, "DELE");
  BOOST_CHECK_MESSAGE(dele == want.dele,
                      "DELE sent: " << show(dele) << ", expected " << show(want.dele));
  if (rig.fake_pop) {
    std::set<std::string> kept;
    for (const auto& m : rig.drop.messages) kept.insert(m.uidl);
    BOOST_CHECK_MESSAGE(kept == want.kept, "left on the POP3 server: "
                                               << show(kept) << ", expected " << show(want.kept));
  }

  // The ledger claims an upload only for what the target accepted.
  std::set<std::string> landed;
  for (const auto& [key, entry] : rig.ledger.load(kAccount)) {
    if (entry.state == LedgerState::Uploaded || entry.state == LedgerState::Deleted) {
      landed.insert(gateway::uidlOfKey(key));
    }
  }
  BOOST_CHECK_MESSAGE(landed == want.landed, "ledger Uploaded/Deleted: " << show(landed)
                                                                         << ", expected "
                                                                         << show(want.landed));

  for (const std::string& part : want.problems) {
    const bool found = std::any_of(r.problems.begin(), r.problems.end(),
                                   [&](const std::string& p) { return has(p, part); });
    BOOST_TEST(found, "no warning with \"" << printable(part) << "\" among " << show(r.problems));
  }

  // No password anywhere an administrator (or a log shipper) looks.
  if (r.error) {
    checkNoSecret("the error", r.error->what());
    checkNoSecret("the server text", r.error->serverText());
  }
  for (const std::string& p : r.problems) checkNoSecret("a warning", p);
  checkNoSecret("the log", out.log);
  checkNoSecret("/status", out.status);
  checkLogIsPrintable(out.log);

  // Spools are temporary: nothing stays on disk, whatever happened.
  std::error_code ec;
  const bool spool_empty =
      !std::filesystem::exists(rig.spoolDir(), ec) || std::filesystem::is_empty(rig.spoolDir(), ec);
  BOOST_TEST(spool_empty, "spool files left in " << rig.spoolDir());
}

std::optional<LedgerState> ledgerState(Rig& rig, const std::string& uidl) {
  for (const auto& [key, entry] : rig.ledger.load(kAccount)) {
    if (gateway::uidlOfKey(key) == uidl) return entry.state;
  }
  return std::nullopt;
}

std::size_t occurrences(const ScriptedServer& srv, std::size_t i, std::string_view needle) {
  const std::string t = srv.transcript(i);
  std::size_t count = 0;
  for (std::size_t at = t.find(needle); at != std::string::npos; at = t.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

}  // namespace popgate::test
