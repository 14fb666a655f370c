#pragma once
// The kill -9 rounds of the interop tests: `popgate once` with keep: false, killed at random
// moments or right where the target has stored a message popgate has not recorded yet, over
// fresh messages, until enough kills have struck; then clean passes. And the MATRIX line each
// cell prints.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include <boost/test/unit_test.hpp>

#include "tests/support/FaultProxy.h"
#include "tests/support/GatewaySetup.h"
#include "tests/support/MailServer.h"
#include "tests/support/Messages.h"

namespace popgate::test {

struct KillRound {
  int kills = 0;                    // passes killed by SIGKILL while running, aimed ones included
  int aimed_kills = 0;              // of those, killed while the target's OK to an APPEND was held
  int passes = 0;                   // passes started, the final clean one included
  int rounds = 0;                   // batches seeded (the next one is batch(rounds))
  int lookups = 0;                  // recovery searches of in-flight messages (UID SEARCH)
  std::uint64_t recovered = 0;      // "<n> recovered" in the summaries of the passes that ended
  std::vector<std::string> seeded;  // every message put into the POP box, in order
  CommandResult last;               // the final clean pass
};

// Round after round, seeds `batch(round)` into `user`'s POP box on `source`, then runs `popgate
// once --config config` again and again, each killed with SIGKILL — every other pass 20 ms..
// max_delay after its start, the others right after its n-th APPEND (n in 1..12; the config must
// have log_level: debug for that) — `seed` fixes the moments, until the box is empty. Stops once
// `min_kills` kills have struck (at most 30 rounds). Then passes run to their end until one
// succeeds (at most 10, a second apart: a POP server may still hold the maildrop of a killed
// session): `last`. Adds to `into` (its `seeded` says which round comes next).
//
// A killed pass leaves commands on the wire that the servers still carry out: a target goes on
// storing the APPENDs whose bytes had left (Cyrus for up to seconds); the next pass waits for
// them (the servers' timeout) before it looks for what the killed one left in flight, and that
// wait does not count in the random delays (letItWork()). The next pass starts once both servers
// have closed every connection of the killed one (source.pop3Port() and `target_port` have no
// half-closed connection left), as a restarted daemon finds them (RestartSec=10s);
// POPGATE_KILL_RESTART_AT_ONCE=1 starts it at once instead. POPGATE_KILL_TRACE_DIR=DIR keeps
// each pass's log and report in DIR/pass-N.log.
//
// `lookups` counts the recovery searches (UID SEARCH in the debug trace) every pass made: the
// proof that kills struck while uploads were in flight.
void killNineRounds(KillRound& into, const std::filesystem::path& config, MailServer& source,
                    const std::string& user, std::uint16_t target_port, int min_kills,
                    const std::function<std::vector<std::string>(int round)>& batch,
                    std::uint32_t seed,
                    std::chrono::milliseconds max_delay = std::chrono::milliseconds(400));

// Decides, through a FaultProxy(target, hook()), which tagged OK to an APPEND is held back and
// when the popgate pass is killed: the n-th such answer of an armed pass, once. Thread-safe.
class AppendAnswerKiller {
 public:
  // The hook for FaultProxy; the killer must outlive the proxy.
  AppendAnswerHook hook();
  // From now on the `nth` OK to an APPEND (counted over every connection) is held back, and the
  // process group `pid` is sent SIGKILL; the hook returns once the process is gone.
  void arm(pid_t pid, int nth);
  // No answer is held back any more. Returns whether the armed kill struck.
  bool disarm();

 private:
  bool onAppendOk();
  std::mutex mutex_;
  pid_t pid_ = 0;
  int nth_ = 0;
  int seen_ = 0;
  bool fired_ = false;
};

// Kills aimed at the gap between "the target stored the message" and "popgate recorded it":
// round after round, seeds `batch(round)` (more than 50 messages), runs a pass that `killer`
// kills when the target's n-th OK to an APPEND (n in 1..2, fixed by `seed`) is on its way,
// withheld from popgate — the target holds the message, the ledger says in flight — and then
// passes that run to their end (as killNineRounds()' last ones), which must find that message by
// search and content. Until `min_kills` such kills have struck (at most 3 * min_kills rounds).
// Adds to `into`.
void aimedKillRounds(KillRound& into, const std::filesystem::path& config, MailServer& source,
                     const std::string& user, AppendAnswerKiller& killer, std::uint16_t target_port,
                     int min_kills, const std::function<std::vector<std::string>(int round)>& batch,
                     std::uint32_t seed);

// A kill -9 cell, checked: user "work" of `source` delivers with keep: false (4 connections,
// log_level: debug) into popgate's folder `folder` of user "me" on `target`, through
// killNineRounds() with 150 fresh killRoundMessages() a round, then, when `aimed_kills` > 0,
// through aimedKillRounds() with that many kills and 60 fresh messages a round (popgate then
// reaches the target through a FaultProxy). Then the final pass succeeded, enough kills struck,
// every aimed kill was recovered by search (recovered >= aimed kills), the POP box is empty, and
// `stored_folder` (the target's name, read from the server's store) holds `stores(m)` for every
// seeded m exactly once, each stored message first passed through `read_as` (when set): 0 lost, 0
// duplicated. Prints the cell's MATRIX line as `cell` (printMatrixLine()).
using Change = std::function<std::string(const std::string&)>;
struct KillCell {
  std::string cell;           // the MATRIX line's cell= word, e.g. "mailutils-imap4d-target-kill9"
  std::string name;           // what it is, e.g. "Dovecot -> GNU mailutils 3.15 imap4d"
  std::string folder;         // popgate's folder name
  std::string stored_folder;  // the target's name for it
  int min_kills = 5;          // random kills (killNineRounds())
  int aimed_kills = 0;        // kills aimed at the APPEND answer (aimedKillRounds())
  std::uint32_t seed = 0;
  Change stores;     // what the target stores for a message it is given
  Change read_as{};  // applied to each stored message before comparing (when set)
};
void checkKillNineCell(MailServer& source, MailServer& target, const KillCell& cell);

// The first pass of `popgate once --config config`, checked: exit 0, "<account>: <uploaded>
// uploaded", and "<quarantined> quarantined" when that is not 0. Returns it.
CommandResult checkFirstPass(const std::filesystem::path& config, const std::string& account,
                             std::size_t uploaded, std::size_t quarantined = 0);

// A second pass, checked to add nothing: exit 0, "<account>: 0 uploaded, <delivered> already
// delivered", and `folder` of `user` on `target` still holds `delivered` messages.
void checkSecondPassAddsNothing(const std::filesystem::path& config, const std::string& account,
                                std::size_t delivered, MailServer& target, const std::string& user,
                                const std::string& folder);

// Messages for kill rounds: bulkMessage()s of 2..9 KB, every 5th without a Message-ID (so its
// recovery goes by Date/From/Subject and content alone), and every 4th a lookAlikeOf() the one
// before it (same Message-ID, or none, and same size; other bytes): `count` of them, the first
// numbered `first`.
std::vector<std::string> killRoundMessages(std::size_t first, std::size_t count);

// `messages` with each element changed by `change`.
std::vector<std::string> transformed(const std::vector<std::string>& messages,
                                     const Change& change);

// Boost.Test precondition for the cases of a server that runs in a Debian root: builds the root
// when it is missing (deploy/sandbox/test-root.sh; minutes, once per machine); where it cannot be
// had, prints "SKIPPED: <why>" (ctest then reports the test as skipped, not passed) and the
// cases do not run. A root whose build fails for another reason (a broken recipe) lets them run,
// and fail where they start their server.
struct RootAvailable {
  std::string root;  // deploy/sandbox/roots/<root>.sh
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const;
};

// The bytes of each message of `set`, in order.
std::vector<std::string> bytesOf(const std::vector<SampleMessage>& set);

// `message` with every CRLF turned into LF (a CR that no LF follows stays): how a maildir server
// that stores LF line ends keeps a message.
std::string crlfToLf(std::string_view message);

// Where the header of `message` ends: the offset just after the CRLF of its last header line
// (where the empty line starts), or std::string::npos when there is no empty line.
std::size_t headerEnd(std::string_view message);

// `lines` joined with CRLF, each line ended by it.
std::string crlfLines(const std::vector<std::string>& lines);

// For a failure message: the first message of `want` missing from `have` and the first message of
// `have` not in `want`, escaped (\r \n \xNN) and cut at 1500 bytes each; "" when they match.
std::string mismatch(const std::vector<std::string>& want, const std::vector<std::string>& have);

// The figures of one interop cell.
struct CellFigures {
  std::string cell;  // one word: "mailutils-imap4d-target", "cyrus-pop3d-source-kill9", ...
  std::string name;  // what it is: "Dovecot -> GNU mailutils 3.15 imap4d"
  std::size_t messages = 0;
  int kills = 0;
  int aimed_kills = 0;
  std::uint64_t recovered = 0;  // found by search after a kill
  int searches = 0;             // recovery searches (UID SEARCH) sent
  Tally tally;
  std::size_t quarantined = 0;
  std::string why{};  // why those were quarantined (or what else the server did)
};

// One greppable line on stdout for the record of an interop cell:
// MATRIX cell=<cell> messages=<n> kills=<n> aimed_kills=<n> recovered_by_search=<n>
// searches=<n> lost=<n> dup=<n> quarantined=<n> reason="<why>" name="<name>"
void printMatrixLine(const CellFigures& figures);

}  // namespace popgate::test
