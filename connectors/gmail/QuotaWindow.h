#pragma once
// Gmail's per-user quota as a sliding minute (docs/gmail.md "Limits"): 15,000 units a minute,
// users.messages.import costing 25 (about 600 imports a minute). Callers reserve units before a
// request and wait what reserve() says, so that several upload threads together stay inside the
// quota instead of collecting 429s. No clock of its own: tests pass the time.

#include <chrono>
#include <cstdint>
#include <deque>
#include <utility>

namespace popgate::gmail {

class QuotaWindow {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  static constexpr std::uint32_t kUnitsPerMinute = 15000;
  static constexpr std::uint32_t kImportCost = 25;

  explicit QuotaWindow(std::uint32_t units_per_minute = kUnitsPerMinute)
      : limit_(units_per_minute) {}

  // Spends `units` at the earliest moment from `now` on when the minute before it holds room for
  // them, and returns how long after `now` that is (0: at once). A spend larger than the whole
  // quota goes when the window is empty. Not thread-safe: the caller holds a lock.
  std::chrono::milliseconds reserve(std::uint32_t units, TimePoint now);

 private:
  std::uint32_t limit_;
  std::deque<std::pair<TimePoint, std::uint32_t>> spent_;  // in time order
  std::uint64_t total_ = 0;
};

}  // namespace popgate::gmail
