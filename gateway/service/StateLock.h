#pragma once
// One popgate process per state_dir: two processes polling the same accounts would both see a
// message as new and append it twice. An advisory flock on state_dir/popgate.lock, held for the
// life of the object (and released by the kernel if the process dies).
//
// While held, the lock file's modification time is stamped every second: the next holder learns
// when this process was last alive, however it ended (kill -9 included). Bytes it wrote to a
// server were written before that moment (UploadSettle waits for them to arrive).

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

namespace popgate::gateway {

class StateLock {
 public:
  using Clock = std::chrono::system_clock;

  // Takes the lock (popgate.lock, mode 0600, never through a symbolic link), reads the previous
  // holder's last stamp and starts stamping. Throws Error(Internal) naming the directory when
  // another process holds it or the lock file cannot be created or opened (a symbolic link in its
  // place included).
  explicit StateLock(const std::filesystem::path& state_dir);
  ~StateLock();
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;

  // When the previous process that held this state_dir was last known alive (its last stamp, at
  // most a second before it ended); nullopt when the lock file is new (no process held it).
  std::optional<Clock::time_point> previousHolderAlive() const { return previous_alive_; }

  // How often the holder stamps the file.
  static constexpr std::chrono::seconds kStampEvery{1};

 private:
  void stampUntilReleased();

  int fd_ = -1;
  std::optional<Clock::time_point> previous_alive_;
  std::mutex mutex_;
  std::condition_variable released_cv_;
  bool released_ = false;
  std::thread stamper_;
};

}  // namespace popgate::gateway
