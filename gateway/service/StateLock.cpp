#include "StateLock.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "connectors/common/Error.h"

namespace popgate::gateway {

StateLock::StateLock(const std::filesystem::path& state_dir) {
  const std::filesystem::path file = state_dir / "popgate.lock";
  // O_NOFOLLOW: a symbolic link planted under the name must not make popgate create or lock a file
  // elsewhere.
  fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
  if (fd_ < 0) {
    const int error = errno;
    const std::string why = error == ELOOP
                                ? "it is a symbolic link; popgate never follows one there (remove it)"
                                : std::strerror(error);
    throw Error(ErrorKind::Internal, "cannot create " + file.string() + ": " + why);
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    fd_ = -1;
    throw Error(ErrorKind::Internal, "another popgate process is using " + state_dir.string() +
                                         " (a daemon, or a `once` still running); "
                                         "two at a time could deliver messages twice");
  }
}

StateLock::~StateLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace popgate::gateway
