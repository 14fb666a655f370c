#include "QuotaWindow.h"

#include <algorithm>

namespace popgate::gmail {

std::chrono::milliseconds QuotaWindow::reserve(std::uint32_t units, TimePoint now) {
  constexpr auto kMinute = std::chrono::minutes(1);
  while (!spent_.empty() && spent_.front().first + kMinute <= now) {
    total_ -= spent_.front().second;
    spent_.pop_front();
  }
  TimePoint at = now;
  // Leaving the window oldest first, until what is left and `units` fit.
  std::uint64_t left = total_;
  for (const auto& [when, cost] : spent_) {
    if (left + units <= limit_) break;
    left -= cost;
    at = std::max(at, when + kMinute);
  }
  if (!spent_.empty()) at = std::max(at, spent_.back().first);  // keep the queue in order
  spent_.emplace_back(at, units);
  total_ += units;
  return std::chrono::duration_cast<std::chrono::milliseconds>(at - now);
}

}  // namespace popgate::gmail
