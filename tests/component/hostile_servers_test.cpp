// The whole pass (PollJob over the real Pop3Source and/or the real ImapSink) against scripted
// hostile servers: every case of docs/protocol-notes.md "Hostile inputs popgate survives" and of
// its STARTTLS rules. The side not under attack is an in-memory fake (FakeMail.h). Every case
// makes the same promises, checked by checkPass():
//  - run() returns within kPassLimit (a pass that hangs fails the case, it does not hang the run);
//  - the POP server gets exactly the DELE commands the case allows (none unless the message
//    reached the target), the target gets exactly the messages it should;
//  - the ledger has an Uploaded/Deleted row for exactly the messages the target accepted;
//  - a failed pass names the account and quotes the server's words (when it said something) in
//    the result, in the log line and in /status; no password, in any form, in any of them;
//  - the log stays one line per event (no control bytes a server could use to forge lines);
//  - no spool file is left behind.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "config/GatewayConfig.h"
#include "connectors/codec/Sasl.h"
#include "connectors/common/Error.h"
#include "connectors/common/Printable.h"
#include "gateway/delivery/ImapPool.h"
#include "gateway/delivery/ImapSink.h"
#include "gateway/delivery/Ledger.h"
#include "gateway/service/Logging.h"
#include "gateway/service/PassRunner.h"
#include "gateway/delivery/PollJob.h"
#include "gateway/delivery/Pop3Source.h"
#include "gateway/service/StatusBoard.h"
#include "gateway/admin/StatusJson.h"
#include "tests/support/FakeMail.h"
#include "tests/support/ScriptedServer.h"
#include "tests/support/TempDir.h"
#include "tests/support/TestCerts.h"

using namespace std::chrono_literals;
using namespace popgate;
using gateway::LedgerState;
using test::Script;
using test::ScriptedServer;
using test::TestCerts;

namespace {

// A pass that runs longer than this hangs: the case fails and the run goes on.
constexpr std::chrono::seconds kPassLimit{30};
// Scripts end soon after the client leaves; waiting longer means a script was not followed.
constexpr std::chrono::seconds kScriptLimit{15};

const std::string kAccount = "hostile";
const std::string kPopUser = "bob";
const std::string kPopPassword = "pop-Pa55-9f3e1c";
const std::string kImapUser = "me";
const std::string kImapPassword = "imap-Pa55-77d0b2";

// ---------------------------------------------------------------------------------------------
// Messages and POP3 script fragments

std::string mail(int n) {
  const std::string id = std::to_string(n);
  return "Message-ID: <hostile-" + id + "@example.test>\r\nFrom: a@example.test\r\nSubject: case " +
         id + "\r\n\r\nbody " + id + "\r\n";
}

// A RETR answer for `body` (empty, or ending with CRLF): +OK, the body dot-stuffed, ".".
std::string retrReply(std::string_view body) {
  std::string out = "+OK " + std::to_string(body.size()) + " octets\r\n";
  bool line_start = true;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (line_start && body[i] == '.') out += '.';
    out += body[i];
    line_start = body[i] == '\n' && i > 0 && body[i - 1] == '\r';
  }
  return out + ".\r\n";
}

// "+OK", the lines each with CRLF, ".".
std::string multiline(const std::vector<std::string>& lines) {
  std::string out = "+OK\r\n";
  for (const std::string& line : lines) out += line + "\r\n";
  return out + ".\r\n";
}

std::string sizeOf(const std::string& body) {
  return std::to_string(body.size());
}

// Greeting, CAPA and USER/PASS accepted.
Script popLogin(const std::vector<std::string>& caps = {"USER", "UIDL"}) {
  return test::pop3Greeting()
      .then(test::pop3Capa(caps))
      .expect("USER " + kPopUser)
      .send("+OK\r\n")
      .expect("PASS ")
      .send("+OK logged in\r\n");
}

Script popListing(std::string uidl_reply, std::string list_reply) {
  Script s;
  s.expect("UIDL").send(std::move(uidl_reply)).expect("LIST").send(std::move(list_reply));
  return s;
}

// A well-behaved listing of messages 1..n with UIDLs m1..mn.
Script popListingOf(const std::vector<std::string>& bodies) {
  std::vector<std::string> uidl, list;
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    uidl.push_back(std::to_string(i + 1) + " m" + std::to_string(i + 1));
    list.push_back(std::to_string(i + 1) + " " + sizeOf(bodies[i]));
  }
  return popListing(multiline(uidl), multiline(list));
}

Script popRetr(int n, std::string_view body) {
  Script s;
  s.expect("RETR " + std::to_string(n)).send(retrReply(body));
  return s;
}

Script popDele(int n) {
  Script s;
  s.expect("DELE " + std::to_string(n)).send("+OK message " + std::to_string(n) + " deleted\r\n");
  return s;
}

Script popQuit() {
  Script s;
  s.expect("QUIT").send("+OK bye\r\n").close();
  return s;
}

// ---------------------------------------------------------------------------------------------
// IMAP script fragments

// Greeting with `caps` and a LOGIN answered with the capabilities (as Dovecot does).
Script imapLogin(const std::string& caps) {
  return test::imapGreeting(caps).expectCommand("LOGIN").sendTagged("OK [CAPABILITY " + caps +
                                                                    "] Logged in\r\n");
}

// The hierarchy delimiter query the client makes before it names a folder.
Script imapDelimiter() {
  Script s;
  s.expectCommand("LIST")
      .send("* LIST (\\Noselect) \"/\" \"\"\r\n")
      .sendTagged("OK List completed\r\n");
  return s;
}

Script imapLoggedIn(const std::string& caps) {
  return imapLogin(caps).then(imapDelimiter());
}

// One APPEND with a synchronizing literal, accepted.
Script imapAppendSync(const std::string& ok = "OK [APPENDUID 9 1] Append completed\r\n") {
  Script s;
  s.expectCommand("APPEND").send("+ go ahead\r\n").readAnnouncedLiteral().expect("").sendTagged(ok);
  return s;
}

// One APPEND with a non-synchronizing literal (LITERAL+), accepted.
Script imapAppendPlus(const std::string& ok = "OK [APPENDUID 9 1] Append completed\r\n") {
  Script s;
  s.expectCommand("APPEND").readAnnouncedLiteral().expect("").sendTagged(ok);
  return s;
}

// The pool's LOGOUT of an idle session at the end of the pass.
Script imapLogout() {
  Script s;
  s.expectCommand("LOGOUT")
      .send("* BYE Logging out\r\n")
      .sendTagged("OK Logout completed\r\n")
      .close();
  return s;
}

// ---------------------------------------------------------------------------------------------
// The rig: one account, its ledger, its status board, and the two sides of a pass

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

// Everything a pass touches. Shared with the thread that runs the pass, so a pass that hangs can
// be left behind (and reported) without its objects dying under it.
struct Rig {
  test::TempDir dir{"popgate-hostile"};
  config::PopAccount account = popAccount(0, TlsMode::None);
  bool fake_pop = false;  // the FakeMaildrop instead of the real Pop3Source
  test::FakeMaildrop drop{};
  test::FakeTarget fake{};
  std::optional<config::ImapTarget> target{};  // set: the real ImapSink over `pool`
  std::shared_ptr<gateway::ImapPool> pool{};
  gateway::Ledger ledger{dir.path() / "ledger.sqlite"};
  gateway::StatusBoard board{"test"};

  Rig() {
    gateway::AccountStatus status;
    status.name = kAccount;
    status.host = "localhost";
    status.folder = "INBOX";
    board.setAccounts({status});
  }
  std::filesystem::path spoolDir() const { return dir.path() / "spool"; }
};

// POP3 side scripted (against `pop`), target = FakeTarget.
std::shared_ptr<Rig> popRig(const ScriptedServer& pop, TlsMode tls = TlsMode::None) {
  auto rig = std::make_shared<Rig>();
  rig->account = popAccount(pop.port(), tls);
  return rig;
}

// Target scripted (against `imap`): the real ImapSink through an ImapPool.
void useImap(Rig& rig, const ScriptedServer& imap, TlsMode tls = TlsMode::None) {
  rig.target = imapTarget(imap.port(), tls);
  rig.pool = gateway::makeImapPool(*rig.target);
}

// POP3 side = FakeMaildrop holding `messages` (UIDL, bytes), target scripted.
std::shared_ptr<Rig> imapRig(const ScriptedServer& imap,
                             const std::vector<std::pair<std::string, std::string>>& messages,
                             TlsMode tls = TlsMode::None) {
  auto rig = std::make_shared<Rig>();
  rig->fake_pop = true;
  for (const auto& [uidl, bytes] : messages) rig->drop.add(bytes, uidl);
  useImap(*rig, imap, tls);
  return rig;
}

gateway::SourceFactory sourceFor(const std::shared_ptr<Rig>& rig) {
  if (rig->fake_pop) return [rig] { return rig->drop.open(); };
  return [rig]() -> std::unique_ptr<gateway::MailSource> {
    return std::make_unique<gateway::Pop3Source>(rig->account,
                                                 gateway::traceTo(kAccount + " pop3"));
  };
}

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

// What one pass left behind where an administrator looks.
struct Outcome {
  bool finished = false;
  gateway::PollResult result{};
  std::string log{};     // every log line written during the pass (debug: protocol traces too)
  std::string status{};  // the /status document afterwards
  std::optional<std::string> last_error{};
  std::optional<std::string> last_error_kind{};
};

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

// ---------------------------------------------------------------------------------------------
// The universal assertions

// What a case expects of its pass. Counters not named are expected to be 0.
struct Expect {
  std::optional<ErrorKind> kind{};  // none: the pass succeeds
  std::string message{};            // part of the error text (our words)
  std::string server{};             // the server's own words, quoted in error, log and /status
  std::uint64_t uploaded = 0, recovered = 0, skipped = 0, deleted = 0, rejected = 0, too_large = 0;
  std::vector<std::string> delivered{};      // what the target got (FakeTarget: exactly this)
  std::vector<std::string> not_delivered{};  // bytes a scripted target must never see
  std::set<std::string> dele{};              // DELE commands the scripted POP3 server got
  std::set<std::string> kept{};              // FakeMaildrop: UIDLs still there afterwards
  std::set<std::string> landed{};            // UIDLs with an Uploaded or Deleted ledger row
  std::vector<std::string> problems{};       // parts of the pass's warnings, each in one
};

struct Servers {
  std::vector<const ScriptedServer*> pop{};
  std::vector<const ScriptedServer*> imap{};
};

bool has(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

template <class Strings>
std::string show(const Strings& strings) {
  std::string out = "{";
  for (const auto& s : strings) out += (out.size() > 1 ? ", \"" : "\"") + printable(s, 80) + "\"";
  return out + "}";
}

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

// The log line at `level` ("error", "warning", "info", "debug") that holds every part, if any.
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

// Where a password could leak, each must hold none, in clear or inside a SASL PLAIN response.
void checkNoSecret(const std::string& where, std::string_view text) {
  const std::vector<std::string> secrets = {kPopPassword, kImapPassword,
                                            codec::saslPlain(kPopUser, kPopPassword),
                                            codec::saslPlain(kImapUser, kImapPassword)};
  for (const std::string& secret : secrets) {
    BOOST_TEST(!has(text, secret), where << " holds a password: " << printable(text));
  }
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

// The state of `uidl` in the ledger (the first row whose UIDL it is).
std::optional<LedgerState> ledgerState(Rig& rig, const std::string& uidl) {
  for (const auto& [key, entry] : rig.ledger.load(kAccount)) {
    if (gateway::uidlOfKey(key) == uidl) return entry.state;
  }
  return std::nullopt;
}

// How often `needle` occurs in transcript `i`.
std::size_t occurrences(const ScriptedServer& srv, std::size_t i, std::string_view needle) {
  const std::string t = srv.transcript(i);
  std::size_t count = 0;
  for (std::size_t at = t.find(needle); at != std::string::npos; at = t.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

// True when no client line before `upgrade` (the STLS/STARTTLS command) in transcript `i`
// carries a credential: everything before the handshake is what went in clear.
bool credentialsOnlyAfter(const ScriptedServer& srv, std::size_t i, std::string_view upgrade) {
  const std::string t = srv.transcript(i);
  const std::size_t at = t.find(upgrade);
  if (at == std::string::npos) return false;
  const std::string clear = t.substr(0, at);
  return !has(clear, "USER") && !has(clear, "PASS") && !has(clear, "AUTH") &&
         !has(clear, "LOGIN") && !has(clear, "AUTHENTICATE") && !has(clear, kPopPassword) &&
         !has(clear, kImapPassword);
}

}  // namespace

// =============================================================================================
// POP3 side (target = FakeTarget)

BOOST_AUTO_TEST_CASE(testSilentServerWithoutGreetingEndsInTheTimeout) {
  ScriptedServer pop({Script{}.stall(3s).expectEof()});
  auto rig = popRig(pop);
  const Outcome out = runPass(rig);
  checkPass(*rig, out, {.kind = ErrorKind::Transient, .message = "(timeout)"}, {.pop = {&pop}});
  BOOST_TEST(pop.transcript(0).empty(), "the client spoke before the greeting");
}

BOOST_AUTO_TEST_CASE(testErrGreetingFailsThePassWithTheServersWords) {
  ScriptedServer pop(
      {Script{}.send("-ERR [SYS/TEMP] too many connections, try later\r\n").expectEof()});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Transient,
             .message = "refused the session",
             .server = "-ERR [SYS/TEMP] too many connections, try later"},
            {.pop = {&pop}});
  BOOST_TEST(!pop.received(0, "USER"));
}

BOOST_AUTO_TEST_CASE(testCapaErrFallsBackToUserPass) {
  const std::string m1 = mail(1);
  ScriptedServer pop({Script{}
                          .send("+OK RFC 1939 only\r\n")
                          .expect("CAPA")
                          .send("-ERR unknown command\r\n")
                          .expect("USER " + kPopUser)
                          .send("+OK\r\n")
                          .expect("PASS ")
                          .send("+OK\r\n")
                          .then(popListingOf({m1}))
                          .then(popRetr(1, m1))
                          .then(popDele(1))
                          .then(popQuit())});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig),
            {.uploaded = 1,
             .deleted = 1,
             .delivered = {m1},
             .dele = {"DELE 1"},
             .landed = {"m1"},
             .problems = {"the server offers no CAPA (it answered \"-ERR unknown command\")"}},
            {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testOverlongStatusLineIsAProtocolError) {
  const std::string m1 = mail(1);
  ScriptedServer pop({popLogin()
                          .then(popListingOf({m1}))
                          .expect("RETR 1")
                          .send("+OK " + std::string(20000, 'x') + "\r\n" + m1 + ".\r\n")
                          .expectEof()});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Protocol, .message = "status line longer than 4096 octets"},
            {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testOverlongUidlLineLeavesThatMessageAlone) {
  const std::string m1 = mail(1), m2 = mail(2);
  ScriptedServer pop({popLogin()
                          .then(popListing(multiline({"1 " + std::string(100000, 'u'), "2 m2"}),
                                           multiline({"1 " + sizeOf(m1), "2 " + sizeOf(m2)})))
                          .then(popRetr(2, m2))
                          .then(popDele(2))
                          .then(popQuit())});
  auto rig = popRig(pop);
  const Outcome out = runPass(rig);
  checkPass(*rig, out,
            {.uploaded = 1,
             .deleted = 1,
             .delivered = {m2},
             .dele = {"DELE 2"},
             .landed = {"m2"},
             .problems = {"unusable UIDL line"}},
            {.pop = {&pop}});
  for (const std::string& p : out.result.problems) BOOST_TEST(p.size() < 300u, "warning too long");
  BOOST_TEST(!pop.received(0, "RETR 1"));
}

BOOST_AUTO_TEST_CASE(testBareLfStatusLinesAreAccepted) {
  const std::string m1 = mail(1);
  ScriptedServer pop({Script{}
                          .send("+OK bare LF server\n")
                          .expect("CAPA")
                          .send("+OK\nUSER\r\nUIDL\r\n.\r\n")
                          .expect("USER")
                          .send("+OK\n")
                          .expect("PASS")
                          .send("+OK\n")
                          .expect("UIDL")
                          .send("+OK\n1 m1\r\n.\r\n")
                          .expect("LIST")
                          .send("+OK\n1 " + sizeOf(m1) + "\r\n.\r\n")
                          .expect("RETR 1")
                          .send("+OK\n" + m1 + ".\r\n")
                          .expect("DELE 1")
                          .send("+OK\n")
                          .expect("QUIT")
                          .send("+OK\n")
                          .close()});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig),
            {.uploaded = 1, .deleted = 1, .delivered = {m1}, .dele = {"DELE 1"}, .landed = {"m1"}},
            {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testLoneCrAndLoneLfInABodyAreDeliveredUnchanged) {
  const std::string body =
      "Message-ID: <lone@example.test>\r\nSubject: lone line ends\r\n\r\n"
      "old Mac line\rsame line\nunix line\n.not a terminator\r\n\r\r\nend\r\n";
  ScriptedServer pop({popLogin()
                          .then(popListingOf({body}))
                          .then(popRetr(1, body))
                          .then(popDele(1))
                          .then(popQuit())});
  auto rig = popRig(pop);
  checkPass(
      *rig, runPass(rig),
      {.uploaded = 1, .deleted = 1, .delivered = {body}, .dele = {"DELE 1"}, .landed = {"m1"}},
      {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testLoneCrInStatusLinesCannotForgeALogLine) {
  // A lone CR is not a line end: it stays inside the status line, whose text reaches the log.
  const std::string m1 = mail(1), m2 = mail(2), m3 = mail(3);
  const std::string forged = "2025-01-01T00:00:00.000Z error   other: forged";
  ScriptedServer pop({test::pop3Greeting("hello\rworld")
                          .then(test::pop3Capa({"USER", "UIDL"}))
                          .expect("USER")
                          .send("+OK\r\n")
                          .expect("PASS")
                          .send("+OK\r\n")
                          .then(popListingOf({m1, m2, m3}))
                          .then(popRetr(1, m1))
                          .expect("RETR 2")
                          .send("-ERR message 2 is locked\r" + forged + "\r\n")
                          .then(popRetr(3, m3))
                          .then(popDele(1))
                          .then(popDele(3))
                          .then(popQuit())});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig),
            {.uploaded = 2,
             .deleted = 2,
             .delivered = {m1, m3},
             .dele = {"DELE 1", "DELE 3"},
             .landed = {"m1", "m3"},
             .problems = {"could not be retrieved: -ERR message 2 is locked"}},
            {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testBareLfTerminatorIsNotAnEnd) {
  // "\n.\n" looks like the end to a sloppy client; then the connection drops.
  ScriptedServer pop({popLogin()
                          .then(popListing(multiline({"1 m1"}), multiline({"1 80"})))
                          .expect("RETR 1")
                          .send("+OK\r\nMessage-ID: <fake-end@example.test>\r\n\r\ncut here\n.\n")
                          .close()});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Transient,
             .message = "closed the connection while we waited for message 1"},
            {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testBareLfDotLineInsideABodyIsData) {
  const std::string body =
      "Message-ID: <lfdot@example.test>\r\nSubject: lf dot\r\n\r\nbefore\n.\nafter\r\n";
  ScriptedServer pop({popLogin()
                          .then(popListingOf({body}))
                          .then(popRetr(1, body))
                          .then(popDele(1))
                          .then(popQuit())});
  auto rig = popRig(pop);
  checkPass(
      *rig, runPass(rig),
      {.uploaded = 1, .deleted = 1, .delivered = {body}, .dele = {"DELE 1"}, .landed = {"m1"}},
      {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testEofMidMessageDeletesNothing) {
  const std::string m1 = mail(1), m2 = mail(2);
  ScriptedServer pop({popLogin()
                          .then(popListingOf({m1, m2}))
                          .then(popRetr(1, m1))
                          .expect("RETR 2")
                          .send("+OK\r\n" + m2.substr(0, m2.size() / 2))
                          .close()});
  auto rig = popRig(pop);
  // m1 arrived whole before the connection broke: it is delivered (and deleted next pass), m2
  // is not, and nothing is deleted now.
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Transient,
             .message = "closed the connection while we waited for message 2",
             .uploaded = 1,
             .delivered = {m1},
             .not_delivered = {m2},
             .landed = {"m1"}},
            {.pop = {&pop}});
  BOOST_TEST(!pop.received(0, "QUIT"), "QUIT after a failed pass could commit deletions");
}

BOOST_AUTO_TEST_CASE(testStallMidMessageEndsInTheTimeout) {
  const std::string m1 = mail(1);
  ScriptedServer pop({popLogin()
                          .then(popListingOf({m1}))
                          .expect("RETR 1")
                          .send("+OK\r\n" + m1.substr(0, 20))
                          .stall(3s)
                          .expectEof()});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Transient, .message = "(timeout)"},
            {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testEofMidUidlListDeletesNothing) {
  ScriptedServer pop({popLogin().expect("UIDL").send("+OK\r\n1 m1\r\n2 m").close()});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Transient,
             .message = "closed the connection while we waited for UIDL list"},
            {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testStallMidListEndsInTheTimeout) {
  ScriptedServer pop({popLogin()
                          .expect("UIDL")
                          .send(multiline({"1 m1", "2 m2"}))
                          .expect("LIST")
                          .send("+OK\r\n1 120\r\n")
                          .stall(3s)
                          .expectEof()});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Transient, .message = "(timeout)"},
            {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testStlsInjectionInTheSamePacketIsDiscarded) {
  // A man in the middle appends a forged CAPA answer (offering SASL PLAIN) to the plaintext OK.
  // Acted upon, the client would answer the TLS-side CAPA with AUTH PLAIN and break the script.
  const std::string m1 = mail(1);
  ScriptedServer pop({test::pop3Greeting()
                          .then(test::pop3Capa({"STLS", "USER", "UIDL"}))
                          .expect("STLS")
                          .send("+OK Begin TLS\r\n+OK\r\nSASL PLAIN\r\nUSER\r\n.\r\n")
                          .tls(TestCerts::localhost())
                          .then(test::pop3Capa({"USER", "UIDL"}))
                          .expect("USER " + kPopUser)
                          .send("+OK\r\n")
                          .expect("PASS ")
                          .send("+OK\r\n")
                          .then(popListingOf({m1}))
                          .then(popRetr(1, m1))
                          .then(popDele(1))
                          .then(popQuit())});
  auto rig = popRig(pop, TlsMode::StartTls);
  checkPass(*rig, runPass(rig),
            {.uploaded = 1, .deleted = 1, .delivered = {m1}, .dele = {"DELE 1"}, .landed = {"m1"}},
            {.pop = {&pop}});
  BOOST_TEST(credentialsOnlyAfter(pop, 0, "STLS\r\n"), printable(pop.transcript(0)));
}

BOOST_AUTO_TEST_CASE(testStlsInjectionInALaterPacketFailsTheHandshake) {
  // The forged bytes arrive after the client has started its handshake: they are not TLS, so
  // the handshake fails; nothing is read as a POP3 answer and no credential is sent.
  ScriptedServer pop({test::pop3Greeting()
                          .then(test::pop3Capa({"STLS", "USER", "UIDL"}))
                          .expect("STLS")
                          .send("+OK Begin TLS\r\n")
                          .stall(500ms)
                          .send("+OK\r\nSASL PLAIN\r\nUSER\r\n.\r\n")
                          .tls(TestCerts::localhost())});
  auto rig = popRig(pop, TlsMode::StartTls);
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Security, .message = "TLS handshake"},
            {.pop = {&pop}});
  BOOST_TEST(credentialsOnlyAfter(pop, 0, "STLS\r\n"), printable(pop.transcript(0)));
  BOOST_TEST(!pop.received(0, "USER"));
}

BOOST_AUTO_TEST_CASE(testUidlLinesWithoutIdOverlongOrWithControlCharsAreLeftAlone) {
  const std::string m4 = mail(4);
  const std::string id71(71, 'a');
  ScriptedServer pop(
      {popLogin()
           .then(popListing(multiline({"1", "2 " + id71,
                                       "3 ab\x01"
                                       "cd",
                                       "4 m4",
                                       "5 e\x7f"
                                       "f",
                                       "6 caf\xe9"}),
                            multiline({"1 10", "2 10", "3 10", "4 " + sizeOf(m4), "5 10", "6 10"})))
           .then(popRetr(4, m4))
           .then(popDele(4))
           .then(popQuit())});
  auto rig = popRig(pop);
  const Outcome out = runPass(rig);
  checkPass(*rig, out,
            {.uploaded = 1,
             .deleted = 1,
             .delivered = {m4},
             .dele = {"DELE 4"},
             .landed = {"m4"},
             .problems = {"unusable UIDL line \"1\"", "unusable UIDL line \"2 aaaa"}},
            {.pop = {&pop}});
  BOOST_TEST(out.result.listed == 1u);
  BOOST_TEST(out.result.problems.size() == 5u, show(out.result.problems));
  BOOST_TEST(rig->ledger.load(kAccount).size() == 1u);
}

BOOST_AUTO_TEST_CASE(testUidlDuplicateIdsAreDeliveredOnceEachKeyedByContent) {
  // Hash-based servers repeat UIDLs. Each message counts by content; a second pass (after a QUIT
  // the server did not confirm) fetches them again to tell them apart, and uploads nothing twice.
  const std::string d1 = mail(1), d2 = mail(2), m3 = mail(3);
  const std::string uidl = multiline({"1 dup", "2 dup", "3 m3"});
  const std::string list = multiline({"1 " + sizeOf(d1), "2 " + sizeOf(d2), "3 " + sizeOf(m3)});
  ScriptedServer first({popLogin()
                            .then(popListing(uidl, list))
                            .then(popRetr(1, d1))
                            .then(popRetr(2, d2))
                            .then(popRetr(3, m3))
                            .then(popDele(1))
                            .then(popDele(2))
                            .then(popDele(3))
                            .expect("QUIT")
                            .send("-ERR [SYS/TEMP] could not commit\r\n")
                            .close()});
  auto rig = popRig(first);
  checkPass(*rig, runPass(rig),
            {.uploaded = 3,
             .delivered = {d1, d2, m3},
             .dele = {"DELE 1", "DELE 2", "DELE 3"},
             .landed = {"dup", "m3"},
             .problems = {"did not confirm QUIT"}},
            {.pop = {&first}});
  std::set<std::string> keys;
  for (const auto& [key, entry] : rig->ledger.load(kAccount)) keys.insert(key);
  BOOST_TEST(keys.size() == 3u, show(keys));
  BOOST_TEST(std::count_if(keys.begin(), keys.end(),
                           [](const std::string& k) { return k.starts_with("dup sha256:"); }) == 2);

  ScriptedServer second({popLogin()
                             .then(popListing(uidl, list))
                             .then(popRetr(1, d1))
                             .then(popRetr(2, d2))  // not 3: known by UIDL
                             .then(popDele(3))
                             .then(popDele(1))
                             .then(popDele(2))
                             .then(popQuit())});
  rig->account.server.port = second.port();
  checkPass(*rig, runPass(rig),
            {.skipped = 3,
             .deleted = 3,
             .delivered = {d1, d2, m3},
             .dele = {"DELE 1", "DELE 2", "DELE 3"},
             .landed = {"dup", "m3"}},
            {.pop = {&second}});
}

BOOST_AUTO_TEST_CASE(testNonNumericAndOverflowingNumbersAreNotMisread) {
  // 4294967297 = 2^32 + 1 would read as message 1 with a 32-bit wrap: "wraps" would then claim
  // message 1's upload. Sizes that do not parse leave the size unknown: the RETR cap still holds.
  const std::string m1 = mail(1), m2 = mail(2);
  ScriptedServer pop(
      {popLogin()
           .then(popListing(multiline({"x1 bad", "-1 negative", "0 zero", "2147483648 toobig",
                                       "4294967297 wraps", "1 m1", "2 m2"}),
                            multiline({"1 abc", "2 18446744073709551616", "99999999999 5"})))
           .then(popRetr(1, m1))
           .then(popRetr(2, m2))
           .then(popDele(1))
           .then(popDele(2))
           .then(popQuit())});
  auto rig = popRig(pop);
  const Outcome out = runPass(rig);
  checkPass(*rig, out,
            {.uploaded = 2,
             .deleted = 2,
             .delivered = {m1, m2},
             .dele = {"DELE 1", "DELE 2"},
             .landed = {"m1", "m2"},
             .problems = {"\"4294967297 wraps\"", "\"0 zero\"", "\"x1 bad\""}},
            {.pop = {&pop}});
  BOOST_TEST(out.result.problems.size() == 5u, show(out.result.problems));
  BOOST_TEST(occurrences(pop, 0, "RETR 1\r\n") == 1u);
}

BOOST_AUTO_TEST_CASE(testSizeAbove2To31IsSkippedAndReportedNeverDeleted) {
  const std::string m2 = mail(2);
  ScriptedServer pop({popLogin()
                          .then(popListing(multiline({"1 huge", "2 m2", "3 huger"}),
                                           multiline({"1 3000000000", "2 " + sizeOf(m2),
                                                      "3 9223372036854775807"})))
                          .then(popRetr(2, m2))
                          .then(popDele(2))
                          .then(popQuit())});
  auto rig = popRig(pop);
  const Outcome out = runPass(rig);
  checkPass(*rig, out,
            {.uploaded = 1,
             .deleted = 1,
             .too_large = 2,
             .delivered = {m2},
             .dele = {"DELE 2"},
             .landed = {"m2"}},
            {.pop = {&pop}});
  BOOST_TEST((ledgerState(*rig, "huge") == LedgerState::TooLarge));
  BOOST_TEST((ledgerState(*rig, "huger") == LedgerState::TooLarge));
  BOOST_TEST(logLine(out.log, "info", {kAccount + ": ", "2 too large"}).has_value(), out.log);
  BOOST_TEST(has(out.status, "\"too_large\":2"), out.status);
  BOOST_TEST(!pop.received(0, "RETR 1"));
  BOOST_TEST(!pop.received(0, "RETR 3"));
}

BOOST_AUTO_TEST_CASE(testLyingListSizeStillHitsTheCap) {
  // LIST says 100 bytes; the RETR brings 200 KiB against a 64 KiB limit. The message is drained,
  // parked as too large and kept; the next message on the same connection is delivered.
  std::string big = "Message-ID: <liar@example.test>\r\nSubject: liar\r\n\r\n";
  while (big.size() < 200 * 1024) big += std::string(998, 'x') + "\r\n";
  const std::string m2 = mail(2);
  ScriptedServer pop(
      {popLogin()
           .then(popListing(multiline({"1 liar", "2 m2"}), multiline({"1 100", "2 " + sizeOf(m2)})))
           .then(popRetr(1, big))
           .then(popRetr(2, m2))
           .then(popDele(2))
           .then(popQuit())});
  auto rig = popRig(pop);
  rig->account.max_message_size = 64 * 1024;
  checkPass(*rig, runPass(rig),
            {.uploaded = 1,
             .deleted = 1,
             .too_large = 1,
             .delivered = {m2},
             .dele = {"DELE 2"},
             .landed = {"m2"}},
            {.pop = {&pop}});
  BOOST_TEST((ledgerState(*rig, "liar") == LedgerState::TooLarge));
}

BOOST_AUTO_TEST_CASE(testEndlessBodyEndsAtTheDrainLimit) {
  // The body never ends. Past the size cap the bytes are drained, not stored, and past twice
  // the cap plus 1 MiB the connection is dropped: bounded memory, bounded time.
  std::string endless = "+OK\r\n";
  while (endless.size() < 3 * 1024 * 1024) endless += std::string(1000, 'y') + "\r\n";
  ScriptedServer pop({popLogin()
                          .then(popListing(multiline({"1 endless"}), multiline({"1 100"})))
                          .expect("RETR 1")
                          .send(endless)
                          .stall(3s)
                          .expectEof()});
  auto rig = popRig(pop);
  rig->account.max_message_size = 64 * 1024;
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Transient, .message = "far larger than its LIST size", .too_large = 1},
            {.pop = {&pop}});
}

// A message whose body never ends must not block the account: it is parked as too large the
// moment it passes the cap (before the connection is dropped), with a size over the limit, so the
// next pass leaves it alone whatever LIST claims, and delivers the messages after it.
BOOST_AUTO_TEST_CASE(testEndlessBodyDoesNotBlockTheMessagesAfterIt) {
  std::string endless = "+OK\r\n";
  while (endless.size() < 3 * 1024 * 1024) endless += std::string(1000, 'y') + "\r\n";
  const std::string m2 = mail(2);
  const std::string uidl = multiline({"1 endless", "2 m2"});
  const std::string list = multiline({"1 100", "2 " + sizeOf(m2)});
  ScriptedServer first({popLogin()
                            .then(popListing(uidl, list))
                            .expect("RETR 1")
                            .send(endless)
                            .stall(3s)
                            .expectEof()});
  auto rig = popRig(first);
  rig->account.max_message_size = 64 * 1024;
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Transient, .message = "far larger than its LIST size", .too_large = 1},
            {.pop = {&first}});

  // Next pass: the endless message is known to be too large and left alone; m2 goes through.
  ScriptedServer second({popLogin()
                             .then(popListing(uidl, list))
                             .then(popRetr(2, m2))
                             .then(popDele(2))
                             .then(popQuit())});
  rig->account.server.port = second.port();
  checkPass(*rig, runPass(rig),
            {.uploaded = 1,
             .deleted = 1,
             .too_large = 1,
             .delivered = {m2},
             .dele = {"DELE 2"},
             .landed = {"m2"}},
            {.pop = {&second}});
}

// A message parked as too large after a lying LIST size is not fetched (and drained) again on
// every pass: the row records a size over the limit, and plan() trusts the larger of the two.
BOOST_AUTO_TEST_CASE(testLyingListSizeIsNotFetchedAgainNextPass) {
  std::string big = "Message-ID: <liar@example.test>\r\nSubject: liar\r\n\r\n";
  while (big.size() < 200 * 1024) big += std::string(998, 'x') + "\r\n";
  const std::string uidl = multiline({"1 liar"});
  const std::string list = multiline({"1 100"});
  ScriptedServer first(
      {popLogin().then(popListing(uidl, list)).then(popRetr(1, big)).then(popQuit())});
  auto rig = popRig(first);
  rig->account.max_message_size = 64 * 1024;
  checkPass(*rig, runPass(rig), {.too_large = 1}, {.pop = {&first}});

  ScriptedServer second({popLogin().then(popListing(uidl, list)).then(popQuit())});
  rig->account.server.port = second.port();
  checkPass(*rig, runPass(rig), {.too_large = 1}, {.pop = {&second}});
  BOOST_TEST(!second.received(0, "RETR"));
}

// The timeout is per read, so a server that drips a body one byte at a time, just inside it,
// could hold the pass for days (1.1 MiB at one byte per 1.9 s is 25 days). A reply slower than the
// timeout must average 1 KiB/s (Connection::checkProgress), so it ends in bounded time.
BOOST_AUTO_TEST_CASE(testDrippingBodyEndsInBoundedTime) {
  const std::string m1 = mail(1);
  ScriptedServer pop({popLogin()
                          .then(popListingOf({m1}))
                          .expect("RETR 1")
                          .send("+OK\r\n")
                          .sendSlowly(std::string(200, 'd'), 1, 400ms)
                          .expectEof()});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Transient, .message = "message 1"},
            {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testRetrErrForOneMessageKeepsIt) {
  const std::string m1 = mail(1), m2 = mail(2), m3 = mail(3);
  ScriptedServer pop({popLogin()
                          .then(popListingOf({m1, m2, m3}))
                          .then(popRetr(1, m1))
                          .expect("RETR 2")
                          .send("-ERR [SYS/PERM] message 2 is unreadable\r\n")
                          .then(popRetr(3, m3))
                          .then(popDele(1))
                          .then(popDele(3))
                          .then(popQuit())});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig),
            {.uploaded = 2,
             .deleted = 2,
             .delivered = {m1, m3},
             .dele = {"DELE 1", "DELE 3"},
             .landed = {"m1", "m3"},
             .problems = {"(m2) could not be retrieved: -ERR [SYS/PERM] message 2 is unreadable"}},
            {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testDeleErrKeepsTheMessageAndSaysSo) {
  const std::string m1 = mail(1), m2 = mail(2);
  ScriptedServer pop({popLogin()
                          .then(popListingOf({m1, m2}))
                          .then(popRetr(1, m1))
                          .then(popRetr(2, m2))
                          .expect("DELE 1")
                          .send("-ERR message 1 is locked by another session\r\n")
                          .then(popDele(2))
                          .then(popQuit())});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig),
            {.uploaded = 2,
             .deleted = 1,
             .delivered = {m1, m2},
             .dele = {"DELE 1", "DELE 2"},
             .landed = {"m1", "m2"},
             .problems = {"DELE of message m1 was refused (server said: -ERR message 1 is locked "
                          "by another session)"}},
            {.pop = {&pop}});
  BOOST_TEST((ledgerState(*rig, "m1") == LedgerState::Uploaded));  // deleted next pass
  BOOST_TEST((ledgerState(*rig, "m2") == LedgerState::Deleted));
}

BOOST_AUTO_TEST_CASE(testQuitErrConfirmsNoDeletion) {
  const std::string m1 = mail(1), m2 = mail(2);
  ScriptedServer first({popLogin()
                            .then(popListingOf({m1, m2}))
                            .then(popRetr(1, m1))
                            .then(popRetr(2, m2))
                            .then(popDele(1))
                            .then(popDele(2))
                            .expect("QUIT")
                            .send("-ERR [SYS/TEMP] unable to commit changes\r\n")
                            .close()});
  auto rig = popRig(first);
  checkPass(*rig, runPass(rig),
            {.uploaded = 2,
             .delivered = {m1, m2},
             .dele = {"DELE 1", "DELE 2"},
             .landed = {"m1", "m2"},
             .problems = {"did not confirm QUIT"}},
            {.pop = {&first}});
  BOOST_TEST((ledgerState(*rig, "m1") == LedgerState::Uploaded));
  BOOST_TEST((ledgerState(*rig, "m2") == LedgerState::Uploaded));

  // Next pass: nothing fetched or uploaded again, the deletions are retried and confirmed.
  ScriptedServer second(
      {popLogin().then(popListingOf({m1, m2})).then(popDele(1)).then(popDele(2)).then(popQuit())});
  rig->account.server.port = second.port();
  checkPass(*rig, runPass(rig),
            {.skipped = 2,
             .deleted = 2,
             .delivered = {m1, m2},
             .dele = {"DELE 1", "DELE 2"},
             .landed = {"m1", "m2"}},
            {.pop = {&second}});
  BOOST_TEST((ledgerState(*rig, "m1") == LedgerState::Deleted));
}

BOOST_AUTO_TEST_CASE(testServerThatBreaksUnderPipeliningIsAskedAgainWithout) {
  const std::string m1 = mail(1), m2 = mail(2);
  const std::vector<std::string> caps{"USER", "UIDL", "PIPELINING"};
  ScriptedServer pop(
      {popLogin(caps)
           .expect("UIDL")
           .expect("LIST")
           .send(multiline({"1 m1", "2 m2"}) + multiline({"1 " + sizeOf(m1), "2 " + sizeOf(m2)}))
           .expect("RETR 1")
           .expect("RETR 2")
           .send(retrReply(m1) + "+OK\r\nhalf of it")
           .reset(),
       // The new session, without pipelining, fetches only what did not arrive whole (m2);
       // m1 is already on its way to the target and is deleted with the new numbering.
       popLogin(caps)
           .then(popListingOf({m1, m2}))
           .then(popRetr(2, m2))
           .then(popDele(1))
           .then(popDele(2))
           .then(popQuit())});
  auto rig = popRig(pop);
  checkPass(*rig, runPass(rig),
            {.uploaded = 2,
             .deleted = 2,
             .delivered = {m1, m2},
             .dele = {"DELE 1", "DELE 2"},
             .landed = {"m1", "m2"},
             .problems = {"failed under PIPELINING"}},
            {.pop = {&pop}});
}

// =============================================================================================
// Both sides scripted: what the target decides about odd messages

BOOST_AUTO_TEST_CASE(testEmptyMessageRefusedByTheTargetIsQuarantined) {
  // Dovecot refuses a zero-byte APPEND: the message is parked (kept on POP3, shown in /status).
  ScriptedServer pop({popLogin()
                          .then(popListing(multiline({"1 empty"}), multiline({"1 0"})))
                          .then(popRetr(1, ""))
                          .then(popQuit())});
  ScriptedServer imap({imapLoggedIn("IMAP4rev1 UIDPLUS")
                           .expectCommand("APPEND")
                           .sendTagged("NO Can't save a zero byte message\r\n")
                           .then(imapLogout())});
  auto rig = popRig(pop);
  useImap(*rig, imap);
  const Outcome out = runPass(rig);
  checkPass(*rig, out, {.rejected = 1, .problems = {"refused by the target, kept on the server"}},
            {.pop = {&pop}, .imap = {&imap}});
  BOOST_TEST((ledgerState(*rig, "empty") == LedgerState::Rejected));
  BOOST_TEST(has(out.status, "Can't save a zero byte message"), out.status);
  BOOST_TEST(has(imap.transcript(0), "{0}\r\n"));
}

BOOST_AUTO_TEST_CASE(testEmptyMessageAcceptedByTheTargetIsDelivered) {
  ScriptedServer pop({popLogin()
                          .then(popListing(multiline({"1 empty"}), multiline({"1 0"})))
                          .then(popRetr(1, ""))
                          .then(popDele(1))
                          .then(popQuit())});
  ScriptedServer imap(
      {imapLoggedIn("IMAP4rev1 UIDPLUS").then(imapAppendSync()).then(imapLogout())});
  auto rig = popRig(pop);
  useImap(*rig, imap);
  checkPass(*rig, runPass(rig),
            {.uploaded = 1, .deleted = 1, .dele = {"DELE 1"}, .landed = {"empty"}},
            {.pop = {&pop}, .imap = {&imap}});
}

BOOST_AUTO_TEST_CASE(testNulBytesGoAsABinaryLiteral) {
  const std::string body =
      std::string("Message-ID: <nul@example.test>\r\nSubject: nul\r\n\r\nbefore") + '\0' +
      "after\r\n";
  ScriptedServer pop({popLogin()
                          .then(popListingOf({body}))
                          .then(popRetr(1, body))
                          .then(popDele(1))
                          .then(popQuit())});
  ScriptedServer imap({imapLoggedIn("IMAP4rev1 LITERAL+ UIDPLUS BINARY")
                           .then(imapAppendPlus())
                           .then(imapLogout())});
  auto rig = popRig(pop);
  useImap(*rig, imap);
  checkPass(
      *rig, runPass(rig),
      {.uploaded = 1, .deleted = 1, .delivered = {body}, .dele = {"DELE 1"}, .landed = {"m1"}},
      {.pop = {&pop}, .imap = {&imap}});
  BOOST_TEST(has(imap.transcript(0), "~{" + sizeOf(body) + "+}\r\n"),
             printable(imap.transcript(0)));
}

BOOST_AUTO_TEST_CASE(testNulBytesWithoutBinaryAreRefusedHonestly) {
  const std::string nul =
      std::string("Message-ID: <nul@example.test>\r\nSubject: nul\r\n\r\nbefore") + '\0' +
      "after\r\n";
  const std::string m2 = mail(2);
  ScriptedServer pop({popLogin()
                          .then(popListingOf({nul, m2}))
                          .then(popRetr(1, nul))
                          .then(popRetr(2, m2))
                          .then(popDele(2))
                          .then(popQuit())});
  ScriptedServer imap(
      {imapLoggedIn("IMAP4rev1 LITERAL+ UIDPLUS").then(imapAppendPlus()).then(imapLogout())});
  auto rig = popRig(pop);
  useImap(*rig, imap);
  const Outcome out = runPass(rig);
  checkPass(*rig, out,
            {.uploaded = 1,
             .deleted = 1,
             .rejected = 1,
             .delivered = {m2},
             .not_delivered = {"before"},
             .dele = {"DELE 2"},
             .landed = {"m2"},
             .problems = {"contains NUL bytes", "does not offer BINARY"}},
            {.pop = {&pop}, .imap = {&imap}});
  BOOST_TEST((ledgerState(*rig, "m1") == LedgerState::Rejected));
  BOOST_TEST(occurrences(imap, 0, " APPEND ") == 1u);
}

// =============================================================================================
// IMAP side (POP3 side = FakeMaildrop)

BOOST_AUTO_TEST_CASE(testImapByeGreetingFailsThePass) {
  ScriptedServer imap({Script{}.send("* BYE Too many connections from your IP\r\n").expectEof()});
  auto rig = imapRig(imap, {{"m1", mail(1)}});
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Transient,
             .message = "refused the session",
             .server = "* BYE Too many connections from your IP",
             .kept = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST(!imap.received(0, "LOGIN"));
}

BOOST_AUTO_TEST_CASE(testImapErrGreetingIsAProtocolError) {
  // A POP3 server on the IMAP port.
  ScriptedServer imap({Script{}.send("-ERR this is a POP3 server\r\n").expectEof()});
  auto rig = imapRig(imap, {{"m1", mail(1)}});
  checkPass(
      *rig, runPass(rig),
      {.kind = ErrorKind::Protocol, .message = "cannot understand the greeting", .kept = {"m1"}},
      {.imap = {&imap}});
  BOOST_TEST(!imap.received(0, "LOGIN"));
}

// An administrator who points the target at a POP3 port must see what the server said: protocol
// errors quote the server's line.
BOOST_AUTO_TEST_CASE(testImapProtocolErrorQuotesTheServer) {
  ScriptedServer imap({Script{}.send("-ERR this is a POP3 server\r\n").expectEof()});
  auto rig = imapRig(imap, {{"m1", mail(1)}});
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Protocol,
             .message = "cannot understand the greeting",
             .server = "-ERR this is a POP3 server",
             .kept = {"m1"}},
            {.imap = {&imap}});
}

BOOST_AUTO_TEST_CASE(testNoInsteadOfContinuationSendsNoLiteral) {
  // The server refuses the first APPEND instead of saying "+": its literal must not follow (it
  // would be read as commands). The message is quarantined; the next one is delivered.
  const std::string m1 = mail(1), m2 = mail(2);
  ScriptedServer imap({imapLoggedIn("IMAP4rev1 UIDPLUS")
                           .expectCommand("APPEND")
                           .sendTagged("NO Message refused: content policy\r\n")
                           .then(imapAppendSync())
                           .then(imapLogout())});
  auto rig = imapRig(imap, {{"m1", m1}, {"m2", m2}});
  const Outcome out = runPass(rig);
  checkPass(*rig, out,
            {.uploaded = 1,
             .deleted = 1,
             .rejected = 1,
             .delivered = {m2},
             .not_delivered = {m1},
             .kept = {"m1"},
             .landed = {"m2"},
             .problems = {"NO Message refused: content policy"}},
            {.imap = {&imap}});
  BOOST_TEST((ledgerState(*rig, "m1") == LedgerState::Rejected));
  BOOST_TEST(has(out.status, "Message refused: content policy"), out.status);
}

BOOST_AUTO_TEST_CASE(testByeMidLiteralFailsTheLaterPassResumes) {
  std::string m1 = mail(1);
  m1 += std::string(50000, 'z') + "\r\n";
  ScriptedServer imap({imapLoggedIn("IMAP4rev1 UIDPLUS")
                           .expectCommand("APPEND")
                           .send("+ go ahead\r\n")
                           .readLiteral(100)
                           .send("* BYE Server shutting down\r\n")
                           .close()});
  auto rig = imapRig(imap, {{"m1", m1}});
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Transient,
             .message = "ended the session",
             .server = "* BYE Server shutting down",
             .kept = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST((ledgerState(*rig, "m1") == LedgerState::InFlight));
}

BOOST_AUTO_TEST_CASE(testOkWithoutAppendUidIsDelivered) {
  const std::string m1 = mail(1);
  ScriptedServer imap({imapLoggedIn("IMAP4rev1 LITERAL+")
                           .then(imapAppendPlus("OK Append completed\r\n"))
                           .then(imapLogout())});
  auto rig = imapRig(imap, {{"m1", m1}});
  checkPass(*rig, runPass(rig), {.uploaded = 1, .deleted = 1, .delivered = {m1}, .landed = {"m1"}},
            {.imap = {&imap}});
  const auto rows = rig->ledger.load(kAccount);
  BOOST_REQUIRE(rows.count("m1") == 1u);
  BOOST_TEST(rows.at("m1").uid == 0u);
  BOOST_TEST(rows.at("m1").uidvalidity == 0u);
}

BOOST_AUTO_TEST_CASE(testResetMidLiteralIsResentExactlyOnceNextPass) {
  const std::string m1 = mail(1);
  ScriptedServer imap({imapLoggedIn("IMAP4rev1 UIDPLUS")
                           .expectCommand("APPEND")
                           .send("+ go ahead\r\n")
                           .readLiteral(10)
                           .reset(),
                       // Next pass: the message was in flight, so the client looks first.
                       imapLoggedIn("IMAP4rev1 UIDPLUS")
                           .expectCommand("EXAMINE")
                           .sendTagged("OK [READ-ONLY] Examine completed\r\n")
                           .expectCommand("UID SEARCH")
                           .send("* SEARCH\r\n")
                           .sendTagged("OK Search completed\r\n")
                           .then(imapAppendSync())
                           .then(imapLogout())});
  auto rig = imapRig(imap, {{"m1", m1}});
  const Outcome first = runPass(rig);
  BOOST_REQUIRE(first.finished);
  BOOST_TEST(first.result.error.has_value());
  if (first.result.error) BOOST_TEST(first.result.error->kind() == ErrorKind::Transient);
  BOOST_TEST(rig->drop.messages.size() == 1u, "deleted after a failed upload");
  BOOST_TEST((ledgerState(*rig, "m1") == LedgerState::InFlight));
  BOOST_TEST(first.last_error.value_or("").starts_with(kAccount + ": "), first.status);
  checkNoSecret("the log", first.log);

  checkPass(*rig, runPass(rig), {.uploaded = 1, .deleted = 1, .delivered = {m1}, .landed = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST(occurrences(imap, 1, " APPEND ") == 1u);
  BOOST_TEST(occurrences(imap, 1, m1) == 1u);
  const std::string looked = "UID SEARCH HEADER Message-ID <hostile-1@example.test>\r\n";
  BOOST_TEST(imap.received(1, looked), printable(imap.transcript(1)));
}

BOOST_AUTO_TEST_CASE(testResetAfterTheLiteralIsRecoveredWithoutDuplicate) {
  // The server stored the message, then the connection died before its OK: the next pass finds
  // it by Message-ID, proves it by its content, and appends nothing.
  const std::string m1 = mail(1);
  ScriptedServer imap({imapLoggedIn("IMAP4rev1 UIDPLUS")
                           .expectCommand("APPEND")
                           .send("+ go ahead\r\n")
                           .readAnnouncedLiteral()
                           .expect("")
                           .reset(),
                       imapLoggedIn("IMAP4rev1 UIDPLUS")
                           .expectCommand("EXAMINE")
                           .sendTagged("OK [READ-ONLY] Examine completed\r\n")
                           .expectCommand("UID SEARCH")
                           .send("* SEARCH 41\r\n")
                           .sendTagged("OK Search completed\r\n")
                           .expectCommand("UID FETCH")
                           .send("* 1 FETCH (UID 41 BODY[]<0> {" + std::to_string(m1.size()) +
                                 "}\r\n" + m1 + ")\r\n")
                           .sendTagged("OK Fetch completed\r\n")
                           .then(imapLogout())});
  auto rig = imapRig(imap, {{"m1", m1}});
  const Outcome first = runPass(rig);
  BOOST_REQUIRE(first.finished);
  BOOST_TEST(first.result.error.has_value());
  BOOST_TEST(rig->drop.messages.size() == 1u);

  checkPass(*rig, runPass(rig), {.recovered = 1, .deleted = 1, .delivered = {m1}, .landed = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST(occurrences(imap, 0, " APPEND ") + occurrences(imap, 1, " APPEND ") == 1u);
}

BOOST_AUTO_TEST_CASE(testOverQuotaFailsThePassAndDeletesNothing) {
  const std::string m1 = mail(1), m2 = mail(2);
  const std::string full = "NO [OVERQUOTA] Quota exceeded (mailbox for user is full)";
  ScriptedServer imap({imapLoggedIn("IMAP4rev1 UIDPLUS")
                           .expectCommand("APPEND")
                           .sendTagged(full + "\r\n")
                           .expectCommand("APPEND")
                           .sendTagged(full + "\r\n")
                           .then(imapLogout())});
  auto rig = imapRig(imap, {{"m1", m1}, {"m2", m2}});
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::OverQuota,
             .message = "the target refused to store messages in \"INBOX\"",
             .server = full,
             .not_delivered = {m1, m2},
             .kept = {"m1", "m2"}},
            {.imap = {&imap}});
  BOOST_TEST(rig->ledger.load(kAccount).empty(), "a refused APPEND left a ledger row");
}

// [TRYCREATE] after a CREATE that succeeded: the APPEND is retried a bounded number of times,
// then the pass fails with the server's words (never an endless loop, never a quarantine).
BOOST_AUTO_TEST_CASE(testTryCreateForeverIsAMailboxProblem) {
  const std::string m1 = mail(1);
  Script script = imapLoggedIn("IMAP4rev1 UIDPLUS");
  script.expectCommand("APPEND")
      .sendTagged("NO [TRYCREATE] Mailbox doesn't exist: Archive\r\n")
      .expectCommand("CREATE")
      .sendTagged("OK Create completed\r\n");
  for (int round = 1; round <= imap::ImapClient::kTryCreateRounds; ++round) {
    script.expectCommand("APPEND").sendTagged("NO [TRYCREATE] Mailbox doesn't exist: Archive\r\n");
  }
  ScriptedServer imap({script.then(imapLogout())});
  auto rig = imapRig(imap, {{"m1", m1}});
  rig->account.folder = "Archive";
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::MailboxProblem,
             .message = "\"Archive\"",
             .server = "NO [TRYCREATE] Mailbox doesn't exist: Archive",
             .not_delivered = {m1},
             .kept = {"m1"}},
            {.imap = {&imap}});
}

BOOST_AUTO_TEST_CASE(testUntaggedNoiseEverywhereIsSkipped) {
  // Untagged responses before every answer, one with a literal that holds a fake tagged reply.
  const std::string m1 = mail(1);
  const std::string caps = "IMAP4rev1 LITERAL+ UIDPLUS";
  ScriptedServer imap({test::imapGreeting(caps)
                           .expectCommand("LOGIN")
                           .send("* 5 EXISTS\r\n* OK [ALERT] System shutdown in 10 minutes\r\n"
                                 "* CAPABILITY IMAP4rev1\r\n")
                           .sendTagged("OK [CAPABILITY " + caps + "] Logged in\r\n")
                           .expectCommand("LIST")
                           .send("* 1 FETCH (FLAGS (\\Seen) BODY[] {10}\r\nA0002 NO\r\n)\r\n"
                                 "* LIST (\\Noselect) \"/\" \"\"\r\n* 2 EXPUNGE\r\n")
                           .sendTagged("OK List completed\r\n")
                           .expectCommand("APPEND")
                           .readAnnouncedLiteral()
                           .expect("")
                           .send("* 6 EXISTS\r\n* 3 RECENT\r\n"
                                 "* 2 FETCH (BODY[HEADER] {13}\r\nA0003 BAD x\r\n)\r\n"
                                 "* NO [ALERT] disk almost full\r\n* BAD noise\r\n"
                                 "* OK [UNSEEN 3] still here\r\n")
                           .sendTagged("OK [APPENDUID 9 5] Append completed\r\n")
                           .then(imapLogout())});
  auto rig = imapRig(imap, {{"m1", m1}});
  checkPass(*rig, runPass(rig), {.uploaded = 1, .deleted = 1, .delivered = {m1}, .landed = {"m1"}},
            {.imap = {&imap}});
  const auto rows = rig->ledger.load(kAccount);
  BOOST_REQUIRE(rows.count("m1") == 1u);
  BOOST_TEST(rows.at("m1").uid == 5u);
}

BOOST_AUTO_TEST_CASE(testOverlongImapResponseIsAProtocolError) {
  ScriptedServer imap({imapLoggedIn("IMAP4rev1 LITERAL+ UIDPLUS")
                           .expectCommand("APPEND")
                           .readAnnouncedLiteral()
                           .expect("")
                           .send("* OK " + std::string(70000, 'x') + "\r\n")
                           .expectEof()});
  auto rig = imapRig(imap, {{"m1", mail(1)}});
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Protocol,
             .message = "cannot understand the APPEND reply",
             .kept = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST((ledgerState(*rig, "m1") == LedgerState::InFlight));
}

BOOST_AUTO_TEST_CASE(testHugeLiteralInAnUntaggedResponseIsAProtocolError) {
  // 100 MB announced (over the 64 MiB limit): refused at the announcement, nothing buffered.
  ScriptedServer imap({imapLoggedIn("IMAP4rev1 LITERAL+ UIDPLUS")
                           .expectCommand("APPEND")
                           .readAnnouncedLiteral()
                           .expect("")
                           .send("* 1 FETCH (BODY[] {100000000}\r\n" + std::string(1000, 'a'))
                           .expectEof()});
  auto rig = imapRig(imap, {{"m1", mail(1)}});
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Protocol,
             .message = "cannot understand the APPEND reply",
             .kept = {"m1"}},
            {.imap = {&imap}});
}

// =============================================================================================
// TLS and STARTTLS, both protocols

BOOST_AUTO_TEST_CASE(testStlsNotOfferedFailsBeforeCredentials) {
  ScriptedServer pop({test::pop3Greeting().then(test::pop3Capa({"USER", "UIDL"})).expectEof()});
  auto rig = popRig(pop, TlsMode::StartTls);
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Security, .message = "does not offer STLS"},
            {.pop = {&pop}});
  BOOST_TEST(pop.transcript(0) == "CAPA\r\n");
}

BOOST_AUTO_TEST_CASE(testStlsRefusedFailsBeforeCredentials) {
  ScriptedServer pop({test::pop3Greeting()
                          .then(test::pop3Capa({"STLS", "USER", "UIDL"}))
                          .expect("STLS")
                          .send("-ERR TLS not available right now\r\n")
                          .expectEof()});
  auto rig = popRig(pop, TlsMode::StartTls);
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Security,
             .message = "refused STLS",
             .server = "-ERR TLS not available right now"},
            {.pop = {&pop}});
  BOOST_TEST(pop.transcript(0) == "CAPA\r\nSTLS\r\n");
}

BOOST_AUTO_TEST_CASE(testStartTlsNotOfferedFailsBeforeCredentials) {
  ScriptedServer imap({test::imapGreeting("IMAP4rev1 LITERAL+ AUTH=PLAIN").expectEof()});
  auto rig = imapRig(imap, {{"m1", mail(1)}}, TlsMode::StartTls);
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Security, .message = "does not offer STARTTLS", .kept = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST(imap.transcript(0).empty(), printable(imap.transcript(0)));
}

BOOST_AUTO_TEST_CASE(testStartTlsRefusedFailsBeforeCredentials) {
  ScriptedServer imap({test::imapGreeting("IMAP4rev1 STARTTLS")
                           .expectCommand("STARTTLS")
                           .sendTagged("NO STARTTLS unavailable\r\n")
                           .expectEof()});
  auto rig = imapRig(imap, {{"m1", mail(1)}}, TlsMode::StartTls);
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Security,
             .message = "refused STARTTLS",
             .server = "NO STARTTLS unavailable",
             .kept = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST(!imap.received(0, "LOGIN"));
  BOOST_TEST(!imap.received(0, "AUTHENTICATE"));
}

BOOST_AUTO_TEST_CASE(testStartTlsInjectionInTheSamePacketIsDiscarded) {
  // Forged capabilities and a forged answer to the client's next command ride on the OK. Acted
  // upon, the client would log in with AUTHENTICATE PLAIN and break the script.
  const std::string m1 = mail(1);
  const std::string caps = "IMAP4rev1 LITERAL+ UIDPLUS";
  ScriptedServer imap({test::imapGreeting("IMAP4rev1 STARTTLS LOGINDISABLED")
                           .expectCommand("STARTTLS")
                           .sendTagged("OK Begin TLS negotiation now\r\n"
                                       "* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR\r\n"
                                       "A0002 OK injected\r\n")
                           .tls(TestCerts::localhost())
                           .then(test::imapCapability(caps))
                           .expectCommand("LOGIN")
                           .sendTagged("OK [CAPABILITY " + caps + "] Logged in\r\n")
                           .then(imapDelimiter())
                           .then(imapAppendPlus())
                           .then(imapLogout())});
  auto rig = imapRig(imap, {{"m1", m1}}, TlsMode::StartTls);
  checkPass(*rig, runPass(rig), {.uploaded = 1, .deleted = 1, .delivered = {m1}, .landed = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST(credentialsOnlyAfter(imap, 0, "STARTTLS\r\n"), printable(imap.transcript(0)));
}

BOOST_AUTO_TEST_CASE(testStartTlsInjectionInALaterPacketFailsTheHandshake) {
  ScriptedServer imap({test::imapGreeting("IMAP4rev1 STARTTLS LOGINDISABLED")
                           .expectCommand("STARTTLS")
                           .sendTagged("OK Begin TLS negotiation now\r\n")
                           .stall(500ms)
                           .send("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nA0002 OK injected\r\n")
                           .tls(TestCerts::localhost())});
  auto rig = imapRig(imap, {{"m1", mail(1)}}, TlsMode::StartTls);
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Security, .message = "TLS handshake", .kept = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST(credentialsOnlyAfter(imap, 0, "STARTTLS\r\n"), printable(imap.transcript(0)));
  BOOST_TEST(!imap.received(0, "LOGIN"));
}

BOOST_AUTO_TEST_CASE(testPreauthGreetingWithStartTlsFails) {
  ScriptedServer imap({Script{}
                           .send("* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] you are logged in\r\n")
                           .expectEof()});
  auto rig = imapRig(imap, {{"m1", mail(1)}}, TlsMode::StartTls);
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Security, .message = "PREAUTH", .kept = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST(imap.transcript(0).empty(), printable(imap.transcript(0)));
}

BOOST_AUTO_TEST_CASE(testPop3sCertificateForAnotherHostIsRefused) {
  ScriptedServer pop({Script{}.tls(TestCerts::otherHost())});
  auto rig = popRig(pop, TlsMode::Implicit);
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Security, .message = "TLS handshake"},
            {.pop = {&pop}});
  BOOST_TEST(pop.transcript(0).empty());
}

BOOST_AUTO_TEST_CASE(testPop3sSlowHandshakeDoesNotBypassTheHostNameCheck) {
  // docs/protocol-notes.md: a handshake slower than Poco's receive slice once skipped the name check.
  ScriptedServer pop({Script{}.stallHandshake(1500ms).tls(TestCerts::otherHost())});
  auto rig = popRig(pop, TlsMode::Implicit);
  rig->account.server.timeout = 4s;
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Security, .message = "TLS handshake"},
            {.pop = {&pop}});
  BOOST_TEST(pop.transcript(0).empty());
}

// A handshake cut by the network (a reset, or the server closing after the ClientHello) says
// nothing about the server's identity: a transient failure with normal backoff, not a TLS
// (security) failure that backs off like a wrong password.
BOOST_AUTO_TEST_CASE(testPop3sHandshakeCutByResetIsTransient) {
  ScriptedServer pop({Script{}.stallHandshake(100ms).reset()});
  auto rig = popRig(pop, TlsMode::Implicit);
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Transient, .message = "TLS handshake"},
            {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testPop3sHandshakeCutByCloseIsTransient) {
  ScriptedServer pop({Script{}.stallHandshake(100ms).close()});
  auto rig = popRig(pop, TlsMode::Implicit);
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Transient, .message = "TLS handshake"},
            {.pop = {&pop}});
}

BOOST_AUTO_TEST_CASE(testImapStartTlsHandshakeCutByResetIsTransient) {
  ScriptedServer imap({test::imapGreeting("IMAP4rev1 STARTTLS")
                           .expectCommand("STARTTLS")
                           .sendTagged("OK Begin TLS negotiation now\r\n")
                           .stallHandshake(100ms)
                           .reset()});
  auto rig = imapRig(imap, {{"m1", mail(1)}}, TlsMode::StartTls);
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Transient, .message = "TLS handshake", .kept = {"m1"}},
            {.imap = {&imap}});
}

BOOST_AUTO_TEST_CASE(testStlsCertificateForAnotherHostIsRefusedBeforeCredentials) {
  ScriptedServer pop({test::pop3Greeting()
                          .then(test::pop3Capa({"STLS", "USER", "UIDL"}))
                          .then(test::pop3Stls(TestCerts::otherHost()))});
  auto rig = popRig(pop, TlsMode::StartTls);
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Security, .message = "TLS handshake"},
            {.pop = {&pop}});
  BOOST_TEST(pop.transcript(0) == "CAPA\r\nSTLS\r\n");
}

BOOST_AUTO_TEST_CASE(testStlsSlowHandshakeWithAnotherHostsCertificateIsRefused) {
  ScriptedServer pop({test::pop3Greeting()
                          .then(test::pop3Capa({"STLS", "USER", "UIDL"}))
                          .expect("STLS")
                          .send("+OK Begin TLS negotiation\r\n")
                          .stallHandshake(1500ms)
                          .tls(TestCerts::otherHost())});
  auto rig = popRig(pop, TlsMode::StartTls);
  rig->account.server.timeout = 4s;
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Security, .message = "TLS handshake"},
            {.pop = {&pop}});
  BOOST_TEST(pop.transcript(0) == "CAPA\r\nSTLS\r\n");
}

BOOST_AUTO_TEST_CASE(testImapsCertificateForAnotherHostIsRefused) {
  ScriptedServer imap({Script{}.tls(TestCerts::otherHost())});
  auto rig = imapRig(imap, {{"m1", mail(1)}}, TlsMode::Implicit);
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Security, .message = "TLS handshake", .kept = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST(imap.transcript(0).empty());
}

BOOST_AUTO_TEST_CASE(testImapsSlowHandshakeDoesNotBypassTheHostNameCheck) {
  ScriptedServer imap({Script{}.stallHandshake(1500ms).tls(TestCerts::otherHost())});
  auto rig = imapRig(imap, {{"m1", mail(1)}}, TlsMode::Implicit);
  rig->target->server.timeout = 4s;
  rig->pool = gateway::makeImapPool(*rig->target);
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Security, .message = "TLS handshake", .kept = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST(imap.transcript(0).empty());
}

BOOST_AUTO_TEST_CASE(testImapStartTlsCertificateForAnotherHostIsRefusedBeforeLogin) {
  ScriptedServer imap(
      {test::imapGreeting("IMAP4rev1 STARTTLS").then(test::imapStartTls(TestCerts::otherHost()))});
  auto rig = imapRig(imap, {{"m1", mail(1)}}, TlsMode::StartTls);
  checkPass(*rig, runPass(rig),
            {.kind = ErrorKind::Security, .message = "TLS handshake", .kept = {"m1"}},
            {.imap = {&imap}});
  BOOST_TEST(!imap.received(0, "LOGIN"));
  BOOST_TEST(credentialsOnlyAfter(imap, 0, "STARTTLS\r\n"), printable(imap.transcript(0)));
}

BOOST_AUTO_TEST_CASE(testSelfSignedCertificateWithoutCaFileIsRefused) {
  ScriptedServer pop({Script{}.tls(TestCerts::selfSigned())});
  auto rig = popRig(pop, TlsMode::Implicit);
  rig->account.server.ca_file.reset();
  checkPass(*rig, runPass(rig), {.kind = ErrorKind::Security, .message = "TLS handshake"},
            {.pop = {&pop}});

  ScriptedServer imap({Script{}.tls(TestCerts::selfSigned())});
  auto target = imapRig(imap, {{"m1", mail(1)}}, TlsMode::Implicit);
  target->target->server.ca_file.reset();
  target->pool = gateway::makeImapPool(*target->target);
  checkPass(*target, runPass(target),
            {.kind = ErrorKind::Security, .message = "TLS handshake", .kept = {"m1"}},
            {.imap = {&imap}});
}

BOOST_AUTO_TEST_CASE(testStartTlsBothSidesCredentialsOnlyAfterTheHandshake) {
  const std::string m1 = mail(1);
  ScriptedServer pop({test::pop3Greeting()
                          .then(test::pop3Capa({"STLS", "USER", "UIDL", "SASL PLAIN"}))
                          .then(test::pop3Stls(TestCerts::localhost()))
                          .then(test::pop3Capa({"USER", "UIDL"}))
                          .expect("USER " + kPopUser)
                          .send("+OK\r\n")
                          .expect("PASS ")
                          .send("+OK\r\n")
                          .then(popListingOf({m1}))
                          .then(popRetr(1, m1))
                          .then(popDele(1))
                          .then(popQuit())});
  const std::string caps = "IMAP4rev1 LITERAL+ UIDPLUS";
  ScriptedServer imap({test::imapGreeting("IMAP4rev1 STARTTLS LOGINDISABLED")
                           .then(test::imapStartTls(TestCerts::localhost()))
                           .then(test::imapCapability(caps))
                           .expectCommand("LOGIN")
                           .sendTagged("OK [CAPABILITY " + caps + "] Logged in\r\n")
                           .then(imapDelimiter())
                           .then(imapAppendPlus())
                           .then(imapLogout())});
  auto rig = popRig(pop, TlsMode::StartTls);
  useImap(*rig, imap, TlsMode::StartTls);
  checkPass(*rig, runPass(rig),
            {.uploaded = 1, .deleted = 1, .delivered = {m1}, .dele = {"DELE 1"}, .landed = {"m1"}},
            {.pop = {&pop}, .imap = {&imap}});
  BOOST_TEST(credentialsOnlyAfter(pop, 0, "STLS\r\n"), printable(pop.transcript(0)));
  BOOST_TEST(credentialsOnlyAfter(imap, 0, "STARTTLS\r\n"), printable(imap.transcript(0)));
  BOOST_TEST(pop.received(0, "PASS " + kPopPassword));  // it did go, over TLS
  BOOST_TEST(imap.received(0, "LOGIN me " + kImapPassword));
}

BOOST_AUTO_TEST_CASE(testImplicitTlsBothSidesHandshakeBeforeAnyByte) {
  const std::string m1 = mail(1);
  ScriptedServer pop({Script{}
                          .tls(TestCerts::localhost())
                          .then(popLogin())
                          .then(popListingOf({m1}))
                          .then(popRetr(1, m1))
                          .then(popDele(1))
                          .then(popQuit())});
  ScriptedServer imap({Script{}
                           .tls(TestCerts::localhost())
                           .then(imapLoggedIn("IMAP4rev1 LITERAL+ UIDPLUS"))
                           .then(imapAppendPlus())
                           .then(imapLogout())});
  auto rig = popRig(pop, TlsMode::Implicit);
  useImap(*rig, imap, TlsMode::Implicit);
  checkPass(*rig, runPass(rig),
            {.uploaded = 1, .deleted = 1, .delivered = {m1}, .dele = {"DELE 1"}, .landed = {"m1"}},
            {.pop = {&pop}, .imap = {&imap}});
  for (const ScriptedServer* srv : {&pop, &imap}) {
    const auto events = srv->events(0);
    BOOST_REQUIRE(events.size() >= 2u);
    BOOST_TEST(events[1] == "TLS handshake done", show(events));
  }
}

BOOST_AUTO_TEST_CASE(testPlaintextCredentialsOnlyWithTlsNone) {
  // tls: none is the one configuration in which the password crosses the wire readable.
  const std::string m1 = mail(1);
  ScriptedServer pop(
      {popLogin().then(popListingOf({m1})).then(popRetr(1, m1)).then(popDele(1)).then(popQuit())});
  ScriptedServer imap(
      {imapLoggedIn("IMAP4rev1 LITERAL+ UIDPLUS").then(imapAppendPlus()).then(imapLogout())});
  auto rig = popRig(pop, TlsMode::None);
  useImap(*rig, imap, TlsMode::None);
  checkPass(*rig, runPass(rig),
            {.uploaded = 1, .deleted = 1, .delivered = {m1}, .dele = {"DELE 1"}, .landed = {"m1"}},
            {.pop = {&pop}, .imap = {&imap}});
  BOOST_TEST(pop.received(0, "\r\nPASS " + kPopPassword + "\r\n"));
  BOOST_TEST(imap.received(0, " LOGIN me " + kImapPassword + "\r\n"));
  BOOST_TEST(pop.events(0).size() >= 2u);
  for (const std::string& e : pop.events(0)) BOOST_TEST(e != "TLS handshake done");
}
