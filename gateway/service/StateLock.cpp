#include "StateLock.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "connectors/common/Error.h"

namespace popgate::gateway {

namespace {

// O_NOFOLLOW: a symbolic link planted under the name must not make popgate create or lock a file
// elsewhere. Returns the descriptor and whether the file was created now.
std::pair<int, bool> openLockFile(const std::filesystem::path& file) {
  constexpr int kFlags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY;
  int fd = ::open(file.c_str(), kFlags | O_CREAT | O_EXCL, 0600);
  if (fd >= 0) return {fd, true};
  if (errno == EEXIST) fd = ::open(file.c_str(), kFlags);
  if (fd < 0) {
    const int error = errno;
    const std::string why = error == ELOOP
                                ? "it is a symbolic link; popgate never follows one there (remove it)"
                                : std::strerror(error);
    throw Error(ErrorKind::Internal, "cannot create " + file.string() + ": " + why);
  }
  return {fd, false};
}

}  // namespace

StateLock::StateLock(const std::filesystem::path& state_dir) {
  const std::filesystem::path file = state_dir / "popgate.lock";
  const auto [fd, created] = openLockFile(file);
  fd_ = fd;
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    fd_ = -1;
    throw Error(ErrorKind::Internal, "another popgate process is using " + state_dir.string() +
                                         " (a daemon, or a `once` still running); "
                                         "two at a time could deliver messages twice");
  }
  struct stat st {};
  if (!created && ::fstat(fd_, &st) == 0) {
    previous_alive_ = Clock::time_point(std::chrono::duration_cast<Clock::duration>(
        std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
  }
  ::futimens(fd_, nullptr);  // alive now
  stamper_ = std::thread([this] { stampUntilReleased(); });
}

StateLock::~StateLock() {
  {
    std::lock_guard lock(mutex_);
    released_ = true;
  }
  released_cv_.notify_all();
  if (stamper_.joinable()) stamper_.join();
  if (fd_ >= 0) {
    ::futimens(fd_, nullptr);  // the last moment this process could have written anything
    ::close(fd_);
  }
}

void StateLock::stampUntilReleased() {
  std::unique_lock lock(mutex_);
  while (!released_cv_.wait_for(lock, kStampEvery, [this] { return released_; })) {
    ::futimens(fd_, nullptr);  // on a descriptor opened read-write by its owner: cannot be refused
  }
}

}  // namespace popgate::gateway
