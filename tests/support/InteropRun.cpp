#include "tests/support/InteropRun.h"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "tests/support/Messages.h"
#include "tests/support/ScriptSandbox.h"
#include "tests/support/TempDir.h"

namespace popgate::test {

using namespace std::chrono_literals;

namespace {

int occurrences(const std::string& text, const std::string& needle) {
  int n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

}  // namespace

namespace {

// APPEND commands in a debug trace so far ("imap#2 C: A0007 APPEND Work ..."), whatever the
// servers answered.
int appendsTraced(const std::string& trace) {
  int n = 0;
  for (std::size_t at = trace.find(" C: A"); at != std::string::npos;
       at = trace.find(" C: A", at + 1)) {
    // " C: A0007 APPEND "; the trace may end anywhere in a line (a pass still writing it)
    if (at + 17 <= trace.size() && trace.compare(at + 9, 8, " APPEND ") == 0) ++n;
  }
  return n;
}

// Waits (up to 30 s) until no TCP connection to 127.0.0.1:port of `ports` is half-closed on this
// side (FIN_WAIT1, FIN_WAIT2, CLOSING): the servers have finished with every session of a killed
// client.
void waitServersDone(std::initializer_list<std::uint16_t> ports) {
  const auto halfClosed = [&] {
    std::ifstream table("/proc/net/tcp");
    std::string line;
    std::getline(table, line);  // header
    while (std::getline(table, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      const std::size_t colon = remote.find(':');
      if (colon == std::string::npos) continue;
      const auto port =
          static_cast<std::uint16_t>(std::stoul(remote.substr(colon + 1), nullptr, 16));
      const bool mine = std::find(ports.begin(), ports.end(), port) != ports.end();
      if (mine && (state == "04" || state == "05" || state == "0B")) return true;
    }
    return false;
  };
  waitFor([&] { return !halfClosed(); }, 30s);
}

}  // namespace

namespace {

// The sum of "<n> recovered" over the summary lines of a pass ("kill: 3 uploaded, 2 recovered,
// ...").
std::uint64_t recoveredIn(const std::string& summary) {
  std::uint64_t total = 0;
  for (std::size_t at = summary.find(" recovered,"); at != std::string::npos;
       at = summary.find(" recovered,", at + 1)) {
    std::size_t start = at;
    while (start > 0 && summary[start - 1] >= '0' && summary[start - 1] <= '9') --start;
    if (start < at && start >= 2 && summary.compare(start - 2, 2, ", ") == 0) {
      total += std::stoull(summary.substr(start, at - start));
    }
  }
  return total;
}

// With POPGATE_KILL_TRACE_DIR set, pass `n`'s log (debug trace) and report go to pass-<n>.log
// there: what a failed kill cell needs to be read pass by pass.
void keepTrace(int n, const std::string& log, const std::string& report) {
  const char* dir = std::getenv("POPGATE_KILL_TRACE_DIR");
  if (dir == nullptr) return;
  std::ofstream(std::string(dir) + "/pass-" + std::to_string(n) + ".log")
      << log << "\n--- report\n" << report;
}

// Passes that run to their end until one succeeds (at most 10, a second apart: a POP server may
// still hold the maildrop of a killed session), counted into `into`; the last one is its `last`.
void cleanPasses(KillRound& into, const std::filesystem::path& config) {
  for (int attempt = 1; attempt <= 10; ++attempt) {
    into.last = runPopgate({"once", "--config", config.string()}, 300s);
    ++into.passes;
    keepTrace(into.passes, into.last.err, into.last.out);
    into.lookups += occurrences(into.last.err, " UID SEARCH ");
    into.recovered += recoveredIn(into.last.out);
    if (into.last.exit_code == 0) break;
    std::this_thread::sleep_for(1s);  // a retry later, as the daemon's backoff would
  }
}

// Waits (up to 10 s) until process `pid` has ended (gone, or a zombie waiting to be reaped).
void waitGone(pid_t pid) {
  const std::filesystem::path stat = "/proc/" + std::to_string(pid) + "/stat";
  waitFor(
      [&] {
        std::ifstream in(stat);
        std::string text;
        if (!std::getline(in, text)) return true;
        const std::size_t paren = text.rfind(')');
        return paren == std::string::npos || paren + 2 >= text.size() || text[paren + 2] == 'Z';
      },
      10s);
}

}  // namespace

void killNineRounds(KillRound& into, const std::filesystem::path& config, MailServer& source,
                    const std::string& user, std::uint16_t target_port, int min_kills,
                    const std::function<std::vector<std::string>(int round)>& batch,
                    std::uint32_t seed, std::chrono::milliseconds max_delay) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> delay_ms(20, static_cast<int>(max_delay.count()));
  std::uniform_int_distribution<int> appends(1, 12);
  const char* at_once = std::getenv("POPGATE_KILL_RESTART_AT_ONCE");
  const bool restart_at_once = at_once != nullptr && std::string(at_once) == "1";
  const int goal = into.kills + min_kills;
  for (int round = 0; round < 30 && into.kills < goal; ++round) {
    std::vector<std::string> messages = batch(into.rounds++);
    source.seedMany(user, messages);
    into.seeded.insert(into.seeded.end(), messages.begin(), messages.end());
    while (into.kills < goal && source.popBoxSize(user) > 0) {
      Process popgate({popgateBinary().string(), "once", "--config", config.string()});
      ++into.passes;
      if (into.passes % 2 == 1) {
        // Anywhere: connecting, listing, retrieving, uploading, deleting.
        letItWork(popgate, std::chrono::milliseconds(delay_ms(rng)));
      } else {
        // In the middle of the uploads, where an APPEND may be stored and not yet recorded:
        // after the n-th APPEND the trace shows (with log_level: debug; without a trace, at the
        // end of the pass or after 30 s).
        const int n = appends(rng);
        const auto give_up = std::chrono::steady_clock::now() + 30s;
        while (popgate.running() && appendsTraced(popgate.errorOutput()) < n &&
               std::chrono::steady_clock::now() < give_up) {
          std::this_thread::sleep_for(2ms);
        }
      }
      if (popgate.running()) {
        popgate.kill(SIGKILL);
        ++into.kills;
      }
      popgate.wait(30s);
      keepTrace(into.passes, popgate.errorOutput(), popgate.output());
      into.lookups += occurrences(popgate.errorOutput(), " UID SEARCH ");
      into.recovered += recoveredIn(popgate.output());
      if (!restart_at_once) waitServersDone({source.pop3Port(), target_port});
    }
  }
  cleanPasses(into, config);
}

AppendAnswerHook AppendAnswerKiller::hook() {
  return [this](int) { return onAppendOk(); };
}

void AppendAnswerKiller::arm(pid_t pid, int nth) {
  std::lock_guard lock(mutex_);
  pid_ = pid;
  nth_ = nth;
  seen_ = 0;
  fired_ = false;
}

bool AppendAnswerKiller::disarm() {
  std::lock_guard lock(mutex_);
  pid_ = 0;
  return fired_;
}

bool AppendAnswerKiller::onAppendOk() {
  std::lock_guard lock(mutex_);
  if (pid_ == 0 || fired_ || ++seen_ < nth_) return false;
  fired_ = true;
  ::kill(-pid_, SIGKILL);  // the process group, as Process::kill()
  waitGone(pid_);          // the answer is never forwarded to a living pass
  return true;
}

void aimedKillRounds(KillRound& into, const std::filesystem::path& config, MailServer& source,
                     const std::string& user, AppendAnswerKiller& killer, std::uint16_t target_port,
                     int min_kills, const std::function<std::vector<std::string>(int round)>& batch,
                     std::uint32_t seed) {
  std::mt19937 rng(seed);
  // With MULTIAPPEND, a window of messages goes in one APPEND: batches of more than 50 messages
  // (two windows) make at least two.
  std::uniform_int_distribution<int> nth(1, 2);
  int struck = 0;
  for (int round = 0; round < 3 * min_kills && struck < min_kills; ++round) {
    std::vector<std::string> messages = batch(into.rounds++);
    source.seedMany(user, messages);
    into.seeded.insert(into.seeded.end(), messages.begin(), messages.end());
    {
      Process popgate({popgateBinary().string(), "once", "--config", config.string()});
      ++into.passes;
      killer.arm(popgate.pid(), nth(rng));
      popgate.wait(300s);
      keepTrace(into.passes, popgate.errorOutput(), popgate.output());
      if (killer.disarm()) {
        ++struck;
        ++into.kills;
        ++into.aimed_kills;
      }
      into.lookups += occurrences(popgate.errorOutput(), " UID SEARCH ");
      into.recovered += recoveredIn(popgate.output());
    }
    waitServersDone({source.pop3Port(), target_port});
    cleanPasses(into, config);
  }
}

void checkKillNineCell(MailServer& source, MailServer& target, const KillCell& cell) {
  TempDir dir;
  AppendAnswerKiller killer;
  std::optional<FaultProxy> proxy;
  ServerLogin login = imapLogin(target, "me");
  if (cell.aimed_kills > 0) {
    proxy.emplace(target.imapPort(), killer.hook());
    login.port = proxy->port();
  }
  // The servers' timeout is also how long a pass after a kill waits before it looks for what the
  // killed one left in flight (docs/design.md, "Recovery"): short, so that the kills stay cheap.
  const auto config = writePairedConfig(
      dir, login, {PairedAccount{"kill", pop3Login(source, "work"), cell.folder, false}}, 4, "2s",
      "debug");
  const auto batch = [](int r) {
    return killRoundMessages(static_cast<std::size_t>(r) * 1000, 150);
  };
  KillRound round;
  killNineRounds(round, config, source, "work", target.imapPort(), cell.min_kills, batch,
                 cell.seed);
  if (cell.aimed_kills > 0) {
    aimedKillRounds(
        round, config, source, "work", killer, target.imapPort(), cell.aimed_kills,
        [](int r) { return killRoundMessages(static_cast<std::size_t>(r) * 1000, 60); },
        cell.seed + 1);
  }
  BOOST_TEST(round.last.exit_code == 0, round.last.out << round.last.err);
  BOOST_TEST(round.kills >= cell.min_kills + cell.aimed_kills);
  BOOST_TEST(round.aimed_kills == cell.aimed_kills);
  // Each aimed kill left at least one message stored and in flight: found, not appended again.
  BOOST_TEST(round.recovered >= static_cast<std::uint64_t>(round.aimed_kills));
  BOOST_TEST(source.popBoxSize("work") == 0u);
  const std::vector<std::string> expected = transformed(round.seeded, cell.stores);
  std::vector<std::string> arrived = target.messages("me", cell.stored_folder);
  if (cell.read_as) arrived = transformed(arrived, cell.read_as);
  const Tally counted = tally(expected, arrived);
  BOOST_TEST(counted.exact(),
             counted << mismatch(expected, arrived) << "\nlast pass: " << round.last.out);
  printMatrixLine(CellFigures{cell.cell, cell.name, round.seeded.size(), round.kills,
                              round.aimed_kills, round.recovered, round.lookups, counted, 0});
}

CommandResult checkFirstPass(const std::filesystem::path& config, const std::string& account,
                             std::size_t uploaded, std::size_t quarantined) {
  CommandResult first = runPopgate({"once", "--config", config.string()}, 300s);
  BOOST_TEST_INFO("stdout: " << first.out << "\nstderr: " << first.err.substr(0, 4000));
  BOOST_TEST(first.exit_code == 0);
  BOOST_TEST(
      first.out.find(account + ": " + std::to_string(uploaded) + " uploaded") != std::string::npos,
      first.out);
  if (quarantined > 0) {
    BOOST_TEST(first.out.find(std::to_string(quarantined) + " quarantined") != std::string::npos,
               first.out);
  }
  return first;
}

void checkSecondPassAddsNothing(const std::filesystem::path& config, const std::string& account,
                                std::size_t delivered, MailServer& target, const std::string& user,
                                const std::string& folder) {
  const CommandResult second = runPopgate({"once", "--config", config.string()}, 300s);
  BOOST_TEST(second.exit_code == 0, second.out << second.err);
  BOOST_TEST(second.out.find(account + ": 0 uploaded, " + std::to_string(delivered) +
                             " already delivered") != std::string::npos,
             second.out);
  BOOST_TEST(target.count(user, folder) == delivered);
}

std::vector<std::string> killRoundMessages(std::size_t first, std::size_t count) {
  std::vector<std::string> out;
  for (std::size_t i = first; i < first + count; ++i) {
    if (i % 4 == 3 && i > first) {
      out.push_back(lookAlikeOf(out.back()));
      continue;
    }
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
                                     const Change& change) {
  std::vector<std::string> out;
  out.reserve(messages.size());
  for (const std::string& m : messages) out.push_back(change(m));
  return out;
}

boost::test_tools::assertion_result RootAvailable::operator()(
    boost::unit_test::test_unit_id) const {
  std::optional<std::string> why;
  try {
    why = ScriptSandbox::rootUnavailable(root);
  } catch (const std::exception& e) {
    // Not a reason to skip: the cases run, and fail where they start the server.
    std::cout << "root " << root << ": " << e.what() << std::endl;
    return true;
  }
  if (!why) return true;
  std::cout << "SKIPPED: " << *why << std::endl;
  boost::test_tools::assertion_result skipped(false);
  skipped.message() << *why;
  return skipped;
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

namespace {

std::string escaped(const std::string& bytes) {
  std::string out;
  for (const char c : bytes.substr(0, 1500)) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n\n";
    } else if (u < 0x20 || u >= 0x7F) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return bytes.size() > 1500 ? out + "..." : out;
}

}  // namespace

std::string mismatch(const std::vector<std::string>& want, const std::vector<std::string>& have) {
  const auto missing = [](const std::vector<std::string>& from,
                          const std::vector<std::string>& in) {
    std::vector<std::string> a = sorted(from), b = sorted(in), out;
    std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
    return out;
  };
  const std::vector<std::string> lost = missing(want, have), extra = missing(have, want);
  std::string text;
  if (!lost.empty()) text += "\n--- expected, not found:\n" + escaped(lost.front());
  if (!extra.empty()) text += "\n--- found, not expected:\n" + escaped(extra.front());
  return text;
}

void printMatrixLine(const CellFigures& f) {
  std::cout << "MATRIX cell=" << f.cell << " messages=" << f.messages << " kills=" << f.kills
            << " aimed_kills=" << f.aimed_kills << " recovered_by_search=" << f.recovered
            << " searches=" << f.searches << " lost=" << f.tally.lost
            << " dup=" << f.tally.duplicated << " quarantined=" << f.quarantined << " reason=\""
            << f.why << "\" name=\"" << f.name << "\"" << std::endl;
}

}  // namespace popgate::test
