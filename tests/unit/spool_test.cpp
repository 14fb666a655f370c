// Spool: exact bytes back in memory and in files, digest, header view, fingerprint, cleanup.
#include <boost/test/unit_test.hpp>

#include <filesystem>

#include "gateway/delivery/Spool.h"
#include "tests/support/TempDir.h"

using namespace popgate;
using namespace popgate::gateway;

namespace {

std::string readBack(const Spool& s) {
  std::string out;
  s.forEachChunk([&](std::string_view c) { out.append(c); });
  return out;
}

const std::string kMessage =
    "Date: Tue, 1 Jul 2003 10:52:37 +0200\r\nFrom: a@b\r\nSubject: hi\r\n"
    "Message-ID: <m1@b>\r\n\r\nbody\r\n";

}  // namespace

BOOST_AUTO_TEST_CASE(testSmallMessageStaysInMemory) {
  test::TempDir dir;
  Spool s(dir.path(), 1024);
  s.write(kMessage.substr(0, 10));
  s.write(kMessage.substr(10));
  s.finish();
  BOOST_TEST(!s.inFile());
  BOOST_TEST(readBack(s) == kMessage);
  BOOST_TEST(s.size() == kMessage.size());
  // sha256 of kMessage, computed independently (Python's hashlib).
  BOOST_TEST(s.sha256() == "047828e3ffa5d987ab9c07bb44a55df084534387d8221eb3fedee979efca81e5");
  Spool t(dir.path(), 1);  // same bytes through a file: same digest
  t.write(kMessage);
  t.finish();
  BOOST_TEST(t.sha256() == s.sha256());
}

BOOST_AUTO_TEST_CASE(testLargeMessageGoesToAFileAndIsRemoved) {
  test::TempDir dir;
  std::string big = kMessage;
  for (int i = 0; i < 20000; ++i) big += "line " + std::to_string(i) + " \xe2\x82\xac\x00\r\n";
  std::filesystem::path file;
  {
    Spool s(dir.path(), 64 * 1024);
    for (std::size_t pos = 0; pos < big.size(); pos += 1000) s.write(std::string_view(big).substr(pos, 1000));
    s.finish();
    BOOST_TEST(s.inFile());
    BOOST_TEST(readBack(s) == big);
    BOOST_TEST(std::distance(std::filesystem::directory_iterator(dir.path()),
                             std::filesystem::directory_iterator()) == 1);
  }
  BOOST_TEST(std::filesystem::is_empty(dir.path()));  // the file goes with the spool
}

BOOST_AUTO_TEST_CASE(testHeaderDateAndFingerprint) {
  test::TempDir dir;
  Spool s(dir.path(), 1024);
  s.write(kMessage);
  s.finish();
  BOOST_TEST(std::string(s.header()).find("Subject: hi") != std::string::npos);
  BOOST_TEST(std::string(s.header()).find("body") == std::string::npos);
  const auto date = s.date();
  BOOST_REQUIRE(date.has_value());
  BOOST_TEST(date->offset_minutes == 120);
  BOOST_TEST(date->utc == 1057049557);
  const auto f = s.fingerprint();
  BOOST_TEST(f.size == kMessage.size());
  BOOST_TEST(f.message_id.value_or("") == "<m1@b>");
  BOOST_TEST(f.subject.value_or("") == "hi");
}

BOOST_AUTO_TEST_CASE(testMessageWithoutHeadersOrDate) {
  test::TempDir dir;
  Spool s(dir.path(), 1024);
  s.write("no header at all, no final newline");
  s.finish();
  BOOST_TEST(!s.date().has_value());
  BOOST_TEST(!s.fingerprint().message_id.has_value());
  BOOST_TEST(readBack(s) == "no header at all, no final newline");
}
