// Files and process on a shared host: state_dir is private and refused when another user could
// write to it or owns it; the lock file is never opened through a planted symbolic link; spool
// files are 0600 with unguessable names; the process keeps its memory out of core files.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "connectors/common/Error.h"
#include "gateway/app/ProcessHardening.h"
#include "gateway/delivery/Spool.h"
#include "gateway/service/StateDir.h"
#include "gateway/service/StateLock.h"
#include "tests/support/TempDir.h"

using namespace popgate;
using namespace popgate::gateway;
namespace fs = std::filesystem;

namespace {

mode_t modeOf(const fs::path& path) {
  struct stat st {};
  BOOST_REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// The text of the Error(Config) prepareStateDir throws for `dir`; empty when it accepts it.
std::string refusal(const fs::path& dir) {
  try {
    prepareStateDir(dir, "gw.yaml");
  } catch (const Error& e) {
    BOOST_TEST(static_cast<int>(e.kind()) == static_cast<int>(ErrorKind::Config));
    return e.what();
  }
  return {};
}

// Restores the process umask when it goes.
struct UmaskGuard {
  explicit UmaskGuard(mode_t mask) : old(::umask(mask)) {}
  ~UmaskGuard() { ::umask(old); }
  mode_t old;
};

}  // namespace

BOOST_AUTO_TEST_CASE(testStateDirIsCreatedPrivateWhateverTheUmask) {
  const UmaskGuard permissive(0);
  test::TempDir dir;
  const fs::path state = dir.path() / "state";
  BOOST_TEST(refusal(state).empty());
  BOOST_TEST(modeOf(state) == 0700u);
}

BOOST_AUTO_TEST_CASE(testGroupWritableStateDirIsRefused) {
  test::TempDir dir;
  const fs::path state = dir.path() / "state";
  fs::create_directory(state);
  ::chmod(state.c_str(), 0770);
  BOOST_TEST(refusal(state) ==
             "gw.yaml: state_dir " + state.string() +
                 " is writable by other users (mode 0770); they could change what popgate "
                 "delivers: chmod 700 it, or name a subdirectory that popgate creates itself");
  ::chmod(state.c_str(), 01777);  // like /tmp
  BOOST_TEST(refusal(state).find("is writable by other users (mode 1777)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(testStateDirOfAnotherUserIsRefused) {
  test::TempDir dir;
  fs::path state = dir.path() / "state";
  if (::geteuid() == 0) {
    fs::create_directory(state);
    BOOST_REQUIRE(::chown(state.c_str(), 65534, 65534) == 0);  // nobody
    ::chmod(state.c_str(), 0700);
  } else {
    state = "/usr";  // root's, never ours
  }
  const std::string text = refusal(state);
  BOOST_TEST(text.find("gw.yaml: state_dir " + state.string() + " belongs to uid ") == 0u, text);
  BOOST_TEST(text.find("but popgate runs as uid " + std::to_string(::geteuid())) !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(testReadableStateDirOfOursIsTightened) {
  test::TempDir dir;
  const fs::path state = dir.path() / "state";
  fs::create_directory(state);
  ::chmod(state.c_str(), 0755);
  BOOST_TEST(refusal(state).empty());
  BOOST_TEST(modeOf(state) == 0700u);
}

BOOST_AUTO_TEST_CASE(testStateDirThatIsAFileIsRefused) {
  test::TempDir dir;
  const fs::path file = dir.write("state", "x");
  BOOST_TEST(refusal(file) == "gw.yaml: state_dir " + file.string() + ": not a directory");
}

BOOST_AUTO_TEST_CASE(testLockFileIsNeverOpenedThroughASymlink) {
  test::TempDir dir;
  const fs::path victim = dir.path() / "victim";
  fs::create_symlink(victim, dir.path() / "popgate.lock");
  try {
    StateLock lock(dir.path());
    BOOST_FAIL("a symbolic link as popgate.lock was followed");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("it is a symbolic link") != std::string::npos, e.what());
  }
  BOOST_TEST(!fs::exists(victim));  // nothing was created where the link points
  // A link to an existing file of someone else's: neither truncated nor locked.
  test::TempDir other;
  const fs::path target = other.write("precious", "keep me");
  fs::remove(dir.path() / "popgate.lock");
  fs::create_symlink(target, dir.path() / "popgate.lock");
  BOOST_CHECK_THROW(StateLock{dir.path()}, Error);
  BOOST_TEST(other.read("precious") == "keep me");
}

BOOST_AUTO_TEST_CASE(testLockFileIsPrivate) {
  const UmaskGuard permissive(0);
  test::TempDir dir;
  StateLock lock(dir.path());
  BOOST_TEST(modeOf(dir.path() / "popgate.lock") == 0600u);
}

namespace {

StateLock::Clock::time_point mtimeOf(const fs::path& path) {
  struct stat st {};
  BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
  return StateLock::Clock::time_point(std::chrono::duration_cast<StateLock::Clock::duration>(
      std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
}

void setMtime(const fs::path& path, std::int64_t seconds) {
  const timespec times[2] = {{seconds, 0}, {seconds, 0}};
  BOOST_REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

}  // namespace

// The lock file's modification time says when its holder was last alive: the next holder reads
// it (the wait for uploads a killed process left on their way counts from it).
BOOST_AUTO_TEST_CASE(testTheLockTellsWhenThePreviousHolderWasLastAlive) {
  test::TempDir dir;
  const fs::path file = dir.path() / "popgate.lock";
  {
    StateLock first(dir.path());
    BOOST_TEST(!first.previousHolderAlive().has_value());  // a new file: nobody held it before
  }
  setMtime(file, 1'750'000'000);  // a holder killed at that moment, stamping no more
  {
    StateLock next(dir.path());
    BOOST_REQUIRE(next.previousHolderAlive().has_value());
    BOOST_TEST((*next.previousHolderAlive() ==
                StateLock::Clock::time_point(std::chrono::seconds(1'750'000'000))));
    // While held, the stamp is renewed (every kStampEvery).
    setMtime(file, 1'750'000'000);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (mtimeOf(file) == StateLock::Clock::time_point(std::chrono::seconds(1'750'000'000)) &&
           std::chrono::steady_clock::now() < deadline) {
      ::usleep(20'000);
    }
    BOOST_TEST((mtimeOf(file) > StateLock::Clock::time_point(std::chrono::seconds(1'750'000'000))));
  }
  // Released: the last stamp is the moment of release, what the next holder reads.
  const auto released = StateLock::Clock::now();
  StateLock after(dir.path());
  BOOST_REQUIRE(after.previousHolderAlive().has_value());
  BOOST_TEST((*after.previousHolderAlive() <= released));
  BOOST_TEST((*after.previousHolderAlive() > released - std::chrono::seconds(5)));
}

BOOST_AUTO_TEST_CASE(testSpoolFilesArePrivateWithUnguessableNames) {
  const UmaskGuard permissive(0);
  test::TempDir dir;
  // "msg-" 32 lower-case hex digits ".eml" (no std::regex: GCC 12 warns inside it under ASan).
  const auto randomName = [](const std::string& file) {
    if (file.size() != 40 || !file.starts_with("msg-") || !file.ends_with(".eml")) return false;
    return std::all_of(file.begin() + 4, file.end() - 4,
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  };
  std::set<std::string> names;
  std::vector<std::unique_ptr<Spool>> spools;
  for (int i = 0; i < 5; ++i) {
    spools.push_back(std::make_unique<Spool>(dir.path(), 0));  // every byte goes to a file
    spools.back()->write("Subject: x\r\n\r\nbody\r\n");
    spools.back()->finish();
  }
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    const std::string file = entry.path().filename().string();
    BOOST_TEST(randomName(file), file);
    BOOST_TEST(file.find(std::to_string(::getpid())) == std::string::npos);  // no pid, no counter
    BOOST_TEST(modeOf(entry.path()) == 0600u, file);
    names.insert(file);
  }
  BOOST_TEST(names.size() == 5u);
  std::string back;
  spools.front()->forEachChunk([&](std::string_view chunk) { back.append(chunk); });
  BOOST_TEST(back == "Subject: x\r\n\r\nbody\r\n");
}

BOOST_AUTO_TEST_CASE(testHardenedProcessWritesNoCoreAndCreatesPrivateFiles) {
  // In a child, so this test process keeps its own settings.
  const pid_t child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    ::umask(022);
    hardenProcess();
    rlimit core{};
    ::getrlimit(RLIMIT_CORE, &core);
    int failed = 0;
    if (::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) failed |= 1;
    if (core.rlim_cur != 0 || core.rlim_max != 0) failed |= 2;
    if (::umask(0) != 077) failed |= 4;
    ::_exit(failed);
  }
  int status = 0;
  BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
  BOOST_REQUIRE(WIFEXITED(status));
  const int failed = WEXITSTATUS(status);
  BOOST_TEST((failed & 1) == 0, "still dumpable");
  BOOST_TEST((failed & 2) == 0, "RLIMIT_CORE not 0");
  BOOST_TEST((failed & 4) == 0, "umask not 077");
}
