#pragma once
// Child processes for tests: the popgate binary in integration tests, helper scripts, tools.

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/TempDir.h"

namespace popgate::test {

// How a child ended: exit(code), or killed by a signal.
struct ExitStatus {
  bool exited = false;  // true: the child exited with `code`; false: `signal` killed it
  int code = 0;
  int signal = 0;
  long max_rss_kb = 0;  // the child's peak resident set size (getrusage's ru_maxrss), in KiB

  // True for exit code 0.
  bool success() const { return exited && code == 0; }
  // The shell's number: the exit code, or 128 + the signal.
  int shellCode() const { return exited ? code : 128 + signal; }
  // "exit 1" or "signal 9 (Killed)", for test messages.
  std::string describe() const;
};

// How to start a child. Everything is optional.
struct ProcessOptions {
  // Added to the inherited environment; a name already there gets this value instead.
  std::map<std::string, std::string> env;
  // Names removed from the inherited environment.
  std::vector<std::string> unset_env;
  // Directory for the stdout/stderr files; empty: a private TempDir that goes with the Process.
  std::filesystem::path output_dir;
  // File fed to stdin; empty: /dev/null.
  std::filesystem::path stdin_file;
  // Working directory; empty: the current one.
  std::filesystem::path working_dir;
};

// One child process, started by the constructor (posix_spawnp: argv[0] is looked up in PATH
// unless it contains a slash) in a process group of its own, with default signal dispositions, an
// empty signal mask, stdin from stdin_file or /dev/null, and stdout/stderr written to files.
// The destructor kills the group with SIGKILL if the child still runs, then reaps it.
// Not thread-safe; not copyable or movable (hold it in a std::unique_ptr to pass it around).
class Process {
 public:
  // Starts the child. Throws std::invalid_argument for an empty argv, std::system_error when
  // the spawn fails (e.g. the program does not exist).
  explicit Process(std::vector<std::string> argv, const ProcessOptions& options = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // The child's pid (also its process group id).
  pid_t pid() const { return pid_; }
  // True until the child has ended (reaps it when it has).
  bool running();
  // Waits up to `timeout` for the child to end: its status, or nullopt if it still runs.
  // Once the child has ended every call returns the same status at once.
  std::optional<ExitStatus> wait(std::chrono::milliseconds timeout);
  // Sends `sig` to the child's process group (the child and anything it started in that group).
  // Does nothing once the child has been reaped.
  void kill(int sig = SIGTERM);
  // Everything the child wrote to stdout / stderr so far.
  std::string output() const;
  std::string errorOutput() const;
  // The files holding stdout and stderr.
  const std::filesystem::path& outputPath() const { return stdout_path_; }
  const std::filesystem::path& errorPath() const { return stderr_path_; }
  // The command line, space-separated, for messages.
  std::string commandLine() const;

 private:
  bool poll();  // true once reaped

  std::vector<std::string> argv_;
  std::unique_ptr<TempDir> own_output_dir_;
  std::filesystem::path stdout_path_;
  std::filesystem::path stderr_path_;
  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
};

// What runCommand() saw.
struct CommandResult {
  int exit_code = -1;      // ExitStatus::shellCode(); -1 when the command timed out
  bool timed_out = false;  // the command ran longer than allowed and was killed
  std::string out;         // all of stdout
  std::string err;         // all of stderr
};

// Runs argv to completion (see Process for how), at most `timeout`; on timeout the process group
// is killed (SIGKILL) and timed_out is set. Throws what Process throws.
CommandResult runCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                         const std::map<std::string, std::string>& env = {});

// The popgate binary under test: $POPGATE_BINARY (set by ctest). Throws std::runtime_error when
// unset or not an existing file.
std::filesystem::path popgateBinary();
// The repository root: $POPGATE_SOURCE_DIR (set by ctest), else the source directory this
// library was built from. Throws std::runtime_error when neither is known.
std::filesystem::path sourceDir();

}  // namespace popgate::test
