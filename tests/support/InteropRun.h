#pragma once
// The kill -9 rounds of the interop tests: `popgate once` with keep: false, killed at random
// moments, over fresh messages, until enough kills have struck; then one clean pass.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/GatewaySetup.h"
#include "tests/support/MailServer.h"
#include "tests/support/Messages.h"

namespace popgate::test {

struct KillRound {
  int kills = 0;                      // passes killed by SIGKILL while running
  int passes = 0;                     // passes started, the final clean one included
  int lookups = 0;                    // recovery searches of in-flight messages (UID SEARCH)
  std::vector<std::string> seeded;    // every message put into the POP box, in order
  CommandResult last;                 // the final clean pass
};

// Round after round, seeds `batch(round)` into `user`'s POP box on `source`, then runs `popgate
// once --config config` again and again, each killed with SIGKILL 20..400 ms after its start
// (`seed` fixes the moments), until the box is empty; stops once `min_kills` kills have struck
// (at most 30 rounds). Then one pass runs to its end: `last`. With log_level: debug in the
// config, `lookups` counts the recovery searches every pass made (the proof that kills struck
// while uploads were in flight).
KillRound killNineRounds(const std::filesystem::path& config, MailServer& source,
                         const std::string& user, int min_kills,
                         const std::function<std::vector<std::string>(int round)>& batch,
                         std::uint32_t seed);

// Messages for kill rounds: bulkMessage()s of 2..9 KB, every 5th without a Message-ID (so its
// recovery goes by content alone), `count` of them starting at `first`.
std::vector<std::string> killRoundMessages(std::size_t first, std::size_t count);

// `messages` with each element changed by `change`.
std::vector<std::string> transformed(const std::vector<std::string>& messages,
                                     const std::function<std::string(const std::string&)>& change);

// How many elements of `want` are missing from `have` (as multisets), and how many of `have` are
// extra: the lost and the duplicated of a delivery.
struct Tally {
  std::size_t lost = 0;
  std::size_t duplicated = 0;
};
Tally compareDelivery(const std::vector<std::string>& want, const std::vector<std::string>& have);

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

// One line on stdout for the record of an interop cell:
// "interop figures | <cell> | <messages> messages | <kills> kills | <lost> lost | <dup> duplicated
//  | <quarantined> quarantined (<why>)".
void printFigures(const std::string& cell, std::size_t messages, int kills, const Tally& tally,
                  std::size_t quarantined, const std::string& why = {});

}  // namespace popgate::test
