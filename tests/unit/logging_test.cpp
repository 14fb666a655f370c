// Log lines: one line per message in text and JSON, levels filtered, server text that tries to
// forge a line or drive a terminal made visible, JSON always valid (UTF-8 repaired).
#include <boost/test/unit_test.hpp>

#include <sstream>

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
