#pragma once
// The kill -9 rounds of the interop tests: `popgate once` with keep: false, killed at random
// moments, over fresh messages, until enough kills have struck; then one clean pass.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "tests/support/GatewaySetup.h"
#include "tests/support/MailServer.h"
#include "tests/support/Messages.h"

namespace popgate::test {

struct KillRound {
  int kills = 0;                    // passes killed by SIGKILL while running
  int passes = 0;                   // passes started, the final clean one included
  int lookups = 0;                  // recovery searches of in-flight messages (UID SEARCH)
  std::vector<std::string> seeded;  // every message put into the POP box, in order
  CommandResult last;               // the final clean pass
};

// Round after round, seeds `batch(round)` into `user`'s POP box on `source`, then runs `popgate
// once --config config` again and again, each killed with SIGKILL — every other pass 20 ms..
// max_delay after its start, the others right after its n-th APPEND (n in 1..12; the config must
// have log_level: debug for that) — `seed` fixes the moments, until the box is empty. Stops once
// `min_kills` kills have struck (at most 30 rounds). Then passes run to their end until one
// succeeds (at most 10, a second apart: a POP server may still hold the maildrop of a killed
// session): `last`.
//
// A killed pass leaves commands on the wire that the servers still carry out: a target goes on
// storing the APPENDs whose bytes had left (Cyrus for up to seconds). The next pass starts once
// both servers have closed every connection of the killed one (source.pop3Port() and
// `target_port` have no half-closed connection left), as a restarted daemon finds them
// (RestartSec=10s); POPGATE_KILL_RESTART_AT_ONCE=1 starts it at once instead, which can make a
// duplicate (a lookup that runs before the server has stored the message it looks for).
//
// `lookups` counts the recovery searches (UID SEARCH in the debug trace) every pass made: the
// proof that kills struck while uploads were in flight.
KillRound killNineRounds(const std::filesystem::path& config, MailServer& source,
                         const std::string& user, std::uint16_t target_port, int min_kills,
                         const std::function<std::vector<std::string>(int round)>& batch,
                         std::uint32_t seed,
                         std::chrono::milliseconds max_delay = std::chrono::milliseconds(400));

// A kill -9 cell, checked: user "work" of `source` delivers with keep: false (4 connections,
// log_level: debug) into popgate's folder `folder` of user "me" on `target`, through
// killNineRounds() with 150 fresh killRoundMessages() a round. Then the final pass succeeded, at
// least `min_kills` kills struck, the POP box is empty, and `stored_folder` (the target's name)
// holds `stores(m)` for every seeded m exactly once, each stored message first passed through
// `read_as` (when set): 0 lost, 0 duplicated. Prints the figures line as `cell`.
using Change = std::function<std::string(const std::string&)>;
void checkKillNineCell(const std::string& cell, MailServer& source, MailServer& target,
                       const std::string& folder, const std::string& stored_folder, int min_kills,
                       std::uint32_t seed, const Change& stores, const Change& read_as = {});

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
// recovery goes by content alone), `count` of them starting at `first`.
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

// One line on stdout for the record of an interop cell:
// "interop figures | <cell> | <messages> messages | <kills> kills | <lost> lost | <dup> duplicated
//  | <quarantined> quarantined (<why>)".
void printFigures(const std::string& cell, std::size_t messages, int kills, const Tally& tally,
                  std::size_t quarantined, const std::string& why = {});

}  // namespace popgate::test
