// Corpus replay for builds without libFuzzer (gcc, ordinary ctest runs): a main() that runs the
// target's LLVMFuzzerTestOneInput once over every regular file in the directories (or files)
// named on the command line, in sorted order, each from a heap copy of exactly its size.
//   fuzz_replay_<name> [--optional] PATH...
// A PATH after --optional may be missing (tests/fuzz/crashes/<name>/); any other missing or
// unreadable PATH, or no input at all, is an error (exit 2). A failed invariant or a sanitizer
// report aborts the process as libFuzzer would; the file being run is named on stderr first when
// the signal can be caught. Prints how many inputs ran; exit 0 when all of them returned.
// The address space is capped at 2 GiB (under AddressSanitizer: the RSS, through its
// hard_rss_limit_mb), so an input that makes the code under test allocate without bound fails
// fast instead of exhausting the machine running ctest.

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

#if defined(__SANITIZE_ADDRESS__)
#define POPGATE_REPLAY_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POPGATE_REPLAY_ASAN 1
#endif
#endif

namespace {

// The input being run, for the crash handler (async-signal-safe: a plain pointer and write()).
const char* g_current = nullptr;

void writeStderr(const char* text) {
  std::size_t left = std::strlen(text);
  while (left > 0) {
    const ssize_t written = ::write(STDERR_FILENO, text, left);
    if (written <= 0) return;
    text += written;
    left -= static_cast<std::size_t>(written);
  }
}

extern "C" void onCrash(int signal_number) {
  writeStderr("fuzz replay: crashed on input ");
  writeStderr(g_current != nullptr ? g_current : "(none)");
  writeStderr("\n");
  std::signal(signal_number, SIG_DFL);
  std::raise(signal_number);
}

// Names the input on a crash, for each signal nobody (such as a sanitizer) handles already.
void installCrashHandlers() {
  for (const int signal_number : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) {
    struct sigaction current {};
    if (::sigaction(signal_number, nullptr, &current) != 0) continue;
    if (current.sa_handler != SIG_DFL || (current.sa_flags & SA_SIGINFO) != 0) continue;
    std::signal(signal_number, onCrash);
  }
}

#ifdef POPGATE_REPLAY_ASAN
// Under ASan the same protection is an RSS limit the sanitizer enforces (ASAN_OPTIONS may
// still override it).
extern "C" const char* __asan_default_options() {
  return "hard_rss_limit_mb=2048";
}
#endif

// Caps the address space (ASan reserves terabytes of it, so not there).
void limitMemory() {
#ifndef POPGATE_REPLAY_ASAN
  constexpr rlim_t kLimit = rlim_t{2048} * 1024 * 1024;
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_AS, &limit) == 0 &&
      (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > kLimit)) {
    limit.rlim_cur = kLimit;
    ::setrlimit(RLIMIT_AS, &limit);
  }
#endif
}

bool readFile(const std::filesystem::path& file, std::vector<char>& out) {
  std::FILE* in = std::fopen(file.c_str(), "rb");
  if (in == nullptr) return false;
  out.clear();
  char buffer[65536];
  std::size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, in)) > 0)
    out.insert(out.end(), buffer, buffer + got);
  const bool ok = std::ferror(in) == 0;
  std::fclose(in);
  return ok;
}

// The regular files of `path` (itself when it is one), sorted; false when it cannot be read.
bool collect(const std::filesystem::path& path, std::vector<std::filesystem::path>& files) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) {
    files.push_back(path);
    return true;
  }
  if (!std::filesystem::is_directory(path, ec)) return false;
  std::vector<std::filesystem::path> found;
  for (std::filesystem::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) found.push_back(it->path());
  }
  if (ec) return false;
  std::sort(found.begin(), found.end());
  files.insert(files.end(), found.begin(), found.end());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::filesystem::path> files;
  bool optional = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--optional") {
      optional = true;
      continue;
    }
    const bool may_miss = optional;
    optional = false;
    std::error_code ec;
    if (may_miss && !std::filesystem::exists(arg, ec)) {
      std::printf("fuzz replay: %s absent (optional)\n", argv[i]);
      continue;
    }
    if (!collect(arg, files)) {
      std::fprintf(stderr, "fuzz replay: cannot read %s\n", argv[i]);
      return 2;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "fuzz replay: no inputs (usage: %s [--optional] PATH...)\n", argv[0]);
    return 2;
  }

  installCrashHandlers();
  limitMemory();
  std::size_t bytes = 0;
  for (const std::filesystem::path& file : files) {
    std::vector<char> content;
    if (!readFile(file, content)) {
      std::fprintf(stderr, "fuzz replay: cannot read %s\n", file.c_str());
      return 2;
    }
    // Exactly `size` bytes on the heap, as libFuzzer passes them, so overreads are caught.
    const auto copy = std::make_unique<std::uint8_t[]>(content.size());
    std::copy(content.begin(), content.end(), copy.get());
    g_current = file.c_str();
    LLVMFuzzerTestOneInput(copy.get(), content.size());
    g_current = nullptr;
    bytes += content.size();
  }
  std::printf("fuzz replay: %zu inputs (%zu bytes) ran without a crash\n", files.size(), bytes);
  return 0;
}
