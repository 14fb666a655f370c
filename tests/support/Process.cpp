#include "tests/support/Process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

extern char** environ;  // NOLINT: POSIX declares it nowhere else

#ifndef POPGATE_SOURCE_DIR_FALLBACK
#define POPGATE_SOURCE_DIR_FALLBACK ""
#endif

namespace popgate::test {
namespace {

namespace fs = std::filesystem;

// Numbers output files when several processes share one output_dir.
std::atomic<unsigned> output_counter{0};

// posix_spawn's C interfaces, released on every path.
class SpawnSetup {
 public:
  SpawnSetup() {
    if (int rc = posix_spawn_file_actions_init(&actions_); rc != 0) fail(rc, "file_actions_init");
    if (int rc = posix_spawnattr_init(&attr_); rc != 0) {
      posix_spawn_file_actions_destroy(&actions_);
      fail(rc, "spawnattr_init");
    }
  }
  ~SpawnSetup() {
    posix_spawnattr_destroy(&attr_);
    posix_spawn_file_actions_destroy(&actions_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  // fd `fd` of the child opens `path` (which must outlive the spawn) with `flags`.
  void open(int fd, const std::string& path, int flags) {
    if (int rc = posix_spawn_file_actions_addopen(&actions_, fd, path.c_str(), flags, 0644);
        rc != 0) {
      fail(rc, "addopen " + path);
    }
  }
  void chdir(const std::string& dir) {
    if (int rc = posix_spawn_file_actions_addchdir_np(&actions_, dir.c_str()); rc != 0) {
      fail(rc, "addchdir " + dir);
    }
  }
  // Own process group, default handlers for every signal, nothing blocked.
  void isolate() {
    sigset_t all;
    sigset_t none;
    sigfillset(&all);
    sigemptyset(&none);
    int rc = posix_spawnattr_setpgroup(&attr_, 0);
    if (rc == 0) rc = posix_spawnattr_setsigdefault(&attr_, &all);
    if (rc == 0) rc = posix_spawnattr_setsigmask(&attr_, &none);
    if (rc == 0) {
      rc = posix_spawnattr_setflags(
          &attr_, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    }
    if (rc != 0) fail(rc, "spawnattr");
  }
  const posix_spawn_file_actions_t* actions() const { return &actions_; }
  const posix_spawnattr_t* attr() const { return &attr_; }

 private:
  [[noreturn]] static void fail(int rc, const std::string& what) {
    throw std::system_error(rc, std::generic_category(), "posix_spawn: " + what);
  }

  posix_spawn_file_actions_t actions_{};
  posix_spawnattr_t attr_{};
};

// The inherited environment with `options` applied, as "NAME=value" strings.
std::vector<std::string> childEnvironment(const ProcessOptions& options) {
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view item(*entry);
    std::string name(item.substr(0, item.find('=')));
    bool replaced = options.env.count(name) != 0;
    bool removed = std::find(options.unset_env.begin(), options.unset_env.end(), name) !=
                   options.unset_env.end();
    if (!replaced && !removed) env.emplace_back(item);
  }
  for (const auto& [name, value] : options.env) {
    std::string entry = name;
    entry += '=';
    entry += value;
    env.push_back(std::move(entry));
  }
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

ExitStatus decode(int raw) {
  ExitStatus status;
  if (WIFEXITED(raw)) {
    status.exited = true;
    status.code = WEXITSTATUS(raw);
  } else if (WIFSIGNALED(raw)) {
    status.signal = WTERMSIG(raw);
  }
  return status;
}

}  // namespace

std::string ExitStatus::describe() const {
  if (exited) return "exit " + std::to_string(code);
  const char* name = strsignal(signal);
  return "signal " + std::to_string(signal) + " (" + (name != nullptr ? name : "?") + ")";
}

Process::Process(std::vector<std::string> argv, const ProcessOptions& options)
    : argv_(std::move(argv)) {
  if (argv_.empty() || argv_.front().empty()) {
    throw std::invalid_argument("Process: empty command line");
  }
  fs::path out_dir = options.output_dir;
  if (out_dir.empty()) {
    own_output_dir_ = std::make_unique<TempDir>("popgate-proc");
    out_dir = own_output_dir_->path();
  } else {
    fs::create_directories(out_dir);
  }
  std::string stem = fs::path(argv_.front()).filename().string() + "-" +
                     std::to_string(output_counter.fetch_add(1));
  stdout_path_ = out_dir / (stem + ".stdout");
  stderr_path_ = out_dir / (stem + ".stderr");

  std::string stdin_path = options.stdin_file.empty() ? "/dev/null" : options.stdin_file.string();
  std::string stdout_path = stdout_path_.string();
  std::string stderr_path = stderr_path_.string();
  std::string working_dir = options.working_dir.string();

  SpawnSetup setup;
  setup.open(STDIN_FILENO, stdin_path, O_RDONLY);
  setup.open(STDOUT_FILENO, stdout_path, O_WRONLY | O_CREAT | O_TRUNC);
  setup.open(STDERR_FILENO, stderr_path, O_WRONLY | O_CREAT | O_TRUNC);
  if (!working_dir.empty()) setup.chdir(working_dir);
  setup.isolate();

  std::vector<std::string> args = argv_;
  std::vector<std::string> env = childEnvironment(options);
  std::vector<char*> arg_ptrs = pointers(args);
  std::vector<char*> env_ptrs = pointers(env);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, arg_ptrs[0], setup.actions(), setup.attr(), arg_ptrs.data(),
                        env_ptrs.data());
  if (rc != 0) {
    throw std::system_error(rc, std::generic_category(), "cannot start " + commandLine());
  }
  pid_ = pid;
}

Process::~Process() {
  if (pid_ <= 0 || status_) return;
  kill(SIGKILL);
  int raw = 0;
  while (waitpid(pid_, &raw, 0) < 0 && errno == EINTR) {
  }
}

bool Process::poll() {
  if (status_) return true;
  int raw = 0;
  struct rusage usage {};
  pid_t r;
  do {
    r = wait4(pid_, &raw, WNOHANG, &usage);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    status_ = decode(raw);
    status_->max_rss_kb = usage.ru_maxrss;
    return true;
  }
  if (r < 0) {
    throw std::system_error(errno, std::generic_category(), "waitpid " + commandLine());
  }
  return false;
}

bool Process::running() {
  return !poll();
}

std::optional<ExitStatus> Process::wait(std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + timeout;
  constexpr std::chrono::milliseconds kMaxStep{20};
  std::chrono::milliseconds step{1};  // polls at 1, 2, 4 ... 20 ms: quick for quick children
  while (!poll()) {
    Clock::time_point now = Clock::now();
    if (now >= deadline) return std::nullopt;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    std::this_thread::sleep_for(std::min(step, left));
    step = std::min(step * 2, kMaxStep);
  }
  return status_;
}

void Process::kill(int sig) {
  if (pid_ <= 0 || status_) return;
  // The group first; if it is gone (the child left it), the child itself.
  if (::kill(-pid_, sig) != 0) ::kill(pid_, sig);
}

std::string Process::output() const {
  std::error_code ec;
  return fs::exists(stdout_path_, ec) ? readFile(stdout_path_) : std::string();
}

std::string Process::errorOutput() const {
  std::error_code ec;
  return fs::exists(stderr_path_, ec) ? readFile(stderr_path_) : std::string();
}

std::string Process::commandLine() const {
  std::string line;
  for (const std::string& arg : argv_) {
    if (!line.empty()) line += ' ';
    line += arg;
  }
  return line;
}

CommandResult runCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                         const std::map<std::string, std::string>& env) {
  ProcessOptions options;
  options.env = env;
  Process child(argv, options);
  CommandResult result;
  if (std::optional<ExitStatus> status = child.wait(timeout)) {
    result.exit_code = status->shellCode();
  } else {
    child.kill(SIGKILL);
    child.wait(std::chrono::seconds(10));
    result.timed_out = true;
  }
  result.out = child.output();
  result.err = child.errorOutput();
  return result;
}

fs::path popgateBinary() {
  const char* env = std::getenv("POPGATE_BINARY");
  if (env == nullptr || *env == '\0') {
    throw std::runtime_error("POPGATE_BINARY is not set (run the test through ctest)");
  }
  fs::path binary(env);
  std::error_code ec;
  if (!fs::is_regular_file(binary, ec)) {
    throw std::runtime_error("POPGATE_BINARY=" + binary.string() + " is not a file");
  }
  return binary;
}

fs::path sourceDir() {
  const char* env = std::getenv("POPGATE_SOURCE_DIR");
  fs::path dir = (env != nullptr && *env != '\0') ? env : POPGATE_SOURCE_DIR_FALLBACK;
  if (dir.empty()) {
    throw std::runtime_error("POPGATE_SOURCE_DIR is not set and no fallback was built in");
  }
  return dir;
}

}  // namespace popgate::test
