#pragma once
// Mail and well-behaved script fragments for the servers of a whole pass (HostileRig.h): a POP3
// maildrop that logs the rig's account in, and an IMAP target as Dovecot answers. Hostile cases
// splice their own steps between them with Script::then().

#include <string>
#include <string_view>
#include <vector>

#include "tests/support/ScriptedServer.h"

namespace popgate::test {

// Message number `n`: a few headers (Message-ID <hostile-n@example.test>), a one-line body, CRLF.
std::string mail(int n);
// A RETR answer for `body` (empty, or ending with CRLF): "+OK <size> octets", the body
// dot-stuffed, ".".
std::string retrReply(std::string_view body);
// A POP3 multi-line answer: "+OK", the lines each with CRLF, ".".
std::string multiline(const std::vector<std::string>& lines);
// The size of `body` in octets, as decimal text (for LIST lines).
std::string sizeOf(const std::string& body);

// POP3 greeting, CAPA answered with `caps`, and USER/PASS of the rig's account accepted.
Script popLogin(const std::vector<std::string>& caps = {"USER", "UIDL"});
// UIDL answered with `uidl_reply`, then LIST with `list_reply` (both sent exactly as given).
Script popListing(std::string uidl_reply, std::string list_reply);
// A well-behaved listing of messages 1..n with UIDLs m1..mn and the sizes of `bodies`.
Script popListingOf(const std::vector<std::string>& bodies);
// RETR n answered with retrReply(body).
Script popRetr(int n, std::string_view body);
// DELE n accepted.
Script popDele(int n);
// QUIT confirmed, then the server closes.
Script popQuit();

// The hierarchy delimiter query (LIST "" "") the client makes before it names a folder: "/".
Script imapDelimiter();
// IMAP greeting with `caps`, LOGIN answered with the capabilities (as Dovecot does), then
// imapDelimiter().
Script imapLoggedIn(const std::string& caps);
// One APPEND with a non-synchronizing literal (LITERAL+), answered with the tagged `ok`.
Script imapAppendPlus(const std::string& ok = "OK [APPENDUID 9 1] Append completed\r\n");
// The pool's LOGOUT of an idle session at the end of the pass, then the server closes.
Script imapLogout();

}  // namespace popgate::test
