#include "tests/support/InteropRun.h"

#include <csignal>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include "tests/support/Messages.h"

namespace popgate::test {

using namespace std::chrono_literals;

namespace {

int occurrences(const std::string& text, const std::string& needle) {
  int n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

}  // namespace

KillRound killNineRounds(const std::filesystem::path& config, MailServer& source,
                         const std::string& user, int min_kills,
                         const std::function<std::vector<std::string>(int round)>& batch,
                         std::uint32_t seed) {
  KillRound round_result;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> delay_ms(20, 400);
  for (int round = 0; round < 30 && round_result.kills < min_kills; ++round) {
    std::vector<std::string> messages = batch(round);
    source.seedMany(user, messages);
    round_result.seeded.insert(round_result.seeded.end(), messages.begin(), messages.end());
    while (round_result.kills < min_kills && source.popBoxSize(user) > 0) {
      Process popgate({popgateBinary().string(), "once", "--config", config.string()});
      ++round_result.passes;
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
      if (popgate.running()) {
        popgate.kill(SIGKILL);
        ++round_result.kills;
      }
      popgate.wait(30s);
      round_result.lookups += occurrences(popgate.errorOutput(), " UID SEARCH ");
    }
  }
  round_result.last = runPopgate({"once", "--config", config.string()}, 300s);
  ++round_result.passes;
  round_result.lookups += occurrences(round_result.last.err, " UID SEARCH ");
  return round_result;
}

std::vector<std::string> killRoundMessages(std::size_t first, std::size_t count) {
  std::vector<std::string> out;
  for (std::size_t i = first; i < first + count; ++i) {
    std::string message = bulkMessage(i, 2000 + (i % 11) * 700);
    if (i % 5 == 0) {
      const std::size_t at = message.find("Message-ID:");
      message.erase(at, message.find("\r\n", at) + 2 - at);
    }
    out.push_back(std::move(message));
  }
  return out;
}

std::vector<std::string> transformed(const std::vector<std::string>& messages,
                                     const std::function<std::string(const std::string&)>& change) {
  std::vector<std::string> out;
  out.reserve(messages.size());
  for (const std::string& m : messages) out.push_back(change(m));
  return out;
}

Tally compareDelivery(const std::vector<std::string>& want, const std::vector<std::string>& have) {
  std::map<std::string, long> balance;
  for (const std::string& m : want) ++balance[m];
  for (const std::string& m : have) --balance[m];
  Tally tally;
  for (const auto& [message, n] : balance) {
    if (n > 0) tally.lost += static_cast<std::size_t>(n);
    if (n < 0) tally.duplicated += static_cast<std::size_t>(-n);
  }
  return tally;
}

std::vector<std::string> bytesOf(const std::vector<SampleMessage>& set) {
  std::vector<std::string> out;
  out.reserve(set.size());
  for (const SampleMessage& m : set) out.push_back(m.bytes);
  return out;
}

std::string crlfToLf(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  for (std::size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '\r' && i + 1 < message.size() && message[i + 1] == '\n') continue;
    out += message[i];
  }
  return out;
}

std::size_t headerEnd(std::string_view message) {
  if (message.substr(0, 2) == "\r\n") return 0;
  const std::size_t at = message.find("\r\n\r\n");
  return at == std::string_view::npos ? std::string::npos : at + 2;
}

std::string crlfLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += line + "\r\n";
  return out;
}

void printFigures(const std::string& cell, std::size_t messages, int kills, const Tally& tally,
                  std::size_t quarantined, const std::string& why) {
  std::cout << "interop figures | " << cell << " | " << messages << " messages | " << kills
            << " kills | " << tally.lost << " lost | " << tally.duplicated << " duplicated | "
            << quarantined << " quarantined" << (why.empty() ? "" : " (" + why + ")") << std::endl;
}

}  // namespace popgate::test
