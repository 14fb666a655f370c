#pragma once
// POP3 sessions per user as Dovecot's own log tells them (the server's word, not popgate's): a
// "pop3-login: Info: Login: user=<U>" line opens one, a "pop3(U)...: Disconnected" line closes
// one. The sandbox logs in one stream, in the order the events happened.
//
//   const PopSessions s = popSessions(dovecot.log());
//   BOOST_TEST(s.most_at_once.at("acct1") == 1u);

#include <cstddef>
#include <map>
#include <string>

namespace popgate::test {

struct PopSessions {
  std::map<std::string, std::size_t> logins;       // sessions opened, per user
  std::map<std::string, std::size_t> most_at_once;  // the most open at the same time, per user
};

// Reads `log` (Dovecot's log text); lines about other protocols, failed logins and unknown users
// are skipped.
PopSessions popSessions(const std::string& log);

}  // namespace popgate::test
