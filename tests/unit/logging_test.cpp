// Log lines: one line per message in text and JSON, levels filtered, server text that tries to
// forge a line or drive a terminal made visible, JSON always valid (UTF-8 repaired); a reload
// (SIGHUP) while threads log changes level, format and stream in place, losing and tearing nothing.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <charconv>
#include <optional>
#include <sstream>
#include <string_view>
#include <thread>
#include <utility>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "connectors/common/Printable.h"
#include "connectors/common/Secret.h"
#include "gateway/service/Logging.h"

using namespace popgate;
using namespace popgate::gateway;

namespace {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The message of a text line "2026-01-02T03:04:05.678Z info    TEXT" (level padded to 7
// characters), or nothing when the line does not have that shape.
std::optional<std::string> textMessage(const std::string& line) {
  constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd.dddZ ";
  if (line.size() < kShape.size() + 8) return std::nullopt;
  for (std::size_t i = 0; i < kShape.size(); ++i) {
    const bool ok = kShape[i] == 'd' ? (line[i] >= '0' && line[i] <= '9') : line[i] == kShape[i];
    if (!ok) return std::nullopt;
  }
  const std::string_view level = std::string_view(line).substr(kShape.size(), 8);
  if (level != "info    " && level != "debug   ") return std::nullopt;
  return line.substr(kShape.size() + 8);
}

// Thread and line number of an info message "tT line N".
std::optional<std::pair<std::size_t, std::size_t>> infoNumbers(std::string_view msg) {
  std::size_t t = 0, n = 0;
  if (!msg.starts_with("t")) return std::nullopt;
  auto [after_t, t_error] = std::from_chars(msg.data() + 1, msg.data() + msg.size(), t);
  if (t_error != std::errc{}) return std::nullopt;
  const std::string_view rest(after_t, static_cast<std::size_t>(msg.data() + msg.size() - after_t));
  if (!rest.starts_with(" line ")) return std::nullopt;
  const char* digits = rest.data() + 6;
  auto [end, n_error] = std::from_chars(digits, rest.data() + rest.size(), n);
  if (n_error != std::errc{} || end != rest.data() + rest.size()) return std::nullopt;
  return std::pair{t, n};
}

}  // namespace

BOOST_AUTO_TEST_CASE(testTextLinesAreOneLineEachAndFiltered) {
  std::ostringstream out;
  setupLogging(config::LogLevel::Info, config::LogFormat::Text, out);
  logDebug("hidden");
  logInfo("work: 3 uploaded");
  logError("isp: -ERR hello\r2025-01-01T00:00:00.000Z error   forged\x1b[2J");
  const auto got = lines(out.str());
  BOOST_REQUIRE(got.size() == 2u);
  BOOST_TEST(got[0].find(" info    work: 3 uploaded") != std::string::npos);
  BOOST_TEST(got[1].find(" error   isp: -ERR hello\\r2025-01-01T00:00:00.000Z error   forged\\x1b[2J") !=
             std::string::npos);
  BOOST_TEST(!debugEnabled());
}

BOOST_AUTO_TEST_CASE(testJsonLinesParseAndKeepTheText) {
  std::ostringstream out;
  setupLogging(config::LogLevel::Debug, config::LogFormat::Json, out);
  logWarning("quote \" backslash \\ newline \n bad utf-8 \xff end");
  logDebug("trace");
  const auto got = lines(out.str());
  BOOST_REQUIRE(got.size() == 2u);
  auto first = Poco::JSON::Parser().parse(got[0]).extract<Poco::JSON::Object::Ptr>();
  BOOST_TEST(first->getValue<std::string>("level") == "warning");
  BOOST_TEST(first->getValue<std::string>("msg") ==
             "quote \" backslash \\ newline \n bad utf-8 \xef\xbf\xbd end");
  BOOST_TEST(first->has("time"));
  BOOST_TEST(debugEnabled());
  setupLogging(config::LogLevel::Info, config::LogFormat::Text, std::cerr);
}

BOOST_AUTO_TEST_CASE(testServerEchoOfAPasswordIsMaskedInBothFormats) {
  const Secret password(std::string("echoed-Pa55word"));
  for (const auto format : {config::LogFormat::Text, config::LogFormat::Json}) {
    std::ostringstream out;
    setupLogging(config::LogLevel::Debug, format, out);
    logDebug("work S: -ERR [AUTH] bad password echoed-Pa55word for bob");  // a protocol trace
    BOOST_TEST(out.str().find("echoed-Pa55word") == std::string::npos, out.str());
    BOOST_TEST(out.str().find("bad password ******** for bob") != std::string::npos, out.str());
  }
  setupLogging(config::LogLevel::Info, config::LogFormat::Text, std::cerr);
}

BOOST_AUTO_TEST_CASE(testPrintableEscapesAndCuts) {
  BOOST_TEST(printable("a\rb\nc\td\x01\x7f") == "a\\rb\\nc\td\\x01\\x7f");
  BOOST_TEST(printable("abcdef", 3) == "abc...");
  BOOST_TEST(printable("\xd0\x9f\xd1\x80") == "\xd0\x9f\xd1\x80");  // 8-bit text stays
}

// SIGHUP while passes log: Poco 1.11's Logger::setChannel takes no lock, so replacing the channel
// freed it under threads writing through it. One channel now changes in place; this runs clean
// under ThreadSanitizer and AddressSanitizer (the CI's sanitizer legs).
BOOST_AUTO_TEST_CASE(testReloadWhileThreadsLogLosesAndTearsNothing) {
  std::ostringstream first, second;
  setupLogging(config::LogLevel::Info, config::LogFormat::Text, first);
  constexpr std::size_t kThreads = 4;
  constexpr int kReloads = 400;
  // Writers and the reloader run at once, in loose step, which keeps the test short and every
  // reload meaningful: a writer logs at most kAhead lines per reload, and the next reload waits
  // until every writer has logged twice since the last one returned (so at least one line wholly
  // under each setting).
  constexpr std::size_t kAhead = 4;
  std::atomic<bool> reloading_done{false};
  std::atomic<std::size_t> reloads{0};
  std::vector<std::atomic<std::size_t>> logged(kThreads);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!reloading_done.load()) {
        if (logged[t].load() >= (reloads.load() + 1) * kAhead) {
          std::this_thread::yield();
          continue;
        }
        logInfo("t" + std::to_string(t) + " line " + std::to_string(logged[t].load()));
        logDebug("t" + std::to_string(t) + " detail");
        (void)debugEnabled();
        logged[t].fetch_add(1);
      }
    });
  }
  for (int r = 0; r < kReloads; ++r) {
    setupLogging(r % 2 == 0 ? config::LogLevel::Debug : config::LogLevel::Info,
                 r % 3 == 0 ? config::LogFormat::Json : config::LogFormat::Text,
                 r % 5 < 2 ? first : second);
    std::vector<std::size_t> before(kThreads);
    for (std::size_t t = 0; t < kThreads; ++t) before[t] = logged[t].load();
    reloads.fetch_add(1);
    for (std::size_t t = 0; t < kThreads; ++t) {
      while (logged[t].load() < before[t] + 2) std::this_thread::yield();
    }
  }
  reloading_done = true;
  for (std::thread& t : threads) t.join();
  std::ostringstream after;
  setupLogging(config::LogLevel::Info, config::LogFormat::Text, after);
  const std::size_t first_size = first.str().size();
  const std::size_t second_size = second.str().size();
  logInfo("only in the new stream");
  BOOST_TEST(first.str().size() == first_size);
  BOOST_TEST(second.str().size() == second_size);
  BOOST_TEST(lines(after.str()).size() == 1u);

  // Every info line arrived once, whole, in one format or the other.
  std::vector<std::vector<bool>> seen(kThreads);
  for (std::size_t t = 0; t < kThreads; ++t) seen[t].assign(logged[t].load(), false);
  std::size_t info_lines = 0, debug_lines = 0, json_lines = 0, text_lines = 0, bad = 0;
  for (const std::string& line : lines(first.str() + second.str())) {
    std::optional<std::string> msg;
    if (line.starts_with("{")) {
      auto object = Poco::JSON::Parser().parse(line).extract<Poco::JSON::Object::Ptr>();
      msg = object->getValue<std::string>("msg");
      ++json_lines;
    } else if ((msg = textMessage(line))) {
      ++text_lines;
    }
    const auto numbers = msg ? infoNumbers(*msg) : std::nullopt;
    if (numbers) {
      const auto [t, n] = *numbers;
      BOOST_REQUIRE(t < seen.size());
      BOOST_REQUIRE(n < seen[t].size());
      BOOST_TEST(!seen[t][n], "line logged twice: " << *msg);
      seen[t][n] = true;
      ++info_lines;
    } else if (msg && msg->starts_with("t") && msg->ends_with(" detail")) {
      ++debug_lines;
    } else {
      ++bad;
      BOOST_TEST_MESSAGE("torn or foreign line: " << printable(line));
    }
  }
  BOOST_TEST(bad == 0u);
  std::size_t expected = 0;
  for (const auto& n : logged) expected += n.load();
  BOOST_TEST(info_lines == expected);
  // Each setting was in force for whole lines: both formats, and debug lines only some of the time.
  BOOST_TEST(json_lines > 0u);
  BOOST_TEST(text_lines > 0u);
  BOOST_TEST(debug_lines > 0u);
  BOOST_TEST(debug_lines < expected);
  BOOST_TEST_MESSAGE(expected << " info lines, " << debug_lines << " debug lines, " << json_lines << " JSON and " << text_lines
                              << " text lines over " << kReloads << " reloads");
  setupLogging(config::LogLevel::Info, config::LogFormat::Text, std::cerr);
}

// A reload switches format and level for the very next line.
BOOST_AUTO_TEST_CASE(testReloadSwitchesFormatAndLevelInPlace) {
  std::ostringstream out;
  setupLogging(config::LogLevel::Debug, config::LogFormat::Json, out);
  logDebug("one");
  setupLogging(config::LogLevel::Warning, config::LogFormat::Text, out);
  logInfo("hidden");
  BOOST_TEST(!debugEnabled());
  logWarning("two");
  setupLogging(config::LogLevel::Info, config::LogFormat::Json, out);
  logInfo("three");
  const auto got = lines(out.str());
  BOOST_REQUIRE(got.size() == 3u);
  auto one = Poco::JSON::Parser().parse(got[0]).extract<Poco::JSON::Object::Ptr>();
  BOOST_TEST(one->getValue<std::string>("msg") == "one");
  BOOST_TEST(one->getValue<std::string>("level") == "debug");
  BOOST_TEST(got[1].find(" warning two") != std::string::npos);
  BOOST_TEST(!got[1].starts_with("{"));
  auto three = Poco::JSON::Parser().parse(got[2]).extract<Poco::JSON::Object::Ptr>();
  BOOST_TEST(three->getValue<std::string>("msg") == "three");
  setupLogging(config::LogLevel::Info, config::LogFormat::Text, std::cerr);
}
