#pragma once
// One popgate process per state_dir: two processes polling the same accounts would both see a
// message as new and append it twice. An advisory flock on state_dir/popgate.lock, held for the
// life of the object (and released by the kernel if the process dies).

#include <filesystem>

namespace popgate::gateway {

class StateLock {
 public:
  // Takes the lock (popgate.lock, mode 0600, never through a symbolic link). Throws
  // Error(Internal) naming the directory when another process holds it or the lock file cannot be
  // created or opened (a symbolic link in its place included).
  explicit StateLock(const std::filesystem::path& state_dir);
  ~StateLock();
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace popgate::gateway
