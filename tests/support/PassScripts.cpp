#include "tests/support/PassScripts.h"

#include <cstddef>
#include <utility>

#include "tests/support/HostileRig.h"

namespace popgate::test {
namespace {

// Greeting with `caps` and a LOGIN answered with the capabilities (as Dovecot does).
Script imapLogin(const std::string& caps) {
  return imapGreeting(caps).expectCommand("LOGIN").sendTagged("OK [CAPABILITY " + caps +
                                                              "] Logged in\r\n");
}

}  // namespace

std::string mail(int n) {
  const std::string id = std::to_string(n);
  return "Message-ID: <hostile-" + id + "@example.test>\r\nFrom: a@example.test\r\nSubject: case " +
         id + "\r\n\r\nbody " + id + "\r\n";
}

std::string retrReply(std::string_view body) {
  std::string out = "+OK " + std::to_string(body.size()) + " octets\r\n";
  bool line_start = true;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (line_start && body[i] == '.') out += '.';
    out += body[i];
    line_start = body[i] == '\n' && i > 0 && body[i - 1] == '\r';
  }
  return out + ".\r\n";
}

std::string multiline(const std::vector<std::string>& lines) {
  std::string out = "+OK\r\n";
  for (const std::string& line : lines) out += line + "\r\n";
  return out + ".\r\n";
}

std::string sizeOf(const std::string& body) {
  return std::to_string(body.size());
}

Script popLogin(const std::vector<std::string>& caps) {
  return pop3Greeting()
      .then(pop3Capa(caps))
      .expect("USER " + kPopUser)
      .send("+OK\r\n")
      .expect("PASS ")
      .send("+OK logged in\r\n");
}

Script popListing(std::string uidl_reply, std::string list_reply) {
  Script s;
  s.expect("UIDL").send(std::move(uidl_reply)).expect("LIST").send(std::move(list_reply));
  return s;
}

Script popListingOf(const std::vector<std::string>& bodies) {
  std::vector<std::string> uidl, list;
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    uidl.push_back(std::to_string(i + 1) + " m" + std::to_string(i + 1));
    list.push_back(std::to_string(i + 1) + " " + sizeOf(bodies[i]));
  }
  return popListing(multiline(uidl), multiline(list));
}

Script popRetr(int n, std::string_view body) {
  Script s;
  s.expect("RETR " + std::to_string(n)).send(retrReply(body));
  return s;
}

Script popDele(int n) {
  Script s;
  s.expect("DELE " + std::to_string(n)).send("+OK message " + std::to_string(n) + " deleted\r\n");
  return s;
}

Script popQuit() {
  Script s;
  s.expect("QUIT").send("+OK bye\r\n").close();
  return s;
}

Script imapDelimiter() {
  Script s;
  s.expectCommand("LIST")
      .send("* LIST (\\Noselect) \"/\" \"\"\r\n")
      .sendTagged("OK List completed\r\n");
  return s;
}

Script imapLoggedIn(const std::string& caps) {
  return imapLogin(caps).then(imapDelimiter());
}

Script imapAppendPlus(const std::string& ok) {
  Script s;
  s.expectCommand("APPEND").readAnnouncedLiteral().expect("").sendTagged(ok);
  return s;
}

Script imapLogout() {
  Script s;
  s.expectCommand("LOGOUT")
      .send("* BYE Logging out\r\n")
      .sendTagged("OK Logout completed\r\n")
      .close();
  return s;
}

}  // namespace popgate::test
