#pragma once
// A whole pass (PollJob over the real Pop3Source and/or the real ImapSink) against scripted
// hostile servers, and the promises every such pass keeps, for tests/component/hostile_*_test.
// The side not under attack is an in-memory fake (FakeMail.h); the scripts come from
// PassScripts.h.
//
//   ScriptedServer pop({popLogin().then(popListingOf({m1})).then(popRetr(1, m1))
//                           .then(popDele(1)).then(popQuit())});
//   auto rig = popRig(pop);
//   checkPass(*rig, runPass(rig), {.uploaded = 1, .deleted = 1, .delivered = {m1},
//                                  .dele = {"DELE 1"}, .landed = {"m1"}}, {.pop = {&pop}});

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/GatewayConfig.h"
#include "connectors/common/Error.h"
#include "connectors/common/Printable.h"
#include "gateway/delivery/ImapPool.h"
#include "gateway/delivery/SqliteLedger.h"
#include "gateway/delivery/PollJob.h"
#include "gateway/service/StatusBoard.h"
#include "tests/support/FakeMail.h"
#include "tests/support/ScriptedServer.h"
#include "tests/support/TempDir.h"

namespace popgate::test {

// The one account every rig polls, and the credentials of its two sides: the secrets that
// checkPass() looks for wherever an administrator could read them.
inline const std::string kAccount = "hostile";
inline const std::string kPopUser = "bob";
inline const std::string kPopPassword = "pop-Pa55-9f3e1c";
inline const std::string kImapUser = "me";
inline const std::string kImapPassword = "imap-Pa55-77d0b2";

// Everything a pass touches: one account (on localhost, tls none, 2 s timeout, keep: false so a
// wrongful deletion would happen), its ledger, its status board, and the two sides of the pass.
// Shared with the thread that runs the pass, so a pass that hangs can be left behind (and
// reported) without its objects dying under it.
struct Rig {
  Rig();

  TempDir dir{"popgate-hostile"};
  config::PopAccount account;
  bool fake_pop = false;  // the FakeMaildrop instead of the real Pop3Source
  FakeMaildrop drop{};
  FakeTarget fake{};
  std::optional<config::ImapTarget> target{};  // set: the real ImapSink over `pool`
  std::shared_ptr<gateway::ImapPool> pool{};
  gateway::SqliteLedger ledger{dir.path() / "ledger.sqlite"};
  gateway::StatusBoard board{"test"};

  // Where the pass spools messages; checkPass() wants it empty afterwards.
  std::filesystem::path spoolDir() const { return dir.path() / "spool"; }
};

// POP3 side the real Pop3Source against `pop` with `tls`; target the FakeTarget.
std::shared_ptr<Rig> popRig(const ScriptedServer& pop, TlsMode tls = TlsMode::None);
// Makes the target the real ImapSink, through an ImapPool, against `imap` with `tls`.
void useImap(Rig& rig, const ScriptedServer& imap, TlsMode tls = TlsMode::None);
// POP3 side a FakeMaildrop holding `messages` (UIDL, bytes); target as useImap(imap, tls).
std::shared_ptr<Rig> imapRig(const ScriptedServer& imap,
                             const std::vector<std::pair<std::string, std::string>>& messages,
                             TlsMode tls = TlsMode::None);

// What one pass left behind where an administrator looks.
struct Outcome {
  bool finished = false;
  gateway::PollResult result{};
  std::string log{};     // every log line written during the pass (debug: protocol traces too)
  std::string status{};  // the /status document afterwards
  std::optional<std::string> last_error{};
  std::optional<std::string> last_error_kind{};
};

// Runs one pass of the rig's account as makePollJob() wires it (one upload thread; a POP3 server
// that fails under PIPELINING is asked again without it), then logs and posts its result as the
// Scheduler does. A pass still running after 30 s is a failed test case and is left behind:
// finished is then false and nothing else is filled in.
Outcome runPass(const std::shared_ptr<Rig>& rig);

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

// The scripted servers a pass spoke to, by side.
struct Servers {
  std::vector<const ScriptedServer*> pop{};
  std::vector<const ScriptedServer*> imap{};
};

// The promises every hostile case makes, checked as Boost.Test assertions:
//  - the pass ended (within 30 s), and every script of `servers` was followed to its end;
//  - the outcome is `want` (success, or the kind, our words and the server's words in the result,
//    in the error log line and in /status last_error), and so are the counters;
//  - the target got exactly the messages it should, the POP3 server exactly the DELE commands it
//    may (none unless the message reached the target);
//  - the ledger has an Uploaded/Deleted row for exactly the messages the target accepted;
//  - no password, in any form, in the result, the warnings, the log or /status;
//  - the log stays one line per event (no control bytes a server could use to forge lines);
//  - no spool file is left behind.
void checkPass(Rig& rig, const Outcome& out, const Expect& want, const Servers& servers);

// Fails the case if `text` (named `where` in the message) holds a password of the rig, in clear
// or inside a SASL PLAIN response.
void checkNoSecret(const std::string& where, std::string_view text);

// The state of `uidl` in the rig's ledger (the first row whose UIDL it is), if it has a row.
std::optional<gateway::LedgerState> ledgerState(Rig& rig, const std::string& uidl);

// How often `needle` occurs in the transcript of connection `i` of `srv`.
std::size_t occurrences(const ScriptedServer& srv, std::size_t i, std::string_view needle);

// The log line at `level` ("error", "warning", "info", "debug") that holds every part, if any.
std::optional<std::string> logLine(std::string_view log, std::string_view level,
                                   const std::vector<std::string>& parts);

// Whether `part` occurs in `text`.
inline bool has(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// `strings` as {"a", "b"}, each made printable and cut at 80 bytes: for assertion messages.
template <class Strings>
std::string show(const Strings& strings) {
  std::string out = "{";
  for (const auto& s : strings) out += (out.size() > 1 ? ", \"" : "\"") + printable(s, 80) + "\"";
  return out + "}";
}

}  // namespace popgate::test
