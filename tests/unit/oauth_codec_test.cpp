// The OAuth codecs byte for byte against the published examples: Google's XOAUTH2 page, RFC 7628
// (OAUTHBEARER, its failure challenge), Gmail's failure challenge, RFC 7636 Appendix B (PKCE),
// and the form and query encodings the token endpoint and the loopback redirect use.
#include <boost/test/unit_test.hpp>

#include <string>

#include "connectors/codec/OAuthSasl.h"
#include "connectors/codec/Pkce.h"
#include "connectors/codec/Sasl.h"
#include "connectors/codec/UrlForm.h"

using namespace popgate::codec;

BOOST_AUTO_TEST_CASE(testXoauth2MatchesGooglesPublishedExample) {
  // Google, "OAuth 2.0 Mechanism": user=someuser@example.com^Aauth=Bearer ya29.vF9d...Cg^A^A
  const std::string encoded =
      saslXoauth2("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
  BOOST_TEST(encoded ==
             "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNr"
             "QmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==");
  BOOST_TEST(*base64Decode(encoded) ==
             "user=someuser@example.com\x01" "auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01");
}

BOOST_AUTO_TEST_CASE(testOauthBearerMatchesRfc7628Example) {
  // RFC 7628 §4.1: t1 AUTHENTICATE OAUTHBEARER bixhPXVzZXJAZXhhbXBsZS5jb20sAWhv...
  const std::string encoded = saslOauthBearer(
      "user@example.com", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==", "server.example.com", 143);
  BOOST_TEST(encoded ==
             "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVh"
             "cmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB");
}

BOOST_AUTO_TEST_CASE(testOauthBearerWithoutHostOmitsHostAndPort) {
  BOOST_TEST(*base64Decode(saslOauthBearer("me@example.com", "T")) ==
             "n,a=me@example.com,\x01" "auth=Bearer T\x01\x01");
  BOOST_TEST(*base64Decode(saslOauthBearer("me", "T", "h", 0)) ==
             "n,a=me,\x01host=h\x01" "auth=Bearer T\x01\x01");
}

BOOST_AUTO_TEST_CASE(testOauthBearerEscapesCommaAndEqualsInSaslname) {
  // RFC 5801 §4: "," and "=" in the authzid are written =2C and =3D.
  BOOST_TEST(*base64Decode(saslOauthBearer("a,b=c", "T")) ==
             "n,a=a=2Cb=3Dc,\x01" "auth=Bearer T\x01\x01");
}

BOOST_AUTO_TEST_CASE(testLongMicrosoftTokenIsEncodedWhole) {
  const std::string token(6000, 'x');
  const auto decoded = base64Decode(saslXoauth2("me@work.example", token));
  BOOST_REQUIRE(decoded);
  BOOST_TEST(decoded->size() == std::string("user=me@work.example\x01" "auth=Bearer \x01\x01").size() + 6000);
}

BOOST_AUTO_TEST_CASE(testGmailFailureChallengeDecodes) {
  // What Gmail sends after a bad XOAUTH2 token (Google's "OAuth 2.0 Mechanism" page).
  const auto failure = parseOAuthFailure(
      "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIG1hYyIsInNjb3BlIjoiaHR0cHM6Ly9tYWlsLmdvb2dsZS5jb20vIn0K");
  BOOST_REQUIRE(failure);
  BOOST_TEST(failure->text ==
             R"({"status":"401","schemes":"bearer mac","scope":"https://mail.google.com/"})");
  BOOST_TEST(failure->status() == "401");
  BOOST_TEST(failure->fields.at("schemes") == "bearer mac");
  BOOST_TEST(failure->fields.at("scope") == "https://mail.google.com/");
}

BOOST_AUTO_TEST_CASE(testRfc7628FailureChallengeDecodes) {
  // RFC 7628 §4.3 (the continuation's base64, joined from its three lines).
  const auto failure = parseOAuthFailure(
      "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3VyYXRp"
      "b24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0=");
  BOOST_REQUIRE(failure);
  BOOST_TEST(failure->status() == "invalid_token");
  BOOST_TEST(failure->fields.at("openid-configuration") ==
             "https://example.com/.well-known/openid-configuration");
  BOOST_TEST(kOauthBearerFailureAnswer == "AQ==");
  BOOST_TEST(*base64Decode(kOauthBearerFailureAnswer) == "\x01");
  BOOST_TEST(kXoauth2FailureAnswer.empty());
}

BOOST_AUTO_TEST_CASE(testFailureChallengeThatIsNotJsonIsRefused) {
  BOOST_TEST(!parseOAuthFailure("not base64!"));
  BOOST_TEST(!parseOAuthFailure(base64Encode("just text")));
  BOOST_TEST(!parseOAuthFailure(""));
  // A JSON object that is not flat keeps its text, without fields.
  const auto nested = parseOAuthFailure(base64Encode(R"({"status":"401","x":{"y":1}})"));
  BOOST_REQUIRE(nested);
  BOOST_TEST(nested->fields.empty());
  BOOST_TEST(nested->text == R"({"status":"401","x":{"y":1}})");
}

BOOST_AUTO_TEST_CASE(testFlatJsonObjectGrammar) {
  const auto ok = parseFlatJsonObject(
      " { \"a\" : \"x\\\"y\\\\z\\/\\n\\u00e9\\ud83d\\ude00\", \"n\": -1.5e+3, \"t\": true, "
      "\"f\": false, \"z\": null } ");
  BOOST_REQUIRE(ok);
  BOOST_TEST(ok->at("a") == "x\"y\\z/\n\xC3\xA9\xF0\x9F\x98\x80");
  BOOST_TEST(ok->at("n") == "-1.5e+3");
  BOOST_TEST(ok->at("t") == "true");
  BOOST_TEST(ok->at("z") == "null");
  BOOST_TEST(parseFlatJsonObject("{}")->empty());
  for (const char* bad : {"", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":1}x",
                          "{\"a\":[1]}", "{\"a\":01}", "{\"a\":\"\\x\"}", "{\"a\":\"\\udc00\"}",
                          "{\"a\":1,\"a\":2}", "{\"a\":\"line\nbreak\"}", "[1]", "{a:1}"}) {
    BOOST_TEST(!parseFlatJsonObject(bad), bad);
  }
}

BOOST_AUTO_TEST_CASE(testPkceMatchesRfc7636AppendixB) {
  const unsigned char octets[] = {116, 24,  223, 180, 151, 153, 224, 37,  79,  250, 96,
                                  125, 216, 173, 187, 186, 22,  212, 37,  77,  105, 214,
                                  191, 240, 91,  88,  5,   88,  83,  132, 141, 121};
  const std::string verifier =
      pkceVerifier(std::string_view(reinterpret_cast<const char*>(octets), sizeof octets));
  BOOST_TEST(verifier == "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
  BOOST_TEST(pkceChallengeS256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

BOOST_AUTO_TEST_CASE(testFormEncodingOfTokenRequests) {
  BOOST_TEST(formEncode({{"grant_type", "refresh_token"},
                         {"scope", "https://outlook.office.com/IMAP.AccessAsUser.All offline_access"},
                         {"refresh_token", "0.A~b+c/d=="}}) ==
             "grant_type=refresh_token&scope=https%3A%2F%2Foutlook.office.com%2FIMAP.AccessAsUser."
             "All+offline_access&refresh_token=0.A%7Eb%2Bc%2Fd%3D%3D");
  BOOST_TEST(percentEncode("http://127.0.0.1:8080 a~") == "http%3A%2F%2F127.0.0.1%3A8080%20a~");
}

BOOST_AUTO_TEST_CASE(testQueryParsing) {
  const auto fields = parseQuery("code=4%2F0Ab+c&state=xyz&&empty&scope=a%20b");
  BOOST_REQUIRE(fields);
  BOOST_TEST(*fieldValue(*fields, "code") == "4/0Ab c");
  BOOST_TEST(*fieldValue(*fields, "state") == "xyz");
  BOOST_TEST(*fieldValue(*fields, "empty") == "");
  BOOST_TEST(*fieldValue(*fields, "scope") == "a b");
  BOOST_TEST(!fieldValue(*fields, "error"));
  BOOST_TEST(!parseQuery("a=%4"));
  BOOST_TEST(!parseQuery("a=%zz"));
  BOOST_TEST(!parseQuery("a=%"));
  // What formEncode writes, parseQuery reads back.
  const FormFields sent{{"k y", "v&=+%\x01\xff"}, {"b", ""}};
  BOOST_TEST((*parseQuery(formEncode(sent)) == sent));
}
