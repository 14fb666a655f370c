#pragma once
// Warnings of one operation (a listing, a pass) for the log and /status: the first kKept in full
// and a count of the rest, so a server with a million bad lines costs a counter, not a million
// strings.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace popgate {

class Problems {
 public:
  static constexpr std::size_t kKept = 20;

  // Keeps `text` while fewer than kKept are kept; counts it otherwise.
  void add(std::string text) {
    if (kept_.size() < kKept) {
      kept_.push_back(std::move(text));
    } else {
      ++omitted_;
    }
  }
  // Adds every problem of `other` (its kept ones in order, then its count).
  void addAll(const Problems& other) {
    for (const std::string& text : other.kept_) add(text);
    omitted_ += other.omitted_;
  }
  const std::vector<std::string>& kept() const noexcept { return kept_; }
  std::uint64_t omitted() const noexcept { return omitted_; }
  bool empty() const noexcept { return kept_.empty(); }
  std::size_t size() const noexcept { return kept_.size(); }
  auto begin() const noexcept { return kept_.begin(); }
  auto end() const noexcept { return kept_.end(); }
  const std::string& operator[](std::size_t i) const { return kept_[i]; }
  // The kept texts and, when some were omitted, one more line saying how many.
  std::vector<std::string> lines() const {
    std::vector<std::string> out = kept_;
    if (omitted_ > 0) out.push_back("... and " + std::to_string(omitted_) + " more like these");
    return out;
  }

 private:
  std::vector<std::string> kept_;
  std::uint64_t omitted_ = 0;
};

}  // namespace popgate
