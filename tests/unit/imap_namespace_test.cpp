// codec::parsePersonalNamespace, parseListDelimiter, parseListEntry and personalPrefixFor: the
// answers of real servers (Dovecot, Gmail, Courier, Cyrus, Exchange, GNU mailutils), the
// grammar's corners, and broken text.
#include <boost/test/unit_test.hpp>

#include "connectors/codec/ImapNamespace.h"

using popgate::codec::hasAttribute;
using popgate::codec::parseListDelimiter;
using popgate::codec::parseListEntry;
using popgate::codec::parsePersonalNamespace;
using popgate::codec::PersonalNamespace;
using popgate::codec::personalPrefixFor;

BOOST_AUTO_TEST_CASE(testPersonalNamespaceOfRealServers) {
  const auto dovecot = parsePersonalNamespace(R"((("" ".")) NIL NIL)");
  BOOST_REQUIRE(dovecot.has_value());
  BOOST_TEST(dovecot->prefix == "");
  BOOST_TEST(dovecot->delimiter == ".");

  const auto gmail = parsePersonalNamespace(R"((("" "/")) NIL NIL)");
  BOOST_REQUIRE(gmail.has_value());
  BOOST_TEST(gmail->delimiter == "/");

  const auto courier = parsePersonalNamespace(R"((("INBOX." ".")) NIL (("#shared." ".")("shared." ".")))");
  BOOST_REQUIRE(courier.has_value());
  BOOST_TEST(courier->prefix == "INBOX.");
  BOOST_TEST(courier->delimiter == ".");

  // Extensions after the delimiter (RFC 2342 Namespace_Response_Extension), lower-case nil.
  const auto ext = parsePersonalNamespace(R"((("INBOX/" "/" "X-PARAM" ("a" "b"))) nil nil)");
  BOOST_REQUIRE(ext.has_value());
  BOOST_TEST(ext->prefix == "INBOX/");
  BOOST_TEST(ext->delimiter == "/");

  // A flat server: NIL delimiter; escapes in the prefix.
  const auto flat = parsePersonalNamespace(R"((("a\"b\\" NIL)) NIL NIL)");
  BOOST_REQUIRE(flat.has_value());
  BOOST_TEST(flat->prefix == "a\"b\\");
  BOOST_TEST(flat->delimiter == "");
}

BOOST_AUTO_TEST_CASE(testBrokenNamespaceTextGivesNothing) {
  for (const char* text : {"", "NIL NIL NIL", "((", R"(("" "."))", R"((("" ".."))))",
                           R"((("" "")))", R"((("unterminated ".")))", R"((("x\y" ".")))",
                           R"(((INBOX ".")))", R"((("" NILS)))", "(({3}\r\nabc \".\"))"}) {
    BOOST_TEST(!parsePersonalNamespace(text).has_value(), text);
  }
}

BOOST_AUTO_TEST_CASE(testListDelimiter) {
  BOOST_TEST(*parseListDelimiter(R"((\Noselect) "." "")") == ".");
  BOOST_TEST(*parseListDelimiter(R"((\Noselect \HasChildren) "/" "")") == "/");
  BOOST_TEST(*parseListDelimiter(R"(() NIL "")") == "");
  BOOST_TEST(*parseListDelimiter(R"(() "\\" "")") == "\\");
  BOOST_TEST(*parseListDelimiter(R"x((\X ("(" ")")) "." "")x") == ".");
  BOOST_TEST(!parseListDelimiter(R"((\Noselect "." "")").has_value());
  BOOST_TEST(!parseListDelimiter(R"(() ".." "")").has_value());
  BOOST_TEST(!parseListDelimiter("").has_value());
}

// Gmail names its "All Mail" in the user's language; the \All attribute (RFC 6154) is what finds
// it. LIST lines as Gmail, Dovecot and Microsoft 365 write them.
BOOST_AUTO_TEST_CASE(testListEntryWithSpecialUseAttributes) {
  const auto all = parseListEntry(R"((\All \HasNoChildren) "/" "[Gmail]/All Mail")");
  BOOST_REQUIRE(all.has_value());
  BOOST_TEST(all->name == "[Gmail]/All Mail");
  BOOST_TEST(all->delimiter == "/");
  BOOST_TEST(hasAttribute(*all, "\\all"));
  BOOST_TEST(!hasAttribute(*all, "\\Trash"));
  const auto german = parseListEntry(R"((\HasNoChildren \All) "/" "[Gmail]/Alle Nachrichten")");
  BOOST_TEST(german->name == "[Gmail]/Alle Nachrichten");
  BOOST_TEST(hasAttribute(*german, "\\All"));
  const auto inbox = parseListEntry(R"((\HasNoChildren) "." INBOX)");
  BOOST_TEST(inbox->name == "INBOX");
  BOOST_TEST(inbox->attributes.size() == 1u);
  const auto flat = parseListEntry(R"(() NIL "Sent Items" ("CHILDINFO" ("SUBSCRIBED")))");
  BOOST_TEST(flat->name == "Sent Items");
  BOOST_TEST(flat->delimiter == "");
  BOOST_TEST(parseListEntry(R"((\Noselect) "/" "a \"q\" b")")->name == "a \"q\" b");
  for (const char* text : {"", "()", R"(() "/")", R"((\All "/" "x")", R"(() "//" "x")",
                           "() \"/\" {8}", R"(() "/" "unterminated)"}) {
    BOOST_TEST(!parseListEntry(text).has_value(), text);
  }
}

BOOST_AUTO_TEST_CASE(testMailboxEntriesOfRealServers) {
  // GNU mailutils 3.15: an atom name, no attributes.
  const auto mailutils = parseListEntry(R"(() "/" Work)");
  BOOST_REQUIRE(mailutils.has_value());
  BOOST_TEST(mailutils->attributes.empty());
  BOOST_TEST(mailutils->delimiter == "/");
  BOOST_TEST(mailutils->name == "Work");
  // Cyrus 3.6 (an atom) and Courier 5 (quoted): names below INBOX.
  const auto cyrus = parseListEntry(R"((\HasNoChildren) "." INBOX.Work)");
  BOOST_REQUIRE(cyrus.has_value());
  BOOST_TEST(cyrus->name == "INBOX.Work");
  BOOST_TEST(hasAttribute(*cyrus, "\\hasnochildren"));
  const auto courier = parseListEntry(R"((\Noselect \HasChildren) "." "INBOX.Clients")");
  BOOST_REQUIRE(courier.has_value());
  BOOST_TEST(courier->name == "INBOX.Clients");
  BOOST_TEST(hasAttribute(*courier, "\\Noselect"));
  BOOST_TEST(!hasAttribute(*courier, "\\Marked"));
  // Dovecot: quoted name with a space; RFC 5258 extended data after the name is ignored.
  const auto dovecot = parseListEntry(R"((\HasNoChildren) "." "ISP.Old Provider" ("CHILDINFO" ("SUBSCRIBED")))");
  BOOST_REQUIRE(dovecot.has_value());
  BOOST_TEST(dovecot->name == "ISP.Old Provider");
  // Flat server, escapes, "]" in an atom name.
  const auto flat = parseListEntry(R"(() NIL "a\"b")");
  BOOST_REQUIRE(flat.has_value());
  BOOST_TEST(flat->delimiter == "");
  BOOST_TEST(flat->name == "a\"b");
  BOOST_TEST(parseListEntry(R"(() "/" x]y)")->name == "x]y");
}

BOOST_AUTO_TEST_CASE(testBrokenMailboxEntriesGiveNothing) {
  for (const char* text : {"", "()", R"(() "/")", R"(() "/" )", R"((\) "/" Work)", R"(() "//" Work)",
                           R"((\Noselect "/" Work)", R"(() "/" {4})", R"(() "/" "unterminated)",
                           R"(() "/" Wo(rk)", R"x(()"/" Work)x"}) {
    BOOST_TEST(!parseListEntry(text).has_value(), text);
  }
}

BOOST_AUTO_TEST_CASE(testPrefixGoesInFrontOfPersonalFolders) {
  const PersonalNamespace courier{"INBOX.", "."};
  BOOST_TEST(personalPrefixFor("Work", courier) == "INBOX.");
  BOOST_TEST(personalPrefixFor("Archive.Old ISP", courier) == "INBOX.");
  BOOST_TEST(personalPrefixFor("INBOX", courier) == "");
  BOOST_TEST(personalPrefixFor("inbox", courier) == "");
  BOOST_TEST(personalPrefixFor("INBOX.Work", courier) == "");
  BOOST_TEST(personalPrefixFor("Inbox.Work", courier) == "");
  BOOST_TEST(personalPrefixFor("INBOXES", courier) == "INBOX.");

  const PersonalNamespace top{"", "."};
  BOOST_TEST(personalPrefixFor("Work", top) == "");

  const PersonalNamespace mail{"Mail/", "/"};
  BOOST_TEST(personalPrefixFor("Work", mail) == "Mail/");
  BOOST_TEST(personalPrefixFor("Mail/Work", mail) == "");
  BOOST_TEST(personalPrefixFor("INBOX/Sub", mail) == "");
}
