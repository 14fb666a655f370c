// The reader of Dovecot's log that the replica tests take the server's word from
// (tests/support/PopSessions): sessions opened and most open at once per user, from Dovecot 2.3's
// own line shapes; failed logins and other protocols are not sessions.
#include <boost/test/unit_test.hpp>

#include "tests/support/PopSessions.h"

using namespace popgate::test;

namespace {

std::string login(const std::string& user, int pid) {
  return "Dec 05 07:20:01 pop3-login: Info: Login: user=<" + user +
         ">, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, mpid=" + std::to_string(pid) +
         ", TLS, session=<kx3Yj0Ls>\n";
}

std::string logout(const std::string& user, int pid) {
  return "Dec 05 07:20:02 pop3(" + user + ")<" + std::to_string(pid) +
         "><kx3Yj0Ls>: Info: Disconnected: Logged out top=0/0, retr=1/602, del=1/1, size=602\n";
}

}  // namespace

BOOST_AUTO_TEST_CASE(testSessionsOneAfterAnotherAreNeverTwoAtOnce) {
  const std::string log = login("acct1", 10) + logout("acct1", 10) + login("acct1", 11) +
                          login("acct2", 12) + logout("acct1", 11) + logout("acct2", 12);
  const PopSessions s = popSessions(log);
  BOOST_TEST(s.logins.at("acct1") == 2u);
  BOOST_TEST(s.most_at_once.at("acct1") == 1u);
  BOOST_TEST(s.most_at_once.at("acct2") == 1u);
}

BOOST_AUTO_TEST_CASE(testOverlappingSessionsOfOneUserAreCounted) {
  const std::string log = login("acct1", 10) + login("acct1", 11) + logout("acct1", 10) +
                          logout("acct1", 11);
  BOOST_TEST(popSessions(log).most_at_once.at("acct1") == 2u);
}

BOOST_AUTO_TEST_CASE(testFailedLoginsAndImapAreNotPopSessions) {
  const std::string log =
      "Dec 05 07:20:01 pop3-login: Info: Disconnected (auth failed, 1 attempts in 0 secs): "
      "user=<acct1>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, TLS, session=<a>\n"
      "Dec 05 07:20:01 imap-login: Info: Login: user=<me>, method=PLAIN, rip=127.0.0.1\n"
      "Dec 05 07:20:02 imap(me)<7><b>: Info: Disconnected: Logged out in=10 out=20\n";
  BOOST_TEST(popSessions(log).logins.empty());
}
