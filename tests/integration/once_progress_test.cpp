// `popgate once`'s progress display, the real binary against a real Dovecot: under a pseudo-
// terminal it draws a line per account that is redrawn in place (cursor up, erase line) and leaves
// a summary per account, the failing one with its error; with stderr into a pipe it writes plain
// lines only (no escape code, no carriage return): a start, what it will deliver, and a summary.
#include <boost/test/unit_test.hpp>

#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tests/support/GatewaySetup.h"
#include "tests/support/Messages.h"

extern char** environ;

using namespace std::chrono_literals;
using namespace popgate::test;

namespace {

struct TerminalRun {
  int exit_code = -1;  // -1: killed, or it did not end in time
  std::string screen;  // every byte the program wrote to the terminal
};

// Runs argv with stdin, stdout and stderr on a new pseudo-terminal of `columns` x `rows` (TERM
// set to xterm), reading what it writes until it closes the terminal; at most `timeout`.
TerminalRun runOnTerminal(const std::vector<std::string>& argv, unsigned short columns,
                          unsigned short rows, std::chrono::seconds timeout) {
  // Everything the child needs is built before fork(): after it only exec and _exit.
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings{"TERM=xterm"};
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    if (!entry.starts_with("TERM=") && !entry.starts_with("NO_COLOR=")) env_strings.emplace_back(entry);
  }
  std::vector<char*> env;
  for (std::string& s : env_strings) env.push_back(s.data());
  env.push_back(nullptr);

  winsize size{};
  size.ws_col = columns;
  size.ws_row = rows;
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, &size);
  if (pid < 0) throw std::runtime_error(std::string("forkpty: ") + std::strerror(errno));
  if (pid == 0) {
    ::execve(args[0], args.data(), env.data());
    ::_exit(127);
  }
  TerminalRun run;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    const ssize_t n = ::read(master, buf, sizeof buf);
    if (n > 0) {
      run.screen.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;  // EIO: the last holder of the terminal's other side has closed it
  }
  ::close(master);
  int status = 0;
  if (std::chrono::steady_clock::now() >= deadline) ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  return run;
}

struct PipeRun {
  int exit_code = -1;
  std::string err;  // what the program wrote to stderr (a pipe); stdout goes to /dev/null
};

// Runs `popgate ARGS` through sh with stderr into a pipe and stdout thrown away.
PipeRun runWithStderrToPipe(const std::vector<std::string>& args) {
  std::string command = "exec '" + popgateBinary().string() + "'";
  for (const std::string& a : args) command += " '" + a + "'";
  command += " 2>&1 >/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed");
  PipeRun run;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) run.err.append(buf, n);
  const int status = ::pclose(pipe);
  if (WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  return run;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Whether `screen` moves the cursor up (CSI n A) somewhere: a line redrawn in place.
bool climbs(const std::string& screen) {
  for (std::size_t at = screen.find("\x1b["); at != std::string::npos;
       at = screen.find("\x1b[", at + 2)) {
    std::size_t i = at + 2;
    while (i < screen.size() && screen[i] >= '0' && screen[i] <= '9') ++i;
    if (i > at + 2 && i < screen.size() && screen[i] == 'A') return true;
  }
  return false;
}

std::vector<std::string> bulk(std::size_t from, std::size_t count) {
  std::vector<std::string> out;
  for (std::size_t i = from; i < from + count; ++i) out.push_back(bulkMessage(i, 3000));
  return out;
}

// Two accounts: "work" with `count` messages to deliver, "isp" with a wrong password.
struct TwoAccounts {
  DovecotSandbox dovecot{std::vector<std::string>{"work", "isp", "me"}};
  TempDir dir;
  std::filesystem::path config;

  TwoAccounts(std::size_t first, std::size_t count) {
    dovecot.seedMany("work", bulk(first, count));
    dovecot.seed("isp", sampleMessages()[0].bytes);
    config = writeGatewayConfig(dir, dovecot, "me",
                                {AccountSetup{"work", "Work", "implicit"},
                                 AccountSetup{"isp", "ISP", "starttls", true, "not-the-password"}});
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(testOnATerminalEachAccountHasAnUpdatingLineThenASummary) {
  TwoAccounts setup(0, 40);
  DovecotSandbox& dovecot = setup.dovecot;
  const auto& config = setup.config;
  const TerminalRun run = runOnTerminal(
      {popgateBinary().string(), "once", "--config", config.string()}, 100, 30, 120s);
  BOOST_TEST_INFO("terminal: " << run.screen);
  BOOST_TEST(run.exit_code == 1);  // isp cannot log in
  BOOST_TEST(dovecot.count("me", "Work") == 40u);
  // The line drawn when the pass starts, and again when it knows what it fetches; each line
  // erased to its end, the cursor climbing back over the block to redraw it.
  BOOST_TEST(contains(run.screen, "work  connecting\x1b[K"));
  BOOST_TEST(contains(run.screen, "work  0/40 msgs  0 B"));
  BOOST_TEST(climbs(run.screen));
  BOOST_TEST(contains(run.screen, "work  done: 40 delivered, 0 skipped, 0 quarantined, "));
  BOOST_TEST(contains(run.screen, "isp   failed: 0 delivered, 0 skipped, 0 quarantined: "));
  // The report on stdout is still there (the same terminal here).
  BOOST_TEST(contains(run.screen, "work: 40 uploaded"));
}

BOOST_AUTO_TEST_CASE(testWithStderrToAPipeTheLinesArePlain) {
  TwoAccounts setup(100, 12);
  DovecotSandbox& dovecot = setup.dovecot;
  const auto& config = setup.config;
  const PipeRun run = runWithStderrToPipe({"once", "--config", config.string()});
  BOOST_TEST_INFO("stderr: " << run.err);
  BOOST_TEST(run.exit_code == 1);
  BOOST_TEST(dovecot.count("me", "Work") == 12u);
  BOOST_TEST(run.err.find('\x1b') == std::string::npos);
  BOOST_TEST(run.err.find('\r') == std::string::npos);
  BOOST_TEST(contains(run.err, "work: pass starts"));
  BOOST_TEST(contains(run.err, "work: 12 messages to deliver ("));
  BOOST_TEST(contains(run.err, "work: done: 12 delivered, 0 skipped, 0 quarantined, "));
  BOOST_TEST(contains(run.err, "isp: pass starts"));
  BOOST_TEST(contains(run.err, "isp: failed: 0 delivered, 0 skipped, 0 quarantined: "));

  // A second pass: nothing new, said as such.
  const PipeRun again = runWithStderrToPipe({"once", "--config", config.string(), "--account", "work"});
  BOOST_TEST_INFO("stderr: " << again.err);
  BOOST_TEST(again.exit_code == 0);
  BOOST_TEST(contains(again.err, "work: nothing new (12 listed)"));
  BOOST_TEST(contains(again.err, "work: done: 0 delivered, 12 skipped, 0 quarantined, "));
}
