// UTF-8 (connectors/common/Utf8): strict decoding (RFC 3629: no overlong forms, no surrogates,
// nothing above U+10FFFF) and repair with one U+FFFD per maximal ill-formed subpart.
#include <boost/test/unit_test.hpp>

#include <string>
#include <utility>
#include <vector>

#include "connectors/common/Utf8.h"

using namespace popgate;

namespace {

std::string fffd() { return "\xEF\xBF\xBD"; }

}  // namespace

BOOST_AUTO_TEST_CASE(testValidUtf8Unchanged) {
  const std::string text = "ascii é € \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF end";
  BOOST_TEST(toValidUtf8(text) == text);
  BOOST_TEST(toValidUtf8("") == "");
}

BOOST_AUTO_TEST_CASE(testIllFormedUtf8Replaced) {
  // One U+FFFD per maximal subpart (Unicode 15, 3.9, Table 3-8 practice).
  const std::vector<std::pair<std::string, std::string>> cases{
      {"a\xFFz", "a" + fffd() + "z"},
      {"\xC0\xAF", fffd() + fffd()},                            // overlong '/'
      {"\xE0\x80\x80", fffd() + fffd() + fffd()},               // overlong NUL
      {"\xED\xA0\x80", fffd() + fffd() + fffd()},               // a surrogate
      {"\xF4\x90\x80\x80", fffd() + fffd() + fffd() + fffd()},  // above U+10FFFF
      {"\xE2\x82", fffd()},                                     // cut at the end
      {std::string("\xE2\x82") + "A", fffd() + "A"},            // cut before ASCII
      {"\xF0\x9F\x98x", fffd() + "x"},                          // three of four bytes
      {"\x80\xBF", fffd() + fffd()},                            // lone continuations
      {"\xF5\x80", fffd() + fffd()},                            // never a lead byte
  };
  for (const auto& [in, out] : cases) BOOST_TEST(toValidUtf8(in) == out);
}

BOOST_AUTO_TEST_CASE(testDecodeIsStrict) {
  const std::vector<std::pair<std::string, char32_t>> good{
      {"A", U'A'}, {"\xC3\xA9", U'é'}, {"\xE2\x82\xAC", U'€'}, {"\xF0\x9F\x98\x80", U'\U0001F600'},
      {"\xF4\x8F\xBF\xBF", U'\U0010FFFF'}, {"\xED\x9F\xBF", U'\uD7FF'}};
  for (const auto& [in, cp] : good) {
    std::size_t pos = 0;
    const auto got = decodeUtf8(in, pos);
    BOOST_TEST((got && *got == cp), in);
    BOOST_TEST(pos == in.size());
  }
  for (const std::string bad : {"\xC0\xAF", "\xC1\xBF", "\xE0\x80\x80", "\xED\xA0\x80", "\xED\xBF\xBF",
                                "\xF0\x80\x80\x80", "\xF4\x90\x80\x80", "\xF8\x88\x80\x80\x80", "\x80",
                                "\xE2\x82", ""}) {
    std::size_t pos = 0;
    BOOST_TEST(!decodeUtf8(bad, pos), "accepted " << bad.size() << " bytes");
    BOOST_TEST(pos == 0u);
    if (!bad.empty()) BOOST_TEST(!isValidUtf8(bad));
  }
  BOOST_TEST(isValidUtf8("Ordner/Über €"));
}
