#include "tests/support/PopSessions.h"

#include <sstream>

namespace popgate::test {

namespace {

// The text between `open` and `close` after `at` in `line`, or "" when absent.
std::string between(const std::string& line, std::size_t at, const std::string& open, char close) {
  const std::size_t start = line.find(open, at);
  if (start == std::string::npos) return "";
  const std::size_t from = start + open.size();
  const std::size_t end = line.find(close, from);
  return end == std::string::npos ? "" : line.substr(from, end - from);
}

}  // namespace

PopSessions popSessions(const std::string& log) {
  PopSessions out;
  std::map<std::string, std::size_t> open;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    // "pop3-login: Info: Login: user=<U>, method=PLAIN, rip=...": a session begins.
    if (const std::size_t at = line.find("pop3-login: "); at != std::string::npos &&
                                                          line.find(": Login: user=<", at) != std::string::npos) {
      const std::string user = between(line, at, ": Login: user=<", '>');
      if (user.empty()) continue;
      ++out.logins[user];
      std::size_t& now = open[user];
      ++now;
      if (now > out.most_at_once[user]) out.most_at_once[user] = now;
      continue;
    }
    // "pop3(U)<pid><session>: Info: Disconnected: Logged out ...": it ends.
    if (const std::size_t at = line.find(" pop3("); at != std::string::npos &&
                                                     line.find(": Disconnected", at) != std::string::npos) {
      const std::string user = between(line, at, " pop3(", ')');
      if (auto it = open.find(user); it != open.end() && it->second > 0) --it->second;
    }
  }
  return out;
}

}  // namespace popgate::test
